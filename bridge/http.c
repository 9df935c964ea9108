/* SPDX-License-Identifier: Apache-2.0 */
/* The HTTP listener on libevent's evhttp: /healthz (the loop runs), /readyz (every endpoint that
 * should be registered is), /metrics (Prometheus text format 0.0.4) and /api/v1/devices (JSON:
 * each device, its endpoint, state, server and last values with their age). Read-only views of
 * the gateway; nothing here changes state. */
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <jansson.h>

#include "gateway.h"
#include "gw_version.h"
#include "lwm2m/dtls.h"
#include "lwm2m/report.h"
#include "modbus/mb.h"
#include "mqtt/mq.h"

struct gw_http {
    struct gw *g;
    struct evhttp *http;
};

static uint64_t mono(void) {
    return coap_clock_mono_ms(NULL);
}

static const char *state_name(const struct br_device *d) {
    switch (d->state) {
    case BR_DEV_REGISTERED:
        return "registered";
    case BR_DEV_DOWN_DEREGISTERED:
        return "deregistered-down";
    case BR_DEV_STOPPING:
        return "stopping";
    case BR_DEV_REGISTERING:
    default:
        return "registering";
    }
}

static void reply(struct evhttp_request *req, int code, const char *ctype, struct evbuffer *b) {
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", ctype);
    evhttp_send_reply(req, code,
                      code == 200   ? "OK"
                      : code == 503 ? "Service Unavailable"
                                    : "Not Found",
                      b);
}

static void reply_text(struct evhttp_request *req, int code, const char *text) {
    struct evbuffer *b = evbuffer_new();
    if (b == NULL)
        return;
    evbuffer_add_printf(b, "%s\n", text);
    reply(req, code, "text/plain; charset=utf-8", b);
    evbuffer_free(b);
}

/* ---- /readyz -------------------------------------------------------------------------------- */

static void readyz(struct evhttp_request *req, struct gw *g) {
    size_t want = 0, have = 0;
    char msg[96];
    for (struct br_device *d = g->devices; d != NULL; d = d->next) {
        if (d->state == BR_DEV_DOWN_DEREGISTERED)
            continue; /* deregistered on purpose while its bus is down */
        want++;
        have += (d->ep != NULL && lwm2m_endpoint_registered(d->ep)) ||
                (d->gwdev != NULL && d->state == BR_DEV_REGISTERED);
    }
    snprintf(msg, sizeof(msg), "%s: %zu/%zu endpoints registered",
             have == want && !g->stopping ? "ready" : "not ready", have, want);
    reply_text(req, have == want && !g->stopping ? 200 : 503, msg);
}

/* ---- /metrics ------------------------------------------------------------------------------- */

static void metric(struct evbuffer *b, const char *name, const char *type, const char *help) {
    evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void metric1(struct evbuffer *b, const char *name, const char *type, const char *help,
                    uint64_t v) {
    metric(b, name, type, help);
    evbuffer_add_printf(b, "%s %" PRIu64 "\n", name, v);
}

static void metrics_endpoints(struct evbuffer *b, struct gw *g) {
    uint64_t n[4] = {0};
    for (struct br_device *d = g->devices; d != NULL; d = d->next)
        n[d->state]++;
    metric(b, "lwm2m_gateway_endpoints", "gauge", "Endpoints by registration state.");
    evbuffer_add_printf(b,
                        "lwm2m_gateway_endpoints{state=\"registering\"} %" PRIu64 "\n"
                        "lwm2m_gateway_endpoints{state=\"registered\"} %" PRIu64 "\n"
                        "lwm2m_gateway_endpoints{state=\"deregistered_down\"} %" PRIu64 "\n"
                        "lwm2m_gateway_endpoints{state=\"stopping\"} %" PRIu64 "\n",
                        n[BR_DEV_REGISTERING], n[BR_DEV_REGISTERED], n[BR_DEV_DOWN_DEREGISTERED],
                        n[BR_DEV_STOPPING]);
    size_t down = 0;
    for (struct br_device *d = g->devices; d != NULL; d = d->next)
        down += !d->up;
    metric1(b, "lwm2m_gateway_devices_down", "gauge", "Devices whose bus does not answer.", down);
}

/* One series per MQTT adapter for each counter of its mq_stats worth watching. */
static void metrics_mqtt(struct evbuffer *b, struct gw *g) {
    static const struct {
        const char *name, *help;
        size_t off;
    } m[] = {
        {"lwm2m_gateway_mqtt_messages_total", "MQTT messages received, per adapter.",
         offsetof(struct mq_stats, messages)},
        {"lwm2m_gateway_mqtt_payload_errors_total",
         "MQTT payloads that could not be decoded or were of the wrong type.",
         offsetof(struct mq_stats, malformed)},
        {"lwm2m_gateway_mqtt_unmatched_total", "MQTT messages no binding wanted.",
         offsetof(struct mq_stats, unmatched)},
        {"lwm2m_gateway_mqtt_discovered_total", "Devices created by MQTT discovery.",
         offsetof(struct mq_stats, discovered)},
        {"lwm2m_gateway_mqtt_gone_total", "Discovered devices that went away.",
         offsetof(struct mq_stats, gone)},
        {"lwm2m_gateway_mqtt_over_limit_total",
         "Messages of devices refused because a rule's max_devices was reached.",
         offsetof(struct mq_stats, over_limit)},
        {"lwm2m_gateway_mqtt_connects_total", "Successful connections to the broker.",
         offsetof(struct mq_stats, connects)},
        {"lwm2m_gateway_mqtt_commands_total", "Commands published (LwM2M Write/Execute).",
         offsetof(struct mq_stats, writes)},
    };
    for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
        metric(b, m[i].name, "counter", m[i].help);
        for (struct gw_adapter *ga = g->adapters; ga != NULL; ga = ga->next) {
            struct mq_stats s;
            if (ga->a == NULL || ga->cfg->type != CFG_ADAPTER_MQTT || mq_adapter_stats(ga->a, &s))
                continue;
            uint64_t v;
            memcpy(&v, (const char *)&s + m[i].off, sizeof(v));
            if (m[i].off == offsetof(struct mq_stats, malformed))
                v += s.type_errors;
            evbuffer_add_printf(b, "%s{adapter=\"%s\"} %" PRIu64 "\n", m[i].name, ga->name, v);
        }
    }
}

static void metrics_bus(struct evbuffer *b, struct gw *g) {
    metric(b, "lwm2m_gateway_bus_requests_total", "counter", "Bus requests sent, per adapter.");
    for (struct gw_adapter *ga = g->adapters; ga != NULL; ga = ga->next) {
        struct mb_stats s = {0};
        if (ga->a != NULL && ga->cfg->type != CFG_ADAPTER_MQTT && mb_adapter_stats(ga->a, &s) == 0)
            evbuffer_add_printf(b, "lwm2m_gateway_bus_requests_total{adapter=\"%s\"} %" PRIu64 "\n",
                                ga->name, s.requests);
    }
    metric(b, "lwm2m_gateway_bus_errors_total", "counter", "Bus errors, per adapter and kind.");
    for (struct gw_adapter *ga = g->adapters; ga != NULL; ga = ga->next) {
        struct mb_stats s = {0};
        if (ga->a == NULL || ga->cfg->type == CFG_ADAPTER_MQTT || mb_adapter_stats(ga->a, &s) != 0)
            continue;
        evbuffer_add_printf(b,
                            "lwm2m_gateway_bus_errors_total{adapter=\"%s\",kind=\"timeout\"} "
                            "%" PRIu64 "\n"
                            "lwm2m_gateway_bus_errors_total{adapter=\"%s\",kind=\"exception\"} "
                            "%" PRIu64 "\n"
                            "lwm2m_gateway_bus_errors_total{adapter=\"%s\",kind=\"frame\"} "
                            "%" PRIu64 "\n",
                            ga->name, s.timeouts, ga->name, s.exceptions, ga->name, s.bus_errors);
    }
    const struct br_stats *st = &g->stats;
    metric(b, "lwm2m_gateway_bus_write_seconds", "summary",
           "Latency of bus writes, from the LwM2M Write to the adapter's completion.");
    evbuffer_add_printf(b,
                        "lwm2m_gateway_bus_write_seconds_sum %.3f\n"
                        "lwm2m_gateway_bus_write_seconds_count %" PRIu64 "\n",
                        (double)st->write_ms_sum / 1000.0, st->write_done);
    metric1(b, "lwm2m_gateway_bus_write_errors_total", "counter", "Bus writes that failed.",
            st->write_errors);
    metrics_mqtt(b, g);
}

/* The engine's Information Reporting counters (report.h) beyond notifications/observations. */
static void metrics_report(struct evbuffer *b, const struct lwm2m_report_stats *rs) {
    metric1(b, "lwm2m_gateway_observe_started_total", "counter",
            "Observe and Observe-Composite requests accepted.", rs->observe_started);
    metric1(b, "lwm2m_gateway_observe_ended_total", "counter",
            "Observations ended by cancel, RST, failed CON or registration change.",
            rs->observe_ended);
    metric(b, "lwm2m_gateway_notifications_by_type_total", "counter",
           "Notifications sent, by CoAP message type.");
    evbuffer_add_printf(b,
                        "lwm2m_gateway_notifications_by_type_total{type=\"con\"} %" PRIu64 "\n"
                        "lwm2m_gateway_notifications_by_type_total{type=\"non\"} %" PRIu64 "\n",
                        rs->notify_con, rs->notify_non);
    metric1(b, "lwm2m_gateway_sends_total", "counter", "LwM2M Send requests sent (POST /dp).",
            rs->sends);
    metric1(b, "lwm2m_gateway_sends_muted_total", "counter",
            "Sends not sent because the server muted Send (/1/x/23).", rs->send_muted);
    metric1(b, "lwm2m_gateway_send_failures_total", "counter",
            "Sends answered with an error or timed out.", rs->send_failed);
    metric(b, "lwm2m_gateway_store_entries_total", "counter",
           "Store-and-forward queue entries, by what happened to them.");
    evbuffer_add_printf(b,
                        "lwm2m_gateway_store_entries_total{event=\"stored\"} %" PRIu64 "\n"
                        "lwm2m_gateway_store_entries_total{event=\"forwarded\"} %" PRIu64 "\n"
                        "lwm2m_gateway_store_entries_total{event=\"undeliverable\"} %" PRIu64 "\n"
                        "lwm2m_gateway_store_entries_total{event=\"overflow\"} %" PRIu64 "\n"
                        "lwm2m_gateway_store_entries_total{event=\"hqmax\"} %" PRIu64 "\n",
                        rs->kept, rs->kept_delivered, rs->kept_dropped, rs->kept_overflow,
                        rs->kept_hqmax);
}

/* DTLS sessions with coaps:// servers (lwm2m/dtls.h), over every endpoint. */
static void metrics_dtls(struct evbuffer *b, const struct coap_dtls_stats *ds) {
    metric(b, "lwm2m_gateway_dtls_handshakes_total", "counter",
           "DTLS handshakes with servers, by outcome.");
    evbuffer_add_printf(b,
                        "lwm2m_gateway_dtls_handshakes_total{result=\"started\"} %" PRIu64 "\n"
                        "lwm2m_gateway_dtls_handshakes_total{result=\"ok\"} %" PRIu64 "\n"
                        "lwm2m_gateway_dtls_handshakes_total{result=\"failed\"} %" PRIu64 "\n",
                        ds->handshakes, ds->handshakes_ok, ds->handshakes_failed);
    metric1(b, "lwm2m_gateway_dtls_sessions_closed_total", "counter",
            "Established DTLS sessions that ended (alert, close_notify, reset).",
            ds->sessions_closed);
    metric(b, "lwm2m_gateway_dtls_dropped_total", "counter", "DTLS datagrams dropped.");
    evbuffer_add_printf(b,
                        "lwm2m_gateway_dtls_dropped_total{dir=\"rx\"} %" PRIu64 "\n"
                        "lwm2m_gateway_dtls_dropped_total{dir=\"tx\"} %" PRIu64 "\n",
                        ds->rx_dropped, ds->tx_dropped);
}

static void metrics(struct evhttp_request *req, struct gw *g) {
    struct evbuffer *b = evbuffer_new();
    if (b == NULL)
        return;
    const struct br_stats *st = &g->stats;
    const struct coap_stats *cs = lwm2m_engine_coap_stats(g->eng);
    const struct lwm2m_report_stats *rs = lwm2m_engine_report_stats(g->eng);
    metric(b, "lwm2m_gateway_info", "gauge", "Version and gateway id.");
    evbuffer_add_printf(b, "lwm2m_gateway_info{version=\"%s\",gateway=\"%s\"} 1\n", GW_VERSION,
                        g->cfg->gateway.id);
    metric1(b, "lwm2m_gateway_uptime_seconds", "gauge", "Seconds since start.",
            (mono() - g->started_mono) / 1000);
    metrics_endpoints(b, g);
    metric1(b, "lwm2m_gateway_registrations_total", "counter", "Successful Registers.",
            st->registrations);
    metric1(b, "lwm2m_gateway_registration_failures_total", "counter",
            "Registers that failed or timed out.", st->reg_failures);
    metric1(b, "lwm2m_gateway_updates_total", "counter", "Successful registration Updates.",
            st->updates);
    metric1(b, "lwm2m_gateway_deregistrations_total", "counter", "Successful De-registers.",
            st->deregistrations);
    metric1(b, "lwm2m_gateway_notifications_total", "counter", "Notifications sent.",
            rs->notifications);
    metric1(b, "lwm2m_gateway_observations", "gauge", "Active observations.", rs->observations);
    metrics_report(b, rs);
    metric1(b, "lwm2m_gateway_coap_retransmissions_total", "counter", "CoAP CON retransmissions.",
            cs->retransmissions);
    metric1(b, "lwm2m_gateway_coap_timeouts_total", "counter", "CoAP exchanges that timed out.",
            cs->timeouts);
    metric1(b, "lwm2m_gateway_coap_requests_received_total", "counter",
            "CoAP requests received from servers.", cs->requests_rx);
    metrics_dtls(b, lwm2m_engine_dtls_stats(g->eng));
    metrics_bus(b, g);
    metric1(b, "lwm2m_gateway_values_total", "counter", "Values received from adapters.",
            st->values);
    metric1(b, "lwm2m_gateway_reads_unavailable_total", "counter",
            "Reads answered 5.03 because the value was stale or missing.", st->reads_stale);
    metric(b, "lwm2m_gateway_drops_total", "counter", "Values or notifications dropped.");
    evbuffer_add_printf(b,
                        "lwm2m_gateway_drops_total{reason=\"value_type\"} %" PRIu64 "\n"
                        "lwm2m_gateway_drops_total{reason=\"notification\"} %" PRIu64 "\n",
                        st->value_drops, rs->notify_dropped);
    metric1(b, "lwm2m_gateway_reloads_total", "counter", "SIGHUP reloads.", g->reloads);
    metric1(b, "lwm2m_gateway_reload_failures_total", "counter", "Reloads refused.",
            g->reload_failures);
    reply(req, 200, "text/plain; version=0.0.4; charset=utf-8", b);
    evbuffer_free(b);
}

/* ---- /api/v1/devices ------------------------------------------------------------------------ */

static json_t *json_value(const struct lwm2m_value *v) {
    char text[512];
    switch (v->type) {
    case LWM2M_TYPE_INTEGER:
    case LWM2M_TYPE_TIME:
        return json_integer((json_int_t)v->v.i);
    case LWM2M_TYPE_UNSIGNED:
        return v->v.u <= INT64_MAX ? json_integer((json_int_t)v->v.u) : json_real((double)v->v.u);
    case LWM2M_TYPE_FLOAT:
        return json_real(v->v.f);
    case LWM2M_TYPE_BOOLEAN:
        return json_boolean(v->v.b);
    default:
        br_value_format(v, text, sizeof(text));
        return json_string(text);
    }
}

static json_t *json_res(const struct br_device *d, const struct br_res *r, uint64_t now) {
    char path[32];
    snprintf(path, sizeof(path), "/%u/%u/%u", r->obj, r->inst, r->id);
    const struct br_point *p = &r->pt;
    bool stale = br_point_stale(p, !d->up, now, d->stale_ms);
    json_t *o = json_pack("{s:s, s:s, s:s, s:b}", "path", path, "binding",
                          r->b->kind == CFG_BIND_CONST    ? "constant"
                          : r->b->kind == CFG_BIND_MODBUS ? "modbus"
                                                          : "mqtt",
                          "quality", adapter_quality_name((enum adapter_quality)p->quality),
                          "stale", stale);
    if (o == NULL)
        return NULL;
    json_object_set_new(o, "value", p->has_value ? json_value(&p->v) : json_null());
    json_object_set_new(o, "age_ms",
                        p->has_value && !p->constant
                            ? json_integer((json_int_t)(now - p->good_mono_ms))
                            : json_null());
    return o;
}

static json_t *json_device(struct gw *g, const struct br_device *d, uint64_t now) {
    json_t *vals = json_array();
    for (size_t i = 0; vals != NULL && i < d->nres; i++)
        json_array_append_new(vals, json_res(d, &d->res[i], now));
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:s, s:b, s:i, s:s}", "device", d->name, "endpoint", d->endpoint,
                  "state", state_name(d), "adapter", d->cfg->adapter->name, "up", d->up,
                  "error_code", br_device_error_code(d), "server",
                  g->cfg->lwm2m.nservers > 0 ? g->cfg->lwm2m.servers[0].uri /* bootstrap only: */
                                             : g->cfg->lwm2m.bootstrap->uri);
    if (o == NULL) {
        json_decref(vals);
        return NULL;
    }
    json_object_set_new(o, "port", d->ep ? json_integer(lwm2m_endpoint_port(d->ep)) : json_null());
    json_object_set_new(o, "registered",
                        json_boolean((d->ep && lwm2m_endpoint_registered(d->ep)) ||
                                     (d->gwdev && d->state == BR_DEV_REGISTERED)));
    if (d->gwdev != NULL)
        json_object_set_new(o, "prefix", json_string(lwm2m_gwdev_prefix(d->gwdev)));
    json_object_set_new(o, "detail", json_string(d->detail));
    json_object_set_new(o, "discovered", json_boolean(d->discovered));
    json_object_set_new(o, "values", vals ? vals : json_array());
    return o;
}

static void devices(struct evhttp_request *req, struct gw *g) {
    uint64_t now = mono();
    json_t *arr = json_array();
    for (struct br_device *d = g->devices; arr != NULL && d != NULL; d = d->next)
        json_array_append_new(arr, json_device(g, d, now));
    char *text = arr ? json_dumps(arr, JSON_COMPACT) : NULL;
    json_decref(arr);
    struct evbuffer *b = evbuffer_new();
    if (text != NULL && b != NULL) {
        evbuffer_add(b, text, strlen(text));
        evbuffer_add(b, "\n", 1);
        reply(req, 200, "application/json", b);
    } else {
        evhttp_send_error(req, 500, NULL);
    }
    free(text);
    if (b != NULL)
        evbuffer_free(b);
}

/* ---- dispatch ------------------------------------------------------------------------------- */

static void on_request(struct evhttp_request *req, void *arg) {
    struct gw_http *h = arg;
    const char *uri = evhttp_request_get_uri(req);
    size_t n = strcspn(uri, "?");
    if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
        evhttp_send_error(req, 405, "Method Not Allowed");
    } else if (n == 8 && strncmp(uri, "/healthz", n) == 0) {
        reply_text(req, 200, "ok");
    } else if (n == 7 && strncmp(uri, "/readyz", n) == 0) {
        readyz(req, h->g);
    } else if (n == 8 && strncmp(uri, "/metrics", n) == 0) {
        metrics(req, h->g);
    } else if (n == 15 && strncmp(uri, "/api/v1/devices", n) == 0) {
        devices(req, h->g);
    } else {
        reply_text(req, 404, "not found: try /healthz, /readyz, /metrics, /api/v1/devices");
    }
}

int gw_http_start(struct gw *g, const char *host, uint16_t port, struct gw_http **out) {
    struct gw_http *h = calloc(1, sizeof(*h));
    if (h == NULL)
        return -1;
    h->g = g;
    h->http = evhttp_new(g->base);
    if (h->http == NULL || evhttp_bind_socket(h->http, host, port) != 0) {
        BR_ERR(&g->log, "HTTP: cannot listen on %s:%u", host, port);
        gw_http_free(h);
        return -1;
    }
    evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
    evhttp_set_gencb(h->http, on_request, h);
    BR_INFO(&g->log, "HTTP: listening on %s:%u", host, port);
    *out = h;
    return 0;
}

void gw_http_free(struct gw_http *h) {
    if (h == NULL)
        return;
    if (h->http != NULL)
        evhttp_free(h->http);
    free(h);
}
