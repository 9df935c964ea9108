/* SPDX-License-Identifier: Apache-2.0 */
/* Internal declarations shared by the files of the test LwM2M server (a test peer built on
 * libcoap3, never on our own CoAP code): server state, registrations, pending requests, codecs.
 * Nothing outside tests/peers/ includes this. */
#ifndef TS_H
#define TS_H

#include <coap3/coap.h>
#include <jansson.h>

#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>

/* ---- a small chained hash map keyed by byte strings (ts_map.c) ---- */

struct ts_map_entry;

/* Keys are borrowed: each key must live as long as its entry (it points into the value). */
struct ts_map {
    struct ts_map_entry **buckets;
    size_t nbuckets;
    size_t count;
};

int ts_map_put(struct ts_map *m, const void *key, size_t klen, void *val);
void *ts_map_get(const struct ts_map *m, const void *key, size_t klen);
void *ts_map_del(struct ts_map *m, const void *key, size_t klen);
/* Calls fn on every value; fn may delete the entry it is given, and no other. */
void ts_map_foreach(struct ts_map *m, void (*fn)(void *val, void *arg), void *arg);
void ts_map_free(struct ts_map *m);

/* ---- server state ---- */

#define TS_MAX_LISTEN    4                   /* addresses */
#define TS_MAX_ENDPOINTS (2 * TS_MAX_LISTEN) /* plain and DTLS on each */
#define TS_MAX_REJECT    4
#define TS_TOKEN_LEN     8

/* One registration (the RD entry of one LwM2M client endpoint). Strings are owned. */
struct ts_reg {
    char id[12];             /* "N" of Location-Path rd/N */
    char *name;              /* endpoint client name */
    char *links;             /* last link-format payload (NUL-terminated), or NULL */
    char *sms;               /* sms= number, or NULL */
    char version[8];         /* lwm2m= */
    char binding[8];         /* b= */
    uint32_t lifetime;       /* lt= seconds */
    bool queue;              /* the Q parameter (1.1) was present; 1.0 puts Q in binding */
    int64_t last_ms;         /* monotonic time of Register or last Update */
    coap_session_t *session; /* referenced: DM requests go out on it, from our listening port;
                                NULL once its DTLS session closed or was dropped */
    json_t *ident;           /* "secure" and the DTLS identity of the last Register/Update */
};

struct ts_server;

/* Who learns the outcome of a request sent with ts_dm_send_cb: the response (why NULL), or no
 * response (response NULL, why "timeout", "reset", "session closed", ...). Called after the
 * request left the pending table, from a libcoap callback or a sweep: it must not send. */
typedef void (*ts_dm_done_fn)(struct ts_server *srv, uint64_t tag, const coap_pdu_t *response,
                              const char *why);

/* One outgoing request, or an established observation (same token). */
struct ts_pending {
    uint8_t token[TS_TOKEN_LEN];
    json_t *cmd_id; /* "id" of the command to answer, owned reference; NULL once answered */
    char *ep;       /* endpoint name, or NULL for a raw-address request */
    char *path;
    coap_session_t *session; /* referenced */
    int64_t deadline_ms;     /* 0: no deadline (an established observation) */
    bool observe;            /* request carried Observe 0 */
    bool established;        /* observation answered with an Observe option */
    bool cancel_rst;         /* answer the next notification with RST and forget the observation */
    json_t *cancel_id;       /* "id" of a pending cancel_observe (GET Observe 1), owned */
    struct ts_pending *prev, *next; /* list of all pending, for the timeout sweep */

    /* A request of the server's own (bootstrap) reports to done instead of answering cmd_id. */
    ts_dm_done_fn done;
    uint64_t done_tag;
};

/* Per-session state, the app data of a libcoap server session (created by ts_peer_of, freed with
 * the session: ts_rd.c). libcoap 4.3.1 does not deduplicate CON requests, so a retransmitted
 * Register would register twice: we keep the last request's message ID and answer. A DTLS
 * session also keeps what the handshake told us. */
struct ts_peer {
    struct ts_peer *prev, *next; /* all peers, so that exit frees what libcoap does not report */
    coap_session_t *session;
    struct ts_reg *reg;
    int last_mid; /* -1: none */
    int last_code;
    char last_loc[12];  /* rd/<id> of a replayed 2.01 */
    char *cert_cn;      /* DTLS with certificates: the client certificate's CN (owned), or NULL */
    bool dtls_reported; /* a dtls_failed/dtls_closed event was emitted for this session */
    bool dtls_rehello;  /* a new ClientHello came to this established session */
};

/* One --psk identity and its key (owned). */
struct ts_psk {
    char *identity;
    coap_bin_const_t key; /* what libcoap's validate-identity callback returns; s is malloc'ed */
};

/* One listening endpoint and its socket, found after bind (for pause and the port of port 0). */
struct ts_listen {
    int fd; /* -1: not found (pause cannot cover it) */
    int port;
    bool dtls;
    char addr[48];
};

struct ts_bs_run;

struct ts_server {
    coap_context_t *ctx;
    FILE *out;             /* the control channel's output: the process's original stdout */
    struct ts_peer *peers; /* per-session state of the resource directory (ts_rd.c) */
    struct ts_map regs_by_id;
    struct ts_map regs_by_name;
    struct ts_map pending;      /* by token */
    struct ts_map raw_sessions; /* "addr|port" -> client session for raw requests */
    struct ts_pending *pending_head;
    uint32_t next_reg_id;
    uint64_t token_seq;
    struct ts_listen listen[TS_MAX_ENDPOINTS];
    int n_listen;
    int dtls_port;      /* --dtls-port, -1: no DTLS endpoints */
    struct ts_psk *psk; /* --psk identities (owned array) */
    size_t n_psk;
    char *pki_files;      /* --pki "CERT,KEY,CA", split in place: libcoap keeps the paths */
    const char *pki_cert; /* point into pki_files */
    const char *pki_key;
    const char *pki_ca;
    char reject_version[TS_MAX_REJECT][8];
    int n_reject;
    int forced_code;      /* CoAP code for the next registers, 0 for none */
    int forced_count;     /* how many registers still get forced_code (-1: all) */
    bool location_joined; /* fault: Location-Path as ONE option "rd/<id>" (some servers do) */
    bool paused;
    bool quit;
    bool sweep_now; /* a DTLS session closed: libcoap's session sweep frees it in the next pass */
    bool dtls_rehello; /* some peer has dtls_rehello set */
    double default_timeout_s;
    unsigned session_timeout_s; /* libcoap idle server session timeout, 0: its default (300 s) */

    /* the Bootstrap-Server role (ts_bs.c) */
    json_t *bs_configs;        /* scripts by endpoint name ("*": any), owned */
    struct ts_bs_run *bs_runs; /* sequences in progress */
    uint64_t bs_next_id;
    coap_session_t **bs_spent; /* client sessions of bs_initiate runs, released once none runs */
    size_t n_bs_spent;
};

/* ---- helpers and process state (lwm2m_test_server.c) ---- */

int64_t ts_now_ms(void);
/* Writes one JSON object as one line on stdout, flushed; steals the reference. */
void ts_emit(struct ts_server *srv, json_t *obj);
/* A new event object {"event": name, "t": now}. */
json_t *ts_event_new(const char *name);
/* {"id": id, "error": msg} as a result line; id is borrowed. */
void ts_emit_error(struct ts_server *srv, json_t *id, const char *msg);
struct ts_server *ts_server_of(coap_session_t *session);
/* "2.05" style text of a CoAP code into buf (>= 5 bytes). */
const char *ts_code_str(int code, char *buf);
/* Parses "2.05" (or 205) into a CoAP code; -1 on error. */
int ts_code_parse(const char *s);
void ts_addr_json(json_t *obj, const coap_address_t *a);
/* Numeric IPv4/IPv6 host and port into a (never DNS). 0 or -1. */
int ts_parse_addr(const char *host, int port, coap_address_t *a);
/* Pause: drop every datagram in and out of the listening sockets until resumed. */
void ts_set_paused(struct ts_server *srv, bool paused);
/* Drops every outgoing datagram while on (and while paused), for sends that must not leave. */
void ts_mute(struct ts_server *srv, bool on);
/* The last warning libcoap logged while handling the current datagrams, into buf (cleared after);
 * false when there was none. */
bool ts_take_log_detail(char *buf, size_t cap);

/* ---- DTLS: credentials, handshake callbacks and events, identities (ts_dtls.c) ---- */

/* Option arguments: "IDENTITY:HEXKEY" (the identity is up to the last ':') and "CERT,KEY,CA". */
int ts_dtls_add_psk(struct ts_server *srv, const char *arg);
int ts_dtls_set_pki(struct ts_server *srv, const char *arg);
/* Gives the context the configured credentials; -1 (with a message) when they cannot be used. */
int ts_dtls_setup(struct ts_server *srv);
/* A libcoap event of a server session (called by ts_rd.c's event handler, before it frees the
 * session's peer on COAP_EVENT_SERVER_SESSION_DEL). */
void ts_dtls_event(struct ts_server *srv, coap_session_t *session, coap_event_t event);
/* Called at the start of each loop pass, outside libcoap: drops the established sessions that a
 * new ClientHello came to (the client restarted or gave up on the session). */
void ts_dtls_pass(struct ts_server *srv);
/* Adds "secure" and, for DTLS, "psk_identity" or "cert_cn" of session to obj. */
void ts_dtls_identity_json(json_t *obj, coap_session_t *session);
/* Forgets every DTLS session as a restart would: pending requests on them fail, registrations
 * lose their session (or are forgotten too), and nothing is sent unless close_notify. Returns
 * how many sessions were dropped. */
int ts_dtls_drop_sessions(struct ts_server *srv, bool close_notify, bool forget_registrations);
void ts_dtls_free(struct ts_server *srv);

/* ---- the control commands (ts_ctl.c) ---- */

/* Executes one command line; answers on stdout (at once, or when the response arrives). */
void ts_ctl_handle_line(struct ts_server *srv, const char *line, size_t len);
void ts_ctl_free(struct ts_server *srv);

/* ---- payload codecs (ts_decode.c, ts_senml.c): pure, no I/O ---- */

char *ts_hex(const uint8_t *data, size_t len);
/* Decodes hex into a new buffer (*out, caller frees); -1 on bad hex. */
int ts_unhex(const char *hex, uint8_t **out, size_t *len);
/* Adds "payload" (hex) and, where the content-format is known, "decoded" or "decode_error". */
void ts_decode_into(json_t *obj, int ct, const uint8_t *data, size_t len);
/* The decoded JSON of a payload (new reference); NULL with the reason in errbuf, or NULL with an
 * empty errbuf when ct is not a format it decodes. */
json_t *ts_decode(int ct, const uint8_t *data, size_t len, char *errbuf, size_t errlen);
json_t *ts_decode_tlv(const uint8_t *data, size_t len, char *errbuf, size_t errlen);
json_t *ts_decode_cbor(const uint8_t *data, size_t len, char *errbuf, size_t errlen);
/* SenML records (JSON array of objects, SenML JSON names) encoded as SenML CBOR (112) or JSON
 * (110); the buffer is malloc'ed (caller frees). -1 on a value it cannot encode. */
int ts_senml_encode(const json_t *records, int ct, uint8_t **out, size_t *len);
/* "/O/I/R/RI" into ids; returns how many (0 for "/"), -1 when it is not such a path. */
int ts_path_parse(const char *path, int ids[4]);
/* The Write payload of tree on path in ct 11542 (TLV), 112 or 110 (SenML): on "/O/I" tree is
 * {"RID": value}, on "/O" {"IID": {"RID": value}}. Values: string, integer, real, boolean,
 * {"hex": ..} (opaque), {"objlnk": "O:I"}, or {"RIID": value} (a multiple resource). wrap: TLV
 * on "/O/I" inside its Object Instance TLV. *out is malloc'ed (caller frees); -1 with the reason
 * in err. */
int ts_resources_encode(const json_t *tree, const char *path, int ct, bool wrap, uint8_t **out,
                        size_t *len, char *err, size_t errlen);

/* ---- resource directory (ts_rd.c) ---- */

/* The session's peer record, created on first use; NULL when out of memory. */
struct ts_peer *ts_peer_of(coap_session_t *session);
/* A retransmission (same peer, same message ID: our answer was lost) gets the answer remembered
 * by ts_peer_remember (code, and rd/<loc> as Location-Path): true when req is one. */
bool ts_peer_replayed(coap_session_t *session, const coap_pdu_t *req, coap_pdu_t *response);
void ts_peer_remember(coap_session_t *session, const coap_pdu_t *req, const coap_pdu_t *response,
                      const char *loc);
int ts_rd_init(struct ts_server *srv);
void ts_rd_sweep(struct ts_server *srv); /* drops expired registrations */
json_t *ts_rd_list(struct ts_server *srv);
struct ts_reg *ts_rd_find(struct ts_server *srv, const char *name);
void ts_rd_free_all(struct ts_server *srv);
/* Registrations on a DTLS session (NULL: every registration made over DTLS) lose it, so that
 * libcoap can free it and the address can handshake again (DM requests to them fail until the
 * endpoint's next Update or Register); with forget they are removed. */
void ts_rd_unbind_dtls(struct ts_server *srv, coap_session_t *session, bool forget);

/* ---- outgoing requests (ts_dm.c) ---- */

/* A request to send, filled from a control command. Borrowed strings. */
struct ts_req {
    coap_pdu_code_t method;
    const char *path;
    const char *query; /* "a=b&c" split into Uri-Query options, or NULL */
    int accept;        /* -1: none */
    int ct;            /* -1: none */
    const uint8_t *payload;
    size_t payload_len;
    int observe; /* -1: none, else Observe option value */
    bool non;    /* NON instead of CON */
    double timeout_s;
};

void ts_dm_init(struct ts_server *srv);
/* Sends req on session and answers command id when the response arrives. 0 or -1. */
int ts_dm_send(struct ts_server *srv, coap_session_t *session, const char *ep, json_t *id,
               const struct ts_req *req);
/* Sends req (no observe) on session; done(srv, tag, ...) is called once with the outcome. 0 or
 * -1 (then done is never called). */
int ts_dm_send_cb(struct ts_server *srv, coap_session_t *session, const char *ep,
                  const struct ts_req *req, ts_dm_done_fn done, uint64_t tag);
/* cancel_observe: mode "get" (GET Observe 1, same token) or "rst" (RST the next notification). */
int ts_dm_cancel(struct ts_server *srv, json_t *id, const char *token_hex, const char *mode,
                 double timeout_s);
void ts_dm_sweep(struct ts_server *srv); /* times out requests */
/* Adds "code", "ct", "observe"?, "payload" (hex) and "decoded"|"decode_error" of a response to
 * obj; returns obj. */
json_t *ts_dm_response_json(json_t *obj, const coap_pdu_t *pdu);
json_t *ts_dm_list_observations(struct ts_server *srv);
void ts_dm_free_all(struct ts_server *srv);
/* Fails every request and observation on session with why, releasing their references. */
void ts_dm_drop_session(struct ts_server *srv, coap_session_t *session, const char *why);

/* ---- the Bootstrap-Server role (ts_bs.c) ---- */

int ts_bs_init(struct ts_server *srv);
/* The bs_config command: sets, replaces or removes the script of an endpoint name. */
void ts_bs_config(struct ts_server *srv, json_t *id, const json_t *cmd);
/* The bs_initiate command: server-initiated bootstrap of the endpoint at an address. */
void ts_bs_initiate(struct ts_server *srv, json_t *id, const json_t *cmd);
/* Sends the bootstrap requests that are due; returns when the next one is due (INT64_MAX: none).
 * Called once per loop pass, outside libcoap's handlers. */
int64_t ts_bs_pass(struct ts_server *srv);
/* Fails the bootstrap sequences on session (it closed or was dropped) and releases it. */
void ts_bs_drop_session(struct ts_server *srv, coap_session_t *session, const char *why);
json_t *ts_bs_list(struct ts_server *srv);
void ts_bs_free_all(struct ts_server *srv);

#endif
