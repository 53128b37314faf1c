//! Signals by pidfd, including the real-time range that `rustix::Signal`
//! does not name.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// Sends signal number `sig` (1..=SIGRTMAX) to the process behind `pidfd`.
pub fn pidfd_send_signal(pidfd: BorrowedFd<'_>, sig: i32) -> io::Result<()> {
    // SAFETY: the kernel reads only its scalar arguments; a null siginfo
    // means "as kill(2) would send it".
    let rc = unsafe { libc::syscall(libc::SYS_pidfd_send_signal, pidfd.as_raw_fd(), sig, std::ptr::null::<libc::siginfo_t>(), 0) };
    if rc == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
}

/// A signalfd receiving every catchable signal, which are blocked for normal
/// delivery: the foreground loop of `run` and `exec` forwards them.
pub struct SignalFd(std::os::fd::OwnedFd);

impl SignalFd {
    pub fn all_catchable() -> io::Result<SignalFd> {
        // SAFETY: the set is initialised by sigfillset before use; signalfd
        // and sigprocmask only read it.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut set);
            if libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
                return Err(io::Error::last_os_error());
            }
            let fd = libc::signalfd(-1, &set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK);
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(SignalFd(std::os::fd::FromRawFd::from_raw_fd(fd)))
        }
    }

    /// The next pending signal number, or `None` if none is pending.
    pub fn read(&self) -> io::Result<Option<i32>> {
        let mut info = std::mem::MaybeUninit::<libc::signalfd_siginfo>::zeroed();
        let size = std::mem::size_of::<libc::signalfd_siginfo>();
        // SAFETY: the buffer is exactly one signalfd_siginfo large.
        let n = unsafe { libc::read(self.0.as_raw_fd(), info.as_mut_ptr().cast(), size) };
        if n == size as isize {
            // SAFETY: the kernel filled the whole structure.
            Ok(Some(unsafe { info.assume_init() }.ssi_signo as i32))
        } else {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::WouldBlock { Ok(None) } else { Err(e) }
        }
    }
}

impl std::os::fd::AsFd for SignalFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

/// kill(2) with any signal number, real-time ones included.
pub fn kill(pid: i32, sig: i32) -> io::Result<()> {
    // SAFETY: kill only reads its two integer arguments.
    if unsafe { libc::kill(pid, sig) } == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
}

/// Restores the default action of SIGPIPE (Rust ignores it), so that a
/// command printing into a closed pipe (`husk list | head`) ends quietly
/// instead of failing on EPIPE.
pub fn default_sigpipe() {
    // SAFETY: installing SIG_DFL has no memory-safety requirements.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
}
