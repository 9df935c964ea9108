# SPDX-License-Identifier: Apache-2.0
"""The demo: the gateway with config/examples/demo.yaml, and its peers on free loopback ports — a
Modbus TCP energy meter (Debian's pymodbus), mosquitto with temperature sensors publishing on
their topics, and the test LwM2M server (libcoap3). Shows each device registering as its own
endpoint, then values changing on the buses and arriving at the server as notifications, until
Ctrl-C (or --duration seconds)."""
import argparse
import functools
import math
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "integration"))
import harness  # noqa: E402
from lwm2m_server import LwM2MServer  # noqa: E402
from mb_common import PyModbus, free_tcp_port  # noqa: E402
from test_mqtt import Broker  # noqa: E402

CONFIG = os.path.join(HERE, "..", "config", "examples", "demo.yaml")
SENSORS = ["kitchen", "boiler-room"]
GW_ID = "plant1-gw"


def ep(device):
    return "urn:dev:%s:%s" % (GW_ID, device)


def f32_regs(v):
    hi, lo = struct.unpack(">HH", struct.pack(">f", v))
    return [hi, lo]


def publish(port, sensor, temp, hum):
    payload = '{"temperature": %.1f, "humidity": %.0f, "on": false}' % (temp, hum)
    subprocess.run([shutil.which("mosquitto_pub") or "/usr/bin/mosquitto_pub", "-h", "127.0.0.1",
                    "-p", str(port), "-t", "sensors/%s/state" % sensor, "-m", payload, "-r"],
                   check=True, timeout=10)


def start_peers(tmp):
    # Ctrl-C signals the whole foreground process group. The peers go in sessions of their own
    # so that only the demo and the gateway see it: the LwM2M server must still be there to
    # answer the gateway's De-registers before the demo stops it.
    popen = subprocess.Popen
    subprocess.Popen = functools.partial(popen, start_new_session=True)
    try:
        srv = LwM2MServer().start()
        mb_port = free_tcp_port()
        spec = {"units": {"1": {"hr": f32_regs(230.0) + [0] * 8, "ir": [0] * 10 + [0, 0],
                                "co": [0, 0, 0, 0]}}}
        mb = PyModbus(spec, tcp_port=mb_port)
        broker = Broker()
    finally:
        subprocess.Popen = popen
    env = dict(os.environ, DEMO_LWM2M_PORT=str(srv.port), DEMO_MODBUS_PORT=str(mb_port),
               DEMO_MQTT_PORT=str(broker.port), DEMO_HTTP_PORT=str(free_tcp_port()),
               DEMO_STATE_DIR=os.path.join(tmp, "state"))
    return srv, mb, broker, env


def show_registrations(srv, devices, timeout):
    for d in devices:
        reg = srv.wait_registration(ep(d), timeout=timeout)
        print("registered %-32s from port %-5d lwm2m=%s objects=%s" % (
            reg.ep, reg.port, reg.version, " ".join(p for p in reg.objects if p.count("/") == 2)),
            flush=True)


def observe_all(srv):
    tokens = {}
    for dev, path in [("meter-1", "/3316/0/5700")] + [(s, "/3303/0/5700") for s in SENSORS]:
        srv.write_attributes(ep(dev), path, pmin=1)
        r = srv.observe(ep(dev), path)
        tokens[r.token] = (dev, path)
        print("observing %s%s: %s" % (dev, path, r.text), flush=True)
    return tokens


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=float, default=0, help="stop after S seconds (0: Ctrl-C)")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="gw-demo-")
    srv, mb, broker, env = start_peers(tmp)
    gw = None
    try:
        print("peers: LwM2M server coap://127.0.0.1:%d, Modbus TCP 127.0.0.1:%s, MQTT 127.0.0.1:%d"
              % (srv.port, env["DEMO_MODBUS_PORT"], broker.port), flush=True)
        for i, s in enumerate(SENSORS):
            publish(broker.port, s, 20.0 + i, 40)
        gw = subprocess.Popen([harness.binary("bridge", "lwm2m-gateway"), "run", "-c", CONFIG],
                              env=env)
        show_registrations(srv, ["meter-1"] + SENSORS, timeout=20)
        with urllib.request.urlopen("http://127.0.0.1:%s/readyz" % env["DEMO_HTTP_PORT"],
                                    timeout=5) as r:
            print("/readyz: %d %s" % (r.status, r.read().decode().strip()), flush=True)
        tokens = observe_all(srv)
        start, tick, seen = time.monotonic(), 0, 0
        while args.duration == 0 or time.monotonic() - start < args.duration:
            tick += 1
            mb.set(1, "hr", 0, f32_regs(230.0 + 3.0 * math.sin(tick / 3.0)))
            for i, s in enumerate(SENSORS):
                publish(broker.port, s, 20.0 + i + 2.0 * math.sin(tick / 4.0 + i), 40 + tick % 5)
            deadline = time.monotonic() + 1.0
            for n in srv.events("notify")[seen:]:
                seen += 1
                dev, path = tokens.get(n.get("token"), ("?", "?"))
                print("t=%3ds notify %-12s %s = %s" % (int(time.monotonic() - start), dev, path,
                                                      (n.get("decoded") or "")), flush=True)
            time.sleep(max(0.0, deadline - time.monotonic()))
    except KeyboardInterrupt:
        pass
    finally:
        if gw is not None and gw.poll() is None:
            gw.send_signal(signal.SIGTERM)
            try:
                gw.wait(timeout=15)
            except subprocess.TimeoutExpired:
                gw.kill()
        print("gateway stopped; %d endpoints deregistered" % len(srv.events("deregister")))
        srv.stop()
        mb.stop()
        broker.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
