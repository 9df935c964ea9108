/* SPDX-License-Identifier: Apache-2.0 */
/* bench_notify: Information Reporting on one core, in one process on loopback. N endpoints
 * register with a minimal resource directory that then observes /3303/0/5700 on each; after
 * that a plain UDP socket on the directory's port swallows the notifications. We report
 * notifications per second (value change in the store + lwm2m_endpoint_changed + the deferred
 * pass + encode + sendto) and the latency from the change to the notification's sendto having
 * returned (p50/p99), each next to a bare sendto loop of the same datagram size in the same run.
 * Usage: bench_notify [N=100] [rounds=2000] [latency-samples=20000] */
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lwm2m/engine.h"
#include "bench_rd.h"
#include "lwm2m/error.h"
#include "lwm2m/memstore.h"
#include "lwm2m/report.h"

struct bench {
    struct event_base *base;
    struct lwm2m_model *model;
    struct lwm2m_engine *eng;
    struct coap_env env;
    struct coap_transport *rd_tp;
    struct coap_endpoint *rd_ep;
    struct bench_rd rd;
    size_t observed, next_obs;
};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int rd_handle(void *ctx, struct coap_endpoint *ep, const struct coap_incoming *in) {
    bool registered;
    return bench_rd_answer(&((struct bench *)ctx)->rd, ep, in, &registered);
}

static void on_event(void *ctx, const struct lwm2m_event *ev) {
    struct bench *b = ctx;
    size_t reg = 0, total = lwm2m_engine_endpoints(b->eng, &reg);
    if (ev->type == LWM2M_EV_REGISTERED && reg == total && total == b->rd.want)
        event_base_loopbreak(b->base);
}

static void on_observed(void *ctx, int err, const struct coap_msg *resp, const struct coap_addr *p);

/* GET Observe=0 on the next endpoint (a few in flight: the directory's exchange table is small). */
static int observe_next(struct bench *b) {
    struct coap_msg req;
    if (b->next_obs >= b->rd.npeers)
        return 0;
    coap_msg_init(&req, COAP_TYPE_CON, COAP_GET, 0);
    coap_msg_add_opt_uint(&req, COAP_OPT_OBSERVE, 0);
    coap_msg_add_path(&req, COAP_OPT_URI_PATH, "3303/0/5700");
    return coap_request(b->rd_ep, &b->rd.peers[b->next_obs++], &req, on_observed, b, NULL);
}

static void on_observed(void *ctx, int err, const struct coap_msg *resp,
                        const struct coap_addr *p) {
    struct bench *b = ctx;
    (void)p;
    if (err == 0 && resp->code == COAP_205_CONTENT && coap_msg_opt(resp, COAP_OPT_OBSERVE))
        b->observed++;
    if (b->observed == b->rd.want || err != 0 || observe_next(b) != 0)
        event_base_loopbreak(b->base);
}

static int setup(struct bench *b, struct lwm2m_memstore **st, struct lwm2m_endpoint **eps) {
    struct coap_addr any, rd;
    char uri[64], host[48];
    coap_addr_parse(&any, "127.0.0.1", 0);
    if (coap_udp_open(b->base, &any, NULL, &b->rd_tp) != 0 ||
        coap_endpoint_new(&b->env, b->rd_tp, rd_handle, b, &b->rd_ep) != 0 ||
        coap_transport_local_addr(b->rd_tp, &rd) != 0)
        return -1;
    coap_addr_format(&rd, host, sizeof(host));
    snprintf(uri, sizeof(uri), "coap://%s", host);
    struct lwm2m_server_cfg srv = {
        .uri = uri, .ssid = 1, .lifetime = 3600, .version_minor = 1, .sec_mode = LWM2M_SEC_NOSEC};
    /* A NON stream's periodic CON would get a RST from the sink: keep it out of the run. */
    struct lwm2m_report_cfg rcfg = {.con_every = 65535};
    for (size_t i = 0; i < b->rd.want; i++) {
        char name[48];
        snprintf(name, sizeof(name), "urn:dev:bench:%zu", i);
        struct lwm2m_endpoint_cfg cfg = {
            .name = name, .servers = &srv, .nservers = 1, .bind_host = "127.0.0.1"};
        struct lwm2m_path p = lwm2m_path_make(3, 3303, 0, 5700, 0);
        struct lwm2m_value v = lwm2m_value_float(21.5);
        if (lwm2m_memstore_new(b->model, &st[i]) != 0 || lwm2m_memstore_set(st[i], &p, &v) != 0 ||
            lwm2m_endpoint_add(b->eng, &cfg, &lwm2m_memstore_provider, st[i], &eps[i]) != 0 ||
            lwm2m_endpoint_set_report(eps[i], &rcfg) != 0)
            return -1;
    }
    event_base_dispatch(b->base); /* until every endpoint is registered */
    for (int k = 0; k < 16; k++)
        if (observe_next(b) != 0)
            return -1;
    event_base_dispatch(b->base); /* until every observation is established */
    return b->observed == b->rd.want ? 0 : -1;
}

/* The directory's socket is replaced by a plain one on the same port that only drains. */
static int sink_open(struct bench *b, struct sockaddr_in *to) {
    struct coap_addr rd;
    coap_transport_local_addr(b->rd_tp, &rd);
    coap_endpoint_free(b->rd_ep);
    coap_transport_close(b->rd_tp);
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    int big = 8 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
    memcpy(to, &rd.u.in4, sizeof(*to));
    return bind(fd, (struct sockaddr *)to, sizeof(*to)) == 0 ? fd : -1;
}

static void drain(int fd) {
    char buf[2048];
    while (recv(fd, buf, sizeof(buf), 0) > 0)
        ;
}

static void change(struct lwm2m_memstore *ms, struct lwm2m_endpoint *ep, double v) {
    struct lwm2m_path p = lwm2m_path_make(3, 3303, 0, 5700, 0);
    struct lwm2m_value val = lwm2m_value_float(v);
    lwm2m_memstore_set(ms, &p, &val);
    lwm2m_endpoint_changed(ep, &p);
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void pct(double *v, size_t n, double *p50, double *p99) {
    qsort(v, n, sizeof(*v), cmp_d);
    *p50 = v[n / 2] * 1e6;
    *p99 = v[(size_t)((double)n * 0.99)] * 1e6;
}

int main(int argc, char **argv) {
    struct bench b = {0};
    b.rd.want = argc > 1 ? strtoul(argv[1], NULL, 10) : 100;
    size_t rounds = argc > 2 ? strtoul(argv[2], NULL, 10) : 2000;
    size_t samples = argc > 3 ? strtoul(argv[3], NULL, 10) : 20000;
    b.base = event_base_new();
    lwm2m_model_new(&b.model);
    lwm2m_model_seal(b.model);
    coap_env_init(&b.env, b.base);
    struct lwm2m_engine_cfg ecfg = {
        .base = b.base, .model = b.model, .on_event = on_event, .event_ctx = &b};
    struct lwm2m_memstore **st = calloc(b.rd.want, sizeof(*st));
    struct lwm2m_endpoint **eps = calloc(b.rd.want, sizeof(*eps));
    double *lat = malloc(samples * sizeof(*lat)), *bare = malloc(samples * sizeof(*bare));
    b.rd.peers = calloc(b.rd.want, sizeof(*b.rd.peers));
    struct sockaddr_in to;
    int sink = -1;
    if (st == NULL || eps == NULL || lat == NULL || bare == NULL || b.rd.peers == NULL ||
        lwm2m_engine_new(&ecfg, &b.eng) != 0 || setup(&b, st, eps) != 0 ||
        (sink = sink_open(&b, &to)) < 0) {
        fprintf(stderr, "bench_notify: setup failed (%zu registered, %zu observed)\n", b.rd.npeers,
                b.observed);
        return 1;
    }
    const struct lwm2m_report_stats *rs = lwm2m_engine_report_stats(b.eng);

    /* Throughput: every endpoint's value changes, then one loop pass sends them all. */
    uint64_t n0 = rs->notifications;
    double t0 = now_s();
    for (size_t r = 0; r < rounds; r++) {
        for (size_t i = 0; i < b.rd.want; i++)
            change(st[i], eps[i], (double)(r * 7 + i) / 10.0);
        event_base_loop(b.base, EVLOOP_NONBLOCK);
        drain(sink);
    }
    double el = now_s() - t0;
    uint64_t sent = rs->notifications - n0;
    double rate = (double)sent / el;

    /* The same number of bare sendto() calls of a notification-sized datagram. */
    char dgram[24] = {0x50, 0x45}; /* NON 2.05, token and Observe as a notification has them */
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    t0 = now_s();
    for (uint64_t k = 0; k < sent; k++) {
        sendto(fd, dgram, sizeof(dgram), 0, (struct sockaddr *)&to, sizeof(to));
        if (k % b.rd.want == 0)
            drain(sink);
    }
    double bare_rate = (double)sent / (now_s() - t0);

    /* Latency: one change, one pass; the notification has left when the pass returns. */
    for (size_t k = 0; k < samples; k++) {
        double s = now_s();
        change(st[k % b.rd.want], eps[k % b.rd.want], (double)k);
        event_base_loop(b.base, EVLOOP_NONBLOCK);
        lat[k] = now_s() - s;
        s = now_s();
        sendto(fd, dgram, sizeof(dgram), 0, (struct sockaddr *)&to, sizeof(to));
        bare[k] = now_s() - s;
        if (k % 64 == 0)
            drain(sink);
    }
    double p50, p99, b50, b99;
    pct(lat, samples, &p50, &p99);
    pct(bare, samples, &b50, &b99);
    printf("notify: %.0f notifications/s on one core (%llu in %.2f s, %zu endpoints, NON, text)\n",
           rate, (unsigned long long)sent, el, b.rd.want);
    printf("bare:   %.0f sendto/s of a %zu-byte datagram; notify/bare = %.2f\n", bare_rate,
           sizeof(dgram), rate / bare_rate);
    printf("latency change->sendto: p50 %.1f us, p99 %.1f us; bare sendto p50 %.1f us, p99 %.1f "
           "us; ratio p50 %.1f, p99 %.1f\n",
           p50, p99, b50, b99, p50 / b50, p99 / b99);
    printf("dropped %llu\n", (unsigned long long)rs->notify_dropped);
    close(fd);
    close(sink);
    lwm2m_engine_free(b.eng);
    for (size_t i = 0; i < b.rd.want; i++)
        lwm2m_memstore_free(st[i]);
    free(st);
    free(eps);
    free(lat);
    free(bare);
    free(b.rd.peers);
    lwm2m_model_free(b.model);
    event_base_free(b.base);
    return 0;
}
