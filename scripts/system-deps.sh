#!/usr/bin/env bash
# Installs the system packages the crawler and its tests use, when they are missing:
# Chromium (rendering JavaScript-gated pages) and redis-server (distributed crawls, tests).
# Debian/Ubuntu via apt-get; elsewhere it prints what to install and carries on.
set -euo pipefail

need=()
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || need+=(chromium)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
[ ${#need[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: please install: ${need[*]} (or run '.venv/bin/playwright install chromium' for the browser)" >&2
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "system-deps: not root and no sudo; please install: ${need[*]}" >&2; exit 1
  fi
fi
echo "system-deps: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q >/dev/null
$sudo apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
