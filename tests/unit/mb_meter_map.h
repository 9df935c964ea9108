/* SPDX-License-Identifier: Apache-2.0 */
/* A 60-point three-phase energy meter map, the way such meters lay out their registers: a block
 * of float32 measurements, a block of uint64 energy counters, setpoints with holes between them,
 * an identification block with strings, and relay coils. Shared by test_mb_plan and the bench. */
#ifndef GW_MB_METER_MAP_H
#define GW_MB_METER_MAP_H

#include <stddef.h>

#include "modbus/mb.h"

#define MB_METER_POINTS 60

/* Fills pts[0..60) and returns 60. */
static inline size_t mb_meter_map(struct mb_point_cfg *pts) {
    size_t n = 0;
    /* 30 float32 measurements, input registers 0..59 (voltages, currents, powers, pf, f, ...) */
    for (unsigned i = 0; i < 30; i++)
        pts[n++] = (struct mb_point_cfg){.table = MB_TABLE_INPUT,
                                         .address = (uint16_t)(2 * i),
                                         .type = MB_TYPE_FLOAT32,
                                         .scale = 1.0};
    /* 10 uint64 energy counters in Wh, input registers 256..295, shown in kWh */
    for (unsigned i = 0; i < 10; i++)
        pts[n++] = (struct mb_point_cfg){.table = MB_TABLE_INPUT,
                                         .address = (uint16_t)(256 + 4 * i),
                                         .type = MB_TYPE_UINT64,
                                         .scale = 0.001};
    /* 10 int16 setpoints, holding registers 1000, 1002, ..., 1018 (one reserved word between) */
    for (unsigned i = 0; i < 10; i++)
        pts[n++] = (struct mb_point_cfg){.table = MB_TABLE_HOLDING,
                                         .address = (uint16_t)(1000 + 2 * i),
                                         .type = MB_TYPE_INT16,
                                         .scale = 0.1,
                                         .writable = true};
    /* identification: serial string(16), model string(16), firmware, hardware, uptime */
    pts[n++] = (struct mb_point_cfg){
        .table = MB_TABLE_HOLDING, .address = 5000, .type = MB_TYPE_STRING, .param = 16};
    pts[n++] = (struct mb_point_cfg){
        .table = MB_TABLE_HOLDING, .address = 5008, .type = MB_TYPE_STRING, .param = 16};
    pts[n++] =
        (struct mb_point_cfg){.table = MB_TABLE_HOLDING, .address = 5016, .type = MB_TYPE_UINT16};
    pts[n++] =
        (struct mb_point_cfg){.table = MB_TABLE_HOLDING, .address = 5017, .type = MB_TYPE_UINT16};
    pts[n++] =
        (struct mb_point_cfg){.table = MB_TABLE_HOLDING, .address = 5018, .type = MB_TYPE_UINT32};
    /* 5 relay coils */
    for (unsigned i = 0; i < 5; i++)
        pts[n++] = (struct mb_point_cfg){
            .table = MB_TABLE_COIL, .address = (uint16_t)i, .type = MB_TYPE_BOOL, .writable = true};
    return n;
}

#endif /* GW_MB_METER_MAP_H */
