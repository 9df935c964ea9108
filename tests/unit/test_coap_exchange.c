/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the message layer's outgoing side with a mock transport and clock: the exact CON
 * retransmission schedule, piggy-backed and separate responses, RST, ping, NSTART queueing,
 * cancellation, notifications (CON/NON, ACK/RST/timeout) and re-entrant frees. */
#include "coap_test_mock.h"

#include "coap_endpoint_internal.h"

static const uint64_t T0 = 1000000; /* fx_new()'s start time */

/* Sends CON GET /x to f->peer and returns the sent message's MID; token copied to tok. */
static uint16_t send_get(struct fx *f, uint8_t type, uint8_t tok[8], uint32_t *id) {
    struct coap_msg req;
    coap_msg_init(&req, type, COAP_GET, 0);
    coap_msg_add_path(&req, COAP_OPT_URI_PATH, "x");
    size_t before = f->tp.n_sent;
    assert_int_equal(coap_request(f->ep, &f->peer, &req, fx_done, f, id), 0);
    if (f->tp.n_sent == before)
        return 0; /* queued */
    struct coap_msg *m = fx_sent(f, -1);
    assert_int_equal(m->token_len, 8);
    if (tok != NULL)
        memcpy(tok, m->token, 8);
    return m->mid;
}

static void test_retransmit_schedule_exact(void **state) {
    (void)state;
    struct fx *f = fx_new(NULL);
    f->rng.fill = 0; /* initial timeout = ACK_TIMEOUT exactly */
    send_get(f, COAP_TYPE_CON, NULL, NULL);
    assert_int_equal(f->tp.n_sent, 1);
    assert_int_equal(coap_endpoint_next_deadline(f->ep), T0 + 2000);
    /* Sends at 0, 2, 6, 14, 30 s (timeout doubling), failure at 62 s. */
    const uint64_t at[] = {2000, 6000, 14000, 30000};
    for (size_t i = 0; i < 4; i++) {
        fx_run_until(f, T0 + at[i] - 1);
        assert_int_equal(f->tp.n_sent, i + 1);
        fx_run_until(f, T0 + at[i]);
        assert_int_equal(f->tp.n_sent, i + 2);
        /* a retransmission is byte-identical (same MID and token) */
        assert_memory_equal(f->tp.sent[i + 1].data, f->tp.sent[0].data, f->tp.sent[0].len);
    }
    fx_run_until(f, T0 + 62000 - 1);
    assert_int_equal(f->done_calls, 0);
    fx_run_until(f, T0 + 62000);
    assert_int_equal(f->done_calls, 1);
    assert_int_equal(f->done_err, LWM2M_ERR_TIMEOUT);
    assert_int_equal(f->tp.n_sent, 5);
    assert_int_equal(f->env.stats.retransmissions, 4);
    assert_int_equal(f->env.stats.timeouts, 1);
    assert_int_equal(coap_endpoint_next_deadline(f->ep), 0); /* idle: no timer */
    fx_free(f);
}

static void test_retransmit_random_bounds(void **state) {
    (void)state;
    for (unsigned fill = 0; fill < 256; fill += 17) {
        struct fx *f = fx_new(NULL);
        f->rng.fill = (uint8_t)fill;
        send_get(f, COAP_TYPE_CON, NULL, NULL);
        uint64_t first = coap_endpoint_next_deadline(f->ep) - T0;
        assert_in_range(first, 2000, 3000);
        fx_run_until(f, T0 + first);
        assert_int_equal(f->tp.n_sent, 2);
        assert_int_equal(coap_endpoint_next_deadline(f->ep) - f->now, 2 * first);
        fx_free(f);
    }
}

static void test_shortened_params(void **state) {
    (void)state;
    struct fx *f = fx_new(NULL);
    f->env.params.ack_timeout_ms = 100;
    f->env.params.max_retransmit = 2;
    send_get(f, COAP_TYPE_CON, NULL, NULL);
    fx_advance(f, 10000);
    assert_int_equal(f->tp.n_sent, 3);
    assert_int_equal(f->done_err, LWM2M_ERR_TIMEOUT);
    fx_free(f);
}

static void test_piggybacked_response(void **state) {
    (void)state;
    struct fx *f = fx_new(NULL);
    uint8_t tok[8];
    uint16_t mid = send_get(f, COAP_TYPE_CON, tok, NULL);
    struct coap_msg ack;
    fx_msg(&ack, COAP_TYPE_ACK, COAP_205_CONTENT, mid, tok, 7); /* wrong token: ignored */
    fx_input(f, &ack, NULL);
    assert_int_equal(f->done_calls, 0);
    assert_int_equal(f->env.stats.unmatched, 1);
    fx_msg(&ack, COAP_TYPE_ACK, COAP_205_CONTENT, mid, tok, 8);
    coap_msg_set_payload(&ack, "hi", 2);
    fx_input(f, &ack, &f->peer2); /* right MID, wrong peer: ignored */
    assert_int_equal(f->done_calls, 0);
    fx_input(f, &ack, NULL);
    assert_int_equal(f->done_calls, 1);
    assert_int_equal(f->done_err, 0);
    assert_int_equal(f->done_code, COAP_205_CONTENT);
    assert_int_equal(f->done_payload_len, 2);
    assert_memory_equal(f->done_payload, "hi", 2);
    fx_input(f, &ack, NULL); /* a duplicate ACK matches nothing */
    assert_int_equal(f->done_calls, 1);
    assert_int_equal(f->env.stats.unmatched, 3);
    assert_int_equal(coap_endpoint_next_deadline(f->ep), 0);
    fx_free(f);
}

static void test_separate_con_response(void **state) {
    (void)state;
    struct fx *f = fx_new(NULL);
    uint8_t tok[8];
    uint16_t mid = send_get(f, COAP_TYPE_CON, tok, NULL);
    struct coap_msg m;
    fx_msg(&m, COAP_TYPE_ACK, COAP_EMPTY, mid, NULL, 0);
    fx_input(f, &m, NULL);
    fx_advance(f, 60000); /* acknowledged: no retransmission while waiting */
    assert_int_equal(f->tp.n_sent, 1);
    assert_int_equal(f->done_calls, 0);
    fx_msg(&m, COAP_TYPE_CON, COAP_205_CONTENT, 0x7777, tok, 8);
    coap_msg_set_payload(&m, "late", 4);
    fx_input(f, &m, NULL);
    assert_int_equal(f->done_calls, 1);
    assert_int_equal(f->done_code, COAP_205_CONTENT);
    struct coap_msg *ack = fx_sent(f, -1); /* we acknowledge the CON response */
    assert_int_equal(ack->type, COAP_TYPE_ACK);
    assert_int_equal(ack->code, COAP_EMPTY);
    assert_int_equal(ack->mid, 0x7777);
    fx_input(f, &m, NULL); /* its retransmission: ACK again, no second callback */
    assert_int_equal(f->done_calls, 1);
    assert_int_equal(f->tp.n_sent, 3);
    assert_int_equal(fx_sent(f, -1)->mid, 0x7777);
    assert_int_equal(f->env.stats.duplicates, 1);
    fx_free(f);
}

static void test_separate_non_response_and_timeout(void **state) {
    (void)state;
    struct fx *f = fx_new(NULL);
    uint8_t tok[8];
    uint16_t mid = send_get(f, COAP_TYPE_CON, tok, NULL);
    struct coap_msg m;
    fx_msg(&m, COAP_TYPE_NON, COAP_205_CONTENT, 0x1234, tok, 8);
    fx_input(f, &m, NULL); /* the response overtook the lost ACK */
    assert_int_equal(f->done_calls, 1);
    assert_int_equal(f->tp.n_sent, 1); /* nothing to acknowledge for a NON */
    /* A second request whose separate response never comes times out after
     * response_timeout_ms. */
    mid = send_get(f, COAP_TYPE_CON, tok, NULL);
    fx_msg(&m, COAP_TYPE_ACK, COAP_EMPTY, mid, NULL, 0);
    fx_input(f, &m, NULL);
    fx_advance(f, f->env.params.response_timeout_ms);
    assert_int_equal(f->done_calls, 2);
    assert_int_equal(f->done_err, LWM2M_ERR_TIMEOUT);
    fx_free(f);
}

static void test_non_request(void **state) {
    (void)state;
    struct fx *f = fx_new(NULL);
    uint8_t tok[8];
    send_get(f, COAP_TYPE_NON, tok, NULL);
    assert_int_equal(fx_sent(f, -1)->type, COAP_TYPE_NON);
    fx_advance(f, 30000);
    assert_int_equal(f->tp.n_sent, 1); /* never retransmitted */
    struct coap_msg m;
    fx_msg(&m, COAP_TYPE_NON, COAP_205_CONTENT, 99, tok, 8);
    fx_input(f, &m, NULL);
    assert_int_equal(f->done_calls, 1);
    assert_int_equal(f->done_err, 0);
    fx_free(f);
}

static void test_rst_cancels_request(void **state) {
    (void)state;
    struct fx *f = fx_new(NULL);
    uint16_t mid = send_get(f, COAP_TYPE_CON, NULL, NULL);
    struct coap_msg m;
    fx_msg(&m, COAP_TYPE_RST, COAP_EMPTY, (uint16_t)(mid + 1), NULL, 0);
    fx_input(f, &m, NULL);
    assert_int_equal(f->done_calls, 0);
    assert_int_equal(f->env.stats.unmatched, 1);
    fx_msg(&m, COAP_TYPE_RST, COAP_EMPTY, mid, NULL, 0);
    fx_input(f, &m, NULL);
    assert_int_equal(f->done_calls, 1);
    assert_int_equal(f->done_err, LWM2M_ERR_RESET);
    assert_int_equal(f->env.stats.resets_rx, 1);
    fx_advance(f, 100000);
    assert_int_equal(f->tp.n_sent, 1);
    fx_free(f);
}

static void test_ping(void **state) {
    (void)state;
    struct fx *f = fx_new(NULL);
    assert_int_equal(coap_ping(f->ep, &f->peer, fx_done, f, NULL), 0);
    struct coap_msg *p = fx_sent(f, -1);
    assert_int_equal(p->type, COAP_TYPE_CON);
    assert_int_equal(p->code, COAP_EMPTY);
    assert_int_equal(f->tp.sent[0].len, 4);
    struct coap_msg m;
    fx_msg(&m, COAP_TYPE_RST, COAP_EMPTY, p->mid, NULL, 0);
    fx_input(f, &m, NULL);
    assert_int_equal(f->done_calls, 1);
    assert_int_equal(f->done_err, 0); /* RST is the pong */
    /* unanswered ping: timeout */
    assert_int_equal(coap_ping(f->ep, &f->peer, fx_done, f, NULL), 0);
    fx_advance(f, 100000);
    assert_int_equal(f->done_calls, 2);
    assert_int_equal(f->done_err, LWM2M_ERR_TIMEOUT);
    fx_free(f);
}

static void test_incoming_ping_gets_rst(void **state) {
    (void)state;
    struct fx *f = fx_new(NULL);
    const uint8_t ping[4] = {0x40, 0x00, 0x12, 0x34};
    fx_input_raw(f, ping, sizeof(ping));
    struct coap_msg *r = fx_sent(f, -1);
    assert_int_equal(r->type, COAP_TYPE_RST);
    assert_int_equal(r->code, COAP_EMPTY);
    assert_int_equal(r->mid, 0x1234);
    assert_int_equal(f->env.stats.pings_rx, 1);
    const uint8_t non_empty[4] = {0x50, 0x00, 0x12, 0x35};
    fx_input_raw(f, non_empty, sizeof(non_empty)); /* ignored */
    assert_int_equal(f->tp.n_sent, 1);
    fx_free(f);
}

static void test_nstart_queue(void **state) {
    (void)state;
    struct fx *f = fx_new(NULL);
    uint32_t id2 = 0;
    uint8_t tok[8];
    uint16_t mid1 = send_get(f, COAP_TYPE_CON, tok, NULL);
    assert_int_equal(send_get(f, COAP_TYPE_CON, NULL, &id2), 0); /* queued */
    assert_int_equal(send_get(f, COAP_TYPE_CON, NULL, NULL), 0); /* queued */
    assert_int_equal(f->tp.n_sent, 1);
    /* another peer has its own slot */
    struct coap_msg req;
    coap_msg_init(&req, COAP_TYPE_CON, COAP_GET, 0);
    assert_int_equal(coap_request(f->ep, &f->peer2, &req, fx_done, f, NULL), 0);
    assert_int_equal(f->tp.n_sent, 2);
    assert_int_equal(coap_addr_cmp(&f->tp.sent[1].to, &f->peer2), 0);
    /* queued requests are not retransmitted: only the active one is */
    fx_run_until(f, coap_endpoint_next_deadline(f->ep));
    assert_int_equal(f->tp.n_sent, 4);
    /* cancelling the second leaves the third next in line */
    assert_int_equal(coap_cancel(f->ep, id2), 0);
    assert_int_equal(coap_cancel(f->ep, id2), LWM2M_ERR_NOTFOUND);
    struct coap_msg ack;
    fx_msg(&ack, COAP_TYPE_ACK, COAP_205_CONTENT, mid1, tok, 8);
    fx_input(f, &ack, NULL);
    assert_int_equal(f->done_calls, 1);
    assert_int_equal(f->tp.n_sent, 5);
    struct coap_msg *third = fx_sent(f, -1);
    assert_int_equal(third->mid, (uint16_t)(mid1 + 2));
    assert_int_equal(coap_addr_cmp(&f->tp.sent[4].to, &f->peer), 0);
    /* an empty ACK frees the slot too (the separate response is not outstanding per §4.7) */
    fx_msg(&ack, COAP_TYPE_ACK, COAP_EMPTY, third->mid, NULL, 0);
    fx_input(f, &ack, NULL);
    send_get(f, COAP_TYPE_CON, NULL, NULL);
    assert_int_equal(f->tp.n_sent, 6);
    fx_free(f);
}

static void test_cancel_active(void **state) {
    (void)state;
    struct fx *f = fx_new(NULL);
    uint32_t id = 0;
    uint8_t tok[8];
    uint16_t mid = send_get(f, COAP_TYPE_CON, tok, &id);
    assert_int_equal(coap_cancel(f->ep, id), 0);
    assert_int_equal(coap_endpoint_next_deadline(f->ep), 0);
    fx_advance(f, 100000);
    assert_int_equal(f->tp.n_sent, 1);
    struct coap_msg ack;
    fx_msg(&ack, COAP_TYPE_ACK, COAP_205_CONTENT, mid, tok, 8);
    fx_input(f, &ack, NULL);
    assert_int_equal(f->done_calls, 0);
    assert_int_equal(f->env.stats.unmatched, 1);
    fx_free(f);
}

static void test_unknown_con_response_gets_rst(void **state) {
    (void)state;
    struct fx *f = fx_new(NULL);
    struct coap_msg m;
    const uint8_t tok[2] = {1, 2};
    fx_msg(&m, COAP_TYPE_CON, COAP_205_CONTENT, 0x4242, tok, 2);
    fx_input(f, &m, NULL);
    struct coap_msg *r = fx_sent(f, -1);
    assert_int_equal(r->type, COAP_TYPE_RST);
    assert_int_equal(r->mid, 0x4242);
    fx_msg(&m, COAP_TYPE_NON, COAP_205_CONTENT, 0x4243, tok, 2);
    fx_input(f, &m, NULL); /* ignored */
    assert_int_equal(f->tp.n_sent, 1);
    assert_int_equal(f->env.stats.unmatched, 2);
    fx_free(f);
}

static void test_request_invalid_args(void **state) {
    (void)state;
    struct fx *f = fx_new(NULL);
    struct coap_msg req;
    coap_msg_init(&req, COAP_TYPE_ACK, COAP_GET, 0);
    assert_int_equal(coap_request(f->ep, &f->peer, &req, fx_done, f, NULL), LWM2M_ERR_INVALID);
    coap_msg_init(&req, COAP_TYPE_CON, COAP_205_CONTENT, 0);
    assert_int_equal(coap_request(f->ep, &f->peer, &req, fx_done, f, NULL), LWM2M_ERR_INVALID);
    f->env.params.xchg_max = 2;
    coap_msg_init(&req, COAP_TYPE_CON, COAP_GET, 0);
    assert_int_equal(coap_request(f->ep, &f->peer, &req, fx_done, f, NULL), 0);
    assert_int_equal(coap_request(f->ep, &f->peer, &req, fx_done, f, NULL), 0);
    assert_int_equal(coap_request(f->ep, &f->peer, &req, fx_done, f, NULL), LWM2M_ERR_NOMEM);
    assert_int_equal(f->env.stats.nomem, 1);
    fx_free(f);
}

static void test_send_error_not_fatal(void **state) {
    (void)state;
    struct fx *f = fx_new(NULL);
    f->tp.fail = LWM2M_ERR_IO;
    struct coap_msg req;
    coap_msg_init(&req, COAP_TYPE_CON, COAP_GET, 0);
    assert_int_equal(coap_request(f->ep, &f->peer, &req, fx_done, f, NULL), 0);
    assert_int_equal(f->env.stats.tx_errors, 1);
    f->tp.fail = 0;
    fx_run_until(f, coap_endpoint_next_deadline(f->ep));
    assert_int_equal(f->tp.n_sent, 1); /* the retransmission goes out */
    fx_free(f);
}

/* ---- notifications -------------------------------------------------------------------------- */

static void make_obs(struct fx *f, struct coap_observation *obs) {
    memset(obs, 0, sizeof(*obs));
    obs->peer = f->peer;
    obs->token_len = 3;
    memcpy(obs->token, "\xaa\xbb\xcc", 3);
    obs->seq = 5;
}

static uint16_t notify(struct fx *f, struct coap_observation *obs, uint8_t type) {
    struct coap_msg n;
    coap_msg_init(&n, type, COAP_205_CONTENT, 0);
    coap_msg_add_opt_uint(&n, COAP_OPT_CONTENT_FORMAT, 0);
    coap_msg_set_payload(&n, "21.5", 4);
    assert_int_equal(coap_notify(f->ep, obs, &n, fx_done, f, NULL), 0);
    struct coap_msg *m = fx_sent(f, -1);
    assert_int_equal(m->type, type);
    assert_int_equal(m->token_len, 3);
    assert_memory_equal(m->token, "\xaa\xbb\xcc", 3);
    assert_int_equal(fx_opt_uint(m, COAP_OPT_OBSERVE), obs->seq);
    assert_int_equal(m->payload_len, 4);
    return m->mid;
}

static void test_notify_con_ack_and_rst(void **state) {
    (void)state;
    struct fx *f = fx_new(NULL);
    struct coap_observation obs;
    make_obs(f, &obs);
    uint16_t mid = notify(f, &obs, COAP_TYPE_CON);
    assert_int_equal(obs.seq, 6);
    struct coap_msg m;
    fx_msg(&m, COAP_TYPE_ACK, COAP_EMPTY, mid, NULL, 0);
    fx_input(f, &m, NULL);
    assert_int_equal(f->done_calls, 1);
    assert_int_equal(f->done_err, 0);
    mid = notify(f, &obs, COAP_TYPE_CON);
    assert_int_equal(obs.seq, 7);
    fx_msg(&m, COAP_TYPE_RST, COAP_EMPTY, mid, NULL, 0);
    fx_input(f, &m, NULL); /* the observer is gone: the owner ends the observation */
    assert_int_equal(f->done_calls, 2);
    assert_int_equal(f->done_err, LWM2M_ERR_RESET);
    /* the sequence wraps within 24 bits */
    obs.seq = COAP_OBSERVE_MAX;
    notify(f, &obs, COAP_TYPE_CON);
    assert_true(obs.seq <= COAP_OBSERVE_MAX);
    fx_advance(f, 100000);
    assert_int_equal(f->done_err, LWM2M_ERR_TIMEOUT);
    assert_int_equal(f->env.stats.notifications_tx, 3);
    fx_free(f);
}

static void test_notify_non(void **state) {
    (void)state;
    struct fx *f = fx_new(NULL);
    struct coap_observation obs;
    make_obs(f, &obs);
    notify(f, &obs, COAP_TYPE_NON);
    fx_advance(f, 5000);
    assert_int_equal(f->done_calls, 1);
    assert_int_equal(f->done_err, 0);
    assert_int_equal(f->tp.n_sent, 1);
    uint16_t mid = notify(f, &obs, COAP_TYPE_NON);
    struct coap_msg m;
    fx_msg(&m, COAP_TYPE_RST, COAP_EMPTY, mid, NULL, 0);
    fx_input(f, &m, NULL);
    assert_int_equal(f->done_calls, 2);
    assert_int_equal(f->done_err, LWM2M_ERR_RESET);
    fx_free(f);
}

static void test_notify_non_fire_and_forget(void **state) {
    (void)state;
    struct fx *f = fx_new(NULL);
    struct coap_observation obs;
    make_obs(f, &obs);
    struct coap_msg n;
    coap_msg_init(&n, COAP_TYPE_NON, COAP_205_CONTENT, 0);
    for (int i = 0; i < 100; i++) /* far beyond xchg_max: nothing is kept */
        assert_int_equal(coap_notify(f->ep, &obs, &n, NULL, NULL, NULL), 0);
    assert_int_equal(f->tp.n_sent, 100);
    assert_int_equal(obs.seq, 105);
    assert_int_equal(coap_endpoint_next_deadline(f->ep), 0);
    assert_int_equal(f->ep->n_xchg, 0);
    fx_free(f);
}

/* ---- re-entrancy ---------------------------------------------------------------------------- */

static void done_frees(void *ctx, int err, const struct coap_msg *resp, const struct coap_addr *p) {
    (void)err;
    (void)resp;
    (void)p;
    struct fx *f = ctx;
    f->done_calls++;
    coap_endpoint_free(f->ep);
    f->ep = NULL;
}

static void test_free_inside_callback(void **state) {
    (void)state;
    struct fx *f = fx_new(NULL);
    struct coap_msg req;
    coap_msg_init(&req, COAP_TYPE_CON, COAP_GET, 0);
    assert_int_equal(coap_request(f->ep, &f->peer, &req, done_frees, f, NULL), 0);
    assert_int_equal(coap_request(f->ep, &f->peer, &req, done_frees, f, NULL), 0);
    struct coap_msg *s = fx_sent(f, -1);
    struct coap_msg rst;
    fx_msg(&rst, COAP_TYPE_RST, COAP_EMPTY, s->mid, NULL, 0);
    fx_input(f, &rst, NULL);
    assert_int_equal(f->done_calls, 1);
    assert_null(f->ep);
    assert_null(f->tp.base.on_rx);
    free(f);
}

static void done_requests_again(void *ctx, int err, const struct coap_msg *resp,
                                const struct coap_addr *p) {
    (void)resp;
    struct fx *f = ctx;
    f->done_calls++;
    f->done_err = err;
    if (f->done_calls == 1) {
        struct coap_msg req;
        coap_msg_init(&req, COAP_TYPE_CON, COAP_GET, 0);
        assert_int_equal(coap_request(f->ep, p, &req, fx_done, f, NULL), 0);
    }
}

static void test_request_from_callback(void **state) {
    (void)state;
    struct fx *f = fx_new(NULL);
    f->env.params.ack_timeout_ms = 10;
    f->env.params.max_retransmit = 0;
    struct coap_msg req;
    coap_msg_init(&req, COAP_TYPE_CON, COAP_GET, 0);
    assert_int_equal(coap_request(f->ep, &f->peer, &req, done_requests_again, f, NULL), 0);
    fx_advance(f, 15);
    assert_int_equal(f->done_calls, 1);
    assert_int_equal(f->tp.n_sent, 2);
    fx_advance(f, 15);
    assert_int_equal(f->done_calls, 2);
    assert_int_equal(coap_endpoint_next_deadline(f->ep), 0);
    fx_free(f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retransmit_schedule_exact),
        cmocka_unit_test(test_retransmit_random_bounds),
        cmocka_unit_test(test_shortened_params),
        cmocka_unit_test(test_piggybacked_response),
        cmocka_unit_test(test_separate_con_response),
        cmocka_unit_test(test_separate_non_response_and_timeout),
        cmocka_unit_test(test_non_request),
        cmocka_unit_test(test_rst_cancels_request),
        cmocka_unit_test(test_ping),
        cmocka_unit_test(test_incoming_ping_gets_rst),
        cmocka_unit_test(test_nstart_queue),
        cmocka_unit_test(test_cancel_active),
        cmocka_unit_test(test_unknown_con_response_gets_rst),
        cmocka_unit_test(test_request_invalid_args),
        cmocka_unit_test(test_send_error_not_fatal),
        cmocka_unit_test(test_notify_con_ack_and_rst),
        cmocka_unit_test(test_notify_non),
        cmocka_unit_test(test_notify_non_fire_and_forget),
        cmocka_unit_test(test_free_inside_callback),
        cmocka_unit_test(test_request_from_callback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
