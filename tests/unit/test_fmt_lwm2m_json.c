/* SPDX-License-Identifier: Apache-2.0 */
/* LwM2M JSON 1.0 (11543) tests. Spec vector: the Device object instance read of LwM2M 1.0.2 TS
 * §6.4.4 ({"bn":"/3/0/","e":[{"n":"0","sv":"Open Mobile Alliance"},...]}), as reproduced in
 * Eclipse Leshan's codec tests, plus its variants with bn "/" and without bn. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fmt_testdata.h"
#include "lwm2m/error.h"

static const char DEVICE_JSON[] =
    "{\"bn\":\"/3/0/\",\"e\":[{\"n\":\"0\",\"sv\":\"Open Mobile Alliance\"},"
    "{\"n\":\"1\",\"sv\":\"Lightweight M2M Client\"},{\"n\":\"2\",\"sv\":\"345000123\"},"
    "{\"n\":\"3\",\"sv\":\"1.0\"},{\"n\":\"6/0\",\"v\":1},{\"n\":\"6/1\",\"v\":5},"
    "{\"n\":\"7/0\",\"v\":3800},{\"n\":\"7/1\",\"v\":5000},{\"n\":\"8/0\",\"v\":125},"
    "{\"n\":\"8/1\",\"v\":900},{\"n\":\"9\",\"v\":100},{\"n\":\"10\",\"v\":15},"
    "{\"n\":\"11/0\",\"v\":0},{\"n\":\"13\",\"v\":1367491215},{\"n\":\"14\",\"sv\":\"+02:00\"},"
    "{\"n\":\"16\",\"sv\":\"U\"}]}";

static uint8_t scratch[2048];

static int decode(const struct lwm2m_path *req, const char *js, struct lwm2m_record *out,
                  size_t max, size_t *n) {
    struct lwm2m_decode_cfg cfg = {.ct = LWM2M_CT_LWM2M_JSON,
                                   .req = *req,
                                   .type_of = device_type,
                                   .scratch = scratch,
                                   .scratch_cap = sizeof(scratch)};
    return lwm2m_decode_all(&cfg, (const uint8_t *)js, strlen(js), out, max, n);
}

static void test_device_spec_vector(void **state) {
    (void)state;
    struct lwm2m_record dev[DEVICE_RECORDS], out[32];
    uint8_t buf[1024];
    size_t n;
    struct lwm2m_path req = lwm2m_path_make(2, 3, 0, 0, 0);
    device_records(dev);
    int len = encode_records(LWM2M_CT_LWM2M_JSON, &req, dev, DEVICE_RECORDS, buf, sizeof(buf));
    assert_int_equal(len, (int)strlen(DEVICE_JSON));
    assert_memory_equal(buf, DEVICE_JSON, (size_t)len);
    assert_int_equal(decode(&req, DEVICE_JSON, out, 32, &n), 0);
    assert_int_equal(n, DEVICE_RECORDS);
    for (size_t i = 0; i < n; i++) {
        assert_true(records_equal(&out[i], &dev[i]));
    }
    const char *rootbn = "{\"bn\":\"/\",\"e\":[{\"n\":\"3/0/0\",\"sv\":\"Open Mobile Alliance\"},"
                         "{\"n\":\"3/0/6/1\",\"v\":5},{\"n\":\"3/0/13\",\"v\":1367491215}]}";
    assert_int_equal(decode(&req, rootbn, out, 32, &n), 0);
    assert_int_equal(n, 3);
    assert_true(records_equal(&out[1], &dev[5]));
    assert_true(records_equal(&out[2], &dev[13]));
    const char *nobn = "{\"e\":[{\"n\":\"/3/0/16\",\"sv\":\"U\"}]}";
    assert_int_equal(decode(&req, nobn, out, 32, &n), 0);
    assert_true(records_equal(&out[0], &dev[15]));
}

static void test_timestamps_and_types(void **state) {
    (void)state;
    /* the 1.0 example of a resource with historical values (bt + t) */
    const char *js = "{\"bn\":\"/3/0/9\",\"e\":[{\"v\":22,\"t\":-30},{\"v\":24,\"t\":-5}],"
                     "\"bt\":25462634}";
    struct lwm2m_record out[4];
    size_t n;
    struct lwm2m_path req = P3(3, 0, 9);
    assert_int_equal(decode(&req, js, out, 4, &n), 0);
    assert_int_equal(n, 2);
    assert_true(out[0].has_time && out[0].time == 25462604.0);
    assert_int_equal(out[1].value.v.i, 24);
    /* every type out and back; Opaque as base64 in "sv", Objlnk in "ov", bv */
    static const uint8_t raw[] = {1, 2, 3, 4, 5};
    struct lwm2m_record recs[] = {
        {P3(1000, 0, 0), lwm2m_value_bool(true), 0, false},
        {P3(1000, 0, 1), lwm2m_value_objlnk(66, 1), 12.5, true},
        {P3(1000, 0, 2), lwm2m_value_opaque(raw, 5), 0, false},
        {P3(1000, 0, 3), lwm2m_value_float(-0.25), 0, false},
        {P3(1000, 0, 4), STR("x\"y"), 0, false},
    };
    uint8_t buf[512];
    req = lwm2m_path_make(1, 1000, 0, 0, 0);
    int len = encode_records(LWM2M_CT_LWM2M_JSON, &req, recs, 5, buf, sizeof(buf));
    const char *want =
        "{\"bn\":\"/1000/\",\"e\":[{\"n\":\"0/0\",\"bv\":true},"
        "{\"n\":\"0/1\",\"ov\":\"66:1\",\"t\":12.5},{\"n\":\"0/2\",\"sv\":\"AQIDBAU=\"},"
        "{\"n\":\"0/3\",\"v\":-0.25},{\"n\":\"0/4\",\"sv\":\"x\\\"y\"}]}";
    assert_int_equal(len, (int)strlen(want));
    assert_memory_equal(buf, want, (size_t)len);
}

static enum lwm2m_type opaque_2(void *ctx, const struct lwm2m_path *p) {
    (void)ctx;
    return p->ids[2] == 2 ? LWM2M_TYPE_OPAQUE : p->ids[2] == 3 ? LWM2M_TYPE_FLOAT : LWM2M_TYPE_NONE;
}

static void test_opaque_needs_type(void **state) {
    (void)state;
    const char *js = "{\"bn\":\"/1000/0/\",\"e\":[{\"n\":\"2\",\"sv\":\"AQIDBAU=\"},"
                     "{\"n\":\"3\",\"v\":2}]}";
    struct lwm2m_decode_cfg cfg = {.ct = LWM2M_CT_LWM2M_JSON,
                                   .req = lwm2m_path_make(2, 1000, 0, 0, 0),
                                   .type_of = opaque_2,
                                   .scratch = scratch,
                                   .scratch_cap = sizeof(scratch)};
    struct lwm2m_record out[4];
    size_t n;
    assert_int_equal(lwm2m_decode_all(&cfg, (const uint8_t *)js, strlen(js), out, 4, &n), 0);
    assert_int_equal(out[0].value.type, LWM2M_TYPE_OPAQUE);
    assert_int_equal(out[0].value.v.bytes.len, 5);
    assert_int_equal(out[1].value.type, LWM2M_TYPE_FLOAT);
    assert_true(out[1].value.v.f == 2.0);
}

static void test_malformed(void **state) {
    (void)state;
    const char *bad[] = {
        "[]",
        "{}",
        "{\"e\":{}}",
        "{\"bn\":3,\"e\":[]}",
        "{\"bt\":\"x\",\"e\":[]}",
        "{\"e\":[1]}",
        "{\"e\":[{\"n\":1,\"v\":1}]}",
        "{\"e\":[{\"n\":\"/3/0/9\",\"t\":\"x\"}]}",
        "{\"e\":[{\"n\":\"/3/0/9\",\"v\":1,\"bv\":true}]}",
        "{\"e\":[{\"n\":\"/3/0/9\",\"v\":true}]}",
        "{\"e\":[{\"n\":\"/3/0/9\",\"bv\":1}]}",
        "{\"e\":[{\"n\":\"/3/0/0\",\"sv\":1}]}",
        "{\"e\":[{\"n\":\"/3/0/0\",\"ov\":\"1\"}]}",
        "{\"e\":[{\"n\":\"/3/1/0\",\"sv\":\"a\"}]}",
        "{\"bn\":\"/3/0/\",\"e\":[{\"n\":\"70000\",\"v\":1}]}",
        "{\"e\":[{\"n\":\"/3/0/9\",\"v\":1}]",
    };
    struct lwm2m_record out[4];
    size_t n;
    struct lwm2m_path req = lwm2m_path_make(2, 3, 0, 0, 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = decode(&req, bad[i], out, 4, &n);
        if (rc != LWM2M_ERR_FORMAT) {
            print_error("case %zu gave %d\n", i, rc);
        }
        assert_int_equal(rc, LWM2M_ERR_FORMAT);
    }
    uint8_t buf[64];
    struct lwm2m_record dev[DEVICE_RECORDS];
    device_records(dev);
    assert_int_equal(encode_records(LWM2M_CT_LWM2M_JSON, &req, dev, 0, buf, sizeof(buf)), 21);
    assert_memory_equal(buf, "{\"bn\":\"/3/0/\",\"e\":[]}", 21);
    for (size_t cap = 0; cap < 50; cap++) {
        assert_int_equal(encode_records(LWM2M_CT_LWM2M_JSON, &req, dev, 1, buf, cap),
                         LWM2M_ERR_NOSPACE);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_device_spec_vector),
        cmocka_unit_test(test_timestamps_and_types),
        cmocka_unit_test(test_opaque_needs_type),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
