//! Errors carry the config field (as a JSON path), the cgroup file and the
//! errno, so that a failing `husk create` says exactly what to fix.

use std::io;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The kernel rejected a value written to a cgroup file.
    #[error("{field}: writing {value:?} to {}: {source}", path.display())]
    Write {
        field: String,
        path: PathBuf,
        value: String,
        source: io::Error,
    },

    /// A cgroup file could not be read.
    #[error("{what}: reading {}: {source}", path.display())]
    Read {
        what: String,
        path: PathBuf,
        source: io::Error,
    },

    /// A cgroup file did not have the expected format.
    #[error("{}: unexpected content {content:?}: {reason}", path.display())]
    Parse {
        path: PathBuf,
        content: String,
        reason: &'static str,
    },

    /// A filesystem operation on a cgroup directory failed.
    #[error("{op} {}: {source}", path.display())]
    Fs {
        op: &'static str,
        path: PathBuf,
        source: io::Error,
    },

    /// The configuration value is invalid on its own.
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },

    /// The configuration value is valid but this host (or husk) cannot honour it.
    #[error("{field}: not supported on this host: {reason}")]
    Unsupported { field: String, reason: String },

    #[error("--systemd-cgroup: the systemd cgroup driver is not implemented in husk; run without --systemd-cgroup to use the cgroupfs driver")]
    SystemdDriverUnsupported,

    #[error("no cgroup filesystem is mounted (looked for cgroup and cgroup2 mounts in /proc/self/mountinfo)")]
    NoCgroupFs,

    /// The cgroup exists already in a state a new container must not inherit.
    #[error("cgroup {} is not fit for a new container: {reason}", path.display())]
    Unfit { path: PathBuf, reason: String },

    /// A bpf(2) operation for the cgroup v2 device filter failed.
    #[error("linux.resources.devices: {op} on {}: {source}", path.display())]
    Bpf {
        op: &'static str,
        path: PathBuf,
        source: io::Error,
    },

    /// Waiting for the kernel to reach a state took too long.
    #[error("timed out after {ms} ms waiting for {} to {goal}", path.display())]
    Timeout {
        path: PathBuf,
        goal: &'static str,
        ms: u64,
    },

    /// Sending a signal to a process of the cgroup failed.
    #[error("kill({pid}, {signal}): {source}")]
    Signal {
        pid: i32,
        signal: i32,
        source: io::Error,
    },
}
