//! Lifecycle hooks (config.md "POSIX-platform Hooks", runtime.md "Lifecycle"):
//! each runs with the container state as JSON on stdin, its own `env` and
//! `args`, and is killed when its `timeout` expires.

use std::io::{Read, Seek, Write};

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oci_spec::runtime::{Hook, Hooks};
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::process::{pidfd_open, Pid, PidfdFlags};

use crate::error::{Error, Result};

/// The six hook kinds, named as in config.json.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookKind {
    Prestart,
    CreateRuntime,
    CreateContainer,
    StartContainer,
    Poststart,
    Poststop,
}

impl HookKind {
    pub fn name(self) -> &'static str {
        match self {
            HookKind::Prestart => "prestart",
            HookKind::CreateRuntime => "createRuntime",
            HookKind::CreateContainer => "createContainer",
            HookKind::StartContainer => "startContainer",
            HookKind::Poststart => "poststart",
            HookKind::Poststop => "poststop",
        }
    }

    fn select(self, hooks: &Hooks) -> &[Hook] {
        #[allow(deprecated)]
        let list = match self {
            HookKind::Prestart => hooks.prestart(),
            HookKind::CreateRuntime => hooks.create_runtime(),
            HookKind::CreateContainer => hooks.create_container(),
            HookKind::StartContainer => hooks.start_container(),
            HookKind::Poststart => hooks.poststart(),
            HookKind::Poststop => hooks.poststop(),
        };
        list.as_deref().unwrap_or_default()
    }
}

/// Whether `hooks` holds any hook of `kind`.
pub fn has(hooks: Option<&Hooks>, kind: HookKind) -> bool {
    hooks.is_some_and(|h| !kind.select(h).is_empty())
}

/// Runs every hook of `kind` in order, stopping at the first failure.
/// `state` is the JSON the hooks receive on stdin.
pub fn run(hooks: Option<&Hooks>, kind: HookKind, state: &[u8]) -> Result<()> {
    let Some(hooks) = hooks else { return Ok(()) };
    for (index, hook) in kind.select(hooks).iter().enumerate() {
        run_one(hook, state).map_err(|why| Error::Hook {
            kind: kind.name(),
            index,
            path: hook.path().display().to_string(),
            why,
        })?;
    }
    Ok(())
}

fn run_one(hook: &Hook, state: &[u8]) -> std::result::Result<(), String> {
    let mut cmd = Command::new(hook.path());
    if let Some(args) = hook.args().as_deref().filter(|a| !a.is_empty()) {
        cmd.arg0(&args[0]).args(&args[1..]);
    }
    cmd.env_clear();
    // A hook must not outlive a husk that was killed while waiting for it.
    // SAFETY: the closure runs between fork and exec and only makes one
    // async-signal-safe system call.
    unsafe {
        cmd.pre_exec(|| {
            rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL)).map_err(Into::into)
        });
    }
    for kv in hook.env().as_deref().unwrap_or_default() {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    // Output goes to an anonymous file rather than a pipe: a chatty hook can
    // never block on a full pipe, and its stderr explains a failure.
    let output = rustix::fs::memfd_create("husk-hook-output", rustix::fs::MemfdFlags::CLOEXEC)
        .map_err(|e| format!("memfd_create: {e}"))?;
    let mut output = std::fs::File::from(output);
    let out2 = output.try_clone().map_err(|e| e.to_string())?;
    cmd.stdin(Stdio::piped()).stdout(Stdio::from(out2.try_clone().map_err(|e| e.to_string())?)).stderr(Stdio::from(out2));
    let mut child = cmd.spawn().map_err(|e| format!("cannot run: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook may exit without reading its stdin: EPIPE is not a failure.
        let _ = stdin.write_all(state);
    }
    let timeout = hook.timeout().map(|t| Duration::from_secs(t.max(0) as u64));
    let status = wait_with_timeout(&mut child, timeout)?;
    if status.success() {
        return Ok(());
    }
    let mut text = String::new();
    let _ = output.rewind();
    let _ = Read::by_ref(&mut output).take(4096).read_to_string(&mut text);
    let text = text.trim();
    let why = match (status.code(), timeout) {
        (None, Some(t)) if status_is_timeout_kill(&status) => format!("timed out after {}s", t.as_secs()),
        (Some(c), _) => format!("exited with status {c}"),
        (None, _) => format!("killed by {status}"),
    };
    Err(if text.is_empty() { why } else { format!("{why}: {text}") })
}

fn status_is_timeout_kill(status: &std::process::ExitStatus) -> bool {
    use std::os::unix::process::ExitStatusExt;
    status.signal() == Some(libc::SIGKILL)
}

fn wait_with_timeout(child: &mut std::process::Child, timeout: Option<Duration>) -> std::result::Result<std::process::ExitStatus, String> {
    if let Some(limit) = timeout {
        let pid = Pid::from_raw(child.id() as i32).expect("child pid is positive");
        let pidfd = pidfd_open(pid, PidfdFlags::empty()).map_err(|e| format!("pidfd_open: {e}"))?;
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                let _ = child.kill();
                break;
            }
            let ts = Timespec { tv_sec: left.as_secs() as i64, tv_nsec: left.subsec_nanos() as i64 };
            let mut fds = [PollFd::new(&pidfd, PollFlags::IN)];
            match poll(&mut fds, Some(&ts)) {
                Ok(n) if n > 0 => break,
                Ok(_) | Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(format!("poll: {e}")),
            }
        }
    }
    child.wait().map_err(|e| format!("wait: {e}"))
}
