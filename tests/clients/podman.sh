#!/usr/bin/env bash
# The podman client suite: Debian's podman (through conmon) drives the OCI
# runtime given as argument, in private storage and state paths, on a busybox
# image imported from a local tarball. Run it against runc or crun too, to
# check that the scenarios test the right thing.
# Usage (as root): tests/clients/podman.sh [/path/to/runtime]   default: target/debug/husk
set -uo pipefail
# Single-quoted scripts run by sh inside the containers expand there.
# shellcheck disable=SC2016
suite_dir=$(cd "$(dirname "$0")" && pwd)
. "$suite_dir/lib.sh"

if ! command -v podman >/dev/null || ! command -v conmon >/dev/null; then
    echo "SKIP  podman suite: podman or conmon is not installed (apt-get install podman conmon)"
    exit 0
fi

[ "$(id -u)" = 0 ] || { echo "the podman suite needs root" >&2; exit 2; }
runtime=$(realpath "${1:-$suite_dir/../../target/debug/husk}")
[ -x "$runtime" ] || { echo "runtime $runtime is not an executable" >&2; exit 2; }

# podman and conmon write to fixed paths beside --root/--runroot; the runtime
# keeps its state in /run/<name>.
LIB_PRIVATE_DIRS=(/run /var/lib/containers /var/tmp /dev/shm)
lib_enter_private_ns "$@"

runtime_name=$(basename "$runtime")
# Root podman lowers its own RLIMIT_NPROC hard limit to 32768 before it
# starts conmon, so the containers' limit must not exceed that either.
nproc_limit=$(ulimit -Hu)
if [ "$nproc_limit" = unlimited ] || [ "$nproc_limit" -gt 32768 ]; then nproc_limit=32768; fi
cgroup_parent="/husk-podman-test-$$"
image=localhost/busybox:suite
mkdir -p "$LIB_WORK/tmp"
sed -e "s|@WORK@|$LIB_WORK|g" -e "s|@RUNTIME_NAME@|$runtime_name|g" -e "s|@RUNTIME_PATH@|$runtime|g" \
    -e "s|@NOFILE@|$(ulimit -Hn)|g" -e "s|@NPROC@|$nproc_limit|g" \
    "$suite_dir/podman/containers.conf.in" > "$LIB_WORK/containers.conf"
cat > "$LIB_WORK/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$LIB_WORK/storage"
runroot = "$LIB_WORK/runroot"
EOF
export CONTAINERS_CONF="$LIB_WORK/containers.conf"
export CONTAINERS_STORAGE_CONF="$LIB_WORK/storage.conf"
export TMPDIR="$LIB_WORK/tmp"
podman_global=(--root "$LIB_WORK/storage" --runroot "$LIB_WORK/runroot" --tmpdir "$LIB_WORK/libpod-tmp"
    --storage-driver overlay --cgroup-manager cgroupfs --events-backend file --runtime "$runtime")
run_defaults=(--network none --cgroup-parent "$cgroup_parent")
tmux_socket="$LIB_WORK/tmux.sock"

pod() { timeout -k 5 "${POD_TIMEOUT:-120}" podman "${podman_global[@]}" "$@"; }
run_once() { pod run --rm "${run_defaults[@]}" "$@"; }

# Starts a detached container NAME (removed when the scenario ends) running
# ARGS (default: sleep). Usage: detached NAME [run options...] [-- command...]
detached_names=()
remove_detached() {
    local name
    for name in "${detached_names[@]}"; do pod rm -f -t 0 "$name" >/dev/null 2>&1; done
    return 0
}
detached() {
    local name=$1 options=() command=(sleep 1000)
    shift
    while [ $# -gt 0 ] && [ "$1" != -- ]; do options+=("$1"); shift; done
    [ $# -gt 0 ] && { shift; command=("$@"); }
    detached_names+=("$name")
    trap remove_detached EXIT
    pod run -d --name "$name" "${run_defaults[@]}" "${options[@]}" "$image" "${command[@]}" >/dev/null
}
container_pid() { pod inspect --format '{{.State.Pid}}' "$1"; }
container_status() { pod inspect --format '{{.State.Status}}' "$1"; }

# Waits up to 10 s for COMMAND to succeed.
eventually() {
    local tries=100
    until "$@"; do
        tries=$((tries - 1))
        [ $tries -gt 0 ] || return 1
        sleep 0.1
    done
}

suite_cleanup() {
    pod rm -a -f -t 0 >/dev/null 2>&1
    tmux -S "$tmux_socket" kill-server 2>/dev/null
    local parent
    for parent in /sys/fs/cgroup/"$cgroup_parent" /sys/fs/cgroup/*/"$cgroup_parent"; do
        [ -d "$parent" ] && find "$parent" -depth -type d -exec rmdir {} \; 2>/dev/null
    done
    return 0
}
trap suite_cleanup EXIT

scenario_runtime_selected() {
    # The containers.conf [engine] entries alone select the runtime.
    local path
    path=$(timeout 60 podman --root "$LIB_WORK/storage" --runroot "$LIB_WORK/runroot" info --format '{{.Host.OCIRuntime.Path}}')
    lib_expect_eq "runtime in podman info" "$path" "$runtime"
}

scenario_run_output() {
    lib_expect_eq "output" "$(run_once "$image" echo hello from podman)" "hello from podman"
    lib_expect_eq "stdin" "$(echo piped | pod run --rm -i "${run_defaults[@]}" "$image" cat)" "piped"
}

scenario_exit_codes() {
    local rc stderr
    rc=0; run_once "$image" sh -c 'exit 42' || rc=$?
    lib_expect_eq "exit code of 'exit 42'" "$rc" 42
    # podman maps the runtime's (JSON) error to 127/126 from its wording.
    rc=0; stderr=$(run_once "$image" /no/such/binary 2>&1) || rc=$?
    lib_expect_eq "exit code of a missing binary" "$rc" 127
    lib_expect_contains "error of a missing binary" "$stderr" "/no/such/binary"
    # With runtime_supports_json podman decodes the runtime's JSON log lines.
    case "$stderr" in *'"msg"'*|*'"level"'*) lib_fail "raw JSON log in podman's error: $stderr" ;; esac
    rc=0; run_once "$image" /etc/passwd || rc=$?
    lib_expect_eq "exit code of a non-executable file" "$rc" 126
}

scenario_env_workdir_user() {
    local out
    out=$(run_once -e GREETING=hi -w /tmp --user 1000:1000 "$image" sh -c 'echo "$GREETING $(pwd) $(id -u):$(id -g)"')
    lib_expect_eq "env, workdir, uid:gid" "$out" "hi /tmp 1000:1000"
    out=$(run_once --user nobody --group-add 1000 "$image" id)
    lib_expect_contains "--user nobody" "$out" "uid=65534(nobody)"
    lib_expect_contains "--group-add" "$out" "1000(user)"
}

scenario_bind_mounts() {
    local dir rc=0
    dir=$(mktemp -d "$LIB_WORK/bind.XXXXXX")
    echo host-data > "$dir/from-host"
    run_once -v "$dir:/data" "$image" sh -c 'cat /data/from-host; echo container-data > /data/from-container'
    lib_expect_eq "file written through the rw bind" "$(cat "$dir/from-container")" container-data
    lib_expect_eq "read through the ro bind" "$(run_once -v "$dir:/data:ro" "$image" cat /data/from-host)" host-data
    run_once -v "$dir:/data:ro" "$image" touch /data/denied || rc=$?
    [ "$rc" -ne 0 ] || lib_fail "writing through a ro bind succeeded"
    [ ! -e "$dir/denied" ] || lib_fail "a file appeared through a ro bind"
}

scenario_read_only() {
    local out
    out=$(run_once --read-only "$image" sh -c 'touch /file 2>&1; touch /tmp/file && echo tmp-writable')
    lib_expect_contains "write to the read-only rootfs" "$out" "Read-only file system"
    lib_expect_contains "podman's tmpfs on /tmp under --read-only" "$out" "tmp-writable"
}

scenario_tmpfs() {
    local out
    out=$(run_once --tmpfs /scratch:size=1m,mode=1777 "$image" sh -c \
        'grep " /scratch " /proc/mounts; stat -c %a /scratch; dd if=/dev/zero of=/scratch/fill bs=1k count=2048 2>&1; true')
    lib_expect_contains "tmpfs mount" "$out" "tmpfs /scratch tmpfs"
    lib_expect_contains "tmpfs size" "$out" "size=1024k"
    lib_expect_contains "tmpfs mode" "$out" "1777"
    lib_expect_contains "tmpfs full at 1m" "$out" "No space left on device"
}

scenario_resource_limits() {
    local pid stats
    detached limits --memory 64m --pids-limit 50 --cpus 0.5
    lib_expect_eq "inspect memory" "$(pod inspect --format '{{.HostConfig.Memory}}' limits)" 67108864
    lib_expect_eq "inspect pids" "$(pod inspect --format '{{.HostConfig.PidsLimit}}' limits)" 50
    lib_expect_eq "inspect cpus" "$(pod inspect --format '{{.HostConfig.NanoCpus}}' limits)" 500000000
    pid=$(container_pid limits)
    lib_expect_eq "cgroup memory limit" "$(lib_cgroup_value "$pid" memory memory.limit_in_bytes memory.max)" 67108864
    lib_expect_eq "cgroup pids limit" "$(lib_cgroup_value "$pid" pids pids.max pids.max)" 50
    if lib_cgroup_v2; then
        lib_expect_eq "cgroup cpu.max" "$(lib_cgroup_value "$pid" cpu - cpu.max)" "50000 100000"
    else
        lib_expect_eq "cgroup cpu quota" "$(lib_cgroup_value "$pid" cpu cpu.cfs_quota_us -)" 50000
        lib_expect_eq "cgroup cpu period" "$(lib_cgroup_value "$pid" cpu cpu.cfs_period_us -)" 100000
    fi
    stats=$(pod stats --no-stream --format '{{.MemUsage}} pids={{.PIDs}}' limits)
    lib_expect_contains "stats memory limit" "$stats" "/ 67.11MB"
    lib_expect_contains "stats pids" "$stats" "pids=1"
    # The pids limit is enforced: 60 more processes cannot all start.
    pod exec limits sh -c 'for i in $(seq 60); do sleep 30 & done; wait' >/dev/null 2>&1 \
        && lib_fail "60 processes started under a pids limit of 50"
    return 0
}

cap_eff() { run_once "$@" "$image" sh -c 'grep ^CapEff /proc/self/status' | awk '{print $2}'; }

scenario_capabilities() {
    local rc=0
    lib_expect_eq "CapEff with --cap-drop ALL" "$(cap_eff --cap-drop ALL)" 0000000000000000
    # CAP_NET_BIND_SERVICE is bit 10, CAP_CHOWN bit 0.
    lib_expect_eq "CapEff with --cap-drop ALL --cap-add NET_BIND_SERVICE" \
        "$(cap_eff --cap-drop ALL --cap-add NET_BIND_SERVICE)" 0000000000000400
    lib_expect_eq "CapEff with --cap-drop ALL --cap-add CHOWN" "$(cap_eff --cap-drop ALL --cap-add CHOWN)" 0000000000000001
    run_once --cap-drop ALL "$image" chown 1000 /tmp || rc=$?
    [ "$rc" -ne 0 ] || lib_fail "chown succeeded without CAP_CHOWN"
    run_once --cap-drop ALL --cap-add CHOWN "$image" chown 1000 /tmp
}

scenario_no_new_privileges() {
    local field='grep ^NoNewPrivs /proc/self/status'
    lib_expect_eq "default" "$(run_once "$image" sh -c "$field" | awk '{print $2}')" 0
    lib_expect_eq "with the option" \
        "$(run_once --security-opt no-new-privileges "$image" sh -c "$field" | awk '{print $2}')" 1
}

scenario_seccomp_default_profile() {
    local out
    lib_expect_eq "Seccomp mode" "$(run_once "$image" sh -c 'grep ^Seccomp: /proc/self/status' | awk '{print $2}')" 2
    lib_expect_eq "Seccomp mode when unconfined" \
        "$(run_once --security-opt seccomp=unconfined "$image" sh -c 'grep ^Seccomp: /proc/self/status' | awk '{print $2}')" 0
    # The profile refuses swapoff (EPERM) even with CAP_SYS_ADMIN; without the
    # profile the kernel itself answers (EINVAL: not a swap file).
    out=$(run_once --cap-add SYS_ADMIN "$image" swapoff /etc/passwd 2>&1 || true)
    lib_expect_contains "swapoff under the profile" "$out" "Operation not permitted"
    out=$(run_once --cap-add SYS_ADMIN --security-opt seccomp=unconfined "$image" swapoff /etc/passwd 2>&1 || true)
    lib_expect_contains "swapoff unconfined" "$out" "Invalid argument"
}

scenario_hostname() {
    lib_expect_eq "hostname" "$(run_once --hostname box-one "$image" hostname)" box-one
    lib_expect_eq "/etc/hostname" "$(run_once --hostname box-one "$image" cat /etc/hostname)" box-one
}

scenario_ulimit() {
    lib_expect_eq "nofile soft and hard" \
        "$(run_once --ulimit nofile=1024:2048 --ulimit nproc=500:1000 "$image" sh -c 'echo $(ulimit -n) $(ulimit -Hn) $(ulimit -u) $(ulimit -Hu)')" \
        "1024 2048 500 1000"
    lib_expect_eq "default nofile from containers.conf" "$(run_once "$image" sh -c 'ulimit -Hn')" "$(ulimit -Hn)"
}

scenario_privileged() {
    local out bounding
    bounding=$(awk '/^CapBnd/ {print $2}' /proc/self/status)
    out=$(run_once --privileged "$image" sh -c 'grep -E "^(CapEff|Seccomp):" /proc/self/status; ls /dev; grep " /sys " /proc/mounts')
    lib_expect_contains "all capabilities" "$out" "CapEff:	$bounding"
    lib_expect_contains "no seccomp" "$out" "Seccomp:	0"
    lib_expect_contains "host devices" "$out" "loop-control"
    lib_expect_contains "/sys writable" "$out" "sysfs /sys sysfs rw"
}

scenario_exec() {
    local rc=0
    detached exec-target
    lib_expect_eq "exec output" "$(pod exec exec-target echo in-container)" in-container
    lib_expect_eq "exec env, workdir, user" \
        "$(pod exec -e WHO=exec -w /tmp -u 1000 exec-target sh -c 'echo $WHO $(pwd) $(id -u)')" "exec /tmp 1000"
    pod exec exec-target sh -c 'exit 3' || rc=$?
    lib_expect_eq "exec exit code" "$rc" 3
    lib_expect_eq "exec shares the pid namespace" "$(pod exec exec-target sh -c 'cat /proc/1/cmdline | tr "\0" " "')" "sleep 1000 "
}

scenario_exec_tty() {
    command -v tmux >/dev/null || lib_skip "tmux is not installed"
    local command screen
    detached tty-target
    command=$(printf '%q ' podman "${podman_global[@]}" exec -it tty-target sh)
    tmux -S "$tmux_socket" new-session -d -s exec-tty -x 100 -y 30 "$command"
    tmux -S "$tmux_socket" send-keys -t exec-tty 'tty; stty size; echo "answer=$((6 * 7))"' Enter
    screen_has_answer() {
        screen=$(tmux -S "$tmux_socket" capture-pane -p -t exec-tty 2>/dev/null) && [[ "$screen" == *answer=42* ]]
    }
    eventually screen_has_answer || lib_fail "no answer on the terminal: $screen"
    lib_expect_contains "a pty" "$screen" "/dev/pts/"
    lib_expect_contains "the terminal size" "$screen" "30 100"
    tmux -S "$tmux_socket" kill-session -t exec-tty
}

scenario_stop() {
    local start
    # PID 1 ignores SIGTERM without a handler: podman escalates to SIGKILL.
    detached stop-ignored
    start=$SECONDS
    pod stop -t 2 stop-ignored >/dev/null
    lib_expect_eq "exit code after the KILL" "$(pod inspect --format '{{.State.ExitCode}}' stop-ignored)" 137
    [ $((SECONDS - start)) -ge 2 ] || lib_fail "stopped before the 2 s timeout"
    detached stop-handled -- sh -c 'trap "exit 7" TERM; while :; do sleep 0.1; done'
    start=$SECONDS
    pod stop -t 30 stop-handled >/dev/null
    lib_expect_eq "exit code from the TERM handler" "$(pod inspect --format '{{.State.ExitCode}}' stop-handled)" 7
    [ $((SECONDS - start)) -lt 10 ] || lib_fail "the TERM handler was not given the signal"
    detached stop-custom --stop-signal USR1 -- sh -c 'trap "exit 9" USR1; while :; do sleep 0.1; done'
    pod stop -t 30 stop-custom >/dev/null
    lib_expect_eq "exit code from --stop-signal USR1" "$(pod inspect --format '{{.State.ExitCode}}' stop-custom)" 9
}

scenario_kill_signal() {
    detached kill-target -- sh -c 'trap "echo got-usr1" USR1; while :; do sleep 0.1; done'
    pod kill -s USR1 kill-target >/dev/null
    logs_have_usr1() { pod logs kill-target | grep -q got-usr1; }
    eventually logs_have_usr1 || lib_fail "USR1 did not reach the container"
    lib_expect_eq "still running after USR1" "$(container_status kill-target)" running
    pod kill kill-target >/dev/null
    pod wait kill-target >/dev/null
    lib_expect_eq "exit code after kill" "$(pod inspect --format '{{.State.ExitCode}}' kill-target)" 137
}

scenario_pause_unpause() {
    local pid
    detached pause-target -- sh -c 'while :; do date +%s%N > /tmp/tick; sleep 0.1; done'
    pid=$(container_pid pause-target)
    pod pause pause-target >/dev/null
    lib_expect_eq "status" "$(container_status pause-target)" paused
    lib_expect_eq "freezer" "$(lib_freezer_state "$pid")" FROZEN
    pod unpause pause-target >/dev/null
    lib_expect_eq "status after unpause" "$(container_status pause-target)" running
    lib_expect_eq "freezer after unpause" "$(lib_freezer_state "$pid")" THAWED
    lib_expect_eq "exec after unpause" "$(pod exec pause-target echo alive)" alive
}

scenario_top() {
    local out
    detached top-target
    out=$(pod top top-target pid user args)
    lib_expect_contains "top lists the init" "$out" "sleep 1000"
    lib_expect_contains "top user" "$out" "root"
}

scenario_stats() {
    local out
    detached stats-target -- sh -c 'dd if=/dev/zero of=/dev/shm/fill bs=1M count=8 2>/dev/null; sleep 1000'
    sleep 1
    out=$(pod stats --no-stream --no-reset --format json stats-target)
    lib_expect_contains "stats name" "$out" '"name": "stats-target"'
    echo "$out" | jq -e '.[0].mem_usage | test("^[0-9.]+[kMG]B / ")' >/dev/null || lib_fail "no memory usage: $out"
    echo "$out" | jq -e '.[0].pids == "1"' >/dev/null || lib_fail "pids is not 1: $out"
}

scenario_update() {
    local pid
    detached update-target --memory 64m
    pid=$(container_pid update-target)
    pod update --memory 128m --cpus 0.25 update-target >/dev/null
    lib_expect_eq "cgroup memory limit" "$(lib_cgroup_value "$pid" memory memory.limit_in_bytes memory.max)" 134217728
    if lib_cgroup_v2; then
        lib_expect_eq "cgroup cpu.max" "$(lib_cgroup_value "$pid" cpu - cpu.max)" "25000 100000"
    else
        lib_expect_eq "cgroup cpu quota" "$(lib_cgroup_value "$pid" cpu cpu.cfs_quota_us -)" 25000
    fi
}

scenario_restart() {
    local first_pid second_pid
    detached restart-target
    first_pid=$(container_pid restart-target)
    pod restart -t 1 restart-target >/dev/null
    second_pid=$(container_pid restart-target)
    lib_expect_eq "status" "$(container_status restart-target)" running
    [ "$first_pid" != "$second_pid" ] || lib_fail "the pid did not change: $first_pid"
    kill -0 "$first_pid" 2>/dev/null && lib_fail "the first init ($first_pid) still runs"
    lib_expect_eq "exec after restart" "$(pod exec restart-target echo again)" again
}

scenario_rm_force() {
    local id pid cgroup
    detached rm-target
    id=$(pod inspect --format '{{.Id}}' rm-target)
    pid=$(container_pid rm-target)
    cgroup=$(lib_cgroup_dir "$pid" pids)
    [ -d "$cgroup" ] || lib_fail "no cgroup $cgroup for the running container"
    "$runtime" list 2>/dev/null | grep -q "$id" || lib_fail "$runtime_name list does not show the running $id"
    pod rm -f -t 0 rm-target >/dev/null
    [ -z "$(pod ps -aq --filter name=rm-target)" ] || lib_fail "the container is still listed"
    kill -0 "$pid" 2>/dev/null && lib_fail "the init ($pid) still runs"
    [ ! -d "$cgroup" ] || lib_fail "the cgroup $cgroup is left"
    "$runtime" list 2>/dev/null | grep -q "$id" && lib_fail "$runtime_name still lists $id"
    return 0
}

scenario_init() {
    local init_path
    init_path=$(grep -o '^init_path = "[^"]*"' "$CONTAINERS_CONF" | cut -d'"' -f2)
    [ -x "$init_path" ] || lib_skip "no init binary at $init_path (apt-get install catatonit)"
    local out rc=0
    out=$(run_once --init "$image" sh -c 'cat /proc/1/cmdline | tr "\0" " "; echo; echo $$')
    lib_expect_contains "pid 1" "$out" "/run/podman-init"
    detached init-target --init
    pod stop -t 10 init-target >/dev/null
    lib_expect_eq "the init forwards SIGTERM to sleep" "$(pod inspect --format '{{.State.ExitCode}}' init-target)" 143
    run_once --init "$image" sh -c 'exit 5' || rc=$?
    lib_expect_eq "exit code through the init" "$rc" 5
}

scenario_userns_uidmap() {
    local dir out
    dir=$(mktemp -d "$LIB_WORK/userns.XXXXXX")
    chmod 777 "$dir"
    out=$(run_once --uidmap 0:200000:65536 --gidmap 0:200000:65536 -v "$dir:/data" "$image" \
        sh -c 'cat /proc/self/uid_map; id -u; touch /data/created')
    lib_expect_contains "uid_map" "$out" "200000"
    lib_expect_eq "owner on the host of a file created as container root" "$(stat -c %u:%g "$dir/created")" 200000:200000
}

scenario_userns_auto() {
    local map
    { [ -f /etc/subuid ] && [ -f /etc/subgid ]; } || lib_skip "no /etc/subuid and /etc/subgid to cover with the suite's ranges"
    # podman takes --userns=auto ranges from the "containers" entries; the
    # bind mounts live in the suite's private mount namespace only.
    echo "containers:300000:200000" > "$LIB_WORK/subids"
    mount --bind "$LIB_WORK/subids" /etc/subuid
    trap 'umount /etc/subuid' EXIT
    mount --bind "$LIB_WORK/subids" /etc/subgid
    trap 'umount /etc/subuid /etc/subgid' EXIT
    map=$(run_once --userns=auto:size=65536 "$image" sh -c 'cat /proc/self/uid_map; id -u')
    echo "$map"
    echo "$map" | awk 'NR == 1 && $1 == 0 && $2 >= 300000 && $2 + $3 <= 500000 && $3 == 65536 { found = 1 } END { exit !found }' \
        || lib_fail "uid_map is not a 65536 range from the containers subuid range: $map"
    lib_expect_eq "uid inside" "$(echo "$map" | tail -n 1)" 0
}

scenario_userns_idmapped_mount() {
    local dir out rc=0
    # A runtime that does not know idmapped mounts (runc 1.1) ignores the option.
    "$runtime" features 2>/dev/null | jq -e '.linux.mountExtensions.idmap.enabled' >/dev/null \
        || lib_skip "$runtime_name features does not announce idmapped mounts"
    dir=$(mktemp -d "$LIB_WORK/idmap.XXXXXX")
    echo owned-by-host-root > "$dir/file"
    out=$(run_once --uidmap 0:200000:65536 --gidmap 0:200000:65536 -v "$dir:/data:idmap" "$image" \
        sh -c 'stat -c %u:%g /data/file; touch /data/created' 2>&1) || rc=$?
    if [ "$rc" -ne 0 ]; then
        case "$out" in
            *idmap*|*"not supported"*|*"invalid argument"*) lib_skip "the runtime refuses idmapped mounts: $(echo "$out" | tail -n 1)" ;;
        esac
        lib_fail "run failed: $out"
    fi
    lib_expect_contains "host root seen as container root" "$out" "0:0"
    lib_expect_eq "owner on the host of a file created as container root" "$(stat -c %u:%g "$dir/created")" 0:0
}

scenario_parallel_50() {
    local i failures=0 pids=() leftover
    for i in $(seq 50); do
        pod run -d --name "parallel-$i" "${run_defaults[@]}" "$image" sleep 1000 >/dev/null 2>"$LIB_WORK/parallel-$i.err" &
        pids+=($!)
    done
    for i in "${pids[@]}"; do wait "$i" || failures=$((failures + 1)); done
    [ "$failures" -eq 0 ] || lib_fail "$failures of 50 runs failed: $(cat "$LIB_WORK"/parallel-*.err | sort | uniq -c | head -n 3)"
    lib_expect_eq "running" "$(pod ps -q --filter name=parallel- --filter status=running | wc -l)" 50
    pids=()
    for i in $(seq 50); do
        pod rm -f -t 0 "parallel-$i" >/dev/null 2>"$LIB_WORK/parallel-$i.err" &
        pids+=($!)
    done
    for i in "${pids[@]}"; do wait "$i" || failures=$((failures + 1)); done
    [ "$failures" -eq 0 ] || lib_fail "$failures of 50 removals failed"
    lib_expect_eq "listed after removal" "$(pod ps -aq --filter name=parallel- | wc -l)" 0
    leftover=$(find /sys/fs/cgroup/ -maxdepth 3 -path "*$cgroup_parent/libpod-*" -type d | wc -l)
    lib_expect_eq "container cgroups left" "$leftover" 0
}

scenario_nothing_left_behind() {
    local left pid
    pod rm -a -f -t 0 >/dev/null
    lib_expect_eq "podman containers" "$(pod ps -aq | wc -l)" 0
    left=$("$runtime" list -q 2>/dev/null | wc -l)
    lib_expect_eq "containers in $runtime_name's state dir" "$left" 0
    left=$(find /sys/fs/cgroup/ -maxdepth 3 -path "*$cgroup_parent/libpod-*" -type d | wc -l)
    lib_expect_eq "container cgroups" "$left" 0
    # conmon exits on its own once it has recorded its container's exit;
    # under load that can take a few seconds after `rm`.
    local deadline=$((SECONDS + 20))
    while :; do
        left=0
        for pid in $(pgrep -x conmon); do
            [ "$(readlink "/proc/$pid/ns/mnt")" = "$(readlink /proc/self/ns/mnt)" ] && left=$((left + 1))
        done
        [ "$left" -eq 0 ] || [ "$SECONDS" -ge "$deadline" ] && break
        sleep 0.2
    done
    lib_expect_eq "conmon processes" "$left" 0
}

echo "podman $(podman --version | awk '{print $3}') with runtime $runtime"
lib_busybox_tarball "$LIB_WORK/busybox.tar"
pod import --change 'CMD ["/bin/sh"]' "$LIB_WORK/busybox.tar" "$image" > "$LIB_WORK/import.log" 2>&1 \
    || { echo "FAIL  importing the busybox image: $(tail -n 3 "$LIB_WORK/import.log")"; exit 1; }

lib_scenario runtime-selected-by-containers.conf scenario_runtime_selected
lib_scenario run-and-output scenario_run_output
lib_scenario exit-codes scenario_exit_codes
lib_scenario env-workdir-user scenario_env_workdir_user
lib_scenario bind-mounts-rw-ro scenario_bind_mounts
lib_scenario read-only scenario_read_only
lib_scenario tmpfs scenario_tmpfs
lib_scenario memory-pids-cpu-limits scenario_resource_limits
lib_scenario cap-drop-cap-add scenario_capabilities
lib_scenario no-new-privileges scenario_no_new_privileges
lib_scenario seccomp-default-profile scenario_seccomp_default_profile
lib_scenario hostname scenario_hostname
lib_scenario ulimit scenario_ulimit
lib_scenario privileged scenario_privileged
lib_scenario detached-exec scenario_exec
lib_scenario exec-it-tty scenario_exec_tty
lib_scenario stop-term-then-kill scenario_stop
lib_scenario kill-signal scenario_kill_signal
lib_scenario pause-unpause scenario_pause_unpause
lib_scenario top scenario_top
lib_scenario stats scenario_stats
lib_scenario update scenario_update
lib_scenario restart scenario_restart
lib_scenario rm-force scenario_rm_force
lib_scenario init scenario_init
lib_scenario userns-uidmap scenario_userns_uidmap
lib_scenario userns-auto scenario_userns_auto
lib_scenario userns-idmapped-mount scenario_userns_idmapped_mount
lib_scenario parallel-50 scenario_parallel_50
lib_scenario nothing-left-behind scenario_nothing_left_behind
lib_summary
