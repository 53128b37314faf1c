use std::fs::File;
use std::io::{Read, Seek};
use std::os::fd::OwnedFd;

use libc::{c_ulong, sock_filter};
use libseccomp::{ScmpAction, ScmpFilterContext, ScmpSyscall};
use oci_spec::runtime::LinuxSeccomp;
use rustix::fs::{memfd_create, MemfdFlags};
use rustix::io::Errno;

use crate::plan::{Plan, Rule};
use crate::{sys, Error};

/// A compiled seccomp filter, ready to be installed with [`Filter::load`].
pub struct Filter {
    program: Vec<sock_filter>,
    /// `SECCOMP_FILTER_FLAG_*` bits from `linux.seccomp.flags`.
    flags: c_ulong,
    /// Some rule uses SCMP_ACT_NOTIFY, so the kernel must hand out a listener.
    needs_listener: bool,
    unknown_syscalls: Vec<String>,
}

/// Builds the BPF program for `seccomp`. Touches no kernel state: it can run
/// anywhere, though it is meant for the container's init right before loading.
pub fn compile(seccomp: &LinuxSeccomp) -> Result<Filter, Error> {
    let rules = build(seccomp)?;
    Ok(Filter {
        program: export_program(&rules.context)?,
        flags: rules.flags,
        needs_listener: rules.needs_listener,
        unknown_syscalls: rules.unknown_syscalls,
    })
}

/// `linux.seccomp` as libseccomp rules, in memory only.
pub(crate) struct Rules {
    context: ScmpFilterContext,
    flags: c_ulong,
    needs_listener: bool,
    unknown_syscalls: Vec<String>,
}

/// Checks `seccomp` and hands it to libseccomp, which catches what only it
/// knows (conflicting rules, architectures that cannot share a filter).
pub(crate) fn build(seccomp: &LinuxSeccomp) -> Result<Rules, Error> {
    let plan = Plan::new(seccomp)?;
    let mut context = ScmpFilterContext::new(plan.default_action).map_err(Error::libseccomp(
        "linux.seccomp.defaultAction",
        "seccomp_init",
    ))?;

    for (i, &arch) in plan.architectures.iter().enumerate() {
        let field = format!("linux.seccomp.architectures[{i}]");
        // The native architecture is already in a new context; adding it again fails.
        let present = context
            .is_arch_present(arch)
            .map_err(Error::libseccomp(field.clone(), "seccomp_arch_exist"))?;
        if !present {
            context
                .add_arch(arch)
                .map_err(Error::libseccomp(field, "seccomp_arch_add"))?;
        }
    }

    let mut needs_listener = false;
    let mut unknown_syscalls = Vec::new();
    for rule in &plan.rules {
        // libseccomp refuses rules whose action is the default one; they would
        // not change the outcome anyway.
        if rule.action == plan.default_action {
            continue;
        }
        for (i, name) in rule.names.iter().enumerate() {
            // Like runc: a profile may name syscalls this libseccomp or
            // architecture does not have; the caller may log them.
            let Ok(syscall) = ScmpSyscall::from_name(name) else {
                unknown_syscalls.push(name.clone());
                continue;
            };
            add_rule(&mut context, rule, syscall).map_err(Error::libseccomp(
                format!("linux.seccomp.syscalls[{}].names[{i}]", rule.index),
                "seccomp_rule_add",
            ))?;
            needs_listener |= rule.action == ScmpAction::Notify;
        }
    }

    Ok(Rules {
        context,
        flags: plan.flags,
        needs_listener,
        unknown_syscalls,
    })
}

fn add_rule(
    context: &mut ScmpFilterContext,
    rule: &Rule<'_>,
    syscall: ScmpSyscall,
) -> Result<(), libseccomp::error::SeccompError> {
    if rule.conditions.is_empty() {
        context.add_rule(rule.action, syscall)?;
    } else if rule.one_rule_per_condition {
        for condition in &rule.conditions {
            context.add_rule_conditional(rule.action, syscall, std::slice::from_ref(condition))?;
        }
    } else {
        context.add_rule_conditional(rule.action, syscall, &rule.conditions)?;
    }
    Ok(())
}

/// libseccomp (before 2.6) can only export into a file descriptor; a memfd
/// avoids both the filesystem and the pipe-capacity deadlock.
fn export_program(context: &ScmpFilterContext) -> Result<Vec<sock_filter>, Error> {
    let memfd =
        memfd_create("husk-seccomp-bpf", MemfdFlags::CLOEXEC).map_err(|errno| Error::Export {
            step: "memfd_create",
            errno,
        })?;
    context
        .export_bpf(&memfd)
        .map_err(Error::libseccomp("linux.seccomp", "seccomp_export_bpf"))?;
    let mut file = File::from(memfd);
    let mut bytes = Vec::new();
    file.rewind()
        .and_then(|_| file.read_to_end(&mut bytes))
        .map_err(|e| Error::Export {
            step: "read",
            errno: Errno::from_io_error(&e).unwrap_or(Errno::IO),
        })?;

    const INSTRUCTION: usize = std::mem::size_of::<sock_filter>();
    if bytes.len() % INSTRUCTION != 0 {
        return Err(Error::Export {
            step: "decoding instructions",
            errno: Errno::INVAL,
        });
    }
    Ok(bytes
        .chunks_exact(INSTRUCTION)
        .map(|insn| sock_filter {
            code: u16::from_ne_bytes([insn[0], insn[1]]),
            jt: insn[2],
            jf: insn[3],
            k: u32::from_ne_bytes([insn[4], insn[5], insn[6], insn[7]]),
        })
        .collect())
}

impl Filter {
    /// Syscall names of the config that libseccomp does not know; their rules
    /// were skipped (runc does the same and logs them at debug level).
    pub fn unknown_syscalls(&self) -> &[String] {
        &self.unknown_syscalls
    }

    /// Installs the filter on the calling process (every thread with
    /// SECCOMP_FILTER_FLAG_TSYNC). Needs no_new_privs or CAP_SYS_ADMIN.
    /// Returns the notify listener when a rule uses SCMP_ACT_NOTIFY.
    pub fn load(self) -> Result<Option<OwnedFd>, Error> {
        let mut flags = self.flags;
        if self.needs_listener {
            flags |= libc::SECCOMP_FILTER_FLAG_NEW_LISTENER;
        } else {
            // It only changes how notified syscalls wait, and the kernel
            // rejects it without a listener.
            flags &= !libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
        }
        if flags & libc::SECCOMP_FILTER_FLAG_TSYNC != 0 {
            // Report a thread that cannot be synchronised as ESRCH instead of
            // its TID, which would be ambiguous with the listener fd.
            flags |= libc::SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
        }

        let killable = libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
        let result = match sys::set_mode_filter(flags, &self.program) {
            // Kernels before 5.19 lack it; notified syscalls then wait
            // interruptibly, as they always did.
            Err(Errno::INVAL) if flags & killable != 0 => {
                flags &= !killable;
                sys::set_mode_filter(flags, &self.program)
            }
            result => result,
        };
        result.map_err(|errno| Error::Load {
            flags,
            errno,
            hint: load_error_hint(errno, flags),
        })
    }
}

fn load_error_hint(errno: Errno, flags: c_ulong) -> &'static str {
    match errno {
        Errno::ACCESS => " (needs no_new_privs or CAP_SYS_ADMIN)",
        Errno::SRCH if flags & libc::SECCOMP_FILTER_FLAG_TSYNC != 0 => {
            " (SECCOMP_FILTER_FLAG_TSYNC: another thread has a diverging filter)"
        }
        Errno::INVAL => " (a flag or the program is not supported by this kernel)",
        Errno::NOMEM => " (the program is too long or too many filters are stacked)",
        _ => "",
    }
}
