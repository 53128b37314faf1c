#!/usr/bin/env bash
# containerd client suite: a private containerd (CRI disabled) runs containers
# through containerd-shim-runc-v2 with the runtime given as argument as the shim's
# BinaryName (`ctr run --runc-binary`), on a busybox image built locally.
#   tests/clients/containerd.sh [/path/to/runtime]   (default: target/debug/husk)
# Run it with /usr/sbin/runc to see that every scenario tests what runc does.
# Prints one line per scenario and a final "N passed, M failed"; exit status 1 if
# any scenario failed.
set -uo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
runtime=$(realpath "${1:-$repo/target/debug/husk}")
# shellcheck source=tests/clients/containerd/common.sh
source "$repo/tests/clients/containerd/common.sh"

for tool in containerd ctr containerd-shim-runc-v2; do
    if ! command -v "$tool" >/dev/null; then
        skip "containerd suite" "$tool is not installed (apt-get install containerd)"
        print_summary
        exit 0
    fi
done
[ -x "$runtime" ] || { echo "runtime $runtime is not executable" >&2; exit 2; }
enter_private_mount_namespace "$@"

work=$(mktemp -d /tmp/husk-containerd-suite.XXXXXX)
namespace="husk-ctr-suite-$$"
image_ref="husk.test/busybox:latest"
tmux_socket="husk-ctr-suite-$$"
containerd_pid=""

ctr_() {
    ctr --address "$containerd_socket" --namespace "$namespace" "$@"
}

cleanup() {
    local id
    if [ -n "$containerd_pid" ]; then
        for id in $(ctr_ task ls -q 2>/dev/null); do
            ctr_ task kill -s SIGKILL "$id" >/dev/null 2>&1
            ctr_ task delete --force "$id" >/dev/null 2>&1
        done
        for id in $(ctr_ container ls -q 2>/dev/null); do
            ctr_ container delete "$id" >/dev/null 2>&1
        done
        stop_daemon "$containerd_pid"
        stop_shims_of "$containerd_socket"
    fi
    tmux -L "$tmux_socket" kill-server 2>/dev/null
    remove_cgroup_tree "$namespace"
    unmount_all_under "$work"
    rm -rf "$work"
}
trap cleanup EXIT

# run_task ID [ctr run flags...] -- COMMAND...: foreground `ctr run --rm`.
run_task() {
    local id=$1
    shift
    local flags=()
    while [ "$1" != "--" ]; do
        flags+=("$1")
        shift
    done
    shift
    timeout 60 ctr --address "$containerd_socket" --namespace "$namespace" run --rm \
        --runc-binary "$runtime" "${flags[@]}" "$image_ref" "$id" "$@"
}

# run_task_with_spec ID JQ_FILTER COMMAND...: ctr 1.6 has no --user or pids flag, so
# these scenarios edit ctr's own default spec (`ctr oci spec`) and pass it with
# --config, which takes no image: the rootfs is the image's unpacked directory.
run_task_with_spec() {
    local id=$1 filter=$2
    shift 2
    local args_json
    args_json=$(printf '%s\n' "$@" | jq -R . | jq -s .)
    ctr_ oci spec | jq --arg rootfs "$work/image/rootfs" --arg cgroup "/$namespace/$id" --argjson args "$args_json" \
        "$filter | .root = {path: \$rootfs, readonly: true} | .linux.cgroupsPath = \$cgroup
            | .process.env = [\"PATH=/bin\"] | .process.args = \$args" \
        > "$work/$id.json" &&
        timeout 60 ctr --address "$containerd_socket" --namespace "$namespace" run --rm \
            --runc-binary "$runtime" --config "$work/$id.json" "$id"
}

# start_sleeper ID [ctr run flags...]: a detached task that runs until killed.
start_sleeper() {
    local id=$1
    shift
    timeout 60 ctr --address "$containerd_socket" --namespace "$namespace" run -d \
        --runc-binary "$runtime" "$@" "$image_ref" "$id" sleep 100000 >/dev/null
}

stop_task() {
    ctr_ task kill -s SIGKILL "$1" >/dev/null 2>&1
    ctr_ task delete --force "$1" >/dev/null 2>&1
    ctr_ container delete "$1" >/dev/null 2>&1
}

task_pid() {
    ctr_ task ls | awk -v id="$1" '$1 == id { print $2 }'
}

task_status() {
    ctr_ task ls | awk -v id="$1" '$1 == id { print $3 }'
}

wait_for_status() {
    local deadline=$((SECONDS + 30))
    until [ "$(task_status "$1")" = "$2" ]; do
        [ "$SECONDS" -lt "$deadline" ] || { echo "task $1 never became $2"; return 1; }
        sleep 0.2
    done
}

# host_cgroup_file PID CONTROLLER FILE: prints FILE of the v1 cgroup PID is in.
host_cgroup_file() {
    local path
    path=$(awk -F: -v ctrl="$2" '{ n = split($2, c, ","); for (i = 1; i <= n; i++) if (c[i] == ctrl) print $3 }' \
        "/proc/$1/cgroup")
    cat "/sys/fs/cgroup/$2$path/$3"
}

wait_for_tmux_text() {
    local text=$1 deadline=$((SECONDS + 20))
    until tmux -L "$tmux_socket" capture-pane -p -t tty-session | grep -q -- "$text"; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "never saw [$text] on the terminal:"
            tmux -L "$tmux_socket" capture-pane -p -t tty-session
            return 1
        fi
        sleep 0.2
    done
}

# --- scenarios -------------------------------------------------------------------

scenario_run_output() {
    local out
    out=$(run_task run-output -- echo hello from containerd) &&
        expect_eq "output" "hello from containerd" "$out"
}

scenario_exit_codes() {
    local status
    run_task exit-code -- sh -c 'exit 7'
    status=$?
    expect_eq "exit status of 'exit 7'" 7 "$status" || return 1
    run_task exit-missing -- /no/such/binary
    status=$?
    [ "$status" -ne 0 ] || { echo "running a missing binary succeeded"; return 1; }
}

scenario_env_cwd() {
    local out
    out=$(run_task env-cwd --env GREETING=hi --cwd /tmp -- sh -c 'echo "$GREETING $(pwd)"') &&
        expect_eq "env and cwd" "hi /tmp" "$out"
}

scenario_user() {
    local out
    out=$(run_task_with_spec user '.process.user = {uid: 1000, gid: 1000, additionalGids: [2000]}' id) &&
        expect_eq "id" "uid=1000(tester) gid=1000(tester) groups=2000(extra)" "$out"
}

scenario_bind_mounts() {
    local shared="$work/bind" out
    mkdir -p "$shared/rw" "$shared/ro"
    echo from-host > "$shared/ro/file"
    out=$(run_task binds \
        --mount "type=bind,src=$shared/rw,dst=/mnt/rw,options=rbind:rw" \
        --mount "type=bind,src=$shared/ro,dst=/mnt/ro,options=rbind:ro" -- \
        sh -c 'echo from-container > /mnt/rw/file && cat /mnt/ro/file && ! touch /mnt/ro/new 2>/dev/null && echo ro-refused') ||
        return 1
    expect_eq "container output" "$(printf 'from-host\nro-refused')" "$out" &&
        expect_eq "file written through the rw bind" from-container "$(cat "$shared/rw/file")"
}

scenario_read_only_rootfs() {
    local out
    out=$(run_task read-only --read-only -- \
        sh -c 'touch /new-file 2>/dev/null && echo writable || echo read-only; awk "\$2 == \"/\" { print \$4 }" /proc/mounts') ||
        return 1
    expect_contains "rootfs" "read-only" "$out" && expect_contains "root mount options" "ro," "$out"
}

scenario_memory_cpu_limits() {
    local pid
    start_sleeper limits --memory-limit 67108864 --cpus 0.5 --cpu-shares 512 || return 1
    pid=$(task_pid limits)
    expect_eq "memory.limit_in_bytes" 67108864 "$(host_cgroup_file "$pid" memory memory.limit_in_bytes)" &&
        expect_eq "cpu.cfs_quota_us" 50000 "$(host_cgroup_file "$pid" cpu cpu.cfs_quota_us)" &&
        expect_eq "cpu.cfs_period_us" 100000 "$(host_cgroup_file "$pid" cpu cpu.cfs_period_us)" &&
        expect_eq "cpu.shares" 512 "$(host_cgroup_file "$pid" cpu cpu.shares)"
    local verdict=$?
    stop_task limits
    return $verdict
}

scenario_pids_limit() {
    local out
    out=$(run_task_with_spec pids '.linux.resources.pids = {limit: 16}' \
        sh -c 'cat /proc/self/cgroup; for i in $(seq 30); do sleep 1 & done; wait' 2>&1)
    expect_contains "the task's pids cgroup" "pids:/$namespace/pids" "$out" &&
        expect_contains "forking past the limit" "can't fork" "$out"
}

scenario_exec() {
    local out status
    start_sleeper exec-target || return 1
    out=$(ctr_ task exec --exec-id e1 --cwd /tmp exec-target sh -c 'echo "in exec at $(pwd)"')
    expect_eq "exec output" "in exec at /tmp" "$out" || { stop_task exec-target; return 1; }
    ctr_ task exec --exec-id e2 exec-target sh -c 'exit 5'
    status=$?
    stop_task exec-target
    expect_eq "exec exit status" 5 "$status"
}

scenario_exec_tty() {
    start_sleeper exec-tty || return 1
    tmux -L "$tmux_socket" new-session -d -s tty-session -x 120 -y 30 \
        "ctr --address $containerd_socket --namespace $namespace task exec -t --exec-id tty exec-tty sh"
    tmux -L "$tmux_socket" send-keys -t tty-session 'tty; echo answer-$((6*7)); stty size' Enter
    wait_for_tmux_text "answer-42" && wait_for_tmux_text "/dev/pts/" && wait_for_tmux_text "^30 120"
    local verdict=$?
    tmux -L "$tmux_socket" send-keys -t tty-session 'exit' Enter
    stop_task exec-tty
    tmux -L "$tmux_socket" kill-server 2>/dev/null
    return $verdict
}

scenario_run_tty() {
    tmux -L "$tmux_socket" new-session -d -s tty-session -x 100 -y 25 \
        "ctr --address $containerd_socket --namespace $namespace run --rm -t --runc-binary $runtime $image_ref run-tty sh"
    wait_for_tmux_text "#" &&
        tmux -L "$tmux_socket" send-keys -t tty-session 'tty; echo run-$((6*7)); stty size' Enter &&
        wait_for_tmux_text "run-42" && wait_for_tmux_text "/dev/pts/0" && wait_for_tmux_text "^25 100"
    local verdict=$?
    tmux -L "$tmux_socket" send-keys -t tty-session 'exit' Enter
    sleep 1
    stop_task run-tty
    tmux -L "$tmux_socket" kill-server 2>/dev/null
    return $verdict
}

# exit_status_after_signal ID SIGNAL COMMAND...: runs COMMAND in a foreground task,
# sends SIGNAL with `ctr task kill -s` once it runs, prints the task's exit status.
exit_status_after_signal() {
    local id=$1 signal=$2 run_pid
    shift 2
    run_task "$id" -- "$@" &
    run_pid=$!
    wait_for_status "$id" RUNNING || { kill "$run_pid"; return 1; }
    sleep 0.5
    ctr_ task kill -s "$signal" "$id"
    wait "$run_pid"
    echo $?
}

scenario_kill_signal() {
    local status
    status=$(exit_status_after_signal kill-usr1 SIGUSR1 sh -c 'trap "exit 3" USR1; while :; do sleep 0.1; done') &&
        expect_eq "exit status after SIGUSR1 (trapped: exit 3)" 3 "$status" &&
        status=$(exit_status_after_signal kill-9 SIGKILL sleep 100000) &&
        expect_eq "exit status after SIGKILL" 137 "$status"
}

scenario_pause_resume() {
    local pid out
    start_sleeper pausable || return 1
    pid=$(task_pid pausable)
    ctr_ task pause pausable &&
        expect_eq "status after pause" PAUSED "$(task_status pausable)" &&
        expect_eq "freezer.state" FROZEN "$(host_cgroup_file "$pid" freezer freezer.state)" &&
        ctr_ task resume pausable &&
        expect_eq "status after resume" RUNNING "$(task_status pausable)" &&
        expect_eq "freezer.state" THAWED "$(host_cgroup_file "$pid" freezer freezer.state)" &&
        out=$(ctr_ task exec --exec-id after-resume pausable echo alive) &&
        expect_eq "exec after resume" alive "$out"
    local verdict=$?
    stop_task pausable
    return $verdict
}

scenario_ps() {
    local pid listed
    start_sleeper listed || return 1
    pid=$(task_pid listed)
    ctr_ task exec -d --exec-id second listed sleep 100000 &&
        sleep 1 &&
        listed=$(ctr_ task ps listed | awk 'NR > 1 { print $1 }' | sort -n | tr '\n' ' ') &&
        expect_contains "ctr task ps" "$pid " "$listed" &&
        expect_eq "process count" 2 "$(wc -w <<< "$listed")"
    local verdict=$?
    stop_task listed
    return $verdict
}

scenario_metrics() {
    local json
    start_sleeper measured --memory-limit 67108864 || return 1
    json=$(ctr_ task metrics --format json measured) &&
        expect_eq "memory limit in metrics" 67108864 "$(jq -r '.memory.usage.limit' <<< "$json")" &&
        jq -e '.memory.usage.usage > 0 and .pids.current >= 1 and .cpu.usage.total > 0' <<< "$json" >/dev/null ||
        { jq -c '{memory: .memory.usage, pids, cpu: .cpu.usage.total}' <<< "$json"; false; }
    local verdict=$?
    stop_task measured
    return $verdict
}

scenario_delete() {
    local pid cgroup_dir
    start_sleeper deletable || return 1
    pid=$(task_pid deletable)
    cgroup_dir=/sys/fs/cgroup/memory$(awk -F: '$2 == "memory" { print $3 }' "/proc/$pid/cgroup")
    ctr_ task delete deletable >/dev/null 2>&1 && { echo "deleting a running task succeeded"; return 1; }
    ctr_ task kill -s SIGKILL deletable || return 1
    wait_for_status deletable STOPPED || return 1
    ctr_ task delete deletable >/dev/null && ctr_ container delete deletable || return 1
    [ ! -d "$cgroup_dir" ] || { echo "cgroup $cgroup_dir left behind"; return 1; }
    "$runtime" --root "/run/containerd/runc/$namespace" list | grep -q deletable &&
        { echo "runtime state of deletable left behind"; return 1; }
    return 0
}

scenario_parallel_tasks() {
    local i outputs=() bad=0
    mkdir -p "$work/parallel"
    for i in $(seq 50); do
        run_task "parallel-$i" -- echo "task $i" > "$work/parallel/$i.out" 2> "$work/parallel/$i.err" &
    done
    wait
    for i in $(seq 50); do
        if [ "$(cat "$work/parallel/$i.out")" != "task $i" ]; then
            bad=$((bad + 1))
            outputs+=("$i: $(cat "$work/parallel/$i.out" "$work/parallel/$i.err" | tr '\n' ' ')")
        fi
    done
    [ "$bad" -eq 0 ] || { echo "$bad of 50 failed"; printf '%s\n' "${outputs[@]}" | head -n 5; return 1; }
    expect_eq "containers left" "" "$(ctr_ container ls -q | grep parallel-)" &&
        expect_eq "runtime state left" "" "$("$runtime" --root "/run/containerd/runc/$namespace" list -q | grep parallel-)"
}

# --- main ------------------------------------------------------------------------

echo "containerd suite: runtime $runtime, containerd $(containerd --version | awk '{ print $3 }')"
build_busybox_image_archive "$work/image" "$image_ref" "$work/busybox.tar" || exit 2
start_private_containerd "$work/containerd" || exit 2
ctr_ image import "$work/busybox.tar" >/dev/null || { echo "image import failed" >&2; exit 2; }

check "run: output" scenario_run_output
check "run: exit codes" scenario_exit_codes
check "run: env and cwd" scenario_env_cwd
check "run: user and additional groups" scenario_user
check "run: bind mounts rw and ro" scenario_bind_mounts
check "run: read-only rootfs" scenario_read_only_rootfs
check "limits: memory and cpu (cgroup files)" scenario_memory_cpu_limits
check "limits: pids" scenario_pids_limit
check "run -t: terminal (tmux)" scenario_run_tty
check "task exec: output, cwd, exit status" scenario_exec
check "task exec -t: terminal (tmux)" scenario_exec_tty
check "task kill -s" scenario_kill_signal
check "task pause/resume" scenario_pause_resume
check "task ps" scenario_ps
check "task metrics" scenario_metrics
skip "task update" "ctr $(ctr --version | awk '{ print $3 }') has no 'task update' (the docker suite covers update)"
check "task delete: state and cgroup removed" scenario_delete
check "50 tasks in parallel" scenario_parallel_tasks

print_summary
[ "$failed" -eq 0 ]
