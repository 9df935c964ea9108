/* SPDX-License-Identifier: Apache-2.0 */
/* LwM2M content formats: a streaming encoder the engine feeds record by record for one request
 * path, a decoder that turns a payload into records, format negotiation helpers (can this format
 * carry this request, which format to use without Accept) and the CoRE link-format writer.
 * Pure codecs: no I/O, no clock; the only allocations are jansson's/libcbor's inside one call. */
#ifndef LWM2M_FORMAT_H
#define LWM2M_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lwm2m/value.h"

/* CoAP Content-Format numbers (LWM2M-FACTS.md). The legacy numbers are accepted on input only
 * (lwm2m_ct_normalize maps them); the encoder never writes them. */
enum lwm2m_ct {
    LWM2M_CT_TEXT = 0,
    LWM2M_CT_LINK = 40,
    LWM2M_CT_OPAQUE = 42,
    LWM2M_CT_CBOR = 60,
    LWM2M_CT_SENML_JSON = 110,
    LWM2M_CT_SENML_CBOR = 112,
    LWM2M_CT_LEGACY_TEXT = 1541,
    LWM2M_CT_LEGACY_TLV = 1542,
    LWM2M_CT_LEGACY_JSON = 1543,
    LWM2M_CT_LEGACY_OPAQUE = 1544,
    LWM2M_CT_TLV = 11542,
    LWM2M_CT_LWM2M_JSON = 11543,
    LWM2M_CT_LWM2M_CBOR = 11544,
};

/* Maps a legacy number to the current one; returns ct unchanged when it is one of ours, or
 * LWM2M_ERR_UNSUPPORTED for a number this engine does not implement (the caller answers 4.15 for
 * a Content-Format, 4.06 for an Accept). */
int lwm2m_ct_normalize(unsigned ct);
/* A short name ("tlv", "senml+cbor", ...) for logs; "unknown" otherwise. */
const char *lwm2m_ct_name(unsigned ct);

/* One value at one path. time is SenML/LwM2M-JSON time in seconds since the epoch (bt + t once
 * decoded; per RFC 8428 values below 2^28 are relative to "now", which the caller resolves);
 * formats without time (TLV, text, opaque, CBOR, LwM2M CBOR) ignore it on output. A record whose
 * value.type is LWM2M_TYPE_NONE names a path without a value (Read-Composite lists). */
struct lwm2m_record {
    struct lwm2m_path path;
    struct lwm2m_value value;
    double time;
    bool has_time;
};

/* ---- Negotiation ---------------------------------------------------------------------- */

/* True when ct can carry a Read response to / a Write payload for req: text, opaque and CBOR
 * only a single value (a resource instance, or a single-instance resource: multiple = false),
 * opaque only for an Opaque resource and text/CBOR not for an executable (type NONE); TLV and
 * LwM2M JSON any object, instance or resource; SenML and LwM2M CBOR anything including the
 * root of a composite request. Otherwise the engine answers 4.06 (Read) or 4.15 (Write).
 * type is the resource's type when req is a resource or resource instance, else NONE. */
bool lwm2m_fmt_supports(unsigned ct, const struct lwm2m_path *req, bool multiple,
                        enum lwm2m_type type);

/* The format to use when a Read/Observe carries no Accept option. The client chooses
 * (LwM2M 1.0.2 TS §8.1 "the LwM2M Client will use its own preferred data format"):
 * - a single value: opaque for an Opaque resource, else plain text (mandatory in every version:
 *   1.0.2 §6.4, 1.1.1 TS Core §7.4 "MUST support plain text, opaque, and CoRE Link");
 * - several values: TLV for 1.0 (1.0.2 §6.4: "The LwM2M Client MUST support the TLV data
 *   format"); SenML CBOR for 1.1 and 1.2 (1.1.1 TS Core §7.4: "SHOULD support at least one of
 *   SenML CBOR or SenML JSON ... LwM2M Clients supporting LwM2M TS 1.1 or newer SHOULD NOT use
 *   the legacy TLV or JSON formats"). 1.2 adds LwM2M CBOR (§7.4.7), which we accept on Accept but
 *   do not pick by default: every 1.1+ server reads SenML CBOR.
 * version_minor is the x of LwM2M 1.x (0, 1 or 2). */
unsigned lwm2m_fmt_default(unsigned version_minor, const struct lwm2m_path *req, bool multiple,
                           enum lwm2m_type type);

/* ---- Encoding ------------------------------------------------------------------------- */

/* Encoder state; allocate it anywhere (stack is fine) and treat the fields as private.
 * Output goes to the caller's buffer, borrowed until lwm2m_encoder_finish. */
struct lwm2m_encoder {
    const void *ops;
    uint8_t *buf;
    size_t cap;
    size_t len;
    size_t count; /* records added */
    struct lwm2m_path req;
    struct lwm2m_path prev;
    size_t open_at[LWM2M_PATH_MAX_DEPTH]; /* TLV: offsets of containers still open */
    uint8_t open_lvl[LWM2M_PATH_MAX_DEPTH];
    uint8_t nopen;
    int err; /* first error; sticky */
    uint16_t ct;
    /* Gateway mode: a device prefix ("/dev1", borrowed) that SenML and LwM2M JSON names start
     * with; NULL after lwm2m_encoder_init. May change between records when req is the root
     * (Read-Composite over several devices). The other formats carry no names. */
    const char *prefix;
};

/* Starts encoding a response for request path req (depth 0 for Read-Composite, Observe-Composite
 * and Send: names are then absolute). Returns LWM2M_ERR_UNSUPPORTED for a format we cannot
 * encode (link format has its own writer below). */
int lwm2m_encoder_init(struct lwm2m_encoder *e, unsigned ct, const struct lwm2m_path *req,
                       uint8_t *buf, size_t cap);
/* Adds one record. Its path must lie under req; TLV and LwM2M CBOR need records in
 * lwm2m_path_cmp order (the data model walks them so). Errors are sticky:
 * LWM2M_ERR_NOSPACE (the buffer is full: retry the whole response with a bigger buffer and
 * Block2), LWM2M_ERR_INVALID (a second value for text/opaque/CBOR, a path outside req, records
 * out of order, an Opaque value for a format or type that cannot carry it, a non-finite float in
 * text/JSON). Borrowed bytes in r are copied before it returns. */
int lwm2m_encoder_add(struct lwm2m_encoder *e, const struct lwm2m_record *r);
/* Shorthand for lwm2m_encoder_add without a time stamp. */
int lwm2m_encoder_add_value(struct lwm2m_encoder *e, const struct lwm2m_path *p,
                            const struct lwm2m_value *v);
/* Closes containers and arrays; *len (optional) is the payload length. An empty read of an
 * object or instance gives an empty payload (TLV) or an empty list/map. */
int lwm2m_encoder_finish(struct lwm2m_encoder *e, size_t *len);

/* ---- Decoding ------------------------------------------------------------------------- */

/* Resource type of path p as the data model declares it, or LWM2M_TYPE_NONE when unknown.
 * Only TLV needs it to read a value at all (the wire carries no type); for the other formats
 * the decoder uses it to convert the format's natural type (a SenML "v" number is Integer or
 * Float; a text payload is a String) to the declared one, failing with LWM2M_ERR_FORMAT when
 * that loses information. */
typedef enum lwm2m_type (*lwm2m_type_fn)(void *ctx, const struct lwm2m_path *p);
/* Receives one decoded record; a non-zero return stops decoding and is returned. */
typedef int (*lwm2m_record_fn)(void *ctx, const struct lwm2m_record *r);

struct lwm2m_decode_cfg {
    unsigned ct;           /* legacy numbers accepted */
    struct lwm2m_path req; /* the request path; records must lie under it */
    lwm2m_type_fn type_of; /* optional, see above */
    void *type_ctx;
    uint8_t *scratch;   /* optional: where decoded strings/bytes are kept when they cannot */
    size_t scratch_cap; /* be borrowed from the payload (JSON formats, base64 in text) */
    /* Optional, SenML JSON/CBOR: called for a name whose first segment is not a number (a
     * gateway device prefix s[0..n), "/dev1/3303/0/5700"), just before that record (with the
     * rest of the name as its path) goes to the record callback; returns >= 0 to accept it or a
     * negative error that stops decoding. Without it such a name is LWM2M_ERR_FORMAT. */
    int (*prefix_of)(void *ctx, const char *s, size_t n);
    void *prefix_ctx;
};

/* Decodes payload into records, in payload order. String, Opaque and Corelnk bytes in the
 * records point into the payload (TLV, text, opaque, CBOR, SenML CBOR, LwM2M CBOR) or into
 * cfg->scratch (SenML JSON, LwM2M JSON, base64 text): valid while both are.
 * Without type_of (or when it answers NONE), TLV values come out as Opaque raw bytes: convert
 * them with lwm2m_tlv_value once the type is known; text comes out as a String (lwm2m_text_value
 * converts).
 * TLV and the request path: under /O the payload must hold instance TLVs; under /O/I resource
 * TLVs (an instance wrapper repeating I is tolerated). For a TLV Create that carries bare
 * resources, pick the new instance id first and decode with req = /O/new.
 * Returns 0, LWM2M_ERR_FORMAT (malformed, a path outside req, an id above 65534, a value that
 * does not fit the declared type), LWM2M_ERR_NOSPACE (scratch too small: the engine answers
 * 4.13), LWM2M_ERR_UNSUPPORTED (format), or the callback's non-zero result. */
int lwm2m_decode(const struct lwm2m_decode_cfg *cfg, const uint8_t *payload, size_t len,
                 lwm2m_record_fn fn, void *ctx);
/* Same into an array; LWM2M_ERR_NOSPACE when more than max records. */
int lwm2m_decode_all(const struct lwm2m_decode_cfg *cfg, const uint8_t *payload, size_t len,
                     struct lwm2m_record *out, size_t max, size_t *count);
/* Decodes the path list of a Read-Composite / Observe-Composite request (SenML JSON or CBOR
 * records with names only: bn/n). A record with a value is LWM2M_ERR_FORMAT. */
int lwm2m_decode_paths(unsigned ct, const uint8_t *payload, size_t len, struct lwm2m_path *out,
                       size_t max, size_t *count);
/* Same with device prefixes resolved through cfg->prefix_of (cfg->ct is the format; prefix_ctx
 * is passed on): devs[i] gets 1 + what prefix_of returned for path i (0 for a plain path). */
int lwm2m_decode_paths_gw(const struct lwm2m_decode_cfg *cfg, const uint8_t *payload, size_t len,
                          struct lwm2m_path *out, uint16_t *devs, size_t max, size_t *count);

/* Helpers for values decoded without a type: a TLV value's bytes, or a text payload, read as
 * type t. Returns 0 or LWM2M_ERR_FORMAT. Bytes stay borrowed from p. lwm2m_text_value cannot
 * decode base64 (Opaque) without scratch: it returns LWM2M_ERR_FORMAT for OPAQUE. */
int lwm2m_tlv_value(const uint8_t *p, size_t n, enum lwm2m_type t, struct lwm2m_value *out);
int lwm2m_text_value(const uint8_t *p, size_t n, enum lwm2m_type t, struct lwm2m_value *out);

/* ---- CoRE link format (RFC 6690) for Discover and Register ----------------------------- */

struct lwm2m_link_writer {
    char *buf; /* borrowed until lwm2m_link_finish */
    size_t cap;
    size_t len;
    size_t links;
    int err; /* sticky */
};

void lwm2m_link_init(struct lwm2m_link_writer *w, char *buf, size_t cap);
/* Starts a link "<prefix/O/I/R/RI>" (prefix like "/dev1" in gateway mode, or NULL; the root
 * path gives "</>"), with the "," separator from the previous link. */
int lwm2m_link_add(struct lwm2m_link_writer *w, const char *prefix, const struct lwm2m_path *p);
/* Starts a link with a literal URI reference (written between < and > as given). */
int lwm2m_link_add_uri(struct lwm2m_link_writer *w, const char *uri);
/* Attributes of the current link. lwm2m_link_attr writes name=value, quoting the value (and
 * escaping '"' and '\\') only when it is not an RFC 6690 ptoken; lwm2m_link_attr_quoted always
 * quotes (rt="oma.lwm2m"); a NULL value writes the bare name (";obs"). */
int lwm2m_link_attr(struct lwm2m_link_writer *w, const char *name, const char *value);
int lwm2m_link_attr_quoted(struct lwm2m_link_writer *w, const char *name, const char *value);
int lwm2m_link_attr_int(struct lwm2m_link_writer *w, const char *name, int64_t v);
int lwm2m_link_attr_float(struct lwm2m_link_writer *w, const char *name, double v);
/* NUL-terminates (the NUL is not counted in *len) and returns the first error if any. */
int lwm2m_link_finish(struct lwm2m_link_writer *w, size_t *len);

#define LWM2M_LINK_MAX_ATTRS 16

/* One parsed link; every pointer borrows from the parsed text. Attribute values are raw: the
 * quotes are removed but backslash escapes are left in place. */
struct lwm2m_link_attr {
    const char *name, *value; /* value NULL for a bare name */
    size_t name_len, value_len;
    bool quoted;
};
struct lwm2m_link {
    const char *uri;
    size_t uri_len;
    size_t nattrs;
    struct lwm2m_link_attr attrs[LWM2M_LINK_MAX_ATTRS];
};
typedef int (*lwm2m_link_fn)(void *ctx, const struct lwm2m_link *l);
/* Tolerant parser (spaces and newlines around separators, quoted values with ',' or ';'):
 * calls fn for each link. Returns 0, LWM2M_ERR_FORMAT, or fn's non-zero result. */
int lwm2m_link_parse(const char *s, size_t n, lwm2m_link_fn fn, void *ctx);

#endif /* LWM2M_FORMAT_H */
