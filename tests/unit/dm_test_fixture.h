/* SPDX-License-Identifier: Apache-2.0 */
/* Test fixture for the Device Management tests (test_dm*.c): an engine with a real model and the
 * real registration.c, one endpoint built by hand as engine.c would (its CoAP endpoint on a mock
 * transport that captures datagrams, a mock clock), one server whose address is the mock peer,
 * and a small in-memory provider with /3/0, /3303/0, /3311/0-1, /2/0 and an empty /3300, whose
 * reads can be made stale and whose writes and executes can be made to finish later. */
#ifndef DM_TEST_FIXTURE_H
#define DM_TEST_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/event.h>

#include "engine_internal.h"
#include "lwm2m/format.h"

/* ---- Mock transport -------------------------------------------------------------------------- */

#define DMFX_MAX_SENT 64
#define DMFX_DGRAM    2048

struct dmfx_tp {
    struct coap_transport base;
    uint8_t data[DMFX_MAX_SENT][DMFX_DGRAM];
    size_t len[DMFX_MAX_SENT];
    size_t n;
};

static inline int dmfx_send(struct coap_transport *t, const uint8_t *d, size_t len,
                            const struct coap_addr *to) {
    struct dmfx_tp *m = coap_container_of(t, struct dmfx_tp, base);
    (void)to;
    assert_true(m->n < DMFX_MAX_SENT);
    assert_true(len <= DMFX_DGRAM);
    memcpy(m->data[m->n], d, len);
    m->len[m->n++] = len;
    return 0;
}

static inline int dmfx_local(const struct coap_transport *t, struct coap_addr *out) {
    (void)t;
    return coap_addr_parse(out, "127.0.0.1", 56830);
}

static inline void dmfx_close(struct coap_transport *t) {
    (void)t;
}

static const struct coap_transport_ops dmfx_tp_ops = {"mock", dmfx_send, dmfx_local, dmfx_close};

static inline uint64_t dmfx_now(void *ctx) {
    return *(uint64_t *)ctx;
}

/* ---- The in-test provider -------------------------------------------------------------------- */

#define TP_MAX_ENT  64
#define TP_MAX_INST 16
#define TP_STR      2048

struct tp_ent {
    struct lwm2m_path path;
    struct lwm2m_value v;
    bool stale;
    char buf[TP_STR]; /* string bytes */
};

struct tprov {
    const struct lwm2m_model *model;
    uint16_t objects[8];
    size_t nobjects;
    struct lwm2m_path inst[TP_MAX_INST];
    size_t ninst;
    struct tp_ent ent[TP_MAX_ENT];
    size_t nent;
    /* behaviour switches and what the engine did */
    bool async;              /* write/execute return LWM2M_ERR_AGAIN and keep the done handle */
    int fail;                /* write/execute fail with this */
    struct lwm2m_done *done; /* the handle kept */
    int writes, executes;    /* calls */
    bool last_replace;
    struct lwm2m_path last_path;
    char last_args[64];
    size_t last_nrecs;
};

static inline int tp_cmp(const void *a, const void *b) {
    return lwm2m_path_cmp(&((const struct tp_ent *)a)->path, &((const struct tp_ent *)b)->path);
}

static inline struct tp_ent *tp_find(struct tprov *t, const struct lwm2m_path *p) {
    for (size_t i = 0; i < t->nent; i++)
        if (lwm2m_path_cmp(&t->ent[i].path, p) == 0)
            return &t->ent[i];
    return NULL;
}

static inline struct tp_ent *tp_at(struct tprov *t, struct lwm2m_path p) {
    struct tp_ent *e = tp_find(t, &p);
    assert_non_null(e);
    return e;
}

static inline bool tp_bytes(uint8_t type) {
    return type == LWM2M_TYPE_STRING || type == LWM2M_TYPE_OPAQUE || type == LWM2M_TYPE_CORELNK;
}

/* Byte values live in the entry's buf; entries move (sorting), so the pointer is set on read. */
static inline void tp_set(struct tprov *t, struct lwm2m_path p, struct lwm2m_value v) {
    struct tp_ent *e = tp_find(t, &p);
    if (e == NULL) {
        assert_true(t->nent < TP_MAX_ENT);
        e = &t->ent[t->nent++];
        memset(e, 0, sizeof(*e));
        e->path = p;
    }
    if (tp_bytes(v.type)) {
        assert_true(v.v.bytes.len <= TP_STR);
        if (v.v.bytes.len > 0)
            memmove(e->buf, v.v.bytes.ptr, v.v.bytes.len);
        v.v.bytes.ptr = NULL;
    }
    e->v = v;
    qsort(t->ent, t->nent, sizeof(t->ent[0]), tp_cmp);
}

/* The stored value at p (byte values borrowed from the entry). */
static inline int tp_get(struct tprov *t, struct lwm2m_path p, struct lwm2m_value *out) {
    struct tp_ent *e = tp_find(t, &p);
    if (e == NULL)
        return LWM2M_ERR_NOTFOUND;
    *out = e->v;
    if (tp_bytes(out->type))
        out->v.bytes.ptr = (const uint8_t *)e->buf;
    return 0;
}

static inline void tp_erase(struct tprov *t, const struct lwm2m_path *prefix, bool writable) {
    size_t k = 0;
    for (size_t i = 0; i < t->nent; i++) {
        const struct lwm2m_resource_def *rd = lwm2m_model_path_resource(t->model, &t->ent[i].path);
        bool gone = lwm2m_path_has_prefix(&t->ent[i].path, prefix) &&
                    (!writable || (rd != NULL && lwm2m_resource_allows(rd, LWM2M_OP_W)));
        if (!gone)
            t->ent[k++] = t->ent[i];
    }
    t->nent = k;
}

static inline bool tp_has_inst(struct tprov *t, uint16_t oid, uint16_t iid) {
    for (size_t i = 0; i < t->ninst; i++)
        if (t->inst[i].ids[0] == oid && t->inst[i].ids[1] == iid)
            return true;
    return false;
}

static inline int tp_path_cmp(const void *a, const void *b) {
    return lwm2m_path_cmp(a, b);
}

static inline void tp_add_inst(struct tprov *t, uint16_t oid, uint16_t iid) {
    assert_true(t->ninst < TP_MAX_INST);
    t->inst[t->ninst++] = lwm2m_path_make(2, oid, iid, 0, 0);
    qsort(t->inst, t->ninst, sizeof(t->inst[0]), tp_path_cmp);
}

static inline int tp_list_objects(void *pctx, lwm2m_id_fn fn, void *fctx) {
    struct tprov *t = pctx;
    for (size_t i = 0; i < t->nobjects; i++) {
        int rc = fn(fctx, t->objects[i]);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static inline int tp_list_instances(void *pctx, uint16_t oid, lwm2m_id_fn fn, void *fctx) {
    struct tprov *t = pctx;
    for (size_t i = 0; i < t->ninst; i++) {
        if (t->inst[i].ids[0] != oid)
            continue;
        int rc = fn(fctx, t->inst[i].ids[1]);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Distinct ids at depth prefix->len under prefix, ascending (entries are sorted). */
static inline int tp_children(struct tprov *t, const struct lwm2m_path *prefix, lwm2m_id_fn fn,
                              void *fctx) {
    int last = -1;
    for (size_t i = 0; i < t->nent; i++) {
        const struct lwm2m_path *p = &t->ent[i].path;
        if (p->len <= prefix->len || !lwm2m_path_has_prefix(p, prefix) ||
            p->ids[prefix->len] == last)
            continue;
        last = p->ids[prefix->len];
        int rc = fn(fctx, (uint16_t)last);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static inline int tp_list_resources(void *pctx, uint16_t oid, uint16_t iid, lwm2m_id_fn fn,
                                    void *fctx) {
    struct lwm2m_path p = lwm2m_path_make(2, oid, iid, 0, 0);
    if (!tp_has_inst(pctx, oid, iid))
        return LWM2M_ERR_NOTFOUND;
    return tp_children(pctx, &p, fn, fctx);
}

static inline int tp_list_res_instances(void *pctx, const struct lwm2m_path *p, lwm2m_id_fn fn,
                                        void *fctx) {
    return tp_children(pctx, p, fn, fctx);
}

static inline int tp_read(void *pctx, const struct lwm2m_path *p, struct lwm2m_value *out) {
    struct tp_ent *e = tp_find(pctx, p);
    if (e != NULL && e->stale)
        return LWM2M_ERR_AGAIN;
    return tp_get(pctx, *p, out);
}

static inline int tp_write(void *pctx, const struct lwm2m_path *p, const struct lwm2m_record *recs,
                           size_t n, bool replace, struct lwm2m_done *d) {
    struct tprov *t = pctx;
    t->writes++;
    t->last_path = *p;
    t->last_replace = replace;
    t->last_nrecs = n;
    if (t->fail != 0)
        return t->fail;
    if (replace)
        tp_erase(t, p, true);
    for (size_t i = 0; i < n; i++)
        tp_set(t, recs[i].path, recs[i].value);
    if (t->async) {
        t->done = d;
        return LWM2M_ERR_AGAIN;
    }
    return 0;
}

static inline int tp_execute(void *pctx, const struct lwm2m_path *p, const char *args, size_t len,
                             struct lwm2m_done *d) {
    struct tprov *t = pctx;
    t->executes++;
    t->last_path = *p;
    snprintf(t->last_args, sizeof(t->last_args), "%.*s", (int)len, args);
    if (t->fail != 0)
        return t->fail;
    if (t->async) {
        t->done = d;
        return LWM2M_ERR_AGAIN;
    }
    return 0;
}

static inline int tp_create(void *pctx, uint16_t oid, uint16_t iid, const struct lwm2m_record *recs,
                            size_t n) {
    struct tprov *t = pctx;
    if (tp_has_inst(t, oid, iid))
        return LWM2M_ERR_STATE;
    tp_add_inst(t, oid, iid);
    for (size_t i = 0; i < n; i++)
        tp_set(t, recs[i].path, recs[i].value);
    return 0;
}

static inline int tp_remove(void *pctx, uint16_t oid, uint16_t iid) {
    struct tprov *t = pctx;
    struct lwm2m_path p = lwm2m_path_make(2, oid, iid, 0, 0);
    size_t k = 0;
    if (!tp_has_inst(t, oid, iid))
        return LWM2M_ERR_NOTFOUND;
    for (size_t i = 0; i < t->ninst; i++)
        if (lwm2m_path_cmp(&t->inst[i], &p) != 0)
            t->inst[k++] = t->inst[i];
    t->ninst = k;
    tp_erase(t, &p, false);
    return 0;
}

static const struct lwm2m_provider tp_provider = {
    .list_objects = tp_list_objects,
    .list_instances = tp_list_instances,
    .list_resources = tp_list_resources,
    .list_res_instances = tp_list_res_instances,
    .read = tp_read,
    .write = tp_write,
    .execute = tp_execute,
    .create = tp_create,
    .remove = tp_remove,
};

#define P2(o, i)        lwm2m_path_make(2, o, i, 0, 0)
#define P3(o, i, r)     lwm2m_path_make(3, o, i, r, 0)
#define P4(o, i, r, ri) lwm2m_path_make(4, o, i, r, ri)

static inline void tp_str(struct tprov *t, struct lwm2m_path p, const char *s) {
    tp_set(t, p, lwm2m_value_string(s, strlen(s)));
}

/* The data every test starts from. */
static inline void tp_fill(struct tprov *t) {
    static const uint16_t objs[] = {2, 3, 3300, 3303, 3311};
    memcpy(t->objects, objs, sizeof(objs));
    t->nobjects = sizeof(objs) / sizeof(objs[0]);
    tp_add_inst(t, 2, 0);
    tp_add_inst(t, 3, 0);
    tp_add_inst(t, 3303, 0);
    tp_add_inst(t, 3311, 0);
    tp_add_inst(t, 3311, 1);
    tp_set(t, P3(2, 0, 0), lwm2m_value_int(3));
    tp_set(t, P3(2, 0, 1), lwm2m_value_int(0));
    tp_set(t, P4(2, 0, 2, 1), lwm2m_value_int(15));
    tp_set(t, P3(2, 0, 3), lwm2m_value_int(1));
    tp_str(t, P3(3, 0, 0), "Acme");
    tp_str(t, P3(3, 0, 1), "Model-X");
    tp_str(t, P3(3, 0, 2), "SN-123");
    tp_set(t, P3(3, 0, 4), (struct lwm2m_value){.type = LWM2M_TYPE_NONE});
    tp_set(t, P4(3, 0, 6, 0), lwm2m_value_int(1));
    tp_set(t, P4(3, 0, 6, 1), lwm2m_value_int(5));
    tp_set(t, P3(3, 0, 13), lwm2m_value_time(1700000000));
    tp_set(t, P3(3303, 0, 5700), lwm2m_value_float(21.5));
    tp_str(t, P3(3303, 0, 5701), "Cel");
    tp_set(t, P3(3311, 0, 5850), lwm2m_value_bool(false));
    tp_set(t, P3(3311, 0, 5851), lwm2m_value_int(40));
    tp_set(t, P3(3311, 1, 5850), lwm2m_value_bool(true));
}

/* ---- The fixture ----------------------------------------------------------------------------- */

struct dmfx {
    struct event_base *base;
    struct lwm2m_model *model;
    struct lwm2m_engine *eng;
    struct lwm2m_endpoint *ep;
    struct lwm2m_server *srv;
    struct dmfx_tp tp;
    struct coap_clock clock;
    uint64_t now;
    struct coap_addr peer, stranger;
    struct tprov prov;
    uint16_t mid;
    struct coap_msg resp; /* the last datagram sent, parsed by dmfx_sent() */
    char text[DMFX_DGRAM + 1];
    uint8_t scratch[DMFX_DGRAM];
};

static inline void dmfx_server(struct dmfx *f, struct lwm2m_server *s, uint8_t version) {
    s->ep = f->ep;
    s->addr = f->peer;
    s->uri = strdup("coap://192.0.2.1:5683");
    s->ssid = 1;
    s->index = 0;
    s->state = LWM2M_REG_REGISTERED;
    s->version = s->version_max = version;
    s->sec_mode = LWM2M_SEC_NOSEC;
    snprintf(s->binding, sizeof(s->binding), "U");
    snprintf(s->reg_binding, sizeof(s->reg_binding), "U");
    snprintf(s->location, sizeof(s->location), "rd/5");
    s->lifetime = s->reg_lifetime = 300;
    s->default_pmin = 1;
    s->default_pmax = 60;
    s->disable_timeout = 86400;
    s->timer = evtimer_new(f->base, lwm2m_reg_timer, s);
    assert_non_null(s->uri);
    assert_non_null(s->timer);
}

/* An engine and one endpoint with one server speaking LwM2M 1.version. */
static inline struct dmfx *dmfx_new(uint8_t version) {
    struct dmfx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->base = event_base_new();
    assert_non_null(f->base);
    assert_int_equal(lwm2m_model_new(&f->model), 0);
    lwm2m_model_seal(f->model);
    f->now = 5000000;
    f->clock = (struct coap_clock){dmfx_now, dmfx_now, &f->now};
    struct lwm2m_engine_cfg cfg = {.base = f->base, .clock = &f->clock, .model = f->model};
    assert_int_equal(lwm2m_engine_new(&cfg, &f->eng), 0);
    assert_int_equal(coap_addr_parse(&f->peer, "192.0.2.1", 5683), 0);
    assert_int_equal(coap_addr_parse(&f->stranger, "192.0.2.9", 5683), 0);
    f->prov.model = f->model;
    tp_fill(&f->prov);
    f->tp.base.ops = &dmfx_tp_ops;

    struct lwm2m_endpoint *ep = calloc(1, sizeof(*ep));
    assert_non_null(ep);
    ep->eng = f->eng;
    ep->name = strdup("dm-test");
    ep->prov = &tp_provider;
    ep->pctx = &f->prov;
    ep->tp = &f->tp.base;
    ep->servers = calloc(1, sizeof(*ep->servers));
    ep->nservers = 1;
    ep->next = f->eng->head;
    f->eng->head = ep;
    f->eng->nendpoints++;
    f->ep = ep;
    f->srv = &ep->servers[0];
    dmfx_server(f, f->srv, version);
    assert_int_equal(coap_endpoint_new(&f->eng->env, ep->tp, lwm2m_dm_handle, ep, &ep->coap), 0);
    return f;
}

static inline void dmfx_free(struct dmfx *f) {
    lwm2m_engine_free(f->eng); /* frees the endpoint, its server timers and the DM store */
    lwm2m_model_free(f->model);
    event_base_free(f->base);
    free(f);
}

/* A request: options are present only when their has_ flag is set. */
struct rq {
    uint8_t code;
    const char *path;  /* "3/0/1" */
    const char *query; /* "pmin=1&gt=2" */
    bool has_cf, has_accept, has_observe, non;
    uint32_t cf, accept, observe;
    const void *payload;
    size_t len;
    const struct coap_addr *from;
};

/* Parses sent datagram i (negative: from the end) into f->resp. */
static inline struct coap_msg *dmfx_sent(struct dmfx *f, long i) {
    size_t idx = i < 0 ? (size_t)((long)f->tp.n + i) : (size_t)i;
    assert_true(idx < f->tp.n);
    assert_int_equal(coap_parse(&f->resp, f->tp.data[idx], f->tp.len[idx]), 0);
    return &f->resp;
}

/* Feeds the request to the endpoint; returns the datagram it answered with (NULL if none). */
static inline struct coap_msg *dmfx_do(struct dmfx *f, const struct rq *q) {
    struct coap_msg m;
    uint8_t tok[2] = {0xD0, (uint8_t)++f->mid}, buf[DMFX_DGRAM];
    char qbuf[256];
    size_t before = f->tp.n;
    coap_msg_init(&m, q->non ? COAP_TYPE_NON : COAP_TYPE_CON, q->code, f->mid);
    coap_msg_set_token(&m, tok, sizeof(tok));
    assert_int_equal(coap_msg_add_path(&m, COAP_OPT_URI_PATH, q->path), 0);
    if (q->query != NULL) {
        snprintf(qbuf, sizeof(qbuf), "%s", q->query);
        for (char *s = strtok(qbuf, "&"); s != NULL; s = strtok(NULL, "&"))
            assert_int_equal(coap_msg_add_opt(&m, COAP_OPT_URI_QUERY, s, strlen(s)), 0);
    }
    if (q->has_cf)
        coap_msg_add_opt_uint(&m, COAP_OPT_CONTENT_FORMAT, q->cf);
    if (q->has_accept)
        coap_msg_add_opt_uint(&m, COAP_OPT_ACCEPT, q->accept);
    if (q->has_observe)
        coap_msg_add_opt_uint(&m, COAP_OPT_OBSERVE, q->observe);
    coap_msg_set_payload(&m, q->payload, q->len);
    int n = coap_serialize(&m, buf, sizeof(buf));
    assert_true(n > 0);
    coap_endpoint_input(f->ep->coap, buf, (size_t)n, q->from != NULL ? q->from : &f->peer);
    return f->tp.n > before ? dmfx_sent(f, (long)before) : NULL;
}

/* One loop pass: the deferred observe/Send event runs if anything was marked. */
static inline void dmfx_loop(struct dmfx *f) {
    event_base_loop(f->base, EVLOOP_NONBLOCK);
}

/* An empty ACK or RST (type) for the datagram sent last. */
static inline void dmfx_answer_last(struct dmfx *f, uint8_t type) {
    struct coap_msg *n = dmfx_sent(f, -1), m;
    uint8_t buf[16];
    coap_msg_init(&m, type, 0, n->mid);
    int len = coap_serialize(&m, buf, sizeof(buf));
    assert_true(len > 0);
    coap_endpoint_input(f->ep->coap, buf, (size_t)len, &f->peer);
}

/* Answers the last CON request (an Update, a Send) with a piggybacked code. */
static inline void dmfx_answer_request(struct dmfx *f, uint8_t code) {
    struct coap_msg *req = dmfx_sent(f, -1), m;
    uint8_t buf[64];
    assert_int_equal(req->code, COAP_POST);
    coap_msg_init(&m, COAP_TYPE_ACK, code, req->mid);
    coap_msg_set_token(&m, req->token, req->token_len);
    int len = coap_serialize(&m, buf, sizeof(buf));
    assert_true(len > 0);
    coap_endpoint_input(f->ep->coap, buf, (size_t)len, &f->peer);
}

static inline uint32_t dmfx_opt(const struct coap_msg *m, uint16_t num) {
    uint32_t v = 0;
    assert_int_equal(coap_msg_opt_uint(m, num, &v), 0);
    return v;
}

/* Shorthands for the common requests. They return the response code and leave the parsed
 * response in f->resp. */
static inline uint8_t dm_get(struct dmfx *f, const char *path, int accept) {
    struct rq q = {.code = COAP_GET,
                   .path = path,
                   .has_accept = accept >= 0,
                   .accept = accept >= 0 ? (uint32_t)accept : 0};
    struct coap_msg *r = dmfx_do(f, &q);
    assert_non_null(r);
    return r->code;
}

static inline uint8_t dm_send(struct dmfx *f, uint8_t code, const char *path, int cf,
                              const void *payload, size_t len) {
    struct rq q = {.code = code,
                   .path = path,
                   .has_cf = cf >= 0,
                   .cf = cf >= 0 ? (uint32_t)cf : 0,
                   .payload = payload,
                   .len = len};
    struct coap_msg *r = dmfx_do(f, &q);
    assert_non_null(r);
    return r->code;
}

static inline uint8_t dm_send_str(struct dmfx *f, uint8_t code, const char *path, int cf,
                                  const char *payload) {
    return dm_send(f, code, path, cf, payload, strlen(payload));
}

static inline uint8_t dm_query(struct dmfx *f, uint8_t code, const char *path, const char *query) {
    struct rq q = {.code = code, .path = path, .query = query};
    struct coap_msg *r = dmfx_do(f, &q);
    assert_non_null(r);
    return r->code;
}

/* The response payload as a NUL-terminated string. */
static inline const char *dm_text(struct dmfx *f) {
    if (f->resp.payload_len > 0)
        memcpy(f->text, f->resp.payload, f->resp.payload_len);
    f->text[f->resp.payload_len] = '\0';
    return f->text;
}

/* Types for decoding responses (TLV carries none). */
static inline enum lwm2m_type lwm2m_src_type_of_test(void *ctx, const struct lwm2m_path *p) {
    enum lwm2m_type t = LWM2M_TYPE_NONE;
    return lwm2m_model_resource_type(ctx, p, &t) == 0 ? t : LWM2M_TYPE_NONE;
}

/* Decodes the response payload (format ct, request path req) into out; returns the count. */
static inline size_t dm_decode(struct dmfx *f, unsigned ct, struct lwm2m_path req,
                               struct lwm2m_record *out, size_t max) {
    struct lwm2m_decode_cfg cfg = {.ct = ct,
                                   .req = req,
                                   .type_of = lwm2m_src_type_of_test,
                                   .type_ctx = f->model,
                                   .scratch = f->scratch,
                                   .scratch_cap = sizeof(f->scratch)};
    size_t n = 0;
    assert_int_equal(lwm2m_decode_all(&cfg, f->resp.payload, f->resp.payload_len, out, max, &n), 0);
    return n;
}

/* The record at path p in recs, or fails the test. */
static inline const struct lwm2m_record *dm_rec(const struct lwm2m_record *recs, size_t n,
                                                struct lwm2m_path p) {
    for (size_t i = 0; i < n; i++)
        if (lwm2m_path_cmp(&recs[i].path, &p) == 0)
            return &recs[i];
    fail_msg("no record for the path");
    return NULL;
}

#define CODE(c, d) COAP_CODE(c, d)

#endif /* DM_TEST_FIXTURE_H */
