# SPDX-License-Identifier: Apache-2.0
"""Registration interface of our engine against the test LwM2M server (libcoap3, independent of
our CoAP code): Register with its parameters and object links, Update (triggered, on object set
change, ahead of lifetime expiry), De-register, 4.12 version fallback, retry after an error,
re-registration after the server forgot us."""
import harness
from lwm2m_client import Client
from lwm2m_server import LwM2MServer

EP = "urn:dev:test:0"


def test_register_update_deregister():
    with LwM2MServer() as srv, Client(srv.uri, lifetime=300) as cl:
        reg = srv.wait_registration(EP)
        assert reg.lt == 300, reg
        assert reg.version == "1.2", reg
        assert reg.binding == "U", reg
        objs = reg.objects
        for p in ("/1/0", "/3/0", "/3303/0", "/3311/0", "/3311/1"):
            assert p in objs, (p, objs)
        assert not any(p == "/0" or p.startswith("/0/") for p in objs), objs
        line = cl.wait_line(lambda l: l.startswith("event registered"))
        assert ("port=%d" % reg.port) in line, (line, reg)
        cl.send("update")
        upd = srv.wait_update(EP)
        assert not upd.get("links"), upd  # nothing changed: no object list
        cl.send("add-instance 3303 1")
        upd = srv.wait_update(EP)
        assert "/3303/1" in upd.get("links", ""), upd
        assert cl.stop() == 0
        srv.wait_deregistration(EP)
        assert any(l.startswith("exit endpoints-left=0") for l in cl.lines), cl.lines[-3:]


def test_server_object_triggers_update():
    with LwM2MServer() as srv, Client(srv.uri, lifetime=300) as cl:
        srv.wait_registration(EP)
        assert srv.execute(EP, "/1/0/8").code == "2.04"  # Registration Update Trigger
        upd = srv.wait_update(EP)
        assert upd.get("lt") is None, upd
        assert srv.write(EP, "/1/0/1", "120", 0).code == "2.04"  # Lifetime
        upd = srv.wait_update(EP)
        assert upd.get("lt") == 120, upd
        assert srv.read(EP, "/1/0/1").text == "120"
        cl.stop()


def test_update_before_lifetime_expiry():
    with LwM2MServer() as srv, Client(srv.uri, lifetime=4) as cl:
        reg = srv.wait_registration(EP)
        assert reg.lt == 4
        first = srv.wait_update(EP, timeout=6)
        second = srv.wait_update(EP, timeout=6)
        gap = second["t"] - first["t"]
        assert 1000 <= gap <= 3500, gap  # due half way through a 4 s lifetime
        assert not srv.events("expired"), srv.events("expired")
        cl.stop()


def test_version_fallback_on_412():
    with LwM2MServer(reject_versions=("1.2", "1.1")) as srv, Client(srv.uri) as cl:
        reg = srv.wait_registration(EP)
        assert reg.version == "1.0", reg
        rejected = [e.get("lwm2m") for e in srv.events("register_rejected")]
        assert rejected[:2] == ["1.2", "1.1"], srv.events("register_rejected")
        cl.wait_line(lambda l: l.startswith("event registered") and "version=1.0" in l)
        cl.stop()


def test_queue_mode_binding_per_version():
    with LwM2MServer() as srv, Client(srv.uri, binding="UQ", version=1) as cl:
        reg = srv.wait_registration(EP)
        assert reg.version == "1.1" and reg.binding == "U" and reg.queue, reg
        cl.stop()
    with LwM2MServer() as srv, Client(srv.uri, binding="UQ", version=0) as cl:
        reg = srv.wait_registration(EP)
        assert reg.version == "1.0" and reg.binding == "UQ" and not reg.queue, reg
        cl.stop()


def test_retry_after_error_response():
    with LwM2MServer(register_code="5.03") as srv, \
            Client(srv.uri, extra=["--retry-ms", "300"]) as cl:
        cl.wait_line(lambda l: l.startswith("event register-failed") and "code=5.03" in l)
        reg = srv.wait_registration(EP, timeout=5)
        assert reg.ep == EP
        cl.stop()


def test_reregister_when_server_forgot():
    port = harness.free_udp_port()
    srv = LwM2MServer(port=port).start()
    cl = Client(srv.uri, lifetime=300).start()
    try:
        srv.wait_registration(EP)
        srv.stop()
        srv = LwM2MServer(port=port).start()  # a fresh server: rd/N is unknown (4.04)
        cl.send("update")
        cl.wait_line(lambda l: l.startswith("event update-failed") and "code=4.04" in l)
        cl.wait_line(lambda l: l.startswith("event disconnected"))
        reg = srv.wait_registration(EP)
        assert reg.ep == EP
    finally:
        cl.stop()
        srv.stop()


def test_queue_mode_stops_listening_and_wakes_with_update():
    with LwM2MServer() as srv, \
            Client(srv.uri, binding="UQ", version=1, extra=["--queue-idle-ms", "800"]) as cl:
        srv.wait_registration(EP)
        assert srv.read(EP, "/3/0/0").code == "2.05"  # awake right after registering
        cl.wait_line(lambda l: l.startswith("event queue-rx-off"), timeout=5)
        # Asleep: the request goes unanswered. NON, so that the server does not keep
        # retransmitting it (a real server would hold it until our next Update).
        r = srv.command("read", ep=EP, path="/3/0/0", non=True, timeout=2)
        assert r.error == "timeout", r
        cl.send("update")
        srv.wait_update(EP)
        assert srv.read(EP, "/3/0/0").code == "2.05"  # the Update woke it
        cl.stop()


def test_location_path_as_one_option():
    """A server that answers Register with ONE Location-Path option "rd/N": Update and
    De-register still reach /rd/N (without the lenient join they went to /rd and failed)."""
    with LwM2MServer() as srv:
        srv.set_fault(location_joined=True)
        with Client(srv.uri, lifetime=300) as cl:
            srv.wait_registration(EP)
            cl.send("update")
            srv.wait_update(EP)
            assert not srv.events("register_rejected"), srv.events("register_rejected")
            assert cl.stop() == 0
            srv.wait_deregistration(EP)
        assert len(srv.events("register")) == 1, srv.events("register")


def test_two_servers_one_endpoint():
    with LwM2MServer() as a, LwM2MServer() as b, \
            Client(a.uri, extra=["--server", b.uri]) as cl:
        ra, rb = a.wait_registration(EP), b.wait_registration(EP)
        assert ra.port == rb.port, (ra, rb)  # one socket per endpoint, shared by its servers
        for reg in (ra, rb):
            assert "/1/0" in reg.objects and "/1/1" in reg.objects, reg.objects
        assert a.read(EP, "/1/0/0").text == "1" and b.read(EP, "/1/1/0").text == "2"
        assert cl.stop() == 0
        a.wait_deregistration(EP)
        b.wait_deregistration(EP)


if __name__ == "__main__":
    harness.run([test_register_update_deregister, test_location_path_as_one_option, test_server_object_triggers_update,
                 test_update_before_lifetime_expiry,
                 test_version_fallback_on_412, test_queue_mode_binding_per_version,
                 test_retry_after_error_response, test_reregister_when_server_forgot,
                 test_queue_mode_stops_listening_and_wakes_with_update,
                 test_two_servers_one_endpoint])
