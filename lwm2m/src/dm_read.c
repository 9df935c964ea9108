/* SPDX-License-Identifier: Apache-2.0 */
/* Read (GET) and Read-Composite (FETCH) (TS Core 1.1.1 §6.3.1, §6.3.8): format negotiation from
 * Accept or the server's LwM2M version, and one walk over objects, instances, resources and
 * resource instances in lwm2m_path_cmp order that feeds the content-format encoder, retried
 * with a bigger buffer while it runs out of space (the CoAP layer sends big bodies block-wise). */
#include <stdlib.h>
#include <string.h>

#include "dm_internal.h"

/* ---- The walk ------------------------------------------------------------------------------- */

struct walk {
    const struct lwm2m_dm_req *r;
    struct lwm2m_encoder *enc;
    uint16_t oid, iid, rid;
    /* The definition of (oid, rid) while walking one resource: every value read under it needs
     * it, and looking it up once per resource keeps the model search off the per-value path. */
    const struct lwm2m_resource_def *rd;
};

/* One value from the source, converted to the resource's declared type: a provider may keep a
 * scaled register as Float for an Integer resource, but the server must see the declared type
 * (TLV and CBOR carry no type, text would read back wrong). */
static int read_value(const struct lwm2m_dm_req *r, const struct lwm2m_path *p,
                      const struct lwm2m_resource_def *rd, struct lwm2m_value *out) {
    struct lwm2m_value v;
    int rc = lwm2m_src_read(r, p, &v);
    if (rc != 0)
        return rc;
    if (rd == NULL || rd->type == LWM2M_TYPE_NONE || v.type == rd->type) {
        *out = v;
        return 0;
    }
    return lwm2m_value_convert(&v, (enum lwm2m_type)rd->type, out) == 0 ? 0 : LWM2M_DM_ERR_INTERNAL;
}

static int add_value(struct walk *w, const struct lwm2m_path *p, bool optional) {
    struct lwm2m_value v;
    int rc = read_value(w->r, p, w->rd, &v);
    if (rc == LWM2M_ERR_NOTFOUND && optional)
        return 0; /* listed a moment ago, gone now: not part of the answer */
    if (rc != 0)
        return rc;
    rc = lwm2m_encoder_add_value(w->enc, p, &v);
    return rc == LWM2M_ERR_INVALID ? LWM2M_DM_ERR_INTERNAL : rc;
}

static int walk_res_instance(void *c, uint16_t riid) {
    struct walk *w = c;
    struct lwm2m_path p = lwm2m_path_make(4, w->oid, w->iid, w->rid, riid);
    return add_value(w, &p, true);
}

static int read_resource(struct walk *w, const struct lwm2m_resource_def *rd, uint16_t rid,
                         bool optional) {
    struct lwm2m_path p = lwm2m_path_make(3, w->oid, w->iid, rid, 0);
    w->rid = rid;
    w->rd = rd;
    if (rd->multiple)
        return lwm2m_src_res_instances(w->r, &p, walk_res_instance, w);
    return add_value(w, &p, optional);
}

/* Inside an object or instance read only readable resources take part (§6.3.1). */
static int walk_resource(void *c, uint16_t rid) {
    struct walk *w = c;
    const struct lwm2m_resource_def *rd = lwm2m_model_resource(w->r->model, w->oid, rid);
    if (rd == NULL || !lwm2m_resource_allows(rd, LWM2M_OP_R))
        return 0;
    return read_resource(w, rd, rid, true);
}

static int walk_instance(void *c, uint16_t iid) {
    struct walk *w = c;
    w->iid = iid;
    return lwm2m_src_resources(w->r, w->oid, iid, walk_resource, w);
}

static int walk_object(void *c, uint16_t oid) {
    struct walk *w = c;
    w->oid = oid;
    return lwm2m_src_instances(w->r, oid, walk_instance, w);
}

/* Feeds everything under p (already checked by read_check) to the encoder; rd is
 * lwm2m_model_path_resource(p), which the caller has at hand. */
static int walk_target(struct walk *w, const struct lwm2m_path *p,
                       const struct lwm2m_resource_def *rd) {
    w->oid = p->ids[0];
    w->iid = p->ids[1];
    switch (p->len) {
    case 0:
        return lwm2m_src_objects(w->r, walk_object, w);
    case 1:
        return walk_object(w, p->ids[0]);
    case 2:
        return walk_instance(w, p->ids[1]);
    case 3:
        return read_resource(w, rd, p->ids[2], false);
    default:
        w->rd = rd;
        return add_value(w, p, false);
    }
}

/* What a Read of p needs before walking: the target exists and, for a resource, is readable.
 * rd is lwm2m_model_path_resource(p). */
static int read_check(const struct lwm2m_dm_req *r, const struct lwm2m_path *p,
                      const struct lwm2m_resource_def *rd) {
    if (p->len >= 1 && lwm2m_dm_oid_protected(p->ids[0]))
        return LWM2M_DM_ERR_UNAUTHORIZED;
    if (lwm2m_src_check(r, p) != 0)
        return LWM2M_ERR_NOTFOUND;
    if (rd != NULL && !lwm2m_resource_allows(rd, LWM2M_OP_R))
        return LWM2M_DM_ERR_NOT_ALLOWED;
    return 0;
}

/* ---- Encoding with a growing buffer --------------------------------------------------------- */

struct body {
    uint8_t stack[LWM2M_DM_BODY_STACK];
    uint8_t *buf; /* stack or heap */
    size_t len;
};

static void body_free(struct body *b) {
    if (b->buf != b->stack)
        free(b->buf);
    b->buf = NULL;
}

/* Runs the walks over paths[0..n) (one request path, or a Read-Composite list) into b. In gateway
 * mode eps[i] (NULL: all r->ep) is the endpoint or device view paths[i] belongs to. rd1 is
 * lwm2m_model_path_resource(paths[0]) when n == 1 (a plain Read has looked it up already);
 * a composite passes NULL with n > 1 and each path's definition is looked up here. */
static int encode(const struct lwm2m_dm_req *r, unsigned ct, const struct lwm2m_path *req,
                  const struct lwm2m_path *paths, struct lwm2m_endpoint *const *eps, size_t n,
                  bool skip_missing, const struct lwm2m_resource_def *rd1, struct body *b) {
    size_t cap = sizeof(b->stack);
    b->buf = b->stack;
    for (;;) {
        struct lwm2m_encoder enc;
        struct lwm2m_dm_req sub = *r;
        struct walk w = {.r = &sub, .enc = &enc};
        int rc = lwm2m_encoder_init(&enc, ct, req, b->buf, cap);
        if (rc != 0)
            return LWM2M_DM_ERR_NOT_ACCEPTABLE; /* a format we list but cannot write yet */
        for (size_t i = 0; i < n && rc == 0; i++) {
            sub.ep = eps != NULL ? eps[i] : r->ep;
            enc.prefix = sub.ep->prefix;
            const struct lwm2m_resource_def *rd =
                n == 1 ? rd1 : lwm2m_model_path_resource(r->model, &paths[i]);
            rc = skip_missing ? read_check(&sub, &paths[i], rd) : 0;
            if (rc == LWM2M_ERR_NOTFOUND || rc == LWM2M_DM_ERR_NOT_ALLOWED)
                rc = 0; /* Read-Composite leaves out what it cannot read */
            else if (rc == 0)
                rc = walk_target(&w, &paths[i], rd);
            if (rc == LWM2M_ERR_NOTFOUND && skip_missing)
                rc = 0;
        }
        if (rc == 0 || enc.err == LWM2M_ERR_NOSPACE)
            rc = lwm2m_encoder_finish(&enc, &b->len);
        if (rc != LWM2M_ERR_NOSPACE) {
            if (rc == 0 && enc.count == 0)
                b->len = 0; /* "the response payload may be empty ... still 2.05" */
            return rc == LWM2M_ERR_INVALID ? LWM2M_DM_ERR_INTERNAL : rc;
        }
        body_free(b);
        cap *= 4;
        b->buf = cap <= LWM2M_DM_BODY_MAX ? malloc(cap) : NULL;
        if (b->buf == NULL)
            return cap <= LWM2M_DM_BODY_MAX ? LWM2M_ERR_NOMEM : LWM2M_ERR_NOSPACE;
    }
}

/* ---- Read ----------------------------------------------------------------------------------- */

/* The format of the answer: the Accept option when we can produce it for p, else the default
 * for the server's LwM2M version (format.h documents the choice). */
static int negotiate(const struct lwm2m_dm_req *r, const struct lwm2m_path *p,
                     const struct lwm2m_resource_def *rd, unsigned *ct) {
    bool multiple = rd != NULL && rd->multiple;
    enum lwm2m_type type = rd != NULL ? (enum lwm2m_type)rd->type : LWM2M_TYPE_NONE;
    if (!r->has_accept) {
        *ct = lwm2m_fmt_default(r->srv->version, p, multiple, type);
        return 0;
    }
    int n = lwm2m_ct_normalize(r->accept);
    if (n < 0 || n == LWM2M_CT_LINK || !lwm2m_fmt_supports((unsigned)n, p, multiple, type))
        return LWM2M_DM_ERR_NOT_ACCEPTABLE;
    /* LwM2M CBOR names by numeric ids only: it cannot carry a device prefix. */
    if (n == LWM2M_CT_LWM2M_CBOR && r->ep->prefix != NULL)
        return LWM2M_DM_ERR_NOT_ACCEPTABLE;
    *ct = (unsigned)n;
    return 0;
}

static int read_prepare(const struct lwm2m_dm_req *r, unsigned *ct, struct body *b) {
    if (r->path.len == 0)
        return LWM2M_DM_ERR_NOT_ALLOWED; /* Read needs at least an Object ID (§6.3.1) */
    const struct lwm2m_resource_def *rd = lwm2m_model_path_resource(r->model, &r->path);
    int rc = read_check(r, &r->path, rd);
    if (rc == 0)
        rc = negotiate(r, &r->path, rd, ct);
    if (rc == 0)
        rc = encode(r, *ct, &r->path, &r->path, NULL, 1, false, rd, b);
    return rc;
}

int lwm2m_dm_read(struct lwm2m_dm_req *r) {
    struct body b = {.buf = NULL};
    unsigned ct = 0;
    int rc = read_prepare(r, &ct, &b);
    if (rc == 0)
        rc = lwm2m_dm_reply(r, COAP_205_CONTENT, (int)ct, b.buf, b.len);
    else
        rc = lwm2m_dm_reply_err(r, rc);
    body_free(&b);
    return rc;
}

int lwm2m_dm_read_encode(struct lwm2m_endpoint *ep, struct lwm2m_server *s,
                         const struct lwm2m_path *p, int accept, uint8_t **body, size_t *len,
                         uint16_t *ct) {
    struct lwm2m_dm_req r = {.ep = ep,
                             .srv = s,
                             .model = ep->eng->model,
                             .path = *p,
                             .op = LWM2M_DM_OP_READ,
                             .has_accept = accept >= 0,
                             .accept = accept >= 0 ? (uint32_t)accept : 0};
    /* On the stack as in lwm2m_dm_read: this runs once per notification, and a heap-allocated
     * struct body cost a malloc/free pair each time. The one malloc left is *body, which the
     * caller owns and frees (the contract in engine_internal.h). */
    struct body b; /* no initializer: zeroing the 1 KiB stack area would cost more than a copy */
    b.buf = NULL;  /* read_prepare may fail before encode sets it */
    b.len = 0;
    unsigned fmt = 0;
    int rc = read_prepare(&r, &fmt, &b);
    *body = NULL;
    *len = rc == 0 ? b.len : 0;
    *ct = (uint16_t)fmt;
    if (rc == 0 && b.len > 0) {
        *body = b.buf != b.stack ? b.buf : malloc(b.len);
        if (*body == NULL)
            rc = LWM2M_ERR_NOMEM;
        else if (b.buf == b.stack)
            memcpy(*body, b.stack, b.len);
        b.buf = b.stack; /* ownership moved to *body */
    }
    body_free(&b);
    return rc;
}

/* ---- Read-Composite ------------------------------------------------------------------------- */

/* A Read-Composite path and, in gateway mode, the device it names (0: the endpoint itself). */
struct cpath {
    struct lwm2m_path path;
    uint16_t dev;
};

static int cmp_cpaths(const void *a, const void *b) {
    const struct cpath *x = a, *y = b;
    if (x->dev != y->dev)
        return x->dev < y->dev ? -1 : 1;
    return lwm2m_path_cmp(&x->path, &y->path);
}

/* Sorts the list and drops paths another one in the list already covers, so that every value
 * is encoded once and in the order LwM2M CBOR needs. */
static size_t normalize_paths(struct cpath *p, size_t n) {
    size_t k = 0;
    qsort(p, n, sizeof(*p), cmp_cpaths);
    for (size_t i = 0; i < n; i++)
        if (k == 0 || p[i].dev != p[k - 1].dev ||
            !lwm2m_path_has_prefix(&p[i].path, &p[k - 1].path))
            p[k++] = p[i];
    return k;
}

/* Request and answer formats (Transport "Read-Composite": SenML CBOR or SenML JSON; 1.2 adds
 * LwM2M CBOR for the answer). Without Accept the answer uses the request's format. */
static int composite_formats(const struct lwm2m_dm_req *r, unsigned *in, unsigned *out) {
    if (!r->has_cf)
        return LWM2M_ERR_FORMAT;
    int cf = lwm2m_ct_normalize(r->cf);
    if (cf != LWM2M_CT_SENML_JSON && cf != LWM2M_CT_SENML_CBOR)
        return LWM2M_DM_ERR_BAD_CT;
    int ac = r->has_accept ? lwm2m_ct_normalize(r->accept) : cf;
    if (ac != LWM2M_CT_SENML_JSON && ac != LWM2M_CT_SENML_CBOR && ac != LWM2M_CT_LWM2M_CBOR)
        return LWM2M_DM_ERR_NOT_ACCEPTABLE;
    *in = (unsigned)cf;
    *out = (unsigned)ac;
    return 0;
}

/* The payload's paths into the arrays (LWM2M_DM_PATHS_MAX each), sorted and deduplicated; in
 * gateway mode names may start with a device prefix (TS Gateway: "/dev1/3303/0/5700"), an
 * unknown one is 4.04. */
static int composite_paths(const struct lwm2m_dm_req *r, unsigned cf, struct lwm2m_path *paths,
                           struct lwm2m_endpoint **eps, size_t *n) {
    struct lwm2m_decode_cfg dc = {.ct = cf};
    struct lwm2m_endpoint *host = r->ep->gwdev != NULL ? r->ep->gwdev->host : r->ep;
    uint16_t devs[LWM2M_DM_PATHS_MAX];
    if (host->gwdevs != NULL) {
        dc.prefix_of = lwm2m_gwdev_prefix_of;
        dc.prefix_ctx = host;
    }
    int rc = lwm2m_decode_paths_gw(&dc, r->in->body, r->in->body_len, paths, devs,
                                   LWM2M_DM_PATHS_MAX, n);
    if (rc == LWM2M_ERR_UNSUPPORTED)
        return LWM2M_DM_ERR_BAD_CT;
    if (rc == LWM2M_ERR_NOTFOUND)
        return rc;
    if (rc != 0)
        return rc == LWM2M_ERR_NOSPACE ? rc : LWM2M_ERR_FORMAT;
    struct cpath *cp = malloc(*n * sizeof(*cp) + 1);
    if (cp == NULL)
        return LWM2M_ERR_NOMEM;
    for (size_t i = 0; i < *n; i++)
        cp[i] = (struct cpath){paths[i], devs[i]};
    *n = normalize_paths(cp, *n);
    for (size_t i = 0; i < *n && rc == 0; i++) {
        paths[i] = cp[i].path;
        eps[i] = cp[i].dev == 0 ? r->ep : lwm2m_gwdev_view(host, cp[i].dev);
        if (eps[i] == NULL)
            rc = LWM2M_ERR_NOTFOUND;
        else if (paths[i].len >= 1 && lwm2m_dm_oid_protected(paths[i].ids[0]))
            rc = LWM2M_DM_ERR_UNAUTHORIZED;
        else if (eps[i]->prefix != NULL && r->has_accept &&
                 lwm2m_ct_normalize(r->accept) == LWM2M_CT_LWM2M_CBOR)
            rc = LWM2M_DM_ERR_NOT_ACCEPTABLE; /* LwM2M CBOR cannot name a prefix */
    }
    free(cp);
    return rc;
}

int lwm2m_dm_read_composite(struct lwm2m_dm_req *r) {
    static const struct lwm2m_path root = {.len = 0};
    struct lwm2m_path *paths = NULL;
    struct lwm2m_endpoint **eps = NULL;
    struct body b = {.buf = NULL};
    unsigned cf = 0, ct = 0;
    size_t n = 0;
    int rc = r->path.len == 0 ? composite_formats(r, &cf, &ct) : LWM2M_DM_ERR_NOT_ALLOWED;
    if (rc == 0) {
        paths = malloc(LWM2M_DM_PATHS_MAX * sizeof(*paths));
        eps = malloc(LWM2M_DM_PATHS_MAX * sizeof(*eps));
        rc =
            paths != NULL && eps != NULL ? composite_paths(r, cf, paths, eps, &n) : LWM2M_ERR_NOMEM;
    }
    if (rc == 0)
        rc = encode(r, ct, &root, paths, eps, n, true,
                    n == 1 ? lwm2m_model_path_resource(r->model, &paths[0]) : NULL, &b);
    if (rc == 0)
        rc = lwm2m_dm_reply(r, COAP_205_CONTENT, (int)ct, b.buf, b.len);
    else
        rc = lwm2m_dm_reply_err(r, rc);
    body_free(&b);
    free(paths);
    free(eps);
    return rc;
}
