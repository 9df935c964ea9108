/* SPDX-License-Identifier: Apache-2.0 */
/* Server host names: the engine takes numeric addresses only (its loop must never wait for DNS),
 * so the bridge resolves each lwm2m.servers[] host once, before the loop runs (start) or before a
 * reloaded config is adopted, and hands the engine "coap[s]://address:port". A name that does not
 * resolve stops the start (exit 1) or refuses the reload, with the resolver's reason. */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "gateway.h"

/* The first IPv4 address of host, else its first IPv6 one: plant networks are IPv4 first, and a
 * fixed preference keeps the choice independent of the resolver's sorting. */
static int resolve_one(const char *host, char *addr, size_t cap, bool *v6, const char **why) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0) {
        *why = gai_strerror(rc);
        return -1;
    }
    const struct addrinfo *pick = NULL;
    for (const struct addrinfo *ai = res; ai != NULL && pick == NULL; ai = ai->ai_next)
        if (ai->ai_family == AF_INET)
            pick = ai;
    for (const struct addrinfo *ai = res; ai != NULL && pick == NULL; ai = ai->ai_next)
        if (ai->ai_family == AF_INET6)
            pick = ai;
    const void *a = NULL;
    if (pick != NULL)
        a = pick->ai_family == AF_INET
                ? (const void *)&((const struct sockaddr_in *)(const void *)pick->ai_addr)->sin_addr
                : (const void *)&((const struct sockaddr_in6 *)(const void *)pick->ai_addr)
                      ->sin6_addr;
    bool ok = a != NULL && inet_ntop(pick->ai_family, a, addr, (socklen_t)cap) != NULL;
    if (ok)
        *v6 = pick->ai_family == AF_INET6;
    freeaddrinfo(res);
    if (!ok)
        *why = "no IPv4 or IPv6 address";
    return ok ? 0 : -1;
}

static bool is_numeric(const char *host) {
    unsigned char buf[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1 ||
           strchr(host, '%') != NULL; /* a scoped IPv6 literal: the engine parses it */
}

static int resolve_server(const struct cfg_server *s, const char *what, struct br_log *log,
                          char *uri) {
    const char *scheme = s->secure ? "coaps" : "coap";
    char addr[INET6_ADDRSTRLEN];
    bool v6 = strchr(s->host, ':') != NULL;
    const char *why = NULL;
    if (is_numeric(s->host)) {
        snprintf(addr, sizeof(addr), "%s", s->host);
    } else if (resolve_one(s->host, addr, sizeof(addr), &v6, &why) != 0) {
        BR_ERR(log, "%s: cannot resolve '%s': %s", what, s->host, why);
        return -1;
    } else {
        BR_INFO(log, "%s: %s is %s", what, s->host, addr);
    }
    snprintf(uri, GW_URI_MAX, v6 ? "%s://[%s]:%u" : "%s://%s:%u", scheme, addr, (unsigned)s->port);
    return 0;
}

int gw_resolve_servers(const struct cfg *cfg, struct br_log *log, gw_uri_table *uris) {
    const struct cfg_lwm2m *l = &cfg->lwm2m;
    char what[48];
    for (size_t i = 0; i < l->nservers && i < GW_MAX_SERVERS; i++) {
        snprintf(what, sizeof(what), "lwm2m.servers[%zu]", i);
        if (resolve_server(&l->servers[i], what, log, (*uris)[i]) != 0)
            return -1;
    }
    (*uris)[GW_BS_SLOT][0] = '\0';
    return l->bootstrap != NULL
               ? resolve_server(l->bootstrap, "lwm2m.bootstrap", log, (*uris)[GW_BS_SLOT])
               : 0;
}
