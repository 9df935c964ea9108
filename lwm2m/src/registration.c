/* SPDX-License-Identifier: Apache-2.0 */
/* The Registration interface (LwM2M TS Core §6.2 / Transport §8.2): one state machine per
 * (endpoint, server) — Register with version fallback on 4.12, Update ahead of lifetime expiry
 * carrying only what changed, De-register, capped exponential back-off with jitter, queue mode. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"
#include "lwm2m/dtls.h"
#include "observe_internal.h" /* lwm2m_obs_reg_event() hooks, marked "observe.c hook" */
#include "lwm2m/format.h"

/* The object links of Register/Update: a gateway's list grows with its hosted devices (about 70
 * bytes each), so the buffer starts small and doubles up to a bound; the CoAP layer sends a
 * payload larger than a block with Block1. */
#define REG_LINKS_FIRST 4096u
#define REG_LINKS_MAX   (1u << 20)

static void reg_send_register(struct lwm2m_server *s);
static void reg_send_update(struct lwm2m_server *s);

static uint64_t reg_now(const struct lwm2m_server *s) {
    return coap_clock_mono_ms(s->ep->eng->env.clock);
}

static void reg_arm(struct lwm2m_server *s, uint64_t delay_ms) {
    struct timeval tv = {.tv_sec = (time_t)(delay_ms / 1000),
                         .tv_usec = (suseconds_t)((delay_ms % 1000) * 1000)};
    evtimer_add(s->timer, &tv);
}

static void reg_disarm(struct lwm2m_server *s) {
    if (s->timer != NULL)
        evtimer_del(s->timer);
}

uint64_t lwm2m_backoff_ms(const struct lwm2m_engine *e, uint32_t retries) {
    /* The jitter keeps many endpoints failing together from coming back together. */
    uint64_t d = e->retry_min_ms;
    for (uint32_t i = 1; i < retries && d < e->retry_max_ms; i++)
        d *= 2;
    if (d > e->retry_max_ms)
        d = e->retry_max_ms;
    uint16_t r = 0;
    e->env.rng(e->env.rng_ctx, &r, sizeof(r));
    uint64_t span = d / 2; /* ±25 % */
    return d - span / 2 + (span != 0 ? r % (span + 1) : 0);
}

static uint64_t reg_backoff_ms(struct lwm2m_server *s) {
    return lwm2m_backoff_ms(s->ep->eng, s->retries);
}

/* When the next Update is due: ahead of expiry by a margin that leaves room for a full CoAP
 * retransmission sequence (MAX_TRANSMIT_WAIT 93 s) but never more than half the lifetime. */
static uint64_t reg_update_delay_ms(const struct lwm2m_server *s) {
    uint64_t lt = (uint64_t)s->reg_lifetime * 1000;
    uint64_t margin = s->ep->eng->update_margin_ms;
    if (margin == 0) {
        margin = lt / 10 > 93000 ? lt / 10 : 93000;
        if (margin > lt / 2)
            margin = lt / 2;
    }
    return lt > margin ? lt - margin : lt / 2;
}

static bool reg_queue_mode(const struct lwm2m_server *s);

/* Arms the timer for what comes next while registered: the Update, or before it (queue mode)
 * the moment the endpoint stops listening, MAX_TRANSMIT_WAIT after the last exchange. */
static void reg_arm_next(struct lwm2m_server *s) {
    uint64_t now = reg_now(s);
    uint64_t at = s->registered_ms + reg_update_delay_ms(s);
    if (reg_queue_mode(s) && !s->rx_off) {
        uint64_t off_at = s->activity_ms + s->ep->eng->queue_idle_ms;
        at = off_at < at ? off_at : at;
    }
    reg_arm(s, at > now ? at - now : 0);
}

static void reg_schedule_retry(struct lwm2m_server *s) {
    s->retries++;
    s->state = LWM2M_REG_IDLE;
    reg_arm(s, reg_backoff_ms(s));
    lwm2m_bs_reg_failed(s); /* bootstrap.c hook: fallback (deferred, s stays valid here) */
}

/* Writes the object links into a heap buffer (*out, caller frees). Returns their length or a
 * negative error (LWM2M_ERR_NOSPACE beyond REG_LINKS_MAX). */
static int reg_links_alloc(struct lwm2m_server *s, char **out) {
    for (size_t cap = REG_LINKS_FIRST; cap <= REG_LINKS_MAX; cap *= 2) {
        char *buf = malloc(cap);
        if (buf == NULL)
            return LWM2M_ERR_NOMEM;
        int len = lwm2m_reg_links(s->ep, s, buf, cap);
        if (len >= 0) {
            *out = buf;
            return len;
        }
        free(buf);
        if (len != LWM2M_ERR_NOSPACE)
            return len;
    }
    return LWM2M_ERR_NOSPACE;
}

static void reg_release_slot(struct lwm2m_server *s) {
    if (s->has_slot)
        lwm2m_engine_reg_release(s);
}

/* ---- Register ------------------------------------------------------------------------------ */

static int reg_add_query(struct coap_msg *m, char *buf, size_t cap, size_t *used,
                         const char *fmt_name, const char *val) {
    int n = snprintf(buf + *used, cap - *used, "%s=%s", fmt_name, val);
    if (n < 0 || (size_t)n >= cap - *used)
        return LWM2M_ERR_NOSPACE;
    int rc = coap_msg_add_opt(m, COAP_OPT_URI_QUERY, buf + *used, (size_t)n);
    *used += (size_t)n + 1;
    return rc < 0 ? LWM2M_ERR_NOSPACE : 0;
}

static bool reg_queue_mode(const struct lwm2m_server *s) {
    return strchr(s->binding, 'Q') != NULL;
}

/* LwM2M 1.0 carries queue mode in the binding ("UQ"); 1.1+ in a separate "Q" parameter. */
static void reg_binding_param(const struct lwm2m_server *s, char *out, size_t cap) {
    size_t j = 0;
    for (size_t i = 0; s->binding[i] != '\0' && j + 1 < cap; i++)
        if (s->version == 0 || s->binding[i] != 'Q')
            out[j++] = s->binding[i];
    out[j] = '\0';
}

static void reg_on_register(void *ctx, int err, const struct coap_msg *resp,
                            const struct coap_addr *peer);

static void reg_send_register(struct lwm2m_server *s) {
    struct lwm2m_endpoint *ep = s->ep;
    char *links = NULL, q[512], lt[16], ver[8], b[LWM2M_BINDING_MAX];
    size_t used = 0;
    int len = reg_links_alloc(s, &links);
    if (len < 0) {
        lwm2m_emit(s, LWM2M_EV_REGISTER_FAILED, len, 0);
        reg_release_slot(s);
        reg_schedule_retry(s);
        return;
    }
    snprintf(lt, sizeof(lt), "%u", (unsigned)s->lifetime);
    snprintf(ver, sizeof(ver), "1.%u", (unsigned)s->version);
    reg_binding_param(s, b, sizeof(b));
    struct coap_msg m;
    coap_msg_init(&m, COAP_TYPE_CON, COAP_POST, 0);
    coap_msg_add_path(&m, COAP_OPT_URI_PATH, "rd");
    coap_msg_add_opt_uint(&m, COAP_OPT_CONTENT_FORMAT, LWM2M_CT_LINK);
    int rc = reg_add_query(&m, q, sizeof(q), &used, "ep", ep->name);
    rc |= reg_add_query(&m, q, sizeof(q), &used, "lt", lt);
    rc |= reg_add_query(&m, q, sizeof(q), &used, "lwm2m", ver);
    rc |= reg_add_query(&m, q, sizeof(q), &used, "b", b);
    if (s->version > 0 && reg_queue_mode(s))
        rc |= coap_msg_add_opt(&m, COAP_OPT_URI_QUERY, "Q", 1);
    coap_msg_set_payload(&m, links, (size_t)len);
    if (rc == 0)
        rc = coap_request(ep->coap, &s->addr, &m, reg_on_register, s, &s->xchg);
    free(links); /* the CoAP layer keeps its own copy */
    if (rc != 0) {
        lwm2m_emit(s, LWM2M_EV_NETWORK_ERROR, rc, 0);
        reg_release_slot(s);
        reg_schedule_retry(s);
        return;
    }
    s->state = LWM2M_REG_REGISTERING;
    s->objects_dirty = false;
    s->update_pending = false;
}

/* The registration's location from a Register's 2.01. A server that sends "rd/5" as ONE
 * Location-Path option (seen in the wild; RFC 7252 wants "rd" and "5") gets its segments joined
 * as they are, so Update and De-register reach /rd/5; none at all: "rd". */
static void reg_location_of(struct lwm2m_server *s, const struct coap_msg *resp) {
    size_t n = 0;
    int rc = coap_msg_path(resp, COAP_OPT_LOCATION_PATH, s->location, sizeof(s->location));
    if (rc == COAP_BERR_INVALID) {
        for (const struct coap_option *o = coap_msg_opt(resp, COAP_OPT_LOCATION_PATH); o != NULL;
             o = coap_msg_opt_next(resp, o)) {
            if (memchr(o->val, '\0', o->len) != NULL || n + 1 + o->len >= sizeof(s->location)) {
                n = 0;
                break;
            }
            if (n > 0)
                s->location[n++] = '/';
            memcpy(s->location + n, o->val, o->len);
            n += o->len;
        }
        rc = (int)n;
    }
    if (rc <= 0)
        snprintf(s->location, sizeof(s->location), "rd"); /* a server that sent none */
    else
        s->location[rc] = '\0';
}

static void reg_registered(struct lwm2m_server *s, const struct coap_msg *resp) {
    reg_location_of(s, resp);
    s->state = LWM2M_REG_REGISTERED;
    s->retries = 0;
    s->reg_lifetime = s->lifetime;
    memcpy(s->reg_binding, s->binding, sizeof(s->reg_binding));
    s->registered_ms = reg_now(s);
    s->activity_ms = s->registered_ms;
    s->rx_off = false;
    reg_arm_next(s);
    lwm2m_obs_reg_event(s, LWM2M_OBS_REG_NEW); /* observe.c hook: a new registration */
}

static int reg_send_deregister(struct lwm2m_server *s);

/* The endpoint was removed while this Register was in flight: a registration the server now
 * holds is ended at once (else it would linger there until its lifetime ran out). */
static void reg_register_after_remove(struct lwm2m_server *s, int err,
                                      const struct coap_msg *resp) {
    if (err == 0 && resp->code == COAP_201_CREATED) {
        reg_location_of(s, resp);
        if (reg_send_deregister(s) == 0) {
            s->state = LWM2M_REG_DEREGISTERING;
            return;
        }
    }
    s->state = LWM2M_REG_DONE;
    lwm2m_engine_reg_changed(s->ep); /* may free the endpoint: nothing after this */
}

static void reg_on_register(void *ctx, int err, const struct coap_msg *resp,
                            const struct coap_addr *peer) {
    struct lwm2m_server *s = ctx;
    s->xchg = 0;
    reg_release_slot(s);
    if (s->ep->removing) {
        reg_register_after_remove(s, err, resp);
        return;
    }
    if (err != 0) {
        lwm2m_emit(s, err == LWM2M_ERR_TIMEOUT ? LWM2M_EV_TIMEOUT : LWM2M_EV_REGISTER_FAILED, err,
                   0);
        if (err == LWM2M_ERR_TIMEOUT)
            lwm2m_server_link_reset(s); /* a server that lost our DTLS session stays silent */
        reg_schedule_retry(s);
        return;
    }
    if (resp->code == COAP_201_CREATED) {
        reg_registered(s, resp);
        lwm2m_engine_reg_changed(s->ep); /* counted before the owner hears of it */
        lwm2m_emit(s, LWM2M_EV_REGISTERED, 0, resp->code);
        /* The object set changed while the Register was in flight (e.g. gateway mode adding
         * its IoT devices right after the endpoint): the Update that waited goes out now. */
        if (s->update_pending && s->state == LWM2M_REG_REGISTERED) {
            reg_disarm(s);
            reg_send_update(s);
        }
        return;
    }
    /* 4.12: the server does not accept this LwM2M version; try the next lower one at once. */
    if (resp->code == COAP_412_PRECONDITION_FAILED && s->version > 0) {
        s->version--;
        lwm2m_emit(s, LWM2M_EV_REGISTER_FAILED, LWM2M_ERR_UNSUPPORTED, resp->code);
        lwm2m_reg_start(s);
        return;
    }
    lwm2m_emit(s, LWM2M_EV_REGISTER_FAILED, LWM2M_ERR_STATE, resp->code);
    s->version = s->version_max; /* a later attempt starts from the top again */
    reg_schedule_retry(s);
}

void lwm2m_reg_start(struct lwm2m_server *s) {
    reg_disarm(s);
    if (s->ep->removing)
        return;
    if (!s->has_slot && !lwm2m_engine_reg_slot(s))
        return; /* queued: the engine calls us again when a slot frees */
    reg_send_register(s);
}

/* ---- Update -------------------------------------------------------------------------------- */

static void reg_on_update(void *ctx, int err, const struct coap_msg *resp,
                          const struct coap_addr *peer) {
    struct lwm2m_server *s = ctx;
    s->xchg = 0;
    if (err == 0 && resp->code == COAP_204_CHANGED) {
        s->state = LWM2M_REG_REGISTERED;
        s->retries = 0;
        s->registered_ms = reg_now(s);
        s->activity_ms = s->registered_ms;
        lwm2m_emit(s, LWM2M_EV_UPDATED, 0, resp->code);
        if (s->update_pending)
            reg_send_update(s);
        else
            reg_arm_next(s);
        lwm2m_obs_reg_event(s, LWM2M_OBS_REG_UPDATED); /* observe.c hook: deliver what waited */
        return;
    }
    /* Any failure of Update means the registration may be gone: register again (§6.2.2). */
    if (err == LWM2M_ERR_TIMEOUT) {
        lwm2m_emit(s, LWM2M_EV_TIMEOUT, err, 0);
        lwm2m_server_link_reset(s); /* the Register after it handshakes anew */
    } else
        lwm2m_emit(s, LWM2M_EV_UPDATE_FAILED, err != 0 ? err : LWM2M_ERR_STATE,
                   err == 0 ? resp->code : 0);
    s->state = LWM2M_REG_IDLE;
    s->location[0] = '\0';
    lwm2m_engine_reg_changed(s->ep);
    lwm2m_emit(s, LWM2M_EV_DISCONNECTED, err != 0 ? err : LWM2M_ERR_STATE, 0);
    lwm2m_reg_start(s);
}

static void reg_send_update(struct lwm2m_server *s) {
    struct lwm2m_endpoint *ep = s->ep;
    char *links = NULL, q[64], lt[16], b[LWM2M_BINDING_MAX];
    size_t used = 0;
    int rc = 0, len = 0;
    struct coap_msg m;
    coap_msg_init(&m, COAP_TYPE_CON, COAP_POST, 0);
    coap_msg_add_path(&m, COAP_OPT_URI_PATH, s->location);
    if (s->lifetime != s->reg_lifetime) {
        snprintf(lt, sizeof(lt), "%u", (unsigned)s->lifetime);
        rc |= reg_add_query(&m, q, sizeof(q), &used, "lt", lt);
    }
    if (strcmp(s->binding, s->reg_binding) != 0) {
        reg_binding_param(s, b, sizeof(b));
        rc |= reg_add_query(&m, q, sizeof(q), &used, "b", b);
    }
    if (s->objects_dirty) {
        len = reg_links_alloc(s, &links);
        if (len < 0)
            rc = len;
        coap_msg_add_opt_uint(&m, COAP_OPT_CONTENT_FORMAT, LWM2M_CT_LINK);
        coap_msg_set_payload(&m, links, (size_t)(len > 0 ? len : 0));
    }
    if (rc == 0)
        rc = coap_request(ep->coap, &s->addr, &m, reg_on_update, s, &s->xchg);
    free(links);
    if (rc != 0) {
        lwm2m_emit(s, LWM2M_EV_NETWORK_ERROR, rc, 0);
        reg_arm(s, reg_backoff_ms(s));
        return;
    }
    /* The server learns these with this Update; a failure re-registers with all of them. */
    s->reg_lifetime = s->lifetime;
    memcpy(s->reg_binding, s->binding, sizeof(s->reg_binding));
    s->objects_dirty = false;
    s->update_pending = false;
    s->rx_off = false;
    s->state = LWM2M_REG_UPDATING;
}

void lwm2m_reg_update(struct lwm2m_server *s, bool objects) {
    if (objects)
        s->objects_dirty = true;
    switch (s->state) {
    case LWM2M_REG_REGISTERED:
        reg_disarm(s);
        reg_send_update(s);
        break;
    case LWM2M_REG_UPDATING:
    case LWM2M_REG_REGISTERING:
        s->update_pending = true; /* sent when the current exchange completes */
        break;
    default:
        break; /* the next Register carries everything */
    }
}

/* ---- De-register, disable ------------------------------------------------------------------ */

static void reg_on_deregister(void *ctx, int err, const struct coap_msg *resp,
                              const struct coap_addr *peer) {
    struct lwm2m_server *s = ctx;
    s->xchg = 0;
    bool ok = err == 0 && resp->code == COAP_202_DELETED;
    lwm2m_emit(s, ok ? LWM2M_EV_DEREGISTERED : LWM2M_EV_DEREGISTER_FAILED,
               ok ? 0 : (err != 0 ? err : LWM2M_ERR_STATE), err == 0 ? resp->code : 0);
    s->location[0] = '\0';
    if (s->state == LWM2M_REG_DISABLED) {
        reg_arm(s, (uint64_t)s->disable_timeout * 1000);
        lwm2m_engine_reg_changed(s->ep);
        return;
    }
    s->state = LWM2M_REG_DONE;
    lwm2m_engine_reg_changed(s->ep); /* may free the endpoint: nothing after this */
}

static int reg_send_deregister(struct lwm2m_server *s) {
    struct coap_msg m;
    coap_msg_init(&m, COAP_TYPE_CON, COAP_DELETE, 0);
    coap_msg_add_path(&m, COAP_OPT_URI_PATH, s->location);
    return coap_request(s->ep->coap, &s->addr, &m, reg_on_deregister, s, &s->xchg);
}

static void reg_cancel_exchange(struct lwm2m_server *s) {
    if (s->xchg != 0)
        coap_cancel(s->ep->coap, s->xchg);
    s->xchg = 0;
    reg_release_slot(s);
    lwm2m_engine_reg_unqueue(s);
}

void lwm2m_reg_deregister(struct lwm2m_server *s) {
    lwm2m_obs_reg_event(s, LWM2M_OBS_REG_ENDED); /* observe.c hook */
    reg_disarm(s);
    bool was_registered = lwm2m_reg_is_registered(s);
    reg_cancel_exchange(s);
    if (was_registered && reg_send_deregister(s) == 0) {
        s->state = LWM2M_REG_DEREGISTERING;
        return;
    }
    s->state = LWM2M_REG_DONE;
    lwm2m_engine_reg_changed(s->ep);
}

void lwm2m_reg_disable(struct lwm2m_server *s, uint32_t seconds) {
    bool was_registered = lwm2m_reg_is_registered(s);
    lwm2m_obs_reg_event(s, LWM2M_OBS_REG_ENDED); /* observe.c hook */
    reg_disarm(s);
    reg_cancel_exchange(s);
    s->disable_timeout = seconds;
    s->state = LWM2M_REG_DISABLED;
    lwm2m_emit(s, LWM2M_EV_SERVER_DISABLED, 0, 0);
    if (!was_registered || reg_send_deregister(s) != 0)
        reg_arm(s, (uint64_t)seconds * 1000);
    lwm2m_engine_reg_changed(s->ep);
}

bool lwm2m_reg_finish_register(struct lwm2m_server *s) {
    if (s->state != LWM2M_REG_REGISTERING || s->xchg == 0)
        return false;
    /* Over DTLS, a Register waiting for its handshake has not reached the server. */
    if (s->sec_mode != LWM2M_SEC_NOSEC &&
        coap_dtls_peer_state(s->ep->tp, &s->addr) != COAP_DTLS_CONNECTED)
        return false;
    reg_disarm(s);
    return true; /* reg_on_register sees ep->removing */
}

void lwm2m_reg_stop(struct lwm2m_server *s) {
    reg_disarm(s);
    reg_cancel_exchange(s);
    s->state = LWM2M_REG_DONE;
}

void lwm2m_reg_link_failed(struct lwm2m_server *s) {
    if (s->xchg == 0)
        return;
    if (s->ep->removing) {
        /* A removed endpoint's Register cannot succeed any more: done, and the endpoint freed
         * from the timer, outside the transport's event. A De-register keeps its timeout. */
        if (s->state == LWM2M_REG_REGISTERING) {
            reg_cancel_exchange(s);
            s->state = LWM2M_REG_DONE;
            reg_arm(s, 0);
        }
        return;
    }
    /* A De-register in flight is left to its own timeout: its answer may free the endpoint,
     * which must not happen inside the transport's event. */
    if (s->state != LWM2M_REG_REGISTERING && s->state != LWM2M_REG_UPDATING)
        return;
    coap_cancel(s->ep->coap, s->xchg);
    s->xchg = 0;
    if (s->state == LWM2M_REG_REGISTERING)
        reg_on_register(s, LWM2M_ERR_IO, NULL, NULL);
    else
        reg_on_update(s, LWM2M_ERR_IO, NULL, NULL);
}

bool lwm2m_reg_is_registered(const struct lwm2m_server *s) {
    return s->state == LWM2M_REG_REGISTERED || s->state == LWM2M_REG_UPDATING;
}

/* ---- Timer: retry, update, re-enable, queue-mode RX off ------------------------------------ */

static void reg_queue_rx_off(struct lwm2m_server *s) {
    s->rx_off = true;
    lwm2m_emit(s, LWM2M_EV_QUEUE_RX_OFF, 0, 0);
}

void lwm2m_reg_timer(evutil_socket_t fd, short what, void *arg) {
    struct lwm2m_server *s = arg;
    switch (s->state) {
    case LWM2M_REG_IDLE:
    case LWM2M_REG_DISABLED:
        s->version = s->version_max;
        lwm2m_reg_start(s);
        break;
    case LWM2M_REG_REGISTERED: {
        /* 10 ms of slack: the loop's timer may fire a little early relative to our clock. */
        uint64_t now = reg_now(s) + 10;
        if (now >= s->registered_ms + reg_update_delay_ms(s)) {
            reg_send_update(s); /* in queue mode this also wakes the server's view of us */
            break;
        }
        if (reg_queue_mode(s) && !s->rx_off && now >= s->activity_ms + s->ep->eng->queue_idle_ms)
            reg_queue_rx_off(s);
        reg_arm_next(s);
        break;
    }
    case LWM2M_REG_DONE:
        if (s->ep->removing)
            lwm2m_engine_reg_changed(s->ep); /* may free the endpoint: nothing after this */
        break;
    default:
        break;
    }
}
