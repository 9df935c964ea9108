/* SPDX-License-Identifier: Apache-2.0 */
/* Topic names, subscription filters and {device} templates: validity checks, MQTT wildcard
 * matching (MQTT 3.1.1 §4.7 / MQTT 5 §4.7), template expansion and extraction of the device name
 * from a topic, and templates prepared once for the per-message match. Pure: no I/O, no
 * allocation, so it is unit-tested and fuzzed on its own. */
#include "mq.h"

#include <errno.h>
#include <string.h>

#define MQ_DEVICE_TOKEN     "{device}"
#define MQ_DEVICE_TOKEN_LEN 8
#define MQ_TOPIC_MAX        65535 /* the length field of a UTF-8 string in MQTT */
#define MQ_DEVICE_NAME_MAX  256

/* Length of the level starting at p (up to the next '/' or the end). */
static size_t level_len(const char *p) {
    size_t n = 0;
    while (p[n] != '\0' && p[n] != '/') {
        n++;
    }
    return n;
}

/* Offset of {device} inside a level, or -1. */
static long token_in_level(const char *p, size_t n) {
    if (n < MQ_DEVICE_TOKEN_LEN) {
        return -1;
    }
    for (size_t i = 0; i + MQ_DEVICE_TOKEN_LEN <= n; i++) {
        if (memcmp(p + i, MQ_DEVICE_TOKEN, MQ_DEVICE_TOKEN_LEN) == 0) {
            return (long)i;
        }
    }
    return -1;
}

static bool is_wild_level(const char *p, size_t n, char c) {
    return n == 1 && p[0] == c;
}

int mq_filter_check(const char *filter) {
    if (filter == NULL || filter[0] == '\0' || strlen(filter) > MQ_TOPIC_MAX) {
        return -EINVAL;
    }
    for (const char *p = filter;;) {
        size_t n = level_len(p);
        bool hash = is_wild_level(p, n, '#');
        if (!hash && !is_wild_level(p, n, '+') &&
            (memchr(p, '+', n) != NULL || memchr(p, '#', n) != NULL)) {
            return -EINVAL; /* a wildcard must be a whole level */
        }
        if (hash && p[n] != '\0') {
            return -EINVAL; /* '#' must be the last level */
        }
        if (p[n] == '\0') {
            return 0;
        }
        p += n + 1;
    }
}

int mq_topic_check(const char *topic) {
    if (topic == NULL || topic[0] == '\0' || strlen(topic) > MQ_TOPIC_MAX) {
        return -EINVAL;
    }
    return strpbrk(topic, "+#") == NULL ? 0 : -EINVAL;
}

bool mq_topic_match(const char *filter, const char *topic) {
    if (filter == NULL || topic == NULL) {
        return false;
    }
    /* Topics such as $SYS/... are reserved for the server: a filter starting with a wildcard
     * must not see them (MQTT 5 §4.7.2). */
    if (topic[0] == '$' && (filter[0] == '+' || filter[0] == '#')) {
        return false;
    }
    const char *f = filter;
    const char *t = topic;
    for (;;) {
        size_t fl = level_len(f);
        size_t tl = level_len(t);
        if (is_wild_level(f, fl, '#')) {
            return true;
        }
        if (!is_wild_level(f, fl, '+') && (fl != tl || memcmp(f, t, fl) != 0)) {
            return false;
        }
        f += fl;
        t += tl;
        if (*f == '\0' && *t == '\0') {
            return true;
        }
        if (*f == '\0') {
            return false; /* the topic has more levels than the filter */
        }
        if (*t == '\0') {
            /* "a/#" also matches "a": the parent of a multi-level wildcard. */
            return strcmp(f, "/#") == 0;
        }
        f++;
        t++;
    }
}

int mq_device_name_check(const char *name) {
    if (name == NULL || name[0] == '\0') {
        return -EINVAL;
    }
    size_t n = strnlen(name, MQ_DEVICE_NAME_MAX + 1);
    if (n > MQ_DEVICE_NAME_MAX) {
        return -EINVAL;
    }
    return strpbrk(name, "/+#") == NULL ? 0 : -EINVAL;
}

int mq_template_check(const char *tmpl) {
    if (tmpl == NULL || tmpl[0] == '\0' || strlen(tmpl) > MQ_TOPIC_MAX) {
        return -EINVAL;
    }
    for (const char *p = tmpl;;) {
        size_t n = level_len(p);
        long at = token_in_level(p, n);
        if (at >= 0) {
            /* One {device} per level: two in one level could not be split unambiguously. */
            size_t after = (size_t)at + MQ_DEVICE_TOKEN_LEN;
            if (token_in_level(p + after, n - after) >= 0 || memchr(p, '+', n) != NULL ||
                memchr(p, '#', n) != NULL) {
                return -EINVAL;
            }
        } else {
            bool hash = is_wild_level(p, n, '#');
            if (!hash && !is_wild_level(p, n, '+') &&
                (memchr(p, '+', n) != NULL || memchr(p, '#', n) != NULL)) {
                return -EINVAL;
            }
            if (hash && p[n] != '\0') {
                return -EINVAL;
            }
        }
        if (p[n] == '\0') {
            return 0;
        }
        p += n + 1;
    }
}

int mq_template_expand(const char *tmpl, const char *device, char *out, size_t cap) {
    if (tmpl == NULL || out == NULL || cap == 0) {
        return -EINVAL;
    }
    size_t dl = device != NULL ? strlen(device) : 0;
    size_t o = 0;
    for (const char *p = tmpl; *p != '\0';) {
        const char *src = p;
        size_t n = 1;
        if (strncmp(p, MQ_DEVICE_TOKEN, MQ_DEVICE_TOKEN_LEN) == 0) {
            if (device == NULL) {
                return -EINVAL;
            }
            src = device;
            n = dl;
            p += MQ_DEVICE_TOKEN_LEN;
        } else {
            p++;
        }
        if (o + n >= cap) {
            return -ENOSPC;
        }
        memcpy(out + o, src, n);
        o += n;
    }
    out[o] = '\0';
    return (int)o;
}

int mq_template_filter(const char *tmpl, char *out, size_t cap) {
    if (tmpl == NULL || out == NULL || cap == 0) {
        return -EINVAL;
    }
    size_t o = 0;
    for (const char *p = tmpl;;) {
        size_t n = level_len(p);
        const char *src = p;
        if (token_in_level(p, n) >= 0) {
            src = "+";
        }
        size_t sn = src == p ? n : 1;
        if (o + sn >= cap) {
            return -ENOSPC;
        }
        memcpy(out + o, src, sn);
        o += sn;
        if (p[n] == '\0') {
            break;
        }
        if (o + 1 >= cap) {
            return -ENOSPC;
        }
        out[o++] = '/';
        p += n + 1;
    }
    out[o] = '\0';
    return (int)o;
}

/* Matches one topic level against a template level holding {device} at offset at. */
static bool match_device_level(const char *tp, size_t tl, size_t at, const char *sp, size_t sl,
                               const char **dev, size_t *dev_len) {
    size_t suffix = tl - at - MQ_DEVICE_TOKEN_LEN;
    if (sl < at + suffix + 1) {
        return false; /* the device name is never empty */
    }
    if (memcmp(tp, sp, at) != 0 ||
        memcmp(tp + at + MQ_DEVICE_TOKEN_LEN, sp + sl - suffix, suffix) != 0) {
        return false;
    }
    const char *d = sp + at;
    size_t dn = sl - at - suffix;
    if (*dev != NULL) {
        return *dev_len == dn && memcmp(*dev, d, dn) == 0;
    }
    *dev = d;
    *dev_len = dn;
    return true;
}

bool mq_template_match(const char *tmpl, const char *topic, const char **dev, size_t *dev_len) {
    const char *d = NULL;
    size_t dn = 0;
    if (dev != NULL) {
        *dev = NULL;
    }
    if (dev_len != NULL) {
        *dev_len = 0;
    }
    if (tmpl == NULL || topic == NULL) {
        return false;
    }
    /* {device} at the start of the first level acts as a wildcard there: keep $SYS out too. */
    if (topic[0] == '$' && (tmpl[0] == '+' || tmpl[0] == '#' ||
                            strncmp(tmpl, MQ_DEVICE_TOKEN, MQ_DEVICE_TOKEN_LEN) == 0)) {
        return false;
    }
    const char *tp = tmpl;
    const char *sp = topic;
    for (;;) {
        size_t tl = level_len(tp);
        size_t sl = level_len(sp);
        long at = token_in_level(tp, tl);
        bool ok;
        if (is_wild_level(tp, tl, '#')) {
            break;
        } else if (is_wild_level(tp, tl, '+')) {
            ok = true;
        } else if (at >= 0) {
            ok = match_device_level(tp, tl, (size_t)at, sp, sl, &d, &dn);
        } else {
            ok = tl == sl && memcmp(tp, sp, tl) == 0;
        }
        if (!ok) {
            return false;
        }
        tp += tl;
        sp += sl;
        if (*tp == '\0' && *sp == '\0') {
            break;
        }
        if (*tp == '\0') {
            return false;
        }
        if (*sp == '\0') {
            if (strcmp(tp, "/#") != 0) {
                return false;
            }
            break;
        }
        tp++;
        sp++;
    }
    if (dev != NULL) {
        *dev = d;
    }
    if (dev_len != NULL) {
        *dev_len = dn;
    }
    return true;
}

void mq_template_compile(const char *tmpl, struct mq_tmpl *out) {
    memset(out, 0, sizeof(*out));
    out->src = tmpl;
    if (tmpl == NULL) {
        return;
    }
    out->len = strlen(tmpl);
    const char *at = strstr(tmpl, MQ_DEVICE_TOKEN);
    out->kind = MQ_TMPL_GENERIC;
    if (strpbrk(tmpl, "+#") != NULL ||
        (at != NULL && strstr(at + MQ_DEVICE_TOKEN_LEN, MQ_DEVICE_TOKEN) != NULL)) {
        return;
    }
    if (at == NULL) {
        out->kind = MQ_TMPL_EXACT;
        return;
    }
    out->kind = MQ_TMPL_DEVICE;
    out->pre = (size_t)(at - tmpl);
    out->suf = out->len - out->pre - MQ_DEVICE_TOKEN_LEN;
}

/* Without wildcards the level walk of mq_template_match reduces to: topic = prefix, a non-empty
 * name without '/', suffix (the literal levels line up by themselves). */
bool mq_tmpl_match(const struct mq_tmpl *t, const char *topic, size_t topic_len, const char **dev,
                   size_t *dev_len) {
    if (t->kind == MQ_TMPL_GENERIC) {
        return mq_template_match(t->src, topic, dev, dev_len);
    }
    if (dev != NULL) {
        *dev = NULL;
    }
    if (dev_len != NULL) {
        *dev_len = 0;
    }
    if (t->kind == MQ_TMPL_NONE || topic == NULL) {
        return false;
    }
    if (t->kind == MQ_TMPL_EXACT) {
        return topic_len == t->len && memcmp(topic, t->src, topic_len) == 0;
    }
    /* {device} leading the template acts as a wildcard there: keep $SYS out (as above). */
    if (topic_len <= t->pre + t->suf || (t->pre == 0 && topic[0] == '$') ||
        memcmp(topic, t->src, t->pre) != 0 ||
        memcmp(topic + topic_len - t->suf, t->src + t->pre + MQ_DEVICE_TOKEN_LEN, t->suf) != 0) {
        return false;
    }
    size_t dn = topic_len - t->pre - t->suf;
    if (memchr(topic + t->pre, '/', dn) != NULL) {
        return false;
    }
    if (dev != NULL) {
        *dev = topic + t->pre;
    }
    if (dev_len != NULL) {
        *dev_len = dn;
    }
    return true;
}
