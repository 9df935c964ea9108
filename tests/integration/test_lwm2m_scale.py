# SPDX-License-Identifier: Apache-2.0
"""1,000 endpoints of our engine in one process, each registering with the test LwM2M server from
its own UDP port and each answering a Read of its own serial number."""
import harness
from lwm2m_client import Client
from lwm2m_server import LwM2MServer

N = 1000
PREFIX = "urn:dev:scale:"


def test_thousand_endpoints_register_and_answer():
    with LwM2MServer(timeout=5) as srv, Client(srv.uri, count=N, name=PREFIX) as cl:
        cl.wait_line(lambda l: l == "registered %d/%d" % (N, N), timeout=60)
        regs = [r for r in srv.list()["registrations"] if r["ep"].startswith(PREFIX)]
        assert len(regs) == N, len(regs)
        ports = {r["port"] for r in regs}
        assert len(ports) == N, "endpoints share source ports: %d distinct" % len(ports)
        for i in range(N):
            r = srv.read(PREFIX + str(i), "/3/0/2")
            assert r.code == "2.05" and r.text == "SN-%06d" % i, (i, r)
        assert cl.stop() == 0
        harness.wait_for(lambda: len(srv.events("deregister")) >= N, timeout=30,
                         what="%d deregistrations" % N)


if __name__ == "__main__":
    harness.run([test_thousand_endpoints_register_and_answer])
