/* SPDX-License-Identifier: Apache-2.0 */
/* A minimal in-process LwM2M resource directory for the benchmarks, on our CoAP layer: Register
 * gets 2.01 with a fresh Location-Path rd/N, Update 2.04, De-register 2.02, and the first `want`
 * registering peers are remembered (so the bench can read or observe them). Header-only: each
 * benchmark is a single executable. */
#ifndef BENCH_RD_H
#define BENCH_RD_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "lwm2m/coap_endpoint.h"

struct bench_rd {
    struct coap_addr *peers; /* want entries, owned by the bench */
    size_t npeers, want;
    unsigned next_loc;
};

/* Answers the request; *registered tells whether it was a Register. Returns coap_reply()'s
 * result. */
static inline int bench_rd_answer(struct bench_rd *rd, struct coap_endpoint *ep,
                                  const struct coap_incoming *in, bool *registered) {
    struct coap_msg r;
    char loc[16];
    uint8_t code = in->req->code == COAP_DELETE ? COAP_202_DELETED : COAP_204_CHANGED;
    *registered = in->req->code == COAP_POST && coap_msg_opt(in->req, COAP_OPT_URI_QUERY) != NULL;
    coap_msg_init(&r, COAP_TYPE_ACK, code, 0);
    if (*registered) {
        snprintf(loc, sizeof(loc), "%u", rd->next_loc++);
        r.code = COAP_201_CREATED;
        coap_msg_add_opt(&r, COAP_OPT_LOCATION_PATH, "rd", 2);
        coap_msg_add_opt(&r, COAP_OPT_LOCATION_PATH, loc, strlen(loc));
        if (rd->npeers < rd->want)
            rd->peers[rd->npeers++] = *in->peer;
    }
    return coap_reply(ep, in, &r);
}

#endif /* BENCH_RD_H */
