/* SPDX-License-Identifier: Apache-2.0 */
/* Device Management dispatch, Read side: Read of objects, instances, resources and resource
 * instances in text, TLV, CBOR, SenML JSON/CBOR and LwM2M CBOR (decoded back, and exact bytes
 * where the specification's encoding is fixed), default formats per LwM2M version, the 4.0x
 * answers, stale values, Block2 for big bodies, Read-Composite and the error map. */
#include "dm_test_fixture.h"

static int setup11(void **state) {
    *state = dmfx_new(1);
    return 0;
}

static int setup10(void **state) {
    *state = dmfx_new(0);
    return 0;
}

static int teardown(void **state) {
    dmfx_free(*state);
    return 0;
}

static void test_read_text(void **state) {
    struct dmfx *f = *state;
    assert_int_equal(dm_get(f, "3/0/0", -1), COAP_205_CONTENT);
    assert_int_equal(dmfx_opt(&f->resp, COAP_OPT_CONTENT_FORMAT), LWM2M_CT_TEXT);
    assert_string_equal(dm_text(f), "Acme");
    assert_int_equal(f->resp.type, COAP_TYPE_ACK);
    assert_int_equal(dm_get(f, "3303/0/5700", LWM2M_CT_TEXT), COAP_205_CONTENT);
    assert_string_equal(dm_text(f), "21.5");
    assert_int_equal(dm_get(f, "3/0/13", -1), COAP_205_CONTENT);
    assert_string_equal(dm_text(f), "1700000000");
    /* A resource instance is a single value too. */
    assert_int_equal(dm_get(f, "3/0/6/1", -1), COAP_205_CONTENT);
    assert_string_equal(dm_text(f), "5");
    assert_int_equal(dm_get(f, "3/0/6/1", LWM2M_CT_TEXT), COAP_205_CONTENT);
    assert_int_equal(dmfx_opt(&f->resp, COAP_OPT_CONTENT_FORMAT), LWM2M_CT_TEXT);
    assert_string_equal(dm_text(f), "5");
    /* The legacy text number is accepted as an Accept. */
    assert_int_equal(dm_get(f, "3/0/1", LWM2M_CT_LEGACY_TEXT), COAP_205_CONTENT);
    assert_string_equal(dm_text(f), "Model-X");
}

/* LwM2M 1.1 and later: several values default to SenML CBOR (format.h, TS Core 1.1.1 §7.4). */
static void test_read_instance_default_11(void **state) {
    struct dmfx *f = *state;
    struct lwm2m_record r[16];
    assert_int_equal(dm_get(f, "3/0", -1), COAP_205_CONTENT);
    assert_int_equal(dmfx_opt(&f->resp, COAP_OPT_CONTENT_FORMAT), LWM2M_CT_SENML_CBOR);
    size_t n = dm_decode(f, LWM2M_CT_SENML_CBOR, P2(3, 0), r, 16);
    /* 0, 1, 2, 6/0, 6/1, 13: the executable 4 takes no part in a Read. */
    assert_int_equal(n, 6);
    assert_memory_equal(dm_rec(r, n, P3(3, 0, 0))->value.v.bytes.ptr, "Acme", 4);
    assert_int_equal(dm_rec(r, n, P4(3, 0, 6, 1))->value.v.i, 5);
    assert_int_equal(dm_rec(r, n, P3(3, 0, 13))->value.v.i, 1700000000);
}

/* LwM2M 1.0: TLV ("The LwM2M Client MUST support the TLV data format", 1.0.2 §6.4). */
static void test_read_instance_default_10(void **state) {
    struct dmfx *f = *state;
    struct lwm2m_record r[16];
    assert_int_equal(dm_get(f, "3303/0", -1), COAP_205_CONTENT);
    assert_int_equal(dmfx_opt(&f->resp, COAP_OPT_CONTENT_FORMAT), LWM2M_CT_TLV);
    size_t n = dm_decode(f, LWM2M_CT_TLV, P2(3303, 0), r, 16);
    assert_int_equal(n, 2);
    assert_true(dm_rec(r, n, P3(3303, 0, 5700))->value.v.f == 21.5);
    assert_int_equal(dm_get(f, "3303/0/5701", -1), COAP_205_CONTENT);
    assert_string_equal(dm_text(f), "Cel");
}

/* Exact bytes: a multiple resource in TLV (TS Core 1.1.1 §7.4.3: type 0b10 "Multiple
 * Resource", 8-bit id, the length 6 in the type byte's 3 low bits: 0x86 0x06, then two Resource
 * Instance TLVs 0x41 id value) and a Float as CBOR (60): 21.5 is exact in a half, f9 4d60. */
static void test_read_exact_bytes(void **state) {
    struct dmfx *f = *state;
    static const uint8_t tlv[] = {0x86, 0x06, 0x41, 0x00, 0x01, 0x41, 0x01, 0x05};
    static const uint8_t cbor[] = {0xf9, 0x4d, 0x60};
    assert_int_equal(dm_get(f, "3/0/6", LWM2M_CT_TLV), COAP_205_CONTENT);
    assert_int_equal(dmfx_opt(&f->resp, COAP_OPT_CONTENT_FORMAT), LWM2M_CT_TLV);
    assert_int_equal(f->resp.payload_len, sizeof(tlv));
    assert_memory_equal(f->resp.payload, tlv, sizeof(tlv));
    assert_int_equal(dm_get(f, "3303/0/5700", LWM2M_CT_CBOR), COAP_205_CONTENT);
    assert_int_equal(dmfx_opt(&f->resp, COAP_OPT_CONTENT_FORMAT), LWM2M_CT_CBOR);
    assert_int_equal(f->resp.payload_len, sizeof(cbor));
    assert_memory_equal(f->resp.payload, cbor, sizeof(cbor));
}

static void test_read_object_formats(void **state) {
    struct dmfx *f = *state;
    struct lwm2m_record r[16];
    static const unsigned cts[] = {LWM2M_CT_SENML_JSON, LWM2M_CT_SENML_CBOR, LWM2M_CT_LWM2M_CBOR,
                                   LWM2M_CT_TLV};
    for (size_t i = 0; i < sizeof(cts) / sizeof(cts[0]); i++) {
        assert_int_equal(dm_get(f, "3311", (int)cts[i]), COAP_205_CONTENT);
        assert_int_equal(dmfx_opt(&f->resp, COAP_OPT_CONTENT_FORMAT), cts[i]);
        size_t n = dm_decode(f, cts[i], lwm2m_path_make(1, 3311, 0, 0, 0), r, 16);
        assert_int_equal(n, 3);
        assert_false(dm_rec(r, n, P3(3311, 0, 5850))->value.v.b);
        assert_int_equal(dm_rec(r, n, P3(3311, 0, 5851))->value.v.i, 40);
        assert_true(dm_rec(r, n, P3(3311, 1, 5850))->value.v.b);
    }
    /* A multiple resource and a resource instance in SenML JSON. */
    assert_int_equal(dm_get(f, "3/0/6", LWM2M_CT_SENML_JSON), COAP_205_CONTENT);
    assert_int_equal(dm_decode(f, LWM2M_CT_SENML_JSON, P3(3, 0, 6), r, 16), 2);
    assert_int_equal(dm_get(f, "3/0/6/0", LWM2M_CT_SENML_JSON), COAP_205_CONTENT);
    assert_int_equal(dm_decode(f, LWM2M_CT_SENML_JSON, P4(3, 0, 6, 0), r, 16), 1);
    assert_int_equal(r[0].value.v.i, 1);
}

/* "the response payload may be empty, for instance when performing a Read operation on an
 * Object with no Object Instance. In this case the response code is still 2.05 Content." */
static void test_read_empty_object(void **state) {
    struct dmfx *f = *state;
    assert_int_equal(dm_get(f, "3300", -1), COAP_205_CONTENT);
    assert_int_equal(f->resp.payload_len, 0);
    assert_int_equal(dm_get(f, "3300", LWM2M_CT_SENML_JSON), COAP_205_CONTENT);
    assert_int_equal(f->resp.payload_len, 0);
}

static void test_read_errors(void **state) {
    struct dmfx *f = *state;
    /* 4.04: unknown object, instance, resource (absent or not in the model), instance. */
    assert_int_equal(dm_get(f, "9999", -1), COAP_404_NOT_FOUND);
    assert_int_equal(dm_get(f, "3305", -1), COAP_404_NOT_FOUND); /* known, not exposed */
    assert_int_equal(dm_get(f, "3303/7", -1), COAP_404_NOT_FOUND);
    assert_int_equal(dm_get(f, "3/1", -1), COAP_404_NOT_FOUND);
    assert_int_equal(dm_get(f, "3/0/3", -1), COAP_404_NOT_FOUND);
    assert_int_equal(dm_get(f, "3/0/999", -1), COAP_404_NOT_FOUND);
    assert_int_equal(dm_get(f, "3/0/6/9", -1), COAP_404_NOT_FOUND);
    assert_int_equal(dm_get(f, "3/0/0/0", -1), COAP_404_NOT_FOUND); /* instance of a single */
    assert_int_equal(dm_get(f, "rd/x", -1), COAP_404_NOT_FOUND);
    /* 4.05: not readable, and the root. */
    assert_int_equal(dm_get(f, "3/0/4", -1), COAP_405_METHOD_NOT_ALLOWED);
    assert_int_equal(dm_get(f, "", -1), COAP_405_METHOD_NOT_ALLOWED);
    /* 4.06: an unknown format, and formats that cannot carry the target. */
    assert_int_equal(dm_get(f, "3/0/0", 9999), COAP_406_NOT_ACCEPTABLE);
    assert_int_equal(dm_get(f, "3/0", LWM2M_CT_TEXT), COAP_406_NOT_ACCEPTABLE);
    assert_int_equal(dm_get(f, "3/0/6", LWM2M_CT_TEXT), COAP_406_NOT_ACCEPTABLE);
    assert_int_equal(dm_get(f, "3/0/0", LWM2M_CT_OPAQUE), COAP_406_NOT_ACCEPTABLE);
    assert_int_equal(dm_get(f, "3/0", LWM2M_CT_CBOR), COAP_406_NOT_ACCEPTABLE);
    /* Other methods. */
    assert_int_equal(dm_send(f, COAP_PATCH, "3/0", -1, NULL, 0), COAP_405_METHOD_NOT_ALLOWED);
}

static void test_read_stale(void **state) {
    struct dmfx *f = *state;
    tp_at(&f->prov, P3(3303, 0, 5700))->stale = true;
    assert_int_equal(dm_get(f, "3303/0/5700", -1), COAP_503_SERVICE_UNAVAILABLE);
    assert_int_equal(dm_get(f, "3303/0", -1), COAP_503_SERVICE_UNAVAILABLE);
    assert_int_equal(dm_get(f, "3303/0/5701", -1), COAP_205_CONTENT);
}

/* Only the endpoint's own servers are answered; others get 4.01 whatever they ask. */
static void test_unknown_peer(void **state) {
    struct dmfx *f = *state;
    struct rq q = {.code = COAP_GET, .path = "3/0/0", .from = &f->stranger};
    assert_int_equal(dmfx_do(f, &q)->code, COAP_401_UNAUTHORIZED);
    q.code = COAP_DELETE;
    q.path = "3311/0";
    assert_int_equal(dmfx_do(f, &q)->code, COAP_401_UNAUTHORIZED);
    assert_int_equal(f->prov.ninst, 5);
}

/* A body bigger than one block is retried with a bigger buffer and sent with Block2. */
static void test_read_large(void **state) {
    struct dmfx *f = *state;
    char big[1800];
    memset(big, 'x', sizeof(big));
    tp_set(&f->prov, P3(3, 0, 1), lwm2m_value_string(big, sizeof(big)));
    assert_int_equal(dm_get(f, "3/0", LWM2M_CT_SENML_JSON), COAP_205_CONTENT);
    struct coap_block b;
    assert_int_equal(coap_msg_block(&f->resp, COAP_OPT_BLOCK2, &b), 1);
    assert_int_equal(b.num, 0);
    assert_true(b.more);
    assert_int_equal(f->resp.payload_len, COAP_BLOCK_SIZE(b.szx));
    /* The text form is just as long. */
    assert_int_equal(dm_get(f, "3/0/1", -1), COAP_205_CONTENT);
    assert_int_equal(coap_msg_block(&f->resp, COAP_OPT_BLOCK2, &b), 1);
}

/* Observe is not established yet (observe.c, M3): the answer is a plain Read, no Observe. */
/* GET with Observe=0 is routed to observe.c: the answer is the current value carrying the
 * Observe option (the rest of the observation's life is tested in test_observe.c). */
static void test_read_observe_routed(void **state) {
    struct dmfx *f = *state;
    struct rq q = {.code = COAP_GET, .path = "3303/0/5700", .has_observe = true, .observe = 0};
    assert_int_equal(dmfx_do(f, &q)->code, COAP_205_CONTENT);
    assert_non_null(coap_msg_opt(&f->resp, COAP_OPT_OBSERVE));
    assert_string_equal(dm_text(f), "21.5");
}

static void test_read_server_object(void **state) {
    struct dmfx *f = *state;
    struct lwm2m_record r[16];
    assert_int_equal(dm_get(f, "1/0/1", -1), COAP_205_CONTENT);
    assert_string_equal(dm_text(f), "300");
    assert_int_equal(dm_get(f, "1/0/7", -1), COAP_205_CONTENT);
    assert_string_equal(dm_text(f), "U");
    assert_int_equal(dm_get(f, "1/0", LWM2M_CT_SENML_JSON), COAP_205_CONTENT);
    size_t n = dm_decode(f, LWM2M_CT_SENML_JSON, P2(1, 0), r, 16);
    assert_int_equal(n, 8); /* 0 1 2 3 5 6 7 23 */
    assert_int_equal(dm_rec(r, n, P3(1, 0, 0))->value.v.i, 1);
    assert_int_equal(dm_rec(r, n, P3(1, 0, 3))->value.v.i, 60);
    assert_int_equal(dm_rec(r, n, P3(1, 0, 5))->value.v.i, 86400);
    assert_int_equal(dm_get(f, "1/1", -1), COAP_404_NOT_FOUND);
    assert_int_equal(dm_get(f, "1/0/8", -1), COAP_405_METHOD_NOT_ALLOWED);
}

static void test_read_composite(void **state) {
    struct dmfx *f = *state;
    struct lwm2m_record r[16];
    /* Paths are sorted, covered ones merged, missing ones left out. */
    const char *req = "[{\"n\":\"/3303/0/5700\"},{\"n\":\"/3/0/0\"},{\"n\":\"/3311/9/5850\"},"
                      "{\"n\":\"/3311/1\"},{\"n\":\"/3311/1/5850\"}]";
    struct rq q = {.code = COAP_FETCH,
                   .path = "",
                   .has_cf = true,
                   .cf = LWM2M_CT_SENML_JSON,
                   .payload = req,
                   .len = strlen(req)};
    assert_int_equal(dmfx_do(f, &q)->code, COAP_205_CONTENT);
    assert_int_equal(dmfx_opt(&f->resp, COAP_OPT_CONTENT_FORMAT), LWM2M_CT_SENML_JSON);
    size_t n = dm_decode(f, LWM2M_CT_SENML_JSON, lwm2m_path_make(0, 0, 0, 0, 0), r, 16);
    assert_int_equal(n, 3);
    assert_true(dm_rec(r, n, P3(3303, 0, 5700))->value.v.f == 21.5);
    assert_true(dm_rec(r, n, P3(3311, 1, 5850))->value.v.b);
    /* The answer in another format. */
    q.has_accept = true;
    q.accept = LWM2M_CT_LWM2M_CBOR;
    assert_int_equal(dmfx_do(f, &q)->code, COAP_205_CONTENT);
    assert_int_equal(dmfx_opt(&f->resp, COAP_OPT_CONTENT_FORMAT), LWM2M_CT_LWM2M_CBOR);
    assert_int_equal(dm_decode(f, LWM2M_CT_LWM2M_CBOR, lwm2m_path_make(0, 0, 0, 0, 0), r, 16), 3);
}

static void test_read_composite_errors(void **state) {
    struct dmfx *f = *state;
    const char *sec = "[{\"n\":\"/3/0/0\"},{\"n\":\"/0/0/0\"}]";
    const char *bad = "[{\"n\":\"/3/0/0\"";
    struct rq q = {.code = COAP_FETCH,
                   .path = "",
                   .has_cf = true,
                   .cf = LWM2M_CT_SENML_JSON,
                   .payload = sec,
                   .len = strlen(sec)};
    assert_int_equal(dmfx_do(f, &q)->code, COAP_401_UNAUTHORIZED);
    q.payload = bad;
    q.len = strlen(bad);
    assert_int_equal(dmfx_do(f, &q)->code, COAP_400_BAD_REQUEST);
    q.cf = LWM2M_CT_TLV;
    assert_int_equal(dmfx_do(f, &q)->code, COAP_415_UNSUPPORTED_CONTENT_FORMAT);
    q.has_cf = false;
    assert_int_equal(dmfx_do(f, &q)->code, COAP_400_BAD_REQUEST);
    q.has_cf = true;
    q.cf = LWM2M_CT_SENML_JSON;
    q.payload = sec;
    q.len = strlen(sec);
    q.has_accept = true;
    q.accept = LWM2M_CT_TLV;
    assert_int_equal(dmfx_do(f, &q)->code, COAP_406_NOT_ACCEPTABLE);
    q.path = "3";
    assert_int_equal(dmfx_do(f, &q)->code, COAP_405_METHOD_NOT_ALLOWED);
}

/* What observe.c (M3) will call to build a notification. */
static void test_read_encode_api(void **state) {
    struct dmfx *f = *state;
    uint8_t *body = NULL;
    size_t len = 0;
    uint16_t ct = 0;
    struct lwm2m_path p = P3(3303, 0, 5700);
    assert_int_equal(lwm2m_dm_read_encode(f->ep, f->srv, &p, -1, &body, &len, &ct), 0);
    assert_int_equal(ct, LWM2M_CT_TEXT);
    assert_int_equal(len, 4);
    assert_memory_equal(body, "21.5", 4);
    free(body);
    p = P2(3, 0);
    assert_int_equal(lwm2m_dm_read_encode(f->ep, f->srv, &p, LWM2M_CT_SENML_CBOR, &body, &len, &ct),
                     0);
    assert_int_equal(ct, LWM2M_CT_SENML_CBOR);
    assert_true(len > 20);
    free(body);
    p = P3(3, 0, 4);
    assert_int_equal(lwm2m_dm_read_encode(f->ep, f->srv, &p, -1, &body, &len, &ct),
                     LWM2M_DM_ERR_NOT_ALLOWED);
    assert_null(body);
}

static void test_err_map(void **state) {
    (void)state;
    assert_int_equal(lwm2m_err_to_coap(0, LWM2M_DM_OP_READ), COAP_205_CONTENT);
    assert_int_equal(lwm2m_err_to_coap(0, LWM2M_DM_OP_WRITE), COAP_204_CHANGED);
    assert_int_equal(lwm2m_err_to_coap(0, LWM2M_DM_OP_CREATE), COAP_201_CREATED);
    assert_int_equal(lwm2m_err_to_coap(0, LWM2M_DM_OP_DELETE), COAP_202_DELETED);
    assert_int_equal(lwm2m_err_to_coap(0, LWM2M_DM_OP_DISCOVER), COAP_205_CONTENT);
    assert_int_equal(lwm2m_err_to_coap(LWM2M_ERR_NOTFOUND, LWM2M_DM_OP_READ), COAP_404_NOT_FOUND);
    assert_int_equal(lwm2m_err_to_coap(LWM2M_ERR_AGAIN, LWM2M_DM_OP_READ),
                     COAP_503_SERVICE_UNAVAILABLE);
    assert_int_equal(lwm2m_err_to_coap(LWM2M_ERR_STATE, LWM2M_DM_OP_CREATE), COAP_400_BAD_REQUEST);
    assert_int_equal(lwm2m_err_to_coap(LWM2M_ERR_NOSPACE, LWM2M_DM_OP_WRITE),
                     COAP_413_REQUEST_ENTITY_TOO_LARGE);
    assert_int_equal(lwm2m_err_to_coap(LWM2M_ERR_NOSPACE, LWM2M_DM_OP_READ),
                     COAP_500_INTERNAL_SERVER_ERROR);
    assert_int_equal(lwm2m_err_to_coap(LWM2M_ERR_TIMEOUT, LWM2M_DM_OP_WRITE),
                     COAP_504_GATEWAY_TIMEOUT);
    assert_int_equal(lwm2m_err_to_coap(LWM2M_DM_ERR_UNAUTHORIZED, LWM2M_DM_OP_WRITE),
                     COAP_401_UNAUTHORIZED);
    assert_int_equal(lwm2m_err_to_coap(-1000, LWM2M_DM_OP_WRITE), COAP_500_INTERNAL_SERVER_ERROR);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_read_text, setup11, teardown),
        cmocka_unit_test_setup_teardown(test_read_instance_default_11, setup11, teardown),
        cmocka_unit_test_setup_teardown(test_read_instance_default_10, setup10, teardown),
        cmocka_unit_test_setup_teardown(test_read_exact_bytes, setup11, teardown),
        cmocka_unit_test_setup_teardown(test_read_object_formats, setup11, teardown),
        cmocka_unit_test_setup_teardown(test_read_empty_object, setup11, teardown),
        cmocka_unit_test_setup_teardown(test_read_errors, setup11, teardown),
        cmocka_unit_test_setup_teardown(test_read_stale, setup11, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_peer, setup11, teardown),
        cmocka_unit_test_setup_teardown(test_read_large, setup11, teardown),
        cmocka_unit_test_setup_teardown(test_read_observe_routed, setup11, teardown),
        cmocka_unit_test_setup_teardown(test_read_server_object, setup11, teardown),
        cmocka_unit_test_setup_teardown(test_read_composite, setup11, teardown),
        cmocka_unit_test_setup_teardown(test_read_composite_errors, setup11, teardown),
        cmocka_unit_test_setup_teardown(test_read_encode_api, setup11, teardown),
        cmocka_unit_test(test_err_map),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
