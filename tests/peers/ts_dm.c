/* SPDX-License-Identifier: Apache-2.0 */
/* Requests issued by the test LwM2M server (Device Management operations, observations, raw
 * requests): building the libcoap PDU, matching responses and notifications by token, timeouts,
 * NACKs and the two ways of cancelling an observation (GET Observe=1, or RST). libcoap does the
 * CON retransmission, separate responses and Block1/Block2 transfers. */
#include "ts.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What a cancel by GET/FETCH Observe=1 must repeat of the original request (RFC 7641 §3.6). */
struct saved_req {
    coap_pdu_code_t method;
    int accept;
    int ct;
    uint8_t *payload;
    size_t payload_len;
};

struct dm_pending {
    struct ts_pending p; /* first: the public part */
    struct saved_req saved;
};

static struct dm_pending *dm_of(struct ts_pending *p) {
    return (struct dm_pending *)p;
}

/* ---- the pending table ---- */

static void pending_free(struct ts_pending *p) {
    json_decref(p->cmd_id);
    json_decref(p->cancel_id);
    free(p->ep);
    free(p->path);
    free(dm_of(p)->saved.payload);
    /* A server session at refcount 0 is only reaped by libcoap's idle sweep, and raw client
     * sessions keep a cache reference: releasing here, inside a handler, frees nothing in use. */
    coap_session_release(p->session);
    free(dm_of(p));
}

static void pending_remove(struct ts_server *srv, struct ts_pending *p) {
    ts_map_del(&srv->pending, p->token, TS_TOKEN_LEN);
    if (p->prev)
        p->prev->next = p->next;
    else
        srv->pending_head = p->next;
    if (p->next)
        p->next->prev = p->prev;
    pending_free(p);
}

static struct ts_pending *pending_new(struct ts_server *srv, coap_session_t *session,
                                      const char *ep, json_t *id, const struct ts_req *req) {
    struct dm_pending *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    struct ts_pending *p = &d->p;
    uint64_t seq = srv->token_seq++;
    for (int i = 0; i < TS_TOKEN_LEN; i++)
        p->token[i] = (uint8_t)(seq >> (8 * (TS_TOKEN_LEN - 1 - i)));
    p->cmd_id = json_incref(id);
    p->ep = ep ? strdup(ep) : NULL;
    p->path = strdup(req->path ? req->path : "/");
    p->session = coap_session_reference(session);
    p->deadline_ms = ts_now_ms() + (int64_t)(req->timeout_s * 1000);
    p->observe = req->observe == 0;
    d->saved = (struct saved_req){req->method, req->accept, req->ct, NULL, 0};
    if (p->observe && req->payload_len && (d->saved.payload = malloc(req->payload_len))) {
        memcpy(d->saved.payload, req->payload, req->payload_len);
        d->saved.payload_len = req->payload_len;
    }
    if (ts_map_put(&srv->pending, p->token, TS_TOKEN_LEN, p) < 0) {
        pending_free(p);
        return NULL;
    }
    p->next = srv->pending_head;
    if (p->next)
        p->next->prev = p;
    srv->pending_head = p;
    return p;
}

/* ---- building and sending ---- */

static void add_uint_opt(coap_optlist_t **opts, uint16_t num, unsigned v) {
    uint8_t buf[4];
    coap_insert_optlist(opts,
                        coap_new_optlist(num, coap_encode_var_safe(buf, sizeof(buf), v), buf));
}

/* Splits s at sep into one option per non-empty segment. */
static void add_split_opts(coap_optlist_t **opts, uint16_t num, const char *s, char sep) {
    while (s && *s) {
        const char *end = strchr(s, sep);
        size_t len = end ? (size_t)(end - s) : strlen(s);
        if (len)
            coap_insert_optlist(opts, coap_new_optlist(num, len, (const uint8_t *)s));
        s = end ? end + 1 : NULL;
    }
}

static void release_copy(coap_session_t *session, void *app_ptr) {
    free(app_ptr);
}

static coap_pdu_t *build_pdu(coap_session_t *session, const struct ts_req *req,
                             const uint8_t *token) {
    coap_pdu_t *pdu =
        coap_pdu_init(req->non ? COAP_MESSAGE_NON : COAP_MESSAGE_CON, req->method,
                      coap_new_message_id(session), coap_session_max_pdu_size(session));
    coap_optlist_t *opts = NULL;
    if (!pdu || !coap_add_token(pdu, TS_TOKEN_LEN, token)) {
        coap_delete_pdu(pdu);
        return NULL;
    }
    if (req->observe >= 0)
        add_uint_opt(&opts, COAP_OPTION_OBSERVE, (unsigned)req->observe);
    add_split_opts(&opts, COAP_OPTION_URI_PATH, req->path, '/');
    if (req->ct >= 0)
        add_uint_opt(&opts, COAP_OPTION_CONTENT_FORMAT, (unsigned)req->ct);
    add_split_opts(&opts, COAP_OPTION_URI_QUERY, req->query, '&');
    if (req->accept >= 0)
        add_uint_opt(&opts, COAP_OPTION_ACCEPT, (unsigned)req->accept);
    int ok = !opts || coap_add_optlist_pdu(pdu, &opts);
    coap_delete_optlist(opts);
    if (ok && req->payload_len) {
        /* libcoap sends the body with Block1 when it does not fit, and frees the copy after. */
        uint8_t *copy = malloc(req->payload_len);
        ok = copy != NULL;
        if (ok) {
            memcpy(copy, req->payload, req->payload_len);
            ok = coap_add_data_large_request(session, pdu, req->payload_len, copy, release_copy,
                                             copy);
        }
    }
    if (!ok) {
        coap_delete_pdu(pdu);
        return NULL;
    }
    return pdu;
}

static int send_pending(struct ts_server *srv, struct ts_pending *p, const struct ts_req *req) {
    coap_pdu_t *pdu = build_pdu(p->session, req, p->token);
    if (!pdu || coap_send(p->session, pdu) == COAP_INVALID_MID) {
        json_decref(p->cmd_id);
        p->cmd_id = NULL; /* the caller answers the command */
        pending_remove(srv, p);
        return -1;
    }
    return 0;
}

int ts_dm_send(struct ts_server *srv, coap_session_t *session, const char *ep, json_t *id,
               const struct ts_req *req) {
    struct ts_pending *p = pending_new(srv, session, ep, id, req);
    return p ? send_pending(srv, p, req) : -1;
}

int ts_dm_send_cb(struct ts_server *srv, coap_session_t *session, const char *ep,
                  const struct ts_req *req, ts_dm_done_fn done, uint64_t tag) {
    struct ts_pending *p = pending_new(srv, session, ep, NULL, req);
    if (!p)
        return -1;
    p->observe = false;
    p->done = done;
    p->done_tag = tag;
    return send_pending(srv, p, req);
}

/* Ends a request of the server's own: out of the table first, so that done sees a consistent
 * state (it may end the run that owns the request, or schedule its next request). */
static void finish_cb(struct ts_server *srv, struct ts_pending *p, const coap_pdu_t *response,
                      const char *why) {
    ts_dm_done_fn done = p->done;
    uint64_t tag = p->done_tag;
    pending_remove(srv, p);
    done(srv, tag, response, why);
}

/* ---- responses ---- */

static int pdu_uint_opt(const coap_pdu_t *pdu, uint16_t num, int dflt) {
    coap_opt_iterator_t it;
    coap_opt_t *opt = coap_check_option(pdu, num, &it);
    return opt ? (int)coap_decode_var_bytes(coap_opt_value(opt), coap_opt_length(opt)) : dflt;
}

json_t *ts_dm_response_json(json_t *obj, const coap_pdu_t *pdu) {
    char cbuf[8];
    const uint8_t *data = NULL;
    size_t len = 0, off, total;
    int ct = pdu_uint_opt(pdu, COAP_OPTION_CONTENT_FORMAT, -1);
    int obs = pdu_uint_opt(pdu, COAP_OPTION_OBSERVE, -1);
    if (!coap_get_data_large(pdu, &len, &data, &off, &total))
        len = 0;
    json_object_set_new(obj, "code", json_string(ts_code_str(coap_pdu_get_code(pdu), cbuf)));
    json_object_set_new(obj, "ct", ct >= 0 ? json_integer(ct) : json_null());
    if (obs >= 0)
        json_object_set_new(obj, "observe", json_integer(obs));
    ts_decode_into(obj, ct, data ? data : (const uint8_t *)"", len);
    return obj;
}

static void set_token(json_t *obj, const struct ts_pending *p) {
    char *h = ts_hex(p->token, TS_TOKEN_LEN);
    json_object_set_new(obj, "token", json_string(h ? h : ""));
    free(h);
}

static json_t *result_new(json_t *id) {
    json_t *obj = json_object();
    json_object_set(obj, "id", id);
    return obj;
}

static json_t *notify_event(const struct ts_pending *p, const coap_pdu_t *pdu) {
    json_t *ev = ts_event_new("notify");
    set_token(ev, p);
    json_object_set_new(ev, "ep", p->ep ? json_string(p->ep) : json_null());
    json_object_set_new(ev, "path", json_string(p->path));
    /* observe tests (M3): CON or NON, as the notification came */
    json_object_set_new(ev, "type",
                        json_string(coap_pdu_get_type(pdu) == COAP_MESSAGE_CON ? "CON" : "NON"));
    return ts_dm_response_json(ev, pdu);
}

/* A response to the command that started p. Keeps p when it opened an observation. */
static void first_response(struct ts_server *srv, struct ts_pending *p, const coap_pdu_t *pdu) {
    bool observing = p->observe && pdu_uint_opt(pdu, COAP_OPTION_OBSERVE, -1) >= 0 &&
                     COAP_RESPONSE_CLASS(coap_pdu_get_code(pdu)) == 2;
    json_t *res = ts_dm_response_json(result_new(p->cmd_id), pdu);
    if (p->observe)
        set_token(res, p);
    ts_emit(srv, res);
    if (!observing) {
        pending_remove(srv, p);
        return;
    }
    json_decref(p->cmd_id);
    p->cmd_id = NULL;
    p->established = true;
    p->deadline_ms = 0;
}

static coap_response_t on_response(coap_session_t *session, const coap_pdu_t *sent,
                                   const coap_pdu_t *received, const coap_mid_t mid) {
    struct ts_server *srv = ts_server_of(session);
    coap_bin_const_t tok = coap_pdu_get_token(received);
    struct ts_pending *p = ts_map_get(&srv->pending, tok.s, tok.length);
    if (coap_pdu_get_code(received) == 0)
        return COAP_RESPONSE_OK; /* an empty ACK: the separate response follows */
    if (!p)
        return COAP_RESPONSE_FAIL; /* unknown token: RST, which also ends a stray observation */
    if (p->done) {
        finish_cb(srv, p, received, NULL);
        return COAP_RESPONSE_OK;
    }
    bool has_obs = pdu_uint_opt(received, COAP_OPTION_OBSERVE, -1) >= 0;
    if (p->cancel_id && !has_obs) {
        ts_emit(srv, ts_dm_response_json(result_new(p->cancel_id), received));
        pending_remove(srv, p);
        return COAP_RESPONSE_OK;
    }
    if (!p->established) {
        first_response(srv, p, received);
        return COAP_RESPONSE_OK;
    }
    json_t *ev = notify_event(p, received);
    if (p->cancel_rst) {
        json_object_set_new(ev, "cancelled", json_string("rst"));
        ts_emit(srv, ev);
        pending_remove(srv, p);
        return COAP_RESPONSE_FAIL; /* libcoap answers the notification with RST */
    }
    ts_emit(srv, ev);
    if (COAP_RESPONSE_CLASS(coap_pdu_get_code(received)) != 2 || !has_obs)
        pending_remove(srv, p); /* RFC 7641 §3.2: such a notification ends the observation */
    return COAP_RESPONSE_OK;
}

static void fail_pending(struct ts_server *srv, struct ts_pending *p, const char *why) {
    if (p->done) {
        finish_cb(srv, p, NULL, why);
        return;
    }
    if (p->cmd_id)
        ts_emit_error(srv, p->cmd_id, why);
    if (p->cancel_id)
        ts_emit_error(srv, p->cancel_id, why);
    if (p->established && !p->cancel_id) {
        json_t *ev = ts_event_new("observe_failed");
        set_token(ev, p);
        json_object_set_new(ev, "reason", json_string(why));
        ts_emit(srv, ev);
    }
    pending_remove(srv, p);
}

static void on_nack(coap_session_t *session, const coap_pdu_t *sent,
                    const coap_nack_reason_t reason, const coap_mid_t mid) {
    struct ts_server *srv = ts_server_of(session);
    if (!sent)
        return;
    coap_bin_const_t tok = coap_pdu_get_token(sent);
    struct ts_pending *p = ts_map_get(&srv->pending, tok.s, tok.length);
    if (!p)
        return;
    switch (reason) {
    case COAP_NACK_RST:
        fail_pending(srv, p, "reset");
        break;
    case COAP_NACK_TOO_MANY_RETRIES:
        fail_pending(srv, p, "timeout");
        break;
    default:
        fail_pending(srv, p, "not deliverable");
        break;
    }
}

/* ---- cancel, sweep, listing ---- */

static int cancel_by_get(struct ts_server *srv, struct ts_pending *p, double timeout_s) {
    struct saved_req *s = &dm_of(p)->saved;
    struct ts_req req = {.method = s->method,
                         .path = p->path,
                         .accept = s->accept,
                         .ct = s->ct,
                         .payload = s->payload,
                         .payload_len = s->payload_len,
                         .observe = 1,
                         .timeout_s = timeout_s};
    coap_pdu_t *pdu = build_pdu(p->session, &req, p->token);
    if (!pdu || coap_send(p->session, pdu) == COAP_INVALID_MID)
        return -1;
    p->deadline_ms = ts_now_ms() + (int64_t)(timeout_s * 1000);
    return 0;
}

int ts_dm_cancel(struct ts_server *srv, json_t *id, const char *token_hex, const char *mode,
                 double timeout_s) {
    uint8_t *tok = NULL;
    size_t len = 0;
    struct ts_pending *p = NULL;
    if (token_hex && ts_unhex(token_hex, &tok, &len) == 0)
        p = ts_map_get(&srv->pending, tok, len);
    free(tok);
    if (!p || !p->established || p->cancel_id || p->cancel_rst) {
        ts_emit_error(srv, id, "no such observation");
        return 0;
    }
    if (mode && strcmp(mode, "rst") == 0) {
        p->cancel_rst = true;
        ts_emit(srv, json_pack("{s:O,s:b,s:s}", "id", id, "ok", 1, "mode", "rst"));
        return 0;
    }
    if (mode && strcmp(mode, "get") != 0) {
        ts_emit_error(srv, id, "mode is get or rst");
        return 0;
    }
    p->cancel_id = json_incref(id);
    if (cancel_by_get(srv, p, timeout_s) < 0) {
        json_decref(p->cancel_id);
        p->cancel_id = NULL;
        ts_emit_error(srv, id, "cannot send");
    }
    return 0;
}

void ts_dm_sweep(struct ts_server *srv) {
    int64_t now = ts_now_ms();
    struct ts_pending *p = srv->pending_head;
    while (p) {
        struct ts_pending *next = p->next;
        if (p->deadline_ms && now >= p->deadline_ms)
            fail_pending(srv, p, "timeout");
        p = next;
    }
}

json_t *ts_dm_list_observations(struct ts_server *srv) {
    json_t *arr = json_array();
    for (struct ts_pending *p = srv->pending_head; p; p = p->next) {
        if (!p->established)
            continue;
        json_t *o = json_object();
        set_token(o, p);
        json_object_set_new(o, "ep", p->ep ? json_string(p->ep) : json_null());
        json_object_set_new(o, "path", json_string(p->path));
        json_array_append_new(arr, o);
    }
    return arr;
}

void ts_dm_drop_session(struct ts_server *srv, coap_session_t *session, const char *why) {
    struct ts_pending *p = srv->pending_head;
    while (p) {
        struct ts_pending *next = p->next;
        if (p->session == session)
            fail_pending(srv, p, why);
        p = next;
    }
}

void ts_dm_init(struct ts_server *srv) {
    coap_register_response_handler(srv->ctx, on_response);
    coap_register_nack_handler(srv->ctx, on_nack);
}

void ts_dm_free_all(struct ts_server *srv) {
    while (srv->pending_head) {
        struct ts_pending *p = srv->pending_head;
        json_decref(p->cmd_id);
        p->cmd_id = NULL;
        json_decref(p->cancel_id);
        p->cancel_id = NULL;
        pending_remove(srv, p);
    }
    ts_map_free(&srv->pending);
}
