/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the data model registry (model.c and the built-in tables): lookups of core and
 * IPSO definitions against the OMA registry facts, table consistency, path checks, the
 * RangeEnumeration parser and value range/type checks. */
#include <math.h>
#include <stdbool.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lwm2m/error.h"
#include "lwm2m/model.h"

static int setup(void **state) {
    struct lwm2m_model *m;
    if (lwm2m_model_new(&m) != 0)
        return -1;
    *state = m;
    return 0;
}

static int teardown(void **state) {
    lwm2m_model_free(*state);
    return 0;
}

static struct lwm2m_path P(uint8_t depth, uint16_t o, uint16_t i, uint16_t r, uint16_t ri) {
    struct lwm2m_path p = {.ids = {o, i, r, ri}, .len = depth};
    return p;
}

static const struct lwm2m_resource_def *
res(void **state, uint16_t o, uint16_t r) {
    const struct lwm2m_resource_def *d = lwm2m_model_resource(*state, o, r);
    assert_non_null(d);
    return d;
}

static void test_builtin_objects(void **state) {
    static const uint16_t ids[] = {0,    1,    2,    3,    4,    25,   3200, 3201, 3202,
                                   3203, 3300, 3301, 3303, 3304, 3305, 3306, 3311, 3315,
                                   3316, 3317, 3320, 3323, 3328, 3331, 3336, 3340};
    const size_t n = sizeof(ids) / sizeof(ids[0]);
    size_t total = 0;

    assert_int_equal(lwm2m_model_count(*state), n);
    for (size_t i = 0; i < n; i++) {
        const struct lwm2m_object_def *o = lwm2m_model_object_at(*state, i);
        assert_non_null(o);
        assert_int_equal(o->id, ids[i]); /* iteration is in id order */
        assert_ptr_equal(lwm2m_model_object(*state, ids[i]), o);
        assert_true(lwm2m_model_is_builtin(*state, ids[i]));
        total += o->nres;
    }
    assert_int_equal(total, 248);
    assert_null(lwm2m_model_object_at(*state, n));
    assert_null(lwm2m_model_object(*state, 5));
    assert_null(lwm2m_model_object(*state, 3302));
    assert_null(lwm2m_model_object(*state, 65534));
    assert_false(lwm2m_model_is_builtin(*state, 5));
}

static void test_device(void **state) {
    const struct lwm2m_object_def *o = lwm2m_model_object(*state, 3);
    const struct lwm2m_resource_def *r;

    assert_string_equal(o->name, "Device");
    assert_string_equal(o->version, "1.1");
    assert_false(o->multiple);
    assert_true(o->mandatory);
    assert_int_equal(o->nres, 23); /* 0..22 */
    r = res(state, 3, 13);
    assert_string_equal(r->name, "Current Time");
    assert_int_equal(r->type, LWM2M_TYPE_TIME);
    assert_int_equal(r->ops, LWM2M_OP_RW);
    assert_false(r->multiple);
    assert_false(r->mandatory);
    r = res(state, 3, 4);
    assert_string_equal(r->name, "Reboot");
    assert_int_equal(r->ops, LWM2M_OP_E);
    assert_int_equal(r->type, LWM2M_TYPE_NONE);
    assert_true(r->mandatory);
    r = res(state, 3, 11);
    assert_string_equal(r->name, "Error Code");
    assert_true(r->multiple);
    assert_true(r->mandatory);
    assert_int_equal(r->range.kind, LWM2M_RANGE_VALUE);
    assert_true(r->range.min == 0 && r->range.max == 32);
    r = res(state, 3, 9);
    assert_string_equal(r->units, "/100");
    r = res(state, 3, 22);
    assert_string_equal(r->name, "ExtDevInfo");
    assert_int_equal(r->type, LWM2M_TYPE_OBJLNK);
    assert_true(r->multiple);
    assert_null(lwm2m_model_resource(*state, 3, 23));
}

static void test_security_server(void **state) {
    const struct lwm2m_resource_def *r;

    assert_int_equal(lwm2m_model_object(*state, 0)->nres, 18);
    r = res(state, 0, 0);
    assert_int_equal(r->type, LWM2M_TYPE_STRING);
    assert_int_equal(r->ops, LWM2M_OP_NONE); /* bootstrap only */
    assert_int_equal(r->range.kind, LWM2M_RANGE_LENGTH);
    assert_true(r->range.max == 255);
    r = res(state, 0, 2);
    assert_string_equal(r->name, "Security Mode");
    assert_int_equal(r->type, LWM2M_TYPE_INTEGER);
    assert_true(r->range.min == 0 && r->range.max == 4);
    assert_int_equal(res(state, 0, 5)->type, LWM2M_TYPE_OPAQUE);
    assert_int_equal(res(state, 0, 8)->range.kind, LWM2M_RANGE_TEXT);
    assert_string_equal(res(state, 0, 8)->range.text, "16,32,48");
    assert_int_equal(res(state, 0, 10)->range.kind, LWM2M_RANGE_VALUE);
    assert_true(res(state, 0, 16)->multiple);
    assert_int_equal(res(state, 0, 17)->type, LWM2M_TYPE_OBJLNK);

    assert_int_equal(lwm2m_model_object(*state, 1)->nres, 24);
    assert_string_equal(lwm2m_model_object(*state, 1)->version, "1.1");
    r = res(state, 1, 23);
    assert_string_equal(r->name, "Mute Send");
    assert_int_equal(r->type, LWM2M_TYPE_BOOLEAN);
    assert_int_equal(r->ops, LWM2M_OP_RW);
    r = res(state, 1, 1);
    assert_string_equal(r->name, "Lifetime");
    assert_string_equal(r->units, "s");
    assert_true(r->mandatory);
    assert_int_equal(res(state, 1, 8)->ops, LWM2M_OP_E);
    assert_int_equal(res(state, 1, 0)->ops, LWM2M_OP_R);
    assert_int_equal(res(state, 1, 12)->type, LWM2M_TYPE_TIME);
    assert_int_equal(res(state, 2, 2)->ops, LWM2M_OP_RW);
    assert_int_equal(res(state, 4, 11)->units[0], 'd');
}

static void test_gateway_and_ipso(void **state) {
    const struct lwm2m_object_def *o = lwm2m_model_object(*state, 25);
    const struct lwm2m_resource_def *r;

    assert_string_equal(o->version, "2.0");
    assert_string_equal(o->name, "LwM2M Gateway");
    assert_true(o->multiple);
    assert_int_equal(res(state, 25, 0)->type, LWM2M_TYPE_STRING);
    assert_string_equal(res(state, 25, 1)->name, "Prefix");
    assert_null(lwm2m_model_resource(*state, 25, 2));
    assert_int_equal(res(state, 25, 3)->type, LWM2M_TYPE_CORELNK);

    r = res(state, 3303, 5700);
    assert_string_equal(r->name, "Sensor Value");
    assert_int_equal(r->type, LWM2M_TYPE_FLOAT);
    assert_int_equal(r->ops, LWM2M_OP_R);
    assert_true(r->mandatory);
    assert_string_equal(lwm2m_model_object(*state, 3303)->name, "Temperature");
    assert_int_equal(res(state, 3303, 5605)->ops, LWM2M_OP_E);
    assert_int_equal(res(state, 3311, 5850)->type, LWM2M_TYPE_BOOLEAN);
    assert_int_equal(res(state, 3311, 5850)->ops, LWM2M_OP_RW);
    assert_string_equal(res(state, 3311, 5851)->units, "%");
    assert_int_equal(res(state, 3305, 5806)->ops, LWM2M_OP_W);
    assert_string_equal(res(state, 3305, 5815)->units, "varh");
    assert_int_equal(res(state, 3336, 5517)->type, LWM2M_TYPE_OPAQUE);
    assert_true(res(state, 3336, 5705)->range.max == 360);
    assert_int_equal(res(state, 3340, 5526)->type, LWM2M_TYPE_INTEGER);
    assert_false(res(state, 3340, 5850)->mandatory);
    assert_true(res(state, 3306, 5850)->mandatory);
    assert_int_equal(res(state, 3200, 5500)->type, LWM2M_TYPE_BOOLEAN);
    assert_int_equal(res(state, 3316, 5821)->ops, LWM2M_OP_RW);
    assert_null(lwm2m_model_resource(*state, 3303, 5750));
}

/* The tables are hand-written: every one must be sorted, self-consistent, and its range text
 * must parse back to the numbers stored next to it. */
static void test_tables_consistent(void **state) {
    for (size_t i = 0; i < lwm2m_model_count(*state); i++) {
        const struct lwm2m_object_def *o = lwm2m_model_object_at(*state, i);
        assert_true(o->nres > 0);
        assert_non_null(o->name);
        assert_true(strlen(o->version) >= 3);
        for (size_t k = 0; k < o->nres; k++) {
            const struct lwm2m_resource_def *r = &o->res[k];
            struct lwm2m_range rg;
            if (k > 0)
                assert_true(o->res[k - 1].id < r->id);
            assert_ptr_equal(lwm2m_object_resource(o, r->id), r);
            assert_true(r->name[0] != '\0');
            assert_non_null(r->units);
            /* Executable exactly when untyped. */
            assert_int_equal(r->type == LWM2M_TYPE_NONE, (r->ops & LWM2M_OP_E) != 0);
            assert_int_equal(lwm2m_range_parse(r->type, r->range.text, &rg), 0);
            assert_int_equal(rg.kind, r->range.kind);
            assert_true(rg.min == r->range.min);
            assert_true(rg.max == r->range.max);
        }
    }
}

static void test_resource_type(void **state) {
    enum lwm2m_type t = LWM2M_TYPE_NONE;
    struct lwm2m_path p = P(3, 3, 0, 13, 0);

    assert_int_equal(lwm2m_model_resource_type(*state, &p, &t), 0);
    assert_int_equal(t, LWM2M_TYPE_TIME);
    p = P(4, 3, 0, 7, 1);
    assert_int_equal(lwm2m_model_resource_type(*state, &p, &t), 0);
    assert_int_equal(t, LWM2M_TYPE_INTEGER);
    p = P(3, 3303, 2, 5700, 0);
    assert_int_equal(lwm2m_model_resource_type(*state, &p, &t), 0);
    assert_int_equal(t, LWM2M_TYPE_FLOAT);
    p = P(3, 3303, 0, 9999, 0);
    assert_int_equal(lwm2m_model_resource_type(*state, &p, &t), LWM2M_ERR_NOTFOUND);
    p = P(3, 42, 0, 0, 0);
    assert_int_equal(lwm2m_model_resource_type(*state, &p, &t), LWM2M_ERR_NOTFOUND);
    p = P(2, 3, 0, 0, 0);
    assert_int_equal(lwm2m_model_resource_type(*state, &p, &t), LWM2M_ERR_INVALID);
    assert_null(lwm2m_model_path_resource(*state, &p));
}

static void test_check_path(void **state) {
    static const struct {
        struct lwm2m_path p;
        int rc;
    } cases[] = {
        {{{0}, 0}, 0},
        {{{3}, 1}, 0},
        {{{3, 0}, 2}, 0},
        {{{3, 1}, 2}, LWM2M_ERR_NOTFOUND}, /* Device is single-instance */
        {{{3303, 7}, 2}, 0},
        {{{3, 0, 13}, 3}, 0},
        {{{3, 0, 11, 2}, 4}, 0},                  /* Error Code is multiple */
        {{{3, 0, 13, 0}, 4}, LWM2M_ERR_NOTFOUND}, /* Current Time is single */
        {{{3, 0, 99}, 3}, LWM2M_ERR_NOTFOUND},
        {{{9999}, 1}, LWM2M_ERR_NOTFOUND},
        {{{25, 4, 3}, 3}, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_int_equal(lwm2m_model_check_path(*state, &cases[i].p), cases[i].rc);
}

static void test_range_parse(void **state) {
    static const struct {
        enum lwm2m_type type;
        const char *text;
        int rc;
        enum lwm2m_range_kind kind;
        double min, max;
    } cases[] = {
        {LWM2M_TYPE_INTEGER, "0..100", 0, LWM2M_RANGE_VALUE, 0, 100},
        {LWM2M_TYPE_INTEGER, "0-100", 0, LWM2M_RANGE_VALUE, 0, 100},
        {LWM2M_TYPE_INTEGER, "-40..85", 0, LWM2M_RANGE_VALUE, -40, 85},
        {LWM2M_TYPE_INTEGER, "-40-85", 0, LWM2M_RANGE_VALUE, -40, 85},
        {LWM2M_TYPE_INTEGER, "-40--5", 0, LWM2M_RANGE_VALUE, -40, -5},
        {LWM2M_TYPE_FLOAT, " 0.5 .. 1e3 ", 0, LWM2M_RANGE_VALUE, 0.5, 1000},
        {LWM2M_TYPE_FLOAT, "-1.5E-2..+2", 0, LWM2M_RANGE_VALUE, -0.015, 2},
        {LWM2M_TYPE_UNSIGNED, "7", 0, LWM2M_RANGE_VALUE, 7, 7},
        {LWM2M_TYPE_TIME, "0..86400", 0, LWM2M_RANGE_VALUE, 0, 86400},
        {LWM2M_TYPE_STRING, "0..255", 0, LWM2M_RANGE_LENGTH, 0, 255},
        {LWM2M_TYPE_OPAQUE, "6", 0, LWM2M_RANGE_LENGTH, 6, 6},
        {LWM2M_TYPE_OPAQUE, "16,32,48", 0, LWM2M_RANGE_TEXT, 0, 0},
        {LWM2M_TYPE_STRING, "1.5..2", 0, LWM2M_RANGE_TEXT, 0, 0},
        {LWM2M_TYPE_STRING, "-1..5", 0, LWM2M_RANGE_TEXT, 0, 0},
        {LWM2M_TYPE_BOOLEAN, "0..1", 0, LWM2M_RANGE_TEXT, 0, 0},
        {LWM2M_TYPE_INTEGER, "0x10..0x20", 0, LWM2M_RANGE_TEXT, 0, 0},
        {LWM2M_TYPE_FLOAT, "inf..5", 0, LWM2M_RANGE_TEXT, 0, 0},
        {LWM2M_TYPE_FLOAT, "1..nan", 0, LWM2M_RANGE_TEXT, 0, 0},
        {LWM2M_TYPE_INTEGER, "1..3 or 5", 0, LWM2M_RANGE_TEXT, 0, 0},
        {LWM2M_TYPE_INTEGER, "..5", 0, LWM2M_RANGE_TEXT, 0, 0},
        {LWM2M_TYPE_INTEGER, "5..", 0, LWM2M_RANGE_TEXT, 0, 0},
        {LWM2M_TYPE_FLOAT, "1e999..2", 0, LWM2M_RANGE_TEXT, 0, 0},
        {LWM2M_TYPE_INTEGER, "", 0, LWM2M_RANGE_NONE, 0, 0},
        {LWM2M_TYPE_INTEGER, " \t\n", 0, LWM2M_RANGE_NONE, 0, 0},
        {LWM2M_TYPE_INTEGER, "10..5", LWM2M_ERR_INVALID, LWM2M_RANGE_NONE, 0, 0},
        {LWM2M_TYPE_STRING, "10-5", LWM2M_ERR_INVALID, LWM2M_RANGE_NONE, 0, 0},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct lwm2m_range rg;
        int rc = lwm2m_range_parse(cases[i].type, cases[i].text, &rg);
        assert_int_equal(rc, cases[i].rc);
        if (rc < 0)
            continue;
        assert_int_equal(rg.kind, cases[i].kind);
        assert_ptr_equal(rg.text, cases[i].text);
        if (rg.kind == LWM2M_RANGE_VALUE || rg.kind == LWM2M_RANGE_LENGTH) {
            assert_true(rg.min == cases[i].min);
            assert_true(rg.max == cases[i].max);
        }
    }
}

/* Local value builders: the test does not depend on value.c. */
static struct lwm2m_value vnum(enum lwm2m_type t, int64_t i) {
    struct lwm2m_value v = {.type = (uint8_t)t, .v.i = i};
    return v;
}
static struct lwm2m_value vuint(uint64_t u) {
    struct lwm2m_value v = {.type = LWM2M_TYPE_UNSIGNED, .v.u = u};
    return v;
}
static struct lwm2m_value vfloat(double f) {
    struct lwm2m_value v = {.type = LWM2M_TYPE_FLOAT, .v.f = f};
    return v;
}
static struct lwm2m_value vbool(bool b) {
    struct lwm2m_value v = {.type = LWM2M_TYPE_BOOLEAN, .v.b = b};
    return v;
}
static struct lwm2m_value vlink(uint16_t o, uint16_t i) {
    struct lwm2m_value v = {.type = LWM2M_TYPE_OBJLNK, .v.lnk = {o, i}};
    return v;
}
static struct lwm2m_value vbytes(enum lwm2m_type t, const void *p, size_t n) {
    struct lwm2m_value v = {.type = (uint8_t)t, .v.bytes = {p, n}};
    return v;
}

static int check(void **state, uint16_t o, uint16_t r, struct lwm2m_value v) {
    struct lwm2m_path p = P(3, o, 0, r, 0);
    return lwm2m_model_check_value(*state, &p, &v);
}

static void test_check_value(void **state) {
    static const char s256[256] = {0};
    static const uint8_t key[7] = {0};
    const int INV = LWM2M_ERR_INVALID;

    /* Battery Level: Integer 0..100. */
    assert_int_equal(check(state, 3, 9, vnum(LWM2M_TYPE_INTEGER, 0)), 0);
    assert_int_equal(check(state, 3, 9, vnum(LWM2M_TYPE_INTEGER, 100)), 0);
    assert_int_equal(check(state, 3, 9, vnum(LWM2M_TYPE_INTEGER, 101)), INV);
    assert_int_equal(check(state, 3, 9, vnum(LWM2M_TYPE_INTEGER, -1)), INV);
    assert_int_equal(check(state, 3, 9, vnum(LWM2M_TYPE_INTEGER, INT64_MIN)), INV);
    assert_int_equal(check(state, 3, 9, vfloat(50.0)), INV); /* wrong type */
    assert_int_equal(check(state, 3, 9, vuint(50)), INV);
    /* Current Time: Time, no range. */
    assert_int_equal(check(state, 3, 13, vnum(LWM2M_TYPE_TIME, INT64_MAX)), 0);
    assert_int_equal(check(state, 3, 13, vnum(LWM2M_TYPE_INTEGER, 5)), INV);
    /* Executable resources take no value. */
    assert_int_equal(check(state, 3, 4, vnum(LWM2M_TYPE_INTEGER, 0)), INV);
    /* Server URI: String of at most 255 bytes. */
    assert_int_equal(check(state, 0, 0, vbytes(LWM2M_TYPE_STRING, s256, 255)), 0);
    assert_int_equal(check(state, 0, 0, vbytes(LWM2M_TYPE_STRING, s256, 256)), INV);
    assert_int_equal(check(state, 0, 0, vbytes(LWM2M_TYPE_OPAQUE, s256, 10)), INV);
    /* SMS Binding Key Parameters: Opaque of exactly 6 bytes; "16,32,48" is not checked. */
    assert_int_equal(check(state, 0, 7, vbytes(LWM2M_TYPE_OPAQUE, key, 6)), 0);
    assert_int_equal(check(state, 0, 7, vbytes(LWM2M_TYPE_OPAQUE, key, 7)), INV);
    assert_int_equal(check(state, 0, 8, vbytes(LWM2M_TYPE_OPAQUE, key, 7)), 0);
    /* Short Server ID 1..65534; Matching Type Unsigned 0..3. */
    assert_int_equal(check(state, 0, 10, vnum(LWM2M_TYPE_INTEGER, 0)), INV);
    assert_int_equal(check(state, 0, 10, vnum(LWM2M_TYPE_INTEGER, 65534)), 0);
    assert_int_equal(check(state, 0, 13, vuint(3)), 0);
    assert_int_equal(check(state, 0, 13, vuint(UINT64_MAX)), INV);
    /* Analog Output Current Value: Float 0..1, NaN is out of any range. */
    assert_int_equal(check(state, 3203, 5650, vfloat(0.5)), 0);
    assert_int_equal(check(state, 3203, 5650, vfloat(1.0000001)), INV);
    assert_int_equal(check(state, 3203, 5650, vfloat(NAN)), INV);
    assert_int_equal(check(state, 3303, 5700, vfloat(-273.15)), 0);
    assert_int_equal(check(state, 3303, 5700, vfloat(INFINITY)), 0);
    /* Booleans, object links and corelnks have no ranges but a type. */
    assert_int_equal(check(state, 1, 23, vbool(true)), 0);
    assert_int_equal(check(state, 1, 23, vnum(LWM2M_TYPE_INTEGER, 1)), INV);
    assert_int_equal(check(state, 1, 10, vlink(11, 0)), 0);
    assert_int_equal(check(state, 25, 3, vbytes(LWM2M_TYPE_CORELNK, "</3303/0>", 9)), 0);
    assert_int_equal(check(state, 25, 3, vbytes(LWM2M_TYPE_STRING, "</3303/0>", 9)), INV);
    /* Unknown paths. */
    assert_int_equal(check(state, 3, 99, vnum(LWM2M_TYPE_INTEGER, 0)), LWM2M_ERR_NOTFOUND);
    assert_int_equal(check(state, 77, 0, vnum(LWM2M_TYPE_INTEGER, 0)), LWM2M_ERR_NOTFOUND);
}

static void test_allows(void **state) {
    const struct lwm2m_resource_def *r = res(state, 3, 13);
    assert_true(lwm2m_resource_allows(r, LWM2M_OP_R));
    assert_true(lwm2m_resource_allows(r, LWM2M_OP_RW));
    assert_false(lwm2m_resource_allows(r, LWM2M_OP_E));
    r = res(state, 3, 0);
    assert_false(lwm2m_resource_allows(r, LWM2M_OP_W));
    r = res(state, 0, 0);
    assert_false(lwm2m_resource_allows(r, LWM2M_OP_R));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_builtin_objects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_device, setup, teardown),
        cmocka_unit_test_setup_teardown(test_security_server, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gateway_and_ipso, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tables_consistent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resource_type, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_path, setup, teardown),
        cmocka_unit_test(test_range_parse),
        cmocka_unit_test_setup_teardown(test_check_value, setup, teardown),
        cmocka_unit_test_setup_teardown(test_allows, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
