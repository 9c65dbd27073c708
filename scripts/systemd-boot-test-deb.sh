#!/usr/bin/env bash
# The checks of `scripts/systemd-boot-test.sh --deb`, run inside the booted container by systemd:
# install the package as an operator would on a clean Debian 12, enable the socket, run a task,
# then remove it. Writes OUT/report (one line per check) and OUT/result (PASS or FAIL).
set -u
OUT=${1:-/out}
# shellcheck source=scripts/systemd-boot-test-checks.sh
source "$(dirname "${BASH_SOURCE[0]}")/systemd-boot-test-checks.sh"
deb=$(ls /opt/deb/cordon_*.deb)
report "systemd $(systemctl --version | head -1 | cut -d' ' -f2) is PID 1; installing $(basename "$deb")"
# The host's dpkg database, copied (the container's /var is a tmpfs; its /usr an overlay of the host's).
mkdir -p /var/lib /var/cache/apt/archives/partial /var/lib/apt/lists/partial /var/log/apt
cp -a /opt/host-dpkg /var/lib/dpkg
for f in passwd group shadow gshadow manpath.config; do cp -a /opt/host-etc/$f /etc/$f; done
# A container image's /usr/sbin/policy-rc.d (Docker's "exit 101") forbids maintainer scripts to
# start or stop services; a clean Debian 12 has none. Removed from the container's /usr overlay only.
rm -f /usr/sbin/policy-rc.d
check "cordon is not installed before" expect_eq "$(command -v cordon || echo none)" none
check "apt-get install ./$(basename "$deb")" \
  env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$deb"
files=$(dpkg -L cordon)
for f in /usr/bin/cordon /usr/bin/cordond /usr/libexec/cordon/cordon-shim /lib/systemd/system/cordond.socket \
         /lib/systemd/system/cordond.service /usr/lib/systemd/user/cordond.socket /etc/cordon/principals.json \
         /usr/share/cordon/policies/default.json /usr/share/cordon/seccomp-profiles/default.json \
         /usr/share/man/man1/cordon.1.gz /usr/share/man/man1/cordon-seccomp.1.gz /usr/share/man/man8/cordond.8.gz \
         /usr/share/man/man5/cordon-policy.5.gz /usr/share/man/man5/cordon-principals.5.gz \
         /usr/share/doc/cordon/docs/deploy.md; do
  check "the package ships $f" contains "$files" "$f"
done
check "/etc/cordon/principals.json is a conffile" contains "$(dpkg-query -W -f='${Conffiles}' cordon)" /etc/cordon/principals.json
check "the unit runs the packaged cordond" contains "$(systemctl show -p ExecStart --value cordond.service)" "path=/usr/bin/cordond"
check "man cordond renders" contains "$(MANWIDTH=80 man cordond 2>&1)" "--pool-size"

check "the package enabled and started cordond.socket itself" \
  expect_eq "$(systemctl is-enabled cordond.socket) $(systemctl is-active cordond.socket)" "enabled active"
check "systemctl enable --now cordond.socket" systemctl enable --now cordond.socket
check "cordond.socket is listening" expect_eq "$(systemctl is-active cordond.socket)" active
out=$(cordon submit -- /bin/echo hello-from-the-package 2>&1)
check "cordon submit runs a task through the socket-activated cordond" expect_eq "$out" hello-from-the-package
check "cordond.service is active (running)" \
  contains "$(systemctl show -p ActiveState,SubState cordond.service | tr '\n' ' ')" "ActiveState=active SubState=running"
tid=$(cordon submit --detach -- /bin/true 2>&1); cordon wait "$tid" >/dev/null 2>&1
for ((i = 0; i < 50; i++)); do  # journald stores what it is sent asynchronously
  journalctl -u cordond CORDON_TASK_ID="$tid" --no-pager -o cat 2>/dev/null | grep -q finished && break
  sleep 0.1
done
check "journalctl -u cordond CORDON_TASK_ID=<id> finds the task's lines" \
  contains "$(journalctl -u cordond CORDON_TASK_ID="$tid" --no-pager -o cat 2>&1)" "task $tid finished: exit 0"
check "cordon ps lists the task" contains "$(cordon ps --all 2>&1)" "/bin/echo"

check "apt-get remove cordon" env DEBIAN_FRONTEND=noninteractive apt-get remove -y -q cordon
check "after removal cordond.socket is stopped" expect_eq "$(systemctl is-active cordond.socket)" inactive
check "after removal the configuration stays (until purge)" test -f /etc/cordon/principals.json
finish 6
