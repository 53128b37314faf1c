//! Operations on a running container's cgroup: pause, resume, ps, stats
//! and update.

use oci_spec::runtime::LinuxResources;

use crate::error::{Error, Result};
use crate::ops::{status_of, Status};
use crate::state::{State, StateRoot};

fn cgroup(state: &State) -> Result<&husk_cgroups::Cgroup> {
    state.cgroup.as_ref().ok_or_else(|| Error::Unsupported { field: "linux.cgroupsPath", msg: "the container has no cgroup".into() })
}

/// Freezes every process of the container (status `paused`).
pub fn pause(root: &StateRoot, id: &str) -> Result<()> {
    let dir = root.open(id)?;
    let state = dir.load()?;
    match status_of(&state) {
        Status::Running | Status::Created => Ok(cgroup(&state)?.freeze()?),
        Status::Paused => Err(Error::WrongState { op: "pause", id: id.into(), status: "paused" }),
        _ => Err(Error::NotRunning),
    }
}

pub fn resume(root: &StateRoot, id: &str) -> Result<()> {
    let dir = root.open(id)?;
    let state = dir.load()?;
    match status_of(&state) {
        Status::Paused => Ok(cgroup(&state)?.thaw()?),
        status => Err(Error::WrongState { op: "resume", id: id.into(), status: status.as_str() }),
    }
}

/// Host pids of every process in the container.
pub fn pids(root: &StateRoot, id: &str) -> Result<Vec<i32>> {
    let state = root.read(id)?;
    if status_of(&state) == Status::Stopped {
        return Ok(Vec::new());
    }
    Ok(cgroup(&state)?.pids()?)
}

/// Resource usage, in the shape of runc's `events --stats` data.
pub fn stats(root: &StateRoot, id: &str) -> Result<husk_cgroups::Stats> {
    let state = root.read(id)?;
    if status_of(&state) == Status::Stopped {
        return Err(Error::NotRunning);
    }
    Ok(cgroup(&state)?.stats()?)
}

/// How many times the kernel's OOM killer hit the container so far.
pub fn oom_state(root: &StateRoot, id: &str) -> Result<husk_cgroups::OomState> {
    let state = root.read(id)?;
    Ok(cgroup(&state)?.oom_state()?)
}

pub fn is_stopped(root: &StateRoot, id: &str) -> Result<bool> {
    Ok(status_of(&root.read(id)?) == Status::Stopped)
}

/// Applies new limits and records them, so that later reads of the
/// container's configuration see them.
pub fn update(root: &StateRoot, id: &str, resources: &LinuxResources) -> Result<()> {
    let dir = root.open(id)?;
    let mut state = dir.load()?;
    if status_of(&state) == Status::Stopped {
        return Err(Error::NotRunning);
    }
    husk_cgroups::validate(Some(resources))?;
    cgroup(&state)?.update(resources)?;
    if let Some(linux) = state.config.linux_mut() {
        let merged = match linux.resources() {
            Some(old) => merge(old, resources)?,
            None => resources.clone(),
        };
        linux.set_resources(Some(merged));
    }
    dir.save(&state)
}

/// `update` changes only the fields it is given: overlay them, field by
/// field, on the recorded resources.
fn merge(old: &LinuxResources, new: &LinuxResources) -> Result<LinuxResources> {
    fn overlay(base: &mut serde_json::Value, top: serde_json::Value) {
        match (base, top) {
            (serde_json::Value::Object(b), serde_json::Value::Object(t)) => {
                for (k, v) in t {
                    overlay(b.entry(k).or_insert(serde_json::Value::Null), v);
                }
            }
            (_, serde_json::Value::Null) => {}
            (b, t) => *b = t,
        }
    }
    let encode = |r: &LinuxResources| serde_json::to_value(r).map_err(|e| Error::sys("encoding resources", std::io::Error::other(e)));
    let mut merged = encode(old)?;
    overlay(&mut merged, encode(new)?);
    serde_json::from_value(merged).map_err(|e| Error::sys("merging resources", std::io::Error::other(e)))
}

/// The container's current resources, the base `update` flags apply to.
pub fn current_resources(root: &StateRoot, id: &str) -> Result<LinuxResources> {
    let state = root.read(id)?;
    Ok(state.config.linux().as_ref().and_then(|l| l.resources().clone()).unwrap_or_default())
}
