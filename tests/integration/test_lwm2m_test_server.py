# SPDX-License-Identifier: Apache-2.0
"""Self-test of the test LwM2M server (tests/peers/lwm2m_test_server) with independent tools only:
libcoap's coap-client-notls plays the LwM2M client for Register/Update/De-register/Send, and
libcoap's example coap-server-notls answers the requests the server issues. Over DTLS,
coap-client-openssl is the client (the server's DTLS is libcoap's GnuTLS flavour, so the two ends
are different stacks), with certificates from dtls_certs.py. Prints one line per case and
"N passed, M failed"; exits non-zero on a failure."""
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dtls_certs  # noqa: E402
from lwm2m_server import (CT_LINK, CT_SENML_CBOR, CT_SENML_JSON, CT_TEXT, CT_TLV,  # noqa: E402
                          LwM2MServer, parse_links, senml_values, tlv_find, tlv_float, tlv_int,
                          tlv_str)

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
