/* SPDX-License-Identifier: Apache-2.0 */
/* The Device Management & Service Enablement interface (TS Core 1.1.1 §6.3, Transport 1.1.1/1.2
 * "Device Management & Service Enablement Interface"): the CoAP request handler of every
 * endpoint, which maps method and path to an operation; the one error-to-CoAP map; replies; and
 * the completion handles (struct lwm2m_done) of writes and executes the provider finishes later. */
#include <stdlib.h>
#include <string.h>

#include "dm_internal.h"
#include "observe_internal.h" /* observe.c hook in dispatch_get() and FETCH */

/* ---- The one error map ---------------------------------------------------------------------- */

static uint8_t success_code(enum lwm2m_dm_op op) {
    switch (op) {
    case LWM2M_DM_OP_CREATE:
        return COAP_201_CREATED;
    case LWM2M_DM_OP_DELETE:
        return COAP_202_DELETED;
    case LWM2M_DM_OP_WRITE:
    case LWM2M_DM_OP_WRITE_ATTR:
    case LWM2M_DM_OP_EXECUTE:
    case LWM2M_DM_OP_WRITE_COMPOSITE:
        return COAP_204_CHANGED;
    default:
        return COAP_205_CONTENT;
    }
}

static bool takes_payload(enum lwm2m_dm_op op) {
    return op == LWM2M_DM_OP_WRITE || op == LWM2M_DM_OP_CREATE ||
           op == LWM2M_DM_OP_WRITE_COMPOSITE || op == LWM2M_DM_OP_READ_COMPOSITE ||
           op == LWM2M_DM_OP_EXECUTE;
}

uint8_t lwm2m_err_to_coap(int err, enum lwm2m_dm_op op) {
    switch (err) {
    case LWM2M_OK:
        return success_code(op);
    case LWM2M_DM_ERR_UNAUTHORIZED:
        return COAP_401_UNAUTHORIZED;
    case LWM2M_DM_ERR_NOT_ALLOWED:
    case LWM2M_ERR_UNSUPPORTED: /* the provider does not implement the operation */
    case LWM2M_ERR_DECLINED:
        return COAP_405_METHOD_NOT_ALLOWED;
    case LWM2M_DM_ERR_NOT_ACCEPTABLE:
        return COAP_406_NOT_ACCEPTABLE;
    case LWM2M_DM_ERR_BAD_CT:
        return COAP_415_UNSUPPORTED_CONTENT_FORMAT;
    case LWM2M_ERR_NOTFOUND:
        return COAP_404_NOT_FOUND;
    case LWM2M_ERR_FORMAT:
    case LWM2M_ERR_INVALID:
        return COAP_400_BAD_REQUEST;
    /* Transport "Response Codes" table, Create: 4.00 "Target (i.e., Object) already exists". */
    case LWM2M_ERR_STATE:
        return op == LWM2M_DM_OP_CREATE ? COAP_400_BAD_REQUEST : COAP_405_METHOD_NOT_ALLOWED;
    /* A payload too big to decode is the request's fault; a response too big is ours. */
    case LWM2M_ERR_NOSPACE:
        return takes_payload(op) ? COAP_413_REQUEST_ENTITY_TOO_LARGE
                                 : COAP_500_INTERNAL_SERVER_ERROR;
    /* The value is stale or the device busy: worth asking again later. */
    case LWM2M_ERR_AGAIN:
    case LWM2M_ERR_CANCELLED:
        return COAP_503_SERVICE_UNAVAILABLE;
    /* The bus behind the gateway failed: the gateway codes say so better than 5.00. */
    case LWM2M_ERR_TIMEOUT:
        return COAP_504_GATEWAY_TIMEOUT;
    case LWM2M_ERR_IO:
    case LWM2M_ERR_RESET:
        return COAP_502_BAD_GATEWAY;
    case LWM2M_DM_ERR_INTERNAL:
    default:
        return COAP_500_INTERNAL_SERVER_ERROR;
    }
}

/* ---- Replies -------------------------------------------------------------------------------- */

int lwm2m_dm_reply(struct lwm2m_dm_req *r, uint8_t code, int ct, const void *payload, size_t len) {
    struct coap_msg m;
    coap_msg_init(&m, COAP_TYPE_ACK, code, 0);
    if (ct >= 0) {
        coap_msg_add_opt_uint(&m, COAP_OPT_CONTENT_FORMAT, (uint32_t)ct);
        coap_msg_set_payload(&m, payload, len);
    }
    return coap_reply(r->cep, r->in, &m);
}

int lwm2m_dm_reply_err(struct lwm2m_dm_req *r, int err) {
    return lwm2m_dm_reply(r, lwm2m_err_to_coap(err, (enum lwm2m_dm_op)r->op), -1, NULL, 0);
}

/* ---- The DM store --------------------------------------------------------------------------- */

struct lwm2m_attr_entry *lwm2m_dm_store(struct lwm2m_endpoint *ep) {
    if (ep->attrs == NULL)
        ep->attrs = calloc(1, sizeof(*ep->attrs));
    return ep->attrs;
}

/* ---- Completions ---------------------------------------------------------------------------- */

/* A request whose provider calls may finish later. ep is NULL once the endpoint was freed: the
 * provider may still complete, and then only the memory is released. */
struct lwm2m_done {
    struct lwm2m_done *next, *prev; /* the store's pending list */
    struct lwm2m_endpoint *ep;
    uint32_t handle; /* coap_defer() handle once deferred */
    int owed;        /* lwm2m_done() calls still expected */
    int result;      /* first error, or 0 */
    uint8_t op;
    bool in_call;  /* the handler has not finished issuing provider calls */
    bool deferred; /* the CoAP answer waits for us */
};

static void done_unlink(struct lwm2m_done *d) {
    if (d->ep == NULL)
        return;
    struct lwm2m_attr_entry *st = d->ep->attrs;
    if (d->prev != NULL)
        d->prev->next = d->next;
    else if (st != NULL && st->pending == d)
        st->pending = d->next;
    if (d->next != NULL)
        d->next->prev = d->prev;
    d->next = d->prev = NULL;
}

struct lwm2m_done *lwm2m_dm_done_new(struct lwm2m_dm_req *r) {
    struct lwm2m_attr_entry *st = lwm2m_dm_store(r->ep);
    struct lwm2m_done *d = st != NULL ? calloc(1, sizeof(*d)) : NULL;
    if (d == NULL)
        return NULL;
    d->ep = r->ep;
    d->op = r->op;
    d->in_call = true;
    d->next = st->pending;
    if (st->pending != NULL)
        st->pending->prev = d;
    st->pending = d;
    return d;
}

void lwm2m_dm_done_owed(struct lwm2m_done *d) {
    d->owed++;
}

void lwm2m_dm_done_fail(struct lwm2m_done *d, int err) {
    if (d->result == 0 && err != 0)
        d->result = err;
}

static void done_release(struct lwm2m_done *d) {
    done_unlink(d);
    free(d);
}

int lwm2m_dm_done_finish(struct lwm2m_done *d, struct lwm2m_dm_req *r) {
    d->in_call = false;
    if (d->owed <= 0) {
        int rc = lwm2m_dm_reply_err(r, d->result);
        done_release(d);
        return rc;
    }
    /* The provider answers later (a bus write): the CoAP layer sends an empty ACK if that takes
     * longer than its defer_ack_ms, and the separate response when lwm2m_done() comes. */
    if (coap_defer(r->cep, r->in, &d->handle) != 0) {
        lwm2m_dm_reply_err(r, LWM2M_ERR_NOMEM);
        return 0; /* d stays until the provider's lwm2m_done(); nothing is sent then */
    }
    d->deferred = true;
    return LWM2M_ERR_AGAIN;
}

void lwm2m_done(struct lwm2m_done *d, int result) {
    if (d == NULL)
        return;
    lwm2m_dm_done_fail(d, result);
    if (--d->owed > 0 || d->in_call)
        return; /* more to come, or the handler is still issuing calls and answers itself */
    if (d->ep != NULL && d->deferred) {
        struct coap_msg m;
        coap_msg_init(&m, COAP_TYPE_ACK, lwm2m_err_to_coap(d->result, (enum lwm2m_dm_op)d->op), 0);
        coap_respond(d->ep->coap, d->handle, &m);
    }
    done_release(d);
}

void lwm2m_dm_free(struct lwm2m_endpoint *ep) {
    struct lwm2m_attr_entry *st = ep->attrs;
    if (st == NULL)
        return;
    /* Completions the provider still holds outlive the endpoint, detached. */
    for (struct lwm2m_done *d = st->pending, *next; d != NULL; d = next) {
        next = d->next;
        d->ep = NULL;
        d->next = d->prev = NULL;
    }
    lwm2m_attr_free_all(st);
    free(st);
    ep->attrs = NULL;
    ep->nattrs = 0;
}

/* ---- Dispatch ------------------------------------------------------------------------------- */

struct lwm2m_server *lwm2m_server_by_addr(struct lwm2m_endpoint *ep, const struct coap_addr *peer) {
    for (uint16_t i = 0; i < ep->nservers; i++)
        if (coap_addr_cmp(&ep->servers[i].addr, peer) == 0)
            return &ep->servers[i];
    return NULL;
}

/* Gateway mode: a first segment that is not a number names an IoT device's prefix (TS Gateway:
 * "/dev1/3303/0/5700"); the request then runs on that device's view with the rest of the path.
 * *off is where the rest starts. An unknown prefix is 4.04. */
static int route_prefix(struct lwm2m_dm_req *r, const char *path, size_t n, size_t *off) {
    size_t i = n > 0 && path[0] == '/' ? 1 : 0, end = i;
    *off = 0;
    if (i >= n || (path[i] >= '0' && path[i] <= '9'))
        return 0;
    while (end < n && path[end] != '/')
        end++;
    struct lwm2m_gwdev *d = lwm2m_gwdev_find(r->ep, path + i, end - i);
    if (d == NULL)
        return LWM2M_ERR_NOTFOUND;
    r->ep = &d->view;
    *off = end;
    return 0;
}

/* Fills r from the request's options. A malformed option value is a bad request. */
static int parse_request(struct lwm2m_dm_req *r, const struct coap_msg *m) {
    char path[96];
    size_t off = 0;
    int n = coap_msg_path(m, COAP_OPT_URI_PATH, path, sizeof(path));
    if (n >= 0 && r->ep->gwdevs != NULL && route_prefix(r, path, (size_t)n, &off) != 0)
        return LWM2M_ERR_NOTFOUND;
    if (n < 0 || lwm2m_path_parse(path + off, (size_t)n - off, &r->path) != 0)
        return LWM2M_ERR_NOTFOUND; /* not an LwM2M path: nothing lives there */
    int rc = coap_msg_opt_uint(m, COAP_OPT_CONTENT_FORMAT, &r->cf);
    r->has_cf = rc == 0;
    if (rc < -1)
        return LWM2M_ERR_FORMAT;
    rc = coap_msg_opt_uint(m, COAP_OPT_ACCEPT, &r->accept);
    r->has_accept = rc == 0;
    return rc < -1 ? LWM2M_ERR_FORMAT : 0;
}

/* The request's Observe option: 0 register, 1 deregister; -1 when absent or malformed. */
static long observe_opt(const struct coap_msg *m) {
    uint32_t v = 0;
    return coap_msg_opt_uint(m, COAP_OPT_OBSERVE, &v) == 0 ? (long)v : -1;
}

static int dispatch_get(struct lwm2m_dm_req *r) {
    if (r->has_accept && r->accept == LWM2M_CT_LINK) {
        r->op = LWM2M_DM_OP_DISCOVER;
        return lwm2m_dm_discover(r);
    }
    /* ---- observe.c hook: Observe 0/1 on a Read go to observe.c ---- */
    long obs = observe_opt(r->in->req);
    if (obs >= 0)
        return lwm2m_obs_request(r, (uint32_t)obs);
    r->op = LWM2M_DM_OP_READ;
    return lwm2m_dm_read(r);
}

/* PUT: Write (replace) when a Content-Format says what the payload is; Write-Attributes when
 * there is neither Content-Format nor payload (Transport: "PUT ... ?pmin=..." carries none). */
static int dispatch_put(struct lwm2m_dm_req *r) {
    if (!r->has_cf && r->in->body_len == 0) {
        r->op = LWM2M_DM_OP_WRITE_ATTR;
        return lwm2m_dm_write_attributes(r);
    }
    r->op = LWM2M_DM_OP_WRITE;
    return lwm2m_dm_write(r, true);
}

/* POST: Create on an object, partial-update Write on an instance, Execute on an executable
 * resource, or partial update (add/replace instances) on a multiple resource. */
static int dispatch_post(struct lwm2m_dm_req *r) {
    const struct lwm2m_resource_def *rd;
    switch (r->path.len) {
    case 1:
        r->op = LWM2M_DM_OP_CREATE;
        return lwm2m_dm_create(r);
    case 2:
        r->op = LWM2M_DM_OP_WRITE;
        return lwm2m_dm_write(r, false);
    case 3:
        rd = lwm2m_model_path_resource(r->model, &r->path);
        if (rd != NULL && rd->multiple && !lwm2m_resource_allows(rd, LWM2M_OP_E) && r->has_cf) {
            r->op = LWM2M_DM_OP_WRITE;
            return lwm2m_dm_write(r, false);
        }
        r->op = LWM2M_DM_OP_EXECUTE;
        return lwm2m_dm_execute(r);
    default:
        /* Execute "can only be performed on individual Resources" (TS Core §6.3.5). */
        r->op = LWM2M_DM_OP_EXECUTE;
        return lwm2m_dm_reply_err(r, LWM2M_DM_ERR_NOT_ALLOWED);
    }
}

static int dispatch(struct lwm2m_dm_req *r, uint8_t code) {
    switch (code) {
    case COAP_GET:
        return dispatch_get(r);
    case COAP_PUT:
        return dispatch_put(r);
    case COAP_POST:
        return dispatch_post(r);
    case COAP_DELETE:
        r->op = LWM2M_DM_OP_DELETE;
        return lwm2m_dm_delete(r);
    case COAP_FETCH:
        /* observe.c hook: Observe-Composite and its cancel */
        if (observe_opt(r->in->req) >= 0)
            return lwm2m_obs_request(r, (uint32_t)observe_opt(r->in->req)); /* FETCH hook */
        r->op = LWM2M_DM_OP_READ_COMPOSITE;
        return lwm2m_dm_read_composite(r);
    case COAP_IPATCH:
        r->op = LWM2M_DM_OP_WRITE_COMPOSITE;
        return lwm2m_dm_write_composite(r);
    default:
        return lwm2m_dm_reply(r, COAP_405_METHOD_NOT_ALLOWED, -1, NULL, 0);
    }
}

/* The engine's /25 is read-only for a server: Read, Discover, Observe, Write-Attributes and the
 * composite reads only (its instances come and go with the owner's devices). */
static bool gateway_read_only(const struct lwm2m_dm_req *r, const struct coap_incoming *in) {
    uint8_t code = in->req->code;
    if (r->ep->gwdevs == NULL || r->path.len == 0 || r->path.ids[0] != LWM2M_OID_GATEWAY)
        return false;
    if (code == COAP_GET || code == COAP_FETCH)
        return false;
    return !(code == COAP_PUT && !r->has_cf && in->body_len == 0);
}

int lwm2m_dm_handle(void *ctx, struct coap_endpoint *cep, const struct coap_incoming *in) {
    struct lwm2m_endpoint *ep = ctx;
    struct lwm2m_dm_req r = {.ep = ep, .model = ep->eng->model, .cep = cep, .in = in};
    /* bootstrap.c hook: while bootstrapping, the bootstrap server's requests are its own */
    if (ep->bs != NULL && lwm2m_bs_is_peer(ep, in->peer))
        return lwm2m_bs_handle(ep, cep, in);
    r.srv = lwm2m_server_by_addr(ep, in->peer);
    /* Only our own servers may manage us (the DM interface's "Access Right Permission
     * Denied"); a stray peer gets 4.01, not a hint of what exists. */
    if (r.srv == NULL)
        return lwm2m_dm_reply_err(&r, LWM2M_DM_ERR_UNAUTHORIZED);
    int rc = parse_request(&r, in->req);
    if (rc != 0)
        return lwm2m_dm_reply_err(&r, rc);
    if (r.path.len >= 1 && lwm2m_dm_oid_protected(r.path.ids[0]))
        return lwm2m_dm_reply_err(&r, LWM2M_DM_ERR_UNAUTHORIZED);
    if (gateway_read_only(&r, in))
        return lwm2m_dm_reply_err(&r, LWM2M_DM_ERR_NOT_ALLOWED);
    return dispatch(&r, in->req->code);
}
