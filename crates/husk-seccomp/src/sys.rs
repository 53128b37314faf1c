//! `seccomp(2)`, which neither rustix nor libc's safe surface covers.
//!
//! husk loads the BPF program itself instead of through libseccomp so that it
//! controls the filter flags (WAIT_KILLABLE_RECV and its fallback, TSYNC with a
//! listener) independently of the linked libseccomp's version.

use std::os::fd::{FromRawFd, OwnedFd};

use libc::{c_ulong, sock_filter, sock_fprog};
use rustix::io::Errno;

/// Installs `program` on the calling thread (all threads with TSYNC).
/// Returns the notify listener when `flags` has SECCOMP_FILTER_FLAG_NEW_LISTENER.
pub(crate) fn set_mode_filter(
    flags: c_ulong,
    program: &[sock_filter],
) -> Result<Option<OwnedFd>, Errno> {
    let len = u16::try_from(program.len()).map_err(|_| Errno::INVAL)?;
    let prog = sock_fprog {
        len,
        filter: program.as_ptr().cast_mut(),
    };
    // SAFETY: `prog` describes `program`, which outlives the call; the kernel
    // only reads the instructions (it copies them) and does not keep the pointer.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            flags,
            &prog as *const sock_fprog,
        )
    };
    if ret < 0 {
        return Err(last_errno());
    }
    if flags & libc::SECCOMP_FILTER_FLAG_NEW_LISTENER == 0 {
        return Ok(None);
    }
    let fd = i32::try_from(ret).map_err(|_| Errno::BADF)?;
    // SAFETY: with NEW_LISTENER the kernel returns a new (O_CLOEXEC) fd that
    // nothing else in this process knows about, so we are its only owner.
    Ok(Some(unsafe { OwnedFd::from_raw_fd(fd) }))
}

/// Whether the running kernel knows every bit of `flags`, without installing
/// anything: the kernel checks the flags before it reads the (null) program.
pub(crate) fn filter_flags_known(flags: c_ulong) -> bool {
    // SAFETY: a null program pointer makes the kernel fail with EFAULT (after
    // the flag checks, which fail with EINVAL) before any state changes.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            flags,
            std::ptr::null::<sock_fprog>(),
        )
    };
    ret < 0 && last_errno() == Errno::FAULT
}

fn last_errno() -> Errno {
    Errno::from_io_error(&std::io::Error::last_os_error()).unwrap_or(Errno::IO)
}
