/* SPDX-License-Identifier: Apache-2.0 */
/* Test helper shared by the MQTT payload unit tests and fuzz target: two decoded adapter values
 * are the same (type, quality and bits; doubles compared bit for bit). */
#ifndef GW_TEST_MQ_VALUE_SAME_H
#define GW_TEST_MQ_VALUE_SAME_H

#include <stdbool.h>
#include <string.h>

#include "mqtt/mq.h"

static inline bool same_value(const struct adapter_value *a, const struct adapter_value *b) {
    if (a->type != b->type || a->quality != b->quality) {
        return false;
    }
    switch (a->type) {
    case ADAPTER_V_BOOL:
        return a->v.b == b->v.b;
    case ADAPTER_V_INT:
        return a->v.i == b->v.i;
    case ADAPTER_V_UINT:
        return a->v.u == b->v.u;
    case ADAPTER_V_DOUBLE:
        return memcmp(&a->v.f, &b->v.f, sizeof(double)) == 0;
    case ADAPTER_V_STRING:
    case ADAPTER_V_BYTES:
        return a->v.bytes.len == b->v.bytes.len &&
               (a->v.bytes.len == 0 || memcmp(a->v.bytes.ptr, b->v.bytes.ptr, a->v.bytes.len) == 0);
    default:
        return true;
    }
}

#endif /* GW_TEST_MQ_VALUE_SAME_H */
