/* SPDX-License-Identifier: Apache-2.0 */
/* Store-and-forward during an outage: N endpoints each queue one value per second for S seconds
 * of a simulated loop (a pass every 100 ms touches a tenth of them), their queues in a real
 * directory (fsync is real). Two ways of making the queues durable are timed on the same
 * files: "per pass" (each queue changed in a pass rewritten and fsynced at the end of that pass,
 * the engine before sf_flush.c) and "batched" (the engine's flush: changed queues marked, the
 * timer's ticks write them in bounded chunks with one syncfs each; a tick is a loop iteration of
 * its own). It prints the longest loop iteration of each, their ratio, and the fsync/syncfs
 * calls. The clock is a mock (the simulated time), the durations are real.
 * Usage: bench_sf_flush [N=1000] [S=3] [DIR=/tmp]; BENCH_NO_SYNCFS=1 makes syncfs fail (the
 * batch's fallback, one fdatasync per file, is timed then). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "bench_util.h"
#include "engine_internal.h"
#include "lwm2m/model.h"
#include "sf_store.h"

#define PASS_MS 100u

struct counts {
    size_t fsyncs, syncfs, fdatasyncs;
};

static ssize_t c_write(void *ctx, int fd, const void *buf, size_t len) {
    (void)ctx;
    return write(fd, buf, len);
}

static int c_fsync(void *ctx, int fd) {
    ((struct counts *)ctx)->fsyncs++;
    if (getenv("BENCH_SKIP_SYNC") != NULL)
        return 0;
    return fsync(fd);
}

static int c_rename(void *ctx, const char *from, const char *to) {
    (void)ctx;
    return rename(from, to);
}

static int c_syncfs(void *ctx, int fd) {
    ((struct counts *)ctx)->syncfs++;
    if (getenv("BENCH_NO_SYNCFS") != NULL) { /* the batch's fallback: fdatasync per file */
        errno = ENOSYS;
        return -1;
    }
    if (getenv("BENCH_SKIP_SYNC") != NULL)
        return 0;
    return syncfs(fd);
}

static int c_fdatasync(void *ctx, int fd) {
    ((struct counts *)ctx)->fdatasyncs++;
    return fdatasync(fd);
}

static uint64_t mock_ms(void *ctx) {
    return *(uint64_t *)ctx;
}

struct run {
    double longest_ms, total_ms;
    size_t iterations;
    struct counts c;
};

static void rm_dir(const char *dir) {
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d != NULL && (de = readdir(d)) != NULL) {
        char p[512];
        snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
        if (de->d_name[0] != '.')
            unlink(p);
    }
    if (d != NULL)
        closedir(d);
    rmdir(dir);
}

static void iteration(struct run *r, double t0) {
    double ms = (bench_now_s() - t0) * 1000.0;
    r->longest_ms = ms > r->longest_ms ? ms : r->longest_ms;
    r->total_ms += ms;
    r->iterations++;
}

/* The flush timer's ticks due now, each a loop iteration of its own (a round's chunks run at
 * once here; in the loop a pass may run between them). */
static void ticks(struct lwm2m_engine *eng, struct run *r) {
    do {
        double t0 = bench_now_s();
        if (lwm2m_keep_flush_tick(eng) > 0)
            iteration(r, t0);
    } while (eng->keep_flush.round.n > 0);
}

/* The engine and the n queues of one run, in a fresh directory under base_dir. */
struct sim {
    char dir[256];
    uint64_t now;
    struct coap_clock clock;
    struct lwm2m_file_io io;
    struct event_base *base;
    struct lwm2m_model *model;
    struct lwm2m_engine *eng;
    struct lwm2m_sf_store **s;
    struct lwm2m_keep_dirty *d;
    size_t n;
};

static int sim_open(struct sim *m, const char *base_dir, size_t n, struct counts *c) {
    snprintf(m->dir, sizeof(m->dir), "%s/bench_sf_flush.XXXXXX", base_dir);
    if (mkdtemp(m->dir) == NULL) {
        perror(m->dir);
        return -1;
    }
    m->now = 1000000;
    m->clock = (struct coap_clock){mock_ms, mock_ms, &m->now};
    m->io = (struct lwm2m_file_io){.write = c_write,
                                   .fsync = c_fsync,
                                   .rename = c_rename,
                                   .ctx = c,
                                   .syncfs = c_syncfs,
                                   .fdatasync = c_fdatasync};
    m->base = event_base_new();
    if (m->base == NULL || lwm2m_model_new(&m->model) != 0)
        return -1;
    lwm2m_model_seal(m->model);
    struct lwm2m_engine_cfg ecfg = {.base = m->base, .clock = &m->clock, .model = m->model};
    m->s = calloc(n, sizeof(*m->s));
    m->d = calloc(n, sizeof(*m->d));
    if (lwm2m_engine_new(&ecfg, &m->eng) != 0 || m->s == NULL || m->d == NULL)
        return -1;
    for (m->n = 0; m->n < n; m->n++) {
        char name[48];
        snprintf(name, sizeof(name), "urn:dev:bench:dev-%05zu", m->n);
        struct lwm2m_sf_cfg sc = {
            .dir = m->dir, .name = name, .ssid = 1, .clock = &m->clock, .io = &m->io};
        if (lwm2m_sf_open(&sc, &m->s[m->n], NULL, 0) != 0)
            return -1;
        m->d[m->n].store = m->s[m->n];
    }
    return 0;
}

static void sim_close(struct sim *m) {
    for (size_t i = 0; i < m->n; i++) {
        lwm2m_keep_unmark(m->eng, &m->d[i]);
        lwm2m_sf_discard(m->s[i]);
    }
    free(m->s);
    free(m->d);
    lwm2m_engine_free(m->eng);
    lwm2m_model_free(m->model);
    event_base_free(m->base);
    rm_dir(m->dir);
}

/* One simulated outage of secs seconds over n queues; batched selects the engine's flush. */
static int outage(const char *base_dir, size_t n, unsigned secs, bool batched, struct run *r) {
    struct sim m = {0};
    memset(r, 0, sizeof(*r));
    if (sim_open(&m, base_dir, n, &r->c) != 0)
        return -1;
    size_t passes = (size_t)secs * 1000u / PASS_MS, per_pass = (n + 9) / 10, next = 0;
    for (size_t p = 0; p < passes; p++) {
        double t0 = bench_now_s();
        for (size_t k = 0; k < per_pass; k++, next = (next + 1) % n) {
            struct lwm2m_record rec = {.path = {.ids = {3303, 0, 5700}, .len = 3},
                                       .value = lwm2m_value_float((double)p),
                                       .has_time = true,
                                       .time = (double)m.now / 1000.0};
            lwm2m_sf_push(m.s[next], LWM2M_SF_NOTIFY, (const uint8_t *)"tk", 2, &rec, 1);
            if (batched)
                lwm2m_keep_mark(m.eng, &m.d[next]);
            else
                lwm2m_sf_sync(m.s[next], NULL, 0); /* what keep_pump did at the end of a pass */
        }
        iteration(r, t0);
        m.now += PASS_MS;
        if (batched)
            ticks(m.eng, r);
    }
    if (batched) { /* the last interval's values, as the next tick would write them */
        m.now += 1000;
        ticks(m.eng, r);
    }
    struct counts c = r->c; /* the deletions below are not the outage's */
    sim_close(&m);
    r->c = c;
    return 0;
}

int main(int argc, char **argv) {
    size_t n = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 1000;
    unsigned secs = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 3;
    const char *dir = argc > 3 ? argv[3] : "/tmp";
    if (n == 0 || secs == 0) {
        fprintf(stderr, "usage: %s [N endpoints] [S seconds] [DIR]\n", argv[0]);
        return 2;
    }
    struct run before, after;
    if (outage(dir, n, secs, false, &before) != 0 || outage(dir, n, secs, true, &after) != 0)
        return 1;
    printf("%zu endpoints, 1 value/s each, %u s outage, a pass every %u ms, queues in %s\n", n,
           secs, PASS_MS, dir);
    printf("per pass: longest loop iteration %.1f ms, %.1f ms of %zu iterations, %zu fsync\n",
           before.longest_ms, before.total_ms, before.iterations, before.c.fsyncs);
    printf("batched:  longest loop iteration %.1f ms, %.1f ms of %zu iterations, %zu fsync, "
           "%zu syncfs, %zu fdatasync\n",
           after.longest_ms, after.total_ms, after.iterations, after.c.fsyncs, after.c.syncfs,
           after.c.fdatasyncs);
    printf("longest iteration per pass / batched: %.1fx; disk time %.1fx\n",
           before.longest_ms / (after.longest_ms > 0 ? after.longest_ms : 1e-3),
           before.total_ms / (after.total_ms > 0 ? after.total_ms : 1e-3));
    return 0;
}
