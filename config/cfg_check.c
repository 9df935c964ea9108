/* SPDX-License-Identifier: Apache-2.0 */
/* Cross-reference validation, run once every section parsed cleanly: devices name existing
 * adapters and profiles whose bindings fit the adapter, units and poll periods fit the bus, device
 * names and expanded endpoint names are unique, discovery patterns name the device. Also merges a
 * device's overrides into its profile's resources. */
#include <errno.h>
#include <string.h>

#include "cfg_internal.h"

/* "expected one of: a, b" over the names of an array of structs with a `name` field. */
#define NAME_LIST(arr, n, out)                                                                     \
    do {                                                                                           \
        const char *names_[32];                                                                    \
        size_t k_ = 0;                                                                             \
        for (; k_ < (n) && k_ < 32; k_++)                                                          \
            names_[k_] = (arr)[k_].name;                                                           \
        cfg_join(names_, k_, out, sizeof(out));                                                    \
        if ((n) == 0)                                                                              \
            snprintf(out, sizeof(out), "none defined");                                            \
    } while (0)

static void resolve_refs(struct cfg_ctx *ctx, struct cfg_device *d,
                         const struct cfg_device_src *src) {
    const struct cfg *cfg = ctx->cfg;
    char list[256];
    d->adapter = src->adapter_name ? cfg_adapter_find(cfg, src->adapter_name) : NULL;
    if (src->adapter_name != NULL && d->adapter == NULL) {
        NAME_LIST(cfg->adapters, cfg->nadapters, list);
        size_t saved = cfg_path_push(ctx, "adapter");
        cfg_err(ctx, src->adapter, "unknown adapter '%s' (expected one of: %s)", src->adapter_name,
                list);
        cfg_path_pop(ctx, saved);
    }
    d->profile = src->profile_name ? cfg_profile_find(cfg, src->profile_name) : NULL;
    if (src->profile_name != NULL && d->profile == NULL) {
        NAME_LIST(cfg->profiles, cfg->nprofiles, list);
        size_t saved = cfg_path_push(ctx, "profile");
        cfg_err(ctx, src->profile, "unknown profile '%s' (expected one of: %s)", src->profile_name,
                list);
        cfg_path_pop(ctx, saved);
    }
}

static uint64_t res_key(const struct cfg_resource *r) {
    return (uint64_t)r->obj << 32 | (uint64_t)r->inst << 16 | r->res;
}

/* The profile's resources with the overrides replacing or adding entries (both sorted). */
static void merge_overrides(struct cfg_ctx *ctx, struct cfg_device *d,
                            const struct cfg_device_src *src) {
    const struct cfg_profile *p = d->profile;
    if (src->noverrides == 0) {
        d->res = p->res;
        d->nres = p->nres;
        return;
    }
    struct cfg_resource *m = cfg_arena_alloc(ctx->arena, (p->nres + src->noverrides) * sizeof(*m));
    if (m == NULL) {
        ctx->oom = true;
        return;
    }
    size_t i = 0, j = 0, n = 0;
    while (i < p->nres || j < src->noverrides) {
        const struct cfg_resource *a = i < p->nres ? &p->res[i] : NULL;
        const struct cfg_resource *b = j < src->noverrides ? &src->overrides[j] : NULL;
        int c = !a ? 1 : !b ? -1 : (res_key(a) > res_key(b)) - (res_key(a) < res_key(b));
        if (c < 0) {
            m[n++] = *a;
            i++;
        } else {
            m[n++] = *b;
            j++;
            i += c == 0;
        }
    }
    d->res = m;
    d->nres = n;
}

/* Which bus the bindings need, against the adapter's type. */
static void check_fit(struct cfg_ctx *ctx, const struct cfg_device *d,
                      const struct cfg_device_src *src) {
    bool mqtt = d->adapter->type == CFG_ADAPTER_MQTT;
    for (size_t i = 0; i < d->nres; i++) {
        enum cfg_binding_kind k = d->res[i].b.kind;
        if ((k == CFG_BIND_MODBUS && mqtt) || (k == CFG_BIND_MQTT && !mqtt)) {
            size_t saved = cfg_path_push(ctx, "profile");
            cfg_err(ctx, src->profile,
                    "profile '%s' binds /%u/%u/%u to %s, which adapter '%s' (%s) cannot serve",
                    d->profile->name, (unsigned)d->res[i].obj, (unsigned)d->res[i].inst,
                    (unsigned)d->res[i].res, k == CFG_BIND_MQTT ? "an MQTT topic" : "Modbus",
                    d->adapter->name, cfg_adapter_type_name(d->adapter->type));
            cfg_path_pop(ctx, saved);
            return;
        }
    }
}

static void key_err(struct cfg_ctx *ctx, const struct cfg_node *at, const char *key,
                    const char *msg) {
    size_t saved = cfg_path_push(ctx, key);
    cfg_err(ctx, at, "%s", msg);
    cfg_path_pop(ctx, saved);
}

static void check_bus(struct cfg_ctx *ctx, struct cfg_device *d, const struct cfg_device_src *src) {
    const struct cfg_adapter *a = d->adapter;
    if (a->type == CFG_ADAPTER_MQTT) {
        if (src->unit != NULL)
            key_err(ctx, src->unit, "unit", "only Modbus devices have a unit");
        if (src->poll != NULL)
            key_err(ctx, src->poll, "poll",
                    "only Modbus devices are polled (MQTT devices publish by themselves)");
        return;
    }
    if (src->discover != NULL) {
        char msg[160];
        snprintf(msg, sizeof(msg), "discovery needs an mqtt adapter, '%s' is %s", a->name,
                 cfg_adapter_type_name(a->type));
        key_err(ctx, src->discover, "discover", msg);
        return;
    }
    if (d->unit < 0)
        d->unit = 1;
    if (a->type == CFG_ADAPTER_MODBUS_RTU && (d->unit < 1 || d->unit > 247)) {
        char msg[96];
        snprintf(msg, sizeof(msg), "expected a unit 1..247 on a serial line, got %d", (int)d->unit);
        key_err(ctx, src->unit, "unit", msg);
    }
    if (d->poll_ms == 0)
        d->poll_ms = a->poll_ms;
}

/* The device's own `send` must name bound resources (overrides included); without one the
 * profile's applies (checked against the profile, which overrides can only extend). */
static void resolve_send(struct cfg_ctx *ctx, struct cfg_device *d,
                         const struct cfg_device_src *src) {
    if (src->send == NULL) {
        d->send = d->profile->send;
        return;
    }
    char who[96];
    if (d->name != NULL)
        snprintf(who, sizeof(who), "device '%s' (profile '%s')", d->name, d->profile->name);
    else
        snprintf(who, sizeof(who), "profile '%s'", d->profile->name);
    cfg_send_check(ctx, src->send, &d->send, d->res, d->nres, who);
}

/* A discover pattern: MQTT filter syntax where {device} (or else the first +) names the device. */
static void check_discover(struct cfg_ctx *ctx, struct cfg_device *d,
                           const struct cfg_device_src *src) {
    const char *p = d->discover;
    size_t len = strlen(p), level = 0, named = 0;
    int name_level = -1, first_plus = -1;
    bool ok = len > 0;
    char *filter = cfg_arena_alloc(ctx->arena, len + 1);
    size_t fl = 0;
    if (filter == NULL) {
        ctx->oom = true;
        return;
    }
    for (const char *s = p; ok && *s;) {
        size_t l = strcspn(s, "/");
        bool last = s[l] == '\0';
        if (l == 8 && memcmp(s, "{device}", 8) == 0) {
            name_level = (int)level;
            named++;
            filter[fl++] = '+';
        } else if (l == 1 && s[0] == '+') {
            if (first_plus < 0)
                first_plus = (int)level;
            filter[fl++] = '+';
        } else if (l == 1 && s[0] == '#') {
            ok = last;
            filter[fl++] = '#';
        } else {
            ok = strcspn(s, "+#{}") >= l;
            memcpy(filter + fl, s, l);
            fl += l;
        }
        if (!last)
            filter[fl++] = '/';
        s += l + !last;
        level++;
    }
    if (name_level < 0)
        name_level = first_plus;
    if (!ok || named > 1 || name_level < 0) {
        key_err(ctx, src->discover, "discover",
                named > 1 ? "{device} may appear only once in a discover pattern"
                          : "expected a topic pattern where {device} or a + level names the "
                            "device, like sensors/{device}/state");
        return;
    }
    filter[fl] = '\0';
    d->discover_filter = filter;
    d->discover_level = (uint16_t)name_level;
}

/* An availability template: a topic name (no wildcards: it names one device's topic) where
 * {device} appears at least once; the adapter subscribes with {device} as +. */
static void check_availability(struct cfg_ctx *ctx, const struct cfg_device *d,
                               const struct cfg_device_src *src) {
    const char *p = d->availability;
    bool named = false, ok = p[0] != '\0';
    for (const char *s = p; ok && *s;) {
        if (strncmp(s, "{device}", 8) == 0) {
            named = true;
            s += 8;
        } else {
            ok = strchr("+#{}", *s) == NULL;
            s++;
        }
    }
    if (!ok || !named)
        key_err(ctx, src->availability, "availability",
                "expected a topic with {device} and no wildcards, like "
                "sensors/{device}/availability");
}

/* Expands the endpoint name of a configured device and checks it is unique. */
static void check_endpoint(struct cfg_ctx *ctx, size_t i) {
    struct cfg *cfg = ctx->cfg;
    struct cfg_device *devs = (struct cfg_device *)cfg->devices, *d = &devs[i];
    char ep[256];
    int rc = cfg_template_expand(cfg->lwm2m.endpoint_name, cfg->gateway.id, d->name, d->unit, ep,
                                 sizeof(ep));
    if (rc == -ENOSPC) {
        cfg_err(ctx, ctx->dev_src[i].node, "endpoint name from '%s' is longer than 255 bytes",
                cfg->lwm2m.endpoint_name);
        return;
    }
    if (rc < 0) {
        cfg_err(ctx, ctx->dev_src[i].node,
                "endpoint name template '%s' uses {unit}, but this device has no unit",
                cfg->lwm2m.endpoint_name);
        return;
    }
    d->endpoint = cfg_arena_strndup(ctx->arena, ep, (size_t)rc);
    for (size_t j = 0; j < i; j++) {
        if (devs[j].endpoint != NULL && strcmp(devs[j].endpoint, ep) == 0) {
            cfg_err(ctx, ctx->dev_src[i].node,
                    "endpoint name '%s' is already used by device '%s' (make "
                    "lwm2m.endpoint_name tell them apart)",
                    ep, devs[j].name);
            return;
        }
    }
}

static bool check_names(struct cfg_ctx *ctx, size_t i) {
    const struct cfg_device *devs = ctx->cfg->devices;
    for (size_t j = 0; j < i; j++) {
        if (devs[j].name != NULL && strcmp(devs[j].name, devs[i].name) == 0) {
            const struct cfg_node *first = ctx->dev_src[j].name;
            char msg[160];
            snprintf(msg, sizeof(msg), "duplicate device name '%s' (first at %u:%u)", devs[i].name,
                     (unsigned)first->line, (unsigned)first->col);
            key_err(ctx, ctx->dev_src[i].name, "name", msg);
            return false;
        }
    }
    return true;
}

/* Gateway mode has one endpoint, so one DTLS identity per server: {device} names nothing. */
static void check_gateway_identities(struct cfg_ctx *ctx) {
    const struct cfg_lwm2m *l = &ctx->cfg->lwm2m;
    const struct cfg_node *srvs = cfg_map_get(cfg_map_get(ctx->root, "lwm2m"), "servers");
    for (size_t i = 0; i < l->nservers; i++) {
        const char *id = l->servers[i].security.identity;
        if (id == NULL || strstr(id, "{device}") == NULL)
            continue;
        const struct cfg_node *item =
            srvs != NULL && srvs->kind == CFG_N_SEQ && i < srvs->n ? srvs->kids[i] : NULL;
        const struct cfg_node *sec = cfg_map_get(item, "security");
        const struct cfg_node *at = cfg_map_get(sec, "identity");
        size_t saved = cfg_path_push(ctx, "lwm2m");
        cfg_path_push(ctx, "servers");
        cfg_path_push_index(ctx, i);
        cfg_path_push(ctx, "security");
        key_err(ctx, at != NULL ? at : ctx->root, "identity",
                "in gateway mode there is one endpoint for the gateway: {device} cannot be used");
        cfg_path_pop(ctx, saved);
    }
}

static void check_gateway_mode(struct cfg_ctx *ctx) {
    struct cfg *cfg = ctx->cfg;
    char ep[256];
    int rc =
        cfg_template_expand(cfg->lwm2m.endpoint_name, cfg->gateway.id, NULL, -1, ep, sizeof(ep));
    if (rc < 0) {
        const struct cfg_node *l = cfg_map_get(ctx->root, "lwm2m");
        const struct cfg_node *at = cfg_map_get(l, "endpoint_name");
        size_t saved = cfg_path_push(ctx, "lwm2m");
        key_err(ctx, at ? at : l, "endpoint_name",
                rc == -ENOSPC ? "the endpoint name is longer than 255 bytes"
                              : "in gateway mode there is one endpoint for the gateway: "
                                "{device} and {unit} cannot be used");
        cfg_path_pop(ctx, saved);
        return;
    }
    check_gateway_identities(ctx);
    const char *gw_ep = cfg_arena_strndup(ctx->arena, ep, (size_t)rc);
    struct cfg_device *devs = (struct cfg_device *)cfg->devices;
    for (size_t i = 0; i < cfg->ndevices; i++)
        if (devs[i].name != NULL)
            devs[i].endpoint = gw_ep;
}

int cfg_check(struct cfg_ctx *ctx) {
    struct cfg *cfg = ctx->cfg;
    struct cfg_device *devs = (struct cfg_device *)cfg->devices;
    size_t before = ctx->errs->n + ctx->errs->dropped;
    for (size_t i = 0; i < cfg->ndevices; i++) {
        struct cfg_device *d = &devs[i];
        const struct cfg_device_src *src = &ctx->dev_src[i];
        size_t saved = cfg_path_push(ctx, "devices");
        cfg_path_push_index(ctx, i);
        resolve_refs(ctx, d, src);
        if (d->adapter != NULL && d->profile != NULL) {
            merge_overrides(ctx, d, src);
            check_fit(ctx, d, src);
            check_bus(ctx, d, src);
            resolve_send(ctx, d, src);
        }
        if (d->discover != NULL && d->adapter != NULL && d->adapter->type == CFG_ADAPTER_MQTT)
            check_discover(ctx, d, src);
        if (d->availability != NULL && d->discover != NULL && d->adapter != NULL &&
            d->adapter->type == CFG_ADAPTER_MQTT)
            check_availability(ctx, d, src);
        if (d->name != NULL) {
            /* a duplicate name would only repeat itself as a duplicate endpoint */
            if (check_names(ctx, i) && cfg->lwm2m.mode == CFG_MODE_ENDPOINT_PER_DEVICE)
                check_endpoint(ctx, i);
        }
        cfg_path_pop(ctx, saved);
    }
    if (cfg->lwm2m.mode == CFG_MODE_GATEWAY)
        check_gateway_mode(ctx);
    return ctx->errs->n + ctx->errs->dropped > before ? -EINVAL : 0;
}
