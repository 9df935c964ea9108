/* SPDX-License-Identifier: Apache-2.0 */
/* lwm2m.dns: how server host names are resolved — how often they are looked up again while
 * running, and which name servers answer (instead of /etc/resolv.conf's). */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cfg_internal.h"

#define FIELD_SIZE(st, f) sizeof(((st *)0)->f)
#define D(st, key, f, t, ...)                                                                      \
    { .name = key, .type = t, .offset = offsetof(st, f), .size = FIELD_SIZE(st, f), __VA_ARGS__ }

/* "a.b.c.d", "a.b.c.d:port", "v6" or "[v6]:port" with a port of 1..65535. */
static bool nameserver_ok(const char *s) {
    char host[64];
    const char *port = NULL;
    unsigned char buf[sizeof(struct in6_addr)];
    size_t len = strlen(s);
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (end == NULL || (size_t)(end - s - 1) >= sizeof(host) || end[1] != ':')
            return false;
        memcpy(host, s + 1, (size_t)(end - s - 1));
        host[end - s - 1] = '\0';
        port = end + 2;
        if (inet_pton(AF_INET6, host, buf) != 1)
            return false;
    } else if (len < sizeof(host) && inet_pton(AF_INET6, s, buf) == 1) {
        return true;
    } else {
        const char *colon = strchr(s, ':');
        size_t hl = colon != NULL ? (size_t)(colon - s) : len;
        if (hl >= sizeof(host))
            return false;
        memcpy(host, s, hl);
        host[hl] = '\0';
        port = colon != NULL ? colon + 1 : NULL;
        if (inet_pton(AF_INET, host, buf) != 1)
            return false;
    }
    if (port == NULL)
        return true;
    char *end = NULL;
    errno = 0;
    unsigned long p = strtoul(port, &end, 10);
    return port[0] >= '0' && port[0] <= '9' && *end == '\0' && errno == 0 && p >= 1 && p <= 65535;
}

static int nameservers_fn(struct cfg_ctx *ctx, const struct cfg_node *n, void *dst) {
    struct cfg_dns *d = dst;
    if (n == NULL)
        return 0;
    if (n->kind != CFG_N_SEQ) {
        cfg_err(ctx, n,
                "expected a list of name server addresses, like [ 10.0.0.2, "
                "'127.0.0.1:5353' ]");
        return -EINVAL;
    }
    const char **list = cfg_arena_alloc(ctx->arena, (n->n + 1) * sizeof(*list));
    if (list == NULL) {
        ctx->oom = true;
        return -ENOMEM;
    }
    struct cfg_directive strd = {.name = "nameservers", .type = CFG_D_STR};
    for (size_t i = 0; i < n->n; i++) {
        size_t saved = cfg_path_push_index(ctx, i);
        int rc = cfg_convert(ctx, n->kids[i], NULL, &strd, &list[i]);
        if (rc == 0 && !nameserver_ok(list[i])) {
            cfg_err(ctx, n->kids[i],
                    "expected an IP address with an optional port (10.0.0.2, 127.0.0.1:5353, "
                    "[fd00::53]:53), got '%s'",
                    list[i]);
            rc = -EINVAL;
        }
        cfg_path_pop(ctx, saved);
        if (rc != 0)
            return rc;
    }
    d->nameservers = list;
    d->nnameservers = n->n;
    return 0;
}

static const struct cfg_directive dns_dirs[] = {
    D(struct cfg_dns, "refresh", refresh_ms, CFG_D_DURATION, .def = "5m", .min = 0,
      .max = 86400000),
    {.name = "nameservers", .type = CFG_D_CUSTOM, .fn = nameservers_fn},
};

int cfg_dns_fn(struct cfg_ctx *ctx, const struct cfg_node *n, void *dst) {
    struct cfg_dns *d = dst;
    if (cfg_walk(ctx, n, NULL, dns_dirs, CFG_COUNT(dns_dirs), d) != 0)
        return -EINVAL;
    if (d->refresh_ms != 0 && d->refresh_ms < 1000)
        cfg_err(ctx, n, "refresh: expected 0 (off) or at least 1s, got %u ms",
                (unsigned)d->refresh_ms);
    return 0;
}
