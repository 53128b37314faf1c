//! Container lifecycle (runtime.md): create, start, state, kill, delete,
//! and the state directory that carries a container between husk calls.
//!
//! This crate orchestrates the others: configuration (`husk-config`), the
//! filesystem (`husk-rootfs`), process settings (`husk-process`), cgroups
//! (`husk-cgroups`) and seccomp (`husk-seccomp`).

mod create;
mod devices;
mod error;
mod exe_guard;
mod exec;
mod foreground;
mod hooks;
mod init;
mod namespaces;
mod ops;
mod proc;
mod resources;
mod spawn;
mod state;
mod sync;
mod time;

pub use create::{create, CreateOptions, Created};
pub use error::{Error, Result};
pub use exec::{exec, process_template, ExecOptions, Executed};
pub use foreground::wait_foreground;
pub use ops::{delete, kill, list, start, state, status_of, ContainerSummary, Status};
pub use resources::{current_resources, is_stopped, oom_state, pause, pids, resume, stats, update};
pub use state::{validate_id, StateRoot};
pub use time::rfc3339_seconds;

use std::path::Path;

use oci_spec::runtime::Spec;

/// A message for husk's log from the container's set-up.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub enum Notice {
    Debug(String),
    Warning(String),
}

/// The spec version husk implements, reported in states and `--version`.
pub const OCI_VERSION: &str = husk_config::OCI_VERSION_MAX;

/// The state document hooks receive on stdin (runtime.md "State").
pub(crate) fn hook_state(spec: &Spec, id: &str, pid: i32, bundle: &Path, status: &str) -> Vec<u8> {
    let doc = serde_json::json!({
        "ociVersion": OCI_VERSION,
        "id": id,
        "status": status,
        "pid": pid,
        "bundle": bundle,
        "annotations": spec.annotations().clone().unwrap_or_default(),
    });
    serde_json::to_vec(&doc).expect("a JSON value always serialises")
}

/// The container process state sent with a seccomp listener fd
/// (config-linux.md "Seccomp", `listenerPath`).
pub(crate) fn container_process_state(
    spec: &Spec,
    state: &state::State,
    metadata: Option<String>,
) -> oci_spec::runtime::ContainerProcessState {
    let mut s = oci_spec::runtime::ContainerProcessState::default();
    s.set_version(OCI_VERSION.to_string());
    s.set_fds(vec!["seccompFd".to_string()]);
    s.set_pid(state.init.pid);
    s.set_metadata(metadata);
    let mut st = oci_spec::runtime::State::default();
    st.set_version(OCI_VERSION.to_string());
    st.set_id(state.id.clone());
    st.set_status(oci_spec::runtime::ContainerState::Creating);
    st.set_pid(Some(state.init.pid));
    st.set_bundle(state.bundle.clone());
    st.set_annotations(spec.annotations().clone());
    s.set_state(st);
    s
}

/// The name of the user running husk, as runc reports it in `owner`.
pub(crate) fn owner_name() -> String {
    let uid = rustix::process::geteuid().as_raw();
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|text| {
            text.lines().find_map(|line| {
                let mut f = line.split(':');
                let name = f.next()?;
                (f.nth(1)?.parse::<u32>().ok()? == uid).then(|| name.to_string())
            })
        })
        .unwrap_or_else(|| uid.to_string())
}
