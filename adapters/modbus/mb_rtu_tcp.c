/* SPDX-License-Identifier: Apache-2.0 */
/* The RTU-over-TCP bus: RTU frames (mb_rtu.c) on a TCP stream to a serial-to-Ethernet converter
 * or an RS-485 gateway, behind the same struct mb_bus as libmodbus. Runs on the link worker
 * only; the socket is non-blocking and every wait is a poll() bounded by the link's timeouts.
 * See mb_rtu.c for why this is our own client rather than libmodbus on a pseudo-terminal. */
#include <errno.h>
#include <fcntl.h>
#include <modbus/modbus.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "modbus/mb_internal.h"

struct mb_rtu_tcp {
    struct mb_bus base;
    const struct mb_link_cfg *l;
    int fd;
};

static struct mb_rtu_tcp *mb_rtu_tcp_of(struct mb_bus *b) {
    return (struct mb_rtu_tcp *)(void *)((char *)b - offsetof(struct mb_rtu_tcp, base));
}

static int64_t mb_rtu_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until fd is ready for events or the monotonic deadline passes: 1, 0 (timeout), or a
 * negative errno. */
static int mb_rtu_wait(int fd, short events, int64_t deadline) {
    for (;;) {
        struct pollfd p = {.fd = fd, .events = events};
        int64_t left = deadline - mb_rtu_now_ms();
        int rc = poll(&p, 1, left > 0 ? (int)left : 0);
        if (rc > 0)
            return 1;
        if (rc == 0)
            return 0;
        if (errno != EINTR)
            return -errno;
    }
}

/* Discards whatever is waiting (late answers of timed-out requests, line noise): RTU frames carry
 * no transaction id, so a stale answer would otherwise be taken for the next one. */
static int mb_rtu_drain(int fd) {
    uint8_t junk[MB_RTU_MAX_ADU];
    for (;;) {
        ssize_t n = recv(fd, junk, sizeof(junk), MSG_DONTWAIT);
        if (n > 0)
            continue;
        if (n == 0)
            return -ECONNRESET;
        if (errno == EINTR)
            continue;
        return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
    }
}

static int mb_rtu_send(int fd, const uint8_t *p, size_t n, int64_t deadline) {
    while (n > 0) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (k > 0) {
            p += k;
            n -= (size_t)k;
            continue;
        }
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            return -errno;
        k = mb_rtu_wait(fd, POLLOUT, deadline);
        if (k <= 0)
            return k == 0 ? -ETIMEDOUT : (int)k;
    }
    return 0;
}

/* Reads one answer frame into buf, never past its end (the stream holds nothing else we may
 * consume). Returns its length or a negative errno as for mb_rtu_transact. */
static int mb_rtu_recv_frame(int fd, uint32_t timeout_ms, uint8_t *buf) {
    size_t got = 0;
    int want = 0;
    int64_t first_end = mb_rtu_now_ms() + timeout_ms, frame_end = 0;
    for (;;) {
        /* Until the header says otherwise, ask for the 3 bytes every answer starts with. */
        size_t need = want > 0 ? (size_t)want : 3;
        int64_t until = got == 0 ? first_end : mb_rtu_now_ms() + MB_RTU_BYTE_TIMEOUT_MS;
        int rc = mb_rtu_wait(fd, POLLIN, got == 0 || until < frame_end ? until : frame_end);
        ssize_t n;
        if (rc <= 0)
            return rc < 0 ? rc : got ? -EMBBADDATA : -ETIMEDOUT; /* silence after a partial frame */
        n = recv(fd, buf + got, need - got, MSG_DONTWAIT);
        if (n == 0)
            return -ECONNRESET;
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
                continue;
            return -errno;
        }
        if (got == 0) /* a peer trickling bytes must not hold the worker (and stop) for minutes */
            frame_end = mb_rtu_now_ms() + MB_RTU_FRAME_MAX_MS;
        got += (size_t)n;
        if (want == 0 && (want = mb_rtu_answer_len(buf, got)) < 0)
            return want;
        if (want > 0 && got == (size_t)want)
            return want;
    }
}

int mb_rtu_transact(int fd, uint32_t timeout_ms, const struct mb_rtu_req *r, const uint16_t *wregs,
                    const uint8_t *wbits, uint16_t *regs, uint8_t *bits) {
    uint8_t adu[MB_RTU_MAX_ADU];
    int n = mb_rtu_build(r, wregs, wbits, adu, sizeof(adu));
    int rc;
    if (n < 0)
        return n;
    if ((rc = mb_rtu_drain(fd)) < 0)
        return rc;
    if ((rc = mb_rtu_send(fd, adu, (size_t)n, mb_rtu_now_ms() + timeout_ms)) < 0)
        return rc;
    if (r->unit == 0 && r->fc >= 5)
        return 0; /* a broadcast write: no unit answers it */
    if ((n = mb_rtu_recv_frame(fd, timeout_ms, adu)) < 0)
        return n;
    return mb_rtu_parse(r, adu, (size_t)n, regs, bits);
}

/* ---- struct mb_bus ---- */

static int mb_rtu_tcp_open(const struct mb_link_cfg *l, const struct addrinfo *ai) {
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1, rc = 0, err = 0;
    socklen_t len = sizeof(err);
    if (fd < 0)
        return -errno;
    /* Small request/answer frames: Nagle would hold a request back for the previous ACK. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        if (errno != EINPROGRESS)
            rc = -errno;
        else if ((rc = mb_rtu_wait(fd, POLLOUT, mb_rtu_now_ms() + l->timeout_ms)) == 0)
            rc = -ETIMEDOUT;
        else if (rc > 0)
            rc = getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 ? -errno : -err;
    }
    if (rc < 0) {
        close(fd);
        return rc;
    }
    return fd;
}

static int mb_rtu_tcp_connect(struct mb_bus *b, int *warn) {
    struct mb_rtu_tcp *t = mb_rtu_tcp_of(b);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST}, *res = NULL;
    char port[8];
    int fd;
    *warn = 0;
    if (t->fd >= 0)
        return 0;
    snprintf(port, sizeof(port), "%u", (unsigned)t->l->port);
    /* Numeric only, like libmodbus: the bridge resolves names once, not on every reconnect. */
    if (getaddrinfo(t->l->host, port, &hints, &res) != 0 || !res)
        return -EINVAL;
    fd = mb_rtu_tcp_open(t->l, res);
    freeaddrinfo(res);
    if (fd < 0)
        return fd;
    t->fd = fd;
    return 0;
}

static void mb_rtu_tcp_close(struct mb_bus *b) {
    struct mb_rtu_tcp *t = mb_rtu_tcp_of(b);
    if (t->fd >= 0)
        close(t->fd);
    t->fd = -1;
}

static void mb_rtu_tcp_flush(struct mb_bus *b) {
    struct mb_rtu_tcp *t = mb_rtu_tcp_of(b);
    if (t->fd >= 0)
        (void)mb_rtu_drain(t->fd); /* a closed peer shows on the next request */
}

static int mb_rtu_tcp_read(struct mb_bus *b, uint8_t unit, uint8_t fc, uint16_t addr,
                           uint16_t count, uint16_t *regs, uint8_t *bits) {
    struct mb_rtu_tcp *t = mb_rtu_tcp_of(b);
    struct mb_rtu_req r = {.unit = unit, .fc = fc, .addr = addr, .count = count};
    if (t->fd < 0)
        return -ENOTCONN;
    return mb_rtu_transact(t->fd, t->l->timeout_ms, &r, NULL, NULL, regs, bits);
}

static int mb_rtu_tcp_write(struct mb_bus *b, uint8_t unit, uint8_t fc, uint16_t addr,
                            uint16_t count, const uint16_t *regs, const uint8_t *bits) {
    struct mb_rtu_tcp *t = mb_rtu_tcp_of(b);
    struct mb_rtu_req r = {.unit = unit, .fc = fc, .addr = addr, .count = count};
    if (t->fd < 0)
        return -ENOTCONN;
    if (fc == 5 || fc == 6) {
        if (fc == 5 ? !bits : !regs)
            return -EINVAL;
        r.value = fc == 5 ? bits[0] : regs[0];
    }
    return mb_rtu_transact(t->fd, t->l->timeout_ms, &r, regs, bits, NULL, NULL);
}

static void mb_rtu_tcp_destroy(struct mb_bus *b) {
    mb_rtu_tcp_close(b);
    free(mb_rtu_tcp_of(b));
}

static const struct mb_bus_ops mb_rtu_tcp_ops = {
    .connect = mb_rtu_tcp_connect,
    .close = mb_rtu_tcp_close,
    .flush = mb_rtu_tcp_flush,
    .read = mb_rtu_tcp_read,
    .write = mb_rtu_tcp_write,
    .destroy = mb_rtu_tcp_destroy,
    .resync_by_reconnect = false, /* stale bytes are drained before every request */
    .stream = true,
};

struct mb_bus *mb_rtu_tcp_new(const struct mb_link_cfg *l) {
    struct mb_rtu_tcp *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->base.ops = &mb_rtu_tcp_ops;
    t->l = l;
    t->fd = -1;
    return &t->base;
}
