#!/bin/sh
# Installs what building and testing zerocopy needs (Debian; uses sudo
# when not run as root).
set -e
PKGS="meson ninja-build gcc pkg-config libbsd-dev bats socat netcat-openbsd
coreutils strace valgrind mandoc time python3 procps iproute2 pv openssl ncat
clang libclang-rt-14-dev"
SUDO=
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || {
		echo "deps.sh: run as root, or install sudo" >&2
		exit 1
	}
	SUDO=sudo
fi
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO env DEBIAN_FRONTEND=noninteractive \
	apt-get install -y -qq --no-install-recommends $PKGS >/dev/null
