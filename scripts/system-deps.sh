#!/usr/bin/env bash
# Installs the system packages the crawler and its tests use, when they are missing:
# Chromium (rendering JavaScript-gated pages: the full browser, and the old headless shell the crawler
# prefers when it is there), redis-server (distributed crawls, tests) and npm (ReplayWeb.page for the tests).
# Debian/Ubuntu via apt-get; elsewhere it prints what to install and carries on.
set -euo pipefail

need=()
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || need+=(chromium)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v npm >/dev/null 2>&1 || need+=(npm)  # fetches ReplayWeb.page (scripts/replaywebpage.sh)
want=()  # nice to have: the crawler falls back to the full chromium without it
command -v chromium-headless-shell >/dev/null 2>&1 || want+=(chromium-headless-shell)
[ ${#need[@]} -eq 0 ] && [ ${#want[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  [ ${#need[@]} -gt 0 ] && echo "system-deps: please install: ${need[*]} (or run '.venv/bin/playwright install chromium' for the browser)" >&2
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    [ ${#need[@]} -eq 0 ] && exit 0
    echo "system-deps: not root and no sudo; please install: ${need[*]}" >&2; exit 1
  fi
fi
echo "system-deps: installing ${need[*]} ${want[*]}"
export DEBIAN_FRONTEND=noninteractive
if ! $sudo apt-get update -q >/dev/null; then
  [ ${#need[@]} -eq 0 ] && { echo "system-deps: apt-get update failed; skipping ${want[*]}" >&2; exit 0; }
  exit 1
fi
if [ ${#need[@]} -gt 0 ]; then
  $sudo apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
fi
if [ ${#want[@]} -gt 0 ]; then
  $sudo apt-get install -y -q --no-install-recommends "${want[@]}" >/dev/null \
    || echo "system-deps: ${want[*]} not available; rendering uses the full chromium" >&2
fi
