/* SPDX-License-Identifier: Apache-2.0 */
/* bench_mq_notify: MQTT message in -> LwM2M Notify out, end to end (issue M6). Starts Debian's
 * mosquitto on a free loopback port and the real `lwm2m-gateway run` as a child process, whose
 * config discovers D devices on sensors/{device}/state (JSON /v -> /3303/0/5700, NON
 * notifications, pmin 0). This process is the LwM2M server, on our own CoAP layer: it answers
 * POST /rd, observes /3303/0/5700 on every endpoint (Accept text/plain) and takes every
 * notification off its socket with a receive timestamp. A publisher thread (libmosquitto, QoS 0)
 * sends {"v":SEQ} round-robin over the devices; SEQ indexes the table of send times.
 *   burst: as fast as it can for a few seconds -> notifications received per second and their
 *          ratio to messages published (the engine coalesces values of one observation that
 *          arrive within one loop pass: latest wins, so the ratio may be below 1);
 *   paced: 10,000 messages/s -> p50/p99 latency from publish to Notify received.
 * The same two measurements are first taken bare, publisher -> mosquitto -> a libmosquitto
 * subscriber in this process, for the ratios. Everything on loopback; bounded to ~20 s.
 * The budget is per core, so the burst also reports Notifies per gateway CPU-second (utime+stime
 * from /proc); 1,000 devices by default so that each message becomes its own Notify.
 * Usage: bench_mq_notify [devices=1000] [burst-seconds=1.5] [paced-seconds=3] [gateway-binary]
 * Environment (for profiling the gateway, e.g. under callgrind): BENCH_PACED_HZ overrides the
 * paced rate; BENCH_GW_HOOK is a command run as `$BENCH_GW_HOOK begin|end PID` around the paced
 * phase, each time with the gateway idle (e.g. callgrind_control -z / -d). */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <ftw.h>
#include <mosquitto.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lwm2m/coap.h"
#include "lwm2m/coap_endpoint.h"
#include "bench_rd.h"
#include "lwm2m/error.h"
#include "lwm2m/transport.h"

#ifndef GW_BINARY
#define GW_BINARY "lwm2m-gateway"
#endif

#define SEQ_CAP   (4u << 20) /* send-time table entries over the whole run */
#define PACED_HZ  10000
#define QUIET_NS  500000000ull  /* a phase ends this long after the last value received ... */
#define DRAIN_NS  6000000000ull /* ... or this long after the last publish, whichever first */
#define SETTLE_NS 300000000ull  /* between phases: this long without any value arriving */
#define SETUP_SEC 60            /* 1,000 endpoints register in well under 1 s; slack for valgrind */

/* ---- shared: time, send-time table, one measurement phase -------------------------------- */

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t *t_send; /* t_send[seq]: monotonic ns of the publish call; 0 = not sent */
static uint64_t next_seq = 1;

struct phase {
    const char *prefix; /* topic prefix: "bench" (bare) or "sensors" (through the gateway) */
    unsigned ndev;
    double secs;
    unsigned rate; /* messages/s, 0 = as fast as possible */
    uint64_t seq0; /* first seq of this phase */
    /* publisher thread; read by others after done */
    uint64_t published, t_first, t_last_pub, t_pub_end; /* t_pub_end: after the last flush */
    int pub_err;
    int done; /* atomic */
    /* receiver side (atomics: the bare subscriber runs on libmosquitto's thread) */
    uint64_t received, t_last_rx, foreign;
    uint64_t *lat; /* ns, one per value received */
    size_t n_lat, cap_lat;
};

static struct phase *cur;    /* atomic pointer: the phase receivers attribute values to */
static uint64_t last_any_rx; /* atomic: when any value last arrived, inside a phase or not */

static void record(uint64_t seq, uint64_t t) {
    __atomic_store_n(&last_any_rx, t, __ATOMIC_RELAXED);
    struct phase *p = __atomic_load_n(&cur, __ATOMIC_ACQUIRE);
    if (p == NULL)
        return;
    uint64_t ts = seq < SEQ_CAP ? __atomic_load_n(&t_send[seq], __ATOMIC_ACQUIRE) : 0;
    if (seq < p->seq0 || ts == 0) {
        __atomic_fetch_add(&p->foreign, 1, __ATOMIC_RELAXED);
        return;
    }
    if (p->n_lat < p->cap_lat)
        p->lat[p->n_lat++] = t - ts;
    __atomic_store_n(&p->t_last_rx, t, __ATOMIC_RELAXED);
    __atomic_fetch_add(&p->received, 1, __ATOMIC_RELEASE);
}

/* Nonzero once the phase is over: publisher done and nothing more is coming. */
static int phase_over(struct phase *p) {
    if (!__atomic_load_n(&p->done, __ATOMIC_ACQUIRE))
        return 0;
    uint64_t now = now_ns(), rx = __atomic_load_n(&p->received, __ATOMIC_ACQUIRE);
    uint64_t last = __atomic_load_n(&p->t_last_rx, __ATOMIC_RELAXED);
    if (last < p->t_last_pub)
        last = p->t_last_pub;
    return rx >= p->published || now - last > QUIET_NS || now - p->t_last_pub > DRAIN_NS;
}

/* Nonzero once stragglers of the previous phase (a broker backlog) have stopped arriving. */
static int settled(uint64_t since) {
    uint64_t now = now_ns(), last = __atomic_load_n(&last_any_rx, __ATOMIC_RELAXED);
    return now - (last > since ? last : since) > SETTLE_NS || now - since > DRAIN_NS;
}

static uint64_t parse_seq(const void *payload, size_t len) {
    char buf[64];
    size_t n = len < sizeof(buf) - 1 ? len : sizeof(buf) - 1;
    memcpy(buf, payload, n);
    buf[n] = '\0';
    const char *s = strchr(buf, ':'); /* {"v":SEQ} on MQTT, SEQ as text in a Notify */
    double v = strtod(s != NULL ? s + 1 : buf, NULL);
    return v >= 1.0 ? (uint64_t)v : 0;
}

/* ---- publisher (libmosquitto, non-threaded, QoS 0) --------------------------------------- */

static int mq_port;

static void on_connect_flag(struct mosquitto *m, void *obj, int rc) {
    (void)m;
    *(int *)obj = rc == 0 ? 1 : -1;
}

static struct mosquitto *mq_open(const char *id, int *flag) {
    struct mosquitto *m = mosquitto_new(id, true, flag);
    if (m == NULL)
        return NULL;
    mosquitto_connect_callback_set(m, on_connect_flag);
    mosquitto_int_option(m, MOSQ_OPT_TCP_NODELAY, 1);
    if (mosquitto_connect(m, "127.0.0.1", mq_port, 30) != MOSQ_ERR_SUCCESS) {
        mosquitto_destroy(m);
        return NULL;
    }
    return m;
}

/* Runs the non-threaded client until CONNACK. */
static int mq_wait_connected(struct mosquitto *m, const int *flag) {
    uint64_t end = now_ns() + 5000000000ull;
    while (*flag == 0 && now_ns() < end)
        if (mosquitto_loop(m, 50, 1) != MOSQ_ERR_SUCCESS)
            return -1;
    return *flag == 1 ? 0 : -1;
}

/* Writes what libmosquitto holds, blocking on the socket: the publisher's back-pressure. */
static int mq_flush(struct mosquitto *m) {
    while (mosquitto_want_write(m)) {
        struct pollfd pfd = {.fd = mosquitto_socket(m), .events = POLLOUT};
        if (poll(&pfd, 1, 1000) < 0 && errno != EINTR)
            return -1;
        int rc = mosquitto_loop_write(m, 1);
        if (rc != MOSQ_ERR_SUCCESS)
            return -1;
    }
    return 0;
}

static void sleep_until(uint64_t t) {
    struct timespec ts = {.tv_sec = (time_t)(t / 1000000000ull), .tv_nsec = (long)(t % 1000000000)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

static void *publisher(void *arg) {
    struct phase *p = arg;
    int flag = 0;
    struct mosquitto *m = mq_open("bench-pub", &flag);
    if (m == NULL || mq_wait_connected(m, &flag) != 0) {
        p->pub_err = 1;
        goto out;
    }
    char topic[64], payload[48];
    uint64_t t0 = now_ns(), end = t0 + (uint64_t)(p->secs * 1e9), period = 0;
    if (p->rate > 0)
        period = 1000000000ull / p->rate;
    p->t_first = t0;
    for (uint64_t k = 0; next_seq < SEQ_CAP; k++) {
        uint64_t t = now_ns();
        if (p->rate > 0) {
            uint64_t due = t0 + k * period;
            if (due >= end)
                break;
            if (due > t)
                sleep_until(due);
        } else if (t >= end) {
            break;
        }
        uint64_t seq = next_seq++;
        snprintf(topic, sizeof(topic), "%s/dev-%04u/state", p->prefix, (unsigned)(k % p->ndev));
        int n = snprintf(payload, sizeof(payload), "{\"v\":%llu}", (unsigned long long)seq);
        t = now_ns();
        __atomic_store_n(&t_send[seq], t, __ATOMIC_RELEASE);
        if (mosquitto_publish(m, NULL, topic, n, payload, 0, false) != MOSQ_ERR_SUCCESS ||
            ((k & 31) == 31 && mq_flush(m) != 0)) {
            p->pub_err = 1;
            break;
        }
        p->published++;
        p->t_last_pub = t;
    }
    if (mq_flush(m) != 0)
        p->pub_err = 1;
    p->t_pub_end = now_ns();
    mosquitto_disconnect(m);
out:
    if (p->t_last_pub == 0)
        p->t_last_pub = now_ns();
    mosquitto_destroy(m);
    __atomic_store_n(&p->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static int phase_start(struct phase *p, pthread_t *th) {
    p->seq0 = next_seq;
    p->cap_lat = (size_t)(p->rate > 0 ? p->secs * p->rate * 1.1 + 1000 : 2000000);
    p->lat = malloc(p->cap_lat * sizeof(*p->lat));
    if (p->lat == NULL)
        return -1;
    __atomic_store_n(&cur, p, __ATOMIC_RELEASE);
    return pthread_create(th, NULL, publisher, p) == 0 ? 0 : -1;
}

static void phase_end(struct phase *p, pthread_t th) {
    pthread_join(th, NULL);
    __atomic_store_n(&cur, NULL, __ATOMIC_RELEASE);
}

/* ---- results ----------------------------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void pct(struct phase *p, double *p50, double *p99) {
    *p50 = *p99 = 0;
    if (p->n_lat == 0)
        return;
    qsort(p->lat, p->n_lat, sizeof(*p->lat), cmp_u64);
    *p50 = (double)p->lat[p->n_lat / 2] / 1e3;
    *p99 = (double)p->lat[(size_t)((double)p->n_lat * 0.99)] / 1e3;
}

/* Values received per second, from the first publish to the last value received. */
static double rx_rate(const struct phase *p) {
    uint64_t last = p->t_last_rx;
    return p->received > 0 && last > p->t_first
               ? (double)p->received / ((double)(last - p->t_first) / 1e9)
               : 0;
}

/* Messages published per second, until the publisher's socket was flushed (a broker that reads
 * slowly makes the publisher block: that time counts). */
static double pub_rate(const struct phase *p) {
    return p->published > 1 && p->t_pub_end > p->t_first
               ? (double)p->published / ((double)(p->t_pub_end - p->t_first) / 1e9)
               : 0;
}

/* ---- bare baseline: mosquitto publish -> subscribe in this process ----------------------- */

static void bare_on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg) {
    (void)m;
    (void)obj;
    record(parse_seq(msg->payload, (size_t)msg->payloadlen), now_ns());
}

static void bare_on_subscribe(struct mosquitto *m, void *obj, int mid, int n, const int *q) {
    (void)m;
    (void)mid;
    (void)n;
    (void)q;
    __atomic_store_n((int *)obj, 2, __ATOMIC_RELEASE);
}

static int bare_run(struct phase *p) {
    int flag = 0;
    pthread_t th;
    struct mosquitto *sub = mq_open("bench-sub", &flag);
    if (sub == NULL || mq_wait_connected(sub, &flag) != 0)
        return -1;
    mosquitto_message_callback_set(sub, bare_on_message);
    mosquitto_subscribe_callback_set(sub, bare_on_subscribe);
    mosquitto_subscribe(sub, NULL, "bench/+/state", 0);
    mosquitto_loop_start(sub);
    for (int i = 0; i < 250 && __atomic_load_n(&flag, __ATOMIC_ACQUIRE) != 2; i++)
        usleep(20000);
    if (flag != 2 || phase_start(p, &th) != 0)
        return -1;
    while (!phase_over(p))
        usleep(20000);
    phase_end(p, th);
    for (uint64_t t = now_ns(); !settled(t);)
        usleep(20000);
    mosquitto_disconnect(sub);
    mosquitto_loop_stop(sub, false);
    mosquitto_destroy(sub);
    return p->pub_err ? -1 : 0;
}

/* ---- processes: broker and gateway ------------------------------------------------------- */

static int free_tcp_port(void) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof(a);
    int port = -1;
    if (s >= 0 && bind(s, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(s, (struct sockaddr *)&a, &l) == 0)
        port = ntohs(a.sin_port);
    if (s >= 0)
        close(s);
    return port;
}

static int tcp_accepts(int port) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int ok = s >= 0 && connect(s, (struct sockaddr *)&a, sizeof(a)) == 0;
    if (s >= 0)
        close(s);
    return ok;
}

static pid_t spawn(const char *log, char *const argv[]) {
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int null = open("/dev/null", O_WRONLY);
        if (fd >= 0)
            dup2(fd, 2);
        if (null >= 0)
            dup2(null, 1);
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

static void stop(pid_t pid) {
    if (pid <= 0)
        return;
    kill(pid, SIGTERM);
    for (int i = 0; i < 100; i++) {
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return;
        usleep(30000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

static pid_t start_broker(const char *dir) {
    char conf[512], log[512];
    snprintf(conf, sizeof(conf), "%s/mosquitto.conf", dir);
    snprintf(log, sizeof(log), "%s/mosquitto.log", dir);
    FILE *f = fopen(conf, "w");
    if (f == NULL)
        return -1;
    struct passwd *pw = getpwuid(getuid());
    /* Started as root, mosquitto would drop to its own user: stay the user we are. No queue
     * limit: a QoS 0 burst to a subscriber that lags must not be dropped by the broker. */
    fprintf(f, "listener %d 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\n", mq_port);
    if (pw != NULL)
        fprintf(f, "user %s\n", pw->pw_name);
    fclose(f);
    char *argv[] = {"/usr/sbin/mosquitto", "-c", conf, NULL};
    pid_t pid = spawn(log, argv);
    for (int i = 0; i < 250 && pid > 0; i++) {
        if (tcp_accepts(mq_port))
            return pid;
        usleep(20000);
    }
    stop(pid);
    return -1;
}

/* CPU seconds (user + system) a process has used so far, from /proc/PID/stat. */
static double proc_cpu(pid_t pid) {
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *s = strrchr(buf, ')');
    unsigned long ut = 0, st = 0;
    if (s == NULL ||
        sscanf(s + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* One counter from the gateway's /metrics (first line starting with name), or -1. */
static double metric(int port, const char *name) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    static char buf[1 << 20];
    size_t n = 0;
    double v = -1;
    if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)) != 0)
        goto out;
    static const char req[] = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (send(s, req, sizeof(req) - 1, MSG_NOSIGNAL) != (ssize_t)sizeof(req) - 1)
        goto out;
    for (ssize_t r; n < sizeof(buf) - 1 && (r = recv(s, buf + n, sizeof(buf) - 1 - n, 0)) > 0;)
        n += (size_t)r;
    buf[n] = '\0';
    for (const char *l = buf; l != NULL; l = strchr(l, '\n')) {
        l += *l == '\n';
        if (strncmp(l, name, strlen(name)) == 0 &&
            (l[strlen(name)] == ' ' || l[strlen(name)] == '{')) {
            const char *sp = strchr(l, ' ');
            if (sp != NULL)
                v = strtod(sp + 1, NULL);
            break;
        }
    }
out:
    if (s >= 0)
        close(s);
    return v;
}

/* Waits (up to ~60 s: a gateway under valgrind is slow) until the gateway's MQTT message counter
 * stops moving, i.e. it has worked off what the broker queued for it, and returns that count. */
static double gw_quiet(int port) {
    double prev = metric(port, "lwm2m_gateway_mqtt_messages_total");
    for (int i = 0; i < 300; i++) {
        usleep(200000);
        double v = metric(port, "lwm2m_gateway_mqtt_messages_total");
        if (v == prev)
            break;
        prev = v;
    }
    return prev;
}

/* Runs `$BENCH_GW_HOOK what pid` if set (a profiler's control command). */
static void gw_hook(const char *what, pid_t pid) {
    const char *hook = getenv("BENCH_GW_HOOK");
    char cmd[512];
    if (hook == NULL || *hook == '\0')
        return;
    snprintf(cmd, sizeof(cmd), "%s %s %d", hook, what, (int)pid);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_mq_notify: hook '%s' failed\n", cmd);
}

/* What the gateway did over one phase: its CPU time and its own counters. */
struct gw_window {
    double cpu, msgs, notifs;
};

static void gw_sample(struct gw_window *w, pid_t pid, int port) {
    w->cpu = proc_cpu(pid);
    w->msgs = metric(port, "lwm2m_gateway_mqtt_messages_total");
    w->notifs = metric(port, "lwm2m_gateway_notifications_total");
}

/* ---- the LwM2M server on our CoAP layer ------------------------------------------------- */

struct srv {
    struct event_base *base;
    struct coap_env env;
    struct coap_transport *tp;
    struct coap_endpoint *ep;
    struct bench_rd rd;
    size_t observed, next_obs, obs_failed;
    bool intercept;
    uint64_t notifies, notify_con, deadline_ns;
    struct phase *wait_phase;
    uint64_t settle_since; /* nonzero: the loop runs until settled(settle_since) */
};

static int srv_handle(void *ctx, struct coap_endpoint *ep, const struct coap_incoming *in) {
    struct srv *s = ctx;
    bool registered;
    int rc = bench_rd_answer(&s->rd, ep, in, &registered);
    if (registered && s->rd.npeers == s->rd.want)
        event_base_loopbreak(s->base);
    return rc;
}

/* Notifications (2.xx with Observe, CON or NON) are taken here once observing is set up; the
 * CoAP layer answers only its own exchanges. A CON notification gets its empty ACK. */
static void srv_rx(void *ctx, const uint8_t *data, size_t len, const struct coap_addr *from) {
    struct srv *s = ctx;
    struct coap_msg m;
    if (s->intercept && coap_parse(&m, data, len) == 0 && COAP_CODE_CLASS(m.code) == 2 &&
        m.type <= COAP_TYPE_NON && coap_msg_opt(&m, COAP_OPT_OBSERVE) != NULL) {
        uint64_t t = now_ns();
        if (m.type == COAP_TYPE_CON) {
            uint8_t ack[4] = {(COAP_VERSION << 6) | (COAP_TYPE_ACK << 4), 0, (uint8_t)(m.mid >> 8),
                              (uint8_t)m.mid};
            coap_transport_send(s->tp, ack, sizeof(ack), from);
            s->notify_con++;
        }
        s->notifies++;
        record(parse_seq(m.payload, m.payload_len), t);
        return;
    }
    coap_endpoint_input(s->ep, data, len, from);
}

static void on_observed(void *ctx, int err, const struct coap_msg *resp, const struct coap_addr *p);

static int observe_next(struct srv *s) {
    struct coap_msg req;
    if (s->next_obs >= s->rd.npeers)
        return 0;
    coap_msg_init(&req, COAP_TYPE_CON, COAP_GET, 0);
    coap_msg_add_opt_uint(&req, COAP_OPT_OBSERVE, 0);
    coap_msg_add_path(&req, COAP_OPT_URI_PATH, "3303/0/5700");
    coap_msg_add_opt_uint(&req, COAP_OPT_ACCEPT, 0); /* text/plain */
    return coap_request(s->ep, &s->rd.peers[s->next_obs++], &req, on_observed, s, NULL);
}

static void on_observed(void *ctx, int err, const struct coap_msg *resp,
                        const struct coap_addr *p) {
    struct srv *s = ctx;
    (void)p;
    if (err == 0 && resp->code == COAP_205_CONTENT && coap_msg_opt(resp, COAP_OPT_OBSERVE))
        s->observed++;
    else
        s->obs_failed++;
    if (s->observed + s->obs_failed == s->rd.want || observe_next(s) != 0)
        event_base_loopbreak(s->base);
}

/* Every 20 ms: ends the loop when the setup deadline passes or the awaited phase is over. */
static void on_tick(evutil_socket_t fd, short what, void *arg) {
    struct srv *s = arg;
    (void)fd;
    (void)what;
    if ((s->wait_phase != NULL && phase_over(s->wait_phase)) ||
        (s->settle_since != 0 && settled(s->settle_since)) ||
        (s->deadline_ns != 0 && now_ns() > s->deadline_ns))
        event_base_loopbreak(s->base);
}

static int gw_run(struct srv *s, struct phase *p) {
    pthread_t th;
    if (phase_start(p, &th) != 0)
        return -1;
    s->wait_phase = p;
    s->deadline_ns = 0;
    event_base_dispatch(s->base);
    s->wait_phase = NULL;
    phase_end(p, th);
    s->settle_since = now_ns();
    event_base_dispatch(s->base);
    s->settle_since = 0;
    return p->pub_err ? -1 : 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)ftw;
    return flag == FTW_DP ? rmdir(path) : unlink(path);
}

/* ---- main -------------------------------------------------------------------------------- */

static void print_phase(const char *what, struct phase *p) {
    fprintf(stderr, "  [%s: published %llu, received %llu, foreign %llu]\n", what,
            (unsigned long long)p->published, (unsigned long long)p->received,
            (unsigned long long)p->foreign);
}

int main(int argc, char **argv) {
    unsigned ndev = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 1000;
    double burst_s = argc > 2 ? strtod(argv[2], NULL) : 1.5;
    double paced_s = argc > 3 ? strtod(argv[3], NULL) : 3.0;
    const char *gw_bin = argc > 4 ? argv[4] : GW_BINARY;
    const char *hz_env = getenv("BENCH_PACED_HZ");
    unsigned paced_hz = hz_env != NULL ? (unsigned)strtoul(hz_env, NULL, 10) : PACED_HZ;
    if (ndev == 0 || ndev > 9999 || paced_hz == 0 || paced_hz > 100000 || burst_s <= 0 ||
        burst_s > 8 || paced_s <= 0 || paced_s > 8) {
        fprintf(stderr, "usage: bench_mq_notify [devices=1000 (1..9999)] [burst-seconds=1.5 (<=8)] "
                        "[paced-seconds=3 (<=8)] [gateway-binary]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    char dir[] = "/tmp/bench-mq-notify-XXXXXX";
    double load[3] = {0};
    if (getloadavg(load, 3) < 0)
        load[0] = -1;
    t_send = calloc(SEQ_CAP, sizeof(*t_send));
    struct srv s = {.rd = {.want = ndev}};
    s.rd.peers = calloc(ndev, sizeof(*s.rd.peers));
    if (t_send == NULL || s.rd.peers == NULL || mkdtemp(dir) == NULL)
        return 1;
    mosquitto_lib_init();
    int http_port = free_tcp_port();
    mq_port = free_tcp_port();
    pid_t broker = start_broker(dir), gw = -1;
    int rc = 1;
    struct phase bare_b = {.prefix = "bench", .ndev = ndev, .secs = burst_s};
    struct phase bare_p = {.prefix = "bench", .ndev = ndev, .secs = paced_s, .rate = paced_hz};
    struct phase gw_b = {.prefix = "sensors", .ndev = ndev, .secs = burst_s};
    struct phase gw_p = {.prefix = "sensors", .ndev = ndev, .secs = paced_s, .rate = paced_hz};
    struct event *tick = NULL;
    if (broker < 0) {
        fprintf(stderr, "bench_mq_notify: mosquitto did not start (see %s)\n", dir);
        goto out;
    }

    /* Bare baseline first, on its own topics, before the gateway exists. */
    if (bare_run(&bare_b) != 0 || bare_run(&bare_p) != 0) {
        fprintf(stderr, "bench_mq_notify: bare publish/subscribe failed\n");
        goto out;
    }
    print_phase("bare burst", &bare_b);
    print_phase("bare paced", &bare_p);

    /* The server. */
    struct coap_addr any;
    char cfgpath[512], logpath[512], statedir[512];
    s.base = event_base_new();
    coap_env_init(&s.env, s.base);
    coap_addr_parse(&any, "127.0.0.1", 0);
    if (s.base == NULL || coap_udp_open(s.base, &any, NULL, &s.tp) != 0 ||
        coap_endpoint_new(&s.env, s.tp, srv_handle, &s, &s.ep) != 0 ||
        coap_transport_local_addr(s.tp, &any) != 0)
        goto out;
    coap_transport_set_rx(s.tp, srv_rx, &s);
    int big = 16 << 20, fd = coap_udp_fd(s.tp);
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)) != 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
    tick = event_new(s.base, -1, EV_PERSIST, on_tick, &s);
    struct timeval tv = {0, 20000};
    event_add(tick, &tv);

    /* The gateway's config: D discovered devices, NON notifications, QoS 0. */
    snprintf(cfgpath, sizeof(cfgpath), "%s/gw.yaml", dir);
    snprintf(logpath, sizeof(logpath), "%s/gw.log", dir);
    snprintf(statedir, sizeof(statedir), "%s/state", dir);
    FILE *f = fopen(cfgpath, "w");
    if (f == NULL)
        goto out;
    fprintf(f,
            "gateway: { id: bench, log_level: warn, http: '127.0.0.1:%d', state_dir: '%s' }\n"
            "lwm2m:\n"
            "  lifetime: 300\n"
            "  servers: [ { uri: 'coap://127.0.0.1:%u' } ]\n"
            "  notifications: { con: false, con_every: 65535 }\n"
            "adapters:\n"
            "  - { name: broker, type: mqtt, host: 127.0.0.1, port: %d, qos: 0, keepalive: 30 }\n"
            "profiles:\n"
            "  th:\n"
            "    3: { 0: { 0: BenchCo, 1: TH-1 } }\n"
            "    3303:\n"
            "      0: { 5700: { topic: \"sensors/{device}/state\", json: /v } }\n"
            "devices:\n"
            "  - { adapter: broker, profile: th, discover: \"sensors/{device}/state\", "
            "max_devices: %u }\n",
            http_port, statedir, coap_addr_port(&any), mq_port, ndev);
    fclose(f);
    mkdir(statedir, 0700);

    /* Every device announces itself once (retained, value -1 is no seq) before the gateway
     * starts: discovery from the broker's retained state. */
    {
        int flag = 0;
        char topic[64];
        struct mosquitto *m = mq_open("bench-announce", &flag);
        if (m == NULL || mq_wait_connected(m, &flag) != 0)
            goto out;
        for (unsigned i = 0; i < ndev; i++) {
            snprintf(topic, sizeof(topic), "sensors/dev-%04u/state", i);
            mosquitto_publish(m, NULL, topic, 8, "{\"v\":-1}", 0, true);
        }
        mq_flush(m);
        mosquitto_disconnect(m);
        mosquitto_destroy(m);
    }
    char *gargv[] = {(char *)gw_bin, "run", "-c", cfgpath, NULL};
    uint64_t t_start = now_ns();
    gw = spawn(logpath, gargv);
    s.deadline_ns = t_start + SETUP_SEC * 1000000000ull;
    event_base_dispatch(s.base); /* until every endpoint is registered */
    double reg_s = (double)(now_ns() - t_start) / 1e9;
    if (s.rd.npeers < ndev) {
        fprintf(stderr, "bench_mq_notify: %zu of %u endpoints registered in %d s (log: %s)\n",
                s.rd.npeers, ndev, SETUP_SEC, logpath);
        goto out;
    }
    for (int k = 0; k < 16; k++)
        if (observe_next(&s) != 0)
            goto out;
    event_base_dispatch(s.base); /* until every observation is established */
    if (s.observed < ndev) {
        fprintf(stderr, "bench_mq_notify: %zu of %u observations (log: %s)\n", s.observed, ndev,
                logpath);
        goto out;
    }
    s.intercept = true;

    /* Each window starts and ends with the gateway idle, so its CPU time and counters cover
     * exactly the messages of that phase. */
    struct gw_window w0, w1, w2, w3;
    gw_quiet(http_port);
    gw_sample(&w0, gw, http_port);
    if (gw_run(&s, &gw_b) != 0)
        goto out;
    gw_quiet(http_port);
    gw_sample(&w1, gw, http_port);
    gw_hook("begin", gw);
    gw_sample(&w2, gw, http_port);
    if (gw_run(&s, &gw_p) != 0)
        goto out;
    gw_quiet(http_port);
    gw_sample(&w3, gw, http_port);
    gw_hook("end", gw);
    double c0 = w0.cpu, c1 = w1.cpu, c2 = w3.cpu - w2.cpu + w1.cpu, m0 = w0.msgs, m1 = w1.msgs;
    print_phase("gateway burst", &gw_b);
    print_phase("gateway paced", &gw_p);
    double mq_in = metric(http_port, "lwm2m_gateway_mqtt_messages_total");
    double notif = metric(http_port, "lwm2m_gateway_notifications_total");
    double drops = metric(http_port, "lwm2m_gateway_drops_total{reason=\"notification\"}");

    /* Results. */
    double b_rx = rx_rate(&bare_b), g_rx = rx_rate(&gw_b);
    double b50, b99, g50, g99;
    pct(&bare_p, &b50, &b99);
    pct(&gw_p, &g50, &g99);
    double gb_el = (double)(gw_b.t_last_rx - gw_b.t_first) / 1e9;
    double gp_el = (double)(gw_p.t_last_rx - gw_p.t_first) / 1e9;
    printf("machine: loopback, %ld CPUs online, load average %.2f at start; one gateway process "
           "(%u discovered MQTT devices -> %u endpoints), mosquitto, and this process (publisher "
           "+ LwM2M server) share the machine; gateway registered in %.2f s\n",
           sysconf(_SC_NPROCESSORS_ONLN), load[0], ndev, ndev, reg_s);
    printf("burst:  %.0f Notifies/s received (%llu in %.2f s) from %.0f MQTT msgs/s published "
           "(%llu, QoS 0); notifies/messages = %.3f; gateway CPU %.0f%% of one core\n",
           g_rx, (unsigned long long)gw_b.received, gb_el, pub_rate(&gw_b),
           (unsigned long long)gw_b.published,
           gw_b.published ? (double)gw_b.received / (double)gw_b.published : 0,
           gb_el > 0 ? 100.0 * (c1 - c0) / gb_el : 0);
    printf(
        "        the gateway took in %.0f of them (its /metrics), i.e. %.0f MQTT msgs/s processed "
        "over the same interval\n",
        m1 - m0, gb_el > 0 ? (m1 - m0) / gb_el : 0);
    double b_cpu = c1 - c0, b_notif = w1.notifs - w0.notifs;
    double per_core = b_cpu > 0 ? b_notif / b_cpu : 0;
    printf("per core: %.0f MQTT msgs in, %.0f Notifies out (ratio %.3f) for %.3f s of gateway CPU "
           "(utime+stime): %.0f Notifies per gateway CPU-second, %.0f msgs per CPU-second\n",
           m1 - m0, b_notif, m1 > m0 ? b_notif / (m1 - m0) : 0, b_cpu, per_core,
           b_cpu > 0 ? (m1 - m0) / b_cpu : 0);
    printf("bare:   %.0f msgs/s publish->subscribe through the same broker (%llu of %llu "
           "received); gateway/bare = %.2f\n",
           b_rx, (unsigned long long)bare_b.received, (unsigned long long)bare_b.published,
           b_rx > 0 ? g_rx / b_rx : 0);
    printf("paced:  %.0f msgs/s published (%llu), %llu Notifies received (%.4f); latency "
           "publish->Notify received p50 %.0f us, p99 %.0f us; gateway CPU %.0f%% of one core\n",
           pub_rate(&gw_p), (unsigned long long)gw_p.published, (unsigned long long)gw_p.received,
           gw_p.published ? (double)gw_p.received / (double)gw_p.published : 0, g50, g99,
           gp_el > 0 ? 100.0 * (c2 - c1) / gp_el : 0);
    printf("bare:   latency publish->subscriber at %.0f msgs/s p50 %.0f us, p99 %.0f us (%llu of "
           "%llu); gateway/bare p50 %.1f, p99 %.1f\n",
           pub_rate(&bare_p), b50, b99, (unsigned long long)bare_p.received,
           (unsigned long long)bare_p.published, b50 > 0 ? g50 / b50 : 0, b99 > 0 ? g99 / b99 : 0);
    printf("gateway /metrics: mqtt messages %.0f, notifications %.0f, notification drops %.0f; "
           "server saw %llu notifications (%llu CON), %llu with no seq of the phase\n",
           mq_in, notif, drops, (unsigned long long)s.notifies, (unsigned long long)s.notify_con,
           (unsigned long long)(gw_b.foreign + gw_p.foreign));
    printf("paced window: %.0f msgs in, %.0f Notifies out, %.3f s gateway CPU\n", w3.msgs - w2.msgs,
           w3.notifs - w2.notifs, w3.cpu - w2.cpu);
    printf("budget (DESIGN.md): >= 50000 Notifies per core-second: %s (%.0f); p99 <= 2000 us at "
           "10000/s: %s\n",
           per_core >= 50000 ? "met" : "NOT met", per_core,
           paced_hz != PACED_HZ            ? "not measured (paced rate overridden)"
           : gw_p.n_lat > 0 && g99 <= 2000 ? "met"
                                           : "NOT met");
    rc = 0;
out:
    stop(gw);
    stop(broker);
    if (tick != NULL)
        event_free(tick);
    if (s.ep != NULL)
        coap_endpoint_free(s.ep);
    coap_transport_close(s.tp);
    if (s.base != NULL)
        event_base_free(s.base);
    mosquitto_lib_cleanup();
    if (rc == 0) {
        if (nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
            fprintf(stderr, "bench_mq_notify: could not remove %s\n", dir);
    } else {
        fprintf(stderr, "bench_mq_notify: failed; files kept in %s\n", dir);
    }
    free(bare_b.lat);
    free(bare_p.lat);
    free(gw_b.lat);
    free(gw_p.lat);
    free(s.rd.peers);
    free(t_send);
    return rc;
}
