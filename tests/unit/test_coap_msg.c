/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the CoAP message codec (coap_msg.c): RFC 7252 example messages as byte vectors,
 * one vector per parse error, option delta/length boundaries, builder ordering, serialization
 * round trips and option access. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lwm2m/coap.h"

#define VEC(...) ((const uint8_t[]){__VA_ARGS__}), sizeof((const uint8_t[]){__VA_ARGS__})

/* Parses buf, which must be valid, and checks that serializing gives back the same bytes and
 * that coap_serialized_size agrees. The bytes are copied into an exact-size heap block so that
 * ASan catches any read past len. */
static void parse_roundtrip(struct coap_msg *m, const uint8_t *buf, size_t len) {
    uint8_t *copy = malloc(len ? len : 1);
    uint8_t *out = malloc(len + 16);

    assert_non_null(copy);
    assert_non_null(out);
    memcpy(copy, buf, len);
    assert_int_equal(coap_parse(m, copy, len), 0);
    assert_int_equal(coap_serialized_size(m), len);
    assert_int_equal(coap_serialize(m, out, len + 16), (int)len);
    assert_memory_equal(out, buf, len);
    /* The parsed message borrows from copy: re-point it before freeing. */
    assert_int_equal(coap_parse(m, buf, len), 0);
    free(copy);
    free(out);
}

static int parse_err(const uint8_t *buf, size_t len) {
    struct coap_msg m;
    uint8_t *copy = malloc(len ? len : 1);
    int rc;

    assert_non_null(copy);
    memcpy(copy, buf, len);
    rc = coap_parse(&m, copy, len);
    free(copy);
    return rc;
}

/* Serializes m and compares with the expected bytes. */
static void expect_bytes(const struct coap_msg *m, const uint8_t *want, size_t len) {
    uint8_t out[512];

    assert_int_equal(coap_serialized_size(m), len);
    assert_int_equal(coap_serialize(m, out, sizeof(out)), (int)len);
    assert_memory_equal(out, want, len);
}

/* ---- RFC 7252 example messages --------------------------------------------------------------- */

/* Appendix A, Figure 16: CON GET MID 0x7d34, no token, Uri-Path "temperature". */
static void test_rfc_get_con_uri_path(void **state) {
    static const uint8_t v[] = {0x40, 0x01, 0x7d, 0x34, 0xbb, 't', 'e', 'm',
                                'p',  'e',  'r',  'a',  't',  'u', 'r', 'e'};
    struct coap_msg m;
    char path[32];

    (void)state;
    parse_roundtrip(&m, v, sizeof(v));
    assert_int_equal(m.type, COAP_TYPE_CON);
    assert_int_equal(m.code, COAP_GET);
    assert_int_equal(m.mid, 0x7d34);
    assert_int_equal(m.token_len, 0);
    assert_int_equal(m.opt_count, 1);
    assert_int_equal(m.opts[0].num, COAP_OPT_URI_PATH);
    assert_int_equal(m.opts[0].len, 11);
    assert_null(m.payload);
    assert_int_equal(m.payload_len, 0);
    assert_int_equal(coap_msg_path(&m, COAP_OPT_URI_PATH, path, sizeof(path)), 11);
    assert_string_equal(path, "temperature");

    coap_msg_init(&m, COAP_TYPE_CON, COAP_GET, 0x7d34);
    assert_int_equal(coap_msg_add_path(&m, COAP_OPT_URI_PATH, "/temperature"), 0);
    expect_bytes(&m, v, sizeof(v));
}

/* Appendix A, Figure 16's answer: the piggybacked ACK 2.05 with payload "22.3 C". */
static void test_rfc_piggybacked_ack(void **state) {
    static const uint8_t v[] = {0x60, 0x45, 0x7d, 0x34, 0xff, '2', '2', '.', '3', ' ', 'C'};
    struct coap_msg m;

    (void)state;
    parse_roundtrip(&m, v, sizeof(v));
    assert_int_equal(m.type, COAP_TYPE_ACK);
    assert_int_equal(m.code, COAP_205_CONTENT);
    assert_int_equal(m.mid, 0x7d34);
    assert_int_equal(m.opt_count, 0);
    assert_int_equal(m.payload_len, 6);
    assert_memory_equal(m.payload, "22.3 C", 6);

    coap_msg_init(&m, COAP_TYPE_ACK, COAP_205_CONTENT, 0x7d34);
    coap_msg_set_payload(&m, "22.3 C", 6);
    expect_bytes(&m, v, sizeof(v));
}

/* A LwM2M Read: CON GET with a 4-byte token, Uri-Path 3/0/1 and Accept TLV (11542 = 0x2d16). */
static void test_get_with_token_and_path(void **state) {
    static const uint8_t tok[] = {0xde, 0xad, 0xbe, 0xef};
    static const uint8_t v[] = {0x44, 0x01, 0x12, 0x34, 0xde, 0xad, 0xbe, 0xef, 0xb1,
                                '3',  0x01, '0',  0x01, '1',  0x62, 0x2d, 0x16};
    struct coap_msg m;
    uint32_t accept;
    char path[16];

    (void)state;
    parse_roundtrip(&m, v, sizeof(v));
    assert_int_equal(m.token_len, 4);
    assert_memory_equal(m.token, tok, 4);
    assert_int_equal(m.opt_count, 4);
    assert_int_equal(coap_msg_path(&m, COAP_OPT_URI_PATH, path, sizeof(path)), 5);
    assert_string_equal(path, "3/0/1");
    assert_int_equal(coap_msg_opt_uint(&m, COAP_OPT_ACCEPT, &accept), 0);
    assert_int_equal(accept, 11542);

    coap_msg_init(&m, COAP_TYPE_CON, COAP_GET, 0x1234);
    assert_int_equal(coap_msg_set_token(&m, tok, sizeof(tok)), 0);
    /* Added out of order on purpose: the builder sorts. */
    assert_int_equal(coap_msg_add_opt_uint(&m, COAP_OPT_ACCEPT, 11542), 0);
    assert_int_equal(coap_msg_add_path(&m, COAP_OPT_URI_PATH, "3/0/1"), 0);
    expect_bytes(&m, v, sizeof(v));
}

/* A LwM2M notification: NON 2.05, token, Observe 3 bytes, Content-Format 11542, payload. */
static void test_notification(void **state) {
    static const uint8_t v[] = {0x52, 0x45, 0x00, 0x07, 0x0a, 0x0b, 0x63, 0x01, 0x00,
                                0x00, 0x62, 0x2d, 0x16, 0xff, 0xc8, 0x00, 0x14, 0x4f};
    struct coap_msg m;
    uint32_t obs, cf;

    (void)state;
    parse_roundtrip(&m, v, sizeof(v));
    assert_int_equal(m.type, COAP_TYPE_NON);
    assert_int_equal(coap_msg_opt_uint(&m, COAP_OPT_OBSERVE, &obs), 0);
    assert_int_equal(obs, 0x10000);
    assert_int_equal(coap_msg_opt_uint(&m, COAP_OPT_CONTENT_FORMAT, &cf), 0);
    assert_int_equal(cf, 11542);
    assert_int_equal(m.payload_len, 4);
}

static void test_empty_messages(void **state) {
    struct coap_msg m;

    (void)state;
    parse_roundtrip(&m, VEC(0x60, 0x00, 0xab, 0xcd)); /* empty ACK */
    assert_int_equal(m.type, COAP_TYPE_ACK);
    assert_int_equal(m.code, COAP_EMPTY);
    assert_int_equal(m.mid, 0xabcd);
    parse_roundtrip(&m, VEC(0x70, 0x00, 0x00, 0x01)); /* RST */
    parse_roundtrip(&m, VEC(0x40, 0x00, 0x00, 0x01)); /* CoAP ping */
    coap_msg_init(&m, COAP_TYPE_RST, COAP_EMPTY, 1);
    expect_bytes(&m, VEC(0x70, 0x00, 0x00, 0x01));
}

/* ---- one vector per parse error ------------------------------------------------------------ */

static void test_err_short(void **state) {
    struct coap_msg m;

    (void)state;
    assert_int_equal(coap_parse(&m, NULL, 0), COAP_PERR_SHORT);
    assert_int_equal(parse_err(VEC(0x40)), COAP_PERR_SHORT);
    assert_int_equal(parse_err(VEC(0x40, 0x01, 0x00)), COAP_PERR_SHORT);
    assert_false(coap_parse_header_ok((const uint8_t[]){0x40, 0x01, 0x00}, 3));
}

static void test_err_version(void **state) {
    (void)state;
    assert_int_equal(parse_err(VEC(0x00, 0x01, 0x00, 0x01)), COAP_PERR_VERSION);
    assert_int_equal(parse_err(VEC(0x80, 0x01, 0x00, 0x01)), COAP_PERR_VERSION);
    assert_int_equal(parse_err(VEC(0xc0, 0x01, 0x00, 0x01)), COAP_PERR_VERSION);
    assert_false(coap_parse_header_ok((const uint8_t[]){0x80, 0x01, 0x00, 0x01}, 4));
}

static void test_err_token_len(void **state) {
    static const uint8_t nine[] = {0x49, 0x01, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9};

    (void)state;
    assert_int_equal(parse_err(nine, sizeof(nine)), COAP_PERR_TOKEN_LEN);
    assert_int_equal(parse_err(VEC(0x4f, 0x01, 0x00, 0x01)), COAP_PERR_TOKEN_LEN);
    assert_false(coap_parse_header_ok(nine, sizeof(nine)));
    /* TKL 8 is the largest allowed. */
    assert_int_equal(parse_err(VEC(0x48, 0x01, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8)), 0);
}

static void test_err_truncated(void **state) {
    struct coap_msg m;
    static const uint8_t tok[] = {0x44, 0x01, 0x00, 0x01, 0xaa, 0xbb};

    (void)state;
    /* Token: 2 of 4 bytes. */
    assert_int_equal(parse_err(tok, sizeof(tok)), COAP_PERR_TRUNCATED);
    assert_false(coap_parse_header_ok(tok, sizeof(tok)));
    /* Extended delta, 1 byte (nibble 13) and 2 bytes (nibble 14, one present). */
    assert_int_equal(parse_err(VEC(0x40, 0x01, 0, 1, 0xd0)), COAP_PERR_TRUNCATED);
    assert_int_equal(parse_err(VEC(0x40, 0x01, 0, 1, 0xe0)), COAP_PERR_TRUNCATED);
    assert_int_equal(parse_err(VEC(0x40, 0x01, 0, 1, 0xe0, 0x00)), COAP_PERR_TRUNCATED);
    /* Extended length, after a complete extended delta. */
    assert_int_equal(parse_err(VEC(0x40, 0x01, 0, 1, 0xdd, 0x00)), COAP_PERR_TRUNCATED);
    assert_int_equal(parse_err(VEC(0x40, 0x01, 0, 1, 0x0e, 0x01)), COAP_PERR_TRUNCATED);
    /* Option value: 5 declared, 2 present; and an extended length of 13 with 12 bytes. */
    assert_int_equal(parse_err(VEC(0x40, 0x01, 0, 1, 0xb5, 'a', 'b')), COAP_PERR_TRUNCATED);
    assert_int_equal(
        parse_err(VEC(0x40, 0x01, 0, 1, 0xbd, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12)),
        COAP_PERR_TRUNCATED);
    /* After a failed option the header and token are still usable for an answer. */
    assert_int_equal(coap_parse(&m, VEC(0x41, 0x01, 0x00, 0x09, 0x77, 0xb5, 'a')),
                     COAP_PERR_TRUNCATED);
    assert_true(coap_parse_header_ok(VEC(0x41, 0x01, 0x00, 0x09, 0x77, 0xb5, 'a')));
    assert_int_equal(m.mid, 9);
    assert_int_equal(m.token_len, 1);
    assert_int_equal(m.token[0], 0x77);
}

static void test_err_opt_nibble(void **state) {
    (void)state;
    assert_int_equal(parse_err(VEC(0x40, 0x01, 0, 1, 0xf0)), COAP_PERR_OPT_NIBBLE);
    assert_int_equal(parse_err(VEC(0x40, 0x01, 0, 1, 0xf1, 'x')), COAP_PERR_OPT_NIBBLE);
    assert_int_equal(parse_err(VEC(0x40, 0x01, 0, 1, 0xbf, 'x')), COAP_PERR_OPT_NIBBLE);
    assert_int_equal(parse_err(VEC(0x40, 0x01, 0, 1, 0x0f)), COAP_PERR_OPT_NIBBLE);
    /* After a valid option, too. */
    assert_int_equal(parse_err(VEC(0x40, 0x01, 0, 1, 0xb1, 'a', 0x1f, 'x')), COAP_PERR_OPT_NIBBLE);
}

static void test_err_marker(void **state) {
    (void)state;
    assert_int_equal(parse_err(VEC(0x40, 0x01, 0, 1, 0xff)), COAP_PERR_MARKER);
    assert_int_equal(parse_err(VEC(0x41, 0x45, 0, 1, 0x11, 0xb1, 'a', 0xff)), COAP_PERR_MARKER);
    /* One payload byte is enough, and it may itself be 0xff. */
    assert_int_equal(parse_err(VEC(0x40, 0x45, 0, 1, 0xff, 0xff)), 0);
}

static void test_err_too_many(void **state) {
    uint8_t v[4 + COAP_MAX_OPTIONS + 1] = {0x40, 0x01, 0x00, 0x01, 0xb0};
    struct coap_msg m;

    (void)state;
    /* Uri-Path "" then repeats of delta 0 / length 0: exactly COAP_MAX_OPTIONS parse. */
    parse_roundtrip(&m, v, 4 + COAP_MAX_OPTIONS);
    assert_int_equal(m.opt_count, COAP_MAX_OPTIONS);
    assert_int_equal(parse_err(v, sizeof(v)), COAP_PERR_TOO_MANY);
}

static void test_err_empty(void **state) {
    (void)state;
    assert_int_equal(parse_err(VEC(0x41, 0x00, 0, 1, 0xaa)), COAP_PERR_EMPTY); /* token */
    assert_int_equal(parse_err(VEC(0x41, 0x00, 0, 1)), COAP_PERR_EMPTY);       /* TKL, no token */
    assert_int_equal(parse_err(VEC(0x60, 0x00, 0, 1, 0xb0)), COAP_PERR_EMPTY); /* option */
    assert_int_equal(parse_err(VEC(0x70, 0x00, 0, 1, 0xff, 1)), COAP_PERR_EMPTY); /* payload */
    assert_int_equal(parse_err(VEC(0x60, 0x00, 0, 1, 0xff)), COAP_PERR_EMPTY);    /* bare marker */
}

static void test_err_opt_range(void **state) {
    struct coap_msg m;
    static uint8_t big[4 + 3 + 65804];

    (void)state;
    /* Delta 269+65535 in one option. */
    assert_int_equal(parse_err(VEC(0x40, 0x01, 0, 1, 0xe0, 0xff, 0xff)), COAP_PERR_OPT_RANGE);
    /* 65535 is the last valid number; one more overflows. */
    parse_roundtrip(&m, VEC(0x40, 0x01, 0, 1, 0xe0, 0xfe, 0xf2));
    assert_int_equal(m.opts[0].num, 65535);
    assert_int_equal(parse_err(VEC(0x40, 0x01, 0, 1, 0xe0, 0xfe, 0xf2, 0x10)), COAP_PERR_OPT_RANGE);
    assert_int_equal(parse_err(VEC(0x40, 0x01, 0, 1, 0xe0, 0xfe, 0xf0, 0x30)), COAP_PERR_OPT_RANGE);
    /* A value of 65804 bytes is present in full but cannot be represented. */
    big[0] = 0x40;
    big[1] = 0x02;
    big[4] = 0xbe;
    big[5] = 0xff;
    big[6] = 0xff;
    assert_int_equal(coap_parse(&m, big, sizeof(big)), COAP_PERR_OPT_RANGE);
}

static void test_err_reserved_class(void **state) {
    (void)state;
    assert_int_equal(parse_err(VEC(0x40, 0x20, 0, 1)), COAP_PERR_RESERVED);       /* 1.00 */
    assert_int_equal(parse_err(VEC(0x40, 0x3f, 0, 1)), COAP_PERR_RESERVED);       /* 1.31 */
    assert_int_equal(parse_err(VEC(0x40, 0xc0, 0, 1)), COAP_PERR_RESERVED);       /* 6.00 */
    assert_int_equal(parse_err(VEC(0x41, 0xe1, 0, 1, 0x01)), COAP_PERR_RESERVED); /* 7.01 */
    assert_int_equal(parse_err(VEC(0x40, 0xa0, 0, 1)), 0);                        /* 5.00 */
    assert_true(coap_parse_header_ok(VEC(0x41, 0xe1, 0, 1, 0x01)));
}

/* Every prefix of a valid message either parses or fails cleanly, never reading past its end. */
static void test_every_prefix(void **state) {
    static const uint8_t v[] = {0x44, 0x02, 0x00, 0x05, 1,    2,   3,   4,   0xb2, 'r', 'd', 0x4d,
                                0x02, 'e',  'p',  '=',  'n',  'o', 'd', 'e', '-',  '1', '2', '3',
                                '4',  '5',  '6',  '7',  0xff, '<', '/', '3', '/',  '0', '>'};

    (void)state;
    for (size_t k = 0; k <= sizeof(v); k++) {
        int rc = parse_err(v, k);

        assert_true(rc <= 0);
        if (k < 4)
            assert_int_equal(rc, COAP_PERR_SHORT);
    }
    assert_int_equal(parse_err(v, sizeof(v)), 0);
}

/* ---- option delta and length boundaries ---------------------------------------------------- */

static void check_opt_num(uint16_t num, const uint8_t *want, size_t len) {
    struct coap_msg m;

    coap_msg_init(&m, COAP_TYPE_CON, COAP_GET, 1);
    assert_int_equal(coap_msg_add_opt(&m, num, NULL, 0), 0);
    expect_bytes(&m, want, len);
    parse_roundtrip(&m, want, len);
    assert_int_equal(m.opts[0].num, num);
}

static void test_delta_boundaries(void **state) {
    (void)state;
    check_opt_num(12, VEC(0x40, 0x01, 0, 1, 0xc0));
    check_opt_num(13, VEC(0x40, 0x01, 0, 1, 0xd0, 0x00));
    check_opt_num(268, VEC(0x40, 0x01, 0, 1, 0xd0, 0xff));
    check_opt_num(269, VEC(0x40, 0x01, 0, 1, 0xe0, 0x00, 0x00));
    check_opt_num(270, VEC(0x40, 0x01, 0, 1, 0xe0, 0x00, 0x01));
    check_opt_num(65535, VEC(0x40, 0x01, 0, 1, 0xe0, 0xfe, 0xf2));
}

/* Builds one option of len bytes and checks its header bytes and the round trip. */
static void check_opt_len(size_t len, const uint8_t *hdr, size_t hdr_len) {
    static uint8_t val[65536];
    static uint8_t out[4 + 3 + 65536];
    struct coap_msg m;
    int n;

    for (size_t i = 0; i < len; i++)
        val[i] = (uint8_t)(i * 7);
    coap_msg_init(&m, COAP_TYPE_CON, COAP_PUT, 1);
    assert_int_equal(coap_msg_add_opt(&m, COAP_OPT_IF_MATCH, val, len), 0);
    n = coap_serialize(&m, out, sizeof(out));
    assert_int_equal(n, 4 + hdr_len + len);
    assert_memory_equal(out + 4, hdr, hdr_len);
    parse_roundtrip(&m, out, (size_t)n);
    assert_int_equal(m.opts[0].len, len);
    assert_memory_equal(m.opts[0].val, val, len);
}

static void test_length_boundaries(void **state) {
    struct coap_msg m;

    (void)state;
    check_opt_len(0, VEC(0x10));
    check_opt_len(12, VEC(0x1c));
    check_opt_len(13, VEC(0x1d, 0x00));
    check_opt_len(268, VEC(0x1d, 0xff));
    check_opt_len(269, VEC(0x1e, 0x00, 0x00));
    check_opt_len(1024, VEC(0x1e, 0x02, 0xf3));
    check_opt_len(65535, VEC(0x1e, 0xfe, 0xf2));
    coap_msg_init(&m, COAP_TYPE_CON, COAP_PUT, 1);
    assert_int_equal(coap_msg_add_opt(&m, 1, "x", 65536), COAP_BERR_INVALID);
}

/* Extended delta and extended length in the same option header. */
static void test_delta_and_length_extended(void **state) {
    static const uint8_t v[] = {0x40, 0x03, 0x00, 0x02, 0xed, 0x00, 0x30, 0x00, 'a', 'b', 'c',
                                'd',  'e',  'f',  'g',  'h',  'i',  'j',  'k',  'l', 'm'};
    struct coap_msg m;

    (void)state;
    parse_roundtrip(&m, v, sizeof(v));
    assert_int_equal(m.opts[0].num, 269 + 0x30);
    assert_int_equal(m.opts[0].len, 13);
}

/* ---- builder ------------------------------------------------------------------------------- */

static void test_builder_sorted_stable(void **state) {
    struct coap_msg m, p;
    uint8_t out[128];
    const struct coap_option *o;
    int n;

    (void)state;
    coap_msg_init(&m, COAP_TYPE_CON, COAP_POST, 7);
    assert_int_equal(coap_msg_add_opt(&m, COAP_OPT_URI_QUERY, "ep=a", 4), 0);
    assert_int_equal(coap_msg_add_opt(&m, COAP_OPT_URI_PATH, "rd", 2), 0);
    assert_int_equal(coap_msg_add_opt(&m, COAP_OPT_URI_QUERY, "lt=60", 5), 0);
    assert_int_equal(coap_msg_add_opt(&m, COAP_OPT_URI_HOST, "h", 1), 0);
    assert_int_equal(coap_msg_add_opt_uint(&m, COAP_OPT_CONTENT_FORMAT, 40), 0);
    assert_int_equal(coap_msg_add_opt(&m, COAP_OPT_URI_QUERY, "b=U", 3), 0);
    assert_int_equal(m.opt_count, 6);
    for (uint16_t i = 1; i < m.opt_count; i++)
        assert_true(m.opts[i - 1].num <= m.opts[i].num);
    n = coap_serialize(&m, out, sizeof(out));
    assert_true(n > 0);
    assert_int_equal(coap_parse(&p, out, (size_t)n), 0);
    o = coap_msg_opt(&p, COAP_OPT_URI_QUERY);
    assert_memory_equal(o->val, "ep=a", 4);
    o = coap_msg_opt_next(&p, o);
    assert_memory_equal(o->val, "lt=60", 5);
    o = coap_msg_opt_next(&p, o);
    assert_memory_equal(o->val, "b=U", 3);
    assert_null(coap_msg_opt_next(&p, o));
    assert_null(coap_msg_opt(&p, COAP_OPT_ACCEPT));
    assert_null(coap_msg_opt_next(&p, NULL));
}

static void test_builder_uint(void **state) {
    static const struct {
        uint32_t v;
        uint16_t len;
    } cases[] = {{0, 0},       {1, 1},        {255, 1},       {256, 2},       {0xffff, 2},
                 {0x10000, 3}, {0xffffff, 3}, {0x1000000, 4}, {0xffffffff, 4}};
    struct coap_msg m;
    uint32_t got;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        coap_msg_init(&m, COAP_TYPE_CON, COAP_GET, 1);
        assert_int_equal(coap_msg_add_opt_uint(&m, COAP_OPT_MAX_AGE, cases[i].v), 0);
        assert_int_equal(m.opts[0].len, cases[i].len);
        assert_int_equal(coap_msg_opt_uint(&m, COAP_OPT_MAX_AGE, &got), 0);
        assert_int_equal(got, cases[i].v);
    }
    /* Scratch holds 16 four-byte values; a 17th does not fit, an empty one still does. */
    coap_msg_init(&m, COAP_TYPE_CON, COAP_GET, 1);
    for (int i = 0; i < COAP_OPT_SCRATCH_LEN / 4; i++)
        assert_int_equal(coap_msg_add_opt_uint(&m, 2000, 0x80000000u + (uint32_t)i), 0);
    assert_int_equal(coap_msg_add_opt_uint(&m, 2000, 0x80000000u), COAP_BERR_NOSPACE);
    assert_int_equal(coap_msg_add_opt_uint(&m, 2000, 0), 0);
    assert_int_equal(coap_opt_uint(&m.opts[15], &got), 0);
    assert_int_equal(got, 0x8000000f);
}

static void test_opt_uint_range(void **state) {
    struct coap_msg m;
    uint32_t got = 42;

    (void)state;
    parse_roundtrip(&m, VEC(0x40, 0x01, 0, 1, 0x65, 1, 2, 3, 4, 5));
    assert_int_equal(coap_msg_opt_uint(&m, COAP_OPT_OBSERVE, &got), COAP_PERR_OPT_RANGE);
    assert_int_equal(coap_msg_opt_uint(&m, COAP_OPT_ACCEPT, &got), -1);
    /* Leading zeros are not minimal but still decode. */
    parse_roundtrip(&m, VEC(0x40, 0x01, 0, 1, 0x64, 0, 0, 0, 9));
    assert_int_equal(coap_msg_opt_uint(&m, COAP_OPT_OBSERVE, &got), 0);
    assert_int_equal(got, 9);
}

static void test_builder_path(void **state) {
    struct coap_msg m;
    char out[32];

    (void)state;
    coap_msg_init(&m, COAP_TYPE_CON, COAP_GET, 1);
    assert_int_equal(coap_msg_add_path(&m, COAP_OPT_URI_PATH, ""), 0);
    assert_int_equal(coap_msg_add_path(&m, COAP_OPT_URI_PATH, "/"), 0);
    assert_int_equal(m.opt_count, 0);
    assert_int_equal(coap_msg_path(&m, COAP_OPT_URI_PATH, out, sizeof(out)), 0);
    assert_string_equal(out, "");
    assert_int_equal(coap_msg_add_path(&m, COAP_OPT_URI_PATH, "/3303/0/5700"), 0);
    assert_int_equal(m.opt_count, 3);
    assert_int_equal(m.opts[0].len, 4);
    assert_int_equal(coap_msg_path(&m, COAP_OPT_URI_PATH, out, sizeof(out)), 11);
    assert_string_equal(out, "3303/0/5700");
    /* Empty segments are kept (RFC 7252 §6.4): "a//b/" is four options. */
    coap_msg_init(&m, COAP_TYPE_CON, COAP_GET, 1);
    assert_int_equal(coap_msg_add_path(&m, COAP_OPT_LOCATION_PATH, "a//b/"), 0);
    assert_int_equal(m.opt_count, 4);
    assert_int_equal(m.opts[1].len, 0);
    assert_int_equal(m.opts[3].len, 0);
    assert_int_equal(coap_msg_path(&m, COAP_OPT_LOCATION_PATH, out, sizeof(out)), 5);
    assert_string_equal(out, "a//b/");
    /* A path that does not fit adds nothing. */
    coap_msg_init(&m, COAP_TYPE_CON, COAP_GET, 1);
    for (int i = 0; i < COAP_MAX_OPTIONS - 2; i++)
        assert_int_equal(coap_msg_add_opt(&m, COAP_OPT_URI_QUERY, "q", 1), 0);
    assert_int_equal(coap_msg_add_path(&m, COAP_OPT_URI_PATH, "1/2/3"), COAP_BERR_NOSPACE);
    assert_int_equal(m.opt_count, COAP_MAX_OPTIONS - 2);
    assert_int_equal(coap_msg_add_path(&m, COAP_OPT_URI_PATH, "1/2"), 0);
    assert_int_equal(coap_msg_add_opt(&m, COAP_OPT_URI_PATH, "x", 1), COAP_BERR_NOSPACE);
    assert_int_equal(coap_msg_add_path(&m, COAP_OPT_URI_PATH, NULL), COAP_BERR_INVALID);
}

static void test_msg_path_limits(void **state) {
    struct coap_msg m;
    char out[8];

    (void)state;
    coap_msg_init(&m, COAP_TYPE_CON, COAP_GET, 1);
    assert_int_equal(coap_msg_add_path(&m, COAP_OPT_URI_PATH, "ab/cd"), 0);
    assert_int_equal(coap_msg_path(&m, COAP_OPT_URI_PATH, out, 6), 5); /* exact fit with NUL */
    assert_int_equal(coap_msg_path(&m, COAP_OPT_URI_PATH, out, 5), COAP_BERR_NOSPACE);
    assert_string_equal(out, "");
    assert_int_equal(coap_msg_path(&m, COAP_OPT_URI_PATH, out, 0), COAP_BERR_NOSPACE);
    /* A segment with '/' inside cannot be joined without changing the path's meaning. */
    coap_msg_init(&m, COAP_TYPE_CON, COAP_GET, 1);
    assert_int_equal(coap_msg_add_opt(&m, COAP_OPT_URI_PATH, "3/0", 3), 0);
    assert_int_equal(coap_msg_path(&m, COAP_OPT_URI_PATH, out, sizeof(out)), COAP_BERR_INVALID);
    coap_msg_init(&m, COAP_TYPE_CON, COAP_GET, 1);
    assert_int_equal(coap_msg_add_opt(&m, COAP_OPT_URI_PATH, "3\0", 2), 0);
    assert_int_equal(coap_msg_path(&m, COAP_OPT_URI_PATH, out, sizeof(out)), COAP_BERR_INVALID);
}

static void test_builder_token_and_limits(void **state) {
    static const uint8_t tok[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    struct coap_msg m;

    (void)state;
    coap_msg_init(&m, COAP_TYPE_CON, COAP_GET, 1);
    assert_int_equal(coap_msg_set_token(&m, tok, 9), COAP_BERR_INVALID);
    assert_int_equal(coap_msg_set_token(&m, NULL, 1), COAP_BERR_INVALID);
    assert_int_equal(coap_msg_set_token(&m, tok, 8), 0);
    assert_int_equal(m.token_len, 8);
    assert_int_equal(coap_msg_set_token(&m, NULL, 0), 0);
    assert_int_equal(m.token_len, 0);
    assert_int_equal(coap_msg_add_opt(&m, 1, NULL, 1), COAP_BERR_INVALID);
    for (int i = 0; i < COAP_MAX_OPTIONS; i++)
        assert_int_equal(coap_msg_add_opt(&m, (uint16_t)(100 - i), NULL, 0), 0);
    assert_int_equal(coap_msg_add_opt(&m, 1, NULL, 0), COAP_BERR_NOSPACE);
    assert_int_equal(m.opts[0].num, 61);
    assert_int_equal(m.opts[COAP_MAX_OPTIONS - 1].num, 100);
}

static void test_del_opt(void **state) {
    struct coap_msg m;

    (void)state;
    coap_msg_init(&m, COAP_TYPE_ACK, COAP_205_CONTENT, 1);
    assert_int_equal(coap_msg_add_opt_uint(&m, COAP_OPT_OBSERVE, 5), 0);
    assert_int_equal(coap_msg_add_path(&m, COAP_OPT_LOCATION_PATH, "rd/1"), 0);
    assert_int_equal(coap_msg_add_opt_uint(&m, COAP_OPT_CONTENT_FORMAT, 0), 0);
    coap_msg_del_opt(&m, COAP_OPT_LOCATION_PATH);
    assert_int_equal(m.opt_count, 2);
    assert_int_equal(m.opts[0].num, COAP_OPT_OBSERVE);
    assert_int_equal(m.opts[1].num, COAP_OPT_CONTENT_FORMAT);
    coap_msg_del_opt(&m, COAP_OPT_ACCEPT);
    assert_int_equal(m.opt_count, 2);
    expect_bytes(&m, VEC(0x60, 0x45, 0, 1, 0x61, 0x05, 0x60));
}

/* ---- serialization errors ------------------------------------------------------------------ */

static void test_serialize_nospace(void **state) {
    struct coap_msg m;
    uint8_t out[64];
    size_t need;

    (void)state;
    coap_msg_init(&m, COAP_TYPE_CON, COAP_PUT, 3);
    assert_int_equal(coap_msg_set_token(&m, (const uint8_t *)"tk", 2), 0);
    assert_int_equal(coap_msg_add_path(&m, COAP_OPT_URI_PATH, "3/0/14"), 0);
    coap_msg_set_payload(&m, "+01:00", 6);
    need = coap_serialized_size(&m);
    for (size_t cap = 0; cap < need; cap++)
        assert_int_equal(coap_serialize(&m, out, cap), COAP_BERR_NOSPACE);
    assert_int_equal(coap_serialize(&m, out, need), (int)need);
}

static void test_serialize_invalid(void **state) {
    struct coap_msg m;
    uint8_t out[64];

    (void)state;
    /* Options out of order (only possible by writing the table directly). */
    coap_msg_init(&m, COAP_TYPE_CON, COAP_GET, 1);
    m.opts[0] = (struct coap_option){.num = 11, .len = 0, .val = NULL};
    m.opts[1] = (struct coap_option){.num = 3, .len = 0, .val = NULL};
    m.opt_count = 2;
    assert_int_equal(coap_serialize(&m, out, sizeof(out)), COAP_BERR_INVALID);
    /* Empty message with a token, an option or a payload. */
    coap_msg_init(&m, COAP_TYPE_ACK, COAP_EMPTY, 1);
    assert_int_equal(coap_msg_set_token(&m, (const uint8_t *)"t", 1), 0);
    assert_int_equal(coap_serialize(&m, out, sizeof(out)), COAP_BERR_INVALID);
    coap_msg_init(&m, COAP_TYPE_ACK, COAP_EMPTY, 1);
    coap_msg_set_payload(&m, "x", 1);
    assert_int_equal(coap_serialize(&m, out, sizeof(out)), COAP_BERR_INVALID);
    /* Reserved code class, bad type, bad token length, payload length without bytes. */
    coap_msg_init(&m, COAP_TYPE_CON, COAP_CODE(7, 0), 1);
    assert_int_equal(coap_serialize(&m, out, sizeof(out)), COAP_BERR_INVALID);
    coap_msg_init(&m, 4, COAP_GET, 1);
    assert_int_equal(coap_serialize(&m, out, sizeof(out)), COAP_BERR_INVALID);
    coap_msg_init(&m, COAP_TYPE_CON, COAP_GET, 1);
    m.token_len = 9;
    assert_int_equal(coap_serialize(&m, out, sizeof(out)), COAP_BERR_INVALID);
    coap_msg_init(&m, COAP_TYPE_CON, COAP_GET, 1);
    m.payload_len = 3;
    assert_int_equal(coap_serialize(&m, out, sizeof(out)), COAP_BERR_INVALID);
}

/* ---- critical options and code names ------------------------------------------------------- */

static void test_unknown_critical(void **state) {
    static const uint16_t known[] = {COAP_OPT_URI_PATH, COAP_OPT_URI_QUERY, COAP_OPT_BLOCK1};
    static const uint16_t known_all[] = {COAP_OPT_URI_PATH, COAP_OPT_IF_MATCH, 2049};
    struct coap_msg m;

    (void)state;
    /* If-Match (1, critical), Observe (6, elective), Uri-Path (11), option 2048 (elective),
     * option 2049 (critical, unknown). */
    parse_roundtrip(&m, VEC(0x40, 0x03, 0, 1, 0x10, 0x50, 0x51, 'x', 0xe0, 0x06, 0xe8, 0x10));
    assert_int_equal(m.opt_count, 5);
    assert_int_equal(m.opts[3].num, 2048);
    assert_int_equal(coap_msg_unknown_critical(&m, known, 3), COAP_OPT_IF_MATCH);
    assert_int_equal(coap_msg_unknown_critical(&m, known_all, 2), 2049);
    assert_int_equal(coap_msg_unknown_critical(&m, known_all, 3), 0);
    assert_int_equal(coap_msg_unknown_critical(&m, NULL, 0), COAP_OPT_IF_MATCH);
    /* Only elective options: nothing to report even with no known list. */
    parse_roundtrip(&m, VEC(0x40, 0x01, 0, 1, 0x60, 0x60, 0xe0, 0x06, 0xe7));
    assert_int_equal(m.opts[2].num, 2048);
    assert_int_equal(coap_msg_unknown_critical(&m, NULL, 0), 0);
}

static void test_code_str(void **state) {
    char buf[8];

    (void)state;
    assert_string_equal(coap_code_str(COAP_EMPTY, buf), "0.00");
    assert_string_equal(coap_code_str(COAP_GET, buf), "0.01");
    assert_string_equal(coap_code_str(COAP_IPATCH, buf), "0.07");
    assert_string_equal(coap_code_str(COAP_205_CONTENT, buf), "2.05");
    assert_string_equal(coap_code_str(COAP_231_CONTINUE, buf), "2.31");
    assert_string_equal(coap_code_str(COAP_404_NOT_FOUND, buf), "4.04");
    assert_string_equal(coap_code_str(COAP_413_REQUEST_ENTITY_TOO_LARGE, buf), "4.13");
    assert_string_equal(coap_code_str(COAP_505_PROXYING_NOT_SUPPORTED, buf), "5.05");
    assert_string_equal(coap_code_str(0xff, buf), "7.31");
    assert_ptr_equal(coap_code_str(COAP_GET, buf), buf);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc_get_con_uri_path),
        cmocka_unit_test(test_rfc_piggybacked_ack),
        cmocka_unit_test(test_get_with_token_and_path),
        cmocka_unit_test(test_notification),
        cmocka_unit_test(test_empty_messages),
        cmocka_unit_test(test_err_short),
        cmocka_unit_test(test_err_version),
        cmocka_unit_test(test_err_token_len),
        cmocka_unit_test(test_err_truncated),
        cmocka_unit_test(test_err_opt_nibble),
        cmocka_unit_test(test_err_marker),
        cmocka_unit_test(test_err_too_many),
        cmocka_unit_test(test_err_empty),
        cmocka_unit_test(test_err_opt_range),
        cmocka_unit_test(test_err_reserved_class),
        cmocka_unit_test(test_every_prefix),
        cmocka_unit_test(test_delta_boundaries),
        cmocka_unit_test(test_length_boundaries),
        cmocka_unit_test(test_delta_and_length_extended),
        cmocka_unit_test(test_builder_sorted_stable),
        cmocka_unit_test(test_builder_uint),
        cmocka_unit_test(test_opt_uint_range),
        cmocka_unit_test(test_builder_path),
        cmocka_unit_test(test_msg_path_limits),
        cmocka_unit_test(test_builder_token_and_limits),
        cmocka_unit_test(test_del_opt),
        cmocka_unit_test(test_serialize_nospace),
        cmocka_unit_test(test_serialize_invalid),
        cmocka_unit_test(test_unknown_critical),
        cmocka_unit_test(test_code_str),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
