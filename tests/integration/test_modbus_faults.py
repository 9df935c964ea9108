# SPDX-License-Identifier: Apache-2.0
"""Fault injection for the Modbus adapter with our own libmodbus slave (tests/tools/mb_slow_slave):
a slow unit on one link leaves the other link's poll rate unchanged (measured against a baseline
run); a silent unit costs its link one timeout per back-off period; exception answers mark only
their points and fail writes; a gateway's "target failed" backs the unit off; a peer that goes
silent or keeps closing the connection is reconnected; a write is not held back by a long poll;
every write function code (5, 6, 15, 16) is seen on the wire."""
import time

import harness
from mb_common import MbPoll, SlowSlave, free_tcp_port

WINDOW = 3.0  # seconds of measurement


def two_links(p1, p2, timeout=300):
    return "\n".join([
        "link name=A tcp=127.0.0.1:%d timeout=%d backoff=1000 backoff_max=1000" % (p1, timeout),
        "device name=a1 unit=1 poll=100",
        "point name=p table=holding addr=0 type=uint16",
        "device name=a2 unit=2 poll=100",  # three reads a cycle: gaps > max_gap
        "point name=p table=holding addr=0 type=uint16",
        "point name=q table=holding addr=10 type=uint16",
        "point name=r table=holding addr=20 type=uint16",
        "link name=B tcp=127.0.0.1:%d timeout=%d backoff=1000" % (p2, timeout),
        "device name=b1 unit=1 poll=100",
        "point name=p table=holding addr=0 type=uint16",
    ]) + "\n"


def rate(poll, ref, warmup=1.0):
    time.sleep(warmup)
    t0 = time.monotonic()
    time.sleep(WINDOW)
    return poll.count(ref, since=t0) / WINDOW


def measure(slave_opts):
    p1, p2 = free_tcp_port(), free_tcp_port()
    s1, s2 = SlowSlave(p1, *slave_opts), SlowSlave(p2)
    poll = MbPoll(two_links(p1, p2))
    try:
        rb = rate(poll, "b1.p")
        ra = poll.count("a1.p", since=time.monotonic() - WINDOW) / WINDOW
        stats = s1.stats()
    finally:
        poll.stop()
        s1.stop()
        s2.stop()
    return rb, ra, stats


def test_slow_unit_does_not_slow_other_link():
    base_b, base_a, _ = measure([])
    # Unit 2 answers after 400 ms, past the 300 ms timeout. The slave answers in order, so on
    # link A the late answer arrives while unit 1 waits: the adapter detects the stale answer
    # (transaction id), reconnects and retries, and unit 1 only loses the timeouts.
    slow_b, slow_a, _ = measure(["-s", "2:400"])
    print("  link B poll rate: %.1f/s baseline, %.1f/s with a slow unit on link A "
          "(link A unit 1: %.1f/s -> %.1f/s)" % (base_b, slow_b, base_a, slow_a))
    assert base_b >= 8.0, base_b
    assert abs(slow_b - base_b) <= 0.1 * base_b + 0.4, (base_b, slow_b)
    assert slow_a >= 0.4 * base_a, (base_a, slow_a)


def test_dead_unit_costs_one_timeout_per_backoff():
    p1, p2 = free_tcp_port(), free_tcp_port()
    s1, s2 = SlowSlave(p1, "-S", "2"), SlowSlave(p2)
    poll = MbPoll(two_links(p1, p2, timeout=200))
    try:
        poll.seen(r"^state dev:a2 down")
        before = s1.stats().get((2, 3), 0)
        ra = rate(poll, "a1.p", warmup=0.0)
        after = s1.stats().get((2, 3), 0)
        assert poll.latest("a2.q")[0] == "timeout"
    finally:
        poll.stop()
        s1.stop()
        s2.stop()
    sent = after - before
    # 3 s window, 1 s back-off: 3 or 4 attempts. One per poll would be ~10, one per point ~30.
    print("  requests to the dead unit in %.0f s: %d (poll period 100 ms, 3 reads a cycle, "
          "back-off 1 s); unit 1 on the same link: %.1f polls/s" % (WINDOW, sent, ra))
    assert 2 <= sent <= 5, sent
    assert ra >= 6.0, ra


def test_exception_marks_points_and_writes():
    p1 = free_tcp_port()
    s1 = SlowSlave(p1, "-E", "3:4", "-e", "40")
    poll = MbPoll("\n".join([
        "link name=A tcp=127.0.0.1:%d timeout=300" % p1,
        "device name=bad unit=3 poll=100",
        "point name=p table=holding addr=0 type=uint16 w=1",
        "device name=ok unit=1 poll=100 gap=50",
        "point name=p table=holding addr=0 type=uint16",
        "point name=q table=holding addr=40 type=uint16",  # -e 40: this one alone fails
        "point name=r table=holding addr=42 type=uint16"]) + "\n")
    try:
        got = poll.wait_value("bad.p", lambda v: v[0] == "exception")
        assert got[1] == "4", got
        assert poll.write("bad.p", "1") == ["exception", "4"]
        assert poll.wait_value("ok.q", lambda v: v[0] == "exception")[1] == "2"
        assert poll.wait_value("ok.p")[2] == "0"
        assert poll.wait_value("ok.r")[2] == "42"
        poll.seen(r"^state dev:ok up")
    finally:
        poll.stop()
        s1.stop()


def test_gateway_target_failed_backs_off():
    """A TCP-to-RTU gateway answers 0x0B for a unit behind it that is silent: the unit is down
    and backed off like a timeout, and its points carry exception 11."""
    p1 = free_tcp_port()
    s1 = SlowSlave(p1, "-E", "4:11")
    poll = MbPoll("\n".join([
        "link name=A tcp=127.0.0.1:%d timeout=300 backoff=1000 backoff_max=1000" % p1,
        "device name=gw unit=4 poll=100",
        "point name=p table=holding addr=0 type=uint16",
        "point name=q table=holding addr=50 type=uint16",
        "device name=ok unit=1 poll=100",
        "point name=p table=holding addr=3 type=uint16"]) + "\n")
    try:
        poll.seen(r"^state dev:gw down")
        assert poll.wait_value("gw.q", lambda v: v[0] == "exception")[1] == "11"
        time.sleep(2.0)
        n = s1.stats().get((4, 3), 0)
        assert 2 <= n <= 4, n  # ~2.2 s at one request per 1 s back-off, not 20 polls x 2 reads
        assert poll.latest("ok.p")[2] == "3"
    finally:
        poll.stop()
        s1.stop()


def test_silent_peer_is_reconnected():
    """A TCP peer that stops answering without closing (here: every unit on the link silent)
    is presumed dead after three timeouts in a row and reconnected; each unit keeps its own
    back-off across the reconnect."""
    p1 = free_tcp_port()
    s1 = SlowSlave(p1, "-S", "2")
    poll = MbPoll("\n".join(
        ["link name=A tcp=127.0.0.1:%d timeout=150 backoff=500 backoff_max=500" % p1]
        + ["device name=d%d unit=2 poll=100\npoint name=p table=holding addr=%d type=uint16"
           % (i, i) for i in range(3)]) + "\n")
    try:
        poll.seen(r"^state link:A down A: Connection timed out", timeout=5)
        poll.seen(r"^state link:A up", since=poll.seen_time(r"^state link:A down"), timeout=5)
        time.sleep(1.5)
        poll.send("stats")
        m = poll.expect(r"^stats link:A .*timeouts=(\d+).*reconnects=(\d+)")
        # ~2.5 s: each of the 3 units at most once per 500 ms back-off (plus the link's own)
        assert int(m.group(2)) >= 2 and int(m.group(1)) <= 18, m.group(0)
    finally:
        poll.stop()
        s1.stop()


def test_connection_closed_by_slave():
    p1 = free_tcp_port()
    s1 = SlowSlave(p1, "-d", "7")  # closes every connection after 7 requests
    poll = MbPoll("\n".join([
        "link name=A tcp=127.0.0.1:%d timeout=300 backoff=100 backoff_max=200" % p1,
        "device name=d unit=1 poll=50",
        "point name=p table=holding addr=5 type=uint16"]) + "\n")
    try:
        time.sleep(2.0)
        poll.send("stats")
        m = poll.expect(r"^stats link:A .*reconnects=(\d+)")
        assert int(m.group(1)) >= 3, m.group(0)
        assert poll.count("d.p") >= 10
        assert poll.count("d.p", quality="disconnected") >= 1
        poll.seen(r"^state link:A down")
    finally:
        poll.stop()
        s1.stop()


def test_write_not_held_back_by_long_poll():
    """A write issued while a long poll runs (5 reads of 200 ms each: a slow unit) is done
    between two reads of that poll, not after the whole poll."""
    p1 = free_tcp_port()
    s1 = SlowSlave(p1, "-s", "1:200")
    poll = MbPoll("\n".join(
        ["link name=A tcp=127.0.0.1:%d timeout=500" % p1, "device name=d unit=1 poll=10000"]
        + ["point name=p%d table=holding addr=%d type=uint16 w=1" % (i, 100 * i)
           for i in range(5)]) + "\n")
    try:
        time.sleep(0.3)  # the first poll started at once and takes ~1 s
        t0 = time.monotonic()
        assert poll.write("d.p0", "5") == ["ok", "0"]
        latency = time.monotonic() - t0
        print("  write latency during a 1 s poll: %.0f ms" % (latency * 1000))
        assert latency < 0.6, latency  # one read in progress + the write; not the whole poll
        assert s1.stats().get((1, 6), 0) == 1
    finally:
        poll.stop()
        s1.stop()


def test_write_function_codes_on_the_wire():
    p1 = free_tcp_port()
    s1 = SlowSlave(p1, "-S", "9")
    poll = MbPoll("\n".join([
        "link name=A tcp=127.0.0.1:%d timeout=300" % p1,
        "device name=w unit=1 poll=60000",
        "point name=co table=coil addr=5 type=bool w=1",
        "point name=u16 table=holding addr=100 type=uint16 w=1",
        "point name=f32 table=holding addr=102 type=float32 w=1",
        "device name=wf unit=1 poll=60000 force=1",
        "point name=co table=coil addr=6 type=bool w=1",
        "point name=u16 table=holding addr=104 type=uint16 w=1",
        "device name=dead unit=9 poll=60000",
        "point name=u16 table=holding addr=1 type=uint16 w=1"]) + "\n")
    try:
        poll.seen(r"^state link:A up")
        before = s1.stats()
        for ref, val in (("w.co", "true"), ("w.u16", "5"), ("w.f32", "1.5"), ("wf.co", "true"),
                         ("wf.u16", "6")):
            assert poll.write(ref, val) == ["ok", "0"], ref
        assert poll.write("dead.u16", "1") == ["timeout", "0"]
        after = s1.stats()
    finally:
        poll.stop()
        s1.stop()
    diff = {fc: after.get((1, fc), 0) - before.get((1, fc), 0) for fc in (5, 6, 15, 16)}
    assert diff == {5: 1, 6: 1, 15: 1, 16: 2}, diff
    assert after.get((9, 6), 0) == 1


if __name__ == "__main__":
    harness.run([test_slow_unit_does_not_slow_other_link,
                 test_dead_unit_costs_one_timeout_per_backoff,
                 test_exception_marks_points_and_writes, test_gateway_target_failed_backs_off,
                 test_silent_peer_is_reconnected, test_connection_closed_by_slave,
                 test_write_not_held_back_by_long_poll,
                 test_write_function_codes_on_the_wire])
