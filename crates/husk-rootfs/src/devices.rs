//! Device nodes (`linux.devices` and the default set) and the standard
//! `/dev` symlinks. Nodes are created with `mknodat` next to a directory fd
//! resolved inside the rootfs; in a user namespace, where `mknod` of devices
//! is not allowed, the host's node is bind-mounted onto an empty file.

use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxDevice, LinuxDeviceType};
use rustix::fs::{chownat, makedev, mknodat, openat, statat, symlinkat, AtFlags, FileType, Gid, Mode, OFlags, Uid};
use rustix::io::Errno;
use rustix::mount::{move_mount, open_tree, MoveMountFlags, OpenTreeFlags};

use crate::error::{Error, SyscallContext};
use crate::resolve::{self, Symlinks};

/// A device node to provide, from `linux.devices` or the default set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DeviceNode {
    /// Config field, for errors.
    pub field: String,
    pub path: PathBuf,
    pub kind: FileType,
    pub major: u32,
    pub minor: u32,
    pub mode: u32,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
}

/// The devices every container gets (runtime-linux.md, "Default Devices").
const DEFAULT_DEVICES: [(&str, u32, u32); 6] =
    [("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0)];

const DEFAULT_MODE: u32 = 0o666;

pub(crate) fn default_devices() -> impl Iterator<Item = DeviceNode> {
    DEFAULT_DEVICES.iter().map(|&(name, major, minor)| DeviceNode {
        field: format!("default device /dev/{name}"),
        path: Path::new("/dev").join(name),
        kind: FileType::CharacterDevice,
        major,
        minor,
        mode: DEFAULT_MODE,
        uid: None,
        gid: None,
    })
}

/// Converts `linux.devices[index]`.
pub(crate) fn from_config(index: usize, device: &LinuxDevice) -> Result<DeviceNode, Error> {
    let field = format!("linux.devices[{index}] ({})", device.path().display());
    let kind = match device.typ() {
        LinuxDeviceType::C | LinuxDeviceType::U => FileType::CharacterDevice,
        LinuxDeviceType::B => FileType::BlockDevice,
        LinuxDeviceType::P => FileType::Fifo,
        LinuxDeviceType::A => return Err(Error::invalid(field, "type \"a\" is only valid in cgroup device rules")),
    };
    if !device.path().is_absolute() {
        return Err(Error::invalid(field, "path must be absolute"));
    }
    let number = |value: i64, name: &str| {
        u32::try_from(value).map_err(|_| Error::invalid(&field, format!("{name} {value} is out of range")))
    };
    let (major, minor) = (number(device.major(), "major")?, number(device.minor(), "minor")?);
    Ok(DeviceNode {
        path: device.path().clone(),
        kind,
        major,
        minor,
        mode: device.file_mode().unwrap_or(DEFAULT_MODE) & 0o7777,
        uid: device.uid(),
        gid: device.gid(),
        field,
    })
}

/// Makes `node` exist inside `root`. An existing entry is accepted only if it
/// is the same kind of node with the same numbers.
pub(crate) fn provide(root: BorrowedFd<'_>, node: &DeviceNode, bind_from_host: bool) -> Result<(), Error> {
    let field = &node.field;
    let rel = resolve::in_root(&node.path);
    let Some((parent, name)) = resolve::split_parent(&rel) else {
        return Err(Error::invalid(field, "path does not name a file"));
    };
    let dir = resolve::mkdir_all(root, parent, Symlinks::Refuse).during(field, "mkdir", parent)?;
    let rdev = makedev(node.major, node.minor);
    match statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(existing) => {
            let kind = FileType::from_raw_mode(existing.st_mode);
            if kind != node.kind || (kind != FileType::Fifo && existing.st_rdev != rdev) {
                return Err(Error::invalid(
                    field,
                    format!(
                        "{} exists but is not a {:?} {}:{}",
                        node.path.display(),
                        node.kind,
                        node.major,
                        node.minor
                    ),
                ));
            }
            return Ok(());
        }
        Err(Errno::NOENT) => {}
        Err(e) => return Err(Error::syscall(field, "stat", &node.path, e)),
    }
    if bind_from_host && node.kind != FileType::Fifo {
        bind_host_node(&dir, name.as_ref(), node)?;
    } else {
        let mode = Mode::from_raw_mode(node.mode);
        mknodat(&dir, name, node.kind, mode, rdev).during(field, "mknod", &node.path)?;
    }
    if node.uid.is_some() || node.gid.is_some() {
        chownat(&dir, name, node.uid.map(Uid::from_raw), node.gid.map(Gid::from_raw), AtFlags::SYMLINK_NOFOLLOW)
            .during(field, "chown", &node.path)?;
    }
    Ok(())
}

fn bind_host_node(dir: impl AsFd, name: &Path, node: &DeviceNode) -> Result<(), Error> {
    let field = &node.field;
    let placeholder = OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    drop(openat(&dir, name, placeholder, Mode::empty()).during(field, "create", &node.path)?);
    let target = openat(&dir, name, OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty())
        .during(field, "open", &node.path)?;
    let host = open_tree(rustix::fs::CWD, &node.path, OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC)
        .during(field, "open_tree", &node.path)?;
    move_mount(&host, "", &target, "", MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH | MoveMountFlags::MOVE_MOUNT_T_EMPTY_PATH)
        .during(field, "move_mount", &node.path)
}

/// `/dev/fd`, `/dev/std*`, `/dev/ptmx` and (when the kernel has one)
/// `/dev/core`. Existing entries are left alone.
pub(crate) fn create_symlinks(root: BorrowedFd<'_>, with_kcore: bool) -> Result<(), Error> {
    const FIELD: &str = "/dev symlinks";
    let dev = resolve::mkdir_all(root, Path::new("dev"), Symlinks::Refuse).during(FIELD, "mkdir", "/dev")?;
    let links = [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("ptmx", "pts/ptmx"),
    ];
    let kcore = with_kcore.then_some(("core", "/proc/kcore"));
    for (name, target) in links.into_iter().chain(kcore) {
        match symlinkat(target, &dev, name) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(e) => return Err(Error::syscall(FIELD, "symlink", Path::new("/dev").join(name), e)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxDeviceBuilder;

    #[test]
    fn config_device_conversion() {
        let device = LinuxDeviceBuilder::default()
            .path("/dev/fuse")
            .typ(LinuxDeviceType::C)
            .major(10)
            .minor(229)
            .file_mode(0o20666u32)
            .uid(0u32)
            .build()
            .unwrap();
        let node = from_config(2, &device).unwrap();
        assert_eq!(node.kind, FileType::CharacterDevice);
        assert_eq!((node.major, node.minor, node.mode), (10, 229, 0o666));
        assert_eq!(node.field, "linux.devices[2] (/dev/fuse)");
    }

    #[test]
    fn bad_config_devices_are_rejected() {
        let all = LinuxDeviceBuilder::default().path("/dev/x").typ(LinuxDeviceType::A).build().unwrap();
        assert!(from_config(0, &all).unwrap_err().to_string().contains("linux.devices[0] (/dev/x)"));
        let relative = LinuxDeviceBuilder::default().path("dev/x").typ(LinuxDeviceType::C).build().unwrap();
        assert!(from_config(0, &relative).is_err());
        let negative = LinuxDeviceBuilder::default().path("/dev/x").typ(LinuxDeviceType::C).major(-1).build().unwrap();
        assert!(from_config(0, &negative).unwrap_err().to_string().contains("major -1"));
    }

    #[test]
    fn default_set() {
        let paths: Vec<_> = default_devices().map(|d| d.path).collect();
        assert_eq!(paths.len(), 6);
        assert!(paths.contains(&PathBuf::from("/dev/null")));
    }
}
