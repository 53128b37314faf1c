//! `mount_setattr(2)`, the one call of the new mount API that rustix lacks:
//! changing mount attributes (optionally on a whole subtree, atomically) and
//! attaching an ID mapping to a mount.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

pub const MOUNT_ATTR_RDONLY: u64 = 0x0000_0001;
pub const MOUNT_ATTR_NOSUID: u64 = 0x0000_0002;
pub const MOUNT_ATTR_NODEV: u64 = 0x0000_0004;
pub const MOUNT_ATTR_NOEXEC: u64 = 0x0000_0008;
/// Mask covering the atime mode; must be cleared whenever a mode is set.
pub const MOUNT_ATTR_ATIME_MASK: u64 = 0x0000_0070;
pub const MOUNT_ATTR_RELATIME: u64 = 0x0000_0000;
pub const MOUNT_ATTR_NOATIME: u64 = 0x0000_0010;
pub const MOUNT_ATTR_STRICTATIME: u64 = 0x0000_0020;
pub const MOUNT_ATTR_NODIRATIME: u64 = 0x0000_0080;
pub const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;
pub const MOUNT_ATTR_NOSYMFOLLOW: u64 = 0x0020_0000;

/// The attribute change requested from [`mount_setattr`].
#[derive(Debug, Default, Clone, Copy)]
pub struct MountAttr<'fd> {
    /// `MOUNT_ATTR_*` bits to set.
    pub set: u64,
    /// `MOUNT_ATTR_*` bits to clear.
    pub clear: u64,
    /// One `MS_SHARED`/`MS_SLAVE`/`MS_PRIVATE`/`MS_UNBINDABLE`, or 0.
    pub propagation: u64,
    /// User namespace whose mapping becomes the mount's ID mapping; only
    /// meaningful together with `MOUNT_ATTR_IDMAP` in `set`.
    pub userns: Option<BorrowedFd<'fd>>,
}

#[repr(C)]
struct RawMountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// `mount_setattr(dirfd, path, flags, attr)`. `flags` takes `AT_EMPTY_PATH`,
/// `AT_RECURSIVE`, `AT_SYMLINK_NOFOLLOW` and `AT_NO_AUTOMOUNT`.
pub fn mount_setattr(dirfd: BorrowedFd<'_>, path: &CStr, flags: u32, attr: &MountAttr<'_>) -> io::Result<()> {
    let raw = RawMountAttr {
        attr_set: attr.set,
        attr_clr: attr.clear,
        propagation: attr.propagation,
        userns_fd: attr.userns.map_or(0, |fd| fd.as_raw_fd() as u64),
    };
    // SAFETY: `path` is a valid NUL-terminated string and `raw` a properly
    // laid out `struct mount_attr`; both outlive the call, the kernel only
    // reads them, and the size passed matches the struct.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            dirfd.as_raw_fd(),
            path.as_ptr(),
            flags,
            &raw as *const RawMountAttr,
            std::mem::size_of::<RawMountAttr>(),
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
