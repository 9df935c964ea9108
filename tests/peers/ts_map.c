/* SPDX-License-Identifier: Apache-2.0 */
/* A chained hash map keyed by byte strings, for the test server's registrations (by id and by
 * endpoint name), pending requests (by token) and raw sessions. Grows by doubling so that 10,000
 * registrations stay O(1) to look up. */
#include "ts.h"

#include <stdlib.h>
#include <string.h>

struct ts_map_entry {
    struct ts_map_entry *next;
    uint32_t hash;
    size_t klen;
    const void *key;
    void *val;
};

/* FNV-1a: short keys, no adversary. */
static uint32_t hash_bytes(const void *key, size_t len) {
    const uint8_t *p = key;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 16777619u;
    }
    return h;
}

static int grow(struct ts_map *m) {
    size_t n = m->nbuckets ? m->nbuckets * 2 : 64;
    struct ts_map_entry **b = calloc(n, sizeof(*b));
    if (!b)
        return -1;
    for (size_t i = 0; i < m->nbuckets; i++) {
        struct ts_map_entry *e = m->buckets[i];
        while (e) {
            struct ts_map_entry *next = e->next;
            e->next = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
            e = next;
        }
    }
    free(m->buckets);
    m->buckets = b;
    m->nbuckets = n;
    return 0;
}

static struct ts_map_entry **find_slot(const struct ts_map *m, const void *key, size_t klen,
                                       uint32_t h) {
    if (!m->nbuckets)
        return NULL;
    struct ts_map_entry **pp = &m->buckets[h & (m->nbuckets - 1)];
    for (; *pp; pp = &(*pp)->next) {
        if ((*pp)->hash == h && (*pp)->klen == klen && memcmp((*pp)->key, key, klen) == 0)
            return pp;
    }
    return NULL;
}

int ts_map_put(struct ts_map *m, const void *key, size_t klen, void *val) {
    uint32_t h = hash_bytes(key, klen);
    struct ts_map_entry **pp = find_slot(m, key, klen, h);
    if (pp) {
        (*pp)->key = key;
        (*pp)->val = val;
        return 0;
    }
    if (m->count >= m->nbuckets && grow(m) < 0)
        return -1;
    struct ts_map_entry *e = malloc(sizeof(*e));
    if (!e)
        return -1;
    e->hash = h;
    e->klen = klen;
    e->key = key;
    e->val = val;
    e->next = m->buckets[h & (m->nbuckets - 1)];
    m->buckets[h & (m->nbuckets - 1)] = e;
    m->count++;
    return 0;
}

void *ts_map_get(const struct ts_map *m, const void *key, size_t klen) {
    struct ts_map_entry **pp = find_slot(m, key, klen, hash_bytes(key, klen));
    return pp ? (*pp)->val : NULL;
}

void *ts_map_del(struct ts_map *m, const void *key, size_t klen) {
    struct ts_map_entry **pp = find_slot(m, key, klen, hash_bytes(key, klen));
    if (!pp)
        return NULL;
    struct ts_map_entry *e = *pp;
    void *val = e->val;
    *pp = e->next;
    free(e);
    m->count--;
    return val;
}

void ts_map_foreach(struct ts_map *m, void (*fn)(void *val, void *arg), void *arg) {
    for (size_t i = 0; i < m->nbuckets; i++) {
        struct ts_map_entry *e = m->buckets[i];
        while (e) {
            struct ts_map_entry *next = e->next;
            fn(e->val, arg);
            e = next;
        }
    }
}

void ts_map_free(struct ts_map *m) {
    for (size_t i = 0; i < m->nbuckets; i++) {
        struct ts_map_entry *e = m->buckets[i];
        while (e) {
            struct ts_map_entry *next = e->next;
            free(e);
            e = next;
        }
    }
    free(m->buckets);
    memset(m, 0, sizeof(*m));
}
