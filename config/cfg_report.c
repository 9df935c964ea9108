/* SPDX-License-Identifier: Apache-2.0 */
/* Information reporting settings: lwm2m.notifications (CON or NON), lwm2m.store
 * (store-and-forward limits and how often its files are written) and the `send` section of
 * devices, discovery rules and profiles (LwM2M Send of some paths, on change and/or
 * periodically), including the check that every Send path names something the device's bindings
 * provide. */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cfg_internal.h"

#define FIELD_SIZE(st, f) sizeof(((st *)0)->f)
#define D(st, key, f, t, ...)                                                                      \
    { .name = key, .type = t, .offset = offsetof(st, f), .size = FIELD_SIZE(st, f), __VA_ARGS__ }
#define ENUM_OF(arr) .names = arr, .nnames = CFG_COUNT(arr)

static const char *const send_formats[] = {"senml-cbor", "senml-json"};

const char *cfg_send_format_name(enum cfg_send_format f) {
    return (unsigned)f < CFG_COUNT(send_formats) ? send_formats[f] : "?";
}

void cfg_lwm2m_path_format(const struct cfg_lwm2m_path *p, char *out, size_t cap) {
    size_t len = 0;
    if (cap == 0)
        return;
    out[0] = '\0';
    for (uint8_t i = 0; i < p->depth && len < cap; i++) {
        int w = snprintf(out + len, cap - len, "/%u", (unsigned)p->ids[i]);
        if (w < 0)
            return;
        len += (size_t)w;
    }
}

/* ---- lwm2m.notifications, lwm2m.store and lwm2m.coap
 * ---------------------------------------------------- */

static const struct cfg_directive notif_dirs[] = {
    D(struct cfg_notifications, "con", con, CFG_D_BOOL, .def = "false"),
    D(struct cfg_notifications, "con_every", con_every, CFG_D_UINT, .def = "16", .min = 1,
      .max = 65535),
};

int cfg_notifications_fn(struct cfg_ctx *ctx, const struct cfg_node *n, void *dst) {
    return cfg_walk(ctx, n, NULL, notif_dirs, CFG_COUNT(notif_dirs), dst);
}

static const struct cfg_directive store_dirs[] = {
    D(struct cfg_store, "enabled", enabled, CFG_D_BOOL, .def = "false"),
    D(struct cfg_store, "max_entries", max_entries, CFG_D_UINT, .def = "1000", .min = 1,
      .max = 1000000),
    D(struct cfg_store, "max_bytes", max_bytes, CFG_D_UINT, .def = "262144", .min = 1024,
      .max = 1073741824),
    D(struct cfg_store, "sync", sync_ms, CFG_D_DURATION, .def = "1s", .min = 10, .max = 3600000),
};

int cfg_store_fn(struct cfg_ctx *ctx, const struct cfg_node *n, void *dst) {
    return cfg_walk(ctx, n, NULL, store_dirs, CFG_COUNT(store_dirs), dst);
}

static const struct cfg_directive coap_dirs[] = {
    D(struct cfg_coap, "ack_timeout", ack_timeout_ms, CFG_D_DURATION, .def = "2s", .min = 100,
      .max = 60000),
    D(struct cfg_coap, "max_retransmit", max_retransmit, CFG_D_UINT, .def = "4", .min = 0,
      .max = 10),
};

int cfg_coap_fn(struct cfg_ctx *ctx, const struct cfg_node *n, void *dst) {
    return cfg_walk(ctx, n, NULL, coap_dirs, CFG_COUNT(coap_dirs), dst);
}

/* ---- send ------------------------------------------------------------------------------------ */

/* "/3303/0/5700": 1 to 4 ids, each 0..65534, after a leading slash. */
static int path_parse(const char *s, struct cfg_lwm2m_path *p) {
    memset(p, 0, sizeof(*p));
    if (*s != '/')
        return -EINVAL;
    while (*s == '/') {
        s++;
        if (!isdigit((unsigned char)*s) || p->depth == 4)
            return -EINVAL;
        char *end;
        long v = strtol(s, &end, 10);
        if (v > 65534 || (end - s > 1 && *s == '0'))
            return -EINVAL;
        p->ids[p->depth++] = (uint16_t)v;
        s = end;
    }
    return *s == '\0' ? 0 : -EINVAL;
}

static int paths_fn(struct cfg_ctx *ctx, const struct cfg_node *n, void *dst) {
    struct cfg_send *snd = dst;
    if (n == NULL)
        return 0;
    if (n->kind != CFG_N_SEQ || n->n == 0) {
        cfg_err(ctx, n, "expected a list of LwM2M paths like [/3303/0/5700], got %s",
                n->kind == CFG_N_SEQ ? "an empty list" : cfg_node_kind_name(n));
        return -EINVAL;
    }
    struct cfg_lwm2m_path *paths = cfg_arena_alloc(ctx->arena, n->n * sizeof(*paths));
    if (paths == NULL) {
        ctx->oom = true;
        return -ENOMEM;
    }
    int rc = 0;
    for (size_t i = 0; i < n->n; i++) {
        size_t saved = cfg_path_push_index(ctx, i);
        const char *s = cfg_scalar(ctx, n->kids[i], "an LwM2M path");
        if (s != NULL && path_parse(s, &paths[i]) != 0) {
            cfg_err(ctx, n->kids[i],
                    "expected an LwM2M path like /3303/0/5700 (1 to 4 ids 0..65534), got '%s'", s);
            rc = -EINVAL;
        } else if (s == NULL) {
            rc = -EINVAL;
        }
        cfg_path_pop(ctx, saved);
    }
    snd->paths = paths;
    snd->npaths = n->n;
    return rc;
}

static const struct cfg_directive send_dirs[] = {
    {.name = "paths", .type = CFG_D_CUSTOM, .flags = CFG_REQ, .fn = paths_fn},
    D(struct cfg_send, "on_change", on_change, CFG_D_BOOL, .def = "true"),
    D(struct cfg_send, "period", period_s, CFG_D_SECONDS, .min = 1, .max = 86400),
    D(struct cfg_send, "format", format, CFG_D_ENUM, .def = "senml-cbor", ENUM_OF(send_formats)),
};

int cfg_send_fn(struct cfg_ctx *ctx, const struct cfg_node *n, void *dst) {
    struct cfg_send *snd = dst;
    if (n == NULL)
        return 0;
    int rc = cfg_walk(ctx, n, NULL, send_dirs, CFG_COUNT(send_dirs), snd);
    if (rc == 0 && !snd->on_change && snd->period_s == 0) {
        cfg_err(ctx, n, "sends nothing: set on_change: true or a period");
        rc = -EINVAL;
    }
    if (rc != 0) {
        snd->paths = NULL; /* nothing half-parsed is used, nor checked against bindings */
        snd->npaths = 0;
    }
    return rc;
}

/* True when a resource of res[0..n) is p or lies under it. */
static bool bound(const struct cfg_lwm2m_path *p, const struct cfg_resource *res, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint16_t ids[3] = {res[i].obj, res[i].inst, res[i].res};
        bool match = true;
        for (uint8_t k = 0; k < p->depth && k < 3 && match; k++)
            match = ids[k] == p->ids[k];
        if (match)
            return true;
    }
    return false;
}

void cfg_send_check(struct cfg_ctx *ctx, const struct cfg_node *send, const struct cfg_send *snd,
                    const struct cfg_resource *res, size_t nres, const char *who) {
    const struct cfg_node *pn = cfg_map_get(send, "paths");
    for (size_t i = 0; i < snd->npaths; i++) {
        if (bound(&snd->paths[i], res, nres))
            continue;
        char path[40];
        cfg_lwm2m_path_format(&snd->paths[i], path, sizeof(path));
        size_t saved = cfg_path_push(ctx, "send");
        cfg_path_push(ctx, "paths");
        cfg_path_push_index(ctx, i);
        cfg_err(ctx, pn != NULL && i < pn->n ? pn->kids[i] : send,
                "%s binds no resource at %s (a Send path must name a bound resource, or an "
                "object or instance holding one)",
                who, path);
        cfg_path_pop(ctx, saved);
    }
}
