/* SPDX-License-Identifier: Apache-2.0 */
/* Block-wise transfer of our own request bodies (RFC 7959 §2.5, client side of Block1): the
 * transfer state kept by the one exchange that carries the request, the datagram of each block,
 * and what a 2.31 Continue or a 4.13 means for the next one. Matching, retransmission and the
 * user's callback stay in coap_exchange.c, so a transfer fails or completes like any request. */
#include "coap_endpoint_internal.h"

#include <string.h>

#include "lwm2m/error.h"

/* One allocation: the struct, then the serialized request head (header, token, options without
 * Block1/Size1 and payload), then the body. Only exists while a transfer is active. */
struct coap_cblk {
    size_t head_len;
    size_t body_len;
    uint32_t num; /* the block in flight, in units of szx */
    uint8_t szx;  /* current block size exponent; only ever decreases */
    uint8_t more; /* the block in flight has M set */
    uint8_t *head;
    uint8_t *body;
};

static uint8_t cblk_pref_szx(const struct coap_endpoint *ep) {
    uint8_t szx = ep->env->params.block_szx;
    return szx > COAP_BLOCK_MAX_SZX ? COAP_BLOCK_MAX_SZX : szx;
}

int coap_cblk_needed(const struct coap_endpoint *ep, const struct coap_msg *m) {
    return m->payload_len > COAP_BLOCK_SIZE(cblk_pref_szx(ep)) &&
           coap_msg_opt(m, COAP_OPT_BLOCK1) == NULL;
}

static size_t cblk_size(const struct coap_cblk *b) {
    return sizeof(*b) + b->head_len + b->body_len;
}

void coap_cblk_free(struct coap_endpoint *ep, struct coap_cblk *b) {
    if (b != NULL)
        coap_ep_free_mem(ep, b, cblk_size(b));
}

/* Serializes block b->num of size b->szx with message ID mid. Size1 goes with block 0 only
 * (§4: it lets the server refuse an oversized body before the rest is sent). */
static int cblk_build(struct coap_endpoint *ep, struct coap_cblk *b, uint16_t mid, uint8_t **dgram,
                      size_t *dlen) {
    struct coap_msg m;
    size_t off, len;
    uint8_t more;
    if (coap_parse(&m, b->head, b->head_len) != 0 ||
        coap_block_slice(b->body_len, b->num, b->szx, &off, &len, &more) != 0)
        return LWM2M_ERR_INVALID;
    m.mid = mid;
    struct coap_block blk = {.num = b->num, .more = more, .szx = b->szx};
    int rc = coap_msg_add_opt_uint(&m, COAP_OPT_BLOCK1, coap_block_encode(&blk));
    if (rc == 0 && b->num == 0)
        rc = coap_msg_add_opt_uint(&m, COAP_OPT_SIZE1, (uint32_t)b->body_len);
    if (rc != 0)
        return LWM2M_ERR_INVALID; /* no room for two more options */
    coap_msg_set_payload(&m, b->body + off, len);
    rc = coap_ep_serialize(ep, &m, dgram, dlen);
    if (rc == 0) {
        b->more = more;
        ep->env->stats.block1_tx++;
    }
    return rc;
}

int coap_cblk_new(struct coap_endpoint *ep, const struct coap_msg *m, struct coap_cblk **out,
                  uint8_t **dgram, size_t *dlen) {
    struct coap_msg h = *m; /* option values still borrow from the caller: fine for the call */
    coap_msg_del_opt(&h, COAP_OPT_SIZE1);
    coap_msg_set_payload(&h, NULL, 0);
    size_t head_len = coap_serialized_size(&h);
    if (m->payload_len / COAP_BLOCK_SIZE(0) >= (1u << 20) || m->payload_len > UINT32_MAX)
        return LWM2M_ERR_INVALID; /* more blocks than NUM can count even at 1024 bytes */
    struct coap_cblk *b = coap_ep_alloc(ep, sizeof(*b) + head_len + m->payload_len);
    if (b == NULL)
        return LWM2M_ERR_NOMEM;
    memset(b, 0, sizeof(*b));
    b->head = (uint8_t *)(b + 1);
    b->head_len = head_len;
    b->body = b->head + head_len;
    b->body_len = m->payload_len;
    b->szx = cblk_pref_szx(ep);
    memcpy(b->body, m->payload, m->payload_len);
    int rc = coap_serialize(&h, b->head, head_len) == (int)head_len
                 ? cblk_build(ep, b, m->mid, dgram, dlen)
                 : LWM2M_ERR_INVALID;
    if (rc != 0) {
        coap_cblk_free(ep, b);
        return rc;
    }
    *out = b;
    return 0;
}

/* The block size to restart with after a 4.13 (§2.9.3), or b->szx when the request cannot be
 * sent: a Size1 below the body's size means the body itself is too large; a smaller SZX in the
 * server's Block1, or a Size1 that admits the body, means our blocks were too large. Without
 * either hint the 4.13 goes to the user as it is. */
static uint8_t cblk_szx_after_413(const struct coap_cblk *b, const struct coap_msg *resp) {
    struct coap_block rb;
    uint32_t size1 = 0;
    int has_size1 = coap_msg_opt_uint(resp, COAP_OPT_SIZE1, &size1) == 0;
    if (has_size1 && size1 < b->body_len)
        return b->szx;
    if (coap_msg_block(resp, COAP_OPT_BLOCK1, &rb) == 1 && rb.szx < b->szx)
        return rb.szx;
    return has_size1 && b->szx > 0 ? (uint8_t)(b->szx - 1) : b->szx;
}

int coap_cblk_next(struct coap_endpoint *ep, struct coap_cblk *b, const struct coap_msg *resp,
                   uint16_t *mid, uint8_t **dgram, size_t *dlen) {
    struct coap_block rb;
    uint32_t num;
    uint8_t szx = b->szx;
    if (resp->code == COAP_231_CONTINUE && b->more) {
        /* The server may ask for smaller blocks (§2.5, Figure 6): the bytes already sent are then
         * counted in its units, so block n of 2^a bytes is followed by ((n+1) << a) >> b. */
        if (coap_msg_block(resp, COAP_OPT_BLOCK1, &rb) == 1 && rb.szx < b->szx)
            szx = rb.szx;
        num = (uint32_t)(((uint64_t)(b->num + 1) << b->szx) >> szx);
    } else if (resp->code == COAP_413_REQUEST_ENTITY_TOO_LARGE) {
        szx = cblk_szx_after_413(b, resp);
        if (szx >= b->szx)
            return 0;
        num = 0; /* the server dropped what it had: start over with smaller blocks */
    } else {
        return 0; /* the final answer (or an early error such as 4.08): the user's */
    }
    uint32_t old_num = b->num;
    uint8_t old_szx = b->szx;
    b->num = num;
    b->szx = szx;
    *mid = coap_ep_next_mid(ep);
    int rc = cblk_build(ep, b, *mid, dgram, dlen);
    if (rc != 0) {
        b->num = old_num;
        b->szx = old_szx;
    }
    return rc == 0 ? 1 : rc;
}
