/* SPDX-License-Identifier: Apache-2.0 */
/* Internals of the client side of the Bootstrap interface: bootstrap.c (the state machine:
 * Bootstrap-Request, Finish wait, retry, fallback, trigger), bs_ops.c (the bootstrap server's
 * operations: Write, Delete, Discover, Read, Finish) and bs_state.c (the Security and Server
 * instances it writes, the servers made from them, and their file). Not a public header. */
#ifndef LWM2M_BS_INTERNAL_H
#define LWM2M_BS_INTERNAL_H

#include "engine_internal.h"
#include "lwm2m/format.h"

#define LWM2M_BS_SERVERS_MAX 16 /* servers of one endpoint, configured or bootstrapped */

/* ---- bs_state.c: the bootstrap data (objects 0 and 1) --------------------------------------- */

/* One resource or resource instance value of /0 or /1 as the bootstrap server wrote it. The
 * bytes of a String/Opaque/Corelnk value are owned by the set (malloc'd). */
struct lwm2m_bs_rec {
    struct lwm2m_path path; /* depth 3 or 4 */
    struct lwm2m_value v;
};

/* The records, sorted by path and unique. Zero-initialised is empty. */
struct lwm2m_bs_data {
    struct lwm2m_bs_rec *v;
    size_t n, cap;
};

void lwm2m_bs_data_free(struct lwm2m_bs_data *d);
/* Sets r->path to r->value (bytes copied), replacing a record there. 0 or LWM2M_ERR_NOMEM. */
int lwm2m_bs_data_put(struct lwm2m_bs_data *d, const struct lwm2m_record *r);
/* Deletes every record at or below p; with keep_bs, not those of a Security instance whose
 * resource 1 (Bootstrap-Server) is true (TS Core §5.2.7.5: Delete "/" and "/0" keep it). */
void lwm2m_bs_data_erase(struct lwm2m_bs_data *d, const struct lwm2m_path *p, bool keep_bs);
/* The value at p, or NULL (borrowed until the set changes). */
const struct lwm2m_value *lwm2m_bs_data_get(const struct lwm2m_bs_data *d, struct lwm2m_path p);
/* Distinct instance ids of object oid, ascending, through fn (a non-zero result stops). */
int lwm2m_bs_data_instances(const struct lwm2m_bs_data *d, uint16_t oid, lwm2m_id_fn fn, void *ctx);
/* True when /0/iid is the Bootstrap-Server account (its resource 1 is true). */
bool lwm2m_bs_data_is_bs(const struct lwm2m_bs_data *d, uint16_t iid);

/* One server made from a Security + Server instance pair: cfg points into the buffers beside it
 * (do not copy the struct and use the copy's cfg after the original is gone) and, in
 * certificate mode, into the records of the set it was made from (its DER certificates and
 * key: valid until that set changes). */
struct lwm2m_bs_server {
    struct lwm2m_server_cfg cfg;
    uint16_t sec_iid; /* the Security instance it came from, for reasons ("/0/1: ...") */
    char uri[256];
    char identity[129]; /* /0/x/3 as a string: the PSK identity */
    uint8_t psk[64];    /* /0/x/5 */
    char binding[LWM2M_BINDING_MAX];
};

/* The servers of d (TS Core §6.1.7 consistency): every Security instance that is not the
 * bootstrap account needs a URI, a Short Server ID, a Server instance with that ID, and a
 * mode that goes with the URI (NoSec with coap://; with coaps:// PSK with an identity and a key
 * of 1..64 bytes, or Certificate with a certificate, a private key and the server's certificate
 * (/0/x/3, 5, 4) and a Certificate Usage (/0/x/15, default 3) and Matching Type (/0/x/13,
 * default 0) of 0..3); Server instances without a Security instance are ignored. Whether the
 * certificates and key parse and belong together is lwm2m_bs_servers_check()'s. version: the
 * highest LwM2M 1.x to offer them. Returns the count (>= 1), or LWM2M_ERR_INVALID or
 * LWM2M_ERR_UNSUPPORTED (RPK, EST modes) with a one-line reason in diag ("/0/1: coaps:// URI
 * with NoSec mode"). Pure: no I/O, no OpenSSL. */
int lwm2m_bs_servers(const struct lwm2m_bs_data *d, uint8_t version, struct lwm2m_bs_server *out,
                     size_t max, char *diag, size_t cap);
/* The credentials of the secure servers of s[0..n) loaded into OpenSSL as their endpoint will
 * (lwm2m_server_cfg_check_security): 0, or LWM2M_ERR_INVALID with the reason in diag
 * ("/0/1: private key: key values mismatch"; never key material), or LWM2M_ERR_NOMEM. */
int lwm2m_bs_servers_check(const struct lwm2m_bs_server *s, size_t n, char *diag, size_t cap);

/* The state file, format version 1, integers little-endian:
 *   "LWBS" u8 version(1) u8 flags(0) u16 reserved(0) u32 body_len u32 crc32(body) body
 * where body is the records as SenML CBOR (RFC 8428, absolute names "/0/1/3"). The header
 * catches truncation and bit rot; the body reuses a fuzzed decoder. */
#define LWM2M_BS_FILE_VERSION 1
#define LWM2M_BS_FILE_MAX     (256u * 1024u) /* beyond any sane configuration: damage */

/* Encodes d as a file image (malloc'd, caller frees). 0 or LWM2M_ERR_NOMEM. */
int lwm2m_bs_state_encode(const struct lwm2m_bs_data *d, uint8_t **out, size_t *len);
/* Decodes a file image into out (emptied first; left empty on error). Pure: no I/O. model gives
 * the resources' types. Returns 0 or LWM2M_ERR_FORMAT with the reason in err ("bad checksum"),
 * or LWM2M_ERR_NOMEM. */
int lwm2m_bs_state_decode(const struct lwm2m_model *model, const uint8_t *buf, size_t len,
                          struct lwm2m_bs_data *out, char *err, size_t cap);
/* The file of endpoint name in dir (malloc'd, caller frees), or NULL. */
char *lwm2m_bs_state_path(const char *dir, const char *name);
/* Loads path into out: 0 with out empty when there is no file; LWM2M_ERR_FORMAT when it is
 * damaged (moved aside to *.corrupt; err says why and where it went); LWM2M_ERR_IO. */
int lwm2m_bs_state_load(const struct lwm2m_model *model, const char *dir, const char *path,
                        struct lwm2m_bs_data *out, char *err, size_t cap);
/* Writes d to path atomically (file_io.h), or deletes the file when d is empty. 0 or
 * LWM2M_ERR_IO / LWM2M_ERR_NOMEM with err. */
int lwm2m_bs_state_save(const char *dir, const char *path, const struct lwm2m_bs_data *d, char *err,
                        size_t cap);
/* Moves a file that decoded but is inconsistent aside (*.corrupt). */
int lwm2m_bs_state_set_aside(const char *dir, const char *path, char *err, size_t cap);

/* ---- bootstrap.c, for bs_ops.c ------------------------------------------------------------ */

/* The bootstrap data of ep (what the bootstrap server writes into; what is in force after). */
struct lwm2m_bs_data *lwm2m_bs_data_of(struct lwm2m_endpoint *ep);
/* The LwM2M 1.x of the bootstrap server. */
uint8_t lwm2m_bs_version(const struct lwm2m_endpoint *ep);
/* The bootstrap server spoke: the Finish wait starts over. */
void lwm2m_bs_activity(struct lwm2m_endpoint *ep);
/* Finish was refused with diag (kept for the timeout's event). */
void lwm2m_bs_refused(struct lwm2m_endpoint *ep, const char *diag);
/* Finish accepted (its 2.04 sent): servers[0..n) take over. */
void lwm2m_bs_finished(struct lwm2m_endpoint *ep, const struct lwm2m_bs_server *servers, size_t n);

/* ---- bs_ops.c, for bootstrap.c ------------------------------------------------------------ */

/* Serves one request of the bootstrap server (ep bootstrapping). Always answers. */
int lwm2m_bs_ops_handle(struct lwm2m_endpoint *ep, struct coap_endpoint *cep,
                        const struct coap_incoming *in);

#endif /* LWM2M_BS_INTERNAL_H */
