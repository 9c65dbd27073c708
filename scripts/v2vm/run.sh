#!/usr/bin/env bash
# scripts/v2vm/run.sh: runs Cordon's cgroup, limits, sandbox and daemon tests on a pure cgroup v2
# kernel, rootful and rootless, in a qemu VM (docs/cgroups.md, "Tested on pure cgroup v2").
#
#   scripts/v2vm/run.sh            the full run (10–45 min under TCG on 2 shared cores, by load)
#   scripts/v2vm/run.sh --short    the v2 checks and a few tests per area (what CI runs)
#   scripts/v2vm/run.sh --regex 'RE' [--phases rootful|rootless|rootful,rootless]
#   scripts/v2vm/run.sh --exec FILE   runs bash FILE as root in the VM instead of the tests
#
# From Debian packages only: qemu-system-x86 (TCG when there is no /dev/kvm), Debian's kernel
# (linux-image-amd64's image package, fetched once with apt-get download and unpacked into
# build/v2vm/kernel; or /boot's; or KERNEL=path with its /lib/modules), busybox-static, cpio and
# kmod for the initramfs. Offline once the kernel is there. The initramfs holds busybox and the kernel's virtio/9p/overlay modules
# only: the guest mounts this host's root filesystem read-only over 9p under a tmpfs overlay, so it
# runs this very build tree (build/) with the host's own libraries, ctest and python3. The kernel is
# booted with cgroup_no_v1=all systemd.unified_cgroup_hierarchy=1 psi=1; scripts/v2vm/inside.sh
# (PID 1 in the guest) mounts cgroup2 alone, lays out the tree as systemd does, and runs the phases.
# Needs root (qemu exports / to the guest) and a built tree (scripts/build.sh).
# Output: the console on stdout and in build/v2vm/console.log; JUnit files in build/v2vm/out/.
# Exit: the guest's result (0 = every test passed and every skip is listed in
# scripts/v2vm/expected-skips-{rootful,rootless}.txt), 124 when the VM timed out, 125 when the VM
# could not be set up.
set -euo pipefail
cd "$(dirname "$0")/../.."
SRC=$(pwd)
BUILD=$SRC/build
V2VM_DIR=${V2VM_DIR:-$BUILD/v2vm}  # its kernel, initramfs, console log and out/ (the guest's share)

FULL_REGEX='^(CgroupTest|Limits|DefaultBudgets|SandboxBudgets|Sandbox|Network|Daemon|DaemonFault|DaemonLoop|DaemonPool|DaemonPeers|DaemonInput|DaemonSyncFault|KillSwitch)\.'
# The short form: one test per v2 path the full run covers (limits, usage, OOM, pids, kill, freeze,
# sweep), one sandbox and one daemon round trip.
SHORT_REGEX='^(CgroupTest\.(LayoutOfThisHost|ReadUsageOfRealChild|MemoryLimitOomKills|PidsLimitFailsTheNinthProcess|CloneIntoCgroupAndCgroupKill)|Limits\.(MemoryHogEndsOomWithPeakWithinLimit|ForkLoopHitsPidsLimit)|KillSwitch\.FreezeFreezesRunningCgroupsThawResumesKillEndsThem|Sandbox\.EveryNamespaceDiffersFromTheHost|Daemon\.CancelKillsTheSandbox)$'

# Tests whose bound is a native machine's wall-clock or CPU time (latency under a flood, a cold
# flood's delay to another tenant, idle CPU of the daemon, 200 tasks within 120 s, a wall limit
# within 1.5 s, 100,000 files written): TCG runs code 10-50 times slower, so they cannot hold
# there; left out under TCG only, by name.
TCG_SLOW='^(DaemonPeers\.(DenialFloodDoesNotDelayOtherTenants|AStateWalkAtATasksEndDoesNotDelayOthers)|DaemonLoop\.(AStateWalkBeforeAColdStartDoesNotDelayOthers|ColdSubmitFloodDoesNotDelayAnotherTenant)|DaemonPool\.DaemonDoesNotSpinWhileATaskRuns|Daemon\.TwoHundredConcurrentTasksLeakNoFds|Limits\.SleepEndsWallTimeoutWithinASecond)$'
regex=$FULL_REGEX
exec_script=""
timeout_each=1200  # per test: Limits.NoCgroupIsLeftAfterManyTasks runs 500 sandboxes, ~650 s under TCG
vm_timeout=$((4 * 3600))
phases=rootful,rootless
mem=3072
test_user=${CORDON_TEST_USER:-cordon-test}
while (($#)); do
  case $1 in
    --short) regex=$SHORT_REGEX; vm_timeout=$((40 * 60)) ;;
    --regex) regex=$2; shift ;;
    --phases) phases=$2; shift ;;
    --mem) mem=$2; shift ;;
    --timeout) timeout_each=$2; shift ;;
    --exec) exec_script=$(realpath "$2"); shift ;;
    -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "v2vm: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

die() { echo "v2vm: $*" >&2; exit 125; }
[[ $(id -u) -eq 0 ]] || die "run as root: qemu shares this host's root filesystem with the guest read-only"
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 missing: apt-get install qemu-system-x86"
command -v cpio >/dev/null || die "cpio missing: apt-get install cpio"
command -v depmod >/dev/null || die "depmod missing: apt-get install kmod"
[[ -x /bin/busybox ]] || die "/bin/busybox missing: apt-get install busybox-static"
[[ -x $BUILD/bin/cordon && -x $BUILD/tests/vm_v2_host_test ]] || die "no build in $BUILD: run scripts/build.sh first"
id -u "$test_user" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$test_user"
# The rootless phase runs as $test_user: where it cannot read this tree (a clone under /root), it
# runs the copy scripts/test.sh built for its own rootless pass.
rl_build=$BUILD
if [[ $phases == *rootless* ]] && ! runuser -u "$test_user" -- test -x "$BUILD/bin/cordon"; then
  rl_build=/var/tmp/cordon-rootless/main/build
  runuser -u "$test_user" -- test -x "$rl_build/tests/vm_v2_host_test" ||
    die "$test_user cannot read $BUILD, and there is no readable copy in $rl_build: run scripts/test.sh first, or clone where $test_user can read"
fi

# The kernel: KERNEL=path (its modules in /lib/modules), else Debian's current linux-image-amd64
# unpacked into build/v2vm/kernel (apt-get download + dpkg-deb -x: nothing is installed on this
# host, no initramfs is generated for it), else the newest /boot/vmlinuz-*.
moddir=/
if [[ -n ${KERNEL:-} ]]; then
  kernel=$KERNEL
else
  kdir=$V2VM_DIR/kernel
  if ! ls "$kdir"/boot/vmlinuz-* >/dev/null 2>&1; then
    pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
    if [[ -n $pkg ]]; then
      echo "v2vm: fetching $pkg (apt-get download) into $kdir"
      rm -rf "$kdir" && mkdir -p "$kdir/deb"
      (cd "$kdir/deb" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >/dev/null) && dpkg-deb -x "$kdir"/deb/*.deb "$kdir" ||
        echo "v2vm: could not fetch $pkg; looking in /boot" >&2
    fi
  fi
  kernel=$(ls -1v "$kdir"/boot/vmlinuz-* 2>/dev/null | tail -n1)
  if [[ -n $kernel ]]; then
    moddir=$kdir
  else
    kernel=$(ls -1v /boot/vmlinuz-* 2>/dev/null | tail -n1)
  fi
fi
[[ -n $kernel && -r $kernel ]] || die "no kernel: apt-get install linux-image-amd64, or set KERNEL=path"
kver=${kernel##*/vmlinuz-}
[[ -d $moddir/lib/modules/$kver ]] || die "no $moddir/lib/modules/$kver for $kernel"
[[ -s $moddir/lib/modules/$kver/modules.dep ]] || depmod -b "$moddir" "$kver"
# The regex travels on the kernel command line, where a space would split it.
[[ $regex != *' '* ]] || die "--regex must not contain spaces"

mkdir -p "$V2VM_DIR"
rm -rf "$V2VM_DIR/out" && mkdir -p "$V2VM_DIR/out" && chmod 1777 "$V2VM_DIR/out"  # the rootless phase copies its JUnit there

# The initramfs: busybox, the modules that reach the host tree (with their dependencies, in load
# order, decompressed so that busybox insmod takes them), and init.sh.
initrd=$V2VM_DIR/initrd-$kver.cpio.gz
if [[ ! -s $initrd || $initrd -ot $SRC/scripts/v2vm/init.sh || $initrd -ot $kernel ]]; then
  stage=$(mktemp -d)
  trap 'rm -rf "$stage"' EXIT
  mkdir -p "$stage/bin" "$stage/modules"
  cp /bin/busybox "$stage/bin/busybox"
  for applet in sh mount umount mkdir insmod sed cut cat sleep switch_root echo; do ln -s busybox "$stage/bin/$applet"; done
  cp "$SRC/scripts/v2vm/init.sh" "$stage/init"
  for m in virtio_pci 9pnet_virtio 9p overlay; do
    modprobe -d "$moddir" -S "$kver" --show-depends "$m" | awk '$1 == "insmod" {print $2}'
  done | awk '!seen[$0]++' | while read -r ko; do
    name=$(basename "$ko")
    case $ko in
      *.xz) xz -dc "$ko" >"$stage/modules/${name%.xz}"; name=${name%.xz} ;;
      *.zst) zstd -qdc "$ko" >"$stage/modules/${name%.zst}"; name=${name%.zst} ;;
      *) cp "$ko" "$stage/modules/$name" ;;
    esac
    echo "$name" >>"$stage/modules/order"
  done
  (cd "$stage" && find . | cpio -o -H newc --quiet | gzip -1) >"$initrd.tmp"
  mv "$initrd.tmp" "$initrd"
fi

accel=tcg
[[ -w /dev/kvm ]] && accel=kvm
append="console=ttyS0 quiet panic=-1 cgroup_no_v1=all systemd.unified_cgroup_hierarchy=1 psi=1"
append+=" v2vm.inside=$SRC/scripts/v2vm/inside.sh v2vm.build=$BUILD v2vm.regex=$regex"
append+=" v2vm.user=$test_user v2vm.timeout=$timeout_each v2vm.phases=$phases v2vm.rlbuild=$rl_build"
[[ $accel == kvm ]] || append+=" v2vm.exclude=$TCG_SLOW"
if [[ -n $exec_script ]]; then
  # The guest mounts its own /tmp: the script goes where the guest sees the host's tree.
  cp "$exec_script" "$V2VM_DIR/exec.sh"
  append+=" v2vm.exec=$V2VM_DIR/exec.sh"
fi
echo "v2vm: kernel $kernel, accel $accel, 2 CPUs, $mem MiB; tests: $regex; phases: $phases"
[[ $accel == kvm ]] || echo "v2vm: left out under TCG (native time bounds): $TCG_SLOW"

start=$(date +%s.%N)
booted=""
set +e
timeout --foreground "$vm_timeout" qemu-system-x86_64 \
  -machine q35 -accel "$accel" -cpu max -smp 2 -m "$mem" \
  -display none -monitor none -serial stdio -no-reboot -nic none \
  -kernel "$kernel" -initrd "$initrd" -append "$append" \
  -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
  -virtfs "local,path=$V2VM_DIR/out,mount_tag=v2vmout,security_model=none" \
  </dev/null 2>&1 | while IFS= read -r line; do
    line=${line%$'\r'}
    printf '%s\n' "$line"
    if [[ -z $booted && $line == V2VM-BOOTED* ]]; then
      booted=1
      echo "V2VM-HOST boot took $(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s (qemu start to the guest's PID 1 script)"
    fi
  done | tee "$V2VM_DIR/console.log"
vm_rc=${PIPESTATUS[0]}
set -e
total=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')
echo "V2VM-HOST VM total $total s"
if ((vm_rc == 124)); then echo "v2vm: the VM did not finish within $vm_timeout s" >&2; exit 124; fi
[[ -s $V2VM_DIR/out/rc ]] || die "the guest reported no result (see $V2VM_DIR/console.log)"
exit "$(cat "$V2VM_DIR/out/rc")"
