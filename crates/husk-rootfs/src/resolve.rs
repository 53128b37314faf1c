//! Resolving container paths without ever leaving the rootfs: every lookup is
//! `openat2(RESOLVE_IN_ROOT)` on the rootfs fd, so `..` and symlinks (absolute
//! or relative) planted in the image are resolved as if the rootfs were `/`.
//! Missing components are created one at a time next to an fd we hold.

use std::ffi::OsStr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{mkdirat, openat, openat2, readlinkat, Mode, OFlags, ResolveFlags, CWD};
use rustix::io::Errno;

/// What to create at a missing destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Leaf {
    Dir,
    File,
}

/// Whether symlinks may appear anywhere in the path. `/proc`, `/sys` and
/// `/dev` must not be symlinks in the image (CVE-2019-19921, CVE-2023-27561).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Symlinks {
    FollowInRoot,
    Refuse,
}

/// `path` relative to the container's `/`: relative destinations count from
/// `/`, and `..` is clamped at the root just as the kernel does for `/..`.
/// The root itself becomes `.`.
pub(crate) fn in_root(path: &Path) -> PathBuf {
    let mut clean = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(name) => clean.push(name),
            Component::ParentDir => {
                clean.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    if clean.as_os_str().is_empty() {
        clean.push(".");
    }
    clean
}

/// Opens `rel` (from [`in_root`]) inside `root`.
pub(crate) fn open(root: BorrowedFd<'_>, rel: &Path, flags: OFlags, symlinks: Symlinks) -> rustix::io::Result<OwnedFd> {
    let mut resolve = ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS;
    if symlinks == Symlinks::Refuse {
        resolve |= ResolveFlags::NO_SYMLINKS;
    }
    loop {
        // EAGAIN: a concurrent rename inside the root made the kernel refuse
        // to vouch for the walk; trying again is the documented answer.
        match openat2(root, rel, flags | OFlags::CLOEXEC, Mode::empty(), resolve) {
            Err(Errno::AGAIN) => continue,
            other => return other,
        }
    }
}

/// Dangling symlinks followed while creating one path, as the kernel's own
/// limit for a lookup.
const MAX_SYMLINK_HOPS: u32 = 40;

/// Opens directory `rel` inside `root` as `O_PATH`, creating it and any
/// missing parents (mode 0755, subject to the umask). A dangling symlink on
/// the way is followed (inside the root) and its target created, as
/// `mkdir -p` does.
pub(crate) fn mkdir_all(root: BorrowedFd<'_>, rel: &Path, symlinks: Symlinks) -> rustix::io::Result<OwnedFd> {
    mkdir_all_hops(root, rel, symlinks, 0)
}

fn mkdir_all_hops(root: BorrowedFd<'_>, rel: &Path, symlinks: Symlinks, hops: u32) -> rustix::io::Result<OwnedFd> {
    let dir_flags = OFlags::PATH | OFlags::DIRECTORY;
    match open(root, rel, dir_flags, symlinks) {
        Err(Errno::NOENT) => {}
        done => return done,
    }
    let mut dir = openat(root, ".", dir_flags | OFlags::CLOEXEC, Mode::empty())?;
    let mut prefix = PathBuf::new();
    let mut components = rel.components();
    while let Some(component) = components.next() {
        let parent = prefix.clone();
        prefix.push(component);
        dir = match open(root, &prefix, dir_flags, symlinks) {
            Err(Errno::NOENT) => match mkdirat(&dir, component.as_os_str(), Mode::from_raw_mode(0o755)) {
                Ok(()) => open(root, &prefix, dir_flags, symlinks)?,
                Err(Errno::EXIST) => {
                    let redirected = follow_dangling(&dir, component.as_os_str(), &parent, hops)?;
                    return mkdir_all_hops(root, &redirected.join(components.as_path()), symlinks, hops + 1);
                }
                Err(e) => return Err(e),
            },
            other => other?,
        };
    }
    Ok(dir)
}

/// Opens `rel` inside `root` as `O_PATH`, creating it as `leaf` (with missing
/// parents) when it does not exist. An existing entry is used whatever its
/// type; mounting onto a mismatching type fails in the kernel.
pub(crate) fn create(root: BorrowedFd<'_>, rel: &Path, leaf: Leaf, symlinks: Symlinks) -> rustix::io::Result<OwnedFd> {
    create_hops(root, rel, leaf, symlinks, 0)
}

fn create_hops(root: BorrowedFd<'_>, rel: &Path, leaf: Leaf, symlinks: Symlinks, hops: u32) -> rustix::io::Result<OwnedFd> {
    match open(root, rel, OFlags::PATH, symlinks) {
        Err(Errno::NOENT) => {}
        done => return done,
    }
    let Some((parent_rel, name)) = split_parent(rel) else {
        return Err(Errno::NOENT);
    };
    let parent = mkdir_all(root, parent_rel, symlinks)?;
    let created = match leaf {
        Leaf::Dir => mkdirat(&parent, name, Mode::from_raw_mode(0o755)),
        Leaf::File => openat(
            &parent,
            name,
            OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o644),
        )
        .map(drop),
    };
    match created {
        Ok(()) => {}
        Err(Errno::EXIST) => match open(root, rel, OFlags::PATH, symlinks) {
            Err(Errno::NOENT) => {
                let redirected = follow_dangling(&parent, name, parent_rel, hops)?;
                return create_hops(root, &redirected, leaf, symlinks, hops + 1);
            }
            done => return done,
        },
        Err(e) => return Err(e),
    }
    // Re-resolve from the root: whatever raced into place is judged by the
    // same in-root rules as a pre-existing entry.
    open(root, rel, OFlags::PATH, symlinks)
}

/// `rel`'s parent directory (`.` for a top-level name) and final name.
pub(crate) fn split_parent(rel: &Path) -> Option<(&Path, &OsStr)> {
    let name = rel.file_name()?;
    let parent = rel.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    Some((parent, name))
}

/// Where the dangling symlink `name` in `dir` (at `dir_rel`) points, as a
/// path inside the root.
fn follow_dangling(dir: impl AsFd, name: &OsStr, dir_rel: &Path, hops: u32) -> rustix::io::Result<PathBuf> {
    if hops >= MAX_SYMLINK_HOPS {
        return Err(Errno::LOOP);
    }
    let target = readlinkat(dir, name, Vec::new())?;
    let target = Path::new(OsStr::from_bytes(target.as_bytes()));
    Ok(in_root(&dir_rel.join(target)))
}

/// A path naming `fd` for the few calls that only take paths (`mount(2)`):
/// the magic link pins the exact inode and mount we resolved.
pub(crate) fn fd_path(fd: impl AsFd) -> String {
    use std::os::fd::AsRawFd;
    format!("/proc/self/fd/{}", fd.as_fd().as_raw_fd())
}

/// Opens a host path given by the (trusted) configuration.
pub(crate) fn open_host(path: &Path, flags: OFlags) -> rustix::io::Result<OwnedFd> {
    openat(CWD, path, flags | OFlags::CLOEXEC, Mode::empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_are_made_relative_and_clamped() {
        assert_eq!(in_root(Path::new("/proc")), Path::new("proc"));
        assert_eq!(in_root(Path::new("data/x")), Path::new("data/x"));
        assert_eq!(in_root(Path::new("/../../etc/./passwd")), Path::new("etc/passwd"));
        assert_eq!(in_root(Path::new("/a/b/../../../c")), Path::new("c"));
        assert_eq!(in_root(Path::new("/")), Path::new("."));
        assert_eq!(in_root(Path::new("..")), Path::new("."));
    }

    #[test]
    fn parent_split() {
        assert_eq!(split_parent(Path::new("dev")), Some((Path::new("."), OsStr::new("dev"))));
        assert_eq!(split_parent(Path::new("dev/net/tun")), Some((Path::new("dev/net"), OsStr::new("tun"))));
        assert_eq!(split_parent(Path::new(".")), None);
    }
}
