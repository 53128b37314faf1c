//! husk-rootfs: the container's filesystem.
//!
//! [`prepare`] runs in the container's init, inside its new mount namespace:
//! it opens a private procfs handle, detaches the mount tree from the host's
//! propagation, bind-mounts the rootfs, performs `mounts[]` in order and
//! provides devices and `/dev` symlinks. [`Rootfs::pivot`] switches root,
//! [`Rootfs::open_ptmx`]/[`Rootfs::bind_console`] set up the console, and
//! [`Rootfs::finish`] applies sysctls, masked and read-only paths, the
//! read-only root and the final propagation.
//!
//! Every container path is resolved inside the rootfs with
//! `openat2(RESOLVE_IN_ROOT)` and every mount lands on the resolved fd.

mod copy;
mod devices;
mod error;
mod idmap;
mod mounts;
mod options;
mod procfs;
mod resolve;
mod sysctl;

use std::collections::HashSet;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use husk_sys::mount::{mount_setattr, MountAttr, MOUNT_ATTR_NODEV, MOUNT_ATTR_NOEXEC, MOUNT_ATTR_NOSUID, MOUNT_ATTR_RDONLY};
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use rustix::fs::{fstat, fstatfs, makedev, major, FileType, Mode, OFlags};
use rustix::io::Errno;
use rustix::mount::{
    fsconfig_create, fsconfig_set_flag, fsmount, fsopen, move_mount, open_tree, FsMountFlags, FsOpenFlags,
    MountAttrFlags, MountPropagationFlags, MoveMountFlags, OpenTreeFlags,
};

pub use error::Error;
use error::SyscallContext;
pub use options::MOUNT_OPTIONS;
use procfs::ProcFs;
use resolve::{Leaf, Symlinks};

/// Majors of UNIX98 pty slaves (`UNIX98_PTY_SLAVE_MAJOR` and the following
/// `UNIX98_PTY_MAJOR_COUNT - 1`).
const PTY_SLAVE_MAJORS: std::ops::RangeInclusive<u32> = 136..=143;

/// What [`prepare`] needs from `husk create`.
pub struct RootfsConfig<'a> {
    pub spec: &'a Spec,
    /// Absolute bundle directory: `root.path` and relative bind sources are
    /// relative to it.
    pub bundle: &'a Path,
    /// `--no-pivot`: `MS_MOVE` + `chroot` instead of `pivot_root`.
    pub no_pivot: bool,
    /// The container has its own user namespace: devices are bind-mounted
    /// from the host instead of created with `mknod`.
    pub new_user_ns: bool,
    /// `process.terminal`: `/dev/console` will be bound by
    /// [`Rootfs::bind_console`], so its mount point is created.
    pub terminal: bool,
}

/// The prepared rootfs, between [`prepare`] and [`Rootfs::finish`].
pub struct Rootfs {
    /// The container's root: the rootfs bind mount before the pivot, `/`
    /// after it.
    root: OwnedFd,
    proc: ProcFs,
    no_pivot: bool,
    pivoted: bool,
    finish: FinishPlan,
}

/// The parts of the config [`Rootfs::finish`] applies.
struct FinishPlan {
    sysctl: Vec<(String, String)>,
    masked_paths: Vec<String>,
    readonly_paths: Vec<String>,
    readonly_root: bool,
    propagation: RootPropagation,
}

/// `linux.rootfsPropagation`, split in what [`prepare`] applies to the
/// whole tree before mounting and what [`Rootfs::finish`] applies at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RootPropagation {
    initial: MountPropagationFlags,
    last: Option<u64>,
}

impl RootPropagation {
    const FIELD: &'static str = "linux.rootfsPropagation";

    fn parse(value: Option<&str>) -> Result<Self, Error> {
        let slave = MountPropagationFlags::DOWNSTREAM;
        let private = MountPropagationFlags::PRIVATE;
        // Whatever the final value, the tree is first cut off from sending
        // anything to the host: "shared" means a new peer group, not the
        // host's (config-linux.md), and pivot_root refuses shared parents.
        let (initial, last) = match value.map(|v| v.trim_start_matches('r')) {
            None | Some("slave") => (slave, None),
            Some("shared") => (slave, Some(libc::MS_SHARED)),
            Some("private") => (private, None),
            Some("unbindable") => (private, Some(libc::MS_UNBINDABLE)),
            Some(_) => {
                return Err(Error::invalid(
                    Self::FIELD,
                    format!("{:?} is not one of shared, slave, private, unbindable", value.unwrap_or_default()),
                ))
            }
        };
        Ok(RootPropagation { initial, last })
    }
}

fn namespaces(spec: &Spec) -> HashSet<LinuxNamespaceType> {
    let linux = spec.linux().as_ref();
    let list = linux.and_then(|l| l.namespaces().as_ref());
    list.into_iter().flatten().map(|ns| ns.typ()).collect()
}

/// Config checks that need no side effect; run by `husk create` before
/// anything is created.
pub fn validate(spec: &Spec, has_user_ns: bool) -> Result<(), Error> {
    root_path(spec, Path::new("/"))?;
    for (index, mount) in spec.mounts().iter().flatten().enumerate() {
        mounts::check(index, mount, has_user_ns)?;
    }
    let Some(linux) = spec.linux() else { return Ok(()) };
    RootPropagation::parse(linux.rootfs_propagation().as_deref())?;
    let namespaces = namespaces(spec);
    for key in linux.sysctl().iter().flat_map(|s| s.keys()) {
        sysctl::check(key, &namespaces)?;
    }
    for (name, paths) in [("maskedPaths", linux.masked_paths()), ("readonlyPaths", linux.readonly_paths())] {
        for (index, path) in paths.iter().flatten().enumerate() {
            if !path.starts_with('/') {
                return Err(Error::invalid(format!("linux.{name}[{index}] ({path})"), "path must be absolute"));
            }
        }
    }
    for (index, device) in linux.devices().iter().flatten().enumerate() {
        devices::from_config(index, device)?;
    }
    Ok(())
}

fn root_path(spec: &Spec, bundle: &Path) -> Result<PathBuf, Error> {
    let root = spec.root().as_ref().ok_or_else(|| Error::invalid("root", "missing"))?;
    if root.path().as_os_str().is_empty() {
        return Err(Error::invalid("root.path", "empty"));
    }
    Ok(bundle.join(root.path()))
}

/// Idmapped bind mounts made outside the container's user namespace.
///
/// Only a process privileged over the source's filesystem may give a mount
/// an ID mapping: for host filesystems that means CAP_SYS_ADMIN in the
/// initial user namespace, which the init of a container with its own user
/// namespace lacks. `husk create` therefore makes these trees itself once
/// the init exists (its `/proc/<pid>/ns/user` is the container's user
/// namespace), sends [`IdmappedMounts::into_fds`] over the sync socket, and
/// the init rebuilds them with [`IdmappedMounts::from_fds`] for
/// [`prepare_with`]. Without a user namespace [`prepare`] makes them itself.
#[derive(Debug, Default)]
pub struct IdmappedMounts {
    /// `(index in mounts[], detached tree)`, in mount order.
    trees: Vec<(usize, OwnedFd)>,
}

impl IdmappedMounts {
    /// Whether `spec` has idmapped bind mounts at all.
    pub fn needed(spec: &Spec) -> bool {
        !idmapped_bind_indices(spec).is_empty()
    }

    /// Makes the detached trees (host side). `container_userns` supplies the
    /// mapping of `idmap` mounts without `uidMappings`/`gidMappings`.
    pub fn create(spec: &Spec, bundle: &Path, container_userns: Option<BorrowedFd<'_>>) -> Result<Self, Error> {
        let proc = ProcFs::open()?;
        let mut trees = Vec::new();
        for (index, mount) in spec.mounts().iter().flatten().enumerate() {
            if let Some(tree) = mounts::premade_idmapped_bind(index, mount, bundle, &proc, container_userns)? {
                trees.push((index, tree));
            }
        }
        Ok(IdmappedMounts { trees })
    }

    /// The trees in mount order, for sending to the init.
    pub fn into_fds(self) -> Vec<OwnedFd> {
        self.trees.into_iter().map(|(_, tree)| tree).collect()
    }

    /// Pairs received trees (in the order of [`IdmappedMounts::into_fds`])
    /// with their mounts again.
    pub fn from_fds(spec: &Spec, fds: Vec<OwnedFd>) -> Result<Self, Error> {
        let indices = idmapped_bind_indices(spec);
        if indices.len() != fds.len() {
            return Err(Error::invalid(
                "mounts",
                format!("{} idmapped bind mounts but {} prepared trees", indices.len(), fds.len()),
            ));
        }
        Ok(IdmappedMounts { trees: indices.into_iter().zip(fds).collect() })
    }

    fn take(&mut self, index: usize) -> Option<OwnedFd> {
        let position = self.trees.iter().position(|(i, _)| *i == index)?;
        Some(self.trees.remove(position).1)
    }
}

fn idmapped_bind_indices(spec: &Spec) -> Vec<usize> {
    spec.mounts()
        .iter()
        .flatten()
        .enumerate()
        // has_user_ns = true: only the shape of the mount matters here.
        .filter(|(index, mount)| {
            mounts::check(*index, mount, true).is_ok_and(|o| o.idmap.is_some() && o.bind.is_some() && !o.remount)
        })
        .map(|(index, _)| index)
        .collect()
}

/// Everything before `pivot_root`: runs in the container's init, inside its
/// new mount namespace (and its other namespaces), as root with all caps.
pub fn prepare(cfg: &RootfsConfig<'_>) -> Result<Rootfs, Error> {
    prepare_with(cfg, IdmappedMounts::default())
}

/// [`prepare`] with idmapped bind mounts made outside the container.
pub fn prepare_with(cfg: &RootfsConfig<'_>, mut idmapped: IdmappedMounts) -> Result<Rootfs, Error> {
    validate(cfg.spec, cfg.new_user_ns)?;
    let spec = cfg.spec;
    let linux = spec.linux().as_ref();
    // Before any container mount exists.
    let proc = ProcFs::open()?;

    let propagation = RootPropagation::parse(linux.and_then(|l| l.rootfs_propagation().as_deref()))?;
    rustix::mount::mount_change("/", propagation.initial | MountPropagationFlags::REC)
        .during(RootPropagation::FIELD, "mount", "/")?;

    let root_path = root_path(spec, cfg.bundle)?;
    rustix::mount::mount_bind_recursive(&root_path, &root_path).during("root.path", "mount(MS_BIND)", &root_path)?;
    let root = resolve::open_host(&root_path, OFlags::PATH | OFlags::DIRECTORY).during("root.path", "open", &root_path)?;

    let namespaces = namespaces(spec);
    let env = mounts::MountEnv {
        root: root.as_fd(),
        bundle: cfg.bundle,
        proc: &proc,
        new_user_ns: cfg.new_user_ns,
        cgroup_ns: namespaces.contains(&LinuxNamespaceType::Cgroup),
        selinux_label: linux.and_then(|l| l.mount_label().as_deref()).filter(|_| selinux_enabled()),
    };
    let mut fresh_dev = false;
    for (index, mount) in spec.mounts().iter().flatten().enumerate() {
        mounts::mount_entry(&env, index, mount, idmapped.take(index))?;
        fresh_dev |= mounts::is_fresh_tmpfs_at(mount, Path::new("dev"));
    }

    provide_devices(cfg, root.as_fd())?;
    // Symlinks only go into a /dev husk made, never into an image's or a
    // host's /dev bound in.
    if fresh_dev {
        devices::create_symlinks(root.as_fd(), proc.has("kcore"))?;
    }
    if cfg.terminal {
        resolve::create(root.as_fd(), Path::new("dev/console"), Leaf::File, Symlinks::Refuse)
            .during("process.terminal", "create", "/dev/console")?;
    }

    Ok(Rootfs {
        root,
        proc,
        no_pivot: cfg.no_pivot,
        pivoted: false,
        finish: FinishPlan {
            sysctl: linux
                .and_then(|l| l.sysctl().as_ref())
                .map(|s| s.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
            masked_paths: linux.and_then(|l| l.masked_paths().clone()).unwrap_or_default(),
            readonly_paths: linux.and_then(|l| l.readonly_paths().clone()).unwrap_or_default(),
            readonly_root: spec.root().as_ref().and_then(|r| r.readonly()).unwrap_or(false),
            propagation,
        },
    })
}

/// Whether SELinux is active: without it `linux.mountLabel` has no meaning
/// and is not applied.
fn selinux_enabled() -> bool {
    rustix::fs::statfs("/sys/fs/selinux").is_ok_and(|fs| fs.f_type == libc::SELINUX_MAGIC)
}

/// The default devices, then `linux.devices`, created with the exact modes
/// asked for (umask 0 for the duration).
fn provide_devices(cfg: &RootfsConfig<'_>, root: BorrowedFd<'_>) -> Result<(), Error> {
    let configured = cfg.spec.linux().as_ref().and_then(|l| l.devices().as_ref());
    let configured = configured.into_iter().flatten().enumerate().map(|(i, d)| devices::from_config(i, d));
    let all: Vec<_> = devices::default_devices().map(Ok).chain(configured).collect::<Result<_, _>>()?;
    let saved_umask = rustix::process::umask(Mode::empty());
    let result = all.iter().try_for_each(|node| devices::provide(root, node, cfg.new_user_ns));
    rustix::process::umask(saved_umask);
    result
}

impl Rootfs {
    /// Makes the rootfs the process's `/` (pivot_root, or MS_MOVE + chroot
    /// with `no_pivot`); afterwards the cwd is the container's `/`.
    pub fn pivot(&mut self) -> Result<(), Error> {
        const FIELD: &str = "pivot_root";
        rustix::process::fchdir(&self.root).during(FIELD, "fchdir", "rootfs")?;
        if self.no_pivot {
            rustix::mount::mount_move(".", "/").during(FIELD, "mount(MS_MOVE)", "/")?;
            rustix::process::chroot(".").during(FIELD, "chroot", ".")?;
        } else {
            let old_root = resolve::open_host(Path::new("/"), OFlags::PATH | OFlags::DIRECTORY)
                .during(FIELD, "open", "/")?;
            // pivot_root(".", ".") stacks the old root on top of the new one;
            // it is then detached without propagating the unmount anywhere.
            rustix::process::pivot_root(".", ".").during(FIELD, "pivot_root", ".")?;
            rustix::process::fchdir(&old_root).during(FIELD, "fchdir", "old root")?;
            rustix::mount::mount_change(".", MountPropagationFlags::DOWNSTREAM | MountPropagationFlags::REC)
                .during(FIELD, "mount(MS_SLAVE)", "old root")?;
            rustix::mount::unmount(".", rustix::mount::UnmountFlags::DETACH).during(FIELD, "umount2", "old root")?;
        }
        rustix::process::chdir("/").during(FIELD, "chdir", "/")?;
        self.root = resolve::open_host(Path::new("/"), OFlags::PATH | OFlags::DIRECTORY).during(FIELD, "open", "/")?;
        self.pivoted = true;
        Ok(())
    }

    fn require_pivoted(&self, what: &str) -> Result<(), Error> {
        if self.pivoted {
            Ok(())
        } else {
            Err(Error::invalid(what, "called before Rootfs::pivot"))
        }
    }

    /// Opens the container's `/dev/pts/ptmx` (after the pivot), so that the
    /// pty pair belongs to the container's devpts instance.
    pub fn open_ptmx(&self) -> Result<OwnedFd, Error> {
        const FIELD: &str = "process.terminal";
        self.require_pivoted(FIELD)?;
        let flags = OFlags::RDWR | OFlags::NOCTTY;
        let ptmx = resolve::open(self.root.as_fd(), Path::new("dev/pts/ptmx"), flags, Symlinks::Refuse)
            .during(FIELD, "open", "/dev/pts/ptmx")?;
        let fs = fstatfs(&ptmx).during(FIELD, "fstatfs", "/dev/pts/ptmx")?;
        let stat = fstat(&ptmx).during(FIELD, "fstat", "/dev/pts/ptmx")?;
        if fs.f_type != libc::DEVPTS_SUPER_MAGIC || stat.st_rdev != makedev(5, 2) {
            return Err(Error::invalid(FIELD, "/dev/pts/ptmx is not the ptmx node of a devpts filesystem"));
        }
        Ok(ptmx)
    }

    /// Bind-mounts the pty slave `pty_slave` onto `/dev/console` (after the
    /// pivot). Both ends are fds: the slave is verified to be a devpts pty
    /// and mounted from its fd, the console is resolved without symlinks, so
    /// nothing swapped in can redirect the mount (CVE-2025-52565).
    pub fn bind_console(&self, pty_slave: BorrowedFd<'_>) -> Result<(), Error> {
        const FIELD: &str = "process.terminal";
        self.require_pivoted(FIELD)?;
        let fs = fstatfs(pty_slave).during(FIELD, "fstatfs", "pty slave")?;
        let stat = fstat(pty_slave).during(FIELD, "fstat", "pty slave")?;
        let is_char = FileType::from_raw_mode(stat.st_mode) == FileType::CharacterDevice;
        if fs.f_type != libc::DEVPTS_SUPER_MAGIC || !is_char || !PTY_SLAVE_MAJORS.contains(&major(stat.st_rdev)) {
            return Err(Error::invalid(FIELD, "the console fd is not a devpts pty slave"));
        }
        let console = resolve::create(self.root.as_fd(), Path::new("dev/console"), Leaf::File, Symlinks::Refuse)
            .during(FIELD, "open", "/dev/console")?;
        let kind = FileType::from_raw_mode(fstat(&console).during(FIELD, "fstat", "/dev/console")?.st_mode);
        if kind != FileType::RegularFile && kind != FileType::CharacterDevice {
            return Err(Error::invalid(FIELD, "/dev/console is neither a file nor a device"));
        }
        let flags = OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC | OpenTreeFlags::AT_EMPTY_PATH;
        let tree = open_tree(pty_slave, "", flags).during(FIELD, "open_tree", "pty slave")?;
        attach(&tree, &console).during(FIELD, "move_mount", "/dev/console")
    }

    /// After the pivot: `linux.sysctl`, `maskedPaths`, `readonlyPaths`,
    /// `root.readonly` (after all other mounts), then the final
    /// `rootfsPropagation`.
    pub fn finish(self) -> Result<(), Error> {
        self.require_pivoted("Rootfs::finish")?;
        for (key, value) in &self.finish.sysctl {
            sysctl::write(&self.proc, key, value)?;
        }
        self.mask_paths()?;
        self.make_readonly_paths()?;
        let root = self.root.as_fd();
        if self.finish.readonly_root {
            let attr = MountAttr { set: MOUNT_ATTR_RDONLY, ..MountAttr::default() };
            mount_setattr(root, c"", libc::AT_EMPTY_PATH as u32, &attr).during("root.readonly", "mount_setattr", "/")?;
        }
        if let Some(propagation) = self.finish.propagation.last {
            let attr = MountAttr { propagation, ..MountAttr::default() };
            let flags = (libc::AT_EMPTY_PATH | libc::AT_RECURSIVE) as u32;
            mount_setattr(root, c"", flags, &attr).during(RootPropagation::FIELD, "mount_setattr", "/")?;
        }
        Ok(())
    }

    /// Files are covered by the container's `/dev/null` once it is proven
    /// to be the null device; directories by clones of one read-only tmpfs.
    fn mask_paths(&self) -> Result<(), Error> {
        let mut null: Option<OwnedFd> = None;
        let mut empty_dir: Option<OwnedFd> = None;
        for (index, path) in self.finish.masked_paths.iter().enumerate() {
            let field = format!("linux.maskedPaths[{index}] ({path})");
            let target = match resolve::open(self.root.as_fd(), &resolve::in_root(Path::new(path)), OFlags::PATH, Symlinks::FollowInRoot) {
                Err(Errno::NOENT) => continue,
                other => other.during(&field, "open", path)?,
            };
            let is_dir = FileType::from_raw_mode(fstat(&target).during(&field, "fstat", path)?.st_mode) == FileType::Directory;
            let tree = if is_dir {
                match &empty_dir {
                    Some(first) => clone_mount(first).during(&field, "open_tree", "masking tmpfs")?,
                    None => empty_readonly_tmpfs().during(&field, "fsmount", "masking tmpfs")?,
                }
            } else {
                let null_fd = match null.take() {
                    Some(fd) => fd,
                    None => self.verified_dev_null(&field)?,
                };
                let tree = clone_mount(&null_fd).during(&field, "open_tree", "/dev/null");
                null = Some(null_fd);
                tree?
            };
            attach(&tree, &target).during(&field, "move_mount", path)?;
            if is_dir && empty_dir.is_none() {
                empty_dir = Some(tree);
            }
        }
        Ok(())
    }

    /// The container's `/dev/null`, checked by fd to be char 1:3 (a planted
    /// symlink or file would otherwise be what masks bind, CVE-2025-31133).
    fn verified_dev_null(&self, field: &str) -> Result<OwnedFd, Error> {
        let null = resolve::open(self.root.as_fd(), Path::new("dev/null"), OFlags::PATH | OFlags::NOFOLLOW, Symlinks::Refuse)
            .during(field, "open", "/dev/null")?;
        let stat = fstat(&null).during(field, "fstat", "/dev/null")?;
        if FileType::from_raw_mode(stat.st_mode) != FileType::CharacterDevice || stat.st_rdev != makedev(1, 3) {
            return Err(Error::invalid(field, "/dev/null is not the null device (char 1:3); refusing to mask with it"));
        }
        Ok(null)
    }

    /// Bind + recursive read-only; mount_setattr only sets `MOUNT_ATTR_RDONLY`,
    /// so nosuid/nodev/noexec of the path stay.
    fn make_readonly_paths(&self) -> Result<(), Error> {
        for (index, path) in self.finish.readonly_paths.iter().enumerate() {
            let field = format!("linux.readonlyPaths[{index}] ({path})");
            let target = match resolve::open(self.root.as_fd(), &resolve::in_root(Path::new(path)), OFlags::PATH, Symlinks::FollowInRoot) {
                Err(Errno::NOENT) => continue,
                other => other.during(&field, "open", path)?,
            };
            let flags = OpenTreeFlags::OPEN_TREE_CLONE
                | OpenTreeFlags::OPEN_TREE_CLOEXEC
                | OpenTreeFlags::AT_EMPTY_PATH
                | OpenTreeFlags::AT_RECURSIVE;
            let tree = open_tree(&target, "", flags).during(&field, "open_tree", path)?;
            let attr = MountAttr { set: MOUNT_ATTR_RDONLY, ..MountAttr::default() };
            let setattr_flags = (libc::AT_EMPTY_PATH | libc::AT_RECURSIVE) as u32;
            mount_setattr(tree.as_fd(), c"", setattr_flags, &attr).during(&field, "mount_setattr", path)?;
            attach(&tree, &target).during(&field, "move_mount", path)?;
        }
        Ok(())
    }
}

fn attach(tree: &OwnedFd, target: &OwnedFd) -> rustix::io::Result<()> {
    move_mount(tree, "", target, "", MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH | MoveMountFlags::MOVE_MOUNT_T_EMPTY_PATH)
}

fn clone_mount(fd: &OwnedFd) -> rustix::io::Result<OwnedFd> {
    open_tree(fd, "", OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC | OpenTreeFlags::AT_EMPTY_PATH)
}

/// A detached tmpfs that is read-only at the superblock and mount level.
fn empty_readonly_tmpfs() -> rustix::io::Result<OwnedFd> {
    let context = fsopen("tmpfs", FsOpenFlags::FSOPEN_CLOEXEC)?;
    fsconfig_set_flag(&context, "ro")?;
    fsconfig_create(&context)?;
    let attrs = MountAttrFlags::from_bits_retain(
        (MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC) as u32,
    );
    fsmount(&context, FsMountFlags::FSMOUNT_CLOEXEC, attrs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_propagation_values() {
        let slave = MountPropagationFlags::DOWNSTREAM;
        assert_eq!(RootPropagation::parse(None).unwrap(), RootPropagation { initial: slave, last: None });
        assert_eq!(
            RootPropagation::parse(Some("shared")).unwrap(),
            RootPropagation { initial: slave, last: Some(libc::MS_SHARED) }
        );
        assert_eq!(
            RootPropagation::parse(Some("runbindable")).unwrap(),
            RootPropagation { initial: MountPropagationFlags::PRIVATE, last: Some(libc::MS_UNBINDABLE) }
        );
        let error = RootPropagation::parse(Some("bogus")).unwrap_err().to_string();
        assert!(error.starts_with("linux.rootfsPropagation:"), "{error}");
    }

    #[test]
    fn validate_reports_the_field() {
        let spec: Spec = serde_json::from_str(
            r#"{"ociVersion":"1.2.0","root":{"path":"rootfs"},
                "mounts":[{"destination":"/proc","type":"proc","source":"proc"},
                          {"destination":"/x","type":"none","source":"/s","options":["rbind","nosuid","suid"]}]}"#,
        )
        .unwrap();
        let error = validate(&spec, false).unwrap_err().to_string();
        assert_eq!(error, "mounts[1] (/x): option \"nosuid\" conflicts with option \"suid\"");
    }

    #[test]
    fn validate_checks_sysctl_and_paths() {
        let spec: Spec = serde_json::from_str(
            r#"{"ociVersion":"1.2.0","root":{"path":"rootfs"},
                "linux":{"sysctl":{"kernel.core_pattern":"x"}}}"#,
        )
        .unwrap();
        assert!(validate(&spec, false).unwrap_err().to_string().contains("kernel.core_pattern"));
        let spec: Spec = serde_json::from_str(
            r#"{"ociVersion":"1.2.0","root":{"path":"rootfs"},"linux":{"maskedPaths":["proc/kcore"]}}"#,
        )
        .unwrap();
        assert!(validate(&spec, false).unwrap_err().to_string().contains("maskedPaths[0]"));
        let spec: Spec = serde_json::from_str(r#"{"ociVersion":"1.2.0"}"#).unwrap();
        assert_eq!(validate(&spec, false).unwrap_err().to_string(), "root: missing");
    }
}
