/* SPDX-License-Identifier: Apache-2.0 */
/* bench_coap_rtt: CoAP request/response round trips per second on loopback through our message
 * layer (client endpoints -> one server endpoint, CON GET with a piggy-backed 2.05, one libevent
 * loop in one thread), against a bare UDP echo (sendto/recvfrom) measured in the same run; then
 * the resident memory of idle endpoints, each on its own UDP socket, and their armed timers. */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lwm2m/clock.h"
#include "lwm2m/coap_endpoint.h"
#include "lwm2m/error.h"
#include "lwm2m/transport.h"

#define MAX_CLIENTS 64

struct bench;

struct client {
    struct bench *b;
    struct coap_endpoint *ep;
    struct coap_transport *tp;
    uint64_t done;
    int errors;
};

struct bench {
    struct event_base *base;
    struct coap_env env;
    struct coap_endpoint *server;
    struct coap_transport *server_tp;
    struct coap_addr server_addr;
    struct client clients[MAX_CLIENTS];
    int n_clients;
    int active;
    int stop;
};

static int on_request(void *ctx, struct coap_endpoint *ep, const struct coap_incoming *in) {
    (void)ctx;
    struct coap_msg r;
    coap_msg_init(&r, COAP_TYPE_ACK, COAP_205_CONTENT, 0);
    coap_msg_add_opt_uint(&r, COAP_OPT_CONTENT_FORMAT, 0);
    coap_msg_set_payload(&r, "21.5", 4);
    return coap_reply(ep, in, &r);
}

static void send_one(struct client *c);

static void on_response(void *ctx, int err, const struct coap_msg *resp,
                        const struct coap_addr *peer) {
    (void)resp;
    (void)peer;
    struct client *c = ctx;
    if (err != 0)
        c->errors++;
    else
        c->done++;
    if (!c->b->stop) {
        send_one(c);
    } else if (--c->b->active == 0) {
        event_base_loopbreak(c->b->base);
    }
}

static void send_one(struct client *c) {
    struct coap_msg req;
    coap_msg_init(&req, COAP_TYPE_CON, COAP_GET, 0);
    coap_msg_add_path(&req, COAP_OPT_URI_PATH, "3303/0/5700");
    if (coap_request(c->ep, &c->b->server_addr, &req, on_response, c, NULL) != 0) {
        c->errors++;
        if (--c->b->active == 0)
            event_base_loopbreak(c->b->base);
    }
}

static void on_stop(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    ((struct bench *)arg)->stop = 1;
}

static int setup(struct bench *b, int n_clients) {
    struct coap_addr any;
    memset(b, 0, sizeof(*b));
    b->base = event_base_new();
    coap_env_init(&b->env, b->base);
    coap_addr_parse(&any, "127.0.0.1", 0);
    if (coap_udp_open(b->base, &any, NULL, &b->server_tp) != 0 ||
        coap_endpoint_new(&b->env, b->server_tp, on_request, NULL, &b->server) != 0)
        return -1;
    coap_transport_local_addr(b->server_tp, &b->server_addr);
    b->n_clients = n_clients;
    for (int i = 0; i < n_clients; i++) {
        struct client *c = &b->clients[i];
        c->b = b;
        if (coap_udp_open(b->base, &any, NULL, &c->tp) != 0 ||
            coap_endpoint_new(&b->env, c->tp, NULL, NULL, &c->ep) != 0)
            return -1;
    }
    return 0;
}

static void teardown(struct bench *b) {
    for (int i = 0; i < b->n_clients; i++) {
        coap_endpoint_free(b->clients[i].ep);
        coap_transport_close(b->clients[i].tp);
    }
    coap_endpoint_free(b->server);
    coap_transport_close(b->server_tp);
    event_base_free(b->base);
}

/* Round trips per second through the layer with n_clients each keeping one request in flight. */
static double run_coap(int n_clients, double seconds, uint64_t *retx) {
    struct bench *b = calloc(1, sizeof(*b));
    if (b == NULL || setup(b, n_clients) != 0) {
        fprintf(stderr, "bench_coap_rtt: setup failed\n");
        exit(1);
    }
    struct event *stop = evtimer_new(b->base, on_stop, b);
    struct timeval tv = {(time_t)seconds, (suseconds_t)((seconds - (long)seconds) * 1e6)};
    evtimer_add(stop, &tv);
    uint64_t t0 = coap_clock_mono_ms(NULL);
    b->active = n_clients;
    for (int i = 0; i < n_clients; i++)
        send_one(&b->clients[i]);
    event_base_dispatch(b->base);
    double dt = (double)(coap_clock_mono_ms(NULL) - t0) / 1000.0;
    uint64_t done = 0;
    int errors = 0;
    for (int i = 0; i < n_clients; i++) {
        done += b->clients[i].done;
        errors += b->clients[i].errors;
    }
    if (errors)
        fprintf(stderr, "bench_coap_rtt: %d failed exchanges\n", errors);
    *retx = b->env.stats.retransmissions;
    event_free(stop);
    teardown(b);
    free(b);
    return (double)done / dt;
}

/* The floor: the same datagram sizes echoed with plain blocking sendto/recvfrom. */
static double run_bare(double seconds) {
    int a = socket(AF_INET, SOCK_DGRAM, 0), s = socket(AF_INET, SOCK_DGRAM, 0);
    struct coap_addr any, la, ls;
    coap_addr_parse(&any, "127.0.0.1", 0);
    if (a < 0 || s < 0 || bind(a, &any.u.sa, any.len) != 0 || bind(s, &any.u.sa, any.len) != 0) {
        perror("bench_coap_rtt: socket");
        exit(1);
    }
    socklen_t len = sizeof(la.u);
    getsockname(a, &la.u.sa, &len);
    la.len = len;
    len = sizeof(ls.u);
    getsockname(s, &ls.u.sa, &len);
    ls.len = len;
    uint8_t req[32] = {0x48, 0x01}, resp[16] = {0x68, 0x45}, buf[64];
    uint64_t n = 0, t0 = coap_clock_mono_ms(NULL), end = t0 + (uint64_t)(seconds * 1000);
    for (;;) {
        if (sendto(a, req, 27, 0, &ls.u.sa, ls.len) < 0 || recv(s, buf, sizeof(buf), 0) < 0 ||
            sendto(s, resp, 16, 0, &la.u.sa, la.len) < 0 || recv(a, buf, sizeof(buf), 0) < 0)
            break;
        if ((++n & 255) == 0 && coap_clock_mono_ms(NULL) >= end)
            break;
    }
    double dt = (double)(coap_clock_mono_ms(NULL) - t0) / 1000.0;
    close(a);
    close(s);
    return (double)n / dt;
}

static long rss_kib(void) {
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL)
        return 0;
    if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
        rss = 0;
    fclose(f);
    return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

/* Opens n endpoints, each on its own socket, after one exchange each (so that every lazily
 * created part exists), and reports resident bytes per endpoint and the events still armed. */
static void run_idle(int n) {
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < (rlim_t)n + 64) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        if (rl.rlim_cur < (rlim_t)n + 64)
            n = (int)rl.rlim_cur - 64;
    }
    struct event_base *base = event_base_new();
    struct coap_env env;
    coap_env_init(&env, base);
    env.params.exchange_lifetime_ms = env.params.non_lifetime_ms = 50; /* expire quickly */
    struct coap_endpoint **eps = calloc((size_t)n, sizeof(*eps));
    struct coap_transport **tps = calloc((size_t)n, sizeof(*tps));
    struct coap_addr any;
    coap_addr_parse(&any, "127.0.0.1", 0);
    long before = rss_kib();
    int opened = 0;
    for (; opened < n; opened++) {
        if (coap_udp_open(base, &any, NULL, &tps[opened]) != 0 ||
            coap_endpoint_new(&env, tps[opened], on_request, NULL, &eps[opened]) != 0)
            break;
        /* a ping to nowhere and its cancellation: creates the endpoint's timer */
        uint32_t id;
        coap_ping(eps[opened], &any, NULL, NULL, &id);
        coap_cancel(eps[opened], id);
    }
    struct timeval tv = {0, 100000};
    event_base_loopexit(base, &tv);
    event_base_dispatch(base);
    long after = rss_kib();
    int added = event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED);
    printf("  idle endpoints: %d, each on its own UDP socket: %.0f bytes resident each; "
           "events armed: %d (%d sockets, %d timers)\n",
           opened, opened ? (double)(after - before) * 1024.0 / opened : 0.0, added, opened,
           added - opened);
    for (int i = 0; i < opened; i++) {
        coap_endpoint_free(eps[i]);
        coap_transport_close(tps[i]);
    }
    free(eps);
    free(tps);
    event_base_free(base);
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 2.0;
    int par = argc > 2 ? atoi(argv[2]) : 8;
    int idle = argc > 3 ? atoi(argv[3]) : 10000;
    if (seconds <= 0 || seconds > 60 || par < 1 || par > MAX_CLIENTS || idle < 0) {
        fprintf(stderr,
                "usage: %s [seconds per phase (<=60)] [parallel clients (1..%d)] "
                "[idle endpoints (10000)]\n",
                argv[0], MAX_CLIENTS);
        return 2;
    }
    uint64_t retx1 = 0, retxn = 0;
    double bare = run_bare(seconds);
    double seq = run_coap(1, seconds, &retx1);
    double conc = run_coap(par, seconds, &retxn);
    printf("bench_coap_rtt: loopback, one thread, %.1f s per phase\n", seconds);
    printf("  bare UDP echo (sendto/recvfrom), sequential : %10.0f round trips/s\n", bare);
    printf("  CoAP layer CON GET -> 2.05, 1 client        : %10.0f round trips/s  (%.2f of bare)\n",
           seq, seq / bare);
    printf(
        "  CoAP layer CON GET -> 2.05, %2d clients       : %10.0f round trips/s  (%.2f of bare)\n",
        par, conc, conc / bare);
    printf("  retransmissions: %llu / %llu\n", (unsigned long long)retx1,
           (unsigned long long)retxn);
    if (idle > 0)
        run_idle(idle);
    return 0;
}
