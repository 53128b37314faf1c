//! Which namespaces a container creates and which it joins, and the parent's
//! side of setting up new user and time namespaces (written through the
//! host's `/proc/<pid>`, never from inside the container).

use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;

use oci_spec::runtime::{LinuxIdMapping, LinuxNamespaceType, Spec};
use rustix::thread::{move_into_link_name_space, unshare_unsafe, LinkNameSpaceType, UnshareFlags};

use crate::error::{Error, Result};

/// Joins are applied in this order: the user namespace first, so that the
/// others are entered with the credentials it grants; mount last among the
/// rest, as joining it changes how later paths resolve.
const JOIN_ORDER: [LinuxNamespaceType; 8] = [
    LinuxNamespaceType::User,
    LinuxNamespaceType::Ipc,
    LinuxNamespaceType::Uts,
    LinuxNamespaceType::Network,
    LinuxNamespaceType::Pid,
    LinuxNamespaceType::Time,
    LinuxNamespaceType::Cgroup,
    LinuxNamespaceType::Mount,
];

pub struct Join {
    pub kind: LinuxNamespaceType,
    pub fd: OwnedFd,
}

/// The namespace plan of one container.
pub struct Plan {
    /// `CLONE_NEW*` bits of the namespaces to create.
    pub new: u64,
    /// Namespaces to enter, opened by the parent (their paths are host paths).
    pub joins: Vec<Join>,
    /// For `exec`: the root directory of the container's init, taken after
    /// joining its mount namespace. Joining only sets the namespace's own
    /// root, which is not the container's when husk itself runs chrooted.
    pub root: Option<OwnedFd>,
}

pub fn flag(kind: LinuxNamespaceType) -> u64 {
    kind as u64
}

/// Whether the container gets a pid namespace of its own, whose init is the
/// container's init: the kernel kills every process in it when the init dies.
pub fn creates_pid_namespace(spec: &Spec) -> bool {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|ns| ns.iter().any(|n| n.typ() == LinuxNamespaceType::Pid && n.path().is_none()))
}

impl Plan {
    pub fn from_spec(spec: &Spec) -> Result<Plan> {
        let mut new = 0u64;
        let mut joins = Vec::new();
        let namespaces = spec.linux().as_ref().and_then(|l| l.namespaces().as_ref());
        for (i, ns) in namespaces.map(|v| v.as_slice()).unwrap_or_default().iter().enumerate() {
            match ns.path() {
                None => new |= flag(ns.typ()),
                Some(path) => {
                    let file = File::options()
                        .read(true)
                        .custom_flags(libc::O_CLOEXEC)
                        .open(path)
                        .map_err(|e| Error::Sys { what: format!("linux.namespaces[{i}].path: opening {}", path.display()), source: e })?;
                    joins.push((ns.typ(), file.into()));
                }
            }
        }
        Ok(Plan { new, ..Plan::from_joins(joins) })
    }

    pub fn from_joins(joins: Vec<(LinuxNamespaceType, OwnedFd)>) -> Plan {
        let mut joins: Vec<Join> = joins.into_iter().map(|(kind, fd)| Join { kind, fd }).collect();
        joins.sort_by_key(|j| JOIN_ORDER.iter().position(|k| *k == j.kind));
        Plan { new: 0, joins, root: None }
    }

    pub fn creates(&self, kind: LinuxNamespaceType) -> bool {
        self.new & flag(kind) != 0
    }


    /// Whether the init can be cloned directly with all its namespaces. Joins
    /// and a new time namespace need an intermediate process: namespaces must
    /// be entered before the new ones are created (so they are owned by the
    /// right user namespace), and pid/time namespaces only apply to children.
    pub fn needs_intermediate(&self) -> bool {
        !self.joins.is_empty() || self.creates(LinuxNamespaceType::Time)
    }

    /// Flags for `clone3` on the direct path. The cgroup namespace is created
    /// later by the init itself, once it sits in its final cgroup.
    pub fn clone_flags(&self) -> u64 {
        self.new & !flag(LinuxNamespaceType::Cgroup) & !flag(LinuxNamespaceType::Time)
    }

    /// In the intermediate process: enter the joined namespaces, then create
    /// the new ones (but the cgroup namespace, see [`Plan::clone_flags`]).
    pub fn enter(&self) -> std::io::Result<()> {
        for join in &self.joins {
            move_into_link_name_space(join.fd.as_fd(), Some(link_type(join.kind)))?;
        }
        if let Some(root) = &self.root {
            rustix::process::fchdir(root)?;
            rustix::process::chroot(".")?;
        }
        let flags = UnshareFlags::from_bits_retain((self.new & !flag(LinuxNamespaceType::Cgroup)) as u32);
        // SAFETY: the process is single-threaded and about to fork its init;
        // unsharing the file table or fs state is not requested here.
        unsafe { unshare_unsafe(flags) }.map_err(Into::into)
    }
}

fn link_type(kind: LinuxNamespaceType) -> LinkNameSpaceType {
    match kind {
        LinuxNamespaceType::Mount => LinkNameSpaceType::Mount,
        LinuxNamespaceType::Cgroup => LinkNameSpaceType::ControlGroup,
        LinuxNamespaceType::Uts => LinkNameSpaceType::HostNameAndNISDomainName,
        LinuxNamespaceType::Ipc => LinkNameSpaceType::InterProcessCommunication,
        LinuxNamespaceType::User => LinkNameSpaceType::User,
        LinuxNamespaceType::Pid => LinkNameSpaceType::ProcessID,
        LinuxNamespaceType::Network => LinkNameSpaceType::Network,
        LinuxNamespaceType::Time => LinkNameSpaceType::Time,
    }
}

/// Writes uid/gid maps of a process that just entered a new user namespace.
pub fn write_id_maps(pid: i32, spec: &Spec) -> Result<()> {
    let linux = spec.linux().as_ref();
    let uid = linux.and_then(|l| l.uid_mappings().as_ref());
    let gid = linux.and_then(|l| l.gid_mappings().as_ref());
    write_map(pid, "uid_map", "linux.uidMappings", uid.map(|v| v.as_slice()).unwrap_or_default())?;
    write_map(pid, "gid_map", "linux.gidMappings", gid.map(|v| v.as_slice()).unwrap_or_default())
}

fn write_map(pid: i32, file: &str, field: &str, mappings: &[LinuxIdMapping]) -> Result<()> {
    if mappings.is_empty() {
        return Ok(());
    }
    let text: String = mappings
        .iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect();
    let path = format!("/proc/{pid}/{file}");
    // The kernel takes the whole map in one write(2).
    std::fs::write(&path, text).map_err(|e| Error::Sys { what: format!("{field}: writing {path}"), source: e })
}

/// Writes `linux.timeOffsets` for the children of `pid`, which has just
/// unshared its time namespace and not yet forked.
pub fn write_time_offsets(pid: i32, spec: &Spec) -> Result<()> {
    let Some(offsets) = spec.linux().as_ref().and_then(|l| l.time_offsets().as_ref()) else { return Ok(()) };
    let mut text = String::new();
    for (clock, off) in offsets {
        let clock = match clock.as_str() {
            "monotonic" | "boottime" => clock,
            other => {
                return Err(Error::Unsupported {
                    field: "linux.timeOffsets",
                    msg: format!("unknown clock {other:?} (only monotonic and boottime can be offset)"),
                })
            }
        };
        text.push_str(&format!("{clock} {} {}\n", off.secs().unwrap_or(0), off.nanosecs().unwrap_or(0)));
    }
    let path = format!("/proc/{pid}/timens_offsets");
    std::fs::write(&path, text).map_err(|e| Error::Sys { what: format!("linux.timeOffsets: writing {path}"), source: e })
}

/// Enters a new cgroup namespace rooted at the caller's current cgroup.
pub fn unshare_cgroup() -> std::io::Result<()> {
    // SAFETY: single-threaded init; only the cgroup namespace changes.
    unsafe { unshare_unsafe(UnshareFlags::NEWCGROUP) }.map_err(Into::into)
}
