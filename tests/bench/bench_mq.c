/* SPDX-License-Identifier: Apache-2.0 */
/* MQTT adapter bench: starts Debian's mosquitto on a free loopback port, subscribes through the
 * adapter on a libevent loop, and publishes from a second thread over a raw MQTT 3.1.1 socket.
 * Reports messages in -> values out per second (a burst), and p50/p99 latency (publisher's send
 * time carried in the payload -> on_value) at a paced 10,000 messages/s. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "mqtt/mq.h"

#define BURST_N   200000
#define PACED_HZ  10000
#define PACED_SEC 3

struct bench {
    struct event_base *base;
    uint64_t target;
    uint64_t got;
    uint64_t first_ns;
    uint64_t last_ns;
    uint64_t *lat; /* paced phase: one latency per message */
    size_t n_lat;
    size_t cap_lat;
};

struct pub_args {
    int port;
    size_t n;
    unsigned rate; /* messages per second; 0 = as fast as possible */
};

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int free_port(void) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof(a);
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        getsockname(s, (struct sockaddr *)&a, &l) != 0) {
        return -1;
    }
    close(s);
    return ntohs(a.sin_port);
}

static int tcp_connect(int port) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (s >= 0 && connect(s, (struct sockaddr *)&a, sizeof(a)) == 0) {
        return s;
    }
    if (s >= 0) {
        close(s);
    }
    return -1;
}

static pid_t start_broker(int port, char *dir) {
    char conf[300];
    snprintf(conf, sizeof(conf), "%s/mosquitto.conf", dir);
    FILE *f = fopen(conf, "w");
    if (f == NULL) {
        return -1;
    }
    fprintf(f, "listener %d 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\n", port);
    fclose(f);
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", 1);
        dup2(null, 1);
        dup2(null, 2);
        execl("/usr/sbin/mosquitto", "mosquitto", "-c", conf, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 100; i++) {
        int s = tcp_connect(port);
        if (s >= 0) {
            close(s);
            return pid;
        }
        usleep(20000);
    }
    return -1;
}

static int send_all(int s, const uint8_t *p, size_t n) {
    while (n > 0) {
        ssize_t w = send(s, p, n, MSG_NOSIGNAL);
        if (w <= 0) {
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* QoS 0 PUBLISH to bench/d1/v whose payload is the send time in ns (decimal text). */
static size_t build_publish(uint8_t *buf, uint64_t t) {
    static const char topic[] = "bench/d1/v";
    char payload[32];
    int pl = snprintf(payload, sizeof(payload), "%llu", (unsigned long long)t);
    size_t tl = sizeof(topic) - 1;
    size_t rem = 2 + tl + (size_t)pl;
    buf[0] = 0x30;
    buf[1] = (uint8_t)rem; /* < 128 */
    buf[2] = 0;
    buf[3] = (uint8_t)tl;
    memcpy(buf + 4, topic, tl);
    memcpy(buf + 4 + tl, payload, (size_t)pl);
    return 4 + tl + (size_t)pl;
}

static void *publisher(void *arg) {
    const struct pub_args *pa = arg;
    int s = tcp_connect(pa->port);
    static const uint8_t connect_pkt[] = {0x10, 12, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 60, 0, 0};
    uint8_t ack[4];
    if (s < 0 || send_all(s, connect_pkt, sizeof(connect_pkt)) != 0 ||
        recv(s, ack, sizeof(ack), MSG_WAITALL) != 4) {
        fprintf(stderr, "bench: publisher could not connect\n");
        return NULL;
    }
    uint8_t buf[64 * 64];
    size_t sent = 0;
    uint64_t start = now_ns();
    while (sent < pa->n) {
        size_t batch = pa->rate == 0 ? 64 : pa->rate / 1000; /* paced: one batch per ms */
        batch = batch == 0 ? 1 : batch;
        size_t off = 0;
        if (pa->rate != 0) {
            uint64_t due = start + (uint64_t)sent * 1000000000u / pa->rate;
            while (now_ns() < due) {
                struct timespec ts = {0, 50000};
                nanosleep(&ts, NULL);
            }
        }
        for (size_t i = 0; i < batch && sent < pa->n; i++, sent++) {
            off += build_publish(buf + off, now_ns());
        }
        if (send_all(s, buf, off) != 0) {
            break;
        }
    }
    static const uint8_t disc[] = {0xe0, 0};
    send_all(s, disc, sizeof(disc));
    usleep(200000);
    close(s);
    return NULL;
}

static void on_value(void *ctx, void *user, const struct adapter_value *v) {
    (void)user;
    struct bench *b = ctx;
    uint64_t t = now_ns();
    if (b->got == 0) {
        b->first_ns = t;
    }
    b->last_ns = t;
    b->got++;
    if (b->lat != NULL && v->type == ADAPTER_V_INT && b->n_lat < b->cap_lat) {
        b->lat[b->n_lat++] = t - (uint64_t)v->v.i;
    }
    if (b->got >= b->target) {
        event_base_loopbreak(b->base);
    }
}

static void on_state(void *ctx, void *scope, enum adapter_state st, const char *detail) {
    (void)scope;
    (void)detail;
    if (st == ADAPTER_STATE_UP) {
        event_base_loopbreak(((struct bench *)ctx)->base);
    }
}

static void on_deadline(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    event_base_loopbreak(arg);
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int run_phase(struct bench *b, int port, size_t n, unsigned rate) {
    struct pub_args pa = {.port = port, .n = n, .rate = rate};
    pthread_t th;
    b->target = n;
    b->got = 0;
    struct event *dl = evtimer_new(b->base, on_deadline, b->base);
    struct timeval tv = {.tv_sec = 60};
    evtimer_add(dl, &tv);
    pthread_create(&th, NULL, publisher, &pa);
    event_base_dispatch(b->base);
    pthread_join(th, NULL);
    event_free(dl);
    return b->got == n ? 0 : -ETIMEDOUT;
}

int main(void) {
    char dir[] = "/tmp/gw-bench-mq-XXXXXX";
    int port = free_port();
    if (mkdtemp(dir) == NULL || port < 0) {
        return 1;
    }
    pid_t broker = start_broker(port, dir);
    if (broker < 0) {
        fprintf(stderr, "bench: mosquitto did not start\n");
        return 1;
    }
    struct bench b = {.base = event_base_new()};
    struct mq_point_cfg pt = {.name = "v", .topic = "bench/{device}/v", .type = ADAPTER_V_INT};
    pt.user = &pt;
    struct mq_device_cfg dev = {.name = "d1", .points = &pt, .n_points = 1, .user = &dev};
    struct mq_adapter_cfg cfg = {
        .conn = {.name = "bench", .port = (uint16_t)port, .clean_session = true},
        .devices = &dev,
        .n_devices = 1};
    struct adapter_sink sink = {.on_value = on_value, .on_state = on_state, .ctx = &b};
    struct adapter *a = NULL;
    int rc = mq_adapter_ops.create(&cfg, b.base, &sink, &a);
    rc = rc != 0 ? rc : a->ops->start(a);
    if (rc == 0) {
        event_base_dispatch(b.base); /* until UP */
        rc = run_phase(&b, port, BURST_N, 0);
    }
    if (rc == 0) {
        double s = (double)(b.last_ns - b.first_ns) / 1e9;
        printf("bench_mq burst: %d messages in -> values out in %.3f s: %.0f values/s\n", BURST_N,
               s, BURST_N / s);
        b.cap_lat = (size_t)PACED_HZ * PACED_SEC;
        b.lat = calloc(b.cap_lat, sizeof(uint64_t));
        rc = run_phase(&b, port, b.cap_lat, PACED_HZ);
    }
    if (rc == 0 && b.n_lat > 0) {
        qsort(b.lat, b.n_lat, sizeof(uint64_t), cmp_u64);
        printf("bench_mq paced %d/s for %d s: latency p50 %.3f ms, p99 %.3f ms, max %.3f ms\n",
               PACED_HZ, PACED_SEC, (double)b.lat[b.n_lat / 2] / 1e6,
               (double)b.lat[b.n_lat * 99 / 100] / 1e6, (double)b.lat[b.n_lat - 1] / 1e6);
    } else if (rc != 0) {
        fprintf(stderr, "bench: failed (%d), %llu values\n", rc, (unsigned long long)b.got);
    }
    if (a != NULL) {
        a->ops->destroy(a);
    }
    free(b.lat);
    event_base_free(b.base);
    kill(broker, SIGTERM);
    waitpid(broker, NULL, 0);
    char conf[300];
    snprintf(conf, sizeof(conf), "%s/mosquitto.conf", dir);
    unlink(conf);
    rmdir(dir);
    return rc == 0 ? 0 : 1;
}
