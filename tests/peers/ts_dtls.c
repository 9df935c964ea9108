/* SPDX-License-Identifier: Apache-2.0 */
/* DTLS in the test LwM2M server: the --psk and --pki credentials handed to libcoap's server side,
 * the handshake callbacks (PSK identity lookup, client certificate CN), libcoap's DTLS session
 * events turned into dtls_failed / dtls_closed events, the identity that register, update and
 * send events carry, and drop_sessions (a server that lost its DTLS state, as a restart does).
 * libcoap does the handshakes, cookies, retransmissions and records. */
#include "ts.h"

#include <gnutls/gnutls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PSK_IDENTITY_MAX 256 /* far above what LwM2M clients use; bounds the option only */

/* ---- options ---- */

int ts_dtls_add_psk(struct ts_server *srv, const char *arg) {
    const char *colon = strrchr(arg, ':'); /* identities may contain ':' ("urn:imei:..") */
    uint8_t *key = NULL;
    size_t klen = 0;
    size_t ilen = colon ? (size_t)(colon - arg) : 0;
    if (ilen == 0 || ilen > PSK_IDENTITY_MAX || ts_unhex(colon + 1, &key, &klen) < 0 || klen == 0 ||
        klen > COAP_DTLS_MAX_PSK) {
        fprintf(stderr, "lwm2m_test_server: --psk wants IDENTITY:HEXKEY (1..%d key bytes)\n",
                COAP_DTLS_MAX_PSK);
        free(key);
        return -1;
    }
    struct ts_psk *grown = realloc(srv->psk, (srv->n_psk + 1) * sizeof(*grown));
    char *identity = strndup(arg, ilen);
    if (!grown || !identity) {
        free(identity);
        free(key);
        srv->psk = grown ? grown : srv->psk;
        return -1;
    }
    srv->psk = grown;
    srv->psk[srv->n_psk++] = (struct ts_psk){identity, {klen, key}};
    return 0;
}

int ts_dtls_set_pki(struct ts_server *srv, const char *arg) {
    char *files = strdup(arg), *save = NULL;
    if (!files)
        return -1;
    const char *cert = strtok_r(files, ",", &save);
    const char *key = cert ? strtok_r(NULL, ",", &save) : NULL;
    const char *ca = key ? strtok_r(NULL, ",", &save) : NULL;
    /* libcoap reports unreadable files only at the first handshake: say it at start instead */
    if (!ca || strtok_r(NULL, ",", &save) || access(cert, R_OK) < 0 || access(key, R_OK) < 0 ||
        access(ca, R_OK) < 0) {
        fprintf(stderr, "lwm2m_test_server: --pki wants CERT,KEY,CA (readable PEM files)\n");
        free(files);
        return -1;
    }
    free(srv->pki_files);
    srv->pki_files = files;
    srv->pki_cert = cert;
    srv->pki_key = key;
    srv->pki_ca = ca;
    return 0;
}

/* ---- events ---- */

/* The identity as a JSON string, or as {"hex": ..} when it is not UTF-8 text. */
static json_t *identity_json(const uint8_t *s, size_t len) {
    json_t *j = json_stringn((const char *)s, len);
    if (!j) {
        char *h = ts_hex(s, len);
        j = json_pack("{s:s}", "hex", h ? h : "");
        free(h);
    }
    return j;
}

void ts_dtls_identity_json(json_t *obj, coap_session_t *session) {
    bool dtls = coap_session_get_proto(session) == COAP_PROTO_DTLS;
    json_object_set_new(obj, "secure", json_boolean(dtls));
    if (!dtls)
        return;
    const struct ts_peer *p = coap_session_get_app_data(session);
    const coap_bin_const_t *id = coap_session_get_psk_identity(session);
    if (p && p->cert_cn)
        json_object_set_new(obj, "cert_cn", json_string(p->cert_cn));
    else if (id)
        json_object_set_new(obj, "psk_identity", identity_json(id->s, id->length));
}

/* A dtls_failed or dtls_closed event for session, at most one per session. */
static void emit_dtls(struct ts_server *srv, coap_session_t *session, struct ts_peer *p,
                      const char *name, const char *reason, json_t *extra) {
    json_t *ev = ts_event_new(name);
    if (p && p->reg)
        json_object_set_new(ev, "ep", json_string(p->reg->name));
    ts_addr_json(ev, coap_session_get_addr_remote(session));
    json_object_set_new(ev, "reason", json_string(reason));
    char detail[256];
    if (ts_take_log_detail(detail, sizeof(detail)))
        json_object_set_new(ev, "detail", json_string(detail));
    if (extra)
        json_object_update(ev, extra);
    json_decref(extra);
    if (p)
        p->dtls_reported = true;
    ts_emit(srv, ev);
}

void ts_dtls_event(struct ts_server *srv, coap_session_t *session, coap_event_t event) {
    /* Not the HELLO sessions of cookie exchanges (libcoap frees them unannounced), and nothing at
     * exit (the peer records are gone, and libcoap's closing of sessions is no news). */
    if (coap_session_get_proto(session) != COAP_PROTO_DTLS ||
        coap_session_get_type(session) != COAP_SESSION_TYPE_SERVER || srv->quit)
        return;
    coap_log(LOG_DEBUG, "lwm2m_test_server: %s: event %#x\n", coap_session_str(session),
             (unsigned)event);
    struct ts_peer *p = coap_session_get_app_data(session);
    bool up = coap_session_get_state(session) == COAP_SESSION_STATE_ESTABLISHED;
    if (event == COAP_EVENT_DTLS_CLOSED) {
        /* Every session that got as far as the client's credentials has a peer record: one
         * without failed its handshake before (no certificate, no common cipher suite), or is
         * being freed after COAP_EVENT_SERVER_SESSION_DEL took its record (then it is
         * established). COAP_EVENT_DTLS_ERROR is always followed by this. */
        if (p ? !p->dtls_reported : !up)
            emit_dtls(srv, session, p, up ? "dtls_closed" : "dtls_failed",
                      up ? "closed" : "handshake failed", NULL);
        /* libcoap keeps a closed server session until nothing references it, and ignores its
         * address meanwhile: without this a client could never handshake again from the
         * address it registered from. */
        ts_dm_drop_session(srv, session, "session closed");
        ts_bs_drop_session(srv, session, "session closed");
        ts_rd_unbind_dtls(srv, session, false);
        srv->sweep_now = true;
    } else if (event == COAP_EVENT_SERVER_SESSION_DEL && p && up && !p->dtls_reported) {
        emit_dtls(srv, session, p, "dtls_closed", "session expired", NULL);
    }
}

/* ---- handshake callbacks ---- */

/* libcoap asks for the key of the identity a client offers; NULL fails the handshake. A server
 * session in a handshake ends within seconds (libcoap's DTLS timeouts) with
 * COAP_EVENT_SERVER_SESSION_DEL, so the peer record made here goes with it. */
static const coap_bin_const_t *psk_for_identity(coap_bin_const_t *identity, coap_session_t *session,
                                                void *arg) {
    struct ts_server *srv = arg;
    struct ts_peer *p = ts_peer_of(session);
    for (size_t i = 0; i < srv->n_psk; i++) {
        const char *known = srv->psk[i].identity;
        if (strlen(known) == identity->length && memcmp(known, identity->s, identity->length) == 0)
            return &srv->psk[i].key;
    }
    emit_dtls(srv, session, p, "dtls_failed", "unknown psk identity",
              json_pack("{s:o}", "psk_identity", identity_json(identity->s, identity->length)));
    return NULL;
}

/* Called once libcoap has verified the chain against the CA (depth 0 is the client's own
 * certificate; the OpenSSL flavour also calls it for each CA). cn is the subjectAltName if the
 * certificate has one, else the subject's CN. */
static int on_client_cn(const char *cn, const uint8_t *der, size_t der_len, coap_session_t *session,
                        unsigned depth, int validated, void *arg) {
    struct ts_peer *p;
    if (!validated)
        return 0;
    if (depth == 0 && (p = ts_peer_of(session))) {
        free(p->cert_cn);
        p->cert_cn = strdup(cn ? cn : "");
    }
    return 1;
}

/* GnuTLS's audit messages, which libcoap only logs; the transport pointer of a libcoap GnuTLS
 * session is its coap_session_t. Two of them matter:
 * - "Discarded message due to invalid decryption" in a handshake is the client's Finished under
 *   keys we do not share (a wrong PSK key): GnuTLS drops it silently, as DTLS must, and the
 *   handshake would only time out seconds later.
 * - "Discarded message with invalid epoch 0" on an established session is a new ClientHello from
 *   its address: the client restarted, or gave up on the session (after an outage). libcoap
 *   4.3.1 would drop its handshakes for as long as the old session lives, which a registration
 *   makes forever; ts_dtls_pass() drops the old session (not here: GnuTLS is mid-record). */
static void on_gnutls_audit(gnutls_session_t gs, const char *text) {
    coap_session_t *session = gs ? gnutls_transport_get_ptr(gs) : NULL;
    fprintf(stderr, "gnutls audit: %s", text);
    if (!session || coap_session_get_type(session) != COAP_SESSION_TYPE_SERVER)
        return;
    coap_session_state_t state = coap_session_get_state(session);
    bool wrong_key = state == COAP_SESSION_STATE_HANDSHAKE && strstr(text, "invalid decryption");
    bool rehello = state == COAP_SESSION_STATE_ESTABLISHED && strstr(text, "invalid epoch 0");
    /* Both come from a record being received, so the session is not being freed (and one in a
     * handshake ends within seconds, see psk_for_identity). */
    struct ts_peer *p = wrong_key || rehello ? ts_peer_of(session) : NULL;
    if (!p)
        return;
    if (wrong_key && !p->dtls_reported) {
        emit_dtls(ts_server_of(session), session, p, "dtls_failed",
                  "handshake record does not decrypt (wrong key?)",
                  json_pack("{s:s%}", "detail", text, strcspn(text, "\n")));
    } else if (rehello) {
        p->dtls_rehello = true;
        ts_server_of(session)->dtls_rehello = true;
    }
}

/* ---- setup ---- */

static int setup_psk(struct ts_server *srv) {
    coap_dtls_spsk_t sp;
    memset(&sp, 0, sizeof(sp));
    sp.version = COAP_DTLS_SPSK_SETUP_VERSION;
    sp.validate_id_call_back = psk_for_identity;
    sp.id_call_back_arg = srv;
    return coap_context_set_psk2(srv->ctx, &sp) ? 0 : -1;
}

static int setup_pki(struct ts_server *srv) {
    coap_dtls_pki_t pki;
    memset(&pki, 0, sizeof(pki));
    pki.version = COAP_DTLS_PKI_SETUP_VERSION;
    pki.verify_peer_cert = 1; /* a client certificate is required, and must chain to the CA */
    pki.check_common_ca = 1;
    pki.cert_chain_validation = 1;
    pki.cert_chain_verify_depth = 3;
    pki.validate_cn_call_back = on_client_cn;
    pki.cn_call_back_arg = srv;
    pki.pki_key.key_type = COAP_PKI_KEY_PEM;
    pki.pki_key.key.pem.public_cert = srv->pki_cert;
    pki.pki_key.key.pem.private_key = srv->pki_key;
    pki.pki_key.key.pem.ca_file = srv->pki_ca;
    return coap_context_set_pki(srv->ctx, &pki) ? 0 : -1;
}

int ts_dtls_setup(struct ts_server *srv) {
    bool creds = srv->n_psk || srv->pki_files;
    const char *why = NULL;
    if (srv->dtls_port < 0)
        why = creds ? "--psk and --pki need --dtls-port" : NULL;
    else if (!creds)
        why = "--dtls-port needs --psk or --pki";
    else if (!coap_dtls_is_supported() ||
             coap_get_tls_library_version()->type != COAP_TLS_LIBRARY_GNUTLS)
        why = "libcoap was built without DTLS on GnuTLS";
    else if (srv->n_psk && setup_psk(srv) < 0)
        why = "libcoap refused the PSK setup";
    else if (srv->pki_files && setup_pki(srv) < 0)
        why = "libcoap refused the certificates";
    if (why) {
        fprintf(stderr, "lwm2m_test_server: %s\n", why);
        return -1;
    }
    if (srv->dtls_port >= 0) /* after coap_startup(), which installed libcoap's own */
        gnutls_global_set_audit_log_function(on_gnutls_audit);
    return 0;
}

/* ---- drop_sessions ---- */

/* Forgets one session: its requests fail, its registrations lose it (or go), and libcoap tears
 * it down. State NONE and no references left: libcoap's next session sweep frees it, and the
 * client's next record meets no session (a new handshake gets a new one). */
static void drop_session(struct ts_server *srv, struct ts_peer *p, const char *why, bool forget) {
    coap_session_t *s = p->session;
    ts_dm_drop_session(srv, s, why);
    ts_bs_drop_session(srv, s, why);
    ts_rd_unbind_dtls(srv, s, forget);
    p->dtls_reported = true; /* no dtls_closed for what we did ourselves */
    coap_session_disconnected(s, COAP_NACK_TLS_FAILED);
    srv->sweep_now = true;
}

static bool live_dtls(const struct ts_peer *p) {
    return coap_session_get_proto(p->session) == COAP_PROTO_DTLS &&
           coap_session_get_state(p->session) != COAP_SESSION_STATE_NONE;
}

int ts_dtls_drop_sessions(struct ts_server *srv, bool close_notify, bool forget_registrations) {
    int n = 0;
    /* libcoap sends close_notify when it tears a session down; a server that restarted would not */
    ts_mute(srv, !close_notify);
    for (struct ts_peer *p = srv->peers; p; p = p->next) {
        if (live_dtls(p)) {
            drop_session(srv, p, "session dropped", forget_registrations);
            n++;
        }
    }
    ts_mute(srv, false);
    /* registrations whose session had closed already */
    ts_rd_unbind_dtls(srv, NULL, forget_registrations);
    return n;
}

void ts_dtls_pass(struct ts_server *srv) {
    if (!srv->dtls_rehello)
        return;
    srv->dtls_rehello = false;
    ts_mute(srv, true); /* the client has moved on: no close_notify under the old keys */
    for (struct ts_peer *p = srv->peers; p; p = p->next) {
        if (!p->dtls_rehello || !live_dtls(p))
            continue;
        p->dtls_rehello = false;
        emit_dtls(srv, p->session, p, "dtls_closed", "new handshake from the client", NULL);
        drop_session(srv, p, "session closed", false);
    }
    ts_mute(srv, false);
}

void ts_dtls_free(struct ts_server *srv) {
    for (size_t i = 0; i < srv->n_psk; i++) {
        free(srv->psk[i].identity);
        free((void *)srv->psk[i].key.s);
    }
    free(srv->psk);
    free(srv->pki_files);
}
