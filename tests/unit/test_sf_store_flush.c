/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the engine-wide store-and-forward flush (sf_flush.c) and the batched write
 * under it (lwm2m_sf_sync_batch, lwm2m_file_write_batch): with a mock clock and an I/O layer
 * that counts every write, fsync, syncfs and rename (and fails on request), N changed queues are
 * written as one batch per interval, nothing between ticks, a large round in bounded chunks, a
 * failure stays dirty for the next round, and a clean stop writes everything at once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "engine_internal.h"
#include "lwm2m/model.h"
#include "sf_store.h"

#define NMAX 700

/* ---- an I/O layer that counts, and fails the rename of one file or every syncfs ------------ */

struct io_count {
    size_t writes, fsyncs, renames, syncfs, fdatasyncs;
    const char *fail_rename; /* a rename to a path ending with this fails (EIO) */
    bool fail_syncfs;
};

static ssize_t c_write(void *ctx, int fd, const void *buf, size_t len) {
    ((struct io_count *)ctx)->writes++;
    return write(fd, buf, len);
}

static int c_fsync(void *ctx, int fd) {
    ((struct io_count *)ctx)->fsyncs++;
    return fsync(fd);
}

static int c_rename(void *ctx, const char *from, const char *to) {
    struct io_count *c = ctx;
    size_t n = strlen(to), m = c->fail_rename != NULL ? strlen(c->fail_rename) : 0;
    c->renames++;
    if (m > 0 && n >= m && strcmp(to + n - m, c->fail_rename) == 0) {
        errno = EIO;
        return -1;
    }
    return rename(from, to);
}

static int c_syncfs(void *ctx, int fd) {
    struct io_count *c = ctx;
    c->syncfs++;
    if (c->fail_syncfs) {
        errno = ENOSYS;
        return -1;
    }
    return syncfs(fd);
}

static int c_fdatasync(void *ctx, int fd) {
    ((struct io_count *)ctx)->fdatasyncs++;
    return fdatasync(fd);
}

static uint64_t mock_ms(void *ctx) {
    return *(uint64_t *)ctx;
}

/* ---- fixture: an engine on a mock clock, n stores in a temp dir, each with its flush node --- */

struct fx {
    char dir[64];
    uint64_t now;
    struct coap_clock clock;
    struct event_base *base;
    struct lwm2m_model *model;
    struct lwm2m_engine *eng;
    struct io_count c;
    struct lwm2m_file_io io;
    size_t n;
    struct lwm2m_sf_store *s[NMAX];
    struct lwm2m_keep_dirty d[NMAX];
};

static int fx_setup(void **state) {
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    strcpy(f->dir, "/tmp/test_sf_flush.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->now = 1000000;
    f->clock = (struct coap_clock){mock_ms, mock_ms, &f->now};
    f->base = event_base_new();
    assert_int_equal(lwm2m_model_new(&f->model), 0);
    lwm2m_model_seal(f->model);
    struct lwm2m_engine_cfg cfg = {.base = f->base, .clock = &f->clock, .model = f->model};
    assert_int_equal(lwm2m_engine_new(&cfg, &f->eng), 0);
    f->io = (struct lwm2m_file_io){.write = c_write,
                                   .fsync = c_fsync,
                                   .rename = c_rename,
                                   .ctx = &f->c,
                                   .syncfs = c_syncfs,
                                   .fdatasync = c_fdatasync};
    *state = f;
    return 0;
}

/* Opens n stores "ep-<i>" (server 1) on the counting io, each with its flush node. */
static void open_stores(struct fx *f, size_t n) {
    for (size_t i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof(name), "ep-%zu", i);
        struct lwm2m_sf_cfg c = {.dir = f->dir, .name = name, .ssid = 1, .io = &f->io};
        assert_int_equal(lwm2m_sf_open(&c, &f->s[i], NULL, 0), 0);
        f->d[i] = (struct lwm2m_keep_dirty){.store = f->s[i]};
    }
    f->n = n;
}

static int fx_teardown(void **state) {
    struct fx *f = *state;
    for (size_t i = 0; i < f->n; i++) {
        lwm2m_keep_unmark(f->eng, &f->d[i]);
        lwm2m_sf_close(f->s[i], NULL, 0);
    }
    lwm2m_engine_free(f->eng);
    lwm2m_model_free(f->model);
    event_base_free(f->base);
    DIR *d = opendir(f->dir);
    struct dirent *de;
    while (d != NULL && (de = readdir(d)) != NULL) {
        char p[600];
        snprintf(p, sizeof(p), "%s/%s", f->dir, de->d_name);
        if (de->d_name[0] != '.')
            unlink(p);
    }
    if (d != NULL)
        closedir(d);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* A value into store i (its node marked, as the queue's pass does). */
static void push(struct fx *f, size_t i, double v) {
    struct lwm2m_record r = {.path = {.ids = {3303, 0, 5700}, .len = 3},
                             .value = lwm2m_value_float(v),
                             .has_time = true,
                             .time = 1.7e9};
    assert_int_equal(lwm2m_sf_push(f->s[i], LWM2M_SF_NOTIFY, (const uint8_t *)"t", 1, &r, 1), 0);
    lwm2m_keep_mark(f->eng, &f->d[i]);
}

static bool file_exists(const struct fx *f, size_t i) {
    char name[32], file[256], path[400];
    snprintf(name, sizeof(name), "ep-%zu", i);
    assert_true(lwm2m_sf_file_name(name, 1, file, sizeof(file)) > 0);
    snprintf(path, sizeof(path), "%s/%s", f->dir, file);
    return access(path, F_OK) == 0;
}

/* Entries in the file of store i, read by a store of its own (the real loader). */
static size_t entries_on_disk(const struct fx *f, size_t i) {
    char name[32], dir[96];
    snprintf(name, sizeof(name), "ep-%zu", i);
    snprintf(dir, sizeof(dir), "%s/check", f->dir);
    mkdir(dir, 0700);
    char file[256], from[400], to[400];
    assert_true(lwm2m_sf_file_name(name, 1, file, sizeof(file)) > 0);
    snprintf(from, sizeof(from), "%s/%s", f->dir, file);
    snprintf(to, sizeof(to), "%s/%s", dir, file);
    /* a copy, so that the store under test keeps its own file to itself */
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    assert_non_null(in);
    assert_non_null(out);
    char buf[4096];
    size_t k;
    while ((k = fread(buf, 1, sizeof(buf), in)) > 0)
        assert_int_equal(fwrite(buf, 1, k, out), k);
    fclose(in);
    fclose(out);
    struct lwm2m_sf_store *s;
    struct lwm2m_sf_cfg c = {.dir = dir, .name = name, .ssid = 1};
    assert_int_equal(lwm2m_sf_open(&c, &s, NULL, 0), 0);
    size_t n = lwm2m_sf_count(s);
    lwm2m_sf_discard(s);
    rmdir(dir);
    return n;
}

/* ---- tests ------------------------------------------------------------------------------------
 */

/* 50 queues change, twice each, between ticks: nothing is written before the interval is up,
 * then all 50 in one batch: one syncfs, one directory fsync, no per-file fsync, 50 renames. */
static void test_one_batch_per_interval(void **state) {
    struct fx *f = *state;
    open_stores(f, 50);
    for (size_t i = 0; i < 50; i++) {
        push(f, i, 1.0);
        push(f, i, 2.0);
    }
    assert_int_equal(f->eng->keep_flush.dirty.n, 50); /* each listed once */
    assert_int_equal(f->c.writes + f->c.fsyncs + f->c.syncfs + f->c.renames, 0);
    f->now += 999; /* the default interval is 1 s */
    assert_int_equal(lwm2m_keep_flush_tick(f->eng), 0);
    assert_int_equal(f->c.writes + f->c.fsyncs + f->c.syncfs + f->c.renames, 0);
    assert_false(file_exists(f, 0));
    f->now += 1;
    assert_int_equal(lwm2m_keep_flush_tick(f->eng), 50);
    assert_int_equal(f->c.syncfs, 1);
    assert_int_equal(f->c.fsyncs, 1); /* the directory, once */
    assert_int_equal(f->c.fdatasyncs, 0);
    assert_int_equal(f->c.renames, 50);
    assert_int_equal(f->eng->report_stats.kept_syncs, 1);
    assert_int_equal(f->eng->report_stats.kept_synced, 50);
    for (size_t i = 0; i < 50; i++)
        assert_false(lwm2m_sf_dirty(f->s[i]));
    assert_int_equal(entries_on_disk(f, 0), 2);
    assert_int_equal(entries_on_disk(f, 49), 2);
    /* nothing changed: later ticks write nothing */
    f->now += 5000;
    assert_int_equal(lwm2m_keep_flush_tick(f->eng), 0);
    assert_int_equal(f->c.syncfs, 1);
    /* three change: the next batch is theirs alone, an interval after the first change */
    push(f, 3, 3.0);
    f->now += 500;
    push(f, 7, 3.0);
    push(f, 9, 3.0);
    f->now += 499;
    assert_int_equal(lwm2m_keep_flush_tick(f->eng), 0);
    f->now += 1;
    assert_int_equal(lwm2m_keep_flush_tick(f->eng), 3);
    assert_int_equal(f->c.syncfs, 2);
    assert_int_equal(f->c.renames, 53);
    assert_int_equal(entries_on_disk(f, 7), 3);
}

/* The interval comes from the report config (store_sync_ms): 250 ms here. */
static void test_interval_configured(void **state) {
    struct fx *f = *state;
    open_stores(f, 2);
    f->eng->keep_flush.sync_ms = 250;
    push(f, 0, 1.0);
    f->now += 249;
    assert_int_equal(lwm2m_keep_flush_tick(f->eng), 0);
    f->now += 1;
    assert_int_equal(lwm2m_keep_flush_tick(f->eng), 1);
    assert_int_equal(f->c.syncfs, 1);
}

/* One queue's write fails (its rename): the others are written, it stays dirty with its old
 * file (none here) untouched and waits for the next round, which writes it. */
static void test_failure_stays_dirty(void **state) {
    struct fx *f = *state;
    open_stores(f, 5);
    char file[256];
    assert_true(lwm2m_sf_file_name("ep-2", 1, file, sizeof(file)) > 0);
    f->c.fail_rename = file;
    for (size_t i = 0; i < 5; i++)
        push(f, i, 1.0);
    f->now += 1000;
    assert_int_equal(lwm2m_keep_flush_tick(f->eng), 4);
    assert_int_equal(f->eng->report_stats.kept_sync_err, 1);
    assert_true(lwm2m_sf_dirty(f->s[2]));
    assert_false(file_exists(f, 2));
    assert_false(lwm2m_sf_dirty(f->s[1]));
    assert_true(file_exists(f, 1) && file_exists(f, 3));
    assert_int_equal(f->eng->keep_flush.dirty.n, 1); /* listed for the next round */
    assert_int_equal(f->eng->keep_flush.round.n, 0);
    /* no temp file left behind */
    char tmp[400];
    snprintf(tmp, sizeof(tmp), "%s/%s.tmp", f->dir, file);
    assert_int_not_equal(access(tmp, F_OK), 0);
    f->c.fail_rename = NULL;
    assert_int_equal(lwm2m_keep_flush_tick(f->eng), 0); /* not before its interval */
    f->now += 1000;
    assert_int_equal(lwm2m_keep_flush_tick(f->eng), 1);
    assert_false(lwm2m_sf_dirty(f->s[2]));
    assert_int_equal(entries_on_disk(f, 2), 1);
}

/* syncfs unavailable: the batch falls back to one fdatasync per file, still one directory
 * fsync, and everything is written. */
static void test_syncfs_fallback(void **state) {
    struct fx *f = *state;
    open_stores(f, 4);
    f->c.fail_syncfs = true;
    for (size_t i = 0; i < 4; i++)
        push(f, i, 1.0);
    f->now += 1000;
    assert_int_equal(lwm2m_keep_flush_tick(f->eng), 4);
    assert_int_equal(f->c.syncfs, 1);
    assert_int_equal(f->c.fdatasyncs, 4);
    assert_int_equal(f->c.fsyncs, 1);
    assert_int_equal(entries_on_disk(f, 3), 1);
}

/* 600 queues: the round goes in chunks of LWM2M_KEEP_FLUSH_CHUNK, one batch per tick, the next
 * tick due at once (the loop runs between them); a queue changed during the round after its
 * chunk waits for the next round, one changed before its chunk is written with the change. */
static void test_round_in_bounded_chunks(void **state) {
    struct fx *f = *state;
    const size_t chunk = LWM2M_KEEP_FLUSH_CHUNK, full = 600 / chunk;
    open_stores(f, 600);
    for (size_t i = 0; i < 600; i++)
        push(f, i, 1.0);
    f->now += 1000;
    assert_int_equal(lwm2m_keep_flush_tick(f->eng), chunk);
    assert_int_equal(f->c.syncfs, 1);
    assert_int_equal(f->eng->keep_flush.round.n, 600 - chunk);
    struct timeval tv;
    assert_true(evtimer_pending(f->eng->keep_flush.timer, &tv));
    push(f, 0, 2.0);   /* written in chunk 1, changed again: next round */
    push(f, 599, 2.0); /* not written yet: stays in this round */
    assert_int_equal(f->eng->keep_flush.dirty.n, 1);
    for (size_t k = 1; k < full; k++)
        assert_int_equal(lwm2m_keep_flush_tick(f->eng), chunk);
    assert_int_equal(lwm2m_keep_flush_tick(f->eng), 600 - full * chunk);
    assert_int_equal(f->c.syncfs, full + 1);
    assert_int_equal(f->eng->keep_flush.round.n, 0);
    assert_int_equal(entries_on_disk(f, 599), 2);
    assert_int_equal(entries_on_disk(f, 0), 1);
    assert_int_equal(lwm2m_keep_flush_tick(f->eng), 0); /* store 0: its interval is not up */
    f->now += 1000;
    assert_int_equal(lwm2m_keep_flush_tick(f->eng), 1);
    assert_int_equal(entries_on_disk(f, 0), 2);
}

/* The byte bound: queues of about 100 KiB each, so a chunk stops at about 1 MiB. */
static void test_chunk_bytes_bound(void **state) {
    struct fx *f = *state;
    open_stores(f, 20);
    static uint8_t blob[100 * 1024];
    for (size_t i = 0; i < 20; i++) {
        struct lwm2m_record r = {.path = {.ids = {3303, 0, 5700}, .len = 3},
                                 .value = lwm2m_value_opaque(blob, sizeof(blob)),
                                 .has_time = true,
                                 .time = 1.7e9};
        assert_int_equal(lwm2m_sf_push(f->s[i], LWM2M_SF_SEND, NULL, 0, &r, 1), 0);
        lwm2m_keep_mark(f->eng, &f->d[i]);
    }
    f->now += 1000;
    size_t first = lwm2m_keep_flush_tick(f->eng);
    assert_true(first >= 10 && first <= 11); /* stops once 1 MiB is reached */
    size_t total = first;
    while (f->eng->keep_flush.round.n > 0)
        total += lwm2m_keep_flush_tick(f->eng);
    assert_int_equal(total, 20);
    assert_int_equal(f->c.syncfs, 2);
}

/* A clean stop: everything listed is written at once, in one batch, no matter the interval. */
static void test_flush_all(void **state) {
    struct fx *f = *state;
    open_stores(f, 30);
    for (size_t i = 0; i < 30; i++)
        push(f, i, 1.0);
    assert_int_equal(lwm2m_keep_flush_all(f->eng), 0);
    assert_int_equal(f->c.syncfs, 1);
    assert_int_equal(f->c.renames, 30);
    assert_int_equal(f->eng->keep_flush.dirty.n + f->eng->keep_flush.round.n, 0);
    assert_int_equal(entries_on_disk(f, 29), 1);
}

/* An emptied queue's file is deleted by the batch (no temp file written for it). */
static void test_batch_deletes_empty(void **state) {
    struct fx *f = *state;
    open_stores(f, 2);
    push(f, 0, 1.0);
    push(f, 1, 1.0);
    assert_int_equal(lwm2m_keep_flush_all(f->eng), 0);
    const struct lwm2m_sf_entry *e;
    assert_int_equal(lwm2m_sf_peek(f->s[0], &e), 0);
    assert_int_equal(lwm2m_sf_pop(f->s[0], e->id), 0);
    lwm2m_keep_mark(f->eng, &f->d[0]);
    size_t writes = f->c.writes;
    assert_int_equal(lwm2m_keep_flush_all(f->eng), 0);
    assert_int_equal(f->c.writes, writes);
    assert_false(file_exists(f, 0));
    assert_true(file_exists(f, 1));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_one_batch_per_interval, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_interval_configured, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_failure_stays_dirty, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_syncfs_fallback, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_round_in_bounded_chunks, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_chunk_bytes_bound, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_flush_all, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_batch_deletes_empty, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
