/* SPDX-License-Identifier: Apache-2.0 */
/* The CoAP endpoint: lifecycle, the entry points (datagram in, timer tick), dispatch of incoming
 * messages to the exchange, dedup and server code, and the libevent driver: one evtimer per
 * endpoint, armed at the earliest deadline only while something is pending. */
#include "coap_endpoint_internal.h"

#include <errno.h>
#include <event2/event.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "lwm2m/error.h"

void coap_params_default(struct coap_params *p) {
    memset(p, 0, sizeof(*p));
    p->ack_timeout_ms = 2000;
    p->ack_random_permille = 1500;
    p->max_retransmit = 4;
    p->exchange_lifetime_ms = 247000;
    p->non_lifetime_ms = 145000;
    p->response_timeout_ms = 93000;
    p->defer_ack_ms = 1000;
    p->block_lifetime_ms = 60000;
    p->max_body = 65536;
    p->dedup_max = 16;
    p->xchg_max = 32;
    p->block_transfers_max = 4;
    p->block_szx = COAP_BLOCK_MAX_SZX;
}

int coap_rng_system(void *ctx, void *buf, size_t len) {
    (void)ctx;
    /* OpenSSL's DRBG first: it is seeded from the kernel but costs no syscall per token, which
     * matters at tens of thousands of requests per second. */
    if (len <= INT32_MAX && RAND_bytes(buf, (int)len) == 1)
        return 0;
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = getrandom(p, len, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return LWM2M_ERR_IO;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int coap_rng_pooled(void *pool, void *buf, size_t len) {
    struct coap_rng_pool *p = pool;
    if (len > sizeof(p->buf))
        return coap_rng_system(NULL, buf, len);
    if (p->pos > sizeof(p->buf) || sizeof(p->buf) - p->pos < len) {
        int rc = coap_rng_system(NULL, p->buf, sizeof(p->buf));
        if (rc != 0)
            return rc;
        p->pos = 0;
    }
    memcpy(buf, p->buf + p->pos, len);
    /* Bytes handed out are wiped so that they can never be handed out twice. */
    memset(p->buf + p->pos, 0, len);
    p->pos = (uint16_t)(p->pos + len);
    return 0;
}

void coap_env_init(struct coap_env *env, struct event_base *base) {
    memset(env, 0, sizeof(*env));
    coap_params_default(&env->params);
    env->clock = coap_clock_system();
    env->rng_pool.pos = sizeof(env->rng_pool.buf); /* empty: filled on first use */
    env->rng = coap_rng_pooled;
    env->rng_ctx = &env->rng_pool;
    env->base = base;
}

/* ---- small helpers shared by the layer's files ---------------------------------------------- */

uint64_t coap_ep_now(const struct coap_endpoint *ep) {
    return coap_clock_mono_ms(ep->env->clock);
}

void *coap_ep_alloc(struct coap_endpoint *ep, size_t n) {
    void *p = malloc(n);
    if (p == NULL) {
        ep->env->stats.nomem++;
        return NULL;
    }
    ep->mem += n;
    return p;
}

void coap_ep_free_mem(struct coap_endpoint *ep, void *p, size_t n) {
    if (p == NULL)
        return;
    ep->mem -= n;
    free(p);
}

void coap_ep_send(struct coap_endpoint *ep, const uint8_t *data, size_t len,
                  const struct coap_addr *to) {
    ep->env->stats.tx++;
    if (coap_transport_send(ep->tp, data, len, to) != 0)
        ep->env->stats.tx_errors++;
}

void coap_ep_send_empty(struct coap_endpoint *ep, uint8_t type, uint16_t mid,
                        const struct coap_addr *to) {
    uint8_t d[4] = {(uint8_t)((COAP_VERSION << 6) | (type << 4)), COAP_EMPTY, (uint8_t)(mid >> 8),
                    (uint8_t)mid};
    if (type == COAP_TYPE_RST)
        ep->env->stats.resets_tx++;
    coap_ep_send(ep, d, sizeof(d), to);
}

int coap_ep_serialize(struct coap_endpoint *ep, const struct coap_msg *m, uint8_t **out,
                      size_t *len) {
    size_t n = coap_serialized_size(m);
    uint8_t *buf = coap_ep_alloc(ep, n);
    if (buf == NULL)
        return LWM2M_ERR_NOMEM;
    int rc = coap_serialize(m, buf, n);
    if (rc < 0) {
        coap_ep_free_mem(ep, buf, n);
        return LWM2M_ERR_INVALID;
    }
    *out = buf;
    *len = (size_t)rc;
    return 0;
}

uint16_t coap_ep_next_mid(struct coap_endpoint *ep) {
    return ep->next_mid++;
}

uint32_t coap_ep_next_id(struct coap_endpoint *ep) {
    if (++ep->next_id == 0)
        ep->next_id = 1;
    return ep->next_id;
}

/* ---- timer driver --------------------------------------------------------------------------- */

uint64_t coap_endpoint_next_deadline(const struct coap_endpoint *ep) {
    uint64_t d[4] = {coap_xchg_deadline(ep), coap_dedup_deadline(ep), coap_server_deadline(ep),
                     coap_block_deadline(ep)};
    uint64_t best = 0;
    for (size_t i = 0; i < 4; i++) {
        if (d[i] != 0 && (best == 0 || d[i] < best))
            best = d[i];
    }
    return best;
}

static void on_timer(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    struct coap_endpoint *ep = arg;
    ep->armed = 0;
    coap_endpoint_tick(ep);
}

/* Arms the evtimer at the earliest deadline, or disarms it: an idle endpoint has no timer. */
static void rearm(struct coap_endpoint *ep) {
    if (ep->env->base == NULL)
        return;
    uint64_t d = coap_endpoint_next_deadline(ep);
    if (d == ep->armed)
        return;
    if (d == 0) {
        evtimer_del(ep->timer);
        ep->armed = 0;
        return;
    }
    if (ep->timer == NULL) {
        ep->timer = evtimer_new(ep->env->base, on_timer, ep);
        if (ep->timer == NULL) {
            ep->env->stats.nomem++;
            return;
        }
    }
    uint64_t now = coap_ep_now(ep);
    /* +1 ms: the loop's clock may round below our millisecond and fire a hair early. */
    uint64_t delay = d > now ? d - now + 1 : 0;
    struct timeval tv = {(time_t)(delay / 1000), (suseconds_t)((delay % 1000) * 1000)};
    evtimer_add(ep->timer, &tv);
    ep->armed = d;
}

/* ---- lifecycle ------------------------------------------------------------------------------ */

static void rx_cb(void *ctx, const uint8_t *data, size_t len, const struct coap_addr *from) {
    coap_endpoint_input(ctx, data, len, from);
}

int coap_endpoint_new(struct coap_env *env, struct coap_transport *tp, coap_handler_fn handler,
                      void *handler_ctx, struct coap_endpoint **out) {
    if (env == NULL || tp == NULL || out == NULL)
        return LWM2M_ERR_INVALID;
    struct coap_endpoint *ep = calloc(1, sizeof(*ep));
    if (ep == NULL) {
        env->stats.nomem++;
        return LWM2M_ERR_NOMEM;
    }
    ep->env = env;
    ep->tp = tp;
    ep->handler = handler;
    ep->handler_ctx = handler_ctx;
    TAILQ_INIT(&ep->xchgs);
    TAILQ_INIT(&ep->dedup);
    TAILQ_INIT(&ep->deferred);
    TAILQ_INIT(&ep->b2);
    TAILQ_INIT(&ep->b1);
    /* A random first MID makes a restarted endpoint unlikely to collide with its old MIDs still
     * in the peer's deduplication cache. */
    uint16_t mid = 0;
    if (env->rng(env->rng_ctx, &mid, sizeof(mid)) != 0)
        mid = (uint16_t)(uintptr_t)ep;
    ep->next_mid = mid;
    coap_transport_set_rx(tp, rx_cb, ep);
    *out = ep;
    return 0;
}

static void destroy(struct coap_endpoint *ep) {
    coap_xchg_free_all(ep);
    coap_dedup_free_all(ep);
    coap_server_free_all(ep);
    coap_block_free_all(ep);
    if (ep->timer != NULL)
        event_free(ep->timer);
    free(ep);
}

void coap_endpoint_free(struct coap_endpoint *ep) {
    if (ep == NULL)
        return;
    if (ep->tp != NULL && ep->tp->rx_ctx == ep)
        coap_transport_set_rx(ep->tp, NULL, NULL);
    if (ep->depth > 0) {
        ep->dying = 1; /* unwinding layer code still holds ep: coap_ep_leave() frees it */
        if (ep->timer != NULL)
            evtimer_del(ep->timer);
        return;
    }
    destroy(ep);
}

void coap_ep_enter(struct coap_endpoint *ep) {
    ep->depth++;
}

int coap_ep_leave(struct coap_endpoint *ep) {
    ep->depth--;
    if (ep->dying) {
        if (ep->depth == 0)
            destroy(ep);
        return 1;
    }
    if (ep->depth == 0)
        rearm(ep);
    return 0;
}

void coap_endpoint_set_handler(struct coap_endpoint *ep, coap_handler_fn handler, void *ctx) {
    ep->handler = handler;
    ep->handler_ctx = ctx;
}

struct coap_transport *coap_endpoint_transport(const struct coap_endpoint *ep) {
    return ep->tp;
}

size_t coap_endpoint_mem(const struct coap_endpoint *ep) {
    return sizeof(*ep) + ep->mem;
}

/* ---- entry points --------------------------------------------------------------------------- */

/* A datagram coap_parse() rejected: 4.00 for a CON request whose header and token are readable
 * (project rule: malformed CoAP gets 4.00 or is dropped and counted), otherwise dropped. */
static void on_malformed(struct coap_endpoint *ep, const struct coap_msg *m, const uint8_t *data,
                         size_t len, const struct coap_addr *peer) {
    ep->env->stats.malformed++;
    if (coap_parse_header_ok(data, len) && m->type == COAP_TYPE_CON && m->code != COAP_EMPTY &&
        COAP_CODE_CLASS(m->code) == 0)
        coap_server_bad_request(ep, m, peer);
}

static void dispatch(struct coap_endpoint *ep, const struct coap_msg *m,
                     const struct coap_addr *peer) {
    switch (m->type) {
    case COAP_TYPE_ACK:
        coap_xchg_on_ack(ep, m, peer);
        return;
    case COAP_TYPE_RST:
        coap_xchg_on_rst(ep, m, peer);
        return;
    default:
        break;
    }
    if (m->code == COAP_EMPTY) {
        if (m->type == COAP_TYPE_CON) { /* CoAP ping: RST is the answer (RFC 7252 §4.3) */
            ep->env->stats.pings_rx++;
            coap_ep_send_empty(ep, COAP_TYPE_RST, m->mid, peer);
        } else {
            ep->env->stats.unmatched++; /* an empty NON means nothing */
        }
        return;
    }
    if (coap_dedup_check(ep, m, peer))
        return;
    if (COAP_CODE_CLASS(m->code) == 0)
        coap_server_on_request(ep, m, peer);
    else
        coap_xchg_on_response(ep, m, peer);
}

void coap_endpoint_input(struct coap_endpoint *ep, const uint8_t *data, size_t len,
                         const struct coap_addr *peer) {
    if (ep == NULL || ep->dying)
        return;
    struct coap_msg m;
    ep->env->stats.rx++;
    coap_ep_enter(ep);
    if (coap_parse(&m, data, len) != 0)
        on_malformed(ep, &m, data, len, peer);
    else
        dispatch(ep, &m, peer);
    coap_ep_leave(ep);
}

void coap_endpoint_tick(struct coap_endpoint *ep) {
    if (ep == NULL || ep->dying)
        return;
    uint64_t now = coap_ep_now(ep);
    coap_ep_enter(ep);
    coap_xchg_tick(ep, now);
    if (!ep->dying)
        coap_server_tick(ep, now);
    if (!ep->dying)
        coap_dedup_tick(ep, now);
    if (!ep->dying)
        coap_block_tick(ep, now);
    coap_ep_leave(ep);
}
