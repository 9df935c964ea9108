# SPDX-License-Identifier: Apache-2.0
"""Debian's dnsmasq as a name server on a free loopback port, answering from a hosts file the test
rewrites (set_hosts re-reads it through SIGHUP), and a minimal DNS A query to check what it
answers. Names under .test are local: an unknown one is NXDOMAIN. Not a test itself."""
import grp
import os
import pwd
import random
import shutil
import signal
import socket
import struct
import subprocess
import tempfile

import harness

DNSMASQ = "/usr/sbin/dnsmasq"


def query_a(port, name, timeout=2.0):
    """The IPv4 addresses the server on 127.0.0.1:port gives for name ([] for none)."""
    qid = random.randrange(65536)
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    q += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    q += struct.pack(">HH", 1, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(q, ("127.0.0.1", port))
        data, _ = s.recvfrom(2048)
    rid, flags, qd, an = struct.unpack(">HHHH", data[:8])
    assert rid == qid, (rid, qid)
    if flags & 0x000F:
        return []  # NXDOMAIN, REFUSED, ...
    i = 12
    for _ in range(qd):  # skip the question
        while data[i] != 0:
            i += 1 + data[i]
        i += 5
    out = []
    for _ in range(an):
        if data[i] & 0xC0 == 0xC0:
            i += 2
        else:
            while data[i] != 0:
                i += 1 + data[i]
            i += 1
        rtype, _, _, rdlen = struct.unpack(">HHIH", data[i:i + 10])
        i += 10
        if rtype == 1 and rdlen == 4:
            out.append(socket.inet_ntoa(data[i:i + 4]))
        i += rdlen
    return out


class Dnsmasq:
    """dnsmasq on 127.0.0.1:port (a free one by default) serving hosts ({name: ip})."""

    def __init__(self, hosts, port=None):
        self.dir = tempfile.mkdtemp(prefix="gw-dns-")
        os.chmod(self.dir, 0o755)
        self.hosts_path = os.path.join(self.dir, "hosts")
        self.port = port or harness.free_udp_port()
        self._write(hosts)
        self.log_path = os.path.join(self.dir, "dnsmasq.log")
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [DNSMASQ, "--keep-in-foreground", "--conf-file=/dev/null", "--port=%d" % self.port,
             "--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv", "--no-hosts",
             "--addn-hosts=" + self.hosts_path, "--local=/test/", "--pid-file=",
             "--user=" + pwd.getpwuid(os.getuid()).pw_name,
             "--group=" + grp.getgrgid(os.getgid()).gr_name, "--log-queries", "--log-facility=-",
             "--cache-size=0"],
            stdout=self._log, stderr=subprocess.STDOUT)
        harness.wait_for(self._answers, timeout=10, what="dnsmasq answering")

    def _answers(self):
        assert self.proc.poll() is None, "dnsmasq exited:\n" + self.log()
        try:
            query_a(self.port, "probe.test", timeout=0.5)
            return True
        except OSError:
            return False

    def _write(self, hosts):
        with open(self.hosts_path + ".tmp", "w", encoding="ascii") as f:
            for name, ip in hosts.items():
                f.write("%s %s\n" % (ip, name))
        os.chmod(self.hosts_path + ".tmp", 0o644)
        os.replace(self.hosts_path + ".tmp", self.hosts_path)

    def set_hosts(self, hosts, gone=()):
        """New answers: rewrites the hosts file, SIGHUP, and waits until dnsmasq gives them (and
        no address for the names in gone)."""
        self._write(hosts)
        self.proc.send_signal(signal.SIGHUP)
        for name, ip in hosts.items():
            harness.wait_for(lambda n=name, a=ip: query_a(self.port, n) == [a], timeout=5,
                             what="dnsmasq answering %s for %s" % (ip, name))
        for name in gone:
            harness.wait_for(lambda n=name: query_a(self.port, n) == [], timeout=5,
                             what="dnsmasq knowing %s no more" % name)

    def log(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
