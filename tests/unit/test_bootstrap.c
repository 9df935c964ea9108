/* SPDX-License-Identifier: Apache-2.0 */
/* Client-initiated bootstrap (TS Core 1.1.1 §5.2, §6.1) through lwm2m_endpoint_add(): the test
 * plays the bootstrap server and the LwM2M server on two loopback UDP sockets (payloads built
 * here byte by byte from the TLV rules of §7.4.3), with short CoAP and back-off timers so that
 * timeouts, retries and the fallback happen within a second. Also the state file codec. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dm_test_fixture.h" /* the in-test provider */
#include "bs_internal.h"
#include "pki_test.h"

#define EP_NAME "urn:dev:bs-test"

struct peer {
    int fd;
    uint16_t port;
    struct sockaddr_in client; /* where the endpoint's datagrams came from */
    uint8_t rx[2048];
    size_t rxlen;
    struct coap_msg msg; /* the last datagram received, parsed when it is CoAP */
    bool coap;           /* it parsed */
};

struct bsfx {
    struct event_base *base;
    struct lwm2m_model *model;
    struct lwm2m_engine *eng;
    struct lwm2m_endpoint *ep;
    struct tprov prov;
    struct peer bs, dm;
    char dir[64];
    char bs_uri[64], dm_uri[64];
    struct lwm2m_server_cfg bs_cfg, dm_cfg;
    uint16_t mid;
    int events[64];
    char detail[64][256];
    size_t nev;
    char text[2048];
    uint32_t hold_off_ms; /* the engine's bootstrap_hold_off_ms */
};

static void on_event(void *ctx, const struct lwm2m_event *ev) {
    struct bsfx *f = ctx;
    if (f->nev < 64) {
        f->events[f->nev] = ev->type;
        snprintf(f->detail[f->nev], sizeof(f->detail[0]), "%s",
                 ev->detail != NULL ? ev->detail : "");
        f->nev++;
    }
}

/* The index of the last event of type, or -1. */
static int event_at(struct bsfx *f, int type) {
    for (size_t i = f->nev; i > 0; i--)
        if (f->events[i - 1] == type)
            return (int)(i - 1);
    return -1;
}

static void peer_open(struct peer *p) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    p->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    assert_true(p->fd >= 0);
    assert_int_equal(bind(p->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(p->fd, (struct sockaddr *)&a, &len), 0);
    p->port = ntohs(a.sin_port);
}

static uint64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Runs the loop until p receives a datagram (parsed into p->msg) or ms pass. */
static bool peer_wait(struct bsfx *f, struct peer *p, unsigned ms) {
    uint64_t end = now_ms() + ms;
    do {
        event_base_loop(f->base, EVLOOP_NONBLOCK);
        socklen_t len = sizeof(p->client);
        ssize_t n = recvfrom(p->fd, p->rx, sizeof(p->rx), 0, (struct sockaddr *)&p->client, &len);
        if (n > 0) {
            p->rxlen = (size_t)n;
            p->coap = coap_parse(&p->msg, p->rx, p->rxlen) == 0;
            return true;
        }
        usleep(1000);
    } while (now_ms() < end);
    return false;
}

static void peer_send(struct peer *p, const struct coap_msg *m) {
    uint8_t buf[2048];
    int n = coap_serialize(m, buf, sizeof(buf));
    assert_true(n > 0);
    assert_int_equal(
        sendto(p->fd, buf, (size_t)n, 0, (struct sockaddr *)&p->client, sizeof(p->client)), n);
}

/* Expects a CON request code to "path" at p and returns its joined Uri-Query in f->text. */
static void expect_request(struct bsfx *f, struct peer *p, uint8_t code, const char *path) {
    char got[64];
    assert_true(peer_wait(f, p, 2000));
    assert_true(p->coap);
    assert_int_equal(p->msg.type, COAP_TYPE_CON);
    assert_int_equal(p->msg.code, code);
    assert_true(coap_msg_path(&p->msg, COAP_OPT_URI_PATH, got, sizeof(got)) >= 0);
    assert_string_equal(got, path);
    f->text[0] = '\0';
    coap_msg_path(&p->msg, COAP_OPT_URI_QUERY, f->text, sizeof(f->text));
}

/* Answers the request p received last with a piggybacked code (and Location-Path rd/7). */
static void answer(struct peer *p, uint8_t code) {
    struct coap_msg m;
    coap_msg_init(&m, COAP_TYPE_ACK, code, p->msg.mid);
    coap_msg_set_token(&m, p->msg.token, p->msg.token_len);
    if (code == COAP_201_CREATED)
        coap_msg_add_path(&m, COAP_OPT_LOCATION_PATH, "rd/7");
    peer_send(p, &m);
}

/* The server at p sends a request to the endpoint; returns the answer's code, payload in text. */
static uint8_t request(struct bsfx *f, struct peer *p, uint8_t code, const char *path, int cf,
                       int accept, const void *payload, size_t len) {
    struct coap_msg m;
    uint8_t tok[2] = {0xB5, (uint8_t)++f->mid};
    coap_msg_init(&m, COAP_TYPE_CON, code, (uint16_t)(0x4000 + f->mid));
    coap_msg_set_token(&m, tok, sizeof(tok));
    coap_msg_add_path(&m, COAP_OPT_URI_PATH, path);
    if (cf >= 0)
        coap_msg_add_opt_uint(&m, COAP_OPT_CONTENT_FORMAT, (uint32_t)cf);
    if (accept >= 0)
        coap_msg_add_opt_uint(&m, COAP_OPT_ACCEPT, (uint32_t)accept);
    coap_msg_set_payload(&m, payload, len);
    peer_send(p, &m);
    assert_true(peer_wait(f, p, 2000));
    assert_true(p->coap);
    assert_int_equal(p->msg.type, COAP_TYPE_ACK);
    assert_int_equal(p->msg.mid, 0x4000 + f->mid);
    memcpy(f->text, p->msg.payload != NULL ? (const char *)p->msg.payload : "", p->msg.payload_len);
    f->text[p->msg.payload_len] = '\0';
    return p->msg.code;
}

/* ---- TLV by hand (TS Core 1.1.1 §7.4.3) ---------------------------------------------------- */

/* One TLV: type bits 7-6 (kind: 0 object instance, 3 resource with value), bit 5 id of 16 bits,
 * bits 4-3 length type (0: in bits 2-0, 1: one length byte, 2: two), then id, length, value. */
static size_t tlv(uint8_t *out, uint8_t kind, uint16_t id, const void *val, size_t len) {
    size_t n = 0;
    uint8_t t = (uint8_t)(kind << 6);
    assert_true(len < 65536);
    t |= id > 255 ? 0x20 : 0;
    t |= len < 8 ? (uint8_t)len : len < 256 ? 0x08 : 0x10;
    out[n++] = t;
    if (id > 255)
        out[n++] = (uint8_t)(id >> 8);
    out[n++] = (uint8_t)id;
    if (len >= 256)
        out[n++] = (uint8_t)(len >> 8);
    if (len >= 8)
        out[n++] = (uint8_t)len;
    memcpy(out + n, val, len);
    return n + len;
}

static size_t tlv_str(uint8_t *out, uint16_t id, const char *s) {
    return tlv(out, 3, id, s, strlen(s));
}

static size_t tlv_u8(uint8_t *out, uint16_t id, uint8_t v) {
    return tlv(out, 3, id, &v, 1);
}

/* The resources of a Security instance: URI, Bootstrap-Server, mode, SSID. */
static size_t tlv_security(uint8_t *out, const char *uri, bool bs, uint8_t mode, uint8_t ssid) {
    size_t n = tlv_str(out, 0, uri);
    n += tlv_u8(out + n, 1, bs ? 1 : 0);
    n += tlv_u8(out + n, 2, mode);
    if (ssid != 0)
        n += tlv_u8(out + n, 10, ssid);
    return n;
}

/* /1 as an object: one instance TLV iid holding SSID, lifetime 300 (2 bytes), storing, "U". */
static size_t tlv_server_object(uint8_t *out, uint16_t iid, uint8_t ssid) {
    uint8_t inner[64], lt[2] = {0x01, 0x2C};
    size_t n = tlv_u8(inner, 0, ssid);
    n += tlv(inner + n, 3, 1, lt, 2);
    n += tlv_u8(inner + n, 6, 0);
    n += tlv_str(inner + n, 7, "U");
    return tlv(out, 0, iid, inner, n);
}

/* ---- fixture ------------------------------------------------------------------------------ */

static struct bsfx *fx_new(void) {
    struct bsfx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->base = event_base_new();
    assert_int_equal(lwm2m_model_new(&f->model), 0);
    lwm2m_model_seal(f->model);
    f->prov.model = f->model;
    tp_fill(&f->prov);
    peer_open(&f->bs);
    peer_open(&f->dm);
    snprintf(f->bs_uri, sizeof(f->bs_uri), "coap://127.0.0.1:%u", f->bs.port);
    snprintf(f->dm_uri, sizeof(f->dm_uri), "coap://127.0.0.1:%u", f->dm.port);
    f->bs_cfg = (struct lwm2m_server_cfg){
        .uri = f->bs_uri, .sec_mode = LWM2M_SEC_NOSEC, .version_minor = 1};
    f->dm_cfg = (struct lwm2m_server_cfg){
        .uri = f->dm_uri, .ssid = 1, .lifetime = 300, .sec_mode = LWM2M_SEC_NOSEC};
    strcpy(f->dir, "/tmp/test_bootstrap.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    return f;
}

static void fx_engine(struct bsfx *f) {
    struct coap_params p;
    coap_params_default(&p);
    p.ack_timeout_ms = 100;
    p.ack_random_permille = 1000;
    p.max_retransmit = 1;
    struct lwm2m_engine_cfg cfg = {.base = f->base,
                                   .model = f->model,
                                   .coap = &p,
                                   .on_event = on_event,
                                   .event_ctx = f,
                                   .retry_min_ms = 50,
                                   .retry_max_ms = 100,
                                   .bootstrap_timeout_ms = 400,
                                   .bootstrap_fallback = 2,
                                   .bootstrap_hold_off_ms = f->hold_off_ms};
    assert_int_equal(lwm2m_engine_new(&cfg, &f->eng), 0);
}

/* An engine and the endpoint: bootstrap server always, the DM server when with_server. */
static void fx_start(struct bsfx *f, bool with_server) {
    fx_engine(f);
    struct lwm2m_endpoint_cfg c = {.name = EP_NAME,
                                   .servers = with_server ? &f->dm_cfg : NULL,
                                   .nservers = with_server ? 1 : 0,
                                   .bind_host = "127.0.0.1",
                                   .bootstrap = &f->bs_cfg,
                                   .state_dir = f->dir};
    assert_int_equal(lwm2m_endpoint_add(f->eng, &c, &tp_provider, &f->prov, &f->ep), 0);
}

static void fx_stop(struct bsfx *f) {
    lwm2m_engine_free(f->eng);
    f->eng = NULL;
    f->ep = NULL;
}

static void fx_free(struct bsfx *f) {
    if (f->eng != NULL)
        fx_stop(f);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    close(f->bs.fd);
    close(f->dm.fd);
    lwm2m_model_free(f->model);
    event_base_free(f->base);
    free(f);
}

static char *state_file(struct bsfx *f) {
    char *p = lwm2m_bs_state_path(f->dir, EP_NAME);
    assert_non_null(p);
    return p;
}

/* A fixture whose endpoint (no configured server) has sent its Bootstrap-Request. */
static struct bsfx *bs_requested(void) {
    struct bsfx *f = fx_new();
    fx_start(f, false);
    expect_request(f, &f->bs, COAP_POST, "bs");
    return f;
}

/* The same with the Request answered 2.04: the bootstrap server may write. */
static struct bsfx *bs_begin(void) {
    struct bsfx *f = bs_requested();
    answer(&f->bs, COAP_204_CHANGED);
    return f;
}

/* Bootstrap-Write of Security instance /0/iid (not the bootstrap account), expecting 2.04. */
static void bs_write_security(struct bsfx *f, uint16_t iid, const char *uri, uint8_t mode,
                              uint8_t ssid) {
    uint8_t b[256];
    char path[16];
    size_t n = tlv_security(b, uri, false, mode, ssid);
    snprintf(path, sizeof(path), "0/%u", iid);
    assert_int_equal(request(f, &f->bs, COAP_PUT, path, LWM2M_CT_TLV, -1, b, n), COAP_204_CHANGED);
}

/* Bootstrap-Write of /1 with one Server instance iid for ssid, expecting 2.04. */
static void bs_write_server(struct bsfx *f, uint16_t iid, uint8_t ssid) {
    uint8_t b[128];
    size_t n = tlv_server_object(b, iid, ssid);
    assert_int_equal(request(f, &f->bs, COAP_PUT, "1", LWM2M_CT_TLV, -1, b, n), COAP_204_CHANGED);
}

/* Bootstrap-Finish; returns the answer's code (its diagnostic payload in f->text). */
static uint8_t bs_finish(struct bsfx *f) {
    return request(f, &f->bs, COAP_POST, "bs", -1, -1, NULL, 0);
}

/* The LwM2M server receives the Register (its Uri-Query left in f->text) and answers 2.01. */
static void dm_register(struct bsfx *f) {
    expect_request(f, &f->dm, COAP_POST, "rd");
    answer(&f->dm, COAP_201_CREATED);
    peer_wait(f, &f->dm, 50);
}

/* The bootstrap server's side of a good bootstrap: Delete /, Write /0/1 and /0/9 (its own
 * account), Write /1 with instance 1, then Finish. The Request must have been received. */
static void bootstrap_good(struct bsfx *f) {
    uint8_t b[256];
    answer(&f->bs, COAP_204_CHANGED);
    assert_int_equal(request(f, &f->bs, COAP_DELETE, "", -1, -1, NULL, 0), COAP_202_DELETED);
    bs_write_security(f, 1, f->dm_uri, LWM2M_SEC_NOSEC, 101);
    size_t n = tlv_security(b, f->bs_uri, true, LWM2M_SEC_NOSEC, 0);
    assert_int_equal(request(f, &f->bs, COAP_PUT, "0/9", LWM2M_CT_TLV, -1, b, n), COAP_204_CHANGED);
    bs_write_server(f, 1, 101);
    assert_int_equal(bs_finish(f), COAP_204_CHANGED);
}

/* ---- tests -------------------------------------------------------------------------------- */

static void test_request_carries_ep(void **state) {
    (void)state;
    struct bsfx *f = fx_new();
    fx_start(f, false);
    assert_true(lwm2m_endpoint_bootstrapping(f->ep));
    expect_request(f, &f->bs, COAP_POST, "bs");
    assert_string_equal(f->text, "ep=" EP_NAME);
    assert_true(event_at(f, LWM2M_EV_BOOTSTRAP_STARTED) >= 0);
    assert_string_equal(lwm2m_event_name(LWM2M_EV_BOOTSTRAP_FINISHED), "bootstrap-finished");
    fx_free(f);
}

static void test_bootstrap_then_register(void **state) {
    (void)state;
    struct bsfx *f = bs_begin();
    /* before any write, Discover shows the version and the owner's objects */
    assert_int_equal(request(f, &f->bs, COAP_GET, "", -1, LWM2M_CT_LINK, NULL, 0),
                     COAP_205_CONTENT);
    assert_non_null(strstr(f->text, "</>;lwm2m=\"1.1\""));
    assert_non_null(strstr(f->text, "</3/0>"));
    assert_non_null(strstr(f->text, "</3311/1>"));
    bootstrap_good(f);
    assert_false(lwm2m_endpoint_bootstrapping(f->ep));
    assert_true(event_at(f, LWM2M_EV_BOOTSTRAP_FINISHED) >= 0);
    dm_register(f);
    assert_non_null(strstr(f->text, "ep=" EP_NAME));
    assert_non_null(strstr(f->text, "lt=300"));
    assert_true(lwm2m_endpoint_registered(f->ep));
    /* the LwM2M server sees its Server instance and never the Security object */
    assert_int_equal(request(f, &f->dm, COAP_GET, "1/0/0", -1, -1, NULL, 0), COAP_205_CONTENT);
    assert_string_equal(f->text, "101");
    assert_int_equal(request(f, &f->dm, COAP_GET, "0/1", -1, -1, NULL, 0), COAP_401_UNAUTHORIZED);
    assert_int_equal(request(f, &f->dm, COAP_GET, "0/1/0", -1, -1, NULL, 0), COAP_401_UNAUTHORIZED);
    /* the bootstrap server is a stranger once finished */
    assert_int_equal(request(f, &f->bs, COAP_GET, "1/1", -1, -1, NULL, 0), COAP_401_UNAUTHORIZED);
    fx_free(f);
}

static void test_bootstrap_operations(void **state) {
    (void)state;
    struct bsfx *f = bs_begin();
    bs_write_security(f, 1, f->dm_uri, LWM2M_SEC_NOSEC, 101);
    bs_write_server(f, 1, 101);
    /* a single resource in plain text */
    assert_int_equal(request(f, &f->bs, COAP_PUT, "1/1/1", LWM2M_CT_TEXT, -1, "600", 3),
                     COAP_204_CHANGED);
    /* Discover: ssid and uri per instance */
    assert_int_equal(request(f, &f->bs, COAP_GET, "", -1, LWM2M_CT_LINK, NULL, 0),
                     COAP_205_CONTENT);
    char want[128];
    snprintf(want, sizeof(want), "</0/1>;ssid=101;uri=\"%s\"", f->dm_uri);
    assert_non_null(strstr(f->text, want));
    assert_non_null(strstr(f->text, "</1/1>;ssid=101"));
    /* Bootstrap-Read: the Server object yes, the Security object never */
    assert_int_equal(request(f, &f->bs, COAP_GET, "1/1/1", -1, -1, NULL, 0), COAP_205_CONTENT);
    assert_string_equal(f->text, "600");
    assert_int_equal(request(f, &f->bs, COAP_GET, "0/1", -1, -1, NULL, 0), COAP_401_UNAUTHORIZED);
    assert_int_equal(request(f, &f->bs, COAP_GET, "1/5", -1, -1, NULL, 0), COAP_404_NOT_FOUND);
    /* writes outside /0 and /1, deletes of the Device object */
    assert_int_equal(request(f, &f->bs, COAP_PUT, "3/0/15", LWM2M_CT_TEXT, -1, "x", 1),
                     COAP_405_METHOD_NOT_ALLOWED);
    assert_int_equal(request(f, &f->bs, COAP_DELETE, "3/0", -1, -1, NULL, 0), COAP_400_BAD_REQUEST);
    assert_int_equal(request(f, &f->bs, COAP_PUT, "1/1/1", -1, -1, "1", 1),
                     COAP_415_UNSUPPORTED_CONTENT_FORMAT);
    /* Delete /1/1 and /1 comes back empty; write it again and finish */
    assert_int_equal(request(f, &f->bs, COAP_DELETE, "1/1", -1, -1, NULL, 0), COAP_202_DELETED);
    assert_int_equal(request(f, &f->bs, COAP_GET, "1/1", -1, -1, NULL, 0), COAP_404_NOT_FOUND);
    bs_write_server(f, 4, 101);
    assert_int_equal(bs_finish(f), COAP_204_CHANGED);
    expect_request(f, &f->dm, COAP_POST, "rd");
    assert_non_null(strstr(f->text, "lt=300"));
    fx_free(f);
}

static void test_finish_inconsistent(void **state) {
    (void)state;
    struct bsfx *f = bs_begin();
    /* nothing at all */
    assert_int_equal(bs_finish(f), COAP_406_NOT_ACCEPTABLE);
    assert_non_null(strstr(f->text, "no LwM2M Server account"));
    /* a Security instance without its Server instance */
    bs_write_security(f, 1, f->dm_uri, LWM2M_SEC_NOSEC, 101);
    assert_int_equal(bs_finish(f), COAP_406_NOT_ACCEPTABLE);
    assert_non_null(strstr(f->text, "no Server instance with Short Server ID 101"));
    bs_write_server(f, 1, 101);
    /* NoSec mode with a coaps:// URI */
    char suri[64];
    snprintf(suri, sizeof(suri), "coaps://127.0.0.1:%u", f->dm.port);
    bs_write_security(f, 1, suri, LWM2M_SEC_NOSEC, 101);
    assert_int_equal(bs_finish(f), COAP_406_NOT_ACCEPTABLE);
    assert_non_null(strstr(f->text, "coaps:// URI with NoSec mode"));
    /* certificate mode without its certificates; RPK is not done */
    bs_write_security(f, 1, suri, LWM2M_SEC_CERT, 101);
    assert_int_equal(bs_finish(f), COAP_406_NOT_ACCEPTABLE);
    assert_string_equal(f->text, "/0/1/3: certificate (Public Key or Identity) missing");
    bs_write_security(f, 1, suri, LWM2M_SEC_RPK, 101);
    assert_int_equal(bs_finish(f), COAP_406_NOT_ACCEPTABLE);
    assert_string_equal(f->text, "/0/1: security mode 1 not supported");
    /* a host name is not a numeric URI */
    bs_write_security(f, 1, "coap://lwm2m.example.com:5683", LWM2M_SEC_NOSEC, 101);
    assert_int_equal(bs_finish(f), COAP_406_NOT_ACCEPTABLE);
    /* fixed: accepted */
    bs_write_security(f, 1, f->dm_uri, LWM2M_SEC_NOSEC, 101);
    assert_int_equal(bs_finish(f), COAP_204_CHANGED);
    expect_request(f, &f->dm, COAP_POST, "rd");
    fx_free(f);
}

/* A PSK server: Finish accepted, and the Register starts a DTLS handshake (a ClientHello). */
static void test_psk_server(void **state) {
    (void)state;
    struct bsfx *f = bs_begin();
    uint8_t b[256], key[4] = {1, 2, 3, 4};
    char suri[64];
    snprintf(suri, sizeof(suri), "coaps://127.0.0.1:%u", f->dm.port);
    bs_write_security(f, 1, suri, LWM2M_SEC_PSK, 101);
    bs_write_server(f, 1, 101);
    assert_int_equal(bs_finish(f), COAP_406_NOT_ACCEPTABLE); /* no identity, no key */
    size_t n = tlv_str(b, 3, "psk-id-1");
    assert_int_equal(request(f, &f->bs, COAP_PUT, "0/1/3", LWM2M_CT_TLV, -1, b, n),
                     COAP_204_CHANGED);
    n = tlv(b, 3, 5, key, sizeof(key));
    assert_int_equal(request(f, &f->bs, COAP_PUT, "0/1/5", LWM2M_CT_TLV, -1, b, n),
                     COAP_204_CHANGED);
    assert_int_equal(bs_finish(f), COAP_204_CHANGED);
    assert_true(peer_wait(f, &f->dm, 2000));
    assert_int_equal(f->dm.rx[0], 22); /* DTLS record: handshake */
    fx_free(f);
}

/* Bootstrap-Write of one opaque resource ("0/1/3") as TLV, expecting 2.04. */
static void bs_write_opaque(struct bsfx *f, const char *path, uint16_t rid, const void *v,
                            size_t len) {
    uint8_t b[1600];
    assert_true(len + 8 <= sizeof(b));
    size_t n = tlv(b, 3, rid, v, len);
    assert_int_equal(request(f, &f->bs, COAP_PUT, path, LWM2M_CT_TLV, -1, b, n), COAP_204_CHANGED);
}

/* A certificate-mode server (TS Core §E.1: /0/x/3 the client's certificate, /0/x/4 the
 * server's, /0/x/5 the client's private key, DER): refused at Finish with the reason while a
 * part is missing or the key is not the certificate's, then accepted (the key in its
 * traditional form this time), the Register starts a DTLS handshake, the state file that holds
 * the key is private to its owner, and a restart handshakes from it without bootstrapping. */
static void test_cert_server(void **state) {
    (void)state;
    EVP_PKEY *ca_key = EVP_EC_gen("P-256"), *cli_key = EVP_EC_gen("P-256");
    EVP_PKEY *srv_key = EVP_EC_gen("P-256"), *stray = EVP_EC_gen("P-256");
    X509 *ca = pki_cert(ca_key, "bs test CA", NULL, NULL, 1);
    X509 *cli = pki_cert(cli_key, EP_NAME, ca, ca_key, 2);
    X509 *srv = pki_cert(srv_key, "lwm2m-server", ca, ca_key, 3);
    struct pki_der cli_der = pki_cert_der(cli), srv_der = pki_cert_der(srv);
    struct pki_der key_trad = pki_key_der(cli_key, false), stray8 = pki_key_der(stray, true);
    struct bsfx *f = bs_begin();
    char suri[64];
    snprintf(suri, sizeof(suri), "coaps://127.0.0.1:%u", f->dm.port);
    bs_write_security(f, 1, suri, LWM2M_SEC_CERT, 101);
    bs_write_server(f, 1, 101);
    bs_write_opaque(f, "0/1/3", 3, cli_der.p, cli_der.len);
    bs_write_opaque(f, "0/1/5", 5, stray8.p, stray8.len);
    assert_int_equal(bs_finish(f), COAP_406_NOT_ACCEPTABLE);
    assert_string_equal(f->text, "/0/1/4: server certificate (Server Public Key) missing");
    bs_write_opaque(f, "0/1/4", 4, srv_der.p, srv_der.len);
    assert_int_equal(bs_finish(f), COAP_406_NOT_ACCEPTABLE);
    assert_string_equal(f->text, "/0/1: private key: key values mismatch");
    uint8_t usage = 9;
    bs_write_opaque(f, "0/1/15", 15, &usage, 1);
    bs_write_opaque(f, "0/1/5", 5, key_trad.p, key_trad.len);
    assert_int_equal(bs_finish(f), COAP_406_NOT_ACCEPTABLE);
    assert_string_equal(f->text, "/0/1/15: Certificate Usage is 0..3");
    usage = 3;
    bs_write_opaque(f, "0/1/15", 15, &usage, 1);
    assert_int_equal(bs_finish(f), COAP_204_CHANGED);
    assert_true(peer_wait(f, &f->dm, 2000));
    assert_int_equal(f->dm.rx[0], 22); /* DTLS record: handshake */
    char *path = state_file(f);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    free(path);
    fx_stop(f);
    f->nev = 0;
    fx_start(f, false);
    assert_false(lwm2m_endpoint_bootstrapping(f->ep));
    assert_true(peer_wait(f, &f->dm, 2000));
    assert_int_equal(f->dm.rx[0], 22);
    assert_int_equal(event_at(f, LWM2M_EV_BOOTSTRAP_STARTED), -1);
    fx_free(f);
    struct pki_der *d[] = {&cli_der, &srv_der, &key_trad, &stray8};
    for (size_t i = 0; i < sizeof(d) / sizeof(d[0]); i++)
        pki_der_free(d[i]);
    X509_free(ca);
    X509_free(cli);
    X509_free(srv);
    EVP_PKEY *k[] = {ca_key, cli_key, srv_key, stray};
    for (size_t i = 0; i < sizeof(k) / sizeof(k[0]); i++)
        EVP_PKEY_free(k[i]);
}

static void test_saved_state_reused(void **state) {
    (void)state;
    struct bsfx *f = bs_requested();
    bootstrap_good(f);
    expect_request(f, &f->dm, COAP_POST, "rd");
    char *path = state_file(f);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    fx_stop(f);
    /* restart: the saved server registers, no second Bootstrap-Request */
    f->nev = 0;
    fx_start(f, false);
    assert_false(lwm2m_endpoint_bootstrapping(f->ep));
    expect_request(f, &f->dm, COAP_POST, "rd");
    assert_non_null(strstr(f->text, "ep=" EP_NAME));
    assert_false(peer_wait(f, &f->bs, 100));
    assert_int_equal(event_at(f, LWM2M_EV_BOOTSTRAP_STARTED), -1);
    /* and the saved state wins over a configured server too */
    fx_stop(f);
    struct peer other;
    peer_open(&other);
    char ouri[64];
    snprintf(ouri, sizeof(ouri), "coap://127.0.0.1:%u", other.port);
    f->dm_cfg.uri = ouri;
    fx_start(f, true);
    expect_request(f, &f->dm, COAP_POST, "rd");
    assert_false(peer_wait(f, &other, 50));
    close(other.fd);
    /* removed for good */
    fx_stop(f);
    assert_int_equal(lwm2m_bootstrap_state_remove(f->dir, EP_NAME), 0);
    assert_int_not_equal(stat(path, &st), 0);
    free(path);
    fx_free(f);
}

static void test_corrupt_state_ignored(void **state) {
    (void)state;
    struct bsfx *f = fx_new();
    char *path = state_file(f);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    fputs("LWBS\x01garbage that is not a state file", fp);
    fclose(fp);
    fx_start(f, false);
    int i = event_at(f, LWM2M_EV_BOOTSTRAP_STATE_INVALID);
    assert_true(i >= 0);
    assert_non_null(strstr(f->detail[i], "moved aside"));
    expect_request(f, &f->bs, COAP_POST, "bs");
    char aside[600];
    struct stat st;
    snprintf(aside, sizeof(aside), "%s.corrupt", path);
    assert_int_equal(stat(aside, &st), 0);
    assert_int_not_equal(stat(path, &st), 0);
    free(path);
    fx_free(f);
}

static void test_request_timeout_retries(void **state) {
    (void)state;
    struct bsfx *f = bs_requested();
    uint16_t first = f->bs.msg.mid;
    /* unanswered: one retransmission, the timeout, then a new Request after the back-off */
    expect_request(f, &f->bs, COAP_POST, "bs");
    assert_int_equal(f->bs.msg.mid, first);
    expect_request(f, &f->bs, COAP_POST, "bs");
    assert_int_not_equal(f->bs.msg.mid, first);
    int i = event_at(f, LWM2M_EV_BOOTSTRAP_FAILED);
    assert_true(i >= 0);
    assert_string_equal(f->detail[i], "Bootstrap-Request timed out");
    /* refused: retried as well */
    answer(&f->bs, COAP_403_FORBIDDEN);
    expect_request(f, &f->bs, COAP_POST, "bs");
    assert_string_equal(f->detail[event_at(f, LWM2M_EV_BOOTSTRAP_FAILED)],
                        "Bootstrap-Request refused");
    /* accepted but never finished: failed after bootstrap_timeout_ms, then retried */
    answer(&f->bs, COAP_204_CHANGED);
    expect_request(f, &f->bs, COAP_POST, "bs");
    assert_non_null(
        strstr(f->detail[event_at(f, LWM2M_EV_BOOTSTRAP_FAILED)], "no Bootstrap-Finish within"));
    fx_free(f);
}

static void test_fallback_after_register_failures(void **state) {
    (void)state;
    struct bsfx *f = fx_new();
    fx_start(f, true);
    assert_false(lwm2m_endpoint_bootstrapping(f->ep));
    expect_request(f, &f->dm, COAP_POST, "rd");
    answer(&f->dm, COAP_403_FORBIDDEN);
    expect_request(f, &f->dm, COAP_POST, "rd");
    answer(&f->dm, COAP_403_FORBIDDEN);
    /* bootstrap_fallback = 2: the second failure sends us to the bootstrap server */
    expect_request(f, &f->bs, COAP_POST, "bs");
    int i = event_at(f, LWM2M_EV_BOOTSTRAP_STARTED);
    assert_true(i >= 0);
    assert_non_null(strstr(f->detail[i], "fallback"));
    bootstrap_good(f);
    expect_request(f, &f->dm, COAP_POST, "rd");
    fx_free(f);
}

static void test_bootstrap_request_trigger(void **state) {
    (void)state;
    struct bsfx *f = fx_new();
    fx_start(f, true);
    dm_register(f);
    assert_true(lwm2m_endpoint_registered(f->ep));
    assert_int_equal(request(f, &f->dm, COAP_GET, "1/0", -1, LWM2M_CT_LINK, NULL, 0),
                     COAP_205_CONTENT);
    assert_non_null(strstr(f->text, "</1/0/9>"));
    assert_int_equal(request(f, &f->dm, COAP_POST, "1/0/9", -1, -1, NULL, 0), COAP_204_CHANGED);
    expect_request(f, &f->bs, COAP_POST, "bs");
    assert_true(lwm2m_endpoint_bootstrapping(f->ep));
    assert_false(lwm2m_endpoint_registered(f->ep));
    bootstrap_good(f);
    dm_register(f); /* then the same through the API */
    assert_int_equal(lwm2m_endpoint_bootstrap(f->ep), 0);
    expect_request(f, &f->bs, COAP_POST, "bs");
    fx_free(f);
}

/* Client Hold Off Time (TS Core §E.1 /0/x/11): the configured one before the first
 * Bootstrap-Request; then the one the bootstrap server wrote for its own account before a
 * triggered one. The bootstrap timers are the loop's (libevent's clock, as the registration's),
 * so the test measures real time with short hold offs. */
static void test_hold_off(void **state) {
    (void)state;
    struct bsfx *f = fx_new();
    f->hold_off_ms = 300;
    uint64_t t0 = now_ms();
    fx_start(f, false);
    assert_true(lwm2m_endpoint_bootstrapping(f->ep));
    assert_false(peer_wait(f, &f->bs, 200));
    expect_request(f, &f->bs, COAP_POST, "bs");
    assert_true(now_ms() - t0 >= 280); /* libevent's coarse monotonic clock: a few ms early */
    int i = event_at(f, LWM2M_EV_BOOTSTRAP_STARTED);
    assert_true(i >= 0);
    assert_string_equal(f->detail[i], "no server configured or saved, after 300 ms hold off");
    /* the bootstrap server's own account says 1 s */
    uint8_t b[256];
    answer(&f->bs, COAP_204_CHANGED);
    size_t n = tlv_security(b, f->bs_uri, true, LWM2M_SEC_NOSEC, 0);
    n += tlv_u8(b + n, 11, 1);
    assert_int_equal(request(f, &f->bs, COAP_PUT, "0/9", LWM2M_CT_TLV, -1, b, n), COAP_204_CHANGED);
    bs_write_security(f, 1, f->dm_uri, LWM2M_SEC_NOSEC, 101);
    bs_write_server(f, 1, 101);
    assert_int_equal(bs_finish(f), COAP_204_CHANGED);
    dm_register(f);
    t0 = now_ms();
    assert_int_equal(lwm2m_endpoint_bootstrap(f->ep), 0);
    assert_false(peer_wait(f, &f->bs, 800));
    expect_request(f, &f->bs, COAP_POST, "bs");
    assert_true(now_ms() - t0 >= 980);
    assert_string_equal(f->detail[event_at(f, LWM2M_EV_BOOTSTRAP_STARTED)],
                        "Bootstrap-Request Trigger, after 1 s hold off");
    /* a retry after a failed attempt follows the back-off, not the hold off */
    answer(&f->bs, COAP_403_FORBIDDEN);
    t0 = now_ms();
    expect_request(f, &f->bs, COAP_POST, "bs");
    assert_true(now_ms() - t0 < 800);
    fx_free(f);
}

/* Server-initiated bootstrap (TS Core §5.2.3): during the hold off the bootstrap server writes
 * and finishes without a Bootstrap-Request from us; another peer is still a stranger (4.01). */
static void test_server_initiated(void **state) {
    (void)state;
    struct bsfx *f = fx_new();
    f->hold_off_ms = 5000;
    fx_start(f, false);
    struct coap_addr local;
    assert_int_equal(coap_transport_local_addr(f->ep->tp, &local), 0);
    f->bs.client = local.u.in4;
    f->dm.client = f->bs.client;
    assert_int_equal(request(f, &f->dm, COAP_DELETE, "", -1, -1, NULL, 0), COAP_401_UNAUTHORIZED);
    assert_int_equal(event_at(f, LWM2M_EV_BOOTSTRAP_STARTED), -1);
    assert_int_equal(request(f, &f->bs, COAP_DELETE, "", -1, -1, NULL, 0), COAP_202_DELETED);
    int i = event_at(f, LWM2M_EV_BOOTSTRAP_STARTED);
    assert_true(i >= 0);
    assert_string_equal(f->detail[i], "server-initiated, during the hold off");
    bs_write_security(f, 1, f->dm_uri, LWM2M_SEC_NOSEC, 101);
    bs_write_server(f, 1, 101);
    assert_int_equal(bs_finish(f), COAP_204_CHANGED);
    dm_register(f);
    assert_true(lwm2m_endpoint_registered(f->ep));
    assert_false(peer_wait(f, &f->bs, 100)); /* no Bootstrap-Request, then or later */
    fx_free(f);
}

/* ---- the state file codec ----------------------------------------------------------------- */

static void test_state_codec(void **state) {
    (void)state;
    struct lwm2m_model *m;
    assert_int_equal(lwm2m_model_new(&m), 0);
    lwm2m_model_seal(m);
    struct lwm2m_bs_data d = {0}, back = {0};
    uint8_t key[3] = {0, 0xFF, 7};
    struct lwm2m_record r[] = {
        {.path = P3(0, 1, 0), .value = lwm2m_value_string("coaps://[::1]:5684", 18)},
        {.path = P3(0, 1, 2), .value = lwm2m_value_int(0)},
        {.path = P3(0, 1, 3), .value = lwm2m_value_opaque("id", 2)},
        {.path = P3(0, 1, 5), .value = lwm2m_value_opaque(key, sizeof(key))},
        {.path = P3(0, 1, 10), .value = lwm2m_value_int(7)},
        {.path = P3(1, 0, 0), .value = lwm2m_value_int(7)},
        {.path = P3(1, 0, 6), .value = lwm2m_value_bool(true)},
        {.path = P3(1, 0, 7), .value = lwm2m_value_string("UQ", 2)},
    };
    for (size_t i = sizeof(r) / sizeof(r[0]); i > 0; i--) /* out of order on purpose */
        assert_int_equal(lwm2m_bs_data_put(&d, &r[i - 1]), 0);
    uint8_t *img;
    size_t len;
    char err[128];
    assert_int_equal(lwm2m_bs_state_encode(&d, &img, &len), 0);
    assert_memory_equal(img, "LWBS\x01", 5);
    assert_int_equal(lwm2m_bs_state_decode(m, img, len, &back, err, sizeof(err)), 0);
    assert_int_equal(back.n, d.n);
    for (size_t i = 0; i < d.n; i++) {
        assert_int_equal(lwm2m_path_cmp(&back.v[i].path, &d.v[i].path), 0);
        assert_true(lwm2m_value_equal(&back.v[i].v, &d.v[i].v));
    }
    struct lwm2m_bs_server sv[2];
    assert_int_equal(lwm2m_bs_servers(&back, 1, sv, 2, err, sizeof(err)), 1);
    assert_string_equal(sv[0].cfg.uri, "coaps://[::1]:5684");
    assert_string_equal(sv[0].cfg.psk_identity, "id");
    assert_int_equal(sv[0].cfg.psk_len, 3);
    assert_string_equal(sv[0].cfg.binding, "UQ");
    assert_true(sv[0].cfg.notification_storing);
    /* damage anywhere is caught: a flipped bit, a cut, another version */
    for (size_t i = 0; i < len; i++) {
        img[i] ^= 0x10;
        assert_int_equal(lwm2m_bs_state_decode(m, img, len, &back, err, sizeof(err)),
                         LWM2M_ERR_FORMAT);
        assert_int_equal(back.n, 0);
        img[i] ^= 0x10;
    }
    assert_int_equal(lwm2m_bs_state_decode(m, img, len - 1, &back, err, sizeof(err)),
                     LWM2M_ERR_FORMAT);
    assert_int_equal(lwm2m_bs_state_decode(m, img, 3, &back, err, sizeof(err)), LWM2M_ERR_FORMAT);
    /* Delete "/0" keeps the bootstrap account */
    struct lwm2m_record bsacct = {.path = P3(0, 9, 1), .value = lwm2m_value_bool(true)};
    assert_int_equal(lwm2m_bs_data_put(&d, &bsacct), 0);
    struct lwm2m_path sec = lwm2m_path_make(1, 0, 0, 0, 0);
    lwm2m_bs_data_erase(&d, &sec, true);
    assert_true(lwm2m_bs_data_is_bs(&d, 9));
    assert_null(lwm2m_bs_data_get(&d, P3(0, 1, 0)));
    free(img);
    lwm2m_bs_data_free(&d);
    lwm2m_bs_data_free(&back);
    lwm2m_model_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_carries_ep),
        cmocka_unit_test(test_bootstrap_then_register),
        cmocka_unit_test(test_bootstrap_operations),
        cmocka_unit_test(test_finish_inconsistent),
        cmocka_unit_test(test_psk_server),
        cmocka_unit_test(test_cert_server),
        cmocka_unit_test(test_saved_state_reused),
        cmocka_unit_test(test_corrupt_state_ignored),
        cmocka_unit_test(test_request_timeout_retries),
        cmocka_unit_test(test_fallback_after_register_failures),
        cmocka_unit_test(test_bootstrap_request_trigger),
        cmocka_unit_test(test_hold_off),
        cmocka_unit_test(test_server_initiated),
        cmocka_unit_test(test_state_codec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
