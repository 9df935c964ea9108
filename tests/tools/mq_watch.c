/* SPDX-License-Identifier: Apache-2.0 */
/* mq_watch: a driver of the MQTT adapter for the integration tests. Connects to the broker named
 * on argv with a small binding spec, prints one line per value, discovery and state event, and
 * takes write commands on stdin, printing their completion. Usage: see usage() below. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "mqtt/mq.h"

#define W_MAX_POINTS 16
#define W_MAX_GROUPS 16

/* The user pointer the tool gives each (device, point): what it prints. */
struct w_point {
    char *device;
    const char *point;
};

struct w_group {
    bool discovery;
    struct mq_device_cfg dev;
    struct mq_discovery_cfg disc;
    struct mq_point_cfg points[W_MAX_POINTS];
    size_t n_points;
};

/* A discovered device, so that stdin writes can name it. */
struct w_disc {
    struct w_disc *next;
    struct w_group *g;
    struct w_point *pts;
};

struct watch {
    struct event_base *base;
    struct w_point spts[W_MAX_GROUPS][W_MAX_POINTS + 1]; /* configured devices' users */
    struct w_disc *found;
    struct adapter *a;
    struct mq_adapter_cfg cfg;
    struct w_group groups[W_MAX_GROUPS];
    size_t n_groups;
    struct mq_device_cfg devs[W_MAX_GROUPS];
    struct mq_discovery_cfg discs[W_MAX_GROUPS];
    bool quiet; /* values are counted, not printed (1,000-device runs) */
    uint64_t values;
    char line[4096];
    size_t line_len;
};

static void usage(void) {
    fprintf(stderr,
            "usage: mq_watch [--host H] --port P [--id ID] [--persistent] [--v5] [--quiet]\n"
            "                [--session-expiry S]\n"
            "                [--keepalive S] [--backoff-min MS] [--backoff-max MS]\n"
            "                [--user U --password-env VAR] [--write-timeout MS]\n"
            "                [--ca FILE [--cert FILE --key FILE]]\n"
            "                [--psk-identity ID --psk-env VAR] SPEC...\n"
            "SPEC: dev=NAME | disc=TOPIC[;max=N][;avail=TEMPLATE][;qos=Q] | pt=KEY=VAL;...\n"
            "  point keys: name topic fmt(text|json|hex|base64|raw) ptr type(auto|bool|int|\n"
            "  uint|double|string|bytes) qos cmd cmdfmt cmdptr cmdqos true false retain\n"
            "stdin: write ID DEVICE POINT TYPE VALUE | stats | quit\n");
}

static int parse_fmt(const char *s, enum mq_format *out) {
    static const char *const names[] = {"text", "json", "hex", "base64", "raw"};
    for (int i = 0; i < 5; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = (enum mq_format)i;
            return 0;
        }
    }
    return -EINVAL;
}

static int parse_type(const char *s, uint8_t *out) {
    static const char *const names[] = {"auto", "bool", "int", "uint", "double", "string", "bytes"};
    for (int i = 0; i < 7; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = (uint8_t)i;
            return 0;
        }
    }
    return -EINVAL;
}

/* "k=v;k=v" in place: the strings stay in argv. */
static int parse_point(char *spec, struct mq_point_cfg *p) {
    memset(p, 0, sizeof(*p));
    for (char *save = NULL, *kv = strtok_r(spec, ";", &save); kv != NULL;
         kv = strtok_r(NULL, ";", &save)) {
        char *v = strchr(kv, '=');
        if (v == NULL) {
            return -EINVAL;
        }
        *v++ = '\0';
        int rc = 0;
        if (strcmp(kv, "name") == 0) {
            p->name = v;
        } else if (strcmp(kv, "topic") == 0) {
            p->topic = v;
        } else if (strcmp(kv, "fmt") == 0) {
            rc = parse_fmt(v, &p->format);
        } else if (strcmp(kv, "ptr") == 0) {
            p->json_pointer = v;
        } else if (strcmp(kv, "type") == 0) {
            rc = parse_type(v, &p->type);
        } else if (strcmp(kv, "qos") == 0) {
            p->qos = (uint8_t)atoi(v);
        } else if (strcmp(kv, "cmd") == 0) {
            p->cmd_topic = v;
        } else if (strcmp(kv, "cmdfmt") == 0) {
            rc = parse_fmt(v, &p->cmd_format);
        } else if (strcmp(kv, "cmdptr") == 0) {
            p->cmd_json_pointer = v;
        } else if (strcmp(kv, "cmdqos") == 0) {
            p->cmd_qos = (uint8_t)atoi(v);
        } else if (strcmp(kv, "true") == 0) {
            p->cmd_true = v;
        } else if (strcmp(kv, "false") == 0) {
            p->cmd_false = v;
        } else if (strcmp(kv, "retain") == 0) {
            p->cmd_retain = atoi(v) != 0;
        } else {
            rc = -EINVAL;
        }
        if (rc != 0) {
            return rc;
        }
    }
    return p->name != NULL ? 0 : -EINVAL;
}

static int parse_disc(char *spec, struct mq_discovery_cfg *d) {
    char *save = NULL;
    d->topic = strtok_r(spec, ";", &save);
    for (char *kv = strtok_r(NULL, ";", &save); kv != NULL; kv = strtok_r(NULL, ";", &save)) {
        if (strncmp(kv, "max=", 4) == 0) {
            d->max_devices = (uint32_t)strtoul(kv + 4, NULL, 10);
        } else if (strncmp(kv, "avail=", 6) == 0) {
            d->availability_topic = kv + 6;
        } else if (strncmp(kv, "qos=", 4) == 0) {
            d->qos = (uint8_t)atoi(kv + 4);
        } else {
            return -EINVAL;
        }
    }
    return d->topic != NULL ? 0 : -EINVAL;
}

/* ---- sink ---------------------------------------------------------------------------------------
 */

static void print_value(const struct adapter_value *v) {
    switch (v->type) {
    case ADAPTER_V_BOOL:
        printf("bool %s", v->v.b ? "true" : "false");
        break;
    case ADAPTER_V_INT:
        printf("int %" PRId64, v->v.i);
        break;
    case ADAPTER_V_UINT:
        printf("uint %" PRIu64, v->v.u);
        break;
    case ADAPTER_V_DOUBLE:
        printf("double %.17g", v->v.f);
        break;
    case ADAPTER_V_STRING:
        printf("string %.*s", (int)v->v.bytes.len, (const char *)v->v.bytes.ptr);
        break;
    case ADAPTER_V_BYTES:
        printf("bytes ");
        for (size_t i = 0; i < v->v.bytes.len; i++) {
            printf("%02x", v->v.bytes.ptr[i]);
        }
        break;
    default:
        printf("none -");
        break;
    }
}

static void on_value(void *ctx, void *point_user, const struct adapter_value *v) {
    struct watch *w = ctx;
    const struct w_point *p = point_user;
    w->values++;
    if (w->quiet) {
        return;
    }
    printf("value %s %s %s ", p->device, p->point,
           adapter_quality_name((enum adapter_quality)v->quality));
    print_value(v);
    printf("\n");
}

static void on_state(void *ctx, void *scope, enum adapter_state st, const char *detail) {
    (void)ctx;
    const struct w_point *dev = scope;
    printf("state %s %s %s\n", dev != NULL ? dev->device : "-",
           st == ADAPTER_STATE_UP ? "up" : "down", detail != NULL ? detail : "");
}

static void on_write_done(void *ctx, void *req, const struct adapter_write_result *r) {
    (void)ctx;
    printf("done %s %s %d %d\n", (const char *)req,
           adapter_write_status_name((enum adapter_write_status)r->status), r->exception, r->err);
    free(req);
}

/* Discovered devices get one w_point per profile point, plus one (index n) as their scope. */
static void on_discovered(void *ctx, const char *device, const char *source) {
    struct watch *w = ctx;
    struct w_group *g = NULL;
    for (size_t i = 0; i < w->n_groups && g == NULL; i++) {
        if (w->groups[i].discovery &&
            mq_template_match(w->groups[i].disc.topic, source, NULL, NULL)) {
            g = &w->groups[i];
        }
    }
    printf("discovered %s %s\n", device, source);
    if (g == NULL) {
        for (size_t i = 0; i < w->n_groups && g == NULL; i++) {
            g = w->groups[i].discovery ? &w->groups[i] : NULL;
        }
    }
    size_t n = g->n_points;
    struct w_point *pts = calloc(n + 1, sizeof(*pts));
    void *users[W_MAX_POINTS];
    char *name = strdup(device);
    for (size_t i = 0; i <= n; i++) {
        pts[i].device = name;
        pts[i].point = i < n ? g->points[i].name : "-";
        if (i < n) {
            users[i] = &pts[i];
        }
    }
    struct w_disc *d = calloc(1, sizeof(*d));
    d->g = g;
    d->pts = pts;
    d->next = w->found;
    w->found = d;
    int rc = mq_adapter_attach(w->a, device, &pts[n], users, n);
    if (rc != 0) {
        printf("attach-failed %s %d\n", device, rc);
    }
}

/* ---- stdin --------------------------------------------------------------------------------------
 */

static struct w_point *find_point(struct watch *w, const char *device, const char *point);

static int parse_hex(const char *s, uint8_t *out, size_t cap, size_t *n) {
    size_t l = strlen(s);
    if (l % 2 != 0 || l / 2 > cap) {
        return -EINVAL;
    }
    for (size_t i = 0; i < l / 2; i++) {
        unsigned int b;
        if (sscanf(s + 2 * i, "%2x", &b) != 1) {
            return -EINVAL;
        }
        out[i] = (uint8_t)b;
    }
    *n = l / 2;
    return 0;
}

static void cmd_write(struct watch *w, char *args) {
    char *save = NULL;
    char *id = strtok_r(args, " ", &save);
    char *dev = strtok_r(NULL, " ", &save);
    char *pt = strtok_r(NULL, " ", &save);
    char *type = strtok_r(NULL, " ", &save);
    char *val = strtok_r(NULL, "", &save);
    if (id == NULL || dev == NULL || pt == NULL || type == NULL || val == NULL) {
        printf("error bad write command\n");
        return;
    }
    struct adapter_value v = {.quality = ADAPTER_Q_GOOD};
    uint8_t bytes[1024];
    if (parse_type(type, &v.type) != 0) {
        printf("rejected %s %d\n", id, -EINVAL);
        return;
    }
    switch (v.type) {
    case ADAPTER_V_BOOL:
        v.v.b = strcmp(val, "true") == 0 || strcmp(val, "1") == 0;
        break;
    case ADAPTER_V_INT:
        v.v.i = strtoll(val, NULL, 10);
        break;
    case ADAPTER_V_UINT:
        v.v.u = strtoull(val, NULL, 10);
        break;
    case ADAPTER_V_DOUBLE:
        v.v.f = strtod(val, NULL);
        break;
    case ADAPTER_V_STRING:
        v.v.bytes.ptr = (const uint8_t *)val;
        v.v.bytes.len = strlen(val);
        break;
    case ADAPTER_V_BYTES:
        if (parse_hex(val, bytes, sizeof(bytes), &v.v.bytes.len) != 0) {
            printf("rejected %s %d\n", id, -EINVAL);
            return;
        }
        v.v.bytes.ptr = bytes;
        break;
    default:
        printf("rejected %s %d\n", id, -EINVAL);
        return;
    }
    struct w_point *p = find_point(w, dev, pt);
    char *req = strdup(id);
    int rc = w->a->ops->write_point(w->a, p, &v, req);
    if (rc != 0) {
        free(req);
        printf("rejected %s %d\n", id, rc);
    } else {
        printf("accepted %s\n", id);
    }
}

static void handle_line(struct watch *w, char *line) {
    if (strncmp(line, "write ", 6) == 0) {
        cmd_write(w, line + 6);
    } else if (strcmp(line, "stats") == 0) {
        struct mq_stats s;
        mq_adapter_stats(w->a, &s);
        printf("stats messages=%" PRIu64 " values=%" PRIu64 " malformed=%" PRIu64
               " type_errors=%" PRIu64 " unmatched=%" PRIu64 " discovered=%" PRIu64 " gone=%" PRIu64
               " over_limit=%" PRIu64 " connects=%" PRIu64 " writes=%" PRIu64
               " write_errors=%" PRIu64 " sink_values=%" PRIu64 " read_events=%" PRIu64 "\n",
               s.messages, s.values, s.malformed, s.type_errors, s.unmatched, s.discovered, s.gone,
               s.over_limit, s.connects, s.writes, s.write_errors, w->values, s.read_events);
    } else if (strcmp(line, "quit") == 0) {
        event_base_loopbreak(w->base);
    } else if (line[0] != '\0') {
        printf("error unknown command\n");
    }
}

static void on_stdin(evutil_socket_t fd, short what, void *arg) {
    (void)what;
    struct watch *w = arg;
    ssize_t n = read(fd, w->line + w->line_len, sizeof(w->line) - 1 - w->line_len);
    if (n <= 0) {
        event_base_loopbreak(w->base); /* stdin closed: the test is done with us */
        return;
    }
    w->line_len += (size_t)n;
    w->line[w->line_len] = '\0';
    char *start = w->line;
    char *nl;
    while ((nl = strchr(start, '\n')) != NULL) {
        *nl = '\0';
        handle_line(w, start);
        start = nl + 1;
    }
    w->line_len = strlen(start);
    memmove(w->line, start, w->line_len + 1);
    if (w->line_len == sizeof(w->line) - 1) {
        w->line_len = 0; /* an absurd line: drop it */
    }
    fflush(stdout);
}

/* ---- point lookup ------------------------------------------------------------------------------
 */

static struct w_point *find_point(struct watch *w, const char *device, const char *point) {
    for (size_t i = 0; i < w->n_groups; i++) {
        struct w_group *g = &w->groups[i];
        for (size_t j = 0; !g->discovery && j < g->n_points; j++) {
            struct w_point *p = &w->spts[i][j];
            if (strcmp(p->device, device) == 0 && strcmp(p->point, point) == 0) {
                return p;
            }
        }
    }
    for (struct w_disc *d = w->found; d != NULL; d = d->next) {
        for (size_t j = 0; j < d->g->n_points; j++) {
            if (strcmp(d->pts[j].device, device) == 0 && strcmp(d->pts[j].point, point) == 0) {
                return &d->pts[j];
            }
        }
    }
    return NULL;
}

static int parse_args(struct watch *w, int argc, char **argv) {
    struct mq_conn_cfg *c = &w->cfg.conn;
    c->name = "watch";
    c->clean_session = true;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--host") == 0 && next != NULL) {
            c->host = argv[++i];
        } else if (strcmp(a, "--port") == 0 && next != NULL) {
            c->port = (uint16_t)atoi(argv[++i]);
        } else if (strcmp(a, "--id") == 0 && next != NULL) {
            c->client_id = argv[++i];
        } else if (strcmp(a, "--persistent") == 0) {
            c->clean_session = false;
        } else if (strcmp(a, "--v5") == 0) {
            c->protocol = MQ_PROTO_V5;
        } else if (strcmp(a, "--quiet") == 0) {
            w->quiet = true;
        } else if (strcmp(a, "--session-expiry") == 0 && next != NULL) {
            c->session_expiry_set = true;
            c->session_expiry_s = (uint32_t)strtoul(argv[++i], NULL, 10);
        } else if (strcmp(a, "--keepalive") == 0 && next != NULL) {
            c->keepalive_s = (uint16_t)atoi(argv[++i]);
        } else if (strcmp(a, "--backoff-min") == 0 && next != NULL) {
            c->backoff_min_ms = (uint32_t)atoi(argv[++i]);
        } else if (strcmp(a, "--backoff-max") == 0 && next != NULL) {
            c->backoff_max_ms = (uint32_t)atoi(argv[++i]);
        } else if (strcmp(a, "--write-timeout") == 0 && next != NULL) {
            c->write_timeout_ms = (uint32_t)atoi(argv[++i]);
        } else if (strcmp(a, "--user") == 0 && next != NULL) {
            c->username = argv[++i];
        } else if (strcmp(a, "--password-env") == 0 && next != NULL) {
            c->password.env = argv[++i];
        } else if (strcmp(a, "--ca") == 0 && next != NULL) {
            c->tls_ca_file = argv[++i];
        } else if (strcmp(a, "--cert") == 0 && next != NULL) {
            c->tls_cert_file = argv[++i];
        } else if (strcmp(a, "--key") == 0 && next != NULL) {
            c->tls_key_file = argv[++i];
        } else if (strcmp(a, "--psk-identity") == 0 && next != NULL) {
            c->psk_identity = argv[++i];
        } else if (strcmp(a, "--psk-env") == 0 && next != NULL) {
            c->psk_key.env = argv[++i];
        } else if (strncmp(a, "dev=", 4) == 0 || strncmp(a, "disc=", 5) == 0) {
            if (w->n_groups == W_MAX_GROUPS) {
                return -EINVAL;
            }
            struct w_group *g = &w->groups[w->n_groups++];
            g->discovery = a[1] == 'i';
            if (g->discovery && parse_disc(argv[i] + 5, &g->disc) != 0) {
                return -EINVAL;
            }
            g->dev.name = argv[i] + 4;
        } else if (strncmp(a, "pt=", 3) == 0) {
            struct w_group *g = w->n_groups > 0 ? &w->groups[w->n_groups - 1] : NULL;
            if (g == NULL || g->n_points == W_MAX_POINTS ||
                parse_point(argv[i] + 3, &g->points[g->n_points]) != 0) {
                return -EINVAL;
            }
            g->n_points++;
        } else {
            return -EINVAL;
        }
    }
    return c->port != 0 && w->n_groups > 0 ? 0 : -EINVAL;
}

/* Wires the parsed groups into the adapter config; configured points get their users now. */
static void build_cfg(struct watch *w) {
    size_t nd = 0, nc = 0;
    for (size_t i = 0; i < w->n_groups; i++) {
        struct w_group *g = &w->groups[i];
        if (g->discovery) {
            g->disc.points = g->points;
            g->disc.n_points = g->n_points;
            w->discs[nd++] = g->disc;
            continue;
        }
        struct w_point *pts = w->spts[i];
        for (size_t j = 0; j <= g->n_points; j++) {
            pts[j].device = (char *)g->dev.name;
            pts[j].point = j < g->n_points ? g->points[j].name : "-";
            if (j < g->n_points) {
                g->points[j].user = &pts[j];
            }
        }
        g->dev.points = g->points;
        g->dev.n_points = g->n_points;
        g->dev.user = &pts[g->n_points];
        w->devs[nc++] = g->dev;
    }
    w->cfg.devices = w->devs;
    w->cfg.n_devices = nc;
    w->cfg.discovery = w->discs;
    w->cfg.n_discovery = nd;
}

int main(int argc, char **argv) {
    struct watch *w = calloc(1, sizeof(*w));
    if (w == NULL || parse_args(w, argc, argv) != 0) {
        usage();
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    build_cfg(w);
    const char *why = NULL;
    if (mq_adapter_cfg_check(&w->cfg, &why) != 0) {
        fprintf(stderr, "mq_watch: %s\n", why);
        return 2;
    }
    w->base = event_base_new();
    struct adapter_sink sink = {
        .on_value = on_value,
        .on_state = on_state,
        .on_write_done = on_write_done,
        .on_discovered = on_discovered,
        .ctx = w,
    };
    int rc = mq_adapter_ops.create(&w->cfg, w->base, &sink, &w->a);
    if (rc != 0) {
        fprintf(stderr, "mq_watch: create: %s\n", strerror(-rc));
        return 1;
    }
    rc = w->a->ops->start(w->a);
    if (rc != 0) {
        fprintf(stderr, "mq_watch: start: %s\n", strerror(-rc));
        return 1;
    }
    struct event *in = event_new(w->base, 0, EV_READ | EV_PERSIST, on_stdin, w);
    event_add(in, NULL);
    printf("ready\n");
    event_base_dispatch(w->base);
    w->a->ops->destroy(w->a);
    while (w->found != NULL) {
        struct w_disc *d = w->found;
        w->found = d->next;
        free(d->pts[0].device);
        free(d->pts);
        free(d);
    }
    event_free(in);
    event_base_free(w->base);
    free(w);
    printf("bye\n");
    return 0;
}
