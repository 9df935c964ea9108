/* SPDX-License-Identifier: Apache-2.0 */
/* The RTU framing of RTU-over-TCP links as a pure codec: CRC-16/MODBUS, request ADUs for the
 * function codes the adapter uses (1-6, 15, 16), the length of an answer from its first bytes,
 * and the checks of an answer (CRC, unit, function, exception, byte count, write echo).
 *
 * Why our own client and not libmodbus on a pseudo-terminal relayed to the socket: libmodbus
 * 3.1.x has no RTU-over-TCP framing, and a pty relay would add a thread, two descriptors and
 * tty timing (inter-character gaps, termios) to a stream that has none; its errors (a reset
 * peer) would reach the worker only as pty timeouts. The subset we need is small, this file has
 * no I/O so it is unit-tested with vectors and fuzzed, and it reports libmodbus' own error codes
 * so the worker classifies failures exactly as for Modbus TCP and RTU. */
#include <errno.h>
#include <modbus/modbus.h> /* the error codes only: answers fail the way libmodbus reports them */
#include <string.h>

#include "modbus/mb_internal.h"

uint16_t mb_rtu_crc(const uint8_t *p, size_t n) {
    uint16_t crc = 0xFFFF;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int b = 0; b < 8; b++)
            crc = (crc & 1u) ? (uint16_t)((crc >> 1) ^ 0xA001u) : (uint16_t)(crc >> 1);
    }
    return crc;
}

static void put16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p) {
    return (uint16_t)(p[0] << 8 | p[1]);
}

/* Largest count a request of fc may carry (the PDU must fit 253 bytes); 0: not our FC. */
static uint16_t mb_rtu_max_count(uint8_t fc) {
    switch (fc) {
    case 1:
    case 2:
        return MB_MAX_READ_BITS;
    case 3:
    case 4:
        return MB_MAX_READ_REGS;
    case 5:
    case 6:
        return 1;
    case 15:
        return 1968;
    case 16:
        return MB_MAX_WRITE_REGS;
    default:
        return 0;
    }
}

/* The data part of a write request after the address; returns its length or -EINVAL. */
static int mb_rtu_write_data(const struct mb_rtu_req *r, const uint16_t *regs, const uint8_t *bits,
                             uint8_t *p) {
    switch (r->fc) {
    case 5:
        put16(p, r->value ? 0xFF00u : 0x0000u);
        return 2;
    case 6:
        put16(p, r->value);
        return 2;
    case 15: {
        uint8_t nb = (uint8_t)((r->count + 7u) / 8u);
        if (!bits)
            return -EINVAL;
        put16(p, r->count);
        p[2] = nb;
        memset(p + 3, 0, nb);
        for (uint16_t i = 0; i < r->count; i++)
            if (bits[i])
                p[3 + i / 8] |= (uint8_t)(1u << (i % 8));
        return 3 + nb;
    }
    case 16:
        if (!regs)
            return -EINVAL;
        put16(p, r->count);
        p[2] = (uint8_t)(r->count * 2u);
        for (uint16_t i = 0; i < r->count; i++)
            put16(p + 3 + 2 * i, regs[i]);
        return 3 + 2 * r->count;
    default: /* reads: the count */
        put16(p, r->count);
        return 2;
    }
}

int mb_rtu_build(const struct mb_rtu_req *r, const uint16_t *regs, const uint8_t *bits,
                 uint8_t *out, size_t cap) {
    uint8_t buf[MB_RTU_MAX_ADU];
    uint16_t max = mb_rtu_max_count(r->fc);
    int n;
    uint16_t crc;
    if (max == 0 || r->count == 0 || r->count > max)
        return -EINVAL;
    buf[0] = r->unit;
    buf[1] = r->fc;
    put16(buf + 2, r->addr);
    if ((n = mb_rtu_write_data(r, regs, bits, buf + 4)) < 0)
        return n;
    n += 4;
    if ((size_t)n + 2 > cap)
        return -ENOSPC;
    crc = mb_rtu_crc(buf, (size_t)n);
    buf[n++] = (uint8_t)crc; /* RTU sends the CRC low byte first */
    buf[n++] = (uint8_t)(crc >> 8);
    memcpy(out, buf, (size_t)n);
    return n;
}

int mb_rtu_answer_len(const uint8_t *adu, size_t n) {
    if (n < 2)
        return 0;
    if (adu[1] & 0x80)
        return 5; /* unit, fc | 0x80, code, CRC */
    switch (adu[1]) {
    case 1:
    case 2:
    case 3:
    case 4:
        if (n < 3)
            return 0;
        /* unit, fc, byte count, data, CRC; no answer to our reads is longer */
        return 5 + adu[2] <= MB_RTU_MAX_ADU ? 5 + adu[2] : -EMBBADDATA;
    case 5:
    case 6:
    case 15:
    case 16:
        return 8; /* unit, fc, address, value or quantity, CRC */
    default:
        return -EMBBADDATA;
    }
}

/* Decodes the data of a read answer whose header and length were checked. */
static void mb_rtu_decode(const struct mb_rtu_req *r, const uint8_t *data, uint16_t *regs,
                          uint8_t *bits) {
    if (r->fc <= 2) {
        for (uint16_t i = 0; i < r->count; i++)
            bits[i] = (uint8_t)((data[i / 8] >> (i % 8)) & 1u);
        return;
    }
    for (uint16_t i = 0; i < r->count; i++)
        regs[i] = get16(data + 2 * i);
}

/* Checks the echo of a write answer: the address, and the value (FC5/6) or the quantity. */
static int mb_rtu_check_echo(const struct mb_rtu_req *r, const uint8_t *adu) {
    uint16_t want = r->count;
    if (r->fc == 5)
        want = r->value ? 0xFF00u : 0x0000u;
    else if (r->fc == 6)
        want = r->value;
    return get16(adu + 2) == r->addr && get16(adu + 4) == want ? 0 : -EMBBADDATA;
}

int mb_rtu_parse(const struct mb_rtu_req *r, const uint8_t *adu, size_t n, uint16_t *regs,
                 uint8_t *bits) {
    int len = mb_rtu_answer_len(adu, n);
    if (len <= 0 || (size_t)len != n)
        return -EMBBADDATA;
    if (mb_rtu_crc(adu, n) != 0)
        return -EMBBADCRC;
    if (adu[0] != r->unit)
        return -EMBBADSLAVE;
    if (adu[1] == (r->fc | 0x80u)) {
        if (adu[2] == 0 || adu[2] >= MODBUS_EXCEPTION_MAX)
            return -EMBBADEXC;
        return -(MODBUS_ENOBASE + adu[2]);
    }
    if (adu[1] != r->fc)
        return -EMBBADDATA;
    if (r->fc <= 4) {
        unsigned want = r->fc <= 2 ? (r->count + 7u) / 8u : r->count * 2u;
        if (adu[2] != want)
            return -EMBBADDATA;
        if ((r->fc <= 2 && !bits) || (r->fc > 2 && !regs))
            return -EINVAL;
        mb_rtu_decode(r, adu + 3, regs, bits);
        return 0;
    }
    return mb_rtu_check_echo(r, adu);
}
