/* SPDX-License-Identifier: Apache-2.0 */
/* The command interpreter of the test LwM2M server's control channel: one JSON object a line,
 * turned into a request to a registered endpoint (resolved by name) or to an explicit address,
 * or into a local command (list, pause, fault, decode, ...). The protocol is described in
 * lwm2m_test_server.c. */
#include "ts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A client session per explicit address, for the "request" command (kept until exit). */
struct raw_session {
    char key[64];
    coap_session_t *session;
};

static coap_session_t *raw_session(struct ts_server *srv, const char *host, int port) {
    char key[64];
    snprintf(key, sizeof(key), "%s|%d", host, port);
    struct raw_session *rs = ts_map_get(&srv->raw_sessions, key, strlen(key));
    if (rs)
        return rs->session;
    coap_address_t dst;
    if (port <= 0 || port > 65535 || ts_parse_addr(host, port, &dst) < 0)
        return NULL;
    rs = calloc(1, sizeof(*rs));
    if (!rs)
        return NULL;
    memcpy(rs->key, key, sizeof(key));
    rs->session = coap_new_client_session(srv->ctx, NULL, &dst, COAP_PROTO_UDP);
    if (!rs->session || ts_map_put(&srv->raw_sessions, rs->key, strlen(rs->key), rs) < 0) {
        coap_session_release(rs->session);
        free(rs);
        return NULL;
    }
    return rs->session;
}

static void raw_free(void *val, void *arg) {
    struct raw_session *rs = val;
    coap_session_release(rs->session);
    free(rs);
}

void ts_ctl_free(struct ts_server *srv) {
    ts_map_foreach(&srv->raw_sessions, raw_free, NULL);
    ts_map_free(&srv->raw_sessions);
}

/* ---- building a request from a command ---- */

struct dm_kind {
    const char *name;
    coap_pdu_code_t method;
    int accept;  /* default Accept, -1 none */
    int observe; /* -1 none, 0 register */
};

static const struct dm_kind dm_kinds[] = {
    {"read", COAP_REQUEST_CODE_GET, -1, -1},
    {"discover", COAP_REQUEST_CODE_GET, 40, -1},
    {"write", COAP_REQUEST_CODE_PUT, -1, -1},
    {"write_attributes", COAP_REQUEST_CODE_PUT, -1, -1},
    {"execute", COAP_REQUEST_CODE_POST, -1, -1},
    {"create", COAP_REQUEST_CODE_POST, -1, -1},
    {"delete", COAP_REQUEST_CODE_DELETE, -1, -1},
    {"observe", COAP_REQUEST_CODE_GET, -1, 0},
    {"read_composite", COAP_REQUEST_CODE_FETCH, -1, -1},
    {"observe_composite", COAP_REQUEST_CODE_FETCH, -1, 0},
    {"write_composite", COAP_REQUEST_CODE_IPATCH, -1, -1},
    {"request", COAP_REQUEST_CODE_GET, -1, -1},
};

/* Owned buffers behind a struct ts_req. */
struct req_bufs {
    uint8_t *payload;
    char *query;
};

static int method_of(const json_t *m) {
    static const char *const names[] = {"GET", "POST", "PUT", "DELETE", "FETCH", "PATCH", "IPATCH"};
    if (json_is_integer(m))
        return (int)json_integer_value(m);
    for (int i = 0; json_is_string(m) && i < 7; i++) {
        if (strcasecmp(json_string_value(m), names[i]) == 0)
            return i + 1;
    }
    return -1;
}

/* "attrs": {"pmin": 10, "gt": 20.5, "epmin": null} -> "pmin=10&gt=20.5&epmin". */
static char *attrs_query(const json_t *attrs) {
    size_t cap = 512, len = 0;
    char *q = calloc(1, cap);
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)attrs, key, v) {
        char val[64] = "";
        if (json_is_integer(v))
            snprintf(val, sizeof(val), "=%lld", (long long)json_integer_value(v));
        else if (json_is_real(v))
            snprintf(val, sizeof(val), "=%.15g", json_real_value(v));
        else if (json_is_string(v))
            snprintf(val, sizeof(val), "=%s", json_string_value(v));
        else if (json_is_boolean(v))
            snprintf(val, sizeof(val), "=%d", json_is_true(v));
        size_t need = len + strlen(key) + strlen(val) + 2;
        if (!q || need > cap)
            break;
        len += (size_t)snprintf(q + len, cap - len, "%s%s%s", len ? "&" : "", key, val);
    }
    return q;
}

/* "paths": ["/3/0/0", ...] -> the SenML request body of Read-Composite / Observe-Composite. */
static int paths_payload(const json_t *paths, int ct, uint8_t **out, size_t *len) {
    json_t *recs = json_array();
    size_t i;
    json_t *p;
    json_array_foreach(paths, i, p) {
        if (!json_is_string(p)) {
            json_decref(recs);
            return -1;
        }
        json_array_append_new(recs, json_pack("{s:O}", "n", p));
    }
    int rc = ts_senml_encode(recs, ct, out, len);
    json_decref(recs);
    return rc;
}

/* The body: hex "payload", raw "text", SenML "senml" records, or composite "paths". */
static const char *fill_body(const json_t *cmd, struct ts_req *req, struct req_bufs *b) {
    const json_t *v;
    int rc = 0;
    if ((v = json_object_get(cmd, "payload")) && json_is_string(v)) {
        rc = ts_unhex(json_string_value(v), &b->payload, &req->payload_len);
    } else if ((v = json_object_get(cmd, "text")) && json_is_string(v)) {
        b->payload = (uint8_t *)strdup(json_string_value(v));
        req->payload_len = json_string_length(v);
    } else if ((v = json_object_get(cmd, "senml")) || (v = json_object_get(cmd, "paths"))) {
        if (req->ct < 0)
            req->ct = 110;
        rc = json_object_get(cmd, "senml")
                 ? ts_senml_encode(v, req->ct, &b->payload, &req->payload_len)
                 : paths_payload(v, req->ct, &b->payload, &req->payload_len);
        if (rc < 0)
            return "cannot encode senml/paths (ct 110 or 112)";
    }
    req->payload = b->payload;
    return rc < 0 ? "payload is not hex" : NULL;
}

static int int_field(const json_t *cmd, const char *name, int dflt) {
    const json_t *v = json_object_get(cmd, name);
    return json_is_integer(v) ? (int)json_integer_value(v) : dflt;
}

static const char *fill_req(struct ts_server *srv, const struct dm_kind *k, const json_t *cmd,
                            struct ts_req *req, struct req_bufs *b) {
    const json_t *v;
    req->method = k->method;
    req->path = json_string_value(json_object_get(cmd, "path"));
    req->accept = int_field(cmd, "accept", k->accept);
    req->ct = int_field(cmd, "ct", -1);
    req->observe = int_field(cmd, "observe", k->observe);
    req->non = json_is_true(json_object_get(cmd, "non"));
    v = json_object_get(cmd, "timeout");
    req->timeout_s = json_is_number(v) ? json_number_value(v) : srv->default_timeout_s;
    if ((v = json_object_get(cmd, "method"))) {
        int m = method_of(v);
        if (m < 1 || m > 31)
            return "unknown method (GET..IPATCH or a 0.xx code number)";
        req->method = (coap_pdu_code_t)m;
    }
    if (req->accept < -1 || req->accept > 65535 || req->ct < -1 || req->ct > 65535 ||
        req->observe < -1 || req->observe > 0xffffff)
        return "accept, ct or observe out of range";
    if (strcmp(k->name, "write") == 0 && json_is_true(json_object_get(cmd, "partial")))
        req->method = COAP_REQUEST_CODE_POST;
    if ((v = json_object_get(cmd, "attrs")) && json_is_object(v))
        req->query = b->query = attrs_query(v);
    else
        req->query = json_string_value(json_object_get(cmd, "query"));
    const char *why = fill_body(cmd, req, b);
    if (!why && req->accept < 0 && req->method == COAP_REQUEST_CODE_FETCH &&
        json_object_get(cmd, "paths"))
        req->accept = req->ct; /* composite: answer in the format we asked in */
    return why;
}

static coap_session_t *target_session(struct ts_server *srv, const json_t *cmd, const char **ep,
                                      const char **why) {
    const char *name = json_string_value(json_object_get(cmd, "ep"));
    const char *addr = json_string_value(json_object_get(cmd, "addr"));
    *ep = name;
    if (name) {
        struct ts_reg *r = ts_rd_find(srv, name);
        *why = r ? "no session (closed or dropped): the endpoint must Update or Register"
                 : "unknown endpoint";
        return r ? r->session : NULL;
    }
    *why = addr ? "bad addr or port (numeric IPv4/IPv6 only)" : "need ep, or addr and port";
    return addr ? raw_session(srv, addr, int_field(cmd, "port", 5683)) : NULL;
}

static void cmd_dm(struct ts_server *srv, const struct dm_kind *k, json_t *id, const json_t *cmd) {
    struct ts_req req;
    struct req_bufs b = {NULL, NULL};
    const char *ep, *why = NULL;
    memset(&req, 0, sizeof(req));
    coap_session_t *s = target_session(srv, cmd, &ep, &why);
    if (s)
        why = fill_req(srv, k, cmd, &req, &b);
    if (!why && ts_dm_send(srv, s, ep, id, &req) < 0)
        why = "cannot send";
    if (why)
        ts_emit_error(srv, id, why);
    free(b.payload);
    free(b.query);
}

/* ---- the other commands ---- */

static void reply_ok(struct ts_server *srv, json_t *id, json_t *extra) {
    json_t *r = extra ? extra : json_object();
    json_object_set(r, "id", id);
    json_object_set_new(r, "ok", json_true());
    ts_emit(srv, r);
}

static void cmd_fault(struct ts_server *srv, json_t *id, const json_t *cmd) {
    const json_t *v = json_object_get(cmd, "reject_version");
    if (json_is_true(json_object_get(cmd, "clear"))) {
        srv->n_reject = 0;
        srv->forced_code = 0;
        srv->location_joined = false;
    }
    const json_t *lj = json_object_get(cmd, "location_joined");
    if (json_is_boolean(lj))
        srv->location_joined = json_is_true(lj);
    if (json_is_string(v))
        v = json_pack("[O]", v);
    else
        json_incref((json_t *)v);
    if (json_is_array(v)) {
        size_t i;
        json_t *e;
        srv->n_reject = 0;
        json_array_foreach(v, i, e) {
            if (json_is_string(e) && srv->n_reject < TS_MAX_REJECT)
                snprintf(srv->reject_version[srv->n_reject++], 8, "%s", json_string_value(e));
        }
    }
    json_decref((json_t *)v);
    const char *code = json_string_value(json_object_get(cmd, "register_code"));
    if (code && (srv->forced_code = ts_code_parse(code)) < 0) {
        srv->forced_code = 0;
        ts_emit_error(srv, id, "bad register_code");
        return;
    }
    if (code)
        srv->forced_count = int_field(cmd, "count", 1);
    reply_ok(srv, id, NULL);
}

static void cmd_decode(struct ts_server *srv, json_t *id, const json_t *cmd) {
    uint8_t *data = NULL;
    size_t len = 0;
    const char *hex = json_string_value(json_object_get(cmd, "payload"));
    if (!hex || ts_unhex(hex, &data, &len) < 0) {
        ts_emit_error(srv, id, "payload is not hex");
        return;
    }
    json_t *r = json_object();
    json_object_set(r, "id", id);
    ts_decode_into(r, int_field(cmd, "ct", -1), data ? data : (const uint8_t *)"", len);
    ts_emit(srv, r);
    free(data);
}

/* "senml" records (ct 112 or 110), or "resources"/"instances" on "path" (ct 11542, 112, 110). */
static void cmd_encode(struct ts_server *srv, json_t *id, const json_t *cmd) {
    uint8_t *out = NULL;
    size_t len = 0;
    char err[200] = "cannot encode";
    const json_t *tree = json_object_get(cmd, "resources");
    int rc;
    if (tree || (tree = json_object_get(cmd, "instances")))
        rc = ts_resources_encode(
            tree, json_string_value(json_object_get(cmd, "path")), int_field(cmd, "ct", 11542),
            json_is_true(json_object_get(cmd, "wrap")), &out, &len, err, sizeof(err));
    else
        rc = ts_senml_encode(json_object_get(cmd, "senml"), int_field(cmd, "ct", 112), &out, &len);
    if (rc < 0) {
        ts_emit_error(srv, id, err);
        return;
    }
    char *h = ts_hex(out, len);
    ts_emit(srv, json_pack("{s:O,s:s}", "id", id, "payload", h ? h : ""));
    free(h);
    free(out);
}

static void cmd_other(struct ts_server *srv, const char *name, json_t *id, const json_t *cmd) {
    const json_t *v;
    if (strcmp(name, "list") == 0)
        reply_ok(srv, id,
                 json_pack("{s:o,s:o,s:o}", "registrations", ts_rd_list(srv), "observations",
                           ts_dm_list_observations(srv), "bs_configs", ts_bs_list(srv)));
    else if (strcmp(name, "cancel_observe") == 0)
        ts_dm_cancel(srv, id, json_string_value(json_object_get(cmd, "token")),
                     json_string_value(json_object_get(cmd, "mode")),
                     json_is_number(v = json_object_get(cmd, "timeout")) ? json_number_value(v)
                                                                         : srv->default_timeout_s);
    else if (strcmp(name, "pause") == 0 || strcmp(name, "resume") == 0) {
        ts_set_paused(srv, strcmp(name, "pause") == 0);
        reply_ok(srv, id, json_pack("{s:b}", "paused", srv->paused));
    } else if (strcmp(name, "drop_sessions") == 0) {
        int n = ts_dtls_drop_sessions(srv, json_is_true(json_object_get(cmd, "close_notify")),
                                      json_is_true(json_object_get(cmd, "forget_registrations")));
        reply_ok(srv, id, json_pack("{s:i}", "dropped", n));
    } else if (strcmp(name, "fault") == 0)
        cmd_fault(srv, id, cmd);
    else if (strcmp(name, "bs_config") == 0)
        ts_bs_config(srv, id, cmd);
    else if (strcmp(name, "bs_initiate") == 0)
        ts_bs_initiate(srv, id, cmd);
    else if (strcmp(name, "decode") == 0)
        cmd_decode(srv, id, cmd);
    else if (strcmp(name, "encode") == 0)
        cmd_encode(srv, id, cmd);
    else if (strcmp(name, "set") == 0) {
        if (json_is_number(v = json_object_get(cmd, "timeout")))
            srv->default_timeout_s = json_number_value(v);
        reply_ok(srv, id, NULL);
    } else if (strcmp(name, "ping") == 0)
        reply_ok(srv, id, NULL);
    else if (strcmp(name, "quit") == 0) {
        srv->quit = true;
        reply_ok(srv, id, NULL);
    } else
        ts_emit_error(srv, id, "unknown cmd");
}

void ts_ctl_handle_line(struct ts_server *srv, const char *line, size_t len) {
    json_error_t err;
    json_t *cmd = json_loadb(line, len, 0, &err);
    json_t *id = json_object_get(cmd, "id");
    const char *name = json_string_value(json_object_get(cmd, "cmd"));
    if (!json_is_object(cmd) || !name) {
        ts_emit_error(srv, id, cmd ? "need an object with cmd" : "bad json");
        json_decref(cmd);
        return;
    }
    for (size_t i = 0; i < sizeof(dm_kinds) / sizeof(dm_kinds[0]); i++) {
        if (strcmp(name, dm_kinds[i].name) == 0) {
            cmd_dm(srv, &dm_kinds[i], id, cmd);
            json_decref(cmd);
            return;
        }
    }
    cmd_other(srv, name, id, cmd);
    json_decref(cmd);
}
