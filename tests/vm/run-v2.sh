#!/bin/sh
# Runs the husk-cgroups tests on a pure cgroup v2 host: boots a throwaway VM
# (qemu TCG, Debian's distribution kernel), shares the host's / read-only over
# 9p as the guest's root, gives it a scratch disk for block I/O limits, mounts
# cgroup2 at /sys/fs/cgroup, and runs the test binaries built here on the
# host. Exits with the tests' status.
#
# Needs (as root): qemu-system-x86, linux-image-amd64, busybox-static, jq.
# Environment: HUSK_VM_KERNEL=<version> picks a kernel from /boot (default:
# the newest *-amd64), HUSK_VM_TIMEOUT=<seconds> (default 3600).
set -eu

repo=$(cd "$(dirname "$0")/../.." && pwd)
kver=${HUSK_VM_KERNEL:-$(ls /boot | sed -n 's/^vmlinuz-\(.*-amd64\)$/\1/p' | sort -V | tail -n 1)}
[ -n "$kver" ] && [ -f "/boot/vmlinuz-$kver" ] || { echo "run-v2.sh: no /boot/vmlinuz-*-amd64; apt-get install linux-image-amd64" >&2; exit 2; }
command -v qemu-system-x86_64 >/dev/null || { echo "run-v2.sh: apt-get install qemu-system-x86" >&2; exit 2; }

work=$(mktemp -d /tmp/husk-vm.XXXXXX)
trap 'rm -rf "$work"' EXIT INT TERM

# The test binaries, built on the host (the guest shares the host's tree).
(cd "$repo" && cargo test -p husk-cgroups --no-run --message-format=json) |
    jq -r 'select(.reason == "compiler-artifact" and .profile.test == true) | .executable // empty' >"$work/tests"
[ -s "$work/tests" ] || { echo "run-v2.sh: no test binaries were built" >&2; exit 2; }

# initramfs: static busybox, the modules 9p over virtio needs, and /init.
root="$work/initramfs"
mkdir -p "$root/bin" "$root/mod" "$root/proc" "$root/sys" "$root/dev" "$root/newroot"
cp /bin/busybox "$root/bin/busybox"
cp "$work/tests" "$root/tests"
for module in virtio_pci virtio_blk 9pnet_virtio 9p; do
    modprobe -S "$kver" --show-depends "$module" | sed -n 's/^insmod \([^ ]*\).*/\1/p'
done | awk '!seen[$0]++' >"$work/modules"
: >"$root/mod/order"
while read -r ko; do
    cp "$ko" "$root/mod/"
    basename "$ko" >>"$root/mod/order"
done <"$work/modules"

cat >"$root/init" <<'INIT'
#!/bin/busybox sh
bb=/bin/busybox
$bb mount -t proc proc /proc
$bb mount -t sysfs sysfs /sys
$bb mount -t devtmpfs devtmpfs /dev
for ko in $($bb cat /mod/order); do $bb insmod "/mod/$ko" || echo "insmod $ko failed"; done
$bb mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=524288 hostroot /newroot
$bb mount -t proc proc /newroot/proc
$bb mount -t sysfs sysfs /newroot/sys
$bb mount -t cgroup2 cgroup2 /newroot/sys/fs/cgroup
$bb mount -t devtmpfs devtmpfs /newroot/dev
$bb mount -t tmpfs tmpfs /newroot/tmp
$bb mount -t tmpfs tmpfs /newroot/run
$bb mount -t hugetlbfs hugetlbfs /newroot/dev/hugepages 2>/dev/null
status=0
for test in $($bb cat /tests); do
    echo "=== $test"
    $bb chroot /newroot /bin/sh -c "cd /tmp && exec $test --test-threads=2" || status=1
done
echo "HUSK-VM-RESULT $status"
$bb poweroff -f
INIT
chmod +x "$root/init"
(cd "$root" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1) >"$work/initramfs.gz"

# A scratch disk, so that block I/O limits have a device to apply to.
truncate -s 16M "$work/scratch.img"

start=$(date +%s)
timeout "${HUSK_VM_TIMEOUT:-3600}" qemu-system-x86_64 \
    -machine q35 -accel tcg -cpu max -smp 2 -m 1536 \
    -nographic -no-reboot \
    -kernel "/boot/vmlinuz-$kver" -initrd "$work/initramfs.gz" \
    -append "console=ttyS0 panic=-1 quiet" \
    -drive "if=virtio,format=raw,file=$work/scratch.img" \
    -virtfs "local,path=/,mount_tag=hostroot,security_model=passthrough,readonly=on,multidevs=remap" \
    </dev/null | tee "$work/console"
echo "run-v2.sh: VM run took $(($(date +%s) - start)) s (kernel $kver)"

result=$(sed -n 's/^HUSK-VM-RESULT \([0-9]*\).*/\1/p' "$work/console" | tail -n 1)
[ -n "$result" ] || { echo "run-v2.sh: the VM did not report a result" >&2; exit 1; }
exit "$result"
