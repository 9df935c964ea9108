# SPDX-License-Identifier: Apache-2.0
"""MQTT 5 persistent sessions against Debian's mosquitto: the adapter (tests/tools/mq_watch) with
protocol 5, clean_session false and a Session Expiry Interval subscribes at QoS 1, goes away
(a clean DISCONNECT, or killed), QoS 1 messages are published meanwhile, and the adapter comes
back with the same client id. With a session expiry the broker kept the session and delivers
them; with session expiry 0 (the same settings otherwise) it did not, so the messages are lost.
That difference is what proves the property is sent in CONNECT (libmosquitto 2.0.11's
non-blocking connect has no documented way to send it: see set_session_expiry in
adapters/mqtt/mq_client.c). The broker keeps running throughout (no persistence needed), except
in the last test: a broker restarted twice under one adapter process shows that every reconnect
sends the property again (a session resumed without it would end with its connection)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from test_mqtt import METER, Broker, Publisher, Watch  # noqa: E402

QUEUED = 50


def watch(broker, client_id, expiry):
    extra = ["--id", client_id, "--persistent", "--v5", "--backoff-min", "200",
             "--backoff-max", "1000"]
    if expiry is not None:
        extra += ["--session-expiry", str(expiry)]
    return Watch(broker.port, *METER, extra=extra)


def away_and_back(expiry, kill=False):
    """Runs the scenario; returns (state line after coming back, seq values seen after it)."""
    broker = Broker()
    client_id = "gw-s5-%s-%s" % (expiry, "kill" if kill else "quit")
    w = watch(broker, client_id, expiry)
    w2 = None
    try:
        w.wait_line(lambda l: l.startswith("state - up"))
        pub = Publisher(broker.port)
        pub.publish_many([("plant/m1/seq", b"0")], qos=1)
        w.wait_line(lambda l: l == "value m1 seq good int 0")
        if kill:
            w.proc.kill()  # no DISCONNECT: the broker sees the connection drop
            w.proc.wait()
        else:
            w.close()  # a normal DISCONNECT (reason 0) at quit
        # The publisher's QoS 1 PUBACKs come after the broker has queued each message for the
        # (possibly) kept session: when publish_many returns, all of them are there or gone.
        pub.publish_many([("plant/m1/seq", b"%d" % i) for i in range(1, QUEUED + 1)], qos=1)
        w2 = watch(broker, client_id, expiry)
        up = w2.wait_line(lambda l: l.startswith("state - up"), timeout=15)
        # A marker published after the reconnect: once it is seen, anything the broker had
        # queued for us has been delivered before it (one session, in order).
        pub.publish_many([("plant/m1/seq", b"9999")], qos=1)
        w2.wait_line(lambda l: l == "value m1 seq good int 9999", timeout=10)
        pub.close()
        seen = [int(l.split()[-1]) for l in w2.lines if l.startswith("value m1 seq")]
        return w2.lines[up], seen
    finally:
        try:
            if w.proc.poll() is None:
                w.close()
            if w2 is not None:
                w2.close()
        finally:
            broker.close()


def check_kept(state, seen):
    assert "session resumed" in state, state
    queued = [v for v in seen if 1 <= v <= QUEUED]
    # QoS 1 is at-least-once, but nothing may be missing or out of order.
    assert queued == sorted(queued) and sorted(set(queued)) == list(range(1, QUEUED + 1)), seen
    assert seen[-1] == 9999, seen


def test_session_expiry_keeps_session():
    check_kept(*away_and_back(3600))


def test_session_expiry_default_after_kill():
    # No --session-expiry: the adapter's default (an hour) applies; the connection just drops.
    check_kept(*away_and_back(None, kill=True))


def test_session_expiry_zero_loses_messages():
    state, seen = away_and_back(0)
    assert "session resumed" not in state, state
    # Without the property the broker ended the session at the DISCONNECT: nothing queued.
    assert seen == [9999], seen


def test_session_expiry_sent_on_every_reconnect():
    # One adapter process, a broker restarted twice (sessions saved to disk): every reconnect
    # must send the property again, or the session resumed after the first restart would end
    # with the connection (MQTT 5 takes the interval of the latest CONNECT) and the messages
    # published during the second outage would be lost.
    broker = Broker(persistent=True)
    w = watch(broker, "gw-s5-restarts", 3600)
    try:
        w.wait_line(lambda l: l.startswith("state - up"))
        up = 0
        for round_ in (1, 2):
            broker.stop()
            down = w.wait_line(lambda l: l.startswith("state - down"), start=up)
            broker.start()
            pub = Publisher(broker.port)
            pub.publish_many([("plant/m1/seq", b"%d" % (round_ * 1000 + i))
                              for i in range(1, 21)], qos=1)
            pub.close()
            up = w.wait_line(lambda l: l.startswith("state - up"), timeout=15, start=down)
            assert "session resumed" in w.lines[up], w.lines[up]
            # (Queued messages may overtake the SUBACKs that "up" waits for: look from "down".)
            w.wait_line(lambda l: l == "value m1 seq good int %d" % (round_ * 1000 + 20),
                        timeout=10, start=down)
    finally:
        try:
            w.close()
        finally:
            broker.close()


if __name__ == "__main__":
    harness.run([
        test_session_expiry_keeps_session,
        test_session_expiry_default_after_kill,
        test_session_expiry_zero_loses_messages,
        test_session_expiry_sent_on_every_reconnect,
    ])
