/* SPDX-License-Identifier: Apache-2.0 */
/* Where the Device Management operations find the data: one tree in which the Server object (1)
 * comes from server_obj.c and everything else from the endpoint's provider, plus the existence
 * checks every operation starts with. Security (0) and OSCORE (21) never appear here. */
#include "dm_internal.h"

/* A positive walk result: "found it, stop" (provider errors are negative). */
#define SRC_STOP 1

struct filter_ctx {
    lwm2m_id_fn fn;
    void *ctx;
    bool gateway; /* the engine's /25 is still to be listed */
};

/* True when the engine itself serves oid on r's endpoint: the Server object on a real endpoint,
 * the Gateway object on one that hosts IoT devices. A device's view has neither. */
static bool engine_object(const struct lwm2m_dm_req *r, uint16_t oid) {
    if (oid == LWM2M_OID_SERVER)
        return r->ep->gwdev == NULL;
    return oid == LWM2M_OID_GATEWAY && r->ep->gwdevs != NULL;
}

/* The provider is never asked for 0 and 1, but a provider listing them is not trusted either;
 * the engine's /25 goes in its place in the ascending order. */
static int skip_engine_objects(void *c, uint16_t oid) {
    struct filter_ctx *f = c;
    if (f->gateway && oid >= LWM2M_OID_GATEWAY) {
        f->gateway = false;
        int rc = f->fn(f->ctx, LWM2M_OID_GATEWAY);
        if (rc != 0 || oid == LWM2M_OID_GATEWAY)
            return rc;
    }
    if (oid == LWM2M_OID_SERVER || lwm2m_dm_oid_protected(oid))
        return 0;
    return f->fn(f->ctx, oid);
}

int lwm2m_src_objects(const struct lwm2m_dm_req *r, lwm2m_id_fn fn, void *ctx) {
    const struct lwm2m_provider *p = r->ep->prov;
    struct filter_ctx f = {fn, ctx, r->ep->gwdevs != NULL};
    int rc = r->ep->gwdev == NULL ? fn(ctx, LWM2M_OID_SERVER) : 0;
    if (rc == 0 && p != NULL && p->list_objects != NULL)
        rc = p->list_objects(r->ep->pctx, skip_engine_objects, &f);
    if (rc == 0 && f.gateway)
        rc = fn(ctx, LWM2M_OID_GATEWAY);
    return rc;
}

int lwm2m_src_instances(const struct lwm2m_dm_req *r, uint16_t oid, lwm2m_id_fn fn, void *ctx) {
    const struct lwm2m_provider *p = r->ep->prov;
    if (engine_object(r, oid))
        return oid == LWM2M_OID_SERVER ? lwm2m_srvobj_instances(r->ep, fn, ctx)
                                       : lwm2m_gwdev_instances(r->ep, fn, ctx);
    if (oid == LWM2M_OID_SERVER)
        return 0;
    if (lwm2m_dm_oid_protected(oid) || p == NULL || p->list_instances == NULL)
        return 0;
    return p->list_instances(r->ep->pctx, oid, fn, ctx);
}

/* Without list_resources, every resource the model defines is taken to be present. */
static int model_resources(const struct lwm2m_dm_req *r, uint16_t oid, lwm2m_id_fn fn, void *ctx) {
    const struct lwm2m_object_def *o = lwm2m_model_object(r->model, oid);
    for (size_t i = 0; o != NULL && i < o->nres; i++) {
        int rc = fn(ctx, o->res[i].id);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int lwm2m_src_resources(const struct lwm2m_dm_req *r, uint16_t oid, uint16_t iid, lwm2m_id_fn fn,
                        void *ctx) {
    const struct lwm2m_provider *p = r->ep->prov;
    if (engine_object(r, oid))
        return oid == LWM2M_OID_SERVER ? lwm2m_srvobj_resources(r->ep, iid, fn, ctx)
                                       : lwm2m_gwdev_resources(r->ep, iid, fn, ctx);
    if (oid == LWM2M_OID_SERVER || lwm2m_dm_oid_protected(oid) || p == NULL)
        return 0;
    if (p->list_resources == NULL)
        return model_resources(r, oid, fn, ctx);
    return p->list_resources(r->ep->pctx, oid, iid, fn, ctx);
}

int lwm2m_src_res_instances(const struct lwm2m_dm_req *r, const struct lwm2m_path *path,
                            lwm2m_id_fn fn, void *ctx) {
    const struct lwm2m_provider *p = r->ep->prov;
    if (path->ids[0] == LWM2M_OID_SERVER || lwm2m_dm_oid_protected(path->ids[0]) || p == NULL ||
        p->list_res_instances == NULL || engine_object(r, path->ids[0]))
        return 0; /* the Server and Gateway objects have no multiple resources */
    return p->list_res_instances(r->ep->pctx, path, fn, ctx);
}

int lwm2m_src_read(const struct lwm2m_dm_req *r, const struct lwm2m_path *path,
                   struct lwm2m_value *out) {
    const struct lwm2m_provider *p = r->ep->prov;
    if (engine_object(r, path->ids[0]))
        return path->ids[0] == LWM2M_OID_SERVER ? lwm2m_srvobj_read(r->ep, path, out)
                                                : lwm2m_gwdev_read(r->ep, path, out);
    if (path->ids[0] == LWM2M_OID_SERVER || lwm2m_dm_oid_protected(path->ids[0]) || p == NULL ||
        p->read == NULL)
        return LWM2M_ERR_NOTFOUND;
    return p->read(r->ep->pctx, path, out);
}

/* ---- Existence ------------------------------------------------------------------------------ */

struct find_ctx {
    uint16_t id;
    size_t count;
};

static int find_id(void *c, uint16_t id) {
    struct find_ctx *f = c;
    return id == f->id ? SRC_STOP : 0;
}

static int count_id(void *c, uint16_t id) {
    struct find_ctx *f = c;
    (void)id;
    f->count++;
    return 0;
}

bool lwm2m_src_has(const struct lwm2m_dm_req *r, const struct lwm2m_path *p) {
    struct find_ctx f = {.id = p->len > 0 ? p->ids[p->len - 1] : 0};
    struct lwm2m_path parent = *p;
    int rc;
    if (p->len == 0)
        return true;
    parent.len--;
    if (!lwm2m_src_has(r, &parent))
        return false;
    switch (p->len) {
    case 1:
        if (lwm2m_model_object(r->model, p->ids[0]) == NULL)
            return false;
        rc = lwm2m_src_objects(r, find_id, &f);
        break;
    case 2:
        rc = lwm2m_src_instances(r, p->ids[0], find_id, &f);
        break;
    case 3:
        rc = lwm2m_src_resources(r, p->ids[0], p->ids[1], find_id, &f);
        break;
    default:
        rc = lwm2m_src_res_instances(r, &parent, find_id, &f);
        break;
    }
    return rc == SRC_STOP;
}

int lwm2m_src_check(const struct lwm2m_dm_req *r, const struct lwm2m_path *p) {
    struct lwm2m_path upto = *p;
    if (lwm2m_model_check_path(r->model, p) != 0)
        return LWM2M_ERR_NOTFOUND;
    /* A resource instance's existence is the provider's answer to the operation itself. */
    if (upto.len > 3)
        upto.len = 3;
    return lwm2m_src_has(r, &upto) ? 0 : LWM2M_ERR_NOTFOUND;
}

size_t lwm2m_src_count_res_instances(const struct lwm2m_dm_req *r, const struct lwm2m_path *p) {
    struct find_ctx f = {0};
    lwm2m_src_res_instances(r, p, count_id, &f);
    return f.count;
}

enum lwm2m_type lwm2m_src_type_of(void *ctx, const struct lwm2m_path *p) {
    enum lwm2m_type t = LWM2M_TYPE_NONE;
    if (lwm2m_model_resource_type(ctx, p, &t) != 0)
        return LWM2M_TYPE_NONE;
    return t;
}
