/* SPDX-License-Identifier: Apache-2.0 */
/* Internals shared by the config layer's files (not for other layers): the arena, the positioned
 * YAML node tree, the load context with its key path and error collection, and the directive
 * tables that map YAML keys onto struct fields. */
#ifndef GW_CFG_INTERNAL_H
#define GW_CFG_INTERNAL_H

#include <stdarg.h>

#include "cfg.h"

/* ---- arena: every allocation of one load, freed at once ------------------------------------- */

struct cfg_arena *cfg_arena_new(void);
void cfg_arena_free(struct cfg_arena *a);
/* Zeroed, max_align_t aligned memory; NULL when out of memory. */
void *cfg_arena_alloc(struct cfg_arena *a, size_t size);
char *cfg_arena_strndup(struct cfg_arena *a, const char *s, size_t n);
char *cfg_arena_printf(struct cfg_arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- node tree: the YAML document with 1-based positions ------------------------------------- */

enum cfg_node_kind { CFG_N_SCALAR, CFG_N_MAP, CFG_N_SEQ };

struct cfg_node {
    enum cfg_node_kind kind;
    uint32_t line, col;
    bool plain;    /* a plain (unquoted) scalar: "", ~ and null mean "no value" */
    const char *s; /* scalar text, NUL-terminated (may contain NULs: see len) */
    size_t len;
    size_t n;               /* items of a sequence, pairs of a mapping */
    struct cfg_node **kids; /* sequence: items; mapping: key0, value0, key1, value1, ... */
};

/* Parses one YAML document into a tree in arena `a`. *root is NULL for an empty document. On a
 * syntax error records it in errs and returns -EINVAL. Aliases are refused (they would let a small
 * file expand into a huge tree). */
int cfg_yaml_parse(struct cfg_arena *a, const void *buf, size_t len, struct cfg_node **root,
                   struct cfg_errors *errs);

bool cfg_node_is_null(const struct cfg_node *n);
const char *cfg_node_kind_name(const struct cfg_node *n); /* "a mapping", "a sequence", ... */

/* ---- load context -----------------------------------------------------------------------------
 */

/* Source positions of a device entry, kept until the cross-reference checks have run. */
struct cfg_device_src {
    const struct cfg_node *node, *name, *adapter, *profile, *unit, *poll, *discover, *send,
        *availability;
    const char *adapter_name, *profile_name;
    const struct cfg_resource *overrides; /* parsed `overrides`, sorted */
    size_t noverrides;
};

struct cfg_ctx {
    struct cfg_arena *arena; /* the result's arena */
    struct cfg_arena *tmp;   /* node tree and scratch, freed after the load */
    struct cfg_errors *errs;
    const char *base_dir; /* "" or a directory ending in '/', for relative paths */
    struct cfg *cfg;
    char path[160];
    size_t plen;
    bool oom;
    const struct cfg_node *root;
    const struct cfg_node **adapter_nodes; /* per adapter: its `name` node */
    struct cfg_device_src *dev_src;        /* per device */
    const struct cfg_node **server_nodes;  /* per server: its mapping */
};

/* Records an error at node `at` (may be NULL: no position) under the current key path. */
void cfg_err(struct cfg_ctx *ctx, const struct cfg_node *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Appends ".key" (or "key" at the root) / "[i]" to the key path; returns the length to restore. */
size_t cfg_path_push(struct cfg_ctx *ctx, const char *key);
size_t cfg_path_push_index(struct cfg_ctx *ctx, size_t i);
void cfg_path_pop(struct cfg_ctx *ctx, size_t saved);

/* The scalar's text after ${VAR} substitution, in the result arena; NULL (error recorded) when
 * the node is not a scalar or a variable is unset. `what` names the expected value. */
const char *cfg_scalar(struct cfg_ctx *ctx, const struct cfg_node *n, const char *what);

/* Levenshtein distance, capped: returns cap + 1 when larger (enough for suggestions). */
size_t cfg_levenshtein(const char *a, const char *b, size_t cap);
/* The candidate closest to `word` when close enough to suggest, else NULL. */
const char *cfg_suggest(const char *word, const char *const *cands, size_t n);
/* Writes "a, b, c" into out. */
void cfg_join(const char *const *names, size_t n, char *out, size_t cap);

/* Template check at load time: placeholders other than those in `allowed` (bit 0 gateway,
 * 1 device, 2 unit) are errors; returns 0 or -EINVAL with the error recorded at n. */
#define CFG_TPL_GATEWAY 1u
#define CFG_TPL_DEVICE  2u
#define CFG_TPL_UNIT    4u
int cfg_template_check(struct cfg_ctx *ctx, const struct cfg_node *n, const char *tmpl,
                       unsigned allowed);

/* ---- directive tables -------------------------------------------------------------------------
 */

enum cfg_dtype {
    CFG_D_STR,      /* const char * */
    CFG_D_NAME,     /* const char *: [A-Za-z0-9._-], 1..64 characters */
    CFG_D_TEMPLATE, /* const char *: a template; min = allowed placeholders */
    CFG_D_BOOL,     /* bool */
    CFG_D_UINT,     /* uint8/16/32 by size, within min..max */
    CFG_D_INT,      /* int32 within min..max */
    CFG_D_DURATION, /* uint32 milliseconds within min..max */
    CFG_D_SECONDS,  /* uint32 seconds: a bare integer or a duration */
    CFG_D_ENUM,     /* int (enum) index into names[] */
    CFG_D_FLOAT,    /* double */
    CFG_D_PATH,     /* const char *: a readable file, resolved against the config's directory */
    CFG_D_SECRET,   /* const char *: contents of a file (trailing newline trimmed) */
    CFG_D_CUSTOM,   /* fn(ctx, node, base + offset) */
};

#define CFG_REQ 1u /* the key must be present */

struct cfg_directive {
    const char *name;
    enum cfg_dtype type;
    size_t offset;
    unsigned size; /* CFG_D_UINT: 1, 2 or 4 bytes */
    unsigned flags;
    int64_t min, max;
    const char *def; /* default, written as it would be in YAML; NULL: none (zero) */
    const char *const *names;
    size_t nnames;
    int (*fn)(struct cfg_ctx *ctx, const struct cfg_node *n, void *dst);
};

/* Walks mapping `map` (NULL: an absent section, only defaults apply) with the directive table:
 * unknown and duplicate keys are errors, each present key is converted into base + offset, absent
 * keys get their default. `at` is where "missing key" errors point when map is NULL. */
int cfg_walk(struct cfg_ctx *ctx, const struct cfg_node *map, const struct cfg_node *at,
             const struct cfg_directive *d, size_t nd, void *base);
/* The value node of `key` in a mapping; NULL when absent or null. */
const struct cfg_node *cfg_map_get(const struct cfg_node *map, const char *key);
/* Converts one value by a directive (used for enum values outside tables too). */
int cfg_convert(struct cfg_ctx *ctx, const struct cfg_node *n, const char *text,
                const struct cfg_directive *d, void *dst);
int cfg_parse_enum(struct cfg_ctx *ctx, const struct cfg_node *n, const char *text,
                   const char *what, const char *const *names, size_t nnames, int *out);
/* Resolves a relative path against the config's directory. */
const char *cfg_resolve_path(struct cfg_ctx *ctx, const char *p);
int cfg_read_file(struct cfg_ctx *ctx, const struct cfg_node *n, const char *path, char **out,
                  size_t *len);

/* ---- sections (cfg_schema.c, cfg_profile.c) and checks (cfg_check.c) --------------------------
 */

int cfg_schema_walk(struct cfg_ctx *ctx, const struct cfg_node *root);
/* Parses an object -> instance -> resource -> binding mapping into a sorted resource array. */
int cfg_resources_parse(struct cfg_ctx *ctx, const struct cfg_node *map, struct cfg_resource **out,
                        size_t *n);
int cfg_profiles_parse(struct cfg_ctx *ctx, const struct cfg_node *n, void *dst);
int cfg_check(struct cfg_ctx *ctx);

/* cfg_report.c: lwm2m.notifications, lwm2m.store and `send` (dst: the struct to fill). */
int cfg_notifications_fn(struct cfg_ctx *ctx, const struct cfg_node *n, void *dst);
int cfg_store_fn(struct cfg_ctx *ctx, const struct cfg_node *n, void *dst);
int cfg_coap_fn(struct cfg_ctx *ctx, const struct cfg_node *n, void *dst);
int cfg_dns_fn(struct cfg_ctx *ctx, const struct cfg_node *n, void *dst);
int cfg_send_fn(struct cfg_ctx *ctx, const struct cfg_node *n, void *dst);
/* Records an error for each path of snd (parsed from the mapping `send`) that names no resource
 * of res[0..nres); `who` starts the message ("profile 'th'"). */
void cfg_send_check(struct cfg_ctx *ctx, const struct cfg_node *send, const struct cfg_send *snd,
                    const struct cfg_resource *res, size_t nres, const char *who);

extern const char *const cfg_mb_table_names[4];
extern const char *const cfg_mb_type_names[11];
extern const char *const cfg_mb_order_names[4];
extern const char *const cfg_mq_format_names[4];

#define CFG_COUNT(a) (sizeof(a) / sizeof((a)[0]))

#endif /* GW_CFG_INTERNAL_H */
