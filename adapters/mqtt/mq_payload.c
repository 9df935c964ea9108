/* SPDX-License-Identifier: Apache-2.0 */
/* Payload codec of the MQTT adapter: plain text (number, boolean, string), JSON with an RFC 6901
 * pointer (the scanner of mq_jscan.c first, jansson for what it leaves), opaque bytes as hex,
 * base64 or raw. The reverse, for command payloads, is mq_encode.c. Pure: no I/O and no clock.
 * Every input is untrusted; errors are return codes, never aborts. */
#include "mq_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define MQ_NUM_TEXT_MAX 64 /* longer "numbers" are not numbers we can represent */

/* ---- small helpers --------------------------------------------------------------------------- */

static bool is_space(uint8_t c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void trim(const uint8_t **p, size_t *n) {
    while (*n > 0 && is_space((*p)[0])) {
        (*p)++;
        (*n)--;
    }
    while (*n > 0 && is_space((*p)[*n - 1])) {
        (*n)--;
    }
}

/* Strict UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF). */
bool mq_utf8_valid(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        size_t k;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            k = 1;
            cp = c & 0x1fu;
        } else if (c >= 0xe0 && c <= 0xef) {
            k = 2;
            cp = c & 0x0fu;
        } else if (c >= 0xf0 && c <= 0xf4) {
            k = 3;
            cp = c & 0x07u;
        } else {
            return false;
        }
        if (n - i <= k) {
            return false;
        }
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xc0) != 0x80) {
                return false;
            }
            cp = (cp << 6) | (s[i + j] & 0x3fu);
        }
        if ((k == 2 && cp < 0x800) || (k == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff)) {
            return false;
        }
        i += k + 1;
    }
    return true;
}

static bool ieq(const uint8_t *p, size_t n, const char *word) {
    size_t wl = strlen(word);
    if (n != wl) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (c >= 'A' && c <= 'Z') {
            c = (uint8_t)(c - 'A' + 'a');
        }
        if (c != (uint8_t)word[i]) {
            return false;
        }
    }
    return true;
}

/* ---- plain text ------------------------------------------------------------------------------ */

static int text_bool(const uint8_t *p, size_t n, bool strict_words, bool *out) {
    static const char *const yes[] = {"true", "on", "yes", "1"};
    static const char *const no[] = {"false", "off", "no", "0"};
    size_t words = strict_words ? 1 : 4; /* "auto" only takes true/false as booleans */
    for (size_t i = 0; i < words; i++) {
        if (ieq(p, n, yes[i])) {
            *out = true;
            return 0;
        }
        if (ieq(p, n, no[i])) {
            *out = false;
            return 0;
        }
    }
    return -EDOM;
}

/* Copies a candidate number into a NUL-terminated buffer, accepting only the characters of a
 * decimal number (strtod alone would also take "inf", "nan" and hex floats). */
static int num_text(const uint8_t *p, size_t n, char *buf, bool *is_int) {
    if (n == 0 || n >= MQ_NUM_TEXT_MAX) {
        return -EDOM;
    }
    *is_int = true;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (c >= '0' && c <= '9') {
            /* digits */
        } else if (c == '-' || c == '+') {
            if (i != 0 && p[i - 1] != 'e' && p[i - 1] != 'E') {
                return -EDOM;
            }
        } else if (c == '.' || c == 'e' || c == 'E') {
            *is_int = false;
        } else {
            return -EDOM;
        }
        buf[i] = (char)c;
    }
    buf[n] = '\0';
    return 0;
}

static int text_double(const uint8_t *p, size_t n, double *out) {
    char buf[MQ_NUM_TEXT_MAX];
    bool is_int;
    if (num_text(p, n, buf, &is_int) != 0) {
        return -EDOM;
    }
    char *end;
    errno = 0;
    double d = strtod(buf, &end);
    if (end != buf + n || end == buf || !isfinite(d) || errno == ERANGE) {
        return -EDOM;
    }
    *out = d;
    return 0;
}

/* Integers: exact decimal text, or a number with an integral value ("12.0", "1e3"). */
static int text_int(const uint8_t *p, size_t n, bool is_unsigned, struct adapter_value *out) {
    char buf[MQ_NUM_TEXT_MAX];
    bool is_int;
    if (num_text(p, n, buf, &is_int) != 0) {
        return -EDOM;
    }
    char *end;
    errno = 0;
    if (is_int && is_unsigned) {
        if (buf[0] == '-') {
            return -EDOM;
        }
        unsigned long long u = strtoull(buf, &end, 10);
        if (end != buf + n || end == buf || errno == ERANGE) {
            return -EDOM;
        }
        out->type = ADAPTER_V_UINT;
        out->v.u = u;
        return 0;
    }
    if (is_int) {
        long long i = strtoll(buf, &end, 10);
        if (end != buf + n || end == buf || errno == ERANGE) {
            return -EDOM;
        }
        out->type = ADAPTER_V_INT;
        out->v.i = i;
        return 0;
    }
    double d;
    if (text_double(p, n, &d) != 0 || d != floor(d)) {
        return -EDOM;
    }
    if (is_unsigned) {
        if (d < 0 || d >= 18446744073709551616.0) {
            return -EDOM;
        }
        out->type = ADAPTER_V_UINT;
        out->v.u = (uint64_t)d;
        return 0;
    }
    if (d < -9223372036854775808.0 || d >= 9223372036854775808.0) {
        return -EDOM;
    }
    out->type = ADAPTER_V_INT;
    out->v.i = (int64_t)d;
    return 0;
}

static int set_bytes(struct adapter_value *out, uint8_t type, const uint8_t *p, size_t n) {
    if (type == ADAPTER_V_STRING && !mq_utf8_valid(p, n)) {
        return -EDOM;
    }
    out->type = type;
    out->v.bytes.ptr = p;
    out->v.bytes.len = n;
    return 0;
}

static int decode_text(const uint8_t *payload, size_t len, uint8_t want,
                       struct adapter_value *out) {
    const uint8_t *p = payload;
    size_t n = len;
    trim(&p, &n);
    switch (want) {
    case ADAPTER_V_BOOL:
        out->type = ADAPTER_V_BOOL;
        return text_bool(p, n, false, &out->v.b);
    case ADAPTER_V_INT:
        return text_int(p, n, false, out);
    case ADAPTER_V_UINT:
        return text_int(p, n, true, out);
    case ADAPTER_V_DOUBLE:
        out->type = ADAPTER_V_DOUBLE;
        return text_double(p, n, &out->v.f);
    case ADAPTER_V_STRING:
        return set_bytes(out, ADAPTER_V_STRING, payload, len);
    case ADAPTER_V_BYTES:
        return set_bytes(out, ADAPTER_V_BYTES, payload, len);
    case ADAPTER_V_NONE:
        /* As the payload says: boolean word, integer, number, else a string. */
        if (text_bool(p, n, true, &out->v.b) == 0) {
            out->type = ADAPTER_V_BOOL;
            return 0;
        }
        if (text_int(p, n, false, out) == 0) {
            bool is_int;
            char buf[MQ_NUM_TEXT_MAX];
            if (num_text(p, n, buf, &is_int) == 0 && is_int) {
                return 0;
            }
        }
        if (text_double(p, n, &out->v.f) == 0) {
            out->type = ADAPTER_V_DOUBLE;
            return 0;
        }
        if (set_bytes(out, ADAPTER_V_STRING, payload, len) == 0) {
            return 0;
        }
        return set_bytes(out, ADAPTER_V_BYTES, payload, len);
    default:
        return -EDOM;
    }
}

/* ---- hex and base64 ----------------------------------------------------------------------------
 */

static int hex_nibble(uint8_t c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

static int hex_decode(const uint8_t *p, size_t n, struct mq_buf *out) {
    trim(&p, &n);
    if (n % 2 != 0 || mq_buf_reserve(out, n / 2 + 1) != 0) {
        return n % 2 != 0 ? -EBADMSG : -ENOMEM;
    }
    for (size_t i = 0; i < n; i += 2) {
        int hi = hex_nibble(p[i]);
        int lo = hex_nibble(p[i + 1]);
        if (hi < 0 || lo < 0) {
            return -EBADMSG;
        }
        out->ptr[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    out->len = n / 2;
    return 0;
}

static int b64_sextet(uint8_t c) {
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '+' || c == '-') {
        return 62;
    }
    if (c == '/' || c == '_') {
        return 63;
    }
    return -1;
}

/* Standard or URL alphabet; padding optional, but when present it must be right. */
static int b64_decode(const uint8_t *p, size_t n, struct mq_buf *out) {
    trim(&p, &n);
    if (n > 0 && p[n - 1] == '=') {
        /* Padding fills the last quantum: the padded length is a multiple of 4. */
        if (n % 4 != 0) {
            return -EBADMSG;
        }
        n -= p[n - 2] == '=' ? 2 : 1;
    }
    if (n % 4 == 1) {
        return -EBADMSG;
    }
    if (mq_buf_reserve(out, n / 4 * 3 + 3) != 0) {
        return -ENOMEM;
    }
    uint32_t acc = 0;
    size_t bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int s = b64_sextet(p[i]);
        if (s < 0) {
            return -EBADMSG;
        }
        acc = (acc << 6) | (uint32_t)s;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out->ptr[o++] = (uint8_t)(acc >> bits);
        }
    }
    out->len = o;
    return 0;
}

static int decode_opaque(const uint8_t *payload, size_t len, enum mq_format fmt, uint8_t want,
                         struct mq_buf *scratch, struct adapter_value *out) {
    const uint8_t *p = payload;
    size_t n = len;
    if (fmt != MQ_FMT_RAW) {
        int rc = fmt == MQ_FMT_HEX ? hex_decode(payload, len, scratch)
                                   : b64_decode(payload, len, scratch);
        if (rc != 0) {
            return rc;
        }
        p = scratch->ptr;
        n = scratch->len;
    }
    if (want == ADAPTER_V_NONE || want == ADAPTER_V_BYTES) {
        return set_bytes(out, ADAPTER_V_BYTES, p, n);
    }
    if (want == ADAPTER_V_STRING) {
        return set_bytes(out, ADAPTER_V_STRING, p, n);
    }
    return -EDOM;
}

/* ---- JSON -------------------------------------------------------------------------------------
 */

int mq_json_pointer_check(const char *p) {
    if (p == NULL || p[0] == '\0') {
        return 0;
    }
    if (p[0] != '/') {
        return -EINVAL;
    }
    size_t tok = 0;
    for (const char *c = p + 1; *c != '\0'; c++) {
        if (*c == '/') {
            tok = 0;
            continue;
        }
        if (*c == '~' && c[1] != '0' && c[1] != '1') {
            return -EINVAL;
        }
        if (++tok >= MQ_JP_TOKEN_MAX) {
            return -EINVAL;
        }
    }
    return 0;
}

/* Reads the reference token starting at *p (just after a '/'), unescaping ~1 and ~0. */
int mq_jp_token(const char **p, char *tok, size_t *tl) {
    size_t n = 0;
    const char *c = *p;
    for (; *c != '\0' && *c != '/'; c++) {
        char ch = *c;
        if (ch == '~') {
            if (c[1] != '0' && c[1] != '1') {
                return -EINVAL;
            }
            ch = c[1] == '0' ? '~' : '/';
            c++;
        }
        if (n + 1 >= MQ_JP_TOKEN_MAX) {
            return -EINVAL;
        }
        tok[n++] = ch;
    }
    tok[n] = '\0';
    *tl = n;
    *p = c;
    return 0;
}

/* RFC 6901 array index: "0" or digits without a leading zero. "-" names nothing. */
static bool jp_index(const char *tok, size_t tl, size_t *idx) {
    if (tl == 0 || (tl > 1 && tok[0] == '0') || tl > 18) {
        return false;
    }
    size_t v = 0;
    for (size_t i = 0; i < tl; i++) {
        if (tok[i] < '0' || tok[i] > '9') {
            return false;
        }
        v = v * 10 + (size_t)(tok[i] - '0');
    }
    *idx = v;
    return true;
}

static int jp_resolve(json_t *doc, const char *ptr, json_t **out) {
    json_t *cur = doc;
    if (ptr == NULL || ptr[0] == '\0') {
        *out = doc;
        return 0;
    }
    if (ptr[0] != '/') {
        return -EINVAL;
    }
    const char *p = ptr;
    char tok[MQ_JP_TOKEN_MAX];
    while (*p == '/') {
        p++;
        size_t tl;
        if (mq_jp_token(&p, tok, &tl) != 0) {
            return -EINVAL;
        }
        size_t idx;
        if (json_is_object(cur)) {
            cur = json_object_getn(cur, tok, tl);
        } else if (json_is_array(cur) && jp_index(tok, tl, &idx)) {
            cur = json_array_get(cur, idx);
        } else {
            cur = NULL;
        }
        if (cur == NULL) {
            return -ENOENT;
        }
    }
    *out = cur;
    return 0;
}

int mq_json_parse(const uint8_t *payload, size_t len, void **doc) {
    json_error_t err;
    json_t *j = json_loadb((const char *)payload, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    if (j == NULL) {
        return -EBADMSG;
    }
    *doc = j;
    return 0;
}

void mq_json_release(void *doc) {
    json_decref((json_t *)doc);
}

/* A JSON number (integer i, or real d) as the wanted type; both JSON paths end here. */
static int num_value(bool is_int, json_int_t i, double d, uint8_t want, struct adapter_value *out) {
    switch (want) {
    case ADAPTER_V_NONE:
        want = is_int ? ADAPTER_V_INT : ADAPTER_V_DOUBLE;
        break;
    case ADAPTER_V_DOUBLE:
    case ADAPTER_V_INT:
    case ADAPTER_V_UINT:
    case ADAPTER_V_BOOL:
        break;
    default:
        return -EDOM;
    }
    if (want == ADAPTER_V_DOUBLE) {
        out->type = ADAPTER_V_DOUBLE;
        out->v.f = d;
        return 0;
    }
    if (!is_int) {
        /* An integral real ("12.0") is still an integer value. */
        if (d != floor(d) || d < -9223372036854775808.0 || d >= 9223372036854775808.0) {
            return -EDOM;
        }
        i = (json_int_t)d;
    }
    if (want == ADAPTER_V_BOOL) {
        if (i != 0 && i != 1) {
            return -EDOM;
        }
        out->type = ADAPTER_V_BOOL;
        out->v.b = i == 1;
        return 0;
    }
    if (want == ADAPTER_V_UINT) {
        if (i < 0) {
            return -EDOM;
        }
        out->type = ADAPTER_V_UINT;
        out->v.u = (uint64_t)i;
        return 0;
    }
    out->type = ADAPTER_V_INT;
    out->v.i = (int64_t)i;
    return 0;
}

static int json_number(json_t *j, uint8_t want, struct adapter_value *out) {
    bool is_int = json_is_integer(j);
    double d = is_int ? (double)json_integer_value(j) : json_real_value(j);
    return num_value(is_int, is_int ? json_integer_value(j) : 0, d, want, out);
}

/* A JSON string's text as the wanted type (json_value and the scanner share it). */
static int string_value(const uint8_t *s, size_t n, uint8_t want, struct mq_buf *scratch,
                        struct adapter_value *out) {
    if (want == ADAPTER_V_NONE || want == ADAPTER_V_STRING) {
        return set_bytes(out, ADAPTER_V_STRING, s, n);
    }
    if (want == ADAPTER_V_BYTES) {
        /* Opaque data inside JSON travels as base64 (as in SenML JSON). */
        return decode_opaque(s, n, MQ_FMT_BASE64, want, scratch, out) == 0 ? 0 : -EDOM;
    }
    /* Numbers and booleans quoted as strings ("23.5") are common in the wild. */
    return decode_text(s, n, want, out) == 0 ? 0 : -EDOM;
}

static int json_value(json_t *j, uint8_t want, struct mq_buf *scratch, struct adapter_value *out) {
    if (json_is_boolean(j)) {
        if (want != ADAPTER_V_NONE && want != ADAPTER_V_BOOL) {
            return -EDOM;
        }
        out->type = ADAPTER_V_BOOL;
        out->v.b = json_is_true(j);
        return 0;
    }
    if (json_is_number(j)) {
        return json_number(j, want, out);
    }
    if (json_is_string(j)) {
        return string_value((const uint8_t *)json_string_value(j), json_string_length(j), want,
                            scratch, out);
    }
    if ((json_is_object(j) || json_is_array(j)) && want == ADAPTER_V_STRING) {
        /* A structured value bound to a string resource: its compact JSON text. */
        size_t need = json_dumpb(j, NULL, 0, JSON_COMPACT);
        if (need == 0 || mq_buf_reserve(scratch, need + 1) != 0) {
            return -EDOM;
        }
        scratch->len = json_dumpb(j, (char *)scratch->ptr, need, JSON_COMPACT);
        return set_bytes(out, ADAPTER_V_STRING, scratch->ptr, scratch->len);
    }
    return -EDOM;
}

/* The scanner's value as json_value would give it from jansson's document; -EAGAIN for what
 * only the document can give (the JSON text of an object, escaped base64). */
static int jval_value(const struct mq_jval *jv, uint8_t want, struct mq_buf *scratch,
                      struct adapter_value *out) {
    switch (jv->kind) {
    case MQ_J_FALSE:
    case MQ_J_TRUE:
        if (want != ADAPTER_V_NONE && want != ADAPTER_V_BOOL) {
            return -EDOM;
        }
        out->type = ADAPTER_V_BOOL;
        out->v.b = jv->kind == MQ_J_TRUE;
        return 0;
    case MQ_J_INT:
        return num_value(true, (json_int_t)jv->i, (double)jv->i, want, out);
    case MQ_J_REAL:
        return num_value(false, 0, jv->f, want, out);
    case MQ_J_STRUCT:
        return want == ADAPTER_V_STRING ? -EAGAIN : -EDOM;
    case MQ_J_STRING:
        break;
    default:
        return -EDOM; /* null is no value of any type */
    }
    const uint8_t *s = jv->p;
    size_t n = jv->n;
    if (jv->escaped) {
        /* Decoded into scratch, where the base64 decoder would write too: leave that to jansson. */
        if (want == ADAPTER_V_BYTES) {
            return -EAGAIN;
        }
        if (mq_buf_reserve(scratch, n + 1) != 0) {
            return -ENOMEM;
        }
        n = mq_jscan_unescape(s, n, scratch->ptr);
        scratch->ptr[n] = 0;
        scratch->len = n;
        s = scratch->ptr;
    }
    int rc = string_value(s, n, want, scratch, out);
    if (rc == 0 && (out->type == ADAPTER_V_STRING || out->type == ADAPTER_V_BYTES) &&
        out->v.bytes.ptr != scratch->ptr) {
        /* As decode_json does for a document it parsed: the value is returned in scratch. */
        rc = mq_buf_set(scratch, out->v.bytes.ptr, out->v.bytes.len);
        out->v.bytes.ptr = scratch->ptr;
    }
    return rc;
}

int mq_json_scan(const uint8_t *payload, size_t len, const char *json_pointer, uint8_t want,
                 struct mq_buf *scratch, struct adapter_value *out) {
    static const uint8_t empty[1] = {0};
    if ((payload == NULL && len > 0) || scratch == NULL || out == NULL) {
        return -EINVAL;
    }
    struct mq_jval jv;
    int rc = mq_jscan_find(payload != NULL ? payload : empty, len, json_pointer, &jv);
    if (rc == -EAGAIN) {
        return rc;
    }
    memset(out, 0, sizeof(*out));
    out->quality = ADAPTER_Q_GOOD;
    if (rc == 0) {
        rc = jval_value(&jv, want, scratch, out);
    }
    if (rc != 0) {
        memset(out, 0, sizeof(*out));
        out->quality = ADAPTER_Q_BAD_DATA;
    }
    return rc;
}

static int decode_json(const uint8_t *payload, size_t len, const char *pointer, uint8_t want,
                       void *doc, struct mq_buf *scratch, struct adapter_value *out) {
    json_t *own = NULL;
    if (doc == NULL) {
        /* The scanner first: it decides most payloads without jansson's allocations. */
        struct mq_jval jv;
        int rc = mq_jscan_find(payload, len, pointer, &jv);
        if (rc == 0) {
            rc = jval_value(&jv, want, scratch, out);
        }
        if (rc != -EAGAIN) {
            return rc;
        }
        if (mq_json_parse(payload, len, &doc) != 0) {
            return -EBADMSG;
        }
        own = doc;
    }
    json_t *j;
    int rc = jp_resolve((json_t *)doc, pointer, &j);
    if (rc == 0) {
        rc = json_value(j, want, scratch, out);
    }
    if (own != NULL) {
        /* The value must outlive the document we parsed here: move it to scratch. */
        if (rc == 0 && (out->type == ADAPTER_V_STRING || out->type == ADAPTER_V_BYTES) &&
            out->v.bytes.ptr != scratch->ptr) {
            rc = mq_buf_set(scratch, out->v.bytes.ptr, out->v.bytes.len);
            out->v.bytes.ptr = scratch->ptr;
        }
        json_decref(own);
    }
    return rc;
}

int mq_payload_decode(const uint8_t *payload, size_t len, enum mq_format fmt,
                      const char *json_pointer, uint8_t want, void *doc, struct mq_buf *scratch,
                      struct adapter_value *out) {
    if ((payload == NULL && len > 0) || scratch == NULL || out == NULL) {
        return -EINVAL;
    }
    static const uint8_t empty[1] = {0};
    if (payload == NULL) {
        payload = empty;
    }
    memset(out, 0, sizeof(*out));
    out->quality = ADAPTER_Q_GOOD;
    int rc;
    switch (fmt) {
    case MQ_FMT_TEXT:
        rc = decode_text(payload, len, want, out);
        break;
    case MQ_FMT_JSON:
        rc = decode_json(payload, len, json_pointer, want, doc, scratch, out);
        break;
    case MQ_FMT_HEX:
    case MQ_FMT_BASE64:
    case MQ_FMT_RAW:
        rc = decode_opaque(payload, len, fmt, want, scratch, out);
        break;
    default:
        rc = -EINVAL;
        break;
    }
    if (rc != 0) {
        memset(out, 0, sizeof(*out));
        out->quality = ADAPTER_Q_BAD_DATA;
    }
    return rc;
}
