/* SPDX-License-Identifier: Apache-2.0 */
/* The on-disk record codec of the store-and-forward queue (sf_store.h): the queued entry as one
 * allocation, its size in the file format, and the encoder and loader of whole file images
 * (format in sf_codec.c). Pure: no I/O, no clock. Internal to sf_store.c and its tests. */
#ifndef LWM2M_SF_CODEC_H
#define LWM2M_SF_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "sf_store.h"

#define SF_ENTRY_OVERHEAD 12u /* marker, body_len, crc */
#define SF_BODY_FIXED     6u  /* kind, token_len, nrecs */
#define SF_RECORD_MIN     10u /* depth, type, time */

/* One queued entry in one allocation: the node, its records, then their bytes. */
struct sf_node {
    TAILQ_ENTRY(sf_node) link;
    size_t disk; /* encoded size, counted against max_bytes */
    struct lwm2m_sf_entry e;
    struct lwm2m_record recs[];
};

TAILQ_HEAD(sf_queue, sf_node);

/* A zeroed node for nrecs records, with devs their Device ID pointers (a cross-device entry),
 * and nbytes of their string/opaque bytes and Device IDs (e.nrecs, e.recs and e.dev_ids set),
 * or NULL; the caller frees it. */
struct sf_node *sf_node_new(size_t nrecs, bool devs, size_t nbytes);
/* The node's writable Device ID pointers (the same array as e.dev_ids), NULL without devs. */
const char **sf_node_ids(struct sf_node *nd);
/* Where a node keeps its copies of string/opaque bytes and Device IDs: after its records and
 * Device ID pointers. */
uint8_t *sf_node_tail(struct sf_node *nd);
/* Encoded size of a record's Device ID in a cross-device entry (on top of sf_record_size). */
size_t sf_dev_id_size(const char *id);

/* True for the value types whose bytes a record points to (string, opaque, core link). */
bool sf_has_bytes(uint8_t type);
/* True when the format can hold r: depth, ids, a known type, bytes present. */
bool sf_record_ok(const struct lwm2m_record *r);
/* Encoded size of r (sf_record_ok(r) must hold). */
size_t sf_record_size(const struct lwm2m_record *r);

/* Encodes the header of (name, ssid) and the entries of q, whose encoded sizes (node->disk) sum
 * to bytes, into a malloc'd image the caller frees. Returns 0, LWM2M_ERR_NOMEM or
 * LWM2M_ERR_INVALID (the sizes do not add up: a bug, not a file error). */
int sf_encode_image(const char *name, uint16_t ssid, const struct sf_queue *q, size_t bytes,
                    uint8_t **out, size_t *len);

/* What the loader found wrong; only the first place is reported in detail. */
struct sf_report {
    size_t damaged;
    size_t first_off;
    const char *first_what;
};

/* Counts one damaged region at offset off; the first one is kept in detail. */
void sf_report_damage(struct sf_report *rep, size_t off, const char *what);

/* Takes a decoded entry (the callee owns nd). */
typedef void (*sf_admit_fn)(void *ctx, struct sf_node *nd);

/* Decodes a file image of (name, ssid), handing each good entry to admit in file order and
 * skipping damaged ones (counted in rep; a header of another endpoint or server is damage too).
 * Returns 0 or LWM2M_ERR_NOMEM (rep then holds what was found so far). */
int sf_parse_image(const uint8_t *p, size_t n, const char *name, uint16_t ssid, sf_admit_fn admit,
                   void *ctx, struct sf_report *rep);

#endif /* LWM2M_SF_CODEC_H */
