/* SPDX-License-Identifier: Apache-2.0 */
/* The notification attributes of TS Core 1.1.1 §5.1.1-5.1.2 (1.2 adds edge and con) as pure
 * functions over one observation's evaluation state: pmin gates, pmax forces, gt/lt fire on a
 * crossing, st measures from the last notified value, epmin/epmax bound re-evaluation. */
#include <math.h>

#include "observe_internal.h"

static uint64_t secs(uint32_t s) {
    return (uint64_t)s * 1000u;
}

static uint64_t pmin_ms(const struct lwm2m_attrs *a) {
    return (a->set & LWM2M_ATTR_PMIN) ? secs(a->pmin) : 0;
}

static uint64_t epmin_ms(const struct lwm2m_attrs *a) {
    return (a->set & LWM2M_ATTR_EPMIN) ? secs(a->epmin) : 0;
}

/* "The Maximum Period parameter MUST be greater than the Minimum Period parameter otherwise the
 * parameter will be ignored": a pmax equal to pmin is kept (Write-Attributes accepts it, and
 * "notify exactly every N s" is what a server means by it); 0 means no maximum. */
bool lwm2m_obs_attr_pmax(const struct lwm2m_attrs *a, uint64_t *ms) {
    if (!(a->set & LWM2M_ATTR_PMAX) || a->pmax == 0)
        return false;
    if ((a->set & LWM2M_ATTR_PMIN) && a->pmax < a->pmin)
        return false;
    *ms = secs(a->pmax);
    return true;
}

bool lwm2m_obs_attr_epmax(const struct lwm2m_attrs *a, uint64_t *ms) {
    if (!(a->set & LWM2M_ATTR_EPMAX) || a->epmax == 0)
        return false;
    if ((a->set & LWM2M_ATTR_EPMIN) && a->epmax < a->epmin)
        return false;
    *ms = secs(a->epmax);
    return true;
}

void lwm2m_obs_attr_start(struct lwm2m_obs_eval *st, bool has_num, double v, uint64_t now) {
    *st = (struct lwm2m_obs_eval){
        .last_notify_ms = now, .last_eval_ms = now, .notified = v, .prev = v, .has_num = has_num};
}

bool lwm2m_obs_attr_eval_due(const struct lwm2m_attrs *a, const struct lwm2m_obs_eval *st,
                             uint64_t now) {
    uint64_t epmax = 0;
    if (st->dirty)
        return now >= st->last_eval_ms + epmin_ms(a);
    /* Without a single value to compare, a re-evaluation could not tell a change from none. */
    return st->has_num && lwm2m_obs_attr_epmax(a, &epmax) && now >= st->last_eval_ms + epmax;
}

static bool crossed_gt(double gt, double from, double to) {
    return (from > gt) != (to > gt);
}

static bool crossed_lt(double lt, double from, double to) {
    return (from < lt) != (to < lt);
}

bool lwm2m_obs_attr_condition(const struct lwm2m_attrs *a, const struct lwm2m_obs_eval *st,
                              double cur) {
    uint16_t s = a->set;
    if (!st->has_num)
        return st->dirty; /* an object or instance, or a string: any marked change */
    if (s & LWM2M_ATTR_EDGE) {
        /* edge=1: false → true; edge=0: true → false (1.2 §5.1.2). */
        bool was = st->prev != 0, is = cur != 0;
        return was != is && is == (a->edge != 0);
    }
    if (!(s & (LWM2M_ATTR_GT | LWM2M_ATTR_LT | LWM2M_ATTR_ST)))
        return st->dirty || cur != st->prev;
    if ((s & LWM2M_ATTR_GT) && crossed_gt(a->gt, st->prev, cur))
        return true;
    if ((s & LWM2M_ATTR_LT) && crossed_lt(a->lt, st->prev, cur))
        return true;
    return (s & LWM2M_ATTR_ST) && fabs(cur - st->notified) >= a->st;
}

void lwm2m_obs_attr_evaluated(struct lwm2m_obs_eval *st, bool cond, double cur, uint64_t now) {
    st->pending = st->pending || cond;
    if (st->has_num)
        st->prev = cur;
    st->last_eval_ms = now;
    st->dirty = false;
}

bool lwm2m_obs_attr_notify_due(const struct lwm2m_attrs *a, const struct lwm2m_obs_eval *st,
                               uint64_t now) {
    uint64_t pmax = 0;
    if (st->pending && now >= st->last_notify_ms + pmin_ms(a))
        return true;
    return lwm2m_obs_attr_pmax(a, &pmax) && now >= st->last_notify_ms + pmax;
}

void lwm2m_obs_attr_notified(struct lwm2m_obs_eval *st, double cur, uint64_t now) {
    st->pending = false;
    st->last_notify_ms = now;
    if (st->has_num) {
        st->notified = cur;
        st->prev = cur;
    }
}

static void earliest(uint64_t *best, uint64_t t) {
    if (*best == 0 || t < *best)
        *best = t;
}

uint64_t lwm2m_obs_attr_next(const struct lwm2m_attrs *a, const struct lwm2m_obs_eval *st) {
    uint64_t next = 0, pmax = 0, epmax = 0;
    if (st->pending)
        earliest(&next, st->last_notify_ms + pmin_ms(a));
    if (lwm2m_obs_attr_pmax(a, &pmax))
        earliest(&next, st->last_notify_ms + pmax);
    if (st->dirty)
        earliest(&next, st->last_eval_ms + epmin_ms(a));
    else if (st->has_num && lwm2m_obs_attr_epmax(a, &epmax))
        earliest(&next, st->last_eval_ms + epmax);
    return next;
}
