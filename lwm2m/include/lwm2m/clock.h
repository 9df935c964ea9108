/* SPDX-License-Identifier: Apache-2.0 */
/* The one replaceable clock of the engine: every timeout, retransmission and cache expiry reads
 * time through a struct coap_clock, so unit tests drive time by hand with a mock clock. */
#ifndef LWM2M_CLOCK_H
#define LWM2M_CLOCK_H

#include <stdint.h>

/* A clock: two function pointers and their context. Instances are borrowed by whoever uses them
 * (endpoints, transports) until those are freed; the system clock is a static constant. */
struct coap_clock {
    /* Milliseconds from an arbitrary origin, never going backwards (CLOCK_MONOTONIC). */
    uint64_t (*mono_ms)(void *ctx);
    /* Milliseconds since the Unix epoch (CLOCK_REALTIME), for timestamps shown to people and
     * servers; may jump. */
    uint64_t (*real_ms)(void *ctx);
    void *ctx;
};

/* The system clock (CLOCK_MONOTONIC / CLOCK_REALTIME). Returns a pointer to a constant that lives
 * for the whole process. */
const struct coap_clock *coap_clock_system(void);

/* Shorthands; a NULL clock means the system clock. */
uint64_t coap_clock_mono_ms(const struct coap_clock *c);
uint64_t coap_clock_real_ms(const struct coap_clock *c);

#endif /* LWM2M_CLOCK_H */
