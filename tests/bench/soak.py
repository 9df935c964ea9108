# SPDX-License-Identifier: Apache-2.0
"""soak: does anything grow while the gateway runs for a long time under churn? The real
`lwm2m-gateway run` with an MQTT adapter (Debian's mosquitto) discovering D devices and the test
LwM2M server (libcoap3) observing every device's value, for M minutes of:
  - R messages/s round-robin over the devices (each one a Notify);
  - a SIGHUP reload every 30 s (the same file: every registration is kept);
  - a 5 s server outage every 60 s (paused: Updates and notifications go unanswered, the values
    go through store-and-forward and are delivered after it);
  - every 45 s, 10 devices go offline on their availability topic (deregistered, freed) and come
    back 10 s later (discovered again, registered anew).
Every 10 s it samples the gateway's resident memory (VmRSS), open file descriptors and its
/metrics; at the end it prints the samples and the growth from the first sample after the
warm-up minute to the last, in KiB and KiB per hour. Not a test: it asserts nothing (a leak
shows as a steady slope); the README quotes a run.
Usage: /usr/bin/python3 tests/bench/soak.py [--minutes 5] [--devices 300] [--rate 300] BUILD_DIR
"""
import argparse
import os
import re
import signal
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import harness  # noqa: E402
from gw_fixtures import GatewayProc, http_get  # noqa: E402
from lwm2m_server import CT_TEXT, LwM2MServer  # noqa: E402
from mb_common import free_tcp_port  # noqa: E402
from test_mqtt import Broker, Publisher  # noqa: E402

GW_ID = "soak"


def config(broker, srv, http, state_dir, devices, store=True):
    return "\n".join([
        "gateway: { id: %s, http: '127.0.0.1:%d', state_dir: '%s' }" % (GW_ID, http, state_dir),
        "lwm2m:",
        "  lifetime: 30",
        "  coap: { ack_timeout: 1s, max_retransmit: 2 }",
        "  store: { enabled: %s }" % ("true" if store else "false"),
        "  servers: [ { uri: '%s' } ]" % srv.uri,
        "adapters:",
        "  - { name: broker, type: mqtt, host: 127.0.0.1, port: %d }" % broker.port,
        "profiles:",
        "  th:",
        "    3: { 0: { 0: Soak Inc, 1: S-1 } }",
        "    3303: { 0: { 5700: { topic: 'sensors/{device}/state', json: /v }, 5701: Cel } }",
        "devices:",
        "  - { adapter: broker, profile: th, discover: 'sensors/{device}/state', max_devices: %d,"
        % (devices + 10),
        "      availability: 'sensors/{device}/availability' }",
    ]) + "\n"


def ep(name):
    return "urn:dev:%s:%s" % (GW_ID, name)


def sample(gw, http):
    pid = gw.proc.pid
    with open("/proc/%d/status" % pid) as f:
        rss = int(re.search(r"^VmRSS:\s+(\d+) kB", f.read(), re.M).group(1))
    fds = len(os.listdir("/proc/%d/fd" % pid))
    t = time.monotonic()
    try:
        _, body = http_get(http, "/metrics")
    except OSError:  # a loop that does not answer within http_get's 5 s
        body = ""
    took = time.monotonic() - t

    def metric(name):
        m = re.search(r"^%s (\d+)$" % re.escape(name), body, re.M)
        return int(m.group(1)) if m else -1
    return {"rss": rss, "fds": fds, "http_ms": took * 1000,
            "registered": metric('lwm2m_gateway_endpoints{state="registered"}'),
            "notifications": metric("lwm2m_gateway_notifications_total")}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=5)
    ap.add_argument("--devices", type=int, default=300)
    ap.add_argument("--rate", type=int, default=300)
    ap.add_argument("--no-store", action="store_true", help="store-and-forward off")
    ap.add_argument("build_dir")
    args = ap.parse_args()
    os.environ["GW_BUILD_DIR"] = os.path.abspath(args.build_dir)
    names = ["s%04d" % i for i in range(args.devices)]
    broker, srv = Broker(), LwM2MServer(timeout=5).start()
    http = free_tcp_port()
    state = tempfile.mkdtemp(prefix="gw-soak-state-")
    gw = GatewayProc(config(broker, srv, http, state, args.devices, not args.no_store), prefix="gw-soak-")
    pub = Publisher(broker.port, client_id="soak-pub")
    samples = []
    try:
        # the gateway discovers a device from its first message after it has subscribed
        harness.wait_for(lambda: pub.publish_many(("sensors/%s/state" % n, b'{"v":20}')
                                                  for n in names) or
                         len(srv.events("register")) >= len(names), timeout=120, interval=1.0,
                         what="every device registered")
        for n in names:
            r = srv.observe(ep(n), "/3303/0/5700", accept=CT_TEXT)
            assert r.code == "2.05", (n, r)
        print("%d devices registered and observed; soaking %.1f min at %d msg/s"
              % (len(names), args.minutes, args.rate), flush=True)
        t0 = time.monotonic()
        end = t0 + args.minutes * 60
        i = seq = 0
        next_sample = t0
        gone = []
        while time.monotonic() < end:
            now = time.monotonic()
            el = now - t0
            batch = []
            for _ in range(args.rate // 10):
                n = names[i % len(names)]
                i += 1
                seq += 1
                if n not in gone:
                    batch.append(("sensors/%s/state" % n, b'{"v":%d}' % (seq % 1000)))
            pub.publish_many(batch)
            sec = int(el)
            if sec % 30 == 29 and int(el - 0.1) != sec:
                gw.proc.send_signal(signal.SIGHUP)
            if sec % 60 == 20 and int(el - 0.1) != sec:
                srv.pause()
            if sec % 60 == 25 and int(el - 0.1) != sec:
                srv.resume()
            if sec % 45 == 10 and int(el - 0.1) != sec:
                gone = names[(sec // 45 * 10) % len(names):][:10]
                pub.publish_many(("sensors/%s/availability" % n, b"offline") for n in gone)
            if sec % 45 == 20 and int(el - 0.1) != sec:
                pub.publish_many(("sensors/%s/availability" % n, b"online") for n in gone)
                gone = []
            if now >= next_sample:
                s = sample(gw, http)
                s["t"] = el
                samples.append(s)
                print("t=%5.0fs rss=%6d KiB fds=%4d registered=%4d notifications=%d "
                      "/metrics in %.0f ms" % (el, s["rss"], s["fds"], s["registered"],
                                               s["notifications"], s["http_ms"]), flush=True)
                next_sample += 10
            time.sleep(max(0.0, 0.1 - (time.monotonic() - now)))
    finally:
        srv.resume()
        pub.close()
        gw.stop()
        srv.stop()
        broker.close()
    warm = [s for s in samples if s["t"] >= 60] or samples
    a, b = warm[0], samples[-1]
    hours = max(b["t"] - a["t"], 1) / 3600
    slow = max(samples, key=lambda s: s["http_ms"])
    print("\nslowest /metrics: %.0f ms at %.0f s" % (slow["http_ms"], slow["t"]))
    print("RSS %d KiB at %.0f s -> %d KiB at %.0f s: %+d KiB (%+.0f KiB/h); fds %d -> %d; "
          "%d notifications" % (a["rss"], a["t"], b["rss"], b["t"], b["rss"] - a["rss"],
                                (b["rss"] - a["rss"]) / hours, a["fds"], b["fds"],
                                b["notifications"]))


if __name__ == "__main__":
    main()
