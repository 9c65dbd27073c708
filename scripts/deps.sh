#!/usr/bin/env bash
# Installs what Cordon needs to build, test and benchmark, from Debian 12 packages. Idempotent:
# apt-get runs only when something is missing.
set -euo pipefail
PKGS=(cmake ninja-build g++ pkg-config git
      libseccomp-dev libcap-dev nlohmann-json3-dev libprotobuf-dev protobuf-compiler python3-protobuf
      libboost1.81-dev libsqlite3-dev libgtest-dev libgmock-dev libssl-dev libre2-dev
      python3 procps iproute2 util-linux passwd bubblewrap openssl jq
      systemd systemd-container   # systemd-analyze, systemd-socket-activate; systemd-nspawn (boot test)
      prometheus-cpp-dev          # cordond's metrics (docs/metrics.md)
      help2man man-db             # man pages from --help, and their check (docs/man/)
      dpkg-dev debhelper lintian) # the Debian package: scripts/build-deb.sh (docs/deploy.md)
PKGS+=(curl nodejs postgresql-client-15)  # clients that ignore proxy variables (transparent egress tests)
# cordon-runc (docs/kubernetes.md): the engines its tests drive, the runtimes the benchmark
# compares with, a static busybox for the test image, script(1) for a terminal
PKGS+=(podman conmon containerd runc crun slirp4netns uidmap busybox-static bsdutils)
PKGS+=(python3-jwt python3-cryptography)  # docs/examples/verify_token.py, run by tests/integration/identity_test.cc
PKGS+=(qemu-system-x86 cpio kmod)  # scripts/v2vm/run.sh: the pure cgroup v2 VM (its kernel: apt-get download)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "cordon: missing packages: ${missing[*]}" >&2
    echo "cordon: run this script as root, or: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
  echo "cordon: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
