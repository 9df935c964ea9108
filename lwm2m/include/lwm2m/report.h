/* SPDX-License-Identifier: Apache-2.0 */
/* The Information Reporting interface as the owner (the bridge) sees it: mark changed paths (the
 * engine coalesces them and evaluates each observation's notification attributes once per loop
 * pass), Send (LwM2M 1.1, POST /dp), per-endpoint reporting options and the counters for /metrics.
 */
#ifndef LWM2M_REPORT_H
#define LWM2M_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lwm2m/engine.h"
#include "lwm2m/value.h"

/* Marks p (any depth; the root marks everything) as changed on ep. Cheap and safe to call many
 * times per loop pass, and from inside engine callbacks: it only sets flags and activates one
 * deferred event per endpoint; notifications go out when that event runs, at most one per
 * observation per pass. */
void lwm2m_endpoint_changed(struct lwm2m_endpoint *ep, const struct lwm2m_path *p);

/* Reporting options of one endpoint. */
struct lwm2m_report_cfg {
    /* Notifications are CON when true, NON otherwise, unless the observation's "con" attribute
     * (LwM2M 1.2) says otherwise. */
    bool notify_con;
    /* A NON stream sends every con_every-th notification as CON, so that a server that forgot
     * the observation answers RST or times out and the observation ends (RFC 7641 §4.5). 0 → 16. */
    uint16_t con_every;
    /* Send (POST /dp): its content format, SenML CBOR (112, the default when 0) or SenML JSON. */
    uint16_t send_ct;
    /* Automatic Send of send_paths: on every change of one of them (coalesced per loop pass),
     * every send_period_s seconds (0 = never), or both. The paths are copied. */
    const struct lwm2m_path *send_paths;
    size_t send_npaths;
    bool send_on_change;
    uint32_t send_period_s;
    /* Store-and-forward, for the servers whose Notification Storing (/1/x/6) is true: what is
     * due for Notify or Send goes through a per-server queue, delivered in order one CON at a
     * time and kept while the server cannot be reached or the endpoint sleeps, bounded (the
     * oldest dropped first, counted), in state_dir so that a restart keeps it (NULL: in memory
     * only). An observation's hqmax attribute (LwM2M 1.2) bounds its own entries (the oldest of
     * them dropped first, counted apart); hqmax=0 keeps none: its notifications go out directly,
     * lost while the server cannot be reached, and the observation outlives that. Kept values
     * reach the server timestamped (SenML "t"): as notifications when the observation still
     * exists and its format is SenML, else as Send (LwM2M 1.1+). Gateway mode: a hosted
     * device's values go through its own queue (set on its view), an
     * Observe-Composite spanning several devices through the gateway endpoint's queue (set on
     * it), each value under the prefix its device has at delivery; the values of a device
     * removed by then are left out. */
    const char *state_dir;
    uint32_t store_max_entries; /* 0 → 1000 */
    uint32_t store_max_bytes;   /* 0 → 256 KiB */
    /* Durability of the queues in state_dir, engine-wide (the last endpoint given a state_dir
     * sets it for all): the queues changed since their last write are written together every
     * store_sync_ms (one syncfs for the batch; thousands of queues are spread over consecutive
     * loop passes), so a power loss loses at most the values queued in the last store_sync_ms
     * (plus the time a large batch takes). An endpoint removed, the servers replaced by a
     * bootstrap and the engine freed (a clean stop) write their queues at once. 0 → 1000. */
    uint32_t store_sync_ms;
};

/* Sets ep's reporting options (copied). Returns 0, LWM2M_ERR_INVALID or LWM2M_ERR_NOMEM. */
int lwm2m_endpoint_set_report(struct lwm2m_endpoint *ep, const struct lwm2m_report_cfg *cfg);

/* Store-and-forward queues of an endpoint or hosted device (its view) removed for good, e.g. a
 * device deleted from the configuration: drops what they hold (counted as kept_dropped), deletes
 * their files in state_dir and queues nothing more for ep until lwm2m_endpoint_set_report.
 * Call it before lwm2m_endpoint_remove or lwm2m_endpoint_remove_device; a removal without it
 * (shutdown, a device that is only down) keeps the files for the next run. Returns 0,
 * LWM2M_ERR_IO (a file could not be deleted) or LWM2M_ERR_INVALID. */
int lwm2m_endpoint_discard_queues(struct lwm2m_endpoint *ep);

/* Deletes the queue file in state_dir of an endpoint that no longer exists (its queues were
 * closed when it went away), for the server ssid: the endpoint named endpoint, or with prefix
 * (no '/') the device hosted under that prefix by the gateway endpoint named endpoint. Returns 0
 * (also when there was no file), LWM2M_ERR_IO or LWM2M_ERR_INVALID. */
int lwm2m_queue_remove(const char *state_dir, const char *endpoint, const char *prefix,
                       uint16_t ssid);

/* Sends the current values of paths[0..n) (copied) as one SenML pack with timestamps, POST /dp,
 * to every server of ep that is registered with LwM2M 1.1 or later and has not muted Send
 * (/1/x/23). Returns 0 when it went to at least one server, LWM2M_ERR_STATE when every server is
 * muted, not registered or speaks 1.0, LWM2M_ERR_NOTFOUND when no path could be read,
 * LWM2M_ERR_INVALID or LWM2M_ERR_NOMEM. */
int lwm2m_endpoint_send(struct lwm2m_endpoint *ep, const struct lwm2m_path *paths, size_t n);

/* Counters of the reporting layer over the whole engine (/metrics). */
struct lwm2m_report_stats {
    uint64_t observations;    /* active now (a gauge) */
    uint64_t observe_started; /* Observe / Observe-Composite requests accepted */
    uint64_t observe_ended;   /* ended by cancel, RST, failed CON, re-/de-registration */
    uint64_t notifications;   /* notifications sent (first responses not counted) */
    uint64_t notify_con, notify_non;
    uint64_t notify_dropped; /* due but could not be built or sent (read error, no memory) */
    uint64_t sends;          /* Send requests sent */
    uint64_t send_muted;     /* Send requests not sent because the server muted Send */
    uint64_t send_failed;    /* Send answered with an error or timed out */
    uint64_t kept;           /* values queued by store-and-forward */
    uint64_t kept_delivered; /* ... and acknowledged by the server */
    uint64_t kept_dropped;   /* ... and dropped: undeliverable (1.0 server without the
                                observation, muted Send, rejected, every device of a queued
                                cross-device notification gone); the queue bound's drops are
                                lwm2m_sf_dropped() per store */
    uint64_t kept_overflow;  /* queued values dropped (oldest first) to fit a queue's bounds */
    uint64_t kept_hqmax;     /* queued notifications dropped (oldest first) to keep their
                                observation's Maximum Historical Queue (hqmax, LwM2M 1.2) */
    uint64_t kept_syncs;     /* batches that wrote queues to state_dir (one syncfs each) */
    uint64_t kept_synced;    /* ... queue files they wrote or deleted */
    uint64_t kept_sync_err;  /* ... queue writes that failed (the queue waits for the next) */
};

const struct lwm2m_report_stats *lwm2m_engine_report_stats(const struct lwm2m_engine *e);

/* Observations of ep now (for tests and the status API). */
size_t lwm2m_endpoint_observations(const struct lwm2m_endpoint *ep);

#endif /* LWM2M_REPORT_H */
