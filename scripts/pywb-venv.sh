#!/usr/bin/env bash
# Create .pywb-venv: a separate virtual environment for pywb, the replay server used by the replay tests
# and for browsing an archive by hand. pywb pins old libraries (redis 2.10.6, gevent, ...) that must not
# enter the main .venv, so it lives apart. Idempotent: does nothing when the pinned pywb is already there.
#
# Usage: scripts/pywb-venv.sh [VENV_DIR]      (default: .pywb-venv at the repository root)
# Env:   PYTHON (interpreter to build the venv with; default python3.11, else python3)
set -euo pipefail

PYWB_VERSION="2.10.0"
# pywb 2.10.0 still imports pkg_resources (removed in setuptools 81). boto3: pywb reads WARC files from
# s3:// archive paths with it (a collection over an S3 store, archive/collection.py); botocore wants
# python-dateutil < 3, so pywb runs with 2.9 here (the tree pywb alone resolves to has 4.0).
BOTO3_VERSION="1.44.8"
PINS=(
    "pywb==${PYWB_VERSION}"
    "setuptools<81"
    "boto3==${BOTO3_VERSION}"
)
# The whole tree as tested with pywb 2.10.0 on Python 3.11 (its own pins: redis 2.10.6, fakeredis 0.16).
# Regenerate with: .pywb-venv/bin/pip freeze | grep -v '^pywb=='
CONSTRAINTS="
brotlipy==0.7.0
boto3==1.44.8
botocore==1.44.8
certauth==1.3.0
certifi==2026.10.18
cffi==2.1.1
charset-normalizer==3.5.2
cryptography==47.0.0
defusedxml==0.7.1
fakeredis==0.16.0
filelock==4.2.12
gevent==26.9.0
greenlet==3.5.6
idna==3.20
jmespath==1.1.0
Jinja2==3.1.6
MarkupSafe==3.0.4
portalocker==4.4.2
Py3AMF==0.9.1
pycparser==3.12
pyOpenSSL==26.1.0
python-dateutil==2.9.0.post0
PyYAML==6.0.3
redis==2.10.6
requests==2.34.2
requests-file==3.0.1
s3transfer==0.19.3
six==1.17.0
surt==0.3.1
tldextract==5.4.0
typing_extensions==4.16.0
tzdata==2026.6
ua-parser==1.0.2
ua-parser-builtins==202610
urllib3==2.8.0
warcio==1.8.1
webassets==2.0
webencodings==0.6.1
Werkzeug==3.1.7
wsgiprox==1.5.2
zope.event==6.2
zope.interface==8.7
"

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
print(version("pywb"), version("boto3"))
EOF
}

if [[ "$(installed_version)" == "${PYWB_VERSION} ${BOTO3_VERSION}" && -x "${venv}/bin/wayback" && -x "${venv}/bin/wb-manager" ]]; then
    echo "pywb ${PYWB_VERSION} already installed in ${venv}"
    exit 0
fi

if [[ ! -x "${venv}/bin/python" ]]; then
    "${python}" -m venv "${venv}"
fi
"${venv}/bin/python" -m pip install --quiet --upgrade "pip<26"
constraints="$(mktemp)"
trap 'rm -f "${constraints}"' EXIT
printf '%s\n' "${CONSTRAINTS}" > "${constraints}"
"${venv}/bin/python" -m pip install --quiet -c "${constraints}" "${PINS[@]}"
# Fail here, not in a test, if pywb cannot import on this interpreter.
"${venv}/bin/python" -c "import pywb, pywb.apps.frontendapp, boto3; print('pywb', pywb.__version__)"
"${venv}/bin/wb-manager" --help >/dev/null
echo "pywb ${PYWB_VERSION} installed in ${venv}"
