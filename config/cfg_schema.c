/* SPDX-License-Identifier: Apache-2.0 */
/* The schema of the top level and of the gateway, lwm2m, adapters and devices sections, as
 * directive tables, plus the rules that span several keys of one section (security modes, URIs,
 * password vs password_file). Profiles are in cfg_profile.c, cross-references in cfg_check.c. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg_internal.h"

#define FIELD_SIZE(st, f) sizeof(((st *)0)->f)
#define D(st, key, f, t, ...)                                                                      \
    { .name = key, .type = t, .offset = offsetof(st, f), .size = FIELD_SIZE(st, f), __VA_ARGS__ }
#define ENUM_OF(arr) .names = arr, .nnames = CFG_COUNT(arr)
#define SKIP(key)                                                                                  \
    { .name = key, .type = CFG_D_CUSTOM, .fn = skip }

/* A key that the section code handles itself: known to the table, converted elsewhere. */
static int skip(struct cfg_ctx *ctx, const struct cfg_node *n, void *dst) {
    return 0;
}

static const char *const log_levels[] = {"error", "warn", "info", "debug", "trace"};
static const char *const modes[] = {"endpoint-per-device", "gateway"};
static const char *const versions[] = {"1.0", "1.1", "1.2"};
static const char *const bindings[] = {"U", "UQ"};
static const char *const sec_modes[] = {"nosec", "psk", "cert"};
static const char *const adapter_types[] = {"modbus-tcp", "modbus-rtu", "modbus-rtu-over-tcp",
                                            "mqtt"};
static const char *const parities[] = {"none", "even", "odd"};
static const char *const mqtt_protocols[] = {"3.1.1", "5"};

/* ---- gateway ----------------------------------------------------------------------------------
 */

/* "host:port" or "[v6]:port". */
static int parse_hostport(const char *s, const char **host, size_t *hlen, uint16_t *port) {
    const char *colon;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL || close[1] != ':')
            return -EINVAL;
        *host = s + 1;
        *hlen = (size_t)(close - s - 1);
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL || memchr(s, ':', (size_t)(colon - s)) != NULL)
            return -EINVAL;
        *host = s;
        *hlen = (size_t)(colon - s);
    }
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*hlen == 0 || colon[1] == '\0' || *end != '\0' || p < 1 || p > 65535)
        return -EINVAL;
    *port = (uint16_t)p;
    return 0;
}

static int http_fn(struct cfg_ctx *ctx, const struct cfg_node *n, void *dst) {
    struct cfg_gateway *g = dst;
    if (n == NULL)
        return 0;
    const char *s = cfg_scalar(ctx, n, "host:port");
    const char *host;
    size_t hlen;
    if (s == NULL)
        return -EINVAL;
    if (parse_hostport(s, &host, &hlen, &g->http_port) != 0) {
        cfg_err(ctx, n, "expected host:port like 127.0.0.1:8080 (port 1..65535), got '%s'", s);
        return -EINVAL;
    }
    g->http_host = cfg_arena_strndup(ctx->arena, host, hlen);
    return 0;
}

static const struct cfg_directive gateway_dirs[] = {
    D(struct cfg_gateway, "id", id, CFG_D_NAME),
    D(struct cfg_gateway, "state_dir", state_dir, CFG_D_STR, .def = "./state"),
    D(struct cfg_gateway, "log_level", log_level, CFG_D_ENUM, .def = "info", ENUM_OF(log_levels)),
    {.name = "http", .type = CFG_D_CUSTOM, .offset = 0, .fn = http_fn},
    D(struct cfg_gateway, "stale_after", stale_after_ms, CFG_D_DURATION, .min = 1, .max = 86400000),
    D(struct cfg_gateway, "down_deregister", down_deregister_ms, CFG_D_DURATION, .min = 1,
      .max = 86400000),
};

static int gateway_fn(struct cfg_ctx *ctx, const struct cfg_node *n, void *dst) {
    struct cfg_gateway *g = dst;
    int rc = cfg_walk(ctx, n, ctx->root, gateway_dirs, CFG_COUNT(gateway_dirs), g);
    if (g->id == NULL) {
        char host[256] = "";
        if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0')
            snprintf(host, sizeof(host), "lwm2m-gateway");
        g->id = cfg_arena_strndup(ctx->arena, host, strlen(host));
    }
    if (g->state_dir != NULL)
        g->state_dir = cfg_resolve_path(ctx, g->state_dir);
    return rc;
}

/* ---- lwm2m: servers and security ---------------------------------------------------------------
 */

struct sec_raw {
    struct cfg_security s;
    const char *key, *key_file;
};

static const struct cfg_directive security_dirs[] = {
    D(struct sec_raw, "mode", s.mode, CFG_D_ENUM, .def = "nosec", ENUM_OF(sec_modes)),
    D(struct sec_raw, "identity", s.identity, CFG_D_TEMPLATE,
      .min = CFG_TPL_GATEWAY | CFG_TPL_DEVICE),
    D(struct sec_raw, "key", key, CFG_D_STR),
    D(struct sec_raw, "key_file", key_file, CFG_D_SECRET),
    D(struct sec_raw, "cert", s.cert, CFG_D_PATH),
    D(struct sec_raw, "server_ca", s.server_ca, CFG_D_PATH),
};

static int hexval(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int decode_psk(struct cfg_ctx *ctx, const struct cfg_node *at, const char *hex,
                      struct cfg_security *s) {
    size_t len = strlen(hex);
    uint8_t *out = cfg_arena_alloc(ctx->arena, len / 2 + 1);
    bool ok = out != NULL && len >= 2 && len <= 128 && len % 2 == 0;
    for (size_t i = 0; ok && i < len; i += 2) {
        int hi = hexval(hex[i]), lo = hexval(hex[i + 1]);
        ok = hi >= 0 && lo >= 0;
        if (ok)
            out[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    if (!ok) {
        cfg_err(ctx, at,
                "expected the PSK as 1..64 bytes of hex digits (like 000102030405), "
                "got '%s'",
                hex);
        return -EINVAL;
    }
    s->psk = out;
    s->psk_len = len / 2;
    return 0;
}

/* Keys that only belong to other modes are errors, so a psk key never silently goes unused. */
static void only_in_mode(struct cfg_ctx *ctx, const struct cfg_node *map, const char *key,
                         const char *mode) {
    const struct cfg_node *v = cfg_map_get(map, key);
    if (v != NULL) {
        size_t saved = cfg_path_push(ctx, key);
        cfg_err(ctx, v, "only used with mode %s", mode);
        cfg_path_pop(ctx, saved);
    }
}

static int security_fn(struct cfg_ctx *ctx, const struct cfg_node *n, void *dst) {
    struct sec_raw raw = {0};
    struct cfg_security *s = dst;
    if (cfg_walk(ctx, n, NULL, security_dirs, CFG_COUNT(security_dirs), &raw) != 0)
        return -EINVAL;
    *s = raw.s;
    const struct cfg_node *keyn = cfg_map_get(n, "key");
    if (s->mode == CFG_SEC_PSK) {
        if (s->identity == NULL)
            cfg_err(ctx, n, "missing required key 'identity' (mode psk)");
        if ((raw.key == NULL) == (raw.key_file == NULL))
            cfg_err(ctx, n, "mode psk needs exactly one of 'key' (hex) or 'key_file'");
        else {
            const char *k = raw.key ? "key" : "key_file";
            size_t saved = cfg_path_push(ctx, k);
            decode_psk(ctx, cfg_map_get(n, k), raw.key ? raw.key : raw.key_file, s);
            cfg_path_pop(ctx, saved);
        }
        only_in_mode(ctx, n, "cert", "cert");
        only_in_mode(ctx, n, "server_ca", "cert");
    } else if (s->mode == CFG_SEC_CERT) {
        if (s->cert == NULL || raw.key == NULL)
            cfg_err(ctx, n, "mode cert needs 'cert' and 'key' (PEM files)");
        if (raw.key != NULL) {
            struct cfg_directive pathd = {.name = "key", .type = CFG_D_PATH};
            size_t saved = cfg_path_push(ctx, "key");
            cfg_convert(ctx, keyn, NULL, &pathd, &s->key);
            cfg_path_pop(ctx, saved);
        }
        only_in_mode(ctx, n, "identity", "psk");
        only_in_mode(ctx, n, "key_file", "psk");
    } else {
        static const char *const others[] = {"identity", "key", "key_file", "cert", "server_ca"};
        for (size_t i = 0; i < CFG_COUNT(others); i++)
            only_in_mode(ctx, n, others[i], i < 3 ? "psk" : "cert");
    }
    return 0;
}

/* coap://host[:port][/] or coaps://...; host may be [v6]. */
static int parse_uri(struct cfg_ctx *ctx, const struct cfg_node *n, struct cfg_server *s) {
    const char *u = s->uri, *rest;
    if (strncmp(u, "coap://", 7) == 0) {
        rest = u + 7;
        s->port = 5683;
    } else if (strncmp(u, "coaps://", 8) == 0) {
        rest = u + 8;
        s->port = 5684;
        s->secure = true;
    } else {
        goto bad;
    }
    size_t hlen;
    const char *host = rest, *after;
    if (rest[0] == '[') {
        const char *close = strchr(rest, ']');
        if (close == NULL)
            goto bad;
        host = rest + 1;
        hlen = (size_t)(close - host);
        after = close + 1;
    } else {
        hlen = strcspn(rest, ":/");
        after = rest + hlen;
    }
    if (hlen == 0)
        goto bad;
    if (after[0] == ':') {
        char *end;
        long p = strtol(after + 1, &end, 10);
        if (end == after + 1 || p < 1 || p > 65535)
            goto bad;
        s->port = (uint16_t)p;
        after = end;
    }
    if (!(after[0] == '\0' || (after[0] == '/' && after[1] == '\0')))
        goto bad;
    s->host = cfg_arena_strndup(ctx->arena, host, hlen);
    return 0;
bad:
    cfg_err(ctx, n, "expected a URI like coap://host:5683 or coaps://host:5684, got '%s'", u);
    return -EINVAL;
}

static const struct cfg_directive server_dirs[] = {
    D(struct cfg_server, "uri", uri, CFG_D_STR, .flags = CFG_REQ),
    D(struct cfg_server, "short_server_id", short_server_id, CFG_D_UINT, .min = 1, .max = 65534),
    D(struct cfg_server, "lifetime", lifetime, CFG_D_SECONDS, .min = 1, .max = 31536000),
    {.name = "security",
     .type = CFG_D_CUSTOM,
     .offset = offsetof(struct cfg_server, security),
     .fn = security_fn},
};

/* uri and security must agree: coaps needs keys, keys need coaps. */
static void server_post(struct cfg_ctx *ctx, const struct cfg_node *map, struct cfg_server *s) {
    const struct cfg_node *urin = cfg_map_get(map, "uri");
    if (s->uri == NULL)
        return;
    size_t saved = cfg_path_push(ctx, "uri");
    int rc = parse_uri(ctx, urin, s);
    cfg_path_pop(ctx, saved);
    if (rc != 0)
        return;
    const struct cfg_node *secn = cfg_map_get(map, "security");
    saved = cfg_path_push(ctx, "security");
    if (s->secure && s->security.mode == CFG_SEC_NOSEC)
        cfg_err(ctx, secn ? secn : map, "a coaps:// server needs security mode psk or cert");
    else if (!s->secure && s->security.mode != CFG_SEC_NOSEC)
        cfg_err(ctx, secn, "security mode %s needs a coaps:// uri",
                cfg_sec_mode_name(s->security.mode));
    cfg_path_pop(ctx, saved);
}

static int servers_fn(struct cfg_ctx *ctx, const struct cfg_node *n, void *dst) {
    struct cfg_lwm2m *l = dst;
    if (n == NULL)
        return 0;
    if (n->kind != CFG_N_SEQ) {
        cfg_err(ctx, n, "expected a sequence of servers, got %s", cfg_node_kind_name(n));
        return -EINVAL;
    }
    struct cfg_server *sv = cfg_arena_alloc(ctx->arena, (n->n + 1) * sizeof(*sv));
    ctx->server_nodes = cfg_arena_alloc(ctx->tmp, (n->n + 1) * sizeof(*ctx->server_nodes));
    if (sv == NULL || ctx->server_nodes == NULL) {
        ctx->oom = true;
        return -ENOMEM;
    }
    for (size_t i = 0; i < n->n; i++) {
        size_t saved = cfg_path_push_index(ctx, i);
        const struct cfg_node *m = n->kids[i];
        ctx->server_nodes[i] = m;
        if (cfg_walk(ctx, m, NULL, server_dirs, CFG_COUNT(server_dirs), &sv[i]) == 0)
            server_post(ctx, m, &sv[i]);
        if (sv[i].short_server_id == 0)
            sv[i].short_server_id = (uint16_t)(i + 1 < 65534 ? i + 1 : 65534);
        if (sv[i].lifetime == 0)
            sv[i].lifetime = l->lifetime;
        for (size_t j = 0; j < i; j++)
            if (sv[j].short_server_id == sv[i].short_server_id) {
                const struct cfg_node *at = cfg_map_get(m, "short_server_id");
                size_t s2 = cfg_path_push(ctx, "short_server_id");
                cfg_err(ctx, at ? at : m, "%u is already used by servers[%zu]",
                        (unsigned)sv[i].short_server_id, j);
                cfg_path_pop(ctx, s2);
                break;
            }
        cfg_path_pop(ctx, saved);
    }
    l->servers = sv;
    l->nservers = n->n;
    return 0;
}

static const struct cfg_directive bootstrap_dirs[] = {
    D(struct cfg_server, "uri", uri, CFG_D_STR, .flags = CFG_REQ),
    D(struct cfg_server, "timeout", bs_timeout_ms, CFG_D_DURATION, .def = "60s", .min = 1000,
      .max = 3600000),
    D(struct cfg_server, "hold_off", bs_hold_off_ms, CFG_D_DURATION, .def = "0s", .min = 0,
      .max = 3600000),
    {.name = "security",
     .type = CFG_D_CUSTOM,
     .offset = offsetof(struct cfg_server, security),
     .fn = security_fn},
};

static int bootstrap_fn(struct cfg_ctx *ctx, const struct cfg_node *n, void *dst) {
    struct cfg_lwm2m *l = dst;
    if (n == NULL)
        return 0;
    struct cfg_server *b = cfg_arena_alloc(ctx->arena, sizeof(*b));
    if (b == NULL)
        return -ENOMEM;
    if (cfg_walk(ctx, n, NULL, bootstrap_dirs, CFG_COUNT(bootstrap_dirs), b) == 0)
        server_post(ctx, n, b);
    b->lifetime = l->lifetime;
    l->bootstrap = b;
    return 0;
}

static int binding_fn(struct cfg_ctx *ctx, const struct cfg_node *n, void *dst) {
    int idx = 0;
    const char *s = n ? cfg_scalar(ctx, n, "a binding") : "U";
    if (s == NULL || cfg_parse_enum(ctx, n, s, "binding", bindings, 2, &idx) != 0)
        return -EINVAL;
    *(const char **)dst = bindings[idx];
    return 0;
}

/* `models:` one path or a sequence of paths (DDF files, or directories of them). */
static int models_fn(struct cfg_ctx *ctx, const struct cfg_node *n, void *dst) {
    struct cfg_lwm2m *l = dst;
    if (n == NULL)
        return 0;
    size_t count = n->kind == CFG_N_SEQ ? n->n : 1;
    const char **paths = cfg_arena_alloc(ctx->arena, (count + 1) * sizeof(*paths));
    if (paths == NULL) {
        ctx->oom = true;
        return -ENOMEM;
    }
    struct cfg_directive pathd = {.name = "models", .type = CFG_D_PATH};
    for (size_t i = 0; i < count; i++) {
        const struct cfg_node *item = n->kind == CFG_N_SEQ ? n->kids[i] : n;
        size_t saved = n->kind == CFG_N_SEQ ? cfg_path_push_index(ctx, i) : 0;
        int rc = cfg_convert(ctx, item, NULL, &pathd, &paths[i]);
        if (n->kind == CFG_N_SEQ)
            cfg_path_pop(ctx, saved);
        if (rc != 0)
            return rc;
    }
    l->models = paths;
    l->nmodels = count;
    return 0;
}

static const struct cfg_directive lwm2m_dirs[] = {
    D(struct cfg_lwm2m, "mode", mode, CFG_D_ENUM, .def = "endpoint-per-device", ENUM_OF(modes)),
    D(struct cfg_lwm2m, "endpoint_name", endpoint_name, CFG_D_TEMPLATE,
      .min = CFG_TPL_GATEWAY | CFG_TPL_DEVICE | CFG_TPL_UNIT),
    D(struct cfg_lwm2m, "lifetime", lifetime, CFG_D_SECONDS, .def = "300", .min = 1,
      .max = 31536000),
    {.name = "binding",
     .type = CFG_D_CUSTOM,
     .offset = offsetof(struct cfg_lwm2m, binding),
     .fn = binding_fn},
    D(struct cfg_lwm2m, "version", version, CFG_D_ENUM, .def = "1.2", ENUM_OF(versions)),
    {.name = "servers", .type = CFG_D_CUSTOM, .fn = servers_fn},
    {.name = "bootstrap", .type = CFG_D_CUSTOM, .fn = bootstrap_fn},
    {.name = "models", .type = CFG_D_CUSTOM, .fn = models_fn},
    {.name = "notifications",
     .type = CFG_D_CUSTOM,
     .offset = offsetof(struct cfg_lwm2m, notifications),
     .fn = cfg_notifications_fn},
    {.name = "store",
     .type = CFG_D_CUSTOM,
     .offset = offsetof(struct cfg_lwm2m, store),
     .fn = cfg_store_fn},
    {.name = "coap",
     .type = CFG_D_CUSTOM,
     .offset = offsetof(struct cfg_lwm2m, coap),
     .fn = cfg_coap_fn},
    {.name = "dns",
     .type = CFG_D_CUSTOM,
     .offset = offsetof(struct cfg_lwm2m, dns),
     .fn = cfg_dns_fn},
};

static int lwm2m_fn(struct cfg_ctx *ctx, const struct cfg_node *n, void *dst) {
    struct cfg_lwm2m *l = dst;
    if (cfg_walk(ctx, n, ctx->root, lwm2m_dirs, CFG_COUNT(lwm2m_dirs), l) != 0)
        return -EINVAL;
    if (l->endpoint_name == NULL)
        l->endpoint_name =
            l->mode == CFG_MODE_GATEWAY ? "urn:dev:{gateway}" : "urn:dev:{gateway}:{device}";
    if (l->nservers == 0 && l->bootstrap == NULL)
        cfg_err(ctx, n, "needs at least one server in 'servers' or a 'bootstrap' server");
    return 0;
}

/* ---- adapters ---------------------------------------------------------------------------------
 */

#define A(key, f, t, ...) D(struct cfg_adapter, key, f, t, __VA_ARGS__)
#define ADAPTER_COMMON(timeout_def)                                                                \
    A("name", name, CFG_D_NAME, .flags = CFG_REQ), SKIP("type"),                                   \
        A("timeout", timeout_ms, CFG_D_DURATION, .def = timeout_def, .min = 1, .max = 3600000)
#define MODBUS_COMMON A("poll", poll_ms, CFG_D_DURATION, .def = "1s", .min = 1, .max = 86400000)

static const struct cfg_directive modbus_tcp_dirs[] = {
    ADAPTER_COMMON("1s"),
    MODBUS_COMMON,
    A("host", host, CFG_D_STR, .flags = CFG_REQ),
    A("port", port, CFG_D_UINT, .def = "502", .min = 1, .max = 65535),
};

static const struct cfg_directive modbus_rtu_dirs[] = {
    ADAPTER_COMMON("1s"),
    MODBUS_COMMON,
    A("device", device, CFG_D_STR, .flags = CFG_REQ),
    A("baud", baud, CFG_D_UINT, .def = "19200", .min = 50, .max = 4000000),
    A("parity", parity, CFG_D_ENUM, .def = "even", ENUM_OF(parities)),
    A("data_bits", data_bits, CFG_D_UINT, .def = "8", .min = 7, .max = 8),
    A("stop_bits", stop_bits, CFG_D_UINT, .def = "1", .min = 1, .max = 2),
    A("rs485", rs485, CFG_D_BOOL, .def = "false"),
};

static const struct cfg_directive tls_dirs[] = {
    D(struct cfg_mqtt_tls, "ca", ca, CFG_D_PATH),
    D(struct cfg_mqtt_tls, "cert", cert, CFG_D_PATH),
    D(struct cfg_mqtt_tls, "key", key, CFG_D_PATH),
    D(struct cfg_mqtt_tls, "psk", psk, CFG_D_STR),
    D(struct cfg_mqtt_tls, "psk_identity", psk_identity, CFG_D_STR),
};

static int tls_fn(struct cfg_ctx *ctx, const struct cfg_node *n, void *dst) {
    struct cfg_mqtt_tls *t = dst;
    if (n == NULL)
        return 0;
    if (cfg_walk(ctx, n, NULL, tls_dirs, CFG_COUNT(tls_dirs), t) != 0)
        return -EINVAL;
    t->enabled = true;
    if ((t->cert == NULL) != (t->key == NULL))
        cfg_err(ctx, n, "'cert' and 'key' go together");
    if ((t->psk == NULL) != (t->psk_identity == NULL))
        cfg_err(ctx, n, "'psk' and 'psk_identity' go together");
    if (t->psk != NULL && (t->ca != NULL || t->cert != NULL))
        cfg_err(ctx, n, "use either certificates (ca, cert, key) or psk, not both");
    if (t->psk == NULL && t->ca == NULL)
        cfg_err(ctx, n, "needs 'ca' (a PEM file to verify the broker) or 'psk' + 'psk_identity'");
    if (t->psk != NULL) {
        struct cfg_security tmp;
        size_t saved = cfg_path_push(ctx, "psk");
        decode_psk(ctx, cfg_map_get(n, "psk"), t->psk, &tmp);
        cfg_path_pop(ctx, saved);
    }
    return 0;
}

static int protocol_fn(struct cfg_ctx *ctx, const struct cfg_node *n, void *dst) {
    int idx = 0;
    const char *s = n ? cfg_scalar(ctx, n, "an MQTT protocol version") : "3.1.1";
    if (s == NULL || cfg_parse_enum(ctx, n, s, "protocol", mqtt_protocols, 2, &idx) != 0)
        return -EINVAL;
    *(uint8_t *)dst = idx == 0 ? 4 : 5;
    return 0;
}

static const struct cfg_directive mqtt_dirs[] = {
    ADAPTER_COMMON("5s"),
    A("host", host, CFG_D_STR, .flags = CFG_REQ),
    A("port", port, CFG_D_UINT, .min = 1, .max = 65535),
    A("client_id", client_id, CFG_D_TEMPLATE, .def = "{gateway}", .min = CFG_TPL_GATEWAY),
    A("username", username, CFG_D_STR),
    A("password", password, CFG_D_STR),
    SKIP("password_file"),
    {.name = "tls",
     .type = CFG_D_CUSTOM,
     .offset = offsetof(struct cfg_adapter, tls),
     .fn = tls_fn},
    {.name = "protocol",
     .type = CFG_D_CUSTOM,
     .offset = offsetof(struct cfg_adapter, protocol),
     .fn = protocol_fn},
    A("clean_session", clean_session, CFG_D_BOOL, .def = "true"),
    A("session_expiry", session_expiry_s, CFG_D_SECONDS, .min = 0, .max = UINT32_MAX),
    A("keepalive", keepalive_s, CFG_D_SECONDS, .def = "60", .min = 5, .max = 65535),
    A("qos", qos, CFG_D_UINT, .def = "0", .min = 0, .max = 2),
};

/* session_expiry only means something for an MQTT 5 persistent session: anywhere else it would
 * silently do nothing, so it is an error there. Absent, such a session lasts an hour. */
static void mqtt_session_post(struct cfg_ctx *ctx, const struct cfg_node *m,
                              struct cfg_adapter *a) {
    const struct cfg_node *se = cfg_map_get(m, "session_expiry");
    if (se == NULL) {
        a->session_expiry_s = a->protocol == 5 && !a->clean_session ? 3600 : 0;
        return;
    }
    size_t saved = cfg_path_push(ctx, "session_expiry");
    if (a->protocol != 5)
        cfg_err(ctx, se,
                "'session_expiry' needs protocol 5 (MQTT 3.1.1 sessions last until the broker "
                "expires them)");
    else if (a->clean_session)
        cfg_err(ctx, se, "'session_expiry' needs clean_session: false");
    cfg_path_pop(ctx, saved);
}

static void mqtt_post(struct cfg_ctx *ctx, const struct cfg_node *m, struct cfg_adapter *a) {
    const struct cfg_node *pf = cfg_map_get(m, "password_file");
    if (pf != NULL) {
        size_t saved = cfg_path_push(ctx, "password_file");
        if (a->password != NULL) {
            cfg_err(ctx, pf, "give either password or password_file, not both");
        } else {
            struct cfg_directive d = {.name = "password_file", .type = CFG_D_SECRET};
            cfg_convert(ctx, pf, NULL, &d, &a->password);
        }
        cfg_path_pop(ctx, saved);
    }
    if (a->password != NULL && a->username == NULL)
        cfg_err(ctx, m, "a password needs a 'username'");
    mqtt_session_post(ctx, m, a);
    if (a->port == 0)
        a->port = a->tls.enabled ? 8883 : 1883;
}

static int adapter_one(struct cfg_ctx *ctx, const struct cfg_node *m, struct cfg_adapter *a) {
    static const struct {
        const struct cfg_directive *d;
        size_t n;
    } tables[] = {
        {modbus_tcp_dirs, CFG_COUNT(modbus_tcp_dirs)},
        {modbus_rtu_dirs, CFG_COUNT(modbus_rtu_dirs)},
        {modbus_tcp_dirs, CFG_COUNT(modbus_tcp_dirs)},
        {mqtt_dirs, CFG_COUNT(mqtt_dirs)},
    };
    if (m->kind != CFG_N_MAP) {
        cfg_err(ctx, m, "expected a mapping, got %s", cfg_node_kind_name(m));
        return -EINVAL;
    }
    const struct cfg_node *tn = cfg_map_get(m, "type");
    if (tn == NULL) {
        cfg_err(ctx, m,
                "missing required key 'type' (one of: modbus-tcp, modbus-rtu, "
                "modbus-rtu-over-tcp, mqtt)");
        return -EINVAL;
    }
    struct cfg_directive td = {.name = "type", .type = CFG_D_ENUM, ENUM_OF(adapter_types)};
    int type = 0;
    size_t saved = cfg_path_push(ctx, "type");
    int rc = cfg_convert(ctx, tn, NULL, &td, &type);
    cfg_path_pop(ctx, saved);
    if (rc != 0)
        return rc; /* without a type the other keys cannot be judged */
    a->type = (enum cfg_adapter_type)type;
    rc = cfg_walk(ctx, m, NULL, tables[type].d, tables[type].n, a);
    if (a->type == CFG_ADAPTER_MQTT)
        mqtt_post(ctx, m, a);
    return rc;
}

static int adapters_fn(struct cfg_ctx *ctx, const struct cfg_node *n, void *dst) {
    struct cfg *cfg = ctx->cfg;
    if (n == NULL)
        return 0;
    if (n->kind != CFG_N_SEQ) {
        cfg_err(ctx, n, "expected a sequence of adapters, got %s", cfg_node_kind_name(n));
        return -EINVAL;
    }
    struct cfg_adapter *a = cfg_arena_alloc(ctx->arena, (n->n + 1) * sizeof(*a));
    ctx->adapter_nodes = cfg_arena_alloc(ctx->tmp, (n->n + 1) * sizeof(*ctx->adapter_nodes));
    if (a == NULL || ctx->adapter_nodes == NULL) {
        ctx->oom = true;
        return -ENOMEM;
    }
    for (size_t i = 0; i < n->n; i++) {
        size_t saved = cfg_path_push_index(ctx, i);
        adapter_one(ctx, n->kids[i], &a[i]);
        const struct cfg_node *nn = cfg_map_get(n->kids[i], "name");
        ctx->adapter_nodes[i] = nn;
        for (size_t j = 0; j < i && a[i].name != NULL; j++) {
            if (a[j].name != NULL && strcmp(a[j].name, a[i].name) == 0) {
                size_t s2 = cfg_path_push(ctx, "name");
                cfg_err(ctx, nn, "duplicate adapter name '%s' (first at %u:%u)", a[i].name,
                        (unsigned)ctx->adapter_nodes[j]->line,
                        (unsigned)ctx->adapter_nodes[j]->col);
                cfg_path_pop(ctx, s2);
                break;
            }
        }
        cfg_path_pop(ctx, saved);
    }
    cfg->adapters = a;
    cfg->nadapters = n->n;
    return 0;
}

/* ---- devices ----------------------------------------------------------------------------------
 */

#define DV(key, f, t, ...) D(struct cfg_device, key, f, t, __VA_ARGS__)
static const struct cfg_directive device_dirs[] = {
    DV("name", name, CFG_D_NAME),
    SKIP("adapter"),
    SKIP("profile"),
    DV("unit", unit, CFG_D_INT, .min = 0, .max = 255),
    DV("poll", poll_ms, CFG_D_DURATION, .min = 1, .max = 86400000),
    DV("discover", discover, CFG_D_STR),
    DV("availability", availability, CFG_D_STR),
    DV("max_devices", max_devices, CFG_D_UINT, .def = "100", .min = 1, .max = 100000),
    DV("stale_after", stale_after_ms, CFG_D_DURATION, .min = 1, .max = 86400000),
    DV("down_deregister", down_deregister_ms, CFG_D_DURATION, .min = 1, .max = 86400000),
    SKIP("overrides"),
    {.name = "send",
     .type = CFG_D_CUSTOM,
     .offset = offsetof(struct cfg_device, send),
     .fn = cfg_send_fn},
};

static const char *ref_name(struct cfg_ctx *ctx, const struct cfg_node *m, const char *key,
                            const struct cfg_node **at) {
    *at = cfg_map_get(m, key);
    if (*at == NULL) {
        cfg_err(ctx, m, "missing required key '%s'", key);
        return NULL;
    }
    size_t saved = cfg_path_push(ctx, key);
    const char *s = cfg_scalar(ctx, *at, "a name");
    cfg_path_pop(ctx, saved);
    return s;
}

static void device_one(struct cfg_ctx *ctx, const struct cfg_node *m, struct cfg_device *d,
                       struct cfg_device_src *src) {
    src->node = m;
    if (cfg_walk(ctx, m, NULL, device_dirs, CFG_COUNT(device_dirs), d) != 0 && m->kind != CFG_N_MAP)
        return;
    src->name = cfg_map_get(m, "name");
    src->unit = cfg_map_get(m, "unit");
    src->poll = cfg_map_get(m, "poll");
    src->discover = cfg_map_get(m, "discover");
    src->availability = cfg_map_get(m, "availability");
    src->send = cfg_map_get(m, "send");
    if (src->unit == NULL)
        d->unit = -1;
    src->adapter_name = ref_name(ctx, m, "adapter", &src->adapter);
    src->profile_name = ref_name(ctx, m, "profile", &src->profile);
    if (src->name == NULL && src->discover == NULL)
        cfg_err(ctx, m,
                "missing required key 'name' (or 'discover' to find devices on MQTT "
                "topics)");
    else if (src->name != NULL && src->discover != NULL)
        cfg_err(ctx, src->discover, "give either name or discover, not both");
    if (src->availability != NULL && src->discover == NULL) {
        size_t saved = cfg_path_push(ctx, "availability");
        cfg_err(ctx, src->availability, "only discovery rules (with discover) have availability");
        cfg_path_pop(ctx, saved);
    }
    const struct cfg_node *ov = cfg_map_get(m, "overrides");
    if (ov != NULL) {
        struct cfg_resource *r = NULL;
        size_t saved = cfg_path_push(ctx, "overrides");
        cfg_resources_parse(ctx, ov, &r, &src->noverrides);
        src->overrides = r;
        cfg_path_pop(ctx, saved);
    }
}

static int devices_fn(struct cfg_ctx *ctx, const struct cfg_node *n, void *dst) {
    struct cfg *cfg = ctx->cfg;
    if (n == NULL)
        return 0;
    if (n->kind != CFG_N_SEQ) {
        cfg_err(ctx, n, "expected a sequence of devices, got %s", cfg_node_kind_name(n));
        return -EINVAL;
    }
    struct cfg_device *d = cfg_arena_alloc(ctx->arena, (n->n + 1) * sizeof(*d));
    ctx->dev_src = cfg_arena_alloc(ctx->tmp, (n->n + 1) * sizeof(*ctx->dev_src));
    if (d == NULL || ctx->dev_src == NULL) {
        ctx->oom = true;
        return -ENOMEM;
    }
    for (size_t i = 0; i < n->n; i++) {
        size_t saved = cfg_path_push_index(ctx, i);
        device_one(ctx, n->kids[i], &d[i], &ctx->dev_src[i]);
        cfg_path_pop(ctx, saved);
    }
    cfg->devices = d;
    cfg->ndevices = n->n;
    return 0;
}

/* ---- top level --------------------------------------------------------------------------------
 */

static const struct cfg_directive top_dirs[] = {
    {.name = "gateway",
     .type = CFG_D_CUSTOM,
     .offset = offsetof(struct cfg, gateway),
     .fn = gateway_fn},
    {.name = "lwm2m",
     .type = CFG_D_CUSTOM,
     .offset = offsetof(struct cfg, lwm2m),
     .flags = CFG_REQ,
     .fn = lwm2m_fn},
    {.name = "adapters", .type = CFG_D_CUSTOM, .fn = adapters_fn},
    {.name = "profiles", .type = CFG_D_CUSTOM, .fn = cfg_profiles_parse},
    {.name = "devices", .type = CFG_D_CUSTOM, .fn = devices_fn},
};

int cfg_schema_walk(struct cfg_ctx *ctx, const struct cfg_node *root) {
    static const struct cfg_node top = {.kind = CFG_N_MAP, .line = 1, .col = 1};
    ctx->root = root ? root : &top;
    return cfg_walk(ctx, ctx->root, &top, top_dirs, CFG_COUNT(top_dirs), ctx->cfg);
}
