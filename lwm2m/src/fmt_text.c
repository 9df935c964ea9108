/* SPDX-License-Identifier: Apache-2.0 */
/* Plain text (Content-Format 0): one value of a single resource or resource instance, written
 * and read as LwM2M 1.1.1 TS Core Appendix C (Table C-2) says: decimal integers, floats that
 * read back exactly, booleans "0"/"1", time as integer seconds, objlnk "O:I", opaque as base64
 * (RFC 4648 with padding). Also the number-to-text helpers the JSON formats share. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmt_internal.h"

/* ---- numbers to text -------------------------------------------------------------------- */

/* Writes u in decimal, zero-padded to at least width digits, into out (room for 20 + NUL).
 * Returns the length. snprintf("%llu") costs about a thousand instructions per call; a Notify of
 * an integer or decimal value needs only this. */
static int fmt_u64(uint64_t u, int width, char *out) {
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0 || n < width);
    for (int i = 0; i < n; i++) {
        out[i] = tmp[n - 1 - i];
    }
    out[n] = '\0';
    return n;
}

/* Powers of ten that are exact doubles and fit in 64 bits. */
static const double dbl_pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,
                                   1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19};
#define DBL_2P51 2251799813685248.0 /* 2^51 */
#define DBL_2P52 4503599627370496.0 /* 2^52: below it a product's rounding error is < 0.25 */

/* Fast path of the shortest round-trip search, for the values sensors actually send (integers
 * and decimals with few digits): with a = |v|, finds the fewest fractional digits k such that
 * a rounded to k fractional digits, m / 10^k, reads back as a. Every step is exact: m and 10^k
 * are exact doubles, so m / 10^k is the correctly rounded value strtod gives for "m e-k"
 * (Clinger's fast path); p = a * 10^k is off from the true product by at most half an ulp of p
 * (< 0.25 below 2^52), so m = rint(p) is the true rounding unless p is a tie, and at a tie no
 * integer is close enough to read back, so the next k is tried. The k found is the one the
 * snprintf/strtod search finds (significant digits = k + integer digits), and m has no trailing
 * zero, so "%.*g" prints exactly m / 10^k. Returns 0 outside [1e-3, 2^52) (where %g may switch
 * to an exponent or a product may lose a unit) or when no k works (17-digit values): the caller
 * falls back to the search. */
static int dbl_decimal(double v, uint64_t *mant, int *frac) {
    double a = fabs(v);
    if (a == 0) {
        *mant = 0;
        *frac = 0;
        return 1;
    }
    if (!(a >= 1e-3 && a < DBL_2P52)) {
        return 0;
    }
    for (int k = 0; k < (int)(sizeof(dbl_pow10) / sizeof(dbl_pow10[0])); k++) {
        double p = a * dbl_pow10[k];
        if (p >= DBL_2P52) {
            return 0;
        }
        double m = rint(p);
        double off = fabs(p - m); /* exact (Sterbenz) */
        if (off == 0.5) {
            if (p >= DBL_2P51) {
                return 0; /* the tie argument needs an ulp of p below 1/3 */
            }
            continue;
        }
        if (m / dbl_pow10[k] == a) {
            *mant = (uint64_t)m;
            *frac = k;
            return 1;
        }
    }
    return 0;
}

static int u64_digits(uint64_t u) {
    int n = 1;
    while (u >= 10) {
        u /= 10;
        n++;
    }
    return n;
}

/* The snprintf/strtod search, for what dbl_decimal() leaves. Reading back is monotone in the
 * precision (the p+1-digit rounding is at least as close as the p-digit one), and 17 digits
 * always read back, so a binary search needs at most 5 tries instead of up to 17. */
static int dbl_precision_search(double v) {
    char tmp[40];
    int lo = 1, hi = 17;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        /* At most 17 significant digits: "-d.dddddddddddddddde-308" fits tmp. */
        int len = snprintf(tmp, sizeof(tmp), "%.*g", mid, v);
        if (len > 0 && (size_t)len < sizeof(tmp) && strtod(tmp, NULL) == v) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    return lo;
}

/* The shortest %g precision that reads back as v, but never fewer digits than the integer part
 * has (below 1e17): %g switches to an exponent when the precision is shorter than the integer,
 * and "3e+01" for 30 is exact but not what a person or a lenient server parser expects. */
int lwm2m_double_precision(double v) {
    uint64_t m;
    int k;
    if (dbl_decimal(v, &m, &k)) {
        return u64_digits(m); /* for an integer, its digits: the rule below holds already */
    }
    int prec = dbl_precision_search(v);
    double mag = fabs(v);
    if (isfinite(v) && mag >= 1.0 && mag < 1e17) {
        int digits = (int)floor(log10(mag)) + 1;
        if (digits > prec) {
            prec = digits > 17 ? 17 : digits;
        }
    }
    return prec;
}

int lwm2m_fmt_double(double v, char *out, size_t cap) {
    char tmp[48];
    int n;
    uint64_t m;
    int k;
    if (dbl_decimal(v, &m, &k)) {
        /* what "%.*g" prints for it, without printf's cost: [-]int[.frac] */
        n = 0;
        if (signbit(v)) {
            tmp[n++] = '-';
        }
        n += fmt_u64(m / (uint64_t)dbl_pow10[k], 1, tmp + n);
        if (k > 0) {
            tmp[n++] = '.';
            n += fmt_u64(m % (uint64_t)dbl_pow10[k], k, tmp + n);
        }
    } else {
        /* The shortest precision that reads back as v: "22.9", not "22.899999999999999". */
        n = snprintf(tmp, sizeof(tmp), "%.*g", lwm2m_double_precision(v), v);
    }
    if (n <= 0 || (size_t)n >= cap) {
        return LWM2M_ERR_NOSPACE;
    }
    memcpy(out, tmp, (size_t)n + 1);
    return n;
}

/* [-]mag into out, with lwm2m_fmt_scalar_text()'s results. */
static int fmt_int_text(uint64_t mag, bool neg, char *out, size_t cap) {
    char tmp[24];
    tmp[0] = '-';
    int n = fmt_u64(mag, 1, tmp + neg) + neg;
    if ((size_t)n >= cap) {
        return LWM2M_ERR_NOSPACE;
    }
    memcpy(out, tmp, (size_t)n + 1);
    return n;
}

int lwm2m_fmt_scalar_text(const struct lwm2m_value *v, char *out, size_t cap) {
    int n;
    switch (v->type) {
    case LWM2M_TYPE_INTEGER:
    case LWM2M_TYPE_TIME:
        return fmt_int_text(v->v.i < 0 ? 0 - (uint64_t)v->v.i : (uint64_t)v->v.i, v->v.i < 0, out,
                            cap);
    case LWM2M_TYPE_UNSIGNED:
        return fmt_int_text(v->v.u, false, out, cap);
    case LWM2M_TYPE_FLOAT:
        if (!isfinite(v->v.f)) {
            return LWM2M_ERR_INVALID;
        }
        return lwm2m_fmt_double(v->v.f, out, cap);
    case LWM2M_TYPE_BOOLEAN:
        n = snprintf(out, cap, "%d", v->v.b ? 1 : 0);
        break;
    case LWM2M_TYPE_OBJLNK:
        n = snprintf(out, cap, "%u:%u", (unsigned)v->v.lnk.obj, (unsigned)v->v.lnk.inst);
        break;
    default:
        return LWM2M_ERR_INVALID;
    }
    if (n < 0 || (size_t)n >= cap) {
        return LWM2M_ERR_NOSPACE;
    }
    return n;
}

static int text_add(struct lwm2m_encoder *e, const struct lwm2m_record *r) {
    const struct lwm2m_value *v = &r->value;
    if (e->count > 0 || e->req.len < 3) {
        return LWM2M_ERR_INVALID; /* text carries exactly one resource value */
    }
    switch (v->type) {
    case LWM2M_TYPE_STRING:
    case LWM2M_TYPE_CORELNK:
        return lwm2m_enc_put(e, v->v.bytes.ptr, v->v.bytes.len);
    case LWM2M_TYPE_OPAQUE: {
        size_t need = lwm2m_b64_encoded_len(v->v.bytes.len, false);
        if (need > e->cap - e->len) {
            return LWM2M_ERR_NOSPACE;
        }
        e->len += lwm2m_b64_encode(v->v.bytes.ptr, v->v.bytes.len, (char *)e->buf + e->len, false);
        return 0;
    }
    default: {
        char tmp[48];
        int n = lwm2m_fmt_scalar_text(v, tmp, sizeof(tmp));
        if (n < 0) {
            return n == LWM2M_ERR_NOSPACE ? LWM2M_ERR_INVALID : n;
        }
        return lwm2m_enc_put(e, tmp, (size_t)n);
    }
    }
}

/* Copies a number's text to a NUL-terminated buffer: strtoll and friends need one, and the
 * payload has none. */
static int number_copy(const uint8_t *p, size_t n, char *buf, size_t cap) {
    if (n == 0 || n >= cap) {
        return LWM2M_ERR_FORMAT;
    }
    for (size_t i = 0; i < n; i++) {
        /* strtod would also skip spaces or read "0x1p3", "nan" and "inf": refuse them here */
        char c = (char)p[i];
        if (!((c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E')) {
            return LWM2M_ERR_FORMAT;
        }
    }
    memcpy(buf, p, n);
    buf[n] = '\0';
    return 0;
}

static int parse_int(const char *s, int64_t *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || end == s || strpbrk(s, ".eE") != NULL) {
        return LWM2M_ERR_FORMAT;
    }
    *out = v;
    return 0;
}

static int parse_uint(const char *s, uint64_t *out) {
    char *end;
    if (s[0] < '0' || s[0] > '9') {
        return LWM2M_ERR_FORMAT; /* strtoull would accept "-1" */
    }
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0') {
        return LWM2M_ERR_FORMAT;
    }
    *out = v;
    return 0;
}

static int parse_float(const char *s, double *out) {
    char *end;
    double v = strtod(s, &end);
    if (*end != '\0' || end == s || !isfinite(v)) {
        return LWM2M_ERR_FORMAT;
    }
    *out = v;
    return 0;
}

static int text_number(const uint8_t *p, size_t n, enum lwm2m_type t, struct lwm2m_value *out) {
    char buf[64];
    int rc = number_copy(p, n, buf, sizeof(buf));
    if (rc != 0) {
        return rc;
    }
    switch (t) {
    case LWM2M_TYPE_INTEGER:
    case LWM2M_TYPE_TIME:
        out->type = (uint8_t)t;
        return parse_int(buf, &out->v.i);
    case LWM2M_TYPE_UNSIGNED:
        out->type = LWM2M_TYPE_UNSIGNED;
        return parse_uint(buf, &out->v.u);
    case LWM2M_TYPE_FLOAT:
        out->type = LWM2M_TYPE_FLOAT;
        return parse_float(buf, &out->v.f);
    default:
        return LWM2M_ERR_FORMAT;
    }
}

int lwm2m_text_value(const uint8_t *p, size_t n, enum lwm2m_type t, struct lwm2m_value *out) {
    struct lwm2m_value s = lwm2m_value_string((const char *)p, n);
    switch (t) {
    case LWM2M_TYPE_NONE:
    case LWM2M_TYPE_STRING:
    case LWM2M_TYPE_CORELNK:
    case LWM2M_TYPE_OBJLNK:
        return lwm2m_value_convert(&s, t == LWM2M_TYPE_NONE ? s.type : t, out);
    case LWM2M_TYPE_BOOLEAN:
        if (n != 1 || (p[0] != '0' && p[0] != '1')) {
            return LWM2M_ERR_FORMAT;
        }
        *out = lwm2m_value_bool(p[0] == '1');
        return 0;
    case LWM2M_TYPE_INTEGER:
    case LWM2M_TYPE_UNSIGNED:
    case LWM2M_TYPE_FLOAT:
    case LWM2M_TYPE_TIME:
        return text_number(p, n, t, out);
    case LWM2M_TYPE_OPAQUE:
    default:
        return LWM2M_ERR_FORMAT;
    }
}

static int text_decode(struct lwm2m_dec *d, const uint8_t *p, size_t n) {
    struct lwm2m_record r = {.path = d->cfg->req};
    if (r.path.len < 3) {
        return LWM2M_ERR_FORMAT;
    }
    enum lwm2m_type t = lwm2m_dec_type(d, &r.path);
    if (t == LWM2M_TYPE_OPAQUE) {
        int rc = lwm2m_dec_base64(d, (const char *)p, n, &r.value.v.bytes);
        if (rc != 0) {
            return rc;
        }
        r.value.type = LWM2M_TYPE_OPAQUE;
    } else {
        int rc = lwm2m_text_value(p, n, t, &r.value);
        if (rc != 0) {
            return rc;
        }
    }
    return lwm2m_dec_emit(d, &r);
}

const struct lwm2m_fmt_ops lwm2m_fmt_text = {
    .ct = LWM2M_CT_TEXT,
    .enc_add = text_add,
    .decode = text_decode,
};
