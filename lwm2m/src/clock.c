/* SPDX-License-Identifier: Apache-2.0 */
/* The system clock behind struct coap_clock: CLOCK_MONOTONIC for deadlines, CLOCK_REALTIME for
 * wall-clock timestamps. Nothing else in the engine calls clock_gettime(). */
#include "lwm2m/clock.h"

#include <time.h>

static uint64_t ts_to_ms(const struct timespec *ts) {
    return (uint64_t)ts->tv_sec * 1000u + (uint64_t)ts->tv_nsec / 1000000u;
}

static uint64_t system_mono_ms(void *ctx) {
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts_to_ms(&ts);
}

static uint64_t system_real_ms(void *ctx) {
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts_to_ms(&ts);
}

static const struct coap_clock system_clock = {system_mono_ms, system_real_ms, NULL};

const struct coap_clock *coap_clock_system(void) {
    return &system_clock;
}

uint64_t coap_clock_mono_ms(const struct coap_clock *c) {
    if (c == NULL)
        c = &system_clock;
    return c->mono_ms(c->ctx);
}

uint64_t coap_clock_real_ms(const struct coap_clock *c) {
    if (c == NULL)
        c = &system_clock;
    return c->real_ms(c->ctx);
}
