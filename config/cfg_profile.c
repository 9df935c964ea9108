/* SPDX-License-Identifier: Apache-2.0 */
/* Profiles: object id -> instance id -> resource id -> binding, and the three binding kinds
 * (Modbus register/bit, MQTT topic + JSON pointer, constant). Also parses a device's `overrides`,
 * which have the same shape. The Modbus grammar ("holding:0", "string(8)") is checked here so a
 * bad binding is reported where it is written, not once per device that uses it. */
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

/* ---- Modbus -----------------------------------------------------------------------------------
 */

static int ref_fn(struct cfg_ctx *ctx, const struct cfg_node *n, void *dst) {
    struct cfg_mb_ref *r = dst;
    if (n == NULL)
        return 0;
    const char *s = cfg_scalar(ctx, n, "table:address like holding:0");
    if (s == NULL)
        return -EINVAL;
    const char *colon = strchr(s, ':');
    if (colon == NULL || colon == s || colon[1] == '\0') {
        cfg_err(ctx, n,
                "expected table:address like holding:0 (tables: coil, discrete, input, "
                "holding), got '%s'",
                s);
        return -EINVAL;
    }
    char table[16];
    snprintf(table, sizeof(table), "%.*s", (int)((size_t)(colon - s) < 15 ? colon - s : 15), s);
    int t;
    if (cfg_parse_enum(ctx, n, table, "table", cfg_mb_table_names, 4, &t) != 0)
        return -EINVAL;
    char *end;
    const char *num = colon + 1;
    long a = isdigit((unsigned char)num[0]) ? strtol(num, &end, 0) : -1;
    if (a < 0 || a > 65535 || *end != '\0') {
        cfg_err(ctx, n, "expected an address 0..65535 after '%s:', got '%s'", table, num);
        return -EINVAL;
    }
    r->set = true;
    r->table = (enum cfg_mb_table)t;
    r->addr = (uint16_t)a;
    return 0;
}

/* "bool", "float32", "string(N)", "bit(N)"; sets type_arg too (dst is the binding). */
static int type_fn(struct cfg_ctx *ctx, const struct cfg_node *n, void *dst) {
    struct cfg_modbus_binding *b = dst;
    if (n == NULL)
        return 0;
    const char *s = cfg_scalar(ctx, n, "a Modbus value type");
    if (s == NULL)
        return -EINVAL;
    for (int i = 0; i < (int)CFG_COUNT(cfg_mb_type_names); i++) {
        const char *name = cfg_mb_type_names[i];
        size_t len = strlen(name);
        bool arg = i == CFG_MB_STRING || i == CFG_MB_BIT;
        if (strncmp(s, name, len) != 0)
            continue;
        if (!arg && s[len] == '\0') {
            b->type = (enum cfg_mb_type)i;
            return 0;
        }
        char *end;
        long v = arg && s[len] == '(' && isdigit((unsigned char)s[len + 1])
                     ? strtol(s + len + 1, &end, 10)
                     : -1;
        if (v >= 0 && end[0] == ')' && end[1] == '\0') {
            long lo = i == CFG_MB_STRING ? 1 : 0, hi = i == CFG_MB_STRING ? 250 : 15;
            if (v < lo || v > hi) {
                cfg_err(ctx, n, "%s(N) needs N in %ld..%ld, got '%s'", name, lo, hi, s);
                return -EINVAL;
            }
            b->type = (enum cfg_mb_type)i;
            b->type_arg = (uint16_t)v;
            return 0;
        }
    }
    cfg_err(ctx, n,
            "expected a type: bool, int16, uint16, int32, uint32, int64, uint64, float32, "
            "float64, string(N) or bit(N), got '%s'",
            s);
    return -EINVAL;
}

#define MB(key, f, t, ...) D(struct cfg_modbus_binding, key, f, t, __VA_ARGS__)
static const struct cfg_directive modbus_dirs[] = {
    {.name = "read",
     .type = CFG_D_CUSTOM,
     .offset = offsetof(struct cfg_modbus_binding, read),
     .fn = ref_fn},
    {.name = "write",
     .type = CFG_D_CUSTOM,
     .offset = offsetof(struct cfg_modbus_binding, write),
     .fn = ref_fn},
    {.name = "type", .type = CFG_D_CUSTOM, .fn = type_fn},
    MB("order", order, CFG_D_ENUM, .def = "ABCD", ENUM_OF(cfg_mb_order_names)),
    MB("scale", scale, CFG_D_FLOAT, .def = "1"),
    MB("offset", offset, CFG_D_FLOAT, .def = "0"),
    MB("readback", readback, CFG_D_BOOL, .def = "true"),
};

static bool is_bit_table(enum cfg_mb_table t) {
    return t == CFG_MB_COIL || t == CFG_MB_DISCRETE;
}

static uint16_t type_count(const struct cfg_modbus_binding *b) {
    switch (b->type) {
    case CFG_MB_INT32:
    case CFG_MB_UINT32:
    case CFG_MB_FLOAT32:
        return 2;
    case CFG_MB_INT64:
    case CFG_MB_UINT64:
    case CFG_MB_FLOAT64:
        return 4;
    case CFG_MB_STRING:
        return (uint16_t)((b->type_arg + 1) / 2);
    case CFG_MB_BOOL:
    case CFG_MB_INT16:
    case CFG_MB_UINT16:
    case CFG_MB_BIT:
    default:
        return 1;
    }
}

/* The rules between keys: writable tables, bit vs register tables, the span within 65536. */
static void modbus_post(struct cfg_ctx *ctx, const struct cfg_node *m,
                        struct cfg_modbus_binding *b) {
    const struct cfg_mb_ref *main = b->read.set ? &b->read : &b->write;
    const struct cfg_node *wn = cfg_map_get(m, "write"), *tn = cfg_map_get(m, "type");
    if (!b->read.set && !b->write.set)
        return; /* a ref that failed to parse was reported */
    if (b->write.set && !(b->write.table == CFG_MB_COIL || b->write.table == CFG_MB_HOLDING)) {
        size_t saved = cfg_path_push(ctx, "write");
        cfg_err(ctx, wn, "%s is read-only: write to coil:N or holding:N",
                cfg_mb_table_name(b->write.table));
        cfg_path_pop(ctx, saved);
    }
    if (b->read.set && b->write.set &&
        is_bit_table(b->read.table) != is_bit_table(b->write.table)) {
        size_t saved = cfg_path_push(ctx, "write");
        cfg_err(ctx, wn,
                "read is a %s table but write is a %s table (both must hold bits or both "
                "registers)",
                is_bit_table(b->read.table) ? "bit" : "register",
                is_bit_table(b->write.table) ? "bit" : "register");
        cfg_path_pop(ctx, saved);
    }
    if (tn == NULL)
        b->type = is_bit_table(main->table) ? CFG_MB_BOOL : CFG_MB_UINT16;
    if (is_bit_table(main->table) && b->type != CFG_MB_BOOL) {
        size_t saved = cfg_path_push(ctx, "type");
        cfg_err(ctx, tn, "a %s holds one bit: the type must be bool, got '%s'",
                cfg_mb_table_name(main->table), cfg_mb_type_name(b->type));
        cfg_path_pop(ctx, saved);
    }
    b->count = type_count(b);
    const struct cfg_mb_ref *refs[2] = {&b->read, &b->write};
    for (int i = 0; i < 2; i++)
        if (refs[i]->set && (uint32_t)refs[i]->addr + b->count > 65536u)
            cfg_err(ctx, m, "%s %s:%u spans %u registers, past the last address 65535",
                    cfg_mb_type_name(b->type), cfg_mb_table_name(refs[i]->table),
                    (unsigned)refs[i]->addr, (unsigned)b->count);
}

/* ---- MQTT -------------------------------------------------------------------------------------
 */

struct mq_raw {
    struct cfg_mqtt_binding b;
    int format;
};

static int json_pointer_check(struct cfg_ctx *ctx, const struct cfg_node *n, const char *p) {
    bool ok = p[0] == '\0' || p[0] == '/';
    for (const char *t = strchr(p, '~'); ok && t != NULL; t = strchr(t + 1, '~'))
        ok = t[1] == '0' || t[1] == '1';
    if (!ok)
        cfg_err(ctx, n, "expected a JSON pointer like /temperature or /data/0/value, got '%s'", p);
    return ok ? 0 : -EINVAL;
}

static int topic_check(struct cfg_ctx *ctx, const struct cfg_node *n, const char *t) {
    if (t[0] == '\0' || strpbrk(t, "+#") != NULL) {
        cfg_err(ctx, n,
                "expected a topic without wildcards (+ and # belong in a device's "
                "discover pattern), got '%s'",
                t);
        return -EINVAL;
    }
    return cfg_template_check(ctx, n, t, CFG_TPL_GATEWAY | CFG_TPL_DEVICE);
}

#define MW(key, f, t, ...) D(struct cfg_mqtt_binding, key, write.f, t, __VA_ARGS__)
static const struct cfg_directive mqtt_write_dirs[] = {
    MW("topic", topic, CFG_D_STR, .flags = CFG_REQ),
    MW("json", json, CFG_D_STR),
    MW("qos", qos, CFG_D_UINT, .def = "0", .min = 0, .max = 2),
    MW("retain", retain, CFG_D_BOOL, .def = "false"),
    MW("format", format, CFG_D_ENUM, .def = "text", ENUM_OF(cfg_mq_format_names)),
};

/* json implies the json format unless another one is written (and then it is an error). */
static void format_post(struct cfg_ctx *ctx, const struct cfg_node *m, const char *json,
                        enum cfg_mq_format *f) {
    const struct cfg_node *fn = cfg_map_get(m, "format");
    if (json == NULL)
        return;
    size_t saved = cfg_path_push(ctx, "json");
    json_pointer_check(ctx, cfg_map_get(m, "json"), json);
    cfg_path_pop(ctx, saved);
    if (fn == NULL)
        *f = CFG_MQ_JSON;
    else if (*f != CFG_MQ_JSON) {
        saved = cfg_path_push(ctx, "format");
        cfg_err(ctx, fn, "a json pointer needs format json, got format %s", cfg_mq_format_name(*f));
        cfg_path_pop(ctx, saved);
    }
}

static int mqtt_write_fn(struct cfg_ctx *ctx, const struct cfg_node *n, void *dst) {
    struct cfg_mqtt_binding *b = dst;
    if (n == NULL)
        return 0;
    if (cfg_walk(ctx, n, NULL, mqtt_write_dirs, CFG_COUNT(mqtt_write_dirs), b) != 0)
        return -EINVAL;
    b->has_write = true;
    size_t saved = cfg_path_push(ctx, "topic");
    topic_check(ctx, cfg_map_get(n, "topic"), b->write.topic);
    cfg_path_pop(ctx, saved);
    format_post(ctx, n, b->write.json, &b->write.format);
    return 0;
}

#define MQ(key, f, t, ...) D(struct cfg_mqtt_binding, key, f, t, __VA_ARGS__)
static const struct cfg_directive mqtt_dirs[] = {
    MQ("topic", topic, CFG_D_STR),
    MQ("json", json, CFG_D_STR),
    MQ("format", format, CFG_D_ENUM, .def = "text", ENUM_OF(cfg_mq_format_names)),
    MQ("qos", qos, CFG_D_UINT, .min = 0, .max = 2),
    {.name = "write", .type = CFG_D_CUSTOM, .fn = mqtt_write_fn},
};

static void mqtt_post(struct cfg_ctx *ctx, const struct cfg_node *m, struct cfg_mqtt_binding *b) {
    const struct cfg_node *q = cfg_map_get(m, "qos");
    b->has_qos = q != NULL;
    if (q != NULL && b->topic == NULL) {
        size_t saved = cfg_path_push(ctx, "qos");
        cfg_err(ctx, q, "qos is the subscription QoS of `topic`, and this binding has none");
        cfg_path_pop(ctx, saved);
    }
    if (b->topic != NULL) {
        size_t saved = cfg_path_push(ctx, "topic");
        topic_check(ctx, cfg_map_get(m, "topic"), b->topic);
        cfg_path_pop(ctx, saved);
    }
    format_post(ctx, m, b->json, &b->format);
}

/* ---- bindings ---------------------------------------------------------------------------------
 */

static const struct cfg_directive const_dirs[] = {
    {.name = "value", .type = CFG_D_STR, .offset = 0, .flags = CFG_REQ},
};

static int binding_parse(struct cfg_ctx *ctx, const struct cfg_node *n, struct cfg_binding *b) {
    if (n->kind == CFG_N_SCALAR) { /* shorthand for { value: X } */
        b->kind = CFG_BIND_CONST;
        b->u.value = cfg_scalar(ctx, n, "a value");
        return b->u.value ? 0 : -EINVAL;
    }
    if (n->kind != CFG_N_MAP) {
        cfg_err(ctx, n, "expected a binding (a mapping with read/write, topic or value), got %s",
                cfg_node_kind_name(n));
        return -EINVAL;
    }
    if (cfg_map_get(n, "topic") != NULL ||
        (cfg_map_get(n, "write") && cfg_map_get(n, "write")->kind == CFG_N_MAP)) {
        b->kind = CFG_BIND_MQTT;
        if (cfg_walk(ctx, n, NULL, mqtt_dirs, CFG_COUNT(mqtt_dirs), &b->u.mqtt) == 0)
            mqtt_post(ctx, n, &b->u.mqtt);
    } else if (cfg_map_get(n, "value") != NULL) {
        b->kind = CFG_BIND_CONST;
        cfg_walk(ctx, n, NULL, const_dirs, CFG_COUNT(const_dirs), &b->u.value);
    } else if (cfg_map_get(n, "read") != NULL || cfg_map_get(n, "write") != NULL) {
        b->kind = CFG_BIND_MODBUS;
        if (cfg_walk(ctx, n, NULL, modbus_dirs, CFG_COUNT(modbus_dirs), &b->u.modbus) == 0)
            modbus_post(ctx, n, &b->u.modbus);
    } else {
        /* No key says which kind: suggest from every binding key, the likeliest typo target. */
        static const char *const all[] = {"read",     "write", "type", "order",  "scale", "offset",
                                          "readback", "topic", "json", "format", "qos",   "value"};
        for (size_t i = 0; i < n->n; i++) {
            const struct cfg_node *k = n->kids[2 * i];
            const char *s = k->kind == CFG_N_SCALAR ? cfg_suggest(k->s, all, CFG_COUNT(all)) : NULL;
            if (s != NULL && strcmp(s, k->s) != 0) {
                size_t saved = cfg_path_push(ctx, k->s);
                cfg_err(ctx, k, "unknown key (did you mean '%s'?)", s);
                cfg_path_pop(ctx, saved);
                return -EINVAL;
            }
        }
        cfg_err(ctx, n,
                "expected a binding: read/write (Modbus), topic (MQTT) or value "
                "(constant)");
        return -EINVAL;
    }
    return 0;
}

/* ---- object -> instance -> resource -----------------------------------------------------------
 */

struct res_vec {
    struct cfg_resource *v;
    size_t n, cap;
    bool oom;
};

static struct cfg_resource *res_add(struct res_vec *rv) {
    if (rv->n == rv->cap) {
        size_t cap = rv->cap ? rv->cap * 2 : 16;
        struct cfg_resource *v = realloc(rv->v, cap * sizeof(*v));
        if (v == NULL) {
            rv->oom = true;
            return NULL;
        }
        rv->v = v;
        rv->cap = cap;
    }
    struct cfg_resource *r = &rv->v[rv->n++];
    memset(r, 0, sizeof(*r));
    return r;
}

static int id_key(struct cfg_ctx *ctx, const struct cfg_node *k, const char *what, uint16_t *id) {
    char *end;
    long v =
        k->kind == CFG_N_SCALAR && isdigit((unsigned char)k->s[0]) ? strtol(k->s, &end, 10) : -1;
    if (v < 0 || v > 65534 || *end != '\0') {
        cfg_err(ctx, k, "expected %s id 0..65534, got %s%s%s", what,
                k->kind == CFG_N_SCALAR ? "'" : "", k->kind == CFG_N_SCALAR ? k->s : "a mapping",
                k->kind == CFG_N_SCALAR ? "'" : "");
        return -EINVAL;
    }
    *id = (uint16_t)v;
    return 0;
}

static bool level_is_map(struct cfg_ctx *ctx, const struct cfg_node *n, const char *what) {
    if (n->kind == CFG_N_MAP && n->n > 0)
        return true;
    cfg_err(ctx, n, "expected a mapping of %s ids, got %s", what,
            n->kind == CFG_N_MAP ? "an empty mapping" : cfg_node_kind_name(n));
    return false;
}

static const char *key_text(const struct cfg_node *k) {
    return k->kind == CFG_N_SCALAR ? k->s : "?";
}

static void parse_level(struct cfg_ctx *ctx, const struct cfg_node *n, int depth, uint16_t ids[3],
                        struct res_vec *rv) {
    static const char *const what[] = {"object", "instance", "resource"};
    if (!level_is_map(ctx, n, what[depth]))
        return;
    for (size_t i = 0; i < n->n && !rv->oom; i++) {
        const struct cfg_node *k = n->kids[2 * i], *v = n->kids[2 * i + 1];
        size_t saved = cfg_path_push(ctx, key_text(k));
        if (id_key(ctx, k,
                   depth == 0   ? "an object"
                   : depth == 1 ? "an instance"
                                : "a resource",
                   &ids[depth]) == 0) {
            if (depth < 2) {
                parse_level(ctx, v, depth + 1, ids, rv);
            } else {
                struct cfg_resource *r = res_add(rv);
                if (r != NULL) {
                    r->obj = ids[0];
                    r->inst = ids[1];
                    r->res = ids[2];
                    if (binding_parse(ctx, v, &r->b) != 0)
                        rv->n--;
                }
            }
        }
        cfg_path_pop(ctx, saved);
    }
}

static int res_cmp(const void *a, const void *b) {
    const struct cfg_resource *x = a, *y = b;
    uint64_t kx = (uint64_t)x->obj << 32 | (uint64_t)x->inst << 16 | x->res;
    uint64_t ky = (uint64_t)y->obj << 32 | (uint64_t)y->inst << 16 | y->res;
    return kx < ky ? -1 : kx > ky;
}

int cfg_resources_parse(struct cfg_ctx *ctx, const struct cfg_node *map, struct cfg_resource **out,
                        size_t *n) {
    struct res_vec rv = {0};
    uint16_t ids[3] = {0, 0, 0};
    parse_level(ctx, map, 0, ids, &rv);
    if (rv.oom)
        ctx->oom = true;
    if (rv.n > 1)
        qsort(rv.v, rv.n, sizeof(*rv.v), res_cmp);
    /* "3303" and "03303" are different YAML keys but the same object */
    for (size_t i = 1; i < rv.n; i++)
        if (res_cmp(&rv.v[i - 1], &rv.v[i]) == 0)
            cfg_err(ctx, map, "resource /%u/%u/%u is bound twice", (unsigned)rv.v[i].obj,
                    (unsigned)rv.v[i].inst, (unsigned)rv.v[i].res);
    *out = cfg_arena_alloc(ctx->arena, (rv.n + 1) * sizeof(**out));
    if (*out == NULL) {
        ctx->oom = true;
        *n = 0;
    } else {
        if (rv.n)
            memcpy(*out, rv.v, rv.n * sizeof(**out));
        *n = rv.n;
    }
    free(rv.v);
    return 0;
}

static void profile_kinds(struct cfg_profile *p) {
    for (size_t i = 0; i < p->nres; i++) {
        p->has_modbus |= p->res[i].b.kind == CFG_BIND_MODBUS;
        p->has_mqtt |= p->res[i].b.kind == CFG_BIND_MQTT;
    }
}

/* A profile's `send` key sits beside its object ids: returns the mapping without it (a copy in
 * the scratch arena when it was there) and its value in *send (NULL when absent). */
static const struct cfg_node *profile_split(struct cfg_ctx *ctx, const struct cfg_node *v,
                                            const struct cfg_node **send) {
    *send = v->kind == CFG_N_MAP ? cfg_map_get(v, "send") : NULL;
    if (v->kind != CFG_N_MAP || *send == NULL)
        return v;
    struct cfg_node *c = cfg_arena_alloc(ctx->tmp, sizeof(*c));
    struct cfg_node **kids = cfg_arena_alloc(ctx->tmp, 2 * v->n * sizeof(*kids));
    if (c == NULL || kids == NULL) {
        ctx->oom = true;
        return v;
    }
    *c = *v;
    c->kids = kids;
    c->n = 0;
    for (size_t i = 0; i < v->n; i++) {
        const struct cfg_node *k = v->kids[2 * i];
        if (k->kind == CFG_N_SCALAR && strcmp(k->s, "send") == 0)
            continue;
        kids[2 * c->n] = v->kids[2 * i];
        kids[2 * c->n + 1] = v->kids[2 * i + 1];
        c->n++;
    }
    return c;
}

int cfg_profiles_parse(struct cfg_ctx *ctx, const struct cfg_node *n, void *dst) {
    struct cfg *cfg = ctx->cfg;
    if (n == NULL)
        return 0;
    if (n->kind != CFG_N_MAP) {
        cfg_err(ctx, n, "expected a mapping of profile names, got %s", cfg_node_kind_name(n));
        return -EINVAL;
    }
    struct cfg_profile *p = cfg_arena_alloc(ctx->arena, (n->n + 1) * sizeof(*p));
    if (p == NULL) {
        ctx->oom = true;
        return -ENOMEM;
    }
    size_t np = 0;
    for (size_t i = 0; i < n->n; i++) {
        const struct cfg_node *k = n->kids[2 * i], *v = n->kids[2 * i + 1];
        struct cfg_directive named = {.name = "profile", .type = CFG_D_NAME};
        const char *name = NULL;
        size_t saved = cfg_path_push(ctx, key_text(k));
        if (cfg_convert(ctx, k, NULL, &named, &name) == 0) {
            for (size_t j = 0; j < np; j++)
                if (strcmp(p[j].name, name) == 0)
                    cfg_err(ctx, k, "duplicate profile '%s'", name);
            struct cfg_resource *r = NULL;
            const struct cfg_node *snd = NULL, *objs = profile_split(ctx, v, &snd);
            p[np].name = name;
            cfg_resources_parse(ctx, objs, &r, &p[np].nres);
            p[np].res = r;
            profile_kinds(&p[np]);
            if (snd != NULL) {
                size_t s2 = cfg_path_push(ctx, "send");
                int rc = cfg_send_fn(ctx, snd, &p[np].send);
                cfg_path_pop(ctx, s2);
                char who[96];
                snprintf(who, sizeof(who), "profile '%s'", name);
                if (rc == 0)
                    cfg_send_check(ctx, snd, &p[np].send, r, p[np].nres, who);
            }
            np++;
        }
        cfg_path_pop(ctx, saved);
    }
    cfg->profiles = p;
    cfg->nprofiles = np;
    return 0;
}
