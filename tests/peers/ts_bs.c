/* SPDX-License-Identifier: Apache-2.0 */
/* The Bootstrap-Server role of the test LwM2M server (TS Core 5.2, client-initiated bootstrap):
 * bootstrap scripts per endpoint name set by bs_config, the answer to POST /bs?ep=[&pct=], and the
 * runs that then play a script's requests (Delete, Write, Discover, Read, Bootstrap-Finish) one
 * after another on the session the request came on, each after the previous one's response;
 * bs_initiate plays one without a request (server-initiated bootstrap). The
 * requests go out through ts_dm.c; runs are stepped from the loop (ts_bs_pass), never from inside
 * a libcoap handler, so that our 2.04 leaves before the first request. */
#include "ts.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BS_DEFAULT_CT 11542 /* TLV: what most bootstrap servers write */

/* One bootstrap sequence in progress. */
struct ts_bs_run {
    struct ts_bs_run *prev, *next;
    uint64_t id; /* the tag of its requests: a response to a run that ended finds no run */
    char *ep;
    json_t *steps;           /* the script's steps, referenced: a new bs_config leaves it alone */
    size_t step;             /* the step to send next, or whose response is awaited */
    int ct;                  /* content-format of "resources" writes without "ct" */
    coap_session_t *session; /* referenced */
    bool awaiting;           /* steps[step] is out; else it goes out at due_ms */
    int64_t due_ms;
};

/* ---- scripts ---- */

static const char *const ops[] = {"delete", "write", "discover", "read", "finish"};

static bool op_is(const json_t *step, const char *op) {
    return strcmp(json_string_value(json_object_get(step, "op")), op) == 0;
}

static const char *step_path(const json_t *step) {
    const char *p = json_string_value(json_object_get(step, "path"));
    return op_is(step, "finish") ? "/bs" : p ? p : "/";
}

static bool nonneg_number(const json_t *v) {
    return !v || (json_is_number(v) && json_number_value(v) >= 0);
}

/* A write of "senml" records, a hex "payload" or a "text". */
static const char *check_raw(const json_t *step, const json_t *ct) {
    const json_t *senml = json_object_get(step, "senml");
    const json_t *payload = json_object_get(step, "payload");
    uint8_t *raw = NULL;
    size_t len;
    if (senml)
        return json_is_array(senml) &&
                       (!ct || json_integer_value(ct) == 110 || json_integer_value(ct) == 112)
                   ? NULL
                   : "senml is a list of records, written as ct 110 or 112";
    if (!ct)
        return "payload and text need ct";
    if (payload && (!json_is_string(payload) || ts_unhex(json_string_value(payload), &raw, &len)))
        return "payload is hex";
    free(raw);
    return payload || json_is_string(json_object_get(step, "text")) ? NULL : "text is a string";
}

/* What is wrong with a write step's body, or NULL. Resources are encoded once here, so that a
 * bad value is reported by bs_config and not in the middle of a run. */
static const char *check_write(const json_t *step, int depth, char *err, size_t errlen) {
    const json_t *res = json_object_get(step, "resources");
    const json_t *inst = json_object_get(step, "instances");
    const json_t *ct = json_object_get(step, "ct");
    int bodies = !!res + !!inst + !!json_object_get(step, "payload") +
                 !!json_object_get(step, "text") + !!json_object_get(step, "senml");
    if (depth < 1 || bodies != 1)
        return "write wants a path /O[/I[/R]] and one of resources, instances, senml, payload, "
               "text";
    if (ct && !json_is_integer(ct))
        return "ct is a number";
    if (!res && !inst)
        return check_raw(step, ct);
    if (res ? depth != 2 : depth != 1)
        return "resources go to /O/I, instances to /O";
    uint8_t *out = NULL;
    size_t len;
    int rc = ts_resources_encode(
        res ? res : inst, step_path(step), ct ? (int)json_integer_value(ct) : BS_DEFAULT_CT,
        json_is_true(json_object_get(step, "wrap")), &out, &len, err, errlen);
    free(out);
    return rc < 0 ? err : NULL;
}

static const char *check_step(const json_t *step, bool last, char *err, size_t errlen) {
    const char *op = json_string_value(json_object_get(step, "op"));
    const json_t *path = json_object_get(step, "path");
    int ids[4];
    size_t i = 0;
    while (op && i < sizeof(ops) / sizeof(ops[0]) && strcmp(op, ops[i]) != 0)
        i++;
    if (!json_is_object(step) || !op || i == sizeof(ops) / sizeof(ops[0]))
        return "op is delete, write, discover, read or finish";
    if (path && (!json_is_string(path) || ts_path_parse(json_string_value(path), ids) < 0))
        return "path is /O/I/R/RI (numeric) or /";
    if (!nonneg_number(json_object_get(step, "delay")) ||
        !nonneg_number(json_object_get(step, "timeout")))
        return "delay and timeout are seconds";
    if (strcmp(op, "finish") == 0 && !last)
        return "finish ends the script";
    if (strcmp(op, "read") == 0 && !path)
        return "read needs a path";
    if (strcmp(op, "write") == 0)
        return check_write(step, path ? ts_path_parse(json_string_value(path), ids) : 0, err,
                           errlen);
    return NULL;
}

/* {"ep", "steps"?, "code"?, "count"?}: what is wrong with it, or NULL. */
static const char *check_config(const json_t *cmd, char *err, size_t errlen) {
    const json_t *steps = json_object_get(cmd, "steps");
    const json_t *code = json_object_get(cmd, "code");
    const json_t *count = json_object_get(cmd, "count");
    if (steps && !json_is_array(steps))
        return "steps is a list";
    if (code && (!json_is_string(code) || ts_code_parse(json_string_value(code)) < 0))
        return "code is a response code such as \"4.03\"";
    if (count && !json_is_integer(count))
        return "count is a number";
    size_t i;
    json_t *step;
    json_array_foreach(steps, i, step) {
        const char *why = check_step(step, i + 1 == json_array_size(steps), err, errlen);
        if (why) {
            char buf[256]; /* why may be err itself: format into a copy first */
            int n = snprintf(buf, sizeof(buf), "step %zu: ", i);
            snprintf(buf + n, sizeof(buf) - (size_t)n, "%.*s", (int)(sizeof(buf) - 32), why);
            size_t len = strlen(buf) < errlen ? strlen(buf) : errlen - 1;
            memcpy(err, buf, len);
            err[len] = '\0';
            return err;
        }
    }
    return NULL;
}

void ts_bs_config(struct ts_server *srv, json_t *id, const json_t *cmd) {
    const char *ep = json_string_value(json_object_get(cmd, "ep"));
    char err[200];
    const char *why =
        !ep ? "need ep (a name, or \"*\" for any)" : check_config(cmd, err, sizeof(err));
    if (why) {
        ts_emit_error(srv, id, why);
        return;
    }
    if (json_is_true(json_object_get(cmd, "remove"))) {
        json_object_del(srv->bs_configs, ep);
    } else {
        json_t *cfg = json_deep_copy(cmd);
        json_object_del(cfg, "cmd");
        json_object_del(cfg, "id");
        if (!json_object_get(cfg, "steps"))
            json_object_set_new(cfg, "steps", json_array());
        json_object_set_new(srv->bs_configs, ep, cfg);
    }
    ts_emit(srv, json_pack("{s:O,s:b,s:o}", "id", id, "ok", 1, "configured", ts_bs_list(srv)));
}

json_t *ts_bs_list(struct ts_server *srv) {
    json_t *arr = json_array();
    const char *key;
    json_t *v;
    json_object_foreach(srv->bs_configs, key, v) {
        json_array_append_new(arr, json_string(key));
    }
    return arr;
}

/* ---- runs ---- */

/* A run's own client session, released from the loop (ts_bs_pass), never inside the libcoap
 * response handler that ended the run: libcoap frees a client session at its last release. */
static void spend_session(struct ts_server *srv, coap_session_t *session) {
    coap_session_t **grown = realloc(srv->bs_spent, (srv->n_bs_spent + 1) * sizeof(*grown));
    if (!grown) { /* kept until exit rather than freed under libcoap's feet */
        coap_session_reference(session);
        return;
    }
    srv->bs_spent = grown;
    srv->bs_spent[srv->n_bs_spent++] = coap_session_reference(session);
}

static void release_spent(struct ts_server *srv) {
    for (size_t i = 0; i < srv->n_bs_spent; i++)
        coap_session_release(srv->bs_spent[i]);
    srv->n_bs_spent = 0;
}

static struct ts_bs_run *run_find_id(struct ts_server *srv, uint64_t id) {
    for (struct ts_bs_run *r = srv->bs_runs; r; r = r->next) {
        if (r->id == id)
            return r;
    }
    return NULL;
}

static void run_end(struct ts_server *srv, struct ts_bs_run *r) {
    if (r->prev)
        r->prev->next = r->next;
    else
        srv->bs_runs = r->next;
    if (r->next)
        r->next->prev = r->prev;
    coap_session_release(r->session); /* inside a handler too: see pending_free in ts_dm.c */
    json_decref(r->steps);
    free(r->ep);
    free(r);
}

static json_t *step_event(const char *name, const struct ts_bs_run *r) {
    const json_t *step = json_array_get(r->steps, r->step);
    json_t *ev = ts_event_new(name);
    json_object_set_new(ev, "ep", json_string(r->ep));
    json_object_set_new(ev, "step", json_integer((json_int_t)r->step));
    if (step) {
        json_object_set(ev, "op", json_object_get(step, "op"));
        json_object_set_new(ev, "path", json_string(step_path(step)));
    }
    return ev;
}

static void run_fail(struct ts_server *srv, struct ts_bs_run *r, const char *why, json_t *code) {
    json_t *ev = step_event("bs_failed", r);
    json_object_set_new(ev, "reason", json_string(why));
    if (code)
        json_object_set_new(ev, "code", code);
    run_end(srv, r);
    ts_emit(srv, ev);
}

static void run_finished(struct ts_server *srv, struct ts_bs_run *r, json_t *code) {
    json_t *ev = ts_event_new("bs_finished");
    json_object_set_new(ev, "ep", json_string(r->ep));
    json_object_set_new(ev, "code", code ? code : json_null());
    json_object_set_new(ev, "steps", json_integer((json_int_t)json_array_size(r->steps)));
    run_end(srv, r);
    ts_emit(srv, ev);
}

static void schedule(struct ts_bs_run *r) {
    const json_t *d = json_object_get(json_array_get(r->steps, r->step), "delay");
    r->awaiting = false;
    r->due_ms = ts_now_ms() + (int64_t)(json_is_number(d) ? json_number_value(d) * 1000 : 0);
}

/* The response to a run's request, or its absence (ts_dm_done_fn). */
static void on_step_done(struct ts_server *srv, uint64_t tag, const coap_pdu_t *response,
                         const char *why) {
    struct ts_bs_run *r = run_find_id(srv, tag);
    if (!r) /* the run ended meanwhile (superseded, or its session went) */
        return;
    if (!response) {
        run_fail(srv, r, why, NULL);
        return;
    }
    const json_t *step = json_array_get(r->steps, r->step);
    json_t *ev = ts_dm_response_json(step_event("bs_step", r), response);
    json_t *code = json_incref(json_object_get(ev, "code"));
    ts_emit(srv, ev);
    if (op_is(step, "finish")) {
        run_finished(srv, r, code);
    } else if (COAP_RESPONSE_CLASS(coap_pdu_get_code(response)) != 2 &&
               !json_is_true(json_object_get(step, "continue"))) {
        run_fail(srv, r, "error response", code);
    } else {
        json_decref(code);
        if (++r->step == json_array_size(r->steps))
            run_finished(srv, r, NULL);
        else
            schedule(r);
    }
}

/* The request of one step; its payload (when encoded here) goes to *owned (caller frees). */
static const char *build_step(struct ts_server *srv, const struct ts_bs_run *r, const json_t *step,
                              struct ts_req *req, uint8_t **owned, char *err, size_t errlen) {
    const json_t *v;
    memset(req, 0, sizeof(*req));
    req->path = step_path(step);
    req->accept = -1;
    req->ct = -1;
    req->observe = -1;
    v = json_object_get(step, "timeout");
    req->timeout_s = json_is_number(v) ? json_number_value(v) : srv->default_timeout_s;
    if (op_is(step, "delete")) {
        req->method = COAP_REQUEST_CODE_DELETE;
    } else if (op_is(step, "discover") || op_is(step, "read")) {
        req->method = COAP_REQUEST_CODE_GET;
        v = json_object_get(step, "accept");
        req->accept = json_is_integer(v)    ? (int)json_integer_value(v)
                      : op_is(step, "read") ? -1
                                            : 40;
    } else if (op_is(step, "finish")) {
        req->method = COAP_REQUEST_CODE_POST;
    } else {
        req->method = COAP_REQUEST_CODE_PUT;
        v = json_object_get(step, "ct");
        req->ct = json_is_integer(v) ? (int)json_integer_value(v) : r->ct;
        const json_t *tree = json_object_get(step, "resources");
        int rc = 0;
        if (tree || (tree = json_object_get(step, "instances")))
            rc = ts_resources_encode(tree, req->path, req->ct,
                                     json_is_true(json_object_get(step, "wrap")), owned,
                                     &req->payload_len, err, errlen);
        else if ((v = json_object_get(step, "senml")))
            rc = ts_senml_encode(v, req->ct = req->ct == 112 ? 112 : 110, owned, &req->payload_len);
        else if ((v = json_object_get(step, "payload")))
            rc = ts_unhex(json_string_value(v), owned, &req->payload_len);
        else if ((v = json_object_get(step, "text")) &&
                 (*owned = (uint8_t *)strdup(json_string_value(v))))
            req->payload_len = strlen((const char *)*owned);
        req->payload = *owned;
        if (rc < 0)
            return err[0] ? err : "cannot encode the payload";
    }
    return NULL;
}

static void send_step(struct ts_server *srv, struct ts_bs_run *r) {
    const json_t *step = json_array_get(r->steps, r->step);
    if (!step) { /* an empty script */
        run_finished(srv, r, NULL);
        return;
    }
    struct ts_req req;
    uint8_t *owned = NULL;
    char err[200] = "";
    const char *why = build_step(srv, r, step, &req, &owned, err, sizeof(err));
    r->awaiting = true;
    if (!why && ts_dm_send_cb(srv, r->session, r->ep, &req, on_step_done, r->id) < 0)
        why = "cannot send";
    free(owned);
    if (why)
        run_fail(srv, r, why, NULL);
}

int64_t ts_bs_pass(struct ts_server *srv) {
    int64_t now = ts_now_ms(), next = INT64_MAX;
    if (srv->n_bs_spent > 0 && !srv->bs_runs)
        release_spent(srv);
    struct ts_bs_run *r = srv->bs_runs;
    while (r) {
        struct ts_bs_run *following = r->next; /* send_step may end r */
        if (!r->awaiting && r->due_ms <= now)
            send_step(srv, r);
        else if (!r->awaiting && r->due_ms < next)
            next = r->due_ms;
        r = following;
    }
    return next;
}

/* A new Bootstrap-Request of an endpoint ends the run it has in progress (it gave up on it). */
static void run_start(struct ts_server *srv, const char *ep, const json_t *steps, int ct,
                      coap_session_t *session) {
    for (struct ts_bs_run *o = srv->bs_runs; o; o = o->next) {
        if (strcmp(o->ep, ep) == 0) {
            run_fail(srv, o, "superseded by a new Bootstrap-Request", NULL);
            break;
        }
    }
    struct ts_bs_run *r = calloc(1, sizeof(*r));
    if (!r || !(r->ep = strdup(ep))) {
        free(r);
        return;
    }
    r->id = ++srv->bs_next_id;
    r->steps = json_incref((json_t *)steps);
    r->ct = ct;
    r->session = coap_session_reference(session);
    r->next = srv->bs_runs;
    if (r->next)
        r->next->prev = r;
    srv->bs_runs = r;
    schedule(r);
}

void ts_bs_drop_session(struct ts_server *srv, coap_session_t *session, const char *why) {
    struct ts_bs_run *r = srv->bs_runs;
    while (r) {
        struct ts_bs_run *following = r->next;
        if (r->session == session)
            run_fail(srv, r, why, NULL);
        r = following;
    }
}

/* ---- POST /bs?ep=[&pct=] ---- */

struct bs_params {
    char ep[256];
    int pct; /* -1: none; -2: not a number */
};

static void parse_bs_params(const coap_pdu_t *pdu, struct bs_params *p) {
    coap_opt_iterator_t it;
    coap_opt_filter_t filter;
    coap_opt_t *opt;
    p->ep[0] = '\0';
    p->pct = -1;
    coap_option_filter_clear(&filter);
    coap_option_filter_set(&filter, COAP_OPTION_URI_QUERY);
    coap_option_iterator_init(pdu, &it, &filter);
    while ((opt = coap_option_next(&it))) {
        const char *o = (const char *)coap_opt_value(opt);
        size_t len = coap_opt_length(opt);
        if (len > 3 && memcmp(o, "ep=", 3) == 0 && len - 3 < sizeof(p->ep) &&
            !memchr(o + 3, '\0', len - 3)) {
            memcpy(p->ep, o + 3, len - 3);
            p->ep[len - 3] = '\0';
        } else if (len > 4 && memcmp(o, "pct=", 4) == 0) {
            p->pct = 0;
            for (size_t i = 4; i < len && p->pct >= 0; i++)
                p->pct = isdigit((unsigned char)o[i]) && p->pct < 65536 ? p->pct * 10 + (o[i] - '0')
                                                                        : -2;
        }
    }
}

/* The code that answers a Bootstrap-Request and, for 2.04, the config to run. */
static int bs_verdict(struct ts_server *srv, const struct bs_params *p, const json_t **cfg_out,
                      const char **why) {
    json_t *cfg = p->ep[0] ? json_object_get(srv->bs_configs, p->ep) : NULL;
    if (!cfg)
        cfg = json_object_get(srv->bs_configs, "*");
    *cfg_out = cfg;
    if (!p->ep[0]) {
        *why = "missing ep";
        return COAP_RESPONSE_CODE(400);
    }
    if (p->pct != -1 && p->pct != 11542 && p->pct != 112 && p->pct != 110) {
        *why = "pct: this server writes 11542, 112 or 110";
        return COAP_RESPONSE_CODE(415);
    }
    if (!cfg) {
        *why = "no bootstrap configuration";
        return COAP_RESPONSE_CODE(400);
    }
    const char *code = json_string_value(json_object_get(cfg, "code"));
    json_t *count = json_object_get(cfg, "count");
    if (code && (!count || json_integer_value(count) > 0)) {
        if (count)
            json_integer_set(count, json_integer_value(count) - 1);
        *why = "configured fault";
        *cfg_out = NULL; /* no run, whatever the code */
        return ts_code_parse(code);
    }
    return COAP_RESPONSE_CODE(204);
}

static void hnd_bs(coap_resource_t *res, coap_session_t *session, const coap_pdu_t *req,
                   const coap_string_t *query, coap_pdu_t *response) {
    struct ts_server *srv = ts_server_of(session);
    struct bs_params p;
    const json_t *cfg;
    const char *why = NULL;
    char cbuf[8];
    if (ts_peer_replayed(session, req, response))
        return;
    parse_bs_params(req, &p);
    int code = bs_verdict(srv, &p, &cfg, &why);
    coap_pdu_set_code(response, (coap_pdu_code_t)code);
    if (why)
        coap_add_data(response, strlen(why), (const uint8_t *)why);
    ts_peer_remember(session, req, response, NULL);
    json_t *ev = ts_event_new("bs_request");
    json_object_set_new(ev, "ep", p.ep[0] ? json_string(p.ep) : json_null());
    ts_addr_json(ev, coap_session_get_addr_remote(session));
    ts_dtls_identity_json(ev, session);
    if (p.pct != -1)
        json_object_set_new(ev, "pct", json_integer(p.pct));
    json_object_set_new(ev, "code", json_string(ts_code_str(code, cbuf)));
    if (why)
        json_object_set_new(ev, "reason", json_string(why));
    ts_emit(srv, ev);
    if (cfg && code == COAP_RESPONSE_CODE(204))
        run_start(srv, p.ep, json_object_get(cfg, "steps"), p.pct >= 0 ? p.pct : BS_DEFAULT_CT,
                  session);
}

/* ---- bs_initiate: server-initiated bootstrap ---- */

/* {"ep", "addr", "port"}: ep's script (or "*"'s) played to the endpoint at addr:port at once,
 * without its Bootstrap-Request (TS Core 5.2.3). The requests must come from the address the
 * endpoint knows as its bootstrap server's, our plain listening address and port: a client
 * session bound there (libcoap binds it with SO_REUSEADDR; connected to the endpoint, its socket
 * gets the endpoint's answers). A Register that follows the Finish may arrive on it too; the RD
 * then keeps that session, which answers from the same port. */
void ts_bs_initiate(struct ts_server *srv, json_t *id, const json_t *cmd) {
    const char *ep = json_string_value(json_object_get(cmd, "ep"));
    const char *host = json_string_value(json_object_get(cmd, "addr"));
    json_int_t port = json_integer_value(json_object_get(cmd, "port"));
    const json_t *cfg = ep ? json_object_get(srv->bs_configs, ep) : NULL;
    coap_address_t dst, local;
    if (!cfg && ep)
        cfg = json_object_get(srv->bs_configs, "*");
    if (!ep || !host || port <= 0 || port > 65535 || ts_parse_addr(host, (int)port, &dst) < 0) {
        ts_emit_error(srv, id, "need ep, addr (numeric) and port");
        return;
    }
    if (!cfg) {
        ts_emit_error(srv, id, "no bootstrap configuration for ep");
        return;
    }
    int i = 0;
    while (i < srv->n_listen &&
           (srv->listen[i].dtls ||
            ts_parse_addr(srv->listen[i].addr, srv->listen[i].port, &local) < 0 ||
            local.addr.sa.sa_family != dst.addr.sa.sa_family))
        i++;
    coap_session_t *session =
        i < srv->n_listen ? coap_new_client_session(srv->ctx, &local, &dst, COAP_PROTO_UDP) : NULL;
    if (!session) {
        ts_emit_error(srv, id, "cannot open a session from the listening address");
        return;
    }
    run_start(srv, ep, json_object_get(cfg, "steps"), BS_DEFAULT_CT, session);
    spend_session(srv, session); /* the run keeps its own reference until it ends */
    coap_session_release(session);
    ts_emit(srv, json_pack("{s:O,s:b}", "id", id, "ok", 1));
}

int ts_bs_init(struct ts_server *srv) {
    coap_resource_t *bs = coap_resource_init(coap_make_str_const("bs"), 0);
    if (!bs || !(srv->bs_configs = json_object()))
        return -1;
    coap_register_request_handler(bs, COAP_REQUEST_POST, hnd_bs);
    coap_add_resource(srv->ctx, bs);
    return 0;
}

void ts_bs_free_all(struct ts_server *srv) {
    while (srv->bs_runs)
        run_end(srv, srv->bs_runs);
    release_spent(srv);
    free(srv->bs_spent);
    json_decref(srv->bs_configs);
    srv->bs_configs = NULL;
}
