/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for the bootstrap state file decoder (bs_state.c): the input is a state file
 * image. Damage must be refused cleanly, never crash; what decodes must re-encode to an image
 * that decodes to the same records, and the Bootstrap-Finish consistency check must take it.
 * The input is decoded twice: as given, and with its length and CRC fields recomputed, so that
 * mutations also reach the SenML CBOR body behind the checksum. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bs_internal.h"
#include "file_io.h"

static void check(bool ok) {
    if (!ok)
        __builtin_trap();
}

static struct lwm2m_model *model(void) {
    static struct lwm2m_model *m;
    if (m == NULL) {
        check(lwm2m_model_new(&m) == 0);
        lwm2m_model_seal(m);
    }
    return m;
}

static void one_image(const uint8_t *data, size_t size) {
    char err[256];
    struct lwm2m_bs_data a = {0}, b = {0};
    int rc = lwm2m_bs_state_decode(model(), data, size, &a, err, sizeof(err));
    check(rc == 0 || rc == LWM2M_ERR_FORMAT);
    if (rc == 0) {
        uint8_t *img = NULL;
        size_t len = 0;
        struct lwm2m_bs_server sv[LWM2M_BS_SERVERS_MAX];
        int n = lwm2m_bs_servers(&a, 2, sv, LWM2M_BS_SERVERS_MAX, err, sizeof(err));
        check(n != 0);
        check(lwm2m_bs_state_encode(&a, &img, &len) == 0);
        check(lwm2m_bs_state_decode(model(), img, len, &b, err, sizeof(err)) == 0);
        check(b.n == a.n);
        for (size_t i = 0; i < a.n; i++)
            check(lwm2m_path_cmp(&a.v[i].path, &b.v[i].path) == 0 &&
                  lwm2m_value_equal(&a.v[i].v, &b.v[i].v));
        free(img);
    }
    lwm2m_bs_data_free(&a);
    lwm2m_bs_data_free(&b);
}

static void put32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    one_image(data, size);
    if (size < 16)
        return 0;
    uint8_t *copy = malloc(size);
    if (copy == NULL)
        return 0;
    memcpy(copy, data, size);
    memcpy(copy, "LWBS\x01\0\0\0", 8);
    put32(copy + 8, (uint32_t)(size - 16));
    put32(copy + 12, lwm2m_crc32(copy + 16, size - 16));
    one_image(copy, size);
    free(copy);
    return 0;
}
