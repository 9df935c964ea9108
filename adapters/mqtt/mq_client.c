/* SPDX-License-Identifier: Apache-2.0 */
/* The broker connection of the MQTT adapter: libmosquitto driven by the libevent loop, no thread
 * of its own. The socket gets a persistent read event (one wake-up reads a whole burst) and a
 * write event armed only while libmosquitto has output queued; a 1 s timer runs loop_misc
 * (keepalive) and the connect timeout; a one-shot timer reconnects with exponential back-off;
 * every (re)connect subscribes again, and MQTT 5 persistent sessions carry a Session Expiry
 * Interval. Owns the struct mosquitto and its copies of the connection settings. */
#include "mq_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <openssl/ssl.h>

#define MQ_MISC_PERIOD_MS   1000
#define MQ_READS_PER_WAKEUP 256  /* loop_read calls per readable event before yielding */
#define MQ_EXPIRY_DEFAULT_S 3600 /* MQTT 5 Session Expiry Interval when none is configured */
#define MQ_ERR_TEXT_MAX     200
#define MQ_SYNC_PUB_MAX     8 /* publish completions noticed inside one mosquitto_publish */
#define MQ_SECRET_MAX       4096

struct mq_sub {
    char *filter;
    uint8_t qos;
};

struct mq_client {
    struct event_base *base;
    struct mosquitto *m;
    struct mq_client_events ev;
    char *name;
    char *host;
    uint16_t port;
    uint16_t keepalive_s;
    uint32_t backoff_min_ms;
    uint32_t backoff_max_ms;
    uint32_t backoff_cur_ms;
    uint32_t connect_timeout_ms;
    uint32_t session_expiry_s; /* sent in every MQTT 5 CONNECT; 0 = no property */
    struct mq_sub *subs;
    size_t n_subs;
    struct event *rev;   /* socket readable (persistent) */
    struct event *wev;   /* socket writable (armed while output is queued) */
    struct event *misc;  /* loop_misc and the connect timeout */
    struct event *retry; /* next connect attempt */
    struct event *lost;  /* connection lost inside a publish: handled on the next loop pass */
    int fd;
    bool started;
    bool connected;
    bool session_present;
    bool tls;
    uint64_t read_events;
    /* The last error libmosquitto logged (OpenSSL's reason for a failed handshake) and the
     * last failure we logged, so that a broker refusing every attempt is logged once. */
    char lib_err[MQ_ERR_TEXT_MAX];
    char logged_err[MQ_ERR_TEXT_MAX];
    size_t suback_wait; /* SUBACKs outstanding before "connected" is reported */
    uint64_t connect_deadline_ms;
    unsigned int seed; /* back-off jitter */
    /* Completions that libmosquitto reported while mq_client_publish was inside
     * mosquitto_publish: the caller does not know its own mid yet. */
    bool in_publish;
    size_t n_sync;
    int sync_mid[MQ_SYNC_PUB_MAX];
    int sync_reason[MQ_SYNC_PUB_MAX];
};

uint64_t mq_now_mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t mq_now_wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- secrets ------------------------------------------------------------------------------ */

/* The first line of a file, without its line end. */
static int read_secret_file(const char *path, char **out) {
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return -errno;
    }
    char *buf = malloc(MQ_SECRET_MAX + 1);
    if (buf == NULL) {
        fclose(f);
        return -ENOMEM;
    }
    size_t n = fread(buf, 1, MQ_SECRET_MAX, f);
    fclose(f);
    buf[n] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    *out = buf;
    return 0;
}

static int resolve_secret(const struct mq_secret_cfg *s, char **out) {
    *out = NULL;
    if (s->value != NULL) {
        *out = strdup(s->value);
        return *out != NULL ? 0 : -ENOMEM;
    }
    if (s->env != NULL) {
        const char *v = getenv(s->env);
        if (v == NULL) {
            return -EINVAL; /* named but unset: a configuration error, not "no password" */
        }
        *out = strdup(v);
        return *out != NULL ? 0 : -ENOMEM;
    }
    if (s->file != NULL) {
        return read_secret_file(s->file, out) == 0 ? 0 : -EINVAL;
    }
    return 0;
}

static void wipe_free(char *s) {
    if (s != NULL) {
        volatile char *p = s;
        while (*p != '\0') {
            *p++ = '\0';
        }
        free(s);
    }
}

/* ---- libmosquitto callbacks (run inside loop_read/loop_write/publish) ------------------------ */

/* Every callback keeps errno as libmosquitto left it: on_read takes an EAGAIN after loop_read
 * as "the socket is drained", so our code (and the bridge's sends behind it) must not leave one.
 */

/* Installed only while connecting: libmosquitto formats every debug line (one per packet) into
 * a malloc'd buffer when a log callback is set, which the read path cannot afford. Keeps the
 * first error of the attempt (OpenSSL's reason for a failed handshake) for the log line. */
static void on_log(struct mosquitto *m, void *obj, int level, const char *str) {
    (void)m;
    struct mq_client *c = obj;
    if ((level & MOSQ_LOG_ERR) != 0 && str != NULL && c->lib_err[0] == '\0') {
        const char *p = strncmp(str, "OpenSSL Error[", 14) == 0 ? strstr(str, "]: ") : NULL;
        snprintf(c->lib_err, sizeof(c->lib_err), "%s", p != NULL ? p + 3 : str);
    }
}

static void connected_now(struct mosquitto *m, struct mq_client *c, int flags) {
    mosquitto_log_callback_set(m, NULL);
    if (c->logged_err[0] != '\0') {
        fprintf(stderr, "mqtt[%s]: connected to %s:%u\n", c->name, c->host, c->port);
        c->logged_err[0] = '\0';
    }
    c->connected = true;
    c->backoff_cur_ms = 0;
    c->session_present = (flags & 1) != 0;
    c->suback_wait = 0;
}

static void on_connect(struct mosquitto *m, void *obj, int rc, int flags,
                       const mosquitto_property *props) {
    (void)props;
    struct mq_client *c = obj;
    int saved = errno;
    if (rc != 0) {
        fprintf(stderr, "mqtt[%s]: connection refused: %s\n", c->name,
                c->m != NULL ? mosquitto_reason_string(rc) : "?");
        errno = saved;
        return; /* libmosquitto drops the socket; the back-off takes over */
    }
    connected_now(m, c, flags);
    /* Subscribe again even when the session was resumed: the broker may have lost it, and
     * subscribing twice to the same filter is harmless. */
    for (size_t i = 0; i < c->n_subs; i++) {
        int src = mosquitto_subscribe_v5(m, NULL, c->subs[i].filter, c->subs[i].qos, 0, NULL);
        if (src == MOSQ_ERR_SUCCESS) {
            c->suback_wait++;
        } else {
            fprintf(stderr, "mqtt[%s]: subscribe %s: %s\n", c->name, c->subs[i].filter,
                    mosquitto_strerror(src));
        }
    }
    /* "Up" means values flow: wait for the SUBACKs unless there is nothing to wait for. */
    if (c->suback_wait == 0 && c->ev.connected != NULL) {
        c->ev.connected(c->ev.ctx, c->session_present);
    }
    errno = saved;
}

static void on_subscribe(struct mosquitto *m, void *obj, int mid, int n, const int *granted,
                         const mosquitto_property *props) {
    (void)m;
    (void)mid;
    (void)props;
    struct mq_client *c = obj;
    int saved = errno;
    for (int i = 0; i < n; i++) {
        if (granted[i] >= 0x80) {
            fprintf(stderr, "mqtt[%s]: a subscription was refused (reason %d)\n", c->name,
                    granted[i]);
        }
    }
    if (c->suback_wait > 0 && --c->suback_wait == 0 && c->ev.connected != NULL) {
        c->ev.connected(c->ev.ctx, c->session_present);
    }
    errno = saved;
}

static void on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg,
                       const mosquitto_property *props) {
    (void)m;
    (void)props;
    struct mq_client *c = obj;
    int saved = errno;
    if (c->ev.message != NULL && msg->topic != NULL && msg->payloadlen >= 0) {
        c->ev.message(c->ev.ctx, msg->topic, (const uint8_t *)msg->payload, (size_t)msg->payloadlen,
                      msg->retain);
    }
    errno = saved;
}

static void on_publish(struct mosquitto *m, void *obj, int mid, int reason,
                       const mosquitto_property *props) {
    (void)m;
    (void)props;
    struct mq_client *c = obj;
    if (c->in_publish && c->n_sync < MQ_SYNC_PUB_MAX) {
        c->sync_mid[c->n_sync] = mid;
        c->sync_reason[c->n_sync] = reason;
        c->n_sync++;
        return;
    }
    int saved = errno;
    if (c->ev.published != NULL) {
        c->ev.published(c->ev.ctx, mid, reason);
    }
    errno = saved;
}

/* ---- socket events --------------------------------------------------------------------------- */

static void free_io_events(struct mq_client *c) {
    if (c->rev != NULL) {
        event_free(c->rev);
        c->rev = NULL;
    }
    if (c->wev != NULL) {
        event_free(c->wev);
        c->wev = NULL;
    }
    c->fd = -1;
}

static void on_read(evutil_socket_t fd, short what, void *arg);
static void on_write(evutil_socket_t fd, short what, void *arg);

/* Follows libmosquitto's socket (it changes on every reconnect) and its wish to write. */
static void sync_events(struct mq_client *c) {
    int fd = mosquitto_socket(c->m);
    if (fd != c->fd) {
        free_io_events(c);
        if (fd >= 0) {
            c->rev = event_new(c->base, fd, EV_READ | EV_PERSIST, on_read, c);
            c->wev = event_new(c->base, fd, EV_WRITE, on_write, c);
            if (c->rev == NULL || c->wev == NULL || event_add(c->rev, NULL) != 0) {
                free_io_events(c);
                return;
            }
            c->fd = fd;
        }
    }
    if (c->wev != NULL) {
        if (mosquitto_want_write(c->m)) {
            event_add(c->wev, NULL);
        } else {
            event_del(c->wev);
        }
    }
}

static void schedule_retry(struct mq_client *c) {
    uint32_t d = c->backoff_cur_ms == 0 ? c->backoff_min_ms : c->backoff_cur_ms * 2;
    if (d > c->backoff_max_ms || d < c->backoff_cur_ms) {
        d = c->backoff_max_ms;
    }
    c->backoff_cur_ms = d;
    /* Up to 20% less, so that many gateways behind one broker do not reconnect in step. */
    uint32_t jitter = d / 5 > 0 ? (uint32_t)rand_r(&c->seed) % (d / 5) : 0;
    uint32_t wait = d - jitter;
    struct timeval tv = {.tv_sec = wait / 1000, .tv_usec = (wait % 1000) * 1000};
    evtimer_add(c->retry, &tv);
}

/* One line per kind of failure: a broker that refuses every attempt the same way (a wrong CA,
 * nobody listening) is logged once, not once per back-off period. */
static void log_failure(struct mq_client *c, bool was_connected, const char *detail) {
    if (strcmp(detail, c->logged_err) == 0) {
        return;
    }
    snprintf(c->logged_err, sizeof(c->logged_err), "%s", detail);
    fprintf(stderr, "mqtt[%s]: %s %s:%u: %s; retrying with back-off\n", c->name,
            was_connected ? "connection lost to" : "cannot connect to", c->host, c->port, detail);
}

static void connection_lost(struct mq_client *c, const char *detail) {
    bool was_connected = c->connected;
    free_io_events(c);
    c->connected = false;
    if (!c->started) {
        return;
    }
    log_failure(c, was_connected, detail);
    schedule_retry(c);
    if (c->ev.disconnected != NULL) {
        c->ev.disconnected(c->ev.ctx, detail);
    }
}

/* Drops the connection after libmosquitto returned rc (MOSQ_ERR_SUCCESS: the socket is gone). */
static void fail_with(struct mq_client *c, int rc) {
    char detail[MQ_ERR_TEXT_MAX + 32];
    if (rc == MOSQ_ERR_TLS && c->lib_err[0] != '\0') {
        /* "A TLS error occurred." says nothing; OpenSSL's reason (certificate verify failed,
         * unknown PSK identity) is what the operator needs. */
        snprintf(detail, sizeof(detail), "TLS handshake failed: %s", c->lib_err);
    } else {
        snprintf(detail, sizeof(detail), "%s",
                 rc != MOSQ_ERR_SUCCESS ? mosquitto_strerror(rc) : "connection closed");
    }
    connection_lost(c, detail);
}

/* Called after every libmosquitto call that may have changed the connection. */
static void after_io(struct mq_client *c, int rc) {
    if (!c->started) {
        return;
    }
    if (rc != MOSQ_ERR_SUCCESS || mosquitto_socket(c->m) < 0) {
        fail_with(c, rc);
        return;
    }
    sync_events(c);
}

/* True while OpenSSL holds bytes it has already taken off the socket: the level-triggered read
 * event does not fire for them. */
static bool tls_pending(struct mq_client *c) {
    SSL *ssl = c->tls ? mosquitto_ssl_get(c->m) : NULL;
    return ssl != NULL && SSL_is_init_finished(ssl) && SSL_has_pending(ssl) == 1;
}

/* Whether on_read should call loop_read again after a successful call. */
static bool more_to_read(struct mq_client *c) {
    if (c->tls) {
        SSL *ssl = mosquitto_ssl_get(c->m);
        if (ssl != NULL && !SSL_is_init_finished(ssl)) {
            return false; /* handshake step done; the next one waits for the peer */
        }
    }
    return (errno != EAGAIN && errno != EWOULDBLOCK) || tls_pending(c);
}

static void on_read(evutil_socket_t fd, short what, void *arg) {
    (void)what;
    struct mq_client *c = arg;
    int rc = MOSQ_ERR_SUCCESS;
    c->read_events++;
    /* libmosquitto 2.0 has no read buffer: loop_read reads about one packet per call (its
     * max_packets argument is replaced by the count of QoS > 0 messages in flight) and returns
     * MOSQ_ERR_SUCCESS both after a packet and when the socket had nothing, the latter with
     * errno EAGAIN. So one wake-up reads on until a call ends in EAGAIN: a burst costs one
     * readiness event plus one empty recv, no ioctl per packet. An EAGAIN left over from a
     * PUBACK write into a full send buffer only ends the batch early: the event is
     * level-triggered and fires again, except for bytes inside OpenSSL (tls_pending). */
    for (int i = 0; i < MQ_READS_PER_WAKEUP; i++) {
        errno = 0;
        rc = mosquitto_loop_read(c->m, 1);
        if (rc != MOSQ_ERR_SUCCESS || mosquitto_socket(c->m) != fd || !more_to_read(c)) {
            break;
        }
    }
    after_io(c, rc);
    if (c->rev != NULL && c->fd == fd && tls_pending(c)) {
        event_active(c->rev, EV_READ, 0); /* batch limit reached with records inside OpenSSL */
    }
}

static void on_write(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    struct mq_client *c = arg;
    after_io(c, mosquitto_loop_write(c->m, 1));
}

static void attempt_connect(struct mq_client *c) {
    c->lib_err[0] = '\0';
    mosquitto_log_callback_set(c->m, on_log);
    /* connect_async (not reconnect_async) each time: it also recovers from a first attempt
     * whose host lookup failed. Numeric addresses or /etc/hosts names keep this non-blocking. */
    int rc = mosquitto_connect_async(c->m, c->host, c->port, c->keepalive_s);
    c->connect_deadline_ms = mq_now_mono_ms() + c->connect_timeout_ms;
    if (rc != MOSQ_ERR_SUCCESS) {
        fail_with(c, rc);
        return;
    }
    after_io(c, MOSQ_ERR_SUCCESS);
}

static void on_retry(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    struct mq_client *c = arg;
    if (c->started) {
        attempt_connect(c);
    }
}

static void on_lost(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    struct mq_client *c = arg;
    if (c->started && c->fd < 0 && !evtimer_pending(c->retry, NULL)) {
        connection_lost(c, "connection lost while publishing");
    }
}

static void on_misc(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    struct mq_client *c = arg;
    if (c->fd < 0) {
        return;
    }
    if (!c->connected && mq_now_mono_ms() > c->connect_deadline_ms) {
        connection_lost(c, "no CONNACK before the connect timeout");
        return;
    }
    int rc = mosquitto_loop_misc(c->m);
    after_io(c, rc == MOSQ_ERR_NO_CONN ? MOSQ_ERR_CONN_LOST : rc);
}

/* ---- public ---------------------------------------------------------------------------------- */

/* libmosquitto 2.0.11 sends CONNECT properties from mosquitto_connect_bind_v5 only, and that call
 * blocks (DNS, TCP, TLS handshake); connect_async sends none of its own. But connect_bind_v5
 * keeps a copy of its properties in the struct mosquitto before it looks at the host, and every
 * later connect_async/reconnect sends that copy. So it is called once with no host: it stores
 * the Session Expiry Interval and fails with MOSQ_ERR_INVAL before any I/O, and all the
 * non-blocking connects that follow carry the property (mosquitto_destroy frees the copy).
 * Undocumented, so tests/integration/test_mqtt5_session.py checks it against the broker: with
 * the property QoS 1 messages survive a disconnect, without it they are lost. A libmosquitto
 * that stopped keeping the copy fails that test; it cannot make this call block. */
static int set_session_expiry(struct mq_client *c) {
    mosquitto_property *props = NULL;
    int rc = mosquitto_property_add_int32(&props, MQTT_PROP_SESSION_EXPIRY_INTERVAL,
                                          c->session_expiry_s);
    if (rc == MOSQ_ERR_SUCCESS) {
        rc = mosquitto_connect_bind_v5(c->m, NULL, 0, c->keepalive_s, NULL, props);
        rc = rc == MOSQ_ERR_INVAL ? MOSQ_ERR_SUCCESS : MOSQ_ERR_NOT_SUPPORTED;
    }
    mosquitto_property_free_all(&props);
    return rc;
}

static int apply_options(struct mq_client *c, const struct mq_conn_cfg *cfg) {
    int rc =
        mosquitto_int_option(c->m, MOSQ_OPT_PROTOCOL_VERSION,
                             cfg->protocol == MQ_PROTO_V5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311);
    /* Commands are small and latency matters more than packing them. */
    rc = rc != MOSQ_ERR_SUCCESS ? rc : mosquitto_int_option(c->m, MOSQ_OPT_TCP_NODELAY, 1);
    if (rc == MOSQ_ERR_SUCCESS && c->session_expiry_s != 0) {
        rc = set_session_expiry(c);
    }
    if (rc == MOSQ_ERR_SUCCESS && cfg->username != NULL) {
        char *pw = NULL;
        if (resolve_secret(&cfg->password, &pw) != 0) {
            return -EINVAL;
        }
        rc = mosquitto_username_pw_set(c->m, cfg->username, pw);
        wipe_free(pw);
    }
    if (rc == MOSQ_ERR_SUCCESS && (cfg->tls_ca_file != NULL || cfg->tls_ca_path != NULL)) {
        rc = mosquitto_tls_set(c->m, cfg->tls_ca_file, cfg->tls_ca_path, cfg->tls_cert_file,
                               cfg->tls_key_file, NULL);
        if (rc == MOSQ_ERR_SUCCESS) {
            rc = mosquitto_tls_insecure_set(c->m, cfg->tls_insecure);
        }
    }
    if (rc == MOSQ_ERR_SUCCESS && cfg->psk_identity != NULL) {
        char *key = NULL;
        if (resolve_secret(&cfg->psk_key, &key) != 0 || key == NULL) {
            wipe_free(key);
            return -EINVAL;
        }
        rc = mosquitto_tls_psk_set(c->m, key, cfg->psk_identity, NULL);
        wipe_free(key);
    }
    if (rc != MOSQ_ERR_SUCCESS) {
        fprintf(stderr, "mqtt[%s]: option rejected: %s\n", c->name, mosquitto_strerror(rc));
        return rc == MOSQ_ERR_INVAL ? -EINVAL : -EIO;
    }
    return 0;
}

int mq_client_new(struct event_base *base, const struct mq_conn_cfg *cfg,
                  const struct mq_client_events *ev, struct mq_client **out) {
    if (base == NULL || cfg == NULL || ev == NULL || out == NULL ||
        (!cfg->clean_session && (cfg->client_id == NULL || cfg->client_id[0] == '\0'))) {
        return -EINVAL;
    }
    /* Idempotent in libmosquitto 2.0. Its counterpart, mosquitto_lib_cleanup, is never called:
     * it would tear down OpenSSL state that the DTLS transport of the engine shares. */
    mosquitto_lib_init();
    struct mq_client *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return -ENOMEM;
    }
    bool tls = cfg->tls_ca_file != NULL || cfg->tls_ca_path != NULL || cfg->psk_identity != NULL;
    c->base = base;
    c->ev = *ev;
    c->fd = -1;
    c->name = strdup(cfg->name != NULL ? cfg->name : "mqtt");
    c->host = strdup(cfg->host != NULL ? cfg->host : "127.0.0.1");
    c->port = cfg->port != 0 ? cfg->port : (tls ? 8883 : 1883);
    c->keepalive_s = cfg->keepalive_s != 0 ? cfg->keepalive_s : 30;
    c->keepalive_s = c->keepalive_s < 5 ? 5 : c->keepalive_s; /* libmosquitto's minimum */
    c->backoff_min_ms = cfg->backoff_min_ms != 0 ? cfg->backoff_min_ms : 500;
    c->backoff_max_ms = cfg->backoff_max_ms != 0 ? cfg->backoff_max_ms : 30000;
    if (c->backoff_max_ms < c->backoff_min_ms) {
        c->backoff_max_ms = c->backoff_min_ms;
    }
    c->connect_timeout_ms = cfg->connect_timeout_ms != 0 ? cfg->connect_timeout_ms : 10000;
    if (cfg->protocol == MQ_PROTO_V5 && !cfg->clean_session) {
        c->session_expiry_s = cfg->session_expiry_set ? cfg->session_expiry_s : MQ_EXPIRY_DEFAULT_S;
    }
    c->tls = tls;
    c->seed = (unsigned int)mq_now_mono_ms();
    c->m = mosquitto_new(cfg->client_id, cfg->clean_session, c);
    c->misc = event_new(base, -1, EV_PERSIST, on_misc, c);
    c->retry = evtimer_new(base, on_retry, c);
    c->lost = event_new(base, -1, 0, on_lost, c);
    int rc = 0;
    if (c->name == NULL || c->host == NULL || c->m == NULL || c->misc == NULL || c->retry == NULL ||
        c->lost == NULL) {
        rc = -ENOMEM;
    } else {
        rc = apply_options(c, cfg);
    }
    if (rc != 0) {
        mq_client_free(c);
        return rc;
    }
    mosquitto_connect_v5_callback_set(c->m, on_connect);
    mosquitto_message_v5_callback_set(c->m, on_message);
    mosquitto_subscribe_v5_callback_set(c->m, on_subscribe);
    mosquitto_publish_v5_callback_set(c->m, on_publish);
    *out = c;
    return 0;
}

int mq_client_subscribe(struct mq_client *c, const char *filter, uint8_t qos) {
    if (c == NULL || c->started || mq_filter_check(filter) != 0 || qos > 2) {
        return -EINVAL;
    }
    for (size_t i = 0; i < c->n_subs; i++) {
        if (strcmp(c->subs[i].filter, filter) == 0) {
            /* One subscription per filter, at the highest QoS any binding asked for. */
            c->subs[i].qos = qos > c->subs[i].qos ? qos : c->subs[i].qos;
            return 0;
        }
    }
    struct mq_sub *s = realloc(c->subs, (c->n_subs + 1) * sizeof(*s));
    if (s == NULL) {
        return -ENOMEM;
    }
    c->subs = s;
    s[c->n_subs].filter = strdup(filter);
    if (s[c->n_subs].filter == NULL) {
        return -ENOMEM;
    }
    s[c->n_subs].qos = qos;
    c->n_subs++;
    return 0;
}

int mq_client_start(struct mq_client *c) {
    if (c == NULL) {
        return -EINVAL;
    }
    if (c->started) {
        return 0;
    }
    c->started = true;
    c->backoff_cur_ms = 0;
    struct timeval tv = {.tv_sec = MQ_MISC_PERIOD_MS / 1000,
                         .tv_usec = (MQ_MISC_PERIOD_MS % 1000) * 1000};
    if (event_add(c->misc, &tv) != 0) {
        c->started = false;
        return -EIO;
    }
    attempt_connect(c);
    return 0;
}

void mq_client_stop(struct mq_client *c) {
    if (c == NULL || !c->started) {
        return;
    }
    c->started = false;
    if (c->connected) {
        /* Queue DISCONNECT and push it out now: nothing will drive the socket afterwards. */
        if (mosquitto_disconnect(c->m) == MOSQ_ERR_SUCCESS && mosquitto_want_write(c->m)) {
            mosquitto_loop_write(c->m, 1);
        }
    }
    c->connected = false;
    free_io_events(c);
    event_del(c->misc);
    event_del(c->retry);
    event_del(c->lost);
}

void mq_client_free(struct mq_client *c) {
    if (c == NULL) {
        return;
    }
    mq_client_stop(c);
    free_io_events(c);
    if (c->misc != NULL) {
        event_free(c->misc);
    }
    if (c->retry != NULL) {
        event_free(c->retry);
    }
    if (c->lost != NULL) {
        event_free(c->lost);
    }
    if (c->m != NULL) {
        mosquitto_destroy(c->m);
    }
    for (size_t i = 0; i < c->n_subs; i++) {
        free(c->subs[i].filter);
    }
    free(c->subs);
    free(c->name);
    free(c->host);
    free(c);
}

bool mq_client_is_connected(const struct mq_client *c) {
    return c != NULL && c->connected;
}

uint64_t mq_client_read_events(const struct mq_client *c) {
    return c->read_events;
}

int mq_client_publish(struct mq_client *c, const char *topic, const uint8_t *payload, size_t len,
                      uint8_t qos, bool retain, int *mid, bool *done, int *reason) {
    *done = false;
    *reason = 0;
    if (!c->started || (qos == 0 && !c->connected)) {
        return -ENOTCONN;
    }
    if (len > (size_t)INT32_MAX) {
        return -EINVAL;
    }
    c->in_publish = true;
    c->n_sync = 0;
    int rc = mosquitto_publish_v5(c->m, mid, topic, (int)len, payload, qos, retain, NULL);
    c->in_publish = false;
    /* Completions seen inside the call: ours goes back through the out-params, any older one
     * to the normal callback. */
    for (size_t i = 0; i < c->n_sync; i++) {
        if (rc == MOSQ_ERR_SUCCESS && c->sync_mid[i] == *mid) {
            *done = true;
            *reason = c->sync_reason[i];
        } else if (c->ev.published != NULL) {
            c->ev.published(c->ev.ctx, c->sync_mid[i], c->sync_reason[i]);
        }
    }
    c->n_sync = 0;
    if (mosquitto_socket(c->m) >= 0) {
        sync_events(c);
    } else if (c->fd >= 0) {
        /* The write failed and libmosquitto closed the socket. Reporting that now would call
         * the adapter back from inside its own write_point: defer it to the next loop pass. */
        free_io_events(c);
        c->connected = false;
        event_active(c->lost, 0, 0);
    }
    switch (rc) {
    case MOSQ_ERR_SUCCESS:
        return 0;
    case MOSQ_ERR_NO_CONN:
        return -ENOTCONN;
    case MOSQ_ERR_INVAL:
    case MOSQ_ERR_PAYLOAD_SIZE:
    case MOSQ_ERR_MALFORMED_UTF8:
    case MOSQ_ERR_QOS_NOT_SUPPORTED:
    case MOSQ_ERR_OVERSIZE_PACKET:
        return -EINVAL;
    case MOSQ_ERR_NOMEM:
        return -ENOMEM;
    default:
        return -EIO;
    }
}
