#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs everything the build, the tests and the demo need on Debian 12 (as root). Idempotent:
# skips apt when every package is already present, so repeated runs cost a second.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config clang libclang-rt-14-dev
  libevent-dev libssl-dev libmosquitto-dev libmodbus-dev libyaml-dev libjansson-dev libcbor-dev
  libexpat1-dev libcmocka-dev
  libcoap3-dev libcoap3-bin libgnutls28-dev openssl mosquitto mosquitto-clients python3 python3-pymodbus socat
  dnsmasq-base
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing packages and not root; run as root or install: ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
