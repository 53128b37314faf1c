use std::io;
use std::path::PathBuf;

/// Everything that can go wrong while setting up the container process.
/// `field` is always the JSON path of the configuration value involved
/// (`process.rlimits[2]`, `process.user.uid`, ...) or, for values that come
/// from the command line, the option (`--user`).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configured value that is invalid or that husk cannot honour.
    #[error("{field}: {value}: {reason}")]
    Invalid { field: String, value: String, reason: String },

    /// A system call applying `field` = `value` failed.
    #[error("{field}: {value}: {syscall}: {source}")]
    Syscall { field: String, value: String, syscall: &'static str, source: io::Error },

    /// `process.args[0]` has no slash and is in no `$PATH` directory.
    #[error("exec: {program:?}: executable file not found in $PATH")]
    NotInPath { program: String },

    /// `process.args[0]` (or its `$PATH` match) cannot be executed. The
    /// cause is spelled as Go spells errnos ("no such file or directory",
    /// "permission denied"): podman and Docker map those phrases to exit
    /// statuses 127 and 126.
    #[error("exec: {program:?}: {path}: {}", errno_text(source))]
    NotExecutable { program: String, path: PathBuf, source: io::Error },

    /// `execve` itself failed.
    #[error("exec {path}: execve: {source}")]
    Exec { path: PathBuf, source: io::Error },

    /// After `chdir`, the working directory is not inside the container root
    /// (e.g. `cwd` reached a host directory through a leaked descriptor).
    #[error("process.cwd: {cwd:?} resolves to {resolved:?}, outside the container root")]
    CwdOutsideRoot { cwd: String, resolved: String },

    /// Terminal set-up (pty, console socket, proxy).
    #[error("terminal: {what}: {source}")]
    Terminal { what: String, source: io::Error },
}

impl Error {
    pub(crate) fn invalid(field: impl Into<String>, value: impl ToString, reason: impl Into<String>) -> Self {
        Error::Invalid { field: field.into(), value: value.to_string(), reason: reason.into() }
    }

    pub(crate) fn syscall(
        field: impl Into<String>,
        value: impl ToString,
        syscall: &'static str,
        source: impl Into<io::Error>,
    ) -> Self {
        Error::Syscall { field: field.into(), value: value.to_string(), syscall, source: source.into() }
    }

    pub(crate) fn terminal(what: impl Into<String>, source: impl Into<io::Error>) -> Self {
        Error::Terminal { what: what.into(), source: source.into() }
    }
}

/// The kernel's text for an errno, lowercase and without Rust's
/// "(os error N)" suffix: the form runc's messages have.
fn errno_text(e: &io::Error) -> String {
    let text = e.to_string();
    let text = text.split(" (os error").next().unwrap_or(&text);
    let mut chars = text.chars();
    chars.next().map(|c| c.to_lowercase().chain(chars).collect()).unwrap_or_default()
}
