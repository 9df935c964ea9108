/* SPDX-License-Identifier: Apache-2.0 */
/* The in-memory provider: sorted arrays of object instances and of (path, value) entries, with
 * copied bytes, implementing every provider operation synchronously. */
#include <stdlib.h>
#include <string.h>

#include "lwm2m/error.h"
#include "lwm2m/memstore.h"

struct ms_entry {
    struct lwm2m_path path; /* depth 3 or 4 */
    struct lwm2m_value v;   /* bytes owned by the entry */
};

struct lwm2m_memstore {
    const struct lwm2m_model *model;
    struct lwm2m_objlnk *inst; /* sorted (obj, inst) */
    size_t ninst, capinst;
    struct ms_entry *ent; /* sorted by lwm2m_path_cmp */
    size_t nent, capent;
    lwm2m_memstore_exec_fn exec;
    lwm2m_memstore_write_fn wrote;
    void *hook_ctx;
};

int lwm2m_memstore_new(const struct lwm2m_model *model, struct lwm2m_memstore **out) {
    struct lwm2m_memstore *ms = calloc(1, sizeof(*ms));
    if (ms == NULL)
        return LWM2M_ERR_NOMEM;
    ms->model = model;
    *out = ms;
    return 0;
}

static void ent_clear(struct ms_entry *e) {
    if (e->v.type == LWM2M_TYPE_STRING || e->v.type == LWM2M_TYPE_OPAQUE ||
        e->v.type == LWM2M_TYPE_CORELNK)
        free((void *)e->v.v.bytes.ptr);
}

void lwm2m_memstore_free(struct lwm2m_memstore *ms) {
    if (ms == NULL)
        return;
    for (size_t i = 0; i < ms->nent; i++)
        ent_clear(&ms->ent[i]);
    free(ms->ent);
    free(ms->inst);
    free(ms);
}

void lwm2m_memstore_set_hooks(struct lwm2m_memstore *ms, lwm2m_memstore_exec_fn exec,
                              lwm2m_memstore_write_fn wrote, void *ctx) {
    ms->exec = exec;
    ms->wrote = wrote;
    ms->hook_ctx = ctx;
}

/* Index of the first instance >= (oid, iid). */
static size_t inst_lower(const struct lwm2m_memstore *ms, uint16_t oid, uint16_t iid) {
    size_t lo = 0, hi = ms->ninst;
    uint32_t key = (uint32_t)oid << 16 | iid;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        uint32_t k = (uint32_t)ms->inst[mid].obj << 16 | ms->inst[mid].inst;
        if (k < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static bool inst_has(const struct lwm2m_memstore *ms, uint16_t oid, uint16_t iid) {
    size_t i = inst_lower(ms, oid, iid);
    return i < ms->ninst && ms->inst[i].obj == oid && ms->inst[i].inst == iid;
}

int lwm2m_memstore_add_instance(struct lwm2m_memstore *ms, uint16_t oid, uint16_t iid) {
    size_t i = inst_lower(ms, oid, iid);
    if (i < ms->ninst && ms->inst[i].obj == oid && ms->inst[i].inst == iid)
        return 0;
    if (ms->ninst == ms->capinst) {
        size_t cap = ms->capinst ? ms->capinst * 2 : 8;
        void *p = realloc(ms->inst, cap * sizeof(*ms->inst));
        if (p == NULL)
            return LWM2M_ERR_NOMEM;
        ms->inst = p;
        ms->capinst = cap;
    }
    memmove(&ms->inst[i + 1], &ms->inst[i], (ms->ninst - i) * sizeof(*ms->inst));
    ms->inst[i] = (struct lwm2m_objlnk){.obj = oid, .inst = iid};
    ms->ninst++;
    return 0;
}

/* Index of the first entry >= p. */
static size_t ent_lower(const struct lwm2m_memstore *ms, const struct lwm2m_path *p) {
    size_t lo = 0, hi = ms->nent;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (lwm2m_path_cmp(&ms->ent[mid].path, p) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int value_copy(const struct lwm2m_value *in, struct lwm2m_value *out) {
    *out = *in;
    if (in->type != LWM2M_TYPE_STRING && in->type != LWM2M_TYPE_OPAQUE &&
        in->type != LWM2M_TYPE_CORELNK)
        return 0;
    uint8_t *b = malloc(in->v.bytes.len + 1);
    if (b == NULL)
        return LWM2M_ERR_NOMEM;
    if (in->v.bytes.len > 0)
        memcpy(b, in->v.bytes.ptr, in->v.bytes.len);
    b[in->v.bytes.len] = '\0';
    out->v.bytes.ptr = b;
    return 0;
}

int lwm2m_memstore_set(struct lwm2m_memstore *ms, const struct lwm2m_path *p,
                       const struct lwm2m_value *v) {
    if (p->len < 3)
        return LWM2M_ERR_INVALID;
    int rc = lwm2m_memstore_add_instance(ms, p->ids[0], p->ids[1]);
    struct lwm2m_value copy;
    if (rc == 0)
        rc = value_copy(v, &copy);
    if (rc != 0)
        return rc;
    size_t i = ent_lower(ms, p);
    if (i < ms->nent && lwm2m_path_cmp(&ms->ent[i].path, p) == 0) {
        ent_clear(&ms->ent[i]);
        ms->ent[i].v = copy;
        return 0;
    }
    if (ms->nent == ms->capent) {
        size_t cap = ms->capent ? ms->capent * 2 : 16;
        void *np = realloc(ms->ent, cap * sizeof(*ms->ent));
        if (np == NULL) {
            struct ms_entry tmp = {.v = copy};
            ent_clear(&tmp);
            return LWM2M_ERR_NOMEM;
        }
        ms->ent = np;
        ms->capent = cap;
    }
    memmove(&ms->ent[i + 1], &ms->ent[i], (ms->nent - i) * sizeof(*ms->ent));
    ms->ent[i] = (struct ms_entry){.path = *p, .v = copy};
    ms->nent++;
    return 0;
}

int lwm2m_memstore_get(const struct lwm2m_memstore *ms, const struct lwm2m_path *p,
                       struct lwm2m_value *out) {
    size_t i = ent_lower(ms, p);
    if (i >= ms->nent || lwm2m_path_cmp(&ms->ent[i].path, p) != 0)
        return LWM2M_ERR_NOTFOUND;
    *out = ms->ent[i].v;
    return 0;
}

/* Removes every entry under prefix (keep_readonly: only those the server may write). */
static void ms_erase(struct lwm2m_memstore *ms, const struct lwm2m_path *prefix, bool writable) {
    size_t j = 0;
    for (size_t i = 0; i < ms->nent; i++) {
        struct ms_entry *e = &ms->ent[i];
        bool under = lwm2m_path_has_prefix(&e->path, prefix);
        if (under && writable) {
            const struct lwm2m_resource_def *r = lwm2m_model_path_resource(ms->model, &e->path);
            under = r == NULL || lwm2m_resource_allows(r, LWM2M_OP_W);
        }
        if (under)
            ent_clear(e);
        else
            ms->ent[j++] = *e;
    }
    ms->nent = j;
}

/* ---- The provider --------------------------------------------------------------------------- */

static int ms_list_objects(void *pctx, lwm2m_id_fn fn, void *fctx) {
    struct lwm2m_memstore *ms = pctx;
    for (size_t i = 0; i < ms->ninst; i++) {
        if (i > 0 && ms->inst[i].obj == ms->inst[i - 1].obj)
            continue;
        int rc = fn(fctx, ms->inst[i].obj);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int ms_list_instances(void *pctx, uint16_t oid, lwm2m_id_fn fn, void *fctx) {
    struct lwm2m_memstore *ms = pctx;
    for (size_t i = inst_lower(ms, oid, 0); i < ms->ninst && ms->inst[i].obj == oid; i++) {
        int rc = fn(fctx, ms->inst[i].inst);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Calls fn once per distinct id at depth (the last level of prefix + 1) under prefix. */
static int ms_list_children(struct lwm2m_memstore *ms, const struct lwm2m_path *prefix,
                            lwm2m_id_fn fn, void *fctx) {
    int last = -1;
    for (size_t i = ent_lower(ms, prefix); i < ms->nent; i++) {
        const struct lwm2m_path *p = &ms->ent[i].path;
        if (!lwm2m_path_has_prefix(p, prefix))
            break;
        if (p->len <= prefix->len || p->ids[prefix->len] == last)
            continue;
        last = p->ids[prefix->len];
        int rc = fn(fctx, (uint16_t)last);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int ms_list_resources(void *pctx, uint16_t oid, uint16_t iid, lwm2m_id_fn fn, void *fctx) {
    struct lwm2m_path p = lwm2m_path_make(2, oid, iid, 0, 0);
    if (!inst_has(pctx, oid, iid))
        return LWM2M_ERR_NOTFOUND;
    return ms_list_children(pctx, &p, fn, fctx);
}

static int ms_list_res_instances(void *pctx, const struct lwm2m_path *p, lwm2m_id_fn fn,
                                 void *fctx) {
    return ms_list_children(pctx, p, fn, fctx);
}

static int ms_read(void *pctx, const struct lwm2m_path *p, struct lwm2m_value *out) {
    return lwm2m_memstore_get(pctx, p, out);
}

static int ms_write(void *pctx, const struct lwm2m_path *p, const struct lwm2m_record *recs,
                    size_t n, bool replace, struct lwm2m_done *d) {
    struct lwm2m_memstore *ms = pctx;
    if (p->len >= 2 && !inst_has(ms, p->ids[0], p->ids[1]))
        return LWM2M_ERR_NOTFOUND;
    if (replace && p->len >= 2)
        ms_erase(ms, p, true);
    for (size_t i = 0; i < n; i++) {
        int rc = lwm2m_memstore_set(ms, &recs[i].path, &recs[i].value);
        if (rc != 0)
            return rc;
        if (ms->wrote != NULL)
            ms->wrote(ms->hook_ctx, &recs[i].path);
    }
    return 0;
}

static int ms_execute(void *pctx, const struct lwm2m_path *p, const char *args, size_t len,
                      struct lwm2m_done *d) {
    struct lwm2m_memstore *ms = pctx;
    struct lwm2m_value v;
    if (lwm2m_memstore_get(ms, p, &v) != 0)
        return LWM2M_ERR_NOTFOUND;
    return ms->exec != NULL ? ms->exec(ms->hook_ctx, p, args, len) : 0;
}

static int ms_create(void *pctx, uint16_t oid, uint16_t iid, const struct lwm2m_record *recs,
                     size_t n) {
    struct lwm2m_memstore *ms = pctx;
    if (inst_has(ms, oid, iid))
        return LWM2M_ERR_STATE;
    int rc = lwm2m_memstore_add_instance(ms, oid, iid);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = lwm2m_memstore_set(ms, &recs[i].path, &recs[i].value);
    return rc;
}

static int ms_remove(void *pctx, uint16_t oid, uint16_t iid) {
    struct lwm2m_memstore *ms = pctx;
    size_t i = inst_lower(ms, oid, iid);
    if (i >= ms->ninst || ms->inst[i].obj != oid || ms->inst[i].inst != iid)
        return LWM2M_ERR_NOTFOUND;
    memmove(&ms->inst[i], &ms->inst[i + 1], (ms->ninst - i - 1) * sizeof(*ms->inst));
    ms->ninst--;
    struct lwm2m_path p = lwm2m_path_make(2, oid, iid, 0, 0);
    ms_erase(ms, &p, false);
    return 0;
}

const struct lwm2m_provider lwm2m_memstore_provider = {
    .list_objects = ms_list_objects,
    .list_instances = ms_list_instances,
    .list_resources = ms_list_resources,
    .list_res_instances = ms_list_res_instances,
    .read = ms_read,
    .write = ms_write,
    .execute = ms_execute,
    .create = ms_create,
    .remove = ms_remove,
};
