/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the per-observation bound of the store-and-forward queue (an observation's
 * hqmax, LwM2M 1.2): the oldest entries of that observation go first and are counted apart from
 * the store's own limits, which apply after it; other observations and Sends are untouched; the
 * token that names the observation survives the file, so a bound applies to what a previous run
 * kept. Memory-only stores. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lwm2m/error.h"
#include "sf_store.h"

#define EP "urn:dev:hq"

static const uint8_t TOK_A[2] = {0xA0, 1}, TOK_B[2] = {0xB0, 2};

static struct lwm2m_sf_store *mem_store(uint32_t max_entries) {
    struct lwm2m_sf_cfg cfg = {NULL, EP, 1, {max_entries, 0}, NULL, NULL};
    struct lwm2m_sf_store *s = NULL;
    assert_int_equal(lwm2m_sf_open(&cfg, &s, NULL, 0), 0);
    return s;
}

static struct lwm2m_record rec(int64_t v) {
    struct lwm2m_record r = {lwm2m_path_make(3, 3303, 0, 5700, 0), lwm2m_value_int(v),
                             1700000000.0 + (double)v, true};
    return r;
}

/* A notification of the observation with token tok (2 bytes), value v, bound max_same. */
static void push_obs(struct lwm2m_sf_store *s, const uint8_t *tok, uint32_t max_same, int64_t v) {
    struct lwm2m_record r = rec(v);
    assert_int_equal(lwm2m_sf_push_obs(s, tok, 2, max_same, &r, NULL, 1), 0);
}

static void push_send(struct lwm2m_sf_store *s, int64_t v) {
    struct lwm2m_record r = rec(v);
    assert_int_equal(lwm2m_sf_push(s, LWM2M_SF_SEND, NULL, 0, &r, 1), 0);
}

/* Pops every entry, checking their values in order against want[0..n). */
static void assert_queue(struct lwm2m_sf_store *s, const int64_t *want, size_t n) {
    assert_int_equal(lwm2m_sf_count(s), n);
    for (size_t i = 0; i < n; i++) {
        const struct lwm2m_sf_entry *e;
        assert_int_equal(lwm2m_sf_peek(s, &e), 0);
        assert_int_equal(e->recs[0].value.v.i, want[i]);
        assert_int_equal(lwm2m_sf_pop(s, e->id), 0);
    }
}

/* A (bound 2) and B (no bound) interleaved with a Send: A keeps its newest two, in their
 * places; B and the Send keep everything. */
static void test_bound_per_observation(void **state) {
    (void)state;
    struct lwm2m_sf_store *s = mem_store(0);
    push_obs(s, TOK_A, 2, 1);
    push_obs(s, TOK_B, 0, 101);
    push_obs(s, TOK_A, 2, 2);
    push_send(s, 900);
    push_obs(s, TOK_A, 2, 3);
    push_obs(s, TOK_B, 0, 102);
    push_obs(s, TOK_A, 2, 4);
    assert_int_equal(lwm2m_sf_trimmed(s), 2);
    assert_int_equal(lwm2m_sf_dropped(s), 0);
    static const int64_t want[] = {101, 900, 3, 102, 4};
    assert_queue(s, want, 5);
    lwm2m_sf_close(s, NULL, 0);
}

/* A token of another length is another observation, however alike the bytes. */
static void test_token_is_the_observation(void **state) {
    (void)state;
    struct lwm2m_sf_store *s = mem_store(0);
    struct lwm2m_record r = rec(7);
    assert_int_equal(lwm2m_sf_push_obs(s, TOK_A, 1, 1, &r, NULL, 1), 0);
    push_obs(s, TOK_A, 1, 8); /* {A0 01} is not {A0} */
    push_obs(s, TOK_A, 1, 9);
    static const int64_t want[] = {7, 9};
    assert_int_equal(lwm2m_sf_trimmed(s), 1);
    assert_queue(s, want, 2);
    lwm2m_sf_close(s, NULL, 0);
}

/* The observation's bound comes first: when it makes room, the store's limit drops nothing of
 * another observation; when it does not, the store's limit drops the oldest of any. */
static void test_bound_before_store_limits(void **state) {
    (void)state;
    struct lwm2m_sf_store *s = mem_store(4);
    push_obs(s, TOK_B, 0, 101);
    push_obs(s, TOK_A, 2, 1);
    push_obs(s, TOK_A, 2, 2);
    push_obs(s, TOK_B, 0, 102);
    push_obs(s, TOK_A, 2, 3); /* A's 1 goes, B's 101 stays */
    assert_int_equal(lwm2m_sf_trimmed(s), 1);
    assert_int_equal(lwm2m_sf_dropped(s), 0);
    push_obs(s, TOK_A, 3, 4); /* within A's new bound of 3: the store's limit drops 101 */
    assert_int_equal(lwm2m_sf_trimmed(s), 1);
    assert_int_equal(lwm2m_sf_dropped(s), 1);
    static const int64_t want[] = {2, 102, 3, 4};
    assert_queue(s, want, 4);
    lwm2m_sf_close(s, NULL, 0);
}

/* Bound 1: only the newest; the entry being delivered (the head) may be the one that goes, and
 * its pop then finds it gone. A push that fails drops nothing. */
static void test_bound_one_and_failed_push(void **state) {
    (void)state;
    struct lwm2m_sf_store *s = mem_store(0);
    push_obs(s, TOK_A, 1, 1);
    const struct lwm2m_sf_entry *e;
    assert_int_equal(lwm2m_sf_peek(s, &e), 0);
    uint64_t in_flight = e->id;
    push_obs(s, TOK_A, 1, 2);
    assert_int_equal(lwm2m_sf_pop(s, in_flight), LWM2M_ERR_NOTFOUND);
    struct lwm2m_record bad = rec(3);
    bad.path.len = 7;
    assert_int_equal(lwm2m_sf_push_obs(s, TOK_A, 2, 1, &bad, NULL, 1), LWM2M_ERR_INVALID);
    uint8_t long_tok[9] = {0};
    struct lwm2m_record r = rec(4);
    assert_int_equal(lwm2m_sf_push_obs(s, long_tok, 9, 1, &r, NULL, 1), LWM2M_ERR_INVALID);
    assert_int_equal(lwm2m_sf_trimmed(s), 1);
    static const int64_t want[] = {2};
    assert_queue(s, want, 1);
    lwm2m_sf_close(s, NULL, 0);
}

/* Loading applies no bound (the observations are gone after a restart), but the token is in the
 * file: a bound given later counts the loaded entries of that observation. */
static void test_token_survives_the_file(void **state) {
    (void)state;
    struct lwm2m_sf_store *a = mem_store(0), *b = mem_store(0);
    for (int64_t v = 1; v <= 3; v++)
        push_obs(a, TOK_A, 0, v);
    push_obs(a, TOK_B, 0, 101);
    uint8_t *img;
    size_t len;
    assert_int_equal(lwm2m_sf_encode(a, &img, &len), 0);
    assert_int_equal(lwm2m_sf_load_mem(b, img, len, NULL, 0), 0);
    free(img);
    assert_int_equal(lwm2m_sf_count(b), 4);
    assert_int_equal(lwm2m_sf_trimmed(b), 0);
    push_obs(b, TOK_A, 2, 4);
    assert_int_equal(lwm2m_sf_trimmed(b), 2);
    static const int64_t want[] = {3, 101, 4};
    assert_queue(b, want, 3);
    lwm2m_sf_close(a, NULL, 0);
    lwm2m_sf_close(b, NULL, 0);
}

/* A cross-device notification (gateway mode) is bound by its observation's token too. */
static void test_cross_device_entries_bound(void **state) {
    (void)state;
    struct lwm2m_sf_store *s = mem_store(0);
    const char *ids[1] = {"meter-a"};
    for (int64_t v = 1; v <= 3; v++) {
        struct lwm2m_record r = rec(v);
        assert_int_equal(lwm2m_sf_push_obs(s, TOK_A, 2, 2, &r, ids, 1), 0);
    }
    const struct lwm2m_sf_entry *e;
    assert_int_equal(lwm2m_sf_peek(s, &e), 0);
    assert_non_null(e->dev_ids);
    assert_string_equal(e->dev_ids[0], "meter-a");
    static const int64_t want[] = {2, 3};
    assert_queue(s, want, 2);
    lwm2m_sf_close(s, NULL, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bound_per_observation),
        cmocka_unit_test(test_token_is_the_observation),
        cmocka_unit_test(test_bound_before_store_limits),
        cmocka_unit_test(test_bound_one_and_failed_push),
        cmocka_unit_test(test_token_survives_the_file),
        cmocka_unit_test(test_cross_device_entries_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
