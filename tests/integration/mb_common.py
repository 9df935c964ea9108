# SPDX-License-Identifier: Apache-2.0
"""Shared pieces of the Modbus integration tests: processes for the pymodbus slave
(pymodbus_server.py), our fault-injection slave (mb_slow_slave) and the adapter driver (mb_poll),
plus the register map every type/order test uses, built here with struct so that the expected
bytes come from Python, not from our codec."""
import json
import os
import queue
import re
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
PY = "/usr/bin/python3"


def free_tcp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proc:
    """A child process whose stdout lines are collected by a thread; commands go to stdin."""

    def __init__(self, argv):
        self.argv = argv
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, bufsize=1)
        self.lines = []
        self.q = queue.Queue()
        self.lock = threading.Lock()
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        for line in self.p.stdout:
            line = line.rstrip("\n")
            with self.lock:
                self.lines.append((time.monotonic(), line))
            self.q.put(line)

    def send(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()

    def expect(self, pattern, timeout=10.0):
        """Waits for the next line matching pattern (a regex); returns the match."""
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no line matching %r from %s" % (pattern, self.argv[0]))
            try:
                line = self.q.get(timeout=left)
            except queue.Empty:
                continue
            m = rx.search(line)
            if m:
                return m

    def seen(self, pattern, since=0.0, timeout=10.0):
        """Waits until some line at or after `since` (monotonic) matches; looks at the whole
        history, so lines consumed by expect() count too. Returns the match."""
        rx = re.compile(pattern)

        def find():
            for t, line in self.snapshot():
                m = rx.search(line) if t >= since else None
                if m:
                    return m
            return None
        return harness.wait_for(find, timeout=timeout, what=pattern)

    def seen_time(self, pattern):
        """Monotonic time of the first line matching pattern (it must have been seen)."""
        rx = re.compile(pattern)
        return next(t for t, line in self.snapshot() if rx.search(line))

    def snapshot(self):
        with self.lock:
            return list(self.lines)

    def stop(self):
        if self.p.poll() is None:
            try:
                self.p.stdin.close()
            except OSError:
                pass
            try:
                self.p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.t.join(timeout=2)


class PyModbus(Proc):
    """pymodbus_server.py with a datastore spec; framer="rtu" with tcp_port: RTU over TCP."""

    def __init__(self, spec, tcp_port=None, rtu=None, framer=None):
        fd, self.spec_path = tempfile.mkstemp(suffix=".json")
        with os.fdopen(fd, "w") as f:
            json.dump(spec, f)
        argv = [PY, os.path.join(HERE, "pymodbus_server.py"), "--spec", self.spec_path]
        argv += ["--tcp", str(tcp_port)] if tcp_port is not None else ["--rtu", rtu]
        argv += ["--framer", framer] if framer else []
        super().__init__(argv)
        self.expect(r"^ready$", timeout=15)

    def get(self, unit, table, addr, count):
        self.send("get %d %s %d %d" % (unit, table, addr, count))
        return [int(v) for v in self.expect(r"^got ?(.*)$").group(1).split()]

    def set(self, unit, table, addr, values):
        self.send("set %d %s %d %s" % (unit, table, addr, " ".join(str(v) for v in values)))
        self.expect(r"^ok$")

    def stop(self):
        super().stop()
        if os.path.exists(self.spec_path):
            os.unlink(self.spec_path)


class SlowSlave(Proc):
    """tests/tools/mb_slow_slave: our libmodbus slave for fault injection."""

    def __init__(self, port, *opts):
        super().__init__([harness.binary("tests", "tools", "mb_slow_slave"), "-p", str(port)]
                         + list(opts))
        self.expect(r"^listening")

    def stats(self):
        """{(unit, fc): count} of the requests seen so far."""
        self.send("stats")
        out = {}
        while True:
            line = self.q.get(timeout=5)
            if line == "end":
                return out
            m = re.match(r"stats unit=(\d+) fc=(\d+) n=(\d+)", line)
            if m:
                out[(int(m.group(1)), int(m.group(2)))] = int(m.group(3))


class MbPoll(Proc):
    """tests/tools/mb_poll on a config text."""

    def __init__(self, config, *opts):
        fd, self.cfg_path = tempfile.mkstemp(suffix=".cfg")
        with os.fdopen(fd, "w") as f:
            f.write(config)
        super().__init__([harness.binary("tests", "tools", "mb_poll")] + list(opts)
                         + [self.cfg_path])
        self.expect(r"^ready$")
        self.next_id = 1

    def latest(self, ref):
        """The last 'value' line of dev.point: (quality, type-or-code, value-or-None)."""
        for _, line in reversed(self.snapshot()):
            parts = line.split(" ", 4)
            if parts[0] == "value" and parts[1] == ref:
                if parts[2] == "good":
                    return ("good", parts[3], parts[4])
                return (parts[2], parts[3], None)
        return None

    def wait_value(self, ref, pred=lambda q: q[0] == "good", timeout=10.0):
        return harness.wait_for(lambda: (lambda v: v if v and pred(v) else None)(self.latest(ref)),
                                timeout=timeout, what="value of " + ref)

    def count(self, ref, since=0.0, quality="good"):
        n = 0
        for t, line in self.snapshot():
            parts = line.split(" ")
            if t >= since and parts[0] == "value" and parts[1] == ref and parts[2] == quality:
                n += 1
        return n

    def write(self, ref, value, timeout=10.0):
        """Sends a write; returns the completion words, e.g. ['ok', '0'] or ['exception', '2']."""
        wid = self.next_id
        self.next_id += 1
        self.send("write %d %s %s" % (wid, ref, value))
        m = self.expect(r"^write(err)? %d (.*)$" % wid, timeout=timeout)
        return (["err"] if m.group(1) else []) + m.group(2).split()

    def stop(self):
        try:
            self.send("quit")
        except OSError:
            pass
        super().stop()
        if os.path.exists(self.cfg_path):
            os.unlink(self.cfg_path)
        # Under ASan/UBSan a leak or an error shows as a non-zero exit and a report.
        bad = [line for _, line in self.snapshot() if "Sanitizer" in line or "runtime error" in line]
        assert self.p.returncode == 0 and not bad, "mb_poll exit %s: %s" % (
            self.p.returncode, "\n".join(bad[:5]))


# ---- the register map of the type/order tests ----

ORDERS = ("ABCD", "CDAB", "BADC", "DCBA")


def words(raw, order):
    """Big-endian bytes -> register list in the given order (same rule as DESIGN.md)."""
    regs = [raw[i] << 8 | raw[i + 1] for i in range(0, len(raw), 2)]
    if order in ("CDAB", "DCBA"):
        regs.reverse()
    if order in ("BADC", "DCBA"):
        regs = [((r & 0xFF) << 8) | (r >> 8) for r in regs]
    return regs


def string_words(text, n, order):
    raw = text.encode().ljust(n + (n & 1), b"\0")
    regs = [raw[i] << 8 | raw[i + 1] for i in range(0, len(raw), 2)]
    if order in ("BADC", "DCBA"):
        regs = [((r & 0xFF) << 8) | (r >> 8) for r in regs]
    return regs


# (name, type, struct format, value, expected printed kind)
NUMERIC = [
    ("f32", "float32", ">f", 123.456, "double"),
    ("f64", "float64", ">d", -9876.54321, "double"),
    ("i16", "int16", ">h", -1234, "int"),
    ("u16", "uint16", ">H", 54321, "uint"),
    ("i32", "int32", ">i", -123456789, "int"),
    ("u32", "uint32", ">I", 3735928559, "uint"),
    ("i64", "int64", ">q", -1234567890123, "int"),
    ("u64", "uint64", ">Q", 0x0123456789ABCDEF, "uint"),
]


def build_map():
    """Returns (spec for unit 1, point lines for mb_poll, expectations {ref: (kind, value)})."""
    hr = [0] * 100
    points, expect = [], {}
    addr = 0

    def point(line):
        points.append("point " + line)

    for name, typ, fmt, val, kind in NUMERIC:
        for order in ORDERS:
            regs = words(struct.pack(fmt, val), order)
            hr[addr:addr + len(regs)] = regs
            pname = "%s_%s" % (name, order.lower())
            point("name=%s table=holding addr=%d type=%s order=%s" % (pname, addr, typ, order))
            exact = struct.unpack(fmt, struct.pack(fmt, val))[0]
            expect[pname] = (kind, float32_decimal(exact) if fmt == ">f" else exact)
            addr += len(regs)
    # addr is now 8 * (2+4+1+1+2+2+4+4) = 160: past 100, so grow the table
    hr += [0] * (addr + 60 - len(hr))
    for text, n, order in (("GW-METER-1", 10, "ABCD"), ("SN12345", 7, "BADC")):
        regs = string_words(text, n, order)
        hr[addr:addr + len(regs)] = regs
        pname = "s%d_%s" % (n, order.lower())
        point("name=%s table=holding addr=%d type=string(%d) order=%s" % (pname, addr, n, order))
        expect[pname] = ("string", '"%s"' % text)
        addr += len(regs)
    hr[addr] = 0x8001
    for bit, val in ((0, 1), (15, 1), (3, 0)):
        point("name=bit%d table=holding addr=%d type=bit(%d)" % (bit, addr, bit))
        expect["bit%d" % bit] = ("bool", val)
    addr += 1
    hr[addr] = 5
    point("name=flag table=holding addr=%d type=bool" % addr)
    expect["flag"] = ("bool", 1)
    addr += 1
    hr[addr] = 2345
    point("name=scaled table=holding addr=%d type=int16 scale=0.1 offset=-10" % addr)
    expect["scaled"] = ("double", 224.5)
    addr += 1
    hr[addr:addr + 2] = words(struct.pack(">I", 123456), "CDAB")
    point("name=scaled32 table=holding addr=%d type=uint32 order=CDAB scale=0.01" % addr)
    expect["scaled32"] = ("double", 1234.56)
    addr += 2
    spec = {"hr": hr[:addr + 20], "ir": [4321] + words(struct.pack(">f", -2.5), "ABCD") + [0] * 8,
            "co": [1, 0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0], "di": [0, 1, 1, 0]}
    point("name=in16 table=input addr=0 type=uint16")
    expect["in16"] = ("uint", 4321)
    point("name=inf table=input addr=1 type=float32")
    expect["inf"] = ("double", -2.5)
    for i, v in enumerate(spec["co"][:4]):
        point("name=co%d table=coil addr=%d type=bool" % (i, i))
        expect["co%d" % i] = ("bool", v)
    for i, v in enumerate(spec["di"]):
        point("name=di%d table=discrete addr=%d type=bool" % (i, i))
        expect["di%d" % i] = ("bool", v)
    return spec, addr, points, expect


def float32_decimal(f):
    """The shortest decimal that reads back as the float32 f: what the adapter reports for a
    float32 register (123.456, not 123.45600128173828)."""
    for prec in range(1, 10):
        d = float("%.*g" % (prec, f))
        if struct.unpack(">f", struct.pack(">f", d))[0] == f:
            return d
    return f


def check_value(got, kind, want):
    """got: (quality, kind, text) from MbPoll.latest."""
    if got is None or got[0] != "good" or got[1] != kind:
        return False
    if kind == "double":
        return abs(float(got[2]) - want) <= 1e-9 * max(1.0, abs(want))
    if kind == "string":
        return got[2] == want
    return int(got[2]) == int(want)


# ---- scenarios shared by the TCP and RTU tests ----

class Bench:
    """One slave (pymodbus) + one mb_poll on the full map: devices m (unit 1, merged reads with a
    point past the end of the table), f (unit 1, forced FC15/FC16 writes) and ghost (unit 7,
    absent)."""

    def __init__(self, link_line, start_server):
        self.spec, base, points, self.expect = build_map()
        self.base = base
        hr = self.spec["hr"]
        hr[base + 4] = 0x00F0  # wbit: the other bits must survive a bit(2) write
        self.past = len(hr) + 2  # beyond the datastore: exception 2
        points += [
            "point name=w16 table=holding addr=%d type=uint16 w=1 rb=1" % base,
            "point name=wf32 table=holding addr=%d type=float32 order=CDAB w=1 rb=1" % (base + 1),
            "point name=ws table=holding addr=%d type=int16 scale=0.1 w=1" % (base + 3),
            "point name=wbit table=holding addr=%d type=bit(2) w=1 rb=1" % (base + 4),
            "point name=wstr table=holding addr=%d type=string(4) w=1" % (base + 5),
            "point name=wco table=coil addr=8 type=bool w=1 rb=1",
            "point name=past table=holding addr=%d type=uint16" % self.past,
        ]
        cfg = [link_line, "device name=m unit=1 poll=200 gap=20"] + points
        cfg += ["device name=f unit=1 poll=500 force=1",
                "point name=fw16 table=holding addr=%d type=uint16 w=1" % (base + 7),
                "point name=fco table=coil addr=9 type=bool w=1",
                "device name=ghost unit=7 poll=200",
                "point name=x table=holding addr=0 type=uint16"]
        self.cfg = "\n".join(cfg) + "\n"
        self.server = start_server({"units": {"1": self.spec}})
        self.poll = MbPoll(self.cfg)

    def close(self):
        self.poll.stop()
        self.server.stop()


def check_types(b):
    """Every type in every order, strings, bits, scaling, input registers, coils, discretes."""
    for name, (kind, want) in b.expect.items():
        got = b.poll.wait_value("m." + name)
        assert check_value(got, kind, want), "m.%s: got %r, want %s %r" % (name, got, kind, want)


def check_writes(b):
    """FC6, FC16, FC5 and the forced FC16/FC15, with inverse scaling and read-back; the slave's
    datastore is read back through pymodbus itself."""
    srv, base = b.server, b.base
    assert b.poll.write("m.w16", "4242") == ["ok", "0"]
    assert srv.get(1, "hr", base, 1) == [4242]
    assert b.poll.write("m.wf32", "-1.25") == ["ok", "0"]
    assert srv.get(1, "hr", base + 1, 2) == words(struct.pack(">f", -1.25), "CDAB")
    assert b.poll.write("m.ws", "12.3") == ["ok", "0"]
    assert srv.get(1, "hr", base + 3, 1) == [123]  # (12.3 - 0) / 0.1
    assert b.poll.write("m.wbit", "true") == ["ok", "0"]
    assert srv.get(1, "hr", base + 4, 1) == [0x00F4]
    assert b.poll.write("m.wstr", "AB") == ["ok", "0"]
    assert srv.get(1, "hr", base + 5, 2) == [0x4142, 0]
    assert b.poll.write("m.wco", "true") == ["ok", "0"]
    assert srv.get(1, "co", 8, 1) == [1]
    assert b.poll.write("f.fw16", "7") == ["ok", "0"]
    assert srv.get(1, "hr", base + 7, 1) == [7]
    assert b.poll.write("f.fco", "1") == ["ok", "0"]
    assert srv.get(1, "co", 9, 1) == [1]
    # read-back posted the new value at once
    assert check_value(b.poll.latest("m.w16"), "uint", 4242)
    # out of range for int16 after inverse scaling: refused before any I/O
    assert b.poll.write("m.ws", "4000")[:2] == ["err", "-34"]
    # a value the poll cycle picks up when the slave changes it
    srv.set(1, "hr", base, [9])
    b.poll.wait_value("m.w16", lambda v: v[0] == "good" and v[2] == "9")


def check_exception_and_dead_unit(b):
    """The point past the end gets exception 2 (after the merged read was split) while its
    neighbours stay good; unit 7 times out and goes down without stopping unit 1."""
    got = b.poll.wait_value("m.past", lambda v: v[0] == "exception")
    assert got[1] == "2", got
    b.poll.seen(r"^state dev:ghost down")
    assert b.poll.latest("ghost.x")[0] == "timeout"
    t0 = time.monotonic()
    time.sleep(1.0)
    assert b.poll.count("m.u16_abcd", since=t0) >= 3, "unit 1 stalled by unit 7"
    assert b.poll.latest("m.w16")[0] == "good"
    assert b.poll.latest("m.f32_dcba")[0] == "good"
