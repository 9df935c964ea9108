/* SPDX-License-Identifier: Apache-2.0 */
/* LwM2M values and paths: one tagged union for every LwM2M data type, and the /O/I/R/RI path.
 * Values never own memory: string, opaque and corelnk bytes are borrowed from whoever built the
 * value (a decoded payload, the point cache), and stay valid only as long as that owner says. */
#ifndef LWM2M_VALUE_H
#define LWM2M_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum lwm2m_type {
    LWM2M_TYPE_NONE = 0, /* "none": executable resources, or a value not known yet */
    LWM2M_TYPE_STRING,
    LWM2M_TYPE_INTEGER,
    LWM2M_TYPE_UNSIGNED,
    LWM2M_TYPE_FLOAT,
    LWM2M_TYPE_BOOLEAN,
    LWM2M_TYPE_OPAQUE,
    LWM2M_TYPE_TIME, /* seconds since the Unix epoch, signed */
    LWM2M_TYPE_OBJLNK,
    LWM2M_TYPE_CORELNK, /* a CoRE link-format string */
};

struct lwm2m_objlnk {
    uint16_t obj;
    uint16_t inst;
};

struct lwm2m_bytes {
    const uint8_t *ptr; /* borrowed */
    size_t len;
};

struct lwm2m_value {
    uint8_t type; /* enum lwm2m_type */
    union {
        int64_t i;                /* INTEGER, TIME */
        uint64_t u;               /* UNSIGNED */
        double f;                 /* FLOAT */
        bool b;                   /* BOOLEAN */
        struct lwm2m_objlnk lnk;  /* OBJLNK */
        struct lwm2m_bytes bytes; /* STRING, OPAQUE, CORELNK (not NUL-terminated) */
    } v;
};

/* Path depth: 0 root "/", 1 object, 2 object instance, 3 resource, 4 resource instance. */
#define LWM2M_PATH_MAX_DEPTH 4
#define LWM2M_ID_MAX         65534u /* 65535 is reserved ("no id") by the specification */

struct lwm2m_path {
    uint16_t ids[LWM2M_PATH_MAX_DEPTH];
    uint8_t len;
};

/* Parses "/3/0/1", "3/0", "/" or "" (root). Each id is 0..65534. Returns 0 or LWM2M_ERR_FORMAT. */
int lwm2m_path_parse(const char *s, size_t n, struct lwm2m_path *p);
/* Writes "/3/0/1" ("/" for root) into out. Returns the length or LWM2M_ERR_NOSPACE. */
int lwm2m_path_format(const struct lwm2m_path *p, char *out, size_t cap);
/* Orders paths depth-first (parents before children, ids ascending). */
int lwm2m_path_cmp(const struct lwm2m_path *a, const struct lwm2m_path *b);
/* True when prefix equals p or is one of its ancestors. */
bool lwm2m_path_has_prefix(const struct lwm2m_path *p, const struct lwm2m_path *prefix);
/* Builds a path from up to 4 ids; depth gives how many are used. */
struct lwm2m_path lwm2m_path_make(uint8_t depth, uint16_t o, uint16_t i, uint16_t r, uint16_t ri);

/* Value constructors (borrowing where they take pointers). */
struct lwm2m_value lwm2m_value_int(int64_t i);
struct lwm2m_value lwm2m_value_uint(uint64_t u);
struct lwm2m_value lwm2m_value_float(double f);
struct lwm2m_value lwm2m_value_bool(bool b);
struct lwm2m_value lwm2m_value_time(int64_t t);
struct lwm2m_value lwm2m_value_objlnk(uint16_t obj, uint16_t inst);
struct lwm2m_value lwm2m_value_string(const char *s, size_t len);
struct lwm2m_value lwm2m_value_opaque(const void *p, size_t len);
struct lwm2m_value lwm2m_value_corelnk(const char *s, size_t len);

/* The LwM2M name of a type ("String", "Integer", "Unsigned Integer", "Float", "Boolean",
 * "Opaque", "Time", "Objlnk", "Corelnk", "none"). */
const char *lwm2m_type_name(enum lwm2m_type t);

/* Converts a value to another LwM2M type when that loses nothing: numbers between Integer,
 * Unsigned, Float and Time when the value is exactly representable, String <-> Corelnk, and an
 * "O:I" String to Objlnk. Decoders use it to map a format's natural type onto the resource's
 * declared type. Byte pointers stay borrowed from in. Returns 0 or LWM2M_ERR_FORMAT. */
int lwm2m_value_convert(const struct lwm2m_value *in, enum lwm2m_type want,
                        struct lwm2m_value *out);
/* Same type and same content (bytes compared; floats compared with ==). */
bool lwm2m_value_equal(const struct lwm2m_value *a, const struct lwm2m_value *b);

#endif /* LWM2M_VALUE_H */
