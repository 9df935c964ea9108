/* SPDX-License-Identifier: Apache-2.0 */
/* Benchmark of the CoAP codec: parse + serialize round trips of a typical LwM2M notification
 * and of a request with several Uri-Path options, for a fixed iteration count. Prints
 * messages/s and MB/s (of datagram bytes) measured with CLOCK_MONOTONIC. Not a test. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lwm2m/coap.h"

#define BENCH_DEFAULT_ITERS 20000000L

struct bench_case {
    const char *name;
    uint8_t wire[256];
    size_t len;
};

static double now_s(void) {
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A Notify as the engine sends it: NON 2.05, 8-byte token, Observe, Content-Format SenML CBOR,
 * and a small SenML record (one temperature reading). */
static void build_notification(struct bench_case *c) {
    static const uint8_t tok[] = {0x3a, 0x91, 0x0c, 0x55, 0xe2, 0x17, 0x80, 0x4d};
    static const uint8_t payload[] = {0x81, 0xa3, 0x21, 0x6f, '/',  '3',  '3',  '0',  '3',
                                      '/',  '0',  '/',  '5',  '7',  '0',  '0',  0x22, 0xfb,
                                      0x40, 0x36, 0x4c, 0xcc, 0xcc, 0xcc, 0xcc, 0xcd, 0x02,
                                      0xfb, 0x40, 0x36, 0x4c, 0xcc, 0xcc, 0xcc, 0xcc, 0xcd};
    struct coap_msg m;
    int n;

    coap_msg_init(&m, COAP_TYPE_NON, COAP_205_CONTENT, 0x4a21);
    coap_msg_set_token(&m, tok, sizeof(tok));
    coap_msg_add_opt_uint(&m, COAP_OPT_OBSERVE, 0x01a2b3);
    coap_msg_add_opt_uint(&m, COAP_OPT_CONTENT_FORMAT, 112);
    coap_msg_set_payload(&m, payload, sizeof(payload));
    n = coap_serialize(&m, c->wire, sizeof(c->wire));
    c->name = "notification";
    c->len = n > 0 ? (size_t)n : 0;
}

/* A gateway-mode Write: CON PUT on /dev1/3311/0/5850 with Content-Format and a text payload. */
static void build_request(struct bench_case *c) {
    static const uint8_t tok[] = {0x11, 0x22, 0x33, 0x44};
    struct coap_msg m;
    int n;

    coap_msg_init(&m, COAP_TYPE_CON, COAP_PUT, 0x0102);
    coap_msg_set_token(&m, tok, sizeof(tok));
    coap_msg_add_path(&m, COAP_OPT_URI_PATH, "/dev1/3311/0/5850");
    coap_msg_add_opt_uint(&m, COAP_OPT_CONTENT_FORMAT, 0);
    coap_msg_add_opt(&m, COAP_OPT_URI_QUERY, "con=1", 5);
    coap_msg_set_payload(&m, "1", 1);
    n = coap_serialize(&m, c->wire, sizeof(c->wire));
    c->name = "request (4 Uri-Path)";
    c->len = n > 0 ? (size_t)n : 0;
}

/* Runs iters parse+serialize round trips; returns nonzero if any of them failed. */
static int run_case(const struct bench_case *c, long iters) {
    static struct coap_msg m;
    uint8_t out[256];
    uint64_t sum = 0;
    double t0, dt;

    if (c->len == 0) {
        fprintf(stderr, "%s: could not build the message\n", c->name);
        return 1;
    }
    t0 = now_s();
    for (long i = 0; i < iters; i++) {
        int n;

        if (coap_parse(&m, c->wire, c->len) != 0)
            return 1;
        n = coap_serialize(&m, out, sizeof(out));
        if (n != (int)c->len)
            return 1;
        sum += out[i % n]; /* keeps the work observable to the compiler */
    }
    dt = now_s() - t0;
    printf("%-22s %4zu B  %ld iters  %.3f s  %10.0f msg/s  %8.1f MB/s  (check %llu)\n", c->name,
           c->len, iters, dt, (double)iters / dt, (double)iters * (double)c->len / dt / 1e6,
           (unsigned long long)sum);
    return 0;
}

int main(int argc, char **argv) {
    long iters = argc > 1 ? strtol(argv[1], NULL, 10) : BENCH_DEFAULT_ITERS;
    struct bench_case cases[2];
    int rc = 0;

    if (iters <= 0) {
        fprintf(stderr, "usage: %s [iterations]\n", argv[0]);
        return 2;
    }
    build_notification(&cases[0]);
    build_request(&cases[1]);
    printf("coap codec: parse + serialize per iteration\n");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        rc |= run_case(&cases[i], iters);
    return rc;
}
