/* SPDX-License-Identifier: Apache-2.0 */
/* What the DTLS credential contexts (dtls_ctx.c) and the DTLS transport (transport_dtls.c) share:
 * the context's layout, the datagram BIO method the sessions are built on, and the hook through
 * which OpenSSL's info callback hands a received alert to its session. Not for other layers. */
#ifndef LWM2M_DTLS_INTERNAL_H
#define LWM2M_DTLS_INTERNAL_H

#include <openssl/ssl.h>
#include <stddef.h>
#include <stdint.h>

#include "lwm2m/dtls.h"

struct coap_dtls_ctx {
    SSL_CTX *ssl;
    BIO_METHOD *bio; /* one per context rather than a process-wide global */
    unsigned refs;
    size_t psk_len;
    uint8_t psk[64];
    char identity[129]; /* NUL-terminated */
    /* CERT in memory, usages 1 and 3: the server's certificate (or its digest) that the leaf
     * of the server's chain must match (malloc'd, or NULL). */
    uint8_t *pin;
    size_t pin_len;
    uint8_t usage, matching_type;
};

/* A new datagram BIO method (transport_dtls.c); the caller frees it with BIO_meth_free(). */
BIO_METHOD *coap_dtls_bio_method(void);

/* Called from OpenSSL's info callback with the session's app data and the alert it received
 * (level << 8 | description). */
void coap_dtls_note_alert(void *session, int alert);

/* The session's own PSK identity (coap_dtls_set_peer_identity), or NULL for the context's. */
const char *coap_dtls_session_identity(const void *session);

#endif /* LWM2M_DTLS_INTERNAL_H */
