/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for the CoAP codec: arbitrary bytes must never crash coap_parse, and whatever
 * it accepts must serialize back to the identical bytes, both as parsed and when rebuilt through
 * the builder. Any mismatch abort()s so that libFuzzer records the input. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lwm2m/coap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The datagram limit of UDP; the parser accepts any length, but nothing larger ever arrives. */
#define FUZZ_MAX_DGRAM 65535

static void check(int cond) {
    if (!cond)
        abort();
}

/* Exercises the read-side helpers on an accepted message; they must not crash whatever the
 * option contents are. */
static void poke_accessors(const struct coap_msg *m) {
    static const uint16_t known[] = {COAP_OPT_URI_PATH, COAP_OPT_URI_QUERY, COAP_OPT_BLOCK1,
                                     COAP_OPT_BLOCK2};
    struct coap_block b;
    char path[32], code[8];
    uint32_t v;
    uint16_t crit;

    for (uint16_t i = 0; i < m->opt_count; i++)
        check(coap_opt_uint(&m->opts[i], &v) == (m->opts[i].len > 4 ? COAP_PERR_OPT_RANGE : 0));
    (void)coap_msg_path(m, COAP_OPT_URI_PATH, path, sizeof(path));
    (void)coap_msg_block(m, COAP_OPT_BLOCK2, &b);
    crit = coap_msg_unknown_critical(m, known, sizeof(known) / sizeof(known[0]));
    check(crit == 0 || COAP_OPT_IS_CRITICAL(crit));
    (void)coap_code_str(m->code, code);
    check(strlen(code) == 4);
}

/* Rebuilds m through the builder, adding options in reverse order to exercise the sorted,
 * stable insert, and checks that it serializes to the same bytes. */
static void rebuild(const struct coap_msg *m, const uint8_t *want, size_t len, uint8_t *out) {
    static struct coap_msg b; /* big; static keeps it off the fuzzer's stack */

    coap_msg_init(&b, m->type, m->code, m->mid);
    check(coap_msg_set_token(&b, m->token, m->token_len) == 0);
    for (uint16_t i = m->opt_count; i > 0; i--) {
        /* Reverse order reverses repeats too; insert repeats of one number in original order
         * by walking back to the first of each run. */
        uint16_t j = i - 1;

        while (j > 0 && m->opts[j - 1].num == m->opts[i - 1].num)
            j--;
        for (uint16_t k = j; k < i; k++)
            check(coap_msg_add_opt(&b, m->opts[k].num, m->opts[k].val, m->opts[k].len) == 0);
        i = (uint16_t)(j + 1);
    }
    coap_msg_set_payload(&b, m->payload, m->payload_len);
    check(coap_serialized_size(&b) == len);
    check(coap_serialize(&b, out, len) == (int)len);
    check(memcmp(out, want, len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static struct coap_msg m, again;
    static uint8_t out[FUZZ_MAX_DGRAM];
    int rc;

    if (size > FUZZ_MAX_DGRAM)
        return 0;
    rc = coap_parse(&m, data, size);
    if (rc != 0) {
        check(rc >= COAP_PERR_RESERVED && rc <= COAP_PERR_SHORT);
        return 0;
    }
    check(coap_parse_header_ok(data, size));
    poke_accessors(&m);
    /* The wire encoding of options is canonical, so an accepted datagram re-serializes to
     * exactly itself. */
    check(coap_serialized_size(&m) == size);
    check(coap_serialize(&m, out, size) == (int)size);
    check(memcmp(out, data, size) == 0);
    if (size > 0)
        check(coap_serialize(&m, out, size - 1) == COAP_BERR_NOSPACE);
    check(coap_parse(&again, out, size) == 0);
    check(again.opt_count == m.opt_count && again.payload_len == m.payload_len);
    rebuild(&m, data, size, out);
    return 0;
}
