/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the config layer: durations, templates, ${VAR} substitution, did-you-mean, error
 * formatting, and a complete file loaded from memory into the expected struct. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cfg.h"
#include "cfg_internal.h"

static int load(const char *yaml, const struct cfg **cfg, struct cfg_errors *errs) {
    return cfg_load_buffer("t.yaml", yaml, strlen(yaml), cfg, errs);
}

/* Loads a document expected to fail and returns its first formatted error. */
static const char *first_error(const char *yaml, char *buf, size_t cap) {
    const struct cfg *cfg;
    struct cfg_errors errs;
    assert_int_equal(load(yaml, &cfg, &errs), -EINVAL);
    assert_null(cfg);
    assert_true(errs.n > 0);
    cfg_error_format(&errs, 0, buf, cap);
    return buf;
}

#define MIN_LWM2M "lwm2m:\n  servers: [{uri: coap://127.0.0.1:5683}]\n"

static void test_duration(void **state) {
    (void)state;
    uint32_t ms = 0;
    assert_int_equal(cfg_duration_parse("500ms", &ms), 0);
    assert_int_equal(ms, 500);
    assert_int_equal(cfg_duration_parse("1s", &ms), 0);
    assert_int_equal(ms, 1000);
    assert_int_equal(cfg_duration_parse("5m", &ms), 0);
    assert_int_equal(ms, 300000);
    assert_int_equal(cfg_duration_parse("2h", &ms), 0);
    assert_int_equal(ms, 7200000);
    assert_int_equal(cfg_duration_parse("0s", &ms), 0);
    assert_int_equal(ms, 0);
    const char *bad[] = {"", "fast", "5", "1.5s", "-1s", "s", "1 s", "1sec", "1S", "10mss"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(cfg_duration_parse(bad[i], &ms), -EINVAL);
    assert_int_equal(cfg_duration_parse("4294967295ms", &ms), 0);
    assert_int_equal(cfg_duration_parse("4294967296ms", &ms), -ERANGE);
    assert_int_equal(cfg_duration_parse("1193h", &ms), 0);
    assert_int_equal(cfg_duration_parse("1200h", &ms), -ERANGE);
    assert_int_equal(cfg_duration_parse("99999999999999999999s", &ms), -ERANGE);

    char out[16];
    cfg_duration_format(1500, out, sizeof(out));
    assert_string_equal(out, "1500ms");
    cfg_duration_format(2000, out, sizeof(out));
    assert_string_equal(out, "2s");
    cfg_duration_format(300000, out, sizeof(out));
    assert_string_equal(out, "5m");
    cfg_duration_format(0, out, sizeof(out));
    assert_string_equal(out, "0ms");
}

static void test_template(void **state) {
    (void)state;
    char out[64];
    assert_int_equal(cfg_template_expand("urn:dev:{gateway}:{device}", "gw", "m1", -1, out, 64),
                     13);
    assert_string_equal(out, "urn:dev:gw:m1");
    assert_int_equal(cfg_template_expand("{device}-{unit}", "gw", "d", 17, out, 64), 4);
    assert_string_equal(out, "d-17");
    assert_int_equal(cfg_template_expand("plain", NULL, NULL, -1, out, 64), 5);
    assert_string_equal(out, "plain");
    /* unavailable or unknown placeholders, unbalanced braces */
    assert_int_equal(cfg_template_expand("{unit}", "gw", "d", -1, out, 64), -EINVAL);
    assert_int_equal(cfg_template_expand("{device}", "gw", NULL, 1, out, 64), -EINVAL);
    assert_int_equal(cfg_template_expand("{dev}", "gw", "d", 1, out, 64), -EINVAL);
    assert_int_equal(cfg_template_expand("a{device", "gw", "d", 1, out, 64), -EINVAL);
    assert_int_equal(cfg_template_expand("a}b", "gw", "d", 1, out, 64), -EINVAL);
    assert_int_equal(cfg_template_expand("{{device}}", "gw", "d", 1, out, 64), -EINVAL);
    /* truncation is reported and the output stays terminated */
    assert_int_equal(cfg_template_expand("{gateway}{gateway}", "abcdef", NULL, -1, out, 8),
                     -ENOSPC);
    assert_int_equal(strlen(out), 7);
}

static void test_template_at_load(void **state) {
    (void)state;
    char buf[512];
    assert_string_equal(
        first_error("lwm2m:\n  endpoint_name: \"urn:{gw}\"\n  servers: [{uri: coap://h}]\n", buf,
                    sizeof(buf)),
        "t.yaml:2:18: lwm2m.endpoint_name: unknown placeholder '{gw}' in 'urn:{gw}' (expected one "
        "of: {gateway}, {device}, {unit})");
}

static void test_env(void **state) {
    (void)state;
    const struct cfg *cfg;
    struct cfg_errors errs;
    char buf[512];
    setenv("CFG_TEST_HOST", "192.0.2.1", 1);
    setenv("CFG_TEST_EMPTY", "", 1);
    unsetenv("CFG_TEST_UNSET");
    const char *yaml = "gateway: {id: \"gw${CFG_TEST_EMPTY}-${CFG_TEST_UNSET:-x}\",\n"
                       "          state_dir: \"/var/$${HOME}/$\"}\n"
                       "lwm2m:\n"
                       "  servers: [{uri: \"coap://${CFG_TEST_HOST}:${CFG_TEST_UNSET:-5690}\"}]\n"
                       "  endpoint_name: \"{device}\"\n";
    int rc = load(yaml, &cfg, &errs);
    if (rc != 0)
        cfg_errors_print(&errs, stderr);
    assert_int_equal(rc, 0);
    assert_string_equal(cfg->gateway.id, "gw-x");
    assert_string_equal(cfg->lwm2m.servers[0].uri, "coap://192.0.2.1:5690");
    assert_string_equal(cfg->lwm2m.servers[0].host, "192.0.2.1");
    assert_int_equal(cfg->lwm2m.servers[0].port, 5690);
    assert_string_equal(cfg->gateway.state_dir, "/var/${HOME}/$");
    cfg_free(cfg);

    assert_string_equal(
        first_error("lwm2m:\n  servers: [{uri: \"${CFG_TEST_UNSET}\"}]\n", buf, sizeof(buf)),
        "t.yaml:2:19: lwm2m.servers[0].uri: environment variable 'CFG_TEST_UNSET' "
        "is not set (write ${CFG_TEST_UNSET:-default} to give a default)");
    assert_string_equal(
        first_error("lwm2m:\n  servers: [{uri: \"${CFG_TEST_HOST\"}]\n", buf, sizeof(buf)),
        "t.yaml:2:19: lwm2m.servers[0].uri: unterminated '${' in "
        "'${CFG_TEST_HOST'");
    assert_string_equal(
        first_error("lwm2m:\n  servers: [{uri: \"${1X}\"}]\n", buf, sizeof(buf)),
        "t.yaml:2:19: lwm2m.servers[0].uri: bad environment variable reference '${1X}'");
}

static void test_did_you_mean(void **state) {
    (void)state;
    static const char *const keys[] = {"lifetime", "binding", "servers", "mode"};
    assert_string_equal(cfg_suggest("lifetme", keys, 4), "lifetime");
    assert_string_equal(cfg_suggest("sevrers", keys, 4), "servers"); /* transposition */
    assert_string_equal(cfg_suggest("mod", keys, 4), "mode");
    assert_null(cfg_suggest("zzz", keys, 4));
    assert_null(cfg_suggest("version", keys, 4));
    assert_int_equal(cfg_levenshtein("kitten", "sitting", 10), 3);
    assert_int_equal(cfg_levenshtein("kitten", "sitting", 2), 3); /* capped: cap + 1 */
    assert_int_equal(cfg_levenshtein("", "abc", 10), 3);
    assert_int_equal(cfg_levenshtein("reda", "read", 10), 1);

    char buf[512];
    assert_string_equal(
        first_error("lwm2m:\n  lifetme: 300\n  servers: [{uri: coap://h}]\n", buf, sizeof(buf)),
        "t.yaml:2:3: lwm2m.lifetme: unknown key (did you mean 'lifetime'?)");
    assert_string_equal(first_error(MIN_LWM2M "gateway: {xyzzy: 1}\n", buf, sizeof(buf)),
                        "t.yaml:3:11: gateway.xyzzy: unknown key (expected one of: id, state_dir, "
                        "log_level, http, stale_after, down_deregister)");
}

static void test_errors_collected_and_sorted(void **state) {
    (void)state;
    const struct cfg *cfg;
    struct cfg_errors errs;
    /* devices come last in the walk but the profile error is later in the file: sorted by line */
    const char *yaml = "lwm2m:\n  servers: [{uri: coap://h, short_server_id: 0}]\n"
                       "gateway: {log_level: loud}\n"
                       "adapters:\n  - {name: a, type: modbus-tcp, host: h, timeout: fast}\n";
    assert_int_equal(load(yaml, &cfg, &errs), -EINVAL);
    assert_int_equal(errs.n, 3);
    assert_int_equal(errs.e[0].line, 2);
    assert_int_equal(errs.e[1].line, 3);
    assert_int_equal(errs.e[2].line, 5);
    assert_string_equal(errs.e[2].path, "adapters[0].timeout");
    assert_string_equal(errs.e[2].msg, "expected a duration like 500ms, 1s or 5m, got 'fast'");

    /* more than CFG_MAX_ERRORS: the rest are counted */
    char big[4096] = "lwm2m:\n  servers: [{uri: coap://h}]\ngateway:\n";
    for (int i = 0; i < 30; i++)
        snprintf(big + strlen(big), sizeof(big) - strlen(big), "  bad%d: 1\n", i);
    assert_int_equal(load(big, &cfg, &errs), -EINVAL);
    assert_int_equal(errs.n, CFG_MAX_ERRORS);
    assert_int_equal(errs.dropped, 10);
}

static void test_yaml_errors(void **state) {
    (void)state;
    char buf[512];
    assert_string_equal(first_error("lwm2m: [\n", buf, sizeof(buf)),
                        "t.yaml:2:1: invalid YAML: did not find expected node content (while "
                        "parsing a flow node at 2:1)");
    assert_string_equal(first_error("a: &x 1\nb: *x\n", buf, sizeof(buf)),
                        "t.yaml:2:4: aliases (*name) are not supported: use profiles to share "
                        "device definitions");
    assert_string_equal(first_error("--- {}\n--- {}\n", buf, sizeof(buf)),
                        "t.yaml:2:1: invalid YAML: only one document is allowed in a config file");
    assert_string_equal(first_error("", buf, sizeof(buf)),
                        "t.yaml:1:1: missing required key 'lwm2m'");
    assert_string_equal(first_error("- 1\n", buf, sizeof(buf)),
                        "t.yaml:1:1: expected a mapping, got a sequence");
}

static const char *const GOOD =
    "gateway: {id: gw1, http: \"[::1]:8080\", log_level: debug}\n"
    "lwm2m:\n"
    "  lifetime: 5m\n"
    "  coap: {ack_timeout: 3s, max_retransmit: 0}\n"
    "  servers:\n"
    "    - uri: coaps://[2001:db8::1]\n"
    "      security: {mode: psk, identity: 'id-{gateway}-{device}', key: 0A0b}\n"
    "    - {uri: coap://127.0.0.1:5690/, short_server_id: 9, lifetime: 60}\n"
    "  bootstrap: {uri: coap://127.0.0.1:5783}\n"
    "adapters:\n"
    "  - {name: plc, type: modbus-tcp, host: 10.0.0.2, timeout: 250ms, poll: 2s}\n"
    "  - {name: rtu, type: modbus-rtu, device: /dev/ttyS1, parity: none, stop_bits: 2}\n"
    "  - {name: mq, type: mqtt, host: broker, username: u, password: p}\n"
    "profiles:\n"
    "  meter:\n"
    "    3316: {0: {5700: {read: 'holding:0x10', type: float32, order: CDAB, scale: 0.5,\n"
    "                       offset: -1}}}\n"
    "    3311: {0: {5850: {read: 'coil:3', write: 'coil:3'}}}\n"
    "    3: {0: {0: ACME}}\n"
    "  th:\n"
    "    3303: {0: {5700: {topic: 's/{device}', json: /t},\n"
    "               5701: {value: Cel}}}\n"
    "    3311: {0: {5850: {topic: 's/{device}', json: /on,\n"
    "                      write: {topic: 's/{device}/set', json: /on, qos: 1}}}}\n"
    "devices:\n"
    "  - {name: m1, adapter: plc, unit: 3, profile: meter}\n"
    "  - {name: m2, adapter: rtu, profile: meter, poll: 750ms,\n"
    "     overrides: {3: {0: {0: Other, 1: Model-X}}}}\n"
    "  - {adapter: mq, profile: th, discover: 'home/{device}/#'}\n";

static void test_good_file(void **state) {
    (void)state;
    const struct cfg *cfg;
    struct cfg_errors errs;
    int rc = load(GOOD, &cfg, &errs);
    if (rc != 0)
        cfg_errors_print(&errs, stderr);
    assert_int_equal(rc, 0);
    assert_int_equal(errs.n, 0);

    assert_string_equal(cfg->gateway.id, "gw1");
    assert_string_equal(cfg->gateway.http_host, "::1");
    assert_int_equal(cfg->gateway.http_port, 8080);
    assert_int_equal(cfg->gateway.log_level, CFG_LOG_DEBUG);
    assert_string_equal(cfg->gateway.state_dir, "./state");

    const struct cfg_lwm2m *l = &cfg->lwm2m;
    assert_int_equal(l->mode, CFG_MODE_ENDPOINT_PER_DEVICE);
    assert_int_equal(l->version, CFG_LWM2M_1_2);
    assert_string_equal(l->endpoint_name, "urn:dev:{gateway}:{device}");
    assert_string_equal(l->binding, "U");
    assert_int_equal(l->lifetime, 300);
    assert_int_equal(l->nservers, 2);
    assert_string_equal(l->servers[0].host, "2001:db8::1");
    assert_int_equal(l->servers[0].port, 5684);
    assert_true(l->servers[0].secure);
    assert_int_equal(l->servers[0].short_server_id, 1);
    assert_int_equal(l->servers[0].lifetime, 300);
    assert_int_equal(l->servers[0].security.mode, CFG_SEC_PSK);
    assert_string_equal(l->servers[0].security.identity, "id-{gateway}-{device}");
    assert_int_equal(l->coap.ack_timeout_ms, 3000);
    assert_int_equal(l->coap.max_retransmit, 0);
    assert_int_equal(l->servers[0].security.psk_len, 2);
    assert_memory_equal(l->servers[0].security.psk, "\x0a\x0b", 2);
    assert_int_equal(l->servers[1].port, 5690);
    assert_int_equal(l->servers[1].short_server_id, 9);
    assert_int_equal(l->servers[1].lifetime, 60);
    assert_non_null(l->bootstrap);
    assert_int_equal(l->bootstrap->port, 5783);

    assert_int_equal(cfg->nadapters, 3);
    const struct cfg_adapter *plc = cfg_adapter_find(cfg, "plc");
    const struct cfg_adapter *rtu = cfg_adapter_find(cfg, "rtu");
    const struct cfg_adapter *mq = cfg_adapter_find(cfg, "mq");
    assert_non_null(plc);
    assert_int_equal(plc->port, 502);
    assert_int_equal(plc->timeout_ms, 250);
    assert_int_equal(rtu->type, CFG_ADAPTER_MODBUS_RTU);
    assert_int_equal(rtu->baud, 19200);
    assert_int_equal(rtu->parity, CFG_PARITY_NONE);
    assert_int_equal(rtu->data_bits, 8);
    assert_int_equal(rtu->stop_bits, 2);
    assert_int_equal(mq->port, 1883);
    assert_int_equal(mq->protocol, 4);
    assert_true(mq->clean_session);
    assert_int_equal(mq->keepalive_s, 60);
    assert_string_equal(mq->client_id, "{gateway}");
    assert_string_equal(mq->password, "p");
    assert_null(cfg_adapter_find(cfg, "nope"));

    const struct cfg_profile *meter = cfg_profile_find(cfg, "meter");
    assert_non_null(meter);
    assert_true(meter->has_modbus);
    assert_false(meter->has_mqtt);
    assert_int_equal(meter->nres, 3); /* sorted: /3/0/0, /3311/0/5850, /3316/0/5700 */
    assert_int_equal(meter->res[0].obj, 3);
    assert_int_equal(meter->res[0].b.kind, CFG_BIND_CONST);
    assert_string_equal(meter->res[0].b.u.value, "ACME");
    const struct cfg_modbus_binding *coil = &meter->res[1].b.u.modbus;
    assert_int_equal(meter->res[1].obj, 3311);
    assert_true(coil->read.set && coil->write.set);
    assert_int_equal(coil->type, CFG_MB_BOOL);
    assert_true(coil->readback);
    const struct cfg_modbus_binding *v = &meter->res[2].b.u.modbus;
    assert_int_equal(v->read.table, CFG_MB_HOLDING);
    assert_int_equal(v->read.addr, 16);
    assert_false(v->write.set);
    assert_int_equal(v->type, CFG_MB_FLOAT32);
    assert_int_equal(v->count, 2);
    assert_int_equal(v->order, CFG_MB_CDAB);
    assert_true(v->scale == 0.5 && v->offset == -1.0);

    const struct cfg_profile *th = cfg_profile_find(cfg, "th");
    assert_true(th->has_mqtt);
    assert_int_equal(th->nres, 3);
    const struct cfg_mqtt_binding *t = &th->res[0].b.u.mqtt;
    assert_string_equal(t->topic, "s/{device}");
    assert_string_equal(t->json, "/t");
    assert_int_equal(t->format, CFG_MQ_JSON);
    assert_false(t->has_write);
    const struct cfg_mqtt_binding *sw = &th->res[2].b.u.mqtt;
    assert_true(sw->has_write);
    assert_string_equal(sw->write.topic, "s/{device}/set");
    assert_int_equal(sw->write.qos, 1);
    assert_int_equal(sw->write.format, CFG_MQ_JSON);

    assert_int_equal(cfg->ndevices, 3);
    const struct cfg_device *m1 = &cfg->devices[0], *m2 = &cfg->devices[1];
    const struct cfg_device *disc = &cfg->devices[2];
    assert_string_equal(m1->endpoint, "urn:dev:gw1:m1");
    assert_ptr_equal(m1->adapter, plc);
    assert_ptr_equal(m1->profile, meter);
    assert_int_equal(m1->unit, 3);
    assert_int_equal(m1->poll_ms, 2000); /* the adapter's */
    assert_ptr_equal(m1->res, meter->res);
    assert_int_equal(m2->unit, 1); /* default unit */
    assert_int_equal(m2->poll_ms, 750);
    assert_int_equal(m2->nres, 4); /* /3/0/0 replaced, /3/0/1 added */
    assert_string_equal(m2->res[0].b.u.value, "Other");
    assert_int_equal(m2->res[1].res, 1);
    assert_string_equal(m2->res[1].b.u.value, "Model-X");
    assert_null(disc->name);
    assert_null(disc->endpoint);
    assert_int_equal(disc->unit, -1);
    assert_string_equal(disc->discover_filter, "home/+/#");
    assert_int_equal(disc->discover_level, 1);
    assert_int_equal(disc->max_devices, 100);
    cfg_free(cfg);
}

static void test_files(void **state) {
    (void)state;
    const struct cfg *cfg;
    struct cfg_errors errs;
    char buf[512];
    assert_int_equal(cfg_load("/nonexistent/x.yaml", &cfg, &errs), -ENOENT);
    cfg_error_format(&errs, 0, buf, sizeof(buf));
    assert_string_equal(buf, "/nonexistent/x.yaml: cannot open: No such file or directory");
    assert_string_equal(
        first_error("lwm2m: {servers: [{uri: coap://h}]}\n"
                    "adapters: [{name: b, type: mqtt, host: h, username: u,\n"
                    "            password_file: /nonexistent/pw}]\n",
                    buf, sizeof(buf)),
        "t.yaml:3:28: adapters[0].password_file: cannot read '/nonexistent/pw': No such file or "
        "directory");
    cfg_free(NULL);
}

/* The first MQTT adapter of a file with one mqtt adapter given by `extra` keys. */
static uint32_t mqtt_expiry(const char *extra) {
    char yaml[512];
    snprintf(yaml, sizeof(yaml), MIN_LWM2M "adapters: [{name: b, type: mqtt, host: h%s}]\n", extra);
    const struct cfg *cfg;
    struct cfg_errors errs;
    assert_int_equal(load(yaml, &cfg, &errs), 0);
    uint32_t v = cfg_adapter_find(cfg, "b")->session_expiry_s;
    cfg_free(cfg);
    return v;
}

static void test_mqtt_session_expiry(void **state) {
    (void)state;
    char buf[512];
    assert_int_equal(mqtt_expiry(""), 0);
    assert_int_equal(mqtt_expiry(", protocol: 5"), 0);
    assert_int_equal(mqtt_expiry(", clean_session: false"), 0);
    /* An MQTT 5 persistent session lasts an hour unless told otherwise. */
    assert_int_equal(mqtt_expiry(", protocol: 5, clean_session: false"), 3600);
    assert_int_equal(mqtt_expiry(", protocol: 5, clean_session: false, session_expiry: 10m"), 600);
    assert_int_equal(mqtt_expiry(", protocol: 5, clean_session: false, session_expiry: 0"), 0);
    assert_int_equal(mqtt_expiry(", protocol: 5, clean_session: false, session_expiry: 4294967295"),
                     4294967295u);
    first_error(MIN_LWM2M "adapters: [{name: b, type: mqtt, host: h, clean_session: false,\n"
                          "            session_expiry: 1h}]\n",
                buf, sizeof(buf));
    assert_non_null(strstr(buf, "adapters[0].session_expiry: 'session_expiry' needs protocol 5"));
    first_error(MIN_LWM2M "adapters: [{name: b, type: mqtt, host: h, protocol: 5,\n"
                          "            session_expiry: 1h}]\n",
                buf, sizeof(buf));
    assert_non_null(strstr(buf, "'session_expiry' needs clean_session: false"));
    first_error(MIN_LWM2M "adapters: [{name: b, type: mqtt, host: h, protocol: 5,\n"
                          "            clean_session: false, session_expiry: 4294967296}]\n",
                buf, sizeof(buf));
    assert_non_null(strstr(buf, "expected 0..4294967295 seconds"));
}

/* A binding's own subscription QoS; absent means the adapter's. */
static void test_mqtt_binding_qos(void **state) {
    (void)state;
    char buf[512];
    const struct cfg *cfg;
    struct cfg_errors errs;
    assert_int_equal(load(MIN_LWM2M "profiles:\n"
                                    "  p:\n"
                                    "    3303: { 0: { 5700: { topic: t/a, qos: 2 },\n"
                                    "                 5701: { topic: t/b } } }\n",
                          &cfg, &errs),
                     0);
    const struct cfg_profile *p = cfg_profile_find(cfg, "p");
    assert_non_null(p);
    assert_int_equal(p->nres, 2);
    assert_true(p->res[0].b.u.mqtt.has_qos);
    assert_int_equal(p->res[0].b.u.mqtt.qos, 2);
    assert_false(p->res[1].b.u.mqtt.has_qos);
    cfg_free(cfg);
    first_error(MIN_LWM2M "profiles: { p: { 3303: { 0: { 5700: { topic: t/a, qos: 3 } } } } }\n",
                buf, sizeof(buf));
    assert_non_null(strstr(buf, "profiles.p.3303.0.5700.qos"));
    first_error(MIN_LWM2M "profiles: { p: { 3303: { 0: { 5700: { write: { topic: t/s },\n"
                          "  qos: 1 } } } } }\n",
                buf, sizeof(buf));
    assert_non_null(
        strstr(buf, "qos is the subscription QoS of `topic`, and this binding has none"));
}

/* lwm2m.coap: RFC 7252's defaults when absent, bounds when present. */
static void test_coap_params(void **state) {
    (void)state;
    char buf[512];
    const struct cfg *cfg;
    struct cfg_errors errs;
    assert_int_equal(load(MIN_LWM2M, &cfg, &errs), 0);
    assert_int_equal(cfg->lwm2m.coap.ack_timeout_ms, 2000);
    assert_int_equal(cfg->lwm2m.coap.max_retransmit, 4);
    cfg_free(cfg);
    first_error("lwm2m: {servers: [{uri: coap://h}], coap: {ack_timeout: 50ms}}\n", buf,
                sizeof(buf));
    assert_non_null(strstr(buf, "lwm2m.coap.ack_timeout"));
    first_error("lwm2m: {servers: [{uri: coap://h}], coap: {max_retransmit: 11}}\n", buf,
                sizeof(buf));
    assert_non_null(strstr(buf, "lwm2m.coap.max_retransmit"));
    first_error("lwm2m: {servers: [{uri: coap://h}], coap: {ack_timeot: 1s}}\n", buf, sizeof(buf));
    assert_non_null(strstr(buf, "did you mean 'ack_timeout'"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_coap_params),
        cmocka_unit_test(test_duration),
        cmocka_unit_test(test_template),
        cmocka_unit_test(test_template_at_load),
        cmocka_unit_test(test_env),
        cmocka_unit_test(test_did_you_mean),
        cmocka_unit_test(test_errors_collected_and_sorted),
        cmocka_unit_test(test_yaml_errors),
        cmocka_unit_test(test_good_file),
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_mqtt_session_expiry),
        cmocka_unit_test(test_mqtt_binding_qos),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
