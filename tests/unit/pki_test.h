/* SPDX-License-Identifier: Apache-2.0 */
/* Test certificates made in memory with OpenSSL for the DTLS unit tests (test_transport_dtls.c)
 * and the bootstrap tests that write certificates (test_bootstrap.c): EC P-256 keys, a CA (or a
 * certificate it signs) valid from a minute ago for an hour, and their DER forms as an LwM2M
 * bootstrap server writes them. Header-only; include after cmocka.h. */
#ifndef PKI_TEST_H
#define PKI_TEST_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

/* A certificate for cn with key's public half, signed by issuer (issuer_key), or self-signed
 * with CA:TRUE when issuer is NULL. */
static inline X509 *pki_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key,
                             int serial) {
    X509 *x = X509_new();
    X509V3_CTX v3;
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, key);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(issuer != NULL ? issuer : x));
    if (issuer == NULL) { /* a CA */
        X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
        X509_EXTENSION *e =
            X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, "critical,CA:TRUE");
        X509_add_ext(x, e, -1);
        X509_EXTENSION_free(e);
    }
    assert_true(X509_sign(x, issuer_key != NULL ? issuer_key : key, EVP_sha256()) > 0);
    return x;
}

/* DER bytes (malloc'd by OpenSSL: free with OPENSSL_free). */
struct pki_der {
    uint8_t *p;
    size_t len;
};

static inline struct pki_der pki_cert_der(X509 *x) {
    struct pki_der d = {NULL, 0};
    int n = i2d_X509(x, &d.p);
    assert_true(n > 0);
    d.len = (size_t)n;
    return d;
}

/* The private key as PKCS#8 PrivateKeyInfo, or in its traditional form (RFC 5915 ECPrivateKey
 * for EC keys). */
static inline struct pki_der pki_key_der(EVP_PKEY *k, bool pkcs8) {
    struct pki_der d = {NULL, 0};
    int n;
    if (pkcs8) {
        PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(k);
        assert_non_null(p8);
        n = i2d_PKCS8_PRIV_KEY_INFO(p8, &d.p);
        PKCS8_PRIV_KEY_INFO_free(p8);
    } else {
        n = i2d_PrivateKey(k, &d.p);
    }
    assert_true(n > 0);
    d.len = (size_t)n;
    return d;
}

static inline void pki_der_free(struct pki_der *d) {
    OPENSSL_free(d->p);
    d->p = NULL;
    d->len = 0;
}

#endif /* PKI_TEST_H */
