# SPDX-License-Identifier: Apache-2.0
"""`lwm2m-gateway run` in `lwm2m.mode: gateway` (LwM2M 1.2 Gateway) against the test LwM2M server
(libcoap3): one registration whose links hold the gateway's own /3/0, /25/0.. and each device's
object instances under its prefix; reads of /25/x and of prefixed paths; a write (a Modbus coil
through pymodbus) and an execute on prefixed paths; Discover; Observe with a notification after
the Modbus value changed; a Read-Composite over two devices' paths; an Observe-Composite over two
Modbus devices' paths notified when either changes; a device with `down_deregister` leaving /25
(an Update without its instances) while its bus is down and coming back; the reporting counters
on /metrics; SIGTERM deregisters the one endpoint. Prints `N passed, M failed`."""
import time

import harness
from gw_fixtures import (GatewayProc, f32_regs, http_get, meter_and_thermo, meter_spec,
                         parse_metrics, registers, server_objects, wait_notify_until)
from lwm2m_server import CT_SENML_JSON, CT_TEXT, LwM2MServer, parse_links, senml_values
from mb_common import PyModbus, free_tcp_port

GW_ID = "gwm-it"
EP = "urn:dev:%s" % GW_ID
S = {}


SPEC = meter_spec(230.5, coil=1)
SPEC2 = meter_spec(400.0, coil=0)


def config():
    adapters = meter_and_thermo(S["mb_port"])
    # a second bus for meter-2, so that it can go down alone
    adapters.insert(1, "  - { name: plc2, type: modbus-tcp, host: 127.0.0.1, port: %d, "
                       "timeout: 300ms }" % S["mb2_port"])
    return "\n".join([
        "gateway: { id: %s, log_level: debug, http: '127.0.0.1:%d' }" % (GW_ID, S["http"]),
        "lwm2m:",
        "  mode: gateway",
        "  endpoint_name: 'urn:dev:{gateway}'",
        "  lifetime: 60",
        "  servers: [ { uri: 'coap://127.0.0.1:%d' } ]" % S["srv"].port,
    ] + adapters + [
        "devices:",
        "  - { name: meter-1, adapter: plc, unit: 1, profile: meter, poll: 200ms }",
        "  - { name: c1, adapter: none, profile: thermo }",
        "  - { name: meter-2, adapter: plc2, unit: 1, profile: meter, poll: 200ms,",
        "      down_deregister: 1s }",
    ]) + "\n"


def read(path, accept=CT_TEXT):
    return S["srv"].read(EP, path, accept=accept)


# ---- tests -----------------------------------------------------------------------------------


def test_start():
    S["mb_port"] = free_tcp_port()
    S["mb2_port"] = free_tcp_port()
    S["http"] = free_tcp_port()
    S["srv"] = LwM2MServer().start()
    S["mb"] = PyModbus(SPEC, tcp_port=S["mb_port"])
    S["mb2"] = PyModbus(SPEC2, tcp_port=S["mb2_port"])
    S["gw"] = GatewayProc(config(), prefix="gw-mode-")


def test_one_registration_with_prefixed_links():
    reg = S["srv"].wait_registration(EP, timeout=10)
    # the devices come one after the other: their links may arrive with Updates
    harness.wait_for(lambda: "/c1/3303/0" in current_objects() and
                     "/meter-2/3316/0" in current_objects(), timeout=10,
                     what="every device in the registration")
    objs = current_objects()
    for p in ("/1/0", "/3/0", "/25/0", "/25/1", "/25/2", "/meter-1/3316/0", "/meter-1/3311/0",
              "/meter-1/3/0", "/c1/3303/0", "/c1/3/0", "/meter-2/3316/0"):
        assert p in objs, (p, objs)
    assert reg.version == "1.2", reg
    assert len(registers(S["srv"], EP)) == 1
    assert not [e for e in S["srv"].events("register") if e["ep"] != EP]


def current_objects():
    """The object list the server holds for EP now (Register, or the last Update with links)."""
    return server_objects(S["srv"], EP)


def test_gateway_object():
    ids = {read("/25/%d/0" % i).text for i in range(3)}
    assert ids == {"meter-1", "c1", "meter-2"}, ids
    prefixes = {read("/25/%d/1" % i).text: i for i in range(3)}
    assert set(prefixes) == {"meter-1", "c1", "meter-2"}, prefixes
    i = prefixes["c1"]
    links = read("/25/%d/3" % i).text
    assert "</c1/3303/0>" in links and "</c1/3/0>" in links, links
    assert read("/3/0/0").text == "lwm2m-gateway"  # the gateway's own Device object
    assert read("/3/0/2").text == GW_ID
    r = read("/3/0/11/0")  # Error Code is mandatory: 0, no error
    assert (r.code, r.text) == ("2.05", "0"), r
    assert read("/3/0/11").code == "4.06"  # text carries one value, not a multiple resource


def test_prefixed_read():
    assert read("/c1/3303/0/5700").text == "21.5"
    assert read("/c1/3/0/0").text == "Thermo Inc"
    r = read("/c1/3/0/11/0")  # a resource instance is one value: text
    assert (r.code, r.text) == ("2.05", "0"), r
    harness.wait_for(lambda: read("/meter-1/3316/0/5700").code == "2.05", timeout=10,
                     what="first Modbus value")
    assert float(read("/meter-1/3316/0/5700").text) == 230.5
    r = read("/c1/3303/0", accept=CT_SENML_JSON)
    vals = senml_values(r.decoded)
    assert vals.get("/c1/3303/0/5701") == "Cel", vals
    assert read("/nodev/3303/0/5700").code == "4.04"


def test_prefixed_write_and_execute():
    w = S["srv"].write(EP, "/meter-1/3311/0/5850", "0", CT_TEXT)
    assert w.code == "2.04", w
    assert S["mb"].get(1, "co", 0, 1) == [0]
    harness.wait_for(lambda: read("/meter-1/3311/0/5850").text == "0", timeout=5,
                     what="read-back of the written coil")
    assert S["srv"].write(EP, "/c1/3303/0/5701", "K", CT_TEXT).code == "4.05"
    assert S["srv"].execute(EP, "/c1/3/0/4").code == "2.04"  # Reboot: nothing to reconnect


def test_prefixed_discover():
    r = S["srv"].discover(EP, "/c1/3303")
    assert r.code == "2.05", r
    paths = [p for p, _ in parse_links(r.text)]
    assert "/c1/3303/0/5700" in paths and "/c1/3303" in paths, paths


def test_prefixed_observe():
    obs = S["srv"].observe(EP, "/meter-1/3316/0/5700", accept=CT_TEXT)
    assert obs.code == "2.05", obs
    S["mb"].set(1, "hr", 0, f32_regs(231.25))
    wait_notify_until(S["srv"], obs.token, lambda n: float(n.text) == 231.25, timeout=5)
    assert S["srv"].cancel_observe(obs.token).code == "2.05"


def test_composite_read_over_two_devices():
    r = S["srv"].read_composite(EP, ["/meter-1/3316/0/5701", "/c1/3303/0/5700", "/25/0/0"])
    assert r.code == "2.05", r
    vals = senml_values(r.decoded)
    assert vals.get("/meter-1/3316/0/5701") == "V", vals
    assert vals.get("/c1/3303/0/5700") == 21.5, vals
    assert "/25/0/0" in vals, vals


def test_composite_write_and_observe():
    w = S["srv"].write_composite(EP, [{"n": "/meter-1/3311/0/5850", "vb": True}])
    assert w.code == "2.04", w
    assert S["mb"].get(1, "co", 0, 1) == [1]
    obs = S["srv"].observe_composite(EP, ["/meter-1/3316/0/5700", "/meter-1/3316/0/5701"])
    assert obs.code == "2.05", obs
    assert senml_values(obs.decoded).get("/meter-1/3316/0/5701") == "V", obs
    S["mb"].set(1, "hr", 0, f32_regs(232.5))
    wait_notify_until(S["srv"], obs.token,
                      lambda n: senml_values(n.decoded).get("/meter-1/3316/0/5700") == 232.5,
                      timeout=5)


def wait_values(token, want, timeout=5):
    """Notifications of token until one carries every {name: value} of want; returns it."""
    return wait_notify_until(S["srv"], token, lambda n: all(
        senml_values(n.decoded).get(k) == v for k, v in want.items()), timeout)


def test_observe_composite_across_devices():
    harness.wait_for(lambda: read("/meter-2/3316/0/5700").code == "2.05", timeout=10,
                     what="first value of meter-2")
    paths = ["/meter-1/3316/0/5700", "/meter-2/3316/0/5700", "/c1/3303/0/5700"]
    obs = S["srv"].observe_composite(EP, paths)
    assert obs.code == "2.05", obs
    vals = senml_values(obs.decoded)
    assert vals.get("/meter-2/3316/0/5700") == 400.0 and vals.get("/c1/3303/0/5700") == 21.5, vals
    assert "/meter-1/3316/0/5700" in vals, vals
    # a change on either device's bus notifies the one observation, names prefixed
    S["mb"].set(1, "hr", 0, f32_regs(233.5))
    n = wait_values(obs.token, {"/meter-1/3316/0/5700": 233.5})
    assert senml_values(n.decoded).get("/meter-2/3316/0/5700") == 400.0, n.decoded
    S["mb2"].set(1, "hr", 0, f32_regs(401.5))
    n = wait_values(obs.token, {"/meter-2/3316/0/5700": 401.5, "/meter-1/3316/0/5700": 233.5})
    assert S["srv"].cancel_observe(obs.token).code == "2.05"
    S["mb"].set(1, "hr", 0, f32_regs(234.0))
    time.sleep(1.0)  # a few poll cycles: a live observation would have notified by now
    late = [e for e in S["srv"].events("notify") if e.get("token") == obs.token and
            senml_values(e.get("decoded")).get("/meter-1/3316/0/5700") == 234.0]
    assert not late, late


def test_down_device_leaves_25_and_returns():
    # both buses go down: meter-2 (down_deregister: 1s) leaves /25; meter-1 (no option) stays,
    # with its Device error code set to 8 (peripheral malfunction)
    S["mb"].stop()
    S["mb2"].stop()
    harness.wait_for(lambda: "/meter-2/3316/0" not in current_objects(), timeout=10,
                     what="an Update without meter-2")
    objs = current_objects()
    assert "/meter-1/3316/0" in objs and "/c1/3303/0" in objs, objs
    assert len([p for p in objs if p.startswith("/25/")]) == 2, objs
    assert "removed from /25 until it is back" in S["gw"].log()
    assert read("/meter-2/3316/0/5700").code == "4.04"
    harness.wait_for(lambda: 8 in senml_values(
        read("/meter-1/3/0/11", accept=CT_SENML_JSON).decoded).values(), timeout=5,
        what="meter-1 error code 8")
    time.sleep(1.5)  # longer than down_deregister: meter-1 still stays
    assert "/meter-1/3316/0" in current_objects()
    S["mb"] = PyModbus(SPEC, tcp_port=S["mb_port"])
    S["mb2"] = PyModbus(SPEC2, tcp_port=S["mb2_port"])
    harness.wait_for(lambda: "/meter-2/3316/0" in current_objects(), timeout=15,
                     what="an Update with meter-2 again")
    harness.wait_for(lambda: read("/meter-2/3316/0/5700").code == "2.05", timeout=10,
                     what="meter-2 readable again")
    assert float(read("/meter-2/3316/0/5700").text) == 400.0
    assert len(registers(S["srv"], EP)) == 1  # Updates only


def test_metrics_reporting_counters():
    code, text = http_get(S["http"], "/metrics")
    assert code == 200, code
    metrics = parse_metrics(text)
    assert metrics["lwm2m_gateway_observe_started_total"] >= 3, metrics
    assert metrics["lwm2m_gateway_observe_ended_total"] >= 2, metrics
    assert metrics['lwm2m_gateway_notifications_by_type_total{type="non"}'] >= 3, metrics
    assert metrics['lwm2m_gateway_notifications_by_type_total{type="con"}'] >= 0, metrics
    for name in ("lwm2m_gateway_sends_total", "lwm2m_gateway_sends_muted_total",
                 "lwm2m_gateway_send_failures_total",
                 'lwm2m_gateway_store_entries_total{event="stored"}',
                 'lwm2m_gateway_store_entries_total{event="forwarded"}',
                 'lwm2m_gateway_store_entries_total{event="undeliverable"}',
                 'lwm2m_gateway_store_entries_total{event="overflow"}'):
        assert metrics.get(name) == 0, (name, metrics.get(name))  # no send, no store here
    assert "# TYPE lwm2m_gateway_sends_total counter" in text


def test_sigterm_deregisters():
    S["gw"].terminate()
    S["srv"].wait_deregistration(EP, timeout=10)
    S["gw"].stop(timeout=8)  # exit status 0


def test_cleanup():
    if S.get("gw"):
        S["gw"].close()
    for k in ("mb", "mb2"):
        if S.get(k):
            S[k].stop()
    if S.get("srv"):
        S["srv"].stop()


if __name__ == "__main__":
    harness.run([test_start, test_one_registration_with_prefixed_links, test_gateway_object,
                 test_prefixed_read, test_prefixed_write_and_execute, test_prefixed_discover,
                 test_prefixed_observe, test_composite_read_over_two_devices,
                 test_composite_write_and_observe, test_observe_composite_across_devices,
                 test_down_device_leaves_25_and_returns, test_metrics_reporting_counters,
                 test_sigterm_deregisters, test_cleanup])
