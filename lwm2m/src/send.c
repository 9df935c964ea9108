/* SPDX-License-Identifier: Apache-2.0 */
/* Send (TS Core 1.1.1 §6.4.4, Transport §6.4: POST /dp with SenML CBOR or JSON), muted per
 * server by /1/x/23, triggered by the owner or automatically (on change, periodic), and the
 * record sets it shares with Observe-Composite: values read through the Read machinery. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "observe_internal.h"
#include "sf_store.h"

#define REC_BODY_FIRST 1024

/* ---- Record sets ---------------------------------------------------------------------------- */

void lwm2m_recset_free(struct lwm2m_recset *rs) {
    for (size_t i = 0; i < rs->nbufs; i++)
        free(rs->bufs[i]);
    free(rs->bufs);
    free(rs->recs);
    free(rs->pfx);
    memset(rs, 0, sizeof(*rs));
}

static int recset_add(void *ctx, const struct lwm2m_record *r) {
    struct lwm2m_recset *rs = ctx;
    if (rs->n == rs->cap) {
        size_t cap = rs->cap != 0 ? rs->cap * 2 : 16;
        struct lwm2m_record *v = realloc(rs->recs, cap * sizeof(*v));
        if (v == NULL)
            return LWM2M_ERR_NOMEM;
        rs->recs = v;
        const char **pv = realloc(rs->pfx, cap * sizeof(*pv));
        if (pv == NULL)
            return LWM2M_ERR_NOMEM;
        rs->pfx = pv;
        rs->cap = cap;
    }
    rs->pfx[rs->n] = rs->cur;
    rs->recs[rs->n++] = *r;
    return 0;
}

static int recset_keep(struct lwm2m_recset *rs, uint8_t *buf) {
    uint8_t **v = realloc(rs->bufs, (rs->nbufs + 1) * sizeof(*v));
    if (v == NULL)
        return LWM2M_ERR_NOMEM;
    rs->bufs = v;
    rs->bufs[rs->nbufs++] = buf;
    return 0;
}

/* Each path is read as a SenML CBOR Read of it would be, then decoded back into records: one
 * walk over the data model (dm_read.c) serves Read, Observe and Send alike. */
/* Our own encoding of a device view's values: its prefix is the only one there. */
static int recset_own_prefix(void *ctx, const char *s, size_t n) {
    (void)ctx;
    (void)s;
    (void)n;
    return 0;
}

/* Appends the records of paths[0..n) read through ep; frees out on failure. */
static int recset_read_into(struct lwm2m_endpoint *ep, struct lwm2m_server *s,
                            const struct lwm2m_path *paths, size_t n, struct lwm2m_recset *out) {
    out->cur = ep->prefix;
    for (size_t i = 0; i < n; i++) {
        uint8_t *body = NULL;
        size_t len = 0;
        uint16_t ct = 0;
        int rc = lwm2m_dm_read_encode(ep, s, &paths[i], LWM2M_CT_SENML_CBOR, &body, &len, &ct);
        if (rc == LWM2M_ERR_NOTFOUND || rc == LWM2M_DM_ERR_NOT_ALLOWED ||
            rc == LWM2M_DM_ERR_UNAUTHORIZED || rc == LWM2M_ERR_AGAIN)
            continue; /* as Read-Composite: what cannot be read now is left out */
        if (rc == 0 && body == NULL)
            continue;
        if (rc == 0 && (rc = recset_keep(out, body)) != 0)
            free(body);
        struct lwm2m_decode_cfg cfg = {.ct = LWM2M_CT_SENML_CBOR,
                                       .req = paths[i],
                                       .type_of = lwm2m_src_type_of,
                                       .type_ctx = (void *)ep->eng->model};
        if (ep->prefix != NULL)
            cfg.prefix_of = recset_own_prefix; /* a device view names its values with it */
        if (rc == 0)
            rc = lwm2m_decode(&cfg, body, len, recset_add, out);
        if (rc != 0) {
            lwm2m_recset_free(out);
            return rc;
        }
    }
    return 0;
}

int lwm2m_recset_read(struct lwm2m_endpoint *ep, struct lwm2m_server *s,
                      const struct lwm2m_path *paths, size_t n, struct lwm2m_recset *out) {
    memset(out, 0, sizeof(*out));
    return recset_read_into(ep, s, paths, n, out);
}

int lwm2m_recset_read_gw(struct lwm2m_endpoint *host, struct lwm2m_server *s,
                         const struct lwm2m_path *paths, struct lwm2m_gwdev *const *devs, size_t n,
                         struct lwm2m_recset *out) {
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < n; i++) {
        int rc = recset_read_into(devs[i] != NULL ? &devs[i]->view : host, s, &paths[i], 1, out);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int lwm2m_recset_encode(const struct lwm2m_path *req, const struct lwm2m_record *recs, size_t n,
                        unsigned ct, uint8_t **body, size_t *len) {
    return lwm2m_recset_encode_prefix(req, NULL, recs, n, ct, body, len);
}

/* Each record under its own prefix (pfx[i]) when pfx is given, else under prefix. */
static int recset_encode(const struct lwm2m_path *req, const char *prefix, const char *const *pfx,
                         const struct lwm2m_record *recs, size_t n, unsigned ct, uint8_t **body,
                         size_t *len) {
    for (size_t cap = REC_BODY_FIRST; cap <= LWM2M_DM_BODY_MAX; cap *= 4) {
        struct lwm2m_encoder enc;
        uint8_t *buf = malloc(cap);
        if (buf == NULL)
            return LWM2M_ERR_NOMEM;
        int rc = lwm2m_encoder_init(&enc, ct, req, buf, cap);
        for (size_t i = 0; i < n && rc == 0; i++) {
            enc.prefix = pfx != NULL ? pfx[i] : prefix;
            rc = lwm2m_encoder_add(&enc, &recs[i]);
        }
        if (rc == 0 || enc.err == LWM2M_ERR_NOSPACE)
            rc = lwm2m_encoder_finish(&enc, len);
        if (rc == 0) {
            *body = buf;
            return 0;
        }
        free(buf);
        if (rc != LWM2M_ERR_NOSPACE)
            return rc;
    }
    return LWM2M_ERR_NOSPACE;
}

int lwm2m_recset_encode_prefix(const struct lwm2m_path *req, const char *prefix,
                               const struct lwm2m_record *recs, size_t n, unsigned ct,
                               uint8_t **body, size_t *len) {
    return recset_encode(req, prefix, NULL, recs, n, ct, body, len);
}

int lwm2m_recset_encode_each(const struct lwm2m_path *req, const char *prefix,
                             const char *const *pfx, const struct lwm2m_record *recs, size_t n,
                             unsigned ct, uint8_t **body, size_t *len) {
    return recset_encode(req, prefix, pfx, recs, n, ct, body, len);
}

int lwm2m_recset_encode_set(const struct lwm2m_path *req, const struct lwm2m_recset *rs,
                            unsigned ct, uint8_t **body, size_t *len) {
    return recset_encode(req, NULL, rs->pfx, rs->recs, rs->n, ct, body, len);
}

/* ---- Send ----------------------------------------------------------------------------------- */

/* The endpoint whose registration ep's reports ride on: in gateway mode a device's view has no
 * servers, its Sends and queues use the host's (TS Gateway: the gateway sends for its devices,
 * with prefixed names). */
static struct lwm2m_endpoint *reg_ep(const struct lwm2m_endpoint *ep) {
    return ep->gwdev != NULL ? ep->gwdev->host : (struct lwm2m_endpoint *)ep;
}

static void send_done(void *ctx, int err, const struct coap_msg *resp,
                      const struct coap_addr *peer) {
    struct lwm2m_engine *e = ctx;
    (void)peer;
    if (err != 0 || COAP_CODE_CLASS(resp->code) != 2)
        e->report_stats.send_failed++;
}

static uint16_t send_ct(struct lwm2m_endpoint *ep) {
    return ep->obs != NULL ? ep->obs->send.ct : LWM2M_CT_SENML_CBOR;
}

/* Stamps every record of a read rs now: the server learns when the values were taken, not when
 * they arrived. rc is the read's result: 0, LWM2M_ERR_NOTFOUND (nothing readable) or an error,
 * and then rs is freed. */
static int recset_stamp(struct lwm2m_endpoint *ep, int rc, struct lwm2m_recset *rs) {
    if (rc == 0 && rs->n == 0)
        rc = LWM2M_ERR_NOTFOUND;
    double t = (double)coap_clock_real_ms(ep->eng->env.clock) / 1000.0;
    for (size_t i = 0; rc == 0 && i < rs->n; i++) {
        rs->recs[i].time = t;
        rs->recs[i].has_time = true;
    }
    if (rc != 0)
        lwm2m_recset_free(rs);
    return rc;
}

/* Reads paths for s into rs, every record stamped now (recset_stamp). */
static int send_read(struct lwm2m_endpoint *ep, struct lwm2m_server *s,
                     const struct lwm2m_path *paths, size_t n, struct lwm2m_recset *rs) {
    return recset_stamp(ep, lwm2m_recset_read(ep, s, paths, n, rs), rs);
}

/* POST /dp of records (CON), named under ep's prefix or, when pfx is given, each under its own
 * (pfx[i], NULL: none); cb gets the outcome. */
static int send_recs(struct lwm2m_endpoint *ep, struct lwm2m_server *s,
                     const struct lwm2m_record *recs, const char *const *pfx, size_t n,
                     coap_done_fn cb, void *ctx, uint32_t *id) {
    static const struct lwm2m_path root = {.len = 0};
    uint8_t *body = NULL;
    size_t len = 0;
    uint16_t ct = send_ct(ep);
    int rc = lwm2m_recset_encode_each(&root, ep->prefix, pfx, recs, n, ct, &body, &len);
    if (rc != 0)
        return rc;
    struct coap_msg m;
    coap_msg_init(&m, COAP_TYPE_CON, COAP_POST, 0);
    coap_msg_add_path(&m, COAP_OPT_URI_PATH, "dp");
    coap_msg_add_opt_uint(&m, COAP_OPT_CONTENT_FORMAT, ct);
    coap_msg_set_payload(&m, body, len);
    rc = coap_request(ep->coap, &s->addr, &m, cb, ctx, id);
    free(body);
    if (rc == 0) {
        ep->eng->report_stats.sends++;
        lwm2m_report_sent(s);
    }
    return rc;
}

static int send_to(struct lwm2m_endpoint *ep, struct lwm2m_server *s,
                   const struct lwm2m_path *paths, size_t n) {
    struct lwm2m_recset rs;
    int rc = send_read(ep, s, paths, n, &rs);
    if (rc != 0)
        return rc;
    rc = send_recs(ep, s, rs.recs, NULL, rs.n, send_done, ep->eng, NULL);
    lwm2m_recset_free(&rs);
    return rc;
}

int lwm2m_endpoint_send(struct lwm2m_endpoint *ep, const struct lwm2m_path *paths, size_t n) {
    if (ep == NULL || paths == NULL || n == 0 || n > LWM2M_DM_PATHS_MAX)
        return LWM2M_ERR_INVALID;
    int rc = LWM2M_ERR_STATE;
    bool sent = false;
    struct lwm2m_endpoint *reg = reg_ep(ep);
    for (uint16_t i = 0; i < reg->nservers; i++) {
        struct lwm2m_server *s = &reg->servers[i];
        bool keep = lwm2m_keep_active(ep, s);
        if ((!lwm2m_reg_is_registered(s) && !keep) || s->version_max < 1 ||
            (s->version < 1 && lwm2m_reg_is_registered(s)))
            continue; /* Send is LwM2M 1.1 */
        if (s->mute_send) {
            ep->eng->report_stats.send_muted++;
            continue;
        }
        int r = keep ? lwm2m_keep_push(ep, s, NULL, paths, n) : send_to(ep, s, paths, n);
        if (r == 0)
            sent = true;
        else
            rc = r;
    }
    return sent ? 0 : rc;
}

/* ---- Automatic Send ------------------------------------------------------------------------- */

void lwm2m_send_mark(struct lwm2m_send_state *ss, const struct lwm2m_path *p) {
    if (!ss->on_change || ss->dirty)
        return;
    for (size_t i = 0; i < ss->npaths; i++) {
        if (lwm2m_path_has_prefix(p, &ss->paths[i]) || lwm2m_path_has_prefix(&ss->paths[i], p)) {
            ss->dirty = true;
            return;
        }
    }
}

uint64_t lwm2m_send_run(struct lwm2m_endpoint *ep, struct lwm2m_send_state *ss, uint64_t now) {
    bool due = ss->dirty;
    ss->dirty = false;
    if (ss->next_ms != 0 && now >= ss->next_ms) {
        due = true;
        ss->next_ms = now + (uint64_t)ss->period_s * 1000;
    }
    if (due && ss->npaths > 0)
        lwm2m_endpoint_send(ep, ss->paths, ss->npaths);
    return ss->next_ms;
}

void lwm2m_send_free(struct lwm2m_send_state *ss) {
    free(ss->paths);
    ss->paths = NULL;
    ss->npaths = 0;
}

/* ---- Store-and-forward (servers with Notification Storing, /1/x/6) --------------------------- */

/* After a delivery that was never acknowledged the server is unreachable: the head waits this
 * long (or for the next successful Register/Update) before it is tried again. */
#define KEEP_RETRY_MS 10000

struct lwm2m_keep_srv {
    struct lwm2m_endpoint *ep;
    struct lwm2m_server *s;
    struct lwm2m_sf_store *store; /* NULL: this server does not store */
    uint64_t id;                  /* the entry being delivered */
    uint64_t retry_ms;            /* no delivery before this */
    uint32_t xchg;                /* its exchange, 0 when none */
    bool busy, as_send;
    struct lwm2m_keep_dirty dirty; /* its place in the engine's flush (sf_flush.c) */
};

static struct lwm2m_keep_srv *keep_of(const struct lwm2m_endpoint *ep,
                                      const struct lwm2m_server *s) {
    const struct lwm2m_endpoint *reg = reg_ep(ep);
    if (ep->obs == NULL || ep->obs->keep == NULL || s < reg->servers ||
        s >= reg->servers + reg->nservers)
        return NULL;
    struct lwm2m_keep_srv *k = &ep->obs->keep[s - reg->servers];
    return k->store != NULL ? k : NULL;
}

bool lwm2m_keep_active(const struct lwm2m_endpoint *ep, const struct lwm2m_server *s) {
    return keep_of(ep, s) != NULL;
}

void lwm2m_keep_reachable(struct lwm2m_endpoint *ep, struct lwm2m_server *s) {
    struct lwm2m_keep_srv *k = keep_of(ep, s);
    if (k != NULL)
        k->retry_ms = 0;
}

/* Closes ep's queues: synced and kept for the next run, or (discard) emptied and their files
 * deleted, the values counted as dropped. Returns 0 or the first error. */
static int keep_close(struct lwm2m_endpoint *ep, bool discard) {
    struct lwm2m_keep_srv *keep = ep->obs != NULL ? ep->obs->keep : NULL;
    int err = 0;
    if (keep == NULL)
        return 0;
    for (uint16_t i = 0; i < reg_ep(ep)->nservers; i++) {
        if (keep[i].xchg != 0)
            coap_cancel(ep->coap, keep[i].xchg);
        lwm2m_keep_unmark(ep->eng, &keep[i].dirty); /* the close writes it, now */
        if (discard && keep[i].store != NULL)
            ep->eng->report_stats.kept_dropped += lwm2m_sf_count(keep[i].store);
        int rc = discard ? lwm2m_sf_discard(keep[i].store) : lwm2m_sf_close(keep[i].store, NULL, 0);
        err = err != 0 ? err : rc;
    }
    free(keep);
    ep->obs->keep = NULL;
    return err;
}

void lwm2m_keep_free(struct lwm2m_endpoint *ep) {
    keep_close(ep, false); /* synced: the next run delivers the rest */
}

int lwm2m_endpoint_discard_queues(struct lwm2m_endpoint *ep) {
    return ep != NULL ? keep_close(ep, true) : LWM2M_ERR_INVALID;
}

/* The store name of a queue: the endpoint's name, and for a hosted device the gateway endpoint's
 * name followed by the device's path prefix ("urn:dev:gw1/meter-1"); sf_store.c escapes it. */
static int keep_name(const char *endpoint, const char *path_prefix, char *out, size_t cap) {
    int n = snprintf(out, cap, "%s%s", endpoint, path_prefix != NULL ? path_prefix : "");
    return n > 0 && (size_t)n < cap ? 0 : LWM2M_ERR_INVALID;
}

int lwm2m_queue_remove(const char *state_dir, const char *endpoint, const char *prefix,
                       uint16_t ssid) {
    char name[512], pp[LWM2M_GW_PREFIX_MAX + 2];
    if (state_dir == NULL || endpoint == NULL || endpoint[0] == '\0')
        return LWM2M_ERR_INVALID;
    if (prefix != NULL && snprintf(pp, sizeof(pp), "/%s", prefix) >= (int)sizeof(pp))
        return LWM2M_ERR_INVALID;
    int rc = keep_name(endpoint, prefix != NULL ? pp : NULL, name, sizeof(name));
    return rc == 0 ? lwm2m_sf_remove(state_dir, name, ssid) : rc;
}

int lwm2m_keep_setup(struct lwm2m_endpoint *ep, const struct lwm2m_report_cfg *cfg) {
    struct lwm2m_endpoint *reg = reg_ep(ep);
    bool any = false;
    char name[512];
    if (cfg->state_dir != NULL) /* engine-wide: the flush of every queue */
        ep->eng->keep_flush.sync_ms = cfg->store_sync_ms;
    if (ep->obs == NULL || ep->obs->keep != NULL)
        return 0; /* already open: a later call changes nothing of the queues */
    for (uint16_t i = 0; i < reg->nservers; i++)
        any = any || reg->servers[i].notification_storing;
    /* A hosted device keeps its own queue per host server, "<gateway endpoint>/<prefix>": its
     * entries are delivered under its prefix, and it survives the device leaving /25. */
    if (!any || keep_name(reg->name, ep->prefix, name, sizeof(name)) != 0)
        return any ? LWM2M_ERR_INVALID : 0;
    ep->obs->keep = calloc(reg->nservers, sizeof(*ep->obs->keep));
    if (ep->obs->keep == NULL)
        return LWM2M_ERR_NOMEM;
    for (uint16_t i = 0; i < reg->nservers; i++) {
        struct lwm2m_keep_srv *k = &ep->obs->keep[i];
        struct lwm2m_sf_cfg c = {.dir = cfg->state_dir,
                                 .name = name,
                                 .ssid = reg->servers[i].ssid,
                                 .limits = {cfg->store_max_entries, cfg->store_max_bytes},
                                 .clock = ep->eng->env.clock,
                                 .io = ep->eng->keep_flush.io};
        k->ep = ep;
        k->s = &reg->servers[i];
        int rc = k->s->notification_storing ? lwm2m_sf_open(&c, &k->store, NULL, 0) : 0;
        k->dirty.store = k->store;
        if (rc != 0) {
            lwm2m_keep_free(ep);
            return rc;
        }
    }
    lwm2m_obs_kick(ep); /* what a previous run kept goes out once registered */
    return 0;
}

/* The bounds dropped the entry being delivered (it is always the head): it is no longer kept,
 * so its retransmissions stop too, and the next pass delivers the new head. Otherwise a value
 * counted as dropped could still reach the server, on top of the ones the bound keeps. */
static void keep_check_inflight(struct lwm2m_keep_srv *k) {
    const struct lwm2m_sf_entry *h = NULL;
    if (!k->busy || (lwm2m_sf_peek(k->store, &h) == 0 && h->id == k->id))
        return;
    if (k->xchg != 0)
        coap_cancel(k->ep->coap, k->xchg);
    k->xchg = 0;
    k->busy = false;
}

/* Queues the records read into rs (freed here) as one entry of k, cross-device with ids: a
 * notification of tag's observation (within its bound), or a Send without tag. */
static int keep_store(struct lwm2m_keep_srv *k, const struct lwm2m_keep_tag *tag,
                      struct lwm2m_recset *rs, const char *const *ids) {
    struct lwm2m_report_stats *st = &k->ep->eng->report_stats;
    uint64_t dropped = lwm2m_sf_dropped(k->store), trimmed = lwm2m_sf_trimmed(k->store);
    int rc = tag != NULL
                 ? lwm2m_sf_push_obs(k->store, tag->token, tag->token_len, tag->max_same, rs->recs,
                                     ids, rs->n)
                 : lwm2m_sf_push_devs(k->store, LWM2M_SF_SEND, NULL, 0, rs->recs, ids, rs->n);
    lwm2m_recset_free(rs);
    st->kept_overflow += lwm2m_sf_dropped(k->store) - dropped;
    st->kept_hqmax += lwm2m_sf_trimmed(k->store) - trimmed;
    keep_check_inflight(k);
    if (rc == 0) {
        st->kept++;
        lwm2m_obs_kick(k->ep);
    }
    return rc;
}

int lwm2m_keep_push(struct lwm2m_endpoint *ep, struct lwm2m_server *s,
                    const struct lwm2m_keep_tag *tag, const struct lwm2m_path *paths, size_t n) {
    struct lwm2m_keep_srv *k = keep_of(ep, s);
    struct lwm2m_recset rs;
    if (k == NULL)
        return LWM2M_ERR_STATE;
    int rc = send_read(ep, s, paths, n, &rs);
    return rc == 0 ? keep_store(k, tag, &rs, NULL) : rc;
}

/* The Device ID of the device among devs[0..n) whose view names its records with pfx (the
 * pointer the recset took from the view); "" for the host's own records. */
static const char *keep_dev_id(const char *pfx, struct lwm2m_gwdev *const *devs, size_t n) {
    for (size_t i = 0; pfx != NULL && i < n; i++)
        if (devs[i] != NULL && devs[i]->view.prefix == pfx)
            return devs[i]->device_id;
    return "";
}

int lwm2m_keep_push_gw(struct lwm2m_endpoint *host, struct lwm2m_server *s,
                       const struct lwm2m_keep_tag *tag, const struct lwm2m_path *paths,
                       struct lwm2m_gwdev *const *devs, size_t n) {
    struct lwm2m_keep_srv *k = keep_of(host, s);
    struct lwm2m_recset rs;
    if (k == NULL)
        return LWM2M_ERR_STATE;
    int rc = recset_stamp(host, lwm2m_recset_read_gw(host, s, paths, devs, n, &rs), &rs);
    if (rc != 0)
        return rc;
    const char **ids = malloc(rs.n * sizeof(*ids));
    if (ids == NULL) {
        lwm2m_recset_free(&rs);
        return LWM2M_ERR_NOMEM;
    }
    for (size_t i = 0; i < rs.n; i++)
        ids[i] = keep_dev_id(rs.pfx[i], devs, n);
    rc = keep_store(k, tag, &rs, ids);
    free(ids);
    return rc;
}

static void keep_done(void *ctx, int err, const struct coap_msg *resp,
                      const struct coap_addr *peer) {
    struct lwm2m_keep_srv *k = ctx;
    struct lwm2m_report_stats *st = &k->ep->eng->report_stats;
    const struct lwm2m_sf_entry *h = NULL;
    (void)peer;
    k->xchg = 0;
    k->busy = false;
    if (err == LWM2M_ERR_TIMEOUT) {
        k->retry_ms = coap_clock_mono_ms(k->ep->eng->env.clock) + KEEP_RETRY_MS;
    } else if (err == LWM2M_ERR_RESET && !k->as_send) {
        /* The server forgot the observation: the entry goes out as Send instead. */
        if (lwm2m_sf_peek(k->store, &h) == 0 && h->id == k->id)
            lwm2m_obs_forget(k->ep, k->s, h->token, h->token_len);
    } else {
        /* Delivered, or refused (4.xx): retrying a refusal would block the queue for good. */
        bool ok = err == 0 && (resp == NULL || COAP_CODE_CLASS(resp->code) == 2);
        if (lwm2m_sf_pop(k->store, k->id) == 0)
            *(ok ? &st->kept_delivered : &st->kept_dropped) += 1;
        if (!ok && k->as_send)
            st->send_failed++;
    }
    lwm2m_obs_kick(k->ep);
}

/* The records of a cross-device entry whose devices are still hosted, each with its device's
 * prefix now (malloc'ed; records borrowed from the entry). */
struct keep_pick {
    struct lwm2m_record *recs;
    const char **pfx;
    size_t n;
};

/* Fills p from e for host: a device removed since is left out (its values have nowhere to go
 * under the registration), one re-added under another prefix gets the new one. Returns 0,
 * LWM2M_ERR_DECLINED (no record left) or LWM2M_ERR_NOMEM. */
static int keep_pick(struct lwm2m_endpoint *host, const struct lwm2m_sf_entry *e,
                     struct keep_pick *p) {
    p->n = 0;
    p->recs = malloc(e->nrecs * sizeof(*p->recs));
    p->pfx = malloc(e->nrecs * sizeof(*p->pfx));
    if (p->recs == NULL || p->pfx == NULL)
        return LWM2M_ERR_NOMEM;
    for (size_t i = 0; i < e->nrecs; i++) {
        struct lwm2m_gwdev *d = NULL;
        if (e->dev_ids[i][0] != '\0' && (d = lwm2m_gwdev_by_id(host, e->dev_ids[i])) == NULL)
            continue;
        p->pfx[p->n] = d != NULL ? d->path_prefix : NULL;
        p->recs[p->n++] = e->recs[i];
    }
    return p->n > 0 ? 0 : LWM2M_ERR_DECLINED;
}

/* Sends recs (with pfx: each under its own prefix) as a notification while the observation
 * exists, else as Send (1.1+). */
static int keep_send(struct lwm2m_keep_srv *k, const struct lwm2m_sf_entry *e,
                     const struct lwm2m_record *recs, const char *const *pfx, size_t n) {
    int rc = LWM2M_ERR_NOTFOUND;
    k->as_send = false;
    if (e->kind == LWM2M_SF_NOTIFY)
        rc = lwm2m_obs_deliver(k->ep, k->s, e->token, e->token_len, recs, pfx, n, keep_done, k,
                               &k->xchg);
    if (rc == LWM2M_ERR_NOTFOUND) {
        if (k->s->version < 1 || k->s->mute_send)
            return LWM2M_ERR_DECLINED; /* LwM2M 1.0 has no Send; muted: nowhere to go */
        k->as_send = true;
        rc = send_recs(k->ep, k->s, recs, pfx, n, keep_done, k, &k->xchg);
    }
    return rc;
}

/* Sends the head; a cross-device one with the prefixes its devices have now. */
static int keep_deliver(struct lwm2m_keep_srv *k, const struct lwm2m_sf_entry *e) {
    uint64_t id = e->id;
    int rc;
    if (e->dev_ids != NULL) {
        struct keep_pick p;
        rc = keep_pick(k->ep, e, &p);
        if (rc == 0)
            rc = keep_send(k, e, p.recs, p.pfx, p.n);
        free(p.recs);
        free(p.pfx);
    } else {
        rc = keep_send(k, e, e->recs, NULL, e->nrecs);
    }
    if (rc == 0) {
        k->busy = true;
        k->id = id;
    }
    return rc;
}

/* One CON at a time keeps the order; the next goes when keep_done() runs the pass again. */
static uint64_t keep_pump(struct lwm2m_keep_srv *k, uint64_t now) {
    const struct lwm2m_sf_entry *e = NULL;
    uint64_t next = 0;
    while (!k->busy && lwm2m_reg_is_registered(k->s) && lwm2m_sf_peek(k->store, &e) == 0) {
        if (k->retry_ms > now) {
            next = k->retry_ms;
            break;
        }
        if (k->s->rx_off) {
            lwm2m_reg_update(k->s, false); /* queue mode: wake the server's view first */
            break;
        }
        uint64_t id = e->id;
        int rc = keep_deliver(k, e);
        if (rc == 0)
            break;
        if (rc == LWM2M_ERR_NOMEM) {
            next = k->retry_ms = now + 1000;
            break;
        }
        if (lwm2m_sf_pop(k->store, id) == 0)
            k->ep->eng->report_stats.kept_dropped++;
    }
    /* Durable within store_sync_ms: the engine's flush writes the changed queues together
     * (sf_flush.c), so a crash loses at most that interval's values. */
    lwm2m_keep_mark(k->ep->eng, &k->dirty);
    return next;
}

uint64_t lwm2m_keep_run(struct lwm2m_endpoint *ep, uint64_t now) {
    uint64_t next = 0;
    for (uint16_t i = 0; ep->obs != NULL && ep->obs->keep != NULL && i < reg_ep(ep)->nservers;
         i++) {
        struct lwm2m_keep_srv *k = &ep->obs->keep[i];
        uint64_t t = k->store != NULL ? keep_pump(k, now) : 0;
        if (t != 0 && (next == 0 || t < next))
            next = t;
    }
    return next;
}
