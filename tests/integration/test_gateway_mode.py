# SPDX-License-Identifier: Apache-2.0
"""`lwm2m-gateway run` in `lwm2m.mode: gateway` (LwM2M 1.2 Gateway) against the test LwM2M server
(libcoap3): one registration whose links hold the gateway's own /3/0, /25/0.. and each device's
object instances under its prefix; reads of /25/x and of prefixed paths; a write (a Modbus coil
through pymodbus) and an execute on prefixed paths; Discover; Observe with a notification after
the Modbus value changed; a Read-Composite over two devices' paths; SIGTERM deregisters the one
endpoint. Prints `N passed, M failed`."""
import os
import shutil
import signal
import struct
import subprocess
import tempfile
import time

import harness
from gw_fixtures import meter_and_thermo
from lwm2m_server import CT_SENML_JSON, CT_TEXT, LwM2MServer, parse_links, senml_values
from mb_common import PyModbus, free_tcp_port

GW_ID = "gwm-it"
EP = "urn:dev:%s" % GW_ID
S = {}


def f32_regs(v):
    hi, lo = struct.unpack(">HH", struct.pack(">f", v))
    return [hi, lo]


SPEC = {"units": {"1": {"hr": f32_regs(230.5) + [0] * 8, "co": [1, 0, 0, 0]}}}


def config():
    return "\n".join([
        "gateway: { id: %s, log_level: debug }" % GW_ID,
        "lwm2m:",
        "  mode: gateway",
        "  endpoint_name: 'urn:dev:{gateway}'",
        "  lifetime: 60",
        "  servers: [ { uri: 'coap://127.0.0.1:%d' } ]" % S["srv"].port,
    ] + meter_and_thermo(S["mb_port"]) + [
        "devices:",
        "  - { name: meter-1, adapter: plc, unit: 1, profile: meter, poll: 200ms }",
        "  - { name: c1, adapter: none, profile: thermo }",
    ]) + "\n"


def read(path, accept=CT_TEXT):
    return S["srv"].read(EP, path, accept=accept)


def gw_log():
    with open(S["log"], encoding="utf-8", errors="replace") as f:
        return f.read()


# ---- tests -----------------------------------------------------------------------------------


def test_start():
    S["dir"] = tempfile.mkdtemp(prefix="gw-mode-")
    S["cfg"] = os.path.join(S["dir"], "gw.yaml")
    S["log"] = os.path.join(S["dir"], "gw.log")
    S["mb_port"] = free_tcp_port()
    S["srv"] = LwM2MServer().start()
    S["mb"] = PyModbus(SPEC, tcp_port=S["mb_port"])
    with open(S["cfg"], "w", encoding="utf-8") as f:
        f.write(config())
    S["gw"] = subprocess.Popen([harness.binary("bridge", "lwm2m-gateway"), "run", "-c", S["cfg"]],
                               stdout=subprocess.DEVNULL, stderr=open(S["log"], "w"))


def test_one_registration_with_prefixed_links():
    reg = S["srv"].wait_registration(EP, timeout=10)
    # the devices come one after the other: their links may arrive with Updates
    harness.wait_for(lambda: "/c1/3303/0" in current_objects(), timeout=10,
                     what="both devices in the registration")
    objs = current_objects()
    for p in ("/1/0", "/3/0", "/25/0", "/25/1", "/meter-1/3316/0", "/meter-1/3311/0",
              "/meter-1/3/0", "/c1/3303/0", "/c1/3/0"):
        assert p in objs, (p, objs)
    assert reg.version == "1.2", reg
    assert len([e for e in S["srv"].events("register") if e["ep"] == EP]) == 1
    assert not [e for e in S["srv"].events("register") if e["ep"] != EP]


def current_objects():
    """The object list the server holds for EP now (Register, or the last Update with links)."""
    r = S["srv"].registration(EP)
    links = r.links if hasattr(r, "links") else (r or {}).get("links")
    return [p for p, _ in parse_links(links or "") if p != "/"]


def test_gateway_object():
    ids = {read("/25/0/0").text, read("/25/1/0").text}
    assert ids == {"meter-1", "c1"}, ids
    prefixes = {read("/25/0/1").text, read("/25/1/1").text}
    assert prefixes == {"meter-1", "c1"}, prefixes
    i = 0 if read("/25/0/1").text == "c1" else 1
    links = read("/25/%d/3" % i).text
    assert "</c1/3303/0>" in links and "</c1/3/0>" in links, links
    assert read("/3/0/0").text == "lwm2m-gateway"  # the gateway's own Device object
    assert read("/3/0/2").text == GW_ID


def test_prefixed_read():
    assert read("/c1/3303/0/5700").text == "21.5"
    assert read("/c1/3/0/0").text == "Thermo Inc"
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
    deadline = time.monotonic() + 5
    while True:
        n = S["srv"].wait_notify(token=obs.token, timeout=max(0.1, deadline - time.monotonic()))
        if float(n.text) == 231.25:
            break
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
    deadline = time.monotonic() + 5
    while True:
        n = S["srv"].wait_notify(token=obs.token, timeout=max(0.1, deadline - time.monotonic()))
        if senml_values(n.decoded).get("/meter-1/3316/0/5700") == 232.5:
            break


def test_sigterm_deregisters():
    S["gw"].send_signal(signal.SIGTERM)
    S["srv"].wait_deregistration(EP, timeout=10)
    assert S["gw"].wait(timeout=8) == 0


def test_cleanup():
    if S.get("gw") and S["gw"].poll() is None:
        S["gw"].kill()
        S["gw"].wait()
    if S.get("mb"):
        S["mb"].stop()
    if S.get("srv"):
        S["srv"].stop()
    shutil.rmtree(S["dir"], ignore_errors=True)


if __name__ == "__main__":
    harness.run([test_start, test_one_registration_with_prefixed_links, test_gateway_object,
                 test_prefixed_read, test_prefixed_write_and_execute, test_prefixed_discover,
                 test_prefixed_observe, test_composite_read_over_two_devices,
                 test_composite_write_and_observe, test_sigterm_deregisters, test_cleanup])
