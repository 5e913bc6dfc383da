#!/bin/sh
# Install the Debian 12 packages art17 needs to build, test and run its demo,
# and the peer servers and client libraries `make bench` compares against
# (mosquitto, nats-server, libmosquitto-dev, libnats-dev).
# Idempotent: installs only what is missing. Needs root (or sudo) when
# anything is missing; prints what it would install otherwise.
set -eu

PKGS="build-essential cmake pkg-config git
libnng-dev libmbedtls-dev
libprotobuf-c-dev protobuf-c-compiler
liblmdb-dev lmdb-utils
libssl-dev openssl
libcmocka-dev
libjansson-dev libinih-dev jq
python3-jsonschema
gnuplot-nox
spin
clang-format
curl python3 iproute2
chromium chromium-driver
dpkg-dev systemd
mosquitto libmosquitto-dev
nats-server libnats-dev"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	exit 0
fi

echo "art17: installing missing Debian packages:$missing"
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO=sudo
	else
		echo "art17: need root to install:$missing" >&2
		exit 1
	fi
else
	SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
