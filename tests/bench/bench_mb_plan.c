/* SPDX-License-Identifier: Apache-2.0 */
/* Bench of the Modbus read planner: requests per poll cycle for a 60-point energy meter map,
 * planned (merged) versus one request per point, and the time to build a plan. No I/O.
 * Run: build/tests/bench/bench_mb_plan */
#include <stdio.h>
#include <time.h>

#include "../unit/mb_meter_map.h"
#include "modbus/mb_internal.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(void) {
    struct mb_point_cfg pts[MB_METER_POINTS];
    size_t n = mb_meter_map(pts);
    const unsigned gaps[] = {0, 1, 4, 16};
    printf("60-point meter map (30 float32, 10 uint64, 10 spaced int16, 2 strings, 3 ints, "
           "5 coils)\n");
    for (size_t g = 0; g < sizeof(gaps) / sizeof(gaps[0]); g++) {
        struct mb_plan plan;
        unsigned regs = 0;
        if (mb_plan_build(pts, n, (uint16_t)gaps[g], &plan) < 0)
            return 1;
        for (size_t i = 0; i < plan.n_reads; i++)
            regs += plan.reads[i].count;
        printf("max_gap=%-2u requests/cycle planned=%zu one-per-point=%zu ratio=%.1f "
               "(registers+bits read: %u)\n",
               gaps[g], plan.n_reads, n, (double)n / (double)plan.n_reads, regs);
        mb_plan_free(&plan);
    }
    {
        const int rounds = 20000;
        double t0 = now_s();
        for (int r = 0; r < rounds; r++) {
            struct mb_plan plan;
            if (mb_plan_build(pts, n, 4, &plan) < 0)
                return 1;
            mb_plan_free(&plan);
        }
        printf("plan build: %.2f us per 60-point device\n", (now_s() - t0) / rounds * 1e6);
    }
    return 0;
}
