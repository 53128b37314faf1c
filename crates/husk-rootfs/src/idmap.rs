//! User namespaces that carry the ID mapping of an idmapped mount.
//!
//! `MOUNT_ATTR_IDMAP` takes the mapping from a user namespace fd. Without
//! per-mount mappings that is the container's own user namespace; with them a
//! throwaway namespace is made: a child is forked into a new user namespace,
//! its maps are written, its namespace is opened, and it exits.

use std::io::Write;
use std::os::fd::OwnedFd;

use husk_sys::clone::{fork_with, Forked};
use oci_spec::runtime::LinuxIdMapping;
use rustix::fs::OFlags;
use rustix::io::Errno;
use rustix::process::{waitpid, Pid, WaitOptions};

use crate::procfs::ProcFs;

/// The container's own user namespace.
pub(crate) fn own_userns(proc: &ProcFs) -> rustix::io::Result<OwnedFd> {
    // A magic link: resolved with a plain openat on the private procfs,
    // which nothing in the container can have tampered with.
    rustix::fs::openat(proc.fd(), "self/ns/user", OFlags::RDONLY | OFlags::CLOEXEC, rustix::fs::Mode::empty())
}

/// `uid_map`/`gid_map` text for `mappings`.
pub(crate) fn map_text(mappings: &[LinuxIdMapping]) -> String {
    mappings.iter().map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size())).collect()
}

/// A new user namespace with the given mappings.
pub(crate) fn userns_with(proc: &ProcFs, uid_map: &str, gid_map: &str) -> rustix::io::Result<OwnedFd> {
    let (wait_read, wait_write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
    let (forked, _) = fork_with(libc::CLONE_NEWUSER as u64, None).map_err(|e| Errno::from_io_error(&e).unwrap_or(Errno::IO))?;
    let pid = match forked {
        Forked::Child => {
            // Only exists to own the namespace: wait until the parent has
            // opened it (our copy of the write end is closed right here).
            drop(wait_write);
            let _ = rustix::io::read(&wait_read, &mut [0u8; 1]);
            std::process::exit(0);
        }
        Forked::Parent(pid) => pid,
    };
    drop(wait_read);
    let opened = write_maps_and_open(proc, pid, uid_map, gid_map);
    drop(wait_write);
    let _ = waitpid(Pid::from_raw(pid), WaitOptions::empty());
    opened
}

fn write_maps_and_open(proc: &ProcFs, pid: i32, uid_map: &str, gid_map: &str) -> rustix::io::Result<OwnedFd> {
    for (file, text) in [("uid_map", uid_map), ("gid_map", gid_map)] {
        let fd = proc.open_strict(format!("{pid}/{file}").as_ref(), OFlags::WRONLY)?;
        // The kernel takes a map in a single write.
        std::fs::File::from(fd)
            .write_all(text.as_bytes())
            .map_err(|e| Errno::from_io_error(&e).unwrap_or(Errno::IO))?;
    }
    rustix::fs::openat(proc.fd(), format!("{pid}/ns/user"), OFlags::RDONLY | OFlags::CLOEXEC, rustix::fs::Mode::empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxIdMappingBuilder;

    #[test]
    fn map_text_has_one_line_per_range() {
        let mappings = [
            LinuxIdMappingBuilder::default().container_id(0u32).host_id(1000u32).size(1u32).build().unwrap(),
            LinuxIdMappingBuilder::default().container_id(1u32).host_id(100000u32).size(65536u32).build().unwrap(),
        ];
        assert_eq!(map_text(&mappings), "0 1000 1\n1 100000 65536\n");
    }
}
