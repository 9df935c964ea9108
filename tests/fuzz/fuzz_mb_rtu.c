/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for the RTU framing of RTU-over-TCP links (adapters/modbus/mb_rtu.c): builds
 * an arbitrary request (a valid one must carry a CRC residue of 0 and fit one ADU), then checks
 * arbitrary bytes as its answer, optionally with a correct CRC so that the checks behind the CRC
 * are reached: the announced length never changes once known, and an accepted answer is exactly
 * that long, from our unit, with a good CRC, and decodes back to its own bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "modbus/mb_internal.h"

static const uint8_t fcs[] = {1, 2, 3, 4, 5, 6, 15, 16};

static void check_request(const struct mb_rtu_req *r, const uint8_t *d, size_t n) {
    uint16_t regs[MB_MAX_WRITE_REGS] = {0};
    uint8_t bits[MB_MAX_READ_BITS] = {0}, adu[MB_RTU_MAX_ADU];
    int len;
    for (size_t i = 0; i < n && i < sizeof(bits); i++) {
        bits[i] = d[i] & 1u;
        if (i < MB_MAX_WRITE_REGS)
            regs[i] = (uint16_t)(d[i] * 257u);
    }
    len = mb_rtu_build(r, regs, bits, adu, sizeof(adu));
    if (len < 0)
        return;
    if (len < 8 || len > MB_RTU_MAX_ADU || mb_rtu_crc(adu, (size_t)len) != 0 || adu[0] != r->unit ||
        adu[1] != r->fc)
        abort();
}

static void check_answer(const struct mb_rtu_req *r, const uint8_t *a, size_t n) {
    uint16_t regs[MB_MAX_READ_REGS];
    uint8_t bits[MB_MAX_READ_BITS];
    int known = 0, rc;
    for (size_t k = 0; k <= n; k++) {
        int len = mb_rtu_answer_len(a, k);
        if (known > 0 && len != known)
            abort(); /* the length is decided by the header and never changes */
        if (len > MB_RTU_MAX_ADU || (len > 0 && len < 5))
            abort();
        if (len != 0)
            known = len;
    }
    rc = mb_rtu_parse(r, a, n, regs, bits);
    if (rc != 0)
        return;
    if ((int)n != known || mb_rtu_crc(a, n) != 0 || a[0] != r->unit || a[1] != r->fc)
        abort();
    if (r->fc == 3 || r->fc == 4) {
        for (uint16_t i = 0; i < r->count; i++)
            if (regs[i] != (uint16_t)(a[3 + 2 * i] << 8 | a[4 + 2 * i]))
                abort();
    } else if (r->fc <= 2) {
        for (uint16_t i = 0; i < r->count; i++)
            if (bits[i] != ((a[3 + i / 8] >> (i % 8)) & 1u))
                abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t ans[MB_RTU_MAX_ADU + 8];
    struct mb_rtu_req r;
    size_t n;
    if (size < 8)
        return 0;
    r = (struct mb_rtu_req){.fc = fcs[data[0] & 7],
                            .unit = data[1],
                            .addr = (uint16_t)(data[2] << 8 | data[3]),
                            .count = (uint16_t)((data[4] << 8 | data[5]) % 2002),
                            .value = (uint16_t)(data[6] << 8 | data[7])};
    check_request(&r, data + 8, size - 8);
    n = size - 8 < sizeof(ans) ? size - 8 : sizeof(ans);
    memcpy(ans, data + 8, n);
    if ((data[0] & 0x80) && n >= 4) {
        uint16_t crc = mb_rtu_crc(ans, n - 2); /* reach what lies behind the CRC check */
        ans[n - 2] = (uint8_t)crc;
        ans[n - 1] = (uint8_t)(crc >> 8);
    }
    check_answer(&r, ans, n);
    return 0;
}
