//! Process creation with `clone3`: new namespaces and, on cgroup v2, direct
//! placement into the container's cgroup (`CLONE_INTO_CGROUP`), without
//! re-executing the husk binary.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// Outcome of [`fork_with`] as seen by the calling process.
pub enum Forked {
    /// We are the new process.
    Child,
    /// We are the caller; the child has this pid.
    Parent(i32),
}

#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// Forks the calling process like `fork(2)`, with extra `clone` flags
/// (`CLONE_NEW*`, `CLONE_PARENT`) and optionally straight into the cgroup v2
/// directory `cgroup`. The caller must be single-threaded: the child continues
/// on a copy of the caller's stack, exactly as after `fork`.
///
/// When the kernel refuses `CLONE_INTO_CGROUP` (older kernels, or a v1/hybrid
/// hierarchy) the call is retried without it and the caller must place the
/// child itself; `Ok((forked, placed))` tells whether placement happened.
pub fn fork_with(flags: u64, cgroup: Option<BorrowedFd<'_>>) -> io::Result<(Forked, bool)> {
    if let Some(cg) = cgroup {
        match clone3(flags | CLONE_INTO_CGROUP, cg.as_raw_fd() as u64) {
            Ok(f) => return Ok((f, true)),
            Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP | libc::E2BIG | libc::EBADF)) => {}
            Err(e) => return Err(e),
        }
    }
    clone3(flags, 0).map(|f| (f, false))
}

fn clone3(flags: u64, cgroup: u64) -> io::Result<Forked> {
    // clone3 refuses CLONE_PARENT with an exit signal, and without one the
    // child would be a "clone child" that plain waitpid() does not see: use
    // the legacy clone, which takes both.
    let rc = if flags & libc::CLONE_PARENT as u64 != 0 && cgroup == 0 {
        // SAFETY: without CLONE_VM and with a null stack, clone duplicates the
        // address space like fork(2); the child resumes here on its own copy.
        unsafe { libc::syscall(libc::SYS_clone, flags | libc::SIGCHLD as u64, 0usize, 0usize, 0usize, 0usize) }
    } else {
        let mut args = CloneArgs { flags, exit_signal: libc::SIGCHLD as u64, cgroup, ..Default::default() };
        // SAFETY: clone3 without CLONE_VM and without a stack duplicates the
        // address space like fork(2); the child resumes here with its own
        // copy. `args` outlives the call and its size is passed alongside.
        unsafe { libc::syscall(libc::SYS_clone3, &mut args as *mut CloneArgs, std::mem::size_of::<CloneArgs>()) }
    };
    match rc {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(pid as i32)),
    }
}

/// Ends the calling process at once, without running exit handlers or
/// flushing stdio buffers inherited from the parent (which would then be
/// written twice). For forked children of husk.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and touches no Rust-managed state.
    unsafe { libc::_exit(code) }
}

/// Resets the signal mask and every signal disposition to the defaults, so
/// that what husk blocked or ignored for itself is not inherited across
/// `execve` by the container process.
pub fn reset_signals() {
    for sig in 1..=libc::SIGRTMAX() {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: installing SIG_DFL has no memory-safety requirements;
        // failures (reserved signals) are harmless.
        unsafe { libc::signal(sig, libc::SIG_DFL) };
    }
    // SAFETY: an empty, initialised set is passed by pointer; old set unused.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
    }
}
