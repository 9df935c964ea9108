/* SPDX-License-Identifier: Apache-2.0 */
/* The LwM2M Server object (1) served from struct lwm2m_server: one instance per server of the
 * endpoint (iid = its index), reads and writes of its configuration, and the executable
 * resources that reach registration.c (4 Disable, 8 Registration Update Trigger) and bootstrap.c
 * (9 Bootstrap-Request Trigger, on an endpoint with a bootstrap server). The Security
 * object (0) has no counterpart here: no LwM2M Server may reach it (dm.c answers 4.01). */
#include <string.h>

#include "dm_internal.h"

/* Resources an instance has, ascending (TS Core 1.1.1 Appendix E.2). 9 Bootstrap-Request
 * Trigger only on an endpoint with a bootstrap server; 10-22 are optional and not kept. */
static const uint16_t srv_res[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 23};

#define DISABLE_TIMEOUT_DEFAULT 86400 /* /1/x/5 default (Appendix E.2) */

static struct lwm2m_server *srv_at(struct lwm2m_endpoint *ep, uint16_t iid) {
    for (uint16_t i = 0; i < ep->nservers; i++)
        if (ep->servers[i].index == iid)
            return &ep->servers[i];
    return NULL;
}

int lwm2m_srvobj_instances(struct lwm2m_endpoint *ep, lwm2m_id_fn fn, void *ctx) {
    /* Indexes are assigned ascending by the engine, so this is already in id order. */
    for (uint16_t i = 0; i < ep->nservers; i++) {
        int rc = fn(ctx, ep->servers[i].index);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int lwm2m_srvobj_resources(struct lwm2m_endpoint *ep, uint16_t iid, lwm2m_id_fn fn, void *ctx) {
    if (srv_at(ep, iid) == NULL)
        return LWM2M_ERR_NOTFOUND;
    for (size_t i = 0; i < sizeof(srv_res) / sizeof(srv_res[0]); i++) {
        if (srv_res[i] == 9 && ep->bs == NULL)
            continue;
        int rc = fn(ctx, srv_res[i]);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int lwm2m_srvobj_read(struct lwm2m_endpoint *ep, const struct lwm2m_path *p,
                      struct lwm2m_value *out) {
    struct lwm2m_server *s = p->len == 3 ? srv_at(ep, p->ids[1]) : NULL;
    if (s == NULL)
        return LWM2M_ERR_NOTFOUND;
    switch (p->ids[2]) {
    case 0:
        *out = lwm2m_value_int(s->ssid);
        return 0;
    case 1:
        *out = lwm2m_value_int(s->lifetime);
        return 0;
    case 2:
        *out = lwm2m_value_int(s->default_pmin);
        return 0;
    case 3:
        *out = lwm2m_value_int(s->default_pmax);
        return 0;
    case 5:
        *out = lwm2m_value_int(s->disable_timeout);
        return 0;
    case 6:
        *out = lwm2m_value_bool(s->notification_storing);
        return 0;
    case 7:
        *out = lwm2m_value_string(s->binding, strlen(s->binding));
        return 0;
    case 23:
        *out = lwm2m_value_bool(s->mute_send);
        return 0;
    default:
        return LWM2M_ERR_NOTFOUND; /* 4 and 8 are executable, the rest absent */
    }
}

/* The bindings this engine can serve: UDP, with or without queue mode (LwM2M 1.0 spells queue
 * mode inside the binding; 1.1 servers write "U" and keep "Q" as a registration flag). */
static bool binding_ok(const struct lwm2m_bytes *b) {
    return (b->len == 1 && b->ptr[0] == 'U') ||
           (b->len == 2 && b->ptr[0] == 'U' && b->ptr[1] == 'Q');
}

static bool u32_ok(const struct lwm2m_value *v, int64_t min) {
    return v->type == LWM2M_TYPE_INTEGER && v->v.i >= min && v->v.i <= (int64_t)UINT32_MAX;
}

/* One record: checks it, and applies it when apply is set. */
static int srv_write_one(struct lwm2m_endpoint *ep, const struct lwm2m_record *rec, bool apply) {
    const struct lwm2m_value *v = &rec->value;
    struct lwm2m_server *s = rec->path.len == 3 ? srv_at(ep, rec->path.ids[1]) : NULL;
    bool ok;
    if (s == NULL)
        return LWM2M_ERR_NOTFOUND;
    switch (rec->path.ids[2]) {
    case 1:
        ok = u32_ok(v, 1);
        break; /* a zero lifetime would expire at once */
    case 2:
    case 3:
    case 5:
        ok = u32_ok(v, 0);
        break;
    case 6:
    case 23:
        ok = v->type == LWM2M_TYPE_BOOLEAN;
        break;
    case 7:
        ok = v->type == LWM2M_TYPE_STRING && binding_ok(&v->v.bytes);
        break;
    default:
        return LWM2M_ERR_NOTFOUND; /* optional resources we do not keep */
    }
    if (!ok)
        return LWM2M_ERR_INVALID;
    if (!apply)
        return 0;
    switch (rec->path.ids[2]) {
    case 1:
        s->lifetime = (uint32_t)v->v.i;
        break;
    case 2:
        s->default_pmin = (uint32_t)v->v.i;
        break;
    case 3:
        s->default_pmax = (uint32_t)v->v.i;
        break;
    case 5:
        s->disable_timeout = (uint32_t)v->v.i;
        break;
    case 6:
        s->notification_storing = v->v.b;
        break;
    case 23:
        s->mute_send = v->v.b;
        break;
    default:
        memcpy(s->binding, v->v.bytes.ptr, v->v.bytes.len);
        s->binding[v->v.bytes.len] = '\0';
        break;
    }
    return 0;
}

int lwm2m_srvobj_write(struct lwm2m_endpoint *ep, const struct lwm2m_record *recs, size_t n) {
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < n; i++) {
            int rc = srv_write_one(ep, &recs[i], pass == 1);
            if (rc != 0)
                return rc;
        }
    }
    return 0;
}

void lwm2m_srvobj_commit(struct lwm2m_endpoint *ep) {
    /* A changed lifetime or binding must reach the server in an Update (TS Core 1.1.1 §6.2.2);
     * registration.c puts lt= and b= in it for exactly what differs from what it registered. */
    for (uint16_t i = 0; i < ep->nservers; i++) {
        struct lwm2m_server *s = &ep->servers[i];
        if (s->lifetime != s->reg_lifetime || strcmp(s->binding, s->reg_binding) != 0)
            lwm2m_reg_update(s, false);
    }
}

int lwm2m_srvobj_execute(struct lwm2m_endpoint *ep, const struct lwm2m_path *p, bool apply) {
    struct lwm2m_server *s = p->len == 3 ? srv_at(ep, p->ids[1]) : NULL;
    bool trigger = p->len == 3 && p->ids[2] == 9 && ep->bs != NULL;
    if (s == NULL || (p->ids[2] != 4 && p->ids[2] != 8 && !trigger))
        return LWM2M_ERR_NOTFOUND;
    if (!apply)
        return 0;
    if (trigger) {
        lwm2m_bs_trigger(ep); /* bootstrap.c: on the next loop pass, s is freed by then */
    } else if (p->ids[2] == 4) {
        /* Disable: de-register and stay silent for the Disable Timeout (Appendix E.2). */
        lwm2m_reg_disable(s,
                          s->disable_timeout != 0 ? s->disable_timeout : DISABLE_TIMEOUT_DEFAULT);
    } else {
        lwm2m_reg_update(s, false); /* Registration Update Trigger */
    }
    return 0;
}
