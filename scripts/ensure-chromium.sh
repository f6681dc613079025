#!/usr/bin/env bash
# The browser check (tests/test_ui_live.py) drives Debian's chromium through chromedriver. Install both
# with apt when they are absent (CI machines start without them); say what to do when we cannot.
set -euo pipefail
if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
  exit 0
fi
if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
  echo "ensure-chromium: chromium and chromium-driver are missing; install them (Debian: apt-get install" \
       "chromium chromium-driver) or run as root on Debian so this script can" >&2
  exit 1
fi
echo "ensure-chromium: installing chromium and chromium-driver with apt-get" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
chromium --version
