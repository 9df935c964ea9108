/* SPDX-License-Identifier: Apache-2.0 */
/* The loop side of the Modbus adapter: adapter_ops (create/start/stop/write_point/destroy), the
 * copy of the configuration, the write queue's producer end, and the eventfd through which the
 * link worker wakes the loop to deliver values, states and write completions to the sink. */
#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "modbus/mb_internal.h"

#define MB_WRITE_QUEUE_MAX 256 /* pending writes per link before write_point says -ENOSPC */

static struct mb_adapter *mb_of(struct adapter *a) {
    return ADAPTER_CONTAINER_OF(a, struct mb_adapter, base);
}

int mb_device_cfg_check(const struct mb_device_cfg *d, size_t *bad_point) {
    struct mb_plan plan;
    if (bad_point)
        *bad_point = SIZE_MAX;
    if (d->unit > 247 && d->unit != 255)
        return -EINVAL;
    for (size_t i = 0; i < d->n_points; i++) {
        if (mb_point_check(&d->points[i]) < 0) {
            if (bad_point)
                *bad_point = i;
            return -EINVAL;
        }
    }
    if (mb_plan_build(d->points, d->n_points, d->max_gap, &plan) < 0)
        return -EINVAL;
    mb_plan_free(&plan);
    return 0;
}

/* ---- worker -> loop events ---- */

void mb_post(struct mb_adapter *a, struct mb_event *head, struct mb_event **tail) {
    bool was_empty;
    uint64_t one = 1;
    size_t n = 0;
    if (!head)
        return;
    for (struct mb_event *e = head; e; e = e->next)
        n++;
    pthread_mutex_lock(&a->mu);
    was_empty = a->evq_head == NULL;
    *a->evq_tail = head;
    a->evq_tail = tail;
    atomic_fetch_add(&a->evq_len, n);
    pthread_mutex_unlock(&a->mu);
    /* One wake-up per batch: the loop takes the whole list at once. */
    if (was_empty && write(a->efd, &one, sizeof(one)) < 0) {
        /* EAGAIN: the counter is already non-zero, so the loop will wake anyway. */
    }
}

static void mb_deliver(struct mb_adapter *a, struct mb_event *ev) {
    const struct adapter_sink *s = &a->sink;
    switch (ev->kind) {
    case MB_EV_VALUE:
        atomic_fetch_add_explicit(&a->cnt.values, 1, memory_order_relaxed);
        if (s->on_value)
            s->on_value(s->ctx, a->devs[ev->dev].pts[ev->point].user, &ev->val);
        break;
    case MB_EV_STATE:
        if (s->on_state)
            s->on_state(s->ctx, ev->dev == UINT32_MAX ? NULL : a->devs[ev->dev].cfg.user,
                        (enum adapter_state)ev->state, ev->detail);
        break;
    case MB_EV_WRITE_DONE:
        if (s->on_write_done)
            s->on_write_done(s->ctx, ev->req, &ev->wr);
        break;
    default:
        break;
    }
}

static void mb_drain(struct mb_adapter *a) {
    struct mb_event *list;
    pthread_mutex_lock(&a->mu);
    list = a->evq_head;
    a->evq_head = NULL;
    a->evq_tail = &a->evq_head;
    atomic_store(&a->evq_len, 0);
    pthread_mutex_unlock(&a->mu);
    while (list) {
        struct mb_event *next = list->next;
        mb_deliver(a, list);
        free(list);
        list = next;
    }
}

static void mb_on_notify(evutil_socket_t fd, short what, void *arg) {
    uint64_t n;
    (void)what;
    if (read(fd, &n, sizeof(n)) < 0) {
        /* EAGAIN: another wake-up already consumed the counter; drain anyway. */
    }
    mb_drain(arg);
}

/* ---- configuration copy ---- */

static char *mb_strdup(const char *s) {
    return s ? strdup(s) : NULL;
}

static int mb_wkey_cmp(const void *x, const void *y) {
    const struct mb_wkey *a = x, *b = y;
    return a->user < b->user ? -1 : a->user > b->user;
}

static int mb_copy_device(struct mb_dev *d, const struct mb_device_cfg *c) {
    d->cfg = *c;
    d->cfg.name = mb_strdup(c->name);
    d->pts = calloc(c->n_points ? c->n_points : 1, sizeof(*d->pts));
    d->qual = calloc(c->n_points ? c->n_points : 1, 1);
    d->exc = calloc(c->n_points ? c->n_points : 1, 1);
    if (!d->pts || !d->qual || !d->exc || (c->name && !d->cfg.name))
        return -ENOMEM;
    for (size_t i = 0; i < c->n_points; i++) {
        d->pts[i] = c->points[i];
        d->pts[i].name = mb_strdup(c->points[i].name);
        if (c->points[i].name && !d->pts[i].name)
            return -ENOMEM;
    }
    d->cfg.points = d->pts;
    if (d->cfg.poll_ms == 0)
        d->cfg.poll_ms = 1000;
    return mb_plan_build(d->pts, d->cfg.n_points, d->cfg.max_gap, &d->plan);
}

static int mb_build_wkeys(struct mb_adapter *a) {
    size_t n = 0;
    for (size_t i = 0; i < a->n_devs; i++)
        for (size_t j = 0; j < a->devs[i].cfg.n_points; j++)
            n += a->devs[i].pts[j].user != NULL;
    a->wkeys = calloc(n ? n : 1, sizeof(*a->wkeys));
    if (!a->wkeys)
        return -ENOMEM;
    for (size_t i = 0; i < a->n_devs; i++) {
        for (size_t j = 0; j < a->devs[i].cfg.n_points; j++) {
            if (a->devs[i].pts[j].user)
                a->wkeys[a->n_wkeys++] =
                    (struct mb_wkey){a->devs[i].pts[j].user, (uint32_t)i, (uint32_t)j};
        }
    }
    qsort(a->wkeys, a->n_wkeys, sizeof(*a->wkeys), mb_wkey_cmp);
    return 0;
}

static void mb_link_defaults(struct mb_link_cfg *l) {
    if (l->transport != MB_TRANSPORT_RTU && l->port == 0)
        l->port = 502;
    if (l->baud == 0)
        l->baud = 19200;
    if (l->parity == 0)
        l->parity = 'E';
    if (l->data_bits == 0)
        l->data_bits = 8;
    if (l->stop_bits == 0)
        l->stop_bits = 1;
    if (l->timeout_ms == 0)
        l->timeout_ms = 1000;
    if (l->backoff_min_ms == 0)
        l->backoff_min_ms = 1000;
    if (l->backoff_max_ms < l->backoff_min_ms)
        l->backoff_max_ms = l->backoff_min_ms > 30000 ? l->backoff_min_ms : 30000;
}

static int mb_check_link(const struct mb_link_cfg *l) {
    if (l->transport == MB_TRANSPORT_TCP || l->transport == MB_TRANSPORT_RTU_TCP)
        return l->host ? 0 : -EINVAL;
    if (l->transport != MB_TRANSPORT_RTU || !l->device)
        return -EINVAL;
    if (l->parity && l->parity != 'N' && l->parity != 'E' && l->parity != 'O')
        return -EINVAL;
    if ((l->data_bits && (l->data_bits < 5 || l->data_bits > 8)) || l->stop_bits > 2)
        return -EINVAL;
    return 0;
}

static void mb_free_all(struct mb_adapter *a);

static int mb_init_sync(struct mb_adapter *a) {
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    /* Schedules are monotonic; a wall-clock jump must not stall or rush polling. */
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&a->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&a->mu, NULL);
    a->wq_tail = &a->wq_head;
    a->evq_tail = &a->evq_head;
    a->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (a->efd < 0)
        return -errno;
    a->ev_notify = event_new(a->evbase, a->efd, EV_READ | EV_PERSIST, mb_on_notify, a);
    if (!a->ev_notify || event_add(a->ev_notify, NULL) < 0)
        return -ENOMEM;
    return 0;
}

static int mb_create(const void *cfgp, struct event_base *base, const struct adapter_sink *sink,
                     struct adapter **out) {
    const struct mb_adapter_cfg *cfg = cfgp;
    struct mb_adapter *a;
    int rc;
    if (!cfg || !base || mb_check_link(&cfg->link) < 0)
        return -EINVAL;
    for (size_t i = 0; i < cfg->n_devices; i++)
        if ((rc = mb_device_cfg_check(&cfg->devices[i], NULL)) < 0)
            return rc;
    if (!(a = calloc(1, sizeof(*a))))
        return -ENOMEM;
    a->base.ops = &mb_adapter_ops;
    a->sink = *sink;
    a->evbase = base;
    a->efd = -1;
    a->link = cfg->link;
    a->link.name = mb_strdup(cfg->link.name);
    a->link.host = mb_strdup(cfg->link.host);
    a->link.device = mb_strdup(cfg->link.device);
    mb_link_defaults(&a->link);
    a->devs = calloc(cfg->n_devices ? cfg->n_devices : 1, sizeof(*a->devs));
    a->sched = calloc(cfg->n_devices ? cfg->n_devices : 1, sizeof(*a->sched));
    rc = a->devs && a->sched ? mb_init_sync(a) : -ENOMEM;
    for (size_t i = 0; rc == 0 && i < cfg->n_devices; i++, a->n_devs++)
        rc = mb_copy_device(&a->devs[i], &cfg->devices[i]);
    if (rc == 0)
        rc = mb_build_wkeys(a);
    if (rc < 0) {
        mb_free_all(a);
        return rc;
    }
    *out = &a->base;
    return 0;
}

static int mb_start(struct adapter *ad) {
    struct mb_adapter *a = mb_of(ad);
    int rc;
    if (a->running)
        return 0;
    a->stop = false;
    rc = pthread_create(&a->thread, NULL, mb_link_main, a);
    if (rc != 0)
        return -rc;
    a->running = true;
    return 0;
}

static void mb_fail_writes(struct mb_adapter *a) {
    struct mb_write *w;
    pthread_mutex_lock(&a->mu);
    w = a->wq_head;
    a->wq_head = NULL;
    a->wq_tail = &a->wq_head;
    a->wq_len = 0;
    pthread_mutex_unlock(&a->mu);
    while (w) {
        struct mb_write *next = w->next;
        struct adapter_write_result r = {.status = ADAPTER_WRITE_FAILED, .err = -ECANCELED};
        if (a->sink.on_write_done)
            a->sink.on_write_done(a->sink.ctx, w->req, &r);
        free(w);
        w = next;
    }
}

static void mb_stop(struct adapter *ad) {
    struct mb_adapter *a = mb_of(ad);
    if (!a->running)
        return;
    pthread_mutex_lock(&a->mu);
    a->stop = true;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
    /* Waits at most one request timeout: libmodbus calls are not interruptible. */
    pthread_join(a->thread, NULL);
    a->running = false;
    mb_drain(a);
    mb_fail_writes(a);
}

static const struct mb_wkey *mb_find(const struct mb_adapter *a, const void *user) {
    struct mb_wkey key = {.user = user};
    return bsearch(&key, a->wkeys, a->n_wkeys, sizeof(key), mb_wkey_cmp);
}

static int mb_write_point(struct adapter *ad, void *point_user, const struct adapter_value *v,
                          void *req) {
    struct mb_adapter *a = mb_of(ad);
    const struct mb_wkey *k = mb_find(a, point_user);
    const struct mb_point_cfg *p;
    struct mb_write *w;
    int rc;
    if (!k)
        return -ENOENT;
    p = &a->devs[k->dev].pts[k->point];
    if (!p->writable)
        return -EPERM;
    if (!a->running)
        return -ENOTCONN;
    if (!(w = calloc(1, sizeof(*w))))
        return -ENOMEM;
    w->dev = k->dev;
    w->point = k->point;
    w->req = req;
    rc = p->table == MB_TABLE_COIL ? mb_encode_bit(v, &w->bit)
                                   : mb_encode_regs(p, v, w->regs, MB_MAX_WRITE_REGS);
    if (rc < 0) {
        free(w);
        return rc;
    }
    w->n = (uint16_t)(p->table == MB_TABLE_COIL ? 0 : rc);
    pthread_mutex_lock(&a->mu);
    if (a->wq_len >= MB_WRITE_QUEUE_MAX) {
        pthread_mutex_unlock(&a->mu);
        free(w);
        return -ENOSPC;
    }
    *a->wq_tail = w;
    a->wq_tail = &w->next;
    a->wq_len++;
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
    return 0;
}

static void mb_free_all(struct mb_adapter *a) {
    if (a->ev_notify)
        event_free(a->ev_notify);
    if (a->efd >= 0)
        close(a->efd);
    for (size_t i = 0; i < a->n_devs; i++) {
        struct mb_dev *d = &a->devs[i];
        for (size_t j = 0; d->pts && j < d->cfg.n_points; j++)
            free((char *)d->pts[j].name);
        free(d->pts);
        free(d->qual);
        free(d->exc);
        free((char *)d->cfg.name);
        mb_plan_free(&d->plan);
    }
    free(a->devs);
    free(a->sched);
    free(a->wkeys);
    free((char *)a->link.name);
    free((char *)a->link.host);
    free((char *)a->link.device);
    pthread_mutex_destroy(&a->mu);
    pthread_cond_destroy(&a->cv);
    free(a);
}

static void mb_destroy(struct adapter *ad) {
    struct mb_adapter *a;
    if (!ad)
        return;
    a = mb_of(ad);
    mb_stop(ad);
    mb_drain(a);
    mb_free_all(a);
}

int mb_adapter_stats(struct adapter *ad, struct mb_stats *out) {
    struct mb_adapter *a;
    if (!ad || ad->ops != &mb_adapter_ops)
        return -EINVAL;
    a = mb_of(ad);
    out->requests = atomic_load(&a->cnt.requests);
    out->timeouts = atomic_load(&a->cnt.timeouts);
    out->exceptions = atomic_load(&a->cnt.exceptions);
    out->polls = atomic_load(&a->cnt.polls);
    out->values = atomic_load(&a->cnt.values);
    out->reconnects = atomic_load(&a->cnt.reconnects);
    out->skipped = atomic_load(&a->cnt.skipped);
    out->dropped = atomic_load(&a->cnt.dropped);
    out->bus_errors = atomic_load(&a->cnt.bus_errors);
    return 0;
}

const struct adapter_ops mb_adapter_ops = {
    .kind = "modbus",
    .create = mb_create,
    .start = mb_start,
    .stop = mb_stop,
    .write_point = mb_write_point,
    .destroy = mb_destroy,
};
