/* SPDX-License-Identifier: Apache-2.0 */
/* Observations and Send through the real dispatch (dm.c), observe.c and send.c on the DM test
 * fixture: a mock transport that captures datagrams and a mock clock. The deferred pass runs
 * through the fixture's event base (EVLOOP_NONBLOCK) or by hand after moving the clock. */
#include "dm_test_fixture.h"
#include "observe_internal.h"
#include "sf_store.h"

#include <unistd.h>

static const uint8_t TOKEN[2] = {0xD0, 1}; /* dmfx_do's token of the first request */

static struct dmfx *setup_fx(void) {
    struct dmfx *f = dmfx_new(2);
    f->srv->default_pmin = 0; /* each test sets what it needs */
    f->srv->default_pmax = 0;
    return f;
}

static struct coap_msg *observe(struct dmfx *f, const char *path, uint32_t obs) {
    struct rq q = {.code = COAP_GET, .path = path, .has_observe = true, .observe = obs};
    struct coap_msg *r = dmfx_do(f, &q);
    assert_non_null(r);
    return r;
}

static void set_temp(struct dmfx *f, double v) {
    struct lwm2m_path p = P3(3303, 0, 5700);
    tp_set(&f->prov, p, lwm2m_value_float(v));
    lwm2m_endpoint_changed(f->ep, &p);
}

static void test_observe_first_response_and_notify(void **state) {
    (void)state;
    struct dmfx *f = setup_fx();
    struct coap_msg *r = observe(f, "3303/0/5700", 0);
    assert_int_equal(r->code, COAP_205_CONTENT);
    uint32_t seq0 = dmfx_opt(r, COAP_OPT_OBSERVE);
    assert_int_equal(dmfx_opt(r, COAP_OPT_CONTENT_FORMAT), LWM2M_CT_TEXT);
    assert_string_equal(dm_text(f), "21.5");
    assert_int_equal(lwm2m_endpoint_observations(f->ep), 1);
    size_t before = f->tp.n;
    dmfx_loop(f); /* the pass after creation: nothing due */
    assert_int_equal(f->tp.n, before);
    set_temp(f, 22.5);
    dmfx_loop(f);
    assert_int_equal(f->tp.n, before + 1);
    struct coap_msg *n = dmfx_sent(f, -1);
    assert_int_equal(n->type, COAP_TYPE_NON);
    assert_int_equal(n->token_len, 2);
    assert_memory_equal(n->token, TOKEN, 2);
    assert_true(dmfx_opt(n, COAP_OPT_OBSERVE) > seq0);
    assert_string_equal(dm_text(f), "22.5");
    assert_int_equal(f->eng->report_stats.notifications, 1);
    assert_int_equal(f->eng->report_stats.notify_non, 1);
    dmfx_free(f);
}

static void test_coalescing(void **state) {
    (void)state;
    struct dmfx *f = setup_fx();
    observe(f, "3303/0", 0);
    size_t before = f->tp.n;
    for (int i = 0; i < 5; i++)
        set_temp(f, 30 + i);
    dmfx_loop(f);
    assert_int_equal(f->tp.n, before + 1); /* five changes, one pass, one notification */
    dmfx_loop(f);
    assert_int_equal(f->tp.n, before + 1);
    dmfx_free(f);
}

static void test_cancel_by_observe_1(void **state) {
    (void)state;
    struct dmfx *f = setup_fx();
    observe(f, "3303/0/5700", 0);
    struct coap_msg *r = observe(f, "3303/0/5700", 1);
    assert_int_equal(r->code, COAP_205_CONTENT);
    assert_false(coap_msg_opt(r, COAP_OPT_OBSERVE) != NULL);
    assert_int_equal(lwm2m_endpoint_observations(f->ep), 0);
    size_t before = f->tp.n;
    set_temp(f, 25);
    dmfx_loop(f);
    assert_int_equal(f->tp.n, before);
    dmfx_free(f);
}

static void test_reobserve_replaces(void **state) {
    (void)state;
    struct dmfx *f = setup_fx();
    observe(f, "3303/0/5700", 0);
    observe(f, "3303/0/5700", 0); /* new token, same target: replaced, not doubled */
    assert_int_equal(lwm2m_endpoint_observations(f->ep), 1);
    dmfx_free(f);
}

static void test_cancel_by_rst(void **state) {
    (void)state;
    struct dmfx *f = setup_fx();
    observe(f, "3303/0/5700", 0);
    set_temp(f, 26);
    dmfx_loop(f);
    dmfx_answer_last(f, COAP_TYPE_RST);
    assert_int_equal(lwm2m_endpoint_observations(f->ep), 0);
    assert_int_equal(f->eng->report_stats.observe_ended, 1);
    dmfx_free(f);
}

static void test_con_attribute_ack_and_failure(void **state) {
    (void)state;
    struct dmfx *f = setup_fx();
    assert_int_equal(dm_query(f, COAP_PUT, "3303/0/5700", "con=1"), COAP_204_CHANGED);
    observe(f, "3303/0/5700", 0);
    set_temp(f, 27);
    dmfx_loop(f);
    assert_int_equal(dmfx_sent(f, -1)->type, COAP_TYPE_CON);
    dmfx_answer_last(f, COAP_TYPE_ACK);
    assert_int_equal(lwm2m_endpoint_observations(f->ep), 1);
    set_temp(f, 28);
    dmfx_loop(f);
    assert_int_equal(dmfx_sent(f, -1)->type, COAP_TYPE_CON);
    /* never acknowledged: after MAX_RETRANSMIT the observation ends */
    for (int i = 0; i < 200 && lwm2m_endpoint_observations(f->ep) > 0; i++) {
        f->now += 1000;
        coap_endpoint_tick(f->ep->coap);
    }
    assert_int_equal(lwm2m_endpoint_observations(f->ep), 0);
    dmfx_free(f);
}

static void test_non_stream_sends_con_now_and_then(void **state) {
    (void)state;
    struct dmfx *f = setup_fx();
    struct lwm2m_report_cfg cfg = {.con_every = 3};
    assert_int_equal(lwm2m_endpoint_set_report(f->ep, &cfg), 0);
    observe(f, "3303/0/5700", 0);
    uint8_t types[6];
    for (int i = 0; i < 6; i++) {
        set_temp(f, 40 + i);
        dmfx_loop(f);
        types[i] = dmfx_sent(f, -1)->type;
        if (types[i] == COAP_TYPE_CON)
            dmfx_answer_last(f, COAP_TYPE_ACK);
    }
    assert_int_equal(types[0], COAP_TYPE_NON);
    assert_int_equal(types[1], COAP_TYPE_NON);
    assert_int_equal(types[2], COAP_TYPE_CON);
    assert_int_equal(types[5], COAP_TYPE_CON);
    dmfx_free(f);
}

static void test_pmin_pmax_by_clock(void **state) {
    (void)state;
    struct dmfx *f = setup_fx();
    assert_int_equal(dm_query(f, COAP_PUT, "3303/0", "pmin=2&pmax=5"), COAP_204_CHANGED);
    observe(f, "3303/0/5700", 0);
    size_t before = f->tp.n;
    f->now += 500;
    set_temp(f, 29);
    dmfx_loop(f);
    assert_int_equal(f->tp.n, before); /* under pmin */
    f->now += 1500;
    lwm2m_obs_run(f->ep); /* the timer at pmin */
    assert_int_equal(f->tp.n, before + 1);
    dmfx_sent(f, -1);
    assert_string_equal(dm_text(f), "29");
    f->now += 4999;
    lwm2m_obs_run(f->ep);
    assert_int_equal(f->tp.n, before + 1);
    f->now += 1;
    lwm2m_obs_run(f->ep); /* pmax without a change */
    assert_int_equal(f->tp.n, before + 2);
    assert_true(event_pending(f->ep->obs->ev, EV_TIMEOUT, NULL)); /* armed for the next pmax */
    dmfx_free(f);
}

static void test_default_pmin_from_server_object(void **state) {
    (void)state;
    struct dmfx *f = setup_fx();
    f->srv->default_pmin = 3;
    observe(f, "3303/0/5700", 0);
    size_t before = f->tp.n;
    set_temp(f, 31);
    dmfx_loop(f);
    assert_int_equal(f->tp.n, before);
    f->now += 3000;
    lwm2m_obs_run(f->ep);
    assert_int_equal(f->tp.n, before + 1);
    dmfx_free(f);
}

static void test_gt_on_resource(void **state) {
    (void)state;
    struct dmfx *f = setup_fx();
    assert_int_equal(dm_query(f, COAP_PUT, "3303/0/5700", "gt=25"), COAP_204_CHANGED);
    observe(f, "3303/0/5700", 0);
    size_t before = f->tp.n;
    set_temp(f, 24);
    dmfx_loop(f);
    assert_int_equal(f->tp.n, before);
    set_temp(f, 25.5);
    dmfx_loop(f);
    assert_int_equal(f->tp.n, before + 1);
    dmfx_free(f);
}

static void test_registration_ends_observations(void **state) {
    (void)state;
    struct dmfx *f = setup_fx();
    observe(f, "3303/0/5700", 0);
    observe(f, "3311/0", 0);
    assert_int_equal(lwm2m_endpoint_observations(f->ep), 2);
    lwm2m_obs_reg_event(f->srv, LWM2M_OBS_REG_NEW); /* a Register: the server forgot them */
    assert_int_equal(lwm2m_endpoint_observations(f->ep), 0);
    observe(f, "3303/0/5700", 0);
    lwm2m_reg_deregister(f->srv);
    assert_int_equal(lwm2m_endpoint_observations(f->ep), 0);
    dmfx_free(f);
}

static void test_deleted_target_ends_with_404(void **state) {
    (void)state;
    struct dmfx *f = setup_fx();
    observe(f, "3311/1", 0);
    tp_remove(&f->prov, 3311, 1);
    struct lwm2m_path p = P2(3311, 1);
    lwm2m_endpoint_changed(f->ep, &p);
    dmfx_loop(f);
    assert_int_equal(dmfx_sent(f, -1)->code, COAP_404_NOT_FOUND);
    assert_int_equal(lwm2m_endpoint_observations(f->ep), 0);
    dmfx_free(f);
}

static void test_observe_composite(void **state) {
    (void)state;
    struct dmfx *f = setup_fx();
    static const char body[] = "[{\"n\":\"/3311/0/5850\"},{\"n\":\"/3303/0/5700\"}]";
    struct rq q = {.code = COAP_FETCH,
                   .path = "",
                   .has_cf = true,
                   .cf = LWM2M_CT_SENML_JSON,
                   .has_observe = true,
                   .payload = body,
                   .len = sizeof(body) - 1};
    struct coap_msg *r = dmfx_do(f, &q);
    assert_non_null(r);
    assert_int_equal(r->code, COAP_205_CONTENT);
    assert_non_null(coap_msg_opt(r, COAP_OPT_OBSERVE));
    struct lwm2m_record recs[8];
    assert_int_equal(dm_decode(f, LWM2M_CT_SENML_JSON, (struct lwm2m_path){.len = 0}, recs, 8), 2);
    set_temp(f, 33);
    struct lwm2m_path other = P3(3303, 0, 5701); /* not in the list */
    lwm2m_endpoint_changed(f->ep, &other);
    dmfx_loop(f);
    dmfx_sent(f, -1);
    size_t n = dm_decode(f, LWM2M_CT_SENML_JSON, (struct lwm2m_path){.len = 0}, recs, 8);
    assert_int_equal(n, 2);
    assert_true(dm_rec(recs, n, P3(3303, 0, 5700))->value.v.f == 33);
    q.observe = 1; /* cancel: a plain Read-Composite answer */
    r = dmfx_do(f, &q);
    assert_int_equal(r->code, COAP_205_CONTENT);
    assert_null(coap_msg_opt(r, COAP_OPT_OBSERVE));
    assert_int_equal(lwm2m_endpoint_observations(f->ep), 0);
    dmfx_free(f);
}

static void test_send_and_mute(void **state) {
    (void)state;
    struct dmfx *f = setup_fx();
    struct lwm2m_path p[2] = {P3(3303, 0, 5700), P2(3311, 0)};
    assert_int_equal(lwm2m_endpoint_send(f->ep, p, 2), 0);
    struct coap_msg *m = dmfx_sent(f, -1);
    assert_int_equal(m->type, COAP_TYPE_CON);
    assert_int_equal(m->code, COAP_POST);
    assert_int_equal(dmfx_opt(m, COAP_OPT_CONTENT_FORMAT), LWM2M_CT_SENML_CBOR);
    struct lwm2m_record recs[8];
    size_t n = dm_decode(f, LWM2M_CT_SENML_CBOR, (struct lwm2m_path){.len = 0}, recs, 8);
    assert_true(n >= 2);
    assert_true(dm_rec(recs, n, P3(3303, 0, 5700))->has_time);
    f->srv->mute_send = true;
    size_t before = f->tp.n;
    assert_int_equal(lwm2m_endpoint_send(f->ep, p, 1), LWM2M_ERR_STATE);
    assert_int_equal(f->tp.n, before);
    assert_int_equal(f->eng->report_stats.send_muted, 1);
    f->srv->mute_send = false;
    f->srv->version = 0; /* LwM2M 1.0 has no Send */
    assert_int_equal(lwm2m_endpoint_send(f->ep, p, 1), LWM2M_ERR_STATE);
    dmfx_free(f);
}

static void test_send_on_change(void **state) {
    (void)state;
    struct dmfx *f = setup_fx();
    struct lwm2m_path p = P3(3303, 0, 5700);
    struct lwm2m_report_cfg cfg = {
        .send_paths = &p, .send_npaths = 1, .send_on_change = true, .send_ct = LWM2M_CT_SENML_JSON};
    assert_int_equal(lwm2m_endpoint_set_report(f->ep, &cfg), 0);
    dmfx_loop(f);
    size_t before = f->tp.n;
    set_temp(f, 35);
    set_temp(f, 36);
    dmfx_loop(f);
    assert_int_equal(f->tp.n, before + 1); /* two changes, one Send */
    dmfx_sent(f, -1);
    assert_non_null(strstr(dm_text(f), "36"));
    dmfx_free(f);
}

/* Store-and-forward with a memory-only queue: one CON at a time, in order, kept over a
 * timeout, and delivered as Send once the observation is gone. */
static void test_store_and_forward(void **state) {
    (void)state;
    struct dmfx *f = setup_fx();
    f->srv->notification_storing = true;
    struct lwm2m_report_cfg cfg = {0};
    assert_int_equal(lwm2m_endpoint_set_report(f->ep, &cfg), 0);
    struct rq q = {.code = COAP_GET,
                   .path = "3303/0/5700",
                   .has_observe = true,
                   .has_accept = true,
                   .accept = LWM2M_CT_SENML_JSON};
    assert_int_equal(dmfx_do(f, &q)->code, COAP_205_CONTENT);
    dmfx_loop(f);
    size_t before = f->tp.n;
    for (int v = 22; v <= 24; v++) {
        set_temp(f, v);
        dmfx_loop(f);
    }
    assert_int_equal(f->tp.n, before + 1); /* one in flight, the rest queued */
    assert_int_equal(f->eng->report_stats.kept, 3);
    struct lwm2m_record recs[4];
    for (int v = 22; v <= 24; v++) {
        struct coap_msg *m = dmfx_sent(f, -1);
        assert_int_equal(m->type, COAP_TYPE_CON);
        assert_int_equal(dm_decode(f, LWM2M_CT_SENML_JSON, P3(3303, 0, 5700), recs, 4), 1);
        assert_true(recs[0].value.v.f == v && recs[0].has_time);
        dmfx_answer_last(f, COAP_TYPE_ACK);
        dmfx_loop(f);
    }
    assert_int_equal(f->tp.n, before + 3);
    assert_int_equal(f->eng->report_stats.kept_delivered, 3);
    /* never acknowledged: kept, tried again after the back-off */
    set_temp(f, 25);
    dmfx_loop(f);
    uint64_t timeouts = f->eng->env.stats.timeouts;
    for (int i = 0; i < 200 && f->eng->env.stats.timeouts == timeouts; i++) {
        f->now += 1000;
        coap_endpoint_tick(f->ep->coap);
    }
    assert_true(f->eng->env.stats.timeouts > timeouts);
    size_t n = f->tp.n;
    dmfx_loop(f);
    assert_int_equal(f->tp.n, n); /* waiting */
    f->now += 10000;
    lwm2m_obs_run(f->ep);
    assert_int_equal(f->tp.n, n + 1);
    /* a new registration ends the observation: the kept value goes as Send */
    lwm2m_obs_reg_event(f->srv, LWM2M_OBS_REG_NEW);
    dmfx_answer_last(f, COAP_TYPE_RST); /* the old notification's fate no longer matters */
    dmfx_loop(f);
    struct coap_msg *m = dmfx_sent(f, -1);
    assert_int_equal(m->code, COAP_POST);
    assert_int_equal(f->eng->report_stats.kept_delivered, 3);
    dmfx_free(f);
}

/* ---- hqmax (LwM2M 1.2): the Maximum Historical Queue of one observation ---------------------- */

static void set_dimmer(struct dmfx *f, int64_t v) {
    struct lwm2m_path p = P3(3311, 0, 5851);
    tp_set(&f->prov, p, lwm2m_value_int(v));
    lwm2m_endpoint_changed(f->ep, &p);
}

/* Observes path in SenML JSON; its token into tok. */
static void observe_senml(struct dmfx *f, const char *path, uint8_t tok[2]) {
    struct rq q = {.code = COAP_GET,
                   .path = path,
                   .has_observe = true,
                   .has_accept = true,
                   .accept = LWM2M_CT_SENML_JSON};
    struct coap_msg *r = dmfx_do(f, &q);
    assert_non_null(r);
    assert_int_equal(r->code, COAP_205_CONTENT);
    assert_int_equal(r->token_len, 2);
    memcpy(tok, r->token, 2);
}

/* What reached the server: the values, each with 'A' (temperature) or 'B' (dimmer) and
 * whether it carried the time it was taken (a kept value does). */
struct got {
    double v[16];
    bool stamped[16];
    char who[17];
    size_t n;
    char last;     /* whose notification was the last to go out during the outage ... */
    double last_v; /* ... and its value: the one in flight, retransmitted until the timeout */
};

/* Decodes the notification in f->resp: its value, whose ('A' when its token is tok_a) and
 * whether it carries a time. */
static char decode_notify(struct dmfx *f, const uint8_t tok_a[2], double *v, bool *stamped) {
    bool a = memcmp(f->resp.token, tok_a, 2) == 0;
    struct lwm2m_record r[2];
    assert_int_equal(
        dm_decode(f, LWM2M_CT_SENML_JSON, a ? P3(3303, 0, 5700) : P3(3311, 0, 5851), r, 2), 1);
    *stamped = r[0].has_time;
    *v = a ? r[0].value.v.f : (double)r[0].value.v.i;
    return a ? 'A' : 'B';
}

/* Acknowledges each CON that goes out, in order, with a pass after each, until nothing more
 * does (a CON may leave from inside the previous one's ACK: one at a time per peer). */
static void drain(struct dmfx *f, const uint8_t tok_a[2], struct got *g) {
    size_t seen = f->tp.n;
    dmfx_loop(f);
    while (seen < f->tp.n && g->n < 16) {
        struct coap_msg *m = dmfx_sent(f, (long)seen++), ack;
        assert_int_equal(m->type, COAP_TYPE_CON);
        assert_int_equal(m->code, COAP_205_CONTENT);
        uint16_t mid = m->mid;
        g->who[g->n] = decode_notify(f, tok_a, &g->v[g->n], &g->stamped[g->n]);
        g->who[++g->n] = '\0';
        uint8_t buf[16];
        coap_msg_init(&ack, COAP_TYPE_ACK, 0, mid);
        int len = coap_serialize(&ack, buf, sizeof(buf));
        assert_true(len > 0);
        coap_endpoint_input(f->ep->coap, buf, (size_t)len, &f->peer);
        dmfx_loop(f);
    }
}

/* Store-and-forward with the temperature (A) observed under the attributes in query (NULL:
 * none) and the dimmer (B) without any: A changes to 1, whose CON is never acknowledged (the
 * server is gone), then 2..5 while B changes to 41..43 in between; the CON times out; then the
 * server answers an Update and the queue is emptied into g. */
static void outage(struct dmfx *f, const char *query, struct got *g) {
    uint8_t tok_a[2], tok_b[2];
    f->srv->notification_storing = true;
    struct lwm2m_report_cfg cfg = {0};
    assert_int_equal(lwm2m_endpoint_set_report(f->ep, &cfg), 0);
    if (query != NULL)
        assert_int_equal(dm_query(f, COAP_PUT, "3303/0", query), COAP_204_CHANGED);
    observe_senml(f, "3303/0/5700", tok_a);
    observe_senml(f, "3311/0/5851", tok_b);
    dmfx_loop(f);
    set_temp(f, 1);
    dmfx_loop(f);
    assert_memory_equal(dmfx_sent(f, -1)->token, tok_a, 2); /* in flight: never answered */
    for (int i = 0; i < 4; i++) {
        set_temp(f, 2 + i);
        dmfx_loop(f);
        if (i < 3) {
            set_dimmer(f, 41 + i);
            dmfx_loop(f);
        }
    }
    bool stamped;
    dmfx_sent(f, -1);
    g->last = decode_notify(f, tok_a, &g->last_v, &stamped);
    uint64_t timeouts = f->eng->env.stats.timeouts;
    for (int i = 0; i < 200 && f->eng->env.stats.timeouts == timeouts; i++) {
        f->now += 1000;
        coap_endpoint_tick(f->ep->coap);
    }
    assert_true(f->eng->env.stats.timeouts > timeouts);
    lwm2m_obs_reg_event(f->srv, LWM2M_OBS_REG_UPDATED); /* the server hears us again */
    drain(f, tok_a, g);
    assert_int_equal(lwm2m_endpoint_observations(f->ep), 2);
}

/* hqmax=2 (inherited from the instance): of A's five values only the newest two are kept and
 * delivered, the oldest dropped first (the one in flight too) and counted; B keeps all three,
 * in their places. */
static void test_hqmax_keeps_newest_of_its_observation(void **state) {
    (void)state;
    struct dmfx *f = setup_fx();
    struct got g = {0};
    outage(f, "hqmax=2", &g);
    /* A's 1 and 2 went out in turn and were dropped from the queue while in flight: their
     * retransmissions stopped, so they cannot reach the server after all */
    assert_true(g.last == 'B' && g.last_v == 41);
    assert_string_equal(g.who, "BBABA");
    static const double want[] = {41, 42, 4, 43, 5};
    for (size_t i = 0; i < 5; i++)
        assert_true(g.v[i] == want[i] && g.stamped[i]);
    const struct lwm2m_report_stats *st = &f->eng->report_stats;
    assert_int_equal(st->kept, 8);
    assert_int_equal(st->kept_hqmax, 3);
    assert_int_equal(st->kept_overflow, 0);
    assert_int_equal(st->kept_delivered, 5);
    assert_int_equal(st->kept_dropped, 0);
    dmfx_free(f);
}

/* Without hqmax nothing changes: every value of both observations arrives, in order. */
static void test_hqmax_absent_keeps_everything(void **state) {
    (void)state;
    struct dmfx *f = setup_fx();
    struct got g = {0};
    outage(f, NULL, &g);
    assert_true(g.last == 'A' && g.last_v == 1);
    assert_string_equal(g.who, "AABABABA");
    static const double want[] = {1, 2, 41, 3, 42, 4, 43, 5};
    for (size_t i = 0; i < 8; i++)
        assert_true(g.v[i] == want[i] && g.stamped[i]);
    assert_int_equal(f->eng->report_stats.kept_hqmax, 0);
    assert_int_equal(f->eng->report_stats.kept_delivered, 8);
    dmfx_free(f);
}

/* hqmax=0: A keeps no history. Its notifications go out directly (not through the queue); a CON
 * never acknowledged loses the value, not the observation; while the server is away nothing of
 * A is kept, and afterwards A's current value is notified once. B is kept as before. */
static void test_hqmax_0_keeps_no_history(void **state) {
    (void)state;
    struct dmfx *f = setup_fx();
    uint8_t tok_a[2], tok_b[2];
    f->srv->notification_storing = true;
    struct lwm2m_report_cfg cfg = {0};
    assert_int_equal(lwm2m_endpoint_set_report(f->ep, &cfg), 0);
    assert_int_equal(dm_query(f, COAP_PUT, "3303/0/5700", "hqmax=0&con=1"), COAP_204_CHANGED);
    observe_senml(f, "3303/0/5700", tok_a);
    observe_senml(f, "3311/0/5851", tok_b);
    dmfx_loop(f);
    const struct lwm2m_report_stats *st = &f->eng->report_stats;
    set_temp(f, 30);
    dmfx_loop(f);
    assert_memory_equal(dmfx_sent(f, -1)->token, tok_a, 2);
    assert_int_equal(st->kept, 0);
    uint64_t timeouts = f->eng->env.stats.timeouts;
    for (int i = 0; i < 200 && f->eng->env.stats.timeouts == timeouts; i++) {
        f->now += 1000;
        coap_endpoint_tick(f->ep->coap);
    }
    assert_int_equal(lwm2m_endpoint_observations(f->ep), 2);
    assert_int_equal(st->notify_dropped, 1);
    /* the registration is lost: A waits, B is kept */
    f->srv->state = LWM2M_REG_IDLE;
    size_t before = f->tp.n;
    set_temp(f, 31);
    dmfx_loop(f);
    set_dimmer(f, 50);
    dmfx_loop(f);
    set_temp(f, 32);
    dmfx_loop(f);
    assert_int_equal(f->tp.n, before);
    assert_int_equal(st->kept, 1);
    f->srv->state = LWM2M_REG_REGISTERED;
    lwm2m_obs_reg_event(f->srv, LWM2M_OBS_REG_UPDATED);
    struct got g = {0};
    drain(f, tok_a, &g);
    assert_int_equal(g.n, 2);
    size_t a = g.who[0] == 'A' ? 0 : 1;
    assert_int_equal(g.who[a], 'A');
    assert_true(g.v[a] == 32 && !g.stamped[a]); /* the current value, not 31, as a live one */
    assert_true(g.v[1 - a] == 50 && g.stamped[1 - a]);
    assert_int_equal(st->kept, 1);
    assert_int_equal(st->kept_delivered, 1);
    assert_int_equal(st->kept_hqmax, 0);
    dmfx_free(f);
}

/* ---- store-and-forward durability: the engine's flush (sf_flush.c) ----------------------------
 */

struct sync_count {
    size_t fsyncs, syncfs, renames;
};

static ssize_t sc_write(void *ctx, int fd, const void *buf, size_t len) {
    (void)ctx;
    return write(fd, buf, len);
}

static int sc_fsync(void *ctx, int fd) {
    ((struct sync_count *)ctx)->fsyncs++;
    return fsync(fd);
}

static int sc_rename(void *ctx, const char *from, const char *to) {
    ((struct sync_count *)ctx)->renames++;
    return rename(from, to);
}

static int sc_syncfs(void *ctx, int fd) {
    ((struct sync_count *)ctx)->syncfs++;
    return syncfs(fd);
}

/* An endpoint whose server stores, its queue in dir written every 2 s through io (counting into
 * c), the temperature observed in SenML. */
static struct dmfx *durable_fx(const char *dir, struct sync_count *c, struct lwm2m_file_io *io) {
    struct dmfx *f = setup_fx();
    *io = (struct lwm2m_file_io){
        .write = sc_write, .fsync = sc_fsync, .rename = sc_rename, .ctx = c, .syncfs = sc_syncfs};
    f->eng->keep_flush.io = io;
    f->srv->notification_storing = true;
    struct lwm2m_report_cfg cfg = {.state_dir = dir, .store_sync_ms = 2000};
    assert_int_equal(lwm2m_endpoint_set_report(f->ep, &cfg), 0);
    uint8_t tok[2];
    observe_senml(f, "3303/0/5700", tok);
    dmfx_loop(f);
    return f;
}

/* Entries in dm-test's queue file for server 1 in dir, read by the real loader. */
static size_t queued_on_disk(const char *dir) {
    struct lwm2m_sf_store *s;
    struct lwm2m_sf_cfg c = {.dir = dir, .name = "dm-test", .ssid = 1};
    assert_int_equal(lwm2m_sf_open(&c, &s, NULL, 0), 0);
    size_t n = lwm2m_sf_count(s);
    lwm2m_sf_close(s, NULL, 0);
    return n;
}

static void rm_queue_dir(const char *dir) {
    assert_int_equal(lwm2m_sf_remove(dir, "dm-test", 1), 0);
    assert_int_equal(rmdir(dir), 0); /* nothing else was left there */
}

/* Values queued over several passes are not written pass by pass: nothing reaches the disk
 * until store_sync_ms has passed since the first change, then one batch (one syncfs, one
 * directory fsync) writes them; the engine freed (a clean stop) writes the rest in one batch. */
static void test_store_written_per_interval(void **state) {
    (void)state;
    char dir[] = "/tmp/test_observe_sf.XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct sync_count c = {0};
    struct lwm2m_file_io io;
    struct dmfx *f = durable_fx(dir, &c, &io);
    for (int v = 1; v <= 4; v++) {
        set_temp(f, v);
        dmfx_loop(f);
    }
    assert_int_equal(f->eng->report_stats.kept, 4);
    assert_int_equal(c.fsyncs + c.syncfs + c.renames, 0);
    f->now += 1999;
    assert_int_equal(lwm2m_keep_flush_tick(f->eng), 0);
    assert_int_equal(c.fsyncs + c.syncfs + c.renames, 0);
    f->now += 1;
    assert_int_equal(lwm2m_keep_flush_tick(f->eng), 1);
    assert_int_equal(c.syncfs, 1);
    assert_int_equal(c.fsyncs, 1); /* the directory */
    assert_int_equal(c.renames, 1);
    assert_int_equal(queued_on_disk(dir), 4); /* the one in flight stays until acknowledged */
    set_temp(f, 5);
    dmfx_loop(f);
    assert_int_equal(c.syncfs, 1);
    dmfx_free(f);
    assert_int_equal(c.syncfs, 2);
    assert_int_equal(c.fsyncs, 2);
    assert_int_equal(queued_on_disk(dir), 5);
    rm_queue_dir(dir);
}

/* A queue closed with its endpoint (removal, servers replaced) is written at once, on its own,
 * and leaves the engine's flush: a later tick finds nothing of it. */
static void test_store_written_at_removal(void **state) {
    (void)state;
    char dir[] = "/tmp/test_observe_sf.XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct sync_count c = {0};
    struct lwm2m_file_io io;
    struct dmfx *f = durable_fx(dir, &c, &io);
    for (int v = 1; v <= 2; v++) {
        set_temp(f, v);
        dmfx_loop(f);
    }
    assert_int_equal(c.renames, 0);
    assert_int_equal(f->eng->keep_flush.dirty.n, 1);
    lwm2m_keep_free(f->ep);
    assert_int_equal(c.renames, 1);
    assert_int_equal(c.syncfs, 0);
    assert_int_equal(c.fsyncs, 2); /* the single-file write: its file, then the directory */
    assert_int_equal(f->eng->keep_flush.dirty.n, 0);
    assert_int_equal(queued_on_disk(dir), 2);
    f->now += 5000;
    assert_int_equal(lwm2m_keep_flush_tick(f->eng), 0);
    dmfx_free(f);
    assert_int_equal(c.renames, 1);
    rm_queue_dir(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_observe_first_response_and_notify),
        cmocka_unit_test(test_coalescing),
        cmocka_unit_test(test_cancel_by_observe_1),
        cmocka_unit_test(test_reobserve_replaces),
        cmocka_unit_test(test_cancel_by_rst),
        cmocka_unit_test(test_con_attribute_ack_and_failure),
        cmocka_unit_test(test_non_stream_sends_con_now_and_then),
        cmocka_unit_test(test_pmin_pmax_by_clock),
        cmocka_unit_test(test_default_pmin_from_server_object),
        cmocka_unit_test(test_gt_on_resource),
        cmocka_unit_test(test_registration_ends_observations),
        cmocka_unit_test(test_deleted_target_ends_with_404),
        cmocka_unit_test(test_observe_composite),
        cmocka_unit_test(test_send_and_mute),
        cmocka_unit_test(test_send_on_change),
        cmocka_unit_test(test_store_and_forward),
        cmocka_unit_test(test_hqmax_keeps_newest_of_its_observation),
        cmocka_unit_test(test_hqmax_absent_keeps_everything),
        cmocka_unit_test(test_hqmax_0_keeps_no_history),
        cmocka_unit_test(test_store_written_per_interval),
        cmocka_unit_test(test_store_written_at_removal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
