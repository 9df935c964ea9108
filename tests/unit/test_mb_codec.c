/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the Modbus register codec (adapters/modbus/mb_codec.c): every type in every
 * word/byte order with fixed vectors (decode and encode), scale/offset and its inverse with
 * rounding and range checks, string(N) packing, bit(N) extraction, function-code choice, names. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "modbus/mb_internal.h"

static struct mb_point_cfg pt(enum mb_type t, enum mb_order o) {
    return (struct mb_point_cfg){.table = MB_TABLE_HOLDING, .type = t, .order = o, .scale = 1.0};
}

/* Decodes regs, checks the value via the callback-free fields, then encodes it back and expects
 * the same registers: every vector is tested in both directions. */
static struct adapter_value roundtrip(const struct mb_point_cfg *p, const uint16_t *regs,
                                      size_t n) {
    struct adapter_value v;
    uint16_t back[8] = {0};
    uint8_t buf[64];
    assert_int_equal(mb_decode_regs(p, regs, n, &v, buf, sizeof(buf)), 0);
    assert_int_equal(v.quality, ADAPTER_Q_GOOD);
    if (v.type != ADAPTER_V_STRING) {
        assert_int_equal(mb_encode_regs(p, &v, back, 8), (int)n);
        assert_memory_equal(back, regs, n * sizeof(uint16_t));
    }
    return v;
}

#define REGS(...) ((const uint16_t[]){__VA_ARGS__}), sizeof((const uint16_t[]){__VA_ARGS__}) / 2

static void test_float32_orders(void **state) {
    (void)state;
    /* 123.456f is 0x42F6E979. */
    struct mb_point_cfg p = pt(MB_TYPE_FLOAT32, MB_ORDER_ABCD);
    struct adapter_value v = roundtrip(&p, REGS(0x42F6, 0xE979));
    assert_int_equal(v.type, ADAPTER_V_DOUBLE);
    assert_true(v.v.f == 123.456); /* the float's shortest decimal, not 123.45600128173828 */
    p.order = MB_ORDER_CDAB;
    assert_float_equal(roundtrip(&p, REGS(0xE979, 0x42F6)).v.f, 123.456, 1e-4);
    p.order = MB_ORDER_BADC;
    assert_float_equal(roundtrip(&p, REGS(0xF642, 0x79E9)).v.f, 123.456, 1e-4);
    p.order = MB_ORDER_DCBA;
    assert_float_equal(roundtrip(&p, REGS(0x79E9, 0xF642)).v.f, 123.456, 1e-4);
}

static void test_float64_orders(void **state) {
    (void)state;
    /* 123.456 is 0x405EDD2F1A9FBE77. */
    struct mb_point_cfg p = pt(MB_TYPE_FLOAT64, MB_ORDER_ABCD);
    assert_true(roundtrip(&p, REGS(0x405E, 0xDD2F, 0x1A9F, 0xBE77)).v.f == 123.456);
    p.order = MB_ORDER_CDAB;
    assert_true(roundtrip(&p, REGS(0xBE77, 0x1A9F, 0xDD2F, 0x405E)).v.f == 123.456);
    p.order = MB_ORDER_BADC;
    assert_true(roundtrip(&p, REGS(0x5E40, 0x2FDD, 0x9F1A, 0x77BE)).v.f == 123.456);
    p.order = MB_ORDER_DCBA;
    assert_true(roundtrip(&p, REGS(0x77BE, 0x9F1A, 0x2FDD, 0x5E40)).v.f == 123.456);
}

static void test_int16_uint16(void **state) {
    (void)state;
    struct mb_point_cfg p = pt(MB_TYPE_INT16, MB_ORDER_ABCD);
    struct adapter_value v = roundtrip(&p, REGS(0xFF85));
    assert_int_equal(v.type, ADAPTER_V_INT);
    assert_int_equal(v.v.i, -123);
    p.order = MB_ORDER_BADC; /* byte swap */
    assert_int_equal(roundtrip(&p, REGS(0x85FF)).v.i, -123);
    p.order = MB_ORDER_CDAB; /* a word swap means nothing for one register */
    assert_int_equal(roundtrip(&p, REGS(0xFF85)).v.i, -123);
    p.order = MB_ORDER_DCBA;
    assert_int_equal(roundtrip(&p, REGS(0x85FF)).v.i, -123);
    p = pt(MB_TYPE_UINT16, MB_ORDER_ABCD);
    v = roundtrip(&p, REGS(0xFF85));
    assert_int_equal(v.type, ADAPTER_V_UINT);
    assert_int_equal(v.v.u, 65413);
    assert_int_equal(roundtrip(&p, REGS(0x8000)).v.u, 32768);
    p = pt(MB_TYPE_INT16, MB_ORDER_ABCD);
    assert_int_equal(roundtrip(&p, REGS(0x8000)).v.i, -32768);
    assert_int_equal(roundtrip(&p, REGS(0x7FFF)).v.i, 32767);
}

static void test_int32_uint32_orders(void **state) {
    (void)state;
    /* -123456789 is 0xF8A432EB; 0xDEADBEEF is 3735928559. */
    static const uint16_t i32[4][2] = {
        {0xF8A4, 0x32EB}, {0x32EB, 0xF8A4}, {0xA4F8, 0xEB32}, {0xEB32, 0xA4F8}};
    static const uint16_t u32[4][2] = {
        {0xDEAD, 0xBEEF}, {0xBEEF, 0xDEAD}, {0xADDE, 0xEFBE}, {0xEFBE, 0xADDE}};
    for (int o = MB_ORDER_ABCD; o <= MB_ORDER_DCBA; o++) {
        struct mb_point_cfg p = pt(MB_TYPE_INT32, (enum mb_order)o);
        assert_int_equal(roundtrip(&p, i32[o], 2).v.i, -123456789);
        p.type = MB_TYPE_UINT32;
        assert_int_equal(roundtrip(&p, u32[o], 2).v.u, 3735928559u);
        p.type = MB_TYPE_INT32;
        assert_int_equal(roundtrip(&p, u32[o], 2).v.i, (int64_t)(int32_t)0xDEADBEEFu);
    }
}

static void test_int64_uint64_orders(void **state) {
    (void)state;
    static const uint16_t u64[4][4] = {{0x0123, 0x4567, 0x89AB, 0xCDEF},
                                       {0xCDEF, 0x89AB, 0x4567, 0x0123},
                                       {0x2301, 0x6745, 0xAB89, 0xEFCD},
                                       {0xEFCD, 0xAB89, 0x6745, 0x2301}};
    for (int o = MB_ORDER_ABCD; o <= MB_ORDER_DCBA; o++) {
        struct mb_point_cfg p = pt(MB_TYPE_UINT64, (enum mb_order)o);
        struct adapter_value v = roundtrip(&p, u64[o], 4);
        assert_int_equal(v.type, ADAPTER_V_UINT);
        assert_true(v.v.u == 0x0123456789ABCDEFull);
        p.type = MB_TYPE_INT64;
        assert_true(roundtrip(&p, u64[o], 4).v.i == 0x0123456789ABCDEFll);
    }
    struct mb_point_cfg p = pt(MB_TYPE_INT64, MB_ORDER_ABCD);
    assert_true(roundtrip(&p, REGS(0xFFFF, 0xFFFF, 0xFFFF, 0xFFFE)).v.i == -2);
    assert_true(roundtrip(&p, REGS(0x8000, 0, 0, 0)).v.i == INT64_MIN);
    p.order = MB_ORDER_CDAB;
    assert_true(roundtrip(&p, REGS(0xFFFE, 0xFFFF, 0xFFFF, 0xFFFF)).v.i == -2);
    p = pt(MB_TYPE_UINT64, MB_ORDER_ABCD);
    /* The full 64 bits survive: no trip through double without scaling. */
    assert_true(roundtrip(&p, REGS(0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF)).v.u == UINT64_MAX);
}

static void test_scale_offset(void **state) {
    (void)state;
    struct mb_point_cfg p = pt(MB_TYPE_INT16, MB_ORDER_ABCD);
    struct adapter_value v, in = {.type = ADAPTER_V_DOUBLE};
    uint16_t r[4];
    uint8_t buf[4];
    p.scale = 0.1;
    p.offset = -10.0;
    assert_int_equal(mb_decode_regs(&p, REGS(2345), &v, buf, sizeof(buf)), 0);
    assert_int_equal(v.type, ADAPTER_V_DOUBLE);
    assert_float_equal(v.v.f, 224.5, 1e-9);
    in.v.f = 224.5; /* inverse: (224.5 + 10) / 0.1 */
    assert_int_equal(mb_encode_regs(&p, &in, r, 4), 1);
    assert_int_equal(r[0], 2345);
    in.v.f = 224.46; /* rounds to the nearest raw value */
    assert_int_equal(mb_encode_regs(&p, &in, r, 4), 1);
    assert_int_equal(r[0], 2345);
    in.v.f = -3276.8 - 10.0 - 0.1; /* raw -32769: does not fit int16 */
    assert_int_equal(mb_encode_regs(&p, &in, r, 4), -ERANGE);
    assert_int_equal(mb_decode_regs(&p, REGS(0xFFF6), &v, buf, sizeof(buf)), 0); /* raw -10 */
    assert_float_equal(v.v.f, -11.0, 1e-9);

    p = pt(MB_TYPE_FLOAT32, MB_ORDER_CDAB);
    p.scale = 2.0;
    p.offset = 1.0;
    in.v.f = 201.0; /* raw 100.0f = 0x42C80000, CDAB */
    assert_int_equal(mb_encode_regs(&p, &in, r, 4), 2);
    assert_int_equal(r[0], 0x0000);
    assert_int_equal(r[1], 0x42C8);
    assert_int_equal(mb_decode_regs(&p, r, 2, &v, buf, sizeof(buf)), 0);
    assert_float_equal(v.v.f, 201.0, 1e-9);

    p = pt(MB_TYPE_UINT32, MB_ORDER_ABCD);
    p.scale = 0.001;
    in.v.f = 4294967.295; /* raw 4294967295: the largest uint32 */
    assert_int_equal(mb_encode_regs(&p, &in, r, 4), 2);
    assert_int_equal(r[0], 0xFFFF);
    assert_int_equal(r[1], 0xFFFF);
    in.v.f = 4294967.296;
    assert_int_equal(mb_encode_regs(&p, &in, r, 4), -ERANGE);
}

static void test_encode_ranges(void **state) {
    (void)state;
    struct mb_point_cfg p = pt(MB_TYPE_INT16, MB_ORDER_ABCD);
    struct adapter_value in = {.type = ADAPTER_V_INT, .v.i = 40000};
    uint16_t r[4];
    assert_int_equal(mb_encode_regs(&p, &in, r, 4), -ERANGE);
    in.v.i = -32768;
    assert_int_equal(mb_encode_regs(&p, &in, r, 4), 1);
    assert_int_equal(r[0], 0x8000);
    p.type = MB_TYPE_UINT16;
    in.v.i = -1;
    assert_int_equal(mb_encode_regs(&p, &in, r, 4), -ERANGE);
    in = (struct adapter_value){.type = ADAPTER_V_UINT, .v.u = UINT64_MAX};
    p.type = MB_TYPE_INT64;
    assert_int_equal(mb_encode_regs(&p, &in, r, 4), -ERANGE);
    p.type = MB_TYPE_UINT64;
    assert_int_equal(mb_encode_regs(&p, &in, r, 4), 4);
    in = (struct adapter_value){.type = ADAPTER_V_DOUBLE, .v.f = 18446744073709551616.0};
    assert_int_equal(mb_encode_regs(&p, &in, r, 4), -ERANGE); /* 2^64 */
    in.v.f = NAN;
    assert_int_equal(mb_encode_regs(&p, &in, r, 4), -ERANGE);
    p.type = MB_TYPE_FLOAT32;
    in.v.f = 1e39; /* beyond float */
    assert_int_equal(mb_encode_regs(&p, &in, r, 4), -ERANGE);
    in = (struct adapter_value){.type = ADAPTER_V_STRING};
    assert_int_equal(mb_encode_regs(&p, &in, r, 4), -EINVAL);
    in = (struct adapter_value){.type = ADAPTER_V_BOOL, .v.b = true};
    p.type = MB_TYPE_UINT16;
    assert_int_equal(mb_encode_regs(&p, &in, r, 4), 1);
    assert_int_equal(r[0], 1);
    p.type = MB_TYPE_FLOAT64;
    assert_int_equal(mb_encode_regs(&p, &in, r, 3), -ENOSPC);
}

static void test_strings(void **state) {
    (void)state;
    struct mb_point_cfg p = pt(MB_TYPE_STRING, MB_ORDER_ABCD);
    struct adapter_value v, in = {.type = ADAPTER_V_STRING};
    uint16_t r[4];
    uint8_t buf[8];
    p.param = 5;
    assert_int_equal(mb_point_width(&p), 3);
    assert_int_equal(mb_decode_regs(&p, REGS(0x4845, 0x4C4C, 0x4F00), &v, buf, sizeof(buf)), 0);
    assert_int_equal(v.type, ADAPTER_V_STRING);
    assert_int_equal(v.v.bytes.len, 5);
    assert_memory_equal(v.v.bytes.ptr, "HELLO", 5);
    p.order = MB_ORDER_BADC; /* bytes swapped inside each register */
    assert_int_equal(mb_decode_regs(&p, REGS(0x4548, 0x4C4C, 0x004F), &v, buf, sizeof(buf)), 0);
    assert_memory_equal(v.v.bytes.ptr, "HELLO", 5);
    p.order = MB_ORDER_CDAB; /* word order does not apply to strings */
    assert_int_equal(mb_decode_regs(&p, REGS(0x4845, 0x4C4C, 0x4F00), &v, buf, sizeof(buf)), 0);
    assert_memory_equal(v.v.bytes.ptr, "HELLO", 5);
    p.order = MB_ORDER_ABCD;
    assert_int_equal(mb_decode_regs(&p, REGS(0x4849, 0, 0), &v, buf, sizeof(buf)), 0);
    assert_int_equal(v.v.bytes.len, 2); /* trailing NULs dropped */
    assert_int_equal(mb_decode_regs(&p, REGS(0x4849, 0, 0), &v, buf, 4), -ENOSPC);
    in.v.bytes.ptr = (const uint8_t *)"HI";
    in.v.bytes.len = 2;
    assert_int_equal(mb_encode_regs(&p, &in, r, 4), 3);
    assert_int_equal(r[0], 0x4849);
    assert_int_equal(r[1], 0);
    assert_int_equal(r[2], 0);
    p.order = MB_ORDER_DCBA;
    in.v.bytes.ptr = (const uint8_t *)"ABCDE";
    in.v.bytes.len = 5;
    assert_int_equal(mb_encode_regs(&p, &in, r, 4), 3);
    assert_int_equal(r[0], 0x4241);
    assert_int_equal(r[1], 0x4443);
    assert_int_equal(r[2], 0x0045);
    in.v.bytes.len = 6;
    in.v.bytes.ptr = (const uint8_t *)"ABCDEF";
    assert_int_equal(mb_encode_regs(&p, &in, r, 4), -ERANGE);
}

static void test_bits_and_bool(void **state) {
    (void)state;
    struct mb_point_cfg p = pt(MB_TYPE_BIT, MB_ORDER_ABCD);
    struct adapter_value v, in = {.type = ADAPTER_V_BOOL, .v.b = true};
    uint16_t r[1];
    uint8_t bit;
    p.param = 0;
    assert_int_equal(mb_decode_regs(&p, REGS(0x8001), &v, NULL, 0), 0);
    assert_int_equal(v.type, ADAPTER_V_BOOL);
    assert_true(v.v.b);
    p.param = 15;
    assert_int_equal(mb_decode_regs(&p, REGS(0x8001), &v, NULL, 0), 0);
    assert_true(v.v.b);
    p.param = 1;
    assert_int_equal(mb_decode_regs(&p, REGS(0x8001), &v, NULL, 0), 0);
    assert_false(v.v.b);
    p.param = 3;
    assert_int_equal(mb_encode_regs(&p, &in, r, 1), 1);
    assert_int_equal(r[0], 0x0008);
    assert_int_equal(mb_bit_apply(0xFFFF, 3, false), 0xFFF7);
    assert_int_equal(mb_bit_apply(0x0000, 15, true), 0x8000);
    p.param = 16;
    assert_int_equal(mb_point_width(&p), 0);

    p = pt(MB_TYPE_BOOL, MB_ORDER_ABCD);
    assert_int_equal(mb_decode_regs(&p, REGS(7), &v, NULL, 0), 0);
    assert_true(v.v.b);
    assert_int_equal(mb_decode_regs(&p, REGS(0), &v, NULL, 0), 0);
    assert_false(v.v.b);

    mb_decode_bit(1, &v);
    assert_int_equal(v.type, ADAPTER_V_BOOL);
    assert_true(v.v.b);
    in = (struct adapter_value){.type = ADAPTER_V_INT, .v.i = 0};
    assert_int_equal(mb_encode_bit(&in, &bit), 0);
    assert_int_equal(bit, 0);
    in.v.i = 5;
    assert_int_equal(mb_encode_bit(&in, &bit), 0);
    assert_int_equal(bit, 1);
    in.type = ADAPTER_V_STRING;
    assert_int_equal(mb_encode_bit(&in, &bit), -EINVAL);
}

static void test_point_check_and_fc(void **state) {
    (void)state;
    struct mb_point_cfg p = pt(MB_TYPE_UINT16, MB_ORDER_ABCD);
    p.writable = true;
    assert_int_equal(mb_point_check(&p), 0);
    assert_int_equal(mb_write_fc(&p, false), 6);
    assert_int_equal(mb_write_fc(&p, true), 16);
    p.type = MB_TYPE_FLOAT32;
    assert_int_equal(mb_write_fc(&p, false), 16);
    p.address = 65535; /* a float32 there would run past the address space */
    assert_int_equal(mb_point_check(&p), -EINVAL);
    p.address = 65534;
    assert_int_equal(mb_point_check(&p), 0);
    p.table = MB_TABLE_INPUT; /* input registers are read-only */
    assert_int_equal(mb_point_check(&p), -EINVAL);
    assert_int_equal(mb_write_fc(&p, false), 0);
    p = (struct mb_point_cfg){.table = MB_TABLE_COIL, .type = MB_TYPE_BOOL, .writable = true};
    assert_int_equal(mb_point_check(&p), 0);
    assert_int_equal(mb_write_fc(&p, false), 5);
    assert_int_equal(mb_write_fc(&p, true), 15);
    p.type = MB_TYPE_FLOAT32; /* only bits live in the bit tables */
    assert_int_equal(mb_point_check(&p), -EINVAL);
    p = pt(MB_TYPE_STRING, MB_ORDER_ABCD);
    assert_int_equal(mb_point_check(&p), -EINVAL); /* string(0) */
    p.param = MB_MAX_STRING + 1;
    assert_int_equal(mb_point_check(&p), -EINVAL);
    p = pt(MB_TYPE_INT16, MB_ORDER_ABCD);
    p.scale = INFINITY;
    assert_int_equal(mb_point_check(&p), -EINVAL);
}

static void test_names(void **state) {
    (void)state;
    enum mb_type t;
    enum mb_table tb;
    enum mb_order o;
    uint16_t n;
    assert_int_equal(mb_type_parse("float32", &t, &n), 0);
    assert_int_equal(t, MB_TYPE_FLOAT32);
    assert_int_equal(mb_type_parse("string(10)", &t, &n), 0);
    assert_int_equal(t, MB_TYPE_STRING);
    assert_int_equal(n, 10);
    assert_int_equal(mb_type_parse("bit(3)", &t, &n), 0);
    assert_int_equal(t, MB_TYPE_BIT);
    assert_int_equal(n, 3);
    assert_int_equal(mb_type_parse("bit(x)", &t, &n), -EINVAL);
    assert_int_equal(mb_type_parse("bit(3", &t, &n), -EINVAL);
    assert_int_equal(mb_type_parse("string", &t, &n), -EINVAL);
    assert_int_equal(mb_type_parse("float", &t, &n), -EINVAL);
    assert_int_equal(mb_table_parse("holding", &tb), 0);
    assert_int_equal(tb, MB_TABLE_HOLDING);
    assert_int_equal(mb_table_parse("register", &tb), -EINVAL);
    assert_int_equal(mb_order_parse("DCBA", &o), 0);
    assert_int_equal(o, MB_ORDER_DCBA);
    assert_int_equal(mb_order_parse("dcba", &o), -EINVAL);
    assert_string_equal(mb_type_name(MB_TYPE_UINT64), "uint64");
    assert_string_equal(mb_order_name(MB_ORDER_CDAB), "CDAB");
    assert_string_equal(mb_table_name(MB_TABLE_DISCRETE), "discrete");
    assert_string_equal(adapter_quality_name(ADAPTER_Q_TIMEOUT), "timeout");
    assert_string_equal(adapter_write_status_name(ADAPTER_WRITE_EXCEPTION), "exception");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_float32_orders),
        cmocka_unit_test(test_float64_orders),
        cmocka_unit_test(test_int16_uint16),
        cmocka_unit_test(test_int32_uint32_orders),
        cmocka_unit_test(test_int64_uint64_orders),
        cmocka_unit_test(test_scale_offset),
        cmocka_unit_test(test_encode_ranges),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_bits_and_bool),
        cmocka_unit_test(test_point_check_and_fc),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
