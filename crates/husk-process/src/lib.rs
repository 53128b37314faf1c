//! Setting up the container process from inside the container's init (or a
//! process joining it with `husk exec`): resource limits, personality,
//! scheduling, no-new-privileges, user, capabilities, working directory,
//! program resolution and `execve`, plus the terminal (pty, console socket,
//! foreground proxy).
//!
//! Everything except [`validate`], [`validate_personality`],
//! [`validate_memory_policy`], [`parse_user_spec`], [`parse_cpu_list`],
//! and [`capability_names`] changes the calling
//! process and expects to run single-threaded, in the order `set_rlimits`,
//! `set_personality`, `set_memory_policy`, `set_scheduler`, `set_io_priority`,
//! `set_no_new_privileges`, `switch_user`, `change_dir`, `apply_capabilities`,
//! `resolve_exec`, `exec`.

mod caps;
mod error;
mod exec;
mod rlimits;
mod sched;
pub mod terminal;
mod user;

#[cfg(test)]
mod testing;

pub use caps::{apply_capabilities, capability_names, set_no_new_privileges};
pub use error::Error;
pub use exec::{change_dir, exec, find_program, resolve_exec, ExecPlan, DEFAULT_PATH};
pub use rlimits::set_rlimits;
pub use sched::{
    MEMORY_POLICY_FLAGS, MEMORY_POLICY_MODES,
    parse_cpu_list, set_cpu_affinity, set_io_priority, set_memory_policy, set_personality, set_scheduler,
    validate_memory_policy, validate_personality,
};
pub use user::{parse_user_spec, switch_user};

use oci_spec::runtime::Process;

/// Checks `process` without side effects: an error for values that are
/// invalid or cannot be honoured (duplicate rlimits, impossible scheduler
/// settings, ids the kernel would misread, empty `args`, ...), and the
/// warnings the spec asks for (capabilities that can never be granted, e.g.
/// unknown to the running kernel). `linux.personality` and
/// `linux.memoryPolicy` live outside `process`; check them with
/// [`validate_personality`] and [`validate_memory_policy`].
pub fn validate(process: &Process) -> Result<Vec<String>, Error> {
    exec::validate(process)?;
    rlimits::validate(process)?;
    user::validate(process.user())?;
    if let Some(scheduler) = process.scheduler() {
        sched::validate_scheduler(scheduler)?;
    }
    sched::validate_io_priority(process)?;
    sched::validate_cpu_affinity(process)?;
    if let Some(size) = process.console_size().filter(|_| process.terminal() == Some(true)) {
        if size.height() > u64::from(u16::MAX) || size.width() > u64::from(u16::MAX) {
            return Err(Error::invalid(
                "process.consoleSize",
                format!("{}x{}", size.height(), size.width()),
                "height and width must be at most 65535",
            ));
        }
    }
    caps::warnings(process.capabilities().as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::process_from_json;

    #[test]
    fn a_typical_process_validates_without_warnings() {
        let process = process_from_json(
            r#"{"terminal":true,"consoleSize":{"height":25,"width":80},"user":{"uid":1,"gid":1,"umask":63,"additionalGids":[5,6]},
                "env":["PATH=/usr/bin:/bin","TERM=xterm"],"cwd":"/root","args":["sh"],
                "ioPriority":{"class":"IOPRIO_CLASS_IDLE","priority":4},"noNewPrivileges":true,
                "capabilities":{"bounding":["CAP_AUDIT_WRITE","CAP_KILL","CAP_NET_BIND_SERVICE"],
                    "permitted":["CAP_AUDIT_WRITE","CAP_KILL","CAP_NET_BIND_SERVICE"],
                    "inheritable":["CAP_AUDIT_WRITE","CAP_KILL","CAP_NET_BIND_SERVICE"],
                    "effective":["CAP_AUDIT_WRITE","CAP_KILL"],"ambient":["CAP_NET_BIND_SERVICE"]},
                "rlimits":[{"type":"RLIMIT_NOFILE","hard":1024,"soft":1024}]}"#,
        );
        assert_eq!(validate(&process).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn validation_names_the_offending_field() {
        let cases = [
            (r#"{"cwd":"/","args":["sh"],"user":{"uid":4294967295,"gid":0}}"#, "process.user.uid"),
            (r#"{"cwd":"/","args":["sh"],"user":{"uid":0,"gid":0},"scheduler":{"policy":"SCHED_RR"}}"#, "process.scheduler.priority"),
            (r#"{"cwd":"/","args":["sh"],"user":{"uid":0,"gid":0},"execCPUAffinity":{"final":"3-1"}}"#, "process.execCPUAffinity.final"),
            (r#"{"cwd":"/","args":["sh"],"user":{"uid":0,"gid":0},"terminal":true,"consoleSize":{"height":70000,"width":80}}"#, "process.consoleSize"),
        ];
        for (json, field) in cases {
            match serde_json::from_str::<Process>(json) {
                Ok(process) => {
                    let err = validate(&process).unwrap_err().to_string();
                    assert!(err.starts_with(field), "{json}: {err}");
                }
                // oci-spec already rejects some malformed values at parse time.
                Err(e) => assert!(field == "process.execCPUAffinity.final", "{json}: {e}"),
            }
        }
    }

    #[test]
    fn console_size_is_ignored_without_terminal() {
        let process = process_from_json(r#"{"cwd":"/","args":["sh"],"user":{"uid":0,"gid":0},"consoleSize":{"height":70000,"width":80}}"#);
        assert!(validate(&process).is_ok());
    }

    #[test]
    fn full_sequence_reaches_the_program_with_the_configured_credentials() {
        if !crate::testing::require_root() {
            return;
        }
        // The init's order, ending in a real execve: the program reports its
        // own ids and capability sets, as a container process would see them.
        let scratch = crate::testing::ScratchDir::new("sequence");
        let dir = scratch.path();
        std::os::unix::fs::chown(dir, Some(1000), Some(1000)).unwrap();
        let report = dir.join("status");
        let process = process_from_json(&format!(
            r#"{{"cwd":"{dir}","user":{{"uid":1000,"gid":1000,"additionalGids":[44]}},"noNewPrivileges":true,
                "env":["PATH=/usr/bin:/bin"],"args":["sh","-c","grep -E '^(Uid|Gid|Groups|Cap|NoNewPrivs)' /proc/self/status > status"],
                "rlimits":[{{"type":"RLIMIT_NOFILE","soft":512,"hard":512}}],
                "capabilities":{{"bounding":["CAP_NET_BIND_SERVICE","CAP_KILL"],"permitted":["CAP_NET_BIND_SERVICE"],
                    "effective":["CAP_NET_BIND_SERVICE"],"inheritable":["CAP_NET_BIND_SERVICE"],"ambient":["CAP_NET_BIND_SERVICE"]}}}}"#,
            dir = dir.display()
        ));
        assert_eq!(validate(&process).unwrap(), Vec::<String>::new());
        crate::testing::in_forked_child(|| {
            let run = || -> Result<Error, Error> {
                set_rlimits(&process)?;
                set_no_new_privileges()?;
                switch_user(process.user())?;
                apply_capabilities(process.capabilities().as_ref())?;
                change_dir(&process.cwd().to_string_lossy())?;
                Ok(exec(&resolve_exec(&process)?))
            };
            Err(match run() {
                Ok(exec_error) | Err(exec_error) => exec_error.to_string(),
            })
        })
        .unwrap();
        let status = std::fs::read_to_string(&report).unwrap();
        let net_bind_service = format!("{:016x}", 1u64 << 10);
        let bounding = format!("{:016x}", (1u64 << 10) | (1 << 5));
        for want in [
            "Uid:\t1000\t1000\t1000\t1000".to_string(),
            "Gid:\t1000\t1000\t1000\t1000".to_string(),
            "Groups:\t44".to_string(),
            format!("CapInh:\t{net_bind_service}"),
            format!("CapPrm:\t{net_bind_service}"),
            format!("CapEff:\t{net_bind_service}"),
            format!("CapBnd:\t{bounding}"),
            format!("CapAmb:\t{net_bind_service}"),
            "NoNewPrivs:\t1".to_string(),
        ] {
            assert!(status.lines().any(|l| l.trim_end() == want), "missing {want:?} in\n{status}");
        }
    }
}
