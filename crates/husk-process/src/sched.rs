//! Scheduling-related process attributes: `process.scheduler`,
//! `process.ioPriority`, `process.execCPUAffinity`, `linux.personality` and
//! `linux.memoryPolicy`.

use husk_sys::sched as sys;
use std::ops::RangeInclusive;

use oci_spec::runtime::{
    IOPriorityClass, LinuxMemoryPolicy, LinuxPersonality, LinuxPersonalityDomain, LinuxSchedulerFlag,
    LinuxSchedulerPolicy, MemoryPolicyFlagType, MemoryPolicyModeType, Process, Scheduler,
};
use rustix::thread::{sched_setaffinity, CpuSet};

use crate::Error;

const NICE_RANGE: RangeInclusive<i32> = -20..=19;
const RT_PRIORITY_RANGE: RangeInclusive<i32> = 1..=99;
/// The kernel refuses SCHED_DEADLINE runtimes below 2^DL_SCALE ns.
const DEADLINE_MIN_RUNTIME_NS: u64 = 1 << 10;
/// ... and deadlines or periods with the top bit set.
const DEADLINE_MAX_NS: u64 = 1 << 63;
const IOPRIO_LEVELS: RangeInclusive<i64> = 0..=7;

fn policy_number(policy: LinuxSchedulerPolicy) -> u32 {
    match policy {
        LinuxSchedulerPolicy::SchedOther => sys::SCHED_OTHER,
        LinuxSchedulerPolicy::SchedFifo => sys::SCHED_FIFO,
        LinuxSchedulerPolicy::SchedRr => sys::SCHED_RR,
        LinuxSchedulerPolicy::SchedBatch => sys::SCHED_BATCH,
        LinuxSchedulerPolicy::SchedIso => sys::SCHED_ISO,
        LinuxSchedulerPolicy::SchedIdle => sys::SCHED_IDLE,
        LinuxSchedulerPolicy::SchedDeadline => sys::SCHED_DEADLINE,
    }
}

fn flag_bit(flag: LinuxSchedulerFlag) -> u64 {
    match flag {
        LinuxSchedulerFlag::SchedResetOnFork => sys::SCHED_FLAG_RESET_ON_FORK,
        LinuxSchedulerFlag::SchedFlagReclaim => sys::SCHED_FLAG_RECLAIM,
        LinuxSchedulerFlag::SchedFlagDLOverrun => sys::SCHED_FLAG_DL_OVERRUN,
        LinuxSchedulerFlag::SchedFlagKeepPolicy => sys::SCHED_FLAG_KEEP_POLICY,
        LinuxSchedulerFlag::SchedFlagKeepParams => sys::SCHED_FLAG_KEEP_PARAMS,
        LinuxSchedulerFlag::SchedFlagUtilClampMin => sys::SCHED_FLAG_UTIL_CLAMP_MIN,
        LinuxSchedulerFlag::SchedFlagUtilClampMax => sys::SCHED_FLAG_UTIL_CLAMP_MAX,
    }
}

/// Checks `process.scheduler` against the kernel's rules so that a bad
/// config fails at validation with the field named, not with EINVAL later.
pub(crate) fn validate_scheduler(s: &Scheduler) -> Result<(), Error> {
    let policy = *s.policy();
    let nice = s.nice().unwrap_or(0);
    let priority = s.priority().unwrap_or(0);
    let (runtime, deadline, period) = (s.runtime().unwrap_or(0), s.deadline().unwrap_or(0), s.period().unwrap_or(0));
    if policy == LinuxSchedulerPolicy::SchedIso {
        return Err(Error::invalid("process.scheduler.policy", policy, "not implemented by Linux"));
    }
    if !NICE_RANGE.contains(&nice) {
        return Err(Error::invalid("process.scheduler.nice", nice, "must be between -20 and 19"));
    }
    let realtime = matches!(policy, LinuxSchedulerPolicy::SchedFifo | LinuxSchedulerPolicy::SchedRr);
    if realtime && !RT_PRIORITY_RANGE.contains(&priority) {
        return Err(Error::invalid("process.scheduler.priority", priority, format!("{policy} needs a priority between 1 and 99")));
    }
    if !realtime && priority != 0 {
        return Err(Error::invalid("process.scheduler.priority", priority, format!("only SCHED_FIFO and SCHED_RR take a priority, not {policy}")));
    }
    if policy != LinuxSchedulerPolicy::SchedDeadline {
        for (field, value) in [("runtime", runtime), ("deadline", deadline), ("period", period)] {
            if value != 0 {
                return Err(Error::invalid(format!("process.scheduler.{field}"), value, format!("only SCHED_DEADLINE takes a {field}, not {policy}")));
            }
        }
        return Ok(());
    }
    if runtime < DEADLINE_MIN_RUNTIME_NS {
        return Err(Error::invalid("process.scheduler.runtime", runtime, "SCHED_DEADLINE needs a runtime of at least 1024 ns"));
    }
    if deadline < runtime || deadline >= DEADLINE_MAX_NS {
        return Err(Error::invalid("process.scheduler.deadline", deadline, "must be at least the runtime and below 2^63"));
    }
    if period != 0 && (period < deadline || period >= DEADLINE_MAX_NS) {
        return Err(Error::invalid("process.scheduler.period", period, "must be 0 (= deadline) or at least the deadline and below 2^63"));
    }
    Ok(())
}

/// Applies `process.scheduler` to the calling thread with `sched_setattr`
/// (needs `CAP_SYS_NICE` for real-time policies and negative nice values).
/// The utilisation-clamp flags are passed with clamp values of 0, since the
/// spec has no field for the values.
pub fn set_scheduler(process: &Process) -> Result<(), Error> {
    let Some(s) = process.scheduler() else { return Ok(()) };
    validate_scheduler(s)?;
    let attr = sys::SchedAttr {
        policy: policy_number(*s.policy()),
        flags: s.flags().iter().flatten().fold(0, |acc, &f| acc | flag_bit(f)),
        nice: s.nice().unwrap_or(0),
        priority: s.priority().unwrap_or(0) as u32,
        runtime: s.runtime().unwrap_or(0),
        deadline: s.deadline().unwrap_or(0),
        period: s.period().unwrap_or(0),
        ..Default::default()
    };
    sys::sched_setattr(&attr).map_err(|e| Error::syscall("process.scheduler", format!("{attr:?}"), "sched_setattr", e))
}

fn ioprio_class(class: IOPriorityClass) -> u32 {
    match class {
        IOPriorityClass::IoprioClassRt => sys::IOPRIO_CLASS_RT,
        IOPriorityClass::IoprioClassBe => sys::IOPRIO_CLASS_BE,
        IOPriorityClass::IoprioClassIdle => sys::IOPRIO_CLASS_IDLE,
    }
}

pub(crate) fn validate_io_priority(process: &Process) -> Result<(), Error> {
    match process.io_priority() {
        Some(p) if !IOPRIO_LEVELS.contains(&p.priority()) => {
            Err(Error::invalid("process.ioPriority.priority", p.priority(), "must be between 0 (highest) and 7 (lowest)"))
        }
        _ => Ok(()),
    }
}

/// Applies `process.ioPriority` to the calling process; every process of the
/// container descends from it and inherits the priority. (The calling
/// process, not its process group: before `setsid` the group may still be
/// the one of the husk invocation on the host.)
pub fn set_io_priority(process: &Process) -> Result<(), Error> {
    let Some(p) = process.io_priority() else { return Ok(()) };
    validate_io_priority(process)?;
    let value = sys::ioprio_value(ioprio_class(p.class()), p.priority() as u32);
    sys::ioprio_set_self(value)
        .map_err(|e| Error::syscall("process.ioPriority", format!("{} {}", p.class(), p.priority()), "ioprio_set", e))
}

/// Parses a Linux id list (`"0-3,7"`: comma-separated ids and inclusive
/// ranges) of ids below `limit`; `field` names the config field in errors.
fn parse_id_list(list: &str, field: &str, limit: usize) -> Result<Vec<RangeInclusive<usize>>, Error> {
    let invalid = |reason: &str| Error::invalid(field, format!("{list:?}"), reason);
    let number = |s: &str| -> Result<usize, Error> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid("expected a comma-separated list of numbers and ranges like \"0-3,7\""));
        }
        match s.parse::<usize>() {
            Ok(n) if n < limit => Ok(n),
            _ => Err(invalid(&format!("numbers must be below {limit}"))),
        }
    };
    list.split(',')
        .map(|item| {
            let (first, last) = match item.split_once('-') {
                Some((a, b)) => (number(a)?, number(b)?),
                None => (number(item)?, number(item)?),
            };
            if first > last {
                return Err(invalid(&format!("range {item} is reversed")));
            }
            Ok(first..=last)
        })
        .collect()
}

/// Parses a Linux CPU list (`"0-3,7"`) into a set; `field` names the config
/// field in errors.
pub fn parse_cpu_list(cpus: &str, field: &str) -> Result<CpuSet, Error> {
    let mut set = CpuSet::new();
    parse_id_list(cpus, field, CpuSet::MAX_CPU)?.into_iter().flatten().for_each(|cpu| set.set(cpu));
    Ok(set)
}

/// Pins the calling thread to the CPUs in the list (`execCPUAffinity`
/// `initial`/`final`). An empty list leaves the affinity alone, as the spec
/// asks for an omitted or empty `final`.
pub fn set_cpu_affinity(cpus: &str, field: &str) -> Result<(), Error> {
    if cpus.is_empty() {
        return Ok(());
    }
    let set = parse_cpu_list(cpus, field)?;
    sched_setaffinity(None, &set).map_err(|e| Error::syscall(field, cpus, "sched_setaffinity", e))
}

pub(crate) fn validate_cpu_affinity(process: &Process) -> Result<(), Error> {
    if let Some(affinity) = process.exec_cpu_affinity() {
        for (field, cpus) in [
            ("process.execCPUAffinity.initial", affinity.initial()),
            ("process.execCPUAffinity.final", affinity.cpu_affinity_final()),
        ] {
            if let Some(cpus) = cpus.as_deref().filter(|c| !c.is_empty()) {
                parse_cpu_list(cpus, field)?;
            }
        }
    }
    Ok(())
}

/// `linux.personality`: the spec defines no flags, so any flag is an error
/// rather than being dropped.
pub fn validate_personality(p: &LinuxPersonality) -> Result<(), Error> {
    match p.flags().as_deref() {
        Some([first, ..]) => Err(Error::invalid("linux.personality.flags", first, "no personality flags are supported")),
        _ => Ok(()),
    }
}

/// Sets the execution domain of the calling process (`LINUX32` makes
/// `uname` report a 32-bit machine).
pub fn set_personality(p: &LinuxPersonality) -> Result<(), Error> {
    validate_personality(p)?;
    let persona = match p.domain() {
        LinuxPersonalityDomain::PerLinux => sys::PER_LINUX,
        LinuxPersonalityDomain::PerLinux32 => sys::PER_LINUX32,
    };
    sys::set_personality(persona).map_err(|e| Error::syscall("linux.personality.domain", p.domain(), "personality", e))
}

const NODES_FIELD: &str = "linux.memoryPolicy.nodes";

/// Every `linux.memoryPolicy.mode` husk applies (all of the spec's: the
/// match below is exhaustive), for `husk features`.
pub const MEMORY_POLICY_MODES: &[&str] = &[
    "MPOL_DEFAULT",
    "MPOL_BIND",
    "MPOL_INTERLEAVE",
    "MPOL_WEIGHTED_INTERLEAVE",
    "MPOL_PREFERRED",
    "MPOL_PREFERRED_MANY",
    "MPOL_LOCAL",
];

/// Every `linux.memoryPolicy.flags` value husk applies.
pub const MEMORY_POLICY_FLAGS: &[&str] = &["MPOL_F_NUMA_BALANCING", "MPOL_F_RELATIVE_NODES", "MPOL_F_STATIC_NODES"];

fn memory_policy_mode(mode: MemoryPolicyModeType) -> u32 {
    match mode {
        MemoryPolicyModeType::MpolDefault => sys::MPOL_DEFAULT,
        MemoryPolicyModeType::MpolPreferred => sys::MPOL_PREFERRED,
        MemoryPolicyModeType::MpolBind => sys::MPOL_BIND,
        MemoryPolicyModeType::MpolInterleave => sys::MPOL_INTERLEAVE,
        MemoryPolicyModeType::MpolLocal => sys::MPOL_LOCAL,
        MemoryPolicyModeType::MpolPreferredMany => sys::MPOL_PREFERRED_MANY,
        MemoryPolicyModeType::MpolWeightedInterleave => sys::MPOL_WEIGHTED_INTERLEAVE,
    }
}

fn memory_policy_flag(flag: MemoryPolicyFlagType) -> u32 {
    match flag {
        MemoryPolicyFlagType::MpolFNumaBalancing => sys::MPOL_F_NUMA_BALANCING,
        MemoryPolicyFlagType::MpolFRelativeNodes => sys::MPOL_F_RELATIVE_NODES,
        MemoryPolicyFlagType::MpolFStaticNodes => sys::MPOL_F_STATIC_NODES,
    }
}

/// The node mask of `linux.memoryPolicy.nodes` (empty when unset).
fn memory_policy_nodes(p: &LinuxMemoryPolicy) -> Result<sys::NodeMask, Error> {
    let mut mask: sys::NodeMask = [0; sys::MEMPOLICY_MAX_NODES / 64];
    if let Some(nodes) = p.nodes().as_deref().filter(|n| !n.is_empty()) {
        for node in parse_id_list(nodes, NODES_FIELD, sys::MEMPOLICY_MAX_NODES)?.into_iter().flatten() {
            mask[node / 64] |= 1 << (node % 64);
        }
    }
    Ok(mask)
}

/// Checks `linux.memoryPolicy` against set_mempolicy(2)'s rules on which
/// modes take nodes and which flags combine.
pub fn validate_memory_policy(p: &LinuxMemoryPolicy) -> Result<(), Error> {
    let mode = p.mode();
    let has_nodes = memory_policy_nodes(p)?.iter().any(|&word| word != 0);
    let flags = p.flags().iter().flatten().fold(0, |acc, &f| acc | memory_policy_flag(f));
    match mode {
        MemoryPolicyModeType::MpolDefault | MemoryPolicyModeType::MpolLocal if has_nodes => {
            return Err(Error::invalid(NODES_FIELD, p.nodes().as_deref().unwrap_or_default(), format!("{mode} takes no nodes")));
        }
        MemoryPolicyModeType::MpolBind
        | MemoryPolicyModeType::MpolInterleave
        | MemoryPolicyModeType::MpolWeightedInterleave
        | MemoryPolicyModeType::MpolPreferredMany
            if !has_nodes =>
        {
            return Err(Error::invalid(NODES_FIELD, p.nodes().as_deref().unwrap_or_default(), format!("{mode} needs at least one node")));
        }
        _ => {}
    }
    let node_flags = sys::MPOL_F_STATIC_NODES | sys::MPOL_F_RELATIVE_NODES;
    if flags & node_flags == node_flags {
        return Err(Error::invalid("linux.memoryPolicy.flags", "MPOL_F_STATIC_NODES, MPOL_F_RELATIVE_NODES", "mutually exclusive"));
    }
    if mode == MemoryPolicyModeType::MpolLocal && flags & node_flags != 0 {
        return Err(Error::invalid("linux.memoryPolicy.flags", mode, "MPOL_LOCAL takes no node flags"));
    }
    let balancing_modes = [MemoryPolicyModeType::MpolBind, MemoryPolicyModeType::MpolPreferredMany];
    if flags & sys::MPOL_F_NUMA_BALANCING != 0 && !balancing_modes.contains(&mode) {
        return Err(Error::invalid("linux.memoryPolicy.flags", "MPOL_F_NUMA_BALANCING", format!("not valid with {mode}")));
    }
    Ok(())
}

/// Sets the NUMA memory policy of the calling process (`linux.memoryPolicy`);
/// every process of the container inherits it.
pub fn set_memory_policy(p: &LinuxMemoryPolicy) -> Result<(), Error> {
    validate_memory_policy(p)?;
    let mode = p.flags().iter().flatten().fold(memory_policy_mode(p.mode()), |acc, &f| acc | memory_policy_flag(f));
    let value = format!("{} nodes={:?}", p.mode(), p.nodes().as_deref().unwrap_or_default());
    sys::set_mempolicy(mode, &memory_policy_nodes(p)?).map_err(|e| Error::syscall("linux.memoryPolicy", value, "set_mempolicy", e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{in_forked_child, process_from_json, require_root};
    use rustix::thread::sched_getaffinity;

    fn scheduler(json: &str) -> Scheduler {
        serde_json::from_str(json).expect("test scheduler JSON")
    }

    #[test]
    fn advertised_memory_policies_are_the_applied_ones() {
        for name in MEMORY_POLICY_MODES {
            let mode: MemoryPolicyModeType = serde_json::from_value(serde_json::json!(name)).expect(name);
            assert_eq!(serde_json::to_value(mode).unwrap(), serde_json::json!(name));
        }
        for name in MEMORY_POLICY_FLAGS {
            let flag: MemoryPolicyFlagType = serde_json::from_value(serde_json::json!(name)).expect(name);
            assert_ne!(memory_policy_flag(flag), 0);
        }
    }

    #[test]
    fn cpu_lists_parse() {
        let set = parse_cpu_list("0-3,7", "f").unwrap();
        let cpus: Vec<usize> = (0..CpuSet::MAX_CPU).filter(|&c| set.is_set(c)).collect();
        assert_eq!(cpus, [0, 1, 2, 3, 7]);
        let set = parse_cpu_list("5", "f").unwrap();
        assert_eq!(set.count(), 1);
        assert!(set.is_set(5));
        assert_eq!(parse_cpu_list("1-1,1", "f").unwrap().count(), 1);
    }

    #[test]
    fn bad_cpu_lists_name_the_field() {
        for bad in ["", ",", "1,", "a", "3-1", "1-", "-1", "0 - 3", "1;2", "99999"] {
            let err = parse_cpu_list(bad, "process.execCPUAffinity.final").expect_err(bad).to_string();
            assert!(err.starts_with("process.execCPUAffinity.final"), "{bad}: {err}");
        }
    }

    #[test]
    fn scheduler_combinations_are_checked() {
        let cases = [
            (r#"{"policy":"SCHED_FIFO"}"#, Some("process.scheduler.priority")),
            (r#"{"policy":"SCHED_FIFO","priority":100}"#, Some("process.scheduler.priority")),
            (r#"{"policy":"SCHED_RR","priority":1}"#, None),
            (r#"{"policy":"SCHED_OTHER","priority":5}"#, Some("process.scheduler.priority")),
            (r#"{"policy":"SCHED_OTHER","nice":-21}"#, Some("process.scheduler.nice")),
            (r#"{"policy":"SCHED_BATCH","nice":19}"#, None),
            (r#"{"policy":"SCHED_ISO"}"#, Some("process.scheduler.policy")),
            (r#"{"policy":"SCHED_IDLE","runtime":5000}"#, Some("process.scheduler.runtime")),
            (r#"{"policy":"SCHED_DEADLINE"}"#, Some("process.scheduler.runtime")),
            (r#"{"policy":"SCHED_DEADLINE","runtime":2000,"deadline":1000}"#, Some("process.scheduler.deadline")),
            (r#"{"policy":"SCHED_DEADLINE","runtime":1024,"deadline":2000,"period":1500}"#, Some("process.scheduler.period")),
            (r#"{"policy":"SCHED_DEADLINE","runtime":1024,"deadline":2000}"#, None),
        ];
        for (json, want) in cases {
            match (validate_scheduler(&scheduler(json)), want) {
                (Ok(()), None) => {}
                (Err(e), Some(field)) => assert!(e.to_string().starts_with(field), "{json}: {e}"),
                (got, _) => panic!("{json}: {got:?}, want error on {want:?}"),
            }
        }
    }

    #[test]
    fn io_priority_level_is_range_checked() {
        let process = process_from_json(r#"{"cwd":"/","ioPriority":{"class":"IOPRIO_CLASS_BE","priority":8}}"#);
        assert!(validate_io_priority(&process).unwrap_err().to_string().starts_with("process.ioPriority.priority"));
    }

    #[test]
    fn personality_flags_are_rejected() {
        let p: LinuxPersonality = serde_json::from_str(r#"{"domain":"LINUX","flags":["ADDR_NO_RANDOMIZE"]}"#).unwrap();
        assert!(validate_personality(&p).unwrap_err().to_string().starts_with("linux.personality.flags"));
    }

    fn expect_sched(want: sys::SchedAttr) -> Result<(), String> {
        let got = sys::sched_getattr().map_err(|e| e.to_string())?;
        // Fair policies report their time slice as `runtime`; only deadline
        // tasks have configured runtime/deadline/period to compare.
        let got = match got.policy {
            sys::SCHED_DEADLINE => sys::SchedAttr { size: 0, util_min: 0, util_max: 0, ..got },
            _ => sys::SchedAttr { policy: got.policy, flags: got.flags, nice: got.nice, priority: got.priority, ..Default::default() },
        };
        if got == want {
            Ok(())
        } else {
            Err(format!("sched_getattr: {got:?}, want {want:?}"))
        }
    }

    #[test]
    fn realtime_scheduler_is_applied() {
        if !require_root() {
            return;
        }
        let process = process_from_json(
            r#"{"cwd":"/","scheduler":{"policy":"SCHED_RR","priority":7,"flags":["SCHED_RESET_ON_FORK"]}}"#,
        );
        in_forked_child(|| {
            set_scheduler(&process).map_err(|e| e.to_string())?;
            expect_sched(sys::SchedAttr {
                policy: sys::SCHED_RR,
                priority: 7,
                flags: sys::SCHED_FLAG_RESET_ON_FORK,
                ..Default::default()
            })
        })
        .unwrap();
    }

    #[test]
    fn nice_and_batch_are_applied() {
        if !require_root() {
            return;
        }
        let process = process_from_json(r#"{"cwd":"/","scheduler":{"policy":"SCHED_BATCH","nice":-5}}"#);
        in_forked_child(|| {
            set_scheduler(&process).map_err(|e| e.to_string())?;
            expect_sched(sys::SchedAttr { policy: sys::SCHED_BATCH, nice: -5, ..Default::default() })
        })
        .unwrap();
    }

    #[test]
    fn deadline_scheduler_is_applied() {
        if !require_root() {
            return;
        }
        let process = process_from_json(
            r#"{"cwd":"/","scheduler":{"policy":"SCHED_DEADLINE","runtime":1000000,"deadline":5000000,"period":10000000}}"#,
        );
        in_forked_child(|| {
            set_scheduler(&process).map_err(|e| e.to_string())?;
            expect_sched(sys::SchedAttr {
                policy: sys::SCHED_DEADLINE,
                runtime: 1_000_000,
                deadline: 5_000_000,
                period: 10_000_000,
                ..Default::default()
            })
        })
        .unwrap();
    }

    #[test]
    fn io_priority_is_applied() {
        if !require_root() {
            return;
        }
        let process = process_from_json(r#"{"cwd":"/","ioPriority":{"class":"IOPRIO_CLASS_RT","priority":3}}"#);
        in_forked_child(|| {
            set_io_priority(&process).map_err(|e| e.to_string())?;
            match sys::ioprio_get_self().map(sys::ioprio_parts) {
                Ok((sys::IOPRIO_CLASS_RT, 3)) => Ok(()),
                other => Err(format!("ioprio_get: {other:?}")),
            }
        })
        .unwrap();
    }

    #[test]
    fn cpu_affinity_is_applied() {
        let online = sched_getaffinity(None).unwrap();
        let cpu = (0..CpuSet::MAX_CPU).find(|&c| online.is_set(c)).unwrap();
        in_forked_child(|| {
            set_cpu_affinity(&cpu.to_string(), "process.execCPUAffinity.final").map_err(|e| e.to_string())?;
            let now = sched_getaffinity(None).map_err(|e| e.to_string())?;
            if now.count() == 1 && now.is_set(cpu) {
                Ok(())
            } else {
                Err(format!("affinity {now:?}, want only CPU {cpu}"))
            }
        })
        .unwrap();
    }

    #[test]
    fn personality_domain_is_applied() {
        let p: LinuxPersonality = serde_json::from_str(r#"{"domain":"LINUX32"}"#).unwrap();
        in_forked_child(|| {
            set_personality(&p).map_err(|e| e.to_string())?;
            match sys::personality() {
                Ok(v) if v & 0xff == sys::PER_LINUX32 => Ok(()),
                other => Err(format!("personality(0xffffffff): {other:?}")),
            }
        })
        .unwrap();
    }

    fn memory_policy(json: &str) -> LinuxMemoryPolicy {
        serde_json::from_str(json).expect("test memory policy JSON")
    }

    #[test]
    fn memory_policy_rules_are_checked() {
        let cases = [
            (r#"{"mode":"MPOL_DEFAULT"}"#, None),
            (r#"{"mode":"MPOL_DEFAULT","nodes":"0"}"#, Some("linux.memoryPolicy.nodes")),
            (r#"{"mode":"MPOL_LOCAL","nodes":""}"#, None),
            (r#"{"mode":"MPOL_LOCAL","flags":["MPOL_F_STATIC_NODES"]}"#, Some("linux.memoryPolicy.flags")),
            (r#"{"mode":"MPOL_BIND"}"#, Some("linux.memoryPolicy.nodes")),
            (r#"{"mode":"MPOL_INTERLEAVE","nodes":"0-3,7"}"#, None),
            (r#"{"mode":"MPOL_BIND","nodes":"2-1"}"#, Some("linux.memoryPolicy.nodes")),
            (r#"{"mode":"MPOL_BIND","nodes":"0","flags":["MPOL_F_STATIC_NODES","MPOL_F_RELATIVE_NODES"]}"#, Some("linux.memoryPolicy.flags")),
            (r#"{"mode":"MPOL_INTERLEAVE","nodes":"0","flags":["MPOL_F_NUMA_BALANCING"]}"#, Some("linux.memoryPolicy.flags")),
            (r#"{"mode":"MPOL_BIND","nodes":"0","flags":["MPOL_F_NUMA_BALANCING"]}"#, None),
            (r#"{"mode":"MPOL_PREFERRED"}"#, None),
        ];
        for (json, want) in cases {
            match (validate_memory_policy(&memory_policy(json)), want) {
                (Ok(()), None) => {}
                (Err(e), Some(field)) => assert!(e.to_string().starts_with(field), "{json}: {e}"),
                (got, _) => panic!("{json}: {got:?}, want error on {want:?}"),
            }
        }
    }

    #[test]
    fn memory_policy_is_applied() {
        // Node 0 exists on every NUMA-enabled kernel; setting the policy of
        // one's own thread is unprivileged.
        let p = memory_policy(r#"{"mode":"MPOL_BIND","nodes":"0","flags":["MPOL_F_STATIC_NODES"]}"#);
        in_forked_child(|| {
            set_memory_policy(&p).map_err(|e| e.to_string())?;
            match sys::get_mempolicy() {
                Ok((mode, nodes)) if mode == sys::MPOL_BIND | sys::MPOL_F_STATIC_NODES && nodes[0] == 1 => Ok(()),
                other => Err(format!("get_mempolicy: {:?}", other.map(|(mode, nodes)| (mode, nodes[0])))),
            }
        })
        .unwrap();
    }
}
