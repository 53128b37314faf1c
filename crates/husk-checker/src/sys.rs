//! The few libc calls std does not expose, each wrapped once with its safety argument.

use std::io;

/// Kernel `struct sched_attr` (include/uapi/linux/sched/types.h), which libc does not define.
#[repr(C)]
#[derive(Default)]
struct SchedAttr {
    size: u32,
    sched_policy: u32,
    sched_flags: u64,
    sched_nice: i32,
    sched_priority: u32,
    sched_runtime: u64,
    sched_deadline: u64,
    sched_period: u64,
    sched_util_min: u32,
    sched_util_max: u32,
}

pub struct Scheduling {
    pub policy: u32,
    pub flags: u64,
    pub nice: i32,
    pub priority: u32,
    pub runtime: u64,
    pub deadline: u64,
    pub period: u64,
}

/// sched_getattr(2) for the calling thread.
pub fn sched_getattr() -> io::Result<Scheduling> {
    let mut attr = SchedAttr::default();
    let size = std::mem::size_of::<SchedAttr>() as libc::c_uint;
    // SAFETY: `attr` is a live, writable buffer of exactly `size` bytes laid out like the
    // kernel's struct sched_attr; pid 0 means the caller, flags must be 0.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_sched_getattr,
            0,
            &mut attr as *mut SchedAttr,
            size,
            0,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(Scheduling {
        policy: attr.sched_policy,
        flags: attr.sched_flags,
        nice: attr.sched_nice,
        priority: attr.sched_priority,
        runtime: attr.sched_runtime,
        deadline: attr.sched_deadline,
        period: attr.sched_period,
    })
}

/// ioprio_get(IOPRIO_WHO_PROCESS, self): the raw `class << 13 | level` value.
pub fn ioprio_get() -> io::Result<u32> {
    const IOPRIO_WHO_PROCESS: libc::c_long = 1;
    // SAFETY: ioprio_get takes two integers and touches no user memory.
    let rc = unsafe { libc::syscall(libc::SYS_ioprio_get, IOPRIO_WHO_PROCESS, 0) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(rc as u32)
}

/// Current personality, queried with the documented 0xffffffff "no change" argument.
pub fn personality() -> io::Result<u32> {
    // SAFETY: personality(0xffffffff) only reads the current persona, no memory involved.
    let rc = unsafe { libc::personality(0xffff_ffff) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(rc as u32)
}

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
