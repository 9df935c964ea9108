/* SPDX-License-Identifier: Apache-2.0 */
/* Observe helpers (RFC 7641): the 24-bit notification sequence number and the §3.4 rule that
 * tells a client whether a notification is newer than the last one it kept. */
#include "lwm2m/coap.h"

#define OBSERVE_HALF     (1u << 23) /* half the 24-bit sequence space */
#define OBSERVE_STALE_MS 128000u    /* §3.4: after 128 s the sequence numbers may have wrapped */

uint32_t coap_observe_next(uint32_t seq) {
    return (seq + 1u) & COAP_OBSERVE_MAX;
}

int coap_observe_is_fresh(uint32_t v1, uint64_t t1_ms, uint32_t v2, uint64_t t2_ms) {
    v1 &= COAP_OBSERVE_MAX;
    v2 &= COAP_OBSERVE_MAX;
    if (v1 < v2 && v2 - v1 < OBSERVE_HALF)
        return 1;
    if (v1 > v2 && v1 - v2 > OBSERVE_HALF)
        return 1;
    /* Written as a difference so that t1 near UINT64_MAX cannot overflow. */
    return t2_ms > t1_ms && t2_ms - t1_ms > OBSERVE_STALE_MS;
}
