/* SPDX-License-Identifier: Apache-2.0 */
/* The notification-attribute rules of observe_attr.c, table-driven: each case is a set of
 * attributes and a timeline of (time, change marked?, current value, notification expected?),
 * run through the same evaluate-then-notify sequence observe.c uses. No I/O, no clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "observe_internal.h"

struct step {
    uint64_t t;  /* ms since the first response */
    bool mark;   /* lwm2m_endpoint_changed() before this pass */
    double v;    /* the value the provider has now */
    bool notify; /* a notification must leave in this pass */
};

struct attr_case {
    const char *name;
    struct lwm2m_attrs a;
    bool has_num;
    double start;
    struct step steps[12];
    size_t n;
};

#define A_PMIN(x) .set = LWM2M_ATTR_PMIN, .pmin = (x)
#define N(t, v)                                                                                    \
    { (t), true, (v), true } /* marked, notifies */
#define Q(t, v)                                                                                    \
    { (t), true, (v), false } /* marked, quiet */
#define TICK(t, v)                                                                                 \
    { (t), false, (v), false }
#define FIRE(t, v)                                                                                 \
    { (t), false, (v), true }

static const struct attr_case cases[] = {
    {"no attributes: every marked change notifies at once",
     {0},
     true,
     21.5,
     {N(100, 22), N(150, 22), TICK(5000, 22)},
     3},
    {"object or instance target: any mark, value conditions ignored",
     {.set = LWM2M_ATTR_GT, .gt = 100},
     false,
     0,
     {N(100, 0), TICK(200, 0), N(300, 0)},
     3},
    {"pmin gates, the change goes out when pmin expires",
     {A_PMIN(2)},
     true,
     20,
     {Q(500, 21), TICK(1999, 21), FIRE(2000, 21), Q(2100, 22), FIRE(4000, 22)},
     5},
    {"pmax forces without a change",
     {.set = LWM2M_ATTR_PMAX, .pmax = 3},
     true,
     20,
     {TICK(2999, 20), FIRE(3000, 20), TICK(5999, 20), FIRE(6000, 20), N(6500, 21), TICK(9000, 21),
      FIRE(9500, 21)},
     7},
    {"pmax below pmin is ignored",
     {.set = LWM2M_ATTR_PMIN | LWM2M_ATTR_PMAX, .pmin = 5, .pmax = 2},
     true,
     20,
     {TICK(2000, 20), TICK(4999, 20), Q(4999, 21), FIRE(5000, 21)},
     4},
    {"gt fires on crossing, both directions",
     {.set = LWM2M_ATTR_GT, .gt = 25},
     true,
     20,
     {Q(100, 22), N(200, 26), Q(300, 27), N(400, 24), Q(500, 25), N(600, 25.5)},
     6},
    {"lt fires on crossing, both directions",
     {.set = LWM2M_ATTR_LT, .lt = 10},
     true,
     20,
     {Q(100, 12), N(200, 9), Q(300, 8), N(400, 11), Q(500, 10)},
     5},
    {"st measures from the last notified value, not the last evaluated",
     {.set = LWM2M_ATTR_ST, .st = 2},
     true,
     21.5,
     {Q(100, 22.5), Q(200, 23.4), N(300, 23.6), Q(400, 24.5), N(500, 25.7), N(600, 21.6)},
     6},
    {"gt, lt and st together: any of them",
     {.set = LWM2M_ATTR_GT | LWM2M_ATTR_LT | LWM2M_ATTR_ST, .gt = 30, .lt = 10, .st = 5},
     true,
     20,
     {Q(100, 24), N(200, 25), N(300, 31), Q(400, 30.5), N(500, 9.9)},
     5},
    {"a crossing under pmin is owed even if the value moves back",
     {.set = LWM2M_ATTR_PMIN | LWM2M_ATTR_GT, .pmin = 2, .gt = 25},
     true,
     20,
     {Q(500, 26), Q(1000, 24), TICK(1999, 24), FIRE(2000, 24), Q(2500, 24.5)},
     5},
    {"epmin defers the evaluation of a change",
     {.set = LWM2M_ATTR_EPMIN, .epmin = 2},
     true,
     20,
     {Q(100, 21), TICK(1999, 21), FIRE(2000, 21), Q(2500, 22), FIRE(4000, 22)},
     5},
    {"epmax re-evaluates without a mark and sees a silent change",
     {.set = LWM2M_ATTR_EPMAX, .epmax = 1},
     true,
     20,
     {TICK(999, 21), FIRE(1000, 21), TICK(2000, 21), FIRE(3000, 22)},
     4},
    {"edge=1: rising edges only",
     {.set = LWM2M_ATTR_EDGE, .edge = 1},
     true,
     0,
     {N(100, 1), Q(200, 0), N(300, 1), Q(400, 1)},
     4},
    {"edge=0: falling edges only",
     {.set = LWM2M_ATTR_EDGE, .edge = 0},
     true,
     0,
     {Q(100, 1), N(200, 0), Q(300, 1), N(400, 0)},
     4},
};

/* observe.c's order: evaluate what is due, then notify what is due. */
static bool pass(const struct lwm2m_attrs *a, struct lwm2m_obs_eval *st, const struct step *s) {
    if (s->mark)
        st->dirty = true;
    if (lwm2m_obs_attr_eval_due(a, st, s->t))
        lwm2m_obs_attr_evaluated(st, lwm2m_obs_attr_condition(a, st, s->v), s->v, s->t);
    if (!lwm2m_obs_attr_notify_due(a, st, s->t))
        return false;
    lwm2m_obs_attr_notified(st, s->v, s->t);
    return true;
}

static void test_table(void **state) {
    (void)state;
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        const struct attr_case *k = &cases[c];
        struct lwm2m_obs_eval st;
        lwm2m_obs_attr_start(&st, k->has_num, k->start, 0);
        for (size_t i = 0; i < k->n; i++) {
            bool got = pass(&k->a, &st, &k->steps[i]);
            if (got != k->steps[i].notify)
                fail_msg("%s: step %zu (t=%llu v=%g): notify %d, expected %d", k->name, i,
                         (unsigned long long)k->steps[i].t, k->steps[i].v, got, k->steps[i].notify);
        }
    }
}

/* The deadline is what keeps idle cost near zero: none without pmax/epmax or anything owed. */
static void test_next_deadline(void **state) {
    (void)state;
    struct lwm2m_obs_eval st;
    struct lwm2m_attrs none = {0}, pmin = {A_PMIN(2)};
    struct lwm2m_attrs pmax = {.set = LWM2M_ATTR_PMAX, .pmax = 60};
    struct lwm2m_attrs both = {.set = LWM2M_ATTR_PMIN | LWM2M_ATTR_PMAX, .pmin = 2, .pmax = 60};
    struct lwm2m_attrs ep = {.set = LWM2M_ATTR_EPMIN | LWM2M_ATTR_EPMAX, .epmin = 1, .epmax = 7};
    lwm2m_obs_attr_start(&st, true, 1, 1000);
    assert_int_equal(lwm2m_obs_attr_next(&none, &st), 0);
    assert_int_equal(lwm2m_obs_attr_next(&pmin, &st), 0);
    assert_int_equal(lwm2m_obs_attr_next(&pmax, &st), 61000);
    st.pending = true;
    assert_int_equal(lwm2m_obs_attr_next(&both, &st), 3000);
    st.pending = false;
    assert_int_equal(lwm2m_obs_attr_next(&ep, &st), 8000); /* epmax after the evaluation */
    st.dirty = true;
    assert_int_equal(lwm2m_obs_attr_next(&ep, &st), 2000); /* the marked change at epmin */
    /* a target without one value has nothing to re-evaluate: no epmax timer */
    lwm2m_obs_attr_start(&st, false, 0, 1000);
    assert_int_equal(lwm2m_obs_attr_next(&ep, &st), 0);
}

static void test_pmax_rules(void **state) {
    (void)state;
    uint64_t ms = 0;
    struct lwm2m_attrs a = {.set = LWM2M_ATTR_PMAX, .pmax = 0};
    assert_false(lwm2m_obs_attr_pmax(&a, &ms)); /* 0: no maximum */
    a = (struct lwm2m_attrs){.set = LWM2M_ATTR_PMIN | LWM2M_ATTR_PMAX, .pmin = 5, .pmax = 5};
    assert_true(lwm2m_obs_attr_pmax(&a, &ms));
    assert_int_equal(ms, 5000);
    a.pmax = 4;
    assert_false(lwm2m_obs_attr_pmax(&a, &ms));
    a = (struct lwm2m_attrs){.set = LWM2M_ATTR_EPMIN | LWM2M_ATTR_EPMAX, .epmin = 3, .epmax = 2};
    assert_false(lwm2m_obs_attr_epmax(&a, &ms));
    a.epmax = 3;
    assert_true(lwm2m_obs_attr_epmax(&a, &ms));
    assert_int_equal(ms, 3000);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_next_deadline),
        cmocka_unit_test(test_pmax_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
