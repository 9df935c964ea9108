/* SPDX-License-Identifier: Apache-2.0 */
/* Server-side block-wise transfers (RFC 7959): Block2 slicing of large answers, served to the
 * follow-up requests from a copy of the body (with an ETag) instead of calling the handler again,
 * and Block1 reassembly of large request bodies (2.31 / 4.08 / 4.13) before the handler sees them.
 * Both kinds of state are bounded per endpoint and expire after params.block_lifetime_ms. */
#include "coap_endpoint_internal.h"

#include <stdlib.h>
#include <string.h>

#include "lwm2m/error.h"

/* ---- Block2 --------------------------------------------------------------------------------- */

static size_t b2_size(const struct coap_b2 *b) {
    return sizeof(*b) + strlen(b->key) + 1 + b->head_len + b->len;
}

static void b2_free(struct coap_endpoint *ep, struct coap_b2 *b) {
    TAILQ_REMOVE(&ep->b2, b, link);
    ep->n_b2--;
    coap_ep_free_mem(ep, b, b2_size(b));
}

static struct coap_b2 *b2_find(struct coap_endpoint *ep, const struct coap_addr *peer,
                               const char *key) {
    struct coap_b2 *b;
    TAILQ_FOREACH(b, &ep->b2, link) {
        if (strcmp(b->key, key) == 0 && coap_addr_cmp(&b->peer, peer) == 0)
            return b;
    }
    return NULL;
}

/* Keeps resp's body and head (options without Observe, which only the first block carries)
 * under (peer, key), replacing an older copy. Returns the entry or NULL (counted). */
static struct coap_b2 *b2_store(struct coap_endpoint *ep, const struct coap_reply_to *rt,
                                const struct coap_msg *resp, const uint8_t etag[4]) {
    struct coap_b2 *b = b2_find(ep, &rt->peer, rt->key);
    if (b != NULL)
        b2_free(ep, b);
    if (ep->n_b2 >= ep->env->params.block_transfers_max && ep->n_b2 > 0)
        b2_free(ep, TAILQ_FIRST(&ep->b2));
    struct coap_msg head = *resp;
    coap_msg_del_opt(&head, COAP_OPT_OBSERVE);
    coap_msg_set_payload(&head, NULL, 0);
    size_t head_len = coap_serialized_size(&head), key_len = strlen(rt->key) + 1;
    b = coap_ep_alloc(ep, sizeof(*b) + key_len + head_len + resp->payload_len);
    if (b == NULL)
        return NULL;
    memset(b, 0, sizeof(*b));
    memcpy(b->key, rt->key, key_len);
    b->head = (uint8_t *)b->key + key_len;
    b->body = b->head + head_len;
    b->head_len = (size_t)coap_serialize(&head, b->head, head_len);
    b->len = resp->payload_len;
    memcpy(b->body, resp->payload, resp->payload_len);
    memcpy(b->etag, etag, 4);
    b->peer = rt->peer;
    b->expiry = coap_ep_now(ep) + ep->env->params.block_lifetime_ms;
    TAILQ_INSERT_TAIL(&ep->b2, b, link);
    ep->n_b2++;
    return b;
}

/* Adds Block2, Size2, the ETag (unless the answer has one) and the payload slice to m. The ETag
 * bytes are copied into m's scratch so that m does not borrow from the caller's stack. Returns 0,
 * LWM2M_ERR_INVALID when the block is past the end, or LWM2M_ERR_NOSPACE. Sets *more. */
static int add_block(struct coap_msg *m, const uint8_t *body, size_t total,
                     const struct coap_reply_to *rt, const uint8_t etag[4], uint8_t *more) {
    size_t off, len;
    if (coap_block_slice(total, rt->block2_num, rt->szx, &off, &len, more) != 0)
        return LWM2M_ERR_INVALID;
    struct coap_block blk = {rt->block2_num, *more, rt->szx};
    coap_msg_del_opt(m, COAP_OPT_BLOCK2);
    coap_msg_del_opt(m, COAP_OPT_SIZE2);
    if (coap_msg_add_opt_uint(m, COAP_OPT_BLOCK2, coap_block_encode(&blk)) != 0 ||
        coap_msg_add_opt_uint(m, COAP_OPT_SIZE2, (uint32_t)total) != 0)
        return LWM2M_ERR_NOSPACE;
    if (coap_msg_opt(m, COAP_OPT_ETAG) == NULL) {
        if (COAP_OPT_SCRATCH_LEN - m->scratch_used < 4)
            return LWM2M_ERR_NOSPACE;
        uint8_t *dst = m->scratch + m->scratch_used;
        memcpy(dst, etag, 4);
        m->scratch_used += 4;
        if (coap_msg_add_opt(m, COAP_OPT_ETAG, dst, 4) != 0)
            return LWM2M_ERR_NOSPACE;
    }
    coap_msg_set_payload(m, body + off, len);
    return 0;
}

int coap_block2_prepare(struct coap_endpoint *ep, const struct coap_reply_to *rt,
                        const struct coap_msg *resp, struct coap_msg *out) {
    /* Only success answers are sliced: an error carries no ETag to reassemble by (RFC 7252
     * §5.10.6), and its diagnostic payload is short. */
    if (COAP_CODE_CLASS(resp->code) != 2 ||
        (resp->payload_len <= COAP_BLOCK_SIZE(rt->szx) && rt->block2_num == 0))
        return 1;
    uint8_t etag[4];
    const struct coap_option *own = coap_msg_opt(resp, COAP_OPT_ETAG);
    if (own == NULL && ep->env->rng(ep->env->rng_ctx, etag, sizeof(etag)) != 0)
        memset(etag, 0, sizeof(etag));
    struct coap_b2 *b = NULL;
    if (rt->key[0] != '\0')
        b = b2_store(ep, rt, resp, etag);
    *out = *resp;
    uint8_t more = 0;
    int rc = add_block(out, resp->payload, resp->payload_len, rt, etag, &more);
    if (b != NULL && (rc != 0 || !more))
        b2_free(ep, b); /* nothing left to follow up on */
    if (rc == 0)
        ep->env->stats.block2_tx++;
    return rc;
}

int coap_block2_serve(struct coap_endpoint *ep, const struct coap_reply_to *rt) {
    if (rt->key[0] == '\0')
        return 0;
    struct coap_b2 *b = b2_find(ep, &rt->peer, rt->key);
    struct coap_msg m;
    if (b == NULL || coap_parse(&m, b->head, b->head_len) != 0)
        return 0;
    uint8_t more = 0;
    int rc = add_block(&m, b->body, b->len, rt, b->etag, &more);
    if (rc == LWM2M_ERR_INVALID)
        coap_msg_init(&m, COAP_TYPE_ACK, COAP_402_BAD_OPTION, 0);
    else if (rc != 0)
        return 0;
    else
        ep->env->stats.block2_tx++;
    b->expiry = coap_ep_now(ep) + ep->env->params.block_lifetime_ms;
    coap_server_send_msg(ep, rt, &m, 0);
    if (rc == 0 && !more)
        b2_free(ep, b); /* the last block went out: the transfer is over */
    return 1;
}

/* ---- Block1 --------------------------------------------------------------------------------- */

static void b1_free(struct coap_endpoint *ep, struct coap_b1 *t) {
    TAILQ_REMOVE(&ep->b1, t, link);
    ep->n_b1--;
    coap_ep_free_mem(ep, t->buf, t->cap);
    coap_ep_free_mem(ep, t, sizeof(*t));
}

static struct coap_b1 *b1_find(struct coap_endpoint *ep, const struct coap_reply_to *rt) {
    struct coap_b1 *t;
    TAILQ_FOREACH(t, &ep->b1, link) {
        if (strcmp(t->key, rt->key) == 0 && coap_addr_cmp(&t->peer, &rt->peer) == 0)
            return t;
    }
    return NULL;
}

static struct coap_b1 *b1_new(struct coap_endpoint *ep, const struct coap_reply_to *rt) {
    if (ep->n_b1 >= ep->env->params.block_transfers_max && ep->n_b1 > 0)
        b1_free(ep, TAILQ_FIRST(&ep->b1));
    struct coap_b1 *t = coap_ep_alloc(ep, sizeof(*t));
    if (t == NULL)
        return NULL;
    memset(t, 0, sizeof(*t));
    t->peer = rt->peer;
    memcpy(t->key, rt->key, sizeof(t->key));
    TAILQ_INSERT_TAIL(&ep->b1, t, link);
    ep->n_b1++;
    return t;
}

static int b1_append(struct coap_endpoint *ep, struct coap_b1 *t, const uint8_t *p, size_t n) {
    if (t->len + n > t->cap) {
        size_t cap = t->cap ? t->cap : 1024;
        while (cap < t->len + n)
            cap *= 2;
        uint8_t *buf = realloc(t->buf, cap);
        if (buf == NULL) {
            ep->env->stats.nomem++;
            return LWM2M_ERR_NOMEM;
        }
        ep->mem += cap - t->cap;
        t->buf = buf;
        t->cap = cap;
    }
    if (n > 0)
        memcpy(t->buf + t->len, p, n);
    t->len += n;
    return 0;
}

static int answer(struct coap_endpoint *ep, const struct coap_reply_to *rt, uint8_t code,
                  uint32_t size1) {
    struct coap_msg m;
    coap_msg_init(&m, COAP_TYPE_ACK, code, 0);
    if (size1 != 0)
        coap_msg_add_opt_uint(&m, COAP_OPT_SIZE1, size1);
    if (code == COAP_408_REQUEST_ENTITY_INCOMPLETE || code == COAP_413_REQUEST_ENTITY_TOO_LARGE)
        ep->env->stats.block1_errors++;
    coap_server_send_answer(ep, rt, &m, 0);
    return COAP_B1_ANSWERED;
}

/* A request without Block1: only the size limit applies (Size1 announces it, §4). */
static int plain_body(struct coap_endpoint *ep, const struct coap_msg *m,
                      const struct coap_reply_to *rt) {
    uint32_t max = ep->env->params.max_body, size1;
    if ((coap_msg_opt_uint(m, COAP_OPT_SIZE1, &size1) == 0 && size1 > max) || m->payload_len > max)
        return answer(ep, rt, COAP_413_REQUEST_ENTITY_TOO_LARGE, max);
    return COAP_B1_PASS;
}

/* Finds or starts the transfer the block belongs to; answers 4.08/4.13 when it cannot. */
static struct coap_b1 *b1_locate(struct coap_endpoint *ep, const struct coap_msg *m,
                                 const struct coap_reply_to *rt, const struct coap_block *b) {
    uint32_t max = ep->env->params.max_body, size1;
    struct coap_b1 *t = b1_find(ep, rt);
    if (b->num == 0) {
        if (t != NULL)
            b1_free(ep, t); /* a restart replaces whatever was there */
        if (coap_msg_opt_uint(m, COAP_OPT_SIZE1, &size1) == 0 && size1 > max) {
            answer(ep, rt, COAP_413_REQUEST_ENTITY_TOO_LARGE, max);
            return NULL;
        }
        t = b1_new(ep, rt);
        if (t == NULL)
            answer(ep, rt, COAP_503_SERVICE_UNAVAILABLE, 0);
        return t;
    }
    /* The block must start exactly where the received bytes end (sizes may have shrunk). */
    if (t == NULL || (uint64_t)b->num * COAP_BLOCK_SIZE(b->szx) != t->len) {
        if (t != NULL)
            b1_free(ep, t);
        answer(ep, rt, COAP_408_REQUEST_ENTITY_INCOMPLETE, 0);
        return NULL;
    }
    return t;
}

int coap_block1_input(struct coap_endpoint *ep, const struct coap_msg *m, struct coap_reply_to *rt,
                      const uint8_t **body, size_t *len) {
    struct coap_block b;
    int rc = coap_msg_block(m, COAP_OPT_BLOCK1, &b);
    if (rc == 0)
        return plain_body(ep, m, rt);
    if (rc < 0 || (b.more && m->payload_len != COAP_BLOCK_SIZE(b.szx)))
        return answer(ep, rt, rc < 0 ? COAP_402_BAD_OPTION : COAP_400_BAD_REQUEST, 0);
    ep->env->stats.block1_rx++;
    struct coap_block echo = {b.num, b.more,
                              coap_block_negotiate(b.szx, ep->env->params.block_szx)};
    if (b.num == 0 && !b.more) { /* the whole body in one block: nothing to keep */
        int r = plain_body(ep, m, rt);
        rt->has_block1 = 1;
        rt->block1 = coap_block_encode(&echo);
        return r;
    }
    struct coap_b1 *t = b1_locate(ep, m, rt, &b);
    if (t == NULL)
        return COAP_B1_ANSWERED;
    if (t->len + m->payload_len > ep->env->params.max_body) {
        b1_free(ep, t);
        return answer(ep, rt, COAP_413_REQUEST_ENTITY_TOO_LARGE, ep->env->params.max_body);
    }
    if (b1_append(ep, t, m->payload, m->payload_len) != 0) {
        b1_free(ep, t);
        return answer(ep, rt, COAP_503_SERVICE_UNAVAILABLE, 0);
    }
    t->expiry = coap_ep_now(ep) + ep->env->params.block_lifetime_ms;
    rt->has_block1 = 1;
    rt->block1 = coap_block_encode(&echo);
    if (b.more)
        return answer(ep, rt, COAP_231_CONTINUE, 0);
    *body = t->buf;
    *len = t->len;
    return COAP_B1_COMPLETE;
}

void coap_block1_release(struct coap_endpoint *ep, const struct coap_reply_to *rt) {
    struct coap_b1 *t = b1_find(ep, rt);
    if (t != NULL)
        b1_free(ep, t);
}

/* ---- time ----------------------------------------------------------------------------------- */

void coap_block_tick(struct coap_endpoint *ep, uint64_t now) {
    struct coap_b2 *b, *bn;
    struct coap_b1 *t, *tn;
    for (b = TAILQ_FIRST(&ep->b2); b != NULL; b = bn) {
        bn = TAILQ_NEXT(b, link);
        if (b->expiry <= now)
            b2_free(ep, b);
    }
    for (t = TAILQ_FIRST(&ep->b1); t != NULL; t = tn) {
        tn = TAILQ_NEXT(t, link);
        if (t->expiry <= now)
            b1_free(ep, t);
    }
}

uint64_t coap_block_deadline(const struct coap_endpoint *ep) {
    const struct coap_b2 *b;
    const struct coap_b1 *t;
    uint64_t best = 0;
    TAILQ_FOREACH(b, &ep->b2, link) {
        if (best == 0 || b->expiry < best)
            best = b->expiry;
    }
    TAILQ_FOREACH(t, &ep->b1, link) {
        if (best == 0 || t->expiry < best)
            best = t->expiry;
    }
    return best;
}

void coap_block_free_all(struct coap_endpoint *ep) {
    while (!TAILQ_EMPTY(&ep->b2))
        b2_free(ep, TAILQ_FIRST(&ep->b2));
    while (!TAILQ_EMPTY(&ep->b1))
        b1_free(ep, TAILQ_FIRST(&ep->b1));
}
