/* SPDX-License-Identifier: Apache-2.0 */
/* Test doubles for the CoAP message layer: a transport that captures sent datagrams, a clock
 * moved by hand and a deterministic RNG, plus a fixture wiring them to one endpoint and helpers
 * to feed and inspect messages. Header-only (static functions) for the test_coap_*.c files. */
#ifndef COAP_TEST_MOCK_H
#define COAP_TEST_MOCK_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lwm2m/coap_endpoint.h"
#include "lwm2m/error.h"

#define MOCK_MAX_SENT 256
#define MOCK_DGRAM    2048

struct mock_sent {
    uint8_t data[MOCK_DGRAM];
    size_t len;
    struct coap_addr to;
};

struct mock_tp {
    struct coap_transport base;
    struct mock_sent sent[MOCK_MAX_SENT];
    size_t n_sent;
    int fail; /* nonzero: send returns this error (and captures nothing) */
};

static inline int mock_send(struct coap_transport *t, const uint8_t *data, size_t len,
                            const struct coap_addr *to) {
    struct mock_tp *m = coap_container_of(t, struct mock_tp, base);
    if (m->fail)
        return m->fail;
    assert_true(m->n_sent < MOCK_MAX_SENT);
    assert_true(len <= MOCK_DGRAM);
    memcpy(m->sent[m->n_sent].data, data, len);
    m->sent[m->n_sent].len = len;
    m->sent[m->n_sent].to = *to;
    m->n_sent++;
    return 0;
}

static inline int mock_local(const struct coap_transport *t, struct coap_addr *out) {
    (void)t;
    return coap_addr_parse(out, "127.0.0.1", 5683);
}

static inline void mock_close(struct coap_transport *t) {
    (void)t;
}

static const struct coap_transport_ops mock_tp_ops = {"mock", mock_send, mock_local, mock_close};

static inline uint64_t mock_now(void *ctx) {
    return *(uint64_t *)ctx;
}

/* Tokens and ETags come from a counter (so they differ); the 4-byte draws that randomise the
 * retransmission timeout are the fixed byte, so the schedule is exact. */
struct mock_rng {
    uint8_t fill;
    uint8_t ctr;
};

static inline int mock_rng_fn(void *ctx, void *buf, size_t len) {
    struct mock_rng *r = ctx;
    uint8_t *p = buf;
    if (len == 4) {
        memset(p, r->fill, len);
        return 0;
    }
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)(++r->ctr);
    return 0;
}

struct fx {
    struct coap_env env;
    struct coap_clock clock;
    uint64_t now;
    struct mock_rng rng;
    struct mock_tp tp;
    struct coap_endpoint *ep;
    struct coap_addr peer, peer2;
    struct coap_msg last; /* parsed by fx_sent() */
    /* outcome of the last coap_done_fn */
    int done_calls;
    int done_err;
    uint8_t done_code;
    size_t done_payload_len;
    uint8_t done_payload[MOCK_DGRAM];
    /* handler bookkeeping (server tests) */
    int handler_calls;
    uint32_t handle; /* from coap_defer() */
    void *user;
};

static inline struct fx *fx_new(coap_handler_fn handler) {
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    coap_env_init(&f->env, NULL);
    f->now = 1000000;
    f->clock.mono_ms = mock_now;
    f->clock.real_ms = mock_now;
    f->clock.ctx = &f->now;
    f->env.clock = &f->clock;
    f->env.rng = mock_rng_fn;
    f->env.rng_ctx = &f->rng;
    f->tp.base.ops = &mock_tp_ops;
    assert_int_equal(coap_addr_parse(&f->peer, "192.0.2.1", 5683), 0);
    assert_int_equal(coap_addr_parse(&f->peer2, "2001:db8::2", 5683), 0);
    assert_int_equal(coap_endpoint_new(&f->env, &f->tp.base, handler, f, &f->ep), 0);
    return f;
}

static inline void fx_free(struct fx *f) {
    coap_endpoint_free(f->ep);
    free(f);
}

/* Parses sent datagram i (negative: from the end) into f->last and returns it. */
static inline struct coap_msg *fx_sent(struct fx *f, long i) {
    size_t idx = i < 0 ? (size_t)((long)f->tp.n_sent + i) : (size_t)i;
    assert_true(idx < f->tp.n_sent);
    assert_int_equal(coap_parse(&f->last, f->tp.sent[idx].data, f->tp.sent[idx].len), 0);
    return &f->last;
}

/* Serializes m and feeds it to the endpoint as if it came from peer. */
static inline void fx_input(struct fx *f, const struct coap_msg *m, const struct coap_addr *peer) {
    uint8_t buf[MOCK_DGRAM];
    int n = coap_serialize(m, buf, sizeof(buf));
    assert_true(n > 0);
    coap_endpoint_input(f->ep, buf, (size_t)n, peer ? peer : &f->peer);
}

static inline void fx_input_raw(struct fx *f, const uint8_t *d, size_t n) {
    coap_endpoint_input(f->ep, d, n, &f->peer);
}

/* Moves the clock to t, ticking the endpoint at each deadline on the way (like the evtimer). */
static inline void fx_run_until(struct fx *f, uint64_t t) {
    for (;;) {
        uint64_t d = coap_endpoint_next_deadline(f->ep);
        if (d == 0 || d > t)
            break;
        if (d > f->now)
            f->now = d;
        coap_endpoint_tick(f->ep);
    }
    if (t > f->now)
        f->now = t;
}

static inline void fx_advance(struct fx *f, uint64_t ms) {
    fx_run_until(f, f->now + ms);
}

static inline void fx_done(void *ctx, int err, const struct coap_msg *resp,
                           const struct coap_addr *peer) {
    (void)peer;
    struct fx *f = ctx;
    f->done_calls++;
    f->done_err = err;
    f->done_code = resp ? resp->code : 0;
    f->done_payload_len = resp ? resp->payload_len : 0;
    if (resp && resp->payload_len)
        memcpy(f->done_payload, resp->payload, resp->payload_len);
}

/* Builds an ACK/CON/NON with a token into m. */
static inline void fx_msg(struct coap_msg *m, uint8_t type, uint8_t code, uint16_t mid,
                          const uint8_t *tok, size_t tkl) {
    coap_msg_init(m, type, code, mid);
    coap_msg_set_token(m, tok, tkl);
}

static inline uint32_t fx_opt_uint(const struct coap_msg *m, uint16_t num) {
    uint32_t v = 0;
    assert_int_equal(coap_msg_opt_uint(m, num, &v), 0);
    return v;
}

#endif /* COAP_TEST_MOCK_H */
