/* SPDX-License-Identifier: Apache-2.0 */
/* The engine-wide flush of the store-and-forward queues (engine_internal.h, sf_flush.c block):
 * the queues changed since their last write, the timer that writes them every store_sync_ms,
 * and the bound on the work of one timer tick, so that thousands of queues changing during an
 * outage cost one batch (one syncfs) per chunk instead of two fsyncs per queue per loop pass. */
#include <stdlib.h>

#include "engine_internal.h"
#include "sf_store.h"

#define FLUSH_DEFAULT_MS 1000u

enum { LIST_NONE = 0, LIST_DIRTY, LIST_ROUND };

static struct lwm2m_keep_list *list_of(struct lwm2m_keep_flush *f, uint8_t which) {
    return which == LIST_DIRTY ? &f->dirty : which == LIST_ROUND ? &f->round : NULL;
}

static void list_append(struct lwm2m_keep_flush *f, uint8_t which, struct lwm2m_keep_dirty *d) {
    struct lwm2m_keep_list *l = list_of(f, which);
    d->next = NULL;
    d->prev = l->tail;
    if (l->tail != NULL)
        l->tail->next = d;
    else
        l->head = d;
    l->tail = d;
    l->n++;
    d->list = which;
}

static void list_remove(struct lwm2m_keep_flush *f, struct lwm2m_keep_dirty *d) {
    struct lwm2m_keep_list *l = list_of(f, d->list);
    if (l == NULL)
        return;
    if (d->prev != NULL)
        d->prev->next = d->next;
    else
        l->head = d->next;
    if (d->next != NULL)
        d->next->prev = d->prev;
    else
        l->tail = d->prev;
    l->n--;
    d->next = d->prev = NULL;
    d->list = LIST_NONE;
}

static uint32_t sync_ms(const struct lwm2m_keep_flush *f) {
    return f->sync_ms != 0 ? f->sync_ms : FLUSH_DEFAULT_MS;
}

static void flush_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    lwm2m_keep_flush_tick(arg);
}

/* Arms the timer for what is next: the rest of the round at once (the loop runs in between),
 * else the dirty queues once the oldest has waited sync_ms, else nothing. */
static void arm(struct lwm2m_engine *e) {
    struct lwm2m_keep_flush *f = &e->keep_flush;
    if (f->round.n == 0 && f->dirty.n == 0) {
        if (f->timer != NULL)
            evtimer_del(f->timer);
        return;
    }
    if (f->timer == NULL && e->base != NULL)
        f->timer = evtimer_new(e->base, flush_cb, e);
    if (f->timer == NULL)
        return; /* no memory: the next mark tries again, the close writes it anyway */
    uint64_t d = 0;
    if (f->round.n == 0) {
        uint64_t now = coap_clock_mono_ms(e->env.clock), due = f->dirty_since_ms + sync_ms(f);
        d = due > now ? due - now : 0;
    }
    struct timeval tv = {.tv_sec = (time_t)(d / 1000), .tv_usec = (suseconds_t)(d % 1000) * 1000};
    evtimer_add(f->timer, &tv);
}

static void mark(struct lwm2m_engine *e, struct lwm2m_keep_dirty *d) {
    struct lwm2m_keep_flush *f = &e->keep_flush;
    if (f->dirty.n == 0)
        f->dirty_since_ms = coap_clock_mono_ms(e->env.clock);
    list_append(f, LIST_DIRTY, d);
}

void lwm2m_keep_mark(struct lwm2m_engine *e, struct lwm2m_keep_dirty *d) {
    if (d->store == NULL || d->list != LIST_NONE || !lwm2m_sf_dirty(d->store))
        return;
    struct lwm2m_keep_flush *f = &e->keep_flush;
    bool was_idle = f->dirty.n == 0 && f->round.n == 0;
    mark(e, d);
    if (was_idle || f->timer == NULL || !evtimer_pending(f->timer, NULL))
        arm(e);
}

void lwm2m_keep_unmark(struct lwm2m_engine *e, struct lwm2m_keep_dirty *d) {
    list_remove(&e->keep_flush, d);
}

/* Writes one chunk from the head of l as one batch; the queues that failed go back to the dirty
 * list for the next round. Returns how many were written. */
static size_t write_chunk(struct lwm2m_engine *e, struct lwm2m_keep_list *l) {
    struct lwm2m_keep_flush *f = &e->keep_flush;
    struct lwm2m_report_stats *st = &e->report_stats;
    struct lwm2m_keep_dirty *batch[LWM2M_KEEP_FLUSH_CHUNK];
    struct lwm2m_sf_store *stores[LWM2M_KEEP_FLUSH_CHUNK];
    int rcs[LWM2M_KEEP_FLUSH_CHUNK];
    size_t n = 0, bytes = 0;
    while (l->head != NULL && n < LWM2M_KEEP_FLUSH_CHUNK &&
           (n == 0 || bytes < LWM2M_KEEP_FLUSH_BYTES)) {
        struct lwm2m_keep_dirty *d = l->head;
        list_remove(f, d);
        bytes += lwm2m_sf_bytes(d->store);
        batch[n] = d;
        stores[n++] = d->store;
    }
    if (n == 0)
        return 0;
    size_t failed = lwm2m_sf_sync_batch(stores, n, rcs, NULL, 0);
    st->kept_syncs++;
    st->kept_synced += n - failed;
    st->kept_sync_err += failed;
    for (size_t i = 0; failed > 0 && i < n; i++)
        if (rcs[i] != 0)
            mark(e, batch[i]); /* still dirty: the next round tries again */
    return n - failed;
}

/* Moves every dirty queue to the end of the round: the round is what is dirty now, later changes
 * wait for the next one. */
static void start_round(struct lwm2m_keep_flush *f) {
    for (struct lwm2m_keep_dirty *d = f->dirty.head; d != NULL; d = d->next)
        d->list = LIST_ROUND;
    if (f->round.tail != NULL)
        f->round.tail->next = f->dirty.head;
    else
        f->round.head = f->dirty.head;
    if (f->dirty.head != NULL) {
        f->dirty.head->prev = f->round.tail;
        f->round.tail = f->dirty.tail;
    }
    f->round.n += f->dirty.n;
    f->dirty = (struct lwm2m_keep_list){NULL, NULL, 0};
}

size_t lwm2m_keep_flush_tick(struct lwm2m_engine *e) {
    struct lwm2m_keep_flush *f = &e->keep_flush;
    size_t done = 0;
    if (f->round.n == 0 && f->dirty.n > 0 &&
        coap_clock_mono_ms(e->env.clock) >= f->dirty_since_ms + sync_ms(f))
        start_round(f);
    if (f->round.n > 0)
        done = write_chunk(e, &f->round);
    arm(e);
    return done;
}

size_t lwm2m_keep_flush_all(struct lwm2m_engine *e) {
    struct lwm2m_keep_flush *f = &e->keep_flush;
    uint64_t failed = e->report_stats.kept_sync_err;
    start_round(f);
    while (f->round.n > 0)
        write_chunk(e, &f->round); /* failures go to dirty: not retried here */
    arm(e);
    return (size_t)(e->report_stats.kept_sync_err - failed);
}

void lwm2m_keep_flush_free(struct lwm2m_engine *e) {
    struct lwm2m_keep_flush *f = &e->keep_flush;
    if (f->timer != NULL)
        event_free(f->timer);
    f->timer = NULL;
}
