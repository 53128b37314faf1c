//! Helpers for tests that change process-wide state: each such test runs its
//! body in a forked, single-threaded child so that credentials, limits and
//! scheduling of the test harness itself stay untouched.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::panic::{catch_unwind, AssertUnwindSafe};

use oci_spec::runtime::Process;
use rustix::pipe::{pipe_with, PipeFlags};
use rustix::process::{waitpid, Pid, WaitOptions};

/// Parses a test `process` object; `user` (required by the schema) defaults
/// to root so that tests only spell out what they exercise.
pub(crate) fn process_from_json(json: &str) -> Process {
    let mut value: serde_json::Value = serde_json::from_str(json).expect("test process JSON");
    let object = value.as_object_mut().expect("test process is an object");
    object.entry("user").or_insert_with(|| serde_json::json!({"uid": 0, "gid": 0}));
    serde_json::from_value(value).expect("test process fields")
}

/// Kernel-facing tests need root; without it they report the skip and pass.
pub(crate) fn require_root() -> bool {
    let root = rustix::process::geteuid().is_root();
    if !root {
        eprintln!("skipped: needs root");
    }
    root
}

/// A fresh scratch directory under the temp dir, removed on drop, also
/// when the test fails.
pub(crate) struct ScratchDir(PathBuf);

impl ScratchDir {
    pub(crate) fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("husk-process-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create scratch dir");
        ScratchDir(dir)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }

    /// `rel` below the scratch dir, as a string for JSON and PATH lists.
    pub(crate) fn join_str(&self, rel: &str) -> String {
        self.0.join(rel).to_str().expect("UTF-8 temp dir").to_string()
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A forked test child; killed and reaped on drop unless waited for, so a
/// failing test leaves no process behind.
pub(crate) struct ForkedChild {
    pid: Pid,
    verdict: Option<std::fs::File>,
}

impl ForkedChild {
    pub(crate) fn pid(&self) -> Pid {
        self.pid
    }

    /// Waits for the child and returns its verdict.
    pub(crate) fn wait(mut self) -> Result<(), String> {
        let mut msg = String::new();
        if let Some(mut reader) = self.verdict.take() {
            reader.read_to_string(&mut msg).expect("read verdict");
        }
        let (_, status) = waitpid(Some(self.pid), WaitOptions::empty()).expect("waitpid").expect("child status");
        match status.exit_status() {
            Some(0) => Ok(()),
            _ if !msg.is_empty() => Err(msg),
            _ => Err(format!("child ended with {status:?}")),
        }
    }
}

impl Drop for ForkedChild {
    fn drop(&mut self) {
        if self.verdict.is_some() {
            let _ = rustix::process::kill_process(self.pid, rustix::process::Signal::KILL);
            let _ = waitpid(Some(self.pid), WaitOptions::empty());
        }
    }
}

/// Runs `body` in a forked child. The child reports an error message
/// through a pipe and never returns into the harness.
pub(crate) fn spawn_forked(body: impl FnOnce() -> Result<(), String>) -> ForkedChild {
    let (verdict_reader, verdict_writer) = pipe_with(PipeFlags::CLOEXEC)
        .map(|(r, w)| (std::fs::File::from(r), std::fs::File::from(w)))
        .expect("pipe");
    // SAFETY: glibc's fork() makes the allocator usable in the child; the
    // child only runs `body`, writes to the pipe and leaves with _exit(), so
    // no state shared with other harness threads is touched afterwards.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        drop(verdict_reader);
        let verdict = catch_unwind(AssertUnwindSafe(body))
            .unwrap_or_else(|_| Err("child panicked (see stderr)".to_string()));
        let code = match verdict {
            Ok(()) => 0,
            Err(msg) => {
                use std::io::Write;
                let _ = (&verdict_writer).write_all(msg.as_bytes());
                1
            }
        };
        // SAFETY: ends the forked child without running the harness's
        // atexit handlers or destructors.
        unsafe { libc::_exit(code) };
    }
    assert!(pid > 0, "fork: {}", std::io::Error::last_os_error());
    drop(verdict_writer);
    ForkedChild { pid: Pid::from_raw(pid).expect("positive pid"), verdict: Some(verdict_reader) }
}

/// Runs `body` in a forked child and returns its verdict.
pub(crate) fn in_forked_child(body: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
    spawn_forked(body).wait()
}
