# SPDX-License-Identifier: Apache-2.0
"""Information reporting configured from the gateway's config file, end to end: Debian's mosquitto
on a free loopback port, the test LwM2M server (libcoap3) and `lwm2m-gateway run` with MQTT-bound
devices. `send: {on_change: true}` turns a published value into a Send carrying it in SenML;
`send: {period: 1s}` sends every second; notifications are NON by default and CON with
`lwm2m.notifications.con: true`; with `lwm2m.store.enabled: true` (queue in a state_dir the gateway
creates) values published while the server is unreachable for ~5 s all arrive after it comes back,
in order, each with the time it was taken. Run C does Send and store-and-forward in
`lwm2m.mode: gateway`: the Sends of hosted devices go out on the gateway's one registration with
prefixed SenML names (`/ga/3303/0/5700`), and values taken during an outage arrive afterwards, in
order; an Observe-Composite over two hosted devices is queued in the gateway endpoint's own file
during an outage and its notifications arrive afterwards, in order, with both devices' prefixed
values and their times. A SIGHUP reload that deletes a device during an outage deletes its queue
file, while another device's file stays and is delivered, in both modes. Prints `N passed, M
failed`."""
import json
import os
import shutil
import subprocess
import tempfile
import time

import harness
from gw_fixtures import GatewayProc, registers
from lwm2m_server import CT_SENML_JSON, LwM2MServer, senml_records
from test_mqtt import Broker, Publisher

GW_ID = "gw-rep"
TEMP = "/3303/0/5700"
S = {}

PROFILE = """\
profiles:
  th:
    3303: {{ 0: {{ 5700: {{ topic: "sensors/{{device}}/state", json: /temperature }}, 5701: Cel }} }}
"""

# Run A: defaults for notifications and store; one device sends on change, one every second.
CONFIG_A = """\
gateway: {{ id: {gw}, log_level: debug }}
lwm2m:
  lifetime: 120
  servers: [ {{ uri: 'coap://127.0.0.1:{srv}' }} ]
adapters:
  - {{ name: broker, type: mqtt, host: 127.0.0.1, port: {mq}, qos: 1 }}
""" + PROFILE + """\
devices:
  - {{ name: chg, adapter: broker, profile: th, send: {{ paths: [{temp}], on_change: true }} }}
  - {{ name: per, adapter: broker, profile: th,
      send: {{ paths: [{temp}, /3303/0/5701], on_change: false, period: 1s, format: senml-json }} }}
"""

# Run B: CON notifications and store-and-forward, the queue in a state_dir that does not exist yet.
CONFIG_B = """\
gateway: {{ id: {gw}, state_dir: state/queue, log_level: debug }}
lwm2m:
  lifetime: 120
  servers: [ {{ uri: 'coap://127.0.0.1:{srv}' }} ]
  notifications: {{ con: true }}
  store: {{ enabled: true, max_entries: 100 }}
adapters:
  - {{ name: broker, type: mqtt, host: 127.0.0.1, port: {mq}, qos: 1 }}
""" + PROFILE + """\
    send: {{ paths: [{temp}] }}
devices:
  - {{ name: sf, adapter: broker, profile: th }}
  - {{ name: cn, adapter: broker, profile: th, send: {{ paths: [{temp}], on_change: false,
      period: 1h }} }}
"""

# Run C: gateway mode (one registration, /25), store-and-forward on, Send on change of one device.
CONFIG_C = """\
gateway: {{ id: {gw}, state_dir: state/gwq, log_level: debug }}
lwm2m:
  mode: gateway
  lifetime: 120
  servers: [ {{ uri: 'coap://127.0.0.1:{srv}' }} ]
  store: {{ enabled: true }}
adapters:
  - {{ name: broker, type: mqtt, host: 127.0.0.1, port: {mq}, qos: 1 }}
""" + PROFILE + """\
devices:
  - {{ name: ga, adapter: broker, profile: th, send: {{ paths: [{temp}], format: senml-json }} }}
  - {{ name: gb, adapter: broker, profile: th }}
  - {{ name: gc, adapter: broker, profile: th, send: {{ paths: [{temp}], format: senml-json }} }}
"""
GW_EP = "urn:dev:%s" % GW_ID


def ep(name):
    return "urn:dev:%s:%s" % (GW_ID, name)


def timed_values(ev, path=TEMP):
    """[(value, t)] of path in a decoded SenML payload (t resolved against bt)."""
    out, bt, bn = [], 0, ""
    for r in senml_records(ev.decoded):
        bt = r.get("bt", bt)
        bn = r.get("bn", bn)
        if (bn + r.get("n", "")).endswith(path) and "v" in r:
            out.append((r["v"], bt + r.get("t", 0)))
    return out


def publish(name, value):
    S["pub"].publish_many([("sensors/%s/state" % name, json.dumps({"temperature": value}).encode())],
                          qos=1)
    return time.time()


def config(template):
    return template.format(gw=GW_ID, srv=S["srv"].port, mq=S["mq"], temp=TEMP)


def start_gateway(template, names, endpoints=None):
    """Writes the config into S["dir"] (where its state_dir resolves, and stays after the run),
    starts the gateway and waits until every endpoint is registered and the broker connection is
    up (subscribed)."""
    S["gw"] = GatewayProc(config(template), workdir=S["dir"])
    S["srv"].wait_registrations(endpoints or [ep(n) for n in names], timeout=10)
    S["gw"].wait_log("adapter broker up", timeout=10)


def sends_with(name, pred, timeout, endpoint=None):
    """Send events of name (or of endpoint) until one satisfies pred; returns it."""
    deadline = time.monotonic() + timeout
    while True:
        s = S["srv"].wait_send(endpoint or ep(name),
                               timeout=max(0.1, deadline - time.monotonic()))
        if pred(s):
            return s


# ---- tests -----------------------------------------------------------------------------------


def test_start():
    S["dir"] = tempfile.mkdtemp(prefix="gw-report-")
    S["cfg"] = os.path.join(S["dir"], "gw.yaml")
    S["broker"] = Broker()
    S["mq"] = S["broker"].port
    S["srv"] = LwM2MServer().start()
    S["pub"] = Publisher(S["mq"], client_id="gw-report-test")
    start_gateway(CONFIG_A, ["chg", "per"])


def test_send_on_change():
    t = publish("chg", 21.5)
    s = sends_with("chg", lambda s: [v for v, _ in timed_values(s)] == [21.5], timeout=5)
    assert s.code == "2.04" and s.ct == 112, s  # senml-cbor, the default
    assert abs(timed_values(s)[0][1] - t) < 1.5, (s, t)
    publish("chg", 22.25)
    sends_with("chg", lambda s: [v for v, _ in timed_values(s)] == [22.25], timeout=5)


def test_send_periodic():
    publish("per", 19)
    sends_with("per", lambda s: [v for v, _ in timed_values(s)] == [19], timeout=5)
    start = time.monotonic()
    got = [S["srv"].wait_send(ep("per"), timeout=3) for _ in range(3)]
    took = time.monotonic() - start
    assert 1.5 <= took <= 4.5, took  # three more, about a second apart
    for s in got:
        assert s.ct == CT_SENML_JSON and [v for v, _ in timed_values(s)] == [19], s
        assert any(r.get("vs") == "Cel" for r in senml_records(s.decoded)), s.decoded


def test_notifications_non_by_default():
    obs = S["srv"].observe(ep("chg"), TEMP, accept=CT_SENML_JSON)
    assert obs.ok, obs
    publish("chg", 23)
    n = S["srv"].wait_notify(token=obs.token, timeout=5)
    assert n.raw["type"] == "NON", n.raw
    S["gw"].stop()


def test_check_prints_reporting():
    with open(S["cfg"], "w", encoding="utf-8") as f:
        f.write(config(CONFIG_B))
    r = subprocess.run([harness.binary("bridge", "lwm2m-gateway"), "check", "-c", S["cfg"]],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert "notifications: CON" in lines, r.stdout
    assert any(l.startswith("store: on (Notification Storing), at most 100 entries and 262144 "
                            "bytes") and l.endswith("state/queue") for l in lines), r.stdout
    assert "  send %s on change, senml-cbor" % TEMP in lines, r.stdout  # from the profile
    assert "  send %s every 1h, senml-cbor" % TEMP in lines, r.stdout


def test_con_notifications():
    start_gateway(CONFIG_B, ["sf", "cn"])
    assert os.path.isdir(os.path.join(S["dir"], "state", "queue")), "state_dir not created"
    publish("cn", 29)  # a value first: observing a resource without one answers 5.03
    harness.wait_for(lambda: S["srv"].read(ep("cn"), TEMP, accept=CT_SENML_JSON).ok, timeout=5,
                     what="first value of cn")
    obs = S["srv"].observe(ep("cn"), TEMP, accept=CT_SENML_JSON)
    assert obs.ok, obs
    publish("cn", 30)
    n = S["srv"].wait_notify(token=obs.token, timeout=5)
    assert n.raw["type"] == "CON", n.raw
    assert [v for v, _ in timed_values(n)] == [30], n


def outage_sends(device, values, queue_dir, next_values):
    """Pauses the server for about 5 s while device publishes values a second apart; checks the
    queue reaches disk in state/queue_dir (a plain CON Send would only live in memory), then
    that next_values() (the values of the next Send) delivers them all, in order, each with the
    time it was taken, not the time of delivery."""
    S["srv"].pause()
    start = time.monotonic()
    sent = []
    for v in values:
        time.sleep(1.0)
        sent.append((v, publish(device, v)))
    qdir = os.path.join(S["dir"], "state", queue_dir)
    harness.wait_for(lambda: any(os.path.getsize(os.path.join(qdir, f)) > 0
                                 for f in os.listdir(qdir)), timeout=3, what="queue file")
    time.sleep(max(0.0, 5.0 - (time.monotonic() - start)))
    S["srv"].resume()
    got = []
    deadline = time.monotonic() + 25
    while len(got) < len(sent) and time.monotonic() < deadline:
        try:
            got += next_values()
        except TimeoutError:
            pass
    assert [v for v, _ in got] == [v for v, _ in sent], (got, sent)
    for (v, t), (_, want) in zip(got, sent):
        assert abs(t - want) < 1.5, (v, t, want)


def test_store_and_forward_outage():
    publish("sf", 20)  # online: through the queue, delivered at once
    sends_with("sf", lambda s: [v for v, _ in timed_values(s)] == [20], timeout=5)
    outage_sends("sf", (21, 22.5, 24), "queue",
                 lambda: timed_values(S["srv"].wait_send(ep("sf"), timeout=1)))


def queue_files(qdir, marker):
    return [f for f in os.listdir(qdir) if marker in f and f.endswith(".sfq")]


def without_device(cfg, name):
    """cfg without the devices[] item of name (and its continuation lines)."""
    out, skipping = [], False
    for ln in cfg.splitlines():
        if ln.startswith("  - ") or not ln.startswith("  "):
            skipping = ln.startswith("  - {{ name: %s,".replace("{{", "{") % name)
        if not skipping:
            out.append(ln)
    return "\n".join(out) + "\n"


def reload_without(template, name, qdir, keep_marker, drop_marker):
    """While the server is away: both devices' queue files exist; a SIGHUP with a config that
    deletes device name deletes its file (logged) and leaves the other one."""
    harness.wait_for(lambda: queue_files(qdir, keep_marker) and queue_files(qdir, drop_marker),
                     timeout=5, what="both queue files")
    cfg = config(template)
    new = without_device(cfg, name)
    assert len(new) < len(cfg) and "name: %s," % name not in new, new
    S["gw"].reload(new)
    S["gw"].wait_log("reload done: ", timeout=5)
    log = S["gw"].log()
    assert " kept, 1 removed or changed, 0 added" in log, log[-2000:]
    assert "removed for good: its store-and-forward queue is deleted" in log, log[-2000:]
    assert not queue_files(qdir, drop_marker), os.listdir(qdir)
    assert queue_files(qdir, keep_marker), os.listdir(qdir)


def test_reload_deleting_device_deletes_its_queue():
    # endpoint-per-device: one file per endpoint and server ("urn%3Adev%3Agw-rep%3Acn.1.sfq")
    qdir = os.path.join(S["dir"], "state", "queue")
    S["srv"].pause()
    publish("sf", 50)
    publish("cn", 51)  # queued as a notification of its observation (test_con_notifications)
    reload_without(CONFIG_B, "cn", qdir, "%3Asf.", "%3Acn.")
    S["srv"].resume()
    sends_with("sf", lambda s: 50 in [v for v, _ in timed_values(s)], timeout=20)
    S["gw"].stop()
    assert not queue_files(qdir, "%3Acn."), os.listdir(qdir)  # not written again at exit


def gw_values(ev, name):
    """[(value, t)] of /name/3303/0/5700 in a Send of the gateway endpoint."""
    return timed_values(ev, "/%s%s" % (name, TEMP))


def test_gateway_mode_send_is_prefixed():
    start_gateway(CONFIG_C, [], endpoints=[GW_EP])
    assert os.path.isdir(os.path.join(S["dir"], "state", "gwq")), "state_dir not created"
    t = publish("ga", 17.5)
    s = sends_with("ga", lambda s: [v for v, _ in gw_values(s, "ga")] == [17.5], timeout=5,
                   endpoint=GW_EP)
    assert s.code == "2.04" and s.ct == CT_SENML_JSON, s
    names = [(r.get("bn", "") + r.get("n", "")) for r in senml_records(s.decoded)]
    assert names and all(n.startswith("/ga/") for n in names if n), names
    assert abs(gw_values(s, "ga")[0][1] - t) < 1.5, (s, t)
    publish("gb", 5)  # no send rule: nothing for gb
    publish("ga", 18)
    s = sends_with("ga", lambda s: [v for v, _ in gw_values(s, "ga")] == [18], timeout=5,
                   endpoint=GW_EP)
    assert not [e for e in S["srv"].events("send") if "/gb/" in json.dumps(e.get("decoded"))]


def test_gateway_mode_store_and_forward_outage():
    outage_sends("ga", (31, 32.5, 34), "gwq",
                 lambda: gw_values(S["srv"].wait_send(GW_EP, timeout=1), "ga"))
    assert len(registers(S["srv"], GW_EP)) == 1


def notifies_until(token, pred, timeout):
    """Notifications of token, in arrival order, until pred holds for the list."""
    got, deadline = [], time.monotonic() + timeout
    while not pred(got) and time.monotonic() < deadline:
        try:
            got.append(S["srv"].wait_notify(token=token, timeout=1))
        except TimeoutError:
            pass
    return got


def test_gateway_mode_observe_composite_outage():
    # An Observe-Composite over two devices lives on the gateway's endpoint; during an outage its
    # notifications wait in the gateway endpoint's own queue file ("urn%3Adev%3Agw-rep.1.sfq")
    # and arrive afterwards in order, each device's value under its prefix with its time.
    publish("gb", 40)
    harness.wait_for(lambda: S["srv"].read(GW_EP, "/gb" + TEMP, accept=CT_SENML_JSON).ok,
                     timeout=5, what="first value of gb")
    obs = S["srv"].observe_composite(GW_EP, ["/ga" + TEMP, "/gb" + TEMP])
    assert obs.code == "2.05", obs
    qdir = os.path.join(S["dir"], "state", "gwq")
    host_file = os.path.join(qdir, "urn%%3Adev%%3A%s.1.sfq" % GW_ID)
    S["srv"].pause()
    start = time.monotonic()
    time.sleep(1.0)
    t1 = publish("ga", 41)
    time.sleep(1.0)
    t2 = publish("gb", 42)
    harness.wait_for(lambda: os.path.exists(host_file) and os.path.getsize(host_file) > 0,
                     timeout=3, what="the gateway endpoint's queue file")
    time.sleep(max(0.0, 5.0 - (time.monotonic() - start)))
    S["srv"].resume()

    def both(ev):
        return gw_values(ev, "ga"), gw_values(ev, "gb")

    got = notifies_until(obs.token, lambda g: any(both(n)[1][:1] and both(n)[1][0][0] == 42
                                                  for n in g), timeout=25)
    seq = [(both(n)[0][0][0], both(n)[1][0][0]) for n in got if all(both(n))]
    assert (41, 40) in seq and (41, 42) in seq, seq
    assert seq.index((41, 40)) < seq.index((41, 42)), seq  # in order
    for n in got:
        (ga, ta), (gb, tb) = both(n)[0][0], both(n)[1][0]
        want = t1 if (ga, gb) == (41, 40) else t2 if (ga, gb) == (41, 42) else None
        if want is not None:
            assert abs(ta - want) < 1.5 and abs(tb - want) < 1.5, (n.decoded, want)
    assert len(registers(S["srv"], GW_EP)) == 1
    assert S["srv"].cancel_observe(obs.token).code == "2.05"


def test_gateway_mode_reload_deleting_device_deletes_its_queue():
    # one file per hosted device and server: "<gateway endpoint>/<prefix>"
    # ("urn%3Adev%3Agw-rep%2Fgc.1.sfq")
    qdir = os.path.join(S["dir"], "state", "gwq")
    S["srv"].pause()
    publish("ga", 60)
    publish("gc", 61)
    reload_without(CONFIG_C, "gc", qdir, "%2Fga.", "%2Fgc.")
    S["srv"].resume()
    sends_with("ga", lambda s: 60 in [v for v, _ in gw_values(s, "ga")], timeout=20,
               endpoint=GW_EP)
    time.sleep(0.5)
    assert not [e for e in S["srv"].events("send") if "/gc/" in json.dumps(e.get("decoded"))]
    S["gw"].stop()
    assert not queue_files(qdir, "%2Fgc."), os.listdir(qdir)


def test_cleanup():
    if S.get("gw"):
        S["gw"].close()
    if S.get("pub"):
        S["pub"].close()
    if S.get("srv"):
        S["srv"].stop()
    if S.get("broker"):
        S["broker"].close()
    shutil.rmtree(S.get("dir", ""), ignore_errors=True)


if __name__ == "__main__":
    harness.run([test_start, test_send_on_change, test_send_periodic,
                 test_notifications_non_by_default, test_check_prints_reporting,
                 test_con_notifications, test_store_and_forward_outage,
                 test_reload_deleting_device_deletes_its_queue,
                 test_gateway_mode_send_is_prefixed, test_gateway_mode_store_and_forward_outage,
                 test_gateway_mode_observe_composite_outage,
                 test_gateway_mode_reload_deleting_device_deletes_its_queue, test_cleanup])
