#!/usr/bin/env bash
# Installs what building and testing husk needs on Debian 12, as root.
# Idempotent: only missing packages are installed.
set -euo pipefail
packages=(busybox-static libseccomp-dev pkg-config gcc runc crun hyperfine time jq tmux util-linux iproute2 python3-jsonschema podman conmon catatonit procps containerd docker.io tini)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
command -v cargo >/dev/null || { echo "cargo (Rust toolchain) is required" >&2; exit 1; }
