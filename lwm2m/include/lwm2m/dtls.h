/* SPDX-License-Identifier: Apache-2.0 */
/* DTLS 1.2 client sessions (OpenSSL) as a datagram transport that wraps another one (UDP).
 * Owner: the engine's transport layer. Loop thread only.
 *
 * An LwM2M endpoint has one socket and one or more servers, each with its own security: the DTLS
 * transport keeps one session per peer that was added with coap_dtls_add_peer() and passes the
 * datagrams of every other peer through in clear (a NoSec server beside a PSK one). A session
 * starts with the first send to its peer: datagrams sent while the handshake runs are queued (a
 * few, copied) and go out when it completes, or are dropped when it fails; CoAP's retransmission
 * and the registration's back-off do the rest. Credentials live in a coap_dtls_ctx (one OpenSSL
 * SSL_CTX), shared by every endpoint with the same credentials. */
#ifndef LWM2M_DTLS_H
#define LWM2M_DTLS_H

#include <stddef.h>
#include <stdint.h>

#include "lwm2m/transport.h"

struct event_base;

enum coap_dtls_mode {
    COAP_DTLS_PSK = 0,  /* pre-shared key (LwM2M Security mode 0) */
    COAP_DTLS_CERT = 2, /* X.509 certificates (mode 2) */
};

/* How a server's certificate is checked against server_der (LwM2M Security /0/x/15 Certificate
 * Usage, numbered as RFC 6698 §2.1.1). The engine has no host name to check (servers are
 * addressed by IP), so none of them checks names. */
enum coap_dtls_cert_usage {
    /* server_der is a CA: the server's chain must verify up to it. RFC 6698 also wants the
     * path to reach a system trust anchor; here the CA is the trust anchor itself. */
    COAP_DTLS_USAGE_CA = 0,
    /* server_der is the server's own certificate, and its chain must verify to the system's
     * trust anchors (OpenSSL's default paths: SSL_CERT_FILE, SSL_CERT_DIR, the distribution's). */
    COAP_DTLS_USAGE_SERVICE = 1,
    /* server_der is the trust anchor the server's chain must verify up to (it need not be
     * self-signed, and the server need not send it). */
    COAP_DTLS_USAGE_TRUST_ANCHOR = 2,
    /* server_der is exactly the server's certificate (the LwM2M default): nothing else is
     * checked, not even its validity period (the pinned certificate is the trust). */
    COAP_DTLS_USAGE_DOMAIN_ISSUED = 3,
};

/* Credentials; every pointer is borrowed for the coap_dtls_ctx_new() call only. CERT takes
 * either files (PEM) or memory (DER, as an LwM2M bootstrap server writes them), not both. */
struct coap_dtls_creds {
    enum coap_dtls_mode mode;
    const char *psk_identity; /* PSK: identity (UTF-8, up to 128 bytes) */
    const uint8_t *psk;       /* PSK: key bytes (1..64) */
    size_t psk_len;
    const char *cert_file; /* CERT: PEM client certificate (chain) */
    const char *key_file;  /* CERT: PEM private key */
    const char *ca_file;   /* CERT: PEM CA to verify the server with; NULL: not verified */
    /* CERT in memory: the client's certificate (/0/x/3), its private key (/0/x/5: PKCS#8
     * PrivateKeyInfo or a traditional RSA/EC key, unencrypted) and what the server is checked
     * against (/0/x/4, required) as cert_usage says. matching_type (/0/x/13): 0 server_der is
     * the certificate itself; 1, 2, 3 its SHA-256, SHA-384, SHA-512 digest (usages 1 and 3
     * only: the CA of usages 0 and 2 is needed whole). */
    const uint8_t *cert_der, *key_der, *server_der;
    size_t cert_der_len, key_der_len, server_der_len;
    uint8_t cert_usage;    /* enum coap_dtls_cert_usage */
    uint8_t matching_type; /* 0..3 */
};

/* A credential set (one SSL_CTX), reference counted; new returns it with one reference. */
struct coap_dtls_ctx;

/* Returns 0, LWM2M_ERR_INVALID (bad credentials: unreadable file, DER that does not parse, key
 * not matching the certificate, empty identity...; err gets a one-line reason with OpenSSL's
 * words, never key material) or LWM2M_ERR_NOMEM. err may be NULL. */
int coap_dtls_ctx_new(const struct coap_dtls_creds *c, char *err, size_t errcap,
                      struct coap_dtls_ctx **out);
void coap_dtls_ctx_ref(struct coap_dtls_ctx *c);
void coap_dtls_ctx_unref(struct coap_dtls_ctx *c); /* NULL is a no-op */

/* Counters, optionally shared by many transports (loop thread: no atomics). */
struct coap_dtls_stats {
    uint64_t handshakes;        /* started */
    uint64_t handshakes_ok;     /* completed */
    uint64_t handshakes_failed; /* alert, bad credentials, timeout */
    uint64_t sessions_closed;   /* close_notify or fatal alert after the handshake, or reset */
    uint64_t rx_dropped;        /* records that failed to decrypt or came outside a session */
    uint64_t tx_dropped;        /* datagrams dropped: queue full, or their handshake failed */
};

enum coap_dtls_event {
    COAP_DTLS_EV_CONNECTED = 1, /* handshake done; queued datagrams have been sent; why is the
                                   cipher suite (OpenSSL's name, "PSK-AES128-CCM8") */
    COAP_DTLS_EV_FAILED,        /* handshake failed; why says how (OpenSSL's reason, alert) */
    COAP_DTLS_EV_CLOSED,        /* an established session ended (alert or close_notify) */
};

/* Session events of one peer; why is a short text borrowed for the call. The callback may send
 * on the transport and reset the peer; closing the transport from it is safe too (the free
 * happens when the callback returns). */
typedef void (*coap_dtls_event_fn)(void *ctx, const struct coap_addr *peer, int ev,
                                   const char *why);

/* Datagrams queued per peer while its handshake runs; older ones are dropped past this. */
#define COAP_DTLS_TX_QUEUE 4
/* A handshake that has not completed after this long fails (DTLS retransmits inside it). */
#define COAP_DTLS_HANDSHAKE_MS 30000

/* Wraps inner, which the DTLS transport takes over (it sets inner's receive callback and closes
 * it on close, also on failure). stats and on_event may be NULL. Returns 0 or LWM2M_ERR_NOMEM. */
int coap_dtls_open(struct event_base *base, struct coap_transport *inner,
                   struct coap_dtls_stats *stats, coap_dtls_event_fn on_event, void *ev_ctx,
                   struct coap_transport **out);

/* Datagrams to and from peer go through a DTLS session with ctx's credentials (ctx gets a
 * reference). Adding a peer again replaces its credentials and drops its session. Returns 0,
 * LWM2M_ERR_INVALID (t is not a DTLS transport) or LWM2M_ERR_NOMEM. */
int coap_dtls_add_peer(struct coap_transport *t, const struct coap_addr *peer,
                       struct coap_dtls_ctx *ctx);

/* A PSK identity of this peer's own instead of its context's (NULL: the context's again): one
 * shared context then serves endpoints that each have an identity, and a key in common. Copied;
 * used from the next handshake on. Returns 0, LWM2M_ERR_NOTFOUND (peer not added),
 * LWM2M_ERR_INVALID (not DTLS, or longer than 128 bytes) or LWM2M_ERR_NOMEM. */
int coap_dtls_set_peer_identity(struct coap_transport *t, const struct coap_addr *peer,
                                const char *identity);

/* Ends peer's session (close_notify sent when established) and drops its queue: the next send
 * starts a new handshake. For a server that stopped answering (it may have lost the session).
 * Reports no event (the caller knows). */
void coap_dtls_reset_peer(struct coap_transport *t, const struct coap_addr *peer);

/* Replaces COAP_DTLS_HANDSHAKE_MS for the handshakes t starts from now on (a configured limit, or
 * a short one in tests). Returns 0 or LWM2M_ERR_INVALID (ms 0, or t is not DTLS). */
int coap_dtls_set_handshake_ms(struct coap_transport *t, uint32_t ms);

enum coap_dtls_state {
    COAP_DTLS_NONE = 0,    /* not a DTLS peer, or no session yet */
    COAP_DTLS_HANDSHAKING, /* handshake running */
    COAP_DTLS_CONNECTED,   /* session established */
};
int coap_dtls_peer_state(const struct coap_transport *t, const struct coap_addr *peer);

/* The wrapped transport (for coap_udp_set_single_peer, coap_udp_fd), or NULL if t is not DTLS. */
struct coap_transport *coap_dtls_inner(struct coap_transport *t);

#endif /* LWM2M_DTLS_H */
