/* SPDX-License-Identifier: Apache-2.0 */
/* Public API of the configuration layer: load a YAML file into one immutable struct cfg, the error
 * list that loading fills (each error names file:line:column and the key path), and the small pure
 * helpers the rest of the gateway shares (durations, name templates).
 * Ownership: everything reachable from a struct cfg lives in one arena owned by it and is freed by
 * cfg_free(); strings are NUL-terminated and never change after cfg_load() returns. */
#ifndef GW_CFG_H
#define GW_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- errors ---------------------------------------------------------------------------------- */

#define CFG_MAX_ERRORS 20

/* One problem in a config file. line/col are 1-based; 0 when the problem has no position (the
 * file cannot be read, a required section is missing from an empty file). */
struct cfg_error {
    uint32_t line, col;
    char path[160]; /* key path such as "devices[0].adapter"; may be empty */
    char msg[320];  /* what was expected and what was found */
};

/* The errors of one load, filled by cfg_load(); lives wherever the caller puts it (no heap). */
struct cfg_errors {
    char file[256]; /* the file name as given to cfg_load() */
    size_t n;       /* entries in e[] */
    size_t dropped; /* further errors not kept once e[] was full */
    struct cfg_error e[CFG_MAX_ERRORS];
};

/* Formats error i as "file:line:col: path: msg" (parts without a value are left out).
 * Returns the length snprintf would have written. */
int cfg_error_format(const struct cfg_errors *errs, size_t i, char *out, size_t cap);

/* Prints every error, one per line, then a line on dropped errors if any. */
void cfg_errors_print(const struct cfg_errors *errs, FILE *out);

/* ---- the loaded configuration ---------------------------------------------------------------- */

enum cfg_log_level { CFG_LOG_ERROR, CFG_LOG_WARN, CFG_LOG_INFO, CFG_LOG_DEBUG, CFG_LOG_TRACE };

struct cfg_gateway {
    const char *id;        /* default: the host name; the {gateway} template placeholder */
    const char *state_dir; /* default "./state", relative paths resolved against the file's dir */
    enum cfg_log_level log_level; /* default info */
    const char *http_host;        /* NULL when the HTTP server is disabled (no `http:` key) */
    uint16_t http_port;
    /* Reads of a device that is down answer 5.03 once its last good value is older than this;
     * 0: automatic (3 x the device's poll period, at least 10 s). devices[] may override. */
    uint32_t stale_after_ms;
    /* A device down this long deregisters its endpoint until it is back; 0: stays registered.
     * devices[] may override. */
    uint32_t down_deregister_ms;
};

enum cfg_lwm2m_mode { CFG_MODE_ENDPOINT_PER_DEVICE, CFG_MODE_GATEWAY };
enum cfg_lwm2m_version { CFG_LWM2M_1_0, CFG_LWM2M_1_1, CFG_LWM2M_1_2 };
enum cfg_sec_mode { CFG_SEC_NOSEC, CFG_SEC_PSK, CFG_SEC_CERT };

struct cfg_security {
    enum cfg_sec_mode mode;
    const char *identity; /* psk: the PSK identity; a template ({gateway}, {device}) */
    const uint8_t *psk;   /* psk: key bytes, from `key` (hex) or `key_file` (hex text) */
    size_t psk_len;
    const char *cert;      /* cert: PEM certificate file (path resolved, readable at load) */
    const char *key;       /* cert: PEM private key file */
    const char *server_ca; /* cert: optional PEM CA file to verify the server with */
};

struct cfg_server {
    const char *uri;          /* as written, after environment substitution */
    const char *host;         /* parsed from uri; an IPv6 literal without brackets */
    uint16_t port;            /* parsed from uri; default 5683 (coap) or 5684 (coaps) */
    bool secure;              /* coaps:// */
    uint16_t short_server_id; /* 1..65534; default position + 1; 0 for the bootstrap server */
    uint32_t lifetime;        /* seconds; the lwm2m.lifetime unless overridden per server */
    uint32_t bs_timeout_ms;  /* bootstrap only: Finish must come this long after the last request */
    uint32_t bs_hold_off_ms; /* bootstrap only: wait before each Bootstrap-Request (/0/x/11) */
    struct cfg_security security;
};

/* lwm2m.notifications: how notifications go out. */
struct cfg_notifications {
    bool con;           /* every notification CON (default false: NON) */
    uint16_t con_every; /* a NON stream sends every con_every-th as CON; default 16 */
};

/* lwm2m.coap: CoAP transmission parameters (RFC 7252 §4.8) for every endpoint; the derived
 * times (MAX_TRANSMIT_WAIT, EXCHANGE_LIFETIME) follow from them. Slow links want more. */
struct cfg_coap {
    uint32_t ack_timeout_ms; /* ACK_TIMEOUT; default 2s */
    uint32_t max_retransmit; /* MAX_RETRANSMIT; default 4 */
};

/* lwm2m.dns: server host names are resolved at start and reload, and again every refresh_ms
 * while running (and soon after a registration fails); a name at a new address moves its
 * endpoints there. */
struct cfg_dns {
    uint32_t refresh_ms;            /* default 5m; 0: only at start and reload */
    const char *const *nameservers; /* "ip[:port]"; none: /etc/resolv.conf's */
    size_t nnameservers;
};

/* lwm2m.store: store-and-forward (Notification Storing, /1/x/6, on every server). */
struct cfg_store {
    bool enabled;         /* default false */
    uint32_t max_entries; /* per endpoint and server; default 1000 */
    uint32_t max_bytes;   /* per endpoint and server; default 262144 */
    uint32_t sync_ms;     /* the changed queues written to state_dir together this often (a power
                             loss loses at most that long's values); default 1s, 10ms..1h */
};

enum cfg_send_format { CFG_SEND_SENML_CBOR, CFG_SEND_SENML_JSON };

/* An LwM2M path /obj[/inst[/res[/resinst]]]; depth 1..4. */
struct cfg_lwm2m_path {
    uint16_t ids[4];
    uint8_t depth;
};

/* `send:` of a device, discovery rule or profile: LwM2M Send (POST /dp) of paths. */
struct cfg_send {
    const struct cfg_lwm2m_path *paths; /* npaths == 0: no automatic Send */
    size_t npaths;
    bool on_change;              /* Send when one of the paths changes; default true */
    uint32_t period_s;           /* Send every period_s seconds; 0 (default): not periodic */
    enum cfg_send_format format; /* default senml-cbor */
};

struct cfg_lwm2m {
    enum cfg_lwm2m_mode mode;       /* default endpoint-per-device */
    const char *endpoint_name;      /* template; default "urn:dev:{gateway}:{device}" */
    uint32_t lifetime;              /* seconds, default 300 */
    const char *binding;            /* "U" (default) or "UQ" */
    enum cfg_lwm2m_version version; /* default 1.2 */
    const struct cfg_server *servers;
    size_t nservers;
    const struct cfg_server *bootstrap; /* NULL when there is none */
    /* OMA DDF XML files or directories of *.xml files with objects beyond the built-in ones,
     * resolved against the config's directory and readable at load (not parsed here). */
    const char *const *models;
    size_t nmodels;
    struct cfg_notifications notifications;
    struct cfg_store store;
    struct cfg_coap coap;
    struct cfg_dns dns;
};

enum cfg_adapter_type {
    CFG_ADAPTER_MODBUS_TCP,
    CFG_ADAPTER_MODBUS_RTU,
    CFG_ADAPTER_MODBUS_RTU_OVER_TCP,
    CFG_ADAPTER_MQTT,
};
enum cfg_parity { CFG_PARITY_NONE, CFG_PARITY_EVEN, CFG_PARITY_ODD };

struct cfg_mqtt_tls {
    bool enabled;     /* true when a `tls:` section is present */
    const char *ca;   /* PEM CA file */
    const char *cert; /* client certificate (with key) */
    const char *key;
    const char *psk; /* TLS-PSK key as hex text (what libmosquitto takes) */
    const char *psk_identity;
};

struct cfg_adapter {
    const char *name;
    enum cfg_adapter_type type;
    uint32_t timeout_ms; /* response timeout (Modbus) / connect timeout (MQTT); default 1s */
    uint32_t poll_ms;    /* default poll period of this adapter's Modbus devices; default 1s */
    /* modbus-tcp, modbus-rtu-over-tcp and mqtt */
    const char *host;
    uint16_t port; /* default 502 (Modbus) or 1883/8883 (MQTT without/with tls) */
    /* modbus-rtu */
    const char *device;     /* serial device, e.g. /dev/ttyUSB0 */
    uint32_t baud;          /* default 19200 */
    enum cfg_parity parity; /* default even (the Modbus serial default) */
    uint8_t data_bits;      /* 7 or 8, default 8 */
    uint8_t stop_bits;      /* 1 or 2, default 1 */
    bool rs485;             /* switch the line to RS-485 mode (TIOCSRS485) */
    /* mqtt */
    const char *client_id; /* template, default "{gateway}" */
    const char *username;
    const char *password; /* from `password` or `password_file`; NULL when none */
    struct cfg_mqtt_tls tls;
    uint8_t protocol;   /* 4 (3.1.1, default) or 5 */
    bool clean_session; /* default true */
    /* MQTT 5 with clean_session false: Session Expiry Interval in seconds (default 3600,
     * 4294967295 = never, 0 = the session ends with the connection); 0 otherwise. */
    uint32_t session_expiry_s;
    uint32_t keepalive_s; /* default 60 */
    uint8_t qos;          /* default subscription QoS, 0..2, default 0 */
};

enum cfg_binding_kind { CFG_BIND_MODBUS, CFG_BIND_MQTT, CFG_BIND_CONST };
enum cfg_mb_table { CFG_MB_COIL, CFG_MB_DISCRETE, CFG_MB_INPUT, CFG_MB_HOLDING };
enum cfg_mb_type {
    CFG_MB_BOOL,
    CFG_MB_INT16,
    CFG_MB_UINT16,
    CFG_MB_INT32,
    CFG_MB_UINT32,
    CFG_MB_INT64,
    CFG_MB_UINT64,
    CFG_MB_FLOAT32,
    CFG_MB_FLOAT64,
    CFG_MB_STRING, /* string(N): N bytes, (N+1)/2 registers, high byte first */
    CFG_MB_BIT,    /* bit(N): bit N (0..15) of one register */
};
enum cfg_mb_order { CFG_MB_ABCD, CFG_MB_CDAB, CFG_MB_BADC, CFG_MB_DCBA };
enum cfg_mq_format { CFG_MQ_TEXT, CFG_MQ_JSON, CFG_MQ_HEX, CFG_MQ_BASE64 };

struct cfg_mb_ref {
    bool set;
    enum cfg_mb_table table;
    uint16_t addr; /* 0-based protocol address */
};

struct cfg_modbus_binding {
    struct cfg_mb_ref read, write; /* at least one is set */
    enum cfg_mb_type type;         /* default bool on coil/discrete, uint16 on registers */
    uint16_t type_arg;             /* N of string(N) / bit(N) */
    uint16_t count;                /* registers (or bits) the value spans */
    enum cfg_mb_order order;       /* default ABCD */
    double scale, offset;          /* value = raw * scale + offset; default 1 and 0 */
    bool readback;                 /* re-read after a write (default true) */
};

struct cfg_mqtt_binding {
    const char *topic; /* template ({gateway} {device} {unit}); NULL for a write-only binding */
    const char *json;  /* RFC 6901 JSON pointer into the payload; NULL: the whole payload */
    enum cfg_mq_format format; /* default json when `json` is given, else text */
    uint8_t qos;               /* subscription QoS of topic, 0..2, when has_qos */
    bool has_qos;              /* false: the adapter's `qos` */
    bool has_write;
    struct {
        const char *topic; /* template */
        const char *json;  /* publish {"<pointer path>": value} when set */
        uint8_t qos;       /* default 0 */
        bool retain;       /* default false */
        enum cfg_mq_format format;
    } write;
};

struct cfg_binding {
    enum cfg_binding_kind kind;
    union {
        struct cfg_modbus_binding modbus;
        struct cfg_mqtt_binding mqtt;
        const char *value; /* CFG_BIND_CONST: the scalar as text; typed by the resource model */
    } u;
};

/* One bound resource; a profile's and a device's resources are sorted by (obj, inst, res). */
struct cfg_resource {
    uint16_t obj, inst, res;
    struct cfg_binding b;
};

struct cfg_profile {
    const char *name;
    const struct cfg_resource *res;
    size_t nres;
    bool has_modbus, has_mqtt; /* which adapter kinds the profile's bindings need */
    struct cfg_send send;      /* the default of its devices' `send` */
};

struct cfg_device {
    const char *name; /* NULL for a discovery rule */
    const struct cfg_adapter *adapter;
    const struct cfg_profile *profile;
    int32_t unit;     /* Modbus unit id; -1 when not set (MQTT) */
    uint32_t poll_ms; /* Modbus poll period; default the adapter's poll */
    /* the profile's resources with the device's `overrides` applied (may alias profile->res) */
    const struct cfg_resource *res;
    size_t nres;
    const char *endpoint; /* expanded endpoint name; NULL for a discovery rule */
    /* discovery rule (MQTT): one virtual device per distinct {device} seen on matching topics */
    const char *discover;        /* the pattern as written, e.g. "sensors/{device}/state" */
    const char *discover_filter; /* the subscription filter, {device} replaced by + */
    uint16_t discover_level;     /* 0-based topic level that names the device */
    uint32_t max_devices;        /* default 100 */
    /* optional availability topic template with {device}: "offline" there marks the device
     * gone, "online" discovers it; NULL when not set */
    const char *availability;
    /* Per-device overrides of gateway.stale_after / gateway.down_deregister; 0: the gateway's
     * setting. Also valid on a discovery rule (for every device it creates). */
    uint32_t stale_after_ms;
    uint32_t down_deregister_ms;
    /* The device's (or rule's) `send`, else its profile's; npaths == 0: no automatic Send. */
    struct cfg_send send;
};

struct cfg {
    const char *file; /* the file name given to cfg_load() */
    struct cfg_gateway gateway;
    struct cfg_lwm2m lwm2m;
    const struct cfg_adapter *adapters;
    size_t nadapters;
    const struct cfg_profile *profiles;
    size_t nprofiles;
    const struct cfg_device *devices;
    size_t ndevices;
    struct cfg_arena *arena; /* private: owns all of the above */
};

/* Loads and validates the YAML file `path`. On success returns 0 and sets *out (free with
 * cfg_free) and errs->n == 0. On failure returns a negative errno value (-EINVAL for an invalid
 * file, -ENOENT & co. when it cannot be read, -ENOMEM), sets *out to NULL and fills errs with up
 * to CFG_MAX_ERRORS errors. Environment variables are read with getenv(); relative file paths in
 * the config are resolved against the directory of `path`. */
int cfg_load(const char *path, const struct cfg **out, struct cfg_errors *errs);

/* Same as cfg_load() for a document in memory (no NUL needed); `name` is used in error messages,
 * relative paths resolve against the current directory. `buf` is borrowed for the call only. */
int cfg_load_buffer(const char *name, const void *buf, size_t len, const struct cfg **out,
                    struct cfg_errors *errs);

/* Frees a configuration and everything it points to. NULL is allowed. */
void cfg_free(const struct cfg *cfg);

/* Finds an adapter / profile by name; NULL when there is none. */
const struct cfg_adapter *cfg_adapter_find(const struct cfg *cfg, const char *name);
const struct cfg_profile *cfg_profile_find(const struct cfg *cfg, const char *name);

/* ---- helpers ----------------------------------------------------------------------------------
 */

/* Parses a duration "<digits><unit>" with unit ms, s, m or h (e.g. 500ms, 1s, 5m) into
 * milliseconds. Returns 0, -EINVAL on bad syntax or -ERANGE above UINT32_MAX ms. */
int cfg_duration_parse(const char *s, uint32_t *ms);

/* Formats milliseconds the shortest way cfg_duration_parse() reads back ("1500ms", "2s", "5m"). */
void cfg_duration_format(uint32_t ms, char *out, size_t cap);

/* Expands a name template: {gateway}, {device} and {unit} are replaced by the arguments (device
 * NULL or unit < 0 mean "not available"). Returns the length written (NUL excluded), -EINVAL for an
 * unknown or unavailable placeholder or an unbalanced brace, -ENOSPC when out is too small. */
int cfg_template_expand(const char *tmpl, const char *gateway, const char *device, int32_t unit,
                        char *out, size_t cap);

/* Names for printing. */
const char *cfg_adapter_type_name(enum cfg_adapter_type t);
const char *cfg_sec_mode_name(enum cfg_sec_mode m);
const char *cfg_mb_table_name(enum cfg_mb_table t);
const char *cfg_mb_type_name(enum cfg_mb_type t);
const char *cfg_mb_order_name(enum cfg_mb_order o);
const char *cfg_mq_format_name(enum cfg_mq_format f);
const char *cfg_lwm2m_mode_name(enum cfg_lwm2m_mode m);
const char *cfg_lwm2m_version_name(enum cfg_lwm2m_version v);
const char *cfg_log_level_name(enum cfg_log_level l);
const char *cfg_send_format_name(enum cfg_send_format f);

/* Formats "/3303/0/5700" into out (NUL-terminated, truncated to cap). */
void cfg_lwm2m_path_format(const struct cfg_lwm2m_path *p, char *out, size_t cap);

#endif /* GW_CFG_H */
