/* SPDX-License-Identifier: Apache-2.0 */
/* The Modbus register codec: registers <-> typed values for every type, word/byte order, scale
 * and offset, plus the names used in configuration. Pure: no I/O, no clock, no allocation, so it
 * is unit-tested with vectors and fuzzed. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modbus/mb_internal.h"

unsigned mb_point_width(const struct mb_point_cfg *p) {
    if (p->table == MB_TABLE_COIL || p->table == MB_TABLE_DISCRETE)
        return p->type == MB_TYPE_BOOL ? 1 : 0;
    switch (p->type) {
    case MB_TYPE_BOOL:
    case MB_TYPE_INT16:
    case MB_TYPE_UINT16:
        return 1;
    case MB_TYPE_BIT:
        return p->param < 16 ? 1 : 0;
    case MB_TYPE_INT32:
    case MB_TYPE_UINT32:
    case MB_TYPE_FLOAT32:
        return 2;
    case MB_TYPE_INT64:
    case MB_TYPE_UINT64:
    case MB_TYPE_FLOAT64:
        return 4;
    case MB_TYPE_STRING:
        return p->param >= 1 && p->param <= MB_MAX_STRING ? (p->param + 1u) / 2u : 0;
    default:
        return 0;
    }
}

int mb_point_check(const struct mb_point_cfg *p) {
    unsigned w = mb_point_width(p);
    if (w == 0 || (unsigned)p->table > MB_TABLE_HOLDING || (unsigned)p->order > MB_ORDER_DCBA)
        return -EINVAL;
    if ((uint32_t)p->address + w > 65536u)
        return -EINVAL;
    if (p->writable && p->table != MB_TABLE_COIL && p->table != MB_TABLE_HOLDING)
        return -EINVAL;
    if (!isfinite(p->scale) || !isfinite(p->offset))
        return -EINVAL;
    return 0;
}

/* Register stream -> logical big-endian bytes (A first). Strings use only the byte swap: their
 * registers always follow one another in address order. */
static void mb_to_logical(enum mb_order o, bool words, const uint16_t *regs, unsigned w,
                          uint8_t *b) {
    bool wswap = words && (o == MB_ORDER_CDAB || o == MB_ORDER_DCBA);
    bool bswap = o == MB_ORDER_BADC || o == MB_ORDER_DCBA;
    for (unsigned k = 0; k < w; k++) {
        uint16_t r = regs[wswap ? w - 1 - k : k];
        b[2 * k] = (uint8_t)(bswap ? r : r >> 8);
        b[2 * k + 1] = (uint8_t)(bswap ? r >> 8 : r);
    }
}

/* The inverse of mb_to_logical. */
static void mb_from_logical(enum mb_order o, bool words, const uint8_t *b, unsigned w,
                            uint16_t *regs) {
    bool wswap = words && (o == MB_ORDER_CDAB || o == MB_ORDER_DCBA);
    bool bswap = o == MB_ORDER_BADC || o == MB_ORDER_DCBA;
    for (unsigned k = 0; k < w; k++) {
        uint16_t hi = b[2 * k], lo = b[2 * k + 1];
        regs[wswap ? w - 1 - k : k] = bswap ? (uint16_t)(lo << 8 | hi) : (uint16_t)(hi << 8 | lo);
    }
}

static bool mb_scale_is_identity(const struct mb_point_cfg *p) {
    return (p->scale == 0.0 || p->scale == 1.0) && p->offset == 0.0;
}

static double mb_scale_of(const struct mb_point_cfg *p) {
    return p->scale == 0.0 ? 1.0 : p->scale;
}

static bool mb_type_signed(enum mb_type t) {
    return t == MB_TYPE_INT16 || t == MB_TYPE_INT32 || t == MB_TYPE_INT64;
}

/* Integers keep their exact value when there is nothing to scale; otherwise they become
 * engineering doubles. */
static void mb_set_integer(const struct mb_point_cfg *p, uint64_t raw, unsigned bytes,
                           struct adapter_value *out) {
    if (mb_type_signed(p->type)) {
        unsigned shift = 64 - 8 * bytes;
        /* Sign-extend through the unsigned domain: portable, no implementation-defined shift. */
        uint64_t sign = (uint64_t)1 << (8 * bytes - 1);
        uint64_t ext = shift ? ((raw ^ sign) - sign) : raw;
        int64_t s = ext <= INT64_MAX ? (int64_t)ext : -(int64_t)(~ext) - 1;
        if (mb_scale_is_identity(p)) {
            out->type = ADAPTER_V_INT;
            out->v.i = s;
        } else {
            out->type = ADAPTER_V_DOUBLE;
            out->v.f = (double)s * mb_scale_of(p) + p->offset;
        }
    } else if (mb_scale_is_identity(p)) {
        out->type = ADAPTER_V_UINT;
        out->v.u = raw;
    } else {
        out->type = ADAPTER_V_DOUBLE;
        out->v.f = (double)raw * mb_scale_of(p) + p->offset;
    }
}

static int mb_decode_string(const struct mb_point_cfg *p, const uint16_t *regs, unsigned w,
                            struct adapter_value *out, uint8_t *strbuf, size_t cap) {
    uint8_t tmp[2 * ((MB_MAX_STRING + 1) / 2)];
    size_t n = p->param;
    if (cap < n)
        return -ENOSPC;
    mb_to_logical(p->order, false, regs, w, tmp);
    while (n > 0 && tmp[n - 1] == 0)
        n--;
    if (n)
        memcpy(strbuf, tmp, n);
    out->type = ADAPTER_V_STRING;
    out->v.bytes.ptr = strbuf;
    out->v.bytes.len = n;
    return 0;
}

/* The shortest decimal that reads back as the same float32: the register holds about seven
 * significant digits, and 230.98158 is what the device means, not 230.98158264160156 (the exact
 * binary value widened to double), which is what a server would otherwise display. */
static double mb_float32_decimal(float f) {
    char buf[32];
    if (!isfinite(f))
        return f;
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(buf, sizeof(buf), "%.*g", prec, (double)f);
        double d = strtod(buf, NULL);
        if ((float)d == f) /* what a write of d back to the register gives (no double rounding) */
            return d;
    }
    return f;
}

int mb_decode_regs(const struct mb_point_cfg *p, const uint16_t *regs, size_t n,
                   struct adapter_value *out, uint8_t *strbuf, size_t cap) {
    unsigned w = mb_point_width(p);
    uint8_t b[8];
    uint64_t raw = 0;
    if (w == 0 || n < w || p->table == MB_TABLE_COIL || p->table == MB_TABLE_DISCRETE)
        return -EINVAL;
    memset(out, 0, sizeof(*out));
    out->quality = ADAPTER_Q_GOOD;
    if (p->type == MB_TYPE_STRING)
        return mb_decode_string(p, regs, w, out, strbuf, cap);
    if (p->type == MB_TYPE_BOOL || p->type == MB_TYPE_BIT) {
        out->type = ADAPTER_V_BOOL;
        out->v.b = p->type == MB_TYPE_BOOL ? regs[0] != 0 : ((regs[0] >> p->param) & 1u) != 0;
        return 0;
    }
    if (w > sizeof(b) / 2)
        return -EINVAL; /* numeric types span at most 4 registers (and the compiler sees it) */
    mb_to_logical(p->order, true, regs, w, b);
    for (unsigned k = 0; k < 2 * w; k++)
        raw = raw << 8 | b[k];
    if (p->type == MB_TYPE_FLOAT32 || p->type == MB_TYPE_FLOAT64) {
        double d;
        if (p->type == MB_TYPE_FLOAT32) {
            uint32_t u32 = (uint32_t)raw;
            float f;
            memcpy(&f, &u32, sizeof(f));
            d = mb_float32_decimal(f);
        } else {
            memcpy(&d, &raw, sizeof(d));
        }
        out->type = ADAPTER_V_DOUBLE;
        /* Identity scaling leaves the value alone: -0.0 + 0.0 would turn into +0.0. */
        out->v.f = mb_scale_is_identity(p) ? d : d * mb_scale_of(p) + p->offset;
        return 0;
    }
    mb_set_integer(p, raw, 2 * w, out);
    return 0;
}

void mb_decode_bit(uint8_t bit, struct adapter_value *out) {
    memset(out, 0, sizeof(*out));
    out->quality = ADAPTER_Q_GOOD;
    out->type = ADAPTER_V_BOOL;
    out->v.b = bit != 0;
}

/* The value as an engineering number; strings are not numbers. */
static int mb_value_number(const struct adapter_value *v, double *d) {
    switch (v->type) {
    case ADAPTER_V_BOOL:
        *d = v->v.b ? 1.0 : 0.0;
        return 0;
    case ADAPTER_V_INT:
        *d = (double)v->v.i;
        return 0;
    case ADAPTER_V_UINT:
        *d = (double)v->v.u;
        return 0;
    case ADAPTER_V_DOUBLE:
        *d = v->v.f;
        return isfinite(v->v.f) ? 0 : -ERANGE;
    default:
        return -EINVAL;
    }
}

/* Bounds of an integer type, as exact integers of the matching signedness. */
static void mb_int_bounds(enum mb_type t, int64_t *smin, int64_t *smax, uint64_t *umax) {
    unsigned bits = t == MB_TYPE_INT16 || t == MB_TYPE_UINT16   ? 16
                    : t == MB_TYPE_INT32 || t == MB_TYPE_UINT32 ? 32
                                                                : 64;
    *umax = bits == 64 ? UINT64_MAX : ((uint64_t)1 << bits) - 1;
    *smax = bits == 64 ? INT64_MAX : (int64_t)(((uint64_t)1 << (bits - 1)) - 1);
    *smin = -*smax - 1;
}

/* Exact integer input with identity scaling: no trip through double, so all 64 bits survive. */
static int mb_raw_exact(enum mb_type t, const struct adapter_value *v, uint64_t *raw) {
    int64_t smin, smax;
    uint64_t umax;
    mb_int_bounds(t, &smin, &smax, &umax);
    if (mb_type_signed(t)) {
        int64_t s;
        if (v->type == ADAPTER_V_UINT && v->v.u > (uint64_t)INT64_MAX)
            return -ERANGE;
        s = v->type == ADAPTER_V_INT ? v->v.i : (int64_t)v->v.u;
        if (s < smin || s > smax)
            return -ERANGE;
        *raw = (uint64_t)s;
    } else {
        if (v->type == ADAPTER_V_INT && v->v.i < 0)
            return -ERANGE;
        *raw = v->type == ADAPTER_V_INT ? (uint64_t)v->v.i : v->v.u;
        if (*raw > umax)
            return -ERANGE;
    }
    return 0;
}

/* Engineering double -> raw integer: inverse scaling, rounding to nearest, range check. */
static int mb_raw_scaled(const struct mb_point_cfg *p, double x, uint64_t *raw) {
    int64_t smin, smax;
    uint64_t umax;
    double r = nearbyint((x - p->offset) / mb_scale_of(p));
    mb_int_bounds(p->type, &smin, &smax, &umax);
    if (!isfinite(r))
        return -ERANGE;
    if (mb_type_signed(p->type)) {
        /* 2^(bits-1) is exact in a double, while (double)INT64_MAX rounds up to it. */
        double lim = -(double)smin;
        (void)smax;
        if (r < -lim || r >= lim)
            return -ERANGE;
        *raw = (uint64_t)(int64_t)r;
    } else {
        double lim = (double)umax + 1.0; /* 2^bits, exact (rounds to 2^64 for 64 bits) */
        if (r < 0 || r >= lim)
            return -ERANGE;
        *raw = (uint64_t)r;
    }
    return 0;
}

static int mb_encode_string(const struct mb_point_cfg *p, const struct adapter_value *v,
                            uint16_t *regs, unsigned w) {
    uint8_t tmp[2 * ((MB_MAX_STRING + 1) / 2)] = {0};
    if (v->type != ADAPTER_V_STRING && v->type != ADAPTER_V_BYTES)
        return -EINVAL;
    if (v->v.bytes.len > p->param)
        return -ERANGE;
    if (v->v.bytes.len)
        memcpy(tmp, v->v.bytes.ptr, v->v.bytes.len);
    mb_from_logical(p->order, false, tmp, w, regs);
    return (int)w;
}

static int mb_encode_float(const struct mb_point_cfg *p, double x, uint16_t *regs, unsigned w) {
    uint8_t b[8];
    uint64_t raw;
    double r = mb_scale_is_identity(p) ? x : (x - p->offset) / mb_scale_of(p);
    if (!isfinite(r))
        return -ERANGE;
    if (p->type == MB_TYPE_FLOAT32) {
        float f = (float)r;
        uint32_t u32;
        if (!isfinite(f))
            return -ERANGE;
        memcpy(&u32, &f, sizeof(u32));
        raw = u32;
    } else {
        memcpy(&raw, &r, sizeof(raw));
    }
    for (unsigned k = 0; k < 2 * w; k++)
        b[k] = (uint8_t)(raw >> (8 * (2 * w - 1 - k)));
    if (w > sizeof(b) / 2)
        return -EINVAL;
    mb_from_logical(p->order, true, b, w, regs);
    return (int)w;
}

int mb_encode_regs(const struct mb_point_cfg *p, const struct adapter_value *v, uint16_t *regs,
                   size_t cap) {
    unsigned w = mb_point_width(p);
    uint8_t b[8];
    uint64_t raw;
    double x;
    int rc;
    if (w == 0 || p->table == MB_TABLE_COIL || p->table == MB_TABLE_DISCRETE)
        return -EINVAL;
    if (cap < w)
        return -ENOSPC;
    if (p->type == MB_TYPE_STRING)
        return mb_encode_string(p, v, regs, w);
    if ((rc = mb_value_number(v, &x)) < 0)
        return rc;
    if (p->type == MB_TYPE_BOOL || p->type == MB_TYPE_BIT) {
        bool on = x != 0.0;
        regs[0] = p->type == MB_TYPE_BOOL ? (uint16_t)on : mb_bit_apply(0, p->param, on);
        return 1;
    }
    if (p->type == MB_TYPE_FLOAT32 || p->type == MB_TYPE_FLOAT64)
        return mb_encode_float(p, x, regs, w);
    if (mb_scale_is_identity(p) && (v->type == ADAPTER_V_INT || v->type == ADAPTER_V_UINT))
        rc = mb_raw_exact(p->type, v, &raw);
    else
        rc = mb_raw_scaled(p, x, &raw);
    if (rc < 0)
        return rc;
    for (unsigned k = 0; k < 2 * w; k++)
        b[k] = (uint8_t)(raw >> (8 * (2 * w - 1 - k)));
    if (w > sizeof(b) / 2)
        return -EINVAL;
    mb_from_logical(p->order, true, b, w, regs);
    return (int)w;
}

int mb_encode_bit(const struct adapter_value *v, uint8_t *bit) {
    double x;
    int rc = mb_value_number(v, &x);
    if (rc < 0)
        return -EINVAL;
    *bit = x != 0.0;
    return 0;
}

uint16_t mb_bit_apply(uint16_t reg, unsigned n, bool on) {
    uint16_t mask = (uint16_t)(1u << (n & 15u));
    return on ? (uint16_t)(reg | mask) : (uint16_t)(reg & ~mask);
}

int mb_write_fc(const struct mb_point_cfg *p, bool force_multiple) {
    if (!p->writable)
        return 0;
    if (p->table == MB_TABLE_COIL)
        return force_multiple ? 15 : 5;
    if (p->table != MB_TABLE_HOLDING)
        return 0;
    return force_multiple || mb_point_width(p) > 1 ? 16 : 6;
}

static const char *const mb_table_names[] = {"coil", "discrete", "input", "holding"};
static const char *const mb_type_names[] = {"bool",    "int16",  "uint16", "int32",
                                            "uint32",  "int64",  "uint64", "float32",
                                            "float64", "string", "bit"};
static const char *const mb_order_names[] = {"ABCD", "CDAB", "BADC", "DCBA"};

const char *mb_table_name(enum mb_table t) {
    return (unsigned)t <= MB_TABLE_HOLDING ? mb_table_names[t] : "?";
}

const char *mb_type_name(enum mb_type t) {
    return (unsigned)t <= MB_TYPE_BIT ? mb_type_names[t] : "?";
}

const char *mb_order_name(enum mb_order o) {
    return (unsigned)o <= MB_ORDER_DCBA ? mb_order_names[o] : "?";
}

int mb_table_parse(const char *s, enum mb_table *out) {
    for (unsigned i = 0; i <= MB_TABLE_HOLDING; i++) {
        if (strcmp(s, mb_table_names[i]) == 0) {
            *out = (enum mb_table)i;
            return 0;
        }
    }
    return -EINVAL;
}

int mb_order_parse(const char *s, enum mb_order *out) {
    for (unsigned i = 0; i <= MB_ORDER_DCBA; i++) {
        if (strcmp(s, mb_order_names[i]) == 0) {
            *out = (enum mb_order)i;
            return 0;
        }
    }
    return -EINVAL;
}

/* "string(N)" / "bit(N)": N in decimal, nothing after the closing parenthesis. */
static int mb_param_parse(const char *s, uint16_t *param) {
    char *end;
    unsigned long n;
    if (*s != '(' || s[1] < '0' || s[1] > '9')
        return -EINVAL;
    n = strtoul(s + 1, &end, 10);
    if (end[0] != ')' || end[1] != '\0' || n > 65535)
        return -EINVAL;
    *param = (uint16_t)n;
    return 0;
}

int mb_type_parse(const char *s, enum mb_type *out, uint16_t *param) {
    *param = 0;
    if (strncmp(s, "string", 6) == 0 && s[6] == '(') {
        *out = MB_TYPE_STRING;
        return mb_param_parse(s + 6, param);
    }
    if (strncmp(s, "bit", 3) == 0 && s[3] == '(') {
        *out = MB_TYPE_BIT;
        return mb_param_parse(s + 3, param);
    }
    for (unsigned i = 0; i < MB_TYPE_STRING; i++) {
        if (strcmp(s, mb_type_names[i]) == 0) {
            *out = (enum mb_type)i;
            return 0;
        }
    }
    return -EINVAL;
}
