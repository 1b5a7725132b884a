#!/usr/bin/env bash
# Start scrapyd in the foreground, on 127.0.0.1, with scripts/scrapyd.conf and the project's virtualenv.
#
# scrapyd runs each job with the Python that runs scrapyd itself, so it is started from the venv that has
# the crawler's dependencies (Scrapy, trafilatura, warcio, boto3, ...); the crawler's own code comes from the
# egg that `scrapyd-deploy local` uploads.
#
# Usage: scripts/scrapyd.sh            (Ctrl-C stops it; under systemd, run it as the service's ExecStart)
# Env:   SCRAPYD_HOME  working directory: config, eggs/, logs/, dbs/ (default: .scrapyd at the repo root)
#        SCRAPYD_PORT  http_port (default: the config's, 6800)
#        SCRAPYD_BIND  bind_address (default: the config's, 127.0.0.1)
#        VENV          virtualenv (default: .venv at the repo root)
#        SCRAPYD_LOG   scrapyd's own log file (default: stdout)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$REPO/.venv}"
SCRAPYD_HOME="${SCRAPYD_HOME:-$REPO/.scrapyd}"

if [[ ! -x "$VENV/bin/scrapyd" ]]; then
    echo "scrapyd.sh: $VENV/bin/scrapyd not found; run 'make venv' (it installs the [ops] extras)" >&2
    exit 1
fi

mkdir -p "$SCRAPYD_HOME"
sed_args=(-e "")
if [[ -n "${SCRAPYD_PORT:-}" ]]; then
    [[ "$SCRAPYD_PORT" =~ ^[0-9]+$ ]] || { echo "scrapyd.sh: SCRAPYD_PORT must be a number" >&2; exit 1; }
    sed_args+=(-e "s/^http_port[[:space:]]*=.*/http_port    = ${SCRAPYD_PORT}/")
fi
if [[ -n "${SCRAPYD_BIND:-}" ]]; then
    [[ "$SCRAPYD_BIND" =~ ^[0-9A-Za-z.:-]+$ ]] || { echo "scrapyd.sh: bad SCRAPYD_BIND" >&2; exit 1; }
    sed_args+=(-e "s/^bind_address[[:space:]]*=.*/bind_address = ${SCRAPYD_BIND}/")
fi
sed "${sed_args[@]}" "$REPO/scripts/scrapyd.conf" > "$SCRAPYD_HOME/scrapyd.conf.tmp"
mv "$SCRAPYD_HOME/scrapyd.conf.tmp" "$SCRAPYD_HOME/scrapyd.conf"

cd "$SCRAPYD_HOME"
# The egg names its settings module; a value inherited from the caller's shell would override it.
unset SCRAPY_SETTINGS_MODULE SCRAPY_PROJECT SCRAPYD_EGG_VERSION
export PATH="$VENV/bin:$PATH"
log_args=()
if [[ -n "${SCRAPYD_LOG:-}" ]]; then
    log_args=(--logfile "$SCRAPYD_LOG")
fi
exec "$VENV/bin/scrapyd" --pidfile= "${log_args[@]}"
