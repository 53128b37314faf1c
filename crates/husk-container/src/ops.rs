//! The operations on an existing container: state, start, kill, delete, list.

use std::time::Duration;

use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::fs::{Mode, OFlags};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::hooks::{self, HookKind};
use crate::namespaces;
use crate::state::{Phase, State, StateRoot};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

/// The user-visible status: what husk recorded, corrected by whether the
/// init still lives and whether its cgroup is frozen.
pub fn status_of(state: &State) -> Status {
    if state.phase == Phase::Creating {
        return if state.init.pid == 0 || state.init.is_alive() { Status::Creating } else { Status::Stopped };
    }
    if !state.init.is_alive() {
        return Status::Stopped;
    }
    if state.cgroup.as_ref().is_some_and(|c| c.is_frozen().unwrap_or(false)) {
        return Status::Paused;
    }
    match state.phase {
        Phase::Created => Status::Created,
        _ => Status::Running,
    }
}

/// What `state` and `list` print, in runc's shape.
#[derive(Debug, Serialize)]
pub struct ContainerSummary {
    #[serde(rename = "ociVersion")]
    pub oci_version: &'static str,
    pub id: String,
    pub pid: i32,
    pub status: &'static str,
    pub bundle: String,
    pub rootfs: String,
    pub created: String,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub annotations: std::collections::BTreeMap<String, String>,
    pub owner: String,
}

fn summary(state: State) -> ContainerSummary {
    let status = status_of(&state);
    ContainerSummary {
        oci_version: crate::OCI_VERSION,
        pid: if status == Status::Stopped { 0 } else { state.init.pid },
        status: status.as_str(),
        bundle: state.bundle.display().to_string(),
        rootfs: state.rootfs.display().to_string(),
        created: state.created,
        annotations: state.annotations,
        owner: state.owner,
        id: state.id,
    }
}

pub fn state(root: &StateRoot, id: &str) -> Result<ContainerSummary> {
    root.read(id).map(summary)
}

pub fn list(root: &StateRoot) -> Result<Vec<ContainerSummary>> {
    let mut out = Vec::new();
    for id in root.ids()? {
        match root.read(&id) {
            Ok(s) => out.push(summary(s)),
            // Removed meanwhile, or still being written by `create`.
            Err(Error::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// Releases the init: it runs the startContainer hooks and executes the user
/// program; then the poststart hooks run here. A failing poststart hook stops
/// the container (runtime spec 1.3).
pub fn start(root: &StateRoot, id: &str) -> Result<()> {
    let dir = root.open(id)?;
    let mut state = dir.load()?;
    match status_of(&state) {
        Status::Created => {}
        other => return Err(Error::WrongState { op: "start", id: id.into(), status: other.as_str() }),
    }
    let fifo_path = dir.fifo_path();
    let fifo = rustix::fs::open(&fifo_path, OFlags::WRONLY | OFlags::NONBLOCK | OFlags::CLOEXEC, Mode::empty()).map_err(|e| match e {
        rustix::io::Errno::NXIO => Error::Init("the container's init is gone".into()),
        e => Error::path("opening", &fifo_path, e),
    })?;
    rustix::io::write(&fifo, &[1]).map_err(|e| Error::path("writing", &fifo_path, e))?;
    // The init's read end is close-on-exec: the FIFO reports an error
    // condition once the user program has been executed (or the init died).
    loop {
        let mut fds = [PollFd::new(&fifo, PollFlags::empty())];
        match poll(&mut fds, None) {
            Ok(_) => break,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(Error::sys("waiting for the container to start", e)),
        }
    }
    drop(fifo);
    let _ = std::fs::remove_file(&fifo_path);
    if state.init.exited_before_exec() {
        return Err(Error::Init(
            "the container process exited before running its program (a startContainer hook failed? see its output)".into(),
        ));
    }
    state.phase = Phase::Started;
    dir.save(&state)?;
    let spec = &state.config;
    let hook_state = crate::hook_state(spec, id, state.init.pid, &state.bundle, "running");
    if let Err(e) = hooks::run(spec.hooks().as_ref(), HookKind::Poststart, &hook_state) {
        let _ = stop(&state);
        return Err(e);
    }
    Ok(())
}

/// Sends `signal` to the init, or with `all` to every process of the container.
pub fn kill(root: &StateRoot, id: &str, signal: i32, all: bool) -> Result<()> {
    let state = root.read(id)?;
    match status_of(&state) {
        Status::Stopped => return Err(Error::NotRunning),
        Status::Creating if state.init.pid == 0 => return Err(Error::NotRunning),
        _ => {}
    }
    if all {
        if let Some(cg) = &state.cgroup {
            cg.kill_all(signal)?;
            return Ok(());
        }
    }
    match state.init.signal(signal) {
        Ok(true) => Ok(()),
        Ok(false) => Err(Error::NotRunning),
        Err(e) => Err(Error::sys(format!("sending signal {signal}"), e)),
    }
}

/// Kills every process of the container and waits for the init to be gone.
fn stop(state: &State) -> Result<()> {
    let cgroup = state.cgroup.as_ref();
    // With a pid namespace of its own, killing the init kills the rest, with
    // no fork escaping; else every process of the cgroup is signalled, under
    // the freezer (which `state` sees as "paused" meanwhile).
    if !namespaces::creates_pid_namespace(&state.config) {
        if let Some(cg) = cgroup {
            let _ = cg.kill_all(libc::SIGKILL);
        }
    }
    let _ = state.init.signal(libc::SIGKILL);
    // The processes of a paused container only die once thawed.
    if let Some(cg) = cgroup {
        let _ = cg.thaw();
    }
    wait_gone(state, Duration::from_secs(10))
}

/// Waits until the init has exited, or is exiting: as the init of a pid
/// namespace it only finishes once its parent-less peers are reaped by
/// their parents, which may be waiting for us.
fn wait_gone(state: &State, limit: Duration) -> Result<()> {
    let Some(pidfd) = state.init.pidfd() else { return Ok(()) };
    let step = Timespec { tv_sec: 0, tv_nsec: 10_000_000 };
    let deadline = std::time::Instant::now() + limit;
    while state.init.is_alive() {
        if std::time::Instant::now() > deadline {
            return Err(Error::Init(format!("process {} did not exit after SIGKILL", state.init.pid)));
        }
        let mut fds = [PollFd::new(&pidfd, PollFlags::IN)];
        match poll(&mut fds, Some(&step)) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(Error::sys("waiting for the container to exit", e)),
        }
    }
    Ok(())
}

/// Deletes a stopped container (or, with `force`, any container), removing
/// everything `create` made, then runs the poststop hooks.
pub fn delete(root: &StateRoot, id: &str, force: bool) -> Result<Vec<String>> {
    let dir = root.open(id)?;
    let state = match dir.load() {
        Ok(s) => s,
        // Without a readable state there is nothing else to clean up.
        Err(Error::CorruptState { .. } | Error::NotFound(_)) if force => {
            dir.remove()?;
            return Ok(Vec::new());
        }
        Err(e) => return Err(e),
    };
    match status_of(&state) {
        Status::Stopped => {}
        // A created container never ran user code: delete it like runc does.
        Status::Created => stop(&state)?,
        Status::Creating | Status::Running | Status::Paused if force => stop(&state)?,
        status => return Err(Error::NotStopped(id.into(), status.as_str())),
    }
    let mut warnings = Vec::new();
    if let Some(cg) = &state.cgroup {
        cg.destroy()?;
    }
    let spec = &state.config;
    let hook_state = crate::hook_state(spec, id, state.init.pid, &state.bundle, "stopped");
    if let Err(e) = hooks::run(spec.hooks().as_ref(), HookKind::Poststop, &hook_state) {
        // runtime.md: a failing poststop hook is only a warning.
        warnings.push(e.to_string());
    }
    dir.remove()?;
    Ok(warnings)
}
