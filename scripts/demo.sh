#!/usr/bin/env bash
# Builds husk and runs a demo container from a busybox bundle built here.
# Usage (as root): scripts/demo.sh [command...]   default: a short tour
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release -p husk
husk="$PWD/target/release/husk"
bundle=$(mktemp -d /tmp/husk-demo.XXXXXX)
trap 'rm -rf "$bundle"' EXIT
mkdir -p "$bundle/rootfs/bin" "$bundle/rootfs/proc" "$bundle/rootfs/sys" "$bundle/rootfs/dev" "$bundle/rootfs/tmp" "$bundle/rootfs/etc"
cp /bin/busybox "$bundle/rootfs/bin/busybox"
for applet in $("$bundle/rootfs/bin/busybox" --list); do
    [ -e "$bundle/rootfs/bin/$applet" ] || ln -s busybox "$bundle/rootfs/bin/$applet"
done
echo "root:x:0:0:root:/:/bin/sh" > "$bundle/rootfs/etc/passwd"
"$husk" spec --bundle "$bundle"
if [ $# -eq 0 ]; then
    set -- sh -c 'echo "hello from a husk container"; echo "hostname: $(hostname)"; echo "pid: $$"; id; ls /'
fi
# A non-interactive demo: no terminal, the given command.
args=$(printf '%s\n' "$@" | jq -R . | jq -s .)
jq --argjson args "$args" '.process.terminal = false | .process.args = $args' "$bundle/config.json" > "$bundle/config.tmp"
mv "$bundle/config.tmp" "$bundle/config.json"
exec "$husk" run --bundle "$bundle" "husk-demo-$$"
