/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the RTU framing of RTU-over-TCP links (adapters/modbus/mb_rtu.c) with the
 * examples of the Modbus serial-line documents (CRC, requests, answers) and every way an answer
 * can be wrong; and for one transaction on a socket pair (mb_rtu_tcp.c) against a scripted peer:
 * split answers, stale bytes, silence, a partial frame, a bad CRC and a closed peer. */
#include <errno.h>
#include <modbus/modbus.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "modbus/mb_internal.h"

#define ADU(...) ((const uint8_t[]){__VA_ARGS__}), sizeof((const uint8_t[]){__VA_ARGS__})

static void test_crc_vectors(void **state) {
    (void)state;
    /* 01 03 00 00 00 0A -> C5 CD on the wire (low byte first) */
    assert_int_equal(mb_rtu_crc(ADU(0x01, 0x03, 0x00, 0x00, 0x00, 0x0A)), 0xCDC5);
    assert_int_equal(mb_rtu_crc(ADU(0x11, 0x03, 0x00, 0x6B, 0x00, 0x03)), 0x8776);
    assert_int_equal(mb_rtu_crc(ADU(0x01, 0x04, 0x00, 0x00, 0x00, 0x01)), 0xCA31);
    assert_int_equal(mb_rtu_crc((const uint8_t *)"123456789", 9), 0x4B37); /* the check value */
    /* a frame with its CRC appended has CRC 0 */
    assert_int_equal(mb_rtu_crc(ADU(0x11, 0x03, 0x00, 0x6B, 0x00, 0x03, 0x76, 0x87)), 0);
    assert_int_equal(mb_rtu_crc(NULL, 0), 0xFFFF);
}

static void expect_build(const struct mb_rtu_req *r, const uint16_t *regs, const uint8_t *bits,
                         const uint8_t *want, size_t n) {
    uint8_t out[MB_RTU_MAX_ADU];
    assert_int_equal(mb_rtu_build(r, regs, bits, out, sizeof(out)), (int)n);
    assert_memory_equal(out, want, n);
}

static void test_build_requests(void **state) {
    (void)state;
    expect_build(&(struct mb_rtu_req){.unit = 1, .fc = 3, .addr = 0, .count = 10}, NULL, NULL,
                 ADU(0x01, 0x03, 0x00, 0x00, 0x00, 0x0A, 0xC5, 0xCD));
    expect_build(&(struct mb_rtu_req){.unit = 0x11, .fc = 1, .addr = 0x13, .count = 0x25}, NULL,
                 NULL, ADU(0x11, 0x01, 0x00, 0x13, 0x00, 0x25, 0x0E, 0x84));
    expect_build(&(struct mb_rtu_req){.unit = 1, .fc = 4, .addr = 0, .count = 1}, NULL, NULL,
                 ADU(0x01, 0x04, 0x00, 0x00, 0x00, 0x01, 0x31, 0xCA));
    expect_build(&(struct mb_rtu_req){.unit = 0x11, .fc = 5, .addr = 0xAC, .count = 1, .value = 1},
                 NULL, NULL, ADU(0x11, 0x05, 0x00, 0xAC, 0xFF, 0x00, 0x4E, 0x8B));
    expect_build(&(struct mb_rtu_req){.unit = 0x11, .fc = 6, .addr = 1, .count = 1, .value = 3},
                 NULL, NULL, ADU(0x11, 0x06, 0x00, 0x01, 0x00, 0x03, 0x9A, 0x9B));
    /* FC15: 10 coils 1 0 1 1 0 0 1 1 | 1 0 -> CD 01 */
    const uint8_t coils[] = {1, 0, 1, 1, 0, 0, 1, 1, 1, 0};
    expect_build(&(struct mb_rtu_req){.unit = 0x11, .fc = 15, .addr = 0x13, .count = 10}, NULL,
                 coils, ADU(0x11, 0x0F, 0x00, 0x13, 0x00, 0x0A, 0x02, 0xCD, 0x01, 0xBF, 0x0B));
    const uint16_t regs[] = {0x000A, 0x0102};
    expect_build(&(struct mb_rtu_req){.unit = 0x11, .fc = 16, .addr = 1, .count = 2}, regs, NULL,
                 ADU(0x11, 0x10, 0x00, 0x01, 0x00, 0x02, 0x04, 0x00, 0x0A, 0x01, 0x02, 0xC6, 0xF0));
}

static void test_build_refuses(void **state) {
    uint8_t out[MB_RTU_MAX_ADU];
    uint16_t regs[MB_MAX_WRITE_REGS + 1] = {0};
    (void)state;
    assert_int_equal(mb_rtu_build(&(struct mb_rtu_req){.fc = 7, .count = 1}, NULL, NULL, out, 256),
                     -EINVAL);
    assert_int_equal(mb_rtu_build(&(struct mb_rtu_req){.fc = 3, .count = 0}, NULL, NULL, out, 256),
                     -EINVAL);
    assert_int_equal(
        mb_rtu_build(&(struct mb_rtu_req){.fc = 3, .count = 126}, NULL, NULL, out, 256), -EINVAL);
    assert_int_equal(
        mb_rtu_build(&(struct mb_rtu_req){.fc = 1, .count = 2001}, NULL, NULL, out, 256), -EINVAL);
    assert_int_equal(
        mb_rtu_build(&(struct mb_rtu_req){.fc = 16, .count = 124}, regs, NULL, out, 256), -EINVAL);
    assert_int_equal(mb_rtu_build(&(struct mb_rtu_req){.fc = 16, .count = 1}, NULL, NULL, out, 256),
                     -EINVAL);
    assert_int_equal(mb_rtu_build(&(struct mb_rtu_req){.fc = 15, .count = 1}, NULL, NULL, out, 256),
                     -EINVAL);
    assert_int_equal(mb_rtu_build(&(struct mb_rtu_req){.fc = 3, .count = 1}, NULL, NULL, out, 7),
                     -ENOSPC);
    /* the largest requests fit one ADU */
    assert_int_equal(
        mb_rtu_build(&(struct mb_rtu_req){.fc = 16, .count = 123}, regs, NULL, out, 256), 255);
}

static void test_answer_len(void **state) {
    (void)state;
    assert_int_equal(mb_rtu_answer_len(ADU(0x11)), 0);
    assert_int_equal(mb_rtu_answer_len(ADU(0x11, 0x83)), 5);
    assert_int_equal(mb_rtu_answer_len(ADU(0x11, 0x03)), 0);
    assert_int_equal(mb_rtu_answer_len(ADU(0x11, 0x03, 0x06)), 11);
    assert_int_equal(mb_rtu_answer_len(ADU(0x11, 0x10)), 8);
    assert_int_equal(mb_rtu_answer_len(ADU(0x11, 0x03, 0xFF)), -EMBBADDATA); /* > 256 bytes */
    assert_int_equal(mb_rtu_answer_len(ADU(0x11, 0x07)), -EMBBADDATA);
}

static const struct mb_rtu_req FC3 = {.unit = 0x11, .fc = 3, .addr = 0x6B, .count = 3};
#define FC3_ANSWER 0x11, 0x03, 0x06, 0xAE, 0x41, 0x56, 0x52, 0x43, 0x40

static void test_parse_reads(void **state) {
    uint16_t regs[3];
    uint8_t bits[37];
    const struct mb_rtu_req fc1 = {.unit = 0x11, .fc = 1, .addr = 0x13, .count = 37};
    (void)state;
    assert_int_equal(mb_rtu_parse(&FC3, ADU(FC3_ANSWER, 0x49, 0xAD), regs, NULL), 0);
    assert_int_equal(regs[0], 0xAE41);
    assert_int_equal(regs[1], 0x5652);
    assert_int_equal(regs[2], 0x4340);
    assert_int_equal(mb_rtu_parse(&fc1,
                                  ADU(0x11, 0x01, 0x05, 0xCD, 0x6B, 0xB2, 0x0E, 0x1B, 0x45, 0xE6),
                                  NULL, bits),
                     0);
    /* CD = 1100 1101, LSB first: coils 0x13.. are 1 0 1 1 0 0 1 1 */
    assert_memory_equal(bits, ((const uint8_t[]){1, 0, 1, 1, 0, 0, 1, 1}), 8);
    assert_int_equal(bits[32], 1); /* 1B = 0001 1011: coils 32..36 are 1 1 0 1 1 */
    assert_int_equal(bits[34], 0);
    assert_int_equal(bits[36], 1);
}

static void test_parse_writes_echo(void **state) {
    const struct mb_rtu_req fc5 = {.unit = 0x11, .fc = 5, .addr = 0xAC, .count = 1, .value = 1};
    const struct mb_rtu_req fc16 = {.unit = 0x11, .fc = 16, .addr = 1, .count = 2};
    (void)state;
    assert_int_equal(
        mb_rtu_parse(&fc5, ADU(0x11, 0x05, 0x00, 0xAC, 0xFF, 0x00, 0x4E, 0x8B), NULL, NULL), 0);
    uint8_t fc16_ok[8] = {0x11, 0x10, 0x00, 0x01, 0x00, 0x02};
    uint16_t crc = mb_rtu_crc(fc16_ok, 6);
    fc16_ok[6] = (uint8_t)crc;
    fc16_ok[7] = (uint8_t)(crc >> 8);
    assert_int_equal(mb_rtu_parse(&fc16, fc16_ok, 8, NULL, NULL), 0);
    /* the echo of another value or quantity is not our write's answer */
    const struct mb_rtu_req fc5_off = {.unit = 0x11, .fc = 5, .addr = 0xAC, .count = 1};
    assert_int_equal(
        mb_rtu_parse(&fc5_off, ADU(0x11, 0x05, 0x00, 0xAC, 0xFF, 0x00, 0x4E, 0x8B), NULL, NULL),
        -EMBBADDATA);
    const struct mb_rtu_req fc16_3 = {.unit = 0x11, .fc = 16, .addr = 1, .count = 3};
    assert_int_equal(mb_rtu_parse(&fc16_3, fc16_ok, 8, NULL, NULL), -EMBBADDATA);
}

static void test_parse_exception(void **state) {
    uint16_t regs[3];
    (void)state;
    /* 11 83 02 C0 F1... built here: the CRC of 11 83 02 */
    uint8_t exc[5] = {0x11, 0x83, 0x02};
    uint16_t crc = mb_rtu_crc(exc, 3);
    exc[3] = (uint8_t)crc;
    exc[4] = (uint8_t)(crc >> 8);
    assert_int_equal(mb_rtu_parse(&FC3, exc, 5, regs, NULL), -EMBXILADD);
    exc[2] = 0x0B; /* gateway target failed to respond: the worker treats it as a dead unit */
    crc = mb_rtu_crc(exc, 3);
    exc[3] = (uint8_t)crc;
    exc[4] = (uint8_t)(crc >> 8);
    assert_int_equal(mb_rtu_parse(&FC3, exc, 5, regs, NULL), -EMBXGTAR);
    exc[2] = 0x0C; /* no such exception code */
    crc = mb_rtu_crc(exc, 3);
    exc[3] = (uint8_t)crc;
    exc[4] = (uint8_t)(crc >> 8);
    assert_int_equal(mb_rtu_parse(&FC3, exc, 5, regs, NULL), -EMBBADEXC);
    /* 01 81 02 C1 91 (exception 2 to FC1 of unit 1, as libmodbus sends it) */
    const struct mb_rtu_req fc1 = {.unit = 1, .fc = 1, .count = 1};
    uint8_t bits[1];
    assert_int_equal(mb_rtu_parse(&fc1, ADU(0x01, 0x81, 0x02, 0xC1, 0x91), NULL, bits), -EMBXILADD);
}

/* Returns adu with a fresh CRC after its first n - 2 bytes. */
static uint8_t *recrc(uint8_t *adu, size_t n) {
    uint16_t crc = mb_rtu_crc(adu, n - 2);
    adu[n - 2] = (uint8_t)crc;
    adu[n - 1] = (uint8_t)(crc >> 8);
    return adu;
}

static void test_parse_wrong_answers(void **state) {
    uint16_t regs[3];
    uint8_t a[11] = {FC3_ANSWER, 0x49, 0xAD};
    (void)state;
    a[10] ^= 0x01;
    assert_int_equal(mb_rtu_parse(&FC3, a, 11, regs, NULL), -EMBBADCRC);
    a[10] ^= 0x01;
    a[5] ^= 0x10; /* a flipped data bit */
    assert_int_equal(mb_rtu_parse(&FC3, a, 11, regs, NULL), -EMBBADCRC);
    a[5] ^= 0x10;
    assert_int_equal(mb_rtu_parse(&FC3, a, 10, regs, NULL), -EMBBADDATA); /* truncated */
    assert_int_equal(mb_rtu_parse(&FC3, a, 3, regs, NULL), -EMBBADDATA);
    assert_int_equal(mb_rtu_parse(&FC3, a, 1, regs, NULL), -EMBBADDATA);
    a[0] = 0x12; /* another unit */
    assert_int_equal(mb_rtu_parse(&FC3, recrc(a, 11), 11, regs, NULL), -EMBBADSLAVE);
    a[0] = 0x11;
    a[1] = 0x04; /* another function */
    assert_int_equal(mb_rtu_parse(&FC3, recrc(a, 11), 11, regs, NULL), -EMBBADDATA);
    a[1] = 0x03;
    const struct mb_rtu_req two = {.unit = 0x11, .fc = 3, .addr = 0x6B, .count = 2};
    assert_int_equal(mb_rtu_parse(&two, recrc(a, 11), 11, regs, NULL), -EMBBADDATA);
    uint8_t exc_other[5] = {0x11, 0x84, 0x02}; /* an exception to another function */
    assert_int_equal(mb_rtu_parse(&FC3, recrc(exc_other, 5), 5, regs, NULL), -EMBBADDATA);
}

/* ---- one transaction on a socket pair ---- */

/* The scripted peer: reads one request, then sends chunks with pauses, or closes. */
struct peer {
    int fd;
    uint8_t req[MB_RTU_MAX_ADU];
    size_t req_len;
    const uint8_t *ans;
    size_t ans_len;
    size_t split;  /* send ans[0..split) first, the rest after pause_ms (0: at once) */
    int pause_ms;  /* also: the gap between bytes when trickling */
    bool close_it; /* close instead of answering */
    bool trickle;  /* send one byte every pause_ms */
    size_t expect; /* request length to read */
};

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void *peer_main(void *arg) {
    struct peer *p = arg;
    while (p->req_len < p->expect) {
        ssize_t n = read(p->fd, p->req + p->req_len, p->expect - p->req_len);
        if (n <= 0)
            return NULL;
        p->req_len += (size_t)n;
    }
    if (p->close_it) {
        shutdown(p->fd, SHUT_RDWR);
        return NULL;
    }
    for (size_t i = 0; p->trickle && i < p->ans_len; i++) {
        if (write(p->fd, p->ans + i, 1) < 0)
            return NULL;
        sleep_ms(p->pause_ms);
    }
    if (p->trickle)
        return NULL;
    size_t first = p->split ? p->split : p->ans_len;
    if (first && write(p->fd, p->ans, first) < 0)
        return NULL;
    if (p->split) {
        sleep_ms(p->pause_ms);
        if (write(p->fd, p->ans + first, p->ans_len - first) < 0)
            return NULL;
    }
    return NULL;
}

/* Runs FC3 (3 registers at 0x6B of unit 0x11) against the peer script; returns the result. */
static int run_fc3(struct peer *p, const uint8_t *stale, size_t n_stale, uint16_t *regs) {
    int sv[2];
    pthread_t t;
    int rc;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    p->fd = sv[1];
    p->expect = 8;
    if (n_stale)
        assert_int_equal(write(sv[1], stale, n_stale), (ssize_t)n_stale);
    assert_int_equal(pthread_create(&t, NULL, peer_main, p), 0);
    rc = mb_rtu_transact(sv[0], 200, &FC3, NULL, NULL, regs, NULL);
    pthread_join(t, NULL);
    close(sv[0]);
    close(sv[1]);
    return rc;
}

static const uint8_t GOOD[] = {FC3_ANSWER, 0x49, 0xAD};

static void test_transact_good_and_split(void **state) {
    uint16_t regs[3] = {0};
    struct peer p = {.ans = GOOD, .ans_len = sizeof(GOOD)};
    (void)state;
    assert_int_equal(run_fc3(&p, NULL, 0, regs), 0);
    assert_memory_equal(p.req, ((const uint8_t[]){0x11, 0x03, 0x00, 0x6B, 0x00, 0x03, 0x76, 0x87}),
                        8);
    assert_int_equal(regs[2], 0x4340);
    /* a converter forwarding the serial bytes in two TCP segments, 50 ms apart */
    memset(regs, 0, sizeof(regs));
    p = (struct peer){.ans = GOOD, .ans_len = sizeof(GOOD), .split = 2, .pause_ms = 50};
    assert_int_equal(run_fc3(&p, NULL, 0, regs), 0);
    assert_int_equal(regs[0], 0xAE41);
}

static void test_transact_drops_stale_bytes(void **state) {
    uint16_t regs[3] = {0};
    /* the late answer of an earlier request, and some noise, before ours is sent */
    const uint8_t stale[] = {0x11, 0x03, 0x06, 0, 1, 0, 2, 0, 3, 0xAA, 0xBB, 0x00};
    struct peer p = {.ans = GOOD, .ans_len = sizeof(GOOD)};
    (void)state;
    assert_int_equal(run_fc3(&p, stale, sizeof(stale), regs), 0);
    assert_int_equal(regs[0], 0xAE41);
}

static void test_transact_failures(void **state) {
    uint16_t regs[3];
    uint8_t bad[sizeof(GOOD)];
    struct peer p = {.ans = GOOD, .ans_len = 0};
    (void)state;
    assert_int_equal(run_fc3(&p, NULL, 0, regs), -ETIMEDOUT); /* silence */
    /* a short frame: 5 bytes, then nothing for longer than the byte timeout */
    p = (struct peer){.ans = GOOD, .ans_len = 5};
    assert_int_equal(run_fc3(&p, NULL, 0, regs), -EMBBADDATA);
    memcpy(bad, GOOD, sizeof(bad));
    bad[4] ^= 0xFF;
    p = (struct peer){.ans = bad, .ans_len = sizeof(bad)};
    assert_int_equal(run_fc3(&p, NULL, 0, regs), -EMBBADCRC);
    p = (struct peer){.close_it = true};
    assert_int_equal(run_fc3(&p, NULL, 0, regs), -ECONNRESET);
    /* a function code no answer carries: garbage, known as soon as it arrives */
    const uint8_t junk[] = {0x11, 0x2B, 0x00, 0x00, 0x00};
    p = (struct peer){.ans = junk, .ans_len = sizeof(junk)};
    assert_int_equal(run_fc3(&p, NULL, 0, regs), -EMBBADDATA);
}

static void test_transact_trickle_and_broadcast(void **state) {
    uint16_t regs[3];
    int sv[2];
    (void)state;
    /* 11 bytes, one every 400 ms: each gap is inside the byte timeout, so without the cap on
     * the whole frame (3 s) this good answer would be taken after 4 s */
    struct peer p = {.ans = GOOD, .ans_len = sizeof(GOOD), .trickle = true, .pause_ms = 400};
    assert_int_equal(run_fc3(&p, NULL, 0, regs), -EMBBADDATA);
    /* a broadcast write is sent and not waited for */
    const struct mb_rtu_req bc = {.unit = 0, .fc = 6, .addr = 1, .count = 1, .value = 7};
    uint8_t got[8];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(mb_rtu_transact(sv[0], 5000, &bc, NULL, NULL, NULL, NULL), 0);
    assert_int_equal(read(sv[1], got, sizeof(got)), 8);
    assert_int_equal(got[0], 0);
    assert_int_equal(got[5], 7);
    close(sv[0]);
    close(sv[1]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc_vectors),
        cmocka_unit_test(test_build_requests),
        cmocka_unit_test(test_build_refuses),
        cmocka_unit_test(test_answer_len),
        cmocka_unit_test(test_parse_reads),
        cmocka_unit_test(test_parse_writes_echo),
        cmocka_unit_test(test_parse_exception),
        cmocka_unit_test(test_parse_wrong_answers),
        cmocka_unit_test(test_transact_good_and_split),
        cmocka_unit_test(test_transact_drops_stale_bytes),
        cmocka_unit_test(test_transact_failures),
        cmocka_unit_test(test_transact_trickle_and_broadcast),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
