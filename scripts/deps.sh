#!/bin/sh
# Installs the Debian packages goc-crawl (apps/crawl) builds against:
# libcurl (OpenSSL flavour), libxml2, SQLite and pkg-config. The goc library
# itself needs none of them. Checks first, installs only what is missing,
# says what it installs; uses sudo when not root.
#
#     scripts/deps.sh          install what is missing
#     scripts/deps.sh --check  only report; exit 1 when something is missing
set -eu

PACKAGES="libcurl4-openssl-dev libxml2-dev libsqlite3-dev pkg-config"

installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

missing=""
for p in $PACKAGES; do
    installed "$p" || missing="$missing $p"
done

if [ -z "$missing" ]; then
    echo "deps: all present ($PACKAGES)"
    exit 0
fi
echo "deps: missing:$missing"
if [ "${1:-}" = "--check" ]; then
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "deps: no apt-get here; install the equivalents of:$missing" >&2
    exit 1
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "deps: not root and no sudo" >&2; exit 1; }
    sudo="sudo"
fi

echo "deps: apt-get update"
$sudo apt-get update -q
echo "deps: apt-get install$missing"
# shellcheck disable=SC2086 # the list is meant to split into words
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends $missing
echo "deps: done"
