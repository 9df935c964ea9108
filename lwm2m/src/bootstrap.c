/* SPDX-License-Identifier: Apache-2.0 */
/* The client side of the LwM2M Bootstrap interface (TS Core 1.1/1.2 §5.2, §6.1; Transport §8.2)
 * for one endpoint: when to bootstrap (no server at all, fallback after every server failed
 * Register bootstrap_fallback times in a row, /1/x/9 Bootstrap-Request Trigger), the Client Hold
 * Off Time before it, the Bootstrap-Request and its retry on the registration back-off, the bounded
 * wait for Bootstrap-Finish, and handing the bootstrapped servers to the engine and to the state
 * file. The bootstrap server's operations themselves are bs_ops.c's; the data bs_state.c's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bs_internal.h"
#include "file_io.h"
#include "lwm2m/dtls.h" /* coap_dtls_inner */

enum bs_phase {
    BS_IDLE = 0,   /* not bootstrapping: the servers are in force */
    BS_PENDING,    /* a start is due when the timer fires (next pass, or the back-off) */
    BS_REQUESTING, /* Bootstrap-Request sent, not answered yet */
    BS_WAITING,    /* Request answered 2.04: waiting for the server's operations and Finish */
};

struct lwm2m_bs {
    struct lwm2m_endpoint *ep;
    struct coap_addr addr;
    uint8_t phase; /* enum bs_phase */
    uint8_t version;
    bool secure;
    bool discard;     /* the pending start discards the saved state first (fallback) */
    bool holding;     /* pending: the Client Hold Off Time runs (not a retry's back-off) */
    uint32_t xchg;    /* the Bootstrap-Request in flight, 0 when none */
    uint32_t retries; /* consecutive failed attempts, for the back-off */
    struct event *timer;
    char *dir, *path; /* the state file; NULL for memory only */
    char why[96];     /* why the pending start (the STARTED event's detail) */
    char refused[192];
    struct lwm2m_bs_data data;
};

static void bs_emit(struct lwm2m_bs *bs, int type, int err, uint8_t code, const char *detail) {
    lwm2m_emit_ep(bs->ep, type, err, code, bs->version, detail);
}

static void bs_arm(struct lwm2m_bs *bs, uint64_t ms) {
    struct timeval tv = {.tv_sec = (time_t)(ms / 1000),
                         .tv_usec = (suseconds_t)((ms % 1000) * 1000)};
    evtimer_add(bs->timer, &tv);
}

static void bs_cancel(struct lwm2m_bs *bs) {
    if (bs->xchg != 0 && bs->ep->coap != NULL)
        coap_cancel(bs->ep->coap, bs->xchg);
    bs->xchg = 0;
}

/* Client Hold Off Time (TS Core §E.1 /0/x/11): the one the bootstrap server wrote for its own
 * account (kept with what it wrote, also across restarts), else the configured one. */
static uint64_t bs_hold_off_ms(const struct lwm2m_bs *bs) {
    const struct lwm2m_bs_data *d = &bs->data;
    for (size_t i = 0; i < d->n; i++) {
        const struct lwm2m_bs_rec *r = &d->v[i];
        if (r->path.ids[0] == 0 && r->path.len == 3 && r->path.ids[2] == 11 &&
            lwm2m_bs_data_is_bs(d, r->path.ids[1])) {
            int64_t s = r->v.type == LWM2M_TYPE_INTEGER    ? r->v.v.i
                        : r->v.type == LWM2M_TYPE_UNSIGNED ? (int64_t)(r->v.v.u & INT64_MAX)
                                                           : -1;
            if (s >= 0) /* an hour at most: a typo must not silence the endpoint for years */
                return (uint64_t)(s < 3600 ? s : 3600) * 1000;
        }
    }
    return bs->ep->eng->bs_hold_off_ms;
}

/* Server-initiated bootstrap (TS Core §5.2.3): while the endpoint holds off before its
 * Bootstrap-Request, the bootstrap server may begin with its operations instead. Only with no
 * server in force (nothing a DM handler could be using is torn down) and over NoSec: the DTLS
 * transport is a client, it cannot accept a session the server opens. */
static bool bs_server_may_start(const struct lwm2m_bs *bs) {
    return bs->phase == BS_PENDING && bs->holding && !bs->secure && bs->ep->nservers == 0 &&
           !bs->ep->removing;
}

/* While the bootstrap server may begin, the socket must not connect(2) to the first peer it
 * answers (transport.h, single peer: a stray peer's 4.01 would lock the server out): off for
 * the hold off, back on (unconnected: the next send picks the peer) when the bootstrap begins. */
static void bs_listen_any(struct lwm2m_bs *bs, bool on) {
    struct coap_transport *udp = bs->ep->tp != NULL ? coap_dtls_inner(bs->ep->tp) : NULL;
    if (udp != NULL)
        (void)coap_udp_set_single_peer(udp, !on);
}

/* A start once the hold off has passed, or on the next loop pass: never from inside a
 * registration callback or a DM handler, whose server records the start frees. The start's
 * reason says how long it waited. */
static void bs_schedule(struct lwm2m_bs *bs, const char *why) {
    uint64_t ms = bs_hold_off_ms(bs);
    bs_cancel(bs);
    if (ms == 0)
        snprintf(bs->why, sizeof(bs->why), "%s", why);
    else if (ms % 1000 == 0)
        snprintf(bs->why, sizeof(bs->why), "%.60s, after %u s hold off", why,
                 (unsigned)(ms / 1000));
    else
        snprintf(bs->why, sizeof(bs->why), "%.60s, after %u ms hold off", why, (unsigned)ms);
    bs->phase = BS_PENDING;
    bs->holding = ms > 0;
    if (bs_server_may_start(bs))
        bs_listen_any(bs, true);
    bs_arm(bs, ms);
}

/* The attempt failed: retry on the registration back-off. */
static void bs_fail(struct lwm2m_bs *bs, int err, uint8_t code, const char *detail) {
    bs_cancel(bs);
    bs->retries++;
    bs->phase = BS_PENDING;
    bs->holding = false;
    snprintf(bs->why, sizeof(bs->why), "retry %u", (unsigned)bs->retries);
    bs_arm(bs, lwm2m_backoff_ms(bs->ep->eng, bs->retries));
    bs_emit(bs, LWM2M_EV_BOOTSTRAP_FAILED, err, code, detail);
}

/* ---- Bootstrap-Request -------------------------------------------------------------------- */

static void bs_on_response(void *ctx, int err, const struct coap_msg *resp,
                           const struct coap_addr *peer) {
    struct lwm2m_bs *bs = ctx;
    (void)peer;
    bs->xchg = 0;
    if (bs->phase != BS_REQUESTING)
        return; /* finished (or restarted) before the answer came */
    if (err != 0) {
        /* A server that lost our DTLS session stays silent: the next attempt handshakes anew. */
        if (err == LWM2M_ERR_TIMEOUT && bs->secure)
            coap_dtls_reset_peer(bs->ep->tp, &bs->addr);
        bs_fail(bs, err, 0,
                err == LWM2M_ERR_TIMEOUT ? "Bootstrap-Request timed out"
                                         : "Bootstrap-Request failed");
        return;
    }
    if (resp->code != COAP_204_CHANGED) {
        bs_fail(bs, LWM2M_ERR_STATE, resp->code, "Bootstrap-Request refused");
        return;
    }
    bs->phase = BS_WAITING;
    bs_arm(bs, bs->ep->eng->bs_timeout_ms);
}

static void bs_send_request(struct lwm2m_bs *bs) {
    struct lwm2m_endpoint *ep = bs->ep;
    size_t qlen = strlen(ep->name) + 4;
    char *q = malloc(qlen);
    struct coap_msg m;
    coap_msg_init(&m, COAP_TYPE_CON, COAP_POST, 0);
    int rc = q != NULL ? coap_msg_add_path(&m, COAP_OPT_URI_PATH, "bs") : LWM2M_ERR_NOMEM;
    if (rc == 0) {
        snprintf(q, qlen, "ep=%s", ep->name);
        rc = coap_msg_add_opt(&m, COAP_OPT_URI_QUERY, q, qlen - 1) < 0 ? LWM2M_ERR_NOSPACE : 0;
    }
    if (rc == 0)
        rc = coap_request(ep->coap, &bs->addr, &m, bs_on_response, bs, &bs->xchg);
    free(q); /* the CoAP layer keeps its own copy */
    if (rc != 0) {
        bs_fail(bs, rc, 0, "Bootstrap-Request not sent");
        return;
    }
    bs->phase = BS_REQUESTING;
}

/* What every bootstrap begins with, client- or server-initiated. */
static void bs_begin_common(struct lwm2m_bs *bs) {
    struct lwm2m_endpoint *ep = bs->ep;
    /* The servers stop without De-register: the bootstrap server is about to replace them. */
    if (ep->nservers > 0)
        lwm2m_ep_servers_clear(ep);
    if (bs->discard && bs->path != NULL) {
        char err[256] = "";
        if (lwm2m_file_remove(NULL, bs->dir, bs->path, err, sizeof(err)) != 0)
            bs_emit(bs, LWM2M_EV_BOOTSTRAP_STATE_INVALID, LWM2M_ERR_IO, 0, err);
    }
    bs->discard = false;
    if (bs->holding)
        bs_listen_any(bs, false);
    bs->holding = false;
    bs->refused[0] = '\0';
    bs_emit(bs, LWM2M_EV_BOOTSTRAP_STARTED, 0, 0, bs->why);
}

static void bs_start(struct lwm2m_bs *bs) {
    if (bs->ep->removing)
        return;
    bs_begin_common(bs);
    bs_send_request(bs);
}

static void bs_timer(evutil_socket_t fd, short what, void *arg) {
    struct lwm2m_bs *bs = arg;
    char detail[256];
    (void)fd;
    (void)what;
    switch (bs->phase) {
    case BS_PENDING:
        bs_start(bs);
        break;
    case BS_REQUESTING:
    case BS_WAITING:
        snprintf(detail, sizeof(detail), "no Bootstrap-Finish within %u s%s%s",
                 (unsigned)(bs->ep->eng->bs_timeout_ms / 1000),
                 bs->refused[0] != '\0' ? "; last Finish refused: " : "", bs->refused);
        bs_fail(bs, LWM2M_ERR_TIMEOUT, 0, detail);
        break;
    default:
        break;
    }
}

/* ---- hooks for bs_ops.c ------------------------------------------------------------------- */

struct lwm2m_bs_data *lwm2m_bs_data_of(struct lwm2m_endpoint *ep) {
    return &ep->bs->data;
}

uint8_t lwm2m_bs_version(const struct lwm2m_endpoint *ep) {
    return ep->bs->version;
}

void lwm2m_bs_activity(struct lwm2m_endpoint *ep) {
    struct lwm2m_bs *bs = ep->bs;
    if (bs->phase == BS_REQUESTING || bs->phase == BS_WAITING)
        bs_arm(bs, ep->eng->bs_timeout_ms);
}

void lwm2m_bs_refused(struct lwm2m_endpoint *ep, const char *diag) {
    snprintf(ep->bs->refused, sizeof(ep->bs->refused), "%s", diag);
}

void lwm2m_bs_finished(struct lwm2m_endpoint *ep, const struct lwm2m_bs_server *servers, size_t n) {
    struct lwm2m_bs *bs = ep->bs;
    struct lwm2m_server_cfg list[LWM2M_BS_SERVERS_MAX];
    char err[320] = "state not saved: ";
    size_t pre = strlen(err);
    bs_cancel(bs);
    evtimer_del(bs->timer);
    bs->phase = BS_IDLE;
    bs->retries = 0;
    bool saved = bs->path == NULL || lwm2m_bs_state_save(bs->dir, bs->path, &bs->data, err + pre,
                                                         sizeof(err) - pre) == 0;
    for (size_t i = 0; i < n && i < LWM2M_BS_SERVERS_MAX; i++)
        list[i] = servers[i].cfg;
    int rc = lwm2m_ep_servers_set(ep, list, n);
    if (rc != 0) {
        char detail[256];
        snprintf(detail, sizeof(detail), "bootstrapped servers not set up: %s%s%s",
                 lwm2m_strerror(rc), ep->eng->dtls_error[0] != '\0' ? ": " : "",
                 ep->eng->dtls_error);
        bs_fail(bs, rc, 0, detail);
        return;
    }
    bs_emit(bs, LWM2M_EV_BOOTSTRAP_FINISHED, 0, 0, saved ? NULL : err);
}

/* ---- engine hooks ------------------------------------------------------------------------- */

/* The state an earlier bootstrap saved, as servers; a damaged or inconsistent file is moved
 * aside with an event, never an error. */
static void bs_load(struct lwm2m_bs *bs, struct lwm2m_bs_server **saved, size_t *n) {
    char err[512] = "";
    int rc =
        lwm2m_bs_state_load(bs->ep->eng->model, bs->dir, bs->path, &bs->data, err, sizeof(err));
    if (rc != 0) {
        bs_emit(bs, LWM2M_EV_BOOTSTRAP_STATE_INVALID, rc, 0, err);
        return;
    }
    if (bs->data.n == 0)
        return;
    *saved = malloc(LWM2M_BS_SERVERS_MAX * sizeof(**saved));
    char diag[256] = "";
    int k = *saved != NULL ? lwm2m_bs_servers(&bs->data, bs->version, *saved, LWM2M_BS_SERVERS_MAX,
                                              diag, sizeof(diag))
                           : LWM2M_ERR_NOMEM;
    if (k > 0) { /* checked at Finish; checked again, as an OpenSSL upgrade may refuse a key */
        int crc = lwm2m_bs_servers_check(*saved, (size_t)k, diag, sizeof(diag));
        k = crc != 0 ? crc : k;
    }
    if (k > 0) {
        *n = (size_t)k;
        return;
    }
    free(*saved);
    *saved = NULL;
    lwm2m_bs_data_free(&bs->data);
    char aerr[256] = "";
    int arc = lwm2m_bs_state_set_aside(bs->dir, bs->path, aerr, sizeof(aerr));
    /* Each part bounded so the line fits err whole (gcc's -Wformat-truncation at -O0). */
    snprintf(err, sizeof(err), "%.160s: %.160s; %s%.160s", bs->path, diag,
             arc == 0 ? "moved aside" : "not moved aside: ", aerr);
    bs_emit(bs, LWM2M_EV_BOOTSTRAP_STATE_INVALID, k, 0, err);
}

/* The bootstrap server's URI and credentials go together as a server's do (engine.c). */
static int bs_check(const struct lwm2m_server_cfg *c, struct coap_addr *addr, bool *secure) {
    if (c->uri == NULL || lwm2m_server_uri_parse(c->uri, addr, secure) != 0)
        return LWM2M_ERR_INVALID;
    return (*secure ? lwm2m_server_cfg_has_creds(c) : c->sec_mode == LWM2M_SEC_NOSEC)
               ? 0
               : LWM2M_ERR_INVALID;
}

int lwm2m_bs_new(struct lwm2m_endpoint *ep, const struct lwm2m_endpoint_cfg *cfg,
                 struct lwm2m_bs_server **saved, size_t *n) {
    const struct lwm2m_server_cfg *c = cfg->bootstrap;
    struct lwm2m_bs *bs = calloc(1, sizeof(*bs));
    *saved = NULL;
    *n = 0;
    if (bs == NULL)
        return LWM2M_ERR_NOMEM;
    ep->bs = bs;
    bs->ep = ep;
    int rc = bs_check(c, &bs->addr, &bs->secure);
    if (rc != 0)
        return rc;
    bs->version = c->version_minor <= 2 ? c->version_minor : 2;
    bs->timer = evtimer_new(ep->eng->base, bs_timer, bs);
    if (cfg->state_dir != NULL) {
        bs->dir = strdup(cfg->state_dir);
        bs->path = lwm2m_bs_state_path(cfg->state_dir, cfg->name);
        if (bs->dir == NULL || bs->path == NULL)
            return LWM2M_ERR_NOMEM;
    }
    if (bs->timer == NULL)
        return LWM2M_ERR_NOMEM;
    if (bs->path != NULL)
        bs_load(bs, saved, n);
    return 0;
}

void lwm2m_bs_free(struct lwm2m_endpoint *ep) {
    struct lwm2m_bs *bs = ep->bs;
    if (bs == NULL)
        return;
    bs_cancel(bs);
    if (bs->timer != NULL)
        event_free(bs->timer);
    lwm2m_bs_data_free(&bs->data);
    free(bs->dir);
    free(bs->path);
    free(bs);
    ep->bs = NULL;
}

const struct coap_addr *lwm2m_bs_addr(const struct lwm2m_endpoint *ep) {
    return &ep->bs->addr;
}

void lwm2m_bs_begin(struct lwm2m_endpoint *ep, bool defer) {
    static const char why[] = "no server configured or saved";
    if (defer || bs_hold_off_ms(ep->bs) > 0) {
        bs_schedule(ep->bs, why);
        return;
    }
    snprintf(ep->bs->why, sizeof(ep->bs->why), "%s", why);
    ep->bs->phase = BS_PENDING;
    bs_start(ep->bs);
}

bool lwm2m_bs_is_peer(const struct lwm2m_endpoint *ep, const struct coap_addr *peer) {
    const struct lwm2m_bs *bs = ep->bs;
    return (bs->phase == BS_REQUESTING || bs->phase == BS_WAITING || bs_server_may_start(bs)) &&
           coap_addr_cmp(&bs->addr, peer) == 0;
}

int lwm2m_bs_handle(struct lwm2m_endpoint *ep, struct coap_endpoint *cep,
                    const struct coap_incoming *in) {
    struct lwm2m_bs *bs = ep->bs;
    if (bs->phase == BS_PENDING) { /* server-initiated: no Bootstrap-Request will go out */
        snprintf(bs->why, sizeof(bs->why), "server-initiated, during the hold off");
        bs_begin_common(bs);
        bs->phase = BS_WAITING;
    }
    lwm2m_bs_activity(ep); /* the Finish wait, in place of the hold off */
    return lwm2m_bs_ops_handle(ep, cep, in);
}

void lwm2m_bs_reg_failed(struct lwm2m_server *s) {
    struct lwm2m_endpoint *ep = s->ep;
    struct lwm2m_bs *bs = ep->bs;
    if (bs == NULL || bs->phase != BS_IDLE || ep->removing || ep->nservers == 0)
        return;
    /* ETS case 6 "fallback": every server (not disabled) keeps refusing us. */
    for (uint16_t i = 0; i < ep->nservers; i++) {
        const struct lwm2m_server *x = &ep->servers[i];
        if (x->state != LWM2M_REG_DISABLED && x->retries < ep->eng->bs_fallback)
            return;
    }
    char why[64];
    snprintf(why, sizeof(why), "fallback: every server failed %u Registers",
             (unsigned)ep->eng->bs_fallback);
    bs->discard = true;
    bs_schedule(bs, why);
}

void lwm2m_bs_trigger(struct lwm2m_endpoint *ep) {
    struct lwm2m_bs *bs = ep->bs;
    if (bs != NULL && (bs->phase == BS_IDLE || bs->phase == BS_PENDING))
        bs_schedule(bs, "Bootstrap-Request Trigger");
}

void lwm2m_bs_link_failed(struct lwm2m_endpoint *ep, const struct coap_addr *peer,
                          const char *why) {
    struct lwm2m_bs *bs = ep->bs;
    if (bs->phase != BS_REQUESTING || coap_addr_cmp(&bs->addr, peer) != 0)
        return;
    char detail[192];
    snprintf(detail, sizeof(detail), "DTLS: %s", why != NULL ? why : "handshake failed");
    bs_fail(bs, LWM2M_ERR_IO, 0, detail);
}

/* ---- public ------------------------------------------------------------------------------- */

int lwm2m_endpoint_bootstrap(struct lwm2m_endpoint *ep) {
    if (ep == NULL || ep->gwdev != NULL)
        return LWM2M_ERR_INVALID;
    if (ep->bs == NULL)
        return LWM2M_ERR_STATE;
    lwm2m_bs_trigger(ep);
    return 0;
}

bool lwm2m_endpoint_bootstrapping(const struct lwm2m_endpoint *ep) {
    return ep->bs != NULL && ep->bs->phase != BS_IDLE;
}

int lwm2m_bootstrap_state_remove(const char *state_dir, const char *endpoint) {
    if (state_dir == NULL || endpoint == NULL || endpoint[0] == '\0')
        return LWM2M_ERR_INVALID;
    char *path = lwm2m_bs_state_path(state_dir, endpoint);
    if (path == NULL)
        return LWM2M_ERR_NOMEM;
    size_t n = strlen(path) + 5;
    char *tmp = malloc(n);
    if (tmp != NULL) {
        snprintf(tmp, n, "%s.tmp", path);
        lwm2m_file_remove(NULL, state_dir, tmp, NULL, 0); /* a crash mid-save */
    }
    int rc = lwm2m_file_remove(NULL, state_dir, path, NULL, 0);
    free(tmp);
    free(path);
    return rc;
}
