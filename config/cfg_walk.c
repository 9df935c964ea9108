/* SPDX-License-Identifier: Apache-2.0 */
/* The directive walker: checks a YAML mapping against a table of directives (name, type, offset,
 * bounds, default) and converts each value into its struct field. Unknown and duplicate keys,
 * type and range errors are reported here, so the section code only states its table and the
 * rules that span several keys. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfg_internal.h"

/* Integers: decimal, or hexadecimal with 0x; an optional minus sign. */
static bool parse_int(const char *s, int64_t *out) {
    bool neg = false;
    uint64_t v = 0;
    unsigned base = 10;
    if (*s == '-') {
        neg = true;
        s++;
    }
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    if (*s == '\0')
        return false;
    for (; *s; s++) {
        unsigned d;
        if (isdigit((unsigned char)*s))
            d = (unsigned)(*s - '0');
        else if (base == 16 && isxdigit((unsigned char)*s))
            d = (unsigned)(tolower((unsigned char)*s) - 'a' + 10);
        else
            return false;
        v = v * base + d;
        if (v > (uint64_t)INT64_MAX)
            return false;
    }
    *out = neg ? -(int64_t)v : (int64_t)v;
    return true;
}

int cfg_parse_enum(struct cfg_ctx *ctx, const struct cfg_node *n, const char *text,
                   const char *what, const char *const *names, size_t nnames, int *out) {
    for (size_t i = 0; i < nnames; i++) {
        if (strcmp(text, names[i]) == 0) {
            *out = (int)i;
            return 0;
        }
    }
    char list[200];
    cfg_join(names, nnames, list, sizeof(list));
    cfg_err(ctx, n, "unknown %s '%s' (expected one of: %s)", what, text, list);
    return -EINVAL;
}

const char *cfg_resolve_path(struct cfg_ctx *ctx, const char *p) {
    if (p[0] == '/' || ctx->base_dir[0] == '\0')
        return p;
    const char *r = cfg_arena_printf(ctx->arena, "%s%s", ctx->base_dir, p);
    if (r == NULL)
        ctx->oom = true;
    return r ? r : p;
}

#define SECRET_MAX 65536

int cfg_read_file(struct cfg_ctx *ctx, const struct cfg_node *n, const char *path, char **out,
                  size_t *len) {
    /* O_NONBLOCK and the regular-file check keep a FIFO or a device from hanging the load. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (fd < 0) {
        cfg_err(ctx, n, "cannot read '%s': %s", path, strerror(errno));
        return -errno;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > SECRET_MAX) {
        cfg_err(ctx, n, "cannot read '%s': not a regular file of at most 64 KiB", path);
        close(fd);
        return -EINVAL;
    }
    char *buf = cfg_arena_alloc(ctx->arena, (size_t)st.st_size + 1);
    ssize_t got = buf ? read(fd, buf, (size_t)st.st_size) : -1;
    int saved = errno;
    close(fd);
    if (got < 0) {
        cfg_err(ctx, n, "cannot read '%s': %s", path, strerror(saved));
        return -EIO;
    }
    buf[got] = '\0';
    *out = buf;
    *len = (size_t)got;
    return 0;
}

static bool name_ok(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '.' || s[i] == '_' || s[i] == '-'))
            return false;
    return true;
}

static int conv_uint(struct cfg_ctx *ctx, const struct cfg_node *n, const char *text,
                     const struct cfg_directive *d, void *dst) {
    int64_t v;
    if (!parse_int(text, &v) || v < d->min || v > d->max) {
        cfg_err(ctx, n, "expected an integer %lld..%lld, got '%s'", (long long)d->min,
                (long long)d->max, text);
        return -EINVAL;
    }
    if (d->type == CFG_D_INT)
        *(int32_t *)dst = (int32_t)v;
    else if (d->size == 1)
        *(uint8_t *)dst = (uint8_t)v;
    else if (d->size == 2)
        *(uint16_t *)dst = (uint16_t)v;
    else
        *(uint32_t *)dst = (uint32_t)v;
    return 0;
}

static int conv_duration(struct cfg_ctx *ctx, const struct cfg_node *n, const char *text,
                         const struct cfg_directive *d, void *dst) {
    uint32_t ms;
    if (cfg_duration_parse(text, &ms) != 0) {
        cfg_err(ctx, n, "expected a duration like 500ms, 1s or 5m, got '%s'", text);
        return -EINVAL;
    }
    if (ms < d->min || ms > d->max) {
        char lo[24], hi[24];
        cfg_duration_format((uint32_t)d->min, lo, sizeof(lo));
        cfg_duration_format((uint32_t)d->max, hi, sizeof(hi));
        cfg_err(ctx, n, "expected a duration from %s to %s, got '%s'", lo, hi, text);
        return -EINVAL;
    }
    *(uint32_t *)dst = ms;
    return 0;
}

static int conv_seconds(struct cfg_ctx *ctx, const struct cfg_node *n, const char *text,
                        const struct cfg_directive *d, void *dst) {
    int64_t v;
    uint32_t ms;
    if (parse_int(text, &v)) {
        /* a bare number is seconds, as LwM2M counts lifetimes */
    } else if (cfg_duration_parse(text, &ms) == 0 && ms % 1000 == 0) {
        v = ms / 1000;
    } else {
        cfg_err(ctx, n,
                "expected seconds (like 300) or a duration in whole seconds (like 5m), "
                "got '%s'",
                text);
        return -EINVAL;
    }
    if (v < d->min || v > d->max) {
        cfg_err(ctx, n, "expected %lld..%lld seconds, got '%s'", (long long)d->min,
                (long long)d->max, text);
        return -EINVAL;
    }
    *(uint32_t *)dst = (uint32_t)v;
    return 0;
}

static int conv_float(struct cfg_ctx *ctx, const struct cfg_node *n, const char *text, void *dst) {
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (text[0] == '\0' || *end != '\0' || errno != 0 || !isfinite(v)) {
        cfg_err(ctx, n, "expected a number, got '%s'", text);
        return -EINVAL;
    }
    *(double *)dst = v;
    return 0;
}

int cfg_convert(struct cfg_ctx *ctx, const struct cfg_node *n, const char *text,
                const struct cfg_directive *d, void *dst) {
    if (d->type == CFG_D_CUSTOM)
        return d->fn(ctx, n, dst);
    if (n != NULL) {
        text = cfg_scalar(ctx, n, "a single value");
        if (text == NULL)
            return -EINVAL;
    }
    switch (d->type) {
    case CFG_D_STR:
        *(const char **)dst = text;
        return 0;
    case CFG_D_NAME:
        if (!name_ok(text)) {
            cfg_err(ctx, n,
                    "expected a name of letters, digits, '.', '_' and '-' (at most 64), "
                    "got '%s'",
                    text);
            return -EINVAL;
        }
        *(const char **)dst = text;
        return 0;
    case CFG_D_TEMPLATE:
        if (cfg_template_check(ctx, n, text, (unsigned)d->min) != 0)
            return -EINVAL;
        *(const char **)dst = text;
        return 0;
    case CFG_D_BOOL:
        if (strcmp(text, "true") != 0 && strcmp(text, "false") != 0) {
            cfg_err(ctx, n, "expected true or false, got '%s'", text);
            return -EINVAL;
        }
        *(bool *)dst = text[0] == 't';
        return 0;
    case CFG_D_UINT:
    case CFG_D_INT:
        return conv_uint(ctx, n, text, d, dst);
    case CFG_D_DURATION:
        return conv_duration(ctx, n, text, d, dst);
    case CFG_D_SECONDS:
        return conv_seconds(ctx, n, text, d, dst);
    case CFG_D_ENUM:
        return cfg_parse_enum(ctx, n, text, d->name, d->names, d->nnames, (int *)dst);
    case CFG_D_FLOAT:
        return conv_float(ctx, n, text, dst);
    case CFG_D_PATH: {
        const char *p = cfg_resolve_path(ctx, text);
        if (access(p, R_OK) != 0) {
            cfg_err(ctx, n, "cannot read '%s': %s", p, strerror(errno));
            return -EINVAL;
        }
        *(const char **)dst = p;
        return 0;
    }
    case CFG_D_SECRET: {
        char *buf;
        size_t len;
        int rc = cfg_read_file(ctx, n, cfg_resolve_path(ctx, text), &buf, &len);
        if (rc != 0)
            return rc;
        while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
            buf[--len] = '\0';
        *(const char **)dst = buf;
        return 0;
    }
    case CFG_D_CUSTOM:
    default:
        return -EINVAL;
    }
}

static void check_keys(struct cfg_ctx *ctx, const struct cfg_node *map,
                       const struct cfg_directive *d, size_t nd) {
    const char *names[48];
    size_t nn = nd < CFG_COUNT(names) ? nd : CFG_COUNT(names);
    for (size_t i = 0; i < nn; i++)
        names[i] = d[i].name;
    for (size_t i = 0; i < map->n; i++) {
        const struct cfg_node *k = map->kids[2 * i];
        if (k->kind != CFG_N_SCALAR) {
            cfg_err(ctx, k, "expected a key name, got %s", cfg_node_kind_name(k));
            continue;
        }
        size_t saved = cfg_path_push(ctx, k->s);
        bool dup = false;
        for (size_t j = 0; j < i && !dup; j++) {
            const struct cfg_node *o = map->kids[2 * j];
            if (o->kind == CFG_N_SCALAR && strcmp(o->s, k->s) == 0) {
                cfg_err(ctx, k, "duplicate key (first at %u:%u)", (unsigned)o->line,
                        (unsigned)o->col);
                dup = true;
            }
        }
        bool known = false;
        for (size_t j = 0; j < nd && !known; j++)
            known = strcmp(d[j].name, k->s) == 0;
        if (!dup && !known) {
            const char *s = cfg_suggest(k->s, names, nn);
            char list[400];
            cfg_join(names, nn, list, sizeof(list));
            if (s != NULL)
                cfg_err(ctx, k, "unknown key (did you mean '%s'?)", s);
            else
                cfg_err(ctx, k, "unknown key (expected one of: %s)", list);
        }
        cfg_path_pop(ctx, saved);
    }
}

int cfg_walk(struct cfg_ctx *ctx, const struct cfg_node *map, const struct cfg_node *at,
             const struct cfg_directive *d, size_t nd, void *base) {
    size_t before = ctx->errs->n + ctx->errs->dropped;
    if (map != NULL && map->kind != CFG_N_MAP) {
        cfg_err(ctx, map, "expected a mapping, got %s", cfg_node_kind_name(map));
        return -EINVAL;
    }
    if (map != NULL)
        check_keys(ctx, map, d, nd);
    for (size_t i = 0; i < nd; i++) {
        const struct cfg_node *v = cfg_map_get(map, d[i].name);
        void *dst = (char *)base + d[i].offset;
        if (v == NULL && (d[i].flags & CFG_REQ)) {
            cfg_err(ctx, map ? map : at, "missing required key '%s'", d[i].name);
            continue;
        }
        size_t saved = cfg_path_push(ctx, d[i].name);
        if (v != NULL || d[i].type == CFG_D_CUSTOM)
            cfg_convert(ctx, v, NULL, &d[i], dst);
        else if (d[i].def != NULL)
            cfg_convert(ctx, NULL, d[i].def, &d[i], dst);
        cfg_path_pop(ctx, saved);
    }
    return ctx->errs->n + ctx->errs->dropped > before ? -EINVAL : 0;
}
