# SPDX-License-Identifier: Apache-2.0
"""Information Reporting of our engine against the test LwM2M server (libcoap3): Observe on a
resource, instance, object and resource instance; cancel by Observe=1, by RST and by
deregistration; the notification attributes (pmin, pmax, gt, lt, st, epmin, epmax, edge, con)
with 1-2 s periods; Observe-Composite and its cancel; CON vs NON; coalescing of several changes
in one loop pass; Send and Mute Send; a queue-mode endpoint waking to notify."""
import time

import harness
from lwm2m_client import Client
from lwm2m_server import CT_SENML_CBOR, CT_SENML_JSON, LwM2MServer, senml_records, senml_values

EP = "urn:dev:test:0"
TEMP = "/3303/0/5700"


def setup(srv, cl):
    srv.wait_registration(EP)
    cl.wait_line(lambda l: l.startswith("event registered"))


def no_notify(srv, token, within=0.6):
    """Fails when a notification for token arrives within the given time."""
    try:
        ev = srv.wait_notify(token=token, timeout=within)
    except TimeoutError:
        return
    raise AssertionError("unexpected notification %r" % ev)


def values_after(srv, token, cl, sets, pause=0.25):
    """Runs each "set PATH V" with a pause and returns the texts notified meanwhile."""
    for s in sets:
        cl.send("set %s %s" % (TEMP, s))
        time.sleep(pause)
    got = []
    while True:
        try:
            got.append(srv.wait_notify(token=token, timeout=0.3).text)
        except TimeoutError:
            return got


def stats(cl, start):
    cl.send("stats")
    line = cl.wait_line(lambda l: l.startswith("stats "), start=start)
    return dict(kv.split("=") for kv in line.split()[1:])


def test_observe_resource_notify_and_cancel_by_get():
    with LwM2MServer() as srv, Client(srv.uri) as cl:
        setup(srv, cl)
        obs = srv.observe(EP, TEMP)
        assert obs.code == "2.05" and obs.observe is not None, obs
        assert float(obs.text) == 21.5, obs
        cl.send("set %s 22.5" % TEMP)
        n = srv.wait_notify(token=obs.token, timeout=3)
        assert n.code == "2.05" and float(n.text) == 22.5 and n.observe > obs.observe, n
        cancel = srv.cancel_observe(obs.token, mode="get")
        assert cancel.code == "2.05" and cancel.observe is None, cancel
        assert float(cancel.text) == 22.5, cancel
        cl.send("set %s 23.5" % TEMP)
        no_notify(srv, obs.token)
        assert stats(cl, len(cl.lines))["observations"] == "0"
        assert cl.stop() == 0, list(cl.stderr)[-20:]


def test_observe_instance_object_and_resource_instance():
    with LwM2MServer() as srv, Client(srv.uri) as cl:
        setup(srv, cl)
        inst = srv.observe(EP, "/3303/0")
        obj = srv.observe(EP, "/3303")
        ri = srv.observe(EP, "/3/0/6/1")
        assert inst.ok and obj.ok and ri.ok, (inst, obj, ri)
        assert ri.text == "5", ri
        cl.send("set %s 30" % TEMP)
        for o, name in ((inst, "/3303/0/5700"), (obj, "/3303/0/5700")):
            n = srv.wait_notify(token=o.token, timeout=3)
            assert senml_values(n.decoded)[name] == 30, n
        no_notify(srv, ri.token, 0.3)  # a change elsewhere does not touch /3/0/6/1
        cl.send("set /3/0/6/1 2")
        assert srv.wait_notify(token=ri.token, timeout=3).text == "2"
        assert cl.stop() == 0, list(cl.stderr)[-20:]


def test_cancel_by_rst():
    with LwM2MServer() as srv, Client(srv.uri) as cl:
        setup(srv, cl)
        obs = srv.observe(EP, TEMP)
        assert srv.cancel_observe(obs.token, mode="rst").raw.get("ok")
        cl.send("set %s 24" % TEMP)
        ev = srv.wait_notify(token=obs.token, timeout=3)  # answered with RST by the server
        assert ev.raw.get("cancelled") == "rst", ev.raw
        harness.wait_for(lambda: stats(cl, len(cl.lines))["observations"] == "0", timeout=5,
                         what="observation ended by RST")
        assert cl.stop() == 0, list(cl.stderr)[-20:]


def test_cancel_by_deregistration():
    with LwM2MServer() as srv, Client(srv.uri) as cl:
        setup(srv, cl)
        assert srv.observe(EP, TEMP).ok and srv.observe(EP, "/3303/0").ok
        assert stats(cl, len(cl.lines))["observations"] == "2"
        assert cl.stop() == 0
        srv.wait_deregistration(EP)
        line = next(l for l in reversed(cl.lines) if l.startswith("stats "))
        assert "observations=0 " in line and "ended=2" in line, line


def test_pmin_pmax():
    with LwM2MServer() as srv, Client(srv.uri) as cl:
        setup(srv, cl)
        assert srv.write_attributes(EP, TEMP, pmin=1, pmax=2).code == "2.04"
        obs = srv.observe(EP, TEMP)
        # pmax forces notifications without any change, about every 2 s
        a = srv.wait_notify(token=obs.token, timeout=4)
        b = srv.wait_notify(token=obs.token, timeout=4)
        assert 1700 <= b.t - a.t <= 2600, (a.t, b.t)
        # pmin gates: a change right after a notification waits until 1 s after it
        cl.send("set %s 40" % TEMP)
        c = srv.wait_notify(token=obs.token, timeout=3)
        assert float(c.text) == 40 and c.t - b.t >= 950, (b.t, c.t)
        assert cl.stop() == 0, list(cl.stderr)[-20:]


def test_gt_lt_crossing():
    with LwM2MServer() as srv, Client(srv.uri) as cl:
        setup(srv, cl)
        assert srv.write_attributes(EP, TEMP, gt=25, lt=10).code == "2.04"
        obs = srv.observe(EP, TEMP)
        got = values_after(srv, obs.token, cl, ["22", "26", "27", "24", "12", "9", "8", "11"])
        assert [float(v) for v in got] == [26, 24, 9, 11], got
        assert cl.stop() == 0, list(cl.stderr)[-20:]


def test_step_from_last_notified():
    with LwM2MServer() as srv, Client(srv.uri) as cl:
        setup(srv, cl)
        assert srv.write_attributes(EP, TEMP, st=2).code == "2.04"
        assert srv.write_attributes(EP, "/3303/0", st=1).code == "4.00"  # numeric resources only
        assert srv.write_attributes(EP, "/3303", pmax=60).code == "2.04"  # inherited, harmless
        obs = srv.observe(EP, TEMP)
        got = values_after(srv, obs.token, cl, ["22.5", "23.4", "23.6", "24.5", "25.7", "24"])
        assert [float(v) for v in got] == [23.6, 25.7], got
        assert cl.stop() == 0, list(cl.stderr)[-20:]


def test_edge_on_boolean():
    with LwM2MServer() as srv, Client(srv.uri) as cl:
        setup(srv, cl)
        path = "/3311/0/5850"
        assert srv.write_attributes(EP, path, edge=1).code == "2.04"
        obs = srv.observe(EP, path)
        assert obs.text == "0", obs
        for v in ("1", "0", "1"):
            cl.send("set %s %s" % (path, v))
            time.sleep(0.25)
        got = [srv.wait_notify(token=obs.token, timeout=2).text for _ in range(2)]
        assert got == ["1", "1"], got
        no_notify(srv, obs.token, 0.3)
        assert cl.stop() == 0, list(cl.stderr)[-20:]


def test_con_and_non():
    with LwM2MServer() as srv, Client(srv.uri) as cl:
        setup(srv, cl)
        obs = srv.observe(EP, TEMP)
        cl.send("set %s 31" % TEMP)
        assert srv.wait_notify(token=obs.token, timeout=3).raw["type"] == "NON"
        assert srv.write_attributes(EP, TEMP, con=1).code == "2.04"
        cl.send("set %s 32" % TEMP)
        assert srv.wait_notify(token=obs.token, timeout=3).raw["type"] == "CON"
        assert cl.stop() == 0, list(cl.stderr)[-20:]
    with LwM2MServer() as srv, Client(srv.uri, extra=["--notify-con"]) as cl:
        setup(srv, cl)
        obs = srv.observe(EP, TEMP)
        cl.send("set %s 33" % TEMP)
        assert srv.wait_notify(token=obs.token, timeout=3).raw["type"] == "CON"
        assert stats(cl, len(cl.lines))["con"] == "1"
        assert cl.stop() == 0, list(cl.stderr)[-20:]


def test_coalescing_one_notification_per_pass():
    with LwM2MServer() as srv, Client(srv.uri) as cl:
        setup(srv, cl)
        obs = srv.observe(EP, TEMP)
        # one write, one read() in the client, one loop pass: three changes, one notification
        cl.send("set %s 50\nset %s 51\nset %s 52" % (TEMP, TEMP, TEMP))
        n = srv.wait_notify(token=obs.token, timeout=3)
        assert float(n.text) == 52, n
        no_notify(srv, obs.token, 0.5)
        assert cl.stop() == 0, list(cl.stderr)[-20:]


def test_observe_composite_and_cancel():
    with LwM2MServer() as srv, Client(srv.uri) as cl:
        setup(srv, cl)
        obs = srv.observe_composite(EP, [TEMP, "/3311/0/5850"], ct=CT_SENML_JSON)
        assert obs.code == "2.05" and obs.observe is not None, obs
        vals = senml_values(obs.decoded)
        assert vals[TEMP] == 21.5 and vals["/3311/0/5850"] is False, vals
        cl.send("set %s 27" % TEMP)
        n = srv.wait_notify(token=obs.token, timeout=3)
        assert n.ct == CT_SENML_JSON and senml_values(n.decoded)[TEMP] == 27, n
        cl.send("set /3303/0/5701 F")  # not in the list: no notification
        no_notify(srv, obs.token, 0.4)
        cancel = srv.cancel_observe(obs.token, mode="get")
        assert cancel.code == "2.05" and cancel.observe is None, cancel
        cl.send("set %s 28" % TEMP)
        no_notify(srv, obs.token, 0.5)
        assert cl.stop() == 0, list(cl.stderr)[-20:]


def test_send_and_mute_send():
    with LwM2MServer() as srv, Client(srv.uri) as cl:
        setup(srv, cl)
        cl.send("send %s /3311/0/5850" % TEMP)
        s = srv.wait_send(EP, timeout=3)
        assert s.code == "2.04" and s.ct == CT_SENML_CBOR, s
        recs = senml_records(s.decoded)
        assert senml_values(s.decoded)[TEMP] == 21.5, s
        assert all(abs(r.get("t", 0) - time.time()) < 60 for r in recs), recs
        assert srv.write(EP, "/1/0/23", "1", 0).code == "2.04"  # Mute Send
        start = len(cl.lines)
        cl.send("send %s" % TEMP)
        line = cl.wait_line(lambda l: l.startswith("send ep="), start=start)
        assert "rc=" in line and "rc=ok" not in line.lower(), line
        try:
            raise AssertionError(srv.wait_send(EP, timeout=0.8))
        except TimeoutError:
            pass
        assert stats(cl, len(cl.lines))["muted"] == "1"
        assert srv.write(EP, "/1/0/23", "0", 0).code == "2.04"
        cl.send("send %s" % TEMP)
        assert srv.wait_send(EP, timeout=3).code == "2.04"
        assert cl.stop() == 0, list(cl.stderr)[-20:]
    with LwM2MServer() as srv, Client(srv.uri, extra=["--send-json"]) as cl:
        setup(srv, cl)
        cl.send("send /3303/0")
        s = srv.wait_send(EP, timeout=3)
        assert s.ct == CT_SENML_JSON and senml_values(s.decoded)[TEMP] == 21.5, s
        assert cl.stop() == 0, list(cl.stderr)[-20:]


def test_epmin_epmax():
    with LwM2MServer() as srv, Client(srv.uri) as cl:
        setup(srv, cl)
        assert srv.write_attributes(EP, TEMP, epmin=1, epmax=2).code == "2.04"
        obs = srv.observe(EP, TEMP)
        t_obs = time.monotonic() * 1000  # the server's event clock
        cl.send("set-quiet %s 35" % TEMP)  # the engine is not told: epmax must find it
        n = srv.wait_notify(token=obs.token, timeout=4)
        assert float(n.text) == 35 and 1600 <= n.t - t_obs <= 2700, (n.t, t_obs, n)
        cl.send("set %s 36" % TEMP)  # marked right after an evaluation: waits for epmin
        m = srv.wait_notify(token=obs.token, timeout=3)
        assert float(m.text) == 36 and m.t - n.t >= 900, (n.t, m.t)
        assert cl.stop() == 0, list(cl.stderr)[-20:]


def test_queue_mode_wakes_to_notify():
    with LwM2MServer() as srv, \
            Client(srv.uri, binding="UQ", version=1, extra=["--queue-idle-ms", "800"]) as cl:
        setup(srv, cl)
        obs = srv.observe(EP, TEMP)
        assert obs.ok, obs
        start = len(cl.lines)
        cl.wait_line(lambda l: l.startswith("event queue-rx-off"), timeout=5, start=start)
        cl.send("set %s 37" % TEMP)  # asleep: an Update first, then the notification
        srv.wait_update(EP, timeout=3)
        n = srv.wait_notify(token=obs.token, timeout=3)
        assert float(n.text) == 37, n
        assert cl.stop() == 0, list(cl.stderr)[-20:]


if __name__ == "__main__":
    harness.run([test_observe_resource_notify_and_cancel_by_get,
                 test_observe_instance_object_and_resource_instance, test_cancel_by_rst,
                 test_cancel_by_deregistration, test_pmin_pmax, test_gt_lt_crossing,
                 test_step_from_last_notified, test_edge_on_boolean, test_con_and_non,
                 test_coalescing_one_notification_per_pass, test_observe_composite_and_cancel,
                 test_send_and_mute_send, test_epmin_epmax, test_queue_mode_wakes_to_notify])
