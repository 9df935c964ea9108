/* SPDX-License-Identifier: Apache-2.0 */
/* CBOR (60) single-value tests: the item for each LwM2M type (LwM2M 1.1.1 TS Core §7.4.3: Time
 * as tag 1, Objlnk as "O:I" text, floats in their shortest exact width per RFC 8949 §4.2.2),
 * decoding back with and without the resource type, and malformed items. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fmt_testdata.h"
#include "lwm2m/error.h"

static enum lwm2m_type g_type;
static enum lwm2m_type fixed_type(void *ctx, const struct lwm2m_path *p) {
    (void)ctx, (void)p;
    return g_type;
}

static void check(const struct lwm2m_value *v, const char *hex) {
    uint8_t want[64], buf[64];
    size_t wn = hex_to_bytes(hex, want);
    struct lwm2m_path req = P4(1000, 0, 1, 2);
    struct lwm2m_record r = {.path = req, .value = *v};
    int len = encode_records(LWM2M_CT_CBOR, &req, &r, 1, buf, sizeof(buf));
    assert_int_equal(len, (int)wn);
    assert_memory_equal(buf, want, wn);
    struct lwm2m_decode_cfg cfg = {.ct = LWM2M_CT_CBOR, .req = req, .type_of = fixed_type};
    struct lwm2m_record out;
    size_t n;
    g_type = (enum lwm2m_type)v->type;
    assert_int_equal(lwm2m_decode_all(&cfg, want, wn, &out, 1, &n), 0);
    assert_true(lwm2m_value_equal(&out.value, v));
    assert_int_equal(lwm2m_path_cmp(&out.path, &req), 0);
}

static void test_values(void **state) {
    (void)state;
    struct lwm2m_value v = lwm2m_value_int(42);
    check(&v, "182a");
    v = lwm2m_value_int(-500);
    check(&v, "3901f3");
    v = lwm2m_value_int(INT64_MIN);
    check(&v, "3b7fffffffffffffff");
    v = lwm2m_value_uint(UINT64_MAX);
    check(&v, "1bffffffffffffffff");
    v = lwm2m_value_float(1.5);
    check(&v, "f93e00");
    v = lwm2m_value_float(100000.0);
    check(&v, "fa47c35000");
    v = lwm2m_value_float(0.1);
    check(&v, "fb3fb999999999999a");
    v = lwm2m_value_float(1e-7); /* subnormal as a half: written as a single */
    check(&v, "fb3e7ad7f29abcaf48");
    v = lwm2m_value_bool(true);
    check(&v, "f5");
    v = STR("abc");
    check(&v, "63616263");
    v = lwm2m_value_opaque("\x01\x02\x03", 3);
    check(&v, "43010203");
    v = lwm2m_value_time(1367491215);
    check(&v, "c11a5182428f");
    v = lwm2m_value_objlnk(66, 1);
    check(&v, "6436363a31");
    v = lwm2m_value_corelnk("</1>", 4);
    check(&v, "643c2f313e");
}

static void test_natural_types(void **state) {
    (void)state;
    static const struct {
        const char *hex;
        enum lwm2m_type t;
    } cases[] = {{"01", LWM2M_TYPE_INTEGER}, {"1bffffffffffffffff", LWM2M_TYPE_UNSIGNED},
                 {"20", LWM2M_TYPE_INTEGER}, {"f93c00", LWM2M_TYPE_FLOAT},
                 {"f4", LWM2M_TYPE_BOOLEAN}, {"60", LWM2M_TYPE_STRING},
                 {"40", LWM2M_TYPE_OPAQUE},  {"c1fb41d4603e90000000", LWM2M_TYPE_TIME}};
    g_type = LWM2M_TYPE_NONE;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t b[16];
        size_t n = hex_to_bytes(cases[i].hex, b), count;
        struct lwm2m_decode_cfg cfg = {.ct = LWM2M_CT_CBOR, .req = P3(1, 0, 0)};
        struct lwm2m_record out;
        assert_int_equal(lwm2m_decode_all(&cfg, b, n, &out, 1, &count), 0);
        assert_int_equal(out.value.type, cases[i].t);
    }
}

static void test_malformed(void **state) {
    (void)state;
    static const char *bad[] = {
        "",
        "180100",
        "80",
        "a0",
        "c2420102",
        "7f6161ff",
        "7bffffffffffffffff61",
        "5a000000ff01",
        "f7",
        "f6",
        "3bffffffffffffffff",
        "1901",
        "c1c101",
        "c16161",
        "ff",
        "1c",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint8_t b[32];
        size_t n = hex_to_bytes(bad[i], b), count;
        struct lwm2m_decode_cfg cfg = {.ct = LWM2M_CT_CBOR, .req = P3(1, 0, 0)};
        struct lwm2m_record out;
        int rc = lwm2m_decode_all(&cfg, b, n, &out, 1, &count);
        if (rc != LWM2M_ERR_FORMAT) {
            print_error("case %zu (%s) gave %d\n", i, bad[i], rc);
        }
        assert_int_equal(rc, LWM2M_ERR_FORMAT);
    }
    /* a value that does not fit the declared type */
    uint8_t f[] = {0xF9, 0x3E, 0x00};
    struct lwm2m_decode_cfg cfg = {.ct = LWM2M_CT_CBOR, .req = P3(1, 0, 0), .type_of = fixed_type};
    struct lwm2m_record out;
    size_t count;
    g_type = LWM2M_TYPE_INTEGER;
    assert_int_equal(lwm2m_decode_all(&cfg, f, 3, &out, 1, &count), LWM2M_ERR_FORMAT);
    /* encoder: one value only, a resource only */
    uint8_t buf[8];
    struct lwm2m_path inst = lwm2m_path_make(2, 1, 0, 0, 0);
    struct lwm2m_record r = {P3(1, 0, 0), lwm2m_value_int(1), 0, false};
    assert_int_equal(encode_records(LWM2M_CT_CBOR, &inst, &r, 1, buf, 8), LWM2M_ERR_INVALID);
    struct lwm2m_record two[2] = {r, r};
    assert_int_equal(encode_records(LWM2M_CT_CBOR, &r.path, two, 2, buf, 8), LWM2M_ERR_INVALID);
    assert_int_equal(encode_records(LWM2M_CT_CBOR, &r.path, &r, 1, buf, 0), LWM2M_ERR_NOSPACE);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_natural_types),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
