//! Session keyrings: each container gets its own, so that containers do not
//! share the caller's kernel keys.

use std::ffi::CString;
use std::io;

const KEYCTL_JOIN_SESSION_KEYRING: libc::c_int = 1;

/// Joins a new session keyring called `name`.
pub fn join_session_keyring(name: &str) -> io::Result<()> {
    let name = CString::new(name).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: `name` is a valid NUL-terminated string that outlives the call.
    let rc = unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr()) };
    if rc < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
}
