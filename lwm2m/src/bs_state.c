/* SPDX-License-Identifier: Apache-2.0 */
/* The bootstrap data (bs_internal.h): the Security (0) and Server (1) records a bootstrap server
 * writes, kept sorted; the consistency check of Bootstrap-Finish that turns them into server
 * configurations; and their state file (a checked header around SenML CBOR) with its atomic
 * rewrite through file_io.c. The codec half (encode/decode) does no I/O. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bs_internal.h"
#include "file_io.h"

#define BS_HEADER 16

/* ---- the record set ----------------------------------------------------------------------- */

static bool owns_bytes(uint8_t type) {
    return type == LWM2M_TYPE_STRING || type == LWM2M_TYPE_OPAQUE || type == LWM2M_TYPE_CORELNK;
}

static void rec_clear(struct lwm2m_bs_rec *r) {
    if (owns_bytes(r->v.type))
        free((void *)r->v.v.bytes.ptr);
}

void lwm2m_bs_data_free(struct lwm2m_bs_data *d) {
    for (size_t i = 0; i < d->n; i++)
        rec_clear(&d->v[i]);
    free(d->v);
    *d = (struct lwm2m_bs_data){0};
}

/* Index of p, or where it would go (*found false). */
static size_t find(const struct lwm2m_bs_data *d, const struct lwm2m_path *p, bool *found) {
    size_t lo = 0, hi = d->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = lwm2m_path_cmp(&d->v[mid].path, p);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

int lwm2m_bs_data_put(struct lwm2m_bs_data *d, const struct lwm2m_record *r) {
    struct lwm2m_value v = r->value;
    if (owns_bytes(v.type)) {
        uint8_t *copy = malloc(v.v.bytes.len > 0 ? v.v.bytes.len : 1);
        if (copy == NULL)
            return LWM2M_ERR_NOMEM;
        if (v.v.bytes.len > 0)
            memcpy(copy, v.v.bytes.ptr, v.v.bytes.len);
        v.v.bytes.ptr = copy;
    }
    bool found;
    size_t at = find(d, &r->path, &found);
    if (found) {
        rec_clear(&d->v[at]);
        d->v[at].v = v;
        return 0;
    }
    if (d->n == d->cap) {
        size_t cap = d->cap != 0 ? d->cap * 2 : 32;
        struct lwm2m_bs_rec *nv = realloc(d->v, cap * sizeof(*nv));
        if (nv == NULL) {
            if (owns_bytes(v.type))
                free((void *)v.v.bytes.ptr);
            return LWM2M_ERR_NOMEM;
        }
        d->v = nv;
        d->cap = cap;
    }
    memmove(&d->v[at + 1], &d->v[at], (d->n - at) * sizeof(*d->v));
    d->v[at] = (struct lwm2m_bs_rec){.path = r->path, .v = v};
    d->n++;
    return 0;
}

const struct lwm2m_value *lwm2m_bs_data_get(const struct lwm2m_bs_data *d, struct lwm2m_path p) {
    bool found;
    size_t at = find(d, &p, &found);
    return found ? &d->v[at].v : NULL;
}

bool lwm2m_bs_data_is_bs(const struct lwm2m_bs_data *d, uint16_t iid) {
    const struct lwm2m_value *v = lwm2m_bs_data_get(d, lwm2m_path_make(3, 0, iid, 1, 0));
    return v != NULL && v->type == LWM2M_TYPE_BOOLEAN && v->v.b;
}

void lwm2m_bs_data_erase(struct lwm2m_bs_data *d, const struct lwm2m_path *p, bool keep_bs) {
    size_t k = 0;
    for (size_t i = 0; i < d->n; i++) {
        struct lwm2m_bs_rec *r = &d->v[i];
        bool gone = lwm2m_path_has_prefix(&r->path, p) &&
                    !(keep_bs && r->path.ids[0] == 0 && lwm2m_bs_data_is_bs(d, r->path.ids[1]));
        if (gone)
            rec_clear(r);
        else
            d->v[k++] = *r;
    }
    d->n = k;
}

int lwm2m_bs_data_instances(const struct lwm2m_bs_data *d, uint16_t oid, lwm2m_id_fn fn,
                            void *ctx) {
    int last = -1;
    for (size_t i = 0; i < d->n; i++) {
        const struct lwm2m_path *p = &d->v[i].path;
        if (p->ids[0] != oid || p->ids[1] == last)
            continue;
        last = p->ids[1];
        int rc = fn(ctx, (uint16_t)last);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* ---- Bootstrap-Finish consistency: records to servers ------------------------------------- */

static bool get_int(const struct lwm2m_bs_data *d, struct lwm2m_path p, int64_t *out) {
    const struct lwm2m_value *v = lwm2m_bs_data_get(d, p);
    if (v != NULL && v->type == LWM2M_TYPE_INTEGER) {
        *out = v->v.i;
        return true;
    }
    if (v != NULL && v->type == LWM2M_TYPE_UNSIGNED && v->v.u <= INT64_MAX) {
        *out = (int64_t)v->v.u;
        return true;
    }
    return false;
}

static const struct lwm2m_bytes *get_bytes(const struct lwm2m_bs_data *d, struct lwm2m_path p) {
    const struct lwm2m_value *v = lwm2m_bs_data_get(d, p);
    return v != NULL && owns_bytes(v->type) ? &v->v.bytes : NULL;
}

static bool get_bool(const struct lwm2m_bs_data *d, struct lwm2m_path p) {
    const struct lwm2m_value *v = lwm2m_bs_data_get(d, p);
    return v != NULL && v->type == LWM2M_TYPE_BOOLEAN && v->v.b;
}

struct srv_find {
    const struct lwm2m_bs_data *d;
    int64_t ssid;
    int found; /* the /1 instance id, -1 when none */
};

static int srv_match(void *ctx, uint16_t iid) {
    struct srv_find *f = ctx;
    int64_t ssid;
    if (get_int(f->d, lwm2m_path_make(3, 1, iid, 0, 0), &ssid) && ssid == f->ssid) {
        f->found = iid;
        return 1;
    }
    return 0;
}

/* Copies the bytes b into out as a C string; false when too long or holding a NUL. */
static bool to_cstr(const struct lwm2m_bytes *b, char *out, size_t cap) {
    if (b == NULL || b->len >= cap || memchr(b->ptr, '\0', b->len) != NULL)
        return false;
    memcpy(out, b->ptr, b->len);
    out[b->len] = '\0';
    return true;
}

struct srv_build {
    const struct lwm2m_bs_data *d;
    uint8_t version;
    struct lwm2m_bs_server *out;
    size_t max, n;
    char *diag;
    size_t cap;
};

#define FAIL(b, rc, ...) (snprintf((b)->diag, (b)->cap, __VA_ARGS__), (rc))

/* Certificate mode: /0/iid/3, 4 and 5 as they are (DER, borrowed from d), /0/iid/15 and 13. */
static int sec_cert(struct srv_build *b, uint16_t iid, struct lwm2m_bs_server *o) {
    static const char *const what[3] = {"certificate (Public Key or Identity)",
                                        "server certificate (Server Public Key)",
                                        "private key (Secret Key)"};
    const struct lwm2m_bytes *v[3];
    for (uint16_t r = 3; r <= 5; r++) {
        v[r - 3] = get_bytes(b->d, lwm2m_path_make(3, 0, iid, r, 0));
        if (v[r - 3] == NULL || v[r - 3]->len == 0)
            return FAIL(b, LWM2M_ERR_INVALID, "/0/%u/%u: %s missing", iid, r, what[r - 3]);
    }
    int64_t usage = 3, match = 0;
    if (lwm2m_bs_data_get(b->d, lwm2m_path_make(3, 0, iid, 15, 0)) != NULL &&
        (!get_int(b->d, lwm2m_path_make(3, 0, iid, 15, 0), &usage) || usage < 0 || usage > 3))
        return FAIL(b, LWM2M_ERR_INVALID, "/0/%u/15: Certificate Usage is 0..3", iid);
    if (lwm2m_bs_data_get(b->d, lwm2m_path_make(3, 0, iid, 13, 0)) != NULL &&
        (!get_int(b->d, lwm2m_path_make(3, 0, iid, 13, 0), &match) || match < 0 || match > 3))
        return FAIL(b, LWM2M_ERR_INVALID, "/0/%u/13: Matching Type is 0..3", iid);
    o->cfg.cert_der = v[0]->ptr;
    o->cfg.cert_der_len = v[0]->len;
    o->cfg.server_der = v[1]->ptr;
    o->cfg.server_der_len = v[1]->len;
    o->cfg.key_der = v[2]->ptr;
    o->cfg.key_der_len = v[2]->len;
    o->cfg.cert_usage = (uint8_t)usage;
    o->cfg.matching_type = (uint8_t)match;
    return 0;
}

/* The credentials of /0/iid for its mode. */
static int sec_creds(struct srv_build *b, uint16_t iid, int64_t mode, bool secure,
                     struct lwm2m_bs_server *o) {
    const struct lwm2m_bs_data *d = b->d;
    if (mode != LWM2M_SEC_PSK && mode != LWM2M_SEC_NOSEC && mode != LWM2M_SEC_CERT)
        return FAIL(b, LWM2M_ERR_UNSUPPORTED, "/0/%u: security mode %lld not supported", iid,
                    (long long)mode);
    if (secure != (mode != LWM2M_SEC_NOSEC))
        return FAIL(b, LWM2M_ERR_INVALID, "/0/%u: %s URI with %s mode", iid,
                    secure ? "coaps://" : "coap://",
                    mode == LWM2M_SEC_PSK    ? "PSK"
                    : mode == LWM2M_SEC_CERT ? "Certificate"
                                             : "NoSec");
    o->cfg.sec_mode = (uint8_t)mode;
    if (mode == LWM2M_SEC_NOSEC)
        return 0;
    if (mode == LWM2M_SEC_CERT)
        return sec_cert(b, iid, o);
    const struct lwm2m_bytes *id = get_bytes(d, lwm2m_path_make(3, 0, iid, 3, 0));
    const struct lwm2m_bytes *key = get_bytes(d, lwm2m_path_make(3, 0, iid, 5, 0));
    if (id == NULL || id->len == 0 || !to_cstr(id, o->identity, sizeof(o->identity)))
        return FAIL(b, LWM2M_ERR_INVALID, "/0/%u/3: PSK identity missing, empty or too long", iid);
    if (key == NULL || key->len == 0 || key->len > sizeof(o->psk))
        return FAIL(b, LWM2M_ERR_INVALID, "/0/%u/5: PSK key missing or not 1..64 bytes", iid);
    memcpy(o->psk, key->ptr, key->len);
    o->cfg.psk_identity = o->identity;
    o->cfg.psk = o->psk;
    o->cfg.psk_len = key->len;
    return 0;
}

/* The Server instance values of /1/j into o. */
static int srv_values(struct srv_build *b, uint16_t j, struct lwm2m_bs_server *o) {
    const struct lwm2m_bs_data *d = b->d;
    int64_t lt = 86400, pmin = 0, pmax = 0;
    get_int(d, lwm2m_path_make(3, 1, j, 1, 0), &lt);
    get_int(d, lwm2m_path_make(3, 1, j, 2, 0), &pmin);
    get_int(d, lwm2m_path_make(3, 1, j, 3, 0), &pmax);
    if (lt <= 0 || lt > UINT32_MAX || pmin < 0 || pmin > UINT32_MAX || pmax < 0 ||
        pmax > UINT32_MAX)
        return FAIL(b, LWM2M_ERR_INVALID, "/1/%u: lifetime or default period out of range", j);
    const struct lwm2m_bytes *bd = get_bytes(d, lwm2m_path_make(3, 1, j, 7, 0));
    if (bd == NULL)
        snprintf(o->binding, sizeof(o->binding), "U");
    else if (!to_cstr(bd, o->binding, sizeof(o->binding)) ||
             (strcmp(o->binding, "U") != 0 && strcmp(o->binding, "UQ") != 0))
        return FAIL(b, LWM2M_ERR_INVALID, "/1/%u/7: binding not supported (U or UQ)", j);
    o->cfg.lifetime = (uint32_t)lt;
    o->cfg.default_pmin = (uint32_t)pmin;
    o->cfg.default_pmax = (uint32_t)pmax;
    o->cfg.binding = o->binding;
    o->cfg.notification_storing = get_bool(d, lwm2m_path_make(3, 1, j, 6, 0));
    o->cfg.mute_send = get_bool(d, lwm2m_path_make(3, 1, j, 23, 0));
    return 0;
}

static int sec_instance(void *ctx, uint16_t iid) {
    struct srv_build *b = ctx;
    const struct lwm2m_bs_data *d = b->d;
    if (lwm2m_bs_data_is_bs(d, iid))
        return 0; /* the bootstrap server's own account: kept, not a server to register with */
    if (b->n == b->max)
        return FAIL(b, LWM2M_ERR_INVALID, "more than %zu LwM2M Server accounts", b->max);
    struct lwm2m_bs_server *o = &b->out[b->n];
    memset(o, 0, sizeof(*o));
    o->sec_iid = iid;
    int64_t mode, ssid;
    struct coap_addr addr;
    bool secure;
    if (!to_cstr(get_bytes(d, lwm2m_path_make(3, 0, iid, 0, 0)), o->uri, sizeof(o->uri)))
        return FAIL(b, LWM2M_ERR_INVALID, "/0/%u/0: Server URI missing", iid);
    if (lwm2m_server_uri_parse(o->uri, &addr, &secure) != 0)
        return FAIL(b, LWM2M_ERR_INVALID, "/0/%u/0: \"%s\" is not coap[s]://numeric-host:port", iid,
                    o->uri);
    if (!get_int(d, lwm2m_path_make(3, 0, iid, 2, 0), &mode))
        return FAIL(b, LWM2M_ERR_INVALID, "/0/%u/2: Security Mode missing", iid);
    if (!get_int(d, lwm2m_path_make(3, 0, iid, 10, 0), &ssid) || ssid < 1 || ssid > 65534)
        return FAIL(b, LWM2M_ERR_INVALID, "/0/%u/10: Short Server ID missing", iid);
    for (size_t i = 0; i < b->n; i++)
        if (b->out[i].cfg.ssid == ssid)
            return FAIL(b, LWM2M_ERR_INVALID, "/0/%u/10: Short Server ID %lld used twice", iid,
                        (long long)ssid);
    int rc = sec_creds(b, iid, mode, secure, o);
    if (rc != 0)
        return rc;
    struct srv_find f = {d, ssid, -1};
    lwm2m_bs_data_instances(d, 1, srv_match, &f);
    if (f.found < 0)
        return FAIL(b, LWM2M_ERR_INVALID, "/0/%u: no Server instance with Short Server ID %lld",
                    iid, (long long)ssid);
    rc = srv_values(b, (uint16_t)f.found, o);
    if (rc != 0)
        return rc;
    o->cfg.uri = o->uri;
    o->cfg.ssid = (uint16_t)ssid;
    o->cfg.version_minor = b->version;
    b->n++;
    return 0;
}

int lwm2m_bs_servers(const struct lwm2m_bs_data *d, uint8_t version, struct lwm2m_bs_server *out,
                     size_t max, char *diag, size_t cap) {
    struct srv_build b = {d, version, out, max, 0, diag, cap};
    int rc = lwm2m_bs_data_instances(d, 0, sec_instance, &b);
    if (rc != 0)
        return rc;
    if (b.n == 0)
        return FAIL(&b, LWM2M_ERR_INVALID,
                    "no LwM2M Server account (a Security instance that is not the bootstrap "
                    "server's, with a Server instance of the same Short Server ID)");
    return (int)b.n;
}

int lwm2m_bs_servers_check(const struct lwm2m_bs_server *s, size_t n, char *diag, size_t cap) {
    for (size_t i = 0; i < n; i++) {
        char why[192] = "";
        int rc = lwm2m_server_cfg_check_security(&s[i].cfg, why, sizeof(why));
        if (rc != 0) {
            snprintf(diag, cap, "/0/%u: %s", s[i].sec_iid,
                     why[0] != '\0' ? why : lwm2m_strerror(rc));
            return rc;
        }
    }
    return 0;
}

/* ---- the state file: codec -------------------------------------------------------------- */

static void put_le(uint8_t *p, uint32_t v, size_t n) {
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le(const uint8_t *p, size_t n) {
    uint32_t v = 0;
    for (size_t i = 0; i < n; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

static int encode_body(const struct lwm2m_bs_data *d, uint8_t *buf, size_t cap, size_t *len) {
    struct lwm2m_encoder e;
    struct lwm2m_path root = lwm2m_path_make(0, 0, 0, 0, 0);
    int rc = lwm2m_encoder_init(&e, LWM2M_CT_SENML_CBOR, &root, buf, cap);
    for (size_t i = 0; rc == 0 && i < d->n; i++)
        rc = lwm2m_encoder_add_value(&e, &d->v[i].path, &d->v[i].v);
    return rc == 0 ? lwm2m_encoder_finish(&e, len) : rc;
}

int lwm2m_bs_state_encode(const struct lwm2m_bs_data *d, uint8_t **out, size_t *len) {
    size_t cap = 64;
    for (size_t i = 0; i < d->n; i++)
        cap += 32 + (owns_bytes(d->v[i].v.type) ? d->v[i].v.v.bytes.len : 0);
    for (;; cap *= 2) {
        uint8_t *img = malloc(BS_HEADER + cap);
        size_t n = 0;
        if (img == NULL)
            return LWM2M_ERR_NOMEM;
        int rc = encode_body(d, img + BS_HEADER, cap, &n);
        if (rc == 0) {
            memcpy(img, "LWBS", 4);
            img[4] = LWM2M_BS_FILE_VERSION;
            img[5] = img[6] = img[7] = 0;
            put_le(img + 8, (uint32_t)n, 4);
            put_le(img + 12, lwm2m_crc32(img + BS_HEADER, n), 4);
            *out = img;
            *len = BS_HEADER + n;
            return 0;
        }
        free(img);
        if (rc != LWM2M_ERR_NOSPACE || cap > LWM2M_BS_FILE_MAX)
            return rc == LWM2M_ERR_NOSPACE ? LWM2M_ERR_NOMEM : rc;
    }
}

static enum lwm2m_type file_type_of(void *ctx, const struct lwm2m_path *p) {
    enum lwm2m_type t = LWM2M_TYPE_NONE;
    return lwm2m_model_resource_type(ctx, p, &t) == 0 ? t : LWM2M_TYPE_NONE;
}

static int file_rec(void *ctx, const struct lwm2m_record *r) {
    if (r->path.len < 3 || r->path.ids[0] > 1 || r->value.type == LWM2M_TYPE_NONE)
        return LWM2M_ERR_FORMAT; /* only values of /0 and /1 are ever written */
    return lwm2m_bs_data_put(ctx, r);
}

#define DECODE_FAIL(rc, ...) (snprintf(err, cap, __VA_ARGS__), (rc))

int lwm2m_bs_state_decode(const struct lwm2m_model *model, const uint8_t *buf, size_t len,
                          struct lwm2m_bs_data *out, char *err, size_t cap) {
    lwm2m_bs_data_free(out);
    if (len < BS_HEADER || memcmp(buf, "LWBS", 4) != 0)
        return DECODE_FAIL(LWM2M_ERR_FORMAT, "not a bootstrap state file");
    if (buf[4] != LWM2M_BS_FILE_VERSION)
        return DECODE_FAIL(LWM2M_ERR_FORMAT, "format version %u not supported", buf[4]);
    if (buf[5] != 0 || buf[6] != 0 || buf[7] != 0)
        return DECODE_FAIL(LWM2M_ERR_FORMAT, "unknown flags");
    uint32_t n = get_le(buf + 8, 4);
    if (n != len - BS_HEADER)
        return DECODE_FAIL(LWM2M_ERR_FORMAT, "length %u, file holds %zu", n, len - BS_HEADER);
    if (get_le(buf + 12, 4) != lwm2m_crc32(buf + BS_HEADER, n))
        return DECODE_FAIL(LWM2M_ERR_FORMAT, "bad checksum");
    struct lwm2m_decode_cfg dc = {.ct = LWM2M_CT_SENML_CBOR,
                                  .req = lwm2m_path_make(0, 0, 0, 0, 0),
                                  .type_of = file_type_of,
                                  .type_ctx = (void *)model};
    int rc = lwm2m_decode(&dc, buf + BS_HEADER, n, file_rec, out);
    if (rc != 0) {
        lwm2m_bs_data_free(out);
        return DECODE_FAIL(rc == LWM2M_ERR_NOMEM ? rc : LWM2M_ERR_FORMAT, "records: %s",
                           lwm2m_strerror(rc));
    }
    return 0;
}

/* ---- the state file: files ---------------------------------------------------------------- */

char *lwm2m_bs_state_path(const char *dir, const char *name) {
    return lwm2m_file_path(dir, name, ".bs");
}

int lwm2m_bs_state_set_aside(const char *dir, const char *path, char *err, size_t cap) {
    char aside[4096];
    return lwm2m_file_set_aside(NULL, dir, path, aside, sizeof(aside), err, cap);
}

int lwm2m_bs_state_load(const struct lwm2m_model *model, const char *dir, const char *path,
                        struct lwm2m_bs_data *out, char *err, size_t cap) {
    uint8_t *buf;
    size_t len;
    bool too_big;
    char why[160] = "file too large";
    lwm2m_bs_data_free(out);
    int rc = lwm2m_file_read(path, LWM2M_BS_FILE_MAX, &buf, &len, &too_big, err, cap);
    if (rc != 0)
        return rc;
    if (buf == NULL && !too_big) {
        if (access(path, F_OK) != 0)
            return 0; /* no file: nothing was bootstrapped yet */
        snprintf(why, sizeof(why), "empty file");
        rc = LWM2M_ERR_FORMAT;
    } else if (!too_big) {
        rc = lwm2m_bs_state_decode(model, buf, len, out, why, sizeof(why));
    }
    free(buf);
    if (!too_big && rc != LWM2M_ERR_FORMAT)
        return rc;
    char aside[4096] = "";
    int arc = lwm2m_file_set_aside(NULL, dir, path, aside, sizeof(aside), NULL, 0);
    snprintf(err, cap, "%s: %s; %s%s", path, why, arc == 0 ? "moved aside to " : "not moved aside",
             aside);
    return LWM2M_ERR_FORMAT;
}

int lwm2m_bs_state_save(const char *dir, const char *path, const struct lwm2m_bs_data *d, char *err,
                        size_t cap) {
    if (d->n == 0)
        return lwm2m_file_remove(NULL, dir, path, err, cap);
    uint8_t *img;
    size_t n;
    int rc = lwm2m_bs_state_encode(d, &img, &n);
    if (rc != 0) {
        snprintf(err, cap, "%s: %s", path, lwm2m_strerror(rc));
        return rc;
    }
    rc = lwm2m_file_write_atomic(NULL, dir, path, img, n, err, cap);
    free(img);
    return rc;
}
