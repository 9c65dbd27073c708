#!/usr/bin/env bash
# scripts/v2vm/inside.sh: PID 1 of the pure-cgroup-v2 test VM, after init.sh switched to the host's
# tree (read-only 9p under a tmpfs overlay). Mounts what systemd would (cgroup2 alone, with
# nsdelegate and memory_recursiveprot), lays out the cgroup tree as systemd does on a pure v2 host,
# then runs the v2 checks (build/tests/vm_v2_host_test) and the selected ctest tests twice:
#   rootful  as root, from system.slice/v2vm-rootful.service (Cordon's base: /sys/fs/cgroup/cordon.slice);
#   rootless as $V2VM_USER, from user.slice/user-UID.slice/user@UID.service/app.slice/v2vm-tests.scope,
#            the subtree chowned to that user with systemd's delegate xattr, as user@.service gets it.
# Everything is printed on the console (ttyS0, which run.sh tees to a log) and the JUnit files go to
# the output share. The last line is "V2VM-RESULT rc=N"; then the VM powers off.
# Settings come from the kernel command line: v2vm.build=DIR v2vm.regex=RE v2vm.user=NAME
# v2vm.timeout=SECONDS v2vm.phases=rootful,rootless [v2vm.exclude=RE] [v2vm.exec=SCRIPT]
# [v2vm.rlbuild=DIR: the rootless phase's build tree, when the user cannot read v2vm.build].
set -uo pipefail
export PATH=/usr/sbin:/usr/bin:/sbin:/bin

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs -o mode=0755 tmpfs /run
# /tmp and /var/tmp stay the host's, under the overlay's writable tmpfs: a checkout under /tmp (as
# CI may clone one) must stay visible, so no fresh tmpfs goes over them.
# What systemd mounts on a unified host: cgroup2 only, nsdelegate (a cgroup namespace is a
# delegation boundary), memory_recursiveprot.
mount -t cgroup2 -o nsdelegate,memory_recursiveprot cgroup2 /sys/fs/cgroup
ip link set lo up
hostname v2vm

arg() { sed -n "s/.*v2vm\.$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
BUILD=$(arg build)
SRC=$(dirname "$BUILD")
REGEX=$(arg regex)
EXCLUDE=$(arg exclude)
TEST_USER=$(arg user)
TIMEOUT=$(arg timeout)
PHASES=$(arg phases)
OUT=/v2vm-out
CG=/sys/fs/cgroup

finish() {
  echo "V2VM-RESULT rc=$1"
  echo "$1" >"$OUT/rc"
  sync
  echo o >/proc/sysrq-trigger
  sleep 30
}

echo "V2VM-BOOTED uptime=$(cut -d' ' -f1 /proc/uptime)"
echo "== host: $(uname -srm), $(nproc) CPUs, $(awk '/MemTotal/{print int($2/1024) " MiB"}' /proc/meminfo)"
echo "== kernel command line: $(cat /proc/cmdline)"
echo "== cgroup mounts (/proc/self/mountinfo):"
grep -E ' - cgroup2? ' /proc/self/mountinfo | awk '{print "   " $5, $(NF-2), $NF}'
if grep -q ' - cgroup ' /proc/self/mountinfo; then
  echo "v2vm: a cgroup v1 hierarchy is mounted; this VM must be pure v2"
  finish 125
fi
echo "== v1 controllers the kernel disabled: $(awk 'NR>1 && $2==0 {printf "%s ", $1}' /proc/cgroups)"
echo "== $CG/cgroup.controllers: $(cat $CG/cgroup.controllers)"

# The tree systemd builds: PID 1 in init.scope; memory and pids accounting on by default
# (DefaultMemoryAccounting, DefaultTasksAccounting); user@.service gets Delegate=pids memory cpu,
# so cpu is enabled down to it.
mkdir -p $CG/init.scope
echo $$ >$CG/init.scope/cgroup.procs
echo "+cpu +memory +pids" >$CG/cgroup.subtree_control
mkdir -p $CG/system.slice $CG/user.slice
echo "+memory +pids" >$CG/system.slice/cgroup.subtree_control

uid=$(id -u "$TEST_USER")
gid=$(id -g "$TEST_USER")
USER_SLICE=$CG/user.slice/user-$uid.slice
USER_SVC=$USER_SLICE/user@$uid.service
echo "+cpu +memory +pids" >$CG/user.slice/cgroup.subtree_control
mkdir -p "$USER_SVC"
echo "+cpu +memory +pids" >"$USER_SLICE/cgroup.subtree_control"
# Delegation as systemd does it (src/core/cgroup.c: unit_cgroup_delegate chowns the directory and
# the files listed in /sys/kernel/cgroup/delegate, then marks the cgroup with the delegate xattr).
chown "$uid:$gid" "$USER_SVC"
while read -r f; do
  [[ -e $USER_SVC/$f ]] && chown "$uid:$gid" "$USER_SVC/$f"
done </sys/kernel/cgroup/delegate
python3 -c 'import os, sys; os.setxattr(sys.argv[1], "trusted.delegate", b"1")' "$USER_SVC"
as_user() { setpriv --reuid="$uid" --regid="$gid" --init-groups --reset-env -- "$@"; }
# The user manager's own steps, done as the user: init.scope for itself, app.slice for units, the
# controllers it was given passed down.
as_user sh -c "mkdir $USER_SVC/init.scope $USER_SVC/app.slice $USER_SVC/app.slice/v2vm-tests.scope &&
  echo '+cpu +memory +pids' >$USER_SVC/cgroup.subtree_control &&
  echo '+cpu +memory +pids' >$USER_SVC/app.slice/cgroup.subtree_control" ||
  { echo "v2vm: the delegated subtree refused the user manager's steps"; finish 125; }
echo "== delegated to $TEST_USER ($uid): $USER_SVC"
ls -ld "$USER_SVC" "$USER_SVC/cgroup.procs" "$USER_SVC/cgroup.subtree_control" | sed 's/^/   /'

RL_BUILD=$(arg rlbuild)
RL_BUILD=${RL_BUILD:-$BUILD}
mkdir -p "$BUILD/Testing" "$RL_BUILD/Testing"
rc=0
declare -A took
run_phase() {  # run_phase NAME CGROUP_DIR BUILD_DIR RUNNER...
  local name=$1 dir=$2 BUILD=$3 SRC
  SRC=$(dirname "$3")
  shift 3
  local t0=$SECONDS prc=0
  # ctest's logs under build/Testing: the pass before may have been another user's.
  chown -R "$(stat -c %u:%g "$dir")" "$BUILD/Testing"
  echo
  echo "================ $name: $(date -u +%T), in ${dir#"$CG"} ================"
  # A fresh shell enters the phase's cgroup (as root: a move across the delegation boundary needs
  # the common ancestor's cgroup.procs) before it drops to the phase's user, as systemd starts a unit.
  sh -c "echo \$\$ >'$dir/cgroup.procs' && exec \"\$@\"" sh "$@" bash -c '
    set -u
    echo "-- /proc/self/cgroup: $(cat /proc/self/cgroup)"
    echo "-- tests/vm: the v2 checks (build/tests/vm_v2_host_test)"
    prc=0
    "$0/tests/vm_v2_host_test" --gtest_color=no || prc=1
    echo "-- ctest -R \"$1\" ${5:+-E \"$5\"}"
    ctest --test-dir "$0" -R "$1" ${5:+-E "$5"} --timeout "$2" -j2 --output-on-failure --no-tests=error \
      --output-junit "$0/Testing/junit-v2vm-$3.xml" || prc=1
    cp "$0/Testing/junit-v2vm-$3.xml" /v2vm-out/ 2>/dev/null
    python3 "$4/scripts/check_skips.py" "$0/Testing/junit-v2vm-$3.xml" "$4/scripts/v2vm/expected-skips-$3.txt" || prc=1
    exit $prc' "$BUILD" "$REGEX" "$TIMEOUT" "$name" "$SRC" "$EXCLUDE" || prc=$?
  took[$name]=$((SECONDS - t0))
  echo "================ $name: exit $prc after ${took[$name]} s ================"
  ((prc)) && rc=1
}

EXEC=$(arg exec)
if [[ -n $EXEC ]]; then
  # run.sh --exec FILE: a script of the developer's, as root in system.slice/v2vm-exec.service,
  # instead of the phases (to look around on a pure v2 kernel).
  mkdir -p $CG/system.slice/v2vm-exec.service
  sh -c "echo \$\$ >$CG/system.slice/v2vm-exec.service/cgroup.procs && exec bash '$EXEC'"
  finish $?
fi

for phase in ${PHASES//,/ }; do
  case $phase in
    rootful)
      mkdir -p $CG/system.slice/v2vm-rootful.service
      run_phase rootful $CG/system.slice/v2vm-rootful.service "$BUILD" env HOME=/root TMPDIR=/tmp ;;
    rootless)
      run_phase rootless "$USER_SVC/app.slice/v2vm-tests.scope" "$RL_BUILD" \
        setpriv --reuid="$uid" --regid="$gid" --init-groups --reset-env \
        env HOME=/tmp TMPDIR=/tmp PATH="$PATH" ;;
  esac
done

echo
for p in "${!took[@]}"; do echo "V2VM-TIME $p ${took[$p]} s"; done
echo "== left in $CG after the runs: $(find $CG -name 'task-*' -type d | wc -l) task cgroups"
find "$CG" -name 'task-*' -type d | head -20 | sed 's/^/   /'
finish $rc
