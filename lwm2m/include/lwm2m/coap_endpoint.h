/* SPDX-License-Identifier: Apache-2.0 */
/* The CoAP message layer (RFC 7252 §4-5, RFC 7959, RFC 7641 notifications): one
 * struct coap_endpoint per socket, with CON retransmission, request/response matching, NSTART,
 * deduplication, deferred (separate) responses and block-wise transfers. Its core is sans-I/O:
 * it sends through a struct coap_transport, reads time from a struct coap_clock and is fed
 * datagrams and timer ticks; a libevent timer per endpoint drives it when the env has a base. */
#ifndef LWM2M_COAP_ENDPOINT_H
#define LWM2M_COAP_ENDPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "lwm2m/clock.h"
#include "lwm2m/coap.h"
#include "lwm2m/transport.h"

struct event_base;
struct coap_endpoint;

/* ---- Shared configuration and counters ------------------------------------------------------ */

/* Transmission and resource parameters. coap_params_default() gives RFC 7252 §4.8 values. */
struct coap_params {
    uint32_t ack_timeout_ms;       /* ACK_TIMEOUT: 2000 */
    uint32_t ack_random_permille;  /* ACK_RANDOM_FACTOR × 1000: 1500 */
    uint32_t max_retransmit;       /* MAX_RETRANSMIT: 4 */
    uint32_t exchange_lifetime_ms; /* EXCHANGE_LIFETIME: 247000 (dedup of CON) */
    uint32_t non_lifetime_ms;      /* NON_LIFETIME: 145000 (dedup of NON) */
    uint32_t
        response_timeout_ms;    /* wait for a separate or NON response: 93000 (MAX_TRANSMIT_WAIT) */
    uint32_t defer_ack_ms;      /* a deferred CON request gets an empty ACK after: 1000 */
    uint32_t block_lifetime_ms; /* Block1/Block2 transfer state kept after its last use: 60000 */
    uint32_t max_body;          /* largest Block1-reassembled request body: 65536 */
    uint16_t dedup_max;         /* remembered incoming messages per endpoint: 16 */
    uint16_t xchg_max;          /* outgoing exchanges (active + queued) per endpoint: 32 */
    uint8_t block_transfers_max; /* concurrent Block1 and Block2 transfers per endpoint: 4 */
    uint8_t block_szx;           /* our preferred block size exponent: 6 (1024 bytes) */
};

/* Fills *p with the defaults above. */
void coap_params_default(struct coap_params *p);

/* Random bytes: fills buf[0..len) and returns 0, or a negative error. */
typedef int (*coap_rng_fn)(void *ctx, void *buf, size_t len);

/* The system RNG (OpenSSL RAND_bytes, falling back to getrandom(2)); ctx unused. */
int coap_rng_system(void *ctx, void *buf, size_t len);

/* A buffer of system randomness handed out in small pieces (tokens, ETags, jitter), refilled
 * from coap_rng_system(): one refill per few dozen requests instead of one call (and OpenSSL's
 * fork check syscall) per token. */
struct coap_rng_pool {
    uint16_t pos;
    uint8_t buf[510];
};

/* coap_rng_fn over a struct coap_rng_pool passed as ctx. */
int coap_rng_pooled(void *pool, void *buf, size_t len);

/* Counters of the message layer, summed over every endpoint that shares an env (/metrics). */
struct coap_stats {
    uint64_t rx;              /* datagrams handed to the layer */
    uint64_t tx;              /* datagrams sent, retransmissions included */
    uint64_t tx_errors;       /* transport send failures (the message stays pending if CON) */
    uint64_t requests_rx;     /* new incoming requests (duplicates not counted) */
    uint64_t requests_tx;     /* our requests sent for the first time */
    uint64_t retransmissions; /* CON retransmissions */
    uint64_t timeouts;        /* exchanges that failed with LWM2M_ERR_TIMEOUT */
    uint64_t duplicates;      /* incoming CON/NON recognised by the deduplication cache */
    uint64_t malformed;       /* datagrams that failed to parse */
    uint64_t bad_request;     /* 4.00 sent for a malformed CON request */
    uint64_t bad_option;      /* 4.02 sent for an unknown critical option */
    uint64_t unmatched;       /* ACK, RST or response matching no exchange */
    uint64_t resets_rx;       /* RST received and matched */
    uint64_t resets_tx;       /* RST sent (ping answers, unknown CON responses) */
    uint64_t pings_rx;        /* CoAP pings answered */
    uint64_t separate_tx;     /* separate (deferred) responses sent */
    uint64_t notifications_tx;
    uint64_t block1_rx;      /* Block1 blocks accepted */
    uint64_t block1_errors;  /* 4.08 / 4.13 sent */
    uint64_t block2_tx;      /* Block2 blocks sent (first blocks included) */
    uint64_t block1_tx;      /* Block1 blocks of our own requests (no retransmissions) */
    uint64_t handler_errors; /* 5.00 sent because a handler failed or did not answer */
    uint64_t dedup_evicted;  /* dedup entries dropped early because the cache was full */
    uint64_t nomem;          /* allocation failures and full pools (logged by the caller) */
};

/* The environment shared by many endpoints (one per LwM2M engine): parameters, clock, RNG, the
 * event base and the counters. Borrowed by every endpoint until that endpoint is freed, so it
 * must outlive them; it is not copied, which keeps each endpoint small. */
struct coap_env {
    struct coap_params params;
    const struct coap_clock *clock; /* borrowed; coap_env_init() sets the system clock */
    coap_rng_fn rng;                /* coap_env_init() sets coap_rng_pooled on rng_pool */
    void *rng_ctx;
    /* With a base, each endpoint arms one evtimer at its earliest deadline (only while something
     * is pending). With NULL, the owner calls coap_endpoint_tick() at
     * coap_endpoint_next_deadline() itself (unit tests). */
    struct event_base *base;
    /* Critical options a request may carry beyond those the layer knows (Uri-Host, Uri-Port,
     * Uri-Path, Uri-Query, Accept, Block1, Block2); borrowed. Others get 4.02. */
    const uint16_t *known_opts;
    size_t known_opts_n;
    struct coap_stats stats;
    struct coap_rng_pool rng_pool; /* used by the default rng; do not copy an env after init */
};

/* Defaults: coap_params_default(), system clock and RNG, zero counters, the given base. */
void coap_env_init(struct coap_env *env, struct event_base *base);

/* ---- Endpoints ------------------------------------------------------------------------------ */

/* One incoming request, as the handler sees it. Everything is borrowed until the handler returns;
 * a handler that defers copies what it still needs. */
struct coap_incoming {
    const struct coap_msg *req; /* the request (its last block when Block1 was used) */
    const struct coap_addr *peer;
    const uint8_t *body; /* the whole request body: reassembled Block1 or req->payload */
    size_t body_len;
};

/* Request handler. It answers in one of two ways before returning:
 *   - coap_reply(ep, in, resp) and return 0 (piggy-backed in the ACK for CON, NON for NON);
 *   - coap_defer(ep, in, &handle) and return LWM2M_ERR_AGAIN; later coap_respond(ep, handle, …).
 * A handler that returns without answering, or with another error, gets 5.00 sent for it. */
typedef int (*coap_handler_fn)(void *ctx, struct coap_endpoint *ep, const struct coap_incoming *in);

/* Completion of an outgoing exchange (request, ping, notification). err is 0 or LWM2M_ERR_TIMEOUT
 * or LWM2M_ERR_RESET (or, for a request sent block-wise, LWM2M_ERR_NOMEM mid-transfer). For a
 * request resp is the response (borrowed during the call) when err is 0; for a ping err 0 means the
 * peer answered (RST); for a notification err 0 means acknowledged (CON) or sent without RST within
 * ACK_TIMEOUT (NON), and resp is NULL. The callback may call any function of this API, including
 * coap_endpoint_free() on ep. */
typedef void (*coap_done_fn)(void *ctx, int err, const struct coap_msg *resp,
                             const struct coap_addr *peer);

/* Creates an endpoint on transport tp (borrowed until coap_endpoint_free(), which detaches from
 * it; the caller closes tp afterwards). env is borrowed likewise. handler may be NULL (requests
 * then get 4.04 Not Found). Returns 0, LWM2M_ERR_INVALID or LWM2M_ERR_NOMEM. */
int coap_endpoint_new(struct coap_env *env, struct coap_transport *tp, coap_handler_fn handler,
                      void *handler_ctx, struct coap_endpoint **out);

/* Frees the endpoint and everything pending on it (exchanges, deferred handles, caches) without
 * calling any callback. Safe from inside one of its own callbacks (the free then completes when
 * the layer unwinds). */
void coap_endpoint_free(struct coap_endpoint *ep);

void coap_endpoint_set_handler(struct coap_endpoint *ep, coap_handler_fn handler, void *ctx);
struct coap_transport *coap_endpoint_transport(const struct coap_endpoint *ep);

/* Feeds one datagram (borrowed for the call) received from peer. The endpoint installs this as
 * its transport's receive callback; tests call it directly. */
void coap_endpoint_input(struct coap_endpoint *ep, const uint8_t *data, size_t len,
                         const struct coap_addr *peer);

/* The earliest monotonic-ms deadline of anything pending, or 0 when the endpoint is idle. */
uint64_t coap_endpoint_next_deadline(const struct coap_endpoint *ep);

/* Processes everything due at the env clock's now (retransmissions, timeouts, empty ACKs for
 * deferred requests, cache expiry). The libevent timer calls it; tests call it by hand. */
void coap_endpoint_tick(struct coap_endpoint *ep);

/* Bytes of heap the endpoint holds right now (struct, exchanges, caches), for budgets and tests. */
size_t coap_endpoint_mem(const struct coap_endpoint *ep);

/* ---- Client side: requests and pings ------------------------------------------------------- */

/* Sends a request built by the caller: req->type COAP_TYPE_CON or COAP_TYPE_NON, req->code a
 * method; the layer assigns the message ID and a random 8-byte token (req is not modified; it and
 * everything it borrows are needed only during the call). With NSTART = 1 a request to a peer
 * that already has one outstanding waits in a FIFO queue. cb is called exactly once unless the
 * request is cancelled or the endpoint freed. *id (may be NULL) gets a handle for coap_cancel().
 * Returns 0, LWM2M_ERR_INVALID, LWM2M_ERR_NOMEM (too many pending: counted), or the RNG's error.
 * A body larger than one block of params.block_szx (unless req carries Block1 itself) is sent as
 * a Block1 sequence (RFC 7959 §2.5) from a copy the layer keeps until the transfer ends: Size1 on
 * block 0, one CON (or NON) per block with its own MID and the request's token, a smaller SZX
 * taken from 2.31 Continue or from a 4.13 that says the body fits, every block retransmitted like
 * a plain request. cb then gets the response to the last block (4.08, a 4.13 that cannot be met
 * and any other early answer end the transfer and are passed on likewise), LWM2M_ERR_TIMEOUT or
 * LWM2M_ERR_RESET for any block, or LWM2M_ERR_NOMEM when the next block could not be built.
 * A Block2 response to our request is delivered as its first block (not reassembled). */
int coap_request(struct coap_endpoint *ep, const struct coap_addr *peer, const struct coap_msg *req,
                 coap_done_fn cb, void *ctx, uint32_t *id);

/* Sends a CoAP ping (empty CON) to peer; cb gets 0 when the peer answers with RST (or ACK),
 * LWM2M_ERR_TIMEOUT otherwise. */
int coap_ping(struct coap_endpoint *ep, const struct coap_addr *peer, coap_done_fn cb, void *ctx,
              uint32_t *id);

/* Cancels a pending request, ping or notification without calling its callback. Returns 0 or
 * LWM2M_ERR_NOTFOUND (already completed). A cancelled CON stops being retransmitted; a response
 * arriving later is treated as unmatched. */
int coap_cancel(struct coap_endpoint *ep, uint32_t id);

/* ---- Server side: answering requests -------------------------------------------------------- */

/* Answers the request the handler is being called for. resp is built by the caller (type, MID and
 * token are set by the layer; code, options and payload are the caller's and borrowed for the
 * call). A payload larger than the negotiated block size is sent block-wise (Block2) from a copy
 * kept by the layer. Returns 0, LWM2M_ERR_STATE (not inside the handler for in, or answered
 * already) or LWM2M_ERR_NOMEM. */
int coap_reply(struct coap_endpoint *ep, const struct coap_incoming *in,
               const struct coap_msg *resp);

/* Defers the answer to the request the handler is being called for; the handler then returns
 * LWM2M_ERR_AGAIN. If no answer follows within params.defer_ack_ms, a CON request gets an empty
 * ACK and the answer goes out later as a separate CON response (retransmitted). *handle is for
 * coap_respond(). Returns 0, LWM2M_ERR_STATE or LWM2M_ERR_NOMEM. */
int coap_defer(struct coap_endpoint *ep, const struct coap_incoming *in, uint32_t *handle);

/* Answers a deferred request (resp as for coap_reply). resp NULL abandons it (nothing is sent; a
 * CON that has not been acknowledged yet gets its empty ACK). Every deferred request must end in
 * exactly one coap_respond(). Returns 0, LWM2M_ERR_NOTFOUND or LWM2M_ERR_NOMEM. */
int coap_respond(struct coap_endpoint *ep, uint32_t handle, const struct coap_msg *resp);

/* ---- Server side: notifications (RFC 7641) ------------------------------------------------- */

/* An observation as the owner (observe.c) keeps it. */
struct coap_observation {
    struct coap_addr peer;
    uint8_t token[COAP_MAX_TOKEN_LEN];
    uint8_t token_len;
    uint32_t seq; /* last Observe value sent; coap_notify() advances it with coap_observe_next() */
    /* The block key of the observed request (coap_block_key() on the Observe GET/FETCH), so that
     * a notification larger than a block is served block-wise to the follow-up requests; an
     * empty string when the body always fits in one datagram. */
    char block_key[64];
};

/* Sends a notification on observation obs: msg->type CON or NON, msg->code (2.05) and the
 * options/payload are the caller's (borrowed for the call); the layer sets MID, token and the
 * Observe option (obs->seq advanced). cb gets 0 on ACK, LWM2M_ERR_RESET on RST (the owner then
 * ends the observation) or LWM2M_ERR_TIMEOUT when a CON was never acknowledged. A NON with a
 * callback is remembered for ACK_TIMEOUT to catch a RST; a NON with cb NULL keeps no state.
 * Returns 0, LWM2M_ERR_INVALID or LWM2M_ERR_NOMEM. */
int coap_notify(struct coap_endpoint *ep, struct coap_observation *obs, const struct coap_msg *msg,
                coap_done_fn cb, void *ctx, uint32_t *id);

/* Writes the key identifying req's resource for Block2 follow-ups ("<code>|path?query") into
 * out. Returns its length, or LWM2M_ERR_NOSPACE. */
int coap_block_key(const struct coap_msg *req, char *out, size_t cap);

#endif /* LWM2M_COAP_ENDPOINT_H */
