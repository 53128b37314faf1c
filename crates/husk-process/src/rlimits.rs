//! `process.rlimits`: POSIX resource limits.

use oci_spec::runtime::{PosixRlimit, PosixRlimitType, Process};
use rustix::process::{setrlimit, Resource, Rlimit};

use crate::Error;

/// The kernel's `RLIM_INFINITY`; configs spell "unlimited" as 2^64-1.
const RLIM_INFINITY: u64 = u64::MAX;

fn field(index: usize) -> String {
    format!("process.rlimits[{index}]")
}

fn describe(rlimit: &PosixRlimit) -> String {
    format!("{} soft={} hard={}", rlimit.typ(), rlimit.soft(), rlimit.hard())
}

fn resource(typ: PosixRlimitType) -> Resource {
    match typ {
        PosixRlimitType::RlimitCpu => Resource::Cpu,
        PosixRlimitType::RlimitFsize => Resource::Fsize,
        PosixRlimitType::RlimitData => Resource::Data,
        PosixRlimitType::RlimitStack => Resource::Stack,
        PosixRlimitType::RlimitCore => Resource::Core,
        PosixRlimitType::RlimitRss => Resource::Rss,
        PosixRlimitType::RlimitNproc => Resource::Nproc,
        PosixRlimitType::RlimitNofile => Resource::Nofile,
        PosixRlimitType::RlimitMemlock => Resource::Memlock,
        PosixRlimitType::RlimitAs => Resource::As,
        PosixRlimitType::RlimitLocks => Resource::Locks,
        PosixRlimitType::RlimitSigpending => Resource::Sigpending,
        PosixRlimitType::RlimitMsgqueue => Resource::Msgqueue,
        PosixRlimitType::RlimitNice => Resource::Nice,
        PosixRlimitType::RlimitRtprio => Resource::Rtprio,
        PosixRlimitType::RlimitRttime => Resource::Rttime,
    }
}

fn limit(value: u64) -> Option<u64> {
    (value != RLIM_INFINITY).then_some(value)
}

/// Rejects duplicate types (a spec MUST) and soft limits above the hard one
/// (which the kernel would refuse only at create time, with a bare EINVAL).
pub(crate) fn validate(process: &Process) -> Result<(), Error> {
    let rlimits = process.rlimits().as_deref().unwrap_or_default();
    for (index, rlimit) in rlimits.iter().enumerate() {
        if let Some(first) = rlimits[..index].iter().position(|r| r.typ() == rlimit.typ()) {
            return Err(Error::invalid(
                field(index),
                rlimit.typ(),
                format!("duplicate rlimit type (already set by {})", field(first)),
            ));
        }
        if rlimit.soft() > rlimit.hard() {
            return Err(Error::invalid(field(index), describe(rlimit), "soft limit exceeds hard limit"));
        }
    }
    Ok(())
}

/// Applies `process.rlimits` to the calling process. Raising a hard limit
/// needs `CAP_SYS_RESOURCE`, so this runs before capabilities are dropped.
pub fn set_rlimits(process: &Process) -> Result<(), Error> {
    validate(process)?;
    for (index, rlimit) in process.rlimits().iter().flatten().enumerate() {
        let new = Rlimit { current: limit(rlimit.soft()), maximum: limit(rlimit.hard()) };
        setrlimit(resource(rlimit.typ()), new)
            .map_err(|e| Error::syscall(field(index), describe(rlimit), "setrlimit", e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{in_forked_child, process_from_json, require_root};
    use rustix::process::getrlimit;

    #[test]
    fn duplicate_types_are_rejected_with_both_indexes() {
        let process = process_from_json(
            r#"{"cwd":"/","args":["sh"],"rlimits":[
                {"type":"RLIMIT_NOFILE","soft":10,"hard":10},
                {"type":"RLIMIT_CORE","soft":0,"hard":0},
                {"type":"RLIMIT_NOFILE","soft":20,"hard":20}]}"#,
        );
        let msg = validate(&process).unwrap_err().to_string();
        assert!(msg.contains("process.rlimits[2]") && msg.contains("process.rlimits[0]"), "{msg}");
    }

    #[test]
    fn soft_above_hard_is_rejected() {
        let process = process_from_json(
            r#"{"cwd":"/","args":["sh"],"rlimits":[{"type":"RLIMIT_NOFILE","soft":20,"hard":10}]}"#,
        );
        let msg = validate(&process).unwrap_err().to_string();
        assert!(msg.contains("process.rlimits[0]") && msg.contains("soft=20 hard=10"), "{msg}");
    }

    #[test]
    fn limits_are_applied_including_infinity() {
        if !require_root() {
            return;
        }
        let process = process_from_json(
            r#"{"cwd":"/","args":["sh"],"rlimits":[
                {"type":"RLIMIT_NOFILE","soft":123,"hard":456},
                {"type":"RLIMIT_CORE","soft":18446744073709551615,"hard":18446744073709551615},
                {"type":"RLIMIT_MSGQUEUE","soft":4096,"hard":8192}]}"#,
        );
        in_forked_child(|| {
            set_rlimits(&process).map_err(|e| e.to_string())?;
            let checks = [
                (Resource::Nofile, Some(123), Some(456)),
                (Resource::Core, None, None),
                (Resource::Msgqueue, Some(4096), Some(8192)),
            ];
            for (res, soft, hard) in checks {
                let got = getrlimit(res);
                if (got.current, got.maximum) != (soft, hard) {
                    return Err(format!("{res:?}: got {got:?}, want {soft:?}/{hard:?}"));
                }
            }
            Ok(())
        })
        .unwrap();
    }

    #[test]
    fn kernel_refusal_names_the_field_and_syscall() {
        if !require_root() {
            return;
        }
        // fs.nr_open caps RLIMIT_NOFILE well below 2^40, even for root.
        let process = process_from_json(
            r#"{"cwd":"/","args":["sh"],"rlimits":[{"type":"RLIMIT_NOFILE","soft":1099511627776,"hard":1099511627776}]}"#,
        );
        in_forked_child(|| match set_rlimits(&process) {
            Err(Error::Syscall { field, syscall: "setrlimit", .. }) if field == "process.rlimits[0]" => Ok(()),
            other => Err(format!("unexpected result {other:?}")),
        })
        .unwrap();
    }
}
