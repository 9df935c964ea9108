/* SPDX-License-Identifier: Apache-2.0 */
/* Server side of the message layer: an incoming request goes through the option checks (4.02),
 * block-wise state and then the endpoint's handler, whose answer leaves piggy-backed, as a NON
 * response, or, when deferred past params.defer_ack_ms, after an empty ACK as a separate CON. */
#include "coap_endpoint_internal.h"

#include <stdio.h>
#include <string.h>

#include "lwm2m/error.h"

/* Critical options this layer, and the LwM2M engine above it, understand in a request. If-Match,
 * If-None-Match, Proxy-* and OSCORE are not among them: a request with them gets 4.02. */
static const uint16_t builtin_known[] = {
    COAP_OPT_URI_HOST, COAP_OPT_URI_PORT, COAP_OPT_URI_PATH, COAP_OPT_URI_QUERY,
    COAP_OPT_ACCEPT,   COAP_OPT_BLOCK2,   COAP_OPT_BLOCK1,
};

#define KNOWN_MAX 48

int coap_block_key(const struct coap_msg *req, char *out, size_t cap) {
    int n = snprintf(out, cap, "%u|", (unsigned)req->code);
    if (n < 0 || (size_t)n >= cap)
        return LWM2M_ERR_NOSPACE;
    int p = coap_msg_path(req, COAP_OPT_URI_PATH, out + n, cap - (size_t)n);
    if (p < 0)
        return LWM2M_ERR_NOSPACE;
    size_t len = (size_t)n + (size_t)p;
    char sep = '?';
    for (const struct coap_option *o = coap_msg_opt(req, COAP_OPT_URI_QUERY); o != NULL;
         o = coap_msg_opt_next(req, o)) {
        if (len + 1 + o->len + 1 > cap)
            return LWM2M_ERR_NOSPACE;
        out[len++] = sep;
        memcpy(out + len, o->val, o->len);
        len += o->len;
        sep = '&';
    }
    out[len] = '\0';
    return (int)len;
}

static uint16_t unknown_critical(const struct coap_endpoint *ep, const struct coap_msg *m) {
    uint16_t known[KNOWN_MAX];
    size_t n = sizeof(builtin_known) / sizeof(builtin_known[0]);
    memcpy(known, builtin_known, sizeof(builtin_known));
    for (size_t i = 0; i < ep->env->known_opts_n && n < KNOWN_MAX; i++)
        known[n++] = ep->env->known_opts[i];
    return coap_msg_unknown_critical(m, known, n);
}

/* ---- sending answers ------------------------------------------------------------------------ */

/* Sends an empty ACK for a CON request and remembers it for duplicates. */
static void send_empty_ack(struct coap_endpoint *ep, const struct coap_addr *peer, uint16_t mid) {
    coap_ep_send_empty(ep, COAP_TYPE_ACK, mid, peer);
    uint8_t *copy = coap_ep_alloc(ep, 4);
    if (copy != NULL) {
        copy[0] = (COAP_VERSION << 6) | (COAP_TYPE_ACK << 4);
        copy[1] = COAP_EMPTY;
        copy[2] = (uint8_t)(mid >> 8);
        copy[3] = (uint8_t)mid;
    }
    coap_dedup_set_reply(ep, peer, mid, COAP_DD_ACKED, copy, copy != NULL ? 4 : 0);
}

static void address_answer(struct coap_endpoint *ep, const struct coap_reply_to *rt,
                           struct coap_msg *out, int separate) {
    coap_msg_set_token(out, rt->token, rt->token_len);
    if (rt->has_block1) {
        coap_msg_del_opt(out, COAP_OPT_BLOCK1);
        coap_msg_add_opt_uint(out, COAP_OPT_BLOCK1, rt->block1);
    }
    if (rt->con && !separate) {
        out->type = COAP_TYPE_ACK;
        out->mid = rt->mid;
    } else {
        out->type = rt->con ? COAP_TYPE_CON : COAP_TYPE_NON;
        out->mid = coap_ep_next_mid(ep);
    }
}

int coap_server_send_msg(struct coap_endpoint *ep, const struct coap_reply_to *rt,
                         struct coap_msg *out, int separate) {
    address_answer(ep, rt, out, separate);
    uint8_t *d;
    size_t n;
    int rc = coap_ep_serialize(ep, out, &d, &n);
    if (rc != 0)
        return rc;
    if (separate)
        ep->env->stats.separate_tx++;
    if (out->type == COAP_TYPE_CON) /* separate CON response: retransmitted until ACKed */
        return coap_xchg_submit(ep, COAP_XK_SEPARATE, &rt->peer, out, d, n, NULL, NULL, NULL);
    coap_ep_send(ep, d, n, &rt->peer);
    if (out->type == COAP_TYPE_ACK) {
        coap_dedup_set_reply(ep, &rt->peer, rt->mid, COAP_DD_DONE, d, n);
    } else {
        coap_ep_free_mem(ep, d, n);
        coap_dedup_set_reply(ep, &rt->peer, rt->mid, COAP_DD_DONE, NULL, 0);
    }
    return 0;
}

int coap_server_send_answer(struct coap_endpoint *ep, const struct coap_reply_to *rt,
                            const struct coap_msg *resp, int separate) {
    struct coap_msg out;
    int rc = coap_block2_prepare(ep, rt, resp, &out);
    if (rc == 1) {
        out = *resp;
        if (rt->want_size2 && COAP_CODE_CLASS(out.code) == 2 &&
            coap_msg_opt(&out, COAP_OPT_SIZE2) == NULL)
            coap_msg_add_opt_uint(&out, COAP_OPT_SIZE2, (uint32_t)out.payload_len);
    } else if (rc == LWM2M_ERR_INVALID) /* the block asked for lies past the end of the body */
        coap_msg_init(&out, COAP_TYPE_ACK, COAP_402_BAD_OPTION, 0);
    else if (rc < 0)
        return rc;
    return coap_server_send_msg(ep, rt, &out, separate);
}

static void answer_code(struct coap_endpoint *ep, const struct coap_reply_to *rt, uint8_t code) {
    struct coap_msg m;
    coap_msg_init(&m, COAP_TYPE_ACK, code, 0);
    coap_server_send_answer(ep, rt, &m, 0);
}

void coap_server_bad_request(struct coap_endpoint *ep, const struct coap_msg *m,
                             const struct coap_addr *peer) {
    struct coap_msg r;
    uint8_t d[4 + COAP_MAX_TOKEN_LEN];
    coap_msg_init(&r, COAP_TYPE_ACK, COAP_400_BAD_REQUEST, m->mid);
    coap_msg_set_token(&r, m->token, m->token_len);
    int n = coap_serialize(&r, d, sizeof(d));
    if (n > 0) {
        ep->env->stats.bad_request++;
        coap_ep_send(ep, d, (size_t)n, peer);
    }
}

/* ---- incoming requests ---------------------------------------------------------------------- */

static void fill_reply_to(struct coap_endpoint *ep, struct coap_reply_to *rt,
                          const struct coap_msg *m, const struct coap_addr *peer) {
    memset(rt, 0, sizeof(*rt));
    rt->peer = *peer;
    rt->mid = m->mid;
    rt->con = m->type == COAP_TYPE_CON;
    rt->token_len = m->token_len;
    memcpy(rt->token, m->token, m->token_len);
    rt->szx = ep->env->params.block_szx;
    rt->want_size2 = coap_msg_opt(m, COAP_OPT_SIZE2) != NULL;
    if (coap_block_key(m, rt->key, sizeof(rt->key)) < 0)
        rt->key[0] = '\0'; /* too long to cache: follow-ups call the handler again */
}

/* Reads Block2 of the request into rt (size negotiation, RFC 7959 §2.4). Returns 0 or -1 for a
 * malformed option. */
static int read_block2(struct coap_endpoint *ep, const struct coap_msg *m,
                       struct coap_reply_to *rt) {
    struct coap_block b;
    int rc = coap_msg_block(m, COAP_OPT_BLOCK2, &b);
    if (rc <= 0)
        return rc;
    rt->szx = coap_block_negotiate(b.szx, ep->env->params.block_szx);
    /* Same byte offset, in units of the size we will actually use. */
    rt->block2_num = (uint32_t)(((uint64_t)b.num << (b.szx + 4)) >> (rt->szx + 4));
    return 0;
}

static void call_handler(struct coap_endpoint *ep, struct coap_serving *sv) {
    int rc = LWM2M_ERR_NOTFOUND;
    ep->serving = sv;
    if (ep->handler != NULL)
        rc = ep->handler(ep->handler_ctx, ep, sv->in);
    ep->serving = NULL;
    if (ep->dying || sv->answered)
        return;
    if (ep->handler == NULL) {
        answer_code(ep, &sv->rt, COAP_404_NOT_FOUND);
        return;
    }
    (void)rc; /* an error without an answer, or "deferred" without coap_defer(): 5.00 */
    ep->env->stats.handler_errors++;
    answer_code(ep, &sv->rt, COAP_500_INTERNAL_SERVER_ERROR);
}

void coap_server_on_request(struct coap_endpoint *ep, const struct coap_msg *m,
                            const struct coap_addr *peer) {
    struct coap_serving sv;
    memset(&sv, 0, sizeof(sv));
    fill_reply_to(ep, &sv.rt, m, peer);
    ep->env->stats.requests_rx++;
    if (unknown_critical(ep, m) != 0 || read_block2(ep, m, &sv.rt) != 0) {
        ep->env->stats.bad_option++;
        answer_code(ep, &sv.rt, COAP_402_BAD_OPTION);
        return;
    }
    if (sv.rt.block2_num > 0 && coap_block2_serve(ep, &sv.rt))
        return;
    const uint8_t *body = m->payload;
    size_t len = m->payload_len;
    int b1 = coap_block1_input(ep, m, &sv.rt, &body, &len);
    if (b1 == COAP_B1_ANSWERED)
        return;
    struct coap_incoming in = {m, peer, body, len};
    sv.in = &in;
    call_handler(ep, &sv);
    if (b1 == COAP_B1_COMPLETE && !ep->dying)
        coap_block1_release(ep, &sv.rt);
}

/* ---- answering: immediate and deferred ------------------------------------------------------ */

int coap_reply(struct coap_endpoint *ep, const struct coap_incoming *in,
               const struct coap_msg *resp) {
    if (ep == NULL || ep->serving == NULL || ep->serving->in != in || ep->serving->answered ||
        resp == NULL)
        return LWM2M_ERR_STATE;
    ep->serving->answered = 1;
    return coap_server_send_answer(ep, &ep->serving->rt, resp, 0);
}

int coap_defer(struct coap_endpoint *ep, const struct coap_incoming *in, uint32_t *handle) {
    if (ep == NULL || ep->serving == NULL || ep->serving->in != in || ep->serving->answered)
        return LWM2M_ERR_STATE;
    struct coap_deferred *df = coap_ep_alloc(ep, sizeof(*df));
    if (df == NULL)
        return LWM2M_ERR_NOMEM;
    memset(df, 0, sizeof(*df));
    df->id = coap_ep_next_id(ep);
    df->rt = ep->serving->rt;
    if (df->rt.con)
        df->ack_deadline = coap_ep_now(ep) + ep->env->params.defer_ack_ms;
    TAILQ_INSERT_TAIL(&ep->deferred, df, link);
    ep->serving->answered = 2;
    if (handle != NULL)
        *handle = df->id;
    return 0;
}

static void deferred_free(struct coap_endpoint *ep, struct coap_deferred *df) {
    TAILQ_REMOVE(&ep->deferred, df, link);
    coap_ep_free_mem(ep, df, sizeof(*df));
}

static void ack_now(struct coap_endpoint *ep, struct coap_deferred *df) {
    send_empty_ack(ep, &df->rt.peer, df->rt.mid);
    df->ack_sent = 1;
    df->ack_deadline = 0;
}

int coap_respond(struct coap_endpoint *ep, uint32_t handle, const struct coap_msg *resp) {
    struct coap_deferred *df;
    if (ep == NULL || ep->dying)
        return LWM2M_ERR_NOTFOUND;
    TAILQ_FOREACH(df, &ep->deferred, link) {
        if (df->id == handle)
            break;
    }
    if (df == NULL)
        return LWM2M_ERR_NOTFOUND;
    int rc = 0;
    coap_ep_enter(ep);
    if (resp == NULL) {
        if (df->rt.con && !df->ack_sent)
            ack_now(ep, df);
    } else {
        rc = coap_server_send_answer(ep, &df->rt, resp, df->ack_sent || !df->rt.con);
    }
    deferred_free(ep, df);
    coap_ep_leave(ep);
    return rc;
}

void coap_server_ack_deferred(struct coap_endpoint *ep, const struct coap_addr *peer,
                              uint16_t mid) {
    struct coap_deferred *df;
    TAILQ_FOREACH(df, &ep->deferred, link) {
        if (df->rt.con && df->rt.mid == mid && coap_addr_cmp(&df->rt.peer, peer) == 0) {
            if (!df->ack_sent)
                ack_now(ep, df);
            return;
        }
    }
    send_empty_ack(ep, peer, mid); /* no answer is coming: at least stop the retransmissions */
}

void coap_server_tick(struct coap_endpoint *ep, uint64_t now) {
    struct coap_deferred *df;
    TAILQ_FOREACH(df, &ep->deferred, link) {
        if (df->ack_deadline != 0 && df->ack_deadline <= now)
            ack_now(ep, df);
    }
}

uint64_t coap_server_deadline(const struct coap_endpoint *ep) {
    const struct coap_deferred *df;
    uint64_t best = 0;
    TAILQ_FOREACH(df, &ep->deferred, link) {
        if (df->ack_deadline != 0 && (best == 0 || df->ack_deadline < best))
            best = df->ack_deadline;
    }
    return best;
}

void coap_server_free_all(struct coap_endpoint *ep) {
    struct coap_deferred *df;
    while ((df = TAILQ_FIRST(&ep->deferred)) != NULL)
        deferred_free(ep, df);
}
