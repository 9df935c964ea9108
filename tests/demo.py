# SPDX-License-Identifier: Apache-2.0
"""The demo for this milestone: the test LwM2M server (libcoap) and our engine with a few
endpoints, on loopback. Shows each endpoint registering from its own port, then values changing
on the devices and the server reading them, until Ctrl-C (or --duration seconds)."""
import argparse
import math
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "integration"))
from lwm2m_client import Client  # noqa: E402
from lwm2m_server import LwM2MServer  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoints", type=int, default=5)
    ap.add_argument("--duration", type=float, default=0, help="stop after S seconds (0: Ctrl-C)")
    args = ap.parse_args()
    prefix = "urn:dev:demo:"
    with LwM2MServer() as srv:
        print("LwM2M test server (libcoap) listening on %s" % srv.uri)
        cl = Client(srv.uri, count=args.endpoints, name=prefix, lifetime=60).start()
        try:
            for i in range(args.endpoints):
                reg = srv.wait_registration(prefix + str(i), timeout=10)
                print("registered %-18s from port %-5d lwm2m=%s lt=%s objects=%s" % (
                    reg.ep, reg.port, reg.version, reg.lt, " ".join(reg.objects)))
            r = srv.read(prefix + "0", "/3/0", accept=110)
            print("read %s/3/0 (SenML JSON): %s" % (prefix + "0", r.text))
            start = time.monotonic()
            tick = 0
            while args.duration == 0 or time.monotonic() - start < args.duration:
                tick += 1
                temp = 20.0 + 5.0 * math.sin(tick / 5.0)
                cl.send("set /3303/0/5700 %.2f" % temp)
                time.sleep(1.0)
                vals = []
                for i in range(args.endpoints):
                    rr = srv.read(prefix + str(i), "/3303/0/5700")
                    vals.append(rr.text if rr.ok else rr.code or rr.error)
                print("t=%3ds  /3303/0/5700 on each endpoint: %s" % (
                    int(time.monotonic() - start), "  ".join(vals)), flush=True)
        except KeyboardInterrupt:
            pass
        finally:
            cl.stop()
            deregs = len(srv.events("deregister"))
            print("stopped: %d endpoints deregistered" % deregs)


if __name__ == "__main__":
    main()
