/* SPDX-License-Identifier: Apache-2.0 */
/* Observations (RFC 7641, TS Core 1.1.1 §6.4): per endpoint a list of observations made by GET
 * or FETCH with Observe 0, ended by Observe 1, RST, a failed CON or a new/ended registration.
 * Changes are only marked; one deferred pass per loop iteration (a single libevent event per
 * endpoint, also its timer at the earliest pmin/pmax/epmin/epmax deadline) sends what is due. */
#include <stdlib.h>
#include <string.h>

#include "observe_internal.h"

#define OBS_CON_EVERY 16 /* NON notifications between two CON ones by default */

struct lwm2m_obs {
    struct lwm2m_obs *next;
    struct lwm2m_endpoint *ep;
    struct lwm2m_server *srv;
    struct coap_observation co;
    struct lwm2m_path path;   /* the target; the root for Observe-Composite */
    struct lwm2m_path *paths; /* Observe-Composite: sorted, none covering another; else NULL */
    /* Gateway mode, an Observe-Composite naming several devices (it lives on the host): the
     * device of paths[i] (NULL: the gateway itself); NULL otherwise. Pruned when a device goes
     * (lwm2m_obs_gwdev_gone), so never dangling. */
    struct lwm2m_gwdev **devs;
    size_t npaths;
    int accept;  /* single: the Accept (-1: none); composite: the answer format */
    uint16_t ct; /* the format of the first response, kept for every notification */
    struct lwm2m_obs_eval ev;
    uint32_t con_xchg; /* the CON notification in flight, 0 when none */
    uint32_t non_xchg; /* the NON notification watched for a RST, 0 when none */
    uint16_t non_run;  /* NON notifications since the last CON */
};

static uint64_t obs_now(const struct lwm2m_endpoint *ep) {
    return coap_clock_mono_ms(ep->eng->env.clock);
}

const struct lwm2m_report_stats *lwm2m_engine_report_stats(const struct lwm2m_engine *e) {
    return &e->report_stats;
}

size_t lwm2m_endpoint_observations(const struct lwm2m_endpoint *ep) {
    return ep->obs != NULL ? ep->obs->n : 0;
}

/* ---- The endpoint's state and its one event ------------------------------------------------- */

static void obs_event(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    lwm2m_obs_run(arg);
}

struct lwm2m_obs_ep *lwm2m_obs_ep(struct lwm2m_endpoint *ep) {
    if (ep->obs != NULL)
        return ep->obs;
    struct lwm2m_obs_ep *oe = calloc(1, sizeof(*oe));
    if (oe == NULL)
        return NULL;
    oe->ev = evtimer_new(ep->eng->base, obs_event, ep);
    if (oe->ev == NULL) {
        free(oe);
        return NULL;
    }
    oe->con_every = OBS_CON_EVERY;
    oe->send.ct = LWM2M_CT_SENML_CBOR;
    ep->obs = oe;
    return oe;
}

/* Asks for a pass in this loop iteration: one event_active however many changes come. */
static void obs_kick(struct lwm2m_obs_ep *oe) {
    if (oe->active)
        return;
    oe->active = true;
    event_active(oe->ev, EV_TIMEOUT, 1);
}

void lwm2m_obs_kick(struct lwm2m_endpoint *ep) {
    if (ep->obs != NULL)
        obs_kick(ep->obs);
}

static void obs_arm(struct lwm2m_obs_ep *oe, uint64_t next, uint64_t now) {
    if (oe->active)
        return; /* kicked during the pass: evtimer_del would drop that activation; the coming
                   pass arms the timer */
    if (next == 0) {
        evtimer_del(oe->ev);
        return;
    }
    uint64_t d = next > now ? next - now : 0;
    struct timeval tv = {.tv_sec = (time_t)(d / 1000), .tv_usec = (suseconds_t)(d % 1000) * 1000};
    evtimer_add(oe->ev, &tv);
}

int lwm2m_endpoint_set_report(struct lwm2m_endpoint *ep, const struct lwm2m_report_cfg *cfg) {
    if (ep == NULL || cfg == NULL || (cfg->send_npaths > 0 && cfg->send_paths == NULL))
        return LWM2M_ERR_INVALID;
    if (cfg->send_ct != 0 && cfg->send_ct != LWM2M_CT_SENML_CBOR &&
        cfg->send_ct != LWM2M_CT_SENML_JSON)
        return LWM2M_ERR_INVALID;
    struct lwm2m_obs_ep *oe = lwm2m_obs_ep(ep);
    struct lwm2m_path *paths = NULL;
    if (oe == NULL)
        return LWM2M_ERR_NOMEM;
    if (cfg->send_npaths > 0) {
        paths = malloc(cfg->send_npaths * sizeof(*paths));
        if (paths == NULL)
            return LWM2M_ERR_NOMEM;
        memcpy(paths, cfg->send_paths, cfg->send_npaths * sizeof(*paths));
    }
    oe->notify_con = cfg->notify_con;
    oe->con_every = cfg->con_every != 0 ? cfg->con_every : OBS_CON_EVERY;
    lwm2m_send_free(&oe->send);
    oe->send =
        (struct lwm2m_send_state){.paths = paths,
                                  .npaths = cfg->send_npaths,
                                  .on_change = cfg->send_on_change,
                                  .period_s = cfg->send_period_s,
                                  .ct = cfg->send_ct != 0 ? cfg->send_ct : LWM2M_CT_SENML_CBOR};
    if (oe->send.period_s != 0 && oe->send.npaths > 0)
        oe->send.next_ms = obs_now(ep) + (uint64_t)oe->send.period_s * 1000;
    obs_kick(oe);
    return lwm2m_keep_setup(ep, cfg);
}

/* ---- Observation lifetime ------------------------------------------------------------------- */

static void obs_destroy(struct lwm2m_obs *o) {
    struct lwm2m_endpoint *ep = o->ep;
    if (o->con_xchg != 0)
        coap_cancel(ep->coap, o->con_xchg);
    if (o->non_xchg != 0)
        coap_cancel(ep->coap, o->non_xchg);
    free(o->paths);
    free(o->devs);
    free(o);
}

/* Unlinks and frees o. */
static void obs_end(struct lwm2m_obs *o) {
    struct lwm2m_endpoint *ep = o->ep;
    struct lwm2m_obs_ep *oe = ep->obs;
    for (struct lwm2m_obs **pp = &oe->head; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == o) {
            *pp = o->next;
            oe->n--;
            ep->eng->report_stats.observations--;
            ep->eng->report_stats.observe_ended++;
            break;
        }
    }
    obs_destroy(o);
}

void lwm2m_obs_free(struct lwm2m_endpoint *ep) {
    struct lwm2m_obs_ep *oe = ep->obs;
    if (oe == NULL)
        return;
    while (oe->head != NULL) {
        struct lwm2m_obs *o = oe->head;
        oe->head = o->next;
        ep->eng->report_stats.observations--;
        obs_destroy(o);
    }
    lwm2m_send_free(&oe->send);
    lwm2m_keep_free(ep);
    event_free(oe->ev);
    free(oe);
    ep->obs = NULL;
}

static void obs_reg_event_ep(struct lwm2m_endpoint *ep, struct lwm2m_server *s,
                             enum lwm2m_obs_reg what);

void lwm2m_obs_reg_event(struct lwm2m_server *s, enum lwm2m_obs_reg what) {
    obs_reg_event_ep(s->ep, s, what);
    /* Gateway mode: the devices' observations ride on the host's registration. */
    for (struct lwm2m_gwdev *d = s->ep->gwdevs; d != NULL; d = d->next)
        obs_reg_event_ep(&d->view, s, what);
}

static void obs_reg_event_ep(struct lwm2m_endpoint *ep, struct lwm2m_server *s,
                             enum lwm2m_obs_reg what) {
    struct lwm2m_obs_ep *oe = ep->obs;
    if (oe == NULL)
        return;
    if (what != LWM2M_OBS_REG_ENDED) {
        lwm2m_keep_reachable(ep, s);
        obs_kick(oe); /* reachable again: deliver what waited (queue mode, kept values) */
    }
    if (what == LWM2M_OBS_REG_UPDATED)
        return;
    /* A new registration starts with no observations on the server's side (TS Core §6.4:
     * they are tied to the registration); an ended one takes them along. */
    struct lwm2m_obs *o = oe->head, *next;
    for (; o != NULL; o = next) {
        next = o->next;
        if (o->srv == s)
            obs_end(o);
    }
}

/* ---- Values and bodies ---------------------------------------------------------------------- */

static bool obs_numeric(const struct lwm2m_model *m, const struct lwm2m_path *p) {
    const struct lwm2m_resource_def *rd = p->len >= 3 ? lwm2m_model_path_resource(m, p) : NULL;
    if (rd == NULL || (p->len == 3 && rd->multiple))
        return false;
    return rd->type == LWM2M_TYPE_INTEGER || rd->type == LWM2M_TYPE_UNSIGNED ||
           rd->type == LWM2M_TYPE_FLOAT || rd->type == LWM2M_TYPE_BOOLEAN;
}

/* The observed single value as a number (attribute evaluation). */
static int obs_read_num(struct lwm2m_obs *o, double *out) {
    struct lwm2m_dm_req r = {.ep = o->ep, .srv = o->srv, .model = o->ep->eng->model};
    struct lwm2m_value v;
    int rc = lwm2m_src_read(&r, &o->path, &v);
    if (rc != 0)
        return rc;
    switch (v.type) {
    case LWM2M_TYPE_INTEGER:
    case LWM2M_TYPE_TIME:
        *out = (double)v.v.i;
        return 0;
    case LWM2M_TYPE_UNSIGNED:
        *out = (double)v.v.u;
        return 0;
    case LWM2M_TYPE_FLOAT:
        *out = v.v.f;
        return 0;
    case LWM2M_TYPE_BOOLEAN:
        *out = v.v.b ? 1 : 0;
        return 0;
    default:
        return LWM2M_ERR_FORMAT;
    }
}

/* The body of a response or notification for o; *body malloc'ed (NULL when empty). */
static int obs_body(struct lwm2m_obs *o, uint8_t **body, size_t *len, uint16_t *ct) {
    if (o->paths == NULL)
        return lwm2m_dm_read_encode(o->ep, o->srv, &o->path, o->accept, body, len, ct);
    struct lwm2m_recset rs = {0};
    int rc = o->devs != NULL
                 ? lwm2m_recset_read_gw(o->ep, o->srv, o->paths, o->devs, o->npaths, &rs)
                 : lwm2m_recset_read(o->ep, o->srv, o->paths, o->npaths, &rs);
    if (rc == 0)
        rc = lwm2m_recset_encode_set(&o->path, &rs, (unsigned)o->accept, body, len);
    *ct = (uint16_t)o->accept;
    lwm2m_recset_free(&rs);
    return rc;
}

static void obs_attrs(const struct lwm2m_obs *o, struct lwm2m_attrs *a) {
    lwm2m_attr_effective(o->ep, o->srv, &o->path, a);
}

/* ---- Notifications -------------------------------------------------------------------------- */

static void obs_on_con(void *ctx, int err, const struct coap_msg *resp,
                       const struct coap_addr *peer) {
    struct lwm2m_obs *o = ctx;
    (void)resp;
    (void)peer;
    o->con_xchg = 0;
    if (err == LWM2M_ERR_TIMEOUT && lwm2m_keep_active(o->ep, o->srv)) {
        /* hqmax=0 with a server that stores notifications: the value is lost, not the
         * observation, which outlives an outage as its stored siblings do. */
        o->ep->eng->report_stats.notify_dropped++;
        if (o->ev.pending)
            obs_kick(o->ep->obs);
        return;
    }
    if (err != 0) {
        obs_end(o); /* RST, or never acknowledged: the observer is gone (RFC 7641 §4.5) */
        return;
    }
    if (o->ev.pending)
        obs_kick(o->ep->obs); /* a newer value waited for this ACK */
}

static void obs_on_non(void *ctx, int err, const struct coap_msg *resp,
                       const struct coap_addr *peer) {
    struct lwm2m_obs *o = ctx;
    (void)resp;
    (void)peer;
    o->non_xchg = 0;
    if (err == LWM2M_ERR_RESET)
        obs_end(o);
}

static bool obs_use_con(struct lwm2m_obs *o, const struct lwm2m_attrs *a) {
    struct lwm2m_obs_ep *oe = o->ep->obs;
    bool con = (a->set & LWM2M_ATTR_CON) ? a->con != 0 : oe->notify_con;
    if (!con && ++o->non_run >= oe->con_every)
        con = true;
    if (con)
        o->non_run = 0;
    return con;
}

/* An error instead of a value (the target was deleted): sent once, it ends the observation
 * (RFC 7641 §4.2), so no callback is kept. */
static void obs_notify_error(struct lwm2m_obs *o, int err) {
    struct coap_msg m;
    coap_msg_init(&m, COAP_TYPE_NON, lwm2m_err_to_coap(err, LWM2M_DM_OP_READ), 0);
    coap_notify(o->ep->coap, &o->co, &m, NULL, NULL, NULL);
    obs_end(o);
}

/* hqmax=0 (TS Core 1.2 §5.1.2: only data with hqmax > 0 is in what was stored while offline):
 * the observation keeps no history, even for a server with Notification Storing. */
static bool obs_no_history(const struct lwm2m_attrs *a) {
    return (a->set & LWM2M_ATTR_HQMAX) && a->hqmax == 0;
}

/* Whether o's values go through the store-and-forward queue. An Observe-Composite across
 * gateway devices does too, in the host's queue, as entries naming each record's device. */
static bool obs_kept(const struct lwm2m_obs *o, const struct lwm2m_attrs *a) {
    return !obs_no_history(a) && lwm2m_keep_active(o->ep, o->srv);
}

/* Store-and-forward: the value goes into the server's queue, stamped now, at most hqmax of this
 * observation's kept (the oldest dropped first); the pass delivers it right away when the
 * server is reachable. Returns 0 or LWM2M_ERR_CANCELLED. */
static int obs_keep(struct lwm2m_obs *o, const struct lwm2m_attrs *a, uint64_t now) {
    double cur = o->ev.prev;
    struct lwm2m_keep_tag tag = {.token = o->co.token,
                                 .token_len = o->co.token_len,
                                 .max_same = (a->set & LWM2M_ATTR_HQMAX) ? a->hqmax : 0};
    if (o->ev.has_num)
        obs_read_num(o, &cur);
    int rc = o->devs != NULL
                 ? lwm2m_keep_push_gw(o->ep, o->srv, &tag, o->paths, o->devs, o->npaths)
                 : lwm2m_keep_push(o->ep, o->srv, &tag, o->paths != NULL ? o->paths : &o->path,
                                   o->paths != NULL ? o->npaths : 1);
    if (rc == LWM2M_ERR_NOTFOUND && o->paths == NULL) {
        obs_notify_error(o, rc); /* the target is gone */
        return LWM2M_ERR_CANCELLED;
    }
    if (rc != 0)
        o->ep->eng->report_stats.notify_dropped++;
    lwm2m_obs_attr_notified(&o->ev, cur, now);
    return 0;
}

/* Sends the current value. Returns 0, or LWM2M_ERR_CANCELLED when o was ended. */
static int obs_notify(struct lwm2m_obs *o, const struct lwm2m_attrs *a, uint64_t now) {
    if (obs_kept(o, a))
        return obs_keep(o, a, now);
    struct lwm2m_report_stats *stats = &o->ep->eng->report_stats;
    double cur = o->ev.prev;
    uint8_t *body = NULL;
    size_t len = 0;
    uint16_t ct = 0;
    if (o->ev.has_num)
        obs_read_num(o, &cur);
    int rc = obs_body(o, &body, &len, &ct);
    if (rc == LWM2M_ERR_NOTFOUND) {
        obs_notify_error(o, rc);
        return LWM2M_ERR_CANCELLED;
    }
    if (rc == 0) {
        bool con = obs_use_con(o, a);
        struct coap_msg m;
        coap_msg_init(&m, con ? COAP_TYPE_CON : COAP_TYPE_NON, COAP_205_CONTENT, 0);
        coap_msg_add_opt_uint(&m, COAP_OPT_CONTENT_FORMAT, ct);
        coap_msg_set_payload(&m, body, len);
        bool watch = !con && o->non_xchg == 0;
        /* A NON is watched for a RST while no other of this observation is (one exchange at
         * most, whatever the rate); a CON always is. */
        coap_done_fn cb = con ? obs_on_con : watch ? obs_on_non : NULL;
        uint32_t *id = con ? &o->con_xchg : watch ? &o->non_xchg : NULL;
        rc = coap_notify(o->ep->coap, &o->co, &m, cb, o, id);
        if (rc == 0) {
            stats->notifications++;
            *(con ? &stats->notify_con : &stats->notify_non) += 1;
            lwm2m_report_sent(o->srv);
        }
    }
    free(body);
    if (rc != 0)
        stats->notify_dropped++; /* stale or unreadable now: pmax or the next change retries */
    lwm2m_obs_attr_notified(&o->ev, cur, now);
    return 0;
}

/* Evaluates and notifies o at now; returns its next deadline (0: none). */
static uint64_t obs_step(struct lwm2m_obs *o, uint64_t now) {
    struct lwm2m_attrs a;
    obs_attrs(o, &a);
    if (!lwm2m_reg_is_registered(o->srv) && !obs_kept(o, &a))
        return 0; /* the registration's end takes the observation along */
    if (lwm2m_obs_attr_eval_due(&a, &o->ev, now)) {
        double cur = o->ev.prev;
        if (o->ev.has_num && obs_read_num(o, &cur) != 0)
            cur = o->ev.prev; /* unreadable now: judged as unchanged */
        lwm2m_obs_attr_evaluated(&o->ev, lwm2m_obs_attr_condition(&a, &o->ev, cur), cur, now);
    }
    if (lwm2m_obs_attr_notify_due(&a, &o->ev, now)) {
        bool keep = obs_kept(o, &a);
        if (!keep && (o->con_xchg != 0 || o->srv->rx_off)) {
            /* One CON at a time (its ACK runs the pass again); a sleeping queue-mode endpoint
             * wakes the server's view with an Update first (the UPDATED hook runs the pass). */
            o->ev.pending = true;
            if (o->srv->rx_off)
                lwm2m_reg_update(o->srv, false);
            return 0;
        }
        if (obs_notify(o, &a, now) != 0)
            return 0;
    }
    return lwm2m_obs_attr_next(&a, &o->ev);
}

static void earliest(uint64_t *best, uint64_t t) {
    if (t != 0 && (*best == 0 || t < *best))
        *best = t;
}

void lwm2m_obs_run(struct lwm2m_endpoint *ep) {
    struct lwm2m_obs_ep *oe = ep->obs;
    if (oe == NULL)
        return;
    oe->active = false;
    uint64_t now = obs_now(ep), next = 0;
    for (struct lwm2m_obs *o = oe->head, *nx; o != NULL; o = nx) {
        nx = o->next;
        earliest(&next, obs_step(o, now));
    }
    earliest(&next, lwm2m_send_run(ep, &oe->send, now));
    earliest(&next, lwm2m_keep_run(ep, now));
    obs_arm(oe, next, now);
}

/* Whether a change of p on dev (NULL: the endpoint itself) concerns o. */
static bool obs_touches(const struct lwm2m_obs *o, const struct lwm2m_gwdev *dev,
                        const struct lwm2m_path *p) {
    if (o->paths == NULL)
        return dev == NULL &&
               (lwm2m_path_has_prefix(p, &o->path) || lwm2m_path_has_prefix(&o->path, p));
    for (size_t i = 0; i < o->npaths; i++) {
        if ((o->devs != NULL ? o->devs[i] : NULL) != dev)
            continue;
        if (lwm2m_path_has_prefix(p, &o->paths[i]) || lwm2m_path_has_prefix(&o->paths[i], p))
            return true;
    }
    return false;
}

/* Marks the observations of oe that p on dev concerns; true when one was. */
static bool obs_mark(struct lwm2m_obs_ep *oe, const struct lwm2m_gwdev *dev,
                     const struct lwm2m_path *p) {
    bool any = false;
    for (struct lwm2m_obs *o = oe != NULL ? oe->head : NULL; o != NULL; o = o->next) {
        if (obs_touches(o, dev, p)) {
            o->ev.dirty = true;
            any = true;
        }
    }
    return any;
}

void lwm2m_endpoint_changed(struct lwm2m_endpoint *ep, const struct lwm2m_path *p) {
    if (ep == NULL || p == NULL)
        return;
    struct lwm2m_obs_ep *oe = ep->obs;
    /* Gateway mode: a device's change also reaches the host's Observe-Composites that name
     * paths of several devices. */
    struct lwm2m_endpoint *host = ep->gwdev != NULL ? ep->gwdev->host : NULL;
    if (host != NULL && obs_mark(host->obs, ep->gwdev, p))
        obs_kick(host->obs);
    if (oe == NULL)
        return; /* nothing observed and no Send configured: nothing to do */
    bool any = obs_mark(oe, NULL, p);
    lwm2m_send_mark(&oe->send, p);
    if (any || oe->send.dirty)
        obs_kick(oe);
}

void lwm2m_obs_gwdev_gone(struct lwm2m_endpoint *host, struct lwm2m_gwdev *dev) {
    struct lwm2m_obs_ep *oe = host->obs;
    for (struct lwm2m_obs *o = oe != NULL ? oe->head : NULL, *nx; o != NULL; o = nx) {
        nx = o->next;
        size_t k = 0;
        for (size_t i = 0; o->devs != NULL && i < o->npaths; i++) {
            if (o->devs[i] == dev)
                continue;
            o->paths[k] = o->paths[i];
            o->devs[k++] = o->devs[i];
        }
        if (o->devs == NULL || k == o->npaths)
            continue;
        o->npaths = k;
        if (k == 0) {
            obs_notify_error(o, LWM2M_ERR_NOTFOUND); /* nothing left to observe: 4.04 ends it */
            continue;
        }
        o->ev.dirty = true; /* the server sees the device's values go */
        obs_kick(oe);
    }
}

/* ---- Store-and-forward delivery -------------------------------------------------------------- */

static struct lwm2m_obs *obs_by_token(struct lwm2m_endpoint *ep, struct lwm2m_server *s,
                                      const uint8_t *token, size_t len) {
    for (struct lwm2m_obs *o = ep->obs != NULL ? ep->obs->head : NULL; o != NULL; o = o->next)
        if (o->srv == s && o->co.token_len == len && memcmp(o->co.token, token, len) == 0)
            return o;
    return NULL;
}

int lwm2m_obs_deliver(struct lwm2m_endpoint *ep, struct lwm2m_server *s, const uint8_t *token,
                      size_t token_len, const struct lwm2m_record *recs, const char *const *pfx,
                      size_t n, coap_done_fn cb, void *ctx, uint32_t *id) {
    struct lwm2m_obs *o = obs_by_token(ep, s, token, token_len);
    uint8_t *body = NULL;
    size_t len = 0;
    if (o == NULL)
        return LWM2M_ERR_NOTFOUND;
    int rc = lwm2m_recset_encode_each(&o->path, o->ep->prefix, pfx, recs, n, o->ct, &body, &len);
    if (rc != 0)
        return rc == LWM2M_ERR_NOMEM ? rc : LWM2M_ERR_NOTFOUND; /* e.g. text for 2 values */
    struct coap_msg m;
    coap_msg_init(&m, COAP_TYPE_CON, COAP_205_CONTENT, 0);
    coap_msg_add_opt_uint(&m, COAP_OPT_CONTENT_FORMAT, o->ct);
    coap_msg_set_payload(&m, body, len);
    rc = coap_notify(ep->coap, &o->co, &m, cb, ctx, id);
    free(body);
    if (rc == 0) {
        ep->eng->report_stats.notifications++;
        ep->eng->report_stats.notify_con++;
        lwm2m_report_sent(s);
    }
    return rc;
}

void lwm2m_obs_forget(struct lwm2m_endpoint *ep, struct lwm2m_server *s, const uint8_t *token,
                      size_t token_len) {
    struct lwm2m_obs *o = obs_by_token(ep, s, token, token_len);
    if (o != NULL)
        obs_end(o);
}

/* ---- Requests: Observe, Observe-Composite, cancel ------------------------------------------- */

static bool same_token(const struct lwm2m_obs *o, const struct coap_msg *req) {
    return o->co.token_len == req->token_len &&
           memcmp(o->co.token, req->token, req->token_len) == 0;
}

/* The observation a request refers to: the same token from the same server, or (RFC 7641 §4.1:
 * an observer is not listed twice for one resource) the same single target. */
static struct lwm2m_obs *obs_match(struct lwm2m_obs_ep *oe, const struct lwm2m_dm_req *r,
                                   bool composite) {
    for (struct lwm2m_obs *o = oe != NULL ? oe->head : NULL; o != NULL; o = o->next) {
        if (o->srv != r->srv)
            continue;
        if (same_token(o, r->in->req))
            return o;
        if (!composite && o->paths == NULL && lwm2m_path_cmp(&o->path, &r->path) == 0)
            return o;
    }
    return NULL;
}

static int obs_reply(struct lwm2m_dm_req *r, struct lwm2m_obs *o, uint16_t ct, const uint8_t *b,
                     size_t len) {
    struct coap_msg m;
    coap_msg_init(&m, COAP_TYPE_ACK, COAP_205_CONTENT, 0);
    coap_msg_add_opt_uint(&m, COAP_OPT_OBSERVE, o->co.seq);
    coap_msg_add_opt_uint(&m, COAP_OPT_CONTENT_FORMAT, ct);
    coap_msg_set_payload(&m, b, len);
    return coap_reply(r->cep, r->in, &m);
}

/* Makes (or reuses) the observation for r and fills its identity. */
static struct lwm2m_obs *obs_take(struct lwm2m_dm_req *r, bool composite) {
    struct lwm2m_obs_ep *oe = lwm2m_obs_ep(r->ep);
    struct lwm2m_obs *o = oe != NULL ? obs_match(oe, r, composite) : NULL;
    if (oe == NULL)
        return NULL;
    if (o == NULL) {
        o = calloc(1, sizeof(*o));
        if (o == NULL)
            return NULL;
        o->next = oe->head;
        oe->head = o;
        oe->n++;
        r->ep->eng->report_stats.observations++;
    } else if (o->con_xchg != 0) {
        coap_cancel(r->ep->coap, o->con_xchg); /* the old token's CON is moot now */
        o->con_xchg = 0;
    }
    const struct coap_msg *req = r->in->req;
    o->ep = r->ep;
    o->srv = r->srv;
    o->co.peer = *r->in->peer;
    o->co.token_len = req->token_len;
    memcpy(o->co.token, req->token, req->token_len);
    if (coap_block_key(req, o->co.block_key, sizeof(o->co.block_key)) < 0)
        o->co.block_key[0] = '\0';
    return o;
}

/* Creates the observation after a successful first read and answers with Observe. */
static int obs_start(struct lwm2m_dm_req *r, bool composite, struct lwm2m_obs_list *l, int accept) {
    struct lwm2m_obs tmp = {.ep = r->ep, .srv = r->srv, .path = r->path, .accept = accept};
    tmp.paths = l->paths;
    tmp.devs = l->devs;
    tmp.npaths = l->n;
    uint8_t *body = NULL;
    size_t len = 0;
    uint16_t ct = 0;
    int rc = obs_body(&tmp, &body, &len, &ct);
    struct lwm2m_obs *o = rc == 0 ? obs_take(r, composite) : NULL;
    if (o == NULL) {
        free(body);
        lwm2m_obs_list_free(l);
        return lwm2m_dm_reply_err(r, rc != 0 ? rc : LWM2M_ERR_NOMEM);
    }
    free(o->paths);
    free(o->devs);
    o->path = r->path;
    o->paths = l->paths;
    o->devs = l->devs;
    o->npaths = l->n;
    o->accept = accept;
    o->ct = ct;
    double v = 0;
    bool num = !composite && obs_numeric(r->model, &r->path) && obs_read_num(o, &v) == 0;
    lwm2m_obs_attr_start(&o->ev, num, v, obs_now(r->ep));
    o->non_run = 0;
    r->ep->eng->report_stats.observe_started++;
    rc = obs_reply(r, o, ct, body, len);
    free(body);
    obs_kick(r->ep->obs); /* the pass arms the timer for pmax/epmax */
    return rc;
}

/* A cancel with another token than the registration's (§3.6 asks for the same one, not every
 * server does): the Observe-Composite of this server with the same list of paths. */
static struct lwm2m_obs *obs_match_paths(struct lwm2m_dm_req *r) {
    struct lwm2m_obs_list l = {0};
    int ct = 0;
    struct lwm2m_dm_req routed = *r; /* gateway mode: the device view (or host) the paths name */
    if (lwm2m_obs_composite_setup(&routed, &l, &ct) != 0)
        return NULL;
    struct lwm2m_obs *o = routed.ep->obs != NULL ? routed.ep->obs->head : NULL;
    for (; o != NULL; o = o->next) {
        size_t i = 0;
        if (o->srv != r->srv || o->paths == NULL || o->npaths != l.n ||
            (o->devs == NULL) != (l.devs == NULL))
            continue;
        while (i < l.n && lwm2m_path_cmp(&o->paths[i], &l.paths[i]) == 0 &&
               (l.devs == NULL || o->devs[i] == l.devs[i]))
            i++;
        if (i == l.n)
            break;
    }
    lwm2m_obs_list_free(&l);
    return o;
}

/* Observe 1 (RFC 7641 §3.6): the observation ends, the request is answered as a plain one. */
static int obs_cancel(struct lwm2m_dm_req *r, bool composite) {
    struct lwm2m_obs *o = obs_match(r->ep->obs, r, composite);
    if (o == NULL && composite)
        o = obs_match_paths(r);
    if (o != NULL)
        obs_end(o);
    return composite ? lwm2m_dm_read_composite(r) : lwm2m_dm_read(r);
}

int lwm2m_obs_request(struct lwm2m_dm_req *r, uint32_t observe) {
    bool composite = r->in->req->code == COAP_FETCH;
    r->op = composite ? LWM2M_DM_OP_READ_COMPOSITE : LWM2M_DM_OP_READ;
    if (observe == 1)
        return obs_cancel(r, composite);
    if (observe != 0)
        return composite ? lwm2m_dm_read_composite(r) : lwm2m_dm_read(r);
    struct lwm2m_obs_list l = {0};
    if (!composite)
        return obs_start(r, false, &l, r->has_accept ? (int)r->accept : -1);
    if (r->path.len != 0)
        return lwm2m_dm_reply_err(r, LWM2M_DM_ERR_NOT_ALLOWED);
    int ct = 0;
    int rc = lwm2m_obs_composite_setup(r, &l, &ct);
    if (rc != 0)
        return lwm2m_dm_reply_err(r, rc);
    return obs_start(r, true, &l, ct);
}
