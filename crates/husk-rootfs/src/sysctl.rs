//! `linux.sysctl`: only keys that belong to a namespace the container has
//! are accepted, since anything else would change the host.

use std::collections::HashSet;
use std::io::Write;
use std::path::PathBuf;

use oci_spec::runtime::LinuxNamespaceType;
use rustix::fs::OFlags;

use crate::error::{Error, SyscallContext};
use crate::procfs::ProcFs;

pub(crate) fn field(key: &str) -> String {
    format!("linux.sysctl[{key:?}]")
}

/// The namespace a sysctl key is scoped to, if any.
fn namespace_of(key: &str) -> Option<LinuxNamespaceType> {
    const IPC_KEYS: [&str; 2] = ["kernel.sem", "kernel.sem_next_id"];
    if key.starts_with("kernel.shm") || key.starts_with("kernel.msg") || IPC_KEYS.contains(&key) {
        return Some(LinuxNamespaceType::Ipc);
    }
    if key.starts_with("fs.mqueue.") {
        return Some(LinuxNamespaceType::Ipc);
    }
    if key == "kernel.hostname" || key == "kernel.domainname" {
        return Some(LinuxNamespaceType::Uts);
    }
    if key.starts_with("net.") {
        return Some(LinuxNamespaceType::Network);
    }
    None
}

/// `net.ipv4.conf.eth0/1.forwarding` -> `net/ipv4/conf/eth0.1/forwarding`:
/// dots separate levels, and a slash stands for a dot inside a name.
fn relative_path(key: &str) -> Option<PathBuf> {
    let converted: String = key.chars().map(|c| match c { '.' => '/', '/' => '.', c => c }).collect();
    let valid = converted.split('/').all(|part| !part.is_empty() && part != "." && part != "..");
    valid.then(|| PathBuf::from("sys").join(converted))
}

pub(crate) fn check(key: &str, namespaces: &HashSet<LinuxNamespaceType>) -> Result<(), Error> {
    if relative_path(key).is_none() {
        return Err(Error::invalid(field(key), "not a valid sysctl name"));
    }
    match namespace_of(key) {
        Some(ns) if namespaces.contains(&ns) => Ok(()),
        Some(ns) => Err(Error::invalid(
            field(key),
            format!("needs its own {ns} namespace; without one it would change the host"),
        )),
        None => Err(Error::invalid(field(key), "is not namespaced; refusing to change the host's value")),
    }
}

/// Writes `value` to `key` through the trusted procfs.
pub(crate) fn write(proc: &ProcFs, key: &str, value: &str) -> Result<(), Error> {
    let rel = relative_path(key).ok_or_else(|| Error::invalid(field(key), "not a valid sysctl name"))?;
    let shown = PathBuf::from("/proc").join(&rel);
    let fd = proc.open_strict(&rel, OFlags::WRONLY).during(field(key), "open", &shown)?;
    std::fs::File::from(fd).write_all(value.as_bytes()).during(field(key), "write", &shown)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn namespaces(list: &[LinuxNamespaceType]) -> HashSet<LinuxNamespaceType> {
        list.iter().copied().collect()
    }

    #[test]
    fn key_to_path() {
        assert_eq!(relative_path("net.ipv4.ip_forward").unwrap(), PathBuf::from("sys/net/ipv4/ip_forward"));
        assert_eq!(
            relative_path("net.ipv4.conf.eth0/1.forwarding").unwrap(),
            PathBuf::from("sys/net/ipv4/conf/eth0.1/forwarding")
        );
        assert_eq!(relative_path("net..x"), None);
        assert_eq!(relative_path("kernel./..x"), None);
    }

    #[test]
    fn namespaced_keys_need_their_namespace() {
        let all = namespaces(&[LinuxNamespaceType::Ipc, LinuxNamespaceType::Uts, LinuxNamespaceType::Network]);
        for key in ["kernel.shmmax", "kernel.msgmnb", "kernel.sem", "fs.mqueue.msg_max", "kernel.hostname", "net.core.somaxconn"] {
            check(key, &all).unwrap();
        }
        let error = check("net.ipv4.ip_forward", &namespaces(&[LinuxNamespaceType::Ipc])).unwrap_err().to_string();
        assert!(error.contains("net namespace") && error.contains("net.ipv4.ip_forward"), "{error}");
        assert!(check("kernel.shmmax", &namespaces(&[])).is_err());
    }

    #[test]
    fn host_wide_keys_are_refused() {
        let all = namespaces(&[LinuxNamespaceType::Ipc, LinuxNamespaceType::Uts, LinuxNamespaceType::Network]);
        for key in ["kernel.core_pattern", "vm.swappiness", "kernel.semx", "fs.file-max"] {
            assert!(check(key, &all).is_err(), "{key}");
        }
    }
}
