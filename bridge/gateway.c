/* SPDX-License-Identifier: Apache-2.0 */
/* The gateway's lifecycle: start-up (config, data model, engine, devices, endpoints, adapters,
 * HTTP), the adapter sink, registration events with progress logging, the Device Reboot and
 * link-down handling, discovered devices leaving (gone), signals through libevent (SIGHUP reload,
 * SIGTERM/SIGINT stop) and a bounded shutdown that deregisters every endpoint. Reload diffing
 * lives in gw_reload.c, MQTT mapping and discovery in gw_mqtt.c. */
#include "gateway.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <event2/event.h>

#include "lwm2m/error.h"

#define EXIT_INVALID 2
#define STOP_BOUND_S 5 /* SIGTERM: De-registers unanswered by then are given up */

static uint64_t now_ms(void) {
    return coap_clock_mono_ms(NULL);
}

/* ---- endpoints ------------------------------------------------------------------------------ */

static uint8_t sec_mode_of(enum cfg_sec_mode m) {
    return m == CFG_SEC_PSK ? LWM2M_SEC_PSK : m == CFG_SEC_CERT ? LWM2M_SEC_CERT : LWM2M_SEC_NOSEC;
}

/* A server (lwm2m.servers[i], or lwm2m.bootstrap) for the engine, with uri and the PSK identity
 * given (strings borrowed). */
static struct lwm2m_server_cfg server_cfg_of(const struct cfg_lwm2m *l, const struct cfg_server *cs,
                                             const char *uri, const char *identity) {
    const struct cfg_security *sec = &cs->security;
    return (struct lwm2m_server_cfg){.uri = uri,
                                     .ssid = cs->short_server_id,
                                     .lifetime = cs->lifetime,
                                     .binding = l->binding,
                                     .version_minor = (uint8_t)l->version,
                                     .sec_mode = sec_mode_of(sec->mode),
                                     .notification_storing = l->store.enabled,
                                     .psk_identity = identity,
                                     .psk = sec->psk,
                                     .psk_len = sec->psk_len,
                                     .cert_file = sec->cert,
                                     .key_file = sec->key,
                                     .ca_file = sec->server_ca};
}

void gw_server_cfgs(const struct gw *g, const char *device, struct gw_servers *out) {
    const struct cfg *cfg = g->cfg;
    const struct cfg_lwm2m *l = &cfg->lwm2m;
    out->n = l->nservers < GW_MAX_SERVERS ? l->nservers : GW_MAX_SERVERS;
    out->bootstrap = NULL;
    for (size_t i = 0; i <= GW_MAX_SERVERS; i++) {
        const struct cfg_server *cs = i < out->n        ? &l->servers[i]
                                      : i == GW_BS_SLOT ? l->bootstrap
                                                        : NULL;
        if (cs == NULL)
            continue;
        const char *tmpl = cs->security.identity, *identity = NULL;
        /* checked at load: {device} only where there is a device */
        if (tmpl != NULL && cfg_template_expand(tmpl, cfg->gateway.id, device, -1, out->identity[i],
                                                GW_IDENTITY_MAX) >= 0)
            identity = out->identity[i];
        out->srv[i] = server_cfg_of(l, cs, g->server_uri[i], identity);
    }
    if (l->bootstrap != NULL)
        out->bootstrap = &out->srv[GW_BS_SLOT];
}

int gw_endpoint_attach(struct gw *g, struct br_device *d) {
    if (gw_host_mode(g))
        return gw_host_attach(g, d);
    struct gw_servers *ss = malloc(sizeof(*ss)); /* 4 KiB of identities: not on the stack */
    struct gw_handle *h = calloc(1, sizeof(*h));
    if (h == NULL || ss == NULL) {
        free(ss);
        free(h);
        return LWM2M_ERR_NOMEM;
    }
    gw_server_cfgs(g, d->name, ss);
    h->dev = d;
    struct lwm2m_endpoint_cfg ec = {.name = d->endpoint,
                                    .servers = ss->srv,
                                    .nservers = ss->n,
                                    .bootstrap = ss->bootstrap,
                                    .state_dir = g->cfg->gateway.state_dir};
    int rc = lwm2m_endpoint_add(g->eng, &ec, &br_device_provider, h, &d->ep);
    free(ss);
    if (rc != 0) {
        free(h);
        d->ep = NULL;
        const char *why = lwm2m_engine_dtls_error(g->eng);
        br_log_write(&g->log, BR_LOG_ERROR, d->name, d->endpoint, "cannot add endpoint: %s%s%s",
                     lwm2m_strerror(rc), why[0] != '\0' ? ": " : "", why);
        return rc;
    }
    d->handle = h;
    d->state = BR_DEV_REGISTERING;
    gw_report_apply(g, d); /* logged; the endpoint serves without its reporting options */
    br_log_write(&g->log, BR_LOG_DEBUG, d->name, d->endpoint, "endpoint added, local port %u",
                 lwm2m_endpoint_port(d->ep));
    return 0;
}

void gw_endpoint_detach(struct gw *g, struct br_device *d) {
    if (d->gwdev != NULL) {
        gw_host_detach(g, d);
        event_active(g->ev_gc, EV_TIMEOUT, 1);
        return;
    }
    if (d->ep == NULL)
        return;
    struct gw_handle *h = d->handle;
    h->dev = NULL; /* from now on the provider answers "not found" and events are anonymous */
    h->next = g->tombs;
    g->tombs = h;
    d->handle = NULL;
    struct lwm2m_endpoint *ep = d->ep;
    d->ep = NULL;
    lwm2m_endpoint_remove(ep); /* De-registers; the engine frees ep when that is answered */
    event_active(g->ev_gc, EV_TIMEOUT, 1);
}

/* Frees the tombstones once the engine holds no endpoint we let go of; stops the loop when
 * stopping and every endpoint is gone. Runs outside engine callbacks (an event of its own). */
static void gc_cb(evutil_socket_t fd, short what, void *arg) {
    struct gw *g = arg;
    size_t live = 0, total = lwm2m_engine_endpoints(g->eng, NULL);
    for (struct br_device *d = g->devices; d != NULL; d = d->next)
        live += d->ep != NULL;
    live += g->host != NULL;
    if (total == live) {
        while (g->tombs != NULL) {
            struct gw_handle *h = g->tombs;
            g->tombs = h->next;
            free(h);
        }
    }
    for (struct br_device **pp = &g->graveyard; *pp != NULL;) {
        struct br_device *d = *pp;
        if (d->writes_pending > 0) {
            pp = &d->next; /* its completions still point at it: sink_write_done calls us again */
            continue;
        }
        *pp = d->next;
        event_free(d->down_timer);
        br_device_free(d);
    }
    if (g->stopping && total == 0) {
        BR_INFO(&g->log, "every endpoint deregistered");
        event_base_loopexit(g->base, NULL);
    }
}

/* ---- devices -------------------------------------------------------------------------------- */

/* devices[].down_deregister, else gateway.down_deregister; 0: stay registered while down. */
static uint32_t down_deregister_ms(const struct gw *g, const struct br_device *d) {
    return d->cfg->down_deregister_ms ? d->cfg->down_deregister_ms
                                      : g->cfg->gateway.down_deregister_ms;
}

static void down_timer_cb(evutil_socket_t fd, short what, void *arg) {
    struct br_device *d = arg;
    struct gw *g = d->env->ctx;
    if (d->up || (d->ep == NULL && d->gwdev == NULL) || g->stopping)
        return;
    /* Gateway mode: the device leaves /25 (an Update without its instances) instead. */
    br_log_write(&g->log, BR_LOG_WARN, d->name, d->endpoint,
                 d->gwdev != NULL ? "down for %u ms: removed from /25 until it is back"
                                  : "down for %u ms: deregistering until it is back",
                 down_deregister_ms(g, d));
    gw_endpoint_detach(g, d);
    d->state = BR_DEV_DOWN_DEREGISTERED;
}

static void reboot_request(void *ctx, struct br_device *d) {
    struct gw *g = ctx;
    br_log_write(&g->log, BR_LOG_INFO, d->name, d->endpoint, "Reboot: %s",
                 d->adapter ? "reconnecting its adapter and reading every point again"
                            : "no bus adapter to reconnect");
    if (d->adapter == NULL)
        return;
    for (struct gw_adapter *ga = g->adapters; ga != NULL; ga = ga->next)
        if (ga->a != NULL && ga->a == d->adapter)
            ga->reconnect = true;
    event_active(g->ev_reboot, EV_TIMEOUT, 1);
}

/* Runs after the Execute was answered: stop and start re-connects and re-reads every point. */
static void reboot_cb(evutil_socket_t fd, short what, void *arg) {
    struct gw *g = arg;
    for (struct gw_adapter *ga = g->adapters; ga != NULL; ga = ga->next) {
        if (!ga->reconnect || ga->a == NULL)
            continue;
        ga->reconnect = false;
        ga->a->ops->stop(ga->a);
        int rc = ga->a->ops->start(ga->a);
        if (rc != 0)
            BR_ERR(&g->log, "adapter %s: restart failed: %s", ga->name, strerror(-rc));
    }
}

struct br_device *gw_device_find(struct gw *g, const char *name) {
    for (struct br_device *d = g->devices; d != NULL; d = d->next)
        if (strcmp(d->name, name) == 0)
            return d;
    return NULL;
}

int gw_device_add(struct gw *g, const struct cfg_device *cd, const char *name, const char *endpoint,
                  struct br_device **out) {
    struct br_device *d;
    int rc = br_device_new(&g->env, g->cfg, cd, name, endpoint, &d);
    if (rc != 0)
        return rc;
    d->down_timer = evtimer_new(g->base, down_timer_cb, d);
    if (d->down_timer == NULL) {
        br_device_free(d);
        return LWM2M_ERR_NOMEM;
    }
    d->next = g->devices;
    g->devices = d;
    g->ndevices++;
    *out = d;
    return 0;
}

void gw_device_release(struct gw *g, struct br_device *d) {
    for (struct br_device **pp = &g->devices; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == d) {
            *pp = d->next;
            g->ndevices--;
            break;
        }
    }
    gw_endpoint_detach(g, d);
    evtimer_del(d->down_timer);
    d->gone = true;
    d->adapter = NULL; /* late Writes on a tombstone never reach it; nothing may write now */
    d->next = g->graveyard;
    g->graveyard = d;
    event_active(g->ev_gc, EV_TIMEOUT, 1);
}

/* Creates the configured devices of cfg (discovery rules create theirs when the adapter finds
 * them). cfg is g->cfg, or the config being reloaded just after it became g->cfg. */
int gw_devices_create(struct gw *g, const struct cfg *cfg,
                      bool (*skip)(struct gw *, const char *)) {
    for (size_t i = 0; i < cfg->ndevices; i++) {
        const struct cfg_device *cd = &cfg->devices[i];
        struct br_device *d;
        if (cd->discover != NULL || (skip != NULL && skip(g, cd->name)))
            continue;
        int rc = gw_device_add(g, cd, NULL, NULL, &d);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* ---- adapters ------------------------------------------------------------------------------- */

static struct gw_adapter *ga_of(void *ctx) {
    return ctx;
}

static void sink_value(void *ctx, void *user, const struct adapter_value *v) {
    (void)ctx;
    br_device_on_value(user, v);
}

static void device_state(struct gw *g, struct br_device *d, enum adapter_state st,
                         const char *detail) {
    br_device_on_state(d, st, detail);
    uint32_t ms = down_deregister_ms(g, d);
    if (ms == 0 || g->stopping)
        return;
    if (!d->up) {
        struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
        evtimer_add(d->down_timer, &tv);
    } else {
        evtimer_del(d->down_timer);
        if (d->state == BR_DEV_DOWN_DEREGISTERED && d->ep == NULL && d->gwdev == NULL) {
            br_log_write(&g->log, BR_LOG_INFO, d->name, d->endpoint,
                         gw_host_mode(g) ? "back: added to /25 again" : "back: registering again");
            gw_endpoint_attach(g, d);
        }
    }
}

static void sink_state(void *ctx, void *scope, enum adapter_state st, const char *detail) {
    struct gw_adapter *ga = ga_of(ctx);
    struct gw *g = ga->gw;
    struct br_device *d = scope;
    if (d != NULL && d->discovered && st == ADAPTER_STATE_DOWN && detail != NULL &&
        strcmp(detail, "gone") == 0) {
        /* The adapter forgets the device when this returns: so does the bridge. */
        br_log_write(&g->log, BR_LOG_INFO, d->name, d->endpoint, "gone: deregistering");
        gw_device_release(g, d);
        return;
    }
    if (d != NULL) {
        device_state(g, d, st, detail);
        return;
    }
    ga->up = st == ADAPTER_STATE_UP;
    BR_INFO(&g->log, "adapter %s %s%s%s", ga->name, ga->up ? "up" : "down",
            detail && *detail ? ": " : "", detail ? detail : "");
    for (struct br_device *o = g->devices; o != NULL; o = o->next)
        if (o->adapter != NULL && o->adapter == ga->a)
            device_state(g, o, st, detail);
}

static void sink_write_done(void *ctx, void *req, const struct adapter_write_result *r) {
    struct gw *g = ga_of(ctx)->gw;
    br_device_on_write_done(req, r);
    if (g->graveyard != NULL) /* that may have been a gone device's last write */
        event_active(g->ev_gc, EV_TIMEOUT, 1);
}

void gw_adapter_free(struct gw_adapter *ga) {
    if (ga == NULL)
        return;
    if (ga->a != NULL)
        ga->a->ops->destroy(ga->a); /* stops first: pending writes complete as failed */
    free(ga->name);
    free(ga);
}

/* Creates and starts the adapter instance of cfg adapter c for its devices in g->devices. */
static int adapter_create(struct gw *g, const struct cfg_adapter *c) {
    size_t n = 0, rules = 0;
    for (struct br_device *d = g->devices; d != NULL; d = d->next)
        n += !d->discovered && strcmp(d->cfg->adapter->name, c->name) == 0;
    for (size_t i = 0; i < g->cfg->ndevices; i++)
        rules += g->cfg->devices[i].discover != NULL &&
                 strcmp(g->cfg->devices[i].adapter->name, c->name) == 0;
    if (n == 0 && rules == 0)
        return 0; /* no device uses it: no connection to keep */
    struct gw_adapter *ga = calloc(1, sizeof(*ga));
    struct br_device **devs = calloc(n ? n : 1, sizeof(*devs));
    if (ga == NULL || devs == NULL || (ga->name = strdup(c->name)) == NULL) {
        free(ga);
        free(devs);
        return -ENOMEM;
    }
    n = 0;
    for (struct br_device *d = g->devices; d != NULL; d = d->next)
        if (!d->discovered && strcmp(d->cfg->adapter->name, c->name) == 0)
            devs[n++] = d;
    ga->gw = g;
    ga->cfg = c;
    ga->sink = (struct adapter_sink){.on_value = sink_value,
                                     .on_state = sink_state,
                                     .on_write_done = sink_write_done,
                                     .on_discovered = gw_mq_on_discovered,
                                     .ctx = ga};
    int rc = gw_adapter_build(g, ga, devs, n);
    for (size_t i = 0; rc == 0 && i < n; i++)
        devs[i]->adapter = ga->a;
    if (rc == 0 && ga->a != NULL && (rc = ga->a->ops->start(ga->a)) != 0)
        BR_ERR(&g->log, "adapter %s: start failed: %s", c->name, strerror(-rc));
    else if (rc == 0 && ga->a != NULL)
        BR_INFO(&g->log, "adapter %s (%s) started for %zu device%s%s", c->name,
                cfg_adapter_type_name(c->type), n, n == 1 ? "" : "s",
                rules ? " and discovery" : "");
    free(devs);
    ga->next = g->adapters;
    g->adapters = ga;
    return rc == -ENOMEM ? rc : 0; /* a bus that cannot start is logged; the rest runs */
}

/* Creates the adapters of g->cfg that have no instance yet. */
int gw_adapters_create(struct gw *g) {
    for (size_t i = 0; i < g->cfg->nadapters; i++) {
        const struct cfg_adapter *c = &g->cfg->adapters[i];
        bool have = false;
        for (struct gw_adapter *ga = g->adapters; ga != NULL && !have; ga = ga->next)
            have = strcmp(ga->name, c->name) == 0;
        int rc = have ? 0 : adapter_create(g, c);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* ---- registration events -------------------------------------------------------------------- */

/* "registered 950/1000 endpoints": at most once a second while starting, and when all are. */
static void progress(struct gw *g) {
    size_t reg = 0, total = lwm2m_engine_endpoints(g->eng, &reg);
    uint64_t now = now_ms();
    if (reg == g->progress_reg)
        return;
    if (reg == total || now - g->progress_mono >= 1000) {
        BR_INFO(&g->log, "registered %zu/%zu endpoints%s", reg, total,
                reg == total && total > 0 ? " (all)" : "");
        g->progress_mono = now;
        g->progress_reg = reg;
    }
}

static void count_event(struct gw *g, int type) {
    switch (type) {
    case LWM2M_EV_REGISTERED:
        g->stats.registrations++;
        break;
    case LWM2M_EV_UPDATED:
        g->stats.updates++;
        break;
    case LWM2M_EV_DEREGISTERED:
        g->stats.deregistrations++;
        break;
    case LWM2M_EV_REGISTER_FAILED:
    case LWM2M_EV_TIMEOUT:
    case LWM2M_EV_NETWORK_ERROR:
        g->stats.reg_failures++;
        break;
    default:
        break;
    }
}

static void on_event(void *ctx, const struct lwm2m_event *ev) {
    struct gw *g = ctx;
    struct gw_handle *h = lwm2m_endpoint_ctx(ev->ep);
    struct br_device *d = h != NULL ? h->dev : NULL;
    count_event(g, ev->type);
    bool quiet = ev->type == LWM2M_EV_UPDATED || ev->type == LWM2M_EV_QUEUE_RX_OFF;
    bool bad = ev->type == LWM2M_EV_REGISTER_FAILED || ev->type == LWM2M_EV_TIMEOUT ||
               ev->type == LWM2M_EV_NETWORK_ERROR || ev->type == LWM2M_EV_DISCONNECTED ||
               ev->type == LWM2M_EV_UPDATE_FAILED || ev->type == LWM2M_EV_DEREGISTER_FAILED ||
               ev->type == LWM2M_EV_SECURE_FAILED || ev->type == LWM2M_EV_BOOTSTRAP_FAILED ||
               ev->type == LWM2M_EV_BOOTSTRAP_STATE_INVALID;
    br_log_write(&g->log,
                 quiet ? BR_LOG_DEBUG
                 : bad ? BR_LOG_WARN
                       : BR_LOG_INFO,
                 d ? d->name : NULL, lwm2m_endpoint_name(ev->ep),
                 "%s with %s%.0u (LwM2M 1.%u, port %u)%s%s%s%s", lwm2m_event_name(ev->type),
                 ev->ssid != 0 ? "server " : "the bootstrap server", ev->ssid, ev->version_minor,
                 lwm2m_endpoint_port(ev->ep), ev->err ? ": " : "",
                 ev->err ? lwm2m_strerror(ev->err) : "", ev->detail ? ": " : "",
                 ev->detail ? ev->detail : "");
    if (ev->ep == g->host) {
        gw_host_registered(g, lwm2m_endpoint_registered(ev->ep));
    } else if (d != NULL) {
        bool reg = lwm2m_endpoint_registered(ev->ep);
        if (reg && d->state != BR_DEV_REGISTERED)
            d->registered_mono = now_ms();
        d->state = reg ? BR_DEV_REGISTERED : BR_DEV_REGISTERING;
    } else {
        event_active(g->ev_gc, EV_TIMEOUT, 1); /* a tombstone's endpoint may be gone now */
    }
    if (ev->type == LWM2M_EV_REGISTERED)
        progress(g);
    if (ev->type == LWM2M_EV_REGISTER_FAILED || ev->type == LWM2M_EV_TIMEOUT ||
        ev->type == LWM2M_EV_SECURE_FAILED || ev->type == LWM2M_EV_NETWORK_ERROR)
        gw_dns_kick(g); /* the server may have moved */
    /* New servers from the bootstrap server: their queues and reporting options, as at start. */
    if (ev->type == LWM2M_EV_BOOTSTRAP_FINISHED && ev->ep == g->host)
        gw_report_apply_host(g);
    else if (ev->type == LWM2M_EV_BOOTSTRAP_FINISHED && d != NULL)
        gw_report_apply(g, d);
}

/* ---- start and stop ------------------------------------------------------------------------- */

void gw_apply_settings(struct gw *g) {
    g->log.level = (int)g->cfg->gateway.log_level; /* same order: error .. trace */
    g->env.binding = g->cfg->lwm2m.binding;
    for (struct br_device *d = g->devices; d != NULL; d = d->next)
        d->stale_ms = br_stale_ms(g->cfg, d->cfg); /* stale_after may have changed */
}

static int load_models(struct gw *g) {
    const struct cfg_lwm2m *l = &g->cfg->lwm2m;
    int rc = lwm2m_model_new(&g->model);
    for (size_t i = 0; rc == 0 && i < l->nmodels; i++) {
        struct lwm2m_model_error err = {0};
        struct stat st;
        if (stat(l->models[i], &st) == 0 && S_ISDIR(st.st_mode))
            rc = lwm2m_model_load_ddf_dir(g->model, l->models[i], 0, NULL, &err);
        else
            rc = lwm2m_model_load_ddf_file(g->model, l->models[i], 0, &err);
        if (rc != 0)
            fprintf(stderr, "%s\n", err.msg);
    }
    if (rc == 0)
        lwm2m_model_seal(g->model);
    return rc;
}

/* What `run` cannot do is refused up front, with the reason. */
int gw_cfg_runnable(const struct cfg *cfg) {
    const struct cfg_lwm2m *l = &cfg->lwm2m;
    /* Credentials OpenSSL refuses (a key that does not match its certificate, a file that is
     * not PEM) would otherwise fail every endpoint one by one: refuse them here, once. */
    for (size_t i = 0; i <= l->nservers; i++) {
        const struct cfg_server *cs = i < l->nservers ? &l->servers[i] : l->bootstrap;
        if (cs == NULL)
            continue;
        struct lwm2m_server_cfg sc = server_cfg_of(l, cs, cs->uri, cs->security.identity);
        char why[192] = "", what[48] = "lwm2m.bootstrap";
        if (i < l->nservers)
            snprintf(what, sizeof(what), "lwm2m.servers[%zu]", i);
        int rc = lwm2m_server_cfg_check_security(&sc, why, sizeof(why));
        if (rc != 0) {
            fprintf(stderr, "%s: %s.security: %s\n", cfg->file, what,
                    why[0] != '\0' ? why : lwm2m_strerror(rc));
            return -1;
        }
    }
    return 0;
}

static void stop_timer_cb(evutil_socket_t fd, short what, void *arg) {
    struct gw *g = arg;
    size_t left = lwm2m_engine_endpoints(g->eng, NULL);
    BR_WARN(&g->log, "stop: %zu endpoint%s not deregistered after %d s, giving up", left,
            left == 1 ? "" : "s", STOP_BOUND_S);
    event_base_loopexit(g->base, NULL);
}

static void on_stop_signal(evutil_socket_t sig, short what, void *arg) {
    struct gw *g = arg;
    if (g->stopping)
        return;
    g->stopping = true;
    BR_INFO(&g->log, "signal %d: stopping, deregistering %zu endpoint%s", (int)sig,
            lwm2m_engine_endpoints(g->eng, NULL),
            lwm2m_engine_endpoints(g->eng, NULL) == 1 ? "" : "s");
    for (struct gw_adapter *ga = g->adapters; ga != NULL; ga = ga->next)
        if (ga->a != NULL)
            ga->a->ops->stop(ga->a);
    for (struct br_device *d = g->devices; d != NULL; d = d->next) {
        d->state = BR_DEV_STOPPING;
        gw_endpoint_detach(g, d);
    }
    gw_host_close(g);
    gw_dns_cancel(g);
    struct timeval tv = {STOP_BOUND_S, 0};
    evtimer_add(g->ev_stop_timer, &tv);
    event_active(g->ev_gc, EV_TIMEOUT, 1);
}

static void on_hup(evutil_socket_t sig, short what, void *arg) {
    struct gw *g = arg;
    if (!g->stopping)
        gw_reload(g);
}

static int make_events(struct gw *g) {
    g->ev_hup = evsignal_new(g->base, SIGHUP, on_hup, g);
    g->ev_term = evsignal_new(g->base, SIGTERM, on_stop_signal, g);
    g->ev_int = evsignal_new(g->base, SIGINT, on_stop_signal, g);
    g->ev_gc = event_new(g->base, -1, 0, gc_cb, g);
    g->ev_reboot = event_new(g->base, -1, 0, reboot_cb, g);
    g->ev_stop_timer = evtimer_new(g->base, stop_timer_cb, g);
    if (!g->ev_hup || !g->ev_term || !g->ev_int || !g->ev_gc || !g->ev_reboot || !g->ev_stop_timer)
        return -ENOMEM;
    evsignal_add(g->ev_hup, NULL);
    evsignal_add(g->ev_term, NULL);
    evsignal_add(g->ev_int, NULL);
    return 0;
}

/* lwm2m.coap with the times RFC 7252 §4.8.2 derives from it (ACK_RANDOM_FACTOR 1.5, MAX_LATENCY
 * 100 s, PROCESSING_DELAY = ACK_TIMEOUT): the defaults give its 93 s and 247 s. */
static void coap_params_from(const struct cfg_coap *c, struct coap_params *p) {
    coap_params_default(p);
    uint64_t ack = c->ack_timeout_ms, n = c->max_retransmit;
    uint64_t span = ack * ((1u << n) - 1) * 3 / 2;
    uint64_t wait = ack * ((2u << n) - 1) * 3 / 2;
    p->ack_timeout_ms = (uint32_t)ack;
    p->max_retransmit = (uint32_t)n;
    p->response_timeout_ms = (uint32_t)wait;
    p->exchange_lifetime_ms = (uint32_t)(span + 200000 + ack);
    p->non_lifetime_ms = (uint32_t)(span + 100000);
}

static int gw_start(struct gw *g) {
    struct coap_params cp;
    coap_params_from(&g->cfg->lwm2m.coap, &cp);
    struct lwm2m_engine_cfg ec = {
        .base = g->base,
        .model = g->model,
        .coap = &cp,
        .queue_idle_ms = cp.response_timeout_ms,
        .bootstrap_timeout_ms =
            g->cfg->lwm2m.bootstrap != NULL ? g->cfg->lwm2m.bootstrap->bs_timeout_ms : 0,
        .bootstrap_hold_off_ms =
            g->cfg->lwm2m.bootstrap != NULL ? g->cfg->lwm2m.bootstrap->bs_hold_off_ms : 0,
        .on_event = on_event,
        .event_ctx = g};
    g->env = (struct br_env){
        .log = &g->log, .model = g->model, .stats = &g->stats, .reboot = reboot_request, .ctx = g};
    gw_apply_settings(g);
    int rc = make_events(g);
    if (rc == 0)
        rc = gw_state_dir_prepare(g, g->cfg);
    if (rc == 0)
        rc = lwm2m_engine_new(&ec, &g->eng);
    if (rc == 0)
        rc = gw_devices_create(g, g->cfg, NULL);
    if (rc == 0)
        rc = gw_adapters_create(g);
    if (rc != 0) {
        BR_ERR(&g->log, "start-up failed: %d", rc);
        return rc;
    }
    const struct cfg_lwm2m *l = &g->cfg->lwm2m;
    BR_INFO(&g->log, "lwm2m-gateway %s: %zu device%s, %zu adapter%s, %s %s", g->cfg->gateway.id,
            g->ndevices, g->ndevices == 1 ? "" : "s", g->cfg->nadapters,
            g->cfg->nadapters == 1 ? "" : "s",
            l->nservers > 0 ? "registering with" : "bootstrapping from",
            l->nservers > 0 ? l->servers[0].uri : l->bootstrap->uri);
    for (struct br_device *d = g->devices; d != NULL; d = d->next)
        gw_endpoint_attach(g, d);
    if (gw_dns_apply(g) != 0)
        return -ENOMEM;
    const struct cfg_gateway *gc = &g->cfg->gateway;
    if (gc->http_host != NULL && gw_http_start(g, gc->http_host, gc->http_port, &g->http) != 0)
        return -EADDRINUSE;
    return 0;
}

static void gw_teardown(struct gw *g) {
    gw_dns_free(g); /* first: its last callbacks run on the loop */
    gw_http_free(g->http);
    while (g->adapters != NULL) {
        struct gw_adapter *ga = g->adapters;
        g->adapters = ga->next;
        gw_adapter_free(ga);
    }
    if (g->eng != NULL)
        lwm2m_engine_free(g->eng); /* endpoints still pending De-register are dropped */
    free(g->host_ctx);
    while (g->devices != NULL) {
        struct br_device *d = g->devices;
        g->devices = d->next;
        if (d->down_timer != NULL)
            event_free(d->down_timer);
        free(d->handle);
        br_device_free(d);
    }
    while (g->tombs != NULL) {
        struct gw_handle *h = g->tombs;
        g->tombs = h->next;
        free(h);
    }
    while (g->graveyard != NULL) { /* the adapters are gone: no write is pending any more */
        struct br_device *d = g->graveyard;
        g->graveyard = d->next;
        event_free(d->down_timer);
        br_device_free(d);
    }
    struct event *evs[] = {g->ev_hup, g->ev_term,   g->ev_int,
                           g->ev_gc,  g->ev_reboot, g->ev_stop_timer};
    for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
        if (evs[i] != NULL)
            event_free(evs[i]);
    lwm2m_model_free(g->model);
    cfg_free(g->cfg);
    free(g->cfg_path);
    if (g->base != NULL)
        event_base_free(g->base);
}

int gw_run(const char *path) {
    struct gw g = {.log = {.level = BR_LOG_INFO, .out = stderr}};
    struct cfg_errors errs;
    if (cfg_load(path, &g.cfg, &errs) != 0) {
        cfg_errors_print(&errs, stderr);
        return EXIT_INVALID;
    }
    if (gw_cfg_runnable(g.cfg) != 0) {
        cfg_free(g.cfg);
        return EXIT_INVALID;
    }
    if (gw_resolve_servers(g.cfg, &g.log, &g.server_uri) != 0) {
        cfg_free(g.cfg);
        return EXIT_FAILURE;
    }
    g.cfg_path = strdup(path);
    g.started_mono = now_ms();
    signal(SIGPIPE, SIG_IGN); /* a status client that hangs up must not kill the gateway */
    g.base = event_base_new();
    int rc = g.cfg_path && g.base ? load_models(&g) : -ENOMEM;
    if (rc != 0) {
        gw_teardown(&g);
        return rc == -ENOMEM ? 1 : EXIT_INVALID;
    }
    rc = gw_start(&g);
    if (rc == 0)
        event_base_dispatch(g.base);
    BR_INFO(&g.log, "stopped");
    gw_teardown(&g);
    return rc == 0 ? 0 : 1;
}
