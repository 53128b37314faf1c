//! The container's init, from the moment it is cloned until it executes the
//! user program. It runs husk's own code (no re-exec), single-threaded, and
//! reports every failure to the parent over the sync channel.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use oci_spec::runtime::{LinuxNamespaceType, Process, Spec};
use rustix::event::{poll, PollFd, PollFlags};

use crate::error::{Error, Result};
use crate::hooks::{self, HookKind};
use crate::namespaces::{self, Plan};
use crate::sync::{Channel, Msg};

pub(crate) struct InitArgs<'a> {
    pub spec: &'a Spec,
    pub bundle: &'a Path,
    pub id: &'a str,
    pub plan: &'a Plan,
    pub channel: Channel,
    /// Read end of the exec FIFO: `husk start` writes to it.
    pub fifo: OwnedFd,
    /// Connected `--console-socket`, when given.
    pub console_socket: Option<OwnedFd>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: u32,
    pub husk_binary: crate::exe_guard::FileId,
}

/// Runs the init; never returns.
pub(crate) fn run(args: InitArgs<'_>) -> ! {
    husk_sys::clone::reset_signals();
    // Drop what was inherited by accident, the state directory's lock first
    // of all (`start` needs it while we wait for `start`).
    let mut keep: Vec<i32> = (3..3 + args.preserve_fds as i32).collect();
    keep.extend([args.channel.as_raw_fd(), args.fifo.as_raw_fd()]);
    keep.extend(args.console_socket.as_ref().map(|s| s.as_raw_fd()));
    if let Err(e) = husk_sys::fd::close_all_except(&keep) {
        let _ = args.channel.send(&Msg::Failed(format!("close_range: {e}")));
        husk_sys::clone::exit_now(1);
    }
    let (plan, host_pid) = match setup(&args) {
        Ok(done) => done,
        Err(e) => {
            let _ = args.channel.send(&Msg::Failed(e.to_string()));
            husk_sys::clone::exit_now(1);
        }
    };
    drop(args.channel);
    if let Err(e) = wait_for_start(&args.fifo).and_then(|()| {
        hooks::run(args.spec.hooks().as_ref(), HookKind::StartContainer, &crate::hook_state(args.spec, args.id, host_pid, args.bundle, "created"))
    }) {
        eprintln!("husk: container {}: {e}", args.id);
        husk_sys::clone::exit_now(1);
    }
    let err = husk_process::exec(&plan);
    eprintln!("husk: container {}: {err}", args.id);
    husk_sys::clone::exit_now(127)
}

pub(crate) fn expect_proceed(channel: &Channel) -> Result<()> {
    match channel.recv() {
        Ok(Some((Msg::Proceed, _))) => Ok(()),
        Ok(other) => Err(Error::Init(format!("unexpected message from husk: {other:?}"))),
        Err(e) => Err(Error::sys("receiving from husk", e)),
    }
}

fn host_pid(channel: &Channel) -> Result<i32> {
    match channel.recv() {
        Ok(Some((Msg::InitPid(pid), _))) => Ok(pid),
        Ok(other) => Err(Error::Init(format!("unexpected message from husk: {other:?}"))),
        Err(e) => Err(Error::sys("receiving from husk", e)),
    }
}

/// Everything up to "ready"; returns the program to run and our host pid.
fn setup(a: &InitArgs<'_>) -> Result<(husk_process::ExecPlan, i32)> {
    let (host_pid, idmapped) = begin(&a.channel)?;
    let spec = a.spec;
    let process: &Process = spec.process().as_ref().ok_or(Error::Unsupported {
        field: "process",
        msg: "is required: husk prepares the process at create time".into(),
    })?;
    if a.plan.creates(LinuxNamespaceType::User) {
        become_namespace_root();
    }
    if a.plan.creates(LinuxNamespaceType::Cgroup) {
        namespaces::unshare_cgroup().map_err(|e| Error::sys("unshare(CLONE_NEWCGROUP)", e))?;
    }
    if !a.no_new_keyring {
        // Kernels without keyrings, or a seccomp policy of the caller's that
        // forbids keyctl, leave the caller's keyring: not worth failing for.
        let _ = husk_sys::keyring::join_session_keyring(&format!("_ses.{}", a.id));
    }

    let terminal = process.terminal().unwrap_or(false);
    let cfg = husk_rootfs::RootfsConfig {
        spec,
        bundle: a.bundle,
        no_pivot: a.no_pivot,
        new_user_ns: a.plan.creates(LinuxNamespaceType::User),
        terminal,
    };
    let mut rootfs = if idmapped.is_empty() {
        husk_rootfs::prepare(&cfg)?
    } else {
        husk_rootfs::prepare_with(&cfg, husk_rootfs::IdmappedMounts::from_fds(spec, idmapped)?)?
    };
    let hooks = spec.hooks().as_ref();
    if hooks::has(hooks, HookKind::Prestart) || hooks::has(hooks, HookKind::CreateRuntime) {
        a.channel.send(&Msg::RunHooks).map_err(|e| Error::sys("sending to husk", e))?;
        expect_proceed(&a.channel)?;
    }
    hooks::run(hooks, HookKind::CreateContainer, &crate::hook_state(spec, a.id, host_pid, a.bundle, "creating"))?;
    rootfs.pivot()?;
    if terminal {
        let slave = attach_terminal(process, rootfs.open_ptmx()?, a.console_socket.as_ref(), &a.channel)?;
        rootfs.bind_console(slave.as_fd())?;
        husk_process::terminal::make_controlling(slave.as_fd())?;
    }
    rootfs.finish()?;

    if let Some(name) = spec.hostname() {
        rustix::system::sethostname(name.as_bytes()).map_err(|e| Error::sys("hostname: sethostname", e))?;
    }
    if let Some(name) = spec.domainname() {
        rustix::system::setdomainname(name.as_bytes()).map_err(|e| Error::sys("domainname: setdomainname", e))?;
    }
    let plan = setup_process(spec, process, &a.channel, a.preserve_fds, a.husk_binary)?;
    a.channel.send(&Msg::Ready).map_err(|e| Error::sys("sending to husk", e))?;
    Ok((plan, host_pid))
}

/// The first step of every process husk starts in a container (already
/// non-dumpable like husk, see `exe_guard::hide_husk`): wait until the parent
/// has placed us. Returns our host pid and the mounts the parent prepared for
/// us (idmapped mounts of a container with its own user namespace).
pub(crate) fn begin(channel: &Channel) -> Result<(i32, Vec<OwnedFd>)> {
    let host_pid = host_pid(channel)?;
    let mut mounts = Vec::new();
    loop {
        match channel.recv() {
            Ok(Some((Msg::Proceed, _))) => return Ok((host_pid, mounts)),
            Ok(Some((Msg::MountFd, Some(fd)))) => mounts.push(fd),
            Ok(other) => return Err(Error::Init(format!("unexpected message from husk: {other:?}"))),
            Err(e) => return Err(Error::sys("receiving from husk", e)),
        }
    }
}

/// Creates the process's pty from the container's `ptmx`, hands the master
/// to the console socket (or to husk for a foreground proxy) and returns the
/// slave.
pub(crate) fn attach_terminal(process: &Process, ptmx: OwnedFd, console_socket: Option<&OwnedFd>, channel: &Channel) -> Result<OwnedFd> {
    let (master, slave) = husk_process::terminal::open_pty(ptmx)?;
    if let Some(size) = process.console_size() {
        husk_process::terminal::set_size(slave.as_fd(), size.height() as u32, size.width() as u32)?;
    }
    match console_socket {
        Some(sock) => husk_process::terminal::send_console_fd(sock.as_fd(), master.as_fd())?,
        None => channel
            .send_with_fd(&Msg::ConsoleMaster, Some(master.as_fd()))
            .map_err(|e| Error::sys("sending the pty master to husk", e))?,
    }
    Ok(slave)
}

/// The process settings of config.md, in the order their privileges allow,
/// up to the resolved program; shared by the init and `exec`.
pub(crate) fn setup_process(
    spec: &Spec,
    process: &Process,
    channel: &Channel,
    preserve_fds: u32,
    husk_binary: crate::exe_guard::FileId,
) -> Result<husk_process::ExecPlan> {
    husk_process::set_rlimits(process)?;
    let linux = spec.linux().as_ref();
    if let Some(p) = linux.and_then(|l| l.personality().as_ref()) {
        husk_process::set_personality(p)?;
    }
    if let Some(policy) = linux.and_then(|l| l.memory_policy().as_ref()) {
        husk_process::set_memory_policy(policy)?;
    }
    husk_process::set_scheduler(process)?;
    husk_process::set_io_priority(process)?;

    let no_new_privs = process.no_new_privileges().unwrap_or(false);
    let mut filter = linux.and_then(|l| l.seccomp().as_ref()).map(husk_seccomp::compile).transpose()?;
    if let Some(f) = &filter {
        for name in f.unknown_syscalls() {
            notify(channel, crate::Notice::Debug(format!("linux.seccomp: unknown syscall {name:?} skipped")))?;
        }
    }
    if no_new_privs {
        husk_process::set_no_new_privileges()?;
    } else if let Some(f) = filter.take() {
        // Without NoNewPrivileges, loading a filter needs CAP_SYS_ADMIN:
        // do it while we still have it.
        load_seccomp(f, channel)?;
    }
    husk_process::switch_user(process.user())?;
    // Before the final capability set: a cwd reachable only with
    // CAP_DAC_OVERRIDE still works for root.
    husk_process::change_dir(&process.cwd().to_string_lossy())?;
    for warning in husk_process::apply_capabilities(process.capabilities().as_ref())? {
        notify(channel, crate::Notice::Warning(warning))?;
    }
    if let Some(f) = filter.take() {
        // With NoNewPrivileges, as late as possible: fewer syscalls to allow.
        load_seccomp(f, channel)?;
    }
    let plan = husk_process::resolve_exec(process)?;
    crate::exe_guard::check(Path::new(std::ffi::OsStr::from_bytes(plan.path.as_bytes())), husk_binary)?;
    husk_sys::fd::cloexec_from(3 + preserve_fds).map_err(|e| Error::sys("close_range", e))?;
    Ok(plan)
}

/// In a new user namespace the init starts with the overflow ids until its
/// maps are written; become the namespace's root when root is mapped (a
/// config that maps only other ids switches user later anyway).
fn become_namespace_root() {
    let _ = rustix::thread::set_thread_res_gid(
        rustix::process::Gid::ROOT,
        rustix::process::Gid::ROOT,
        rustix::process::Gid::ROOT,
    );
    let _ = rustix::thread::set_thread_res_uid(
        rustix::process::Uid::ROOT,
        rustix::process::Uid::ROOT,
        rustix::process::Uid::ROOT,
    );
}

fn notify(channel: &Channel, notice: crate::Notice) -> Result<()> {
    channel.send(&Msg::Log(notice)).map_err(|e| Error::sys("sending to husk", e))
}

fn load_seccomp(filter: husk_seccomp::Filter, channel: &Channel) -> Result<()> {
    if let Some(listener) = filter.load()? {
        channel
            .send_with_fd(&Msg::SeccompListener, Some(listener.as_fd()))
            .map_err(|e| Error::sys("sending the seccomp listener to husk", e))?;
        expect_proceed(channel)?;
    }
    Ok(())
}

/// Blocks until `husk start` writes to the exec FIFO.
fn wait_for_start(fifo: &OwnedFd) -> Result<()> {
    // The FIFO was opened non-blocking (no writer existed yet); poll waits for
    // data, and reports no hang-up until a writer has come and gone.
    loop {
        let mut fds = [PollFd::new(fifo, PollFlags::IN)];
        match poll(&mut fds, None) {
            Ok(_) => break,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(Error::sys("waiting for start", e)),
        }
    }
    let mut byte = [0u8; 1];
    match rustix::io::read(fifo, &mut byte) {
        Ok(1) => Ok(()),
        Ok(_) => Err(Error::Init("the exec FIFO was closed without a start request".into())),
        Err(e) => Err(Error::sys("reading the exec FIFO", e)),
    }
}
