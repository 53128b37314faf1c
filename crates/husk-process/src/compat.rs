//! Spec-valid `process` JSON that the `oci-spec` 0.10 types reject, fixed
//! up before deserialising: unknown capability names (the spec wants a
//! warning, `oci-spec` fails the whole document) and the two scheduler flags
//! whose serde names differ from the spec's.

use oci_spec::runtime::Capability;
use serde_json::Value;

/// Spec spelling -> the spelling `oci_spec::runtime::LinuxSchedulerFlag`
/// deserialises.
const SCHEDULER_FLAG_SPELLINGS: [(&str, &str); 2] = [
    ("SCHED_FLAG_RESET_ON_FORK", "SCHED_RESET_ON_FORK"),
    ("SCHED_FLAG_DL_OVERRUN", "SCHED_FLAG_D_L_OVERRUN"),
];

const CAPABILITY_SETS: [&str; 5] = ["bounding", "effective", "inheritable", "permitted", "ambient"];

/// Prepares a `process` object (from `config.json` or `exec --process`) for
/// deserialisation into `oci_spec::runtime::Process`: drops capability names
/// this build does not know, returning one warning for each, and maps the
/// spec's scheduler flag names to the ones `oci-spec` expects. Anything that
/// is not shaped as expected is left for the deserialiser to report.
pub fn normalize_process_json(process: &mut Value) -> Vec<String> {
    let mut warnings = Vec::new();
    if let Some(caps) = process.get_mut("capabilities").and_then(Value::as_object_mut) {
        for set in CAPABILITY_SETS {
            let Some(names) = caps.get_mut(set).and_then(Value::as_array_mut) else { continue };
            let mut index = 0;
            names.retain(|name| {
                let unknown = name.is_string() && serde_json::from_value::<Capability>(name.clone()).is_err();
                if unknown {
                    warnings.push(format!("process.capabilities.{set}[{index}]: unknown capability {name}; ignored"));
                }
                index += 1;
                !unknown
            });
        }
    }
    if let Some(flags) = process.pointer_mut("/scheduler/flags").and_then(Value::as_array_mut) {
        for flag in flags {
            if let Some((_, accepted)) = SCHEDULER_FLAG_SPELLINGS.iter().find(|(spec, _)| flag.as_str() == Some(spec)) {
                *flag = Value::from(*accepted);
            }
        }
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{LinuxSchedulerFlag, Process};

    #[test]
    fn unknown_capabilities_are_dropped_with_a_warning() {
        let mut json = serde_json::json!({
            "user": {"uid": 0, "gid": 0}, "cwd": "/", "args": ["sh"],
            "capabilities": {"bounding": ["CAP_KILL", "CAP_FROB", "net_raw"], "ambient": ["CAP_NOPE"]}
        });
        let warnings = normalize_process_json(&mut json);
        assert_eq!(
            warnings,
            [
                r#"process.capabilities.bounding[1]: unknown capability "CAP_FROB"; ignored"#,
                r#"process.capabilities.ambient[0]: unknown capability "CAP_NOPE"; ignored"#,
            ]
        );
        let process: Process = serde_json::from_value(json).expect("normalised process parses");
        let bounding = process.capabilities().as_ref().unwrap().bounding().as_ref().unwrap();
        assert_eq!(bounding.len(), 2);
    }

    #[test]
    fn every_spec_scheduler_flag_parses_after_normalising() {
        let spec_flags = [
            "SCHED_FLAG_RESET_ON_FORK",
            "SCHED_FLAG_RECLAIM",
            "SCHED_FLAG_DL_OVERRUN",
            "SCHED_FLAG_KEEP_POLICY",
            "SCHED_FLAG_KEEP_PARAMS",
            "SCHED_FLAG_UTIL_CLAMP_MIN",
            "SCHED_FLAG_UTIL_CLAMP_MAX",
        ];
        let mut json = serde_json::json!({
            "user": {"uid": 0, "gid": 0}, "cwd": "/", "args": ["sh"],
            "scheduler": {"policy": "SCHED_OTHER", "flags": spec_flags}
        });
        assert!(normalize_process_json(&mut json).is_empty());
        let process: Process = serde_json::from_value(json).expect("normalised process parses");
        let flags = process.scheduler().as_ref().unwrap().flags().as_ref().unwrap();
        assert_eq!(flags.len(), 7);
        assert_eq!(flags[0], LinuxSchedulerFlag::SchedResetOnFork);
        assert_eq!(flags[2], LinuxSchedulerFlag::SchedFlagDLOverrun);
    }
}
