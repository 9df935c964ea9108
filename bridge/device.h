/* SPDX-License-Identifier: Apache-2.0 */
/* Virtual devices: one per configured device, each the provider of its own LwM2M endpoint. A
 * device owns its bound resources (with their point caches) and serves the Device object (3)
 * from the profile and the bridge. The gateway owns the devices, their endpoints and adapters;
 * a device only borrows its cfg_device (re-pointed to the new config when a reload keeps it). */
#ifndef BR_DEVICE_H
#define BR_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "adapter.h"
#include "cfg.h"
#include "log.h"
#include "lwm2m/engine.h"
#include "point.h"

struct br_device;
struct br_res;

/* Counters the devices add to (shown by /metrics); owned by the gateway. */
struct br_stats {
    uint64_t values;        /* adapter values received */
    uint64_t value_drops;   /* adapter values that did not fit the resource type */
    uint64_t changes;       /* values that changed what a server sees */
    uint64_t reads_stale;   /* Reads answered 5.03 (stale or no value) */
    uint64_t writes;        /* bus writes started */
    uint64_t write_errors;  /* bus writes that failed */
    uint64_t write_ms_sum;  /* total bus write latency, ms */
    uint64_t write_done;    /* bus writes completed (the latency count) */
    uint64_t registrations; /* REGISTERED events */
    uint64_t reg_failures;  /* REGISTER_FAILED / TIMEOUT / NETWORK_ERROR events */
    uint64_t updates;       /* UPDATED events */
    uint64_t deregistrations;
};

/* What every device shares; owned by the gateway, outlives its devices. */
struct br_env {
    const struct br_log *log;
    const struct lwm2m_model *model; /* sealed */
    const struct coap_clock *clock;  /* NULL = system clock */
    struct br_stats *stats;
    const char *binding; /* /3/0/16 */
    /* Device object Reboot (/3/0/4): the gateway reconnects and re-reads the device's adapter
     * (after the response went out). */
    void (*reboot)(void *ctx, struct br_device *d);
    void *ctx;
};

/* An adapter user pointer: which resource a point feeds, and whether its values are the
 * resource's value (a separate write register's values are not). */
struct br_tap {
    struct br_res *res;
    bool feeds;
};

/* One bound resource of a device. */
struct br_res {
    uint16_t obj, inst, id;
    const struct cfg_binding *b;          /* borrowed from the device's current cfg */
    const struct lwm2m_resource_def *def; /* from the model */
    struct br_point pt;
    struct br_device *dev;
    struct br_tap rtap, wtap; /* the adapter mapping points user pointers here */
    void *wuser;              /* the user pointer to write through; NULL = not writable */
    bool assume_written;      /* no read-back: a successful write sets the cache */
};

enum br_dev_state {
    BR_DEV_REGISTERING = 0, /* endpoint added, not registered with every server yet */
    BR_DEV_REGISTERED,
    BR_DEV_DOWN_DEREGISTERED, /* the link stayed down: endpoint removed until it is back */
    BR_DEV_STOPPING,
};

struct br_device {
    const struct br_env *env;
    const struct cfg_device *cfg; /* borrowed, see above */
    char *name;                   /* owned */
    char *endpoint;               /* owned: the expanded endpoint name */
    struct br_res *res;           /* owned, sorted by (obj, inst, id) */
    size_t nres;
    struct adapter *adapter;   /* set by the gateway; NULL when no adapter serves the device */
    struct lwm2m_endpoint *ep; /* owned by the engine; NULL while deregistered */
    struct lwm2m_gwdev *gwdev; /* gateway mode: the device on the gateway's endpoint, or NULL */
    char prefix[25];           /* gateway mode: its path prefix, kept while down ("" before) */
    void *handle;              /* the gateway's provider context for ep */
    enum br_dev_state state;
    bool up;                  /* the adapter says the device answers (true until told otherwise) */
    uint64_t down_mono;       /* when it went down */
    char detail[80];          /* the adapter's last state detail */
    uint32_t stale_ms;        /* Reads of values older than this while down answer 5.03 */
    int64_t time_offset_s;    /* /3/0/13 as written by a server, relative to our clock */
    uint64_t registered_mono; /* when it last registered (for the status API) */
    struct event *down_timer; /* owned by the gateway */
    bool discovered;          /* created by an MQTT discovery rule (cfg is the rule) */
    bool gone;                /* discovered and gone: waits for its writes, then is freed */
    uint32_t writes_pending;  /* bus writes not completed yet (their requests point here) */
    struct br_device *next;   /* the gateway's list */
};

/* Builds a device from cfg with its constants set; resources the model does not know are logged
 * and left out. name and endpoint (copied) are NULL for a configured device (cfg_device's are
 * used) and given for one a discovery rule found. Returns 0, LWM2M_ERR_NOMEM or
 * LWM2M_ERR_INVALID. */
int br_device_new(const struct br_env *env, const struct cfg *cfg, const struct cfg_device *d,
                  const char *name, const char *endpoint, struct br_device **out);
/* How old a down device's values may get before Reads answer 5.03: the device's stale_after, the
 * gateway's, else three poll periods and at least 10 s (a slow bus must not flap into 5.03). */
uint32_t br_stale_ms(const struct cfg *cfg, const struct cfg_device *d);
/* Frees the device; its endpoint must be gone and no adapter may still hold its pointers. */
void br_device_free(struct br_device *d);
/* Points the device at an equal cfg_device (or discovery rule) of a newly loaded config. */
void br_device_rebind(struct br_device *d, const struct cfg_device *nd);

/* The provider; pctx is a pointer to a struct br_device *slot (the gateway's handle) whose
 * value is NULL once the device is gone, so late calls are harmless. */
extern const struct lwm2m_provider br_device_provider;

/* Adapter sink entry points (the gateway dispatches to them). */
void br_device_on_value(struct br_tap *tap, const struct adapter_value *v);
void br_device_on_state(struct br_device *d, enum adapter_state st, const char *detail);
void br_device_on_write_done(void *req, const struct adapter_write_result *r);

/* The LwM2M error a failed adapter write maps to (one place): exception "illegal data value"
 * → LWM2M_ERR_INVALID (4.00), other exceptions and mismatches → LWM2M_ERR_IO (5.02), timeout →
 * LWM2M_ERR_TIMEOUT (5.04), link down → LWM2M_ERR_AGAIN (5.03). */
int br_write_status_to_lwm2m(const struct adapter_write_result *r);
/* The same for a negative errno returned by write_point. */
int br_write_errno_to_lwm2m(int err);

/* Device object (3) error code now: 0, or 8 (peripheral malfunction) while the device is down. */
int br_device_error_code(const struct br_device *d);
/* Marks a path of the device as changed for observers (no-op without an endpoint). */
void br_device_changed(struct br_device *d, uint16_t obj, uint16_t inst, uint16_t res);

#endif /* BR_DEVICE_H */
