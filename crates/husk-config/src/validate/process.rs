//! `process`: the spec's MUSTs on what to run and where. The values the
//! process set-up applies (user, rlimit values, scheduler, affinity, ...) are
//! checked by husk-process.

use oci_spec::runtime::{PosixRlimitType, Process};

use super::check_absolute_path;
use crate::ConfigError;

pub(super) fn check(process: &Process) -> Result<(), ConfigError> {
    match process.args().as_deref() {
        None | Some([]) => {
            return Err(ConfigError::invalid("process.args", "at least one entry is required: the program to run"))
        }
        Some([program, ..]) if program.is_empty() => {
            return Err(ConfigError::invalid("process.args[0]", "the program to run must not be empty"))
        }
        Some(args) => {
            if let Some(index) = args.iter().position(|arg| arg.contains('\0')) {
                return Err(ConfigError::invalid(format!("process.args[{index}]"), "contains a NUL byte"));
            }
        }
    }
    check_absolute_path("process.cwd", process.cwd())?;
    check_rlimits_unique(process)?;
    if let Some(adj) = process.oom_score_adj() {
        if !(-1000..=1000).contains(&adj) {
            return Err(ConfigError::invalid(
                "process.oomScoreAdj",
                format!("{adj} is outside the kernel's range -1000..=1000"),
            ));
        }
    }
    Ok(())
}

fn check_rlimits_unique(process: &Process) -> Result<(), ConfigError> {
    let Some(rlimits) = process.rlimits() else { return Ok(()) };
    let mut seen: Vec<(PosixRlimitType, usize)> = Vec::with_capacity(rlimits.len());
    for (index, rlimit) in rlimits.iter().enumerate() {
        let kind = rlimit.typ();
        if let Some((_, first)) = seen.iter().find(|(seen_kind, _)| *seen_kind == kind) {
            return Err(ConfigError::invalid(
                format!("process.rlimits[{index}].type"),
                format!("{} is already set by process.rlimits[{first}]; each type may appear once", rlimit_name(kind)),
            ));
        }
        seen.push((kind, index));
    }
    Ok(())
}

fn rlimit_name(kind: PosixRlimitType) -> String {
    serde_json::to_value(kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_else(|| format!("{kind:?}"))
}
