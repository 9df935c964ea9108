/* SPDX-License-Identifier: Apache-2.0 */
/* The shared LwM2M engine: one engine per process, many endpoints in it. Each endpoint is a
 * separate LwM2M client with its own UDP socket (own source port), its own registration with
 * each of its servers and its own observations. Values come from a provider the owner (the
 * bridge) implements; the engine serves Security (0) and Server (1) itself from the config. */
#ifndef LWM2M_ENGINE_H
#define LWM2M_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lwm2m/clock.h"
#include "lwm2m/coap_endpoint.h"
#include "lwm2m/format.h"
#include "lwm2m/model.h"
#include "lwm2m/value.h"

struct event_base;
struct lwm2m_engine;
struct lwm2m_endpoint;

/* ---- Events ------------------------------------------------------------------------------- */

/* Registration events, one callback per engine (DESIGN.md). */
enum lwm2m_event_type {
    LWM2M_EV_REGISTERED = 1,    /* Register answered 2.01 (version in ev->version) */
    LWM2M_EV_REGISTER_FAILED,   /* Register answered with an error or timed out; will retry */
    LWM2M_EV_UPDATED,           /* Update answered 2.04 */
    LWM2M_EV_UPDATE_FAILED,     /* Update failed with 4.04/4.xx: the engine registers again */
    LWM2M_EV_TIMEOUT,           /* a registration request was never answered */
    LWM2M_EV_DEREGISTERED,      /* De-register answered 2.02 */
    LWM2M_EV_DEREGISTER_FAILED, /* De-register failed or timed out (the engine forgets anyway) */
    LWM2M_EV_DISCONNECTED,      /* the registration is no longer valid (lifetime ran out) */
    LWM2M_EV_QUEUE_RX_OFF,      /* queue mode: the endpoint stopped listening */
    LWM2M_EV_SERVER_DISABLED,   /* the server executed /1/x/4 Disable */
    LWM2M_EV_NETWORK_ERROR,     /* the socket could not be opened or sending failed */
    LWM2M_EV_SECURE_FAILED,     /* the DTLS handshake failed (ev->detail says why); will retry */
    /* Bootstrap (ev->ssid 0, ev->version_minor the bootstrap server's): */
    LWM2M_EV_BOOTSTRAP_STARTED,       /* Bootstrap-Request about to go out (detail: why) */
    LWM2M_EV_BOOTSTRAP_FINISHED,      /* Bootstrap-Finish accepted; the new servers register now
                                         (detail: NULL, or why the state file was not written) */
    LWM2M_EV_BOOTSTRAP_FAILED,        /* Request refused or timed out, no Finish in time, or the new
                                         servers could not be set up (detail); will retry */
    LWM2M_EV_BOOTSTRAP_STATE_INVALID, /* the saved state was damaged or inconsistent: moved aside
                                         to *.corrupt and ignored (detail says why) */
};

struct lwm2m_event {
    uint8_t type;          /* enum lwm2m_event_type */
    uint8_t version_minor; /* LwM2M 1.x in use with this server */
    uint16_t ssid;         /* short server id */
    int err;               /* LWM2M_ERR_* or 0 */
    uint8_t coap_code;     /* the server's response code when there was one, else 0 */
    struct lwm2m_endpoint *ep;
    const char *detail; /* a short reason (DTLS), borrowed for the callback; else NULL */
};

typedef void (*lwm2m_event_fn)(void *ctx, const struct lwm2m_event *ev);

/* A short name for an event type, for logs. */
const char *lwm2m_event_name(int type);

/* ---- Configuration ------------------------------------------------------------------------ */

enum lwm2m_sec_mode {
    LWM2M_SEC_PSK = 0,
    LWM2M_SEC_RPK = 1,
    LWM2M_SEC_CERT = 2,
    LWM2M_SEC_NOSEC = 3,
};

/* One LwM2M server of an endpoint (a Security + Server instance pair). Strings are copied. */
struct lwm2m_server_cfg {
    const char *uri;           /* "coap://127.0.0.1:5683", "coap://[::1]:5683" (numeric hosts) */
    uint16_t ssid;             /* Short Server ID, 1..65534 */
    uint32_t lifetime;         /* seconds; 0 → 86400 */
    const char *binding;       /* "U" (default) or "UQ" (queue mode) */
    uint8_t version_minor;     /* highest LwM2M 1.x to offer: 0, 1 or 2 (default 2 when 0xFF) */
    uint8_t sec_mode;          /* enum lwm2m_sec_mode: NOSEC (coap://), PSK or CERT (coaps://) */
    uint32_t default_pmin;     /* /1/x/2, seconds */
    uint32_t default_pmax;     /* /1/x/3, seconds; 0 = none */
    bool notification_storing; /* /1/x/6 */
    bool mute_send;            /* /1/x/23 */
    /* DTLS credentials (borrowed for lwm2m_endpoint_add: the engine shares one OpenSSL context
     * per distinct set among its endpoints). PSK: identity and key; CERT: PEM files, ca_file
     * optional (NULL: the server's certificate is not verified), or DER in memory instead, as a
     * bootstrap server writes them: the client's certificate (/0/x/3), its private key (/0/x/5)
     * and the server's certificate or CA (/0/x/4, required) used as cert_usage (/0/x/15) and
     * matching_type (/0/x/13) say (lwm2m/dtls.h, enum coap_dtls_cert_usage; zero-initialised is
     * usage 0, give 3 for LwM2M's default). */
    const char *psk_identity;
    const uint8_t *psk;
    size_t psk_len;
    const char *cert_file, *key_file, *ca_file;
    const uint8_t *cert_der, *key_der, *server_der;
    size_t cert_der_len, key_der_len, server_der_len;
    uint8_t cert_usage, matching_type;
};

/* Loads c's DTLS credentials the way an endpoint would (nothing to do for NoSec): 0, or
 * LWM2M_ERR_INVALID with OpenSSL's reason in err (a key that does not match its certificate, a
 * file that is not PEM, DER that does not parse), so that a bad key is refused once at start-up
 * (or at Bootstrap-Finish), not per endpoint. */
int lwm2m_server_cfg_check_security(const struct lwm2m_server_cfg *c, char *err, size_t cap);

struct lwm2m_endpoint_cfg {
    const char *name;                       /* endpoint client name (ep=), copied */
    const struct lwm2m_server_cfg *servers; /* copied */
    size_t nservers;
    /* Local address the endpoint's socket binds to (numeric, port 0 = ephemeral); NULL binds
     * the wildcard address of each server's family. */
    const char *bind_host;
    /* The first Register goes out on the next loop pass instead of at once, so that what the
     * caller adds in this pass (gateway mode: its hosted devices) is in it, not in an Update. */
    bool defer_register;
    /* Client-initiated bootstrap (TS Core §5.2, §6.1), optional: the bootstrap server (copied;
     * ssid, lifetime, binding unused; NULL = none). The endpoint then bootstraps when it has no
     * servers: none configured (nservers 0) and none saved by an earlier bootstrap; when every
     * server failed engine.bootstrap_fallback Registers in a row; and when a server executes
     * /1/x/9. What the bootstrap server wrote (objects 0 and 1) is kept in state_dir (NULL:
     * memory only) as "<escaped name>.bs" and, when valid, used instead of servers on the next
     * start. Its servers may be NoSec, PSK or Certificate (DER certificates and key, loaded into
     * OpenSSL at Bootstrap-Finish: 4.06 with the reason when they do not parse or match); RPK and
     * EST are refused at Finish (4.06). The state file holds the keys: it is written mode 0600.
     * Before a Bootstrap-Request the endpoint waits engine.bootstrap_hold_off_ms (or the bootstrap
     * account's /0/x/11); meanwhile, when it has no server and the bootstrap server is NoSec, that
     * server may begin without the Request (server-initiated bootstrap).
     * The socket binds the bootstrap server's address family when bind_host is NULL and nservers
     * is 0; bootstrapped servers must use the same family. */
    const struct lwm2m_server_cfg *bootstrap;
    const char *state_dir; /* copied */
};

struct lwm2m_engine_cfg {
    struct event_base *base;         /* borrowed; the loop that drives everything */
    const struct coap_clock *clock;  /* borrowed; NULL = system clock */
    const struct lwm2m_model *model; /* borrowed, sealed; object definitions */
    const struct coap_params *coap;  /* copied; NULL = RFC 7252 defaults */
    lwm2m_event_fn on_event;         /* may be NULL */
    void *event_ctx;
    /* Registration retry back-off: first delay, cap (ms). Jitter ±25 %. */
    uint32_t retry_min_ms; /* 0 → 5000 */
    uint32_t retry_max_ms; /* 0 → 300000 */
    /* Update is sent this long before the lifetime runs out: max(lifetime/10, 2 × 93 s) capped
     * at lifetime/2 unless this overrides it (ms, 0 = automatic). */
    uint32_t update_margin_ms;
    /* Queue mode (binding UQ): the endpoint stops listening this long after its last exchange
     * with the server (0 → MAX_TRANSMIT_WAIT, 93 s, as the specification says). */
    uint32_t queue_idle_ms;
    /* Register requests in flight at once over the whole engine, so that starting 10,000
     * endpoints does not flood the server (0 → 64). The rest wait their turn in order. */
    uint32_t reg_concurrency;
    /* Bootstrap: a bootstrap that has not been finished this long after the bootstrap server's
     * last message (its answer to Bootstrap-Request, or its last request) failed, and is retried
     * with the registration back-off (ms, 0 → 60000). */
    uint32_t bootstrap_timeout_ms;
    /* Bootstrap: Client Hold Off Time, how long an endpoint waits before its Bootstrap-Request
     * once it has to bootstrap (no server, fallback, /1/x/9; not the retries, which follow the
     * back-off) (ms, 0 = none). A Client Hold Off Time (/0/x/11) the bootstrap server wrote for
     * its own account replaces it for that endpoint. */
    uint32_t bootstrap_hold_off_ms;
    /* Bootstrap fallback: an endpoint with a bootstrap server bootstraps again (and discards its
     * saved state) once every one of its servers has failed this many Registers in a row
     * (0 → 3). */
    uint32_t bootstrap_fallback;
};

/* ---- Provider: values of one endpoint ----------------------------------------------------- */

/* Completion handle for writes and executes that finish later (a bus write). The provider keeps
 * the pointer and calls lwm2m_done() exactly once. */
struct lwm2m_done;
void lwm2m_done(struct lwm2m_done *d, int result);

typedef int (*lwm2m_id_fn)(void *ctx, uint16_t id);

struct lwm2m_provider {
    /* Object instances of oid that exist, ascending, through fn. Objects 0 and 1 are the
     * engine's and are never asked. Returns 0 or an error. */
    int (*list_instances)(void *pctx, uint16_t oid, lwm2m_id_fn fn, void *fctx);
    /* Objects this endpoint exposes (besides 0 and 1), ascending. */
    int (*list_objects)(void *pctx, lwm2m_id_fn fn, void *fctx);
    /* Resources present in /oid/iid, ascending. */
    int (*list_resources)(void *pctx, uint16_t oid, uint16_t iid, lwm2m_id_fn fn, void *fctx);
    /* Instances of a multiple resource (path depth 3), ascending. */
    int (*list_res_instances)(void *pctx, const struct lwm2m_path *p, lwm2m_id_fn fn, void *fctx);
    /* Reads a single value at depth 3 (single resource) or 4. Bytes in *out are borrowed until
     * the next call into the provider. Returns 0, LWM2M_ERR_NOTFOUND, or LWM2M_ERR_AGAIN when
     * the value is unavailable (stale: the engine answers 5.03). */
    int (*read)(void *pctx, const struct lwm2m_path *p, struct lwm2m_value *out);
    /* Writes decoded records (already type-checked against the model) under p. replace is true
     * for PUT (replace the instance or the resource's instances), false for POST (partial
     * update). Returns 0 when done, LWM2M_ERR_AGAIN after keeping d for lwm2m_done() later, or an
     * error. Bytes in recs are borrowed for the call only. */
    int (*write)(void *pctx, const struct lwm2m_path *p, const struct lwm2m_record *recs, size_t n,
                 bool replace, struct lwm2m_done *d);
    /* Executes resource p with the arguments text (may be empty). Same returns as write. */
    int (*execute)(void *pctx, const struct lwm2m_path *p, const char *args, size_t len,
                   struct lwm2m_done *d);
    /* Creates /oid/iid (iid chosen by the engine when the server gave none) and writes recs. */
    int (*create)(void *pctx, uint16_t oid, uint16_t iid, const struct lwm2m_record *recs,
                  size_t n);
    /* Deletes /oid/iid. */
    int (*remove)(void *pctx, uint16_t oid, uint16_t iid);
};

/* ---- Engine and endpoints ----------------------------------------------------------------- */

/* Creates the engine. cfg is copied (pointers in it are borrowed as stated). Returns 0,
 * LWM2M_ERR_INVALID or LWM2M_ERR_NOMEM. */
int lwm2m_engine_new(const struct lwm2m_engine_cfg *cfg, struct lwm2m_engine **out);
/* Frees every endpoint without deregistering, then the engine. */
void lwm2m_engine_free(struct lwm2m_engine *e);
/* The counters of the CoAP layer summed over all endpoints. */
const struct coap_stats *lwm2m_engine_coap_stats(const struct lwm2m_engine *e);

/* Adds an endpoint and starts registering it with each server (or bootstrapping it: see
 * cfg->bootstrap; nservers may then be 0, otherwise 1..16). prov is borrowed until the endpoint
 * is removed; pctx is passed back to it. Returns 0, LWM2M_ERR_INVALID (bad cfg, e.g. a server
 * URI that is not numeric coap://host:port), LWM2M_ERR_IO (socket) or LWM2M_ERR_NOMEM. */
int lwm2m_endpoint_add(struct lwm2m_engine *e, const struct lwm2m_endpoint_cfg *cfg,
                       const struct lwm2m_provider *prov, void *pctx, struct lwm2m_endpoint **out);
/* Deregisters from every server where registered, then frees the endpoint once every
 * De-register has been answered or timed out (the provider is no longer called after this). */
void lwm2m_endpoint_remove(struct lwm2m_endpoint *ep);
/* Frees at once, without deregistering. */
void lwm2m_endpoint_free(struct lwm2m_endpoint *ep);

/* Starts a client-initiated bootstrap on the next loop pass (after the Client Hold Off Time, when
 * there is one), as /1/x/9 Bootstrap-Request Trigger does: the servers stop (without
 * De-register) and Bootstrap-Request goes out. Returns 0,
 * LWM2M_ERR_STATE (no bootstrap server configured) or LWM2M_ERR_INVALID. */
int lwm2m_endpoint_bootstrap(struct lwm2m_endpoint *ep);
/* True while a bootstrap is pending, requested or waiting for Bootstrap-Finish. */
bool lwm2m_endpoint_bootstrapping(const struct lwm2m_endpoint *ep);
/* Deletes the saved bootstrap state of the endpoint named endpoint from state_dir (an endpoint
 * removed for good). Returns 0 (also when there was none), LWM2M_ERR_IO or LWM2M_ERR_INVALID. */
int lwm2m_bootstrap_state_remove(const char *state_dir, const char *endpoint);

const char *lwm2m_endpoint_name(const struct lwm2m_endpoint *ep);
void *lwm2m_endpoint_ctx(const struct lwm2m_endpoint *ep);
/* The socket's local port (each endpoint has its own). */
uint16_t lwm2m_endpoint_port(const struct lwm2m_endpoint *ep);
/* True when registered with every enabled server. */
bool lwm2m_endpoint_registered(const struct lwm2m_endpoint *ep);
/* Number of endpoints, and how many of them are registered with all their servers. */
size_t lwm2m_engine_endpoints(const struct lwm2m_engine *e, size_t *registered);
/* DTLS counters over every endpoint (lwm2m/dtls.h), and why the last credential set was refused
 * ("" when none was): lwm2m_endpoint_add() returns LWM2M_ERR_INVALID for it. */
struct coap_dtls_stats;
const struct coap_dtls_stats *lwm2m_engine_dtls_stats(const struct lwm2m_engine *e);
const char *lwm2m_engine_dtls_error(const struct lwm2m_engine *e);

/* The object set changed (instances created or removed by the owner): the engine sends an
 * Update with the new object list. */
void lwm2m_endpoint_objects_changed(struct lwm2m_endpoint *ep);
/* Sends an Update now to every server (as /1/x/8 Registration Update Trigger does). */
void lwm2m_endpoint_update(struct lwm2m_endpoint *ep);

/* ---- Gateway mode (LwM2M 1.2, TS Gateway) ------------------------------------------------- */

struct lwm2m_gwdev;

/* Hosts an IoT device on ep: the engine serves one /25 instance for it (0 Device ID, 1 Prefix,
 * 3 IoT Device Objects), lists its object instances as "</prefix/O/I>" in Register/Update, and
 * runs requests under /prefix/... against prov with the rest of the path. prefix: 1..24 of
 * [A-Za-z0-9_-], starting with a letter, unique on ep; prefix and device_id are copied; prov is
 * borrowed until the device is removed. Sends an Update with the new object list. Returns 0,
 * LWM2M_ERR_INVALID, LWM2M_ERR_STATE (prefix taken, or ep being removed) or LWM2M_ERR_NOMEM. */
int lwm2m_endpoint_add_device(struct lwm2m_endpoint *ep, const char *prefix, const char *device_id,
                              const struct lwm2m_provider *prov, void *pctx,
                              struct lwm2m_gwdev **out);
/* Removes the device (its observations end, its provider is no longer called) and sends an
 * Update. Completions the provider still holds stay valid (they answer nothing). */
void lwm2m_endpoint_remove_device(struct lwm2m_gwdev *dev);
/* The device's object set changed: an Update goes out with the new list. */
void lwm2m_gwdev_objects_changed(struct lwm2m_gwdev *dev);
/* Marks p (relative to the prefix) as changed on the device, like lwm2m_endpoint_changed(). */
void lwm2m_gwdev_changed(struct lwm2m_gwdev *dev, const struct lwm2m_path *p);
const char *lwm2m_gwdev_prefix(const struct lwm2m_gwdev *dev);
uint16_t lwm2m_gwdev_instance(const struct lwm2m_gwdev *dev); /* its /25 instance id */
void *lwm2m_gwdev_ctx(const struct lwm2m_gwdev *dev);
/* The device's view as an endpoint, for lwm2m_endpoint_set_report() and lwm2m_endpoint_send()
 * (report.h): its Sends and store-and-forward queues go to the host's servers with the
 * device's prefix in front of every SenML name. Borrowed until the device is removed; no other
 * lwm2m_endpoint_* call may be given it. */
struct lwm2m_endpoint *lwm2m_gwdev_endpoint(struct lwm2m_gwdev *dev);
/* Observations on the device's paths now (tests, status API). */
size_t lwm2m_gwdev_observations(const struct lwm2m_gwdev *dev);

#endif /* LWM2M_ENGINE_H */
