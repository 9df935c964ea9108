/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the DTLS transport against a real OpenSSL DTLS server in this process, on a
 * loopback socket, both sides driven by one event_base: PSK and certificate handshakes (with
 * the server's cookie exchange), failures and their reasons, the send queue, passthrough of
 * other peers, session end and re-handshake, dropped records, close from inside callbacks, and
 * the memory an idle session keeps (OpenSSL's allocations counted through its hooks). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lwm2m/dtls.h"
#include "lwm2m/error.h"
#include "pki_test.h"

#define SRV_IDENTITY "gw-test-1"
#define SRV_KEY      "0123456789abcdef"

/* ---- OpenSSL's live heap, for the memory test ------------------------------------------------ */

static size_t g_live; /* bytes OpenSSL holds right now (tests run on one thread) */

static void *cnt_malloc(size_t n, const char *file, int line) {
    (void)file;
    (void)line;
    size_t *h = malloc(n + 16);
    if (h == NULL)
        return NULL;
    h[0] = n;
    g_live += n;
    return (char *)h + 16;
}

static void cnt_free(void *p, const char *file, int line) {
    (void)file;
    (void)line;
    if (p == NULL)
        return;
    size_t *h = (size_t *)(void *)((char *)p - 16);
    g_live -= h[0];
    free(h);
}

static void *cnt_realloc(void *p, size_t n, const char *file, int line) {
    if (p == NULL)
        return cnt_malloc(n, file, line);
    size_t *h = (size_t *)(void *)((char *)p - 16), old = h[0];
    size_t *nh = realloc(h, n + 16);
    if (nh == NULL)
        return NULL;
    g_live = g_live - old + n;
    nh[0] = n;
    return (char *)nh + 16;
}

/* ---- The in-process DTLS server -------------------------------------------------------------- */

struct srv {
    int fd; /* connected to the client's socket */
    struct event *ev;
    SSL_CTX *ctx; /* borrowed */
    SSL *ssl;
    struct coap_addr addr, client;
    int silent; /* reads and ignores everything */
    int dgrams, done, failed, closed, got;
    char log[256]; /* the plaintext datagrams received, each followed by ',' */
    int peer_cert; /* the client presented a certificate */
};

/* Appends the first bytes of a datagram and a ',' to a log (256 bytes). */
static void log_add(char *log, const void *data, size_t len) {
    size_t at = strlen(log), n = len < 16 ? len : 16;
    if (at + n + 2 > 256)
        return;
    memcpy(log + at, data, n);
    strcpy(log + at + n, ",");
}

static void srv_drop(struct srv *s) {
    SSL_free(s->ssl);
    s->ssl = NULL;
    s->done = 0;
    ERR_clear_error();
}

static void srv_read(struct srv *s) {
    char buf[2048];
    for (;;) {
        int n = SSL_read(s->ssl, buf, sizeof(buf));
        if (n <= 0) {
            int e = SSL_get_error(s->ssl, n);
            if (e != SSL_ERROR_WANT_READ) {
                s->closed += e == SSL_ERROR_ZERO_RETURN;
                srv_drop(s);
            }
            return;
        }
        s->got++;
        log_add(s->log, buf, (size_t)n);
        assert_int_equal(SSL_write(s->ssl, buf, n), n); /* echo */
    }
}

static void srv_readable(evutil_socket_t fd, short what, void *arg) {
    (void)what;
    struct srv *s = arg;
    if (s->silent) {
        char buf[2048];
        while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
            s->dgrams++;
        return;
    }
    if (s->ssl == NULL) {
        BIO *b = BIO_new_dgram(fd, BIO_NOCLOSE);
        BIO_ctrl(b, BIO_CTRL_DGRAM_SET_CONNECTED, 0, &s->client.u);
        s->ssl = SSL_new(s->ctx);
        SSL_set_bio(s->ssl, b, b);
        SSL_set_accept_state(s->ssl);
    }
    if (!s->done) {
        int r = SSL_do_handshake(s->ssl);
        if (r != 1) {
            if (SSL_get_error(s->ssl, r) != SSL_ERROR_WANT_READ) {
                s->failed++;
                srv_drop(s);
            }
            return;
        }
        s->done = 1;
        s->peer_cert = SSL_get0_peer_certificate(s->ssl) != NULL;
    }
    srv_read(s);
}

static void srv_open(struct srv *s, struct event_base *base, SSL_CTX *ctx,
                     const struct coap_addr *client) {
    memset(s, 0, sizeof(*s));
    s->ctx = ctx;
    s->client = *client;
    s->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    struct coap_addr any;
    socklen_t len = sizeof(s->addr.u);
    coap_addr_parse(&any, "127.0.0.1", 0);
    assert_int_equal(bind(s->fd, &any.u.sa, any.len), 0);
    assert_int_equal(getsockname(s->fd, &s->addr.u.sa, &len), 0);
    s->addr.len = len;
    assert_int_equal(connect(s->fd, &client->u.sa, client->len), 0);
    s->ev = event_new(base, s->fd, EV_READ | EV_PERSIST, srv_readable, s);
    event_add(s->ev, NULL);
}

static void srv_close(struct srv *s) {
    srv_drop(s);
    event_free(s->ev);
    close(s->fd);
}

static unsigned int srv_psk_cb(SSL *ssl, const char *identity, unsigned char *psk,
                               unsigned int max) {
    (void)ssl;
    if (strcmp(identity, SRV_IDENTITY) != 0 || max < strlen(SRV_KEY))
        return 0; /* unknown identity: the server alerts */
    memcpy(psk, SRV_KEY, strlen(SRV_KEY));
    return (unsigned int)strlen(SRV_KEY);
}

static int g_cookies; /* HelloVerifyRequests the server sent */

static int srv_cookie_gen(SSL *ssl, unsigned char *cookie, unsigned int *len) {
    (void)ssl;
    g_cookies++;
    memcpy(cookie, "cookie", 6);
    *len = 6;
    return 1;
}

static int srv_cookie_ok(SSL *ssl, const unsigned char *cookie, unsigned int len) {
    (void)ssl;
    return len == 6 && memcmp(cookie, "cookie", 6) == 0;
}

static int srv_accept_any(int ok, X509_STORE_CTX *x) {
    (void)ok;
    (void)x;
    return 1;
}

static SSL_CTX *srv_ctx(const char *ciphers) {
    SSL_CTX *c = SSL_CTX_new(DTLS_server_method());
    assert_non_null(c);
    assert_int_equal(SSL_CTX_set_cipher_list(c, ciphers), 1);
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(c, SSL_OP_COOKIE_EXCHANGE);
    SSL_CTX_set_cookie_generate_cb(c, srv_cookie_gen);
    SSL_CTX_set_cookie_verify_cb(c, srv_cookie_ok);
    return c;
}

/* ---- Test certificates (made at start, in a temporary directory) ----------------------------- */

struct pki {
    char dir[64];
    char ca[96], other_ca[96], cli_cert[96], cli_key[96], mismatch_key[96];
    EVP_PKEY *srv_key;
    X509 *srv_cert;
    /* the same in DER, as a bootstrap server writes them; cli_key8: PKCS#8, cli_key_trad: the
     * key's traditional form */
    struct pki_der ca_der, other_der, cli_der, cli_key8, cli_key_trad, stray_key8, srv_der;
};

static void write_pem(const char *path, X509 *cert, EVP_PKEY *key) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    if (cert != NULL)
        assert_int_equal(PEM_write_X509(f, cert), 1);
    if (key != NULL)
        assert_int_equal(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL), 1);
    fclose(f);
}

static void pki_make(struct pki *p) {
    strcpy(p->dir, "/tmp/test-dtls-XXXXXX");
    assert_non_null(mkdtemp(p->dir));
    EVP_PKEY *ca_key = EVP_EC_gen("P-256"), *other_key = EVP_EC_gen("P-256");
    EVP_PKEY *cli_key = EVP_EC_gen("P-256"), *stray = EVP_EC_gen("P-256");
    X509 *ca = pki_cert(ca_key, "test CA", NULL, NULL, 1);
    X509 *other = pki_cert(other_key, "other CA", NULL, NULL, 2);
    X509 *cli = pki_cert(cli_key, "gw-client", ca, ca_key, 3);
    p->srv_key = EVP_EC_gen("P-256");
    p->srv_cert = pki_cert(p->srv_key, "lwm2m-server", ca, ca_key, 4);
    snprintf(p->ca, sizeof(p->ca), "%s/ca.pem", p->dir);
    snprintf(p->other_ca, sizeof(p->other_ca), "%s/other.pem", p->dir);
    snprintf(p->cli_cert, sizeof(p->cli_cert), "%s/cli.pem", p->dir);
    snprintf(p->cli_key, sizeof(p->cli_key), "%s/cli.key", p->dir);
    snprintf(p->mismatch_key, sizeof(p->mismatch_key), "%s/stray.key", p->dir);
    write_pem(p->ca, ca, NULL);
    write_pem(p->other_ca, other, NULL);
    write_pem(p->cli_cert, cli, NULL);
    write_pem(p->cli_key, NULL, cli_key);
    write_pem(p->mismatch_key, NULL, stray);
    p->ca_der = pki_cert_der(ca);
    p->other_der = pki_cert_der(other);
    p->cli_der = pki_cert_der(cli);
    p->cli_key8 = pki_key_der(cli_key, true);
    p->cli_key_trad = pki_key_der(cli_key, false);
    p->stray_key8 = pki_key_der(stray, true);
    p->srv_der = pki_cert_der(p->srv_cert);
    X509_free(ca);
    X509_free(other);
    X509_free(cli);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(other_key);
    EVP_PKEY_free(cli_key);
    EVP_PKEY_free(stray);
}

static void pki_free(struct pki *p) {
    unlink(p->ca);
    unlink(p->other_ca);
    unlink(p->cli_cert);
    unlink(p->cli_key);
    unlink(p->mismatch_key);
    rmdir(p->dir);
    X509_free(p->srv_cert);
    EVP_PKEY_free(p->srv_key);
    struct pki_der *d[] = {&p->ca_der,       &p->other_der,  &p->cli_der, &p->cli_key8,
                           &p->cli_key_trad, &p->stray_key8, &p->srv_der};
    for (size_t i = 0; i < sizeof(d) / sizeof(d[0]); i++)
        pki_der_free(d[i]);
}

/* ---- Fixture: a DTLS client transport and the server, on one loop --------------------------- */

struct fx {
    struct event_base *base;
    struct event *tick; /* makes each loop pass return within 10 ms */
    struct coap_transport *t;
    struct coap_dtls_stats st;
    struct coap_addr cli_addr;
    struct srv srv;
    int ev[4];
    char why[160];
    int rx;
    char rx_log[256];
    struct coap_addr rx_from;
    int close_on_rx, close_on_event;
};

static uint64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void tick_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    (void)arg;
}

static void on_event(void *ctx, const struct coap_addr *peer, int ev, const char *why) {
    struct fx *f = ctx;
    assert_int_equal(coap_addr_cmp(peer, &f->srv.addr), 0);
    assert_true(ev >= COAP_DTLS_EV_CONNECTED && ev <= COAP_DTLS_EV_CLOSED);
    f->ev[ev]++;
    snprintf(f->why, sizeof(f->why), "%s", why);
    if (f->close_on_event) {
        coap_transport_close(f->t);
        f->t = NULL;
    }
}

static void on_rx(void *ctx, const uint8_t *data, size_t len, const struct coap_addr *from) {
    struct fx *f = ctx;
    f->rx++;
    f->rx_from = *from;
    log_add(f->rx_log, data, len);
    if (f->close_on_rx) {
        coap_transport_close(f->t);
        f->t = NULL;
    }
}

#define RUN_UNTIL(f, cond, ms)                                                                     \
    for (uint64_t end_ = now_ms() + (ms); !(cond) && now_ms() < end_;)                             \
    event_base_loop((f)->base, EVLOOP_ONCE)

static void fx_open(struct fx *f, SSL_CTX *srv_ctx_, struct coap_dtls_ctx *cli_ctx) {
    memset(f, 0, sizeof(*f));
    f->base = event_base_new();
    f->tick = event_new(f->base, -1, EV_PERSIST, tick_cb, NULL);
    struct timeval tv = {0, 10000};
    event_add(f->tick, &tv);
    struct coap_addr any;
    struct coap_transport *udp;
    coap_addr_parse(&any, "127.0.0.1", 0);
    assert_int_equal(coap_udp_open(f->base, &any, NULL, &udp), 0);
    assert_int_equal(coap_transport_local_addr(udp, &f->cli_addr), 0);
    assert_int_equal(coap_dtls_open(f->base, udp, &f->st, on_event, f, &f->t), 0);
    assert_ptr_equal(coap_dtls_inner(f->t), udp);
    coap_transport_set_rx(f->t, on_rx, f);
    srv_open(&f->srv, f->base, srv_ctx_, &f->cli_addr);
    if (cli_ctx != NULL)
        assert_int_equal(coap_dtls_add_peer(f->t, &f->srv.addr, cli_ctx), 0);
}

static void fx_close(struct fx *f) {
    coap_transport_close(f->t);
    srv_close(&f->srv);
    event_free(f->tick);
    event_base_free(f->base);
}

static int fx_send(struct fx *f, const char *s) {
    return coap_transport_send(f->t, (const uint8_t *)s, strlen(s), &f->srv.addr);
}

/* Handshake and one echo; returns when both are done. */
static void fx_connect(struct fx *f) {
    int before = f->ev[COAP_DTLS_EV_CONNECTED], rx = f->rx;
    assert_int_equal(fx_send(f, "hello"), 0);
    RUN_UNTIL(f, f->rx > rx, 3000);
    assert_int_equal(f->ev[COAP_DTLS_EV_CONNECTED], before + 1);
    assert_int_equal(f->rx, rx + 1);
    assert_int_equal(coap_dtls_peer_state(f->t, &f->srv.addr), COAP_DTLS_CONNECTED);
}

/* Runs until the handshake fails (within ms): one FAILED event, for the reason why. */
static void fx_failed(struct fx *f, unsigned ms, const char *why) {
    RUN_UNTIL(f, f->ev[COAP_DTLS_EV_FAILED] == 1, ms);
    assert_int_equal(f->ev[COAP_DTLS_EV_FAILED], 1);
    assert_string_equal(f->why, why);
}

/* ---- Shared state of the tests ----------------------------------------------------------------
 */

static struct {
    struct pki pki;
    SSL_CTX *srv_psk, *srv_cert;
    struct coap_dtls_ctx *psk, *bad_identity, *bad_key;
} g;

static struct coap_dtls_ctx *psk_ctx(const char *identity, const char *key) {
    struct coap_dtls_creds c = {.mode = COAP_DTLS_PSK,
                                .psk_identity = identity,
                                .psk = (const uint8_t *)key,
                                .psk_len = strlen(key)};
    struct coap_dtls_ctx *x = NULL;
    char err[128];
    assert_int_equal(coap_dtls_ctx_new(&c, err, sizeof(err), &x), 0);
    return x;
}

static int cert_ctx(const char *cert, const char *key, const char *ca, char *err, size_t cap,
                    struct coap_dtls_ctx **out) {
    struct coap_dtls_creds c = {
        .mode = COAP_DTLS_CERT, .cert_file = cert, .key_file = key, .ca_file = ca};
    return coap_dtls_ctx_new(&c, err, cap, out);
}

static int setup(void **state) {
    (void)state;
    pki_make(&g.pki);
    g.srv_psk = srv_ctx("PSK-AES128-CCM8:PSK-AES128-GCM-SHA256:PSK-AES128-CBC-SHA256");
    SSL_CTX_set_psk_server_callback(g.srv_psk, srv_psk_cb);
    g.srv_cert = srv_ctx("ECDHE-ECDSA-AES128-CCM8:ECDHE-ECDSA-AES128-GCM-SHA256");
    assert_int_equal(SSL_CTX_use_certificate(g.srv_cert, g.pki.srv_cert), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey(g.srv_cert, g.pki.srv_key), 1);
    SSL_CTX_set_verify(g.srv_cert, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                       srv_accept_any);
    g.psk = psk_ctx(SRV_IDENTITY, SRV_KEY);
    g.bad_identity = psk_ctx("nobody", SRV_KEY);
    g.bad_key = psk_ctx(SRV_IDENTITY, "not-the-key");
    return 0;
}

static int teardown(void **state) {
    (void)state;
    coap_dtls_ctx_unref(g.psk);
    coap_dtls_ctx_unref(g.bad_identity);
    coap_dtls_ctx_unref(g.bad_key);
    SSL_CTX_free(g.srv_psk);
    SSL_CTX_free(g.srv_cert);
    pki_free(&g.pki);
    return 0;
}

/* ---- Tests ------------------------------------------------------------------------------------
 */

/* PSK with the LwM2M mandatory suite; six datagrams sent during the handshake: the oldest two
 * are dropped, the other four go out in order once connected, and everything is echoed. */
static void test_psk_echo_and_queue(void **state) {
    (void)state;
    struct fx f;
    fx_open(&f, g.srv_psk, g.psk);
    char m[4];
    for (int i = 0; i < 6; i++) {
        snprintf(m, sizeof(m), "m%d", i);
        assert_int_equal(fx_send(&f, m), 0);
    }
    assert_int_equal(coap_dtls_peer_state(f.t, &f.srv.addr), COAP_DTLS_HANDSHAKING);
    assert_int_equal(f.st.tx_dropped, 2);
    RUN_UNTIL(&f, f.rx == 4, 3000);
    assert_int_equal(f.ev[COAP_DTLS_EV_CONNECTED], 1);
    assert_string_equal(f.why, "PSK-AES128-CCM8"); /* still allowed at the default level */
    assert_int_equal(g_cookies, 1);                /* the handshake went through a cookie */
    assert_string_equal(f.srv.log, "m2,m3,m4,m5,");
    assert_string_equal(f.rx_log, "m2,m3,m4,m5,");
    assert_int_equal(coap_addr_cmp(&f.rx_from, &f.srv.addr), 0);
    /* once connected, a send goes straight out; so does a long one */
    char big[1100];
    memset(big, 'b', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(fx_send(&f, "after"), 0);
    assert_int_equal(fx_send(&f, big), 0);
    RUN_UNTIL(&f, f.rx == 6, 3000);
    assert_int_equal(f.srv.got, 6);
    assert_int_equal(f.st.handshakes, 1);
    assert_int_equal(f.st.handshakes_ok, 1);
    assert_int_equal(f.st.handshakes_failed + f.st.rx_dropped + f.st.sessions_closed, 0);
    fx_close(&f);
}

/* An identity the server does not know: its alert fails the handshake at once, with the alert as
 * the reason, and the queued datagrams are dropped and counted. */
static void test_psk_unknown_identity(void **state) {
    (void)state;
    struct fx f;
    fx_open(&f, g.srv_psk, g.bad_identity);
    uint64_t t0 = now_ms();
    assert_int_equal(fx_send(&f, "a"), 0);
    assert_int_equal(fx_send(&f, "b"), 0);
    fx_failed(&f, 3000, "alert: unknown PSK identity");
    assert_true(now_ms() - t0 < 1000);
    assert_int_equal(f.st.tx_dropped, 2);
    assert_int_equal(f.st.handshakes_failed, 1);
    assert_int_equal(f.ev[COAP_DTLS_EV_CONNECTED], 0);
    assert_int_equal(f.srv.got, 0);
    assert_int_equal(coap_dtls_peer_state(f.t, &f.srv.addr), COAP_DTLS_NONE);
    fx_close(&f);
}

/* A peer's own identity overrides its context's (one context, many endpoint identities), and
 * clearing it goes back to the context's. */
static void test_psk_peer_identity(void **state) {
    (void)state;
    struct fx f;
    fx_open(&f, g.srv_psk, g.bad_identity); /* the context's identity is unknown to the server */
    assert_int_equal(coap_dtls_set_peer_identity(f.t, &f.srv.addr, SRV_IDENTITY), 0);
    assert_int_equal(fx_send(&f, "own"), 0);
    RUN_UNTIL(&f, f.rx == 1, 3000);
    assert_int_equal(f.ev[COAP_DTLS_EV_CONNECTED], 1);
    assert_string_equal(f.srv.log, "own,");
    /* back to the context's identity: the next handshake is refused */
    assert_int_equal(coap_dtls_set_peer_identity(f.t, &f.srv.addr, NULL), 0);
    coap_dtls_reset_peer(f.t, &f.srv.addr);
    assert_int_equal(fx_send(&f, "ctx"), 0);
    fx_failed(&f, 3000, "alert: unknown PSK identity");
    /* misuse */
    struct coap_addr other;
    coap_addr_parse(&other, "127.0.0.1", 9);
    assert_int_equal(coap_dtls_set_peer_identity(f.t, &other, "x"), LWM2M_ERR_NOTFOUND);
    assert_int_equal(coap_dtls_set_peer_identity(f.t, &f.srv.addr, ""), LWM2M_ERR_INVALID);
    fx_close(&f);
}

/* The right identity with the wrong key: an OpenSSL server drops the Finished it cannot decrypt
 * without a word, as DTLS allows; the handshake deadline ends it. (libcoap's GnuTLS server gives
 * up after its own 5 s with a close_notify: FAILED "alert: close notify".) */
static void test_psk_wrong_key(void **state) {
    (void)state;
    struct fx f;
    fx_open(&f, g.srv_psk, g.bad_key);
    assert_int_equal(coap_dtls_set_handshake_ms(f.t, 300), 0);
    assert_int_equal(fx_send(&f, "a"), 0);
    fx_failed(&f, 3000, "handshake timeout");
    assert_int_equal(f.st.tx_dropped, 1);
    assert_int_equal(f.srv.got, 0);
    fx_close(&f);
}

/* A server that never answers: OpenSSL's retransmission timer resends the ClientHello (after
 * 1 s), then the deadline fails the handshake. */
static void test_handshake_timeout(void **state) {
    (void)state;
    struct fx f;
    fx_open(&f, g.srv_psk, g.psk);
    f.srv.silent = 1;
    assert_int_equal(coap_dtls_set_handshake_ms(f.t, 0), LWM2M_ERR_INVALID);
    assert_int_equal(coap_dtls_set_handshake_ms(f.t, 1400), 0);
    uint64_t t0 = now_ms();
    assert_int_equal(fx_send(&f, "a"), 0);
    fx_failed(&f, 4000, "handshake timeout");
    assert_true(now_ms() - t0 >= 1400);
    assert_int_equal(f.srv.dgrams, 2);
    assert_int_equal(f.st.handshakes_failed, 1);
    fx_close(&f);
}

/* Certificates: verified against the right CA (and the server saw our certificate), refused
 * against another CA with the verification error as the reason, and unverified without a CA. */
static void test_cert_modes(void **state) {
    (void)state;
    struct pki *p = &g.pki;
    struct coap_dtls_ctx *ok, *wrong, *none;
    char err[160];
    assert_int_equal(cert_ctx(p->cli_cert, p->cli_key, p->ca, err, sizeof(err), &ok), 0);
    assert_int_equal(cert_ctx(p->cli_cert, p->cli_key, p->other_ca, err, sizeof(err), &wrong), 0);
    assert_int_equal(cert_ctx(p->cli_cert, p->cli_key, NULL, err, sizeof(err), &none), 0);
    struct fx f;
    fx_open(&f, g.srv_cert, ok);
    fx_connect(&f);
    assert_string_equal(f.why, "ECDHE-ECDSA-AES128-CCM8");
    assert_true(f.srv.peer_cert);
    fx_close(&f);

    fx_open(&f, g.srv_cert, wrong);
    assert_int_equal(fx_send(&f, "a"), 0);
    fx_failed(&f, 3000, "certificate verify failed: unable to get local issuer certificate");
    assert_int_equal(f.srv.got, 0);
    fx_close(&f);

    fx_open(&f, g.srv_cert, none);
    fx_connect(&f);
    fx_close(&f);
    coap_dtls_ctx_unref(ok);
    coap_dtls_ctx_unref(wrong);
    coap_dtls_ctx_unref(none);
}

/* Bad credentials are refused when the context is made, with a reason. */
static void test_ctx_errors(void **state) {
    (void)state;
    struct pki *p = &g.pki;
    struct coap_dtls_ctx *x = NULL;
    char err[200];
    assert_int_equal(cert_ctx("/nonexistent.pem", p->cli_key, NULL, err, sizeof(err), &x),
                     LWM2M_ERR_INVALID);
    assert_non_null(strstr(err, "/nonexistent.pem"));
    assert_int_equal(cert_ctx(p->cli_cert, p->mismatch_key, NULL, err, sizeof(err), &x),
                     LWM2M_ERR_INVALID);
    assert_non_null(strstr(err, "private key"));
    assert_non_null(strstr(err, "mismatch"));
    assert_int_equal(cert_ctx(p->cli_cert, p->cli_key, "/nonexistent-ca.pem", NULL, 0, &x),
                     LWM2M_ERR_INVALID);
    struct coap_dtls_creds c = {
        .mode = COAP_DTLS_PSK, .psk_identity = "", .psk = (const uint8_t *)"k", .psk_len = 1};
    assert_int_equal(coap_dtls_ctx_new(&c, err, sizeof(err), &x), LWM2M_ERR_INVALID);
    assert_non_null(strstr(err, "identity"));
    c.psk_identity = "id";
    c.psk_len = 65;
    assert_int_equal(coap_dtls_ctx_new(&c, err, sizeof(err), &x), LWM2M_ERR_INVALID);
    assert_null(x);
    assert_int_equal(ERR_peek_error(), 0); /* nothing left in OpenSSL's queue */
}

/* A context from DER credentials (a bootstrap server's), with the client's certificate. */
static int der_ctx(const struct pki_der *key, const struct pki_der *srv, uint8_t usage,
                   uint8_t mtype, char *err, size_t cap, struct coap_dtls_ctx **out) {
    struct coap_dtls_creds c = {.mode = COAP_DTLS_CERT,
                                .cert_der = g.pki.cli_der.p,
                                .cert_der_len = g.pki.cli_der.len,
                                .key_der = key->p,
                                .key_der_len = key->len,
                                .server_der = srv->p,
                                .server_der_len = srv->len,
                                .cert_usage = usage,
                                .matching_type = mtype};
    *out = NULL;
    return coap_dtls_ctx_new(&c, err, cap, out);
}

static struct pki_der sha256_of(const struct pki_der *d, uint8_t *buf) {
    unsigned int n = 0;
    assert_int_equal(EVP_Digest(d->p, d->len, buf, &n, EVP_sha256(), NULL), 1);
    return (struct pki_der){buf, n};
}

/* LwM2M's Certificate Usage (/0/x/15) against the in-process server, whose certificate the test
 * CA signed: 3 pins the server's certificate (or its SHA-256 with matching type 1) and checks
 * nothing else; 2 and 0 take the CA (2: or any certificate of the chain) as the trust anchor;
 * 1 pins and verifies to the system's anchors, which know the test CA only through
 * SSL_CERT_FILE. The key in PKCS#8 or its traditional form. */
static void test_cert_der_usages(void **state) {
    (void)state;
    struct pki *p = &g.pki;
    uint8_t h_srv[32], h_ca[32];
    struct pki_der d_srv = sha256_of(&p->srv_der, h_srv), d_ca = sha256_of(&p->ca_der, h_ca);
    static const char rejected[] = "certificate verify failed: certificate rejected";
    static const char no_issuer[] =
        "certificate verify failed: unable to get local issuer certificate";
    const struct {
        const struct pki_der *key, *srv;
        uint8_t usage, mtype;
        const char *ca_env; /* SSL_CERT_FILE, or NULL: unset */
        const char *fails;  /* NULL: connects */
    } cases[] = {
        {&p->cli_key8, &p->srv_der, 3, 0, NULL, NULL},
        {&p->cli_key_trad, &p->srv_der, 3, 0, NULL, NULL},
        {&p->cli_key8, &p->ca_der, 3, 0, NULL, rejected},
        {&p->cli_key8, &d_srv, 3, 1, NULL, NULL},
        {&p->cli_key8, &d_ca, 3, 1, NULL, rejected},
        {&p->cli_key8, &p->ca_der, 2, 0, NULL, NULL},
        {&p->cli_key8, &p->srv_der, 2, 0, NULL, NULL},
        {&p->cli_key8, &p->other_der, 2, 0, NULL, no_issuer},
        {&p->cli_key8, &p->ca_der, 0, 0, NULL, NULL},
        {&p->cli_key8, &p->srv_der, 1, 0, NULL, no_issuer},
        {&p->cli_key8, &p->srv_der, 1, 0, p->ca, NULL},
        {&p->cli_key8, &p->other_der, 1, 0, p->ca, rejected},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct coap_dtls_ctx *x;
        char err[160] = "";
        if (cases[i].ca_env != NULL)
            setenv("SSL_CERT_FILE", cases[i].ca_env, 1);
        else
            unsetenv("SSL_CERT_FILE");
        assert_int_equal(der_ctx(cases[i].key, cases[i].srv, cases[i].usage, cases[i].mtype, err,
                                 sizeof(err), &x),
                         0);
        unsetenv("SSL_CERT_FILE");
        struct fx f;
        fx_open(&f, g.srv_cert, x);
        if (cases[i].fails == NULL) {
            fx_connect(&f);
            assert_true(f.srv.peer_cert);
        } else {
            assert_int_equal(fx_send(&f, "a"), 0);
            fx_failed(&f, 3000, cases[i].fails);
            assert_int_equal(f.srv.got, 0);
        }
        fx_close(&f);
        coap_dtls_ctx_unref(x);
    }
}

/* DER credentials OpenSSL cannot use are refused when the context is made, with a reason that
 * names the part (never its bytes). */
static void test_cert_der_errors(void **state) {
    (void)state;
    struct pki *p = &g.pki;
    struct coap_dtls_ctx *x = NULL;
    char err[200];
    uint8_t junk[40], h[32];
    memset(junk, 0x30, sizeof(junk));
    struct pki_der garbage = {junk, sizeof(junk)}, digest = sha256_of(&p->srv_der, h);
    struct pki_der empty = {NULL, 0};
    /* a key that is not the certificate's */
    assert_int_equal(der_ctx(&p->stray_key8, &p->srv_der, 3, 0, err, sizeof(err), &x),
                     LWM2M_ERR_INVALID);
    assert_string_equal(err, "private key: key values mismatch");
    /* a key that is not DER, a server certificate that is not one, none at all */
    assert_int_equal(der_ctx(&garbage, &p->srv_der, 3, 0, err, sizeof(err), &x), LWM2M_ERR_INVALID);
    assert_non_null(strstr(err, "private key: "));
    assert_int_equal(der_ctx(&p->cli_key8, &garbage, 3, 0, err, sizeof(err), &x),
                     LWM2M_ERR_INVALID);
    assert_non_null(strstr(err, "server certificate: "));
    assert_int_equal(der_ctx(&p->cli_key8, &empty, 3, 0, err, sizeof(err), &x), LWM2M_ERR_INVALID);
    assert_string_equal(err, "server certificate missing");
    /* bytes after a valid certificate */
    uint8_t *longer = malloc(p->srv_der.len + 1);
    memcpy(longer, p->srv_der.p, p->srv_der.len);
    longer[p->srv_der.len] = 0;
    struct pki_der trailing = {longer, p->srv_der.len + 1};
    assert_int_equal(der_ctx(&p->cli_key8, &trailing, 3, 0, err, sizeof(err), &x),
                     LWM2M_ERR_INVALID);
    assert_non_null(strstr(err, "bytes after its DER"));
    free(longer);
    /* digests: only where a certificate is pinned, and of the right length */
    assert_int_equal(der_ctx(&p->cli_key8, &digest, 2, 1, err, sizeof(err), &x), LWM2M_ERR_INVALID);
    assert_non_null(strstr(err, "usage 1 or 3"));
    assert_int_equal(der_ctx(&p->cli_key8, &digest, 3, 2, err, sizeof(err), &x), LWM2M_ERR_INVALID);
    assert_non_null(strstr(err, "wrong length"));
    assert_int_equal(der_ctx(&p->cli_key8, &p->srv_der, 4, 0, err, sizeof(err), &x),
                     LWM2M_ERR_INVALID);
    /* files and DER together */
    struct coap_dtls_creds c = {.mode = COAP_DTLS_CERT,
                                .cert_file = p->cli_cert,
                                .key_der = p->cli_key8.p,
                                .key_der_len = p->cli_key8.len};
    assert_int_equal(coap_dtls_ctx_new(&c, err, sizeof(err), &x), LWM2M_ERR_INVALID);
    assert_null(x);
    assert_int_equal(ERR_peek_error(), 0); /* nothing left in OpenSSL's queue */
}

static void plain_rx(void *ctx, const uint8_t *data, size_t len, const struct coap_addr *from) {
    (void)from;
    char *heard = ctx;
    memcpy(heard, data, len < 15 ? len : 15);
    heard[len < 15 ? len : 15] = '\0';
}

/* A peer that was not added talks in clear both ways, beside a DTLS one. */
static void test_passthrough(void **state) {
    (void)state;
    struct fx f;
    fx_open(&f, g.srv_psk, g.psk);
    struct coap_transport *plain;
    struct coap_addr any, plain_addr;
    coap_addr_parse(&any, "127.0.0.1", 0);
    assert_int_equal(coap_udp_open(f.base, &any, NULL, &plain), 0);
    coap_transport_local_addr(plain, &plain_addr);
    char heard[16] = "";
    coap_transport_set_rx(plain, plain_rx, heard);
    assert_int_equal(coap_transport_send(plain, (const uint8_t *)"clear", 5, &f.cli_addr), 0);
    RUN_UNTIL(&f, f.rx == 1, 2000);
    assert_string_equal(f.rx_log, "clear,");
    assert_int_equal(coap_addr_cmp(&f.rx_from, &plain_addr), 0);
    assert_int_equal(coap_transport_send(f.t, (const uint8_t *)"back", 4, &plain_addr), 0);
    RUN_UNTIL(&f, heard[0] != '\0', 2000);
    assert_string_equal(heard, "back");
    assert_int_equal(coap_dtls_peer_state(f.t, &plain_addr), COAP_DTLS_NONE);
    fx_connect(&f); /* the DTLS peer beside it */
    assert_string_equal(f.rx_log, "clear,hello,");
    coap_transport_close(plain);
    fx_close(&f);
}

/* The server's close_notify ends the session (CLOSED, answered with ours); the next send starts
 * a new handshake. */
static void test_server_close_and_rehandshake(void **state) {
    (void)state;
    struct fx f;
    fx_open(&f, g.srv_psk, g.psk);
    fx_connect(&f);
    assert_int_equal(SSL_shutdown(f.srv.ssl), 0);
    srv_drop(&f.srv);
    RUN_UNTIL(&f, f.ev[COAP_DTLS_EV_CLOSED] == 1, 2000);
    assert_int_equal(f.ev[COAP_DTLS_EV_CLOSED], 1);
    assert_string_equal(f.why, "close notify");
    assert_int_equal(f.st.sessions_closed, 1);
    assert_int_equal(coap_dtls_peer_state(f.t, &f.srv.addr), COAP_DTLS_NONE);
    fx_connect(&f);
    assert_int_equal(f.st.handshakes, 2);
    assert_int_equal(f.st.handshakes_ok, 2);
    fx_close(&f);
}

/* reset_peer sends close_notify, forgets the session and its queue; the next send handshakes. */
static void test_reset_peer(void **state) {
    (void)state;
    struct fx f;
    fx_open(&f, g.srv_psk, g.psk);
    fx_connect(&f);
    coap_dtls_reset_peer(f.t, &f.srv.addr);
    assert_int_equal(coap_dtls_peer_state(f.t, &f.srv.addr), COAP_DTLS_NONE);
    RUN_UNTIL(&f, f.srv.closed == 1, 2000);
    assert_int_equal(f.srv.closed, 1);
    assert_int_equal(f.st.sessions_closed, 1);
    assert_int_equal(f.ev[COAP_DTLS_EV_CLOSED], 0); /* the caller knows: no event */
    /* reset while handshaking drops the queue */
    assert_int_equal(fx_send(&f, "q"), 0);
    coap_dtls_reset_peer(f.t, &f.srv.addr);
    assert_int_equal(f.st.tx_dropped, 1);
    srv_drop(&f.srv); /* the server's half-done handshake */
    fx_connect(&f);
    assert_int_equal(f.st.handshakes_ok, 2);
    /* adding the peer again (new credentials) drops the session too */
    assert_int_equal(coap_dtls_add_peer(f.t, &f.srv.addr, g.psk), 0);
    assert_int_equal(coap_dtls_peer_state(f.t, &f.srv.addr), COAP_DTLS_NONE);
    fx_close(&f);
}

/* Records from the server that do not decrypt, and clear text from its address, are dropped and
 * counted, never passed up; the session survives them. */
static void test_undecryptable_dropped(void **state) {
    (void)state;
    struct fx f;
    fx_open(&f, g.srv_psk, g.psk);
    fx_connect(&f);
    uint8_t rec[13 + 24] = {23, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 99, 0, 24};
    for (size_t i = 13; i < sizeof(rec); i++)
        rec[i] = (uint8_t)(i * 7);
    assert_int_equal(send(f.srv.fd, rec, sizeof(rec), 0), (ssize_t)sizeof(rec));
    assert_int_equal(send(f.srv.fd, "\x40\x01\x00\x01", 4, 0), 4); /* a clear CoAP GET */
    RUN_UNTIL(&f, f.st.rx_dropped == 2, 2000);
    assert_int_equal(f.st.rx_dropped, 2);
    assert_int_equal(f.rx, 1);
    assert_int_equal(fx_send(&f, "still"), 0);
    RUN_UNTIL(&f, f.rx == 2, 2000);
    assert_string_equal(f.rx_log, "hello,still,");
    assert_int_equal(f.ev[COAP_DTLS_EV_CLOSED], 0);
    fx_close(&f);
}

/* Closing the transport from inside its receive callback, and from inside its event callback. */
static void test_close_in_callbacks(void **state) {
    (void)state;
    struct fx f;
    fx_open(&f, g.srv_psk, g.psk);
    f.close_on_rx = 1;
    assert_int_equal(fx_send(&f, "one"), 0);
    assert_int_equal(fx_send(&f, "two"), 0);
    RUN_UNTIL(&f, f.t == NULL, 3000);
    assert_null(f.t);
    assert_int_equal(f.rx, 1); /* the second echo is not delivered after close */
    fx_close(&f);

    fx_open(&f, g.srv_psk, g.psk);
    f.close_on_event = 1;
    assert_int_equal(fx_send(&f, "x"), 0);
    RUN_UNTIL(&f, f.t == NULL, 3000);
    assert_null(f.t);
    assert_int_equal(f.ev[COAP_DTLS_EV_CONNECTED], 1);
    fx_close(&f);
}

/* Misuse is refused; a UDP transport is not a DTLS one. */
static void test_api_misuse(void **state) {
    (void)state;
    struct event_base *base = event_base_new();
    struct coap_transport *udp;
    struct coap_addr any;
    coap_addr_parse(&any, "127.0.0.1", 0);
    assert_int_equal(coap_udp_open(base, &any, NULL, &udp), 0);
    assert_int_equal(coap_dtls_add_peer(udp, &any, g.psk), LWM2M_ERR_INVALID);
    assert_int_equal(coap_dtls_peer_state(udp, &any), COAP_DTLS_NONE);
    assert_null(coap_dtls_inner(udp));
    coap_dtls_reset_peer(udp, &any); /* a no-op */
    assert_int_equal(coap_dtls_set_handshake_ms(udp, 10), LWM2M_ERR_INVALID);
    coap_transport_close(udp);
    event_base_free(base);
}

/* What an established, idle session keeps of OpenSSL's heap (the server's SSL freed first; the
 * transport's own per-peer struct and timer come on top, a few hundred bytes); reset gives it all
 * back. The design budget is 48 KiB per endpoint. */
static void test_session_memory(void **state) {
    (void)state;
    struct fx f;
    fx_open(&f, g.srv_psk, g.psk);
    fx_connect(&f); /* warms OpenSSL's global caches */
    coap_dtls_reset_peer(f.t, &f.srv.addr);
    RUN_UNTIL(&f, f.srv.closed == 1, 2000);
    size_t before = g_live;
    fx_connect(&f);
    srv_drop(&f.srv);
    size_t session = g_live - before;
    print_message("DTLS session, established and idle: %zu bytes of OpenSSL heap\n", session);
    assert_true(session > 1024); /* the counting works at all */
    assert_true(session < 48 * 1024);
    coap_dtls_reset_peer(f.t, &f.srv.addr);
    assert_true(g_live <= before + 256);
    fx_close(&f);
}

int main(void) {
    /* Before OpenSSL allocates anything: afterwards it refuses. */
    if (!CRYPTO_set_mem_functions(cnt_malloc, cnt_realloc, cnt_free))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_psk_echo_and_queue),
        cmocka_unit_test(test_psk_unknown_identity),
        cmocka_unit_test(test_psk_peer_identity),
        cmocka_unit_test(test_psk_wrong_key),
        cmocka_unit_test(test_handshake_timeout),
        cmocka_unit_test(test_cert_modes),
        cmocka_unit_test(test_ctx_errors),
        cmocka_unit_test(test_cert_der_usages),
        cmocka_unit_test(test_cert_der_errors),
        cmocka_unit_test(test_passthrough),
        cmocka_unit_test(test_server_close_and_rehandshake),
        cmocka_unit_test(test_reset_peer),
        cmocka_unit_test(test_undecryptable_dropped),
        cmocka_unit_test(test_close_in_callbacks),
        cmocka_unit_test(test_api_misuse),
        cmocka_unit_test(test_session_memory),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
