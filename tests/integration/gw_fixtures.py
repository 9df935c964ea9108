# SPDX-License-Identifier: Apache-2.0
"""Config pieces and helpers shared by the gateway integration tests (not a test itself)."""
import os
import re
import shutil
import signal
import subprocess
import tempfile
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


def http_get(port, path):
    """GET http://127.0.0.1:port/path from the gateway's HTTP listener: (status, body text),
    also for an error status."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


class GatewayProc:
    """`lwm2m-gateway run` on config text written into a temporary directory, next to copies of
    the files it names ((source, name) pairs), started from another directory so that relative
    paths must resolve against the config file. Its log (stderr) goes to a file there. stop()
    sends SIGTERM and checks what every test checks: exit status 0, no sanitizer report."""

    def __init__(self, config_text, files=(), env=None, prefix="gw-"):
        self.dir = tempfile.mkdtemp(prefix=prefix)
        for src, name in files:
            shutil.copy(src, os.path.join(self.dir, name))
        self.cfg = os.path.join(self.dir, "gw.yaml")
        self.write_config(config_text)
        self.log_path = os.path.join(self.dir, "gw.log")
        self._log_file = open(self.log_path, "w")
        self.proc = subprocess.Popen([harness.binary("bridge", "lwm2m-gateway"), "run", "-c",
                                      self.cfg], stdout=subprocess.DEVNULL,
                                     stderr=self._log_file, cwd=tempfile.gettempdir(),
                                     env=dict(os.environ, **(env or {})))

    def write_config(self, text):
        with open(self.cfg, "w", encoding="utf-8") as f:
            f.write(text)

    def reload(self, text):
        """Writes a new config and sends SIGHUP."""
        self.write_config(text)
        self.proc.send_signal(signal.SIGHUP)

    def log(self):
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

    def stop(self):
        """SIGTERM; returns the log after checking exit status 0 and no sanitizer report."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log_file.close()
        log = self.log()
        shutil.rmtree(self.dir, ignore_errors=True)
        assert self.proc.returncode == 0, (self.proc.returncode, log[-3000:])
        assert "AddressSanitizer" not in log and "runtime error" not in log, log[-3000:]
        return log
