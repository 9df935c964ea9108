/* SPDX-License-Identifier: Apache-2.0 */
/* Gateway mode (LwM2M 1.2, TS Gateway) at the engine level: IoT devices hosted by one endpoint,
 * the engine's /25, the Update that lists prefixed instances, the DM and observe operations on
 * /prefix/... paths (Observe-Composite across devices included), and a hosted device's Send and
 * store-and-forward on the host's registration, over the mock transport of dm_test_fixture.h. */
#include <sys/stat.h>
#include <unistd.h>

#include "dm_test_fixture.h"
#include "observe_internal.h"
#include "sf_store.h"

struct gwfx {
    struct dmfx *f;
    struct tprov dev[2];
    struct lwm2m_gwdev *gw[2];
};

/* Host with two devices "dev1" (21.5 °C) and "boiler" (60 °C). */
static struct gwfx *gw_new(void) {
    struct gwfx *g = calloc(1, sizeof(*g));
    assert_non_null(g);
    g->f = dmfx_new(2);
    g->f->srv->default_pmin = 0;
    g->f->srv->default_pmax = 0;
    for (int i = 0; i < 2; i++) {
        g->dev[i].model = g->f->model;
        tp_fill(&g->dev[i]);
    }
    tp_set(&g->dev[1], P3(3303, 0, 5700), lwm2m_value_float(60.0));
    assert_int_equal(
        lwm2m_endpoint_add_device(g->f->ep, "dev1", "meter-a", &tp_provider, &g->dev[0], &g->gw[0]),
        0);
    assert_int_equal(
        lwm2m_endpoint_add_device(g->f->ep, "boiler", "plc-7", &tp_provider, &g->dev[1], &g->gw[1]),
        0);
    return g;
}

static void gw_free(struct gwfx *g) {
    dmfx_free(g->f);
    free(g);
}

/* The payload of the last datagram sent as a string (Update or response). */
static const char *last_payload(struct dmfx *f) {
    dmfx_sent(f, -1);
    return dm_text(f);
}

static void test_add_device_sends_update_with_prefixed_links(void **state) {
    (void)state;
    struct gwfx *g = gw_new();
    /* the second device's Update waits for the first one's answer */
    assert_null(strstr(last_payload(g->f), "</boiler/"));
    dmfx_answer_request(g->f, COAP_204_CHANGED);
    dmfx_loop(g->f);
    struct coap_msg *m = dmfx_sent(g->f, -1);
    assert_int_equal(m->code, COAP_POST); /* the Update */
    const char *s = dm_text(g->f);
    assert_non_null(strstr(s, "</25>;ver=2.0,</25/0>,</25/1>"));
    assert_non_null(strstr(s, "</dev1/3303/0>"));
    assert_non_null(strstr(s, "</boiler/3311/1>"));
    assert_non_null(strstr(s, "</dev1/3>;ver=1.1,</dev1/3/0>"));
    assert_null(strstr(s, "</dev1/1")); /* a device has no Server object */
    /* /25 in ascending object order among the host's own, the prefixed links after them */
    assert_true(strstr(s, "</3/0>") < strstr(s, "</25>"));
    assert_true(strstr(s, "</25/1>") < strstr(s, "</3300>"));
    assert_true(strstr(s, "</3311/1>") < strstr(s, "</dev1/"));
    gw_free(g);
}

static void test_add_device_rejects_bad_prefixes(void **state) {
    (void)state;
    struct gwfx *g = gw_new();
    struct tprov t = {.model = g->f->model};
    assert_int_equal(lwm2m_endpoint_add_device(g->f->ep, "dev1", "x", &tp_provider, &t, NULL),
                     LWM2M_ERR_STATE);
    assert_int_equal(lwm2m_endpoint_add_device(g->f->ep, "3dev", "x", &tp_provider, &t, NULL),
                     LWM2M_ERR_INVALID);
    assert_int_equal(lwm2m_endpoint_add_device(g->f->ep, "a/b", "x", &tp_provider, &t, NULL),
                     LWM2M_ERR_INVALID);
    assert_int_equal(lwm2m_endpoint_add_device(g->f->ep, "", "x", &tp_provider, &t, NULL),
                     LWM2M_ERR_INVALID);
    assert_int_equal(lwm2m_gwdev_instance(g->gw[1]), 1);
    assert_string_equal(lwm2m_gwdev_prefix(g->gw[1]), "boiler");
    gw_free(g);
}

static void test_gateway_object_reads(void **state) {
    (void)state;
    struct gwfx *g = gw_new();
    assert_int_equal(dm_get(g->f, "25/0/0", -1), COAP_205_CONTENT);
    assert_string_equal(dm_text(g->f), "meter-a");
    assert_int_equal(dm_get(g->f, "25/1/1", -1), COAP_205_CONTENT);
    assert_string_equal(dm_text(g->f), "boiler");
    assert_int_equal(dm_get(g->f, "25/0/3", -1), COAP_205_CONTENT);
    const char *s = dm_text(g->f);
    assert_non_null(strstr(s, "</dev1/3/0>"));
    assert_non_null(strstr(s, "</dev1/3303/0>"));
    assert_null(strstr(s, "</dev1/3303>,")); /* instances only */
    assert_int_equal(dm_get(g->f, "25/2/0", -1), COAP_404_NOT_FOUND);
    assert_int_equal(dm_get(g->f, "25", LWM2M_CT_SENML_JSON), COAP_205_CONTENT);
    assert_non_null(strstr(dm_text(g->f), "\"plc-7\""));
    /* the engine's /25 is read-only for the server */
    assert_int_equal(dm_send_str(g->f, COAP_PUT, "25/0/1", LWM2M_CT_TEXT, "x"),
                     COAP_405_METHOD_NOT_ALLOWED);
    assert_int_equal(dm_send(g->f, COAP_DELETE, "25/0", -1, NULL, 0), COAP_405_METHOD_NOT_ALLOWED);
    gw_free(g);
}

static void test_prefixed_read(void **state) {
    (void)state;
    struct gwfx *g = gw_new();
    assert_int_equal(dm_get(g->f, "dev1/3303/0/5700", -1), COAP_205_CONTENT);
    assert_string_equal(dm_text(g->f), "21.5");
    assert_int_equal(dm_get(g->f, "boiler/3303/0/5700", -1), COAP_205_CONTENT);
    assert_string_equal(dm_text(g->f), "60");
    /* a resource instance is one value: text, with or without Accept */
    assert_int_equal(dm_get(g->f, "dev1/3/0/6/1", LWM2M_CT_TEXT), COAP_205_CONTENT);
    assert_int_equal(dmfx_opt(&g->f->resp, COAP_OPT_CONTENT_FORMAT), LWM2M_CT_TEXT);
    assert_string_equal(dm_text(g->f), "5");
    assert_int_equal(dm_get(g->f, "boiler/3/0/6/0", -1), COAP_205_CONTENT);
    assert_string_equal(dm_text(g->f), "1");
    assert_int_equal(dm_get(g->f, "dev1/3303/0", LWM2M_CT_SENML_JSON), COAP_205_CONTENT);
    assert_non_null(strstr(dm_text(g->f), "\"bn\":\"/dev1/3303/0/\""));
    assert_int_equal(dm_get(g->f, "dev1/3303/0", LWM2M_CT_LWM2M_CBOR), COAP_406_NOT_ACCEPTABLE);
    assert_int_equal(dm_get(g->f, "nodev/3303/0/5700", -1), COAP_404_NOT_FOUND);
    assert_int_equal(dm_get(g->f, "dev1/1/0/1", -1), COAP_404_NOT_FOUND);
    assert_int_equal(dm_get(g->f, "dev1/25/0/0", -1), COAP_404_NOT_FOUND);
    assert_int_equal(dm_get(g->f, "dev1/0/0/0", -1), COAP_401_UNAUTHORIZED);
    /* the host's own tree is unchanged */
    assert_int_equal(dm_get(g->f, "1/0/1", -1), COAP_205_CONTENT);
    gw_free(g);
}

static void test_prefixed_write_execute_create_delete(void **state) {
    (void)state;
    struct gwfx *g = gw_new();
    assert_int_equal(dm_send_str(g->f, COAP_PUT, "dev1/3311/0/5850", LWM2M_CT_TEXT, "1"),
                     COAP_204_CHANGED);
    assert_int_equal(g->dev[0].writes, 1);
    assert_int_equal(g->dev[1].writes + g->f->prov.writes, 0);
    struct lwm2m_path want = P3(3311, 0, 5850);
    assert_int_equal(lwm2m_path_cmp(&g->dev[0].last_path, &want), 0);
    assert_int_equal(dm_send_str(g->f, COAP_POST, "boiler/3/0/4", -1, ""), COAP_204_CHANGED);
    assert_int_equal(g->dev[1].executes, 1);
    assert_int_equal(dm_send(g->f, COAP_DELETE, "boiler/3311/1", -1, NULL, 0), COAP_202_DELETED);
    assert_false(tp_has_inst(&g->dev[1], 3311, 1));
    assert_true(tp_has_inst(&g->f->prov, 3311, 1));
    const char *tlv_create = "[{\"bn\":\"/3303/7/\",\"n\":\"5700\",\"v\":3}]";
    assert_int_equal(dm_send_str(g->f, COAP_POST, "dev1/3303", LWM2M_CT_SENML_JSON, tlv_create),
                     COAP_201_CREATED);
    assert_true(tp_has_inst(&g->dev[0], 3303, 7));
    gw_free(g);
}

static void test_prefixed_discover_and_attributes(void **state) {
    (void)state;
    struct gwfx *g = gw_new();
    assert_int_equal(dm_query(g->f, COAP_PUT, "dev1/3303/0/5700", "pmin=5"), COAP_204_CHANGED);
    assert_int_equal(dm_get(g->f, "dev1/3303", LWM2M_CT_LINK), COAP_205_CONTENT);
    const char *s = dm_text(g->f);
    assert_non_null(strstr(s, "</dev1/3303>"));
    assert_non_null(strstr(s, "</dev1/3303/0>"));
    assert_non_null(strstr(s, "</dev1/3303/0/5700>;pmin=5"));
    /* attributes are per device: the host's /3303/0/5700 has none */
    assert_int_equal(dm_get(g->f, "3303/0/5700", LWM2M_CT_LINK), COAP_205_CONTENT);
    assert_string_equal(dm_text(g->f), "</3303/0/5700>");
    gw_free(g);
}

static void test_prefixed_observe_notify_cancel(void **state) {
    (void)state;
    struct gwfx *g = gw_new();
    struct dmfx *f = g->f;
    struct rq q = {.code = COAP_GET, .path = "boiler/3303/0/5700", .has_observe = true};
    struct coap_msg *r = dmfx_do(f, &q);
    assert_non_null(r);
    assert_int_equal(r->code, COAP_205_CONTENT);
    assert_int_equal(lwm2m_gwdev_observations(g->gw[1]), 1);
    assert_int_equal(lwm2m_endpoint_observations(f->ep), 0);
    size_t before = f->tp.n;
    /* a change of the other device's value or the host's does not notify */
    struct lwm2m_path p = P3(3303, 0, 5700);
    tp_set(&g->dev[0], p, lwm2m_value_float(1.0));
    lwm2m_gwdev_changed(g->gw[0], &p);
    dmfx_loop(f);
    assert_int_equal(f->tp.n, before);
    tp_set(&g->dev[1], p, lwm2m_value_float(61.5));
    lwm2m_gwdev_changed(g->gw[1], &p);
    dmfx_loop(f);
    assert_int_equal(f->tp.n, before + 1);
    assert_string_equal(last_payload(f), "61.5");
    /* cancel with Observe 1 */
    q.observe = 1;
    r = dmfx_do(f, &q);
    assert_non_null(r);
    assert_int_equal(lwm2m_gwdev_observations(g->gw[1]), 0);
    gw_free(g);
}

static void test_read_composite_over_devices(void **state) {
    (void)state;
    struct gwfx *g = gw_new();
    const char *req = "[{\"n\":\"/boiler/3303/0/5700\"},{\"n\":\"/dev1/3303/0/5700\"},"
                      "{\"n\":\"/3303/0/5701\"},{\"n\":\"/25/1/1\"}]";
    struct rq q = {.code = COAP_FETCH,
                   .path = "",
                   .has_cf = true,
                   .cf = LWM2M_CT_SENML_JSON,
                   .payload = req,
                   .len = strlen(req)};
    struct coap_msg *r = dmfx_do(g->f, &q);
    assert_non_null(r);
    assert_int_equal(r->code, COAP_205_CONTENT);
    const char *s = dm_text(g->f);
    assert_non_null(strstr(s, "{\"n\":\"/boiler/3303/0/5700\",\"v\":60"));
    assert_non_null(strstr(s, "{\"n\":\"/dev1/3303/0/5700\",\"v\":21.5}"));
    assert_non_null(strstr(s, "{\"n\":\"/3303/0/5701\",\"vs\":\"Cel\"}"));
    assert_non_null(strstr(s, "{\"n\":\"/25/1/1\",\"vs\":\"boiler\"}"));
    /* an unknown prefix is 4.04; LwM2M CBOR cannot carry prefixes */
    const char *bad = "[{\"n\":\"/nodev/3303/0/5700\"}]";
    q.payload = bad;
    q.len = strlen(bad);
    assert_int_equal(dmfx_do(g->f, &q)->code, COAP_404_NOT_FOUND);
    q.payload = req;
    q.len = strlen(req);
    q.has_accept = true;
    q.accept = LWM2M_CT_LWM2M_CBOR;
    assert_int_equal(dmfx_do(g->f, &q)->code, COAP_406_NOT_ACCEPTABLE);
    gw_free(g);
}

static void test_write_composite_over_devices(void **state) {
    (void)state;
    struct gwfx *g = gw_new();
    const char *w = "[{\"n\":\"/dev1/3311/0/5851\",\"v\":7},"
                    "{\"n\":\"/boiler/3311/0/5851\",\"v\":8},"
                    "{\"n\":\"/3311/0/5851\",\"v\":9}]";
    struct rq q = {.code = COAP_IPATCH,
                   .path = "",
                   .has_cf = true,
                   .cf = LWM2M_CT_SENML_JSON,
                   .payload = w,
                   .len = strlen(w)};
    assert_int_equal(dmfx_do(g->f, &q)->code, COAP_204_CHANGED);
    struct lwm2m_value v;
    assert_int_equal(tp_get(&g->dev[0], P3(3311, 0, 5851), &v), 0);
    assert_int_equal(v.v.i, 7);
    assert_int_equal(tp_get(&g->dev[1], P3(3311, 0, 5851), &v), 0);
    assert_int_equal(v.v.i, 8);
    assert_int_equal(tp_get(&g->f->prov, P3(3311, 0, 5851), &v), 0);
    assert_int_equal(v.v.i, 9);
    /* all or nothing: an unknown prefix or a /25 target writes nothing */
    const char *bad = "[{\"n\":\"/dev1/3311/0/5851\",\"v\":1},"
                      "{\"n\":\"/nodev/3311/0/5851\",\"v\":1}]";
    q.payload = bad;
    q.len = strlen(bad);
    assert_int_equal(dmfx_do(g->f, &q)->code, COAP_404_NOT_FOUND);
    const char *gw = "[{\"n\":\"/25/0/1\",\"vs\":\"x\"}]";
    q.payload = gw;
    q.len = strlen(gw);
    assert_int_equal(dmfx_do(g->f, &q)->code, COAP_405_METHOD_NOT_ALLOWED);
    assert_int_equal(tp_get(&g->dev[0], P3(3311, 0, 5851), &v), 0);
    assert_int_equal(v.v.i, 7);
    gw_free(g);
}

static void test_observe_composite_on_one_device(void **state) {
    (void)state;
    struct gwfx *g = gw_new();
    struct dmfx *f = g->f;
    const char *req = "[{\"n\":\"/boiler/3303/0/5700\"},{\"n\":\"/boiler/3311/0/5851\"}]";
    struct rq q = {.code = COAP_FETCH,
                   .path = "",
                   .has_cf = true,
                   .cf = LWM2M_CT_SENML_JSON,
                   .has_observe = true,
                   .payload = req,
                   .len = strlen(req)};
    struct coap_msg *r = dmfx_do(f, &q);
    assert_non_null(r);
    assert_int_equal(r->code, COAP_205_CONTENT);
    assert_non_null(strstr(dm_text(f), "\"/boiler/3303/0/5700\""));
    assert_int_equal(lwm2m_gwdev_observations(g->gw[1]), 1);
    size_t before = f->tp.n;
    struct lwm2m_path p = P3(3303, 0, 5700);
    tp_set(&g->dev[1], p, lwm2m_value_float(62.5));
    lwm2m_gwdev_changed(g->gw[1], &p);
    dmfx_loop(f);
    assert_int_equal(f->tp.n, before + 1);
    const char *n = last_payload(f);
    assert_non_null(strstr(n, "{\"n\":\"/boiler/3303/0/5700\",\"v\":62.5}"));
    assert_non_null(strstr(n, "\"/boiler/3311/0/5851\""));
    /* cancel with Observe 1 and the same list */
    q.observe = 1;
    assert_int_equal(dmfx_do(f, &q)->code, COAP_205_CONTENT);
    assert_int_equal(lwm2m_gwdev_observations(g->gw[1]), 0);
    gw_free(g);
}

/* ---- Observe-Composite across devices (lives on the host) ----------------------------------- */

static const char MIXED[] = "[{\"n\":\"/boiler/3303/0/5700\"},{\"n\":\"/dev1/3303/0/5700\"},"
                            "{\"n\":\"/3303/0/5701\"}]";

static struct coap_msg *observe_mixed(struct dmfx *f, const char *list, uint32_t obs) {
    struct rq q = {.code = COAP_FETCH,
                   .path = "",
                   .has_cf = true,
                   .cf = LWM2M_CT_SENML_JSON,
                   .has_observe = true,
                   .observe = obs,
                   .payload = list,
                   .len = strlen(list)};
    struct coap_msg *r = dmfx_do(f, &q);
    assert_non_null(r);
    return r;
}

/* Whether the message's payload holds the bytes of str. */
static bool has_bytes(const struct coap_msg *m, const char *str) {
    size_t n = strlen(str);
    for (size_t i = 0; i + n <= m->payload_len; i++)
        if (memcmp((const uint8_t *)m->payload + i, str, n) == 0)
            return true;
    return false;
}

static void set_dev_temp(struct gwfx *g, int i, double v) {
    struct lwm2m_path p = P3(3303, 0, 5700);
    tp_set(&g->dev[i], p, lwm2m_value_float(v));
    lwm2m_gwdev_changed(g->gw[i], &p);
}

static void test_observe_composite_across_devices(void **state) {
    (void)state;
    struct gwfx *g = gw_new();
    struct dmfx *f = g->f;
    struct coap_msg *r = observe_mixed(f, MIXED, 0);
    assert_int_equal(r->code, COAP_205_CONTENT);
    assert_true(coap_msg_opt_uint(r, COAP_OPT_OBSERVE, &(uint32_t){0}) == 0);
    const char *s = dm_text(f);
    assert_non_null(strstr(s, "{\"n\":\"/dev1/3303/0/5700\",\"v\":21.5}"));
    assert_non_null(strstr(s, "{\"n\":\"/boiler/3303/0/5700\",\"v\":60"));
    assert_non_null(strstr(s, "{\"n\":\"/3303/0/5701\",\"vs\":\"Cel\"}"));
    /* one observation, on the host; none on the devices' views */
    assert_int_equal(lwm2m_endpoint_observations(f->ep), 1);
    assert_int_equal(lwm2m_gwdev_observations(g->gw[0]), 0);
    assert_int_equal(lwm2m_gwdev_observations(g->gw[1]), 0);
    size_t before = f->tp.n;
    dmfx_loop(f);
    assert_int_equal(f->tp.n, before); /* nothing changed yet */
    /* either device's change notifies, with every name prefixed */
    set_dev_temp(g, 0, 23.0);
    dmfx_loop(f);
    assert_int_equal(f->tp.n, before + 1);
    s = last_payload(f);
    assert_non_null(strstr(s, "{\"n\":\"/dev1/3303/0/5700\",\"v\":23.0}"));
    assert_non_null(strstr(s, "{\"n\":\"/boiler/3303/0/5700\",\"v\":60"));
    set_dev_temp(g, 1, 64.5);
    dmfx_loop(f);
    assert_int_equal(f->tp.n, before + 2);
    assert_non_null(strstr(last_payload(f), "{\"n\":\"/boiler/3303/0/5700\",\"v\":64.5}"));
    /* a change the list does not name (another path of a device, the host's 5700) does not */
    struct lwm2m_path other = P3(3311, 0, 5851);
    lwm2m_gwdev_changed(g->gw[0], &other);
    struct lwm2m_path host_temp = P3(3303, 0, 5700);
    lwm2m_endpoint_changed(f->ep, &host_temp);
    dmfx_loop(f);
    assert_int_equal(f->tp.n, before + 2);
    /* cancel by Observe 1 with the same list (another token) */
    assert_int_equal(observe_mixed(f, MIXED, 1)->code, COAP_205_CONTENT);
    assert_int_equal(lwm2m_endpoint_observations(f->ep), 0);
    set_dev_temp(g, 0, 24.0);
    dmfx_loop(f);
    assert_int_equal(f->tp.n, before + 3); /* only the cancel's answer */
    /* LwM2M CBOR cannot carry the prefixes */
    struct rq q = {.code = COAP_FETCH,
                   .path = "",
                   .has_cf = true,
                   .cf = LWM2M_CT_SENML_JSON,
                   .has_accept = true,
                   .accept = LWM2M_CT_LWM2M_CBOR,
                   .has_observe = true,
                   .payload = MIXED,
                   .len = strlen(MIXED)};
    assert_int_equal(dmfx_do(f, &q)->code, COAP_406_NOT_ACCEPTABLE);
    assert_int_equal(lwm2m_endpoint_observations(f->ep), 0);
    gw_free(g);
}

static void test_observe_composite_across_devices_rst_and_cbor(void **state) {
    (void)state;
    struct gwfx *g = gw_new();
    struct dmfx *f = g->f;
    struct rq q = {.code = COAP_FETCH,
                   .path = "",
                   .has_cf = true,
                   .cf = LWM2M_CT_SENML_JSON,
                   .has_accept = true,
                   .accept = LWM2M_CT_SENML_CBOR,
                   .has_observe = true,
                   .payload = MIXED,
                   .len = strlen(MIXED)};
    struct coap_msg *r = dmfx_do(f, &q);
    assert_int_equal(r->code, COAP_205_CONTENT);
    assert_int_equal(dmfx_opt(r, COAP_OPT_CONTENT_FORMAT), LWM2M_CT_SENML_CBOR);
    set_dev_temp(g, 1, 70.0);
    dmfx_loop(f);
    dmfx_sent(f, -1);
    assert_true(has_bytes(&f->resp, "/boiler/3303/0/5700")); /* CBOR text strings */
    assert_true(has_bytes(&f->resp, "/dev1/3303/0/5700"));
    /* RST to a notification ends the observation */
    dmfx_answer_last(f, COAP_TYPE_RST);
    assert_int_equal(lwm2m_endpoint_observations(f->ep), 0);
    gw_free(g);
}

static void test_observe_composite_device_removed(void **state) {
    (void)state;
    struct gwfx *g = gw_new();
    struct dmfx *f = g->f;
    assert_int_equal(observe_mixed(f, MIXED, 0)->code, COAP_205_CONTENT);
    const char *two = "[{\"n\":\"/boiler/3303/0/5700\"},{\"n\":\"/dev1/3303/0/5700\"}]";
    assert_int_equal(observe_mixed(f, two, 0)->code, COAP_205_CONTENT);
    assert_int_equal(lwm2m_endpoint_observations(f->ep), 2);
    /* dev1 goes: both observations lose its paths and say so in a notification */
    size_t before = f->tp.n;
    lwm2m_endpoint_remove_device(g->gw[0]);
    g->gw[0] = NULL;
    dmfx_loop(f);
    assert_int_equal(lwm2m_endpoint_observations(f->ep), 2);
    int notes = 0;
    for (size_t i = before; i < f->tp.n; i++) {
        struct coap_msg *m = dmfx_sent(f, (long)i);
        if (m->code != COAP_205_CONTENT)
            continue;
        notes++;
        assert_false(has_bytes(m, "/dev1/"));
        assert_true(has_bytes(m, "/boiler/3303/0/5700"));
    }
    assert_int_equal(notes, 2);
    /* the boiler's change still reaches both */
    before = f->tp.n;
    set_dev_temp(g, 1, 66.0);
    dmfx_loop(f);
    assert_int_equal(f->tp.n, before + 2);
    /* boiler goes too: the list of only devices is empty and ends with 4.04, the other keeps
     * the gateway's own path */
    before = f->tp.n;
    lwm2m_endpoint_remove_device(g->gw[1]);
    g->gw[1] = NULL;
    assert_int_equal(lwm2m_endpoint_observations(f->ep), 1);
    bool got404 = false;
    for (size_t i = before; i < f->tp.n; i++)
        got404 = got404 || dmfx_sent(f, (long)i)->code == COAP_404_NOT_FOUND;
    assert_true(got404);
    dmfx_loop(f);
    assert_non_null(strstr(last_payload(f), "{\"n\":\"/3303/0/5701\",\"vs\":\"Cel\"}"));
    gw_free(g);
}

/* ---- Send and store-and-forward of a hosted device ------------------------------------------ */

/* Answers the Updates gw_new() caused (one CON at a time per server: a Send waits for them). */
static void settle_updates(struct dmfx *f) {
    for (int i = 0; i < 2; i++) {
        dmfx_answer_request(f, COAP_204_CHANGED);
        dmfx_loop(f);
    }
}

static void test_send_of_device_is_prefixed(void **state) {
    (void)state;
    struct gwfx *g = gw_new();
    struct dmfx *f = g->f;
    struct lwm2m_endpoint *view = lwm2m_gwdev_endpoint(g->gw[1]);
    struct lwm2m_path p = P3(3303, 0, 5700);
    struct lwm2m_report_cfg rc = {
        .send_ct = LWM2M_CT_SENML_JSON, .send_paths = &p, .send_npaths = 1, .send_on_change = true};
    assert_non_null(view);
    settle_updates(f);
    assert_int_equal(lwm2m_endpoint_set_report(view, &rc), 0);
    uint64_t sends = lwm2m_engine_report_stats(f->eng)->sends;
    dmfx_loop(f);
    size_t before = f->tp.n;
    set_dev_temp(g, 1, 65.25);
    dmfx_loop(f);
    assert_int_equal(f->tp.n, before + 1);
    struct coap_msg *m = dmfx_sent(f, -1);
    assert_int_equal(m->code, COAP_POST);
    assert_int_equal(dmfx_opt(m, COAP_OPT_CONTENT_FORMAT), LWM2M_CT_SENML_JSON);
    const char *s = dm_text(f);
    assert_non_null(strstr(s, "\"n\":\"/boiler/3303/0/5700\""));
    assert_non_null(strstr(s, "\"v\":65.25"));
    assert_true(strstr(s, "\"bt\":") != NULL || strstr(s, "\"t\":") != NULL); /* stamped */
    assert_int_equal(lwm2m_engine_report_stats(f->eng)->sends, sends + 1);
    /* the other device's change sends nothing */
    before = f->tp.n;
    set_dev_temp(g, 0, 30.0);
    dmfx_loop(f);
    assert_int_equal(f->tp.n, before);
    /* by hand, too */
    assert_int_equal(lwm2m_endpoint_send(view, &p, 1), 0);
    assert_non_null(strstr(last_payload(f), "/boiler/3303/0/5700"));
    gw_free(g);
}

static void test_store_forward_of_device(void **state) {
    (void)state;
    struct gwfx *g = gw_new();
    struct dmfx *f = g->f;
    struct lwm2m_endpoint *view = lwm2m_gwdev_endpoint(g->gw[0]);
    struct lwm2m_path p = P3(3303, 0, 5700);
    struct lwm2m_report_cfg rc = {
        .send_ct = LWM2M_CT_SENML_JSON, .send_paths = &p, .send_npaths = 1, .send_on_change = true};
    f->srv->notification_storing = true;
    settle_updates(f);
    assert_int_equal(lwm2m_endpoint_set_report(view, &rc), 0); /* memory-only queue */
    const struct lwm2m_report_stats *st = lwm2m_engine_report_stats(f->eng);
    uint64_t kept = st->kept, delivered = st->kept_delivered;
    dmfx_loop(f);
    /* the server is unreachable: two values wait in the device's queue */
    f->srv->state = LWM2M_REG_IDLE;
    size_t before = f->tp.n;
    set_dev_temp(g, 0, 31.0);
    dmfx_loop(f);
    set_dev_temp(g, 0, 32.0);
    dmfx_loop(f);
    assert_int_equal(st->kept, kept + 2);
    assert_int_equal(f->tp.n, before);
    /* registered again: delivered in order, one CON at a time, names prefixed */
    f->srv->state = LWM2M_REG_REGISTERED;
    lwm2m_obs_reg_event(f->srv, LWM2M_OBS_REG_UPDATED);
    dmfx_loop(f);
    assert_int_equal(f->tp.n, before + 1);
    const char *s = last_payload(f);
    assert_non_null(strstr(s, "\"/dev1/3303/0/5700\""));
    assert_non_null(strstr(s, "\"v\":31"));
    dmfx_answer_request(f, COAP_204_CHANGED);
    dmfx_loop(f);
    assert_int_equal(f->tp.n, before + 2);
    assert_non_null(strstr(last_payload(f), "\"v\":32"));
    dmfx_answer_request(f, COAP_204_CHANGED);
    dmfx_loop(f);
    assert_int_equal(st->kept_delivered, delivered + 2);
    assert_int_equal(f->tp.n, before + 2);
    gw_free(g);
}

/* The queue file of the device hosted as prefix under the fixture's endpoint, for ssid 1. */
static bool queue_file_exists(const char *dir, const char *prefix) {
    char name[64], file[256], path[512];
    snprintf(name, sizeof(name), "dm-test/%s", prefix);
    assert_true(lwm2m_sf_file_name(name, 1, file, sizeof(file)) > 0);
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    return access(path, F_OK) == 0;
}

/* Both devices queue a Send while the server is unreachable; the files are written. */
static void queue_both(struct gwfx *g, const char *dir) {
    struct lwm2m_path p = P3(3303, 0, 5700);
    struct lwm2m_report_cfg rc = {.send_ct = LWM2M_CT_SENML_JSON,
                                  .send_paths = &p,
                                  .send_npaths = 1,
                                  .send_on_change = true,
                                  .state_dir = dir};
    g->f->srv->notification_storing = true;
    settle_updates(g->f);
    for (int i = 0; i < 2; i++)
        assert_int_equal(lwm2m_endpoint_set_report(lwm2m_gwdev_endpoint(g->gw[i]), &rc), 0);
    dmfx_loop(g->f);
    g->f->srv->state = LWM2M_REG_IDLE;
    set_dev_temp(g, 0, 31.0);
    set_dev_temp(g, 1, 61.0);
    dmfx_loop(g->f);
    assert_false(queue_file_exists(dir, "dev1")); /* written by the engine's flush, a tick later */
    g->f->now += 1000;
    assert_int_equal(lwm2m_keep_flush_tick(g->f->eng), 2);
    assert_true(queue_file_exists(dir, "dev1"));
    assert_true(queue_file_exists(dir, "boiler"));
}

/* A device removed for good takes its queue file along; one that only leaves (down, shutdown)
 * keeps it for when it is back, until lwm2m_queue_remove says it is gone for good. */
static void test_removed_device_queue_file(void **state) {
    (void)state;
    char dir[] = "/tmp/gwq-XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct gwfx *g = gw_new();
    queue_both(g, dir);
    const struct lwm2m_report_stats *st = lwm2m_engine_report_stats(g->f->eng);
    uint64_t dropped = st->kept_dropped;
    assert_int_equal(lwm2m_endpoint_discard_queues(lwm2m_gwdev_endpoint(g->gw[0])), 0);
    lwm2m_endpoint_remove_device(g->gw[0]);
    assert_false(queue_file_exists(dir, "dev1"));
    assert_true(queue_file_exists(dir, "boiler"));
    assert_int_equal(st->kept_dropped, dropped + 1);
    /* down: removed without discarding, the file stays (synced with its value) */
    lwm2m_endpoint_remove_device(g->gw[1]);
    dmfx_loop(g->f);
    assert_true(queue_file_exists(dir, "boiler"));
    /* ... and back under the same prefix, the value is still there */
    assert_int_equal(
        lwm2m_endpoint_add_device(g->f->ep, "boiler", "plc-7", &tp_provider, &g->dev[1], &g->gw[1]),
        0);
    struct lwm2m_report_cfg rc = {.send_ct = LWM2M_CT_SENML_JSON, .state_dir = dir};
    assert_int_equal(lwm2m_endpoint_set_report(lwm2m_gwdev_endpoint(g->gw[1]), &rc), 0);
    g->f->srv->state = LWM2M_REG_REGISTERED;
    lwm2m_obs_reg_event(g->f->srv, LWM2M_OBS_REG_UPDATED);
    dmfx_loop(g->f);
    const char *s = last_payload(g->f);
    assert_non_null(strstr(s, "\"/boiler/3303/0/5700\""));
    assert_non_null(strstr(s, "\"v\":61"));
    /* removed for good while down: by name */
    lwm2m_endpoint_remove_device(g->gw[1]);
    assert_true(queue_file_exists(dir, "boiler"));
    assert_int_equal(lwm2m_queue_remove(dir, "dm-test", "boiler", 1), 0);
    assert_false(queue_file_exists(dir, "boiler"));
    assert_int_equal(lwm2m_queue_remove(dir, "dm-test", "boiler", 1), 0); /* none: fine */
    assert_int_equal(lwm2m_queue_remove(NULL, "dm-test", "boiler", 1), LWM2M_ERR_INVALID);
    gw_free(g);
    assert_int_equal(rmdir(dir), 0); /* nothing else was left behind */
}

/* ---- Store-and-forward of an Observe-Composite across devices (the host's queue) ----------- */

/* The host with a memory-only queue for its server and the observation of list, at t 5000 s. */
static void keep_composite(struct gwfx *g, const char *list) {
    struct lwm2m_report_cfg rc = {.send_ct = LWM2M_CT_SENML_JSON};
    g->f->srv->notification_storing = true;
    settle_updates(g->f);
    assert_int_equal(lwm2m_endpoint_set_report(g->f->ep, &rc), 0);
    assert_int_equal(observe_mixed(g->f, list, 0)->code, COAP_205_CONTENT);
    dmfx_loop(g->f);
}

static void test_store_forward_composite_across_devices(void **state) {
    (void)state;
    struct gwfx *g = gw_new();
    struct dmfx *f = g->f;
    keep_composite(g, MIXED);
    const struct lwm2m_report_stats *st = lwm2m_engine_report_stats(f->eng);
    uint64_t kept = st->kept, delivered = st->kept_delivered;
    /* unreachable: each device's change is queued with the time it was taken */
    f->srv->state = LWM2M_REG_IDLE;
    size_t before = f->tp.n;
    f->now += 1000;
    set_dev_temp(g, 0, 23.0);
    dmfx_loop(f);
    f->now += 2000;
    set_dev_temp(g, 1, 64.5);
    dmfx_loop(f);
    assert_int_equal(st->kept, kept + 2);
    assert_int_equal(f->tp.n, before);
    /* back: delivered in order as CON notifications, every name with its device's prefix */
    f->now += 30000;
    f->srv->state = LWM2M_REG_REGISTERED;
    lwm2m_obs_reg_event(f->srv, LWM2M_OBS_REG_UPDATED);
    dmfx_loop(f);
    assert_int_equal(f->tp.n, before + 1);
    struct coap_msg *m = dmfx_sent(f, -1);
    assert_int_equal(m->type, COAP_TYPE_CON);
    assert_int_equal(m->code, COAP_205_CONTENT);
    const char *s = dm_text(f);
    assert_non_null(strstr(s, "{\"n\":\"/3303/0/5701\",\"vs\":\"Cel\",\"t\":5001}"));
    assert_non_null(strstr(s, "{\"n\":\"/dev1/3303/0/5700\",\"v\":23.0,\"t\":5001}"));
    assert_non_null(strstr(s, "{\"n\":\"/boiler/3303/0/5700\",\"v\":60.0,\"t\":5001}"));
    dmfx_answer_last(f, COAP_TYPE_ACK);
    dmfx_loop(f);
    assert_int_equal(f->tp.n, before + 2);
    s = last_payload(f);
    assert_non_null(strstr(s, "{\"n\":\"/dev1/3303/0/5700\",\"v\":23.0,\"t\":5003}"));
    assert_non_null(strstr(s, "{\"n\":\"/boiler/3303/0/5700\",\"v\":64.5,\"t\":5003}"));
    dmfx_answer_last(f, COAP_TYPE_ACK);
    dmfx_loop(f);
    assert_int_equal(st->kept_delivered, delivered + 2);
    assert_int_equal(f->tp.n, before + 2);
    gw_free(g);
}

/* The last Send (POST /dp) sent from index from on, or NULL. */
static struct coap_msg *last_send(struct dmfx *f, size_t from) {
    for (size_t i = f->tp.n; i-- > from;) {
        struct coap_msg *m = dmfx_sent(f, (long)i);
        char uri[8];
        if (m->code == COAP_POST && coap_msg_path(m, COAP_OPT_URI_PATH, uri, sizeof(uri)) >= 0 &&
            strcmp(uri, "dp") == 0)
            return m;
    }
    return NULL;
}

/* Queued records are mapped by Device ID at delivery: a device back under another prefix gets
 * the new one, a device gone is left out, an entry left empty is dropped; with the observation
 * gone, what is left goes as Send. */
static void test_store_forward_composite_devices_gone(void **state) {
    (void)state;
    struct gwfx *g = gw_new();
    struct dmfx *f = g->f;
    keep_composite(g, "[{\"n\":\"/boiler/3303/0/5700\"},{\"n\":\"/dev1/3303/0/5700\"}]");
    const struct lwm2m_report_stats *st = lwm2m_engine_report_stats(f->eng);
    uint64_t kept = st->kept, delivered = st->kept_delivered, dropped = st->kept_dropped;
    f->srv->state = LWM2M_REG_IDLE;
    set_dev_temp(g, 0, 23.0);
    dmfx_loop(f); /* entry 1: meter-a 23, plc-7 60 */
    lwm2m_endpoint_remove_device(g->gw[0]);
    dmfx_loop(f); /* entry 2: plc-7 60 (the list lost dev1) */
    assert_int_equal(st->kept, kept + 2);
    assert_int_equal(
        lwm2m_endpoint_add_device(f->ep, "dev9", "meter-a", &tp_provider, &g->dev[0], &g->gw[0]),
        0);
    lwm2m_endpoint_remove_device(g->gw[1]); /* the list is empty: the observation ends */
    g->gw[1] = NULL;
    assert_int_equal(lwm2m_endpoint_observations(f->ep), 0);
    size_t before = f->tp.n;
    f->srv->state = LWM2M_REG_REGISTERED;
    lwm2m_obs_reg_event(f->srv, LWM2M_OBS_REG_UPDATED);
    dmfx_loop(f);
    struct coap_msg *m = last_send(f, before);
    assert_non_null(m);
    assert_true(has_bytes(m, "\"n\":\"/dev9/3303/0/5700\",\"v\":23.0"));
    assert_false(has_bytes(m, "/boiler/"));
    assert_false(has_bytes(m, "/dev1/"));
    dmfx_answer_request(f, COAP_204_CHANGED);
    dmfx_loop(f);
    assert_int_equal(st->kept_delivered, delivered + 1);
    assert_int_equal(st->kept_dropped, dropped + 1); /* entry 2: plc-7 is gone */
    gw_free(g);
}

static void test_remove_device(void **state) {
    (void)state;
    struct gwfx *g = gw_new();
    struct dmfx *f = g->f;
    struct rq q = {.code = COAP_GET, .path = "dev1/3303/0/5700", .has_observe = true};
    assert_non_null(dmfx_do(f, &q));
    assert_int_equal(lwm2m_gwdev_observations(g->gw[0]), 1);
    lwm2m_endpoint_remove_device(g->gw[0]);
    assert_int_equal(dm_get(f, "dev1/3303/0/5700", -1), COAP_404_NOT_FOUND);
    assert_int_equal(dm_get(f, "25/0/0", -1), COAP_404_NOT_FOUND);
    assert_int_equal(dm_get(f, "25/1/0", -1), COAP_205_CONTENT);
    /* a new device takes the free instance 0 */
    assert_int_equal(
        lwm2m_endpoint_add_device(f->ep, "dev3", "x", &tp_provider, &g->dev[0], &g->gw[0]), 0);
    assert_int_equal(lwm2m_gwdev_instance(g->gw[0]), 0);
    gw_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_device_sends_update_with_prefixed_links),
        cmocka_unit_test(test_add_device_rejects_bad_prefixes),
        cmocka_unit_test(test_gateway_object_reads),
        cmocka_unit_test(test_prefixed_read),
        cmocka_unit_test(test_prefixed_write_execute_create_delete),
        cmocka_unit_test(test_prefixed_discover_and_attributes),
        cmocka_unit_test(test_prefixed_observe_notify_cancel),
        cmocka_unit_test(test_read_composite_over_devices),
        cmocka_unit_test(test_write_composite_over_devices),
        cmocka_unit_test(test_observe_composite_on_one_device),
        cmocka_unit_test(test_remove_device),
        cmocka_unit_test(test_observe_composite_across_devices),
        cmocka_unit_test(test_observe_composite_across_devices_rst_and_cbor),
        cmocka_unit_test(test_observe_composite_device_removed),
        cmocka_unit_test(test_send_of_device_is_prefixed),
        cmocka_unit_test(test_store_forward_of_device),
        cmocka_unit_test(test_removed_device_queue_file),
        cmocka_unit_test(test_store_forward_composite_across_devices),
        cmocka_unit_test(test_store_forward_composite_devices_gone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
