#!/usr/bin/env bash
# Docker client suite: a private dockerd (own data-root, exec-root, socket, no
# iptables, no bridge) on a private containerd runs every container with the
# runtime given as argument, registered the way a user would: daemon.json
# "runtimes" + "default-runtime". The image is a busybox image built locally and
# loaded with `docker load`.
#   tests/clients/docker.sh [/path/to/runtime]   (default: target/debug/husk)
# Run it with /usr/sbin/runc to see that every scenario tests what runc does.
# One PASS/FAIL/SKIP line per scenario, then "N passed, M failed, K skipped";
# exit status 1 if a scenario failed.
set -uo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
runtime=$(realpath "${1:-$repo/target/debug/husk}")
source "$repo/tests/clients/lib.sh"
source "$repo/tests/clients/containerd/common.sh"

# Debian's client, not another docker CLI that may sit earlier in PATH.
docker_cli=/usr/bin/docker
for tool in dockerd "$docker_cli" containerd containerd-shim-runc-v2; do
    if ! command -v "$tool" >/dev/null; then
        echo "SKIP  docker suite: $tool is not installed (apt-get install docker.io containerd)"
        echo "0 passed, 0 failed, 1 skipped"
        exit 0
    fi
done
[ -x "$runtime" ] || { echo "runtime $runtime is not executable" >&2; exit 2; }
# dockerd writes its key.json to /etc/docker and plugin sockets to /run/docker.
LIB_PRIVATE_DIRS=("${containerd_private_dirs[@]}" /etc/docker /run/docker)
lib_enter_private_ns "$@"

work=$LIB_WORK
image_ref="husk.test/busybox:latest"
cgroup_parent="husk-docker-suite-$$"
runtime_name=under-test
containerd_pid=""
dockerd_pid=""
export DOCKER_HOST="unix://$work/docker.sock" DOCKER_CONFIG="$work/client-config"

docker_() {
    timeout 120 "$docker_cli" "$@"
}

cleanup() {
    local ids
    if [ -n "$dockerd_pid" ]; then
        ids=$(docker_ ps -aq 2>/dev/null)
        [ -z "$ids" ] || docker_ rm -f $ids >/dev/null 2>&1
        stop_daemon "$dockerd_pid"
    fi
    if [ -n "$containerd_pid" ]; then
        stop_daemon "$containerd_pid"
        stop_shims_of "$containerd_socket"
    fi
    tmux -L "$tmux_socket" kill-server 2>/dev/null
    remove_cgroup_tree "$cgroup_parent"
}
trap cleanup EXIT
trap "exit 130" INT TERM

# start_dockerd EXTRA_JSON: dockerd configured by daemon.json (merged with
# EXTRA_JSON), on the private containerd.
start_dockerd() {
    mkdir -p "$work/dockerd"
    jq -n --arg runtime "$runtime" --arg name "$runtime_name" --arg dir "$work/dockerd" \
        --arg socket "$work/docker.sock" --arg containerd "$containerd_socket" --arg parent "/$cgroup_parent" \
        --argjson extra "$1" '{
            runtimes: {($name): {path: $runtime}},
            "default-runtime": $name,
            "default-ulimits": {nofile: {Name: "nofile", Soft: 20000, Hard: 20000}},
            "data-root": "\($dir)/data", "exec-root": "\($dir)/exec", pidfile: "\($dir)/docker.pid",
            hosts: ["unix://\($socket)"], containerd: $containerd, "cgroup-parent": $parent,
            iptables: false, ip6tables: false, "ip-forward": false, "ip-masq": false,
            bridge: "none", "userland-proxy": false
        } + $extra' > "$work/daemon.json"
    dockerd --config-file "$work/daemon.json" > "$work/dockerd.log" 2>&1 &
    dockerd_pid=$!
    local deadline=$((SECONDS + 60))
    until docker_ version >/dev/null 2>&1; do
        if [ "$SECONDS" -ge "$deadline" ] || ! kill -0 "$dockerd_pid" 2>/dev/null; then
            echo "dockerd did not start:" >&2
            tail -n 20 "$work/dockerd.log" >&2
            return 1
        fi
        sleep 0.5
    done
    docker_ load -q -i "$work/busybox.tar" >/dev/null
}

# Containers get no network: the daemon has no bridge.
run_() {
    docker_ run --rm --network none "$@"
}

start_service() {
    docker_ run -d --network none --name "$@" "$image_ref" sleep 100000 >/dev/null
}

container_pid() {
    docker_ inspect -f '{{.State.Pid}}' "$1"
}

inspect_() {
    docker_ inspect -f "$2" "$1"
}

wait_for_state() {
    local deadline=$((SECONDS + 30))
    until [ "$(inspect_ "$1" '{{.State.Status}}')" = "$2" ]; do
        [ "$SECONDS" -lt "$deadline" ] || lib_fail "container $1 never became $2"
        sleep 0.2
    done
}

# remove_on_exit NAME...: the calling scenario removes these containers when it
# ends, whatever the outcome (the trap runs under set -e: gone is fine).
remove_on_exit() {
    trap "docker_ rm -f $* >/dev/null 2>&1 || true" EXIT
}

status_line() {
    run_ "$@" "$image_ref" sh -c 'grep -E "^(CapEff|NoNewPrivs|Seccomp):" /proc/self/status | tr -s "\t" " "'
}

# --- scenarios -------------------------------------------------------------------

scenario_run_output() {
    lib_expect_eq "output" "$(run_ "$image_ref" echo hello from docker)" "hello from docker"
}

scenario_exit_codes() {
    local status=0
    run_ "$image_ref" sh -c 'exit 7' || status=$?
    lib_expect_eq "exit status of 'exit 7'" "$status" 7
    # Docker maps the runtime's "no such file or directory" / "executable file not
    # found" create error to 127 by matching those words.
    status=0
    run_ "$image_ref" /no/such/binary || status=$?
    lib_expect_eq "exit status of a missing binary" "$status" 127
    status=0
    run_ "$image_ref" no-such-command || status=$?
    lib_expect_eq "exit status of a command not in PATH" "$status" 127
}

scenario_env_workdir_user() {
    lib_expect_eq "env, workdir, id" \
        "$(run_ -e GREETING=hi -w /home/user --user user "$image_ref" sh -c 'echo "$GREETING $(pwd)"; id')" \
        "$(printf 'hi /home/user\nuid=1000(user) gid=1000(user) groups=1000(user),2000(extra)')"
    lib_expect_eq "numeric --user with --group-add" "$(run_ --user 65534:65534 --group-add 2000 "$image_ref" id)" \
        "uid=65534(nobody) gid=65534(nogroup) groups=2000(extra),65534(nogroup)"
}

scenario_bind_mounts() {
    local shared="$work/bind" out
    mkdir -p "$shared/rw" "$shared/ro"
    echo from-host > "$shared/ro/file"
    out=$(run_ -v "$shared/rw:/mnt/rw" -v "$shared/ro:/mnt/ro:ro" "$image_ref" \
        sh -c 'echo from-container > /mnt/rw/file && cat /mnt/ro/file && ! touch /mnt/ro/new 2>/dev/null && echo ro-refused')
    lib_expect_eq "container output" "$out" "$(printf 'from-host\nro-refused')"
    lib_expect_eq "file written through the rw bind" "$(cat "$shared/rw/file")" from-container
}

scenario_read_only_tmpfs() {
    local out
    out=$(run_ --read-only --tmpfs /scratch:size=1m "$image_ref" sh -c \
        'touch /new-file 2>/dev/null && echo root-writable || echo root-read-only
         echo data > /scratch/file && cat /scratch/file
         awk "\$2 == \"/scratch\" { print \$3, \$4 }" /proc/mounts')
    lib_expect_eq "read-only root" "$(sed -n 1p <<< "$out")" root-read-only
    lib_expect_eq "write to --tmpfs" "$(sed -n 2p <<< "$out")" data
    lib_expect_contains "--tmpfs mount" "$(sed -n 3p <<< "$out")" "tmpfs rw,"
    lib_expect_contains "--tmpfs size" "$(sed -n 3p <<< "$out")" "size=1024k"
}

scenario_limits() {
    local pid stats
    remove_on_exit limited
    start_service limited --memory 64m --pids-limit 20 --cpus 0.5
    pid=$(container_pid limited)
    lib_expect_eq "inspect" "$(inspect_ limited '{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}} {{.HostConfig.NanoCpus}}')" \
        "67108864 20 500000000"
    lib_expect_eq "memory limit" "$(lib_cgroup_value "$pid" memory memory.limit_in_bytes memory.max)" 67108864
    lib_expect_eq "pids.max" "$(lib_cgroup_value "$pid" pids pids.max pids.max)" 20
    lib_expect_eq "cpu quota" "$(lib_cgroup_value "$pid" cpu cpu.cfs_quota_us cpu.max)" \
        "$(lib_cgroup_v2 && echo "50000 100000" || echo 50000)"
    # Docker gives v2 containers a cgroup namespace: their own cgroup is the root.
    lib_expect_eq "memory limit inside" \
        "$(docker_ exec limited cat "$(lib_cgroup_v2 && echo /sys/fs/cgroup/memory.max || echo /sys/fs/cgroup/memory/memory.limit_in_bytes)")" 67108864
    lib_expect_eq "pids limit inside" \
        "$(docker_ exec limited cat "$(lib_cgroup_v2 && echo /sys/fs/cgroup/pids.max || echo /sys/fs/cgroup/pids/pids.max)")" 20
    stats=$(docker_ stats --no-stream --format '{{.MemUsage}} pids={{.PIDs}}' limited)
    lib_expect_contains "docker stats memory limit" "$stats" "/ 64MiB"
    lib_expect_contains "docker stats pids" "$stats" "pids=1"
}

scenario_capabilities() {
    local out
    out=$(run_ --cap-drop ALL "$image_ref" sh -c 'grep CapEff /proc/self/status; chown 1 /tmp 2>&1 || true')
    lib_expect_contains "CapEff with --cap-drop ALL" "$out" "0000000000000000"
    lib_expect_contains "chown without CAP_CHOWN" "$out" "Operation not permitted"
    out=$(run_ --cap-drop ALL --cap-add NET_ADMIN --cap-add CHOWN "$image_ref" sh -c 'grep CapEff /proc/self/status; chown 1 /tmp && echo chowned')
    lib_expect_contains "CapEff with NET_ADMIN and CHOWN" "$out" "0000000000001001"
    lib_expect_contains "chown with CAP_CHOWN" "$out" "chowned"
}

scenario_no_new_privileges() {
    lib_expect_contains "default" "$(status_line)" "NoNewPrivs: 0"
    lib_expect_contains "with no-new-privileges" "$(status_line --security-opt no-new-privileges)" "NoNewPrivs: 1"
}

# Docker's default profile refuses swapoff and unshare without CAP_SYS_ADMIN with
# EPERM; unconfined, the kernel lets unshare(CLONE_NEWUSER) through.
scenario_default_seccomp() {
    local out
    lib_expect_contains "default profile" "$(status_line)" "Seccomp: 2"
    out=$(run_ "$image_ref" sh -c 'swapoff /no-such-swap; unshare -U true && echo unshared' 2>&1 || true)
    lib_expect_contains "swapoff under the default profile" "$out" "Operation not permitted"
    lib_expect_contains "unshare under the default profile" "$out" "unshare(0x10000000): Operation not permitted"
    lib_expect_contains "unconfined" "$(status_line --security-opt seccomp=unconfined)" "Seccomp: 0"
    lib_expect_eq "unshare unconfined" \
        "$(run_ --security-opt seccomp=unconfined "$image_ref" sh -c 'unshare -U true && echo unshared')" unshared
}

scenario_hostname() {
    lib_expect_eq "hostname" "$(run_ --hostname box-1 "$image_ref" hostname)" box-1
}

scenario_ulimits() {
    lib_expect_eq "daemon default-ulimits nofile" "$(run_ "$image_ref" sh -c 'echo $(ulimit -Sn) $(ulimit -Hn)')" "20000 20000"
    lib_expect_eq "--ulimit nofile" "$(run_ --ulimit nofile=1024:2048 "$image_ref" sh -c 'echo $(ulimit -Sn) $(ulimit -Hn)')" \
        "1024 2048"
}

# --privileged asks for every capability Docker knows. Where the host's bounding set
# lacks some (this VM has no CAP_SYS_RESOURCE) the spec says a runtime SHOULD NOT
# fail but warn (husk does), while runc 1.1 refuses ("unable to apply caps"):
# either is accepted, but a container that runs must hold, effective, every
# capability up to CAP_AUDIT_READ (37, known to every Docker) that the host can
# grant, and none that the host cannot.
scenario_privileged() {
    local out host_bounding effective known_to_docker=$(((1 << 38) - 1))
    host_bounding=$((16#$(awk '$1 == "CapBnd:" { print $2 }' /proc/self/status)))
    if ! out=$(run_ --privileged "$image_ref" sh -c \
        'grep -E "^(CapEff|CapBnd|Seccomp):" /proc/self/status | tr -s "\t" " "
         mkdir /tmp/mountpoint && mount -t tmpfs t /tmp/mountpoint && echo mounted; ls /dev/loop-control' 2>&1); then
        [ "$host_bounding" -ne $(((1 << ($(cat /proc/sys/kernel/cap_last_cap) + 1)) - 1)) ] ||
            lib_fail "refused although the host can grant every capability: $out"
        lib_expect_contains "refusal" "$out" "OCI runtime create failed"
        return 0
    fi
    effective=$((16#$(awk '$1 == "CapEff:" { print $2 }' <<< "$out")))
    [ $((effective & ~host_bounding)) -eq 0 ] || lib_fail "capabilities beyond the host's: $out"
    [ $((effective & known_to_docker)) -eq $((host_bounding & known_to_docker)) ] ||
        lib_fail "grantable capabilities missing: $out"
    lib_expect_contains "bounding set" "$out" "CapBnd: $(awk '$1 == "CapEff:" { print $2 }' <<< "$out")"
    lib_expect_contains "seccomp" "$out" "Seccomp: 0"
    lib_expect_contains "mount" "$out" mounted
    lib_expect_contains "host devices" "$out" /dev/loop-control
}

scenario_run_tty() {
    remove_on_exit tty-run
    tty_session_check "$docker_cli run --rm -it --network none --name tty-run $image_ref sh"
}

scenario_detach_exec() {
    local status=0
    remove_on_exit svc
    start_service svc
    lib_expect_eq "exec output" "$(docker_ exec -w /tmp -e WHO=exec -u 1000 svc sh -c 'echo "$WHO $(pwd) $(id -u)"')" \
        "exec /tmp 1000"
    docker_ exec svc sh -c 'exit 4' || status=$?
    lib_expect_eq "exec exit status" "$status" 4
}

scenario_exec_tty() {
    remove_on_exit tty-svc
    start_service tty-svc
    tty_session_check "$docker_cli exec -it tty-svc sh"
}

scenario_stop() {
    local started=$SECONDS
    remove_on_exit stubborn polite
    start_service stubborn
    # sleep as pid 1 ignores SIGTERM: docker must fall back to SIGKILL.
    docker_ stop -t 2 stubborn >/dev/null
    lib_expect_eq "exit code after stop of a TERM-ignoring init" "$(inspect_ stubborn '{{.State.ExitCode}}')" 137
    docker_ run -d --network none --name polite "$image_ref" sh -c 'trap "exit 0" TERM; while :; do sleep 0.1; done' >/dev/null
    sleep 1
    docker_ stop -t 30 polite >/dev/null
    lib_expect_eq "exit code after stop of a TERM-handling init" "$(inspect_ polite '{{.State.ExitCode}}')" 0
    [ $((SECONDS - started)) -lt 20 ] || lib_fail "stopping took $((SECONDS - started))s"
}

scenario_kill_signal() {
    remove_on_exit signalled
    docker_ run -d --network none --name signalled "$image_ref" sh -c 'trap "exit 3" USR1; while :; do sleep 0.1; done' >/dev/null
    sleep 1
    docker_ kill -s USR1 signalled >/dev/null
    wait_for_state signalled exited
    lib_expect_eq "exit code after SIGUSR1 (trapped: exit 3)" "$(inspect_ signalled '{{.State.ExitCode}}')" 3
}

scenario_pause_unpause() {
    local pid
    remove_on_exit frozen
    start_service frozen
    pid=$(container_pid frozen)
    docker_ pause frozen >/dev/null
    lib_expect_eq "state after pause" "$(inspect_ frozen '{{.State.Status}}')" paused
    lib_expect_eq "freezer" "$(lib_freezer_state "$pid")" FROZEN
    docker_ unpause frozen >/dev/null
    lib_expect_eq "state after unpause" "$(inspect_ frozen '{{.State.Status}}')" running
    lib_expect_eq "exec after unpause" "$(docker_ exec frozen echo alive)" alive
}

scenario_top() {
    local top
    remove_on_exit topped
    start_service topped
    docker_ exec -d topped sleep 99999
    sleep 1
    top=$(docker_ top topped -o pid,args)
    lib_expect_contains "init in docker top" "$top" "sleep 100000"
    lib_expect_contains "exec'd process in docker top" "$top" "sleep 99999"
    lib_expect_contains "init's host pid" "$top" "$(container_pid topped) "
}

scenario_update() {
    local pid swap_limit=max
    remove_on_exit updated
    start_service updated --memory 64m --memory-swap 128m
    pid=$(container_pid updated)
    docker_ update --memory 128m --memory-swap 256m --pids-limit 50 --cpus 1 updated >/dev/null
    lib_expect_eq "inspect" "$(inspect_ updated '{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}} {{.HostConfig.NanoCpus}}')" \
        "134217728 50 1000000000"
    lib_expect_eq "memory limit" "$(lib_cgroup_value "$pid" memory memory.limit_in_bytes memory.max)" 134217728
    # v1 limits memory+swap, v2 swap alone. Where Docker finds no swap accounting (on v2 it
    # looks for memory.swap.max in its own cgroup, absent at the root) it drops --memory-swap.
    if [ "$(docker_ info --format '{{.SwapLimit}}')" = true ]; then
        swap_limit=$(lib_cgroup_v2 && echo 134217728 || echo 268435456)
    fi
    lib_expect_eq "swap limit" "$(lib_cgroup_value "$pid" memory memory.memsw.limit_in_bytes memory.swap.max)" \
        "$swap_limit"
    lib_expect_eq "pids.max" "$(lib_cgroup_value "$pid" pids pids.max pids.max)" 50
    lib_expect_eq "cpu quota" "$(lib_cgroup_value "$pid" cpu cpu.cfs_quota_us cpu.max)" \
        "$(lib_cgroup_v2 && echo "100000 100000" || echo 100000)"
    lib_expect_contains "docker stats after update" "$(docker_ stats --no-stream --format '{{.MemUsage}}' updated)" "/ 128MiB"
}

scenario_restart() {
    local first_pid
    remove_on_exit restarted
    start_service restarted
    first_pid=$(container_pid restarted)
    docker_ restart -t 1 restarted >/dev/null
    lib_expect_eq "state after restart" "$(inspect_ restarted '{{.State.Status}}')" running
    [ "$(container_pid restarted)" != "$first_pid" ] || lib_fail "same init pid $first_pid after restart"
    lib_expect_eq "exec after restart" "$(docker_ exec restarted echo alive)" alive
}

scenario_remove_force() {
    local id pid cgroup_dir
    remove_on_exit removed
    start_service removed
    id=$(inspect_ removed '{{.Id}}')
    pid=$(container_pid removed)
    cgroup_dir=$(lib_cgroup_dir "$pid" memory)
    docker_ rm -f removed >/dev/null
    ! docker_ inspect removed >/dev/null 2>&1 || lib_fail "container still known"
    [ ! -d "$cgroup_dir" ] || lib_fail "cgroup $cgroup_dir left behind"
    ! kill -0 "$pid" 2>/dev/null || lib_fail "init $pid still alive"
    ! "$runtime" --root "$work/dockerd/exec/runtime-$runtime_name/moby" list -q | grep -qx "$id" ||
        lib_fail "runtime state of $id left behind"
}

scenario_init() {
    local out
    [ -x /usr/bin/docker-init ] || lib_skip "no /usr/bin/docker-init (Debian's docker.io links it to tini-static)"
    out=$(run_ --init "$image_ref" sh -c 'tr "\0" " " < /proc/1/cmdline; echo; echo "sh is pid $$"')
    lib_expect_contains "pid 1" "$out" "/sbin/docker-init -- sh"
    ! grep -qx "sh is pid 1" <<< "$out" || lib_fail "the command ran as pid 1: $out"
}

scenario_parallel_containers() {
    local i bad=0 errors
    mkdir -p "$work/parallel"
    for i in $(seq 50); do
        run_ --name "parallel-$i" "$image_ref" echo "container $i" > "$work/parallel/$i.out" 2> "$work/parallel/$i.err" &
    done
    wait
    for i in $(seq 50); do
        # Under load dockerd's own --rm clean-up can race its writes into the container's
        # directory ("unable to remove filesystem ... directory not empty"): that is Docker's
        # (the runtime never writes there), so it is noted and the container removed here.
        errors=$(grep -v "unable to remove filesystem" "$work/parallel/$i.err" || true)
        if grep -q "unable to remove filesystem" "$work/parallel/$i.err"; then
            echo "note: dockerd failed to clean up parallel-$i: $(cat "$work/parallel/$i.err")"
            docker_ rm -f "parallel-$i" >/dev/null 2>&1 || true
            errors=$(grep -v "No such container" <<< "$errors" || true)
        fi
        if [ "$(cat "$work/parallel/$i.out")" != "container $i" ] || [ -n "$errors" ]; then
            bad=$((bad + 1))
            echo "$i: $(tr '\n' ' ' < "$work/parallel/$i.out") $(tr '\n' ' ' < "$work/parallel/$i.err")"
        fi
    done
    [ "$bad" -eq 0 ] || lib_fail "$bad of 50 containers failed"
    lib_expect_eq "containers left" "$(docker_ ps -aq)" ""
    lib_expect_eq "runtime state left" "$("$runtime" --root "$work/dockerd/exec/runtime-$runtime_name/moby" list -q)" ""
}

# Runs after dockerd was restarted with "userns-remap": "nobody:nogroup" (subordinate ids
# 100000-165535 from private /etc/subuid and /etc/subgid; root can't be remapped
# and "default" would add a user to the host's /etc/passwd).
scenario_userns_remap() {
    local shared="$work/userns" out
    lib_expect_contains "docker info security options" "$(docker_ info --format '{{.SecurityOptions}}')" "name=userns"
    mkdir -p "$shared"
    chmod 1777 "$shared"
    out=$(run_ -v "$shared:/shared" "$image_ref" sh -c 'id -u; tr -s " " < /proc/self/uid_map; touch /shared/made-by-root')
    lib_expect_eq "id -u inside" "$(sed -n 1p <<< "$out")" 0
    lib_expect_eq "uid_map" "$(sed -n 2p <<< "$out")" " 0 100000 65536"
    lib_expect_eq "owner on the host of a file made by root inside" "$(stat -c %u "$shared/made-by-root")" 100000
}

restart_dockerd_with_userns_remap() {
    local ids
    ids=$(docker_ ps -aq)
    [ -z "$ids" ] || docker_ rm -f $ids >/dev/null
    stop_daemon "$dockerd_pid"
    dockerd_pid=""
    # dockerd looks both ranges up by the user's name.
    echo "nobody:100000:65536" > "$work/subids"
    mount --bind "$work/subids" /etc/subuid
    mount --bind "$work/subids" /etc/subgid
    start_dockerd '{"userns-remap": "nobody:nogroup"}'
}

# --- main ------------------------------------------------------------------------

echo "docker suite: runtime $runtime, $("$docker_cli" --version)"
build_busybox_image_archive "$image_ref" "$work/busybox.tar" || exit 2
start_private_containerd "$work/containerd" || exit 2
start_dockerd '{}' || exit 2

lib_scenario "run: output" scenario_run_output
lib_scenario "run: exit codes" scenario_exit_codes
lib_scenario "run: env, workdir, --user, --group-add" scenario_env_workdir_user
lib_scenario "run: bind mounts rw and ro" scenario_bind_mounts
lib_scenario "run: --read-only and --tmpfs" scenario_read_only_tmpfs
lib_scenario "limits: memory, pids, cpu (inspect, stats, cgroup files)" scenario_limits
lib_scenario "run: --cap-drop ALL, --cap-add" scenario_capabilities
lib_scenario "run: --security-opt no-new-privileges" scenario_no_new_privileges
lib_scenario "run: default seccomp profile" scenario_default_seccomp
lib_scenario "run: --hostname" scenario_hostname
lib_scenario "run: --ulimit and default-ulimits" scenario_ulimits
lib_scenario "run: --privileged" scenario_privileged
lib_scenario "run -it: terminal (tmux)" scenario_run_tty
lib_scenario "-d then exec: output, env, workdir, user, exit status" scenario_detach_exec
lib_scenario "exec -it: terminal (tmux)" scenario_exec_tty
lib_scenario "stop: SIGTERM then SIGKILL" scenario_stop
lib_scenario "kill -s" scenario_kill_signal
lib_scenario "pause and unpause" scenario_pause_unpause
lib_scenario "top" scenario_top
lib_scenario "update" scenario_update
lib_scenario "restart" scenario_restart
lib_scenario "rm -f: container, cgroup, runtime state removed" scenario_remove_force
lib_scenario "run --init" scenario_init
lib_scenario "50 containers in parallel" scenario_parallel_containers
if restart_dockerd_with_userns_remap; then
    lib_scenario "userns-remap" scenario_userns_remap
else
    lib_scenario "userns-remap" lib_fail "dockerd did not start with userns-remap"
fi

lib_summary
