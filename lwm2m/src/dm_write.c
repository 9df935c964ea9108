/* SPDX-License-Identifier: Apache-2.0 */
/* The operations that change an endpoint (TS Core 1.1.1 §6.3.3-6.3.7, §6.3.9): Write (PUT
 * replace, POST partial update), Write-Composite (iPATCH), Execute, Create and Delete. Every
 * payload is decoded and checked against the model in full before anything is written; writes
 * and executes the provider finishes later are answered through struct lwm2m_done (dm.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dm_internal.h"
#include "lwm2m/report.h"

/* ---- Decoding a payload into checked records ------------------------------------------------ */

struct payload {
    struct lwm2m_record *v;
    size_t n, cap;
    uint8_t *scratch; /* decoded JSON strings and base64 bytes live here */
    /* Gateway mode (Write-Composite): devs[i] names record i's device (0: the endpoint itself,
     * else 1 + its /25 instance), filled when host is set. */
    uint16_t *devs;
    struct lwm2m_endpoint *host;
    uint16_t dev_next; /* the prefix seen for the record being decoded */
};

static int collect(void *ctx, const struct lwm2m_record *rec) {
    struct payload *pl = ctx;
    if (pl->n == pl->cap) {
        size_t cap = pl->cap != 0 ? pl->cap * 2 : 16;
        struct lwm2m_record *v = NULL;
        if (cap <= LWM2M_DM_RECORDS_MAX)
            v = realloc(pl->v, cap * sizeof(*v));
        if (v == NULL)
            return cap <= LWM2M_DM_RECORDS_MAX ? LWM2M_ERR_NOMEM : LWM2M_ERR_NOSPACE;
        pl->v = v;
        if (pl->host != NULL) {
            uint16_t *dv = realloc(pl->devs, cap * sizeof(*dv));
            if (dv == NULL)
                return LWM2M_ERR_NOMEM;
            pl->devs = dv;
        }
        pl->cap = cap;
    }
    if (pl->host != NULL) {
        pl->devs[pl->n] = pl->dev_next;
        pl->dev_next = 0;
    }
    pl->v[pl->n++] = *rec;
    return 0;
}

/* The decoder's prefix_of in gateway mode: remembers the device for the coming record. */
static int collect_prefix(void *ctx, const char *s, size_t n) {
    struct payload *pl = ctx;
    int iid = lwm2m_gwdev_prefix_of(pl->host, s, n);
    if (iid >= 0)
        pl->dev_next = (uint16_t)(iid + 1);
    return iid;
}

/* r with the endpoint or device view record i of pl belongs to (NULL: none). */
static bool record_req(const struct lwm2m_dm_req *r, const struct payload *pl, size_t i,
                       struct lwm2m_dm_req *out) {
    *out = *r;
    if (pl->devs == NULL)
        return true;
    out->ep = lwm2m_gwdev_view(r->ep, pl->devs[i]);
    return out->ep != NULL;
}

static void payload_free(struct payload *pl) {
    free(pl->v);
    free(pl->devs);
    free(pl->scratch);
}

/* Decodes the request body as format ct for request path req (records lie under it). */
static int decode(const struct lwm2m_dm_req *r, unsigned ct, const struct lwm2m_path *req,
                  struct payload *pl) {
    size_t len = r->in->body_len;
    pl->n = 0;
    if (pl->scratch == NULL && len > 0 && (pl->scratch = malloc(len)) == NULL)
        return LWM2M_ERR_NOMEM;
    /* Decoded strings never outgrow their encoding, so the body's length is enough scratch. */
    struct lwm2m_decode_cfg cfg = {.ct = ct,
                                   .req = *req,
                                   .type_of = lwm2m_src_type_of,
                                   .type_ctx = (void *)r->model,
                                   .scratch = pl->scratch,
                                   .scratch_cap = len};
    if (pl->host != NULL) {
        cfg.prefix_of = collect_prefix;
        cfg.prefix_ctx = pl;
    }
    int rc = lwm2m_decode(&cfg, r->in->body, len, collect, pl);
    if (rc == LWM2M_ERR_UNSUPPORTED)
        return LWM2M_DM_ERR_BAD_CT;
    if (rc == LWM2M_ERR_NOTFOUND && pl->host != NULL)
        return rc; /* an unknown device prefix */
    if (rc == LWM2M_ERR_NOSPACE || rc == LWM2M_ERR_NOMEM)
        return rc;
    return rc != 0 ? LWM2M_ERR_FORMAT : 0;
}

/* The Content-Format of a write-like request: it "MUST be specified" (Transport, DM&SE
 * interface; the Create row of the Response Codes table: 4.00 "Content Format is not
 * specified"), and must be one we can decode for that path (4.15 otherwise). */
static int payload_format(const struct lwm2m_dm_req *r, const struct lwm2m_path *p, unsigned *ct) {
    const struct lwm2m_resource_def *rd = lwm2m_model_path_resource(r->model, p);
    if (!r->has_cf)
        return LWM2M_ERR_FORMAT;
    int n = lwm2m_ct_normalize(r->cf);
    if (n < 0 || n == LWM2M_CT_LINK ||
        !lwm2m_fmt_supports((unsigned)n, p, rd != NULL && rd->multiple,
                            rd != NULL ? (enum lwm2m_type)rd->type : LWM2M_TYPE_NONE))
        return LWM2M_DM_ERR_BAD_CT;
    *ct = (unsigned)n;
    return 0;
}

/* One record against the model: a known resource, the right multiplicity, writable (need_w),
 * and a value of its type within its range (lwm2m_resource_check_value: 4.00 otherwise). */
static int check_record(const struct lwm2m_dm_req *r, const struct lwm2m_record *rec, bool need_w) {
    const struct lwm2m_path *p = &rec->path;
    if (p->len < 3)
        return LWM2M_ERR_FORMAT; /* a value belongs to a resource or resource instance */
    if (lwm2m_dm_oid_protected(p->ids[0]))
        return LWM2M_DM_ERR_UNAUTHORIZED;
    const struct lwm2m_resource_def *rd = lwm2m_model_path_resource(r->model, p);
    if (rd == NULL)
        return LWM2M_ERR_NOTFOUND;
    if (rd->multiple != (p->len == 4))
        return LWM2M_ERR_FORMAT; /* a single value for a multiple resource, or the reverse */
    if (lwm2m_model_check_path(r->model, p) != 0)
        return LWM2M_ERR_NOTFOUND;
    if (need_w && !lwm2m_resource_allows(rd, LWM2M_OP_W))
        return LWM2M_DM_ERR_NOT_ALLOWED;
    if (rec->value.type == LWM2M_TYPE_NONE || lwm2m_resource_check_value(rd, &rec->value) != 0)
        return LWM2M_ERR_INVALID;
    return 0;
}

static int check_all(const struct lwm2m_dm_req *r, const struct payload *pl, bool exist) {
    for (size_t i = 0; i < pl->n; i++) {
        struct lwm2m_dm_req rr;
        if (!record_req(r, pl, i, &rr))
            return LWM2M_ERR_NOTFOUND;
        int rc = check_record(&rr, &pl->v[i], true);
        struct lwm2m_path up = pl->v[i].path;
        up.len = 3;
        if (rc == 0 && exist && !lwm2m_src_has(&rr, &up))
            rc = LWM2M_ERR_NOTFOUND; /* Write-Composite: every target must exist */
        if (rc == 0 && exist && up.ids[0] == LWM2M_OID_GATEWAY && rr.ep->gwdevs != NULL)
            rc = LWM2M_DM_ERR_NOT_ALLOWED; /* the engine's /25 is read-only */
        if (rc == 0 && exist && up.ids[0] != LWM2M_OID_SERVER && rr.ep->prov->write == NULL)
            rc = LWM2M_DM_ERR_NOT_ALLOWED;
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* ---- Write ---------------------------------------------------------------------------------- */

/* Hands recs to the provider's write and answers when it is done (now or later). */
static int provider_write(struct lwm2m_dm_req *r, struct lwm2m_done *d, const struct lwm2m_path *p,
                          const struct lwm2m_record *recs, size_t n, bool replace) {
    const struct lwm2m_provider *prov = r->ep->prov;
    int rc = prov->write != NULL ? prov->write(r->ep->pctx, p, recs, n, replace, d)
                                 : LWM2M_DM_ERR_NOT_ALLOWED;
    if (rc == LWM2M_ERR_AGAIN)
        lwm2m_dm_done_owed(d);
    else
        lwm2m_dm_done_fail(d, rc);
    /* Observers (of this or another server) hear of a value changed by a Write like of any
     * other change. A provider that completes later reports the change itself when its value
     * really changes (the bridge does, from its point cache). */
    if (rc == 0)
        lwm2m_endpoint_changed(r->ep, p);
    return rc == LWM2M_ERR_AGAIN ? 0 : rc;
}

static int write_records(struct lwm2m_dm_req *r, const struct payload *pl, bool replace) {
    if (r->path.ids[0] == LWM2M_OID_SERVER) {
        int rc = lwm2m_srvobj_write(r->ep, pl->v, pl->n);
        int rrc = lwm2m_dm_reply_err(r, rc);
        if (rc == 0)
            lwm2m_srvobj_commit(r->ep);
        return rrc;
    }
    struct lwm2m_done *d = lwm2m_dm_done_new(r);
    if (d == NULL)
        return lwm2m_dm_reply_err(r, LWM2M_ERR_NOMEM);
    provider_write(r, d, &r->path, pl->v, pl->n, replace);
    return lwm2m_dm_done_finish(d, r);
}

/* PUT on an instance, resource or resource instance replaces it; POST on an instance or a
 * multiple resource updates it partially (Transport, DM&SE "Operation to Method" table). */
int lwm2m_dm_write(struct lwm2m_dm_req *r, bool replace) {
    struct payload pl = {0};
    unsigned ct = 0;
    int rc = 0;
    const struct lwm2m_resource_def *rd = lwm2m_model_path_resource(r->model, &r->path);
    if (r->path.len < 2)
        rc = LWM2M_DM_ERR_NOT_ALLOWED; /* no Write on an object over CoAP (Transport) */
    else if (lwm2m_src_check(r, &r->path) != 0)
        rc = LWM2M_ERR_NOTFOUND;
    else if (rd != NULL && !lwm2m_resource_allows(rd, LWM2M_OP_W))
        rc = LWM2M_DM_ERR_NOT_ALLOWED;
    if (rc == 0)
        rc = payload_format(r, &r->path, &ct);
    if (rc == 0)
        rc = decode(r, ct, &r->path, &pl);
    if (rc == 0)
        rc = check_all(r, &pl, false);
    if (rc == 0 && pl.n == 0 && rd != NULL && !rd->multiple)
        rc = LWM2M_ERR_FORMAT; /* a single resource needs its value */
    rc = rc == 0 ? write_records(r, &pl, replace) : lwm2m_dm_reply_err(r, rc);
    payload_free(&pl);
    return rc;
}

/* ---- Write-Composite ------------------------------------------------------------------------ */

static int cmp_records(const void *a, const void *b) {
    const struct lwm2m_record *x = a, *y = b;
    return lwm2m_path_cmp(&x->path, &y->path);
}

/* A record and its device, for sorting both together (gateway mode). */
struct dev_record {
    struct lwm2m_record rec;
    uint16_t dev;
};

static int cmp_dev_records(const void *a, const void *b) {
    const struct dev_record *x = a, *y = b;
    if (x->dev != y->dev)
        return x->dev < y->dev ? -1 : 1;
    return lwm2m_path_cmp(&x->rec.path, &y->rec.path);
}

/* Sorts by (device, path) so that composite_apply writes one instance of one device at a time. */
static int sort_records(struct payload *pl) {
    if (pl->devs == NULL) {
        qsort(pl->v, pl->n, sizeof(*pl->v), cmp_records);
        return 0;
    }
    struct dev_record *t = malloc(pl->n * sizeof(*t) + 1);
    if (t == NULL)
        return LWM2M_ERR_NOMEM;
    for (size_t i = 0; i < pl->n; i++)
        t[i] = (struct dev_record){pl->v[i], pl->devs[i]};
    qsort(t, pl->n, sizeof(*t), cmp_dev_records);
    for (size_t i = 0; i < pl->n; i++) {
        pl->v[i] = t[i].rec;
        pl->devs[i] = t[i].dev;
    }
    free(t);
    return 0;
}

static bool same_dev(const struct payload *pl, size_t i, size_t j) {
    return pl->devs == NULL || pl->devs[i] == pl->devs[j];
}

/* Writes the (checked, sorted) records one object instance at a time, as partial updates. */
static bool composite_apply(struct lwm2m_dm_req *r, struct lwm2m_done *d, struct payload *pl) {
    bool server_obj = false;
    for (size_t i = 0, j; i < pl->n; i = j) {
        struct lwm2m_path inst = pl->v[i].path;
        inst.len = 2;
        for (j = i + 1;
             j < pl->n && same_dev(pl, i, j) && lwm2m_path_has_prefix(&pl->v[j].path, &inst); j++)
            ;
        struct lwm2m_dm_req rr;
        int rc = record_req(r, pl, i, &rr) ? 0 : LWM2M_ERR_NOTFOUND;
        if (rc == 0 && inst.ids[0] == LWM2M_OID_SERVER && rr.ep->gwdev == NULL) {
            rc = lwm2m_srvobj_write(r->ep, &pl->v[i], j - i);
            lwm2m_dm_done_fail(d, rc);
            server_obj = server_obj || rc == 0;
        } else if (rc == 0) {
            rc = provider_write(&rr, d, &inst, &pl->v[i], j - i, false);
        }
        if (rc != 0)
            break; /* checked in full beforehand: what failed now is the device itself */
    }
    return server_obj;
}

int lwm2m_dm_write_composite(struct lwm2m_dm_req *r) {
    static const struct lwm2m_path root = {.len = 0};
    struct payload pl = {.host = r->ep->gwdevs != NULL ? r->ep : NULL};
    int rc = 0, cf = lwm2m_ct_normalize(r->cf);
    if (r->path.len != 0)
        rc = LWM2M_DM_ERR_NOT_ALLOWED; /* the paths are in the payload */
    else if (!r->has_cf)
        rc = LWM2M_ERR_FORMAT;
    else if (cf != LWM2M_CT_SENML_JSON && cf != LWM2M_CT_SENML_CBOR && cf != LWM2M_CT_LWM2M_CBOR)
        rc = LWM2M_DM_ERR_BAD_CT;
    if (rc == 0)
        rc = decode(r, (unsigned)cf, &root, &pl);
    if (rc == 0)
        rc = check_all(r, &pl, true); /* all or nothing: nothing is written on any error */
    struct lwm2m_done *d = rc == 0 ? lwm2m_dm_done_new(r) : NULL;
    if (rc == 0 && d == NULL)
        rc = LWM2M_ERR_NOMEM;
    if (rc != 0) {
        rc = lwm2m_dm_reply_err(r, rc);
    } else {
        bool server_obj = false;
        if (sort_records(&pl) != 0)
            lwm2m_dm_done_fail(d, LWM2M_ERR_NOMEM);
        else
            server_obj = composite_apply(r, d, &pl);
        rc = lwm2m_dm_done_finish(d, r);
        if (server_obj)
            lwm2m_srvobj_commit(r->ep);
    }
    payload_free(&pl);
    return rc;
}

/* ---- Execute -------------------------------------------------------------------------------- */

static bool arg_char(uint8_t c) {
    return c == 0x21 || (c >= 0x23 && c <= 0x26) || (c >= 0x28 && c <= 0x5B) ||
           (c >= 0x5D && c <= 0x7E);
}

bool lwm2m_dm_exec_args_valid(const uint8_t *p, size_t n) {
    size_t i = 0;
    if (n == 0)
        return true;
    for (;;) {
        if (i >= n || p[i] < '0' || p[i] > '9')
            return false;
        i++;
        if (i < n && p[i] == '=') {
            if (++i >= n || p[i] != '\'')
                return false;
            for (i++; i < n && p[i] != '\''; i++)
                if (!arg_char(p[i]))
                    return false;
            if (i++ >= n)
                return false; /* no closing quote */
        }
        if (i == n)
            return true;
        if (p[i++] != ',')
            return false;
    }
}

static int execute_check(const struct lwm2m_dm_req *r) {
    const struct lwm2m_resource_def *rd = lwm2m_model_path_resource(r->model, &r->path);
    if (r->path.len != 3)
        return LWM2M_DM_ERR_NOT_ALLOWED;
    if (lwm2m_src_check(r, &r->path) != 0)
        return LWM2M_ERR_NOTFOUND;
    if (!lwm2m_resource_allows(rd, LWM2M_OP_E))
        return LWM2M_DM_ERR_NOT_ALLOWED;
    /* Transport: "Content Format: none, or text/plain". */
    if (r->has_cf && lwm2m_ct_normalize(r->cf) != LWM2M_CT_TEXT)
        return LWM2M_DM_ERR_BAD_CT;
    if (!lwm2m_dm_exec_args_valid(r->in->body, r->in->body_len))
        return LWM2M_ERR_INVALID; /* 4.00 "doesn't understand the argument in the payload" */
    if (r->path.ids[0] == LWM2M_OID_SERVER)
        return lwm2m_srvobj_execute(r->ep, &r->path, false);
    return r->ep->prov->execute != NULL ? 0 : LWM2M_DM_ERR_NOT_ALLOWED;
}

int lwm2m_dm_execute(struct lwm2m_dm_req *r) {
    int rc = execute_check(r);
    if (rc != 0)
        return lwm2m_dm_reply_err(r, rc);
    if (r->path.ids[0] == LWM2M_OID_SERVER) {
        /* Answer first: Disable de-registers and the trigger sends an Update right away. */
        rc = lwm2m_dm_reply_err(r, 0);
        lwm2m_srvobj_execute(r->ep, &r->path, true);
        return rc;
    }
    struct lwm2m_done *d = lwm2m_dm_done_new(r);
    if (d == NULL)
        return lwm2m_dm_reply_err(r, LWM2M_ERR_NOMEM);
    rc = r->ep->prov->execute(r->ep->pctx, &r->path, (const char *)r->in->body, r->in->body_len, d);
    if (rc == LWM2M_ERR_AGAIN)
        lwm2m_dm_done_owed(d);
    else
        lwm2m_dm_done_fail(d, rc);
    return lwm2m_dm_done_finish(d, r);
}

/* ---- Create and Delete ---------------------------------------------------------------------- */

static int find_free(void *c, uint16_t id) {
    uint32_t *next = c;
    if (id == *next)
        (*next)++;
    return id > *next ? 1 : 0; /* ascending: the first gap is the lowest free id */
}

static int create_check(const struct lwm2m_dm_req *r, unsigned *ct) {
    const struct lwm2m_object_def *o = lwm2m_model_object(r->model, r->path.ids[0]);
    if (r->path.ids[0] == LWM2M_OID_SERVER)
        return LWM2M_DM_ERR_NOT_ALLOWED; /* server accounts come from the configuration */
    if (o == NULL || !lwm2m_src_has(r, &r->path))
        return LWM2M_ERR_NOTFOUND;
    /* A single-instance object of a gateway device exists as configured or not at all. */
    if (!o->multiple || r->ep->prov->create == NULL)
        return LWM2M_DM_ERR_NOT_ALLOWED;
    return payload_format(r, &r->path, ct);
}

/* Decodes a Create payload: with the instance named in it (TLV instance, SenML names), or
 * without, in which case the engine picks the lowest free id (TS Core §6.3.6). */
static int create_decode(const struct lwm2m_dm_req *r, unsigned ct, struct payload *pl,
                         uint16_t *iid) {
    uint32_t next = 0;
    int rc = decode(r, ct, &r->path, pl);
    bool named = rc == 0 && pl->n > 0;
    if (!named) {
        lwm2m_src_instances(r, r->path.ids[0], find_free, &next);
        if (next > LWM2M_ID_MAX)
            return LWM2M_ERR_STATE;
        *iid = (uint16_t)next;
        if (rc != 0) {
            struct lwm2m_path req = lwm2m_path_make(2, r->path.ids[0], *iid, 0, 0);
            rc = decode(r, ct, &req, pl);
        }
        return rc;
    }
    *iid = pl->v[0].path.ids[1];
    for (size_t i = 0; i < pl->n; i++)
        if (pl->v[i].path.len < 3 || pl->v[i].path.ids[1] != *iid)
            return LWM2M_ERR_FORMAT; /* one instance per Create */
    return 0;
}

/* Checks the new instance's records; resources the model does not know are left out ("The
 * LwM2M Client MUST ignore optional resources it does not support", §6.3.6). */
static int create_records(const struct lwm2m_dm_req *r, struct payload *pl) {
    size_t k = 0;
    for (size_t i = 0; i < pl->n; i++) {
        int rc = check_record(r, &pl->v[i], false);
        if (rc == LWM2M_ERR_NOTFOUND)
            continue;
        if (rc != 0)
            return rc;
        pl->v[k++] = pl->v[i];
    }
    pl->n = k;
    return 0;
}

static int reply_created(struct lwm2m_dm_req *r, uint16_t iid) {
    char o[8], i[8];
    struct coap_msg m;
    coap_msg_init(&m, COAP_TYPE_ACK, COAP_201_CREATED, 0);
    snprintf(o, sizeof(o), "%u", (unsigned)r->path.ids[0]);
    snprintf(i, sizeof(i), "%u", (unsigned)iid);
    coap_msg_add_opt(&m, COAP_OPT_LOCATION_PATH, o, strlen(o));
    coap_msg_add_opt(&m, COAP_OPT_LOCATION_PATH, i, strlen(i));
    return coap_reply(r->cep, r->in, &m);
}

int lwm2m_dm_create(struct lwm2m_dm_req *r) {
    struct payload pl = {0};
    uint16_t iid = 0;
    unsigned ct = 0;
    int rc = create_check(r, &ct);
    if (rc == 0)
        rc = create_decode(r, ct, &pl, &iid);
    struct lwm2m_path inst = lwm2m_path_make(2, r->path.ids[0], iid, 0, 0);
    if (rc == 0 && lwm2m_src_has(r, &inst))
        rc = LWM2M_ERR_STATE; /* 4.00 "Target (i.e., Object) already exists" */
    if (rc == 0)
        rc = create_records(r, &pl);
    if (rc == 0)
        rc = r->ep->prov->create(r->ep->pctx, r->path.ids[0], iid, pl.v, pl.n);
    payload_free(&pl);
    if (rc != 0)
        return lwm2m_dm_reply_err(r, rc);
    rc = reply_created(r, iid);
    lwm2m_endpoint_objects_changed(r->ep); /* Update with the new instance (§6.2.2) */
    return rc;
}

int lwm2m_dm_delete(struct lwm2m_dm_req *r) {
    int rc = 0;
    /* Delete targets an object instance; the Device object's single instance "SHALL NOT be
     * affected by any Delete operation" (§6.3.7) and server accounts are configuration. */
    if (r->path.len != 2 || r->path.ids[0] == LWM2M_OID_SERVER ||
        r->path.ids[0] == LWM2M_OID_DEVICE)
        rc = LWM2M_DM_ERR_NOT_ALLOWED;
    else if (lwm2m_src_check(r, &r->path) != 0)
        rc = LWM2M_ERR_NOTFOUND;
    else if (r->ep->prov->remove == NULL)
        rc = LWM2M_DM_ERR_NOT_ALLOWED;
    if (rc == 0)
        rc = r->ep->prov->remove(r->ep->pctx, r->path.ids[0], r->path.ids[1]);
    if (rc != 0)
        return lwm2m_dm_reply_err(r, rc);
    lwm2m_attr_drop(r->ep, &r->path);
    rc = lwm2m_dm_reply_err(r, 0);
    lwm2m_endpoint_objects_changed(r->ep);
    return rc;
}
