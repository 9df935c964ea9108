/* SPDX-License-Identifier: Apache-2.0 */
/* mb_poll: a small driver of the Modbus adapter for integration tests and benches. It loads a
 * line-based config (links, devices, points), runs one adapter per link on a libevent loop,
 * prints one line per value/state/write event, and takes write/stats/quit commands on stdin.
 *
 *   link name=plc tcp=127.0.0.1:5020 timeout=300 backoff=500 backoff_max=4000
 *   link name=gw rtutcp=127.0.0.1:4001 timeout=300          (RTU frames over TCP)
 *   link name=ser rtu=/tmp/ttyA baud=19200 parity=N data=8 stop=1 rs485=0
 *   device name=meter unit=1 poll=200 gap=4 force=0
 *   point name=v table=holding addr=0 type=float32 order=ABCD scale=1 offset=0 w=1 rb=1
 *
 * Output:  state link:plc up <detail> | value meter.v good double 1.5 | value meter.v timeout
 *          write 7 ok | write 7 exception 2 | writeerr 7 -34 | stats link:plc requests=...
 * Stdin:   write <id> <dev>.<point> <value> | stats | quit          Options: -t seconds, -q */
#include <errno.h>
#include <event2/event.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "modbus/mb.h"
#include "modbus/mb_internal.h"

#define MAX_LINKS  8
#define MAX_DEVS   64
#define MAX_POINTS 4096
#define NAME_LEN   32

struct tool_dev {
    char name[NAME_LEN];
    size_t link;
};

struct tool_point {
    char name[NAME_LEN];
    size_t dev;
};

struct tool;

struct tool_link {
    struct tool *tool; /* the sink context of this link's adapter is the link */
    char name[NAME_LEN];
    char addr[128];
    struct mb_adapter_cfg cfg;
    size_t first_dev, n_devs;
    struct adapter *ad;
};

struct tool {
    struct event_base *base;
    struct tool_link links[MAX_LINKS];
    size_t n_links;
    struct mb_device_cfg devcfg[MAX_DEVS];
    struct tool_dev devs[MAX_DEVS];
    size_t n_devs;
    struct mb_point_cfg ptcfg[MAX_POINTS];
    struct tool_point pts[MAX_POINTS];
    size_t n_pts;
    bool quiet;
    uint64_t values;
    char inbuf[4096];
    size_t inlen;
};

/* ---- config parsing ---- */

static int kv_link(struct tool *t, struct tool_link *l, const char *k, const char *v) {
    struct mb_link_cfg *c = &l->cfg.link;
    (void)t;
    if (!strcmp(k, "name"))
        snprintf(l->name, sizeof(l->name), "%s", v);
    else if (!strcmp(k, "tcp") || !strcmp(k, "rtutcp")) {
        char *colon;
        c->transport = !strcmp(k, "tcp") ? MB_TRANSPORT_TCP : MB_TRANSPORT_RTU_TCP;
        snprintf(l->addr, sizeof(l->addr), "%s", v);
        if (!(colon = strrchr(l->addr, ':')))
            return -EINVAL;
        *colon = '\0';
        c->port = (uint16_t)atoi(colon + 1);
        c->host = l->addr;
    } else if (!strcmp(k, "rtu")) {
        c->transport = MB_TRANSPORT_RTU;
        snprintf(l->addr, sizeof(l->addr), "%s", v);
        c->device = l->addr;
    } else if (!strcmp(k, "baud"))
        c->baud = (uint32_t)atol(v);
    else if (!strcmp(k, "parity"))
        c->parity = v[0];
    else if (!strcmp(k, "data"))
        c->data_bits = (uint8_t)atoi(v);
    else if (!strcmp(k, "stop"))
        c->stop_bits = (uint8_t)atoi(v);
    else if (!strcmp(k, "rs485"))
        c->rs485 = atoi(v) != 0;
    else if (!strcmp(k, "timeout"))
        c->timeout_ms = (uint32_t)atol(v);
    else if (!strcmp(k, "backoff"))
        c->backoff_min_ms = (uint32_t)atol(v);
    else if (!strcmp(k, "backoff_max"))
        c->backoff_max_ms = (uint32_t)atol(v);
    else
        return -EINVAL;
    return 0;
}

static int kv_dev(struct tool *t, size_t i, const char *k, const char *v) {
    struct mb_device_cfg *c = &t->devcfg[i];
    if (!strcmp(k, "name"))
        snprintf(t->devs[i].name, NAME_LEN, "%s", v);
    else if (!strcmp(k, "unit"))
        c->unit = (uint8_t)atoi(v);
    else if (!strcmp(k, "poll"))
        c->poll_ms = (uint32_t)atol(v);
    else if (!strcmp(k, "gap"))
        c->max_gap = (uint16_t)atoi(v);
    else if (!strcmp(k, "force"))
        c->force_multiple = atoi(v) != 0;
    else
        return -EINVAL;
    return 0;
}

static int kv_point(struct tool *t, size_t i, const char *k, const char *v) {
    struct mb_point_cfg *c = &t->ptcfg[i];
    if (!strcmp(k, "name"))
        snprintf(t->pts[i].name, NAME_LEN, "%s", v);
    else if (!strcmp(k, "table"))
        return mb_table_parse(v, &c->table);
    else if (!strcmp(k, "addr"))
        c->address = (uint16_t)strtoul(v, NULL, 0);
    else if (!strcmp(k, "type"))
        return mb_type_parse(v, &c->type, &c->param);
    else if (!strcmp(k, "order"))
        return mb_order_parse(v, &c->order);
    else if (!strcmp(k, "scale"))
        c->scale = strtod(v, NULL);
    else if (!strcmp(k, "offset"))
        c->offset = strtod(v, NULL);
    else if (!strcmp(k, "w"))
        c->writable = atoi(v) != 0;
    else if (!strcmp(k, "rb"))
        c->read_back = atoi(v) != 0;
    else
        return -EINVAL;
    return 0;
}

/* Starts a new record for the line's keyword; returns its index or -1. */
static long new_record(struct tool *t, const char *kw) {
    if (!strcmp(kw, "link") && t->n_links < MAX_LINKS) {
        t->links[t->n_links].first_dev = t->n_devs;
        return (long)t->n_links++;
    }
    if (!strcmp(kw, "device") && t->n_links && t->n_devs < MAX_DEVS) {
        struct tool_link *l = &t->links[t->n_links - 1];
        t->devs[t->n_devs].link = t->n_links - 1;
        t->devcfg[t->n_devs].points = &t->ptcfg[t->n_pts];
        t->devcfg[t->n_devs].user = &t->devs[t->n_devs];
        l->n_devs++;
        return (long)t->n_devs++;
    }
    if (!strcmp(kw, "point") && t->n_devs && t->n_pts < MAX_POINTS) {
        t->pts[t->n_pts].dev = t->n_devs - 1;
        t->ptcfg[t->n_pts].scale = 1.0;
        t->ptcfg[t->n_pts].user = &t->pts[t->n_pts];
        t->devcfg[t->n_devs - 1].n_points++;
        return (long)t->n_pts++;
    }
    return -1;
}

static int parse_line(struct tool *t, char *line) {
    char *save = NULL, *kw = strtok_r(line, " \t\r\n", &save), *tok;
    long idx;
    if (!kw || kw[0] == '#')
        return 0;
    if ((idx = new_record(t, kw)) < 0)
        return -EINVAL;
    while ((tok = strtok_r(NULL, " \t\r\n", &save))) {
        char *eq = strchr(tok, '=');
        int rc;
        if (!eq)
            return -EINVAL;
        *eq = '\0';
        if (kw[0] == 'l')
            rc = kv_link(t, &t->links[idx], tok, eq + 1);
        else if (kw[0] == 'd')
            rc = kv_dev(t, (size_t)idx, tok, eq + 1);
        else
            rc = kv_point(t, (size_t)idx, tok, eq + 1);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int load_config(struct tool *t, const char *path) {
    char line[512];
    int lineno = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return -errno;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        if (parse_line(t, line) < 0) {
            fprintf(stderr, "%s:%d: bad line\n", path, lineno);
            fclose(f);
            return -EINVAL;
        }
    }
    fclose(f);
    for (size_t i = 0; i < t->n_links; i++) {
        t->links[i].cfg.link.name = t->links[i].name;
        t->links[i].cfg.devices = &t->devcfg[t->links[i].first_dev];
        t->links[i].cfg.n_devices = t->links[i].n_devs;
    }
    for (size_t i = 0; i < t->n_devs; i++)
        t->devcfg[i].name = t->devs[i].name;
    for (size_t i = 0; i < t->n_pts; i++)
        t->ptcfg[i].name = t->pts[i].name;
    return 0;
}

/* ---- sink ---- */

static void print_value(const struct tool *t, const struct tool_point *p,
                        const struct adapter_value *v) {
    const char *dev = t->devs[p->dev].name;
    if (v->quality != ADAPTER_Q_GOOD) {
        printf("value %s.%s %s %u\n", dev, p->name,
               adapter_quality_name((enum adapter_quality)v->quality), v->exception);
        return;
    }
    switch (v->type) {
    case ADAPTER_V_BOOL:
        printf("value %s.%s good bool %d\n", dev, p->name, v->v.b);
        break;
    case ADAPTER_V_INT:
        printf("value %s.%s good int %" PRId64 "\n", dev, p->name, v->v.i);
        break;
    case ADAPTER_V_UINT:
        printf("value %s.%s good uint %" PRIu64 "\n", dev, p->name, v->v.u);
        break;
    case ADAPTER_V_DOUBLE:
        printf("value %s.%s good double %.17g\n", dev, p->name, v->v.f);
        break;
    case ADAPTER_V_STRING:
    case ADAPTER_V_BYTES:
        printf("value %s.%s good string \"%.*s\"\n", dev, p->name, (int)v->v.bytes.len,
               (const char *)v->v.bytes.ptr);
        break;
    default:
        printf("value %s.%s good none\n", dev, p->name);
        break;
    }
}

static void on_value(void *ctx, void *point_user, const struct adapter_value *v) {
    struct tool *t = ((struct tool_link *)ctx)->tool;
    t->values++;
    if (!t->quiet || v->quality != ADAPTER_Q_GOOD)
        print_value(t, point_user, v);
}

static void on_state(void *ctx, void *scope, enum adapter_state st, const char *detail) {
    const struct tool_link *l = ctx;
    const struct tool_dev *d = scope;
    printf("state %s:%s %s %s\n", d ? "dev" : "link", d ? d->name : l->name,
           st == ADAPTER_STATE_UP ? "up" : "down", detail);
}

static void on_write_done(void *ctx, void *req, const struct adapter_write_result *r) {
    (void)ctx;
    printf("write %lu %s %u\n", (unsigned long)(uintptr_t)req,
           adapter_write_status_name((enum adapter_write_status)r->status), r->exception);
}

/* ---- commands ---- */

static long find_point(const struct tool *t, const char *ref) {
    const char *dot = strchr(ref, '.');
    if (!dot)
        return -1;
    for (size_t i = 0; i < t->n_pts; i++) {
        const char *dn = t->devs[t->pts[i].dev].name;
        if (strlen(dn) == (size_t)(dot - ref) && !strncmp(dn, ref, (size_t)(dot - ref)) &&
            !strcmp(t->pts[i].name, dot + 1))
            return (long)i;
    }
    return -1;
}

static void parse_value(const struct mb_point_cfg *p, const char *s, struct adapter_value *v) {
    memset(v, 0, sizeof(*v));
    if (p->type == MB_TYPE_STRING) {
        v->type = ADAPTER_V_STRING;
        v->v.bytes.ptr = (const uint8_t *)s;
        v->v.bytes.len = strlen(s);
    } else if (!strcmp(s, "true") || !strcmp(s, "false")) {
        v->type = ADAPTER_V_BOOL;
        v->v.b = s[0] == 't';
    } else if (strpbrk(s, ".eEn")) {
        v->type = ADAPTER_V_DOUBLE;
        v->v.f = strtod(s, NULL);
    } else if (s[0] == '-') {
        v->type = ADAPTER_V_INT;
        v->v.i = strtoll(s, NULL, 0);
    } else {
        v->type = ADAPTER_V_UINT;
        v->v.u = strtoull(s, NULL, 0);
    }
}

static void cmd_write(struct tool *t, char *args) {
    char *save = NULL, *id = strtok_r(args, " ", &save), *ref = strtok_r(NULL, " ", &save);
    char *val = strtok_r(NULL, "\n", &save);
    long pi = ref ? find_point(t, ref) : -1;
    struct adapter_value v;
    struct adapter *ad;
    int rc;
    if (!id || pi < 0 || !val) {
        printf("writeerr %s %d\n", id ? id : "?", -ENOENT);
        return;
    }
    parse_value(&t->ptcfg[pi], val, &v);
    ad = t->links[t->devs[t->pts[pi].dev].link].ad;
    rc = ad->ops->write_point(ad, &t->pts[pi], &v, (void *)(uintptr_t)strtoul(id, NULL, 10));
    if (rc < 0)
        printf("writeerr %s %d\n", id, rc);
}

static void cmd_stats(struct tool *t) {
    for (size_t i = 0; i < t->n_links; i++) {
        struct mb_stats s;
        mb_adapter_stats(t->links[i].ad, &s);
        printf("stats link:%s requests=%" PRIu64 " polls=%" PRIu64 " values=%" PRIu64
               " timeouts=%" PRIu64 " exceptions=%" PRIu64 " skipped=%" PRIu64 " dropped=%" PRIu64
               " reconnects=%" PRIu64 " bus_errors=%" PRIu64 "\n",
               t->links[i].name, s.requests, s.polls, s.values, s.timeouts, s.exceptions, s.skipped,
               s.dropped, s.reconnects, s.bus_errors);
    }
}

static void on_command(struct tool *t, char *line) {
    if (!strncmp(line, "write ", 6))
        cmd_write(t, line + 6);
    else if (!strncmp(line, "stats", 5))
        cmd_stats(t);
    else if (!strncmp(line, "quit", 4))
        event_base_loopbreak(t->base);
}

static void on_stdin(evutil_socket_t fd, short what, void *arg) {
    struct tool *t = arg;
    char *nl;
    ssize_t n = read(fd, t->inbuf + t->inlen, sizeof(t->inbuf) - 1 - t->inlen);
    (void)what;
    if (n <= 0) {
        event_base_loopbreak(t->base);
        return;
    }
    t->inlen += (size_t)n;
    t->inbuf[t->inlen] = '\0';
    while ((nl = strchr(t->inbuf, '\n'))) {
        *nl = '\0';
        on_command(t, t->inbuf);
        memmove(t->inbuf, nl + 1, t->inlen - (size_t)(nl + 1 - t->inbuf) + 1);
        t->inlen -= (size_t)(nl + 1 - t->inbuf);
    }
    if (t->inlen == sizeof(t->inbuf) - 1)
        t->inlen = 0; /* an over-long line: drop it */
    fflush(stdout);
}

static void on_flush(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    (void)arg;
    fflush(stdout);
}

static void on_stop(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    event_base_loopbreak(arg);
}

static int run(struct tool *t, double seconds) {
    struct adapter_sink sink = {on_value, on_state, on_write_done, NULL, NULL};
    struct timeval tick = {0, 50000};
    struct event *ev_in = event_new(t->base, 0, EV_READ | EV_PERSIST, on_stdin, t);
    struct event *ev_flush = event_new(t->base, -1, EV_PERSIST, on_flush, t);
    struct event *ev_term = evsignal_new(t->base, SIGTERM, on_stop, t->base);
    struct event *ev_timer = NULL;
    for (size_t i = 0; i < t->n_links; i++) {
        int rc;
        t->links[i].tool = t;
        sink.ctx = &t->links[i];
        rc = mb_adapter_ops.create(&t->links[i].cfg, t->base, &sink, &t->links[i].ad);
        if (rc < 0 || (rc = t->links[i].ad->ops->start(t->links[i].ad)) < 0) {
            fprintf(stderr, "link %s: %s\n", t->links[i].name, strerror(-rc));
            return 1;
        }
    }
    event_add(ev_in, NULL);
    event_add(ev_flush, &tick);
    event_add(ev_term, NULL);
    if (seconds > 0) {
        struct timeval tv = {(time_t)seconds, (suseconds_t)((seconds - (long)seconds) * 1e6)};
        ev_timer = evtimer_new(t->base, on_stop, t->base);
        evtimer_add(ev_timer, &tv);
    }
    printf("ready\n");
    fflush(stdout);
    event_base_dispatch(t->base);
    cmd_stats(t);
    for (size_t i = 0; i < t->n_links; i++)
        t->links[i].ad->ops->destroy(t->links[i].ad);
    event_free(ev_in);
    event_free(ev_flush);
    event_free(ev_term);
    if (ev_timer)
        event_free(ev_timer);
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv) {
    struct tool *t = calloc(1, sizeof(*t));
    double seconds = 0;
    int opt, rc;
    while ((opt = getopt(argc, argv, "t:q")) != -1) {
        if (opt == 't')
            seconds = atof(optarg);
        else if (opt == 'q')
            t->quiet = true;
        else
            return 2;
    }
    if (optind >= argc) {
        fprintf(stderr, "usage: mb_poll [-t seconds] [-q] CONFIG\n");
        return 2;
    }
    if (load_config(t, argv[optind]) < 0)
        return 2;
    t->base = event_base_new();
    rc = run(t, seconds);
    event_base_free(t->base);
    free(t);
    return rc;
}
