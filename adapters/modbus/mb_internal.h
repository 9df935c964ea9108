/* SPDX-License-Identifier: Apache-2.0 */
/* Inside the Modbus adapter: the pure register codec (mb_codec.c), the pure read planner
 * (mb_plan.c), and the state shared by the loop side (mb_adapter.c) and the link worker thread
 * (mb_link.c). Not for the bridge; unit tests include it to test the pure parts. */
#ifndef GW_MB_INTERNAL_H
#define GW_MB_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "modbus/mb.h"

/* ---- codec (no I/O, no clock) ---- */

#define MB_MAX_READ_REGS  125  /* protocol limit of FC3/FC4 */
#define MB_MAX_READ_BITS  2000 /* protocol limit of FC1/FC2 */
#define MB_MAX_WRITE_REGS 123  /* protocol limit of FC16 */
#define MB_MAX_STRING     246  /* string(N) bytes: fits one FC16 write (123 registers) */

/* Registers a point occupies (for coil/discrete tables: bits, always 1); 0 when the point's
 * type/param is invalid for its table. */
unsigned mb_point_width(const struct mb_point_cfg *p);

/* 0 when the point is well-formed (type allowed in its table, sizes, writability), else -EINVAL. */
int mb_point_check(const struct mb_point_cfg *p);

/* Decodes a register point from n registers (n >= mb_point_width) into out (quality GOOD, ts 0).
 * For string(N), the bytes are written to strbuf (capacity cap >= N) and out borrows them.
 * Returns 0, or -EINVAL (bad point or n too small) or -ENOSPC (strbuf too small). */
int mb_decode_regs(const struct mb_point_cfg *p, const uint16_t *regs, size_t n,
                   struct adapter_value *out, uint8_t *strbuf, size_t cap);

/* Decodes a coil/discrete bit (0 or non-zero). */
void mb_decode_bit(uint8_t bit, struct adapter_value *out);

/* Encodes v for a register point with the inverse of scale/offset and the point's order into
 * regs (capacity cap). Returns the number of registers written (the point's width), or -EINVAL
 * (type cannot be converted, bad point), -ERANGE (value does not fit the type), -ENOSPC.
 * For bit(N) the result is one register with only bit N set or clear: see mb_bit_apply. */
int mb_encode_regs(const struct mb_point_cfg *p, const struct adapter_value *v, uint16_t *regs,
                   size_t cap);

/* Converts v to a coil state (bool, or a number: non-zero is true). 0 or -EINVAL. */
int mb_encode_bit(const struct adapter_value *v, uint8_t *bit);

/* Sets or clears bit n of reg (for a read-modify-write of bit(N)). */
uint16_t mb_bit_apply(uint16_t reg, unsigned n, bool on);

/* The function code a write of point p uses: 5 or 15 for coils, 6 or 16 for holding registers
 * (16 whenever the point spans more than one register or force_multiple is set); 0 when the
 * point is not writable. */
int mb_write_fc(const struct mb_point_cfg *p, bool force_multiple);

/* Names and parsers for configuration text and tools ("holding", "float32", "CDAB"). Parsers
 * return 0 or -EINVAL; mb_type_parse also reads "string(N)" and "bit(N)" into *param. */
const char *mb_table_name(enum mb_table t);
const char *mb_type_name(enum mb_type t);
const char *mb_order_name(enum mb_order o);
int mb_table_parse(const char *s, enum mb_table *out);
int mb_type_parse(const char *s, enum mb_type *out, uint16_t *param);
int mb_order_parse(const char *s, enum mb_order *out);

/* ---- read planner (no I/O) ---- */

/* One read request: count registers (or bits) of table from start, covering the points
 * idx[first .. first+n) of the plan. */
struct mb_read {
    uint8_t table; /* enum mb_table */
    uint16_t start;
    uint16_t count;
    uint32_t first;
    uint32_t n;
};

/* A device's read plan. Owns reads and idx (free with mb_plan_free). */
struct mb_plan {
    struct mb_read *reads;
    size_t n_reads;
    uint32_t *idx; /* point indexes, grouped by read, ascending address inside a read */
    size_t n_idx;
};

/* Builds the plan with the fewest requests: points of one table whose ranges are contiguous,
 * overlap or are at most max_gap apart are merged, up to 125 registers / 2000 bits a request; a
 * point is never split. Returns 0, -EINVAL (a bad point) or -ENOMEM. */
int mb_plan_build(const struct mb_point_cfg *pts, size_t n, uint16_t max_gap, struct mb_plan *out);

/* Replaces read i, which got an "illegal data address" exception, by finer reads: first reads
 * that do not bridge gaps, and when read i bridged none, one read per distinct address. Returns
 * the number of reads that replaced it (>= 2), -ENOENT when read i cannot be split further, or
 * -ENOMEM. Indexes of later reads shift accordingly. */
int mb_plan_split(struct mb_plan *plan, size_t i, const struct mb_point_cfg *pts);

void mb_plan_free(struct mb_plan *plan);

/* ---- RTU framing for RTU-over-TCP (mb_rtu.c; no I/O, no clock) ---- */

#define MB_RTU_MAX_ADU 256 /* unit + PDU (<= 253) + CRC */

/* One request, and what its answer is checked against. */
struct mb_rtu_req {
    uint8_t unit;
    uint8_t fc;     /* 1, 2, 3, 4, 5, 6, 15 or 16 */
    uint16_t addr;  /* 0-based protocol address */
    uint16_t count; /* bits or registers read or written (1 for FC5/FC6) */
    uint16_t value; /* FC5: the coil state (non-zero is on); FC6: the register */
};

/* CRC-16/MODBUS (poly 0xA001 reflected, init 0xFFFF). Sent low byte first; the CRC of a whole
 * frame including its CRC is 0. */
uint16_t mb_rtu_crc(const uint8_t *p, size_t n);

/* Builds the request ADU into out. FC5/FC6 write r->value, FC16 count registers from regs, FC15
 * count bits from bits (one byte per bit, non-zero is on); the others take neither.
 * Returns the ADU length, or -EINVAL (unknown FC, count out of the protocol's range, missing
 * data) or -ENOSPC (cap too small). */
int mb_rtu_build(const struct mb_rtu_req *r, const uint16_t *regs, const uint8_t *bits,
                 uint8_t *out, size_t cap);

/* Length of the answer ADU whose first n bytes are adu: 0 while fewer bytes than decide it have
 * arrived, else the full length (5..MB_RTU_MAX_ADU); -EMBBADDATA for a function code no answer to
 * our requests carries (the length cannot be known: the frame is garbage). */
int mb_rtu_answer_len(const uint8_t *adu, size_t n);

/* Checks the complete answer adu (n bytes) to r and decodes a read into bits (FC1/FC2, one byte
 * per bit, count entries) or regs (FC3/FC4, count registers). The answer to a write must echo
 * the address and r->value (FC5, FC6) or the quantity (FC15, FC16); regs/bits are not used.
 * Returns 0, -(MODBUS_ENOBASE + code) for an exception answer (code 1..11, the errno libmodbus
 * would set), or a libmodbus frame error: -EMBBADCRC, -EMBBADSLAVE (another unit), -EMBBADDATA
 * (wrong length, function, byte count or echo), -EMBBADEXC (exception code 0 or above 11). */
int mb_rtu_parse(const struct mb_rtu_req *r, const uint8_t *adu, size_t n, uint16_t *regs,
                 uint8_t *bits);

/* ---- the link's bus: libmodbus, or our RTU-over-TCP client ---- */

/* What the link worker calls for I/O. Every call returns 0 or a negative errno, libmodbus'
 * codes included (-EMBXILADD, -EMBBADCRC, ...), so failures are classified one way for every
 * transport. Instances live on the worker thread only. */
struct mb_bus;
struct mb_bus_ops {
    /* Opens the link. *warn gets a positive errno of a non-fatal setup problem (RS-485 mode). */
    int (*connect)(struct mb_bus *b, int *warn);
    void (*close)(struct mb_bus *b);
    void (*flush)(struct mb_bus *b); /* drops whatever the peer sent that was not asked for */
    /* Reads count bits (FC1/FC2, one byte per bit) or registers (FC3/FC4). */
    int (*read)(struct mb_bus *b, uint8_t unit, uint8_t fc, uint16_t addr, uint16_t count,
                uint16_t *regs, uint8_t *bits);
    /* Writes with FC5/FC6/FC15/FC16, data as for mb_rtu_build. */
    int (*write)(struct mb_bus *b, uint8_t unit, uint8_t fc, uint16_t addr, uint16_t count,
                 const uint16_t *regs, const uint8_t *bits);
    void (*destroy)(struct mb_bus *b);
    /* After a garbled answer: true when only a new connection re-synchronises the stream
     * (Modbus TCP through libmodbus, which cannot skip a stale answer). */
    bool resync_by_reconnect;
    /* A link that may die without telling us (a TCP peer gone without a RST). */
    bool stream;
};
struct mb_bus {
    const struct mb_bus_ops *ops;
};

/* The libmodbus bus for MB_TRANSPORT_TCP and MB_TRANSPORT_RTU (mb_bus_modbus.c), and our own
 * RTU-over-TCP client for MB_TRANSPORT_RTU_TCP (mb_rtu_tcp.c). l is borrowed for the bus's life.
 * NULL with errno set on failure. */
struct mb_bus *mb_bus_modbus_new(const struct mb_link_cfg *l);
struct mb_bus *mb_rtu_tcp_new(const struct mb_link_cfg *l);

/* One RTU transaction on a connected stream socket fd (mb_rtu_tcp.c): drops stale input, sends
 * the request built from r, wregs and wbits, reads the answer (first byte within timeout_ms,
 * each next chunk within MB_RTU_BYTE_TIMEOUT_MS, as libmodbus does, the whole frame within
 * MB_RTU_FRAME_MAX_MS of its first byte) and parses it into regs/bits. A write to unit 0
 * (broadcast) is only sent. Returns as mb_rtu_parse, or -ETIMEDOUT (nothing came), -EMBBADDATA
 * (a partial frame, then silence), -ECONNRESET (the peer closed) or another negative errno of
 * the socket. */
#define MB_RTU_BYTE_TIMEOUT_MS 500
#define MB_RTU_FRAME_MAX_MS    3000 /* 256 bytes take 2.35 s on a 1200 baud line */
int mb_rtu_transact(int fd, uint32_t timeout_ms, const struct mb_rtu_req *r, const uint16_t *wregs,
                    const uint8_t *wbits, uint16_t *regs, uint8_t *bits);

/* ---- shared state of one adapter (loop side + link worker) ---- */

struct mb_dev {
    struct mb_device_cfg cfg; /* strings and points point into the adapter's own copies */
    struct mb_point_cfg *pts; /* owned copy of cfg.points */
    uint8_t *qual;            /* worker: last quality posted per point (0xff = none yet) */
    uint8_t *exc;             /* worker: last exception code posted per point */
    struct mb_plan plan;      /* worker: the read plan */
    uint64_t next_poll;       /* worker: monotonic ms of the next poll */
    uint64_t backoff_until;   /* worker: no request to this unit before this time */
    uint32_t backoff_ms;      /* worker: current back-off, 0 when the unit answers */
    int8_t up;                /* worker: -1 unknown, 0 down, 1 up (last state posted) */
};

/* A queued write, built on the loop thread, executed by the worker. */
struct mb_write {
    struct mb_write *next;
    uint32_t dev, point;
    uint16_t regs[MB_MAX_WRITE_REGS];
    uint16_t n;  /* registers in regs (0 for coils) */
    uint8_t bit; /* coil state */
    void *req;
};

enum mb_event_kind { MB_EV_VALUE = 0, MB_EV_STATE, MB_EV_WRITE_DONE };

/* A result posted by the worker to the loop; owned by the queue until delivered, then freed. */
struct mb_event {
    struct mb_event *next;
    uint8_t kind;                   /* enum mb_event_kind */
    uint32_t dev, point;            /* dev == UINT32_MAX: the link itself */
    struct adapter_value val;       /* VALUE; string bytes live in data[] */
    uint8_t state;                  /* STATE */
    char detail[96];                /* STATE */
    struct adapter_write_result wr; /* WRITE_DONE */
    void *req;                      /* WRITE_DONE */
    uint8_t data[];
};

struct mb_counters {
    atomic_uint_fast64_t requests, timeouts, exceptions, polls, values, reconnects, skipped,
        dropped, bus_errors;
};

struct mb_adapter {
    struct adapter base;
    struct adapter_sink sink;
    struct event_base *evbase;
    struct event *ev_notify; /* eventfd readable: the worker posted events */
    int efd;
    struct mb_link_cfg link; /* strings owned (copied) */
    struct mb_dev *devs;
    size_t n_devs;
    struct mb_wkey *wkeys; /* sorted by user pointer, for write_point */
    size_t n_wkeys;
    struct mb_counters cnt;
    uint32_t *sched; /* worker-owned: device indexes, a min-heap on next_poll */

    pthread_t thread;
    bool running; /* loop thread only */

    pthread_mutex_t mu; /* guards everything below */
    pthread_cond_t cv;  /* signalled on stop and on a new write */
    bool stop;
    struct mb_write *wq_head, **wq_tail;
    size_t wq_len;
    struct mb_event *evq_head, **evq_tail;
    atomic_size_t evq_len; /* events queued for the loop; written under mu, read by the worker */
};

/* Beyond this many undelivered events the worker drops good values (never states, qualities or
 * write completions): a stalled loop must not make a fast link eat all memory. A newer value of
 * the same point follows on the next poll. */
#define MB_EVENT_QUEUE_MAX 65536

/* Entry of the user-pointer index. */
struct mb_wkey {
    const void *user;
    uint32_t dev, point;
};

/* The worker thread body (mb_link.c); arg is the struct mb_adapter. */
void *mb_link_main(void *arg);

/* Worker side: queue a list of events (head .. the next pointer at tail, which is NULL) for the
 * loop and wake it (mb_adapter.c). Takes ownership of the events. */
void mb_post(struct mb_adapter *a, struct mb_event *head, struct mb_event **tail);

#endif /* GW_MB_INTERNAL_H */
