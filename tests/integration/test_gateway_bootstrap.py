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
Prints `N passed, M failed`."""
import glob
import os
import shutil
import tempfile

import harness
from gw_fixtures import GatewayProc, constant_devices
from lwm2m_server import (CT_TEXT, LwM2MServer, bs_delete, bs_finish, bs_security, bs_server)

GW_ID = "gw-bs"
KEY = "0102030405060708090a0b0c0d0e0f10"
BS_KEY = "f0e0d0c0b0a090807060504030201000"
S = {}


def ep(name):
    return "urn:dev:%s:%s" % (GW_ID, name)


def config(devices, bootstrap, bs_timeout=None):
    lines = ["gateway: { id: %s, log_level: debug, state_dir: '%s' }" % (GW_ID, S["state"]),
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


def test_start():
    S["state"] = tempfile.mkdtemp(prefix="gw-bs-state-")
    S["srv"] = LwM2MServer(dtls_port=0, psk={"psk-b1": KEY, "psk-b2": KEY, "bs-b4": BS_KEY,
                                             "psk-b4": KEY}).start()


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


def test_cleanup():
    if S.get("srv"):
        S["srv"].stop()
    shutil.rmtree(S.get("state", ""), ignore_errors=True)


if __name__ == "__main__":
    harness.run([test_start, test_bootstrap_then_register_over_dtls, test_restart_uses_kept_state,
                 test_removed_device_takes_its_state, test_unusable_config_refused_then_fixed,
                 test_bootstrap_server_over_dtls, test_cleanup])
