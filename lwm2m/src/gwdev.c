/* SPDX-License-Identifier: Apache-2.0 */
/* Gateway mode (LwM2M 1.2, TS Gateway): IoT devices hosted by one endpoint. Owns the device list,
 * the LwM2M Gateway object (25) the engine serves for them, their Register/Update links and the
 * device lifecycle. The DM dispatcher (dm.c) routes /prefix/... requests to a device's view. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "observe_internal.h" /* lwm2m_obs_free() on removal */

static bool prefix_valid(const char *p) {
    size_t n = p != NULL ? strlen(p) : 0;
    if (n == 0 || n > LWM2M_GW_PREFIX_MAX)
        return false;
    if (!((p[0] >= 'a' && p[0] <= 'z') || (p[0] >= 'A' && p[0] <= 'Z')))
        return false; /* a digit would read as an Object ID; "rd"-like names are fine */
    for (size_t i = 1; i < n; i++) {
        char c = p[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_';
        if (!ok)
            return false;
    }
    return true;
}

struct lwm2m_gwdev *lwm2m_gwdev_find(struct lwm2m_endpoint *host, const char *name, size_t len) {
    for (struct lwm2m_gwdev *d = host->gwdevs; d != NULL; d = d->next)
        if (strlen(d->prefix) == len && memcmp(d->prefix, name, len) == 0)
            return d;
    return NULL;
}

/* The lowest free /25 instance id, and where it goes in the ascending list. */
static uint16_t free_iid(struct lwm2m_endpoint *host, struct lwm2m_gwdev ***link) {
    uint16_t iid = 0;
    struct lwm2m_gwdev **pp = &host->gwdevs;
    while (*pp != NULL && (*pp)->iid == iid) {
        iid++;
        pp = &(*pp)->next;
    }
    *link = pp;
    return iid;
}

int lwm2m_endpoint_add_device(struct lwm2m_endpoint *ep, const char *prefix, const char *device_id,
                              const struct lwm2m_provider *prov, void *pctx,
                              struct lwm2m_gwdev **out) {
    if (ep == NULL || ep->gwdev != NULL || prov == NULL || !prefix_valid(prefix) ||
        device_id == NULL)
        return LWM2M_ERR_INVALID;
    if (ep->removing || lwm2m_gwdev_find(ep, prefix, strlen(prefix)) != NULL)
        return LWM2M_ERR_STATE;
    struct lwm2m_gwdev *d = calloc(1, sizeof(*d));
    if (d == NULL || (d->device_id = strdup(device_id)) == NULL) {
        free(d);
        return LWM2M_ERR_NOMEM;
    }
    struct lwm2m_gwdev **link;
    d->host = ep;
    d->iid = free_iid(ep, &link);
    snprintf(d->prefix, sizeof(d->prefix), "%s", prefix);
    snprintf(d->path_prefix, sizeof(d->path_prefix), "/%s", prefix);
    /* The view: no socket and no servers of its own; replies and notifications go out on the
     * host's CoAP endpoint, to the host's servers. */
    d->view.eng = ep->eng;
    d->view.name = ep->name;
    d->view.coap = ep->coap;
    d->view.prov = prov;
    d->view.pctx = pctx;
    d->view.gwdev = d;
    d->view.prefix = d->path_prefix;
    d->next = *link;
    *link = d;
    if (out != NULL)
        *out = d;
    lwm2m_endpoint_objects_changed(ep);
    return 0;
}

static void gwdev_free(struct lwm2m_gwdev *d) {
    lwm2m_obs_free(&d->view);
    lwm2m_dm_free(&d->view);
    free(d->device_id);
    free(d->links);
    free(d);
}

void lwm2m_endpoint_remove_device(struct lwm2m_gwdev *dev) {
    if (dev == NULL)
        return;
    struct lwm2m_endpoint *host = dev->host;
    for (struct lwm2m_gwdev **pp = &host->gwdevs; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == dev) {
            *pp = dev->next;
            break;
        }
    }
    lwm2m_obs_gwdev_gone(host, dev); /* the host's cross-device observations forget it */
    gwdev_free(dev);
    if (!host->removing)
        lwm2m_endpoint_objects_changed(host);
}

void lwm2m_gwdev_free_all(struct lwm2m_endpoint *host) {
    while (host->gwdevs != NULL) {
        struct lwm2m_gwdev *d = host->gwdevs;
        host->gwdevs = d->next;
        gwdev_free(d);
    }
}

void lwm2m_gwdev_objects_changed(struct lwm2m_gwdev *dev) {
    if (dev != NULL)
        lwm2m_endpoint_objects_changed(dev->host);
}

void lwm2m_gwdev_changed(struct lwm2m_gwdev *dev, const struct lwm2m_path *p) {
    if (dev != NULL)
        lwm2m_endpoint_changed(&dev->view, p);
}

const char *lwm2m_gwdev_prefix(const struct lwm2m_gwdev *dev) {
    return dev->prefix;
}
uint16_t lwm2m_gwdev_instance(const struct lwm2m_gwdev *dev) {
    return dev->iid;
}
void *lwm2m_gwdev_ctx(const struct lwm2m_gwdev *dev) {
    return dev->view.pctx;
}

struct lwm2m_endpoint *lwm2m_gwdev_endpoint(struct lwm2m_gwdev *dev) {
    return dev != NULL ? &dev->view : NULL;
}

size_t lwm2m_gwdev_observations(const struct lwm2m_gwdev *dev) {
    return lwm2m_endpoint_observations(&dev->view);
}

struct lwm2m_gwdev *lwm2m_gwdev_by_iid(struct lwm2m_endpoint *host, uint16_t iid) {
    for (struct lwm2m_gwdev *d = host->gwdevs; d != NULL; d = d->next)
        if (d->iid == iid)
            return d;
    return NULL;
}

struct lwm2m_gwdev *lwm2m_gwdev_by_id(struct lwm2m_endpoint *host, const char *device_id) {
    for (struct lwm2m_gwdev *d = host->gwdevs; d != NULL; d = d->next)
        if (strcmp(d->device_id, device_id) == 0)
            return d;
    return NULL;
}

int lwm2m_gwdev_prefix_of(void *host, const char *s, size_t n) {
    struct lwm2m_gwdev *d = lwm2m_gwdev_find(host, s, n);
    return d != NULL ? d->iid : LWM2M_ERR_NOTFOUND;
}

struct lwm2m_endpoint *lwm2m_gwdev_view(struct lwm2m_endpoint *host, uint16_t dev) {
    if (dev == 0)
        return host;
    struct lwm2m_gwdev *d = lwm2m_gwdev_by_iid(host, (uint16_t)(dev - 1));
    return d != NULL ? &d->view : NULL;
}

/* ---- Links: Register/Update and /25/x/3 ----------------------------------------------------- */

struct dev_links {
    struct lwm2m_link_writer *w;
    struct lwm2m_gwdev *d;
    uint16_t oid;
    bool objects; /* also "</dev1/O>" object links (Register), not only instances (/25/x/3) */
};

static int dev_link_instance(void *ctx, uint16_t iid) {
    struct dev_links *c = ctx;
    struct lwm2m_path p = lwm2m_path_make(2, c->oid, iid, 0, 0);
    return lwm2m_link_add(c->w, c->d->path_prefix, &p);
}

static int dev_link_object(void *ctx, uint16_t oid) {
    struct dev_links *c = ctx;
    const struct lwm2m_provider *prov = c->d->view.prov;
    if (oid == 0 || oid == 1 || oid == LWM2M_OID_GATEWAY || oid == 21)
        return 0; /* a device has no Security, Server, OSCORE or Gateway object of its own */
    int rc = 0;
    c->oid = oid;
    if (c->objects) {
        const struct lwm2m_object_def *o = lwm2m_model_object(c->d->view.eng->model, oid);
        struct lwm2m_path p = lwm2m_path_make(1, oid, 0, 0, 0);
        rc = lwm2m_link_add(c->w, c->d->path_prefix, &p);
        if (rc == 0 && o != NULL && o->version != NULL && strcmp(o->version, "1.0") != 0)
            rc = lwm2m_link_attr(c->w, "ver", o->version);
    }
    if (rc == 0 && prov->list_instances != NULL)
        rc = prov->list_instances(c->d->view.pctx, oid, dev_link_instance, c);
    return rc;
}

static int dev_links(struct lwm2m_gwdev *d, struct lwm2m_link_writer *w, bool objects) {
    struct dev_links c = {.w = w, .d = d, .objects = objects};
    const struct lwm2m_provider *prov = d->view.prov;
    return prov->list_objects != NULL ? prov->list_objects(d->view.pctx, dev_link_object, &c) : 0;
}

/* TS Gateway 1.1 (OMA-TS-LWM2M_Gateway-V1_1, "Registration"): the gateway registers once; its own
 * objects include the LwM2M Gateway object with one instance per IoT device, and each device's
 * objects are listed under the device's prefix, e.g. "</25>;ver=2.0,</25/0>,</25/1>,
 * </dev1/3303>,</dev1/3303/0>,</dev2/3303>,</dev2/3303/0>". (The /25 links come from the host's
 * object walk in engine.c; this adds the prefixed ones after them.) */
int lwm2m_gwdev_reg_links(struct lwm2m_endpoint *host, struct lwm2m_link_writer *w) {
    for (struct lwm2m_gwdev *d = host->gwdevs; d != NULL; d = d->next) {
        int rc = dev_links(d, w, true);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* ---- Object 25 ------------------------------------------------------------------------------ */

int lwm2m_gwdev_instances(struct lwm2m_endpoint *host, lwm2m_id_fn fn, void *ctx) {
    for (struct lwm2m_gwdev *d = host->gwdevs; d != NULL; d = d->next) {
        int rc = fn(ctx, d->iid);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int lwm2m_gwdev_resources(struct lwm2m_endpoint *host, uint16_t iid, lwm2m_id_fn fn, void *ctx) {
    static const uint16_t rids[] = {0, 1, 3};
    if (lwm2m_gwdev_by_iid(host, iid) == NULL)
        return 0;
    for (size_t i = 0; i < sizeof(rids) / sizeof(rids[0]); i++) {
        int rc = fn(ctx, rids[i]);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* /25/x/3 as "</dev1/3/0>,</dev1/3303/0>", grown until it fits. */
static int build_links(struct lwm2m_gwdev *d, size_t *len) {
    for (size_t cap = 256; cap <= 65536; cap *= 4) {
        char *buf = malloc(cap);
        struct lwm2m_link_writer w;
        if (buf == NULL)
            return LWM2M_ERR_NOMEM;
        lwm2m_link_init(&w, buf, cap);
        int rc = dev_links(d, &w, false);
        int frc = lwm2m_link_finish(&w, len);
        if (rc == 0)
            rc = frc;
        if (rc == 0) {
            free(d->links);
            d->links = buf;
            return 0;
        }
        free(buf);
        if (rc != LWM2M_ERR_NOSPACE)
            return rc;
    }
    return LWM2M_ERR_NOSPACE;
}

int lwm2m_gwdev_read(struct lwm2m_endpoint *host, const struct lwm2m_path *p,
                     struct lwm2m_value *out) {
    struct lwm2m_gwdev *d = p->len >= 3 ? lwm2m_gwdev_by_iid(host, p->ids[1]) : NULL;
    const char *s = NULL;
    size_t len = 0;
    if (d == NULL || p->len != 3)
        return LWM2M_ERR_NOTFOUND;
    memset(out, 0, sizeof(*out));
    switch (p->ids[2]) {
    case 0:
        s = d->device_id;
        out->type = LWM2M_TYPE_STRING;
        break;
    case 1:
        s = d->prefix;
        out->type = LWM2M_TYPE_STRING;
        break;
    case 3: {
        int rc = build_links(d, &len);
        if (rc != 0)
            return rc;
        out->type = LWM2M_TYPE_CORELNK;
        out->v.bytes.ptr = (const uint8_t *)d->links;
        out->v.bytes.len = len;
        return 0;
    }
    default:
        return LWM2M_ERR_NOTFOUND;
    }
    out->v.bytes.ptr = (const uint8_t *)s;
    out->v.bytes.len = strlen(s);
    return 0;
}
