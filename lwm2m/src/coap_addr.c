/* SPDX-License-Identifier: Apache-2.0 */
/* struct coap_addr helpers: numeric parsing (never DNS: the loop must not block), comparison and
 * formatting of IPv4/IPv6 socket addresses for the transports and the logs. */
#include "lwm2m/error.h"
#include "lwm2m/transport.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_v6(struct coap_addr *a, const char *host, size_t n, uint16_t port) {
    char buf[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
    if (n >= sizeof(buf))
        return LWM2M_ERR_INVALID;
    memcpy(buf, host, n);
    buf[n] = '\0';
    uint32_t scope = 0;
    char *pct = strchr(buf, '%');
    if (pct != NULL) {
        *pct = '\0';
        scope = if_nametoindex(pct + 1);
        if (scope == 0) {
            char *end;
            unsigned long v = strtoul(pct + 1, &end, 10);
            if (*end != '\0' || v == 0 || v > UINT32_MAX)
                return LWM2M_ERR_INVALID;
            scope = (uint32_t)v;
        }
    }
    memset(a, 0, sizeof(*a));
    if (inet_pton(AF_INET6, buf, &a->u.in6.sin6_addr) != 1)
        return LWM2M_ERR_INVALID;
    a->u.in6.sin6_family = AF_INET6;
    a->u.in6.sin6_port = htons(port);
    a->u.in6.sin6_scope_id = scope;
    a->len = sizeof(a->u.in6);
    return 0;
}

int coap_addr_parse(struct coap_addr *a, const char *host, uint16_t port) {
    if (a == NULL || host == NULL)
        return LWM2M_ERR_INVALID;
    size_t n = strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']')
        return parse_v6(a, host + 1, n - 2, port);
    if (strchr(host, ':') != NULL)
        return parse_v6(a, host, n, port);
    memset(a, 0, sizeof(*a));
    if (inet_pton(AF_INET, host, &a->u.in4.sin_addr) != 1)
        return LWM2M_ERR_INVALID;
    a->u.in4.sin_family = AF_INET;
    a->u.in4.sin_port = htons(port);
    a->len = sizeof(a->u.in4);
    return 0;
}

static int parse_port(const char *s, uint16_t *port) {
    char *end;
    if (*s < '0' || *s > '9')
        return LWM2M_ERR_INVALID;
    unsigned long v = strtoul(s, &end, 10);
    if (*end != '\0' || v > 65535)
        return LWM2M_ERR_INVALID;
    *port = (uint16_t)v;
    return 0;
}

int coap_addr_parse_hostport(struct coap_addr *a, const char *s, uint16_t default_port) {
    if (a == NULL || s == NULL)
        return LWM2M_ERR_INVALID;
    uint16_t port = default_port;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL)
            return LWM2M_ERR_INVALID;
        if (close[1] == ':' && parse_port(close + 2, &port) != 0)
            return LWM2M_ERR_INVALID;
        if (close[1] != '\0' && close[1] != ':')
            return LWM2M_ERR_INVALID;
        return parse_v6(a, s + 1, (size_t)(close - s - 1), port);
    }
    const char *colon = strchr(s, ':');
    if (colon != NULL && strchr(colon + 1, ':') != NULL)
        return coap_addr_parse(a, s, port); /* bare IPv6 literal, no port */
    if (colon == NULL)
        return coap_addr_parse(a, s, port);
    char host[INET_ADDRSTRLEN];
    size_t n = (size_t)(colon - s);
    if (n >= sizeof(host) || parse_port(colon + 1, &port) != 0)
        return LWM2M_ERR_INVALID;
    memcpy(host, s, n);
    host[n] = '\0';
    return coap_addr_parse(a, host, port);
}

int coap_addr_from_sockaddr(struct coap_addr *a, const struct sockaddr *sa, socklen_t len) {
    if (a == NULL || sa == NULL)
        return LWM2M_ERR_INVALID;
    memset(a, 0, sizeof(*a));
    if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        memcpy(&a->u.in4, sa, sizeof(a->u.in4));
        a->len = sizeof(a->u.in4);
        return 0;
    }
    if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        memcpy(&a->u.in6, sa, sizeof(a->u.in6));
        a->u.in6.sin6_flowinfo = 0; /* not part of the peer's identity */
        a->len = sizeof(a->u.in6);
        return 0;
    }
    return LWM2M_ERR_INVALID;
}

static int cmp_num(unsigned long x, unsigned long y) {
    return x < y ? -1 : (x > y ? 1 : 0);
}

int coap_addr_cmp(const struct coap_addr *a, const struct coap_addr *b) {
    if (a->len != b->len || a->len == 0)
        return a->len != b->len ? cmp_num(a->len, b->len) : 0;
    if (a->u.sa.sa_family != b->u.sa.sa_family)
        return cmp_num(a->u.sa.sa_family, b->u.sa.sa_family);
    int c;
    if (a->u.sa.sa_family == AF_INET) {
        c = memcmp(&a->u.in4.sin_addr, &b->u.in4.sin_addr, sizeof(a->u.in4.sin_addr));
        return c != 0 ? c : cmp_num(ntohs(a->u.in4.sin_port), ntohs(b->u.in4.sin_port));
    }
    c = memcmp(&a->u.in6.sin6_addr, &b->u.in6.sin6_addr, sizeof(a->u.in6.sin6_addr));
    if (c != 0)
        return c;
    c = cmp_num(ntohs(a->u.in6.sin6_port), ntohs(b->u.in6.sin6_port));
    return c != 0 ? c : cmp_num(a->u.in6.sin6_scope_id, b->u.in6.sin6_scope_id);
}

int coap_addr_format(const struct coap_addr *a, char *out, size_t cap) {
    char host[INET6_ADDRSTRLEN];
    int n;
    if (a == NULL || out == NULL || cap == 0)
        return LWM2M_ERR_INVALID;
    if (a->len != 0 && a->u.sa.sa_family == AF_INET) {
        inet_ntop(AF_INET, &a->u.in4.sin_addr, host, sizeof(host));
        n = snprintf(out, cap, "%s:%u", host, (unsigned)ntohs(a->u.in4.sin_port));
    } else if (a->len != 0 && a->u.sa.sa_family == AF_INET6) {
        inet_ntop(AF_INET6, &a->u.in6.sin6_addr, host, sizeof(host));
        if (a->u.in6.sin6_scope_id != 0)
            n = snprintf(out, cap, "[%s%%%u]:%u", host, (unsigned)a->u.in6.sin6_scope_id,
                         (unsigned)ntohs(a->u.in6.sin6_port));
        else
            n = snprintf(out, cap, "[%s]:%u", host, (unsigned)ntohs(a->u.in6.sin6_port));
    } else {
        return LWM2M_ERR_INVALID;
    }
    if (n < 0 || (size_t)n >= cap)
        return LWM2M_ERR_NOSPACE;
    return n;
}

uint16_t coap_addr_port(const struct coap_addr *a) {
    if (a == NULL || a->len == 0)
        return 0;
    if (a->u.sa.sa_family == AF_INET)
        return ntohs(a->u.in4.sin_port);
    return ntohs(a->u.in6.sin6_port);
}
