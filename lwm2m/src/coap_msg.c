/* SPDX-License-Identifier: Apache-2.0 */
/* The CoAP message codec (RFC 7252 §3): strict parsing of one datagram into a struct coap_msg,
 * the builder that keeps options in wire order, serialization, and option access. No I/O, no
 * clock, no allocation: parsed messages borrow from the datagram, built ones from the caller. */
#include "lwm2m/coap.h"

#include <limits.h>
#include <string.h>

/* Option delta/length nibbles 13 and 14 announce 1 or 2 extended bytes holding the value minus
 * these offsets (§3.1); 15 is the payload marker's and never a valid nibble. */
#define OPT_EXT1_BASE 13u
#define OPT_EXT2_BASE 269u
#define OPT_NIB_EXT1  13u
#define OPT_NIB_EXT2  14u
#define OPT_NIB_BAD   15u
#define OPT_NUM_MAX   65535u

/* ---- parsing ------------------------------------------------------------------------------ */

/* Resolves one delta or length nibble, consuming its extended bytes from buf[*pos..len).
 * The caller has already rejected nibble 15. */
static int opt_ext_read(unsigned nib, const uint8_t *buf, size_t len, size_t *pos, uint32_t *out) {
    size_t p = *pos;

    if (nib == OPT_NIB_EXT1) {
        if (len - p < 1)
            return COAP_PERR_TRUNCATED;
        *out = OPT_EXT1_BASE + buf[p];
        *pos = p + 1;
    } else if (nib == OPT_NIB_EXT2) {
        if (len - p < 2)
            return COAP_PERR_TRUNCATED;
        *out = OPT_EXT2_BASE + (((uint32_t)buf[p] << 8) | buf[p + 1]);
        *pos = p + 2;
    } else {
        *out = nib;
    }
    return 0;
}

/* Parses the options and payload from buf[pos..len). Every read is preceded by a bound check
 * against len, so no input can make it read past the datagram. */
static int parse_options(struct coap_msg *m, const uint8_t *buf, size_t len, size_t pos) {
    uint32_t num = 0;

    while (pos < len) {
        uint8_t b = buf[pos++];
        uint32_t delta, olen;
        int rc;

        if (b == COAP_PAYLOAD_MARKER) {
            /* A marker must be followed by at least one byte (§3): zero-length payloads are
             * sent without the marker, so a bare marker is a format error. */
            if (pos == len)
                return COAP_PERR_MARKER;
            m->payload = buf + pos;
            m->payload_len = len - pos;
            return 0;
        }
        if ((b >> 4) == OPT_NIB_BAD || (b & 0x0F) == OPT_NIB_BAD)
            return COAP_PERR_OPT_NIBBLE;
        rc = opt_ext_read(b >> 4, buf, len, &pos, &delta);
        if (rc == 0)
            rc = opt_ext_read(b & 0x0F, buf, len, &pos, &olen);
        if (rc != 0)
            return rc;
        if (len - pos < olen)
            return COAP_PERR_TRUNCATED;
        num += delta;
        /* struct coap_option holds 16-bit numbers and lengths; a longer value cannot fit in a
         * UDP datagram anyway, so it is reported as out of range rather than truncated. */
        if (num > OPT_NUM_MAX || olen > UINT16_MAX)
            return COAP_PERR_OPT_RANGE;
        if (m->opt_count == COAP_MAX_OPTIONS)
            return COAP_PERR_TOO_MANY;
        m->opts[m->opt_count].num = (uint16_t)num;
        m->opts[m->opt_count].len = (uint16_t)olen;
        m->opts[m->opt_count].val = buf + pos;
        m->opt_count++;
        pos += olen;
    }
    return 0;
}

static int code_class_reserved(uint8_t code) {
    uint8_t cls = COAP_CODE_CLASS(code);
    return cls == 1 || cls == 6 || cls == 7;
}

int coap_parse(struct coap_msg *m, const uint8_t *buf, size_t len) {
    unsigned tkl;

    m->token_len = 0;
    m->opt_count = 0;
    m->payload = NULL;
    m->payload_len = 0;
    m->scratch_used = 0;
    if (len < 4)
        return COAP_PERR_SHORT;
    m->type = (buf[0] >> 4) & 0x03;
    m->code = buf[1];
    m->mid = (uint16_t)((buf[2] << 8) | buf[3]);
    if ((buf[0] >> 6) != COAP_VERSION)
        return COAP_PERR_VERSION;
    tkl = buf[0] & 0x0F;
    if (tkl > COAP_MAX_TOKEN_LEN)
        return COAP_PERR_TOKEN_LEN;
    /* The token is copied before the remaining checks so that a rejected message can still be
     * answered (RST, or 4.00 to a CON request) by whoever has enough of it. */
    if (len - 4 >= tkl) {
        memcpy(m->token, buf + 4, tkl);
        m->token_len = (uint8_t)tkl;
    }
    if (m->code == COAP_EMPTY && (tkl > 0 || len > 4))
        return COAP_PERR_EMPTY;
    if (len - 4 < tkl)
        return COAP_PERR_TRUNCATED;
    if (code_class_reserved(m->code))
        return COAP_PERR_RESERVED;
    return parse_options(m, buf, len, 4 + tkl);
}

int coap_parse_header_ok(const uint8_t *buf, size_t len) {
    if (buf == NULL || len < 4 || (buf[0] >> 6) != COAP_VERSION)
        return 0;
    return (size_t)(buf[0] & 0x0F) <= COAP_MAX_TOKEN_LEN && len - 4 >= (size_t)(buf[0] & 0x0F);
}

/* ---- builder ------------------------------------------------------------------------------ */

void coap_msg_init(struct coap_msg *m, uint8_t type, uint8_t code, uint16_t mid) {
    /* Only the header and the counts: the option array and scratch (about 700 bytes) are
     * meaningful only up to opt_count / scratch_used, and a memset of them was a visible part
     * of every notification's cost. */
    m->token_len = 0;
    m->opt_count = 0;
    m->payload = NULL;
    m->payload_len = 0;
    m->scratch_used = 0;
    m->type = type;
    m->code = code;
    m->mid = mid;
}

int coap_msg_set_token(struct coap_msg *m, const uint8_t *token, size_t len) {
    if (len > COAP_MAX_TOKEN_LEN || (token == NULL && len > 0))
        return COAP_BERR_INVALID;
    if (len > 0)
        memcpy(m->token, token, len);
    m->token_len = (uint8_t)len;
    return 0;
}

int coap_msg_add_opt(struct coap_msg *m, uint16_t num, const void *val, size_t len) {
    size_t i;

    /* The wire allows 65535+269 bytes, but struct coap_option.len is 16 bits wide. */
    if (len > UINT16_MAX || (val == NULL && len > 0))
        return COAP_BERR_INVALID;
    if (m->opt_count >= COAP_MAX_OPTIONS)
        return COAP_BERR_NOSPACE;
    /* Options are usually added in ascending order, so searching from the end makes the
     * common case O(1); stopping at the first smaller-or-equal number keeps repeats stable. */
    i = m->opt_count;
    while (i > 0 && m->opts[i - 1].num > num)
        i--;
    memmove(&m->opts[i + 1], &m->opts[i], (m->opt_count - i) * sizeof(m->opts[0]));
    m->opts[i].num = num;
    m->opts[i].len = (uint16_t)len;
    m->opts[i].val = val;
    m->opt_count++;
    return 0;
}

int coap_msg_add_opt_uint(struct coap_msg *m, uint16_t num, uint32_t v) {
    size_t n = 0;
    uint8_t *dst;
    int rc;

    for (uint32_t t = v; t != 0; t >>= 8)
        n++;
    if (n > (size_t)(COAP_OPT_SCRATCH_LEN - m->scratch_used))
        return COAP_BERR_NOSPACE;
    dst = m->scratch + m->scratch_used;
    for (size_t i = 0; i < n; i++)
        dst[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    rc = coap_msg_add_opt(m, num, n ? dst : NULL, n);
    if (rc == 0)
        m->scratch_used = (uint8_t)(m->scratch_used + n);
    return rc;
}

int coap_msg_add_path(struct coap_msg *m, uint16_t num, const char *path) {
    size_t segs = 1, seglen = 0;
    const char *p;

    if (path == NULL)
        return COAP_BERR_INVALID;
    if (*path == '/')
        path++;
    if (*path == '\0')
        return 0;
    /* Count and measure first so that a path that does not fit adds nothing at all. */
    for (p = path; *p != '\0'; p++) {
        if (*p == '/') {
            segs++;
            seglen = 0;
        } else if (++seglen > UINT16_MAX) {
            return COAP_BERR_INVALID;
        }
    }
    if (segs > (size_t)(COAP_MAX_OPTIONS - m->opt_count))
        return COAP_BERR_NOSPACE;
    for (;;) {
        const char *end = strchr(path, '/');
        size_t n = end ? (size_t)(end - path) : strlen(path);

        (void)coap_msg_add_opt(m, num, path, n); /* cannot fail: checked above */
        if (end == NULL)
            return 0;
        path = end + 1;
    }
}

void coap_msg_del_opt(struct coap_msg *m, uint16_t num) {
    uint16_t out = 0;

    for (uint16_t i = 0; i < m->opt_count; i++) {
        if (m->opts[i].num != num)
            m->opts[out++] = m->opts[i];
    }
    m->opt_count = out;
}

void coap_msg_set_payload(struct coap_msg *m, const void *payload, size_t len) {
    m->payload = len > 0 ? payload : NULL;
    m->payload_len = len;
}

/* ---- serialization ------------------------------------------------------------------------ */

static size_t opt_ext_size(uint32_t v) {
    return v < OPT_EXT1_BASE ? 0 : v < OPT_EXT2_BASE ? 1 : 2;
}

static unsigned opt_nibble(uint32_t v) {
    return v < OPT_EXT1_BASE ? v : v < OPT_EXT2_BASE ? OPT_NIB_EXT1 : OPT_NIB_EXT2;
}

static uint8_t *opt_ext_write(uint8_t *p, uint32_t v) {
    if (v >= OPT_EXT2_BASE) {
        v -= OPT_EXT2_BASE;
        *p++ = (uint8_t)(v >> 8);
        *p++ = (uint8_t)v;
    } else if (v >= OPT_EXT1_BASE) {
        *p++ = (uint8_t)(v - OPT_EXT1_BASE);
    }
    return p;
}

/* Rejects what coap_parse() would reject, so that we never emit a datagram a strict peer (or
 * our own parser) refuses, and anything that cannot be encoded at all. */
static int msg_check(const struct coap_msg *m) {
    if (m->type > COAP_TYPE_RST || m->token_len > COAP_MAX_TOKEN_LEN ||
        m->opt_count > COAP_MAX_OPTIONS || code_class_reserved(m->code))
        return COAP_BERR_INVALID;
    if (m->payload == NULL && m->payload_len > 0)
        return COAP_BERR_INVALID;
    if (m->code == COAP_EMPTY && (m->token_len > 0 || m->opt_count > 0 || m->payload_len > 0))
        return COAP_BERR_INVALID;
    for (uint16_t i = 0; i < m->opt_count; i++) {
        if (m->opts[i].val == NULL && m->opts[i].len > 0)
            return COAP_BERR_INVALID;
        if (i > 0 && m->opts[i].num < m->opts[i - 1].num)
            return COAP_BERR_INVALID;
    }
    return 0;
}

size_t coap_serialized_size(const struct coap_msg *m) {
    size_t n = 4 + m->token_len;
    uint32_t prev = 0;

    for (uint16_t i = 0; i < m->opt_count; i++) {
        const struct coap_option *o = &m->opts[i];
        /* Unsorted options are rejected by coap_serialize(); the size only holds for valid
         * messages, but must not wrap for invalid ones either. */
        uint32_t delta = o->num >= prev ? o->num - prev : 0;

        n += 1 + opt_ext_size(delta) + opt_ext_size(o->len) + o->len;
        prev = o->num;
    }
    if (m->payload_len > 0)
        n += 1 + m->payload_len;
    return n;
}

int coap_serialize(const struct coap_msg *m, uint8_t *out, size_t cap) {
    size_t total;
    uint32_t prev = 0;
    uint8_t *p = out;
    int rc = msg_check(m);

    if (rc != 0)
        return rc;
    total = coap_serialized_size(m);
    if (total > (size_t)INT_MAX)
        return COAP_BERR_INVALID;
    if (total > cap || out == NULL)
        return COAP_BERR_NOSPACE;
    *p++ = (uint8_t)((COAP_VERSION << 6) | (m->type << 4) | m->token_len);
    *p++ = m->code;
    *p++ = (uint8_t)(m->mid >> 8);
    *p++ = (uint8_t)m->mid;
    if (m->token_len > 0)
        memcpy(p, m->token, m->token_len);
    p += m->token_len;
    for (uint16_t i = 0; i < m->opt_count; i++) {
        const struct coap_option *o = &m->opts[i];
        uint32_t delta = o->num - prev;

        *p++ = (uint8_t)((opt_nibble(delta) << 4) | opt_nibble(o->len));
        p = opt_ext_write(p, delta);
        p = opt_ext_write(p, o->len);
        if (o->len > 0)
            memcpy(p, o->val, o->len);
        p += o->len;
        prev = o->num;
    }
    if (m->payload_len > 0) {
        *p++ = COAP_PAYLOAD_MARKER;
        memcpy(p, m->payload, m->payload_len);
        p += m->payload_len;
    }
    return (int)(p - out);
}

/* ---- option access ------------------------------------------------------------------------ */

const struct coap_option *coap_msg_opt(const struct coap_msg *m, uint16_t num) {
    for (uint16_t i = 0; i < m->opt_count && m->opts[i].num <= num; i++) {
        if (m->opts[i].num == num)
            return &m->opts[i];
    }
    return NULL;
}

const struct coap_option *coap_msg_opt_next(const struct coap_msg *m,
                                            const struct coap_option *prev) {
    size_t i;

    if (prev == NULL || prev < m->opts || prev >= m->opts + m->opt_count)
        return NULL;
    /* Options are sorted, so repeats of one number are adjacent. */
    i = (size_t)(prev - m->opts) + 1;
    if (i < m->opt_count && m->opts[i].num == prev->num)
        return &m->opts[i];
    return NULL;
}

int coap_opt_uint(const struct coap_option *o, uint32_t *out) {
    uint32_t v = 0;

    if (o->len > 4)
        return COAP_PERR_OPT_RANGE;
    for (uint16_t i = 0; i < o->len; i++)
        v = (v << 8) | o->val[i];
    *out = v;
    return 0;
}

int coap_msg_opt_uint(const struct coap_msg *m, uint16_t num, uint32_t *out) {
    const struct coap_option *o = coap_msg_opt(m, num);

    if (o == NULL)
        return -1;
    return coap_opt_uint(o, out);
}

int coap_msg_path(const struct coap_msg *m, uint16_t num, char *out, size_t cap) {
    size_t n = 0;

    if (cap == 0)
        return COAP_BERR_NOSPACE;
    out[0] = '\0';
    for (const struct coap_option *o = coap_msg_opt(m, num); o; o = coap_msg_opt_next(m, o)) {
        size_t need = (n > 0 ? 1 : 0) + o->len;

        /* A segment holding '/' or NUL would join into a different path ("3/0" as one
         * Uri-Path would read as /3/0), so it is refused rather than joined ambiguously. */
        if (o->len > 0 && (memchr(o->val, '/', o->len) || memchr(o->val, '\0', o->len)))
            return COAP_BERR_INVALID;
        if (need >= cap - n || n + need > (size_t)INT_MAX) {
            out[0] = '\0';
            return COAP_BERR_NOSPACE;
        }
        if (n > 0)
            out[n++] = '/';
        if (o->len > 0)
            memcpy(out + n, o->val, o->len);
        n += o->len;
        out[n] = '\0';
    }
    return (int)n;
}

uint16_t coap_msg_unknown_critical(const struct coap_msg *m, const uint16_t *known, size_t n) {
    for (uint16_t i = 0; i < m->opt_count; i++) {
        uint16_t num = m->opts[i].num;
        size_t k = 0;

        if (!COAP_OPT_IS_CRITICAL(num))
            continue;
        while (k < n && known[k] != num)
            k++;
        if (k == n)
            return num;
    }
    return 0;
}

const char *coap_code_str(uint8_t code, char out[8]) {
    uint8_t detail = COAP_CODE_DETAIL(code);

    out[0] = (char)('0' + COAP_CODE_CLASS(code));
    out[1] = '.';
    out[2] = (char)('0' + detail / 10);
    out[3] = (char)('0' + detail % 10);
    out[4] = '\0';
    return out;
}
