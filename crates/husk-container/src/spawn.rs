//! Forking the processes husk starts in a container (the init, and `exec`'d
//! processes) into their namespaces and cgroup, without re-executing husk.

use std::os::fd::BorrowedFd;

use oci_spec::runtime::{LinuxNamespaceType, Spec};

use crate::error::{Error, Result};
use crate::namespaces::{self, Plan};
use crate::sync::{Channel, Msg};

pub(crate) enum Spawned {
    /// We are the new process (possibly after an intermediate fork).
    Child,
    /// We are husk; the first forked process has this pid.
    Parent { first: i32, direct: bool, placed: bool },
}

/// Forks directly into the new namespaces when possible; otherwise forks an
/// intermediate process that enters and creates namespaces, then forks the
/// target as husk's child (CLONE_PARENT). `affinity` is applied before the
/// target joins the container's cgroup (`execCPUAffinity.initial`).
pub(crate) fn fork(plan: &Plan, cgroup: Option<BorrowedFd<'_>>, channel: &Channel, affinity: Option<&str>) -> Result<Spawned> {
    use husk_sys::clone::{exit_now, fork_with, Forked};
    let direct = !plan.needs_intermediate() && affinity.is_none();
    let flags = if direct { plan.clone_flags() } else { 0 };
    let (forked, placed) = fork_with(flags, if direct { cgroup } else { None }).map_err(|e| Error::sys("clone3", e))?;
    match forked {
        Forked::Parent(first) => return Ok(Spawned::Parent { first, direct, placed }),
        Forked::Child if direct => return Ok(Spawned::Child),
        Forked::Child => {}
    }
    // The intermediate process.
    let fail = |msg: String| -> ! {
        let _ = channel.send(&Msg::Failed(msg));
        exit_now(1)
    };
    if let Some(cpus) = affinity {
        if let Err(e) = husk_process::set_cpu_affinity(cpus, "process.execCPUAffinity.initial") {
            fail(e.to_string());
        }
    }
    if let Err(e) = plan.enter() {
        fail(format!("entering namespaces: {e}"));
    }
    if plan.creates(LinuxNamespaceType::User) || plan.creates(LinuxNamespaceType::Time) {
        if let Err(e) = channel.send(&Msg::Unshared) {
            fail(format!("sending to husk: {e}"));
        }
        if crate::init::expect_proceed(channel).is_err() {
            exit_now(1);
        }
    }
    match fork_with(libc::CLONE_PARENT as u64, None) {
        Ok((Forked::Child, _)) => Ok(Spawned::Child),
        Ok((Forked::Parent(pid), _)) => {
            let _ = channel.send(&Msg::InitPid(pid));
            exit_now(0)
        }
        Err(e) => fail(format!("forking: {e}")),
    }
}

/// The parent's side of [`fork`]: maps user namespaces, writes time offsets,
/// reaps the intermediate, and returns the target's pid. `on_pid` is told
/// each pid as soon as it is known, so a failure can kill it.
pub(crate) fn finish(channel: &Channel, spawned: (i32, bool), plan: &Plan, spec: &Spec, mut on_pid: impl FnMut(i32)) -> Result<i32> {
    let (first, direct) = spawned;
    on_pid(first);
    if direct {
        if plan.creates(LinuxNamespaceType::User) {
            namespaces::write_id_maps(first, spec)?;
        }
        return Ok(first);
    }
    let target = loop {
        match channel.recv().map_err(|e| Error::sys("receiving from the container process", e))? {
            Some((Msg::Unshared, _)) => {
                if plan.creates(LinuxNamespaceType::User) {
                    namespaces::write_id_maps(first, spec)?;
                }
                if plan.creates(LinuxNamespaceType::Time) {
                    namespaces::write_time_offsets(first, spec)?;
                }
                channel.send(&Msg::Proceed).map_err(|e| Error::sys("sending to the container process", e))?;
            }
            Some((Msg::InitPid(pid), _)) => break pid,
            Some((Msg::Failed(msg), _)) => return Err(Error::Init(msg)),
            Some((other, _)) => return Err(Error::Init(format!("unexpected message {other:?}"))),
            None => return Err(Error::Init("the container process exited during set-up".into())),
        }
    };
    // The intermediate exits as soon as it has forked the target.
    let _ = rustix::process::waitpid(rustix::process::Pid::from_raw(first), rustix::process::WaitOptions::empty());
    on_pid(target);
    Ok(target)
}
