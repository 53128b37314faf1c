//! Identifying processes across husk invocations without being fooled by pid
//! reuse: a pid is only "ours" while its start time matches the recorded one.

use std::os::fd::{AsFd, OwnedFd};

use rustix::process::{Pid, PidfdFlags};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessIdentity {
    pub pid: i32,
    /// Field 22 of `/proc/<pid>/stat`, in clock ticks since boot.
    pub start_time: u64,
}

/// What `/proc/<pid>/stat` says about a process.
struct Stat {
    comm: String,
    state: u8,
    /// `PF_*` flags of the task.
    flags: u64,
    start_time: u64,
}

/// The task is exiting: it has been killed and runs no more user code, even
/// while (as the init of a pid namespace) it waits for the namespace's other
/// processes to be reaped by their parents.
const PF_EXITING: u64 = 0x4;

fn stat(pid: i32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parentheses: fields start after the last ')'.
    let comm = text[text.find('(')? + 1..text.rfind(')')?].to_string();
    let rest = &text[text.rfind(')')? + 2..];
    let mut fields = rest.split(' ');
    let state = fields.next()?.bytes().next()?;
    // `rest` starts at field 3 (state); flags are field 9, start time field 22.
    let flags = fields.nth(5)?.parse().ok()?;
    let start_time = fields.nth(12)?.parse().ok()?;
    Some(Stat { comm, state, flags, start_time })
}

impl ProcessIdentity {
    pub fn of(pid: i32) -> Option<Self> {
        stat(pid).map(|s| ProcessIdentity { pid, start_time: s.start_time })
    }

    pub fn current() -> Self {
        Self::of(std::process::id() as i32).unwrap_or(ProcessIdentity { pid: std::process::id() as i32, start_time: 0 })
    }

    /// True while the recorded process exists and has not exited: a zombie
    /// waiting for its parent to reap it, or a process already exiting,
    /// counts as stopped.
    pub fn is_alive(&self) -> bool {
        self.pid > 0
            && matches!(stat(self.pid), Some(s) if s.start_time == self.start_time
                && !matches!(s.state, b'Z' | b'X' | b'x')
                && s.flags & PF_EXITING == 0)
    }

    /// True when the process exited without ever executing another program:
    /// it is a zombie whose command name is still husk's own.
    pub fn exited_before_exec(&self) -> bool {
        let ours = std::fs::read_to_string("/proc/self/comm").unwrap_or_default();
        matches!(stat(self.pid), Some(s) if s.start_time == self.start_time && s.state == b'Z' && s.comm == ours.trim_end())
    }

    /// A pidfd for the process, verified to still be the recorded one after
    /// it was opened, so that signals sent through it cannot hit a reused pid.
    pub fn pidfd(&self) -> Option<OwnedFd> {
        let pid = Pid::from_raw(self.pid)?;
        let fd = rustix::process::pidfd_open(pid, PidfdFlags::empty()).ok()?;
        self.is_alive().then_some(fd)
    }

    /// Sends `signal` race-free; `Ok(false)` when the process is gone.
    pub fn signal(&self, signal: i32) -> std::io::Result<bool> {
        let Some(fd) = self.pidfd() else { return Ok(false) };
        match husk_sys::signal::pidfd_send_signal(fd.as_fd(), signal) {
            Ok(()) => Ok(true),
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_process_is_alive_and_reuse_is_detected() {
        let me = ProcessIdentity::current();
        assert!(me.start_time > 0);
        assert!(me.is_alive());
        let reused = ProcessIdentity { start_time: me.start_time + 1, ..me };
        assert!(!reused.is_alive());
        assert!(!ProcessIdentity::default().is_alive());
    }
}
