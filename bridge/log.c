/* SPDX-License-Identifier: Apache-2.0 */
/* The bridge's log lines: "2024-05-01T12:00:00.123Z info  [meter-1 urn:dev:gw:meter-1] text".
 * One fprintf per line so that lines from one process never interleave. */
#include "log.h"

#include <string.h>
#include <sys/time.h>
#include <time.h>

static const char *const names[] = {"error", "warn", "info", "debug", "trace"};

const char *br_log_level_name(int level) {
    return level >= 0 && level <= BR_LOG_TRACE ? names[level] : "?";
}

void br_log_write(const struct br_log *lg, int level, const char *device, const char *endpoint,
                  const char *fmt, ...) {
    if (lg == NULL || level > lg->level)
        return;
    char msg[768], ts[32], who[320] = "";
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    if (device != NULL || endpoint != NULL)
        snprintf(who, sizeof(who), "[%s%s%s] ", device ? device : "", device && endpoint ? " " : "",
                 endpoint ? endpoint : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(lg->out ? lg->out : stderr, "%s.%03dZ %-5s %s%s\n", ts, (int)(tv.tv_usec / 1000),
            br_log_level_name(level), who, msg);
    fflush(lg->out ? lg->out : stderr);
}
