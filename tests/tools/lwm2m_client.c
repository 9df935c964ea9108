/* SPDX-License-Identifier: Apache-2.0 */
/* A test and demo client on the engine: N endpoints, each with its own socket and an in-memory
 * store (Device, Temperature, two Light Controls), registering with one server. Prints one line
 * per registration event and reads commands on stdin ("update", "add-instance O I", "remove",
 * "set PATH VALUE" (marks the path changed: observations notify), "set-quiet PATH VALUE" (does
 * not), "send PATH...", "stats", "quit"), so integration tests can drive it. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "lwm2m/engine.h"
#include "lwm2m/error.h"
#include "lwm2m/format.h"
#include "lwm2m/memstore.h"
#include "lwm2m/report.h"

struct client {
    struct event_base *base;
    struct lwm2m_model *model;
    struct lwm2m_engine *eng;
    struct lwm2m_endpoint **eps;
    struct lwm2m_memstore **stores;
    size_t n;
    size_t announced; /* registered count last printed */
    bool quitting;
    char line[1024];
    size_t linelen;
};

/* Runs after the engine's callbacks have unwound: removed endpoints are freed by then. */
static void check_done(evutil_socket_t fd, short what, void *arg) {
    struct client *c = arg;
    if (lwm2m_engine_endpoints(c->eng, NULL) == 0)
        event_base_loopexit(c->base, NULL);
}

static void on_event(void *ctx, const struct lwm2m_event *ev) {
    struct client *c = ctx;
    printf("event %s ep=%s ssid=%u version=1.%u err=%s code=%u.%02u port=%u\n",
           lwm2m_event_name(ev->type), lwm2m_endpoint_name(ev->ep), ev->ssid, ev->version_minor,
           lwm2m_strerror(ev->err), ev->coap_code >> 5, ev->coap_code & 31,
           lwm2m_endpoint_port(ev->ep));
    size_t reg = 0, total = lwm2m_engine_endpoints(c->eng, &reg);
    if (reg != c->announced && (reg == total || reg % 100 == 0)) {
        printf("registered %zu/%zu\n", reg, total);
        c->announced = reg;
    }
    if (c->quitting)
        event_base_once(c->base, -1, EV_TIMEOUT, check_done, c, NULL);
    fflush(stdout);
}

static int on_exec(void *ctx, const struct lwm2m_path *p, const char *args, size_t len) {
    char buf[32];
    lwm2m_path_format(p, buf, sizeof(buf));
    printf("execute %s args=%.*s\n", buf, (int)len, args);
    fflush(stdout);
    return 0;
}

static void on_write(void *ctx, const struct lwm2m_path *p) {
    char buf[32];
    lwm2m_path_format(p, buf, sizeof(buf));
    printf("written %s\n", buf);
    fflush(stdout);
}

static void set_str(struct lwm2m_memstore *ms, uint16_t o, uint16_t i, uint16_t r, const char *s) {
    struct lwm2m_path p = lwm2m_path_make(3, o, i, r, 0);
    struct lwm2m_value v = lwm2m_value_string(s, strlen(s));
    lwm2m_memstore_set(ms, &p, &v);
}

static void set_val(struct lwm2m_memstore *ms, uint8_t depth, uint16_t o, uint16_t i, uint16_t r,
                    uint16_t ri, struct lwm2m_value v) {
    struct lwm2m_path p = lwm2m_path_make(depth, o, i, r, ri);
    lwm2m_memstore_set(ms, &p, &v);
}

static void fill_store(struct lwm2m_memstore *ms, size_t idx) {
    char serial[32];
    snprintf(serial, sizeof(serial), "SN-%06zu", idx);
    set_str(ms, 3, 0, 0, "lwm2m-gateway");
    set_str(ms, 3, 0, 1, "demo-client");
    set_str(ms, 3, 0, 2, serial);
    set_str(ms, 3, 0, 3, "0.1.0");
    set_val(ms, 3, 3, 0, 4, 0, (struct lwm2m_value){.type = LWM2M_TYPE_NONE});
    set_val(ms, 4, 3, 0, 6, 0, lwm2m_value_int(1));
    set_val(ms, 4, 3, 0, 6, 1, lwm2m_value_int(5));
    set_val(ms, 4, 3, 0, 11, 0, lwm2m_value_int(0));
    set_val(ms, 3, 3, 0, 13, 0, lwm2m_value_time(1700000000));
    set_str(ms, 3, 0, 16, "U");
    set_val(ms, 3, 3303, 0, 5700, 0, lwm2m_value_float(21.5));
    set_str(ms, 3303, 0, 5701, "Cel");
    set_val(ms, 3, 3311, 0, 5850, 0, lwm2m_value_bool(false));
    set_val(ms, 3, 3311, 1, 5850, 0, lwm2m_value_bool(true));
    lwm2m_memstore_set_hooks(ms, on_exec, on_write, NULL);
}

/* Sets PATH to a value given as text, read as the type the model declares for that resource.
 * Returns 0 or an LWM2M_ERR_*. */
static int store_set_text(const struct lwm2m_model *m, struct lwm2m_memstore *ms, const char *path,
                          size_t plen, const char *text) {
    struct lwm2m_path p;
    enum lwm2m_type t;
    struct lwm2m_value v;
    int rc = lwm2m_path_parse(path, plen, &p);
    if (rc == 0)
        rc = lwm2m_model_resource_type(m, &p, &t);
    if (rc == 0)
        rc = lwm2m_text_value((const uint8_t *)text, strlen(text), t, &v);
    return rc == 0 ? lwm2m_memstore_set(ms, &p, &v) : rc;
}

/* The same on every endpoint. */
static int set_text(struct client *c, const char *path, const char *text) {
    int rc = 0;
    for (size_t k = 0; rc == 0 && k < c->n; k++)
        rc = store_set_text(c->model, c->stores[k], path, strlen(path), text);
    return rc;
}

static void quit(struct client *c) {
    if (c->quitting)
        return;
    c->quitting = true;
    for (size_t i = 0; i < c->n; i++)
        if (c->eps[i] != NULL)
            lwm2m_endpoint_remove(c->eps[i]);
    size_t reg = 0;
    if (lwm2m_engine_endpoints(c->eng, &reg) == 0)
        event_base_loopexit(c->base, NULL);
    struct timeval tv = {10, 0}; /* a server that never answers must not hold us forever */
    event_base_loopexit(c->base, &tv);
}

/* ---- Information reporting commands (observe.c / send.c) ---- */

static void mark_changed(struct client *c, const char *path) {
    struct lwm2m_path p;
    if (lwm2m_path_parse(path, strlen(path), &p) == 0)
        for (size_t k = 0; k < c->n; k++)
            lwm2m_endpoint_changed(c->eps[k], &p);
}

/* "send /3303/0/5700 /3/0/13": one Send per endpoint. */
static void send_paths(struct client *c, char *list) {
    struct lwm2m_path paths[16];
    size_t n = 0;
    for (char *t = strtok(list, " "); t != NULL && n < 16; t = strtok(NULL, " "))
        if (lwm2m_path_parse(t, strlen(t), &paths[n]) == 0)
            n++;
    for (size_t k = 0; k < c->n; k++) {
        int rc = lwm2m_endpoint_send(c->eps[k], paths, n);
        printf("send ep=%s rc=%s\n", lwm2m_endpoint_name(c->eps[k]), lwm2m_strerror(rc));
    }
}

static void print_stats(struct client *c) {
    const struct lwm2m_report_stats *s = lwm2m_engine_report_stats(c->eng);
    printf("stats observations=%llu notifications=%llu con=%llu non=%llu dropped=%llu "
           "sends=%llu muted=%llu send_failed=%llu ended=%llu kept=%llu delivered=%llu "
           "kept_dropped=%llu overflow=%llu hqmax=%llu\n",
           (unsigned long long)s->observations, (unsigned long long)s->notifications,
           (unsigned long long)s->notify_con, (unsigned long long)s->notify_non,
           (unsigned long long)s->notify_dropped, (unsigned long long)s->sends,
           (unsigned long long)s->send_muted, (unsigned long long)s->send_failed,
           (unsigned long long)s->observe_ended, (unsigned long long)s->kept,
           (unsigned long long)s->kept_delivered, (unsigned long long)s->kept_dropped,
           (unsigned long long)s->kept_overflow, (unsigned long long)s->kept_hqmax);
}

static void command(struct client *c, char *line) {
    char path[64], val[256];
    unsigned o, i;
    if (strcmp(line, "quit") == 0) {
        quit(c);
    } else if (strcmp(line, "update") == 0) {
        for (size_t k = 0; k < c->n; k++)
            lwm2m_endpoint_update(c->eps[k]);
    } else if (sscanf(line, "add-instance %u %u", &o, &i) == 2) {
        for (size_t k = 0; k < c->n; k++) {
            lwm2m_memstore_add_instance(c->stores[k], (uint16_t)o, (uint16_t)i);
            lwm2m_endpoint_objects_changed(c->eps[k]);
        }
    } else if (strncmp(line, "set-quiet ", 10) == 0 &&
               sscanf(line, "set-quiet %63s %255s", path, val) == 2) {
        /* a change the engine is not told of (epmax must find it by itself) */
        if (set_text(c, path, val) != 0)
            printf("error cannot set %s to '%s'\n", path, val);
    } else if (sscanf(line, "set %63s %255s", path, val) == 2) {
        if (set_text(c, path, val) != 0)
            printf("error cannot set %s to '%s'\n", path, val);
        else
            mark_changed(c, path); /* observe: several sets in one read give one pass */
    } else if (strncmp(line, "send ", 5) == 0) {
        send_paths(c, line + 5);
    } else if (strcmp(line, "stats") == 0) {
        print_stats(c);
    } else {
        printf("error unknown command: %s\n", line);
    }
    fflush(stdout);
}

static void on_stdin(evutil_socket_t fd, short what, void *arg) {
    struct client *c = arg;
    ssize_t n = read(fd, c->line + c->linelen, sizeof(c->line) - 1 - c->linelen);
    if (n <= 0) {
        quit(c);
        return;
    }
    c->linelen += (size_t)n;
    char *nl;
    while ((nl = memchr(c->line, '\n', c->linelen)) != NULL) {
        *nl = '\0';
        command(c, c->line);
        size_t used = (size_t)(nl - c->line) + 1;
        memmove(c->line, nl + 1, c->linelen - used);
        c->linelen -= used;
    }
    if (c->linelen == sizeof(c->line) - 1)
        c->linelen = 0; /* an over-long line is dropped */
}

static void on_signal(evutil_socket_t sig, short what, void *arg) {
    quit(arg);
}

static void usage(void) {
    fprintf(stderr, "usage: lwm2m_client --server coap://HOST:PORT [--server URI]... [--count N]\n"
                    "       [--name PREFIX] [--lifetime S] [--binding U|UQ] [--version 0|1|2]\n"
                    "       [--bind ADDR] [--ssid N] [--concurrency N] [--retry-ms N]\n"
                    "       [--queue-idle-ms N] [--ddf FILE|DIR]... [--set /O/I/R=VALUE]...\n"
                    "       [--notify-con] [--send-json] [--store DIR]\n");
}

int main(int argc, char **argv) {
    struct lwm2m_server_cfg srv = {.ssid = 1,
                                   .lifetime = 300,
                                   .binding = "U",
                                   .version_minor = 2,
                                   .sec_mode = LWM2M_SEC_NOSEC};
    const char *uris[4];
    size_t nuris = 0;
    struct lwm2m_engine_cfg ecfg = {0};
    const char *prefix = "urn:dev:test:", *bind = "127.0.0.1";
    size_t count = 1;
    static const struct option opts[] = {{"server", 1, 0, 's'},
                                         {"count", 1, 0, 'n'},
                                         {"name", 1, 0, 'p'},
                                         {"lifetime", 1, 0, 'l'},
                                         {"binding", 1, 0, 'b'},
                                         {"version", 1, 0, 'v'},
                                         {"bind", 1, 0, 'a'},
                                         {"ssid", 1, 0, 'i'},
                                         {"concurrency", 1, 0, 'c'},
                                         {"retry-ms", 1, 0, 'r'},
                                         {"queue-idle-ms", 1, 0, 'q'},
                                         {"ddf", 1, 0, 'd'},
                                         {"set", 1, 0, 'S'},
                                         {"notify-con", 0, 0, 'C'},
                                         {"send-json", 0, 0, 'J'},
                                         {"store", 1, 0, 'K'},
                                         {0, 0, 0, 0}};
    struct lwm2m_report_cfg rcfg = {0}; /* --notify-con, --send-json, --store (observe.c) */
    const char *ddfs[8], *sets[16];
    size_t nddf = 0, nset = 0;
    for (int ch; (ch = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        switch (ch) {
        case 's':
            if (nuris == 4) {
                usage();
                return 2;
            }
            uris[nuris++] = optarg;
            break;
        case 'n':
            count = strtoul(optarg, NULL, 10);
            break;
        case 'p':
            prefix = optarg;
            break;
        case 'l':
            srv.lifetime = (uint32_t)strtoul(optarg, NULL, 10);
            break;
        case 'b':
            srv.binding = optarg;
            break;
        case 'v':
            srv.version_minor = (uint8_t)atoi(optarg);
            break;
        case 'a':
            bind = optarg;
            break;
        case 'i':
            srv.ssid = (uint16_t)atoi(optarg);
            break;
        case 'c':
            ecfg.reg_concurrency = (uint32_t)strtoul(optarg, NULL, 10);
            break;
        case 'r':
            ecfg.retry_min_ms = (uint32_t)strtoul(optarg, NULL, 10);
            break;
        case 'q':
            ecfg.queue_idle_ms = (uint32_t)strtoul(optarg, NULL, 10);
            break;
        case 'd':
            if (nddf < 8)
                ddfs[nddf++] = optarg;
            break;
        case 'S':
            if (nset < 16)
                sets[nset++] = optarg;
            break;
        case 'C':
            rcfg.notify_con = true;
            break;
        case 'J':
            rcfg.send_ct = LWM2M_CT_SENML_JSON;
            break;
        case 'K': /* store-and-forward: Notification Storing on, queues in this directory */
            rcfg.state_dir = optarg;
            srv.notification_storing = true;
            break;
        default:
            usage();
            return 2;
        }
    }
    if (nuris == 0 || count == 0) {
        usage();
        return 2;
    }
    /* One Security/Server instance per --server, short server ids counting up from --ssid. */
    struct lwm2m_server_cfg servers[4];
    for (size_t k = 0; k < nuris; k++) {
        servers[k] = srv;
        servers[k].uri = uris[k];
        servers[k].ssid = (uint16_t)(srv.ssid + k);
    }
    struct client c = {.n = count};
    c.base = event_base_new();
    if (c.base == NULL || lwm2m_model_new(&c.model) != 0)
        return 1;
    /* Extra objects from OMA DDF files (a file or a directory of *.xml), before sealing. */
    for (size_t k = 0; k < nddf; k++) {
        struct lwm2m_model_error err = {0};
        struct stat st;
        int rc = stat(ddfs[k], &st) == 0 && S_ISDIR(st.st_mode)
                     ? lwm2m_model_load_ddf_dir(c.model, ddfs[k], 0, NULL, &err)
                     : lwm2m_model_load_ddf_file(c.model, ddfs[k], 0, &err);
        if (rc != 0) {
            fprintf(stderr, "lwm2m_client: %s\n", err.msg[0] ? err.msg : lwm2m_strerror(rc));
            return 2;
        }
    }
    lwm2m_model_seal(c.model);
    ecfg.base = c.base;
    ecfg.model = c.model;
    ecfg.on_event = on_event;
    ecfg.event_ctx = &c;
    if (lwm2m_engine_new(&ecfg, &c.eng) != 0)
        return 1;
    c.eps = calloc(count, sizeof(*c.eps));
    c.stores = calloc(count, sizeof(*c.stores));
    if (c.eps == NULL || c.stores == NULL)
        return 1;
    for (size_t i = 0; i < count; i++) {
        char name[128];
        snprintf(name, sizeof(name), "%s%zu", prefix, i);
        struct lwm2m_endpoint_cfg cfg = {
            .name = name, .servers = servers, .nservers = nuris, .bind_host = bind};
        int rc = lwm2m_memstore_new(c.model, &c.stores[i]);
        if (rc == 0) {
            fill_store(c.stores[i], i);
            /* --set PATH=VALUE: initial values, before the Register lists the instances. */
            for (size_t k = 0; rc == 0 && k < nset; k++) {
                const char *eq = strchr(sets[k], '=');
                rc = eq == NULL ? LWM2M_ERR_INVALID
                                : store_set_text(c.model, c.stores[i], sets[k],
                                                 (size_t)(eq - sets[k]), eq + 1);
                if (rc != 0) {
                    fprintf(stderr, "lwm2m_client: --set %s: not a value of that resource\n",
                            sets[k]);
                    return 2;
                }
            }
            rc = lwm2m_endpoint_add(c.eng, &cfg, &lwm2m_memstore_provider, c.stores[i], &c.eps[i]);
        }
        if (rc == 0 && (rcfg.notify_con || rcfg.send_ct != 0 || rcfg.state_dir != NULL))
            rc = lwm2m_endpoint_set_report(c.eps[i], &rcfg);
        if (rc != 0) {
            fprintf(stderr, "lwm2m_client: endpoint %s: %s\n", name, lwm2m_strerror(rc));
            return 1;
        }
    }
    printf("started %zu endpoints\n", count);
    fflush(stdout);
    struct event *in = event_new(c.base, 0, EV_READ | EV_PERSIST, on_stdin, &c);
    struct event *sig = evsignal_new(c.base, SIGTERM, on_signal, &c);
    struct event *sint = evsignal_new(c.base, SIGINT, on_signal, &c);
    event_add(in, NULL);
    event_add(sig, NULL);
    event_add(sint, NULL);
    event_base_dispatch(c.base);
    size_t left = lwm2m_engine_endpoints(c.eng, NULL);
    print_stats(&c); /* observe/send counters at exit (deregistration ends observations) */
    printf("exit endpoints-left=%zu\n", left);
    event_free(in);
    event_free(sig);
    event_free(sint);
    lwm2m_engine_free(c.eng);
    for (size_t i = 0; i < count; i++)
        lwm2m_memstore_free(c.stores[i]);
    free(c.stores);
    free(c.eps);
    lwm2m_model_free(c.model);
    event_base_free(c.base);
    return 0;
}
