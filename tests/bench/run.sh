#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the benchmarks in Release and runs each one, printing its measurements. Benchmarks that
# need peers (mosquitto, a Modbus slave) start them on loopback themselves.
# Usage: bash tests/bench/run.sh [build-dir]   (default build-bench)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-build-bench}
cmake -S . -B "$out" -DCMAKE_BUILD_TYPE=Release -DGW_BUILD_TESTS=ON >/dev/null
cmake --build "$out" -j"$(nproc)" >/dev/null
for b in "$out"/tests/bench/bench_*; do
  [ -x "$b" ] || continue
  name=$(basename "$b")
  # scale benches: 1,000 and 10,000 endpoints (bench_dtls: ~30 s at 10,000, the test server's
  # libcoap slows down with its session count)
  if [ "$name" = bench_lwm2m ] || [ "$name" = bench_dtls ]; then
    for n in 1000 10000; do
      printf '\n== %s %s ==\n' "$name" "$n"
      "$b" "$n"
    done
    continue
  fi
  printf '\n== %s ==\n' "$name"
  "$b"
done
