/* SPDX-License-Identifier: Apache-2.0 */
/* Opaque (application/octet-stream, Content-Format 42): the raw bytes of one Opaque resource or
 * resource instance (LwM2M 1.1.1 TS Core §7.4.2). Reading it borrows the payload as is. */
#include "fmt_internal.h"

static int opaque_add(struct lwm2m_encoder *e, const struct lwm2m_record *r) {
    if (e->count > 0 || e->req.len < 3 || r->value.type != LWM2M_TYPE_OPAQUE) {
        return LWM2M_ERR_INVALID;
    }
    return lwm2m_enc_put(e, r->value.v.bytes.ptr, r->value.v.bytes.len);
}

static int opaque_decode(struct lwm2m_dec *d, const uint8_t *p, size_t n) {
    struct lwm2m_record r = {.path = d->cfg->req, .value = lwm2m_value_opaque(p, n)};
    enum lwm2m_type t = lwm2m_dec_type(d, &r.path);
    if (r.path.len < 3 || (t != LWM2M_TYPE_NONE && t != LWM2M_TYPE_OPAQUE)) {
        return LWM2M_ERR_FORMAT;
    }
    return lwm2m_dec_emit(d, &r);
}

const struct lwm2m_fmt_ops lwm2m_fmt_opaque = {
    .ct = LWM2M_CT_OPAQUE,
    .enc_add = opaque_add,
    .decode = opaque_decode,
};
