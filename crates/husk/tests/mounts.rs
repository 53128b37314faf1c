//! The container's filesystem through the CLI: `mounts[]` (every option, types, binds, idmaps),
//! safe target resolution, `rootfsPropagation`, `root.readonly`, `--no-pivot`, `maskedPaths`,
//! `readonlyPaths`, `linux.sysctl` and refused configs. Each scenario runs a real container and
//! reads the result from inside (husk-checker's `mounts`/`stat`, busybox), and checks the host.
//!
//! Scenarios that need host-side mounts (submounts, locked flags, a tmpfs or ramfs source) run
//! the runtime in a private mount namespace made by `unshare`, so those mounts vanish with it.

mod common;

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;
use std::process::Command;

use common::{runtime, CheckerValues, Outcome, RuntimeKind, TestEnv};
use serde_json::{json, Value};

/// One line of /proc/self/mountinfo.
#[derive(Debug)]
struct MountInfo {
    mount_point: String,
    /// Per-mount options (`ro`, `nosuid`, `relatime`...).
    options: Vec<String>,
    /// Optional fields: `shared:N`, `master:N`, `unbindable`...
    optional: Vec<String>,
    fstype: String,
    /// Superblock options (`sync`, `size=...`, `mode=...`).
    super_options: Vec<String>,
}

impl MountInfo {
    fn parse(line: &str) -> Option<MountInfo> {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let separator = fields.iter().position(|field| *field == "-")?;
        let split = |text: &str| text.split(',').map(str::to_string).collect::<Vec<_>>();
        Some(MountInfo {
            mount_point: fields.get(4)?.to_string(),
            options: split(fields.get(5)?),
            optional: fields[6..separator].iter().map(|f| f.to_string()).collect(),
            fstype: fields.get(separator + 1)?.to_string(),
            super_options: split(fields.get(separator + 3)?),
        })
    }

    fn has(&self, option: &str) -> bool {
        self.options.iter().any(|known| known == option)
    }

    fn has_super(&self, option: &str) -> bool {
        self.super_options.iter().any(|known| known == option)
    }

    fn propagation(&self) -> Vec<&str> {
        self.optional
            .iter()
            .map(|field| field.split(':').next().unwrap_or_default())
            .collect()
    }
}

/// Every mount printed by husk-checker's `mounts` probe.
fn mount_table(values: &CheckerValues) -> Vec<MountInfo> {
    values
        .0
        .iter()
        .filter(|(key, _)| key.starts_with("mount."))
        .filter_map(|(_, line)| MountInfo::parse(line))
        .collect()
}

/// The topmost mount at `point`.
#[track_caller]
fn mount_at<'a>(table: &'a [MountInfo], point: &str) -> &'a MountInfo {
    table
        .iter()
        .rev()
        .find(|mount| mount.mount_point == point)
        .unwrap_or_else(|| panic!("nothing mounted at {point}: {table:#?}"))
}

fn mounts_of(env: &mut TestEnv) -> &mut Vec<Value> {
    env.config["mounts"].as_array_mut().expect("mounts array")
}

fn add_mount(env: &mut TestEnv, mount: Value) {
    mounts_of(env).push(mount);
}

fn add_tmpfs(env: &mut TestEnv, destination: &str, options: &[&str]) {
    add_mount(
        env,
        json!({"destination": destination, "type": "tmpfs", "source": "tmpfs", "options": options}),
    );
}

fn add_bind(env: &mut TestEnv, source: &Path, destination: &str, options: &[&str]) {
    add_mount(
        env,
        json!({"destination": destination, "type": "bind", "source": source, "options": options}),
    );
}

/// All values of a key printed several times (one per probe of the same kind).
fn all_values<'a>(values: &'a CheckerValues, key: &str) -> Vec<&'a str> {
    values
        .0
        .iter()
        .filter(|(name, _)| name == key)
        .map(|(_, value)| value.as_str())
        .collect()
}

/// Gives the container a user namespace mapping container ids 0..65536 to host ids
/// `host_base`.., and drops the cgroup mount (not mountable from a user namespace without
/// a cgroup namespace).
fn use_user_namespace(env: &mut TestEnv, host_base: u32) {
    env.config["linux"]["namespaces"]
        .as_array_mut()
        .expect("namespaces array")
        .push(json!({"type": "user"}));
    env.config["linux"]["uidMappings"] =
        json!([{"containerID": 0, "hostID": host_base, "size": 65536}]);
    env.config["linux"]["gidMappings"] =
        json!([{"containerID": 0, "hostID": host_base, "size": 65536}]);
    mounts_of(env).retain(|mount| mount["type"] != "cgroup");
    // The container's root must own its image to create mount points in it.
    let chowned = Command::new("chown")
        .arg("-hR")
        .arg(format!("{host_base}:{host_base}"))
        .arg(env.bundle.join("rootfs"))
        .status()
        .expect("spawn chown");
    assert!(chowned.success(), "chown of the rootfs failed");
}

/// Runs the container in the foreground inside a private mount namespace where `setup` (a
/// shell script; `$SCRATCH` is `scratch`) ran first. Mounts made by `setup` disappear with
/// that namespace when the runtime exits.
fn run_after_host_setup(env: &TestEnv, scratch: &Path, setup: &str, run_flags: &[&str]) -> Outcome {
    env.write_config();
    let mut command = Command::new("unshare");
    command
        .args(["-m", "--propagation", "private", "sh", "-ec"])
        .arg(format!("{setup}\nexec \"$@\""))
        .arg("sh")
        .arg(&runtime().path)
        .arg("--root")
        .arg(&env.root)
        .arg("run")
        .args(run_flags)
        .arg("--bundle")
        .arg(&env.bundle)
        .arg(&env.id)
        .env("SCRATCH", scratch);
    let outcome = env.invoke_command(&mut command, None);
    // Registers the id for force-deletion on drop, should the run have left it behind.
    env.remember_pid(&env.id);
    outcome
}

/// The host's mount table, to prove a failed or hostile container changed nothing there.
fn host_mountinfo() -> Vec<String> {
    fs::read_to_string("/proc/self/mountinfo")
        .expect("read host mountinfo")
        .lines()
        // Fields 1..=4 (id, parent, device, root) change on remounts elsewhere; the mount
        // point and what is mounted there are what matters.
        .map(|line| {
            line.split_whitespace()
                .skip(4)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

/// Per-mount options with what mountinfo must then show (and must not show) on the mount.
const PER_MOUNT_OPTIONS: &[(&str, &[&str], &[&str])] = &[
    ("ro", &["ro"], &["rw"]),
    ("rw", &["rw"], &["ro"]),
    ("nosuid", &["nosuid"], &[]),
    ("nodev", &["nodev"], &[]),
    ("noexec", &["noexec"], &[]),
    ("noatime", &["noatime"], &["relatime"]),
    ("relatime", &["relatime"], &["noatime"]),
    // mountinfo shows no word for strictatime: neither of the others.
    ("strictatime", &[], &["relatime", "noatime"]),
    ("nodiratime", &["nodiratime"], &[]),
    ("nosymfollow", &["nosymfollow"], &[]),
];

#[test]
fn per_mount_options_apply_to_new_filesystems() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    for (option, _, _) in PER_MOUNT_OPTIONS {
        add_tmpfs(&mut env, &format!("/options/{option}"), &[option]);
    }
    let table = mount_table(&env.check(&["mounts"]));
    for (option, present, absent) in PER_MOUNT_OPTIONS {
        let mount = mount_at(&table, &format!("/options/{option}"));
        assert_eq!(mount.fstype, "tmpfs");
        for flag in *present {
            assert!(mount.has(flag), "{option}: {flag} missing on {mount:?}");
        }
        for flag in *absent {
            assert!(!mount.has(flag), "{option}: {flag} present on {mount:?}");
        }
    }
}

#[test]
fn per_mount_options_apply_to_bind_mounts() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    let source = env.scratch("bind-source");
    for (option, _, _) in PER_MOUNT_OPTIONS {
        add_bind(
            &mut env,
            &source,
            &format!("/options/{option}"),
            &["bind", option],
        );
    }
    let table = mount_table(&env.check(&["mounts"]));
    for (option, present, absent) in PER_MOUNT_OPTIONS {
        let mount = mount_at(&table, &format!("/options/{option}"));
        assert_eq!(mount.fstype, "ext4", "{mount:?}");
        for flag in *present {
            assert!(mount.has(flag), "{option}: {flag} missing on {mount:?}");
        }
        for flag in *absent {
            assert!(!mount.has(flag), "{option}: {flag} present on {mount:?}");
        }
    }
}

#[test]
fn clearing_options_drop_the_flags_of_a_bind_source() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    let scratch = env.scratch("flagged");
    fs::create_dir_all(scratch.join("source")).unwrap();
    add_bind(
        &mut env,
        &scratch.join("source"),
        "/cleared",
        &[
            "bind",
            "suid",
            "dev",
            "exec",
            "diratime",
            "symfollow",
            "relatime",
        ],
    );
    add_bind(&mut env, &scratch.join("source"), "/kept", &["bind"]);
    env.set_args(&["/bin/husk-checker", "mounts"]);
    let setup = "mount -t tmpfs -o nosuid,nodev,noexec,nodiratime,nosymfollow,noatime flagged \"$SCRATCH/source\"";
    let outcome = run_after_host_setup(&env, &scratch, setup, &[]);
    outcome.assert_success();
    let table = mount_table(&outcome.checker_values());
    let flags = [
        "nosuid",
        "nodev",
        "noexec",
        "nodiratime",
        "nosymfollow",
        "noatime",
    ];
    let kept = mount_at(&table, "/kept");
    let cleared = mount_at(&table, "/cleared");
    for flag in flags {
        assert!(kept.has(flag), "a plain bind keeps {flag}: {kept:?}");
        assert!(!cleared.has(flag), "{flag} not cleared: {cleared:?}");
    }
}

#[test]
fn superblock_options_and_filesystem_data_reach_the_filesystem() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    add_tmpfs(&mut env, "/sync", &["sync"]);
    add_tmpfs(&mut env, "/dirsync", &["dirsync"]);
    add_tmpfs(&mut env, "/lazytime", &["lazytime"]);
    // Unknown options are the filesystem's own data.
    add_tmpfs(
        &mut env,
        "/sized",
        &["size=1m", "mode=0710", "nr_inodes=64"],
    );
    let values = env.check(&["mounts", "stat", "/sized"]);
    let table = mount_table(&values);
    assert!(mount_at(&table, "/sync").has_super("sync"), "{table:#?}");
    assert!(
        mount_at(&table, "/dirsync").has_super("dirsync"),
        "{table:#?}"
    );
    assert!(
        mount_at(&table, "/lazytime").has_super("lazytime"),
        "{table:#?}"
    );
    let sized = mount_at(&table, "/sized");
    for option in ["size=1024k", "mode=710", "nr_inodes=64"] {
        assert!(sized.has_super(option), "{option} missing: {sized:?}");
    }
    assert_eq!(values.get("stat.mode"), "0710");
}

#[test]
fn mounts_are_performed_in_order() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    let data = env.scratch("ordered");
    fs::write(data.join("from-host"), "host file").unwrap();
    // Each mount lands inside the previous one: only in this order do all three exist.
    add_tmpfs(&mut env, "/stack", &["mode=0755"]);
    add_bind(&mut env, &data, "/stack/data", &["rbind", "rw"]);
    add_tmpfs(&mut env, "/stack/data/inner", &[]);
    let values = env.check(&["mounts", "read", "/stack/data/from-host"]);
    let table = mount_table(&values);
    let points: Vec<&str> = table
        .iter()
        .map(|mount| mount.mount_point.as_str())
        .filter(|point| point.starts_with("/stack"))
        .collect();
    assert_eq!(points, ["/stack", "/stack/data", "/stack/data/inner"]);
    assert_eq!(values.get("read"), "host file");
    // The mount point of the last one was created through the bind, in the host directory.
    assert!(data.join("inner").is_dir());
}

#[test]
fn remount_changes_an_earlier_mount() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    add_tmpfs(&mut env, "/remounted", &["rw", "size=1m"]);
    add_mount(
        &mut env,
        json!({"destination": "/remounted", "type": "tmpfs", "source": "tmpfs",
               "options": ["remount", "ro", "nosuid"]}),
    );
    let table = mount_table(&env.check(&["mounts"]));
    let mounted: Vec<&MountInfo> = table
        .iter()
        .filter(|m| m.mount_point == "/remounted")
        .collect();
    assert_eq!(mounted.len(), 1, "a remount adds no mount: {mounted:#?}");
    assert!(
        mounted[0].has("ro") && mounted[0].has("nosuid"),
        "{mounted:?}"
    );
}

#[test]
fn recursive_options_reach_submounts_and_plain_ones_do_not() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    let scratch = env.scratch("tree");
    fs::create_dir_all(scratch.join("top/sub")).unwrap();
    add_bind(
        &mut env,
        &scratch.join("top"),
        "/recursive",
        &["rbind", "rro", "rnosuid"],
    );
    add_bind(
        &mut env,
        &scratch.join("top"),
        "/plain",
        &["rbind", "ro", "nosuid"],
    );
    env.set_args(&["/bin/husk-checker", "mounts"]);
    let outcome = run_after_host_setup(
        &env,
        &scratch,
        "mount -t tmpfs sub \"$SCRATCH/top/sub\"",
        &[],
    );
    outcome.assert_success();
    let table = mount_table(&outcome.checker_values());
    for point in ["/recursive", "/recursive/sub", "/plain"] {
        let mount = mount_at(&table, point);
        assert!(mount.has("ro") && mount.has("nosuid"), "{mount:?}");
    }
    let plain_sub = mount_at(&table, "/plain/sub");
    assert!(
        plain_sub.has("rw") && !plain_sub.has("nosuid"),
        "{plain_sub:?}"
    );
}

#[test]
fn propagation_options_set_the_mount_peer_group() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    let scratch = env.scratch("propagation");
    let source = scratch.join("source");
    fs::create_dir_all(&source).unwrap();
    // Binds of a shared host mount start as slaves of its peer group (the rootfs is rslave).
    add_bind(&mut env, &source, "/slave", &["bind"]);
    add_bind(&mut env, &source, "/shared", &["bind", "shared"]);
    add_bind(&mut env, &source, "/private", &["bind", "private"]);
    add_bind(&mut env, &source, "/unbindable", &["bind", "unbindable"]);
    env.set_args(&["/bin/husk-checker", "mounts"]);
    let setup = "mount --bind \"$SCRATCH/source\" \"$SCRATCH/source\"
        mount --make-shared \"$SCRATCH/source\"";
    let outcome = run_after_host_setup(&env, &scratch, setup, &[]);
    outcome.assert_success();
    let table = mount_table(&outcome.checker_values());
    assert_eq!(
        mount_at(&table, "/slave").propagation(),
        ["master"],
        "{table:#?}"
    );
    assert_eq!(
        mount_at(&table, "/shared").propagation(),
        ["shared", "master"],
        "{table:#?}"
    );
    assert!(
        mount_at(&table, "/private").propagation().is_empty(),
        "{table:#?}"
    );
    assert_eq!(
        mount_at(&table, "/unbindable").propagation(),
        ["unbindable"],
        "{table:#?}"
    );
}

#[test]
fn tmpcopyup_copies_the_image_content_into_the_tmpfs() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    if env.skip_for(RuntimeKind::Runc, "runc has no tmpcopyup") {
        return;
    }
    let image_dir = env.bundle.join("rootfs/etc/seeded");
    fs::create_dir_all(&image_dir).unwrap();
    fs::write(image_dir.join("config"), "from the image").unwrap();
    fs::set_permissions(&image_dir, fs::Permissions::from_mode(0o750)).unwrap();
    add_tmpfs(&mut env, "/etc/seeded", &["tmpcopyup"]);
    env.set_args(&["sh", "-c", "echo changed > /etc/seeded/config && /bin/husk-checker mounts read /etc/seeded/config stat /etc/seeded"]);
    let outcome = env.run();
    outcome.assert_success();
    let values = outcome.checker_values();
    assert_eq!(
        mount_at(&mount_table(&values), "/etc/seeded").fstype,
        "tmpfs"
    );
    assert_eq!(values.get("read"), "changed\\n");
    assert_eq!(values.get("stat.mode"), "0750");
    assert_eq!(
        fs::read_to_string(image_dir.join("config")).unwrap(),
        "from the image"
    );
}

#[test]
fn bind_mounts_of_files_and_directories_share_data_with_the_host() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    let dir = env.scratch("bind-dir");
    let file = env.scratch("bind-file").join("hosts");
    fs::write(&file, "127.0.0.1 host-made\n").unwrap();
    add_bind(&mut env, &dir, "/data", &["rbind", "rw"]);
    // The destination file does not exist in the image: the runtime creates it as a file.
    add_bind(&mut env, &file, "/etc/hosts", &["bind", "ro"]);
    env.set_args(&[
        "sh",
        "-c",
        "echo written-inside > /data/out && /bin/husk-checker read /etc/hosts stat /etc/hosts open-write /etc/hosts",
    ]);
    let outcome = env.run();
    outcome.assert_success();
    let values = outcome.checker_values();
    assert_eq!(values.get("read"), "127.0.0.1 host-made\\n");
    assert_eq!(values.get("stat.type"), "file");
    assert_eq!(values.get("open_write"), "error:EROFS");
    assert_eq!(
        fs::read_to_string(dir.join("out")).unwrap(),
        "written-inside\n"
    );
}

#[test]
fn bundle_relative_bind_source_and_relative_destination() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    fs::create_dir_all(env.bundle.join("shared-data")).unwrap();
    fs::write(env.bundle.join("shared-data/marker"), "bundle data").unwrap();
    add_mount(
        &mut env,
        json!({"destination": "relative/dest", "type": "bind", "source": "shared-data", "options": ["rbind", "ro"]}),
    );
    let values = env.check(&["read", "/relative/dest/marker"]);
    assert_eq!(values.get("read"), "bundle data");
}

#[test]
fn filesystem_types_are_mounted() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    // runc's default spec already has proc, tmpfs /dev, devpts, mqueue, sysfs and cgroup.
    add_tmpfs(&mut env, "/run", &["nosuid", "nodev", "mode=0755"]);
    let table = mount_table(&env.check(&["mounts"]));
    for (point, fstype) in [
        ("/proc", "proc"),
        ("/dev", "tmpfs"),
        ("/dev/pts", "devpts"),
        ("/dev/shm", "tmpfs"),
        ("/dev/mqueue", "mqueue"),
        ("/sys", "sysfs"),
        ("/run", "tmpfs"),
    ] {
        assert_eq!(mount_at(&table, point).fstype, fstype, "{point}");
    }
    // cgroup v1 here: one mount per controller under a tmpfs, or cgroup2 alone.
    let cgroup_mounts = table
        .iter()
        .filter(|mount| mount.mount_point.starts_with("/sys/fs/cgroup"))
        .filter(|mount| mount.fstype.starts_with("cgroup"))
        .count();
    assert!(
        cgroup_mounts > 0,
        "no cgroup filesystem under /sys/fs/cgroup: {table:#?}"
    );
    let devpts = mount_at(&table, "/dev/pts");
    assert!(
        devpts.has_super("ptmxmode=666") && devpts.has_super("gid=5"),
        "{devpts:?}"
    );
}

#[test]
fn read_only_bind_keeps_the_locked_flags_of_its_source() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    let scratch = env.scratch("locked");
    fs::create_dir_all(scratch.join("source")).unwrap();
    use_user_namespace(&mut env, 100000);
    // In a user namespace the source's nosuid/nodev/noexec are locked: a read-only remount
    // that dropped them would fail with EPERM.
    add_bind(
        &mut env,
        &scratch.join("source"),
        "/locked",
        &["bind", "ro"],
    );
    env.set_args(&["/bin/husk-checker", "mounts"]);
    let outcome = run_after_host_setup(
        &env,
        &scratch,
        "mount -t tmpfs -o nosuid,nodev,noexec locked \"$SCRATCH/source\"",
        &[],
    );
    outcome.assert_success();
    let table = mount_table(&outcome.checker_values());
    let mount = mount_at(&table, "/locked");
    for flag in ["ro", "nosuid", "nodev", "noexec"] {
        assert!(mount.has(flag), "{flag} missing: {mount:?}");
    }
}

/// Files in `dir` owned by on-disk uids/gids 0 and 5.
fn files_owned_by_0_and_5(dir: &Path) {
    for (name, id) in [("owned-by-0", 0), ("owned-by-5", 5)] {
        let path = dir.join(name);
        fs::write(&path, name).unwrap();
        std::os::unix::fs::chown(&path, Some(id), Some(id)).unwrap();
    }
}

/// Mount idmapping: on-disk id N appears as host id 100010+N, which the container's user
/// namespace (0 -> 100000) shows as 10+N.
const MOUNT_MAPPING_HOST_BASE: u32 = 100010;

fn add_idmapped_bind(env: &mut TestEnv, source: &Path, destination: &str, options: &[&str]) {
    let mapping = json!([{"containerID": 0, "hostID": MOUNT_MAPPING_HOST_BASE, "size": 1000}]);
    add_mount(
        env,
        json!({"destination": destination, "type": "bind", "source": source, "options": options,
               "uidMappings": mapping, "gidMappings": mapping}),
    );
}

/// (uid, gid) of each path probed with husk-checker's `stat`, as the container sees them.
fn owners(values: &CheckerValues) -> Vec<(String, String)> {
    all_values(values, "stat.uid")
        .into_iter()
        .zip(all_values(values, "stat.gid"))
        .map(|(uid, gid)| (uid.to_string(), gid.to_string()))
        .collect()
}

fn stat_args<'a>(paths: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["/bin/husk-checker"];
    for path in paths {
        args.extend_from_slice(&["stat", path]);
    }
    args
}

/// Whether the running kernel is at least `major.minor` (from /proc/sys/kernel/osrelease).
fn kernel_at_least(major: u32, minor: u32) -> bool {
    let release = fs::read_to_string("/proc/sys/kernel/osrelease").expect("read osrelease");
    let mut numbers = release
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|part| part.parse::<u32>().ok());
    let running = (numbers.next().unwrap_or(0), numbers.next().unwrap_or(0));
    running >= (major, minor)
}

#[test]
fn idmapped_bind_of_ext4_shows_mapped_owners() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    if env.skip_for(RuntimeKind::Runc, "runc 1.1.5 has no idmapped mounts") {
        return;
    }
    let source = env.scratch("idmap-ext4");
    files_owned_by_0_and_5(&source);
    use_user_namespace(&mut env, 100000);
    add_idmapped_bind(&mut env, &source, "/mapped", &["bind", "idmap"]);
    add_bind(&mut env, &source, "/unmapped", &["bind"]);
    let values = env.check(&[
        "stat",
        "/mapped/owned-by-0",
        "stat",
        "/mapped/owned-by-5",
        "stat",
        "/unmapped/owned-by-0",
        "stat",
        "/unmapped/owned-by-5",
    ]);
    let owner = |id: &str| (id.to_string(), id.to_string());
    // Without an idmap, on-disk ids are outside the container's mapping: the overflow id.
    assert_eq!(
        owners(&values),
        [owner("10"), owner("15"), owner("65534"), owner("65534")]
    );
}

#[test]
fn idmapped_bind_of_tmpfs_shows_mapped_owners() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    if env.skip_for(RuntimeKind::Runc, "runc 1.1.5 has no idmapped mounts") {
        return;
    }
    if !kernel_at_least(6, 3) {
        eprintln!("skipped: tmpfs supports idmapped mounts from Linux 6.3");
        return;
    }
    let scratch = env.scratch("idmap-tmpfs");
    fs::create_dir_all(scratch.join("tmpfs")).unwrap();
    use_user_namespace(&mut env, 100000);
    add_idmapped_bind(
        &mut env,
        &scratch.join("tmpfs"),
        "/mapped",
        &["bind", "idmap"],
    );
    env.set_args(&stat_args(&["/mapped/owned-by-0", "/mapped/owned-by-5"]));
    let setup = "mount -t tmpfs idmap-source \"$SCRATCH/tmpfs\"
        for id in 0 5; do echo x > \"$SCRATCH/tmpfs/owned-by-$id\"; chown $id:$id \"$SCRATCH/tmpfs/owned-by-$id\"; done";
    let outcome = run_after_host_setup(&env, &scratch, setup, &[]);
    outcome.assert_success();
    let owner = |id: &str| (id.to_string(), id.to_string());
    assert_eq!(
        owners(&outcome.checker_values()),
        [owner("10"), owner("15")],
        "{outcome:#?}"
    );
}

#[test]
fn ridmap_maps_submounts_and_idmap_only_the_top() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    if env.skip_for(RuntimeKind::Runc, "runc 1.1.5 has no idmapped mounts") {
        return;
    }
    let scratch = env.scratch("ridmap");
    fs::create_dir_all(scratch.join("top/sub")).unwrap();
    files_owned_by_0_and_5(&scratch.join("top"));
    fs::create_dir_all(scratch.join("elsewhere")).unwrap();
    files_owned_by_0_and_5(&scratch.join("elsewhere"));
    use_user_namespace(&mut env, 100000);
    add_idmapped_bind(
        &mut env,
        &scratch.join("top"),
        "/recursive",
        &["rbind", "ridmap"],
    );
    add_idmapped_bind(
        &mut env,
        &scratch.join("top"),
        "/top-only",
        &["rbind", "idmap"],
    );
    let paths = [
        "/recursive/owned-by-5",
        "/recursive/sub/owned-by-5",
        "/top-only/owned-by-5",
        "/top-only/sub/owned-by-5",
    ];
    env.set_args(&stat_args(&paths));
    // An ext4 submount: idmappable on every kernel with idmapped mounts.
    let setup = "mount --bind \"$SCRATCH/elsewhere\" \"$SCRATCH/top/sub\"";
    let outcome = run_after_host_setup(&env, &scratch, setup, &[]);
    outcome.assert_success();
    let owner = |uid: &str| (uid.to_string(), uid.to_string());
    // Unmapped on-disk 5 is host uid 5, outside the container's user namespace.
    assert_eq!(
        owners(&outcome.checker_values()),
        [owner("15"), owner("15"), owner("15"), owner("65534")],
        "{outcome:#?}"
    );
}

#[test]
fn mount_mappings_without_the_idmap_option_are_refused() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    if env.skip_for(RuntimeKind::Runc, "runc 1.1.5 has no idmapped mounts") {
        return;
    }
    let source = env.scratch("implicit-idmap");
    files_owned_by_0_and_5(&source);
    use_user_namespace(&mut env, 100000);
    add_idmapped_bind(&mut env, &source, "/implicit", &["bind"]);
    let before = host_mountinfo();
    env.create()
        .assert_failure()
        .assert_error_mentions("/implicit")
        .assert_error_mentions("idmap");
    env.assert_nothing_left(&env.id);
    assert_eq!(host_mountinfo(), before);
}

#[test]
fn idmap_without_mappings_or_user_namespace_is_refused() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    if env.skip_for(RuntimeKind::Runc, "runc 1.1.5 has no idmapped mounts") {
        return;
    }
    let source = env.scratch("idmap-no-userns");
    add_bind(&mut env, &source, "/idmapped", &["bind", "idmap"]);
    let before = host_mountinfo();
    env.create()
        .assert_failure()
        .assert_error_mentions("/idmapped");
    env.assert_nothing_left(&env.id);
    assert_eq!(host_mountinfo(), before);
}

#[test]
fn idmap_on_a_filesystem_without_idmap_support_is_refused() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    if env.skip_for(RuntimeKind::Runc, "runc 1.1.5 has no idmapped mounts") {
        return;
    }
    let scratch = env.scratch("ramfs");
    fs::create_dir_all(scratch.join("source")).unwrap();
    use_user_namespace(&mut env, 100000);
    // ramfs does not support idmapped mounts (no FS_ALLOW_IDMAP).
    add_idmapped_bind(
        &mut env,
        &scratch.join("source"),
        "/ramfs",
        &["bind", "idmap"],
    );
    let outcome = run_after_host_setup(
        &env,
        &scratch,
        "mount -t ramfs ramfs \"$SCRATCH/source\"",
        &[],
    );
    outcome.assert_failure().assert_error_mentions("/ramfs");
    env.assert_nothing_left(&env.id);
}

fn entries_of(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("read directory")
        .map(|entry| {
            entry
                .expect("directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

#[test]
fn symlinked_target_path_is_resolved_inside_the_rootfs() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    let decoy = env.scratch("decoy");
    let decoy_text = decoy.to_str().unwrap();
    // A target path whose parent is a symlink to an absolute host path.
    symlink(&decoy, env.bundle.join("rootfs/mnt")).unwrap();
    add_tmpfs(&mut env, "/mnt/escape", &[]);
    env.set_args(&["/bin/husk-checker", "mounts"]);
    let before = host_mountinfo();
    let outcome = env.run();
    assert_eq!(
        entries_of(&decoy),
        Vec::<String>::new(),
        "host directory changed: {outcome:#?}"
    );
    assert_eq!(host_mountinfo(), before);
    // The absolute link target was taken relative to the container's root.
    outcome.assert_success();
    let table = mount_table(&outcome.checker_values());
    assert_eq!(
        mount_at(&table, &format!("{decoy_text}/escape")).fstype,
        "tmpfs"
    );
    env.assert_nothing_left(&env.id);
}

#[test]
fn symlinked_proc_sys_and_dev_are_refused_without_touching_the_host() {
    for target in ["proc", "sys", "dev"] {
        let Some(env) = TestEnv::new() else { return };
        let decoy = env.scratch("decoy");
        let rootfs = env.bundle.join("rootfs");
        fs::remove_dir(rootfs.join(target)).unwrap();
        symlink(&decoy, rootfs.join(target)).unwrap();
        let before = host_mountinfo();
        let outcome = env.create();
        assert_eq!(
            entries_of(&decoy),
            Vec::<String>::new(),
            "symlinked /{target}: host directory changed: {outcome:#?}"
        );
        assert_eq!(host_mountinfo(), before);
        outcome
            .assert_failure()
            .assert_error_mentions(&format!("/{target}"));
        env.assert_nothing_left(&env.id);
    }
}

#[test]
fn rootfs_propagation_applies_to_the_root_mount() {
    for (propagation, expected) in [
        ("shared", &["shared"][..]),
        ("private", &[][..]),
        ("unbindable", &["unbindable"][..]),
    ] {
        let Some(mut env) = TestEnv::new() else {
            return;
        };
        env.config["linux"]["rootfsPropagation"] = json!(propagation);
        let table = mount_table(&env.check(&["mounts"]));
        assert_eq!(
            mount_at(&table, "/").propagation(),
            expected,
            "{propagation}"
        );
    }
}

#[test]
fn read_only_root_is_applied_after_all_mounts() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    let data = env.scratch("ro-root-data");
    env.config["root"]["readonly"] = json!(true);
    // Mount points missing from the image are created before the root turns read-only.
    add_bind(&mut env, &data, "/new/mount/point", &["rbind", "rw"]);
    add_tmpfs(&mut env, "/scratch-space", &[]);
    let values = env.check(&["mounts", "open-write", "/bin/busybox"]);
    let table = mount_table(&values);
    assert!(mount_at(&table, "/").has("ro"), "{table:#?}");
    assert!(mount_at(&table, "/new/mount/point").has("rw"), "{table:#?}");
    assert!(mount_at(&table, "/scratch-space").has("rw"), "{table:#?}");
    assert_eq!(values.get("open_write"), "error:EROFS");
}

#[test]
fn no_pivot_runs_in_the_rootfs() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    let host_only = env.scratch("no-pivot").join("host-only");
    fs::write(&host_only, "host").unwrap();
    env.set_args(&[
        "/bin/husk-checker",
        "stat",
        "/bin/husk-checker",
        "stat",
        host_only.to_str().unwrap(),
    ]);
    let outcome = env.run_with(&env.id, &["--no-pivot"], None);
    outcome.assert_success();
    assert_eq!(
        all_values(&outcome.checker_values(), "stat.exists"),
        ["true", "false"]
    );
}

#[test]
fn masked_paths_are_covered_and_readonly_paths_unwritable() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    let etc = env.bundle.join("rootfs/etc");
    fs::write(etc.join("secret-file"), "secret").unwrap();
    fs::create_dir_all(etc.join("secret-dir")).unwrap();
    fs::write(etc.join("secret-dir/inside"), "secret").unwrap();
    fs::create_dir_all(etc.join("frozen")).unwrap();
    fs::write(etc.join("frozen/file"), "frozen").unwrap();
    env.config["linux"]["maskedPaths"] =
        json!(["/etc/secret-file", "/etc/secret-dir", "/etc/does-not-exist"]);
    env.config["linux"]["readonlyPaths"] = json!(["/etc/frozen", "/etc/also-missing"]);
    let values = env.check(&[
        "mounts",
        "stat",
        "/etc/secret-file",
        "read",
        "/etc/secret-file",
        "stat",
        "/etc/secret-dir/inside",
        "read",
        "/etc/frozen/file",
        "open-write",
        "/etc/frozen/file",
    ]);
    assert_eq!(values.get("stat.type"), "char");
    assert_eq!(values.get("stat.rdev"), "1:3");
    assert_eq!(all_values(&values, "stat.exists"), ["true", "false"]);
    assert_eq!(all_values(&values, "read"), ["", "frozen"]);
    assert_eq!(values.get("open_write"), "error:EROFS");
    let table = mount_table(&values);
    let masked_dir = mount_at(&table, "/etc/secret-dir");
    assert!(
        masked_dir.fstype == "tmpfs" && masked_dir.has("ro"),
        "{masked_dir:?}"
    );
    assert!(mount_at(&table, "/etc/frozen").has("ro"), "{table:#?}");
}

#[test]
fn namespaced_sysctls_are_applied_inside() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    env.config["linux"]["sysctl"] = json!({
        "net.ipv4.ip_forward": "1",
        "kernel.shm_rmid_forced": "1",
        "kernel.domainname": "sysctl.example",
    });
    let values = env.check(&[
        "read",
        "/proc/sys/net/ipv4/ip_forward",
        "read",
        "/proc/sys/kernel/shm_rmid_forced",
        "read",
        "/proc/sys/kernel/domainname",
    ]);
    assert_eq!(
        all_values(&values, "read"),
        ["1\\n", "1\\n", "sysctl.example\\n"]
    );
}

#[test]
fn non_namespaced_sysctl_is_refused_and_the_host_keeps_its_value() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    let host_value = fs::read_to_string("/proc/sys/vm/swappiness").unwrap();
    let other_value = if host_value.trim() == "17" {
        "18"
    } else {
        "17"
    };
    env.config["linux"]["sysctl"] = json!({"vm.swappiness": other_value});
    env.create()
        .assert_failure()
        .assert_error_mentions("vm.swappiness");
    assert_eq!(
        fs::read_to_string("/proc/sys/vm/swappiness").unwrap(),
        host_value
    );
    env.assert_nothing_left(&env.id);
}

#[test]
fn bad_mounts_are_refused_naming_the_mount_and_leave_nothing() {
    let runtime_is_not_husk = runtime().kind != RuntimeKind::Husk;
    type Setup = fn(&mut TestEnv);
    let cases: &[(&str, Setup, &str, bool)] = &[
        (
            "missing source",
            |env| {
                let missing = env.scratch("gone").join("missing-source");
                add_bind(env, &missing, "/missing", &["bind"]);
            },
            "missing-source",
            false,
        ),
        (
            "conflicting options",
            |env| add_tmpfs(env, "/conflict", &["ro", "rw"]),
            "/conflict",
            true,
        ),
        (
            "superblock option on a bind",
            |env| {
                let source = env.scratch("sync-bind");
                add_bind(env, &source, "/sync-bind", &["bind", "sync"]);
            },
            "/sync-bind",
            true,
        ),
        (
            "unknown filesystem type",
            |env| {
                add_mount(
                    env,
                    json!({"destination": "/weird", "type": "no-such-fs", "source": "none"}),
                )
            },
            "/weird",
            false,
        ),
    ];
    for (what, setup, mentioned, only_husk_refuses) in cases {
        if *only_husk_refuses && runtime_is_not_husk {
            eprintln!("skipped for {}: {what} (runc accepts it)", runtime().name());
            continue;
        }
        let Some(mut env) = TestEnv::new() else {
            return;
        };
        setup(&mut env);
        let before = host_mountinfo();
        let outcome = env.create();
        assert!(
            outcome.code.is_some_and(|code| code != 0),
            "{what}: accepted: {outcome:#?}"
        );
        outcome.assert_error_mentions(mentioned);
        assert_eq!(host_mountinfo(), before, "{what}: host mounts changed");
        env.assert_nothing_left(&env.id);
    }
}

#[test]
fn destination_escaping_with_dotdot_is_refused() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    if env.skip_for(
        RuntimeKind::Runc,
        "runc resolves .. inside the rootfs without an error",
    ) {
        return;
    }
    add_tmpfs(&mut env, "/../../../escaped", &[]);
    let before = host_mountinfo();
    env.create()
        .assert_failure()
        .assert_error_mentions("escaped");
    assert_eq!(host_mountinfo(), before);
    env.assert_nothing_left(&env.id);
}
