/* SPDX-License-Identifier: Apache-2.0 */
/* CBOR (application/cbor, Content-Format 60): one resource value as one plain CBOR item
 * (LwM2M 1.1.1 TS Core §7.4.3). Also the CBOR plumbing the SenML CBOR and LwM2M CBOR formats
 * share: a token reader over libcbor's streaming decoder (zero-copy strings, no allocation) and
 * value writers over libcbor's encoding functions. */
#include <cbor.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fmt_internal.h"

/* ---- token reader: one libcbor callback fills the token ---- */

#define TOK(c) ((struct lwm2m_cbor_tok *)(c))

static void set_uint(void *c, uint64_t v) {
    TOK(c)->kind = LWM2M_CBOR_UINT;
    TOK(c)->u = v;
}
static void on_u8(void *c, uint8_t v) {
    set_uint(c, v);
}
static void on_u16(void *c, uint16_t v) {
    set_uint(c, v);
}
static void on_u32(void *c, uint32_t v) {
    set_uint(c, v);
}
static void on_u64(void *c, uint64_t v) {
    set_uint(c, v);
}
static void set_neg(void *c, uint64_t v) {
    TOK(c)->kind = LWM2M_CBOR_NEGINT;
    TOK(c)->u = v;
}
static void on_n8(void *c, uint8_t v) {
    set_neg(c, v);
}
static void on_n16(void *c, uint16_t v) {
    set_neg(c, v);
}
static void on_n32(void *c, uint32_t v) {
    set_neg(c, v);
}
static void on_n64(void *c, uint64_t v) {
    set_neg(c, v);
}
static void on_bytes(void *c, cbor_data d, size_t n) {
    TOK(c)->kind = LWM2M_CBOR_BYTES;
    TOK(c)->ptr = d;
    TOK(c)->len = n;
}
static void on_text(void *c, cbor_data d, size_t n) {
    TOK(c)->kind = LWM2M_CBOR_TEXT;
    TOK(c)->ptr = d;
    TOK(c)->len = n;
}
static void on_indef_string(void *c) {
    TOK(c)->kind = LWM2M_CBOR_INDEF_STRING;
}
static void on_indef_array(void *c) {
    TOK(c)->kind = LWM2M_CBOR_ARRAY;
    TOK(c)->indef = true;
}
static void on_array(void *c, size_t n) {
    TOK(c)->kind = LWM2M_CBOR_ARRAY;
    TOK(c)->u = n;
}
static void on_indef_map(void *c) {
    TOK(c)->kind = LWM2M_CBOR_MAP;
    TOK(c)->indef = true;
}
static void on_map(void *c, size_t n) {
    TOK(c)->kind = LWM2M_CBOR_MAP;
    TOK(c)->u = n;
}
static void on_tag(void *c, uint64_t v) {
    TOK(c)->kind = LWM2M_CBOR_TAG;
    TOK(c)->u = v;
}
static void on_float(void *c, float f) {
    TOK(c)->kind = LWM2M_CBOR_FLOAT;
    TOK(c)->f = f;
}
static void on_double(void *c, double f) {
    TOK(c)->kind = LWM2M_CBOR_FLOAT;
    TOK(c)->f = f;
}
static void on_undef(void *c) {
    TOK(c)->kind = LWM2M_CBOR_UNDEF;
}
static void on_null(void *c) {
    TOK(c)->kind = LWM2M_CBOR_NULL;
}
static void on_bool(void *c, bool b) {
    TOK(c)->kind = LWM2M_CBOR_BOOL;
    TOK(c)->b = b;
}
static void on_break(void *c) {
    TOK(c)->kind = LWM2M_CBOR_BREAK;
}

/* libcbor 0.8's field comments are swapped: byte_string/string are the definite callbacks. */
static const struct cbor_callbacks TOK_CALLBACKS = {
    .uint8 = on_u8,
    .uint16 = on_u16,
    .uint32 = on_u32,
    .uint64 = on_u64,
    .negint8 = on_n8,
    .negint16 = on_n16,
    .negint32 = on_n32,
    .negint64 = on_n64,
    .byte_string_start = on_indef_string,
    .byte_string = on_bytes,
    .string = on_text,
    .string_start = on_indef_string,
    .indef_array_start = on_indef_array,
    .array_start = on_array,
    .indef_map_start = on_indef_map,
    .map_start = on_map,
    .tag = on_tag,
    .float2 = on_float,
    .float4 = on_float,
    .float8 = on_double,
    .undefined = on_undef,
    .null = on_null,
    .boolean = on_bool,
    .indef_break = on_break,
};

/* The declared length of a definite string must fit in what is left: checked here so that a
 * huge length can never reach libcbor's own arithmetic. */
static bool string_fits(const uint8_t *p, size_t n) {
    uint8_t major = p[0] >> 5, info = p[0] & 0x1F;
    if ((major != 2 && major != 3) || info >= 28) {
        return true; /* not a definite string: libcbor checks the rest */
    }
    size_t hdr = info < 24 ? 1 : (size_t)1 + ((size_t)1 << (info - 24));
    if (n < hdr) {
        return false;
    }
    uint64_t len = info < 24 ? info : 0;
    for (size_t i = 1; i < hdr; i++) {
        len = len << 8 | p[i];
    }
    return len <= n - hdr;
}

int lwm2m_cbor_next(struct lwm2m_cbor_rd *rd, struct lwm2m_cbor_tok *t) {
    memset(t, 0, sizeof(*t));
    t->kind = (enum lwm2m_cbor_kind) - 1;
    if (rd->off >= rd->n || !string_fits(rd->p + rd->off, rd->n - rd->off)) {
        return LWM2M_ERR_FORMAT;
    }
    struct cbor_decoder_result res =
        cbor_stream_decode(rd->p + rd->off, rd->n - rd->off, &TOK_CALLBACKS, t);
    if (res.status != CBOR_DECODER_FINISHED || res.read == 0 ||
        t->kind == (enum lwm2m_cbor_kind) - 1) {
        return LWM2M_ERR_FORMAT;
    }
    rd->off += res.read;
    return 0;
}

static int cbor_number(const struct lwm2m_cbor_tok *t, struct lwm2m_value *out) {
    switch (t->kind) {
    case LWM2M_CBOR_UINT:
        *out =
            t->u <= (uint64_t)INT64_MAX ? lwm2m_value_int((int64_t)t->u) : lwm2m_value_uint(t->u);
        return 0;
    case LWM2M_CBOR_NEGINT:
        if (t->u > (uint64_t)INT64_MAX) {
            return LWM2M_ERR_FORMAT; /* below INT64_MIN */
        }
        *out = lwm2m_value_int(-1 - (int64_t)t->u);
        return 0;
    case LWM2M_CBOR_FLOAT:
        *out = lwm2m_value_float(t->f);
        return 0;
    default:
        return LWM2M_ERR_FORMAT;
    }
}

int lwm2m_cbor_value(struct lwm2m_cbor_rd *rd, const struct lwm2m_cbor_tok *t,
                     struct lwm2m_value *out) {
    switch (t->kind) {
    case LWM2M_CBOR_UINT:
    case LWM2M_CBOR_NEGINT:
    case LWM2M_CBOR_FLOAT:
        return cbor_number(t, out);
    case LWM2M_CBOR_BOOL:
        *out = lwm2m_value_bool(t->b);
        return 0;
    case LWM2M_CBOR_TEXT:
        *out = lwm2m_value_string((const char *)t->ptr, t->len);
        return 0;
    case LWM2M_CBOR_BYTES:
        *out = lwm2m_value_opaque(t->ptr, t->len);
        return 0;
    case LWM2M_CBOR_TAG: {
        struct lwm2m_cbor_tok inner;
        struct lwm2m_value num;
        /* Only tag 1 (epoch time, RFC 8949 §3.4.2) means something to LwM2M. */
        if (t->u != 1 || lwm2m_cbor_next(rd, &inner) != 0 || cbor_number(&inner, &num) != 0) {
            return LWM2M_ERR_FORMAT;
        }
        return lwm2m_value_convert(&num, LWM2M_TYPE_TIME, out);
    }
    default:
        return LWM2M_ERR_FORMAT;
    }
}

/* ---- writers ---- */

static int put_encoded(struct lwm2m_encoder *e, size_t written) {
    if (e->err != 0) {
        return e->err;
    }
    if (written == 0) {
        return lwm2m_enc_fail(e, LWM2M_ERR_NOSPACE);
    }
    e->len += written;
    return 0;
}

int lwm2m_cbor_put_uint(struct lwm2m_encoder *e, uint64_t u) {
    return put_encoded(e, cbor_encode_uint(u, e->buf + e->len, e->cap - e->len));
}

int lwm2m_cbor_put_int(struct lwm2m_encoder *e, int64_t i) {
    if (i >= 0) {
        return lwm2m_cbor_put_uint(e, (uint64_t)i);
    }
    return put_encoded(e,
                       cbor_encode_negint((uint64_t)(-(i + 1)), e->buf + e->len, e->cap - e->len));
}

int lwm2m_cbor_put_text(struct lwm2m_encoder *e, const void *s, size_t n) {
    int rc = put_encoded(e, cbor_encode_string_start(n, e->buf + e->len, e->cap - e->len));
    return rc != 0 ? rc : lwm2m_enc_put(e, s, n);
}

static int put_bytes(struct lwm2m_encoder *e, const void *s, size_t n) {
    int rc = put_encoded(e, cbor_encode_bytestring_start(n, e->buf + e->len, e->cap - e->len));
    return rc != 0 ? rc : lwm2m_enc_put(e, s, n);
}

int lwm2m_cbor_put_head(struct lwm2m_encoder *e, uint8_t byte) {
    return lwm2m_enc_put(e, &byte, 1);
}

/* Exact in a normal half float (libcbor's half encoder is only exact for normal numbers). */
static bool fits_half(double f) {
    double a = fabs(f);
    if (f == 0.0 || isinf(f) || isnan(f)) {
        return true;
    }
    if (a > 65504.0 || a < 0x1p-14) {
        return false;
    }
    int ex;
    double m = ldexp(frexp(a, &ex), 11); /* 11 significant bits in a half */
    return m == floor(m);
}

int lwm2m_cbor_put_float(struct lwm2m_encoder *e, double f) {
    size_t room = e->cap - e->len;
    uint8_t *at = e->buf + e->len;
    /* RFC 8949 §4.2.2 preferred serialization: the shortest float that keeps the value. */
    if (fits_half(f)) {
        return put_encoded(e, cbor_encode_half((float)f, at, room));
    }
    if (fabs(f) <= FLT_MAX && (double)(float)f == f) {
        return put_encoded(e, cbor_encode_single((float)f, at, room));
    }
    return put_encoded(e, cbor_encode_double(f, at, room));
}

int lwm2m_cbor_put_value(struct lwm2m_encoder *e, const struct lwm2m_value *v) {
    switch (v->type) {
    case LWM2M_TYPE_INTEGER:
        return lwm2m_cbor_put_int(e, v->v.i);
    case LWM2M_TYPE_UNSIGNED:
        return lwm2m_cbor_put_uint(e, v->v.u);
    case LWM2M_TYPE_FLOAT:
        return lwm2m_cbor_put_float(e, v->v.f);
    case LWM2M_TYPE_BOOLEAN:
        return lwm2m_cbor_put_head(e, v->v.b ? 0xF5 : 0xF4);
    case LWM2M_TYPE_STRING:
    case LWM2M_TYPE_CORELNK:
        return lwm2m_cbor_put_text(e, v->v.bytes.ptr, v->v.bytes.len);
    case LWM2M_TYPE_OPAQUE:
        return put_bytes(e, v->v.bytes.ptr, v->v.bytes.len);
    case LWM2M_TYPE_TIME: {
        int rc = lwm2m_cbor_put_head(e, 0xC1); /* tag 1: epoch-based date/time */
        return rc != 0 ? rc : lwm2m_cbor_put_int(e, v->v.i);
    }
    case LWM2M_TYPE_OBJLNK: {
        char tmp[16];
        int n =
            snprintf(tmp, sizeof(tmp), "%u:%u", (unsigned)v->v.lnk.obj, (unsigned)v->v.lnk.inst);
        return lwm2m_cbor_put_text(e, tmp, (size_t)n);
    }
    case LWM2M_TYPE_NONE:
    default:
        return LWM2M_ERR_INVALID;
    }
}

/* ---- Content-Format 60 ---- */

static int cbor_add(struct lwm2m_encoder *e, const struct lwm2m_record *r) {
    if (e->count > 0 || e->req.len < 3) {
        return LWM2M_ERR_INVALID;
    }
    return lwm2m_cbor_put_value(e, &r->value);
}

static int cbor_decode(struct lwm2m_dec *d, const uint8_t *p, size_t n) {
    struct lwm2m_cbor_rd rd = {.p = p, .n = n};
    struct lwm2m_cbor_tok t;
    struct lwm2m_record r = {.path = d->cfg->req};
    if (r.path.len < 3 || lwm2m_cbor_next(&rd, &t) != 0 ||
        lwm2m_cbor_value(&rd, &t, &r.value) != 0 || rd.off != n) {
        return LWM2M_ERR_FORMAT;
    }
    return lwm2m_dec_emit(d, &r);
}

const struct lwm2m_fmt_ops lwm2m_fmt_cbor = {
    .ct = LWM2M_CT_CBOR,
    .enc_add = cbor_add,
    .decode = cbor_decode,
};
