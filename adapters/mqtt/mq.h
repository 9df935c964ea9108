/* SPDX-License-Identifier: Apache-2.0 */
/* The MQTT adapter's public face: the plain configuration structs the YAML loader fills (one
 * broker connection, configured devices, discovery rules, their point bindings), the adapter_ops
 * that run it on the libevent loop, and the pure helpers (topic templates, payload codec) that
 * the config checker, tests and fuzzers call directly. */
#ifndef GW_MQ_H
#define GW_MQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "adapter.h"

/* ---- configuration ------------------------------------------------------------------------ */
/* Every string in these structs is borrowed until create returns (the adapter copies it); the
 * user pointers are stored as they are and never dereferenced. */

enum mq_protocol {
    MQ_PROTO_V311 = 0, /* MQTT 3.1.1 */
    MQ_PROTO_V5,       /* MQTT 5 */
};

/* A secret is taken from the first of these that is set: the literal value, the environment
 * variable named by env, or the first line of the file at file (trailing CR/LF removed). */
struct mq_secret_cfg {
    const char *value;
    const char *env;
    const char *file;
};

struct mq_conn_cfg {
    const char *name;      /* adapter name, for logs and state details */
    const char *host;      /* broker host name or address; NULL means 127.0.0.1 */
    uint16_t port;         /* 0 means 1883 (8883 when TLS or PSK is configured) */
    const char *client_id; /* required when clean_session is false; NULL = broker-assigned */
    enum mq_protocol protocol;
    bool clean_session; /* false: persistent session, QoS 1/2 messages queued while away */
    /* MQTT 5 with clean_session false: the Session Expiry Interval sent in CONNECT, seconds
     * (0xFFFFFFFF: never). Without it an MQTT 5 broker ends the session when the connection
     * closes. Unset means 3600; 0 sends no property (the session ends with the connection).
     * Ignored for MQTT 3.1.1, whose sessions last until the broker expires them. */
    bool session_expiry_set;
    uint32_t session_expiry_s;
    uint16_t keepalive_s; /* 0 means 30 */
    const char *username; /* NULL: no username/password */
    struct mq_secret_cfg password;
    /* TLS with a CA (file or directory) and optionally a client certificate and key. */
    const char *tls_ca_file;
    const char *tls_ca_path;
    const char *tls_cert_file;
    const char *tls_key_file;
    bool tls_insecure; /* skip the host name check (the chain is still verified) */
    /* TLS-PSK: identity and key (hex). Exclusive with the certificate options. */
    const char *psk_identity;
    struct mq_secret_cfg psk_key;
    uint32_t backoff_min_ms;   /* first reconnect delay; 0 means 500 */
    uint32_t backoff_max_ms;   /* the delay doubles up to this; 0 means 30000 */
    uint32_t write_timeout_ms; /* a QoS 1/2 command without PUBACK/PUBCOMP by then fails; 0=5000 */
    uint32_t connect_timeout_ms; /* no CONNACK by then: drop and back off; 0 means 10000 */
};

/* How a message payload (or a command payload) is represented on the wire. */
enum mq_format {
    MQ_FMT_TEXT = 0, /* plain text: a number, a boolean (true/false/on/off/yes/no/1/0), a string */
    MQ_FMT_JSON,     /* a JSON document; the value is at json_pointer (RFC 6901) */
    MQ_FMT_HEX,      /* opaque bytes as hex digits */
    MQ_FMT_BASE64,   /* opaque bytes as base64 (standard or URL alphabet, padding optional) */
    MQ_FMT_RAW,      /* opaque bytes as they are */
};

/* How one point is read from and (optionally) written to the broker. */
struct mq_point_cfg {
    const char *name; /* for logs and tools */
    /* Read side. topic is a template: "{device}" stands for the device name (inside a level or
     * as a whole level) and the MQTT wildcards '+' and '#' may appear as whole levels. NULL =
     * write-only point. Several points may share a topic: one message feeds all of them. */
    const char *topic;
    enum mq_format format;
    const char *json_pointer; /* MQ_FMT_JSON: "" is the whole document; NULL means "" */
    uint8_t type;             /* enum adapter_vtype wanted; ADAPTER_V_NONE = as the payload says */
    uint8_t qos;              /* subscription QoS, 0..2 */
    /* Write side (LwM2M Write/Execute). cmd_topic is a template with {device}, no wildcards;
     * NULL = not writable. */
    const char *cmd_topic;
    enum mq_format cmd_format;    /* TEXT, JSON (wrapped at cmd_json_pointer), HEX, BASE64, RAW */
    const char *cmd_json_pointer; /* "/a/b" gives {"a":{"b":value}}; NULL or "" = bare value */
    const char *cmd_true;         /* TEXT payload of a true boolean; NULL means "true" */
    const char *cmd_false;        /* NULL means "false" */
    uint8_t cmd_qos;              /* 0..2; at 1 and 2 the write completes on PUBACK/PUBCOMP */
    bool cmd_retain;
    void *user; /* the bridge's handle for configured devices; see mq_adapter_attach for others */
};

/* A device named in the configuration. */
struct mq_device_cfg {
    const char *name; /* replaces {device}; must not contain '/', '+', '#' */
    const struct mq_point_cfg *points;
    size_t n_points;
    void *user; /* scope for on_state */
};

/* A discovery rule: every new {device} seen on topic becomes a device with these points. */
struct mq_discovery_cfg {
    /* Filter with {device} (or, without it, the first '+' level is the device name), e.g.
     * "sensors/{device}/state". A message with an empty payload here marks the device gone. */
    const char *topic;
    /* Optional template with {device}: a payload equal to offline marks the device gone, one
     * equal to online discovers it (when not known yet). */
    const char *availability_topic;
    const char *online;   /* NULL means "online" */
    const char *offline;  /* NULL means "offline" */
    uint32_t max_devices; /* devices beyond this are ignored (counted and logged once); 0 = 1000 */
    const struct mq_point_cfg *points; /* the profile, instantiated for each device */
    size_t n_points;
    uint8_t qos; /* QoS of the discovery and availability subscriptions */
};

/* What struct adapter_ops.create takes for kind "mqtt". */
struct mq_adapter_cfg {
    struct mq_conn_cfg conn;
    const struct mq_device_cfg *devices;
    size_t n_devices;
    const struct mq_discovery_cfg *discovery;
    size_t n_discovery;
};

/* The MQTT adapter kind. Values and states are delivered through the sink:
 *  - on_value(point_user, v): once per decoded value; a payload that cannot be decoded, or a
 *    value of the wrong type, gives quality BAD_DATA for that point only.
 *  - on_state(NULL, UP/DOWN): the broker connection, on transitions only; UP once the broker
 *    has acknowledged every subscription (values flow from then on). on_state(scope, DOWN,
 *    "gone") when an attached discovered device is marked gone: it is forgotten, and if it comes
 *    back it is discovered again.
 *  - on_discovered(device, topic): a new device; the bridge calls mq_adapter_attach inside the
 *    callback (or later) to give it a scope and per-point user pointers.
 *  - on_write_done(req): QoS 0 once the PUBLISH is handed to the socket, QoS 1 on PUBACK, QoS 2 on
 *    PUBCOMP; an MQTT 5 reason code >= 0x80 gives ADAPTER_WRITE_EXCEPTION with .exception =
 *    the reason code; no acknowledgement within write_timeout_ms gives ADAPTER_WRITE_TIMEOUT; a
 *    write while the broker is unreachable is accepted and completes ADAPTER_WRITE_DISCONNECTED.
 *    The completion never runs inside write_point (always a later loop pass). */
extern const struct adapter_ops mq_adapter_ops;

/* Checks a configuration without starting anything: templates, filters, JSON pointers, QoS,
 * TLS/PSK exclusivity. Returns 0 or -EINVAL with a short reason in *why (static string). */
int mq_adapter_cfg_check(const struct mq_adapter_cfg *cfg, const char **why);

/* Gives a discovered device its scope (for on_state) and the user pointer of each profile point
 * (point_users[i] for discovery->points[i]; n must equal n_points). Until attached, values of the
 * device are dropped (counted as unattached). Must be called on the loop thread; may be called
 * from inside on_discovered. Returns 0, -ENOENT (unknown device) or -EINVAL. */
int mq_adapter_attach(struct adapter *a, const char *device, void *scope, void *const *point_users,
                      size_t n);

/* Counters, readable on the loop thread (for /metrics and the benches). */
struct mq_stats {
    uint64_t messages;     /* PUBLISH packets received */
    uint64_t values;       /* values delivered to on_value */
    uint64_t malformed;    /* payloads that could not be decoded */
    uint64_t type_errors;  /* decoded, but not of the point's type */
    uint64_t unmatched;    /* messages no binding wanted */
    uint64_t unattached;   /* values of discovered devices the bridge has not attached */
    uint64_t discovered;   /* devices created by discovery */
    uint64_t gone;         /* discovered devices marked gone */
    uint64_t over_limit;   /* messages of devices refused because max_devices was reached */
    uint64_t connects;     /* successful CONNACKs */
    uint64_t writes;       /* commands published */
    uint64_t write_errors; /* commands that failed (timeout, reason code, disconnect) */
    uint64_t read_events;  /* socket-readable wake-ups handled (messages / read_events = batch) */
};
int mq_adapter_stats(struct adapter *a, struct mq_stats *out);

/* ---- topics (pure, mq_topic.c) -------------------------------------------------------------- */

/* 0 when filter is a valid subscription filter ('+' and '#' only as whole levels, '#' last),
 * else -EINVAL. */
int mq_filter_check(const char *filter);
/* 0 when topic is a valid topic name to publish to (non-empty, no wildcards), else -EINVAL. */
int mq_topic_check(const char *topic);
/* true when topic matches filter by the MQTT rules ('+' one level, '#' the rest including the
 * parent level, topics starting with '$' never matched by a leading wildcard). */
bool mq_topic_match(const char *filter, const char *topic);
/* 0 when name can stand for {device}: non-empty, no '/', '+', '#', no NUL, <= 256 bytes. */
int mq_device_name_check(const char *name);
/* 0 when tmpl is a valid template: the filter with {device} replaced by '+' would be valid and
 * each {device} lies within one level. */
int mq_template_check(const char *tmpl);
/* Writes tmpl with every {device} replaced by device into out (NUL-terminated). Returns the
 * length, or -ENOSPC when it does not fit in cap. */
int mq_template_expand(const char *tmpl, const char *device, char *out, size_t cap);
/* The subscription filter of a template: the level holding {device} becomes '+'. Returns the
 * length or -ENOSPC. */
int mq_template_filter(const char *tmpl, char *out, size_t cap);
/* Matches topic against tmpl (a template as above). On a match returns true and, when the
 * template has {device}, points *dev and *dev_len into topic at the device name (the same text at
 * every occurrence); without {device} *dev is NULL. */
bool mq_template_match(const char *tmpl, const char *topic, const char **dev, size_t *dev_len);

/* A template prepared once (at configuration time) for matching every incoming message: the
 * common shapes, a literal topic or literal{device}literal, match with two memcmp instead of a
 * level-by-level walk; any other shape (wildcards, {device} twice) keeps mq_template_match. */
enum mq_tmpl_kind {
    MQ_TMPL_NONE = 0, /* no template: matches nothing */
    MQ_TMPL_GENERIC,  /* mq_template_match */
    MQ_TMPL_EXACT,    /* no {device}, no wildcard */
    MQ_TMPL_DEVICE,   /* one {device}, no wildcard */
};
struct mq_tmpl {
    const char *src; /* the template, borrowed: it must outlive this */
    enum mq_tmpl_kind kind;
    size_t len; /* strlen(src) */
    size_t pre; /* MQ_TMPL_DEVICE: bytes before {device} ... */
    size_t suf; /* ... and after it */
};
/* Prepares tmpl (NULL gives MQ_TMPL_NONE). */
void mq_template_compile(const char *tmpl, struct mq_tmpl *out);
/* mq_template_match(t->src, topic, dev, dev_len), with topic_len = strlen(topic). */
bool mq_tmpl_match(const struct mq_tmpl *t, const char *topic, size_t topic_len, const char **dev,
                   size_t *dev_len);

/* ---- payloads (pure, mq_payload.c) ---------------------------------------------------------- */

/* Scratch memory for decoded bytes (hex/base64) and encoded commands. Owned by the caller, who
 * frees ptr with free(); the functions below grow it as needed. */
struct mq_buf {
    uint8_t *ptr;
    size_t len;
    size_t cap;
};
void mq_buf_free(struct mq_buf *b);

/* 0 when p is a syntactically valid JSON pointer ("" or "/..." with only ~0 ~1 escapes). */
int mq_json_pointer_check(const char *p);

/* Decodes one value from a payload. doc is the payload already parsed as JSON (MQ_FMT_JSON; NULL
 * to have it parsed here), so that one message feeding several points is parsed once; it is a
 * json_t * but typed void * to keep jansson out of this header. Strings and bytes in *out point
 * into payload, doc or scratch and are valid while those are. Returns
 *   0        a value in *out (quality GOOD, ts_ms left 0),
 *   -ENOENT  the JSON pointer names nothing in this document (not an error: partial updates),
 *   -EBADMSG the payload is malformed (bad JSON, bad hex/base64),
 *   -EDOM    the value is not of the wanted type (or out of its range). */
int mq_payload_decode(const uint8_t *payload, size_t len, enum mq_format fmt,
                      const char *json_pointer, uint8_t want, void *doc, struct mq_buf *scratch,
                      struct adapter_value *out);
/* The JSON fast path (MQ_FMT_JSON, no parsed document): walks payload to json_pointer without
 * allocating and returns what mq_payload_decode would (string values in scratch), or -EAGAIN
 * when it leaves the payload to jansson (mq_json_parse, then mq_payload_decode with the doc):
 * malformed JSON, or a form outside the subset it handles. mq_payload_decode with doc NULL tries
 * it first itself; a caller with several pointers into one message chooses between N scans and
 * one parse. */
int mq_json_scan(const uint8_t *payload, size_t len, const char *json_pointer, uint8_t want,
                 struct mq_buf *scratch, struct adapter_value *out);
/* Parses payload as JSON (any top-level value). Returns 0 and a new reference in *doc, or
 * -EBADMSG. Release with mq_json_release. */
int mq_json_parse(const uint8_t *payload, size_t len, void **doc);
void mq_json_release(void *doc);

/* Encodes a command payload for value v into out (replacing its contents): TEXT writes the value
 * as text (booleans as true_text/false_text, NULL meaning "true"/"false"), JSON wraps it in
 * objects along json_pointer, HEX/BASE64 encode bytes or strings, RAW copies them. Returns 0,
 * -EINVAL (a value this format cannot carry), or -ENOMEM. */
int mq_payload_encode(const struct adapter_value *v, enum mq_format fmt, const char *json_pointer,
                      const char *true_text, const char *false_text, struct mq_buf *out);

#endif /* GW_MQ_H */
