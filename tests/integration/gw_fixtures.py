# SPDX-License-Identifier: Apache-2.0
"""Config pieces and helpers shared by the gateway integration tests (not a test itself)."""
import os
import re
import shutil
import signal
import struct
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import harness


def meter_and_thermo(mb_port):
    """YAML lines: a Modbus TCP adapter `plc` on 127.0.0.1:mb_port, an adapter `none` that never
    answers, and the profiles `meter` (Modbus voltage and relay) and `thermo` (constants)."""
    return [
        "adapters:",
        "  - { name: plc, type: modbus-tcp, host: 127.0.0.1, port: %d, timeout: 300ms }"
        % mb_port,
        "  - { name: none, type: modbus-tcp, host: 127.0.0.1, port: 1 }",
        "profiles:",
        "  meter:",
        "    3: { 0: { 0: ACME, 1: EM-340 } }",
        "    3316: { 0: { 5700: { read: 'holding:0', type: float32 }, 5701: V } }",
        "    3311: { 0: { 5850: { read: 'coil:0', write: 'coil:0' } } }",
        "  thermo:",
        "    3: { 0: { 0: Thermo Inc, 1: T-100 } }",
        "    3303: { 0: { 5700: 21.5, 5701: Cel } }",
    ]


def constant_devices(names):
    """YAML lines: devices with constant values only (profile `thermo`: Device object, 21.5 Cel),
    on an adapter `none` that no device ever asks anything, and the `devices:` list of names."""
    return [
        "adapters:",
        "  - { name: none, type: modbus-tcp, host: 127.0.0.1, port: 1 }",
        "profiles:",
        "  thermo:",
        "    3: { 0: { 0: Thermo Inc, 1: T-100 } }",
        "    3303: { 0: { 5700: 21.5, 5701: Cel } }",
        "devices:",
    ] + ["  - { name: %s, adapter: none, profile: thermo }" % d for d in names]


def f32_regs(v):
    """The two holding registers of a big-endian float32 (the meter's `holding:0`)."""
    hi, lo = struct.unpack(">HH", struct.pack(">f", v))
    return [hi, lo]


def meter_spec(volts=230.5, coil=1):
    """A PyModbus spec for the `meter` profile's slave (unit 1): volts in holding registers 0-1
    (float32), coil 0 set to coil."""
    return {"units": {"1": {"hr": f32_regs(volts) + [0] * 8, "co": [coil, 0, 0, 0]}}}


def http_get(port, path):
    """GET http://127.0.0.1:port/path from the gateway's HTTP listener: (status, body text),
    also for an error status."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


class GatewayProc:
    """`lwm2m-gateway run` on config text written into a temporary directory (or into workdir, a
    directory of the caller's, left in place), next to copies of the files it names ((source,
    name) pairs), started from another directory so that relative paths must resolve against the
    config file. Its log (stderr) goes to a file there. stop() sends SIGTERM and checks what every
    test checks: exit status 0, no sanitizer report; close() only cleans up (after a failure)."""

    def __init__(self, config_text, files=(), env=None, prefix="gw-", workdir=None,
                 config_name="gw.yaml"):
        self._own_dir = workdir is None
        self.dir = tempfile.mkdtemp(prefix=prefix) if workdir is None else workdir
        for src, name in files:
            shutil.copy(src, os.path.join(self.dir, name))
        self.cfg = os.path.join(self.dir, config_name)
        self.write_config(config_text)
        self.log_path = os.path.join(self.dir, "gw.log")
        self._log_file = open(self.log_path, "w")
        self._term_at = None
        self.exit_seconds = None  # how long the exit took after terminate(), once it exited
        self.proc = subprocess.Popen([harness.binary("bridge", "lwm2m-gateway"), "run", "-c",
                                      self.cfg], stdout=subprocess.DEVNULL,
                                     stderr=self._log_file, cwd=tempfile.gettempdir(),
                                     env=dict(os.environ, **(env or {})))

    def write_config(self, text):
        with open(self.cfg, "w", encoding="utf-8") as f:
            f.write(text)

    def reload(self, text=None):
        """Writes a new config (text None: leaves the file as it is) and sends SIGHUP."""
        if text is not None:
            self.write_config(text)
        self.proc.send_signal(signal.SIGHUP)

    def log(self):
        """The log so far."""
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def wait_log(self, pattern, timeout=10, count=1):
        """Waits until the log matches the regular expression pattern count times (the gateway
        must stay up meanwhile); returns the matching lines."""
        rx = re.compile(pattern)

        def found():
            assert self.proc.poll() is None, "gateway exited:\n" + self.log()[-3000:]
            return len([ln for ln in self.log().splitlines() if rx.search(ln)]) >= count
        harness.wait_for(found, timeout=timeout, what="log line %r" % pattern)
        return [ln for ln in self.log().splitlines() if rx.search(ln)]

    def terminate(self):
        """Sends SIGTERM and returns at once (wait_exit() then measures the exit)."""
        self._term_at = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)

    def wait_exit(self, status=0, timeout=10):
        """Waits up to timeout s for the gateway to exit (killing it after that: a failure);
        checks the exit status and that the log has no sanitizer report; returns the log. Sets
        exit_seconds to the time since terminate(), if it was called."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("gateway still running after %s s:\n%s"
                                 % (timeout, self.log()[-3000:]))
        if self._term_at is not None:
            self.exit_seconds = time.monotonic() - self._term_at
        log = self.log()
        assert self.proc.returncode == status, (self.proc.returncode, log[-3000:])
        assert "AddressSanitizer" not in log and "runtime error" not in log, log[-3000:]
        return log

    def stop(self, timeout=10):
        """SIGTERM (unless terminate() sent it already or it exited), then wait_exit(0, timeout)
        and close(); returns the log."""
        try:
            if self.proc.poll() is None and self._term_at is None:
                self.terminate()
            return self.wait_exit(0, timeout)
        finally:
            self.close()

    def close(self):
        """Kills the gateway if it still runs and removes its directory (not a workdir);
        checks nothing: for cleaning up after a failure. Safe to call again."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._log_file.close()
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)


def parse_metrics(text):
    """Prometheus text (the gateway's /metrics) as {name with labels: value}."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def metrics(port):
    """The gateway's /metrics, parsed (parse_metrics)."""
    code, text = http_get(port, "/metrics")
    assert code == 200, (code, text)
    return parse_metrics(text)


def registers(srv, ep):
    """Every Register of endpoint ep the server srv received so far."""
    return [e for e in srv.events("register") if e["ep"] == ep]


def server_objects(srv, ep):
    """The objects srv holds for ep now (its Register's links, or its last Update's with links),
    without "/"; [] when ep is not registered."""
    r = srv.registration(ep)
    return r.objects if r is not None else []


def wait_notify_until(srv, token, pred, timeout):
    """Notifications of token at srv, in order, until one for which pred(notification) holds;
    returns it (TimeoutError when none does within timeout s)."""
    deadline = time.monotonic() + timeout
    while True:
        n = srv.wait_notify(token=token, timeout=max(0.1, deadline - time.monotonic()))
        if pred(n):
            return n
