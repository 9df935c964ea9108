/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for the Modbus register codec and read planner: decodes arbitrary registers
 * as an arbitrary type/order/table and re-encodes what decoded (exact integers must come back
 * bit for bit), then plans arbitrary point sets and checks the plan's invariants (every point in
 * exactly one read, inside it, within the protocol limits), also after splitting. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "modbus/mb_internal.h"

static void check_codec(const uint8_t *d, size_t n) {
    struct mb_point_cfg p = {.table = (enum mb_table)(d[0] & 3),
                             .type = (enum mb_type)(d[1] % (MB_TYPE_BIT + 1)),
                             .order = (enum mb_order)(d[2] & 3),
                             .param = (uint16_t)(d[3] % 260),
                             .scale = 1.0};
    uint16_t regs[130] = {0}, back[130];
    uint8_t str[MB_MAX_STRING];
    struct adapter_value v;
    size_t nr = (n - 4) / 2;
    if (nr > 130)
        nr = 130;
    for (size_t i = 0; i < nr; i++)
        regs[i] = (uint16_t)(d[4 + 2 * i] << 8 | d[5 + 2 * i]);
    if (mb_decode_regs(&p, regs, nr, &v, str, sizeof(str)) < 0)
        return;
    if (v.type == ADAPTER_V_INT || v.type == ADAPTER_V_UINT ||
        (v.type == ADAPTER_V_DOUBLE && isfinite(v.v.f))) {
        int w = mb_encode_regs(&p, &v, back, 130);
        if (w <= 0 || memcmp(back, regs, (size_t)w * 2) != 0)
            abort();
    }
}

static void check_plan(const struct mb_point_cfg *pts, size_t np, const struct mb_plan *pl) {
    size_t seen = 0;
    for (size_t r = 0; r < pl->n_reads; r++) {
        const struct mb_read *rd = &pl->reads[r];
        unsigned lim = rd->table <= MB_TABLE_DISCRETE ? MB_MAX_READ_BITS : MB_MAX_READ_REGS;
        if (rd->count == 0 || rd->count > lim || rd->n == 0)
            abort();
        for (uint32_t k = rd->first; k < rd->first + rd->n; k++) {
            const struct mb_point_cfg *p = &pts[pl->idx[k]];
            if ((unsigned)p->table != rd->table || p->address < rd->start ||
                p->address + mb_point_width(p) > (unsigned)rd->start + rd->count)
                abort();
            seen++;
        }
    }
    if (seen != np)
        abort();
}

static void fuzz_plan(const uint8_t *d, size_t n) {
    struct mb_point_cfg pts[64];
    struct mb_plan pl;
    size_t np = 0;
    for (size_t i = 1; i + 4 <= n && np < 64; i += 4) {
        pts[np] = (struct mb_point_cfg){.table = (enum mb_table)(d[i] & 3),
                                        .type = (enum mb_type)((d[i] >> 2) % (MB_TYPE_BIT + 1)),
                                        .address = (uint16_t)(d[i + 1] << 8 | d[i + 2]),
                                        .param = d[i + 3]};
        if (mb_point_check(&pts[np]) == 0)
            np++;
    }
    if (mb_plan_build(pts, np, d[0], &pl) < 0)
        return;
    check_plan(pts, np, &pl);
    for (size_t r = 0; r < pl.n_reads; r += 2) {
        if (mb_plan_split(&pl, r, pts) == -ENOMEM)
            break;
        check_plan(pts, np, &pl);
    }
    mb_plan_free(&pl);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 5)
        return 0;
    if (data[0] & 0x80)
        fuzz_plan(data + 1, size - 1);
    else
        check_codec(data, size);
    return 0;
}
