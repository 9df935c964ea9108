/* SPDX-License-Identifier: Apache-2.0 */
/* From config to adapter instances: maps a cfg_adapter and the bound resources of its devices to
 * the adapter kind's own config structs (mb_* for Modbus) and creates the instance. The user
 * pointers handed to the adapter are the resources' taps (struct br_tap), the device scope is the
 * br_device. MQTT is not mapped yet (its devices register and answer 5.03 for bus values). */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>

#include "gateway.h"
#include "modbus/mb.h"

/* libmodbus connects to numeric addresses only: resolve a host name once, here. */
static int resolve4(const char *host, char *out, size_t cap) {
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res = NULL;
    if (getaddrinfo(host, NULL, &hints, &res) != 0 || res == NULL)
        return -EHOSTUNREACH;
    const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)res->ai_addr;
    const char *ok = inet_ntop(AF_INET, &sin->sin_addr, out, (socklen_t)cap);
    freeaddrinfo(res);
    return ok ? 0 : -EINVAL;
}

static void mb_link_from_cfg(const struct cfg_adapter *c, const char *host, struct mb_link_cfg *l) {
    memset(l, 0, sizeof(*l));
    l->name = c->name;
    l->timeout_ms = c->timeout_ms;
    if (c->type == CFG_ADAPTER_MODBUS_RTU) {
        l->transport = MB_TRANSPORT_RTU;
        l->device = c->device;
        l->baud = c->baud;
        l->parity = "NEO"[c->parity];
        l->data_bits = c->data_bits;
        l->stop_bits = c->stop_bits;
        l->rs485 = c->rs485;
    } else {
        l->transport =
            c->type == CFG_ADAPTER_MODBUS_RTU_OVER_TCP ? MB_TRANSPORT_RTU_TCP : MB_TRANSPORT_TCP;
        l->host = host;
        l->port = c->port;
    }
}

static void mb_ref_point(struct mb_point_cfg *p, const struct cfg_modbus_binding *b,
                         const struct cfg_mb_ref *ref, bool writable, void *user) {
    memset(p, 0, sizeof(*p));
    p->table = (enum mb_table)ref->table; /* same order: coil, discrete, input, holding */
    p->address = ref->addr;
    p->type = (enum mb_type)b->type; /* same order, bool .. bit */
    p->param = b->type_arg;
    p->order = (enum mb_order)b->order;
    p->scale = b->scale;
    p->offset = b->offset;
    p->writable = writable;
    p->read_back = writable && b->readback;
    p->user = user;
}

/* The points of one resource: one when it reads and writes the same place (or only writes),
 * two when the write goes elsewhere (that second point's values are not the resource's). */
static size_t mb_points_of(struct br_res *r, struct mb_point_cfg *out) {
    const struct cfg_modbus_binding *b = &r->b->u.modbus;
    bool same = b->read.set && b->write.set && b->read.table == b->write.table &&
                b->read.addr == b->write.addr;
    r->assume_written = b->write.set && !b->readback;
    if (!b->read.set) {
        mb_ref_point(&out[0], b, &b->write, true, &r->rtap);
        r->wuser = &r->rtap;
        return 1;
    }
    mb_ref_point(&out[0], b, &b->read, same, &r->rtap);
    r->wuser = same ? &r->rtap : NULL;
    if (!b->write.set || same)
        return 1;
    mb_ref_point(&out[1], b, &b->write, true, &r->wtap);
    r->wuser = &r->wtap;
    return 2;
}

/* Fills dc with the Modbus points of device d (pts has room for 2 per resource). */
static void mb_device_from(struct br_device *d, struct mb_device_cfg *dc,
                           struct mb_point_cfg *pts) {
    size_t n = 0;
    for (size_t i = 0; i < d->nres; i++) {
        struct br_res *r = &d->res[i];
        r->wuser = NULL;
        if (r->b->kind == CFG_BIND_MODBUS)
            n += mb_points_of(r, pts + n);
    }
    memset(dc, 0, sizeof(*dc));
    dc->name = d->name;
    dc->unit = (uint8_t)(d->cfg->unit >= 0 ? d->cfg->unit : 1);
    dc->poll_ms = d->cfg->poll_ms;
    dc->points = pts;
    dc->n_points = n;
    dc->user = d;
}

static int mb_build(struct gw *g, struct gw_adapter *ga, struct br_device **devs, size_t n) {
    const struct cfg_adapter *c = ga->cfg;
    char host[INET_ADDRSTRLEN] = "";
    if (c->type != CFG_ADAPTER_MODBUS_RTU && resolve4(c->host, host, sizeof(host)) != 0) {
        BR_ERR(&g->log, "adapter %s: cannot resolve '%s' to an IPv4 address", c->name, c->host);
        return 0;
    }
    size_t maxpts = 0, nd = 0;
    for (size_t i = 0; i < n; i++)
        maxpts += 2 * devs[i]->nres;
    struct mb_device_cfg *dcs = calloc(n ? n : 1, sizeof(*dcs));
    struct mb_point_cfg *pts = calloc(maxpts ? maxpts : 1, sizeof(*pts));
    int rc = dcs && pts ? 0 : -ENOMEM;
    for (size_t i = 0, used = 0; rc == 0 && i < n; i++) {
        size_t bad;
        mb_device_from(devs[i], &dcs[nd], pts + used);
        if (dcs[nd].n_points == 0)
            continue; /* constants only: nothing to poll */
        if (mb_device_cfg_check(&dcs[nd], &bad) != 0) {
            br_log_write(&g->log, BR_LOG_ERROR, devs[i]->name, devs[i]->endpoint,
                         "Modbus configuration refused by the adapter (point %zd); the device "
                         "answers 5.03",
                         bad == SIZE_MAX ? (ssize_t)-1 : (ssize_t)bad);
            continue;
        }
        used += dcs[nd++].n_points;
    }
    struct mb_adapter_cfg mc = {.devices = dcs, .n_devices = nd};
    mb_link_from_cfg(c, host, &mc.link);
    if (rc == 0 && nd == 0)
        BR_DEBUG(&g->log, "adapter %s: no device reads the bus, not connecting", c->name);
    else if (rc == 0)
        rc = mb_adapter_ops.create(&mc, g->base, &ga->sink, &ga->a);
    free(dcs);
    free(pts);
    return rc;
}

int gw_adapter_build(struct gw *g, struct gw_adapter *ga, struct br_device **devs, size_t n) {
    switch (ga->cfg->type) {
    case CFG_ADAPTER_MODBUS_TCP:
    case CFG_ADAPTER_MODBUS_RTU:
    case CFG_ADAPTER_MODBUS_RTU_OVER_TCP:
        return mb_build(g, ga, devs, n);
    case CFG_ADAPTER_MQTT:
    default:
        return gw_mq_build(g, ga, devs, n);
    }
}
