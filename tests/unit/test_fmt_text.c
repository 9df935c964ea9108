/* SPDX-License-Identifier: Apache-2.0 */
/* Plain text (0) and opaque (42) tests. Spec vectors: LwM2M 1.0.2 TS §6.4.1 (GET /3/0/0 gives
 * "Open Mobile Alliance") and 1.1.1 TS Core Appendix C Table C-2 (Opaque in text is base64:
 * {0x01..0x05} is "AQIDBAU="; Time as integer seconds; Boolean "0"/"1"; Objlnk "O:I"). */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fmt_internal.h"
#include "fmt_testdata.h"
#include "lwm2m/error.h"

static uint8_t scratch[256];
static enum lwm2m_type g_type;

static enum lwm2m_type fixed_type(void *ctx, const struct lwm2m_path *p) {
    (void)ctx, (void)p;
    return g_type;
}

static void expect_text(const struct lwm2m_value *v, const char *want) {
    uint8_t buf[64];
    struct lwm2m_path req = P3(1000, 0, 1);
    struct lwm2m_record r = {.path = req, .value = *v};
    int len = encode_records(LWM2M_CT_TEXT, &req, &r, 1, buf, sizeof(buf));
    assert_int_equal(len, (int)strlen(want));
    assert_memory_equal(buf, want, (size_t)len);
    /* and back */
    struct lwm2m_decode_cfg cfg = {.ct = LWM2M_CT_TEXT,
                                   .req = req,
                                   .type_of = fixed_type,
                                   .scratch = scratch,
                                   .scratch_cap = sizeof(scratch)};
    struct lwm2m_record out;
    size_t n;
    g_type = (enum lwm2m_type)v->type;
    assert_int_equal(lwm2m_decode_all(&cfg, buf, (size_t)len, &out, 1, &n), 0);
    assert_true(lwm2m_value_equal(&out.value, v));
}

static void test_text_values(void **state) {
    (void)state;
    struct lwm2m_value v = STR("Open Mobile Alliance");
    expect_text(&v, "Open Mobile Alliance");
    v = lwm2m_value_opaque("\x01\x02\x03\x04\x05", 5);
    expect_text(&v, "AQIDBAU=");
    v = lwm2m_value_time(1367491215);
    expect_text(&v, "1367491215");
    v = lwm2m_value_bool(true);
    expect_text(&v, "1");
    v = lwm2m_value_objlnk(66, 0);
    expect_text(&v, "66:0");
    v = lwm2m_value_int(INT64_MIN);
    expect_text(&v, "-9223372036854775808");
    v = lwm2m_value_uint(UINT64_MAX);
    expect_text(&v, "18446744073709551615");
    v = lwm2m_value_float(22.9);
    expect_text(&v, "22.9");
    v = lwm2m_value_float(0.1 + 0.2);
    expect_text(&v, "0.30000000000000004");
    v = lwm2m_value_float(5.0);
    expect_text(&v, "5");
    /* Whole numbers keep their integer digits rather than turning into "3e+01". */
    v = lwm2m_value_float(30.0);
    expect_text(&v, "30");
    v = lwm2m_value_float(-1200.0);
    expect_text(&v, "-1200");
    v = lwm2m_value_float(1.5e20);
    expect_text(&v, "1.5e+20");
    v = lwm2m_value_float(-1.5e-300);
    expect_text(&v, "-1.5e-300");
    v = lwm2m_value_corelnk("</3/0>", 6);
    expect_text(&v, "</3/0>");
    v = STR("");
    expect_text(&v, "");
}

static void test_text_decode_untyped_and_helpers(void **state) {
    (void)state;
    struct lwm2m_decode_cfg cfg = {.ct = LWM2M_CT_LEGACY_TEXT, .req = P3(3, 0, 0)};
    struct lwm2m_record out;
    size_t n;
    assert_int_equal(lwm2m_decode_all(&cfg, (const uint8_t *)"abc", 3, &out, 1, &n), 0);
    assert_int_equal(out.value.type, LWM2M_TYPE_STRING);
    struct lwm2m_value v;
    assert_int_equal(lwm2m_text_value((const uint8_t *)"-42", 3, LWM2M_TYPE_INTEGER, &v), 0);
    assert_int_equal(v.v.i, -42);
    assert_int_equal(lwm2m_text_value((const uint8_t *)"1e3", 3, LWM2M_TYPE_FLOAT, &v), 0);
    assert_true(v.v.f == 1000.0);
    static const struct {
        const char *s;
        enum lwm2m_type t;
    } bad[] = {
        {"", LWM2M_TYPE_INTEGER},
        {"12a", LWM2M_TYPE_INTEGER},
        {" 1", LWM2M_TYPE_INTEGER},
        {"1.5", LWM2M_TYPE_INTEGER},
        {"9223372036854775808", LWM2M_TYPE_INTEGER},
        {"-1", LWM2M_TYPE_UNSIGNED},
        {"18446744073709551616", LWM2M_TYPE_UNSIGNED},
        {"nan", LWM2M_TYPE_FLOAT},
        {"1e999", LWM2M_TYPE_FLOAT},
        {"0x10", LWM2M_TYPE_FLOAT},
        {"2", LWM2M_TYPE_BOOLEAN},
        {"true", LWM2M_TYPE_BOOLEAN},
        {"3", LWM2M_TYPE_OBJLNK},
        {"1.0", LWM2M_TYPE_TIME},
        {"x", LWM2M_TYPE_OPAQUE},
        {"11111111111111111111111111111111111111111111111111111111111111111111", LWM2M_TYPE_FLOAT},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(
            lwm2m_text_value((const uint8_t *)bad[i].s, strlen(bad[i].s), bad[i].t, &v),
            LWM2M_ERR_FORMAT);
    }
}

static void test_text_errors(void **state) {
    (void)state;
    uint8_t buf[64];
    struct lwm2m_path req = P3(1000, 0, 1);
    struct lwm2m_record two[2] = {{req, lwm2m_value_int(1), 0, false},
                                  {req, lwm2m_value_int(2), 0, false}};
    assert_int_equal(encode_records(LWM2M_CT_TEXT, &req, two, 2, buf, sizeof(buf)),
                     LWM2M_ERR_INVALID);
    struct lwm2m_record inf = {req, lwm2m_value_float(1.0 / 0.0), 0, false};
    assert_int_equal(encode_records(LWM2M_CT_TEXT, &req, &inf, 1, buf, sizeof(buf)),
                     LWM2M_ERR_INVALID);
    struct lwm2m_record none = {req, {LWM2M_TYPE_NONE, {.i = 0}}, 0, false};
    assert_int_equal(encode_records(LWM2M_CT_TEXT, &req, &none, 1, buf, sizeof(buf)),
                     LWM2M_ERR_INVALID);
    struct lwm2m_record s = {req, STR("hello"), 0, false};
    assert_int_equal(encode_records(LWM2M_CT_TEXT, &req, &s, 1, buf, 4), LWM2M_ERR_NOSPACE);
    struct lwm2m_record o = {req, lwm2m_value_opaque("abcd", 4), 0, false};
    assert_int_equal(encode_records(LWM2M_CT_TEXT, &req, &o, 1, buf, 7), LWM2M_ERR_NOSPACE);
    /* base64 needs scratch; bad base64 is malformed */
    struct lwm2m_decode_cfg cfg = {.ct = LWM2M_CT_TEXT, .req = req, .type_of = fixed_type};
    struct lwm2m_record out;
    size_t n;
    g_type = LWM2M_TYPE_OPAQUE;
    assert_int_equal(lwm2m_decode_all(&cfg, (const uint8_t *)"AQIDBAU=", 8, &out, 1, &n),
                     LWM2M_ERR_NOSPACE);
    cfg.scratch = scratch, cfg.scratch_cap = sizeof(scratch);
    const char *b64bad[] = {"AQIDB", "A===", "AQ=D", "AQID!AU=", "AR=="};
    for (size_t i = 0; i < sizeof(b64bad) / sizeof(b64bad[0]); i++) {
        assert_int_equal(
            lwm2m_decode_all(&cfg, (const uint8_t *)b64bad[i], strlen(b64bad[i]), &out, 1, &n),
            LWM2M_ERR_FORMAT);
    }
    /* text on an instance is not a thing */
    cfg.req = lwm2m_path_make(2, 3, 0, 0, 0);
    assert_int_equal(lwm2m_decode_all(&cfg, (const uint8_t *)"1", 1, &out, 1, &n),
                     LWM2M_ERR_FORMAT);
}

static void test_opaque(void **state) {
    (void)state;
    uint8_t buf[16];
    struct lwm2m_path req = P3(5, 0, 0);
    struct lwm2m_record r = {req, lwm2m_value_opaque("\x00\xff", 2), 0, false};
    assert_int_equal(encode_records(LWM2M_CT_OPAQUE, &req, &r, 1, buf, sizeof(buf)), 2);
    assert_int_equal(buf[1], 0xFF);
    struct lwm2m_record s = {req, STR("x"), 0, false};
    assert_int_equal(encode_records(LWM2M_CT_OPAQUE, &req, &s, 1, buf, sizeof(buf)),
                     LWM2M_ERR_INVALID);
    struct lwm2m_decode_cfg cfg = {.ct = LWM2M_CT_LEGACY_OPAQUE, .req = req};
    struct lwm2m_record out;
    size_t n;
    assert_int_equal(lwm2m_decode_all(&cfg, buf, 2, &out, 1, &n), 0);
    assert_ptr_equal(out.value.v.bytes.ptr, buf); /* borrowed */
    cfg.type_of = fixed_type;
    g_type = LWM2M_TYPE_INTEGER;
    assert_int_equal(lwm2m_decode_all(&cfg, buf, 2, &out, 1, &n), LWM2M_ERR_FORMAT);
}

static void test_negotiation(void **state) {
    (void)state;
    struct lwm2m_path obj = lwm2m_path_make(1, 3, 0, 0, 0), res = P3(3, 0, 0), ri = P4(3, 0, 6, 0),
                      root = lwm2m_path_make(0, 0, 0, 0, 0);
    assert_true(lwm2m_fmt_supports(LWM2M_CT_TEXT, &res, false, LWM2M_TYPE_STRING));
    assert_false(lwm2m_fmt_supports(LWM2M_CT_TEXT, &res, true, LWM2M_TYPE_INTEGER));
    assert_true(lwm2m_fmt_supports(LWM2M_CT_TEXT, &ri, false, LWM2M_TYPE_INTEGER));
    assert_false(lwm2m_fmt_supports(LWM2M_CT_TEXT, &obj, false, LWM2M_TYPE_NONE));
    assert_false(lwm2m_fmt_supports(LWM2M_CT_TEXT, &res, false, LWM2M_TYPE_NONE));
    assert_true(lwm2m_fmt_supports(LWM2M_CT_OPAQUE, &res, false, LWM2M_TYPE_OPAQUE));
    assert_false(lwm2m_fmt_supports(LWM2M_CT_OPAQUE, &res, false, LWM2M_TYPE_STRING));
    assert_true(lwm2m_fmt_supports(LWM2M_CT_LEGACY_TLV, &obj, false, LWM2M_TYPE_NONE));
    assert_false(lwm2m_fmt_supports(LWM2M_CT_TLV, &root, false, LWM2M_TYPE_NONE));
    assert_true(lwm2m_fmt_supports(LWM2M_CT_SENML_CBOR, &root, false, LWM2M_TYPE_NONE));
    assert_false(lwm2m_fmt_supports(LWM2M_CT_LINK, &obj, false, LWM2M_TYPE_NONE));
    assert_false(lwm2m_fmt_supports(50, &obj, false, LWM2M_TYPE_NONE));
    assert_int_equal(lwm2m_fmt_default(0, &obj, false, LWM2M_TYPE_NONE), LWM2M_CT_TLV);
    assert_int_equal(lwm2m_fmt_default(1, &obj, false, LWM2M_TYPE_NONE), LWM2M_CT_SENML_CBOR);
    assert_int_equal(lwm2m_fmt_default(2, &res, true, LWM2M_TYPE_INTEGER), LWM2M_CT_SENML_CBOR);
    assert_int_equal(lwm2m_fmt_default(0, &res, true, LWM2M_TYPE_INTEGER), LWM2M_CT_TLV);
    assert_int_equal(lwm2m_fmt_default(0, &res, false, LWM2M_TYPE_STRING), LWM2M_CT_TEXT);
    assert_int_equal(lwm2m_fmt_default(1, &ri, false, LWM2M_TYPE_OPAQUE), LWM2M_CT_OPAQUE);
    assert_int_equal(lwm2m_ct_normalize(1542), LWM2M_CT_TLV);
    assert_int_equal(lwm2m_ct_normalize(1543), LWM2M_CT_LWM2M_JSON);
    assert_int_equal(lwm2m_ct_normalize(50), LWM2M_ERR_UNSUPPORTED);
    assert_string_equal(lwm2m_ct_name(11544), "lwm2m+cbor");
    struct lwm2m_encoder e;
    uint8_t buf[4];
    assert_int_equal(lwm2m_encoder_init(&e, LWM2M_CT_LINK, &obj, buf, 4), LWM2M_ERR_UNSUPPORTED);
    assert_int_equal(lwm2m_encoder_init(&e, 9999, &obj, buf, 4), LWM2M_ERR_UNSUPPORTED);
    struct lwm2m_decode_cfg cfg = {.ct = 50};
    assert_int_equal(lwm2m_decode(&cfg, buf, 1, NULL, NULL), LWM2M_ERR_UNSUPPORTED);
}

/* ---- shortest round-trip floats: the fast path must print what the plain search printed ---- */

/* The original algorithm, kept as the reference: the first "%.*g" precision that reads back,
 * raised to the integer digits below 1e17. */
static int ref_precision(double v) {
    char tmp[40];
    int prec = 1;
    for (; prec < 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    double mag = fabs(v);
    if (isfinite(v) && mag >= 1.0 && mag < 1e17) {
        int digits = (int)floor(log10(mag)) + 1;
        if (digits > prec)
            prec = digits > 17 ? 17 : digits;
    }
    return prec;
}

static void check_double(double v) {
    char got[48], want[48];
    int prec = ref_precision(v);
    snprintf(want, sizeof(want), "%.*g", prec, v);
    int n = lwm2m_fmt_double(v, got, sizeof(got));
    if (n != (int)strlen(want) || strcmp(got, want) != 0 || lwm2m_double_precision(v) != prec)
        fail_msg("%.17g: got \"%s\" prec %d, want \"%s\" prec %d", v, got,
                 lwm2m_double_precision(v), want, prec);
    assert_true(strtod(got, NULL) == v); /* exact: reads back as the same double */
}

static uint64_t xorshift(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void test_double_edges(void **state) {
    (void)state;
    static const double edge[] = {
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.1,
        0.2,
        0.3,
        0.1 + 0.2,
        22.9,
        22.5,
        2.5,
        0.5,
        0.05,
        0.005,
        0.0005,
        0.001,
        0.00099999999999999999,
        0.0010000000000000002,
        9.5,
        99.5,
        0.95,
        1e-3,
        1e-4,
        1e-5,
        123456.0,
        1234567.5,
        1e15,
        1e15 + 0.5,
        1e16,
        1e17,
        1e22,
        1e23,
        4503599627370495.5,
        4503599627370496.0,
        4503599627370497.0,
        2251799813685247.5,
        9007199254740991.0,
        9007199254740993.0,
        0.30000000000000004,
        2.675,
        1.005,
        1.0049999999999999,
        0.07,
        8.589973e9,
        5e-324,
        DBL_MIN,
        DBL_MAX,
        DBL_EPSILON,
        1.0 + DBL_EPSILON,
        1.0 - DBL_EPSILON / 2,
        9.999999999999999,
        99.99999999999999,
        0.9999999999999999,
        (double)0.1f,
        (double)22.9f,
        (double)FLT_MAX,
        (double)FLT_MIN,
        (double)3.4028235e38f,
        (double)1.17549435e-38f,
        (double)16777217.0f,
        (double)-273.15f,
        273.15,
        -273.15,
        123.456,
        1e-3 + 1e-18,
        0.123456789012345,
        0.1234567890123456,
        1234567890.12345,
    };
    for (size_t i = 0; i < sizeof(edge) / sizeof(edge[0]); i++) {
        check_double(edge[i]);
        check_double(-edge[i]);
        check_double(nextafter(edge[i], 0.0));
        check_double(nextafter(edge[i], INFINITY));
    }
    /* around every power of ten and every half step the fast path handles */
    for (int e = -6; e <= 17; e++) {
        double t = pow(10.0, e);
        for (int j = -3; j <= 3; j++) {
            double x = t;
            for (int s = 0; s < (j < 0 ? -j : j); s++)
                x = nextafter(x, j < 0 ? 0.0 : INFINITY);
            check_double(x);
            check_double(t * 0.5 + x - t);
        }
    }
}

/* Random decimals with few digits (the fast path's domain), random bit patterns (mostly the
 * fallback) and float32 values widened to double, each against the reference. */
static void test_double_random(void **state) {
    (void)state;
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 40000; i++) {
        uint64_t r = xorshift(&seed);
        int digits = 1 + (int)(r % 16), frac = (int)((r >> 8) % 19);
        uint64_t mant = xorshift(&seed) % (uint64_t)pow(10.0, digits);
        char txt[48];
        snprintf(txt, sizeof(txt), "%s%llue-%d", (r >> 20) & 1 ? "-" : "", (unsigned long long)mant,
                 frac);
        check_double(strtod(txt, NULL));
        uint64_t bits = xorshift(&seed);
        double d;
        memcpy(&d, &bits, sizeof(d));
        if (isfinite(d))
            check_double(d);
        uint32_t fb = (uint32_t)xorshift(&seed);
        float f;
        memcpy(&f, &fb, sizeof(f));
        if (isfinite(f))
            check_double((double)f);
        check_double((double)(int64_t)(xorshift(&seed) >> (r % 64)));
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_values),
        cmocka_unit_test(test_text_decode_untyped_and_helpers),
        cmocka_unit_test(test_text_errors),
        cmocka_unit_test(test_opaque),
        cmocka_unit_test(test_negotiation),
        cmocka_unit_test(test_double_edges),
        cmocka_unit_test(test_double_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
