/* SPDX-License-Identifier: Apache-2.0 */
/* The DTLS transport: DTLS 1.2 client sessions (OpenSSL), one per peer added with
 * coap_dtls_add_peer(), over an inner datagram transport it owns, driven by the libevent loop
 * (no threads, nothing blocks). Each session talks to OpenSSL through a BIO of its own that
 * writes every record flight as one datagram of the inner transport and reads the one datagram
 * being fed; one libevent timer per peer drives handshake retransmission and its deadline.
 * Datagrams of other peers pass through in clear. */
#include "dtls_internal.h"
#include "lwm2m/clock.h"
#include "lwm2m/error.h"

#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Link MTU every session assumes: the IPv6 minimum, which IPv4 paths through tunnels and VPNs
 * also carry unfragmented. Only handshake flights (certificate chains) come near it. */
#define DTLS_LINK_MTU 1280
/* Largest plaintext of one record (SSL3_RT_MAX_PLAIN_LENGTH): OpenSSL fails the whole session on
 * a longer write, so longer datagrams are refused before. */
#define DTLS_MAX_PLAIN 16384
#define DTLS_HDR       13 /* record header: type, version, epoch, sequence number, length */

struct dtls_tp;

/* A copy of a datagram sent while its handshake runs. */
struct dtls_dgram {
    size_t len;
    uint8_t data[];
};

/* A DTLS peer; it lives until the transport closes, its session (ssl) comes and goes. */
struct dtls_peer {
    struct dtls_peer *next;
    struct dtls_tp *tp;
    struct coap_dtls_ctx *ctx; /* a reference */
    char *identity;            /* own PSK identity, or NULL: the context's */
    SSL *ssl;                  /* NULL: no session */
    struct event *timer;       /* retransmission, deadline, deferred failure */
    const uint8_t *rx;         /* the datagram the BIO hands OpenSSL next; NULL once read */
    size_t rx_len;
    struct dtls_dgram *q[COAP_DTLS_TX_QUEUE]; /* oldest first */
    uint64_t deadline_ms;                     /* the handshake fails at this monotonic time */
    const char *fail_why; /* a failure found inside send(), reported from the timer */
    uint32_t gen;         /* bumped whenever the session is dropped */
    int alert;            /* last alert received (level << 8 | description), -1: none */
    int tx_rc;            /* the inner transport's result for the last record written */
    uint8_t state;        /* enum coap_dtls_state */
    uint8_t qn;
    uint8_t trimmed; /* the record buffers are freed (see session_trim()) */
    struct coap_addr addr;
};

struct dtls_tp {
    struct coap_transport base;
    struct coap_transport *inner; /* owned */
    struct event_base *evb;
    struct coap_dtls_stats *stats; /* the caller's, or own_stats */
    coap_dtls_event_fn on_event;
    void *ev_ctx;
    struct dtls_peer *peers;
    uint32_t hs_ms;
    uint16_t depth;        /* inside a callback of the user's (rx or event) */
    uint8_t close_pending; /* close() was called from inside one */
    struct coap_dtls_stats own_stats;
};

static const struct coap_transport_ops dtls_ops;

/* ---- The datagram BIO ----------------------------------------------------------------------- */

static int bio_write(BIO *b, const char *data, int len) {
    struct dtls_peer *p = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    p->tx_rc = coap_transport_send(p->tp->inner, (const uint8_t *)data, (size_t)len, &p->addr);
    /* A datagram the kernel refused is a lost datagram, as if the network had dropped it: DTLS
     * retransmits handshake flights, CoAP its messages. Reporting it as a retry would make
     * OpenSSL hold the record and the session would stall until the next write. */
    return len;
}

static int bio_read(BIO *b, char *out, int cap) {
    struct dtls_peer *p = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (p->rx == NULL) {
        BIO_set_retry_read(b);
        return -1;
    }
    size_t n = p->rx_len < (size_t)cap ? p->rx_len : (size_t)cap;
    memcpy(out, p->rx, n);
    p->rx = NULL;
    return (int)n;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr) {
    struct dtls_peer *p = BIO_get_data(b);
    long overhead = p->addr.u.sa.sa_family == AF_INET6 ? 48 : 28; /* IP + UDP headers */
    switch (cmd) {
    case BIO_CTRL_FLUSH: /* every write already went out */
    case BIO_CTRL_DGRAM_SET_CONNECTED:
    case BIO_CTRL_DGRAM_SET_PEER: /* the peer is fixed for the BIO's life */
        return 1;
    case BIO_CTRL_DGRAM_GET_MTU_OVERHEAD:
        return overhead;
    case BIO_CTRL_DGRAM_QUERY_MTU:
    case BIO_CTRL_DGRAM_GET_FALLBACK_MTU:
        return DTLS_LINK_MTU - overhead;
    case BIO_CTRL_DGRAM_GET_PEER: {
        size_t n = p->addr.len;
        if (num > 0 && (size_t)num < n)
            n = (size_t)num;
        memcpy(ptr, &p->addr.u, n);
        return (long)n;
    }
    default:
        /* pending/wpending 0 (nothing buffered), no socket timeouts (the libevent timer does
         * that), MTU_EXCEEDED 0 (the MTU is fixed), no peek mode: all answered 0 */
        return 0;
    }
}

static int bio_create(BIO *b) {
    BIO_set_init(b, 1);
    return 1;
}

BIO_METHOD *coap_dtls_bio_method(void) {
    BIO_METHOD *m = BIO_meth_new(BIO_TYPE_SOURCE_SINK, "coap-dtls");
    if (m == NULL)
        return NULL;
    if (BIO_meth_set_write(m, bio_write) != 1 || BIO_meth_set_read(m, bio_read) != 1 ||
        BIO_meth_set_ctrl(m, bio_ctrl) != 1 || BIO_meth_set_create(m, bio_create) != 1) {
        BIO_meth_free(m);
        return NULL;
    }
    return m;
}

void coap_dtls_note_alert(void *session, int alert) {
    struct dtls_peer *p = session;
    if (p != NULL)
        p->alert = alert;
}

/* ---- Sessions ------------------------------------------------------------------------------- */

static void tp_free(struct dtls_tp *tp);

static void tp_enter(struct dtls_tp *tp) {
    tp->depth++;
}

/* Completes a close() that was called from inside a callback. */
static void tp_leave(struct dtls_tp *tp) {
    if (--tp->depth == 0 && tp->close_pending)
        tp_free(tp);
}

/* Only ever called below on_timer() or on_inner_rx(), which hold the transport open (tp_enter)
 * until the callback has returned, however it ends. */
static void emit(struct dtls_peer *p, int ev, const char *why) {
    struct coap_addr peer = p->addr;
    if (p->tp->on_event != NULL)
        p->tp->on_event(p->tp->ev_ctx, &peer, ev, why);
}

static void q_drop(struct dtls_peer *p, int counted) {
    for (int i = 0; i < p->qn; i++)
        free(p->q[i]);
    if (counted)
        p->tp->stats->tx_dropped += p->qn;
    p->qn = 0;
}

static int q_push(struct dtls_peer *p, const uint8_t *data, size_t len) {
    struct dtls_dgram *d = malloc(sizeof(*d) + len);
    if (d == NULL)
        return LWM2M_ERR_NOMEM;
    d->len = len;
    memcpy(d->data, data, len);
    if (p->qn == COAP_DTLS_TX_QUEUE) {
        free(p->q[0]);
        memmove(&p->q[0], &p->q[1], sizeof(p->q[0]) * (COAP_DTLS_TX_QUEUE - 1));
        p->qn--;
        p->tp->stats->tx_dropped++;
    }
    p->q[p->qn++] = d;
    return 0;
}

/* OpenSSL 3.0 ignores SSL_MODE_RELEASE_BUFFERS for DTLS: an idle session would keep its 16 KB
 * read and 16 KB write record buffers, half of what it holds. They are freed after every pass
 * (two mallocs per datagram; OpenSSL keeps buffers that still hold data)... */
static void session_trim(struct dtls_peer *p) {
    if (p->ssl != NULL && SSL_free_buffers(p->ssl) == 1)
        p->trimmed = 1;
}

/* ...and set up again before a write: DTLS writes assume the buffers exist (only its read path
 * sets them up), so a read that finds nothing (the BIO has no datagram) is done first. A peek
 * leaves any record that is still pending for the next SSL_read(). */
static void session_untrim(struct dtls_peer *p) {
    char c;
    if (!p->trimmed)
        return;
    (void)SSL_peek(p->ssl, &c, 1);
    ERR_clear_error();
    p->trimmed = 0;
}

/* Drops the session, with a close_notify to the server when notify and established. */
static void session_free(struct dtls_peer *p, int notify) {
    if (p->ssl != NULL) {
        if (notify && p->state == COAP_DTLS_CONNECTED) {
            session_untrim(p);
            (void)SSL_shutdown(p->ssl);
        }
        SSL_free(p->ssl);
        p->ssl = NULL;
    }
    ERR_clear_error(); /* OpenSSL's error queue is per thread: leave nothing for other sessions */
    evtimer_del(p->timer);
    p->state = COAP_DTLS_NONE;
    p->fail_why = NULL;
    p->rx = NULL;
    p->trimmed = 0;
    p->gen++;
}

/* A short reason for a failed or ended session: the alert the server sent, else OpenSSL's. */
static const char *session_why(struct dtls_peer *p, char *buf, size_t cap) {
    unsigned long e = ERR_peek_last_error();
    if (p->alert >= 0) {
        snprintf(buf, cap, "alert: %s", SSL_alert_desc_string_long(p->alert));
    } else if (ERR_GET_LIB(e) == ERR_LIB_SSL &&
               ERR_GET_REASON(e) == SSL_R_CERTIFICATE_VERIFY_FAILED && p->ssl != NULL) {
        snprintf(buf, cap, "certificate verify failed: %s",
                 X509_verify_cert_error_string(SSL_get_verify_result(p->ssl)));
    } else {
        const char *r = e != 0 ? ERR_reason_error_string(e) : NULL;
        snprintf(buf, cap, "%s", r != NULL ? r : "DTLS handshake failed");
    }
    return buf;
}

static void hs_fail(struct dtls_peer *p, const char *why) {
    char buf[160];
    if (why == NULL)
        why = session_why(p, buf, sizeof(buf));
    p->tp->stats->handshakes_failed++;
    q_drop(p, 1);
    session_free(p, 0);
    emit(p, COAP_DTLS_EV_FAILED, why);
}

/* An established session ended: clean is the server's close_notify, answered with ours. */
static void session_end(struct dtls_peer *p, int clean, const char *why) {
    char buf[160];
    if (why == NULL)
        why = clean ? "close notify" : session_why(p, buf, sizeof(buf));
    p->tp->stats->sessions_closed++;
    session_free(p, clean);
    emit(p, COAP_DTLS_EV_CLOSED, why);
}

/* Arms the timer for OpenSSL's next retransmission or the handshake deadline, what comes first. */
static void hs_arm(struct dtls_peer *p) {
    uint64_t now = coap_clock_mono_ms(NULL);
    uint64_t ms = p->deadline_ms > now ? p->deadline_ms - now : 0;
    struct timeval tv;
    if (DTLSv1_get_timeout(p->ssl, &tv) == 1) {
        uint64_t rt = (uint64_t)tv.tv_sec * 1000 + ((uint64_t)tv.tv_usec + 999) / 1000;
        ms = rt < ms ? rt : ms;
    }
    tv.tv_sec = (time_t)(ms / 1000);
    tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
    evtimer_add(p->timer, &tv);
}

/* A failure found where no event may be reported yet (inside send()): the timer reports it
 * at once from the loop. why must be a constant. */
static void defer_fail(struct dtls_peer *p, const char *why) {
    struct timeval now = {0, 0};
    p->fail_why = why;
    evtimer_add(p->timer, &now);
}

static int session_write(struct dtls_peer *p, const uint8_t *data, size_t len) {
    if (len > DTLS_MAX_PLAIN)
        return LWM2M_ERR_IO;
    ERR_clear_error();
    session_untrim(p);
    p->tx_rc = 0;
    int n = SSL_write(p->ssl, data, (int)len);
    if (n > 0) {
        session_trim(p);
        return p->tx_rc;
    }
    int e = SSL_get_error(p->ssl, n);
    if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE && p->fail_why == NULL) {
        const char *r = ERR_reason_error_string(ERR_peek_last_error());
        defer_fail(p, r != NULL ? r : "DTLS write failed");
    }
    ERR_clear_error();
    return LWM2M_ERR_IO;
}

static void hs_done(struct dtls_peer *p) {
    struct dtls_tp *tp = p->tp;
    p->state = COAP_DTLS_CONNECTED;
    evtimer_del(p->timer);
    tp->stats->handshakes_ok++;
    for (int i = 0; i < p->qn; i++) /* a datagram the kernel refused is the inner's to count */
        if (session_write(p, p->q[i]->data, p->q[i]->len) != 0 && p->fail_why != NULL)
            tp->stats->tx_dropped++;
    q_drop(p, 0);
    session_trim(p);
    emit(p, COAP_DTLS_EV_CONNECTED, SSL_get_cipher_name(p->ssl));
}

/* Runs the handshake on. defer: inside send(), where a failure must not be reported yet. */
static void hs_step(struct dtls_peer *p, int defer) {
    ERR_clear_error();
    int r = SSL_do_handshake(p->ssl);
    if (r == 1) {
        hs_done(p);
        return;
    }
    int e = SSL_get_error(p->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        hs_arm(p);
    } else if (defer) {
        const char *why = ERR_reason_error_string(ERR_peek_last_error());
        defer_fail(p, why != NULL ? why : "DTLS handshake failed");
    } else {
        hs_fail(p, NULL);
    }
}

static int session_start(struct dtls_peer *p) {
    struct dtls_tp *tp = p->tp;
    SSL *ssl = SSL_new(p->ctx->ssl);
    BIO *b = BIO_new(p->ctx->bio);
    if (ssl == NULL || b == NULL) {
        SSL_free(ssl);
        BIO_free(b);
        q_drop(p, 1);
        ERR_clear_error();
        return LWM2M_ERR_NOMEM;
    }
    BIO_set_data(b, p);
    SSL_set_bio(ssl, b, b);
    SSL_set_app_data(ssl, p);
    DTLS_set_link_mtu(ssl, DTLS_LINK_MTU);
    SSL_set_connect_state(ssl);
    p->ssl = ssl;
    p->state = COAP_DTLS_HANDSHAKING;
    p->alert = -1;
    p->deadline_ms = coap_clock_mono_ms(NULL) + tp->hs_ms;
    tp->stats->handshakes++;
    hs_step(p, 1); /* sends the ClientHello */
    return 0;
}

static void on_timer(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    struct dtls_peer *p = arg;
    struct dtls_tp *tp = p->tp;
    if (p->ssl == NULL)
        return;
    tp_enter(tp);
    if (p->fail_why != NULL && p->state == COAP_DTLS_CONNECTED) {
        session_end(p, 0, p->fail_why);
    } else if (p->fail_why != NULL) {
        hs_fail(p, p->fail_why);
    } else if (p->state == COAP_DTLS_HANDSHAKING) {
        ERR_clear_error();
        if (coap_clock_mono_ms(NULL) >= p->deadline_ms)
            hs_fail(p, "handshake timeout");
        else if (DTLSv1_handle_timeout(p->ssl) < 0) /* retransmits the last flight */
            hs_fail(p, NULL);
        else
            hs_arm(p);
    }
    tp_leave(tp);
}

/* The application-data records in a datagram, or -1 when it is no DTLS at all (a CoAP message
 * starts with 0x40..0x7f, a record with its content type 20..24). */
static int dtls_app_records(const uint8_t *d, size_t len) {
    int n = 0;
    size_t off = 0;
    while (off + DTLS_HDR <= len) {
        if (d[off] < 20 || d[off] > 24 || d[off + 1] != 0xfe)
            break;
        n += d[off] == 23;
        off += DTLS_HDR + ((size_t)d[off + 11] << 8 | d[off + 12]);
    }
    return off == 0 ? -1 : n;
}

/* Passes the session's plaintext up. Returns the number of records delivered. */
static int session_read(struct dtls_peer *p, uint32_t gen) {
    struct dtls_tp *tp = p->tp;
    uint8_t buf[DTLS_MAX_PLAIN];
    struct coap_addr from = p->addr;
    int delivered = 0;
    for (;;) {
        ERR_clear_error();
        p->trimmed = 0; /* reading sets the buffers up */
        int n = SSL_read(p->ssl, buf, sizeof(buf));
        if (n > 0) {
            delivered++;
            if (tp->base.on_rx != NULL)
                tp->base.on_rx(tp->base.rx_ctx, buf, (size_t)n, &from);
            if (tp->close_pending || gen != p->gen)
                break;
            continue;
        }
        int e = SSL_get_error(p->ssl, n);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
            session_end(p, e == SSL_ERROR_ZERO_RETURN, NULL);
        break;
    }
    return delivered;
}

static void peer_rx(struct dtls_peer *p, const uint8_t *data, size_t len) {
    struct dtls_tp *tp = p->tp;
    int records = dtls_app_records(data, len), delivered = 0;
    uint32_t gen = p->gen;
    if (records < 0 || p->ssl == NULL) {
        /* Clear text or a stale record from a server we hold no session with: never passed up
         * in clear (an added peer is secure), and DTLS has no way to answer it. */
        tp->stats->rx_dropped++;
        return;
    }
    p->rx = data;
    p->rx_len = len;
    if (p->state == COAP_DTLS_HANDSHAKING)
        hs_step(p, 0);
    if (!tp->close_pending && gen == p->gen && p->state == COAP_DTLS_CONNECTED)
        delivered = session_read(p, gen);
    if (gen == p->gen) {
        p->rx = NULL;
        if (p->state == COAP_DTLS_CONNECTED)
            session_trim(p);
    }
    /* OpenSSL drops records that fail to decrypt (or replays) silently, as DTLS must. */
    if (records > delivered && gen == p->gen)
        tp->stats->rx_dropped += (uint64_t)(records - delivered);
}

/* ---- The transport -------------------------------------------------------------------------- */

static struct dtls_tp *to_tp(struct coap_transport *t) {
    return coap_container_of(t, struct dtls_tp, base);
}

static struct dtls_peer *peer_find(struct dtls_tp *tp, const struct coap_addr *a) {
    for (struct dtls_peer *p = tp->peers; p != NULL; p = p->next)
        if (coap_addr_cmp(&p->addr, a) == 0)
            return p;
    return NULL;
}

static void on_inner_rx(void *ctx, const uint8_t *data, size_t len, const struct coap_addr *from) {
    struct dtls_tp *tp = ctx;
    struct dtls_peer *p = peer_find(tp, from);
    tp_enter(tp);
    if (p != NULL)
        peer_rx(p, data, len);
    else if (tp->base.on_rx != NULL)
        tp->base.on_rx(tp->base.rx_ctx, data, len, from); /* a NoSec peer */
    tp_leave(tp);
}

static int dtls_send(struct coap_transport *t, const uint8_t *data, size_t len,
                     const struct coap_addr *to) {
    struct dtls_tp *tp = to_tp(t);
    struct dtls_peer *p = peer_find(tp, to);
    if (p == NULL)
        return coap_transport_send(tp->inner, data, len, to);
    if (p->state == COAP_DTLS_CONNECTED)
        return session_write(p, data, len);
    if (len > DTLS_MAX_PLAIN)
        return LWM2M_ERR_IO;
    int rc = q_push(p, data, len);
    if (rc == 0 && p->ssl == NULL)
        rc = session_start(p);
    return rc;
}

static int dtls_local_addr(const struct coap_transport *t, struct coap_addr *out) {
    const struct dtls_tp *tp = coap_container_of(t, const struct dtls_tp, base);
    return coap_transport_local_addr(tp->inner, out);
}

static void tp_free(struct dtls_tp *tp) {
    while (tp->peers != NULL) {
        struct dtls_peer *p = tp->peers;
        tp->peers = p->next;
        q_drop(p, 0);
        session_free(p, 1); /* the server can free its session at once */
        event_free(p->timer);
        coap_dtls_ctx_unref(p->ctx);
        free(p->identity);
        free(p);
    }
    coap_transport_set_rx(tp->inner, NULL, NULL);
    coap_transport_close(tp->inner);
    free(tp);
}

static void dtls_close(struct coap_transport *t) {
    struct dtls_tp *tp = to_tp(t);
    if (tp->depth > 0) {
        /* A callback of ours is on the stack: tp_leave() frees when it returns. */
        tp->close_pending = 1;
        tp->base.on_rx = NULL;
        tp->on_event = NULL;
        return;
    }
    tp_free(tp);
}

static const struct coap_transport_ops dtls_ops = {
    .name = "dtls",
    .send = dtls_send,
    .local_addr = dtls_local_addr,
    .close = dtls_close,
};

int coap_dtls_open(struct event_base *base, struct coap_transport *inner,
                   struct coap_dtls_stats *stats, coap_dtls_event_fn on_event, void *ev_ctx,
                   struct coap_transport **out) {
    struct dtls_tp *tp =
        base != NULL && inner != NULL && out != NULL ? calloc(1, sizeof(*tp)) : NULL;
    if (tp == NULL) {
        coap_transport_close(inner);
        return base != NULL && inner != NULL && out != NULL ? LWM2M_ERR_NOMEM : LWM2M_ERR_INVALID;
    }
    tp->base.ops = &dtls_ops;
    tp->inner = inner;
    tp->evb = base;
    tp->stats = stats != NULL ? stats : &tp->own_stats;
    tp->on_event = on_event;
    tp->ev_ctx = ev_ctx;
    tp->hs_ms = COAP_DTLS_HANDSHAKE_MS;
    coap_transport_set_rx(inner, on_inner_rx, tp);
    *out = &tp->base;
    return 0;
}

int coap_dtls_add_peer(struct coap_transport *t, const struct coap_addr *peer,
                       struct coap_dtls_ctx *ctx) {
    if (t == NULL || t->ops != &dtls_ops || peer == NULL || peer->len == 0 || ctx == NULL)
        return LWM2M_ERR_INVALID;
    struct dtls_tp *tp = to_tp(t);
    struct dtls_peer *p = peer_find(tp, peer);
    if (p != NULL) {
        coap_dtls_reset_peer(t, peer);
        coap_dtls_ctx_ref(ctx); /* before the unref: ctx may be the same */
        coap_dtls_ctx_unref(p->ctx);
        p->ctx = ctx;
        return 0;
    }
    p = calloc(1, sizeof(*p));
    if (p == NULL)
        return LWM2M_ERR_NOMEM;
    p->timer = evtimer_new(tp->evb, on_timer, p);
    if (p->timer == NULL) {
        free(p);
        return LWM2M_ERR_NOMEM;
    }
    p->tp = tp;
    p->addr = *peer;
    p->alert = -1;
    p->ctx = ctx;
    coap_dtls_ctx_ref(ctx);
    p->next = tp->peers;
    tp->peers = p;
    return 0;
}

int coap_dtls_set_peer_identity(struct coap_transport *t, const struct coap_addr *peer,
                                const char *identity) {
    if (t == NULL || t->ops != &dtls_ops || peer == NULL ||
        (identity != NULL && (identity[0] == '\0' || strlen(identity) > 128)))
        return LWM2M_ERR_INVALID;
    struct dtls_peer *p = peer_find(to_tp(t), peer);
    if (p == NULL)
        return LWM2M_ERR_NOTFOUND;
    char *copy = identity != NULL ? strdup(identity) : NULL;
    if (identity != NULL && copy == NULL)
        return LWM2M_ERR_NOMEM;
    free(p->identity);
    p->identity = copy;
    return 0;
}

const char *coap_dtls_session_identity(const void *session) {
    const struct dtls_peer *p = session;
    return p != NULL ? p->identity : NULL;
}

void coap_dtls_reset_peer(struct coap_transport *t, const struct coap_addr *peer) {
    if (t == NULL || t->ops != &dtls_ops || peer == NULL)
        return;
    struct dtls_peer *p = peer_find(to_tp(t), peer);
    if (p == NULL)
        return;
    if (p->state == COAP_DTLS_CONNECTED)
        p->tp->stats->sessions_closed++;
    q_drop(p, 1);
    session_free(p, 1);
}

int coap_dtls_set_handshake_ms(struct coap_transport *t, uint32_t ms) {
    if (t == NULL || t->ops != &dtls_ops || ms == 0)
        return LWM2M_ERR_INVALID;
    to_tp(t)->hs_ms = ms;
    return 0;
}

int coap_dtls_peer_state(const struct coap_transport *t, const struct coap_addr *peer) {
    if (t == NULL || t->ops != &dtls_ops || peer == NULL)
        return COAP_DTLS_NONE;
    const struct dtls_tp *tp = coap_container_of(t, const struct dtls_tp, base);
    for (const struct dtls_peer *p = tp->peers; p != NULL; p = p->next)
        if (coap_addr_cmp(&p->addr, peer) == 0)
            return p->state;
    return COAP_DTLS_NONE;
}

struct coap_transport *coap_dtls_inner(struct coap_transport *t) {
    return t != NULL && t->ops == &dtls_ops ? to_tp(t)->inner : NULL;
}
