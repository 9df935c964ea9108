/* SPDX-License-Identifier: Apache-2.0 */
/* Building blocks of the config layer: the arena, error recording and printing, the key path,
 * did-you-mean suggestions, durations, name templates and ${VAR} substitution. All pure except
 * getenv(); no state outside the structs passed in. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cfg_internal.h"

/* ---- arena ------------------------------------------------------------------------------------
 */

#define CHUNK_MIN 16384

struct chunk {
    struct chunk *next;
    size_t used, cap;
    max_align_t data[];
};

struct cfg_arena {
    struct chunk *head;
};

struct cfg_arena *cfg_arena_new(void) {
    return calloc(1, sizeof(struct cfg_arena));
}

void cfg_arena_free(struct cfg_arena *a) {
    if (a == NULL)
        return;
    for (struct chunk *c = a->head, *next; c != NULL; c = next) {
        next = c->next;
        free(c);
    }
    free(a);
}

void *cfg_arena_alloc(struct cfg_arena *a, size_t size) {
    const size_t align = sizeof(max_align_t);
    size = (size + align - 1) / align * align;
    if (size == 0)
        size = align;
    struct chunk *c = a->head;
    if (c == NULL || c->cap - c->used < size) {
        size_t cap = size > CHUNK_MIN ? size : CHUNK_MIN;
        c = malloc(sizeof(*c) + cap);
        if (c == NULL)
            return NULL;
        c->used = 0;
        c->cap = cap;
        c->next = a->head;
        a->head = c;
    }
    void *p = (char *)c->data + c->used;
    c->used += size;
    memset(p, 0, size);
    return p;
}

char *cfg_arena_strndup(struct cfg_arena *a, const char *s, size_t n) {
    char *p = cfg_arena_alloc(a, n + 1);
    if (p != NULL) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

char *cfg_arena_printf(struct cfg_arena *a, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *p = cfg_arena_alloc(a, (size_t)n + 1);
    if (p == NULL)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

/* ---- errors and the key path ------------------------------------------------------------------
 */

void cfg_err(struct cfg_ctx *ctx, const struct cfg_node *at, const char *fmt, ...) {
    struct cfg_errors *errs = ctx->errs;
    if (errs->n >= CFG_MAX_ERRORS) {
        errs->dropped++;
        return;
    }
    struct cfg_error *e = &errs->e[errs->n++];
    e->line = at ? at->line : 0;
    e->col = at ? at->col : 0;
    snprintf(e->path, sizeof(e->path), "%.*s", (int)ctx->plen, ctx->path);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
}

static size_t path_append(struct cfg_ctx *ctx, const char *fmt, const char *s, size_t i) {
    size_t saved = ctx->plen;
    int n = s ? snprintf(ctx->path + ctx->plen, sizeof(ctx->path) - ctx->plen, fmt, s)
              : snprintf(ctx->path + ctx->plen, sizeof(ctx->path) - ctx->plen, fmt, i);
    if (n > 0)
        ctx->plen += (size_t)n < sizeof(ctx->path) - ctx->plen ? (size_t)n
                                                               : sizeof(ctx->path) - 1 - ctx->plen;
    return saved;
}

size_t cfg_path_push(struct cfg_ctx *ctx, const char *key) {
    return path_append(ctx, ctx->plen ? ".%s" : "%s", key, 0);
}

size_t cfg_path_push_index(struct cfg_ctx *ctx, size_t i) {
    return path_append(ctx, "[%zu]", NULL, i);
}

void cfg_path_pop(struct cfg_ctx *ctx, size_t saved) {
    ctx->plen = saved;
    ctx->path[saved] = '\0';
}

int cfg_error_format(const struct cfg_errors *errs, size_t i, char *out, size_t cap) {
    const struct cfg_error *e = &errs->e[i];
    char pos[32] = "";
    if (e->line)
        snprintf(pos, sizeof(pos), ":%u:%u", (unsigned)e->line, (unsigned)e->col);
    return snprintf(out, cap, "%s%s: %s%s%s", errs->file, pos, e->path, e->path[0] ? ": " : "",
                    e->msg);
}

void cfg_errors_print(const struct cfg_errors *errs, FILE *out) {
    char line[640];
    for (size_t i = 0; i < errs->n; i++) {
        cfg_error_format(errs, i, line, sizeof(line));
        fprintf(out, "%s\n", line);
    }
    if (errs->dropped)
        fprintf(out, "%s: %zu more error%s not shown\n", errs->file, errs->dropped,
                errs->dropped == 1 ? "" : "s");
}

/* ---- suggestions ------------------------------------------------------------------------------
 */

size_t cfg_levenshtein(const char *a, const char *b, size_t cap) {
    /* Optimal string alignment: Levenshtein plus adjacent transpositions ("reda" -> "read" is one
     * edit), the commonest typing slip. Three rolling rows. */
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return cap + 1; /* names are short; do not spend time on long junk */
    size_t r0[65], r1[65], r2[65], *pp = r0, *prev = r1, *cur = r2;
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t best = i;
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t v = prev[j - 1] + (a[i - 1] != b[j - 1]);
            if (prev[j] + 1 < v)
                v = prev[j] + 1;
            if (cur[j - 1] + 1 < v)
                v = cur[j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && pp[j - 2] + 1 < v)
                v = pp[j - 2] + 1;
            cur[j] = v;
            if (v < best)
                best = v;
        }
        if (best > cap)
            return cap + 1;
        size_t *t = pp;
        pp = prev;
        prev = cur;
        cur = t;
    }
    return prev[lb] > cap ? cap + 1 : prev[lb];
}

const char *cfg_suggest(const char *word, const char *const *cands, size_t n) {
    /* Close enough: a third of the word's length, at least one and at most three edits. */
    size_t len = strlen(word), cap = len / 3;
    if (cap < 1)
        cap = 1;
    if (cap > 3)
        cap = 3;
    const char *best = NULL;
    size_t bestd = cap + 1;
    for (size_t i = 0; i < n; i++) {
        size_t d = cfg_levenshtein(word, cands[i], cap);
        if (d < bestd) {
            bestd = d;
            best = cands[i];
        }
    }
    return best;
}

void cfg_join(const char *const *names, size_t n, char *out, size_t cap) {
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && used < cap; i++) {
        int w = snprintf(out + used, cap - used, "%s%s", i ? ", " : "", names[i]);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

/* ---- durations --------------------------------------------------------------------------------
 */

int cfg_duration_parse(const char *s, uint32_t *ms) {
    uint64_t v = 0;
    size_t i = 0;
    if (s == NULL || !isdigit((unsigned char)s[0]))
        return -EINVAL;
    for (; isdigit((unsigned char)s[i]); i++) {
        v = v * 10 + (uint64_t)(s[i] - '0');
        if (v > UINT32_MAX)
            return -ERANGE;
    }
    const char *u = s + i;
    uint64_t mult;
    if (strcmp(u, "ms") == 0)
        mult = 1;
    else if (strcmp(u, "s") == 0)
        mult = 1000;
    else if (strcmp(u, "m") == 0)
        mult = 60000;
    else if (strcmp(u, "h") == 0)
        mult = 3600000;
    else
        return -EINVAL;
    if (v * mult > UINT32_MAX)
        return -ERANGE;
    *ms = (uint32_t)(v * mult);
    return 0;
}

void cfg_duration_format(uint32_t ms, char *out, size_t cap) {
    if (ms != 0 && ms % 3600000 == 0)
        snprintf(out, cap, "%uh", (unsigned)(ms / 3600000));
    else if (ms != 0 && ms % 60000 == 0)
        snprintf(out, cap, "%um", (unsigned)(ms / 60000));
    else if (ms != 0 && ms % 1000 == 0)
        snprintf(out, cap, "%us", (unsigned)(ms / 1000));
    else
        snprintf(out, cap, "%ums", (unsigned)ms);
}

/* ---- templates --------------------------------------------------------------------------------
 */

/* Calls fn for each literal run and placeholder of a template; stops at the first error. */
static int tpl_scan(const char *t, int (*fn)(void *arg, bool ph, const char *s, size_t n),
                    void *arg) {
    while (*t) {
        const char *open = strchr(t, '{'), *close = strchr(t, '}');
        if (close != NULL && (open == NULL || close < open))
            return -EINVAL; /* a '}' without '{' */
        if (open == NULL)
            return fn(arg, false, t, strlen(t));
        if (open > t) {
            int rc = fn(arg, false, t, (size_t)(open - t));
            if (rc < 0)
                return rc;
        }
        close = strchr(open + 1, '}');
        const char *nested = strchr(open + 1, '{');
        if (close == NULL || (nested != NULL && nested < close))
            return -EINVAL;
        int rc = fn(arg, true, open + 1, (size_t)(close - open - 1));
        if (rc < 0)
            return rc;
        t = close + 1;
    }
    return 0;
}

static int tpl_which(const char *s, size_t n) {
    if (n == 7 && memcmp(s, "gateway", 7) == 0)
        return CFG_TPL_GATEWAY;
    if (n == 6 && memcmp(s, "device", 6) == 0)
        return CFG_TPL_DEVICE;
    if (n == 4 && memcmp(s, "unit", 4) == 0)
        return CFG_TPL_UNIT;
    return 0;
}

struct tpl_out {
    const char *gateway, *device;
    int32_t unit;
    char *out;
    size_t cap, len;
    bool nospace;
};

static int tpl_put(struct tpl_out *o, const char *s, size_t n) {
    if (o->len + n >= o->cap) {
        o->nospace = true;
        n = o->cap > o->len + 1 ? o->cap - o->len - 1 : 0;
    }
    memcpy(o->out + o->len, s, n);
    o->len += n;
    return 0;
}

static int tpl_emit(void *arg, bool ph, const char *s, size_t n) {
    struct tpl_out *o = arg;
    if (!ph)
        return tpl_put(o, s, n);
    char num[16];
    switch (tpl_which(s, n)) {
    case CFG_TPL_GATEWAY:
        return o->gateway ? tpl_put(o, o->gateway, strlen(o->gateway)) : -EINVAL;
    case CFG_TPL_DEVICE:
        return o->device ? tpl_put(o, o->device, strlen(o->device)) : -EINVAL;
    case CFG_TPL_UNIT:
        if (o->unit < 0)
            return -EINVAL;
        snprintf(num, sizeof(num), "%d", (int)o->unit);
        return tpl_put(o, num, strlen(num));
    default:
        return -EINVAL;
    }
}

int cfg_template_expand(const char *tmpl, const char *gateway, const char *device, int32_t unit,
                        char *out, size_t cap) {
    struct tpl_out o = {gateway, device, unit, out, cap, 0, false};
    if (cap == 0)
        return -ENOSPC;
    int rc = tpl_scan(tmpl, tpl_emit, &o);
    out[o.len] = '\0';
    if (rc < 0)
        return rc;
    return o.nospace ? -ENOSPC : (int)o.len;
}

struct tpl_check {
    unsigned allowed;
    char bad[40];
};

static int tpl_check_one(void *arg, bool ph, const char *s, size_t n) {
    struct tpl_check *c = arg;
    if (ph && (tpl_which(s, n) & c->allowed) == 0) {
        snprintf(c->bad, sizeof(c->bad), "%.*s", (int)(n > 32 ? 32 : n), s);
        return -EINVAL;
    }
    return 0;
}

int cfg_template_check(struct cfg_ctx *ctx, const struct cfg_node *n, const char *tmpl,
                       unsigned allowed) {
    struct tpl_check c = {.allowed = allowed, .bad = ""};
    static const char *const all[] = {"{gateway}", "{device}", "{unit}"};
    const char *names[3];
    size_t nn = 0;
    for (unsigned i = 0; i < 3; i++)
        if (allowed & (1u << i))
            names[nn++] = all[i];
    char list[64];
    cfg_join(names, nn, list, sizeof(list));
    int rc = tpl_scan(tmpl, tpl_check_one, &c);
    if (rc == 0)
        return 0;
    if (c.bad[0] != '\0' || strstr(tmpl, "{}") != NULL)
        cfg_err(ctx, n, "unknown placeholder '{%s}' in '%s' (expected %s%s)", c.bad, tmpl,
                nn > 1 ? "one of: " : "", list);
    else
        cfg_err(ctx, n, "unbalanced '{' or '}' in template '%s'", tmpl);
    return -EINVAL;
}

/* ---- scalars with ${VAR} substitution ---------------------------------------------------------
 */

static bool env_name_ok(const char *s, size_t n) {
    if (n == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_'))
            return false;
    return true;
}

/* Resolves the reference "${...}" starting at s (len bytes left): sets the replacement text and
 * how many input bytes it consumes. Returns false with the error recorded. */
static bool env_ref(struct cfg_ctx *ctx, const struct cfg_node *n, const char *s, size_t len,
                    const char **piece, size_t *plen, size_t *adv) {
    const char *end = memchr(s + 2, '}', len - 2);
    if (end == NULL) {
        cfg_err(ctx, n, "unterminated '${' in '%s'", n->s);
        return false;
    }
    const char *name = s + 2, *dash = NULL;
    size_t nlen = (size_t)(end - name);
    for (size_t k = 0; k + 1 < nlen && dash == NULL; k++)
        if (name[k] == ':' && name[k + 1] == '-')
            dash = name + k;
    size_t idlen = dash ? (size_t)(dash - name) : nlen;
    if (!env_name_ok(name, idlen) || idlen > 127) {
        cfg_err(ctx, n, "bad environment variable reference '${%.*s}'", (int)nlen, name);
        return false;
    }
    char id[128];
    snprintf(id, sizeof(id), "%.*s", (int)idlen, name);
    const char *val = getenv(id);
    /* like the shell: ${X:-d} also replaces an empty value, ${X} keeps it */
    if (val != NULL && (val[0] != '\0' || dash == NULL)) {
        *piece = val;
        *plen = strlen(val);
    } else if (dash != NULL) {
        *piece = dash + 2;
        *plen = (size_t)(end - *piece);
    } else {
        cfg_err(ctx, n,
                "environment variable '%s' is not set (write ${%s:-default} to give a "
                "default)",
                id, id);
        return false;
    }
    *adv = (size_t)(end - s) + 1;
    return true;
}

/* Expands ${NAME} and ${NAME:-default}; "$${" is a literal "${". */
static const char *env_expand(struct cfg_ctx *ctx, const struct cfg_node *n) {
    const char *s = n->s;
    if (memchr(s, '$', n->len) == NULL)
        return cfg_arena_strndup(ctx->arena, s, n->len);
    size_t cap = n->len + 1, len = 0;
    char *out = malloc(cap);
    for (size_t i = 0; out != NULL && i < n->len;) {
        const char *piece = s + i;
        size_t plen = 1, adv = 1;
        if (s[i] == '$' && i + 2 < n->len && s[i + 1] == '$' && s[i + 2] == '{') {
            adv = 2;
            piece = "$";
        } else if (s[i] == '$' && i + 1 < n->len && s[i + 1] == '{' &&
                   !env_ref(ctx, n, s + i, n->len - i, &piece, &plen, &adv)) {
            free(out);
            return NULL;
        }
        if (len + plen + 1 > cap) {
            cap = (len + plen + 1) * 2;
            char *bigger = realloc(out, cap);
            if (bigger == NULL)
                free(out);
            out = bigger;
            if (out == NULL)
                break;
        }
        memcpy(out + len, piece, plen);
        len += plen;
        i += adv;
    }
    char *r = out ? cfg_arena_strndup(ctx->arena, out, len) : NULL;
    free(out);
    if (r == NULL)
        ctx->oom = true;
    return r;
}

const char *cfg_scalar(struct cfg_ctx *ctx, const struct cfg_node *n, const char *what) {
    if (n->kind != CFG_N_SCALAR) {
        cfg_err(ctx, n, "expected %s, got %s", what, cfg_node_kind_name(n));
        return NULL;
    }
    if (strlen(n->s) != n->len) {
        cfg_err(ctx, n, "expected %s, got a string with a NUL character", what);
        return NULL;
    }
    return env_expand(ctx, n);
}

/* ---- names ------------------------------------------------------------------------------------
 */

const char *const cfg_mb_table_names[4] = {"coil", "discrete", "input", "holding"};
const char *const cfg_mb_type_names[11] = {"bool",    "int16",  "uint16", "int32",
                                           "uint32",  "int64",  "uint64", "float32",
                                           "float64", "string", "bit"};
const char *const cfg_mb_order_names[4] = {"ABCD", "CDAB", "BADC", "DCBA"};
const char *const cfg_mq_format_names[4] = {"text", "json", "hex", "base64"};

#define NAME_AT(arr, i) ((size_t)(i) < CFG_COUNT(arr) ? (arr)[i] : "?")

const char *cfg_adapter_type_name(enum cfg_adapter_type t) {
    static const char *const n[] = {"modbus-tcp", "modbus-rtu", "modbus-rtu-over-tcp", "mqtt"};
    return NAME_AT(n, t);
}
const char *cfg_sec_mode_name(enum cfg_sec_mode m) {
    static const char *const n[] = {"nosec", "psk", "cert"};
    return NAME_AT(n, m);
}
const char *cfg_mb_table_name(enum cfg_mb_table t) {
    return NAME_AT(cfg_mb_table_names, t);
}
const char *cfg_mb_type_name(enum cfg_mb_type t) {
    return NAME_AT(cfg_mb_type_names, t);
}
const char *cfg_mb_order_name(enum cfg_mb_order o) {
    return NAME_AT(cfg_mb_order_names, o);
}
const char *cfg_mq_format_name(enum cfg_mq_format f) {
    return NAME_AT(cfg_mq_format_names, f);
}
const char *cfg_lwm2m_mode_name(enum cfg_lwm2m_mode m) {
    static const char *const n[] = {"endpoint-per-device", "gateway"};
    return NAME_AT(n, m);
}
const char *cfg_lwm2m_version_name(enum cfg_lwm2m_version v) {
    static const char *const n[] = {"1.0", "1.1", "1.2"};
    return NAME_AT(n, v);
}
const char *cfg_log_level_name(enum cfg_log_level l) {
    static const char *const n[] = {"error", "warn", "info", "debug", "trace"};
    return NAME_AT(n, l);
}
