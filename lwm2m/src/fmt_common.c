/* SPDX-License-Identifier: Apache-2.0 */
/* The content-format front door: content-format numbers, negotiation (which format can carry a
 * request, which one to use without Accept), the encoder/decoder API dispatching to fmt_*.c, and
 * helpers they share (buffer writing, record checks, base64, SenML names). */
#include <string.h>

#include "fmt_internal.h"

int lwm2m_ct_normalize(unsigned ct) {
    switch (ct) {
    case LWM2M_CT_LEGACY_TEXT:
        return LWM2M_CT_TEXT;
    case LWM2M_CT_LEGACY_TLV:
        return LWM2M_CT_TLV;
    case LWM2M_CT_LEGACY_JSON:
        return LWM2M_CT_LWM2M_JSON;
    case LWM2M_CT_LEGACY_OPAQUE:
        return LWM2M_CT_OPAQUE;
    case LWM2M_CT_TEXT:
    case LWM2M_CT_LINK:
    case LWM2M_CT_OPAQUE:
    case LWM2M_CT_CBOR:
    case LWM2M_CT_SENML_JSON:
    case LWM2M_CT_SENML_CBOR:
    case LWM2M_CT_TLV:
    case LWM2M_CT_LWM2M_JSON:
    case LWM2M_CT_LWM2M_CBOR:
        return (int)ct;
    default:
        return LWM2M_ERR_UNSUPPORTED;
    }
}

const char *lwm2m_ct_name(unsigned ct) {
    switch (lwm2m_ct_normalize(ct)) {
    case LWM2M_CT_TEXT:
        return "text";
    case LWM2M_CT_LINK:
        return "link-format";
    case LWM2M_CT_OPAQUE:
        return "opaque";
    case LWM2M_CT_CBOR:
        return "cbor";
    case LWM2M_CT_SENML_JSON:
        return "senml+json";
    case LWM2M_CT_SENML_CBOR:
        return "senml+cbor";
    case LWM2M_CT_TLV:
        return "tlv";
    case LWM2M_CT_LWM2M_JSON:
        return "lwm2m+json";
    case LWM2M_CT_LWM2M_CBOR:
        return "lwm2m+cbor";
    default:
        return "unknown";
    }
}

static const struct lwm2m_fmt_ops *ops_for(unsigned ct) {
    switch (lwm2m_ct_normalize(ct)) {
    case LWM2M_CT_TEXT:
        return &lwm2m_fmt_text;
    case LWM2M_CT_OPAQUE:
        return &lwm2m_fmt_opaque;
    case LWM2M_CT_CBOR:
        return &lwm2m_fmt_cbor;
    case LWM2M_CT_SENML_JSON:
        return &lwm2m_fmt_senml_json;
    case LWM2M_CT_SENML_CBOR:
        return &lwm2m_fmt_senml_cbor;
    case LWM2M_CT_TLV:
        return &lwm2m_fmt_tlv;
    case LWM2M_CT_LWM2M_JSON:
        return &lwm2m_fmt_lwm2m_json;
    case LWM2M_CT_LWM2M_CBOR:
        return &lwm2m_fmt_lwm2m_cbor;
    default:
        return NULL;
    }
}

static bool single_value(const struct lwm2m_path *req, bool multiple) {
    return req->len == 4 || (req->len == 3 && !multiple);
}

bool lwm2m_fmt_supports(unsigned ct, const struct lwm2m_path *req, bool multiple,
                        enum lwm2m_type type) {
    switch (lwm2m_ct_normalize(ct)) {
    case LWM2M_CT_TEXT:
    case LWM2M_CT_CBOR:
        return single_value(req, multiple) && type != LWM2M_TYPE_NONE;
    case LWM2M_CT_OPAQUE:
        return single_value(req, multiple) && type == LWM2M_TYPE_OPAQUE;
    case LWM2M_CT_TLV:
    case LWM2M_CT_LWM2M_JSON:
        return req->len >= 1;
    case LWM2M_CT_SENML_JSON:
    case LWM2M_CT_SENML_CBOR:
    case LWM2M_CT_LWM2M_CBOR:
        return true;
    default:
        return false;
    }
}

unsigned lwm2m_fmt_default(unsigned version_minor, const struct lwm2m_path *req, bool multiple,
                           enum lwm2m_type type) {
    if (single_value(req, multiple)) {
        return type == LWM2M_TYPE_OPAQUE ? LWM2M_CT_OPAQUE : LWM2M_CT_TEXT;
    }
    if (version_minor == 0 && req->len >= 1) {
        return LWM2M_CT_TLV;
    }
    return LWM2M_CT_SENML_CBOR;
}

/* ---- encoder API ---- */

int lwm2m_encoder_init(struct lwm2m_encoder *e, unsigned ct, const struct lwm2m_path *req,
                       uint8_t *buf, size_t cap) {
    const struct lwm2m_fmt_ops *ops = ops_for(ct);
    memset(e, 0, sizeof(*e));
    if (ops == NULL || ops->enc_add == NULL) {
        e->err = LWM2M_ERR_UNSUPPORTED;
        return e->err;
    }
    e->ops = ops;
    e->ct = ops->ct;
    e->buf = buf;
    e->cap = buf != NULL ? cap : 0;
    e->req = *req;
    if (e->req.len > LWM2M_PATH_MAX_DEPTH) {
        e->err = LWM2M_ERR_INVALID;
    }
    return e->err;
}

int lwm2m_encoder_add(struct lwm2m_encoder *e, const struct lwm2m_record *r) {
    const struct lwm2m_fmt_ops *ops = e->ops;
    if (e->err != 0) {
        return e->err;
    }
    if (lwm2m_enc_check_path(e, &r->path) != 0) {
        return e->err;
    }
    int rc = ops->enc_add(e, r);
    if (rc != 0) {
        return lwm2m_enc_fail(e, rc);
    }
    e->prev = r->path;
    e->count++;
    return 0;
}

int lwm2m_encoder_add_value(struct lwm2m_encoder *e, const struct lwm2m_path *p,
                            const struct lwm2m_value *v) {
    struct lwm2m_record r = {.path = *p, .value = *v};
    return lwm2m_encoder_add(e, &r);
}

int lwm2m_encoder_finish(struct lwm2m_encoder *e, size_t *len) {
    const struct lwm2m_fmt_ops *ops = e->ops;
    if (e->err == 0 && ops->enc_finish != NULL) {
        int rc = ops->enc_finish(e);
        if (rc != 0) {
            lwm2m_enc_fail(e, rc);
        }
    }
    if (len != NULL) {
        *len = e->err == 0 ? e->len : 0;
    }
    return e->err;
}

int lwm2m_enc_fail(struct lwm2m_encoder *e, int err) {
    if (e->err == 0) {
        e->err = err;
    }
    return e->err;
}

int lwm2m_enc_put(struct lwm2m_encoder *e, const void *p, size_t n) {
    if (e->err != 0) {
        return e->err;
    }
    if (n > e->cap - e->len) {
        return lwm2m_enc_fail(e, LWM2M_ERR_NOSPACE);
    }
    if (n > 0) {
        memcpy(e->buf + e->len, p, n);
    }
    e->len += n;
    return 0;
}

int lwm2m_enc_check_path(struct lwm2m_encoder *e, const struct lwm2m_path *p) {
    if (p->len > LWM2M_PATH_MAX_DEPTH || !lwm2m_path_has_prefix(p, &e->req)) {
        return lwm2m_enc_fail(e, LWM2M_ERR_INVALID);
    }
    for (uint8_t i = 0; i < p->len; i++) {
        if (p->ids[i] > LWM2M_ID_MAX) {
            return lwm2m_enc_fail(e, LWM2M_ERR_INVALID);
        }
    }
    return 0;
}

/* ---- decoder API ---- */

int lwm2m_decode(const struct lwm2m_decode_cfg *cfg, const uint8_t *payload, size_t len,
                 lwm2m_record_fn fn, void *ctx) {
    const struct lwm2m_fmt_ops *ops = ops_for(cfg->ct);
    struct lwm2m_dec d = {.cfg = cfg, .fn = fn, .ctx = ctx};
    if (ops == NULL || ops->decode == NULL) {
        return LWM2M_ERR_UNSUPPORTED;
    }
    if (cfg->req.len > LWM2M_PATH_MAX_DEPTH || (payload == NULL && len != 0)) {
        return LWM2M_ERR_INVALID;
    }
    return ops->decode(&d, payload != NULL ? payload : (const uint8_t *)"", len);
}

struct collect {
    struct lwm2m_record *out;
    size_t max, n;
};

static int collect_record(void *ctx, const struct lwm2m_record *r) {
    struct collect *c = ctx;
    if (c->n == c->max) {
        return LWM2M_ERR_NOSPACE;
    }
    c->out[c->n++] = *r;
    return 0;
}

int lwm2m_decode_all(const struct lwm2m_decode_cfg *cfg, const uint8_t *payload, size_t len,
                     struct lwm2m_record *out, size_t max, size_t *count) {
    struct collect c = {.out = out, .max = max};
    int rc = lwm2m_decode(cfg, payload, len, collect_record, &c);
    *count = c.n;
    return rc;
}

struct collect_paths {
    struct lwm2m_path *out;
    uint16_t *devs;
    size_t max, n;
    const struct lwm2m_decode_cfg *user; /* decode_paths_gw: the caller's prefix_of */
    uint16_t dev;                        /* ... and its answer for the coming record */
};

static int collect_path(void *ctx, const struct lwm2m_record *r) {
    struct collect_paths *c = ctx;
    if (r->value.type != LWM2M_TYPE_NONE) {
        return LWM2M_ERR_FORMAT;
    }
    if (c->n == c->max) {
        return LWM2M_ERR_NOSPACE;
    }
    if (c->devs != NULL) {
        c->devs[c->n] = c->dev;
        c->dev = 0;
    }
    c->out[c->n++] = r->path;
    return 0;
}

static int collect_prefix(void *ctx, const char *s, size_t n) {
    struct collect_paths *c = ctx;
    int rc = c->user->prefix_of(c->user->prefix_ctx, s, n);
    if (rc >= 0xFFFF) {
        return LWM2M_ERR_FORMAT;
    }
    c->dev = rc >= 0 ? (uint16_t)(rc + 1) : 0;
    return rc;
}

int lwm2m_decode_paths_gw(const struct lwm2m_decode_cfg *cfg, const uint8_t *payload, size_t len,
                          struct lwm2m_path *out, uint16_t *devs, size_t max, size_t *count) {
    struct collect_paths c = {.out = out, .devs = devs, .max = max, .user = cfg};
    struct lwm2m_decode_cfg dc = {.ct = cfg->ct};
    int nct = lwm2m_ct_normalize(cfg->ct);
    if (nct != LWM2M_CT_SENML_JSON && nct != LWM2M_CT_SENML_CBOR) {
        return LWM2M_ERR_UNSUPPORTED;
    }
    if (cfg->prefix_of != NULL) {
        dc.prefix_of = collect_prefix;
        dc.prefix_ctx = &c;
    }
    int rc = lwm2m_decode(&dc, payload, len, collect_path, &c);
    *count = c.n;
    return rc;
}

int lwm2m_decode_paths(unsigned ct, const uint8_t *payload, size_t len, struct lwm2m_path *out,
                       size_t max, size_t *count) {
    struct lwm2m_decode_cfg cfg = {.ct = ct};
    struct collect_paths c = {.out = out, .max = max};
    int nct = lwm2m_ct_normalize(ct);
    if (nct != LWM2M_CT_SENML_JSON && nct != LWM2M_CT_SENML_CBOR) {
        return LWM2M_ERR_UNSUPPORTED;
    }
    int rc = lwm2m_decode(&cfg, payload, len, collect_path, &c);
    *count = c.n;
    return rc;
}

enum lwm2m_type lwm2m_dec_type(struct lwm2m_dec *d, const struct lwm2m_path *p) {
    if (d->cfg->type_of == NULL) {
        return LWM2M_TYPE_NONE;
    }
    return d->cfg->type_of(d->cfg->type_ctx, p);
}

int lwm2m_dec_emit(struct lwm2m_dec *d, struct lwm2m_record *r) {
    if (r->path.len > LWM2M_PATH_MAX_DEPTH || !lwm2m_path_has_prefix(&r->path, &d->cfg->req)) {
        return LWM2M_ERR_FORMAT;
    }
    for (uint8_t i = 0; i < r->path.len; i++) {
        if (r->path.ids[i] > LWM2M_ID_MAX) {
            return LWM2M_ERR_FORMAT;
        }
    }
    if (r->value.type != LWM2M_TYPE_NONE) {
        if (r->path.len < 3) {
            return LWM2M_ERR_FORMAT; /* a value belongs to a resource or resource instance */
        }
        enum lwm2m_type want = lwm2m_dec_type(d, &r->path);
        if (want != LWM2M_TYPE_NONE && want != r->value.type) {
            struct lwm2m_value v;
            if (lwm2m_value_convert(&r->value, want, &v) != 0) {
                return LWM2M_ERR_FORMAT;
            }
            r->value = v;
        }
    }
    return d->fn(d->ctx, r);
}

uint8_t *lwm2m_dec_scratch(struct lwm2m_dec *d, size_t n) {
    if (d->cfg->scratch == NULL || n > d->cfg->scratch_cap - d->scratch_used) {
        return NULL;
    }
    uint8_t *p = d->cfg->scratch + d->scratch_used;
    d->scratch_used += n;
    return p;
}

int lwm2m_dec_base64(struct lwm2m_dec *d, const char *s, size_t n, struct lwm2m_bytes *out) {
    size_t m = n;
    while (m > 0 && n - m < 2 && s[m - 1] == '=') {
        m--;
    }
    size_t need = m / 4 * 3 + (m % 4 == 3 ? 2 : m % 4 == 2 ? 1 : 0);
    uint8_t *dst = lwm2m_dec_scratch(d, need);
    size_t got = 0;
    if (dst == NULL && need > 0) {
        return LWM2M_ERR_NOSPACE;
    }
    int rc = lwm2m_b64_decode(s, n, dst, &got);
    if (rc != 0) {
        return rc;
    }
    *out = (struct lwm2m_bytes){dst, got};
    return 0;
}

/* ---- base64 ---- */

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char B64URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t lwm2m_b64_encoded_len(size_t n, bool url) {
    if (!url) {
        return (n + 2) / 3 * 4;
    }
    return n / 3 * 4 + (n % 3 == 0 ? 0 : n % 3 + 1);
}

size_t lwm2m_b64_encode(const uint8_t *in, size_t n, char *out, bool url) {
    const char *a = url ? B64URL : B64;
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = a[v >> 18];
        out[o++] = a[(v >> 12) & 63];
        out[o++] = a[(v >> 6) & 63];
        out[o++] = a[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);
        out[o++] = a[v >> 18];
        out[o++] = a[(v >> 12) & 63];
        if (i + 1 < n) {
            out[o++] = a[(v >> 6) & 63];
        } else if (!url) {
            out[o++] = '=';
        }
        if (!url) {
            out[o++] = '=';
        }
    }
    return o;
}

static int b64_digit(char c) {
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '+' || c == '-') {
        return 62;
    }
    if (c == '/' || c == '_') {
        return 63;
    }
    return -1;
}

int lwm2m_b64_decode(const char *in, size_t n, uint8_t *out, size_t *outlen) {
    size_t pad = 0, o = 0;
    uint32_t acc = 0;
    unsigned bits = 0;
    while (pad < 2 && n > 0 && in[n - 1] == '=') {
        n--, pad++;
    }
    if ((pad > 0 && (n + pad) % 4 != 0) || n % 4 == 1) {
        return LWM2M_ERR_FORMAT;
    }
    for (size_t i = 0; i < n; i++) {
        int d = b64_digit(in[i]);
        if (d < 0) {
            return LWM2M_ERR_FORMAT;
        }
        acc = (acc << 6) | (uint32_t)d;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1u;
        }
    }
    if (acc != 0) {
        return LWM2M_ERR_FORMAT; /* non-canonical trailing bits */
    }
    *outlen = o;
    return 0;
}

/* ---- SenML names ---- */

size_t lwm2m_path_tail(const struct lwm2m_path *p, uint8_t from, char *out) {
    size_t len = 0;
    for (uint8_t i = from; i < p->len; i++) {
        char digits[6];
        size_t nd = 0;
        unsigned v = p->ids[i];
        do {
            digits[nd++] = (char)('0' + v % 10u);
            v /= 10u;
        } while (v != 0);
        if (i > from) {
            out[len++] = '/';
        }
        while (nd > 0) {
            out[len++] = digits[--nd];
        }
    }
    out[len] = '\0';
    return len;
}

int lwm2m_senml_path(const char *bn, size_t bn_len, const char *n, size_t n_len,
                     struct lwm2m_path *out) {
    char name[LWM2M_SENML_NAME_MAX];
    if (bn_len + n_len >= sizeof(name)) {
        return LWM2M_ERR_FORMAT;
    }
    if (bn_len > 0) {
        memcpy(name, bn, bn_len);
    }
    if (n_len > 0) {
        memcpy(name + bn_len, n, n_len);
    }
    size_t len = bn_len + n_len;
    if (len > 1 && name[len - 1] == '/') {
        len--; /* a base name "/3/0/" used alone names the instance */
    }
    return lwm2m_path_parse(name, len, out);
}

void lwm2m_senml_names(const struct lwm2m_encoder *e, const struct lwm2m_path *p,
                       struct lwm2m_senml_names *out) {
    const char *prefix = e->prefix != NULL ? e->prefix : "";
    size_t pl = strlen(prefix);
    memset(out, 0, sizeof(*out));
    if (pl > 32) {
        pl = 0; /* longer than any prefix the engine makes: left out rather than cut */
    }
    if (e->req.len == 0) {
        memcpy(out->n, prefix, pl);
        int n = lwm2m_path_format(p, out->n + pl, sizeof(out->n) - pl);
        out->n_len = n > 0 ? (size_t)n + pl : 0;
        out->has_n = true;
        return;
    }
    if (e->count == 0) {
        memcpy(out->bn, prefix, pl);
        int n = lwm2m_path_format(&e->req, out->bn + pl, sizeof(out->bn) - 1 - pl);
        out->bn_len = n > 0 ? (size_t)n + pl : 0;
        if (p->len > e->req.len) {
            out->bn[out->bn_len++] = '/';
            out->bn[out->bn_len] = '\0';
        }
        out->has_bn = true;
    }
    out->n_len = lwm2m_path_tail(p, e->req.len, out->n);
    out->has_n = out->n_len > 0;
}

int lwm2m_senml_set_bn(struct lwm2m_senml_base *b, const char *s, size_t n) {
    if (n >= sizeof(b->bn)) {
        return LWM2M_ERR_FORMAT;
    }
    if (n > 0) {
        memcpy(b->bn, s, n);
    }
    b->bn_len = n;
    return 0;
}

/* bn + n with a leading device prefix ("/dev1/3303/0/5700") resolved by the cfg's prefix_of. */
static int senml_path_gw(struct lwm2m_dec *d, const struct lwm2m_senml_base *b,
                         const struct lwm2m_senml_rec *r, struct lwm2m_record *rec) {
    /* the callback learns the prefix; the record carries the rest of the name */
    char name[LWM2M_SENML_NAME_MAX];
    size_t len = b->bn_len + r->n_len, i = 1, end = 1;
    if (len >= sizeof(name)) {
        return LWM2M_ERR_FORMAT;
    }
    if (b->bn_len > 0) {
        memcpy(name, b->bn, b->bn_len);
    }
    if (r->n_len > 0) {
        memcpy(name + b->bn_len, r->n, r->n_len);
    }
    if (len < 2 || name[0] != '/' || (name[1] >= '0' && name[1] <= '9')) {
        return lwm2m_senml_path(name, len, NULL, 0, &rec->path);
    }
    while (end < len && name[end] != '/') {
        end++;
    }
    int dev = d->cfg->prefix_of(d->cfg->prefix_ctx, name + i, end - i);
    if (dev < 0) {
        return dev;
    }
    return lwm2m_senml_path(name + end, len - end, NULL, 0, &rec->path);
}

int lwm2m_senml_emit(struct lwm2m_dec *d, const struct lwm2m_senml_base *b,
                     struct lwm2m_senml_rec *r) {
    struct lwm2m_record rec = {.value = r->v};
    if (r->nvals > 1) {
        return LWM2M_ERR_FORMAT;
    }
    if (r->nvals == 0) {
        rec.value.type = LWM2M_TYPE_NONE;
    }
    int rc = d->cfg->prefix_of != NULL
                 ? senml_path_gw(d, b, r, &rec)
                 : lwm2m_senml_path(b->bn, b->bn_len, r->n, r->n_len, &rec.path);
    if (rc != 0) {
        return rc;
    }
    if (b->has_bt || r->has_t) {
        rec.has_time = true;
        rec.time = (b->has_bt ? b->bt : 0.0) + (r->has_t ? r->t : 0.0);
    }
    return lwm2m_dec_emit(d, &rec);
}

int lwm2m_dec_copy(struct lwm2m_dec *d, const void *p, size_t n, struct lwm2m_bytes *out) {
    uint8_t *dst = lwm2m_dec_scratch(d, n);
    if (dst == NULL && n > 0) {
        return LWM2M_ERR_NOSPACE;
    }
    if (n > 0) {
        memcpy(dst, p, n);
    }
    *out = (struct lwm2m_bytes){dst, n};
    return 0;
}
