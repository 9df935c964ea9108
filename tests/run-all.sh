#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The whole test suite, as CI runs it (.ci/run calls this): installs dependencies, then
#   1. gcc Release build with warnings as errors (what the image ships): unit + integration tests;
#   2. clang build with ASan+UBSan: the same tests again, plus each libFuzzer target for
#      GW_FUZZ_SECONDS (60 s by default) from its seed corpus;
#   3. gcc Debug build, compiled only: gcc warns differently at -O0 (what a developer builds).
# Build trees go to build-ci/ (override with GW_CI_BUILD=dir). Exit status is non-zero on failure.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
out=${GW_CI_BUILD:-$top/build-ci}
jobs=$(nproc)

bash tests/install-deps.sh

step() { printf '\n==== %s ====\n' "$*"; }

step "gcc -Werror build (Release, as the Docker image builds it)"
cmake -S . -B "$out/gcc" -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=gcc >/dev/null
cmake --build "$out/gcc" -j"$jobs"

step "clang ASan+UBSan+libFuzzer build"
cmake -S . -B "$out/asan" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang -DGW_FUZZ=ON \
      -DGW_FUZZ_SECONDS="${GW_FUZZ_SECONDS:-60}" >/dev/null
cmake --build "$out/asan" -j"$jobs"

step "gcc -Werror build (Debug, compiled only)"
cmake -S . -B "$out/gcc-debug" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=gcc >/dev/null
cmake --build "$out/gcc-debug" -j"$jobs"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

step "tests: ASan+UBSan build (unit, integration, fuzz)"
ctest --test-dir "$out/asan" --output-on-failure -j"$jobs"

step "tests: gcc build (unit, integration)"
ctest --test-dir "$out/gcc" --output-on-failure -j"$jobs"
