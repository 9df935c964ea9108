/* SPDX-License-Identifier: Apache-2.0 */
/* The object registry: a sorted array of definitions (built-in ones point into the static
 * tables, loaded ones are owned), lookups by binary search, path and value checks, and the
 * RangeEnumeration parser shared by the built-in tables' tests and the DDF loader. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lwm2m/error.h"
#include "model_internal.h"

struct model_entry {
    const struct lwm2m_object_def *def;
    struct lwm2m_object_def *owned; /* == def when loaded, NULL when built in */
    char *origin;                   /* file it was loaded from; NULL when built in */
};

struct lwm2m_model {
    struct model_entry *v; /* sorted by def->id, ids unique */
    size_t n;
    size_t cap;
    bool sealed;
};

static int add_builtins(struct lwm2m_model *m, const struct lwm2m_object_def *defs, size_t n) {
    for (size_t i = 0; i < n; i++) {
        /* The tables are written by hand: refuse them unsorted rather than answer wrongly. */
        if (m->n > 0 && m->v[m->n - 1].def->id >= defs[i].id)
            return LWM2M_ERR_INVALID;
        for (size_t r = 1; r < defs[i].nres; r++)
            if (defs[i].res[r - 1].id >= defs[i].res[r].id)
                return LWM2M_ERR_INVALID;
        m->v[m->n++] = (struct model_entry){.def = &defs[i]};
    }
    return 0;
}

int lwm2m_model_new(struct lwm2m_model **out) {
    size_t ncore, nipso;
    const struct lwm2m_object_def *core = lwm2m_builtin_core(&ncore);
    const struct lwm2m_object_def *ipso = lwm2m_builtin_ipso(&nipso);
    struct lwm2m_model *m = calloc(1, sizeof(*m));
    int rc;

    *out = NULL;
    if (!m)
        return LWM2M_ERR_NOMEM;
    m->cap = ncore + nipso;
    m->v = calloc(m->cap, sizeof(*m->v));
    if (!m->v) {
        free(m);
        return LWM2M_ERR_NOMEM;
    }
    rc = add_builtins(m, core, ncore);
    if (rc == 0)
        rc = add_builtins(m, ipso, nipso);
    if (rc < 0) {
        lwm2m_model_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

void lwm2m_model_free(struct lwm2m_model *m) {
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++) {
        lwm2m_object_def_free(m->v[i].owned);
        free(m->v[i].origin);
    }
    free(m->v);
    free(m);
}

void lwm2m_model_seal(struct lwm2m_model *m) {
    m->sealed = true;
}

bool lwm2m_model_sealed(const struct lwm2m_model *m) {
    return m->sealed;
}

/* Index of oid, or of where it would be inserted (with *found false). */
static size_t find_index(const struct lwm2m_model *m, uint16_t oid, bool *found) {
    size_t lo = 0, hi = m->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint16_t id = m->v[mid].def->id;
        if (id == oid) {
            *found = true;
            return mid;
        }
        if (id < oid)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

const struct lwm2m_object_def *lwm2m_model_object(const struct lwm2m_model *m, uint16_t oid) {
    bool found;
    size_t i = find_index(m, oid, &found);
    return found ? m->v[i].def : NULL;
}

const struct lwm2m_resource_def *lwm2m_object_resource(const struct lwm2m_object_def *o,
                                                       uint16_t rid) {
    size_t lo = 0, hi = o->nres;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (o->res[mid].id == rid)
            return &o->res[mid];
        if (o->res[mid].id < rid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const struct lwm2m_resource_def *lwm2m_model_resource(const struct lwm2m_model *m, uint16_t oid,
                                                      uint16_t rid) {
    const struct lwm2m_object_def *o = lwm2m_model_object(m, oid);
    return o ? lwm2m_object_resource(o, rid) : NULL;
}

size_t lwm2m_model_count(const struct lwm2m_model *m) {
    return m->n;
}

const struct lwm2m_object_def *lwm2m_model_object_at(const struct lwm2m_model *m, size_t i) {
    return i < m->n ? m->v[i].def : NULL;
}

bool lwm2m_model_is_builtin(const struct lwm2m_model *m, uint16_t oid) {
    bool found;
    size_t i = find_index(m, oid, &found);
    return found && !m->v[i].owned;
}

const char *lwm2m_model_origin(const struct lwm2m_model *m, uint16_t oid) {
    bool found;
    size_t i = find_index(m, oid, &found);

    if (!found)
        return NULL;
    return m->v[i].origin ? m->v[i].origin : "built-in";
}

int lwm2m_model_reserve(struct lwm2m_model *m, size_t extra) {
    struct model_entry *v;
    size_t want = m->n + extra;

    if (want <= m->cap)
        return 0;
    v = realloc(m->v, want * sizeof(*v));
    if (!v)
        return LWM2M_ERR_NOMEM;
    m->v = v;
    m->cap = want;
    return 0;
}

void lwm2m_model_commit(struct lwm2m_model *m, struct lwm2m_object_def *obj, char *origin) {
    bool found;
    size_t i = find_index(m, obj->id, &found);

    if (found) {
        lwm2m_object_def_free(m->v[i].owned);
        free(m->v[i].origin);
    } else {
        memmove(&m->v[i + 1], &m->v[i], (m->n - i) * sizeof(*m->v));
        m->n++;
    }
    m->v[i] = (struct model_entry){.def = obj, .owned = obj, .origin = origin};
}

void lwm2m_object_def_free(struct lwm2m_object_def *obj) {
    if (!obj)
        return;
    /* Loaded definitions own every string; the const in the public struct is for readers. */
    for (size_t i = 0; i < obj->nres; i++) {
        free((char *)obj->res[i].name);
        free((char *)obj->res[i].units);
        free((char *)obj->res[i].range.text);
    }
    free((void *)obj->res);
    free((char *)obj->name);
    free((char *)obj->version);
    free(obj);
}

const struct lwm2m_resource_def *lwm2m_model_path_resource(const struct lwm2m_model *m,
                                                           const struct lwm2m_path *p) {
    if (p->len < 3)
        return NULL;
    return lwm2m_model_resource(m, p->ids[0], p->ids[2]);
}

int lwm2m_model_resource_type(const struct lwm2m_model *m, const struct lwm2m_path *p,
                              enum lwm2m_type *out) {
    const struct lwm2m_resource_def *r;

    if (p->len < 3)
        return LWM2M_ERR_INVALID;
    r = lwm2m_model_path_resource(m, p);
    if (!r)
        return LWM2M_ERR_NOTFOUND;
    *out = (enum lwm2m_type)r->type;
    return 0;
}

int lwm2m_model_check_path(const struct lwm2m_model *m, const struct lwm2m_path *p) {
    const struct lwm2m_object_def *o;
    const struct lwm2m_resource_def *r;

    if (p->len == 0)
        return 0;
    o = lwm2m_model_object(m, p->ids[0]);
    if (!o)
        return LWM2M_ERR_NOTFOUND;
    if (p->len >= 2 && !o->multiple && p->ids[1] != 0)
        return LWM2M_ERR_NOTFOUND;
    if (p->len < 3)
        return 0;
    r = lwm2m_object_resource(o, p->ids[2]);
    if (!r || (p->len >= 4 && !r->multiple))
        return LWM2M_ERR_NOTFOUND;
    return 0;
}

/* --- values and ranges --- */

static bool in_range_double(const struct lwm2m_range *rg, double d) {
    /* Written so that NaN fails. */
    return d >= rg->min && d <= rg->max;
}

static bool in_range_int(const struct lwm2m_range *rg, int64_t i) {
    /* Beyond 2^53 the double rounds; only the last step of a huge range could misjudge. */
    return in_range_double(rg, (double)i);
}

static bool in_range_uint(const struct lwm2m_range *rg, uint64_t u) {
    return in_range_double(rg, (double)u);
}

int lwm2m_resource_check_value(const struct lwm2m_resource_def *r, const struct lwm2m_value *v) {
    const struct lwm2m_range *rg = &r->range;

    if (r->type == LWM2M_TYPE_NONE || v->type != r->type)
        return LWM2M_ERR_INVALID;
    if (rg->kind == LWM2M_RANGE_VALUE) {
        bool ok = true;
        switch (v->type) {
        case LWM2M_TYPE_INTEGER:
        case LWM2M_TYPE_TIME:
            ok = in_range_int(rg, v->v.i);
            break;
        case LWM2M_TYPE_UNSIGNED:
            ok = in_range_uint(rg, v->v.u);
            break;
        case LWM2M_TYPE_FLOAT:
            ok = in_range_double(rg, v->v.f);
            break;
        default:
            break;
        }
        return ok ? 0 : LWM2M_ERR_INVALID;
    }
    if (rg->kind == LWM2M_RANGE_LENGTH) {
        switch (v->type) {
        case LWM2M_TYPE_STRING:
        case LWM2M_TYPE_OPAQUE:
        case LWM2M_TYPE_CORELNK:
            return in_range_uint(rg, v->v.bytes.len) ? 0 : LWM2M_ERR_INVALID;
        default:
            break;
        }
    }
    return 0;
}

int lwm2m_model_check_value(const struct lwm2m_model *m, const struct lwm2m_path *p,
                            const struct lwm2m_value *v) {
    const struct lwm2m_resource_def *r = lwm2m_model_path_resource(m, p);
    return r ? lwm2m_resource_check_value(r, v) : LWM2M_ERR_NOTFOUND;
}

static bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}
static bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

/* Scans a decimal number (sign, digits, fraction, exponent; no hex, inf or nan, which strtod
 * would take) at s and returns its length, 0 when there is none. */
static size_t scan_number(const char *s, size_t n) {
    size_t i = 0, digits = 0;

    if (i < n && (s[i] == '-' || s[i] == '+'))
        i++;
    while (i < n && is_digit(s[i]))
        i++, digits++;
    if (i < n && s[i] == '.' && i + 1 < n && is_digit(s[i + 1])) {
        i++;
        while (i < n && is_digit(s[i]))
            i++, digits++;
    }
    if (digits == 0)
        return 0;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        size_t j = i + 1;
        if (j < n && (s[j] == '-' || s[j] == '+'))
            j++;
        if (j < n && is_digit(s[j])) {
            while (j < n && is_digit(s[j]))
                j++;
            i = j;
        }
    }
    return i;
}

static bool to_double(const char *s, size_t n, double *out) {
    char buf[64];

    if (n >= sizeof(buf))
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    *out = strtod(buf, NULL);
    return isfinite(*out);
}

/* Parses "a..b", "a-b" or "a" (whitespace allowed around the parts) into *lo and *hi. */
static bool parse_bounds(const char *s, size_t n, double *lo, double *hi) {
    size_t i = 0, k;

    while (i < n && is_space(s[i]))
        i++;
    k = scan_number(s + i, n - i);
    if (k == 0 || !to_double(s + i, k, lo))
        return false;
    i += k;
    while (i < n && is_space(s[i]))
        i++;
    if (i == n) {
        *hi = *lo;
        return true;
    }
    if (n - i >= 2 && s[i] == '.' && s[i + 1] == '.')
        i += 2;
    else if (s[i] == '-')
        i += 1;
    else
        return false;
    while (i < n && is_space(s[i]))
        i++;
    k = scan_number(s + i, n - i);
    if (k == 0 || !to_double(s + i, k, hi))
        return false;
    i += k;
    while (i < n && is_space(s[i]))
        i++;
    return i == n;
}

int lwm2m_range_parse(enum lwm2m_type type, const char *text, struct lwm2m_range *out) {
    size_t n = strlen(text);
    double lo, hi;
    bool numeric = type == LWM2M_TYPE_INTEGER || type == LWM2M_TYPE_UNSIGNED ||
                   type == LWM2M_TYPE_FLOAT || type == LWM2M_TYPE_TIME;
    bool length =
        type == LWM2M_TYPE_STRING || type == LWM2M_TYPE_OPAQUE || type == LWM2M_TYPE_CORELNK;

    *out = (struct lwm2m_range){.kind = LWM2M_RANGE_NONE, .text = text};
    while (n > 0 && is_space(text[n - 1]))
        n--;
    if (n == 0 || (!numeric && !length) || !parse_bounds(text, n, &lo, &hi)) {
        if (n > 0)
            out->kind = LWM2M_RANGE_TEXT;
        return 0;
    }
    /* A length is a whole, non-negative number of bytes; "1.5..2" is prose, not a length. */
    if (length && (lo < 0 || floor(lo) != lo || floor(hi) != hi)) {
        out->kind = LWM2M_RANGE_TEXT;
        return 0;
    }
    if (lo > hi)
        return LWM2M_ERR_INVALID;
    out->kind = numeric ? LWM2M_RANGE_VALUE : LWM2M_RANGE_LENGTH;
    out->min = lo;
    out->max = hi;
    return 0;
}
