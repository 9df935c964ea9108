/* SPDX-License-Identifier: Apache-2.0 */
/* LwM2M JSON, the 1.0 format (application/vnd.oma.lwm2m+json, Content-Format 11543; 1543
 * before 1.0): {"bn":"/3/0/","bt":..,"e":[{"n":"0","sv":".."},{"n":"6/0","v":1},..]} with v
 * (numbers and time), bv, sv (strings; Opaque as base64 per 1.0.2 TS §6.4.4 Table 20) and ov
 * (objlnk "O:I"). Records are printed one by one with jansson; parsing is jansson's. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fmt_internal.h"

static int lj_header(struct lwm2m_encoder *e, bool deeper) {
    char bn[32];
    int n = lwm2m_path_format(&e->req, bn, sizeof(bn) - 1);
    if (n < 0) {
        return n;
    }
    if (deeper && e->req.len > 0) {
        bn[n++] = '/';
    }
    int rc = lwm2m_enc_put(e, "{\"bn\":\"", 7);
    if (rc == 0 && e->prefix != NULL) {
        rc = lwm2m_enc_put(e, e->prefix, strlen(e->prefix)); /* gateway mode: "/dev1" */
    }
    rc = rc != 0 ? rc : lwm2m_enc_put(e, bn, (size_t)n);
    return rc != 0 ? rc : lwm2m_enc_put(e, "\",\"e\":[", 7);
}

static int lj_value(json_t *o, const struct lwm2m_value *v, int *prec) {
    const char *key = "sv";
    json_t *j = NULL;
    char tmp[16];
    switch (v->type) {
    case LWM2M_TYPE_INTEGER:
    case LWM2M_TYPE_TIME:
        key = "v", j = json_integer(v->v.i);
        break;
    case LWM2M_TYPE_UNSIGNED:
        key = "v";
        j = v->v.u <= (uint64_t)INT64_MAX ? json_integer((json_int_t)v->v.u)
                                          : json_real((double)v->v.u);
        break;
    case LWM2M_TYPE_FLOAT:
        key = "v", j = json_real(v->v.f);
        *prec = lwm2m_double_precision(v->v.f);
        break;
    case LWM2M_TYPE_BOOLEAN:
        key = "bv", j = json_boolean(v->v.b);
        break;
    case LWM2M_TYPE_STRING:
    case LWM2M_TYPE_CORELNK:
        j = json_stringn((const char *)v->v.bytes.ptr, v->v.bytes.len);
        break;
    case LWM2M_TYPE_OBJLNK:
        key = "ov", j = json_stringn(tmp, (size_t)lwm2m_fmt_scalar_text(v, tmp, sizeof(tmp)));
        break;
    case LWM2M_TYPE_OPAQUE: {
        char *b = malloc(lwm2m_b64_encoded_len(v->v.bytes.len, false) + 1);
        if (b == NULL) {
            return LWM2M_ERR_NOMEM;
        }
        j = json_stringn(b, lwm2m_b64_encode(v->v.bytes.ptr, v->v.bytes.len, b, false));
        free(b);
        break;
    }
    default:
        return LWM2M_ERR_INVALID;
    }
    return json_object_set_new(o, key, j) == 0 ? 0 : LWM2M_ERR_INVALID;
}

static int lj_add(struct lwm2m_encoder *e, const struct lwm2m_record *r) {
    char n[32];
    int prec = 0, rc = 0;
    if (e->count == 0) {
        rc = lj_header(e, r->path.len > e->req.len);
    }
    rc = rc != 0 ? rc : lwm2m_enc_put(e, e->count == 0 ? "" : ",", e->count == 0 ? 0 : 1);
    json_t *o = json_object();
    if (rc != 0 || o == NULL) {
        json_decref(o);
        return rc != 0 ? rc : LWM2M_ERR_NOMEM;
    }
    size_t nl = lwm2m_path_tail(&r->path, e->req.len, n);
    if (nl > 0 && json_object_set_new(o, "n", json_stringn(n, nl)) != 0) {
        rc = LWM2M_ERR_NOMEM;
    }
    rc = rc != 0 ? rc : lj_value(o, &r->value, &prec);
    if (rc == 0 && r->has_time) {
        json_t *t = r->time == floor(r->time) && fabs(r->time) < 9007199254740992.0
                        ? json_integer((json_int_t)r->time)
                        : json_real(r->time);
        int tp = lwm2m_double_precision(r->time);
        prec = json_is_real(t) && tp > prec ? tp : prec;
        rc = json_object_set_new(o, "t", t) == 0 ? 0 : LWM2M_ERR_INVALID;
    }
    if (rc == 0) {
        size_t room = e->cap - e->len;
        size_t flags = JSON_COMPACT | (prec > 0 ? JSON_REAL_PRECISION(prec) : 0);
        size_t w = json_dumpb(o, (char *)e->buf + e->len, room, flags);
        rc = w == 0 ? LWM2M_ERR_INVALID : w > room ? LWM2M_ERR_NOSPACE : 0;
        e->len += rc == 0 ? w : 0;
    }
    json_decref(o);
    return rc;
}

static int lj_finish(struct lwm2m_encoder *e) {
    int rc = e->count == 0 ? lj_header(e, e->req.len < 3) : 0;
    return rc != 0 ? rc : lwm2m_enc_put(e, "]}", 2);
}

/* ---- decoding ---- */

/* A value field of one element; "sv" of an Opaque resource is base64. */
static int lj_field(struct lwm2m_dec *d, const struct lwm2m_senml_base *b,
                    struct lwm2m_senml_rec *r, const char *key, json_t *j) {
    const char *s = json_string_value(j);
    size_t sl = s != NULL ? json_string_length(j) : 0;
    struct lwm2m_bytes bytes = {NULL, 0};
    struct lwm2m_path p;
    int rc;
    if (strcmp(key, "v") == 0) {
        r->nvals++;
        r->v = json_is_integer(j) ? lwm2m_value_int(json_integer_value(j))
                                  : lwm2m_value_float(json_number_value(j));
        return json_is_number(j) ? 0 : LWM2M_ERR_FORMAT;
    }
    if (strcmp(key, "bv") == 0) {
        r->nvals++;
        r->v = lwm2m_value_bool(json_is_true(j));
        return json_is_boolean(j) ? 0 : LWM2M_ERR_FORMAT;
    }
    if (strcmp(key, "sv") != 0 && strcmp(key, "ov") != 0) {
        return 0; /* unknown members are ignored */
    }
    r->nvals++;
    if (s == NULL) {
        return LWM2M_ERR_FORMAT;
    }
    if (key[0] == 'o') {
        r->v = lwm2m_value_string(s, sl);
        return lwm2m_value_convert(&r->v, LWM2M_TYPE_OBJLNK, &r->v);
    }
    rc = lwm2m_senml_path(b->bn, b->bn_len, r->n, r->n_len, &p);
    if (rc == 0 && p.len >= 3 && lwm2m_dec_type(d, &p) == LWM2M_TYPE_OPAQUE) {
        rc = lwm2m_dec_base64(d, s, sl, &bytes);
        r->v = lwm2m_value_opaque(bytes.ptr, bytes.len);
        return rc;
    }
    rc = lwm2m_dec_copy(d, s, sl, &bytes);
    r->v = lwm2m_value_string((const char *)bytes.ptr, bytes.len);
    return rc;
}

static int lj_element(struct lwm2m_dec *d, const struct lwm2m_senml_base *b, json_t *el) {
    struct lwm2m_senml_rec r = {.n = ""};
    json_t *n = json_object_get(el, "n"), *t = json_object_get(el, "t"), *val;
    const char *key;
    if (!json_is_object(el) || (n != NULL && !json_is_string(n)) ||
        (t != NULL && !json_is_number(t))) {
        return LWM2M_ERR_FORMAT;
    }
    if (n != NULL) {
        r.n = json_string_value(n), r.n_len = json_string_length(n);
    }
    if (t != NULL) {
        r.has_t = true, r.t = json_number_value(t);
    }
    json_object_foreach(el, key, val) {
        int rc = lj_field(d, b, &r, key, val);
        if (rc != 0) {
            return rc;
        }
    }
    return lwm2m_senml_emit(d, b, &r);
}

static int lj_decode(struct lwm2m_dec *d, const uint8_t *p, size_t n) {
    json_error_t jerr;
    json_t *root = json_loadb((const char *)p, n, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    json_t *bn = json_object_get(root, "bn"), *bt = json_object_get(root, "bt");
    json_t *e = json_object_get(root, "e");
    struct lwm2m_senml_base base = {.bn_len = 0};
    int rc = 0;
    if (!json_is_object(root) || !json_is_array(e) || (bn != NULL && !json_is_string(bn)) ||
        (bt != NULL && !json_is_number(bt))) {
        rc = LWM2M_ERR_FORMAT;
    } else if (bn != NULL) {
        rc = lwm2m_senml_set_bn(&base, json_string_value(bn), json_string_length(bn));
    }
    if (bt != NULL) {
        base.has_bt = true, base.bt = json_number_value(bt);
    }
    for (size_t i = 0; rc == 0 && i < json_array_size(e); i++) {
        rc = lj_element(d, &base, json_array_get(e, i));
    }
    json_decref(root);
    return rc;
}

const struct lwm2m_fmt_ops lwm2m_fmt_lwm2m_json = {
    .ct = LWM2M_CT_LWM2M_JSON,
    .enc_add = lj_add,
    .enc_finish = lj_finish,
    .decode = lj_decode,
};
