/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the loop side of the Modbus adapter (adapters/modbus/mb_adapter.c): config
 * validation in create, write_point's synchronous errors, and the worker -> loop path against a
 * loopback port where nothing listens: link-down state and DISCONNECTED qualities arrive on the
 * loop thread, a write completes exactly once, stop/start/destroy leave nothing behind. */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "modbus/mb_internal.h"

struct rec {
    pthread_t loop_thread;
    int link_down, link_up, disconnected, writes, wrong_thread;
    uint8_t last_write_status;
    void *last_req;
};

static void check_thread(struct rec *r) {
    if (!pthread_equal(pthread_self(), r->loop_thread))
        r->wrong_thread++;
}

static void on_value(void *ctx, void *user, const struct adapter_value *v) {
    struct rec *r = ctx;
    (void)user;
    check_thread(r);
    if (v->quality == ADAPTER_Q_DISCONNECTED)
        r->disconnected++;
}

static void on_state(void *ctx, void *scope, enum adapter_state st, const char *detail) {
    struct rec *r = ctx;
    (void)detail;
    check_thread(r);
    if (!scope && st == ADAPTER_STATE_DOWN)
        r->link_down++;
    if (!scope && st == ADAPTER_STATE_UP)
        r->link_up++;
}

static void on_write_done(void *ctx, void *req, const struct adapter_write_result *w) {
    struct rec *r = ctx;
    check_thread(r);
    r->writes++;
    r->last_write_status = w->status;
    r->last_req = req;
}

/* A loopback TCP port with nothing listening: connect fails at once with ECONNREFUSED. */
static uint16_t dead_port(void) {
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sl), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

static int user_tokens[4];

static struct mb_point_cfg points[] = {
    {.name = "rw",
     .table = MB_TABLE_HOLDING,
     .address = 0,
     .type = MB_TYPE_INT16,
     .writable = true,
     .user = &user_tokens[0]},
    {.name = "ro",
     .table = MB_TABLE_INPUT,
     .address = 0,
     .type = MB_TYPE_UINT16,
     .user = &user_tokens[1]},
    {.name = "coil",
     .table = MB_TABLE_COIL,
     .address = 3,
     .type = MB_TYPE_BOOL,
     .writable = true,
     .user = &user_tokens[2]},
};

static struct mb_adapter_cfg make_cfg(uint16_t port, struct mb_device_cfg *dev) {
    *dev = (struct mb_device_cfg){
        .name = "d", .unit = 1, .poll_ms = 50, .points = points, .n_points = 3};
    return (struct mb_adapter_cfg){.link = {.name = "t",
                                            .transport = MB_TRANSPORT_TCP,
                                            .host = "127.0.0.1",
                                            .port = port,
                                            .timeout_ms = 200,
                                            .backoff_min_ms = 100,
                                            .backoff_max_ms = 200},
                                   .devices = dev,
                                   .n_devices = 1};
}

static void on_timeout(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    event_base_loopbreak(arg);
}

/* Runs the loop until *counter reaches want, or 5 s. */
static void run_until(struct event_base *base, const int *counter, int want) {
    struct timeval tv = {5, 0};
    struct event *t = evtimer_new(base, on_timeout, base);
    evtimer_add(t, &tv);
    while (*counter < want && !event_base_got_break(base))
        event_base_loop(base, EVLOOP_ONCE);
    event_free(t);
}

static void test_create_validation(void **state) {
    (void)state;
    struct event_base *base = event_base_new();
    struct adapter_sink sink = {0};
    struct mb_device_cfg dev;
    struct mb_adapter_cfg cfg = make_cfg(502, &dev);
    struct mb_point_cfg bad[2] = {points[0], points[1]};
    struct adapter *ad;
    size_t bad_point;
    assert_int_equal(mb_adapter_ops.create(NULL, base, &sink, &ad), -EINVAL);
    cfg.link.host = NULL;
    assert_int_equal(mb_adapter_ops.create(&cfg, base, &sink, &ad), -EINVAL);
    cfg = make_cfg(502, &dev);
    cfg.link.transport = MB_TRANSPORT_RTU;
    cfg.link.device = "/dev/null";
    cfg.link.parity = 'X';
    assert_int_equal(mb_adapter_ops.create(&cfg, base, &sink, &ad), -EINVAL);
    cfg = make_cfg(502, &dev);
    cfg.link.transport = MB_TRANSPORT_RTU_TCP; /* RTU over TCP needs a host like Modbus TCP */
    cfg.link.host = NULL;
    assert_int_equal(mb_adapter_ops.create(&cfg, base, &sink, &ad), -EINVAL);
    cfg.link.host = "127.0.0.1";
    assert_int_equal(mb_adapter_ops.create(&cfg, base, &sink, &ad), 0);
    mb_adapter_ops.destroy(ad);
    cfg.link.transport = (enum mb_transport)7;
    assert_int_equal(mb_adapter_ops.create(&cfg, base, &sink, &ad), -EINVAL);
    cfg = make_cfg(502, &dev);
    dev.unit = 250;
    assert_int_equal(mb_adapter_ops.create(&cfg, base, &sink, &ad), -EINVAL);
    bad[1].writable = true; /* input registers cannot be written */
    dev = (struct mb_device_cfg){.unit = 1, .points = bad, .n_points = 2};
    assert_int_equal(mb_device_cfg_check(&dev, &bad_point), -EINVAL);
    assert_int_equal(bad_point, 1);
    assert_int_equal(mb_adapter_ops.create(&cfg, base, &sink, &ad), -EINVAL);
    event_base_free(base);
}

static void test_write_point_errors(void **state) {
    (void)state;
    struct event_base *base = event_base_new();
    struct rec r = {.loop_thread = pthread_self()};
    struct adapter_sink sink = {on_value, on_state, on_write_done, NULL, &r};
    struct mb_device_cfg dev;
    struct mb_adapter_cfg cfg = make_cfg(dead_port(), &dev);
    struct adapter_value v = {.type = ADAPTER_V_INT, .v.i = 5};
    struct adapter *ad;
    int other;
    assert_int_equal(mb_adapter_ops.create(&cfg, base, &sink, &ad), 0);
    assert_string_equal(ad->ops->kind, "modbus");
    assert_int_equal(ad->ops->write_point(ad, &other, &v, NULL), -ENOENT);
    assert_int_equal(ad->ops->write_point(ad, &user_tokens[1], &v, NULL), -EPERM);
    assert_int_equal(ad->ops->write_point(ad, &user_tokens[0], &v, NULL), -ENOTCONN);
    assert_int_equal(ad->ops->start(ad), 0);
    v.v.i = 70000;
    assert_int_equal(ad->ops->write_point(ad, &user_tokens[0], &v, NULL), -ERANGE);
    v = (struct adapter_value){.type = ADAPTER_V_STRING};
    assert_int_equal(ad->ops->write_point(ad, &user_tokens[2], &v, NULL), -EINVAL);
    assert_int_equal(r.writes, 0);
    ad->ops->destroy(ad);
    event_base_free(base);
}

/* For Modbus TCP (libmodbus) and RTU over TCP (our client) alike: *state is the transport. */
static void test_link_down_reaches_loop(void **state) {
    struct event_base *base = event_base_new();
    struct rec r = {.loop_thread = pthread_self()};
    struct adapter_sink sink = {on_value, on_state, on_write_done, NULL, &r};
    struct mb_device_cfg dev;
    struct mb_adapter_cfg cfg = make_cfg(dead_port(), &dev);
    struct adapter_value v = {.type = ADAPTER_V_BOOL, .v.b = true};
    struct adapter *ad;
    struct mb_stats st;
    int req;
    cfg.link.transport = *(const enum mb_transport *)*state;
    assert_int_equal(mb_adapter_ops.create(&cfg, base, &sink, &ad), 0);
    assert_int_equal(ad->ops->start(ad), 0);
    run_until(base, &r.disconnected, 3);
    assert_int_equal(r.link_down, 1); /* posted once, not on every retry */
    assert_int_equal(r.disconnected, 3);
    assert_int_equal(ad->ops->write_point(ad, &user_tokens[2], &v, &req), 0);
    run_until(base, &r.writes, 1);
    assert_int_equal(r.writes, 1);
    assert_ptr_equal(r.last_req, &req);
    assert_int_equal(r.last_write_status, ADAPTER_WRITE_DISCONNECTED);
    ad->ops->stop(ad);
    assert_int_equal(ad->ops->start(ad), 0); /* restartable */
    ad->ops->stop(ad);
    assert_int_equal(mb_adapter_stats(ad, &st), 0);
    assert_int_equal(st.requests, 0);
    assert_int_equal(st.reconnects, 0);
    assert_int_equal(r.link_up, 0);
    assert_int_equal(r.wrong_thread, 0);
    ad->ops->destroy(ad);
    event_base_free(base);
}

int main(void) {
    static const enum mb_transport tcp = MB_TRANSPORT_TCP, rtu_tcp = MB_TRANSPORT_RTU_TCP;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_validation),
        cmocka_unit_test(test_write_point_errors),
        cmocka_unit_test_prestate(test_link_down_reaches_loop, (void *)&tcp),
        cmocka_unit_test_prestate(test_link_down_reaches_loop, (void *)&rtu_tcp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
