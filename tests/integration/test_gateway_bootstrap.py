# SPDX-License-Identifier: Apache-2.0
"""`lwm2m-gateway run` with an LwM2M bootstrap server (client-initiated bootstrap): the test
LwM2M server (libcoap3, GnuTLS) plays the bootstrap server with a script per endpoint (Delete /,
Write /0/x and /1/x in TLV, Finish) and the LwM2M server the script names.
- Only `lwm2m.bootstrap` configured: each device's endpoint bootstraps, is given a DTLS-PSK
  server with its own identity, registers over DTLS, and a Read reaches it; what the bootstrap
  server wrote is kept in gateway.state_dir.
- A restart registers at once from the kept state, without a Bootstrap-Request.
- A configuration the gateway cannot use (a Security instance without its Server instance) is
  answered 4.06 at Finish, logged, and the bootstrap is retried with back-off; a fixed script
  then succeeds.
- The bootstrap server itself over DTLS-PSK (identity from `{device}`).
- A device removed by a reload takes its bootstrap state along.
- Certificate mode written by the bootstrap server (the device's certificate, the server's
  certificate and the device's private key as DER, TLV): the endpoint registers over DTLS with
  its certificate (the test server's PKI listener sees its CN), with Certificate Usage 3 (the
  server's certificate pinned) and 2 (the CA as trust anchor); the state file that keeps the key
  is mode 0600, and a restart registers from it. A key that is not the certificate's is answered
  4.06 with the reason; a pinned certificate that is not the server's fails the handshake.
- Client Hold Off Time: `hold_off: 2s` delays the first Bootstrap-Request; the 1 s the bootstrap
  server wrote for its own account (/0/x/11) delays the one a server triggers with /1/x/9.
- Server-initiated bootstrap: during a 30 s hold off the test server plays the script to the
  endpoint's port (from /api/v1/devices) without a Bootstrap-Request, and the endpoint registers.
Prints `N passed, M failed`."""
import glob
import json
import os
import shutil
import stat
import tempfile
import time

import dtls_certs
import harness
from gw_fixtures import GatewayProc, constant_devices, http_get
from mb_common import free_tcp_port
from lwm2m_server import (CT_TEXT, LwM2MServer, bs_delete, bs_finish, bs_security, bs_server)

GW_ID = "gw-bs"
KEY = "0102030405060708090a0b0c0d0e0f10"
BS_KEY = "f0e0d0c0b0a090807060504030201000"
S = {}


def ep(name):
    return "urn:dev:%s:%s" % (GW_ID, name)


def config(devices, bootstrap, bs_timeout=None, http=None):
    lines = ["gateway: { id: %s, log_level: debug, state_dir: '%s'%s }"
             % (GW_ID, S["state"], ", http: '127.0.0.1:%d'" % http if http else ""),
             "lwm2m:",
             "  lifetime: 60",
             "  bootstrap: " + (bootstrap if bs_timeout is None else
                                bootstrap.replace("{ uri:", "{ timeout: %s, uri:" % bs_timeout))
             ] + constant_devices(devices)
    return "\n".join(lines) + "\n"


def plain_bs():
    return "{ uri: 'coap://127.0.0.1:%d' }" % S["srv"].port


def dtls_script(name):
    """Delete everything, one DTLS-PSK server with the device's own identity, Finish."""
    return [bs_delete("/"),
            bs_security(1, S["srv"].dtls_uri, mode="psk", ssid=1, identity=b"psk-" + name.encode(),
                        key=bytes.fromhex(KEY)),
            bs_server(1, ssid=1, lifetime=60),
            bs_finish()]


def state_files():
    return sorted(glob.glob(os.path.join(S["state"], "*.bs")))


def cert_script(name, usage=None, trust=None, key_of=None, traditional=False):
    """Delete everything, one certificate-mode server (the device's certificate and key, the
    server's certificate or, with trust, another one), Finish."""
    pki = S["pki"]
    client = pki["clients"][ep(name)]
    more = {"r15": usage} if usage is not None else {}
    return [bs_delete("/"),
            bs_security(1, S["srv"].dtls_uri, mode="cert", ssid=1,
                        identity=dtls_certs.der_cert(client["cert"]),
                        server_key=dtls_certs.der_cert(trust or pki["server_cert"]),
                        key=dtls_certs.der_key(key_of or client["key"], traditional=traditional),
                        **more),
            bs_server(1, ssid=1, lifetime=60),
            bs_finish()]


def test_start():
    S["state"] = tempfile.mkdtemp(prefix="gw-bs-state-")
    S["pki_dir"] = tempfile.mkdtemp(prefix="gw-bs-pki-")
    S["pki"] = dtls_certs.make_pki(S["pki_dir"], client_cns=[ep(n) for n in ("c1", "c2", "c3")])
    S["srv"] = LwM2MServer(dtls_port=0, psk={"psk-b1": KEY, "psk-b2": KEY, "bs-b4": BS_KEY,
                                             "psk-b4": KEY},
                           pki=dtls_certs.server_pki(S["pki"])).start()


def test_bootstrap_then_register_over_dtls():
    for name in ("b1", "b2"):
        S["srv"].bs_config(ep(name), dtls_script(name))
    gw = GatewayProc(config(["b1", "b2"], plain_bs()), prefix="gw-bs-first-")
    try:
        for name in ("b1", "b2"):
            req = S["srv"].wait_bs_request(ep(name), timeout=15)
            assert req["code"] == "2.04" and req["secure"] is False, req
            fin = S["srv"].wait_bs_finished(ep(name), timeout=10)
            assert fin["code"] == "2.04", fin
            reg = S["srv"].wait_registration(ep(name), timeout=15)
            assert reg.secure is True and reg.psk_identity == "psk-" + name, reg.raw
        r = S["srv"].read(ep("b1"), "/3303/0/5700", accept=CT_TEXT)
        assert r.code == "2.05" and float(r.text) == 21.5, r
        gw.wait_log(r"bootstrap-finished with the bootstrap server", count=2)
        assert len(state_files()) == 2, state_files()
    finally:
        gw.stop()
    for name in ("b1", "b2"):
        S["srv"].wait_deregistration(ep(name), timeout=5)


def test_restart_uses_kept_state():
    before = len(S["srv"].events("bs_request"))
    gw = GatewayProc(config(["b1", "b2"], plain_bs()), prefix="gw-bs-again-")
    try:
        for name in ("b1", "b2"):
            reg = S["srv"].wait_registration(ep(name), timeout=15)
            assert reg.secure is True and reg.psk_identity == "psk-" + name, reg.raw
        assert len(S["srv"].events("bs_request")) == before, S["srv"].events("bs_request")
    finally:
        gw.stop()


def test_removed_device_takes_its_state():
    gw = GatewayProc(config(["b1", "b2"], plain_bs()), prefix="gw-bs-reload-")
    try:
        S["srv"].wait_registrations([ep("b1"), ep("b2")], timeout=15)
        gw.reload(config(["b1"], plain_bs()))
        S["srv"].wait_deregistration(ep("b2"), timeout=10)
        harness.wait_for(lambda: len(state_files()) == 1, timeout=5, what="b2's state deleted")
        assert state_files()[0].endswith(".bs") and "b1" in state_files()[0], state_files()
    finally:
        gw.stop()


def test_unusable_config_refused_then_fixed():
    # a Security instance whose Server instance is missing: the gateway answers Finish 4.06
    S["srv"].bs_config(ep("b3"), [bs_delete("/"),
                                  bs_security(1, "coap://127.0.0.1:%d" % S["srv"].port, ssid=7),
                                  bs_finish()])
    gw = GatewayProc(config(["b3"], plain_bs(), bs_timeout="1s"), prefix="gw-bs-bad-")
    try:
        fin = S["srv"].wait_bs_finished(ep("b3"), timeout=15)
        assert fin["code"] == "4.06", fin
        # the bootstrap server may still correct it; when it has not within the timeout, the
        # bootstrap has failed, with the reason of the 4.06
        lines = gw.wait_log(r"\[b3 .*bootstrap-failed with the bootstrap server", timeout=5)
        assert "no Server instance with Short Server ID 7" in lines[0], lines[0]
        # the next attempt (registration back-off, 5 s ±25 %) gets a usable script
        S["srv"].bs_config(ep("b3"), [bs_delete("/"),
                                      bs_security(1, "coap://127.0.0.1:%d" % S["srv"].port,
                                                  ssid=7),
                                      bs_server(1, ssid=7, lifetime=60), bs_finish()])
        fin = S["srv"].wait_bs_finished(ep("b3"), timeout=15)
        assert fin["code"] == "2.04", fin
        reg = S["srv"].wait_registration(ep("b3"), timeout=10)
        assert reg.secure is False, reg.raw
    finally:
        gw.stop()


def test_bootstrap_server_over_dtls():
    S["srv"].bs_config(ep("b4"), dtls_script("b4"))
    bs = ("{ uri: '%s', security: { mode: psk, identity: 'bs-{device}', key: '%s' } }"
          % (S["srv"].dtls_uri, BS_KEY))
    gw = GatewayProc(config(["b4"], bs), prefix="gw-bs-dtls-")
    try:
        req = S["srv"].wait_bs_request(ep("b4"), timeout=15)
        assert req["secure"] is True and req.get("psk_identity") == "bs-b4", req
        assert S["srv"].wait_bs_finished(ep("b4"), timeout=10)["code"] == "2.04"
        reg = S["srv"].wait_registration(ep("b4"), timeout=15)
        assert reg.secure is True and reg.psk_identity == "psk-b4", reg.raw
    finally:
        gw.stop()


def state_file_of(name):
    files = [f for f in state_files() if ("%3A" + name + ".bs") in f]
    assert len(files) == 1, state_files()
    return files[0]


def test_certificate_mode_from_bootstrap():
    # c1: Certificate Usage absent (3: the server's certificate pinned), key as PKCS#8;
    # c2: usage 2 with the CA as trust anchor, key in its traditional form
    S["srv"].bs_config(ep("c1"), cert_script("c1"))
    S["srv"].bs_config(ep("c2"), cert_script("c2", usage=2, trust=S["pki"]["ca"],
                                             traditional=True))
    gw = GatewayProc(config(["c1", "c2"], plain_bs()), prefix="gw-bs-cert-")
    try:
        for name in ("c1", "c2"):
            fin = S["srv"].wait_bs_finished(ep(name), timeout=15)
            assert fin["code"] == "2.04", fin
            reg = S["srv"].wait_registration(ep(name), timeout=15)
            assert reg.secure is True and reg.cert_cn == ep(name), reg.raw
        r = S["srv"].read(ep("c2"), "/3303/0/5700", accept=CT_TEXT)
        assert r.code == "2.05" and float(r.text) == 21.5, r
        for name in ("c1", "c2"):  # it holds the private key: the owner's alone
            mode = stat.S_IMODE(os.stat(state_file_of(name)).st_mode)
            assert mode == 0o600, oct(mode)
    finally:
        gw.stop()
    for name in ("c1", "c2"):
        S["srv"].wait_deregistration(ep(name), timeout=5)
    before = len(S["srv"].events("bs_request"))
    gw = GatewayProc(config(["c1", "c2"], plain_bs()), prefix="gw-bs-cert-again-")
    try:
        for name in ("c1", "c2"):
            reg = S["srv"].wait_registration(ep(name), timeout=15)
            assert reg.secure is True and reg.cert_cn == ep(name), reg.raw
        assert len(S["srv"].events("bs_request")) == before, S["srv"].events("bs_request")
    finally:
        gw.stop()


def test_certificate_mode_refused_or_failing():
    # another device's key: Finish answered 4.06 with OpenSSL's reason
    S["srv"].bs_config(ep("c3"), cert_script("c3", key_of=S["pki"]["clients"][ep("c1")]["key"]))
    gw = GatewayProc(config(["c3"], plain_bs(), bs_timeout="1s"), prefix="gw-bs-cert-bad-")
    try:
        fin = S["srv"].wait_bs_finished(ep("c3"), timeout=15)
        assert fin["code"] == "4.06", fin
        lines = gw.wait_log(r"\[c3 .*bootstrap-failed with the bootstrap server", timeout=5)
        assert "/0/1: private key: key values mismatch" in lines[0], lines[0]
        # next attempt: a pinned certificate that is not the server's (usage 3): accepted, and
        # the handshake refuses the server
        S["srv"].bs_config(ep("c3"), cert_script("c3", trust=S["pki"]["clients"][ep("c2")]["cert"]))
        fin = S["srv"].wait_bs_finished(ep("c3"), timeout=15)
        assert fin["code"] == "2.04", fin
        lines = gw.wait_log(r"\[c3 .*secure-failed with server 1", timeout=15)
        assert "certificate verify failed: certificate rejected" in lines[0], lines[0]
        assert ep("c3") not in [r["ep"] for r in S["srv"].list()["registrations"]]
    finally:
        gw.stop()


def test_hold_off():
    bs_account = bs_security(0, "coap://127.0.0.1:%d" % S["srv"].port, bootstrap=True, r11=1)
    S["srv"].bs_config(ep("h1"), [bs_delete("/"), bs_account,
                                  bs_security(1, "coap://127.0.0.1:%d" % S["srv"].port, ssid=3),
                                  bs_server(1, ssid=3, lifetime=60), bs_finish()])
    bs = "{ uri: 'coap://127.0.0.1:%d', hold_off: 2s }" % S["srv"].port
    t0 = time.monotonic()
    gw = GatewayProc(config(["h1"], bs), prefix="gw-bs-hold-")
    try:
        S["srv"].wait_bs_request(ep("h1"), timeout=15)
        assert time.monotonic() - t0 >= 2.0, time.monotonic() - t0
        gw.wait_log(r"\[h1 .*bootstrap-started .*no server configured or saved, after 2 s hold off")
        assert S["srv"].wait_bs_finished(ep("h1"), timeout=10)["code"] == "2.04"
        S["srv"].wait_registration(ep("h1"), timeout=10)
        t1 = time.monotonic()
        assert S["srv"].execute(ep("h1"), "/1/0/9").code == "2.04"
        S["srv"].wait_bs_request(ep("h1"), timeout=10)
        assert time.monotonic() - t1 >= 0.95, time.monotonic() - t1
        gw.wait_log(r"\[h1 .*bootstrap-started .*Bootstrap-Request Trigger, after 1 s hold off")
    finally:
        gw.stop()


def test_server_initiated():
    S["srv"].bs_config(ep("s1"), [bs_delete("/"),
                                  bs_security(1, "coap://127.0.0.1:%d" % S["srv"].port, ssid=4),
                                  bs_server(1, ssid=4, lifetime=60), bs_finish()])
    bs = "{ uri: 'coap://127.0.0.1:%d', hold_off: 30s }" % S["srv"].port
    http = free_tcp_port()
    before = len(S["srv"].events("bs_request"))
    gw = GatewayProc(config(["s1"], bs, http=http), prefix="gw-bs-server-init-")
    try:
        def port():
            try:
                status, body = http_get(http, "/api/v1/devices")
            except OSError:  # not listening yet
                return None
            devs = json.loads(body) if status == 200 else []
            return devs[0]["port"] if devs and devs[0].get("port") else None
        harness.wait_for(port, timeout=10, what="the endpoint's port")
        S["srv"].bs_initiate(ep("s1"), "127.0.0.1", port())
        assert S["srv"].wait_bs_finished(ep("s1"), timeout=10)["code"] == "2.04"
        gw.wait_log(r"\[s1 .*bootstrap-started .*server-initiated, during the hold off")
        reg = S["srv"].wait_registration(ep("s1"), timeout=10)
        assert reg.secure is False, reg.raw
        r = S["srv"].read(ep("s1"), "/3303/0/5700", accept=CT_TEXT)
        assert r.code == "2.05" and float(r.text) == 21.5, r
        assert len(S["srv"].events("bs_request")) == before, S["srv"].events("bs_request")
    finally:
        gw.stop()


def test_cleanup():
    if S.get("srv"):
        S["srv"].stop()
    shutil.rmtree(S.get("state", ""), ignore_errors=True)
    shutil.rmtree(S.get("pki_dir", ""), ignore_errors=True)


if __name__ == "__main__":
    harness.run([test_start, test_bootstrap_then_register_over_dtls, test_restart_uses_kept_state,
                 test_removed_device_takes_its_state, test_unusable_config_refused_then_fixed,
                 test_bootstrap_server_over_dtls, test_certificate_mode_from_bootstrap,
                 test_certificate_mode_refused_or_failing, test_hold_off, test_server_initiated,
                 test_cleanup])
