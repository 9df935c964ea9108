/* SPDX-License-Identifier: Apache-2.0 */
/* SenML CBOR (application/senml+cbor, Content-Format 112; RFC 8428 §6 integer labels, plus the
 * LwM2M text label "vlo" of 1.1.1 TS Core §7.4.6). Written with libcbor's encoders straight
 * into the caller's buffer (a definite-length array whose head is fixed up at the end, as in
 * the specification's example); read with the zero-copy token reader of fmt_cbor.c. */
#include <cbor.h>
#include <math.h>
#include <string.h>

#include "fmt_internal.h"

enum {
    SENML_BVER = -1,
    SENML_BN = -2,
    SENML_BT = -3,
    SENML_N = 0,
    SENML_V = 2,
    SENML_VS = 3,
    SENML_VB = 4,
    SENML_T = 6,
    SENML_VD = 8,
};

static int put_label(struct lwm2m_encoder *e, int label) {
    return lwm2m_cbor_put_int(e, label);
}

static int put_time(struct lwm2m_encoder *e, double t) {
    if (t == floor(t) && fabs(t) < 9007199254740992.0) {
        return lwm2m_cbor_put_int(e, (int64_t)t);
    }
    return lwm2m_cbor_put_float(e, t);
}

static int put_senml_value(struct lwm2m_encoder *e, const struct lwm2m_value *v) {
    int rc;
    switch (v->type) {
    case LWM2M_TYPE_INTEGER:
    case LWM2M_TYPE_UNSIGNED:
    case LWM2M_TYPE_FLOAT:
        rc = put_label(e, SENML_V);
        break;
    case LWM2M_TYPE_TIME:
        rc = put_label(e, SENML_V); /* SenML has no time type: a plain number */
        return rc != 0 ? rc : lwm2m_cbor_put_int(e, v->v.i);
    case LWM2M_TYPE_BOOLEAN:
        rc = put_label(e, SENML_VB);
        break;
    case LWM2M_TYPE_STRING:
    case LWM2M_TYPE_CORELNK:
        rc = put_label(e, SENML_VS);
        break;
    case LWM2M_TYPE_OPAQUE:
        rc = put_label(e, SENML_VD);
        break;
    case LWM2M_TYPE_OBJLNK:
        rc = lwm2m_cbor_put_text(e, "vlo", 3);
        break;
    default:
        return LWM2M_ERR_INVALID;
    }
    return rc != 0 ? rc : lwm2m_cbor_put_value(e, v);
}

static int senml_cbor_add(struct lwm2m_encoder *e, const struct lwm2m_record *r) {
    struct lwm2m_senml_names nm;
    int rc = 0;
    lwm2m_senml_names(e, &r->path, &nm);
    if (e->count == 0) {
        rc = lwm2m_cbor_put_head(e, 0x80); /* array head placeholder, fixed in finish */
    }
    unsigned fields = (unsigned)nm.has_bn + (unsigned)nm.has_n + (unsigned)r->has_time +
                      (r->value.type != LWM2M_TYPE_NONE ? 1u : 0u);
    if (rc == 0) {
        rc = lwm2m_cbor_put_head(e, (uint8_t)(0xA0 | fields));
    }
    if (rc == 0 && nm.has_bn) {
        rc = put_label(e, SENML_BN);
        rc = rc != 0 ? rc : lwm2m_cbor_put_text(e, nm.bn, nm.bn_len);
    }
    if (rc == 0 && nm.has_n) {
        rc = put_label(e, SENML_N);
        rc = rc != 0 ? rc : lwm2m_cbor_put_text(e, nm.n, nm.n_len);
    }
    if (rc == 0 && r->value.type != LWM2M_TYPE_NONE) {
        rc = put_senml_value(e, &r->value);
    }
    if (rc == 0 && r->has_time) {
        rc = put_label(e, SENML_T);
        rc = rc != 0 ? rc : put_time(e, r->time);
    }
    return rc;
}

static int senml_cbor_finish(struct lwm2m_encoder *e) {
    uint8_t head[9];
    if (e->count == 0) {
        return lwm2m_cbor_put_head(e, 0x80);
    }
    size_t hn = cbor_encode_array_start(e->count, head, sizeof(head));
    if (hn - 1 > e->cap - e->len) {
        return LWM2M_ERR_NOSPACE;
    }
    memmove(e->buf + hn, e->buf + 1, e->len - 1);
    memcpy(e->buf, head, hn);
    e->len += hn - 1;
    return 0;
}

/* ---- decoding ---- */

static int read_number(struct lwm2m_cbor_rd *rd, double *out) {
    struct lwm2m_cbor_tok t;
    struct lwm2m_value v, f;
    if (lwm2m_cbor_next(rd, &t) != 0 || lwm2m_cbor_value(rd, &t, &v) != 0 ||
        lwm2m_value_convert(&v, LWM2M_TYPE_FLOAT, &f) != 0) {
        return LWM2M_ERR_FORMAT;
    }
    *out = f.v.f;
    return 0;
}

/* Reads the value of one label; value fields must carry the CBOR type their label implies. */
static int senml_cbor_field(struct lwm2m_cbor_rd *rd, struct lwm2m_senml_base *b,
                            struct lwm2m_senml_rec *r, int64_t label) {
    struct lwm2m_cbor_tok t;
    static const enum lwm2m_type want[9] = {[SENML_V] = LWM2M_TYPE_FLOAT,
                                            [SENML_VS] = LWM2M_TYPE_STRING,
                                            [SENML_VB] = LWM2M_TYPE_BOOLEAN,
                                            [SENML_VD] = LWM2M_TYPE_OPAQUE};
    switch (label) {
    case SENML_BT:
        b->has_bt = true;
        return read_number(rd, &b->bt);
    case SENML_T:
        r->has_t = true;
        return read_number(rd, &r->t);
    default:
        break;
    }
    if (lwm2m_cbor_next(rd, &t) != 0) {
        return LWM2M_ERR_FORMAT;
    }
    if (label == SENML_BN || label == SENML_N) {
        if (t.kind != LWM2M_CBOR_TEXT) {
            return LWM2M_ERR_FORMAT;
        }
        if (label == SENML_BN) {
            return lwm2m_senml_set_bn(b, (const char *)t.ptr, t.len);
        }
        r->n = (const char *)t.ptr, r->n_len = t.len;
        return 0;
    }
    struct lwm2m_value v;
    if (lwm2m_cbor_value(rd, &t, &v) != 0) {
        return LWM2M_ERR_FORMAT; /* also rejects maps/arrays under unknown labels */
    }
    if (label < 0 || label > SENML_VD || want[label] == LWM2M_TYPE_NONE) {
        return 0; /* u, s, ut, bver, bu, bv...: not LwM2M's business */
    }
    bool ok = want[label] == LWM2M_TYPE_FLOAT
                  ? (v.type == LWM2M_TYPE_INTEGER || v.type == LWM2M_TYPE_UNSIGNED ||
                     v.type == LWM2M_TYPE_FLOAT)
                  : v.type == want[label];
    r->nvals++;
    r->v = v;
    return ok ? 0 : LWM2M_ERR_FORMAT;
}

/* "vlo" is the one text label LwM2M adds; other text labels are skipped unless they end in
 * '_' (RFC 8428 §4.4 must-understand). */
static int senml_cbor_text_label(struct lwm2m_cbor_rd *rd, struct lwm2m_senml_rec *r,
                                 const struct lwm2m_cbor_tok *key) {
    struct lwm2m_cbor_tok t;
    struct lwm2m_value v;
    if (lwm2m_cbor_next(rd, &t) != 0 || lwm2m_cbor_value(rd, &t, &v) != 0) {
        return LWM2M_ERR_FORMAT;
    }
    if (key->len == 3 && memcmp(key->ptr, "vlo", 3) == 0) {
        r->nvals++;
        return lwm2m_value_convert(&v, LWM2M_TYPE_OBJLNK, &r->v);
    }
    return key->len > 0 && key->ptr[key->len - 1] == '_' ? LWM2M_ERR_FORMAT : 0;
}

static int senml_cbor_record(struct lwm2m_dec *d, struct lwm2m_cbor_rd *rd,
                             struct lwm2m_senml_base *b, const struct lwm2m_cbor_tok *map) {
    struct lwm2m_senml_rec r = {.n = ""};
    for (uint64_t i = 0; map->indef || i < map->u; i++) {
        struct lwm2m_cbor_tok key;
        int rc = lwm2m_cbor_next(rd, &key);
        if (rc == 0 && map->indef && key.kind == LWM2M_CBOR_BREAK) {
            break;
        }
        if (rc != 0) {
            return rc;
        }
        if (key.kind == LWM2M_CBOR_UINT || key.kind == LWM2M_CBOR_NEGINT) {
            if (key.u > 1000) {
                return LWM2M_ERR_FORMAT; /* no SenML label is that far out */
            }
            int64_t label = key.kind == LWM2M_CBOR_UINT ? (int64_t)key.u : -1 - (int64_t)key.u;
            rc = senml_cbor_field(rd, b, &r, label);
        } else if (key.kind == LWM2M_CBOR_TEXT) {
            rc = senml_cbor_text_label(rd, &r, &key);
        } else {
            rc = LWM2M_ERR_FORMAT;
        }
        if (rc != 0) {
            return rc;
        }
    }
    return lwm2m_senml_emit(d, b, &r);
}

static int senml_cbor_decode(struct lwm2m_dec *d, const uint8_t *p, size_t n) {
    struct lwm2m_cbor_rd rd = {.p = p, .n = n};
    struct lwm2m_cbor_tok arr;
    struct lwm2m_senml_base base = {.bn_len = 0};
    if (lwm2m_cbor_next(&rd, &arr) != 0 || arr.kind != LWM2M_CBOR_ARRAY) {
        return LWM2M_ERR_FORMAT;
    }
    for (uint64_t i = 0; arr.indef || i < arr.u; i++) {
        struct lwm2m_cbor_tok map;
        int rc = lwm2m_cbor_next(&rd, &map);
        if (rc == 0 && arr.indef && map.kind == LWM2M_CBOR_BREAK) {
            break;
        }
        if (rc != 0 || map.kind != LWM2M_CBOR_MAP) {
            return LWM2M_ERR_FORMAT;
        }
        rc = senml_cbor_record(d, &rd, &base, &map);
        if (rc != 0) {
            return rc;
        }
    }
    return rd.off == n ? 0 : LWM2M_ERR_FORMAT;
}

const struct lwm2m_fmt_ops lwm2m_fmt_senml_cbor = {
    .ct = LWM2M_CT_SENML_CBOR,
    .enc_add = senml_cbor_add,
    .enc_finish = senml_cbor_finish,
    .decode = senml_cbor_decode,
};
