/* SPDX-License-Identifier: Apache-2.0 */
/* The bootstrap server's operations on a bootstrapping endpoint (TS Core 1.1.1 §5.2.7, Transport
 * §8.2 "Bootstrap Interface"): Bootstrap-Write of /0 and /1 (every content format the engine
 * decodes), Bootstrap-Delete, Bootstrap-Discover with its "lwm2m" version and per-instance ssid
 * and uri, Bootstrap-Read of the Server object (1.1; the Security object is never readable), and
 * Bootstrap-Finish with its consistency check (2.04, or 4.06 with the reason as text: also for
 * certificates and keys OpenSSL does not take). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bs_internal.h"

#define BS_BODY_MAX 65536 /* largest Discover or Read answer (sent block-wise) */

/* One request of the bootstrap server; everything borrowed for the handler call. */
struct bs_req {
    struct lwm2m_endpoint *ep;
    struct coap_endpoint *cep;
    const struct coap_incoming *in;
    struct lwm2m_bs_data *d;
    struct lwm2m_path path;
    bool has_cf, has_accept;
    uint32_t cf, accept;
};

static int reply(struct bs_req *q, uint8_t code, int ct, const void *payload, size_t len) {
    struct coap_msg m;
    coap_msg_init(&m, COAP_TYPE_ACK, code, 0);
    if (ct >= 0) {
        coap_msg_add_opt_uint(&m, COAP_OPT_CONTENT_FORMAT, (uint32_t)ct);
        coap_msg_set_payload(&m, payload, len);
    }
    return coap_reply(q->cep, q->in, &m);
}

static bool is_sec_or_srv(const struct lwm2m_path *p) {
    return p->len >= 1 && p->ids[0] <= 1;
}

/* ---- Bootstrap-Write ---------------------------------------------------------------------- */

struct write_ctx {
    const struct lwm2m_model *model;
    struct lwm2m_bs_data tmp;
};

static enum lwm2m_type type_of(void *ctx, const struct lwm2m_path *p) {
    enum lwm2m_type t = LWM2M_TYPE_NONE;
    return lwm2m_model_resource_type(ctx, p, &t) == 0 ? t : LWM2M_TYPE_NONE;
}

static int write_rec(void *ctx, const struct lwm2m_record *r) {
    struct write_ctx *w = ctx;
    if (r->path.len < 3)
        return LWM2M_ERR_FORMAT;
    /* Resources this engine's model does not define (a newer object version) are dropped. */
    if (lwm2m_model_check_path(w->model, &r->path) != 0)
        return 0;
    if (r->value.type == LWM2M_TYPE_NONE)
        return LWM2M_ERR_FORMAT;
    return lwm2m_bs_data_put(&w->tmp, r);
}

/* Values are written whether or not the instance exists (it is created); a Write on a resource
 * replaces its instances, one on an instance or object adds to what is there (§5.2.7.4). */
static int bs_write(struct bs_req *q) {
    if (!is_sec_or_srv(&q->path))
        return reply(q, q->path.len == 0 ? COAP_400_BAD_REQUEST : COAP_405_METHOD_NOT_ALLOWED, -1,
                     NULL, 0);
    if (lwm2m_model_check_path(q->ep->eng->model, &q->path) != 0)
        return reply(q, COAP_404_NOT_FOUND, -1, NULL, 0);
    int ct = q->has_cf ? lwm2m_ct_normalize(q->cf) : LWM2M_ERR_UNSUPPORTED;
    if (ct < 0)
        return reply(q, COAP_415_UNSUPPORTED_CONTENT_FORMAT, -1, NULL, 0);
    size_t cap = q->in->body_len + 64;
    uint8_t *scratch = malloc(cap);
    struct write_ctx w = {.model = q->ep->eng->model};
    struct lwm2m_decode_cfg dc = {.ct = (unsigned)ct,
                                  .req = q->path,
                                  .type_of = type_of,
                                  .type_ctx = (void *)q->ep->eng->model,
                                  .scratch = scratch,
                                  .scratch_cap = cap};
    int rc = scratch != NULL ? lwm2m_decode(&dc, q->in->body, q->in->body_len, write_rec, &w)
                             : LWM2M_ERR_NOMEM;
    free(scratch);
    if (rc == 0 && w.tmp.n == 0)
        rc = LWM2M_ERR_FORMAT;
    if (rc == 0 && q->path.len >= 3)
        lwm2m_bs_data_erase(q->d, &q->path, false);
    for (size_t i = 0; rc == 0 && i < w.tmp.n; i++) {
        struct lwm2m_record r = {.path = w.tmp.v[i].path, .value = w.tmp.v[i].v};
        rc = lwm2m_bs_data_put(q->d, &r);
    }
    lwm2m_bs_data_free(&w.tmp);
    uint8_t code = rc == 0                       ? COAP_204_CHANGED
                   : rc == LWM2M_ERR_UNSUPPORTED ? COAP_415_UNSUPPORTED_CONTENT_FORMAT
                   : rc == LWM2M_ERR_NOSPACE     ? COAP_413_REQUEST_ENTITY_TOO_LARGE
                   : rc == LWM2M_ERR_NOMEM       ? COAP_500_INTERNAL_SERVER_ERROR
                                                 : COAP_400_BAD_REQUEST;
    return reply(q, code, -1, NULL, 0);
}

/* ---- Bootstrap-Delete --------------------------------------------------------------------- */

/* "/" and "/0" keep the bootstrap server's own account; the Device object cannot be deleted
 * (4.00); the owner's objects are not the bootstrap server's to delete here (4.05). */
static int bs_delete(struct bs_req *q) {
    const struct lwm2m_path *p = &q->path;
    if (p->len == 0) {
        struct lwm2m_path sec = lwm2m_path_make(1, 0, 0, 0, 0),
                          srv = lwm2m_path_make(1, 1, 0, 0, 0);
        lwm2m_bs_data_erase(q->d, &sec, true);
        lwm2m_bs_data_erase(q->d, &srv, false);
        return reply(q, COAP_202_DELETED, -1, NULL, 0);
    }
    if (p->ids[0] == 3 || p->len > 2)
        return reply(q, COAP_400_BAD_REQUEST, -1, NULL, 0);
    if (!is_sec_or_srv(p))
        return reply(q, COAP_405_METHOD_NOT_ALLOWED, -1, NULL, 0);
    lwm2m_bs_data_erase(q->d, p, p->len == 1);
    return reply(q, COAP_202_DELETED, -1, NULL, 0);
}

/* ---- Bootstrap-Discover ------------------------------------------------------------------- */

struct disc_ctx {
    struct lwm2m_link_writer *w;
    struct bs_req *q;
    uint16_t oid;
    size_t count;
};

/* "</0/1>;ssid=101;uri="coap://..."" (1.1: uri on Security instances, ssid on both). */
static int disc_instance(void *ctx, uint16_t iid) {
    struct disc_ctx *c = ctx;
    struct lwm2m_path p = lwm2m_path_make(2, c->oid, iid, 0, 0);
    int rc = lwm2m_link_add(c->w, NULL, &p);
    c->count++;
    if (rc != 0 || c->oid > 1)
        return rc;
    const struct lwm2m_bs_data *d = c->q->d;
    const struct lwm2m_value *ssid =
        lwm2m_bs_data_get(d, lwm2m_path_make(3, c->oid, iid, c->oid == 0 ? 10 : 0, 0));
    if (ssid != NULL && ssid->type == LWM2M_TYPE_INTEGER &&
        !(c->oid == 0 && lwm2m_bs_data_is_bs(d, iid)))
        rc = lwm2m_link_attr_int(c->w, "ssid", ssid->v.i);
    const struct lwm2m_value *uri = lwm2m_bs_data_get(d, lwm2m_path_make(3, 0, iid, 0, 0));
    if (rc == 0 && c->oid == 0 && uri != NULL && uri->type == LWM2M_TYPE_STRING &&
        lwm2m_bs_version(c->q->ep) >= 1) {
        char s[256];
        snprintf(s, sizeof(s), "%.*s", (int)uri->v.bytes.len, (const char *)uri->v.bytes.ptr);
        rc = lwm2m_link_attr_quoted(c->w, "uri", s);
    }
    return rc;
}

static int disc_object(void *ctx, uint16_t oid) {
    struct disc_ctx *c = ctx;
    struct bs_req *q = c->q;
    if (q->path.len == 1 && q->path.ids[0] != oid)
        return 0;
    if (oid > 1 && q->ep->gwdevs != NULL && oid == LWM2M_OID_GATEWAY)
        return 0; /* the engine's own /25 is not the bootstrap server's business */
    c->oid = oid;
    c->count = 0;
    int rc = oid <= 1 ? lwm2m_bs_data_instances(q->d, oid, disc_instance, c)
                      : q->ep->prov->list_instances(q->ep->pctx, oid, disc_instance, c);
    if (rc == 0 && c->count == 0) {
        struct lwm2m_path p = lwm2m_path_make(1, oid, 0, 0, 0);
        rc = lwm2m_link_add(c->w, NULL, &p);
    }
    return rc;
}

static int disc_provider_object(void *ctx, uint16_t oid) {
    return oid <= 1 ? 0 : disc_object(ctx, oid);
}

static int disc_write(struct bs_req *q, char *buf, size_t cap, size_t *len) {
    struct lwm2m_link_writer w;
    struct disc_ctx c = {.w = &w, .q = q};
    char ver[8];
    lwm2m_link_init(&w, buf, cap);
    if (q->path.len == 0) {
        snprintf(ver, sizeof(ver), "1.%u", (unsigned)lwm2m_bs_version(q->ep));
        lwm2m_link_add_uri(&w, "/");
        lwm2m_link_attr_quoted(&w, "lwm2m", ver);
    }
    int rc = disc_object(&c, 0);
    if (rc == 0)
        rc = disc_object(&c, 1);
    if (rc == 0 && q->ep->prov->list_objects != NULL)
        rc = q->ep->prov->list_objects(q->ep->pctx, disc_provider_object, &c);
    int frc = lwm2m_link_finish(&w, len);
    return rc != 0 ? rc : frc;
}

static int bs_discover(struct bs_req *q) {
    if (q->path.len > 1)
        return reply(q, COAP_400_BAD_REQUEST, -1, NULL, 0);
    for (size_t cap = 1024; cap <= BS_BODY_MAX; cap *= 2) {
        char *buf = malloc(cap);
        size_t len = 0;
        if (buf == NULL)
            break;
        int rc = disc_write(q, buf, cap, &len);
        if (rc == 0) {
            rc = reply(q, COAP_205_CONTENT, LWM2M_CT_LINK, buf, len);
            free(buf);
            return rc;
        }
        free(buf);
        if (rc != LWM2M_ERR_NOSPACE)
            return reply(
                q, rc == LWM2M_ERR_NOTFOUND ? COAP_404_NOT_FOUND : COAP_500_INTERNAL_SERVER_ERROR,
                -1, NULL, 0);
    }
    return reply(q, COAP_500_INTERNAL_SERVER_ERROR, -1, NULL, 0);
}

/* ---- Bootstrap-Read (1.1: the Server object only) ----------------------------------------- */

static int read_encode(struct bs_req *q, unsigned ct, uint8_t *buf, size_t cap, size_t *len) {
    struct lwm2m_encoder e;
    int rc = lwm2m_encoder_init(&e, ct, &q->path, buf, cap);
    for (size_t i = 0; rc == 0 && i < q->d->n; i++)
        if (lwm2m_path_has_prefix(&q->d->v[i].path, &q->path))
            rc = lwm2m_encoder_add_value(&e, &q->d->v[i].path, &q->d->v[i].v);
    return rc == 0 ? lwm2m_encoder_finish(&e, len) : rc;
}

static bool data_has(const struct lwm2m_bs_data *d, const struct lwm2m_path *p) {
    for (size_t i = 0; i < d->n; i++)
        if (lwm2m_path_has_prefix(&d->v[i].path, p))
            return true;
    return false;
}

static int bs_read(struct bs_req *q) {
    const struct lwm2m_path *p = &q->path;
    if (p->len >= 1 && p->ids[0] == 0)
        return reply(q, COAP_401_UNAUTHORIZED, -1, NULL, 0); /* never readable */
    if (p->len == 0 || p->ids[0] != 1)
        return reply(q, COAP_405_METHOD_NOT_ALLOWED, -1, NULL, 0);
    const struct lwm2m_resource_def *rd =
        p->len >= 3 ? lwm2m_model_path_resource(q->ep->eng->model, p) : NULL;
    if (lwm2m_model_check_path(q->ep->eng->model, p) != 0 || (p->len >= 2 && !data_has(q->d, p)))
        return reply(q, COAP_404_NOT_FOUND, -1, NULL, 0);
    bool multiple = rd != NULL && rd->multiple && p->len == 3;
    enum lwm2m_type type = rd != NULL ? (enum lwm2m_type)rd->type : LWM2M_TYPE_NONE;
    int ct = q->has_accept ? lwm2m_ct_normalize(q->accept)
                           : (int)lwm2m_fmt_default(lwm2m_bs_version(q->ep), p, multiple, type);
    if (ct < 0 || !lwm2m_fmt_supports((unsigned)ct, p, multiple, type))
        return reply(q, COAP_406_NOT_ACCEPTABLE, -1, NULL, 0);
    for (size_t cap = 1024; cap <= BS_BODY_MAX; cap *= 2) {
        uint8_t *buf = malloc(cap);
        size_t len = 0;
        if (buf == NULL)
            break;
        int rc = read_encode(q, (unsigned)ct, buf, cap, &len);
        if (rc == 0)
            rc = reply(q, COAP_205_CONTENT, ct, buf, len);
        free(buf);
        if (rc != LWM2M_ERR_NOSPACE)
            return rc;
    }
    return reply(q, COAP_500_INTERNAL_SERVER_ERROR, -1, NULL, 0);
}

/* ---- Bootstrap-Finish --------------------------------------------------------------------- */

/* The socket binds one address family (engine.c ep_open_socket): a server of the other one
 * could never be reached. */
static int family_check(struct bs_req *q, const struct lwm2m_bs_server *s, size_t n, char *diag,
                        size_t cap) {
    struct coap_addr local, a;
    bool secure;
    if (coap_transport_local_addr(q->ep->tp, &local) != 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (lwm2m_server_uri_parse(s[i].uri, &a, &secure) == 0 &&
            a.u.sa.sa_family != local.u.sa.sa_family) {
            snprintf(diag, cap, "%s: address family differs from the bootstrap server's", s[i].uri);
            return LWM2M_ERR_INVALID;
        }
    }
    return 0;
}

static int bs_finish(struct bs_req *q) {
    char diag[256] = "";
    struct lwm2m_bs_server *sv = malloc(LWM2M_BS_SERVERS_MAX * sizeof(*sv));
    int n = sv != NULL ? lwm2m_bs_servers(q->d, lwm2m_bs_version(q->ep), sv, LWM2M_BS_SERVERS_MAX,
                                          diag, sizeof(diag))
                       : LWM2M_ERR_NOMEM;
    if (n > 0 && family_check(q, sv, (size_t)n, diag, sizeof(diag)) != 0)
        n = LWM2M_ERR_INVALID;
    if (n > 0) { /* certificates and keys that OpenSSL refuses: 4.06 now, not failed handshakes */
        int rc = lwm2m_bs_servers_check(sv, (size_t)n, diag, sizeof(diag));
        n = rc != 0 ? rc : n;
    }
    if (n == LWM2M_ERR_NOMEM) {
        free(sv);
        return reply(q, COAP_500_INTERNAL_SERVER_ERROR, -1, NULL, 0);
    }
    if (n < 0) {
        lwm2m_bs_refused(q->ep, diag);
        free(sv);
        return reply(q, COAP_406_NOT_ACCEPTABLE, LWM2M_CT_TEXT, diag, strlen(diag));
    }
    /* Answer first: the servers start registering right after, on the same socket. */
    int rc = reply(q, COAP_204_CHANGED, -1, NULL, 0);
    lwm2m_bs_finished(q->ep, sv, (size_t)n);
    free(sv);
    return rc;
}

/* ---- dispatch ----------------------------------------------------------------------------- */

int lwm2m_bs_ops_handle(struct lwm2m_endpoint *ep, struct coap_endpoint *cep,
                        const struct coap_incoming *in) {
    struct bs_req q = {.ep = ep, .cep = cep, .in = in, .d = lwm2m_bs_data_of(ep)};
    const struct coap_msg *m = in->req;
    char path[96];
    int n = coap_msg_path(m, COAP_OPT_URI_PATH, path, sizeof(path));
    if (n == 2 && strcmp(path, "bs") == 0)
        return m->code == COAP_POST ? bs_finish(&q)
                                    : reply(&q, COAP_405_METHOD_NOT_ALLOWED, -1, NULL, 0);
    if (n < 0 || lwm2m_path_parse(path, (size_t)n, &q.path) != 0)
        return reply(&q, COAP_404_NOT_FOUND, -1, NULL, 0);
    int rc = coap_msg_opt_uint(m, COAP_OPT_CONTENT_FORMAT, &q.cf);
    q.has_cf = rc == 0;
    int arc = coap_msg_opt_uint(m, COAP_OPT_ACCEPT, &q.accept);
    q.has_accept = arc == 0;
    if (rc < -1 || arc < -1)
        return reply(&q, COAP_400_BAD_REQUEST, -1, NULL, 0);
    switch (m->code) {
    case COAP_GET:
        return q.has_accept && q.accept == LWM2M_CT_LINK ? bs_discover(&q) : bs_read(&q);
    case COAP_PUT:
    case COAP_POST:
        return bs_write(&q);
    case COAP_DELETE:
        return bs_delete(&q);
    default:
        return reply(&q, COAP_405_METHOD_NOT_ALLOWED, -1, NULL, 0);
    }
}
