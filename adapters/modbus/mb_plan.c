/* SPDX-License-Identifier: Apache-2.0 */
/* The Modbus read planner: turns a device's points into the fewest read requests the protocol
 * allows (merge contiguous, overlapping and near points of one table, up to 125 registers or
 * 2000 bits), and splits a request that hit an "illegal data address" exception. Pure: no I/O. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "modbus/mb_internal.h"

static unsigned mb_table_limit(enum mb_table t) {
    return t == MB_TABLE_COIL || t == MB_TABLE_DISCRETE ? MB_MAX_READ_BITS : MB_MAX_READ_REGS;
}

/* Sort key: table, then address, then the wider point first (so a read starts with its widest
 * point, which does not change the outcome but keeps the order stable across runs). */
static int mb_point_cmp(const struct mb_point_cfg *pts, uint32_t x, uint32_t y) {
    const struct mb_point_cfg *a = &pts[x], *b = &pts[y];
    if (a->table != b->table)
        return a->table < b->table ? -1 : 1;
    if (a->address != b->address)
        return a->address < b->address ? -1 : 1;
    if (mb_point_width(a) != mb_point_width(b))
        return mb_point_width(a) > mb_point_width(b) ? -1 : 1;
    return x < y ? -1 : x > y;
}

/* Insertion sort: plans are built once per device at start, devices have tens to a few hundred
 * points, and it needs no comparator context (qsort has none in C11). */
static void mb_sort_idx(const struct mb_point_cfg *pts, uint32_t *idx, size_t n) {
    for (size_t i = 1; i < n; i++) {
        uint32_t v = idx[i];
        size_t j = i;
        while (j > 0 && mb_point_cmp(pts, idx[j - 1], v) > 0) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = v;
    }
}

/* Greedy grouping over idx[0..n) (sorted): each read takes the following points while they are
 * in the same table, at most max_gap past the end covered so far, and the span stays within the
 * protocol limit. Greedy is optimal here: any group of consecutive points that is feasible stays
 * feasible without its last point. Writes at most n reads to out (may be NULL to count). */
static size_t mb_group(const struct mb_point_cfg *pts, const uint32_t *idx, size_t n, uint32_t base,
                       uint16_t max_gap, struct mb_read *out) {
    size_t nr = 0;
    size_t i = 0;
    while (i < n) {
        const struct mb_point_cfg *p = &pts[idx[i]];
        uint32_t start = p->address, end = start + mb_point_width(p);
        unsigned limit = mb_table_limit(p->table);
        size_t j = i + 1;
        for (; j < n; j++) {
            const struct mb_point_cfg *q = &pts[idx[j]];
            uint32_t qend = q->address + mb_point_width(q);
            if (q->table != p->table || q->address > end + max_gap)
                break;
            if ((qend > end ? qend : end) - start > limit)
                break;
            if (qend > end)
                end = qend;
        }
        if (out) {
            out[nr].table = (uint8_t)p->table;
            out[nr].start = (uint16_t)start;
            out[nr].count = (uint16_t)(end - start);
            out[nr].first = base + (uint32_t)i;
            out[nr].n = (uint32_t)(j - i);
        }
        nr++;
        i = j;
    }
    return nr;
}

int mb_plan_build(const struct mb_point_cfg *pts, size_t n, uint16_t max_gap, struct mb_plan *out) {
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < n; i++) {
        if (mb_point_check(&pts[i]) < 0 || mb_point_width(&pts[i]) > mb_table_limit(pts[i].table))
            return -EINVAL;
    }
    if (n == 0)
        return 0;
    out->idx = malloc(n * sizeof(*out->idx));
    if (!out->idx)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        out->idx[i] = (uint32_t)i;
    out->n_idx = n;
    mb_sort_idx(pts, out->idx, n);
    out->n_reads = mb_group(pts, out->idx, n, 0, max_gap, NULL);
    out->reads = malloc(out->n_reads * sizeof(*out->reads));
    if (!out->reads) {
        mb_plan_free(out);
        return -ENOMEM;
    }
    mb_group(pts, out->idx, n, 0, max_gap, out->reads);
    return 0;
}

/* One read per distinct start address (points at the same address, e.g. several bit(N) of one
 * register, stay together and take the widest range among them). */
static size_t mb_group_per_address(const struct mb_point_cfg *pts, const uint32_t *idx, size_t n,
                                   uint32_t base, struct mb_read *out) {
    size_t nr = 0;
    for (size_t i = 0; i < n;) {
        const struct mb_point_cfg *p = &pts[idx[i]];
        size_t j = i + 1;
        unsigned w = mb_point_width(p);
        while (j < n && pts[idx[j]].address == p->address) {
            if (mb_point_width(&pts[idx[j]]) > w)
                w = mb_point_width(&pts[idx[j]]);
            j++;
        }
        if (out) {
            out[nr] = (struct mb_read){.table = (uint8_t)p->table,
                                       .start = p->address,
                                       .count = (uint16_t)w,
                                       .first = base + (uint32_t)i,
                                       .n = (uint32_t)(j - i)};
        }
        nr++;
        i = j;
    }
    return nr;
}

int mb_plan_split(struct mb_plan *plan, size_t i, const struct mb_point_cfg *pts) {
    struct mb_read r, *reads;
    const uint32_t *idx;
    size_t k;
    bool per_address = false;
    if (i >= plan->n_reads)
        return -ENOENT;
    r = plan->reads[i];
    idx = plan->idx + r.first;
    k = mb_group(pts, idx, r.n, r.first, 0, NULL);
    if (k < 2) {
        k = mb_group_per_address(pts, idx, r.n, r.first, NULL);
        per_address = true;
        if (k < 2)
            return -ENOENT;
    }
    reads = realloc(plan->reads, (plan->n_reads + k - 1) * sizeof(*reads));
    if (!reads)
        return -ENOMEM;
    plan->reads = reads;
    memmove(&reads[i + k], &reads[i + 1], (plan->n_reads - i - 1) * sizeof(*reads));
    if (per_address)
        mb_group_per_address(pts, idx, r.n, r.first, &reads[i]);
    else
        mb_group(pts, idx, r.n, r.first, 0, &reads[i]);
    plan->n_reads += k - 1;
    return (int)k;
}

void mb_plan_free(struct mb_plan *plan) {
    free(plan->reads);
    free(plan->idx);
    memset(plan, 0, sizeof(*plan));
}
