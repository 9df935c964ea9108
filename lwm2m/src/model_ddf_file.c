/* SPDX-License-Identifier: Apache-2.0 */
/* DDF loading from the file system: one file (read whole, size-capped) or every *.xml file of a
 * directory in name order. The parsing itself is model_ddf.c's; this file only finds bytes. */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "lwm2m/error.h"
#include "model_internal.h"

#define DDF_MAX_BYTES LWM2M_DDF_MAX_BYTES

static void report(struct lwm2m_model_error *err, const char *file, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void report(struct lwm2m_model_error *err, const char *file, const char *fmt, ...) {
    va_list ap;
    int n;

    if (!err)
        return;
    err->line = err->column = 0;
    n = snprintf(err->msg, sizeof(err->msg), "%s: ", file);
    if (n < 0 || (size_t)n >= sizeof(err->msg))
        return;
    va_start(ap, fmt);
    vsnprintf(err->msg + n, sizeof(err->msg) - (size_t)n, fmt, ap);
    va_end(ap);
}

static int read_file(const char *path, char **out, size_t *len, struct lwm2m_model_error *err) {
    FILE *f = fopen(path, "rb");
    struct stat st;
    char *buf;
    size_t n;

    if (!f) {
        report(err, path, "cannot open: %s", strerror(errno));
        return LWM2M_ERR_IO;
    }
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        report(err, path, "not a regular file");
        fclose(f);
        return LWM2M_ERR_IO;
    }
    if ((unsigned long long)st.st_size > DDF_MAX_BYTES) {
        report(err, path, "larger than %u bytes", DDF_MAX_BYTES);
        fclose(f);
        return LWM2M_ERR_FORMAT;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        report(err, path, "out of memory");
        fclose(f);
        return LWM2M_ERR_NOMEM;
    }
    n = fread(buf, 1, (size_t)st.st_size, f);
    if (ferror(f)) {
        report(err, path, "cannot read: %s", strerror(errno));
        fclose(f);
        free(buf);
        return LWM2M_ERR_IO;
    }
    fclose(f);
    *out = buf;
    *len = n;
    return 0;
}

int lwm2m_model_load_ddf_file(struct lwm2m_model *m, const char *path, unsigned flags,
                              struct lwm2m_model_error *err) {
    char *buf;
    size_t len;
    int rc;

    if (err)
        memset(err, 0, sizeof(*err));
    rc = read_file(path, &buf, &len, err);
    if (rc < 0)
        return rc;
    rc = lwm2m_model_load_ddf(m, path, buf, len, flags, err);
    free(buf);
    return rc;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_xml_name(const char *n) {
    size_t len = strlen(n);
    return n[0] != '.' && len > 4 && strcasecmp(n + len - 4, ".xml") == 0;
}

/* Collects the paths of the regular *.xml files in dir, sorted. */
static int list_dir(const char *dir, char ***out, size_t *count, struct lwm2m_model_error *err) {
    DIR *d = opendir(dir);
    struct dirent *e;
    char **v = NULL;
    size_t n = 0, cap = 0;
    struct stat st;

    if (!d) {
        report(err, dir, "cannot open directory: %s", strerror(errno));
        return LWM2M_ERR_IO;
    }
    while ((e = readdir(d)) != NULL) {
        char *path;
        if (!is_xml_name(e->d_name))
            continue;
        if (n == cap) {
            char **nv = realloc(v, (cap = cap ? cap * 2 : 16) * sizeof(*v));
            if (!nv)
                goto nomem;
            v = nv;
        }
        if (asprintf(&path, "%s/%s", dir, e->d_name) < 0)
            goto nomem;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
            free(path);
            continue;
        }
        v[n++] = path;
    }
    closedir(d);
    qsort(v, n, sizeof(*v), cmp_str);
    *out = v;
    *count = n;
    return 0;
nomem:
    closedir(d);
    while (n > 0)
        free(v[--n]);
    free(v);
    report(err, dir, "out of memory");
    return LWM2M_ERR_NOMEM;
}

int lwm2m_model_load_ddf_dir(struct lwm2m_model *m, const char *dir, unsigned flags,
                             size_t *nloaded, struct lwm2m_model_error *err) {
    char **paths;
    size_t n, done = 0;
    int rc;

    if (err)
        memset(err, 0, sizeof(*err));
    if (nloaded)
        *nloaded = 0;
    rc = list_dir(dir, &paths, &n, err);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        if (rc == 0 && (rc = lwm2m_model_load_ddf_file(m, paths[i], flags, err)) == 0)
            done++;
        free(paths[i]);
    }
    free(paths);
    if (nloaded)
        *nloaded = done;
    return rc;
}
