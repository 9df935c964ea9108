# SPDX-License-Identifier: Apache-2.0
"""SIGHUP reloads that move endpoints to other servers or change how they register, against two
test LwM2M servers (libcoap3) on loopback:
- gateway mode, lwm2m.servers changed from server A to server B: the one endpoint de-registers
  from A and registers with B, carrying every hosted device's /25 instance and prefixed links;
- gateway mode, lwm2m.lifetime changed: the endpoint registers anew with the new lifetime;
- gateway mode switched to endpoint-per-device: the gateway endpoint de-registers and each
  device registers as its own endpoint; and back again;
- endpoint-per-device mode, servers changed: every device's endpoint moves from A to B.
Prints `N passed, M failed`."""
import harness
from gw_fixtures import GatewayProc, constant_devices
from lwm2m_server import CT_TEXT, LwM2MServer

GW_ID = "gw-rls"
GW_EP = "urn:dev:" + GW_ID
DEVICES = ("c1", "c2")
S = {}


def dev_ep(name):
    return "urn:dev:%s:%s" % (GW_ID, name)


def config(srv, mode="gateway", lifetime=60):
    lines = ["gateway: { id: %s, log_level: debug }" % GW_ID,
             "lwm2m:",
             "  mode: %s" % mode,
             "  lifetime: %d" % lifetime,
             "  servers: [ { uri: '%s' } ]" % srv.uri]
    if mode == "gateway":
        lines.insert(3, "  endpoint_name: 'urn:dev:{gateway}'")
    return "\n".join(lines + constant_devices(DEVICES)) + "\n"


def hosted_value(srv, name):
    r = srv.read(GW_EP, "/%s/3303/0/5700" % name, accept=CT_TEXT)
    return r.text if r.code == "2.05" else r.code


def test_start():
    S["a"] = LwM2MServer().start()
    S["b"] = LwM2MServer().start()


def test_gateway_mode_server_moved():
    a, b = S["a"], S["b"]
    gw = GatewayProc(config(a), prefix="gw-rls-move-")
    try:
        a.wait_registration(GW_EP, timeout=10)
        harness.wait_for(lambda: all(hosted_value(a, d) == "21.5" for d in DEVICES), timeout=10,
                         what="both hosted devices readable at server A")
        gw.reload(config(b))
        a.wait_deregistration(GW_EP, timeout=10)
        reg = b.wait_registration(GW_EP, timeout=10)
        harness.wait_for(lambda: all(hosted_value(b, d) == "21.5" for d in DEVICES), timeout=10,
                         what="both hosted devices readable at server B")
        objs = b.registration(GW_EP).objects
        for d in DEVICES:
            assert "/%s/3303/0" % d in objs, (d, objs, reg)
        assert "/25/0" in objs and "/25/1" in objs, objs
        assert a.registration(GW_EP) is None, "still registered with A"
        gw.wait_log(r"reload done")
    finally:
        gw.stop()
    b.wait_deregistration(GW_EP, timeout=10)


def test_gateway_mode_lifetime_changed():
    a = S["a"]
    gw = GatewayProc(config(a, lifetime=60), prefix="gw-rls-lt-")
    try:
        assert a.wait_registration(GW_EP, timeout=10).lt == 60
        gw.reload(config(a, lifetime=90))
        a.wait_deregistration(GW_EP, timeout=10)
        reg = a.wait_registration(GW_EP, timeout=10)
        assert reg.lt == 90, reg
        harness.wait_for(lambda: all(hosted_value(a, d) == "21.5" for d in DEVICES), timeout=10,
                         what="hosted devices readable after the new registration")
    finally:
        gw.stop()
    a.wait_deregistration(GW_EP, timeout=10)


def test_mode_switch_both_ways():
    a = S["a"]
    gw = GatewayProc(config(a), prefix="gw-rls-mode-")
    try:
        a.wait_registration(GW_EP, timeout=10)
        gw.reload(config(a, mode="endpoint-per-device"))
        a.wait_deregistration(GW_EP, timeout=10)
        a.wait_registrations([dev_ep(d) for d in DEVICES], timeout=15)
        assert a.registration(GW_EP) is None, "the gateway endpoint is still registered"
        r = a.read(dev_ep("c1"), "/3303/0/5700", accept=CT_TEXT)
        assert r.code == "2.05" and r.text == "21.5", r
        gw.reload(config(a))
        for d in DEVICES:
            a.wait_deregistration(dev_ep(d), timeout=10)
        a.wait_registration(GW_EP, timeout=10)
        harness.wait_for(lambda: all(hosted_value(a, d) == "21.5" for d in DEVICES), timeout=10,
                         what="hosted devices readable after switching back")
    finally:
        gw.stop()
    a.wait_deregistration(GW_EP, timeout=10)


def test_endpoint_per_device_server_moved():
    a, b = S["a"], S["b"]
    eps = [dev_ep(d) for d in DEVICES]
    gw = GatewayProc(config(a, mode="endpoint-per-device"), prefix="gw-rls-epd-")
    try:
        a.wait_registrations(eps, timeout=15)
        gw.reload(config(b, mode="endpoint-per-device"))
        for e in eps:
            a.wait_deregistration(e, timeout=10)
        b.wait_registrations(eps, timeout=15)
        r = b.read(eps[1], "/3303/0/5700", accept=CT_TEXT)
        assert r.code == "2.05" and r.text == "21.5", r
    finally:
        gw.stop()
    for e in eps:
        b.wait_deregistration(e, timeout=10)


def test_cleanup():
    for k in ("a", "b"):
        if S.get(k):
            S[k].stop()


if __name__ == "__main__":
    harness.run([test_start, test_gateway_mode_server_moved, test_gateway_mode_lifetime_changed,
                 test_mode_switch_both_ways, test_endpoint_per_device_server_moved, test_cleanup])
