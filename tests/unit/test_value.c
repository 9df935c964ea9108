/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for value.c: path parsing/formatting/ordering and value conversions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lwm2m/error.h"
#include "lwm2m/value.h"

static int parse(const char *s, struct lwm2m_path *p) {
    return lwm2m_path_parse(s, strlen(s), p);
}

static void test_path_parse_valid(void **state) {
    (void)state;
    struct lwm2m_path p;
    assert_int_equal(parse("/3/0/1", &p), 0);
    assert_int_equal(p.len, 3);
    assert_int_equal(p.ids[0], 3);
    assert_int_equal(p.ids[2], 1);
    assert_int_equal(parse("3/0", &p), 0);
    assert_int_equal(p.len, 2);
    assert_int_equal(parse("/", &p), 0);
    assert_int_equal(p.len, 0);
    assert_int_equal(parse("", &p), 0);
    assert_int_equal(p.len, 0);
    assert_int_equal(parse("/65534/65534/65534/65534", &p), 0);
    assert_int_equal(p.ids[3], 65534);
}

static void test_path_parse_invalid(void **state) {
    (void)state;
    struct lwm2m_path p;
    const char *bad[] = {"/65535", "/3//0",      "/3/0/", "//",
                         "/a",     "/3/0/1/2/3", "/3/-1", "/99999999999999999999",
                         "/3 /0",  "3/0/1x",     "/+3"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(parse(bad[i], &p), LWM2M_ERR_FORMAT);
    }
    /* not NUL-terminated input stops at n */
    assert_int_equal(lwm2m_path_parse("/3/0/1/", 4, &p), 0);
    assert_int_equal(p.len, 2);
}

static void test_path_format(void **state) {
    (void)state;
    char buf[32];
    struct lwm2m_path p = lwm2m_path_make(4, 3303, 0, 5700, 65534);
    assert_int_equal(lwm2m_path_format(&p, buf, sizeof(buf)), 18);
    assert_string_equal(buf, "/3303/0/5700/65534");
    p = lwm2m_path_make(0, 0, 0, 0, 0);
    assert_int_equal(lwm2m_path_format(&p, buf, sizeof(buf)), 1);
    assert_string_equal(buf, "/");
    p = lwm2m_path_make(2, 3, 0, 0, 0);
    assert_int_equal(lwm2m_path_format(&p, buf, 4), LWM2M_ERR_NOSPACE); /* "/3/0" + NUL */
    assert_int_equal(lwm2m_path_format(&p, buf, 5), 4);
}

static void test_path_cmp_prefix(void **state) {
    (void)state;
    struct lwm2m_path root = lwm2m_path_make(0, 0, 0, 0, 0);
    struct lwm2m_path o = lwm2m_path_make(1, 3, 0, 0, 0);
    struct lwm2m_path oi = lwm2m_path_make(2, 3, 0, 0, 0);
    struct lwm2m_path r6 = lwm2m_path_make(3, 3, 0, 6, 0);
    struct lwm2m_path r6_1 = lwm2m_path_make(4, 3, 0, 6, 1);
    struct lwm2m_path r7 = lwm2m_path_make(3, 3, 0, 7, 0);
    assert_true(lwm2m_path_cmp(&root, &o) < 0);
    assert_true(lwm2m_path_cmp(&oi, &r6) < 0);
    assert_true(lwm2m_path_cmp(&r6, &r6_1) < 0);
    assert_true(lwm2m_path_cmp(&r6_1, &r7) < 0);
    assert_int_equal(lwm2m_path_cmp(&r7, &r7), 0);
    assert_true(lwm2m_path_cmp(&r7, &r6_1) > 0);
    assert_true(lwm2m_path_has_prefix(&r6_1, &root));
    assert_true(lwm2m_path_has_prefix(&r6_1, &r6));
    assert_true(lwm2m_path_has_prefix(&r6, &r6));
    assert_false(lwm2m_path_has_prefix(&r6, &r6_1));
    assert_false(lwm2m_path_has_prefix(&r7, &r6));
    struct lwm2m_path deep = lwm2m_path_make(9, 1, 2, 3, 4);
    assert_int_equal(deep.len, 4);
}

static void test_value_constructors(void **state) {
    (void)state;
    struct lwm2m_value v = lwm2m_value_objlnk(66, 1);
    assert_int_equal(v.type, LWM2M_TYPE_OBJLNK);
    assert_int_equal(v.v.lnk.obj, 66);
    v = lwm2m_value_opaque("\x01\x02", 2);
    assert_int_equal(v.type, LWM2M_TYPE_OPAQUE);
    assert_int_equal(v.v.bytes.len, 2);
    assert_string_equal(lwm2m_type_name(LWM2M_TYPE_UNSIGNED), "Unsigned Integer");
    assert_string_equal(lwm2m_type_name(LWM2M_TYPE_NONE), "none");
    struct lwm2m_value a = lwm2m_value_string("ab", 2), b = lwm2m_value_string("ab", 2);
    assert_true(lwm2m_value_equal(&a, &b));
    b = lwm2m_value_corelnk("ab", 2);
    assert_false(lwm2m_value_equal(&a, &b));
}

static void test_value_convert(void **state) {
    (void)state;
    struct lwm2m_value in, out;
    in = lwm2m_value_int(5);
    assert_int_equal(lwm2m_value_convert(&in, LWM2M_TYPE_FLOAT, &out), 0);
    assert_true(out.v.f == 5.0);
    assert_int_equal(lwm2m_value_convert(&in, LWM2M_TYPE_UNSIGNED, &out), 0);
    assert_int_equal(lwm2m_value_convert(&in, LWM2M_TYPE_TIME, &out), 0);
    assert_int_equal(out.type, LWM2M_TYPE_TIME);
    in = lwm2m_value_int(-1);
    assert_int_equal(lwm2m_value_convert(&in, LWM2M_TYPE_UNSIGNED, &out), LWM2M_ERR_FORMAT);
    in = lwm2m_value_float(2.5);
    assert_int_equal(lwm2m_value_convert(&in, LWM2M_TYPE_INTEGER, &out), LWM2M_ERR_FORMAT);
    in = lwm2m_value_float(1e300);
    assert_int_equal(lwm2m_value_convert(&in, LWM2M_TYPE_INTEGER, &out), LWM2M_ERR_FORMAT);
    in = lwm2m_value_float(-3.0);
    assert_int_equal(lwm2m_value_convert(&in, LWM2M_TYPE_INTEGER, &out), 0);
    assert_int_equal(out.v.i, -3);
    in = lwm2m_value_uint(UINT64_MAX);
    assert_int_equal(lwm2m_value_convert(&in, LWM2M_TYPE_INTEGER, &out), LWM2M_ERR_FORMAT);
    in = lwm2m_value_string("66:65535", 8);
    assert_int_equal(lwm2m_value_convert(&in, LWM2M_TYPE_OBJLNK, &out), 0);
    assert_int_equal(out.v.lnk.inst, 65535);
    const char *bad[] = {"66", ":1", "1:", "1:65536", "a:1", "1:2:3"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        in = lwm2m_value_string(bad[i], strlen(bad[i]));
        assert_int_equal(lwm2m_value_convert(&in, LWM2M_TYPE_OBJLNK, &out), LWM2M_ERR_FORMAT);
    }
    in = lwm2m_value_string("</1>", 4);
    assert_int_equal(lwm2m_value_convert(&in, LWM2M_TYPE_CORELNK, &out), 0);
    assert_int_equal(out.type, LWM2M_TYPE_CORELNK);
    in = lwm2m_value_bool(true);
    assert_int_equal(lwm2m_value_convert(&in, LWM2M_TYPE_INTEGER, &out), LWM2M_ERR_FORMAT);
    in = lwm2m_value_opaque("x", 1);
    assert_int_equal(lwm2m_value_convert(&in, LWM2M_TYPE_STRING, &out), LWM2M_ERR_FORMAT);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path_parse_valid),   cmocka_unit_test(test_path_parse_invalid),
        cmocka_unit_test(test_path_format),        cmocka_unit_test(test_path_cmp_prefix),
        cmocka_unit_test(test_value_constructors), cmocka_unit_test(test_value_convert),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
