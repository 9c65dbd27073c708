#!/bin/busybox sh
# scripts/v2vm/init.sh: /init of the pure-cgroup-v2 test VM's initramfs (run by the kernel as PID 1,
# busybox only). Loads the 9p and overlay modules the initramfs carries, mounts the host's root
# filesystem (shared read-only by qemu as "hostroot") under a tmpfs overlay, mounts the writable
# output share ("v2vmout"), and hands PID 1 to scripts/v2vm/inside.sh in that tree. Built into the
# initramfs by scripts/v2vm/run.sh; the kernel command line carries v2vm.inside=<path of inside.sh>.
/bin/busybox mkdir -p /proc /sys /dev /lower /rw /newroot
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev
export PATH=/bin
echo "v2vm: initramfs up at $(cut -d' ' -f1 /proc/uptime) s"
while read -r mod; do insmod "/modules/$mod" || echo "v2vm: insmod $mod failed"; done </modules/order
fail() { echo "v2vm: $*"; echo "V2VM-RESULT rc=125"; echo o >/proc/sysrq-trigger; sleep 5; }
# cache=loose: the host tree is read-only for the run, so the guest may cache it.
mount -t 9p -o ro,trans=virtio,version=9p2000.L,cache=loose,msize=512000 hostroot /lower || fail "mount hostroot"
mount -t tmpfs -o mode=0755,size=80% tmpfs /rw || fail "mount tmpfs"
mkdir -p /rw/upper /rw/work
mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work overlay /newroot || fail "mount overlay"
inside=$(sed -n 's/.*v2vm\.inside=\([^ ]*\).*/\1/p' /proc/cmdline)
[ -x "/newroot$inside" ] || fail "no executable $inside in the host tree"
mkdir -p /newroot/v2vm-out
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 v2vmout /newroot/v2vm-out || fail "mount v2vmout"
umount /proc /sys /dev 2>/dev/null
exec switch_root /newroot "$inside"
