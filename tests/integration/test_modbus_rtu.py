# SPDX-License-Identifier: Apache-2.0
"""The Modbus adapter over RTU on a serial line: a socat pty pair, Debian's pymodbus serving RTU
on one end and mb_poll on the other. Same checks as over TCP: every type and order, scaling,
writes of each function code, an exception, a unit id that does not answer; plus a serial port
that disappears and comes back (the error is reported and the port retried)."""
import os
import shutil
import subprocess
import tempfile
import time

import harness
from mb_common import Bench, PyModbus, check_exception_and_dead_unit, check_types, \
    check_writes

TMP = tempfile.mkdtemp(prefix="mbrtu")
DEV_SLAVE = os.path.join(TMP, "slave")
DEV_MASTER = os.path.join(TMP, "master")
LINK = ("link name=line rtu=%s baud=19200 parity=N data=8 stop=1 rs485=1 timeout=300 "
        "backoff=300 backoff_max=1000" % DEV_MASTER)
STATE = {}


def start_socat():
    p = subprocess.Popen(["socat", "-d", "-d", "pty,raw,echo=0,link=" + DEV_SLAVE,
                          "pty,raw,echo=0,link=" + DEV_MASTER],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    harness.wait_for(lambda: os.path.exists(DEV_SLAVE) and os.path.exists(DEV_MASTER),
                     timeout=5, what="socat ptys")
    return p


def stop_socat(p):
    p.terminate()
    p.wait(timeout=5)


def bench():
    if "b" not in STATE:
        STATE["socat"] = start_socat()
        STATE["b"] = Bench(LINK, lambda spec: PyModbus(spec, rtu=DEV_SLAVE))
    return STATE["b"]


def test_types_and_orders():
    check_types(bench())


def test_writes_each_function_code():
    check_writes(bench())


def test_exception_and_absent_unit():
    check_exception_and_dead_unit(bench())


def test_rs485_request_reported():
    # A pty has no RS-485 mode: the adapter says so and carries on.
    bench().poll.seen(r"^state link:line up .*RS-485 mode not set")


def test_serial_port_lost_and_back():
    b = bench()
    t0 = time.monotonic()
    b.server.stop()
    stop_socat(STATE["socat"])
    b.poll.seen(r"^state link:line down", since=t0, timeout=10)
    b.poll.wait_value("m.u16_abcd", lambda v: v[0] == "disconnected", timeout=5)
    STATE["socat"] = start_socat()
    b.server = PyModbus({"units": {"1": b.spec}}, rtu=DEV_SLAVE)
    b.poll.seen(r"^state link:line up", since=t0, timeout=10)
    b.poll.wait_value("m.u16_abcd", timeout=10)


def test_close():
    STATE.pop("b").close()
    stop_socat(STATE.pop("socat"))
    shutil.rmtree(TMP, ignore_errors=True)


if __name__ == "__main__":
    harness.run([test_types_and_orders, test_writes_each_function_code,
                 test_exception_and_absent_unit, test_rs485_request_reported,
                 test_serial_port_lost_and_back, test_close])
