//! Per-process execution attributes that `rustix` does not wrap: the extended
//! scheduler interface (`sched_setattr`/`sched_getattr`), I/O priority
//! (`ioprio_set`/`ioprio_get`), the execution domain (`personality`) and the
//! NUMA memory policy (`set_mempolicy`/`get_mempolicy`). All of them act on
//! the calling thread or process only.

use std::io;

/// Scheduling policies (`SCHED_*` in `<linux/sched.h>`).
pub const SCHED_OTHER: u32 = 0;
pub const SCHED_FIFO: u32 = 1;
pub const SCHED_RR: u32 = 2;
pub const SCHED_BATCH: u32 = 3;
/// Reserved by the kernel ABI but never implemented in mainline Linux.
pub const SCHED_ISO: u32 = 4;
pub const SCHED_IDLE: u32 = 5;
pub const SCHED_DEADLINE: u32 = 6;

/// `sched_attr.sched_flags` bits.
pub const SCHED_FLAG_RESET_ON_FORK: u64 = 0x01;
pub const SCHED_FLAG_RECLAIM: u64 = 0x02;
pub const SCHED_FLAG_DL_OVERRUN: u64 = 0x04;
pub const SCHED_FLAG_KEEP_POLICY: u64 = 0x08;
pub const SCHED_FLAG_KEEP_PARAMS: u64 = 0x10;
pub const SCHED_FLAG_UTIL_CLAMP_MIN: u64 = 0x20;
pub const SCHED_FLAG_UTIL_CLAMP_MAX: u64 = 0x40;

/// `struct sched_attr` in its second revision (`SCHED_ATTR_SIZE_VER1`, with
/// the utilisation clamps), which every kernel since 5.3 accepts.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SchedAttr {
    pub size: u32,
    pub policy: u32,
    pub flags: u64,
    pub nice: i32,
    pub priority: u32,
    pub runtime: u64,
    pub deadline: u64,
    pub period: u64,
    pub util_min: u32,
    pub util_max: u32,
}

const SCHED_ATTR_SIZE: u32 = std::mem::size_of::<SchedAttr>() as u32;

/// Sets the scheduling attributes of the calling thread; `attr.size` is
/// filled in here.
pub fn sched_setattr(attr: &SchedAttr) -> io::Result<()> {
    let attr = SchedAttr { size: SCHED_ATTR_SIZE, ..*attr };
    // SAFETY: `attr` is a properly laid out `struct sched_attr` whose `size`
    // field matches its length; the kernel only reads it. pid 0 = caller.
    let rc = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Reads the scheduling attributes of the calling thread.
pub fn sched_getattr() -> io::Result<SchedAttr> {
    let mut attr = SchedAttr::default();
    // SAFETY: the kernel writes at most `SCHED_ATTR_SIZE` bytes into `attr`,
    // which is exactly its size. pid 0 = caller.
    let rc = unsafe {
        libc::syscall(libc::SYS_sched_getattr, 0, &mut attr as *mut SchedAttr, SCHED_ATTR_SIZE, 0)
    };
    if rc == 0 {
        Ok(attr)
    } else {
        Err(io::Error::last_os_error())
    }
}

/// I/O scheduling classes (`IOPRIO_CLASS_*` in `<linux/ioprio.h>`).
pub const IOPRIO_CLASS_RT: u32 = 1;
pub const IOPRIO_CLASS_BE: u32 = 2;
pub const IOPRIO_CLASS_IDLE: u32 = 3;

const IOPRIO_CLASS_SHIFT: u32 = 13;
const IOPRIO_WHO_PROCESS: libc::c_int = 1;

/// Packs a class and a level (0..=7) into an `ioprio` value.
pub const fn ioprio_value(class: u32, level: u32) -> u32 {
    (class << IOPRIO_CLASS_SHIFT) | level
}

/// Splits an `ioprio` value into (class, level).
pub const fn ioprio_parts(ioprio: u32) -> (u32, u32) {
    (ioprio >> IOPRIO_CLASS_SHIFT, ioprio & ((1 << IOPRIO_CLASS_SHIFT) - 1))
}

/// Sets the I/O priority of the calling process; children inherit it.
pub fn ioprio_set_self(ioprio: u32) -> io::Result<()> {
    // SAFETY: plain integer arguments; who=0 designates the caller.
    let rc = unsafe { libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, ioprio) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Reads the I/O priority of the calling process.
pub fn ioprio_get_self() -> io::Result<u32> {
    // SAFETY: plain integer arguments; who=0 designates the caller.
    let rc = unsafe { libc::syscall(libc::SYS_ioprio_get, IOPRIO_WHO_PROCESS, 0) };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc as u32)
    }
}

/// Execution domains (`PER_*` in `<linux/personality.h>`).
pub const PER_LINUX: u32 = 0x0000;
pub const PER_LINUX32: u32 = 0x0008;

/// The `personality` argument that queries without changing anything.
const PERSONALITY_QUERY: u32 = 0xffff_ffff;

/// Sets the execution domain and personality flags of the calling process.
pub fn set_personality(persona: u32) -> io::Result<()> {
    if persona == PERSONALITY_QUERY {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: plain integer argument, no memory involved.
    let rc = unsafe { libc::personality(persona as libc::c_ulong) };
    if rc == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Reads the personality of the calling process.
pub fn personality() -> io::Result<u32> {
    // SAFETY: plain integer argument; 0xffffffff only queries.
    let rc = unsafe { libc::personality(PERSONALITY_QUERY as libc::c_ulong) };
    if rc == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc as u32)
    }
}

/// NUMA memory policy modes (`MPOL_*` in `<linux/mempolicy.h>`).
pub const MPOL_DEFAULT: u32 = 0;
pub const MPOL_PREFERRED: u32 = 1;
pub const MPOL_BIND: u32 = 2;
pub const MPOL_INTERLEAVE: u32 = 3;
pub const MPOL_LOCAL: u32 = 4;
pub const MPOL_PREFERRED_MANY: u32 = 5;
pub const MPOL_WEIGHTED_INTERLEAVE: u32 = 6;

/// Mode flags, OR-ed into the mode argument.
pub const MPOL_F_NUMA_BALANCING: u32 = 1 << 13;
pub const MPOL_F_RELATIVE_NODES: u32 = 1 << 14;
pub const MPOL_F_STATIC_NODES: u32 = 1 << 15;

/// Node ids representable in the masks passed to the kernel.
pub const MEMPOLICY_MAX_NODES: usize = 1024;

/// A node mask of [`MEMPOLICY_MAX_NODES`] bits.
pub type NodeMask = [u64; MEMPOLICY_MAX_NODES / 64];

/// The kernel reads one bit less than `maxnode` says (a historical quirk).
const MAXNODE_ARG: libc::c_ulong = MEMPOLICY_MAX_NODES as libc::c_ulong + 1;

/// Sets the NUMA memory policy of the calling thread; `mode` may carry
/// `MPOL_F_*` flags. Children inherit it.
pub fn set_mempolicy(mode: u32, nodes: &NodeMask) -> io::Result<()> {
    // SAFETY: the kernel reads at most MEMPOLICY_MAX_NODES bits from
    // `nodes`, which is exactly that long.
    let rc = unsafe { libc::syscall(libc::SYS_set_mempolicy, mode as libc::c_int, nodes.as_ptr(), MAXNODE_ARG) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Reads the NUMA memory policy of the calling thread: (mode with flags, nodes).
pub fn get_mempolicy() -> io::Result<(u32, NodeMask)> {
    let mut mode: libc::c_int = 0;
    let mut nodes: NodeMask = [0; MEMPOLICY_MAX_NODES / 64];
    // SAFETY: the kernel writes one int to `mode` and at most
    // MEMPOLICY_MAX_NODES bits to `nodes`; no address is queried (flags 0).
    let rc = unsafe {
        libc::syscall(
            libc::SYS_get_mempolicy,
            &mut mode as *mut libc::c_int,
            nodes.as_mut_ptr(),
            MAXNODE_ARG,
            std::ptr::null::<libc::c_void>(),
            0,
        )
    };
    if rc == 0 {
        Ok((mode as u32, nodes))
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sched_attr_has_the_ver1_layout() {
        assert_eq!(SCHED_ATTR_SIZE, 56);
    }

    #[test]
    fn ioprio_packing_round_trips() {
        let v = ioprio_value(IOPRIO_CLASS_IDLE, 7);
        assert_eq!(v, (3 << 13) | 7);
        assert_eq!(ioprio_parts(v), (IOPRIO_CLASS_IDLE, 7));
    }

    #[test]
    fn reads_the_callers_attributes() {
        // Reading is unprivileged and side-effect free; libtest threads run
        // with the default policy unless the whole harness was started
        // otherwise, so only check that the kernel filled in the size.
        let attr = sched_getattr().expect("sched_getattr");
        assert_eq!(attr.size, SCHED_ATTR_SIZE);
        let (class, _) = ioprio_parts(ioprio_get_self().expect("ioprio_get"));
        assert!(class <= IOPRIO_CLASS_IDLE);
        assert_eq!(personality().expect("personality") & 0xff, PER_LINUX);
    }
}
