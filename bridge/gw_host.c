/* SPDX-License-Identifier: Apache-2.0 */
/* `lwm2m.mode: gateway` (LwM2M 1.2 Gateway): the one endpoint the gateway registers, its own
 * Device object (/3/0), and each virtual device hosted on it as an IoT device under a path
 * prefix (the README's configuration reference says how the prefix is chosen). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "gateway.h"
#include "lwm2m/error.h"
#include "gw_version.h"

#define OID_DEVICE 3

/* The host's provider context. h comes first: on_event reads every endpoint's context as a
 * struct gw_handle, and the host's has no device. */
struct gw_host {
    struct gw_handle h;
    struct gw *g;
};

#define RID_ERROR_CODE 11

/* 11 (Error Code) is mandatory in the Device object; the gateway reports 0, "no error". */
static const uint16_t self_res[] = {0, 1, 2, 3, RID_ERROR_CODE, 16, 17};

static int self_objects(void *pctx, lwm2m_id_fn fn, void *fctx) {
    (void)pctx;
    return fn(fctx, OID_DEVICE);
}

static int self_instances(void *pctx, uint16_t oid, lwm2m_id_fn fn, void *fctx) {
    (void)pctx;
    return oid == OID_DEVICE ? fn(fctx, 0) : 0;
}

static int self_resources(void *pctx, uint16_t oid, uint16_t iid, lwm2m_id_fn fn, void *fctx) {
    (void)pctx;
    if (oid != OID_DEVICE || iid != 0)
        return LWM2M_ERR_NOTFOUND;
    for (size_t i = 0; i < sizeof(self_res) / sizeof(self_res[0]); i++) {
        int rc = fn(fctx, self_res[i]);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int self_res_instances(void *pctx, const struct lwm2m_path *p, lwm2m_id_fn fn, void *fctx) {
    (void)pctx;
    if (p->ids[0] != OID_DEVICE || p->ids[1] != 0 || p->ids[2] != RID_ERROR_CODE)
        return 0;
    return fn(fctx, 0);
}

static int self_read(void *pctx, const struct lwm2m_path *p, struct lwm2m_value *out) {
    struct gw_host *host = pctx;
    const char *s = NULL;
    if (p->len == 4 && p->ids[0] == OID_DEVICE && p->ids[1] == 0 && p->ids[2] == RID_ERROR_CODE &&
        p->ids[3] == 0) {
        *out = lwm2m_value_int(0);
        return 0;
    }
    if (p->len != 3 || p->ids[0] != OID_DEVICE || p->ids[1] != 0)
        return LWM2M_ERR_NOTFOUND;
    switch (p->ids[2]) {
    case 0:
    case 1:
        s = "lwm2m-gateway";
        break;
    case 2:
        s = host->g->cfg->gateway.id;
        break;
    case 3:
        s = GW_VERSION;
        break;
    case 16:
        s = host->g->cfg->lwm2m.binding != NULL ? host->g->cfg->lwm2m.binding : "U";
        break;
    case 17:
        s = "LwM2M Gateway";
        break;
    default:
        return LWM2M_ERR_NOTFOUND;
    }
    *out = lwm2m_value_string(s, strlen(s));
    return 0;
}

static const struct lwm2m_provider self_provider = {
    .list_objects = self_objects,
    .list_instances = self_instances,
    .list_resources = self_resources,
    .list_res_instances = self_res_instances,
    .read = self_read,
};

bool gw_host_mode(const struct gw *g) {
    return g->cfg->lwm2m.mode == CFG_MODE_GATEWAY;
}

/* The one registration, made on first use. */
static int host_open(struct gw *g) {
    const struct cfg_lwm2m *l = &g->cfg->lwm2m;
    char name[256];
    if (g->host != NULL)
        return 0;
    int len =
        cfg_template_expand(l->endpoint_name, g->cfg->gateway.id, NULL, -1, name, sizeof(name));
    if (len < 0) {
        BR_ERR(&g->log,
               "lwm2m.endpoint_name '%s' cannot name the gateway endpoint "
               "(gateway mode allows {gateway} only)",
               l->endpoint_name);
        return LWM2M_ERR_INVALID;
    }
    struct gw_servers *ss = malloc(sizeof(*ss));
    struct gw_host *host = calloc(1, sizeof(*host));
    if (host == NULL || ss == NULL) {
        free(ss);
        free(host);
        return LWM2M_ERR_NOMEM;
    }
    gw_server_cfgs(g, NULL, ss);
    host->g = g;
    /* Register on the next pass: the devices attached in this one are then in the Register. */
    struct lwm2m_endpoint_cfg ec = {.name = name,
                                    .servers = ss->srv,
                                    .nservers = ss->n,
                                    .bootstrap = ss->bootstrap,
                                    .state_dir = g->cfg->gateway.state_dir,
                                    .defer_register = true};
    int rc = lwm2m_endpoint_add(g->eng, &ec, &self_provider, host, &g->host);
    free(ss);
    if (rc != 0) {
        free(host);
        g->host = NULL;
        const char *why = lwm2m_engine_dtls_error(g->eng);
        BR_ERR(&g->log, "cannot add the gateway endpoint %s: %s%s%s", name, lwm2m_strerror(rc),
               why[0] != '\0' ? ": " : "", why);
        return rc;
    }
    g->host_ctx = host;
    gw_report_apply_host(g); /* logged; the endpoint serves without its reporting options */
    BR_INFO(&g->log, "gateway mode: endpoint %s, local port %u", name,
            lwm2m_endpoint_port(g->host));
    return 0;
}

/* A device name is its prefix when it can be one (letters, digits, '-', '_', starting with a
 * letter, at most 24) and is free; otherwise "dev<N>" with the lowest free N from 1. A device
 * back from down asks for the prefix it had first: its paths and its queue file are named by it. */
static int host_add(struct gw *g, struct br_device *d, struct gw_handle *h) {
    int rc = LWM2M_ERR_STATE;
    if (d->prefix[0] != '\0')
        rc = lwm2m_endpoint_add_device(g->host, d->prefix, d->name, &br_device_provider, h,
                                       &d->gwdev);
    if (rc != 0)
        rc =
            lwm2m_endpoint_add_device(g->host, d->name, d->name, &br_device_provider, h, &d->gwdev);
    for (unsigned i = 1; rc == LWM2M_ERR_INVALID || rc == LWM2M_ERR_STATE; i++) {
        char prefix[16];
        snprintf(prefix, sizeof(prefix), "dev%u", i);
        rc = lwm2m_endpoint_add_device(g->host, prefix, d->name, &br_device_provider, h, &d->gwdev);
        if (rc != LWM2M_ERR_STATE)
            break;
    }
    return rc;
}

int gw_host_attach(struct gw *g, struct br_device *d) {
    int rc = host_open(g);
    struct gw_handle *h = rc == 0 ? calloc(1, sizeof(*h)) : NULL;
    if (rc == 0 && h == NULL)
        rc = LWM2M_ERR_NOMEM;
    if (rc != 0)
        return rc;
    h->dev = d;
    rc = host_add(g, d, h);
    if (rc != 0) {
        free(h);
        d->gwdev = NULL;
        br_log_write(&g->log, BR_LOG_ERROR, d->name, NULL, "cannot add IoT device: %s",
                     lwm2m_strerror(rc));
        return rc;
    }
    d->handle = h;
    snprintf(d->prefix, sizeof(d->prefix), "%s", lwm2m_gwdev_prefix(d->gwdev));
    d->state = lwm2m_endpoint_registered(g->host) ? BR_DEV_REGISTERED : BR_DEV_REGISTERING;
    gw_report_apply(g, d); /* its Send and queue ride on the host's registration */
    br_log_write(&g->log, BR_LOG_INFO, d->name, lwm2m_endpoint_name(g->host),
                 "IoT device /25/%u, prefix /%s", lwm2m_gwdev_instance(d->gwdev),
                 lwm2m_gwdev_prefix(d->gwdev));
    return 0;
}

void gw_host_detach(struct gw *g, struct br_device *d) {
    struct gw_handle *h = d->handle;
    lwm2m_endpoint_remove_device(d->gwdev); /* synchronous: the provider is not called again */
    d->gwdev = NULL;
    d->handle = NULL;
    if (h != NULL) {
        h->dev = NULL; /* a bus write may still complete: keep it as a tombstone */
        h->next = g->tombs;
        g->tombs = h;
    }
}

void gw_host_close(struct gw *g) {
    if (g->host == NULL)
        return;
    struct lwm2m_endpoint *ep = g->host;
    g->host = NULL;
    lwm2m_endpoint_remove(ep); /* De-registers; g->host_ctx stays until teardown */
}

void gw_host_retire(struct gw *g) {
    struct gw_host *host = g->host_ctx;
    gw_host_close(g);
    if (host == NULL)
        return;
    /* The engine may still call the provider until the De-register is answered: the context
     * waits among the tombstones (its handle comes first), which gc_cb frees once the engine
     * has let go of every endpoint the bridge gave up. */
    g->host_ctx = NULL;
    host->h.next = g->tombs;
    g->tombs = &host->h;
    event_active(g->ev_gc, EV_TIMEOUT, 1);
}

void gw_host_registered(struct gw *g, bool reg) {
    for (struct br_device *d = g->devices; d != NULL; d = d->next)
        if (d->gwdev != NULL)
            d->state = reg ? BR_DEV_REGISTERED : BR_DEV_REGISTERING;
}
