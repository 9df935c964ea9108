/* SPDX-License-Identifier: Apache-2.0 */
/* The store-and-forward file format (sf_codec.h): entries and records to bytes and back, the
 * versioned header, entries framed by a marker, a length and a CRC32, and the loader that skips
 * damaged entries one by one. Pure: the queue and the files are sf_store.c's. */
#include "sf_codec.h"

#include <stdlib.h>
#include <string.h>

#include "file_io.h" /* lwm2m_crc32 */
#include "lwm2m/error.h"

/* File format, version 2, integers little-endian:
 *   header: "LWSF" u8 version u8 flags(0) u16 ssid u16 name_len name u32 crc(all before it)
 *   entry:  E5 'S' 'F' 'E' u32 body_len body u32 crc(body_len and body)
 *   body:   u8 kind u8 token_len token u32 nrecs record*nrecs
 *           kind: 1 notify, 2 send; | 0x80 (version 2 only): the records of several gateway
 *           devices, each record then preceded by its device's Device ID
 *           token: names a notification's observation (how its hqmax bound finds its
 *           entries, loaded ones too); empty for a send
 *   record: [u16 id_len id (no NUL; empty: the gateway itself), only with kind & 0x80]
 *           u8 depth u16 id*depth u8 type f64 time
 *           value: none | i64 (integer, time) | u64 | f64 | u8 (bool) | u16 obj u16 inst
 *                  | u32 len bytes (string, opaque, corelnk)
 * Version 1 is the same without the 0x80 kind. The encoder writes version 1 when no entry needs
 * version 2, so a queue without cross-device entries stays readable by a build that only knows
 * version 1 (a downgrade keeps it). Doubles are stored as their IEEE bits, so times and floats
 * come back exactly. The marker lets the loader find the next entry after a damaged one; the
 * CRC rules out a false match. */
#define SF_VERSION      2u
#define SF_VERSION_1    1u
#define SF_KIND_DEVS    0x80u /* the kind bit of a cross-device entry (version 2) */
#define SF_HEADER_FIXED 10u   /* magic, version, flags, ssid, name_len */

static const uint8_t SF_MAGIC[4] = {'L', 'W', 'S', 'F'};
static const uint8_t SF_MARK[4] = {0xE5, 'S', 'F', 'E'};

/* ---- encoding ------------------------------------------------------------------------------ */

/* Output buffer sized exactly beforehand; over is a safety net, not a code path. */
struct wbuf {
    uint8_t *p;
    size_t cap, len;
    bool over;
};

static void put_bytes(struct wbuf *w, const void *src, size_t n) {
    if (n > w->cap - w->len) {
        w->over = true;
        return;
    }
    if (n > 0) {
        memcpy(w->p + w->len, src, n);
    }
    w->len += n;
}

static void put_le(struct wbuf *w, uint64_t v, unsigned nbytes) {
    uint8_t b[8];
    for (unsigned i = 0; i < nbytes; i++) {
        b[i] = (uint8_t)(v >> (8u * i));
    }
    put_bytes(w, b, nbytes);
}

static uint64_t dbl_bits(double d) {
    uint64_t u;
    memcpy(&u, &d, sizeof(u));
    return u;
}

bool sf_has_bytes(uint8_t type) {
    return type == LWM2M_TYPE_STRING || type == LWM2M_TYPE_OPAQUE || type == LWM2M_TYPE_CORELNK;
}

/* Encoded size of a value; SIZE_MAX for a type this format does not know. */
static size_t value_size(const struct lwm2m_value *v) {
    switch (v->type) {
    case LWM2M_TYPE_NONE:
        return 0;
    case LWM2M_TYPE_INTEGER:
    case LWM2M_TYPE_UNSIGNED:
    case LWM2M_TYPE_FLOAT:
    case LWM2M_TYPE_TIME:
        return 8;
    case LWM2M_TYPE_BOOLEAN:
        return 1;
    case LWM2M_TYPE_OBJLNK:
        return 4;
    case LWM2M_TYPE_STRING:
    case LWM2M_TYPE_OPAQUE:
    case LWM2M_TYPE_CORELNK:
        return 4 + v->v.bytes.len;
    default:
        return SIZE_MAX;
    }
}

static void put_value(struct wbuf *w, const struct lwm2m_value *v) {
    switch (v->type) {
    case LWM2M_TYPE_INTEGER:
    case LWM2M_TYPE_TIME:
        put_le(w, (uint64_t)v->v.i, 8);
        break;
    case LWM2M_TYPE_UNSIGNED:
        put_le(w, v->v.u, 8);
        break;
    case LWM2M_TYPE_FLOAT:
        put_le(w, dbl_bits(v->v.f), 8);
        break;
    case LWM2M_TYPE_BOOLEAN:
        put_le(w, v->v.b ? 1u : 0u, 1);
        break;
    case LWM2M_TYPE_OBJLNK:
        put_le(w, v->v.lnk.obj, 2);
        put_le(w, v->v.lnk.inst, 2);
        break;
    case LWM2M_TYPE_STRING:
    case LWM2M_TYPE_OPAQUE:
    case LWM2M_TYPE_CORELNK:
        put_le(w, v->v.bytes.len, 4);
        put_bytes(w, v->v.bytes.ptr, v->v.bytes.len);
        break;
    default: /* NONE carries nothing; unknown types never get into a store */
        break;
    }
}

static void put_entry(struct wbuf *w, const struct sf_node *nd) {
    const char *const *ids = nd->e.dev_ids;
    put_bytes(w, SF_MARK, sizeof(SF_MARK));
    size_t start = w->len;
    put_le(w, nd->disk - SF_ENTRY_OVERHEAD, 4);
    put_le(w, nd->e.kind | (ids != NULL ? SF_KIND_DEVS : 0u), 1);
    put_le(w, nd->e.token_len, 1);
    put_bytes(w, nd->e.token, nd->e.token_len);
    put_le(w, nd->e.nrecs, 4);
    for (size_t i = 0; i < nd->e.nrecs; i++) {
        const struct lwm2m_record *r = &nd->recs[i];
        if (ids != NULL) {
            put_le(w, strlen(ids[i]), 2);
            put_bytes(w, ids[i], strlen(ids[i]));
        }
        put_le(w, r->path.len, 1);
        for (uint8_t d = 0; d < r->path.len; d++) {
            put_le(w, r->path.ids[d], 2);
        }
        put_le(w, r->value.type, 1);
        put_le(w, dbl_bits(r->time), 8);
        put_value(w, &r->value);
    }
    if (!w->over) {
        put_le(w, lwm2m_crc32(w->p + start, w->len - start), 4);
    }
}

int sf_encode_image(const char *name, uint16_t ssid, const struct sf_queue *q, size_t bytes,
                    uint8_t **out, size_t *len) {
    size_t nlen = strlen(name);
    size_t hdr = SF_HEADER_FIXED + nlen + 4;
    struct wbuf w = {malloc(hdr + bytes), hdr + bytes, 0, false};
    if (w.p == NULL) {
        return LWM2M_ERR_NOMEM;
    }
    unsigned version = SF_VERSION_1;
    const struct sf_node *nd;
    TAILQ_FOREACH(nd, q, link) {
        version = nd->e.dev_ids != NULL ? SF_VERSION : version;
    }
    put_bytes(&w, SF_MAGIC, sizeof(SF_MAGIC));
    put_le(&w, version, 1);
    put_le(&w, 0, 1);
    put_le(&w, ssid, 2);
    put_le(&w, nlen, 2);
    put_bytes(&w, name, nlen);
    put_le(&w, lwm2m_crc32(w.p, w.len), 4);
    TAILQ_FOREACH(nd, q, link) {
        put_entry(&w, nd);
    }
    if (w.over || w.len != w.cap) { /* the size bookkeeping is wrong: a bug, not a file error */
        free(w.p);
        return LWM2M_ERR_INVALID;
    }
    *out = w.p;
    *len = w.len;
    return 0;
}

/* ---- entries ------------------------------------------------------------------------------- */

/* Layout: the node, recs[nrecs], with devs the device ID pointers [nrecs], then the bytes (a
 * record's size is a multiple of a pointer's alignment, so the pointers need no padding). */
struct sf_node *sf_node_new(size_t nrecs, bool devs, size_t nbytes) {
    size_t ids = devs ? nrecs * sizeof(const char *) : 0;
    struct sf_node *nd = calloc(1, sizeof(*nd) + nrecs * sizeof(nd->recs[0]) + ids + nbytes);
    if (nd != NULL) {
        nd->e.nrecs = nrecs;
        nd->e.recs = nd->recs;
        nd->e.dev_ids = devs ? (const char *const *)(void *)&nd->recs[nrecs] : NULL;
    }
    return nd;
}

const char **sf_node_ids(struct sf_node *nd) {
    return nd->e.dev_ids != NULL ? (const char **)(void *)&nd->recs[nd->e.nrecs] : NULL;
}

uint8_t *sf_node_tail(struct sf_node *nd) {
    size_t ids = nd->e.dev_ids != NULL ? nd->e.nrecs * sizeof(const char *) : 0;
    return (uint8_t *)&nd->recs[nd->e.nrecs] + ids;
}

size_t sf_dev_id_size(const char *id) {
    return 2u + strlen(id);
}

bool sf_record_ok(const struct lwm2m_record *r) {
    if (r->path.len > LWM2M_PATH_MAX_DEPTH || r->value.type > LWM2M_TYPE_CORELNK) {
        return false;
    }
    for (uint8_t d = 0; d < r->path.len; d++) {
        if (r->path.ids[d] > LWM2M_ID_MAX) {
            return false;
        }
    }
    if (sf_has_bytes(r->value.type)) {
        const struct lwm2m_bytes *b = &r->value.v.bytes;
        return b->len <= UINT32_MAX && (b->len == 0 || b->ptr != NULL);
    }
    return true;
}

size_t sf_record_size(const struct lwm2m_record *r) {
    return SF_RECORD_MIN + 2u * r->path.len + value_size(&r->value);
}

/* ---- decoding ------------------------------------------------------------------------------ */

/* Bounds-checked reader; a short read sets bad and yields zeros. */
struct rbuf {
    const uint8_t *p;
    size_t len, pos;
    bool bad;
};

static uint64_t get_le(struct rbuf *r, unsigned nbytes) {
    if (r->bad || nbytes > r->len - r->pos) {
        r->bad = true;
        return 0;
    }
    uint64_t v = 0;
    for (unsigned i = 0; i < nbytes; i++) {
        v |= (uint64_t)r->p[r->pos + i] << (8u * i);
    }
    r->pos += nbytes;
    return v;
}

/* n bytes in place (borrowed from the buffer), or NULL and bad. */
static const uint8_t *get_span(struct rbuf *r, size_t n) {
    if (r->bad || n > r->len - r->pos) {
        r->bad = true;
        return NULL;
    }
    r->pos += n;
    return r->p + r->pos - n;
}

static double get_dbl(struct rbuf *r) {
    uint64_t u = get_le(r, 8);
    double d;
    memcpy(&d, &u, sizeof(d));
    return d;
}

static void get_value(struct rbuf *r, struct lwm2m_value *v) {
    switch (v->type) {
    case LWM2M_TYPE_NONE:
        break;
    case LWM2M_TYPE_INTEGER:
    case LWM2M_TYPE_TIME:
        v->v.i = (int64_t)get_le(r, 8);
        break;
    case LWM2M_TYPE_UNSIGNED:
        v->v.u = get_le(r, 8);
        break;
    case LWM2M_TYPE_FLOAT:
        v->v.f = get_dbl(r);
        break;
    case LWM2M_TYPE_BOOLEAN: {
        uint64_t b = get_le(r, 1);
        r->bad = r->bad || b > 1;
        v->v.b = b == 1;
        break;
    }
    case LWM2M_TYPE_OBJLNK:
        v->v.lnk.obj = (uint16_t)get_le(r, 2);
        v->v.lnk.inst = (uint16_t)get_le(r, 2);
        break;
    case LWM2M_TYPE_STRING:
    case LWM2M_TYPE_OPAQUE:
    case LWM2M_TYPE_CORELNK: {
        size_t n = (size_t)get_le(r, 4);
        v->v.bytes.ptr = get_span(r, n);
        v->v.bytes.len = r->bad ? 0 : n;
        break;
    }
    default:
        r->bad = true;
        break;
    }
}

/* Reads a record's Device ID (cross-device entries): its length, *at its bytes in the buffer.
 * A NUL inside would not survive as a C string: damage. */
static size_t get_dev_id(struct rbuf *r, const uint8_t **at) {
    size_t n = (size_t)get_le(r, 2);
    *at = get_span(r, n);
    r->bad = r->bad || (n > 0 && memchr(*at, 0, n) != NULL);
    return r->bad ? 0 : n;
}

/* Reads one record; its bytes stay borrowed from the reader's buffer. */
static void get_record(struct rbuf *r, struct lwm2m_record *rec) {
    memset(rec, 0, sizeof(*rec));
    uint64_t depth = get_le(r, 1);
    r->bad = r->bad || depth > LWM2M_PATH_MAX_DEPTH;
    rec->path.len = r->bad ? 0 : (uint8_t)depth;
    for (uint8_t d = 0; d < rec->path.len; d++) {
        rec->path.ids[d] = (uint16_t)get_le(r, 2);
        r->bad = r->bad || rec->path.ids[d] > LWM2M_ID_MAX;
    }
    rec->value.type = (uint8_t)get_le(r, 1);
    rec->time = get_dbl(r);
    rec->has_time = true;
    get_value(r, &rec->value);
}

/* The first pass over the records of a body: validates them and sums the bytes a node needs
 * for their strings and Device IDs (each with its NUL). */
static void size_records(struct rbuf *r, uint32_t nrecs, bool devs, size_t *nbytes) {
    struct lwm2m_record rec;
    const uint8_t *id;
    for (uint32_t i = 0; i < nrecs && !r->bad; i++) {
        *nbytes += devs ? get_dev_id(r, &id) + 1u : 0u;
        get_record(r, &rec);
        *nbytes += sf_has_bytes(rec.value.type) ? rec.value.v.bytes.len : 0;
    }
}

/* The second pass: the records into nd, their bytes and Device IDs copied to its tail. */
static void fill_records(struct rbuf *r, struct sf_node *nd) {
    uint8_t *tail = sf_node_tail(nd);
    const char **ids = sf_node_ids(nd);
    for (size_t i = 0; i < nd->e.nrecs; i++) {
        if (ids != NULL) {
            const uint8_t *id;
            size_t n = get_dev_id(r, &id);
            if (n > 0) {
                memcpy(tail, id, n);
            }
            tail[n] = '\0';
            ids[i] = (const char *)tail;
            tail += n + 1;
        }
        get_record(r, &nd->recs[i]);
        struct lwm2m_value *v = &nd->recs[i].value;
        if (sf_has_bytes(v->type) && v->v.bytes.len > 0) {
            memcpy(tail, v->v.bytes.ptr, v->v.bytes.len);
            v->v.bytes.ptr = tail;
            tail += v->v.bytes.len;
        }
    }
}

/* Decodes an entry body (its CRC already verified) of a file of that version into a new node.
 * Two passes: the first validates and sizes, so the allocation is exact and bounded by the
 * body's length. */
static int decode_body(const uint8_t *p, size_t n, unsigned version, struct sf_node **out) {
    struct rbuf r = {p, n, 0, false};
    uint8_t kind = (uint8_t)get_le(&r, 1);
    uint8_t tlen = (uint8_t)get_le(&r, 1);
    bool devs = version >= SF_VERSION && (kind & SF_KIND_DEVS) != 0;
    kind &= devs ? (uint8_t)~SF_KIND_DEVS : 0xFFu;
    r.bad =
        r.bad || (kind != LWM2M_SF_NOTIFY && kind != LWM2M_SF_SEND) || tlen > LWM2M_SF_TOKEN_MAX;
    const uint8_t *token = get_span(&r, tlen);
    uint32_t nrecs = (uint32_t)get_le(&r, 4);
    if (r.bad || nrecs == 0 || nrecs > (n - r.pos) / SF_RECORD_MIN) {
        return LWM2M_ERR_FORMAT;
    }
    size_t recs_at = r.pos, nbytes = 0;
    size_records(&r, nrecs, devs, &nbytes);
    if (r.bad || r.pos != n) {
        return LWM2M_ERR_FORMAT;
    }
    struct sf_node *nd = sf_node_new(nrecs, devs, nbytes);
    if (nd == NULL) {
        return LWM2M_ERR_NOMEM;
    }
    nd->disk = n + SF_ENTRY_OVERHEAD;
    nd->e.kind = kind;
    nd->e.token_len = tlen;
    memcpy(nd->e.token, token, tlen);
    r.pos = recs_at;
    fill_records(&r, nd);
    *out = nd;
    return 0;
}

/* Checks the framing of the entry at p and decodes it. Returns 0 with *used, LWM2M_ERR_FORMAT
 * with *what, or LWM2M_ERR_NOMEM. */
static int parse_entry(const uint8_t *p, size_t n, unsigned version, size_t *used,
                       struct sf_node **out, const char **what) {
    if (n < SF_ENTRY_OVERHEAD) {
        *what = memcmp(p, SF_MARK, n < 4 ? n : 4) == 0 ? "truncated entry" : "garbage at end";
        return LWM2M_ERR_FORMAT;
    }
    if (memcmp(p, SF_MARK, sizeof(SF_MARK)) != 0) {
        *what = "no entry marker";
        return LWM2M_ERR_FORMAT;
    }
    struct rbuf r = {p, n, 4, false};
    size_t blen = (size_t)get_le(&r, 4);
    if (blen > n - SF_ENTRY_OVERHEAD) {
        *what = "entry runs past the end of the file (truncated?)";
        return LWM2M_ERR_FORMAT;
    }
    r.pos = 8 + blen;
    if ((uint32_t)get_le(&r, 4) != lwm2m_crc32(p + 4, 4 + blen)) {
        *what = "entry checksum mismatch";
        return LWM2M_ERR_FORMAT;
    }
    int rc = decode_body(p + 8, blen, version, out);
    if (rc == LWM2M_ERR_FORMAT) {
        *what = "invalid entry content";
    }
    *used = blen + SF_ENTRY_OVERHEAD;
    return rc;
}

/* Checks the header; returns 0 with *pos after it and the file's *version, or
 * LWM2M_ERR_FORMAT with *what. */
static int parse_header(const char *want, uint16_t want_ssid, const uint8_t *p, size_t n,
                        size_t *pos, unsigned *version, const char **what) {
    struct rbuf r = {p, n, 4, false};
    if (n < SF_HEADER_FIXED || memcmp(p, SF_MAGIC, sizeof(SF_MAGIC)) != 0) {
        *what = n < SF_HEADER_FIXED ? "truncated header" : "not a store-and-forward file (magic)";
        return LWM2M_ERR_FORMAT;
    }
    uint64_t ver = get_le(&r, 1), flags = get_le(&r, 1), ssid = get_le(&r, 2);
    size_t nlen = (size_t)get_le(&r, 2);
    if ((ver != SF_VERSION_1 && ver != SF_VERSION) || flags != 0) {
        *what = "unsupported format version";
        return LWM2M_ERR_FORMAT;
    }
    if (nlen + 4 > n - r.pos) {
        *what = "truncated header";
        return LWM2M_ERR_FORMAT;
    }
    const uint8_t *name = p + r.pos;
    r.pos += nlen;
    if ((uint32_t)get_le(&r, 4) != lwm2m_crc32(p, SF_HEADER_FIXED + nlen)) {
        *what = "header checksum mismatch";
        return LWM2M_ERR_FORMAT;
    }
    if (ssid != want_ssid || nlen != strlen(want) || memcmp(name, want, nlen) != 0) {
        *what = "file belongs to another endpoint or server";
        return LWM2M_ERR_FORMAT;
    }
    *pos = r.pos;
    *version = (unsigned)ver;
    return 0;
}

/* Next offset at or after from where an entry marker starts; len when there is none. */
static size_t resync(const uint8_t *p, size_t len, size_t from) {
    while (from < len) {
        const uint8_t *m = memchr(p + from, SF_MARK[0], len - from);
        if (m == NULL) {
            return len;
        }
        size_t at = (size_t)(m - p);
        if (len - at >= sizeof(SF_MARK) && memcmp(m, SF_MARK, sizeof(SF_MARK)) == 0) {
            return at; /* a partial marker at the end is just part of the damaged region */
        }
        from = at + 1;
    }
    return len;
}

void sf_report_damage(struct sf_report *rep, size_t off, const char *what) {
    if (rep->damaged++ == 0) {
        rep->first_off = off;
        rep->first_what = what;
    }
}

int sf_parse_image(const uint8_t *p, size_t n, const char *name, uint16_t ssid, sf_admit_fn admit,
                   void *ctx, struct sf_report *rep) {
    size_t pos = 0;
    unsigned version = 0;
    const char *what = NULL;
    if (parse_header(name, ssid, p, n, &pos, &version, &what) != 0) {
        sf_report_damage(rep, 0, what);
        return 0;
    }
    while (pos < n) {
        size_t used = 0;
        struct sf_node *nd = NULL;
        int rc = parse_entry(p + pos, n - pos, version, &used, &nd, &what);
        if (rc == LWM2M_ERR_NOMEM) {
            return rc;
        }
        if (rc == 0) {
            admit(ctx, nd);
            pos += used;
        } else if (used > 0) { /* framing fine, content not: skip exactly this entry */
            sf_report_damage(rep, pos, what);
            pos += used;
        } else {
            sf_report_damage(rep, pos, what);
            pos = resync(p, n, pos + 1);
        }
    }
    return 0;
}
