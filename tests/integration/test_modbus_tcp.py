# SPDX-License-Identifier: Apache-2.0
"""The Modbus adapter over TCP against Debian's pymodbus (an independent slave) on loopback:
every type and order, scaling, writes of each function code, an exception, an absent unit id,
and a peer that drops the connection or goes away and comes back."""
import time

import harness
from mb_common import Bench, PyModbus, check_exception_and_dead_unit, check_types, \
    check_writes, free_tcp_port

PORT = free_tcp_port()
LINK = "link name=plc tcp=127.0.0.1:%d timeout=300 backoff=300 backoff_max=1000" % PORT
STATE = {}


def bench():
    if "b" not in STATE:
        STATE["b"] = Bench(LINK, lambda spec: PyModbus(spec, tcp_port=PORT))
    return STATE["b"]


def test_types_and_orders():
    check_types(bench())


def test_writes_each_function_code():
    check_writes(bench())


def test_exception_and_absent_unit():
    check_exception_and_dead_unit(bench())


def test_peer_drops_connection():
    b = bench()
    t0 = time.monotonic()
    b.server.send("drop")
    assert b.server.expect(r"^dropped (\d+)").group(1) != "0"
    b.poll.seen(r"^state link:plc down", since=t0)
    b.poll.seen(r"^state link:plc up", since=t0, timeout=5)
    t0 = time.monotonic()
    harness.wait_for(lambda: b.poll.count("m.u16_abcd", since=t0) >= 2, timeout=5,
                     what="values after reconnect")


def test_peer_goes_away_and_comes_back():
    b = bench()
    b.server.stop()
    b.poll.wait_value("m.u16_abcd", lambda v: v[0] == "disconnected", timeout=5)
    b.server = PyModbus({"units": {"1": b.spec}}, tcp_port=PORT)
    b.poll.wait_value("m.u16_abcd", timeout=10)
    b.poll.send("stats")
    m = b.poll.expect(r"^stats link:plc .*reconnects=(\d+)")
    assert int(m.group(1)) >= 3, m.group(0)


def test_close():
    STATE.pop("b").close()


if __name__ == "__main__":
    harness.run([test_types_and_orders, test_writes_each_function_code,
                 test_exception_and_absent_unit, test_peer_drops_connection,
                 test_peer_goes_away_and_comes_back, test_close])
