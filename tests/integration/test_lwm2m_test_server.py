# SPDX-License-Identifier: Apache-2.0
"""Self-test of the test LwM2M server (tests/peers/lwm2m_test_server) with independent tools only:
libcoap's coap-client-notls plays the LwM2M client for Register/Update/De-register/Send, and
libcoap's example coap-server-notls answers the requests the server issues. Over DTLS,
coap-client-openssl is the client (the server's DTLS is libcoap's GnuTLS flavour, so the two ends
are different stacks), with certificates from dtls_certs.py. Bootstrap: coap-client-notls or
BareClient (CoAP on a Python socket, just enough to answer and record the server's requests)
plays the client, and the TLV the server writes is checked against bytes written out here from
TS Core 7.4.3. Prints one line per case and "N passed, M failed"; exits non-zero on a failure."""
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dtls_certs  # noqa: E402
from lwm2m_server import (CT_LINK, CT_SENML_CBOR, CT_SENML_JSON, CT_TEXT, CT_TLV,  # noqa: E402
                          BootstrapFailed, LwM2MServer, bs_delete, bs_discover, bs_finish, bs_read,
                          bs_security, bs_server, bs_write, parse_links, senml_values, tlv_find,
                          tlv_float, tlv_int, tlv_str)

COAP_CLIENT = "coap-client-notls"
COAP_CLIENT_DTLS = "coap-client-openssl"
COAP_SERVER = "coap-server-notls"
RESPONSE_RE = re.compile(r"^v:1 t:(?:ACK|CON|NON) c:(\d\.\d\d) i:\w+ \{\w*\} \[(.*?)\]")
CASES = []  # (function, its server's extra LwM2MServer arguments)
# DTLS credentials of the dtls_case servers; PKI is made once by main() (dtls_certs.make_pki)
PSKS = {"st-psk": b"st-secret-1", "urn:imei:490154203237518": b"st-secret-2"}
PKI = {}


def case(fn):
    CASES.append((fn, {}))
    return fn


def dtls_case(fn):
    """A case whose server also listens for DTLS, taking PSKS and the certificates of PKI."""
    CASES.append((fn, {"dtls": True}))
    return fn


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def free_port(family=socket.AF_INET, host="127.0.0.1"):
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        if family == socket.AF_INET6:
            # coap-client -p binds [::]:port dual-stack, which an IPv4 socket on the port (of
            # another process) also blocks: probe the same way
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            host = "::"
        s.bind((host, 0))
        return s.getsockname()[1]


class Reply:
    def __init__(self, code, options, out):
        self.code, self.options, self.out = code, options, out

    @property
    def location(self):
        return "/".join(re.findall(r"Location-Path:([^,\s\]]+)", self.options))

    def __repr__(self):
        return "Reply(%s, [%s])" % (self.code, self.options)


def coap(method, uri, src_port=None, payload=None, ct=None, payload_file=None, wait=5,
         client=COAP_CLIENT, extra=()):
    """One request by coap-client-notls (or client, with extra options such as its DTLS
    credentials); the response code and options from its INFO log."""
    args = [client, "-v", "6", "-B", str(wait), "-m", method] + list(extra)
    if src_port:
        args += ["-p", str(src_port)]
    if ct is not None:
        args += ["-t", str(ct)]
    if payload is not None:
        args += ["-e", payload]
    if payload_file is not None:
        args += ["-f", payload_file]
    out = subprocess.run(args + [uri], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         timeout=wait + 10).stdout.decode("utf-8", "replace")
    for line in out.splitlines():
        m = RESPONSE_RE.match(line)
        if m:
            return Reply(m.group(1), m.group(2), out)
    return Reply(None, "", out)


def register(srv, ep, src_port, lt=60, version="1.1", binding="U", links="</1/0>,</3/0>",
             extra=""):
    uri = "%s/rd?ep=%s&lt=%d&lwm2m=%s&b=%s%s" % (srv.uri, ep, lt, version, binding, extra)
    return coap("post", uri, src_port, payload=links, ct=CT_LINK)


class CoapServer:
    """libcoap's example server on a given loopback port (-d: dynamic resources by POST/PUT)."""

    def __init__(self, port):
        self.proc = subprocess.Popen([COAP_SERVER, "-A", "127.0.0.1", "-p", str(port), "-d", "10"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.3)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.proc.terminate()
        self.proc.wait(5)


def no_event(srv, name, pred, seconds):
    try:
        srv.wait_event(name, pred, timeout=seconds)
    except TimeoutError:
        return True
    return False


# ---- resource directory ----

@case
def register_update_deregister(srv):
    port = free_port()
    r = register(srv, "st-1", port, lt=60)
    check(r.code == "2.01", "register: %r" % r)
    check(re.fullmatch(r"rd/\w+", r.location), "Location-Path: %r" % r.location)
    reg = srv.wait_registration("st-1", 2)
    check((reg.lt, reg.version, reg.binding, reg.queue) == (60, "1.1", "U", False), reg)
    check(reg.secure is False and reg.psk_identity is None and reg.cert_cn is None, reg)
    check((reg.addr, reg.port) == ("127.0.0.1", port), "source address: %r" % reg)
    check(reg.objects == ["/1/0", "/3/0"] and "rd/" + reg.id == r.location, reg)
    u = coap("post", "%s/%s?lt=120" % (srv.uri, r.location), port)
    check(u.code == "2.04", "update: %r" % u)
    check(srv.wait_update("st-1", 2)["lt"] == 120, "update event")
    u = coap("post", "%s/%s" % (srv.uri, r.location), port, payload="</1/0>,</3/0>,</3303/0>",
             ct=CT_LINK)
    check(u.code == "2.04" and srv.wait_update("st-1", 2)["links"].endswith("</3303/0>"), u)
    check(srv.registration("st-1").objects == ["/1/0", "/3/0", "/3303/0"], "list after update")
    d = coap("delete", "%s/%s" % (srv.uri, r.location), port)
    check(d.code == "2.02", "deregister: %r" % d)
    srv.wait_deregistration("st-1", 2)
    check(srv.registration("st-1") is None, "still listed")
    check(coap("delete", "%s/%s" % (srv.uri, r.location), port).code == "4.04", "2nd delete")
    check(coap("post", "%s/%s" % (srv.uri, r.location), port).code == "4.04", "update unknown")


@case
def register_queue_sms_and_replace(srv):
    port = free_port()
    check(register(srv, "st-q", port, extra="&Q&sms=%2B123").code == "2.01", "register Q")
    reg = srv.wait_registration("st-q", 2)
    check(reg.queue is True and reg.sms == "+123", reg)
    port2 = free_port()
    check(register(srv, "st-q", port2).code == "2.01", "re-register")
    again = srv.wait_registration("st-q", 2)
    check(again.raw.get("replaced") == reg.id and again.port == port2, again)
    check(len([r for r in srv.list()["registrations"] if r["ep"] == "st-q"]) == 1, "one entry")


@case
def malformed_requests(srv):
    port = free_port()
    check(coap("post", srv.uri + "/rd?lt=60", port, payload="</1/0>", ct=CT_LINK).code
          == "4.00", "missing ep")
    check(register(srv, "st-bad", port, extra="&lt=abc").code == "4.00", "bad lt")
    check(coap("post", srv.uri + "/rd?ep=x", port, payload="hello", ct=CT_TEXT).code
          == "4.00", "payload not link-format")
    check(coap("get", srv.uri + "/nothing", port).code == "4.04", "unknown path")
    check(coap("put", srv.uri + "/rd", port).code == "4.05", "PUT /rd")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for junk in (b"", b"\x00", b"\xff" * 40, b"\x40\x02\x00\x01\xff", b"\x48\x02" + b"\x00" * 3,
                     bytes(range(256))):
            s.sendto(junk, ("127.0.0.1", srv.port))
    check(srv.command("ping").raw.get("ok"), "alive after junk")
    check(register(srv, "st-after-junk", port).code == "2.01", "serves after junk")
    ev = srv.wait_register_rejected(None, 2)
    check(ev["code"] == "4.00" and ev["reason"], ev)


@case
def version_fallback_and_forced_code(srv):
    port = free_port()
    srv.set_fault(reject_version="1.2")
    check(register(srv, "st-v", port, version="1.2").code == "4.12", "1.2 rejected")
    ev = srv.wait_register_rejected("st-v", 2)
    check(ev["lwm2m"] == "1.2" and ev["code"] == "4.12", ev)
    check(register(srv, "st-v", port, version="1.1").code == "2.01", "1.1 accepted")
    srv.set_fault(register_code="5.03", count=1)
    check(register(srv, "st-w", port).code == "5.03", "forced 5.03")
    check(register(srv, "st-w", port).code == "2.01", "forced code is one-shot")
    srv.set_fault(clear=True, reject_version=[])


# ---- Send ----

@case
def send_senml(srv):
    port = free_port()
    check(register(srv, "st-send", port).code == "2.01", "register")
    # [{-2: "/3303/0/", 0: "5700", 2: 21.5}] in CBOR, written out by hand
    cbor = (b"\x81\xa3\x21\x68/3303/0/\x00\x645700\x02\xfb" + bytes.fromhex("4035800000000000"))
    with tempfile.NamedTemporaryFile(suffix=".cbor") as f:
        f.write(cbor)
        f.flush()
        r = coap("post", srv.uri + "/dp", port, payload_file=f.name, ct=CT_SENML_CBOR)
    check(r.code == "2.04", "send cbor: %r" % r)
    ev = srv.wait_send("st-send", 2)
    check(ev.ct == 112 and ev.payload == cbor and ev.raw["secure"] is False, ev)
    check(senml_values(ev.decoded) == {"/3303/0/5700": 21.5}, ev)
    r = coap("post", srv.uri + "/dp", port, payload='[{"n":"/3/0/0","vs":"ACME"}]',
             ct=CT_SENML_JSON)
    check(r.code == "2.04", "send json: %r" % r)
    check(senml_values(srv.wait_send("st-send", 2).decoded) == {"/3/0/0": "ACME"}, "json")
    check(coap("post", srv.uri + "/dp", port, payload="x", ct=CT_TEXT).code == "4.15", "ct 0")
    check(srv.wait_send("st-send", 2).raw["code"] == "4.15", "ct 0 recorded")
    check(coap("post", srv.uri + "/dp", port, payload="[{", ct=CT_SENML_JSON).code == "4.00",
          "bad json")
    check(srv.wait_send("st-send", 2).decode_error, "bad json recorded")
    check(coap("post", srv.uri + "/dp", free_port(), payload="[]", ct=CT_SENML_JSON).code
          == "4.03", "send from an unregistered address")


@case
def lifetime_expiry(srv):
    port = free_port()
    r = register(srv, "st-exp", port, lt=1)
    check(r.code == "2.01", r)
    ev = srv.wait_expired("st-exp", 4)
    reg = srv.events("register")[-1]
    check(1000 <= ev["t"] - reg["t"] <= 2500, "expired after %d ms" % (ev["t"] - reg["t"]))
    check(coap("post", "%s/%s" % (srv.uri, r.location), port).code == "4.04", "update expired")


@case
def pause_and_resume(srv):
    port = free_port()
    srv.pause()
    r = register(srv, "st-p", port, links="</1/0>")
    check(r.code is None, "answered while paused: %r" % r)
    srv.resume()
    check(register(srv, "st-p", port).code == "2.01", "after resume")
    # the event line may reach us after coap-client's answer: wait for it, then count
    srv.wait_registration("st-p", 5)
    check(len(srv.events("register")) == 1, "registered once: %r" % srv.events("register"))


@case
def many_concurrent_registrations(srv):
    ports = [free_port() for _ in range(50)]
    procs = [subprocess.Popen([COAP_CLIENT, "-B", "10", "-m", "post", "-p", str(p), "-t", "40",
                               "-e", "</3/0>", "%s/rd?ep=st-m%d&lt=300" % (srv.uri, i)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for i, p in enumerate(ports)]
    for p in procs:
        p.wait(20)
    for i, p in enumerate(ports):
        reg = srv.wait_registration("st-m%d" % i, 5)
        check(reg.port == p, reg)
    check(len(srv.list()["registrations"]) == 50, "50 listed")


# ---- requests issued by the server, answered by coap-server-notls ----

def registered_coap_server(srv, ep):
    """Registers ep from a port, then starts coap-server-notls on that same port."""
    port = free_port()
    check(register(srv, ep, port).code == "2.01", "register")
    srv.wait_registration(ep, 2)
    return CoapServer(port), port


@case
def dm_read_discover_write_blocks(srv):
    cs, port = registered_coap_server(srv, "st-dm")
    with cs:
        r = srv.read("st-dm", "/time")
        check(r.code == "2.05" and re.match(r"\w{3} +\d+ \d\d:\d\d:\d\d", r.text), r)
        d = srv.discover("st-dm", "/.well-known/core")
        check(d.code == "2.05" and d.ct == CT_LINK, d)
        check("/time" in [p for p, _ in parse_links(d.decoded)], d)
        big = "".join(chr(65 + i % 26) for i in range(3000))  # Block1 out, Block2 back
        w = srv.write("st-dm", "/example_data", big, ct=CT_TEXT)
        check(w.code in ("2.01", "2.04"), w)
        back = srv.read("st-dm", "/example_data")
        check(back.code == "2.05" and back.text == big, "block2 read: %r" % back)
        check(srv.write("st-dm", "/example_data", "x", ct=CT_TEXT, partial=True).code == "4.05",
              "partial write is a POST")
        c = srv.create("st-dm", "/dyn1", b"\x01\x02", ct=42)
        check(c.code == "2.01", c)
        check(srv.read("st-dm", "/dyn1").payload == b"\x01\x02", "created")
        check(srv.delete("st-dm", "/dyn1").code == "2.02", "delete")
        check(srv.read("st-dm", "/dyn1").code == "4.04", "deleted")
        check(srv.execute("st-dm", "/time", "0='x'").code == "4.05", "execute is a POST")
        wa = srv.write_attributes("st-dm", "/dyn2", pmin=10, pmax=60)
        check(wa.code == "2.01", "write-attributes is a PUT: %r" % wa)
        raw = srv.request("GET", "/time", addr="127.0.0.1", port=port)
        check(raw.code == "2.05", "raw-address request: %r" % raw)


@case
def dm_observe_and_cancel(srv):
    cs, _ = registered_coap_server(srv, "st-obs")
    with cs:
        o = srv.observe("st-obs", "/time")
        check(o.code == "2.05" and o.observe is not None and o.token, o)
        n1 = srv.wait_notify(token=o.token, timeout=3)
        n2 = srv.wait_notify(token=o.token, timeout=3)
        check(n2.observe > n1.observe and n1.raw["ep"] == "st-obs", (n1, n2))
        check([x["token"] for x in srv.list()["observations"]] == [o.token], "listed")
        c = srv.cancel_observe(o.token, "get")
        check(c.code == "2.05" and c.observe is None, "cancel by GET: %r" % c)
        check(no_event(srv, "notify", lambda e: e["token"] == o.token, 2.5), "notified after")
        o = srv.observe("st-obs", "/time")
        check(srv.cancel_observe(o.token, "rst").raw.get("ok"), "cancel by RST")
        n = srv.wait_notify(token=o.token, timeout=3)
        check(n.raw.get("cancelled") == "rst", n)
        check(no_event(srv, "notify", lambda e: e["token"] == o.token, 2.5), "notified after RST")
        check(srv.list()["observations"] == [], "none left")


@case
def dm_composite(srv):
    cs, _ = registered_coap_server(srv, "st-comp")
    with cs:
        r = srv.command("read_composite", ep="st-comp", path="/time", ct=CT_SENML_CBOR,
                        paths=["/3/0/0", "/3/0/13"])
        check(r.code == "2.05" and r.text, "FETCH: %r" % r)
        o = srv.command("observe_composite", ep="st-comp", path="/time", ct=CT_SENML_JSON,
                        paths=["/3/0/13"])
        check(o.code == "2.05" and o.token and o.observe is not None, o)
        srv.wait_notify(token=o.token, timeout=3)
        c = srv.cancel_observe(o.token, "get")
        check(c.code == "2.05" and c.observe is None, "FETCH Observe 1: %r" % c)
        w = srv.write_composite("st-comp", [{"n": "/3/0/14", "vs": "+02:00"}], ct=CT_SENML_CBOR)
        check(w.code == "4.05", "iPATCH: %r" % w)


@case
def timeouts(srv):
    port = free_port()
    check(register(srv, "st-dead", port).code == "2.01", "register")
    srv.wait_registration("st-dead", 2)
    t0 = time.monotonic()
    r = srv.read("st-dead", "/3/0", timeout=1)
    check(r.error == "timeout" and time.monotonic() - t0 < 3, r)
    r = srv.request("GET", "/x", addr="127.0.0.1", port=free_port(), timeout=1)
    check(r.error in ("timeout", "not deliverable"), r)
    check(srv.read("nobody", "/3/0").error == "unknown endpoint", "unknown ep")


# ---- decoders ----

@case
def decoders(srv):
    # Device object instance 0: resource 0 "Open Mobile Alliance", multiple resource 6
    # {0: 1, 1: 5} (TS Core 7.4.3 layout), resource 5700 (16-bit id) float 22.0
    res0 = b"\xc8\x00\x14Open Mobile Alliance"
    res6 = bytes.fromhex("86064100014101 05".replace(" ", ""))
    res5700 = bytes.fromhex("e8164404 41b00000".replace(" ", ""))
    body = res0 + res6 + res5700
    tlv = b"\x08\x00" + bytes([len(body)]) + body
    r = srv.decode(CT_TLV, tlv)
    check(r.decode_error is None, r)
    check(tlv_str(tlv_find(r.decoded, 0, 0)) == "Open Mobile Alliance", r)
    check(tlv_find(r.decoded, 0, 6)["type"] == "multiple", r)
    check(tlv_int(tlv_find(r.decoded, 0, 6, 1)) == 5, r)
    check(tlv_float(tlv_find(r.decoded, 0, 5700)) == 22.0, r)
    check(srv.decode(CT_TLV, res0[:5]).decode_error, "truncated TLV")
    check(srv.decode(CT_TLV, b"\x08\x00\x03\x41\x00\x01").decode_error, "resinst in instance")
    c = srv.decode(60, bytes.fromhex("a2016161 0243010203".replace(" ", "")))
    check(c.decoded == {"1": "a", "2": {"hex": "010203"}}, c)
    check(srv.decode(60, b"\xa2\x01").decode_error, "truncated CBOR")
    check(srv.decode(60, b"\x01\x02").decode_error, "trailing CBOR")
    check(srv.decode(CT_SENML_JSON, b'[{"n":"a","v":1}]').decoded == [{"n": "a", "v": 1}], "json")
    rec = [{"bn": "/3/0/", "n": "0", "vs": "x"}, {"n": "9", "v": 1.5}, {"n": "1", "vd": "AQI"}]
    enc = srv.encode_senml(rec, CT_SENML_CBOR)
    vals = senml_values(srv.decode(CT_SENML_CBOR, enc).decoded)
    check(vals == {"/3/0/0": "x", "/3/0/9": 1.5, "/3/0/1": b"\x01\x02"}, vals)


@case
def ipv6_loopback(_srv):
    with LwM2MServer(addr="::1", psk=PSKS) as srv6:
        port = free_port(socket.AF_INET6, "::1")
        uri = "coap://[::1]:%d/rd?ep=st-v6&lt=60&lwm2m=1.1&b=U" % srv6.port
        check(coap("post", uri, port, payload="</3/0>", ct=CT_LINK).code == "2.01", "v6")
        reg = srv6.wait_registration("st-v6", 2)
        check((reg.addr, reg.port) == ("::1", port), reg)
        check(srv6.dtls_endpoints == [{"addr": "::1", "port": srv6.dtls_port}], srv6.dtls_endpoints)
        # coap-client sends "::1" as SNI, which GnuTLS refuses (RFC 6066 allows no IP literals):
        # the DTLS endpoint is checked with a bare ClientHello
        check(hello_verify(("::1", srv6.dtls_port), socket.AF_INET6), "no HelloVerifyRequest")
        check(srv6.stop() == 0, "v6 server exit status")


def hello_verify(addr, family=socket.AF_INET):
    """Whether a DTLS 1.2 ClientHello (PSK with AES-128-CCM-8, no cookie) to addr gets a
    HelloVerifyRequest, the first answer of a DTLS server."""
    body = (b"\xfe\xfd" + os.urandom(32) + b"\x00" + b"\x00" + b"\x00\x02\xc0\xa8" +
            b"\x01\x00")
    n = len(body).to_bytes(3, "big")
    hs = b"\x01" + n + b"\x00\x00" + b"\x00\x00\x00" + n + body
    record = b"\x16\xfe\xfd" + bytes(8) + len(hs).to_bytes(2, "big") + hs
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.settimeout(2)
        s.sendto(record, addr)
        try:
            answer = s.recv(2048)
        except socket.timeout:
            return False
    return len(answer) > 13 and answer[0] == 22 and answer[13] == 3


# ---- DTLS: coap-client-openssl against the server's GnuTLS ----

def psk_creds(identity, key=None):
    return ["-u", identity, "-k", (key or PSKS[identity]).decode()]


def cert_creds(cert, key):
    return ["-c", cert, "-j", key, "-C", PKI["ca"]]


def register_dtls(srv, ep, src_port, creds, wait=5, client=COAP_CLIENT_DTLS):
    uri = "%s/rd?ep=%s&lt=60&lwm2m=1.1&b=U" % (srv.dtls_uri, ep)
    return coap("post", uri, src_port, payload="</1/0>,</3/0>", ct=CT_LINK, wait=wait,
                client=client, extra=creds)


def from_port(port):
    return lambda e: e["port"] == port


@dtls_case
def dtls_psk_register_update_send(srv):
    port = free_port()
    r = register_dtls(srv, "st-d1", port, psk_creds("urn:imei:490154203237518"))
    check(r.code == "2.01", "register over DTLS: %r" % r)
    reg = srv.wait_registration("st-d1", 2)
    check(reg.secure is True and reg.psk_identity == "urn:imei:490154203237518", reg)
    check(reg.cert_cn is None and (reg.addr, reg.port) == ("127.0.0.1", port), reg)
    # coap-client ends its session with close_notify: the registration stays, without a session
    closed = srv.wait_dtls_closed("st-d1", from_port(port), 2)
    check(closed["ep"] == "st-d1" and closed["reason"] == "closed", closed)
    check(srv.read("st-d1", "/3/0").error.startswith("no session"), "DM without a session")
    u = coap("post", "%s/%s?lt=120" % (srv.dtls_uri, r.location), port,
             client=COAP_CLIENT_DTLS, extra=psk_creds("st-psk"))
    check(u.code == "2.04", "update over a new session from the same port: %r" % u)
    ev = srv.wait_update("st-d1", 2)
    check(ev["secure"] is True and ev["psk_identity"] == "st-psk" and ev["lt"] == 120, ev)
    r = coap("post", srv.dtls_uri + "/dp", free_port(), payload="[]", ct=CT_SENML_JSON,
             client=COAP_CLIENT_DTLS, extra=psk_creds("st-psk"))
    check(r.code == "4.03", "send from an unregistered session: %r" % r)
    ev = srv.wait_send(None, 2).raw
    check(ev["secure"] is True and ev["psk_identity"] == "st-psk", ev)
    # libcoap's GnuTLS client too (the same stack on both ends, for once)
    r = register_dtls(srv, "st-d2", free_port(), psk_creds("st-psk"), client="coap-client-gnutls")
    check(r.code == "2.01" and srv.wait_registration("st-d2", 2).psk_identity == "st-psk", r)
    check(srv.registration("st-d2").secure is True, "list shows secure")


@dtls_case
def dtls_psk_refused(srv):
    port = free_port()
    r = register_dtls(srv, "st-bad", port, psk_creds("st-psk", b"wrong-key"), wait=1)
    check(r.code is None, "answered with a wrong key: %r" % r)
    ev = srv.wait_dtls_failed(from_port(port), 2)
    check("wrong key" in ev["reason"] and "decryption" in ev["detail"], ev)
    port = free_port()
    r = register_dtls(srv, "st-bad", port, psk_creds("nobody", b"st-secret-1"), wait=2)
    check(r.code is None, "answered an unknown identity: %r" % r)
    ev = srv.wait_dtls_failed(from_port(port), 2)
    check(ev["reason"] == "unknown psk identity" and ev["psk_identity"] == "nobody", ev)
    check(srv.events("register") == [], "registered: %r" % srv.events("register"))


@dtls_case
def dtls_certificates(srv):
    port = free_port()
    r = register_dtls(srv, "st-c1", port, cert_creds(**PKI["clients"]["st-cert"]))
    check(r.code == "2.01", "register with a certificate: %r" % r)
    reg = srv.wait_registration("st-c1", 2)
    check(reg.secure and reg.cert_cn == "st-cert" and reg.psk_identity is None, reg)
    port = free_port()
    r = register_dtls(srv, "st-c2", port, cert_creds(*PKI["rogue"]), wait=2)
    check(r.code is None, "answered a certificate of another CA: %r" % r)
    ev = srv.wait_dtls_failed(from_port(port), 2)
    check("CA is unknown" in ev.get("detail", ""), ev)
    port = free_port()
    r = register_dtls(srv, "st-c3", port, ["-C", PKI["ca"]], wait=2)
    check(r.code is None, "answered a client without a certificate: %r" % r)
    ev = srv.wait_dtls_failed(from_port(port), 2)
    check("not provided" in ev.get("detail", ""), ev)
    check([e["ep"] for e in srv.events("register")] == ["st-c1"], srv.events("register"))


@dtls_case
def dtls_dm_and_drop_sessions(srv):
    port = free_port()
    # -G 2: the client repeats its Register a second later on the same DTLS session, answering
    # requests meanwhile (4.04: coap-client has no resources)
    args = [COAP_CLIENT_DTLS, "-B", "2", "-G", "2", "-p", str(port), "-m", "post", "-t", "40",
            "-e", "</3/0>"] + psk_creds("st-psk") + [srv.dtls_uri + "/rd?ep=st-dm&lt=60"]
    client = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        srv.wait_registration("st-dm", 2)
        r = srv.read("st-dm", "/3/0", timeout=1)
        check(r.code == "4.04", "read over the DTLS session: %r" % r)
        check(srv.drop_sessions() == 1, "one session dropped")
        check(srv.read("st-dm", "/3/0").error.startswith("no session"), "DM after the drop")
        client.wait(10)
    finally:
        if client.poll() is None:
            client.kill()
            client.wait()
    check(len(srv.events("register")) == 1, "the Register after the drop was answered")
    check(srv.events("dtls_closed") == [], "drop reported as a close")
    r = register_dtls(srv, "st-dm", port, psk_creds("st-psk"))
    check(r.code == "2.01", "a new handshake from the same port: %r" % r)
    check(srv.wait_registration("st-dm", 2).raw.get("replaced"), "replaced")
    srv.drop_sessions(forget_registrations=True)
    check(srv.registration("st-dm") is None, "registration forgotten")


@dtls_case
def dtls_new_handshake_replaces_session(srv):
    # a client that restarts (no close_notify) and handshakes again from the same port
    port = free_port()
    args = [COAP_CLIENT_DTLS, "-B", "5", "-G", "5", "-p", str(port), "-m", "post", "-t", "40",
            "-e", "</3/0>"] + psk_creds("st-psk") + [srv.dtls_uri + "/rd?ep=st-re&lt=60"]
    client = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        srv.wait_registration("st-re", 2)
    finally:
        client.kill()
        client.wait()
    r = register_dtls(srv, "st-re", port, psk_creds("st-psk"), wait=4)
    check(r.code == "2.01", "new handshake on an established session's address: %r" % r)
    ev = srv.wait_dtls_closed("st-re", from_port(port), 1)
    check(ev["reason"].startswith("new handshake") and ev["ep"] == "st-re", ev)


@dtls_case
def dtls_pause(srv):
    port = free_port()
    srv.pause()
    r = register_dtls(srv, "st-dp", port, psk_creds("st-psk"), wait=1)
    check(r.code is None, "answered while paused: %r" % r)
    srv.resume()
    check(register_dtls(srv, "st-dp", free_port(), psk_creds("st-psk")).code == "2.01", "resumed")
    srv.wait_registration("st-dp", 2)
    check(len(srv.events("register")) == 1, "registered once: %r" % srv.events("register"))


# ---- Bootstrap-Server: coap-client-notls or BareClient as the LwM2M client ----

CODES = {"GET": 1, "POST": 2, "PUT": 3, "DELETE": 4}
METHODS = {v: k for k, v in CODES.items()}


def code_str(c):
    return "%d.%02d" % (c >> 5, c & 31)


def code_num(text):
    cls, detail = text.split(".")
    return int(cls) << 5 | int(detail)


def _opt_nibble(v):
    """RFC 7252 §3.1 option delta/length: the nibble and its extension bytes."""
    if v < 13:
        return v, b""
    if v < 269:
        return 13, bytes([v - 13])
    return 14, (v - 269).to_bytes(2, "big")


def coap_encode(mtype, code, mid, token, options=(), payload=b""):
    """A CoAP message (RFC 7252 §3); options (number, bytes) in any order."""
    out = bytes([0x40 | mtype << 4 | len(token), code]) + mid.to_bytes(2, "big") + token
    last = 0
    for num, val in sorted(options, key=lambda o: o[0]):
        dn, dx = _opt_nibble(num - last)
        ln, lx = _opt_nibble(len(val))
        out += bytes([dn << 4 | ln]) + dx + lx + val
        last = num
    return out + (b"\xff" + payload if payload else b"")


def coap_decode(data):
    """(type, code, mid, token, [(number, bytes)], payload) of a CoAP message."""
    tkl = data[0] & 15
    token, i, num, opts = data[4:4 + tkl], 4 + tkl, 0, []
    while i < len(data) and data[i] != 0xFF:
        delta, length = data[i] >> 4, data[i] & 15
        i += 1
        vals = []
        for v in (delta, length):
            if v == 13:
                v, i = data[i] + 13, i + 1
            elif v == 14:
                v, i = int.from_bytes(data[i:i + 2], "big") + 269, i + 2
            vals.append(v)
        num += vals[0]
        opts.append((num, data[i:i + vals[1]]))
        i += vals[1]
    return (data[0] >> 4) & 3, data[1], int.from_bytes(data[2:4], "big"), token, opts, \
        data[i + 1:]


class Request:
    def __init__(self, code, opts, payload, t):
        self.method = METHODS.get(code, code_str(code))
        self.path = "/" + "/".join(v.decode() for n, v in opts if n == 11)
        self.query = [v.decode() for n, v in opts if n == 15]
        uint = {n: int.from_bytes(v, "big") for n, v in opts if n in (12, 17)}
        self.ct, self.accept = uint.get(12), uint.get(17)
        self.payload, self.t = payload, t

    def __repr__(self):
        return "%s %s ct=%s accept=%s %s" % (self.method, self.path, self.ct, self.accept,
                                             self.payload.hex())


class BareClient:
    """An LwM2M client reduced to a UDP socket: it answers each request the server sends with
    answers[(method, path)] (a code "4.04", or None to stay silent), else DELETE 2.02, GET 2.05
    (link-format), PUT/POST 2.04, records them in order (retransmissions once), and sends its
    own CON requests (send)."""

    def __init__(self, port=0, answers=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", port))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.answers = dict(answers or {})
        self.requests, self.responses, self.seen = [], {}, {}
        self.cond = threading.Condition()
        self.mid = 0x1000
        self.running = True
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.running = False
        self.thread.join(2)
        self.sock.close()

    def _loop(self):
        while self.running:
            try:
                data, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            mtype, code, mid, token, opts, payload = coap_decode(data)
            with self.cond:
                if code >> 5 == 0 and code:
                    reply = self._request(mtype, code, mid, token, opts, payload)
                    if reply:
                        self.sock.sendto(reply, peer)
                elif code:
                    self.responses[token] = (code_str(code), payload)
                self.cond.notify_all()

    def _request(self, mtype, code, mid, token, opts, payload):
        if mid in self.seen:  # a retransmission: the same answer, recorded once
            return self.seen[mid]
        req = Request(code, opts, payload, time.monotonic() * 1000)
        self.requests.append(req)
        default = {"DELETE": "2.02", "GET": "2.05"}.get(req.method, "2.04")
        answer = self.answers.get((req.method, req.path), default)
        reply = None
        if answer:
            body = b"</>;lwm2m=1.1,</0/0>,</1/0>;ssid=1" if answer == "2.05" else b""
            opts = [(12, bytes([40]))] if body else []
            reply = coap_encode(2 if mtype == 0 else 1, code_num(answer),
                                mid if mtype == 0 else mid ^ 0x8000, token, opts, body)
        self.seen[mid] = reply
        return reply

    def send(self, dst_port, method, path, query=(), payload=b"", ct=None, mid=None,
             timeout=3.0):
        """A CON request to the server at dst_port; (code, payload) of the response, or None."""
        if mid is None:
            self.mid += 1
            mid = self.mid
        token = os.urandom(4)
        opts = [(11, p.encode()) for p in path.strip("/").split("/") if p]
        opts += [(15, q.encode()) for q in query]
        if ct is not None:
            opts.append((12, ct.to_bytes(2, "big") if ct > 255 else bytes([ct])))
        self.sock.sendto(coap_encode(0, CODES[method], mid, token, opts, payload),
                         ("127.0.0.1", dst_port))
        with self.cond:
            self.cond.wait_for(lambda: token in self.responses, timeout)
            return self.responses.pop(token, None)

    def wait_requests(self, n, timeout=3.0):
        with self.cond:
            self.cond.wait_for(lambda: len(self.requests) >= n, timeout)
            return list(self.requests)


def tlv(rid, value):
    """One Resource TLV (TS Core 7.4.3.1, type 11) with an 8-bit identifier, by hand."""
    if len(value) < 8:
        return bytes([0xC0 | len(value), rid]) + value
    return bytes([0xC8, rid, len(value)]) + value


@case
def bootstrap_tlv_script(srv):
    port = free_port()
    uri = "coap://127.0.0.1:5683"
    srv.bs_config("st-bs", [
        bs_delete("/", delay=0.3),  # coap-client-notls frees the port meanwhile
        bs_security(1, uri, ssid=1),
        bs_server(1, ssid=1, lifetime=60),
        bs_discover("/"),
        bs_finish()])
    r = coap("post", srv.uri + "/bs?ep=st-bs", port)
    check(r.code == "2.04", "Bootstrap-Request: %r" % r)
    with BareClient(port) as bc:
        ev = srv.wait_bs_finished("st-bs", 3)
        reqs = bc.wait_requests(5)
    check(ev["code"] == "2.04" and ev["steps"] == 5, ev)
    req = srv.wait_bs_request("st-bs", 1)
    check((req["addr"], req["port"], req["secure"], req["code"]) == ("127.0.0.1", port, False,
                                                                       "2.04"), req)
    check("pct" not in req, req)
    check([(q.method, q.path) for q in reqs] == [
        ("DELETE", "/"), ("PUT", "/0/1"), ("PUT", "/1/1"), ("GET", "/"), ("POST", "/bs")], reqs)
    check(reqs[0].t - req["t"] >= 290, "delay: %d ms" % (reqs[0].t - req["t"]))
    # /0/1: 0 Server URI (21 bytes: 8-bit length), 1 Bootstrap-Server false, 2 Security Mode 3
    # (NoSec), 3/4/5 empty opaque, 10 Short Server ID 1; /1/1: 0 SSID, 1 Lifetime 60,
    # 6 Notification Storing true, 7 Binding "U"
    sec = (b"\xc8\x00\x15coap://127.0.0.1:5683" + b"\xc1\x01\x00" + b"\xc1\x02\x03" +
           b"\xc0\x03" + b"\xc0\x04" + b"\xc0\x05" + b"\xc1\x0a\x01")
    check(sec == tlv(0, uri.encode()) + tlv(1, b"\0") + tlv(2, b"\3") + tlv(3, b"") +
          tlv(4, b"") + tlv(5, b"") + tlv(10, b"\1"), "hand-built vector")
    check(reqs[1].ct == CT_TLV and reqs[1].payload == sec, "security TLV: %r" % reqs[1])
    srv_tlv = b"\xc1\x00\x01" + b"\xc1\x01\x3c" + b"\xc1\x06\x01" + b"\xc1\x07U"
    check(reqs[2].ct == CT_TLV and reqs[2].payload == srv_tlv, "server TLV: %r" % reqs[2])
    check(reqs[3].accept == CT_LINK and reqs[4].payload == b"", reqs)
    steps = srv.bs_steps("st-bs")
    check([(s.raw["op"], s.code) for s in steps] == [
        ("delete", "2.02"), ("write", "2.04"), ("write", "2.04"), ("discover", "2.05"),
        ("finish", "2.04")], steps)
    check("</0/0>" in steps[3].decoded, steps[3])
    # the encoder alone: 16-bit IDs, 2- and 4-byte integers, a multiple resource, wrapping
    enc = srv.encode_resources("/3/0", {300: 70000, 1: -200, 6: {0: 1, 1: 5}})
    check(enc == bytes.fromhex("c2 01 ff38 86 06 4100 01 4101 05 e4 012c 00011170"
                               .replace(" ", "")), enc.hex())
    check(srv.encode_resources("/1/0", {0: 1}, wrap=True) == b"\x03\x00\xc1\x00\x01", "wrap")
    check(srv.encode_resources("/1", {0: {0: 1}, 2: {1: 5}}) ==
          b"\x03\x00\xc1\x00\x01\x03\x02\xc1\x01\x05", "instances")


@case
def bootstrap_senml_pct_dedup_and_register(srv):
    ep = "st-bs-cbor"
    srv.bs_config("*", [
        bs_delete("/0"),
        bs_security(0, srv.uri, ssid=7),
        bs_security(1, "coaps://127.0.0.1:5684", mode="psk", identity="dev-1", key=b"\x01\x02",
                    bootstrap=True),
        bs_server(0, ssid=7, lifetime=60, binding="UQ"),
        bs_write("/1/0", senml=[{"bn": "/1/0/", "n": "3", "v": 300}], ct=CT_SENML_JSON),
        bs_read("/1"),
        bs_finish()])
    with BareClient(answers={("POST", "/bs"): "4.06"}) as bc:
        q = ("ep=" + ep, "pct=112")
        check(bc.send(srv.port, "POST", "/bs", q, mid=77) == ("2.04", b""), "Bootstrap-Request")
        check(bc.send(srv.port, "POST", "/bs", q, mid=77) == ("2.04", b""), "retransmission")
        ev = srv.wait_bs_finished(ep, 3)
        check(ev["code"] == "4.06", "Finish refused: %r" % ev)
        reqs = bc.wait_requests(7)
        check(len(srv.events("bs_request")) == 1 and len(reqs) == 7, "one run: %r" % reqs)
        req = srv.wait_bs_request(ep, 1)
        check(req["pct"] == 112 and req["code"] == "2.04", req)
        check([r.ct for r in reqs[1:5]] == [112, 112, 112, 110], reqs)
        sec0 = senml_values(srv.decode(CT_SENML_CBOR, reqs[1].payload).decoded)
        check(sec0 == {"/0/0/0": srv.uri, "/0/0/1": False, "/0/0/2": 3, "/0/0/3": b"",
                       "/0/0/4": b"", "/0/0/5": b"", "/0/0/10": 7}, sec0)
        sec1 = senml_values(srv.decode(CT_SENML_CBOR, reqs[2].payload).decoded)
        check(sec1["/0/1/2"] == 0 and sec1["/0/1/3"] == b"dev-1" and sec1["/0/1/5"] == b"\1\2" and
              sec1["/0/1/1"] is True and "/0/1/10" not in sec1, sec1)
        srv1 = senml_values(srv.decode(CT_SENML_CBOR, reqs[3].payload).decoded)
        check(srv1 == {"/1/0/0": 7, "/1/0/1": 60, "/1/0/6": True, "/1/0/7": "UQ"}, srv1)
        check(json.loads(reqs[4].payload) == [{"bn": "/1/0/", "n": "3", "v": 300}], reqs[4])
        check((reqs[5].method, reqs[5].path, reqs[5].accept) == ("GET", "/1", None), reqs[5])
        # both roles in one process: the client registers where it was told to, same port
        r = bc.send(srv.port, "POST", "/rd", ("ep=" + ep, "lt=60", "lwm2m=1.1", "b=U"),
                    b"</1/0>", ct=CT_LINK)
        check(r is not None and r[0] == "2.01", "register after bootstrap: %r" % (r,))
        check(srv.wait_registration(ep, 2).port == bc.port, "registered from the same port")


@case
def bootstrap_refused(srv):
    port = free_port()
    r = coap("post", srv.uri + "/bs?ep=st-nobody", port)
    check(r.code == "4.00", "no configuration: %r" % r)
    ev = srv.wait_bs_request("st-nobody", 1)
    check(ev["code"] == "4.00" and ev["reason"] == "no bootstrap configuration", ev)
    check(coap("post", srv.uri + "/bs", port).code == "4.00", "missing ep")
    check(coap("post", srv.uri + "/bs?ep=st-x&pct=11543", port).code == "4.15", "pct 11543")
    srv.bs_config("st-flaky", [], code="5.03", count=1)
    check(coap("post", srv.uri + "/bs?ep=st-flaky", port).code == "5.03", "configured fault")
    check(coap("post", srv.uri + "/bs?ep=st-flaky", port).code == "2.04", "fault used up")
    ev = srv.wait_bs_finished("st-flaky", 1)
    check(ev["code"] is None and ev["steps"] == 0, "empty script: %r" % ev)
    srv.bs_config("st-never", [bs_finish()], code="4.03")
    for _ in range(2):
        check(coap("post", srv.uri + "/bs?ep=st-never", port).code == "4.03", "always refused")
    check(sorted(srv.list()["bs_configs"]) == ["st-flaky", "st-never"], srv.list())
    srv.bs_remove("st-never")
    check(coap("post", srv.uri + "/bs?ep=st-never", port).code == "4.00", "removed")
    for bad in ([{"op": "finish"}, {"op": "delete"}], [{"op": "write", "path": "/0"}],
                [bs_write("/0/1", resources={"0": None})], [{"op": "jump"}],
                [bs_delete("/x")], [bs_write("/0/1", resources={"zero": 1})]):
        try:
            srv.bs_config("st-bad", bad)
            raise AssertionError("accepted %r" % bad)
        except ValueError:
            pass


@case
def bootstrap_step_failures(srv):
    # a Write answered 4.00 stops the run, unless the step says continue
    srv.bs_config("st-f1", [bs_delete("/"), bs_security(0, srv.uri, ssid=1), bs_finish()])
    srv.bs_config("st-f2", [bs_security(0, srv.uri, ssid=1, continue_=True), bs_finish()])
    with BareClient(answers={("PUT", "/0/0"): "4.00"}) as bc:
        check(bc.send(srv.port, "POST", "/bs", ["ep=st-f1"])[0] == "2.04", "request 1")
        ev = srv.wait_bs_failed("st-f1", 3)
        check((ev["step"], ev["op"], ev["path"], ev["code"], ev["reason"]) ==
              (1, "write", "/0/0", "4.00", "error response"), ev)
        check(bc.send(srv.port, "POST", "/bs", ["ep=st-f2"])[0] == "2.04", "request 2")
        check(srv.wait_bs_finished("st-f2", 3)["code"] == "2.04", "went on")
    # silence: the step times out; a new Bootstrap-Request supersedes a run in progress
    srv.bs_config("st-f3", [bs_delete("/", timeout=1), bs_finish()])
    with BareClient(answers={("DELETE", "/"): None}) as bc:
        check(bc.send(srv.port, "POST", "/bs", ["ep=st-f3"])[0] == "2.04", "request 3")
        bc.wait_requests(1)
        check(bc.send(srv.port, "POST", "/bs", ["ep=st-f3"])[0] == "2.04", "request 4")
        ev = srv.wait_bs_failed("st-f3", 1)
        check(ev["reason"].startswith("superseded"), ev)
        t0 = time.monotonic()
        try:
            srv.wait_bs_finished("st-f3", 3)
            raise AssertionError("finished without an answer")
        except BootstrapFailed as e:
            check("timeout" in str(e) and 0.8 < time.monotonic() - t0 < 2, e)


@dtls_case
def dtls_bootstrap(srv):
    # coap-client-openssl answers DELETE with 2.02 and other requests with 4.04; -G 2 keeps it
    # (and its DTLS session) a second, and its repeated request starts a second run
    srv.bs_config("st-dbs", [bs_delete("/"), bs_security(1, srv.dtls_uri, mode="psk", ssid=1,
                                                         identity="st-psk", key=b"k",
                                                         continue_=True),
                             bs_finish()])
    port = free_port()
    args = [COAP_CLIENT_DTLS, "-B", "2", "-G", "2", "-p", str(port), "-m", "post"] + \
        psk_creds("st-psk") + [srv.dtls_uri + "/bs?ep=st-dbs"]
    subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10)
    req = srv.wait_bs_request("st-dbs", 1)
    check(req["secure"] is True and req["psk_identity"] == "st-psk" and req["port"] == port, req)
    ev = srv.wait_bs_finished("st-dbs", 1)
    check(ev["code"] == "4.04", "Finish over the DTLS session: %r" % ev)
    check([s.code for s in srv.bs_steps("st-dbs")][:3] == ["2.02", "4.04", "4.04"],
          srv.bs_steps("st-dbs"))


def main():
    with tempfile.TemporaryDirectory() as tmp:
        PKI.update(dtls_certs.make_pki(tmp, client_cns=["st-cert"]))
        rogue_ca, rogue_key = dtls_certs.make_ca(os.path.join(tmp, "rogue"), cn="rogue-ca")
        PKI["rogue"] = dtls_certs.make_cert(os.path.join(tmp, "rogue"), "client", "st-rogue",
                                            rogue_ca, rogue_key)
        return run_cases()


def run_cases():
    passed = failed = 0
    for fn, kw in CASES:
        if kw.get("dtls"):
            kw = {"psk": PSKS, "pki": dtls_certs.server_pki(PKI)}
        srv = LwM2MServer(timeout=5, **kw)
        try:
            srv.start()
            fn(srv)
            status = srv.stop()
            check(status == 0, "server exit status %s" % status)
            passed += 1
            print("PASS", fn.__name__, flush=True)
        except Exception:  # noqa: BLE001 - report every failure and go on
            failed += 1
            print("FAIL", fn.__name__, flush=True)
            traceback.print_exc()
            print("server stderr:\n" + srv.stderr_tail(), flush=True)
        finally:
            srv.stop()
    print("%d passed, %d failed" % (passed, failed), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
