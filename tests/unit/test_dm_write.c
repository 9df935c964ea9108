/* SPDX-License-Identifier: Apache-2.0 */
/* Device Management dispatch, changing side: Write replace and partial update in text, TLV,
 * SenML JSON and SenML CBOR (multiple resources included), the 4.0x/4.15 answers, Execute with
 * its argument grammar, Create with and without an instance id, Delete, Write-Composite (all or
 * nothing), and writes/executes the provider finishes later (deferred CoAP answers). */
#include "dm_test_fixture.h"
#include "dm_internal.h"

static int setup(void **state) {
    *state = dmfx_new(1);
    return 0;
}

static int teardown(void **state) {
    dmfx_free(*state);
    return 0;
}

static struct lwm2m_value val(struct dmfx *f, struct lwm2m_path p) {
    struct lwm2m_value v = {0};
    assert_int_equal(tp_get(&f->prov, p, &v), 0);
    return v;
}

static void test_write_text(void **state) {
    struct dmfx *f = *state;
    assert_int_equal(dm_send_str(f, COAP_PUT, "3/0/13", LWM2M_CT_TEXT, "1700000100"),
                     COAP_204_CHANGED);
    assert_int_equal(val(f, P3(3, 0, 13)).v.i, 1700000100);
    assert_int_equal(val(f, P3(3, 0, 13)).type, LWM2M_TYPE_TIME);
    assert_true(f->prov.last_replace);
    assert_int_equal(dm_send_str(f, COAP_PUT, "3311/0/5851", LWM2M_CT_TEXT, "75"),
                     COAP_204_CHANGED);
    assert_int_equal(val(f, P3(3311, 0, 5851)).v.i, 75);
    assert_int_equal(dm_send_str(f, COAP_PUT, "3311/1/5850", LWM2M_CT_TEXT, "0"), COAP_204_CHANGED);
    assert_false(val(f, P3(3311, 1, 5850)).v.b);
}

static void test_write_errors(void **state) {
    struct dmfx *f = *state;
    static const uint8_t tlv_ro[] = {0xC4, 0x00, 'N', 'e', 'w', '!'}; /* /3/0/0 = "New!" */
    static const uint8_t tlv_unk[] = {0xE1, 0x27, 0x0F, 0x01};        /* resource 9999 */
    int writes = f->prov.writes;
    /* 4.05: not writable, and no Write on an object. */
    assert_int_equal(dm_send_str(f, COAP_PUT, "3/0/0", LWM2M_CT_TEXT, "x"),
                     COAP_405_METHOD_NOT_ALLOWED);
    assert_int_equal(dm_send(f, COAP_POST, "3/0", LWM2M_CT_TLV, tlv_ro, sizeof(tlv_ro)),
                     COAP_405_METHOD_NOT_ALLOWED);
    assert_int_equal(dm_send_str(f, COAP_PUT, "3311", LWM2M_CT_SENML_JSON, "[]"),
                     COAP_405_METHOD_NOT_ALLOWED);
    /* 4.00: no Content-Format, a payload that does not decode, a value out of range. */
    assert_int_equal(dm_send_str(f, COAP_PUT, "3/0/13", -1, "1700000100"), COAP_400_BAD_REQUEST);
    assert_int_equal(dm_send_str(f, COAP_PUT, "3/0/13", LWM2M_CT_TEXT, "abc"),
                     COAP_400_BAD_REQUEST);
    assert_int_equal(dm_send_str(f, COAP_PUT, "3311/0/5850", LWM2M_CT_TEXT, "2"),
                     COAP_400_BAD_REQUEST);
    assert_int_equal(dm_send_str(f, COAP_PUT, "3311/0/5851", LWM2M_CT_TEXT, "150"),
                     COAP_400_BAD_REQUEST);
    assert_int_equal(dm_send_str(f, COAP_PUT, "3311/0", LWM2M_CT_SENML_JSON, "[{\"n\":"),
                     COAP_400_BAD_REQUEST);
    /* 4.15: a format we do not know, or one that cannot carry the target. */
    assert_int_equal(dm_send_str(f, COAP_PUT, "3/0/13", 9999, "1"),
                     COAP_415_UNSUPPORTED_CONTENT_FORMAT);
    assert_int_equal(dm_send_str(f, COAP_POST, "3311/0", LWM2M_CT_TEXT, "1"),
                     COAP_415_UNSUPPORTED_CONTENT_FORMAT);
    assert_int_equal(dm_send_str(f, COAP_PUT, "3/0/13", LWM2M_CT_OPAQUE, "1"),
                     COAP_415_UNSUPPORTED_CONTENT_FORMAT);
    /* 4.04: unknown targets, and a resource the model does not know in the payload. */
    assert_int_equal(dm_send_str(f, COAP_PUT, "3311/7/5850", LWM2M_CT_TEXT, "1"),
                     COAP_404_NOT_FOUND);
    assert_int_equal(dm_send_str(f, COAP_PUT, "3311/0/5852", LWM2M_CT_TEXT, "1"),
                     COAP_404_NOT_FOUND);
    assert_int_equal(dm_send(f, COAP_POST, "3311/0", LWM2M_CT_TLV, tlv_unk, sizeof(tlv_unk)),
                     COAP_404_NOT_FOUND);
    assert_int_equal(f->prov.writes, writes); /* none reached the provider */
    /* The provider's own failure. */
    f->prov.fail = LWM2M_ERR_IO;
    assert_int_equal(dm_send_str(f, COAP_PUT, "3311/0/5850", LWM2M_CT_TEXT, "1"),
                     COAP_502_BAD_GATEWAY);
}

/* POST on an instance updates the resources given and leaves the others (§6.3.3). */
static void test_write_partial_tlv(void **state) {
    struct dmfx *f = *state;
    static const uint8_t tlv[] = {0xE1, 0x16, 0xDA, 0x01}; /* 5850 (0x16DA) = true */
    assert_int_equal(dm_send(f, COAP_POST, "3311/0", LWM2M_CT_TLV, tlv, sizeof(tlv)),
                     COAP_204_CHANGED);
    assert_false(f->prov.last_replace);
    assert_int_equal(f->prov.last_path.len, 2);
    assert_true(val(f, P3(3311, 0, 5850)).v.b);
    assert_int_equal(val(f, P3(3311, 0, 5851)).v.i, 40);
}

/* PUT on an instance replaces it: writable resources absent from the payload go. */
static void test_write_replace_senml(void **state) {
    struct dmfx *f = *state;
    const char *json = "[{\"bn\":\"/3311/0/\",\"n\":\"5850\",\"vb\":true}]";
    assert_int_equal(dm_send_str(f, COAP_PUT, "3311/0", LWM2M_CT_SENML_JSON, json),
                     COAP_204_CHANGED);
    assert_true(f->prov.last_replace);
    assert_true(val(f, P3(3311, 0, 5850)).v.b);
    assert_null(tp_find(&f->prov, &(struct lwm2m_path){.ids = {3311, 0, 5851}, .len = 3}));
    /* SenML CBOR: [{0: "/3311/1/5850", 4: false}] */
    static const uint8_t cbor[] = {0x81, 0xA2, 0x00, 0x6C, '/', '3', '3', '1',  '1',
                                   '/',  '1',  '/',  '5',  '8', '5', '0', 0x04, 0xF4};
    assert_int_equal(dm_send(f, COAP_PUT, "3311/1/5850", LWM2M_CT_SENML_CBOR, cbor, sizeof(cbor)),
                     COAP_204_CHANGED);
    assert_false(val(f, P3(3311, 1, 5850)).v.b);
}

/* A multiple resource: PUT replaces all its instances, POST adds or replaces some. */
static void test_write_multiple(void **state) {
    struct dmfx *f = *state;
    static const uint8_t put[] = {0x86, 0x02, 0x41, 0x00, 0x07, 0x41, 0x05, 0x01};
    static const uint8_t post[] = {0x83, 0x02, 0x41, 0x03, 0x02};
    assert_int_equal(dm_send(f, COAP_PUT, "2/0/2", LWM2M_CT_TLV, put, sizeof(put)),
                     COAP_204_CHANGED);
    assert_true(f->prov.last_replace);
    assert_int_equal(f->prov.last_nrecs, 2);
    assert_int_equal(val(f, P4(2, 0, 2, 0)).v.i, 7);
    assert_int_equal(val(f, P4(2, 0, 2, 5)).v.i, 1);
    assert_int_equal(tp_get(&f->prov, P4(2, 0, 2, 1), &(struct lwm2m_value){0}),
                     LWM2M_ERR_NOTFOUND);
    assert_int_equal(dm_send(f, COAP_POST, "2/0/2", LWM2M_CT_TLV, post, sizeof(post)),
                     COAP_204_CHANGED);
    assert_false(f->prov.last_replace);
    assert_int_equal(val(f, P4(2, 0, 2, 3)).v.i, 2);
    assert_int_equal(val(f, P4(2, 0, 2, 0)).v.i, 7);
    /* One resource instance in text; a value out of the ACL range 0..31. */
    assert_int_equal(dm_send_str(f, COAP_PUT, "2/0/2/5", LWM2M_CT_TEXT, "9"), COAP_204_CHANGED);
    assert_int_equal(val(f, P4(2, 0, 2, 5)).v.i, 9);
    assert_int_equal(dm_send_str(f, COAP_PUT, "2/0/2/5", LWM2M_CT_TEXT, "32"),
                     COAP_400_BAD_REQUEST);
}

static void test_execute(void **state) {
    struct dmfx *f = *state;
    assert_int_equal(dm_send_str(f, COAP_POST, "3/0/4", -1, "0='abc',1"), COAP_204_CHANGED);
    assert_int_equal(f->prov.executes, 1);
    assert_string_equal(f->prov.last_args, "0='abc',1");
    assert_int_equal(dm_send(f, COAP_POST, "3/0/4", -1, NULL, 0), COAP_204_CHANGED);
    assert_string_equal(f->prov.last_args, "");
    assert_int_equal(dm_send_str(f, COAP_POST, "3/0/4", LWM2M_CT_TEXT, "5,2='10.3'"),
                     COAP_204_CHANGED);
    /* Malformed arguments (grammar of §6.3.5). */
    static const char *bad[] = {"0=abc", "12", "a", "0='x", "0,", ",0", "0='a b'", "0=''x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(dm_send_str(f, COAP_POST, "3/0/4", -1, bad[i]), COAP_400_BAD_REQUEST);
    assert_int_equal(f->prov.executes, 3);
    /* Not executable, not a resource, wrong format, absent. */
    assert_int_equal(dm_send(f, COAP_POST, "3/0/0", -1, NULL, 0), COAP_405_METHOD_NOT_ALLOWED);
    assert_int_equal(dm_send(f, COAP_POST, "3/0/4/0", -1, NULL, 0), COAP_405_METHOD_NOT_ALLOWED);
    assert_int_equal(dm_send_str(f, COAP_POST, "3/0/4", LWM2M_CT_OPAQUE, "0"),
                     COAP_415_UNSUPPORTED_CONTENT_FORMAT);
    assert_int_equal(dm_send(f, COAP_POST, "3/0/5", -1, NULL, 0), COAP_404_NOT_FOUND);
    assert_true(lwm2m_dm_exec_args_valid((const uint8_t *)"0,1,2,3,4", 9));
    assert_true(lwm2m_dm_exec_args_valid((const uint8_t *)"7,0='https://www.oma.org'", 25));
}

/* After the 2.01 the endpoint sends an Update carrying the new object list. */
static void assert_update_sent(struct dmfx *f) {
    struct coap_msg *m = dmfx_sent(f, -1);
    char path[32];
    assert_int_equal(m->type, COAP_TYPE_CON);
    assert_int_equal(m->code, COAP_POST);
    assert_true(coap_msg_path(m, COAP_OPT_URI_PATH, path, sizeof(path)) > 0);
    assert_string_equal(path, "rd/5");
    assert_true(m->payload_len > 0);
}

static void test_create(void **state) {
    struct dmfx *f = *state;
    static const uint8_t with_id[] = {0x04, 0x05, 0xE1, 0x16, 0xDA, 0x01};
    static const uint8_t without_id[] = {0xE1, 0x16, 0xDA, 0x00};
    char loc[32];
    size_t before = f->tp.n;
    assert_int_equal(dm_send(f, COAP_POST, "3311", LWM2M_CT_TLV, with_id, sizeof(with_id)),
                     COAP_201_CREATED);
    assert_int_equal(coap_msg_path(&f->resp, COAP_OPT_LOCATION_PATH, loc, sizeof(loc)), 6);
    assert_string_equal(loc, "3311/5");
    assert_true(val(f, P3(3311, 5, 5850)).v.b);
    assert_int_equal(f->tp.n, before + 2);
    assert_update_sent(f);
    /* No id: the lowest free one (0, 1 and 5 exist). */
    assert_int_equal(dm_send(f, COAP_POST, "3311", LWM2M_CT_TLV, without_id, sizeof(without_id)),
                     COAP_201_CREATED);
    assert_int_equal(coap_msg_path(&f->resp, COAP_OPT_LOCATION_PATH, loc, sizeof(loc)), 6);
    assert_string_equal(loc, "3311/2");
    assert_false(val(f, P3(3311, 2, 5850)).v.b);
    /* SenML names carry the id. */
    assert_int_equal(dm_send_str(f, COAP_POST, "3311", LWM2M_CT_SENML_JSON,
                                 "[{\"n\":\"/3311/7/5851\",\"v\":12}]"),
                     COAP_201_CREATED);
    assert_int_equal(val(f, P3(3311, 7, 5851)).v.i, 12);
    /* Empty payload: an instance without resources. */
    assert_int_equal(dm_send(f, COAP_POST, "3311", LWM2M_CT_TLV, NULL, 0), COAP_201_CREATED);
    assert_int_equal(coap_msg_path(&f->resp, COAP_OPT_LOCATION_PATH, loc, sizeof(loc)), 6);
    assert_string_equal(loc, "3311/3");
}

static void test_create_errors(void **state) {
    struct dmfx *f = *state;
    static const uint8_t with_id[] = {0x04, 0x01, 0xE1, 0x16, 0xDA, 0x01};
    static const uint8_t bad_value[] = {0x04, 0x05, 0xE1, 0x16, 0xDB, 0x7F}; /* dimmer 127 */
    assert_int_equal(dm_send(f, COAP_POST, "3311", LWM2M_CT_TLV, with_id, sizeof(with_id)),
                     COAP_400_BAD_REQUEST); /* already exists */
    assert_int_equal(dm_send(f, COAP_POST, "3311", LWM2M_CT_TLV, bad_value, sizeof(bad_value)),
                     COAP_400_BAD_REQUEST);
    assert_int_equal(dm_send(f, COAP_POST, "3311", -1, with_id, sizeof(with_id)),
                     COAP_400_BAD_REQUEST);
    assert_int_equal(dm_send_str(f, COAP_POST, "3311", LWM2M_CT_TEXT, "1"),
                     COAP_415_UNSUPPORTED_CONTENT_FORMAT);
    assert_int_equal(dm_send(f, COAP_POST, "3", LWM2M_CT_TLV, NULL, 0),
                     COAP_405_METHOD_NOT_ALLOWED); /* single-instance */
    assert_int_equal(dm_send(f, COAP_POST, "1", LWM2M_CT_TLV, NULL, 0),
                     COAP_405_METHOD_NOT_ALLOWED);
    assert_int_equal(dm_send(f, COAP_POST, "3305", LWM2M_CT_TLV, NULL, 0), COAP_404_NOT_FOUND);
    assert_int_equal(dm_send(f, COAP_POST, "9999", LWM2M_CT_TLV, NULL, 0), COAP_404_NOT_FOUND);
    assert_int_equal(f->prov.ninst, 5);
}

static void test_delete(void **state) {
    struct dmfx *f = *state;
    assert_int_equal(dm_query(f, COAP_PUT, "3311/1", "pmin=5"), COAP_204_CHANGED);
    assert_int_equal(f->ep->nattrs, 1);
    assert_int_equal(dm_send(f, COAP_DELETE, "3311/1", -1, NULL, 0), COAP_202_DELETED);
    assert_false(tp_has_inst(&f->prov, 3311, 1));
    assert_int_equal(f->ep->nattrs, 0); /* its attributes went with it */
    assert_update_sent(f);
    assert_int_equal(dm_send(f, COAP_DELETE, "3311/1", -1, NULL, 0), COAP_404_NOT_FOUND);
    assert_int_equal(dm_send(f, COAP_DELETE, "3311", -1, NULL, 0), COAP_405_METHOD_NOT_ALLOWED);
    assert_int_equal(dm_send(f, COAP_DELETE, "3311/0/5850", -1, NULL, 0),
                     COAP_405_METHOD_NOT_ALLOWED);
    assert_int_equal(dm_send(f, COAP_DELETE, "", -1, NULL, 0), COAP_405_METHOD_NOT_ALLOWED);
    assert_int_equal(dm_send(f, COAP_DELETE, "3/0", -1, NULL, 0), COAP_405_METHOD_NOT_ALLOWED);
    assert_int_equal(dm_send(f, COAP_DELETE, "1/0", -1, NULL, 0), COAP_405_METHOD_NOT_ALLOWED);
    assert_true(tp_has_inst(&f->prov, 3, 0));
}

static uint8_t ipatch(struct dmfx *f, int cf, const char *payload) {
    struct rq q = {.code = COAP_IPATCH,
                   .path = "",
                   .has_cf = cf >= 0,
                   .cf = (uint32_t)cf,
                   .payload = payload,
                   .len = strlen(payload)};
    return dmfx_do(f, &q)->code;
}

static void test_write_composite(void **state) {
    struct dmfx *f = *state;
    const char *ok = "[{\"n\":\"/3311/0/5850\",\"vb\":true},{\"n\":\"/3/0/13\",\"v\":5},"
                     "{\"n\":\"/1/0/2\",\"v\":7},{\"n\":\"/3311/1/5850\",\"vb\":false}]";
    assert_int_equal(ipatch(f, LWM2M_CT_SENML_JSON, ok), COAP_204_CHANGED);
    assert_true(val(f, P3(3311, 0, 5850)).v.b);
    assert_false(val(f, P3(3311, 1, 5850)).v.b);
    assert_int_equal(val(f, P3(3, 0, 13)).v.i, 5);
    assert_int_equal(f->srv->default_pmin, 7);
    assert_false(f->prov.last_replace);
    /* All or nothing: one bad record and nothing is written. */
    int writes = f->prov.writes;
    const char *ro = "[{\"n\":\"/3311/0/5850\",\"vb\":false},{\"n\":\"/3/0/0\",\"vs\":\"x\"}]";
    const char *missing = "[{\"n\":\"/3311/0/5850\",\"vb\":false},{\"n\":\"/3311/4/5850\","
                          "\"vb\":true}]";
    const char *range = "[{\"n\":\"/3311/0/5850\",\"vb\":false},{\"n\":\"/3311/0/5851\","
                        "\"v\":101}]";
    const char *sec = "[{\"n\":\"/0/0/1\",\"vb\":false}]";
    assert_int_equal(ipatch(f, LWM2M_CT_SENML_JSON, ro), COAP_405_METHOD_NOT_ALLOWED);
    assert_int_equal(ipatch(f, LWM2M_CT_SENML_JSON, missing), COAP_404_NOT_FOUND);
    assert_int_equal(ipatch(f, LWM2M_CT_SENML_JSON, range), COAP_400_BAD_REQUEST);
    assert_int_equal(ipatch(f, LWM2M_CT_SENML_JSON, sec), COAP_401_UNAUTHORIZED);
    assert_int_equal(ipatch(f, LWM2M_CT_TLV, ok), COAP_415_UNSUPPORTED_CONTENT_FORMAT);
    assert_int_equal(ipatch(f, -1, ok), COAP_400_BAD_REQUEST);
    assert_int_equal(f->prov.writes, writes);
    assert_true(val(f, P3(3311, 0, 5850)).v.b);
}

/* The provider finishes later: the answer waits for lwm2m_done(), piggy-backed while the CON
 * has not been acknowledged yet. */
static void test_async_piggyback(void **state) {
    struct dmfx *f = *state;
    f->prov.async = true;
    struct rq q = {
        .code = COAP_PUT, .path = "3311/0/5850", .has_cf = true, .cf = 0, .payload = "1", .len = 1};
    assert_null(dmfx_do(f, &q));
    assert_non_null(f->prov.done);
    lwm2m_done(f->prov.done, 0);
    struct coap_msg *m = dmfx_sent(f, -1);
    assert_int_equal(m->type, COAP_TYPE_ACK);
    assert_int_equal(m->code, COAP_204_CHANGED);
    assert_int_equal(m->mid, f->mid);
    assert_int_equal(f->tp.n, 1);
    /* An execute, failing later. */
    f->prov.done = NULL;
    assert_null(dmfx_do(f, &(struct rq){.code = COAP_POST, .path = "3/0/4"}));
    lwm2m_done(f->prov.done, LWM2M_ERR_STATE);
    assert_int_equal(dmfx_sent(f, -1)->code, COAP_405_METHOD_NOT_ALLOWED);
}

/* Slower than defer_ack_ms: an empty ACK first, then the answer as a separate CON response. */
static void test_async_separate(void **state) {
    struct dmfx *f = *state;
    f->prov.async = true;
    struct rq q = {.code = COAP_POST,
                   .path = "3311/0",
                   .has_cf = true,
                   .cf = LWM2M_CT_SENML_JSON,
                   .payload = "[{\"n\":\"/3311/0/5851\",\"v\":1}]"};
    q.len = strlen(q.payload);
    assert_null(dmfx_do(f, &q));
    f->now += 1500;
    coap_endpoint_tick(f->ep->coap);
    struct coap_msg *m = dmfx_sent(f, -1);
    assert_int_equal(m->type, COAP_TYPE_ACK);
    assert_int_equal(m->code, COAP_EMPTY);
    lwm2m_done(f->prov.done, LWM2M_ERR_TIMEOUT);
    m = dmfx_sent(f, -1);
    assert_int_equal(m->type, COAP_TYPE_CON);
    assert_int_equal(m->code, COAP_504_GATEWAY_TIMEOUT);
    assert_int_equal(m->token_len, 2);
    assert_int_equal(m->token[1], (uint8_t)f->mid);
}

/* The endpoint goes away while the provider still holds the handle: completing it later only
 * frees it (the sanitizer build checks that nothing dangling is touched). */
static void test_async_endpoint_gone(void **state) {
    struct dmfx *f = *state;
    f->prov.async = true;
    struct rq q = {
        .code = COAP_PUT, .path = "3311/0/5850", .has_cf = true, .cf = 0, .payload = "1", .len = 1};
    assert_null(dmfx_do(f, &q));
    struct lwm2m_done *d = f->prov.done;
    lwm2m_endpoint_free(f->ep);
    f->ep = NULL;
    lwm2m_done(d, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_write_text, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_partial_tlv, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_replace_senml, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_multiple, setup, teardown),
        cmocka_unit_test_setup_teardown(test_execute, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_composite, setup, teardown),
        cmocka_unit_test_setup_teardown(test_async_piggyback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_async_separate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_async_endpoint_gone, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
