/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by every adapter kind: printable names of qualities and write outcomes, so
 * logs, tools and the bridge's status API spell them the same way. */
#include "adapter.h"

const char *adapter_quality_name(enum adapter_quality q) {
    switch (q) {
    case ADAPTER_Q_GOOD:
        return "good";
    case ADAPTER_Q_TIMEOUT:
        return "timeout";
    case ADAPTER_Q_EXCEPTION:
        return "exception";
    case ADAPTER_Q_DISCONNECTED:
        return "disconnected";
    case ADAPTER_Q_BAD_DATA:
        return "bad-data";
    default:
        return "unknown";
    }
}

const char *adapter_write_status_name(enum adapter_write_status s) {
    switch (s) {
    case ADAPTER_WRITE_OK:
        return "ok";
    case ADAPTER_WRITE_EXCEPTION:
        return "exception";
    case ADAPTER_WRITE_TIMEOUT:
        return "timeout";
    case ADAPTER_WRITE_DISCONNECTED:
        return "disconnected";
    case ADAPTER_WRITE_MISMATCH:
        return "mismatch";
    case ADAPTER_WRITE_FAILED:
        return "failed";
    default:
        return "unknown";
    }
}
