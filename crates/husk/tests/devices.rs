//! Devices through the CLI: the default device nodes and `/dev` symlinks, `linux.devices` of
//! every type, host devices bind-mounted in a user namespace, and a device path that already
//! exists with another type. Checked from inside with husk-checker's `stat` and busybox.

mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::process::Command;

use common::{CheckerValues, RuntimeKind, TestEnv};
use serde_json::json;

/// `stat` probe results, one (type, mode, uid, gid, rdev) entry per probed path, in order.
fn stats(values: &CheckerValues) -> Vec<[String; 5]> {
    let column = |key: &str| -> Vec<String> {
        values
            .0
            .iter()
            .filter(|(name, _)| name == key)
            .map(|(_, value)| value.clone())
            .collect()
    };
    let (types, modes, uids, gids, rdevs) = (
        column("stat.type"),
        column("stat.mode"),
        column("stat.uid"),
        column("stat.gid"),
        column("stat.rdev"),
    );
    (0..types.len())
        .map(|index| [&types, &modes, &uids, &gids, &rdevs].map(|column| column[index].clone()))
        .collect()
}

fn expected(kind: &str, mode: &str, uid: u32, gid: u32, rdev: &str) -> [String; 5] {
    [kind, mode, &uid.to_string(), &gid.to_string(), rdev].map(str::to_string)
}

/// Runs husk-checker `stat` on each path in a new container.
fn stat_all(env: &mut TestEnv, paths: &[&str]) -> CheckerValues {
    let mut probes = Vec::new();
    for path in paths {
        probes.extend_from_slice(&["stat", path]);
    }
    env.check(&probes)
}

const DEFAULT_DEVICES: &[(&str, &str)] = &[
    ("/dev/null", "1:3"),
    ("/dev/zero", "1:5"),
    ("/dev/full", "1:7"),
    ("/dev/random", "1:8"),
    ("/dev/urandom", "1:9"),
    ("/dev/tty", "5:0"),
];

#[test]
fn default_devices_exist_with_their_numbers_and_modes() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    let paths: Vec<&str> = DEFAULT_DEVICES.iter().map(|(path, _)| *path).collect();
    let values = stat_all(&mut env, &paths);
    let want: Vec<[String; 5]> = DEFAULT_DEVICES
        .iter()
        .map(|(_, rdev)| expected("char", "0666", 0, 0, rdev))
        .collect();
    assert_eq!(stats(&values), want);
}

#[test]
fn dev_symlinks_point_at_proc_and_pts() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    env.set_args(&[
        "sh",
        "-c",
        "for link in ptmx fd stdin stdout stderr core; do echo \"$link=$(readlink /dev/$link)\"; done
        test -L /dev/core && echo core_is_link=true || echo core_is_link=false",
    ]);
    let outcome = env.run();
    outcome.assert_success();
    let values = outcome.checker_values();
    for (link, target) in [
        ("ptmx", "pts/ptmx"),
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        assert_eq!(values.get(link), target, "/dev/{link}");
    }
    // /dev/core exists only when the kernel provides /proc/kcore (CONFIG_PROC_KCORE).
    let has_kcore = std::path::Path::new("/proc/kcore").exists();
    assert_eq!(values.get("core_is_link"), has_kcore.to_string());
    if has_kcore {
        assert_eq!(values.get("core"), "/proc/kcore");
    }
}

#[test]
fn linux_devices_of_every_type_are_created() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    env.config["linux"]["devices"] = json!([
        {"path": "/dev/custom-char", "type": "c", "major": 10, "minor": 229,
         "fileMode": 0o600, "uid": 5, "gid": 6},
        {"path": "/dev/sub/custom-block", "type": "b", "major": 7, "minor": 0,
         "fileMode": 0o640, "uid": 0, "gid": 6},
        {"path": "/dev/custom-unbuffered", "type": "u", "major": 1, "minor": 11,
         "fileMode": 0o644, "uid": 7, "gid": 0},
        {"path": "/dev/custom-fifo", "type": "p", "fileMode": 0o620, "uid": 0, "gid": 0},
    ]);
    let values = stat_all(
        &mut env,
        &[
            "/dev/custom-char",
            "/dev/sub/custom-block",
            "/dev/custom-unbuffered",
            "/dev/custom-fifo",
        ],
    );
    assert_eq!(
        stats(&values),
        [
            expected("char", "0600", 5, 6, "10:229"),
            expected("block", "0640", 0, 6, "7:0"),
            expected("char", "0644", 7, 0, "1:11"),
            expected("fifo", "0620", 0, 0, "0:0"),
        ]
    );
}

#[test]
fn device_path_existing_with_another_type_is_refused() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    if env.skip_for(
        RuntimeKind::Runc,
        "runc ignores EEXIST from mknod and keeps the file",
    ) {
        return;
    }
    fs::write(env.bundle.join("rootfs/etc/not-a-device"), "regular file").unwrap();
    env.config["linux"]["devices"] = json!([
        {"path": "/etc/not-a-device", "type": "c", "major": 1, "minor": 3, "fileMode": 0o666},
    ]);
    env.create()
        .assert_failure()
        .assert_error_mentions("/etc/not-a-device");
    env.assert_nothing_left(&env.id);
    assert_eq!(
        fs::read_to_string(env.bundle.join("rootfs/etc/not-a-device")).unwrap(),
        "regular file"
    );
}

#[test]
fn user_namespace_gets_host_devices_bind_mounted() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    env.config["linux"]["namespaces"]
        .as_array_mut()
        .expect("namespaces array")
        .push(json!({"type": "user"}));
    env.config["linux"]["uidMappings"] =
        json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    env.config["linux"]["gidMappings"] =
        json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    env.config["mounts"]
        .as_array_mut()
        .expect("mounts array")
        .retain(|mount| mount["type"] != "cgroup");
    env.config["linux"]["devices"] = json!([
        {"path": "/dev/kmsg", "type": "c", "major": 1, "minor": 11, "fileMode": 0o644},
    ]);
    // The container's root must own its image to create mount points in it.
    let chowned = Command::new("chown")
        .args(["-hR", "100000:100000"])
        .arg(env.bundle.join("rootfs"))
        .status()
        .expect("spawn chown");
    assert!(chowned.success(), "chown of the rootfs failed");
    let host_before = host_owner_and_mode(&["/dev/null", "/dev/kmsg"]);
    let values = stat_all(&mut env, &["/dev/null", "/dev/kmsg"]);
    // The host's nodes with the host's modes; their owner, host root, is outside the mapping
    // and shows as the overflow id.
    let host_view = |path: &str, rdev: &str| {
        let mode = fs::metadata(path).expect("host device").mode() & 0o7777;
        expected("char", &format!("{mode:04o}"), 65534, 65534, rdev)
    };
    assert_eq!(
        stats(&values),
        [
            host_view("/dev/null", "1:3"),
            host_view("/dev/kmsg", "1:11")
        ]
    );
    let mounts = env.check(&["mounts"]);
    for device in ["/dev/null", "/dev/kmsg"] {
        let mounted = mounts.0.iter().any(|(key, line)| {
            key.starts_with("mount.") && line.split_whitespace().nth(4) == Some(device)
        });
        assert!(mounted, "{device} is not a bind mount: {mounts:#?}");
    }
    assert_eq!(
        host_owner_and_mode(&["/dev/null", "/dev/kmsg"]),
        host_before,
        "the host's device nodes changed"
    );
}

/// (uid, gid, mode) of host files.
fn host_owner_and_mode(paths: &[&str]) -> Vec<(u32, u32, u32)> {
    paths
        .iter()
        .map(|path| {
            let metadata = fs::metadata(path).expect("host device");
            (metadata.uid(), metadata.gid(), metadata.mode())
        })
        .collect()
}
