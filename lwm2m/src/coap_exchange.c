/* SPDX-License-Identifier: Apache-2.0 */
/* Outgoing exchanges of an endpoint: our requests, pings, notifications and separate responses.
 * Owns MID/token assignment, NSTART = 1 per peer (a FIFO of waiting messages), CON
 * retransmission with randomised exponential back-off, and matching of ACK, RST and responses. */
#include "coap_endpoint_internal.h"

#include <stdlib.h>
#include <string.h>

#include "lwm2m/error.h"

static void xchg_free(struct coap_endpoint *ep, struct coap_xchg *x) {
    coap_ep_free_mem(ep, x->dgram, x->dlen);
    coap_cblk_free(ep, x->blk);
    coap_ep_free_mem(ep, x, sizeof(*x));
}

static void xchg_unlink(struct coap_endpoint *ep, struct coap_xchg *x) {
    TAILQ_REMOVE(&ep->xchgs, x, link);
    ep->n_xchg--;
}

/* Holds the peer's NSTART slot: a CON not yet acknowledged, or a NON request still expecting
 * its response (RFC 7252 §4.7 "outstanding interaction"). */
static int holds_slot(const struct coap_xchg *x) {
    return x->state == COAP_XS_WAIT_ACK || (x->state == COAP_XS_WAIT_RESP && !x->con);
}

/* The first timeout is random in [ACK_TIMEOUT, ACK_TIMEOUT × ACK_RANDOM_FACTOR] (§4.2) so that
 * many endpoints that lost the same burst do not retransmit in lockstep. */
static uint32_t initial_timeout(struct coap_endpoint *ep) {
    const struct coap_params *p = &ep->env->params;
    uint32_t r = 0;
    uint64_t span = 0;
    if (p->ack_random_permille > 1000)
        span = (uint64_t)p->ack_timeout_ms * (p->ack_random_permille - 1000) / 1000;
    if (span > 0 && ep->env->rng(ep->env->rng_ctx, &r, sizeof(r)) == 0)
        return p->ack_timeout_ms + (uint32_t)(r % (span + 1));
    return p->ack_timeout_ms;
}

static void start(struct coap_endpoint *ep, struct coap_xchg *x, uint64_t now) {
    coap_ep_send(ep, x->dgram, x->dlen, &x->peer);
    if (x->con) {
        x->state = COAP_XS_WAIT_ACK;
        x->timeout_ms = initial_timeout(ep);
        x->deadline = now + x->timeout_ms;
        return;
    }
    /* A NON is never retransmitted: the datagram is no longer needed. */
    coap_ep_free_mem(ep, x->dgram, x->dlen);
    x->dgram = NULL;
    x->dlen = 0;
    if (x->kind == COAP_XK_REQUEST) {
        x->state = COAP_XS_WAIT_RESP;
        x->deadline = now + ep->env->params.response_timeout_ms;
    } else {
        x->state = COAP_XS_NON_SENT;
        x->deadline = now + ep->env->params.ack_timeout_ms;
    }
}

/* Starts the oldest queued message for peer unless an exchange with it holds the slot. NON
 * notifications bypass the queue (they do not wait for anything). */
static void pump(struct coap_endpoint *ep, const struct coap_addr *peer) {
    struct coap_xchg *x, *first = NULL;
    TAILQ_FOREACH(x, &ep->xchgs, link) {
        if (coap_addr_cmp(&x->peer, peer) != 0)
            continue;
        if (holds_slot(x))
            return;
        if (x->state == COAP_XS_QUEUED && first == NULL)
            first = x;
    }
    if (first != NULL)
        start(ep, first, coap_ep_now(ep));
}

/* Removes x, calls its callback, frees it and lets the next queued message to its peer go. */
static void complete(struct coap_endpoint *ep, struct coap_xchg *x, int err,
                     const struct coap_msg *resp) {
    struct coap_addr peer = x->peer;
    coap_done_fn cb = x->cb;
    void *ctx = x->ctx;
    xchg_unlink(ep, x);
    xchg_free(ep, x);
    if (err == LWM2M_ERR_TIMEOUT)
        ep->env->stats.timeouts++;
    if (cb != NULL)
        cb(ctx, err, resp, &peer);
    if (!ep->dying)
        pump(ep, &peer);
}

/* coap_xchg_submit() with the Block1 state of a request (ownership of blk passes too). */
static int xchg_submit_blk(struct coap_endpoint *ep, uint8_t kind, const struct coap_addr *peer,
                           const struct coap_msg *m, uint8_t *dgram, size_t dlen,
                           struct coap_cblk *blk, coap_done_fn cb, void *ctx, uint32_t *id) {
    struct coap_xchg *x = NULL;
    if (m->type == COAP_TYPE_NON && kind == COAP_XK_NOTIFY && cb == NULL) {
        /* Fire and forget: nobody listens for a RST, so nothing is kept (high-rate NON
         * notifications then cost no exchange state at all). */
        coap_ep_send(ep, dgram, dlen, peer);
        coap_ep_free_mem(ep, dgram, dlen);
        if (id != NULL)
            *id = 0;
        return 0;
    }
    if (ep->n_xchg >= ep->env->params.xchg_max)
        ep->env->stats.nomem++;
    else
        x = coap_ep_alloc(ep, sizeof(*x));
    if (x == NULL) {
        coap_ep_free_mem(ep, dgram, dlen);
        coap_cblk_free(ep, blk);
        return LWM2M_ERR_NOMEM;
    }
    memset(x, 0, sizeof(*x));
    x->id = coap_ep_next_id(ep);
    x->kind = kind;
    x->state = COAP_XS_QUEUED;
    x->con = m->type == COAP_TYPE_CON;
    x->mid = m->mid;
    x->token_len = m->token_len;
    memcpy(x->token, m->token, m->token_len);
    x->peer = *peer;
    x->cb = cb;
    x->ctx = ctx;
    x->dgram = dgram;
    x->dlen = dlen;
    x->blk = blk;
    TAILQ_INSERT_TAIL(&ep->xchgs, x, link);
    ep->n_xchg++;
    if (id != NULL)
        *id = x->id;
    if (!x->con && kind != COAP_XK_REQUEST)
        start(ep, x, coap_ep_now(ep));
    else
        pump(ep, peer);
    return 0;
}

int coap_xchg_submit(struct coap_endpoint *ep, uint8_t kind, const struct coap_addr *peer,
                     const struct coap_msg *m, uint8_t *dgram, size_t dlen, coap_done_fn cb,
                     void *ctx, uint32_t *id) {
    return xchg_submit_blk(ep, kind, peer, m, dgram, dlen, NULL, cb, ctx, id);
}

/* Assigns MID and token, serializes and submits. */
static int submit_msg(struct coap_endpoint *ep, uint8_t kind, const struct coap_addr *peer,
                      struct coap_msg *m, coap_done_fn cb, void *ctx, uint32_t *id) {
    uint8_t *d;
    size_t n;
    m->mid = coap_ep_next_mid(ep);
    int rc = coap_ep_serialize(ep, m, &d, &n);
    if (rc != 0)
        return rc;
    coap_ep_enter(ep);
    rc = coap_xchg_submit(ep, kind, peer, m, d, n, cb, ctx, id);
    coap_ep_leave(ep);
    return rc;
}

/* A request whose body is larger than a block goes as a Block1 sequence carried by one exchange
 * (one id for coap_cancel(), one callback). Every block keeps the request's token: RFC 7959 §2.4
 * allows either, and one token lets a late response to any block be matched or dropped like a
 * response to a plain request; each block has its own MID, so retransmissions stay distinct. */
static int submit_blockwise(struct coap_endpoint *ep, const struct coap_addr *peer,
                            struct coap_msg *m, coap_done_fn cb, void *ctx, uint32_t *id) {
    struct coap_cblk *b;
    uint8_t *d;
    size_t n;
    m->mid = coap_ep_next_mid(ep);
    int rc = coap_cblk_new(ep, m, &b, &d, &n);
    if (rc != 0)
        return rc;
    coap_ep_enter(ep);
    rc = xchg_submit_blk(ep, COAP_XK_REQUEST, peer, m, d, n, b, cb, ctx, id);
    coap_ep_leave(ep);
    return rc;
}

int coap_request(struct coap_endpoint *ep, const struct coap_addr *peer, const struct coap_msg *req,
                 coap_done_fn cb, void *ctx, uint32_t *id) {
    if (ep == NULL || ep->dying || peer == NULL || peer->len == 0 || req == NULL ||
        (req->type != COAP_TYPE_CON && req->type != COAP_TYPE_NON) || req->code == COAP_EMPTY ||
        COAP_CODE_CLASS(req->code) != 0)
        return LWM2M_ERR_INVALID;
    struct coap_msg m = *req;
    uint8_t token[COAP_MAX_TOKEN_LEN];
    int rc = ep->env->rng(ep->env->rng_ctx, token, sizeof(token));
    if (rc != 0)
        return rc;
    coap_msg_set_token(&m, token, sizeof(token));
    if (coap_cblk_needed(ep, &m))
        rc = submit_blockwise(ep, peer, &m, cb, ctx, id);
    else
        rc = submit_msg(ep, COAP_XK_REQUEST, peer, &m, cb, ctx, id);
    if (rc == 0)
        ep->env->stats.requests_tx++;
    return rc;
}

int coap_ping(struct coap_endpoint *ep, const struct coap_addr *peer, coap_done_fn cb, void *ctx,
              uint32_t *id) {
    if (ep == NULL || ep->dying || peer == NULL || peer->len == 0)
        return LWM2M_ERR_INVALID;
    struct coap_msg m;
    coap_msg_init(&m, COAP_TYPE_CON, COAP_EMPTY, 0);
    return submit_msg(ep, COAP_XK_PING, peer, &m, cb, ctx, id);
}

int coap_cancel(struct coap_endpoint *ep, uint32_t id) {
    struct coap_xchg *x;
    if (ep == NULL || id == 0)
        return LWM2M_ERR_NOTFOUND;
    TAILQ_FOREACH(x, &ep->xchgs, link) {
        if (x->id != id)
            continue;
        struct coap_addr peer = x->peer;
        xchg_unlink(ep, x);
        xchg_free(ep, x);
        coap_ep_enter(ep);
        pump(ep, &peer);
        coap_ep_leave(ep);
        return 0;
    }
    return LWM2M_ERR_NOTFOUND;
}

/* ---- matching ------------------------------------------------------------------------------- */

static struct coap_xchg *find_by_mid(struct coap_endpoint *ep, uint16_t mid,
                                     const struct coap_addr *peer) {
    struct coap_xchg *x;
    TAILQ_FOREACH(x, &ep->xchgs, link) {
        if ((x->state == COAP_XS_WAIT_ACK || x->state == COAP_XS_NON_SENT) && x->mid == mid &&
            coap_addr_cmp(&x->peer, peer) == 0)
            return x;
    }
    return NULL;
}

/* A response m to request x: the user's answer, or in a Block1 transfer possibly the go-ahead for
 * the next block, which then waits for the peer's NSTART slot like a new message (x is the
 * oldest queued one for its peer, so it goes first). */
static void on_answer(struct coap_endpoint *ep, struct coap_xchg *x, const struct coap_msg *m) {
    uint8_t *d = NULL;
    size_t n = 0;
    uint16_t mid = 0;
    int rc = x->blk != NULL ? coap_cblk_next(ep, x->blk, m, &mid, &d, &n) : 0;
    if (rc <= 0) {
        complete(ep, x, rc, rc == 0 ? m : NULL);
        return;
    }
    coap_ep_free_mem(ep, x->dgram, x->dlen);
    x->dgram = d;
    x->dlen = n;
    x->mid = mid;
    x->retx = 0;
    x->state = COAP_XS_QUEUED;
    x->deadline = 0;
    pump(ep, &x->peer);
}

static int token_eq(const struct coap_xchg *x, const struct coap_msg *m) {
    return x->token_len == m->token_len && memcmp(x->token, m->token, m->token_len) == 0;
}

void coap_xchg_on_ack(struct coap_endpoint *ep, const struct coap_msg *m,
                      const struct coap_addr *peer) {
    struct coap_xchg *x = find_by_mid(ep, m->mid, peer);
    if (x == NULL || x->state != COAP_XS_WAIT_ACK) {
        ep->env->stats.unmatched++;
        return;
    }
    if (x->kind != COAP_XK_REQUEST) {
        complete(ep, x, 0, NULL); /* notification, separate response or ping: delivered */
        return;
    }
    if (m->code == COAP_EMPTY) {
        /* Separate response follows (§5.2.2): stop retransmitting, free the NSTART slot. */
        x->state = COAP_XS_WAIT_RESP;
        x->deadline = coap_ep_now(ep) + ep->env->params.response_timeout_ms;
        coap_ep_free_mem(ep, x->dgram, x->dlen);
        x->dgram = NULL;
        x->dlen = 0;
        pump(ep, peer);
        return;
    }
    if (!token_eq(x, m)) {
        ep->env->stats.unmatched++; /* a piggy-backed response must echo our token */
        return;
    }
    on_answer(ep, x, m);
}

void coap_xchg_on_rst(struct coap_endpoint *ep, const struct coap_msg *m,
                      const struct coap_addr *peer) {
    struct coap_xchg *x = find_by_mid(ep, m->mid, peer);
    if (x == NULL) {
        ep->env->stats.unmatched++;
        return;
    }
    ep->env->stats.resets_rx++;
    complete(ep, x, x->kind == COAP_XK_PING ? 0 : LWM2M_ERR_RESET, NULL);
}

void coap_xchg_on_response(struct coap_endpoint *ep, const struct coap_msg *m,
                           const struct coap_addr *peer) {
    struct coap_xchg *x;
    TAILQ_FOREACH(x, &ep->xchgs, link) {
        if (x->kind == COAP_XK_REQUEST &&
            (x->state == COAP_XS_WAIT_ACK || x->state == COAP_XS_WAIT_RESP) && token_eq(x, m) &&
            coap_addr_cmp(&x->peer, peer) == 0)
            break;
    }
    if (x == NULL) {
        /* §5.3.2: a response we cannot match is rejected (CON) or ignored (NON). */
        ep->env->stats.unmatched++;
        if (m->type == COAP_TYPE_CON) {
            coap_ep_send_empty(ep, COAP_TYPE_RST, m->mid, peer);
            coap_dedup_set_reply(ep, peer, m->mid, COAP_DD_DONE, NULL, 0);
        }
        return;
    }
    if (m->type == COAP_TYPE_CON) {
        uint8_t ack[4] = {(COAP_VERSION << 6) | (COAP_TYPE_ACK << 4), 0, (uint8_t)(m->mid >> 8),
                          (uint8_t)m->mid};
        coap_ep_send(ep, ack, sizeof(ack), peer);
        uint8_t *copy = coap_ep_alloc(ep, sizeof(ack));
        if (copy != NULL)
            memcpy(copy, ack, sizeof(ack));
        coap_dedup_set_reply(ep, peer, m->mid, COAP_DD_DONE, copy, copy ? sizeof(ack) : 0);
    } else {
        coap_dedup_set_reply(ep, peer, m->mid, COAP_DD_DONE, NULL, 0);
    }
    on_answer(ep, x, m);
}

/* ---- time ----------------------------------------------------------------------------------- */

/* Handles one due exchange. Returns 1 when a callback ran (the list may have changed). */
static int expire_one(struct coap_endpoint *ep, struct coap_xchg *x, uint64_t now) {
    if (x->state == COAP_XS_WAIT_ACK && x->retx < ep->env->params.max_retransmit &&
        x->dgram != NULL) {
        x->retx++;
        x->timeout_ms *= 2;
        x->deadline = now + x->timeout_ms;
        ep->env->stats.retransmissions++;
        coap_ep_send(ep, x->dgram, x->dlen, &x->peer);
        return 0;
    }
    complete(ep, x, x->state == COAP_XS_NON_SENT ? 0 : LWM2M_ERR_TIMEOUT, NULL);
    return 1;
}

void coap_xchg_tick(struct coap_endpoint *ep, uint64_t now) {
    int again = 1;
    while (again && !ep->dying) {
        struct coap_xchg *x;
        again = 0;
        TAILQ_FOREACH(x, &ep->xchgs, link) {
            if (x->state != COAP_XS_QUEUED && x->deadline <= now && expire_one(ep, x, now)) {
                again = 1; /* a callback may have changed the list: rescan */
                break;
            }
        }
    }
}

uint64_t coap_xchg_deadline(const struct coap_endpoint *ep) {
    const struct coap_xchg *x;
    uint64_t best = 0;
    TAILQ_FOREACH(x, &ep->xchgs, link) {
        if (x->state != COAP_XS_QUEUED && (best == 0 || x->deadline < best))
            best = x->deadline;
    }
    return best;
}

void coap_xchg_free_all(struct coap_endpoint *ep) {
    struct coap_xchg *x;
    while ((x = TAILQ_FIRST(&ep->xchgs)) != NULL) {
        xchg_unlink(ep, x);
        xchg_free(ep, x);
    }
}
