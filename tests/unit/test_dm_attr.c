/* SPDX-License-Identifier: Apache-2.0 */
/* Discover and Write-Attributes: the link lists of objects, instances and resources (ver, dim,
 * depth, resource instances for 1.1), attributes per level with the resource target showing
 * what it inherits, the consistency rules that make Write-Attributes answer 4.00, unsetting,
 * and the effective-attribute lookup observations will use. */
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

static const char *discover(struct dmfx *f, const char *path, const char *query, uint8_t code) {
    struct rq q = {.code = COAP_GET,
                   .path = path,
                   .query = query,
                   .has_accept = true,
                   .accept = LWM2M_CT_LINK};
    struct coap_msg *m = dmfx_do(f, &q);
    assert_int_equal(m->code, code);
    if (code == COAP_205_CONTENT)
        assert_int_equal(dmfx_opt(m, COAP_OPT_CONTENT_FORMAT), LWM2M_CT_LINK);
    return dm_text(f);
}

static void test_discover_plain(void **state) {
    struct dmfx *f = *state;
    assert_string_equal(discover(f, "3", NULL, COAP_205_CONTENT),
                        "</3>;ver=1.1,</3/0>,</3/0/0>,</3/0/1>,</3/0/2>,</3/0/4>,</3/0/6>;dim=2,"
                        "</3/0/13>");
    assert_string_equal(discover(f, "3/0", NULL, COAP_205_CONTENT),
                        "</3/0>,</3/0/0>,</3/0/1>,</3/0/2>,</3/0/4>,</3/0/6>;dim=2,</3/0/13>");
    /* 1.1: a multiple resource lists its instances. */
    assert_string_equal(discover(f, "3/0/6", NULL, COAP_205_CONTENT),
                        "</3/0/6>;dim=2,</3/0/6/0>,</3/0/6/1>");
    assert_string_equal(discover(f, "3/0/4", NULL, COAP_205_CONTENT), "</3/0/4>");
    assert_string_equal(discover(f, "3303", NULL, COAP_205_CONTENT),
                        "</3303>,</3303/0>,</3303/0/5700>,</3303/0/5701>");
    assert_string_equal(discover(f, "3300", NULL, COAP_205_CONTENT), "</3300>");
    assert_string_equal(discover(f, "1", NULL, COAP_205_CONTENT),
                        "</1>;ver=1.1,</1/0>,</1/0/0>,</1/0/1>,</1/0/2>,</1/0/3>,</1/0/4>,"
                        "</1/0/5>,</1/0/6>,</1/0/7>,</1/0/8>,</1/0/23>");
}

static void test_discover_depth(void **state) {
    struct dmfx *f = *state;
    assert_string_equal(discover(f, "3", "depth=0", COAP_205_CONTENT), "</3>;ver=1.1");
    assert_string_equal(discover(f, "3", "depth=1", COAP_205_CONTENT), "</3>;ver=1.1,</3/0>");
    assert_string_equal(discover(f, "3/0", "depth=2", COAP_205_CONTENT),
                        "</3/0>,</3/0/0>,</3/0/1>,</3/0/2>,</3/0/4>,</3/0/6>;dim=2,</3/0/6/0>,"
                        "</3/0/6/1>,</3/0/13>");
    assert_string_equal(discover(f, "3/0/6", "depth=0", COAP_205_CONTENT), "</3/0/6>;dim=2");
    discover(f, "3", "depth=4", COAP_400_BAD_REQUEST);
    discover(f, "3", "depth=x", COAP_400_BAD_REQUEST);
}

static void test_discover_errors(void **state) {
    struct dmfx *f = *state;
    discover(f, "", NULL, COAP_405_METHOD_NOT_ALLOWED);
    discover(f, "3/0/6/0", NULL, COAP_405_METHOD_NOT_ALLOWED);
    discover(f, "9999", NULL, COAP_404_NOT_FOUND);
    discover(f, "3/0/3", NULL, COAP_404_NOT_FOUND);
    discover(f, "3303/1", NULL, COAP_404_NOT_FOUND);
    discover(f, "0", NULL, COAP_401_UNAUTHORIZED);
}

/* LwM2M 1.0: Discover on a resource shows the resource and its attributes only. */
static void test_discover_10(void **state) {
    struct dmfx *f = *state;
    assert_string_equal(discover(f, "3/0/6", NULL, COAP_205_CONTENT), "</3/0/6>;dim=2");
}

static void test_write_attributes(void **state) {
    struct dmfx *f = *state;
    assert_int_equal(dm_query(f, COAP_PUT, "3303", "pmin=5"), COAP_204_CHANGED);
    assert_int_equal(dm_query(f, COAP_PUT, "3303/0", "pmax=50"), COAP_204_CHANGED);
    assert_int_equal(dm_query(f, COAP_PUT, "3303/0/5700", "gt=30&lt=10.5&st=2"), COAP_204_CHANGED);
    assert_int_equal(f->resp.payload_len, 0);
    assert_string_equal(discover(f, "3303", NULL, COAP_205_CONTENT),
                        "</3303>;pmin=5,</3303/0>;pmax=50,</3303/0/5700>;gt=30;lt=10.5;st=2,"
                        "</3303/0/5701>");
    assert_string_equal(discover(f, "3303/0", NULL, COAP_205_CONTENT),
                        "</3303/0>;pmax=50,</3303/0/5700>;gt=30;lt=10.5;st=2,</3303/0/5701>");
    /* The resource target shows what it inherits (§6.3.2). */
    assert_string_equal(discover(f, "3303/0/5700", NULL, COAP_205_CONTENT),
                        "</3303/0/5700>;pmin=5;pmax=50;gt=30;lt=10.5;st=2");
    /* A later write at the same level merges; a name without value unsets (§6.3.4). */
    assert_int_equal(dm_query(f, COAP_PUT, "3303/0/5700", "pmin=2&gt&st"), COAP_204_CHANGED);
    assert_string_equal(discover(f, "3303/0/5700", "depth=0", COAP_205_CONTENT),
                        "</3303/0/5700>;pmin=2;pmax=50;lt=10.5");
    /* 1.2 attributes, resource instances, Boolean edge. */
    assert_int_equal(dm_query(f, COAP_PUT, "3311", "con=1&hqmax=4&epmin=1&epmax=10"),
                     COAP_204_CHANGED);
    assert_int_equal(dm_query(f, COAP_PUT, "3311/0/5850", "edge=1"), COAP_204_CHANGED);
    assert_int_equal(dm_query(f, COAP_PUT, "3/0/6/1", "pmin=3"), COAP_204_CHANGED);
    assert_string_equal(discover(f, "3/0/6", NULL, COAP_205_CONTENT),
                        "</3/0/6>;dim=2,</3/0/6/0>,</3/0/6/1>;pmin=3");
    assert_string_equal(discover(f, "3311/0/5850", NULL, COAP_205_CONTENT),
                        "</3311/0/5850>;epmin=1;epmax=10;edge=1;con=1;hqmax=4");
    assert_int_equal(f->ep->nattrs, 6);
}

static void test_write_attributes_invalid(void **state) {
    struct dmfx *f = *state;
    static const struct {
        const char *path, *query;
        uint8_t code;
    } cases[] = {
        {"3303/0/5700", "lt=30&gt=10", COAP_400_BAD_REQUEST}, /* lt < gt */
        {"3303/0/5700", "lt=10&gt=10", COAP_400_BAD_REQUEST},
        {"3303/0/5700", "lt=10&gt=20&st=5", COAP_400_BAD_REQUEST}, /* lt + 2st < gt */
        {"3303/0/5700", "st=-1", COAP_400_BAD_REQUEST},
        {"3303/0", "pmin=10&pmax=5", COAP_400_BAD_REQUEST}, /* pmax >= pmin */
        {"3303/0", "epmin=10&epmax=5", COAP_400_BAD_REQUEST},
        {"3303/0", "gt=5", COAP_400_BAD_REQUEST},        /* gt on an instance */
        {"3303/0/5701", "gt=5", COAP_400_BAD_REQUEST},   /* on a String */
        {"3303/0/5700", "edge=1", COAP_400_BAD_REQUEST}, /* edge on a Float */
        {"3311/0/5850", "edge=2", COAP_400_BAD_REQUEST},
        {"3303/0", "foo=1", COAP_400_BAD_REQUEST}, /* unknown */
        {"3303/0", "dim=3", COAP_400_BAD_REQUEST}, /* read-only property */
        {"3303/0", "pmin=abc", COAP_400_BAD_REQUEST},
        {"3303/0", "pmin=-1", COAP_400_BAD_REQUEST},
        {"3303/0", "pmin=4294967296", COAP_400_BAD_REQUEST},
        {"3303/0/5700", "gt=nan", COAP_400_BAD_REQUEST},
        {"3303/0/5700", "gt=1e999", COAP_400_BAD_REQUEST},
        {"3303/0", "pmin=", COAP_400_BAD_REQUEST},
        {"3303/0", NULL, COAP_400_BAD_REQUEST}, /* nothing at all */
        {"3303/7", "pmin=1", COAP_404_NOT_FOUND},
        {"3/0/6/9", "pmin=1", COAP_404_NOT_FOUND},
        {"9999", "pmin=1", COAP_404_NOT_FOUND},
        {"", "pmin=1", COAP_405_METHOD_NOT_ALLOWED},
        {"0/0", "pmin=1", COAP_401_UNAUTHORIZED},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        print_message("case %zu: %s?%s\n", i, cases[i].path, cases[i].query);
        assert_int_equal(dm_query(f, COAP_PUT, cases[i].path, cases[i].query), cases[i].code);
    }
    /* A rejected write leaves what was there. */
    assert_int_equal(dm_query(f, COAP_PUT, "3303/0/5700", "lt=1&gt=9&st=2"), COAP_204_CHANGED);
    assert_int_equal(dm_query(f, COAP_PUT, "3303/0/5700", "st=4"), COAP_400_BAD_REQUEST);
    assert_string_equal(discover(f, "3303/0/5700", NULL, COAP_205_CONTENT),
                        "</3303/0/5700>;gt=9;lt=1;st=2");
    assert_int_equal(f->ep->nattrs, 1);
}

static void test_effective(void **state) {
    struct dmfx *f = *state;
    struct lwm2m_attrs a;
    struct lwm2m_path p = P3(3303, 0, 5700);
    /* Nothing written: the Server object's defaults (/1/0/2 = 1, /1/0/3 = 60). */
    assert_int_equal(lwm2m_attr_effective(f->ep, f->srv, &p, &a), 0);
    assert_int_equal(a.set, LWM2M_ATTR_PMIN | LWM2M_ATTR_PMAX);
    assert_int_equal(a.pmin, 1);
    assert_int_equal(a.pmax, 60);
    assert_int_equal(dm_query(f, COAP_PUT, "3303", "pmin=5&pmax=100"), COAP_204_CHANGED);
    assert_int_equal(dm_query(f, COAP_PUT, "3303/0", "pmax=50"), COAP_204_CHANGED);
    assert_int_equal(dm_query(f, COAP_PUT, "3303/0/5700", "gt=30"), COAP_204_CHANGED);
    assert_int_equal(lwm2m_attr_effective(f->ep, f->srv, &p, &a), 0);
    assert_int_equal(a.set, LWM2M_ATTR_PMIN | LWM2M_ATTR_PMAX | LWM2M_ATTR_GT);
    assert_int_equal(a.pmin, 5);
    assert_int_equal(a.pmax, 50); /* the instance level overrides the object level */
    assert_true(a.gt == 30);
    p = P3(3303, 0, 5701);
    assert_int_equal(lwm2m_attr_effective(f->ep, f->srv, &p, &a), 0);
    assert_int_equal(a.set, LWM2M_ATTR_PMIN | LWM2M_ATTR_PMAX);
    /* Another server sees only its own (and its defaults). */
    struct lwm2m_server other = *f->srv;
    other.ssid = 2;
    other.default_pmin = 0;
    other.default_pmax = 0;
    assert_int_equal(lwm2m_attr_effective(f->ep, &other, &p, &a), 0);
    assert_int_equal(a.set, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_discover_plain, setup11, teardown),
        cmocka_unit_test_setup_teardown(test_discover_depth, setup11, teardown),
        cmocka_unit_test_setup_teardown(test_discover_errors, setup11, teardown),
        cmocka_unit_test_setup_teardown(test_discover_10, setup10, teardown),
        cmocka_unit_test_setup_teardown(test_write_attributes, setup11, teardown),
        cmocka_unit_test_setup_teardown(test_write_attributes_invalid, setup11, teardown),
        cmocka_unit_test_setup_teardown(test_effective, setup11, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
