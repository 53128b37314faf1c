//! The crate's error type. Every error names what it is about: a config field
//! (`mounts[3] (/data)`, `linux.sysctl."net.x"`, `root.path`...) and, for
//! failed system calls, the call, the path and the errno.

use std::fmt;
use std::io;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration asks for something invalid or unsupported.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// A system call failed while carrying out `field`.
    #[error("{field}: {call}({path}): {source}")]
    Syscall { field: String, call: &'static str, path: PathBuf, source: io::Error },
}

impl Error {
    pub(crate) fn invalid(field: impl fmt::Display, message: impl fmt::Display) -> Self {
        Error::Invalid { field: field.to_string(), message: message.to_string() }
    }

    pub(crate) fn syscall(
        field: impl fmt::Display,
        call: &'static str,
        path: impl Into<PathBuf>,
        errno: rustix::io::Errno,
    ) -> Self {
        Error::Syscall {
            field: field.to_string(),
            call,
            path: path.into(),
            source: io::Error::from_raw_os_error(errno.raw_os_error()),
        }
    }

    /// The errno of a failed system call, if this is one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Syscall { source, .. } => source.raw_os_error(),
            Error::Invalid { .. } => None,
        }
    }
}

/// Attaches the field, call and path to a failed rustix call.
pub(crate) trait SyscallContext<T> {
    fn during(self, field: impl fmt::Display, call: &'static str, path: impl Into<PathBuf>) -> Result<T, Error>;
}

impl<T> SyscallContext<T> for rustix::io::Result<T> {
    fn during(self, field: impl fmt::Display, call: &'static str, path: impl Into<PathBuf>) -> Result<T, Error> {
        self.map_err(|errno| Error::syscall(field, call, path, errno))
    }
}

impl<T> SyscallContext<T> for io::Result<T> {
    fn during(self, field: impl fmt::Display, call: &'static str, path: impl Into<PathBuf>) -> Result<T, Error> {
        self.map_err(|e| Error::Syscall { field: field.to_string(), call, path: path.into(), source: e })
    }
}
