#!/bin/sh
# Runs tests on hosts whose cgroup layout this machine does not have: boots a
# throwaway VM (qemu TCG: KVM is unreliable nested; Debian's distribution
# kernel) whose root is the host's / (read-only, over 9p) under a tmpfs
# overlay, and runs there test binaries built here on the host (they find the
# husk binary through the path cargo baked in at build time, which exists in
# the guest). Exits non-zero when any test fails.
#
#   run.sh v2   pure cgroup v2 at /sys/fs/cgroup, every controller: the
#               husk-cgroups crate's tests, husk's CLI cgroup and exec suites,
#               and the podman, containerd and Docker suites (tests/clients).
#   run.sh v1   pure cgroup v1 laid out as systemd did (cpu,cpuacct and
#               net_cls,net_prio co-mounted, a named name=systemd hierarchy):
#               the husk-cgroups crate's tests and husk's CLI cgroup suite.
#
# Both guests get what this machine lacks for the remaining resource rows:
# scratch disks for block I/O limits (vda takes weights: on v1 through the BFQ
# scheduler, the only one left with v1 weight files, on v2 through the cost
# model; vdb does not, for the error) and a soft-RoCE RDMA device (rdma.max).
# The tests are told, through HUSK_TEST_EXPECT, which of these the guest has,
# so that they fail there instead of skipping.
#
# Needs root; installs qemu-system-x86, linux-image-amd64, busybox-static, jq,
# kmod, iproute2 when missing (a client suite skips itself without its client).
# Environment: HUSK_VM_KERNEL=<version> picks a kernel from /boot (default:
# the newest *-amd64), HUSK_VM_TIMEOUT=<seconds> (default 1200).
set -eu

mode=${1:-v2}
case $mode in
v2)
    cli_suites="--test cgroups --test exec"
    # Weights through io.weight, the cost model (enabled on the disk below);
    # loop: podman's --privileged scenario looks for /dev/loop-control.
    extra_modules="loop"
    client_suites="podman containerd docker"
    expect="rdma,blkio-weight,blkio-weight-device"
    ;;
v1)
    cli_suites="--test cgroups"
    # BFQ is the only scheduler left with v1 weight files (blkio.bfq.weight).
    extra_modules="bfq"
    client_suites=""
    expect="rdma,blkio-weight,blkio-weight-device,net_cls,net_prio"
    ;;
*)
    echo "usage: run.sh [v2|v1]" >&2
    exit 2
    ;;
esac
me="run.sh $mode"

repo=$(cd "$(dirname "$0")/../.." && pwd)

missing=""
for package in qemu-system-x86 linux-image-amd64 busybox-static jq kmod iproute2; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $package"
done
if [ -n "$missing" ]; then
    echo "$me: installing:$missing"
    apt-get update -qq
    # shellcheck disable=SC2086 # one word per package
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi

kver=${HUSK_VM_KERNEL:-$(ls /boot | sed -n 's/^vmlinuz-\(.*-amd64\)$/\1/p' | sort -V | tail -n 1)}
[ -n "$kver" ] && [ -f "/boot/vmlinuz-$kver" ] || { echo "$me: no /boot/vmlinuz-*-amd64" >&2; exit 2; }

work=$(mktemp -d /tmp/husk-vm.XXXXXX)
trap 'rm -rf "$work"' EXIT INT TERM

# The test binaries, built on the host (the guest shares the host's tree).
# Building husk's cgroups suite also builds the husk binary it runs.
test_binaries() {
    (cd "$repo" && cargo test "$@" --no-run --message-format=json) |
        jq -r 'select(.reason == "compiler-artifact" and .profile.test == true) | .executable // empty'
}
test_binaries -p husk-cgroups >"$work/crate-tests"
# shellcheck disable=SC2086 # one word per flag
test_binaries -p husk $cli_suites >"$work/cli-tests"
# A failed build shows as a missing binary (the pipeline's status is jq's).
[ -s "$work/crate-tests" ] && [ -s "$work/cli-tests" ] ||
    { echo "$me: the test binaries were not built" >&2; exit 2; }
# One command a line, run in the guest's /tmp.
sed 's/$/ --test-threads=2/' "$work/crate-tests" "$work/cli-tests" >"$work/tests"
for suite in $client_suites; do
    echo "bash $repo/tests/clients/$suite.sh $repo/target/debug/husk" >>"$work/tests"
done
# The guest's / is read-only: the in-container probe must be prebuilt (static).
(cd "$repo" && RUSTFLAGS="-C target-feature=+crt-static" cargo build --release -p husk-checker \
    --target x86_64-unknown-linux-gnu --target-dir target/static)
checker="$repo/target/static/x86_64-unknown-linux-gnu/release/husk-checker"

# initramfs: static busybox, the modules 9p over virtio needs, and /init.
root="$work/initramfs"
mkdir -p "$root/bin" "$root/mod" "$root/proc" "$root/sys" "$root/dev" "$root/newroot"
cp /bin/busybox "$root/bin/busybox"
cp "$work/tests" "$root/tests"
cat >"$root/environment" <<EOF
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
export HUSK_CHECKER=$checker HUSK_TEST_EXPECT=$expect
HUSK_REPO=$repo
HUSK_VM_MODE=$mode
EOF
# crc32_generic: soft-RoCE asks the crypto API for "crc32" when a device is
# added, a dependency modprobe does not list (and the guest cannot load later).
for module in virtio_pci virtio_blk 9pnet_virtio 9p overlay $extra_modules dummy crc32_generic rdma_rxe; do
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
. /environment
# The guest's root: the host's / (read-only, over 9p) under a tmpfs overlay,
# so that the guest writes where it likes and the host is never touched.
$bb mkdir -p /lower /rw /newroot
$bb mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=524288 hostroot /lower
$bb mount -t tmpfs tmpfs /rw
$bb mkdir /rw/upper /rw/work
$bb mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work overlay /newroot
$bb mount -t proc proc /newroot/proc
$bb mount -t sysfs sysfs /newroot/sys
if [ "$HUSK_VM_MODE" = v1 ]; then
    cgroups=/newroot/sys/fs/cgroup
    $bb mount -t tmpfs -o mode=755 cgroup $cgroups
    for set in cpuset cpu,cpuacct blkio memory devices freezer net_cls,net_prio perf_event hugetlb pids rdma misc; do
        $bb mkdir $cgroups/$set
        $bb mount -t cgroup -o $set cgroup $cgroups/$set || echo "mount cgroup $set failed"
    done
    for link in cpu:cpu,cpuacct cpuacct:cpu,cpuacct net_cls:net_cls,net_prio net_prio:net_cls,net_prio; do
        $bb ln -s "${link#*:}" "$cgroups/${link%%:*}"
    done
    $bb mkdir $cgroups/systemd
    $bb mount -t cgroup -o none,name=systemd cgroup $cgroups/systemd
    echo bfq >/sys/block/vda/queue/scheduler || echo "no bfq scheduler"
else
    $bb mount -t cgroup2 cgroup2 /newroot/sys/fs/cgroup
    echo "$($bb cat /sys/block/vda/dev) enable=1" >/newroot/sys/fs/cgroup/io.cost.qos ||
        echo "no io cost model"
fi
$bb mount -t devtmpfs devtmpfs /newroot/dev
$bb mkdir -p /newroot/dev/pts /newroot/dev/shm /newroot/dev/hugepages
$bb mount -t devpts devpts /newroot/dev/pts
$bb mount -t tmpfs tmpfs /newroot/dev/shm
$bb mount -t hugetlbfs hugetlbfs /newroot/dev/hugepages
$bb mount -t tmpfs tmpfs /newroot/tmp
$bb mount -t tmpfs tmpfs /newroot/run
# The tmpfs mounts hide a checkout under /tmp or /run: bind it back at its
# own path, where the test binaries expect it.
$bb mkdir -p "/newroot$HUSK_REPO"
$bb mount --bind "/lower$HUSK_REPO" "/newroot$HUSK_REPO"
$bb cp /environment /newroot/husk-vm-environment
$bb cp /tests /newroot/husk-vm-tests
$bb cat >/newroot/husk-vm-run <<'RUN'
# The guest's pid 1 after switch_root: a chroot would not do, as the kernel
# refuses new user namespaces to a chrooted process.
. /husk-vm-environment
# Room for the clients' default ulimits (the kernel starts pid 1 at 4096).
ulimit -n 1048576
# A soft-RoCE device on a dummy link, for rdma.max.
{ ip link add husk-rdma0 type dummy && ip link set husk-rdma0 up &&
    rdma link add rxe0 type rxe netdev husk-rdma0; } || echo "no RDMA device"
status=0
while read -r test; do
    echo "=== $test"
    (cd /tmp && eval "$test") </dev/null || status=1
done </husk-vm-tests
echo "HUSK-VM-RESULT $status"
busybox poweroff -f
RUN
exec $bb switch_root /newroot /bin/busybox sh /husk-vm-run
INIT
chmod +x "$root/init"
(cd "$root" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1) >"$work/initramfs.gz"

# Scratch disks, so that block I/O limits have devices to apply to.
truncate -s 16M "$work/scratch.img" "$work/scratch2.img"

start=$(date +%s)
timeout "${HUSK_VM_TIMEOUT:-1200}" qemu-system-x86_64 \
    -machine q35 -accel tcg -cpu max -smp 2 -m 4096 \
    -nographic -no-reboot \
    -kernel "/boot/vmlinuz-$kver" -initrd "$work/initramfs.gz" \
    -append "console=ttyS0 panic=-1 quiet" \
    -drive "if=virtio,format=raw,file=$work/scratch.img" \
    -drive "if=virtio,format=raw,file=$work/scratch2.img" \
    -virtfs "local,path=/,mount_tag=hostroot,security_model=passthrough,readonly=on,multidevs=remap" \
    </dev/null | tee "$work/console"
echo "$me: VM run took $(($(date +%s) - start)) s (kernel $kver)"

result=$(sed -n 's/^HUSK-VM-RESULT \([0-9]*\).*/\1/p' "$work/console" | tail -n 1)
[ -n "$result" ] || { echo "$me: the VM did not report a result" >&2; exit 1; }
exit "$result"
