//! `tmpcopyup`: copying the directory a tmpfs was mounted over into the new
//! tmpfs, keeping types, modes, owners and symlink targets. All operations are
//! relative to directory fds and never follow symlinks.

use std::ffi::CStr;
use std::os::fd::{AsFd, OwnedFd};

use rustix::fs::{
    chmodat, chownat, fchmod, fchown, fstat, mkdirat, mknodat, openat, readlinkat, statat, symlinkat, AtFlags, Dir,
    FileType, Gid, Mode, OFlags, Stat, Uid,
};

/// What of `src`'s own attributes [`copy_dir`] gives to `dst` (those the
/// mount options did not set already).
pub(crate) struct TopAttributes {
    pub mode: bool,
    pub owner: bool,
}

/// Copies the contents of directory `src` into directory `dst`, and the
/// `top` attributes of `src` itself onto `dst`.
pub(crate) fn copy_dir(src: impl AsFd, dst: impl AsFd, top: TopAttributes) -> rustix::io::Result<()> {
    // Callers hold O_PATH fds; listing and fchown/fchmod need real opens.
    let src_dir = open_dir(&src, c".", OFlags::RDONLY)?;
    let dst_dir = open_dir(&dst, c".", OFlags::RDONLY)?;
    let stat = fstat(&src_dir)?;
    if top.owner {
        fchown(&dst_dir, Some(Uid::from_raw(stat.st_uid)), Some(Gid::from_raw(stat.st_gid)))?;
    }
    if top.mode {
        fchmod(&dst_dir, Mode::from_raw_mode(stat.st_mode & 0o7777))?;
    }
    copy_entries(&src_dir, &dst_dir)
}

fn copy_entries(src: impl AsFd, dst: impl AsFd) -> rustix::io::Result<()> {
    for entry in Dir::read_from(&src)? {
        let entry = entry?;
        let name = entry.file_name();
        if name == c"." || name == c".." {
            continue;
        }
        let stat = statat(&src, name, AtFlags::SYMLINK_NOFOLLOW)?;
        copy_entry(&src, &dst, name, &stat)?;
    }
    Ok(())
}

fn copy_entry(src: impl AsFd, dst: impl AsFd, name: &CStr, stat: &Stat) -> rustix::io::Result<()> {
    let kind = FileType::from_raw_mode(stat.st_mode);
    let mode = Mode::from_raw_mode(stat.st_mode & 0o7777);
    let nofollow = OFlags::NOFOLLOW | OFlags::CLOEXEC;
    match kind {
        FileType::Directory => {
            mkdirat(&dst, name, mode)?;
            let from = open_dir(&src, name, OFlags::RDONLY)?;
            let to = open_dir(&dst, name, OFlags::PATH)?;
            copy_entries(&from, &to)?;
        }
        FileType::RegularFile => {
            let from = openat(&src, name, OFlags::RDONLY | nofollow, Mode::empty())?;
            let to = openat(&dst, name, OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | nofollow, mode)?;
            std::io::copy(&mut std::fs::File::from(from), &mut std::fs::File::from(to))
                .map_err(|e| rustix::io::Errno::from_io_error(&e).unwrap_or(rustix::io::Errno::IO))?;
        }
        FileType::Symlink => {
            let target = readlinkat(&src, name, Vec::new())?;
            symlinkat(target.as_c_str(), &dst, name)?;
        }
        _ => mknodat(&dst, name, kind, mode, stat.st_rdev)?,
    }
    chownat(&dst, name, Some(Uid::from_raw(stat.st_uid)), Some(Gid::from_raw(stat.st_gid)), AtFlags::SYMLINK_NOFOLLOW)?;
    if kind != FileType::Symlink {
        // The umask trimmed the mode at creation; set it exactly.
        chmodat(&dst, name, mode, AtFlags::empty())?;
    }
    Ok(())
}

fn open_dir(parent: impl AsFd, name: &CStr, access: OFlags) -> rustix::io::Result<OwnedFd> {
    openat(parent, name, access | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty())
}
