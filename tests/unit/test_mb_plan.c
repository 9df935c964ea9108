/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the Modbus read planner (adapters/modbus/mb_plan.c): merging of contiguous,
 * overlapping and near points, the max-gap rule, separate tables, the 125-register and 2000-bit
 * limits without splitting a point, splitting after an exception, and the 60-point meter map. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mb_meter_map.h"
#include "modbus/mb_internal.h"

static struct mb_point_cfg reg(uint16_t addr, enum mb_type t) {
    return (struct mb_point_cfg){.table = MB_TABLE_HOLDING, .address = addr, .type = t};
}

static void expect_read(const struct mb_plan *pl, size_t i, enum mb_table t, uint16_t start,
                        uint16_t count, uint32_t n) {
    assert_true(i < pl->n_reads);
    assert_int_equal(pl->reads[i].table, t);
    assert_int_equal(pl->reads[i].start, start);
    assert_int_equal(pl->reads[i].count, count);
    assert_int_equal(pl->reads[i].n, n);
}

static void test_contiguous_merge(void **state) {
    (void)state;
    /* Given out of order: the plan sorts by address. */
    struct mb_point_cfg p[] = {reg(4, MB_TYPE_FLOAT32), reg(0, MB_TYPE_UINT16),
                               reg(1, MB_TYPE_INT32), reg(3, MB_TYPE_INT16)};
    struct mb_plan pl;
    assert_int_equal(mb_plan_build(p, 4, 0, &pl), 0);
    assert_int_equal(pl.n_reads, 1);
    expect_read(&pl, 0, MB_TABLE_HOLDING, 0, 6, 4);
    assert_int_equal(pl.idx[0], 1);
    assert_int_equal(pl.idx[1], 2);
    assert_int_equal(pl.idx[2], 3);
    assert_int_equal(pl.idx[3], 0);
    mb_plan_free(&pl);
}

static void test_gap(void **state) {
    (void)state;
    struct mb_point_cfg p[] = {reg(0, MB_TYPE_UINT16), reg(10, MB_TYPE_UINT16)};
    struct mb_plan pl;
    assert_int_equal(mb_plan_build(p, 2, 8, &pl), 0); /* 9 registers apart: too far */
    assert_int_equal(pl.n_reads, 2);
    expect_read(&pl, 0, MB_TABLE_HOLDING, 0, 1, 1);
    expect_read(&pl, 1, MB_TABLE_HOLDING, 10, 1, 1);
    mb_plan_free(&pl);
    assert_int_equal(mb_plan_build(p, 2, 9, &pl), 0); /* exactly max_gap: read over it */
    assert_int_equal(pl.n_reads, 1);
    expect_read(&pl, 0, MB_TABLE_HOLDING, 0, 11, 2);
    mb_plan_free(&pl);
}

static void test_tables_apart(void **state) {
    (void)state;
    struct mb_point_cfg p[] = {reg(0, MB_TYPE_UINT16), reg(1, MB_TYPE_UINT16),
                               reg(0, MB_TYPE_UINT16), reg(0, MB_TYPE_BOOL), reg(1, MB_TYPE_BOOL)};
    struct mb_plan pl;
    p[2].table = MB_TABLE_INPUT;
    p[3].table = MB_TABLE_COIL;
    p[4].table = MB_TABLE_DISCRETE;
    assert_int_equal(mb_plan_build(p, 5, 100, &pl), 0);
    assert_int_equal(pl.n_reads, 4); /* coil, discrete, input, holding */
    expect_read(&pl, 0, MB_TABLE_COIL, 0, 1, 1);
    expect_read(&pl, 1, MB_TABLE_DISCRETE, 1, 1, 1);
    expect_read(&pl, 2, MB_TABLE_INPUT, 0, 1, 1);
    expect_read(&pl, 3, MB_TABLE_HOLDING, 0, 2, 2);
    mb_plan_free(&pl);
}

static void test_register_limit(void **state) {
    (void)state;
    struct mb_point_cfg p[126];
    struct mb_plan pl;
    for (unsigned i = 0; i < 126; i++)
        p[i] = reg((uint16_t)i, MB_TYPE_UINT16);
    assert_int_equal(mb_plan_build(p, 126, 0, &pl), 0);
    assert_int_equal(pl.n_reads, 2);
    expect_read(&pl, 0, MB_TABLE_HOLDING, 0, 125, 125);
    expect_read(&pl, 1, MB_TABLE_HOLDING, 125, 1, 1);
    mb_plan_free(&pl);
    /* 63 float32 back to back: 62 fit in 124 registers, the 63rd would straddle the limit and
     * is never split, so it starts the next read. */
    for (unsigned i = 0; i < 63; i++)
        p[i] = reg((uint16_t)(2 * i), MB_TYPE_FLOAT32);
    assert_int_equal(mb_plan_build(p, 63, 0, &pl), 0);
    assert_int_equal(pl.n_reads, 2);
    expect_read(&pl, 0, MB_TABLE_HOLDING, 0, 124, 62);
    expect_read(&pl, 1, MB_TABLE_HOLDING, 124, 2, 1);
    mb_plan_free(&pl);
}

static void test_bit_limit(void **state) {
    (void)state;
    struct mb_point_cfg *p = calloc(2001, sizeof(*p));
    struct mb_plan pl;
    assert_non_null(p);
    for (unsigned i = 0; i < 2001; i++)
        p[i] = (struct mb_point_cfg){.table = MB_TABLE_COIL, .address = (uint16_t)i};
    assert_int_equal(mb_plan_build(p, 2001, 0, &pl), 0);
    assert_int_equal(pl.n_reads, 2);
    expect_read(&pl, 0, MB_TABLE_COIL, 0, 2000, 2000);
    expect_read(&pl, 1, MB_TABLE_COIL, 2000, 1, 1);
    mb_plan_free(&pl);
    free(p);
}

static void test_overlap(void **state) {
    (void)state;
    /* Several views of one register (a status word and its bits) cost one register. */
    struct mb_point_cfg p[] = {reg(7, MB_TYPE_BIT), reg(7, MB_TYPE_UINT16), reg(7, MB_TYPE_BIT),
                               reg(6, MB_TYPE_INT32)};
    struct mb_plan pl;
    p[2].param = 5;
    assert_int_equal(mb_plan_build(p, 4, 0, &pl), 0);
    assert_int_equal(pl.n_reads, 1);
    expect_read(&pl, 0, MB_TABLE_HOLDING, 6, 2, 4);
    mb_plan_free(&pl);
}

static void test_bad_points(void **state) {
    (void)state;
    struct mb_point_cfg p[] = {reg(0, MB_TYPE_UINT16), reg(1, MB_TYPE_STRING)};
    struct mb_plan pl;
    assert_int_equal(mb_plan_build(p, 2, 0, &pl), -EINVAL); /* string(0) */
    p[1].param = 240;                                       /* 120 registers: fine */
    assert_int_equal(mb_plan_build(p, 2, 0, &pl), 0);
    assert_int_equal(pl.n_reads, 1);
    mb_plan_free(&pl);
    assert_int_equal(mb_plan_build(p, 0, 0, &pl), 0);
    assert_int_equal(pl.n_reads, 0);
    mb_plan_free(&pl);
}

static void test_split(void **state) {
    (void)state;
    struct mb_point_cfg p[] = {reg(0, MB_TYPE_UINT16), reg(1, MB_TYPE_UINT16),
                               reg(5, MB_TYPE_UINT16), reg(20, MB_TYPE_UINT16)};
    struct mb_plan pl;
    assert_int_equal(mb_plan_build(p, 4, 10, &pl), 0);
    assert_int_equal(pl.n_reads, 2);
    expect_read(&pl, 0, MB_TABLE_HOLDING, 0, 6, 3);
    expect_read(&pl, 1, MB_TABLE_HOLDING, 20, 1, 1);
    /* Exception on the read that bridges 2..4: first stop bridging holes. */
    assert_int_equal(mb_plan_split(&pl, 0, p), 2);
    assert_int_equal(pl.n_reads, 3);
    expect_read(&pl, 0, MB_TABLE_HOLDING, 0, 2, 2);
    expect_read(&pl, 1, MB_TABLE_HOLDING, 5, 1, 1);
    expect_read(&pl, 2, MB_TABLE_HOLDING, 20, 1, 1);
    /* Again on 0..1: one read per address. */
    assert_int_equal(mb_plan_split(&pl, 0, p), 2);
    assert_int_equal(pl.n_reads, 4);
    expect_read(&pl, 0, MB_TABLE_HOLDING, 0, 1, 1);
    expect_read(&pl, 1, MB_TABLE_HOLDING, 1, 1, 1);
    assert_int_equal(pl.idx[pl.reads[1].first], 1);
    /* A single point cannot be split: its exception marks it. */
    assert_int_equal(mb_plan_split(&pl, 0, p), -ENOENT);
    assert_int_equal(mb_plan_split(&pl, 9, p), -ENOENT);
    mb_plan_free(&pl);
}

static void test_split_same_address(void **state) {
    (void)state;
    struct mb_point_cfg p[] = {reg(3, MB_TYPE_BIT), reg(3, MB_TYPE_BIT)};
    struct mb_plan pl;
    p[1].param = 2;
    assert_int_equal(mb_plan_build(p, 2, 0, &pl), 0);
    assert_int_equal(mb_plan_split(&pl, 0, p), -ENOENT);
    mb_plan_free(&pl);
}

static void test_meter_map(void **state) {
    (void)state;
    struct mb_point_cfg p[MB_METER_POINTS];
    struct mb_plan pl;
    assert_int_equal(mb_meter_map(p), MB_METER_POINTS);
    assert_int_equal(mb_plan_build(p, MB_METER_POINTS, 0, &pl), 0);
    assert_int_equal(pl.n_reads, 14); /* the ten spaced setpoints need a read each */
    mb_plan_free(&pl);
    assert_int_equal(mb_plan_build(p, MB_METER_POINTS, 4, &pl), 0);
    assert_int_equal(pl.n_reads, 5); /* 60 points, 5 requests */
    expect_read(&pl, 0, MB_TABLE_COIL, 0, 5, 5);
    expect_read(&pl, 1, MB_TABLE_INPUT, 0, 60, 30);
    expect_read(&pl, 2, MB_TABLE_INPUT, 256, 40, 10);
    expect_read(&pl, 3, MB_TABLE_HOLDING, 1000, 19, 10);
    expect_read(&pl, 4, MB_TABLE_HOLDING, 5000, 20, 5);
    mb_plan_free(&pl);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_contiguous_merge),   cmocka_unit_test(test_gap),
        cmocka_unit_test(test_tables_apart),       cmocka_unit_test(test_register_limit),
        cmocka_unit_test(test_bit_limit),          cmocka_unit_test(test_overlap),
        cmocka_unit_test(test_bad_points),         cmocka_unit_test(test_split),
        cmocka_unit_test(test_split_same_address), cmocka_unit_test(test_meter_map),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
