/* SPDX-License-Identifier: Apache-2.0 */
/* Throughput of the content formats on the specification's Device object read (/3/0, 16
 * records): encode + decode per format, in records per second, one line per format. Bounded:
 * each format runs for about 0.5 s. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lwm2m/format.h"

#define P3(o, i, r)     lwm2m_path_make(3, (o), (i), (r), 0)
#define P4(o, i, r, ri) lwm2m_path_make(4, (o), (i), (r), (ri))
#define STR(s)          lwm2m_value_string((s), sizeof(s) - 1)

static enum lwm2m_type device_type(void *ctx, const struct lwm2m_path *p) {
    (void)ctx;
    switch (p->ids[2]) {
    case 0:
    case 1:
    case 2:
    case 3:
    case 14:
    case 16:
        return LWM2M_TYPE_STRING;
    case 13:
        return LWM2M_TYPE_TIME;
    default:
        return LWM2M_TYPE_INTEGER;
    }
}

static int count_record(void *ctx, const struct lwm2m_record *r) {
    (void)r;
    (*(size_t *)ctx)++;
    return 0;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(void) {
    const struct lwm2m_record recs[] = {
        {P3(3, 0, 0), STR("Open Mobile Alliance"), 0, false},
        {P3(3, 0, 1), STR("Lightweight M2M Client"), 0, false},
        {P3(3, 0, 2), STR("345000123"), 0, false},
        {P3(3, 0, 3), STR("1.0"), 0, false},
        {P4(3, 0, 6, 0), lwm2m_value_int(1), 0, false},
        {P4(3, 0, 6, 1), lwm2m_value_int(5), 0, false},
        {P4(3, 0, 7, 0), lwm2m_value_int(3800), 0, false},
        {P4(3, 0, 7, 1), lwm2m_value_int(5000), 0, false},
        {P4(3, 0, 8, 0), lwm2m_value_int(125), 0, false},
        {P4(3, 0, 8, 1), lwm2m_value_int(900), 0, false},
        {P3(3, 0, 9), lwm2m_value_int(100), 0, false},
        {P3(3, 0, 10), lwm2m_value_int(15), 0, false},
        {P4(3, 0, 11, 0), lwm2m_value_int(0), 0, false},
        {P3(3, 0, 13), lwm2m_value_time(1367491215), 0, false},
        {P3(3, 0, 14), STR("+02:00"), 0, false},
        {P3(3, 0, 16), STR("U"), 0, false},
    };
    const size_t nrec = sizeof(recs) / sizeof(recs[0]);
    const unsigned formats[] = {LWM2M_CT_TLV, LWM2M_CT_SENML_JSON, LWM2M_CT_SENML_CBOR,
                                LWM2M_CT_LWM2M_CBOR, LWM2M_CT_LWM2M_JSON};
    static uint8_t buf[1024], scratch[1024];
    struct lwm2m_path req = lwm2m_path_make(2, 3, 0, 0, 0);
    for (size_t f = 0; f < sizeof(formats) / sizeof(formats[0]); f++) {
        size_t decoded = 0, iters = 0, len = 0;
        double t0 = now(), t = t0;
        while (t - t0 < 0.5) {
            for (int k = 0; k < 100; k++, iters++) {
                struct lwm2m_encoder e;
                lwm2m_encoder_init(&e, formats[f], &req, buf, sizeof(buf));
                for (size_t i = 0; i < nrec; i++) {
                    lwm2m_encoder_add(&e, &recs[i]);
                }
                if (lwm2m_encoder_finish(&e, &len) != 0) {
                    fprintf(stderr, "encode failed\n");
                    return 1;
                }
                struct lwm2m_decode_cfg cfg = {.ct = formats[f],
                                               .req = req,
                                               .type_of = device_type,
                                               .scratch = scratch,
                                               .scratch_cap = sizeof(scratch)};
                if (lwm2m_decode(&cfg, buf, len, count_record, &decoded) != 0) {
                    fprintf(stderr, "decode failed\n");
                    return 1;
                }
            }
            t = now();
        }
        double secs = t - t0;
        printf("%-11s /3/0 %3zu bytes: encode+decode %9.0f records/s (%7.0f reads/s)\n",
               lwm2m_ct_name(formats[f]), len, (double)(iters * nrec) / secs, (double)iters / secs);
        if (decoded != iters * nrec) {
            fprintf(stderr, "decoded %zu of %zu records\n", decoded, iters * nrec);
            return 1;
        }
    }
    return 0;
}
