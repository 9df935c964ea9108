/* SPDX-License-Identifier: Apache-2.0 */
/* The adapter interface: what every bus adapter (Modbus, MQTT) offers the bridge, and the sink
 * through which it hands values, states and write completions back. Adapters never see lwm2m/;
 * the bridge maps these adapter-level values to LwM2M values. */
#ifndef GW_ADAPTER_H
#define GW_ADAPTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;

/* Value types an adapter produces or accepts for writing. */
enum adapter_vtype {
    ADAPTER_V_NONE = 0, /* no value: the quality says why */
    ADAPTER_V_BOOL,
    ADAPTER_V_INT,    /* int64_t */
    ADAPTER_V_UINT,   /* uint64_t */
    ADAPTER_V_DOUBLE, /* double */
    ADAPTER_V_STRING, /* UTF-8 or ASCII bytes, not NUL-terminated */
    ADAPTER_V_BYTES,  /* opaque bytes */
};

/* How trustworthy a value is. Anything but GOOD comes with type NONE. */
enum adapter_quality {
    ADAPTER_Q_GOOD = 0,
    ADAPTER_Q_TIMEOUT,      /* the unit did not answer (or is in back-off after not answering) */
    ADAPTER_Q_EXCEPTION,    /* the unit answered with a protocol exception (code in .exception) */
    ADAPTER_Q_DISCONNECTED, /* the link (TCP connection, serial port) is down */
    ADAPTER_Q_BAD_DATA,     /* an answer arrived but could not be decoded (CRC, length, range) */
};

/* A value with its quality and timestamp. Owned by whoever built it; bytes/string are borrowed
 * from that owner: in a sink callback they are valid only until the callback returns, and in
 * write_point only until write_point returns (the adapter encodes or copies them at once). */
struct adapter_value {
    uint8_t type;      /* enum adapter_vtype */
    uint8_t quality;   /* enum adapter_quality */
    uint8_t exception; /* protocol exception code when quality is EXCEPTION, else 0 */
    uint64_t ts_ms;    /* wall-clock time of the read, ms since the Unix epoch; 0 = unknown */
    union {
        bool b;
        int64_t i;
        uint64_t u;
        double f;
        struct {
            const uint8_t *ptr; /* borrowed, see above */
            size_t len;
        } bytes; /* STRING, BYTES */
    } v;
};

/* States reported through on_state, for a whole adapter (scope NULL) or one device. */
enum adapter_state {
    ADAPTER_STATE_UP = 0, /* connected / the device answers */
    ADAPTER_STATE_DOWN,   /* connection lost, port failed, or the device stopped answering */
};

/* How a write ended. */
enum adapter_write_status {
    ADAPTER_WRITE_OK = 0,
    ADAPTER_WRITE_EXCEPTION,    /* protocol exception, code in .exception */
    ADAPTER_WRITE_TIMEOUT,      /* no answer within the link's timeout */
    ADAPTER_WRITE_DISCONNECTED, /* the link was down */
    ADAPTER_WRITE_MISMATCH,     /* written, but the read-back returned something else */
    ADAPTER_WRITE_FAILED,       /* any other I/O error, or cancelled by stop/destroy */
};

struct adapter_write_result {
    uint8_t status;    /* enum adapter_write_status */
    uint8_t exception; /* protocol exception code for ADAPTER_WRITE_EXCEPTION */
    int err;           /* 0 or a negative errno for logs */
};

/* The sink: the bridge's callbacks. Every callback runs on the loop thread (the thread that runs
 * the event_base given to create), never on an adapter worker thread. point_user, scope and req
 * are the opaque pointers the bridge put into the configuration or passed to write_point; the
 * adapter never dereferences them. Any callback may be NULL. A callback may call write_point,
 * but must not stop or destroy the adapter that called it (defer that to the next loop pass). */
struct adapter_sink {
    /* A new reading (or a change of quality) of one point. */
    void (*on_value)(void *ctx, void *point_user, const struct adapter_value *v);
    /* The adapter (scope NULL) or one device (scope = its user pointer) went up or down.
     * detail is a short human-readable reason, borrowed for the call. */
    void (*on_state)(void *ctx, void *scope, enum adapter_state st, const char *detail);
    /* Completion of one write_point call; exactly once per accepted write. */
    void (*on_write_done)(void *ctx, void *req, const struct adapter_write_result *r);
    /* A device appeared (MQTT topic discovery); name and source borrowed for the call. */
    void (*on_discovered)(void *ctx, const char *device, const char *source);
    void *ctx;
};

struct adapter;

/* The operations of one adapter kind. Instances embed struct adapter as their first member, and
 * recover themselves from it (container_of). All operations are called on the loop thread. */
struct adapter_ops {
    const char *kind; /* "modbus", "mqtt" */
    /* Builds an adapter from cfg (the kind's own config struct, e.g. struct mb_adapter_cfg). The
     * adapter copies what it keeps from cfg; cfg may be freed after create returns, but the user
     * pointers inside it are stored as they are. sink is copied. Returns 0 or a negative errno. */
    int (*create)(const void *cfg, struct event_base *base, const struct adapter_sink *sink,
                  struct adapter **out);
    /* Starts I/O (threads, connections). Returns 0 or a negative errno. */
    int (*start)(struct adapter *a);
    /* Stops I/O and waits for worker threads; queued writes complete with ADAPTER_WRITE_FAILED
     * before stop returns. The adapter may be started again. */
    void (*stop)(struct adapter *a);
    /* Queues a write of v to the point whose user pointer is point_user. v is borrowed for the
     * call only. On 0 the completion arrives later through on_write_done(req); on a negative
     * errno (-ENOENT unknown point, -EPERM not writable, -ERANGE/-EINVAL value does not fit,
     * -ENOSPC queue full, -ENOTCONN not started) there is no completion. */
    int (*write_point)(struct adapter *a, void *point_user, const struct adapter_value *v,
                       void *req);
    /* Stops if needed and frees everything. */
    void (*destroy)(struct adapter *a);
};

struct adapter {
    const struct adapter_ops *ops;
};

#define ADAPTER_CONTAINER_OF(ptr, type, member)                                                    \
    ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* Short names for logs and tools ("good", "timeout", ...; "ok", "exception", ...). */
const char *adapter_quality_name(enum adapter_quality q);
const char *adapter_write_status_name(enum adapter_write_status s);

#endif /* GW_ADAPTER_H */
