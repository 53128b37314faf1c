use std::path::PathBuf;

use libseccomp::error::{SeccompErrno, SeccompError};
use rustix::io::Errno;

/// Everything that can go wrong between `linux.seccomp` and an installed filter.
///
/// Config errors name the offending field as a JSON path into `config.json`
/// (e.g. `linux.seccomp.syscalls[3].args[0].op`).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is contradictory or asks for something husk cannot honour.
    #[error("{field}: {reason}")]
    InvalidConfig { field: String, reason: String },

    /// libseccomp refused a setting or a rule while the filter was being built.
    #[error("{field}: libseccomp {operation}: {source}{}", libseccomp_hint(.operation, .source))]
    Libseccomp {
        field: String,
        operation: &'static str,
        #[source]
        source: SeccompError,
    },

    /// Moving the generated BPF program out of libseccomp failed.
    #[error("exporting the seccomp BPF program: {step}: {errno}")]
    Export { step: &'static str, errno: Errno },

    /// The kernel refused the filter.
    #[error("seccomp(SECCOMP_SET_MODE_FILTER, flags {flags:#x}): {errno}{hint}")]
    Load {
        flags: libc::c_ulong,
        errno: Errno,
        hint: &'static str,
    },

    /// Handing the notify listener fd to the seccomp agent failed.
    #[error("seccomp agent socket {path}: {syscall}: {errno}")]
    Listener {
        path: PathBuf,
        syscall: &'static str,
        errno: Errno,
    },

    /// The container process state could not be serialized for the agent.
    #[error("seccomp agent socket {path}: serializing the container process state: {source}")]
    StateJson {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

impl Error {
    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidConfig {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn libseccomp(
        field: impl Into<String>,
        operation: &'static str,
    ) -> impl FnOnce(SeccompError) -> Self {
        let field = field.into();
        move |source| Error::Libseccomp {
            field,
            operation,
            source,
        }
    }
}

/// What libseccomp's terse error means for the config, where that is known.
fn libseccomp_hint(operation: &str, source: &SeccompError) -> &'static str {
    match (operation, source.errno()) {
        ("seccomp_arch_add", Some(SeccompErrno::EDOM)) => {
            " (it cannot share a filter with the native architecture)"
        }
        ("seccomp_rule_add", Some(SeccompErrno::EEXIST)) => {
            " (another rule for this syscall and these arguments has a different action)"
        }
        _ => "",
    }
}
