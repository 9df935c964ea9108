/* SPDX-License-Identifier: Apache-2.0 */
/* Observe notifications (RFC 7641) on the message layer: the Observe sequence, the observation's
 * token, CON/NON delivery through the exchange code (whose RST and timeout outcomes let the owner
 * end the observation) and Block2 for notifications larger than one block (§2.6 of RFC 7959). */
#include "coap_endpoint_internal.h"

#include <string.h>

#include "lwm2m/error.h"

static int notify_valid(const struct coap_endpoint *ep, const struct coap_observation *obs,
                        const struct coap_msg *msg) {
    return ep != NULL && !ep->dying && obs != NULL && msg != NULL && obs->peer.len != 0 &&
           obs->token_len <= COAP_MAX_TOKEN_LEN &&
           (msg->type == COAP_TYPE_CON || msg->type == COAP_TYPE_NON) &&
           COAP_CODE_CLASS(msg->code) >= 2 && memchr(obs->block_key, '\0', sizeof(obs->block_key));
}

/* *dst = *src, copying only the options in use: a struct copy moves all COAP_MAX_OPTIONS slots
 * (about 750 bytes) and this runs once per notification. Option values keep pointing where src's
 * did (its scratch included), exactly as after a struct copy; src outlives the call. */
static void notify_msg_copy(struct coap_msg *dst, const struct coap_msg *src) {
    dst->type = src->type;
    dst->code = src->code;
    dst->mid = src->mid;
    dst->token_len = src->token_len;
    memcpy(dst->token, src->token, sizeof(dst->token));
    dst->opt_count = src->opt_count;
    memcpy(dst->opts, src->opts, src->opt_count * sizeof(src->opts[0]));
    dst->payload = src->payload;
    dst->payload_len = src->payload_len;
    dst->scratch_used = src->scratch_used;
}

int coap_notify(struct coap_endpoint *ep, struct coap_observation *obs, const struct coap_msg *msg,
                coap_done_fn cb, void *ctx, uint32_t *id) {
    if (!notify_valid(ep, obs, msg))
        return LWM2M_ERR_INVALID;
    struct coap_reply_to rt;
    memset(&rt, 0, sizeof(rt));
    rt.peer = obs->peer;
    rt.szx = ep->env->params.block_szx;
    memcpy(rt.key, obs->block_key, strlen(obs->block_key) + 1);
    struct coap_msg m, out, *o = &out;
    notify_msg_copy(&m, msg);
    coap_msg_del_opt(&m, COAP_OPT_OBSERVE);
    /* An error response ends the observation and carries no Observe option (RFC 7641 §4.2). */
    if (COAP_CODE_CLASS(msg->code) == 2) {
        obs->seq = coap_observe_next(obs->seq);
        if (coap_msg_add_opt_uint(&m, COAP_OPT_OBSERVE, obs->seq) != 0)
            return LWM2M_ERR_INVALID;
    }
    coap_ep_enter(ep);
    int rc = coap_block2_prepare(ep, &rt, &m, &out);
    if (rc == 1) {
        o = &m; /* fits one datagram: sent as is, no copy */
        rc = 0;
    }
    uint8_t *d = NULL;
    size_t n = 0;
    if (rc == 0) {
        o->type = msg->type;
        o->mid = coap_ep_next_mid(ep);
        coap_msg_set_token(o, obs->token, obs->token_len);
        rc = coap_ep_serialize(ep, o, &d, &n);
    }
    if (rc == 0)
        rc = coap_xchg_submit(ep, COAP_XK_NOTIFY, &obs->peer, o, d, n, cb, ctx, id);
    if (rc == 0)
        ep->env->stats.notifications_tx++;
    coap_ep_leave(ep);
    return rc;
}
