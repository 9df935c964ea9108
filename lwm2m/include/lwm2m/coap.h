/* SPDX-License-Identifier: Apache-2.0 */
/* CoAP message codec (RFC 7252) plus the pure Block-wise (RFC 7959) and Observe (RFC 7641) helpers.
 * Pure code: no I/O, no clock, no allocation. A parsed message borrows from the datagram it was
 * parsed from; a message being built borrows its option values and payload until serialized. */
#ifndef LWM2M_COAP_H
#define LWM2M_COAP_H

#include <stddef.h>
#include <stdint.h>

#define COAP_VERSION         1
#define COAP_MAX_TOKEN_LEN   8
#define COAP_MAX_OPTIONS     40 /* per message; more is a counted parse error */
#define COAP_OPT_SCRATCH_LEN 64 /* bytes for option values encoded by the builder */
#define COAP_PAYLOAD_MARKER  0xFF

enum coap_type { COAP_TYPE_CON = 0, COAP_TYPE_NON = 1, COAP_TYPE_ACK = 2, COAP_TYPE_RST = 3 };

#define COAP_CODE(c, d)     ((uint8_t)(((c) << 5) | (d)))
#define COAP_CODE_CLASS(x)  ((uint8_t)((x) >> 5))
#define COAP_CODE_DETAIL(x) ((uint8_t)((x)&0x1F))

enum coap_code {
    COAP_EMPTY = 0,
    COAP_GET = 1,
    COAP_POST = 2,
    COAP_PUT = 3,
    COAP_DELETE = 4,
    COAP_FETCH = 5,  /* RFC 8132 */
    COAP_PATCH = 6,  /* RFC 8132 */
    COAP_IPATCH = 7, /* RFC 8132 */
    COAP_201_CREATED = COAP_CODE(2, 1),
    COAP_202_DELETED = COAP_CODE(2, 2),
    COAP_203_VALID = COAP_CODE(2, 3),
    COAP_204_CHANGED = COAP_CODE(2, 4),
    COAP_205_CONTENT = COAP_CODE(2, 5),
    COAP_231_CONTINUE = COAP_CODE(2, 31),
    COAP_400_BAD_REQUEST = COAP_CODE(4, 0),
    COAP_401_UNAUTHORIZED = COAP_CODE(4, 1),
    COAP_402_BAD_OPTION = COAP_CODE(4, 2),
    COAP_403_FORBIDDEN = COAP_CODE(4, 3),
    COAP_404_NOT_FOUND = COAP_CODE(4, 4),
    COAP_405_METHOD_NOT_ALLOWED = COAP_CODE(4, 5),
    COAP_406_NOT_ACCEPTABLE = COAP_CODE(4, 6),
    COAP_408_REQUEST_ENTITY_INCOMPLETE = COAP_CODE(4, 8),
    COAP_409_CONFLICT = COAP_CODE(4, 9),
    COAP_412_PRECONDITION_FAILED = COAP_CODE(4, 12),
    COAP_413_REQUEST_ENTITY_TOO_LARGE = COAP_CODE(4, 13),
    COAP_415_UNSUPPORTED_CONTENT_FORMAT = COAP_CODE(4, 15),
    COAP_500_INTERNAL_SERVER_ERROR = COAP_CODE(5, 0),
    COAP_501_NOT_IMPLEMENTED = COAP_CODE(5, 1),
    COAP_502_BAD_GATEWAY = COAP_CODE(5, 2),
    COAP_503_SERVICE_UNAVAILABLE = COAP_CODE(5, 3),
    COAP_504_GATEWAY_TIMEOUT = COAP_CODE(5, 4),
    COAP_505_PROXYING_NOT_SUPPORTED = COAP_CODE(5, 5),
};

enum coap_option_num {
    COAP_OPT_IF_MATCH = 1,
    COAP_OPT_URI_HOST = 3,
    COAP_OPT_ETAG = 4,
    COAP_OPT_IF_NONE_MATCH = 5,
    COAP_OPT_OBSERVE = 6,
    COAP_OPT_URI_PORT = 7,
    COAP_OPT_LOCATION_PATH = 8,
    COAP_OPT_OSCORE = 9,
    COAP_OPT_URI_PATH = 11,
    COAP_OPT_CONTENT_FORMAT = 12,
    COAP_OPT_MAX_AGE = 14,
    COAP_OPT_URI_QUERY = 15,
    COAP_OPT_ACCEPT = 17,
    COAP_OPT_LOCATION_QUERY = 20,
    COAP_OPT_BLOCK2 = 23,
    COAP_OPT_BLOCK1 = 27,
    COAP_OPT_SIZE2 = 28,
    COAP_OPT_PROXY_URI = 35,
    COAP_OPT_PROXY_SCHEME = 39,
    COAP_OPT_SIZE1 = 60,
    COAP_OPT_NO_RESPONSE = 258,
};

/* An option is critical when its number is odd (RFC 7252 §5.4.6). */
#define COAP_OPT_IS_CRITICAL(n) (((n)&1u) != 0)

/* Why a datagram was rejected by coap_parse(). All values are negative. */
enum coap_parse_err {
    COAP_PERR_SHORT = -101,      /* fewer than 4 bytes */
    COAP_PERR_VERSION = -102,    /* version field is not 1 */
    COAP_PERR_TOKEN_LEN = -103,  /* TKL 9..15 */
    COAP_PERR_TRUNCATED = -104,  /* token, option header or option value runs past the end */
    COAP_PERR_OPT_NIBBLE = -105, /* delta or length nibble 15 outside the payload marker */
    COAP_PERR_MARKER = -106,     /* payload marker followed by no payload */
    COAP_PERR_TOO_MANY = -107,   /* more than COAP_MAX_OPTIONS options */
    COAP_PERR_EMPTY = -108,      /* code 0.00 with a token, options or payload (§4.1) */
    COAP_PERR_OPT_RANGE = -109,  /* option number above 65535 (or a value over 65535 bytes) */
    COAP_PERR_RESERVED = -110,   /* code class 1, 6 or 7 (reserved) */
};

/* Errors from the builder and serializer. */
enum coap_build_err {
    COAP_BERR_NOSPACE = -120, /* output buffer, option table or scratch full */
    COAP_BERR_INVALID = -121, /* bad argument (token too long, option value too long) */
};

struct coap_option {
    uint16_t num;
    uint16_t len;
    const uint8_t *val; /* borrowed: from the parsed datagram, the caller, or the msg scratch */
};

/* A CoAP message, parsed or under construction. Options are kept sorted by number (stable for
 * repeated options), as they appear on the wire. */
struct coap_msg {
    uint8_t type; /* enum coap_type */
    uint8_t code; /* enum coap_code */
    uint16_t mid;
    uint8_t token_len;
    uint8_t token[COAP_MAX_TOKEN_LEN];
    uint16_t opt_count;
    struct coap_option opts[COAP_MAX_OPTIONS];
    const uint8_t *payload; /* borrowed; NULL when payload_len is 0 */
    size_t payload_len;
    uint8_t scratch[COAP_OPT_SCRATCH_LEN]; /* storage for integer option values added here */
    uint8_t scratch_used;
};

/* Parses one datagram into *m. Returns 0, or a negative enum coap_parse_err. On error *m is
 * partly filled: m->type, m->code, m->mid and the token are valid when at least the header and
 * the token could be read (so that a reset or 4.00 can be addressed), which the caller may check
 * with coap_parse_header_ok(). Pointers in *m borrow from buf. */
int coap_parse(struct coap_msg *m, const uint8_t *buf, size_t len);

/* Nonzero when buf holds at least a valid 4-byte header and token (enough to answer with RST,
 * or with 4.00 to a CON request). */
int coap_parse_header_ok(const uint8_t *buf, size_t len);

/* Builder. coap_msg_init() clears *m and sets its header; a token may then be set and options
 * added in any order (they are inserted in sorted position). */
void coap_msg_init(struct coap_msg *m, uint8_t type, uint8_t code, uint16_t mid);
int coap_msg_set_token(struct coap_msg *m, const uint8_t *token, size_t len);
/* Adds an option whose value is borrowed until serialization. Max length 65535 (the width of
 * struct coap_option.len; the wire format could say 65535+269): longer is COAP_BERR_INVALID. */
int coap_msg_add_opt(struct coap_msg *m, uint16_t num, const void *val, size_t len);
/* Adds an unsigned integer option in its shortest form (0 → empty value), stored in scratch. */
int coap_msg_add_opt_uint(struct coap_msg *m, uint16_t num, uint32_t v);
/* Adds one URI-Path (or other repeatable) option per '/'-separated segment of path; a leading '/'
 * is ignored, and an empty path adds nothing. Values borrow from path. */
int coap_msg_add_path(struct coap_msg *m, uint16_t num, const char *path);
/* Removes every option with this number. */
void coap_msg_del_opt(struct coap_msg *m, uint16_t num);
/* Sets the payload (borrowed until serialization). */
void coap_msg_set_payload(struct coap_msg *m, const void *payload, size_t len);

/* Serializes *m into out. Returns the number of bytes written, or a negative enum coap_build_err:
 * COAP_BERR_INVALID for anything coap_parse() would reject (options out of order, code class
 * 1/6/7, 0.00 with a token, options or payload, token over 8 bytes). */
int coap_serialize(const struct coap_msg *m, uint8_t *out, size_t cap);
/* The exact serialized size of *m (for a message that coap_serialize() accepts). */
size_t coap_serialized_size(const struct coap_msg *m);

/* Option access. coap_msg_opt() returns the first option with that number or NULL;
 * coap_msg_opt_next() the next one with the same number after prev, or NULL. */
const struct coap_option *coap_msg_opt(const struct coap_msg *m, uint16_t num);
const struct coap_option *coap_msg_opt_next(const struct coap_msg *m,
                                            const struct coap_option *prev);
/* Decodes an unsigned integer option value (0–4 bytes). Returns 0 or COAP_PERR_OPT_RANGE. */
int coap_opt_uint(const struct coap_option *o, uint32_t *out);
/* Convenience: the value of the first option num as an integer; returns 0 when present and
 * valid, -1 when absent, COAP_PERR_OPT_RANGE when longer than 4 bytes. */
int coap_msg_opt_uint(const struct coap_msg *m, uint16_t num, uint32_t *out);
/* Joins every option num (URI-Path, Location-Path) into out as "a/b/c" with no leading '/'.
 * Returns the length, or COAP_BERR_NOSPACE when out (cap incl. NUL) is too small, or
 * COAP_BERR_INVALID when a segment holds '/' or NUL (joining would change the path). */
int coap_msg_path(const struct coap_msg *m, uint16_t num, char *out, size_t cap);
/* Returns the number of the first critical option that is not in known[0..n), or 0 when every
 * critical option is known. A request with such an option gets 4.02 (RFC 7252 §5.4.1). */
uint16_t coap_msg_unknown_critical(const struct coap_msg *m, const uint16_t *known, size_t n);

/* Writes "2.05" style text for a code into out (at least 5 bytes). Returns out. */
const char *coap_code_str(uint8_t code, char out[8]);

/* ---- Block-wise transfers (RFC 7959) ------------------------------------------------------- */

struct coap_block {
    uint32_t num; /* block number, < 2^20 */
    uint8_t more; /* M bit */
    uint8_t szx;  /* size exponent 0..6: size = 1 << (szx + 4) */
};

#define COAP_BLOCK_SIZE(szx) (1u << ((szx) + 4))
#define COAP_BLOCK_MAX_SZX   6

/* Decodes a Block1/Block2 option value. Returns 0, or COAP_PERR_OPT_RANGE for a value longer
 * than 3 bytes or SZX 7 (reserved for BERT, invalid over UDP). */
int coap_block_decode(uint32_t value, struct coap_block *b);
/* Encodes a block into the option's integer value. */
uint32_t coap_block_encode(const struct coap_block *b);
/* Reads Block1 or Block2 from m: 1 when present and valid, 0 when absent, negative when bad. */
int coap_msg_block(const struct coap_msg *m, uint16_t num, struct coap_block *b);
/* The SZX to use when the peer asked for req_szx and we prefer our_szx: the smaller one. */
uint8_t coap_block_negotiate(uint8_t req_szx, uint8_t our_szx);
/* The slice of a body of total bytes that block (num, szx) covers: offset and length, with
 * *more set when bytes follow. Returns 0, or -1 when the block starts past the end (block 0 of
 * an empty body is one empty slice) or szx is above 6. */
int coap_block_slice(size_t total, uint32_t num, uint8_t szx, size_t *off, size_t *len,
                     uint8_t *more);

/* ---- Observe (RFC 7641) --------------------------------------------------------------------- */

#define COAP_OBSERVE_REGISTER   0
#define COAP_OBSERVE_DEREGISTER 1
#define COAP_OBSERVE_MAX        0xFFFFFFu /* the sequence number is 24 bits */

/* The next sequence number after seq, wrapping within 24 bits. */
uint32_t coap_observe_next(uint32_t seq);
/* RFC 7641 §3.4: nonzero when a notification (v2, received at t2_ms) is fresher than the last one
 * kept (v1, received at t1_ms): V1 < V2 and V2 − V1 < 2^23, or V1 > V2 and V1 − V2 > 2^23, or
 * T2 > T1 + 128 s. */
int coap_observe_is_fresh(uint32_t v1, uint64_t t1_ms, uint32_t v2, uint64_t t2_ms);

#endif /* LWM2M_COAP_H */
