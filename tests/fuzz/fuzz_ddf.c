/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for the OMA DDF XML loader: arbitrary bytes go to lwm2m_model_load_ddf, once
 * plainly and once replacing, then every definition of the model is walked and range-checked.
 * Everything is freed per input so LeakSanitizer sees any leak. */
#include <stddef.h>
#include <stdint.h>

#include "lwm2m/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void walk(const struct lwm2m_model *m) {
    for (size_t i = 0; i < lwm2m_model_count(m); i++) {
        const struct lwm2m_object_def *o = lwm2m_model_object_at(m, i);
        for (size_t k = 0; k < o->nres; k++) {
            const struct lwm2m_resource_def *r = &o->res[k];
            struct lwm2m_value v = {.type = r->type};
            struct lwm2m_path p = {.ids = {o->id, 0, r->id, 0}, .len = 4};
            v.v.bytes.ptr = (const uint8_t *)"x";
            v.v.bytes.len = 1;
            (void)lwm2m_resource_check_value(r, &v);
            (void)lwm2m_model_check_path(m, &p);
            if (lwm2m_object_resource(o, r->id) != r)
                __builtin_trap(); /* resources must be sorted and unique */
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct lwm2m_model *m;
    struct lwm2m_model_error err;

    if (lwm2m_model_new(&m) != 0)
        return 0;
    if (lwm2m_model_load_ddf(m, "fuzz.xml", data, size, 0, &err) != 0 && err.msg[0] == '\0')
        __builtin_trap(); /* every failure must say why */
    (void)lwm2m_model_load_ddf(m, "fuzz.xml", data, size, LWM2M_MODEL_REPLACE, &err);
    walk(m);
    lwm2m_model_free(m);
    return 0;
}
