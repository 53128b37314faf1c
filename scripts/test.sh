#!/usr/bin/env bash
# Runs every test of husk, as root (they run real containers): unit tests and
# the integration suites in real containers; the cgroup suites again in a pure
# cgroup v2 VM (with the podman, containerd and Docker suites) and in a pure
# cgroup v1 VM; the config fuzzer; the podman, containerd and Docker suites.
# Every step runs even when an earlier one failed; the exit status says
# whether all passed.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1

failed=()
step() {
    local name=$1
    shift
    echo "=== $name"
    "$@" || failed+=("$name")
}

# The in-container checker must be a static binary (no musl target here).
step "checker" env RUSTFLAGS="-C target-feature=+crt-static" cargo build --release -p husk-checker \
    --target x86_64-unknown-linux-gnu --target-dir target/static
export HUSK_CHECKER="$PWD/target/static/x86_64-unknown-linux-gnu/release/husk-checker"
step "build" cargo build --workspace --all-targets
step "cargo test" cargo test --workspace --no-fail-fast -- --test-threads="${HUSK_TEST_THREADS:-2}"
step "cgroup v2 VM" bash tests/vm/run.sh v2
step "cgroup v1 VM" bash tests/vm/run.sh v1
step "config fuzzing" cargo run --release --manifest-path fuzz/Cargo.toml --target-dir target/fuzz -- --seconds 20
for client in podman containerd docker; do
    step "$client suite" bash "tests/clients/$client.sh" "$PWD/target/debug/husk"
done

if [ ${#failed[@]} -gt 0 ]; then
    printf 'FAILED steps: %s\n' "${failed[*]}"
    exit 1
fi
echo "all test steps passed"
