# SPDX-License-Identifier: Apache-2.0
"""`lwm2m-gateway run` in `lwm2m.mode: gateway` with 300 hosted devices against the test LwM2M
server (libcoap3, reassembling Block1): the one endpoint registers once, and the link list the
server received (Register, then any Update with links) names every /25/N instance and every
device's prefixed objects; its payload is many CoAP blocks long. A device added by SIGHUP reload
arrives with an Update whose payload (also several blocks) the server receives whole; after a
server restart the gateway registers again with all of them in one Register. Asserts on
the server's received link lists, not on gateway logs. Prints `N passed, M failed`."""
import re

import harness
from gw_fixtures import GatewayProc, constant_devices, registers
from lwm2m_server import CT_TEXT, LwM2MServer, parse_links

GW_ID = "gw-scale"
EP = "urn:dev:%s" % GW_ID
N_DEVICES = 300
BLOCK = 1024  # the gateway's block size (SZX 6): a larger payload must have gone block-wise
S = {}


def dev(i):
    return "d%03d" % i


def config(n):
    return "\n".join([
        "gateway: { id: %s, log_level: info }" % GW_ID,
        "lwm2m:",
        "  mode: gateway",
        "  endpoint_name: 'urn:dev:{gateway}'",
        "  lifetime: 300",
        "  servers: [ { uri: 'coap://127.0.0.1:%d' } ]" % S["srv"].port,
    ] + constant_devices([dev(i) for i in range(1, n + 1)])) + "\n"


def objects(links):
    return [p for p, _ in parse_links(links or "") if p != "/"]


def check_complete(links, n):
    """links (as the server received them) name /25/0..n-1 and every device's objects."""
    objs = set(objects(links))
    gw_instances = {p for p in objs if re.fullmatch(r"/25/\d+", p)}
    assert gw_instances == {"/25/%d" % i for i in range(n)}, sorted(gw_instances)[-5:]
    missing = [p for i in range(1, n + 1) for p in ("/%s/3/0" % dev(i), "/%s/3303/0" % dev(i))
               if p not in objs]
    assert not missing, missing[:10]
    assert "/3/0" in objs and "/1/0" in objs, sorted(objs)[:10]


# ---- tests -----------------------------------------------------------------------------------


def test_start():
    S["srv"] = LwM2MServer().start()
    S["gw"] = GatewayProc(config(N_DEVICES), prefix="gw-scale-")


def test_registers_once_with_every_device():
    reg = S["srv"].wait_registration(EP, timeout=20)
    assert reg.version == "1.2", reg
    # Configured devices are attached before the first Register leaves: it carries all of them.
    links = reg.links
    check_complete(links, N_DEVICES)
    assert len(links.encode()) > 10 * BLOCK, len(links)  # about 20 KiB: Block1 it was
    assert len(registers(S["srv"], EP)) == 1
    assert not S["srv"].events("register_rejected")
    assert S["gw"].proc.poll() is None


def test_last_device_readable():
    r = S["srv"].read(EP, "/%s/3303/0/5700" % dev(N_DEVICES), accept=CT_TEXT)
    assert r.code == "2.05" and r.text == "21.5", r


def test_reload_adds_device_with_large_update():
    n = N_DEVICES + 1
    S["gw"].reload(config(n))
    ev = S["srv"].wait_event("update", ep=EP, timeout=20,
                             pred=lambda e: "/%s/3303/0" % dev(n) in (e.get("links") or ""))
    links = ev["links"]
    assert len(links.encode()) > 10 * BLOCK, len(links)
    check_complete(links, n)
    assert len(registers(S["srv"], EP)) == 1
    r = S["srv"].read(EP, "/%s/3/0/0" % dev(n), accept=CT_TEXT)
    assert r.code == "2.05" and r.text == "Thermo Inc", r


def test_full_register_after_server_restart():
    """A server that forgot us answers the next Update with 4.04: the gateway registers again,
    this time with every device in the Register itself (many blocks)."""
    port = S["srv"].port
    S["srv"].stop()
    S["srv"] = LwM2MServer(port=port).start()
    n = N_DEVICES + 2
    S["gw"].reload(config(n))
    reg = S["srv"].wait_registration(EP, timeout=30)
    assert len(reg.links.encode()) > 10 * BLOCK, len(reg.links)
    check_complete(reg.links, n)
    r = S["srv"].read(EP, "/%s/3303/0/5701" % dev(n), accept=CT_TEXT)
    assert r.code == "2.05" and r.text == "Cel", r


def test_sigterm_deregisters():
    S["gw"].terminate()
    S["srv"].wait_deregistration(EP, timeout=10)
    S["gw"].stop(timeout=8)  # exit status 0


def test_cleanup():
    if S.get("gw"):
        S["gw"].close()
    if S.get("srv"):
        S["srv"].stop()


if __name__ == "__main__":
    harness.run([test_start, test_registers_once_with_every_device, test_last_device_readable,
                 test_reload_adds_device_with_large_update, test_full_register_after_server_restart,
                 test_sigterm_deregisters,
                 test_cleanup])
