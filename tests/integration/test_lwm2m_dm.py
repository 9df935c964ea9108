# SPDX-License-Identifier: Apache-2.0
"""Device Management interface of our engine against the test LwM2M server (libcoap3; payloads
decoded by the server with libcbor/jansson and its own TLV decoder, or built here by hand):
Read in every content format, Write in text/TLV/SenML JSON/SenML CBOR, Execute, Create, Delete,
Discover, Write-Attributes, Read- and Write-Composite, and the error codes."""
import json
import os
import struct

import harness
from lwm2m_client import Client
from lwm2m_server import (CT_CBOR, CT_LINK, CT_LWM2M_CBOR, CT_LWM2M_JSON, CT_OPAQUE,
                          CT_SENML_CBOR, CT_SENML_JSON, CT_TEXT, CT_TLV, LwM2MServer,
                          parse_links, senml_values, tlv_find, tlv_float, tlv_int, tlv_str)

EP = "urn:dev:test:0"
DEVICE = {"/3/0/0": "lwm2m-gateway", "/3/0/1": "demo-client", "/3/0/2": "SN-000000",
          "/3/0/3": "0.1.0", "/3/0/6/0": 1, "/3/0/6/1": 5, "/3/0/16": "U"}


def tlv(type_bits, ident, value):
    """One TLV entry (OMA LwM2M TS §7.4.3): 8/16-bit id, length inline or in 8/16 bits."""
    id_bytes = struct.pack(">B", ident) if ident < 256 else struct.pack(">H", ident)
    n = len(value)
    t = type_bits | (0x20 if ident >= 256 else 0)
    if n < 8:
        return bytes([t | n]) + id_bytes + value
    if n < 256:
        return bytes([t | 0x08]) + id_bytes + bytes([n]) + value
    return bytes([t | 0x10]) + id_bytes + struct.pack(">H", n) + value


def run_with(fn, version=2):
    with LwM2MServer() as srv, Client(srv.uri, version=version) as cl:
        srv.wait_registration(EP)
        fn(srv, cl)
        cl.stop()


def check_device_values(values):
    for k, v in DEVICE.items():
        assert values.get(k) == v, (k, values.get(k), values)


def test_read_device_every_format():
    def body(srv, cl):
        r = srv.read(EP, "/3/0", accept=CT_TLV)
        assert r.code == "2.05" and r.ct == CT_TLV, r
        assert tlv_str(tlv_find(r.decoded, 0)) == "lwm2m-gateway", r.decoded
        assert tlv_str(tlv_find(r.decoded, 2)) == "SN-000000"
        assert [tlv_int(n) for n in tlv_find(r.decoded, 6)["children"]] == [1, 5]
        for ct in (CT_SENML_JSON, CT_SENML_CBOR):
            r = srv.read(EP, "/3/0", accept=ct)
            assert r.code == "2.05" and r.ct == ct, r
            check_device_values(senml_values(r.decoded))
        r = srv.read(EP, "/3/0", accept=CT_LWM2M_JSON)
        assert r.code == "2.05" and r.ct == CT_LWM2M_JSON, r
        assert r.decoded["bn"] == "/3/0/", r.decoded
        got = {e["n"]: e.get("sv", e.get("v")) for e in r.decoded["e"]}
        assert got["0"] == "lwm2m-gateway" and got["6/1"] == 5, got
        r = srv.read(EP, "/3/0", accept=CT_LWM2M_CBOR)
        assert r.code == "2.05" and r.ct == CT_LWM2M_CBOR, r
        inst = r.decoded["[3,0]"]
        assert inst["0"] == "lwm2m-gateway" and inst["6"] == {"0": 1, "1": 5}, r.decoded
        # Without Accept a 1.2 client answers a multi-value read in SenML CBOR.
        r = srv.read(EP, "/3/0")
        assert r.code == "2.05" and r.ct == CT_SENML_CBOR, r
        check_device_values(senml_values(r.decoded))
        # Single-value formats cannot carry an instance.
        for ct in (CT_TEXT, CT_CBOR, CT_OPAQUE):
            assert srv.read(EP, "/3/0", accept=ct).code == "4.06"
    run_with(body)


def test_read_single_resources_every_format():
    def body(srv, cl):
        expect = {None: (CT_TEXT, "21.5"), CT_TEXT: (CT_TEXT, "21.5"), CT_CBOR: (CT_CBOR, 21.5)}
        for accept, (ct, value) in expect.items():
            r = srv.read(EP, "/3303/0/5700", accept=accept)
            assert r.code == "2.05" and r.ct == ct and r.decoded == value, (accept, r)
        r = srv.read(EP, "/3303/0/5700", accept=CT_TLV)
        assert r.code == "2.05" and tlv_float(tlv_find(r.decoded, 5700)) == 21.5, r
        for ct in (CT_SENML_JSON, CT_SENML_CBOR):
            r = srv.read(EP, "/3303/0/5700", accept=ct)
            assert senml_values(r.decoded) == {"/3303/0/5700": 21.5}, r
        r = srv.read(EP, "/3303/0/5700", accept=CT_LWM2M_JSON)
        assert r.decoded == {"bn": "/3303/0/5700", "e": [{"v": 21.5}]}, r
        r = srv.read(EP, "/3303/0/5700", accept=CT_LWM2M_CBOR)
        assert r.decoded == {"[3303,0,5700]": 21.5}, r
        r = srv.read(EP, "/3/0/6/1", accept=CT_TEXT)
        assert r.code == "2.05" and r.decoded == "5", r
        r = srv.read(EP, "/3/0/0")
        assert r.code == "2.05" and r.text == "lwm2m-gateway", r
        assert srv.read(EP, "/3303/0/5700", accept=CT_OPAQUE).code == "4.06"
        r = srv.read(EP, "/3311", accept=CT_TLV)  # an object: one TLV instance per instance
        assert [n["id"] for n in r.decoded] == [0, 1] and r.decoded[0]["type"] == "instance", r
    run_with(body)


def test_read_default_format_per_version():
    def body(srv, cl):
        r = srv.read(EP, "/3/0")
        assert r.code == "2.05" and r.ct == CT_TLV, r  # LwM2M 1.0: TLV when there is no Accept
        assert tlv_str(tlv_find(r.decoded, 1)) == "demo-client"
    run_with(body, version=0)


def test_write_every_format():
    def body(srv, cl):
        path = "/3311/0/5850"
        r = srv.write(EP, path, "1", CT_TEXT)
        assert r.code == "2.04", r
        assert srv.read(EP, path).text == "1"
        r = srv.write(EP, path, tlv(0xC0, 5850, b"\x00"), CT_TLV)
        assert r.code == "2.04", r
        assert srv.read(EP, path).text == "0"
        senml = json.dumps([{"bn": "/3311/0/", "n": "5850", "vb": True}])
        assert srv.write(EP, path, senml, CT_SENML_JSON).code == "2.04"
        assert srv.read(EP, path).text == "1"
        cbor = srv.encode_senml([{"bn": "/3311/0/", "n": "5850", "vb": False}], CT_SENML_CBOR)
        assert srv.write(EP, path, cbor, CT_SENML_CBOR).code == "2.04"
        assert srv.read(EP, path).text == "0"
        # Partial update of an instance in TLV (POST): only 5850 changes.
        r = srv.write(EP, "/3311/1", tlv(0xC0, 5850, b"\x00"), CT_TLV, partial=True)
        assert r.code == "2.04", r
        assert srv.read(EP, "/3311/1/5850").text == "0"
        # Replace of a writable single resource on the Device object: Current Time.
        assert srv.write(EP, "/3/0/13", "1800000000", CT_TEXT).code == "2.04"
        assert srv.read(EP, "/3/0/13").text == "1800000000"
        cl.wait_line(lambda l: l == "written /3/0/13")
    run_with(body)


def test_error_codes():
    def body(srv, cl):
        assert srv.read(EP, "/9999/0").code == "4.04"        # missing object
        assert srv.read(EP, "/3303/7").code == "4.04"        # missing instance
        assert srv.read(EP, "/3/0/4").code == "4.05"         # executable: not readable
        assert srv.write(EP, "/3303/0/5700", "3", CT_TEXT).code == "4.05"  # read-only
        assert srv.write(EP, "/3311/0/5850", "1", 9999).code == "4.15"     # unknown format
        assert srv.write(EP, "/3311/0/5850", b"\xc8", CT_TLV).code == "4.00"  # truncated TLV
        assert srv.write(EP, "/3311/0/5850", "maybe", CT_TEXT).code == "4.00"  # not a boolean
        assert srv.read(EP, "/0/0").code == "4.01"           # Security: never for a DM server
        assert srv.read(EP, "/3/0", accept=9999).code == "4.06"
    run_with(body)


def test_execute():
    def body(srv, cl):
        r = srv.execute(EP, "/3/0/4", args="0='now',1")
        assert r.code == "2.04", r
        cl.wait_line(lambda l: l == "execute /3/0/4 args=0='now',1")
        assert srv.execute(EP, "/3/0/0").code == "4.05"      # not executable
        assert srv.execute(EP, "/3/0/4", args="0='unterminated").code == "4.00"
    run_with(body)


def test_create_delete_and_registration_update():
    def body(srv, cl):
        senml = json.dumps([{"bn": "/3303/5/", "n": "5701", "vs": "K"}])
        r = srv.create(EP, "/3303", senml, CT_SENML_JSON)
        assert r.code == "2.01", r
        assert srv.read(EP, "/3303/5/5701").text == "K"
        upd = srv.wait_update(EP)
        assert "/3303/5" in [p for p, _ in parse_links(upd["links"])], upd
        assert srv.delete(EP, "/3303/5").code == "2.02"
        assert srv.read(EP, "/3303/5/5701").code == "4.04"
        upd = srv.wait_update(EP)
        assert "/3303/5" not in [p for p, _ in parse_links(upd["links"])], upd
        assert srv.delete(EP, "/3303").code == "4.05"        # an object cannot be deleted
        assert srv.create(EP, "/3/0", senml, CT_SENML_JSON).code in ("4.05", "4.00")
    run_with(body)


def test_discover_and_write_attributes():
    def body(srv, cl):
        r = srv.discover(EP, "/3/0")
        assert r.code == "2.05" and r.ct == CT_LINK, r
        links = dict(parse_links(r.text))
        assert "/3/0/0" in links and links["/3/0/6"].get("dim") == "2", links
        assert srv.write_attributes(EP, "/3303/0/5700", pmin=2, pmax=30, gt=25).code == "2.04"
        assert srv.write_attributes(EP, "/3303/0/5700", lt=30, gt=20).code == "4.00"  # lt > gt
        links = dict(parse_links(srv.discover(EP, "/3303/0/5700").text))
        attrs = links["/3303/0/5700"]
        assert attrs.get("pmin") == "2" and attrs.get("pmax") == "30", links
        assert srv.discover(EP, "/9999").code == "4.04"
    run_with(body)


def test_read_and_write_composite():
    def body(srv, cl):
        for ct, a, b in ((CT_SENML_JSON, True, False), (CT_SENML_CBOR, False, True)):
            recs = [{"n": "/3311/0/5850", "vb": a}, {"n": "/3311/1/5850", "vb": b}]
            r = srv.write_composite(EP, recs, ct=ct)
            assert r.code == "2.04", r
            r = srv.read_composite(EP, ["/3311/0/5850", "/3311/1/5850", "/3/0/0"], ct=ct,
                                   accept=ct)
            assert r.code == "2.05", r
            assert senml_values(r.decoded) == {"/3311/0/5850": a, "/3311/1/5850": b,
                                               "/3/0/0": "lwm2m-gateway"}, r.decoded
        # All or nothing: a read-only resource in the list fails the whole write.
        bad = [{"n": "/3311/0/5850", "vb": True}, {"n": "/3303/0/5700", "v": 1.0}]
        assert srv.write_composite(EP, bad).code in ("4.05", "4.00")
        assert srv.read(EP, "/3311/0/5850").text == "0"  # unchanged since the CBOR write
    run_with(body)


def test_object_from_ddf_file():
    models = os.path.join(os.environ.get("GW_SOURCE_DIR", os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..")), "config", "models")
    extra = ["--ddf", models, "--set", "/10250/0/0=PM-1", "--set", "/10250/0/1=1234.5",
             "--set", "/10250/0/4=2"]
    with LwM2MServer() as srv, Client(srv.uri, extra=extra) as cl:
        reg = srv.wait_registration(EP)
        links = dict(parse_links(reg.links))
        assert links.get("/10250", {}).get("ver") == "1.1" and "/10250/0" in links, reg.links
        r = srv.read(EP, "/10250/0", accept=CT_SENML_JSON)
        assert senml_values(r.decoded) == {"/10250/0/0": "PM-1", "/10250/0/1": 1234.5,
                                           "/10250/0/4": 2}, r
        assert srv.write(EP, "/10250/0/4", "3", CT_TEXT).code == "2.04"
        assert srv.read(EP, "/10250/0/4").text == "3"
        assert srv.write(EP, "/10250/0/4", "9", CT_TEXT).code == "4.00"    # range 1-4 in the DDF
        assert srv.write(EP, "/10250/0/4", "abc", CT_TEXT).code == "4.00"  # Integer resource
        assert srv.write(EP, "/10250/0/1", "1", CT_TEXT).code == "4.05"    # read-only
        cl.stop()


if __name__ == "__main__":
    harness.run([test_read_device_every_format, test_read_single_resources_every_format,
                 test_read_default_format_per_version, test_write_every_format, test_error_codes,
                 test_execute, test_create_delete_and_registration_update,
                 test_discover_and_write_attributes, test_read_and_write_composite,
                 test_object_from_ddf_file])
