#!/bin/sh
# Install (as root, with apt-get) the Debian 12 packages llmctl needs to
# build, test and demo. Does nothing when all are present already.
set -eu
PKGS="build-essential autoconf automake libtool pkg-config
libyaml-dev libevent-dev libsqlite3-dev libjansson-dev libcurl4-openssl-dev
check libslurm-dev libsystemd-dev slurmctld slurmd slurm-client munge
debhelper lintian dpkg-dev
mandoc sqlite3 curl python3 util-linux procps clang-format chromium fonts-liberation libgl1-mesa-dri
python3-torch python3-numpy openmpi-bin libopenmpi-dev libpmix2"
[ $# -gt 0 ] && PKGS="$PKGS $*"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
	    missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "missing packages:$missing; run as root to install them" >&2
	exit 1
fi
echo "installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
