#!/usr/bin/env bash
# Installs Debian's headless-capable Chromium when it is missing; the report
# test (tests/report.rs) renders the HTML report with it.
set -euo pipefail
for bin in chromium chromium-browser; do
  if command -v "$bin" >/dev/null 2>&1; then
    exit 0
  fi
done
if [ "$(id -u)" -ne 0 ]; then
  echo "ensure_chromium: chromium is missing and this is not root; install Debian's 'chromium' package" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium >/dev/null
command -v chromium >/dev/null
