# SPDX-License-Identifier: Apache-2.0
"""`lwm2m-gateway run` with coaps:// servers: DTLS 1.2 (the gateway's OpenSSL client) against the
test LwM2M server on libcoap3's GnuTLS flavour, so the two ends share no DTLS code.
- PSK with an identity per device (`identity: "psk-{device}"`, the key from the environment):
  every device registers over its own session under its own identity, a Read and an Observe
  reach it through the session, /metrics counts the handshakes, SIGTERM de-registers over DTLS.
- A wrong key fails the handshake, is logged with the reason at once (not after CoAP's
  retransmissions) and retried; nothing registers; the gateway stays up.
- Certificates (mode cert, EC P-256 from openssl): the server sees the device's certificate CN;
  a server_ca that did not sign the server's certificate fails with the verification reason.
- Credentials OpenSSL refuses (a key that does not match the certificate) stop `run` with exit 2.
- A server that lost its DTLS sessions (a restart) leaves the gateway's Update unanswered: the
  gateway handshakes anew and registers again (short CoAP timers from lwm2m.coap).
- A reload that changes the identity: deregistered, registered again under the new identity.
- Gateway mode: the one endpoint's session (identity from `{gateway}`) carries the hosted
  devices' paths.
- A NoSec and a PSK server on one endpoint: both registrations, one socket; the NoSec one named
  by a host name (localhost), resolved at start.
Prints `N passed, M failed`."""
import os
import re
import shutil
import subprocess
import tempfile

import dtls_certs
import harness
from gw_fixtures import GatewayProc, constant_devices, http_get
from lwm2m_server import CT_TEXT, LwM2MServer
from mb_common import free_tcp_port

GW_ID = "gw-dtls"
KEY = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
S = {}


def ep(name):
    return "urn:dev:%s:%s" % (GW_ID, name)


def config(servers, devices=("c1", "c2"), http=None, extra=""):
    lines = ["gateway: { id: %s, log_level: debug%s }"
             % (GW_ID, ", http: '127.0.0.1:%d'" % http if http else ""),
             "lwm2m:",
             "  lifetime: 60",
             extra.rstrip("\n"),
             "  servers:"] + ["    - " + s for s in servers] + constant_devices(devices)
    return "\n".join(ln for ln in lines if ln) + "\n"


def psk_server(identity="psk-{device}", key="${GW_TEST_DTLS_PSK}"):
    return ("{ uri: '%s', security: { mode: psk, identity: '%s', key: '%s' } }"
            % (S["srv"].dtls_uri, identity, key))


def metric(port, name):
    status, body = http_get(port, "/metrics")
    assert status == 200, status
    m = re.search(r"^%s (\d+)$" % re.escape(name), body, re.M)
    return int(m.group(1)) if m else None


def test_start():
    S["dir"] = tempfile.mkdtemp(prefix="gw-dtls-pki-")
    S["pki"] = dtls_certs.make_pki(S["dir"], client_cns=[ep("k1"), ep("k2")])
    S["other_ca"], _ = dtls_certs.make_ca(S["dir"], cn="another-ca", name="other")
    S["srv"] = LwM2MServer(dtls_port=0, psk={"psk-c1": KEY, "psk-c2": KEY, "psk-m1": KEY,
                                             GW_ID + "-psk": KEY},
                           pki=dtls_certs.server_pki(S["pki"])).start()


def test_psk_identity_per_device():
    http = free_tcp_port()
    gw = GatewayProc(config([psk_server()], http=http), env={"GW_TEST_DTLS_PSK": KEY},
                     prefix="gw-dtls-psk-")
    try:
        regs = S["srv"].wait_registrations([ep("c1"), ep("c2")], timeout=15)
        for name in ("c1", "c2"):
            reg = regs[ep(name)]
            assert reg.secure is True and reg.psk_identity == "psk-" + name, reg.raw
        r = S["srv"].read(ep("c1"), "/3303/0/5700", accept=CT_TEXT)
        assert r.code == "2.05" and float(r.text) == 21.5, r
        obs = S["srv"].observe(ep("c2"), "/3303/0/5701", accept=CT_TEXT)
        assert obs.code == "2.05" and obs.text == "Cel", obs
        assert metric(http, 'lwm2m_gateway_dtls_handshakes_total{result="ok"}') >= 2
        assert metric(http, 'lwm2m_gateway_dtls_handshakes_total{result="failed"}') == 0
    finally:
        gw.stop()
    for name in ("c1", "c2"):
        S["srv"].wait_deregistration(ep(name), timeout=5)


def test_wrong_key_fails_fast_and_retries():
    S["t_bad"] = max([e["t"] for e in S["srv"].events()] or [0])
    gw = GatewayProc(config([psk_server(key="00" * 16)], devices=("c1",)), prefix="gw-dtls-bad-")
    try:
        lines = gw.wait_log(r"secure-failed with server 1", timeout=10)
        assert "c1" in lines[0], lines[0]
        # registration fails with the handshake, not after CoAP's 93 s of retransmissions
        gw.wait_log(r"register-failed with server 1", timeout=5)
        assert not [e for e in S["srv"].events("register") if e.get("ep") == ep("c1") and
                    e["t"] > S["t_bad"]], "registered with a wrong key"
        # the server saw the handshake record that does not decrypt
        S["srv"].wait_dtls_failed(lambda e: "wrong key" in e.get("reason", ""), timeout=1)
    finally:
        log = gw.stop()
    assert "AddressSanitizer" not in log


def test_cert_mode():
    pki = S["pki"]
    files = [(pki["ca"], "ca.pem"), (pki["clients"][ep("k1")]["cert"], "k1.pem"),
             (pki["clients"][ep("k1")]["key"], "k1.key")]
    srv = "{ uri: '%s', security: { mode: cert, cert: k1.pem, key: k1.key, server_ca: ca.pem } }" \
        % S["srv"].dtls_uri
    gw = GatewayProc(config([srv], devices=("k1",)), files=files, prefix="gw-dtls-cert-")
    try:
        reg = S["srv"].wait_registration(ep("k1"), timeout=15)
        assert reg.secure is True and reg.cert_cn == ep("k1"), reg.raw
        r = S["srv"].read(ep("k1"), "/3/0/0", accept=CT_TEXT)
        assert r.code == "2.05" and r.text == "Thermo Inc", r
    finally:
        gw.stop()
    S["srv"].wait_deregistration(ep("k1"), timeout=5)


def test_cert_wrong_server_ca():
    pki = S["pki"]
    files = [(S["other_ca"], "ca.pem"), (pki["clients"][ep("k2")]["cert"], "k2.pem"),
             (pki["clients"][ep("k2")]["key"], "k2.key")]
    srv = "{ uri: '%s', security: { mode: cert, cert: k2.pem, key: k2.key, server_ca: ca.pem } }" \
        % S["srv"].dtls_uri
    gw = GatewayProc(config([srv], devices=("k2",)), files=files, prefix="gw-dtls-ca-")
    try:
        lines = gw.wait_log(r"secure-failed with server 1", timeout=10)
        assert "certificate verify failed" in lines[0], lines[0]
        assert not [e for e in S["srv"].events("register") if e.get("ep") == ep("k2")]
    finally:
        gw.stop()


def test_mismatched_key_refused_at_start():
    """A key that is not the certificate's: exit 2 at start with OpenSSL's reason, not one
    failure per endpoint later."""
    pki = S["pki"]
    with tempfile.TemporaryDirectory(prefix="gw-dtls-mismatch-") as d:
        shutil.copy(pki["clients"][ep("k1")]["cert"], os.path.join(d, "k1.pem"))
        shutil.copy(pki["clients"][ep("k2")]["key"], os.path.join(d, "k2.key"))
        cfg = os.path.join(d, "gw.yaml")
        with open(cfg, "w", encoding="utf-8") as f:
            f.write(config(["{ uri: '%s', security: { mode: cert, cert: k1.pem, key: k2.key } }"
                            % S["srv"].dtls_uri], devices=("k1",)))
        r = subprocess.run([harness.binary("bridge", "lwm2m-gateway"), "run", "-c", cfg],
                           capture_output=True, text=True, timeout=20)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert re.search(r"gw\.yaml: lwm2m\.servers\[0\]\.security: .*(key|certificate)", r.stderr), \
        r.stderr


def test_server_lost_session():
    extra = "  coap: { ack_timeout: 300ms, max_retransmit: 1 }\n"
    text = config([psk_server()], devices=("m1",), extra=extra).replace("lifetime: 60",
                                                                        "lifetime: 8")
    gw = GatewayProc(text, env={"GW_TEST_DTLS_PSK": KEY}, prefix="gw-dtls-lost-")
    try:
        first = S["srv"].wait_registration(ep("m1"), timeout=15)
        S["srv"].drop_sessions()
        # The Update (due at half the lifetime) goes unanswered; the gateway drops its session,
        # handshakes again and registers anew.
        again = S["srv"].wait_registration(ep("m1"), timeout=20)
        assert again.secure is True, again.raw
        assert again.t > first.t, (first.raw, again.raw)
        log = gw.log()
        assert "timeout with server 1" in log, log[-3000:]
    finally:
        gw.stop()


def test_reload_new_identity():
    """SIGHUP with another identity template: the endpoint deregisters and registers anew under
    the new identity (a new session)."""
    gw = GatewayProc(config([psk_server()], devices=("c1",)), env={"GW_TEST_DTLS_PSK": KEY},
                     prefix="gw-dtls-reload-")
    try:
        reg = S["srv"].wait_registration(ep("c1"), timeout=15)
        assert reg.psk_identity == "psk-c1", reg.raw
        gw.reload(config([psk_server(identity="{gateway}-psk")], devices=("c1",)))
        S["srv"].wait_deregistration(ep("c1"), timeout=10)
        reg = S["srv"].wait_registration(ep("c1"), timeout=15)
        assert reg.secure is True and reg.psk_identity == GW_ID + "-psk", reg.raw
    finally:
        gw.stop()
    S["srv"].wait_deregistration(ep("c1"), timeout=5)


def test_nosec_and_psk_on_one_endpoint():
    plain = LwM2MServer().start()
    try:
        # a host name: resolved once at start (IPv4 first), the engine gets the address
        servers = [psk_server(), "{ uri: 'coap://localhost:%d' }" % plain.port]
        gw = GatewayProc(config(servers, devices=("c1",)), env={"GW_TEST_DTLS_PSK": KEY},
                         prefix="gw-dtls-mixed-")
        try:
            secure = S["srv"].wait_registration(ep("c1"), timeout=15)
            clear = plain.wait_registration(ep("c1"), timeout=15)
            assert secure.secure is True and clear.secure is False, (secure.raw, clear.raw)
            assert secure.port == clear.port, (secure.port, clear.port)  # one socket
            gw.wait_log(r"lwm2m\.servers\[1\]: localhost is 127\.0\.0\.1", timeout=1)
            r = plain.read(ep("c1"), "/3303/0/5700", accept=CT_TEXT)
            assert r.code == "2.05" and float(r.text) == 21.5, r
        finally:
            gw.stop()
    finally:
        plain.stop()


def test_gateway_mode():
    """One DTLS session for the one endpoint; a Read of a hosted device goes through it."""
    text = config([psk_server(identity="{gateway}-psk")]).replace(
        "lwm2m:\n", "lwm2m:\n  mode: gateway\n", 1)
    gw = GatewayProc(text, env={"GW_TEST_DTLS_PSK": KEY}, prefix="gw-dtls-gwmode-")
    try:
        reg = S["srv"].wait_registration("urn:dev:" + GW_ID, timeout=15)
        assert reg.secure is True and reg.psk_identity == GW_ID + "-psk", reg.raw
        harness.wait_for(lambda: S["srv"].read("urn:dev:" + GW_ID, "/c2/3303/0/5700",
                                               accept=CT_TEXT).code == "2.05",
                         timeout=5, what="a hosted device's value over DTLS")
    finally:
        gw.stop()
    S["srv"].wait_deregistration("urn:dev:" + GW_ID, timeout=5)


def test_cleanup():
    if S.get("srv"):
        S["srv"].stop()
    if S.get("dir"):
        shutil.rmtree(S["dir"], ignore_errors=True)


if __name__ == "__main__":
    harness.run([test_start, test_psk_identity_per_device, test_wrong_key_fails_fast_and_retries,
                 test_cert_mode, test_cert_wrong_server_ca, test_mismatched_key_refused_at_start,
                 test_server_lost_session, test_reload_new_identity,
                 test_nosec_and_psk_on_one_endpoint, test_gateway_mode, test_cleanup])
