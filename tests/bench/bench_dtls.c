/* SPDX-License-Identifier: Apache-2.0 */
/* bench_dtls: the engine's DTLS PSK endpoints at scale against the memory budget (DESIGN.md:
 * <= 48 KiB per endpoint). Starts the test LwM2M server (tests/peers/lwm2m_test_server, libcoap
 * on GnuTLS: a DTLS stack other than ours) on loopback with one PSK per endpoint identity
 * ("bench-I", one shared key), then runs two phases, each in a child process forked from this
 * one before any engine exists (so that neither phase's freed memory flatters the other's RSS):
 *   nosec: N endpoints registering with the server's plain port (the comparison);
 *   dtls:  N endpoints registering with its DTLS port (handshake + Register).
 * Each phase registers one endpoint, then N-1 more, and reports the time and rate, resident
 * memory (and malloc'd bytes) per endpoint beyond the first after a few idle seconds, CPU while
 * idle, and the CPU both processes spent registering (which side limits the rate). The server's
 * stdout (JSON lines) is drained by the running phase, which counts its register and dtls_*
 * events. Server binary: $LWM2M_TEST_SERVER, else $GW_BUILD_DIR/tests/peers/, else this tree's.
 * Usage: bench_dtls [N=1000] [idle-seconds=3] [each|shared (PSK identities)]
 * Environment: BENCH_REG_CONCURRENCY overrides the engine's reg_concurrency (default 64). */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "lwm2m/dtls.h"
#include "lwm2m/engine.h"
#include "lwm2m/error.h"
#include "lwm2m/memstore.h"

#ifndef TS_BINARY
#define TS_BINARY "lwm2m_test_server"
#endif

#define PSK_HEX       "000102030405060708090a0b0c0d0e0f"
#define BUDGET_DTLS_B (48 * 1024)
#define LINE_CAP      65536

/* ---- measurements ----------------------------------------------------------------------- */

/* utime + stime of another process, from /proc/PID/stat (fields 14 and 15). */
static double cpu_pid_s(pid_t pid) {
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    size_t n = f != NULL ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    if (f != NULL)
        fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    unsigned long ut = 0, st = 0;
    if (p == NULL ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return 0;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static size_t heap_bytes(void) {
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

/* ---- the test server: process and its JSON lines ---------------------------------------- */

struct server {
    pid_t pid;
    int in_fd, out_fd; /* its stdin (EOF makes it quit), its stdout (non-blocking) */
    int port, dtls_port;
    char line[LINE_CAP];
    size_t len;
    bool overlong; /* the rest of a line too long for line[] is skipped */
    /* events seen by the current reader */
    unsigned registers, dtls_failed, dtls_closed;
    char err_path[64]; /* its stderr */
};

static void server_line(struct server *s, const char *l) {
    const char *p;
    if (strstr(l, "\"event\":\"register\",") != NULL)
        s->registers++;
    else if (strstr(l, "\"event\":\"dtls_failed\"") != NULL)
        s->dtls_failed++;
    else if (strstr(l, "\"event\":\"dtls_closed\"") != NULL)
        s->dtls_closed++;
    else if (strstr(l, "\"event\":\"ready\"") != NULL) {
        /* jansson keeps insertion order: the first "port" is the top-level one */
        if ((p = strstr(l, "\"port\":")) != NULL)
            s->port = atoi(p + 7);
        if ((p = strstr(l, "\"dtls_port\":")) != NULL)
            s->dtls_port = atoi(p + 12);
    }
}

/* Reads what the server's stdout holds and handles each complete line. -1 at EOF. */
static int server_read(struct server *s) {
    for (;;) {
        ssize_t n = read(s->out_fd, s->line + s->len, sizeof(s->line) - 1 - s->len);
        if (n == 0)
            return -1;
        if (n < 0)
            return errno == EAGAIN || errno == EINTR ? 0 : -1;
        s->len += (size_t)n;
        s->line[s->len] = '\0';
        char *start = s->line, *nl;
        while ((nl = strchr(start, '\n')) != NULL) {
            *nl = '\0';
            if (!s->overlong)
                server_line(s, start);
            s->overlong = false;
            start = nl + 1;
        }
        s->len -= (size_t)(start - s->line);
        memmove(s->line, start, s->len);
        if (s->len == sizeof(s->line) - 1) { /* no newline in a full buffer */
            s->len = 0;
            s->overlong = true;
        }
    }
}

static char **server_argv(const char *bin, size_t n, bool shared) {
    size_t npsk = shared ? 1 : n, k = 0;
    char **av = calloc(8 + 2 * npsk, sizeof(*av));
    if (av == NULL)
        return NULL;
    const char *fixed[] = {bin, "--addr", "127.0.0.1", "--port", "0", "--dtls-port", "0"};
    for (; k < sizeof(fixed) / sizeof(fixed[0]); k++)
        av[k] = (char *)fixed[k];
    for (size_t i = 0; i < npsk; i++) {
        char psk[96];
        if (shared)
            snprintf(psk, sizeof(psk), "bench:%s", PSK_HEX);
        else
            snprintf(psk, sizeof(psk), "bench-%zu:%s", i, PSK_HEX);
        av[k++] = "--psk";
        if ((av[k++] = strdup(psk)) == NULL)
            return NULL;
    }
    return av;
}

static const char *server_binary(char *buf, size_t cap) {
    const char *env = getenv("LWM2M_TEST_SERVER");
    if (env != NULL)
        return env;
    if ((env = getenv("GW_BUILD_DIR")) != NULL) {
        snprintf(buf, cap, "%s/tests/peers/lwm2m_test_server", env);
        return buf;
    }
    return TS_BINARY;
}

/* Starts the server and waits for its ready event (10 s). */
static int server_start(struct server *s, size_t n, bool shared) {
    char bin_buf[512];
    const char *bin = server_binary(bin_buf, sizeof(bin_buf));
    char **av = server_argv(bin, n, shared);
    int in[2], out[2];
    snprintf(s->err_path, sizeof(s->err_path), "/tmp/bench_dtls.%d.err", (int)getpid());
    int err = open(s->err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (av == NULL || err < 0 || pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0)
        return -1;
    fflush(stdout);
    s->pid = fork();
    if (s->pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(err, 2);
        execv(bin, av);
        fprintf(stderr, "exec %s: %s\n", bin, strerror(errno));
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    close(err);
    s->in_fd = in[1];
    s->out_fd = out[0];
    fcntl(s->out_fd, F_SETFL, fcntl(s->out_fd, F_GETFL) | O_NONBLOCK);
    double end = bench_now_s() + 10;
    while (s->dtls_port <= 0 && bench_now_s() < end) {
        struct pollfd pfd = {.fd = s->out_fd, .events = POLLIN};
        poll(&pfd, 1, 100);
        if (server_read(s) < 0)
            break;
    }
    if (s->dtls_port <= 0) {
        fprintf(stderr, "%s did not start (its stderr: %s)\n", bin, s->err_path);
        return -1;
    }
    return 0;
}

static void server_stop(struct server *s) {
    close(s->in_fd); /* EOF on its control channel: it quits */
    close(s->out_fd);
    for (int i = 0; i < 50; i++) {
        if (waitpid(s->pid, NULL, WNOHANG) == s->pid)
            return;
        usleep(100000);
    }
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
}

/* Lines the server wrote on stderr (libcoap warnings, GnuTLS audit messages); reports them. */
static unsigned server_errors(const struct server *s) {
    FILE *f = fopen(s->err_path, "r");
    char l[512], last[512] = "";
    unsigned n = 0;
    while (f != NULL && fgets(l, sizeof(l), f) != NULL) {
        n++;
        snprintf(last, sizeof(last), "%s", l);
    }
    if (f != NULL)
        fclose(f);
    if (n > 0)
        printf("server stderr: %u lines (kept in %s), the last: %s", n, s->err_path, last);
    return n;
}

/* ---- one phase, in a child process ------------------------------------------------------ */

struct result {
    int done; /* the phase ran to its end (all registered, or the deadline) */
    size_t registered;
    double t_reg, gw_cpu, srv_cpu, idle_gw, idle_srv;
    long rss1, rssn, srv_rss1, srv_rssn;
    size_t heap1, heapn;
    unsigned srv_registers, srv_dtls_failed, srv_dtls_closed, sec_failed, reg_failed;
    struct coap_dtls_stats dtls;
};

struct phase {
    const char *name;
    bool dtls, shared;
    size_t n;
    double idle_s;
    struct server *srv;
    struct event_base *base;
    struct lwm2m_engine *eng;
    struct lwm2m_model *model;
    size_t want;
    struct result *r;
};

static void on_event(void *ctx, const struct lwm2m_event *ev) {
    struct phase *ph = ctx;
    size_t reg = 0;
    if (ev->type == LWM2M_EV_SECURE_FAILED)
        ph->r->sec_failed++;
    else if (ev->type == LWM2M_EV_REGISTER_FAILED || ev->type == LWM2M_EV_TIMEOUT)
        ph->r->reg_failed++;
    lwm2m_engine_endpoints(ph->eng, &reg);
    if (ev->type == LWM2M_EV_REGISTERED && reg == ph->want)
        event_base_loopbreak(ph->base);
}

static void on_server_out(evutil_socket_t fd, short what, void *arg) {
    struct phase *ph = arg;
    if (server_read(ph->srv) < 0) {
        fprintf(stderr, "the test server went away (its stderr: %s)\n", ph->srv->err_path);
        event_base_loopbreak(ph->base);
    }
}

static void run_for(struct phase *ph, double secs) {
    struct timeval tv = bench_timeval(secs);
    event_base_loopexit(ph->base, &tv);
    event_base_dispatch(ph->base);
}

static int add_endpoints(struct phase *ph, size_t from, size_t to) {
    char uri[64], identity[32];
    snprintf(uri, sizeof(uri), "%s://127.0.0.1:%d", ph->dtls ? "coaps" : "coap",
             ph->dtls ? ph->srv->dtls_port : ph->srv->port);
    static const uint8_t key[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    struct lwm2m_server_cfg srv = {.uri = uri,
                                   .ssid = 1,
                                   .lifetime = 3600,
                                   .version_minor = 1,
                                   .sec_mode = ph->dtls ? LWM2M_SEC_PSK : LWM2M_SEC_NOSEC,
                                   .psk_identity = ph->dtls ? identity : NULL,
                                   .psk = ph->dtls ? key : NULL,
                                   .psk_len = ph->dtls ? sizeof(key) : 0};
    for (size_t i = from; i < to; i++) {
        char name[48];
        snprintf(name, sizeof(name), "urn:dev:bench-%s:%zu", ph->name, i);
        snprintf(identity, sizeof(identity), ph->shared ? "bench" : "bench-%zu", i);
        struct lwm2m_endpoint_cfg cfg = {
            .name = name, .servers = &srv, .nservers = 1, .bind_host = "127.0.0.1"};
        struct lwm2m_memstore *ms;
        if (lwm2m_memstore_new(ph->model, &ms) != 0)
            return -1;
        bench_fill_device(ms, i);
        if (lwm2m_endpoint_add(ph->eng, &cfg, &lwm2m_memstore_provider, ms, NULL) != 0) {
            fprintf(stderr, "endpoint %zu: cannot add (%s; file descriptors? ulimit -n)\n", i,
                    lwm2m_engine_dtls_error(ph->eng));
            return -1;
        }
    }
    return 0;
}

/* Adds endpoints [from, to) and runs until all are registered or the deadline passes. */
static int register_batch(struct phase *ph, size_t from, size_t to, double deadline_s) {
    ph->want = to;
    if (add_endpoints(ph, from, to) != 0)
        return -1;
    run_for(ph, deadline_s);
    lwm2m_engine_endpoints(ph->eng, &ph->r->registered);
    return ph->r->registered == to ? 0 : -1;
}

static int phase_setup(struct phase *ph) {
    ph->base = event_base_new();
    if (ph->base == NULL || lwm2m_model_new(&ph->model) != 0)
        return -1;
    lwm2m_model_seal(ph->model);
    const char *conc = getenv("BENCH_REG_CONCURRENCY");
    struct lwm2m_engine_cfg ecfg = {.base = ph->base,
                                    .model = ph->model,
                                    .on_event = on_event,
                                    .event_ctx = ph,
                                    .reg_concurrency = conc != NULL ? (uint32_t)atoi(conc) : 0};
    struct event *rd =
        event_new(ph->base, ph->srv->out_fd, EV_READ | EV_PERSIST, on_server_out, ph);
    if (rd == NULL || event_add(rd, NULL) != 0 || lwm2m_engine_new(&ecfg, &ph->eng) != 0)
        return -1;
    return 0;
}

static void phase_run(struct phase *ph) {
    struct result *r = ph->r;
    pid_t spid = ph->srv->pid;
    double deadline = 30.0 + (double)ph->n / 50.0;
    ph->srv->registers = ph->srv->dtls_failed = ph->srv->dtls_closed = 0;
    if (phase_setup(ph) != 0 || register_batch(ph, 0, 1, 30.0) != 0)
        return;
    run_for(ph, 0.2); /* let the first settle (its server line, timers) */
    r->rss1 = bench_rss_kib(getpid());
    r->heap1 = heap_bytes();
    r->srv_rss1 = bench_rss_kib(spid);
    double c0 = bench_cpu_self_s(), s0 = cpu_pid_s(spid), t0 = bench_now_s();
    int rc = register_batch(ph, 1, ph->n, deadline);
    r->t_reg = bench_now_s() - t0;
    r->gw_cpu = bench_cpu_self_s() - c0;
    r->srv_cpu = cpu_pid_s(spid) - s0;
    if (rc != 0)
        fprintf(stderr, "%s: %zu of %zu registered after %.0f s\n", ph->name, r->registered, ph->n,
                deadline);
    c0 = bench_cpu_self_s();
    s0 = cpu_pid_s(spid);
    run_for(ph, ph->idle_s);
    r->idle_gw = (bench_cpu_self_s() - c0) / ph->idle_s;
    r->idle_srv = (cpu_pid_s(spid) - s0) / ph->idle_s;
    r->rssn = bench_rss_kib(getpid());
    r->heapn = heap_bytes();
    r->srv_rssn = bench_rss_kib(spid);
    r->srv_registers = ph->srv->registers;
    r->srv_dtls_failed = ph->srv->dtls_failed;
    r->srv_dtls_closed = ph->srv->dtls_closed;
    r->dtls = *lwm2m_engine_dtls_stats(ph->eng);
    r->done = 1;
}

/* Runs the phase in a child process; its result lands in shared memory r. */
static int phase_fork(struct phase *ph) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        phase_run(ph);
        fflush(stdout);
        _exit(0);
    }
    int st;
    return pid > 0 && waitpid(pid, &st, 0) == pid && ph->r->done ? 0 : -1;
}

/* ---- report ----------------------------------------------------------------------------- */

static double per_ep(long a_kib, long b_kib, size_t n) {
    return (double)(b_kib - a_kib) * 1024.0 / (double)(n - 1);
}

static void report_phase(const char *name, const struct result *r, size_t n) {
    printf("%s: %zu of %zu registered; %zu beyond the first in %.2f s = %.0f registrations/s\n",
           name, r->registered, n, n - 1, r->t_reg, (double)(n - 1) / r->t_reg);
    printf("%s:   CPU while registering: gateway %.2f s (%.0f %%), server %.2f s (%.0f %%)\n", name,
           r->gw_cpu, 100 * r->gw_cpu / r->t_reg, r->srv_cpu, 100 * r->srv_cpu / r->t_reg);
    printf("%s:   gateway RSS %ld KiB with 1, %ld KiB with %zu: %.0f B per endpoint beyond the "
           "first (malloc'd: %.0f B)\n",
           name, r->rss1, r->rssn, n, per_ep(r->rss1, r->rssn, n),
           (double)(r->heapn - r->heap1) / (double)(n - 1));
    printf("%s:   server RSS %ld -> %ld KiB: %.0f B per registration\n", name, r->srv_rss1,
           r->srv_rssn, per_ep(r->srv_rss1, r->srv_rssn, n));
    printf("%s:   idle: gateway %.2f %%, server %.2f %% of one core\n", name, 100 * r->idle_gw,
           100 * r->idle_srv);
    printf("%s:   server events: %u register, %u dtls_failed, %u dtls_closed; engine: %u "
           "secure_failed, %u register failed/timeout\n",
           name, r->srv_registers, r->srv_dtls_failed, r->srv_dtls_closed, r->sec_failed,
           r->reg_failed);
}

static void report(const struct result *ns, const struct result *dt, size_t n) {
    report_phase("nosec", ns, n);
    report_phase("dtls", dt, n);
    printf("dtls:   handshakes %llu started, %llu ok, %llu failed; %llu rx dropped, %llu tx "
           "dropped\n",
           (unsigned long long)dt->dtls.handshakes, (unsigned long long)dt->dtls.handshakes_ok,
           (unsigned long long)dt->dtls.handshakes_failed, (unsigned long long)dt->dtls.rx_dropped,
           (unsigned long long)dt->dtls.tx_dropped);
    double bn = per_ep(ns->rss1, ns->rssn, n), bd = per_ep(dt->rss1, dt->rssn, n);
    printf("ratio: DTLS/NoSec memory per endpoint %.1fx; registration time %.1fx\n",
           bn > 0 ? bd / bn : 0.0, dt->t_reg / ns->t_reg);
    bool ok = dt->registered == n && bd <= BUDGET_DTLS_B;
    printf("budget: DTLS PSK %.1f KiB per endpoint (<= 48 KiB, N=%zu, all registered: %s): %s\n",
           bd / 1024, n, dt->registered == n ? "yes" : "no", ok ? "PASS" : "FAIL");
    printf("budget: 10,000 registrations in <= 10 s: DTLS at %.0f/s -> %.1f s projected%s; the "
           "busier side: %s (%.0f %% of a core; gateway %.1f ms CPU per endpoint)\n",
           (double)(n - 1) / dt->t_reg, 10000.0 * dt->t_reg / (double)(n - 1),
           n >= 10000 ? (dt->t_reg <= 10.0 ? " (PASS)" : " (FAIL)") : "",
           dt->srv_cpu > dt->gw_cpu ? "test server" : "gateway",
           100 * (dt->srv_cpu > dt->gw_cpu ? dt->srv_cpu : dt->gw_cpu) / dt->t_reg,
           1000 * dt->gw_cpu / (double)(n - 1));
}

int main(int argc, char **argv) {
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000;
    double idle_s = argc > 2 ? atof(argv[2]) : 3.0;
    bool shared = argc > 3 && strcmp(argv[3], "shared") == 0;
    bench_raise_nofile();
    signal(SIGPIPE, SIG_IGN);
    struct result *res =
        mmap(NULL, 2 * sizeof(*res), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    static struct server srv; /* its line buffer is big */
    if (n < 2 || idle_s <= 0 || res == MAP_FAILED || server_start(&srv, n, shared) != 0)
        return 1;
    memset(res, 0, 2 * sizeof(*res));
    printf("bench_dtls: N=%zu, %s PSK identity, test server pid %d (plain %d, DTLS %d)\n", n,
           shared ? "one shared" : "one per endpoint", (int)srv.pid, srv.port, srv.dtls_port);
    struct phase nosec = {"nosec", false, shared, n, idle_s, &srv, .r = &res[0]};
    struct phase dtls = {"dtls", true, shared, n, idle_s, &srv, .r = &res[1]};
    int rc = phase_fork(&nosec) == 0 && phase_fork(&dtls) == 0 ? 0 : 1;
    if (rc == 0)
        report(&res[0], &res[1], n);
    else
        fprintf(stderr, "a phase did not complete (server stderr: %s)\n", srv.err_path);
    server_stop(&srv);
    if (rc == 0 && server_errors(&srv) == 0)
        unlink(srv.err_path);
    return rc;
}
