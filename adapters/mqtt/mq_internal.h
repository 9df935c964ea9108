/* SPDX-License-Identifier: Apache-2.0 */
/* Internal interfaces of the MQTT adapter: the broker client on the libevent loop (mq_client.c)
 * and what it reports to the adapter (mq_adapter.c), and the JSON scanner of the codec. Not for
 * the bridge: it includes mq.h only. */
#ifndef GW_MQ_INTERNAL_H
#define GW_MQ_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mq.h"

struct event_base;
struct mq_client;

/* What the client reports, always on the loop thread and never from inside a client call made
 * by the adapter (mq_client_publish reports a synchronous completion through its out-params). */
struct mq_client_events {
    void (*connected)(void *ctx, bool session_present);
    /* The connection is gone (or a connect attempt failed); the client backs off and retries.
     * detail is a short reason, borrowed for the call. */
    void (*disconnected)(void *ctx, const char *detail);
    /* One PUBLISH. topic and payload are borrowed for the call. */
    void (*message)(void *ctx, const char *topic, const uint8_t *payload, size_t len, bool retain);
    /* A command publish finished: QoS 0 written, QoS 1 PUBACK, QoS 2 PUBCOMP. reason is the
     * MQTT 5 reason code (0 for MQTT 3.1.1); >= 0x80 means the broker refused it. */
    void (*published)(void *ctx, int mid, int reason);
    void *ctx;
};

/* Creates a client for conn (copied; secrets resolved now). Returns 0, -EINVAL (bad config or an
 * unreadable secret), -ENOMEM, or -EIO (libmosquitto refused an option, e.g. a TLS file). */
int mq_client_new(struct event_base *base, const struct mq_conn_cfg *conn,
                  const struct mq_client_events *ev, struct mq_client **out);
/* Adds a subscription made on every (re)connect. Before start only. */
int mq_client_subscribe(struct mq_client *c, const char *filter, uint8_t qos);
/* Starts connecting (and keeps reconnecting with back-off until stop). */
int mq_client_start(struct mq_client *c);
/* Sends DISCONNECT when connected and stops all I/O and timers. */
void mq_client_stop(struct mq_client *c);
void mq_client_free(struct mq_client *c);
bool mq_client_is_connected(const struct mq_client *c);
/* Socket-readable events handled so far (for mq_stats.read_events). */
uint64_t mq_client_read_events(const struct mq_client *c);
/* Publishes a command. Returns 0 with *mid set, -ENOTCONN (not connected: QoS 0 cannot be queued),
 * -EINVAL or -EIO. When the publish completed inside this call (QoS 0 written at once), *done is
 * true and *reason holds its reason code; the events.published callback is not called for it. */
int mq_client_publish(struct mq_client *c, const char *topic, const uint8_t *payload, size_t len,
                      uint8_t qos, bool retain, int *mid, bool *done, int *reason);
/* Milliseconds of CLOCK_MONOTONIC (timeouts) and of CLOCK_REALTIME (value timestamps). */
uint64_t mq_now_mono_ms(void);
uint64_t mq_now_wall_ms(void);

/* ---- JSON fast path (mq_jscan.c) --------------------------------------------------------------
 */

#define MQ_JP_TOKEN_MAX 512 /* longest JSON pointer reference token we resolve */

enum mq_jkind { MQ_J_NULL, MQ_J_FALSE, MQ_J_TRUE, MQ_J_INT, MQ_J_REAL, MQ_J_STRING, MQ_J_STRUCT };

/* The value a pointer names, as the scanner found it. */
struct mq_jval {
    enum mq_jkind kind;
    const uint8_t *p; /* MQ_J_STRING: the body between the quotes, in the payload */
    size_t n;
    bool escaped; /* MQ_J_STRING: has backslash escapes (decode with mq_jscan_unescape) */
    int64_t i;    /* MQ_J_INT */
    double f;     /* MQ_J_REAL */
};

/* Walks payload to pointer without allocating. Returns 0 with *out set, -ENOENT when the
 * document is valid JSON and the pointer names nothing in it, or -EAGAIN when the scanner leaves
 * the document to jansson (malformed, or outside the subset it handles: escaped keys, nesting
 * deeper than 32, integers of more than 18 digits, long reals, a pointer jp_token refuses). */
int mq_jscan_find(const uint8_t *payload, size_t len, const char *pointer, struct mq_jval *out);
/* Decodes the escapes of a string body the scanner accepted into dst (room for n bytes: the
 * decoded text is never longer). Returns the decoded length. */
size_t mq_jscan_unescape(const uint8_t *p, size_t n, uint8_t *dst);
/* Strict UTF-8 as jansson checks it (mq_payload.c). */
bool mq_utf8_valid(const uint8_t *s, size_t n);

/* ---- hash multimap (mq_map.c) -----------------------------------------------------------------
 */

struct mq_entry;
struct mq_map {
    struct mq_entry **b;
    size_t nb;
    size_t n;
};
/* klen 0 means key is compared as a pointer. Keys are borrowed; duplicates are allowed. */
int mq_map_put(struct mq_map *m, const void *key, size_t klen, void *val);
void *mq_map_get(const struct mq_map *m, const void *key, size_t klen);
/* Iterates the values under key: start with *it = NULL; returns NULL at the end. */
void *mq_map_next(const struct mq_map *m, const void *key, size_t klen, struct mq_entry **it);
void mq_map_del(struct mq_map *m, const void *key, size_t klen, const void *val);
/* Some value of the map, or NULL when empty (to drain it). */
void *mq_map_any(const struct mq_map *m);
void mq_map_free(struct mq_map *m);

/* ---- the adapter (mq_adapter.c: lifecycle and writes; mq_dispatch.c: messages) ----------------
 */

/* One point, copied from struct mq_point_cfg (strings owned). */
struct mq_point {
    char *name;
    char *topic; /* template; for configured devices already expanded (may keep wildcards) */
    struct mq_tmpl topic_m; /* topic prepared for matching (discovered devices' points) */
    enum mq_format format;
    char *json_pointer;
    uint8_t type;
    uint8_t qos;
    char *cmd_topic; /* template with {device}, or NULL */
    enum mq_format cmd_format;
    char *cmd_json_pointer;
    char *cmd_true;
    char *cmd_false;
    uint8_t cmd_qos;
    bool cmd_retain;
    void *user; /* configured devices: the bridge's handle */
};

/* A configured device (one group each) or a discovery rule with its profile. */
struct mq_group {
    bool discovery;
    struct mq_point *points;
    size_t n_points;
    char *topic;            /* discovery: template with {device} */
    char *avail;            /* discovery: availability template or NULL */
    struct mq_tmpl topic_m; /* topic and avail prepared for matching */
    struct mq_tmpl avail_m;
    char *online; /* availability payloads */
    char *offline;
    uint32_t max_devices;
    uint32_t n_devices;
    uint8_t qos;
    bool warned_full;
};

struct mq_dev {
    char *name;
    struct mq_group *group;
    void *scope;
    void **users;           /* per point of the group; NULL until attached (discovered devices) */
    struct mq_bind *ubinds; /* discovered devices: values of the users map, per point */
    bool attached;
};

/* A configured device's point whose topic has wildcards (exact ones are in topic_map). */
struct mq_bind {
    struct mq_dev *dev;
    size_t idx;
};

/* A command published and not yet acknowledged, or completed and not yet reported. */
struct mq_pending {
    struct mq_pending *next;
    int mid;
    void *req;
    uint64_t deadline_ms;
    struct adapter_write_result res;
};

struct mq_adapter {
    struct adapter base; /* first: adapter_ops hands this out */
    struct event_base *ev_base;
    struct adapter_sink sink;
    struct mq_client *client;
    char *name;
    uint32_t write_timeout_ms;
    struct mq_group *groups;
    size_t n_groups;
    struct mq_map devices; /* name -> struct mq_dev */
    struct mq_map users;   /* point user -> struct mq_bind (owned by the map's user) */
    struct mq_map topics;  /* exact topic of a configured point -> struct mq_bind */
    struct mq_bind *wild;  /* configured points with wildcard topics */
    size_t n_wild;
    struct mq_bind *binds; /* every configured point (topics/users point into this) */
    size_t n_binds;
    struct mq_pending *pending; /* FIFO by deadline (one timeout for all) */
    struct mq_pending *pending_tail;
    struct mq_pending *done; /* completions to report on the next loop pass */
    struct mq_pending *done_tail;
    struct event *done_ev;
    struct event *timeout_ev;
    struct mq_buf scratch; /* decoded opaque values */
    struct mq_buf cmd;     /* encoded command payloads */
    struct mq_stats stats;
    bool started;
    int reported; /* last adapter state told to the sink: -1 none, else enum adapter_state */
    uint64_t log_next_ms; /* rate limit of malformed-payload logs */
    uint64_t log_suppressed;
};

/* Message entry point of the adapter (struct mq_client_events.message). */
void mq_dispatch_message(void *ctx, const char *topic, const uint8_t *payload, size_t len,
                         bool retain);
/* Frees a device and forgets its point users (discovered devices marked gone, destroy). */
void mq_dev_free(struct mq_adapter *a, struct mq_dev *d);

/* mq_encode.c: grows b to hold at least n bytes (0 or -ENOMEM); copies n bytes into b with a NUL
 * after them that len does not count. Shared by the decoder and the encoder. */
int mq_buf_reserve(struct mq_buf *b, size_t n);
int mq_buf_set(struct mq_buf *b, const void *p, size_t n);
/* mq_payload.c: the RFC 6901 reference token at *p (just after a '/') into tok (MQ_JP_TOKEN_MAX
 * bytes, ~0 and ~1 unescaped), its length in *tl, *p moved to the next '/' or the end. 0 or
 * -EINVAL (a bad escape, a token too long). */
int mq_jp_token(const char **p, char *tok, size_t *tl);

#endif /* GW_MQ_INTERNAL_H */
