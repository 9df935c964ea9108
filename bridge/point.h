/* SPDX-License-Identifier: Apache-2.0 */
/* The point cache: the last value of one bound resource, typed as the resource's definition in
 * the model says, with the time it was read, its quality and the conversion from adapter values
 * (and back, for writes). Server Reads are answered from here, never from the bus. */
#ifndef BR_POINT_H
#define BR_POINT_H

#include <stdbool.h>
#include <stdint.h>

#include "adapter.h"
#include "lwm2m/value.h"

/* One cached value. Owns the bytes of a String/Opaque/Corelnk value (buf). Zero-initialise, then
 * br_point_init; free with br_point_free. */
struct br_point {
    uint8_t type;          /* enum lwm2m_type the resource declares; fixed after init */
    uint8_t quality;       /* enum adapter_quality of the last report */
    bool has_value;        /* v holds a value (the last GOOD reading, or a constant) */
    bool constant;         /* a configured constant: never stale */
    uint64_t ts_ms;        /* wall clock of the value's reading (ms since the epoch) */
    uint64_t mono_ms;      /* monotonic time the value (or the quality) last changed */
    uint64_t good_mono_ms; /* monotonic time of the last GOOD reading */
    struct lwm2m_value v;  /* bytes point into buf */
    uint8_t *buf;
    size_t cap;
};

void br_point_init(struct br_point *p, enum lwm2m_type type);
void br_point_free(struct br_point *p);

/* Result of br_point_update: did what a server observes change? */
enum { BR_POINT_SAME = 0, BR_POINT_CHANGED = 1 };

/* Stores an adapter report. A GOOD value is converted to p->type (br_value_from_adapter); a
 * report of another quality keeps the last good value and only records the quality. now_mono and
 * now_real are the caller's clock readings; a value without ts_ms gets now_real. Returns
 * BR_POINT_CHANGED when the value or the quality changed, BR_POINT_SAME, LWM2M_ERR_FORMAT when a
 * GOOD value does not fit the type (the point then has quality BAD_DATA) or LWM2M_ERR_NOMEM. */
int br_point_update(struct br_point *p, const struct adapter_value *av, uint64_t now_mono,
                    uint64_t now_real);

/* Sets a constant from its configured text, read as p->type. Returns 0, LWM2M_ERR_FORMAT or
 * LWM2M_ERR_NOMEM. */
int br_point_set_const(struct br_point *p, const char *text);

/* Sets a value of type p->type directly (a written constant, an assumed write without
 * read-back). Bytes are copied. Same returns as br_point_update. */
int br_point_set(struct br_point *p, const struct lwm2m_value *v, uint64_t now_mono,
                 uint64_t now_real);

/* True when a Read must answer 5.03: no value yet, or the point's source is unreachable (quality
 * not GOOD, or unreachable is true: the device is down) and the last good value is older than
 * stale_ms (0: any age is stale once unreachable). Constants are never stale. */
bool br_point_stale(const struct br_point *p, bool unreachable, uint64_t now_mono,
                    uint32_t stale_ms);

/* The cached value for a Read: 0 and *out (bytes borrowed until the point changes), or
 * LWM2M_ERR_AGAIN when br_point_stale says so. */
int br_point_read(const struct br_point *p, bool unreachable, uint64_t now_mono, uint32_t stale_ms,
                  struct lwm2m_value *out);

/* Converts an adapter value (type not NONE) to LwM2M type want without losing information that
 * matters: booleans <-> numbers 0/1, integers <-> floats when exact (floats to Integer/Unsigned
 * are rounded to the nearest integer: scaled register values), numbers -> strings in decimal,
 * strings -> numbers/booleans by parsing. Bytes in out borrow from av. LWM2M_ERR_FORMAT when it
 * does not fit. */
int br_value_from_adapter(const struct adapter_value *av, enum lwm2m_type want,
                          struct lwm2m_value *out, char *scratch, size_t scratch_cap);

/* Converts an LwM2M value to an adapter value for write_point (bytes borrowed from v). Objlnk
 * and NONE cannot be written: LWM2M_ERR_UNSUPPORTED. */
int br_value_to_adapter(const struct lwm2m_value *v, struct adapter_value *out);

/* Formats a value as text for logs and the status API ("21.5", "true", "ACME"). Returns the
 * length (truncated to cap - 1). */
int br_value_format(const struct lwm2m_value *v, char *out, size_t cap);

#endif /* BR_POINT_H */
