/* SPDX-License-Identifier: Apache-2.0 */
/* The UDP transport: one non-blocking socket per instance (each LwM2M endpoint has its own source
 * port), read readiness from libevent, pending datagrams drained with recvmmsg(2) per event up
 * to a batch limit. Send failures are counted and returned, never fatal. A client socket that
 * talks to one peer is connect(2)ed to it (see coap_udp_set_single_peer()). */
#include "lwm2m/error.h"
#include "lwm2m/transport.h"

#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct coap_udp {
    struct coap_transport base;
    int fd;
    uint8_t in_rx;         /* inside the receive callback */
    uint8_t close_pending; /* close() was called from inside the receive callback */
    uint8_t single_peer;   /* may connect(2) to the peer it sends to */
    uint8_t multi_peer;    /* has sent to a second peer since: stays unconnected */
    uint8_t port_locked;   /* bound to an explicit port: a disconnect keeps it */
    struct coap_addr conn; /* the peer the socket is connected to; len 0: not connected */
    struct event *ev;
    struct coap_udp_stats *stats; /* borrowed, may be NULL */
};

static const struct coap_transport_ops udp_ops;

static struct coap_udp *to_udp(struct coap_transport *t) {
    return coap_container_of(t, struct coap_udp, base);
}

static void udp_free(struct coap_udp *u) {
    if (u->ev != NULL)
        event_free(u->ev);
    if (u->fd >= 0)
        close(u->fd);
    free(u);
}

/* Drops the socket's peer: from now on it hears from, and may send to, everyone again. */
static void udp_disconnect(struct coap_udp *u) {
    if (u->conn.len != 0) {
        struct sockaddr unspec = {.sa_family = AF_UNSPEC};
        (void)connect(u->fd, &unspec, sizeof(unspec));
        u->conn.len = 0;
    }
}

/* Nonzero when the datagram can use send(2) on the connected socket, connecting on the first
 * send. A connected socket skips the per-datagram route lookup and address copy of sendto(2)
 * (measured about 0.3 us of the ~3 us a loopback send costs), but hears only its peer: a
 * second peer (another server, or the server's address changed) disconnects it for good. */
static int udp_route(struct coap_udp *u, const struct coap_addr *to) {
    if (!u->single_peer || u->multi_peer)
        return 0;
    if (u->conn.len != 0) {
        /* bytewise equal is the common case and cheaper than coap_addr_cmp()'s field walk */
        if ((to->len == u->conn.len && memcmp(&to->u, &u->conn.u, to->len) == 0) ||
            coap_addr_cmp(&u->conn, to) == 0)
            return 1;
        udp_disconnect(u);
        u->multi_peer = 1;
        return 0;
    }
    if (connect(u->fd, &to->u.sa, to->len) != 0) {
        u->multi_peer = 1; /* sendto() still works: just do without */
        return 0;
    }
    u->conn = *to;
    return 1;
}

/* A connected socket reports an earlier ICMP error (port unreachable while the server was down)
 * on the next send and drops that datagram; an unconnected one ignores ICMP. */
static int udp_icmp_errno(int e) {
    return e == ECONNREFUSED || e == EHOSTUNREACH || e == ENETUNREACH || e == EHOSTDOWN;
}

static int udp_send(struct coap_transport *t, const uint8_t *data, size_t len,
                    const struct coap_addr *to) {
    struct coap_udp *u = to_udp(t);
    int connected = udp_route(u, to), retried = 0;
    ssize_t n;
    for (;;) {
        n = connected ? send(u->fd, data, len, 0) : sendto(u->fd, data, len, 0, &to->u.sa, to->len);
        if (n >= 0 || (errno != EINTR && !(connected && !retried && udp_icmp_errno(errno))))
            break;
        /* EINTR, or a stale ICMP error: send once more, as an unconnected socket would have */
        retried |= errno != EINTR;
    }
    if (n < 0) {
        if (u->stats != NULL)
            u->stats->tx_errors++;
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
            return LWM2M_ERR_AGAIN;
        return LWM2M_ERR_IO;
    }
    if (u->stats != NULL) {
        u->stats->tx_dgrams++;
        u->stats->tx_bytes += (uint64_t)n;
    }
    return 0;
}

static int udp_local_addr(const struct coap_transport *t, struct coap_addr *out) {
    const struct coap_udp *u = coap_container_of(t, const struct coap_udp, base);
    struct sockaddr_in6 ss; /* large enough for both families */
    socklen_t len = sizeof(ss);
    if (getsockname(u->fd, (struct sockaddr *)&ss, &len) != 0)
        return LWM2M_ERR_IO;
    return coap_addr_from_sockaddr(out, (struct sockaddr *)&ss, len);
}

static void udp_close(struct coap_transport *t) {
    struct coap_udp *u = to_udp(t);
    if (u->in_rx) {
        /* The read loop still uses u: it frees it when the callback returns. */
        u->close_pending = 1;
        u->base.on_rx = NULL;
        return;
    }
    udp_free(u);
}

/* Datagrams per recvmmsg(2) call: one syscall drains a typical burst, and the buffers (on the
 * stack of the loop thread, never per transport) stay at 4 x COAP_UDP_MAX_DGRAM. */
#define UDP_MMSG 4

struct udp_rx_batch {
    struct mmsghdr mm[UDP_MMSG];
    struct iovec iov[UDP_MMSG];
    struct sockaddr_in6 from[UDP_MMSG]; /* large enough for both families */
    uint8_t buf[UDP_MMSG][COAP_UDP_MAX_DGRAM];
};

static void udp_deliver(struct coap_udp *u, const struct mmsghdr *mm, const uint8_t *buf) {
    struct coap_addr peer;
    if (mm->msg_hdr.msg_flags & MSG_TRUNC) {
        if (u->stats != NULL)
            u->stats->rx_truncated++;
        return;
    }
    if (coap_addr_from_sockaddr(&peer, mm->msg_hdr.msg_name, mm->msg_hdr.msg_namelen) != 0)
        return;
    if (u->stats != NULL) {
        u->stats->rx_dgrams++;
        u->stats->rx_bytes += mm->msg_len;
    }
    if (u->base.on_rx != NULL)
        u->base.on_rx(u->base.rx_ctx, buf, mm->msg_len, &peer);
}

/* One recvmmsg(2). Returns the number of datagrams read, 0 when the socket is drained. */
static int udp_read_batch(struct coap_udp *u, struct udp_rx_batch *b) {
    for (int i = 0; i < UDP_MMSG; i++) {
        b->iov[i].iov_base = b->buf[i];
        b->iov[i].iov_len = COAP_UDP_MAX_DGRAM;
        memset(&b->mm[i], 0, sizeof(b->mm[i]));
        b->mm[i].msg_hdr.msg_name = &b->from[i];
        b->mm[i].msg_hdr.msg_namelen = sizeof(b->from[i]);
        b->mm[i].msg_hdr.msg_iov = &b->iov[i];
        b->mm[i].msg_hdr.msg_iovlen = 1;
    }
    int n;
    do {
        n = recvmmsg(u->fd, b->mm, UDP_MMSG, MSG_DONTWAIT, NULL);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        /* A queued ICMP error is consumed by this call too; either way the batch ends. Only a
         * connected socket gets them: not counted, as an unconnected one would never see it. */
        if (errno != EAGAIN && errno != EWOULDBLOCK && u->stats != NULL &&
            !(u->conn.len != 0 && udp_icmp_errno(errno)))
            u->stats->rx_errors++;
        return 0;
    }
    for (int i = 0; i < n && !u->close_pending; i++)
        udp_deliver(u, &b->mm[i], b->buf[i]);
    return n;
}

static void udp_on_readable(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    struct coap_udp *u = arg;
    struct udp_rx_batch batch;
    u->in_rx = 1;
    /* Level-triggered: what is left after COAP_UDP_RX_BATCH wakes us on the next loop pass. */
    for (int total = 0; total < COAP_UDP_RX_BATCH && !u->close_pending;) {
        int n = udp_read_batch(u, &batch);
        total += n;
        if (n < UDP_MMSG)
            break; /* drained: no extra syscall just to learn EAGAIN */
    }
    u->in_rx = 0;
    if (u->close_pending)
        udp_free(u);
}

static int udp_socket(const struct coap_addr *bind_addr) {
    int fd = socket(bind_addr->u.sa.sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (bind(fd, &bind_addr->u.sa, bind_addr->len) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

int coap_udp_open(struct event_base *base, const struct coap_addr *bind_addr,
                  struct coap_udp_stats *stats, struct coap_transport **out) {
    if (base == NULL || bind_addr == NULL || bind_addr->len == 0 || out == NULL)
        return LWM2M_ERR_INVALID;
    struct coap_udp *u = calloc(1, sizeof(*u));
    if (u == NULL)
        return LWM2M_ERR_NOMEM;
    u->base.ops = &udp_ops;
    u->stats = stats;
    u->fd = udp_socket(bind_addr);
    if (u->fd < 0) {
        int e = errno;
        free(u);
        errno = e;
        return LWM2M_ERR_IO;
    }
    u->port_locked = coap_addr_port(bind_addr) != 0;
    u->ev = event_new(base, u->fd, EV_READ | EV_PERSIST, udp_on_readable, u);
    if (u->ev == NULL || event_add(u->ev, NULL) != 0) {
        udp_free(u);
        return LWM2M_ERR_NOMEM;
    }
    *out = &u->base;
    return 0;
}

int coap_udp_fd(const struct coap_transport *t) {
    if (t == NULL || t->ops != &udp_ops)
        return -1;
    return coap_container_of(t, const struct coap_udp, base)->fd;
}

/* Linux gives up a port bound as port 0 when a UDP socket disconnects (AF_UNSPEC): the server
 * would see the client move. Binding the socket again to the port it has makes the port
 * explicit, which a disconnect keeps. The disconnect that allows the rebind is the only window
 * in which another socket could take the port: then a fresh one is bound, before any traffic. */
static int udp_lock_port(struct coap_udp *u) {
    struct coap_addr self;
    struct sockaddr unspec = {.sa_family = AF_UNSPEC};
    if (u->port_locked)
        return 0;
    if (udp_local_addr(&u->base, &self) != 0 || connect(u->fd, &unspec, sizeof(unspec)) != 0)
        return LWM2M_ERR_IO;
    if (bind(u->fd, &self.u.sa, self.len) != 0) {
        if (self.u.sa.sa_family == AF_INET)
            self.u.in4.sin_port = 0;
        else
            self.u.in6.sin6_port = 0;
        (void)bind(u->fd, &self.u.sa, self.len);
        return LWM2M_ERR_IO;
    }
    u->port_locked = 1;
    return 0;
}

int coap_udp_set_single_peer(struct coap_transport *t, bool on) {
    if (t == NULL || t->ops != &udp_ops)
        return LWM2M_ERR_INVALID;
    struct coap_udp *u = to_udp(t);
    udp_disconnect(u);
    u->single_peer = 0;
    u->multi_peer = 0;
    if (!on)
        return 0;
    int rc = udp_lock_port(u);
    u->single_peer = rc == 0;
    return rc;
}

static const struct coap_transport_ops udp_ops = {
    .name = "udp",
    .send = udp_send,
    .local_addr = udp_local_addr,
    .close = udp_close,
};
