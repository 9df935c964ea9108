/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for sf_store.c: queue order, limits and the dropped counter, persistence of every
 * value type across close/open, atomic rewrite under injected I/O failures, and the loader's
 * handling of damaged, truncated and foreign files. Each test works in its own mkdtemp dir. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <math.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "lwm2m/error.h"
#include "sf_store.h"

#define EP "urn:dev:plant1-gw:meter-1"

/* ---- fixture: a temp dir, a mock clock and an I/O layer that fails on request ------------- */

struct io_mock {
    size_t fail_write_after; /* bytes accepted before write fails; SIZE_MAX: never */
    bool fail_fsync, fail_rename;
    size_t writes, renames;
};

static ssize_t mock_write(void *ctx, int fd, const void *buf, size_t len) {
    struct io_mock *m = ctx;
    m->writes++;
    if (m->fail_write_after != SIZE_MAX) {
        if (m->fail_write_after == 0) {
            errno = ENOSPC;
            return -1;
        }
        len = len < m->fail_write_after ? len : m->fail_write_after; /* a partial write first */
        m->fail_write_after -= len;
    }
    return write(fd, buf, len);
}

static int mock_fsync(void *ctx, int fd) {
    struct io_mock *m = ctx;
    if (m->fail_fsync) {
        errno = EIO;
        return -1;
    }
    return fsync(fd);
}

static int mock_rename(void *ctx, const char *from, const char *to) {
    struct io_mock *m = ctx;
    m->renames++;
    if (m->fail_rename) {
        errno = EXDEV;
        return -1;
    }
    return rename(from, to);
}

static uint64_t mock_real_ms(void *ctx) {
    return *(uint64_t *)ctx;
}

struct fx {
    char dir[64];
    char path[512];
    uint64_t now_ms;
    struct coap_clock clock;
    struct io_mock mock;
    struct lwm2m_file_io io;
    struct lwm2m_sf_cfg cfg;
};

static int fx_setup(void **state) {
    struct fx *f = calloc(1, sizeof(*f));
    strcpy(f->dir, "/tmp/test_sf_store.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    char file[256];
    assert_true(lwm2m_sf_file_name(EP, 1, file, sizeof(file)) > 0);
    snprintf(f->path, sizeof(f->path), "%s/%s", f->dir, file);
    f->now_ms = 1700000000123u;
    f->clock = (struct coap_clock){mock_real_ms, mock_real_ms, &f->now_ms};
    f->mock.fail_write_after = SIZE_MAX;
    f->io = (struct lwm2m_file_io){
        .write = mock_write, .fsync = mock_fsync, .rename = mock_rename, .ctx = &f->mock};
    f->cfg = (struct lwm2m_sf_cfg){f->dir, EP, 1, {0, 0}, &f->clock, &f->io};
    *state = f;
    return 0;
}

static int fx_teardown(void **state) {
    struct fx *f = *state;
    DIR *d = opendir(f->dir);
    struct dirent *de;
    while (d != NULL && (de = readdir(d)) != NULL) {
        char p[600];
        snprintf(p, sizeof(p), "%s/%s", f->dir, de->d_name);
        if (de->d_name[0] != '.') {
            unlink(p);
        }
    }
    if (d != NULL) {
        closedir(d);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

static struct lwm2m_sf_store *open_ok(const struct fx *f, char *err, size_t cap) {
    struct lwm2m_sf_store *s = NULL;
    assert_int_equal(lwm2m_sf_open(&f->cfg, &s, err, cap), 0);
    assert_non_null(s);
    return s;
}

static struct lwm2m_record rec_int(uint16_t res, int64_t v, double t) {
    struct lwm2m_record r = {lwm2m_path_make(3, 3303, 0, res, 0), lwm2m_value_int(v), t, true};
    return r;
}

static void push_int(struct lwm2m_sf_store *s, int64_t v) {
    struct lwm2m_record r = rec_int(5700, v, 1000.0 + (double)v);
    assert_int_equal(lwm2m_sf_push(s, LWM2M_SF_SEND, NULL, 0, &r, 1), 0);
}

static int64_t head_int(const struct lwm2m_sf_store *s) {
    const struct lwm2m_sf_entry *e;
    assert_int_equal(lwm2m_sf_peek(s, &e), 0);
    return e->recs[0].value.v.i;
}

static void pop_head(struct lwm2m_sf_store *s) {
    const struct lwm2m_sf_entry *e;
    assert_int_equal(lwm2m_sf_peek(s, &e), 0);
    assert_int_equal(lwm2m_sf_pop(s, e->id), 0);
}

static bool file_exists(const char *p) {
    return access(p, F_OK) == 0;
}

static size_t read_all(const char *p, uint8_t *buf, size_t cap) {
    FILE *fp = fopen(p, "rb");
    assert_non_null(fp);
    size_t n = fread(buf, 1, cap, fp);
    fclose(fp);
    return n;
}

static void write_all(const char *p, const uint8_t *buf, size_t n) {
    FILE *fp = fopen(p, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(buf, 1, n, fp), n);
    fclose(fp);
}

/* ---- queue --------------------------------------------------------------------------------- */

static void test_order_and_kinds(void **state) {
    struct fx *f = *state;
    struct lwm2m_sf_store *s = open_ok(f, NULL, 0);
    const uint8_t tok[4] = {0xde, 0xad, 0xbe, 0xef};
    struct lwm2m_record r[2] = {rec_int(5700, 1, 10.5), rec_int(5701, 2, 10.5)};
    assert_int_equal(lwm2m_sf_push(s, LWM2M_SF_NOTIFY, tok, 4, r, 2), 0);
    push_int(s, 7);
    assert_int_equal(lwm2m_sf_count(s), 2);
    const struct lwm2m_sf_entry *e;
    assert_int_equal(lwm2m_sf_peek(s, &e), 0);
    assert_int_equal(e->kind, LWM2M_SF_NOTIFY);
    assert_int_equal(e->token_len, 4);
    assert_memory_equal(e->token, tok, 4);
    assert_int_equal(e->nrecs, 2);
    assert_int_equal(e->recs[1].path.ids[2], 5701);
    uint64_t first = e->id;
    assert_int_equal(lwm2m_sf_pop(s, first + 1), LWM2M_ERR_NOTFOUND); /* not the head */
    assert_int_equal(lwm2m_sf_pop(s, first), 0);
    assert_int_equal(lwm2m_sf_peek(s, &e), 0);
    assert_int_equal(e->kind, LWM2M_SF_SEND);
    assert_int_equal(e->token_len, 0);
    assert_int_equal(e->recs[0].value.v.i, 7);
    assert_int_equal(lwm2m_sf_pop(s, first), LWM2M_ERR_NOTFOUND); /* already gone */
    assert_int_equal(lwm2m_sf_pop(s, e->id), 0);
    assert_int_equal(lwm2m_sf_peek(s, &e), LWM2M_ERR_NOTFOUND);
    assert_int_equal(lwm2m_sf_count(s), 0);
    assert_int_equal(lwm2m_sf_bytes(s), 0);
    assert_int_equal(lwm2m_sf_close(s, NULL, 0), 0);
}

static void test_copies_bytes_and_stamps_time(void **state) {
    struct fx *f = *state;
    f->cfg.dir = NULL; /* memory-only store */
    struct lwm2m_sf_store *s = open_ok(f, NULL, 0);
    char text[] = "hello";
    struct lwm2m_record r = {lwm2m_path_make(3, 3, 0, 0, 0), lwm2m_value_string(text, 5), 0, false};
    assert_int_equal(lwm2m_sf_push(s, LWM2M_SF_SEND, NULL, 0, &r, 1), 0);
    memcpy(text, "XXXXX", 5); /* the caller's buffer is only borrowed for the call */
    const struct lwm2m_sf_entry *e;
    assert_int_equal(lwm2m_sf_peek(s, &e), 0);
    assert_memory_equal(e->recs[0].value.v.bytes.ptr, "hello", 5);
    assert_true(e->recs[0].has_time);
    assert_true(e->recs[0].time == 1700000000.123);
    assert_false(lwm2m_sf_dirty(s)); /* nothing to write for a memory-only store */
    assert_int_equal(lwm2m_sf_sync(s, NULL, 0), 0);
    lwm2m_sf_close(s, NULL, 0);
}

static void test_invalid_push(void **state) {
    struct fx *f = *state;
    struct lwm2m_sf_store *s = open_ok(f, NULL, 0);
    struct lwm2m_record r = rec_int(5700, 1, 1.0);
    uint8_t tok[9] = {0};
    assert_int_equal(lwm2m_sf_push(s, LWM2M_SF_SEND, NULL, 0, &r, 0), LWM2M_ERR_INVALID);
    assert_int_equal(lwm2m_sf_push(s, (enum lwm2m_sf_kind)7, NULL, 0, &r, 1), LWM2M_ERR_INVALID);
    assert_int_equal(lwm2m_sf_push(s, LWM2M_SF_NOTIFY, tok, 9, &r, 1), LWM2M_ERR_INVALID);
    struct lwm2m_record bad = r;
    bad.path.len = 5;
    assert_int_equal(lwm2m_sf_push(s, LWM2M_SF_SEND, NULL, 0, &bad, 1), LWM2M_ERR_INVALID);
    bad = r;
    bad.value.type = 42;
    assert_int_equal(lwm2m_sf_push(s, LWM2M_SF_SEND, NULL, 0, &bad, 1), LWM2M_ERR_INVALID);
    bad = r;
    bad.value = lwm2m_value_opaque(NULL, 3);
    assert_int_equal(lwm2m_sf_push(s, LWM2M_SF_SEND, NULL, 0, &bad, 1), LWM2M_ERR_INVALID);
    bad = r;
    bad.path.ids[0] = 65535;
    assert_int_equal(lwm2m_sf_push(s, LWM2M_SF_SEND, NULL, 0, &bad, 1), LWM2M_ERR_INVALID);
    assert_int_equal(lwm2m_sf_count(s), 0);
    assert_int_equal(lwm2m_sf_dropped(s), 0);
    assert_false(lwm2m_sf_dirty(s));
    lwm2m_sf_close(s, NULL, 0);
}

static void test_limit_by_count(void **state) {
    struct fx *f = *state;
    f->cfg.limits.max_entries = 3;
    struct lwm2m_sf_store *s = open_ok(f, NULL, 0);
    for (int64_t v = 1; v <= 5; v++) {
        push_int(s, v);
    }
    assert_int_equal(lwm2m_sf_count(s), 3);
    assert_int_equal(lwm2m_sf_dropped(s), 2);
    for (int64_t v = 3; v <= 5; v++) { /* the oldest went first; the rest keep their order */
        assert_int_equal(head_int(s), v);
        pop_head(s);
    }
    lwm2m_sf_close(s, NULL, 0);
}

static void test_limit_by_bytes(void **state) {
    struct fx *f = *state;
    struct lwm2m_sf_store *s = open_ok(f, NULL, 0);
    push_int(s, 1);
    size_t one = lwm2m_sf_bytes(s);
    lwm2m_sf_close(s, NULL, 0);
    unlink(f->path);

    f->cfg.limits.max_bytes = (uint32_t)(2 * one + one / 2); /* room for two entries */
    s = open_ok(f, NULL, 0);
    for (int64_t v = 1; v <= 4; v++) {
        push_int(s, v);
    }
    assert_int_equal(lwm2m_sf_count(s), 2);
    assert_int_equal(lwm2m_sf_bytes(s), 2 * one);
    assert_int_equal(lwm2m_sf_dropped(s), 2);
    assert_int_equal(head_int(s), 3);

    /* An entry larger than the whole bound: refused and counted, the queue untouched. */
    uint8_t big[200] = {0};
    struct lwm2m_record r = {lwm2m_path_make(3, 3, 0, 1, 0), lwm2m_value_opaque(big, sizeof(big)),
                             1.0, true};
    assert_int_equal(lwm2m_sf_push(s, LWM2M_SF_SEND, NULL, 0, &r, 1), LWM2M_ERR_NOSPACE);
    assert_int_equal(lwm2m_sf_count(s), 2);
    assert_int_equal(lwm2m_sf_dropped(s), 3);
    assert_int_equal(head_int(s), 3);

    /* A bigger entry that fits the bound evicts as many old ones as it needs. */
    r.value.v.bytes.len = one; /* about one entry's worth more */
    assert_int_equal(lwm2m_sf_push(s, LWM2M_SF_SEND, NULL, 0, &r, 1), 0);
    assert_int_equal(lwm2m_sf_count(s), 1);
    assert_int_equal(lwm2m_sf_dropped(s), 5);
    assert_true(lwm2m_sf_bytes(s) <= f->cfg.limits.max_bytes);
    lwm2m_sf_close(s, NULL, 0);
}

static void test_pop_after_head_dropped(void **state) {
    struct fx *f = *state;
    f->cfg.limits.max_entries = 2;
    struct lwm2m_sf_store *s = open_ok(f, NULL, 0);
    push_int(s, 1);
    push_int(s, 2);
    const struct lwm2m_sf_entry *e;
    assert_int_equal(lwm2m_sf_peek(s, &e), 0);
    uint64_t in_flight = e->id; /* being delivered when more values arrive */
    push_int(s, 3);             /* drops entry 1 */
    assert_int_equal(lwm2m_sf_pop(s, in_flight), LWM2M_ERR_NOTFOUND);
    assert_int_equal(lwm2m_sf_count(s), 2);
    assert_int_equal(head_int(s), 2);
    lwm2m_sf_close(s, NULL, 0);
}

/* ---- persistence --------------------------------------------------------------------------- */

static const uint8_t OPAQUE[] = {0x00, 0xff, 0x10, 0x00, 0x7f};

static size_t all_types(struct lwm2m_record *r) {
    size_t n = 0;
    struct lwm2m_value v[] = {
        lwm2m_value_int(INT64_MIN),
        lwm2m_value_int(-1),
        lwm2m_value_uint(UINT64_MAX),
        lwm2m_value_float(-0.0),
        lwm2m_value_float(3.141592653589793),
        lwm2m_value_float(INFINITY),
        lwm2m_value_float(5e-324),
        lwm2m_value_bool(true),
        lwm2m_value_bool(false),
        lwm2m_value_string("caf\xc3\xa9\0x", 7),
        lwm2m_value_string("", 0),
        lwm2m_value_opaque(OPAQUE, sizeof(OPAQUE)),
        lwm2m_value_time(-86400),
        lwm2m_value_objlnk(65534, 0),
        lwm2m_value_corelnk("</3/0>;ver=1.1", 14),
    };
    for (; n < sizeof(v) / sizeof(v[0]); n++) {
        r[n] =
            (struct lwm2m_record){lwm2m_path_make((uint8_t)(n % 5), 3303, (uint16_t)n, 5700, 65534),
                                  v[n], 1700000000.0 + (double)n / 3.0, true};
    }
    r[n++] = (struct lwm2m_record){lwm2m_path_make(1, 3, 0, 0, 0), {0}, 0.1, true}; /* NONE */
    return n;
}

static void assert_same_records(const struct lwm2m_record *a, const struct lwm2m_record *b,
                                size_t n) {
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(a[i].path.len, b[i].path.len);
        assert_memory_equal(a[i].path.ids, b[i].path.ids, a[i].path.len * sizeof(uint16_t));
        assert_int_equal(a[i].value.type, b[i].value.type);
        assert_true(b[i].has_time);
        assert_memory_equal(&a[i].time, &b[i].time, sizeof(double)); /* bit-exact */
        if (a[i].value.type == LWM2M_TYPE_FLOAT) {
            assert_memory_equal(&a[i].value.v.f, &b[i].value.v.f, sizeof(double)); /* -0.0 */
        } else {
            assert_true(lwm2m_value_equal(&a[i].value, &b[i].value));
        }
    }
}

static void test_persist_every_type(void **state) {
    struct fx *f = *state;
    struct lwm2m_record r[32];
    size_t n = all_types(r);
    const uint8_t tok[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    struct lwm2m_sf_store *s = open_ok(f, NULL, 0);
    assert_int_equal(lwm2m_sf_push(s, LWM2M_SF_NOTIFY, tok, 8, r, n), 0);
    assert_int_equal(lwm2m_sf_push(s, LWM2M_SF_SEND, NULL, 0, r + 3, 2), 0);
    size_t bytes = lwm2m_sf_bytes(s);
    assert_false(file_exists(f->path)); /* batched: nothing written before a sync */
    assert_int_equal(lwm2m_sf_close(s, NULL, 0), 0);
    assert_true(file_exists(f->path));

    char err[512];
    s = open_ok(f, err, sizeof(err));
    assert_string_equal(err, "");
    assert_false(lwm2m_sf_dirty(s));
    assert_int_equal(lwm2m_sf_count(s), 2);
    assert_int_equal(lwm2m_sf_bytes(s), bytes);
    const struct lwm2m_sf_entry *e;
    assert_int_equal(lwm2m_sf_peek(s, &e), 0);
    assert_int_equal(e->kind, LWM2M_SF_NOTIFY);
    assert_int_equal(e->token_len, 8);
    assert_memory_equal(e->token, tok, 8);
    assert_int_equal(e->nrecs, n);
    assert_same_records(r, e->recs, n);
    assert_int_equal(lwm2m_sf_pop(s, e->id), 0);
    assert_int_equal(lwm2m_sf_peek(s, &e), 0);
    assert_int_equal(e->kind, LWM2M_SF_SEND);
    assert_same_records(r + 3, e->recs, 2);
    assert_int_equal(lwm2m_sf_pop(s, e->id), 0);
    assert_true(lwm2m_sf_dirty(s));
    assert_int_equal(lwm2m_sf_sync(s, NULL, 0), 0);
    assert_false(file_exists(f->path)); /* an empty queue leaves no file behind */
    lwm2m_sf_close(s, NULL, 0);
}

static void test_sync_only_when_dirty(void **state) {
    struct fx *f = *state;
    struct lwm2m_sf_store *s = open_ok(f, NULL, 0);
    for (int64_t v = 0; v < 100; v++) { /* a burst: one write at the end */
        push_int(s, v);
    }
    assert_int_equal(f->mock.renames, 0);
    assert_int_equal(lwm2m_sf_sync(s, NULL, 0), 0);
    assert_int_equal(f->mock.renames, 1);
    assert_int_equal(lwm2m_sf_sync(s, NULL, 0), 0);
    assert_int_equal(f->mock.renames, 1);
    assert_false(lwm2m_sf_dirty(s));
    lwm2m_sf_close(s, NULL, 0);
    assert_int_equal(f->mock.renames, 1);
}

static void test_limits_shrunk_on_reopen(void **state) {
    struct fx *f = *state;
    struct lwm2m_sf_store *s = open_ok(f, NULL, 0);
    for (int64_t v = 1; v <= 5; v++) {
        push_int(s, v);
    }
    lwm2m_sf_close(s, NULL, 0);
    f->cfg.limits.max_entries = 2;
    s = open_ok(f, NULL, 0);
    assert_int_equal(lwm2m_sf_count(s), 2);
    assert_int_equal(lwm2m_sf_dropped(s), 3);
    assert_true(lwm2m_sf_dirty(s));
    assert_int_equal(head_int(s), 4);
    lwm2m_sf_close(s, NULL, 0);
}

static void test_open_errors(void **state) {
    struct fx *f = *state;
    struct lwm2m_sf_store *s = (void *)1;
    char err[256];
    f->cfg.dir = "/nonexistent/state";
    assert_int_equal(lwm2m_sf_open(&f->cfg, &s, err, sizeof(err)), LWM2M_ERR_IO);
    assert_null(s);
    assert_non_null(strstr(err, "/nonexistent/state"));
    f->cfg.dir = f->dir;
    f->cfg.name = "";
    assert_int_equal(lwm2m_sf_open(&f->cfg, &s, err, sizeof(err)), LWM2M_ERR_INVALID);
}

static void test_leftover_tmp_removed(void **state) {
    struct fx *f = *state;
    struct lwm2m_sf_store *s = open_ok(f, NULL, 0);
    push_int(s, 1);
    lwm2m_sf_close(s, NULL, 0);
    char tmp[600];
    snprintf(tmp, sizeof(tmp), "%s.tmp", f->path);
    write_all(tmp, (const uint8_t *)"half", 4); /* a crash in the middle of a sync */
    s = open_ok(f, NULL, 0);
    assert_false(file_exists(tmp));
    assert_int_equal(lwm2m_sf_count(s), 1);
    lwm2m_sf_close(s, NULL, 0);
}

static void test_remove(void **state) {
    struct fx *f = *state;
    struct lwm2m_sf_store *s = open_ok(f, NULL, 0);
    push_int(s, 1);
    lwm2m_sf_close(s, NULL, 0);
    assert_true(file_exists(f->path));
    assert_int_equal(lwm2m_sf_remove(f->dir, EP, 1), 0);
    assert_false(file_exists(f->path));
    assert_int_equal(lwm2m_sf_remove(f->dir, EP, 1), 0);
}

/* An endpoint removed for good: the synced file goes, unsynced pushes are never written. */
static void test_discard(void **state) {
    struct fx *f = *state;
    struct lwm2m_sf_store *s = open_ok(f, NULL, 0);
    push_int(s, 1);
    assert_int_equal(lwm2m_sf_sync(s, NULL, 0), 0);
    assert_true(file_exists(f->path));
    push_int(s, 2); /* dirty: a close would write it */
    assert_int_equal(lwm2m_sf_discard(s), 0);
    assert_false(file_exists(f->path));
    s = open_ok(f, NULL, 0);
    assert_int_equal(lwm2m_sf_count(s), 0);
    assert_int_equal(lwm2m_sf_discard(s), 0); /* nothing on disk: fine */
    assert_false(file_exists(f->path));
    assert_int_equal(lwm2m_sf_discard(NULL), 0);
}

static void test_file_names(void **state) {
    (void)state;
    char out[256];
    int n = lwm2m_sf_file_name(EP, 1, out, sizeof(out));
    assert_string_equal(out, "urn%3Adev%3Aplant1-gw%3Ameter-1.1.sfq");
    assert_int_equal(n, (int)strlen(out));
    assert_true(lwm2m_sf_file_name("../x", 65535, out, sizeof(out)) > 0);
    assert_string_equal(out, "%2E%2E%2Fx.65535.sfq");
    char a[301], b[301];
    memset(a, 'a', 300);
    a[300] = '\0';
    memcpy(b, a, sizeof(a));
    b[299] = 'b';
    char out2[256];
    assert_true(lwm2m_sf_file_name(a, 1, out, sizeof(out)) < 256);
    assert_true(lwm2m_sf_file_name(b, 1, out2, sizeof(out2)) < 256);
    assert_non_null(strchr(out, '~'));
    assert_string_not_equal(out, out2); /* same kept prefix, different hash */
    assert_int_equal(lwm2m_sf_file_name(EP, 1, out, 10), LWM2M_ERR_NOSPACE);
}

/* ---- atomicity ----------------------------------------------------------------------------- */

/* A synced file with entries 1 and 2; then entry 3 pushed but not synced. */
static struct lwm2m_sf_store *two_synced_one_pending(struct fx *f, uint8_t *img, size_t *len) {
    struct lwm2m_sf_store *s = open_ok(f, NULL, 0);
    push_int(s, 1);
    push_int(s, 2);
    assert_int_equal(lwm2m_sf_sync(s, NULL, 0), 0);
    *len = read_all(f->path, img, 4096);
    push_int(s, 3);
    return s;
}

static void assert_untouched(const struct fx *f, const uint8_t *img, size_t len) {
    uint8_t now[4096];
    char tmp[600];
    assert_int_equal(read_all(f->path, now, sizeof(now)), len);
    assert_memory_equal(now, img, len);
    snprintf(tmp, sizeof(tmp), "%s.tmp", f->path);
    assert_false(file_exists(tmp));
}

static void check_failed_sync(struct fx *f, struct lwm2m_sf_store *s, const char *step) {
    uint8_t img[4096];
    size_t len = read_all(f->path, img, sizeof(img));
    char err[512];
    assert_int_equal(lwm2m_sf_sync(s, err, sizeof(err)), LWM2M_ERR_IO);
    assert_non_null(strstr(err, step));
    assert_non_null(strstr(err, f->dir));
    assert_untouched(f, img, len);
    assert_true(lwm2m_sf_dirty(s));
    assert_int_equal(lwm2m_sf_count(s), 3);
}

static void test_atomic_write_failures(void **state) {
    struct fx *f = *state;
    uint8_t img[4096];
    size_t len;
    struct lwm2m_sf_store *s = two_synced_one_pending(f, img, &len);

    f->mock.fail_write_after = 20; /* a partial write, then ENOSPC */
    check_failed_sync(f, s, "write");
    f->mock.fail_write_after = SIZE_MAX;
    f->mock.fail_fsync = true;
    check_failed_sync(f, s, "fsync");
    f->mock.fail_fsync = false;
    f->mock.fail_rename = true;
    check_failed_sync(f, s, "rename");
    f->mock.fail_rename = false;

    /* The old file still loads (what a restart at this point would see). */
    struct lwm2m_sf_cfg ro = f->cfg;
    ro.io = NULL;
    struct lwm2m_sf_store *peek = NULL;
    char err[256];
    assert_int_equal(lwm2m_sf_open(&ro, &peek, err, sizeof(err)), 0);
    assert_string_equal(err, "");
    assert_int_equal(lwm2m_sf_count(peek), 2);
    lwm2m_sf_close(peek, NULL, 0); /* not dirty: writes nothing */

    assert_int_equal(lwm2m_sf_close(s, NULL, 0), 0); /* the failure cleared: now it lands */
    s = open_ok(f, NULL, 0);
    assert_int_equal(lwm2m_sf_count(s), 3);
    lwm2m_sf_close(s, NULL, 0);
}

static void test_close_reports_failed_sync(void **state) {
    struct fx *f = *state;
    struct lwm2m_sf_store *s = open_ok(f, NULL, 0);
    push_int(s, 1);
    f->mock.fail_fsync = true;
    char err[512];
    assert_int_equal(lwm2m_sf_close(s, err, sizeof(err)), LWM2M_ERR_IO);
    assert_non_null(strstr(err, "fsync"));
    assert_false(file_exists(f->path));
}

/* ---- damaged files ------------------------------------------------------------------------- */

static size_t three_entries_file(struct fx *f, uint8_t *img) {
    struct lwm2m_sf_store *s = open_ok(f, NULL, 0);
    for (int64_t v = 1; v <= 3; v++) {
        push_int(s, v);
    }
    lwm2m_sf_close(s, NULL, 0);
    return read_all(f->path, img, 4096);
}

static struct lwm2m_sf_store *reopen_damaged(struct fx *f, char *err, size_t cap) {
    struct lwm2m_sf_store *s = open_ok(f, err, cap);
    assert_non_null(strstr(err, f->path));
    assert_non_null(strstr(err, "offset"));
    assert_non_null(strstr(err, ".corrupt"));
    return s;
}

static void test_corrupt_entry_skipped(void **state) {
    struct fx *f = *state;
    uint8_t img[4096];
    size_t len = three_entries_file(f, img);
    size_t entry = (len - (10 + strlen(EP) + 4)) / 3; /* three entries of equal size */
    size_t second = 10 + strlen(EP) + 4 + entry;
    uint8_t bad[4096];
    memcpy(bad, img, len);
    bad[second + 20] ^= 0x40; /* inside the second entry's body */
    write_all(f->path, bad, len);

    char err[1024], want[64];
    struct lwm2m_sf_store *s = reopen_damaged(f, err, sizeof(err));
    snprintf(want, sizeof(want), "offset %zu: entry checksum mismatch", second);
    assert_non_null(strstr(err, want));
    assert_int_equal(lwm2m_sf_count(s), 2);
    assert_int_equal(lwm2m_sf_damaged(s), 1);
    assert_int_equal(head_int(s), 1);
    pop_head(s);
    assert_int_equal(head_int(s), 3);
    lwm2m_sf_close(s, NULL, 0);

    /* The damaged original is kept byte for byte; the rewritten file is clean. */
    char aside[600];
    uint8_t kept[4096];
    snprintf(aside, sizeof(aside), "%s.corrupt", f->path);
    assert_int_equal(read_all(aside, kept, sizeof(kept)), len);
    assert_memory_equal(kept, bad, len);
    s = open_ok(f, err, sizeof(err));
    assert_string_equal(err, "");
    lwm2m_sf_close(s, NULL, 0);
}

static uint32_t crc32_ref(const uint8_t *p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) {
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
        }
    }
    return ~c;
}

/* Content that passes the checksum but makes no sense is skipped exactly, entry by entry. */
static void test_invalid_content_with_valid_crc(void **state) {
    struct fx *f = *state;
    uint8_t img[4096];
    size_t len = three_entries_file(f, img);
    size_t hdr = 10 + strlen(EP) + 4, entry = (len - hdr) / 3, second = hdr + entry;
    size_t blen = entry - 12;
    img[second + 9] = 9; /* token length 9: past the 8 a token may have */
    uint32_t crc = crc32_ref(img + second + 4, 4 + blen);
    for (int i = 0; i < 4; i++) {
        img[second + 8 + blen + (size_t)i] = (uint8_t)(crc >> (8 * i));
    }
    write_all(f->path, img, len);
    char err[1024];
    struct lwm2m_sf_store *s = reopen_damaged(f, err, sizeof(err));
    assert_non_null(strstr(err, "invalid entry content"));
    assert_int_equal(lwm2m_sf_count(s), 2);
    assert_int_equal(lwm2m_sf_damaged(s), 1);
    pop_head(s);
    assert_int_equal(head_int(s), 3);
    lwm2m_sf_close(s, NULL, 0);
}

static void test_corrupt_length_resyncs(void **state) {
    struct fx *f = *state;
    uint8_t img[4096];
    size_t len = three_entries_file(f, img);
    size_t hdr = 10 + strlen(EP) + 4;
    img[hdr + 4] = 0xff; /* the first entry's length now runs far past the end */
    img[hdr + 5] = 0xff;
    write_all(f->path, img, len);
    char err[1024];
    struct lwm2m_sf_store *s = reopen_damaged(f, err, sizeof(err));
    assert_non_null(strstr(err, "past the end"));
    assert_int_equal(lwm2m_sf_count(s), 2); /* the marker of entry 2 is found again */
    assert_int_equal(head_int(s), 2);
    lwm2m_sf_close(s, NULL, 0);
}

static void test_truncated_file(void **state) {
    struct fx *f = *state;
    uint8_t img[4096];
    size_t len = three_entries_file(f, img);
    write_all(f->path, img, len - 7);
    char err[1024];
    struct lwm2m_sf_store *s = reopen_damaged(f, err, sizeof(err));
    assert_int_equal(lwm2m_sf_count(s), 2);
    assert_int_equal(lwm2m_sf_damaged(s), 1);
    lwm2m_sf_close(s, NULL, 0);

    /* A second damage later goes to the next free name. */
    write_all(f->path, img, 9);
    s = reopen_damaged(f, err, sizeof(err));
    assert_non_null(strstr(err, "truncated header"));
    assert_int_equal(lwm2m_sf_count(s), 0);
    lwm2m_sf_close(s, NULL, 0);
    char aside[600];
    snprintf(aside, sizeof(aside), "%s.1.corrupt", f->path);
    assert_true(file_exists(aside));
    assert_false(file_exists(f->path));
}

static void test_bad_header_and_foreign_file(void **state) {
    struct fx *f = *state;
    write_all(f->path, (const uint8_t *)"{\"not\": \"ours\"}", 15);
    char err[1024];
    struct lwm2m_sf_store *s = reopen_damaged(f, err, sizeof(err));
    assert_non_null(strstr(err, "offset 0: not a store-and-forward file"));
    assert_int_equal(lwm2m_sf_count(s), 0);
    lwm2m_sf_close(s, NULL, 0);

    /* Another server's file copied over ours is not taken for our queue. */
    f->cfg.ssid = 2;
    s = open_ok(f, NULL, 0);
    push_int(s, 1);
    lwm2m_sf_close(s, NULL, 0);
    char other[600], name2[256];
    assert_true(lwm2m_sf_file_name(EP, 2, name2, sizeof(name2)) > 0);
    snprintf(other, sizeof(other), "%s/%s", f->dir, name2);
    assert_int_equal(rename(other, f->path), 0);
    f->cfg.ssid = 1;
    s = reopen_damaged(f, err, sizeof(err));
    assert_non_null(strstr(err, "another endpoint or server"));
    assert_int_equal(lwm2m_sf_count(s), 0);
    lwm2m_sf_close(s, NULL, 0);
}

static void test_codec_roundtrip_in_memory(void **state) {
    struct fx *f = *state;
    f->cfg.dir = NULL;
    struct lwm2m_sf_store *a = open_ok(f, NULL, 0), *b = open_ok(f, NULL, 0);
    struct lwm2m_record r[32];
    size_t n = all_types(r);
    assert_int_equal(lwm2m_sf_push(a, LWM2M_SF_SEND, NULL, 0, r, n), 0);
    uint8_t *img;
    size_t len;
    assert_int_equal(lwm2m_sf_encode(a, &img, &len), 0);
    char err[256];
    assert_int_equal(lwm2m_sf_load_mem(b, img, len, err, sizeof(err)), 0);
    const struct lwm2m_sf_entry *e;
    assert_int_equal(lwm2m_sf_peek(b, &e), 0);
    assert_same_records(r, e->recs, n);
    img[len - 1] ^= 1;
    assert_int_equal(lwm2m_sf_load_mem(b, img, len, err, sizeof(err)), LWM2M_ERR_FORMAT);
    assert_non_null(strstr(err, "(memory): offset"));
    assert_int_equal(lwm2m_sf_count(b), 1);
    free(img);
    lwm2m_sf_close(a, NULL, 0);
    lwm2m_sf_close(b, NULL, 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

int main(void) {
    const struct CMUnitTest tests[] = {
        T(test_order_and_kinds),
        T(test_copies_bytes_and_stamps_time),
        T(test_invalid_push),
        T(test_limit_by_count),
        T(test_limit_by_bytes),
        T(test_pop_after_head_dropped),
        T(test_persist_every_type),
        T(test_sync_only_when_dirty),
        T(test_limits_shrunk_on_reopen),
        T(test_open_errors),
        T(test_leftover_tmp_removed),
        T(test_remove),
        T(test_discard),
        T(test_file_names),
        T(test_atomic_write_failures),
        T(test_close_reports_failed_sync),
        T(test_corrupt_entry_skipped),
        T(test_invalid_content_with_valid_crc),
        T(test_corrupt_length_resyncs),
        T(test_truncated_file),
        T(test_bad_header_and_foreign_file),
        T(test_codec_roundtrip_in_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
