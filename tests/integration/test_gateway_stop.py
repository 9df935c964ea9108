# SPDX-License-Identifier: Apache-2.0
"""SIGTERM while Registers are still in flight, against the test LwM2M server (libcoap3): the
server is paused (drops every datagram) when the gateway starts, so each device's Register is
unanswered and retransmitted; SIGTERM comes, then the server resumes and answers a
retransmission with 2.01. The gateway must not leave those registrations behind at the server:
it de-registers each one as soon as its 2.01 arrives, then exits 0. A Register still unanswered
when the stop bound (5 s) runs out is given up, and the exit is still 0.
Prints `N passed, M failed`."""
import signal
import time

from gw_fixtures import GatewayProc, constant_devices
from lwm2m_server import LwM2MServer

GW_ID = "gw-stop"
DEVICES = ("c1", "c2", "c3")
S = {}


def dev_ep(name):
    return "urn:dev:%s:%s" % (GW_ID, name)


def config(srv):
    return "\n".join([
        "gateway: { id: %s, log_level: debug }" % GW_ID,
        "lwm2m:",
        "  lifetime: 600",
        "  coap: { ack_timeout: 500ms }",
        "  servers: [ { uri: '%s' } ]" % srv.uri,
    ] + constant_devices(DEVICES)) + "\n"


def test_start():
    S["srv"] = LwM2MServer().start()


def test_register_in_flight_at_stop_is_deregistered():
    srv = S["srv"]
    srv.pause()
    gw = GatewayProc(config(srv), prefix="gw-stop-inflight-")
    try:
        gw.wait_log(r"endpoint added", count=len(DEVICES))
        time.sleep(0.3)  # the Registers are out, unanswered
        gw.proc.send_signal(signal.SIGTERM)
        gw.wait_log(r"signal 15: stopping, deregistering 3 endpoints")
        srv.resume()
        # the next retransmission is answered 2.01, and the De-register follows at once
        srv.wait_registrations([dev_ep(d) for d in DEVICES], timeout=5)
        for d in DEVICES:
            srv.wait_deregistration(dev_ep(d), timeout=5)
        assert gw.proc.wait(timeout=5) == 0
        for d in DEVICES:
            assert srv.registration(dev_ep(d)) is None, d
    finally:
        srv.resume()
        log = gw.stop()
    assert "every endpoint deregistered" in log, log[-2000:]


def test_register_unanswered_until_the_bound():
    srv = S["srv"]
    srv.pause()
    gw = GatewayProc(config(srv), prefix="gw-stop-bound-")
    try:
        gw.wait_log(r"endpoint added", count=len(DEVICES))
        t0 = time.monotonic()
        gw.proc.send_signal(signal.SIGTERM)
        assert gw.proc.wait(timeout=10) == 0
        took = time.monotonic() - t0
        assert 4.5 <= took <= 7, took
    finally:
        srv.resume()
        log = gw.stop()
    assert "3 endpoints not deregistered after 5 s, giving up" in log, log[-2000:]


def test_cleanup():
    if S.get("srv"):
        S["srv"].stop()


if __name__ == "__main__":
    import harness
    harness.run([test_start, test_register_in_flight_at_stop_is_deregistered,
                 test_register_unanswered_until_the_bound, test_cleanup])
