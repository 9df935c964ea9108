/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of server-side block-wise transfers (RFC 7959) through the message layer with a
 * mock transport and clock: Block2 serving of a 3 KiB body at SZX 6 and at a smaller negotiated
 * SZX from the cached copy, Block1 reassembly with 2.31, 4.08 and 4.13, and large notifications. */
#include "coap_test_mock.h"

#include "coap_endpoint_internal.h"

#define BIG_LEN 3072

struct bx {
    uint8_t big[BIG_LEN];
    uint8_t stored[70000];
    size_t stored_len;
    int big_defer;
};

static void fill_big(uint8_t *b) {
    for (size_t i = 0; i < BIG_LEN; i++)
        b[i] = (uint8_t)('a' + (i * 7 + i / 26) % 26);
}

static int handler(void *ctx, struct coap_endpoint *ep, const struct coap_incoming *in) {
    struct fx *f = ctx;
    struct bx *bx = f->user;
    char path[32];
    f->handler_calls++;
    coap_msg_path(in->req, COAP_OPT_URI_PATH, path, sizeof(path));
    struct coap_msg r;
    coap_msg_init(&r, COAP_TYPE_ACK, COAP_205_CONTENT, 0);
    if (strcmp(path, "big") == 0) {
        if (bx->big_defer) {
            coap_defer(ep, in, &f->handle);
            return LWM2M_ERR_AGAIN;
        }
        coap_msg_add_opt_uint(&r, COAP_OPT_CONTENT_FORMAT, 42);
        coap_msg_set_payload(&r, bx->big, BIG_LEN);
    } else if (in->req->code == COAP_PUT) {
        memcpy(bx->stored, in->body, in->body_len);
        bx->stored_len = in->body_len;
        r.code = COAP_204_CHANGED;
    }
    return coap_reply(ep, in, &r);
}

static struct fx *fx_block(void) {
    struct fx *f = fx_new(handler);
    struct bx *bx = calloc(1, sizeof(*bx));
    assert_non_null(bx);
    fill_big(bx->big);
    f->user = bx;
    return f;
}

static void fx_block_free(struct fx *f) {
    free(f->user);
    fx_free(f);
}

/* Feeds GET /big with an optional Block2 (num, szx) request option. */
static void send_get_big(struct fx *f, uint16_t mid, int with_block, uint32_t num, uint8_t szx) {
    struct coap_msg m;
    fx_msg(&m, COAP_TYPE_CON, COAP_GET, mid, (const uint8_t *)&mid, 2);
    coap_msg_add_path(&m, COAP_OPT_URI_PATH, "big");
    if (with_block) {
        struct coap_block b = {num, 0, szx};
        coap_msg_add_opt_uint(&m, COAP_OPT_BLOCK2, coap_block_encode(&b));
    }
    fx_input(f, &m, NULL);
}

/* The same, expecting one answer, which is returned parsed. */
static struct coap_msg *get_big(struct fx *f, uint16_t mid, int with_block, uint32_t num,
                                uint8_t szx) {
    size_t before = f->tp.n_sent;
    send_get_big(f, mid, with_block, num, szx);
    assert_int_equal(f->tp.n_sent, before + 1);
    return fx_sent(f, -1);
}

/* Fetches /big block by block at szx and checks the reassembled body. Returns handler calls. */
static int fetch_all(struct fx *f, int ask_size, uint8_t szx) {
    struct bx *bx = f->user;
    uint8_t got[BIG_LEN];
    size_t len = 0;
    uint8_t etag[8];
    size_t etag_len = 0;
    uint32_t num = 0;
    for (;;) {
        struct coap_msg *r = get_big(f, (uint16_t)(0x1000 + num), ask_size || num > 0, num, szx);
        assert_int_equal(r->type, COAP_TYPE_ACK);
        assert_int_equal(r->code, COAP_205_CONTENT);
        assert_int_equal(fx_opt_uint(r, COAP_OPT_CONTENT_FORMAT), 42);
        struct coap_block b;
        assert_int_equal(coap_msg_block(r, COAP_OPT_BLOCK2, &b), 1);
        assert_int_equal(b.num, num);
        assert_int_equal(b.szx, szx);
        const struct coap_option *et = coap_msg_opt(r, COAP_OPT_ETAG);
        assert_non_null(et);
        if (num == 0) {
            assert_int_equal(fx_opt_uint(r, COAP_OPT_SIZE2), BIG_LEN);
            etag_len = et->len;
            memcpy(etag, et->val, et->len);
        } else {
            assert_int_equal(et->len, etag_len); /* the same representation throughout */
            assert_memory_equal(et->val, etag, etag_len);
        }
        assert_true(len + r->payload_len <= BIG_LEN);
        memcpy(got + len, r->payload, r->payload_len);
        len += r->payload_len;
        if (!b.more)
            break;
        assert_int_equal(r->payload_len, COAP_BLOCK_SIZE(szx));
        num++;
    }
    assert_int_equal(len, BIG_LEN);
    assert_memory_equal(got, bx->big, BIG_LEN);
    return f->handler_calls;
}

static void test_block2_szx6(void **state) {
    (void)state;
    struct fx *f = fx_block();
    assert_int_equal(fetch_all(f, 0, 6), 1); /* the handler ran once for three blocks */
    assert_int_equal(f->tp.n_sent, 3);
    assert_int_equal(f->env.stats.block2_tx, 3);
    assert_int_equal(f->ep->n_b2, 0); /* the last block ended the transfer */
    fx_block_free(f);
}

static void test_block2_negotiated_smaller(void **state) {
    (void)state;
    struct fx *f = fx_block();
    assert_int_equal(fetch_all(f, 1, 2), 1); /* 64-byte blocks asked for up front */
    assert_int_equal(f->tp.n_sent, BIG_LEN / 64);
    fx_block_free(f);
}

static void test_block2_our_preference_smaller(void **state) {
    (void)state;
    struct fx *f = fx_block();
    f->env.params.block_szx = 4; /* we prefer 256 even though the client asks for 1024 */
    struct coap_msg *r = get_big(f, 1, 1, 0, 6);
    struct coap_block b;
    assert_int_equal(coap_msg_block(r, COAP_OPT_BLOCK2, &b), 1);
    assert_int_equal(b.szx, 4);
    assert_int_equal(r->payload_len, 256);
    fx_block_free(f);
}

static void test_block2_cache_miss_and_expiry(void **state) {
    (void)state;
    struct fx *f = fx_block();
    struct bx *bx = f->user;
    get_big(f, 1, 0, 0, 6);
    fx_advance(f, f->env.params.block_lifetime_ms);
    assert_int_equal(f->ep->n_b2, 0); /* expired */
    struct coap_msg *r = get_big(f, 2, 1, 1, 6);
    assert_int_equal(f->handler_calls, 2); /* no copy left: asked again, then sliced */
    assert_int_equal(r->payload_len, 1024);
    assert_memory_equal(r->payload, bx->big + 1024, 1024);
    r = get_big(f, 3, 1, 3, 6); /* past the end */
    assert_int_equal(r->code, COAP_402_BAD_OPTION);
    fx_advance(f, 300000);
    assert_int_equal(coap_endpoint_next_deadline(f->ep), 0);
    fx_block_free(f);
}

static void test_block2_deferred_separate(void **state) {
    (void)state;
    struct fx *f = fx_block();
    struct bx *bx = f->user;
    bx->big_defer = 1;
    send_get_big(f, 1, 1, 0, 5);
    assert_int_equal(f->tp.n_sent, 0);
    fx_advance(f, 1000);
    assert_int_equal(fx_sent(f, -1)->code, COAP_EMPTY);
    struct coap_msg r;
    coap_msg_init(&r, COAP_TYPE_CON, COAP_205_CONTENT, 0);
    coap_msg_set_payload(&r, bx->big, BIG_LEN);
    assert_int_equal(coap_respond(f->ep, f->handle, &r), 0);
    struct coap_msg *s = fx_sent(f, -1);
    assert_int_equal(s->type, COAP_TYPE_CON);
    assert_int_equal(s->payload_len, 512);
    struct coap_block b;
    assert_int_equal(coap_msg_block(s, COAP_OPT_BLOCK2, &b), 1);
    assert_int_equal(b.more, 1);
    struct coap_msg *n = get_big(f, 2, 1, 1, 5); /* follow-up served from the copy */
    assert_int_equal(n->type, COAP_TYPE_ACK);
    assert_memory_equal(n->payload, bx->big + 512, 512);
    assert_int_equal(f->handler_calls, 1);
    fx_block_free(f);
}

/* ---- Block1 --------------------------------------------------------------------------------- */

static struct coap_msg *put_block(struct fx *f, uint16_t mid, uint32_t num, int more, uint8_t szx,
                                  const uint8_t *data, size_t len, uint32_t size1) {
    struct coap_msg m;
    fx_msg(&m, COAP_TYPE_CON, COAP_PUT, mid, (const uint8_t *)&mid, 2);
    coap_msg_add_path(&m, COAP_OPT_URI_PATH, "store");
    struct coap_block b = {num, (uint8_t)more, szx};
    coap_msg_add_opt_uint(&m, COAP_OPT_BLOCK1, coap_block_encode(&b));
    if (size1)
        coap_msg_add_opt_uint(&m, COAP_OPT_SIZE1, size1);
    coap_msg_set_payload(&m, data, len);
    fx_input(f, &m, NULL);
    return fx_sent(f, -1);
}

static void test_block1_reassembly(void **state) {
    (void)state;
    struct fx *f = fx_block();
    struct bx *bx = f->user;
    const size_t total = 3 * 1024 + 100;
    for (uint32_t num = 0; num < 4; num++) {
        int more = num < 3;
        size_t len = more ? 1024 : 100;
        struct coap_msg *r = put_block(f, (uint16_t)(10 + num), num, more, 6, bx->big + 0, len, 0);
        struct coap_block b;
        assert_int_equal(coap_msg_block(r, COAP_OPT_BLOCK1, &b), 1);
        assert_int_equal(b.num, num);
        assert_int_equal(b.more, more);
        if (more) {
            assert_int_equal(r->code, COAP_231_CONTINUE);
            assert_int_equal(f->handler_calls, 0);
        } else {
            assert_int_equal(r->code, COAP_204_CHANGED);
        }
    }
    assert_int_equal(f->handler_calls, 1);
    assert_int_equal(bx->stored_len, total);
    assert_memory_equal(bx->stored + 1024, bx->big, 1024);
    assert_int_equal(f->ep->n_b1, 0);
    fx_block_free(f);
}

static void test_block1_server_prefers_smaller(void **state) {
    (void)state;
    struct fx *f = fx_block();
    struct bx *bx = f->user;
    f->env.params.block_szx = 4;
    struct coap_msg *r = put_block(f, 1, 0, 1, 6, bx->big, 1024, 0);
    struct coap_block b;
    assert_int_equal(coap_msg_block(r, COAP_OPT_BLOCK1, &b), 1);
    assert_int_equal(b.szx, 4); /* the client continues at 256 bytes, from block 4 */
    r = put_block(f, 2, 4, 0, 4, bx->big + 1024, 200, 0);
    assert_int_equal(r->code, COAP_204_CHANGED);
    assert_int_equal(bx->stored_len, 1224);
    assert_memory_equal(bx->stored, bx->big, 1224);
    fx_block_free(f);
}

static void test_block1_incomplete_408(void **state) {
    (void)state;
    struct fx *f = fx_block();
    struct bx *bx = f->user;
    struct coap_msg *r = put_block(f, 1, 1, 1, 6, bx->big, 1024, 0); /* unknown transfer */
    assert_int_equal(r->code, COAP_408_REQUEST_ENTITY_INCOMPLETE);
    put_block(f, 2, 0, 1, 6, bx->big, 1024, 0);
    r = put_block(f, 3, 2, 1, 6, bx->big, 1024, 0); /* block 1 missing */
    assert_int_equal(r->code, COAP_408_REQUEST_ENTITY_INCOMPLETE);
    r = put_block(f, 4, 1, 0, 6, bx->big, 10, 0); /* the transfer was dropped */
    assert_int_equal(r->code, COAP_408_REQUEST_ENTITY_INCOMPLETE);
    assert_int_equal(f->handler_calls, 0);
    assert_int_equal(f->env.stats.block1_errors, 3);
    r = put_block(f, 5, 0, 1, 6, bx->big, 1000, 0); /* non-final block of the wrong size */
    assert_int_equal(r->code, COAP_400_BAD_REQUEST);
    fx_block_free(f);
}

static void test_block1_too_large_413(void **state) {
    (void)state;
    struct fx *f = fx_block();
    struct bx *bx = f->user;
    f->env.params.max_body = 2048;
    struct coap_msg *r = put_block(f, 1, 0, 1, 6, bx->big, 1024, 5000); /* Size1 says too big */
    assert_int_equal(r->code, COAP_413_REQUEST_ENTITY_TOO_LARGE);
    assert_int_equal(fx_opt_uint(r, COAP_OPT_SIZE1), 2048);
    put_block(f, 2, 0, 1, 6, bx->big, 1024, 0);
    put_block(f, 3, 1, 1, 6, bx->big, 1024, 0);
    r = put_block(f, 4, 2, 0, 6, bx->big, 1, 0); /* one byte over */
    assert_int_equal(r->code, COAP_413_REQUEST_ENTITY_TOO_LARGE);
    assert_int_equal(fx_opt_uint(r, COAP_OPT_SIZE1), 2048);
    assert_int_equal(f->handler_calls, 0);
    assert_int_equal(f->ep->n_b1, 0);
    fx_block_free(f);
}

static void test_block1_duplicate_block(void **state) {
    (void)state;
    struct fx *f = fx_block();
    struct bx *bx = f->user;
    put_block(f, 1, 0, 1, 6, bx->big, 1024, 0);
    struct coap_msg *r = put_block(f, 1, 0, 1, 6, bx->big, 1024, 0); /* retransmission */
    assert_int_equal(r->code, COAP_231_CONTINUE);                    /* replayed, not re-added */
    r = put_block(f, 2, 1, 0, 6, bx->big, 5, 0);
    assert_int_equal(r->code, COAP_204_CHANGED);
    assert_int_equal(bx->stored_len, 1029);
    fx_block_free(f);
}

/* ---- large notification --------------------------------------------------------------------- */

static void test_notify_block2(void **state) {
    (void)state;
    struct fx *f = fx_block();
    struct bx *bx = f->user;
    struct coap_observation obs;
    memset(&obs, 0, sizeof(obs));
    obs.peer = f->peer;
    obs.token_len = 1;
    obs.token[0] = 0x55;
    struct coap_msg req;
    coap_msg_init(&req, COAP_TYPE_CON, COAP_GET, 0);
    coap_msg_add_path(&req, COAP_OPT_URI_PATH, "big");
    assert_true(coap_block_key(&req, obs.block_key, sizeof(obs.block_key)) > 0);
    struct coap_msg n;
    coap_msg_init(&n, COAP_TYPE_NON, COAP_205_CONTENT, 0);
    coap_msg_add_opt_uint(&n, COAP_OPT_CONTENT_FORMAT, 42);
    coap_msg_set_payload(&n, bx->big, BIG_LEN);
    assert_int_equal(coap_notify(f->ep, &obs, &n, NULL, NULL, NULL), 0);
    struct coap_msg *s = fx_sent(f, -1);
    assert_int_equal(fx_opt_uint(s, COAP_OPT_OBSERVE), 1);
    assert_int_equal(s->payload_len, 1024);
    /* the observer fetches the rest with GET + Block2, without Observe (RFC 7959 §2.6) */
    struct coap_msg *r = get_big(f, 9, 1, 1, 6);
    assert_null(coap_msg_opt(r, COAP_OPT_OBSERVE));
    assert_memory_equal(r->payload, bx->big + 1024, 1024);
    assert_int_equal(f->handler_calls, 0);
    fx_block_free(f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_block2_szx6),
        cmocka_unit_test(test_block2_negotiated_smaller),
        cmocka_unit_test(test_block2_our_preference_smaller),
        cmocka_unit_test(test_block2_cache_miss_and_expiry),
        cmocka_unit_test(test_block2_deferred_separate),
        cmocka_unit_test(test_block1_reassembly),
        cmocka_unit_test(test_block1_server_prefers_smaller),
        cmocka_unit_test(test_block1_incomplete_408),
        cmocka_unit_test(test_block1_too_large_413),
        cmocka_unit_test(test_block1_duplicate_block),
        cmocka_unit_test(test_notify_block2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
