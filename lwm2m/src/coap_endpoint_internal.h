/* SPDX-License-Identifier: Apache-2.0 */
/* Private state of the CoAP message layer, shared by its files: the endpoint, outgoing exchanges
 * (coap_exchange.c), the deduplication cache (coap_dedup.c), request serving and deferred answers
 * (coap_server.c) and block-wise transfer state (coap_blockwise.c; our own requests:
 * coap_client_block.c). Not a public header. */
#ifndef LWM2M_COAP_ENDPOINT_INTERNAL_H
#define LWM2M_COAP_ENDPOINT_INTERNAL_H

#include <sys/queue.h>

#include "lwm2m/coap_endpoint.h"

struct event;

/* ---- outgoing exchanges --------------------------------------------------------------------- */

struct coap_cblk; /* a Block1 transfer of one of our requests (coap_client_block.c) */

enum coap_xkind { COAP_XK_REQUEST, COAP_XK_PING, COAP_XK_NOTIFY, COAP_XK_SEPARATE };

enum coap_xstate {
    COAP_XS_QUEUED,    /* waiting for the peer's NSTART slot */
    COAP_XS_WAIT_ACK,  /* CON sent, retransmitting until ACK/RST */
    COAP_XS_WAIT_RESP, /* request: empty ACK received (CON) or NON sent; waiting for the response */
    COAP_XS_NON_SENT,  /* NON notification: listening for a RST for one ACK_TIMEOUT */
};

struct coap_xchg {
    TAILQ_ENTRY(coap_xchg) link; /* ep->xchgs, in creation order (the NSTART FIFO) */
    uint32_t id;
    uint8_t kind;  /* enum coap_xkind */
    uint8_t state; /* enum coap_xstate */
    uint8_t con;
    uint8_t retx;
    uint8_t token_len;
    uint8_t token[COAP_MAX_TOKEN_LEN];
    uint16_t mid;
    uint32_t timeout_ms; /* current retransmission timeout */
    uint64_t deadline;   /* 0 while queued */
    struct coap_addr peer;
    coap_done_fn cb;
    void *ctx;
    size_t dlen;
    uint8_t *dgram;        /* owned; freed once no retransmission can follow */
    struct coap_cblk *blk; /* owned: Block1 state of a request body larger than a block, or NULL */
};

/* ---- deduplication -------------------------------------------------------------------------- */

enum coap_dstate {
    COAP_DD_NEW,   /* seen, no reply sent yet (handler running or deferred) */
    COAP_DD_ACKED, /* empty ACK sent for a deferred CON: duplicates get it again */
    COAP_DD_DONE,  /* reply sent: duplicates get it again (CON) or are dropped (NON) */
};

struct coap_dedup {
    TAILQ_ENTRY(coap_dedup) link; /* ep->dedup, oldest first */
    struct coap_addr peer;
    uint16_t mid;
    uint8_t con;
    uint8_t state; /* enum coap_dstate */
    uint64_t expiry;
    size_t reply_len;
    uint8_t *reply; /* owned: the datagram replayed to a duplicate CON */
};

/* ---- server side ---------------------------------------------------------------------------- */

/* Where and how an answer goes: what a request leaves behind for its reply. */
struct coap_reply_to {
    struct coap_addr peer;
    uint16_t mid;
    uint8_t con;
    uint8_t token_len;
    uint8_t token[COAP_MAX_TOKEN_LEN];
    uint8_t szx;         /* negotiated Block2 size for the answer */
    uint8_t has_block1;  /* echo block1 in the final answer */
    uint8_t want_size2;  /* the request carried Size2 (RFC 7959 §4): tell the body's size */
    uint32_t block1;     /* encoded Block1 value to echo */
    uint32_t block2_num; /* block asked for, in units of szx */
    char key[96];        /* Block2 cache key, "" when none */
};

struct coap_deferred {
    TAILQ_ENTRY(coap_deferred) link;
    uint32_t id;
    uint8_t ack_sent;      /* the empty ACK is out: the answer goes as a separate response */
    uint64_t ack_deadline; /* when to send the empty ACK (CON only), 0 when not due */
    struct coap_reply_to rt;
};

/* The request being handled, on the stack of coap_server.c while the handler runs. */
struct coap_serving {
    const struct coap_incoming *in;
    struct coap_reply_to rt;
    uint8_t answered;
};

/* ---- block-wise transfers ------------------------------------------------------------------- */

struct coap_b2 { /* a large answer kept for Block2 follow-ups; one allocation */
    TAILQ_ENTRY(coap_b2) link;
    struct coap_addr peer;
    uint64_t expiry;
    uint8_t etag[4];
    size_t len;      /* body length */
    size_t head_len; /* serialized answer head: header, token, options, no payload */
    uint8_t *body;   /* points into this allocation */
    uint8_t *head;   /* likewise */
    char key[];      /* likewise, NUL-terminated */
};

struct coap_b1 { /* an incoming Block1 transfer being reassembled */
    TAILQ_ENTRY(coap_b1) link;
    struct coap_addr peer;
    uint64_t expiry;
    size_t len, cap;
    uint8_t *buf;
    char key[96];
};

/* ---- the endpoint --------------------------------------------------------------------------- */

struct coap_endpoint {
    struct coap_env *env;      /* borrowed */
    struct coap_transport *tp; /* borrowed */
    coap_handler_fn handler;
    void *handler_ctx;
    struct event *timer; /* created on first use when env->base is set */
    uint64_t armed;      /* deadline the timer is armed for, 0 when disarmed */
    TAILQ_HEAD(coap_xchg_list, coap_xchg) xchgs;
    TAILQ_HEAD(coap_dedup_list, coap_dedup) dedup;
    TAILQ_HEAD(coap_deferred_list, coap_deferred) deferred;
    TAILQ_HEAD(coap_b2_list, coap_b2) b2;
    TAILQ_HEAD(coap_b1_list, coap_b1) b1;
    struct coap_serving *serving; /* set while a handler runs */
    size_t mem;                   /* heap bytes held beyond the struct */
    uint32_t next_id;
    uint16_t next_mid;
    uint16_t n_dedup;
    uint16_t n_xchg;
    uint8_t n_b1, n_b2;
    uint8_t depth; /* nesting of layer code that may call back into the owner */
    uint8_t dying; /* coap_endpoint_free() was called while depth > 0 */
};

/* coap_endpoint.c */
uint64_t coap_ep_now(const struct coap_endpoint *ep);
void coap_ep_enter(struct coap_endpoint *ep);
/* Ends a section begun by coap_ep_enter(): re-arms the timer, or completes a pending free.
 * Returns nonzero when the endpoint is gone (or going) and the caller must not touch it. */
int coap_ep_leave(struct coap_endpoint *ep);
/* Sends one datagram and counts it. */
void coap_ep_send(struct coap_endpoint *ep, const uint8_t *data, size_t len,
                  const struct coap_addr *to);
/* Serializes m into a new heap buffer (caller frees). Returns 0 or LWM2M_ERR_NOMEM/INVALID. */
int coap_ep_serialize(struct coap_endpoint *ep, const struct coap_msg *m, uint8_t **out,
                      size_t *len);
uint16_t coap_ep_next_mid(struct coap_endpoint *ep);
uint32_t coap_ep_next_id(struct coap_endpoint *ep);
void *coap_ep_alloc(struct coap_endpoint *ep, size_t n);
void coap_ep_free_mem(struct coap_endpoint *ep, void *p, size_t n);
/* Sends an empty ACK or RST for mid. */
void coap_ep_send_empty(struct coap_endpoint *ep, uint8_t type, uint16_t mid,
                        const struct coap_addr *to);

/* coap_exchange.c */
void coap_xchg_on_ack(struct coap_endpoint *ep, const struct coap_msg *m,
                      const struct coap_addr *peer);
void coap_xchg_on_rst(struct coap_endpoint *ep, const struct coap_msg *m,
                      const struct coap_addr *peer);
void coap_xchg_on_response(struct coap_endpoint *ep, const struct coap_msg *m,
                           const struct coap_addr *peer);
/* Queues an outgoing CON/NON datagram (ownership of dgram passes). Returns 0 or an error (dgram
 * freed). */
int coap_xchg_submit(struct coap_endpoint *ep, uint8_t kind, const struct coap_addr *peer,
                     const struct coap_msg *m, uint8_t *dgram, size_t dlen, coap_done_fn cb,
                     void *ctx, uint32_t *id);
void coap_xchg_tick(struct coap_endpoint *ep, uint64_t now);
uint64_t coap_xchg_deadline(const struct coap_endpoint *ep);
void coap_xchg_free_all(struct coap_endpoint *ep);

/* coap_dedup.c */
/* Looks up (peer, mid). A duplicate is answered (replay, or empty ACK for a pending CON, which
 * then marks its deferred request as acknowledged) and 1 is returned. Otherwise the message is
 * remembered (evicting the oldest entry when full) and 0 returned. */
int coap_dedup_check(struct coap_endpoint *ep, const struct coap_msg *m,
                     const struct coap_addr *peer);
struct coap_dedup *coap_dedup_find(struct coap_endpoint *ep, const struct coap_addr *peer,
                                   uint16_t mid);
/* Records the reply sent for (peer, mid) so that duplicates get it again; takes ownership of
 * reply (NULL: nothing to replay). */
void coap_dedup_set_reply(struct coap_endpoint *ep, const struct coap_addr *peer, uint16_t mid,
                          uint8_t state, uint8_t *reply, size_t len);
void coap_dedup_tick(struct coap_endpoint *ep, uint64_t now);
uint64_t coap_dedup_deadline(const struct coap_endpoint *ep);
void coap_dedup_free_all(struct coap_endpoint *ep);

/* coap_server.c */
void coap_server_on_request(struct coap_endpoint *ep, const struct coap_msg *m,
                            const struct coap_addr *peer);
/* Answers a malformed CON request with 4.00 (header and token readable). */
void coap_server_bad_request(struct coap_endpoint *ep, const struct coap_msg *m,
                             const struct coap_addr *peer);
/* Sends the empty ACK of a deferred CON request now (a duplicate arrived). */
void coap_server_ack_deferred(struct coap_endpoint *ep, const struct coap_addr *peer, uint16_t mid);
void coap_server_tick(struct coap_endpoint *ep, uint64_t now);
uint64_t coap_server_deadline(const struct coap_endpoint *ep);
void coap_server_free_all(struct coap_endpoint *ep);
/* Sends answer resp as described by rt: piggy-backed (separate == 0) or as a separate CON/NON
 * response; used by coap_reply/coap_respond and by the block-wise code. */
int coap_server_send_answer(struct coap_endpoint *ep, const struct coap_reply_to *rt,
                            const struct coap_msg *resp, int separate);
/* Addresses out (type, MID, token, Block1 echo) and sends it, without block-wise slicing. */
int coap_server_send_msg(struct coap_endpoint *ep, const struct coap_reply_to *rt,
                         struct coap_msg *out, int separate);

/* coap_blockwise.c */
/* Result of coap_block1_input(). */
enum { COAP_B1_PASS, COAP_B1_ANSWERED, COAP_B1_COMPLETE };
/* Handles the Block1 option of a request. COAP_B1_PASS: no Block1, handle normally;
 * COAP_B1_ANSWERED: 2.31/4.08/4.13/4.00 sent; COAP_B1_COMPLETE: *body and *len are the whole body,
 * borrowed until coap_block1_release(). */
int coap_block1_input(struct coap_endpoint *ep, const struct coap_msg *m, struct coap_reply_to *rt,
                      const uint8_t **body, size_t *len);
void coap_block1_release(struct coap_endpoint *ep, const struct coap_reply_to *rt);
/* Serves a Block2 follow-up from the cache. Returns 1 when answered. */
int coap_block2_serve(struct coap_endpoint *ep, const struct coap_reply_to *rt);
/* Turns answer resp into the block rt asks for, keeping a copy of the whole body for follow-ups
 * when rt->key is set. *out is filled (it borrows from resp and from the cache). Returns 0, or
 * 1 when resp fits in one datagram and needs no Block2, LWM2M_ERR_INVALID when the block lies
 * past the end of the body, or another negative error. */
int coap_block2_prepare(struct coap_endpoint *ep, const struct coap_reply_to *rt,
                        const struct coap_msg *resp, struct coap_msg *out);
void coap_block_tick(struct coap_endpoint *ep, uint64_t now);
uint64_t coap_block_deadline(const struct coap_endpoint *ep);
void coap_block_free_all(struct coap_endpoint *ep);

/* coap_client_block.c */
/* Nonzero when the body of our request m must go block-wise (Block1): it is larger than one
 * block of params.block_szx and the caller did not slice it itself. */
int coap_cblk_needed(const struct coap_endpoint *ep, const struct coap_msg *m);
/* Starts the Block1 transfer of request m (MID and token set): *out gets the transfer state (a
 * copy of m's head and body) and *dgram block 0 with Size1 (caller owns both). Returns 0 or an
 * error. */
int coap_cblk_new(struct coap_endpoint *ep, const struct coap_msg *m, struct coap_cblk **out,
                  uint8_t **dgram, size_t *dlen);
/* A response resp to the block in flight. Returns 1 with the next block in *dgram (new MID in
 * *mid; caller owns it) after 2.31 Continue or a 4.13 that asks for smaller blocks, 0 when resp
 * is the final answer for the user, or a negative error (the request fails). */
int coap_cblk_next(struct coap_endpoint *ep, struct coap_cblk *b, const struct coap_msg *resp,
                   uint16_t *mid, uint8_t **dgram, size_t *dlen);
void coap_cblk_free(struct coap_endpoint *ep, struct coap_cblk *b);

#endif /* LWM2M_COAP_ENDPOINT_INTERNAL_H */
