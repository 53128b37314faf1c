//! The state directory: one directory per container under `--root`, holding
//! `state.json` (written atomically) and the exec FIFO. Operations that change
//! a container hold an exclusive `flock` on its directory, so concurrent husk
//! calls on one container are serialised; readers need no lock because every
//! write is a rename.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;
use rustix::fs::{flock, FlockOperation};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::proc::ProcessIdentity;

pub const STATE_FILE: &str = "state.json";
pub const EXEC_FIFO: &str = "exec.fifo";

/// Where the container's life stands, as far as husk drove it. The
/// user-visible status also depends on whether the process still lives and
/// whether its cgroup is frozen: see [`crate::Container::status`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Creating,
    Created,
    Started,
}

/// Everything husk keeps about a container between invocations.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    pub id: String,
    pub phase: Phase,
    /// The init's host pid and start time (0 until known).
    pub init: ProcessIdentity,
    /// The husk process that is creating the container, so that a crashed
    /// `create` can be told from one in progress.
    pub creator: ProcessIdentity,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    pub owner: String,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub cgroup: Option<husk_cgroups::Cgroup>,
    pub config: Spec,
}

/// The directory under `--root` that holds every container's state.
pub struct StateRoot {
    path: PathBuf,
}

impl StateRoot {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        StateRoot { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reserves `id`: creates its directory, failing if it exists, and locks it.
    pub fn create(&self, id: &str) -> Result<ContainerDir> {
        validate_id(id)?;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.path)
            .map_err(|e| Error::path("creating state root", &self.path, e))?;
        let path = self.path.join(id);
        match fs::DirBuilder::new().mode(0o700).create(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Err(Error::Exists(id.into())),
            Err(e) => return Err(Error::path("creating state directory", &path, e)),
        }
        ContainerDir::lock(id, path)
    }

    /// Opens and locks the directory of an existing container.
    pub fn open(&self, id: &str) -> Result<ContainerDir> {
        validate_id(id)?;
        ContainerDir::lock(id, self.path.join(id))
    }

    /// Reads a container's state without locking (writes are atomic renames).
    pub fn read(&self, id: &str) -> Result<State> {
        validate_id(id)?;
        read_state(id, &self.path.join(id))
    }

    /// Ids of every container, sorted.
    pub fn ids(&self) -> Result<Vec<String>> {
        let entries = match fs::read_dir(&self.path) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::path("listing", &self.path, e)),
        };
        let mut ids: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|id| validate_id(id).is_ok())
            .collect();
        ids.sort();
        Ok(ids)
    }
}

/// A locked container directory; the lock goes with the value.
pub struct ContainerDir {
    id: String,
    path: PathBuf,
    _lock: OwnedFd,
}

impl ContainerDir {
    fn lock(id: &str, path: PathBuf) -> Result<Self> {
        let fd = rustix::fs::open(&path, rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC, rustix::fs::Mode::empty())
            .map_err(|e| match e {
                rustix::io::Errno::NOENT => Error::NotFound(id.into()),
                e => Error::path("opening state directory", &path, e),
            })?;
        flock(fd.as_fd(), FlockOperation::LockExclusive).map_err(|e| Error::path("locking", &path, e))?;
        // The directory may have been removed by whoever held the lock before us.
        if !path.exists() {
            return Err(Error::NotFound(id.into()));
        }
        Ok(ContainerDir { id: id.into(), path, _lock: fd })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn fifo_path(&self) -> PathBuf {
        self.path.join(EXEC_FIFO)
    }

    pub fn load(&self) -> Result<State> {
        read_state(&self.id, &self.path)
    }

    /// Writes `state.json` atomically: a reader sees the old or the new file.
    pub fn save(&self, state: &State) -> Result<()> {
        let tmp = self.path.join(".state.json.tmp");
        let target = self.path.join(STATE_FILE);
        let data = serde_json::to_vec(state).map_err(|e| Error::sys("encoding state", std::io::Error::other(e)))?;
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .custom_flags(libc::O_CLOEXEC)
            .open(&tmp)
            .map_err(|e| Error::path("writing", &tmp, e))?;
        f.write_all(&data).map_err(|e| Error::path("writing", &tmp, e))?;
        fs::rename(&tmp, &target).map_err(|e| Error::path("renaming", &target, e))
    }

    /// Removes the directory and everything in it; consumes the lock.
    pub fn remove(self) -> Result<()> {
        fs::remove_dir_all(&self.path).map_err(|e| Error::path("removing", &self.path, e))
    }
}

fn read_state(id: &str, dir: &Path) -> Result<State> {
    let path = dir.join(STATE_FILE);
    let data = match fs::read(&path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Error::NotFound(id.into())),
        Err(e) => return Err(Error::path("reading", &path, e)),
    };
    serde_json::from_slice(&data).map_err(|e| Error::CorruptState { id: id.into(), why: e.to_string() })
}

/// Container ids as runc accepts them: `[A-Za-z0-9_+.-]+`, not `.` or `..`.
pub fn validate_id(id: &str) -> Result<()> {
    let why = if id.is_empty() {
        "it is empty"
    } else if id == "." || id == ".." {
        "it is a reserved path component"
    } else if id.len() > 1024 {
        "it is longer than 1024 bytes"
    } else if !id.bytes().all(|b| b.is_ascii_alphanumeric() || b"_+.-".contains(&b)) {
        "only letters, digits, '_', '+', '.' and '-' are allowed"
    } else {
        return Ok(());
    };
    Err(Error::InvalidId { id: id.into(), why })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_runc_rules() {
        for ok in ["a", "abc-1.2_3+x", "A9"] {
            assert!(validate_id(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".", "..", "a/b", "../x", "a b", "é"] {
            assert!(matches!(validate_id(bad), Err(Error::InvalidId { .. })), "{bad}");
        }
    }
}
