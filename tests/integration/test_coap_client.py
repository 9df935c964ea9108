# SPDX-License-Identifier: Apache-2.0
"""Interop of our CoAP message layer with an independent peer: starts tests/tools/coap_demo_server
on a free loopback port (IPv4, then ::1) and drives it with Debian's coap-client-notls (libcoap)
and with raw datagrams from Python's socket module (ping, malformed input, duplicates)."""
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

BUILD = os.environ.get("GW_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
SERVER = os.path.join(BUILD, "tests", "tools", "coap_demo_server")
CLIENT = shutil.which("coap-client-notls") or "/usr/bin/coap-client-notls"
ALPHABET = b"0123456789abcdefghijklmnopqrstuvwxyz"
BIG = bytes(10 if i % 64 == 63 else ALPHABET[(i * 7 + i // 64) % 36] for i in range(3072))

results = []


def check(name, ok, detail=""):
    results.append(ok)
    print(("PASS " if ok else "FAIL ") + name + ("" if ok or not detail else ": " + detail))
    sys.stdout.flush()


class Server:
    def __init__(self, host):
        self.host = host
        self.proc = subprocess.Popen([SERVER, "--port", "0", "--host", host],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        line = self.proc.stdout.readline().decode()
        if "listening" not in line:
            raise RuntimeError("server did not start: " + line)
        self.port = int(line.split()[-1])
        self.log = []

    def uri(self, path):
        h = "[%s]" % self.host if ":" in self.host else self.host
        return "coap://%s:%d/%s" % (h, self.port, path)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        out, _ = self.proc.communicate(timeout=20)
        self.log = out.decode(errors="replace").splitlines()
        return self.proc.returncode


def coap(args, timeout=20):
    p = subprocess.run([CLIENT, "-B", "8"] + args, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def raw(srv, datagram, wait=1.0):
    """Sends one datagram from a fresh socket; returns the reply datagram or None."""
    fam = socket.AF_INET6 if ":" in srv.host else socket.AF_INET
    with socket.socket(fam, socket.SOCK_DGRAM) as s:
        s.settimeout(wait)
        s.sendto(datagram, (srv.host, srv.port))
        try:
            return s.recv(2048)
        except socket.timeout:
            return None


def header(d):
    ver_t_tkl, code, mid = struct.unpack("!BBH", d[:4])
    tkl = ver_t_tkl & 0x0F
    return (ver_t_tkl >> 4) & 3, code, mid, d[4:4 + tkl]


def code(c, d):
    return (c << 5) | d


def run_family(host):
    tag = "[%s] " % host
    srv = Server(host)
    with tempfile.TemporaryDirectory() as tmp:
        rc, out, err = coap([srv.uri("hello")])
        check(tag + "GET /hello", rc == 0 and out.strip() == b"Hello from lwm2m-gateway", out + err)

        rc, out, err = coap(["-m", "put", "-e", "stored by coap-client", srv.uri("store")])
        rc2, out2, err2 = coap([srv.uri("store")])
        check(tag + "PUT then GET /store", rc == 0 and rc2 == 0 and
              out2.strip() == b"stored by coap-client", out2 + err2)

        body = os.urandom(2500)
        src, dst = os.path.join(tmp, "in.bin"), os.path.join(tmp, "out.bin")
        with open(src, "wb") as f:
            f.write(body)
        rc, out, err = coap(["-m", "put", "-b", "256", "-f", src, srv.uri("store")])
        rc2, _, err2 = coap(["-o", dst, srv.uri("store")])
        got = open(dst, "rb").read() if os.path.exists(dst) else b""
        check(tag + "Block1 PUT 2500 bytes (-b 256), Block2 GET back", rc == 0 and got == body,
              "rc=%d len=%d %s" % (rc, len(got), err + err2))

        for extra in ([], ["-b", "64"], ["-b", "512"]):
            dst = os.path.join(tmp, "big%d.bin" % len(extra))
            rc, _, err = coap(extra + ["-o", dst, srv.uri("big")])
            got = open(dst, "rb").read() if os.path.exists(dst) else b""
            check(tag + "Block2 GET /big %s" % " ".join(extra), rc == 0 and got == BIG,
                  "rc=%d len=%d %s" % (rc, len(got), err))

        t0 = time.monotonic()
        rc, out, err = coap(["-K", "1", "-v", "7", srv.uri("slow")])
        dt = time.monotonic() - t0
        text = (out + err).decode(errors="replace")
        check(tag + "separate response of /slow", rc == 0 and
              b"slow answer, separate response" in out and dt >= 2.5 and
              "t:ACK c:0.00" in text and "t:CON c:2.05" in text, "dt=%.1f %s" % (dt, text[-600:]))
        check(tag + "coap-client keepalive pings answered with RST", "t:RST c:0.00" in text,
              text[-600:])

        rc, out, err = coap(["-N", srv.uri("hello")])
        check(tag + "NON GET /hello", rc == 0 and b"Hello" in out, out + err)

        rc, out, err = coap(["-O", "2049,x", srv.uri("hello")])
        check(tag + "unknown critical option gets 4.02", b"4.02" in out + err, out + err)

        # CoAP ping from a raw socket: empty CON, answered by RST with the same MID.
        rep = raw(srv, struct.pack("!BBH", 0x40, 0, 0xBEEF))
        check(tag + "raw CoAP ping gets RST", rep is not None and len(rep) == 4 and
              header(rep)[:3] == (3, 0, 0xBEEF), repr(rep))

        # Malformed CON request with readable header and token: 4.00 piggy-backed.
        rep = raw(srv, bytes([0x42, 0x01, 0x12, 0x34, 0xAB, 0xCD, 0xF1, 0x00]))
        ok = rep is not None and header(rep) == (2, code(4, 0), 0x1234, b"\xab\xcd")
        check(tag + "malformed CON request gets 4.00", ok, repr(rep))
        rep = raw(srv, b"\xff\x00\x01", wait=0.5)
        check(tag + "garbage datagram dropped", rep is None, repr(rep))

        # Duplicate CON: the same answer is replayed and the handler runs once.
        req = bytes([0x41, 0x01, 0x55, 0x66, 0x77, 0xB5]) + b"hello"
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(fam, socket.SOCK_DGRAM) as s:
            s.settimeout(2)
            s.sendto(req, (host, srv.port))
            first = s.recv(2048)
            s.sendto(req, (host, srv.port))
            second = s.recv(2048)
        check(tag + "duplicate CON gets the cached answer", first == second and
              header(first)[:3] == (2, code(2, 5), 0x5566), repr((first, second)))

        rc, out, err = coap([srv.uri("hello")])
        check(tag + "server still answers after bad input", rc == 0 and b"Hello" in out, out + err)

    rc = srv.stop()
    hello_lines = [l for l in srv.log if "GET /hello" in l]
    check(tag + "server exits cleanly (no leaks under ASan)", rc == 0, "\n".join(srv.log[-20:]))
    # hello: coap-client GET, NON GET, raw duplicate pair (one handler call), final GET
    check(tag + "handler called once for the duplicate", len(hello_lines) == 4,
          "\n".join(hello_lines))
    stats = [l for l in srv.log if "stats" in l]
    check(tag + "counters: malformed and duplicate counted", bool(stats) and
          "malformed=2" in stats[0] and "duplicates=1" in stats[0] and
          "bad_option=1" in stats[0], " ".join(stats))


def ipv6_available():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def main():
    if not os.path.exists(SERVER):
        print("missing %s (build the coap_demo_server target)" % SERVER)
        print("0 passed, 1 failed")
        return 1
    if not os.path.exists(CLIENT):
        print("missing coap-client-notls (apt-get install libcoap3-bin)")
        print("0 passed, 1 failed")
        return 1
    run_family("127.0.0.1")
    if ipv6_available():
        run_family("::1")
    else:
        print("SKIP ::1 not available")
    passed = sum(1 for r in results if r)
    failed = len(results) - passed
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
