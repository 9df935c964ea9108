/* SPDX-License-Identifier: Apache-2.0 */
/* bench_lwm2m: the engine at scale, in one process on loopback. N endpoints (each its own UDP
 * socket and in-memory store) register with a minimal resource directory; we report registrations
 * per second, resident memory per endpoint beyond the first, CPU used while idle, and Read
 * requests (GET /3/0/2, text) served per second with many requests outstanding.
 * Usage: bench_lwm2m [N=10000] [read-seconds=3] */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lwm2m/engine.h"
#include "bench_rd.h"
#include "bench_util.h"
#include "lwm2m/error.h"
#include "lwm2m/memstore.h"

#define READERS 64 /* Read requests the server keeps in flight */

struct bench;
struct reader_ctx {
    struct bench *b;
    int k;
};

struct bench {
    struct event_base *base;
    struct lwm2m_model *model;
    struct lwm2m_engine *eng;
    struct coap_env env;
    struct coap_transport *rd_tp;
    struct coap_endpoint *rd_ep; /* the server side: the directory and the reads */
    struct bench_rd rd;          /* the resource directory; its peers in registration order */
    struct reader_ctx rctx[READERS];
    uint64_t reads, read_errors;
    size_t rr;
    int stop;
};

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

/* The device's resources: bench_fill_device()'s and a Manufacturer /3/0/0. */
static void fill(struct lwm2m_memstore *ms, size_t i) {
    bench_fill_device(ms, i);
    struct lwm2m_path p = lwm2m_path_make(3, 3, 0, 0, 0);
    struct lwm2m_value v = lwm2m_value_string("bench", 5);
    lwm2m_memstore_set(ms, &p, &v);
}

static void read_next(struct bench *b, int k);

static void on_read_done(void *ctx, int err, const struct coap_msg *resp,
                         const struct coap_addr *p) {
    struct reader_ctx *rc = ctx;
    if (err != 0 || resp->code != COAP_205_CONTENT)
        rc->b->read_errors++;
    else
        rc->b->reads++;
    if (!rc->b->stop)
        read_next(rc->b, rc->k);
}

static void read_next(struct bench *b, int k) {
    struct coap_msg req;
    coap_msg_init(&req, COAP_TYPE_CON, COAP_GET, 0);
    coap_msg_add_path(&req, COAP_OPT_URI_PATH, "3/0/2");
    const struct coap_addr *to = &b->rd.peers[b->rr++ % b->rd.npeers];
    if (coap_request(b->rd_ep, to, &req, on_read_done, &b->rctx[k], NULL) != 0)
        b->read_errors++;
}

static void stop_cb(evutil_socket_t fd, short what, void *arg) {
    struct bench *b = arg;
    b->stop = 1;
    event_base_loopexit(b->base, NULL);
}

static int setup_rd(struct bench *b, struct coap_addr *rd_addr) {
    struct coap_addr any;
    coap_addr_parse(&any, "127.0.0.1", 0);
    if (coap_udp_open(b->base, &any, NULL, &b->rd_tp) != 0 ||
        coap_endpoint_new(&b->env, b->rd_tp, rd_handle, b, &b->rd_ep) != 0)
        return -1;
    return coap_transport_local_addr(b->rd_tp, rd_addr);
}

static int add_endpoints(struct bench *b, struct lwm2m_memstore **stores, size_t from, size_t to,
                         const char *uri) {
    struct lwm2m_server_cfg srv = {
        .uri = uri, .ssid = 1, .lifetime = 3600, .version_minor = 1, .sec_mode = LWM2M_SEC_NOSEC};
    for (size_t i = from; i < to; i++) {
        char name[48];
        snprintf(name, sizeof(name), "urn:dev:bench:%zu", i);
        struct lwm2m_endpoint_cfg cfg = {
            .name = name, .servers = &srv, .nservers = 1, .bind_host = "127.0.0.1"};
        if (lwm2m_memstore_new(b->model, &stores[i]) != 0)
            return -1;
        fill(stores[i], i);
        if (lwm2m_endpoint_add(b->eng, &cfg, &lwm2m_memstore_provider, stores[i], NULL) != 0) {
            fprintf(stderr, "endpoint %zu: cannot add (file descriptors? ulimit -n)\n", i);
            return -1;
        }
    }
    return 0;
}

/* Adds endpoints [from, to) and runs the loop until all are registered; returns seconds. */
static double register_batch(struct bench *b, struct lwm2m_memstore **stores, size_t from,
                             size_t to, const char *uri) {
    b->rd.want = to;
    double t0 = bench_now_s();
    if (add_endpoints(b, stores, from, to, uri) != 0)
        return -1;
    event_base_dispatch(b->base);
    return bench_now_s() - t0;
}

static void measure_reads(struct bench *b, double secs) {
    /* Reads come from the server's own socket (the engine answers only its servers), with
     * READERS requests in flight, each to a different endpoint. */
    for (int k = 0; k < READERS; k++) {
        b->rctx[k] = (struct reader_ctx){b, k};
        read_next(b, k);
    }
    struct timeval tv = bench_timeval(secs);
    event_base_once(b->base, -1, EV_TIMEOUT, stop_cb, b, &tv);
    double t0 = bench_now_s();
    event_base_dispatch(b->base);
    double el = bench_now_s() - t0;
    printf("reads: %.0f Read requests/s served (GET /3/0/2, text, %d outstanding, %zu endpoints,"
           " %llu errors)\n",
           (double)b->reads / el, READERS, b->rd.npeers, (unsigned long long)b->read_errors);
}

int main(int argc, char **argv) {
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 10000;
    double read_secs = argc > 2 ? atof(argv[2]) : 3.0;
    bench_raise_nofile();
    struct bench b = {0};
    b.base = event_base_new();
    lwm2m_model_new(&b.model);
    lwm2m_model_seal(b.model);
    coap_env_init(&b.env, b.base);
    b.env.params.xchg_max = 2 * READERS;
    struct lwm2m_engine_cfg ecfg = {
        .base = b.base, .model = b.model, .on_event = on_event, .event_ctx = &b};
    struct coap_addr rd;
    char uri[96], host[COAP_ADDR_STRLEN];
    b.rd.peers = calloc(n, sizeof(*b.rd.peers));
    struct lwm2m_memstore **stores = calloc(n, sizeof(*stores));
    if (n < 2 || b.rd.peers == NULL || stores == NULL || lwm2m_engine_new(&ecfg, &b.eng) != 0 ||
        setup_rd(&b, &rd) != 0)
        return 1;
    coap_addr_format(&rd, host, sizeof(host));
    snprintf(uri, sizeof(uri), "coap://%s", host);

    double t1 = register_batch(&b, stores, 0, 1, uri);
    long rss1 = bench_rss_kib(getpid());
    double tn = register_batch(&b, stores, 1, n, uri);
    long rssn = bench_rss_kib(getpid());
    if (t1 < 0 || tn < 0)
        return 1;
    printf("registration: %zu endpoints registered in %.2f s = %.0f registrations/s\n", n - 1, tn,
           (double)(n - 1) / tn);
    printf("memory: RSS %ld KiB with 1 endpoint, %ld KiB with %zu: %.0f bytes per endpoint "
           "beyond the first\n",
           rss1, rssn, n, (double)(rssn - rss1) * 1024.0 / (double)(n - 1));

    double c0 = bench_cpu_self_s();
    struct timeval idle = {3, 0};
    event_base_once(b.base, -1, EV_TIMEOUT, stop_cb, &b, &idle);
    event_base_dispatch(b.base);
    printf("idle: %.2f %% of one core over 3 s with %zu registered endpoints\n",
           (bench_cpu_self_s() - c0) / 3.0 * 100.0, n);
    b.stop = 0;
    measure_reads(&b, read_secs);
    return 0;
}
