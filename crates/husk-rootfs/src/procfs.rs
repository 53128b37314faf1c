//! The trusted procfs handle. It is opened before any container mount exists
//! and every later `/proc` access of husk-rootfs goes through it, so nothing
//! the container's mounts or image put at `/proc` can redirect those writes
//! (CVE-2019-16884, CVE-2025-52881).

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use rustix::fs::{fstatfs, openat, openat2, Mode, OFlags, ResolveFlags, PROC_SUPER_MAGIC};
use rustix::io::Errno;
use rustix::mount::{fsconfig_create, fsmount, fsopen, FsMountFlags, FsOpenFlags, MountAttrFlags};

use crate::error::{Error, SyscallContext};

pub(crate) struct ProcFs(OwnedFd);

impl ProcFs {
    /// A private, detached procfs instance of the current pid namespace; if
    /// the kernel refuses to create one, the `/proc` of the current root,
    /// which at this point is still the host's.
    pub fn open() -> Result<Self, Error> {
        let fd = match fresh_procfs() {
            Ok(fd) => fd,
            Err(_) => openat(rustix::fs::CWD, "/proc", OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
                .during("procfs handle", "open", "/proc")?,
        };
        let stat = fstatfs(&fd).during("procfs handle", "fstatfs", "/proc")?;
        if stat.f_type != PROC_SUPER_MAGIC {
            return Err(Error::invalid("procfs handle", "/proc is not a procfs"));
        }
        Ok(ProcFs(fd))
    }

    /// Opens `rel` strictly inside this procfs: no symlinks, no magic links,
    /// no crossing into other mounts. Right for the sysctl tree.
    pub fn open_strict(&self, rel: &Path, flags: OFlags) -> rustix::io::Result<OwnedFd> {
        let resolve =
            ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS | ResolveFlags::NO_XDEV;
        openat2(&self.0, rel, flags | OFlags::CLOEXEC, Mode::empty(), resolve)
    }

    /// Opens `self/<rel>`: `self` is an ordinary symlink inside procfs, so
    /// only magic links and mount crossings are refused.
    pub fn open_self(&self, rel: &str, flags: OFlags) -> rustix::io::Result<OwnedFd> {
        let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS | ResolveFlags::NO_XDEV;
        openat2(&self.0, format!("self/{rel}"), flags | OFlags::CLOEXEC, Mode::empty(), resolve)
    }

    /// Whether `name` exists at the top of procfs (e.g. `kcore`).
    pub fn has(&self, name: &str) -> bool {
        !matches!(self.open_strict(Path::new(name), OFlags::PATH), Err(Errno::NOENT))
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

fn fresh_procfs() -> rustix::io::Result<OwnedFd> {
    let context = fsopen("proc", FsOpenFlags::FSOPEN_CLOEXEC)?;
    fsconfig_create(&context)?;
    fsmount(
        &context,
        FsMountFlags::FSMOUNT_CLOEXEC,
        MountAttrFlags::MOUNT_ATTR_NOSUID | MountAttrFlags::MOUNT_ATTR_NODEV | MountAttrFlags::MOUNT_ATTR_NOEXEC,
    )
}
