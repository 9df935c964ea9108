/* SPDX-License-Identifier: Apache-2.0 */
/* Reload on SIGHUP: load the file again, compare it with the running config and apply only the
 * difference. A device whose settings, bindings, endpoint name and adapter are unchanged keeps
 * its endpoint (registration and observations); removed and changed devices deregister, added
 * and changed ones register; an adapter is rebuilt when it or its set of devices changed. */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "gateway.h"

static bool str_eq(const char *a, const char *b) {
    return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static bool mb_ref_eq(const struct cfg_mb_ref *a, const struct cfg_mb_ref *b) {
    return a->set == b->set && (!a->set || (a->table == b->table && a->addr == b->addr));
}

static bool binding_eq(const struct cfg_binding *a, const struct cfg_binding *b) {
    if (a->kind != b->kind)
        return false;
    if (a->kind == CFG_BIND_CONST)
        return str_eq(a->u.value, b->u.value);
    if (a->kind == CFG_BIND_MODBUS) {
        const struct cfg_modbus_binding *x = &a->u.modbus, *y = &b->u.modbus;
        return mb_ref_eq(&x->read, &y->read) && mb_ref_eq(&x->write, &y->write) &&
               x->type == y->type && x->type_arg == y->type_arg && x->count == y->count &&
               x->order == y->order && x->scale == y->scale && x->offset == y->offset &&
               x->readback == y->readback;
    }
    const struct cfg_mqtt_binding *x = &a->u.mqtt, *y = &b->u.mqtt;
    return str_eq(x->topic, y->topic) && str_eq(x->json, y->json) && x->format == y->format &&
           x->has_qos == y->has_qos && x->qos == y->qos && x->has_write == y->has_write &&
           (!x->has_write ||
            (str_eq(x->write.topic, y->write.topic) && str_eq(x->write.json, y->write.json) &&
             x->write.qos == y->write.qos && x->write.retain == y->write.retain &&
             x->write.format == y->write.format));
}

static bool adapter_eq(const struct cfg_adapter *a, const struct cfg_adapter *b) {
    return str_eq(a->name, b->name) && a->type == b->type && a->timeout_ms == b->timeout_ms &&
           a->poll_ms == b->poll_ms && str_eq(a->host, b->host) && a->port == b->port &&
           str_eq(a->device, b->device) && a->baud == b->baud && a->parity == b->parity &&
           a->data_bits == b->data_bits && a->stop_bits == b->stop_bits && a->rs485 == b->rs485 &&
           str_eq(a->client_id, b->client_id) && str_eq(a->username, b->username) &&
           str_eq(a->password, b->password) && a->tls.enabled == b->tls.enabled &&
           str_eq(a->tls.ca, b->tls.ca) && str_eq(a->tls.cert, b->tls.cert) &&
           str_eq(a->tls.key, b->tls.key) && str_eq(a->tls.psk, b->tls.psk) &&
           str_eq(a->tls.psk_identity, b->tls.psk_identity) && a->protocol == b->protocol &&
           a->clean_session == b->clean_session && a->keepalive_s == b->keepalive_s &&
           a->session_expiry_s == b->session_expiry_s && a->qos == b->qos;
}

static bool device_eq(const struct cfg_device *a, const struct cfg_device *b) {
    if (!str_eq(a->name, b->name) || !str_eq(a->endpoint, b->endpoint) ||
        !str_eq(a->profile->name, b->profile->name) || !adapter_eq(a->adapter, b->adapter) ||
        a->unit != b->unit || a->poll_ms != b->poll_ms || a->nres != b->nres ||
        !str_eq(a->discover, b->discover) || !str_eq(a->availability, b->availability) ||
        a->max_devices != b->max_devices)
        return false;
    for (size_t i = 0; i < a->nres; i++) {
        const struct cfg_resource *x = &a->res[i], *y = &b->res[i];
        if (x->obj != y->obj || x->inst != y->inst || x->res != y->res || !binding_eq(&x->b, &y->b))
            return false;
    }
    return true;
}

/* Settings every endpoint depends on: when they change, every device registers anew. */
/* Same credentials: a changed key or certificate means new DTLS sessions, so a re-registration. */
static bool security_eq(const struct cfg_security *a, const struct cfg_security *b) {
    return a->mode == b->mode && str_eq(a->identity, b->identity) && a->psk_len == b->psk_len &&
           (a->psk_len == 0 || memcmp(a->psk, b->psk, a->psk_len) == 0) &&
           str_eq(a->cert, b->cert) && str_eq(a->key, b->key) && str_eq(a->server_ca, b->server_ca);
}

static bool lwm2m_eq(const struct cfg_lwm2m *a, const struct cfg_lwm2m *b) {
    if (a->mode != b->mode || a->lifetime != b->lifetime || !str_eq(a->binding, b->binding) ||
        a->version != b->version || a->nservers != b->nservers)
        return false;
    /* Notification Storing is a server setting and the queues are opened with the endpoint */
    if (a->store.enabled != b->store.enabled ||
        (a->store.enabled && (a->store.max_entries != b->store.max_entries ||
                              a->store.max_bytes != b->store.max_bytes)))
        return false;
    const struct cfg_server *x = a->bootstrap, *y = b->bootstrap;
    if ((x == NULL) != (y == NULL) ||
        (x != NULL && (!str_eq(x->uri, y->uri) || !security_eq(&x->security, &y->security))))
        return false;
    for (size_t i = 0; i < a->nservers; i++) {
        x = &a->servers[i];
        y = &b->servers[i];
        if (!str_eq(x->uri, y->uri) || x->short_server_id != y->short_server_id ||
            x->lifetime != y->lifetime || !security_eq(&x->security, &y->security))
            return false;
    }
    return true;
}

/* The resolved addresses of servers whose config did not change: a host name may point
 * elsewhere now. Logs each one that moved. */
static bool addresses_eq(struct gw *g, const struct cfg *nc, gw_uri_table *uris) {
    bool eq = true;
    for (size_t i = 0; i <= GW_BS_SLOT; i++) {
        bool used = i == GW_BS_SLOT ? nc->lwm2m.bootstrap != NULL : i < nc->lwm2m.nservers;
        if (!used || strcmp(g->server_uri[i], (*uris)[i]) == 0)
            continue;
        if (g->server_uri[i][0] != '\0')
            BR_INFO(&g->log, "reload: server %s is now %s", g->server_uri[i], (*uris)[i]);
        eq = false;
    }
    return eq;
}

static bool models_eq(const struct cfg_lwm2m *a, const struct cfg_lwm2m *b) {
    if (a->nmodels != b->nmodels)
        return false;
    for (size_t i = 0; i < a->nmodels; i++)
        if (!str_eq(a->models[i], b->models[i]))
            return false;
    return true;
}

static const struct cfg_device *new_device(const struct cfg *nc, const char *name) {
    for (size_t i = 0; i < nc->ndevices; i++)
        if (nc->devices[i].name != NULL && strcmp(nc->devices[i].name, name) == 0)
            return &nc->devices[i];
    return NULL;
}

/* The discovery rule of nc equal to old (same adapter, pattern, profile and bindings). */
static const struct cfg_device *new_rule(const struct cfg *nc, const struct cfg_device *old) {
    for (size_t i = 0; i < nc->ndevices; i++)
        if (nc->devices[i].discover != NULL && device_eq(old, &nc->devices[i]))
            return &nc->devices[i];
    return NULL;
}

/* What a running device becomes in nc: its configured entry, or for a discovered device its
 * rule; NULL when there is none. */
static const struct cfg_device *new_cfg_of(const struct br_device *d, const struct cfg *nc) {
    return d->discovered ? new_rule(nc, d->cfg) : new_device(nc, d->name);
}

/* Discovery rules of adapter name: each old one has an equal new one, and as many. */
static bool rules_kept(const struct cfg *oc, const struct cfg *nc, const char *name) {
    size_t old_n = 0, new_n = 0;
    for (size_t i = 0; i < oc->ndevices; i++) {
        const struct cfg_device *r = &oc->devices[i];
        if (r->discover == NULL || strcmp(r->adapter->name, name) != 0)
            continue;
        if (new_rule(nc, r) == NULL)
            return false;
        old_n++;
    }
    for (size_t i = 0; i < nc->ndevices; i++)
        new_n += nc->devices[i].discover != NULL && strcmp(nc->devices[i].adapter->name, name) == 0;
    return old_n == new_n;
}

/* An adapter instance survives when its config and discovery rules are unchanged, every device
 * it serves now is kept, and no new device joins it. */
static bool adapter_kept(struct gw *g, struct gw_adapter *ga, const struct cfg *nc) {
    const struct cfg_adapter *na = cfg_adapter_find(nc, ga->name);
    if (na == NULL || !adapter_eq(ga->cfg, na) || !rules_kept(g->cfg, nc, ga->name))
        return false;
    size_t old_n = 0, new_n = 0;
    for (struct br_device *d = g->devices; d != NULL; d = d->next) {
        if (strcmp(d->cfg->adapter->name, ga->name) != 0)
            continue;
        const struct cfg_device *nd = new_cfg_of(d, nc);
        if (nd == NULL || !device_eq(d->cfg, nd))
            return false;
        old_n += !d->discovered;
    }
    for (size_t i = 0; i < nc->ndevices; i++)
        new_n +=
            nc->devices[i].discover == NULL && strcmp(nc->devices[i].adapter->name, ga->name) == 0;
    return old_n == new_n;
}

static bool device_kept(const struct br_device *d, const struct cfg *nc, bool all) {
    const struct cfg_device *nd = all ? NULL : new_cfg_of(d, nc);
    /* A discovered device lives in its adapter instance: a rebuilt one discovers it anew. */
    return nd != NULL && device_eq(d->cfg, nd) && (!d->discovered || d->adapter != NULL);
}

static bool exists(struct gw *g, const char *name) {
    return gw_device_find(g, name) != NULL;
}

/* Stops and frees the adapter instances that do not survive; their devices lose them. */
static void drop_adapters(struct gw *g, const struct cfg *nc, bool all) {
    for (struct gw_adapter **pp = &g->adapters; *pp != NULL;) {
        struct gw_adapter *ga = *pp;
        if (!all && adapter_kept(g, ga, nc)) {
            ga->cfg = cfg_adapter_find(nc, ga->name);
            pp = &ga->next;
            continue;
        }
        BR_INFO(&g->log, "reload: adapter %s is rebuilt", ga->name);
        for (struct br_device *d = g->devices; d != NULL; d = d->next)
            if (d->adapter != NULL && d->adapter == ga->a)
                d->adapter = NULL;
        *pp = ga->next;
        gw_adapter_free(ga); /* stops it: pending writes complete before the devices go */
    }
}

/* Deregisters and frees the devices that are gone or changed; re-points the kept ones. */
static size_t drop_devices(struct gw *g, const struct cfg *nc, bool all, size_t *kept) {
    size_t dropped = 0;
    for (struct br_device **pp = &g->devices; *pp != NULL;) {
        struct br_device *d = *pp;
        if (device_kept(d, nc, all)) {
            br_device_rebind(d, new_cfg_of(d, nc));
            (*kept)++;
            pp = &d->next;
            continue;
        }
        bool removed = new_device(nc, d->name) == NULL;
        br_log_write(&g->log, BR_LOG_INFO, d->name, d->endpoint, "reload: %s, deregistering",
                     removed ? "removed" : "changed");
        /* A changed device is back at once and delivers its queue; a discovered one whose
         * rule changed may be discovered again, so it keeps its queue too. */
        if (removed && !d->discovered)
            gw_report_forget(g, d);
        gw_endpoint_detach(g, d);
        *pp = d->next;
        g->ndevices--;
        dropped++;
        event_free(d->down_timer);
        br_device_free(d);
    }
    return dropped;
}

static void restart_http(struct gw *g, const struct cfg *old) {
    const struct cfg_gateway *a = &old->gateway, *b = &g->cfg->gateway;
    if (str_eq(a->http_host, b->http_host) && a->http_port == b->http_port)
        return;
    gw_http_free(g->http);
    g->http = NULL;
    if (b->http_host != NULL && gw_http_start(g, b->http_host, b->http_port, &g->http) != 0)
        BR_ERR(&g->log, "reload: HTTP listener %s:%u could not start", b->http_host, b->http_port);
}

void gw_servers_moved(struct gw *g) {
    for (struct br_device *d = g->devices; d != NULL; d = d->next)
        gw_endpoint_detach(g, d);
    gw_host_retire(g);
    for (struct br_device *d = g->devices; d != NULL; d = d->next)
        if (d->state != BR_DEV_DOWN_DEREGISTERED)
            gw_endpoint_attach(g, d);
}

void gw_reload(struct gw *g) {
    const struct cfg *nc, *old = g->cfg;
    struct cfg_errors errs;
    g->reloads++;
    BR_INFO(&g->log, "SIGHUP: reloading %s", g->cfg_path);
    if (cfg_load(g->cfg_path, &nc, &errs) != 0 || gw_cfg_runnable(nc) != 0) {
        char line[600];
        for (size_t i = 0; nc == NULL && i < errs.n; i++) {
            cfg_error_format(&errs, i, line, sizeof(line));
            BR_ERR(&g->log, "reload: %s", line);
        }
        BR_ERR(&g->log, "reload failed: keeping the running configuration");
        cfg_free(nc);
        g->reload_failures++;
        return;
    }
    gw_uri_table uris;
    if (gw_resolve_servers(nc, &g->log, &uris) != 0) {
        BR_ERR(&g->log, "reload failed: keeping the running configuration");
        cfg_free(nc);
        g->reload_failures++;
        return;
    }
    if (!models_eq(&old->lwm2m, &nc->lwm2m))
        BR_WARN(&g->log, "reload: lwm2m.models changed; new models take effect on restart");
    bool all = !lwm2m_eq(&old->lwm2m, &nc->lwm2m) || !addresses_eq(g, nc, &uris) ||
               ((nc->lwm2m.store.enabled || nc->lwm2m.bootstrap != NULL) &&
                !str_eq(old->gateway.state_dir, nc->gateway.state_dir));
    if (gw_state_dir_prepare(g, nc) != 0) {
        BR_ERR(&g->log, "reload failed: keeping the running configuration");
        cfg_free(nc);
        g->reload_failures++;
        return;
    }
    if (all)
        BR_INFO(&g->log, "reload: lwm2m settings changed: every endpoint registers anew");
    size_t kept = 0, before = g->ndevices;
    drop_adapters(g, nc, all);
    size_t dropped = drop_devices(g, nc, all, &kept);
    if (all)
        gw_host_retire(g); /* gateway mode: the one endpoint registers anew, or goes (mode) */
    g->cfg = nc;
    memcpy(g->server_uri, uris, sizeof(uris));
    gw_apply_settings(g);
    int rc = gw_devices_create(g, nc, exists);
    if (rc == 0)
        rc = gw_adapters_create(g);
    gw_report_apply_host(g); /* gateway mode, endpoint kept: notifications may have changed */
    for (struct br_device *d = g->devices; d != NULL; d = d->next) {
        if (d->ep == NULL && d->gwdev == NULL && d->state != BR_DEV_DOWN_DEREGISTERED)
            gw_endpoint_attach(g, d);
        else
            gw_report_apply(g, d); /* kept: notifications and send may have changed */
    }
    gw_dns_apply(g); /* logged */
    restart_http(g, old);
    cfg_free(old);
    BR_INFO(&g->log, "reload done: %zu kept, %zu removed or changed, %zu added%s", kept, dropped,
            g->ndevices - (before - dropped), rc != 0 ? " (with errors)" : "");
}
