//! Root-only tests that drive the real kernel: each scenario forks a child
//! into new mount/pid/ipc/uts/net namespaces, builds a container there with
//! prepare/pivot/finish and checks the result from inside; the parent then
//! checks that the host saw nothing (no mounts under the test directory, no
//! files in decoy directories that planted symlinks point at).
//!
//! A custom harness (`harness = false`) runs the scenarios one after the
//! other on the main thread, so forking never happens while another thread
//! might hold a libc lock.

use std::collections::BTreeSet;
use std::fs;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::{symlink, FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use husk_rootfs::{prepare, prepare_with, IdmappedMounts, Rootfs, RootfsConfig};
use husk_sys::clone::{fork_with, Forked};
use oci_spec::runtime::Spec;
use rustix::fs::{statfs, statvfs, StatVfsMountFlags};
use serde_json::{json, Value};

const TEST_ROOT: &str = "/tmp/husk-rootfs-tests";

/// A directory removed (with everything in it) when dropped, also when the
/// scenario fails.
struct TempDir(PathBuf);

impl TempDir {
    fn new(purpose: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = Path::new(TEST_ROOT).join(format!("{}-{n}-{purpose}", std::process::id()));
        fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
        let _ = fs::remove_dir(TEST_ROOT);
    }
}

/// A bundle with a busybox rootfs.
struct Bundle {
    dir: TempDir,
}

impl Bundle {
    fn new(purpose: &str) -> Bundle {
        let dir = TempDir::new(purpose);
        let rootfs = dir.0.join("rootfs");
        for sub in ["bin", "proc", "sys", "tmp", "etc"] {
            fs::create_dir_all(rootfs.join(sub)).unwrap();
        }
        fs::copy("/bin/busybox", rootfs.join("bin/busybox")).unwrap();
        symlink("busybox", rootfs.join("bin/sh")).unwrap();
        Bundle { dir }
    }

    fn path(&self) -> &Path {
        &self.dir.0
    }

    fn rootfs(&self) -> PathBuf {
        self.dir.0.join("rootfs")
    }
}

/// The mounts of `husk spec` (= `runc spec`) plus namespaces for everything
/// the scenarios use.
fn default_config() -> Value {
    json!({
        "ociVersion": "1.2.0",
        "root": {"path": "rootfs"},
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
        ],
        "linux": {
            "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}]
        }
    })
}

fn spec_of(config: &Value) -> Spec {
    serde_json::from_value(config.clone()).expect("test config parses")
}

fn mounts_of(config: &mut Value) -> &mut Vec<Value> {
    config["mounts"].as_array_mut().unwrap()
}

/// Runs `scenario` in a forked child inside fresh namespaces. The child's
/// error (or panic) message comes back through a pipe.
fn in_child(scenario: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
    in_namespaces(0, scenario)
}

const BASE_NAMESPACES: libc::c_int =
    libc::CLONE_NEWNS | libc::CLONE_NEWPID | libc::CLONE_NEWIPC | libc::CLONE_NEWUTS | libc::CLONE_NEWNET;

/// Like [`in_child`], with `extra` namespaces. With `CLONE_NEWUSER` the
/// child waits until the parent has mapped the whole id range onto the
/// host's (root stays root, but is no longer privileged over host-owned
/// things like device numbers or the host's mounts).
fn in_namespaces(extra: libc::c_int, scenario: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
    in_exact_namespaces(BASE_NAMESPACES | extra, scenario)
}

fn in_exact_namespaces(flags: libc::c_int, scenario: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
    let user_ns = flags & libc::CLONE_NEWUSER != 0;
    let (mut from_child, to_parent) = pipe();
    let (wait_for_maps, maps_written) = pipe();
    let (forked, _) = fork_with(flags as u64, None).map_err(|e| format!("clone3: {e}"))?;
    match forked {
        Forked::Child => {
            drop(from_child);
            drop(maps_written);
            let _ = (&wait_for_maps).read(&mut [0u8; 1]);
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(scenario))
                .unwrap_or_else(|panic| Err(format!("panicked: {panic:?}")));
            let code = match outcome {
                Ok(()) => 0,
                Err(message) => {
                    let _ = fs::File::from(to_parent).write_all(message.as_bytes());
                    1
                }
            };
            std::process::exit(code);
        }
        Forked::Parent(pid) => {
            drop(to_parent);
            drop(wait_for_maps);
            if user_ns {
                for map in ["uid_map", "gid_map"] {
                    fs::write(format!("/proc/{pid}/{map}"), "0 0 4294967295\n").map_err(|e| format!("{map}: {e}"))?;
                }
            }
            drop(maps_written);
            let mut message = String::new();
            let _ = from_child.read_to_string(&mut message);
            let status = rustix::process::waitpid(rustix::process::Pid::from_raw(pid), rustix::process::WaitOptions::empty())
                .map_err(|e| format!("waitpid: {e}"))?
                .map(|(_, status)| status);
            match status.and_then(|s| s.exit_status()) {
                Some(0) => Ok(()),
                _ if !message.is_empty() => Err(message),
                other => Err(format!("child ended abnormally: {other:?}")),
            }
        }
    }
}

fn pipe() -> (fs::File, OwnedFd) {
    let (read, write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
    (fs::File::from(read), write)
}

fn build(spec: &Spec, bundle: &Path) -> Result<Rootfs, String> {
    let cfg = RootfsConfig { spec, bundle, no_pivot: false, new_user_ns: false, terminal: false };
    prepare(&cfg).map_err(|e| format!("prepare: {e}"))
}

fn start(spec: &Spec, bundle: &Path) -> Result<(), String> {
    let mut rootfs = build(spec, bundle)?;
    rootfs.pivot().map_err(|e| format!("pivot: {e}"))?;
    rootfs.finish().map_err(|e| format!("finish: {e}"))
}

fn ensure(condition: bool, what: &str) -> Result<(), String> {
    if condition {
        Ok(())
    } else {
        Err(format!("check failed: {what}"))
    }
}

fn fs_magic(path: &str) -> Result<i64, String> {
    statfs(path).map(|s| s.f_type).map_err(|e| format!("statfs {path}: {e}"))
}

fn is_readonly(path: &str) -> Result<bool, String> {
    let flags = statvfs(path).map_err(|e| format!("statvfs {path}: {e}"))?.f_flag;
    Ok(flags.contains(StatVfsMountFlags::RDONLY))
}

fn mount_flags(path: &str) -> Result<StatVfsMountFlags, String> {
    Ok(statvfs(path).map_err(|e| format!("statvfs {path}: {e}"))?.f_flag)
}

fn errno_of(result: std::io::Result<impl Sized>) -> Option<i32> {
    result.err().and_then(|e| e.raw_os_error())
}

/// Host mount points under the test directory, as the host sees them.
fn host_mounts_under(dir: &Path) -> BTreeSet<String> {
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let prefix = dir.to_string_lossy().into_owned();
    mountinfo
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .filter(|mount_point| mount_point.starts_with(&prefix))
        .map(str::to_owned)
        .collect()
}

fn dir_entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

// ---------------------------------------------------------------------------

fn default_spec_container() -> Result<(), String> {
    let bundle = Bundle::new("default");
    let host_data = TempDir::new("data");
    fs::write(host_data.0.join("hello"), "from host").unwrap();
    fs::write(bundle.path().join("resolv.conf"), "nameserver 192.0.2.1\n").unwrap();
    let image_etc = bundle.rootfs().join("etc");
    fs::write(image_etc.join("image-file"), "in image").unwrap();
    fs::create_dir_all(image_etc.join("sub/dir")).unwrap();
    fs::write(image_etc.join("sub/dir/deep"), "deep").unwrap();
    fs::set_permissions(image_etc.join("sub"), fs::Permissions::from_mode(0o710)).unwrap();
    symlink("image-file", image_etc.join("link")).unwrap();

    let mut config = default_config();
    config["root"]["readonly"] = json!(true);
    let mounts = mounts_of(&mut config);
    mounts.push(json!({"destination": "/etc", "type": "tmpfs", "source": "tmpfs", "options": ["tmpcopyup", "rnoatime"]}));
    mounts.push(json!({"destination": "/data", "type": "none", "source": host_data.0, "options": ["rbind", "ro", "nosuid"]}));
    // Bundle-relative file source, onto a destination that does not exist yet.
    mounts.push(json!({"destination": "/etc/net/resolv.conf", "type": "bind", "source": "resolv.conf", "options": ["bind"]}));
    // A relative destination.
    mounts.push(json!({"destination": "run", "type": "tmpfs", "source": "tmpfs", "options": ["nodev", "mode=700"]}));
    mounts.push(json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["noexec"]}));
    // Remounts of a filesystem and of a bind mount.
    mounts.push(json!({"destination": "/run", "type": "tmpfs", "options": ["remount", "ro", "nodev"]}));
    mounts.push(json!({"destination": "/data", "type": "bind", "options": ["bind", "remount", "noexec"]}));
    config["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1", "kernel.shmmni": "1234"});
    config["linux"]["maskedPaths"] = json!(["/proc/version", "/proc/driver", "/proc/fs", "/proc/does-not-exist"]);
    config["linux"]["readonlyPaths"] = json!(["/proc/sys", "/proc/sysrq-trigger"]);
    config["linux"]["devices"] = json!([{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o600, "uid": 7, "gid": 8},
                                        {"path": "/dev/custom/fifo", "type": "p"}]);
    let spec = spec_of(&config);
    let host_mounts_before = host_mounts_under(Path::new(TEST_ROOT));

    in_child(|| {
        start(&spec, bundle.path())?;
        // pid namespace + private procfs.
        ensure(fs_magic("/proc")? == libc::PROC_SUPER_MAGIC, "/proc is procfs")?;
        ensure(fs::read_link("/proc/self").map_err(|e| e.to_string())? == Path::new("1"), "/proc shows our pid ns")?;
        // The default devices and symlinks.
        for (name, major, minor) in [("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0)] {
            let meta = fs::metadata(format!("/dev/{name}")).map_err(|e| format!("/dev/{name}: {e}"))?;
            ensure(meta.file_type().is_char_device(), "default device is a char device")?;
            ensure(meta.rdev() == rustix::fs::makedev(major, minor), "default device number")?;
            ensure(meta.permissions().mode() & 0o777 == 0o666, "default device mode 0666")?;
        }
        ensure(fs::read_link("/dev/ptmx").map_err(|e| e.to_string())? == Path::new("pts/ptmx"), "/dev/ptmx link")?;
        ensure(fs::read_link("/dev/fd").map_err(|e| e.to_string())? == Path::new("/proc/self/fd"), "/dev/fd link")?;
        ensure(fs::read_link("/dev/stderr").map_err(|e| e.to_string())? == Path::new("/proc/self/fd/2"), "/dev/stderr")?;
        let fuse = fs::metadata("/dev/fuse").map_err(|e| e.to_string())?;
        ensure(fuse.rdev() == rustix::fs::makedev(10, 229) && fuse.permissions().mode() & 0o777 == 0o600, "/dev/fuse")?;
        ensure(fuse.uid() == 7 && fuse.gid() == 8, "/dev/fuse owner")?;
        ensure(fs::metadata("/dev/custom/fifo").map_err(|e| e.to_string())?.file_type().is_fifo(), "fifo device")?;
        // Filesystems of the default mounts.
        ensure(fs_magic("/dev/pts")? == libc::DEVPTS_SUPER_MAGIC, "/dev/pts is devpts")?;
        ensure(fs_magic("/dev/shm")? == libc::TMPFS_MAGIC, "/dev/shm is tmpfs")?;
        ensure(fs_magic("/dev/mqueue")? == 0x1980_0202, "/dev/mqueue is mqueue")?;
        ensure(fs_magic("/sys")? == libc::SYSFS_MAGIC && is_readonly("/sys")?, "/sys is read-only sysfs")?;
        ensure(is_readonly("/sys/fs/cgroup")?, "/sys/fs/cgroup is read-only")?;
        let cgroup_entries = fs::read_dir("/sys/fs/cgroup").map_err(|e| e.to_string())?.count();
        ensure(cgroup_entries > 0, "/sys/fs/cgroup shows the container's hierarchies")?;
        // Bind mounts.
        ensure(fs::read_to_string("/data/hello").map_err(|e| e.to_string())? == "from host", "bind content")?;
        let data_flags = mount_flags("/data")?;
        let wanted = StatVfsMountFlags::RDONLY | StatVfsMountFlags::NOSUID | StatVfsMountFlags::NOEXEC;
        ensure(data_flags.contains(wanted), "/data ro,nosuid and, after the remount, noexec")?;
        ensure(errno_of(fs::write("/data/new", "x")) == Some(libc::EROFS), "/data not writable")?;
        ensure(fs::read_to_string("/etc/net/resolv.conf").map_err(|e| e.to_string())?.contains("192.0.2.1"), "file bind")?;
        // tmpcopyup kept the image's /etc content; recursive noatime applied.
        ensure(fs::read_to_string("/etc/image-file").map_err(|e| e.to_string())? == "in image", "tmpcopyup")?;
        ensure(fs::read_to_string("/etc/sub/dir/deep").map_err(|e| e.to_string())? == "deep", "tmpcopyup recurses")?;
        let sub_mode = fs::metadata("/etc/sub").map_err(|e| e.to_string())?.permissions().mode() & 0o7777;
        ensure(sub_mode == 0o710, "tmpcopyup keeps modes")?;
        ensure(fs::read_link("/etc/link").map_err(|e| e.to_string())? == Path::new("image-file"), "tmpcopyup keeps symlinks")?;
        ensure(mount_flags("/etc")?.contains(StatVfsMountFlags::NOATIME), "rnoatime on /etc")?;
        ensure(fs_magic("/run")? == libc::TMPFS_MAGIC && mount_flags("/run")?.contains(StatVfsMountFlags::NODEV), "/run")?;
        ensure(is_readonly("/run")?, "/run remounted read-only")?;
        ensure(fs_magic("/tmp")? == libc::TMPFS_MAGIC && mount_flags("/tmp")?.contains(StatVfsMountFlags::NOEXEC), "/tmp")?;
        // sysctl, written inside our namespaces.
        ensure(fs::read_to_string("/proc/sys/net/ipv4/ip_forward").map_err(|e| e.to_string())?.trim() == "1", "sysctl net")?;
        ensure(fs::read_to_string("/proc/sys/kernel/shmmni").map_err(|e| e.to_string())?.trim() == "1234", "sysctl ipc")?;
        // maskedPaths: file -> /dev/null, directories -> empty read-only tmpfs.
        ensure(fs::read_to_string("/proc/version").map_err(|e| e.to_string())?.is_empty(), "/proc/version masked")?;
        ensure(fs::metadata("/proc/version").map_err(|e| e.to_string())?.rdev() == rustix::fs::makedev(1, 3), "masked by null")?;
        for dir in ["/proc/driver", "/proc/fs"] {
            ensure(fs::read_dir(dir).map_err(|e| e.to_string())?.next().is_none(), "masked directory is empty")?;
            ensure(is_readonly(dir)? && fs_magic(dir)? == libc::TMPFS_MAGIC, "masked directory is a read-only tmpfs")?;
        }
        // readonlyPaths.
        ensure(is_readonly("/proc/sys")?, "/proc/sys read-only")?;
        let write = fs::OpenOptions::new().write(true).open("/proc/sys/kernel/hostname");
        ensure(errno_of(write) == Some(libc::EROFS), "/proc/sys not writable")?;
        // root.readonly: the root is, its submounts are not.
        ensure(errno_of(fs::write("/newfile", "x")) == Some(libc::EROFS), "root is read-only")?;
        ensure(fs::write("/dev/shm/ok", "x").is_ok(), "/dev/shm stays writable")?;
        // Nothing of the host is reachable any more.
        ensure(!Path::new(TEST_ROOT).exists(), "host paths are gone after pivot_root")?;
        ensure(Path::new("/bin/busybox").exists(), "image content is there")
    })?;
    ensure(host_mounts_under(Path::new(TEST_ROOT)) == host_mounts_before, "host mount table unchanged")?;
    ensure(dir_entries(&host_data.0) == ["hello"], "host bind source unchanged")
}

/// `/proc` or `/sys` planted as symlinks to a host directory must be refused,
/// and a symlinked mount target must resolve inside the rootfs.
fn planted_symlinks_stay_inside() -> Result<(), String> {
    let decoy = TempDir::new("decoy");
    for dir in ["proc", "sys"] {
        let bundle = Bundle::new(&format!("symlinked-{dir}"));
        let rootfs = bundle.rootfs();
        fs::remove_dir(rootfs.join(dir)).unwrap();
        symlink(&decoy.0, rootfs.join(dir)).unwrap();
        let spec = spec_of(&default_config());
        in_child(|| match build(&spec, bundle.path()) {
            Ok(_) => Err(format!("prepare accepted a symlinked /{dir}")),
            Err(e) if e.contains("symlink") && e.contains(&format!("/{dir}")) => Ok(()),
            Err(e) => Err(format!("unexpected error for symlinked /{dir}: {e}")),
        })?;
    }

    let bundle = Bundle::new("symlinked-target");
    let source = TempDir::new("source");
    fs::write(source.0.join("payload"), "x").unwrap();
    symlink(decoy.0.join("sub"), bundle.rootfs().join("data")).unwrap();
    symlink("../../../../../..", bundle.rootfs().join("tmp/up")).unwrap();
    let mut config = default_config();
    mounts_of(&mut config).push(json!({"destination": "/data", "type": "none", "source": source.0, "options": ["bind"]}));
    mounts_of(&mut config).push(json!({"destination": "/tmp/up/escape", "type": "tmpfs", "source": "tmpfs"}));
    let spec = spec_of(&config);
    let before = host_mounts_under(Path::new(TEST_ROOT));
    let decoy_sub = decoy.0.join("sub");
    in_child(|| {
        start(&spec, bundle.path())?;
        // The absolute link target was taken relative to the rootfs.
        ensure(fs::read_to_string(decoy_sub.join("payload")).is_ok(), "bind landed at <rootfs>/<link target>")?;
        ensure(fs_magic("/escape")? == libc::TMPFS_MAGIC, "\"..\" in a symlink stopped at the container root")
    })?;
    ensure(dir_entries(&decoy.0).is_empty(), "nothing created in the host decoy directory")?;
    ensure(bundle.rootfs().join(decoy_sub.strip_prefix("/").unwrap()).is_dir(), "target created inside the rootfs")?;
    ensure(host_mounts_under(Path::new(TEST_ROOT)) == before, "host mount table unchanged")
}

/// Without a /dev mount, a /dev/null planted as a symlink must not become
/// what masked paths are bound from (CVE-2025-31133).
fn fake_dev_null_is_refused() -> Result<(), String> {
    let bundle = Bundle::new("fake-null");
    let rootfs = bundle.rootfs();
    fs::create_dir_all(rootfs.join("dev")).unwrap();
    symlink("/proc/sys/kernel/core_pattern", rootfs.join("dev/null")).unwrap();
    let mut config = default_config();
    mounts_of(&mut config).retain(|m| !m["destination"].as_str().unwrap().starts_with("/dev"));
    config["linux"]["maskedPaths"] = json!(["/proc/version"]);
    let spec = spec_of(&config);
    in_child(|| match start(&spec, bundle.path()) {
        Ok(()) => Err("a symlinked /dev/null was accepted".into()),
        // Either the default-device check or the mask check must stop it.
        Err(e) if e.contains("/dev/null") => Ok(()),
        Err(e) => Err(format!("unexpected error: {e}")),
    })
}

fn bad_inputs_are_reported() -> Result<(), String> {
    let bundle = Bundle::new("bad-inputs");
    let cases: Vec<(Value, &str)> = vec![
        (json!({"destination": "/data", "type": "none", "source": "/nope/husk-missing", "options": ["bind"]}),
         "mounts[7] (/data): source \"/nope/husk-missing\" does not exist"),
        (json!({"destination": "/proc", "type": "tmpfs", "source": "tmpfs"}),
         "mounts[7] (/proc): only a proc filesystem may be mounted on /proc"),
        (json!({"destination": "/proc", "type": "none", "source": "/proc", "options": ["rbind"]}),
         "mounts[7] (/proc): only a proc filesystem may be mounted on /proc"),
        (json!({"destination": "/proc/sys/kernel", "type": "tmpfs", "source": "tmpfs"}),
         "mounts[7] (/proc/sys/kernel): refusing to mount over a procfs path"),
        (json!({"destination": "/proc/self/attr", "type": "none", "source": "/tmp", "options": ["bind"]}),
         "mounts[7] (/proc/self/attr): destination must not be or pass through a symlink"),
        (json!({"destination": "/x", "type": "tmpfs", "source": "tmpfs", "options": ["nodev", "dev"]}),
         "mounts[7] (/x): option \"nodev\" conflicts with option \"dev\""),
        (json!({"destination": "/x", "type": "none", "source": "/sys", "options": ["bind", "idmap"],
                "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
                "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}]}),
         "mounts[7] (/x): the source filesystem or kernel does not support idmapped mounts"),
    ];
    for (extra, expected) in cases {
        let mut config = default_config();
        mounts_of(&mut config).push(extra);
        let spec = spec_of(&config);
        in_child(|| match build(&spec, bundle.path()) {
            Ok(_) => Err(format!("accepted; expected {expected:?}")),
            Err(e) if e.contains(expected) => Ok(()),
            Err(e) => Err(format!("got {e:?}, expected {expected:?}")),
        })?;
    }

    let mut config = default_config();
    config["linux"]["devices"] = json!([{"path": "/dev/null", "type": "b", "major": 1, "minor": 3}]);
    let spec = spec_of(&config);
    in_child(|| match build(&spec, bundle.path()) {
        Ok(_) => Err("a device clashing with an existing node was accepted".into()),
        Err(e) if e.contains("linux.devices[0] (/dev/null)") && e.contains("exists") => Ok(()),
        Err(e) => Err(format!("unexpected error: {e}")),
    })
}

/// `idmap` with per-mount mappings: on-disk uid/gid 0 shows as 1000.
fn idmapped_bind() -> Result<(), String> {
    let bundle = Bundle::new("idmap");
    let source = TempDir::new("idmap-source");
    fs::write(source.0.join("owned-by-root"), "x").unwrap();
    let mut config = default_config();
    let mapping = json!([{"containerID": 0, "hostID": 1000, "size": 1}]);
    mounts_of(&mut config).push(json!({
        "destination": "/mapped", "type": "none", "source": source.0, "options": ["rbind", "ridmap"],
        "uidMappings": mapping, "gidMappings": mapping
    }));
    let spec = spec_of(&config);
    in_child(|| {
        start(&spec, bundle.path())?;
        let meta = fs::metadata("/mapped/owned-by-root").map_err(|e| e.to_string())?;
        ensure(meta.uid() == 1000 && meta.gid() == 1000, "idmapped owner is 1000:1000")
    })?;
    ensure(fs::metadata(source.0.join("owned-by-root")).unwrap().uid() == 0, "host view unchanged")
}

/// `--no-pivot` and a shared rootfsPropagation.
fn no_pivot_and_shared_propagation() -> Result<(), String> {
    let bundle = Bundle::new("no-pivot");
    let mut config = default_config();
    config["linux"]["rootfsPropagation"] = json!("shared");
    let spec = spec_of(&config);
    let before = host_mounts_under(Path::new(TEST_ROOT));
    let host_mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let host_peer_groups: BTreeSet<&str> =
        host_mountinfo.split([' ', '\n']).filter(|field| field.starts_with("shared:")).collect();
    in_child(|| {
        let cfg = RootfsConfig { spec: &spec, bundle: bundle.path(), no_pivot: true, new_user_ns: false, terminal: true };
        let mut rootfs = prepare(&cfg).map_err(|e| format!("prepare: {e}"))?;
        rootfs.pivot().map_err(|e| format!("pivot: {e}"))?;
        let master = rootfs.open_ptmx().map_err(|e| format!("open_ptmx: {e}"))?;
        rustix::pty::unlockpt(&master).map_err(|e| format!("unlockpt: {e}"))?;
        let slave = rustix::pty::ioctl_tiocgptpeer(&master, rustix::pty::OpenptFlags::RDWR | rustix::pty::OpenptFlags::NOCTTY)
            .map_err(|e| format!("TIOCGPTPEER: {e}"))?;
        rootfs.bind_console(std::os::fd::AsFd::as_fd(&slave)).map_err(|e| format!("bind_console: {e}"))?;
        // A regular file is not a pty slave.
        let not_a_pty = fs::File::open("/bin/busybox").map_err(|e| e.to_string())?;
        ensure(rootfs.bind_console(std::os::fd::AsFd::as_fd(&not_a_pty)).is_err(), "non-pty console refused")?;
        rootfs.finish().map_err(|e| format!("finish: {e}"))?;
        let console = fs::metadata("/dev/console").map_err(|e| e.to_string())?;
        ensure(console.file_type().is_char_device() && rustix::fs::major(console.rdev()) >= 136, "/dev/console is the pty")?;
        let mountinfo = fs::read_to_string("/proc/self/mountinfo").map_err(|e| e.to_string())?;
        let root_line = mountinfo.lines().find(|l| l.split(' ').nth(4) == Some("/")).ok_or("no root in mountinfo")?;
        let group = root_line.split(' ').find(|field| field.starts_with("shared:"));
        ensure(
            group.is_some_and(|g| !host_peer_groups.contains(g)),
            &format!("root is shared in a peer group of its own, not the host's: {root_line}"),
        )
    })?;
    ensure(host_mounts_under(Path::new(TEST_ROOT)) == before, "host mount table unchanged")
}

/// A container with its own user namespace: devices come from the host by
/// bind mount, the locked host mounts keep their flags.
fn user_namespace_container() -> Result<(), String> {
    let bundle = Bundle::new("userns");
    let mut config = default_config();
    config["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "user"}));
    config["linux"]["devices"] = json!([{"path": "/dev/net/tun", "type": "c", "major": 10, "minor": 200}]);
    config["linux"]["maskedPaths"] = json!(["/proc/version", "/proc/driver"]);
    config["linux"]["readonlyPaths"] = json!(["/proc/sys"]);
    config["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
    mounts_of(&mut config).push(json!({"destination": "/hostdev", "type": "none", "source": "/dev", "options": ["rbind", "ro"]}));
    let source = TempDir::new("userns-idmap-source");
    fs::write(source.0.join("owned-by-root"), "x").unwrap();
    let mapping = json!([{"containerID": 0, "hostID": 1000, "size": 1}]);
    mounts_of(&mut config).push(json!({
        "destination": "/mapped", "type": "none", "source": source.0, "options": ["bind", "idmap"],
        "uidMappings": mapping, "gidMappings": mapping
    }));
    let spec = spec_of(&config);
    let before = host_mounts_under(Path::new(TEST_ROOT));

    // Inside the user namespace the kernel refuses to idmap a host mount...
    in_namespaces(libc::CLONE_NEWUSER, || {
        let cfg = RootfsConfig { spec: &spec, bundle: bundle.path(), no_pivot: false, new_user_ns: true, terminal: false };
        match prepare(&cfg) {
            Err(e) if e.to_string().contains("IdmappedMounts") => Ok(()),
            Err(e) => Err(format!("unexpected error: {e}")),
            Ok(_) => Err("idmapped host mount made inside the user namespace".into()),
        }
    })?;
    // ...so the host side makes the tree and the container attaches it.
    ensure(IdmappedMounts::needed(&spec), "the spec needs idmapped mounts")?;
    let idmapped = IdmappedMounts::create(&spec, bundle.path(), None).map_err(|e| format!("IdmappedMounts: {e}"))?;
    let fds = idmapped.into_fds();
    ensure(fds.len() == 1, "one idmapped tree")?;
    in_namespaces(libc::CLONE_NEWUSER, move || {
        let cfg = RootfsConfig { spec: &spec, bundle: bundle.path(), no_pivot: false, new_user_ns: true, terminal: false };
        let idmapped = IdmappedMounts::from_fds(&spec, fds).map_err(|e| format!("from_fds: {e}"))?;
        let mut rootfs = prepare_with(&cfg, idmapped).map_err(|e| format!("prepare: {e}"))?;
        rootfs.pivot().map_err(|e| format!("pivot: {e}"))?;
        rootfs.finish().map_err(|e| format!("finish: {e}"))?;
        let null = fs::metadata("/dev/null").map_err(|e| e.to_string())?;
        ensure(null.file_type().is_char_device() && null.rdev() == rustix::fs::makedev(1, 3), "/dev/null bound from host")?;
        let tun = fs::metadata("/dev/net/tun").map_err(|e| e.to_string())?;
        ensure(tun.rdev() == rustix::fs::makedev(10, 200), "/dev/net/tun bound from host")?;
        ensure(fs::read_to_string("/proc/version").map_err(|e| e.to_string())?.is_empty(), "/proc/version masked")?;
        ensure(is_readonly("/proc/sys")?, "/proc/sys read-only")?;
        ensure(is_readonly("/hostdev")?, "/hostdev read-only")?;
        ensure(fs_magic("/sys")? == libc::SYSFS_MAGIC && is_readonly("/sys")?, "/sys is read-only sysfs")?;
        ensure(fs::read_to_string("/proc/sys/net/ipv4/ip_forward").map_err(|e| e.to_string())?.trim() == "1", "sysctl")?;
        let mapped = fs::metadata("/mapped/owned-by-root").map_err(|e| e.to_string())?;
        ensure(mapped.uid() == 1000 && mapped.gid() == 1000, "idmapped owner is 1000:1000")
    })?;
    ensure(host_mounts_under(Path::new(TEST_ROOT)) == before, "host mount table unchanged")
}

/// With a cgroup namespace every hierarchy is a fresh cgroupfs mount
/// rooted at the container's own cgroup.
fn cgroup_namespace() -> Result<(), String> {
    let bundle = Bundle::new("cgroupns");
    let mut config = default_config();
    config["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "cgroup"}));
    let spec = spec_of(&config);
    let before = host_mounts_under(Path::new(TEST_ROOT));
    in_namespaces(libc::CLONE_NEWCGROUP, || {
        start(&spec, bundle.path())?;
        ensure(is_readonly("/sys/fs/cgroup")?, "/sys/fs/cgroup is read-only")?;
        let mut found = 0;
        for entry in fs::read_dir("/sys/fs/cgroup").map_err(|e| e.to_string())? {
            let path = entry.map_err(|e| e.to_string())?.path();
            let magic = fs_magic(path.to_str().unwrap_or_default())?;
            ensure(magic == libc::CGROUP_SUPER_MAGIC || magic == libc::CGROUP2_SUPER_MAGIC, "hierarchy is a cgroupfs")?;
            ensure(is_readonly(path.to_str().unwrap_or_default())?, "hierarchy is read-only")?;
            found += 1;
        }
        ensure(found > 0, "hierarchies are mounted")
    })?;
    ensure(host_mounts_under(Path::new(TEST_ROOT)) == before, "host mount table unchanged")
}

/// A user namespace without its own network namespace may not mount sysfs:
/// the host's /sys is bound instead, read-only all the way down.
fn sysfs_without_network_namespace() -> Result<(), String> {
    let bundle = Bundle::new("userns-no-netns");
    let mut config = default_config();
    config["linux"]["namespaces"] = json!([{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "user"}]);
    let spec = spec_of(&config);
    let before = host_mounts_under(Path::new(TEST_ROOT));
    let flags = (BASE_NAMESPACES & !libc::CLONE_NEWNET) | libc::CLONE_NEWUSER;
    in_exact_namespaces(flags, || {
        let cfg = RootfsConfig { spec: &spec, bundle: bundle.path(), no_pivot: false, new_user_ns: true, terminal: false };
        let mut rootfs = prepare(&cfg).map_err(|e| format!("prepare: {e}"))?;
        rootfs.pivot().map_err(|e| format!("pivot: {e}"))?;
        rootfs.finish().map_err(|e| format!("finish: {e}"))?;
        ensure(fs_magic("/sys")? == libc::SYSFS_MAGIC && is_readonly("/sys")?, "/sys is the host's sysfs, read-only")?;
        // The host's submounts came along with the bind: the host's
        // /sys/fs/cgroup lies under the container's.
        let mountinfo = fs::read_to_string("/proc/self/mountinfo").map_err(|e| e.to_string())?;
        let cgroup_mounts = mountinfo.lines().filter(|l| l.split(' ').nth(4) == Some("/sys/fs/cgroup")).count();
        ensure(cgroup_mounts == 2, &format!("host /sys was bound recursively ({cgroup_mounts} mounts at /sys/fs/cgroup)"))?;
        ensure(is_readonly("/sys/fs/cgroup")?, "/sys/fs/cgroup read-only")
    })?;
    ensure(host_mounts_under(Path::new(TEST_ROOT)) == before, "host mount table unchanged")
}

type Scenario = fn() -> Result<(), String>;

fn main() {
    let scenarios: [(&str, Scenario); 9] = [
        ("default_spec_container", default_spec_container),
        ("planted_symlinks_stay_inside", planted_symlinks_stay_inside),
        ("fake_dev_null_is_refused", fake_dev_null_is_refused),
        ("bad_inputs_are_reported", bad_inputs_are_reported),
        ("idmapped_bind", idmapped_bind),
        ("no_pivot_and_shared_propagation", no_pivot_and_shared_propagation),
        ("user_namespace_container", user_namespace_container),
        ("cgroup_namespace", cgroup_namespace),
        ("sysfs_without_network_namespace", sysfs_without_network_namespace),
    ];
    if !rustix::process::geteuid().is_root() {
        eprintln!("husk-rootfs kernel tests need root; skipped {} scenarios", scenarios.len());
        return;
    }
    let filter: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let mut failed = 0;
    for (name, scenario) in scenarios {
        if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        match scenario() {
            Ok(()) => println!("test {name} ... ok"),
            Err(message) => {
                println!("test {name} ... FAILED: {message}");
                failed += 1;
            }
        }
    }
    if failed > 0 {
        println!("{failed} kernel scenario(s) failed");
        std::process::exit(1);
    }
}
