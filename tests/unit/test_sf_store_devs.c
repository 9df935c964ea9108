/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the cross-device entries of the store-and-forward queue (gateway mode, an
 * Observe-Composite spanning devices): push and the file round trip with per-record Device IDs,
 * the file version (2 only when needed), files of version 1 built by hand still loading, and the
 * loader refusing the new entry form where it cannot be. Memory-only stores and one temp dir. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lwm2m/error.h"
#include "sf_store.h"

#define EP "urn:dev:gw1"

static struct lwm2m_sf_store *mem_store(void) {
    struct lwm2m_sf_cfg cfg = {NULL, EP, 1, {0, 0}, NULL, NULL};
    struct lwm2m_sf_store *s = NULL;
    assert_int_equal(lwm2m_sf_open(&cfg, &s, NULL, 0), 0);
    return s;
}

static struct lwm2m_record rec_at(uint16_t oid, double v, double t) {
    struct lwm2m_record r = {lwm2m_path_make(3, oid, 0, 5700, 0), lwm2m_value_float(v), t, true};
    return r;
}

/* Three records: meter-a's, the gateway's own (a string), plc-7's. */
static size_t three_devs(struct lwm2m_record *r, const char **ids) {
    r[0] = rec_at(3303, 23.5, 1700000001.5);
    r[1] = (struct lwm2m_record){lwm2m_path_make(3, 3303, 0, 5701, 0), lwm2m_value_string("Cel", 3),
                                 1700000001.5, true};
    r[2] = rec_at(3303, 64.25, 1700000001.5);
    ids[0] = "meter-a";
    ids[1] = "";
    ids[2] = "plc-7";
    return 3;
}

static void assert_devs_entry(const struct lwm2m_sf_entry *e) {
    assert_int_equal(e->kind, LWM2M_SF_NOTIFY);
    assert_int_equal(e->token_len, 2);
    assert_memory_equal(e->token, "\x01\x02", 2);
    assert_int_equal(e->nrecs, 3);
    assert_non_null(e->dev_ids);
    assert_string_equal(e->dev_ids[0], "meter-a");
    assert_string_equal(e->dev_ids[1], "");
    assert_string_equal(e->dev_ids[2], "plc-7");
    assert_true(e->recs[0].value.v.f == 23.5 && e->recs[2].value.v.f == 64.25);
    assert_true(e->recs[0].time == 1700000001.5 && e->recs[2].has_time);
    assert_int_equal(e->recs[1].value.v.bytes.len, 3);
    assert_memory_equal(e->recs[1].value.v.bytes.ptr, "Cel", 3);
    assert_int_equal(e->recs[2].path.ids[0], 3303);
}

static void test_devs_roundtrip_and_version(void **state) {
    (void)state;
    struct lwm2m_sf_store *a = mem_store(), *b = mem_store();
    struct lwm2m_record r[3], plain = rec_at(3303, 1.0, 1700000000.0);
    const char *ids[3];
    size_t n = three_devs(r, ids);
    assert_int_equal(lwm2m_sf_push(a, LWM2M_SF_NOTIFY, (const uint8_t *)"\x01\x02", 2, &plain, 1),
                     0);
    uint8_t *img;
    size_t len;
    assert_int_equal(lwm2m_sf_encode(a, &img, &len), 0);
    assert_int_equal(img[4], 1); /* nothing needs version 2: older builds can still read it */
    free(img);
    assert_int_equal(
        lwm2m_sf_push_devs(a, LWM2M_SF_NOTIFY, (const uint8_t *)"\x01\x02", 2, r, ids, n), 0);
    assert_int_equal(lwm2m_sf_encode(a, &img, &len), 0);
    assert_int_equal(img[4], 2);
    assert_int_equal(lwm2m_sf_bytes(a), len - (10 + strlen(EP) + 4)); /* the IDs are counted */
    char err[256];
    assert_int_equal(lwm2m_sf_load_mem(b, img, len, err, sizeof(err)), 0);
    const struct lwm2m_sf_entry *e;
    assert_int_equal(lwm2m_sf_peek(b, &e), 0);
    assert_null(e->dev_ids); /* the single-device entry stays one */
    assert_int_equal(lwm2m_sf_pop(b, e->id), 0);
    assert_int_equal(lwm2m_sf_peek(b, &e), 0);
    assert_devs_entry(e);
    /* the copy is the store's: the caller's IDs may go */
    assert_int_equal(lwm2m_sf_peek(a, &e), 0);
    assert_int_equal(lwm2m_sf_pop(a, e->id), 0);
    ids[0] = "changed";
    assert_int_equal(lwm2m_sf_peek(a, &e), 0);
    assert_devs_entry(e);
    free(img);
    lwm2m_sf_close(a, NULL, 0);
    lwm2m_sf_close(b, NULL, 0);
}

static void test_devs_push_invalid(void **state) {
    (void)state;
    struct lwm2m_sf_store *s = mem_store();
    struct lwm2m_record r[3];
    const char *ids[3];
    size_t n = three_devs(r, ids);
    ids[1] = NULL;
    assert_int_equal(lwm2m_sf_push_devs(s, LWM2M_SF_NOTIFY, NULL, 0, r, ids, n), LWM2M_ERR_INVALID);
    char *longid = malloc(70000);
    assert_non_null(longid);
    memset(longid, 'x', 69999);
    longid[69999] = '\0';
    ids[1] = longid;
    assert_int_equal(lwm2m_sf_push_devs(s, LWM2M_SF_NOTIFY, NULL, 0, r, ids, n), LWM2M_ERR_INVALID);
    free(longid);
    assert_int_equal(lwm2m_sf_count(s), 0);
    assert_int_equal(lwm2m_sf_dropped(s), 0);
    lwm2m_sf_close(s, NULL, 0);
}

/* ---- files written by hand (the format in sf_codec.c), independent of the encoder ---------- */

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

static void put(uint8_t *buf, size_t *len, uint64_t v, unsigned nbytes) {
    for (unsigned i = 0; i < nbytes; i++) {
        buf[(*len)++] = (uint8_t)(v >> (8 * i));
    }
}

static size_t hdr(uint8_t *buf, uint8_t version) {
    size_t len = 0;
    memcpy(buf, "LWSF", 4);
    len = 4;
    put(buf, &len, version, 1);
    put(buf, &len, 0, 1);
    put(buf, &len, 1, 2);
    put(buf, &len, strlen(EP), 2);
    memcpy(buf + len, EP, strlen(EP));
    len += strlen(EP);
    put(buf, &len, crc32_ref(buf, len), 4);
    return len;
}

/* Appends an entry of one integer record /3303/0/5700 = v at time 1000, with the Device ID
 * id[0..idlen) before the record when id is given. */
static void entry(uint8_t *buf, size_t *len, uint8_t kind, int64_t v, const char *id,
                  size_t idlen) {
    size_t at = *len, body;
    double t = 1000.0;
    uint64_t tb;
    memcpy(&tb, &t, sizeof(tb));
    memcpy(buf + *len, "\xE5SFE", 4);
    *len += 4;
    put(buf, len, 0, 4); /* body_len, set below */
    body = *len;
    put(buf, len, kind, 1);
    put(buf, len, 0, 1);
    put(buf, len, 1, 4);
    if (id != NULL) {
        put(buf, len, idlen, 2);
        memcpy(buf + *len, id, idlen);
        *len += idlen;
    }
    put(buf, len, 3, 1);
    put(buf, len, 3303, 2);
    put(buf, len, 0, 2);
    put(buf, len, 5700, 2);
    put(buf, len, LWM2M_TYPE_INTEGER, 1);
    put(buf, len, tb, 8);
    put(buf, len, (uint64_t)v, 8);
    size_t blen = *len - body, l4 = at + 4;
    put(buf, &l4, blen, 4);
    put(buf, len, crc32_ref(buf + at + 4, 4 + blen), 4);
}

/* A file of the previous version (1) loads as before; the cross-device kind is damage there. */
static void test_version1_file_loads(void **state) {
    (void)state;
    char dir[] = "/tmp/test_sf_devs.XXXXXX", file[256], path[600], err[512];
    assert_non_null(mkdtemp(dir));
    uint8_t img[512];
    size_t len = hdr(img, 1);
    entry(img, &len, LWM2M_SF_NOTIFY, 41, NULL, 0);
    entry(img, &len, LWM2M_SF_SEND, 42, NULL, 0);
    assert_true(lwm2m_sf_file_name(EP, 1, file, sizeof(file)) > 0);
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(img, 1, len, fp), len);
    fclose(fp);
    struct lwm2m_sf_cfg cfg = {dir, EP, 1, {0, 0}, NULL, NULL};
    struct lwm2m_sf_store *s = NULL;
    assert_int_equal(lwm2m_sf_open(&cfg, &s, err, sizeof(err)), 0);
    assert_string_equal(err, "");
    assert_int_equal(lwm2m_sf_count(s), 2);
    const struct lwm2m_sf_entry *e;
    assert_int_equal(lwm2m_sf_peek(s, &e), 0);
    assert_int_equal(e->kind, LWM2M_SF_NOTIFY);
    assert_null(e->dev_ids);
    assert_int_equal(e->recs[0].value.v.i, 41);
    assert_true(e->recs[0].time == 1000.0);
    /* written back unchanged: still version 1, byte for byte */
    uint8_t *out;
    size_t olen;
    assert_int_equal(lwm2m_sf_encode(s, &out, &olen), 0);
    assert_int_equal(olen, len);
    assert_memory_equal(out, img, len);
    free(out);
    lwm2m_sf_close(s, NULL, 0);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(rmdir(dir), 0);

    s = mem_store();
    len = hdr(img, 1);
    entry(img, &len, LWM2M_SF_NOTIFY | 0x80, 43, "plc-7", 5);
    assert_int_equal(lwm2m_sf_load_mem(s, img, len, err, sizeof(err)), LWM2M_ERR_FORMAT);
    assert_non_null(strstr(err, "invalid entry content"));
    assert_int_equal(lwm2m_sf_count(s), 0);
    lwm2m_sf_close(s, NULL, 0);
}

static void test_version2_file_by_hand(void **state) {
    (void)state;
    struct lwm2m_sf_store *s = mem_store();
    uint8_t img[512];
    char err[512];
    size_t len = hdr(img, 2);
    entry(img, &len, LWM2M_SF_NOTIFY | 0x80, 43, "plc-7", 5);
    entry(img, &len, LWM2M_SF_SEND, 44, NULL, 0); /* version 2 holds plain entries too */
    entry(img, &len, LWM2M_SF_NOTIFY | 0x80, 45, "pl\0c", 4); /* a NUL cannot be in a C string */
    assert_int_equal(lwm2m_sf_load_mem(s, img, len, err, sizeof(err)), LWM2M_ERR_FORMAT);
    assert_int_equal(lwm2m_sf_count(s), 2);
    assert_int_equal(lwm2m_sf_damaged(s), 1);
    const struct lwm2m_sf_entry *e;
    assert_int_equal(lwm2m_sf_peek(s, &e), 0);
    assert_non_null(e->dev_ids);
    assert_string_equal(e->dev_ids[0], "plc-7");
    assert_int_equal(e->recs[0].value.v.i, 43);
    assert_int_equal(lwm2m_sf_pop(s, e->id), 0);
    assert_int_equal(lwm2m_sf_peek(s, &e), 0);
    assert_null(e->dev_ids);
    assert_int_equal(e->recs[0].value.v.i, 44);
    /* version 3 is not ours */
    lwm2m_sf_close(s, NULL, 0);
    s = mem_store();
    len = hdr(img, 3);
    assert_int_equal(lwm2m_sf_load_mem(s, img, len, err, sizeof(err)), LWM2M_ERR_FORMAT);
    assert_non_null(strstr(err, "unsupported format version"));
    lwm2m_sf_close(s, NULL, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_devs_roundtrip_and_version),
        cmocka_unit_test(test_devs_push_invalid),
        cmocka_unit_test(test_version1_file_loads),
        cmocka_unit_test(test_version2_file_by_hand),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
