# SPDX-License-Identifier: Apache-2.0
"""Config pieces and helpers shared by the gateway integration tests (not a test itself)."""
import urllib.error
import urllib.request


def meter_and_thermo(mb_port):
    """YAML lines: a Modbus TCP adapter `plc` on 127.0.0.1:mb_port, an adapter `none` that never
    answers, and the profiles `meter` (Modbus voltage and relay) and `thermo` (constants)."""
    return [
        "adapters:",
        "  - { name: plc, type: modbus-tcp, host: 127.0.0.1, port: %d, timeout: 300ms }"
        % mb_port,
        "  - { name: none, type: modbus-tcp, host: 127.0.0.1, port: 1 }",
        "profiles:",
        "  meter:",
        "    3: { 0: { 0: ACME, 1: EM-340 } }",
        "    3316: { 0: { 5700: { read: 'holding:0', type: float32 }, 5701: V } }",
        "    3311: { 0: { 5850: { read: 'coil:0', write: 'coil:0' } } }",
        "  thermo:",
        "    3: { 0: { 0: Thermo Inc, 1: T-100 } }",
        "    3303: { 0: { 5700: 21.5, 5701: Cel } }",
    ]


def http_get(port, path):
    """GET http://127.0.0.1:port/path from the gateway's HTTP listener: (status, body text),
    also for an error status."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
