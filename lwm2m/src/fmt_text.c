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

/* The shortest %g precision that reads back as v, but never fewer digits than the integer part
 * has (below 1e17): %g switches to an exponent when the precision is shorter than the integer,
 * and "3e+01" for 30 is exact but not what a person or a lenient server parser expects. */
int lwm2m_double_precision(double v) {
    char tmp[40];
    int prec = 1;
    for (; prec < 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
        if (strtod(tmp, NULL) == v) {
            break;
        }
    }
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
    char tmp[40];
    /* The shortest precision that reads back as v: "22.9", not "22.899999999999999". */
    int n = snprintf(tmp, sizeof(tmp), "%.*g", lwm2m_double_precision(v), v);
    if (n <= 0 || (size_t)n >= cap) {
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
        n = snprintf(out, cap, "%lld", (long long)v->v.i);
        break;
    case LWM2M_TYPE_UNSIGNED:
        n = snprintf(out, cap, "%llu", (unsigned long long)v->v.u);
        break;
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
