/* SPDX-License-Identifier: Apache-2.0 */
/* LwM2M CBOR (application/vnd.oma.lwm2m+cbor, Content-Format 11544, LwM2M 1.2 TS Core §7.4.7):
 * nested maps keyed by path ids from the root, where a key is one id or an array of ids, e.g.
 * {[3,0]: {0: "Open Mobile Alliance", 6: {0: 1, 1: 5}}}. We write the request path as one array
 * key and one map level per id below it, with indefinite-length maps so records stream in;
 * values as in CBOR (60): Time as tag 1, Objlnk as "O:I". */
#include "fmt_internal.h"

/* Key segments of a path: [0, req.len) as one key when req.len > 0, then one per id. */
static uint8_t seg_count(const struct lwm2m_encoder *e, const struct lwm2m_path *p) {
    return e->req.len == 0 ? p->len : (uint8_t)(1 + p->len - e->req.len);
}

static void seg_range(const struct lwm2m_encoder *e, uint8_t seg, uint8_t *from, uint8_t *to) {
    if (e->req.len == 0) {
        *from = seg, *to = (uint8_t)(seg + 1);
    } else if (seg == 0) {
        *from = 0, *to = e->req.len;
    } else {
        *from = (uint8_t)(e->req.len + seg - 1), *to = (uint8_t)(e->req.len + seg);
    }
}

static int put_key(struct lwm2m_encoder *e, const struct lwm2m_path *p, uint8_t seg) {
    uint8_t from, to;
    seg_range(e, seg, &from, &to);
    int rc = to - from == 1 ? 0 : lwm2m_cbor_put_head(e, (uint8_t)(0x80 | (to - from)));
    for (uint8_t i = from; rc == 0 && i < to; i++) {
        rc = lwm2m_cbor_put_uint(e, p->ids[i]);
    }
    return rc;
}

static int lc_add(struct lwm2m_encoder *e, const struct lwm2m_record *r) {
    const struct lwm2m_path *p = &r->path;
    uint8_t segs = seg_count(e, p), shared = 0;
    int rc = 0;
    if (p->len < 1 || r->value.type == LWM2M_TYPE_NONE) {
        return LWM2M_ERR_INVALID;
    }
    if (e->count == 0) {
        rc = lwm2m_cbor_put_head(e, 0xBF);
    } else {
        /* sorted, and never below a path that already holds a value: keys stay unique */
        if (lwm2m_path_cmp(p, &e->prev) <= 0 || lwm2m_path_has_prefix(p, &e->prev)) {
            return LWM2M_ERR_INVALID;
        }
        uint8_t prev_maps = (uint8_t)(seg_count(e, &e->prev) - 1);
        while (shared < prev_maps && shared < segs - 1) {
            uint8_t from, to;
            bool same = true;
            seg_range(e, shared, &from, &to);
            for (uint8_t i = from; i < to; i++) {
                same = same && p->ids[i] == e->prev.ids[i];
            }
            if (!same) {
                break;
            }
            shared++;
        }
        for (uint8_t k = shared; rc == 0 && k < prev_maps; k++) {
            rc = lwm2m_cbor_put_head(e, 0xFF);
        }
    }
    for (uint8_t s = shared; rc == 0 && s + 1 < segs; s++) {
        rc = put_key(e, p, s);
        rc = rc != 0 ? rc : lwm2m_cbor_put_head(e, 0xBF);
    }
    rc = rc != 0 ? rc : put_key(e, p, (uint8_t)(segs - 1));
    return rc != 0 ? rc : lwm2m_cbor_put_value(e, &r->value);
}

static int lc_finish(struct lwm2m_encoder *e) {
    int rc = e->count == 0 ? lwm2m_cbor_put_head(e, 0xBF) : 0;
    uint8_t maps = e->count == 0 ? 0 : (uint8_t)(seg_count(e, &e->prev) - 1);
    for (uint8_t k = 0; rc == 0 && k <= maps; k++) {
        rc = lwm2m_cbor_put_head(e, 0xFF);
    }
    return rc;
}

/* ---- decoding ---- */

/* A key: one id, or an array of ids, appended to at. */
static int lc_key(struct lwm2m_cbor_rd *rd, const struct lwm2m_cbor_tok *k, struct lwm2m_path *at) {
    if (k->kind == LWM2M_CBOR_UINT) {
        if (at->len == LWM2M_PATH_MAX_DEPTH || k->u > LWM2M_ID_MAX) {
            return LWM2M_ERR_FORMAT;
        }
        at->ids[at->len++] = (uint16_t)k->u;
        return 0;
    }
    if (k->kind != LWM2M_CBOR_ARRAY || k->indef || k->u == 0 ||
        k->u > (uint64_t)(LWM2M_PATH_MAX_DEPTH - at->len)) {
        return LWM2M_ERR_FORMAT;
    }
    for (uint64_t i = 0; i < k->u; i++) {
        struct lwm2m_cbor_tok id;
        if (lwm2m_cbor_next(rd, &id) != 0 || id.kind != LWM2M_CBOR_UINT || id.u > LWM2M_ID_MAX) {
            return LWM2M_ERR_FORMAT;
        }
        at->ids[at->len++] = (uint16_t)id.u;
    }
    return 0;
}

/* One map at path at. Each nested map adds at least one id, so recursion stops at depth 4. */
static int lc_map(struct lwm2m_dec *d, struct lwm2m_cbor_rd *rd, const struct lwm2m_cbor_tok *map,
                  struct lwm2m_path at) {
    for (uint64_t i = 0; map->indef || i < map->u; i++) {
        struct lwm2m_cbor_tok k, v;
        struct lwm2m_record r = {.path = at};
        int rc = lwm2m_cbor_next(rd, &k);
        if (rc == 0 && map->indef && k.kind == LWM2M_CBOR_BREAK) {
            break;
        }
        rc = rc != 0 ? rc : lc_key(rd, &k, &r.path);
        rc = rc != 0 ? rc : lwm2m_cbor_next(rd, &v);
        if (rc != 0) {
            return LWM2M_ERR_FORMAT;
        }
        if (v.kind == LWM2M_CBOR_MAP) {
            rc = lc_map(d, rd, &v, r.path);
        } else if (v.kind == LWM2M_CBOR_NULL) {
            rc = lwm2m_dec_emit(d, &r); /* null: a path without a value */
        } else {
            rc = lwm2m_cbor_value(rd, &v, &r.value);
            rc = rc != 0 ? rc : lwm2m_dec_emit(d, &r);
        }
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

static int lc_decode(struct lwm2m_dec *d, const uint8_t *p, size_t n) {
    struct lwm2m_cbor_rd rd = {.p = p, .n = n};
    struct lwm2m_cbor_tok map;
    struct lwm2m_path root = {.len = 0};
    if (lwm2m_cbor_next(&rd, &map) != 0 || map.kind != LWM2M_CBOR_MAP) {
        return LWM2M_ERR_FORMAT;
    }
    int rc = lc_map(d, &rd, &map, root);
    return rc != 0 ? rc : rd.off == n ? 0 : LWM2M_ERR_FORMAT;
}

const struct lwm2m_fmt_ops lwm2m_fmt_lwm2m_cbor = {
    .ct = LWM2M_CT_LWM2M_CBOR,
    .enc_add = lc_add,
    .enc_finish = lc_finish,
    .decode = lc_decode,
};
