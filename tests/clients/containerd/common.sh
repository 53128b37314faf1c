# Helpers shared by tests/clients/containerd.sh and tests/clients/docker.sh (Docker
# runs on a private containerd too): a busybox image archive, a private containerd,
# stopping what it leaves behind, host cgroup files and tmux terminals. Generic
# helpers (private mount namespace, scenario lines) come from tests/clients/lib.sh.
# Sourced, never run.

# /run/containerd is where the runc shim puts its sockets whatever the config says.
containerd_private_dirs=(/run/containerd)

# build_busybox_image_archive IMAGE_REF FILE: a one-layer image of lib.sh's busybox
# rootfs, plus a group "extra" (2000) that user 1000 belongs to, written as a
# docker-archive tarball, the one format both `docker load` and `ctr image import`
# read. The unpacked rootfs stays in $LIB_WORK/image/rootfs.
build_busybox_image_archive() {
    local image_ref=$1 archive=$2
    local rootfs="$LIB_WORK/image/rootfs" layout="$LIB_WORK/image/archive" layer_digest config_digest
    mkdir -p "$rootfs" "$layout"
    lib_busybox_rootfs "$rootfs"
    echo 'extra:x:2000:user' >> "$rootfs/etc/group"
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

# start_private_containerd DIR: containerd with its root, state, socket and config
# under DIR, CRI disabled. Sets containerd_pid and containerd_socket.
start_private_containerd() {
    local dir=$1 deadline=$((SECONDS + 30))
    mkdir -p "$dir"
    containerd_socket="$dir/containerd.sock"
    cat > "$dir/config.toml" <<EOF
version = 2
root = "$dir/root"
state = "$dir/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$containerd_socket"
EOF
    containerd --config "$dir/config.toml" > "$dir/containerd.log" 2>&1 &
    containerd_pid=$!
    until [ -S "$containerd_socket" ]; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "containerd did not start:" >&2
            tail -n 20 "$dir/containerd.log" >&2
            return 1
        fi
        sleep 0.2
    done
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


# Terminal scenarios run the client inside a private tmux server: a real tty.
tmux_socket="husk-client-suite-$$"
tmux_session=tty-session

wait_for_tmux_text() {
    local text=$1 deadline=$((SECONDS + 20))
    until tmux -L "$tmux_socket" capture-pane -p -t "$tmux_session" | grep -q -- "$text"; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            tmux -L "$tmux_socket" capture-pane -p -t "$tmux_session"
            lib_fail "never saw [$text] on the terminal"
        fi
        sleep 0.2
    done
}

# tty_session_check COMMAND: runs COMMAND (which must open a shell) in tmux and
# checks that the shell has a terminal of tmux's size and runs what is typed.
tty_session_check() {
    # A failed check leaves its session behind; sessions are started fresh.
    tmux -L "$tmux_socket" kill-server 2>/dev/null || true
    tmux -L "$tmux_socket" new-session -d -s "$tmux_session" -x 110 -y 28 "$1"
    wait_for_tmux_text "#"
    tmux -L "$tmux_socket" send-keys -t "$tmux_session" 'tty; echo answer-$((6*7)); stty size' Enter
    wait_for_tmux_text "answer-42"
    wait_for_tmux_text "^/dev/pts/"
    wait_for_tmux_text "^28 110"
    tmux -L "$tmux_socket" send-keys -t "$tmux_session" 'exit' Enter
    sleep 0.5
    tmux -L "$tmux_socket" kill-server 2>/dev/null || true
}
