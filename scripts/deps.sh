#!/bin/sh
# Installs the Debian packages egress needs to build (and, with "test", to
# run its tests), when they are missing.  Needs root for apt-get.
set -eu
pkgs="make clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev libjansson-dev libmicrohttpd-dev pkg-config gcc iproute2 util-linux"
[ "${1:-}" = test ] && pkgs="$pkgs libcmocka-dev python3 jq"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing >/dev/null
