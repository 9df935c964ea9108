/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for the config loader: arbitrary bytes are loaded as a YAML config with
 * cfg_load_buffer. A success must give a usable struct (walked here), a failure must say why.
 * Everything is freed per input so LeakSanitizer sees any leak. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cfg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void walk(const struct cfg *cfg) {
    char out[256];
    for (size_t i = 0; i < cfg->ndevices; i++) {
        const struct cfg_device *d = &cfg->devices[i];
        if (d->adapter == NULL || d->profile == NULL)
            __builtin_trap(); /* references are resolved in a loaded config */
        if (d->name != NULL && (d->endpoint == NULL || strlen(d->endpoint) == 0))
            __builtin_trap();
        for (size_t k = 1; k < d->nres; k++) {
            const struct cfg_resource *a = &d->res[k - 1], *b = &d->res[k];
            if (a->obj > b->obj || (a->obj == b->obj && (a->inst > b->inst ||
                                                         (a->inst == b->inst && a->res >= b->res))))
                __builtin_trap(); /* sorted and unique */
        }
        (void)cfg_template_expand(cfg->lwm2m.endpoint_name, cfg->gateway.id, d->name, d->unit, out,
                                  sizeof(out));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const struct cfg *cfg;
    struct cfg_errors errs;
    char line[640];

    if (cfg_load_buffer("fuzz.yaml", data, size, &cfg, &errs) == 0) {
        walk(cfg);
        cfg_free(cfg);
    } else {
        if (cfg != NULL || errs.n == 0)
            __builtin_trap(); /* every failure must say why */
        for (size_t i = 0; i < errs.n; i++)
            (void)cfg_error_format(&errs, i, line, sizeof(line));
    }
    return 0;
}
