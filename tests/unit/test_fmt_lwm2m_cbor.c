/* SPDX-License-Identifier: Apache-2.0 */
/* LwM2M CBOR (11544, LwM2M 1.2 TS Core §7.4.7) tests. The specification shows the format by
 * diagnostic notation rather than bytes, so the vectors here are built by hand from its rules:
 * nested maps from the root, keys one id or an array of ids, definite or indefinite lengths,
 * Time as tag 1, Objlnk as "O:I" text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fmt_testdata.h"
#include "lwm2m/error.h"

/* {[3, 0]: {0: "Open Mobile Alliance", 1: ..., 6: {0: 1, 1: 5}, ..., 13: 1(1367491215), ...}}
 * with indefinite maps, as our encoder writes it. */
static const char DEVICE_HEX[] =
    "bf820300bf00744f70656e204d6f62696c6520416c6c69616e636501764c69676874776569676874204d324d2043"
    "6c69656e74026933343530303031323303"
    "63312e30"
    "06bf00010105ff"
    "07bf00190ed8011913"
    "88ff"
    "08bf00187d01190384ff"
    "091864"
    "0a0f"
    "0bbf0000ff"
    "0dc11a5182428f"
    "0e662b30323a3030"
    "106155"
    "ffff";

static size_t decode(const struct lwm2m_path *req, const uint8_t *p, size_t n,
                     struct lwm2m_record *out, size_t max, int expect) {
    struct lwm2m_decode_cfg cfg = {.ct = LWM2M_CT_LWM2M_CBOR, .req = *req, .type_of = device_type};
    size_t count = 0;
    int rc = lwm2m_decode_all(&cfg, p, n, out, max, &count);
    assert_int_equal(rc, expect);
    return count;
}

static void test_device(void **state) {
    (void)state;
    struct lwm2m_record dev[DEVICE_RECORDS], out[32];
    uint8_t want[256], buf[256];
    struct lwm2m_path req = lwm2m_path_make(2, 3, 0, 0, 0);
    size_t wn = hex_to_bytes(DEVICE_HEX, want);
    device_records(dev);
    int len = encode_records(LWM2M_CT_LWM2M_CBOR, &req, dev, DEVICE_RECORDS, buf, sizeof(buf));
    assert_int_equal(len, (int)wn);
    assert_memory_equal(buf, want, wn);
    assert_int_equal(decode(&req, want, wn, out, 32, 0), DEVICE_RECORDS);
    for (size_t i = 0; i < DEVICE_RECORDS; i++) {
        assert_true(records_equal(&out[i], &dev[i]));
    }
    /* read on the object: {3: {0: {...}}} */
    req = lwm2m_path_make(1, 3, 0, 0, 0);
    len = encode_records(LWM2M_CT_LWM2M_CBOR, &req, dev, DEVICE_RECORDS, buf, sizeof(buf));
    assert_int_equal(buf[0], 0xBF);
    assert_int_equal(buf[1], 0x03);
    assert_int_equal(buf[2], 0xBF);
    assert_int_equal(decode(&req, buf, (size_t)len, out, 32, 0), DEVICE_RECORDS);
    assert_true(records_equal(&out[12], &dev[12]));
    /* single resource: {[3, 0, 9]: 100}; composite root: {3: {0: {9: 100, 10: 15}}} */
    req = P3(3, 0, 9);
    len = encode_records(LWM2M_CT_LWM2M_CBOR, &req, &dev[10], 1, buf, sizeof(buf));
    assert_int_equal(len, 8);
    assert_memory_equal(buf, "\xbf\x83\x03\x00\x09\x18\x64\xff", 8);
    req = lwm2m_path_make(0, 0, 0, 0, 0);
    len = encode_records(LWM2M_CT_LWM2M_CBOR, &req, &dev[10], 2, buf, sizeof(buf));
    assert_int_equal(len, 13);
    assert_memory_equal(buf, "\xbf\x03\xbf\x00\xbf\x09\x18\x64\x0a\x0f\xff\xff\xff", 13);
    assert_int_equal(encode_records(LWM2M_CT_LWM2M_CBOR, &req, dev, 0, buf, sizeof(buf)), 2);
}

static void test_key_shapes(void **state) {
    (void)state;
    /* {[13, 26, 1]: 42} in five spellings */
    static const char *shapes[] = {
        "a1830d181a01182a",         "bf9f0d181a01ff182aff",     "a10da1181aa101182a",
        "bf0dbf181abf01182affffff", "a1810da181181aa18101182a",
    };
    struct lwm2m_path req = P3(13, 26, 1);
    for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
        uint8_t b[32];
        struct lwm2m_record out[2];
        size_t n = hex_to_bytes(shapes[i], b);
        if (i == 1) {
            /* an indefinite array as a key is not accepted: keys are short definite arrays */
            decode(&req, b, n, out, 2, LWM2M_ERR_FORMAT);
            continue;
        }
        assert_int_equal(decode(&req, b, n, out, 2, 0), 1);
        assert_int_equal(lwm2m_path_cmp(&out[0].path, &req), 0);
        assert_int_equal(out[0].value.v.i, 42);
    }
    /* {[13, 26]: {1: 42, [2]: 21}, [13, 26, 3]: null} */
    uint8_t b[32];
    struct lwm2m_record out[4];
    size_t n = hex_to_bytes("a2820d181aa201182a810215830d181a03f6", b);
    req = lwm2m_path_make(2, 13, 26, 0, 0);
    assert_int_equal(decode(&req, b, n, out, 4, 0), 3);
    assert_int_equal(out[1].path.ids[2], 2);
    assert_int_equal(out[1].value.v.i, 21);
    assert_int_equal(out[2].value.type, LWM2M_TYPE_NONE);
}

static void test_roundtrip_all_types(void **state) {
    (void)state;
    struct lwm2m_record recs[] = {
        {P3(1000, 0, 0), lwm2m_value_int(-7), 0, false},
        {P4(1000, 0, 1, 0), lwm2m_value_uint(UINT64_MAX), 0, false},
        {P4(1000, 0, 1, 9), lwm2m_value_float(3.25), 0, false},
        {P3(1000, 0, 2), lwm2m_value_bool(false), 0, false},
        {P3(1000, 0, 3), STR("s"), 0, false},
        {P3(1000, 0, 4), lwm2m_value_opaque("\x00\x01", 2), 0, false},
        {P3(1000, 1, 5), lwm2m_value_time(-1), 0, false},
        {P3(1000, 1, 6), lwm2m_value_objlnk(1, 2), 0, false},
        {P3(1001, 0, 0), lwm2m_value_corelnk("<>", 2), 0, false},
    };
    size_t n = sizeof(recs) / sizeof(recs[0]);
    uint8_t buf[256];
    struct lwm2m_record out[16];
    struct lwm2m_path req = lwm2m_path_make(0, 0, 0, 0, 0);
    int len = encode_records(LWM2M_CT_LWM2M_CBOR, &req, recs, n, buf, sizeof(buf));
    assert_true(len > 0);
    struct lwm2m_decode_cfg cfg = {.ct = LWM2M_CT_LWM2M_CBOR, .req = req};
    size_t count;
    assert_int_equal(lwm2m_decode_all(&cfg, buf, (size_t)len, out, 16, &count), 0);
    assert_int_equal(count, n);
    for (size_t i = 0; i < n; i++) {
        if (recs[i].value.type == LWM2M_TYPE_OBJLNK || recs[i].value.type == LWM2M_TYPE_CORELNK) {
            assert_int_equal(out[i].value.type, LWM2M_TYPE_STRING); /* text until typed */
            continue;
        }
        assert_true(records_equal(&out[i], &recs[i]));
    }
    for (size_t cap = 0; cap < (size_t)len; cap++) {
        assert_int_equal(encode_records(LWM2M_CT_LWM2M_CBOR, &req, recs, n, buf, cap),
                         LWM2M_ERR_NOSPACE);
    }
    /* out of order, or below a value, is refused */
    struct lwm2m_record bad[2] = {recs[1], recs[0]};
    assert_int_equal(encode_records(LWM2M_CT_LWM2M_CBOR, &req, bad, 2, buf, sizeof(buf)),
                     LWM2M_ERR_INVALID);
    struct lwm2m_record below[2] = {{P3(1, 0, 1), lwm2m_value_int(1), 0, false},
                                    {P4(1, 0, 1, 0), lwm2m_value_int(1), 0, false}};
    assert_int_equal(encode_records(LWM2M_CT_LWM2M_CBOR, &req, below, 2, buf, sizeof(buf)),
                     LWM2M_ERR_INVALID);
}

static void test_malformed(void **state) {
    (void)state;
    static const char *bad[] = {
        "",                             /* nothing */
        "80",                           /* not a map */
        "a1",                           /* cut */
        "a119ffff00",                   /* id 65535 */
        "a18503000102030405",           /* five ids */
        "a12000",                       /* negative key */
        "a1613300",                     /* text key */
        "a18000",                       /* empty key */
        "a103a100a100a100a10000",       /* deeper than a resource instance */
        "a182030001",                   /* a value on an instance */
        "a1830300090100",               /* trailing byte */
        "a18304000901",                 /* outside /3 */
        "a183030009a0ff",               /* stray break */
        "a183030009c24101",             /* bignum */
        "a1830300097bffffffffffffffff", /* length overflow */
        "bf8303000901",                 /* indefinite map without break */
        "a18303000001",                 /* 1 for a String resource */
    };
    struct lwm2m_path req = lwm2m_path_make(1, 3, 0, 0, 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint8_t b[32];
        struct lwm2m_record out[4];
        size_t n = hex_to_bytes(bad[i], b), count;
        struct lwm2m_decode_cfg cfg = {
            .ct = LWM2M_CT_LWM2M_CBOR, .req = req, .type_of = device_type};
        int rc = lwm2m_decode_all(&cfg, b, n, out, 4, &count);
        if (rc != LWM2M_ERR_FORMAT) {
            print_error("case %zu (%s) gave %d\n", i, bad[i], rc);
        }
        assert_int_equal(rc, LWM2M_ERR_FORMAT);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_device),
        cmocka_unit_test(test_key_shapes),
        cmocka_unit_test(test_roundtrip_all_types),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
