#!/usr/bin/env bash
# Installs what building and testing husk needs on Debian 12, as root.
# Idempotent: only missing packages are installed. (tests/vm/run.sh
# installs the VM's own needs: qemu-system-x86, linux-image-amd64.)
set -euo pipefail
# Build and integration tests, and podman (whose recommended helpers its suite uses).
packages=(busybox-static libseccomp-dev pkg-config gcc runc crun hyperfine time jq tmux util-linux iproute2
    procps python3-jsonschema podman conmon catatonit golang-github-containers-common)
# containerd and Docker, without their recommendations (apparmor, cgroupfs-mount),
# which would change the host's set-up.
bare_packages=(containerd docker.io tini)

missing() {
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
    done
}
mapfile -t wanted < <(missing "${packages[@]}")
mapfile -t wanted_bare < <(missing "${bare_packages[@]}")
if [ $((${#wanted[@]} + ${#wanted_bare[@]})) -gt 0 ]; then
    echo "installing: ${wanted[*]} ${wanted_bare[*]}"
    apt-get update -qq
    export DEBIAN_FRONTEND=noninteractive
    [ ${#wanted[@]} -eq 0 ] || apt-get install -y -qq "${wanted[@]}" >/dev/null
    [ ${#wanted_bare[@]} -eq 0 ] || apt-get install -y -qq --no-install-recommends "${wanted_bare[@]}" >/dev/null
fi
command -v cargo >/dev/null || { echo "cargo (Rust toolchain) is required" >&2; exit 1; }
