#!/bin/sh
# Installs the Debian packages egress needs to build (and, with "test", to
# run its tests; with "demo", to run the demo), when they are missing.
# Needs root for apt-get.  Services that packages would start on install
# (prometheus, squid) are kept from starting: the tests run their own.
set -eu
pkgs="make clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev libjansson-dev libmicrohttpd-dev libsystemd-dev scdoc pkg-config gcc iproute2 util-linux"
case "${1:-}" in
test) pkgs="$pkgs libcmocka-dev libclang-rt-14-dev python3 python3-yaml jq curl prometheus runc squid debhelper dpkg-dev lintian systemd bash-completion man-db bsdextrautils strace" ;;
deb) pkgs="$pkgs debhelper dpkg-dev lintian" ;;
demo) pkgs="$pkgs python3 curl runc squid" ;;
esac
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# no service may start during the install (policy-rc.d, see invoke-rc.d(8))
created_policy=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
	chmod +x /usr/sbin/policy-rc.d
	created_policy=1
fi
trap '[ -n "$created_policy" ] && rm -f /usr/sbin/policy-rc.d' EXIT
apt-get -o DPkg::Lock::Timeout=900 update -qq
apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends $missing >/dev/null
