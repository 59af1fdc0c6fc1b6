#!/bin/sh
# install-deps.sh: make sure the Debian 12 packages imgpipe builds and tests with are present.
# As root it installs what is missing with apt-get; otherwise it lists what to install and fails.
# Usage: scripts/install-deps.sh [extra-package ...]
set -eu

PKGS="meson ninja-build pkg-config gcc libc6-dev libvips-dev libh2o-evloop-dev libssl-dev libjansson-dev libdeflate-dev
libturbojpeg0-dev libjpeg62-turbo-dev libwebp-dev liblcms2-dev libcurl4-openssl-dev libseccomp-dev libvips-tools curl openssl"

missing=""
for p in $PKGS "$@"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "imgpipe needs these Debian packages:$missing" >&2
    echo "install them with: sudo apt-get install -y$missing" >&2
    exit 1
fi
echo "installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >&2
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing >&2
