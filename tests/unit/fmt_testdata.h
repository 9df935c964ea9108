/* SPDX-License-Identifier: Apache-2.0 */
/* Shared data for the content-format tests and benchmark: the Device object instance /3/0 of
 * the specification's examples (LwM2M 1.0.2 TS §6.4.3 / 1.1.1 TS Core §7.4: "Open Mobile
 * Alliance", "Lightweight M2M Client", ...), its types, and small record helpers. Header-only. */
#ifndef FMT_TESTDATA_H
#define FMT_TESTDATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "lwm2m/format.h"
#include "lwm2m/value.h"

#define P3(o, i, r)     lwm2m_path_make(3, (o), (i), (r), 0)
#define P4(o, i, r, ri) lwm2m_path_make(4, (o), (i), (r), (ri))
#define STR(s)          lwm2m_value_string((s), sizeof(s) - 1)

#define DEVICE_RECORDS 16

static inline size_t device_records(struct lwm2m_record *r) {
    const struct lwm2m_record recs[DEVICE_RECORDS] = {
        {P3(3, 0, 0), STR("Open Mobile Alliance"), 0, false},
        {P3(3, 0, 1), STR("Lightweight M2M Client"), 0, false},
        {P3(3, 0, 2), STR("345000123"), 0, false},
        {P3(3, 0, 3), STR("1.0"), 0, false},
        {P4(3, 0, 6, 0), {LWM2M_TYPE_INTEGER, {.i = 1}}, 0, false},
        {P4(3, 0, 6, 1), {LWM2M_TYPE_INTEGER, {.i = 5}}, 0, false},
        {P4(3, 0, 7, 0), {LWM2M_TYPE_INTEGER, {.i = 3800}}, 0, false},
        {P4(3, 0, 7, 1), {LWM2M_TYPE_INTEGER, {.i = 5000}}, 0, false},
        {P4(3, 0, 8, 0), {LWM2M_TYPE_INTEGER, {.i = 125}}, 0, false},
        {P4(3, 0, 8, 1), {LWM2M_TYPE_INTEGER, {.i = 900}}, 0, false},
        {P3(3, 0, 9), {LWM2M_TYPE_INTEGER, {.i = 100}}, 0, false},
        {P3(3, 0, 10), {LWM2M_TYPE_INTEGER, {.i = 15}}, 0, false},
        {P4(3, 0, 11, 0), {LWM2M_TYPE_INTEGER, {.i = 0}}, 0, false},
        {P3(3, 0, 13), {LWM2M_TYPE_TIME, {.i = 1367491215}}, 0, false},
        {P3(3, 0, 14), STR("+02:00"), 0, false},
        {P3(3, 0, 16), STR("U"), 0, false},
    };
    memcpy(r, recs, sizeof(recs));
    return DEVICE_RECORDS;
}

/* Device object resource types (LwM2M 1.0 Appendix E.4). */
static inline enum lwm2m_type device_type(void *ctx, const struct lwm2m_path *p) {
    (void)ctx;
    if (p->len < 3 || p->ids[0] != 3) {
        return LWM2M_TYPE_NONE;
    }
    switch (p->ids[2]) {
    case 0:
    case 1:
    case 2:
    case 3:
    case 14:
    case 15:
    case 16:
    case 17:
    case 18:
    case 19:
        return LWM2M_TYPE_STRING;
    case 6:
    case 7:
    case 8:
    case 9:
    case 10:
    case 11:
    case 20:
    case 21:
        return LWM2M_TYPE_INTEGER;
    case 13:
        return LWM2M_TYPE_TIME;
    default:
        return LWM2M_TYPE_NONE;
    }
}

/* Encodes n records for req into buf; returns the payload length or a negative error. */
static inline int encode_records(unsigned ct, const struct lwm2m_path *req,
                                 const struct lwm2m_record *r, size_t n, uint8_t *buf, size_t cap) {
    struct lwm2m_encoder e;
    size_t len = 0;
    int rc = lwm2m_encoder_init(&e, ct, req, buf, cap);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = lwm2m_encoder_add(&e, &r[i]);
    }
    if (rc == 0) {
        rc = lwm2m_encoder_finish(&e, &len);
    }
    return rc != 0 ? rc : (int)len;
}

static inline bool records_equal(const struct lwm2m_record *a, const struct lwm2m_record *b) {
    return lwm2m_path_cmp(&a->path, &b->path) == 0 && lwm2m_value_equal(&a->value, &b->value);
}

static inline size_t hex_to_bytes(const char *hex, uint8_t *out) {
    size_t n = 0;
    for (const char *c = hex; c[0] != '\0' && c[1] != '\0'; c += 2) {
        unsigned v;
        char pair[3] = {c[0], c[1], 0};
        sscanf(pair, "%02x", &v);
        out[n++] = (uint8_t)v;
    }
    return n;
}

#endif /* FMT_TESTDATA_H */
