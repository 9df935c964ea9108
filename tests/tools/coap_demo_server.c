/* SPDX-License-Identifier: Apache-2.0 */
/* coap_demo_server: a small CoAP server on our message layer, UDP transport and libevent, for the
 * integration tests and the README demo. Resources: GET /hello, GET/PUT /store, GET /big (3 KiB,
 * block-wise), GET /slow (answered after 3 s as a separate response). One log line per request. */
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lwm2m/coap_endpoint.h"
#include "lwm2m/error.h"
#include "lwm2m/transport.h"

#define BIG_LEN   3072
#define STORE_MAX 65536
#define SLOW_MS   3000

struct demo {
    struct event_base *base;
    struct coap_env env;
    struct coap_endpoint *ep;
    uint8_t big[BIG_LEN];
    uint8_t store[STORE_MAX];
    size_t store_len;
    uint32_t store_format;
    struct slow *slow; /* pending slow answers */
};

struct slow {
    struct slow *next;
    struct demo *demo;
    struct event *ev;
    uint32_t handle;
    char peer[COAP_ADDR_STRLEN];
};

/* The /big body: printable, deterministic (the integration test computes the same bytes). */
static void fill_big(uint8_t *b) {
    static const char alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    for (size_t i = 0; i < BIG_LEN; i++)
        b[i] = (uint8_t)((i % 64 == 63) ? '\n' : alphabet[(i * 7 + i / 64) % 36]);
}

static void log_req(const struct coap_incoming *in, const char *outcome, size_t len) {
    char peer[COAP_ADDR_STRLEN], path[128], code[8];
    static const char *const methods[] = {"?",      "GET",   "POST",  "PUT",
                                          "DELETE", "FETCH", "PATCH", "IPATCH"};
    const char *m = in->req->code < 8 ? methods[in->req->code] : coap_code_str(in->req->code, code);
    coap_addr_format(in->peer, peer, sizeof(peer));
    if (coap_msg_path(in->req, COAP_OPT_URI_PATH, path, sizeof(path)) < 0)
        strcpy(path, "...");
    printf("coap_demo_server: %s %s %s /%s -> %s (%zu bytes)\n", peer,
           in->req->type == COAP_TYPE_CON ? "CON" : "NON", m, path, outcome, len);
}

static int reply(struct coap_endpoint *ep, const struct coap_incoming *in, uint8_t code, int format,
                 const void *payload, size_t len) {
    struct coap_msg r;
    char txt[8];
    coap_msg_init(&r, COAP_TYPE_ACK, code, 0);
    if (format >= 0)
        coap_msg_add_opt_uint(&r, COAP_OPT_CONTENT_FORMAT, (uint32_t)format);
    coap_msg_set_payload(&r, payload, len);
    log_req(in, coap_code_str(code, txt), len);
    return coap_reply(ep, in, &r);
}

static void slow_fire(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    struct slow *s = arg, **pp;
    struct demo *d = s->demo;
    static const char text[] = "slow answer, separate response";
    struct coap_msg r;
    coap_msg_init(&r, COAP_TYPE_CON, COAP_205_CONTENT, 0);
    coap_msg_add_opt_uint(&r, COAP_OPT_CONTENT_FORMAT, 0);
    coap_msg_set_payload(&r, text, sizeof(text) - 1);
    int rc = coap_respond(d->ep, s->handle, &r);
    printf("coap_demo_server: %s /slow answered after %d ms: %s\n", s->peer, SLOW_MS,
           lwm2m_strerror(rc));
    for (pp = &d->slow; *pp != s; pp = &(*pp)->next)
        ;
    *pp = s->next;
    event_free(s->ev);
    free(s);
}

static int slow_start(struct demo *d, struct coap_endpoint *ep, const struct coap_incoming *in) {
    struct slow *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return LWM2M_ERR_NOMEM;
    s->demo = d;
    s->ev = evtimer_new(d->base, slow_fire, s);
    if (s->ev == NULL || coap_defer(ep, in, &s->handle) != 0) {
        if (s->ev != NULL)
            event_free(s->ev);
        free(s);
        return LWM2M_ERR_NOMEM;
    }
    coap_addr_format(in->peer, s->peer, sizeof(s->peer));
    struct timeval tv = {SLOW_MS / 1000, (SLOW_MS % 1000) * 1000};
    evtimer_add(s->ev, &tv);
    s->next = d->slow;
    d->slow = s;
    log_req(in, "deferred", 0);
    return LWM2M_ERR_AGAIN;
}

static int on_store(struct demo *d, struct coap_endpoint *ep, const struct coap_incoming *in) {
    if (in->req->code == COAP_GET)
        return reply(ep, in, COAP_205_CONTENT, (int)d->store_format, d->store, d->store_len);
    if (in->req->code != COAP_PUT)
        return reply(ep, in, COAP_405_METHOD_NOT_ALLOWED, -1, NULL, 0);
    if (in->body_len > STORE_MAX)
        return reply(ep, in, COAP_413_REQUEST_ENTITY_TOO_LARGE, -1, NULL, 0);
    memcpy(d->store, in->body, in->body_len);
    d->store_len = in->body_len;
    uint32_t cf = 0;
    d->store_format = coap_msg_opt_uint(in->req, COAP_OPT_CONTENT_FORMAT, &cf) == 0 ? cf : 0;
    return reply(ep, in, COAP_204_CHANGED, -1, NULL, 0);
}

static int on_request(void *ctx, struct coap_endpoint *ep, const struct coap_incoming *in) {
    struct demo *d = ctx;
    char path[64];
    static const char hello[] = "Hello from lwm2m-gateway";
    if (coap_msg_path(in->req, COAP_OPT_URI_PATH, path, sizeof(path)) < 0)
        return reply(ep, in, COAP_404_NOT_FOUND, -1, NULL, 0);
    if (strcmp(path, "store") == 0)
        return on_store(d, ep, in);
    int is_get = in->req->code == COAP_GET;
    if (strcmp(path, "hello") == 0 && is_get)
        return reply(ep, in, COAP_205_CONTENT, 0, hello, sizeof(hello) - 1);
    if (strcmp(path, "big") == 0 && is_get)
        return reply(ep, in, COAP_205_CONTENT, 0, d->big, BIG_LEN);
    if (strcmp(path, "slow") == 0 && is_get)
        return slow_start(d, ep, in);
    if (strcmp(path, "hello") == 0 || strcmp(path, "big") == 0 || strcmp(path, "slow") == 0)
        return reply(ep, in, COAP_405_METHOD_NOT_ALLOWED, -1, NULL, 0);
    return reply(ep, in, COAP_404_NOT_FOUND, -1, NULL, 0);
}

static void on_signal(evutil_socket_t sig, short what, void *arg) {
    (void)sig;
    (void)what;
    event_base_loopbreak(arg);
}

static int parse_args(int argc, char **argv, const char **host, long *port) {
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
            char *end;
            *port = strtol(argv[++i], &end, 10);
            if (*end != '\0' || *port < 0 || *port > 65535)
                return -1;
        } else if (strcmp(argv[i], "--host") == 0 && i + 1 < argc) {
            *host = argv[++i];
        } else {
            return -1;
        }
    }
    return *port >= 0 ? 0 : -1;
}

static void print_stats(const struct coap_stats *s) {
    printf("coap_demo_server: stats rx=%llu tx=%llu requests=%llu duplicates=%llu malformed=%llu "
           "bad_request=%llu bad_option=%llu retransmissions=%llu separate=%llu block2=%llu "
           "block1=%llu\n",
           (unsigned long long)s->rx, (unsigned long long)s->tx, (unsigned long long)s->requests_rx,
           (unsigned long long)s->duplicates, (unsigned long long)s->malformed,
           (unsigned long long)s->bad_request, (unsigned long long)s->bad_option,
           (unsigned long long)s->retransmissions, (unsigned long long)s->separate_tx,
           (unsigned long long)s->block2_tx, (unsigned long long)s->block1_rx);
}

static int serve(struct demo *d, const struct coap_addr *bind_addr) {
    struct coap_transport *tp;
    char where[COAP_ADDR_STRLEN];
    if (coap_udp_open(d->base, bind_addr, NULL, &tp) != 0) {
        perror("coap_demo_server: bind");
        return 1;
    }
    coap_env_init(&d->env, d->base);
    if (coap_endpoint_new(&d->env, tp, on_request, d, &d->ep) != 0) {
        coap_transport_close(tp);
        return 1;
    }
    struct coap_addr local;
    coap_transport_local_addr(tp, &local);
    coap_addr_format(&local, where, sizeof(where));
    printf("coap_demo_server: listening on %s port %u\n", where, coap_addr_port(&local));
    struct event *sigint = evsignal_new(d->base, SIGINT, on_signal, d->base);
    struct event *sigterm = evsignal_new(d->base, SIGTERM, on_signal, d->base);
    event_add(sigint, NULL);
    event_add(sigterm, NULL);
    event_base_dispatch(d->base);
    print_stats(&d->env.stats);
    while (d->slow != NULL) {
        struct slow *s = d->slow;
        d->slow = s->next;
        event_free(s->ev);
        free(s);
    }
    coap_endpoint_free(d->ep);
    coap_transport_close(tp);
    event_free(sigint);
    event_free(sigterm);
    return 0;
}

int main(int argc, char **argv) {
    const char *host = "127.0.0.1";
    long port = -1;
    if (parse_args(argc, argv, &host, &port) != 0) {
        fprintf(stderr, "usage: %s --port N [--host ADDR]   (N = 0: any free port)\n", argv[0]);
        return 2;
    }
    struct coap_addr bind_addr;
    if (coap_addr_parse(&bind_addr, host, (uint16_t)port) != 0) {
        fprintf(stderr, "coap_demo_server: bad address %s\n", host);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct demo *d = calloc(1, sizeof(*d));
    if (d == NULL)
        return 1;
    d->base = event_base_new();
    fill_big(d->big);
    int rc = d->base != NULL ? serve(d, &bind_addr) : 1;
    if (d->base != NULL)
        event_base_free(d->base);
    free(d);
    return rc;
}
