/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for the store-and-forward file loader: the input is a persisted queue file
 * (of endpoint "fuzz", ssid 1; seeds carry a valid header). Damage must be skipped, never crash,
 * and what survives must re-encode, reload cleanly and be accepted again by push, unchanged.
 * The input is loaded twice: as given, and with its CRCs recomputed, so that mutations also
 * reach the content checks that sit behind the checksums. What survives is also pushed again
 * under a per-observation bound (hqmax, the entries' tokens naming their observations): no
 * observation may keep more than the bound, and every entry is either kept or counted. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lwm2m/error.h"
#include "sf_store.h"

static struct lwm2m_sf_store *mem_store(void) {
    struct lwm2m_sf_cfg cfg = {NULL, "fuzz", 1, {0, 0}, NULL, NULL};
    struct lwm2m_sf_store *s = NULL;
    if (lwm2m_sf_open(&cfg, &s, NULL, 0) != 0) {
        __builtin_trap();
    }
    return s;
}

static void check(bool ok) {
    if (!ok) {
        __builtin_trap();
    }
}

/* Pushes every entry of from into to, as the engine would have (cross-device ones with their
 * Device IDs). */
static void replay(struct lwm2m_sf_store *from, struct lwm2m_sf_store *to) {
    const struct lwm2m_sf_entry *e;
    while (lwm2m_sf_peek(from, &e) == 0) {
        check(lwm2m_sf_push_devs(to, (enum lwm2m_sf_kind)e->kind, e->token, e->token_len, e->recs,
                                 e->dev_ids, e->nrecs) == 0);
        check(lwm2m_sf_pop(from, e->id) == 0);
    }
}

/* Pushes every entry of from into to as replay() does, notifications bounded by max_same per
 * token, then checks the bound and the accounting (kept + trimmed + dropped = pushed). */
static void replay_bounded(struct lwm2m_sf_store *from, struct lwm2m_sf_store *to,
                           uint32_t max_same) {
    const struct lwm2m_sf_entry *e;
    uint64_t pushed = 0;
    while (lwm2m_sf_peek(from, &e) == 0) {
        int rc = e->kind == LWM2M_SF_NOTIFY
                     ? lwm2m_sf_push_obs(to, e->token, e->token_len, max_same, e->recs, e->dev_ids,
                                         e->nrecs)
                     : lwm2m_sf_push_devs(to, (enum lwm2m_sf_kind)e->kind, e->token, e->token_len,
                                          e->recs, e->dev_ids, e->nrecs);
        check(rc == 0);
        pushed++;
        check(lwm2m_sf_pop(from, e->id) == 0);
    }
    check(lwm2m_sf_count(to) + lwm2m_sf_trimmed(to) + lwm2m_sf_dropped(to) == pushed);
    /* per token, at most max_same notifications are left (quadratic, on what survived) */
    struct {
        uint8_t tok[LWM2M_SF_TOKEN_MAX];
        uint8_t len;
        uint32_t n;
    } seen[64];
    size_t nseen = 0;
    while (lwm2m_sf_peek(to, &e) == 0) {
        size_t i = 0;
        while (i < nseen && (e->kind != LWM2M_SF_NOTIFY || seen[i].len != e->token_len ||
                             memcmp(seen[i].tok, e->token, e->token_len) != 0)) {
            i++;
        }
        if (e->kind == LWM2M_SF_NOTIFY && i == nseen && nseen < 64) {
            memcpy(seen[nseen].tok, e->token, e->token_len);
            seen[nseen].len = e->token_len;
            seen[nseen++].n = 0;
        }
        check(i >= nseen || ++seen[i].n <= max_same);
        check(lwm2m_sf_pop(to, e->id) == 0);
    }
}

/* Plain bitwise CRC-32 (IEEE), independent of the one under test. */
static uint32_t crc32_ref(const uint8_t *p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) {
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
        }
    }
    return ~c;
}

static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

/* Rewrites the header CRC and every framed entry's CRC of a file image (format in sf_codec.c). */
static void fix_crcs(uint8_t *p, size_t n) {
    static const uint8_t mark[4] = {0xE5, 'S', 'F', 'E'};
    if (n < 10) {
        return;
    }
    size_t nlen = (size_t)p[8] | (size_t)p[9] << 8;
    if (nlen + 14 > n) {
        return;
    }
    put32(p + 10 + nlen, crc32_ref(p, 10 + nlen));
    for (size_t pos = 14 + nlen; pos + 12 <= n;) {
        size_t blen = le32(p + pos + 4);
        if (memcmp(p + pos, mark, 4) != 0 || blen > n - pos - 12) {
            pos++;
            continue;
        }
        put32(p + pos + 8 + blen, crc32_ref(p + pos + 4, 4 + blen));
        pos += 12 + blen;
    }
}

static void one_image(const uint8_t *data, size_t size) {
    char err[512];
    struct lwm2m_sf_store *a = mem_store(), *b = mem_store(), *c = mem_store(), *d = mem_store();
    int rc = lwm2m_sf_load_mem(a, data, size, err, sizeof(err));
    check(rc == 0 || rc == LWM2M_ERR_FORMAT);
    check(rc == 0 ? err[0] == '\0' : strstr(err, "offset") != NULL);

    uint8_t *img1 = NULL, *img2 = NULL, *img3 = NULL;
    size_t len1 = 0, len2 = 0, len3 = 0;
    check(lwm2m_sf_encode(a, &img1, &len1) == 0);
    check(lwm2m_sf_load_mem(b, img1, len1, err, sizeof(err)) == 0);
    check(lwm2m_sf_count(b) == lwm2m_sf_count(a) && lwm2m_sf_bytes(b) == lwm2m_sf_bytes(a));
    check(lwm2m_sf_encode(b, &img2, &len2) == 0);
    check(len2 == len1 && memcmp(img1, img2, len1) == 0);

    replay(a, c); /* what the loader accepted, push accepts with the same encoded size */
    check(lwm2m_sf_count(a) == 0 && lwm2m_sf_bytes(a) == 0);
    check(lwm2m_sf_encode(c, &img3, &len3) == 0);
    check(len3 == len1 && memcmp(img1, img3, len1) == 0);
    replay_bounded(b, d, 1u + (size > 0 ? data[size - 1] % 3u : 0u));

    free(img1);
    free(img2);
    free(img3);
    lwm2m_sf_close(a, NULL, 0);
    lwm2m_sf_close(b, NULL, 0);
    lwm2m_sf_close(c, NULL, 0);
    lwm2m_sf_close(d, NULL, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    one_image(data, size);
    uint8_t *copy = malloc(size > 0 ? size : 1);
    if (copy == NULL) {
        return 0;
    }
    memcpy(copy, data, size);
    fix_crcs(copy, size);
    one_image(copy, size);
    free(copy);
    return 0;
}
