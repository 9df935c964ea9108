/* SPDX-License-Identifier: Apache-2.0 */
/* The libmodbus bus: Modbus TCP and Modbus RTU on a serial line behind struct mb_bus, so the link
 * worker drives every transport the same way. Runs on the link worker only; libmodbus' errno
 * convention becomes the bus's negative return values. */
#include <errno.h>
#include <modbus/modbus.h>
#include <stdlib.h>

#include "modbus/mb_internal.h"

struct mb_bus_modbus {
    struct mb_bus base;
    const struct mb_link_cfg *l;
    modbus_t *ctx;
};

static struct mb_bus_modbus *mb_bus_modbus_of(struct mb_bus *b) {
    return (struct mb_bus_modbus *)(void *)((char *)b - offsetof(struct mb_bus_modbus, base));
}

static int mb_bus_err(int rc) {
    return rc < 0 ? (errno ? -errno : -EIO) : 0;
}

static int mb_bus_modbus_connect(struct mb_bus *b, int *warn) {
    struct mb_bus_modbus *m = mb_bus_modbus_of(b);
    *warn = 0;
    if (modbus_connect(m->ctx) < 0)
        return mb_bus_err(-1);
    if (m->l->transport == MB_TRANSPORT_RTU && m->l->rs485 &&
        modbus_rtu_set_serial_mode(m->ctx, MODBUS_RTU_RS485) < 0)
        *warn = errno ? errno : EIO;
    return 0;
}

static void mb_bus_modbus_close(struct mb_bus *b) {
    modbus_close(mb_bus_modbus_of(b)->ctx);
}

static void mb_bus_modbus_flush(struct mb_bus *b) {
    modbus_flush(mb_bus_modbus_of(b)->ctx);
}

static int mb_bus_modbus_read(struct mb_bus *b, uint8_t unit, uint8_t fc, uint16_t addr,
                              uint16_t count, uint16_t *regs, uint8_t *bits) {
    modbus_t *ctx = mb_bus_modbus_of(b)->ctx;
    int rc;
    modbus_set_slave(ctx, unit);
    switch (fc) {
    case 1:
        rc = modbus_read_bits(ctx, addr, count, bits);
        break;
    case 2:
        rc = modbus_read_input_bits(ctx, addr, count, bits);
        break;
    case 3:
        rc = modbus_read_registers(ctx, addr, count, regs);
        break;
    case 4:
        rc = modbus_read_input_registers(ctx, addr, count, regs);
        break;
    default:
        return -EINVAL;
    }
    return mb_bus_err(rc);
}

static int mb_bus_modbus_write(struct mb_bus *b, uint8_t unit, uint8_t fc, uint16_t addr,
                               uint16_t count, const uint16_t *regs, const uint8_t *bits) {
    modbus_t *ctx = mb_bus_modbus_of(b)->ctx;
    int rc;
    modbus_set_slave(ctx, unit);
    switch (fc) {
    case 5:
        rc = modbus_write_bit(ctx, addr, bits[0]);
        break;
    case 15:
        rc = modbus_write_bits(ctx, addr, count, bits);
        break;
    case 6:
        rc = modbus_write_register(ctx, addr, regs[0]);
        break;
    case 16:
        rc = modbus_write_registers(ctx, addr, count, regs);
        break;
    default:
        return -EINVAL;
    }
    return mb_bus_err(rc);
}

static void mb_bus_modbus_destroy(struct mb_bus *b) {
    struct mb_bus_modbus *m = mb_bus_modbus_of(b);
    modbus_close(m->ctx);
    modbus_free(m->ctx);
    free(m);
}

/* libmodbus cannot skip a stale TCP answer (mb_link.c's resync), a serial line can only flush. */
static const struct mb_bus_ops mb_bus_tcp_ops = {
    .connect = mb_bus_modbus_connect,
    .close = mb_bus_modbus_close,
    .flush = mb_bus_modbus_flush,
    .read = mb_bus_modbus_read,
    .write = mb_bus_modbus_write,
    .destroy = mb_bus_modbus_destroy,
    .resync_by_reconnect = true,
    .stream = true,
};

static const struct mb_bus_ops mb_bus_rtu_ops = {
    .connect = mb_bus_modbus_connect,
    .close = mb_bus_modbus_close,
    .flush = mb_bus_modbus_flush,
    .read = mb_bus_modbus_read,
    .write = mb_bus_modbus_write,
    .destroy = mb_bus_modbus_destroy,
    .resync_by_reconnect = false,
    .stream = false,
};

struct mb_bus *mb_bus_modbus_new(const struct mb_link_cfg *l) {
    struct mb_bus_modbus *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->ctx = l->transport == MB_TRANSPORT_TCP
                 ? modbus_new_tcp(l->host, l->port)
                 : modbus_new_rtu(l->device, (int)l->baud, l->parity, l->data_bits, l->stop_bits);
    if (!m->ctx) {
        free(m);
        return NULL;
    }
    modbus_set_response_timeout(m->ctx, l->timeout_ms / 1000u, (l->timeout_ms % 1000u) * 1000u);
    modbus_set_error_recovery(m->ctx, MODBUS_ERROR_RECOVERY_NONE);
    m->l = l;
    m->base.ops = l->transport == MB_TRANSPORT_TCP ? &mb_bus_tcp_ops : &mb_bus_rtu_ops;
    return &m->base;
}
