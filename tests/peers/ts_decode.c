/* SPDX-License-Identifier: Apache-2.0 */
/* Independent payload decoders of the test LwM2M server: text and link-format as strings, JSON
 * formats through jansson, CBOR formats as generic JSON through libcbor, and LwM2M TLV as a
 * generic tree written from OMA LwM2M TS Core 7.4.3. Pure functions: no I/O, no clock. */
#include "ts.h"

#include <cbor.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CBOR_MAX_DEPTH 32

char *ts_hex(const uint8_t *data, size_t len) {
    static const char digits[] = "0123456789abcdef";
    char *s = malloc(len * 2 + 1);
    if (!s)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        s[2 * i] = digits[data[i] >> 4];
        s[2 * i + 1] = digits[data[i] & 15];
    }
    s[len * 2] = '\0';
    return s;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int ts_unhex(const char *hex, uint8_t **out, size_t *len) {
    size_t n = strlen(hex);
    if (n % 2)
        return -1;
    uint8_t *b = malloc(n / 2 + 1);
    if (!b)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            free(b);
            return -1;
        }
        b[i] = (uint8_t)(hi << 4 | lo);
    }
    *out = b;
    *len = n / 2;
    return 0;
}

static json_t *hex_object(const uint8_t *data, size_t len) {
    char *h = ts_hex(data, len);
    json_t *o = json_pack("{s:s}", "hex", h ? h : "");
    free(h);
    return o;
}

/* ---- LwM2M TLV (TS Core 7.4.3): type byte, 8/16-bit identifier, 0-3 length bytes ---- */

static const char *const tlv_kind[4] = {"instance", "resinst", "multiple", "resource"};

/* Which kinds may appear inside a container kind; top level (-1) takes any. */
static bool tlv_child_ok(int parent, int kind) {
    if (parent == 0)
        return kind == 2 || kind == 3;
    if (parent == 2)
        return kind == 1;
    return true;
}

static json_t *tlv_list(const uint8_t *p, size_t len, size_t base, int parent, char *err,
                        size_t errlen);

/* Parses one TLV header at p[*off]; fills kind, id and the value span. */
static int tlv_header(const uint8_t *p, size_t len, size_t *off, int *kind, unsigned *id,
                      size_t *vlen) {
    uint8_t type = p[(*off)++];
    size_t idlen = (type & 0x20) ? 2 : 1;
    size_t lenlen = (type >> 3) & 3;
    if (len - *off < idlen + lenlen)
        return -1;
    *kind = type >> 6;
    *id = idlen == 2 ? (unsigned)(p[*off] << 8 | p[*off + 1]) : p[*off];
    *off += idlen;
    *vlen = lenlen ? 0 : (size_t)(type & 7);
    for (size_t i = 0; i < lenlen; i++)
        *vlen = *vlen << 8 | p[(*off)++];
    return len - *off < *vlen ? -1 : 0;
}

static json_t *tlv_node(const uint8_t *p, size_t len, size_t base, size_t *off, int parent,
                        char *err, size_t errlen) {
    size_t start = *off, vlen;
    int kind;
    unsigned id;
    if (tlv_header(p, len, off, &kind, &id, &vlen) < 0) {
        snprintf(err, errlen, "tlv: truncated entry at offset %zu", base + start);
        return NULL;
    }
    if (!tlv_child_ok(parent, kind)) {
        snprintf(err, errlen, "tlv: %s at offset %zu inside a %s", tlv_kind[kind], base + start,
                 tlv_kind[parent]);
        return NULL;
    }
    json_t *node = json_pack("{s:s,s:i}", "type", tlv_kind[kind], "id", (json_int_t)id);
    if (kind == 0 || kind == 2) {
        json_t *kids = tlv_list(p + *off, vlen, base + *off, kind, err, errlen);
        if (!kids) {
            json_decref(node);
            return NULL;
        }
        json_object_set_new(node, "children", kids);
    } else {
        char *h = ts_hex(p + *off, vlen);
        json_object_set_new(node, "value_hex", json_string(h ? h : ""));
        free(h);
    }
    *off += vlen;
    return node;
}

static json_t *tlv_list(const uint8_t *p, size_t len, size_t base, int parent, char *err,
                        size_t errlen) {
    json_t *arr = json_array();
    size_t off = 0;
    while (off < len) {
        json_t *node = tlv_node(p, len, base, &off, parent, err, errlen);
        if (!node) {
            json_decref(arr);
            return NULL;
        }
        json_array_append_new(arr, node);
    }
    return arr;
}

json_t *ts_decode_tlv(const uint8_t *data, size_t len, char *errbuf, size_t errlen) {
    return tlv_list(data, len, 0, -1, errbuf, errlen);
}

/* ---- CBOR to JSON: byte strings become {"hex":..}, map keys become strings ---- */

static json_t *cbor_to_json(const cbor_item_t *it, int depth, char *err, size_t errlen);

static json_t *cbor_int_json(const cbor_item_t *it) {
    uint64_t v = cbor_get_int(it);
    bool neg = cbor_isa_negint(it);
    if (v <= (uint64_t)INT64_MAX)
        return json_integer(neg ? -(json_int_t)v - 1 : (json_int_t)v);
    /* Beyond what a JSON integer of jansson holds: keep it exact as text. */
    char buf[32];
    if (!neg)
        snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
    else if (v == UINT64_MAX)
        snprintf(buf, sizeof(buf), "-18446744073709551616");
    else
        snprintf(buf, sizeof(buf), "-%llu", (unsigned long long)v + 1);
    return json_pack("{s:s}", neg ? "negint" : "uint", buf);
}

/* Concatenates the chunks of an indefinite byte or text string. */
static uint8_t *cbor_chunks(const cbor_item_t *it, bool text, size_t *len) {
    size_t n = text ? cbor_string_chunk_count(it) : cbor_bytestring_chunk_count(it);
    cbor_item_t **ch = text ? cbor_string_chunks_handle(it) : cbor_bytestring_chunks_handle(it);
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += text ? cbor_string_length(ch[i]) : cbor_bytestring_length(ch[i]);
    uint8_t *buf = malloc(total + 1);
    if (!buf)
        return NULL;
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = text ? cbor_string_length(ch[i]) : cbor_bytestring_length(ch[i]);
        memcpy(buf + off, text ? cbor_string_handle(ch[i]) : cbor_bytestring_handle(ch[i]), l);
        off += l;
    }
    *len = total;
    return buf;
}

static json_t *cbor_bytes_json(const cbor_item_t *it, bool text, char *err, size_t errlen) {
    bool definite = text ? cbor_string_is_definite(it) : cbor_bytestring_is_definite(it);
    size_t len = 0;
    uint8_t *owned = NULL;
    const uint8_t *data;
    if (definite) {
        len = text ? cbor_string_length(it) : cbor_bytestring_length(it);
        data = text ? cbor_string_handle(it) : cbor_bytestring_handle(it);
    } else {
        owned = cbor_chunks(it, text, &len);
        data = owned;
    }
    json_t *j = NULL;
    if (!data && len)
        snprintf(err, errlen, "cbor: out of memory");
    else if (!text)
        j = hex_object(data, len);
    else if (!(j = json_stringn((const char *)(data ? data : (const uint8_t *)""), len)))
        snprintf(err, errlen, "cbor: text string is not valid UTF-8");
    free(owned);
    return j;
}

static json_t *cbor_array_json(const cbor_item_t *it, int depth, char *err, size_t errlen) {
    json_t *arr = json_array();
    cbor_item_t **items = cbor_array_handle(it);
    for (size_t i = 0; i < cbor_array_size(it); i++) {
        json_t *v = cbor_to_json(items[i], depth + 1, err, errlen);
        if (!v) {
            json_decref(arr);
            return NULL;
        }
        json_array_append_new(arr, v);
    }
    return arr;
}

/* JSON object keys are text: a text key stays, an integer key becomes its decimal form (SenML
 * CBOR labels such as -2 for bn), anything else its compact JSON. */
static char *cbor_key_text(const cbor_item_t *key, int depth, char *err, size_t errlen) {
    json_t *k = cbor_to_json(key, depth + 1, err, errlen);
    if (!k)
        return NULL;
    char *s;
    if (json_is_string(k))
        s = strdup(json_string_value(k));
    else
        s = json_dumps(k, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(k);
    return s;
}

static json_t *cbor_map_json(const cbor_item_t *it, int depth, char *err, size_t errlen) {
    json_t *obj = json_object();
    struct cbor_pair *pairs = cbor_map_handle(it);
    for (size_t i = 0; i < cbor_map_size(it); i++) {
        char *key = cbor_key_text(pairs[i].key, depth, err, errlen);
        json_t *v = key ? cbor_to_json(pairs[i].value, depth + 1, err, errlen) : NULL;
        if (!v) {
            free(key);
            json_decref(obj);
            return NULL;
        }
        json_object_set_new(obj, key, v);
        free(key);
    }
    return obj;
}

static json_t *cbor_float_json(const cbor_item_t *it) {
    if (cbor_float_ctrl_is_ctrl(it)) {
        switch (cbor_ctrl_value(it)) {
        case CBOR_CTRL_FALSE:
            return json_false();
        case CBOR_CTRL_TRUE:
            return json_true();
        case CBOR_CTRL_NULL:
            return json_null();
        case CBOR_CTRL_UNDEF:
            return json_pack("{s:b}", "undefined", 1);
        default:
            return json_pack("{s:i}", "simple", (json_int_t)cbor_ctrl_value(it));
        }
    }
    double d = cbor_float_get_float(it);
    if (isnan(d))
        return json_pack("{s:s}", "float", "nan");
    if (isinf(d))
        return json_pack("{s:s}", "float", d > 0 ? "inf" : "-inf");
    return json_real(d);
}

static json_t *cbor_to_json(const cbor_item_t *it, int depth, char *err, size_t errlen) {
    if (depth > CBOR_MAX_DEPTH) {
        snprintf(err, errlen, "cbor: nesting deeper than %d", CBOR_MAX_DEPTH);
        return NULL;
    }
    switch (cbor_typeof(it)) {
    case CBOR_TYPE_UINT:
    case CBOR_TYPE_NEGINT:
        return cbor_int_json(it);
    case CBOR_TYPE_BYTESTRING:
        return cbor_bytes_json(it, false, err, errlen);
    case CBOR_TYPE_STRING:
        return cbor_bytes_json(it, true, err, errlen);
    case CBOR_TYPE_ARRAY:
        return cbor_array_json(it, depth, err, errlen);
    case CBOR_TYPE_MAP:
        return cbor_map_json(it, depth, err, errlen);
    case CBOR_TYPE_TAG: {
        cbor_item_t *inner = cbor_tag_item(it);
        json_t *v = cbor_to_json(inner, depth + 1, err, errlen);
        cbor_decref(&inner);
        return v ? json_pack("{s:I,s:o}", "tag", (json_int_t)cbor_tag_value(it), "value", v) : NULL;
    }
    case CBOR_TYPE_FLOAT_CTRL:
        return cbor_float_json(it);
    default:
        snprintf(err, errlen, "cbor: unknown item type");
        return NULL;
    }
}

json_t *ts_decode_cbor(const uint8_t *data, size_t len, char *errbuf, size_t errlen) {
    struct cbor_load_result res;
    if (len == 0) {
        snprintf(errbuf, errlen, "cbor: empty payload");
        return NULL;
    }
    cbor_item_t *item = cbor_load(data, len, &res);
    if (!item || res.error.code != CBOR_ERR_NONE) {
        snprintf(errbuf, errlen, "cbor: malformed at offset %zu (libcbor error %d)",
                 res.error.position, (int)res.error.code);
        if (item)
            cbor_decref(&item);
        return NULL;
    }
    json_t *j = NULL;
    if (res.read != len)
        snprintf(errbuf, errlen, "cbor: %zu trailing bytes after the first item", len - res.read);
    else
        j = cbor_to_json(item, 0, errbuf, errlen);
    cbor_decref(&item);
    return j;
}

/* ---- dispatch by content-format ---- */

enum ts_kind { K_NONE, K_TEXT, K_JSON, K_CBOR, K_TLV };

static enum ts_kind kind_of(int ct) {
    switch (ct) {
    case 0:
    case 40:
    case 1541:
        return K_TEXT;
    case 50:
    case 110:
    case 1543:
    case 11543:
        return K_JSON;
    case 60:
    case 112:
    case 11544:
        return K_CBOR;
    case 1542:
    case 11542:
        return K_TLV;
    default:
        return K_NONE;
    }
}

json_t *ts_decode(int ct, const uint8_t *data, size_t len, char *errbuf, size_t errlen) {
    json_error_t jerr;
    json_t *j;
    errbuf[0] = '\0';
    switch (kind_of(ct)) {
    case K_TEXT:
        j = json_stringn(len ? (const char *)data : "", len);
        if (!j)
            snprintf(errbuf, errlen, "text: not valid UTF-8");
        return j;
    case K_JSON:
        j = json_loadb((const char *)data, len, JSON_DECODE_ANY, &jerr);
        if (!j)
            snprintf(errbuf, errlen, "json: %s at offset %d", jerr.text, jerr.position);
        return j;
    case K_CBOR:
        return ts_decode_cbor(data, len, errbuf, errlen);
    case K_TLV:
        return ts_decode_tlv(data, len, errbuf, errlen);
    case K_NONE:
    default:
        return NULL;
    }
}

void ts_decode_into(json_t *obj, int ct, const uint8_t *data, size_t len) {
    char *h = ts_hex(data, len);
    json_object_set_new(obj, "payload", json_string(h ? h : ""));
    free(h);
    if (ct < 0)
        return;
    char err[160];
    json_t *d = ts_decode(ct, data, len, err, sizeof(err));
    if (d)
        json_object_set_new(obj, "decoded", d);
    else if (err[0])
        json_object_set_new(obj, "decode_error", json_string(err));
}
