//! The errors of container operations. Their texts are part of husk's
//! interface: containerd, CRI-O and podman match substrings such as
//! "does not exist" and "container not running".

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("container \"{0}\" does not exist")]
    NotFound(String),
    #[error("container with given ID already exists: {0}")]
    Exists(String),
    #[error("invalid container id {id:?}: {why}")]
    InvalidId { id: String, why: &'static str },
    #[error("container not running")]
    NotRunning,
    #[error("cannot {op} container \"{id}\" in state {status}")]
    WrongState { op: &'static str, id: String, status: &'static str },
    #[error("cannot delete container {0} that is not stopped: container is {1} (use --force)")]
    NotStopped(String, &'static str),
    #[error(transparent)]
    Config(#[from] husk_config::ConfigError),
    #[error(transparent)]
    Rootfs(#[from] husk_rootfs::Error),
    #[error(transparent)]
    Process(#[from] husk_process::Error),
    #[error(transparent)]
    Cgroups(#[from] husk_cgroups::Error),
    #[error(transparent)]
    Seccomp(#[from] husk_seccomp::Error),
    #[error("{what} {path}: {source}")]
    Path { what: &'static str, path: PathBuf, source: std::io::Error },
    #[error("{what}: {source}")]
    Sys { what: String, source: std::io::Error },
    #[error("{kind} hook {index} ({path}): {why}")]
    Hook { kind: &'static str, index: usize, path: String, why: String },
    #[error("container init: {0}")]
    Init(String),
    #[error("{field}: {msg}")]
    Unsupported { field: &'static str, msg: String },
    #[error("state of container \"{id}\" is corrupt: {why}")]
    CorruptState { id: String, why: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn sys(what: impl Into<String>, source: impl Into<std::io::Error>) -> Self {
        Error::Sys { what: what.into(), source: source.into() }
    }

    pub(crate) fn path(what: &'static str, path: impl Into<PathBuf>, source: impl Into<std::io::Error>) -> Self {
        Error::Path { what, path: path.into(), source: source.into() }
    }
}
