# SPDX-License-Identifier: Apache-2.0
"""`lwm2m-gateway run` with an MQTT adapter, end to end: Debian's mosquitto on a free loopback port,
the test LwM2M server (libcoap3) and the gateway. A discovery rule turns each of 1,000 devices seen
on sensors/{device}/state into its own endpoint (own port); a published value reaches the server
as a Notify and a Read returns it; a server Write or Execute is published on the command topic
(seen by mosquitto_sub) and answered 2.04 after the broker's PUBACK (QoS 1); a malformed payload
keeps the old value readable until stale_after, then Reads answer 5.03 until a good payload
arrives, and the gateway stays up; an empty retained message deregisters that device's endpoint
(and a new message brings it back), and so does "offline" on its availability topic ("online"
brings it back); SIGHUP keeps discovered endpoints, or rediscovers them when the rule changed;
/metrics counts MQTT traffic. Prints `N passed, M failed`."""
import json
import os
import re
import subprocess
import time

import harness
from gw_fixtures import GatewayProc, http_get, metrics, registers, wait_notify_until
from lwm2m_server import CT_TEXT, LwM2MServer
from mb_common import free_tcp_port
from test_mqtt import MOSQUITTO_SUB, Broker, Publisher

GW_ID = "gw-mq"
N = 1000       # discovered devices, each its own endpoint (M6: discovery of 1,000)
STALE_S = 2    # devices[].stale_after of the discovery rule
S = {}


def ep(name):
    return "urn:dev:%s:%s" % (GW_ID, name)


def dev(i):
    return "th-%03d" % i


CONFIG = """\
gateway: {{ id: {gw}, http: '127.0.0.1:{http}', log_level: info }}
lwm2m:
  lifetime: 120
  servers: [ {{ uri: 'coap://127.0.0.1:{srv}' }} ]
adapters:
  - {{ name: broker, type: mqtt, host: 127.0.0.1, port: {mq}, qos: 1, keepalive: 10 }}
profiles:
  th:
    3: {{ 0: {{ 0: SensorCo, 1: TH-1 }} }}
    3303:
      0: {{ 5700: {{ topic: "sensors/{{device}}/state", json: /temperature }}, 5701: Cel }}
    3311:
      0:
        5850:
          topic: "sensors/{{device}}/state"
          json: /on
          write: {{ topic: "sensors/{{device}}/set", json: /on, qos: 1 }}
  plug:
    3306: {{ 0: {{ 5850: {{ topic: "plugs/{{device}}/relay", qos: 2,
                         write: {{ topic: "plugs/{{device}}/relay/set", qos: 1 }} }} }} }}
    3331: {{ 0: {{ 5822: {{ write: {{ topic: "plugs/{{device}}/reset", qos: 1 }} }} }} }}
devices:
  - {{ adapter: broker, profile: th, discover: "sensors/{{device}}/state", max_devices: 1100,
      availability: "sensors/{{device}}/availability", stale_after: {stale}s }}
  - {{ name: plug-1, adapter: broker, profile: plug }}
"""


def http(path):
    return http_get(S["http"], path)


def config(max_devices=1100):
    return CONFIG.format(gw=GW_ID, http=S["http"], srv=S["srv"].port, mq=S["mq"],
                         stale=STALE_S).replace("max_devices: 1100",
                                                "max_devices: %d" % max_devices)


def publish(topic, payload, retain=False):
    S["pub"].publish_many([(topic, payload)], qos=1, retain=retain)


def text_read(name, path):
    return S["srv"].read(ep(name), path, accept=CT_TEXT)


class Sub:
    """mosquitto_sub -C 1 -W 5 on one topic, started before the action that publishes."""

    def __init__(self, topic):
        self.proc = subprocess.Popen([MOSQUITTO_SUB, "-h", "127.0.0.1", "-p", str(S["mq"]),
                                      "-t", topic, "-C", "1", "-W", "5", "-q", "1", "-v"],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(0.3)  # let it subscribe: the command is not retained

    def result(self):
        out, err = self.proc.communicate(timeout=10)
        assert self.proc.returncode == 0, (self.proc.returncode, err)
        return out.strip()


# ---- tests -----------------------------------------------------------------------------------


def test_start():
    S["http"] = free_tcp_port()
    S["broker"] = Broker()
    S["mq"] = S["broker"].port
    S["srv"] = LwM2MServer().start()
    S["pub"] = Publisher(S["mq"], client_id="gw-mqtt-test")
    # Retained before the gateway starts: discovery also works from the broker's retained state.
    S["pub"].publish_many([("sensors/%s/state" % dev(i),
                            json.dumps({"temperature": 20 + i / 10, "on": True}).encode())
                           for i in range(N // 2)], qos=1, retain=True)
    S["gw"] = GatewayProc(config(), prefix="gw-mqtt-")


def test_discovery_registers_each_device():
    S["gw"].wait_log("adapter broker up", timeout=10)
    # ... and the other half while it runs.
    S["pub"].publish_many([("sensors/%s/state" % dev(i),
                            json.dumps({"temperature": 20 + i / 10, "on": True}).encode())
                           for i in range(N // 2, N)], qos=1, retain=True)
    regs = S["srv"].wait_registrations([ep(dev(i)) for i in range(N)] + [ep("plug-1")],
                                       timeout=30)
    ports = {r.port for r in regs.values()}
    assert len(ports) == N + 1, "each endpoint has its own socket: %d ports" % len(ports)
    r = regs[ep(dev(7))]
    assert "/3303/0" in r.objects and "/3311/0" in r.objects, r.objects
    assert "/3306/0" in regs[ep("plug-1")].objects, regs[ep("plug-1")].objects
    m = metrics(S["http"])
    assert m['lwm2m_gateway_mqtt_discovered_total{adapter="broker"}'] == N, m
    assert m['lwm2m_gateway_endpoints{state="registered"}'] == N + 1, m
    harness.wait_for(lambda: http("/readyz")[0] == 200, timeout=5, what="/readyz 200")
    # Subscription QoS: the adapter's (1) for the discover filter, the binding's own (2) for
    # plug-1's relay topic, as the broker logged each SUBSCRIBE ("<client> <qos> <filter>").
    with open(os.path.join(S["broker"].dir, "broker.log"), encoding="utf-8",
              errors="replace") as f:
        subs = re.findall(r"^\d+: \S+ (\d) (\S+)$", f.read(), re.M)
    assert ("1", "sensors/+/state") in subs, subs
    assert ("2", "plugs/plug-1/relay") in subs, subs


def test_read_and_notify():
    r = text_read(dev(7), "/3303/0/5700")
    assert r.code == "2.05" and abs(float(r.text) - 20.7) < 1e-9, r
    assert text_read(dev(7), "/3311/0/5850").text == "1"
    assert text_read(dev(7), "/3/0/0").text == "SensorCo"
    assert text_read(dev(7), "/3/0/2").text == dev(7)  # serial: the discovered name
    obs = S["srv"].observe(ep(dev(7)), "/3303/0/5700", accept=CT_TEXT)
    assert obs.code == "2.05", obs
    publish("sensors/%s/state" % dev(7), b'{"temperature": 25.5, "on": true}', retain=True)
    wait_notify_until(S["srv"], obs.token, lambda n: float(n.text) == 25.5, timeout=5)
    assert float(text_read(dev(7), "/3303/0/5700").text) == 25.5
    assert metrics(S["http"])["lwm2m_gateway_notifications_total"] >= 1


def test_write_publishes_command_after_puback():
    sub = Sub("sensors/%s/set" % dev(7))
    w = S["srv"].write(ep(dev(7)), "/3311/0/5850", "0", CT_TEXT)
    got = sub.result()
    assert w.code == "2.04", w
    assert got == 'sensors/%s/set {"on":false}' % dev(7), got
    # A configured device: text payload, and an Execute on a write-only binding.
    sub = Sub("plugs/plug-1/relay/set")
    w = S["srv"].write(ep("plug-1"), "/3306/0/5850", "1", CT_TEXT)
    assert w.code == "2.04", w
    assert sub.result() == "plugs/plug-1/relay/set true"
    sub = Sub("plugs/plug-1/reset")
    x = S["srv"].execute(ep("plug-1"), "/3331/0/5822")
    assert x.code == "2.04", x
    assert sub.result() == "plugs/plug-1/reset true"
    m = metrics(S["http"])
    assert m['lwm2m_gateway_mqtt_commands_total{adapter="broker"}'] == 3, m
    assert m["lwm2m_gateway_bus_write_errors_total"] == 0, m
    assert m["lwm2m_gateway_bus_write_seconds_count"] == 3, m
    # The plug reports its state on the read topic: a Read answers it.
    publish("plugs/plug-1/relay", b"on")
    try:
        harness.wait_for(lambda: text_read("plug-1", "/3306/0/5850").text == "1", timeout=5,
                         what="plug state")
    except TimeoutError:
        raise AssertionError(text_read("plug-1", "/3306/0/5850"))


def test_malformed_payload_keeps_value_then_503():
    name = dev(8)
    before = metrics(S["http"])['lwm2m_gateway_mqtt_payload_errors_total{adapter="broker"}']
    # stale_after counts from the last good value: give it a fresh one first.
    t0 = time.monotonic()
    publish("sensors/%s/state" % name, b'{"temperature": 20.8, "on": true}', retain=True)
    harness.wait_for(lambda: text_read(name, "/3303/0/5700").code == "2.05", timeout=5,
                     what="fresh value")
    publish("sensors/%s/state" % name, b'{"temperature": 2', retain=True)
    harness.wait_for(lambda: metrics(S["http"])[
        'lwm2m_gateway_mqtt_payload_errors_total{adapter="broker"}'] > before, timeout=5,
        what="payload error counted")
    r = text_read(name, "/3303/0/5700")
    if time.monotonic() - t0 < STALE_S - 0.5:  # the old value stays readable for stale_after
        assert r.code == "2.05" and abs(float(r.text) - 20.8) < 1e-9, r
    harness.wait_for(lambda: text_read(name, "/3303/0/5700").code == "5.03", timeout=STALE_S + 5,
                     what="5.03 once the last good value is older than stale_after")
    assert S["gw"].proc.poll() is None and http("/healthz")[0] == 200
    publish("sensors/%s/state" % name, b'{"temperature": 19.5, "on": false}', retain=True)
    harness.wait_for(lambda: text_read(name, "/3303/0/5700").text == "19.5", timeout=5,
                     what="a good payload again")


def test_empty_retained_deregisters():
    name = dev(9)
    publish("sensors/%s/state" % name, b"", retain=True)
    S["srv"].wait_deregistration(ep(name), timeout=10)
    harness.wait_for(lambda: metrics(S["http"])[
        'lwm2m_gateway_mqtt_gone_total{adapter="broker"}'] == 1, timeout=5, what="gone counted")
    devs = {d["device"] for d in json.loads(http("/api/v1/devices")[1])}
    assert name not in devs and dev(10) in devs and len(devs) == N, len(devs)
    assert text_read(dev(10), "/3303/0/5700").code == "2.05"  # the others stay
    # Back again: discovered anew, a new endpoint registers.
    publish("sensors/%s/state" % name, b'{"temperature": 30, "on": true}', retain=True)
    S["srv"].wait_registration(ep(name), timeout=10)
    harness.wait_for(lambda: text_read(name, "/3303/0/5700").text == "30", timeout=5,
                     what="value of the device that came back")


def test_offline_availability_deregisters():
    name = dev(11)
    publish("sensors/%s/availability" % name, b"offline")
    S["srv"].wait_deregistration(ep(name), timeout=10)
    harness.wait_for(lambda: metrics(S["http"])[
        'lwm2m_gateway_mqtt_gone_total{adapter="broker"}'] == 2, timeout=5, what="gone counted")
    devs = {d["device"] for d in json.loads(http("/api/v1/devices")[1])}
    assert name not in devs and dev(12) in devs and len(devs) == N, len(devs)
    # "online" there discovers it again, as a new registration.
    publish("sensors/%s/availability" % name, b"online")
    S["srv"].wait_registration(ep(name), timeout=10)
    publish("sensors/%s/state" % name, b'{"temperature": 31, "on": true}', retain=True)
    harness.wait_for(lambda: text_read(name, "/3303/0/5700").text == "31", timeout=5,
                     what="value of the device that came back")


def test_sighup_keeps_or_rediscovers():
    regs = len(registers(S["srv"], ep(dev(7))))
    S["gw"].reload()  # unchanged: discovered endpoints stay registered
    S["gw"].wait_log("reload done: %d kept, 0 removed" % (N + 1), timeout=5)
    assert len(registers(S["srv"], ep(dev(7)))) == regs
    assert text_read(dev(7), "/3303/0/5700").code == "2.05"
    # A changed rule rebuilds the adapter: its devices deregister and come back from the
    # broker's retained messages.
    S["gw"].reload(config(1200))
    S["srv"].wait_deregistration(ep(dev(7)), timeout=10)
    S["srv"].wait_registration(ep(dev(7)), timeout=10)
    harness.wait_for(lambda: text_read(dev(7), "/3303/0/5700").text == "25.5", timeout=5,
                     what="retained value after rediscovery")
    assert text_read("plug-1", "/3306/0/5850").code in ("2.05", "5.03")


def test_sigterm_deregisters_everything():
    S["gw"].stop(timeout=10)  # exit status 0, no sanitizer report
    for i in range(N):
        S["srv"].wait_deregistration(ep(dev(i)), timeout=2)
    S["srv"].wait_deregistration(ep("plug-1"), timeout=2)


def test_cleanup():
    if S.get("gw"):
        S["gw"].close()
    if S.get("pub"):
        S["pub"].close()
    for key in ("srv",):
        if S.get(key):
            S[key].stop()
    if S.get("broker"):
        S["broker"].close()


if __name__ == "__main__":
    harness.run([test_start, test_discovery_registers_each_device, test_read_and_notify,
                 test_write_publishes_command_after_puback,
                 test_malformed_payload_keeps_value_then_503, test_empty_retained_deregisters,
                 test_offline_availability_deregisters, test_sighup_keeps_or_rediscovers,
                 test_sigterm_deregisters_everything, test_cleanup])
