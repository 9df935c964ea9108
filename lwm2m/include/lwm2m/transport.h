/* SPDX-License-Identifier: Apache-2.0 */
/* The datagram transport interface the CoAP message layer sends and receives through (UDP now,
 * DTLS later), the address type shared by both, and the UDP implementation on libevent.
 * A transport is a const ops table plus a base struct embedded in the implementation's own
 * struct; implementations recover themselves with coap_container_of(). */
#ifndef LWM2M_TRANSPORT_H
#define LWM2M_TRANSPORT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct event_base;

#define coap_container_of(ptr, type, member)                                                       \
    ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* ---- Addresses ------------------------------------------------------------------------------ */

/* An IPv4 or IPv6 socket address. Deliberately smaller than sockaddr_storage (32 bytes instead of
 * 132): one is stored in every pending exchange and deduplication entry, and the engine runs
 * thousands of endpoints. Only AF_INET and AF_INET6 exist on a CoAP transport. Plain value type:
 * copy it freely. */
struct coap_addr {
    socklen_t len; /* 0 for "no address" */
    union {
        struct sockaddr sa;
        struct sockaddr_in in4;
        struct sockaddr_in6 in6;
    } u;
};

/* Longest text coap_addr_format() writes, NUL included ("[v6%scope]:65535"). */
#define COAP_ADDR_STRLEN 72

/* Fills *a from a numeric host ("127.0.0.1", "::1", "[::1]", "fe80::1%lo") and a port. No name
 * resolution: the loop must never block on DNS. Returns 0 or LWM2M_ERR_INVALID. */
int coap_addr_parse(struct coap_addr *a, const char *host, uint16_t port);
/* Parses "host:port", "[v6]:port", or a bare host (then default_port). Returns 0 or
 * LWM2M_ERR_INVALID. */
int coap_addr_parse_hostport(struct coap_addr *a, const char *s, uint16_t default_port);
/* Copies an AF_INET/AF_INET6 sockaddr. Returns 0 or LWM2M_ERR_INVALID (other families). */
int coap_addr_from_sockaddr(struct coap_addr *a, const struct sockaddr *sa, socklen_t len);
/* 0 when a and b name the same family, address, port (and IPv6 scope); nonzero otherwise, with a
 * stable order (usable for sorting). */
int coap_addr_cmp(const struct coap_addr *a, const struct coap_addr *b);
/* Writes "127.0.0.1:5683" or "[::1]:5683" into out (cap bytes incl. NUL, COAP_ADDR_STRLEN is
 * always enough). Returns the length, or LWM2M_ERR_NOSPACE / LWM2M_ERR_INVALID. */
int coap_addr_format(const struct coap_addr *a, char *out, size_t cap);
/* The port in host order (0 for an empty address). */
uint16_t coap_addr_port(const struct coap_addr *a);

/* ---- Transport interface -------------------------------------------------------------------- */

struct coap_transport;

/* Receive callback: one datagram (data borrowed until the callback returns) from a peer. The
 * callback may send on, or close, the transport it was called from. */
typedef void (*coap_rx_fn)(void *ctx, const uint8_t *data, size_t len,
                           const struct coap_addr *from);

struct coap_transport_ops {
    const char *name; /* "udp", "dtls" */
    /* Sends one datagram (data borrowed for the call). Returns 0, LWM2M_ERR_AGAIN when the kernel
     * had no room (the datagram is dropped: CoAP retransmission covers it) or LWM2M_ERR_IO. A
     * failed send is never fatal to the transport. */
    int (*send)(struct coap_transport *t, const uint8_t *data, size_t len,
                const struct coap_addr *to);
    /* The bound local address (with the port the kernel picked for port 0). */
    int (*local_addr)(const struct coap_transport *t, struct coap_addr *out);
    /* Closes the socket and frees the transport. Safe from inside its own receive callback
     * (the free then happens when the callback returns). */
    void (*close)(struct coap_transport *t);
};

/* The base every implementation embeds. on_rx/rx_ctx belong to the transport's single user (the
 * CoAP endpoint sets them); NULL on_rx drops datagrams. */
struct coap_transport {
    const struct coap_transport_ops *ops;
    coap_rx_fn on_rx;
    void *rx_ctx;
};

static inline int coap_transport_send(struct coap_transport *t, const uint8_t *data, size_t len,
                                      const struct coap_addr *to) {
    return t->ops->send(t, data, len, to);
}

static inline int coap_transport_local_addr(const struct coap_transport *t, struct coap_addr *out) {
    return t->ops->local_addr(t, out);
}

static inline void coap_transport_close(struct coap_transport *t) {
    if (t != NULL)
        t->ops->close(t);
}

static inline void coap_transport_set_rx(struct coap_transport *t, coap_rx_fn fn, void *ctx) {
    t->on_rx = fn;
    t->rx_ctx = ctx;
}

/* ---- UDP on libevent ------------------------------------------------------------------------ */

/* Largest datagram the UDP transport receives; longer ones are truncated by the kernel, counted
 * in rx_truncated and dropped. Large CoAP bodies travel block-wise (1024-byte blocks). */
#define COAP_UDP_MAX_DGRAM 8192
/* Datagrams read per readiness event before yielding to the loop (fairness across sockets). */
#define COAP_UDP_RX_BATCH 32

/* Counters, optionally shared by many transports (all on the loop thread: no atomics). */
struct coap_udp_stats {
    uint64_t rx_dgrams;
    uint64_t rx_bytes;
    uint64_t rx_errors;
    uint64_t rx_truncated;
    uint64_t tx_dgrams;
    uint64_t tx_bytes;
    uint64_t tx_errors;
};

/* Opens a non-blocking UDP socket bound to *bind (IPv4 or IPv6, port 0 for an ephemeral port)
 * and registers it with base. stats may be NULL; otherwise it is borrowed until close and may be
 * shared by many transports. On success *out is the transport (caller closes it with
 * coap_transport_close()). Returns 0, LWM2M_ERR_IO (socket/bind failed, errno kept) or
 * LWM2M_ERR_NOMEM. */
int coap_udp_open(struct event_base *base, const struct coap_addr *bind,
                  struct coap_udp_stats *stats, struct coap_transport **out);

/* For a client socket that talks to one peer it contacts first (an LwM2M endpoint and its
 * server): on = true lets the transport connect(2) the socket to the peer of its next send, which
 * saves the kernel a route lookup per datagram. Once connected the socket receives from that peer
 * only; the first send to any other peer (a second server, a changed server address) disconnects
 * it for good, so it is never wrong, only slower, with several peers. Calling it again (either
 * way) disconnects and starts over: after reconfiguring the servers, true re-enables it. Never
 * for a socket that serves peers it has not sent to first. Call it before the first send: turning
 * it on may (very rarely) move a port-0 socket to a new port, and then returns LWM2M_ERR_IO with
 * the mode off. Returns 0, LWM2M_ERR_IO or LWM2M_ERR_INVALID (not a UDP transport). */
int coap_udp_set_single_peer(struct coap_transport *t, bool on);

/* The socket descriptor of a UDP transport (for tests and diagnostics), -1 if t is not UDP. */
int coap_udp_fd(const struct coap_transport *t);

#endif /* LWM2M_TRANSPORT_H */
