# SPDX-License-Identifier: Apache-2.0
"""Modbus RTU over TCP (adapter type modbus-rtu-over-tcp): RTU frames with CRC on a TCP stream.
The independent peer is Debian's pymodbus serving its RTU framer on a TCP port. Three parts:
the adapter through mb_poll (every type and order, writes of each function code, an exception,
an absent unit, a dropped connection); a scripted peer of ours that answers with a bad CRC, a
short frame or the wrong unit (bus errors, the link stays up); and `lwm2m-gateway run` read and
written through the test LwM2M server (values of several types, Writes reaching the registers,
an absent register answered 5.03 / 5.02, a dropped and a restarted peer)."""
import os
import re
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time

import harness
from gw_fixtures import http_get
from lwm2m_server import CT_TEXT, LwM2MServer
from mb_common import Bench, MbPoll, PyModbus, check_exception_and_dead_unit, check_types, \
    check_writes, free_tcp_port, words

S = {}


def crc16(data):
    """CRC-16/MODBUS, low byte first: written here, independently of the adapter's codec."""
    c = 0xFFFF
    for b in data:
        c ^= b
        for _ in range(8):
            c = (c >> 1) ^ 0xA001 if c & 1 else c >> 1
    return bytes([c & 0xFF, c >> 8])


# ---- part 1: the adapter against pymodbus' RTU framer on TCP ---------------------------------

def bench():
    if "b" not in S:
        S["port"] = free_tcp_port()
        link = ("link name=gw rtutcp=127.0.0.1:%d timeout=300 backoff=300 backoff_max=1000"
                % S["port"])
        S["b"] = Bench(link, lambda spec: PyModbus(spec, tcp_port=S["port"], framer="rtu"))
    return S["b"]


def stats(poll):
    poll.send("stats")
    line = poll.expect(r"^stats link:\S+ ").string
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line)}


def test_types_and_orders():
    check_types(bench())


def test_writes_each_function_code():
    check_writes(bench())


def test_exception_and_absent_unit():
    b = bench()
    check_exception_and_dead_unit(b)
    assert stats(b.poll)["bus_errors"] == 0  # pymodbus' frames are all good


def test_peer_drops_connection():
    b = bench()
    before = stats(b.poll)["reconnects"]
    t0 = time.monotonic()
    b.server.send("drop")
    assert b.server.expect(r"^dropped (\d+)").group(1) != "0"
    b.poll.seen(r"^state link:gw down", since=t0)
    b.poll.seen(r"^state link:gw up", since=t0, timeout=5)
    t1 = time.monotonic()
    harness.wait_for(lambda: b.poll.count("m.u16_abcd", since=t1) >= 2, timeout=5,
                     what="values after reconnect")
    assert stats(b.poll)["reconnects"] > before


def test_peer_goes_away_and_comes_back():
    b = bench()
    b.server.stop()
    b.poll.wait_value("m.u16_abcd", lambda v: v[0] == "disconnected", timeout=5)
    b.server = PyModbus({"units": {"1": b.spec}}, tcp_port=S["port"], framer="rtu")
    b.poll.wait_value("m.u16_abcd", timeout=10)


def test_close_bench():
    S.pop("b").close()


# ---- part 2: garbled answers from a scripted peer ---------------------------------------------

class FaultPeer:
    """Answers FC3 requests of unit 1 (registers = 1000 + address) on loopback, spoiled as
    self.mode says: good, badcrc, short (half a frame, then silence), wrongunit."""

    def __init__(self):
        self.mode = "good"
        self.ls = socket.socket()
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(4)
        self.port = self.ls.getsockname()[1]
        self.stopping = False
        self.t = threading.Thread(target=self._serve, daemon=True)
        self.t.start()

    def _serve(self):
        while not self.stopping:
            try:
                conn, _ = self.ls.accept()
            except OSError:
                return
            threading.Thread(target=self._conn, args=(conn,), daemon=True).start()

    def _conn(self, conn):
        with conn:
            buf = b""
            while not self.stopping:
                try:
                    chunk = conn.recv(256)
                except OSError:
                    return
                if not chunk:
                    return
                buf += chunk
                while len(buf) >= 8:
                    req, buf = buf[:8], buf[8:]
                    answer = self.answer(req)
                    if answer:
                        conn.sendall(answer)

    def answer(self, req):
        assert crc16(req[:6]) == req[6:8], req.hex()  # our requests carry a good CRC
        unit, fc, addr, count = req[0], req[1], *struct.unpack(">HH", req[2:6])
        body = bytes([unit if self.mode != "wrongunit" else unit + 1, fc, 2 * count])
        body += b"".join(struct.pack(">H", 1000 + addr + i) for i in range(count))
        frame = body + crc16(body)
        if self.mode == "badcrc":
            frame = frame[:-1] + bytes([frame[-1] ^ 0x5A])
        if self.mode == "short":
            frame = frame[:len(frame) // 2]
        return frame

    def close(self):
        self.stopping = True
        self.ls.close()


def test_bad_crc_short_frame_wrong_unit_are_bus_errors():
    peer = FaultPeer()
    poll = MbPoll("link name=f rtutcp=127.0.0.1:%d timeout=200 backoff=200 backoff_max=400\n"
                  "device name=d unit=1 poll=100\n"
                  "point name=v table=holding addr=5 type=uint16\n" % peer.port)
    try:
        got = poll.wait_value("d.v")
        assert got == ("good", "uint", "1005"), got
        t0 = time.monotonic()
        errors = stats(poll)["bus_errors"]
        assert errors == 0
        for mode in ("badcrc", "short", "wrongunit"):
            peer.mode = mode
            poll.wait_value("d.v", lambda v: v[0] == "bad-data", timeout=5)
            harness.wait_for(lambda: stats(poll)["bus_errors"] > errors, timeout=5,
                             what="bus errors counted in mode " + mode)
            errors = stats(poll)["bus_errors"]
            peer.mode = "good"
            poll.wait_value("d.v", timeout=5)
        # garbled answers are no reason to drop the connection or to call the unit dead
        assert not [ln for t, ln in poll.snapshot() if t >= t0 and ln.startswith("state ")
                    and " down" in ln], poll.snapshot()[-10:]
        assert stats(poll)["timeouts"] == 0
    finally:
        poll.stop()
        peer.close()


# ---- part 3: lwm2m-gateway run, read and written through LwM2M --------------------------------

GW_ID = "gw-rtutcp"
EP = "urn:dev:%s:m1" % GW_ID


def f32_regs(v):
    return list(struct.unpack(">HH", struct.pack(">f", v)))


def gw_spec():
    hr = [0] * 24
    hr[0:2] = f32_regs(230.5)
    hr[2:4] = words(struct.pack(">I", 123456), "CDAB")
    hr[4] = 50
    hr[6:10] = [0x5254, 0x552D, 0x4F56, 0x4552]  # "RTU-OVER"
    return {"units": {"1": {"hr": hr, "ir": [(-125) & 0xFFFF, 0, 0, 0],
                            "co": [1, 0, 0, 0, 0, 0, 0, 0], "di": [0, 1, 0, 0]}}}


def gw_config():
    return "\n".join([
        "gateway: { id: %s, log_level: debug, stale_after: 30s, http: '127.0.0.1:%d' }"
        % (GW_ID, S["http"]),
        "lwm2m:",
        "  lifetime: 60",
        "  servers: [ { uri: 'coap://127.0.0.1:%d' } ]" % S["srv"].port,
        "adapters:",
        "  - { name: gw485, type: modbus-rtu-over-tcp, host: 127.0.0.1, port: %d, timeout: 300ms }"
        % S["mb_port"],
        "profiles:",
        "  meter:",
        "    3316: { 0: { 5700: { read: 'holding:0', type: float32 } } }",
        "    3303: { 0: { 5700: { read: 'input:0', type: int16, scale: 0.1 } } }",
        "    3340: { 0: { 5534: { read: 'holding:2', write: 'holding:2', type: uint32,"
        " order: CDAB } } }",
        "    3311:",
        "      0:",
        "        5850: { read: 'coil:0', write: 'coil:0' }",
        "        5851: { read: 'holding:4', write: 'holding:4', type: uint16 }",
        "        5706: { read: 'holding:6', type: string(8) }",
        "    3200: { 0: { 5500: { read: 'discrete:1' } } }",
        "    3300: { 0: { 5700: { read: 'holding:500', type: uint16 } } }",
        "    3203: { 0: { 5650: { write: 'holding:600', type: float32 } } }",
        "devices:",
        "  - { name: m1, adapter: gw485, unit: 1, profile: meter, poll: 200ms }",
    ]) + "\n"


def read(path):
    return S["srv"].read(EP, path, accept=CT_TEXT)


def gw_log():
    with open(S["log"], encoding="utf-8", errors="replace") as f:
        return f.read()


def test_gateway_start():
    S["dir"] = tempfile.mkdtemp(prefix="gw-rtutcp-")
    S["cfg"] = os.path.join(S["dir"], "gw.yaml")
    S["log"] = os.path.join(S["dir"], "gw.log")
    S["mb_port"] = free_tcp_port()
    S["http"] = free_tcp_port()
    S["srv"] = LwM2MServer().start()
    S["mb"] = PyModbus(gw_spec(), tcp_port=S["mb_port"], framer="rtu")
    with open(S["cfg"], "w", encoding="utf-8") as f:
        f.write(gw_config())
    gw = harness.binary("bridge", "lwm2m-gateway")
    chk = subprocess.run([gw, "check", "-c", S["cfg"]], capture_output=True, text=True,
                         timeout=10)
    assert chk.returncode == 0, chk.stdout + chk.stderr
    S["logf"] = open(S["log"], "w", encoding="utf-8")
    S["gw"] = subprocess.Popen([gw, "run", "-c", S["cfg"]], stdout=subprocess.DEVNULL,
                               stderr=S["logf"])
    S["srv"].wait_registration(EP, timeout=10)


def test_gateway_reads_values_of_several_types():
    harness.wait_for(lambda: read("/3316/0/5700").code == "2.05", timeout=10,
                     what="first value over RTU-over-TCP")
    assert float(read("/3316/0/5700").text) == 230.5  # float32
    assert float(read("/3303/0/5700").text) == -12.5  # int16, scaled
    assert read("/3340/0/5534").text == "123456"  # uint32, word-swapped
    assert read("/3311/0/5850").text == "1"  # coil
    assert read("/3311/0/5851").text == "50"  # uint16
    assert read("/3311/0/5706").text == "RTU-OVER"  # string(8)
    assert read("/3200/0/5500").text == "1"  # discrete input
    assert "rtu-over-tcp is not supported" not in gw_log()


def test_gateway_writes_reach_registers():
    mb = S["mb"]
    w = S["srv"].write(EP, "/3311/0/5851", "42", CT_TEXT)  # FC6
    assert w.code == "2.04", w
    assert mb.get(1, "hr", 4, 1) == [42]
    w = S["srv"].write(EP, "/3340/0/5534", "654321", CT_TEXT)  # FC16, two registers
    assert w.code == "2.04", w
    assert mb.get(1, "hr", 2, 2) == words(struct.pack(">I", 654321), "CDAB")
    w = S["srv"].write(EP, "/3311/0/5850", "0", CT_TEXT)  # FC5
    assert w.code == "2.04", w
    assert mb.get(1, "co", 0, 1) == [0]
    harness.wait_for(lambda: read("/3340/0/5534").text == "654321", timeout=5,
                     what="written counter read back")
    mb.set(1, "hr", 0, f32_regs(231.25))  # and a change on the slave side comes up
    harness.wait_for(lambda: read("/3316/0/5700").text == "231.25", timeout=5,
                     what="new value polled")


def test_gateway_absent_register_exception():
    # Exception 2 (illegal data address): the point never had a value, so a Read is 5.03 ...
    r = read("/3300/0/5700")
    assert r.code == "5.03", r
    # ... and a Write to an absent register fails as a bus error (5.02), nothing written.
    w = S["srv"].write(EP, "/3203/0/5650", "0.5", CT_TEXT)
    assert w.code == "5.02", w
    # the exception spoils nothing else: the unit stays up, its other values fresh
    assert read("/3316/0/5700").code == "2.05"
    assert "unit 1: Illegal data address" not in gw_log()
    # /metrics counts the exceptions, and no garbled frame from a well-behaved peer
    text = http_get(S["http"], "/metrics")[1]
    m = re.search(r'^lwm2m_gateway_bus_errors_total\{adapter="gw485",kind="exception"\} (\d+)$',
                  text, re.M)
    assert m and int(m.group(1)) >= 1, text
    assert 'lwm2m_gateway_bus_errors_total{adapter="gw485",kind="frame"} 0\n' in text, text


def test_gateway_peer_drop_and_restart_reconnect():
    ups = gw_log().count("adapter gw485 up")
    S["mb"].send("drop")
    assert S["mb"].expect(r"^dropped (\d+)").group(1) != "0"
    harness.wait_for(lambda: gw_log().count("adapter gw485 up") > ups, timeout=10,
                     what="reconnect after the drop")
    assert "adapter gw485 down" in gw_log()
    S["mb"].set(1, "hr", 0, f32_regs(232.5))
    harness.wait_for(lambda: read("/3316/0/5700").text == "232.5", timeout=5,
                     what="values after the drop")
    # the converter restarts: the port is closed for a while, then serves again
    ups = gw_log().count("adapter gw485 up")
    S["mb"].stop()
    time.sleep(1.0)
    spec = gw_spec()
    spec["units"]["1"]["hr"][0:2] = f32_regs(233.75)
    S["mb"] = PyModbus(spec, tcp_port=S["mb_port"], framer="rtu")
    harness.wait_for(lambda: gw_log().count("adapter gw485 up") > ups, timeout=15,
                     what="reconnect after the restart")
    harness.wait_for(lambda: read("/3316/0/5700").text == "233.75", timeout=5,
                     what="values after the restart")
    assert S["gw"].poll() is None


def test_gateway_cleanup():
    gw = S["gw"]
    gw.terminate()
    rc = gw.wait(timeout=10)
    S["logf"].close()
    log = gw_log()
    S["mb"].stop()
    S["srv"].stop()
    shutil.rmtree(S["dir"], ignore_errors=True)
    assert rc == 0, rc
    assert "Sanitizer" not in log and "runtime error" not in log, log[-2000:]


if __name__ == "__main__":
    harness.run([test_types_and_orders, test_writes_each_function_code,
                 test_exception_and_absent_unit, test_peer_drops_connection,
                 test_peer_goes_away_and_comes_back, test_close_bench,
                 test_bad_crc_short_frame_wrong_unit_are_bus_errors,
                 test_gateway_start, test_gateway_reads_values_of_several_types,
                 test_gateway_writes_reach_registers, test_gateway_absent_register_exception,
                 test_gateway_peer_drop_and_restart_reconnect, test_gateway_cleanup])
