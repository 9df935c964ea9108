/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the bridge's point cache (bridge/point.c): adapter value -> LwM2M type
 * conversions, constants, change detection, quality and staleness with a hand-driven clock, and
 * the conversion back for writes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lwm2m/error.h"
#include "point.h"

static struct adapter_value av_double(double f) {
    return (struct adapter_value){.type = ADAPTER_V_DOUBLE, .quality = ADAPTER_Q_GOOD, .v.f = f};
}
static struct adapter_value av_int(int64_t i) {
    return (struct adapter_value){.type = ADAPTER_V_INT, .quality = ADAPTER_Q_GOOD, .v.i = i};
}
static struct adapter_value av_uint(uint64_t u) {
    return (struct adapter_value){.type = ADAPTER_V_UINT, .quality = ADAPTER_Q_GOOD, .v.u = u};
}
static struct adapter_value av_bool(bool b) {
    return (struct adapter_value){.type = ADAPTER_V_BOOL, .quality = ADAPTER_Q_GOOD, .v.b = b};
}
static struct adapter_value av_str(const char *s) {
    struct adapter_value v = {.type = ADAPTER_V_STRING, .quality = ADAPTER_Q_GOOD};
    v.v.bytes.ptr = (const uint8_t *)s;
    v.v.bytes.len = strlen(s);
    return v;
}

static int conv(struct adapter_value av, enum lwm2m_type t, struct lwm2m_value *out) {
    static char scratch[64];
    return br_value_from_adapter(&av, t, out, scratch, sizeof(scratch));
}

static void test_numbers(void **state) {
    struct lwm2m_value v;
    assert_int_equal(conv(av_double(229.9999999), LWM2M_TYPE_INTEGER, &v), 0);
    assert_int_equal(v.type, LWM2M_TYPE_INTEGER);
    assert_int_equal(v.v.i, 230); /* scaled register values round to the nearest integer */
    assert_int_equal(conv(av_int(-5), LWM2M_TYPE_FLOAT, &v), 0);
    assert_true(v.v.f == -5.0);
    assert_int_equal(conv(av_int(-5), LWM2M_TYPE_UNSIGNED, &v), LWM2M_ERR_FORMAT);
    assert_int_equal(conv(av_uint(UINT64_MAX), LWM2M_TYPE_INTEGER, &v), LWM2M_ERR_FORMAT);
    assert_int_equal(conv(av_uint(UINT64_MAX), LWM2M_TYPE_UNSIGNED, &v), 0);
    assert_true(v.v.u == UINT64_MAX);
    assert_int_equal(conv(av_double(1e300), LWM2M_TYPE_INTEGER, &v), LWM2M_ERR_FORMAT);
    assert_int_equal(conv(av_double(-0.4), LWM2M_TYPE_UNSIGNED, &v), 0);
    assert_int_equal(v.v.u, 0);
    assert_int_equal(conv(av_int(1700000000), LWM2M_TYPE_TIME, &v), 0);
    assert_int_equal(v.type, LWM2M_TYPE_TIME);
    assert_int_equal(conv(av_int(7), LWM2M_TYPE_OPAQUE, &v), LWM2M_ERR_FORMAT);
}

static void test_bools_and_text(void **state) {
    struct lwm2m_value v;
    assert_int_equal(conv(av_uint(3), LWM2M_TYPE_BOOLEAN, &v), 0);
    assert_true(v.type == LWM2M_TYPE_BOOLEAN && v.v.b);
    assert_int_equal(conv(av_bool(true), LWM2M_TYPE_INTEGER, &v), 0);
    assert_int_equal(v.v.i, 1);
    assert_int_equal(conv(av_bool(false), LWM2M_TYPE_STRING, &v), 0);
    assert_memory_equal(v.v.bytes.ptr, "false", 5);
    assert_int_equal(conv(av_double(21.5), LWM2M_TYPE_STRING, &v), 0);
    assert_int_equal(v.v.bytes.len, 4);
    assert_memory_equal(v.v.bytes.ptr, "21.5", 4);
    assert_int_equal(conv(av_double(0.1), LWM2M_TYPE_STRING, &v), 0);
    assert_memory_equal(v.v.bytes.ptr, "0.1", 3);
    assert_int_equal(conv(av_str("42"), LWM2M_TYPE_INTEGER, &v), 0);
    assert_int_equal(v.v.i, 42);
    assert_int_equal(conv(av_str("true"), LWM2M_TYPE_BOOLEAN, &v), 0);
    assert_true(v.v.b);
    assert_int_equal(conv(av_str("fals"), LWM2M_TYPE_BOOLEAN, &v), LWM2M_ERR_FORMAT);
    assert_int_equal(conv(av_str("warm"), LWM2M_TYPE_FLOAT, &v), LWM2M_ERR_FORMAT);
    assert_int_equal(conv(av_str("</3/0>"), LWM2M_TYPE_CORELNK, &v), 0);
    assert_int_equal(v.type, LWM2M_TYPE_CORELNK);
}

static void test_constants(void **state) {
    struct br_point p;
    struct lwm2m_value v;
    br_point_init(&p, LWM2M_TYPE_FLOAT);
    assert_int_equal(br_point_set_const(&p, "21.5"), 0);
    assert_int_equal(br_point_read(&p, true, 1u << 30, 1, &v), 0); /* never stale */
    assert_true(v.v.f == 21.5);
    br_point_free(&p);
    br_point_init(&p, LWM2M_TYPE_INTEGER);
    assert_int_equal(br_point_set_const(&p, "abc"), LWM2M_ERR_FORMAT);
    assert_false(p.has_value);
    br_point_free(&p);
    br_point_init(&p, LWM2M_TYPE_STRING);
    assert_int_equal(br_point_set_const(&p, "ACME"), 0);
    assert_int_equal(br_point_read(&p, false, 0, 0, &v), 0);
    assert_int_equal(v.v.bytes.len, 4);
    assert_memory_equal(v.v.bytes.ptr, "ACME", 4);
    br_point_free(&p);
}

static void test_change_detection_and_copies(void **state) {
    struct br_point p;
    struct lwm2m_value v;
    char buf[8] = "abc";
    br_point_init(&p, LWM2M_TYPE_STRING);
    struct adapter_value a = av_str(buf);
    assert_int_equal(br_point_update(&p, &a, 100, 5000), BR_POINT_CHANGED);
    assert_int_equal(br_point_update(&p, &a, 200, 6000), BR_POINT_SAME);
    assert_int_equal(p.ts_ms, 6000);
    buf[0] = 'x'; /* the adapter's bytes are borrowed: the cache must hold its own copy */
    assert_int_equal(br_point_read(&p, false, 200, 1000, &v), 0);
    assert_memory_equal(v.v.bytes.ptr, "abc", 3);
    a = av_str("a longer value that needs a bigger buffer");
    assert_int_equal(br_point_update(&p, &a, 300, 7000), BR_POINT_CHANGED);
    a.ts_ms = 1234;
    assert_int_equal(br_point_update(&p, &a, 400, 8000), BR_POINT_SAME);
    assert_int_equal(p.ts_ms, 1234); /* the adapter's own time stamp wins */
    br_point_free(&p);
}

static void test_quality_and_staleness(void **state) {
    struct br_point p;
    struct lwm2m_value v;
    br_point_init(&p, LWM2M_TYPE_FLOAT);
    assert_int_equal(br_point_read(&p, false, 0, 1000, &v), LWM2M_ERR_AGAIN); /* no value yet */
    struct adapter_value a = av_double(1.5);
    assert_int_equal(br_point_update(&p, &a, 1000, 0), BR_POINT_CHANGED);
    /* a good value is served at any age while the device answers */
    assert_int_equal(br_point_read(&p, false, 1000000, 1000, &v), 0);
    struct adapter_value bad = {.type = ADAPTER_V_NONE, .quality = ADAPTER_Q_TIMEOUT};
    assert_int_equal(br_point_update(&p, &bad, 1500, 0), BR_POINT_CHANGED);
    assert_int_equal(br_point_update(&p, &bad, 1600, 0), BR_POINT_SAME);
    assert_int_equal(p.quality, ADAPTER_Q_TIMEOUT);
    assert_int_equal(br_point_read(&p, false, 1999, 1000, &v), 0); /* last good value, fresh */
    assert_true(v.v.f == 1.5);
    assert_int_equal(br_point_read(&p, false, 2000, 1000, &v), LWM2M_ERR_AGAIN);
    a = av_double(2.5);
    assert_int_equal(br_point_update(&p, &a, 3000, 0), BR_POINT_CHANGED);
    assert_int_equal(br_point_read(&p, false, 3500, 1000, &v), 0);
    /* the device is down (link state) even though the point's last report was good */
    assert_int_equal(br_point_read(&p, true, 3999, 1000, &v), 0);
    assert_int_equal(br_point_read(&p, true, 4000, 1000, &v), LWM2M_ERR_AGAIN);
    /* a good value that does not fit the type: bad data, the old value stays */
    a = av_str("not a number");
    assert_int_equal(br_point_update(&p, &a, 4100, 0), LWM2M_ERR_FORMAT);
    assert_int_equal(p.quality, ADAPTER_Q_BAD_DATA);
    assert_true(p.v.v.f == 2.5);
    br_point_free(&p);
}

static void test_to_adapter(void **state) {
    struct adapter_value a;
    struct lwm2m_value v = lwm2m_value_bool(true);
    assert_int_equal(br_value_to_adapter(&v, &a), 0);
    assert_true(a.type == ADAPTER_V_BOOL && a.v.b);
    v = lwm2m_value_float(-2.25);
    assert_int_equal(br_value_to_adapter(&v, &a), 0);
    assert_true(a.type == ADAPTER_V_DOUBLE && a.v.f == -2.25);
    v = lwm2m_value_uint(7);
    assert_int_equal(br_value_to_adapter(&v, &a), 0);
    assert_true(a.type == ADAPTER_V_UINT && a.v.u == 7);
    v = lwm2m_value_opaque("\x01\x02", 2);
    assert_int_equal(br_value_to_adapter(&v, &a), 0);
    assert_true(a.type == ADAPTER_V_BYTES && a.v.bytes.len == 2);
    v = lwm2m_value_objlnk(3, 0);
    assert_int_equal(br_value_to_adapter(&v, &a), LWM2M_ERR_UNSUPPORTED);
}

static void test_format(void **state) {
    char out[16];
    struct lwm2m_value v = lwm2m_value_float(230.5);
    assert_int_equal(br_value_format(&v, out, sizeof(out)), 5);
    assert_string_equal(out, "230.5");
    v = lwm2m_value_opaque("\xab\xcd", 2);
    br_value_format(&v, out, sizeof(out));
    assert_string_equal(out, "abcd");
    v = lwm2m_value_string("a string longer than sixteen", 28);
    assert_int_equal(br_value_format(&v, out, sizeof(out)), 15);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_bools_and_text),
        cmocka_unit_test(test_constants),
        cmocka_unit_test(test_change_detection_and_copies),
        cmocka_unit_test(test_quality_and_staleness),
        cmocka_unit_test(test_to_adapter),
        cmocka_unit_test(test_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
