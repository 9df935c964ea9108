/* SPDX-License-Identifier: Apache-2.0 */
/* The test LwM2M server: a test peer on libcoap3 (never on our own CoAP code). This file owns the
 * process: options, the libcoap context and endpoints, the I/O loop, pause/resume, and the JSON
 * lines control channel (commands on stdin, results and events on stdout, one object a line).
 *
 * Commands carry "cmd" and an "id" that the result echoes. Requests to an endpoint take "ep" (a
 * registered name) or "addr"+"port" (a raw address), and optionally "path", "accept", "ct",
 * "payload" (hex) or "text", "query" or "attrs" {k: v|null}, "timeout" (s), "non", "observe":
 *   read, discover (Accept 40), write (PUT; "partial": POST), write_attributes (PUT + query),
 *   execute (POST), create (POST), delete, observe (GET Observe 0), read_composite (FETCH),
 *   observe_composite (FETCH Observe 0), write_composite (iPATCH), request ("method"): the
 *   composite ones also take "paths" [..] or "senml" [records], encoded as "ct" 110 or 112.
 *   Result: {"id","code":"2.05","ct":N|null,"payload":hex,"decoded"|"decode_error",
 *            "observe"?,"token"? (observe)} or {"id","error":"timeout"|"reset"|...}.
 * Local commands: cancel_observe {"token","mode":"get"|"rst"}, list, pause, resume,
 *   fault {"reject_version":V|[..],"register_code":"4.03","count":N,"clear":true,
 *          "location_joined":true (Location-Path as one option "rd/<id>")},
 *   decode {"ct","payload"}, encode {"ct","senml"} or {"ct","path","resources"|"instances",
 *   "wrap"?} (a bootstrap write body, below), set {"timeout"}, ping, quit,
 *   drop_sessions {"forget_registrations","close_notify"} (forget every DTLS session, as a
 *   restart would; registrations stay without a session unless forgotten) -> {"dropped":N}.
 * Events: {"event","t":monotonic ms,...}: ready {port,endpoints,dtls_port,dtls_endpoints,pid},
 *   register {ep,id,lt,lwm2m,b,q,sms?,links,addr,port,secure,psk_identity?|cert_cn?,replaced?},
 *   register_rejected {ep,lwm2m,code,reason}, update {ep,id,lt?,b?,q?,sms?,links?,addr,port,
 *   secure,psk_identity?|cert_cn?}, deregister, expired {ep,id}, send {ep,secure,psk_identity?|
 *   cert_cn?,ct,code,payload,decoded}, notify {token,ep,path,code,ct,observe,payload,decoded,
 *   cancelled?}, observe_failed {token,reason}, dtls_failed {addr,port,reason,detail?,
 *   psk_identity?} (a handshake failed), dtls_closed {ep?,addr,port,reason,detail?} (an
 *   established DTLS session ended), bs_request {ep,addr,port,secure,psk_identity?|cert_cn?,pct?,
 *   code,reason?}, bs_step {ep,step,op,path,code,ct,payload,decoded?}, bs_finished {ep,code (of
 *   the Finish; null: the script had none),steps}, bs_failed {ep,step,op,path,reason,code?}.
 * Bootstrap-Server (ts_bs.c; the same process serves /rd too): bs_config {"ep": NAME or "*",
 *   "steps": [..], "code"?: "5.03" (answers POST /bs instead; "count"?: N, only the next N),
 *   "remove"?} -> {"configured": [names]}. POST /bs?ep=[&pct=] gets 2.04 (4.00 without ep or
 *   script, 4.15 for a pct other than 11542/112/110), then the steps go one after the other, each
 *   after the previous response, on the session the request came on (plain or DTLS). A step:
 *   {"op": "delete"|"write"|"discover"|"read"|"finish", "path"? ("/"), "delay"? s, "timeout"? s,
 *   "continue"? (go on after a non-2.xx answer)}. write (PUT): "resources" {RID: value} on /O/I or
 *   "instances" {IID: {RID: value}} on /O in "ct" (default: pct if 112 or 110, else 11542 TLV;
 *   "wrap": TLV inside the Object Instance TLV), values string, integer, real, boolean, {"hex"},
 *   {"objlnk": "O:I"}, {RIID: value}; or "senml" [records] (ct 110|112), or "payload" (hex) or
 *   "text" with "ct". discover: Accept 40; read: "accept"?; finish (POST /bs) ends the script.
 *   bs_initiate {"ep", "addr", "port"} plays ep's script to that address at once, from the plain
 *   listening address (server-initiated bootstrap) -> {"ok": true}; its events are bs_step,
 *   bs_finished, bs_failed as for a request.
 * DTLS (--dtls-port with --psk and/or --pki) is libcoap's GnuTLS flavour: ts_dtls.c. */
#include "ts.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#define SWEEP_MS       100 /* request timeouts are checked this often */
#define RD_SWEEP_MS    250 /* and registration lifetimes this often */
#define PREPARE_MIN_MS 20
#define PREPARE_MAX_MS 250
#define READS_PER_PASS 256
#define LINE_MAX_LEN   (1 << 20)

/* ---- helpers shared with the other files ---- */

int64_t ts_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void ts_emit(struct ts_server *srv, json_t *obj) {
    char *s = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    if (s) {
        fputs(s, srv->out);
        fputc('\n', srv->out);
        fflush(srv->out);
        free(s);
    }
    json_decref(obj);
}

json_t *ts_event_new(const char *name) {
    return json_pack("{s:s,s:I}", "event", name, "t", (json_int_t)ts_now_ms());
}

void ts_emit_error(struct ts_server *srv, json_t *id, const char *msg) {
    ts_emit(srv, json_pack("{s:O,s:s}", "id", id ? id : json_null(), "error", msg));
}

struct ts_server *ts_server_of(coap_session_t *session) {
    return coap_get_app_data(coap_session_get_context(session));
}

const char *ts_code_str(int code, char *buf) {
    snprintf(buf, 8, "%d.%02d", (code >> 5) & 7, code & 31);
    return buf;
}

int ts_code_parse(const char *s) {
    unsigned cls, detail;
    char extra;
    if (sscanf(s, "%u.%u%c", &cls, &detail, &extra) == 2 && cls <= 7 && detail <= 31)
        return (int)(cls << 5 | detail);
    if (sscanf(s, "%u%c", &cls, &extra) == 1 && cls >= 100 && cls <= 799 && cls % 100 <= 31)
        return COAP_RESPONSE_CODE((int)cls);
    return -1;
}

void ts_addr_json(json_t *obj, const coap_address_t *a) {
    char buf[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (a && a->addr.sa.sa_family == AF_INET) {
        inet_ntop(AF_INET, &a->addr.sin.sin_addr, buf, sizeof(buf));
        port = ntohs(a->addr.sin.sin_port);
    } else if (a && a->addr.sa.sa_family == AF_INET6) {
        inet_ntop(AF_INET6, &a->addr.sin6.sin6_addr, buf, sizeof(buf));
        port = ntohs(a->addr.sin6.sin6_port);
    }
    json_object_set_new(obj, "addr", json_string(buf));
    json_object_set_new(obj, "port", json_integer(port));
}

/* ---- addresses, endpoints and their sockets ---- */

int ts_parse_addr(const char *host, int port, coap_address_t *a) {
    coap_address_init(a);
    if (inet_pton(AF_INET, host, &a->addr.sin.sin_addr) == 1) {
        a->addr.sin.sin_family = AF_INET;
        a->addr.sin.sin_port = htons((uint16_t)port);
        a->size = sizeof(a->addr.sin);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &a->addr.sin6.sin6_addr) == 1) {
        a->addr.sin6.sin6_family = AF_INET6;
        a->addr.sin6.sin6_port = htons((uint16_t)port);
        a->size = sizeof(a->addr.sin6);
        return 0;
    }
    return -1;
}

static bool known_socket(const struct ts_server *srv, int fd) {
    for (int i = 0; i < srv->n_listen; i++) {
        if (srv->listen[i].fd == fd)
            return true;
    }
    return false;
}

/* libcoap does not expose an endpoint's socket; we need it for the bound port (--port 0), a
 * bigger receive buffer (thousands of concurrent registrations) and pause. It is the UDP socket of
 * this process bound to the address that no earlier endpoint owns (the plain and the DTLS
 * endpoint share the address), found right after the bind, before any client session exists. */
static int find_socket(const struct ts_server *srv, const coap_address_t *want, int *port) {
    for (int fd = 3; fd < 1024; fd++) {
        if (known_socket(srv, fd))
            continue;
        int type;
        socklen_t tl = sizeof(type);
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 || type != SOCK_DGRAM ||
            getsockname(fd, (struct sockaddr *)&ss, &sl) < 0 ||
            ss.ss_family != want->addr.sa.sa_family)
            continue;
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)&ss;
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&ss;
        bool same =
            ss.ss_family == AF_INET
                ? s4->sin_addr.s_addr == want->addr.sin.sin_addr.s_addr &&
                      (!want->addr.sin.sin_port || s4->sin_port == want->addr.sin.sin_port)
                : memcmp(&s6->sin6_addr, &want->addr.sin6.sin6_addr, 16) == 0 &&
                      (!want->addr.sin6.sin6_port || s6->sin6_port == want->addr.sin6.sin6_port);
        if (same) {
            *port = ntohs(ss.ss_family == AF_INET ? s4->sin_port : s6->sin6_port);
            return fd;
        }
    }
    return -1;
}

static int listen_on(struct ts_server *srv, const char *host, int port, bool dtls) {
    coap_address_t a;
    if (srv->n_listen >= TS_MAX_ENDPOINTS || ts_parse_addr(host, port, &a) < 0) {
        fprintf(stderr, "lwm2m_test_server: bad listen address %s\n", host);
        return -1;
    }
    if (!coap_new_endpoint(srv->ctx, &a, dtls ? COAP_PROTO_DTLS : COAP_PROTO_UDP)) {
        fprintf(stderr, "lwm2m_test_server: cannot listen (%s) on %s port %d\n",
                dtls ? "dtls" : "udp", host, port);
        return -1;
    }
    struct ts_listen *l = &srv->listen[srv->n_listen];
    snprintf(l->addr, sizeof(l->addr), "%s", host);
    l->dtls = dtls;
    l->fd = find_socket(srv, &a, &l->port);
    srv->n_listen++;
    if (l->fd >= 0) {
        int sz = 8 << 20;
        if (setsockopt(l->fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0)
            setsockopt(l->fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
    } else {
        l->port = port;
    }
    return 0;
}

/* Pause drops every datagram in the kernel (a socket filter that accepts nothing), and libcoap's
 * packet-loss knob drops what we would send: an outage as both sides see it. */
void ts_set_paused(struct ts_server *srv, bool paused) {
    static struct sock_filter drop_all[] = {BPF_STMT(BPF_RET | BPF_K, 0)};
    struct sock_fprog prog = {1, drop_all};
    int dummy = 0;
    for (int i = 0; i < srv->n_listen; i++) {
        int fd = srv->listen[i].fd;
        if (fd < 0)
            continue;
        if (paused)
            setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog));
        else
            setsockopt(fd, SOL_SOCKET, SO_DETACH_FILTER, &dummy, sizeof(dummy));
    }
    srv->paused = paused;
    ts_mute(srv, false);
}

void ts_mute(struct ts_server *srv, bool on) {
    coap_debug_set_packet_loss(on || srv->paused ? "100%" : "0%");
}

/* ---- the control channel: JSON lines on stdin ---- */

struct line_buf {
    char *buf;
    size_t len, cap;
};

/* Reads what stdin has; handles each complete line. Returns -1 at EOF. */
static int read_control(struct ts_server *srv, struct line_buf *lb) {
    if (lb->cap - lb->len < 4096) {
        size_t cap = lb->cap ? lb->cap * 2 : 65536;
        char *nb = cap <= LINE_MAX_LEN * 2 ? realloc(lb->buf, cap) : NULL;
        if (!nb) {
            lb->len = 0; /* a line longer than we accept: drop it */
            ts_emit_error(srv, NULL, "line too long");
        } else {
            lb->buf = nb;
            lb->cap = cap;
        }
    }
    ssize_t n = read(STDIN_FILENO, lb->buf + lb->len, lb->cap - lb->len);
    if (n == 0)
        return -1;
    if (n < 0)
        return errno == EAGAIN || errno == EINTR ? 0 : -1;
    lb->len += (size_t)n;
    char *start = lb->buf, *nl;
    while (!srv->quit && (nl = memchr(start, '\n', lb->len - (size_t)(start - lb->buf)))) {
        if (nl > start)
            ts_ctl_handle_line(srv, start, (size_t)(nl - start));
        start = nl + 1;
    }
    lb->len -= (size_t)(start - lb->buf);
    memmove(lb->buf, start, lb->len);
    return 0;
}

/* ---- options, setup and the loop ---- */

/* The last warning libcoap logged in this part of a loop pass: the detail of a dtls_failed event
 * (libcoap says why a handshake failed only in its log). A file-scope buffer because libcoap's
 * log handler takes no context argument; only the loop's thread writes it. */
static char log_detail[256];

static void log_to_stderr(coap_log_t level, const char *message) {
    /* libcoap logs to stdout by default, which is our control channel. */
    fprintf(stderr, "libcoap[%d]: %s", (int)level, message);
    if (level <= LOG_WARNING) {
        message += strspn(message, " *");
        snprintf(log_detail, sizeof(log_detail), "%.*s", (int)strcspn(message, "\n"), message);
    }
}

bool ts_take_log_detail(char *buf, size_t cap) {
    bool some = log_detail[0] != '\0';
    snprintf(buf, cap, "%s", log_detail);
    log_detail[0] = '\0';
    return some;
}

static void usage(void) {
    fputs("usage: lwm2m_test_server [--port N] [--addr A]... [--ipv6] [--timeout S]\n"
          "         [--reject-version V]... [--register-code C] [--log-level N]\n"
          "         [--session-timeout S] [--dtls-port N [--psk IDENTITY:HEXKEY]...\n"
          "         [--pki CERT,KEY,CA]]\n"
          "Commands on stdin and results/events on stdout, one JSON object a line.\n",
          stderr);
}

static int parse_options(struct ts_server *srv, int argc, char **argv, int *port,
                         const char **addrs, int *naddr) {
    static const struct option opts[] = {{"port", required_argument, 0, 'p'},
                                         {"addr", required_argument, 0, 'a'},
                                         {"ipv6", no_argument, 0, '6'},
                                         {"timeout", required_argument, 0, 't'},
                                         {"reject-version", required_argument, 0, 'r'},
                                         {"register-code", required_argument, 0, 'c'},
                                         {"log-level", required_argument, 0, 'l'},
                                         {"session-timeout", required_argument, 0, 's'},
                                         {"dtls-port", required_argument, 0, 'd'},
                                         {"psk", required_argument, 0, 'k'},
                                         {"pki", required_argument, 0, 'x'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "p:a:6t:r:c:l:s:d:k:x:h", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            *port = atoi(optarg);
            break;
        case 'a':
        case '6':
            if (*naddr < TS_MAX_LISTEN)
                addrs[(*naddr)++] = c == '6' ? "::1" : optarg;
            break;
        case 't':
            srv->default_timeout_s = atof(optarg);
            break;
        case 'r':
            if (srv->n_reject < TS_MAX_REJECT)
                snprintf(srv->reject_version[srv->n_reject++], 8, "%s", optarg);
            break;
        case 'c':
            srv->forced_code = ts_code_parse(optarg);
            srv->forced_count = 1;
            if (srv->forced_code < 0)
                return -1;
            break;
        case 'l':
            coap_set_log_level(atoi(optarg));
            break;
        case 's':
            srv->session_timeout_s = (unsigned)atoi(optarg);
            break;
        case 'd':
            srv->dtls_port = atoi(optarg);
            if (srv->dtls_port < 0 || srv->dtls_port > 65535)
                return -1;
            break;
        case 'k':
            if (ts_dtls_add_psk(srv, optarg) < 0)
                return -1;
            break;
        case 'x':
            if (ts_dtls_set_pki(srv, optarg) < 0)
                return -1;
            break;
        default:
            return -1;
        }
    }
    return 0;
}

/* libcoap prints some debug output (PDU dumps) straight to stdout, which is our control channel:
 * the channel keeps a duplicate of fd 1, and fd 1 becomes stderr. */
static int take_stdout(struct ts_server *srv) {
    int fd = dup(STDOUT_FILENO);
    if (fd < 0 || dup2(STDERR_FILENO, STDOUT_FILENO) < 0 || !(srv->out = fdopen(fd, "w")))
        return -1;
    setvbuf(stdout, NULL, _IOLBF, 0); /* libcoap's dumps interleave with its log lines */
    return 0;
}

static int setup(struct ts_server *srv, int argc, char **argv) {
    const char *addrs[TS_MAX_LISTEN];
    int naddr = 0, port = 5683;
    coap_startup();
    coap_set_log_handler(log_to_stderr);
    coap_set_log_level(LOG_WARNING);
    srv->default_timeout_s = 10;
    srv->dtls_port = -1;
    if (parse_options(srv, argc, argv, &port, addrs, &naddr) < 0) {
        usage();
        return -1;
    }
    if (naddr == 0)
        addrs[naddr++] = "127.0.0.1";
    if (!(srv->ctx = coap_new_context(NULL)))
        return -1;
    coap_set_app_data(srv->ctx, srv);
    coap_context_set_block_mode(srv->ctx, COAP_BLOCK_USE_LIBCOAP | COAP_BLOCK_SINGLE_BODY);
    /* 0 is libcoap's "no limit": every registered endpoint keeps its own server session. */
    coap_context_set_max_idle_sessions(srv->ctx, 0);
    if (srv->session_timeout_s) /* idle unregistered peers; registered ones are referenced */
        coap_context_set_session_timeout(srv->ctx, srv->session_timeout_s);
    coap_prng(&srv->token_seq, sizeof(srv->token_seq));
    if (ts_rd_init(srv) < 0 || ts_bs_init(srv) < 0 || ts_dtls_setup(srv) < 0)
        return -1;
    ts_dm_init(srv);
    for (int i = 0; i < naddr; i++) {
        if (listen_on(srv, addrs[i], port, false) < 0)
            return -1;
    }
    for (int i = 0; srv->dtls_port >= 0 && i < naddr; i++) {
        if (listen_on(srv, addrs[i], srv->dtls_port, true) < 0)
            return -1;
    }
    return 0;
}

static void emit_ready(struct ts_server *srv) {
    json_t *ev = ts_event_new("ready");
    json_t *eps = json_array(), *deps = json_array();
    json_t *dtls_port = json_null();
    for (int i = 0; i < srv->n_listen; i++) {
        const struct ts_listen *l = &srv->listen[i];
        json_array_append_new(l->dtls ? deps : eps,
                              json_pack("{s:s,s:i}", "addr", l->addr, "port", l->port));
        if (l->dtls && json_is_null(dtls_port))
            dtls_port = json_integer(l->port);
    }
    json_object_set_new(ev, "port", json_integer(srv->listen[0].port));
    json_object_set_new(ev, "endpoints", eps);
    json_object_set_new(ev, "dtls_port", dtls_port);
    json_object_set_new(ev, "dtls_endpoints", deps);
    json_object_set_new(ev, "pid", json_integer(getpid()));
    ts_emit(srv, ev);
}

/* libcoap's coap_io_process() reads one datagram per call and walks every session before each
 * (coap_io_prepare_epoll): O(sessions) per datagram, which makes 10,000 registrations slow. So we
 * drive its two public halves ourselves: the session walk (retransmissions, idle sessions) at
 * most every PREPARE_MIN_MS and at least every PREPARE_MAX_MS, the reads in between. */
static void coap_pass(struct ts_server *srv, int coap_fd, int64_t *next_prepare) {
    struct epoll_event ev[16];
    int64_t now = ts_now_ms();
    log_detail[0] = '\0';
    ts_dtls_pass(srv);
    if (now >= *next_prepare || srv->sweep_now) {
        coap_tick_t t;
        srv->sweep_now = false;
        coap_ticks(&t);
        unsigned wait = coap_io_prepare_epoll(srv->ctx, t);
        wait = wait == 0 || wait > PREPARE_MAX_MS ? PREPARE_MAX_MS
               : wait < PREPARE_MIN_MS            ? PREPARE_MIN_MS
                                                  : wait;
        *next_prepare = now + wait;
    }
    for (int i = 0; i < READS_PER_PASS; i++) {
        int n = epoll_wait(coap_fd, ev, (int)(sizeof(ev) / sizeof(ev[0])), 0);
        if (n <= 0)
            break;
        log_detail[0] = '\0'; /* what is logged from here belongs to these datagrams */
        coap_io_do_epoll(srv->ctx, ev, (size_t)n);
    }
}

static void run(struct ts_server *srv) {
    struct line_buf lb = {NULL, 0, 0};
    int coap_fd = coap_context_get_coap_fd(srv->ctx);
    struct pollfd fds[2] = {{coap_fd, POLLIN, 0}, {STDIN_FILENO, POLLIN, 0}};
    int64_t next_prepare = 0, next_dm_sweep = 0, next_rd_sweep = 0, next_bs = INT64_MAX;
    fcntl(STDIN_FILENO, F_SETFL, fcntl(STDIN_FILENO, F_GETFL) | O_NONBLOCK);
    while (!srv->quit) {
        int64_t wait = (next_prepare < next_bs ? next_prepare : next_bs) - ts_now_ms();
        int n = poll(fds, 2, wait < 0 ? 0 : wait > SWEEP_MS ? SWEEP_MS : (int)wait);
        if (n < 0 && errno != EINTR)
            break;
        coap_pass(srv, coap_fd, &next_prepare);
        if (n > 0 && (fds[1].revents & (POLLIN | POLLHUP)) && read_control(srv, &lb) < 0)
            srv->quit = true;
        next_bs = ts_bs_pass(srv); /* right after the pass that answered a Bootstrap-Request */
        int64_t now = ts_now_ms();
        if (now >= next_dm_sweep) {
            ts_dm_sweep(srv);
            next_dm_sweep = now + SWEEP_MS;
        }
        if (now >= next_rd_sweep) {
            ts_rd_sweep(srv);
            next_rd_sweep = now + RD_SWEEP_MS;
        }
    }
    free(lb.buf);
}

int main(int argc, char **argv) {
    struct ts_server srv;
    memset(&srv, 0, sizeof(srv));
    signal(SIGPIPE, SIG_IGN);
    if (take_stdout(&srv) < 0 || setup(&srv, argc, argv) < 0)
        return 2;
    if (coap_context_get_coap_fd(srv.ctx) < 0) {
        fprintf(stderr, "lwm2m_test_server: libcoap was built without epoll\n");
        return 2;
    }
    emit_ready(&srv);
    run(&srv);
    srv.quit = true; /* also after a poll error: libcoap's closing events are no news */
    ts_dm_free_all(&srv);
    ts_bs_free_all(&srv);
    ts_rd_free_all(&srv);
    ts_ctl_free(&srv);
    coap_free_context(srv.ctx);
    ts_dtls_free(&srv); /* after the context: libcoap reads the PKI paths until then */
    coap_cleanup();
    fclose(srv.out);
    return 0;
}
