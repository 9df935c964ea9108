/* SPDX-License-Identifier: Apache-2.0 */
/* The bridge's side of MQTT: maps an mqtt cfg_adapter, its configured devices and its discovery
 * rules to the MQTT adapter's config structs, and turns the adapter's discoveries into virtual
 * devices (each its own endpoint) whose resources are attached with mq_adapter_attach. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gateway.h"
#include "lwm2m/error.h"
#include "mqtt/mq.h"

/* Strings built for one create call (templates with {gateway} expanded); the adapter copies them,
 * so they are freed right after. */
struct strpool {
    char **v;
    size_t n, cap;
};

static void pool_free(struct strpool *p) {
    for (size_t i = 0; i < p->n; i++)
        free(p->v[i]);
    free(p->v);
}

/* tmpl with {gateway} replaced by the gateway id and {device} kept for the adapter to fill. */
static const char *pool_tmpl(struct strpool *p, const struct gw *g, const char *tmpl) {
    char buf[1024];
    if (tmpl == NULL)
        return NULL;
    int len = cfg_template_expand(tmpl, g->cfg->gateway.id, "{device}", -1, buf, sizeof(buf));
    if (len < 0 || (p->n == p->cap && p->cap > SIZE_MAX / 2 / sizeof(char *)))
        return NULL;
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 16;
        char **v = realloc(p->v, cap * sizeof(*v));
        if (v == NULL)
            return NULL;
        p->v = v;
        p->cap = cap;
    }
    return (p->v[p->n] = strdup(buf)) != NULL ? p->v[p->n++] : NULL;
}

static void conn_from_cfg(struct gw *g, const struct cfg_adapter *c, struct strpool *pool,
                          struct mq_conn_cfg *m) {
    memset(m, 0, sizeof(*m));
    m->name = c->name;
    m->host = c->host;
    m->port = c->port;
    m->client_id = pool_tmpl(pool, g, c->client_id);
    m->protocol = c->protocol == 5 ? MQ_PROTO_V5 : MQ_PROTO_V311;
    m->clean_session = c->clean_session;
    m->session_expiry_set = true; /* the loader gave it its default (an hour when persistent) */
    m->session_expiry_s = c->session_expiry_s;
    m->keepalive_s = (uint16_t)(c->keepalive_s > 65535 ? 65535 : c->keepalive_s);
    m->username = c->username;
    m->password.value = c->password;
    m->tls_ca_file = c->tls.ca;
    m->tls_cert_file = c->tls.cert;
    m->tls_key_file = c->tls.key;
    m->psk_identity = c->tls.psk_identity;
    m->psk_key.value = c->tls.psk;
    m->connect_timeout_ms = c->timeout_ms;
}

/* The adapter value type to ask for: the resource's, so that the adapter's decoders apply their
 * rules (text "on"/"off" for a boolean, "0012" stays a string) and count what does not fit. */
static uint8_t want_type(const struct lwm2m_resource_def *def) {
    switch (def->type) {
    case LWM2M_TYPE_STRING:
    case LWM2M_TYPE_CORELNK:
        return ADAPTER_V_STRING;
    case LWM2M_TYPE_OPAQUE:
        return ADAPTER_V_BYTES;
    case LWM2M_TYPE_BOOLEAN:
        return ADAPTER_V_BOOL;
    case LWM2M_TYPE_INTEGER:
    case LWM2M_TYPE_TIME:
        return ADAPTER_V_INT;
    case LWM2M_TYPE_UNSIGNED:
        return ADAPTER_V_UINT;
    case LWM2M_TYPE_FLOAT:
        return ADAPTER_V_DOUBLE;
    default:
        return ADAPTER_V_NONE; /* objlnk, none: as the payload says (the cache refuses) */
    }
}

#define QOS_ADAPTER 0xFF /* a point without its own `qos`: fill_cfg gives it the adapter's */

/* The point of one MQTT-bound resource (def from the model). Same order of formats in cfg and
 * mq: text, json, hex, base64. */
static int point_from(struct gw *g, const struct cfg_binding *cb,
                      const struct lwm2m_resource_def *def, struct strpool *pool,
                      struct mq_point_cfg *p) {
    const struct cfg_mqtt_binding *b = &cb->u.mqtt;
    memset(p, 0, sizeof(*p));
    p->name = "resource";
    p->topic = pool_tmpl(pool, g, b->topic);
    p->format = (enum mq_format)b->format;
    p->json_pointer = b->json;
    p->type = want_type(def);
    p->qos = b->has_qos ? b->qos : QOS_ADAPTER;
    if (b->has_write) {
        p->cmd_topic = pool_tmpl(pool, g, b->write.topic);
        p->cmd_format = (enum mq_format)b->write.format;
        p->cmd_json_pointer = b->write.json;
        p->cmd_qos = b->write.qos;
        p->cmd_retain = b->write.retain;
        if (p->cmd_topic == NULL)
            return -ENOMEM;
    }
    return (b->topic != NULL && p->topic == NULL) ? -ENOMEM : 0;
}

/* Points of device d, one per MQTT-bound resource in d->res order; sets each resource's write
 * pointer. users (n entries, may be NULL) receives the user pointers in the same order. */
static size_t device_points(struct gw *g, struct br_device *d, struct strpool *pool,
                            struct mq_point_cfg *pts, void **users, int *rc) {
    size_t n = 0;
    for (size_t i = 0; i < d->nres; i++) {
        struct br_res *r = &d->res[i];
        r->wuser = NULL;
        if (r->b->kind != CFG_BIND_MQTT)
            continue;
        const struct cfg_mqtt_binding *b = &r->b->u.mqtt;
        r->wuser = b->has_write ? &r->rtap : NULL;
        /* Write-only: nothing will report the new value, so a PUBACK sets the cache. */
        r->assume_written = b->has_write && b->topic == NULL;
        if (pts != NULL) {
            if (*rc == 0)
                *rc = point_from(g, r->b, r->def, pool, &pts[n]);
            pts[n].user = &r->rtap;
        }
        if (users != NULL)
            users[n] = &r->rtap;
        n++;
    }
    return n;
}

/* The points of a discovery rule: its MQTT-bound resources the model knows, in order (the same
 * ones br_device_new keeps, so that device_points lines up with them at attach time). */
static size_t rule_points(struct gw *g, const struct cfg_device *rule, struct strpool *pool,
                          struct mq_point_cfg *pts, int *rc) {
    size_t n = 0;
    for (size_t i = 0; i < rule->nres; i++) {
        const struct cfg_resource *c = &rule->res[i];
        const struct lwm2m_resource_def *def = lwm2m_model_resource(g->model, c->obj, c->res);
        if (c->b.kind != CFG_BIND_MQTT || def == NULL)
            continue;
        if (*rc == 0)
            *rc = point_from(g, &c->b, def, pool, &pts[n]);
        n++;
    }
    return n;
}

static bool is_rule_of(const struct cfg_device *cd, const struct gw_adapter *ga) {
    return cd->discover != NULL && strcmp(cd->adapter->name, ga->name) == 0;
}

/* Fills mc's devices and discovery arrays (allocated here; freed by the caller with pts). */
static int fill_cfg(struct gw *g, struct gw_adapter *ga, struct br_device **devs, size_t n,
                    struct strpool *pool, struct mq_adapter_cfg *mc, struct mq_point_cfg **pts) {
    size_t maxpts = 0, nrules = 0;
    for (size_t i = 0; i < n; i++)
        maxpts += devs[i]->nres;
    for (size_t i = 0; i < g->cfg->ndevices; i++)
        if (is_rule_of(&g->cfg->devices[i], ga)) {
            maxpts += g->cfg->devices[i].nres;
            nrules++;
        }
    struct mq_device_cfg *dcs = calloc(n ? n : 1, sizeof(*dcs));
    struct mq_discovery_cfg *rules = calloc(nrules ? nrules : 1, sizeof(*rules));
    *pts = calloc(maxpts ? maxpts : 1, sizeof(**pts));
    mc->devices = dcs;
    mc->discovery = rules;
    if (dcs == NULL || rules == NULL || *pts == NULL)
        return -ENOMEM;
    int rc = 0;
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        struct br_device *d = devs[i];
        size_t k = device_points(g, d, pool, *pts + used, NULL, &rc);
        dcs[mc->n_devices++] = (struct mq_device_cfg){
            .name = d->name, .points = *pts + used, .n_points = k, .user = d};
        used += k;
    }
    for (size_t i = 0; i < g->cfg->ndevices; i++) {
        const struct cfg_device *cd = &g->cfg->devices[i];
        if (!is_rule_of(cd, ga))
            continue;
        size_t k = rule_points(g, cd, pool, *pts + used, &rc);
        /* The discover filter carries its devices' topics: the highest QoS any of them asks. */
        uint8_t qos = ga->cfg->qos;
        for (size_t j = 0; j < k; j++)
            if ((*pts)[used + j].qos != QOS_ADAPTER && (*pts)[used + j].qos > qos)
                qos = (*pts)[used + j].qos;
        rules[mc->n_discovery++] = (struct mq_discovery_cfg){.topic = cd->discover,
                                                             .availability_topic = cd->availability,
                                                             .max_devices = cd->max_devices,
                                                             .points = *pts + used,
                                                             .n_points = k,
                                                             .qos = qos};
        used += k;
    }
    for (size_t i = 0; i < used; i++)
        if ((*pts)[i].qos == QOS_ADAPTER)
            (*pts)[i].qos = ga->cfg->qos;
    return rc;
}

int gw_mq_build(struct gw *g, struct gw_adapter *ga, struct br_device **devs, size_t n) {
    struct strpool pool = {0};
    struct mq_adapter_cfg mc = {0};
    struct mq_point_cfg *pts = NULL;
    conn_from_cfg(g, ga->cfg, &pool, &mc.conn);
    int rc = fill_cfg(g, ga, devs, n, &pool, &mc, &pts);
    const char *why = NULL;
    if (rc == 0 && mq_adapter_cfg_check(&mc, &why) != 0) {
        BR_ERR(&g->log, "adapter %s: MQTT configuration refused: %s; its devices answer 5.03",
               ga->name, why ? why : "?");
    } else if (rc == 0) {
        rc = mq_adapter_ops.create(&mc, g->base, &ga->sink, &ga->a);
        if (rc == 0 && mc.n_discovery > 0)
            BR_INFO(&g->log, "adapter %s: %zu discovery rule%s", ga->name, mc.n_discovery,
                    mc.n_discovery == 1 ? "" : "s");
    }
    free((void *)mc.devices);
    free((void *)mc.discovery);
    free(pts);
    pool_free(&pool);
    return rc;
}

/* ---- discovery ------------------------------------------------------------------------------ */

/* The rule whose pattern the discovering topic matches (the adapter tries rules in this order). */
static const struct cfg_device *rule_for(struct gw *g, struct gw_adapter *ga, const char *topic) {
    for (size_t i = 0; i < g->cfg->ndevices; i++) {
        const struct cfg_device *cd = &g->cfg->devices[i];
        if (!is_rule_of(cd, ga))
            continue;
        /* "online" on the availability topic discovers too */
        if ((cd->discover_filter != NULL && mq_topic_match(cd->discover_filter, topic)) ||
            (cd->availability != NULL && mq_template_match(cd->availability, topic, NULL, NULL)))
            return cd;
    }
    return NULL;
}

static int attach(struct gw *g, struct gw_adapter *ga, struct br_device *d) {
    void **users = calloc(d->nres ? d->nres : 1, sizeof(*users));
    if (users == NULL)
        return -ENOMEM;
    int rc = 0;
    size_t n = device_points(g, d, NULL, NULL, users, &rc);
    rc = mq_adapter_attach(ga->a, d->name, d, users, n);
    free(users);
    return rc;
}

/* on_discovered: a new device on a discovery topic becomes a virtual device with its own
 * endpoint. Values of a device that cannot be created stay unattached (counted by the adapter). */
void gw_mq_on_discovered(void *ctx, const char *device, const char *source) {
    struct gw_adapter *ga = ctx;
    struct gw *g = ga->gw;
    const struct cfg_device *rule = rule_for(g, ga, source);
    char ep[256];
    if (g->stopping || rule == NULL || ga->a == NULL)
        return;
    int len = cfg_template_expand(g->cfg->lwm2m.endpoint_name, g->cfg->gateway.id, device, -1, ep,
                                  sizeof(ep));
    if (len < 0) {
        BR_WARN(&g->log, "discovered '%s': no endpoint name from '%s' (%s); ignored", device,
                g->cfg->lwm2m.endpoint_name, len == -ENOSPC ? "too long" : "needs {unit}");
        return;
    }
    for (struct br_device *o = g->devices; o != NULL; o = o->next) {
        if (strcmp(o->name, device) == 0 || strcmp(o->endpoint, ep) == 0) {
            BR_WARN(&g->log, "discovered '%s' on %s: device or endpoint '%s' exists; ignored",
                    device, source, ep);
            return;
        }
    }
    struct br_device *d = NULL;
    if (gw_device_add(g, rule, device, ep, &d) != 0) {
        BR_ERR(&g->log, "discovered '%s': out of memory; ignored", device);
        return;
    }
    d->adapter = ga->a;
    int rc = attach(g, ga, d);
    if (rc != 0) {
        br_log_write(&g->log, BR_LOG_ERROR, d->name, d->endpoint, "cannot attach its points: %s",
                     strerror(-rc));
        gw_device_release(g, d);
        return;
    }
    br_log_write(&g->log, BR_LOG_INFO, d->name, d->endpoint, "discovered on %s", source);
    gw_endpoint_attach(g, d);
}
