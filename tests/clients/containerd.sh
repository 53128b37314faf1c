#!/usr/bin/env bash
# containerd client suite: a private containerd (CRI disabled) runs containers
# through containerd-shim-runc-v2 with the runtime given as argument as the shim's
# BinaryName (`ctr run --runc-binary`), on a busybox image built locally.
#   tests/clients/containerd.sh [/path/to/runtime]   (default: target/debug/husk)
# Run it with /usr/sbin/runc to see that every scenario tests what runc does.
# ctr 1.6 has no `task update`: the docker suite covers the shim's update path.
# One PASS/FAIL/SKIP line per scenario, then "N passed, M failed, K skipped";
# exit status 1 if a scenario failed.
set -uo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
runtime=$(realpath "${1:-$repo/target/debug/husk}")
source "$repo/tests/clients/lib.sh"
source "$repo/tests/clients/containerd/common.sh"

for tool in containerd ctr containerd-shim-runc-v2; do
    if ! command -v "$tool" >/dev/null; then
        echo "SKIP  containerd suite: $tool is not installed (apt-get install containerd)"
        echo "0 passed, 0 failed, 1 skipped"
        exit 0
    fi
done
[ -x "$runtime" ] || { echo "runtime $runtime is not executable" >&2; exit 2; }
LIB_PRIVATE_DIRS=("${containerd_private_dirs[@]}")
lib_enter_private_ns "$@"

namespace="husk-ctr-suite-$$"
image_ref="husk.test/busybox:latest"
runtime_root="/run/containerd/runc/$namespace"
containerd_pid=""

ctr_() {
    timeout 60 ctr --address "$containerd_socket" --namespace "$namespace" "$@"
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
}
trap cleanup EXIT
trap "exit 130" INT TERM

# run_task ID [ctr run flags...] -- COMMAND...: a foreground `ctr run --rm`.
run_task() {
    local id=$1 flags=()
    shift
    while [ "$1" != "--" ]; do
        flags+=("$1")
        shift
    done
    shift
    ctr_ run --rm --runc-binary "$runtime" "${flags[@]}" "$image_ref" "$id" "$@"
}

# run_task_with_spec ID JQ_FILTER COMMAND...: ctr 1.6 has no --user or pids flag, so
# these scenarios edit ctr's own default spec (`ctr oci spec`) and pass it with
# --config, which takes no image: the rootfs is the image's unpacked directory.
run_task_with_spec() {
    local id=$1 filter=$2 args_json
    shift 2
    args_json=$(printf '%s\n' "$@" | jq -R . | jq -s .)
    ctr_ oci spec | jq --arg rootfs "$LIB_WORK/image/rootfs" --arg cgroup "/$namespace/$id" --argjson args "$args_json" \
        "$filter | .root = {path: \$rootfs, readonly: true} | .linux.cgroupsPath = \$cgroup
            | .process.env = [\"PATH=/bin\"] | .process.args = \$args" > "$LIB_WORK/$id.json"
    ctr_ run --rm --runc-binary "$runtime" --config "$LIB_WORK/$id.json" "$id"
}

# start_sleeper ID [ctr run flags...]: a detached task that runs until killed; the
# calling scenario removes it when it ends, whatever the outcome.
start_sleeper() {
    local id=$1
    shift
    trap "remove_task $id" EXIT
    ctr_ run -d --runc-binary "$runtime" "$@" "$image_ref" "$id" sleep 100000 >/dev/null
}

# Runs as an EXIT trap under set -e: whatever is already gone is fine.
remove_task() {
    ctr_ task kill -s SIGKILL "$1" >/dev/null 2>&1 || true
    ctr_ task delete --force "$1" >/dev/null 2>&1 || true
    ctr_ container delete "$1" >/dev/null 2>&1 || true
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
        [ "$SECONDS" -lt "$deadline" ] || lib_fail "task $1 never became $2"
        sleep 0.2
    done
}

# --- scenarios -------------------------------------------------------------------

scenario_run_output() {
    lib_expect_eq "output" "$(run_task run-output -- echo hello from containerd)" "hello from containerd"
}

scenario_exit_codes() {
    local status=0
    run_task exit-code -- sh -c 'exit 7' || status=$?
    lib_expect_eq "exit status of 'exit 7'" "$status" 7
    status=0
    run_task exit-missing -- /no/such/binary || status=$?
    [ "$status" -ne 0 ] || lib_fail "running a missing binary succeeded"
}

scenario_env_cwd() {
    lib_expect_eq "env and cwd" "$(run_task env-cwd --env GREETING=hi --cwd /tmp -- sh -c 'echo "$GREETING $(pwd)"')" "hi /tmp"
}

scenario_user() {
    lib_expect_eq "id" "$(run_task_with_spec user '.process.user = {uid: 1000, gid: 1000, additionalGids: [2000]}' id)" \
        "uid=1000(user) gid=1000(user) groups=2000(extra)"
}

scenario_bind_mounts() {
    local shared="$LIB_WORK/bind" out
    mkdir -p "$shared/rw" "$shared/ro"
    echo from-host > "$shared/ro/file"
    out=$(run_task binds \
        --mount "type=bind,src=$shared/rw,dst=/mnt/rw,options=rbind:rw" \
        --mount "type=bind,src=$shared/ro,dst=/mnt/ro,options=rbind:ro" -- \
        sh -c 'echo from-container > /mnt/rw/file && cat /mnt/ro/file && ! touch /mnt/ro/new 2>/dev/null && echo ro-refused')
    lib_expect_eq "container output" "$out" "$(printf 'from-host\nro-refused')"
    lib_expect_eq "file written through the rw bind" "$(cat "$shared/rw/file")" from-container
}

scenario_read_only_rootfs() {
    local out
    out=$(run_task read-only --read-only -- \
        sh -c 'touch /new-file 2>/dev/null && echo writable || echo read-only; awk "\$2 == \"/\" { print \$4 }" /proc/mounts')
    lib_expect_eq "writing to /" "$(sed -n 1p <<< "$out")" read-only
    lib_expect_contains "root mount options" "$(sed -n 2p <<< "$out")" "ro,"
}

scenario_memory_cpu_limits() {
    local pid
    start_sleeper limits --memory-limit 67108864 --cpus 0.5 --cpu-shares 512
    pid=$(task_pid limits)
    lib_expect_eq "memory limit" "$(lib_cgroup_value "$pid" memory memory.limit_in_bytes memory.max)" 67108864
    if lib_cgroup_v2; then
        lib_expect_eq "cpu.max" "$(lib_cgroup_value "$pid" cpu - cpu.max)" "50000 100000"
        # The shares-to-weight conversion differs between runtimes (runc 1.1 is linear); it only
        # has to leave the default weight.
        [ "$(lib_cgroup_value "$pid" cpu - cpu.weight)" != 100 ] || lib_fail "cpu.weight left at 100"
    else
        lib_expect_eq "cpu.cfs_quota_us" "$(lib_cgroup_value "$pid" cpu cpu.cfs_quota_us -)" 50000
        lib_expect_eq "cpu.cfs_period_us" "$(lib_cgroup_value "$pid" cpu cpu.cfs_period_us -)" 100000
        lib_expect_eq "cpu.shares" "$(lib_cgroup_value "$pid" cpu cpu.shares -)" 512
    fi
}

scenario_pids_limit() {
    local out
    out=$(run_task_with_spec pids '.linux.resources.pids = {limit: 16}' \
        sh -c 'cat /proc/self/cgroup; for i in $(seq 30); do sleep 1 & done; wait' 2>&1 || true)
    lib_expect_contains "the task's pids cgroup" "$out" "$(lib_cgroup_v2 && echo 0:: || echo pids:)/$namespace/pids"
    lib_expect_contains "forking past the limit" "$out" "can't fork"
}

scenario_run_tty() {
    trap "remove_task run-tty" EXIT
    tty_session_check "ctr --address $containerd_socket --namespace $namespace run --rm -t --runc-binary $runtime $image_ref run-tty sh"
}

scenario_exec() {
    local status=0
    start_sleeper exec-target
    lib_expect_eq "exec output" "$(ctr_ task exec --exec-id e1 --cwd /tmp exec-target sh -c 'echo "in exec at $(pwd)"')" \
        "in exec at /tmp"
    ctr_ task exec --exec-id e2 exec-target sh -c 'exit 5' || status=$?
    lib_expect_eq "exec exit status" "$status" 5
}

scenario_exec_tty() {
    start_sleeper exec-tty
    tty_session_check "ctr --address $containerd_socket --namespace $namespace task exec -t --exec-id tty exec-tty sh"
}

# exit_status_after_signal ID SIGNAL COMMAND...: runs COMMAND in a foreground task,
# sends SIGNAL with `ctr task kill -s` once it runs, prints the task's exit status.
exit_status_after_signal() {
    local id=$1 signal=$2 run_pid status=0
    shift 2
    run_task "$id" -- "$@" &
    run_pid=$!
    wait_for_status "$id" RUNNING
    sleep 0.5
    ctr_ task kill -s "$signal" "$id"
    wait "$run_pid" || status=$?
    echo "$status"
}

scenario_kill_signal() {
    lib_expect_eq "exit status after SIGUSR1 (trapped: exit 3)" \
        "$(exit_status_after_signal kill-usr1 SIGUSR1 sh -c 'trap "exit 3" USR1; while :; do sleep 0.1; done')" 3
    lib_expect_eq "exit status after SIGKILL" "$(exit_status_after_signal kill-9 SIGKILL sleep 100000)" 137
}

scenario_pause_resume() {
    local pid
    start_sleeper pausable
    pid=$(task_pid pausable)
    ctr_ task pause pausable
    lib_expect_eq "status after pause" "$(task_status pausable)" PAUSED
    lib_expect_eq "freezer" "$(lib_freezer_state "$pid")" FROZEN
    ctr_ task resume pausable
    lib_expect_eq "status after resume" "$(task_status pausable)" RUNNING
    lib_expect_eq "freezer" "$(lib_freezer_state "$pid")" THAWED
    lib_expect_eq "exec after resume" "$(ctr_ task exec --exec-id after-resume pausable echo alive)" alive
}

scenario_ps() {
    local listed
    start_sleeper listed
    ctr_ task exec -d --exec-id second listed sleep 100000
    sleep 1
    listed=$(ctr_ task ps listed | awk 'NR > 1 { print $1 }' | sort -n | tr '\n' ' ')
    lib_expect_contains "ctr task ps" "$listed" "$(task_pid listed) "
    lib_expect_eq "process count" "$(wc -w <<< "$listed")" 2
}

scenario_metrics() {
    local json
    start_sleeper measured --memory-limit 67108864
    json=$(ctr_ task metrics --format json measured)
    # The shim reports cgroup v1 and v2 metrics in different shapes.
    if lib_cgroup_v2; then
        lib_expect_eq "memory limit in metrics" "$(jq -r '.memory.usage_limit' <<< "$json")" 67108864
        jq -e '.memory.usage > 0 and .pids.current >= 1 and .cpu.usage_usec > 0' <<< "$json" >/dev/null ||
            lib_fail "metrics: $(jq -c '{memory: .memory.usage, pids, cpu: .cpu.usage_usec}' <<< "$json")"
    else
        lib_expect_eq "memory limit in metrics" "$(jq -r '.memory.usage.limit' <<< "$json")" 67108864
        jq -e '.memory.usage.usage > 0 and .pids.current >= 1 and .cpu.usage.total > 0' <<< "$json" >/dev/null ||
            lib_fail "metrics: $(jq -c '{memory: .memory.usage, pids, cpu: .cpu.usage.total}' <<< "$json")"
    fi
}

scenario_delete() {
    local cgroup_dir
    start_sleeper deletable
    cgroup_dir=$(lib_cgroup_dir "$(task_pid deletable)" memory)
    ! ctr_ task delete deletable >/dev/null 2>&1 || lib_fail "deleting a running task succeeded"
    ctr_ task kill -s SIGKILL deletable
    wait_for_status deletable STOPPED
    ctr_ task delete deletable >/dev/null
    ctr_ container delete deletable
    [ ! -d "$cgroup_dir" ] || lib_fail "cgroup $cgroup_dir left behind"
    ! "$runtime" --root "$runtime_root" list -q | grep -qx deletable || lib_fail "runtime state of deletable left behind"
}

scenario_parallel_tasks() {
    local i bad=0
    mkdir -p "$LIB_WORK/parallel"
    for i in $(seq 50); do
        run_task "parallel-$i" -- echo "task $i" > "$LIB_WORK/parallel/$i.out" 2>&1 &
    done
    wait
    for i in $(seq 50); do
        if [ "$(cat "$LIB_WORK/parallel/$i.out")" != "task $i" ]; then
            bad=$((bad + 1))
            echo "$i: $(tr '\n' ' ' < "$LIB_WORK/parallel/$i.out")"
        fi
    done
    [ "$bad" -eq 0 ] || lib_fail "$bad of 50 tasks failed"
    lib_expect_eq "containers left" "$(ctr_ container ls -q | grep parallel- || true)" ""
    lib_expect_eq "runtime state left" "$("$runtime" --root "$runtime_root" list -q | grep parallel- || true)" ""
}

# --- main ------------------------------------------------------------------------

echo "containerd suite: runtime $runtime, containerd $(containerd --version | awk '{ print $3 }')"
build_busybox_image_archive "$image_ref" "$LIB_WORK/busybox.tar" || exit 2
start_private_containerd "$LIB_WORK/containerd" || exit 2
ctr_ image import "$LIB_WORK/busybox.tar" >/dev/null || { echo "image import failed" >&2; exit 2; }

lib_scenario "run: output" scenario_run_output
lib_scenario "run: exit codes" scenario_exit_codes
lib_scenario "run: env and cwd" scenario_env_cwd
lib_scenario "run: user and additional groups" scenario_user
lib_scenario "run: bind mounts rw and ro" scenario_bind_mounts
lib_scenario "run: read-only rootfs" scenario_read_only_rootfs
lib_scenario "limits: memory and cpu (cgroup files)" scenario_memory_cpu_limits
lib_scenario "limits: pids" scenario_pids_limit
lib_scenario "run -t: terminal (tmux)" scenario_run_tty
lib_scenario "task exec: output, cwd, exit status" scenario_exec
lib_scenario "task exec -t: terminal (tmux)" scenario_exec_tty
lib_scenario "task kill -s" scenario_kill_signal
lib_scenario "task pause and resume" scenario_pause_resume
lib_scenario "task ps" scenario_ps
lib_scenario "task metrics" scenario_metrics
lib_scenario "task delete: state and cgroup removed" scenario_delete
lib_scenario "50 tasks in parallel" scenario_parallel_tasks

lib_summary
