/* SPDX-License-Identifier: Apache-2.0 */
/* Engine internals shared by engine.c (lifecycle), registration.c (the per-server state machine),
 * dm.c (Device Management dispatch) and server_obj.c (objects 0 and 1). Not a public header. */
#ifndef LWM2M_ENGINE_INTERNAL_H
#define LWM2M_ENGINE_INTERNAL_H

#include <event2/event.h>

#include "lwm2m/coap_endpoint.h"
#include "lwm2m/engine.h"
#include "lwm2m/error.h"
#include "lwm2m/dtls.h"   /* engine_dtls.c: struct coap_dtls_stats */
#include "lwm2m/report.h" /* observe.c: struct lwm2m_report_stats */

/* Registration states of one (endpoint, server) pair. */
enum lwm2m_reg_state {
    LWM2M_REG_IDLE = 0,      /* not started, or waiting for the back-off timer */
    LWM2M_REG_REGISTERING,   /* Register sent */
    LWM2M_REG_REGISTERED,    /* registered; an Update is due at next_update_ms */
    LWM2M_REG_UPDATING,      /* Update sent */
    LWM2M_REG_DEREGISTERING, /* De-register sent */
    LWM2M_REG_DISABLED,      /* /1/x/4 executed: silent until disabled_until_ms */
    LWM2M_REG_DONE,          /* deregistered (endpoint being removed) */
};

#define LWM2M_LOCATION_MAX 48
#define LWM2M_BINDING_MAX  8

/* One (endpoint, server) registration: its Security (0) and Server (1) instance. */
struct lwm2m_server {
    struct lwm2m_endpoint *ep;
    struct coap_addr addr;
    char *uri;
    uint16_t ssid;
    uint16_t index;      /* instance id of /0 and /1 */
    uint8_t state;       /* enum lwm2m_reg_state */
    uint8_t version_max; /* highest 1.x configured */
    uint8_t version;     /* 1.x in use or being tried */
    uint8_t sec_mode;
    char binding[LWM2M_BINDING_MAX];
    char location[LWM2M_LOCATION_MAX];   /* "rd/5" from Location-Path */
    uint32_t lifetime;                   /* /1/x/1 */
    uint32_t reg_lifetime;               /* lifetime the server knows */
    char reg_binding[LWM2M_BINDING_MAX]; /* binding the server knows */
    uint32_t default_pmin, default_pmax, disable_timeout;
    bool notification_storing, mute_send;
    bool objects_dirty;             /* send the object list with the next Update */
    bool update_pending;            /* an Update is wanted as soon as the current exchange ends */
    uint32_t retries;               /* consecutive failures, for the back-off */
    uint32_t xchg;                  /* outstanding request id, 0 when none */
    uint64_t registered_ms;         /* when the last Register/Update succeeded */
    uint64_t activity_ms;           /* last exchange with this server (queue mode idle timer) */
    struct event *timer;            /* update / retry / re-enable timer */
    struct lwm2m_server *wait_next; /* queue of servers waiting for a Register slot */
    bool waiting;                   /* in that queue */
    bool rx_off;                    /* queue mode: not listening until the next Update */
    bool has_slot;                  /* holds one of the engine's Register slots */
};

struct lwm2m_attr_entry; /* Write-Attributes store (dm.c) */

struct lwm2m_endpoint {
    struct lwm2m_engine *eng;
    struct lwm2m_endpoint *next, *prev; /* the engine's list */
    char *name;
    struct coap_transport *tp;
    struct coap_endpoint *coap;
    const struct lwm2m_provider *prov;
    void *pctx;
    struct lwm2m_server *servers;
    uint16_t nservers;
    bool removing;       /* lwm2m_endpoint_remove() called: free once every server is done */
    bool all_registered; /* counted in the engine's nregistered */
    bool in_remove;      /* inside lwm2m_endpoint_remove(): it frees, not reg_changed */
    struct lwm2m_attr_entry *attrs; /* per-server notification attributes (dm.c owns) */
    size_t nattrs;
    /* ---- observe.c block ---- */
    struct lwm2m_obs_ep *obs; /* observations and Send state, made on first use (observe.c) */
    /* ---- gwdev.c block: LwM2M 1.2 gateway mode ---- */
    struct lwm2m_gwdev *gwdevs; /* IoT devices hosted here, ascending /25 instance id */
    struct lwm2m_gwdev *gwdev;  /* non-NULL: this endpoint is that device's view (no socket) */
    const char *prefix;         /* "/dev1" for a device's view, NULL for a real endpoint */
    /* ---- bootstrap.c block ---- */
    struct lwm2m_bs *bs; /* the bootstrap client, NULL without a bootstrap server */
};

#define LWM2M_OID_GATEWAY   25
#define LWM2M_GW_PREFIX_MAX 24 /* longest device prefix ("dev1"), without the '/' */

/* An IoT device behind a gateway endpoint (TS Gateway: one /25 instance, requests under
 * /{prefix}/...). Its view is a struct lwm2m_endpoint without socket or servers that shares the
 * host's CoAP endpoint: the DM operations, Write-Attributes store and observations then work on
 * it unchanged, with paths relative to the prefix. */
struct lwm2m_gwdev {
    struct lwm2m_endpoint view;
    struct lwm2m_endpoint *host;
    struct lwm2m_gwdev *next;
    uint16_t iid;                              /* /25/iid */
    char *device_id;                           /* /25/iid/0 */
    char *links;                               /* /25/iid/3, rebuilt on each read */
    char prefix[LWM2M_GW_PREFIX_MAX + 1];      /* /25/iid/1: "dev1" */
    char path_prefix[LWM2M_GW_PREFIX_MAX + 2]; /* "/dev1" */
};

/* gwdev.c: the device of host whose prefix is name[0..len), or NULL. */
struct lwm2m_gwdev *lwm2m_gwdev_find(struct lwm2m_endpoint *host, const char *name, size_t len);
/* gwdev.c: the device of host at /25/iid, or NULL. */
struct lwm2m_gwdev *lwm2m_gwdev_by_iid(struct lwm2m_endpoint *host, uint16_t iid);
/* gwdev.c: the first device of host with that Device ID (/25/iid/0), or NULL. A queued
 * cross-device notification names its devices by ID, which outlives a prefix change. */
struct lwm2m_gwdev *lwm2m_gwdev_by_id(struct lwm2m_endpoint *host, const char *device_id);
/* gwdev.c: a decode cfg's prefix_of for host (ctx): the device's /25 instance id, or
 * LWM2M_ERR_NOTFOUND. */
int lwm2m_gwdev_prefix_of(void *host, const char *s, size_t n);
/* gwdev.c: the endpoint a decoded record's dev (0: host itself) names, or NULL. */
struct lwm2m_endpoint *lwm2m_gwdev_view(struct lwm2m_endpoint *host, uint16_t dev);
/* gwdev.c: frees every device of host (host being freed: no Update). */
void lwm2m_gwdev_free_all(struct lwm2m_endpoint *host);
/* gwdev.c: the Register/Update links of every device ("</dev1/3303>,</dev1/3303/0>"). */
int lwm2m_gwdev_reg_links(struct lwm2m_endpoint *host, struct lwm2m_link_writer *w);
/* gwdev.c: object 25 of host: instances, resources, values (bytes borrowed until the next
 * read). */
int lwm2m_gwdev_instances(struct lwm2m_endpoint *host, lwm2m_id_fn fn, void *ctx);
int lwm2m_gwdev_resources(struct lwm2m_endpoint *host, uint16_t iid, lwm2m_id_fn fn, void *ctx);
int lwm2m_gwdev_read(struct lwm2m_endpoint *host, const struct lwm2m_path *p,
                     struct lwm2m_value *out);

/* ==== sf_flush.c block: the store-and-forward queues made durable in batches ==== */

struct lwm2m_sf_store;
struct lwm2m_file_io;

/* A queue as the flush sees it, embedded in send.c's per-server queue: the store, and its place
 * in one of the engine's lists while it waits to be written. */
struct lwm2m_keep_dirty {
    struct lwm2m_sf_store *store; /* borrowed from the queue that embeds this */
    struct lwm2m_keep_dirty *next, *prev;
    uint8_t list; /* 0: in no list; else which (sf_flush.c) */
};

struct lwm2m_keep_list {
    struct lwm2m_keep_dirty *head, *tail;
    size_t n;
};

/* One tick writes at most LWM2M_KEEP_FLUSH_CHUNK queues, and stops adding queues once their
 * images reach LWM2M_KEEP_FLUSH_BYTES (at least one per tick), so that the loop answers between
 * ticks. tests/bench/bench_sf_flush.c measured 3000 queues on ext4 (README): chunks of 64 keep
 * the longest tick near 40 ms, 256 let it reach 130 ms for a little less work overall. */
#define LWM2M_KEEP_FLUSH_CHUNK 64u
#define LWM2M_KEEP_FLUSH_BYTES (1024u * 1024u)

/* The engine's flush: the queues changed since their last write wait in dirty; every sync_ms the
 * timer moves them to round and writes round in chunks of bounded work, one chunk per tick (a
 * tick right after another while round is not empty), one batch (one syncfs) per chunk. */
struct lwm2m_keep_flush {
    struct lwm2m_keep_list dirty;   /* the next round */
    struct lwm2m_keep_list round;   /* the round being written */
    struct event *timer;            /* made on first use */
    uint64_t dirty_since_ms;        /* when dirty became non-empty (the engine's clock) */
    uint32_t sync_ms;               /* lwm2m_report_cfg.store_sync_ms; 0 → 1000 */
    const struct lwm2m_file_io *io; /* the file operations of queues opened from now on;
                                       NULL = POSIX (tests count and fail through it) */
};

/* sf_flush.c: d's store changed: if it is dirty and not listed yet, it waits for the next round
 * (the timer is armed). Cheap; call it after every change (a pass of the queue). */
void lwm2m_keep_mark(struct lwm2m_engine *e, struct lwm2m_keep_dirty *d);
/* sf_flush.c: d's queue is being closed: out of the lists (the close writes it itself). */
void lwm2m_keep_unmark(struct lwm2m_engine *e, struct lwm2m_keep_dirty *d);
/* sf_flush.c: the timer's work, callable by tests after moving the clock: starts a round when the
 * oldest dirty queue has waited sync_ms, and writes the next chunk of the round. Returns how many
 * queues it wrote (failures stay dirty, listed for the next round). */
size_t lwm2m_keep_flush_tick(struct lwm2m_engine *e);
/* sf_flush.c: writes every listed queue now, in as many batches as the chunk bound makes (engine
 * being freed: a clean stop). Returns how many failed. */
size_t lwm2m_keep_flush_all(struct lwm2m_engine *e);
/* sf_flush.c: frees the timer (every queue is closed by then). */
void lwm2m_keep_flush_free(struct lwm2m_engine *e);

struct lwm2m_engine {
    struct event_base *base;
    const struct lwm2m_model *model;
    lwm2m_event_fn on_event;
    void *event_ctx;
    uint32_t retry_min_ms, retry_max_ms, update_margin_ms, queue_idle_ms;
    uint32_t reg_concurrency, reg_inflight;
    struct lwm2m_server *wait_head, *wait_tail; /* servers waiting to send Register */
    struct coap_env env;
    struct coap_udp_stats udp_stats;
    struct lwm2m_endpoint *head;
    size_t nendpoints;
    size_t nregistered; /* endpoints registered with all their servers */
    /* ---- observe.c block ---- */
    struct lwm2m_report_stats report_stats; /* Information Reporting counters (observe.c) */
    /* ---- engine_dtls.c block ---- */
    struct lwm2m_dtls_entry *dtls_ctxs; /* shared credential contexts */
    struct coap_dtls_stats dtls_stats;
    char dtls_error[192]; /* why the last credential context could not be made */
    /* ---- sf_flush.c block: store-and-forward durability ---- */
    struct lwm2m_keep_flush keep_flush;
    /* ---- bootstrap.c block ---- */
    uint32_t bs_timeout_ms;  /* Bootstrap-Finish wait after the bootstrap server's last message */
    uint32_t bs_fallback;    /* consecutive Register failures of every server → bootstrap */
    uint32_t bs_hold_off_ms; /* wait before a Bootstrap-Request (unless /0/x/11 says otherwise) */
};

/* Emits an event to the owner. */
void lwm2m_emit(struct lwm2m_server *s, int type, int err, uint8_t code);
/* Emits an event with a short reason (borrowed for the call). */
void lwm2m_emit_detail(struct lwm2m_server *s, int type, int err, const char *detail);
/* Emits an event that concerns no server of ep (bootstrap: ssid 0). */
void lwm2m_emit_ep(struct lwm2m_endpoint *ep, int type, int err, uint8_t code, uint8_t version,
                   const char *detail);

/* engine.c: parses "coap://host:port[/...]" or "coaps://..." with a numeric host (uri NUL
 * terminated); *secure tells which. 0 or LWM2M_ERR_INVALID. */
int lwm2m_server_uri_parse(const char *uri, struct coap_addr *out, bool *secure);

/* engine.c, for bootstrap.c: the server set of ep replaced. lwm2m_ep_servers_clear() ends every
 * registration without a message (their observations end, the store-and-forward queues are
 * closed and kept on disk) and frees the records; lwm2m_ep_servers_set() clears, then makes one
 * record per cfg (copied), adds the coaps ones to ep's DTLS transport and starts registering.
 * Returns 0, LWM2M_ERR_INVALID or LWM2M_ERR_NOMEM (ep has no servers then). */
void lwm2m_ep_servers_clear(struct lwm2m_endpoint *ep);
int lwm2m_ep_servers_set(struct lwm2m_endpoint *ep, const struct lwm2m_server_cfg *c, size_t n);

/* engine_dtls.c: secure servers. lwm2m_ep_secure() wraps ep->tp in the DTLS transport when one
 * of cfg's servers is coaps (ep->tp is NULL after a failure: the DTLS transport closed it);
 * lwm2m_dtls_ctx_for() finds or makes the shared credential context (the cache keeps the
 * reference; LWM2M_ERR_INVALID leaves the reason in e->dtls_error); lwm2m_server_link_reset()
 * drops the server's DTLS session so that the next request handshakes anew. */
int lwm2m_ep_secure(struct lwm2m_endpoint *ep, const struct lwm2m_endpoint_cfg *cfg);
int lwm2m_dtls_ctx_for(struct lwm2m_engine *e, const struct lwm2m_server_cfg *c,
                       struct coap_dtls_ctx **out);
void lwm2m_dtls_cache_free(struct lwm2m_engine *e);
void lwm2m_server_link_reset(struct lwm2m_server *s);
/* engine_dtls.c: c has the credentials of its secure mode (PSK: identity and key; CERT: the
 * certificate and key files, or the certificate, key and server certificate in DER). */
bool lwm2m_server_cfg_has_creds(const struct lwm2m_server_cfg *c);
/* engine_dtls.c: the DTLS session to peer uses c's credentials from the next handshake on (ep's
 * transport must be DTLS already: LWM2M_ERR_STATE otherwise). */
int lwm2m_ep_secure_peer(struct lwm2m_endpoint *ep, const struct coap_addr *peer,
                         const struct lwm2m_server_cfg *c);

/* registration.c */
void lwm2m_reg_start(struct lwm2m_server *s);
void lwm2m_reg_update(struct lwm2m_server *s, bool objects);
void lwm2m_reg_deregister(struct lwm2m_server *s);
void lwm2m_reg_disable(struct lwm2m_server *s, uint32_t seconds);
void lwm2m_reg_stop(struct lwm2m_server *s); /* cancels timers and exchanges, no message */
/* Endpoint removal with a Register in flight: true when it is left to finish (its answer then
 * de-registers at once, or ends the server's part); false when none is in flight. */
bool lwm2m_reg_finish_register(struct lwm2m_server *s);
/* The secure link to s failed: its Register or Update in flight fails now (not after CoAP's
 * whole retransmission sequence), with the usual retry. */
void lwm2m_reg_link_failed(struct lwm2m_server *s);
bool lwm2m_reg_is_registered(const struct lwm2m_server *s);
/* The retry delay before attempt number retries (1 = first retry): retry_min · 2^(n−1), capped
 * at retry_max, ±25 % jitter. Shared by the registration and bootstrap back-offs. */
uint64_t lwm2m_backoff_ms(const struct lwm2m_engine *e, uint32_t retries);
/* The libevent callback of struct lwm2m_server's timer (arg is the server). */
void lwm2m_reg_timer(evutil_socket_t fd, short what, void *arg);
/* Writes the Register/Update object list into buf. Returns its length or a negative error. */
int lwm2m_reg_links(struct lwm2m_endpoint *ep, const struct lwm2m_server *s, char *buf, size_t cap);

/* engine.c: Register pacing. lwm2m_engine_reg_slot() returns true when s may send its Register
 * now (and takes a slot); otherwise s is queued and lwm2m_reg_start(s) is called again when a
 * slot frees. lwm2m_engine_reg_release() gives the slot back when the Register completes. */
bool lwm2m_engine_reg_slot(struct lwm2m_server *s);
void lwm2m_engine_reg_release(struct lwm2m_server *s);
void lwm2m_engine_reg_unqueue(struct lwm2m_server *s);

/* engine.c: called by registration.c when a server's registration completes or ends, so the
 * engine can keep its registered count and finish a pending removal. */
void lwm2m_engine_reg_changed(struct lwm2m_endpoint *ep);

/* ==== bootstrap.c block: the client side of the Bootstrap interface (bootstrap.c, bs_ops.c,
 * bs_state.c; bs_internal.h). The hooks other files call: ==== */

/* engine.c, lwm2m_endpoint_add(): makes ep->bs for cfg->bootstrap and loads the saved state;
 * *saved then holds the servers it gives (n, malloc'd, caller frees; 0 without a valid state).
 * Returns 0, LWM2M_ERR_INVALID (bootstrap URI) or LWM2M_ERR_NOMEM. */
struct lwm2m_bs_server;
int lwm2m_bs_new(struct lwm2m_endpoint *ep, const struct lwm2m_endpoint_cfg *cfg,
                 struct lwm2m_bs_server **saved, size_t *n);
/* engine.c: frees ep->bs (lwm2m_endpoint_free). */
void lwm2m_bs_free(struct lwm2m_endpoint *ep);
/* engine.c: ep has no server: bootstrap now, or on the next loop pass when defer. */
void lwm2m_bs_begin(struct lwm2m_endpoint *ep, bool defer);
/* engine.c: the bootstrap server's address (ep->bs must exist). */
const struct coap_addr *lwm2m_bs_addr(const struct lwm2m_endpoint *ep);
/* dm.c: true when peer is the bootstrap server of a bootstrap in progress; its requests then go
 * to lwm2m_bs_handle() instead of the DM interface. */
bool lwm2m_bs_is_peer(const struct lwm2m_endpoint *ep, const struct coap_addr *peer);
int lwm2m_bs_handle(struct lwm2m_endpoint *ep, struct coap_endpoint *cep,
                    const struct coap_incoming *in);
/* registration.c: a Register of s failed (s->retries counts them): the fallback check. */
void lwm2m_bs_reg_failed(struct lwm2m_server *s);
/* server_obj.c: /1/x/9 executed (after its 2.04). */
void lwm2m_bs_trigger(struct lwm2m_endpoint *ep);
/* engine_dtls.c: the DTLS session to the bootstrap server failed (why borrowed). */
void lwm2m_bs_link_failed(struct lwm2m_endpoint *ep, const struct coap_addr *peer, const char *why);

/* dm.c: the CoAP request handler of every endpoint. */
int lwm2m_dm_handle(void *ctx, struct coap_endpoint *cep, const struct coap_incoming *in);
/* dm.c: frees the endpoint's Write-Attributes store. */
void lwm2m_dm_free(struct lwm2m_endpoint *ep);

/* The server whose address matches peer, or NULL. */
struct lwm2m_server *lwm2m_server_by_addr(struct lwm2m_endpoint *ep, const struct coap_addr *peer);

/* ==== dm.c block: Device Management & Service Enablement (dm.c, dm_*.c, server_obj.c) ======== */

/* The operation a result belongs to: it decides the success code and how a few errors read. */
enum lwm2m_dm_op {
    LWM2M_DM_OP_READ = 0,
    LWM2M_DM_OP_DISCOVER,
    LWM2M_DM_OP_WRITE,
    LWM2M_DM_OP_WRITE_ATTR,
    LWM2M_DM_OP_EXECUTE,
    LWM2M_DM_OP_CREATE,
    LWM2M_DM_OP_DELETE,
    LWM2M_DM_OP_READ_COMPOSITE,
    LWM2M_DM_OP_WRITE_COMPOSITE,
    LWM2M_DM_OP_OBSERVE,
};

/* Results of the DM layer that error.h has no word for (never returned by public functions). */
enum lwm2m_dm_err {
    LWM2M_DM_ERR_UNAUTHORIZED = -64,   /* 4.01: Security/OSCORE object, or not one of our servers */
    LWM2M_DM_ERR_NOT_ALLOWED = -65,    /* 4.05: the operation is not allowed on that target */
    LWM2M_DM_ERR_NOT_ACCEPTABLE = -66, /* 4.06: an Accept we cannot produce for that target */
    LWM2M_DM_ERR_BAD_CT = -67,         /* 4.15: a Content-Format we cannot take there */
    LWM2M_DM_ERR_INTERNAL = -68,       /* 5.00: e.g. a provider value that fits no format */
};

/* The one place LWM2M_ERR_* and LWM2M_DM_ERR_* become CoAP response codes (STYLE.md); err 0
 * gives op's success code (2.05, 2.04, 2.01 or 2.02). */
uint8_t lwm2m_err_to_coap(int err, enum lwm2m_dm_op op);

/* Notification attributes (TS Core 1.1.1 §5.1.2, 1.2 adds edge, con, hqmax). */
enum lwm2m_attr_bit {
    LWM2M_ATTR_PMIN = 1u << 0,
    LWM2M_ATTR_PMAX = 1u << 1,
    LWM2M_ATTR_GT = 1u << 2,
    LWM2M_ATTR_LT = 1u << 3,
    LWM2M_ATTR_ST = 1u << 4,
    LWM2M_ATTR_EPMIN = 1u << 5,
    LWM2M_ATTR_EPMAX = 1u << 6,
    LWM2M_ATTR_EDGE = 1u << 7,
    LWM2M_ATTR_CON = 1u << 8,
    LWM2M_ATTR_HQMAX = 1u << 9,
};

struct lwm2m_attrs {
    uint16_t set;      /* LWM2M_ATTR_* bits of the fields that hold a value */
    uint8_t edge, con; /* 0 or 1 */
    uint32_t pmin, pmax, epmin, epmax, hqmax;
    double gt, lt, st;
};

/* For observe.c: the attributes in force for server s at p, inherited object → instance →
 * resource → resource instance (a lower level wins), then pmin/pmax from the Server object's
 * default (/1/x/2, /1/x/3 when non-zero) where no level set them. Always returns 0. */
int lwm2m_attr_effective(const struct lwm2m_endpoint *ep, const struct lwm2m_server *s,
                         const struct lwm2m_path *p, struct lwm2m_attrs *out);

/* For observe.c: encodes a Read of p for server s as a GET with Accept accept (-1: none) would
 * get it. On 0 *body is malloc'ed (caller frees; NULL with *len 0 for an empty read) and *ct is
 * the Content-Format; otherwise the error for lwm2m_err_to_coap(err, LWM2M_DM_OP_READ). */
int lwm2m_dm_read_encode(struct lwm2m_endpoint *ep, struct lwm2m_server *s,
                         const struct lwm2m_path *p, int accept, uint8_t **body, size_t *len,
                         uint16_t *ct);

#endif /* LWM2M_ENGINE_INTERNAL_H */
