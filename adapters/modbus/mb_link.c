/* SPDX-License-Identifier: Apache-2.0 */
/* The link worker: one thread per Modbus link, owning its bus (struct mb_bus: libmodbus, or our
 * RTU-over-TCP client). It runs every device's read plan on the device's poll schedule and the
 * write queue, backs off a unit that stops answering (one timeout per back-off period, not one
 * per point) and reconnects a lost link with back-off. Results go to the loop through mb_post;
 * nothing here touches the sink. */
#include <errno.h>
#include <modbus/modbus.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "modbus/mb_internal.h"

#define MB_LINK         UINT32_MAX /* event scope: the link itself */
#define MB_QUALITY_NONE 0xff
/* Consecutive timeouts, with no answer from any unit in between, after which a TCP connection
 * (Modbus TCP or RTU over TCP) is presumed dead (a peer gone without a RST is otherwise never
 * noticed: no keepalive). */
#define MB_SILENT_LINK 3

/* Worker-private state; lives on the worker's stack. */
struct mb_worker {
    struct mb_adapter *a;
    struct mb_bus *bus;
    uint8_t unit; /* the unit the next requests go to */
    bool connected;
    int8_t link_up; /* -1 unknown, 0 down, 1 up: last state posted */
    uint64_t next_connect;
    uint32_t link_backoff;
    uint16_t regs[MB_MAX_READ_REGS];
    uint8_t bits[MB_MAX_READ_BITS];
    uint8_t str[MB_MAX_STRING];
    size_t retried;  /* index of the read already retried after a garbled answer this cycle */
    unsigned silent; /* consecutive read timeouts on this link with no answer in between */
    struct mb_event *batch, **batch_tail; /* events not yet handed to the loop */
};

enum mb_fail {
    MB_FAIL_EXCEPTION, /* the unit answered with an exception: mark the points of that read */
    MB_FAIL_UNIT,      /* the unit did not answer (or the gateway says it cannot reach it) */
    MB_FAIL_BAD,       /* garbled answer: mark the points, flush, go on */
    MB_FAIL_LINK,      /* the connection or the port failed */
};

static uint64_t mb_clock_ms(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t mb_mono_ms(void) {
    return mb_clock_ms(CLOCK_MONOTONIC);
}

static void mb_count(atomic_uint_fast64_t *c) {
    atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

static enum mb_fail mb_classify(int e, uint8_t *exc) {
    *exc = 0;
    if (e > MODBUS_ENOBASE && e <= EMBXGTAR) {
        *exc = (uint8_t)(e - MODBUS_ENOBASE);
        /* A TCP-to-RTU gateway answers 0x0A/0x0B for a unit it cannot reach: the unit is as good
         * as dead, and back-off spares the gateway its own timeout on every request. */
        return e == EMBXGPATH || e == EMBXGTAR ? MB_FAIL_UNIT : MB_FAIL_EXCEPTION;
    }
    if (e == ETIMEDOUT)
        return MB_FAIL_UNIT;
    if ((e >= EMBBADCRC && e <= EMBBADSLAVE) || e == EINVAL)
        return MB_FAIL_BAD;
    return MB_FAIL_LINK;
}

/* ---- posting to the loop ---- */

/* Events are batched per unit of work (one device poll, one write) and handed over together:
 * one lock and at most one loop wake-up per batch instead of per value. */
static void mb_queue(struct mb_worker *w, struct mb_event *ev) {
    ev->next = NULL;
    *w->batch_tail = ev;
    w->batch_tail = &ev->next;
}

static void mb_flush(struct mb_worker *w) {
    mb_post(w->a, w->batch, w->batch_tail);
    w->batch = NULL;
    w->batch_tail = &w->batch;
}

static struct mb_event *mb_event_new(uint8_t kind, uint32_t dev, uint32_t point, size_t extra) {
    struct mb_event *ev = calloc(1, sizeof(*ev) + extra);
    if (ev) {
        ev->kind = kind;
        ev->dev = dev;
        ev->point = point;
    }
    return ev;
}

static void mb_post_state(struct mb_worker *w, uint32_t dev, enum adapter_state st, const char *fmt,
                          ...) {
    struct mb_event *ev = mb_event_new(MB_EV_STATE, dev, 0, 0);
    va_list ap;
    if (!ev)
        return; /* out of memory: the state is re-posted on the next transition */
    ev->state = (uint8_t)st;
    va_start(ap, fmt);
    vsnprintf(ev->detail, sizeof(ev->detail), fmt, ap);
    va_end(ap);
    mb_queue(w, ev);
}

static void mb_post_value(struct mb_worker *w, uint32_t dev, uint32_t point,
                          const struct adapter_value *v) {
    bool bytes = v->type == ADAPTER_V_STRING || v->type == ADAPTER_V_BYTES;
    size_t extra = bytes ? v->v.bytes.len : 0;
    struct mb_dev *d = &w->a->devs[dev];
    struct mb_event *ev;
    if (v->quality == ADAPTER_Q_GOOD && atomic_load(&w->a->evq_len) > MB_EVENT_QUEUE_MAX) {
        mb_count(&w->a->cnt.dropped);
        return;
    }
    if (!(ev = mb_event_new(MB_EV_VALUE, dev, point, extra)))
        return;
    ev->val = *v;
    if (bytes) {
        if (extra)
            memcpy(ev->data, v->v.bytes.ptr, extra);
        ev->val.v.bytes.ptr = ev->data;
    }
    d->qual[point] = v->quality;
    d->exc[point] = v->exception;
    mb_queue(w, ev);
}

/* A bad quality is posted when it changes, not on every poll, so a dead unit is quiet. */
static void mb_post_quality(struct mb_worker *w, uint32_t dev, uint32_t point, uint8_t q,
                            uint8_t exc) {
    struct mb_dev *d = &w->a->devs[dev];
    struct adapter_value v = {.type = ADAPTER_V_NONE, .quality = q, .exception = exc};
    if (d->qual[point] == q && d->exc[point] == exc)
        return;
    v.ts_ms = mb_clock_ms(CLOCK_REALTIME);
    mb_post_value(w, dev, point, &v);
}

static void mb_mark_device(struct mb_worker *w, uint32_t dev, uint8_t q, uint8_t exc) {
    for (size_t i = 0; i < w->a->devs[dev].cfg.n_points; i++)
        mb_post_quality(w, dev, (uint32_t)i, q, exc);
}

static void mb_mark_read(struct mb_worker *w, uint32_t dev, const struct mb_read *r, uint8_t q,
                         uint8_t exc) {
    const struct mb_dev *d = &w->a->devs[dev];
    for (uint32_t k = r->first; k < r->first + r->n; k++)
        mb_post_quality(w, dev, d->plan.idx[k], q, exc);
}

static void mb_post_done(struct mb_worker *w, void *req, enum adapter_write_status st, uint8_t exc,
                         int err) {
    struct mb_event *ev = mb_event_new(MB_EV_WRITE_DONE, MB_LINK, 0, 0);
    if (!ev)
        return;
    ev->req = req;
    ev->wr.status = (uint8_t)st;
    ev->wr.exception = exc;
    ev->wr.err = err;
    mb_queue(w, ev);
}

/* ---- link and unit state ---- */

static uint32_t mb_next_backoff(const struct mb_link_cfg *l, uint32_t cur) {
    if (cur == 0)
        return l->backoff_min_ms;
    return cur >= l->backoff_max_ms / 2 ? l->backoff_max_ms : cur * 2;
}

static void mb_link_down(struct mb_worker *w, int err) {
    struct mb_adapter *a = w->a;
    if (w->bus)
        w->bus->ops->close(w->bus);
    w->connected = false;
    w->link_backoff = mb_next_backoff(&a->link, w->link_backoff);
    w->next_connect = mb_mono_ms() + w->link_backoff;
    if (w->link_up != 0)
        mb_post_state(w, MB_LINK, ADAPTER_STATE_DOWN, "%s: %s; retry in %u ms",
                      a->link.name ? a->link.name : "link", modbus_strerror(err), w->link_backoff);
    w->link_up = 0;
    w->silent = 0;
    /* Units keep their back-off: a dead unit stays as cheap across reconnects. */
    for (size_t i = 0; i < a->n_devs; i++) {
        mb_mark_device(w, (uint32_t)i, ADAPTER_Q_DISCONNECTED, 0);
        a->devs[i].up = -1;
    }
}

static struct mb_bus *mb_new_bus(const struct mb_link_cfg *l) {
    return l->transport == MB_TRANSPORT_RTU_TCP ? mb_rtu_tcp_new(l) : mb_bus_modbus_new(l);
}

/* 0 when connected; -EAGAIN while waiting for the next attempt; another negative errno when this
 * attempt failed (the link is then down until next_connect). */
static int mb_connect(struct mb_worker *w) {
    const struct mb_link_cfg *l = &w->a->link;
    const char *name = l->name ? l->name : "link";
    int rc, warn = 0;
    if (w->connected)
        return 0;
    if (mb_mono_ms() < w->next_connect)
        return -EAGAIN;
    if (!w->bus && !(w->bus = mb_new_bus(l))) {
        int e = errno ? errno : EINVAL;
        mb_link_down(w, e);
        return -e;
    }
    if ((rc = w->bus->ops->connect(w->bus, &warn)) < 0) {
        mb_link_down(w, -rc);
        return rc;
    }
    w->connected = true;
    w->link_backoff = 0;
    mb_count(&w->a->cnt.reconnects);
    if (warn)
        mb_post_state(w, MB_LINK, ADAPTER_STATE_UP, "%s: connected; RS-485 mode not set: %s", name,
                      modbus_strerror(warn));
    else
        mb_post_state(w, MB_LINK, ADAPTER_STATE_UP, "%s: connected", name);
    w->link_up = 1;
    return 0;
}

static void mb_unit_down(struct mb_worker *w, uint32_t dev, uint8_t exc, int err) {
    struct mb_dev *d = &w->a->devs[dev];
    d->backoff_ms = mb_next_backoff(&w->a->link, d->backoff_ms);
    d->backoff_until = mb_mono_ms() + d->backoff_ms;
    mb_mark_device(w, dev, exc ? ADAPTER_Q_EXCEPTION : ADAPTER_Q_TIMEOUT, exc);
    if (d->up != 0)
        mb_post_state(w, dev, ADAPTER_STATE_DOWN, "unit %u: %s; back-off %u ms", d->cfg.unit,
                      modbus_strerror(err), d->backoff_ms);
    d->up = 0;
}

static void mb_unit_up(struct mb_worker *w, uint32_t dev) {
    struct mb_dev *d = &w->a->devs[dev];
    d->backoff_ms = 0;
    d->backoff_until = 0;
    if (d->up != 1)
        mb_post_state(w, dev, ADAPTER_STATE_UP, "unit %u: answering", d->cfg.unit);
    d->up = 1;
}

/* After a garbled answer. On Modbus TCP it is most often the late answer to a request that
 * timed out: the stream stays one answer out of step and libmodbus cannot skip an answer, so a
 * new connection is the clean cut. On a serial line flushing is all there is, and our
 * RTU-over-TCP client drains stale bytes before every request anyway. Returns false when the
 * link went down instead. */
static bool mb_resync(struct mb_worker *w) {
    int rc, warn;
    mb_count(&w->a->cnt.bus_errors);
    w->bus->ops->flush(w->bus);
    if (!w->bus->ops->resync_by_reconnect)
        return true;
    w->bus->ops->close(w->bus);
    if ((rc = w->bus->ops->connect(w->bus, &warn)) < 0) {
        mb_link_down(w, -rc);
        return false;
    }
    mb_count(&w->a->cnt.reconnects);
    return true;
}

/* ---- reading ---- */

/* 0 or a negative errno (libmodbus' codes included). */
static int mb_exec_read(struct mb_worker *w, uint8_t table, uint16_t start, uint16_t count) {
    static const uint8_t fc[] = {
        [MB_TABLE_COIL] = 1, [MB_TABLE_DISCRETE] = 2, [MB_TABLE_INPUT] = 4, [MB_TABLE_HOLDING] = 3};
    if (table > MB_TABLE_HOLDING)
        return -EINVAL;
    mb_count(&w->a->cnt.requests);
    return w->bus->ops->read(w->bus, w->unit, fc[table], start, count, w->regs, w->bits);
}

/* Decodes the point at address p->address from the buffers filled by a read at start. */
static int mb_decode_at(struct mb_worker *w, const struct mb_point_cfg *p, uint16_t start,
                        uint16_t count, struct adapter_value *v) {
    uint16_t off = (uint16_t)(p->address - start);
    int rc = 0;
    if (p->table == MB_TABLE_COIL || p->table == MB_TABLE_DISCRETE)
        mb_decode_bit(w->bits[off], v);
    else
        rc = mb_decode_regs(p, w->regs + off, (size_t)(count - off), v, w->str, sizeof(w->str));
    v->ts_ms = mb_clock_ms(CLOCK_REALTIME);
    return rc;
}

static void mb_post_read(struct mb_worker *w, uint32_t dev, const struct mb_read *r) {
    struct mb_dev *d = &w->a->devs[dev];
    for (uint32_t k = r->first; k < r->first + r->n; k++) {
        uint32_t pi = d->plan.idx[k];
        struct adapter_value v;
        if (mb_decode_at(w, &d->pts[pi], r->start, r->count, &v) < 0)
            mb_post_quality(w, dev, pi, ADAPTER_Q_BAD_DATA, 0);
        else
            mb_post_value(w, dev, pi, &v);
    }
}

/* Handles a failed read i of device dev. Returns true when polling this device should go on
 * with read i (which may have been replaced by finer reads), false to stop this cycle. */
static bool mb_read_failed(struct mb_worker *w, uint32_t dev, size_t *i, int err) {
    struct mb_dev *d = &w->a->devs[dev];
    uint8_t exc;
    enum mb_fail f = mb_classify(-err, &exc);
    if (f != MB_FAIL_LINK && (f != MB_FAIL_UNIT || exc))
        w->silent = 0; /* something answered, even if not what we wanted */
    switch (f) {
    case MB_FAIL_EXCEPTION:
        mb_count(&w->a->cnt.exceptions);
        /* A merged read over a hole in the map fails as a whole: split it and retry now, so
         * only the points that really are missing get marked. */
        if (exc == MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS && mb_plan_split(&d->plan, *i, d->pts) > 0)
            return true;
        mb_mark_read(w, dev, &d->plan.reads[*i], ADAPTER_Q_EXCEPTION, exc);
        (*i)++;
        return true;
    case MB_FAIL_BAD:
        if (!mb_resync(w))
            return false;
        if (w->retried != *i) {
            w->retried = *i; /* most often the stale answer of a timed-out request: once more */
            return true;
        }
        mb_mark_read(w, dev, &d->plan.reads[*i], ADAPTER_Q_BAD_DATA, 0);
        (*i)++;
        return true;
    case MB_FAIL_UNIT:
        if (exc)
            mb_count(&w->a->cnt.exceptions);
        else
            mb_count(&w->a->cnt.timeouts);
        /* A late answer would otherwise be taken for the next request's. */
        w->bus->ops->flush(w->bus);
        mb_unit_down(w, dev, exc, -err);
        if (!exc && ++w->silent >= MB_SILENT_LINK && w->bus->ops->stream)
            mb_link_down(w, ETIMEDOUT);
        return false;
    case MB_FAIL_LINK:
    default:
        mb_link_down(w, -err);
        return false;
    }
}

static bool mb_writes_between(struct mb_worker *w, uint8_t unit);

static void mb_poll_device(struct mb_worker *w, uint32_t dev) {
    struct mb_dev *d = &w->a->devs[dev];
    size_t i = 0;
    w->retried = SIZE_MAX;
    if (d->plan.n_reads == 0)
        return; /* nothing to read: no I/O, and no claim that the unit answers */
    if (mb_mono_ms() < d->backoff_until) {
        mb_count(&w->a->cnt.skipped);
        return;
    }
    w->unit = d->cfg.unit;
    while (i < d->plan.n_reads) {
        const struct mb_read *r = &d->plan.reads[i];
        int rc = mb_exec_read(w, r->table, r->start, r->count);
        if (rc == 0) {
            w->silent = 0;
            mb_post_read(w, dev, r);
            if (++i < d->plan.n_reads && !mb_writes_between(w, d->cfg.unit))
                return;
        } else if (!mb_read_failed(w, dev, &i, rc)) {
            return;
        }
    }
    mb_unit_up(w, dev);
    mb_count(&w->a->cnt.polls);
}

/* ---- writing ---- */

static enum adapter_write_status mb_write_status(struct mb_worker *w, int err, uint8_t *exc) {
    switch (mb_classify(-err, exc)) {
    case MB_FAIL_EXCEPTION:
        mb_count(&w->a->cnt.exceptions);
        return ADAPTER_WRITE_EXCEPTION;
    case MB_FAIL_UNIT:
        w->bus->ops->flush(w->bus);
        if (*exc) {
            mb_count(&w->a->cnt.exceptions);
            return ADAPTER_WRITE_EXCEPTION;
        }
        mb_count(&w->a->cnt.timeouts);
        return ADAPTER_WRITE_TIMEOUT;
    case MB_FAIL_BAD:
        mb_resync(w);
        return ADAPTER_WRITE_FAILED;
    case MB_FAIL_LINK:
    default:
        mb_link_down(w, -err);
        return ADAPTER_WRITE_DISCONNECTED;
    }
}

/* Sends the write with the function code mb_write_fc chose. 0 or a negative errno. */
static int mb_send_write(struct mb_worker *w, const struct mb_point_cfg *p, bool force,
                         const struct mb_write *wr) {
    int rc, fc;
    uint16_t reg = wr->regs[0];
    if (p->type == MB_TYPE_BIT) {
        /* bit(N): read-modify-write of the register, so the other bits keep their values. */
        bool on = (wr->regs[0] >> p->param) & 1u;
        if ((rc = mb_exec_read(w, MB_TABLE_HOLDING, p->address, 1)) < 0)
            return rc;
        reg = mb_bit_apply(w->regs[0], p->param, on);
    }
    fc = mb_write_fc(p, force);
    if (fc == 0)
        return -EPERM;
    mb_count(&w->a->cnt.requests);
    /* Coils and bit(N) write one item (reg holds bit(N)'s merged register); FC16 writes wr->n. */
    if (fc != 16 || p->type == MB_TYPE_BIT)
        return w->bus->ops->write(w->bus, w->unit, (uint8_t)fc, p->address, 1, &reg, &wr->bit);
    return w->bus->ops->write(w->bus, w->unit, 16, p->address, wr->n, wr->regs, NULL);
}

/* Reads the point back, posts its value, and says whether it holds what was written. */
static int mb_read_back(struct mb_worker *w, uint32_t dev, uint32_t pi, const struct mb_write *wr,
                        bool *same) {
    const struct mb_point_cfg *p = &w->a->devs[dev].pts[pi];
    uint16_t width = (uint16_t)mb_point_width(p);
    struct adapter_value v;
    int rc = mb_exec_read(w, p->table, p->address, width);
    if (rc < 0)
        return rc;
    if (p->table == MB_TABLE_COIL)
        *same = (w->bits[0] != 0) == (wr->bit != 0);
    else if (p->type == MB_TYPE_BIT)
        *same = ((w->regs[0] ^ wr->regs[0]) >> p->param & 1u) == 0;
    else
        *same = memcmp(w->regs, wr->regs, width * sizeof(uint16_t)) == 0;
    if (mb_decode_at(w, p, p->address, width, &v) == 0)
        mb_post_value(w, dev, pi, &v);
    return 0;
}

static void mb_exec_write(struct mb_worker *w, const struct mb_write *wr) {
    struct mb_dev *d = &w->a->devs[wr->dev];
    const struct mb_point_cfg *p = &d->pts[wr->point];
    enum adapter_write_status st = ADAPTER_WRITE_OK;
    uint8_t exc = 0;
    bool same = true;
    int rc = mb_connect(w);
    if (rc < 0) {
        mb_post_done(w, wr->req, ADAPTER_WRITE_DISCONNECTED, 0, rc == -EAGAIN ? -ENOTCONN : rc);
        return;
    }
    w->unit = d->cfg.unit;
    rc = mb_send_write(w, p, d->cfg.force_multiple, wr);
    if (rc == 0 && p->read_back)
        rc = mb_read_back(w, wr->dev, wr->point, wr, &same);
    if (rc < 0)
        st = mb_write_status(w, rc, &exc);
    else if (!same)
        st = ADAPTER_WRITE_MISMATCH;
    mb_post_done(w, wr->req, st, exc, rc);
}

/* Takes the oldest queued write; the caller holds a->mu. */
static struct mb_write *mb_pop_write(struct mb_adapter *a) {
    struct mb_write *wr = a->wq_head;
    if (wr) {
        a->wq_head = wr->next;
        if (!a->wq_head)
            a->wq_tail = &a->wq_head;
        a->wq_len--;
    }
    return wr;
}

/* Runs the writes queued so far, between two reads of a poll: on a slow serial line a poll of
 * many requests must not hold a user's write back for seconds. Returns false when the link went
 * down meanwhile (the poll then stops). */
static bool mb_writes_between(struct mb_worker *w, uint8_t unit) {
    bool any = false;
    for (;;) {
        struct mb_write *wr;
        pthread_mutex_lock(&w->a->mu);
        wr = w->a->stop ? NULL : mb_pop_write(w->a);
        pthread_mutex_unlock(&w->a->mu);
        if (!wr)
            break;
        mb_exec_write(w, wr);
        mb_flush(w);
        free(wr);
        any = true;
    }
    if (!w->connected)
        return false;
    if (any)
        w->unit = unit;
    return true;
}

/* ---- schedule ---- */

/* The devices form a min-heap on next_poll (a->sched), so finding the next device costs
 * O(log n) per poll: a TCP-to-RTU gateway link may carry hundreds of units. */
static bool mb_before(const struct mb_adapter *a, uint32_t x, uint32_t y) {
    return a->devs[x].next_poll < a->devs[y].next_poll;
}

static void mb_sift_down(struct mb_adapter *a, size_t i) {
    uint32_t *h = a->sched;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        uint32_t t;
        if (l < a->n_devs && mb_before(a, h[l], h[m]))
            m = l;
        if (r < a->n_devs && mb_before(a, h[r], h[m]))
            m = r;
        if (m == i)
            return;
        t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

static uint64_t mb_next_due(const struct mb_worker *w) {
    const struct mb_adapter *a = w->a;
    if (!w->connected)
        return w->next_connect;
    return a->n_devs ? a->devs[a->sched[0]].next_poll : UINT64_MAX;
}

/* Polls the most overdue device (one per call, so queued writes get in between devices). */
static void mb_run_due(struct mb_worker *w, uint64_t now) {
    struct mb_adapter *a = w->a;
    struct mb_dev *d;
    if (mb_connect(w) < 0 || a->n_devs == 0)
        return;
    d = &a->devs[a->sched[0]];
    if (d->next_poll > now)
        return;
    mb_poll_device(w, a->sched[0]);
    /* Keep the phase; after an overrun skip the missed cycles instead of bursting. */
    now = mb_mono_ms();
    d->next_poll += d->cfg.poll_ms;
    if (d->next_poll <= now)
        d->next_poll = now + d->cfg.poll_ms - (now - d->next_poll) % d->cfg.poll_ms;
    mb_sift_down(a, 0);
}

static void mb_worker_init(struct mb_worker *w, struct mb_adapter *a) {
    uint64_t now = mb_mono_ms();
    memset(w, 0, sizeof(*w));
    w->a = a;
    w->link_up = -1;
    w->batch_tail = &w->batch;
    for (size_t i = 0; i < a->n_devs; i++) {
        struct mb_dev *d = &a->devs[i];
        /* Stagger first polls across the period (at most 5 s, so that slow-polled devices
         * still have values soon after start) so devices do not all hit the link at once. */
        uint64_t spread = d->cfg.poll_ms < 5000 ? d->cfg.poll_ms : 5000;
        d->next_poll = now + spread * i / a->n_devs;
        d->backoff_until = 0;
        d->backoff_ms = 0;
        d->up = -1;
        memset(d->qual, MB_QUALITY_NONE, d->cfg.n_points ? d->cfg.n_points : 1);
        memset(d->exc, 0, d->cfg.n_points ? d->cfg.n_points : 1);
        a->sched[i] = (uint32_t)i;
    }
    for (size_t i = a->n_devs / 2; i-- > 0;)
        mb_sift_down(a, i);
}

static void mb_wait_until(struct mb_adapter *a, uint64_t due) {
    struct timespec ts;
    if (due == UINT64_MAX) {
        pthread_cond_wait(&a->cv, &a->mu);
        return;
    }
    ts.tv_sec = (time_t)(due / 1000u);
    ts.tv_nsec = (long)(due % 1000u) * 1000000L;
    pthread_cond_timedwait(&a->cv, &a->mu, &ts);
}

void *mb_link_main(void *arg) {
    struct mb_adapter *a = arg;
    struct mb_worker w;
    mb_worker_init(&w, a);
    pthread_mutex_lock(&a->mu);
    while (!a->stop) {
        struct mb_write *wr = mb_pop_write(a);
        uint64_t now, due;
        if (wr) {
            /* Writes go before polls: a user is waiting for them. */
            pthread_mutex_unlock(&a->mu);
            mb_exec_write(&w, wr);
            mb_flush(&w);
            free(wr);
            pthread_mutex_lock(&a->mu);
            continue;
        }
        now = mb_mono_ms();
        due = mb_next_due(&w);
        if (due > now) {
            mb_wait_until(a, due);
            continue;
        }
        pthread_mutex_unlock(&a->mu);
        mb_run_due(&w, now);
        mb_flush(&w);
        pthread_mutex_lock(&a->mu);
    }
    pthread_mutex_unlock(&a->mu);
    if (w.bus)
        w.bus->ops->destroy(w.bus);
    return NULL;
}
