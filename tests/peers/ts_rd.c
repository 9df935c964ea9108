/* SPDX-License-Identifier: Apache-2.0 */
/* The resource directory of the test LwM2M server: Register (POST /rd), Update (POST /rd/N),
 * De-register (DELETE /rd/N), Send (POST /dp), lifetime expiry and the register faults. Each
 * registration keeps a reference on the libcoap session it came from, so that Device Management
 * requests leave from our listening port to the endpoint's own source port; each session carries
 * a small per-peer record that answers retransmitted requests without acting twice. */
#include "ts.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Register/Update query parameters; fixed buffers because CoAP options are at most 255 bytes. */
struct rd_params {
    char ep[256];
    char version[8];
    char binding[8];
    char sms[64];
    uint32_t lt;
    bool has_ep, has_lt, has_version, has_binding, has_sms, queue;
    const char *bad; /* why the query is malformed, or NULL */
};

struct ts_peer *ts_peer_of(coap_session_t *session) {
    struct ts_server *srv = ts_server_of(session);
    struct ts_peer *p = coap_session_get_app_data(session);
    if (!p && (p = calloc(1, sizeof(*p)))) {
        p->last_mid = -1;
        p->session = session;
        p->next = srv->peers;
        if (p->next)
            p->next->prev = p;
        srv->peers = p;
        coap_session_set_app_data(session, p);
    }
    return p;
}

static void peer_free(struct ts_server *srv, struct ts_peer *p) {
    if (p->prev)
        p->prev->next = p->next;
    else
        srv->peers = p->next;
    if (p->next)
        p->next->prev = p->prev;
    coap_session_set_app_data(p->session, NULL);
    free(p->cert_cn);
    free(p);
}

static struct ts_reg *reg_of_session(coap_session_t *session) {
    struct ts_peer *p = coap_session_get_app_data(session);
    return p ? p->reg : NULL;
}

static void add_location(coap_session_t *session, coap_pdu_t *response, const char *id) {
    if (ts_server_of(session)->location_joined) {
        char joined[40];
        int n = snprintf(joined, sizeof(joined), "rd/%s", id);
        coap_add_option(response, COAP_OPTION_LOCATION_PATH, (size_t)n, (const uint8_t *)joined);
        return;
    }
    coap_add_option(response, COAP_OPTION_LOCATION_PATH, 2, (const uint8_t *)"rd");
    coap_add_option(response, COAP_OPTION_LOCATION_PATH, strlen(id), (const uint8_t *)id);
}

bool ts_peer_replayed(coap_session_t *session, const coap_pdu_t *req, coap_pdu_t *response) {
    struct ts_peer *p = coap_session_get_app_data(session);
    if (!p || p->last_mid != coap_pdu_get_mid(req))
        return false;
    if (p->last_loc[0])
        add_location(session, response, p->last_loc);
    coap_pdu_set_code(response, (coap_pdu_code_t)p->last_code);
    return true;
}

void ts_peer_remember(coap_session_t *session, const coap_pdu_t *req, const coap_pdu_t *response,
                      const char *loc) {
    struct ts_peer *p = ts_peer_of(session);
    if (!p)
        return;
    p->last_mid = coap_pdu_get_mid(req);
    p->last_code = coap_pdu_get_code(response);
    snprintf(p->last_loc, sizeof(p->last_loc), "%s", loc ? loc : "");
}

static int on_event(coap_session_t *session, const coap_event_t event) {
    struct ts_server *srv = ts_server_of(session);
    ts_dtls_event(srv, session, event);
    struct ts_peer *p = coap_session_get_app_data(session);
    if (event == COAP_EVENT_SERVER_SESSION_DEL && p)
        peer_free(srv, p);
    return 0;
}

/* ---- registrations ---- */

static void reg_free(struct ts_reg *r) {
    json_decref(r->ident);
    free(r->name);
    free(r->links);
    free(r->sms);
    free(r);
}

static void reg_unbind(struct ts_reg *r) {
    if (!r->session)
        return;
    struct ts_peer *p = coap_session_get_app_data(r->session);
    if (p && p->reg == r)
        p->reg = NULL;
    coap_session_release(r->session);
    r->session = NULL;
}

static void reg_set_session(struct ts_reg *r, coap_session_t *session) {
    struct ts_peer *p = ts_peer_of(session);
    if (r->session != session) {
        reg_unbind(r);
        r->session = coap_session_reference(session);
    }
    if (p)
        p->reg = r;
    json_decref(r->ident);
    r->ident = json_object();
    ts_dtls_identity_json(r->ident, session);
}

static void reg_remove(struct ts_server *srv, struct ts_reg *r) {
    ts_map_del(&srv->regs_by_id, r->id, strlen(r->id));
    ts_map_del(&srv->regs_by_name, r->name, strlen(r->name));
    reg_unbind(r);
    reg_free(r);
}

static json_t *reg_json(const struct ts_reg *r, json_t *obj) {
    json_object_set_new(obj, "ep", json_string(r->name));
    json_object_set_new(obj, "id", json_string(r->id));
    json_object_set_new(obj, "lt", json_integer(r->lifetime));
    json_object_set_new(obj, "lwm2m", json_string(r->version));
    json_object_set_new(obj, "b", json_string(r->binding));
    json_object_set_new(obj, "q", json_boolean(r->queue));
    if (r->sms)
        json_object_set_new(obj, "sms", json_string(r->sms));
    json_object_set_new(obj, "links", r->links ? json_string(r->links) : json_null());
    if (r->session)
        ts_addr_json(obj, coap_session_get_addr_remote(r->session));
    json_object_update(obj, r->ident);
    return obj;
}

struct ts_reg *ts_rd_find(struct ts_server *srv, const char *name) {
    return ts_map_get(&srv->regs_by_name, name, strlen(name));
}

/* ---- request parsing ---- */

static int copy_value(char *dst, size_t cap, const uint8_t *v, size_t len) {
    if (len >= cap || memchr(v, '\0', len))
        return -1;
    memcpy(dst, v, len);
    dst[len] = '\0';
    return 0;
}

static const char *parse_lt(const uint8_t *v, size_t len, uint32_t *lt) {
    uint64_t n = 0;
    if (len == 0 || len > 10)
        return "lt is not a number";
    for (size_t i = 0; i < len; i++) {
        if (!isdigit(v[i]))
            return "lt is not a number";
        n = n * 10 + (uint64_t)(v[i] - '0');
    }
    if (n == 0 || n > UINT32_MAX)
        return "lt out of range";
    *lt = (uint32_t)n;
    return NULL;
}

/* One Uri-Query option "key=value" or "key". */
static void parse_param(struct rd_params *p, const uint8_t *o, size_t len) {
    const uint8_t *eq = memchr(o, '=', len);
    size_t klen = eq ? (size_t)(eq - o) : len;
    const uint8_t *v = eq ? eq + 1 : o + len;
    size_t vlen = eq ? len - klen - 1 : 0;
    int rc = 0;
    if (klen == 2 && memcmp(o, "ep", 2) == 0) {
        rc = copy_value(p->ep, sizeof(p->ep), v, vlen);
        p->has_ep = vlen > 0;
    } else if (klen == 2 && memcmp(o, "lt", 2) == 0) {
        const char *why = parse_lt(v, vlen, &p->lt);
        if (why)
            p->bad = why;
        p->has_lt = true;
    } else if (klen == 5 && memcmp(o, "lwm2m", 5) == 0) {
        rc = copy_value(p->version, sizeof(p->version), v, vlen);
        p->has_version = true;
    } else if (klen == 1 && o[0] == 'b') {
        rc = copy_value(p->binding, sizeof(p->binding), v, vlen);
        p->has_binding = true;
    } else if (klen == 3 && memcmp(o, "sms", 3) == 0) {
        rc = copy_value(p->sms, sizeof(p->sms), v, vlen);
        p->has_sms = true;
    } else if (klen == 1 && o[0] == 'Q') {
        p->queue = true;
    }
    if (rc < 0)
        p->bad = "query value too long or not text";
}

static void parse_params(const coap_pdu_t *pdu, struct rd_params *p) {
    coap_opt_iterator_t it;
    coap_opt_filter_t filter;
    coap_opt_t *opt;
    memset(p, 0, sizeof(*p));
    coap_option_filter_clear(&filter);
    coap_option_filter_set(&filter, COAP_OPTION_URI_QUERY);
    coap_option_iterator_init(pdu, &it, &filter);
    while ((opt = coap_option_next(&it)))
        parse_param(p, coap_opt_value(opt), coap_opt_length(opt));
}

static int content_format(const coap_pdu_t *pdu) {
    coap_opt_iterator_t it;
    coap_opt_t *opt = coap_check_option(pdu, COAP_OPTION_CONTENT_FORMAT, &it);
    return opt ? (int)coap_decode_var_bytes(coap_opt_value(opt), coap_opt_length(opt)) : -1;
}

static void payload_of(const coap_pdu_t *pdu, const uint8_t **data, size_t *len) {
    size_t off, total;
    if (!coap_get_data_large(pdu, len, data, &off, &total)) {
        *len = 0;
        *data = NULL;
    }
}

/* Answers with code and a diagnostic payload (RFC 7252 §5.5.2). */
static void answer(coap_pdu_t *response, int code, const char *diag) {
    coap_pdu_set_code(response, (coap_pdu_code_t)code);
    if (diag)
        coap_add_data(response, strlen(diag), (const uint8_t *)diag);
}

/* A link-format payload must at least look like one: "<...>" entries (RFC 6690). */
static const char *check_links(int ct, const uint8_t *data, size_t len) {
    if (ct >= 0 && ct != 40)
        return "content-format is not link-format";
    if (len == 0)
        return NULL;
    if (data[0] != '<' || memchr(data, '\0', len))
        return "payload is not link-format";
    return NULL;
}

/* ---- Register ---- */

static void emit_rejected(struct ts_server *srv, const char *ep, const struct rd_params *p,
                          int code, const char *why) {
    char cbuf[8];
    json_t *ev = ts_event_new("register_rejected");
    json_object_set_new(ev, "ep", ep ? json_string(ep) : json_null());
    if (p->has_version)
        json_object_set_new(ev, "lwm2m", json_string(p->version));
    json_object_set_new(ev, "code", json_string(ts_code_str(code, cbuf)));
    json_object_set_new(ev, "reason", json_string(why));
    ts_emit(srv, ev);
}

/* The configured faults: a forced code for the next registers, or 4.12 for a version. */
static int register_fault(struct ts_server *srv, const struct rd_params *p, const char **why) {
    if (srv->forced_code && srv->forced_count != 0) {
        if (srv->forced_count > 0)
            srv->forced_count--;
        *why = "forced response code";
        return srv->forced_code;
    }
    for (int i = 0; i < srv->n_reject; i++) {
        if (strcmp(srv->reject_version[i], p->has_version ? p->version : "1.0") == 0) {
            *why = "rejected LwM2M version";
            return COAP_RESPONSE_CODE(412);
        }
    }
    return 0;
}

static struct ts_reg *reg_create(struct ts_server *srv, const struct rd_params *p,
                                 const uint8_t *links, size_t len) {
    struct ts_reg *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    snprintf(r->id, sizeof(r->id), "%u", srv->next_reg_id++);
    r->name = strdup(p->ep);
    r->links = len ? strndup((const char *)links, len) : NULL;
    r->sms = p->has_sms ? strdup(p->sms) : NULL;
    snprintf(r->version, sizeof(r->version), "%s", p->has_version ? p->version : "1.0");
    snprintf(r->binding, sizeof(r->binding), "%s", p->has_binding ? p->binding : "U");
    r->lifetime = p->has_lt ? p->lt : 86400;
    r->queue = p->queue; /* the 1.1 Q parameter only; a 1.0 "UQ" stays visible in b */
    r->last_ms = ts_now_ms();
    if (!r->name || ts_map_put(&srv->regs_by_id, r->id, strlen(r->id), r) < 0) {
        reg_free(r);
        return NULL;
    }
    if (ts_map_put(&srv->regs_by_name, r->name, strlen(r->name), r) < 0) {
        ts_map_del(&srv->regs_by_id, r->id, strlen(r->id));
        reg_free(r);
        return NULL;
    }
    return r;
}

static void hnd_register(coap_resource_t *res, coap_session_t *session, const coap_pdu_t *req,
                         const coap_string_t *query, coap_pdu_t *response) {
    struct ts_server *srv = ts_server_of(session);
    struct rd_params p;
    const uint8_t *data;
    size_t len;
    if (ts_peer_replayed(session, req, response))
        return;
    parse_params(req, &p);
    payload_of(req, &data, &len);
    const char *why = p.bad       ? p.bad
                      : !p.has_ep ? "missing ep"
                                  : check_links(content_format(req), data, len);
    int code = why ? COAP_RESPONSE_CODE(400) : register_fault(srv, &p, &why);
    if (code) {
        emit_rejected(srv, p.has_ep ? p.ep : NULL, &p, code, why);
        answer(response, code, why);
        ts_peer_remember(session, req, response, NULL);
        return;
    }
    struct ts_reg *old = ts_rd_find(srv, p.ep);
    json_t *replaced = old ? json_string(old->id) : NULL;
    if (old)
        reg_remove(srv, old);
    struct ts_reg *r = reg_create(srv, &p, data, len);
    if (!r) {
        json_decref(replaced);
        answer(response, COAP_RESPONSE_CODE(500), "out of memory");
        return;
    }
    reg_set_session(r, session);
    add_location(session, response, r->id);
    answer(response, COAP_RESPONSE_CODE(201), NULL);
    ts_peer_remember(session, req, response, r->id);
    json_t *ev = reg_json(r, ts_event_new("register"));
    if (replaced)
        json_object_set_new(ev, "replaced", replaced);
    ts_emit(srv, ev);
}

/* ---- Update and De-register: rd/N through the unknown-resource handler ---- */

static void do_update(struct ts_server *srv, struct ts_reg *r, coap_session_t *session,
                      const coap_pdu_t *req, coap_pdu_t *response) {
    struct rd_params p;
    const uint8_t *data;
    size_t len;
    parse_params(req, &p);
    payload_of(req, &data, &len);
    const char *why = p.bad ? p.bad : check_links(content_format(req), data, len);
    if (why) {
        answer(response, COAP_RESPONSE_CODE(400), why);
        return;
    }
    json_t *ev = ts_event_new("update");
    json_object_set_new(ev, "ep", json_string(r->name));
    json_object_set_new(ev, "id", json_string(r->id));
    if (p.has_lt)
        json_object_set_new(ev, "lt", json_integer(r->lifetime = p.lt));
    if (p.has_binding) {
        snprintf(r->binding, sizeof(r->binding), "%s", p.binding);
        json_object_set_new(ev, "b", json_string(r->binding));
    }
    if (p.queue)
        json_object_set_new(ev, "q", json_boolean(r->queue = true));
    if (p.has_sms) {
        free(r->sms);
        r->sms = strdup(p.sms);
        json_object_set_new(ev, "sms", json_string(p.sms));
    }
    if (len) {
        free(r->links);
        r->links = strndup((const char *)data, len);
        json_object_set_new(ev, "links", json_string(r->links));
    }
    reg_set_session(r, session);
    ts_addr_json(ev, coap_session_get_addr_remote(session));
    ts_dtls_identity_json(ev, session);
    r->last_ms = ts_now_ms();
    answer(response, COAP_RESPONSE_CODE(204), NULL);
    ts_emit(srv, ev);
}

static void do_deregister(struct ts_server *srv, struct ts_reg *r, coap_pdu_t *response) {
    json_t *ev = ts_event_new("deregister");
    json_object_set_new(ev, "ep", json_string(r->name));
    json_object_set_new(ev, "id", json_string(r->id));
    reg_remove(srv, r);
    answer(response, COAP_RESPONSE_CODE(202), NULL);
    ts_emit(srv, ev);
}

/* Returns the registration named by a path "rd/N", NULL otherwise. */
static struct ts_reg *reg_of_path(struct ts_server *srv, const coap_string_t *path, bool *is_rd) {
    *is_rd = path && path->length > 3 && memcmp(path->s, "rd/", 3) == 0;
    if (!*is_rd)
        return NULL;
    return ts_map_get(&srv->regs_by_id, path->s + 3, path->length - 3);
}

static void rd_entry(struct ts_server *srv, struct ts_reg *r, coap_session_t *session,
                     const coap_pdu_t *req, coap_pdu_t *response) {
    coap_pdu_code_t method = coap_pdu_get_code(req);
    if (!r)
        answer(response, COAP_RESPONSE_CODE(404), "no such registration");
    else if (method == COAP_REQUEST_CODE_POST)
        do_update(srv, r, session, req, response);
    else if (method == COAP_REQUEST_CODE_DELETE)
        do_deregister(srv, r, response);
    else
        answer(response, COAP_RESPONSE_CODE(405), NULL);
    ts_peer_remember(session, req, response, NULL);
}

static void hnd_unknown(coap_resource_t *res, coap_session_t *session, const coap_pdu_t *req,
                        const coap_string_t *query, coap_pdu_t *response) {
    struct ts_server *srv = ts_server_of(session);
    coap_string_t *path = coap_get_uri_path(req);
    bool is_rd;
    struct ts_reg *r = reg_of_path(srv, path, &is_rd);
    if (!is_rd)
        answer(response, COAP_RESPONSE_CODE(404), NULL);
    else if (!ts_peer_replayed(session, req, response))
        rd_entry(srv, r, session, req, response);
    coap_delete_string(path);
}

/* ---- Send (LwM2M 1.1): POST /dp with SenML CBOR or JSON ---- */

static void hnd_send(coap_resource_t *res, coap_session_t *session, const coap_pdu_t *req,
                     const coap_string_t *query, coap_pdu_t *response) {
    struct ts_server *srv = ts_server_of(session);
    struct ts_reg *r = reg_of_session(session);
    int ct = content_format(req);
    const uint8_t *data;
    size_t len;
    char cbuf[8];
    payload_of(req, &data, &len);
    if (ts_peer_replayed(session, req, response))
        return;
    json_t *ev = ts_event_new("send");
    json_object_set_new(ev, "ep", r ? json_string(r->name) : json_null());
    ts_dtls_identity_json(ev, session);
    json_object_set_new(ev, "ct", ct >= 0 ? json_integer(ct) : json_null());
    ts_decode_into(ev, ct, data, len);
    int code = COAP_RESPONSE_CODE(204);
    const char *why = NULL;
    if (ct != 110 && ct != 112 && ct != 11543 && ct != 11544) {
        code = COAP_RESPONSE_CODE(415);
        why = "Send takes SenML JSON or SenML CBOR";
    } else if (json_object_get(ev, "decode_error")) {
        code = COAP_RESPONSE_CODE(400);
        why = "payload does not decode";
    } else if (!r) {
        code = COAP_RESPONSE_CODE(403);
        why = "not registered";
    }
    json_object_set_new(ev, "code", json_string(ts_code_str(code, cbuf)));
    answer(response, code, why);
    ts_peer_remember(session, req, response, NULL);
    ts_emit(srv, ev);
}

/* ---- setup, sweep, listing ---- */

int ts_rd_init(struct ts_server *srv) {
    coap_resource_t *rd = coap_resource_init(coap_make_str_const("rd"), 0);
    coap_resource_t *dp = coap_resource_init(coap_make_str_const("dp"), 0);
    /* rd/N entries are not libcoap resources: the unknown resource takes every method, so that a
     * DELETE of an unknown id gets our 4.04 and not libcoap's default 2.02. */
    coap_resource_t *unk = coap_resource_unknown_init2(hnd_unknown, 0);
    if (!rd || !dp || !unk)
        return -1;
    coap_register_request_handler(rd, COAP_REQUEST_POST, hnd_register);
    coap_register_request_handler(dp, COAP_REQUEST_POST, hnd_send);
    static const coap_request_t others[] = {COAP_REQUEST_GET,    COAP_REQUEST_POST,
                                            COAP_REQUEST_DELETE, COAP_REQUEST_FETCH,
                                            COAP_REQUEST_PATCH,  COAP_REQUEST_IPATCH};
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
        coap_register_request_handler(unk, others[i], hnd_unknown);
    coap_add_resource(srv->ctx, rd);
    coap_add_resource(srv->ctx, dp);
    coap_add_resource(srv->ctx, unk);
    coap_register_event_handler(srv->ctx, on_event);
    srv->next_reg_id = 1;
    return 0;
}

static void expire_one(void *val, void *arg) {
    struct ts_server *srv = arg;
    struct ts_reg *r = val;
    if (ts_now_ms() - r->last_ms <= (int64_t)r->lifetime * 1000)
        return;
    json_t *ev = ts_event_new("expired");
    json_object_set_new(ev, "ep", json_string(r->name));
    json_object_set_new(ev, "id", json_string(r->id));
    reg_remove(srv, r);
    ts_emit(srv, ev);
}

void ts_rd_sweep(struct ts_server *srv) {
    ts_map_foreach(&srv->regs_by_id, expire_one, srv);
}

static void list_one(void *val, void *arg) {
    json_array_append_new(arg, reg_json(val, json_object()));
}

json_t *ts_rd_list(struct ts_server *srv) {
    json_t *arr = json_array();
    ts_map_foreach(&srv->regs_by_id, list_one, arr);
    return arr;
}

static void free_one(void *val, void *arg) {
    reg_remove(arg, val);
}

struct unbind_arg {
    struct ts_server *srv;
    coap_session_t *session; /* NULL: every DTLS session */
    bool forget;
};

static void unbind_one(void *val, void *arg) {
    struct ts_reg *r = val;
    const struct unbind_arg *u = arg;
    if (!json_is_true(json_object_get(r->ident, "secure")) ||
        (u->session && r->session != u->session))
        return;
    if (u->forget)
        reg_remove(u->srv, r);
    else
        reg_unbind(r);
}

void ts_rd_unbind_dtls(struct ts_server *srv, coap_session_t *session, bool forget) {
    struct unbind_arg u = {srv, session, forget};
    ts_map_foreach(&srv->regs_by_id, unbind_one, &u);
}

void ts_rd_free_all(struct ts_server *srv) {
    ts_map_foreach(&srv->regs_by_id, free_one, srv);
    while (srv->peers)
        peer_free(srv, srv->peers);
    ts_map_free(&srv->regs_by_id);
    ts_map_free(&srv->regs_by_name);
}
