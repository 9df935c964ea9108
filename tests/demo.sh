#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The main job: installs dependencies, builds, and runs the gateway with
# config/examples/demo.yaml against its own peers on loopback (a pymodbus energy meter, mosquitto
# with two temperature sensors, the test LwM2M server), printing registrations and notifications
# until Ctrl-C. Extra arguments go to tests/demo.py (e.g. --duration 20).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target lwm2m-gateway lwm2m_test_server >/dev/null
./build/bridge/lwm2m-gateway --version
GW_BUILD_DIR="$(pwd)/build" exec /usr/bin/python3 tests/demo.py "$@"
