# SPDX-License-Identifier: Apache-2.0
"""`lwm2m-gateway run` end to end, endpoint-per-device mode: a config in a temporary directory with
constant-only devices and a Modbus TCP meter served by Debian's pymodbus; the gateway registers
each device as its own endpoint with the test LwM2M server (libcoap3). Checks the Device object,
constants, Modbus values (read, observe, write), staleness (5.03 and error code 8 while the slave
is away), the HTTP endpoints, SIGHUP reload (added registers, removed deregisters, kept keeps its
registration and observation), SIGTERM (every endpoint deregistered, exit 0) and a bad config
(exit 2 with file:line:col). Prints `N passed, M failed`."""
import json
import time

import harness
from gw_fixtures import (GatewayProc, f32_regs, http_get, meter_and_thermo, meter_spec,
                         parse_metrics, registers, wait_notify_until)
from lwm2m_server import CT_SENML_JSON, CT_TEXT, LwM2MServer, senml_values
from mb_common import PyModbus, free_tcp_port

GW_ID = "gw-it"
STALE_S = 2  # gateway.stale_after for this run: how long a down device's values stay readable
S = {}


def ep(name):
    return "urn:dev:%s:%s" % (GW_ID, name)


SPEC = meter_spec()


def config(devices, down_deregister=None):
    """The config text; devices: names among meter-1 (Modbus) and c1..c3 (constants only);
    down_deregister: devices[].down_deregister of meter-1 (e.g. "1s")."""
    lines = [
        "gateway: { id: %s, http: '127.0.0.1:%d', log_level: debug, stale_after: %ds }"
        % (GW_ID, S["http"], STALE_S),
        "lwm2m:",
        "  lifetime: 60",
        "  servers: [ { uri: 'coap://127.0.0.1:%d' } ]" % S["srv"].port,
    ] + meter_and_thermo(S["mb_port"]) + [
        "devices:",
    ]
    for d in devices:
        if d == "meter-1":
            extra = ", down_deregister: %s" % down_deregister if down_deregister else ""
            lines.append("  - { name: meter-1, adapter: plc, unit: 1, profile: meter, "
                         "poll: 200ms%s }" % extra)
        else:
            lines.append("  - { name: %s, adapter: none, profile: thermo }" % d)
    return "\n".join(lines) + "\n"


def http(path):
    return http_get(S["http"], path)


def text_read(name, path):
    return S["srv"].read(ep(name), path, accept=CT_TEXT)


def wait_notify_value(token, want, timeout):
    return wait_notify_until(S["srv"], token, lambda n: float(n.text) == want, timeout)


# ---- tests -----------------------------------------------------------------------------------


def test_start():
    S["http"] = free_tcp_port()
    S["mb_port"] = free_tcp_port()
    S["srv"] = LwM2MServer().start()
    S["mb"] = PyModbus(SPEC, tcp_port=S["mb_port"])
    S["gw"] = GatewayProc(config(["meter-1", "c1", "c2"]), prefix="gw-run-")


def test_each_device_is_its_own_endpoint():
    regs = S["srv"].wait_registrations([ep(n) for n in ("meter-1", "c1", "c2")], timeout=10)
    ports = {r.port for r in regs.values()}
    assert len(ports) == 3, "each endpoint has its own socket: %r" % ports
    assert "/3/0" in regs[ep("meter-1")].objects and "/3316/0" in regs[ep("meter-1")].objects
    assert "/3311/0" in regs[ep("meter-1")].objects, regs[ep("meter-1")].objects
    assert "/3303/0" in regs[ep("c1")].objects and "/3316/0" not in regs[ep("c1")].objects
    assert regs[ep("c1")].lt == 60 and regs[ep("c1")].binding == "U"


def test_device_object():
    assert text_read("c1", "/3/0/0").text == "Thermo Inc"
    assert text_read("c1", "/3/0/1").text == "T-100"
    assert text_read("c1", "/3/0/2").text == "c1"  # serial: the device name
    assert text_read("meter-1", "/3/0/0").text == "ACME"
    assert text_read("meter-1", "/3/0/1").text == "EM-340"
    assert text_read("meter-1", "/3/0/16").text == "U"
    t = int(text_read("c1", "/3/0/13").text)
    assert abs(t - time.time()) < 5, t
    r = S["srv"].read(ep("c1"), "/3/0", accept=CT_SENML_JSON)
    vals = senml_values(r.decoded)
    assert vals.get("/3/0/11/0") == 0, vals
    assert vals.get("/3/0/0") == "Thermo Inc", vals
    assert S["srv"].execute(ep("c1"), "/3/0/4").code == "2.04"  # Reboot: nothing to reconnect


def test_constant_resources():
    r = text_read("c2", "/3303/0/5700")
    assert r.code == "2.05" and float(r.text) == 21.5, r
    assert text_read("c2", "/3303/0/5701").text == "Cel"
    assert text_read("c2", "/3303/0/5702").code == "4.04"
    # a constant is read-only where the model says so
    assert S["srv"].write(ep("c2"), "/3303/0/5701", "K", CT_TEXT).code == "4.05"


def test_modbus_values_observe_and_write():
    harness.wait_for(lambda: text_read("meter-1", "/3316/0/5700").code == "2.05", timeout=10,
                     what="first Modbus value")
    assert float(text_read("meter-1", "/3316/0/5700").text) == 230.5
    assert text_read("meter-1", "/3311/0/5850").text == "1"
    obs = S["srv"].observe(ep("meter-1"), "/3316/0/5700", accept=CT_TEXT)
    assert obs.code == "2.05", obs
    S["obs_token"] = obs.token
    S["mb"].set(1, "hr", 0, f32_regs(231.25))
    wait_notify_value(obs.token, 231.25, timeout=5)
    w = S["srv"].write(ep("meter-1"), "/3311/0/5850", "0", CT_TEXT)
    assert w.code == "2.04", w
    assert S["mb"].get(1, "co", 0, 1) == [0]
    harness.wait_for(lambda: text_read("meter-1", "/3311/0/5850").text == "0", timeout=5,
                     what="read-back of the written coil")


def test_http_endpoints():
    assert http("/healthz") == (200, "ok\n")
    harness.wait_for(lambda: http("/readyz")[0] == 200, timeout=5, what="/readyz 200")
    code, text = http("/metrics")
    assert code == 200
    metrics = parse_metrics(text)
    for name in ("lwm2m_gateway_registrations_total", "lwm2m_gateway_updates_total",
                 "lwm2m_gateway_notifications_total", "lwm2m_gateway_coap_retransmissions_total",
                 "lwm2m_gateway_bus_write_seconds_count",
                 'lwm2m_gateway_drops_total{reason="notification"}'):
        assert name in metrics, name
    assert metrics['lwm2m_gateway_endpoints{state="registered"}'] == 3
    assert metrics["lwm2m_gateway_registrations_total"] >= 3
    assert metrics["lwm2m_gateway_notifications_total"] >= 1
    assert metrics['lwm2m_gateway_bus_requests_total{adapter="plc"}'] > 0
    assert metrics["lwm2m_gateway_bus_write_seconds_count"] >= 1
    assert metrics["lwm2m_gateway_observations"] >= 1
    code, text = http("/api/v1/devices")
    devs = {d["device"]: d for d in json.loads(text)}
    assert code == 200 and set(devs) == {"meter-1", "c1", "c2"}, devs
    m = devs["meter-1"]
    assert m["endpoint"] == ep("meter-1") and m["state"] == "registered" and m["port"] > 0
    assert m["server"] == S["srv"].uri
    v = {x["path"]: x for x in m["values"]}
    assert v["/3316/0/5700"]["value"] == 231.25 and 0 <= v["/3316/0/5700"]["age_ms"] < 5000, v
    assert v["/3316/0/5701"]["value"] == "V" and v["/3316/0/5701"]["age_ms"] is None
    assert http("/nothing")[0] == 404


def test_stale_value_answers_503_and_error_code():
    S["mb"].stop()
    harness.wait_for(lambda: text_read("meter-1", "/3316/0/5700").code == "5.03",
                     timeout=STALE_S + 8, what="5.03 once the value is stale")
    vals = senml_values(S["srv"].read(ep("meter-1"), "/3/0/11", accept=CT_SENML_JSON).decoded)
    assert vals.get("/3/0/11/0") == 8, vals  # peripheral malfunction
    assert text_read("meter-1", "/3316/0/5701").text == "V"  # constants stay readable
    code, text = http("/api/v1/devices")
    m = {d["device"]: d for d in json.loads(text)}["meter-1"]
    assert m["up"] is False and m["error_code"] == 8, m
    w = S["srv"].write(ep("meter-1"), "/3311/0/5850", "1", CT_TEXT)
    assert w.code in ("5.03", "5.04"), w  # the bus is away: unavailable / gateway timeout
    S["mb"] = PyModbus(SPEC, tcp_port=S["mb_port"])
    harness.wait_for(lambda: text_read("meter-1", "/3316/0/5700").code == "2.05", timeout=40,
                     what="values again once the slave is back")
    assert float(text_read("meter-1", "/3316/0/5700").text) == 230.5


def test_sighup_reload_adds_removes_keeps():
    S["gw"].reload(config(["meter-1", "c1", "c3"]))  # c2 removed, c3 added
    S["srv"].wait_registration(ep("c3"), timeout=10)
    S["srv"].wait_deregistration(ep("c2"), timeout=10)
    time.sleep(0.5)
    assert [len(registers(S["srv"], ep(n))) for n in ("c1", "meter-1")] == [1, 1], \
        "kept devices must not register again"
    assert text_read("c3", "/3303/0/5700").code == "2.05"
    assert text_read("c1", "/3303/0/5700").code == "2.05"
    # the kept device's observation survives: a new value still notifies on the old token
    S["mb"].set(1, "hr", 0, f32_regs(232.75))
    wait_notify_value(S["obs_token"], 232.75, timeout=10)
    log = S["gw"].log()
    assert "reload done: 2 kept, 1 removed or changed, 1 added" in log, log[-2000:]


def test_sighup_with_bad_file_keeps_running():
    S["gw"].reload(config(["meter-1", "c1", "c3"]) + "bogus_key: 1\n")  # the file, one key more
    S["gw"].wait_log("reload failed", timeout=5)
    log = S["gw"].log()
    assert "gw.yaml:" in log and "bogus_key" in log
    assert S["gw"].proc.poll() is None and http("/readyz")[0] == 200


def test_sigterm_deregisters_everything():
    S["gw"].stop(timeout=8)  # exit status 0
    took = S["gw"].exit_seconds
    assert took < 6, took
    for name in ("meter-1", "c1", "c3"):
        S["srv"].wait_deregistration(ep(name), timeout=2)


def test_bad_config_exits_2():
    gw = GatewayProc("lwm2m:\n  servers: [ { uri: 'coap://127.0.0.1:1' } ]\n  lifetme: 5\n",
                     config_name="bad.yaml", prefix="gw-run-bad-")
    try:
        log = gw.wait_exit(2, timeout=10)
        assert "bad.yaml:3:3: lwm2m.lifetme: unknown key" in log, log
    finally:
        gw.close()


def test_down_device_deregisters_until_back():
    """A second gateway with devices[].down_deregister: 1s: its device deregisters while the
    slave is away and registers again when it is back."""
    gw = GatewayProc(config(["meter-1"], down_deregister="1s"), prefix="gw-run-down-")
    try:
        S["srv"].wait_registration(ep("meter-1"), timeout=10)
        harness.wait_for(lambda: text_read("meter-1", "/3316/0/5700").code == "2.05",
                         timeout=10, what="value")
        S["mb"].stop()
        S["srv"].wait_deregistration(ep("meter-1"), timeout=10)
        harness.wait_for(lambda: "deregistered_down\"} 1" in http("/metrics")[1], timeout=5,
                         what="metrics show the device deregistered while down")
        assert http("/readyz")[0] == 200  # deregistered on purpose: still ready
        S["mb"] = PyModbus(SPEC, tcp_port=S["mb_port"])
        S["srv"].wait_registration(ep("meter-1"), timeout=40)
        gw.stop(timeout=8)  # exit status 0
    finally:
        gw.close()


def test_cleanup():
    if S.get("gw"):
        S["gw"].close()
    S["mb"].stop()
    S["srv"].stop()


if __name__ == "__main__":
    harness.run([test_start, test_each_device_is_its_own_endpoint, test_device_object,
                 test_constant_resources, test_modbus_values_observe_and_write,
                 test_http_endpoints, test_stale_value_answers_503_and_error_code,
                 test_sighup_reload_adds_removes_keeps, test_sighup_with_bad_file_keeps_running,
                 test_sigterm_deregisters_everything, test_bad_config_exits_2,
                 test_down_device_deregisters_until_back,
                 test_cleanup])
