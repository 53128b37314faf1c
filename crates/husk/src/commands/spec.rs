//! `husk spec [--bundle DIR] [--rootless]`: a starter config.json running
//! `sh` in a busybox-like rootfs, with the mounts and masked paths a
//! container needs.

use std::path::PathBuf;

use serde_json::{json, Value};

use super::CmdResult;
use crate::Context;

#[derive(clap::Args)]
pub struct Args {
    /// Directory to write config.json into
    #[arg(short = 'b', long, default_value = ".", value_name = "DIR")]
    pub bundle: PathBuf,
    /// A config for an unprivileged user (user namespace, no network namespace)
    #[arg(long)]
    pub rootless: bool,
}

pub fn run(_ctx: &Context, args: Args) -> CmdResult {
    let path = args.bundle.join("config.json");
    if path.exists() {
        return Err(format!("{} already exists; remove it first", path.display()).into());
    }
    let text = serde_json::to_string_pretty(&starter(args.rootless))?;
    std::fs::write(&path, text + "\n").map_err(|e| format!("writing {}: {e}", path.display()))?;
    Ok(0)
}

fn starter(rootless: bool) -> Value {
    let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    let mut mounts = vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc"}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
        json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]}),
        json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]}),
        json!({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]}),
        json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}),
    ];
    let mut namespaces = vec!["pid", "network", "ipc", "uts", "mount", "cgroup"];
    let mut linux = json!({
        "resources": {"devices": [{"allow": false, "access": "rwm"}]},
        "maskedPaths": [
            "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
            "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"
        ],
        "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
    });
    if rootless {
        let (uid, gid) = (rustix::process::geteuid().as_raw(), rustix::process::getegid().as_raw());
        // Without a network namespace of its own, the container cannot mount
        // a sysfs: it gets the host's, read-only. No gid=5 on devpts: that
        // group is not mapped.
        mounts[2] = json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]});
        mounts[5] = json!({"destination": "/sys", "type": "none", "source": "/sys", "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]});
        mounts.pop();
        namespaces = vec!["pid", "ipc", "uts", "mount", "user"];
        linux["uidMappings"] = json!([{"containerID": 0, "hostID": uid, "size": 1}]);
        linux["gidMappings"] = json!([{"containerID": 0, "hostID": gid, "size": 1}]);
        linux.as_object_mut().expect("object").remove("resources");
    }
    linux["namespaces"] = namespaces.iter().map(|t| json!({"type": t})).collect();
    json!({
        "ociVersion": husk_container::OCI_VERSION,
        "process": {
            "terminal": true,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "husk",
        "mounts": mounts,
        "linux": linux,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn starter_configs_load_and_validate() {
        for rootless in [false, true] {
            let text = serde_json::to_vec(&super::starter(rootless)).unwrap();
            let spec = husk_config::parse(std::path::Path::new("config.json"), &text).unwrap();
            husk_config::validate(&spec).unwrap();
        }
    }
}
