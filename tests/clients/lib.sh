# shellcheck shell=bash
# Shared helpers for the client suites (podman, containerd, ...): a private
# mount namespace so the clients' fixed host paths stay private, a busybox
# image built locally, and one PASS/FAIL/SKIP line per scenario.
# Source it; it defines functions and `lib_`-prefixed variables only.

# Re-executes the calling script inside `unshare -m --propagation private`
# with a fresh tmpfs over its work directory and over every directory in
# LIB_PRIVATE_DIRS (clients write to fixed paths such as /run/containers or
# /var/lib/containers/cache, which must not leak onto the host). Mount points
# that have to be created on the host are removed again afterwards.
# Usage: LIB_PRIVATE_DIRS=(/run ...); lib_enter_private_ns "$@"
# Inside, LIB_WORK is the (tmpfs) work directory.
lib_enter_private_ns() {
    if [ -n "${LIB_WORK:-}" ]; then
        local dir
        mount -t tmpfs -o mode=0755 lib-work "$LIB_WORK"
        for dir in "${LIB_PRIVATE_DIRS[@]}"; do
            mount -t tmpfs -o mode=0755 lib-private "$dir"
        done
        return 0
    fi
    local dir missing
    lib_outer_work=$(mktemp -d /tmp/husk-clients.XXXXXX)
    lib_created_dirs=()
    trap lib_remove_outer_dirs EXIT
    for dir in "${LIB_PRIVATE_DIRS[@]}"; do
        # Remember the outermost directory we create, to remove exactly that.
        missing=$dir
        while [ ! -e "$(dirname "$missing")" ]; do missing=$(dirname "$missing"); done
        if [ ! -e "$dir" ]; then
            mkdir -p "$dir"
            lib_created_dirs+=("$missing")
        fi
    done
    LIB_WORK=$lib_outer_work unshare -m --propagation private bash "$0" "$@"
    exit
}

# Removes what lib_enter_private_ns created on the host (empty directories only).
lib_remove_outer_dirs() {
    local dir
    for dir in "${lib_created_dirs[@]}"; do
        find "$dir" -depth -type d -empty -delete
    done
    rmdir "$lib_outer_work"
}

# Fills DIR with a busybox rootfs: static busybox, its applets as symlinks,
# and /etc/passwd and /etc/group with root, a user 1000 and nobody.
lib_busybox_rootfs() {
    local root=$1 busybox applet
    busybox=$(command -v busybox)
    mkdir -p "$root"/{bin,sbin,etc,proc,sys,dev,tmp,root,var/tmp,home/user}
    chmod 1777 "$root/tmp" "$root/var/tmp"
    cp "$busybox" "$root/bin/busybox"
    for applet in $("$root/bin/busybox" --list); do
        [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
    done
    cat > "$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
user:x:1000:1000:user:/home/user:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
    cat > "$root/etc/group" <<'EOF'
root:x:0:
user:x:1000:
nogroup:x:65534:
EOF
    chown 1000:1000 "$root/home/user"
}

# Writes a tarball of a busybox rootfs to FILE (a single image layer, as
# `podman import` takes it).
lib_busybox_tarball() {
    local file=$1 root
    root=$(mktemp -d "${LIB_WORK:-/tmp}/rootfs.XXXXXX")
    lib_busybox_rootfs "$root"
    tar -C "$root" -cf "$file" .
    rm -rf "$root"
}

# Succeeds when /sys/fs/cgroup is cgroup v2 only (not v1, not hybrid).
lib_cgroup_v2() {
    [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]
}

# Prints the host path of the cgroup of PID for CONTROLLER (ignored on v2).
lib_cgroup_dir() {
    local pid=$1 controller=$2 rel
    if lib_cgroup_v2; then
        rel=$(sed -n 's/^0:://p' "/proc/$pid/cgroup")
        echo "/sys/fs/cgroup$rel"
    else
        rel=$(awk -F: -v c="$controller" '{ n = split($2, a, ","); for (i = 1; i <= n; i++) if (a[i] == c) print $3 }' "/proc/$pid/cgroup")
        echo "/sys/fs/cgroup/$controller$rel"
    fi
}

# Prints a cgroup file of PID: V1_FILE in CONTROLLER's hierarchy on a v1 (or
# hybrid) host, V2_FILE on a pure v2 host ("-" where a layout has no such file).
# Usage: lib_cgroup_value PID CONTROLLER V1_FILE V2_FILE
lib_cgroup_value() {
    local dir
    dir=$(lib_cgroup_dir "$1" "$2")
    if lib_cgroup_v2; then cat "$dir/$4"; else cat "$dir/$3"; fi
}

# Prints the freezer state of PID's cgroup: FROZEN or THAWED (v1 freezer.state,
# v2 cgroup.freeze 1 or 0).
lib_freezer_state() {
    case $(lib_cgroup_value "$1" freezer freezer.state cgroup.freeze) in
        1 | FROZEN) echo FROZEN ;;
        0 | THAWED) echo THAWED ;;
        *) echo FREEZING ;;
    esac
}

# Scenario bookkeeping. A scenario is a shell function run in a subshell
# with `set -e`; it ends by returning (PASS), calling lib_fail (FAIL) or
# lib_skip (SKIP). Its output goes to a log whose tail is shown on failure.
lib_passed=0
lib_failed=0
lib_skipped=0
lib_failed_names=()

lib_fail() { echo "$*" > "$LIB_REASON_FILE"; exit 1; }
lib_skip() { echo "$*" > "$LIB_REASON_FILE"; exit 77; }

# Fails unless ACTUAL equals EXPECTED. Usage: lib_expect_eq WHAT ACTUAL EXPECTED
lib_expect_eq() {
    [ "$2" = "$3" ] || lib_fail "$1: expected '$3', got '$2'"
}

# Fails unless TEXT contains NEEDLE. Usage: lib_expect_contains WHAT TEXT NEEDLE
lib_expect_contains() {
    case "$2" in
        *"$3"*) ;;
        *) lib_fail "$1: expected to contain '$3', got '$(echo "$2" | head -c 300)'" ;;
    esac
}

# Usage: lib_scenario NAME FUNCTION [ARGS...]
lib_scenario() {
    local name=$1 log reason rc start errexit_was_set=0
    shift
    log="$LIB_WORK/logs/$name.log"
    mkdir -p "$LIB_WORK/logs"
    export LIB_REASON_FILE="$log.reason"
    rm -f "$LIB_REASON_FILE"
    start=$SECONDS
    case $- in *e*) errexit_was_set=1; set +e ;; esac
    (set -e; "$@") > "$log" 2>&1 < /dev/null
    rc=$?
    [ "$errexit_was_set" = 1 ] && set -e
    reason=$(cat "$LIB_REASON_FILE" 2>/dev/null || true)
    case $rc in
        0)
            lib_passed=$((lib_passed + 1))
            printf 'PASS  %s (%ss)\n' "$name" "$((SECONDS - start))" ;;
        77)
            lib_skipped=$((lib_skipped + 1))
            printf 'SKIP  %s: %s\n' "$name" "$reason" ;;
        *)
            lib_failed=$((lib_failed + 1))
            lib_failed_names+=("$name")
            printf 'FAIL  %s (%ss): %s\n' "$name" "$((SECONDS - start))" "${reason:-exit status $rc}"
            tail -n 8 "$log" | sed 's/^/        | /' ;;
    esac
}

# Prints the final line and returns non-zero when a scenario failed.
lib_summary() {
    echo "$lib_passed passed, $lib_failed failed, $lib_skipped skipped"
    [ "$lib_failed" -eq 0 ]
}
