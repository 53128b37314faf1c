//! The bpf(2) operations needed for the cgroup v2 device controller: load a
//! `BPF_PROG_TYPE_CGROUP_DEVICE` program, attach/detach it to a cgroup
//! directory, and find the programs already attached there.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_DETACH: libc::c_long = 9;
const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
const BPF_PROG_QUERY: libc::c_long = 16;

const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
/// Lets programs of parent and child cgroups (and several per cgroup) coexist;
/// all of them must allow an access.
pub const BPF_F_ALLOW_MULTI: u32 = 2;

/// One eBPF instruction, in the kernel's `struct bpf_insn` layout.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    pub code: u8,
    /// dst register in the low nibble, src register in the high nibble.
    pub regs: u8,
    pub off: i16,
    pub imm: i32,
}

impl Insn {
    pub const fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
        Insn {
            code,
            regs: (src << 4) | (dst & 0x0f),
            off,
            imm,
        }
    }
}

#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
}

#[repr(C)]
#[derive(Default)]
struct AttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

#[repr(C)]
#[derive(Default)]
struct QueryAttr {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
}

#[repr(C)]
#[derive(Default)]
struct GetFdByIdAttr {
    prog_id: u32,
    next_id: u32,
    open_flags: u32,
}

fn bpf<T>(cmd: libc::c_long, attr: &mut T) -> io::Result<libc::c_long> {
    // SAFETY: `attr` is a live, exclusively borrowed #[repr(C)] struct laid out
    // as the kernel's `union bpf_attr` member for `cmd`, and its exact size is
    // passed; pointers inside it are set by the callers to buffers that outlive
    // the call.
    let rc = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr as *mut T, std::mem::size_of::<T>()) };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

fn owned_fd(rc: libc::c_long) -> OwnedFd {
    // SAFETY: bpf(2) returned a new descriptor (always O_CLOEXEC) that nobody else owns.
    unsafe { OwnedFd::from_raw_fd(rc as i32) }
}

/// Loads a cgroup device program. On a verifier rejection the error message
/// carries the verifier log, which is what explains the failure.
pub fn load_cgroup_device_program(insns: &[Insn], license: &std::ffi::CStr) -> io::Result<OwnedFd> {
    let mut attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: insns.len() as u32,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        ..Default::default()
    };
    // Without a log first: a log buffer that turns out too small would make
    // the kernel refuse a valid program (ENOSPC).
    let error = match bpf(BPF_PROG_LOAD, &mut attr) {
        Ok(fd) => return Ok(owned_fd(fd)),
        Err(e) => e,
    };
    let mut log = vec![0u8; 256 * 1024];
    attr.log_level = 1;
    attr.log_size = log.len() as u32;
    attr.log_buf = log.as_mut_ptr() as u64;
    // Same program, same verdict; this run only collects the explanation.
    if let Ok(fd) = bpf(BPF_PROG_LOAD, &mut attr) {
        return Ok(owned_fd(fd));
    }
    let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
    let verifier = String::from_utf8_lossy(&log[..end]);
    if verifier.trim().is_empty() {
        return Err(error);
    }
    Err(io::Error::new(
        error.kind(),
        format!("{error}; verifier log: {}", verifier.trim()),
    ))
}

/// Attaches a loaded device program to the cgroup directory `cgroup`.
pub fn attach_cgroup_device(
    cgroup: BorrowedFd<'_>,
    prog: BorrowedFd<'_>,
    flags: u32,
) -> io::Result<()> {
    let mut attr = AttachAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: flags,
        ..Default::default()
    };
    bpf(BPF_PROG_ATTACH, &mut attr).map(drop)
}

/// Detaches the device program `prog` from the cgroup directory `cgroup`.
pub fn detach_cgroup_device(cgroup: BorrowedFd<'_>, prog: BorrowedFd<'_>) -> io::Result<()> {
    let mut attr = AttachAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        ..Default::default()
    };
    bpf(BPF_PROG_DETACH, &mut attr).map(drop)
}

/// Ids of the device programs attached directly to the cgroup directory `cgroup`.
pub fn query_cgroup_device(cgroup: BorrowedFd<'_>) -> io::Result<Vec<u32>> {
    // A first call with no buffer only reports the count.
    let mut attr = QueryAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        ..Default::default()
    };
    bpf(BPF_PROG_QUERY, &mut attr)?;
    let mut ids = vec![0u32; attr.prog_cnt as usize];
    if ids.is_empty() {
        return Ok(ids);
    }
    attr.prog_ids = ids.as_mut_ptr() as u64;
    bpf(BPF_PROG_QUERY, &mut attr)?;
    ids.truncate(attr.prog_cnt as usize);
    Ok(ids)
}

/// Opens a loaded program by id (to detach it).
pub fn program_by_id(id: u32) -> io::Result<OwnedFd> {
    let mut attr = GetFdByIdAttr {
        prog_id: id,
        ..Default::default()
    };
    bpf(BPF_PROG_GET_FD_BY_ID, &mut attr).map(owned_fd)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOV64_R0_IMM: u8 = 0xb7;
    const EXIT: u8 = 0x95;

    #[test]
    fn loads_a_valid_program_and_explains_a_rejected_one() {
        let allow_all = [
            Insn::new(MOV64_R0_IMM, 0, 0, 0, 1),
            Insn::new(EXIT, 0, 0, 0, 0),
        ];
        load_cgroup_device_program(&allow_all, c"Apache-2.0").expect("load (needs root)");

        // Exits without setting r0: the verifier refuses it and says why.
        let broken = [Insn::new(EXIT, 0, 0, 0, 0)];
        let err = load_cgroup_device_program(&broken, c"Apache-2.0").unwrap_err();
        assert!(err.to_string().contains("verifier log: "), "{err}");
        assert!(err.to_string().contains("R0"), "{err}");
    }
}
