/* SPDX-License-Identifier: Apache-2.0 */
/* lwm2m-gateway command line: parses the sub-command and options and hands over. `check -c FILE`
 * loads the configuration and prints what the gateway would run (devices, endpoint names, point
 * bindings) without starting anything; `run -c FILE` starts the gateway (bridge/gateway.c). */
#include <stdio.h>
#include <string.h>

#include "cfg.h"
#include "gateway.h"
#include "gw_version.h"

#define EXIT_INVALID 2

static void usage(FILE *out) {
    fprintf(
        out,
        "usage: lwm2m-gateway [--version | --help]\n"
        "       lwm2m-gateway check -c FILE   validate FILE and print the devices, their\n"
        "                                     endpoint names and point bindings\n"
        "       lwm2m-gateway run -c FILE     run the gateway: register every device, serve it,\n"
        "                                     reload on SIGHUP, deregister and exit on\n"
        "                                     SIGTERM\n");
}

/* ---- check: printing ------------------------------------------------------------------------- */

static void print_server(const char *what, const struct cfg_server *s) {
    printf("  %-9s %s  security %s", what, s->uri, cfg_sec_mode_name(s->security.mode));
    if (s->security.mode == CFG_SEC_PSK)
        printf(" (identity %s, %zu-byte key)", s->security.identity, s->security.psk_len);
    if (s->security.mode == CFG_SEC_CERT)
        printf(" (cert %s, key %s, server %s)", s->security.cert, s->security.key,
               s->security.server_ca ? "verified" : "NOT verified: no server_ca");
    if (s->short_server_id != 0)
        printf("  lifetime %us", (unsigned)s->lifetime);
    else
        printf("  finish within %us", (unsigned)(s->bs_timeout_ms / 1000));
    if (s->short_server_id == 0 && s->bs_hold_off_ms != 0) {
        char t[24];
        cfg_duration_format(s->bs_hold_off_ms, t, sizeof(t));
        printf(", hold off %s", t);
    }
    printf("\n");
}

static void print_adapter(const struct cfg_adapter *a, int w) {
    char t[24];
    cfg_duration_format(a->timeout_ms, t, sizeof(t));
    printf("  %-*s  %-19s  ", w, a->name, cfg_adapter_type_name(a->type));
    switch (a->type) {
    case CFG_ADAPTER_MODBUS_RTU:
        printf("%s %u %c%u%u%s, timeout %s", a->device, (unsigned)a->baud, "NEO"[a->parity],
               (unsigned)a -> data_bits, (unsigned)a -> stop_bits, a -> rs485 ? " rs485" : "", t);
        break;
    case CFG_ADAPTER_MQTT:
        printf("%s:%u, MQTT %s%s, keepalive %us, timeout %s", a->host, (unsigned)a->port,
               a->protocol == 5 ? "5" : "3.1.1", a->tls.enabled ? " over TLS" : "",
               (unsigned)a->keepalive_s, t);
        if (!a->clean_session && a->protocol == 5)
            printf(", persistent session (expiry %us)", (unsigned)a->session_expiry_s);
        else if (!a->clean_session)
            printf(", persistent session");
        break;
    case CFG_ADAPTER_MODBUS_TCP:
    case CFG_ADAPTER_MODBUS_RTU_OVER_TCP:
    default:
        printf("%s:%u, timeout %s", a->host, (unsigned)a->port, t);
        break;
    }
    printf("\n");
}

/* The device name a template is expanded with: a discovery rule keeps "{device}" visible. */
static const char *dev_name(const struct cfg_device *d) {
    return d->name ? d->name : "{device}";
}

static void expand(const struct cfg *cfg, const struct cfg_device *d, const char *tmpl, char *out,
                   size_t cap) {
    if (cfg_template_expand(tmpl, cfg->gateway.id, dev_name(d), d->unit, out, cap) < 0)
        snprintf(out, cap, "%s", tmpl);
}

static void describe_modbus(const struct cfg_modbus_binding *b, char *o, size_t cap) {
    size_t n = 0;
#define ADD(...) n += (size_t)snprintf(o + n, n < cap ? cap - n : 0, __VA_ARGS__)
    if (b->read.set)
        ADD("read %s:%u ", cfg_mb_table_name(b->read.table), (unsigned)b->read.addr);
    if (b->write.set)
        ADD("write %s:%u ", cfg_mb_table_name(b->write.table), (unsigned)b->write.addr);
    ADD("%s", cfg_mb_type_name(b->type));
    if (b->type == CFG_MB_STRING || b->type == CFG_MB_BIT)
        ADD("(%u)", (unsigned)b->type_arg);
    if (b->count > 1 && b->type != CFG_MB_STRING)
        ADD(" %s", cfg_mb_order_name(b->order));
    if (b->scale != 1.0)
        ADD(" scale %g", b->scale);
    if (b->offset != 0.0)
        ADD(" offset %g", b->offset);
    if (b->write.set && !b->readback)
        ADD(" no-readback");
#undef ADD
}

static void describe(const struct cfg *cfg, const struct cfg_device *d, const struct cfg_binding *b,
                     char *o, size_t cap) {
    char t1[256], t2[256];
    const struct cfg_mqtt_binding *m = &b->u.mqtt;
    switch (b->kind) {
    case CFG_BIND_MODBUS:
        describe_modbus(&b->u.modbus, o, cap);
        break;
    case CFG_BIND_MQTT:
        t1[0] = t2[0] = '\0';
        if (m->topic != NULL)
            expand(cfg, d, m->topic, t1, sizeof(t1));
        if (m->has_write)
            expand(cfg, d, m->write.topic, t2, sizeof(t2));
        snprintf(o, cap, "%s%s%s%s%s%s%s%s%s%s", m->topic ? "topic " : "", t1,
                 m->json ? " json " : "", m->json ? m->json : "",
                 m->topic && !m->json && m->format != CFG_MQ_TEXT ? " format " : "",
                 m->topic && !m->json && m->format != CFG_MQ_TEXT ? cfg_mq_format_name(m->format)
                                                                  : "",
                 m->has_write ? (m->topic ? " write " : "write ") : "", t2,
                 m->has_write && m->write.json ? " json " : "",
                 m->has_write && m->write.json ? m->write.json : "");
        if (m->has_qos) {
            size_t len = strlen(o);
            snprintf(o + len, cap - len, " qos %u", (unsigned)m->qos);
        }
        break;
    case CFG_BIND_CONST:
    default:
        snprintf(o, cap, "value \"%s\"", b->u.value);
        break;
    }
}

static int width(const char *s, int w) {
    return s && (int)strlen(s) > w ? (int)strlen(s) : w;
}

/* "notifications: ..." and "store: ..." lines of lwm2m.notifications and lwm2m.store. */
static void print_reporting(const struct cfg *cfg) {
    const struct cfg_lwm2m *l = &cfg->lwm2m;
    if (l->notifications.con)
        printf("notifications: CON\n");
    else
        printf("notifications: NON, every %uth CON\n", (unsigned)l->notifications.con_every);
    if (l->store.enabled) {
        char sync[16];
        cfg_duration_format(l->store.sync_ms, sync, sizeof(sync));
        printf("store: on (Notification Storing), at most %u entries and %u bytes per endpoint "
               "and server, written every %s, in %s\n",
               (unsigned)l->store.max_entries, (unsigned)l->store.max_bytes, sync,
               cfg->gateway.state_dir);
    } else
        printf("store: off\n");
}

/* "  send /3303/0/5700 on change, every 1m, senml-cbor" under a device. */
static void print_send(const struct cfg_send *snd) {
    char path[40], period[24];
    if (snd->npaths == 0)
        return;
    printf("  send");
    for (size_t i = 0; i < snd->npaths; i++) {
        cfg_lwm2m_path_format(&snd->paths[i], path, sizeof(path));
        printf(" %s", path);
    }
    cfg_duration_format(snd->period_s * 1000u, period, sizeof(period));
    printf("%s%s%s%s, %s\n", snd->on_change ? " on change" : "",
           snd->on_change && snd->period_s ? "," : "", snd->period_s ? " every " : "",
           snd->period_s ? period : "", cfg_send_format_name(snd->format));
}

static void print_devices(const struct cfg *cfg) {
    char ep[256], poll[24], unit[16], line[1024];
    int wn = 6, we = 8, wa = 7, wp = 7;
    for (size_t i = 0; i < cfg->ndevices; i++) {
        const struct cfg_device *d = &cfg->devices[i];
        expand(cfg, d, cfg->lwm2m.endpoint_name, ep, sizeof(ep));
        wn = width(dev_name(d), wn);
        we = width(ep, we);
        wa = width(d->adapter->name, wa);
        wp = width(d->profile->name, wp);
    }
    printf("\n%-*s  %-*s  %-*s  %-4s  %-*s  %s\n", wn, "DEVICE", we,
           cfg->lwm2m.mode == CFG_MODE_GATEWAY ? "ENDPOINT" : "ENDPOINT", wa, "ADAPTER", "UNIT", wp,
           "PROFILE", "POLL");
    for (size_t i = 0; i < cfg->ndevices; i++) {
        const struct cfg_device *d = &cfg->devices[i];
        expand(cfg, d, cfg->lwm2m.endpoint_name, ep, sizeof(ep));
        snprintf(unit, sizeof(unit), "%d", (int)d->unit);
        cfg_duration_format(d->poll_ms, poll, sizeof(poll));
        printf("%-*s  %-*s  %-*s  %-4s  %-*s  %s", wn, dev_name(d), we, ep, wa, d->adapter->name,
               d->unit >= 0 ? unit : "-", wp, d->profile->name, d->poll_ms ? poll : "-");
        if (d->discover)
            printf("  (discovered on %s, at most %u)", d->discover_filter,
                   (unsigned)d->max_devices);
        printf("\n");
    }
    for (size_t i = 0; i < cfg->ndevices; i++) {
        const struct cfg_device *d = &cfg->devices[i];
        expand(cfg, d, cfg->lwm2m.endpoint_name, ep, sizeof(ep));
        if (cfg->lwm2m.mode == CFG_MODE_GATEWAY)
            printf("\n%s: endpoint %s, path prefix /%s\n", dev_name(d), ep, dev_name(d));
        else
            printf("\n%s: endpoint %s\n", dev_name(d), ep);
        for (size_t k = 0; k < d->nres; k++) {
            const struct cfg_resource *r = &d->res[k];
            char path[24];
            snprintf(path, sizeof(path), "/%u/%u/%u", (unsigned)r->obj, (unsigned)r->inst,
                     (unsigned)r->res);
            describe(cfg, d, &r->b, line, sizeof(line));
            printf("  %-17s %s\n", path, line);
        }
        print_send(&d->send);
    }
}

/* Host names: looked up again how often, asking whom. */
static void print_dns(const struct cfg_dns *d) {
    char every[24];
    cfg_duration_format(d->refresh_ms, every, sizeof(every));
    printf("  dns       host names looked up again %s%s, name servers ",
           d->refresh_ms ? "every " : "", d->refresh_ms ? every : "only at reload");
    for (size_t i = 0; i < d->nnameservers; i++)
        printf("%s%s", i ? ", " : "", d->nameservers[i]);
    printf("%s\n", d->nnameservers ? "" : "of /etc/resolv.conf");
}

static void print_cfg(const struct cfg *cfg) {
    const struct cfg_gateway *g = &cfg->gateway;
    const struct cfg_lwm2m *l = &cfg->lwm2m;
    printf("%s: valid (%zu adapter%s, %zu profile%s, %zu device%s)\n\n", cfg->file, cfg->nadapters,
           cfg->nadapters == 1 ? "" : "s", cfg->nprofiles, cfg->nprofiles == 1 ? "" : "s",
           cfg->ndevices, cfg->ndevices == 1 ? "" : "s");
    printf("gateway %s: log %s, state %s, http ", g->id, cfg_log_level_name(g->log_level),
           g->state_dir);
    if (g->http_host)
        printf("%s:%u\n", g->http_host, (unsigned)g->http_port);
    else
        printf("off\n");
    printf("lwm2m: %s mode, LwM2M %s, endpoint %s, lifetime %us, binding %s\n",
           cfg_lwm2m_mode_name(l->mode), cfg_lwm2m_version_name(l->version), l->endpoint_name,
           (unsigned)l->lifetime, l->binding);
    char ack[24];
    cfg_duration_format(l->coap.ack_timeout_ms, ack, sizeof(ack));
    printf("  coap      ack_timeout %s, max_retransmit %u\n", ack,
           (unsigned)l->coap.max_retransmit);
    for (size_t i = 0; i < l->nservers; i++) {
        char what[16];
        snprintf(what, sizeof(what), "server %u", (unsigned)l->servers[i].short_server_id);
        print_server(what, &l->servers[i]);
    }
    if (l->bootstrap)
        print_server("bootstrap", l->bootstrap);
    print_dns(&l->dns);
    print_reporting(cfg);
    if (cfg->nadapters) {
        int w = 7;
        for (size_t i = 0; i < cfg->nadapters; i++)
            w = width(cfg->adapters[i].name, w);
        printf("\n  %-*s  %-19s  %s\n", w, "ADAPTER", "TYPE", "SETTINGS");
        for (size_t i = 0; i < cfg->nadapters; i++)
            print_adapter(&cfg->adapters[i], w);
    }
    if (cfg->ndevices)
        print_devices(cfg);
}

static int cmd_check(const char *file) {
    const struct cfg *cfg;
    struct cfg_errors errs;
    if (cfg_load(file, &cfg, &errs) != 0) {
        cfg_errors_print(&errs, stderr);
        return EXIT_INVALID;
    }
    print_cfg(cfg);
    cfg_free(cfg);
    return 0;
}

/* "-c FILE", "--config FILE" or "--config=FILE" after the sub-command. */
static const char *config_arg(int argc, char **argv) {
    const char *file = NULL;
    for (int i = 2; i < argc; i++) {
        if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc)
            file = argv[++i];
        else if (strncmp(argv[i], "--config=", 9) == 0)
            file = argv[i] + 9;
        else
            return NULL;
    }
    return file;
}

int main(int argc, char **argv) {
    if (argc == 2 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0)) {
        printf("lwm2m-gateway %s\n", GW_VERSION);
        return 0;
    }
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "check") == 0) {
        const char *file = config_arg(argc, argv);
        if (file != NULL)
            return cmd_check(file);
    }
    if (argc >= 2 && strcmp(argv[1], "run") == 0) {
        const char *file = config_arg(argc, argv);
        if (file != NULL)
            return gw_run(file);
    }
    usage(stderr);
    return EXIT_INVALID;
}
