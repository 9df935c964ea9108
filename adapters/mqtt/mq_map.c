/* SPDX-License-Identifier: Apache-2.0 */
/* A small chained hash multimap for the MQTT adapter: device names -> devices, exact topics ->
 * bindings, the bridge's point user pointers -> (device, point). Keys are borrowed from the
 * values they index (the map never copies or frees them); entries are owned by the map. */
#include "mq_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct mq_entry {
    struct mq_entry *next;
    const void *key;
    size_t klen; /* 0: key is compared as a pointer */
    uint64_t hash;
    void *val;
};

static uint64_t hash_key(const void *key, size_t klen) {
    /* FNV-1a over the bytes, or over the pointer value for pointer keys. */
    uint64_t h = 1469598103934665603ull;
    if (klen == 0) {
        uintptr_t p = (uintptr_t)key;
        for (size_t i = 0; i < sizeof(p); i++) {
            h = (h ^ ((p >> (8 * i)) & 0xffu)) * 1099511628211ull;
        }
        return h;
    }
    const uint8_t *b = key;
    for (size_t i = 0; i < klen; i++) {
        h = (h ^ b[i]) * 1099511628211ull;
    }
    return h;
}

static bool same_key(const struct mq_entry *e, uint64_t h, const void *key, size_t klen) {
    if (e->hash != h || e->klen != klen) {
        return false;
    }
    return klen == 0 ? e->key == key : memcmp(e->key, key, klen) == 0;
}

static int grow(struct mq_map *m) {
    size_t nb = m->nb == 0 ? 64 : m->nb * 2;
    struct mq_entry **b = calloc(nb, sizeof(*b));
    if (b == NULL) {
        return -ENOMEM;
    }
    for (size_t i = 0; i < m->nb; i++) {
        struct mq_entry *e = m->b[i];
        while (e != NULL) {
            struct mq_entry *next = e->next;
            size_t k = (size_t)(e->hash & (nb - 1));
            e->next = b[k];
            b[k] = e;
            e = next;
        }
    }
    free(m->b);
    m->b = b;
    m->nb = nb;
    return 0;
}

int mq_map_put(struct mq_map *m, const void *key, size_t klen, void *val) {
    if (m->n >= m->nb && grow(m) != 0) {
        return -ENOMEM;
    }
    struct mq_entry *e = malloc(sizeof(*e));
    if (e == NULL) {
        return -ENOMEM;
    }
    e->key = key;
    e->klen = klen;
    e->hash = hash_key(key, klen);
    e->val = val;
    size_t k = (size_t)(e->hash & (m->nb - 1));
    e->next = m->b[k];
    m->b[k] = e;
    m->n++;
    return 0;
}

void *mq_map_next(const struct mq_map *m, const void *key, size_t klen, struct mq_entry **it) {
    if (m->nb == 0) {
        return NULL;
    }
    uint64_t h = hash_key(key, klen);
    struct mq_entry *e = *it != NULL ? (*it)->next : m->b[h & (m->nb - 1)];
    for (; e != NULL; e = e->next) {
        if (same_key(e, h, key, klen)) {
            *it = e;
            return e->val;
        }
    }
    *it = NULL;
    return NULL;
}

void *mq_map_get(const struct mq_map *m, const void *key, size_t klen) {
    struct mq_entry *it = NULL;
    return mq_map_next(m, key, klen, &it);
}

void mq_map_del(struct mq_map *m, const void *key, size_t klen, const void *val) {
    if (m->nb == 0) {
        return;
    }
    uint64_t h = hash_key(key, klen);
    for (struct mq_entry **pe = &m->b[h & (m->nb - 1)]; *pe != NULL; pe = &(*pe)->next) {
        struct mq_entry *e = *pe;
        if (same_key(e, h, key, klen) && e->val == val) {
            *pe = e->next;
            free(e);
            m->n--;
            return;
        }
    }
}

void *mq_map_any(const struct mq_map *m) {
    for (size_t i = 0; i < m->nb; i++) {
        if (m->b[i] != NULL) {
            return m->b[i]->val;
        }
    }
    return NULL;
}

void mq_map_free(struct mq_map *m) {
    for (size_t i = 0; i < m->nb; i++) {
        struct mq_entry *e = m->b[i];
        while (e != NULL) {
            struct mq_entry *next = e->next;
            free(e);
            e = next;
        }
    }
    free(m->b);
    memset(m, 0, sizeof(*m));
}
