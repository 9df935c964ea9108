/* SPDX-License-Identifier: Apache-2.0 */
/* An in-memory provider: object instances and resource values kept in sorted arrays. It serves
 * the demo client and tests, and any endpoint whose values are constants. Not for hot paths with
 * thousands of resources per endpoint (inserts are O(n)). */
#ifndef LWM2M_MEMSTORE_H
#define LWM2M_MEMSTORE_H

#include "lwm2m/engine.h"

struct lwm2m_memstore;

/* Called for an Execute on any resource of the store (args borrowed for the call). Returns 0 or
 * an LWM2M_ERR_*; may be NULL (Execute then succeeds doing nothing). */
typedef int (*lwm2m_memstore_exec_fn)(void *ctx, const struct lwm2m_path *p, const char *args,
                                      size_t len);
/* Called after a server changed a value (Write, Create), path of depth 3 or 4. May be NULL. */
typedef void (*lwm2m_memstore_write_fn)(void *ctx, const struct lwm2m_path *p);

/* model is borrowed for the store's life (used to know which resources are writable). */
int lwm2m_memstore_new(const struct lwm2m_model *model, struct lwm2m_memstore **out);
void lwm2m_memstore_free(struct lwm2m_memstore *ms);
void lwm2m_memstore_set_hooks(struct lwm2m_memstore *ms, lwm2m_memstore_exec_fn exec,
                              lwm2m_memstore_write_fn wrote, void *ctx);

/* Adds object instance /oid/iid (no-op if present). Returns 0 or LWM2M_ERR_NOMEM. */
int lwm2m_memstore_add_instance(struct lwm2m_memstore *ms, uint16_t oid, uint16_t iid);
/* Sets the value at p (depth 3 for a single resource, 4 for a resource instance), adding the
 * instance if needed; string/opaque bytes are copied. A NONE value marks an executable resource
 * as present. Returns 0, LWM2M_ERR_INVALID or LWM2M_ERR_NOMEM. */
int lwm2m_memstore_set(struct lwm2m_memstore *ms, const struct lwm2m_path *p,
                       const struct lwm2m_value *v);
/* Reads the stored value at p (bytes borrowed until the next change). */
int lwm2m_memstore_get(const struct lwm2m_memstore *ms, const struct lwm2m_path *p,
                       struct lwm2m_value *out);

/* The provider; pass the store as pctx to lwm2m_endpoint_add(). */
extern const struct lwm2m_provider lwm2m_memstore_provider;

#endif /* LWM2M_MEMSTORE_H */
