/* SPDX-License-Identifier: Apache-2.0 */
/* The Modbus adapter's public face: the plain configuration structs the YAML loader fills (one
 * link, its devices, their points) and the adapter_ops that run it. One adapter instance is one
 * link (a TCP connection, with Modbus TCP or RTU framing, or a serial line) with one worker
 * thread, serving every unit on it. */
#ifndef GW_MB_H
#define GW_MB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "adapter.h"

enum mb_transport {
    MB_TRANSPORT_TCP = 0, /* Modbus TCP, also TCP-to-RTU gateways (many unit ids, one socket) */
    MB_TRANSPORT_RTU,     /* Modbus RTU on a serial line */
    MB_TRANSPORT_RTU_TCP, /* RTU frames (unit, PDU, CRC) on a TCP stream: serial-to-Ethernet */
};

/* One link. Strings are borrowed until create returns (the adapter copies them). */
struct mb_link_cfg {
    const char *name; /* for logs and state details */
    enum mb_transport transport;
    /* TCP and RTU_TCP */
    const char *host; /* numeric IPv4 address, e.g. "127.0.0.1" (libmodbus does no lookup) */
    uint16_t port;    /* 0 means 502 */
    /* RTU */
    const char *device; /* "/dev/ttyUSB0" */
    uint32_t baud;      /* 0 means 19200 */
    char parity;        /* 'N', 'E' or 'O'; 0 means 'E' (the Modbus default) */
    uint8_t data_bits;  /* 5..8; 0 means 8 */
    uint8_t stop_bits;  /* 1 or 2; 0 means 1 */
    bool rs485;         /* ask the kernel for RS-485 mode; a failure is reported, not fatal */
    /* both */
    uint32_t timeout_ms;     /* response timeout; 0 means 1000 */
    uint32_t backoff_min_ms; /* first back-off after a timeout or a lost link; 0 means 1000 */
    uint32_t backoff_max_ms; /* back-off doubles up to this; 0 means 30000 */
};

enum mb_table {
    MB_TABLE_COIL = 0, /* read FC1, write FC5/FC15 */
    MB_TABLE_DISCRETE, /* read FC2 */
    MB_TABLE_INPUT,    /* read FC4 */
    MB_TABLE_HOLDING,  /* read FC3, write FC6/FC16 */
};

enum mb_type {
    MB_TYPE_BOOL = 0, /* coil/discrete bit, or a register that is non-zero */
    MB_TYPE_INT16,
    MB_TYPE_UINT16,
    MB_TYPE_INT32,
    MB_TYPE_UINT32,
    MB_TYPE_INT64,
    MB_TYPE_UINT64,
    MB_TYPE_FLOAT32,
    MB_TYPE_FLOAT64,
    MB_TYPE_STRING, /* string(N): N bytes in ceil(N/2) registers, trailing NULs dropped */
    MB_TYPE_BIT,    /* bit(N): bit N (0 = least significant) of one register, as a bool */
};

/* Byte order of multi-byte values, named by where the bytes A (most significant) .. D land in
 * the register stream. Registers are big-endian on the wire; ABCD is the Modbus default.
 * CDAB swaps words (for 64-bit values: the four registers in reverse order), BADC swaps the bytes
 * inside each register, DCBA does both (fully little-endian). */
enum mb_order {
    MB_ORDER_ABCD = 0,
    MB_ORDER_CDAB,
    MB_ORDER_BADC,
    MB_ORDER_DCBA,
};

/* One point: a value in one table of one unit. */
struct mb_point_cfg {
    const char *name; /* for logs and tools; borrowed until create returns */
    enum mb_table table;
    uint16_t address; /* 0-based protocol address */
    enum mb_type type;
    uint16_t param;      /* string(N): N bytes; bit(N): N (0..15); otherwise unused */
    enum mb_order order; /* for multi-byte types and strings */
    double scale;        /* engineering = raw * scale + offset; 0 means 1 */
    double offset;
    bool writable;  /* coil or holding only */
    bool read_back; /* read the point again after a write and compare */
    /* The bridge's handle (e.g. its resource): on_value reports it, write_point looks points up
     * by it, so it must be unique within one adapter (NULL: the point cannot be written to).
     * Never dereferenced here. */
    void *user;
};

/* One unit on a link. */
struct mb_device_cfg {
    const char *name;    /* borrowed until create returns */
    uint8_t unit;        /* unit / slave id, 0..247 (255 for plain TCP devices) */
    uint32_t poll_ms;    /* poll period; 0 means 1000 */
    uint16_t max_gap;    /* registers (or bits) of gap a merged request may read over; 0 = none */
    bool force_multiple; /* writes always use FC16 (registers) / FC15 (coils) */
    const struct mb_point_cfg *points; /* borrowed until create returns */
    size_t n_points;
    void *user; /* scope for on_state; never dereferenced here */
};

/* What struct adapter_ops.create takes for kind "modbus".
 *
 * Behaviour, for the bridge and the docs: each device is polled every poll_ms (first polls
 * staggered over min(poll_ms, 5 s)); its points are read with the plan of mb_plan_build. A good
 * value is reported on every poll; a bad quality only when it changes. A unit that times out (or
 * that a gateway reports unreachable, exception 0x0A/0x0B) is DOWN and not asked again for a
 * back-off that doubles from backoff_min_ms to backoff_max_ms; its points go TIMEOUT. A garbled
 * answer (bad CRC, short frame, wrong unit, function or length) is a bus error: counted, the
 * link re-synchronised, the request retried once, then its points go BAD_DATA. An exception
 * answer marks the points of that request only (after splitting a merged request that met an
 * "illegal data address"). A lost link (connection reset, serial I/O error, or three timeouts
 * in a row with no answer on a TCP link) marks every point DISCONNECTED and is retried with the
 * same back-off. Writes go before polls and are tried even while the unit is in
 * back-off (a user is waiting); they fail at once with DISCONNECTED while the link is down. */
struct mb_adapter_cfg {
    struct mb_link_cfg link;
    const struct mb_device_cfg *devices; /* borrowed until create returns */
    size_t n_devices;
};

/* The Modbus adapter kind. */
extern const struct adapter_ops mb_adapter_ops;

/* Checks one device's configuration without starting anything (table/type combinations, sizes,
 * writability). On error returns -EINVAL and, when bad_point is not NULL, the index of the
 * offending point (or SIZE_MAX when the device itself is wrong). */
int mb_device_cfg_check(const struct mb_device_cfg *d, size_t *bad_point);

/* Counters of one adapter, readable on the loop thread (for /metrics and the benches). */
struct mb_stats {
    uint64_t requests;   /* read and write requests sent */
    uint64_t timeouts;   /* requests that got no answer */
    uint64_t exceptions; /* Modbus exception answers */
    uint64_t polls;      /* device poll cycles completed */
    uint64_t values;     /* values delivered to the sink */
    uint64_t reconnects; /* successful (re)connections */
    uint64_t skipped;    /* device polls skipped because the unit was in back-off */
    uint64_t dropped;    /* good values dropped because the loop fell 65536 events behind */
    uint64_t bus_errors; /* garbled answers: bad CRC, short frame, wrong unit/function/length */
};
int mb_adapter_stats(struct adapter *a, struct mb_stats *out);

#endif /* GW_MB_H */
