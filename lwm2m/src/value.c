/* SPDX-License-Identifier: Apache-2.0 */
/* LwM2M paths (/O/I/R/RI: parse, format, order) and the value union's constructors and
 * lossless type conversions. Pure code: no allocation, no I/O. */
#include "lwm2m/value.h"

#include <string.h>

#include "lwm2m/error.h"

/* 2^63 and 2^64 as doubles: the first doubles outside int64_t / uint64_t. */
#define TWO_POW_63 9223372036854775808.0
#define TWO_POW_64 18446744073709551616.0

int lwm2m_path_parse(const char *s, size_t n, struct lwm2m_path *p) {
    struct lwm2m_path out = {.len = 0};
    size_t i = 0;
    if (n > 0 && s[0] == '/') {
        i = 1;
    }
    if (i == n) {
        *p = out; /* "" or "/": the root */
        return 0;
    }
    while (i <= n) {
        uint32_t id = 0;
        size_t digits = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            id = id * 10u + (uint32_t)(s[i] - '0');
            if (id > LWM2M_ID_MAX) {
                return LWM2M_ERR_FORMAT;
            }
            i++;
            digits++;
        }
        if (digits == 0 || out.len == LWM2M_PATH_MAX_DEPTH) {
            return LWM2M_ERR_FORMAT; /* empty segment ("//", trailing '/') or too deep */
        }
        out.ids[out.len++] = (uint16_t)id;
        if (i == n) {
            break;
        }
        if (s[i] != '/') {
            return LWM2M_ERR_FORMAT;
        }
        i++;
        if (i == n) {
            return LWM2M_ERR_FORMAT;
        }
    }
    *p = out;
    return 0;
}

int lwm2m_path_format(const struct lwm2m_path *p, char *out, size_t cap) {
    char tmp[32];
    size_t len = 0;
    if (p->len == 0) {
        tmp[len++] = '/';
    }
    for (uint8_t i = 0; i < p->len && i < LWM2M_PATH_MAX_DEPTH; i++) {
        char digits[6];
        size_t nd = 0;
        unsigned v = p->ids[i];
        do {
            digits[nd++] = (char)('0' + v % 10u);
            v /= 10u;
        } while (v != 0);
        tmp[len++] = '/';
        while (nd > 0) {
            tmp[len++] = digits[--nd];
        }
    }
    if (len + 1 > cap) {
        return LWM2M_ERR_NOSPACE;
    }
    memcpy(out, tmp, len);
    out[len] = '\0';
    return (int)len;
}

int lwm2m_path_cmp(const struct lwm2m_path *a, const struct lwm2m_path *b) {
    uint8_t n = a->len < b->len ? a->len : b->len;
    for (uint8_t i = 0; i < n; i++) {
        if (a->ids[i] != b->ids[i]) {
            return a->ids[i] < b->ids[i] ? -1 : 1;
        }
    }
    if (a->len == b->len) {
        return 0;
    }
    return a->len < b->len ? -1 : 1;
}

bool lwm2m_path_has_prefix(const struct lwm2m_path *p, const struct lwm2m_path *prefix) {
    if (prefix->len > p->len) {
        return false;
    }
    for (uint8_t i = 0; i < prefix->len; i++) {
        if (p->ids[i] != prefix->ids[i]) {
            return false;
        }
    }
    return true;
}

struct lwm2m_path lwm2m_path_make(uint8_t depth, uint16_t o, uint16_t i, uint16_t r, uint16_t ri) {
    struct lwm2m_path p = {.ids = {o, i, r, ri}, .len = depth};
    if (p.len > LWM2M_PATH_MAX_DEPTH) {
        p.len = LWM2M_PATH_MAX_DEPTH;
    }
    for (uint8_t k = p.len; k < LWM2M_PATH_MAX_DEPTH; k++) {
        p.ids[k] = 0; /* unused ids are zero so paths compare equal with memcmp too */
    }
    return p;
}

struct lwm2m_value lwm2m_value_int(int64_t i) {
    return (struct lwm2m_value){.type = LWM2M_TYPE_INTEGER, .v.i = i};
}

struct lwm2m_value lwm2m_value_uint(uint64_t u) {
    return (struct lwm2m_value){.type = LWM2M_TYPE_UNSIGNED, .v.u = u};
}

struct lwm2m_value lwm2m_value_float(double f) {
    return (struct lwm2m_value){.type = LWM2M_TYPE_FLOAT, .v.f = f};
}

struct lwm2m_value lwm2m_value_bool(bool b) {
    return (struct lwm2m_value){.type = LWM2M_TYPE_BOOLEAN, .v.b = b};
}

struct lwm2m_value lwm2m_value_time(int64_t t) {
    return (struct lwm2m_value){.type = LWM2M_TYPE_TIME, .v.i = t};
}

struct lwm2m_value lwm2m_value_objlnk(uint16_t obj, uint16_t inst) {
    return (struct lwm2m_value){.type = LWM2M_TYPE_OBJLNK, .v.lnk = {obj, inst}};
}

static struct lwm2m_value bytes_value(uint8_t type, const void *p, size_t len) {
    return (struct lwm2m_value){.type = type, .v.bytes = {(const uint8_t *)p, len}};
}

struct lwm2m_value lwm2m_value_string(const char *s, size_t len) {
    return bytes_value(LWM2M_TYPE_STRING, s, len);
}

struct lwm2m_value lwm2m_value_opaque(const void *p, size_t len) {
    return bytes_value(LWM2M_TYPE_OPAQUE, p, len);
}

struct lwm2m_value lwm2m_value_corelnk(const char *s, size_t len) {
    return bytes_value(LWM2M_TYPE_CORELNK, s, len);
}

const char *lwm2m_type_name(enum lwm2m_type t) {
    switch (t) {
    case LWM2M_TYPE_STRING:
        return "String";
    case LWM2M_TYPE_INTEGER:
        return "Integer";
    case LWM2M_TYPE_UNSIGNED:
        return "Unsigned Integer";
    case LWM2M_TYPE_FLOAT:
        return "Float";
    case LWM2M_TYPE_BOOLEAN:
        return "Boolean";
    case LWM2M_TYPE_OPAQUE:
        return "Opaque";
    case LWM2M_TYPE_TIME:
        return "Time";
    case LWM2M_TYPE_OBJLNK:
        return "Objlnk";
    case LWM2M_TYPE_CORELNK:
        return "Corelnk";
    case LWM2M_TYPE_NONE:
        return "none";
    default:
        return "unknown";
    }
}

/* Objlnk ids may be 65535: "65535:65535" is the specification's null link. */
static int parse_u16(const uint8_t *s, size_t n, uint16_t *out) {
    uint32_t v = 0;
    if (n == 0 || n > 5) {
        return LWM2M_ERR_FORMAT;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return LWM2M_ERR_FORMAT;
        }
        v = v * 10u + (uint32_t)(s[i] - '0');
    }
    if (v > 0xFFFFu) {
        return LWM2M_ERR_FORMAT;
    }
    *out = (uint16_t)v;
    return 0;
}

static int objlnk_from_string(const struct lwm2m_bytes *b, struct lwm2m_value *out) {
    const uint8_t *colon = b->len ? memchr(b->ptr, ':', b->len) : NULL;
    uint16_t o, i;
    if (colon == NULL || parse_u16(b->ptr, (size_t)(colon - b->ptr), &o) != 0 ||
        parse_u16(colon + 1, b->len - (size_t)(colon - b->ptr) - 1, &i) != 0) {
        return LWM2M_ERR_FORMAT;
    }
    *out = lwm2m_value_objlnk(o, i);
    return 0;
}

/* Reads any numeric value as one of three exact views; each flag says whether that view
 * holds the value without loss. */
struct num_views {
    int64_t i;
    uint64_t u;
    double f;
    bool has_i, has_u, has_f;
};

static bool numeric_views(const struct lwm2m_value *in, struct num_views *nv) {
    memset(nv, 0, sizeof(*nv));
    switch (in->type) {
    case LWM2M_TYPE_INTEGER:
    case LWM2M_TYPE_TIME:
        nv->i = in->v.i, nv->has_i = true;
        nv->u = (uint64_t)in->v.i, nv->has_u = in->v.i >= 0;
        nv->f = (double)in->v.i;
        nv->has_f = nv->f < TWO_POW_63 && (int64_t)nv->f == in->v.i;
        return true;
    case LWM2M_TYPE_UNSIGNED:
        nv->u = in->v.u, nv->has_u = true;
        nv->i = (int64_t)in->v.u, nv->has_i = in->v.u <= (uint64_t)INT64_MAX;
        nv->f = (double)in->v.u;
        nv->has_f = nv->f < TWO_POW_64 && (uint64_t)nv->f == in->v.u;
        return true;
    case LWM2M_TYPE_FLOAT:
        nv->f = in->v.f, nv->has_f = true;
        if (in->v.f >= -TWO_POW_63 && in->v.f < TWO_POW_63 && (double)(int64_t)in->v.f == in->v.f) {
            nv->i = (int64_t)in->v.f, nv->has_i = true;
        }
        if (in->v.f >= 0 && in->v.f < TWO_POW_64 && (double)(uint64_t)in->v.f == in->v.f) {
            nv->u = (uint64_t)in->v.f, nv->has_u = true;
        }
        return true;
    default:
        return false;
    }
}

static int convert_numeric(const struct lwm2m_value *in, enum lwm2m_type want,
                           struct lwm2m_value *out) {
    struct num_views nv;
    if (!numeric_views(in, &nv)) {
        return LWM2M_ERR_FORMAT;
    }
    switch (want) {
    case LWM2M_TYPE_INTEGER:
    case LWM2M_TYPE_TIME:
        if (!nv.has_i) {
            return LWM2M_ERR_FORMAT;
        }
        *out = (struct lwm2m_value){.type = (uint8_t)want, .v.i = nv.i};
        return 0;
    case LWM2M_TYPE_UNSIGNED:
        if (!nv.has_u) {
            return LWM2M_ERR_FORMAT;
        }
        *out = lwm2m_value_uint(nv.u);
        return 0;
    case LWM2M_TYPE_FLOAT:
        /* Integers beyond 2^53 still become the nearest double: a float resource asked for it. */
        *out = lwm2m_value_float(nv.f);
        return 0;
    default:
        return LWM2M_ERR_FORMAT;
    }
}

int lwm2m_value_convert(const struct lwm2m_value *in, enum lwm2m_type want,
                        struct lwm2m_value *out) {
    if (in->type == want) {
        *out = *in;
        return 0;
    }
    switch (want) {
    case LWM2M_TYPE_INTEGER:
    case LWM2M_TYPE_UNSIGNED:
    case LWM2M_TYPE_FLOAT:
    case LWM2M_TYPE_TIME:
        return convert_numeric(in, want, out);
    case LWM2M_TYPE_STRING:
    case LWM2M_TYPE_CORELNK:
        if (in->type != LWM2M_TYPE_STRING && in->type != LWM2M_TYPE_CORELNK) {
            return LWM2M_ERR_FORMAT;
        }
        *out = bytes_value((uint8_t)want, in->v.bytes.ptr, in->v.bytes.len);
        return 0;
    case LWM2M_TYPE_OBJLNK:
        if (in->type != LWM2M_TYPE_STRING) {
            return LWM2M_ERR_FORMAT;
        }
        return objlnk_from_string(&in->v.bytes, out);
    case LWM2M_TYPE_NONE:
    case LWM2M_TYPE_BOOLEAN:
    case LWM2M_TYPE_OPAQUE:
    default:
        return LWM2M_ERR_FORMAT;
    }
}

bool lwm2m_value_equal(const struct lwm2m_value *a, const struct lwm2m_value *b) {
    if (a->type != b->type) {
        return false;
    }
    switch (a->type) {
    case LWM2M_TYPE_NONE:
        return true;
    case LWM2M_TYPE_INTEGER:
    case LWM2M_TYPE_TIME:
        return a->v.i == b->v.i;
    case LWM2M_TYPE_UNSIGNED:
        return a->v.u == b->v.u;
    case LWM2M_TYPE_FLOAT:
        return a->v.f == b->v.f;
    case LWM2M_TYPE_BOOLEAN:
        return a->v.b == b->v.b;
    case LWM2M_TYPE_OBJLNK:
        return a->v.lnk.obj == b->v.lnk.obj && a->v.lnk.inst == b->v.lnk.inst;
    case LWM2M_TYPE_STRING:
    case LWM2M_TYPE_OPAQUE:
    case LWM2M_TYPE_CORELNK:
        return a->v.bytes.len == b->v.bytes.len &&
               (a->v.bytes.len == 0 || memcmp(a->v.bytes.ptr, b->v.bytes.ptr, a->v.bytes.len) == 0);
    default:
        return false;
    }
}
