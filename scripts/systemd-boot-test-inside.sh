#!/usr/bin/env bash
# The checks of scripts/systemd-boot-test.sh, run inside the booted container by systemd (as the
# oneshot cordon-boot-test.service). Writes OUT/report (one line per check) and OUT/result
# (PASS or FAIL).
set -u
OUT=${1:-/out}
CORDON=/opt/cordon/bin/cordon
# shellcheck source=scripts/systemd-boot-test-checks.sh
source "$(dirname "${BASH_SOURCE[0]}")/systemd-boot-test-checks.sh"
report "systemd $(systemctl --version | head -1 | cut -d' ' -f2) is PID 1: $(cat /proc/1/comm)"
check "cordond.socket is listening at boot" expect_eq "$(systemctl is-active cordond.socket)" active
check "cordond.service is not started before the first submit" expect_eq "$(systemctl is-active cordond.service)" inactive

out=$($CORDON submit -- /bin/echo hello-from-a-task 2>&1)
check "the first submit starts cordond and its task runs" expect_eq "$out" hello-from-a-task
check "READY=1: the service is active (running)" \
  contains "$(systemctl show -p ActiveState,SubState cordond.service | tr '\n' ' ')" "ActiveState=active SubState=running"
status=$(systemctl show -p StatusText --value cordond.service)
report "      STATUS= as systemd shows it: $status"
check "STATUS= says tasks and pool" contains "$status" "tasks running, pool"
pid=$(systemctl show -p MainPID --value cordond.service)
if [[ $(stat -f -c %T /sys/fs/cgroup) == cgroup2fs ]]; then
  check "cordond moved itself into the leaf of its delegated cgroup" \
    contains "$(grep '^0::' /proc/"$pid"/cgroup)" "/system.slice/cordond.service/supervisor"
else
  # Hybrid or v1 host: the controllers are on v1 hierarchies, which systemd does not delegate;
  # cordond says so in its log and tasks fall back to rlimits (docs/cgroups.md).
  report "SKIP  delegated cgroup leaf: this host's cgroups are hybrid/v1 ($(stat -f -c %T /sys/fs/cgroup) on /sys/fs/cgroup), only cgroup2 is delegated"
fi

# Structured journal fields (supervisor/daemon/journal.h): the task's own lines by its id.
tid=$($CORDON submit --detach -- /bin/true 2>&1)
$CORDON wait "$tid" >/dev/null 2>&1
# journald stores what it is sent asynchronously: look again until the finished line is there (5 s).
for ((i = 0; i < 50; i++)); do
  journalctl -u cordond.service CORDON_TASK_ID="$tid" --no-pager -o cat 2>/dev/null | grep -q finished && break
  sleep 0.1
done
lines=$(journalctl -u cordond.service CORDON_TASK_ID="$tid" --no-pager -o cat 2>&1)
check "journalctl CORDON_TASK_ID=<id> finds the task's admitted line" contains "$lines" "task $tid admitted: principal operator"
check "journalctl CORDON_TASK_ID=<id> finds the task's finished line" contains "$lines" "task $tid finished: exit 0, failure_class none"
check "the finished line has its MESSAGE_ID and the principal" contains \
  "$(journalctl -u cordond.service MESSAGE_ID=67a1b3314a5c4a37885a4c57250cedf3 CORDON_PRINCIPAL=operator --no-pager -o cat 2>&1)" "task $tid finished"
check "lines are not also on stderr (no 'cordond: ' prefix in the journal)" \
  expect_eq "$(journalctl -u cordond.service CORDON_TASK_ID="$tid" --no-pager -o cat | grep -c '^cordond: ')" 0
report "      journal fields of one line: $(journalctl -u cordond.service CORDON_TASK_ID="$tid" MESSAGE_ID=67a1b3314a5c4a37885a4c57250cedf3 -o export --no-pager | grep -E '^(PRIORITY|MESSAGE_ID|CORDON_TASK_ID|CORDON_PRINCIPAL|SYSLOG_IDENTIFIER)=' | tr '\n' ' ')"

systemctl reload cordond.service
check "systemctl reload: the service is still active" expect_eq "$(systemctl is-active cordond.service)" active
sleep 0.5
check "systemctl reload: cordond logged the reload" contains "$(journalctl -u cordond.service --no-pager -o cat)" "SIGHUP:"

id=$($CORDON submit --detach -- /bin/sleep 300 2>&1)
sleep 0.5
systemctl stop cordond.service
check "systemctl stop: the service stopped cleanly" expect_eq "$(systemctl show -p Result --value cordond.service)" success
# The next call starts cordond again through the socket; the stopped task's record is there.
st=$($CORDON status "$id" 2>&1)
check "systemctl stop: the running task is recorded as killed" contains "$st" "killed"
check "the journal holds cordond's lines" contains "$(journalctl -u cordond.service --no-pager -o cat)" "listening on /run/cordon/cordond.sock (socket from systemd)"
finish 12
