/* SPDX-License-Identifier: Apache-2.0 */
/* CoRE link format (RFC 6690, Content-Format 40) as Register, Update and Discover use it:
 * a writer for `</3/0>;ver=1.1,</3303/0/5700>;pmin=10` with RFC 6690 quoting, and a tolerant
 * parser for tests and tools. Hand-written: the grammar is small and no library is at hand. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fmt_internal.h"

void lwm2m_link_init(struct lwm2m_link_writer *w, char *buf, size_t cap) {
    memset(w, 0, sizeof(*w));
    w->buf = buf;
    w->cap = buf != NULL && cap > 0 ? cap - 1 : 0; /* keep a byte for the NUL */
}

static int link_put(struct lwm2m_link_writer *w, const char *s, size_t n) {
    if (w->err != 0) {
        return w->err;
    }
    if (n > w->cap - w->len) {
        w->err = LWM2M_ERR_NOSPACE;
        return w->err;
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    return 0;
}

static int link_start(struct lwm2m_link_writer *w) {
    int rc = w->links > 0 ? link_put(w, ",", 1) : 0;
    rc = rc != 0 ? rc : link_put(w, "<", 1);
    w->links++;
    return rc;
}

int lwm2m_link_add(struct lwm2m_link_writer *w, const char *prefix, const struct lwm2m_path *p) {
    char path[32];
    int n = lwm2m_path_format(p, path, sizeof(path));
    int rc = n < 0 ? n : link_start(w);
    if (rc == 0 && prefix != NULL && prefix[0] != '\0') {
        size_t pl = strlen(prefix);
        rc = link_put(w, prefix, pl);
        if (rc == 0 && p->len == 0 && prefix[pl - 1] != '/') {
            rc = link_put(w, "/", 1); /* "</dev1/>" names the prefix root */
        }
        if (p->len == 0) {
            n = 0;
        }
    }
    rc = rc != 0 ? rc : link_put(w, path, (size_t)n);
    return rc != 0 ? rc : link_put(w, ">", 1);
}

int lwm2m_link_add_uri(struct lwm2m_link_writer *w, const char *uri) {
    int rc = link_start(w);
    rc = rc != 0 ? rc : link_put(w, uri, strlen(uri));
    return rc != 0 ? rc : link_put(w, ">", 1);
}

/* RFC 6690 §2: ptokenchar. */
static bool is_ptoken(const char *s) {
    static const char extra[] = "!#$%&'()*+-./:<=>?@[]^_`{|}~";
    if (*s == '\0') {
        return false;
    }
    for (; *s != '\0'; s++) {
        bool alnum =
            (*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z');
        if (!alnum && strchr(extra, *s) == NULL) {
            return false;
        }
    }
    return true;
}

static int attr_write(struct lwm2m_link_writer *w, const char *name, const char *value,
                      bool quote) {
    if (w->links == 0) {
        w->err = w->err != 0 ? w->err : LWM2M_ERR_STATE; /* an attribute needs a link */
        return w->err;
    }
    int rc = link_put(w, ";", 1);
    rc = rc != 0 ? rc : link_put(w, name, strlen(name));
    if (rc != 0 || value == NULL) {
        return rc;
    }
    rc = link_put(w, "=", 1);
    if (!quote) {
        return rc != 0 ? rc : link_put(w, value, strlen(value));
    }
    rc = rc != 0 ? rc : link_put(w, "\"", 1);
    for (const char *c = value; rc == 0 && *c != '\0'; c++) {
        if (*c == '"' || *c == '\\') {
            rc = link_put(w, "\\", 1); /* quoted-pair */
        }
        rc = rc != 0 ? rc : link_put(w, c, 1);
    }
    return rc != 0 ? rc : link_put(w, "\"", 1);
}

int lwm2m_link_attr(struct lwm2m_link_writer *w, const char *name, const char *value) {
    return attr_write(w, name, value, value != NULL && !is_ptoken(value));
}

int lwm2m_link_attr_quoted(struct lwm2m_link_writer *w, const char *name, const char *value) {
    return attr_write(w, name, value, value != NULL);
}

int lwm2m_link_attr_int(struct lwm2m_link_writer *w, const char *name, int64_t v) {
    char tmp[24];
    snprintf(tmp, sizeof(tmp), "%" PRId64, v);
    return attr_write(w, name, tmp, false);
}

int lwm2m_link_attr_float(struct lwm2m_link_writer *w, const char *name, double v) {
    char tmp[40];
    if (!isfinite(v) || lwm2m_fmt_double(v, tmp, sizeof(tmp)) < 0) {
        w->err = w->err != 0 ? w->err : LWM2M_ERR_INVALID;
        return w->err;
    }
    return attr_write(w, name, tmp, false);
}

int lwm2m_link_finish(struct lwm2m_link_writer *w, size_t *len) {
    if (w->buf != NULL && w->len <= w->cap) {
        w->buf[w->len] = '\0';
    }
    if (len != NULL) {
        *len = w->err == 0 ? w->len : 0;
    }
    return w->err;
}

/* ---- parsing ---- */

static size_t skip_ws(const char *s, size_t n, size_t i) {
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n')) {
        i++;
    }
    return i;
}

/* Parses one ";name[=value]" starting after the ';'. */
static int parse_attr(const char *s, size_t n, size_t *pos, struct lwm2m_link *l) {
    size_t i = skip_ws(s, n, *pos), start = i;
    if (l->nattrs == LWM2M_LINK_MAX_ATTRS) {
        return LWM2M_ERR_FORMAT;
    }
    while (i < n && s[i] != '=' && s[i] != ';' && s[i] != ',' && s[i] != ' ') {
        i++;
    }
    if (i == start) {
        return LWM2M_ERR_FORMAT;
    }
    struct lwm2m_link_attr *a = &l->attrs[l->nattrs++];
    memset(a, 0, sizeof(*a));
    a->name = s + start, a->name_len = i - start;
    i = skip_ws(s, n, i);
    if (i < n && s[i] == '=') {
        i = skip_ws(s, n, i + 1);
        if (i < n && s[i] == '"') {
            size_t vs = ++i;
            while (i < n && s[i] != '"') {
                i += (s[i] == '\\' && i + 1 < n) ? 2 : 1;
            }
            if (i >= n) {
                return LWM2M_ERR_FORMAT; /* unterminated quoted string */
            }
            a->value = s + vs, a->value_len = i - vs, a->quoted = true;
            i++;
        } else {
            size_t vs = i;
            while (i < n && s[i] != ';' && s[i] != ',' && s[i] != ' ' && s[i] != '\n') {
                i++;
            }
            a->value = s + vs, a->value_len = i - vs;
        }
    }
    *pos = i;
    return 0;
}

int lwm2m_link_parse(const char *s, size_t n, lwm2m_link_fn fn, void *ctx) {
    size_t i = skip_ws(s, n, 0);
    while (i < n) {
        struct lwm2m_link l;
        memset(&l, 0, sizeof(l));
        if (s[i] != '<') {
            return LWM2M_ERR_FORMAT;
        }
        const char *end = memchr(s + i, '>', n - i);
        if (end == NULL) {
            return LWM2M_ERR_FORMAT;
        }
        l.uri = s + i + 1, l.uri_len = (size_t)(end - l.uri);
        i = skip_ws(s, n, (size_t)(end - s) + 1);
        while (i < n && s[i] == ';') {
            i++;
            int rc = parse_attr(s, n, &i, &l);
            if (rc != 0) {
                return rc;
            }
            i = skip_ws(s, n, i);
        }
        if (i < n && s[i] != ',') {
            return LWM2M_ERR_FORMAT;
        }
        int rc = fn(ctx, &l);
        if (rc != 0) {
            return rc;
        }
        i = i < n ? skip_ws(s, n, i + 1) : n;
    }
    return 0;
}
