//! `create`: everything up to a container whose init is blocked before the
//! user program. On any failure, nothing the attempt made is left behind.

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxNamespaceType, Spec};
use rustix::fs::{Mode, OFlags};

use crate::error::{Error, Result};
use crate::hooks::{self, HookKind};
use crate::init::{self, InitArgs};
use crate::namespaces::{self, Plan};
use crate::spawn::{self, Spawned};
use crate::proc::ProcessIdentity;
use crate::state::{ContainerDir, Phase, State, StateRoot};
use crate::sync::{self, Channel, Msg};

pub struct CreateOptions {
    pub id: String,
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: u32,
    /// Socket-activation descriptors among the preserved ones (`LISTEN_FDS`).
    pub listen_fds: u32,
    /// The caller's sd_notify socket (`NOTIFY_SOCKET`), made reachable
    /// inside the container.
    pub notify_socket: Option<PathBuf>,
    pub systemd_cgroup: bool,
    /// `run` in the foreground with a terminal and no console socket: husk
    /// keeps the pty master and proxies it.
    pub foreground: bool,
}

pub struct Created {
    pub pid: i32,
    /// The pty master, for a foreground container with a terminal.
    pub console: Option<OwnedFd>,
    /// What the user should know: ignored config entries and the like.
    pub notices: Vec<crate::Notice>,
}

pub fn create(root: &StateRoot, opts: &CreateOptions) -> Result<Created> {
    crate::exe_guard::hide_husk()?;
    let bundle = std::fs::canonicalize(&opts.bundle).map_err(|e| Error::path("bundle", &opts.bundle, e))?;
    let loaded = husk_config::load_with_warnings(&bundle)?;
    let mut spec = loaded.spec;
    pass_activation_environment(&mut spec, opts);
    let mut notices: Vec<crate::Notice> = loaded.warnings.iter().map(|w| crate::Notice::Warning(w.to_string())).collect();
    validate(&spec, opts, &mut notices)?;
    let plan = Plan::from_spec(&spec)?;
    let rootfs = rootfs_path(&spec, &bundle)?;

    let mut attempt = Attempt { dir: Some(root.create(&opts.id)?), cgroup: None, init: None };
    let mut state = State {
        id: opts.id.clone(),
        phase: Phase::Creating,
        init: ProcessIdentity::default(),
        creator: ProcessIdentity::current(),
        bundle: bundle.clone(),
        rootfs,
        created: crate::time::rfc3339(std::time::SystemTime::now()),
        owner: crate::owner_name(),
        annotations: spec.annotations().clone().unwrap_or_default().into_iter().collect(),
        cgroup: None,
        config: spec.clone(),
    };
    attempt.dir().save(&state)?;

    let cgroup = husk_cgroups::Cgroup::create(
        spec.linux().as_ref().and_then(|l| l.cgroups_path().as_deref()),
        &opts.id,
        crate::devices::effective_resources(&spec).as_ref(),
        opts.systemd_cgroup,
    )?;
    state.cgroup = Some(cgroup.clone());
    attempt.cgroup = Some(cgroup.clone());
    attempt.dir().save(&state)?;

    let fifo = make_exec_fifo(attempt.dir())?;
    let console_socket = opts.console_socket.as_deref().map(connect_console_socket).transpose()?;
    let (parent, child) = sync::pair().map_err(|e| Error::sys("socketpair", e))?;
    let husk_binary = crate::exe_guard::FileId::husk_binary().map_err(|e| Error::sys("stat /proc/self/exe", e))?;

    let args = InitArgs {
        spec: &spec,
        bundle: &bundle,
        id: &opts.id,
        plan: &plan,
        channel: child,
        fifo,
        console_socket,
        no_pivot: opts.no_pivot,
        no_new_keyring: opts.no_new_keyring,
        preserve_fds: opts.preserve_fds,
        husk_binary,
    };
    let init_pid = spawn(args, &plan, &spec, &bundle, &cgroup, &parent, &mut attempt)?;
    state.init = ProcessIdentity::of(init_pid).ok_or_else(|| Error::Init("the init exited during set-up".into()))?;
    attempt.dir().save(&state)?;

    let console = drive(&parent, &spec, &state, &mut notices)?;

    state.phase = Phase::Created;
    attempt.dir().save(&state)?;
    if let Some(path) = &opts.pid_file {
        write_pid_file(path, init_pid)?;
    }
    attempt.disarm();
    Ok(Created { pid: init_pid, console, notices })
}

/// Where the caller's sd_notify socket appears inside the container.
const CONTAINER_NOTIFY_SOCKET: &str = "/run/notify/notify.sock";

/// Socket activation and sd_notify, as systemd-style supervisors (podman
/// `--sdnotify=container`) expect: the container process learns about the
/// descriptors it inherited, and finds the notify socket bind-mounted at a
/// fixed path.
fn pass_activation_environment(spec: &mut Spec, opts: &CreateOptions) {
    let mut env = Vec::new();
    if opts.listen_fds > 0 && namespaces::creates_pid_namespace(spec) {
        env.push(format!("LISTEN_FDS={}", opts.listen_fds));
        env.push("LISTEN_PID=1".to_string());
    }
    if let Some(socket) = opts.notify_socket.as_ref().filter(|p| p.is_absolute()) {
        env.push(format!("NOTIFY_SOCKET={CONTAINER_NOTIFY_SOCKET}"));
        let mut mount = oci_spec::runtime::Mount::default();
        mount
            .set_destination(CONTAINER_NOTIFY_SOCKET.into())
            .set_typ(Some("bind".into()))
            .set_source(Some(socket.clone()))
            .set_options(Some(vec!["bind".into(), "nosuid".into(), "nodev".into(), "noexec".into()]));
        let mut mounts = spec.mounts().clone().unwrap_or_default();
        mounts.push(mount);
        spec.set_mounts(Some(mounts));
    }
    if env.is_empty() {
        return;
    }
    if let Some(process) = spec.process_mut() {
        let mut all = process.env().clone().unwrap_or_default();
        all.retain(|kv| !env.iter().any(|e| e.split('=').next() == kv.split('=').next()));
        all.extend(env);
        process.set_env(Some(all));
    }
}

fn validate(spec: &Spec, opts: &CreateOptions, notices: &mut Vec<crate::Notice>) -> Result<()> {
    let linux = spec.linux().as_ref();
    let namespaces = linux.and_then(|l| l.namespaces().as_ref());
    let has_ns = |k: LinuxNamespaceType| namespaces.is_some_and(|v| v.iter().any(|n| n.typ() == k));
    if !has_ns(LinuxNamespaceType::Mount) {
        return Err(Error::Unsupported {
            field: "linux.namespaces",
            msg: "a mount namespace is required (husk never changes the host's mount table)".into(),
        });
    }
    husk_rootfs::validate(spec, has_ns(LinuxNamespaceType::User))?;
    if let Some(p) = linux.and_then(|l| l.personality().as_ref()) {
        husk_process::validate_personality(p)?;
    }
    if let Some(policy) = linux.and_then(|l| l.memory_policy().as_ref()) {
        husk_process::validate_memory_policy(policy)?;
    }
    if let Some(process) = spec.process() {
        notices.extend(husk_process::validate(process)?.into_iter().map(crate::Notice::Warning));
        check_terminal_options(process.terminal().unwrap_or(false), opts.console_socket.is_some(), opts.foreground)?;
    } else {
        return Err(Error::Unsupported { field: "process", msg: "is required: husk prepares the process at create time".into() });
    }
    husk_cgroups::validate(linux.and_then(|l| l.resources().as_ref()))?;
    if let Some(seccomp) = linux.and_then(|l| l.seccomp().as_ref()) {
        husk_seccomp::validate(seccomp)?;
    }
    Ok(())
}

/// A terminal needs somewhere to go (a console socket, or husk itself in the
/// foreground), and a console socket needs a terminal to receive.
pub(crate) fn check_terminal_options(terminal: bool, console_socket: bool, foreground: bool) -> Result<()> {
    if terminal && !console_socket && !foreground {
        return Err(Error::Unsupported {
            field: "process.terminal",
            msg: "cannot allocate a terminal when husk detaches without --console-socket".into(),
        });
    }
    if !terminal && console_socket {
        return Err(Error::Unsupported {
            field: "process.terminal",
            msg: "--console-socket was given but the process has no terminal".into(),
        });
    }
    Ok(())
}

fn rootfs_path(spec: &Spec, bundle: &Path) -> Result<PathBuf> {
    let root = spec.root().as_ref().ok_or_else(|| husk_config::ConfigError::invalid("root", "is required"))?;
    let path = bundle.join(root.path());
    std::fs::canonicalize(&path).map_err(|e| Error::path("root.path", path, e))
}

/// Undoes a failed `create`: kills the init, removes the cgroup and the
/// state directory.
struct Attempt {
    dir: Option<ContainerDir>,
    cgroup: Option<husk_cgroups::Cgroup>,
    init: Option<i32>,
}

impl Attempt {
    fn dir(&self) -> &ContainerDir {
        self.dir.as_ref().expect("present until disarmed")
    }

    fn disarm(&mut self) {
        self.init = None;
        self.cgroup = None;
        self.dir = None;
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        if let Some(pid) = self.init.take() {
            let _ = rustix::process::kill_process(rustix::process::Pid::from_raw(pid).expect("positive"), rustix::process::Signal::KILL);
            let _ = rustix::process::waitpid(rustix::process::Pid::from_raw(pid), rustix::process::WaitOptions::empty());
        }
        if let Some(cg) = self.cgroup.take() {
            let _ = cg.destroy();
        }
        if let Some(dir) = self.dir.take() {
            let _ = dir.remove();
        }
    }
}

/// The FIFO `start` writes to; the init holds its read end.
fn make_exec_fifo(dir: &ContainerDir) -> Result<OwnedFd> {
    let path = dir.fifo_path();
    rustix::fs::mknodat(rustix::fs::CWD, &path, rustix::fs::FileType::Fifo, Mode::from_raw_mode(0o600), 0)
        .map_err(|e| Error::path("creating", &path, e))?;
    rustix::fs::open(&path, OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| Error::path("opening", &path, e))
}

pub(crate) fn connect_console_socket(path: &Path) -> Result<OwnedFd> {
    let sock = rustix::net::socket_with(
        rustix::net::AddressFamily::UNIX,
        rustix::net::SocketType::STREAM,
        rustix::net::SocketFlags::CLOEXEC,
        None,
    )
    .map_err(|e| Error::sys("socket", e))?;
    let addr = rustix::net::SocketAddrUnix::new(path).map_err(|e| Error::path("--console-socket", path, e))?;
    rustix::net::connect(&sock, &addr).map_err(|e| Error::path("connecting to --console-socket", path, e))?;
    Ok(sock)
}

/// Clones the init and returns its host pid. The init is in its cgroup, its
/// user namespace is mapped, and it waits for `Proceed`.
fn spawn(
    args: InitArgs<'_>,
    plan: &Plan,
    spec: &Spec,
    bundle: &Path,
    cgroup: &husk_cgroups::Cgroup,
    channel: &Channel,
    attempt: &mut Attempt,
) -> Result<i32> {
    let cgroup_dir = cgroup.unified_dir();
    let (first, direct, placed) = match spawn::fork(plan, cgroup_dir.as_ref().map(|f| f.as_fd()), &args.channel, None)? {
        Spawned::Child => init::run(args),
        Spawned::Parent { first, direct, placed } => (first, direct, placed),
    };
    drop(args);
    // From here on, a failure kills whichever process exists.
    let init_pid = spawn::finish(channel, (first, direct), plan, spec, |pid| attempt.init = Some(pid))?;
    if !placed {
        cgroup.add_process(init_pid)?;
    }
    if let Some(adj) = spec.process().as_ref().and_then(|p| p.oom_score_adj()) {
        let path = format!("/proc/{init_pid}/oom_score_adj");
        std::fs::write(&path, adj.to_string()).map_err(|e| Error::Sys { what: format!("process.oomScoreAdj: writing {path}"), source: e })?;
    }
    channel.send(&Msg::InitPid(init_pid)).map_err(|e| Error::sys("sending to the init", e))?;
    if plan.creates(LinuxNamespaceType::User) && husk_rootfs::IdmappedMounts::needed(spec) {
        // Only a process privileged over the source filesystems may idmap
        // them: husk prepares these mounts, the init attaches them.
        let path = format!("/proc/{init_pid}/ns/user");
        let userns = rustix::fs::open(&path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()).map_err(|e| Error::path("opening", &path, e))?;
        for fd in husk_rootfs::IdmappedMounts::create(spec, bundle, Some(userns.as_fd()))?.into_fds() {
            channel.send_with_fd(&Msg::MountFd, Some(fd.as_fd())).map_err(|e| Error::sys("sending to the init", e))?;
        }
    }
    channel.send(&Msg::Proceed).map_err(|e| Error::sys("sending to the init", e))?;
    Ok(init_pid)
}

/// Serves the init's requests until it is ready.
fn drive(channel: &Channel, spec: &Spec, state: &State, notices: &mut Vec<crate::Notice>) -> Result<Option<OwnedFd>> {
    let mut console = None;
    loop {
        match channel.recv().map_err(|e| Error::sys("receiving from the init", e))? {
            Some((Msg::RunHooks, _)) => {
                let hook_state = crate::hook_state(spec, &state.id, state.init.pid, &state.bundle, "creating");
                hooks::run(spec.hooks().as_ref(), HookKind::Prestart, &hook_state)?;
                hooks::run(spec.hooks().as_ref(), HookKind::CreateRuntime, &hook_state)?;
                channel.send(&Msg::Proceed).map_err(|e| Error::sys("sending to the init", e))?;
            }
            Some((Msg::ConsoleMaster, fd)) => console = fd,
            Some((Msg::Log(notice), _)) => notices.push(notice),
            Some((Msg::SeccompListener, Some(fd))) => {
                forward_seccomp_listener(spec, state, fd)?;
                channel.send(&Msg::Proceed).map_err(|e| Error::sys("sending to the init", e))?;
            }
            Some((Msg::Ready, _)) => return Ok(console),
            Some((Msg::Failed(msg), _)) => return Err(Error::Init(msg)),
            Some((other, _)) => return Err(Error::Init(format!("unexpected message {other:?}"))),
            None => return Err(Error::Init("the init exited during set-up".into())),
        }
    }
}

pub(crate) fn forward_seccomp_listener(spec: &Spec, state: &State, fd: OwnedFd) -> Result<()> {
    let seccomp = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref());
    let Some(path) = seccomp.and_then(|s| s.listener_path().as_ref()) else {
        return Err(Error::Unsupported { field: "linux.seccomp.listenerPath", msg: "is required with SCMP_ACT_NOTIFY".into() });
    };
    let process_state = crate::container_process_state(spec, state, seccomp.and_then(|s| s.listener_metadata().clone()));
    husk_seccomp::send_to_listener(path, &process_state, fd.as_fd())?;
    Ok(())
}

/// Writes the pid file atomically (temporary file + rename), as callers
/// read it as soon as `create` returns.
pub(crate) fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let tmp = dir.join(format!(".{}.husk-tmp", path.file_name().and_then(|n| n.to_str()).unwrap_or("pid")));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .custom_flags(libc::O_CLOEXEC)
        .open(&tmp)
        .map_err(|e| Error::path("--pid-file", &tmp, e))?;
    std::io::Write::write_all(&mut f, pid.to_string().as_bytes()).map_err(|e| Error::path("--pid-file", &tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::path("--pid-file", path, e))
}
