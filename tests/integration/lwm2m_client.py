# SPDX-License-Identifier: Apache-2.0
"""Driver of tests/tools/lwm2m_client (our engine with N in-memory endpoints): starts it, reads
its event lines, sends stdin commands. Not a test itself."""
import collections
import subprocess
import threading
import time

import harness


class Client:
    def __init__(self, server_uri, count=1, name="urn:dev:test:", lifetime=300, binding="U",
                 version=2, extra=()):
        self.args = [harness.binary("tests", "tools", "lwm2m_client"), "--server", server_uri,
                     "--count", str(count), "--name", name, "--lifetime", str(lifetime),
                     "--binding", binding, "--version", str(version)] + list(extra)
        self.lines = []
        self.cond = threading.Condition()
        self.proc = None
        self.stderr = collections.deque(maxlen=100)

    def start(self):
        self.proc = subprocess.Popen(self.args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, bufsize=1)
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_err, daemon=True).start()
        self.wait_line(lambda l: l.startswith("started"), 10)
        return self

    def _read(self):
        for line in self.proc.stdout:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()

    def _read_err(self):
        for line in self.proc.stderr:
            self.stderr.append(line.rstrip())

    def wait_line(self, pred, timeout=10.0, start=0):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for l in self.lines[start:]:
                    if pred(l):
                        return l
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("no matching client line in %.1f s; last lines: %s; "
                                       "stderr: %s" % (timeout, self.lines[-5:],
                                                       list(self.stderr)[-5:]))
                self.cond.wait(left)

    def events(self, kind):
        with self.cond:
            return [l for l in self.lines if l.startswith("event %s " % kind)]

    def send(self, cmd):
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()

    def stop(self, timeout=15.0):
        """Asks the client to deregister everything and exit; returns its exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                self.send("quit")
            except (BrokenPipeError, OSError):
                pass
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode
        self.proc = None
        return rc

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
