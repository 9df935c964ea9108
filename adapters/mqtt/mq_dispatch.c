/* SPDX-License-Identifier: Apache-2.0 */
/* Incoming messages of the MQTT adapter: discovery of devices from topics (up to a maximum, gone
 * on an empty message or an "offline" availability payload), and delivery of one message to
 * every point bound to its topic, the JSON document scanned per point or parsed once for all of
 * them. A payload that cannot be decoded is counted, logged with its topic (rate-limited) and
 * marks only the points it feeds. */
#include "mq_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MQ_LOG_INTERVAL_MS 1000
/* JSON points of one message decoded by scanning the payload before it is parsed once for the
 * rest: a scan walks the whole document but costs a fraction of a jansson parse (no mallocs),
 * so a few scans are still cheaper than the parse. */
#define MQ_JSON_SCANS 4

/* One message on its way through the bindings. */
struct mq_msg {
    struct mq_adapter *a;
    const char *topic;
    size_t topic_len;
    const uint8_t *payload;
    size_t len;
    uint64_t ts_ms;
    void *doc;
    int doc_state;  /* 0 not parsed yet, 1 parsed, -1 not JSON */
    unsigned scans; /* JSON points decoded by mq_json_scan so far */
    bool matched;
    bool counted_malformed;
};

/* At most one line per second, so that a device flooding garbage cannot flood the log. */
static void log_bad(struct mq_adapter *a, const char *topic, const char *what, const char *point) {
    uint64_t now = mq_now_mono_ms();
    if (now < a->log_next_ms) {
        a->log_suppressed++;
        return;
    }
    fprintf(stderr, "mqtt[%s]: %s on topic '%s' (point %s)", a->name, what, topic, point);
    if (a->log_suppressed > 0) {
        fprintf(stderr, "; %llu similar messages not logged",
                (unsigned long long)a->log_suppressed);
    }
    fputc('\n', stderr);
    a->log_next_ms = now + MQ_LOG_INTERVAL_MS;
    a->log_suppressed = 0;
}

static struct mq_dev *find_dev(struct mq_adapter *a, const char *name, size_t n) {
    return mq_map_get(&a->devices, name, n);
}

/* One point's value from the message. JSON: scanned while that is cheaper, else (or when the
 * scanner leaves the payload to jansson) parsed once for all the points it feeds. */
static int decode_point(struct mq_msg *m, const struct mq_point *p, struct adapter_value *v) {
    struct mq_adapter *a = m->a;
    if (p->format != MQ_FMT_JSON) {
        return mq_payload_decode(m->payload, m->len, p->format, p->json_pointer, p->type, NULL,
                                 &a->scratch, v);
    }
    if (m->doc_state == 0 && m->scans < MQ_JSON_SCANS) {
        m->scans++;
        int rc = mq_json_scan(m->payload, m->len, p->json_pointer, p->type, &a->scratch, v);
        if (rc != -EAGAIN) {
            return rc;
        }
    }
    if (m->doc_state == 0) {
        m->doc_state = mq_json_parse(m->payload, m->len, &m->doc) == 0 ? 1 : -1;
    }
    if (m->doc_state < 0) {
        memset(v, 0, sizeof(*v));
        v->quality = ADAPTER_Q_BAD_DATA;
        return -EBADMSG;
    }
    return mq_payload_decode(m->payload, m->len, p->format, p->json_pointer, p->type, m->doc,
                             &a->scratch, v);
}

static void deliver(struct mq_msg *m, struct mq_dev *d, size_t idx) {
    struct mq_adapter *a = m->a;
    const struct mq_point *p = &d->group->points[idx];
    m->matched = true;
    if (!d->attached) {
        a->stats.unattached++;
        return;
    }
    struct adapter_value v;
    int rc = decode_point(m, p, &v);
    if (rc == -ENOENT) {
        return; /* this message does not carry this point (a partial update) */
    }
    if (rc == -EBADMSG) {
        if (!m->counted_malformed) {
            a->stats.malformed++;
            m->counted_malformed = true;
        }
        log_bad(a, m->topic, "malformed payload", p->name);
    } else if (rc != 0) {
        a->stats.type_errors++;
        log_bad(a, m->topic, "value of the wrong type", p->name);
    } else {
        a->stats.values++;
    }
    v.ts_ms = m->ts_ms;
    if (a->sink.on_value != NULL) {
        a->sink.on_value(a->sink.ctx, d->users[idx], &v);
    }
}

/* ---- discovery ------------------------------------------------------------------------------ */

/* known: find_dev(name), which the caller has looked up already. */
static void discover(struct mq_msg *m, struct mq_group *g, const char *name, size_t n,
                     const struct mq_dev *known) {
    struct mq_adapter *a = m->a;
    if (known != NULL) {
        return;
    }
    if (g->n_devices >= g->max_devices) {
        a->stats.over_limit++;
        if (!g->warned_full) {
            g->warned_full = true;
            fprintf(stderr, "mqtt[%s]: discovery limit of %u devices reached; '%s' ignored\n",
                    a->name, (unsigned)g->max_devices, m->topic);
        }
        return;
    }
    struct mq_dev *d = calloc(1, sizeof(*d));
    if (d == NULL) {
        return;
    }
    d->name = strndup(name, n);
    d->group = g;
    d->users = calloc(g->n_points > 0 ? g->n_points : 1, sizeof(void *));
    d->ubinds = calloc(g->n_points > 0 ? g->n_points : 1, sizeof(*d->ubinds));
    if (d->name == NULL || d->users == NULL || d->ubinds == NULL ||
        mq_device_name_check(d->name) != 0 ||
        mq_map_put(&a->devices, d->name, strlen(d->name), d) != 0) {
        free(d->ubinds);
        free(d->users);
        free(d->name);
        free(d);
        return;
    }
    g->n_devices++;
    a->stats.discovered++;
    if (a->sink.on_discovered != NULL) {
        a->sink.on_discovered(a->sink.ctx, d->name, m->topic);
    }
}

static void gone(struct mq_adapter *a, struct mq_dev *d, const char *why) {
    if (!d->group->discovery) {
        return; /* configured devices stay configured */
    }
    d->group->n_devices--;
    d->group->warned_full = false;
    a->stats.gone++;
    /* Only an attached device has a scope the bridge knows; scope NULL would mean "adapter". */
    if (d->attached && d->scope != NULL && a->sink.on_state != NULL) {
        a->sink.on_state(a->sink.ctx, d->scope, ADAPTER_STATE_DOWN, why);
    }
    mq_dev_free(a, d);
}

static bool payload_is(const struct mq_msg *m, const char *s) {
    return m->len == strlen(s) && memcmp(m->payload, s, m->len) == 0;
}

static void discovery_rules(struct mq_msg *m) {
    struct mq_adapter *a = m->a;
    for (size_t i = 0; i < a->n_groups; i++) {
        struct mq_group *g = &a->groups[i];
        const char *dn;
        size_t dl;
        if (!g->discovery) {
            continue;
        }
        if (mq_tmpl_match(&g->topic_m, m->topic, m->topic_len, &dn, &dl) && dn != NULL) {
            m->matched = true;
            struct mq_dev *d = find_dev(a, dn, dl);
            if (m->len == 0) {
                /* An empty (retained) message clears the device's state topic: it is gone. */
                if (d != NULL && d->group == g) {
                    gone(a, d, "gone");
                }
            } else {
                discover(m, g, dn, dl, d);
            }
        }
        if (mq_tmpl_match(&g->avail_m, m->topic, m->topic_len, &dn, &dl) && dn != NULL) {
            m->matched = true;
            struct mq_dev *d = find_dev(a, dn, dl);
            if (payload_is(m, g->offline) || m->len == 0) {
                if (d != NULL && d->group == g) {
                    gone(a, d, "gone");
                }
            } else if (payload_is(m, g->online)) {
                discover(m, g, dn, dl, d);
            }
        }
    }
}

/* ---- points ---------------------------------------------------------------------------------- */

static void configured_points(struct mq_msg *m) {
    struct mq_adapter *a = m->a;
    struct mq_entry *it = NULL;
    struct mq_bind *b;
    /* Skipped when empty (discovery only): each mq_map_next call hashes the topic again. */
    while (a->topics.n > 0 && (b = mq_map_next(&a->topics, m->topic, m->topic_len, &it)) != NULL) {
        deliver(m, b->dev, b->idx);
    }
    for (size_t i = 0; i < a->n_wild; i++) {
        b = &a->wild[i];
        if (mq_topic_match(b->dev->group->points[b->idx].topic, m->topic)) {
            deliver(m, b->dev, b->idx);
        }
    }
}

static void discovered_points(struct mq_msg *m) {
    struct mq_adapter *a = m->a;
    for (size_t i = 0; i < a->n_groups; i++) {
        struct mq_group *g = &a->groups[i];
        if (!g->discovery) {
            continue;
        }
        for (size_t j = 0; j < g->n_points; j++) {
            const char *dn;
            size_t dl;
            if (!mq_tmpl_match(&g->points[j].topic_m, m->topic, m->topic_len, &dn, &dl) ||
                dn == NULL) {
                continue;
            }
            struct mq_dev *d = find_dev(a, dn, dl);
            if (d != NULL && d->group == g) {
                deliver(m, d, j);
            }
        }
    }
}

void mq_dispatch_message(void *ctx, const char *topic, const uint8_t *payload, size_t len,
                         bool retain) {
    (void)retain;
    struct mq_msg m = {
        .a = ctx,
        .topic = topic,
        .topic_len = strlen(topic),
        .payload = payload,
        .len = len,
        .ts_ms = mq_now_wall_ms(),
    };
    m.a->stats.messages++;
    discovery_rules(&m);
    configured_points(&m);
    discovered_points(&m);
    if (m.doc != NULL) {
        mq_json_release(m.doc);
    }
    if (!m.matched) {
        m.a->stats.unmatched++;
    }
}

int mq_adapter_attach(struct adapter *base, const char *device, void *scope,
                      void *const *point_users, size_t n) {
    if (base == NULL || base->ops != &mq_adapter_ops || device == NULL ||
        (n > 0 && point_users == NULL)) {
        return -EINVAL;
    }
    struct mq_adapter *a = ADAPTER_CONTAINER_OF(base, struct mq_adapter, base);
    struct mq_dev *d = find_dev(a, device, strlen(device));
    if (d == NULL) {
        return -ENOENT;
    }
    if (!d->group->discovery || n != d->group->n_points) {
        return -EINVAL;
    }
    for (size_t i = 0; d->attached && i < n; i++) {
        if (d->users[i] != NULL) {
            mq_map_del(&a->users, d->users[i], 0, &d->ubinds[i]);
        }
    }
    d->attached = false;
    for (size_t i = 0; i < n; i++) {
        d->users[i] = point_users[i];
        d->ubinds[i].dev = d;
        d->ubinds[i].idx = i;
        if (point_users[i] != NULL &&
            mq_map_put(&a->users, point_users[i], 0, &d->ubinds[i]) != 0) {
            for (size_t k = 0; k < i; k++) {
                if (d->users[k] != NULL) {
                    mq_map_del(&a->users, d->users[k], 0, &d->ubinds[k]);
                }
            }
            memset(d->users, 0, n * sizeof(void *));
            return -ENOMEM;
        }
    }
    d->scope = scope;
    d->attached = true;
    return 0;
}
