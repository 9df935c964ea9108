/* SPDX-License-Identifier: Apache-2.0 */
/* State files in state_dir (file_io.h): the atomic rewrite shared by the store-and-forward queue
 * (sf_store.c) and the bootstrapped configuration (bs_state.c), its batched form for the
 * store-and-forward flush (one syncfs for many files), bounded reads, setting damaged files
 * aside, names derived from endpoint names, CRC-32. */
#include "file_io.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lwm2m/error.h"

#define NAME_KEEP 200u /* escaped name bytes kept in a file name before the hash */

static ssize_t posix_write(void *ctx, int fd, const void *buf, size_t len) {
    (void)ctx;
    return write(fd, buf, len);
}

static int posix_fsync(void *ctx, int fd) {
    (void)ctx;
    return fsync(fd);
}

static int posix_rename(void *ctx, const char *from, const char *to) {
    (void)ctx;
    return rename(from, to);
}

static int posix_syncfs(void *ctx, int fd) {
    (void)ctx;
#ifdef __linux__
    return syncfs(fd);
#else
    (void)fd;
    errno = ENOSYS; /* the batch falls back to one fdatasync per file */
    return -1;
#endif
}

static int posix_fdatasync(void *ctx, int fd) {
    (void)ctx;
    return fdatasync(fd);
}

const struct lwm2m_file_io lwm2m_file_posix_io = {.write = posix_write,
                                                  .fsync = posix_fsync,
                                                  .rename = posix_rename,
                                                  .ctx = NULL,
                                                  .syncfs = posix_syncfs,
                                                  .fdatasync = posix_fdatasync};

static const struct lwm2m_file_io *io_or_posix(const struct lwm2m_file_io *io) {
    return io != NULL ? io : &lwm2m_file_posix_io;
}

/* Formats "<file>: <step>: <errno text>" and returns LWM2M_ERR_IO; errno must still be set. */
static int io_fail(char *err, size_t cap, const char *file, const char *step) {
    if (err != NULL && cap > 0)
        snprintf(err, cap, "%s: %s: %s", file, step, strerror(errno));
    return LWM2M_ERR_IO;
}

uint32_t lwm2m_crc32(const uint8_t *p, size_t n) {
    /* A nibble at a time: 64 bytes of table, plenty fast for files written once per pass. */
    static const uint32_t T[16] = {0x00000000, 0x1DB71064, 0x3B6E20C8, 0x26D930AC,
                                   0x76DC4190, 0x6B6B51F4, 0x4DB26158, 0x5005713C,
                                   0xEDB88320, 0xF00F9344, 0xD6D6A3E8, 0xCB61B38C,
                                   0x9B64C2B0, 0x86D3D2D4, 0xA00AE278, 0xBDBDF21C};
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        crc = (crc >> 4) ^ T[crc & 15u];
        crc = (crc >> 4) ^ T[crc & 15u];
    }
    return ~crc;
}

/* The rename is only durable once the directory itself is on disk. */
static int fsync_dir(const struct lwm2m_file_io *io, const char *dir, char *err, size_t cap) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return io_fail(err, cap, dir, "open directory");
    int rc = io->fsync(io->ctx, fd) != 0 ? io_fail(err, cap, dir, "fsync directory") : 0;
    close(fd);
    return rc;
}

/* Writes img to tmp and (sync) fsyncs it; on any failure the temp file is removed. */
static int write_tmp(const struct lwm2m_file_io *io, const char *tmp, const uint8_t *img, size_t n,
                     bool sync, char *err, size_t cap) {
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return io_fail(err, cap, tmp, "create");
    const char *step = NULL;
    int e = 0;
    for (size_t off = 0; off < n && step == NULL;) {
        ssize_t w = io->write(io->ctx, fd, img + off, n - off);
        if (w > 0) {
            off += (size_t)w;
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else {
            step = "write";
            e = w == 0 ? EIO : errno;
        }
    }
    if (step == NULL && sync && io->fsync(io->ctx, fd) != 0) {
        step = "fsync";
        e = errno;
    }
    if (close(fd) != 0 && step == NULL) {
        step = "close";
        e = errno;
    }
    if (step != NULL) {
        unlink(tmp);
        errno = e;
        return io_fail(err, cap, tmp, step);
    }
    return 0;
}

int lwm2m_file_write_atomic(const struct lwm2m_file_io *io, const char *dir, const char *path,
                            const uint8_t *img, size_t n, char *err, size_t cap) {
    char tmp[PATH_MAX];
    io = io_or_posix(io);
    int w = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    if (w < 0 || (size_t)w >= sizeof(tmp)) {
        if (err != NULL && cap > 0)
            snprintf(err, cap, "%s: path too long", path);
        return LWM2M_ERR_IO;
    }
    int rc = write_tmp(io, tmp, img, n, true, err, cap);
    if (rc != 0)
        return rc;
    if (io->rename(io->ctx, tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        errno = e;
        return io_fail(err, cap, path, "rename");
    }
    return fsync_dir(io, dir, err, cap);
}

/* ---- the batch ------------------------------------------------------------------------------ */

/* How far each op of a batch got. */
enum { OP_FAILED = 0, OP_WRITTEN, OP_DURABLE, OP_DONE };

static int batch_syncfs(const struct lwm2m_file_io *io, int fd) {
    return io->syncfs != NULL ? io->syncfs(io->ctx, fd) : lwm2m_file_posix_io.syncfs(NULL, fd);
}

static int batch_fdatasync(const struct lwm2m_file_io *io, int fd) {
    return io->fdatasync != NULL ? io->fdatasync(io->ctx, fd)
                                 : lwm2m_file_posix_io.fdatasync(NULL, fd);
}

/* "<op's path>.tmp" into tmp; false (errno set) when it does not fit. */
static bool tmp_name(const struct lwm2m_file_op *op, char tmp[PATH_MAX]) {
    int w = snprintf(tmp, PATH_MAX, "%s.tmp", op->path);
    if (w >= 0 && w < PATH_MAX)
        return true;
    errno = ENAMETOOLONG;
    return false;
}

/* Records the failure of op (errno still set): its rc, the batch's first message, its temp file
 * gone when tmp is given. */
static void op_fail(struct lwm2m_file_op *op, const char *tmp, const char *file, const char *step,
                    size_t *nfail, char *err, size_t cap) {
    int e = errno;
    if (tmp != NULL)
        unlink(tmp);
    errno = e;
    op->rc = io_fail(*nfail == 0 ? err : NULL, cap, file, step);
    (*nfail)++;
}

/* fdatasync of one temp file written by the batch (reopened: it was closed after writing, so
 * that a batch never holds more than one descriptor). */
static int datasync_path(const struct lwm2m_file_io *io, const char *tmp, const char **step) {
    int fd = open(tmp, O_WRONLY | O_CLOEXEC);
    *step = "reopen";
    if (fd < 0)
        return -1;
    *step = "fdatasync";
    int rc = batch_fdatasync(io, fd);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

/* The durability barrier of the temp files written: one syncfs on dir's file system (dfd); if
 * that fails (not Linux, a file system without it, a writeback error), each file on its own. */
static void batch_barrier(const struct lwm2m_file_io *io, int dfd, struct lwm2m_file_op *ops,
                          uint8_t *st, size_t n, size_t *nfail, char *err, size_t cap) {
    bool any = false;
    for (size_t i = 0; i < n && !any; i++)
        any = st[i] == OP_WRITTEN;
    bool fs = any && dfd >= 0 && batch_syncfs(io, dfd) == 0;
    for (size_t i = 0; any && i < n; i++) {
        char tmp[PATH_MAX];
        const char *step = NULL;
        if (st[i] != OP_WRITTEN)
            continue;
        st[i] = OP_DURABLE;
        if (!fs && tmp_name(&ops[i], tmp) && datasync_path(io, tmp, &step) != 0) {
            op_fail(&ops[i], tmp, tmp, step, nfail, err, cap);
            st[i] = OP_FAILED;
        }
    }
}

/* Step 1: every temp file written, none synced yet; deletions need no file. */
static void batch_write(const struct lwm2m_file_io *io, struct lwm2m_file_op *ops, uint8_t *st,
                        size_t n, size_t *nfail, char *err, size_t cap) {
    for (size_t i = 0; i < n; i++) {
        char tmp[PATH_MAX];
        ops[i].rc = 0;
        st[i] = OP_FAILED;
        if (!tmp_name(&ops[i], tmp)) {
            op_fail(&ops[i], NULL, ops[i].path, "temp name", nfail, err, cap);
        } else if (ops[i].img == NULL) {
            st[i] = OP_DURABLE;
        } else if (write_tmp(io, tmp, ops[i].img, ops[i].n, false, *nfail == 0 ? err : NULL, cap) !=
                   0) {
            ops[i].rc = LWM2M_ERR_IO;
            (*nfail)++;
        } else {
            st[i] = OP_WRITTEN;
        }
    }
}

/* Step 3: each durable temp file renamed over its path, each deletion unlinked. Returns how many
 * changed the directory. */
static size_t batch_place(const struct lwm2m_file_io *io, struct lwm2m_file_op *ops, uint8_t *st,
                          size_t n, size_t *nfail, char *err, size_t cap) {
    size_t changed = 0;
    for (size_t i = 0; i < n; i++) {
        char tmp[PATH_MAX];
        if (st[i] != OP_DURABLE || !tmp_name(&ops[i], tmp))
            continue;
        if (ops[i].img == NULL) {
            unlink(tmp); /* a crash's leftover, never renamed */
            if (unlink(ops[i].path) != 0 && errno != ENOENT) {
                op_fail(&ops[i], NULL, ops[i].path, "unlink", nfail, err, cap);
                continue;
            }
        } else if (io->rename(io->ctx, tmp, ops[i].path) != 0) {
            op_fail(&ops[i], tmp, ops[i].path, "rename", nfail, err, cap);
            continue;
        }
        st[i] = OP_DONE;
        changed++;
    }
    return changed;
}

size_t lwm2m_file_write_batch(const struct lwm2m_file_io *io, const char *dir,
                              struct lwm2m_file_op *ops, size_t n, char *err, size_t cap) {
    io = io_or_posix(io);
    size_t nfail = 0;
    uint8_t *st = malloc(n > 0 ? n : 1);
    if (st == NULL) {
        for (size_t i = 0; i < n; i++) {
            errno = ENOMEM;
            op_fail(&ops[i], NULL, ops[i].path, "batch", &nfail, err, cap);
        }
        return nfail;
    }
    batch_write(io, ops, st, n, &nfail, err, cap);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    batch_barrier(io, dfd, ops, st, n, &nfail, err, cap);
    size_t changed = batch_place(io, ops, st, n, &nfail, err, cap);
    /* Step 4: the renames made durable with one fsync of the directory. */
    if (changed > 0 && (dfd < 0 || io->fsync(io->ctx, dfd) != 0)) {
        const char *step = dfd < 0 ? "open directory" : "fsync directory";
        int e = errno;
        for (size_t i = 0; i < n; i++) {
            errno = e;
            if (st[i] == OP_DONE)
                op_fail(&ops[i], NULL, dir, step, &nfail, err, cap);
        }
    }
    if (dfd >= 0)
        close(dfd);
    free(st);
    return nfail;
}

int lwm2m_file_remove(const struct lwm2m_file_io *io, const char *dir, const char *path, char *err,
                      size_t cap) {
    if (unlink(path) != 0) {
        if (errno != ENOENT)
            return io_fail(err, cap, path, "unlink");
        return 0; /* nothing was there, nothing to make durable */
    }
    return fsync_dir(io_or_posix(io), dir, err, cap);
}

int lwm2m_file_read(const char *path, size_t max, uint8_t **buf, size_t *len, bool *too_big,
                    char *err, size_t cap) {
    *buf = NULL;
    *len = 0;
    *too_big = false;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : io_fail(err, cap, path, "open");
    struct stat st;
    int rc = fstat(fd, &st) != 0 ? io_fail(err, cap, path, "stat") : 0;
    *too_big = rc == 0 && (uint64_t)st.st_size > max;
    size_t want = rc == 0 && !*too_big ? (size_t)st.st_size : 0;
    uint8_t *p = want > 0 ? malloc(want) : NULL;
    if (want > 0 && p == NULL)
        rc = LWM2M_ERR_NOMEM;
    size_t got = 0;
    while (rc == 0 && got < want) {
        ssize_t r = read(fd, p + got, want - got);
        if (r > 0)
            got += (size_t)r;
        else if (r == 0)
            want = got; /* shrank under us: parse what is there */
        else if (errno != EINTR)
            rc = io_fail(err, cap, path, "read");
    }
    close(fd);
    if (rc != 0) {
        free(p);
        return rc;
    }
    *buf = p;
    *len = got;
    return 0;
}

int lwm2m_file_set_aside(const struct lwm2m_file_io *io, const char *dir, const char *path,
                         char *aside, size_t asz, char *err, size_t cap) {
    io = io_or_posix(io);
    for (unsigned i = 0; i < 100; i++) {
        char suffix[24];
        snprintf(suffix, sizeof(suffix), i == 0 ? ".corrupt" : ".%u.corrupt", i);
        int w = snprintf(aside, asz, "%s%s", path, suffix);
        if (w < 0 || (size_t)w >= asz)
            break;
        if (access(aside, F_OK) != 0 && errno == ENOENT) {
            if (io->rename(io->ctx, path, aside) != 0)
                return io_fail(err, cap, path, "rename aside");
            return fsync_dir(io, dir, err, cap);
        }
    }
    if (err != NULL && cap > 0)
        snprintf(err, cap, "%s: damaged, and no free name to move it aside", path);
    return LWM2M_ERR_IO;
}

static bool name_byte_plain(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

int lwm2m_file_name(const char *name, const char *suffix, char *out, size_t cap) {
    static const char hex[] = "0123456789ABCDEF";
    char esc[NAME_KEEP + 1];
    size_t n = 0;
    bool cut = false;
    for (const unsigned char *p = (const unsigned char *)name; *p != '\0' && !cut; p++) {
        bool plain = name_byte_plain(*p);
        if (n + (plain ? 1u : 3u) > NAME_KEEP) {
            cut = true;
        } else if (plain) {
            esc[n++] = (char)*p;
        } else {
            esc[n++] = '%';
            esc[n++] = hex[*p >> 4];
            esc[n++] = hex[*p & 15u];
        }
    }
    esc[n] = '\0';
    int w;
    if (cut) { /* '~' is never plain, so a cut name cannot equal a whole one */
        uint64_t h = 0xcbf29ce484222325u; /* FNV-1a 64 of the whole name */
        for (const unsigned char *p = (const unsigned char *)name; *p != '\0'; p++)
            h = (h ^ *p) * 0x100000001b3u;
        w = snprintf(out, cap, "%s~%016llx%s", esc, (unsigned long long)h, suffix);
    } else {
        w = snprintf(out, cap, "%s%s", esc, suffix);
    }
    return w < 0 || (size_t)w >= cap ? LWM2M_ERR_NOSPACE : w;
}

char *lwm2m_file_path(const char *dir, const char *name, const char *suffix) {
    char file[256];
    if (lwm2m_file_name(name, suffix, file, sizeof(file)) < 0)
        return NULL;
    size_t n = strlen(dir) + 1 + strlen(file) + 1;
    char *path = malloc(n);
    if (path != NULL)
        snprintf(path, n, "%s/%s", dir, file);
    return path;
}
