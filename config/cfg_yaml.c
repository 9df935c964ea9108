/* SPDX-License-Identifier: Apache-2.0 */
/* YAML text -> positioned node tree, with libyaml's event parser. Keeping our own small tree (and
 * not libyaml's document API) lets every later error point at the line and column of the value it
 * is about, and lets the schema walk stay independent of libyaml. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <yaml.h>

#include "cfg_internal.h"

#define MAX_DEPTH 64

struct frame {
    struct cfg_node *node;
    struct cfg_node **kids;
    size_t n, cap;
};

struct builder {
    struct cfg_arena *a;
    struct frame stack[MAX_DEPTH];
    size_t depth;
    struct cfg_node *root;
    unsigned docs;
};

static void err_at(struct cfg_errors *errs, uint32_t line, uint32_t col, const char *msg) {
    if (errs->n >= CFG_MAX_ERRORS) {
        errs->dropped++;
        return;
    }
    struct cfg_error *e = &errs->e[errs->n++];
    e->line = line;
    e->col = col;
    e->path[0] = '\0';
    snprintf(e->msg, sizeof(e->msg), "%s", msg);
}

static struct cfg_node *node_new(struct cfg_arena *a, enum cfg_node_kind kind, yaml_mark_t m) {
    struct cfg_node *n = cfg_arena_alloc(a, sizeof(*n));
    if (n != NULL) {
        n->kind = kind;
        n->line = (uint32_t)m.line + 1;
        n->col = (uint32_t)m.column + 1;
    }
    return n;
}

/* Adds a finished node to the open container (or makes it the root). */
static int add_child(struct builder *b, struct cfg_node *n) {
    if (b->depth == 0) {
        b->root = n;
        return 0;
    }
    struct frame *f = &b->stack[b->depth - 1];
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 8;
        struct cfg_node **k = cfg_arena_alloc(b->a, cap * sizeof(*k));
        if (k == NULL)
            return -ENOMEM;
        if (f->n)
            memcpy(k, f->kids, f->n * sizeof(*k));
        f->kids = k;
        f->cap = cap;
    }
    f->kids[f->n++] = n;
    return 0;
}

static int on_event(struct builder *b, const yaml_event_t *ev, struct cfg_errors *errs) {
    struct cfg_node *n;
    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        if (++b->docs > 1) {
            err_at(errs, (uint32_t)ev->start_mark.line + 1, (uint32_t)ev->start_mark.column + 1,
                   "invalid YAML: only one document is allowed in a config file");
            return -EINVAL;
        }
        return 0;
    case YAML_ALIAS_EVENT:
        err_at(errs, (uint32_t)ev->start_mark.line + 1, (uint32_t)ev->start_mark.column + 1,
               "aliases (*name) are not supported: use profiles to share device definitions");
        return -EINVAL;
    case YAML_SCALAR_EVENT:
        n = node_new(b->a, CFG_N_SCALAR, ev->start_mark);
        if (n == NULL)
            return -ENOMEM;
        n->len = ev->data.scalar.length;
        n->s = cfg_arena_strndup(b->a, (const char *)ev->data.scalar.value, n->len);
        if (n->s == NULL)
            return -ENOMEM;
        n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        return add_child(b, n);
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT:
        if (b->depth == MAX_DEPTH) {
            err_at(errs, (uint32_t)ev->start_mark.line + 1, (uint32_t)ev->start_mark.column + 1,
                   "invalid YAML: nested deeper than 64 levels");
            return -EINVAL;
        }
        n = node_new(b->a, ev->type == YAML_MAPPING_START_EVENT ? CFG_N_MAP : CFG_N_SEQ,
                     ev->start_mark);
        if (n == NULL)
            return -ENOMEM;
        b->stack[b->depth++] = (struct frame){.node = n};
        return 0;
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT: {
        struct frame *f = &b->stack[--b->depth];
        f->node->kids = f->kids;
        f->node->n = f->node->kind == CFG_N_MAP ? f->n / 2 : f->n;
        return add_child(b, f->node);
    }
    case YAML_NO_EVENT:
    case YAML_STREAM_START_EVENT:
    case YAML_STREAM_END_EVENT:
    case YAML_DOCUMENT_END_EVENT:
        return 0;
    default:
        return 0;
    }
}

/* libyaml reader errors carry a byte offset, not a mark: turn it into a line and column. */
static void offset_to_mark(const unsigned char *buf, size_t len, size_t off, uint32_t *line,
                           uint32_t *col) {
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off && i < len; i++) {
        if (buf[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

static void syntax_error(const yaml_parser_t *p, const void *buf, size_t len,
                         struct cfg_errors *errs) {
    char msg[320];
    uint32_t line, col;
    const char *problem = p->problem ? p->problem : "unknown error";
    if (p->error == YAML_READER_ERROR) {
        offset_to_mark(buf, len, p->problem_offset, &line, &col);
        snprintf(msg, sizeof(msg), "invalid YAML: %s", problem);
    } else {
        line = (uint32_t)p->problem_mark.line + 1;
        col = (uint32_t)p->problem_mark.column + 1;
        if (p->context != NULL)
            snprintf(msg, sizeof(msg), "invalid YAML: %s (%s at %u:%u)", problem, p->context,
                     (unsigned)p->context_mark.line + 1, (unsigned)p->context_mark.column + 1);
        else
            snprintf(msg, sizeof(msg), "invalid YAML: %s", problem);
    }
    err_at(errs, line, col, msg);
}

int cfg_yaml_parse(struct cfg_arena *a, const void *buf, size_t len, struct cfg_node **root,
                   struct cfg_errors *errs) {
    yaml_parser_t p;
    struct builder b = {.a = a};
    int rc = 0;
    bool done = false;

    *root = NULL;
    if (!yaml_parser_initialize(&p))
        return -ENOMEM;
    yaml_parser_set_input_string(&p, buf, len);
    while (!done && rc == 0) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            if (p.error == YAML_MEMORY_ERROR) {
                rc = -ENOMEM;
            } else {
                syntax_error(&p, buf, len, errs);
                rc = -EINVAL;
            }
            break;
        }
        done = ev.type == YAML_STREAM_END_EVENT;
        rc = on_event(&b, &ev, errs);
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&p);
    if (rc == 0)
        *root = b.root;
    return rc;
}

bool cfg_node_is_null(const struct cfg_node *n) {
    if (n == NULL)
        return true;
    if (n->kind != CFG_N_SCALAR || !n->plain)
        return false;
    return n->len == 0 || strcmp(n->s, "~") == 0 || strcmp(n->s, "null") == 0 ||
           strcmp(n->s, "Null") == 0 || strcmp(n->s, "NULL") == 0;
}

const char *cfg_node_kind_name(const struct cfg_node *n) {
    if (n == NULL || cfg_node_is_null(n))
        return "nothing";
    switch (n->kind) {
    case CFG_N_MAP:
        return "a mapping";
    case CFG_N_SEQ:
        return "a sequence";
    case CFG_N_SCALAR:
        return "a scalar";
    default:
        return "?";
    }
}

const struct cfg_node *cfg_map_get(const struct cfg_node *map, const char *key) {
    if (map == NULL || map->kind != CFG_N_MAP)
        return NULL;
    for (size_t i = 0; i < map->n; i++) {
        const struct cfg_node *k = map->kids[2 * i];
        if (k->kind == CFG_N_SCALAR && strcmp(k->s, key) == 0) {
            const struct cfg_node *v = map->kids[2 * i + 1];
            return cfg_node_is_null(v) ? NULL : v;
        }
    }
    return NULL;
}
