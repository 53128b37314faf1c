# Helpers shared by tests/clients/containerd.sh and tests/clients/docker.sh: a
# private mount namespace, scenario counting, a locally built busybox image and a
# private containerd. Sourced, never run.

# Re-executes the calling suite inside a private mount namespace, so the tmpfs
# mounts below (over paths containerd and dockerd hard-code) and every mount the
# daemons make vanish with the suite.
enter_private_mount_namespace() {
    if [ -z "${HUSK_CLIENT_SUITE_IN_PRIVATE_NS:-}" ]; then
        HUSK_CLIENT_SUITE_IN_PRIVATE_NS=1 exec unshare -m --propagation private -- bash "$0" "$@"
    fi
}

# Hides a host directory behind a tmpfs visible only in this mount namespace.
mount_private_tmpfs() {
    mkdir -p "$1"
    mount -t tmpfs -o mode=0711 husk-client-test "$1"
}

passed=0
failed=0
declare -a failures=()

# check NAME COMMAND...: runs one scenario; its output is shown only on failure.
check() {
    local name=$1 output
    shift
    if output=$("$@" 2>&1); then
        passed=$((passed + 1))
        echo "PASS $name"
    else
        failed=$((failed + 1))
        failures+=("$name")
        echo "FAIL $name"
        printf '%s\n' "$output" | tail -n 15 | sed 's/^/    | /'
    fi
}

skip() {
    echo "SKIP $1: $2"
}

print_summary() {
    echo "$passed passed, $failed failed"
}

# expect_eq WHAT EXPECTED ACTUAL
expect_eq() {
    if [ "$2" != "$3" ]; then
        echo "$1: expected [$2], got [$3]"
        return 1
    fi
}

# expect_contains WHAT NEEDLE HAYSTACK
expect_contains() {
    case $3 in
        *"$2"*) return 0 ;;
    esac
    echo "$1: expected to contain [$2], got [$3]"
    return 1
}

# Builds a one-layer busybox image as a docker-archive tarball (what `docker load`
# and `ctr image import` both read) from the host's busybox-static, with users
# root, nobody and a plain user 1000 ("tester") for the --user scenarios.
build_busybox_image_archive() {
    local work=$1 image_ref=$2 archive=$3
    local rootfs="$work/rootfs" layout="$work/archive"
    local busybox_binary applet layer_digest config_digest
    busybox_binary=$(command -v busybox)
    mkdir -p "$rootfs"/{bin,etc,tmp,proc,sys,dev,root,home/tester,data} "$layout"
    cp "$busybox_binary" "$rootfs/bin/busybox"
    for applet in $("$busybox_binary" --list); do
        [ -e "$rootfs/bin/$applet" ] || ln -s busybox "$rootfs/bin/$applet"
    done
    printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'tester:x:1000:1000:tester:/home/tester:/bin/sh' \
        'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' > "$rootfs/etc/passwd"
    printf '%s\n' 'root:x:0:' 'tester:x:1000:' 'extra:x:2000:tester' 'nogroup:x:65534:' > "$rootfs/etc/group"
    chmod 1777 "$rootfs/tmp"
    chown 1000:1000 "$rootfs/home/tester"
    tar --sort=name --mtime=@0 --numeric-owner -C "$rootfs" -cf "$layout/layer.tar" .
    layer_digest=$(sha256sum "$layout/layer.tar" | cut -d' ' -f1)
    mkdir "$layout/$layer_digest"
    mv "$layout/layer.tar" "$layout/$layer_digest/layer.tar"
    jq -n --arg diff "sha256:$layer_digest" '{
        architecture: "amd64", os: "linux", created: "1970-01-01T00:00:00Z",
        config: {Env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], Cmd: ["sh"], WorkingDir: "/"},
        rootfs: {type: "layers", diff_ids: [$diff]},
        history: [{created: "1970-01-01T00:00:00Z", created_by: "husk client tests: busybox-static"}]
    }' > "$layout/config.json"
    config_digest=$(sha256sum "$layout/config.json" | cut -d' ' -f1)
    mv "$layout/config.json" "$layout/$config_digest.json"
    jq -n --arg config "$config_digest.json" --arg tag "$image_ref" --arg layer "$layer_digest/layer.tar" \
        '[{Config: $config, RepoTags: [$tag], Layers: [$layer]}]' > "$layout/manifest.json"
    tar --sort=name --mtime=@0 --numeric-owner -C "$layout" -cf "$archive" .
}

# wait_for_socket PATH SECONDS: a daemon is ready once its socket exists.
wait_for_socket() {
    local deadline=$((SECONDS + $2))
    until [ -S "$1" ]; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.2
    done
}

# start_private_containerd DIR: containerd with its root, state, socket and config
# under DIR, CRI disabled. /run/containerd is hidden by a private tmpfs because the
# runc shim puts its sockets in /run/containerd/s whatever the config says.
# Sets containerd_pid and containerd_socket.
start_private_containerd() {
    local dir=$1
    mkdir -p "$dir"
    mount_private_tmpfs /run/containerd
    containerd_socket="$dir/containerd.sock"
    cat > "$dir/config.toml" <<EOF
version = 2
root = "$dir/root"
state = "$dir/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$containerd_socket"
[ttrpc]
  address = "$containerd_socket.ttrpc"
EOF
    containerd --config "$dir/config.toml" > "$dir/containerd.log" 2>&1 &
    containerd_pid=$!
    if ! wait_for_socket "$containerd_socket" 30; then
        echo "containerd did not start:" >&2
        tail -n 20 "$dir/containerd.log" >&2
        return 1
    fi
}

# stop_daemon PID: SIGTERM, then SIGKILL after 20 s.
stop_daemon() {
    local pid=$1 deadline=$((SECONDS + 20))
    kill "$pid" 2>/dev/null || return 0
    while kill -0 "$pid" 2>/dev/null; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            kill -KILL "$pid" 2>/dev/null
            break
        fi
        sleep 0.2
    done
    wait "$pid" 2>/dev/null || true
}

# Shims outlive containerd by design; ours are the ones given our socket address.
stop_shims_of() {
    local socket=$1 pid
    for pid in $(pgrep -f -- "-address $socket( |$)"); do
        kill -KILL "$pid" 2>/dev/null || true
    done
}

# remove_cgroup_tree NAME: removes /sys/fs/cgroup/*/NAME (and the cgroup2 mount's)
# bottom-up; cgroup directories can only be removed with rmdir.
remove_cgroup_tree() {
    local name=$1 top
    for top in /sys/fs/cgroup/*/"$name" /sys/fs/cgroup/"$name"; do
        [ -d "$top" ] || continue
        find "$top" -depth -type d -exec rmdir {} + 2>/dev/null || true
    done
}

# Lazily unmounts what the daemons left mounted under DIR, deepest first, so that
# DIR can be removed.
unmount_all_under() {
    findmnt -rn -o TARGET | grep "^$1/" | sort -r | xargs -r umount -l
}
