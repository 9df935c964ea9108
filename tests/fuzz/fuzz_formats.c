/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target over every content-format decoder (and, for what decodes, the encoder of the
 * same format on the decoded records). Input byte 0 selects: bits 0-3 the format (TLV, text,
 * opaque, CBOR, SenML JSON, SenML CBOR, LwM2M JSON, LwM2M CBOR, composite path list, link
 * parser), bits 4-6 the request path depth (/3/0/9/0 cut to 0..4 ids), bit 7 typed decoding. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "lwm2m/format.h"

static const unsigned FORMATS[] = {LWM2M_CT_TLV,        LWM2M_CT_TEXT,       LWM2M_CT_OPAQUE,
                                   LWM2M_CT_CBOR,       LWM2M_CT_SENML_JSON, LWM2M_CT_SENML_CBOR,
                                   LWM2M_CT_LWM2M_JSON, LWM2M_CT_LWM2M_CBOR};

/* Some type for every path, derived from its ids, so conversions get exercised too. */
static enum lwm2m_type any_type(void *ctx, const struct lwm2m_path *p) {
    (void)ctx;
    unsigned h = p->len;
    for (uint8_t i = 0; i < p->len; i++) {
        h = h * 31u + p->ids[i];
    }
    return (enum lwm2m_type)(h % 10u);
}

static int on_link(void *ctx, const struct lwm2m_link *l) {
    (void)ctx;
    return l->uri_len > 10000 ? 1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static struct lwm2m_record recs[64];
    static struct lwm2m_path paths[64];
    static uint8_t scratch[4096], out[8192];
    if (size < 1) {
        return 0;
    }
    unsigned sel = data[0] & 0x0F;
    uint8_t depth = (uint8_t)((data[0] >> 4) & 7);
    struct lwm2m_path req = lwm2m_path_make(depth > 4 ? 4 : depth, 3, 0, 9, 0);
    size_t n = 0;
    if (sel == 8) {
        lwm2m_decode_paths(data[0] & 0x80 ? LWM2M_CT_SENML_CBOR : LWM2M_CT_SENML_JSON, data + 1,
                           size - 1, paths, 64, &n);
        return 0;
    }
    if (sel >= 9) {
        lwm2m_link_parse((const char *)data + 1, size - 1, on_link, NULL);
        return 0;
    }
    struct lwm2m_decode_cfg cfg = {.ct = FORMATS[sel],
                                   .req = req,
                                   .type_of = (data[0] & 0x80) ? any_type : NULL,
                                   .scratch = scratch,
                                   .scratch_cap = sizeof(scratch)};
    if (lwm2m_decode_all(&cfg, data + 1, size - 1, recs, 64, &n) != 0) {
        return 0;
    }
    struct lwm2m_encoder e;
    if (lwm2m_encoder_init(&e, FORMATS[sel], &req, out, sizeof(out)) == 0) {
        for (size_t i = 0; i < n; i++) {
            lwm2m_encoder_add(&e, &recs[i]);
        }
        lwm2m_encoder_finish(&e, NULL);
    }
    return 0;
}
