//! `process.cwd`, `process.args` and `process.env`: entering the working
//! directory and finding and executing the program.
//!
//! `execve` has no safe wrapper in `rustix`; its single `unsafe` call lives
//! here because it needs the `CString` vectors this module builds.

use std::ffi::{CString, OsStr};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use oci_spec::runtime::Process;
use rustix::fs::{access, stat, Access, FileType};
use rustix::process::{chdir, getcwd};

use crate::Error;

/// Search path when `process.env` has no `PATH` (the conventional default
/// of container tooling).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Prefix the kernel puts on `getcwd` results outside the caller's root.
const UNREACHABLE: &str = "(unreachable)";

/// Changes into `cwd` and checks that the result lies inside the container
/// root: a `cwd` through a leaked descriptor (`/proc/self/fd/N`) or a
/// symlink out of the root would otherwise hand the process a host
/// directory (CVE-2024-21626).
pub fn change_dir(cwd: &str) -> Result<(), Error> {
    if !cwd.starts_with('/') {
        return Err(Error::invalid("process.cwd", cwd, "must be an absolute path"));
    }
    chdir(cwd).map_err(|e| Error::syscall("process.cwd", cwd, "chdir", e))?;
    let resolved = match getcwd(Vec::new()) {
        Ok(path) => path.to_string_lossy().into_owned(),
        // glibc-style getcwd reports an unreachable directory as ENOENT.
        Err(rustix::io::Errno::NOENT) => UNREACHABLE.to_string(),
        Err(e) => return Err(Error::syscall("process.cwd", cwd, "getcwd", e)),
    };
    if resolved.starts_with(UNREACHABLE) || !resolved.starts_with('/') {
        return Err(Error::CwdOutsideRoot { cwd: cwd.to_string(), resolved });
    }
    Ok(())
}

/// Everything `execve` needs, resolved before the container is reported
/// as created so that a missing program fails `create`, not `start`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecPlan {
    pub path: CString,
    pub argv: Vec<CString>,
    pub envp: Vec<CString>,
}

fn c_strings<S: AsRef<str>>(values: &[S], field: &str) -> Result<Vec<CString>, Error> {
    values
        .iter()
        .map(AsRef::as_ref)
        .enumerate()
        .map(|(i, v)| {
            CString::new(v.as_bytes())
                .map_err(|_| Error::invalid(format!("{field}[{i}]"), format!("{v:?}"), "contains a NUL byte"))
        })
        .collect()
}

pub(crate) fn validate(process: &Process) -> Result<(), Error> {
    let args = process.args().as_deref().unwrap_or_default();
    if args.first().filter(|program| !program.is_empty()).is_none() {
        return Err(Error::invalid("process.args", format!("{args:?}"), "needs at least one non-empty entry"));
    }
    c_strings(args, "process.args")?;
    let env = process.env().as_deref().unwrap_or_default();
    c_strings(env, "process.env")?;
    let malformed = |var: &String| !matches!(var.split_once('='), Some((name, _)) if !name.is_empty());
    if let Some((i, var)) = env.iter().enumerate().find(|(_, var)| malformed(var)) {
        return Err(Error::invalid(format!("process.env[{i}]"), format!("{var:?}"), "expected NAME=value with a non-empty NAME"));
    }
    let cwd = process.cwd().as_os_str();
    if !cwd.as_bytes().starts_with(b"/") {
        return Err(Error::invalid("process.cwd", cwd.to_string_lossy(), "must be an absolute path"));
    }
    Ok(())
}

/// Whether `path` is something `execve` could run: a regular file with an
/// execute permission for the current credentials.
fn check_executable(path: &Path) -> io::Result<()> {
    let st = stat(path)?;
    match FileType::from_raw_mode(st.st_mode) {
        FileType::RegularFile => Ok(access(path, Access::EXEC_OK)?),
        FileType::Directory => Err(io::Error::from_raw_os_error(libc::EISDIR)),
        _ => Err(io::Error::from_raw_os_error(libc::EACCES)),
    }
}

/// Finds `program` the way `execvp` does: used as is when it contains a
/// slash, otherwise looked up in each `search_path` entry (an empty entry is
/// the working directory). A candidate that exists but cannot be executed is
/// reported only when no later entry matches.
pub fn find_program(program: &str, search_path: &str) -> Result<PathBuf, Error> {
    if program.contains('/') {
        let path = PathBuf::from(program);
        return match check_executable(&path) {
            Ok(()) => Ok(path),
            Err(source) => Err(Error::NotExecutable { program: program.to_string(), path, source }),
        };
    }
    let mut refused = None;
    for dir in search_path.split(':') {
        let candidate = Path::new(if dir.is_empty() { "." } else { dir }).join(program);
        match check_executable(&candidate) {
            Ok(()) => return Ok(candidate),
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR)) => {}
            Err(e) => {
                refused.get_or_insert((candidate, e));
            }
        }
    }
    match refused {
        Some((path, source)) => Err(Error::NotExecutable { program: program.to_string(), path, source }),
        None => Err(Error::NotInPath { program: program.to_string() }),
    }
}

/// `env` as the program sees it: one entry per name, the last value winning,
/// in the order the names first appear (as runc passes it on).
fn effective_env(env: &[String]) -> Vec<&str> {
    fn name(var: &str) -> &str {
        var.split_once('=').map_or(var, |(name, _)| name)
    }
    let mut effective: Vec<&str> = Vec::with_capacity(env.len());
    for var in env {
        match effective.iter().position(|seen| name(seen) == name(var)) {
            Some(index) => effective[index] = var,
            None => effective.push(var),
        }
    }
    effective
}

/// Resolves `process.args[0]` against the `PATH` of `process.env` (or
/// [`DEFAULT_PATH`]) relative to the current directory, so it must run
/// after [`crate::change_dir`] and with the container's credentials.
pub fn resolve_exec(process: &Process) -> Result<ExecPlan, Error> {
    validate(process)?;
    let args = process.args().as_deref().unwrap_or_default();
    let env = effective_env(process.env().as_deref().unwrap_or_default());
    let search_path = env.iter().find_map(|var| var.strip_prefix("PATH=")).unwrap_or(DEFAULT_PATH);
    let path = find_program(&args[0], search_path)?;
    Ok(ExecPlan {
        path: CString::new(path.into_os_string().as_bytes()).expect("built from NUL-free strings"),
        argv: c_strings(args, "process.args")?,
        envp: c_strings(&env, "process.env")?,
    })
}

/// Replaces the process image; returns only if `execve` failed.
pub fn exec(plan: &ExecPlan) -> Error {
    let pointers = |strings: &[CString]| -> Vec<*const libc::c_char> {
        strings.iter().map(|s| s.as_ptr()).chain(std::iter::once(std::ptr::null())).collect()
    };
    let (argv, envp) = (pointers(&plan.argv), pointers(&plan.envp));
    // SAFETY: `path` is NUL-terminated; `argv` and `envp` are NULL-terminated
    // arrays of pointers into `plan`'s CStrings, all alive across the call.
    unsafe { libc::execve(plan.path.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
    Error::Exec { path: PathBuf::from(OsStr::from_bytes(plan.path.as_bytes())), source: io::Error::last_os_error() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{in_forked_child, process_from_json, require_root, ScratchDir};
    use std::os::unix::fs::PermissionsExt;

    /// Creates a file with a shell-script body and `mode` below `tree`.
    fn make_file(tree: &ScratchDir, rel: &str, mode: u32) -> PathBuf {
        let path = tree.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    #[test]
    fn path_lookup_takes_the_first_executable_match() {
        let tree = ScratchDir::new("lookup");
        make_file(&tree, "a/tool", 0o644);
        let b = make_file(&tree, "b/tool", 0o755);
        make_file(&tree, "c/tool", 0o755);
        std::fs::create_dir_all(tree.path().join("d/tool")).unwrap();
        let search = format!("{}:{}:{}:{}", tree.join_str("missing"), tree.join_str("d"), tree.join_str("b"), tree.join_str("c"));
        assert_eq!(find_program("tool", &search).unwrap(), b);
    }

    #[test]
    fn missing_program_reads_like_runc() {
        let tree = ScratchDir::new("missing");
        let err = find_program("foo", &tree.join_str("bin")).unwrap_err();
        assert_eq!(err.to_string(), r#"exec: "foo": executable file not found in $PATH"#);
    }

    #[test]
    fn program_with_slash_is_not_searched() {
        let tree = ScratchDir::new("slash");
        let tool = make_file(&tree, "bin/tool", 0o755);
        assert_eq!(find_program(tool.to_str().unwrap(), "/nonexistent").unwrap(), tool);
        let err = find_program(&tree.join_str("bin/nope"), &tree.join_str("bin")).unwrap_err();
        assert!(matches!(err, Error::NotExecutable { .. }), "{err}");
    }

    #[test]
    fn non_executable_match_is_reported_when_nothing_else_matches() {
        let tree = ScratchDir::new("noexec");
        make_file(&tree, "bin/tool", 0o644);
        let err = find_program("tool", &tree.join_str("bin")).unwrap_err();
        if rustix::process::geteuid().is_root() {
            // Root may execute any file with at least one x bit; none here.
            assert!(matches!(err, Error::NotExecutable { .. }), "{err}");
        } else {
            assert!(err.to_string().contains("Permission denied"), "{err}");
        }
    }

    #[test]
    fn plan_uses_path_from_env_and_keeps_argv_and_env() {
        let tree = ScratchDir::new("plan");
        let tool = make_file(&tree, "bin/tool", 0o755);
        let json = format!(
            r#"{{"cwd":"/","args":["tool","-x"],"env":["PATH={}","A=b"]}}"#,
            tree.join_str("bin")
        );
        let plan = resolve_exec(&process_from_json(&json)).unwrap();
        assert_eq!(plan.path.to_bytes(), tool.as_os_str().as_bytes());
        assert_eq!(plan.argv, [CString::new("tool").unwrap(), CString::new("-x").unwrap()]);
        assert_eq!(plan.envp.len(), 2);
    }

    #[test]
    fn duplicate_env_names_keep_the_last_value_in_first_position() {
        let env: Vec<String> = ["A=1", "PATH=/x", "B=2", "A=3", "EMPTY="].map(String::from).into();
        assert_eq!(effective_env(&env), ["A=3", "PATH=/x", "B=2", "EMPTY="]);
    }

    #[test]
    fn invalid_process_fields_are_named() {
        let cases = [
            (r#"{"cwd":"/","args":[]}"#, "process.args"),
            (r#"{"cwd":"/","args":["a\u0000b"]}"#, "process.args[0]"),
            (r#"{"cwd":"/","args":["sh"],"env":["NOEQUALS"]}"#, "process.env[0]"),
            (r#"{"cwd":"/","args":["sh"],"env":["A=1","=value"]}"#, "process.env[1]"),
            (r#"{"cwd":"relative","args":["sh"]}"#, "process.cwd"),
        ];
        for (json, field) in cases {
            let err = validate(&process_from_json(json)).unwrap_err().to_string();
            assert!(err.starts_with(field), "{json}: {err}");
        }
    }

    #[test]
    fn cwd_inside_root_is_accepted() {
        in_forked_child(|| {
            change_dir("/tmp").map_err(|e| e.to_string())?;
            match getcwd(Vec::new()) {
                Ok(p) if p.to_bytes() == b"/tmp" => Ok(()),
                other => Err(format!("{other:?}")),
            }
        })
        .unwrap();
    }

    #[test]
    fn cwd_through_a_descriptor_outside_the_root_is_refused() {
        if !require_root() {
            return;
        }
        // The forked child, in a private mount namespace, chroots into a
        // scratch tree with its own /proc while holding a descriptor on a
        // directory outside it (the leaked fd of CVE-2024-21626), then tries
        // to enter that directory through /proc/self/fd.
        let tree = ScratchDir::new("escape");
        let root = tree.join_str("root");
        std::fs::create_dir_all(format!("{root}/proc")).unwrap();
        in_forked_child(|| {
            use rustix::fs::{open, Mode, OFlags};
            use rustix::mount::{mount, mount_change, MountFlags, MountPropagationFlags};
            let outside = open(tree.path(), OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
                .map_err(|e| format!("open: {e}"))?;
            // SAFETY: the forked child is single-threaded, so no other thread
            // can observe the new mount namespace (NEWNS only).
            unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWNS) }
                .map_err(|e| format!("unshare: {e}"))?;
            mount_change("/", MountPropagationFlags::PRIVATE | MountPropagationFlags::REC)
                .map_err(|e| format!("make-rprivate: {e}"))?;
            mount("proc", format!("{root}/proc").as_str(), "proc", MountFlags::empty(), None)
                .map_err(|e| format!("mount proc: {e}"))?;
            rustix::process::chroot(root.as_str()).map_err(|e| format!("chroot: {e}"))?;
            chdir("/").map_err(|e| format!("chdir: {e}"))?;
            let fd = std::os::fd::AsRawFd::as_raw_fd(&outside);
            match change_dir(&format!("/proc/self/fd/{fd}")) {
                Err(Error::CwdOutsideRoot { resolved, .. }) if resolved.starts_with(UNREACHABLE) => Ok(()),
                other => Err(format!("escape not detected: {other:?}")),
            }
        })
        .unwrap();
    }
}
