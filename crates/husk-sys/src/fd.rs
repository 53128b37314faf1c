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
