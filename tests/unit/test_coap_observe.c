/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the Observe helpers (coap_observe.c, RFC 7641): the 24-bit sequence, and the
 * §3.4 freshness rule at its numeric edges, across wrap-around at 2^24, and after 128 s. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lwm2m/coap.h"

#define HALF (1u << 23)

static void test_next(void **state) {
    (void)state;
    assert_int_equal(coap_observe_next(0), 1);
    assert_int_equal(coap_observe_next(41), 42);
    assert_int_equal(coap_observe_next(0xfffffe), 0xffffff);
    assert_int_equal(coap_observe_next(COAP_OBSERVE_MAX), 0);
    assert_int_equal(coap_observe_next(0xffffffffu), 0); /* stray high bits are dropped */
}

/* Same reception time: only the sequence numbers decide. */
static void test_fresh_by_sequence(void **state) {
    (void)state;
    assert_true(coap_observe_is_fresh(1, 0, 2, 0));
    assert_false(coap_observe_is_fresh(2, 0, 1, 0));
    assert_false(coap_observe_is_fresh(7, 0, 7, 0));
    assert_true(coap_observe_is_fresh(0, 0, HALF - 1, 0));  /* V2 - V1 < 2^23 */
    assert_false(coap_observe_is_fresh(0, 0, HALF, 0));     /* V2 - V1 = 2^23 */
    assert_false(coap_observe_is_fresh(0, 0, HALF + 1, 0)); /* too far ahead: an old one */
    assert_true(coap_observe_is_fresh(HALF + 1, 0, 0, 0));  /* V1 - V2 > 2^23 */
    assert_false(coap_observe_is_fresh(HALF, 0, 0, 0));     /* V1 - V2 = 2^23 */
    /* Only the low 24 bits are a sequence number. */
    assert_true(coap_observe_is_fresh(0x1000005, 0, 6, 0));
    assert_false(coap_observe_is_fresh(6, 0, 0x1000005, 0));
}

static void test_fresh_across_wrap(void **state) {
    uint32_t seq = 0xfffff0;

    (void)state;
    assert_true(coap_observe_is_fresh(0xffffff, 0, 0, 0));
    assert_true(coap_observe_is_fresh(0xfffff0, 0, 5, 0));
    assert_false(coap_observe_is_fresh(5, 0, 0xfffff0, 0));
    /* A sender counting through the wrap is fresh at every step. */
    for (int i = 0; i < 64; i++) {
        uint32_t next = coap_observe_next(seq);

        assert_true(coap_observe_is_fresh(seq, 1000, next, 1000));
        assert_false(coap_observe_is_fresh(next, 1000, seq, 1000));
        seq = next;
    }
    assert_int_equal(seq, 0x30);
}

static void test_fresh_after_128s(void **state) {
    (void)state;
    /* Older sequence number, but more than 128 s later: fresh. */
    assert_true(coap_observe_is_fresh(100, 5000, 50, 5000 + 128001));
    assert_false(coap_observe_is_fresh(100, 5000, 50, 5000 + 128000));
    assert_false(coap_observe_is_fresh(100, 5000, 100, 5000 + 127999));
    assert_true(coap_observe_is_fresh(100, 5000, 100, 5000 + 200000));
    /* Received earlier than the kept one: the time rule never applies. */
    assert_false(coap_observe_is_fresh(100, 500000, 50, 0));
    /* No overflow when t1 is near the end of the clock. */
    assert_false(coap_observe_is_fresh(100, UINT64_MAX - 10, 50, UINT64_MAX));
    assert_true(coap_observe_is_fresh(100, UINT64_MAX - 128001, 50, UINT64_MAX));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_next),
        cmocka_unit_test(test_fresh_by_sequence),
        cmocka_unit_test(test_fresh_across_wrap),
        cmocka_unit_test(test_fresh_after_128s),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
