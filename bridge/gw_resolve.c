/* SPDX-License-Identifier: Apache-2.0 */
/* Server host names. The engine takes numeric addresses only (its loop must never wait for DNS),
 * so the bridge resolves each named lwm2m.servers[] / lwm2m.bootstrap host and hands the engine
 * "coap[s]://address:port":
 * - at start and before a reloaded config is adopted, waiting for the answers on a private
 *   event base (a name that does not resolve stops the start, exit 1, or refuses the reload);
 * - while running, every lwm2m.dns.refresh and soon after a registration fails, without waiting
 *   (evdns on the gateway's loop): a name now at another address moves the endpoints there, a
 *   lookup that fails keeps the address in use.
 * Both go through libevent's evdns: /etc/hosts, then the name servers of lwm2m.dns.nameservers
 * or else of /etc/resolv.conf (with its search domains). */
#include <arpa/inet.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "gateway.h"

#define RESOLV_CONF "/etc/resolv.conf"
/* A failed registration asks for a lookup at most this often (a thousand endpoints fail at
 * once when their server moves). */
#define KICK_MIN_MS 3000u

/* One lookup of one server slot's host. */
struct gw_lookup {
    struct gw_dns *dns; /* the owner, whose pending count it holds until answered */
    size_t slot;
    char host[256]; /* what was looked up: a reload may have renamed the slot meanwhile */
    struct evdns_getaddrinfo_request *req; /* NULL once answered */
    int err;                               /* EVUTIL_EAI_* of the answer; 0: addr is set */
    char addr[INET6_ADDRSTRLEN];
    bool v6;
    bool done;
};

struct gw_dns {
    struct gw *g; /* NULL for the private one of gw_resolve_servers */
    struct event_base *base;
    struct evdns_base *db;
    struct event *timer;
    size_t pending;
    uint64_t last_ms; /* when the last round of lookups started */
    struct gw_lookup lk[GW_MAX_SERVERS + 1];
};

static uint64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static bool is_numeric(const char *host) {
    unsigned char buf[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1 ||
           strchr(host, '%') != NULL; /* a scoped IPv6 literal: the engine parses it */
}

/* The server of slot i in cfg, or NULL when the slot is unused. */
static const struct cfg_server *slot_server(const struct cfg *cfg, size_t i) {
    const struct cfg_lwm2m *l = &cfg->lwm2m;
    if (i == GW_BS_SLOT)
        return l->bootstrap;
    return i < l->nservers && i < GW_MAX_SERVERS ? &l->servers[i] : NULL;
}

static void slot_name(size_t i, char *out, size_t cap) {
    if (i == GW_BS_SLOT)
        snprintf(out, cap, "lwm2m.bootstrap");
    else
        snprintf(out, cap, "lwm2m.servers[%zu]", i);
}

static void format_uri(const struct cfg_server *s, const char *addr, bool v6, char *uri) {
    snprintf(uri, GW_URI_MAX, v6 ? "%s://[%s]:%u" : "%s://%s:%u", s->secure ? "coaps" : "coap",
             addr, (unsigned)s->port);
}

/* Name servers of d (or /etc/resolv.conf's) and /etc/hosts into db. Returns 0 or -1. */
static int dns_configure(struct evdns_base *db, const struct cfg_dns *d) {
    if (d->nnameservers == 0)
        return evdns_base_resolv_conf_parse(db, DNS_OPTIONS_ALL, RESOLV_CONF) == 0 ? 0 : -1;
    evdns_base_load_hosts(db, NULL);
    for (size_t i = 0; i < d->nnameservers; i++)
        if (evdns_base_nameserver_ip_add(db, d->nameservers[i]) != 0)
            return -1;
    return 0;
}

static void dns_free_base(struct gw_dns *dns) {
    if (dns->db != NULL)
        evdns_base_free(dns->db, 0);
    dns->db = NULL;
}

static void on_answer(int err, struct evutil_addrinfo *res, void *arg);

/* Starts the lookup of slot i's host; the answer may come before this returns. */
static void lookup_start(struct gw_dns *dns, size_t i, const char *host) {
    struct gw_lookup *lk = &dns->lk[i];
    struct evutil_addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM};
    *lk = (struct gw_lookup){.dns = dns, .slot = i};
    snprintf(lk->host, sizeof(lk->host), "%s", host);
    dns->pending++;
    struct evdns_getaddrinfo_request *req =
        evdns_getaddrinfo(dns->db, host, NULL, &hints, on_answer, lk);
    if (!lk->done)
        lk->req = req;
}

/* The first IPv4 address of res, else its first IPv6 one: plant networks are IPv4 first, and a
 * fixed preference keeps the choice independent of the answer's order. */
static void pick_address(struct gw_lookup *lk, const struct evutil_addrinfo *res) {
    const struct evutil_addrinfo *pick = NULL;
    for (const struct evutil_addrinfo *ai = res; ai != NULL && pick == NULL; ai = ai->ai_next)
        if (ai->ai_family == AF_INET)
            pick = ai;
    for (const struct evutil_addrinfo *ai = res; ai != NULL && pick == NULL; ai = ai->ai_next)
        if (ai->ai_family == AF_INET6)
            pick = ai;
    const void *a = NULL;
    if (pick != NULL)
        a = pick->ai_family == AF_INET
                ? (const void *)&((const struct sockaddr_in *)(const void *)pick->ai_addr)->sin_addr
                : (const void *)&((const struct sockaddr_in6 *)(const void *)pick->ai_addr)
                      ->sin6_addr;
    if (a == NULL || inet_ntop(pick->ai_family, a, lk->addr, sizeof(lk->addr)) == NULL) {
        lk->err = EVUTIL_EAI_NODATA;
        return;
    }
    lk->v6 = pick->ai_family == AF_INET6;
}

static void refresh_answered(struct gw_dns *dns, struct gw_lookup *lk);

static void on_answer(int err, struct evutil_addrinfo *res, void *arg) {
    struct gw_lookup *lk = arg;
    struct gw_dns *dns = lk->dns;
    lk->req = NULL;
    lk->done = true;
    lk->err = err;
    if (err == 0)
        pick_address(lk, res);
    if (res != NULL)
        evutil_freeaddrinfo(res);
    dns->pending--;
    if (dns->g != NULL && err != EVUTIL_EAI_CANCEL)
        refresh_answered(dns, lk);
}

static const char *lookup_error(const struct gw_lookup *lk) {
    return lk->err == EVUTIL_EAI_NODATA ? "no IPv4 or IPv6 address" : evutil_gai_strerror(lk->err);
}

/* ---- at start and reload: waiting for the answers ------------------------------------------ */

int gw_resolve_servers(const struct cfg *cfg, struct br_log *log, gw_uri_table *uris) {
    struct gw_dns dns = {0};
    char what[48];
    int rc = 0;
    for (size_t i = 0; i <= GW_BS_SLOT; i++) {
        const struct cfg_server *s = slot_server(cfg, i);
        (*uris)[i][0] = '\0';
        if (s != NULL && is_numeric(s->host))
            format_uri(s, s->host, strchr(s->host, ':') != NULL, (*uris)[i]);
        else if (s != NULL && dns.base == NULL) {
            dns.base = event_base_new();
            dns.db = dns.base != NULL ? evdns_base_new(dns.base, 0) : NULL;
            if (dns.db == NULL || dns_configure(dns.db, &cfg->lwm2m.dns) != 0) {
                BR_ERR(log, "cannot set up the name resolver (%s)",
                       cfg->lwm2m.dns.nnameservers ? "lwm2m.dns.nameservers" : RESOLV_CONF);
                rc = -1;
                break;
            }
        }
    }
    for (size_t i = 0; rc == 0 && dns.db != NULL && i <= GW_BS_SLOT; i++)
        if ((*uris)[i][0] == '\0' && slot_server(cfg, i) != NULL)
            lookup_start(&dns, i, slot_server(cfg, i)->host);
    /* evdns's own timeouts and attempts bound this wait */
    while (dns.pending > 0 && event_base_loop(dns.base, EVLOOP_ONCE) == 0)
        ;
    for (size_t i = 0; rc == 0 && dns.db != NULL && i <= GW_BS_SLOT; i++) {
        const struct cfg_server *s = slot_server(cfg, i);
        if (s == NULL || (*uris)[i][0] != '\0')
            continue;
        slot_name(i, what, sizeof(what));
        const struct gw_lookup *lk = &dns.lk[i];
        if (!lk->done || lk->err != 0) {
            BR_ERR(log, "%s: cannot resolve '%s': %s", what, s->host,
                   lk->done ? lookup_error(lk) : "no answer");
            rc = -1;
            continue;
        }
        BR_INFO(log, "%s: %s is %s", what, s->host, lk->addr);
        format_uri(s, lk->addr, lk->v6, (*uris)[i]);
    }
    dns_free_base(&dns);
    if (dns.base != NULL)
        event_base_free(dns.base);
    return rc;
}

/* ---- while running: lookups on the loop ----------------------------------------------------- */

static bool any_named(const struct cfg *cfg) {
    for (size_t i = 0; i <= GW_BS_SLOT; i++)
        if (slot_server(cfg, i) != NULL && !is_numeric(slot_server(cfg, i)->host))
            return true;
    return false;
}

static void refresh_round(struct gw_dns *dns) {
    const struct cfg *cfg = dns->g->cfg;
    if (dns->pending > 0 || dns->db == NULL)
        return;
    dns->last_ms = mono_ms();
    for (size_t i = 0; i <= GW_BS_SLOT; i++) {
        const struct cfg_server *s = slot_server(cfg, i);
        if (s != NULL && !is_numeric(s->host))
            lookup_start(dns, i, s->host);
    }
}

static void refresh_answered(struct gw_dns *dns, struct gw_lookup *lk) {
    struct gw *g = dns->g;
    const struct cfg_server *s = slot_server(g->cfg, lk->slot);
    char what[48], uri[GW_URI_MAX];
    if (g->stopping || s == NULL || strcmp(s->host, lk->host) != 0)
        return; /* a reload changed the slot meanwhile */
    slot_name(lk->slot, what, sizeof(what));
    if (lk->err != 0) {
        BR_WARN(&g->log, "%s: cannot resolve '%s' now (%s): keeping %s", what, s->host,
                lookup_error(lk), g->server_uri[lk->slot]);
        return;
    }
    format_uri(s, lk->addr, lk->v6, uri);
    if (strcmp(uri, g->server_uri[lk->slot]) == 0)
        return;
    BR_INFO(&g->log, "%s: %s moved from %s to %s: its endpoints register there", what, s->host,
            g->server_uri[lk->slot], uri);
    memcpy(g->server_uri[lk->slot], uri, sizeof(uri));
    gw_servers_moved(g);
}

static void on_timer(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    refresh_round(arg);
}

int gw_dns_apply(struct gw *g) {
    const struct cfg_dns *d = &g->cfg->lwm2m.dns;
    struct gw_dns *dns = g->dns;
    bool suspended = false;
    if (dns == NULL) {
        if (!any_named(g->cfg))
            return 0; /* created by the first reload that names a server */
        dns = calloc(1, sizeof(*dns));
        if (dns == NULL)
            return -1;
        dns->g = g;
        dns->base = g->base;
        dns->db = evdns_base_new(g->base, EVDNS_BASE_DISABLE_WHEN_INACTIVE);
        dns->timer = event_new(g->base, -1, EV_PERSIST, on_timer, dns);
        g->dns = dns;
        if (dns->db == NULL || dns->timer == NULL) {
            BR_ERR(&g->log, "cannot set up the name resolver: out of memory");
            return -1;
        }
    } else {
        /* lookups under way go to the new name servers */
        suspended = evdns_base_clear_nameservers_and_suspend(dns->db) == 0;
    }
    int rc = dns_configure(dns->db, d);
    if (suspended)
        evdns_base_resume(dns->db);
    if (rc != 0)
        BR_ERR(&g->log, "cannot set up the name resolver (%s): host names are not looked up again",
               d->nnameservers ? "lwm2m.dns.nameservers" : RESOLV_CONF);
    evtimer_del(dns->timer);
    if (rc == 0 && d->refresh_ms > 0 && any_named(g->cfg)) {
        struct timeval tv = {d->refresh_ms / 1000u, (d->refresh_ms % 1000u) * 1000};
        evtimer_add(dns->timer, &tv);
    }
    dns->last_ms = mono_ms();
    return rc;
}

void gw_dns_kick(struct gw *g) {
    struct gw_dns *dns = g->dns;
    if (dns == NULL || g->cfg->lwm2m.dns.refresh_ms == 0 || !any_named(g->cfg) ||
        mono_ms() - dns->last_ms < KICK_MIN_MS)
        return;
    refresh_round(dns);
}

void gw_dns_cancel(struct gw *g) {
    struct gw_dns *dns = g->dns;
    if (dns == NULL)
        return;
    evtimer_del(dns->timer);
    for (size_t i = 0; i <= GW_BS_SLOT; i++)
        if (dns->lk[i].req != NULL)
            evdns_getaddrinfo_cancel(dns->lk[i].req); /* answered with EAI_CANCEL on the loop */
}

void gw_dns_free(struct gw *g) {
    struct gw_dns *dns = g->dns;
    if (dns == NULL)
        return;
    gw_dns_cancel(g);
    /* The cancelled lookups are answered by deferred callbacks: let them run before the resolver
     * goes, so that none of them is left holding memory. */
    for (int pass = 0; dns->pending > 0 && pass < 100; pass++)
        event_base_loop(g->base, EVLOOP_NONBLOCK);
    dns_free_base(dns);
    if (dns->timer != NULL)
        event_free(dns->timer);
    free(dns);
    g->dns = NULL;
}
