/* SPDX-License-Identifier: Apache-2.0 */
/* Discover (GET with Accept: application/link-format, TS Core 1.1.1 §6.3.2): the links of the
 * targeted object, instance or resource and of what lies below it down to the requested depth,
 * with the Object Version, "dim" of multiple resources and the attributes the requesting server
 * wrote (a resource target also shows those it inherits from its object and instance). */
#include <stdlib.h>
#include <string.h>

#include "dm_internal.h"

struct disc {
    const struct lwm2m_dm_req *r;
    struct lwm2m_link_writer *w;
    uint8_t last; /* deepest path level that is listed */
    uint16_t oid, iid, rid;
};

static int add_link(struct disc *d, const struct lwm2m_path *p) {
    const struct lwm2m_attrs *a = lwm2m_attr_get(d->r->ep, d->r->srv->ssid, p);
    int rc = lwm2m_link_add(d->w, d->r->ep->prefix, p);
    return rc == 0 && a != NULL ? lwm2m_attr_link(d->w, a) : rc;
}

static int disc_res_instance(void *c, uint16_t riid) {
    struct disc *d = c;
    struct lwm2m_path p = lwm2m_path_make(4, d->oid, d->iid, d->rid, riid);
    return add_link(d, &p);
}

/* A resource link; as the target, its attributes include those set at the object and instance
 * ("includes the assigned R-Attributes and the R-Attributes inherited", §6.3.2). */
static int disc_resource_link(struct disc *d, const struct lwm2m_path *p, bool target) {
    const struct lwm2m_resource_def *rd = lwm2m_model_path_resource(d->r->model, p);
    struct lwm2m_attrs a = {0};
    int rc = lwm2m_link_add(d->w, d->r->ep->prefix, p);
    if (rc == 0 && rd != NULL && rd->multiple)
        rc = lwm2m_link_attr_int(d->w, "dim", (int64_t)lwm2m_src_count_res_instances(d->r, p));
    for (uint8_t lvl = target ? 1 : 3; lvl <= 3; lvl++) {
        struct lwm2m_path up = *p;
        up.len = lvl;
        const struct lwm2m_attrs *at = lwm2m_attr_get(d->r->ep, d->r->srv->ssid, &up);
        if (at != NULL)
            lwm2m_attr_merge(&a, at);
    }
    if (rc == 0 && a.set != 0)
        rc = lwm2m_attr_link(d->w, &a);
    if (rc == 0 && d->last >= 4 && rd != NULL && rd->multiple) {
        d->rid = p->ids[2];
        rc = lwm2m_src_res_instances(d->r, p, disc_res_instance, d);
    }
    return rc;
}

static int disc_resource(void *c, uint16_t rid) {
    struct disc *d = c;
    struct lwm2m_path p = lwm2m_path_make(3, d->oid, d->iid, rid, 0);
    return disc_resource_link(d, &p, false);
}

static int disc_instance(void *c, uint16_t iid) {
    struct disc *d = c;
    struct lwm2m_path p = lwm2m_path_make(2, d->oid, iid, 0, 0);
    int rc = add_link(d, &p);
    d->iid = iid;
    if (rc == 0 && d->last >= 3)
        rc = lwm2m_src_resources(d->r, d->oid, iid, disc_resource, d);
    return rc;
}

/* The object link carries "ver" unless the object is at version 1.0 (TS Core "Object Versioning").
 */
static int disc_object(struct disc *d) {
    const struct lwm2m_object_def *o = lwm2m_model_object(d->r->model, d->oid);
    struct lwm2m_path p = lwm2m_path_make(1, d->oid, 0, 0, 0);
    const struct lwm2m_attrs *a = lwm2m_attr_get(d->r->ep, d->r->srv->ssid, &p);
    int rc = lwm2m_link_add(d->w, d->r->ep->prefix, &p);
    if (rc == 0 && o != NULL && o->version != NULL && strcmp(o->version, "1.0") != 0)
        rc = lwm2m_link_attr(d->w, "ver", o->version);
    if (rc == 0 && a != NULL)
        rc = lwm2m_attr_link(d->w, a);
    if (rc == 0 && d->last >= 2)
        rc = lwm2m_src_instances(d->r, d->oid, disc_instance, d);
    return rc;
}

static int disc_walk(struct disc *d, const struct lwm2m_path *p) {
    d->oid = p->ids[0];
    d->iid = p->ids[1];
    switch (p->len) {
    case 1:
        return disc_object(d);
    case 2:
        return disc_instance(d, p->ids[1]);
    default:
        return disc_resource_link(d, p, true);
    }
}

/* The depth below the target: ?depth=0..3 (LwM2M 1.1), else the defaults of §6.3.2: an object
 * lists its instances and their resources, an instance its resources, a resource (1.1 and
 * later) its resource instances. */
static int disc_depth(const struct lwm2m_dm_req *r, uint8_t *last) {
    const struct coap_msg *m = r->in->req;
    uint8_t depth = r->path.len == 1 ? 2 : r->path.len == 2 ? 1 : (r->srv->version >= 1 ? 1 : 0);
    for (const struct coap_option *o = coap_msg_opt(m, COAP_OPT_URI_QUERY); o != NULL;
         o = coap_msg_opt_next(m, o)) {
        if (o->len < 6 || memcmp(o->val, "depth=", 6) != 0)
            continue; /* other parameters are not Discover's business */
        if (o->len != 7 || o->val[6] < '0' || o->val[6] > '3')
            return LWM2M_ERR_INVALID;
        depth = (uint8_t)(o->val[6] - '0');
    }
    *last = (uint8_t)(r->path.len + depth);
    return 0;
}

static int disc_encode(struct disc *d, char *stack, size_t stack_cap, char **out, size_t *len) {
    size_t cap = stack_cap;
    char *buf = stack;
    for (;;) {
        struct lwm2m_link_writer w;
        d->w = &w;
        lwm2m_link_init(&w, buf, cap);
        int rc = disc_walk(d, &d->r->path);
        int frc = lwm2m_link_finish(&w, len);
        if (rc == 0 || rc == LWM2M_ERR_NOSPACE)
            rc = frc;
        if (rc != LWM2M_ERR_NOSPACE) {
            *out = buf;
            return rc;
        }
        if (buf != stack)
            free(buf);
        cap *= 4;
        buf = cap <= LWM2M_DM_BODY_MAX ? malloc(cap) : NULL;
        if (buf == NULL)
            return cap <= LWM2M_DM_BODY_MAX ? LWM2M_ERR_NOMEM : LWM2M_ERR_NOSPACE;
    }
}

int lwm2m_dm_discover(struct lwm2m_dm_req *r) {
    char stack[LWM2M_DM_BODY_STACK], *body = NULL;
    size_t len = 0;
    struct disc d = {.r = r};
    int rc = 0;
    /* Only the Bootstrap-Server may discover "/"; the DM Discover path ends at a resource. */
    if (r->path.len == 0 || r->path.len > 3)
        rc = LWM2M_DM_ERR_NOT_ALLOWED;
    else if (lwm2m_src_check(r, &r->path) != 0)
        rc = LWM2M_ERR_NOTFOUND;
    if (rc == 0)
        rc = disc_depth(r, &d.last);
    if (rc == 0)
        rc = disc_encode(&d, stack, sizeof(stack), &body, &len);
    if (rc == 0)
        rc = lwm2m_dm_reply(r, COAP_205_CONTENT, LWM2M_CT_LINK, body, len);
    else
        rc = lwm2m_dm_reply_err(r, rc);
    if (body != stack)
        free(body);
    return rc;
}
