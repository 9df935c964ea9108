/* SPDX-License-Identifier: Apache-2.0 */
/* DTLS credential contexts: one OpenSSL SSL_CTX per credential set (PSK identity and key, or
 * certificate, key and CA from PEM files or DER in memory), reference counted so that every
 * session with the same credentials shares it, plus the BIO method the sessions' datagram BIOs
 * are made from. The cipher suites, protocol options and how a server certificate is checked
 * (CA, or LwM2M's Certificate Usage) are decided here. */
#include "dtls_internal.h"
#include "lwm2m/error.h"

#include <openssl/err.h>
#include <openssl/x509.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* LwM2M 1.x makes TLS_PSK_WITH_AES_128_CCM_8 and TLS_PSK_WITH_AES_128_CBC_SHA256 mandatory for
 * PSK security: they come first, CCM_8 preferred (what constrained servers are configured for).
 * The others are what Leshan, libcoap and the hosted servers also accept. Plain PSK before
 * ECDHE-PSK: an ECDHE per handshake costs the gateway CPU for ten thousand endpoints and buys
 * forward secrecy only for the servers that insist on it. OpenSSL 3.0 allows CCM_8 at the
 * distribution's default security level (Debian: 2), so no @SECLEVEL lowering is needed; the
 * unit test checks that CCM_8 is still negotiated, for a future OpenSSL that demotes it. */
static const char psk_ciphers[] = "PSK-AES128-CCM8:PSK-AES128-CBC-SHA256:PSK-AES128-GCM-SHA256:"
                                  "PSK-AES128-CCM:PSK-CHACHA20-POLY1305:"
                                  "ECDHE-PSK-AES128-CBC-SHA256:ECDHE-PSK-CHACHA20-POLY1305";
/* Certificate mode: the LwM2M mandatory TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8 and _CBC_SHA256, then
 * the AES-GCM/ChaCha suites for ECDSA and RSA server keys. */
static const char cert_ciphers[] =
    "ECDHE-ECDSA-AES128-CCM8:ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-CCM:"
    "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305";

/* OpenSSL asks for the identity and key once per handshake; the key lives in the shared
 * context, the identity too unless the session has its own. */
static unsigned int ctx_psk_cb(SSL *ssl, const char *hint, char *identity, unsigned int max_id,
                               unsigned char *psk, unsigned int max_psk) {
    (void)hint;
    const struct coap_dtls_ctx *c = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
    const char *id = coap_dtls_session_identity(SSL_get_app_data(ssl));
    if (id == NULL)
        id = c->identity;
    size_t idl = strlen(id);
    if (idl > max_id || c->psk_len > max_psk)
        return 0; /* OpenSSL then fails the handshake with its own reason */
    memcpy(identity, id, idl);
    if (idl < max_id)
        identity[idl] = '\0';
    memcpy(psk, c->psk, c->psk_len);
    return (unsigned int)c->psk_len;
}

/* Records the alerts the server sends: the failure reason a person can act on ("unknown PSK
 * identity", "decrypt error") is in the alert, not in OpenSSL's own error queue. */
static void ctx_info_cb(const SSL *ssl, int where, int ret) {
    if ((where & SSL_CB_ALERT) && (where & SSL_CB_READ))
        coap_dtls_note_alert(SSL_get_app_data(ssl), ret);
}

/* Fills err with "what file: OpenSSL's words" (just "what file" when OpenSSL said nothing) and
 * empties OpenSSL's error queue. */
static int ctx_fail(char *err, size_t cap, const char *what, const char *file) {
    unsigned long e = ERR_peek_last_error();
    char why[160] = "";
    if (e != 0) {
        const char *r = ERR_reason_error_string(e);
        if (r != NULL)
            snprintf(why, sizeof(why), "%s", r);
        else
            ERR_error_string_n(e, why, sizeof(why));
    }
    ERR_clear_error();
    if (err != NULL && cap > 0)
        snprintf(err, cap, "%s%s%s%s%s", what, file != NULL ? " " : "", file != NULL ? file : "",
                 why[0] != '\0' ? ": " : "", why);
    return LWM2M_ERR_INVALID;
}

static int ctx_psk(struct coap_dtls_ctx *x, const struct coap_dtls_creds *c, char *err,
                   size_t cap) {
    size_t idl = c->psk_identity != NULL ? strlen(c->psk_identity) : 0;
    if (idl == 0 || idl >= sizeof(x->identity))
        return ctx_fail(err, cap, "PSK identity must be 1..128 bytes", NULL);
    if (c->psk == NULL || c->psk_len == 0 || c->psk_len > sizeof(x->psk))
        return ctx_fail(err, cap, "PSK key must be 1..64 bytes", NULL);
    memcpy(x->identity, c->psk_identity, idl + 1);
    memcpy(x->psk, c->psk, c->psk_len);
    x->psk_len = c->psk_len;
    if (SSL_CTX_set_cipher_list(x->ssl, psk_ciphers) != 1)
        return ctx_fail(err, cap, "PSK cipher suites", NULL);
    SSL_CTX_set_psk_client_callback(x->ssl, ctx_psk_cb);
    return 0;
}

/* ---- certificates in memory (DER), LwM2M's Certificate Usage ---------------------------- */

/* A whole DER certificate; NULL when it does not parse, or with bytes after it (*trailing). */
static X509 *der_cert(const uint8_t *der, size_t len, bool *trailing) {
    const unsigned char *p = der;
    X509 *x = len > 0 && len <= LONG_MAX ? d2i_X509(NULL, &p, (long)len) : NULL;
    *trailing = x != NULL && p != der + len;
    if (*trailing) {
        X509_free(x);
        return NULL;
    }
    return x;
}

/* A whole DER private key: PKCS#8 PrivateKeyInfo or a traditional RSA/EC key. */
static EVP_PKEY *der_key(const uint8_t *der, size_t len, bool *trailing) {
    const unsigned char *p = der;
    EVP_PKEY *k = len > 0 && len <= LONG_MAX ? d2i_AutoPrivateKey(NULL, &p, (long)len) : NULL;
    *trailing = k != NULL && p != der + len;
    if (*trailing) {
        EVP_PKEY_free(k);
        return NULL;
    }
    return k;
}

static const EVP_MD *pin_md(uint8_t matching_type) {
    return matching_type == 1   ? EVP_sha256()
           : matching_type == 2 ? EVP_sha384()
           : matching_type == 3 ? EVP_sha512()
                                : NULL;
}

/* Usages 1 and 3: the server's own certificate (the chain's leaf) is the pinned one. */
static bool leaf_matches(const struct coap_dtls_ctx *x, X509 *leaf) {
    unsigned char md[EVP_MAX_MD_SIZE], *der = NULL;
    unsigned int mdlen = 0;
    if (leaf == NULL)
        return false;
    if (x->matching_type != 0)
        return X509_digest(leaf, pin_md(x->matching_type), md, &mdlen) == 1 &&
               mdlen == x->pin_len && CRYPTO_memcmp(md, x->pin, mdlen) == 0;
    int n = i2d_X509(leaf, &der);
    bool same = n > 0 && (size_t)n == x->pin_len && memcmp(der, x->pin, x->pin_len) == 0;
    OPENSSL_free(der);
    return same;
}

/* OpenSSL's whole server certificate check for usages 1 and 3 (SSL_CTX_set_cert_verify_callback):
 * a leaf that is not the pinned one is rejected (the handshake then fails with "certificate
 * verify failed: certificate rejected"); usage 3 then accepts, usage 1 goes on to the usual
 * path validation against the system's trust anchors. */
static int pin_verify_cb(X509_STORE_CTX *sc, void *arg) {
    const struct coap_dtls_ctx *x = arg;
    if (!leaf_matches(x, X509_STORE_CTX_get0_cert(sc))) {
        X509_STORE_CTX_set_error(sc, X509_V_ERR_CERT_REJECTED);
        return 0;
    }
    if (x->usage == COAP_DTLS_USAGE_DOMAIN_ISSUED) {
        X509_STORE_CTX_set_error(sc, X509_V_OK);
        return 1;
    }
    return X509_verify_cert(sc);
}

/* How the server is checked against c->server_der (dtls.h, enum coap_dtls_cert_usage). */
static int ctx_server_trust(struct coap_dtls_ctx *x, const struct coap_dtls_creds *c, char *err,
                            size_t cap) {
    const EVP_MD *md = pin_md(c->matching_type);
    bool ee = c->cert_usage == COAP_DTLS_USAGE_SERVICE ||
              c->cert_usage == COAP_DTLS_USAGE_DOMAIN_ISSUED,
         trailing = false;
    if (c->cert_usage > COAP_DTLS_USAGE_DOMAIN_ISSUED || c->matching_type > 3)
        return ctx_fail(err, cap, "certificate usage and matching type are 0..3", NULL);
    if (c->server_der == NULL || c->server_der_len == 0)
        return ctx_fail(err, cap, "server certificate missing", NULL);
    if (md != NULL && !ee)
        return ctx_fail(err, cap, "a digest (matching type 1..3) needs certificate usage 1 or 3",
                        NULL);
    if (md != NULL && c->server_der_len != (size_t)EVP_MD_get_size(md))
        return ctx_fail(err, cap, "server certificate digest of the wrong length", NULL);
    X509 *cert = md == NULL ? der_cert(c->server_der, c->server_der_len, &trailing) : NULL;
    if (md == NULL && cert == NULL)
        return ctx_fail(err, cap, "server certificate",
                        trailing ? "with bytes after its DER" : NULL);
    x->usage = c->cert_usage;
    x->matching_type = c->matching_type;
    int rc = 0;
    if (!ee) { /* 0, 2: the one trust anchor, which need not be self-signed */
        X509_STORE *st = SSL_CTX_get_cert_store(x->ssl);
        if (X509_STORE_add_cert(st, cert) != 1 ||
            X509_STORE_set_flags(st, X509_V_FLAG_PARTIAL_CHAIN) != 1)
            rc = ctx_fail(err, cap, "server certificate", NULL);
    } else if ((x->pin = malloc(c->server_der_len)) == NULL) {
        rc = LWM2M_ERR_NOMEM;
    } else {
        memcpy(x->pin, c->server_der, c->server_der_len);
        x->pin_len = c->server_der_len;
        SSL_CTX_set_cert_verify_callback(x->ssl, pin_verify_cb, x);
        if (c->cert_usage == COAP_DTLS_USAGE_SERVICE &&
            SSL_CTX_set_default_verify_paths(x->ssl) != 1)
            rc = ctx_fail(err, cap, "system trust anchors", NULL);
    }
    X509_free(cert);
    if (rc == 0)
        SSL_CTX_set_verify(x->ssl, SSL_VERIFY_PEER, NULL);
    return rc;
}

/* The client certificate and key from DER, checked to belong together; then the trust. */
static int ctx_cert_der(struct coap_dtls_ctx *x, const struct coap_dtls_creds *c, char *err,
                        size_t cap) {
    bool trailing;
    X509 *cert = der_cert(c->cert_der, c->cert_der_len, &trailing);
    if (cert == NULL)
        return ctx_fail(err, cap, "certificate", trailing ? "with bytes after its DER" : NULL);
    EVP_PKEY *key = der_key(c->key_der, c->key_der_len, &trailing);
    int rc = 0;
    if (key == NULL)
        rc = ctx_fail(err, cap, "private key", trailing ? "with bytes after its DER" : NULL);
    else if (X509_check_private_key(cert, key) != 1)
        rc = ctx_fail(err, cap, "private key", NULL);
    else if (SSL_CTX_use_certificate(x->ssl, cert) != 1 || SSL_CTX_use_PrivateKey(x->ssl, key) != 1)
        rc = ctx_fail(err, cap, "certificate and key", NULL);
    X509_free(cert);
    EVP_PKEY_free(key);
    return rc != 0 ? rc : ctx_server_trust(x, c, err, cap);
}

static int ctx_cert(struct coap_dtls_ctx *x, const struct coap_dtls_creds *c, char *err,
                    size_t cap) {
    bool files = c->cert_file != NULL || c->key_file != NULL || c->ca_file != NULL;
    bool der = c->cert_der != NULL || c->key_der != NULL || c->server_der != NULL;
    if (files && der)
        return ctx_fail(err, cap, "certificate mode takes files or DER, not both", NULL);
    if (SSL_CTX_set_cipher_list(x->ssl, cert_ciphers) != 1)
        return ctx_fail(err, cap, "certificate cipher suites", NULL);
    if (der)
        return ctx_cert_der(x, c, err, cap);
    if (c->cert_file == NULL || c->key_file == NULL)
        return ctx_fail(err, cap, "certificate mode needs a certificate and a key", NULL);
    if (SSL_CTX_use_certificate_chain_file(x->ssl, c->cert_file) != 1)
        return ctx_fail(err, cap, "certificate", c->cert_file);
    if (SSL_CTX_use_PrivateKey_file(x->ssl, c->key_file, SSL_FILETYPE_PEM) != 1)
        return ctx_fail(err, cap, "private key", c->key_file);
    if (SSL_CTX_check_private_key(x->ssl) != 1)
        return ctx_fail(err, cap, "private key", c->key_file);
    if (c->ca_file == NULL) {
        SSL_CTX_set_verify(x->ssl, SSL_VERIFY_NONE, NULL);
        return 0;
    }
    if (SSL_CTX_load_verify_locations(x->ssl, c->ca_file, NULL) != 1)
        return ctx_fail(err, cap, "CA", c->ca_file);
    SSL_CTX_set_verify(x->ssl, SSL_VERIFY_PEER, NULL);
    return 0;
}

/* Everything a client session needs that does not depend on the credentials. */
static int ctx_common(struct coap_dtls_ctx *x) {
    x->ssl = SSL_CTX_new(DTLS_client_method());
    if (x->ssl == NULL)
        return LWM2M_ERR_NOMEM;
    SSL_CTX_set_app_data(x->ssl, x);
    if (SSL_CTX_set_min_proto_version(x->ssl, DTLS1_2_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(x->ssl, DTLS1_2_VERSION) != 1)
        return LWM2M_ERR_NOMEM;
    /* Idle sessions give their 17 KB record buffers back: the memory budget is per endpoint.
     * The path MTU is fixed (the transport sets it), never asked of a socket we do not have;
     * no tickets or client session cache (resumption is not used); the server cannot
     * renegotiate behind the engine's back. */
    SSL_CTX_set_mode(x->ssl, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_options(x->ssl, SSL_OP_NO_QUERY_MTU | SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_session_cache_mode(x->ssl, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_info_callback(x->ssl, ctx_info_cb);
    x->bio = coap_dtls_bio_method();
    return x->bio != NULL ? 0 : LWM2M_ERR_NOMEM;
}

static void ctx_free(struct coap_dtls_ctx *x) {
    SSL_CTX_free(x->ssl);
    BIO_meth_free(x->bio);
    OPENSSL_cleanse(x->psk, sizeof(x->psk));
    free(x->pin);
    free(x);
}

int coap_dtls_ctx_new(const struct coap_dtls_creds *c, char *err, size_t errcap,
                      struct coap_dtls_ctx **out) {
    if (err != NULL && errcap > 0)
        err[0] = '\0';
    if (c == NULL || out == NULL || (c->mode != COAP_DTLS_PSK && c->mode != COAP_DTLS_CERT))
        return ctx_fail(err, errcap, "DTLS credentials", NULL);
    struct coap_dtls_ctx *x = calloc(1, sizeof(*x));
    if (x == NULL)
        return LWM2M_ERR_NOMEM;
    x->refs = 1;
    ERR_clear_error();
    int rc = ctx_common(x);
    if (rc == 0)
        rc = c->mode == COAP_DTLS_PSK ? ctx_psk(x, c, err, errcap) : ctx_cert(x, c, err, errcap);
    if (rc != 0) {
        if (rc == LWM2M_ERR_NOMEM)
            ERR_clear_error();
        ctx_free(x);
        return rc;
    }
    *out = x;
    return 0;
}

void coap_dtls_ctx_ref(struct coap_dtls_ctx *c) {
    c->refs++;
}

void coap_dtls_ctx_unref(struct coap_dtls_ctx *c) {
    if (c != NULL && --c->refs == 0)
        ctx_free(c);
}
