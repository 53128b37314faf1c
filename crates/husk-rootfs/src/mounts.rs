//! Carrying out one `mounts[]` entry. Destinations are resolved (and created)
//! inside the rootfs first; the mount then lands on that fd, either through
//! `move_mount` of a detached tree (bind mounts) or through `mount(2)` on the
//! fd's `/proc/self/fd/N` magic link (new filesystems), so a symlink swapped
//! in later cannot redirect it.

use std::ffi::CString;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use husk_sys::mount::{mount_setattr, MountAttr, MOUNT_ATTR_IDMAP, MOUNT_ATTR_RDONLY};
use libc::c_uint;
use oci_spec::runtime::Mount;
use rustix::fs::{fstatfs, mkdirat, openat, symlinkat, Mode, OFlags, PROC_SUPER_MAGIC};
use rustix::io::Errno;
use rustix::mount::{move_mount, open_tree, MountFlags, MoveMountFlags, OpenTreeFlags};

use crate::copy;
use crate::error::{Error, SyscallContext};
use crate::idmap;
use crate::options::{self, AttrChange, MountOptions};
use crate::procfs::ProcFs;
use crate::resolve::{self, fd_path, Leaf, Symlinks};

const HOST_CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// Files inside `/proc` that may be covered by a bind mount from outside
/// procfs: what lxcfs-style tools provide to virtualise resource views.
const PROC_OVERRIDABLE: &[&str] = &[
    "proc/cpuinfo",
    "proc/diskstats",
    "proc/meminfo",
    "proc/stat",
    "proc/swaps",
    "proc/uptime",
    "proc/loadavg",
    "proc/slabinfo",
    "proc/net/dev",
    "proc/sys/kernel/ns_last_pid",
];

/// What the mount code needs to know about the container.
pub(crate) struct MountEnv<'a> {
    pub root: BorrowedFd<'a>,
    pub bundle: &'a Path,
    pub proc: &'a ProcFs,
    pub new_user_ns: bool,
    pub cgroup_ns: bool,
    /// `linux.mountLabel`, present only when SELinux is enabled.
    pub selinux_label: Option<&'a str>,
}

/// Filesystems that take an SELinux `context=` mount option from
/// `linux.mountLabel`; procfs, sysfs, cgroupfs and mqueue keep their own
/// labelling.
fn takes_mount_label(fstype: &str) -> bool {
    !matches!(fstype, "proc" | "sysfs" | "cgroup" | "cgroup2" | "mqueue")
}

pub(crate) fn field_of(index: usize, mount: &Mount) -> String {
    format!("mounts[{index}] ({})", mount.destination().display())
}

/// Whether `mount` puts a new tmpfs at `rel` (relative to the root).
pub(crate) fn is_fresh_tmpfs_at(mount: &Mount, rel: &Path) -> bool {
    let is_bind = mount.options().iter().flatten().any(|o| o == "bind" || o == "rbind");
    mount.typ().as_deref() == Some("tmpfs") && !is_bind && resolve::in_root(mount.destination()) == rel
}

/// Whether `path`, read from the container's root, leaves it through `..`
/// (the kernel would clamp it at the root; a config asking for it is wrong).
fn climbs_above_root(path: &Path) -> bool {
    let mut depth = 0i32;
    for component in path.components() {
        match component {
            std::path::Component::ParentDir => depth -= 1,
            std::path::Component::Normal(_) => depth += 1,
            _ => {}
        }
        if depth < 0 {
            return true;
        }
    }
    false
}

/// The checks that need no side effect; returns the parsed options.
pub(crate) fn check(index: usize, mount: &Mount, has_user_ns: bool) -> Result<MountOptions, Error> {
    let field = field_of(index, mount);
    if mount.destination().as_os_str().is_empty() {
        return Err(Error::invalid(field, "destination is empty"));
    }
    if climbs_above_root(mount.destination()) {
        return Err(Error::invalid(field, "destination climbs above the container's root with \"..\""));
    }
    let raw_options = mount.options().as_deref().unwrap_or_default();
    let mut opts = options::parse(raw_options).map_err(|e| Error::invalid(&field, e))?;
    let fstype = mount.typ().as_deref().filter(|t| !t.is_empty());
    if opts.bind.is_none() && fstype == Some("bind") {
        opts.bind = Some(false);
    }
    match (mount.uid_mappings(), mount.gid_mappings()) {
        (Some(_), None) => return Err(Error::invalid(field, "uidMappings given without gidMappings")),
        (None, Some(_)) => return Err(Error::invalid(field, "gidMappings given without uidMappings")),
        // The spec wants the option so that older runtimes cannot silently
        // ignore the mappings; guessing between idmap and ridmap would hide
        // a config mistake.
        (Some(_), Some(_)) if opts.idmap.is_none() => {
            return Err(Error::invalid(field, "uidMappings/gidMappings need the \"idmap\" or \"ridmap\" option"))
        }
        (Some(_), Some(_)) | (None, None) => {}
    }
    if opts.idmap.is_some() && mount.uid_mappings().is_none() && !has_user_ns {
        return Err(Error::invalid(
            field,
            "idmap without uidMappings/gidMappings needs the container to have a user namespace",
        ));
    }
    if opts.bind.is_some() {
        let has_source = mount.source().as_ref().is_some_and(|s| !s.as_os_str().is_empty());
        if !has_source && !opts.remount {
            return Err(Error::invalid(field, "bind mount without a source"));
        }
        if let Some(option) = opts.superblock_options.first() {
            return Err(Error::invalid(
                field,
                format!("option {option:?} would change the source filesystem; not allowed on a bind mount"),
            ));
        }
        if opts.tmpcopyup {
            return Err(Error::invalid(field, "option \"tmpcopyup\" needs a tmpfs mount"));
        }
        if !opts.data.is_empty() {
            return Err(Error::invalid(
                field,
                format!("{:?}: filesystem options have no effect on a bind mount", opts.data),
            ));
        }
    } else {
        if fstype.is_none() && !opts.remount {
            return Err(Error::invalid(field, "type is required unless the mount is a bind mount"));
        }
        if opts.idmap.is_some() {
            return Err(Error::invalid(field, "idmapped mounts are supported for bind mounts only"));
        }
        if opts.tmpcopyup && fstype != Some("tmpfs") {
            return Err(Error::invalid(field, "option \"tmpcopyup\" needs a tmpfs mount"));
        }
    }
    Ok(opts)
}

/// Performs `mounts[index]`. `premade` is its detached idmapped tree when
/// that was prepared outside the container ([`crate::IdmappedMounts`]).
pub(crate) fn mount_entry(env: &MountEnv<'_>, index: usize, mount: &Mount, premade: Option<OwnedFd>) -> Result<(), Error> {
    let opts = check(index, mount, env.new_user_ns)?;
    let entry = Entry::new(index, mount, &opts);
    let fstype = mount.typ().as_deref().filter(|t| !t.is_empty());
    match (opts.bind.is_some(), opts.remount, fstype) {
        (true, true, _) => entry.remount_bind(env),
        (false, true, _) => entry.remount(env),
        (true, false, _) => entry.bind(env, premade),
        (false, false, Some("cgroup")) => entry.cgroup(env),
        (false, false, Some(fstype)) => entry.filesystem(env, fstype),
        (false, false, None) => Err(Error::invalid(&entry.field, "type is required unless the mount is a bind mount")),
    }
}

struct Entry<'a> {
    field: String,
    dest: &'a Path,
    rel: PathBuf,
    mount: &'a Mount,
    opts: &'a MountOptions,
}

impl<'a> Entry<'a> {
    fn new(index: usize, mount: &'a Mount, opts: &'a MountOptions) -> Self {
        Entry {
            field: field_of(index, mount),
            dest: mount.destination(),
            rel: resolve::in_root(mount.destination()),
            mount,
            opts,
        }
    }

    fn symlinks(&self, fstype: Option<&str>) -> Symlinks {
        let first = self.rel.components().next().map(|c| c.as_os_str());
        let sensitive = first.is_some_and(|c| c == "proc" || c == "sys" || c == "dev");
        if sensitive || matches!(fstype, Some("proc" | "sysfs")) {
            Symlinks::Refuse
        } else {
            Symlinks::FollowInRoot
        }
    }

    fn target(&self, env: &MountEnv<'_>, leaf: Leaf, symlinks: Symlinks) -> Result<OwnedFd, Error> {
        resolve::create(env.root, &self.rel, leaf, symlinks).map_err(|errno| match errno {
            Errno::LOOP | Errno::XDEV if symlinks == Symlinks::Refuse => {
                Error::invalid(&self.field, "destination must not be or pass through a symlink")
            }
            errno => Error::syscall(&self.field, "open", self.dest, errno),
        })
    }

    /// Only a new procfs goes on `/proc`; inside a procfs only binds from
    /// procfs or over the well-known overridable files.
    fn guard_proc(&self, target: &OwnedFd, new_procfs: bool, source_is_procfs: bool) -> Result<(), Error> {
        if new_procfs {
            return Ok(());
        }
        if self.rel == Path::new("proc") {
            return Err(Error::invalid(&self.field, "only a proc filesystem may be mounted on /proc"));
        }
        let inside_procfs = fstatfs(target).during(&self.field, "fstatfs", self.dest)?.f_type == PROC_SUPER_MAGIC;
        if inside_procfs && !source_is_procfs && !PROC_OVERRIDABLE.iter().any(|p| self.rel == Path::new(p)) {
            return Err(Error::invalid(&self.field, "refusing to mount over a procfs path with a non-procfs source"));
        }
        Ok(())
    }

    fn source(&self, bundle: &Path) -> PathBuf {
        let source = self.mount.source().as_deref().unwrap_or(Path::new(""));
        if source.is_absolute() {
            source.to_path_buf()
        } else {
            bundle.join(source)
        }
    }

    fn setattr(&self, fd: BorrowedFd<'_>, recursive: bool, attr: &MountAttr<'_>) -> Result<(), Error> {
        let mut flags = libc::AT_EMPTY_PATH as u32;
        if recursive {
            flags |= libc::AT_RECURSIVE as u32;
        }
        mount_setattr(fd, c"", flags, attr).during(&self.field, "mount_setattr", self.dest)
    }

    fn change(&self, fd: BorrowedFd<'_>, recursive: bool, change: AttrChange) -> Result<(), Error> {
        if change.is_empty() {
            return Ok(());
        }
        self.setattr(fd, recursive, &MountAttr { set: change.set, clear: change.clear, ..MountAttr::default() })
    }

    /// Per-mount attributes (when `per_mount`), recursive attributes, then
    /// propagation, in that order.
    fn apply_attrs(&self, fd: BorrowedFd<'_>, per_mount: bool) -> Result<(), Error> {
        if per_mount {
            self.change(fd, false, self.opts.attr)?;
        }
        self.change(fd, true, self.opts.recursive_attr)?;
        self.apply_propagation(fd)
    }

    /// Propagation can only be changed on an attached mount.
    fn apply_propagation(&self, fd: BorrowedFd<'_>) -> Result<(), Error> {
        for propagation in &self.opts.propagation {
            let attr = MountAttr { propagation: propagation.flag, ..MountAttr::default() };
            self.setattr(fd, propagation.recursive, &attr)?;
        }
        Ok(())
    }

    fn attach(&self, tree: &OwnedFd, target: &OwnedFd) -> Result<(), Error> {
        move_mount(tree, "", target, "", MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH | MoveMountFlags::MOVE_MOUNT_T_EMPTY_PATH)
            .during(&self.field, "move_mount", self.dest)
    }

    fn bind(&self, env: &MountEnv<'_>, premade: Option<OwnedFd>) -> Result<(), Error> {
        let source = self.source(env.bundle);
        let source_stat = match rustix::fs::stat(&source) {
            Ok(stat) => stat,
            Err(Errno::NOENT) => {
                return Err(Error::invalid(&self.field, format!("source {:?} does not exist", source.display().to_string())))
            }
            Err(errno) => return Err(Error::syscall(&self.field, "stat", &source, errno)),
        };
        let is_dir = rustix::fs::FileType::from_raw_mode(source_stat.st_mode) == rustix::fs::FileType::Directory;
        let symlinks = self.symlinks(None);
        let target = self.target(env, if is_dir { Leaf::Dir } else { Leaf::File }, symlinks)?;
        let source_is_procfs = rustix::fs::statfs(&source).is_ok_and(|s| s.f_type == PROC_SUPER_MAGIC);
        self.guard_proc(&target, false, source_is_procfs)?;
        let tree = match premade {
            Some(tree) => tree,
            None => self.detached_bind(&source, env.proc, None)?,
        };
        self.attach(&tree, &target)?;
        self.apply_propagation(tree.as_fd())
    }

    /// The bind as a detached tree with its ID mapping and attributes, ready
    /// to attach. `container_userns` is the container's user namespace when
    /// this runs outside of it (see [`crate::IdmappedMounts`]); `None` means
    /// the calling process is in it.
    fn detached_bind(&self, source: &Path, proc: &ProcFs, container_userns: Option<BorrowedFd<'_>>) -> Result<OwnedFd, Error> {
        let mut flags = OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC;
        if self.opts.bind == Some(true) {
            flags |= OpenTreeFlags::AT_RECURSIVE;
        }
        let tree = open_tree(rustix::fs::CWD, source, flags).during(&self.field, "open_tree", source)?;
        if let Some(recursive) = self.opts.idmap {
            self.idmap(proc, container_userns, tree.as_fd(), recursive)?;
        }
        // Attributes go on the detached tree, so the mount is never visible
        // with the wrong ones; mount_setattr only touches the named bits, so
        // flags the kernel locked on the source (nosuid, nodev...) stay.
        self.change(tree.as_fd(), false, self.opts.attr)?;
        self.change(tree.as_fd(), true, self.opts.recursive_attr)?;
        Ok(tree)
    }

    fn idmap(
        &self,
        proc: &ProcFs,
        container_userns: Option<BorrowedFd<'_>>,
        tree: BorrowedFd<'_>,
        recursive: bool,
    ) -> Result<(), Error> {
        let opened;
        let userns = match (self.mount.uid_mappings(), self.mount.gid_mappings(), container_userns) {
            (Some(uids), Some(gids), _) => {
                opened = idmap::userns_with(proc, &idmap::map_text(uids), &idmap::map_text(gids))
                    .during(&self.field, "clone(CLONE_NEWUSER)", "uidMappings/gidMappings")?;
                opened.as_fd()
            }
            (_, _, Some(userns)) => userns,
            _ => {
                opened = idmap::own_userns(proc).during(&self.field, "open", "/proc/self/ns/user")?;
                opened.as_fd()
            }
        };
        let attr = MountAttr { set: MOUNT_ATTR_IDMAP, userns: Some(userns), ..MountAttr::default() };
        self.setattr(tree, recursive, &attr).map_err(|e| match e.errno() {
            Some(libc::EINVAL | libc::EOPNOTSUPP | libc::ENOSYS) => Error::invalid(
                &self.field,
                format!("the source filesystem or kernel does not support idmapped mounts ({e})"),
            ),
            // The source's filesystem belongs to a user namespace the
            // caller has no CAP_SYS_ADMIN in: the host's, seen from a
            // container with its own user namespace.
            Some(libc::EPERM) => Error::invalid(
                &self.field,
                "an idmapped mount of a host filesystem must be prepared outside the container's user namespace \
                 (husk_rootfs::IdmappedMounts)",
            ),
            _ => e,
        })
    }

    fn filesystem(&self, env: &MountEnv<'_>, fstype: &str) -> Result<(), Error> {
        let symlinks = self.symlinks(Some(fstype));
        let target = self.target(env, Leaf::Dir, symlinks)?;
        self.guard_proc(&target, fstype == "proc", false)?;
        let source = self.mount.source().as_deref().unwrap_or(Path::new(fstype));
        let data = match env.selinux_label.filter(|_| takes_mount_label(fstype)) {
            Some(label) if self.opts.data.is_empty() => format!("context=\"{label}\""),
            Some(label) => format!("{},context=\"{label}\"", self.opts.data),
            None => self.opts.data.clone(),
        };
        match mount_fs(source, &target, fstype, self.opts.ms_flags, &data) {
            Ok(()) => {}
            // A user namespace that does not own the network namespace may
            // not mount sysfs; the host's /sys, read-only, is the fallback.
            Err(Errno::PERM) if fstype == "sysfs" && env.new_user_ns => return self.bind_host_sysfs(&target),
            // gid=5 (tty) is often unmapped in a user namespace.
            Err(Errno::INVAL) if fstype == "devpts" && env.new_user_ns && data.contains("gid=") => {
                let data: Vec<&str> = data.split(',').filter(|o| !o.starts_with("gid=")).collect();
                mount_fs(source, &target, fstype, self.opts.ms_flags, &data.join(","))
                    .during(&self.field, "mount", self.dest)?;
            }
            Err(Errno::NODEV) => {
                return Err(Error::invalid(&self.field, format!("filesystem type {fstype:?} is not known to the kernel")))
            }
            Err(errno) => return Err(Error::syscall(&self.field, "mount", self.dest, errno)),
        }
        if !self.opts.tmpcopyup && self.opts.recursive_attr.is_empty() && self.opts.propagation.is_empty() {
            return Ok(());
        }
        let mounted = resolve::open(env.root, &self.rel, OFlags::PATH | OFlags::DIRECTORY, symlinks)
            .during(&self.field, "open", self.dest)?;
        if self.opts.tmpcopyup {
            // `target` still refers to the directory underneath the tmpfs,
            // whose mode and owner the tmpfs root takes unless the options
            // (`mode=`, `uid=`, `gid=`) say otherwise.
            let set = |key: &str| data.split(',').any(|o| o.starts_with(key));
            let top = copy::TopAttributes { mode: !set("mode="), owner: !set("uid=") && !set("gid=") };
            copy::copy_dir(&target, &mounted, top).during(&self.field, "tmpcopyup", self.dest)?;
        }
        self.apply_attrs(mounted.as_fd(), false)
    }

    fn bind_host_sysfs(&self, target: &OwnedFd) -> Result<(), Error> {
        let flags = OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC | OpenTreeFlags::AT_RECURSIVE;
        let tree = open_tree(rustix::fs::CWD, "/sys", flags).during(&self.field, "open_tree", "/sys")?;
        // The whole host subtree gets the mount's flags (read-only...).
        self.change(tree.as_fd(), true, self.opts.attr)?;
        self.change(tree.as_fd(), true, self.opts.recursive_attr)?;
        self.attach(&tree, target)
    }

    fn remount(&self, env: &MountEnv<'_>) -> Result<(), Error> {
        let fstype = self.mount.typ().as_deref().unwrap_or("");
        let target = resolve::open(env.root, &self.rel, OFlags::PATH, self.symlinks(Some(fstype)))
            .during(&self.field, "open", self.dest)?;
        let source = self.mount.source().as_deref().unwrap_or(Path::new(""));
        let flags = self.opts.ms_flags | libc::MS_REMOUNT as c_uint;
        mount_fs(source, &target, fstype, flags, &self.opts.data).during(&self.field, "mount(MS_REMOUNT)", self.dest)?;
        self.apply_attrs(target.as_fd(), false)
    }

    /// A bind remount changes only mount attributes; `mount_setattr` keeps
    /// the locked ones that `mount(MS_REMOUNT|MS_BIND)` would have to repeat.
    fn remount_bind(&self, env: &MountEnv<'_>) -> Result<(), Error> {
        let target = resolve::open(env.root, &self.rel, OFlags::PATH, self.symlinks(None))
            .during(&self.field, "open", self.dest)?;
        self.apply_attrs(target.as_fd(), true)
    }

    fn cgroup(&self, env: &MountEnv<'_>) -> Result<(), Error> {
        let symlinks = self.symlinks(None);
        let target = self.target(env, Leaf::Dir, symlinks)?;
        let host = resolve::open_host(Path::new(HOST_CGROUP_ROOT), OFlags::PATH | OFlags::DIRECTORY)
            .during(&self.field, "open", HOST_CGROUP_ROOT)?;
        let host_type = fstatfs(&host).during(&self.field, "fstatfs", HOST_CGROUP_ROOT)?.f_type;
        if host_type == libc::CGROUP2_SUPER_MAGIC {
            return self.cgroup2(env, &target, &host);
        }
        // v1 or hybrid: a tmpfs holding one mount per hierarchy the
        // container's process is in, as /proc/self/cgroup lists them.
        let ms_flags = self.opts.ms_flags & !(libc::MS_RDONLY as c_uint);
        mount_fs(Path::new("tmpfs"), &target, "tmpfs", ms_flags, "mode=755").during(&self.field, "mount", self.dest)?;
        let top = resolve::open(env.root, &self.rel, OFlags::PATH | OFlags::DIRECTORY, symlinks)
            .during(&self.field, "open", self.dest)?;
        for hierarchy in self.own_cgroups(env)?.lines().filter_map(Hierarchy::parse) {
            self.cgroup_hierarchy(env, &top, &host, &hierarchy)?;
        }
        if self.opts.ms_flags & libc::MS_RDONLY as c_uint != 0 {
            self.change(top.as_fd(), false, AttrChange { set: MOUNT_ATTR_RDONLY, clear: 0 })?;
        }
        self.apply_attrs(top.as_fd(), false)
    }

    fn own_cgroups(&self, env: &MountEnv<'_>) -> Result<String, Error> {
        let fd = env.proc.open_self("cgroup", OFlags::RDONLY).during(&self.field, "open", "/proc/self/cgroup")?;
        std::io::read_to_string(std::fs::File::from(fd)).during(&self.field, "read", "/proc/self/cgroup")
    }

    fn cgroup_hierarchy(
        &self,
        env: &MountEnv<'_>,
        top: &OwnedFd,
        host: &OwnedFd,
        hierarchy: &Hierarchy<'_>,
    ) -> Result<(), Error> {
        let dir_flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let host_dir = match openat(host, hierarchy.dir, dir_flags, Mode::empty()) {
            Ok(fd) => fd,
            // Not mounted at the usual place on this host: nothing to show.
            Err(Errno::NOENT) => return Ok(()),
            Err(errno) => return Err(Error::syscall(&self.field, "open", Path::new(HOST_CGROUP_ROOT).join(hierarchy.dir), errno)),
        };
        let host_type = fstatfs(&host_dir).map_or(0, |s| s.f_type);
        if host_type != libc::CGROUP_SUPER_MAGIC && host_type != libc::CGROUP2_SUPER_MAGIC {
            return Ok(());
        }
        let dest = self.dest.join(hierarchy.dir);
        match mkdirat(top, hierarchy.dir, Mode::from_raw_mode(0o755)) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(errno) => return Err(Error::syscall(&self.field, "mkdir", &dest, errno)),
        }
        let sub = openat(top, hierarchy.dir, dir_flags, Mode::empty()).during(&self.field, "open", &dest)?;
        if env.cgroup_ns {
            // The namespace makes a fresh cgroupfs show the container's own
            // subtree as its root.
            let (fstype, data) = if hierarchy.is_unified() { ("cgroup2", "") } else { ("cgroup", hierarchy.controllers) };
            mount_fs(Path::new("cgroup"), &sub, fstype, self.opts.ms_flags, data).during(&self.field, "mount", &dest)?;
        } else {
            let own = hierarchy.path.trim_start_matches('/');
            let own = if own.is_empty() { "." } else { own };
            let flags = OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC;
            let host_path = Path::new(HOST_CGROUP_ROOT).join(hierarchy.dir).join(own);
            let tree = open_tree(&host_dir, own, flags).during(&self.field, "open_tree", &host_path)?;
            self.change(tree.as_fd(), false, self.opts.attr)?;
            self.attach(&tree, &sub)?;
        }
        // Co-mounted controllers ("cpu,cpuacct") are reachable by each name.
        if hierarchy.controllers.contains(',') {
            for controller in hierarchy.controllers.split(',').filter(|c| !c.starts_with("name=")) {
                match symlinkat(hierarchy.dir, top, controller) {
                    Ok(()) | Err(Errno::EXIST) => {}
                    Err(errno) => return Err(Error::syscall(&self.field, "symlink", self.dest.join(controller), errno)),
                }
            }
        }
        Ok(())
    }

    fn cgroup2(&self, env: &MountEnv<'_>, target: &OwnedFd, host: &OwnedFd) -> Result<(), Error> {
        match mount_fs(Path::new("cgroup"), target, "cgroup2", self.opts.ms_flags, &self.opts.data) {
            Ok(()) => {}
            // In a user namespace without a cgroup namespace the kernel
            // refuses a new cgroup2 mount; bind the container's own subtree.
            Err(Errno::PERM | Errno::BUSY) if !env.cgroup_ns => {
                let own_cgroups = self.own_cgroups(env)?;
                let own = own_cgroups.lines().filter_map(Hierarchy::parse).find(|h| h.is_unified());
                let path = own.map_or("", |h| h.path.trim_start_matches('/'));
                let path = if path.is_empty() { "." } else { path };
                let flags = OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC;
                let tree = open_tree(host, path, flags).during(&self.field, "open_tree", Path::new(HOST_CGROUP_ROOT).join(path))?;
                self.change(tree.as_fd(), false, self.opts.attr)?;
                self.attach(&tree, target)?;
            }
            Err(errno) => return Err(Error::syscall(&self.field, "mount", self.dest, errno)),
        }
        let mounted = resolve::open(env.root, &self.rel, OFlags::PATH | OFlags::DIRECTORY, self.symlinks(None))
            .during(&self.field, "open", self.dest)?;
        self.apply_attrs(mounted.as_fd(), false)
    }
}

/// The detached, idmapped tree for bind mount `mounts[index]`, made by a
/// process outside the container's user namespace (see
/// [`crate::IdmappedMounts`]). Returns `None` for mounts that are not
/// idmapped binds.
pub(crate) fn premade_idmapped_bind(
    index: usize,
    mount: &Mount,
    bundle: &Path,
    proc: &ProcFs,
    container_userns: Option<BorrowedFd<'_>>,
) -> Result<Option<OwnedFd>, Error> {
    let opts = check(index, mount, container_userns.is_some())?;
    if opts.idmap.is_none() || opts.bind.is_none() || opts.remount {
        return Ok(None);
    }
    let entry = Entry::new(index, mount, &opts);
    let source = entry.source(bundle);
    if mount.uid_mappings().is_none() && container_userns.is_none() {
        return Err(Error::invalid(&entry.field, "idmap without mappings needs the container's user namespace fd"));
    }
    entry.detached_bind(&source, proc, container_userns).map(Some)
}

/// One line of `/proc/self/cgroup`: `id:controllers:path`.
#[derive(Debug, PartialEq, Eq)]
struct Hierarchy<'a> {
    controllers: &'a str,
    /// Directory name under /sys/fs/cgroup.
    dir: &'a str,
    path: &'a str,
}

impl<'a> Hierarchy<'a> {
    fn parse(line: &'a str) -> Option<Self> {
        let mut parts = line.splitn(3, ':');
        let (_id, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let dir = if controllers.is_empty() { "unified" } else { controllers.trim_start_matches("name=") };
        Some(Hierarchy { controllers, dir, path })
    }

    fn is_unified(&self) -> bool {
        self.controllers.is_empty()
    }
}

fn mount_fs(source: &Path, target: &OwnedFd, fstype: &str, flags: c_uint, data: &str) -> rustix::io::Result<()> {
    let data = CString::new(data).map_err(|_| Errno::INVAL)?;
    let data = (!data.is_empty()).then_some(data.as_c_str());
    rustix::mount::mount(source, fd_path(target).as_str(), fstype, MountFlags::from_bits_retain(flags), data)
}

#[cfg(test)]
mod tests {
    #[test]
    fn destinations_may_not_climb_above_the_root() {
        assert!(super::climbs_above_root(Path::new("/../../etc")));
        assert!(super::climbs_above_root(Path::new("a/../../b")));
        assert!(!super::climbs_above_root(Path::new("/a/../b")));
        assert!(!super::climbs_above_root(Path::new("relative/dir")));
    }

    use super::*;
    use oci_spec::runtime::{LinuxIdMappingBuilder, MountBuilder};

    fn mount(destination: &str, typ: &str, source: &str, options: &[&str]) -> Mount {
        MountBuilder::default()
            .destination(destination)
            .typ(typ)
            .source(source)
            .options(options.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .build()
            .unwrap()
    }

    fn error(mount: &Mount, has_user_ns: bool) -> String {
        check(3, mount, has_user_ns).unwrap_err().to_string()
    }

    #[test]
    fn default_mounts_pass() {
        for m in oci_spec::runtime::get_default_mounts() {
            check(0, &m, false).unwrap();
        }
    }

    #[test]
    fn type_bind_means_bind() {
        let opts = check(0, &mount("/x", "bind", "/tmp", &[]), false).unwrap();
        assert_eq!(opts.bind, Some(false));
    }

    #[test]
    fn errors_name_the_mount() {
        let m = mount("/data", "none", "/src", &["bind", "ro", "rw"]);
        assert_eq!(error(&m, false), "mounts[3] (/data): option \"ro\" conflicts with option \"rw\"");
    }

    #[test]
    fn superblock_flags_on_binds_are_rejected() {
        assert!(error(&mount("/d", "none", "/s", &["rbind", "sync"]), false).contains("\"sync\""));
    }

    #[test]
    fn tmpcopyup_needs_tmpfs() {
        assert!(error(&mount("/d", "proc", "proc", &["tmpcopyup"]), false).contains("tmpcopyup"));
        check(0, &mount("/d", "tmpfs", "tmpfs", &["tmpcopyup"]), false).unwrap();
    }

    #[test]
    fn idmap_rules() {
        let plain = mount("/d", "none", "/s", &["bind", "idmap"]);
        assert!(error(&plain, false).contains("user namespace"));
        check(0, &plain, true).unwrap();
        assert!(error(&mount("/d", "tmpfs", "tmpfs", &["idmap"]), true).contains("bind mounts only"));

        let map = LinuxIdMappingBuilder::default().container_id(0u32).host_id(1000u32).size(10u32).build().unwrap();
        let mut only_uids = mount("/d", "none", "/s", &["bind", "idmap"]);
        only_uids.set_uid_mappings(Some(vec![map]));
        assert!(error(&only_uids, true).contains("without gidMappings"));

        let mut mapped = only_uids.clone();
        mapped.set_gid_mappings(Some(vec![map]));
        check(0, &mapped, false).unwrap();
        mapped.set_options(Some(vec!["rbind".into()]));
        assert!(error(&mapped, false).contains("need the \"idmap\" or \"ridmap\" option"));
    }

    #[test]
    fn missing_type_is_rejected() {
        let m = MountBuilder::default().destination("/d").build().unwrap();
        assert!(error(&m, false).contains("type is required"));
    }

    #[test]
    fn fresh_dev_detection() {
        let dev = Path::new("dev");
        assert!(is_fresh_tmpfs_at(&mount("/dev", "tmpfs", "tmpfs", &["nosuid"]), dev));
        assert!(is_fresh_tmpfs_at(&mount("/dev/../dev/", "tmpfs", "tmpfs", &[]), dev));
        assert!(!is_fresh_tmpfs_at(&mount("/dev", "none", "/dev", &["rbind"]), dev));
        assert!(!is_fresh_tmpfs_at(&mount("/dev/shm", "tmpfs", "shm", &[]), dev));
    }

    #[test]
    fn cgroup_lines() {
        assert_eq!(
            Hierarchy::parse("2:cpu,cpuacct:/a/b"),
            Some(Hierarchy { controllers: "cpu,cpuacct", dir: "cpu,cpuacct", path: "/a/b" })
        );
        assert_eq!(
            Hierarchy::parse("1:name=systemd:/"),
            Some(Hierarchy { controllers: "name=systemd", dir: "systemd", path: "/" })
        );
        assert!(Hierarchy::parse("0::/x").unwrap().is_unified());
        assert_eq!(Hierarchy::parse("garbage"), None);
    }
}
