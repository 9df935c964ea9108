/* SPDX-License-Identifier: Apache-2.0 */
/* The path list of an Observe-Composite (observe_internal.h): decoding the request's SenML list,
 * in gateway mode with device prefixes, into a sorted list without overlaps, and deciding
 * whether the observation lives on a device's view or, spanning devices, on the host. */
#include <stdlib.h>

#include "observe_internal.h"

void lwm2m_obs_list_free(struct lwm2m_obs_list *l) {
    free(l->paths);
    free(l->devs);
    *l = (struct lwm2m_obs_list){0};
}

/* A path of the list with the device it names (gateway mode; NULL: the endpoint itself). */
struct dpath {
    struct lwm2m_path path;
    struct lwm2m_gwdev *dev;
};

static int cmp_dpaths(const void *a, const void *b) {
    const struct dpath *x = a, *y = b;
    int xi = x->dev != NULL ? x->dev->iid : -1, yi = y->dev != NULL ? y->dev->iid : -1;
    if (xi != yi)
        return xi < yi ? -1 : 1;
    return lwm2m_path_cmp(&x->path, &y->path);
}

/* Sorted by (device, path), and none covered by another of its device: each value once, in
 * the order LwM2M CBOR needs. Fills l (devs only when several devices are named). */
static int obs_list_make(struct dpath *dp, size_t cnt, bool mixed, struct lwm2m_obs_list *l) {
    size_t k = 0;
    qsort(dp, cnt, sizeof(*dp), cmp_dpaths);
    for (size_t i = 0; i < cnt; i++)
        if (k == 0 || dp[i].dev != dp[k - 1].dev ||
            !lwm2m_path_has_prefix(&dp[i].path, &dp[k - 1].path))
            dp[k++] = dp[i];
    l->paths = malloc(k * sizeof(*l->paths) + 1);
    l->devs = mixed ? malloc(k * sizeof(*l->devs) + 1) : NULL;
    if (l->paths == NULL || (mixed && l->devs == NULL)) {
        lwm2m_obs_list_free(l);
        return LWM2M_ERR_NOMEM;
    }
    for (size_t i = 0; i < k; i++) {
        l->paths[i] = dp[i].path;
        if (mixed)
            l->devs[i] = dp[i].dev;
    }
    l->n = k;
    return 0;
}

/* The request's path list. Gateway mode: the names may carry device prefixes ("/dev1/...").
 * Paths of one device make an observation on that device's view (r->ep is switched to it);
 * paths of several devices, or of devices and the gateway itself, one on the host that reads
 * each path through its device's view (r->ep is the host). */
static int composite_decode(struct lwm2m_dm_req *r, unsigned cf, struct lwm2m_obs_list *l) {
    struct lwm2m_endpoint *host = r->ep->gwdev != NULL ? r->ep->gwdev->host : r->ep;
    uint16_t devs[LWM2M_DM_PATHS_MAX];
    struct lwm2m_path p[LWM2M_DM_PATHS_MAX];
    struct dpath dp[LWM2M_DM_PATHS_MAX];
    struct lwm2m_decode_cfg dc = {.ct = cf};
    size_t cnt = 0;
    bool mixed = false;
    if (host->gwdevs != NULL) {
        dc.prefix_of = lwm2m_gwdev_prefix_of;
        dc.prefix_ctx = host;
    }
    int rc =
        lwm2m_decode_paths_gw(&dc, r->in->body, r->in->body_len, p, devs, LWM2M_DM_PATHS_MAX, &cnt);
    for (size_t i = 0; rc == 0 && i < cnt; i++) {
        struct lwm2m_endpoint *ep = lwm2m_gwdev_view(host, devs[i]);
        if (ep == NULL)
            return LWM2M_ERR_NOTFOUND;
        dp[i] = (struct dpath){p[i], ep->gwdev};
        mixed = mixed || devs[i] != devs[0];
        if (p[i].len >= 1 && lwm2m_dm_oid_protected(p[i].ids[0]))
            rc = LWM2M_DM_ERR_UNAUTHORIZED;
    }
    if (rc == 0 && cnt == 0)
        rc = LWM2M_ERR_FORMAT;
    if (rc != 0)
        return rc;
    r->ep = mixed ? host : lwm2m_gwdev_view(host, devs[0]);
    return obs_list_make(dp, cnt, mixed, l);
}

/* Observe-Composite (Transport 1.1.1 §6.4.3, FETCH with Observe 0): the SenML list of paths in
 * the request format, the answer in Accept or else that format (as Read-Composite). */
int lwm2m_obs_composite_setup(struct lwm2m_dm_req *r, struct lwm2m_obs_list *l, int *ct) {
    int cf = r->has_cf ? lwm2m_ct_normalize(r->cf) : LWM2M_ERR_FORMAT;
    if (cf != LWM2M_CT_SENML_JSON && cf != LWM2M_CT_SENML_CBOR)
        return r->has_cf ? LWM2M_DM_ERR_BAD_CT : LWM2M_ERR_FORMAT;
    int ac = r->has_accept ? lwm2m_ct_normalize(r->accept) : cf;
    if (ac != LWM2M_CT_SENML_JSON && ac != LWM2M_CT_SENML_CBOR && ac != LWM2M_CT_LWM2M_CBOR)
        return LWM2M_DM_ERR_NOT_ACCEPTABLE;
    int rc = composite_decode(r, (unsigned)cf, l);
    if (rc == 0 && (r->ep->prefix != NULL || l->devs != NULL) && ac == LWM2M_CT_LWM2M_CBOR)
        rc = LWM2M_DM_ERR_NOT_ACCEPTABLE; /* LwM2M CBOR cannot name a device prefix */
    if (rc != 0) {
        lwm2m_obs_list_free(l);
        if (rc == LWM2M_ERR_UNSUPPORTED)
            return LWM2M_DM_ERR_BAD_CT;
        if (rc == LWM2M_ERR_NOTFOUND || rc == LWM2M_DM_ERR_NOT_ACCEPTABLE || rc == LWM2M_ERR_NOMEM)
            return rc;
        return rc == LWM2M_ERR_NOSPACE || rc == LWM2M_DM_ERR_UNAUTHORIZED ? rc : LWM2M_ERR_FORMAT;
    }
    *ct = ac;
    return 0;
}
