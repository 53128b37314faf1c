#!/usr/bin/env bash
# Benchmarks husk against crun and runc on the same busybox `true` bundle:
#   1. one hyperfine run timing create -> start -> delete for the three runtimes side by side,
#   2. one hyperfine run timing `run` (foreground, waits for exit) the same way,
#   3. peak RSS (/usr/bin/time -f %M) of each runtime command,
# then prints the husk/crun and husk/runc ratios.
#
# Needs root, hyperfine, jq, busybox-static, crun, runc and GNU time (Debian package `time`).
# Environment: RUNS (default 50), WARMUP (default 5), HUSK (default target/release/husk, built
# with `cargo build --release -p husk` when missing), BENCH_RUNTIMES (default "husk crun runc"),
# KEEP_RESULTS=DIR to copy the hyperfine JSON/markdown exports there.
#
# crun 1.8.1 refuses this host's hybrid cgroup layout, so the whole benchmark re-executes
# itself inside a private mount namespace (unshare -m) and hides the cgroup2 mount there under
# an empty tmpfs; the host's mounts are never touched.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNS=${RUNS:-50}
WARMUP=${WARMUP:-5}
HUSK=${HUSK:-$REPO/target/release/husk}
BENCH_RUNTIMES=${BENCH_RUNTIMES:-husk crun runc}

die() {
    echo "bench: $*" >&2
    exit 1
}

[ "$(id -u)" -eq 0 ] || die "must run as root"
for tool in hyperfine jq unshare busybox crun runc; do
    command -v "$tool" >/dev/null || die "missing $tool"
done
[ -x /usr/bin/time ] || die "missing /usr/bin/time (apt-get install -y time)"

if [ -z "${HUSK_BENCH_PRIVATE_NS:-}" ]; then
    if [[ " $BENCH_RUNTIMES " == *" husk "* && ! -x "$HUSK" ]]; then
        (cd "$REPO" && cargo build --release -p husk) || die "building husk failed"
    fi
    export HUSK HUSK_BENCH_PRIVATE_NS=1
    exec unshare --mount --propagation private "$0" "$@"
fi

# From here on we are alone in a private mount namespace.
if mountpoint -q /sys/fs/cgroup/unified; then
    mount -t tmpfs -o size=1m,mode=0755 husk-bench-empty /sys/fs/cgroup/unified
fi

WORK=$(mktemp -d /tmp/husk-bench.XXXXXX)
BUNDLE=$WORK/bundle

runtime_path() {
    case "$1" in
        husk) echo "$HUSK" ;;
        *) command -v "$1" ;;
    esac
}

# Every container this script may have left behind, force-deleted before the work dir goes.
cleanup() {
    for name in $BENCH_RUNTIMES; do
        local binary
        binary=$(runtime_path "$name")
        for id in "bench-smoke-$name" "bench-$name" "bench-run-$name" "bench-rss-$name"; do
            "$binary" --root "$WORK/root-$name" delete --force "$id" >/dev/null 2>&1 || true
        done
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

mkdir -p "$BUNDLE/rootfs/bin" "$BUNDLE/rootfs/proc" "$BUNDLE/rootfs/dev" "$BUNDLE/rootfs/sys"
cp "$(command -v busybox)" "$BUNDLE/rootfs/bin/busybox"
ln -s busybox "$BUNDLE/rootfs/bin/true"
ln -s busybox "$BUNDLE/rootfs/bin/sh"
(cd "$WORK" && runc spec)
jq '.process.terminal = false | .process.args = ["true"]' "$WORK/config.json" >"$BUNDLE/config.json"

# Keep only the runtimes that can run the bundle at all, so one broken runtime does not hide
# the numbers of the others.
usable=()
for name in $BENCH_RUNTIMES; do
    binary=$(runtime_path "$name")
    root=$WORK/root-$name
    mkdir -p "$root"
    if "$binary" --root "$root" run --bundle "$BUNDLE" "bench-smoke-$name" </dev/null >"$WORK/smoke-$name.log" 2>&1; then
        usable+=("$name")
    else
        echo "bench: $name cannot run the bundle, left out:" >&2
        sed 's/^/    /' "$WORK/smoke-$name.log" >&2
        "$binary" --root "$root" delete --force "bench-smoke-$name" >/dev/null 2>&1 || true
    fi
done
[ "${#usable[@]}" -gt 0 ] || die "no runtime could run the bundle"

cycle_args=()
run_args=()
for name in "${usable[@]}"; do
    binary=$(runtime_path "$name")
    rt="$binary --root $WORK/root-$name"
    id=bench-$name
    cycle_args+=(-n "$name" "$rt create --bundle $BUNDLE $id && $rt start $id && $rt delete --force $id")
    run_args+=(-n "$name" "$rt run --bundle $BUNDLE bench-run-$name")
done

echo "== create -> start -> delete (${usable[*]}), $RUNS runs"
hyperfine --warmup "$WARMUP" --runs "$RUNS" --style basic \
    --export-json "$WORK/cycle.json" --export-markdown "$WORK/cycle.md" "${cycle_args[@]}"
echo
echo "== run (foreground) (${usable[*]}), $RUNS runs"
hyperfine --warmup "$WARMUP" --runs "$RUNS" --style basic \
    --export-json "$WORK/run.json" --export-markdown "$WORK/run.md" "${run_args[@]}"

# Peak RSS in KiB of one runtime command (its own process tree, as wait4 reports it).
peak_rss() {
    /usr/bin/time -f %M -o "$WORK/rss" "$@" </dev/null >/dev/null 2>&1 || echo "bench: failed: $*" >&2
    cat "$WORK/rss"
}

echo
echo "== peak RSS (KiB)"
printf '%-6s %8s %8s %8s %8s\n' runtime create start delete run
for name in "${usable[@]}"; do
    binary=$(runtime_path "$name")
    root=$WORK/root-$name
    id=bench-rss-$name
    create=$(peak_rss "$binary" --root "$root" create --bundle "$BUNDLE" "$id")
    start=$(peak_rss "$binary" --root "$root" start "$id")
    delete=$(peak_rss "$binary" --root "$root" delete --force "$id")
    run=$(peak_rss "$binary" --root "$root" run --bundle "$BUNDLE" "bench-run-$name")
    printf '%-6s %8s %8s %8s %8s\n' "$name" "$create" "$start" "$delete" "$run"
done

# Mean time of command `name` in a hyperfine export.
mean_of() {
    jq -r --arg name "$2" '.results[] | select(.command == $name) | .mean' "$1"
}

echo
echo "== ratios of mean times (lower is better for husk)"
for export in cycle run; do
    husk_mean=$(mean_of "$WORK/$export.json" husk)
    for other in crun runc; do
        other_mean=$(mean_of "$WORK/$export.json" "$other")
        if [ -n "$husk_mean" ] && [ -n "$other_mean" ]; then
            awk -v export="$export" -v other="$other" -v husk="$husk_mean" -v base="$other_mean" \
                'BEGIN { printf "%-5s husk/%s = %.2f\n", export, other, husk / base }'
        else
            echo "$export: no husk/$other ratio (not both benchmarked)"
        fi
    done
done

if [ -n "${KEEP_RESULTS:-}" ]; then
    mkdir -p "$KEEP_RESULTS"
    cp "$WORK"/cycle.* "$WORK"/run.* "$KEEP_RESULTS"/
fi
