/* SPDX-License-Identifier: Apache-2.0 */
/* Internals shared by the Device Management & Service Enablement files: dm.c (dispatch, replies,
 * asynchronous completions), dm_source.c (where values come from: the provider, or server_obj.c
 * for /1), dm_read.c, dm_discover.c, dm_write.c, dm_attr.c. Not a public header. */
#ifndef LWM2M_DM_INTERNAL_H
#define LWM2M_DM_INTERNAL_H

#include "engine_internal.h"
#include "lwm2m/format.h"

/* Objects no LwM2M Server may touch through this interface: Security (0) and OSCORE (21).
 * TS Core 1.1.1 §6.3: "The LwM2M Client MUST reject with an '4.01 Unauthorized' response code
 * any LwM2M Server operation on the Security Object (ID: 0)" (and likewise on OSCORE, 21). */
#define LWM2M_OID_SECURITY 0
#define LWM2M_OID_SERVER   1
#define LWM2M_OID_DEVICE   3
#define LWM2M_OID_OSCORE   21

static inline bool lwm2m_dm_oid_protected(uint16_t oid) {
    return oid == LWM2M_OID_SECURITY || oid == LWM2M_OID_OSCORE;
}

/* Largest response body we build (the CoAP layer sends it block-wise) and the first try. */
#define LWM2M_DM_BODY_MAX   65536
#define LWM2M_DM_BODY_STACK 1024
/* Most records one Write/Create/Write-Composite payload may carry (4.13 beyond). */
#define LWM2M_DM_RECORDS_MAX 1024
/* Most paths one Read-Composite may name (4.13 beyond). */
#define LWM2M_DM_PATHS_MAX 128

/* One request being served. Everything is borrowed for the handler call; cep/in are NULL when
 * the read machinery runs for observe.c (lwm2m_dm_read_encode). */
struct lwm2m_dm_req {
    struct lwm2m_endpoint *ep;
    struct lwm2m_server *srv; /* the requesting server */
    const struct lwm2m_model *model;
    struct coap_endpoint *cep;
    const struct coap_incoming *in;
    struct lwm2m_path path; /* Uri-Path as an LwM2M path */
    uint8_t op;             /* enum lwm2m_dm_op */
    bool has_cf, has_accept;
    uint32_t cf, accept; /* raw option values (legacy numbers not yet normalized) */
};

/* ---- dm.c ---- */

/* Answers the request: code, and a payload with its Content-Format when ct >= 0. */
int lwm2m_dm_reply(struct lwm2m_dm_req *r, uint8_t code, int ct, const void *payload, size_t len);
/* Answers with the code lwm2m_err_to_coap() gives for err in r->op. */
int lwm2m_dm_reply_err(struct lwm2m_dm_req *r, int err);

/* Asynchronous completion: a done handle for the provider calls of one request. Returns NULL on
 * allocation failure. Each provider call that returns LWM2M_ERR_AGAIN must be followed by
 * lwm2m_dm_done_owed(d); a synchronous failure by lwm2m_dm_done_fail(d, err). Then
 * lwm2m_dm_done_finish() answers at once (nothing owed) or defers the CoAP answer until the
 * provider has called lwm2m_done() for every owed call. */
struct lwm2m_done *lwm2m_dm_done_new(struct lwm2m_dm_req *r);
void lwm2m_dm_done_owed(struct lwm2m_done *d);
void lwm2m_dm_done_fail(struct lwm2m_done *d, int err);
int lwm2m_dm_done_finish(struct lwm2m_done *d, struct lwm2m_dm_req *r);

/* The endpoint's DM store (ep->attrs), allocated on first use; NULL when out of memory. */
struct lwm2m_attr_entry *lwm2m_dm_store(struct lwm2m_endpoint *ep);

/* ---- dm_source.c: the data as one tree, /1 from server_obj.c, the rest from the provider ---- */

/* Ids through fn, ascending; fn's non-zero result stops the walk and is returned. */
int lwm2m_src_objects(const struct lwm2m_dm_req *r, lwm2m_id_fn fn, void *ctx);
int lwm2m_src_instances(const struct lwm2m_dm_req *r, uint16_t oid, lwm2m_id_fn fn, void *ctx);
int lwm2m_src_resources(const struct lwm2m_dm_req *r, uint16_t oid, uint16_t iid, lwm2m_id_fn fn,
                        void *ctx);
int lwm2m_src_res_instances(const struct lwm2m_dm_req *r, const struct lwm2m_path *p,
                            lwm2m_id_fn fn, void *ctx);
/* One value (depth 3 single resource, or 4). LWM2M_ERR_AGAIN when stale. */
int lwm2m_src_read(const struct lwm2m_dm_req *r, const struct lwm2m_path *p,
                   struct lwm2m_value *out);
/* Whether the object is exposed / the instance, resource or resource instance exists. */
bool lwm2m_src_has(const struct lwm2m_dm_req *r, const struct lwm2m_path *p);
/* The target checks every operation starts with: the model knows the path, and the object,
 * instance and resource (depth >= 3) exist on this endpoint. 0 or LWM2M_ERR_NOTFOUND. */
int lwm2m_src_check(const struct lwm2m_dm_req *r, const struct lwm2m_path *p);
/* Number of instances of the multiple resource p (the Discover "dim"). */
size_t lwm2m_src_count_res_instances(const struct lwm2m_dm_req *r, const struct lwm2m_path *p);
/* Declared type of p for the decoders (ctx is the model). */
enum lwm2m_type lwm2m_src_type_of(void *ctx, const struct lwm2m_path *p);

/* ---- server_obj.c: the Server object (1) from struct lwm2m_server ---- */

int lwm2m_srvobj_instances(struct lwm2m_endpoint *ep, lwm2m_id_fn fn, void *ctx);
int lwm2m_srvobj_resources(struct lwm2m_endpoint *ep, uint16_t iid, lwm2m_id_fn fn, void *ctx);
int lwm2m_srvobj_read(struct lwm2m_endpoint *ep, const struct lwm2m_path *p,
                      struct lwm2m_value *out);
/* Checks every record, then applies them all (all or nothing). Records are type-checked
 * against the model already. Returns 0, LWM2M_ERR_NOTFOUND, LWM2M_ERR_INVALID. */
int lwm2m_srvobj_write(struct lwm2m_endpoint *ep, const struct lwm2m_record *recs, size_t n);
/* Sends an Update to each server whose lifetime or binding was changed by a write (called
 * after the write's answer went out, so the server sees 2.04 before the Update). */
void lwm2m_srvobj_commit(struct lwm2m_endpoint *ep);
/* Execute on /1/x/r: check (apply false) or perform (apply true, after the 2.04 went out). */
int lwm2m_srvobj_execute(struct lwm2m_endpoint *ep, const struct lwm2m_path *p, bool apply);

/* ---- dm_read.c, dm_discover.c, dm_write.c, dm_attr.c: the operations ---- */

int lwm2m_dm_read(struct lwm2m_dm_req *r);
int lwm2m_dm_read_composite(struct lwm2m_dm_req *r);
int lwm2m_dm_discover(struct lwm2m_dm_req *r);
int lwm2m_dm_write(struct lwm2m_dm_req *r, bool replace);
int lwm2m_dm_write_composite(struct lwm2m_dm_req *r);
int lwm2m_dm_execute(struct lwm2m_dm_req *r);
int lwm2m_dm_create(struct lwm2m_dm_req *r);
int lwm2m_dm_delete(struct lwm2m_dm_req *r);
int lwm2m_dm_write_attributes(struct lwm2m_dm_req *r);

/* Checks Execute arguments against the TS Core grammar (1.1.1 §6.3.5 / 1.0.2 §5.4.4):
 * arglist = arg *("," arg); arg = DIGIT ["=" "'" *CHAR "'"];
 * CHAR = %x21 / %x23-26 / %x28-5B / %x5D-7E. An empty list is valid. */
bool lwm2m_dm_exec_args_valid(const uint8_t *p, size_t n);

/* ---- dm_attr.c: the Write-Attributes store ---- */

/* One attribute set written by one server at one path. */
struct lwm2m_dm_attr {
    uint16_t ssid;
    struct lwm2m_path path;
    struct lwm2m_attrs a;
};

/* The DM store hung on ep->attrs (the engine_internal.h name predates the completions list):
 * attribute sets sorted by (ssid, path), and the completion handles a provider still holds, so
 * that lwm2m_dm_free() can detach them. ep->nattrs mirrors n. */
struct lwm2m_attr_entry {
    struct lwm2m_dm_attr *v;
    size_t n, cap;
    struct lwm2m_done *pending;
};

/* The attributes attached exactly at p for server ssid, or NULL. */
const struct lwm2m_attrs *lwm2m_attr_get(const struct lwm2m_endpoint *ep, uint16_t ssid,
                                         const struct lwm2m_path *p);
/* Appends ";pmin=10;gt=2.5..." for a (discover) link. */
int lwm2m_attr_link(struct lwm2m_link_writer *w, const struct lwm2m_attrs *a);
/* Forgets every attribute set at or below p (an instance was deleted). */
void lwm2m_attr_drop(struct lwm2m_endpoint *ep, const struct lwm2m_path *p);
/* Merges b into a (b's values win). */
void lwm2m_attr_merge(struct lwm2m_attrs *a, const struct lwm2m_attrs *b);
/* Frees the attribute entries. */
void lwm2m_attr_free_all(struct lwm2m_attr_entry *st);

#endif /* LWM2M_DM_INTERNAL_H */
