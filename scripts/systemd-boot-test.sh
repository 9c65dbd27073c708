#!/usr/bin/env bash
# Boots a real systemd as PID 1 in a container (systemd-nspawn -b) and checks cordond as a
# systemd service there (docs/deploy.md "Tested under a booted systemd"):
#   the socket is listening and the service is not started until the first `cordon submit`;
#   that submit starts it (socket activation), READY arrives (the unit is "active (running)", its
#   STATUS= text is shown), the task runs; `systemctl reload` reloads (RELOADING/READY, the log
#   line); cordond runs in <service cgroup>/supervisor (Delegate=yes); `systemctl stop` records a
#   running task as killed; the journal holds cordond's lines.
#
# Offline: the container is the host's own /usr (--volatile=yes: a tmpfs root with the host /usr
# read-only), the build tree bound at /opt/cordon, the units and /etc/cordon bound in. Nothing is
# downloaded. Needs root and systemd-nspawn (Debian package systemd-container).
#
# With --deb, the Debian package instead (docs/deploy.md "Debian package"): the container's /usr,
# /var/lib/dpkg and apt's state are overlays of the host's (changes go to a scratch upper layer), and
# the inside script (systemd-boot-test-deb.sh) runs `apt-get install ./cordon_*.deb`, `systemctl
# enable --now cordond.socket` and `cordon submit`, checks the journal's structured fields, then
# removes the package. Build the package with scripts/build-deb.sh.
#
# Usage: scripts/systemd-boot-test.sh [BUILD_DIR]     (default: build)
#        scripts/systemd-boot-test.sh --deb CORDON_DEB
# Exit 0 when every check passed, 1 when one failed, 77 when this host cannot boot a container.
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$PWD
DEB=
if [[ ${1:-} == --deb ]]; then
  [[ -f ${2:-} ]] || { echo "systemd-boot-test: --deb needs the package file (scripts/build-deb.sh prints it)" >&2; exit 1; }
  DEB=$(realpath "$2")
else
  BUILD=$(realpath "${1:-build}")
fi
TIMEOUT=${CORDON_BOOT_TIMEOUT:-180}

skip() { echo "systemd-boot-test: SKIP: $*" >&2; exit 77; }
[[ $(id -u) -eq 0 ]] || skip "needs root (systemd-nspawn)"
command -v systemd-nspawn >/dev/null || skip "systemd-nspawn is not installed (apt-get install systemd-container)"
[[ -n $DEB || ( -x $BUILD/bin/cordond && -x $BUILD/bin/cordon ) ]] || { echo "systemd-boot-test: build first: scripts/build.sh" >&2; exit 1; }

work=$(mktemp -d /tmp/cordon-boot-XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work"/system/{sockets.target.wants,multi-user.target.wants} "$work/cordon" "$work/out"
chmod 0755 "$work" "$work/out"

if [[ -z $DEB ]]; then
  # The shipped units, with only the binary's path changed to where the build tree is bound.
  sed 's#/usr/local/bin/cordond#/opt/cordon/bin/cordond#' "$SRC/systemd/cordond.service" > "$work/system/cordond.service"
  cp "$SRC/systemd/cordond.socket" "$work/system/cordond.socket"
  ln -s ../cordond.socket "$work/system/sockets.target.wants/cordond.socket"   # systemctl enable cordond.socket
  cp "$SRC/policies/examples/principals.json" "$work/cordon/principals.json"
  inside=systemd-boot-test-inside.sh
  # The test unit and cordon's are in /etc/systemd/system, the build tree and /etc/cordon bound in.
  mounts=(--bind-ro="$BUILD:/opt/cordon" --bind-ro="$work/system:/etc/systemd/system"
          --bind-ro="$work/cordon:/etc/cordon")
else
  inside=systemd-boot-test-deb.sh
  mkdir -p "$work/deb" && cp "$DEB" "$work/deb/"
  # dpkg and apt write to overlays of the host's /usr and state; the test unit is a runtime unit
  # (/run/systemd/system) so that /etc/systemd/system stays the package's to enable units in.
  # /var is the container's own (tmpfs; nspawn cannot put an overlay there before systemd creates
  # it), so the inside script copies the host's dpkg database from /opt/host-dpkg first; apt gets
  # no package lists (nothing is downloaded: the package's dependencies are already installed).
  # Likewise the host's users and groups (dpkg's statoverride names groups such as ssl-cert).
  mounts=(--overlay=/usr::/usr --bind-ro=/var/lib/dpkg:/opt/host-dpkg --bind-ro=/etc:/opt/host-etc
          --bind-ro=/etc/apt --bind-ro=/etc/dpkg
          --bind="$work/system:/run/systemd/system" --bind-ro="$work/deb:/opt/deb")
fi

# The checks run inside, as a oneshot service once the system is up; the container powers off
# after it, whatever the result.
cat > "$work/system/cordon-boot-test.service" <<'EOF'
[Unit]
Description=Cordon boot test
After=multi-user.target sockets.target
[Service]
Type=oneshot
ExecStart=/bin/bash /opt/cordon-src/scripts/INSIDE /out
StandardOutput=journal+console
StandardError=journal+console
TimeoutStartSec=150
SuccessAction=poweroff-force
FailureAction=poweroff-force
[Install]
WantedBy=multi-user.target
EOF
sed -i "s#INSIDE#$inside#" "$work/system/cordon-boot-test.service"
ln -s ../cordon-boot-test.service "$work/system/multi-user.target.wants/cordon-boot-test.service"

echo "systemd-boot-test: booting systemd in a container (host /usr, tmpfs root; at most ${TIMEOUT}s)" >&2
systemd-nspawn --quiet --volatile=yes -D / -b --register=no --keep-unit \
  --machine="cordon-boot-$$" --console=pipe \
  --bind-ro="$SRC:/opt/cordon-src" "${mounts[@]}" --bind="$work/out:/out" </dev/null >"$work/console.log" 2>&1 &
nspawn=$!
# The inside script ends with a result; the container is then halted (SIGTERM to nspawn makes it
# ask its PID 1 to power off).
for ((i = 0; i < TIMEOUT * 10; i++)); do
  [[ -s $work/out/result ]] && break
  kill -0 "$nspawn" 2>/dev/null || break
  sleep 0.1
done
rc=0
[[ -s $work/out/result ]] || rc=124
kill -TERM "$nspawn" 2>/dev/null || true
for ((i = 0; i < 200; i++)); do kill -0 "$nspawn" 2>/dev/null || break; sleep 0.1; done
kill -KILL "$nspawn" 2>/dev/null || true
wait "$nspawn" 2>/dev/null || true
if [[ ! -s $work/out/result ]]; then
  echo "systemd-boot-test: the container gave no result; its console:" >&2
  tail -n 40 "$work/console.log" >&2
  [[ $rc -eq 124 ]] && echo "systemd-boot-test: timed out after ${TIMEOUT}s" >&2
  exit 1
fi
cat "$work/out/report"
[[ $(cat "$work/out/result") == PASS ]]
