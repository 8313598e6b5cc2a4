#!/bin/sh
# Installs what building and testing zerocopy needs (Debian, as root).
set -e
PKGS="meson ninja-build gcc pkg-config libbsd-dev bats socat netcat-openbsd
coreutils strace valgrind mandoc time python3 procps iproute2 pv openssl
clang libclang-rt-14-dev"
if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: run as root (sudo scripts/deps.sh)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $PKGS >/dev/null
