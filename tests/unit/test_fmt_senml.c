/* SPDX-License-Identifier: Apache-2.0 */
/* SenML JSON (110) and SenML CBOR (112) tests. Spec vectors: the Device object instance read of
 * LwM2M 1.1.1 TS Core §7.4.5 (SenML JSON text) and §7.4.6 (SenML CBOR bytes, printed in the
 * specification as the hex dump of the same example). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fmt_testdata.h"
#include "lwm2m/error.h"

static const char DEVICE_SENML_JSON[] =
    "[{\"bn\":\"/3/0/\",\"n\":\"0\",\"vs\":\"Open Mobile Alliance\"},"
    "{\"n\":\"1\",\"vs\":\"Lightweight M2M Client\"},{\"n\":\"2\",\"vs\":\"345000123\"},"
    "{\"n\":\"3\",\"vs\":\"1.0\"},{\"n\":\"6/0\",\"v\":1},{\"n\":\"6/1\",\"v\":5},"
    "{\"n\":\"7/0\",\"v\":3800},{\"n\":\"7/1\",\"v\":5000},{\"n\":\"8/0\",\"v\":125},"
    "{\"n\":\"8/1\",\"v\":900},{\"n\":\"9\",\"v\":100},{\"n\":\"10\",\"v\":15},"
    "{\"n\":\"11/0\",\"v\":0},{\"n\":\"13\",\"v\":1367491215},{\"n\":\"14\",\"vs\":\"+02:00\"},"
    "{\"n\":\"16\",\"vs\":\"U\"}]";

static const char DEVICE_SENML_CBOR_HEX[] =
    "90a321652f332f302f00613003744f70656e204d6f62696c6520416c6c69616e6365a200613103764c696768"
    "74776569676874204d324d20436c69656e74a20061320369333435303030313233a20061330363312e30a20063"
    "362f300201a20063362f310205a20063372f3002190ed8a20063372f3102191388a20063382f3002187da200"
    "63382f3102190384a2006139021864a200623130020fa2006431312f300200a200623133021a5182428fa200"
    "62313403662b30323a3030a200623136036155";

static uint8_t scratch[4096];

static size_t decode(unsigned ct, const struct lwm2m_path *req, const void *p, size_t n,
                     struct lwm2m_record *out, size_t max, int expect) {
    struct lwm2m_decode_cfg cfg = {.ct = ct,
                                   .req = *req,
                                   .type_of = device_type,
                                   .scratch = scratch,
                                   .scratch_cap = sizeof(scratch)};
    size_t count = 0;
    int rc = lwm2m_decode_all(&cfg, p, n, out, max, &count);
    if (rc != expect) {
        print_error("decode gave %d, expected %d\n", rc, expect);
    }
    assert_int_equal(rc, expect);
    return count;
}

static void test_device_senml_json_spec_vector(void **state) {
    (void)state;
    struct lwm2m_record dev[DEVICE_RECORDS], out[32];
    uint8_t buf[1024];
    struct lwm2m_path req = lwm2m_path_make(2, 3, 0, 0, 0);
    device_records(dev);
    int len = encode_records(LWM2M_CT_SENML_JSON, &req, dev, DEVICE_RECORDS, buf, sizeof(buf));
    assert_int_equal(len, (int)strlen(DEVICE_SENML_JSON));
    assert_memory_equal(buf, DEVICE_SENML_JSON, (size_t)len);
    size_t n =
        decode(LWM2M_CT_SENML_JSON, &req, DEVICE_SENML_JSON, strlen(DEVICE_SENML_JSON), out, 32, 0);
    assert_int_equal(n, DEVICE_RECORDS);
    for (size_t i = 0; i < n; i++) {
        assert_true(records_equal(&out[i], &dev[i]));
        assert_false(out[i].has_time);
    }
}

static void test_device_senml_cbor_spec_vector(void **state) {
    (void)state;
    struct lwm2m_record dev[DEVICE_RECORDS], out[32];
    uint8_t want[512], buf[512];
    struct lwm2m_path req = lwm2m_path_make(2, 3, 0, 0, 0);
    size_t wn = hex_to_bytes(DEVICE_SENML_CBOR_HEX, want);
    device_records(dev);
    int len = encode_records(LWM2M_CT_SENML_CBOR, &req, dev, DEVICE_RECORDS, buf, sizeof(buf));
    assert_int_equal(len, (int)wn);
    assert_memory_equal(buf, want, wn);
    size_t n = decode(LWM2M_CT_SENML_CBOR, &req, want, wn, out, 32, 0);
    assert_int_equal(n, DEVICE_RECORDS);
    for (size_t i = 0; i < n; i++) {
        assert_true(records_equal(&out[i], &dev[i]));
    }
    /* CBOR strings are borrowed from the payload, not copied */
    assert_true(out[0].value.v.bytes.ptr >= want && out[0].value.v.bytes.ptr < want + wn);
}

static enum lwm2m_type typed_1000(void *ctx, const struct lwm2m_path *p) {
    const struct lwm2m_record *recs = ctx;
    for (size_t i = 0; recs[i].value.type != LWM2M_TYPE_NONE; i++) {
        if (lwm2m_path_cmp(&recs[i].path, p) == 0) {
            return (enum lwm2m_type)recs[i].value.type;
        }
    }
    return LWM2M_TYPE_NONE;
}

static void roundtrip(unsigned ct, uint8_t depth) {
    static const uint8_t bytes[] = {0xAB, 0xCD, 0xEF, 0x00, 0xFF};
    struct lwm2m_record recs[] = {
        {P3(1000, 0, 0), lwm2m_value_int(INT64_MIN), 0, false},
        {P3(1000, 0, 1), lwm2m_value_int(-1), 0, false},
        {P3(1000, 0, 2), lwm2m_value_uint(UINT64_MAX / 2), 0, false},
        {P3(1000, 0, 3), lwm2m_value_float(22.9), 1.7e9, true},
        {P3(1000, 0, 4), lwm2m_value_float(-1.5e-300), 0, false},
        {P3(1000, 0, 5), lwm2m_value_float(65504.0), 0, false},
        {P3(1000, 0, 6), lwm2m_value_bool(false), 0, false},
        {P3(1000, 0, 7), STR("caf\xc3\xa9 \"q\" \\"), 0, false},
        {P3(1000, 0, 8), lwm2m_value_opaque(bytes, sizeof(bytes)), 0, false},
        {P3(1000, 0, 9), lwm2m_value_time(1700000000), 1700000000.25, true},
        {P3(1000, 0, 10), lwm2m_value_objlnk(65535, 65535), 0, false},
        {P4(1000, 0, 11, 0), lwm2m_value_corelnk("</3/0>;ver=1.1", 14), 0, false},
        {P4(1000, 0, 11, 7), lwm2m_value_opaque(bytes, 0), 0, false},
        {P3(0, 0, 0), {LWM2M_TYPE_NONE, {.i = 0}}, 0, false},
    };
    size_t n = sizeof(recs) / sizeof(recs[0]) - 1;
    uint8_t buf[1024];
    struct lwm2m_record out[20];
    struct lwm2m_path req = lwm2m_path_make(depth, 1000, 0, 0, 0);
    int len = encode_records(ct, &req, recs, n, buf, sizeof(buf));
    assert_true(len > 0);
    struct lwm2m_decode_cfg cfg = {.ct = ct,
                                   .req = req,
                                   .type_of = typed_1000,
                                   .type_ctx = recs,
                                   .scratch = scratch,
                                   .scratch_cap = sizeof(scratch)};
    size_t count = 0;
    assert_int_equal(lwm2m_decode_all(&cfg, buf, (size_t)len, out, 20, &count), 0);
    assert_int_equal(count, n);
    for (size_t i = 0; i < n; i++) {
        assert_true(records_equal(&out[i], &recs[i]));
        assert_int_equal(out[i].has_time, recs[i].has_time);
        if (recs[i].has_time) {
            assert_true(out[i].time == recs[i].time);
        }
    }
}

static void test_roundtrip_all_types(void **state) {
    (void)state;
    for (uint8_t depth = 0; depth <= 2; depth++) {
        roundtrip(LWM2M_CT_SENML_JSON, depth);
        roundtrip(LWM2M_CT_SENML_CBOR, depth);
    }
}

static void test_names_by_request_depth(void **state) {
    (void)state;
    struct lwm2m_record dev[DEVICE_RECORDS];
    char buf[512];
    device_records(dev);
    struct lwm2m_path req = lwm2m_path_make(3, 3, 0, 0, 0);
    int len = encode_records(LWM2M_CT_SENML_JSON, &req, dev, 1, (uint8_t *)buf, sizeof(buf));
    assert_int_equal(len, (int)strlen("[{\"bn\":\"/3/0/0\",\"vs\":\"Open Mobile Alliance\"}]"));
    assert_memory_equal(buf, "[{\"bn\":\"/3/0/0\",\"vs\":\"Open Mobile Alliance\"}]", len);
    req = lwm2m_path_make(3, 3, 0, 7, 0);
    len = encode_records(LWM2M_CT_SENML_JSON, &req, &dev[6], 2, (uint8_t *)buf, sizeof(buf));
    const char *want = "[{\"bn\":\"/3/0/7/\",\"n\":\"0\",\"v\":3800},{\"n\":\"1\",\"v\":5000}]";
    assert_int_equal(len, (int)strlen(want));
    assert_memory_equal(buf, want, len);
    /* composite / Send: absolute names, times, float text that reads back */
    struct lwm2m_record two[2] = {dev[9],
                                  {P3(3303, 0, 5700), lwm2m_value_float(22.9), 1.7e9, true}};
    req = lwm2m_path_make(0, 0, 0, 0, 0);
    len = encode_records(LWM2M_CT_SENML_JSON, &req, two, 2, (uint8_t *)buf, sizeof(buf));
    want = "[{\"n\":\"/3/0/8/1\",\"v\":900},{\"n\":\"/3303/0/5700\",\"v\":22.9,\"t\":1700000000}]";
    assert_int_equal(len, (int)strlen(want));
    assert_memory_equal(buf, want, len);
    /* empty read */
    req = lwm2m_path_make(1, 3, 0, 0, 0);
    assert_int_equal(encode_records(LWM2M_CT_SENML_JSON, &req, dev, 0, (uint8_t *)buf, 8), 2);
    assert_int_equal(encode_records(LWM2M_CT_SENML_CBOR, &req, dev, 0, (uint8_t *)buf, 8), 1);
    assert_int_equal((uint8_t)buf[0], 0x80);
}

static void test_base_fields_and_time(void **state) {
    (void)state;
    /* bn/bt carry over, bn changes mid-list, t is added to bt (RFC 8428 §4.5) */
    const char *js = "[{\"bn\":\"/3303/0/\",\"bt\":1000,\"n\":\"5700\",\"v\":-10.5,\"t\":5},"
                     "{\"n\":\"5701\",\"vs\":\"Cel\"},"
                     "{\"bn\":\"/3/0/\",\"n\":\"9\",\"v\":100,\"u\":\"%\",\"bver\":10}]";
    struct lwm2m_record out[8];
    struct lwm2m_path root = lwm2m_path_make(0, 0, 0, 0, 0);
    assert_int_equal(decode(LWM2M_CT_SENML_JSON, &root, js, strlen(js), out, 8, 0), 3);
    assert_int_equal(out[0].path.ids[0], 3303);
    assert_true(out[0].has_time && out[0].time == 1005.0);
    assert_true(out[1].has_time && out[1].time == 1000.0);
    assert_int_equal(out[1].value.type, LWM2M_TYPE_STRING);
    assert_int_equal(out[2].path.ids[0], 3);
    assert_int_equal(out[2].value.v.i, 100);
    /* SenML CBOR with text label "vlo" and an indefinite array and map */
    const uint8_t cb[] = {0x9F, 0xBF, 0x21, 0x66, '/', '6',  '5', '/', '0', '/', 0x00, 0x61,
                          '0',  0x63, 'v',  'l',  'o', 0x64, '6', '6', ':', '1', 0xFF, 0xFF};
    struct lwm2m_decode_cfg cfg = {.ct = LWM2M_CT_SENML_CBOR, .req = root};
    size_t n;
    assert_int_equal(lwm2m_decode_all(&cfg, cb, sizeof(cb), out, 8, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(out[0].value.type, LWM2M_TYPE_OBJLNK);
    assert_int_equal(out[0].value.v.lnk.inst, 1);
}

static void test_composite_paths(void **state) {
    (void)state;
    const char *js = "[{\"n\":\"/3/0/0\"},{\"n\":\"/3/0/9\"},{\"bn\":\"/1/0/\",\"n\":\"1\"},"
                     "{\"n\":\"/5\"}]";
    struct lwm2m_path paths[8];
    size_t n;
    assert_int_equal(
        lwm2m_decode_paths(LWM2M_CT_SENML_JSON, (const uint8_t *)js, strlen(js), paths, 8, &n),
        LWM2M_ERR_FORMAT); /* bn "/1/0/" + n "/5" is no path */
    js = "[{\"n\":\"/3/0/0\"},{\"n\":\"/3/0/9\"},{\"bn\":\"/1/0/\",\"n\":\"1\"},{\"bn\":\"/5\"}]";
    assert_int_equal(
        lwm2m_decode_paths(LWM2M_CT_SENML_JSON, (const uint8_t *)js, strlen(js), paths, 8, &n), 0);
    assert_int_equal(n, 4);
    assert_int_equal(paths[2].ids[0], 1);
    assert_int_equal(paths[2].ids[2], 1);
    assert_int_equal(paths[3].len, 1);
    /* the encoder writes path lists too (NONE values), and the CBOR decoder reads them back */
    struct lwm2m_record recs[2] = {{P3(3, 0, 0), {0, {.i = 0}}, 0, false},
                                   {lwm2m_path_make(1, 5, 0, 0, 0), {0, {.i = 0}}, 0, false}};
    uint8_t buf[64];
    struct lwm2m_path root = lwm2m_path_make(0, 0, 0, 0, 0);
    int len = encode_records(LWM2M_CT_SENML_CBOR, &root, recs, 2, buf, sizeof(buf));
    assert_true(len > 0);
    assert_int_equal(lwm2m_decode_paths(LWM2M_CT_SENML_CBOR, buf, (size_t)len, paths, 8, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(paths[1].len, 1);
    js = "[{\"n\":\"/3/0/0\",\"v\":1}]";
    assert_int_equal(
        lwm2m_decode_paths(LWM2M_CT_SENML_JSON, (const uint8_t *)js, strlen(js), paths, 8, &n),
        LWM2M_ERR_FORMAT);
    assert_int_equal(lwm2m_decode_paths(LWM2M_CT_TLV, buf, 1, paths, 8, &n), LWM2M_ERR_UNSUPPORTED);
}

static void test_malformed_json(void **state) {
    (void)state;
    const char *bad[] = {
        "",
        "{\"bn\":\"/3/0/\"}",                        /* not SenML: an object */
        "[1]",                                       /* record is no object */
        "[{\"n\":\"/3/0/1\",\"v\":1,\"vs\":\"x\"}]", /* two values */
        "[{\"n\":\"/3/0/65535\",\"v\":1}]",          /* id above 65534 */
        "[{\"n\":\"/3/0/1/2/3\",\"v\":1}]",          /* too deep */
        "[{\"n\":\"/3/x\",\"v\":1}]",                /* not a path */
        "[{\"n\":\"/3/0\",\"v\":1}]",                /* value on an instance */
        "[{\"n\":\"/4/0/1\",\"v\":1}]",              /* outside the request */
        "[{\"n\":3}]",                               /* name is no string */
        "[{\"n\":\"/3/0/9\",\"v\":\"1\"}]",          /* v is no number */
        "[{\"n\":\"/3/0/9\",\"vb\":1}]",             /* vb is no boolean */
        "[{\"n\":\"/3/0/9\",\"vd\":\"@@@\"}]",       /* bad base64 */
        "[{\"n\":\"/3/0/9\",\"v\":1.5}]",            /* 1.5 for an Integer resource */
        "[{\"n\":\"/3/0/0\",\"v\":1}]",              /* number for a String resource */
        "[{\"n\":\"/3/0/9\",\"v\":1,\"x_\":1}]",     /* must-understand label */
        "[{\"n\":\"/3/0/9\",\"v\":1}] x",            /* trailing garbage */
        "[{\"n\":\"/3/0/9\",\"v\":1,\"v\":2}]",      /* duplicate key */
        "[{\"bn\":\"/3/0/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}]",
    };
    struct lwm2m_record out[4];
    struct lwm2m_path req = lwm2m_path_make(1, 3, 0, 0, 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        decode(LWM2M_CT_SENML_JSON, &req, bad[i], strlen(bad[i]), out, 4, LWM2M_ERR_FORMAT);
    }
    /* strings need scratch room */
    const char *ok = "[{\"n\":\"/3/0/0\",\"vs\":\"abcdef\"}]";
    struct lwm2m_decode_cfg cfg = {
        .ct = LWM2M_CT_SENML_JSON, .req = req, .scratch = scratch, .scratch_cap = 5};
    size_t n;
    assert_int_equal(lwm2m_decode_all(&cfg, (const uint8_t *)ok, strlen(ok), out, 4, &n),
                     LWM2M_ERR_NOSPACE);
}

static void test_malformed_cbor(void **state) {
    (void)state;
    static const char *bad[] = {
        "",
        "a0",                               /* a map, not an array */
        "81",                               /* array cut short */
        "8101",                             /* element is no map */
        "81a1",                             /* map cut short */
        "81a200636e3a310263",               /* name is no path, value cut */
        "81a2006a2f332f302f36353533350201", /* id 65535 */
        "81a200662f332f302f390301",         /* vs holding an integer */
        "81a200662f332f302f39046178",       /* vb holding text */
        "81a100820102",                     /* name is an array */
        "81a200662f332f302f39020000",       /* trailing byte */
        "81a2007bffffffffffffffff00",       /* string length overflow */
        "81a200662f332f302f3902c24101",     /* bignum value */
        "9f",                               /* indefinite array without break */
        "81a13903e801",                     /* label far out */
        "81a200662f332f302f3902f97e00",     /* NaN for an Integer resource */
    };
    struct lwm2m_record out[4];
    struct lwm2m_path req = lwm2m_path_make(1, 3, 0, 0, 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint8_t b[64];
        size_t n = hex_to_bytes(bad[i], b);
        struct lwm2m_decode_cfg cfg = {
            .ct = LWM2M_CT_SENML_CBOR, .req = req, .type_of = device_type};
        size_t count;
        int rc = lwm2m_decode_all(&cfg, b, n, out, 4, &count);
        if (rc != LWM2M_ERR_FORMAT) {
            print_error("case %zu (%s) gave %d\n", i, bad[i], rc);
        }
        assert_int_equal(rc, LWM2M_ERR_FORMAT);
    }
}

static void test_encoder_errors(void **state) {
    (void)state;
    struct lwm2m_record dev[DEVICE_RECORDS];
    uint8_t buf[600];
    device_records(dev);
    struct lwm2m_path req = lwm2m_path_make(2, 3, 0, 0, 0);
    for (size_t cap = 0; cap < 384; cap += 7) {
        assert_int_equal(encode_records(LWM2M_CT_SENML_JSON, &req, dev, DEVICE_RECORDS, buf, cap),
                         LWM2M_ERR_NOSPACE);
    }
    for (size_t cap = 0; cap < 196; cap++) {
        memset(buf, 0xEE, sizeof(buf));
        assert_int_equal(encode_records(LWM2M_CT_SENML_CBOR, &req, dev, DEVICE_RECORDS, buf, cap),
                         LWM2M_ERR_NOSPACE);
        assert_int_equal(buf[cap], 0xEE);
    }
    struct lwm2m_record nan = {P3(3, 0, 9), lwm2m_value_float(0.0 / 0.0), 0, false};
    assert_int_equal(encode_records(LWM2M_CT_SENML_JSON, &req, &nan, 1, buf, sizeof(buf)),
                     LWM2M_ERR_INVALID);
    assert_true(encode_records(LWM2M_CT_SENML_CBOR, &req, &nan, 1, buf, sizeof(buf)) > 0);
    struct lwm2m_record bad_utf8 = {P3(3, 0, 0), STR("\xff"), 0, false};
    assert_int_equal(encode_records(LWM2M_CT_SENML_JSON, &req, &bad_utf8, 1, buf, sizeof(buf)),
                     LWM2M_ERR_INVALID);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_device_senml_json_spec_vector),
        cmocka_unit_test(test_device_senml_cbor_spec_vector),
        cmocka_unit_test(test_roundtrip_all_types),
        cmocka_unit_test(test_names_by_request_depth),
        cmocka_unit_test(test_base_fields_and_time),
        cmocka_unit_test(test_composite_paths),
        cmocka_unit_test(test_malformed_json),
        cmocka_unit_test(test_malformed_cbor),
        cmocka_unit_test(test_encoder_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
