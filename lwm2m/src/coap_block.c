/* SPDX-License-Identifier: Apache-2.0 */
/* Block-wise transfer helpers (RFC 7959): the Block1/Block2 option value (NUM, M, SZX), size
 * negotiation, and which slice of a body one block covers. Pure arithmetic over the codec. */
#include "lwm2m/coap.h"

#define BLOCK_OPT_MAX_LEN 3u         /* §2.2: a Block option value is 0 to 3 bytes */
#define BLOCK_NUM_LIMIT   (1u << 20) /* 20 bits of NUM fit in those 3 bytes */
#define BLOCK_SZX_BERT    7u         /* RFC 8323 BERT; not valid over UDP */

int coap_block_decode(uint32_t value, struct coap_block *b) {
    if (value > 0xFFFFFFu || (value & 0x7u) == BLOCK_SZX_BERT)
        return COAP_PERR_OPT_RANGE;
    b->num = value >> 4;
    b->more = (uint8_t)((value >> 3) & 1u);
    b->szx = (uint8_t)(value & 0x7u);
    return 0;
}

uint32_t coap_block_encode(const struct coap_block *b) {
    /* Masking keeps the value within the 3 bytes the option allows; callers keep num below
     * 2^20 and szx at most 6 (coap_block_slice refuses anything else). */
    return ((b->num & (BLOCK_NUM_LIMIT - 1)) << 4) | (b->more ? 0x8u : 0u) | (b->szx & 0x7u);
}

int coap_msg_block(const struct coap_msg *m, uint16_t num, struct coap_block *b) {
    const struct coap_option *o = coap_msg_opt(m, num);
    uint32_t value;
    int rc;

    if (o == NULL)
        return 0;
    /* Checked on the option length, not the value: 00 00 00 0A decodes small but is still a
     * 4-byte Block option, which §2.2 does not allow. */
    if (o->len > BLOCK_OPT_MAX_LEN)
        return COAP_PERR_OPT_RANGE;
    rc = coap_opt_uint(o, &value);
    if (rc == 0)
        rc = coap_block_decode(value, b);
    return rc == 0 ? 1 : rc;
}

uint8_t coap_block_negotiate(uint8_t req_szx, uint8_t our_szx) {
    uint8_t szx = req_szx < our_szx ? req_szx : our_szx;

    return szx > COAP_BLOCK_MAX_SZX ? COAP_BLOCK_MAX_SZX : szx;
}

int coap_block_slice(size_t total, uint32_t num, uint8_t szx, size_t *off, size_t *len,
                     uint8_t *more) {
    uint64_t start, size;

    if (szx > COAP_BLOCK_MAX_SZX || num >= BLOCK_NUM_LIMIT)
        return -1;
    size = COAP_BLOCK_SIZE(szx);
    start = (uint64_t)num * size;
    /* Block 0 of an empty body is the one empty block; any other block must start inside. */
    if (start > total || (start == total && num > 0))
        return -1;
    *off = (size_t)start;
    *len = (size_t)(total - start < size ? total - start : size);
    *more = (uint8_t)(start + size < total);
    return 0;
}
