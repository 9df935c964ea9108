/* SPDX-License-Identifier: Apache-2.0 */
/* Names for enum lwm2m_err, for log lines. */
#include "lwm2m/error.h"

const char *lwm2m_strerror(int err) {
    switch (err) {
    case LWM2M_OK:
        return "ok";
    case LWM2M_ERR_AGAIN:
        return "again";
    case LWM2M_ERR_DECLINED:
        return "declined";
    case LWM2M_ERR_NOMEM:
        return "out of memory";
    case LWM2M_ERR_FORMAT:
        return "malformed input";
    case LWM2M_ERR_NOSPACE:
        return "buffer too small";
    case LWM2M_ERR_NOTFOUND:
        return "not found";
    case LWM2M_ERR_IO:
        return "i/o error";
    case LWM2M_ERR_TIMEOUT:
        return "timeout";
    case LWM2M_ERR_RESET:
        return "reset by peer";
    case LWM2M_ERR_STATE:
        return "wrong state";
    case LWM2M_ERR_UNSUPPORTED:
        return "unsupported";
    case LWM2M_ERR_INVALID:
        return "invalid argument";
    case LWM2M_ERR_CANCELLED:
        return "cancelled";
    default:
        return "unknown error";
    }
}
