/* SPDX-License-Identifier: Apache-2.0 */
/* The point cache and the conversions between adapter values and LwM2M values. A point keeps
 * the last GOOD value even when the bus stops answering, so that a short outage does not turn
 * every Read into 5.03; br_point_stale decides when an old value may no longer be served. */
#include "point.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lwm2m/error.h"
#include "lwm2m/format.h"

void br_point_init(struct br_point *p, enum lwm2m_type type) {
    memset(p, 0, sizeof(*p));
    p->type = (uint8_t)type;
    p->quality = ADAPTER_Q_GOOD;
    p->v.type = LWM2M_TYPE_NONE;
}

void br_point_free(struct br_point *p) {
    free(p->buf);
    p->buf = NULL;
    p->cap = 0;
    p->has_value = false;
}

/* ---- adapter -> LwM2M ----------------------------------------------------------------------- */

/* A number as the adapter gave it: exactly one of the three is meant, by kind. */
struct num {
    enum { N_INT, N_UINT, N_DOUBLE } kind;
    int64_t i;
    uint64_t u;
    double f;
};

static int num_to_int(const struct num *n, int64_t *out) {
    if (n->kind == N_INT) {
        *out = n->i;
    } else if (n->kind == N_UINT) {
        if (n->u > (uint64_t)INT64_MAX)
            return LWM2M_ERR_FORMAT;
        *out = (int64_t)n->u;
    } else {
        double r = round(n->f); /* scaled register values: 229.99999 is 230 */
        if (!isfinite(r) || r < -9223372036854775808.0 || r >= 9223372036854775808.0)
            return LWM2M_ERR_FORMAT;
        *out = (int64_t)r;
    }
    return 0;
}

static int num_to_uint(const struct num *n, uint64_t *out) {
    if (n->kind == N_UINT) {
        *out = n->u;
    } else if (n->kind == N_INT) {
        if (n->i < 0)
            return LWM2M_ERR_FORMAT;
        *out = (uint64_t)n->i;
    } else {
        double r = round(n->f);
        if (!isfinite(r) || r < 0 || r >= 18446744073709551616.0)
            return LWM2M_ERR_FORMAT;
        *out = (uint64_t)r;
    }
    return 0;
}

static double num_to_double(const struct num *n) {
    return n->kind == N_INT ? (double)n->i : n->kind == N_UINT ? (double)n->u : n->f;
}

static int num_to_text(const struct num *n, char *s, size_t cap) {
    if (n->kind == N_INT)
        return snprintf(s, cap, "%" PRId64, n->i);
    if (n->kind == N_UINT)
        return snprintf(s, cap, "%" PRIu64, n->u);
    if (!isfinite(n->f))
        return -1;
    int len = snprintf(s, cap, "%.15g", n->f); /* the shortest form that reads back exactly */
    if (len > 0 && strtod(s, NULL) != n->f)
        len = snprintf(s, cap, "%.17g", n->f);
    return len;
}

static int from_number(const struct num *n, enum lwm2m_type want, struct lwm2m_value *out,
                       char *scratch, size_t cap) {
    int64_t i;
    uint64_t u;
    int len;
    switch (want) {
    case LWM2M_TYPE_INTEGER:
    case LWM2M_TYPE_TIME:
        if (num_to_int(n, &i) != 0)
            return LWM2M_ERR_FORMAT;
        *out = want == LWM2M_TYPE_TIME ? lwm2m_value_time(i) : lwm2m_value_int(i);
        return 0;
    case LWM2M_TYPE_UNSIGNED:
        if (num_to_uint(n, &u) != 0)
            return LWM2M_ERR_FORMAT;
        *out = lwm2m_value_uint(u);
        return 0;
    case LWM2M_TYPE_FLOAT:
        *out = lwm2m_value_float(num_to_double(n));
        return 0;
    case LWM2M_TYPE_BOOLEAN: /* a register bound to an on/off resource: non-zero is on */
        *out = lwm2m_value_bool(num_to_double(n) != 0.0);
        return 0;
    case LWM2M_TYPE_STRING:
        len = num_to_text(n, scratch, cap);
        if (len < 0 || (size_t)len >= cap)
            return LWM2M_ERR_FORMAT;
        *out = lwm2m_value_string(scratch, (size_t)len);
        return 0;
    default:
        return LWM2M_ERR_FORMAT;
    }
}

static int from_bytes(const struct adapter_value *av, enum lwm2m_type want,
                      struct lwm2m_value *out) {
    const uint8_t *b = av->v.bytes.ptr;
    size_t n = av->v.bytes.len;
    switch (want) {
    case LWM2M_TYPE_STRING:
        *out = lwm2m_value_string((const char *)b, n);
        return 0;
    case LWM2M_TYPE_CORELNK:
        *out = lwm2m_value_corelnk((const char *)b, n);
        return 0;
    case LWM2M_TYPE_OPAQUE:
        *out = lwm2m_value_opaque(b, n);
        return 0;
    default:
        if (av->type == ADAPTER_V_BYTES)
            return LWM2M_ERR_FORMAT; /* raw bytes carry no number */
        if (want == LWM2M_TYPE_BOOLEAN &&
            ((n == 4 && memcmp(b, "true", 4) == 0) || (n == 5 && memcmp(b, "false", 5) == 0))) {
            *out = lwm2m_value_bool(b[0] == 't');
            return 0;
        }
        return lwm2m_text_value(b, n, want, out) == 0 ? 0 : LWM2M_ERR_FORMAT;
    }
}

int br_value_from_adapter(const struct adapter_value *av, enum lwm2m_type want,
                          struct lwm2m_value *out, char *scratch, size_t scratch_cap) {
    struct num n = {.kind = N_INT};
    switch (av->type) {
    case ADAPTER_V_BOOL:
        if (want == LWM2M_TYPE_BOOLEAN) {
            *out = lwm2m_value_bool(av->v.b);
            return 0;
        }
        if (want == LWM2M_TYPE_STRING) {
            *out = lwm2m_value_string(av->v.b ? "true" : "false", av->v.b ? 4 : 5);
            return 0;
        }
        n.i = av->v.b ? 1 : 0;
        break;
    case ADAPTER_V_INT:
        n.i = av->v.i;
        break;
    case ADAPTER_V_UINT:
        n.kind = N_UINT;
        n.u = av->v.u;
        break;
    case ADAPTER_V_DOUBLE:
        n.kind = N_DOUBLE;
        n.f = av->v.f;
        break;
    case ADAPTER_V_STRING:
    case ADAPTER_V_BYTES:
        return from_bytes(av, want, out);
    default:
        return LWM2M_ERR_FORMAT;
    }
    return from_number(&n, want, out, scratch, scratch_cap);
}

/* ---- LwM2M -> adapter ----------------------------------------------------------------------- */

int br_value_to_adapter(const struct lwm2m_value *v, struct adapter_value *out) {
    memset(out, 0, sizeof(*out));
    out->quality = ADAPTER_Q_GOOD;
    switch (v->type) {
    case LWM2M_TYPE_BOOLEAN:
        out->type = ADAPTER_V_BOOL;
        out->v.b = v->v.b;
        return 0;
    case LWM2M_TYPE_INTEGER:
    case LWM2M_TYPE_TIME:
        out->type = ADAPTER_V_INT;
        out->v.i = v->v.i;
        return 0;
    case LWM2M_TYPE_UNSIGNED:
        out->type = ADAPTER_V_UINT;
        out->v.u = v->v.u;
        return 0;
    case LWM2M_TYPE_FLOAT:
        out->type = ADAPTER_V_DOUBLE;
        out->v.f = v->v.f;
        return 0;
    case LWM2M_TYPE_STRING:
    case LWM2M_TYPE_CORELNK:
    case LWM2M_TYPE_OPAQUE:
        out->type = v->type == LWM2M_TYPE_OPAQUE ? ADAPTER_V_BYTES : ADAPTER_V_STRING;
        out->v.bytes.ptr = v->v.bytes.ptr;
        out->v.bytes.len = v->v.bytes.len;
        return 0;
    default:
        return LWM2M_ERR_UNSUPPORTED;
    }
}

/* ---- the cache ------------------------------------------------------------------------------ */

/* Copies v into p (bytes into p->buf). */
static int store(struct br_point *p, const struct lwm2m_value *v) {
    struct lwm2m_value nv = *v;
    bool bytes = v->type == LWM2M_TYPE_STRING || v->type == LWM2M_TYPE_OPAQUE ||
                 v->type == LWM2M_TYPE_CORELNK;
    if (bytes) {
        size_t need = v->v.bytes.len ? v->v.bytes.len : 1;
        if (need > p->cap) {
            uint8_t *nb = realloc(p->buf, need);
            if (nb == NULL)
                return LWM2M_ERR_NOMEM;
            p->buf = nb;
            p->cap = need;
        }
        if (v->v.bytes.len)
            memmove(p->buf, v->v.bytes.ptr, v->v.bytes.len);
        nv.v.bytes.ptr = p->buf;
    }
    p->v = nv;
    p->has_value = true;
    return 0;
}

int br_point_set(struct br_point *p, const struct lwm2m_value *v, uint64_t now_mono,
                 uint64_t now_real) {
    bool changed = !p->has_value || p->quality != ADAPTER_Q_GOOD || !lwm2m_value_equal(&p->v, v);
    if (changed) {
        int rc = store(p, v);
        if (rc != 0)
            return rc;
        p->mono_ms = now_mono;
    }
    p->quality = ADAPTER_Q_GOOD;
    p->ts_ms = now_real;
    p->good_mono_ms = now_mono;
    return changed ? BR_POINT_CHANGED : BR_POINT_SAME;
}

int br_point_update(struct br_point *p, const struct adapter_value *av, uint64_t now_mono,
                    uint64_t now_real) {
    uint64_t ts = av->ts_ms ? av->ts_ms : now_real;
    if (av->quality == ADAPTER_Q_GOOD && av->type != ADAPTER_V_NONE) {
        char scratch[64];
        struct lwm2m_value v;
        if (br_value_from_adapter(av, (enum lwm2m_type)p->type, &v, scratch, sizeof(scratch)) !=
            0) {
            bool was = p->quality != ADAPTER_Q_BAD_DATA;
            p->quality = ADAPTER_Q_BAD_DATA;
            if (was)
                p->mono_ms = now_mono;
            return LWM2M_ERR_FORMAT;
        }
        return br_point_set(p, &v, now_mono, ts);
    }
    uint8_t q = av->quality == ADAPTER_Q_GOOD ? ADAPTER_Q_BAD_DATA : av->quality;
    if (q == p->quality)
        return BR_POINT_SAME;
    p->quality = q;
    p->mono_ms = now_mono;
    return BR_POINT_CHANGED;
}

int br_point_set_const(struct br_point *p, const char *text) {
    struct lwm2m_value v;
    size_t n = strlen(text);
    int rc;
    switch (p->type) {
    case LWM2M_TYPE_STRING:
        v = lwm2m_value_string(text, n);
        break;
    case LWM2M_TYPE_CORELNK:
        v = lwm2m_value_corelnk(text, n);
        break;
    case LWM2M_TYPE_OPAQUE: /* a constant opaque value is written as text, kept as its bytes */
        v = lwm2m_value_opaque(text, n);
        break;
    default: {
        struct adapter_value av = {.type = ADAPTER_V_STRING, .quality = ADAPTER_Q_GOOD};
        av.v.bytes.ptr = (const uint8_t *)text;
        av.v.bytes.len = n;
        rc = from_bytes(&av, (enum lwm2m_type)p->type, &v);
        if (rc != 0)
            return rc;
    }
    }
    rc = store(p, &v);
    p->constant = rc == 0;
    return rc;
}

bool br_point_stale(const struct br_point *p, bool unreachable, uint64_t now_mono,
                    uint32_t stale_ms) {
    if (p->constant)
        return false;
    if (!p->has_value)
        return true;
    if (p->quality == ADAPTER_Q_GOOD && !unreachable)
        return false;
    return now_mono - p->good_mono_ms >= stale_ms;
}

int br_point_read(const struct br_point *p, bool unreachable, uint64_t now_mono, uint32_t stale_ms,
                  struct lwm2m_value *out) {
    if (br_point_stale(p, unreachable, now_mono, stale_ms))
        return LWM2M_ERR_AGAIN;
    *out = p->v;
    return 0;
}

int br_value_format(const struct lwm2m_value *v, char *out, size_t cap) {
    int n;
    switch (v->type) {
    case LWM2M_TYPE_INTEGER:
    case LWM2M_TYPE_TIME:
        n = snprintf(out, cap, "%" PRId64, v->v.i);
        break;
    case LWM2M_TYPE_UNSIGNED:
        n = snprintf(out, cap, "%" PRIu64, v->v.u);
        break;
    case LWM2M_TYPE_FLOAT: {
        struct num x = {.kind = N_DOUBLE, .f = v->v.f};
        n = num_to_text(&x, out, cap);
        break;
    }
    case LWM2M_TYPE_BOOLEAN:
        n = snprintf(out, cap, "%s", v->v.b ? "true" : "false");
        break;
    case LWM2M_TYPE_OBJLNK:
        n = snprintf(out, cap, "%u:%u", v->v.lnk.obj, v->v.lnk.inst);
        break;
    case LWM2M_TYPE_STRING:
    case LWM2M_TYPE_CORELNK:
        n = snprintf(out, cap, "%.*s", (int)v->v.bytes.len, (const char *)v->v.bytes.ptr);
        break;
    case LWM2M_TYPE_OPAQUE:
        n = 0;
        for (size_t i = 0; i < v->v.bytes.len && (size_t)n + 3 <= cap; i++)
            n += snprintf(out + n, cap - (size_t)n, "%02x", v->v.bytes.ptr[i]);
        break;
    default:
        n = snprintf(out, cap, "%s", "");
        break;
    }
    if (n < 0)
        n = 0;
    return (size_t)n >= cap ? (int)cap - 1 : n;
}
