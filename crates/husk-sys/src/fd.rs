//! File-descriptor hygiene: closing everything the container must not inherit.

use std::io;

/// Marks every descriptor from `first` upwards close-on-exec, so that nothing
/// but stdio and explicitly preserved descriptors reaches the user program
/// (CVE-2024-21626 class), while descriptors husk itself still needs stay
/// usable until `execve`.
pub fn cloexec_from(first: u32) -> io::Result<()> {
    // SAFETY: close_range only changes descriptor flags; no memory is touched.
    let rc = unsafe {
        libc::syscall(libc::SYS_close_range, first, u32::MAX, libc::CLOSE_RANGE_CLOEXEC)
    };
    if rc == 0 {
        return Ok(());
    }
    // Kernels before 5.11 lack CLOSE_RANGE_CLOEXEC: walk /proc/self/fd instead.
    let mut fds = Vec::new();
    for entry in std::fs::read_dir("/proc/self/fd")? {
        if let Some(fd) = entry?.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) {
            if fd >= first as i32 {
                fds.push(fd);
            }
        }
    }
    for fd in fds {
        // SAFETY: F_SETFD on a possibly stale descriptor is harmless (EBADF).
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    Ok(())
}

/// Closes every descriptor from 3 upwards except those in `keep`: a forked
/// child drops what it inherited by accident (such as the parent's lock on
/// the state directory, which would otherwise stay held by the child).
pub fn close_all_except(keep: &[i32]) -> io::Result<()> {
    let mut keep: Vec<u32> = keep.iter().filter(|&&fd| fd > 2).map(|&fd| fd as u32).collect();
    keep.sort_unstable();
    keep.dedup();
    let mut first = 3u32;
    for fd in keep.into_iter().chain(std::iter::once(u32::MAX)) {
        if fd > first {
            // SAFETY: close_range only closes descriptors of this process;
            // none of them is owned by live Rust objects the caller uses
            // (those are in `keep`).
            let rc = unsafe { libc::syscall(libc::SYS_close_range, first, fd - 1, 0) };
            if rc != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        first = fd.saturating_add(1);
    }
    Ok(())
}
