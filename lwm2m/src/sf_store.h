/* SPDX-License-Identifier: Apache-2.0 */
/* Store-and-forward queue of one (endpoint, server): values due for Notify or Send while the
 * server is unreachable or the endpoint sleeps, kept in order, bounded in entries and bytes and
 * per observation (hqmax; oldest dropped first, counted) and persisted in state_dir. Internal to
 * the engine. */
#ifndef LWM2M_SF_STORE_H
#define LWM2M_SF_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lwm2m/clock.h"
#include "file_io.h"
#include "lwm2m/format.h"

/* Durability contract (read this before calling):
 * - push/pop change memory only and mark the store dirty. lwm2m_sf_sync() writes the whole
 *   queue to a temp file in the same directory, fsyncs it, renames it over the store's file and
 *   fsyncs the directory. lwm2m_sf_sync_batch() does the same for many stores with one syncfs
 *   and one directory fsync. The engine (sf_flush.c) collects dirty stores and syncs them in
 *   batches on a timer (lwm2m_report_cfg.store_sync_ms), and each store once more when it is
 *   closed, so a crash loses at most what was pushed since the last successful sync.
 * - On disk there is always either the previous complete file or the new one, never a mix.
 *   A failed sync leaves the old file and the memory queue untouched and the store dirty.
 * - A pop not yet synced comes back after a crash: delivery is at-least-once; the records'
 *   timestamps let a server recognise a repeat.
 * - Loading verifies every entry (own length and CRC32); damaged entries are skipped one by one,
 *   the file is renamed aside to *.corrupt (never deleted) and what survived is rewritten.
 *
 * Typical use by the engine: a value due while the server is unreachable (or the endpoint
 * sleeps) -> lwm2m_sf_push(); once per loop pass, lwm2m_sf_sync() on stores that are
 * lwm2m_sf_dirty(); after reconnection, in a loop: lwm2m_sf_peek(), encode e->recs as SenML
 * with their times (the payload copies the bytes; a cross-device entry names each record under
 * the prefix its e->dev_ids device has now), send, and on success lwm2m_sf_pop(s, e->id). */

#define LWM2M_SF_DEFAULT_MAX_ENTRIES 1000u
#define LWM2M_SF_DEFAULT_MAX_BYTES   (256u * 1024u)
#define LWM2M_SF_TOKEN_MAX           8u

enum lwm2m_sf_kind {
    LWM2M_SF_NOTIFY = 1, /* a notification of the observation named by the entry's token */
    LWM2M_SF_SEND = 2,   /* a Send (LwM2M 1.1+), no token */
};

/* Bounds of one store; 0 in a field means its default. bytes counts the entries' encoded size
 * (what the file holds); the memory used is about twice that (decoded records plus copies). */
struct lwm2m_sf_limits {
    uint32_t max_entries;
    uint32_t max_bytes;
};

struct lwm2m_sf_cfg {
    const char *dir;  /* state_dir (must exist); NULL keeps the queue in memory only */
    const char *name; /* endpoint name, copied; names the file (sanitized) */
    uint16_t ssid;    /* the server's Short Server ID; part of the file name */
    struct lwm2m_sf_limits limits;
    const struct coap_clock *clock; /* borrowed; NULL = system. Stamps records without time */
    const struct lwm2m_file_io *io; /* borrowed; NULL = POSIX (file_io.h) */
};

/* One delivery unit as the store hands it out. recs (and their string/opaque bytes) and dev_ids
 * (and their strings) are owned by the store and borrowed until the next push, pop or close on
 * that store. */
struct lwm2m_sf_entry {
    uint64_t id;  /* unique within the store for this process's lifetime; give it to pop */
    uint8_t kind; /* enum lwm2m_sf_kind */
    uint8_t token_len;
    uint8_t token[LWM2M_SF_TOKEN_MAX];
    size_t nrecs;
    const struct lwm2m_record *recs; /* every one with has_time */
    /* Gateway mode, a cross-device entry (lwm2m_sf_push_devs): dev_ids[i] is the Device ID of
     * the device recs[i] belongs to ("" = the gateway itself); names without the device's path
     * prefix. NULL for an ordinary entry. Such entries make the file format version 2. */
    const char *const *dev_ids;
};

struct lwm2m_sf_store;

/* Opens the store of (cfg->name, cfg->ssid) and loads its file if there is one. Returns 0 and
 * *out (the caller closes it) or a negative error with *out NULL: LWM2M_ERR_INVALID (cfg),
 * LWM2M_ERR_IO (dir missing, file unreadable), LWM2M_ERR_NOMEM. A damaged file is not an error:
 * the store opens with what survived and err (when given) says "<file>: offset N: what; ...";
 * err is "" after a clean load. One open store per file: two would overwrite each other. */
int lwm2m_sf_open(const struct lwm2m_sf_cfg *cfg, struct lwm2m_sf_store **out, char *err,
                  size_t errcap);

/* Syncs (see lwm2m_sf_sync), frees the store and everything it handed out. Returns the sync's
 * result; the store is freed either way. NULL is ignored. */
int lwm2m_sf_close(struct lwm2m_sf_store *s, char *err, size_t errcap);

/* Appends one delivery unit: n >= 1 records, copied with their bytes (recs is borrowed for the
 * call only); records without has_time get the clock's current time. Older entries are dropped
 * (and counted) until the new one fits. Returns 0, LWM2M_ERR_INVALID (n == 0, bad kind, token
 * longer than 8, a path deeper than 4, an unknown value type), LWM2M_ERR_NOSPACE (the entry
 * alone exceeds max_bytes: it is counted as dropped and nothing else is touched) or
 * LWM2M_ERR_NOMEM (nothing changed). */
int lwm2m_sf_push(struct lwm2m_sf_store *s, enum lwm2m_sf_kind kind, const uint8_t *token,
                  size_t token_len, const struct lwm2m_record *recs, size_t n);

/* lwm2m_sf_push for a cross-device entry when dev_ids is not NULL: dev_ids[0..n) (borrowed for
 * the call, copied) names each record's device by its Device ID, because a device's prefix may
 * change before delivery and its ID does not. Also LWM2M_ERR_INVALID for a NULL ID or one longer
 * than 65535 bytes. dev_ids NULL is lwm2m_sf_push. */
int lwm2m_sf_push_devs(struct lwm2m_sf_store *s, enum lwm2m_sf_kind kind, const uint8_t *token,
                       size_t token_len, const struct lwm2m_record *recs,
                       const char *const *dev_ids, size_t n);

/* lwm2m_sf_push_devs of a notification (LWM2M_SF_NOTIFY) whose observation, named by its token,
 * keeps at most max_same entries (its hqmax, TS Core 1.2 §5.1.2): the oldest entries of that
 * observation are dropped first (counted in lwm2m_sf_trimmed, not in lwm2m_sf_dropped) until the
 * new one makes max_same; then the store's bounds apply as to any push. The entry being
 * delivered may be among those dropped (the caller compares the head's id). max_same 0: no
 * bound of its own. Entries loaded from a file are bound by the store's limits only. */
int lwm2m_sf_push_obs(struct lwm2m_sf_store *s, const uint8_t *token, size_t token_len,
                      uint32_t max_same, const struct lwm2m_record *recs,
                      const char *const *dev_ids, size_t n);

/* The oldest entry, borrowed (see struct lwm2m_sf_entry). Returns 0 or LWM2M_ERR_NOTFOUND when
 * the queue is empty. */
int lwm2m_sf_peek(const struct lwm2m_sf_store *s, const struct lwm2m_sf_entry **out);

/* Removes the oldest entry once it is delivered, if its id is still id: a push during delivery
 * may have dropped it, and then the new head must stay. Returns 0 or LWM2M_ERR_NOTFOUND. */
int lwm2m_sf_pop(struct lwm2m_sf_store *s, uint64_t id);

/* Writes the queue if it changed since the last successful sync (atomically, see above); an
 * empty queue removes the file. No-op for a memory-only store. Returns 0 or LWM2M_ERR_IO /
 * LWM2M_ERR_NOMEM with err (when given) naming the file, the step and errno's text. */
int lwm2m_sf_sync(struct lwm2m_sf_store *s, char *err, size_t errcap);

/* lwm2m_sf_sync of every dirty store of stores[0..n) (NULL, clean and memory-only ones are
 * skipped), each with the guarantee above but made durable together: the stores of one
 * directory go to lwm2m_file_write_batch (one syncfs and one directory fsync for all). rcs[i]
 * gets store i's result (0, LWM2M_ERR_IO or LWM2M_ERR_NOMEM); a store that failed stays dirty
 * and its file untouched, the others are written. Returns how many failed; err (when given) gets
 * the first failure's text. */
size_t lwm2m_sf_sync_batch(struct lwm2m_sf_store *const *stores, size_t n, int *rcs, char *err,
                           size_t errcap);

size_t lwm2m_sf_count(const struct lwm2m_sf_store *s);
size_t lwm2m_sf_bytes(const struct lwm2m_sf_store *s);     /* encoded size of the entries */
uint64_t lwm2m_sf_dropped(const struct lwm2m_sf_store *s); /* entries lost to the limits */
uint64_t lwm2m_sf_trimmed(const struct lwm2m_sf_store *s); /* ... to an observation's bound */
uint64_t lwm2m_sf_damaged(const struct lwm2m_sf_store *s); /* damaged regions skipped at load */
bool lwm2m_sf_dirty(const struct lwm2m_sf_store *s);       /* changes not yet synced */

/* Empties the store, deletes its file (an endpoint removed for good: nothing of it is to be
 * delivered) and frees it like lwm2m_sf_close. Returns 0 or LWM2M_ERR_IO (the file stays; the
 * memory is freed either way). NULL is ignored. */
int lwm2m_sf_discard(struct lwm2m_sf_store *s);

/* Deletes the store file of (name, ssid) for an endpoint removed for good (also a leftover temp
 * file), and fsyncs the directory. Returns 0 (also when there was no file) or LWM2M_ERR_IO. */
int lwm2m_sf_remove(const char *dir, const char *name, uint16_t ssid);

/* Writes the file name (no directory) used for (name, ssid) into out: the name with every byte
 * outside [A-Za-z0-9_-] as %XX (long names cut, plus a hash), then ".<ssid>.sfq". Returns the
 * length or LWM2M_ERR_NOSPACE. 256 bytes always suffice. */
int lwm2m_sf_file_name(const char *name, uint16_t ssid, char *out, size_t cap);

/* ---- codec entry points (the loader without files: fuzzing, tests) ----------------------- */

/* Appends the entries of a file image to s (then applies the limits). Damage is skipped as at
 * open; err gets the same text. Returns 0 when clean, LWM2M_ERR_FORMAT when something was
 * skipped (s then holds what survived), LWM2M_ERR_NOMEM. */
int lwm2m_sf_load_mem(struct lwm2m_sf_store *s, const uint8_t *buf, size_t len, char *err,
                      size_t errcap);
/* Encodes s as a file image into a malloc'd buffer the caller frees. 0 or LWM2M_ERR_NOMEM. */
int lwm2m_sf_encode(const struct lwm2m_sf_store *s, uint8_t **out, size_t *len);

#endif /* LWM2M_SF_STORE_H */
