/* SPDX-License-Identifier: Apache-2.0 */
/* Write-Attributes (PUT with a query and no payload, TS Core 1.1.1 §6.3.4, §5.1.1-5.1.2) and the
 * per-endpoint attribute store it fills: one sorted array of (server, path, attributes), made on
 * first use, and the effective-attribute lookup (object → instance → resource → resource
 * instance, then the Server object's defaults) that observations use. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dm_internal.h"
#include "observe_internal.h"

/* ---- The store ------------------------------------------------------------------------------ */

static int entry_cmp(uint16_t ssid, const struct lwm2m_path *p, const struct lwm2m_dm_attr *e) {
    if (ssid != e->ssid)
        return ssid < e->ssid ? -1 : 1;
    return lwm2m_path_cmp(p, &e->path);
}

/* Index of the first entry not below (ssid, p). */
static size_t lower(const struct lwm2m_attr_entry *st, uint16_t ssid, const struct lwm2m_path *p) {
    size_t lo = 0, hi = st->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (entry_cmp(ssid, p, &st->v[mid]) > 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

const struct lwm2m_attrs *lwm2m_attr_get(const struct lwm2m_endpoint *ep, uint16_t ssid,
                                         const struct lwm2m_path *p) {
    const struct lwm2m_attr_entry *st = ep->attrs;
    if (st == NULL || st->n == 0)
        return NULL;
    size_t i = lower(st, ssid, p);
    return i < st->n && entry_cmp(ssid, p, &st->v[i]) == 0 ? &st->v[i].a : NULL;
}

/* Stores a (an empty set removes the entry). Returns 0 or LWM2M_ERR_NOMEM. */
static int attr_put(struct lwm2m_endpoint *ep, uint16_t ssid, const struct lwm2m_path *p,
                    const struct lwm2m_attrs *a) {
    struct lwm2m_attr_entry *st = lwm2m_dm_store(ep);
    if (st == NULL)
        return LWM2M_ERR_NOMEM;
    size_t i = lower(st, ssid, p);
    bool found = i < st->n && entry_cmp(ssid, p, &st->v[i]) == 0;
    if (a->set == 0) {
        if (found) {
            memmove(&st->v[i], &st->v[i + 1], (st->n - i - 1) * sizeof(*st->v));
            st->n--;
        }
    } else if (found) {
        st->v[i].a = *a;
    } else {
        if (st->n == st->cap) {
            size_t cap = st->cap != 0 ? st->cap * 2 : 4;
            struct lwm2m_dm_attr *v = realloc(st->v, cap * sizeof(*v));
            if (v == NULL)
                return LWM2M_ERR_NOMEM;
            st->v = v;
            st->cap = cap;
        }
        memmove(&st->v[i + 1], &st->v[i], (st->n - i) * sizeof(*st->v));
        st->v[i] = (struct lwm2m_dm_attr){.ssid = ssid, .path = *p, .a = *a};
        st->n++;
    }
    ep->nattrs = st->n;
    return 0;
}

void lwm2m_attr_drop(struct lwm2m_endpoint *ep, const struct lwm2m_path *p) {
    struct lwm2m_attr_entry *st = ep->attrs;
    size_t k = 0;
    if (st == NULL)
        return;
    for (size_t i = 0; i < st->n; i++)
        if (!lwm2m_path_has_prefix(&st->v[i].path, p))
            st->v[k++] = st->v[i];
    st->n = k;
    ep->nattrs = k;
}

void lwm2m_attr_free_all(struct lwm2m_attr_entry *st) {
    free(st->v);
    st->v = NULL;
    st->n = st->cap = 0;
}

void lwm2m_attr_merge(struct lwm2m_attrs *a, const struct lwm2m_attrs *b) {
    uint16_t s = b->set;
    a->pmin = s & LWM2M_ATTR_PMIN ? b->pmin : a->pmin;
    a->pmax = s & LWM2M_ATTR_PMAX ? b->pmax : a->pmax;
    a->gt = s & LWM2M_ATTR_GT ? b->gt : a->gt;
    a->lt = s & LWM2M_ATTR_LT ? b->lt : a->lt;
    a->st = s & LWM2M_ATTR_ST ? b->st : a->st;
    a->epmin = s & LWM2M_ATTR_EPMIN ? b->epmin : a->epmin;
    a->epmax = s & LWM2M_ATTR_EPMAX ? b->epmax : a->epmax;
    a->edge = s & LWM2M_ATTR_EDGE ? b->edge : a->edge;
    a->con = s & LWM2M_ATTR_CON ? b->con : a->con;
    a->hqmax = s & LWM2M_ATTR_HQMAX ? b->hqmax : a->hqmax;
    a->set |= s;
}

int lwm2m_attr_effective(const struct lwm2m_endpoint *ep, const struct lwm2m_server *s,
                         const struct lwm2m_path *p, struct lwm2m_attrs *out) {
    memset(out, 0, sizeof(*out));
    for (uint8_t lvl = 1; lvl <= p->len; lvl++) {
        struct lwm2m_path up = *p;
        up.len = lvl;
        const struct lwm2m_attrs *a = lwm2m_attr_get(ep, s->ssid, &up);
        if (a != NULL)
            lwm2m_attr_merge(out, a);
    }
    /* Appendix E.2: /1/x/2 and /1/x/3 apply "if pmin/pmax is not present" at any level; a
     * zero default means no minimum and no maximum, i.e. nothing to set. */
    if (!(out->set & LWM2M_ATTR_PMIN) && s->default_pmin != 0) {
        out->pmin = s->default_pmin;
        out->set |= LWM2M_ATTR_PMIN;
    }
    if (!(out->set & LWM2M_ATTR_PMAX) && s->default_pmax != 0) {
        out->pmax = s->default_pmax;
        out->set |= LWM2M_ATTR_PMAX;
    }
    return 0;
}

/* ---- Link output ---------------------------------------------------------------------------- */

/* gt=30 rather than the shortest-%g "3e+01": both read back, but servers and people expect the
 * plain number; fractions keep the shortest exact form. */
static int link_number(struct lwm2m_link_writer *w, const char *name, double v) {
    if (v == trunc(v) && fabs(v) < 1e15)
        return lwm2m_link_attr_int(w, name, (int64_t)v);
    return lwm2m_link_attr_float(w, name, v);
}

int lwm2m_attr_link(struct lwm2m_link_writer *w, const struct lwm2m_attrs *a) {
    uint16_t s = a->set;
    int rc = 0;
    if (rc == 0 && (s & LWM2M_ATTR_PMIN))
        rc = lwm2m_link_attr_int(w, "pmin", a->pmin);
    if (rc == 0 && (s & LWM2M_ATTR_PMAX))
        rc = lwm2m_link_attr_int(w, "pmax", a->pmax);
    if (rc == 0 && (s & LWM2M_ATTR_GT))
        rc = link_number(w, "gt", a->gt);
    if (rc == 0 && (s & LWM2M_ATTR_LT))
        rc = link_number(w, "lt", a->lt);
    if (rc == 0 && (s & LWM2M_ATTR_ST))
        rc = link_number(w, "st", a->st);
    if (rc == 0 && (s & LWM2M_ATTR_EPMIN))
        rc = lwm2m_link_attr_int(w, "epmin", a->epmin);
    if (rc == 0 && (s & LWM2M_ATTR_EPMAX))
        rc = lwm2m_link_attr_int(w, "epmax", a->epmax);
    if (rc == 0 && (s & LWM2M_ATTR_EDGE))
        rc = lwm2m_link_attr_int(w, "edge", a->edge);
    if (rc == 0 && (s & LWM2M_ATTR_CON))
        rc = lwm2m_link_attr_int(w, "con", a->con);
    if (rc == 0 && (s & LWM2M_ATTR_HQMAX))
        rc = lwm2m_link_attr_int(w, "hqmax", a->hqmax);
    return rc;
}

/* ---- Parsing a query ------------------------------------------------------------------------ */

enum val_kind { VK_U32, VK_FLOAT, VK_BIT };

static const struct {
    const char *name;
    uint16_t bit;
    uint8_t kind;
} attr_names[] = {
    {"pmin", LWM2M_ATTR_PMIN, VK_U32},   {"pmax", LWM2M_ATTR_PMAX, VK_U32},
    {"gt", LWM2M_ATTR_GT, VK_FLOAT},     {"lt", LWM2M_ATTR_LT, VK_FLOAT},
    {"st", LWM2M_ATTR_ST, VK_FLOAT},     {"epmin", LWM2M_ATTR_EPMIN, VK_U32},
    {"epmax", LWM2M_ATTR_EPMAX, VK_U32}, {"edge", LWM2M_ATTR_EDGE, VK_BIT},
    {"con", LWM2M_ATTR_CON, VK_BIT},     {"hqmax", LWM2M_ATTR_HQMAX, VK_U32},
};

/* Parses a value into u or f. Numbers are plain decimal: strtod alone would also take "nan",
 * "inf", hex floats and leading spaces. */
static int parse_val(const uint8_t *s, size_t n, uint8_t kind, uint32_t *u, double *f) {
    char buf[40], *end;
    if (n == 0 || n >= sizeof(buf))
        return LWM2M_ERR_INVALID;
    for (size_t i = 0; i < n; i++) {
        char c = (char)s[i];
        bool digit = c >= '0' && c <= '9';
        if (!digit && (kind != VK_FLOAT || strchr("+-.eE", c) == NULL))
            return LWM2M_ERR_INVALID;
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    errno = 0;
    if (kind == VK_FLOAT) {
        *f = strtod(buf, &end);
        return *end == '\0' && errno == 0 && isfinite(*f) ? 0 : LWM2M_ERR_INVALID;
    }
    unsigned long long v = strtoull(buf, &end, 10);
    if (*end != '\0' || errno != 0 || v > UINT32_MAX || (kind == VK_BIT && v > 1))
        return LWM2M_ERR_INVALID;
    *u = (uint32_t)v;
    return 0;
}

static void attr_assign(struct lwm2m_attrs *a, uint16_t bit, uint32_t u, double f) {
    switch (bit) {
    case LWM2M_ATTR_PMIN:
        a->pmin = u;
        break;
    case LWM2M_ATTR_PMAX:
        a->pmax = u;
        break;
    case LWM2M_ATTR_GT:
        a->gt = f;
        break;
    case LWM2M_ATTR_LT:
        a->lt = f;
        break;
    case LWM2M_ATTR_ST:
        a->st = f;
        break;
    case LWM2M_ATTR_EPMIN:
        a->epmin = u;
        break;
    case LWM2M_ATTR_EPMAX:
        a->epmax = u;
        break;
    case LWM2M_ATTR_EDGE:
        a->edge = (uint8_t)u;
        break;
    case LWM2M_ATTR_CON:
        a->con = (uint8_t)u;
        break;
    default:
        a->hqmax = u;
        break;
    }
}

/* Applies one "name=value" (set) or "name" (unset, §6.3.4) to a. Unknown names, and the
 * read-only <PROPERTIES> ones (dim, ver, ...), are a bad request. */
static int apply_query(struct lwm2m_attrs *a, const uint8_t *q, size_t n) {
    const uint8_t *eq = memchr(q, '=', n);
    size_t nl = eq != NULL ? (size_t)(eq - q) : n;
    for (size_t i = 0; i < sizeof(attr_names) / sizeof(attr_names[0]); i++) {
        if (strlen(attr_names[i].name) != nl || memcmp(attr_names[i].name, q, nl) != 0)
            continue;
        uint32_t u = 0;
        double f = 0;
        if (eq == NULL) {
            a->set &= (uint16_t)~attr_names[i].bit;
            return 0;
        }
        if (parse_val(eq + 1, n - nl - 1, attr_names[i].kind, &u, &f) != 0)
            return LWM2M_ERR_INVALID;
        attr_assign(a, attr_names[i].bit, u, f);
        a->set |= attr_names[i].bit;
        return 0;
    }
    return LWM2M_ERR_INVALID;
}

/* ---- Validation and the operation ----------------------------------------------------------- */

static bool numeric(uint8_t type) {
    return type == LWM2M_TYPE_INTEGER || type == LWM2M_TYPE_UNSIGNED || type == LWM2M_TYPE_FLOAT;
}

/* §5.1.1: gt/lt/st only on numeric resources (and resource instances), edge only on Boolean
 * ones (1.2); pmax >= pmin, epmax >= epmin; lt < gt and, with st, lt + 2·st < gt; st >= 0. */
static int attr_check(const struct lwm2m_dm_req *r, const struct lwm2m_attrs *a) {
    const struct lwm2m_resource_def *rd = lwm2m_model_path_resource(r->model, &r->path);
    uint16_t s = a->set;
    if ((s & (LWM2M_ATTR_GT | LWM2M_ATTR_LT | LWM2M_ATTR_ST)) && (rd == NULL || !numeric(rd->type)))
        return LWM2M_ERR_INVALID;
    if ((s & LWM2M_ATTR_EDGE) && (rd == NULL || rd->type != LWM2M_TYPE_BOOLEAN))
        return LWM2M_ERR_INVALID;
    if ((s & LWM2M_ATTR_PMIN) && (s & LWM2M_ATTR_PMAX) && a->pmax < a->pmin)
        return LWM2M_ERR_INVALID;
    if ((s & LWM2M_ATTR_EPMIN) && (s & LWM2M_ATTR_EPMAX) && a->epmax < a->epmin)
        return LWM2M_ERR_INVALID;
    if ((s & LWM2M_ATTR_ST) && a->st < 0)
        return LWM2M_ERR_INVALID;
    if ((s & LWM2M_ATTR_LT) && (s & LWM2M_ATTR_GT)) {
        if (!(a->lt < a->gt))
            return LWM2M_ERR_INVALID;
        if ((s & LWM2M_ATTR_ST) && !(a->lt + 2 * a->st < a->gt))
            return LWM2M_ERR_INVALID;
    }
    return 0;
}

int lwm2m_dm_write_attributes(struct lwm2m_dm_req *r) {
    const struct coap_msg *m = r->in->req;
    struct lwm2m_attrs a = {0};
    int rc = 0, nq = 0;
    if (r->path.len == 0)
        rc = LWM2M_DM_ERR_NOT_ALLOWED;
    else if (lwm2m_src_check(r, &r->path) != 0 || !lwm2m_src_has(r, &r->path))
        rc = LWM2M_ERR_NOTFOUND;
    if (rc == 0) {
        const struct lwm2m_attrs *cur = lwm2m_attr_get(r->ep, r->srv->ssid, &r->path);
        if (cur != NULL)
            a = *cur;
    }
    for (const struct coap_option *o = coap_msg_opt(m, COAP_OPT_URI_QUERY); rc == 0 && o != NULL;
         o = coap_msg_opt_next(m, o), nq++)
        rc = apply_query(&a, o->val, o->len);
    if (rc == 0 && nq == 0)
        rc = LWM2M_ERR_INVALID; /* a PUT with no payload, no Content-Format and no attribute */
    if (rc == 0)
        rc = attr_check(r, &a);
    if (rc == 0)
        rc = attr_put(r->ep, r->srv->ssid, &r->path, &a);
    if (rc == 0)
        lwm2m_obs_kick(r->ep); /* new periods apply to running observations now, not later */
    return lwm2m_dm_reply_err(r, rc);
}
