/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the Block-wise helpers (coap_block.c, RFC 7959): option value encode/decode
 * with 1-, 2- and 3-byte values, SZX 7 and over-long values rejected, Block options read from
 * wire bytes, size negotiation, and slicing a body at every SZX. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lwm2m/coap.h"

#define VEC(...) ((const uint8_t[]){__VA_ARGS__}), sizeof((const uint8_t[]){__VA_ARGS__})

static void test_decode(void **state) {
    struct coap_block b;

    (void)state;
    assert_int_equal(coap_block_decode(0, &b), 0); /* empty value: block 0, 16 bytes */
    assert_int_equal(b.num, 0);
    assert_int_equal(b.more, 0);
    assert_int_equal(b.szx, 0);
    assert_int_equal(coap_block_decode(0x0a, &b), 0); /* 1 byte: NUM 0, M, 64 bytes */
    assert_int_equal(b.num, 0);
    assert_int_equal(b.more, 1);
    assert_int_equal(b.szx, 2);
    assert_int_equal(coap_block_decode(0xfe, &b), 0); /* largest 1-byte value */
    assert_int_equal(b.num, 15);
    assert_int_equal(b.more, 1);
    assert_int_equal(b.szx, 6);
    assert_int_equal(coap_block_decode(0x1234, &b), 0); /* 2 bytes */
    assert_int_equal(b.num, 0x123);
    assert_int_equal(b.more, 0);
    assert_int_equal(b.szx, 4);
    assert_int_equal(coap_block_decode(0xfffffe, &b), 0); /* 3 bytes: the largest NUM */
    assert_int_equal(b.num, 0xfffff);
    assert_int_equal(b.more, 1);
    assert_int_equal(b.szx, 6);
}

static void test_decode_rejects(void **state) {
    struct coap_block b;

    (void)state;
    assert_int_equal(coap_block_decode(0x07, &b), COAP_PERR_OPT_RANGE);      /* SZX 7 (BERT) */
    assert_int_equal(coap_block_decode(0x1f, &b), COAP_PERR_OPT_RANGE);      /* SZX 7 with M */
    assert_int_equal(coap_block_decode(0xffffff, &b), COAP_PERR_OPT_RANGE);  /* SZX 7, 3 bytes */
    assert_int_equal(coap_block_decode(0x1000000, &b), COAP_PERR_OPT_RANGE); /* 4 bytes */
    assert_int_equal(coap_block_decode(0xffffffff, &b), COAP_PERR_OPT_RANGE);
}

static void test_encode(void **state) {
    struct coap_block b = {.num = 0, .more = 0, .szx = 0}, back;

    (void)state;
    assert_int_equal(coap_block_encode(&b), 0);
    b = (struct coap_block){.num = 0, .more = 1, .szx = 2};
    assert_int_equal(coap_block_encode(&b), 0x0a);
    b = (struct coap_block){.num = 0x123, .more = 0, .szx = 4};
    assert_int_equal(coap_block_encode(&b), 0x1234);
    b = (struct coap_block){.num = 0xfffff, .more = 1, .szx = 6};
    assert_int_equal(coap_block_encode(&b), 0xfffffe);
    /* Any nonzero "more" is the M bit. */
    b = (struct coap_block){.num = 1, .more = 7, .szx = 0};
    assert_int_equal(coap_block_encode(&b), 0x18);
    for (uint32_t num = 0; num < (1u << 20); num += 4099) {
        for (uint8_t szx = 0; szx <= COAP_BLOCK_MAX_SZX; szx++) {
            b = (struct coap_block){.num = num, .more = (uint8_t)(num & 1), .szx = szx};
            assert_int_equal(coap_block_decode(coap_block_encode(&b), &back), 0);
            assert_int_equal(back.num, b.num);
            assert_int_equal(back.more, b.more);
            assert_int_equal(back.szx, b.szx);
        }
    }
}

static void test_msg_block_wire(void **state) {
    struct coap_msg m;
    struct coap_block b;

    (void)state;
    /* Block2 (23) absent. */
    assert_int_equal(coap_parse(&m, VEC(0x40, 0x01, 0, 1, 0xb1, '5')), 0);
    assert_int_equal(coap_msg_block(&m, COAP_OPT_BLOCK2, &b), 0);
    /* Block2 empty value: block 0 of 16 bytes. */
    assert_int_equal(coap_parse(&m, VEC(0x40, 0x01, 0, 1, 0xd0, 0x0a)), 0);
    assert_int_equal(coap_msg_block(&m, COAP_OPT_BLOCK2, &b), 1);
    assert_int_equal(b.num, 0);
    assert_int_equal(b.szx, 0);
    /* Block2 1 byte: NUM 2, no M, SZX 6 (1024). */
    assert_int_equal(coap_parse(&m, VEC(0x40, 0x01, 0, 1, 0xd1, 0x0a, 0x26)), 0);
    assert_int_equal(coap_msg_block(&m, COAP_OPT_BLOCK2, &b), 1);
    assert_int_equal(b.num, 2);
    assert_int_equal(b.more, 0);
    assert_int_equal(b.szx, 6);
    /* Block1 (27) 2 bytes: NUM 300, M, SZX 5. */
    assert_int_equal(coap_parse(&m, VEC(0x40, 0x02, 0, 1, 0xd2, 0x0e, 0x12, 0xcd)), 0);
    assert_int_equal(coap_msg_block(&m, COAP_OPT_BLOCK1, &b), 1);
    assert_int_equal(b.num, 300);
    assert_int_equal(b.more, 1);
    assert_int_equal(b.szx, 5);
    /* Block1 3 bytes: NUM 0x12345, SZX 3. */
    assert_int_equal(coap_parse(&m, VEC(0x40, 0x02, 0, 1, 0xd3, 0x0e, 0x12, 0x34, 0x53)), 0);
    assert_int_equal(coap_msg_block(&m, COAP_OPT_BLOCK1, &b), 1);
    assert_int_equal(b.num, 0x12345);
    assert_int_equal(b.szx, 3);
    /* SZX 7 and a 4-byte value (even one whose number would fit) are refused. */
    assert_int_equal(coap_parse(&m, VEC(0x40, 0x01, 0, 1, 0xd1, 0x0a, 0x17)), 0);
    assert_int_equal(coap_msg_block(&m, COAP_OPT_BLOCK2, &b), COAP_PERR_OPT_RANGE);
    assert_int_equal(coap_parse(&m, VEC(0x40, 0x01, 0, 1, 0xd4, 0x0a, 0, 0, 0, 0x0a)), 0);
    assert_int_equal(coap_msg_block(&m, COAP_OPT_BLOCK2, &b), COAP_PERR_OPT_RANGE);
}

static void test_msg_block_builder(void **state) {
    struct coap_block b = {.num = 5, .more = 1, .szx = 4}, got;
    struct coap_msg m, p;
    uint8_t out[32];
    int n;

    (void)state;
    coap_msg_init(&m, COAP_TYPE_ACK, COAP_231_CONTINUE, 9);
    assert_int_equal(coap_msg_add_opt_uint(&m, COAP_OPT_BLOCK1, coap_block_encode(&b)), 0);
    n = coap_serialize(&m, out, sizeof(out));
    assert_int_equal(n, 7);
    assert_memory_equal(out + 4, ((const uint8_t[]){0xd1, 0x0e, 0x5c}), 3);
    assert_int_equal(coap_parse(&p, out, (size_t)n), 0);
    assert_int_equal(coap_msg_block(&p, COAP_OPT_BLOCK1, &got), 1);
    assert_int_equal(got.num, 5);
    assert_int_equal(got.more, 1);
    assert_int_equal(got.szx, 4);
}

static void test_negotiate(void **state) {
    (void)state;
    assert_int_equal(coap_block_negotiate(6, 2), 2);
    assert_int_equal(coap_block_negotiate(2, 6), 2);
    assert_int_equal(coap_block_negotiate(0, 6), 0);
    assert_int_equal(coap_block_negotiate(4, 4), 4);
    assert_int_equal(coap_block_negotiate(7, 6), 6);
    assert_int_equal(coap_block_negotiate(7, 7), COAP_BLOCK_MAX_SZX);
}

/* Walks a body of total bytes block by block at szx and checks the slices tile it exactly. */
static void walk_body(size_t total, uint8_t szx) {
    size_t size = COAP_BLOCK_SIZE(szx), covered = 0, off, len;
    uint32_t num = 0;
    uint8_t more = 1;

    while (more) {
        assert_int_equal(coap_block_slice(total, num, szx, &off, &len, &more), 0);
        assert_int_equal(off, covered);
        assert_true(len > 0 || total == 0);
        if (more)
            assert_int_equal(len, size);
        covered += len;
        num++;
    }
    assert_int_equal(covered, total);
    assert_int_equal(num, total == 0 ? 1 : (total + size - 1) / size);
    assert_int_equal(coap_block_slice(total, num, szx, &off, &len, &more), -1);
}

static void test_slice_3k_every_szx(void **state) {
    size_t off, len;
    uint8_t more;

    (void)state;
    for (uint8_t szx = 0; szx <= COAP_BLOCK_MAX_SZX; szx++) {
        walk_body(3072, szx);
        walk_body(3000, szx);
    }
    /* 3 KiB at 1024: three full blocks, the last without M. */
    assert_int_equal(coap_block_slice(3072, 2, 6, &off, &len, &more), 0);
    assert_int_equal(off, 2048);
    assert_int_equal(len, 1024);
    assert_int_equal(more, 0);
    /* 3 KiB at 16: 192 blocks. */
    assert_int_equal(coap_block_slice(3072, 191, 0, &off, &len, &more), 0);
    assert_int_equal(off, 3056);
    assert_int_equal(more, 0);
    assert_int_equal(coap_block_slice(3072, 192, 0, &off, &len, &more), -1);
    /* 3000 bytes at 1024: a short last block. */
    assert_int_equal(coap_block_slice(3000, 2, 6, &off, &len, &more), 0);
    assert_int_equal(len, 952);
    assert_int_equal(more, 0);
}

static void test_slice_edges(void **state) {
    size_t off = 1, len = 1;
    uint8_t more = 1;

    (void)state;
    walk_body(0, 6);
    walk_body(1, 0);
    walk_body(16, 0);
    walk_body(17, 0);
    assert_int_equal(coap_block_slice(0, 0, 2, &off, &len, &more), 0);
    assert_int_equal(off, 0);
    assert_int_equal(len, 0);
    assert_int_equal(more, 0);
    assert_int_equal(coap_block_slice(100, 0, 7, &off, &len, &more), -1);
    assert_int_equal(coap_block_slice((size_t)1 << 31, 1u << 20, 6, &off, &len, &more), -1);
    assert_int_equal(coap_block_slice(100, 0xffffffffu, 6, &off, &len, &more), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode),
        cmocka_unit_test(test_decode_rejects),
        cmocka_unit_test(test_encode),
        cmocka_unit_test(test_msg_block_wire),
        cmocka_unit_test(test_msg_block_builder),
        cmocka_unit_test(test_negotiate),
        cmocka_unit_test(test_slice_3k_every_szx),
        cmocka_unit_test(test_slice_edges),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
