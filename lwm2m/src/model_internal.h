/* SPDX-License-Identifier: Apache-2.0 */
/* Internal seams of the data model: the built-in tables (model_core.c, model_ipso.c) and the
 * calls the DDF loader (model_ddf.c) uses to hand loaded definitions over to the registry. */
#ifndef LWM2M_MODEL_INTERNAL_H
#define LWM2M_MODEL_INTERNAL_H

#include "lwm2m/model.h"

/* Largest DDF document accepted: far above any registry file (the largest is ~60 KiB). */
#define LWM2M_DDF_MAX_BYTES (4u * 1024u * 1024u)

/* Built-in object tables: static, sorted by object id, resources sorted by id. */
const struct lwm2m_object_def *lwm2m_builtin_core(size_t *n);
const struct lwm2m_object_def *lwm2m_builtin_ipso(size_t *n);

bool lwm2m_model_sealed(const struct lwm2m_model *m);
/* Where an object id is defined: "built-in", the file it was loaded from, or NULL if unknown. */
const char *lwm2m_model_origin(const struct lwm2m_model *m, uint16_t oid);
/* Makes room for extra objects so that the commits that follow cannot fail. */
int lwm2m_model_reserve(struct lwm2m_model *m, size_t extra);
/* Adds obj (or replaces the definition with its id), taking ownership of obj and origin (both
 * heap-allocated; freed with the model). Needs room from lwm2m_model_reserve. */
void lwm2m_model_commit(struct lwm2m_model *m, struct lwm2m_object_def *obj, char *origin);
/* Frees a heap-allocated definition: its strings, its resource array and itself. */
void lwm2m_object_def_free(struct lwm2m_object_def *obj);

#endif /* LWM2M_MODEL_INTERNAL_H */
