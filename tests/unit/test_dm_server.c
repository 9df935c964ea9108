/* SPDX-License-Identifier: Apache-2.0 */
/* The engine's own objects through the DM interface: Security (0) refused with 4.01 for every
 * operation (TS Core 1.1.1 §6.3), and the Server object (1) read, written and executed, with
 * the real registration.c sending the Update (lifetime, binding, trigger) or De-register
 * (Disable) that follows, after the 2.04. */
#include "dm_test_fixture.h"

static int setup(void **state) {
    *state = dmfx_new(1);
    return 0;
}

static int teardown(void **state) {
    dmfx_free(*state);
    return 0;
}

static void test_security_refused(void **state) {
    struct dmfx *f = *state;
    struct rq disc = {.code = COAP_GET, .path = "0", .has_accept = true, .accept = LWM2M_CT_LINK};
    struct rq obs = {.code = COAP_GET, .path = "0/0/0", .has_observe = true, .observe = 0};
    assert_int_equal(dm_get(f, "0", -1), COAP_401_UNAUTHORIZED);
    assert_int_equal(dm_get(f, "0/0", LWM2M_CT_TLV), COAP_401_UNAUTHORIZED);
    assert_int_equal(dm_get(f, "0/0/0", -1), COAP_401_UNAUTHORIZED);
    assert_int_equal(dm_get(f, "0/9/99", -1), COAP_401_UNAUTHORIZED); /* exists or not */
    assert_int_equal(dmfx_do(f, &disc)->code, COAP_401_UNAUTHORIZED);
    assert_int_equal(dmfx_do(f, &obs)->code, COAP_401_UNAUTHORIZED);
    assert_int_equal(dm_send_str(f, COAP_PUT, "0/0/0", LWM2M_CT_TEXT, "coap://x"),
                     COAP_401_UNAUTHORIZED);
    assert_int_equal(dm_send(f, COAP_POST, "0/0", LWM2M_CT_TLV, NULL, 0), COAP_401_UNAUTHORIZED);
    assert_int_equal(dm_send(f, COAP_POST, "0", LWM2M_CT_TLV, NULL, 0), COAP_401_UNAUTHORIZED);
    assert_int_equal(dm_send(f, COAP_POST, "0/0/1", -1, NULL, 0), COAP_401_UNAUTHORIZED);
    assert_int_equal(dm_send(f, COAP_DELETE, "0/0", -1, NULL, 0), COAP_401_UNAUTHORIZED);
    assert_int_equal(dm_query(f, COAP_PUT, "0/0", "pmin=1"), COAP_401_UNAUTHORIZED);
    /* OSCORE (21) likewise. */
    assert_int_equal(dm_get(f, "21/0", -1), COAP_401_UNAUTHORIZED);
    /* And /0 is never listed: not in a Discover of anything, not in the object walk. */
    struct rq all = {.code = COAP_FETCH,
                     .path = "",
                     .has_cf = true,
                     .cf = LWM2M_CT_SENML_JSON,
                     .payload = "[{\"n\":\"/\"}]",
                     .len = 11};
    assert_int_equal(dmfx_do(f, &all)->code, COAP_205_CONTENT);
    assert_null(strstr(dm_text(f), "\"/0/"));
    assert_non_null(strstr(dm_text(f), "/1/0/"));
}

/* The datagram before last is our 2.04, the last one the Update it caused. */
static const char *update_query(struct dmfx *f) {
    char *q = f->text;
    struct coap_msg *m = dmfx_sent(f, -2);
    assert_int_equal(m->type, COAP_TYPE_ACK);
    assert_int_equal(m->code, COAP_204_CHANGED);
    m = dmfx_sent(f, -1);
    assert_int_equal(m->type, COAP_TYPE_CON);
    assert_int_equal(m->code, COAP_POST);
    char path[16];
    assert_true(coap_msg_path(m, COAP_OPT_URI_PATH, path, sizeof(path)) > 0);
    assert_string_equal(path, "rd/5");
    const struct coap_option *o = coap_msg_opt(m, COAP_OPT_URI_QUERY);
    snprintf(q, sizeof(f->text), "%.*s", o != NULL ? (int)o->len : 0,
             o != NULL ? (char *)o->val : "");
    return q;
}

static void test_lifetime_write(void **state) {
    struct dmfx *f = *state;
    assert_int_equal(dm_send_str(f, COAP_PUT, "1/0/1", LWM2M_CT_TEXT, "600"), COAP_204_CHANGED);
    assert_int_equal(f->srv->lifetime, 600);
    assert_string_equal(update_query(f), "lt=600");
    assert_int_equal(f->srv->state, LWM2M_REG_UPDATING);
    size_t n = f->tp.n;
    assert_int_equal(dm_send_str(f, COAP_PUT, "1/0/1", LWM2M_CT_TEXT, "0"), COAP_400_BAD_REQUEST);
    assert_int_equal(dm_send_str(f, COAP_PUT, "1/0/1", LWM2M_CT_TEXT, "-5"), COAP_400_BAD_REQUEST);
    assert_int_equal(dm_send_str(f, COAP_PUT, "1/0/1", LWM2M_CT_TEXT, "4294967296"),
                     COAP_400_BAD_REQUEST);
    assert_int_equal(f->srv->lifetime, 600);
    assert_int_equal(f->tp.n, n + 3); /* three answers, no Update */
}

static void test_binding_write(void **state) {
    struct dmfx *f = *state;
    assert_int_equal(dm_send_str(f, COAP_PUT, "1/0/7", LWM2M_CT_TEXT, "T"), COAP_400_BAD_REQUEST);
    assert_int_equal(dm_send_str(f, COAP_PUT, "1/0/7", LWM2M_CT_TEXT, "UQS"), COAP_400_BAD_REQUEST);
    assert_string_equal(f->srv->binding, "U");
    assert_int_equal(dm_send_str(f, COAP_PUT, "1/0/7", LWM2M_CT_TEXT, "UQ"), COAP_204_CHANGED);
    assert_string_equal(f->srv->binding, "UQ");
    update_query(f); /* an Update went out */
}

/* Several resources at once, all or nothing; nothing the server must hear about. */
static void test_server_partial(void **state) {
    struct dmfx *f = *state;
    const char *ok =
        "[{\"bn\":\"/1/0/\",\"n\":\"2\",\"v\":10},{\"n\":\"3\",\"v\":120},"
        "{\"n\":\"5\",\"v\":3600},{\"n\":\"6\",\"vb\":true},{\"n\":\"23\",\"vb\":true}]";
    const char *bad = "[{\"bn\":\"/1/0/\",\"n\":\"2\",\"v\":99},{\"n\":\"7\",\"vs\":\"X\"}]";
    size_t n = f->tp.n;
    assert_int_equal(dm_send_str(f, COAP_POST, "1/0", LWM2M_CT_SENML_JSON, ok), COAP_204_CHANGED);
    assert_int_equal(f->tp.n, n + 1);
    assert_int_equal(f->srv->default_pmin, 10);
    assert_int_equal(f->srv->default_pmax, 120);
    assert_int_equal(f->srv->disable_timeout, 3600);
    assert_true(f->srv->notification_storing);
    assert_true(f->srv->mute_send);
    assert_int_equal(dm_send_str(f, COAP_POST, "1/0", LWM2M_CT_SENML_JSON, bad),
                     COAP_400_BAD_REQUEST);
    assert_int_equal(f->srv->default_pmin, 10);
    /* Read-only, absent and unknown-instance targets. */
    assert_int_equal(dm_send_str(f, COAP_PUT, "1/0/0", LWM2M_CT_TEXT, "7"),
                     COAP_405_METHOD_NOT_ALLOWED);
    assert_int_equal(dm_send_str(f, COAP_PUT, "1/0/17", LWM2M_CT_TEXT, "7"), COAP_404_NOT_FOUND);
    assert_int_equal(dm_send_str(f, COAP_PUT, "1/3/1", LWM2M_CT_TEXT, "7"), COAP_404_NOT_FOUND);
    assert_int_equal(dm_send_str(f, COAP_PUT, "1/0/23", LWM2M_CT_TEXT, "0"), COAP_204_CHANGED);
    assert_false(f->srv->mute_send);
    /* Attributes on the Server object are fine. */
    assert_int_equal(dm_query(f, COAP_PUT, "1/0/1", "pmin=10"), COAP_204_CHANGED);
}

static void test_update_trigger(void **state) {
    struct dmfx *f = *state;
    assert_int_equal(dm_send(f, COAP_POST, "1/0/8", -1, NULL, 0), COAP_204_CHANGED);
    assert_string_equal(update_query(f), ""); /* nothing changed: a bare Update */
    assert_int_equal(dm_send(f, COAP_POST, "1/0/9", -1, NULL, 0), COAP_404_NOT_FOUND);
    assert_int_equal(dm_send_str(f, COAP_POST, "1/0/8", -1, "x"), COAP_400_BAD_REQUEST);
}

/* Disable: 2.04, then De-register; the server stays disabled for the Disable Timeout. */
static void test_disable(void **state) {
    struct dmfx *f = *state;
    assert_int_equal(dm_send(f, COAP_POST, "1/0/4", -1, NULL, 0), COAP_204_CHANGED);
    struct coap_msg *m = dmfx_sent(f, -1);
    char path[16];
    assert_int_equal(m->code, COAP_DELETE);
    assert_true(coap_msg_path(m, COAP_OPT_URI_PATH, path, sizeof(path)) > 0);
    assert_string_equal(path, "rd/5");
    assert_int_equal(dmfx_sent(f, -2)->code, COAP_204_CHANGED);
    assert_int_equal(f->srv->state, LWM2M_REG_DISABLED);
    assert_int_equal(f->srv->disable_timeout, 86400);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_security_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lifetime_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_binding_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_partial, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update_trigger, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disable, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
