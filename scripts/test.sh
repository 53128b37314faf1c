#!/usr/bin/env bash
# Runs every test of husk: unit tests and the integration suites, which need
# root (they run real containers on a busybox rootfs).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The in-container checker must be a static binary (no musl target here).
RUSTFLAGS="-C target-feature=+crt-static" cargo build --release -p husk-checker \
    --target x86_64-unknown-linux-gnu --target-dir target/static
export HUSK_CHECKER="$PWD/target/static/x86_64-unknown-linux-gnu/release/husk-checker"
cargo build --workspace --all-targets
cargo test --workspace --no-fail-fast -- --test-threads="${HUSK_TEST_THREADS:-2}"
bash tests/vm/run-v2.sh  # cgroup suites (husk-cgroups + husk CLI) in a pure cgroup v2 VM
cargo run --release --manifest-path fuzz/Cargo.toml --target-dir target/fuzz -- --seconds 20  # config fuzzing: non-zero exit on a crash
