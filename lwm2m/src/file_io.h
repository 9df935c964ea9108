/* SPDX-License-Identifier: Apache-2.0 */
/* State files of the engine in state_dir (store-and-forward queues, bootstrapped configuration):
 * the atomic rewrite of one file (temp file, fsync, rename, fsync of the directory) and of a batch
 * of files with one durability barrier, whole-file reads with a size bound, setting a damaged
 * file aside, file names made from endpoint names, and the CRC-32 both file formats use. Internal
 * to the engine; loop thread only (the calls block briefly). */
#ifndef LWM2M_FILE_IO_H
#define LWM2M_FILE_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* File operations, replaceable so tests can inject failures and count calls; NULL where one is
 * taken means the POSIX calls. Each returns like the call it replaces (-1 and errno on failure);
 * ctx is passed back unchanged. syncfs and fdatasync (used by lwm2m_file_write_batch only) may
 * be NULL: the system's calls then. */
struct lwm2m_file_io {
    ssize_t (*write)(void *ctx, int fd, const void *buf, size_t len);
    int (*fsync)(void *ctx, int fd);
    int (*rename)(void *ctx, const char *from, const char *to);
    void *ctx;
    int (*syncfs)(void *ctx, int fd); /* Linux syncfs(2): the file system holding fd */
    int (*fdatasync)(void *ctx, int fd);
};

/* The POSIX operations. */
extern const struct lwm2m_file_io lwm2m_file_posix_io;

/* CRC-32 (IEEE 802.3, as zlib's crc32()). */
uint32_t lwm2m_crc32(const uint8_t *p, size_t n);

/* Replaces path (in directory dir) with img[0..n) so that a crash leaves either the old file or
 * the new one: "<path>.tmp" is written and fsynced, renamed over path, and dir fsynced. On failure
 * the temp file is removed, the old file is untouched and err (may be NULL) says
 * "<file>: <step>: <errno text>". Returns 0 or LWM2M_ERR_IO. io NULL = POSIX. */
int lwm2m_file_write_atomic(const struct lwm2m_file_io *io, const char *dir, const char *path,
                            const uint8_t *img, size_t n, char *err, size_t cap);

/* One file of a batch (lwm2m_file_write_batch): path is replaced by img[0..n), or deleted when
 * img is NULL. rc is the result for this file: 0 or LWM2M_ERR_IO. */
struct lwm2m_file_op {
    const char *path; /* borrowed; in the batch's directory */
    const uint8_t *img;
    size_t n;
    int rc;
};

/* lwm2m_file_write_atomic for many files of one directory with one durability barrier instead
 * of two fsyncs per file: every "<path>.tmp" is written (no fsync), the file system of dir is
 * synced once with syncfs (when that fails, each temp file is fdatasync'd instead), each temp
 * file is renamed over its path (deletions are unlinked) and dir is fsynced once. Each file keeps
 * the single-file guarantee (the old file or the new one, never a mix) and a failure is its own
 * only: its rc is set, its temp file removed and its old file untouched, the others go on. A
 * failed directory fsync fails every op that renamed or deleted (their change may not survive a
 * crash). Returns how many ops failed; err (may be NULL) gets the first failure as
 * "<file>: <step>: <errno text>". io NULL = POSIX. */
size_t lwm2m_file_write_batch(const struct lwm2m_file_io *io, const char *dir,
                              struct lwm2m_file_op *ops, size_t n, char *err, size_t cap);

/* Deletes path (and makes that durable by fsyncing dir). No file is not an error. Returns 0 or
 * LWM2M_ERR_IO. */
int lwm2m_file_remove(const struct lwm2m_file_io *io, const char *dir, const char *path, char *err,
                      size_t cap);

/* Reads the whole file into *buf (malloc'd, caller frees; NULL and 0 when there is no file). A
 * file larger than max is not read: *too_big is set (the caller treats it as damage). Returns 0,
 * LWM2M_ERR_IO or LWM2M_ERR_NOMEM. */
int lwm2m_file_read(const char *path, size_t max, uint8_t **buf, size_t *len, bool *too_big,
                    char *err, size_t cap);

/* Renames a damaged file to "<path>.corrupt" (or "<path>.N.corrupt" when taken) so that nothing
 * is deleted; the chosen name goes to aside. Returns 0 or LWM2M_ERR_IO. */
int lwm2m_file_set_aside(const struct lwm2m_file_io *io, const char *dir, const char *path,
                         char *aside, size_t asz, char *err, size_t cap);

/* "<escaped name><suffix>": every byte of name outside [A-Za-z0-9_-] as %XX, a long name cut and
 * followed by '~' and a hash of the whole name, so that distinct names give distinct files.
 * Returns the length or LWM2M_ERR_NOSPACE; 256 bytes suffice for a suffix of up to 24. */
int lwm2m_file_name(const char *name, const char *suffix, char *out, size_t cap);

/* malloc'd "<dir>/<lwm2m_file_name(name, suffix)>", or NULL. */
char *lwm2m_file_path(const char *dir, const char *name, const char *suffix);

#endif /* LWM2M_FILE_IO_H */
