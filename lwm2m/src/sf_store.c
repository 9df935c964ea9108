/* SPDX-License-Identifier: Apache-2.0 */
/* The store-and-forward queue (sf_store.h): the in-memory FIFO of delivery units with its
 * bounds, the file of each (endpoint, server) in state_dir with its atomic rewrite, and the
 * setting aside of damaged files. The bytes of the file are sf_codec.c's. */
#include "sf_store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lwm2m/error.h"
#include "file_io.h"
#include "sf_codec.h"

#define SF_FILE_MAX (64u * 1024u * 1024u) /* beyond any sane limit: treated as damage */

struct lwm2m_sf_store {
    struct sf_queue q; /* oldest first; nodes owned */
    size_t count, bytes;
    uint64_t dropped, trimmed, damaged, next_id;
    struct lwm2m_sf_limits lim;
    const struct lwm2m_file_io *io;
    const struct coap_clock *clock;
    bool dirty;
    uint16_t ssid;
    char *name; /* owned copies; dir and path NULL for a memory-only store */
    char *dir;
    char *path;
};

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

/* ---- the queue ----------------------------------------------------------------------------- */

static void drop_node(struct lwm2m_sf_store *s, struct sf_node *nd) {
    TAILQ_REMOVE(&s->q, nd, link);
    s->count--;
    s->bytes -= nd->disk;
    s->dirty = true;
    free(nd);
}

static void drop_head(struct lwm2m_sf_store *s) {
    drop_node(s, TAILQ_FIRST(&s->q));
}

static bool same_obs(const struct sf_node *a, const struct sf_node *b) {
    return a->e.kind == LWM2M_SF_NOTIFY && b->e.kind == LWM2M_SF_NOTIFY &&
           a->e.token_len == b->e.token_len && memcmp(a->e.token, b->e.token, a->e.token_len) == 0;
}

/* The observation's own bound (hqmax): drops its oldest entries until fewer than max_same are
 * left, so that nd makes max_same at most. One walk from the newest end: the entries past the
 * first max_same − 1 of nd's observation are the ones to go. */
static void trim_obs(struct lwm2m_sf_store *s, const struct sf_node *nd, uint32_t max_same) {
    uint32_t seen = 0;
    struct sf_node *it = TAILQ_LAST(&s->q, sf_queue), *prev;
    for (; it != NULL; it = prev) {
        prev = TAILQ_PREV(it, sf_queue, link);
        if (!same_obs(it, nd) || ++seen < max_same)
            continue;
        drop_node(s, it);
        s->trimmed++;
    }
}

/* Appends nd (taking it): first, with max_same > 0, within its observation's bound; then,
 * dropping the oldest entries of any kind, within the store's limits. */
static void admit(struct lwm2m_sf_store *s, struct sf_node *nd, uint32_t max_same) {
    if (nd->disk > s->lim.max_bytes) {
        s->dropped++;
        free(nd);
        return;
    }
    if (max_same > 0) {
        trim_obs(s, nd, max_same);
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
/* Checks recs (and their Device IDs, when given) and sums their sizes; stops adding past
 * max_bytes so nothing can overflow. Returns 0, LWM2M_ERR_INVALID or LWM2M_ERR_NOSPACE. */
static int measure(const struct lwm2m_sf_store *s, size_t token_len,
                   const struct lwm2m_record *recs, const char *const *ids, size_t n, size_t *disk,
                   size_t *nbytes) {
    size_t sum = SF_ENTRY_OVERHEAD + SF_BODY_FIXED + token_len;
    size_t bytes = 0;
    int rc = sum > s->lim.max_bytes ? LWM2M_ERR_NOSPACE : 0;
    for (size_t i = 0; i < n; i++) {
        if (!sf_record_ok(&recs[i]) ||
            (ids != NULL && (ids[i] == NULL || strlen(ids[i]) > UINT16_MAX))) {
            return LWM2M_ERR_INVALID;
        }
        const struct lwm2m_value *v = &recs[i].value;
        size_t blen = sf_has_bytes(v->type) ? v->v.bytes.len : 0;
        size_t rsize = sf_record_size(&recs[i]) + (ids != NULL ? sf_dev_id_size(ids[i]) : 0);
        blen += ids != NULL ? strlen(ids[i]) + 1 : 0; /* the copy with its NUL */
        if (rc != 0 || blen > s->lim.max_bytes || rsize > s->lim.max_bytes - sum) {
            rc = LWM2M_ERR_NOSPACE; /* keep checking: INVALID wins over NOSPACE */
            continue;
        }
        sum += rsize;
        bytes += blen;
    }
    *disk = sum;
    *nbytes = bytes;
    return rc;
}

/* Copies recs (stamped now when they have no time) and their bytes into nd, and the Device IDs
 * after them. */
static void fill_node(struct sf_node *nd, const struct lwm2m_record *recs,
                      const char *const *dev_ids, double now) {
    uint8_t *tail = sf_node_tail(nd);
    const char **ids = sf_node_ids(nd);
    for (size_t i = 0; i < nd->e.nrecs; i++) {
        struct lwm2m_record *r = &nd->recs[i];
        *r = recs[i];
        if (!r->has_time) {
            r->time = now;
            r->has_time = true;
        }
        if (sf_has_bytes(r->value.type) && r->value.v.bytes.len > 0) {
            memcpy(tail, r->value.v.bytes.ptr, r->value.v.bytes.len);
            r->value.v.bytes.ptr = tail;
            tail += r->value.v.bytes.len;
        }
        if (ids != NULL) {
            size_t len = strlen(dev_ids[i]) + 1;
            memcpy(tail, dev_ids[i], len);
            ids[i] = (const char *)tail;
            tail += len;
        }
    }
}

/* The push of every variant: max_same > 0 bounds the entries of a notification's observation. */
static int push_entry(struct lwm2m_sf_store *s, enum lwm2m_sf_kind kind, const uint8_t *token,
                      size_t token_len, const struct lwm2m_record *recs, const char *const *dev_ids,
                      size_t n, uint32_t max_same) {
    if (s == NULL || (kind != LWM2M_SF_NOTIFY && kind != LWM2M_SF_SEND) ||
        token_len > LWM2M_SF_TOKEN_MAX || (token_len > 0 && token == NULL) || recs == NULL ||
        n == 0 || n > UINT32_MAX) {
        return LWM2M_ERR_INVALID;
    }
    size_t disk, nbytes;
    int rc = measure(s, token_len, recs, dev_ids, n, &disk, &nbytes);
    if (rc == LWM2M_ERR_NOSPACE) {
        s->dropped++; /* the value is lost: count it like any other drop */
    }
    if (rc != 0) {
        return rc;
    }
    struct sf_node *nd = sf_node_new(n, dev_ids != NULL, nbytes);
    if (nd == NULL) {
        return LWM2M_ERR_NOMEM;
    }
    nd->disk = disk;
    nd->e.kind = (uint8_t)kind;
    nd->e.token_len = (uint8_t)token_len;
    if (token_len > 0) {
        memcpy(nd->e.token, token, token_len);
    }
    fill_node(nd, recs, dev_ids, (double)coap_clock_real_ms(s->clock) / 1000.0);
    admit(s, nd, max_same);
    return 0;
}

int lwm2m_sf_push_devs(struct lwm2m_sf_store *s, enum lwm2m_sf_kind kind, const uint8_t *token,
                       size_t token_len, const struct lwm2m_record *recs,
                       const char *const *dev_ids, size_t n) {
    return push_entry(s, kind, token, token_len, recs, dev_ids, n, 0);
}

int lwm2m_sf_push_obs(struct lwm2m_sf_store *s, const uint8_t *token, size_t token_len,
                      uint32_t max_same, const struct lwm2m_record *recs,
                      const char *const *dev_ids, size_t n) {
    return push_entry(s, LWM2M_SF_NOTIFY, token, token_len, recs, dev_ids, n, max_same);
}

int lwm2m_sf_push(struct lwm2m_sf_store *s, enum lwm2m_sf_kind kind, const uint8_t *token,
                  size_t token_len, const struct lwm2m_record *recs, size_t n) {
    return lwm2m_sf_push_devs(s, kind, token, token_len, recs, NULL, n);
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

uint64_t lwm2m_sf_trimmed(const struct lwm2m_sf_store *s) {
    return s->trimmed;
}

uint64_t lwm2m_sf_damaged(const struct lwm2m_sf_store *s) {
    return s->damaged;
}

bool lwm2m_sf_dirty(const struct lwm2m_sf_store *s) {
    return s->dirty && s->path != NULL; /* a memory-only store has nothing to write */
}

/* ---- file images (the bytes are sf_codec.c's) ---------------------------------------------- */

int lwm2m_sf_encode(const struct lwm2m_sf_store *s, uint8_t **out, size_t *len) {
    return sf_encode_image(s->name, s->ssid, &s->q, s->bytes, out, len);
}

static void admit_cb(void *ctx, struct sf_node *nd) {
    admit(ctx, nd, 0); /* the observations are gone after a restart: only the store's limits */
}

/* Appends the entries of a file image, skipping damaged ones (counted in s and rep). NOMEM is
 * the only error. The caller formats the report (it knows the file name). */
static int load_image(struct lwm2m_sf_store *s, const uint8_t *p, size_t n, struct sf_report *rep) {
    int rc = sf_parse_image(p, n, s->name, s->ssid, admit_cb, s, rep);
    s->damaged += rep->damaged;
    return rc;
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
    int rc = load_image(s, buf, len, &rep);
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

int lwm2m_sf_file_name(const char *name, uint16_t ssid, char *out, size_t cap) {
    char suffix[16];
    snprintf(suffix, sizeof(suffix), ".%u.sfq", ssid);
    return lwm2m_file_name(name, suffix, out, cap);
}

/* malloc'd "<dir>/<file name of (name, ssid)>", or NULL. */
static char *store_path(const char *dir, const char *name, uint16_t ssid) {
    char suffix[16];
    snprintf(suffix, sizeof(suffix), ".%u.sfq", ssid);
    return lwm2m_file_path(dir, name, suffix);
}

/* "<path><suffix>" into buf; false when it does not fit. */
static bool path_with(const char *path, const char *suffix, char *buf, size_t cap) {
    int w = snprintf(buf, cap, "%s%s", path, suffix);
    return w >= 0 && (size_t)w < cap;
}

static int write_file(struct lwm2m_sf_store *s, char *err, size_t cap) {
    uint8_t *img;
    size_t n;
    int rc = lwm2m_sf_encode(s, &img, &n);
    if (rc != 0) {
        errf(err, cap, "%s: %s", s->path, lwm2m_strerror(rc));
        return rc;
    }
    rc = lwm2m_file_write_atomic(s->io, s->dir, s->path, img, n, err, cap);
    free(img);
    return rc;
}

int lwm2m_sf_sync(struct lwm2m_sf_store *s, char *err, size_t errcap) {
    if (s == NULL) {
        return LWM2M_ERR_INVALID;
    }
    if (s->path == NULL || !s->dirty) {
        return 0;
    }
    int rc = s->count == 0 ? lwm2m_file_remove(s->io, s->dir, s->path, err, errcap)
                           : write_file(s, err, errcap);
    if (rc == 0) {
        s->dirty = false;
    }
    return rc;
}

/* One group of a batch: the dirty stores among stores[from..n) (marked in todo) that share
 * stores[from]'s directory and io, written with one barrier. Returns the failures. */
static size_t sync_group(struct lwm2m_sf_store *const *stores, size_t from, size_t n, bool *todo,
                         int *rcs, struct lwm2m_file_op *ops, size_t *idx, char *err, size_t cap) {
    const struct lwm2m_sf_store *g = stores[from];
    size_t m = 0, nfail = 0;
    for (size_t i = from; i < n; i++) {
        struct lwm2m_sf_store *s = stores[i];
        if (!todo[i] || s->io != g->io || strcmp(s->dir, g->dir) != 0)
            continue;
        todo[i] = false;
        uint8_t *img = NULL;
        size_t len = 0;
        int rc = s->count > 0 ? lwm2m_sf_encode(s, &img, &len) : 0;
        if (rc != 0) {
            rcs[i] = rc;
            errf(nfail++ == 0 ? err : NULL, cap, "%s: %s", s->path, lwm2m_strerror(rc));
            continue;
        }
        ops[m] = (struct lwm2m_file_op){.path = s->path, .img = img, .n = len};
        idx[m++] = i;
    }
    size_t first = nfail;
    nfail += lwm2m_file_write_batch(g->io, g->dir, ops, m, first == 0 ? err : NULL, cap);
    for (size_t k = 0; k < m; k++) {
        rcs[idx[k]] = ops[k].rc;
        if (ops[k].rc == 0)
            stores[idx[k]]->dirty = false;
        free((void *)ops[k].img);
    }
    return nfail;
}

size_t lwm2m_sf_sync_batch(struct lwm2m_sf_store *const *stores, size_t n, int *rcs, char *err,
                           size_t errcap) {
    errf(err, errcap, "%s", "");
    bool *todo = calloc(n > 0 ? n : 1, sizeof(*todo));
    struct lwm2m_file_op *ops = malloc((n > 0 ? n : 1) * sizeof(*ops));
    size_t *idx = malloc((n > 0 ? n : 1) * sizeof(*idx));
    size_t nfail = 0;
    for (size_t i = 0; i < n; i++) {
        rcs[i] = 0;
        bool dirty = stores[i] != NULL && lwm2m_sf_dirty(stores[i]);
        if (dirty && (todo == NULL || ops == NULL || idx == NULL)) {
            rcs[i] = LWM2M_ERR_NOMEM;
            errf(nfail++ == 0 ? err : NULL, errcap, "%s: %s", stores[i]->path,
                 lwm2m_strerror(LWM2M_ERR_NOMEM));
        } else if (dirty) {
            todo[i] = true;
        }
    }
    for (size_t i = 0; todo != NULL && i < n; i++)
        if (todo[i])
            nfail += sync_group(stores, i, n, todo, rcs, ops, idx, nfail == 0 ? err : NULL, errcap);
    free(todo);
    free(ops);
    free(idx);
    return nfail;
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
    int rc = lwm2m_file_remove(NULL, dir, path, NULL, 0);
    free(path);
    return rc;
}

/* ---- open and close ------------------------------------------------------------------------ */

/* Loads the store's file. Damage: the file goes aside and what survived is written back at
 * once, so the next start sees a clean file. Only a file that cannot be read or set aside fails. */
static int load_file(struct lwm2m_sf_store *s, char *err, size_t cap) {
    uint8_t *buf;
    size_t len;
    bool too_big = false;
    int rc = lwm2m_file_read(s->path, SF_FILE_MAX, &buf, &len, &too_big, err, cap);
    if (rc != 0 || (buf == NULL && !too_big)) {
        return rc;
    }
    struct sf_report rep = {0, 0, NULL};
    if (too_big) {
        sf_report_damage(&rep, SF_FILE_MAX, "file too large");
        s->damaged++;
    } else {
        uint64_t before = s->dropped;
        rc = load_image(s, buf, len, &rep);
        s->dirty = s->dropped != before; /* the limits shrank since the file was written */
    }
    free(buf);
    if (rc != 0 || rep.damaged == 0) {
        return rc;
    }
    char aside[PATH_MAX];
    rc = lwm2m_file_set_aside(s->io, s->dir, s->path, aside, sizeof(aside), err, cap);
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
    s->io = cfg->io != NULL ? cfg->io : &lwm2m_file_posix_io;
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

int lwm2m_sf_discard(struct lwm2m_sf_store *s) {
    if (s == NULL) {
        return 0;
    }
    struct sf_node *nd;
    while ((nd = TAILQ_FIRST(&s->q)) != NULL) {
        TAILQ_REMOVE(&s->q, nd, link);
        free(nd);
    }
    s->count = 0;
    s->bytes = 0;
    s->dirty = true; /* the close's sync of an empty queue removes the file */
    return lwm2m_sf_close(s, NULL, 0);
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
