/* SPDX-License-Identifier: Apache-2.0 */
/* The store-and-forward queue (sf_store.h): the in-memory FIFO of delivery units, their binary
 * file format (versioned header, entries framed by a marker, a length and a CRC32), the loader
 * that skips damaged entries one by one, and the atomic rewrite of the file. */
#include "sf_store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lwm2m/error.h"

/* File format, version 1, integers little-endian:
 *   header: "LWSF" u8 version u8 flags(0) u16 ssid u16 name_len name u32 crc(all before it)
 *   entry:  E5 'S' 'F' 'E' u32 body_len body u32 crc(body_len and body)
 *   body:   u8 kind u8 token_len token u32 nrecs record*nrecs
 *   record: u8 depth u16 id*depth u8 type f64 time
 *           value: none | i64 (integer, time) | u64 | f64 | u8 (bool) | u16 obj u16 inst
 *                  | u32 len bytes (string, opaque, corelnk)
 * Doubles are stored as their IEEE bits, so times and floats come back exactly. The marker lets
 * the loader find the next entry after a damaged one; the CRC rules out a false match. */
#define SF_VERSION        1u
#define SF_HEADER_FIXED   10u                   /* magic, version, flags, ssid, name_len */
#define SF_ENTRY_OVERHEAD 12u                   /* marker, body_len, crc */
#define SF_BODY_FIXED     6u                    /* kind, token_len, nrecs */
#define SF_RECORD_MIN     10u                   /* depth, type, time */
#define SF_FILE_MAX       (64u * 1024u * 1024u) /* beyond any sane limit: treated as damage */
#define SF_NAME_KEEP      200u /* escaped name bytes kept in a file name before the hash */

static const uint8_t SF_MAGIC[4] = {'L', 'W', 'S', 'F'};
static const uint8_t SF_MARK[4] = {0xE5, 'S', 'F', 'E'};

/* One queued entry in one allocation: the node, its records, then their bytes. */
struct sf_node {
    TAILQ_ENTRY(sf_node) link;
    size_t disk; /* encoded size, counted against max_bytes */
    struct lwm2m_sf_entry e;
    struct lwm2m_record recs[];
};

TAILQ_HEAD(sf_queue, sf_node);

struct lwm2m_sf_store {
    struct sf_queue q; /* oldest first; nodes owned */
    size_t count, bytes;
    uint64_t dropped, damaged, next_id;
    struct lwm2m_sf_limits lim;
    const struct lwm2m_sf_io *io;
    const struct coap_clock *clock;
    bool dirty;
    uint16_t ssid;
    char *name; /* owned copies; dir and path NULL for a memory-only store */
    char *dir;
    char *path;
};

/* What the loader found wrong; only the first place is reported in detail. */
struct sf_report {
    size_t damaged;
    size_t first_off;
    const char *first_what;
};

static ssize_t posix_write(void *ctx, int fd, const void *buf, size_t len) {
    (void)ctx;
    return write(fd, buf, len);
}

static int posix_fsync(void *ctx, int fd) {
    (void)ctx;
    return fsync(fd);
}

static int posix_rename(void *ctx, const char *from, const char *to) {
    (void)ctx;
    return rename(from, to);
}

static const struct lwm2m_sf_io posix_io = {posix_write, posix_fsync, posix_rename, NULL};

__attribute__((format(printf, 3, 4))) static void errf(char *err, size_t cap, const char *fmt,
                                                       ...) {
    if (err == NULL || cap == 0) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

/* Formats "<file>: <step>: <errno text>" and returns LWM2M_ERR_IO; errno must still be set. */
static int io_fail(char *err, size_t cap, const char *file, const char *step) {
    errf(err, cap, "%s: %s: %s", file, step, strerror(errno));
    return LWM2M_ERR_IO;
}

/* CRC-32 (IEEE 802.3, as zlib), a nibble at a time: 64 bytes of table, plenty fast for files
 * of a few hundred KiB written once per loop pass at most. */
static uint32_t crc32_of(const uint8_t *p, size_t n) {
    static const uint32_t T[16] = {0x00000000, 0x1DB71064, 0x3B6E20C8, 0x26D930AC,
                                   0x76DC4190, 0x6B6B51F4, 0x4DB26158, 0x5005713C,
                                   0xEDB88320, 0xF00F9344, 0xD6D6A3E8, 0xCB61B38C,
                                   0x9B64C2B0, 0x86D3D2D4, 0xA00AE278, 0xBDBDF21C};
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        crc = (crc >> 4) ^ T[crc & 15u];
        crc = (crc >> 4) ^ T[crc & 15u];
    }
    return ~crc;
}

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

static bool has_bytes(uint8_t type) {
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
    put_bytes(w, SF_MARK, sizeof(SF_MARK));
    size_t start = w->len;
    put_le(w, nd->disk - SF_ENTRY_OVERHEAD, 4);
    put_le(w, nd->e.kind, 1);
    put_le(w, nd->e.token_len, 1);
    put_bytes(w, nd->e.token, nd->e.token_len);
    put_le(w, nd->e.nrecs, 4);
    for (size_t i = 0; i < nd->e.nrecs; i++) {
        const struct lwm2m_record *r = &nd->recs[i];
        put_le(w, r->path.len, 1);
        for (uint8_t d = 0; d < r->path.len; d++) {
            put_le(w, r->path.ids[d], 2);
        }
        put_le(w, r->value.type, 1);
        put_le(w, dbl_bits(r->time), 8);
        put_value(w, &r->value);
    }
    if (!w->over) {
        put_le(w, crc32_of(w->p + start, w->len - start), 4);
    }
}

int lwm2m_sf_encode(const struct lwm2m_sf_store *s, uint8_t **out, size_t *len) {
    size_t nlen = strlen(s->name);
    size_t hdr = SF_HEADER_FIXED + nlen + 4;
    struct wbuf w = {malloc(hdr + s->bytes), hdr + s->bytes, 0, false};
    if (w.p == NULL) {
        return LWM2M_ERR_NOMEM;
    }
    put_bytes(&w, SF_MAGIC, sizeof(SF_MAGIC));
    put_le(&w, SF_VERSION, 1);
    put_le(&w, 0, 1);
    put_le(&w, s->ssid, 2);
    put_le(&w, nlen, 2);
    put_bytes(&w, s->name, nlen);
    put_le(&w, crc32_of(w.p, w.len), 4);
    const struct sf_node *nd;
    TAILQ_FOREACH(nd, &s->q, link) {
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

/* ---- the queue ----------------------------------------------------------------------------- */

static struct sf_node *node_new(size_t nrecs, size_t nbytes) {
    struct sf_node *nd = calloc(1, sizeof(*nd) + nrecs * sizeof(nd->recs[0]) + nbytes);
    if (nd != NULL) {
        nd->e.nrecs = nrecs;
        nd->e.recs = nd->recs;
    }
    return nd;
}

/* Where a node keeps its copies of string/opaque bytes: right after its records. */
static uint8_t *node_tail(struct sf_node *nd) {
    return (uint8_t *)&nd->recs[nd->e.nrecs];
}

static void drop_head(struct lwm2m_sf_store *s) {
    struct sf_node *nd = TAILQ_FIRST(&s->q);
    TAILQ_REMOVE(&s->q, nd, link);
    s->count--;
    s->bytes -= nd->disk;
    s->dirty = true;
    free(nd);
}

/* Appends nd (taking it), dropping the oldest entries until it fits within the limits. */
static void admit(struct lwm2m_sf_store *s, struct sf_node *nd) {
    if (nd->disk > s->lim.max_bytes) {
        s->dropped++;
        free(nd);
        return;
    }
    while (!TAILQ_EMPTY(&s->q) &&
           (s->count >= s->lim.max_entries || s->bytes + nd->disk > s->lim.max_bytes)) {
        drop_head(s);
        s->dropped++;
    }
    nd->e.id = s->next_id++;
    TAILQ_INSERT_TAIL(&s->q, nd, link);
    s->count++;
    s->bytes += nd->disk;
    s->dirty = true;
}

static bool record_ok(const struct lwm2m_record *r) {
    if (r->path.len > LWM2M_PATH_MAX_DEPTH || r->value.type > LWM2M_TYPE_CORELNK) {
        return false;
    }
    for (uint8_t d = 0; d < r->path.len; d++) {
        if (r->path.ids[d] > LWM2M_ID_MAX) {
            return false;
        }
    }
    if (has_bytes(r->value.type)) {
        const struct lwm2m_bytes *b = &r->value.v.bytes;
        return b->len <= UINT32_MAX && (b->len == 0 || b->ptr != NULL);
    }
    return true;
}

static size_t record_size(const struct lwm2m_record *r) {
    return SF_RECORD_MIN + 2u * r->path.len + value_size(&r->value);
}

/* Checks recs and sums their sizes; stops adding past max_bytes so nothing can overflow.
 * Returns 0, LWM2M_ERR_INVALID or LWM2M_ERR_NOSPACE. */
static int measure(const struct lwm2m_sf_store *s, size_t token_len,
                   const struct lwm2m_record *recs, size_t n, size_t *disk, size_t *nbytes) {
    size_t sum = SF_ENTRY_OVERHEAD + SF_BODY_FIXED + token_len;
    size_t bytes = 0;
    int rc = sum > s->lim.max_bytes ? LWM2M_ERR_NOSPACE : 0;
    for (size_t i = 0; i < n; i++) {
        if (!record_ok(&recs[i])) {
            return LWM2M_ERR_INVALID;
        }
        const struct lwm2m_value *v = &recs[i].value;
        size_t blen = has_bytes(v->type) ? v->v.bytes.len : 0;
        if (rc != 0 || blen > s->lim.max_bytes || record_size(&recs[i]) > s->lim.max_bytes - sum) {
            rc = LWM2M_ERR_NOSPACE; /* keep checking: INVALID wins over NOSPACE */
            continue;
        }
        sum += record_size(&recs[i]);
        bytes += blen;
    }
    *disk = sum;
    *nbytes = bytes;
    return rc;
}

int lwm2m_sf_push(struct lwm2m_sf_store *s, enum lwm2m_sf_kind kind, const uint8_t *token,
                  size_t token_len, const struct lwm2m_record *recs, size_t n) {
    if (s == NULL || (kind != LWM2M_SF_NOTIFY && kind != LWM2M_SF_SEND) ||
        token_len > LWM2M_SF_TOKEN_MAX || (token_len > 0 && token == NULL) || recs == NULL ||
        n == 0 || n > UINT32_MAX) {
        return LWM2M_ERR_INVALID;
    }
    size_t disk, nbytes;
    int rc = measure(s, token_len, recs, n, &disk, &nbytes);
    if (rc == LWM2M_ERR_NOSPACE) {
        s->dropped++; /* the value is lost: count it like any other drop */
    }
    if (rc != 0) {
        return rc;
    }
    struct sf_node *nd = node_new(n, nbytes);
    if (nd == NULL) {
        return LWM2M_ERR_NOMEM;
    }
    nd->disk = disk;
    nd->e.kind = (uint8_t)kind;
    nd->e.token_len = (uint8_t)token_len;
    if (token_len > 0) {
        memcpy(nd->e.token, token, token_len);
    }
    double now = (double)coap_clock_real_ms(s->clock) / 1000.0;
    uint8_t *tail = node_tail(nd);
    for (size_t i = 0; i < n; i++) {
        struct lwm2m_record *r = &nd->recs[i];
        *r = recs[i];
        if (!r->has_time) {
            r->time = now;
            r->has_time = true;
        }
        if (has_bytes(r->value.type) && r->value.v.bytes.len > 0) {
            memcpy(tail, r->value.v.bytes.ptr, r->value.v.bytes.len);
            r->value.v.bytes.ptr = tail;
            tail += r->value.v.bytes.len;
        }
    }
    admit(s, nd);
    return 0;
}

int lwm2m_sf_peek(const struct lwm2m_sf_store *s, const struct lwm2m_sf_entry **out) {
    const struct sf_node *nd = s != NULL ? TAILQ_FIRST(&s->q) : NULL;
    if (nd == NULL) {
        return LWM2M_ERR_NOTFOUND;
    }
    *out = &nd->e;
    return 0;
}

int lwm2m_sf_pop(struct lwm2m_sf_store *s, uint64_t id) {
    const struct sf_node *nd = s != NULL ? TAILQ_FIRST(&s->q) : NULL;
    if (nd == NULL || nd->e.id != id) {
        return LWM2M_ERR_NOTFOUND;
    }
    drop_head(s);
    return 0;
}

size_t lwm2m_sf_count(const struct lwm2m_sf_store *s) {
    return s->count;
}

size_t lwm2m_sf_bytes(const struct lwm2m_sf_store *s) {
    return s->bytes;
}

uint64_t lwm2m_sf_dropped(const struct lwm2m_sf_store *s) {
    return s->dropped;
}

uint64_t lwm2m_sf_damaged(const struct lwm2m_sf_store *s) {
    return s->damaged;
}

bool lwm2m_sf_dirty(const struct lwm2m_sf_store *s) {
    return s->dirty && s->path != NULL; /* a memory-only store has nothing to write */
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

/* Decodes an entry body (its CRC already verified) into a new node. Two passes: the first
 * validates and sizes, so the allocation is exact and bounded by the body's length. */
static int decode_body(const uint8_t *p, size_t n, struct sf_node **out) {
    struct rbuf r = {p, n, 0, false};
    uint8_t kind = (uint8_t)get_le(&r, 1);
    uint8_t tlen = (uint8_t)get_le(&r, 1);
    r.bad =
        r.bad || (kind != LWM2M_SF_NOTIFY && kind != LWM2M_SF_SEND) || tlen > LWM2M_SF_TOKEN_MAX;
    const uint8_t *token = get_span(&r, tlen);
    uint32_t nrecs = (uint32_t)get_le(&r, 4);
    if (r.bad || nrecs == 0 || nrecs > (n - r.pos) / SF_RECORD_MIN) {
        return LWM2M_ERR_FORMAT;
    }
    size_t recs_at = r.pos, nbytes = 0;
    struct lwm2m_record rec;
    for (uint32_t i = 0; i < nrecs && !r.bad; i++) {
        get_record(&r, &rec);
        nbytes += has_bytes(rec.value.type) ? rec.value.v.bytes.len : 0;
    }
    if (r.bad || r.pos != n) {
        return LWM2M_ERR_FORMAT;
    }
    struct sf_node *nd = node_new(nrecs, nbytes);
    if (nd == NULL) {
        return LWM2M_ERR_NOMEM;
    }
    nd->disk = n + SF_ENTRY_OVERHEAD;
    nd->e.kind = kind;
    nd->e.token_len = tlen;
    memcpy(nd->e.token, token, tlen);
    r.pos = recs_at;
    uint8_t *tail = node_tail(nd);
    for (uint32_t i = 0; i < nrecs; i++) {
        get_record(&r, &nd->recs[i]);
        struct lwm2m_value *v = &nd->recs[i].value;
        if (has_bytes(v->type) && v->v.bytes.len > 0) {
            memcpy(tail, v->v.bytes.ptr, v->v.bytes.len);
            v->v.bytes.ptr = tail;
            tail += v->v.bytes.len;
        }
    }
    *out = nd;
    return 0;
}

/* Checks the framing of the entry at p and decodes it. Returns 0 with *used, LWM2M_ERR_FORMAT
 * with *what, or LWM2M_ERR_NOMEM. */
static int parse_entry(const uint8_t *p, size_t n, size_t *used, struct sf_node **out,
                       const char **what) {
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
    if ((uint32_t)get_le(&r, 4) != crc32_of(p + 4, 4 + blen)) {
        *what = "entry checksum mismatch";
        return LWM2M_ERR_FORMAT;
    }
    int rc = decode_body(p + 8, blen, out);
    if (rc == LWM2M_ERR_FORMAT) {
        *what = "invalid entry content";
    }
    *used = blen + SF_ENTRY_OVERHEAD;
    return rc;
}

/* Checks the header; returns 0 with *pos after it, or LWM2M_ERR_FORMAT with *what. */
static int parse_header(const struct lwm2m_sf_store *s, const uint8_t *p, size_t n, size_t *pos,
                        const char **what) {
    struct rbuf r = {p, n, 4, false};
    if (n < SF_HEADER_FIXED || memcmp(p, SF_MAGIC, sizeof(SF_MAGIC)) != 0) {
        *what = n < SF_HEADER_FIXED ? "truncated header" : "not a store-and-forward file (magic)";
        return LWM2M_ERR_FORMAT;
    }
    uint64_t version = get_le(&r, 1), flags = get_le(&r, 1), ssid = get_le(&r, 2);
    size_t nlen = (size_t)get_le(&r, 2);
    if (version != SF_VERSION || flags != 0) {
        *what = "unsupported format version";
        return LWM2M_ERR_FORMAT;
    }
    if (nlen + 4 > n - r.pos) {
        *what = "truncated header";
        return LWM2M_ERR_FORMAT;
    }
    const uint8_t *name = p + r.pos;
    r.pos += nlen;
    if ((uint32_t)get_le(&r, 4) != crc32_of(p, SF_HEADER_FIXED + nlen)) {
        *what = "header checksum mismatch";
        return LWM2M_ERR_FORMAT;
    }
    if (ssid != s->ssid || nlen != strlen(s->name) || memcmp(name, s->name, nlen) != 0) {
        *what = "file belongs to another endpoint or server";
        return LWM2M_ERR_FORMAT;
    }
    *pos = r.pos;
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

static void note_damage(struct lwm2m_sf_store *s, struct sf_report *rep, size_t off,
                        const char *what) {
    if (rep->damaged++ == 0) {
        rep->first_off = off;
        rep->first_what = what;
    }
    s->damaged++;
}

/* Appends the entries of a file image, skipping damaged ones. NOMEM is the only error; damage
 * is in rep. The caller formats the report (it knows the file name). */
static int parse_image(struct lwm2m_sf_store *s, const uint8_t *p, size_t n,
                       struct sf_report *rep) {
    size_t pos = 0;
    const char *what = NULL;
    if (parse_header(s, p, n, &pos, &what) != 0) {
        note_damage(s, rep, 0, what);
        return 0;
    }
    while (pos < n) {
        size_t used = 0;
        struct sf_node *nd = NULL;
        int rc = parse_entry(p + pos, n - pos, &used, &nd, &what);
        if (rc == LWM2M_ERR_NOMEM) {
            return rc;
        }
        if (rc == 0) {
            admit(s, nd);
            pos += used;
        } else if (used > 0) { /* framing fine, content not: skip exactly this entry */
            note_damage(s, rep, pos, what);
            pos += used;
        } else {
            note_damage(s, rep, pos, what);
            pos = resync(p, n, pos + 1);
        }
    }
    return 0;
}

static void format_report(const struct lwm2m_sf_store *s, const struct sf_report *rep,
                          const char *file, char *err, size_t cap) {
    errf(err, cap, "%s: offset %zu: %s (%zu damaged region%s skipped, %zu entries kept)", file,
         rep->first_off, rep->first_what, rep->damaged, rep->damaged == 1 ? "" : "s", s->count);
}

int lwm2m_sf_load_mem(struct lwm2m_sf_store *s, const uint8_t *buf, size_t len, char *err,
                      size_t errcap) {
    struct sf_report rep = {0, 0, NULL};
    errf(err, errcap, "%s", "");
    int rc = parse_image(s, buf, len, &rep);
    if (rc != 0) {
        return rc;
    }
    if (rep.damaged > 0) {
        format_report(s, &rep, s->path != NULL ? s->path : "(memory)", err, errcap);
        return LWM2M_ERR_FORMAT;
    }
    return 0;
}

/* ---- files --------------------------------------------------------------------------------- */

static bool name_byte_plain(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

int lwm2m_sf_file_name(const char *name, uint16_t ssid, char *out, size_t cap) {
    static const char hex[] = "0123456789ABCDEF";
    char esc[SF_NAME_KEEP + 1];
    size_t n = 0;
    bool cut = false;
    for (const unsigned char *p = (const unsigned char *)name; *p != '\0' && !cut; p++) {
        bool plain = name_byte_plain(*p);
        if (n + (plain ? 1u : 3u) > SF_NAME_KEEP) {
            cut = true;
        } else if (plain) {
            esc[n++] = (char)*p;
        } else {
            esc[n++] = '%';
            esc[n++] = hex[*p >> 4];
            esc[n++] = hex[*p & 15u];
        }
    }
    esc[n] = '\0';
    int w;
    if (cut) { /* '~' is never plain, so a cut name cannot equal a whole one */
        uint64_t h = 0xcbf29ce484222325u; /* FNV-1a 64 of the whole name */
        for (const unsigned char *p = (const unsigned char *)name; *p != '\0'; p++) {
            h = (h ^ *p) * 0x100000001b3u;
        }
        w = snprintf(out, cap, "%s~%016llx.%u.sfq", esc, (unsigned long long)h, ssid);
    } else {
        w = snprintf(out, cap, "%s.%u.sfq", esc, ssid);
    }
    return w < 0 || (size_t)w >= cap ? LWM2M_ERR_NOSPACE : w;
}

/* malloc'd "<dir>/<file name of (name, ssid)>", or NULL. */
static char *store_path(const char *dir, const char *name, uint16_t ssid) {
    char file[256];
    if (lwm2m_sf_file_name(name, ssid, file, sizeof(file)) < 0) {
        return NULL;
    }
    size_t n = strlen(dir) + 1 + strlen(file) + 1;
    char *path = malloc(n);
    if (path != NULL) {
        snprintf(path, n, "%s/%s", dir, file);
    }
    return path;
}

/* "<path><suffix>" into buf; false when it does not fit. */
static bool path_with(const char *path, const char *suffix, char *buf, size_t cap) {
    int w = snprintf(buf, cap, "%s%s", path, suffix);
    return w >= 0 && (size_t)w < cap;
}

/* The rename is only durable once the directory itself is on disk. */
static int fsync_dir(const struct lwm2m_sf_io *io, const char *dir, char *err, size_t cap) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return io_fail(err, cap, dir, "open directory");
    }
    int rc = io->fsync(io->ctx, fd) != 0 ? io_fail(err, cap, dir, "fsync directory") : 0;
    close(fd);
    return rc;
}

/* Writes img to tmp and fsyncs it; on any failure the temp file is removed. */
static int write_tmp(const struct lwm2m_sf_io *io, const char *tmp, const uint8_t *img, size_t n,
                     char *err, size_t cap) {
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        return io_fail(err, cap, tmp, "create");
    }
    const char *step = NULL;
    int e = 0;
    for (size_t off = 0; off < n && step == NULL;) {
        ssize_t w = io->write(io->ctx, fd, img + off, n - off);
        if (w > 0) {
            off += (size_t)w;
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else {
            step = "write";
            e = w == 0 ? EIO : errno;
        }
    }
    if (step == NULL && io->fsync(io->ctx, fd) != 0) {
        step = "fsync";
        e = errno;
    }
    if (close(fd) != 0 && step == NULL) {
        step = "close";
        e = errno;
    }
    if (step != NULL) {
        unlink(tmp);
        errno = e;
        return io_fail(err, cap, tmp, step);
    }
    return 0;
}

static int write_file(struct lwm2m_sf_store *s, char *err, size_t cap) {
    char tmp[PATH_MAX];
    if (!path_with(s->path, ".tmp", tmp, sizeof(tmp))) {
        errf(err, cap, "%s: path too long", s->path);
        return LWM2M_ERR_IO;
    }
    uint8_t *img;
    size_t n;
    int rc = lwm2m_sf_encode(s, &img, &n);
    if (rc != 0) {
        errf(err, cap, "%s: %s", s->path, lwm2m_strerror(rc));
        return rc;
    }
    rc = write_tmp(s->io, tmp, img, n, err, cap);
    free(img);
    if (rc != 0) {
        return rc;
    }
    if (s->io->rename(s->io->ctx, tmp, s->path) != 0) {
        int e = errno;
        unlink(tmp);
        errno = e;
        return io_fail(err, cap, s->path, "rename");
    }
    return fsync_dir(s->io, s->dir, err, cap);
}

static int remove_file(const struct lwm2m_sf_io *io, const char *dir, const char *path, char *err,
                       size_t cap) {
    if (unlink(path) != 0) {
        if (errno != ENOENT) {
            return io_fail(err, cap, path, "unlink");
        }
        return 0; /* nothing was there, nothing to make durable */
    }
    return fsync_dir(io, dir, err, cap);
}

int lwm2m_sf_sync(struct lwm2m_sf_store *s, char *err, size_t errcap) {
    if (s == NULL) {
        return LWM2M_ERR_INVALID;
    }
    if (s->path == NULL || !s->dirty) {
        return 0;
    }
    int rc = s->count == 0 ? remove_file(s->io, s->dir, s->path, err, errcap)
                           : write_file(s, err, errcap);
    if (rc == 0) {
        s->dirty = false;
    }
    return rc;
}

int lwm2m_sf_remove(const char *dir, const char *name, uint16_t ssid) {
    if (dir == NULL || name == NULL || name[0] == '\0') {
        return LWM2M_ERR_INVALID;
    }
    char *path = store_path(dir, name, ssid);
    char tmp[PATH_MAX];
    if (path == NULL || !path_with(path, ".tmp", tmp, sizeof(tmp))) {
        free(path);
        return LWM2M_ERR_NOMEM;
    }
    unlink(tmp);
    int rc = remove_file(&posix_io, dir, path, NULL, 0);
    free(path);
    return rc;
}

/* ---- open and close ------------------------------------------------------------------------ */

/* Reads the whole file; *buf NULL and 0 when there is none. A file beyond SF_FILE_MAX is
 * reported as too large (*too_big) and left for the caller to set aside. */
static int read_file(const char *path, uint8_t **buf, size_t *len, bool *too_big, char *err,
                     size_t cap) {
    *buf = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return errno == ENOENT ? 0 : io_fail(err, cap, path, "open");
    }
    struct stat st;
    int rc = fstat(fd, &st) != 0 ? io_fail(err, cap, path, "stat") : 0;
    *too_big = rc == 0 && (uint64_t)st.st_size > SF_FILE_MAX;
    size_t want = rc == 0 && !*too_big ? (size_t)st.st_size : 0;
    uint8_t *p = want > 0 ? malloc(want) : NULL;
    if (want > 0 && p == NULL) {
        rc = LWM2M_ERR_NOMEM;
    }
    size_t got = 0;
    while (rc == 0 && got < want) {
        ssize_t r = read(fd, p + got, want - got);
        if (r > 0) {
            got += (size_t)r;
        } else if (r == 0) {
            want = got; /* shrank under us: parse what is there */
        } else if (errno != EINTR) {
            rc = io_fail(err, cap, path, "read");
        }
    }
    close(fd);
    if (rc != 0) {
        free(p);
        return rc;
    }
    *buf = p;
    *len = got;
    return 0;
}

/* Renames a damaged file to <path>.corrupt (or .N.corrupt when that is taken) so that nothing
 * is deleted; writes the chosen name into aside. */
static int set_aside(const struct lwm2m_sf_store *s, char *aside, size_t asz, char *err,
                     size_t cap) {
    for (unsigned i = 0; i < 100; i++) {
        char suffix[24];
        snprintf(suffix, sizeof(suffix), i == 0 ? ".corrupt" : ".%u.corrupt", i);
        if (!path_with(s->path, suffix, aside, asz)) {
            break;
        }
        if (access(aside, F_OK) != 0 && errno == ENOENT) {
            if (s->io->rename(s->io->ctx, s->path, aside) != 0) {
                return io_fail(err, cap, s->path, "rename aside");
            }
            return fsync_dir(s->io, s->dir, err, cap);
        }
    }
    errf(err, cap, "%s: damaged, and no free name to move it aside", s->path);
    return LWM2M_ERR_IO;
}

/* Loads the store's file. Damage: the file goes aside and what survived is written back at
 * once, so the next start sees a clean file. Only a file that cannot be read or set aside fails. */
static int load_file(struct lwm2m_sf_store *s, char *err, size_t cap) {
    uint8_t *buf;
    size_t len;
    bool too_big = false;
    int rc = read_file(s->path, &buf, &len, &too_big, err, cap);
    if (rc != 0 || (buf == NULL && !too_big)) {
        return rc;
    }
    struct sf_report rep = {0, 0, NULL};
    if (too_big) {
        note_damage(s, &rep, SF_FILE_MAX, "file too large");
    } else {
        uint64_t before = s->dropped;
        rc = parse_image(s, buf, len, &rep);
        s->dirty = s->dropped != before; /* the limits shrank since the file was written */
    }
    free(buf);
    if (rc != 0 || rep.damaged == 0) {
        return rc;
    }
    char aside[PATH_MAX];
    rc = set_aside(s, aside, sizeof(aside), err, cap);
    if (rc != 0) {
        return rc;
    }
    s->dirty = true;
    char serr[256] = "";
    int src = lwm2m_sf_sync(s, serr, sizeof(serr));
    char what[512];
    format_report(s, &rep, s->path, what, sizeof(what));
    errf(err, cap, "%s; moved aside to %s%s%s", what, aside, src != 0 ? "; rewrite failed: " : "",
         serr);
    return 0;
}

static struct lwm2m_sf_store *store_new(const struct lwm2m_sf_cfg *cfg) {
    struct lwm2m_sf_store *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return NULL;
    }
    TAILQ_INIT(&s->q);
    s->lim.max_entries =
        cfg->limits.max_entries ? cfg->limits.max_entries : LWM2M_SF_DEFAULT_MAX_ENTRIES;
    s->lim.max_bytes = cfg->limits.max_bytes ? cfg->limits.max_bytes : LWM2M_SF_DEFAULT_MAX_BYTES;
    s->io = cfg->io != NULL ? cfg->io : &posix_io;
    s->clock = cfg->clock;
    s->ssid = cfg->ssid;
    s->next_id = 1;
    s->name = strdup(cfg->name);
    if (cfg->dir != NULL) {
        s->dir = strdup(cfg->dir);
        s->path = store_path(cfg->dir, cfg->name, cfg->ssid);
    }
    if (s->name == NULL || (cfg->dir != NULL && (s->dir == NULL || s->path == NULL))) {
        s->dirty = false;
        lwm2m_sf_close(s, NULL, 0);
        return NULL;
    }
    return s;
}

int lwm2m_sf_open(const struct lwm2m_sf_cfg *cfg, struct lwm2m_sf_store **out, char *err,
                  size_t errcap) {
    errf(err, errcap, "%s", "");
    if (out == NULL || cfg == NULL || cfg->name == NULL || cfg->name[0] == '\0' ||
        strlen(cfg->name) > UINT16_MAX) {
        return LWM2M_ERR_INVALID;
    }
    *out = NULL;
    struct stat st;
    if (cfg->dir != NULL && stat(cfg->dir, &st) != 0) {
        return io_fail(err, errcap, cfg->dir, "state directory");
    }
    if (cfg->dir != NULL && !S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return io_fail(err, errcap, cfg->dir, "state directory");
    }
    struct lwm2m_sf_store *s = store_new(cfg);
    if (s == NULL) {
        return LWM2M_ERR_NOMEM;
    }
    if (s->path != NULL) {
        char tmp[PATH_MAX];
        if (path_with(s->path, ".tmp", tmp, sizeof(tmp))) {
            unlink(tmp); /* a crash mid-sync; the real file is intact by construction */
        }
        int rc = load_file(s, err, errcap);
        if (rc != 0) {
            s->dirty = false; /* never overwrite a file we could not read */
            lwm2m_sf_close(s, NULL, 0);
            return rc;
        }
    }
    *out = s;
    return 0;
}

int lwm2m_sf_close(struct lwm2m_sf_store *s, char *err, size_t errcap) {
    if (s == NULL) {
        return 0;
    }
    int rc = s->path != NULL ? lwm2m_sf_sync(s, err, errcap) : 0;
    struct sf_node *nd;
    while ((nd = TAILQ_FIRST(&s->q)) != NULL) {
        TAILQ_REMOVE(&s->q, nd, link);
        free(nd);
    }
    free(s->name);
    free(s->dir);
    free(s->path);
    free(s);
    return rc;
}
