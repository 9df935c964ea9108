/* SPDX-License-Identifier: Apache-2.0 */
/* Builds request payloads for the test LwM2M server's composite operations: SenML records given
 * as JSON (RFC 8428 names) become SenML JSON (110) or SenML CBOR (112, integer labels of RFC 8428
 * Table 4), through jansson and libcbor. Pure functions: no I/O. */
#include "ts.h"

#include <cbor.h>
#include <stdlib.h>
#include <string.h>

struct label {
    const char *name;
    int num;
};

/* RFC 8428 §6 Table 4; "vlo" (LwM2M object link) has no number and stays a text key. */
static const struct label senml_labels[] = {
    {"bver", -1}, {"bn", -2}, {"bt", -3}, {"bu", -4}, {"bv", -5}, {"bs", -6}, {"n", 0},  {"u", 1},
    {"v", 2},     {"vs", 3},  {"vb", 4},  {"s", 5},   {"t", 6},   {"ut", 7},  {"vd", 8},
};

/* In the fewest bytes (RFC 8949 preferred serialization): libcbor's builders keep the width they
 * are given, and a constrained client's decoder may take no more than it needs. */
static cbor_item_t *int_item(int64_t v) {
    uint64_t u = v >= 0 ? (uint64_t)v : (uint64_t)(-(v + 1));
    cbor_item_t *it = u <= UINT8_MAX    ? cbor_build_uint8((uint8_t)u)
                      : u <= UINT16_MAX ? cbor_build_uint16((uint16_t)u)
                      : u <= UINT32_MAX ? cbor_build_uint32((uint32_t)u)
                                        : cbor_build_uint64(u);
    if (it && v < 0)
        cbor_mark_negint(it);
    return it;
}

static cbor_item_t *label_item(const char *key) {
    for (size_t i = 0; i < sizeof(senml_labels) / sizeof(senml_labels[0]); i++) {
        if (strcmp(senml_labels[i].name, key) == 0)
            return int_item(senml_labels[i].num);
    }
    return cbor_build_string(key);
}

static int b64url_val(char c) {
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-' || c == '+')
        return 62;
    if (c == '_' || c == '/')
        return 63;
    return -1;
}

/* SenML JSON carries "vd" as base64url (RFC 8428 §5); SenML CBOR as a byte string. */
static cbor_item_t *b64url_item(const char *s) {
    size_t n = strlen(s);
    uint8_t *buf = malloc(n * 3 / 4 + 3);
    size_t out = 0;
    uint32_t acc = 0;
    int bits = 0;
    if (!buf)
        return NULL;
    for (size_t i = 0; i < n && s[i] != '='; i++) {
        int v = b64url_val(s[i]);
        if (v < 0) {
            free(buf);
            return NULL;
        }
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[out++] = (uint8_t)(acc >> bits);
        }
    }
    cbor_item_t *it = cbor_build_bytestring(buf, out);
    free(buf);
    return it;
}

static cbor_item_t *json_to_cbor(const json_t *j, int depth);

static cbor_item_t *object_to_cbor(const json_t *j, int depth) {
    cbor_item_t *map = cbor_new_definite_map(json_object_size(j));
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)j, key, val) {
        cbor_item_t *v = strcmp(key, "vd") == 0 && json_is_string(val)
                             ? b64url_item(json_string_value(val))
                             : json_to_cbor(val, depth + 1);
        cbor_item_t *k = label_item(key);
        bool ok = v && k && cbor_map_add(map, (struct cbor_pair){k, v});
        if (k)
            cbor_decref(&k);
        if (v)
            cbor_decref(&v);
        if (!ok) {
            cbor_decref(&map);
            return NULL;
        }
    }
    return map;
}

static cbor_item_t *array_to_cbor(const json_t *j, int depth) {
    cbor_item_t *arr = cbor_new_definite_array(json_array_size(j));
    size_t i;
    json_t *val;
    json_array_foreach(j, i, val) {
        cbor_item_t *v = json_to_cbor(val, depth + 1);
        bool ok = v && cbor_array_push(arr, v);
        if (v)
            cbor_decref(&v);
        if (!ok) {
            cbor_decref(&arr);
            return NULL;
        }
    }
    return arr;
}

static cbor_item_t *json_to_cbor(const json_t *j, int depth) {
    if (depth > 16)
        return NULL;
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        return object_to_cbor(j, depth);
    case JSON_ARRAY:
        return array_to_cbor(j, depth);
    case JSON_STRING:
        return cbor_build_stringn(json_string_value(j), json_string_length(j));
    case JSON_INTEGER:
        return int_item(json_integer_value(j));
    case JSON_REAL:
        return cbor_build_float8(json_real_value(j));
    case JSON_TRUE:
        return cbor_build_bool(true);
    case JSON_FALSE:
        return cbor_build_bool(false);
    case JSON_NULL:
        return cbor_new_null();
    default:
        return NULL;
    }
}

int ts_senml_encode(const json_t *records, int ct, uint8_t **out, size_t *len) {
    if (!json_is_array(records))
        return -1;
    if (ct == 110) {
        char *s = json_dumps(records, JSON_COMPACT);
        if (!s)
            return -1;
        *out = (uint8_t *)s;
        *len = strlen(s);
        return 0;
    }
    if (ct != 112)
        return -1;
    cbor_item_t *item = json_to_cbor(records, 0);
    if (!item)
        return -1;
    size_t cap = 0;
    unsigned char *buf = NULL;
    size_t n = cbor_serialize_alloc(item, &buf, &cap);
    cbor_decref(&item);
    if (!n)
        return -1;
    *out = buf;
    *len = n;
    return 0;
}
