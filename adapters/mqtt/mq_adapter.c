/* SPDX-License-Identifier: Apache-2.0 */
/* The MQTT adapter's lifecycle and write path: configuration check and copy, subscriptions,
 * adapter state reports, commands published on their templated topic and completed on PUBACK /
 * PUBCOMP (or a timeout), always reported on a later loop pass than the write_point call. */
#include "mq_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#define MQ_MAX_DEVICES_DEFAULT 1000
#define MQ_TOPIC_BUF           1024

/* ---- configuration check --------------------------------------------------------------------- */

static bool fmt_ok(enum mq_format f) {
    return (unsigned)f <= MQ_FMT_RAW;
}

static int check_point(const struct mq_point_cfg *p, bool need_device, const char **why) {
    if (p->topic == NULL && p->cmd_topic == NULL) {
        *why = "point has neither topic nor write topic";
        return -EINVAL;
    }
    if (p->topic != NULL) {
        if (mq_template_check(p->topic) != 0) {
            *why = "invalid point topic";
            return -EINVAL;
        }
        if (need_device && strstr(p->topic, "{device}") == NULL) {
            *why = "discovered profile topics must contain {device}";
            return -EINVAL;
        }
    }
    if (!fmt_ok(p->format) || !fmt_ok(p->cmd_format) || p->type > ADAPTER_V_BYTES) {
        *why = "invalid format or type";
        return -EINVAL;
    }
    if (mq_json_pointer_check(p->json_pointer) != 0 ||
        mq_json_pointer_check(p->cmd_json_pointer) != 0) {
        *why = "invalid JSON pointer";
        return -EINVAL;
    }
    if (p->qos > 2 || p->cmd_qos > 2) {
        *why = "QoS must be 0, 1 or 2";
        return -EINVAL;
    }
    if (p->cmd_topic != NULL &&
        (mq_template_check(p->cmd_topic) != 0 || strpbrk(p->cmd_topic, "+#") != NULL)) {
        *why = "invalid write topic (wildcards are not allowed there)";
        return -EINVAL;
    }
    return 0;
}

static int check_conn(const struct mq_conn_cfg *c, const char **why) {
    if (c->protocol != MQ_PROTO_V311 && c->protocol != MQ_PROTO_V5) {
        *why = "protocol must be 3.1.1 or 5";
        return -EINVAL;
    }
    if (!c->clean_session && (c->client_id == NULL || c->client_id[0] == '\0')) {
        *why = "a persistent session needs a client id";
        return -EINVAL;
    }
    bool cert = c->tls_ca_file != NULL || c->tls_ca_path != NULL;
    if (cert && c->psk_identity != NULL) {
        *why = "TLS certificates and TLS-PSK are exclusive";
        return -EINVAL;
    }
    if ((c->tls_cert_file == NULL) != (c->tls_key_file == NULL) ||
        (!cert && c->tls_cert_file != NULL)) {
        *why = "a client certificate needs its key and a CA";
        return -EINVAL;
    }
    return 0;
}

int mq_adapter_cfg_check(const struct mq_adapter_cfg *cfg, const char **why) {
    const char *dummy;
    why = why != NULL ? why : &dummy;
    *why = NULL;
    if (cfg == NULL) {
        *why = "no configuration";
        return -EINVAL;
    }
    if (check_conn(&cfg->conn, why) != 0) {
        return -EINVAL;
    }
    for (size_t i = 0; i < cfg->n_devices; i++) {
        const struct mq_device_cfg *d = &cfg->devices[i];
        if (mq_device_name_check(d->name) != 0) {
            *why = "invalid device name";
            return -EINVAL;
        }
        for (size_t j = 0; j < d->n_points; j++) {
            if (check_point(&d->points[j], false, why) != 0) {
                return -EINVAL;
            }
        }
    }
    for (size_t i = 0; i < cfg->n_discovery; i++) {
        const struct mq_discovery_cfg *d = &cfg->discovery[i];
        if (mq_template_check(d->topic) != 0 ||
            (strstr(d->topic, "{device}") == NULL && mq_filter_check(d->topic) != 0) ||
            (strstr(d->topic, "{device}") == NULL && strchr(d->topic, '+') == NULL)) {
            *why = "discovery topic needs {device} or a '+' level";
            return -EINVAL;
        }
        if (d->availability_topic != NULL && (mq_template_check(d->availability_topic) != 0 ||
                                              !strstr(d->availability_topic, "{device}"))) {
            *why = "availability topic needs {device}";
            return -EINVAL;
        }
        if (d->qos > 2) {
            *why = "QoS must be 0, 1 or 2";
            return -EINVAL;
        }
        for (size_t j = 0; j < d->n_points; j++) {
            if (check_point(&d->points[j], true, why) != 0) {
                return -EINVAL;
            }
        }
    }
    return 0;
}

/* ---- copying ------------------------------------------------------------------------------------
 */

static char *dup_or_null(const char *s, bool *fail) {
    if (s == NULL) {
        return NULL;
    }
    char *d = strdup(s);
    *fail |= d == NULL;
    return d;
}

static void point_free(struct mq_point *p) {
    free(p->name);
    free(p->topic);
    free(p->json_pointer);
    free(p->cmd_topic);
    free(p->cmd_json_pointer);
    free(p->cmd_true);
    free(p->cmd_false);
}

/* Copies a point; device (configured devices) expands {device} in the read topic now. */
static int point_copy(struct mq_point *p, const struct mq_point_cfg *c, const char *device) {
    bool fail = false;
    memset(p, 0, sizeof(*p));
    p->name = dup_or_null(c->name != NULL ? c->name : "", &fail);
    if (c->topic != NULL && device != NULL) {
        char buf[MQ_TOPIC_BUF];
        int n = mq_template_expand(c->topic, device, buf, sizeof(buf));
        p->topic = n >= 0 ? strdup(buf) : NULL;
        fail |= p->topic == NULL;
    } else {
        p->topic = dup_or_null(c->topic, &fail);
    }
    mq_template_compile(p->topic, &p->topic_m);
    p->format = c->format;
    p->json_pointer = dup_or_null(c->json_pointer != NULL ? c->json_pointer : "", &fail);
    p->type = c->type;
    p->qos = c->qos;
    p->cmd_topic = dup_or_null(c->cmd_topic, &fail);
    p->cmd_format = c->cmd_format;
    p->cmd_json_pointer = dup_or_null(c->cmd_json_pointer, &fail);
    p->cmd_true = dup_or_null(c->cmd_true, &fail);
    p->cmd_false = dup_or_null(c->cmd_false, &fail);
    p->cmd_qos = c->cmd_qos;
    p->cmd_retain = c->cmd_retain;
    p->user = c->user;
    return fail ? -ENOMEM : 0;
}

static int group_points(struct mq_group *g, const struct mq_point_cfg *pts, size_t n,
                        const char *device) {
    g->points = calloc(n > 0 ? n : 1, sizeof(*g->points));
    if (g->points == NULL) {
        return -ENOMEM;
    }
    g->n_points = n;
    for (size_t i = 0; i < n; i++) {
        if (point_copy(&g->points[i], &pts[i], device) != 0) {
            return -ENOMEM;
        }
    }
    return 0;
}

/* Discovery topics may name the device by its first '+' level instead of {device}. */
static char *discovery_template(const char *topic) {
    if (strstr(topic, "{device}") != NULL) {
        return strdup(topic);
    }
    size_t n = strlen(topic);
    char *t = malloc(n + 8);
    if (t == NULL) {
        return NULL;
    }
    const char *plus = topic;
    while ((plus = strchr(plus, '+')) != NULL) {
        bool whole = (plus == topic || plus[-1] == '/') && (plus[1] == '\0' || plus[1] == '/');
        if (whole) {
            break;
        }
        plus++;
    }
    size_t at = plus != NULL ? (size_t)(plus - topic) : n;
    memcpy(t, topic, at);
    memcpy(t + at, "{device}", 8);
    strcpy(t + at + 8, plus != NULL ? plus + 1 : "");
    return t;
}

/* ---- subscriptions ------------------------------------------------------------------------------
 */

static int subscribe_template(struct mq_adapter *a, const char *tmpl, uint8_t qos) {
    char buf[MQ_TOPIC_BUF];
    if (tmpl == NULL) {
        return 0;
    }
    if (mq_template_filter(tmpl, buf, sizeof(buf)) < 0) {
        return -EINVAL;
    }
    return mq_client_subscribe(a->client, buf, qos);
}

static int subscribe_all(struct mq_adapter *a) {
    int rc = 0;
    for (size_t i = 0; i < a->n_groups && rc == 0; i++) {
        struct mq_group *g = &a->groups[i];
        if (g->discovery) {
            rc = subscribe_template(a, g->topic, g->qos);
            rc = rc != 0 ? rc : subscribe_template(a, g->avail, g->qos);
        }
        for (size_t j = 0; j < g->n_points && rc == 0; j++) {
            rc = subscribe_template(a, g->points[j].topic, g->points[j].qos);
        }
    }
    return rc;
}

/* ---- devices and bindings -----------------------------------------------------------------------
 */

void mq_dev_free(struct mq_adapter *a, struct mq_dev *d) {
    if (d == NULL) {
        return;
    }
    if (d->attached && d->ubinds != NULL) {
        for (size_t i = 0; i < d->group->n_points; i++) {
            if (d->users[i] != NULL) {
                mq_map_del(&a->users, d->users[i], 0, &d->ubinds[i]);
            }
        }
    }
    mq_map_del(&a->devices, d->name, strlen(d->name), d);
    free(d->ubinds);
    free(d->users);
    free(d->name);
    free(d);
}

/* A configured device: its group, its bindings (exact topics hashed, wildcards listed). */
static int add_configured(struct mq_adapter *a, struct mq_group *g,
                          const struct mq_device_cfg *dc) {
    if (group_points(g, dc->points, dc->n_points, dc->name) != 0) {
        return -ENOMEM;
    }
    struct mq_dev *d = calloc(1, sizeof(*d));
    if (d == NULL) {
        return -ENOMEM;
    }
    d->name = strdup(dc->name);
    d->users = calloc(dc->n_points > 0 ? dc->n_points : 1, sizeof(void *));
    d->group = g;
    d->scope = dc->user;
    d->attached = true;
    if (d->name == NULL || d->users == NULL ||
        mq_map_put(&a->devices, d->name, strlen(d->name), d) != 0) {
        free(d->users);
        free(d->name);
        free(d);
        return -ENOMEM;
    }
    for (size_t i = 0; i < g->n_points; i++) {
        struct mq_point *p = &g->points[i];
        struct mq_bind *b = &a->binds[a->n_binds++];
        b->dev = d;
        b->idx = i;
        d->users[i] = p->user;
        int rc = 0;
        if (p->user != NULL) {
            rc = mq_map_put(&a->users, p->user, 0, b);
        }
        if (rc == 0 && p->topic != NULL) {
            if (strpbrk(p->topic, "+#") == NULL) {
                rc = mq_map_put(&a->topics, p->topic, strlen(p->topic), b);
            } else {
                a->wild[a->n_wild++] = *b;
            }
        }
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

static int add_discovery(struct mq_group *g, const struct mq_discovery_cfg *dc) {
    bool fail = false;
    g->discovery = true;
    g->topic = discovery_template(dc->topic);
    g->avail = dup_or_null(dc->availability_topic, &fail);
    g->online = dup_or_null(dc->online != NULL ? dc->online : "online", &fail);
    g->offline = dup_or_null(dc->offline != NULL ? dc->offline : "offline", &fail);
    g->max_devices = dc->max_devices != 0 ? dc->max_devices : MQ_MAX_DEVICES_DEFAULT;
    g->qos = dc->qos;
    if (fail || g->topic == NULL) {
        return -ENOMEM;
    }
    mq_template_compile(g->topic, &g->topic_m);
    mq_template_compile(g->avail, &g->avail_m);
    return group_points(g, dc->points, dc->n_points, NULL);
}

/* ---- client events
 * -------------------------------------------------------------------------------- */

static void report_state(struct mq_adapter *a, enum adapter_state st, const char *detail) {
    if (a->reported == (int)st) {
        return; /* only transitions: a refused reconnect every back-off period is not news */
    }
    a->reported = (int)st;
    if (a->sink.on_state != NULL) {
        a->sink.on_state(a->sink.ctx, NULL, st, detail);
    }
}

static void ev_connected(void *ctx, bool session_present) {
    struct mq_adapter *a = ctx;
    a->stats.connects++;
    report_state(a, ADAPTER_STATE_UP, session_present ? "connected, session resumed" : "connected");
}

static void ev_disconnected(void *ctx, const char *detail) {
    struct mq_adapter *a = ctx;
    report_state(a, ADAPTER_STATE_DOWN, detail);
}

static void complete(struct mq_adapter *a, struct mq_pending *p, uint8_t status, uint8_t exc,
                     int err) {
    p->res.status = status;
    p->res.exception = exc;
    p->res.err = err;
    if (status != ADAPTER_WRITE_OK) {
        a->stats.write_errors++;
    }
    p->next = NULL;
    if (a->done_tail != NULL) {
        a->done_tail->next = p;
    } else {
        a->done = p;
    }
    a->done_tail = p;
    event_active(a->done_ev, 0, 0);
}

/* MQTT 5 reason codes from 0x80 up are refusals: reported as a protocol exception. */
static void complete_reason(struct mq_adapter *a, struct mq_pending *p, int reason) {
    if (reason >= 0x80) {
        complete(a, p, ADAPTER_WRITE_EXCEPTION, (uint8_t)reason, -EPROTO);
    } else {
        complete(a, p, ADAPTER_WRITE_OK, 0, 0);
    }
}

static void ev_published(void *ctx, int mid, int reason) {
    struct mq_adapter *a = ctx;
    struct mq_pending *prev = NULL;
    for (struct mq_pending *p = a->pending; p != NULL; prev = p, p = p->next) {
        if (p->mid == mid) {
            if (prev != NULL) {
                prev->next = p->next;
            } else {
                a->pending = p->next;
            }
            if (a->pending_tail == p) {
                a->pending_tail = prev;
            }
            complete_reason(a, p, reason);
            return;
        }
    }
    /* Not ours any more (timed out, or a resend acknowledged twice): nothing to report. */
}

static void on_done(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    struct mq_adapter *a = arg;
    /* Detach the list first: a completion callback may queue new writes. */
    struct mq_pending *p = a->done;
    a->done = a->done_tail = NULL;
    while (p != NULL) {
        struct mq_pending *next = p->next;
        if (a->sink.on_write_done != NULL) {
            a->sink.on_write_done(a->sink.ctx, p->req, &p->res);
        }
        free(p);
        p = next;
    }
}

static void arm_timeout(struct mq_adapter *a) {
    if (a->pending == NULL) {
        evtimer_del(a->timeout_ev);
        return;
    }
    uint64_t now = mq_now_mono_ms();
    uint64_t wait = a->pending->deadline_ms > now ? a->pending->deadline_ms - now : 0;
    struct timeval tv = {.tv_sec = (time_t)(wait / 1000),
                         .tv_usec = (suseconds_t)(wait % 1000) * 1000};
    evtimer_add(a->timeout_ev, &tv);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    struct mq_adapter *a = arg;
    uint64_t now = mq_now_mono_ms();
    while (a->pending != NULL && a->pending->deadline_ms <= now) {
        struct mq_pending *p = a->pending;
        a->pending = p->next;
        if (a->pending == NULL) {
            a->pending_tail = NULL;
        }
        complete(a, p, ADAPTER_WRITE_TIMEOUT, 0, -ETIMEDOUT);
    }
    arm_timeout(a);
}

/* ---- adapter_ops
 * ------------------------------------------------------------------------------------ */

static void mq_destroy(struct adapter *base);

static int build(struct mq_adapter *a, const struct mq_adapter_cfg *cfg) {
    size_t total = 0;
    for (size_t i = 0; i < cfg->n_devices; i++) {
        total += cfg->devices[i].n_points;
    }
    a->n_groups = cfg->n_devices + cfg->n_discovery;
    a->groups = calloc(a->n_groups > 0 ? a->n_groups : 1, sizeof(*a->groups));
    a->binds = calloc(total > 0 ? total : 1, sizeof(*a->binds));
    a->wild = calloc(total > 0 ? total : 1, sizeof(*a->wild));
    if (a->groups == NULL || a->binds == NULL || a->wild == NULL) {
        return -ENOMEM;
    }
    for (size_t i = 0; i < cfg->n_devices; i++) {
        int rc = add_configured(a, &a->groups[i], &cfg->devices[i]);
        if (rc != 0) {
            return rc;
        }
    }
    for (size_t i = 0; i < cfg->n_discovery; i++) {
        int rc = add_discovery(&a->groups[cfg->n_devices + i], &cfg->discovery[i]);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

static int mq_create(const void *cfgv, struct event_base *base, const struct adapter_sink *sink,
                     struct adapter **out) {
    const struct mq_adapter_cfg *cfg = cfgv;
    const char *why = NULL;
    if (base == NULL || sink == NULL || out == NULL) {
        return -EINVAL;
    }
    if (mq_adapter_cfg_check(cfg, &why) != 0) {
        fprintf(stderr, "mqtt[%s]: bad configuration: %s\n",
                cfg != NULL && cfg->conn.name != NULL ? cfg->conn.name : "?", why);
        return -EINVAL;
    }
    struct mq_adapter *a = calloc(1, sizeof(*a));
    if (a == NULL) {
        return -ENOMEM;
    }
    a->base.ops = &mq_adapter_ops;
    a->ev_base = base;
    a->sink = *sink;
    a->reported = -1;
    a->name = strdup(cfg->conn.name != NULL ? cfg->conn.name : "mqtt");
    a->write_timeout_ms = cfg->conn.write_timeout_ms != 0 ? cfg->conn.write_timeout_ms : 5000;
    a->done_ev = event_new(base, -1, 0, on_done, a);
    a->timeout_ev = evtimer_new(base, on_timeout, a);
    const struct mq_client_events ev = {
        .connected = ev_connected,
        .disconnected = ev_disconnected,
        .message = mq_dispatch_message,
        .published = ev_published,
        .ctx = a,
    };
    int rc = a->name == NULL || a->done_ev == NULL || a->timeout_ev == NULL ? -ENOMEM : 0;
    rc = rc != 0 ? rc : mq_client_new(base, &cfg->conn, &ev, &a->client);
    rc = rc != 0 ? rc : build(a, cfg);
    rc = rc != 0 ? rc : subscribe_all(a);
    if (rc != 0) {
        mq_destroy(&a->base);
        return rc;
    }
    *out = &a->base;
    return 0;
}

static int mq_start(struct adapter *base) {
    struct mq_adapter *a = ADAPTER_CONTAINER_OF(base, struct mq_adapter, base);
    if (a->started) {
        return 0;
    }
    int rc = mq_client_start(a->client);
    a->started = rc == 0;
    return rc;
}

static void mq_stop(struct adapter *base) {
    struct mq_adapter *a = ADAPTER_CONTAINER_OF(base, struct mq_adapter, base);
    if (!a->started) {
        return;
    }
    a->started = false;
    mq_client_stop(a->client);
    /* Unacknowledged commands fail now, and every completion is reported before we return. */
    while (a->pending != NULL) {
        struct mq_pending *p = a->pending;
        a->pending = p->next;
        complete(a, p, ADAPTER_WRITE_FAILED, 0, -ECANCELED);
    }
    a->pending_tail = NULL;
    evtimer_del(a->timeout_ev);
    event_del(a->done_ev);
    on_done(-1, 0, a);
    a->reported = -1;
}

/* Writes tmpl expanded for device into a buffer from the heap when it does not fit buf. */
static char *expand_topic(const char *tmpl, const char *device, char *buf, size_t cap) {
    if (mq_template_expand(tmpl, device, buf, cap) >= 0) {
        return buf;
    }
    size_t need = strlen(tmpl) + 1;
    for (const char *p = tmpl; (p = strstr(p, "{device}")) != NULL; p += 8) {
        need += strlen(device);
    }
    char *h = malloc(need);
    if (h != NULL && mq_template_expand(tmpl, device, h, need) < 0) {
        free(h);
        h = NULL;
    }
    return h;
}

static int mq_write_point(struct adapter *base, void *point_user, const struct adapter_value *v,
                          void *req) {
    struct mq_adapter *a = ADAPTER_CONTAINER_OF(base, struct mq_adapter, base);
    if (!a->started) {
        return -ENOTCONN;
    }
    struct mq_bind *b = point_user != NULL ? mq_map_get(&a->users, point_user, 0) : NULL;
    if (b == NULL || v == NULL) {
        return -ENOENT;
    }
    const struct mq_point *p = &b->dev->group->points[b->idx];
    if (p->cmd_topic == NULL) {
        return -EPERM;
    }
    int rc = mq_payload_encode(v, p->cmd_format, p->cmd_json_pointer, p->cmd_true, p->cmd_false,
                               &a->cmd);
    if (rc != 0) {
        return rc == -ENOMEM ? -ENOSPC : -EINVAL;
    }
    struct mq_pending *pd = calloc(1, sizeof(*pd));
    char buf[MQ_TOPIC_BUF];
    char *topic = expand_topic(p->cmd_topic, b->dev->name, buf, sizeof(buf));
    if (pd == NULL || topic == NULL) {
        free(pd);
        return -ENOSPC;
    }
    bool done = false;
    int reason = 0;
    rc = mq_client_publish(a->client, topic, a->cmd.ptr, a->cmd.len, p->cmd_qos, p->cmd_retain,
                           &pd->mid, &done, &reason);
    if (topic != buf) {
        free(topic);
    }
    pd->req = req;
    if (rc == -ENOTCONN) {
        /* Accepted and failed: the bridge hears it like any other completion. */
        complete(a, pd, ADAPTER_WRITE_DISCONNECTED, 0, -ENOTCONN);
        return 0;
    }
    if (rc != 0) {
        free(pd);
        return rc == -EINVAL ? -EINVAL : -ENOSPC;
    }
    a->stats.writes++;
    if (done) {
        complete_reason(a, pd, reason);
        return 0;
    }
    pd->deadline_ms = mq_now_mono_ms() + a->write_timeout_ms;
    if (a->pending_tail != NULL) {
        a->pending_tail->next = pd;
    } else {
        a->pending = pd;
        arm_timeout(a);
    }
    a->pending_tail = pd;
    return 0;
}

static void free_devices(struct mq_adapter *a) {
    struct mq_dev *d;
    while ((d = mq_map_any(&a->devices)) != NULL) {
        mq_dev_free(a, d);
    }
}

static void mq_destroy(struct adapter *base) {
    if (base == NULL) {
        return;
    }
    struct mq_adapter *a = ADAPTER_CONTAINER_OF(base, struct mq_adapter, base);
    mq_stop(base);
    mq_client_free(a->client);
    free_devices(a);
    for (size_t i = 0; i < a->n_groups; i++) {
        struct mq_group *g = &a->groups[i];
        for (size_t j = 0; g->points != NULL && j < g->n_points; j++) {
            point_free(&g->points[j]);
        }
        free(g->points);
        free(g->topic);
        free(g->avail);
        free(g->online);
        free(g->offline);
    }
    free(a->groups);
    free(a->binds);
    free(a->wild);
    mq_map_free(&a->devices);
    mq_map_free(&a->users);
    mq_map_free(&a->topics);
    if (a->done_ev != NULL) {
        event_free(a->done_ev);
    }
    if (a->timeout_ev != NULL) {
        event_free(a->timeout_ev);
    }
    mq_buf_free(&a->scratch);
    mq_buf_free(&a->cmd);
    free(a->name);
    free(a);
}

int mq_adapter_stats(struct adapter *base, struct mq_stats *out) {
    if (base == NULL || base->ops != &mq_adapter_ops || out == NULL) {
        return -EINVAL;
    }
    struct mq_adapter *a = ADAPTER_CONTAINER_OF(base, struct mq_adapter, base);
    *out = a->stats;
    out->read_events = a->client != NULL ? mq_client_read_events(a->client) : 0;
    return 0;
}

const struct adapter_ops mq_adapter_ops = {
    .kind = "mqtt",
    .create = mq_create,
    .start = mq_start,
    .stop = mq_stop,
    .write_point = mq_write_point,
    .destroy = mq_destroy,
};
