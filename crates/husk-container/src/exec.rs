//! `exec`: a new process in a running container. It joins every namespace
//! of the container and its cgroup, and gets its own process settings plus
//! the container's seccomp filter.

use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;

use oci_spec::runtime::{LinuxNamespaceType, Process};
use rustix::fs::{Mode, OFlags, ResolveFlags};

use crate::error::{Error, Result};
use crate::namespaces::Plan;
use crate::ops::{status_of, Status};
use crate::spawn::{self, Spawned};
use crate::state::StateRoot;
use crate::sync::{self, Channel, Msg};

pub struct ExecOptions {
    pub id: String,
    pub process: Process,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub preserve_fds: u32,
    pub ignore_paused: bool,
    /// A sub-cgroup of the container's to run in (`--cgroup`).
    pub sub_cgroup: Option<String>,
    /// Keep the pty master for a foreground proxy.
    pub foreground: bool,
}

pub struct Executed {
    pub pid: i32,
    pub console: Option<OwnedFd>,
    pub notices: Vec<crate::Notice>,
}

/// The process `exec` runs when given only arguments: the container's own
/// process settings (user, env, cwd, capabilities...) as a template.
pub fn process_template(root: &StateRoot, id: &str) -> Result<Process> {
    let state = root.read(id)?;
    Ok(state.config.process().clone().unwrap_or_default())
}

pub fn exec(root: &StateRoot, opts: &ExecOptions) -> Result<Executed> {
    crate::exe_guard::hide_husk()?;
    let state = root.read(&opts.id)?;
    match status_of(&state) {
        Status::Running | Status::Created => {}
        Status::Paused if opts.ignore_paused => {}
        Status::Paused => return Err(Error::WrongState { op: "exec in", id: opts.id.clone(), status: "paused" }),
        other => return Err(Error::WrongState { op: "exec in", id: opts.id.clone(), status: other.as_str() }),
    }
    let process = &opts.process;
    husk_config::validate_process(process)?;
    let mut notices: Vec<crate::Notice> = husk_process::validate(process)?.into_iter().map(crate::Notice::Warning).collect();
    let terminal = process.terminal().unwrap_or(false);
    crate::create::check_terminal_options(terminal, opts.console_socket.is_some(), opts.foreground)?;
    let spec = &state.config;
    let plan = Plan::joining(state.init.pid, spec)?;
    let console_socket = opts.console_socket.as_deref().map(crate::create::connect_console_socket).transpose()?;
    let (parent, child) = sync::pair().map_err(|e| Error::sys("socketpair", e))?;
    let husk_binary = crate::exe_guard::FileId::husk_binary().map_err(|e| Error::sys("stat /proc/self/exe", e))?;
    let affinity = process.exec_cpu_affinity().as_ref();
    let cgroup_dir = state.cgroup.as_ref().filter(|_| opts.sub_cgroup.is_none()).and_then(|c| c.unified_dir());
    let spawned = spawn::fork(&plan, cgroup_dir.as_ref().map(|f| f.as_fd()), &child, affinity.and_then(|a| a.initial().as_deref()))?;
    let (first, direct, placed) = match spawned {
        Spawned::Child => run_child(spec, process, &child, console_socket, opts.preserve_fds, husk_binary),
        Spawned::Parent { first, direct, placed } => (first, direct, placed),
    };
    drop(child);
    drop(console_socket);
    let mut started = Started(None);
    let pid = spawn::finish(&parent, (first, direct), &plan, spec, |pid| started.0 = Some(pid))?;
    if !placed {
        if let Some(cg) = &state.cgroup {
            match &opts.sub_cgroup {
                Some(sub) => cg.add_process_to(pid, sub)?,
                None => cg.add_process(pid)?,
            }
        }
    }
    parent.send(&Msg::InitPid(pid)).map_err(|e| Error::sys("sending to the process", e))?;
    parent.send(&Msg::Proceed).map_err(|e| Error::sys("sending to the process", e))?;
    let console = drive(&parent, spec, &state, &mut notices)?;
    started.0 = None;
    if let Some(path) = &opts.pid_file {
        crate::create::write_pid_file(path, pid)?;
    }
    Ok(Executed { pid, console, notices })
}

/// Kills the half-started process when `exec` fails.
struct Started(Option<i32>);

impl Drop for Started {
    fn drop(&mut self) {
        if let Some(pid) = self.0.and_then(rustix::process::Pid::from_raw) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            let _ = rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::empty());
        }
    }
}

/// Serves the process until it has executed its program: its end of the
/// channel is close-on-exec, so end-of-file means success.
fn drive(
    channel: &Channel,
    spec: &oci_spec::runtime::Spec,
    state: &crate::state::State,
    notices: &mut Vec<crate::Notice>,
) -> Result<Option<OwnedFd>> {
    let mut console = None;
    loop {
        match channel.recv().map_err(|e| Error::sys("receiving from the process", e))? {
            Some((Msg::ConsoleMaster, fd)) => console = fd,
            Some((Msg::Log(notice), _)) => notices.push(notice),
            Some((Msg::SeccompListener, Some(fd))) => {
                crate::create::forward_seccomp_listener(spec, state, fd)?;
                channel.send(&Msg::Proceed).map_err(|e| Error::sys("sending to the process", e))?;
            }
            Some((Msg::Ready, _)) => {}
            Some((Msg::Failed(msg), _)) => return Err(Error::Init(msg)),
            Some((other, _)) => return Err(Error::Init(format!("unexpected message {other:?}"))),
            None => return Ok(console),
        }
    }
}

fn run_child(
    spec: &oci_spec::runtime::Spec,
    process: &Process,
    channel: &Channel,
    console_socket: Option<OwnedFd>,
    preserve_fds: u32,
    husk_binary: crate::exe_guard::FileId,
) -> ! {
    husk_sys::clone::reset_signals();
    let result = (|| -> Result<husk_process::ExecPlan> {
        crate::init::begin(channel)?;
        if let Some(cpus) = process.exec_cpu_affinity().as_ref().and_then(|a| a.cpu_affinity_final().as_deref()) {
            husk_process::set_cpu_affinity(cpus, "process.execCPUAffinity.final")?;
        }
        if process.terminal().unwrap_or(false) {
            let slave = crate::init::attach_terminal(process, open_ptmx()?, console_socket.as_ref(), channel)?;
            husk_process::terminal::make_controlling(slave.as_fd())?;
        }
        let plan = crate::init::setup_process(spec, process, channel, preserve_fds, husk_binary)?;
        channel.send(&Msg::Ready).map_err(|e| Error::sys("sending to husk", e))?;
        Ok(plan)
    })();
    match result {
        Ok(plan) => {
            let err = husk_process::exec(&plan);
            let _ = channel.send(&Msg::Failed(err.to_string()));
        }
        Err(e) => {
            let _ = channel.send(&Msg::Failed(e.to_string()));
        }
    }
    husk_sys::clone::exit_now(1)
}

/// The container's `/dev/ptmx`, resolved inside the container's root (which
/// joining its mount namespace made ours) without following magic links.
fn open_ptmx() -> Result<OwnedFd> {
    rustix::fs::openat2(
        rustix::fs::CWD,
        "/dev/ptmx",
        OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    )
    .map_err(|e| Error::path("opening", "/dev/ptmx", e))
}

impl Plan {
    /// Every namespace of a running container, to be joined through the
    /// init's `/proc/<pid>/ns` links.
    pub(crate) fn joining(init_pid: i32, spec: &oci_spec::runtime::Spec) -> Result<Plan> {
        let namespaces = spec.linux().as_ref().and_then(|l| l.namespaces().as_ref());
        let mut joins = Vec::new();
        for ns in namespaces.map(|v| v.as_slice()).unwrap_or_default() {
            let name = match ns.typ() {
                LinuxNamespaceType::Mount => "mnt",
                LinuxNamespaceType::Cgroup => "cgroup",
                LinuxNamespaceType::Uts => "uts",
                LinuxNamespaceType::Ipc => "ipc",
                LinuxNamespaceType::User => "user",
                LinuxNamespaceType::Pid => "pid",
                LinuxNamespaceType::Network => "net",
                LinuxNamespaceType::Time => "time",
            };
            let path = format!("/proc/{init_pid}/ns/{name}");
            let fd = rustix::fs::open(&path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()).map_err(|e| Error::path("opening", &path, e))?;
            joins.push((ns.typ(), fd));
        }
        let root_path = format!("/proc/{init_pid}/root");
        let root = rustix::fs::open(&root_path, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| Error::path("opening", &root_path, e))?;
        Ok(Plan { root: Some(root), ..Plan::from_joins(joins) })
    }
}
