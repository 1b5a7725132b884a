#!/usr/bin/env bash
# Fetch ReplayWeb.page (the npm package "replaywebpage": the web archive viewer, wabac.js inside its
# service worker) into .replaywebpage/, for the replay tests and for opening a WACZ or a collection by hand.
# Only its three static files are needed (index.html, ui.js, sw.js: bundles, no node_modules), so the
# package is fetched with `npm pack` (the registry's tarball, integrity checked by npm) and its SHA-256
# checked against the pin below. Idempotent: does nothing when the pinned version is there.
#
# Usage: scripts/replaywebpage.sh [DIR]      (default: .replaywebpage at the repository root)
set -euo pipefail

VERSION="2.5.3"
SHA256="b7d35c39c4da9b7121c5a393911d8675d4cc6f19513c380191e16b086bea812c"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="${1:-${root}/.replaywebpage}"

if [[ -f "${dest}/VERSION" && "$(cat "${dest}/VERSION")" == "${VERSION}" \
      && -f "${dest}/ui.js" && -f "${dest}/sw.js" && -f "${dest}/index.html" ]]; then
    echo "ReplayWeb.page ${VERSION} already in ${dest}"
    exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
    echo "replaywebpage.sh: npm not found (scripts/system-deps.sh installs it)" >&2
    exit 1
fi
work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT
(cd "${work}" && npm pack --silent "replaywebpage@${VERSION}" >/dev/null)
tarball="${work}/replaywebpage-${VERSION}.tgz"
echo "${SHA256}  ${tarball}" | sha256sum --check --quiet
tar -xzf "${tarball}" -C "${work}" package/index.html package/ui.js package/sw.js package/LICENSE
mkdir -p "${dest}"
cp "${work}/package/index.html" "${work}/package/ui.js" "${work}/package/sw.js" "${work}/package/LICENSE" "${dest}/"
echo "${VERSION}" > "${dest}/VERSION"
echo "ReplayWeb.page ${VERSION} installed in ${dest}"
