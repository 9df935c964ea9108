/* SPDX-License-Identifier: Apache-2.0 */
/* Shared internals of the content-format codecs (fmt_*.c): the per-format vtable, the decoder
 * context, buffer writing, number text, base64, a CBOR token reader over libcbor's streaming
 * decoder and CBOR value writers, SenML naming. Not a public header. */
#ifndef LWM2M_FMT_INTERNAL_H
#define LWM2M_FMT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lwm2m/error.h"
#include "lwm2m/format.h"
#include "lwm2m/value.h"

/* Decoding context handed to a format's decode function. */
struct lwm2m_dec {
    const struct lwm2m_decode_cfg *cfg;
    lwm2m_record_fn fn;
    void *ctx;
    size_t scratch_used;
};

/* One format. enc_add/enc_finish may be NULL for decode-only formats and vice versa. */
struct lwm2m_fmt_ops {
    uint16_t ct;
    int (*enc_add)(struct lwm2m_encoder *e, const struct lwm2m_record *r);
    int (*enc_finish)(struct lwm2m_encoder *e);
    int (*decode)(struct lwm2m_dec *d, const uint8_t *p, size_t n);
};

extern const struct lwm2m_fmt_ops lwm2m_fmt_text;
extern const struct lwm2m_fmt_ops lwm2m_fmt_opaque;
extern const struct lwm2m_fmt_ops lwm2m_fmt_cbor;
extern const struct lwm2m_fmt_ops lwm2m_fmt_tlv;
extern const struct lwm2m_fmt_ops lwm2m_fmt_senml_json;
extern const struct lwm2m_fmt_ops lwm2m_fmt_senml_cbor;
extern const struct lwm2m_fmt_ops lwm2m_fmt_lwm2m_json;
extern const struct lwm2m_fmt_ops lwm2m_fmt_lwm2m_cbor;

/* ---- decoder side ---- */

/* Declared type of p (NONE without a type_of callback). */
enum lwm2m_type lwm2m_dec_type(struct lwm2m_dec *d, const struct lwm2m_path *p);
/* Checks r against the request path and id limits, converts its value to the declared type
 * and hands it to the callback. */
int lwm2m_dec_emit(struct lwm2m_dec *d, struct lwm2m_record *r);
/* n bytes of the caller's scratch, or NULL when it is exhausted (LWM2M_ERR_NOSPACE). */
uint8_t *lwm2m_dec_scratch(struct lwm2m_dec *d, size_t n);
/* Decodes base64 or base64url (padding optional) into scratch. */
int lwm2m_dec_base64(struct lwm2m_dec *d, const char *s, size_t n, struct lwm2m_bytes *out);

/* ---- encoder side ---- */

/* Appends n bytes; sets the sticky LWM2M_ERR_NOSPACE when they do not fit. */
int lwm2m_enc_put(struct lwm2m_encoder *e, const void *p, size_t n);
/* Records the first error and returns it (or the earlier one). */
int lwm2m_enc_fail(struct lwm2m_encoder *e, int err);
/* The record must lie under the request path (LWM2M_ERR_INVALID otherwise). */
int lwm2m_enc_check_path(struct lwm2m_encoder *e, const struct lwm2m_path *p);

/* ---- text ---- */

/* Shortest "%.*g" text that reads back as exactly v (finite v only). Returns the length. */
int lwm2m_fmt_double(double v, char *out, size_t cap);
/* Text of a single value as in the plain-text format (opaque excluded). Returns the length,
 * LWM2M_ERR_INVALID or LWM2M_ERR_NOSPACE. */
int lwm2m_fmt_scalar_text(const struct lwm2m_value *v, char *out, size_t cap);

/* ---- base64 (RFC 4648) ---- */
size_t lwm2m_b64_encoded_len(size_t n, bool url);
/* Writes the encoding (no NUL). url: base64url alphabet without padding (SenML "vd"). */
size_t lwm2m_b64_encode(const uint8_t *in, size_t n, char *out, bool url);
/* Accepts both alphabets and optional padding; *outlen gets the byte count. out must hold
 * n * 3 / 4 + 3 bytes. Returns 0 or LWM2M_ERR_FORMAT. */
int lwm2m_b64_decode(const char *in, size_t n, uint8_t *out, size_t *outlen);

/* ---- CBOR ---- */

enum lwm2m_cbor_kind {
    LWM2M_CBOR_UINT,
    LWM2M_CBOR_NEGINT, /* value is -1 - u */
    LWM2M_CBOR_BYTES,
    LWM2M_CBOR_TEXT,
    LWM2M_CBOR_ARRAY, /* u = count, or indefinite */
    LWM2M_CBOR_MAP,
    LWM2M_CBOR_TAG,
    LWM2M_CBOR_FLOAT,
    LWM2M_CBOR_BOOL,
    LWM2M_CBOR_NULL,
    LWM2M_CBOR_UNDEF,
    LWM2M_CBOR_BREAK,
    LWM2M_CBOR_INDEF_STRING, /* indefinite byte/text strings: not accepted by our formats */
};

struct lwm2m_cbor_tok {
    enum lwm2m_cbor_kind kind;
    bool indef;
    bool b;
    uint64_t u;
    double f;
    const uint8_t *ptr; /* into the payload */
    size_t len;
};

struct lwm2m_cbor_rd {
    const uint8_t *p;
    size_t n;
    size_t off;
};

/* Reads the next data item head (strings whole). LWM2M_ERR_FORMAT on truncation or error. */
int lwm2m_cbor_next(struct lwm2m_cbor_rd *rd, struct lwm2m_cbor_tok *t);
/* Turns a scalar token (reading the tagged item after a tag 1) into its natural LwM2M value:
 * uint -> Integer (Unsigned above INT64_MAX), negint -> Integer, float -> Float, bool, text ->
 * String, bytes -> Opaque, tag 1 + number -> Time. Anything else: LWM2M_ERR_FORMAT. */
int lwm2m_cbor_value(struct lwm2m_cbor_rd *rd, const struct lwm2m_cbor_tok *t,
                     struct lwm2m_value *out);
/* Writers into the encoder buffer (sticky NOSPACE). */
int lwm2m_cbor_put_uint(struct lwm2m_encoder *e, uint64_t u);
int lwm2m_cbor_put_int(struct lwm2m_encoder *e, int64_t i);
int lwm2m_cbor_put_text(struct lwm2m_encoder *e, const void *s, size_t n);
int lwm2m_cbor_put_head(struct lwm2m_encoder *e, uint8_t byte); /* 0xBF, 0xFF, 0x9F ... */
/* A value as CBOR (60) and LwM2M CBOR write it: numbers as ints or the shortest exact float,
 * Time as tag 1 + int, Objlnk as "O:I", strings as text, Opaque as bytes. */
int lwm2m_cbor_put_value(struct lwm2m_encoder *e, const struct lwm2m_value *v);
int lwm2m_cbor_put_float(struct lwm2m_encoder *e, double f);

/* ---- SenML / LwM2M JSON naming ---- */

/* Formats ids[from..len) of p as "a/b/c" (no leading '/'). Returns the length. */
size_t lwm2m_path_tail(const struct lwm2m_path *p, uint8_t from, char *out);
/* Joins base name and name and parses the result as a path (one trailing '/' allowed when the
 * name is empty). */
int lwm2m_senml_path(const char *bn, size_t bn_len, const char *n, size_t n_len,
                     struct lwm2m_path *out);

#define LWM2M_SENML_NAME_MAX 64 /* longer names cannot be LwM2M paths */

/* Names of one encoded record: bn on the first record (request path, with a trailing '/' when
 * the record lies deeper), n relative to it; with a root request only an absolute n. */
struct lwm2m_senml_names {
    char bn[64], n[64]; /* a path (24) after a gateway prefix (at most 25) */
    size_t bn_len, n_len;
    bool has_bn, has_n;
};
void lwm2m_senml_names(const struct lwm2m_encoder *e, const struct lwm2m_path *p,
                       struct lwm2m_senml_names *out);

/* Decoding state shared by SenML JSON/CBOR and LwM2M JSON: the base fields carry over from one
 * record to the next (RFC 8428 §4.1), the record fields do not. */
struct lwm2m_senml_base {
    char bn[LWM2M_SENML_NAME_MAX];
    size_t bn_len;
    double bt;
    bool has_bt;
};
struct lwm2m_senml_rec {
    const char *n;
    size_t n_len;
    double t;
    bool has_t;
    unsigned nvals; /* value fields seen: more than one is malformed */
    struct lwm2m_value v;
};
int lwm2m_senml_set_bn(struct lwm2m_senml_base *b, const char *s, size_t n);
int lwm2m_senml_emit(struct lwm2m_dec *d, const struct lwm2m_senml_base *b,
                     struct lwm2m_senml_rec *r);
/* Copies bytes into scratch (JSON strings die with the parse tree). */
int lwm2m_dec_copy(struct lwm2m_dec *d, const void *p, size_t n, struct lwm2m_bytes *out);
/* Digits "%.*g" needs to read v back exactly (1..17). */
int lwm2m_double_precision(double v);

#endif /* LWM2M_FMT_INTERNAL_H */
