/* SPDX-License-Identifier: Apache-2.0 */
/* Table-writing shorthands for the built-in definitions (model_core.c, model_ipso.c): one line
 * per resource, in the registry's column order, so the tables read like the OMA DDF files. */
#ifndef LWM2M_MODEL_BUILTIN_H
#define LWM2M_MODEL_BUILTIN_H

#include "model_internal.h"

#define SINGLE false
#define MULTI  true
#define MAND   true
#define OPT    false

/* Ranges, with the text written in the "a..b" form (the registry also writes "a-b"); a unit
 * test parses every text back and compares it with the numbers. */
#define NO_RANGE                                                                                   \
    { LWM2M_RANGE_NONE, 0, 0, "" }
#define VAL(lo, hi)                                                                                \
    { LWM2M_RANGE_VALUE, lo, hi, #lo ".." #hi }
#define LEN(lo, hi)                                                                                \
    { LWM2M_RANGE_LENGTH, lo, hi, #lo ".." #hi }
#define LEN_EXACT(n)                                                                               \
    { LWM2M_RANGE_LENGTH, n, n, #n }
#define TEXT(s)                                                                                    \
    { LWM2M_RANGE_TEXT, 0, 0, s }

/* RES(id, name, operations, multiplicity, mandatory, type, range, units) */
#define RES(id_, name_, ops_, mult_, mand_, type_, range_, units_)                                 \
    {                                                                                              \
        .id = id_, .ops = LWM2M_OP_##ops_, .type = LWM2M_TYPE_##type_, .multiple = mult_,          \
        .mandatory = mand_, .range = range_, .name = name_, .units = units_                        \
    }

/* OBJ(id, name, version, multiplicity, mandatory, resource table) */
#define OBJ(id_, name_, ver_, mult_, mand_, res_)                                                  \
    {                                                                                              \
        .id = id_, .multiple = mult_, .mandatory = mand_, .name = name_, .version = ver_,          \
        .res = res_, .nres = sizeof(res_) / sizeof((res_)[0])                                      \
    }

#endif /* LWM2M_MODEL_BUILTIN_H */
