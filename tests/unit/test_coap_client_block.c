/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of Block1 for our own requests (RFC 7959 §2.5) with the mock transport and clock:
 * slicing with NUM/M/SZX and Size1, 2.31 with a smaller SZX, 4.13 restart or failure, 4.08, a
 * lost block retransmitted, a timeout failing the request, separate responses, cancel, NSTART. */
#include "coap_test_mock.h"

#include "coap_endpoint_internal.h"

#define BODY_LEN 5000 /* five 1024-byte blocks, the last one short */

static uint8_t body[BODY_LEN];

static void fill_body(void) {
    for (size_t i = 0; i < sizeof(body); i++)
        body[i] = (uint8_t)(i * 7 + i / 251);
}

/* Sends CON POST /rd?ep=x with Content-Format 40 and a body of len bytes; returns the id. */
static uint32_t send_post(struct fx *f, size_t len) {
    struct coap_msg req;
    uint32_t id = 0;
    coap_msg_init(&req, COAP_TYPE_CON, COAP_POST, 0);
    coap_msg_add_path(&req, COAP_OPT_URI_PATH, "rd");
    coap_msg_add_opt_uint(&req, COAP_OPT_CONTENT_FORMAT, 40);
    coap_msg_add_opt(&req, COAP_OPT_URI_QUERY, "ep=x", 4);
    coap_msg_set_payload(&req, body, len);
    assert_int_equal(coap_request(f->ep, &f->peer, &req, fx_done, f, &id), 0);
    return id;
}

/* Checks the last sent datagram is block (num, more, szx) of the body, with the request's head
 * intact, and returns it. */
static struct coap_msg *expect_block(struct fx *f, uint32_t num, uint8_t more, uint8_t szx) {
    struct coap_msg *m = fx_sent(f, -1);
    struct coap_block b;
    assert_int_equal(m->type, COAP_TYPE_CON);
    assert_int_equal(m->code, COAP_POST);
    assert_int_equal(m->token_len, 8);
    assert_int_equal(coap_msg_block(m, COAP_OPT_BLOCK1, &b), 1);
    assert_int_equal(b.num, num);
    assert_int_equal(b.more, more);
    assert_int_equal(b.szx, szx);
    size_t off = (size_t)num * COAP_BLOCK_SIZE(szx);
    size_t len = BODY_LEN - off < COAP_BLOCK_SIZE(szx) ? BODY_LEN - off : COAP_BLOCK_SIZE(szx);
    assert_int_equal(m->payload_len, len);
    assert_memory_equal(m->payload, body + off, len);
    char path[16];
    assert_int_equal(coap_msg_path(m, COAP_OPT_URI_PATH, path, sizeof(path)), 2);
    assert_string_equal(path, "rd");
    assert_int_equal(fx_opt_uint(m, COAP_OPT_CONTENT_FORMAT), 40);
    assert_non_null(coap_msg_opt(m, COAP_OPT_URI_QUERY));
    uint32_t size1 = 0;
    if (num == 0)
        assert_int_equal(fx_opt_uint(m, COAP_OPT_SIZE1), BODY_LEN);
    else
        assert_int_equal(coap_msg_opt_uint(m, COAP_OPT_SIZE1, &size1), -1);
    return m;
}

/* Answers the last sent block with a piggy-backed code, echoing Block1 (num, more, szx). */
static void answer(struct fx *f, uint8_t code, uint32_t num, uint8_t more, uint8_t szx) {
    struct coap_msg *last = fx_sent(f, -1);
    struct coap_msg ack;
    uint8_t tok[8];
    memcpy(tok, last->token, 8);
    fx_msg(&ack, COAP_TYPE_ACK, code, last->mid, tok, 8);
    struct coap_block b = {.num = num, .more = more, .szx = szx};
    coap_msg_add_opt_uint(&ack, COAP_OPT_BLOCK1, coap_block_encode(&b));
    if (code == COAP_201_CREATED)
        coap_msg_add_path(&ack, COAP_OPT_LOCATION_PATH, "rd/5");
    fx_input(f, &ack, NULL);
}

static void test_split_5k(void **state) {
    (void)state;
    struct fx *f = fx_new(NULL);
    size_t idle = coap_endpoint_mem(f->ep);
    send_post(f, BODY_LEN);
    assert_int_equal(f->tp.n_sent, 1);
    uint8_t tok[8];
    memcpy(tok, expect_block(f, 0, 1, 6)->token, 8);
    uint16_t mids[5] = {f->last.mid};
    for (uint32_t n = 1; n < 5; n++) {
        answer(f, COAP_231_CONTINUE, n - 1, 1, 6);
        assert_int_equal(f->done_calls, 0);
        assert_int_equal(f->tp.n_sent, n + 1);
        struct coap_msg *m = expect_block(f, n, n < 4, 6);
        assert_memory_equal(m->token, tok, 8); /* one token for the whole transfer */
        mids[n] = m->mid;
        assert_int_not_equal(mids[n], mids[n - 1]);
    }
    answer(f, COAP_201_CREATED, 4, 0, 6);
    assert_int_equal(f->done_calls, 1);
    assert_int_equal(f->done_err, 0);
    assert_int_equal(f->done_code, COAP_201_CREATED);
    answer(f, COAP_201_CREATED, 4, 0, 6); /* a duplicate ACK: delivered once only */
    assert_int_equal(f->done_calls, 1);
    assert_int_equal(f->tp.n_sent, 5);
    assert_int_equal(f->env.stats.block1_tx, 5);
    assert_int_equal(f->env.stats.requests_tx, 1);
    assert_int_equal(coap_endpoint_mem(f->ep), idle); /* transfer state freed */
    assert_int_equal(coap_endpoint_next_deadline(f->ep), 0);
    fx_free(f);
}

static void test_one_block_body_unchanged(void **state) {
    (void)state;
    struct fx *f = fx_new(NULL);
    send_post(f, 1024); /* exactly one block: a plain request */
    struct coap_msg *m = fx_sent(f, -1);
    struct coap_block b;
    assert_int_equal(coap_msg_block(m, COAP_OPT_BLOCK1, &b), 0);
    assert_null(coap_msg_opt(m, COAP_OPT_SIZE1));
    assert_int_equal(m->payload_len, 1024);
    fx_free(f);
}

static void test_continue_smaller_szx(void **state) {
    (void)state;
    struct fx *f = fx_new(NULL);
    send_post(f, BODY_LEN);
    expect_block(f, 0, 1, 6);
    answer(f, COAP_231_CONTINUE, 0, 1, 4); /* the server wants 256-byte blocks */
    /* 1024 bytes are done: the next block is number 4 of 256 bytes. */
    expect_block(f, 4, 1, 4);
    uint32_t n = 4;
    while (f->last.payload_len == 256 && (n + 1) * 256 < BODY_LEN) {
        answer(f, COAP_231_CONTINUE, n, 1, 4);
        n++;
        expect_block(f, n, (n + 1) * 256 < BODY_LEN, 4);
    }
    assert_int_equal(n, 19); /* 19 × 256 = 4864, the last 136 bytes */
    answer(f, COAP_204_CHANGED, n, 0, 4);
    assert_int_equal(f->done_calls, 1);
    assert_int_equal(f->done_code, COAP_204_CHANGED);
    assert_int_equal(f->tp.n_sent, 1 + 16);
    fx_free(f);
}

static void test_413_restarts_smaller(void **state) {
    (void)state;
    struct fx *f = fx_new(NULL);
    send_post(f, BODY_LEN);
    expect_block(f, 0, 1, 6);
    answer(f, COAP_231_CONTINUE, 0, 1, 6);
    expect_block(f, 1, 1, 6);
    answer(f, COAP_413_REQUEST_ENTITY_TOO_LARGE, 1, 1, 5); /* blocks too large: 512 */
    assert_int_equal(f->done_calls, 0);
    expect_block(f, 0, 1, 5); /* from the start, with Size1 again */
    answer(f, COAP_231_CONTINUE, 0, 1, 5);
    expect_block(f, 1, 1, 5);
    fx_free(f);
}

/* 4.13 with Size1 below the body: the server cannot take it; the user gets the 4.13. */
static void test_413_body_too_large_fails(void **state) {
    (void)state;
    struct fx *f = fx_new(NULL);
    send_post(f, BODY_LEN);
    struct coap_msg *last = expect_block(f, 0, 1, 6);
    struct coap_msg ack;
    uint8_t tok[8];
    memcpy(tok, last->token, 8);
    fx_msg(&ack, COAP_TYPE_ACK, COAP_413_REQUEST_ENTITY_TOO_LARGE, last->mid, tok, 8);
    struct coap_block b = {.num = 0, .more = 1, .szx = 4};
    coap_msg_add_opt_uint(&ack, COAP_OPT_BLOCK1, coap_block_encode(&b));
    coap_msg_add_opt_uint(&ack, COAP_OPT_SIZE1, 4096);
    fx_input(f, &ack, NULL);
    assert_int_equal(f->done_calls, 1);
    assert_int_equal(f->done_err, 0);
    assert_int_equal(f->done_code, COAP_413_REQUEST_ENTITY_TOO_LARGE);
    assert_int_equal(f->tp.n_sent, 1);
    fx_free(f);
}

/* 4.13 with Size1 that admits the body but no Block1: our blocks were too large; halve them. */
static void test_413_size1_halves_block(void **state) {
    (void)state;
    struct fx *f = fx_new(NULL);
    send_post(f, BODY_LEN);
    struct coap_msg *last = expect_block(f, 0, 1, 6);
    struct coap_msg ack;
    uint8_t tok[8];
    memcpy(tok, last->token, 8);
    fx_msg(&ack, COAP_TYPE_ACK, COAP_413_REQUEST_ENTITY_TOO_LARGE, last->mid, tok, 8);
    coap_msg_add_opt_uint(&ack, COAP_OPT_SIZE1, 65536);
    fx_input(f, &ack, NULL);
    assert_int_equal(f->done_calls, 0);
    expect_block(f, 0, 1, 5);
    fx_free(f);
}

static void test_413_no_hint_delivered(void **state) {
    (void)state;
    struct fx *f = fx_new(NULL);
    send_post(f, BODY_LEN);
    struct coap_msg *last = expect_block(f, 0, 1, 6);
    struct coap_msg ack;
    uint8_t tok[8];
    memcpy(tok, last->token, 8);
    fx_msg(&ack, COAP_TYPE_ACK, COAP_413_REQUEST_ENTITY_TOO_LARGE, last->mid, tok, 8);
    fx_input(f, &ack, NULL);
    assert_int_equal(f->done_calls, 1);
    assert_int_equal(f->done_code, COAP_413_REQUEST_ENTITY_TOO_LARGE);
    fx_free(f);
}

static void test_408_fails(void **state) {
    (void)state;
    struct fx *f = fx_new(NULL);
    size_t idle = coap_endpoint_mem(f->ep);
    send_post(f, BODY_LEN);
    answer(f, COAP_231_CONTINUE, 0, 1, 6);
    expect_block(f, 1, 1, 6);
    answer(f, COAP_408_REQUEST_ENTITY_INCOMPLETE, 1, 1, 6);
    assert_int_equal(f->done_calls, 1);
    assert_int_equal(f->done_err, 0);
    assert_int_equal(f->done_code, COAP_408_REQUEST_ENTITY_INCOMPLETE);
    fx_advance(f, 120000);
    assert_int_equal(f->tp.n_sent, 2); /* nothing more is sent */
    assert_int_equal(f->done_calls, 1);
    assert_int_equal(coap_endpoint_mem(f->ep), idle);
    fx_free(f);
}

static void test_lost_block_retransmitted(void **state) {
    (void)state;
    struct fx *f = fx_new(NULL);
    f->rng.fill = 0; /* initial timeout exactly ACK_TIMEOUT */
    send_post(f, BODY_LEN);
    answer(f, COAP_231_CONTINUE, 0, 1, 6);
    expect_block(f, 1, 1, 6);
    uint64_t t1 = f->now;
    fx_run_until(f, t1 + 1999);
    assert_int_equal(f->tp.n_sent, 2);
    fx_run_until(f, t1 + 2000); /* block 1 was lost: the same datagram again */
    assert_int_equal(f->tp.n_sent, 3);
    assert_int_equal(f->tp.sent[2].len, f->tp.sent[1].len);
    assert_memory_equal(f->tp.sent[2].data, f->tp.sent[1].data, f->tp.sent[1].len);
    assert_int_equal(f->env.stats.retransmissions, 1);
    answer(f, COAP_231_CONTINUE, 1, 1, 6);
    expect_block(f, 2, 1, 6);
    /* The next block starts a fresh retransmission schedule. */
    assert_int_equal(coap_endpoint_next_deadline(f->ep), f->now + 2000);
    fx_free(f);
}

static void test_timeout_fails_request(void **state) {
    (void)state;
    struct fx *f = fx_new(NULL);
    f->rng.fill = 0;
    size_t idle = coap_endpoint_mem(f->ep);
    send_post(f, BODY_LEN);
    answer(f, COAP_231_CONTINUE, 0, 1, 6);
    answer(f, COAP_231_CONTINUE, 1, 1, 6);
    expect_block(f, 2, 1, 6);
    uint64_t t2 = f->now;
    fx_run_until(f, t2 + 62000 - 1);
    assert_int_equal(f->done_calls, 0);
    assert_int_equal(f->tp.n_sent, 3 + 4); /* block 2 and its four retransmissions */
    fx_run_until(f, t2 + 62000);
    assert_int_equal(f->done_calls, 1);
    assert_int_equal(f->done_err, LWM2M_ERR_TIMEOUT);
    assert_int_equal(f->env.stats.timeouts, 1);
    fx_advance(f, 300000);
    assert_int_equal(f->done_calls, 1);
    assert_int_equal(f->tp.n_sent, 7);
    assert_int_equal(coap_endpoint_mem(f->ep), idle);
    fx_free(f);
}

/* Empty ACK, then the 2.31 as a separate CON: acknowledged, and the next block goes. */
static void test_separate_continue(void **state) {
    (void)state;
    struct fx *f = fx_new(NULL);
    send_post(f, BODY_LEN);
    struct coap_msg *last = expect_block(f, 0, 1, 6);
    uint8_t tok[8];
    uint16_t mid = last->mid;
    memcpy(tok, last->token, 8);
    struct coap_msg m;
    fx_msg(&m, COAP_TYPE_ACK, COAP_EMPTY, mid, NULL, 0);
    fx_input(f, &m, NULL);
    assert_int_equal(f->tp.n_sent, 1);
    fx_msg(&m, COAP_TYPE_CON, COAP_231_CONTINUE, 0x4242, tok, 8);
    struct coap_block b = {.num = 0, .more = 1, .szx = 6};
    coap_msg_add_opt_uint(&m, COAP_OPT_BLOCK1, coap_block_encode(&b));
    fx_input(f, &m, NULL);
    assert_int_equal(f->tp.n_sent, 3);
    struct coap_msg *ack = fx_sent(f, 1);
    assert_int_equal(ack->type, COAP_TYPE_ACK);
    assert_int_equal(ack->mid, 0x4242);
    expect_block(f, 1, 1, 6);
    assert_int_equal(f->done_calls, 0);
    fx_free(f);
}

static void test_cancel_mid_transfer(void **state) {
    (void)state;
    struct fx *f = fx_new(NULL);
    size_t idle = coap_endpoint_mem(f->ep);
    uint32_t id = send_post(f, BODY_LEN);
    answer(f, COAP_231_CONTINUE, 0, 1, 6);
    expect_block(f, 1, 1, 6);
    assert_int_equal(coap_cancel(f->ep, id), 0);
    assert_int_equal(coap_endpoint_mem(f->ep), idle);
    uint64_t unmatched = f->env.stats.unmatched;
    answer(f, COAP_231_CONTINUE, 1, 1, 6); /* too late: matches nothing */
    assert_int_equal(f->env.stats.unmatched, unmatched + 1);
    assert_int_equal(f->tp.n_sent, 2);
    assert_int_equal(f->done_calls, 0);
    fx_free(f);
}

/* NSTART = 1: a request to the same peer waits until the whole transfer is answered. */
static void test_nstart_waits_for_transfer(void **state) {
    (void)state;
    struct fx *f = fx_new(NULL);
    send_post(f, 2048);
    struct coap_msg get;
    coap_msg_init(&get, COAP_TYPE_CON, COAP_GET, 0);
    coap_msg_add_path(&get, COAP_OPT_URI_PATH, "x");
    assert_int_equal(coap_request(f->ep, &f->peer, &get, fx_done, f, NULL), 0);
    assert_int_equal(f->tp.n_sent, 1);
    answer(f, COAP_231_CONTINUE, 0, 1, 6);
    assert_int_equal(f->tp.n_sent, 2); /* block 1 before the GET */
    struct coap_block b;
    assert_int_equal(coap_msg_block(fx_sent(f, -1), COAP_OPT_BLOCK1, &b), 1);
    assert_int_equal(b.num, 1);
    answer(f, COAP_204_CHANGED, 1, 0, 6);
    assert_int_equal(f->done_calls, 1);
    assert_int_equal(f->tp.n_sent, 3);
    assert_int_equal(fx_sent(f, -1)->code, COAP_GET);
    fx_free(f);
}

int main(void) {
    fill_body();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_5k),
        cmocka_unit_test(test_one_block_body_unchanged),
        cmocka_unit_test(test_continue_smaller_szx),
        cmocka_unit_test(test_413_restarts_smaller),
        cmocka_unit_test(test_413_body_too_large_fails),
        cmocka_unit_test(test_413_size1_halves_block),
        cmocka_unit_test(test_413_no_hint_delivered),
        cmocka_unit_test(test_408_fails),
        cmocka_unit_test(test_lost_block_retransmitted),
        cmocka_unit_test(test_timeout_fails_request),
        cmocka_unit_test(test_separate_continue),
        cmocka_unit_test(test_cancel_mid_transfer),
        cmocka_unit_test(test_nstart_waits_for_transfer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
