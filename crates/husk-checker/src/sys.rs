//! The few libc calls std does not expose, each wrapped once with its safety argument.

use std::io;

/// (soft, hard) limit of `resource`; `None` stands for RLIM_INFINITY.
pub fn getrlimit(resource: libc::__rlimit_resource_t) -> io::Result<(Option<u64>, Option<u64>)> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid, writable struct rlimit owned by this frame.
    let rc = unsafe { libc::getrlimit(resource, &mut limit) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    let finite = |value: libc::rlim_t| (value != libc::RLIM_INFINITY).then_some(value);
    Ok((finite(limit.rlim_cur), finite(limit.rlim_max)))
}

/// CPUs the calling thread may run on.
pub fn cpu_affinity() -> io::Result<Vec<usize>> {
    // SAFETY: cpu_set_t is a plain bit array for which all-zero is a valid (empty) value.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a writable cpu_set_t and the size passed is its exact size.
    let rc =
        unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((0..libc::CPU_SETSIZE as usize)
        // SAFETY: `cpu` is below CPU_SETSIZE and `set` is initialised above.
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect())
}

/// PR_GET_DUMPABLE of the calling process.
pub fn dumpable() -> io::Result<i32> {
    // SAFETY: PR_GET_DUMPABLE takes no pointer arguments and returns the flag.
    let rc = unsafe { libc::prctl(libc::PR_GET_DUMPABLE, 0, 0, 0, 0) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(rc)
}

/// (nodename, domainname) from uname(2), which needs no /proc inside the container.
pub fn uts_names() -> io::Result<(String, String)> {
    // SAFETY: utsname is a struct of char arrays for which all-zero is valid.
    let mut names: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `names` is a writable struct utsname owned by this frame.
    if unsafe { libc::uname(&mut names) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((c_chars(&names.nodename), c_chars(&names.domainname)))
}

fn c_chars(field: &[libc::c_char]) -> String {
    let bytes: Vec<u8> = field
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}
