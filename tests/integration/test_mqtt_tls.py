# SPDX-License-Identifier: Apache-2.0
"""The MQTT adapter over TLS and TLS-PSK against Debian's mosquitto: a throwaway CA, a server
certificate for 127.0.0.1 and a client certificate are made with the openssl command line; the
broker gets a mutual-TLS listener (and a PSK listener) next to a plain one the test publishes on.
tests/tools/mq_watch (our adapter) must receive a value over TLS with the right CA and client
certificate, and must not connect with a wrong CA or without a client certificate; over PSK it
must receive with the right key and not with a wrong one. A burst of 900 QoS 1 messages over
TLS arrives complete and in order."""
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from test_mqtt import MOSQUITTO, Publisher, Watch, free_tcp_port  # noqa: E402

OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"
POINT = ["dev=m1", "pt=name=power;topic=plant/{device}/power;type=double;qos=1"]
PSK_IDENTITY = "gw-test"
PSK_KEY = "00112233445566778899aabbccddeeff"


def openssl(*args, cwd):
    subprocess.run([OPENSSL] + list(args), cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def make_ca(d, name):
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
            "/CN=%s" % name, "-keyout", name + ".key", "-out", name + ".crt", cwd=d)


def make_leaf(d, name, ca, ext):
    """A key and a certificate for name signed by ca; ext is an openssl extension section."""
    with open(os.path.join(d, name + ".ext"), "w") as f:
        f.write(ext)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=%s" % name,
            "-keyout", name + ".key", "-out", name + ".csr", cwd=d)
    openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".crt", "-CAkey", ca + ".key",
            "-CAcreateserial", "-days", "2", "-extfile", name + ".ext", "-out", name + ".crt",
            cwd=d)


class TlsBroker:
    """mosquitto with a plain listener (the test's publisher), a mutual-TLS listener and,
    when psk is true, a TLS-PSK listener, all on 127.0.0.1."""

    def __init__(self, psk=False):
        self.dir = tempfile.mkdtemp(prefix="gw-mqtls-")
        d = self.dir
        make_ca(d, "ca")
        make_ca(d, "otherca")
        make_leaf(d, "server", "ca", "subjectAltName=IP:127.0.0.1\n"
                  "extendedKeyUsage=serverAuth\n")
        make_leaf(d, "client", "ca", "extendedKeyUsage=clientAuth\n")
        self.port = free_tcp_port()
        self.tls_port = free_tcp_port()
        self.psk_port = free_tcp_port() if psk else None
        conf = os.path.join(d, "mosquitto.conf")
        with open(conf, "w") as f:
            f.write("user %s\n" % pwd.getpwuid(os.getuid()).pw_name)
            f.write("per_listener_settings false\nallow_anonymous true\n")
            f.write("listener %d 127.0.0.1\n" % self.port)
            f.write("listener %d 127.0.0.1\n" % self.tls_port)
            f.write("cafile %s/ca.crt\ncertfile %s/server.crt\nkeyfile %s/server.key\n"
                    % (d, d, d))
            f.write("require_certificate true\nuse_identity_as_username true\n")
            if psk:
                with open(os.path.join(d, "psk"), "w") as p:
                    p.write("%s:%s\n" % (PSK_IDENTITY, PSK_KEY))
                f.write("listener %d 127.0.0.1\npsk_hint gw-test-hint\n" % self.psk_port)
                f.write("psk_file %s/psk\n" % d)
        self.log = open(os.path.join(d, "broker.log"), "ab")
        self.proc = subprocess.Popen([MOSQUITTO, "-c", conf], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        ports = [self.port, self.tls_port] + ([self.psk_port] if psk else [])
        harness.wait_for(lambda: all(self._accepts(p) for p in ports), timeout=10,
                         what="mosquitto listening")

    def _accepts(self, port):
        if self.proc.poll() is not None:
            raise RuntimeError("mosquitto exited: %s" % self.log_text())
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            return False

    def log_text(self):
        self.log.flush()
        with open(os.path.join(self.dir, "broker.log"), "rb") as f:
            return f.read().decode(errors="replace")[-2000:]

    def path(self, name):
        return os.path.join(self.dir, name)

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def publish_until(broker, w, value, timeout=10.0):
    """Publishes plant/m1/power=value (QoS 1) until the watch prints it; True when it did."""
    want = "value m1 power good double %s" % value
    deadline = time.monotonic() + timeout
    pub = Publisher(broker.port, client_id="gw-tls-pub")
    try:
        while time.monotonic() < deadline:
            pub.publish_many([("plant/m1/power", value.encode())], qos=1)
            try:
                w.wait_line(lambda l: l == want, timeout=0.5)
                return True
            except TimeoutError:
                if w.proc.poll() is not None:
                    raise
    finally:
        pub.close()
    return False


def refused(broker, port, extra):
    """Runs mq_watch with extra options for a few seconds while publishing: it must neither come
    up nor deliver a value."""
    w = Watch(port, *POINT, extra=["--host", "127.0.0.1", "--backoff-min", "200",
                                   "--backoff-max", "500"] + extra)
    try:
        assert not publish_until(broker, w, "13", timeout=3.0), "value arrived: %r" % w.lines
        assert w.count(lambda l: l.startswith("state - up")) == 0, w.lines
        assert w.count(lambda l: l.startswith("value ")) == 0, w.lines
    finally:
        w.close()


def test_tls_mutual():
    broker = TlsBroker()
    try:
        good = ["--ca", broker.path("ca.crt"), "--cert", broker.path("client.crt"),
                "--key", broker.path("client.key")]
        w = Watch(broker.tls_port, *POINT, extra=["--host", "127.0.0.1"] + good)
        try:
            w.wait_line(lambda l: l.startswith("state - up"), timeout=10)
            assert publish_until(broker, w, "42.5"), w.lines
        finally:
            w.close()
        # The broker's certificate does not chain to this CA: the handshake fails.
        refused(broker, broker.tls_port,
                ["--ca", broker.path("otherca.crt"), "--cert", broker.path("client.crt"),
                 "--key", broker.path("client.key")])
        # The broker requires a client certificate.
        refused(broker, broker.tls_port, ["--ca", broker.path("ca.crt")])
    finally:
        broker.close()


def test_tls_burst_in_order():
    # A burst over TLS: the adapter reads on until libmosquitto reports no more data, and bytes
    # OpenSSL has already taken off the socket must not wait for the next packet to arrive.
    broker = TlsBroker()
    n = 900  # under mosquitto's max_queued_messages (1000): QoS 1 messages are never dropped
    try:
        w = Watch(broker.tls_port, "dev=m1", "pt=name=seq;topic=plant/{device}/seq;type=int;qos=1",
                  extra=["--host", "127.0.0.1", "--ca", broker.path("ca.crt"),
                         "--cert", broker.path("client.crt"), "--key", broker.path("client.key")])
        try:
            w.wait_line(lambda l: l.startswith("state - up"), timeout=10)
            pub = Publisher(broker.port, client_id="gw-tls-burst")
            pub.publish_many([("plant/m1/seq", b"%d" % i) for i in range(1, n + 1)], qos=1)
            pub.close()
            w.wait_line(lambda l: l == "value m1 seq good int %d" % n, timeout=20)
            seen = [int(l.split()[-1]) for l in w.lines if l.startswith("value m1 seq")]
            assert seen == list(range(1, n + 1)), seen[:20]
            w.send("stats")
            i = w.wait_line(lambda l: l.startswith("stats "))
            stats = dict(kv.split("=") for kv in w.lines[i].split()[1:])
            assert int(stats["messages"]) == n, stats
            assert 1 <= int(stats["read_events"]) <= n, stats
        finally:
            w.close()
    finally:
        broker.close()


def test_tls_psk():
    broker = TlsBroker(psk=True)
    try:
        os.environ["GW_TEST_PSK"] = PSK_KEY
        w = Watch(broker.psk_port, *POINT, extra=["--host", "127.0.0.1", "--psk-identity",
                                                  PSK_IDENTITY, "--psk-env", "GW_TEST_PSK"])
        try:
            w.wait_line(lambda l: l.startswith("state - up"), timeout=10)
            assert publish_until(broker, w, "7.25"), w.lines
        finally:
            w.close()
        os.environ["GW_TEST_PSK"] = "ffeeddccbbaa99887766554433221100"
        refused(broker, broker.psk_port, ["--psk-identity", PSK_IDENTITY,
                                          "--psk-env", "GW_TEST_PSK"])
    finally:
        os.environ.pop("GW_TEST_PSK", None)
        broker.close()


if __name__ == "__main__":
    harness.run([test_tls_mutual, test_tls_burst_in_order, test_tls_psk])
