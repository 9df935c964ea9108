/* SPDX-License-Identifier: Apache-2.0 */
/* Logging of the bridge: levels, one line per message with a UTC time stamp, the level and, when
 * the message concerns one device, "[device endpoint]" so that a grep for a device finds its
 * whole story. The logger is a plain struct owned by the gateway (no global state). */
#ifndef BR_LOG_H
#define BR_LOG_H

#include <stdarg.h>
#include <stdio.h>

enum br_log_level { BR_LOG_ERROR, BR_LOG_WARN, BR_LOG_INFO, BR_LOG_DEBUG, BR_LOG_TRACE };

struct br_log {
    int level; /* messages above this level are dropped */
    FILE *out; /* borrowed; stderr in the product */
};

/* Writes one line if level <= lg->level. device and endpoint may be NULL (no prefix then). */
void br_log_write(const struct br_log *lg, int level, const char *device, const char *endpoint,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Name of a level ("error", "warn", ...). */
const char *br_log_level_name(int level);

#define BR_ERR(lg, ...)   br_log_write((lg), BR_LOG_ERROR, NULL, NULL, __VA_ARGS__)
#define BR_WARN(lg, ...)  br_log_write((lg), BR_LOG_WARN, NULL, NULL, __VA_ARGS__)
#define BR_INFO(lg, ...)  br_log_write((lg), BR_LOG_INFO, NULL, NULL, __VA_ARGS__)
#define BR_DEBUG(lg, ...) br_log_write((lg), BR_LOG_DEBUG, NULL, NULL, __VA_ARGS__)

#endif /* BR_LOG_H */
