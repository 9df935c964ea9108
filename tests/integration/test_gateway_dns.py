# SPDX-License-Identifier: Apache-2.0
"""Server host names while the gateway runs (lwm2m.dns), against Debian's dnsmasq on a loopback
port (lwm2m.dns.nameservers points the gateway at it) and two test LwM2M servers (libcoap3) on
the same port of 127.0.0.1 and 127.0.0.2:
- the name moves from 127.0.0.1 to 127.0.0.2: within a refresh the gateway logs the move, every
  device's endpoint de-registers from the old server and registers with the new one;
- the name stops resolving: logged, the address in use is kept, nothing de-registers;
- the name server stops answering: SIGTERM still stops the gateway at once, cleanly;
- with a long refresh, a timed-out Update asks for a lookup: the endpoints move at once;
- gateway mode: the one endpoint moves with its hosted devices;
- a name unknown at start stops `run` with exit 1 and the resolver's reason;
- bad lwm2m.dns values are config errors (exit 2, file:line:col).
Prints `N passed, M failed`."""
import os
import shutil
import signal
import subprocess
import tempfile
import time

import harness
from dns_peer import Dnsmasq
from gw_fixtures import GatewayProc, constant_devices
from lwm2m_server import CT_TEXT, LwM2MServer

GW_ID = "gw-dns"
NAME = "lwm2m.test"
DEVICES = ("c1", "c2")
S = {}


def dev_ep(name):
    return "urn:dev:%s:%s" % (GW_ID, name)


def config(mode="endpoint-per-device", host=NAME, dns=None):
    dns = dns or "{ refresh: 1s, nameservers: [ '127.0.0.1:%d' ] }" % S["dns"].port
    lines = ["gateway: { id: %s, log_level: debug }" % GW_ID,
             "lwm2m:",
             "  mode: %s" % mode,
             "  lifetime: 60",
             "  dns: %s" % dns,
             "  servers: [ { uri: 'coap://%s:%d' } ]" % (host, S["port"])]
    return "\n".join(lines + constant_devices(DEVICES)) + "\n"


def test_start():
    S["port"] = harness.free_udp_port()
    S["a"] = LwM2MServer(port=S["port"], addr="127.0.0.1").start()
    S["b"] = LwM2MServer(port=S["port"], addr="127.0.0.2").start()
    S["dns"] = Dnsmasq({NAME: "127.0.0.1"})


def test_endpoints_follow_the_name():
    a, b, dns = S["a"], S["b"], S["dns"]
    eps = [dev_ep(d) for d in DEVICES]
    gw = GatewayProc(config(), prefix="gw-dns-move-")
    try:
        a.wait_registrations(eps, timeout=15)
        gw.wait_log(r"lwm2m\.servers\[0\]: lwm2m\.test is 127\.0\.0\.1")
        dns.set_hosts({NAME: "127.0.0.2"})
        gw.wait_log(r"lwm2m\.test moved from coap://127\.0\.0\.1:%d to coap://127\.0\.0\.2:%d"
                    % (S["port"], S["port"]), timeout=10)
        for e in eps:
            a.wait_deregistration(e, timeout=10)
        b.wait_registrations(eps, timeout=15)
        r = b.read(eps[0], "/3303/0/5700", accept=CT_TEXT)
        assert r.code == "2.05" and r.text == "21.5", r

        # the name is gone: logged, the endpoints stay where they are
        seen = len(b.events("register"))
        dns.set_hosts({}, gone=[NAME])
        gw.wait_log(r"cannot resolve 'lwm2m\.test' now .*keeping coap://127\.0\.0\.2", timeout=10)
        assert not b.events("deregister"), b.events("deregister")
        for e in eps:
            assert b.registration(e) is not None, e
        # and back at the same address: two refreshes later nothing has moved
        dns.set_hosts({NAME: "127.0.0.2"})
        time.sleep(2.5)
        assert len(gw.wait_log(r"moved from")) == 1, gw.log()[-2000:]
        assert not b.events("deregister") and len(b.events("register")) == seen, b.events()
    finally:
        gw.stop()
    for e in eps:
        b.wait_deregistration(e, timeout=10)
    S["dns"].set_hosts({NAME: "127.0.0.1"})


def test_gateway_mode_follows_the_name():
    a, b, dns = S["a"], S["b"], S["dns"]
    ep = "urn:dev:" + GW_ID
    gw = GatewayProc(config(mode="gateway"), prefix="gw-dns-gwmode-")
    S["gw"] = gw
    try:
        a.wait_registration(ep, timeout=10)
        dns.set_hosts({NAME: "127.0.0.2"})
        a.wait_deregistration(ep, timeout=10)
        b.wait_registration(ep, timeout=10)
        harness.wait_for(lambda: b.read(ep, "/c2/3303/0/5700", accept=CT_TEXT).text == "21.5",
                         timeout=10, what="a hosted device readable at the new address")
    finally:
        gw.stop()
    b.wait_deregistration(ep, timeout=10)
    S["dns"].set_hosts({NAME: "127.0.0.1"})


def test_failed_update_asks_for_a_lookup():
    """refresh: 1h, so only a failure can start a lookup: server A goes away and the name points
    at B; the next Update times out (lifetime 4 s, short CoAP timers) and the lookup it asks for
    moves the endpoints to B within seconds."""
    port = harness.free_udp_port()
    a = LwM2MServer(port=port, addr="127.0.0.1").start()
    b = LwM2MServer(port=port, addr="127.0.0.2").start()
    dns = Dnsmasq({NAME: "127.0.0.1"})
    eps = [dev_ep(d) for d in DEVICES]
    text = config(dns="{ refresh: 1h, nameservers: [ '127.0.0.1:%d' ] }" % dns.port)
    text = text.replace("  lifetime: 60", "  lifetime: 4\n  coap: { ack_timeout: 300ms, "
                        "max_retransmit: 1 }").replace(":%d'" % S["port"], ":%d'" % port)
    gw = GatewayProc(text, prefix="gw-dns-kick-")
    try:
        a.wait_registrations(eps, timeout=15)
        a.stop()
        dns.set_hosts({NAME: "127.0.0.2"})
        t0 = time.monotonic()
        b.wait_registrations(eps, timeout=15)
        assert time.monotonic() - t0 < 10, time.monotonic() - t0
        gw.wait_log(r"lwm2m\.test moved from coap://127\.0\.0\.1:%d to coap://127\.0\.0\.2:%d"
                    % (port, port))
    finally:
        gw.stop()
        b.stop()
        dns.stop()


def test_stop_while_a_lookup_waits():
    """dnsmasq stopped (SIGSTOP): the refresh lookups wait for an answer; the endpoints stay, and
    SIGTERM still de-registers them at once and exits 0 (no sanitizer report: the cancelled
    lookups release what they held)."""
    a, dns = S["a"], S["dns"]
    eps = [dev_ep(d) for d in DEVICES]
    gw = GatewayProc(config(), prefix="gw-dns-stop-")
    stopped = False
    try:
        a.wait_registrations(eps, timeout=15)
        dns.proc.send_signal(signal.SIGSTOP)
        time.sleep(2.5)  # two refreshes: lookups under way, unanswered
        for e in eps:
            assert a.registration(e) is not None, e
        t0 = time.monotonic()
        stopped = True
        gw.stop()
        assert time.monotonic() - t0 < 5, time.monotonic() - t0
    finally:
        dns.proc.send_signal(signal.SIGCONT)
        if not stopped:
            gw.stop()
    for e in eps:
        a.wait_deregistration(e, timeout=10)


def test_unknown_name_at_start():
    d = tempfile.mkdtemp(prefix="gw-dns-unknown-")
    cfg = os.path.join(d, "gw.yaml")
    with open(cfg, "w", encoding="utf-8") as f:
        f.write(config(host="nosuch.test"))
    p = subprocess.run([harness.binary("bridge", "lwm2m-gateway"), "run", "-c", cfg],
                       capture_output=True, text=True, timeout=60)
    shutil.rmtree(d, ignore_errors=True)
    assert p.returncode == 1, (p.returncode, p.stderr[-2000:])
    assert "lwm2m.servers[0]: cannot resolve 'nosuch.test'" in p.stderr, p.stderr[-2000:]


def check_errors(dns_value):
    d = tempfile.mkdtemp(prefix="gw-dns-bad-")
    cfg = os.path.join(d, "gw.yaml")
    with open(cfg, "w", encoding="utf-8") as f:
        f.write(config(dns=dns_value))
    p = subprocess.run([harness.binary("bridge", "lwm2m-gateway"), "check", "-c", cfg],
                       capture_output=True, text=True, timeout=30)
    shutil.rmtree(d, ignore_errors=True)
    return p.returncode, p.stderr


def test_config_errors():
    rc, err = check_errors("{ nameservers: [ '300.1.1.1' ] }")
    assert rc == 2, (rc, err)
    assert "gw.yaml:5:" in err and "lwm2m.dns.nameservers[0]" in err and \
        "expected an IP address with an optional port" in err and "'300.1.1.1'" in err, err
    rc, err = check_errors("{ nameservers: [ '127.0.0.1:0' ] }")
    assert rc == 2 and "'127.0.0.1:0'" in err, (rc, err)
    rc, err = check_errors("{ refresh: 200ms }")
    assert rc == 2 and "gw.yaml:5:" in err and "at least 1s" in err, (rc, err)
    rc, err = check_errors("{ refersh: 1m }")
    assert rc == 2 and "refresh" in err, (rc, err)  # did-you-mean
    rc, err = check_errors("{ refresh: 0s, nameservers: [ '[::1]:53', '10.0.0.2' ] }")
    assert rc == 0, (rc, err)


def test_cleanup():
    for k in ("a", "b", "dns"):
        if S.get(k):
            S[k].stop()


if __name__ == "__main__":
    harness.run([test_start, test_endpoints_follow_the_name, test_gateway_mode_follows_the_name,
                 test_failed_update_asks_for_a_lookup, test_stop_while_a_lookup_waits, test_unknown_name_at_start, test_config_errors, test_cleanup])
