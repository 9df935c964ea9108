/* SPDX-License-Identifier: Apache-2.0 */
/* The entry points: read the file, parse YAML into the node tree, walk the schema, run the
 * cross-reference checks, and hand out the immutable result (or the sorted error list). The node
 * tree lives in a scratch arena freed before returning; the result owns its own arena. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfg_internal.h"

#define FILE_MAX (4u << 20)

static void errors_init(struct cfg_errors *errs, const char *name) {
    errs->n = 0;
    errs->dropped = 0;
    snprintf(errs->file, sizeof(errs->file), "%s", name);
}

static void errors_add(struct cfg_errors *errs, const char *fmt, const char *arg) {
    if (errs->n >= CFG_MAX_ERRORS) {
        errs->dropped++;
        return;
    }
    struct cfg_error *e = &errs->e[errs->n++];
    memset(e, 0, sizeof(*e));
    snprintf(e->msg, sizeof(e->msg), fmt, arg);
}

/* Errors are found section by section; readers want them in file order (stable: insertion). */
static void errors_sort(struct cfg_errors *errs) {
    for (size_t i = 1; i < errs->n; i++) {
        struct cfg_error e = errs->e[i];
        size_t j = i;
        while (j > 0 && (errs->e[j - 1].line > e.line ||
                         (errs->e[j - 1].line == e.line && errs->e[j - 1].col > e.col))) {
            errs->e[j] = errs->e[j - 1];
            j--;
        }
        errs->e[j] = e;
    }
}

static int load(const char *name, const char *base_dir, const void *buf, size_t len,
                const struct cfg **out, struct cfg_errors *errs) {
    struct cfg_arena *arena = cfg_arena_new(), *tmp = cfg_arena_new();
    struct cfg *cfg = arena ? cfg_arena_alloc(arena, sizeof(*cfg)) : NULL;
    struct cfg_node *root = NULL;
    int rc = -ENOMEM;

    if (cfg == NULL || tmp == NULL)
        goto fail;
    cfg->arena = arena;
    cfg->file = cfg_arena_strndup(arena, name, strlen(name));
    rc = cfg_yaml_parse(tmp, buf, len, &root, errs);
    if (rc != 0)
        goto fail;
    struct cfg_ctx ctx = {
        .arena = arena, .tmp = tmp, .errs = errs, .base_dir = base_dir, .cfg = cfg};
    cfg_schema_walk(&ctx, root);
    /* References are only judged in a file whose sections all parsed: an adapter with a typo
     * would otherwise also show up as an "unknown adapter" at every device using it. */
    if (errs->n == 0 && !ctx.oom)
        cfg_check(&ctx);
    rc = ctx.oom ? -ENOMEM : errs->n ? -EINVAL : 0;
    if (rc != 0)
        goto fail;
    cfg_arena_free(tmp);
    *out = cfg;
    return 0;
fail:
    if (rc == -ENOMEM)
        errors_add(errs, "%s", "out of memory");
    errors_sort(errs);
    cfg_arena_free(tmp);
    cfg_arena_free(arena);
    return rc;
}

int cfg_load_buffer(const char *name, const void *buf, size_t len, const struct cfg **out,
                    struct cfg_errors *errs) {
    *out = NULL;
    errors_init(errs, name);
    return load(name, "", buf, len, out, errs);
}

int cfg_load(const char *path, const struct cfg **out, struct cfg_errors *errs) {
    *out = NULL;
    errors_init(errs, path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0) {
        int e = errno;
        errors_add(errs, "cannot open: %s", strerror(e));
        return -e;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > FILE_MAX) {
        close(fd);
        errors_add(errs, "%s", "not a regular file of at most 4 MiB");
        return -EINVAL;
    }
    char *buf = malloc((size_t)st.st_size + 1);
    ssize_t got = buf ? read(fd, buf, (size_t)st.st_size) : -1;
    int e = errno;
    close(fd);
    if (got < 0) {
        free(buf);
        errors_add(errs, "cannot read: %s", strerror(buf ? e : ENOMEM));
        return buf ? -e : -ENOMEM;
    }
    /* Paths inside the file are relative to the file's directory, wherever we are started. */
    char dir[4096] = "";
    const char *slash = strrchr(path, '/');
    if (slash != NULL)
        snprintf(dir, sizeof(dir), "%.*s/", (int)(slash - path), path);
    int rc = load(path, dir, buf, (size_t)got, out, errs);
    free(buf);
    return rc;
}

void cfg_free(const struct cfg *cfg) {
    if (cfg != NULL)
        cfg_arena_free(cfg->arena);
}

const struct cfg_adapter *cfg_adapter_find(const struct cfg *cfg, const char *name) {
    for (size_t i = 0; i < cfg->nadapters; i++)
        if (cfg->adapters[i].name != NULL && strcmp(cfg->adapters[i].name, name) == 0)
            return &cfg->adapters[i];
    return NULL;
}

const struct cfg_profile *cfg_profile_find(const struct cfg *cfg, const char *name) {
    for (size_t i = 0; i < cfg->nprofiles; i++)
        if (strcmp(cfg->profiles[i].name, name) == 0)
            return &cfg->profiles[i];
    return NULL;
}
