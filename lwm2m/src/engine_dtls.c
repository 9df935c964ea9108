/* SPDX-License-Identifier: Apache-2.0 */
/* Secure servers of the engine's endpoints: the DTLS credential contexts shared across
 * endpoints (one OpenSSL context per distinct key or certificate, not one per endpoint: ten
 * thousand endpoints of one server, each with its own PSK identity, share one SSL_CTX), wrapping
 * an endpoint's UDP socket in the DTLS transport for its coaps:// servers, and what a session
 * event means for the registration (a failed handshake fails the request in flight at once). */
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "bs_internal.h" /* LWM2M_BS_SERVERS_MAX */
#include "engine_internal.h"
#include "lwm2m/dtls.h"

/* A blob held by a cache entry (certificates and a private key in DER, from a bootstrap
 * server), to tell credential sets apart; the key's copy is wiped when the entry goes. */
struct blob {
    uint8_t *p;
    size_t len;
};

struct lwm2m_dtls_entry {
    struct lwm2m_dtls_entry *next;
    uint8_t mode, cert_usage, matching_type;
    size_t psk_len;
    uint8_t psk[64];
    char *identity, *cert, *key, *ca; /* NULL when absent; identity: the first endpoint's */
    struct blob cert_der, key_der, server_der;
    struct coap_dtls_ctx *ctx; /* the cache's reference */
};

static bool str_same(const char *a, const char *b) {
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static bool blob_same(const struct blob *b, const uint8_t *p, size_t len) {
    return b->len == len && (len == 0 || memcmp(b->p, p, len) == 0);
}

static bool entry_matches(const struct lwm2m_dtls_entry *x, const struct lwm2m_server_cfg *c) {
    return x->mode == c->sec_mode && x->psk_len == c->psk_len &&
           (c->psk_len == 0 || memcmp(x->psk, c->psk, c->psk_len) == 0) &&
           str_same(x->cert, c->cert_file) && str_same(x->key, c->key_file) &&
           str_same(x->ca, c->ca_file) && blob_same(&x->cert_der, c->cert_der, c->cert_der_len) &&
           blob_same(&x->key_der, c->key_der, c->key_der_len) &&
           blob_same(&x->server_der, c->server_der, c->server_der_len) &&
           (c->server_der_len == 0 ||
            (x->cert_usage == c->cert_usage && x->matching_type == c->matching_type));
}

static char *dup_or_null(const char *s, bool *ok) {
    if (s == NULL)
        return NULL;
    char *d = strdup(s);
    if (d == NULL)
        *ok = false;
    return d;
}

static struct blob blob_dup(const uint8_t *p, size_t len, bool *ok) {
    struct blob b = {NULL, 0};
    if (len == 0)
        return b;
    b.p = malloc(len);
    if (b.p == NULL) {
        *ok = false;
        return b;
    }
    memcpy(b.p, p, len);
    b.len = len;
    return b;
}

static void blob_free(struct blob *b, bool secret) {
    if (secret && b->p != NULL)
        OPENSSL_cleanse(b->p, b->len);
    free(b->p);
}

static void entry_free(struct lwm2m_dtls_entry *x) {
    coap_dtls_ctx_unref(x->ctx);
    OPENSSL_cleanse(x->psk, sizeof(x->psk));
    free(x->identity);
    free(x->cert);
    free(x->key);
    free(x->ca);
    blob_free(&x->cert_der, false);
    blob_free(&x->key_der, true);
    blob_free(&x->server_der, false);
    free(x);
}

static struct coap_dtls_creds creds_of(const struct lwm2m_server_cfg *c) {
    return (struct coap_dtls_creds){.mode = c->sec_mode == LWM2M_SEC_PSK ? COAP_DTLS_PSK
                                                                         : COAP_DTLS_CERT,
                                    .psk_identity = c->psk_identity,
                                    .psk = c->psk,
                                    .psk_len = c->psk_len,
                                    .cert_file = c->cert_file,
                                    .key_file = c->key_file,
                                    .ca_file = c->ca_file,
                                    .cert_der = c->cert_der,
                                    .cert_der_len = c->cert_der_len,
                                    .key_der = c->key_der,
                                    .key_der_len = c->key_der_len,
                                    .server_der = c->server_der,
                                    .server_der_len = c->server_der_len,
                                    .cert_usage = c->cert_usage,
                                    .matching_type = c->matching_type};
}

bool lwm2m_server_cfg_has_creds(const struct lwm2m_server_cfg *c) {
    if (c->sec_mode == LWM2M_SEC_PSK)
        return c->psk_identity != NULL && c->psk_len > 0;
    return c->sec_mode == LWM2M_SEC_CERT &&
           ((c->cert_file != NULL && c->key_file != NULL) ||
            (c->cert_der_len > 0 && c->key_der_len > 0 && c->server_der_len > 0));
}

int lwm2m_server_cfg_check_security(const struct lwm2m_server_cfg *c, char *err, size_t cap) {
    if (c->sec_mode == LWM2M_SEC_NOSEC)
        return 0;
    struct coap_dtls_creds cr = creds_of(c);
    struct coap_dtls_ctx *ctx = NULL;
    int rc = coap_dtls_ctx_new(&cr, err, cap, &ctx);
    coap_dtls_ctx_unref(ctx);
    return rc;
}

int lwm2m_dtls_ctx_for(struct lwm2m_engine *e, const struct lwm2m_server_cfg *c,
                       struct coap_dtls_ctx **out) {
    for (struct lwm2m_dtls_entry *x = e->dtls_ctxs; x != NULL; x = x->next)
        if (entry_matches(x, c)) {
            *out = x->ctx;
            return 0;
        }
    if (c->psk_len > sizeof(((struct lwm2m_dtls_entry *)0)->psk))
        return LWM2M_ERR_INVALID;
    struct coap_dtls_creds cr = creds_of(c);
    struct lwm2m_dtls_entry *x = calloc(1, sizeof(*x));
    if (x == NULL)
        return LWM2M_ERR_NOMEM;
    int rc = coap_dtls_ctx_new(&cr, e->dtls_error, sizeof(e->dtls_error), &x->ctx);
    bool ok = rc == 0;
    x->mode = c->sec_mode;
    x->psk_len = c->psk_len;
    if (c->psk_len > 0)
        memcpy(x->psk, c->psk, c->psk_len);
    x->cert_usage = c->cert_usage;
    x->matching_type = c->matching_type;
    x->identity = dup_or_null(c->psk_identity, &ok);
    x->cert = dup_or_null(c->cert_file, &ok);
    x->key = dup_or_null(c->key_file, &ok);
    x->ca = dup_or_null(c->ca_file, &ok);
    x->cert_der = blob_dup(c->cert_der, c->cert_der_len, &ok);
    x->key_der = blob_dup(c->key_der, c->key_der_len, &ok);
    x->server_der = blob_dup(c->server_der, c->server_der_len, &ok);
    if (!ok) {
        entry_free(x);
        return rc != 0 ? rc : LWM2M_ERR_NOMEM;
    }
    x->next = e->dtls_ctxs;
    e->dtls_ctxs = x;
    *out = x->ctx;
    return 0;
}

void lwm2m_dtls_cache_free(struct lwm2m_engine *e) {
    while (e->dtls_ctxs != NULL) {
        struct lwm2m_dtls_entry *x = e->dtls_ctxs;
        e->dtls_ctxs = x->next;
        entry_free(x);
    }
}

const char *lwm2m_engine_dtls_error(const struct lwm2m_engine *e) {
    return e->dtls_error;
}

const struct coap_dtls_stats *lwm2m_engine_dtls_stats(const struct lwm2m_engine *e) {
    return &e->dtls_stats;
}

static struct lwm2m_server *secure_server_at(struct lwm2m_endpoint *ep,
                                             const struct coap_addr *peer) {
    struct lwm2m_server *s = lwm2m_server_by_addr(ep, peer);
    return s != NULL && s->sec_mode != LWM2M_SEC_NOSEC ? s : NULL;
}

static void ep_dtls_event(void *ctx, const struct coap_addr *peer, int ev, const char *why) {
    struct lwm2m_endpoint *ep = ctx;
    struct lwm2m_server *s = secure_server_at(ep, peer);
    if (ev != COAP_DTLS_EV_FAILED)
        return; /* connected: the queued request went out; closed: the next send handshakes */
    if (s == NULL) {
        if (ep->bs != NULL)
            lwm2m_bs_link_failed(ep, peer, why); /* bootstrap.c hook */
        return;
    }
    lwm2m_emit_detail(s, LWM2M_EV_SECURE_FAILED, LWM2M_ERR_IO, why);
    lwm2m_reg_link_failed(s);
}

static int add_peer(struct coap_transport *t, const struct coap_addr *peer,
                    struct coap_dtls_ctx *ctx, const struct lwm2m_server_cfg *c) {
    int rc = coap_dtls_add_peer(t, peer, ctx);
    /* endpoints differ in identity ("psk-{device}") and share the key and the context */
    if (rc == 0 && c->sec_mode == LWM2M_SEC_PSK)
        rc = coap_dtls_set_peer_identity(t, peer, c->psk_identity);
    return rc;
}

int lwm2m_ep_secure_peer(struct lwm2m_endpoint *ep, const struct coap_addr *peer,
                         const struct lwm2m_server_cfg *c) {
    struct coap_dtls_ctx *ctx;
    if (ep->tp == NULL || coap_dtls_inner(ep->tp) == NULL)
        return LWM2M_ERR_STATE;
    int rc = lwm2m_dtls_ctx_for(ep->eng, c, &ctx);
    return rc == 0 ? add_peer(ep->tp, peer, ctx, c) : rc;
}

int lwm2m_ep_secure(struct lwm2m_endpoint *ep, const struct lwm2m_endpoint_cfg *cfg) {
    /* With a bootstrap server the transport is DTLS from the start, whatever the servers are
     * now: the CoAP endpoint keeps the transport pointer, and bootstrapped servers may be
     * coaps (the DTLS transport passes NoSec peers through in clear). */
    const struct lwm2m_server_cfg *bs = cfg->bootstrap;
    bool any = bs != NULL;
    for (size_t i = 0; i < cfg->nservers; i++)
        any |= cfg->servers[i].sec_mode != LWM2M_SEC_NOSEC;
    if (!any)
        return 0;
    struct coap_dtls_ctx *ctxs[LWM2M_BS_SERVERS_MAX + 1];
    for (size_t i = 0; i <= cfg->nservers; i++) {
        const struct lwm2m_server_cfg *c = i < cfg->nservers ? &cfg->servers[i] : bs;
        ctxs[i] = NULL;
        if (c == NULL || c->sec_mode == LWM2M_SEC_NOSEC)
            continue;
        int rc = lwm2m_dtls_ctx_for(ep->eng, c, &ctxs[i]);
        if (rc != 0)
            return rc;
    }
    struct coap_transport *t;
    int rc = coap_dtls_open(ep->eng->base, ep->tp, &ep->eng->dtls_stats, ep_dtls_event, ep, &t);
    ep->tp = rc == 0 ? t : NULL; /* the DTLS transport owns (or has closed) the UDP one */
    for (size_t i = 0; rc == 0 && i <= cfg->nservers; i++) {
        if (ctxs[i] == NULL)
            continue;
        if (i < cfg->nservers)
            rc = add_peer(t, &ep->servers[i].addr, ctxs[i], &cfg->servers[i]);
        else
            rc = add_peer(t, lwm2m_bs_addr(ep), ctxs[i], bs);
    }
    return rc;
}

void lwm2m_server_link_reset(struct lwm2m_server *s) {
    if (s->sec_mode != LWM2M_SEC_NOSEC && s->ep->tp != NULL)
        coap_dtls_reset_peer(s->ep->tp, &s->addr);
}
