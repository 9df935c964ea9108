/* SPDX-License-Identifier: Apache-2.0 */
/* Return codes shared by the engine: 0 for success, negative for everything else. "Try again"
 * and "not mine" are ordinary results, not failures. Mapping to CoAP response codes happens in
 * one place (lwm2m_err_to_coap, in dm.c once the data model lands). */
#ifndef LWM2M_ERROR_H
#define LWM2M_ERROR_H

enum lwm2m_err {
    LWM2M_OK = 0,
    LWM2M_ERR_AGAIN = -1,        /* not done yet: deferred, or would block; retry later */
    LWM2M_ERR_DECLINED = -2,     /* not mine: another handler should take it */
    LWM2M_ERR_NOMEM = -3,        /* allocation or fixed pool exhausted (counted, logged) */
    LWM2M_ERR_FORMAT = -4,       /* malformed input */
    LWM2M_ERR_NOSPACE = -5,      /* output buffer too small */
    LWM2M_ERR_NOTFOUND = -6,     /* no such object, instance, resource, exchange */
    LWM2M_ERR_IO = -7,           /* socket or file error (errno logged where it happened) */
    LWM2M_ERR_TIMEOUT = -8,      /* no answer after the last retransmission */
    LWM2M_ERR_RESET = -9,        /* the peer answered with RST */
    LWM2M_ERR_STATE = -10,       /* not allowed in the current state */
    LWM2M_ERR_UNSUPPORTED = -11, /* a format, option or operation we do not implement */
    LWM2M_ERR_INVALID = -12,     /* bad argument or value out of range */
    LWM2M_ERR_CANCELLED = -13,   /* the operation was cancelled by its owner */
};

/* A short constant name for an error code, for logs. */
const char *lwm2m_strerror(int err);

#endif /* LWM2M_ERROR_H */
