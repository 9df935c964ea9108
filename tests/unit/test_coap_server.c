/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the message layer's server side with a mock transport and clock: piggy-backed,
 * NON and deferred (separate) answers, deduplication and its expiry, 4.00 for malformed CON
 * requests, 4.02 for unknown critical options, and memory going back to idle. */
#include "coap_test_mock.h"

/* Handler modes, chosen per test through f->user. */
enum mode { ANSWER, DEFER, FAIL, SILENT };

static int handler(void *ctx, struct coap_endpoint *ep, const struct coap_incoming *in) {
    struct fx *f = ctx;
    f->handler_calls++;
    enum mode mode = (enum mode)(uintptr_t)f->user;
    if (mode == DEFER) {
        assert_int_equal(coap_defer(ep, in, &f->handle), 0);
        assert_int_equal(coap_reply(ep, in, in->req), LWM2M_ERR_STATE); /* deferred already */
        return LWM2M_ERR_AGAIN;
    }
    if (mode == FAIL)
        return LWM2M_ERR_IO;
    if (mode == SILENT)
        return 0;
    struct coap_msg r;
    coap_msg_init(&r, COAP_TYPE_ACK, COAP_205_CONTENT, 0);
    coap_msg_set_payload(&r, "hello", 5);
    assert_int_equal(coap_reply(ep, in, &r), 0);
    assert_int_equal(coap_reply(ep, in, &r), LWM2M_ERR_STATE); /* once only */
    return 0;
}

static struct fx *fx_server(enum mode mode) {
    struct fx *f = fx_new(handler);
    f->user = (void *)(uintptr_t)mode;
    return f;
}

static void get(struct fx *f, uint8_t type, uint16_t mid) {
    struct coap_msg m;
    fx_msg(&m, type, COAP_GET, mid, (const uint8_t *)"\x01\x02\x03\x04", 4);
    coap_msg_add_path(&m, COAP_OPT_URI_PATH, "hello");
    fx_input(f, &m, NULL);
}

static void test_piggybacked(void **state) {
    (void)state;
    struct fx *f = fx_server(ANSWER);
    get(f, COAP_TYPE_CON, 0x100);
    assert_int_equal(f->handler_calls, 1);
    struct coap_msg *r = fx_sent(f, -1);
    assert_int_equal(r->type, COAP_TYPE_ACK);
    assert_int_equal(r->code, COAP_205_CONTENT);
    assert_int_equal(r->mid, 0x100);
    assert_int_equal(r->token_len, 4);
    assert_memory_equal(r->token, "\x01\x02\x03\x04", 4);
    assert_int_equal(r->payload_len, 5);
    assert_int_equal(f->env.stats.requests_rx, 1);
    fx_free(f);
}

static void test_non_request_non_response(void **state) {
    (void)state;
    struct fx *f = fx_server(ANSWER);
    get(f, COAP_TYPE_NON, 0x100);
    struct coap_msg *r = fx_sent(f, -1);
    assert_int_equal(r->type, COAP_TYPE_NON);
    assert_int_equal(r->code, COAP_205_CONTENT);
    assert_memory_equal(r->token, "\x01\x02\x03\x04", 4);
    fx_free(f);
}

static void test_dedup_con_replays(void **state) {
    (void)state;
    struct fx *f = fx_server(ANSWER);
    get(f, COAP_TYPE_CON, 0x200);
    get(f, COAP_TYPE_CON, 0x200);
    assert_int_equal(f->handler_calls, 1);
    assert_int_equal(f->tp.n_sent, 2);
    assert_int_equal(f->tp.sent[0].len, f->tp.sent[1].len);
    assert_memory_equal(f->tp.sent[0].data, f->tp.sent[1].data, f->tp.sent[0].len);
    assert_int_equal(f->env.stats.duplicates, 1);
    /* same MID from another peer is another message */
    struct coap_msg m;
    fx_msg(&m, COAP_TYPE_CON, COAP_GET, 0x200, NULL, 0);
    fx_input(f, &m, &f->peer2);
    assert_int_equal(f->handler_calls, 2);
    fx_free(f);
}

static void test_dedup_non_dropped(void **state) {
    (void)state;
    struct fx *f = fx_server(ANSWER);
    get(f, COAP_TYPE_NON, 0x300);
    get(f, COAP_TYPE_NON, 0x300);
    assert_int_equal(f->handler_calls, 1);
    assert_int_equal(f->tp.n_sent, 1);
    assert_int_equal(f->env.stats.duplicates, 1);
    fx_free(f);
}

static void test_dedup_expiry(void **state) {
    (void)state;
    struct fx *f = fx_server(ANSWER);
    get(f, COAP_TYPE_CON, 0x400);
    get(f, COAP_TYPE_NON, 0x401);
    assert_true(coap_endpoint_mem(f->ep) > 300); /* two entries, one cached reply */
    fx_advance(f, 145000 - 1);
    get(f, COAP_TYPE_NON, 0x401);
    assert_int_equal(f->handler_calls, 2); /* still remembered */
    fx_advance(f, 1);
    get(f, COAP_TYPE_NON, 0x401); /* NON_LIFETIME over: new message */
    assert_int_equal(f->handler_calls, 3);
    get(f, COAP_TYPE_CON, 0x400);
    assert_int_equal(f->handler_calls, 3); /* EXCHANGE_LIFETIME not over */
    fx_run_until(f, 1000000 + 247000);
    get(f, COAP_TYPE_CON, 0x400);
    assert_int_equal(f->handler_calls, 4);
    fx_advance(f, 300000);
    assert_int_equal(coap_endpoint_next_deadline(f->ep), 0); /* idle again: no timer */
    assert_true(coap_endpoint_mem(f->ep) < 400);             /* and back to the bare struct */
    fx_free(f);
}

static void test_dedup_bounded(void **state) {
    (void)state;
    struct fx *f = fx_server(ANSWER);
    f->env.params.dedup_max = 4;
    for (uint16_t mid = 1; mid <= 5; mid++)
        get(f, COAP_TYPE_CON, mid);
    assert_int_equal(f->env.stats.dedup_evicted, 1);
    get(f, COAP_TYPE_CON, 5);
    assert_int_equal(f->handler_calls, 5); /* newest still known */
    get(f, COAP_TYPE_CON, 1);
    assert_int_equal(f->handler_calls, 6); /* oldest was evicted */
    fx_free(f);
}

static void answer_deferred(struct fx *f, const char *text) {
    struct coap_msg r;
    coap_msg_init(&r, COAP_TYPE_CON, COAP_204_CHANGED, 0);
    coap_msg_set_payload(&r, text, strlen(text));
    assert_int_equal(coap_respond(f->ep, f->handle, &r), 0);
    assert_int_equal(coap_respond(f->ep, f->handle, &r), LWM2M_ERR_NOTFOUND);
}

static void test_deferred_fast_is_piggybacked(void **state) {
    (void)state;
    struct fx *f = fx_server(DEFER);
    get(f, COAP_TYPE_CON, 0x500);
    assert_int_equal(f->tp.n_sent, 0);
    fx_advance(f, 999);
    assert_int_equal(f->tp.n_sent, 0);
    answer_deferred(f, "ok");
    struct coap_msg *r = fx_sent(f, -1);
    assert_int_equal(r->type, COAP_TYPE_ACK);
    assert_int_equal(r->code, COAP_204_CHANGED);
    assert_int_equal(r->mid, 0x500);
    fx_free(f);
}

static void test_deferred_slow_is_separate(void **state) {
    (void)state;
    struct fx *f = fx_server(DEFER);
    get(f, COAP_TYPE_CON, 0x600);
    fx_advance(f, 1000); /* defer_ack_ms: the empty ACK goes out */
    assert_int_equal(f->tp.n_sent, 1);
    struct coap_msg *r = fx_sent(f, 0);
    assert_int_equal(r->type, COAP_TYPE_ACK);
    assert_int_equal(r->code, COAP_EMPTY);
    assert_int_equal(r->mid, 0x600);
    get(f, COAP_TYPE_CON, 0x600); /* duplicate: empty ACK again, handler not called */
    assert_int_equal(f->handler_calls, 1);
    assert_int_equal(f->tp.n_sent, 2);
    assert_int_equal(fx_sent(f, -1)->code, COAP_EMPTY);
    fx_advance(f, 2000);
    answer_deferred(f, "late");
    r = fx_sent(f, -1);
    assert_int_equal(r->type, COAP_TYPE_CON);
    assert_int_equal(r->code, COAP_204_CHANGED);
    assert_memory_equal(r->token, "\x01\x02\x03\x04", 4);
    uint16_t mid = r->mid;
    assert_true(mid != 0x600);
    assert_int_equal(f->env.stats.separate_tx, 1);
    fx_run_until(f, coap_endpoint_next_deadline(f->ep)); /* retransmitted until acknowledged */
    assert_int_equal(f->tp.n_sent, 4);
    assert_int_equal(fx_sent(f, -1)->mid, mid);
    struct coap_msg ack;
    fx_msg(&ack, COAP_TYPE_ACK, COAP_EMPTY, mid, NULL, 0);
    fx_input(f, &ack, NULL);
    fx_advance(f, 100000);
    assert_int_equal(f->tp.n_sent, 4);
    fx_free(f);
}

static void test_deferred_duplicate_acks_early(void **state) {
    (void)state;
    struct fx *f = fx_server(DEFER);
    get(f, COAP_TYPE_CON, 0x700);
    fx_advance(f, 300);
    get(f, COAP_TYPE_CON, 0x700); /* the client retransmitted: ACK now */
    assert_int_equal(f->tp.n_sent, 1);
    assert_int_equal(fx_sent(f, -1)->code, COAP_EMPTY);
    fx_advance(f, 2000);
    assert_int_equal(f->tp.n_sent, 1); /* no second empty ACK from the timer */
    answer_deferred(f, "x");
    assert_int_equal(fx_sent(f, -1)->type, COAP_TYPE_CON);
    fx_free(f);
}

static void test_deferred_non(void **state) {
    (void)state;
    struct fx *f = fx_server(DEFER);
    get(f, COAP_TYPE_NON, 0x800);
    fx_advance(f, 5000);
    assert_int_equal(f->tp.n_sent, 0); /* no ACK for a NON */
    answer_deferred(f, "x");
    struct coap_msg *r = fx_sent(f, -1);
    assert_int_equal(r->type, COAP_TYPE_NON);
    assert_int_equal(r->code, COAP_204_CHANGED);
    fx_free(f);
}

static void test_deferred_abandoned(void **state) {
    (void)state;
    struct fx *f = fx_server(DEFER);
    get(f, COAP_TYPE_CON, 0x900);
    assert_int_equal(coap_respond(f->ep, f->handle, NULL), 0);
    assert_int_equal(fx_sent(f, -1)->code, COAP_EMPTY);
    fx_advance(f, 5000);
    assert_int_equal(f->tp.n_sent, 1);
    fx_free(f);
}

static void test_handler_errors(void **state) {
    (void)state;
    struct fx *f = fx_server(FAIL);
    get(f, COAP_TYPE_CON, 1);
    assert_int_equal(fx_sent(f, -1)->code, COAP_500_INTERNAL_SERVER_ERROR);
    f->user = (void *)(uintptr_t)SILENT;
    get(f, COAP_TYPE_CON, 2);
    assert_int_equal(fx_sent(f, -1)->code, COAP_500_INTERNAL_SERVER_ERROR);
    assert_int_equal(f->env.stats.handler_errors, 2);
    coap_endpoint_set_handler(f->ep, NULL, NULL);
    get(f, COAP_TYPE_CON, 3);
    assert_int_equal(fx_sent(f, -1)->code, COAP_404_NOT_FOUND);
    fx_free(f);
}

static void test_malformed_con_request_gets_400(void **state) {
    (void)state;
    struct fx *f = fx_server(ANSWER);
    /* CON GET, MID 0x0a0b, token 2 bytes, then an option byte with the reserved delta 15 */
    const uint8_t bad[] = {0x42, 0x01, 0x0a, 0x0b, 0xde, 0xad, 0xf1, 0x00};
    fx_input_raw(f, bad, sizeof(bad));
    assert_int_equal(f->handler_calls, 0);
    struct coap_msg *r = fx_sent(f, -1);
    assert_int_equal(r->type, COAP_TYPE_ACK);
    assert_int_equal(r->code, COAP_400_BAD_REQUEST);
    assert_int_equal(r->mid, 0x0a0b);
    assert_int_equal(r->token_len, 2);
    assert_memory_equal(r->token, "\xde\xad", 2);
    assert_int_equal(f->env.stats.malformed, 1);
    assert_int_equal(f->env.stats.bad_request, 1);
    /* the same defect in a NON, a response, or a datagram too short for a header: dropped */
    const uint8_t bad_non[] = {0x52, 0x01, 0x0a, 0x0c, 0xde, 0xad, 0xf1, 0x00};
    const uint8_t bad_resp[] = {0x42, 0x45, 0x0a, 0x0d, 0xde, 0xad, 0xf1, 0x00};
    const uint8_t short_tok[] = {0x48, 0x01, 0x0a, 0x0e, 0x01};
    const uint8_t junk[] = {0xff, 0x00};
    fx_input_raw(f, bad_non, sizeof(bad_non));
    fx_input_raw(f, bad_resp, sizeof(bad_resp));
    fx_input_raw(f, short_tok, sizeof(short_tok));
    fx_input_raw(f, junk, sizeof(junk));
    assert_int_equal(f->tp.n_sent, 1);
    assert_int_equal(f->env.stats.malformed, 5);
    get(f, COAP_TYPE_CON, 0x10); /* and the endpoint keeps answering */
    assert_int_equal(fx_sent(f, -1)->code, COAP_205_CONTENT);
    fx_free(f);
}

static void test_unknown_critical_gets_402(void **state) {
    (void)state;
    struct fx *f = fx_server(ANSWER);
    struct coap_msg m;
    fx_msg(&m, COAP_TYPE_CON, COAP_GET, 0x77, (const uint8_t *)"\x09", 1);
    coap_msg_add_path(&m, COAP_OPT_URI_PATH, "hello");
    coap_msg_add_opt(&m, 2049, "x", 1); /* odd: critical, unknown */
    fx_input(f, &m, NULL);
    assert_int_equal(f->handler_calls, 0);
    struct coap_msg *r = fx_sent(f, -1);
    assert_int_equal(r->type, COAP_TYPE_ACK);
    assert_int_equal(r->code, COAP_402_BAD_OPTION);
    assert_int_equal(r->mid, 0x77);
    assert_int_equal(f->env.stats.bad_option, 1);
    /* an unknown elective option is ignored */
    fx_msg(&m, COAP_TYPE_CON, COAP_GET, 0x78, NULL, 0);
    coap_msg_add_opt(&m, 2048, "x", 1);
    fx_input(f, &m, NULL);
    assert_int_equal(f->handler_calls, 1);
    /* the engine may declare more known options */
    static const uint16_t extra[] = {2049};
    f->env.known_opts = extra;
    f->env.known_opts_n = 1;
    fx_msg(&m, COAP_TYPE_CON, COAP_GET, 0x79, NULL, 0);
    coap_msg_add_opt(&m, 2049, "x", 1);
    fx_input(f, &m, NULL);
    assert_int_equal(f->handler_calls, 2);
    fx_free(f);
}

static void test_size2_requested(void **state) {
    (void)state;
    struct fx *f = fx_server(ANSWER);
    struct coap_msg m;
    fx_msg(&m, COAP_TYPE_CON, COAP_GET, 0x90, NULL, 0);
    coap_msg_add_opt_uint(&m, COAP_OPT_SIZE2, 0); /* "tell me the size" (RFC 7959 §4) */
    fx_input(f, &m, NULL);
    assert_int_equal(fx_opt_uint(fx_sent(f, -1), COAP_OPT_SIZE2), 5);
    get(f, COAP_TYPE_CON, 0x91);
    assert_null(coap_msg_opt(fx_sent(f, -1), COAP_OPT_SIZE2));
    fx_free(f);
}

static void test_idle_footprint(void **state) {
    (void)state;
    struct fx *f = fx_server(ANSWER);
    size_t idle = coap_endpoint_mem(f->ep);
    print_message("idle endpoint: %zu bytes (struct coap_endpoint)\n", idle);
    assert_true(idle <= 256);
    assert_int_equal(coap_endpoint_next_deadline(f->ep), 0);
    fx_free(f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_piggybacked),
        cmocka_unit_test(test_non_request_non_response),
        cmocka_unit_test(test_dedup_con_replays),
        cmocka_unit_test(test_dedup_non_dropped),
        cmocka_unit_test(test_dedup_expiry),
        cmocka_unit_test(test_dedup_bounded),
        cmocka_unit_test(test_deferred_fast_is_piggybacked),
        cmocka_unit_test(test_deferred_slow_is_separate),
        cmocka_unit_test(test_deferred_duplicate_acks_early),
        cmocka_unit_test(test_deferred_non),
        cmocka_unit_test(test_deferred_abandoned),
        cmocka_unit_test(test_handler_errors),
        cmocka_unit_test(test_malformed_con_request_gets_400),
        cmocka_unit_test(test_unknown_critical_gets_402),
        cmocka_unit_test(test_size2_requested),
        cmocka_unit_test(test_idle_footprint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
