/* SPDX-License-Identifier: Apache-2.0 */
/* Bench of the Modbus adapter on TCP loopback: points per second delivered to the sink for the
 * 60-point meter map polled as fast as the link allows, planned (merged requests) versus one
 * request per point, against an in-process libmodbus slave thread.
 * Run: build/tests/bench/bench_mb_tcp [seconds]   (default 3) */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <modbus/modbus.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../unit/mb_meter_map.h"
#include "modbus/mb.h"

struct slave {
    modbus_t *ctx;
    modbus_mapping_t *map;
    int listen_fd;
    int port;
};

/* Serves one connection at a time until the process exits (a bench, not a server). */
static void *slave_main(void *arg) {
    struct slave *s = arg;
    uint8_t q[MODBUS_TCP_MAX_ADU_LENGTH];
    for (;;) {
        int fd = modbus_tcp_accept(s->ctx, &s->listen_fd);
        if (fd < 0)
            return NULL;
        for (;;) {
            int len = modbus_receive(s->ctx, q);
            if (len < 0)
                break;
            if (len > 0)
                modbus_reply(s->ctx, q, len, s->map);
        }
        close(fd);
    }
}

static int slave_start(struct slave *s, pthread_t *th) {
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    /* Port 0: the kernel picks a free one; read it back from the listening socket. */
    s->ctx = modbus_new_tcp("127.0.0.1", 0);
    s->map = modbus_mapping_new(16, 0, 6000, 400);
    if (!s->ctx || !s->map || (s->listen_fd = modbus_tcp_listen(s->ctx, 4)) < 0)
        return -1;
    if (getsockname(s->listen_fd, (struct sockaddr *)&sa, &sl) < 0)
        return -1;
    s->port = ntohs(sa.sin_port);
    return pthread_create(th, NULL, slave_main, s) == 0 ? 0 : -1;
}

struct counter {
    unsigned long long values, bad;
};

static void on_value(void *ctx, void *user, const struct adapter_value *v) {
    struct counter *c = ctx;
    (void)user;
    if (v->quality == ADAPTER_Q_GOOD)
        c->values++;
    else
        c->bad++;
}

static void on_stop(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    event_base_loopbreak(arg);
}

/* Runs the adapter for secs on devs/n_devs; prints points/s and requests/s. */
static int run(const char *label, int port, struct mb_device_cfg *devs, size_t n_devs,
               double secs) {
    struct event_base *base = event_base_new();
    struct counter c = {0, 0};
    struct adapter_sink sink = {.on_value = on_value, .ctx = &c};
    struct mb_adapter_cfg cfg = {.link = {.name = "bench",
                                          .transport = MB_TRANSPORT_TCP,
                                          .host = "127.0.0.1",
                                          .port = (uint16_t)port,
                                          .timeout_ms = 1000},
                                 .devices = devs,
                                 .n_devices = n_devs};
    struct timeval tv = {(time_t)secs, (suseconds_t)((secs - (double)(long)secs) * 1e6)};
    struct event *stop = evtimer_new(base, on_stop, base);
    struct adapter *ad;
    struct mb_stats st;
    if (mb_adapter_ops.create(&cfg, base, &sink, &ad) < 0 || ad->ops->start(ad) < 0)
        return -1;
    evtimer_add(stop, &tv);
    event_base_dispatch(base);
    mb_adapter_stats(ad, &st);
    ad->ops->destroy(ad);
    printf("%-16s points/s=%.0f requests/s=%.0f points/request=%.1f (bad=%llu)\n", label,
           (double)c.values / secs, (double)st.requests / secs,
           st.requests ? (double)st.values / (double)st.requests : 0.0, c.bad);
    event_free(stop);
    event_base_free(base);
    return 0;
}

#define METERS 10 /* meters on the link (unit ids 1..10), so the link is never idle */

int main(int argc, char **argv) {
    static struct mb_point_cfg pts[MB_METER_POINTS];
    static struct mb_device_cfg meters[METERS], per_point[METERS * MB_METER_POINTS];
    double secs = argc > 1 ? atof(argv[1]) : 3.0;
    struct slave s;
    pthread_t th;
    mb_meter_map(pts);
    if (slave_start(&s, &th) < 0) {
        fprintf(stderr, "slave: %s\n", modbus_strerror(errno));
        return 1;
    }
    for (size_t m = 0; m < METERS; m++) {
        meters[m] = (struct mb_device_cfg){.name = "meter",
                                           .unit = (uint8_t)(m + 1),
                                           .poll_ms = 1,
                                           .max_gap = 4,
                                           .points = pts,
                                           .n_points = MB_METER_POINTS};
        /* The same points, each its own "device": the adapter then sends one request per
         * point, which is what a naive poller does. */
        for (size_t i = 0; i < MB_METER_POINTS; i++)
            per_point[m * MB_METER_POINTS + i] = (struct mb_device_cfg){.name = "p",
                                                                        .unit = (uint8_t)(m + 1),
                                                                        .poll_ms = 1,
                                                                        .points = &pts[i],
                                                                        .n_points = 1};
    }
    printf("%d x 60-point meter map on one TCP loopback link, libmodbus slave thread, polled "
           "as fast as the link allows, %.1f s each\n",
           METERS, secs);
    if (run("planned", s.port, meters, METERS, secs) < 0 ||
        run("one-per-point", s.port, per_point, METERS * MB_METER_POINTS, secs) < 0)
        return 1;
    /* A shut-down listening socket makes accept fail, which ends the slave thread. */
    shutdown(s.listen_fd, SHUT_RDWR);
    pthread_join(th, NULL);
    close(s.listen_fd);
    modbus_mapping_free(s.map);
    modbus_free(s.ctx);
    return 0;
}
