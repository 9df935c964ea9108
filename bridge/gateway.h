/* SPDX-License-Identifier: Apache-2.0 */
/* The gateway: the one object that owns the loop, the loaded config, the data model, the engine,
 * the virtual devices with their endpoints, the adapter instances and the HTTP listener, and
 * wires them together. Internal to bridge/ (gateway.c, gw_reload.c, gw_adapt.c, http.c). */
#ifndef GW_GATEWAY_H
#define GW_GATEWAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "adapter.h"
#include "cfg.h"
#include "device.h"
#include "log.h"
#include "lwm2m/engine.h"

struct event;
struct event_base;
struct gw;
struct gw_http;

/* One adapter instance (a Modbus link, an MQTT broker connection). */
struct gw_adapter {
    struct gw *gw;
    const struct cfg_adapter *cfg; /* borrowed from gw->cfg (re-pointed on reload) */
    char *name;                    /* owned */
    struct adapter *a;             /* owned; NULL when this adapter kind cannot run yet */
    struct adapter_sink sink;      /* ctx = this struct */
    bool up;                       /* the adapter's own state (connection) */
    bool reconnect;                /* a Device Reboot asked for a reconnect */
    struct gw_adapter *next;
};

/* The provider context of one endpoint: dev is NULL once the device let go of the endpoint
 * (removed, or deregistered while down); the handle then waits, as a tombstone, until the engine
 * has freed the endpoint, because the engine may still report its De-register. */
struct gw_handle {
    struct br_device *dev; /* first member: device.c reads it through the provider context */
    struct gw_handle *next;
};

#define GW_MAX_SERVERS 16 /* lwm2m.servers[] an endpoint registers with */
#define GW_URI_MAX     96 /* "coaps://[IPv6%scope]:port" */
#define GW_BS_SLOT     GW_MAX_SERVERS
/* lwm2m.servers[] with numeric addresses, then (at GW_BS_SLOT) lwm2m.bootstrap's. A type of its
 * own so that every copy has the right size (the compiler checks pointers to it). */
typedef char gw_uri_table[GW_MAX_SERVERS + 1][GW_URI_MAX];

struct gw {
    struct event_base *base;
    struct br_log log;
    const struct cfg *cfg; /* owned */
    char *cfg_path;        /* owned */
    struct lwm2m_model *model;
    struct lwm2m_engine *eng;
    struct br_env env;
    struct br_stats stats;
    struct br_device *devices; /* owned list */
    size_t ndevices;
    struct gw_adapter *adapters; /* owned list */
    struct gw_handle *tombs;     /* owned list */
    struct gw_http *http;        /* owned; NULL when disabled */
    struct event *ev_hup, *ev_term, *ev_int, *ev_gc, *ev_reboot, *ev_stop_timer;
    bool stopping;
    uint64_t started_mono;
    uint64_t progress_mono; /* last "registered N/M" line */
    size_t progress_reg;
    struct br_device *graveyard; /* owned: gone discovered devices waiting for their writes */
    struct lwm2m_endpoint *host; /* gateway mode: the one endpoint (the engine owns it) */
    void *host_ctx;              /* ... and its provider context (owned, freed at teardown) */
    uint64_t reloads, reload_failures;
    gw_uri_table server_uri;
    struct gw_dns *dns; /* owned; NULL while no server is named by a host name */
};

/* Loads path and runs until SIGTERM/SIGINT. Returns the process exit status: 0 after a clean
 * stop, 2 for a config that cannot run (errors printed), 1 for a start-up failure. */
int gw_run(const char *path);

/* gateway.c, for gw_reload.c: endpoints, devices, adapters. */
int gw_endpoint_attach(struct gw *g, struct br_device *d);
/* Servers an endpoint registers with, from lwm2m.servers, with the PSK identities expanded for
 * device (NULL: the gateway's own endpoint). Strings other than the identities stay owned by the
 * config. */
#define GW_IDENTITY_MAX 256
struct gw_servers {
    struct lwm2m_server_cfg srv[GW_MAX_SERVERS + 1]; /* [GW_BS_SLOT]: the bootstrap server */
    char identity[GW_MAX_SERVERS + 1][GW_IDENTITY_MAX];
    size_t n;
    const struct lwm2m_server_cfg *bootstrap; /* &srv[GW_BS_SLOT], or NULL */
};
void gw_server_cfgs(const struct gw *g, const char *device, struct gw_servers *out);
/* gw_resolve.c: lwm2m.servers[] of cfg as URIs with numeric addresses (host names resolved now,
 * blocking: call it before the loop runs or while it may wait). Returns 0, or -1 logged. */
int gw_resolve_servers(const struct cfg *cfg, struct br_log *log, gw_uri_table *uris);
/* gw_resolve.c, while running: gw_dns_apply (start, after each reload) sets up the lookups of
 * named servers every lwm2m.dns.refresh on the loop (0, or -1 logged); gw_dns_kick asks for one
 * soon (a registration failed); gw_dns_cancel stops them (SIGTERM); gw_dns_free before the engine
 * goes. A host at a new address updates g->server_uri and calls gw_servers_moved. */
int gw_dns_apply(struct gw *g);
void gw_dns_kick(struct gw *g);
void gw_dns_cancel(struct gw *g);
void gw_dns_free(struct gw *g);
/* gw_reload.c: every endpoint registers anew with the servers of g->server_uri. */
void gw_servers_moved(struct gw *g);
void gw_endpoint_detach(struct gw *g, struct br_device *d);
int gw_devices_create(struct gw *g, const struct cfg *cfg, bool (*skip)(struct gw *, const char *));
void gw_adapter_free(struct gw_adapter *ga);
int gw_adapters_create(struct gw *g);
/* Builds a device of cd (name/endpoint as br_device_new takes them) and adds it to g->devices,
 * without an endpoint yet. Returns 0 or an LwM2M error. */
int gw_device_add(struct gw *g, const struct cfg_device *cd, const char *name, const char *endpoint,
                  struct br_device **out);
/* Takes d out of g->devices: deregisters its endpoint and frees it once no bus write of it is
 * pending (adapters must hold none of its point pointers any more). */
void gw_device_release(struct gw *g, struct br_device *d);
/* The device of the current config named name, or NULL. */
struct br_device *gw_device_find(struct gw *g, const char *name);
/* 0 when `run` can serve cfg; otherwise prints why on stderr and returns -1. */
int gw_cfg_runnable(const struct cfg *cfg);
/* Applies the process-wide settings of g->cfg that may change on reload (log level). */
void gw_apply_settings(struct gw *g);

/* gw_host.c: `lwm2m.mode: gateway`. gw_host_attach adds d as an IoT device of the one
 * endpoint (made on first use); gw_host_detach removes it at once; gw_host_close deregisters the
 * endpoint (stop); gw_host_registered sets every hosted device's state. */
bool gw_host_mode(const struct gw *g);
int gw_host_attach(struct gw *g, struct br_device *d);
void gw_host_detach(struct gw *g, struct br_device *d);
void gw_host_close(struct gw *g);
/* Closes the endpoint for good (reload: other servers, settings or mode); the next attach opens
 * a new one with the current settings. */
void gw_host_retire(struct gw *g);
void gw_host_registered(struct gw *g, bool reg);

/* gw_report.c: creates gateway.state_dir when lwm2m.store needs it (0, or a negative errno,
 * logged); sets the reporting options of g->cfg on d's endpoint (0 or an LwM2M error, logged;
 * nothing without an endpoint). */
int gw_state_dir_prepare(struct gw *g, const struct cfg *cfg);
int gw_report_apply(struct gw *g, struct br_device *d);
/* gw_report.c: d is deleted from the configuration (before it is detached): its
 * store-and-forward queues and their files in gateway.state_dir go too; logged. A device that
 * is only down, changed or stopped keeps them. */
void gw_report_forget(struct gw *g, struct br_device *d);
/* Gateway mode: notifications and store-and-forward of the gateway's own endpoint. */
int gw_report_apply_host(struct gw *g);

/* gw_reload.c: SIGHUP. Loads the file again and applies the difference; on an invalid file
 * logs its errors and keeps running with the old config. */
void gw_reload(struct gw *g);

/* gw_adapt.c: builds one adapter instance for the devices in devs (those of ga->cfg) and sets
 * each resource's write user pointer. Returns 0 (ga->a may stay NULL for a kind that cannot run
 * yet, logged) or a negative errno. */
int gw_adapter_build(struct gw *g, struct gw_adapter *ga, struct br_device **devs, size_t ndevs);

/* gw_mqtt.c: the MQTT adapter instance of ga (configured devices devs, and the discovery rules
 * of g->cfg that use ga), and the sink's on_discovered (ctx is the gw_adapter). */
int gw_mq_build(struct gw *g, struct gw_adapter *ga, struct br_device **devs, size_t ndevs);
void gw_mq_on_discovered(void *ctx, const char *device, const char *source);

/* http.c: the HTTP listener (/healthz, /readyz, /metrics, /api/v1/devices). */
int gw_http_start(struct gw *g, const char *host, uint16_t port, struct gw_http **out);
void gw_http_free(struct gw_http *h);

#endif /* GW_GATEWAY_H */
