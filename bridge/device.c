/* SPDX-License-Identifier: Apache-2.0 */
/* Virtual devices: building a device's resources from its config, and the LwM2M provider that
 * serves them from the point cache, the Device object (3) from the profile and the bridge, and
 * routes Writes and Executes to the adapter's write_point with asynchronous completion. */
#include "device.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gw_version.h"
#include "lwm2m/error.h"
#include "lwm2m/report.h"

#define OID_DEVICE     3
#define ERR_PERIPHERAL 8 /* Device object error code "Peripheral Malfunction" */

/* Resources of /3/0 the bridge serves when the profile does not bind them. */
static const uint16_t dev_builtin[] = {0, 1, 2, 3, 4, 11, 12, 13, 16};

static uint64_t mono_now(const struct br_device *d) {
    return coap_clock_mono_ms(d->env->clock);
}
static uint64_t real_now(const struct br_device *d) {
    return coap_clock_real_ms(d->env->clock);
}

/* ---- building ------------------------------------------------------------------------------- */

static int init_res(struct br_device *dev, struct br_res *r, const struct cfg_resource *c) {
    r->obj = c->obj;
    r->inst = c->inst;
    r->id = c->res;
    r->b = &c->b;
    r->dev = dev;
    r->rtap = (struct br_tap){.res = r, .feeds = true};
    r->wtap = (struct br_tap){.res = r, .feeds = false};
    br_point_init(&r->pt, (enum lwm2m_type)r->def->type);
    if (c->b.kind != CFG_BIND_CONST)
        return 0;
    int rc = br_point_set_const(&r->pt, c->b.u.value);
    if (rc != 0)
        br_log_write(dev->env->log, BR_LOG_WARN, dev->name, dev->endpoint,
                     "/%u/%u/%u: constant '%s' is not a valid %s", c->obj, c->inst, c->res,
                     c->b.u.value, lwm2m_type_name((enum lwm2m_type)r->def->type));
    return 0;
}

uint32_t br_stale_ms(const struct cfg *cfg, const struct cfg_device *cd) {
    if (cd->stale_after_ms != 0)
        return cd->stale_after_ms;
    if (cfg != NULL && cfg->gateway.stale_after_ms != 0)
        return cfg->gateway.stale_after_ms;
    uint64_t stale = (uint64_t)cd->poll_ms * 3;
    return stale < 10000 ? 10000 : stale > UINT32_MAX ? UINT32_MAX : (uint32_t)stale;
}

int br_device_new(const struct br_env *env, const struct cfg *cfg, const struct cfg_device *cd,
                  const char *name, const char *endpoint, struct br_device **out) {
    struct br_device *d = calloc(1, sizeof(*d));
    if (d == NULL)
        return LWM2M_ERR_NOMEM;
    d->env = env;
    d->cfg = cd;
    d->up = true;
    d->discovered = cd->discover != NULL;
    name = name ? name : cd->name ? cd->name : "?";
    d->name = strdup(name);
    d->endpoint = strdup(endpoint ? endpoint : cd->endpoint ? cd->endpoint : name);
    d->res = calloc(cd->nres ? cd->nres : 1, sizeof(*d->res));
    if (d->name == NULL || d->endpoint == NULL || d->res == NULL) {
        br_device_free(d);
        return LWM2M_ERR_NOMEM;
    }
    d->stale_ms = br_stale_ms(cfg, cd);
    for (size_t i = 0; i < cd->nres; i++) {
        const struct cfg_resource *c = &cd->res[i];
        const struct lwm2m_resource_def *def = lwm2m_model_resource(env->model, c->obj, c->res);
        if (def == NULL) {
            br_log_write(env->log, BR_LOG_WARN, d->name, d->endpoint,
                         "/%u/%u/%u: resource not in the data model, left out (add its DDF to "
                         "lwm2m.models)",
                         c->obj, c->inst, c->res);
            continue;
        }
        struct br_res *r = &d->res[d->nres++];
        r->def = def;
        init_res(d, r, c);
    }
    *out = d;
    return 0;
}

void br_device_free(struct br_device *d) {
    if (d == NULL)
        return;
    for (size_t i = 0; i < d->nres; i++)
        br_point_free(&d->res[i].pt);
    free(d->res);
    free(d->name);
    free(d->endpoint);
    free(d);
}

void br_device_rebind(struct br_device *d, const struct cfg_device *nd) {
    /* Equal configs list the same known resources in the same order: walk both. */
    size_t k = 0;
    for (size_t i = 0; i < nd->nres && k < d->nres; i++) {
        const struct cfg_resource *c = &nd->res[i];
        if (c->obj == d->res[k].obj && c->inst == d->res[k].inst && c->res == d->res[k].id)
            d->res[k++].b = &c->b;
    }
    d->cfg = nd;
}

/* ---- lookups -------------------------------------------------------------------------------- */

static int res_cmp(const struct br_res *r, uint16_t o, uint16_t i, uint16_t id) {
    if (r->obj != o)
        return r->obj < o ? -1 : 1;
    if (r->inst != i)
        return r->inst < i ? -1 : 1;
    return r->id < id ? -1 : r->id > id;
}

static struct br_res *res_find(const struct br_device *d, uint16_t o, uint16_t i, uint16_t id) {
    size_t lo = 0, hi = d->nres;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = res_cmp(&d->res[mid], o, i, id);
        if (c == 0)
            return &d->res[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static bool is_builtin(const struct br_device *d, uint16_t o, uint16_t i, uint16_t id) {
    if (o != OID_DEVICE || i != 0 || res_find(d, o, i, id) != NULL)
        return false;
    for (size_t k = 0; k < sizeof(dev_builtin) / sizeof(dev_builtin[0]); k++)
        if (dev_builtin[k] == id)
            return true;
    return false;
}

static struct br_device *dev_of(void *pctx) {
    return pctx != NULL ? *(struct br_device **)pctx : NULL;
}

int br_device_error_code(const struct br_device *d) {
    return d->up ? 0 : ERR_PERIPHERAL;
}

void br_device_changed(struct br_device *d, uint16_t obj, uint16_t inst, uint16_t res) {
    struct lwm2m_path p = lwm2m_path_make(3, obj, inst, res, 0);
    if (d->gwdev != NULL)
        lwm2m_gwdev_changed(d->gwdev, &p);
    else if (d->ep != NULL)
        lwm2m_endpoint_changed(d->ep, &p);
}

/* ---- provider: listing ---------------------------------------------------------------------- */

static int list_objects(void *pctx, lwm2m_id_fn fn, void *fctx) {
    struct br_device *d = dev_of(pctx);
    if (d == NULL)
        return LWM2M_ERR_NOTFOUND;
    bool dev_done = false;
    int last = -1, rc = 0;
    for (size_t i = 0; i <= d->nres && rc == 0; i++) {
        int o = i < d->nres ? d->res[i].obj : 65536;
        if (!dev_done && o >= OID_DEVICE) {
            dev_done = true;
            if (last != OID_DEVICE) {
                rc = fn(fctx, OID_DEVICE);
                last = OID_DEVICE;
            }
        }
        if (rc == 0 && i < d->nres && o != last && o > 1) {
            rc = fn(fctx, (uint16_t)o);
            last = o;
        }
    }
    return rc;
}

static int list_instances(void *pctx, uint16_t oid, lwm2m_id_fn fn, void *fctx) {
    struct br_device *d = dev_of(pctx);
    if (d == NULL)
        return LWM2M_ERR_NOTFOUND;
    int last = -1, rc = 0;
    if (oid == OID_DEVICE) /* every device has /3/0; a profile binds only instance 0 of it */
        return fn(fctx, 0);
    for (size_t i = 0; i < d->nres && rc == 0; i++)
        if (d->res[i].obj == oid && d->res[i].inst != last) {
            last = d->res[i].inst;
            rc = fn(fctx, (uint16_t)last);
        }
    return rc;
}

static int list_resources(void *pctx, uint16_t oid, uint16_t iid, lwm2m_id_fn fn, void *fctx) {
    struct br_device *d = dev_of(pctx);
    if (d == NULL)
        return LWM2M_ERR_NOTFOUND;
    size_t nb = oid == OID_DEVICE && iid == 0 ? sizeof(dev_builtin) / sizeof(dev_builtin[0]) : 0;
    size_t i = 0, k = 0;
    int rc = 0;
    while (i < d->nres && res_cmp(&d->res[i], oid, iid, 0) < 0)
        i++;
    /* Merge the bound resources of /oid/iid with the built-in ones, ascending, no duplicates. */
    while (rc == 0) {
        bool have_r = i < d->nres && d->res[i].obj == oid && d->res[i].inst == iid;
        int r = have_r ? d->res[i].id : 65536, b = k < nb ? dev_builtin[k] : 65536;
        if (!have_r && k >= nb)
            break;
        rc = fn(fctx, (uint16_t)(r < b ? r : b));
        if (r <= b)
            i++;
        if (b <= r)
            k++;
    }
    return rc;
}

static int list_res_instances(void *pctx, const struct lwm2m_path *p, lwm2m_id_fn fn, void *fctx) {
    struct br_device *d = dev_of(pctx);
    if (d == NULL)
        return LWM2M_ERR_NOTFOUND;
    /* A binding gives one value: a multiple resource shows it as instance 0 (so does 3/0/11). */
    if (res_find(d, p->ids[0], p->ids[1], p->ids[2]) != NULL ||
        is_builtin(d, p->ids[0], p->ids[1], p->ids[2]))
        return fn(fctx, 0);
    return LWM2M_ERR_NOTFOUND;
}

/* ---- provider: reading ---------------------------------------------------------------------- */

static int read_builtin(struct br_device *d, uint16_t id, struct lwm2m_value *out) {
    const char *s = NULL;
    switch (id) {
    case 0:
        s = "lwm2m-gateway";
        break;
    case 1:
        s = d->cfg->profile->name;
        break;
    case 2:
        s = d->name;
        break;
    case 3:
        s = GW_VERSION;
        break;
    case 11:
        *out = lwm2m_value_int(br_device_error_code(d));
        return 0;
    case 13:
        *out = lwm2m_value_time((int64_t)(real_now(d) / 1000) + d->time_offset_s);
        return 0;
    case 16:
        s = d->env->binding;
        break;
    default:
        return LWM2M_ERR_NOTFOUND; /* 4 and 12 are executable: nothing to read */
    }
    *out = lwm2m_value_string(s, strlen(s));
    return 0;
}

static int dev_read(void *pctx, const struct lwm2m_path *p, struct lwm2m_value *out) {
    struct br_device *d = dev_of(pctx);
    if (d == NULL || p->len < 3)
        return LWM2M_ERR_NOTFOUND;
    struct br_res *r = res_find(d, p->ids[0], p->ids[1], p->ids[2]);
    bool multiple = false;
    if (r != NULL)
        multiple = r->def->multiple;
    else if (is_builtin(d, p->ids[0], p->ids[1], p->ids[2]))
        multiple = p->ids[2] == 11;
    else
        return LWM2M_ERR_NOTFOUND;
    if ((p->len == 4) != multiple || (p->len == 4 && p->ids[3] != 0))
        return LWM2M_ERR_NOTFOUND;
    if (r == NULL)
        return read_builtin(d, p->ids[2], out);
    int rc = br_point_read(&r->pt, !d->up, mono_now(d), d->stale_ms, out);
    if (rc == LWM2M_ERR_AGAIN)
        d->env->stats->reads_stale++;
    return rc;
}

/* ---- provider: writes and executes ---------------------------------------------------------- */

/* One Write or Execute request: answered when its last bus write completes. */
struct br_wgroup {
    struct lwm2m_done *d;
    int owed;   /* bus writes not completed yet */
    int result; /* first error */
    bool in_call;
};

/* One bus write of a group. */
struct br_wreq {
    struct br_wgroup *g;
    struct br_res *r;
    uint64_t t0;
    struct lwm2m_value v; /* what was written; bytes in tail */
    uint8_t tail[];
};

static void group_fail(struct br_wgroup *g, int err) {
    if (g->result == 0 && err != 0)
        g->result = err;
}

static void group_settle(struct br_wgroup *g) {
    if (g->owed > 0 || g->in_call)
        return;
    lwm2m_done(g->d, g->result);
    free(g);
}

int br_write_status_to_lwm2m(const struct adapter_write_result *r) {
    switch (r->status) {
    case ADAPTER_WRITE_OK:
        return 0;
    case ADAPTER_WRITE_EXCEPTION:
        return r->exception == 3 ? LWM2M_ERR_INVALID : LWM2M_ERR_IO;
    case ADAPTER_WRITE_TIMEOUT:
        return LWM2M_ERR_TIMEOUT;
    case ADAPTER_WRITE_DISCONNECTED:
        return LWM2M_ERR_AGAIN;
    case ADAPTER_WRITE_MISMATCH:
    case ADAPTER_WRITE_FAILED:
    default:
        return LWM2M_ERR_IO;
    }
}

int br_write_errno_to_lwm2m(int err) {
    switch (err) {
    case -ENOENT:
        return LWM2M_ERR_NOTFOUND;
    case -EPERM:
        return LWM2M_ERR_UNSUPPORTED; /* 4.05: the binding has no write side */
    case -ERANGE:
    case -EINVAL:
        return LWM2M_ERR_INVALID;
    case -ENOSPC:
    case -ENOTCONN:
        return LWM2M_ERR_AGAIN;
    default:
        return LWM2M_ERR_IO;
    }
}

/* Starts one bus write of v to r as part of g. Returns 0 (pending) or an error. */
static int bus_write(struct br_device *d, struct br_wgroup *g, struct br_res *r,
                     const struct lwm2m_value *v) {
    struct adapter_value av;
    if (d->adapter == NULL)
        return LWM2M_ERR_AGAIN; /* no adapter serves this device (yet): 5.03 */
    int rc = br_value_to_adapter(v, &av);
    if (rc != 0)
        return rc;
    bool bytes = av.type == ADAPTER_V_STRING || av.type == ADAPTER_V_BYTES;
    size_t n = bytes ? av.v.bytes.len : 0;
    struct br_wreq *w = calloc(1, sizeof(*w) + n + 1);
    if (w == NULL)
        return LWM2M_ERR_NOMEM;
    *w = (struct br_wreq){.g = g, .r = r, .t0 = mono_now(d), .v = *v};
    if (bytes) {
        memcpy(w->tail, av.v.bytes.ptr, n);
        w->v.v.bytes.ptr = w->tail;
    }
    av.ts_ms = real_now(d);
    int err = d->adapter->ops->write_point(d->adapter, r->wuser, &av, w);
    if (err < 0) {
        free(w);
        br_log_write(d->env->log, BR_LOG_WARN, d->name, d->endpoint,
                     "write /%u/%u/%u refused by the adapter: %s", r->obj, r->inst, r->id,
                     strerror(-err));
        return br_write_errno_to_lwm2m(err);
    }
    d->env->stats->writes++;
    d->writes_pending++;
    g->owed++;
    return 0;
}

void br_device_on_write_done(void *req, const struct adapter_write_result *res) {
    struct br_wreq *w = req;
    struct br_res *r = w->r;
    struct br_device *d = r->dev;
    int err = br_write_status_to_lwm2m(res);
    uint64_t now = mono_now(d);
    d->env->stats->write_done++;
    d->env->stats->write_ms_sum += now - w->t0;
    d->writes_pending--;
    if (err != 0) {
        d->env->stats->write_errors++;
        br_log_write(d->env->log, BR_LOG_WARN, d->name, d->endpoint,
                     "write /%u/%u/%u failed: %s (exception %u)", r->obj, r->inst, r->id,
                     adapter_write_status_name((enum adapter_write_status)res->status),
                     res->exception);
    } else if (r->assume_written && r->def->type != LWM2M_TYPE_NONE &&
               br_point_set(&r->pt, &w->v, now, real_now(d)) == BR_POINT_CHANGED) {
        br_device_changed(d, r->obj, r->inst, r->id);
    }
    group_fail(w->g, err);
    w->g->owed--;
    group_settle(w->g);
    free(w);
}

/* A Write on a resource the bridge holds itself (a constant, /3/0/13). */
static int write_local(struct br_device *d, struct br_res *r, const struct lwm2m_record *rec) {
    if (r == NULL) {
        if (rec->path.ids[0] == OID_DEVICE && rec->path.ids[2] == 13) {
            d->time_offset_s = rec->value.v.i - (int64_t)(real_now(d) / 1000);
            return 0;
        }
        return LWM2M_ERR_UNSUPPORTED;
    }
    if (r->b->kind != CFG_BIND_CONST)
        return LWM2M_ERR_UNSUPPORTED; /* bound to a point without a write side */
    int rc = br_point_set(&r->pt, &rec->value, mono_now(d), real_now(d));
    if (rc == BR_POINT_CHANGED)
        br_device_changed(d, r->obj, r->inst, r->id);
    return rc < 0 ? rc : 0;
}

static int write_one(struct br_device *d, struct br_wgroup *g, const struct lwm2m_record *rec) {
    const struct lwm2m_path *p = &rec->path;
    if (p->len < 3)
        return LWM2M_ERR_NOTFOUND;
    struct br_res *r = res_find(d, p->ids[0], p->ids[1], p->ids[2]);
    if (r == NULL && !is_builtin(d, p->ids[0], p->ids[1], p->ids[2]))
        return LWM2M_ERR_NOTFOUND;
    if (r != NULL && r->wuser != NULL)
        return bus_write(d, g, r, &rec->value);
    return write_local(d, r, rec);
}

static int dev_write(void *pctx, const struct lwm2m_path *p, const struct lwm2m_record *recs,
                     size_t n, bool replace, struct lwm2m_done *done) {
    struct br_device *d = dev_of(pctx);
    if (d == NULL)
        return LWM2M_ERR_NOTFOUND;
    struct br_wgroup *g = calloc(1, sizeof(*g));
    if (g == NULL)
        return LWM2M_ERR_NOMEM;
    g->d = done;
    g->in_call = true;
    for (size_t i = 0; i < n; i++)
        group_fail(g, write_one(d, g, &recs[i]));
    g->in_call = false;
    if (g->owed > 0)
        return LWM2M_ERR_AGAIN; /* group_settle answers through done when the bus is done */
    int rc = g->result;
    free(g);
    return rc;
}

static int dev_execute(void *pctx, const struct lwm2m_path *p, const char *args, size_t len,
                       struct lwm2m_done *done) {
    struct br_device *d = dev_of(pctx);
    if (d == NULL || p->len != 3)
        return LWM2M_ERR_NOTFOUND;
    struct br_res *r = res_find(d, p->ids[0], p->ids[1], p->ids[2]);
    if (r == NULL && is_builtin(d, p->ids[0], p->ids[1], p->ids[2])) {
        if (p->ids[2] == 4 && d->env->reboot != NULL)
            d->env->reboot(d->env->ctx, d); /* deferred by the gateway: we answer first */
        else if (p->ids[2] != 12)
            return LWM2M_ERR_UNSUPPORTED;
        return 0; /* 12 Reset Error Code: our code is the live state, nothing to reset */
    }
    if (r == NULL)
        return LWM2M_ERR_NOTFOUND;
    if (r->wuser == NULL)
        return LWM2M_ERR_UNSUPPORTED;
    /* An executable bound to a write point (a coil that resets a counter): write "true". */
    struct lwm2m_record rec = {.path = *p, .value = lwm2m_value_bool(true)};
    return dev_write(pctx, p, &rec, 1, false, done);
}

const struct lwm2m_provider br_device_provider = {
    .list_instances = list_instances,
    .list_objects = list_objects,
    .list_resources = list_resources,
    .list_res_instances = list_res_instances,
    .read = dev_read,
    .write = dev_write,
    .execute = dev_execute,
};

/* ---- adapter reports ------------------------------------------------------------------------ */

void br_device_on_value(struct br_tap *tap, const struct adapter_value *v) {
    if (!tap->feeds)
        return; /* a separate write register: its value is not the resource's */
    struct br_res *r = tap->res;
    struct br_device *d = r->dev;
    d->env->stats->values++;
    int rc = br_point_update(&r->pt, v, mono_now(d), real_now(d));
    if (rc == LWM2M_ERR_FORMAT) {
        d->env->stats->value_drops++;
        br_log_write(d->env->log, BR_LOG_DEBUG, d->name, d->endpoint,
                     "/%u/%u/%u: value does not fit %s", r->obj, r->inst, r->id,
                     lwm2m_type_name((enum lwm2m_type)r->def->type));
    } else if (rc == BR_POINT_CHANGED) {
        d->env->stats->changes++;
        br_device_changed(d, r->obj, r->inst, r->id);
    }
}

void br_device_on_state(struct br_device *d, enum adapter_state st, const char *detail) {
    bool up = st == ADAPTER_STATE_UP;
    snprintf(d->detail, sizeof(d->detail), "%s", detail ? detail : "");
    if (up == d->up)
        return;
    d->up = up;
    if (!up)
        d->down_mono = mono_now(d);
    br_log_write(d->env->log, up ? BR_LOG_INFO : BR_LOG_WARN, d->name, d->endpoint, "device %s%s%s",
                 up ? "up" : "down", detail && *detail ? ": " : "", detail ? detail : "");
    br_device_changed(d, OID_DEVICE, 0, 11);
}
