/* SPDX-License-Identifier: Apache-2.0 */
/* Internals of Information Reporting: the pure notification-attribute logic (observe_attr.c),
 * the observation store and its hooks for dm.c, registration.c and engine.c (observe.c), the
 * path list of an Observe-Composite (observe_list.c), and Send and store-and-forward (send.c).
 * Not a public header. */
#ifndef LWM2M_OBSERVE_INTERNAL_H
#define LWM2M_OBSERVE_INTERNAL_H

#include "dm_internal.h"
#include "lwm2m/report.h"

/* Something of ours (a notification, a Send) went to s: in queue mode the endpoint keeps
 * listening for the idle time after it, as after any exchange. */
static inline void lwm2m_report_sent(struct lwm2m_server *s) {
    s->activity_ms = coap_clock_mono_ms(s->ep->eng->env.clock);
}

/* ---- observe_attr.c: when to evaluate, when to notify (no I/O, no clock) ------------------- */

/* The evaluation state of one observation; times are monotonic ms. */
struct lwm2m_obs_eval {
    uint64_t last_notify_ms; /* the last notification, or the first response */
    uint64_t last_eval_ms;   /* the last evaluation of the change conditions */
    double notified;         /* the value last notified (st) */
    double prev;             /* the value at the last evaluation (gt/lt crossing, edge) */
    bool dirty;              /* a change was marked and not evaluated yet (waiting for epmin) */
    bool pending;            /* a condition held: a notification waits for pmin */
    bool has_num;            /* the target is one numeric or boolean value: gt/lt/st/edge apply */
};

/* Starts the state after the first response at now (value v when has_num). */
void lwm2m_obs_attr_start(struct lwm2m_obs_eval *st, bool has_num, double v, uint64_t now);

/* True when a marked change may be evaluated at now: epmin since the last evaluation has
 * passed (TS Core 1.1.1 §5.1.1 "Minimum Evaluation Period"); or epmax forces a re-evaluation
 * without a mark ("Maximum Evaluation Period"). */
bool lwm2m_obs_attr_eval_due(const struct lwm2m_attrs *a, const struct lwm2m_obs_eval *st,
                             uint64_t now);

/* The change condition for the current value cur (ignored without has_num): a crossing of gt or
 * lt since the last evaluation (either direction), a move of at least st from the last notified
 * value, the edge (1.2) from the last evaluated value; without any of those, any change. */
bool lwm2m_obs_attr_condition(const struct lwm2m_attrs *a, const struct lwm2m_obs_eval *st,
                              double cur);

/* Records an evaluation at now: the condition result latches "pending" (the notification is
 * owed even if the value moves back before pmin), prev becomes cur. */
void lwm2m_obs_attr_evaluated(struct lwm2m_obs_eval *st, bool cond, double cur, uint64_t now);

/* True when a notification must leave at now: a pending one once pmin has passed since the
 * last, or pmax has passed (with or without a change). */
bool lwm2m_obs_attr_notify_due(const struct lwm2m_attrs *a, const struct lwm2m_obs_eval *st,
                               uint64_t now);

/* Records a notification of value cur sent at now. */
void lwm2m_obs_attr_notified(struct lwm2m_obs_eval *st, double cur, uint64_t now);

/* The next time something is due (pending at pmin, pmax, a deferred change at epmin, epmax),
 * or 0 when nothing is: then the observation needs no timer. */
uint64_t lwm2m_obs_attr_next(const struct lwm2m_attrs *a, const struct lwm2m_obs_eval *st);

/* pmax/epmax in force: set, non-zero and not below pmin/epmin (§5.1.1: otherwise ignored). */
bool lwm2m_obs_attr_pmax(const struct lwm2m_attrs *a, uint64_t *ms);
bool lwm2m_obs_attr_epmax(const struct lwm2m_attrs *a, uint64_t *ms);

/* ---- observe.c ------------------------------------------------------------------------------ */

/* dm.c: a GET (Read) or FETCH (Read-Composite) carrying an Observe option. Observe 0 creates or
 * replaces the observation and answers with the current value and the Observe option; 1
 * cancels and answers as a plain read; other values are a plain read. */
int lwm2m_obs_request(struct lwm2m_dm_req *r, uint32_t observe);

/* registration.c: a Register succeeded (the server forgot earlier observations), an Update
 * succeeded (the server hears us again: deliver what waited), or the registration ended. */
enum lwm2m_obs_reg { LWM2M_OBS_REG_NEW = 1, LWM2M_OBS_REG_UPDATED, LWM2M_OBS_REG_ENDED };
void lwm2m_obs_reg_event(struct lwm2m_server *s, enum lwm2m_obs_reg what);

/* engine.c: frees the endpoint's observations and reporting state (no messages). */
void lwm2m_obs_free(struct lwm2m_endpoint *ep);

/* One pass over ep's observations at the clock's now: evaluate marks, send what is due, arm the
 * endpoint's timer at the earliest deadline. The deferred event runs it; unit tests call it. */
void lwm2m_obs_run(struct lwm2m_endpoint *ep);

/* The endpoint's reporting state, made on first use (NULL when out of memory). */
struct lwm2m_obs_ep *lwm2m_obs_ep(struct lwm2m_endpoint *ep);

/* Values under paths[0..n) read for server s as records (composite notifications, Send).
 * Paths that do not exist or cannot be read are left out. Strings in the records borrow from
 * buffers the set owns until lwm2m_recset_free(). */
struct lwm2m_recset {
    struct lwm2m_record *recs;
    const char **pfx; /* [n]: the gateway device prefix of recs[i] ("/dev1", NULL: none) */
    size_t n, cap;
    uint8_t **bufs;
    size_t nbufs;
    const char *cur; /* while reading: the prefix of the records being added */
};
int lwm2m_recset_read(struct lwm2m_endpoint *ep, struct lwm2m_server *s,
                      const struct lwm2m_path *paths, size_t n, struct lwm2m_recset *out);
/* Gateway mode, one list across devices: paths[i] is read through devs[i]'s view (NULL: host
 * itself) and its records carry that device's prefix in pfx. */
int lwm2m_recset_read_gw(struct lwm2m_endpoint *host, struct lwm2m_server *s,
                         const struct lwm2m_path *paths, struct lwm2m_gwdev *const *devs, size_t n,
                         struct lwm2m_recset *out);
void lwm2m_recset_free(struct lwm2m_recset *rs);
/* Encodes rs under req in ct with each record's own prefix; *body malloc'ed. */
int lwm2m_recset_encode_set(const struct lwm2m_path *req, const struct lwm2m_recset *rs,
                            unsigned ct, uint8_t **body, size_t *len);
/* Encodes records under req (the root: absolute names) in ct; *body malloc'ed. */
int lwm2m_recset_encode(const struct lwm2m_path *req, const struct lwm2m_record *recs, size_t n,
                        unsigned ct, uint8_t **body, size_t *len);
/* Same with a gateway device prefix ("/dev1", NULL for none) in front of every name. */
int lwm2m_recset_encode_prefix(const struct lwm2m_path *req, const char *prefix,
                               const struct lwm2m_record *recs, size_t n, unsigned ct,
                               uint8_t **body, size_t *len);
/* Same with recs[i] under pfx[i] (NULL: none) when pfx is given, else all under prefix. */
int lwm2m_recset_encode_each(const struct lwm2m_path *req, const char *prefix,
                             const char *const *pfx, const struct lwm2m_record *recs, size_t n,
                             unsigned ct, uint8_t **body, size_t *len);

/* ---- observe_list.c ------------------------------------------------------------------------- */

/* The path list of an Observe-Composite: paths[n], and devs[n] (NULL unless the list spans
 * several gateway devices). Both malloc'ed; the observation takes them, else lwm2m_obs_list_free().
 */
struct lwm2m_obs_list {
    struct lwm2m_path *paths;
    struct lwm2m_gwdev **devs;
    size_t n;
};
void lwm2m_obs_list_free(struct lwm2m_obs_list *l);
/* Observe-Composite (Transport 1.1.1 §6.4.3): checks r's formats and decodes its path list into
 * l and the answer format into *ct. Gateway mode: r->ep becomes the device view the paths name,
 * or the host when they span devices (l->devs set). Returns 0 or an error for the reply (l
 * freed). */
int lwm2m_obs_composite_setup(struct lwm2m_dm_req *r, struct lwm2m_obs_list *l, int *ct);

/* ---- observe.c: store-and-forward ----------------------------------------------------------- */

/* Store-and-forward delivery of a kept notification: recs encoded in the format of the
 * observation of server s with that token, sent CON with cb; names under ep's prefix or, when
 * pfx is given (a cross-device entry on the host), recs[i] under pfx[i] (NULL: none). recs and
 * pfx are borrowed for the call. Returns 0, LWM2M_ERR_NOTFOUND (no such observation any more)
 * or the CoAP layer's error. */
int lwm2m_obs_deliver(struct lwm2m_endpoint *ep, struct lwm2m_server *s, const uint8_t *token,
                      size_t token_len, const struct lwm2m_record *recs, const char *const *pfx,
                      size_t n, coap_done_fn cb, void *ctx, uint32_t *id);
/* Ends the observation of s with that token, if any (the server answered RST). */
void lwm2m_obs_forget(struct lwm2m_endpoint *ep, struct lwm2m_server *s, const uint8_t *token,
                      size_t token_len);
/* Gateway mode: dev is being removed from host; the host's Observe-Composites across devices
 * drop its paths (one left with none ends with 4.04). */
void lwm2m_obs_gwdev_gone(struct lwm2m_endpoint *host, struct lwm2m_gwdev *dev);
/* Asks for a pass of ep in this loop iteration. */
void lwm2m_obs_kick(struct lwm2m_endpoint *ep);

/* ---- send.c --------------------------------------------------------------------------------- */

/* The Send part of the endpoint's reporting state. */
struct lwm2m_send_state {
    struct lwm2m_path *paths; /* automatic Send: what, and when */
    size_t npaths;
    bool on_change, dirty;
    uint32_t period_s;
    uint64_t next_ms; /* the next periodic Send, 0 = none */
    uint16_t ct;
};

/* From the pass: a change marked on p (sets dirty when p touches the Send paths). */
void lwm2m_send_mark(struct lwm2m_send_state *ss, const struct lwm2m_path *p);
/* From the pass: sends what is due at now; returns the next deadline (0 = none). */
uint64_t lwm2m_send_run(struct lwm2m_endpoint *ep, struct lwm2m_send_state *ss, uint64_t now);
void lwm2m_send_free(struct lwm2m_send_state *ss);

/* The reporting state of one endpoint (ep->obs). */
struct lwm2m_obs_ep {
    struct lwm2m_obs *head; /* observations (observe.c) */
    size_t n;
    struct event *ev; /* the deferred pass, and the timer at the earliest deadline */
    bool active;      /* event_active() called and the pass not run yet */
    bool notify_con;
    uint16_t con_every;
    struct lwm2m_send_state send;
    struct lwm2m_keep_srv *keep; /* [ep->nservers] store-and-forward queues, or NULL */
};

/* ---- send.c: store-and-forward over sf_store.h ---------------------------------------------- */

struct lwm2m_keep_srv;

/* Opens the queues of ep's servers with Notification Storing (loading what a previous run
 * kept). Returns 0, LWM2M_ERR_IO or LWM2M_ERR_NOMEM. */
int lwm2m_keep_setup(struct lwm2m_endpoint *ep, const struct lwm2m_report_cfg *cfg);
/* True when what is due for s goes through its queue. */
bool lwm2m_keep_active(const struct lwm2m_endpoint *ep, const struct lwm2m_server *s);
/* The observation a kept notification belongs to: its token (borrowed for the call), and how
 * many of its entries the queue keeps (its hqmax; 0: no bound of its own). */
struct lwm2m_keep_tag {
    const uint8_t *token;
    size_t token_len;
    uint32_t max_same;
};
/* Reads paths[0..n) for s (stamped now) and queues them as one entry: a notification of tag's
 * observation, or a Send when tag is NULL. An entry being delivered that the bounds drop is
 * given up (its exchange cancelled). Returns 0, LWM2M_ERR_NOTFOUND (nothing readable) or
 * another error. */
int lwm2m_keep_push(struct lwm2m_endpoint *ep, struct lwm2m_server *s,
                    const struct lwm2m_keep_tag *tag, const struct lwm2m_path *paths, size_t n);
/* Gateway mode, an Observe-Composite across devices: reads paths[i] through devs[i]'s view
 * (NULL: host itself) as lwm2m_recset_read_gw does and queues the records as one cross-device
 * notification in host's queue, each record with its device's Device ID. At delivery the IDs
 * are mapped to the prefixes the devices have then; records of devices gone are left out.
 * Returns like lwm2m_keep_push. */
int lwm2m_keep_push_gw(struct lwm2m_endpoint *host, struct lwm2m_server *s,
                       const struct lwm2m_keep_tag *tag, const struct lwm2m_path *paths,
                       struct lwm2m_gwdev *const *devs, size_t n);
/* From the pass: delivers queue heads, syncs dirty queues; returns the next deadline or 0. */
uint64_t lwm2m_keep_run(struct lwm2m_endpoint *ep, uint64_t now);
/* The server answered a Register/Update: a delivery waiting after a timeout may go now. */
void lwm2m_keep_reachable(struct lwm2m_endpoint *ep, struct lwm2m_server *s);
/* Closes the queues (synced, kept on disk for the next run). */
void lwm2m_keep_free(struct lwm2m_endpoint *ep);

#endif /* LWM2M_OBSERVE_INTERNAL_H */
