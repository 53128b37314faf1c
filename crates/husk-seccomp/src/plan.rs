//! Translation of `linux.seccomp` into libseccomp and kernel terms.
//!
//! Every field is checked here, once: `validate()` builds a plan and drops it,
//! `compile()` builds the same plan and turns it into BPF. The tables at the top
//! list what husk recognizes; `features()` advertises exactly those entries that
//! the conversions below accept.

use libc::c_ulong;
use libseccomp::{ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpSyscall};
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompFilterFlag,
    LinuxSeccompOperator, LinuxSyscall,
};

use crate::{sys, Error};

/// Every action of the spec (`SCMP_ACT_KILL` is the historic name of `SCMP_ACT_KILL_THREAD`).
pub(crate) const ACTIONS: [LinuxSeccompAction; 9] = [
    LinuxSeccompAction::ScmpActKill,
    LinuxSeccompAction::ScmpActKillThread,
    LinuxSeccompAction::ScmpActKillProcess,
    LinuxSeccompAction::ScmpActTrap,
    LinuxSeccompAction::ScmpActErrno,
    LinuxSeccompAction::ScmpActTrace,
    LinuxSeccompAction::ScmpActAllow,
    LinuxSeccompAction::ScmpActLog,
    LinuxSeccompAction::ScmpActNotify,
];

pub(crate) const OPERATORS: [LinuxSeccompOperator; 7] = [
    LinuxSeccompOperator::ScmpCmpNe,
    LinuxSeccompOperator::ScmpCmpLt,
    LinuxSeccompOperator::ScmpCmpLe,
    LinuxSeccompOperator::ScmpCmpEq,
    LinuxSeccompOperator::ScmpCmpGe,
    LinuxSeccompOperator::ScmpCmpGt,
    LinuxSeccompOperator::ScmpCmpMaskedEq,
];

/// The architectures of the spec; which of them work depends on the linked libseccomp.
pub(crate) const ARCHITECTURES: [Arch; 23] = [
    Arch::ScmpArchX86,
    Arch::ScmpArchX86_64,
    Arch::ScmpArchX32,
    Arch::ScmpArchArm,
    Arch::ScmpArchAarch64,
    Arch::ScmpArchLoongarch64,
    Arch::ScmpArchM68k,
    Arch::ScmpArchMips,
    Arch::ScmpArchMips64,
    Arch::ScmpArchMips64n32,
    Arch::ScmpArchMipsel,
    Arch::ScmpArchMipsel64,
    Arch::ScmpArchMipsel64n32,
    Arch::ScmpArchPpc,
    Arch::ScmpArchPpc64,
    Arch::ScmpArchPpc64le,
    Arch::ScmpArchS390,
    Arch::ScmpArchS390x,
    Arch::ScmpArchSh,
    Arch::ScmpArchSheb,
    Arch::ScmpArchParisc,
    Arch::ScmpArchParisc64,
    Arch::ScmpArchRiscv64,
];

pub(crate) const FLAGS: [LinuxSeccompFilterFlag; 4] = [
    LinuxSeccompFilterFlag::SeccompFilterFlagTsync,
    LinuxSeccompFilterFlag::SeccompFilterFlagLog,
    LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow,
    LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv,
];

/// What the init calls between loading a filter and the agent having its
/// listener (it hands the listener to husk with `sendmsg`): notifying these
/// would block the init for good.
const LISTENER_HANDOVER_SYSCALLS: [&str; 1] = ["sendmsg"];

/// The kernel's limit: syscall arguments are numbered 0 to 5.
const SYSCALL_ARGS: usize = 6;

/// The errno of `SCMP_ACT_ERRNO`/`SCMP_ACT_TRACE` when the config gives none.
const DEFAULT_ERRNO_RET: u32 = libc::EPERM as u32;

/// A checked `linux.seccomp`, ready to be handed to libseccomp.
pub(crate) struct Plan<'a> {
    pub(crate) default_action: ScmpAction,
    pub(crate) architectures: Vec<ScmpArch>,
    /// `SECCOMP_FILTER_FLAG_*` bits requested by `flags`.
    pub(crate) flags: c_ulong,
    pub(crate) rules: Vec<Rule<'a>>,
}

/// One `syscalls[]` entry.
pub(crate) struct Rule<'a> {
    /// Position in `syscalls[]`, for error messages.
    pub(crate) index: usize,
    pub(crate) names: &'a [String],
    pub(crate) action: ScmpAction,
    pub(crate) conditions: Vec<ScmpArgCompare>,
    /// Several conditions on the same argument index. libseccomp cannot AND
    /// them in one rule, so (as runc does) each becomes a rule of its own and
    /// the conditions are effectively ORed.
    pub(crate) one_rule_per_condition: bool,
}

impl<'a> Plan<'a> {
    pub(crate) fn new(seccomp: &'a LinuxSeccomp) -> Result<Self, Error> {
        let default_action = scmp_action(
            seccomp.default_action(),
            seccomp.default_errno_ret(),
            || "linux.seccomp.defaultErrnoRet".to_owned(),
        )?;
        if default_action == ScmpAction::Notify {
            // The init makes syscalls after loading the filter and before the
            // agent has the listener fd: they would wait forever.
            return Err(Error::invalid(
                "linux.seccomp.defaultAction",
                "SCMP_ACT_NOTIFY cannot be the default action",
            ));
        }

        let architectures = seccomp
            .architectures()
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, &arch)| {
                scmp_arch(arch).ok_or_else(|| {
                    Error::invalid(
                        format!("linux.seccomp.architectures[{i}]"),
                        format!(
                            "{arch} is not supported by the linked libseccomp {}",
                            libseccomp_version().unwrap_or_default()
                        ),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;

        let flags = match seccomp.flags() {
            Some(flags) => flags
                .iter()
                .fold(0, |bits, &flag| bits | filter_flag_bit(flag)),
            None => default_filter_flags(),
        };

        let rules = seccomp
            .syscalls()
            .iter()
            .flatten()
            .enumerate()
            .map(|(index, syscall)| Rule::new(index, syscall))
            .collect::<Result<Vec<_>, _>>()?;

        if seccomp.listener_path().is_none() {
            if seccomp.listener_metadata().is_some() {
                return Err(Error::invalid(
                    "linux.seccomp.listenerMetadata",
                    "must not be set without linux.seccomp.listenerPath",
                ));
            }
            if let Some(rule) = rules.iter().find(|rule| rule.action == ScmpAction::Notify) {
                return Err(Error::invalid(
                    "linux.seccomp.listenerPath",
                    format!(
                        "required: linux.seccomp.syscalls[{}] uses SCMP_ACT_NOTIFY",
                        rule.index
                    ),
                ));
            }
        }

        Ok(Plan {
            default_action,
            architectures,
            flags,
            rules,
        })
    }
}

impl<'a> Rule<'a> {
    fn new(index: usize, syscall: &'a LinuxSyscall) -> Result<Self, Error> {
        let field = |name: &str| format!("linux.seccomp.syscalls[{index}].{name}");
        if syscall.names().is_empty() {
            return Err(Error::invalid(
                field("names"),
                "must contain at least one syscall name",
            ));
        }
        let action = scmp_action(syscall.action(), syscall.errno_ret(), || field("errnoRet"))?;
        if action == ScmpAction::Notify {
            let handover = syscall
                .names()
                .iter()
                .position(|name| LISTENER_HANDOVER_SYSCALLS.contains(&name.as_str()));
            if let Some(i) = handover {
                return Err(Error::invalid(
                    field(&format!("names[{i}]")),
                    "SCMP_ACT_NOTIFY cannot be used for the syscall that hands the listener over",
                ));
            }
        }

        let args = syscall.args().as_deref().unwrap_or_default();
        let conditions = args
            .iter()
            .enumerate()
            .map(|(i, arg)| scmp_condition(arg, |name| field(&format!("args[{i}].{name}"))))
            .collect::<Result<Vec<_>, _>>()?;
        let mut conditions_per_index = [0usize; SYSCALL_ARGS];
        for arg in args {
            conditions_per_index[arg.index()] += 1;
        }

        Ok(Rule {
            index,
            names: syscall.names(),
            action,
            conditions,
            one_rule_per_condition: conditions_per_index.iter().any(|&count| count > 1),
        })
    }
}

/// `errno_field` names the errno property that goes with `action`, for errors.
fn scmp_action(
    action: LinuxSeccompAction,
    errno_ret: Option<u32>,
    errno_field: impl FnOnce() -> String,
) -> Result<ScmpAction, Error> {
    use LinuxSeccompAction as Oci;
    let errno = |field: String| {
        let value = errno_ret.unwrap_or(DEFAULT_ERRNO_RET);
        // The kernel keeps the errno in the 16-bit SECCOMP_RET_DATA field.
        u16::try_from(value)
            .map_err(|_| Error::invalid(field, format!("{value} does not fit in 16 bits")))
    };
    match action {
        Oci::ScmpActErrno => Ok(ScmpAction::Errno(errno(errno_field())?.into())),
        Oci::ScmpActTrace => Ok(ScmpAction::Trace(errno(errno_field())?)),
        _ if errno_ret.is_some() => Err(Error::invalid(
            errno_field(),
            format!("{action} takes no errno (only SCMP_ACT_ERRNO and SCMP_ACT_TRACE do)"),
        )),
        Oci::ScmpActKill | Oci::ScmpActKillThread => Ok(ScmpAction::KillThread),
        Oci::ScmpActKillProcess => Ok(ScmpAction::KillProcess),
        Oci::ScmpActTrap => Ok(ScmpAction::Trap),
        Oci::ScmpActNotify => Ok(ScmpAction::Notify),
        Oci::ScmpActLog => Ok(ScmpAction::Log),
        Oci::ScmpActAllow => Ok(ScmpAction::Allow),
    }
}

/// `field` maps a property of the arg object to its JSON path, for errors.
fn scmp_condition(
    arg: &LinuxSeccompArg,
    field: impl Fn(&str) -> String,
) -> Result<ScmpArgCompare, Error> {
    use LinuxSeccompOperator as Oci;
    let index = arg.index();
    if index >= SYSCALL_ARGS {
        return Err(Error::invalid(
            field("index"),
            format!("{index} is out of range: syscall arguments are numbered 0 to 5"),
        ));
    }
    let op = match arg.op() {
        Oci::ScmpCmpNe => ScmpCompareOp::NotEqual,
        Oci::ScmpCmpLt => ScmpCompareOp::Less,
        Oci::ScmpCmpLe => ScmpCompareOp::LessOrEqual,
        Oci::ScmpCmpEq => ScmpCompareOp::Equal,
        Oci::ScmpCmpGe => ScmpCompareOp::GreaterEqual,
        Oci::ScmpCmpGt => ScmpCompareOp::Greater,
        // (argument & value) == valueTwo
        Oci::ScmpCmpMaskedEq => ScmpCompareOp::MaskedEqual(arg.value()),
    };
    let datum = match (arg.op(), arg.value_two()) {
        (Oci::ScmpCmpMaskedEq, value_two) => value_two.unwrap_or(0),
        (op, Some(value_two)) if value_two != 0 => {
            return Err(Error::invalid(
                field("valueTwo"),
                format!("{op} does not use valueTwo (only SCMP_CMP_MASKED_EQ does)"),
            ))
        }
        _ => arg.value(),
    };
    let index = u32::try_from(index).expect("index is below SYSCALL_ARGS");
    Ok(ScmpArgCompare::new(index, op, datum))
}

/// The libseccomp architecture for `arch`, or `None` if the linked libseccomp
/// does not know it (e.g. LoongArch before libseccomp 2.6).
pub(crate) fn scmp_arch(arch: Arch) -> Option<ScmpArch> {
    let scmp = match arch {
        Arch::ScmpArchNative => ScmpArch::Native,
        Arch::ScmpArchX86 => ScmpArch::X86,
        Arch::ScmpArchX86_64 => ScmpArch::X8664,
        Arch::ScmpArchX32 => ScmpArch::X32,
        Arch::ScmpArchArm => ScmpArch::Arm,
        Arch::ScmpArchAarch64 => ScmpArch::Aarch64,
        Arch::ScmpArchLoongarch64 => ScmpArch::Loongarch64,
        Arch::ScmpArchM68k => ScmpArch::M68k,
        Arch::ScmpArchMips => ScmpArch::Mips,
        Arch::ScmpArchMips64 => ScmpArch::Mips64,
        Arch::ScmpArchMips64n32 => ScmpArch::Mips64N32,
        Arch::ScmpArchMipsel => ScmpArch::Mipsel,
        Arch::ScmpArchMipsel64 => ScmpArch::Mipsel64,
        Arch::ScmpArchMipsel64n32 => ScmpArch::Mipsel64N32,
        Arch::ScmpArchPpc => ScmpArch::Ppc,
        Arch::ScmpArchPpc64 => ScmpArch::Ppc64,
        Arch::ScmpArchPpc64le => ScmpArch::Ppc64Le,
        Arch::ScmpArchS390 => ScmpArch::S390,
        Arch::ScmpArchS390x => ScmpArch::S390X,
        Arch::ScmpArchParisc => ScmpArch::Parisc,
        Arch::ScmpArchParisc64 => ScmpArch::Parisc64,
        Arch::ScmpArchRiscv64 => ScmpArch::Riscv64,
        Arch::ScmpArchSh => ScmpArch::Sh,
        Arch::ScmpArchSheb => ScmpArch::Sheb,
    };
    // Resolving a syscall every architecture has fails exactly when the
    // linked libseccomp does not know the architecture; no filter is needed.
    ScmpSyscall::from_name_by_arch("read", scmp)
        .ok()
        .map(|_| scmp)
}

pub(crate) fn filter_flag_bit(flag: LinuxSeccompFilterFlag) -> c_ulong {
    use LinuxSeccompFilterFlag as Oci;
    match flag {
        Oci::SeccompFilterFlagTsync => libc::SECCOMP_FILTER_FLAG_TSYNC,
        Oci::SeccompFilterFlagLog => libc::SECCOMP_FILTER_FLAG_LOG,
        Oci::SeccompFilterFlagSpecAllow => libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW,
        Oci::SeccompFilterFlagWaitKillableRecv => libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
    }
}

/// The flags when the config has no `flags` at all (an empty list means none).
/// Like runc and crun: SPEC_ALLOW, so that loading a filter does not force the
/// Speculative Store Bypass mitigation (and its cost) on the container where
/// the kernel ties it to seccomp; left out on kernels that predate it (4.17).
fn default_filter_flags() -> c_ulong {
    let spec_allow = libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW;
    if sys::filter_flags_known(spec_allow) {
        spec_allow
    } else {
        0
    }
}

/// The linked libseccomp's version, e.g. `2.5.4`.
pub fn libseccomp_version() -> Option<String> {
    let version = libseccomp::ScmpVersion::current().ok()?;
    Some(format!(
        "{}.{}.{}",
        version.major, version.minor, version.micro
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags_of(config: serde_json::Value) -> c_ulong {
        let seccomp: LinuxSeccomp = serde_json::from_value(config).expect("config deserializes");
        Plan::new(&seccomp).expect("valid config").flags
    }

    #[test]
    fn absent_flags_default_to_spec_allow() {
        let spec_allow = libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW;
        let absent = serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW"});
        assert_eq!(
            flags_of(absent),
            spec_allow,
            "kernels since 4.17 know SPEC_ALLOW"
        );
        let empty = serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": []});
        assert_eq!(flags_of(empty), 0);
        let log = serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_LOG"]});
        assert_eq!(flags_of(log), libc::SECCOMP_FILTER_FLAG_LOG);
    }
}
