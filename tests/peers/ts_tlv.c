/* SPDX-License-Identifier: Apache-2.0 */
/* Payloads of the test LwM2M server's bootstrap writes: resources given as JSON ({"RID": value},
 * or {"IID": {"RID": value}} for a whole object) encoded as LwM2M TLV, written from OMA LwM2M TS
 * Core 7.4.3 and independent of the gateway's codec, or turned into SenML records for ts_senml.c.
 * Pure functions: no I/O, no clock. */
#include "ts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TLV_MAX_ID 65535

/* TLV type bits 7-6 (TS Core Table 7.4.3.1-1). */
enum tlv_type { TLV_INSTANCE = 0, TLV_RESINST = 1, TLV_MULTIPLE = 2, TLV_RESOURCE = 3 };

/* A growable output buffer; a failed allocation is remembered and reported once at the end. */
struct buf {
    uint8_t *p;
    size_t len, cap;
    bool oom;
};

static void put(struct buf *b, const void *data, size_t n) {
    if (b->oom || n == 0)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *np = realloc(b->p, cap);
        if (!np) {
            b->oom = true;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

int ts_path_parse(const char *path, int ids[4]) {
    int n = 0;
    const char *s = path;
    if (!s || *s != '/')
        return -1;
    while (*s == '/' && s[1]) {
        char *end;
        long v = strtol(++s, &end, 10);
        if (end == s || (*end && *end != '/') || v < 0 || v > TLV_MAX_ID || n == 4)
            return -1;
        ids[n++] = (int)v;
        s = end;
    }
    return *s == '\0' || (*s == '/' && !s[1]) ? n : -1;
}

/* ---- values ---- */

/* A JSON object key that is a resource or instance ID; -1 otherwise. */
static int id_of(const char *key) {
    char *end;
    long v = strtol(key, &end, 10);
    return end != key && *end == '\0' && v >= 0 && v <= TLV_MAX_ID ? (int)v : -1;
}

static bool is_tagged(const json_t *v, const char *tag) {
    return json_is_object(v) && json_object_size(v) == 1 && json_is_string(json_object_get(v, tag));
}

/* {"objlnk": "O:I"} */
static int objlnk_parse(const json_t *v, unsigned *obj, unsigned *inst) {
    char extra;
    return sscanf(json_string_value(json_object_get(v, "objlnk")), "%u:%u%c", obj, inst, &extra) ==
                       2 &&
                   *obj <= TLV_MAX_ID && *inst <= TLV_MAX_ID
               ? 0
               : -1;
}

/* The value bytes of one resource (TS Core 7.4.3.3 data types): an integer in the fewest of
 * 1, 2, 4 or 8 bytes, a float as 8 bytes, a boolean as 1, text as UTF-8, opaque as is. */
static int tlv_value(const json_t *v, struct buf *out) {
    uint8_t tmp[8];
    if (json_is_string(v)) {
        put(out, json_string_value(v), json_string_length(v));
    } else if (json_is_boolean(v)) {
        tmp[0] = json_is_true(v);
        put(out, tmp, 1);
    } else if (json_is_integer(v)) {
        int64_t i = json_integer_value(v);
        size_t n = i >= INT8_MIN && i <= INT8_MAX     ? 1
                   : i >= INT16_MIN && i <= INT16_MAX ? 2
                   : i >= INT32_MIN && i <= INT32_MAX ? 4
                                                      : 8;
        for (size_t k = 0; k < n; k++)
            tmp[k] = (uint8_t)((uint64_t)i >> (8 * (n - 1 - k)));
        put(out, tmp, n);
    } else if (json_is_real(v)) {
        double d = json_real_value(v);
        uint64_t bits;
        memcpy(&bits, &d, sizeof(bits));
        for (size_t k = 0; k < 8; k++)
            tmp[k] = (uint8_t)(bits >> (8 * (7 - k)));
        put(out, tmp, 8);
    } else if (is_tagged(v, "hex")) {
        uint8_t *raw;
        size_t n;
        if (ts_unhex(json_string_value(json_object_get(v, "hex")), &raw, &n) < 0)
            return -1;
        put(out, raw, n);
        free(raw);
    } else if (is_tagged(v, "objlnk")) {
        unsigned o, i;
        if (objlnk_parse(v, &o, &i) < 0)
            return -1;
        uint8_t l[4] = {(uint8_t)(o >> 8), (uint8_t)o, (uint8_t)(i >> 8), (uint8_t)i};
        put(out, l, 4);
    } else {
        return -1;
    }
    return 0;
}

/* A multiple resource is a JSON object of resource instances; hex and objlnk are values. */
static bool is_multiple(const json_t *v) {
    return json_is_object(v) && !is_tagged(v, "hex") && !is_tagged(v, "objlnk");
}

/* ---- TLV ---- */

/* Type byte, 8- or 16-bit identifier, then the length inline (< 8) or in 1-3 bytes. */
static void tlv_header(struct buf *out, enum tlv_type type, int id, size_t len) {
    uint8_t h[6];
    size_t n = 1;
    size_t lenlen = len < 8 ? 0 : len < 0x100 ? 1 : len < 0x10000 ? 2 : 3;
    h[0] = (uint8_t)(type << 6 | (id > 255 ? 0x20 : 0) | lenlen << 3 | (lenlen ? 0 : len));
    if (id > 255)
        h[n++] = (uint8_t)(id >> 8);
    h[n++] = (uint8_t)id;
    for (size_t k = lenlen; k > 0; k--)
        h[n++] = (uint8_t)(len >> (8 * (k - 1)));
    put(out, h, n);
}

/* Appends one TLV whose value is body. */
static void tlv_wrap(struct buf *out, enum tlv_type type, int id, const struct buf *body) {
    if (body->oom || body->len > 0xffffff) {
        out->oom = true;
        return;
    }
    tlv_header(out, type, id, body->len);
    put(out, body->p, body->len);
}

static int cmp_int(const void *a, const void *b) {
    return *(const int *)a - *(const int *)b;
}

/* The numeric keys of obj, ascending (TLV carries no order, but a fixed one gives fixed bytes).
 * NULL (with *n 0 for an empty object) when a key is not an ID. */
static int *sorted_ids(const json_t *obj, size_t *n) {
    const char *key;
    json_t *v;
    *n = 0;
    int *ids = malloc((json_object_size(obj) + 1) * sizeof(*ids));
    if (!ids)
        return NULL;
    json_object_foreach((json_t *)obj, key, v) {
        if ((ids[*n] = id_of(key)) < 0) {
            free(ids);
            *n = 0;
            return NULL;
        }
        (*n)++;
    }
    qsort(ids, *n, sizeof(*ids), cmp_int);
    return ids;
}

static json_t *member(const json_t *obj, int id) {
    char key[8];
    snprintf(key, sizeof(key), "%d", id);
    return json_object_get(obj, key);
}

/* Handles one member (id, v) of an object; 0, or -1 with err set. */
typedef int member_fn(void *ctx, int id, const json_t *v, char *err, size_t errlen);

/* Calls fn for each member of obj in ascending ID order until one fails; -1 with err set when
 * obj is not an object keyed by numeric IDs. */
static int each_member(const json_t *obj, member_fn *fn, void *ctx, char *err, size_t errlen) {
    size_t n;
    int *ids = json_is_object(obj) ? sorted_ids(obj, &n) : NULL;
    if (!ids) {
        snprintf(err, errlen, "want an object keyed by numeric IDs");
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = fn(ctx, ids[i], member(obj, ids[i]), err, errlen);
    free(ids);
    return rc;
}

struct tlv_ctx {
    enum tlv_type kind;
    struct buf *out;
};

static int tlv_members(const json_t *obj, enum tlv_type kind, struct buf *out, char *err,
                       size_t errlen);

static int tlv_member(void *ctx, int id, const json_t *v, char *err, size_t errlen) {
    const struct tlv_ctx *c = ctx;
    struct buf body = {NULL, 0, 0, false};
    int rc = 0;
    if (c->kind == TLV_INSTANCE) {
        rc = tlv_members(v, TLV_RESOURCE, &body, err, errlen);
        tlv_wrap(c->out, TLV_INSTANCE, id, &body);
    } else if (c->kind == TLV_RESOURCE && is_multiple(v)) {
        rc = tlv_members(v, TLV_RESINST, &body, err, errlen);
        tlv_wrap(c->out, TLV_MULTIPLE, id, &body);
    } else if ((rc = tlv_value(v, &body)) < 0) {
        snprintf(err, errlen, "%d: not a string, number, boolean, {hex} or {objlnk}", id);
    } else {
        tlv_wrap(c->out, c->kind, id, &body);
    }
    free(body.p);
    return rc;
}

/* The TLVs of the members of obj: resources (kind TLV_RESOURCE), resource instances
 * (TLV_RESINST) or object instances (TLV_INSTANCE). */
static int tlv_members(const json_t *obj, enum tlv_type kind, struct buf *out, char *err,
                       size_t errlen) {
    struct tlv_ctx c = {kind, out};
    return each_member(obj, tlv_member, &c, err, errlen);
}

/* ---- SenML records ---- */

static char *b64url(const uint8_t *p, size_t n) {
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char *s = malloc(n * 4 / 3 + 4), *o = s;
    if (!s)
        return NULL;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t acc = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
                       (i + 2 < n ? p[i + 2] : 0);
        size_t chars = n - i >= 3 ? 4 : n - i + 1; /* unpadded (RFC 8428 §5) */
        for (size_t k = 0; k < chars; k++)
            *o++ = abc[(acc >> (18 - 6 * k)) & 63];
    }
    *o = '\0';
    return s;
}

/* One SenML record {"n": name, value field}; NULL when the value has no SenML form. */
static json_t *senml_record(const char *name, const json_t *v) {
    if (json_is_string(v))
        return json_pack("{s:s,s:O}", "n", name, "vs", v);
    if (json_is_boolean(v))
        return json_pack("{s:s,s:O}", "n", name, "vb", v);
    if (json_is_number(v))
        return json_pack("{s:s,s:O}", "n", name, "v", v);
    if (is_tagged(v, "objlnk"))
        return json_pack("{s:s,s:O}", "n", name, "vlo", json_object_get(v, "objlnk"));
    uint8_t *raw;
    size_t n;
    if (!is_tagged(v, "hex") || ts_unhex(json_string_value(json_object_get(v, "hex")), &raw, &n))
        return NULL;
    char *s = b64url(raw, n);
    free(raw);
    json_t *r = s ? json_pack("{s:s,s:s}", "n", name, "vd", s) : NULL;
    free(s);
    return r;
}

struct senml_ctx {
    const char *prefix;
    int nest;
    json_t *recs;
};

static int senml_members(const json_t *obj, const char *prefix, int nest, json_t *recs, char *err,
                         size_t errlen);

static int senml_member(void *ctx, int id, const json_t *v, char *err, size_t errlen) {
    const struct senml_ctx *c = ctx;
    char name[32];
    if (c->nest > 0 && is_multiple(v)) {
        snprintf(name, sizeof(name), "%s%d/", c->prefix, id);
        return senml_members(v, name, c->nest - 1, c->recs, err, errlen);
    }
    snprintf(name, sizeof(name), "%s%d", c->prefix, id);
    json_t *r = senml_record(name, v);
    int rc = 0;
    if (!r) {
        snprintf(err, errlen, "%s: not a string, number, boolean, {hex} or {objlnk}", name);
        rc = -1;
    }
    json_array_append_new(c->recs, r);
    return rc;
}

/* Records named prefix + ID for every value under obj. nest: how many levels below obj may still
 * be objects (object instances, then multiple resources) rather than values. */
static int senml_members(const json_t *obj, const char *prefix, int nest, json_t *recs, char *err,
                         size_t errlen) {
    struct senml_ctx c = {prefix, nest, recs};
    return each_member(obj, senml_member, &c, err, errlen);
}

/* ---- the write payload ---- */

int ts_resources_encode(const json_t *tree, const char *path, int ct, bool wrap, uint8_t **out,
                        size_t *len, char *err, size_t errlen) {
    int ids[4];
    int depth = ts_path_parse(path, ids);
    if (depth != 1 && depth != 2) {
        snprintf(err, errlen, "resources go to an object instance /O/I (instances to /O)");
        return -1;
    }
    if (ct == 11542) {
        struct buf b = {NULL, 0, 0, false};
        int rc;
        if (depth == 1) {
            rc = tlv_members(tree, TLV_INSTANCE, &b, err, errlen);
        } else if (!wrap) {
            rc = tlv_members(tree, TLV_RESOURCE, &b, err, errlen);
        } else { /* the Object Instance TLV around them, which TS Core 7.4.3 lets a server omit */
            struct buf body = {NULL, 0, 0, false};
            rc = tlv_members(tree, TLV_RESOURCE, &body, err, errlen);
            tlv_wrap(&b, TLV_INSTANCE, ids[1], &body);
            free(body.p);
        }
        if (rc == 0 && b.oom) {
            snprintf(err, errlen, "out of memory");
            rc = -1;
        }
        if (rc < 0) {
            free(b.p);
            return -1;
        }
        *out = b.p ? b.p : calloc(1, 1);
        *len = b.len;
        return *out ? 0 : -1;
    }
    if (ct != 110 && ct != 112) {
        snprintf(err, errlen, "resources are encoded as ct 11542, 112 or 110");
        return -1;
    }
    char bn[32];
    snprintf(bn, sizeof(bn), depth == 1 ? "/%d/" : "/%d/%d/", ids[0], ids[1]);
    json_t *recs = json_array();
    int rc = senml_members(tree, "", depth == 1 ? 2 : 1, recs, err, errlen);
    if (rc == 0 && json_array_size(recs))
        json_object_set_new(json_array_get(recs, 0), "bn", json_string(bn));
    if (rc == 0 && (rc = ts_senml_encode(recs, ct, out, len)) < 0)
        snprintf(err, errlen, "cannot encode SenML");
    json_decref(recs);
    return rc;
}
