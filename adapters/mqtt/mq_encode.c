/* SPDX-License-Identifier: Apache-2.0 */
/* Command payloads of the MQTT adapter (an LwM2M Write or Execute published to a command topic):
 * a value as text, JSON (at a pointer) or opaque bytes as hex, base64 or raw; and the growable
 * scratch buffer the codec fills. Pure: no I/O and no clock. */
#include "mq_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* ---- scratch buffer ------------------------------------------------------------------------ */

void mq_buf_free(struct mq_buf *b) {
    if (b != NULL) {
        free(b->ptr);
        b->ptr = NULL;
        b->len = b->cap = 0;
    }
}

int mq_buf_reserve(struct mq_buf *b, size_t n) {
    if (n <= b->cap && b->ptr != NULL) {
        return 0;
    }
    size_t cap = b->cap > 64 ? b->cap : 64;
    while (cap < n) {
        if (cap > SIZE_MAX / 2) {
            return -ENOMEM;
        }
        cap *= 2;
    }
    uint8_t *p = realloc(b->ptr, cap);
    if (p == NULL) {
        return -ENOMEM;
    }
    b->ptr = p;
    b->cap = cap;
    return 0;
}

int mq_buf_set(struct mq_buf *b, const void *p, size_t n) {
    int rc = mq_buf_reserve(b, n + 1);
    if (rc != 0) {
        return rc;
    }
    if (n > 0) {
        memcpy(b->ptr, p, n);
    }
    b->ptr[n] = 0; /* handy for logs; not counted in len */
    b->len = n;
    return 0;
}

/* ---- command payloads --------------------------------------------------------------------------
 */

/* Shortest "%.*g" text that reads back as the same double. */
static int fmt_double(double d, char *buf, size_t cap) {
    if (!isfinite(d)) {
        return -EINVAL;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, cap, "%.*g", prec, d);
        if (strtod(buf, NULL) == d) {
            break;
        }
    }
    return 0;
}

static int encode_text(const struct adapter_value *v, const char *t, const char *f,
                       struct mq_buf *out) {
    char num[40];
    switch (v->type) {
    case ADAPTER_V_BOOL: {
        const char *s = v->v.b ? (t != NULL ? t : "true") : (f != NULL ? f : "false");
        return mq_buf_set(out, s, strlen(s));
    }
    case ADAPTER_V_INT:
        snprintf(num, sizeof(num), "%" PRId64, v->v.i);
        return mq_buf_set(out, num, strlen(num));
    case ADAPTER_V_UINT:
        snprintf(num, sizeof(num), "%" PRIu64, v->v.u);
        return mq_buf_set(out, num, strlen(num));
    case ADAPTER_V_DOUBLE:
        if (fmt_double(v->v.f, num, sizeof(num)) != 0) {
            return -EINVAL;
        }
        return mq_buf_set(out, num, strlen(num));
    case ADAPTER_V_STRING:
    case ADAPTER_V_BYTES:
        return mq_buf_set(out, v->v.bytes.ptr, v->v.bytes.len);
    default:
        return -EINVAL;
    }
}

static int encode_hex(const uint8_t *p, size_t n, struct mq_buf *out) {
    static const char digits[] = "0123456789abcdef";
    if (n > SIZE_MAX / 2 - 1 || mq_buf_reserve(out, 2 * n + 1) != 0) {
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        out->ptr[2 * i] = (uint8_t)digits[p[i] >> 4];
        out->ptr[2 * i + 1] = (uint8_t)digits[p[i] & 15];
    }
    out->ptr[2 * n] = 0;
    out->len = 2 * n;
    return 0;
}

static int encode_b64(const uint8_t *p, size_t n, struct mq_buf *out) {
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t olen = (n + 2) / 3 * 4;
    if (n > SIZE_MAX / 2 || mq_buf_reserve(out, olen + 1) != 0) {
        return -ENOMEM;
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t w = (uint32_t)p[i] << 16;
        if (i + 1 < n) {
            w |= (uint32_t)p[i + 1] << 8;
        }
        if (i + 2 < n) {
            w |= p[i + 2];
        }
        out->ptr[o++] = (uint8_t)abc[(w >> 18) & 63];
        out->ptr[o++] = (uint8_t)abc[(w >> 12) & 63];
        out->ptr[o++] = i + 1 < n ? (uint8_t)abc[(w >> 6) & 63] : '=';
        out->ptr[o++] = i + 2 < n ? (uint8_t)abc[w & 63] : '=';
    }
    out->ptr[o] = 0;
    out->len = o;
    return 0;
}

static json_t *json_of_value(const struct adapter_value *v) {
    switch (v->type) {
    case ADAPTER_V_BOOL:
        return json_boolean(v->v.b);
    case ADAPTER_V_INT:
        return json_integer((json_int_t)v->v.i);
    case ADAPTER_V_UINT:
        return v->v.u <= (uint64_t)INT64_MAX ? json_integer((json_int_t)v->v.u) : NULL;
    case ADAPTER_V_DOUBLE:
        return isfinite(v->v.f) ? json_real(v->v.f) : NULL;
    case ADAPTER_V_STRING:
        return mq_utf8_valid(v->v.bytes.ptr, v->v.bytes.len)
                   ? json_stringn((const char *)v->v.bytes.ptr, v->v.bytes.len)
                   : NULL;
    case ADAPTER_V_BYTES: {
        struct mq_buf b = {0};
        json_t *s = NULL;
        if (encode_b64(v->v.bytes.ptr, v->v.bytes.len, &b) == 0) {
            s = json_stringn((const char *)b.ptr, b.len);
        }
        mq_buf_free(&b);
        return s;
    }
    default:
        return NULL;
    }
}

/* Wraps value in one object per reference token of pointer, innermost last: "/a/b" -> {"a":{"b":
 * value}}. Takes the reference to value. */
static json_t *json_wrap(json_t *value, const char *pointer) {
    if (pointer == NULL || pointer[0] == '\0') {
        return value;
    }
    const char *p = pointer + 1;
    char tok[MQ_JP_TOKEN_MAX];
    size_t tl;
    if (pointer[0] != '/' || mq_jp_token(&p, tok, &tl) != 0) {
        json_decref(value);
        return NULL;
    }
    json_t *inner = *p == '/' ? json_wrap(value, p) : value;
    if (inner == NULL) {
        return NULL;
    }
    json_t *obj = json_object();
    if (obj == NULL || json_object_setn_new(obj, tok, tl, inner) != 0) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

static int encode_json(const struct adapter_value *v, const char *pointer, struct mq_buf *out) {
    json_t *j = json_of_value(v);
    if (j == NULL) {
        return -EINVAL;
    }
    j = json_wrap(j, pointer);
    if (j == NULL) {
        return -EINVAL;
    }
    size_t flags = JSON_COMPACT | JSON_ENCODE_ANY;
    size_t need = json_dumpb(j, NULL, 0, flags);
    int rc = need == 0 ? -EINVAL : mq_buf_reserve(out, need + 1);
    if (rc == 0) {
        out->len = json_dumpb(j, (char *)out->ptr, need, flags);
        out->ptr[out->len] = 0;
    }
    json_decref(j);
    return rc;
}

int mq_payload_encode(const struct adapter_value *v, enum mq_format fmt, const char *json_pointer,
                      const char *true_text, const char *false_text, struct mq_buf *out) {
    if (v == NULL || out == NULL) {
        return -EINVAL;
    }
    bool blob = v->type == ADAPTER_V_STRING || v->type == ADAPTER_V_BYTES;
    if (blob && v->v.bytes.ptr == NULL && v->v.bytes.len > 0) {
        return -EINVAL;
    }
    switch (fmt) {
    case MQ_FMT_TEXT:
        return encode_text(v, true_text, false_text, out);
    case MQ_FMT_JSON:
        return encode_json(v, json_pointer, out);
    case MQ_FMT_HEX:
        return blob ? encode_hex(v->v.bytes.ptr, v->v.bytes.len, out) : -EINVAL;
    case MQ_FMT_BASE64:
        return blob ? encode_b64(v->v.bytes.ptr, v->v.bytes.len, out) : -EINVAL;
    case MQ_FMT_RAW:
        return blob ? mq_buf_set(out, v->v.bytes.ptr, v->v.bytes.len) : -EINVAL;
    default:
        return -EINVAL;
    }
}
