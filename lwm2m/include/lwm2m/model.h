/* SPDX-License-Identifier: Apache-2.0 */
/* The LwM2M data model: object and resource definitions (id, name, version, multiplicity,
 * operations, type, range, units) and the registry that holds the built-in objects plus those
 * loaded from OMA DDF XML files at start-up. The engine looks definitions up on every request. */
#ifndef LWM2M_MODEL_H
#define LWM2M_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lwm2m/value.h"

/* Operations a resource allows, as bit flags. A resource with none (the Security object's
 * resources) is reachable only through Bootstrap. */
enum lwm2m_op {
    LWM2M_OP_NONE = 0,
    LWM2M_OP_R = 1u << 0,
    LWM2M_OP_W = 1u << 1,
    LWM2M_OP_E = 1u << 2,
    LWM2M_OP_RW = LWM2M_OP_R | LWM2M_OP_W,
};

enum lwm2m_range_kind {
    LWM2M_RANGE_NONE = 0, /* no RangeEnumeration: anything of the right type */
    LWM2M_RANGE_VALUE,    /* Integer, Unsigned Integer, Float, Time: min <= value <= max */
    LWM2M_RANGE_LENGTH,   /* String, Opaque, Corelnk: min <= length in bytes <= max */
    LWM2M_RANGE_TEXT,     /* an enumeration or prose ("16,32,48"): kept verbatim, not checked */
};

/* A RangeEnumeration. Bounds are doubles: exact for every integer up to 2^53, which covers
 * every range in the OMA registry. */
struct lwm2m_range {
    uint8_t kind; /* enum lwm2m_range_kind */
    double min;
    double max;
    const char *text; /* verbatim (trimmed) RangeEnumeration; "" when none. Owned by the def. */
};

struct lwm2m_resource_def {
    uint16_t id;
    uint8_t ops;  /* enum lwm2m_op bits */
    uint8_t type; /* enum lwm2m_type; LWM2M_TYPE_NONE for executable resources */
    bool multiple;
    bool mandatory;
    struct lwm2m_range range;
    const char *name;
    const char *units; /* "" when none */
};

struct lwm2m_object_def {
    uint16_t id;
    bool multiple; /* multiple-instance; a single-instance object has only instance 0 */
    bool mandatory;
    const char *name;
    const char *version;                  /* ObjectVersion, "1.0" when the DDF has none */
    const struct lwm2m_resource_def *res; /* sorted by id, no duplicates */
    size_t nres;
};

/* The registry. Built by lwm2m_model_new (built-ins) and the lwm2m_model_load_ddf* calls, then
 * sealed and shared read-only: definitions it hands out stay valid until lwm2m_model_free. */
struct lwm2m_model;

/* Creates a registry holding the built-in objects (core 0-4, 25 and the IPSO set). The built-in
 * tables are static and never copied. Returns 0 or LWM2M_ERR_NOMEM. */
int lwm2m_model_new(struct lwm2m_model **out);
/* Frees the registry and every loaded definition. NULL is ignored. */
void lwm2m_model_free(struct lwm2m_model *m);
/* Forbids further loads (they return LWM2M_ERR_STATE); call before sharing the model. */
void lwm2m_model_seal(struct lwm2m_model *m);

/* Lookups, O(log n) by binary search. NULL when unknown. */
const struct lwm2m_object_def *lwm2m_model_object(const struct lwm2m_model *m, uint16_t oid);
const struct lwm2m_resource_def *lwm2m_model_resource(const struct lwm2m_model *m, uint16_t oid,
                                                      uint16_t rid);
const struct lwm2m_resource_def *lwm2m_object_resource(const struct lwm2m_object_def *o,
                                                       uint16_t rid);
/* Iteration in ascending object id (for the Register payload): count, then 0..count-1. */
size_t lwm2m_model_count(const struct lwm2m_model *m);
const struct lwm2m_object_def *lwm2m_model_object_at(const struct lwm2m_model *m, size_t i);
/* True when the object was built in and has not been replaced by a loaded definition. */
bool lwm2m_model_is_builtin(const struct lwm2m_model *m, uint16_t oid);

/* The resource a path of depth 3 or 4 names, or NULL (unknown, or a shorter path). */
const struct lwm2m_resource_def *lwm2m_model_path_resource(const struct lwm2m_model *m,
                                                           const struct lwm2m_path *p);
/* Type of the resource a path of depth 3 or 4 names. Returns 0, LWM2M_ERR_NOTFOUND (unknown
 * object or resource) or LWM2M_ERR_INVALID (path shorter than a resource). */
int lwm2m_model_resource_type(const struct lwm2m_model *m, const struct lwm2m_path *p,
                              enum lwm2m_type *out);
/* Whether a path can exist under the model: root; a known object; instance 0 only for a
 * single-instance object; a known resource; a resource instance only of a multiple resource.
 * Returns 0 or LWM2M_ERR_NOTFOUND. Whether the instance exists is the provider's business. */
int lwm2m_model_check_path(const struct lwm2m_model *m, const struct lwm2m_path *p);

static inline bool lwm2m_resource_allows(const struct lwm2m_resource_def *r, unsigned ops) {
    return (r->ops & ops) == ops;
}

/* Checks a value about to be written: its type must be the resource's type exactly (decoders
 * convert with lwm2m_value_convert first) and it must lie in the range. Executable resources
 * take no value. Returns 0 or LWM2M_ERR_INVALID (the engine answers 4.00 Bad Request). */
int lwm2m_resource_check_value(const struct lwm2m_resource_def *r, const struct lwm2m_value *v);
/* Same for the resource a path names; LWM2M_ERR_NOTFOUND when the model does not know it. */
int lwm2m_model_check_value(const struct lwm2m_model *m, const struct lwm2m_path *p,
                            const struct lwm2m_value *v);

/* Parses a RangeEnumeration for a resource of the given type: "a..b" or "a-b" (numbers, either
 * may be negative) or a single number "n" is a VALUE range for numeric types and a LENGTH range
 * for String/Opaque/Corelnk (non-negative integers only); anything else is TEXT. out->text is
 * set to text (borrowed). Returns 0, or LWM2M_ERR_INVALID when a numeric range has min > max. */
int lwm2m_range_parse(enum lwm2m_type type, const char *text, struct lwm2m_range *out);

/* --- OMA DDF XML loader (model_ddf.c) --- */

/* Flag: a loaded object replaces a built-in or earlier loaded one with the same id. Without
 * it, that is an error ("object 3303 is already defined (built-in)"). */
#define LWM2M_MODEL_REPLACE 0x1u

#define LWM2M_MODEL_ERRMSG_MAX 320

/* Filled by a failing load: msg is "file:line:column: what was expected" (line and column
 * 1-based; "file: what" when there is no position, and then line = column = 0). */
struct lwm2m_model_error {
    unsigned long line;
    unsigned long column;
    char msg[LWM2M_MODEL_ERRMSG_MAX];
};

/* Loads every <Object> of one DDF document held in buf (borrowed for the call only); name is
 * used in error messages. All or nothing: on error the model is unchanged. err may be NULL.
 * Returns 0, LWM2M_ERR_FORMAT (malformed or invalid document, or an id already defined),
 * LWM2M_ERR_NOMEM or LWM2M_ERR_STATE (sealed). */
int lwm2m_model_load_ddf(struct lwm2m_model *m, const char *name, const void *buf, size_t len,
                         unsigned flags, struct lwm2m_model_error *err);
/* Reads a file (at most 4 MiB) and loads it, naming it by path. Adds LWM2M_ERR_IO. */
int lwm2m_model_load_ddf_file(struct lwm2m_model *m, const char *path, unsigned flags,
                              struct lwm2m_model_error *err);
/* Loads every regular "*.xml" file of a directory (hidden files skipped) in name order and
 * stops at the first error; files loaded before it stay loaded. Sets *nloaded when non-NULL. */
int lwm2m_model_load_ddf_dir(struct lwm2m_model *m, const char *dir, unsigned flags,
                             size_t *nloaded, struct lwm2m_model_error *err);

#endif /* LWM2M_MODEL_H */
