# SPDX-License-Identifier: Apache-2.0
"""A tiny test runner for the integration tests (Debian's python3, stdlib only): runs each test
function, prints one line per test and the closing `N passed, M failed` line, exits non-zero on
any failure. Also finds the binaries of the build tree and free loopback ports."""
import os
import socket
import sys
import time
import traceback


def build_dir():
    d = os.environ.get("GW_BUILD_DIR")
    if d:
        return d
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return os.path.join(repo, "build")


def binary(*parts):
    path = os.path.join(build_dir(), *parts)
    if not os.access(path, os.X_OK):
        raise FileNotFoundError("%s is not built (GW_BUILD_DIR=%s)" % (path, build_dir()))
    return path


def free_udp_port(host="127.0.0.1"):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_for(pred, timeout=10.0, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    raise TimeoutError("%s not met within %.1f s" % (what, timeout))


def run(tests):
    passed = failed = 0
    for t in tests:
        start = time.monotonic()
        try:
            t()
        except Exception:  # noqa: BLE001 - report every failure and go on
            failed += 1
            print("FAIL %s (%.1f s)" % (t.__name__, time.monotonic() - start))
            traceback.print_exc()
        else:
            passed += 1
            print("ok   %s (%.1f s)" % (t.__name__, time.monotonic() - start))
        sys.stdout.flush()
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)
