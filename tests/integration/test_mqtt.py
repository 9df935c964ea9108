# SPDX-License-Identifier: Apache-2.0
"""The MQTT adapter against Debian's mosquitto broker: each test starts /usr/sbin/mosquitto on a
free loopback port with a generated config, runs tests/tools/mq_watch (our adapter) and publishes
with mosquitto_pub or a tiny MQTT 3.1.1 publisher written here on Python sockets. Covers values
reaching the sink (text, JSON pointer, malformed and wrong-type payloads), discovery of 1,000
devices and their removal, a Write on the command topic seen by mosquitto_sub, and a broker
restart with QoS 1 messages published while the adapter is away."""
import os
import pwd
import queue
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

MOSQUITTO = "/usr/sbin/mosquitto"
MOSQUITTO_PUB = shutil.which("mosquitto_pub") or "/usr/bin/mosquitto_pub"
MOSQUITTO_SUB = shutil.which("mosquitto_sub") or "/usr/bin/mosquitto_sub"


def free_tcp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    """mosquitto on 127.0.0.1:port; persistence in its own temp dir when asked."""

    def __init__(self, persistent=False, port=None):
        self.dir = tempfile.mkdtemp(prefix="gw-mq-")
        self.fixed_port = port is not None
        self.port = port or free_tcp_port()
        self.persistent = persistent
        self.proc = None
        self.start()

    def start(self):
        # Between free_tcp_port() and mosquitto's bind another test running in parallel may take
        # the port: our mosquitto then exits at once ("Address already in use") while the other
        # broker answers connects. So the broker counts as up only while our process lives, and
        # a port we chose ourselves is chosen again.
        for _ in range(5):
            self._launch()
            harness.wait_for(lambda: self.proc.poll() is not None or self._accepts(), timeout=10,
                             what="mosquitto listening")
            time.sleep(0.3)
            if self.proc.poll() is None:
                return
            self.log.close()
            if self.fixed_port:
                break
            self.port = free_tcp_port()
        raise RuntimeError("mosquitto could not listen on 127.0.0.1:%d" % self.port)

    def _launch(self):
        conf = os.path.join(self.dir, "mosquitto.conf")
        with open(conf, "w") as f:
            f.write("listener %d 127.0.0.1\nallow_anonymous true\n" % self.port)
            # the default kinds, and each SUBSCRIBE as "<client> <qos> <filter>" for tests
            f.write("".join("log_type %s\n" % t for t in
                            ("error", "warning", "notice", "information", "subscribe")))
            # Started as root, mosquitto drops to its own user and could not write its
            # database into our temp dir: stay the user we are.
            f.write("user %s\n" % pwd.getpwuid(os.getuid()).pw_name)
            if self.persistent:
                f.write("persistence true\npersistence_location %s/\n" % self.dir)
                f.write("autosave_interval 1\n")
        self.log = open(os.path.join(self.dir, "broker.log"), "ab")
        self.proc = subprocess.Popen([MOSQUITTO, "-c", conf], stdout=self.log,
                                     stderr=subprocess.STDOUT)

    def _accepts(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return True
        except OSError:
            return False

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # SIGTERM: mosquitto saves its database
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        self.log.close()

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class Watch:
    """tests/tools/mq_watch with its stdout collected line by line."""

    def __init__(self, port, *spec, extra=()):
        exe = harness.binary("tests", "tools", "mq_watch")
        self.proc = subprocess.Popen([exe, "--port", str(port)] + list(extra) + list(spec),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, bufsize=1,
                                     encoding="utf-8", errors="replace")
        self.lines = []
        self.cond = threading.Condition()
        self.errors = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_err, daemon=True).start()
        self.wait_line(lambda l: l == "ready", 5)

    def _read(self):
        for line in self.proc.stdout:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()

    def _read_err(self):
        for line in self.proc.stderr:
            self.errors.put(line.rstrip("\n"))

    def wait_line(self, pred, timeout=10.0, start=0):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for i in range(start, len(self.lines)):
                    if pred(self.lines[i]):
                        return i
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise TimeoutError("no matching line; last lines: %r" % self.lines[-8:])
                self.cond.wait(left)

    def count(self, pred):
        with self.cond:
            return sum(1 for l in self.lines if pred(l))

    def send(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def close(self):
        if self.proc.poll() is None:
            try:
                self.send("quit")
                self.proc.wait(timeout=5)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        errs = []
        while not self.errors.empty():
            errs.append(self.errors.get())
        assert self.proc.returncode == 0, "mq_watch exited with %r: %s" % (
            self.proc.returncode, "\n".join(errs[-30:]))


class Publisher:
    """A minimal MQTT 3.1.1 client on a socket: CONNECT, PUBLISH at QoS 0 or 1 (waits for the
    PUBACKs), DISCONNECT. Enough to push thousands of messages fast without a process each."""

    def __init__(self, port, client_id="gw-test-pub"):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        cid = client_id.encode()
        var = b"\x00\x04MQTT\x04\x02\x00\x3c"  # protocol 4, clean session, keepalive 60
        self._send(0x10, var + struct.pack("!H", len(cid)) + cid)
        hdr = self._recv_exact(4)
        if hdr[0] != 0x20 or hdr[3] != 0:
            raise RuntimeError("CONNACK refused: %r" % hdr)
        self.mid = 0

    @staticmethod
    def _remaining(n):
        out = bytearray()
        while True:
            b = n % 128
            n //= 128
            out.append(b | (0x80 if n else 0))
            if not n:
                return bytes(out)

    def _send(self, first, body):
        self.sock.sendall(bytes([first]) + self._remaining(len(body)) + body)

    def _recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise RuntimeError("broker closed the connection")
            buf += chunk
        return buf

    def publish_many(self, msgs, qos=0, retain=False):
        """msgs: iterable of (topic, payload bytes)."""
        out = bytearray()
        pending = 0
        for topic, payload in msgs:
            t = topic.encode()
            body = struct.pack("!H", len(t)) + t
            if qos:
                self.mid = self.mid % 65535 + 1
                body += struct.pack("!H", self.mid)
                pending += 1
            body += payload
            first = 0x30 | (qos << 1) | (1 if retain else 0)
            out += bytes([first]) + self._remaining(len(body)) + body
        self.sock.sendall(bytes(out))
        for _ in range(pending):
            ack = self._recv_exact(4)
            if ack[0] != 0x40:
                raise RuntimeError("expected PUBACK, got %r" % ack)

    def close(self):
        try:
            self.sock.sendall(b"\xe0\x00")
        finally:
            self.sock.close()


TH_PROFILE = [
    "disc=sensors/{device}/state;max=1000;avail=sensors/{device}/availability",
    "pt=name=temp;topic=sensors/{device}/state;fmt=json;ptr=/temperature;type=double",
    "pt=name=on;topic=sensors/{device}/state;fmt=json;ptr=/on;type=bool;"
    "cmd=sensors/{device}/set;cmdfmt=json;cmdptr=/on;cmdqos=1",
    "pt=name=fw;topic=sensors/{device}/fw;fmt=base64;type=bytes",
]
METER = [
    "dev=m1",
    "pt=name=power;topic=plant/{device}/power;type=double;qos=1",
    "pt=name=seq;topic=plant/{device}/seq;type=int;qos=1",
    "pt=name=label;topic=plant/{device}/label;type=string",
    "pt=name=relay;topic=plant/{device}/relay;type=bool;cmd=plant/{device}/relay/set;"
    "true=ON;false=OFF;cmdqos=0",
]


def test_values_reach_sink():
    broker = Broker()
    w = Watch(broker.port, *(TH_PROFILE + METER))
    try:
        w.wait_line(lambda l: l.startswith("state - up"))
        pub = Publisher(broker.port)
        pub.publish_many([
            ("plant/m1/power", b" 1234.5\n"),
            ("plant/m1/label", "Zähler 1".encode()),
            ("plant/m1/relay", b"on"),
            ("sensors/th1/state", b'{"temperature": 21.5, "on": true, "x": [1]}'),
            ("sensors/th1/fw", b"AQID"),
        ], qos=1)
        w.wait_line(lambda l: l == "value m1 power good double 1234.5")
        w.wait_line(lambda l: l == "value m1 label good string Zähler 1")
        w.wait_line(lambda l: l == "value m1 relay good bool true")
        w.wait_line(lambda l: l == "discovered th1 sensors/th1/state")
        w.wait_line(lambda l: l == "value th1 temp good double 21.5")
        w.wait_line(lambda l: l == "value th1 on good bool true")
        w.wait_line(lambda l: l == "value th1 fw good bytes 010203")
        # Malformed JSON: both points of the message are marked, the device stays.
        mark = len(w.lines)
        pub.publish_many([("sensors/th1/state", b'{"temperature": 2')], qos=1)
        w.wait_line(lambda l: l == "value th1 temp bad-data none -", start=mark)
        w.wait_line(lambda l: l == "value th1 on bad-data none -", start=mark)
        # Wrong type for one point: only that point is marked.
        mark = len(w.lines)
        pub.publish_many([("sensors/th1/state", b'{"temperature": "warm", "on": false}')], qos=1)
        w.wait_line(lambda l: l == "value th1 temp bad-data none -", start=mark)
        w.wait_line(lambda l: l == "value th1 on good bool false", start=mark)
        # A partial update carries only some points: the others are left alone.
        mark = len(w.lines)
        pub.publish_many([("sensors/th1/state", b'{"on": true}'),
                          ("plant/m1/power", b"\xff\xfe"), ("plant/m1/power", b"7")], qos=1)
        w.wait_line(lambda l: l == "value m1 power good double 7", start=mark)
        assert w.count(lambda l: l.startswith("value th1 temp")) == 3
        assert w.count(lambda l: l == "value m1 power bad-data none -") == 1
        w.send("stats")
        i = w.wait_line(lambda l: l.startswith("stats "))
        stats = dict(kv.split("=") for kv in w.lines[i].split()[1:])
        assert stats["malformed"] == "1", stats
        assert stats["type_errors"] == "2", stats
        pub.close()
    finally:
        try:
            w.close()
        finally:
            broker.close()


def test_discovery_1000_devices():
    broker = Broker()
    w = Watch(broker.port, *TH_PROFILE, extra=["--quiet"])
    try:
        w.wait_line(lambda l: l.startswith("state - up"))
        pub = Publisher(broker.port)
        msgs = [("sensors/dev%04d/state" % i, b'{"temperature": %d.5, "on": true}' % i)
                for i in range(1000)]
        start = time.monotonic()
        pub.publish_many(msgs, qos=1)
        w.wait_line(lambda l: l == "discovered dev0999 sensors/dev0999/state", timeout=20)
        took = time.monotonic() - start
        n = w.count(lambda l: l.startswith("discovered "))
        assert n == 1000, (n, [l for l in w.lines if not l.startswith("discovered")][:10])
        # The limit: device 1,001 is refused and counted, not created.
        pub.publish_many([("sensors/extra/state", b'{"temperature": 1}')], qos=1)
        # Gone: an empty retained message on the state topic, or "offline" availability.
        pub.publish_many([("sensors/dev0007/state", b""), ("sensors/dev0008/availability",
                                                             b"offline")], qos=1, retain=True)
        w.wait_line(lambda l: l == "state dev0007 down gone")
        w.wait_line(lambda l: l == "state dev0008 down gone")
        # With two slots free, a new device comes in again.
        pub.publish_many([("sensors/late/state", b'{"temperature": 3}')], qos=1)
        w.wait_line(lambda l: l == "discovered late sensors/late/state")
        w.send("stats")
        i = w.wait_line(lambda l: l.startswith("stats "))
        stats = dict(kv.split("=") for kv in w.lines[i].split()[1:])
        assert stats["discovered"] == "1001", stats
        assert stats["over_limit"] == "1", stats
        assert stats["gone"] == "2", stats
        assert int(stats["sink_values"]) >= 2001, stats
        # Clear the retained empty message (an empty retained publish deletes it anyway).
        pub.close()
        print("     1000 devices discovered in %.2f s" % took)
    finally:
        try:
            w.close()
        finally:
            broker.close()


def test_write_on_command_topic():
    broker = Broker()
    w = Watch(broker.port, *(TH_PROFILE + METER))
    sub = None
    try:
        w.wait_line(lambda l: l.startswith("state - up"))
        sub = subprocess.Popen([MOSQUITTO_SUB, "-p", str(broker.port), "-h", "127.0.0.1",
                                "-v", "-q", "1", "-C", "3", "-W", "20", "-t", "sensors/+/set",
                                "-t", "plant/+/relay/set"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(0.5)  # let mosquitto_sub subscribe
        pub = Publisher(broker.port)
        pub.publish_many([("sensors/th9/state", b'{"temperature": 20}')], qos=1)
        w.wait_line(lambda l: l == "discovered th9 sensors/th9/state")
        w.send("write w1 th9 on bool false")
        w.wait_line(lambda l: l == "accepted w1")
        w.wait_line(lambda l: l == "done w1 ok 0 0")  # QoS 1: after the PUBACK
        w.send("write w2 m1 relay bool true")
        w.wait_line(lambda l: l == "done w2 ok 0 0")
        w.send("write w3 m1 power double 5")  # not writable
        w.wait_line(lambda l: l == "rejected w3 -1")
        w.send("write w4 nobody on bool true")
        w.wait_line(lambda l: l == "rejected w4 -2")
        w.send("write w5 th9 on bool true")
        w.wait_line(lambda l: l == "done w5 ok 0 0")
        out, err = sub.communicate(timeout=20)
        lines = out.splitlines()
        assert lines == ['sensors/th9/set {"on":false}', "plant/m1/relay/set ON",
                         'sensors/th9/set {"on":true}'], (lines, err)
        pub.close()
    finally:
        if sub is not None and sub.poll() is None:
            sub.kill()
            sub.wait()
        try:
            w.close()
        finally:
            broker.close()


def test_broker_restart_no_qos1_loss():
    broker = Broker(persistent=True)
    # Persistent session, QoS 1 subscriptions, and a back-off long enough that the messages
    # below are published while the adapter is still away.
    w = Watch(broker.port, *METER, extra=["--id", "gw-restart", "--persistent",
                                          "--backoff-min", "3000", "--backoff-max", "3000"])
    try:
        w.wait_line(lambda l: l.startswith("state - up"))
        pub = Publisher(broker.port)
        pub.publish_many([("plant/m1/seq", b"0")], qos=1)
        w.wait_line(lambda l: l == "value m1 seq good int 0")
        pub.close()
        broker.stop()
        mark = w.wait_line(lambda l: l.startswith("state - down"))
        broker.start()
        pub = Publisher(broker.port)
        pub.publish_many([("plant/m1/seq", b"%d" % i) for i in range(1, 201)], qos=1)
        pub.close()
        up = w.wait_line(lambda l: l.startswith("state - up"), timeout=15, start=mark)
        # The broker resumed the session: the queued messages arrive, every one, in order.
        w.wait_line(lambda l: l == "value m1 seq good int 200", timeout=10, start=mark)
        # (The queued messages may overtake the SUBACKs that "up" waits for: count from "down".)
        seen = [int(l.split()[-1]) for l in w.lines[mark:] if l.startswith("value m1 seq")]
        # QoS 1 is at-least-once: the broker may deliver again what it had not recorded as
        # acknowledged before it stopped (message 0, or a repeat). Nothing may be missing or
        # come out of order.
        got = [v for v in seen if v >= 1]
        assert got == sorted(got) and sorted(set(got)) == list(range(1, 201)), seen[:10]
        # And the subscription still delivers new messages after the reconnect.
        pub = Publisher(broker.port)
        pub.publish_many([("plant/m1/power", b"42")], qos=1)
        w.wait_line(lambda l: l == "value m1 power good double 42", start=up)
        pub.close()
    finally:
        try:
            w.close()
        finally:
            broker.close()


def test_reconnect_resubscribes_clean_session():
    broker = Broker()
    w = Watch(broker.port, *METER, extra=["--backoff-min", "200", "--backoff-max", "1000"])
    try:
        w.wait_line(lambda l: l.startswith("state - up"))
        broker.stop()
        mark = w.wait_line(lambda l: l.startswith("state - down"))
        time.sleep(1.0)  # a few refused attempts: back-off, no busy loop, one DOWN line only
        broker.start()
        up = w.wait_line(lambda l: l.startswith("state - up"), timeout=10, start=mark)
        assert w.count(lambda l: l.startswith("state - down")) == 1
        # A clean session has no subscriptions at the broker: these arrive only because the
        # adapter subscribed again on connect.
        pub = Publisher(broker.port)
        pub.publish_many([("plant/m1/power", b"17.25")], qos=1)
        w.wait_line(lambda l: l == "value m1 power good double 17.25", start=up)
        # A write while the broker is down completes as "disconnected", once.
        broker.stop()
        w.wait_line(lambda l: l.startswith("state - down"), start=up)
        w.send("write w9 m1 relay bool false")
        w.wait_line(lambda l: l == "done w9 disconnected 0 -107")
        pub.close()
    finally:
        try:
            w.close()
        finally:
            broker.close()


if __name__ == "__main__":
    harness.run([
        test_values_reach_sink,
        test_discovery_1000_devices,
        test_write_on_command_topic,
        test_broker_restart_no_qos1_loss,
        test_reconnect_resubscribes_clean_session,
    ])
