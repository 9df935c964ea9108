/* SPDX-License-Identifier: Apache-2.0 */
/* Information reporting of the gateway's endpoints, from the config: CON or NON notifications
 * (lwm2m.notifications), store-and-forward with its queue in gateway.state_dir (lwm2m.store) and
 * each device's automatic Send (`send`). Applied to every endpoint right after it is added, and
 * again to kept endpoints on reload. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gateway.h"
#include "lwm2m/error.h"
#include "lwm2m/format.h"
#include "lwm2m/report.h"

#define SEND_PATHS_MAX 64

/* mkdir -p: creates dir and its missing parents. Returns 0 or a negative errno. */
static int mkdirs(const char *dir) {
    char buf[4096];
    size_t len = strlen(dir);
    struct stat st;
    if (len == 0 || len >= sizeof(buf))
        return -ENAMETOOLONG;
    memcpy(buf, dir, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char c = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0750) != 0 && errno != EEXIST)
            return -errno;
        buf[i] = c;
    }
    if (stat(dir, &st) != 0)
        return -errno;
    return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

int gw_state_dir_prepare(struct gw *g, const struct cfg *cfg) {
    const char *dir = cfg->gateway.state_dir;
    bool bs = cfg->lwm2m.bootstrap != NULL;
    if ((!cfg->lwm2m.store.enabled && !bs) || dir == NULL)
        return 0; /* the store-and-forward queues and the bootstrap results live there */
    int rc = mkdirs(dir);
    if (rc != 0)
        BR_ERR(&g->log, "gateway.state_dir '%s' cannot be created: %s (%s needs it)", dir,
               strerror(-rc),
               bs ? "lwm2m.bootstrap, for what the bootstrap server writes,"
                  : "lwm2m.store, for the store-and-forward queue,");
    return rc;
}

/* The options every endpoint shares: notifications and the store. */
static struct lwm2m_report_cfg report_base(const struct gw *g) {
    const struct cfg_lwm2m *l = &g->cfg->lwm2m;
    return (struct lwm2m_report_cfg){
        .notify_con = l->notifications.con,
        .con_every = l->notifications.con_every,
        .send_ct = LWM2M_CT_SENML_CBOR,
        .state_dir = l->store.enabled ? g->cfg->gateway.state_dir : NULL,
        .store_max_entries = l->store.max_entries,
        .store_max_bytes = l->store.max_bytes,
        .store_sync_ms = l->store.sync_ms,
    };
}

int gw_report_apply_host(struct gw *g) {
    if (g->host == NULL)
        return 0;
    struct lwm2m_report_cfg rc = report_base(g);
    int err = lwm2m_endpoint_set_report(g->host, &rc);
    if (err != 0)
        BR_ERR(&g->log, "gateway endpoint: cannot set reporting options: %s", lwm2m_strerror(err));
    return err;
}

int gw_report_apply(struct gw *g, struct br_device *d) {
    const struct cfg_send *snd = &d->cfg->send;
    struct lwm2m_path paths[SEND_PATHS_MAX];
    size_t n = 0;
    /* Gateway mode: the device's view sends on the host's registration, names prefixed. */
    struct lwm2m_endpoint *ep = d->ep != NULL ? d->ep : lwm2m_gwdev_endpoint(d->gwdev);
    if (ep == NULL)
        return 0;
    for (size_t i = 0; i < snd->npaths && n < SEND_PATHS_MAX; i++, n++) {
        paths[n] = (struct lwm2m_path){.len = snd->paths[i].depth};
        memcpy(paths[n].ids, snd->paths[i].ids, snd->paths[i].depth * sizeof(uint16_t));
    }
    if (snd->npaths > SEND_PATHS_MAX)
        br_log_write(&g->log, BR_LOG_WARN, d->name, d->endpoint,
                     "send: only the first %d of %zu paths are sent", SEND_PATHS_MAX, snd->npaths);
    struct lwm2m_report_cfg rc = report_base(g);
    rc.send_ct = snd->format == CFG_SEND_SENML_JSON ? LWM2M_CT_SENML_JSON : LWM2M_CT_SENML_CBOR;
    rc.send_paths = n ? paths : NULL;
    rc.send_npaths = n;
    rc.send_on_change = snd->on_change;
    rc.send_period_s = snd->period_s;
    int err = lwm2m_endpoint_set_report(ep, &rc);
    if (err != 0)
        br_log_write(&g->log, BR_LOG_ERROR, d->name, d->endpoint,
                     "cannot set reporting options: %s", lwm2m_strerror(err));
    return err;
}

void gw_report_forget(struct gw *g, struct br_device *d) {
    const struct cfg_lwm2m *l = &g->cfg->lwm2m;
    const char *dir = g->cfg->gateway.state_dir;
    struct lwm2m_endpoint *ep = d->ep != NULL ? d->ep : lwm2m_gwdev_endpoint(d->gwdev);
    int rc = ep != NULL ? lwm2m_endpoint_discard_queues(ep) : 0;
    /* Down (or never stored in this run): its queue was closed on disk, named by the endpoint,
     * or in gateway mode by the gateway endpoint and the prefix the device had. */
    bool hosted = gw_host_mode(g);
    const char *name =
        hosted ? (g->host != NULL ? lwm2m_endpoint_name(g->host) : NULL) : d->endpoint;
    for (size_t i = 0; l->store.enabled && dir != NULL && name != NULL && i < l->nservers; i++) {
        if (hosted && d->prefix[0] == '\0')
            break; /* never hosted: no queue */
        int r =
            lwm2m_queue_remove(dir, name, hosted ? d->prefix : NULL, l->servers[i].short_server_id);
        rc = rc != 0 ? rc : r;
    }
    /* What a bootstrap server wrote for it goes too (gateway mode: the gateway's endpoint has
     * it, and stays) */
    if (!hosted && l->bootstrap != NULL && dir != NULL && d->endpoint != NULL) {
        int r = lwm2m_bootstrap_state_remove(dir, d->endpoint);
        rc = rc != 0 ? rc : r;
    }
    if (rc != 0)
        br_log_write(&g->log, BR_LOG_WARN, d->name, d->endpoint,
                     "store-and-forward queue or bootstrap state not deleted: %s",
                     lwm2m_strerror(rc));
    else if (l->store.enabled)
        br_log_write(&g->log, BR_LOG_INFO, d->name, d->endpoint,
                     "removed for good: its store-and-forward queue is deleted");
}
