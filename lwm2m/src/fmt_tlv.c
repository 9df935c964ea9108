/* SPDX-License-Identifier: Apache-2.0 */
/* OMA TLV (application/vnd.oma.lwm2m+tlv, Content-Format 11542; 1542 before 1.0), as in
 * LwM2M 1.0.2 TS §6.4.3 / 1.1.1 TS Core §7.4.8: a type byte (kind, 8/16-bit identifier, 0/8/16/24
 * bit length or a 3-bit inline length), object instances holding resources, multiple resources
 * holding resource instances. Hand-written: no library covers it. Containers are written after
 * their content, then the content is moved up to make room for the now known header. */
#include <math.h>
#include <string.h>

#include "fmt_internal.h"

enum {
    TLV_INSTANCE = 0x00,     /* level 1: object instance, holds resources */
    TLV_RES_INSTANCE = 0x40, /* level 3: resource instance with value */
    TLV_MULTIPLE = 0x80,     /* level 2: multiple resource, holds resource instances */
    TLV_RESOURCE = 0xC0,     /* level 2: single resource with value */
};

#define TLV_MAX_LEN 0xFFFFFFu /* 24-bit length field */

static size_t tlv_header(uint8_t h[6], uint8_t kind, uint16_t id, size_t len) {
    size_t n = 1;
    h[0] = kind;
    if (id > 0xFF) {
        h[0] |= 0x20;
        h[n++] = (uint8_t)(id >> 8);
    }
    h[n++] = (uint8_t)id;
    if (len < 8) {
        h[0] |= (uint8_t)len;
        return n;
    }
    unsigned bytes = len <= 0xFF ? 1 : len <= 0xFFFF ? 2 : 3;
    h[0] |= (uint8_t)(bytes << 3);
    while (bytes-- > 0) {
        h[n++] = (uint8_t)(len >> (8 * bytes));
    }
    return n;
}

static size_t put_be(uint8_t *out, uint64_t v, size_t n) {
    for (size_t i = 0; i < n; i++) {
        out[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    }
    return n;
}

/* Integers in the fewest of 1, 2, 4 or 8 bytes; floats in 4 bytes when exact. */
static int value_bytes(const struct lwm2m_value *v, uint8_t tmp[8], const uint8_t **p, size_t *n) {
    *p = tmp;
    switch (v->type) {
    case LWM2M_TYPE_INTEGER:
    case LWM2M_TYPE_TIME: {
        int64_t i = v->v.i;
        size_t w = (i >= INT8_MIN && i <= INT8_MAX)     ? 1
                   : (i >= INT16_MIN && i <= INT16_MAX) ? 2
                   : (i >= INT32_MIN && i <= INT32_MAX) ? 4
                                                        : 8;
        *n = put_be(tmp, (uint64_t)i, w);
        return 0;
    }
    case LWM2M_TYPE_UNSIGNED: {
        uint64_t u = v->v.u;
        size_t w = u <= 0xFF ? 1 : u <= 0xFFFF ? 2 : u <= 0xFFFFFFFFu ? 4 : 8;
        *n = put_be(tmp, u, w);
        return 0;
    }
    case LWM2M_TYPE_FLOAT: {
        double f = v->v.f;
        if (isnan(f) || (fabs(f) <= 3.4028234663852886e38 && (double)(float)f == f)) {
            float s = (float)f;
            uint32_t bits;
            memcpy(&bits, &s, 4);
            *n = put_be(tmp, bits, 4);
        } else {
            uint64_t bits;
            memcpy(&bits, &f, 8);
            *n = put_be(tmp, bits, 8);
        }
        return 0;
    }
    case LWM2M_TYPE_BOOLEAN:
        tmp[0] = v->v.b ? 1 : 0, *n = 1;
        return 0;
    case LWM2M_TYPE_OBJLNK:
        *n = put_be(tmp, (uint32_t)v->v.lnk.obj << 16 | v->v.lnk.inst, 4);
        return 0;
    case LWM2M_TYPE_STRING:
    case LWM2M_TYPE_OPAQUE:
    case LWM2M_TYPE_CORELNK:
        *p = v->v.bytes.ptr;
        *n = v->v.bytes.len;
        return *n > TLV_MAX_LEN ? LWM2M_ERR_INVALID : 0;
    default:
        return LWM2M_ERR_INVALID;
    }
}

/* Writes the header of the innermost open container in front of its content. */
static int close_container(struct lwm2m_encoder *e) {
    uint8_t lvl = e->open_lvl[e->nopen - 1];
    size_t start = e->open_at[e->nopen - 1];
    size_t content = e->len - start;
    uint8_t h[6];
    if (content > TLV_MAX_LEN) {
        return LWM2M_ERR_INVALID;
    }
    size_t hn = tlv_header(h, lvl == 1 ? TLV_INSTANCE : TLV_MULTIPLE, e->prev.ids[lvl], content);
    if (hn > e->cap - e->len) {
        return LWM2M_ERR_NOSPACE;
    }
    memmove(e->buf + start + hn, e->buf + start, content);
    memcpy(e->buf + start, h, hn);
    e->len += hn;
    e->nopen--;
    return 0;
}

/* Containers around path p: the instance when the request named an object, the multiple
 * resource when p is a resource instance below the request. */
static bool needs_container(const struct lwm2m_encoder *e, const struct lwm2m_path *p,
                            uint8_t lvl) {
    return lvl == 1 ? e->req.len <= 1 : (p->len == 4 && e->req.len <= 3);
}

static int open_containers(struct lwm2m_encoder *e, const struct lwm2m_path *p) {
    /* Close what the previous record opened and this one does not share. */
    while (e->nopen > 0) {
        uint8_t lvl = e->open_lvl[e->nopen - 1];
        bool same = needs_container(e, p, lvl) && p->len > lvl;
        for (uint8_t i = 0; same && i <= lvl; i++) {
            same = p->ids[i] == e->prev.ids[i];
        }
        if (same) {
            break;
        }
        int rc = close_container(e);
        if (rc != 0) {
            return rc;
        }
    }
    for (uint8_t lvl = 1; lvl <= 2; lvl++) {
        bool is_open = false;
        for (uint8_t k = 0; k < e->nopen; k++) {
            is_open = is_open || e->open_lvl[k] == lvl;
        }
        if (!is_open && needs_container(e, p, lvl)) {
            e->open_lvl[e->nopen] = lvl;
            e->open_at[e->nopen++] = e->len;
        }
    }
    return 0;
}

static int tlv_add(struct lwm2m_encoder *e, const struct lwm2m_record *r) {
    const struct lwm2m_path *p = &r->path;
    uint8_t tmp[8], h[6];
    const uint8_t *vp;
    size_t vn;
    if (e->req.len == 0 || p->len < 3 || (e->count > 0 && lwm2m_path_cmp(p, &e->prev) <= 0)) {
        return LWM2M_ERR_INVALID; /* TLV cannot name objects; containers need sorted input */
    }
    int rc = value_bytes(&r->value, tmp, &vp, &vn);
    if (rc == 0) {
        rc = open_containers(e, p);
    }
    if (rc != 0) {
        return rc;
    }
    size_t hn = p->len == 4 ? tlv_header(h, TLV_RES_INSTANCE, p->ids[3], vn)
                            : tlv_header(h, TLV_RESOURCE, p->ids[2], vn);
    rc = lwm2m_enc_put(e, h, hn);
    return rc != 0 ? rc : lwm2m_enc_put(e, vp, vn);
}

static int tlv_finish(struct lwm2m_encoder *e) {
    while (e->nopen > 0) {
        int rc = close_container(e);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

/* ---- decoding ---- */

static uint64_t get_be(const uint8_t *p, size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

/* IEEE 754 binary32 or binary64, network byte order. */
static int tlv_float(const uint8_t *p, size_t n, struct lwm2m_value *out) {
    if (n == 4) {
        uint32_t bits = (uint32_t)get_be(p, 4);
        float f;
        memcpy(&f, &bits, 4);
        *out = lwm2m_value_float(f);
        return 0;
    }
    if (n == 8) {
        uint64_t bits = get_be(p, 8);
        double f;
        memcpy(&f, &bits, 8);
        *out = lwm2m_value_float(f);
        return 0;
    }
    return LWM2M_ERR_FORMAT;
}

int lwm2m_tlv_value(const uint8_t *p, size_t n, enum lwm2m_type t, struct lwm2m_value *out) {
    bool int_len = n == 1 || n == 2 || n == 4 || n == 8;
    switch (t) {
    case LWM2M_TYPE_INTEGER:
    case LWM2M_TYPE_TIME: {
        if (!int_len) {
            return LWM2M_ERR_FORMAT;
        }
        uint64_t u = get_be(p, n);
        unsigned shift = (unsigned)(64 - 8 * n);
        /* sign-extend through the top bits without shifting a negative value */
        int64_t i = shift == 0           ? (int64_t)u
                    : (u >> (8 * n - 1)) ? (int64_t)(u | (~UINT64_C(0) << (8 * n)))
                                         : (int64_t)u;
        *out = (struct lwm2m_value){.type = (uint8_t)t, .v.i = i};
        return 0;
    }
    case LWM2M_TYPE_UNSIGNED:
        if (!int_len) {
            return LWM2M_ERR_FORMAT;
        }
        *out = lwm2m_value_uint(get_be(p, n));
        return 0;
    case LWM2M_TYPE_FLOAT:
        return tlv_float(p, n, out);
    case LWM2M_TYPE_BOOLEAN:
        if (n != 1 || p[0] > 1) {
            return LWM2M_ERR_FORMAT;
        }
        *out = lwm2m_value_bool(p[0] == 1);
        return 0;
    case LWM2M_TYPE_OBJLNK:
        if (n != 4) {
            return LWM2M_ERR_FORMAT;
        }
        *out = lwm2m_value_objlnk((uint16_t)get_be(p, 2), (uint16_t)get_be(p + 2, 2));
        return 0;
    case LWM2M_TYPE_STRING:
        *out = lwm2m_value_string((const char *)p, n);
        return 0;
    case LWM2M_TYPE_CORELNK:
        *out = lwm2m_value_corelnk((const char *)p, n);
        return 0;
    case LWM2M_TYPE_OPAQUE:
    case LWM2M_TYPE_NONE:
    default:
        *out = lwm2m_value_opaque(p, n);
        return 0;
    }
}

struct tlv {
    uint8_t kind;
    uint8_t level; /* position of its id in a path: 1 instance, 2 resource, 3 resource instance */
    uint16_t id;
    const uint8_t *val;
    size_t len;
};

static int tlv_read(const uint8_t *p, size_t n, size_t *off, struct tlv *t) {
    size_t o = *off;
    uint8_t b = p[o++];
    size_t idn = (b & 0x20) ? 2 : 1, lenn = (b >> 3) & 3;
    if (n - o < idn + lenn) {
        return LWM2M_ERR_FORMAT;
    }
    t->kind = b & 0xC0;
    t->level = t->kind == TLV_INSTANCE ? 1 : t->kind == TLV_RES_INSTANCE ? 3 : 2;
    t->id = (uint16_t)get_be(p + o, idn);
    o += idn;
    t->len = lenn == 0 ? (size_t)(b & 7) : (size_t)get_be(p + o, lenn);
    o += lenn;
    if (t->id > LWM2M_ID_MAX || t->len > n - o) {
        return LWM2M_ERR_FORMAT;
    }
    t->val = p + o;
    *off = o + t->len;
    return 0;
}

/* Decodes the TLV sequence p[0..n) found at path at. A TLV whose level is the next free path
 * position extends the path; one of a level already named by the request must repeat its id
 * (a redundant wrapper, which some clients send). Children sit strictly deeper than their
 * container, which bounds the recursion to two containers. */
static int decode_seq(struct lwm2m_dec *d, const uint8_t *p, size_t n, struct lwm2m_path at,
                      uint8_t min_level) {
    size_t off = 0;
    while (off < n) {
        struct tlv t;
        struct lwm2m_path np = at;
        int rc = tlv_read(p, n, &off, &t);
        if (rc != 0) {
            return rc;
        }
        if (t.level < min_level || t.level > at.len) {
            return LWM2M_ERR_FORMAT;
        }
        if (t.level == at.len) {
            np.ids[np.len++] = t.id;
        } else if (at.ids[t.level] != t.id) {
            return LWM2M_ERR_FORMAT; /* a wrapper for another instance/resource than asked */
        }
        if (t.kind == TLV_INSTANCE || t.kind == TLV_MULTIPLE) {
            rc = decode_seq(d, t.val, t.len, np, (uint8_t)(t.level + 1));
        } else {
            struct lwm2m_record r = {.path = np};
            if (np.len != t.level + 1) {
                return LWM2M_ERR_FORMAT;
            }
            rc = lwm2m_tlv_value(t.val, t.len, lwm2m_dec_type(d, &np), &r.value);
            if (rc == 0) {
                rc = lwm2m_dec_emit(d, &r);
            }
        }
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

static int tlv_decode(struct lwm2m_dec *d, const uint8_t *p, size_t n) {
    if (d->cfg->req.len == 0) {
        return LWM2M_ERR_FORMAT;
    }
    return decode_seq(d, p, n, d->cfg->req, 1);
}

const struct lwm2m_fmt_ops lwm2m_fmt_tlv = {
    .ct = LWM2M_CT_TLV,
    .enc_add = tlv_add,
    .enc_finish = tlv_finish,
    .decode = tlv_decode,
};
