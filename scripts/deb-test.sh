#!/usr/bin/env bash
# The Debian package in CI (docs/deploy.md "Debian package"): builds the .deb from an already built
# and tested tree (scripts/build-deb.sh --from-build: the same debian/ rules, dh_* steps, shlibdeps
# and maintainer scripts as a full build, without compiling everything again, without a -dbgsym
# package, unstripped and gzip-compressed: CORDON_DEB_FAST, build-deb.sh), then installs it with apt-get on a clean Debian 12 booted with systemd as PID 1
# (scripts/systemd-boot-test.sh --deb: enable the socket, `cordon submit`, journal fields, remove).
# Prints how long each half took. Needs root (systemd-nspawn); exits 77 (skip) otherwise.
#
# Usage: scripts/deb-test.sh [BUILD_DIR]        (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=$(realpath "${1:-build}")
skip() { echo "deb-test: SKIP: $*" >&2; exit 77; }
[[ $(id -u) -eq 0 ]] || skip "needs root (installing the package in a booted container: systemd-nspawn)"
command -v systemd-nspawn >/dev/null || skip "systemd-nspawn is not installed (apt-get install systemd-container)"
command -v dpkg-buildpackage >/dev/null || skip "dpkg-buildpackage is not installed (apt-get install dpkg-dev debhelper)"
out=$(mktemp -d /tmp/cordon-deb-XXXXXX)
trap 'rm -rf "$out"' EXIT
t0=$(date +%s)
# lintian reads the whole package (tens of seconds on these binaries): run by build-deb.sh by hand.
deb=$(CORDON_DEB_LINTIAN=${CORDON_DEB_LINTIAN:-0} CORDON_DEB_FAST=${CORDON_DEB_FAST:-1} scripts/build-deb.sh --from-build "$BUILD" "$out/deb" | tail -n 1)
t1=$(date +%s)
echo "deb-test: built $(basename "$deb") ($(du -k "$deb" | cut -f1) KiB) in $((t1 - t0)) s"
rc=0
scripts/systemd-boot-test.sh --deb "$deb" || rc=$?
t2=$(date +%s)
echo "deb-test: installed and checked under a booted systemd in $((t2 - t1)) s (rc $rc); total $((t2 - t0)) s"
exit $rc
