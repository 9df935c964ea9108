/* SPDX-License-Identifier: Apache-2.0 */
/* Deduplication of incoming CON and NON messages by (peer, message ID) for EXCHANGE_LIFETIME /
 * NON_LIFETIME (RFC 7252 §4.5): a duplicate CON gets the reply it got before, a duplicate NON is
 * dropped, and the handler never sees either twice. Bounded per endpoint, expired by the timer. */
#include "coap_endpoint_internal.h"

#include <string.h>

static void entry_free(struct coap_endpoint *ep, struct coap_dedup *d) {
    TAILQ_REMOVE(&ep->dedup, d, link);
    ep->n_dedup--;
    coap_ep_free_mem(ep, d->reply, d->reply_len);
    coap_ep_free_mem(ep, d, sizeof(*d));
}

struct coap_dedup *coap_dedup_find(struct coap_endpoint *ep, const struct coap_addr *peer,
                                   uint16_t mid) {
    struct coap_dedup *d;
    /* Newest first: a retransmission usually follows its original closely. */
    TAILQ_FOREACH_REVERSE(d, &ep->dedup, coap_dedup_list, link) {
        if (d->mid == mid && coap_addr_cmp(&d->peer, peer) == 0)
            return d;
    }
    return NULL;
}

static void on_duplicate(struct coap_endpoint *ep, struct coap_dedup *d,
                         const struct coap_addr *peer) {
    ep->env->stats.duplicates++;
    if (!d->con)
        return;
    if (d->reply != NULL) {
        coap_ep_send(ep, d->reply, d->reply_len, peer);
        return;
    }
    if (d->state == COAP_DD_NEW) {
        /* The answer is still being prepared: acknowledge now so that the peer stops
         * retransmitting; the answer then goes as a separate response. */
        coap_server_ack_deferred(ep, peer, d->mid);
    }
}

int coap_dedup_check(struct coap_endpoint *ep, const struct coap_msg *m,
                     const struct coap_addr *peer) {
    struct coap_dedup *d = coap_dedup_find(ep, peer, m->mid);
    if (d != NULL && d->con == (m->type == COAP_TYPE_CON)) {
        on_duplicate(ep, d, peer);
        return 1;
    }
    if (d != NULL)
        entry_free(ep, d); /* same MID, other type: a new message after all */
    const struct coap_params *p = &ep->env->params;
    if (p->dedup_max == 0)
        return 0;
    if (ep->n_dedup >= p->dedup_max) {
        ep->env->stats.dedup_evicted++;
        entry_free(ep, TAILQ_FIRST(&ep->dedup));
    }
    d = coap_ep_alloc(ep, sizeof(*d));
    if (d == NULL)
        return 0; /* counted; the message is still handled, just not deduplicated */
    memset(d, 0, sizeof(*d));
    d->peer = *peer;
    d->mid = m->mid;
    d->con = m->type == COAP_TYPE_CON;
    d->state = COAP_DD_NEW;
    d->expiry = coap_ep_now(ep) + (d->con ? p->exchange_lifetime_ms : p->non_lifetime_ms);
    TAILQ_INSERT_TAIL(&ep->dedup, d, link);
    ep->n_dedup++;
    return 0;
}

void coap_dedup_set_reply(struct coap_endpoint *ep, const struct coap_addr *peer, uint16_t mid,
                          uint8_t state, uint8_t *reply, size_t len) {
    struct coap_dedup *d = coap_dedup_find(ep, peer, mid);
    if (d == NULL || !d->con) {
        coap_ep_free_mem(ep, reply, len);
        if (d != NULL)
            d->state = state;
        return;
    }
    coap_ep_free_mem(ep, d->reply, d->reply_len);
    d->reply = reply;
    d->reply_len = reply != NULL ? len : 0;
    d->state = state;
}

void coap_dedup_tick(struct coap_endpoint *ep, uint64_t now) {
    struct coap_dedup *d, *next;
    for (d = TAILQ_FIRST(&ep->dedup); d != NULL; d = next) {
        next = TAILQ_NEXT(d, link);
        if (d->expiry <= now)
            entry_free(ep, d);
    }
}

uint64_t coap_dedup_deadline(const struct coap_endpoint *ep) {
    const struct coap_dedup *d;
    uint64_t best = 0;
    TAILQ_FOREACH(d, &ep->dedup, link) {
        if (best == 0 || d->expiry < best)
            best = d->expiry;
    }
    return best;
}

void coap_dedup_free_all(struct coap_endpoint *ep) {
    struct coap_dedup *d;
    while ((d = TAILQ_FIRST(&ep->dedup)) != NULL)
        entry_free(ep, d);
}
