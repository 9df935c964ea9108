/* SPDX-License-Identifier: Apache-2.0 */
/* What the benchmarks measure with and set up alike: the monotonic clock, CPU time, resident
 * memory, the file descriptor limit and a device's few resources. Header-only (static inline):
 * each benchmark is a single executable. */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "lwm2m/memstore.h"

/* Seconds on the monotonic clock. */
static inline double bench_now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* User + system CPU seconds of this process so far. */
static inline double bench_cpu_self_s(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* Resident memory of process pid in KiB, from /proc/PID/statm; 0 when unreadable. */
static inline long bench_rss_kib(pid_t pid) {
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
    FILE *f = fopen(path, "r");
    long pages = 0, resident = 0;
    if (f != NULL) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* secs as a struct timeval, for libevent timeouts. */
static inline struct timeval bench_timeval(double secs) {
    return (struct timeval){(time_t)secs, (suseconds_t)((secs - (double)(time_t)secs) * 1e6)};
}

/* Raises the open file limit to the hard limit: each endpoint holds a socket. */
static inline void bench_raise_nofile(void) {
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
}

/* Into ms: device i's Serial Number /3/0/2 ("SN-00000i") and a temperature /3303/0/5700. */
static inline void bench_fill_device(struct lwm2m_memstore *ms, size_t i) {
    char serial[24];
    snprintf(serial, sizeof(serial), "SN-%06zu", i);
    struct lwm2m_path p = lwm2m_path_make(3, 3, 0, 2, 0);
    struct lwm2m_value v = lwm2m_value_string(serial, strlen(serial));
    lwm2m_memstore_set(ms, &p, &v);
    p = lwm2m_path_make(3, 3303, 0, 5700, 0);
    v = lwm2m_value_float(21.5);
    lwm2m_memstore_set(ms, &p, &v);
}

#endif /* BENCH_UTIL_H */
