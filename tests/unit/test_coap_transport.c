/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of coap_addr helpers and the UDP transport on real loopback sockets (IPv4 and IPv6)
 * with libevent, plus two endpoints talking over UDP through the libevent timer driver: deferred
 * answer, separate response, and the timer disarmed once nothing is pending. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <event2/event.h>
#include <sys/socket.h>

#include "coap_endpoint_internal.h"
#include "lwm2m/error.h"
#include "lwm2m/transport.h"

static void test_addr_parse_format(void **state) {
    (void)state;
    struct coap_addr a, b;
    char s[COAP_ADDR_STRLEN];
    assert_int_equal(coap_addr_parse(&a, "127.0.0.1", 5683), 0);
    assert_int_equal(coap_addr_format(&a, s, sizeof(s)), 14);
    assert_string_equal(s, "127.0.0.1:5683");
    assert_int_equal(coap_addr_parse(&b, "::1", 5683), 0);
    coap_addr_format(&b, s, sizeof(s));
    assert_string_equal(s, "[::1]:5683");
    assert_int_equal(coap_addr_port(&b), 5683);
    assert_int_not_equal(coap_addr_cmp(&a, &b), 0);
    assert_int_equal(coap_addr_parse_hostport(&a, "[::1]:61616", 1), 0);
    coap_addr_format(&a, s, sizeof(s));
    assert_string_equal(s, "[::1]:61616");
    assert_int_equal(coap_addr_parse_hostport(&a, "10.1.2.3:99", 1), 0);
    coap_addr_format(&a, s, sizeof(s));
    assert_string_equal(s, "10.1.2.3:99");
    assert_int_equal(coap_addr_parse_hostport(&a, "fe80::1", 7), 0);
    assert_int_equal(coap_addr_port(&a), 7);
    assert_int_equal(coap_addr_parse_hostport(&a, "10.1.2.3", 7), 0);
    assert_int_equal(coap_addr_parse(&b, "10.1.2.3", 7), 0);
    assert_int_equal(coap_addr_cmp(&a, &b), 0);
    assert_int_equal(coap_addr_parse(&b, "10.1.2.3", 8), 0);
    assert_true(coap_addr_cmp(&a, &b) < 0);
    assert_int_equal(coap_addr_parse(&a, "localhost", 1), LWM2M_ERR_INVALID); /* never DNS */
    assert_int_equal(coap_addr_parse(&a, "256.1.1.1", 1), LWM2M_ERR_INVALID);
    assert_int_equal(coap_addr_parse_hostport(&a, "1.2.3.4:99999", 1), LWM2M_ERR_INVALID);
    assert_int_equal(coap_addr_parse_hostport(&a, "[::1", 1), LWM2M_ERR_INVALID);
    assert_int_equal(coap_addr_parse_hostport(&a, "1.2.3.4:", 1), LWM2M_ERR_INVALID);
    assert_int_equal(coap_addr_format(&b, s, 5), LWM2M_ERR_NOSPACE);
}

/* ---- UDP ------------------------------------------------------------------------------------ */

struct rx {
    struct event_base *base;
    int count;
    size_t len;
    uint8_t data[64];
    struct coap_addr from;
    struct coap_transport *close_me;
    int stop_at;
};

static void on_rx(void *ctx, const uint8_t *data, size_t len, const struct coap_addr *from) {
    struct rx *r = ctx;
    r->count++;
    r->len = len < sizeof(r->data) ? len : sizeof(r->data);
    memcpy(r->data, data, r->len);
    r->from = *from;
    if (r->close_me != NULL) {
        coap_transport_close(r->close_me);
        r->close_me = NULL;
    }
    if (r->count >= r->stop_at)
        event_base_loopbreak(r->base);
}

static void run_for(struct event_base *base, int ms) {
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    event_base_loopexit(base, &tv);
    event_base_dispatch(base);
}

/* Opens a pair on host; returns 0 when the family is unavailable here (skipped). */
static int udp_pair(struct event_base *base, const char *host, struct coap_udp_stats *st,
                    struct coap_transport **a, struct coap_transport **b) {
    struct coap_addr bind_addr;
    assert_int_equal(coap_addr_parse(&bind_addr, host, 0), 0);
    if (coap_udp_open(base, &bind_addr, st, a) != 0)
        return 0;
    assert_int_equal(coap_udp_open(base, &bind_addr, st, b), 0);
    return 1;
}

static void udp_roundtrip(const char *host) {
    struct event_base *base = event_base_new();
    struct coap_udp_stats st = {0};
    struct coap_transport *a, *b;
    if (!udp_pair(base, host, &st, &a, &b)) {
        event_base_free(base);
        print_message("%s unavailable: skipped\n", host);
        return;
    }
    struct coap_addr la, lb;
    assert_int_equal(coap_transport_local_addr(a, &la), 0);
    assert_int_equal(coap_transport_local_addr(b, &lb), 0);
    assert_int_not_equal(coap_addr_port(&la), 0);
    struct rx r = {.base = base, .stop_at = 100};
    coap_transport_set_rx(b, on_rx, &r);
    /* More than one readiness batch: everything still arrives. */
    for (int i = 0; i < 100; i++)
        assert_int_equal(coap_transport_send(a, (const uint8_t *)"ping", 4, &lb), 0);
    run_for(base, 2000);
    assert_int_equal(r.count, 100);
    assert_memory_equal(r.data, "ping", 4);
    assert_int_equal(coap_addr_cmp(&r.from, &la), 0);
    assert_int_equal(st.tx_dgrams, 100);
    assert_int_equal(st.rx_dgrams, 100);
    assert_true(coap_udp_fd(a) >= 0);
    /* a send to an address of the other family fails, is counted, and is not fatal */
    struct coap_addr other;
    coap_addr_parse(&other, strchr(host, ':') ? "127.0.0.1" : "::1", 9);
    assert_int_equal(coap_transport_send(a, (const uint8_t *)"x", 1, &other), LWM2M_ERR_IO);
    assert_int_equal(st.tx_errors, 1);
    assert_int_equal(coap_transport_send(a, (const uint8_t *)"ok", 2, &lb), 0);
    /* closing the transport from inside its own receive callback is safe */
    r.close_me = b;
    r.stop_at = 101;
    run_for(base, 2000);
    assert_int_equal(r.count, 101);
    coap_transport_close(a);
    event_base_free(base);
}

/* A client socket connected to its single peer: still hears that peer, survives an ICMP error
 * from it (the send after one is sent anyway, nothing counted), and a send to a second peer
 * turns it back into an unconnected socket that hears everyone. */
static void test_udp_single_peer(void **state) {
    (void)state;
    struct event_base *base = event_base_new();
    struct coap_udp_stats st = {0};
    struct coap_transport *a, *b, *c, *d;
    struct coap_addr any, la, lb, lc, ld, peer;
    socklen_t plen = sizeof(peer.u);
    coap_addr_parse(&any, "127.0.0.1", 0);
    assert_int_equal(coap_udp_open(base, &any, &st, &a), 0);
    assert_int_equal(coap_udp_open(base, &any, NULL, &b), 0);
    assert_int_equal(coap_udp_open(base, &any, NULL, &c), 0);
    assert_int_equal(coap_udp_open(base, &any, NULL, &d), 0);
    coap_transport_local_addr(a, &la);
    coap_transport_local_addr(b, &lb);
    coap_transport_local_addr(c, &lc);
    coap_transport_local_addr(d, &ld);
    coap_transport_close(d); /* ld: nobody listens there any more */
    struct rx ra = {.base = base, .stop_at = 100}, rb = {.base = base, .stop_at = 100};
    coap_transport_set_rx(a, on_rx, &ra);
    coap_transport_set_rx(b, on_rx, &rb);
    assert_int_equal(coap_udp_set_single_peer(NULL, true), LWM2M_ERR_INVALID);

    /* an ICMP port unreachable while connected: the next send still goes out */
    assert_int_equal(coap_udp_set_single_peer(a, true), 0);
    assert_int_equal(coap_transport_send(a, (const uint8_t *)"x", 1, &ld), 0);
    run_for(base, 50);
    assert_int_equal(coap_transport_send(a, (const uint8_t *)"y", 1, &ld), 0);
    run_for(base, 50);
    assert_int_equal(st.tx_errors, 0);
    assert_int_equal(st.rx_errors, 0);

    /* starting over: connected to b, b is heard */
    assert_int_equal(coap_udp_set_single_peer(a, true), 0);
    assert_int_equal(coap_transport_send(a, (const uint8_t *)"hi", 2, &lb), 0);
    assert_int_equal(getpeername(coap_udp_fd(a), &peer.u.sa, &plen), 0);
    assert_int_equal(coap_transport_send(b, (const uint8_t *)"back", 4, &la), 0);
    run_for(base, 100);
    assert_int_equal(rb.count, 1);
    assert_int_equal(ra.count, 1);
    assert_int_equal(coap_addr_cmp(&ra.from, &lb), 0);
    assert_int_equal(coap_addr_cmp(&rb.from, &la), 0); /* same port as before connecting */

    /* a second peer: disconnected for good, both peers heard */
    assert_int_equal(coap_transport_send(a, (const uint8_t *)"c", 1, &lc), 0);
    assert_int_not_equal(getpeername(coap_udp_fd(a), &peer.u.sa, &plen), 0);
    assert_int_equal(coap_transport_send(a, (const uint8_t *)"b", 1, &lb), 0);
    assert_int_not_equal(getpeername(coap_udp_fd(a), &peer.u.sa, &plen), 0);
    assert_int_equal(coap_transport_send(c, (const uint8_t *)"from-c", 6, &la), 0);
    assert_int_equal(coap_transport_send(b, (const uint8_t *)"from-b", 6, &la), 0);
    run_for(base, 100);
    assert_int_equal(ra.count, 3);
    assert_int_equal(rb.count, 2);
    assert_int_equal(coap_addr_cmp(&rb.from, &la), 0); /* the disconnect kept the port */
    assert_int_equal(st.tx_dgrams, 5);

    /* switched off: unconnected from the start */
    assert_int_equal(coap_udp_set_single_peer(a, false), 0);
    assert_int_equal(coap_transport_send(a, (const uint8_t *)"z", 1, &lb), 0);
    assert_int_not_equal(getpeername(coap_udp_fd(a), &peer.u.sa, &plen), 0);
    coap_transport_close(a);
    coap_transport_close(b);
    coap_transport_close(c);
    event_base_free(base);
}

static void test_udp_ipv4(void **state) {
    (void)state;
    udp_roundtrip("127.0.0.1");
}

static void test_udp_ipv6(void **state) {
    (void)state;
    udp_roundtrip("::1");
}

static void test_udp_bind_error(void **state) {
    (void)state;
    struct event_base *base = event_base_new();
    struct coap_transport *a, *b;
    struct coap_addr la;
    assert_int_equal(coap_addr_parse(&la, "127.0.0.1", 0), 0);
    assert_int_equal(coap_udp_open(base, &la, NULL, &a), 0);
    assert_int_equal(coap_transport_local_addr(a, &la), 0);
    assert_int_equal(coap_udp_open(base, &la, NULL, &b), LWM2M_ERR_IO); /* port in use */
    coap_transport_close(a);
    event_base_free(base);
}

/* ---- two endpoints over UDP, driven by libevent ---------------------------------------------- */

struct pair {
    struct event_base *base;
    struct coap_endpoint *server;
    uint32_t handle;
    struct event *later;
    int done;
    uint8_t code;
    char payload[16];
};

static void answer_later(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    struct pair *p = arg;
    struct coap_msg r;
    coap_msg_init(&r, COAP_TYPE_ACK, COAP_205_CONTENT, 0);
    coap_msg_set_payload(&r, "slow", 4);
    assert_int_equal(coap_respond(p->server, p->handle, &r), 0);
}

static int slow_handler(void *ctx, struct coap_endpoint *ep, const struct coap_incoming *in) {
    struct pair *p = ctx;
    assert_int_equal(coap_defer(ep, in, &p->handle), 0);
    struct timeval tv = {0, 300000};
    evtimer_add(p->later, &tv);
    return LWM2M_ERR_AGAIN;
}

static void on_done(void *ctx, int err, const struct coap_msg *resp, const struct coap_addr *peer) {
    (void)peer;
    struct pair *p = ctx;
    p->done++;
    assert_int_equal(err, 0);
    p->code = resp->code;
    memcpy(p->payload, resp->payload, resp->payload_len < 15 ? resp->payload_len : 15);
}

static void test_endpoints_over_udp(void **state) {
    (void)state;
    struct pair p = {0};
    p.base = event_base_new();
    p.later = evtimer_new(p.base, answer_later, &p);
    struct coap_env env;
    coap_env_init(&env, p.base);
    env.params.defer_ack_ms = 100;
    env.params.exchange_lifetime_ms = 400;
    env.params.non_lifetime_ms = 400;
    struct coap_transport *ts, *tc;
    assert_int_equal(udp_pair(p.base, "127.0.0.1", NULL, &ts, &tc), 1);
    struct coap_endpoint *client;
    assert_int_equal(coap_endpoint_new(&env, ts, slow_handler, &p, &p.server), 0);
    assert_int_equal(coap_endpoint_new(&env, tc, NULL, NULL, &client), 0);
    struct coap_addr srv;
    coap_transport_local_addr(ts, &srv);
    struct coap_msg req;
    coap_msg_init(&req, COAP_TYPE_CON, COAP_GET, 0);
    coap_msg_add_path(&req, COAP_OPT_URI_PATH, "slow");
    assert_int_equal(coap_request(client, &srv, &req, on_done, &p, NULL), 0);
    run_for(p.base, 1500);
    assert_int_equal(p.done, 1);
    assert_int_equal(p.code, COAP_205_CONTENT);
    assert_string_equal(p.payload, "slow");
    assert_int_equal(env.stats.separate_tx, 1);
    assert_int_equal(env.stats.retransmissions, 0);
    /* everything expired: no deadline, no armed timer, only the bare structs */
    assert_int_equal(coap_endpoint_next_deadline(p.server), 0);
    assert_int_equal(coap_endpoint_next_deadline(client), 0);
    assert_int_equal(p.server->armed, 0);
    assert_int_equal(client->armed, 0);
    assert_int_equal(coap_endpoint_mem(client), sizeof(struct coap_endpoint));
    assert_int_equal(coap_endpoint_mem(p.server), sizeof(struct coap_endpoint));
    coap_endpoint_free(client);
    coap_endpoint_free(p.server);
    coap_transport_close(tc);
    coap_transport_close(ts);
    event_free(p.later);
    event_base_free(p.base);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addr_parse_format),  cmocka_unit_test(test_udp_ipv4),
        cmocka_unit_test(test_udp_ipv6),           cmocka_unit_test(test_udp_bind_error),
        cmocka_unit_test(test_endpoints_over_udp), cmocka_unit_test(test_udp_single_peer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
