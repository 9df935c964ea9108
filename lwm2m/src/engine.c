/* SPDX-License-Identifier: Apache-2.0 */
/* Engine and endpoint lifecycle: one socket and one CoAP endpoint per LwM2M endpoint, the
 * (endpoint, server) records, Register pacing across the engine, the registered count, the
 * Register/Update object list, and delivery of registration events to the owner. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bs_internal.h" /* bootstrap.c hooks: saved servers */
#include "engine_internal.h"
#include "observe_internal.h" /* lwm2m_obs_free() in lwm2m_endpoint_free() */
#include "lwm2m/format.h"

const char *lwm2m_event_name(int type) {
    switch (type) {
    case LWM2M_EV_REGISTERED:
        return "registered";
    case LWM2M_EV_REGISTER_FAILED:
        return "register-failed";
    case LWM2M_EV_UPDATED:
        return "updated";
    case LWM2M_EV_UPDATE_FAILED:
        return "update-failed";
    case LWM2M_EV_TIMEOUT:
        return "timeout";
    case LWM2M_EV_DEREGISTERED:
        return "deregistered";
    case LWM2M_EV_DEREGISTER_FAILED:
        return "deregister-failed";
    case LWM2M_EV_DISCONNECTED:
        return "disconnected";
    case LWM2M_EV_QUEUE_RX_OFF:
        return "queue-rx-off";
    case LWM2M_EV_SERVER_DISABLED:
        return "server-disabled";
    case LWM2M_EV_NETWORK_ERROR:
        return "network-error";
    case LWM2M_EV_SECURE_FAILED:
        return "secure-failed";
    case LWM2M_EV_BOOTSTRAP_STARTED:
        return "bootstrap-started";
    case LWM2M_EV_BOOTSTRAP_FINISHED:
        return "bootstrap-finished";
    case LWM2M_EV_BOOTSTRAP_FAILED:
        return "bootstrap-failed";
    case LWM2M_EV_BOOTSTRAP_STATE_INVALID:
        return "bootstrap-state-invalid";
    default:
        return "unknown";
    }
}

int lwm2m_engine_new(const struct lwm2m_engine_cfg *cfg, struct lwm2m_engine **out) {
    if (cfg == NULL || cfg->base == NULL || cfg->model == NULL || out == NULL)
        return LWM2M_ERR_INVALID;
    struct lwm2m_engine *e = calloc(1, sizeof(*e));
    if (e == NULL)
        return LWM2M_ERR_NOMEM;
    e->base = cfg->base;
    e->model = cfg->model;
    e->on_event = cfg->on_event;
    e->event_ctx = cfg->event_ctx;
    e->retry_min_ms = cfg->retry_min_ms != 0 ? cfg->retry_min_ms : 5000;
    e->retry_max_ms = cfg->retry_max_ms != 0 ? cfg->retry_max_ms : 300000;
    if (e->retry_max_ms < e->retry_min_ms)
        e->retry_max_ms = e->retry_min_ms;
    e->update_margin_ms = cfg->update_margin_ms;
    e->queue_idle_ms = cfg->queue_idle_ms != 0 ? cfg->queue_idle_ms : 93000;
    e->reg_concurrency = cfg->reg_concurrency != 0 ? cfg->reg_concurrency : 64;
    e->bs_timeout_ms = cfg->bootstrap_timeout_ms != 0 ? cfg->bootstrap_timeout_ms : 60000;
    e->bs_fallback = cfg->bootstrap_fallback != 0 ? cfg->bootstrap_fallback : 3;
    e->bs_hold_off_ms = cfg->bootstrap_hold_off_ms;
    coap_env_init(&e->env, cfg->base);
    if (cfg->clock != NULL)
        e->env.clock = cfg->clock;
    if (cfg->coap != NULL)
        e->env.params = *cfg->coap;
    *out = e;
    return 0;
}

void lwm2m_engine_free(struct lwm2m_engine *e) {
    if (e == NULL)
        return;
    lwm2m_keep_flush_all(e); /* a clean stop: every changed queue in one batch */
    while (e->head != NULL)
        lwm2m_endpoint_free(e->head);
    lwm2m_keep_flush_free(e);
    lwm2m_dtls_cache_free(e);
    free(e);
}

const struct coap_stats *lwm2m_engine_coap_stats(const struct lwm2m_engine *e) {
    return &e->env.stats;
}

size_t lwm2m_engine_endpoints(const struct lwm2m_engine *e, size_t *registered) {
    if (registered != NULL)
        *registered = e->nregistered;
    return e->nendpoints;
}

/* ---- Events and registered count ------------------------------------------------------------ */

static void emit(struct lwm2m_endpoint *ep, uint16_t ssid, uint8_t version, int type, int err,
                 uint8_t code, const char *detail) {
    struct lwm2m_engine *e = ep->eng;
    if (e->on_event == NULL)
        return;
    struct lwm2m_event ev = {.type = (uint8_t)type,
                             .version_minor = version,
                             .ssid = ssid,
                             .err = err,
                             .coap_code = code,
                             .ep = ep,
                             .detail = detail};
    e->on_event(e->event_ctx, &ev);
}

void lwm2m_emit(struct lwm2m_server *s, int type, int err, uint8_t code) {
    emit(s->ep, s->ssid, s->version, type, err, code, NULL);
}

void lwm2m_emit_detail(struct lwm2m_server *s, int type, int err, const char *detail) {
    emit(s->ep, s->ssid, s->version, type, err, 0, detail);
}

void lwm2m_emit_ep(struct lwm2m_endpoint *ep, int type, int err, uint8_t code, uint8_t version,
                   const char *detail) {
    emit(ep, 0, version, type, err, code, detail);
}

bool lwm2m_endpoint_registered(const struct lwm2m_endpoint *ep) {
    size_t enabled = 0;
    for (uint16_t i = 0; i < ep->nservers; i++) {
        const struct lwm2m_server *s = &ep->servers[i];
        if (s->state == LWM2M_REG_DISABLED)
            continue;
        enabled++;
        if (!lwm2m_reg_is_registered(s))
            return false;
    }
    return enabled > 0;
}

static bool ep_all_done(const struct lwm2m_endpoint *ep) {
    for (uint16_t i = 0; i < ep->nservers; i++)
        if (ep->servers[i].state == LWM2M_REG_DEREGISTERING ||
            (ep->servers[i].state == LWM2M_REG_REGISTERING && ep->servers[i].xchg != 0))
            return false;
    return true;
}

void lwm2m_engine_reg_changed(struct lwm2m_endpoint *ep) {
    bool now = !ep->removing && lwm2m_endpoint_registered(ep);
    if (now != ep->all_registered) {
        ep->all_registered = now;
        if (now)
            ep->eng->nregistered++;
        else
            ep->eng->nregistered--;
    }
    if (ep->removing && !ep->in_remove && ep_all_done(ep))
        lwm2m_endpoint_free(ep);
}

/* ---- Register pacing ------------------------------------------------------------------------ */

bool lwm2m_engine_reg_slot(struct lwm2m_server *s) {
    struct lwm2m_engine *e = s->ep->eng;
    if (e->reg_inflight < e->reg_concurrency && e->wait_head == NULL) {
        e->reg_inflight++;
        s->has_slot = true;
        return true;
    }
    if (!s->waiting) {
        s->waiting = true;
        s->wait_next = NULL;
        if (e->wait_tail != NULL)
            e->wait_tail->wait_next = s;
        else
            e->wait_head = s;
        e->wait_tail = s;
    }
    return false;
}

void lwm2m_engine_reg_unqueue(struct lwm2m_server *s) {
    struct lwm2m_engine *e = s->ep->eng;
    if (!s->waiting)
        return;
    struct lwm2m_server **pp = &e->wait_head, *prev = NULL;
    while (*pp != NULL && *pp != s) {
        prev = *pp;
        pp = &(*pp)->wait_next;
    }
    if (*pp == s) {
        *pp = s->wait_next;
        if (e->wait_tail == s)
            e->wait_tail = prev;
    }
    s->waiting = false;
    s->wait_next = NULL;
}

void lwm2m_engine_reg_release(struct lwm2m_server *s) {
    struct lwm2m_engine *e = s->ep->eng;
    s->has_slot = false;
    e->reg_inflight--;
    /* Hand the freed slot to the next waiting server. */
    while (e->wait_head != NULL && e->reg_inflight < e->reg_concurrency) {
        struct lwm2m_server *n = e->wait_head;
        lwm2m_engine_reg_unqueue(n);
        e->reg_inflight++;
        n->has_slot = true;
        lwm2m_reg_start(n);
    }
}

/* ---- The Register / Update object list ------------------------------------------------------ */

struct links_ctx {
    struct lwm2m_link_writer *w;
    const struct lwm2m_engine *e;
    const struct lwm2m_endpoint *ep;
    uint16_t oid;
    uint8_t version;
    bool gw_done; /* the engine's /25 links are written */
};

static int links_instance(void *ctx, uint16_t iid) {
    struct links_ctx *c = ctx;
    struct lwm2m_path p = lwm2m_path_make(2, c->oid, iid, 0, 0);
    return lwm2m_link_add(c->w, NULL, &p);
}

/* "</3>;ver=1.1" for objects whose version is not 1.0, then one link per instance. */
static int links_object(struct links_ctx *c, uint16_t oid) {
    const struct lwm2m_object_def *o = lwm2m_model_object(c->e->model, oid);
    struct lwm2m_path p = lwm2m_path_make(1, oid, 0, 0, 0);
    int rc = lwm2m_link_add(c->w, NULL, &p);
    if (rc == 0 && o != NULL && o->version != NULL && strcmp(o->version, "1.0") != 0)
        rc = lwm2m_link_attr(c->w, "ver", o->version);
    return rc;
}

/* The LwM2M Gateway object (25) with one instance per hosted IoT device, in its place in the
 * ascending object order. */
static int links_gateway(struct links_ctx *c) {
    c->gw_done = true;
    if (c->ep->gwdevs == NULL)
        return 0;
    c->oid = LWM2M_OID_GATEWAY;
    int rc = links_object(c, LWM2M_OID_GATEWAY);
    if (rc == 0)
        rc = lwm2m_gwdev_instances((struct lwm2m_endpoint *)c->ep, links_instance, c);
    return rc;
}

static int links_provider_object(void *ctx, uint16_t oid) {
    struct links_ctx *c = ctx;
    if (oid == 0 || oid == 1)
        return 0; /* the engine's own, listed first */
    if (oid >= LWM2M_OID_GATEWAY && !c->gw_done) {
        int rc = links_gateway(c);
        if (rc != 0)
            return rc;
    }
    if (oid == LWM2M_OID_GATEWAY && c->ep->gwdevs != NULL)
        return 0; /* the engine serves it for its devices */
    c->oid = oid;
    int rc = links_object(c, oid);
    if (rc == 0)
        rc = c->ep->prov->list_instances(c->ep->pctx, oid, links_instance, c);
    return rc;
}

int lwm2m_reg_links(struct lwm2m_endpoint *ep, const struct lwm2m_server *s, char *buf,
                    size_t cap) {
    struct lwm2m_link_writer w;
    struct links_ctx c = {.w = &w, .e = ep->eng, .ep = ep, .version = s->version};
    lwm2m_link_init(&w, buf, cap);
    /* The root link names the formats we accept (1.1: the preferred one, 1.2: a list). */
    if (s->version >= 1) {
        lwm2m_link_add_uri(&w, "/");
        lwm2m_link_attr_quoted(&w, "rt", "oma.lwm2m");
        if (s->version == 1)
            lwm2m_link_attr_int(&w, "ct", LWM2M_CT_SENML_CBOR);
        else
            lwm2m_link_attr_quoted(&w, "ct", "60 110 112 11542 11543 11544");
    }
    /* Security (0) is never listed (TS Core §6.2.1); Server (1) with one instance per server. */
    links_object(&c, 1);
    for (uint16_t i = 0; i < ep->nservers; i++) {
        c.oid = 1;
        links_instance(&c, ep->servers[i].index);
    }
    int rc = 0;
    if (ep->prov != NULL && ep->prov->list_objects != NULL)
        rc = ep->prov->list_objects(ep->pctx, links_provider_object, &c);
    if (rc == 0 && !c.gw_done)
        rc = links_gateway(&c);
    if (rc == 0)
        rc = lwm2m_gwdev_reg_links(ep, &w);
    size_t len = 0;
    int frc = lwm2m_link_finish(&w, &len);
    if (rc == 0)
        rc = frc;
    return rc < 0 ? rc : (int)len;
}

/* ---- Endpoints ------------------------------------------------------------------------------ */

int lwm2m_server_uri_parse(const char *uri, struct coap_addr *out, bool *secure) {
    const char *p;
    *secure = strncmp(uri, "coaps://", 8) == 0;
    if (strncmp(uri, "coap://", 7) == 0)
        p = uri + 7;
    else if (*secure)
        p = uri + 8;
    else
        return LWM2M_ERR_INVALID;
    char hostport[128];
    size_t n = strcspn(p, "/?");
    if (n == 0 || n >= sizeof(hostport))
        return LWM2M_ERR_INVALID;
    memcpy(hostport, p, n);
    hostport[n] = '\0';
    return coap_addr_parse_hostport(out, hostport, *secure ? 5684 : 5683) == 0 ? 0
                                                                               : LWM2M_ERR_INVALID;
}

static void ep_rx(void *ctx, const uint8_t *data, size_t len, const struct coap_addr *from) {
    struct lwm2m_endpoint *ep = ctx;
    /* Queue mode: while every server has seen us stop listening, datagrams are ignored, as a
     * sleeping device's radio would; the next Update wakes us. */
    bool off = ep->nservers > 0;
    for (uint16_t i = 0; i < ep->nservers && off; i++)
        off = ep->servers[i].rx_off;
    if (off)
        return;
    struct lwm2m_server *s = lwm2m_server_by_addr(ep, from);
    if (s != NULL)
        s->activity_ms = coap_clock_mono_ms(ep->eng->env.clock);
    coap_endpoint_input(ep->coap, data, len, from);
}

static int server_init(struct lwm2m_endpoint *ep, struct lwm2m_server *s,
                       const struct lwm2m_server_cfg *c, uint16_t index) {
    bool secure;
    int rc = lwm2m_server_uri_parse(c->uri != NULL ? c->uri : "", &s->addr, &secure);
    if (rc != 0)
        return rc;
    if (c->ssid == 0 || c->ssid == 65535)
        return LWM2M_ERR_INVALID;
    /* coap:// goes with NoSec, coaps:// with credentials of a mode the transport has. */
    if (secure ? !lwm2m_server_cfg_has_creds(c) : c->sec_mode != LWM2M_SEC_NOSEC)
        return c->sec_mode == LWM2M_SEC_RPK ? LWM2M_ERR_UNSUPPORTED : LWM2M_ERR_INVALID;
    const char *b = c->binding != NULL && c->binding[0] != '\0' ? c->binding : "U";
    if (strlen(b) >= LWM2M_BINDING_MAX || (strcmp(b, "U") != 0 && strcmp(b, "UQ") != 0))
        return LWM2M_ERR_INVALID;
    s->ep = ep;
    s->index = index;
    s->ssid = c->ssid;
    s->uri = strdup(c->uri);
    snprintf(s->binding, sizeof(s->binding), "%s", b);
    s->lifetime = c->lifetime != 0 ? c->lifetime : 86400;
    s->version_max = c->version_minor <= 2 ? c->version_minor : 2;
    s->version = s->version_max;
    s->sec_mode = c->sec_mode;
    s->default_pmin = c->default_pmin;
    s->default_pmax = c->default_pmax;
    s->disable_timeout = 86400;
    s->notification_storing = c->notification_storing;
    s->mute_send = c->mute_send;
    s->timer = evtimer_new(ep->eng->base, lwm2m_reg_timer, s);
    return s->uri != NULL && s->timer != NULL ? 0 : LWM2M_ERR_NOMEM;
}

static int ep_open_socket(struct lwm2m_endpoint *ep, const struct lwm2m_endpoint_cfg *cfg) {
    struct coap_addr bind;
    const char *host = cfg->bind_host;
    /* bootstrap.c hook: without servers yet, the bootstrap server's family */
    const struct coap_addr *first = ep->nservers > 0 ? &ep->servers[0].addr : lwm2m_bs_addr(ep);
    if (host == NULL)
        host = first->u.sa.sa_family == AF_INET6 ? "::" : "0.0.0.0";
    if (coap_addr_parse(&bind, host, 0) != 0)
        return LWM2M_ERR_INVALID;
    int rc = coap_udp_open(ep->eng->base, &bind, &ep->eng->udp_stats, &ep->tp);
    if (rc != 0)
        return rc;
    /* An endpoint talks to its server(s) only, and contacts them first: a connected socket saves
     * the kernel's route lookup per Notify and drops stray peers' datagrams early. A second
     * server simply turns it off for this socket (transport.h). */
    (void)coap_udp_set_single_peer(ep->tp, true);
    rc = lwm2m_ep_secure(ep, cfg);
    if (rc != 0)
        return rc;
    rc = coap_endpoint_new(&ep->eng->env, ep->tp, lwm2m_dm_handle, ep, &ep->coap);
    if (rc != 0)
        return rc;
    coap_transport_set_rx(ep->tp, ep_rx, ep);
    return 0;
}

static int servers_init(struct lwm2m_endpoint *ep, const struct lwm2m_server_cfg *c, size_t n) {
    ep->servers = n > 0 ? calloc(n, sizeof(*ep->servers)) : NULL;
    if (n > 0 && ep->servers == NULL)
        return LWM2M_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        int rc = server_init(ep, &ep->servers[i], &c[i], (uint16_t)i);
        ep->nservers = (uint16_t)(i + 1);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Servers from what an earlier bootstrap saved, which wins over the configured ones. */
static int ep_init(struct lwm2m_endpoint *ep, const struct lwm2m_endpoint_cfg *cfg) {
    struct lwm2m_endpoint_cfg eff = *cfg;
    struct lwm2m_server_cfg list[LWM2M_BS_SERVERS_MAX];
    struct lwm2m_bs_server *saved = NULL;
    size_t nsaved = 0;
    ep->name = strdup(cfg->name);
    if (ep->name == NULL)
        return LWM2M_ERR_NOMEM;
    int rc = cfg->bootstrap != NULL ? lwm2m_bs_new(ep, cfg, &saved, &nsaved) : 0; /* hook */
    for (size_t i = 0; i < nsaved; i++)
        list[i] = saved[i].cfg;
    if (nsaved > 0) {
        eff.servers = list;
        eff.nservers = nsaved;
    }
    if (rc == 0)
        rc = servers_init(ep, eff.servers, eff.nservers);
    if (rc == 0)
        rc = ep_open_socket(ep, &eff);
    free(saved); /* the DTLS contexts and server records copied what they keep */
    return rc;
}

int lwm2m_endpoint_add(struct lwm2m_engine *e, const struct lwm2m_endpoint_cfg *cfg,
                       const struct lwm2m_provider *prov, void *pctx, struct lwm2m_endpoint **out) {
    if (e == NULL || cfg == NULL || cfg->name == NULL || cfg->name[0] == '\0' ||
        (cfg->nservers == 0 && cfg->bootstrap == NULL) || cfg->nservers > LWM2M_BS_SERVERS_MAX ||
        prov == NULL)
        return LWM2M_ERR_INVALID;
    struct lwm2m_endpoint *ep = calloc(1, sizeof(*ep));
    if (ep == NULL)
        return LWM2M_ERR_NOMEM;
    ep->eng = e;
    ep->prov = prov;
    ep->pctx = pctx;
    ep->next = e->head;
    if (e->head != NULL)
        e->head->prev = ep;
    e->head = ep;
    e->nendpoints++;
    int rc = ep_init(ep, cfg);
    if (rc != 0) {
        lwm2m_endpoint_free(ep);
        return rc;
    }
    if (out != NULL)
        *out = ep;
    static const struct timeval next_pass = {0, 0};
    if (ep->nservers == 0)
        lwm2m_bs_begin(ep, cfg->defer_register); /* bootstrap.c hook */
    for (uint16_t i = 0; i < ep->nservers; i++) {
        if (cfg->defer_register) /* the timer of an idle registration starts it */
            evtimer_add(ep->servers[i].timer, &next_pass);
        else
            lwm2m_reg_start(&ep->servers[i]);
    }
    return 0;
}

static void servers_free(struct lwm2m_endpoint *ep) {
    for (uint16_t i = 0; i < ep->nservers; i++) {
        struct lwm2m_server *s = &ep->servers[i];
        if (s->ep != NULL)
            lwm2m_reg_stop(s);
        if (s->timer != NULL)
            event_free(s->timer);
        free(s->uri);
    }
    free(ep->servers);
    ep->servers = NULL;
    ep->nservers = 0;
}

void lwm2m_endpoint_free(struct lwm2m_endpoint *ep) {
    if (ep == NULL)
        return;
    struct lwm2m_engine *e = ep->eng;
    lwm2m_bs_free(ep); /* bootstrap.c hook: its exchange lives in the CoAP endpoint */
    if (ep->all_registered)
        e->nregistered--;
    lwm2m_gwdev_free_all(ep); /* its devices' observations use our CoAP endpoint too */
    lwm2m_obs_free(ep);       /* observe.c: before the CoAP endpoint its exchanges live in */
    servers_free(ep);         /* after observe.c: its queues are per server */
    if (ep->coap != NULL)
        coap_endpoint_free(ep->coap);
    coap_transport_close(ep->tp);
    lwm2m_dm_free(ep);
    if (ep->prev != NULL)
        ep->prev->next = ep->next;
    else
        e->head = ep->next;
    if (ep->next != NULL)
        ep->next->prev = ep->prev;
    e->nendpoints--;
    free(ep->name);
    free(ep);
}

/* ---- bootstrap.c hooks: the server set replaced --------------------------------------------- */

void lwm2m_ep_servers_clear(struct lwm2m_endpoint *ep) {
    for (uint16_t i = 0; i < ep->nservers; i++)
        if (ep->servers[i].ep != NULL)
            lwm2m_obs_reg_event(&ep->servers[i], LWM2M_OBS_REG_ENDED); /* observe.c hook */
    /* The queues are per server index: closed (synced, kept on disk) before the records go. */
    lwm2m_keep_free(ep);
    for (struct lwm2m_gwdev *d = ep->gwdevs; d != NULL; d = d->next)
        lwm2m_keep_free(&d->view);
    servers_free(ep);
    lwm2m_engine_reg_changed(ep);
}

int lwm2m_ep_servers_set(struct lwm2m_endpoint *ep, const struct lwm2m_server_cfg *c, size_t n) {
    lwm2m_ep_servers_clear(ep);
    int rc = n <= LWM2M_BS_SERVERS_MAX ? servers_init(ep, c, n) : LWM2M_ERR_INVALID;
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (c[i].sec_mode != LWM2M_SEC_NOSEC)
            rc = lwm2m_ep_secure_peer(ep, &ep->servers[i].addr, &c[i]);
    if (rc != 0) {
        servers_free(ep);
        return rc;
    }
    for (uint16_t i = 0; i < ep->nservers; i++)
        lwm2m_reg_start(&ep->servers[i]);
    return 0;
}

void lwm2m_endpoint_remove(struct lwm2m_endpoint *ep) {
    if (ep == NULL || ep->removing)
        return;
    ep->removing = true;
    ep->in_remove = true;
    lwm2m_engine_reg_changed(ep); /* drops it from the registered count */
    for (uint16_t i = 0; i < ep->nservers; i++) {
        struct lwm2m_server *s = &ep->servers[i];
        if (lwm2m_reg_is_registered(s))
            lwm2m_reg_deregister(s); /* the last answer frees the endpoint */
        else if (!lwm2m_reg_finish_register(s))
            lwm2m_reg_stop(s);
    }
    ep->in_remove = false;
    if (ep_all_done(ep))
        lwm2m_endpoint_free(ep);
}

const char *lwm2m_endpoint_name(const struct lwm2m_endpoint *ep) {
    return ep->name;
}
void *lwm2m_endpoint_ctx(const struct lwm2m_endpoint *ep) {
    return ep->pctx;
}

uint16_t lwm2m_endpoint_port(const struct lwm2m_endpoint *ep) {
    struct coap_addr a;
    if (ep->tp == NULL || coap_transport_local_addr(ep->tp, &a) != 0)
        return 0;
    return coap_addr_port(&a);
}

void lwm2m_endpoint_objects_changed(struct lwm2m_endpoint *ep) {
    for (uint16_t i = 0; i < ep->nservers; i++)
        lwm2m_reg_update(&ep->servers[i], true);
}

void lwm2m_endpoint_update(struct lwm2m_endpoint *ep) {
    for (uint16_t i = 0; i < ep->nservers; i++)
        lwm2m_reg_update(&ep->servers[i], false);
}
