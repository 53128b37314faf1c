//! Waiting in the foreground for a container process (`run`, `exec` without
//! `--detach`): signals husk receives are forwarded to it, orphans are
//! reaped, and husk's exit status is the process's (128+n when killed by
//! signal n).

use std::os::fd::{AsFd, OwnedFd};

use rustix::event::{poll, PollFd, PollFlags};
use rustix::process::{Pid, PidfdFlags, WaitOptions, WaitStatus};

use crate::error::{Error, Result};

/// Forwards signals to `pid` until it exits; returns its exit status. With a
/// pty master, also relays husk's stdin/stdout to it. `signals` must have
/// been created before the process was released, so that no signal meant for
/// it is lost.
pub fn wait_foreground(pid: i32, signals: &husk_sys::signal::SignalFd, console: Option<OwnedFd>) -> Result<i32> {
    // Processes orphaned inside the container (without a pid namespace of its
    // own) are reparented to us and reaped, leaving no zombie.
    let _ = rustix::process::set_child_subreaper(Some(rustix::process::getpid()));
    let target = Pid::from_raw(pid).ok_or_else(|| Error::Init(format!("invalid pid {pid}")))?;
    let pidfd = rustix::process::pidfd_open(target, PidfdFlags::empty()).map_err(|e| Error::sys("pidfd_open", e))?;
    let mut reaper = Reaper { target, status: None };
    match console {
        Some(master) => {
            let mut proxy = husk_process::terminal::Proxy::stdio(master)?;
            proxy.run_with_events(pidfd.as_fd(), signals.as_fd(), |proxy| {
                while let Some(sig) = signals.read()? {
                    if sig == libc::SIGWINCH {
                        proxy.sync_size().map_err(std::io::Error::other)?;
                    } else {
                        reaper.dispatch(sig, &pidfd);
                    }
                }
                Ok(())
            })?;
        }
        None => loop {
            let mut fds = [PollFd::new(&pidfd, PollFlags::IN), PollFd::new(signals, PollFlags::IN)];
            match poll(&mut fds, None) {
                Ok(_) => {}
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(Error::sys("poll", e)),
            }
            if fds[1].revents().contains(PollFlags::IN) {
                while let Some(sig) = signals.read().map_err(|e| Error::sys("reading signals", e))? {
                    reaper.dispatch(sig, &pidfd);
                }
            }
            if fds[0].revents().contains(PollFlags::IN) {
                break;
            }
        },
    }
    reaper.finish()
}

/// Reaps children as they exit, keeping the target's status.
struct Reaper {
    target: Pid,
    status: Option<WaitStatus>,
}

impl Reaper {
    fn dispatch(&mut self, sig: i32, pidfd: &OwnedFd) {
        if sig == libc::SIGCHLD {
            self.reap(WaitOptions::NOHANG);
        } else {
            // The process may be gone already: nothing to forward to then.
            let _ = husk_sys::signal::pidfd_send_signal(pidfd.as_fd(), sig);
        }
    }

    fn reap(&mut self, options: WaitOptions) {
        loop {
            match rustix::process::waitpid(None, options) {
                Ok(Some((pid, status))) => {
                    if pid == self.target {
                        self.status = Some(status);
                        if !options.contains(WaitOptions::NOHANG) {
                            return;
                        }
                    }
                }
                Err(rustix::io::Errno::INTR) => {}
                // No (more) children, or none exited yet.
                Ok(None) | Err(_) => return,
            }
        }
    }

    fn finish(mut self) -> Result<i32> {
        while self.status.is_none() {
            match rustix::process::waitpid(Some(self.target), WaitOptions::empty()) {
                Ok(Some((_, status))) => self.status = Some(status),
                Err(rustix::io::Errno::INTR) | Ok(None) => {}
                Err(e) => return Err(Error::sys("waitpid", e)),
            }
        }
        self.reap(WaitOptions::NOHANG);
        let status = self.status.expect("loop ends with a status");
        Ok(status.exit_status().or_else(|| status.terminating_signal().map(|s| 128 + s)).unwrap_or(1))
    }
}
