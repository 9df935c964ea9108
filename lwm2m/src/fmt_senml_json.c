/* SPDX-License-Identifier: Apache-2.0 */
/* SenML JSON (application/senml+json, Content-Format 110; RFC 8428 with the LwM2M labels of
 * 1.1.1 TS Core §7.4.5: v, vs, vb, vd, vlo). Each record is built and printed by jansson as it
 * comes, so the output streams into the caller's buffer; parsing is jansson's too. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fmt_internal.h"

/* Adds the value of v under SenML's label for its type; NONE adds nothing (a path list).
 * *prec gets the digits a real needs. */
static int json_put_value(json_t *o, const struct lwm2m_value *v, int *prec) {
    json_t *j = NULL;
    const char *key = "v";
    switch (v->type) {
    case LWM2M_TYPE_NONE:
        return 0;
    case LWM2M_TYPE_INTEGER:
    case LWM2M_TYPE_TIME:
        j = json_integer(v->v.i);
        break;
    case LWM2M_TYPE_UNSIGNED:
        /* jansson integers are signed: the top half of the range goes out as a real */
        j = v->v.u <= (uint64_t)INT64_MAX ? json_integer((json_int_t)v->v.u)
                                          : json_real((double)v->v.u);
        break;
    case LWM2M_TYPE_FLOAT:
        j = json_real(v->v.f); /* NULL for NaN and infinities: JSON has no spelling for them */
        *prec = lwm2m_double_precision(v->v.f);
        break;
    case LWM2M_TYPE_BOOLEAN:
        key = "vb", j = json_boolean(v->v.b);
        break;
    case LWM2M_TYPE_STRING:
    case LWM2M_TYPE_CORELNK:
        key = "vs", j = json_stringn((const char *)v->v.bytes.ptr, v->v.bytes.len);
        break;
    case LWM2M_TYPE_OBJLNK: {
        char tmp[16];
        int n = lwm2m_fmt_scalar_text(v, tmp, sizeof(tmp));
        key = "vlo", j = json_stringn(tmp, (size_t)n);
        break;
    }
    case LWM2M_TYPE_OPAQUE: {
        /* RFC 8428 §5: vd is base64url without padding */
        char *b = malloc(lwm2m_b64_encoded_len(v->v.bytes.len, true) + 1);
        if (b == NULL) {
            return LWM2M_ERR_NOMEM;
        }
        size_t n = lwm2m_b64_encode(v->v.bytes.ptr, v->v.bytes.len, b, true);
        key = "vd", j = json_stringn(b, n);
        free(b);
        break;
    }
    default:
        return LWM2M_ERR_INVALID;
    }
    return json_object_set_new(o, key, j) == 0 ? 0 : LWM2M_ERR_INVALID;
}

/* A time goes out as an integer when it is one (the usual case), else as a real. */
static json_t *json_time(double t, int *prec) {
    if (t == floor(t) && fabs(t) < 9007199254740992.0) {
        return json_integer((json_int_t)t);
    }
    int p = lwm2m_double_precision(t);
    *prec = p > *prec ? p : *prec;
    return json_real(t);
}

/* Prints o compactly at the end of the buffer, after the separator sep. */
static int json_put_object(struct lwm2m_encoder *e, char sep, json_t *o, int prec) {
    size_t flags = JSON_COMPACT | (prec > 0 ? JSON_REAL_PRECISION(prec) : 0);
    int rc = lwm2m_enc_put(e, &sep, 1);
    if (rc != 0) {
        return rc;
    }
    size_t room = e->cap - e->len;
    size_t n = json_dumpb(o, (char *)e->buf + e->len, room, flags);
    if (n == 0) {
        return LWM2M_ERR_INVALID;
    }
    if (n > room) {
        return LWM2M_ERR_NOSPACE;
    }
    e->len += n;
    return 0;
}

static int senml_json_add(struct lwm2m_encoder *e, const struct lwm2m_record *r) {
    struct lwm2m_senml_names nm;
    int prec = 0, tprec = 0, rc = LWM2M_ERR_NOMEM;
    json_t *o = json_object();
    lwm2m_senml_names(e, &r->path, &nm);
    if (o == NULL) {
        return rc;
    }
    rc = 0;
    if (nm.has_bn) {
        rc |= json_object_set_new(o, "bn", json_stringn(nm.bn, nm.bn_len));
    }
    if (nm.has_n) {
        rc |= json_object_set_new(o, "n", json_stringn(nm.n, nm.n_len));
    }
    rc = rc != 0 ? LWM2M_ERR_NOMEM : json_put_value(o, &r->value, &prec);
    if (rc == 0 && r->has_time && json_object_set_new(o, "t", json_time(r->time, &tprec)) != 0) {
        rc = LWM2M_ERR_INVALID;
    }
    if (rc == 0) {
        rc = json_put_object(e, e->count == 0 ? '[' : ',', o, prec > tprec ? prec : tprec);
    }
    json_decref(o);
    return rc;
}

static int senml_json_finish(struct lwm2m_encoder *e) {
    return e->count == 0 ? lwm2m_enc_put(e, "[]", 2) : lwm2m_enc_put(e, "]", 1);
}

/* ---- decoding ---- */

static int json_number(const json_t *j, double *out) {
    if (!json_is_number(j)) {
        return LWM2M_ERR_FORMAT;
    }
    *out = json_number_value(j);
    return 0;
}

static int senml_json_field(struct lwm2m_dec *d, struct lwm2m_senml_base *b,
                            struct lwm2m_senml_rec *r, const char *key, json_t *j) {
    const char *s = json_string_value(j);
    size_t sl = s != NULL ? json_string_length(j) : 0;
    struct lwm2m_bytes bytes = {NULL, 0};
    int rc = 0;
    if (strcmp(key, "bn") == 0) {
        return s == NULL ? LWM2M_ERR_FORMAT : lwm2m_senml_set_bn(b, s, sl);
    } else if (strcmp(key, "bt") == 0) {
        b->has_bt = true;
        return json_number(j, &b->bt);
    } else if (strcmp(key, "n") == 0) {
        r->n = s, r->n_len = sl;
        return s == NULL ? LWM2M_ERR_FORMAT : 0;
    } else if (strcmp(key, "t") == 0) {
        r->has_t = true;
        return json_number(j, &r->t);
    } else if (strcmp(key, "v") == 0) {
        r->nvals++;
        if (json_is_integer(j)) {
            r->v = lwm2m_value_int(json_integer_value(j));
            return 0;
        }
        r->v.type = LWM2M_TYPE_FLOAT;
        return json_number(j, &r->v.v.f);
    } else if (strcmp(key, "vb") == 0) {
        r->nvals++;
        r->v = lwm2m_value_bool(json_is_true(j));
        return json_is_boolean(j) ? 0 : LWM2M_ERR_FORMAT;
    } else if (strcmp(key, "vs") == 0 || strcmp(key, "vlo") == 0) {
        r->nvals++;
        rc = s == NULL ? LWM2M_ERR_FORMAT : lwm2m_dec_copy(d, s, sl, &bytes);
        r->v = lwm2m_value_string((const char *)bytes.ptr, bytes.len);
        if (rc == 0 && key[1] == 'l') {
            rc = lwm2m_value_convert(&r->v, LWM2M_TYPE_OBJLNK, &r->v);
        }
        return rc;
    } else if (strcmp(key, "vd") == 0) {
        r->nvals++;
        rc = s == NULL ? LWM2M_ERR_FORMAT : lwm2m_dec_base64(d, s, sl, &bytes);
        r->v = lwm2m_value_opaque(bytes.ptr, bytes.len);
        return rc;
    }
    /* RFC 8428 §4.4: labels ending in '_' must be understood; other unknown ones are skipped */
    size_t kl = strlen(key);
    return kl > 0 && key[kl - 1] == '_' ? LWM2M_ERR_FORMAT : 0;
}

static int senml_json_decode(struct lwm2m_dec *d, const uint8_t *p, size_t n) {
    json_error_t jerr;
    json_t *root = json_loadb((const char *)p, n, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    struct lwm2m_senml_base base = {.bn_len = 0};
    int rc = json_is_array(root) ? 0 : LWM2M_ERR_FORMAT;
    for (size_t i = 0; rc == 0 && i < json_array_size(root); i++) {
        json_t *rec = json_array_get(root, i), *val;
        struct lwm2m_senml_rec r = {.n = ""};
        const char *key;
        if (!json_is_object(rec)) {
            rc = LWM2M_ERR_FORMAT;
            break;
        }
        json_object_foreach(rec, key, val) {
            rc = senml_json_field(d, &base, &r, key, val);
            if (rc != 0) {
                break;
            }
        }
        if (rc == 0) {
            rc = lwm2m_senml_emit(d, &base, &r);
        }
    }
    json_decref(root);
    return rc;
}

const struct lwm2m_fmt_ops lwm2m_fmt_senml_json = {
    .ct = LWM2M_CT_SENML_JSON,
    .enc_add = senml_json_add,
    .enc_finish = senml_json_finish,
    .decode = senml_json_decode,
};
