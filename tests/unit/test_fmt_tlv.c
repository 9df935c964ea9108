/* SPDX-License-Identifier: Apache-2.0 */
/* OMA TLV codec tests. Byte vectors are the specification's printed examples: LwM2M 1.0.2 TS
 * §6.4.3.1 (Device object instance read as resources), §6.4.3.2 A-C (Device read on the object,
 * Access Control object with two instances, Server object), §6.4.3.3 (objects 65 and 66 with
 * object links) — as reproduced in Eclipse Leshan's codec tests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fmt_testdata.h"
#include "lwm2m/error.h"

static const char DEVICE_RESOURCES_HEX[] =
    "C800144F70656E204D6F62696C6520416C6C69616E6365C801164C69676874776569676874204D324D20436C6965"
    "6E74C80209333435303030313233C303312E30860641000141010588070842000ED842011388870841007D420103"
    "84C10964C10A0F830B410000C40D5182428FC60E2B30323A3030C11055";
static const char DEVICE_INSTANCE_HEX[] =
    "080079C800144F70656E204D6F62696C6520416C6C69616E6365C801164C69676874776569676874204D324D2043"
    "6C69656E74C80209333435303030313233C303312E30860641000141010588070842000ED842011388870841007D"
    "42010384C10964C10A0F830B410000C40D5182428FC60E2B30323A3030C11055";
static const char ACL_HEX[] =
    "08000EC10001C101008302417F07C1037F080212C10003C101008702417F0761013601C1037F";
static const char SERVER_HEX[] = "08000FC10001C40100015180C10601C10755";
static const char OBJ65_HEX[] =
    "88000C440000420000440100420001C8010D38363133383030373535353030C40212345678";
static const char OBJ66_HEX[] =
    "080026C8000B6D79536572766963652031C8010F496E7465726E65742E31352E323334C40200430000080126C800"
    "0B6D79536572766963652032C8010F496E7465726E65742E31352E323335C402FFFFFFFF";

/* Types of the example objects: ACL (2) all Integer, Server (1), and objects 65/66 from the
 * specification's object-link example. */
static enum lwm2m_type example_type(void *ctx, const struct lwm2m_path *p) {
    (void)ctx;
    switch (p->ids[0]) {
    case 1:
        return p->ids[2] == 6   ? LWM2M_TYPE_BOOLEAN
               : p->ids[2] == 7 ? LWM2M_TYPE_STRING
                                : LWM2M_TYPE_INTEGER;
    case 2:
        return LWM2M_TYPE_INTEGER;
    case 3:
        return device_type(NULL, p);
    case 65:
        return p->ids[2] == 0   ? LWM2M_TYPE_OBJLNK
               : p->ids[2] == 1 ? LWM2M_TYPE_STRING
                                : LWM2M_TYPE_INTEGER;
    case 66:
        return p->ids[2] == 2 ? LWM2M_TYPE_OBJLNK : LWM2M_TYPE_STRING;
    default:
        return LWM2M_TYPE_NONE;
    }
}

static size_t decode(const struct lwm2m_path *req, const uint8_t *p, size_t n,
                     struct lwm2m_record *out, size_t max, int expect) {
    struct lwm2m_decode_cfg cfg = {.ct = LWM2M_CT_TLV, .req = *req, .type_of = example_type};
    size_t count = 0;
    assert_int_equal(lwm2m_decode_all(&cfg, p, n, out, max, &count), expect);
    return count;
}

static void check_encodes_to(const struct lwm2m_path *req, const struct lwm2m_record *r, size_t n,
                             const char *hex) {
    uint8_t want[512], got[512];
    size_t wn = hex_to_bytes(hex, want);
    int len = encode_records(LWM2M_CT_TLV, req, r, n, got, sizeof(got));
    assert_int_equal(len, (int)wn);
    assert_memory_equal(got, want, wn);
}

static void test_device_instance_spec_vector(void **state) {
    (void)state;
    struct lwm2m_record dev[DEVICE_RECORDS], out[32];
    struct lwm2m_path req = lwm2m_path_make(2, 3, 0, 0, 0);
    uint8_t bytes[256];
    device_records(dev);
    check_encodes_to(&req, dev, DEVICE_RECORDS, DEVICE_RESOURCES_HEX);
    size_t n = hex_to_bytes(DEVICE_RESOURCES_HEX, bytes);
    assert_int_equal(decode(&req, bytes, n, out, 32, 0), DEVICE_RECORDS);
    for (size_t i = 0; i < DEVICE_RECORDS; i++) {
        assert_true(records_equal(&out[i], &dev[i]));
    }
    /* the same read answered with the instance wrapper is accepted too */
    n = hex_to_bytes(DEVICE_INSTANCE_HEX, bytes);
    assert_int_equal(decode(&req, bytes, n, out, 32, 0), DEVICE_RECORDS);
    assert_true(records_equal(&out[15], &dev[15]));
}

static void test_device_object_spec_vector(void **state) {
    (void)state;
    struct lwm2m_record dev[DEVICE_RECORDS], out[32];
    struct lwm2m_path req = lwm2m_path_make(1, 3, 0, 0, 0);
    uint8_t bytes[256];
    device_records(dev);
    check_encodes_to(&req, dev, DEVICE_RECORDS, DEVICE_INSTANCE_HEX);
    size_t n = hex_to_bytes(DEVICE_INSTANCE_HEX, bytes);
    assert_int_equal(decode(&req, bytes, n, out, 32, 0), DEVICE_RECORDS);
    for (size_t i = 0; i < DEVICE_RECORDS; i++) {
        assert_true(records_equal(&out[i], &dev[i]));
    }
    /* resources without their instance cannot be placed under an object request */
    n = hex_to_bytes(DEVICE_RESOURCES_HEX, bytes);
    decode(&req, bytes, n, out, 32, LWM2M_ERR_FORMAT);
}

static void roundtrip_example(const char *hex, const struct lwm2m_path *req, size_t expect_n,
                              struct lwm2m_record *out) {
    uint8_t bytes[256], again[256];
    size_t n = hex_to_bytes(hex, bytes);
    assert_int_equal(decode(req, bytes, n, out, 32, 0), expect_n);
    int len = encode_records(LWM2M_CT_TLV, req, out, expect_n, again, sizeof(again));
    assert_int_equal(len, (int)n);
    assert_memory_equal(again, bytes, n);
}

static void test_acl_server_objlnk_spec_vectors(void **state) {
    (void)state;
    struct lwm2m_record out[32];
    struct lwm2m_path req = lwm2m_path_make(1, 2, 0, 0, 0);
    roundtrip_example(ACL_HEX, &req, 9, out);
    assert_int_equal(out[2].path.len, 4);
    assert_int_equal(out[2].path.ids[3], 127);
    assert_int_equal(out[2].value.v.i, 7);
    assert_int_equal(out[7].path.ids[1], 2);
    assert_int_equal(out[7].path.ids[3], 310);
    assert_int_equal(out[7].value.v.i, 1);

    req = lwm2m_path_make(1, 1, 0, 0, 0);
    roundtrip_example(SERVER_HEX, &req, 4, out);
    assert_int_equal(out[1].value.v.i, 86400);
    assert_int_equal(out[2].value.type, LWM2M_TYPE_BOOLEAN);
    assert_true(out[2].value.v.b);

    req = lwm2m_path_make(2, 65, 0, 0, 0);
    roundtrip_example(OBJ65_HEX, &req, 4, out);
    assert_int_equal(out[1].value.type, LWM2M_TYPE_OBJLNK);
    assert_int_equal(out[1].value.v.lnk.obj, 66);
    assert_int_equal(out[1].value.v.lnk.inst, 1);
    assert_int_equal(out[3].value.v.i, 305419896);

    req = lwm2m_path_make(1, 66, 0, 0, 0);
    roundtrip_example(OBJ66_HEX, &req, 6, out);
    assert_int_equal(out[2].value.v.lnk.obj, 67);
    assert_int_equal(out[5].value.v.lnk.obj, 65535); /* the null link */
    assert_int_equal(out[5].path.ids[1], 1);
}

static void test_single_and_multiple_resource(void **state) {
    (void)state;
    struct lwm2m_record dev[DEVICE_RECORDS], out[8];
    device_records(dev);
    struct lwm2m_path req = lwm2m_path_make(3, 3, 0, 0, 0);
    check_encodes_to(&req, &dev[0], 1, "C800144F70656E204D6F62696C6520416C6C69616E6365");
    req = lwm2m_path_make(3, 3, 0, 6, 0);
    check_encodes_to(&req, &dev[4], 2,
                     "86064100014101"
                     "05");
    req = lwm2m_path_make(4, 3, 0, 6, 1);
    check_encodes_to(&req, &dev[5], 1, "410105");

    /* a multiple resource read arrives wrapped or as bare resource instances */
    req = lwm2m_path_make(3, 3, 0, 6, 0);
    const uint8_t wrapped[] = {0x86, 0x06, 0x41, 0x00, 0x01, 0x41, 0x01, 0x05};
    assert_int_equal(decode(&req, wrapped, sizeof(wrapped), out, 8, 0), 2);
    assert_true(records_equal(&out[1], &dev[5]));
    assert_int_equal(decode(&req, wrapped + 2, sizeof(wrapped) - 2, out, 8, 0), 2);
    assert_true(records_equal(&out[0], &dev[4]));
    /* a resource read answered inside its instance (seen from some clients) */
    req = lwm2m_path_make(3, 3, 0, 1, 0);
    const uint8_t inst[] = {0x08, 0x00, 0x08, 0xC6, 0x01, 'c', 'l', 'i', 'e', 'n', 't'};
    assert_int_equal(decode(&req, inst, sizeof(inst), out, 8, 0), 1);
    assert_int_equal(out[0].path.ids[2], 1);
    const uint8_t other[] = {0x08, 0x01, 0x08, 0xC6, 0x01, 'c', 'l', 'i', 'e', 'n', 't'};
    decode(&req, other, sizeof(other), out, 8, LWM2M_ERR_FORMAT);
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

static void test_roundtrip_all_types(void **state) {
    (void)state;
    static uint8_t big[70000], buf[80000];
    memset(big, 0xA5, sizeof(big));
    struct lwm2m_record recs[] = {
        {P3(1000, 0, 0), lwm2m_value_int(-129), 0, false},
        {P3(1000, 0, 1), lwm2m_value_int(INT64_MIN), 0, false},
        {P3(1000, 0, 2), lwm2m_value_int(32768), 0, false},
        {P3(1000, 0, 3), lwm2m_value_uint(UINT64_MAX), 0, false},
        {P3(1000, 0, 4), lwm2m_value_uint(255), 0, false},
        {P3(1000, 0, 5), lwm2m_value_float(1.5), 0, false},
        {P3(1000, 0, 6), lwm2m_value_float(0.1), 0, false},
        {P3(1000, 0, 7), lwm2m_value_bool(true), 0, false},
        {P3(1000, 0, 8), lwm2m_value_time(-5), 0, false},
        {P3(1000, 0, 9), lwm2m_value_objlnk(3, 65535), 0, false},
        {P3(1000, 0, 10), lwm2m_value_corelnk("</3/0>", 6), 0, false},
        {P3(1000, 0, 11), lwm2m_value_opaque(big, 8), 0, false},
        {P3(1000, 0, 300), lwm2m_value_opaque(big, 300), 0, false},
        {P4(1000, 0, 301, 0), STR(""), 0, false},
        {P4(1000, 0, 301, 65534), lwm2m_value_opaque(big, sizeof(big)), 0, false},
        {P3(0, 0, 0), {LWM2M_TYPE_NONE, {.i = 0}}, 0, false},
    };
    size_t n = sizeof(recs) / sizeof(recs[0]) - 1;
    struct lwm2m_record out[20];
    for (uint8_t depth = 1; depth <= 2; depth++) {
        struct lwm2m_path req = lwm2m_path_make(depth, 1000, 0, 0, 0);
        int len = encode_records(LWM2M_CT_TLV, &req, recs, n, buf, sizeof(buf));
        assert_true(len > 70000);
        struct lwm2m_decode_cfg cfg = {
            .ct = LWM2M_CT_TLV, .req = req, .type_of = typed_1000, .type_ctx = recs};
        size_t count = 0;
        assert_int_equal(lwm2m_decode_all(&cfg, buf, (size_t)len, out, 20, &count), 0);
        assert_int_equal(count, n);
        for (size_t i = 0; i < n; i++) {
            assert_true(records_equal(&out[i], &recs[i]));
        }
    }
    /* 4-byte float when exact, 8 otherwise; integers minimal */
    struct lwm2m_path req = lwm2m_path_make(3, 1000, 0, 5, 0);
    assert_int_equal(encode_records(LWM2M_CT_TLV, &req, &recs[5], 1, buf, sizeof(buf)), 6);
    req = lwm2m_path_make(3, 1000, 0, 6, 0);
    assert_int_equal(encode_records(LWM2M_CT_TLV, &req, &recs[6], 1, buf, sizeof(buf)), 11);
    req = lwm2m_path_make(3, 1000, 0, 0, 0);
    check_encodes_to(&req, &recs[0], 1, "C200FF7F");
}

static void test_untyped_decode_and_helper(void **state) {
    (void)state;
    const uint8_t p[] = {0xC2, 0x05, 0xFF, 0x7F};
    struct lwm2m_decode_cfg cfg = {.ct = LWM2M_CT_LEGACY_TLV, .req = P3(9999, 0, 5)};
    struct lwm2m_record out[2];
    size_t n;
    assert_int_equal(lwm2m_decode_all(&cfg, p, sizeof(p), out, 2, &n), 0);
    assert_int_equal(out[0].value.type, LWM2M_TYPE_OPAQUE);
    struct lwm2m_value v;
    assert_int_equal(lwm2m_tlv_value(out[0].value.v.bytes.ptr, 2, LWM2M_TYPE_INTEGER, &v), 0);
    assert_int_equal(v.v.i, -129);
    assert_int_equal(lwm2m_tlv_value(out[0].value.v.bytes.ptr, 2, LWM2M_TYPE_UNSIGNED, &v), 0);
    assert_int_equal(v.v.u, 0xFF7F);
    assert_int_equal(lwm2m_tlv_value(p, 3, LWM2M_TYPE_INTEGER, &v), LWM2M_ERR_FORMAT);
    assert_int_equal(lwm2m_tlv_value(p, 2, LWM2M_TYPE_BOOLEAN, &v), LWM2M_ERR_FORMAT);
    assert_int_equal(lwm2m_tlv_value(p, 3, LWM2M_TYPE_FLOAT, &v), LWM2M_ERR_FORMAT);
    assert_int_equal(lwm2m_tlv_value(p, 3, LWM2M_TYPE_OBJLNK, &v), LWM2M_ERR_FORMAT);
}

static void test_nospace_never_overflows(void **state) {
    (void)state;
    struct lwm2m_record dev[DEVICE_RECORDS];
    uint8_t buf[200];
    device_records(dev);
    struct lwm2m_path req = lwm2m_path_make(1, 3, 0, 0, 0);
    for (size_t cap = 0; cap < 124; cap++) {
        memset(buf, 0xEE, sizeof(buf));
        assert_int_equal(encode_records(LWM2M_CT_TLV, &req, dev, DEVICE_RECORDS, buf, cap),
                         LWM2M_ERR_NOSPACE);
        for (size_t i = cap; i < sizeof(buf); i++) {
            assert_int_equal(buf[i], 0xEE);
        }
    }
    assert_int_equal(encode_records(LWM2M_CT_TLV, &req, dev, DEVICE_RECORDS, buf, 124), 124);
}

static void test_encoder_invalid(void **state) {
    (void)state;
    struct lwm2m_record dev[DEVICE_RECORDS];
    uint8_t buf[256];
    device_records(dev);
    struct lwm2m_path root = lwm2m_path_make(0, 0, 0, 0, 0);
    struct lwm2m_path req = lwm2m_path_make(2, 3, 0, 0, 0);
    struct lwm2m_path other = lwm2m_path_make(2, 3, 1, 0, 0);
    assert_int_equal(encode_records(LWM2M_CT_TLV, &root, dev, 1, buf, sizeof(buf)),
                     LWM2M_ERR_INVALID);
    assert_int_equal(encode_records(LWM2M_CT_TLV, &other, dev, 1, buf, sizeof(buf)),
                     LWM2M_ERR_INVALID);
    struct lwm2m_record swapped[2] = {dev[1], dev[0]};
    assert_int_equal(encode_records(LWM2M_CT_TLV, &req, swapped, 2, buf, sizeof(buf)),
                     LWM2M_ERR_INVALID);
    struct lwm2m_record none = {P3(3, 0, 4), {LWM2M_TYPE_NONE, {.i = 0}}, 0, false};
    assert_int_equal(encode_records(LWM2M_CT_TLV, &req, &none, 1, buf, sizeof(buf)),
                     LWM2M_ERR_INVALID);
    /* an empty instance is an empty payload */
    assert_int_equal(encode_records(LWM2M_CT_TLV, &req, dev, 0, buf, sizeof(buf)), 0);
}

static void test_malformed(void **state) {
    (void)state;
    static const struct {
        const char *hex;
        uint8_t depth;
    } bad[] = {
        {"C8", 2},           /* truncated header */
        {"C800", 2},         /* length byte missing */
        {"C80014414243", 2}, /* length beyond the payload */
        {"D800FFFFFF41", 2}, /* 24-bit length overflow */
        {"E8FFFF0141", 2},   /* id 65535 */
        {"4100FF", 2},       /* resource instance directly in an instance */
        {"C10005", 1},       /* resource directly under an object */
        {"080003080000", 1}, /* instance inside an instance */
        {"860641000141", 2}, /* multiple resource whose content is cut */
        {"C1090102", 2},     /* trailing garbage after a valid TLV */
        {"C3090000FF", 2},   /* integer of 3 bytes */
        {"830B410000", 3},   /* /3/0/11 asked, /3/0/... wrapped multiple 11 ≠ 9 */
    };
    struct lwm2m_record out[8];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint8_t b[64];
        size_t n = hex_to_bytes(bad[i].hex, b);
        struct lwm2m_path req = lwm2m_path_make(bad[i].depth, 3, 0, 9, 0);
        struct lwm2m_decode_cfg cfg = {.ct = LWM2M_CT_TLV, .req = req, .type_of = device_type};
        size_t count;
        int rc = lwm2m_decode_all(&cfg, b, n, out, 8, &count);
        if (rc != LWM2M_ERR_FORMAT) {
            print_error("case %zu (%s) gave %d\n", i, bad[i].hex, rc);
        }
        assert_int_equal(rc, LWM2M_ERR_FORMAT);
    }
    /* a boolean byte other than 0/1 in a typed read */
    const uint8_t badbool[] = {0xC1, 0x06, 0x02};
    struct lwm2m_decode_cfg cfg = {
        .ct = LWM2M_CT_TLV, .req = lwm2m_path_make(2, 1, 0, 0, 0), .type_of = example_type};
    size_t count;
    assert_int_equal(lwm2m_decode_all(&cfg, badbool, 3, out, 8, &count), LWM2M_ERR_FORMAT);
    /* the callback's own error stops decoding */
    uint8_t dev[256];
    size_t n = hex_to_bytes(DEVICE_RESOURCES_HEX, dev);
    cfg = (struct lwm2m_decode_cfg){.ct = LWM2M_CT_TLV, .req = lwm2m_path_make(2, 3, 0, 0, 0)};
    assert_int_equal(lwm2m_decode_all(&cfg, dev, n, out, 3, &count), LWM2M_ERR_NOSPACE);
    assert_int_equal(count, 3);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_device_instance_spec_vector),
        cmocka_unit_test(test_device_object_spec_vector),
        cmocka_unit_test(test_acl_server_objlnk_spec_vectors),
        cmocka_unit_test(test_single_and_multiple_resource),
        cmocka_unit_test(test_roundtrip_all_types),
        cmocka_unit_test(test_untyped_decode_and_helper),
        cmocka_unit_test(test_nospace_never_overflows),
        cmocka_unit_test(test_encoder_invalid),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
