/* SPDX-License-Identifier: Apache-2.0 */
/* The JSON fast path of the payload codec: one pass over a payload, without allocating, to the
 * value an RFC 6901 pointer names, checking the whole document on the way. It accepts only a
 * strict subset of what jansson accepts and gives up (-EAGAIN) on anything else (escaped keys,
 * deep nesting, numbers jansson might refuse, malformed text), so that the caller's jansson path
 * keeps the exact semantics. Pure: no I/O, no clock, no allocation. */
#include "mq_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MQ_JSCAN_DEPTH   32 /* deeper documents go to jansson (its own limit is 2048) */
#define MQ_JSCAN_TOKENS  16 /* longer pointers too */
#define MQ_JSCAN_INT_MAX 18 /* digits of an integer that surely fits int64 (jansson: strtoll) */
#define MQ_JSCAN_NUM_MAX 64 /* characters of a real we convert; also bounds the magnitude ... */
#define MQ_JSCAN_EXP_MAX 2  /* ... with the exponent's digits, so that it cannot overflow */
#define MQ_JSCAN_OFF     SIZE_MAX /* level of a value that is not on the pointer's path */

struct jscan {
    const uint8_t *p;
    const uint8_t *end;
    const char *tok[MQ_JSCAN_TOKENS]; /* raw reference tokens (still with ~0 ~1) */
    size_t tlen[MQ_JSCAN_TOKENS];
    size_t tidx[MQ_JSCAN_TOKENS]; /* array index the token names, or MQ_JSCAN_OFF */
    size_t ntok;
    struct mq_jval *out;
    bool found;
};

static void skip_ws(struct jscan *s) {
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r')) {
        s->p++;
    }
}

/* RFC 6901 array index as jp_index in mq_payload.c: "0" or digits without a leading zero. */
static size_t token_index(const char *t, size_t n) {
    if (n == 0 || n > 18 || (n > 1 && t[0] == '0')) {
        return MQ_JSCAN_OFF;
    }
    size_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (t[i] < '0' || t[i] > '9') {
            return MQ_JSCAN_OFF;
        }
        v = v * 10 + (size_t)(t[i] - '0');
    }
    return v;
}

/* Splits the pointer into its tokens. Anything jp_token would refuse is left to jansson, which
 * reports it after parsing (so a malformed document still wins over a bad pointer). */
static int split_pointer(struct jscan *s, const char *ptr) {
    s->ntok = 0;
    if (ptr == NULL || ptr[0] == '\0') {
        return 0;
    }
    if (ptr[0] != '/') {
        return -EAGAIN;
    }
    for (const char *c = ptr; *c == '/';) {
        const char *t = ++c;
        size_t decoded = 0;
        bool plain = true;
        for (; *c != '\0' && *c != '/'; c++, decoded++) {
            if (*c == '~') {
                if (c[1] != '0' && c[1] != '1') {
                    return -EAGAIN;
                }
                plain = false;
                c++;
            }
        }
        if (s->ntok == MQ_JSCAN_TOKENS || decoded + 1 >= MQ_JP_TOKEN_MAX) {
            return -EAGAIN;
        }
        s->tok[s->ntok] = t;
        s->tlen[s->ntok] = (size_t)(c - t);
        s->tidx[s->ntok] = plain ? token_index(t, (size_t)(c - t)) : MQ_JSCAN_OFF;
        s->ntok++;
    }
    return 0;
}

/* A key (raw bytes, no escapes) against a raw token, unescaping ~0 ~1 on the way. */
static bool key_is(const uint8_t *k, size_t kn, const char *t, size_t tn) {
    size_t i = 0;
    for (size_t j = 0; j < tn; j++, i++) {
        char ch = t[j];
        if (ch == '~') {
            ch = t[++j] == '0' ? '~' : '/';
        }
        if (i >= kn || k[i] != (uint8_t)ch) {
            return false;
        }
    }
    return i == kn;
}

static int hex4(const uint8_t *p, const uint8_t *end, uint32_t *out) {
    uint32_t v = 0;
    if (end - p < 4) {
        return -EAGAIN;
    }
    for (int i = 0; i < 4; i++) {
        uint8_t c = p[i];
        uint32_t d;
        if (c >= '0' && c <= '9') {
            d = c - '0';
        } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
            d = (uint32_t)((c | 0x20) - 'a' + 10);
        } else {
            return -EAGAIN;
        }
        v = v << 4 | d;
    }
    *out = v;
    return 0;
}

/* One escape at p (just after the backslash): its code point and the bytes it spans. Lone or
 * mismatched surrogates are jansson's to refuse. */
static int escape_at(const uint8_t *p, const uint8_t *end, uint32_t *cp, size_t *span) {
    static const char from[] = "\"\\/bfnrt";
    static const char to[] = "\"\\/\b\f\n\r\t";
    if (p >= end) {
        return -EAGAIN;
    }
    const char *hit = *p != 'u' && *p != '\0' ? strchr(from, *p) : NULL;
    if (hit != NULL) {
        *cp = (uint8_t)to[hit - from];
        *span = 1;
        return 0;
    }
    uint32_t hi, lo;
    if (*p != 'u' || hex4(p + 1, end, &hi) != 0 || (hi >= 0xdc00 && hi <= 0xdfff)) {
        return -EAGAIN;
    }
    *cp = hi;
    *span = 5;
    if (hi >= 0xd800 && hi <= 0xdbff) {
        if (end - p < 11 || p[5] != '\\' || p[6] != 'u' || hex4(p + 7, end, &lo) != 0 ||
            lo < 0xdc00 || lo > 0xdfff) {
            return -EAGAIN;
        }
        *cp = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
        *span = 11;
    }
    return 0;
}

/* A string at s->p (on its opening quote): its body between the quotes. */
static int scan_string(struct jscan *s, const uint8_t **body, size_t *n, bool *escaped) {
    const uint8_t *p = ++s->p;
    bool high = false;
    *escaped = false;
    while (p < s->end && *p != '"') {
        uint32_t cp;
        size_t span;
        if (*p < 0x20) {
            return -EAGAIN; /* control characters must be escaped */
        }
        high |= *p >= 0x80;
        if (*p != '\\') {
            p++;
            continue;
        }
        if (escape_at(p + 1, s->end, &cp, &span) != 0) {
            return -EAGAIN;
        }
        *escaped = true;
        p += 1 + span;
    }
    if (p >= s->end) {
        return -EAGAIN;
    }
    *body = s->p;
    *n = (size_t)(p - s->p);
    s->p = p + 1;
    return high && !mq_utf8_valid(*body, *n) ? -EAGAIN : 0;
}

/* A number at s->p by the JSON grammar; *is_int when it has neither fraction nor exponent. */
static int scan_number(struct jscan *s, bool *is_int) {
    const uint8_t *p = s->p, *e = s->end;
    size_t digits = 0, exp_digits = 0;
    p += p < e && *p == '-';
    if (p < e && *p == '0') {
        p++;
        digits = 1;
    } else {
        for (; p < e && *p >= '0' && *p <= '9'; p++) {
            digits++;
        }
    }
    if (digits == 0) {
        return -EAGAIN;
    }
    *is_int = true;
    if (p < e && *p == '.') {
        const uint8_t *f = ++p;
        for (; p < e && *p >= '0' && *p <= '9'; p++) {
        }
        if (p == f) {
            return -EAGAIN;
        }
        *is_int = false;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        p++;
        p += p < e && (*p == '+' || *p == '-');
        for (; p < e && *p >= '0' && *p <= '9'; p++) {
            exp_digits++;
        }
        if (exp_digits == 0) {
            return -EAGAIN;
        }
        *is_int = false;
    }
    /* Only numbers jansson surely takes: strtoll without ERANGE, strtod without overflow. */
    if (*is_int ? digits > MQ_JSCAN_INT_MAX
                : (p - s->p > MQ_JSCAN_NUM_MAX || exp_digits > MQ_JSCAN_EXP_MAX)) {
        return -EAGAIN;
    }
    s->p = p;
    return 0;
}

/* Converts the number scanned at [p, end) the way jansson does (strtoll / strtod). */
static int number_value(const uint8_t *p, const uint8_t *end, bool is_int, struct mq_jval *v) {
    size_t n = (size_t)(end - p);
    if (is_int) {
        bool neg = *p == '-';
        int64_t i = 0;
        for (const uint8_t *c = p + neg; c < end; c++) {
            i = i * 10 + (*c - '0'); /* at most 18 digits: no overflow */
        }
        v->kind = MQ_J_INT;
        v->i = neg ? -i : i;
        return 0;
    }
    char buf[MQ_JSCAN_NUM_MAX + 1];
    memcpy(buf, p, n);
    buf[n] = '\0';
    v->kind = MQ_J_REAL;
    v->f = strtod(buf, NULL);
    return 0;
}

static int scan_value(struct jscan *s, unsigned depth, size_t level);

static int scan_object(struct jscan *s, unsigned depth, size_t level) {
    s->p++;
    skip_ws(s);
    if (s->p < s->end && *s->p == '}') {
        s->p++;
        return 0;
    }
    for (;;) {
        const uint8_t *k;
        size_t kn;
        bool esc;
        skip_ws(s);
        if (s->p >= s->end || *s->p != '"' || scan_string(s, &k, &kn, &esc) != 0 || esc) {
            return -EAGAIN; /* escaped keys: jansson compares them decoded */
        }
        skip_ws(s);
        if (s->p >= s->end || *s->p++ != ':') {
            return -EAGAIN;
        }
        size_t child = MQ_JSCAN_OFF;
        if (level != MQ_JSCAN_OFF && key_is(k, kn, s->tok[level], s->tlen[level])) {
            /* jansson keeps the last of duplicate keys: what an earlier one led to is void. */
            child = level + 1;
            s->found = false;
        }
        if (scan_value(s, depth + 1, child) != 0) {
            return -EAGAIN;
        }
        skip_ws(s);
        if (s->p < s->end && *s->p == ',') {
            s->p++;
        } else if (s->p < s->end && *s->p == '}') {
            s->p++;
            return 0;
        } else {
            return -EAGAIN;
        }
    }
}

static int scan_array(struct jscan *s, unsigned depth, size_t level) {
    s->p++;
    skip_ws(s);
    if (s->p < s->end && *s->p == ']') {
        s->p++;
        return 0;
    }
    for (size_t i = 0;; i++) {
        size_t child = level != MQ_JSCAN_OFF && s->tidx[level] == i ? level + 1 : MQ_JSCAN_OFF;
        if (scan_value(s, depth + 1, child) != 0) {
            return -EAGAIN;
        }
        skip_ws(s);
        if (s->p < s->end && *s->p == ',') {
            s->p++;
        } else if (s->p < s->end && *s->p == ']') {
            s->p++;
            return 0;
        } else {
            return -EAGAIN;
        }
    }
}

static int scan_literal(struct jscan *s, const char *word, enum mq_jkind kind, struct mq_jval *v) {
    size_t n = strlen(word);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0) {
        return -EAGAIN;
    }
    s->p += n;
    v->kind = kind;
    return 0;
}

/* One value at s->p. level counts the tokens matched on the way here (MQ_JSCAN_OFF: off the
 * path); at level ntok this value is the one the pointer names. */
static int scan_value(struct jscan *s, unsigned depth, size_t level) {
    struct mq_jval skipped; /* written to and ignored: no zeroing on the per-message path */
    bool target = level == s->ntok;
    struct mq_jval *v = target ? s->out : &skipped;
    size_t next = target || level == MQ_JSCAN_OFF ? MQ_JSCAN_OFF : level;
    bool is_int = false;
    int rc;
    skip_ws(s);
    if (depth > MQ_JSCAN_DEPTH || s->p >= s->end) {
        return -EAGAIN;
    }
    const uint8_t *start = s->p;
    v->kind = MQ_J_STRUCT;
    v->escaped = false;
    switch (*s->p) {
    case '{':
        rc = scan_object(s, depth, next);
        break;
    case '[':
        rc = scan_array(s, depth, next);
        break;
    case '"':
        v->kind = MQ_J_STRING;
        rc = scan_string(s, &v->p, &v->n, &v->escaped);
        break;
    case 't':
        rc = scan_literal(s, "true", MQ_J_TRUE, v);
        break;
    case 'f':
        rc = scan_literal(s, "false", MQ_J_FALSE, v);
        break;
    case 'n':
        rc = scan_literal(s, "null", MQ_J_NULL, v);
        break;
    default:
        rc = scan_number(s, &is_int);
        if (rc == 0 && target) {
            rc = number_value(start, s->p, is_int, v);
        }
        break;
    }
    if (rc == 0 && target) {
        s->found = true;
    }
    return rc;
}

int mq_jscan_find(const uint8_t *payload, size_t len, const char *pointer, struct mq_jval *out) {
    struct jscan s; /* no initializer: zeroing the token tables would cost more than a scan */
    if (payload == NULL) {
        return -EAGAIN;
    }
    s.p = payload;
    s.end = payload + len;
    s.out = out;
    s.found = false;
    if (split_pointer(&s, pointer) != 0 || scan_value(&s, 0, 0) != 0) {
        return -EAGAIN;
    }
    skip_ws(&s);
    if (s.p != s.end) {
        return -EAGAIN; /* trailing bytes: jansson refuses the document */
    }
    return s.found ? 0 : -ENOENT;
}

size_t mq_jscan_unescape(const uint8_t *p, size_t n, uint8_t *dst) {
    const uint8_t *end = p + n;
    size_t o = 0;
    while (p < end) {
        uint32_t cp;
        size_t span;
        if (*p != '\\' || escape_at(p + 1, end, &cp, &span) != 0) {
            dst[o++] = *p++;
            continue;
        }
        p += 1 + span;
        if (cp < 0x80) {
            dst[o++] = (uint8_t)cp;
        } else if (cp < 0x800) {
            dst[o++] = (uint8_t)(0xc0 | cp >> 6);
            dst[o++] = (uint8_t)(0x80 | (cp & 0x3f));
        } else if (cp < 0x10000) {
            dst[o++] = (uint8_t)(0xe0 | cp >> 12);
            dst[o++] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
            dst[o++] = (uint8_t)(0x80 | (cp & 0x3f));
        } else {
            dst[o++] = (uint8_t)(0xf0 | cp >> 18);
            dst[o++] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
            dst[o++] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
            dst[o++] = (uint8_t)(0x80 | (cp & 0x3f));
        }
    }
    return o;
}
