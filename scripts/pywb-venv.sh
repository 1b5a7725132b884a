#!/usr/bin/env bash
# Create .pywb-venv: a separate virtual environment for pywb, the replay server used by the replay tests
# and for browsing an archive by hand. pywb pins old libraries (redis 2.10.6, gevent, ...) that must not
# enter the main .venv, so it lives apart. Idempotent: does nothing when the pinned pywb is already there.
#
# Usage: scripts/pywb-venv.sh [VENV_DIR]      (default: .pywb-venv at the repository root)
# Env:   PYTHON (interpreter to build the venv with; default python3.11, else python3)
set -euo pipefail

PYWB_VERSION="2.10.0"
# pywb 2.10.0 still imports pkg_resources (removed in setuptools 81); the rest are kept at versions known
# to work with it on Python 3.11.
PINS=(
    "pywb==${PYWB_VERSION}"
    "setuptools<81"
)

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${1:-${root}/.pywb-venv}"
python="${PYTHON:-}"
if [[ -z "${python}" ]]; then
    if command -v python3.11 >/dev/null 2>&1; then python=python3.11; else python=python3; fi
fi

installed_version() {
    [[ -x "${venv}/bin/python" ]] || return 0
    "${venv}/bin/python" - <<'EOF' 2>/dev/null || true
from importlib.metadata import version
print(version("pywb"))
EOF
}

if [[ "$(installed_version)" == "${PYWB_VERSION}" && -x "${venv}/bin/wayback" && -x "${venv}/bin/wb-manager" ]]; then
    echo "pywb ${PYWB_VERSION} already installed in ${venv}"
    exit 0
fi

if [[ ! -x "${venv}/bin/python" ]]; then
    "${python}" -m venv "${venv}"
fi
"${venv}/bin/python" -m pip install --quiet --upgrade "pip<26"
"${venv}/bin/python" -m pip install --quiet "${PINS[@]}"
# Fail here, not in a test, if pywb cannot import on this interpreter.
"${venv}/bin/python" -c "import pywb, pywb.apps.frontendapp; print('pywb', pywb.__version__)"
"${venv}/bin/wb-manager" --help >/dev/null
echo "pywb ${PYWB_VERSION} installed in ${venv}"
