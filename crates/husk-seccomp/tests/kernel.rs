//! Filters loaded into the kernel, each in a forked child so the test process
//! itself stays unfiltered, and the hand-over of the listener to an agent.
//! Needs root (CAP_SYS_ADMIN, since the children do not set no_new_privs).

use std::io::{IoSliceMut, Read};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant};

mod common;

use common::seccomp;
use husk_seccomp::{compile, send_to_listener, Error};
use libseccomp::{ScmpArch, ScmpNotifReq, ScmpNotifResp, ScmpNotifRespFlags, ScmpSyscall};
use oci_spec::runtime::{ContainerProcessState, State};
use rustix::io::Errno;
use rustix::net::{recvmsg, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};
use rustix::process::{
    getpgid, getpid, getppid, getpriority_pgrp, getpriority_process, kill_process, waitpid, Pid,
    Signal, WaitOptions, WaitStatus,
};
use serde_json::json;

/// How long a child may take before the test gives up and kills it.
const CHILD_TIMEOUT: Duration = Duration::from_secs(10);

/// A forked child, killed and reaped if the test ends before it does.
struct Child {
    pid: Pid,
    reaped: bool,
}

impl Child {
    /// Runs `body` in a forked child; a returned error is printed to stderr
    /// and turns into exit status 1.
    fn spawn(body: impl FnOnce() -> Result<(), String>) -> Child {
        // SAFETY: the child runs only `body` (syscalls and allocations, which
        // glibc keeps usable after fork) and leaves through `_exit` without
        // returning into the test harness.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
        if pid == 0 {
            let code = match panic::catch_unwind(AssertUnwindSafe(body)) {
                Ok(Ok(())) => 0,
                Ok(Err(message)) => {
                    // Straight to fd 2: std's stderr lock may have been held
                    // by another test thread at fork time.
                    let _ = rustix::io::write(
                        std::io::stderr(),
                        format!("child: {message}\n").as_bytes(),
                    );
                    1
                }
                Err(_) => 2,
            };
            // SAFETY: ends the forked child without running the parent's
            // atexit handlers or unwinding into the harness.
            unsafe { libc::_exit(code) }
        }
        Child {
            pid: Pid::from_raw(pid).expect("fork returned a positive pid"),
            reaped: false,
        }
    }

    fn wait(mut self) -> WaitStatus {
        let deadline = Instant::now() + CHILD_TIMEOUT;
        loop {
            if let Some((_, status)) =
                waitpid(Some(self.pid), WaitOptions::NOHANG).expect("waitpid")
            {
                self.reaped = true;
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "child {:?} did not exit in time",
                self.pid
            );
            thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if !self.reaped {
            let _ = kill_process(self.pid, Signal::KILL);
            let _ = waitpid(Some(self.pid), WaitOptions::empty());
        }
    }
}

/// A path under the temp dir, removed (file or directory) when dropped.
struct TempPath(PathBuf);

impl TempPath {
    fn new(name: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "husk-seccomp-test-{}-{name}",
            getpid().as_raw_nonzero()
        ));
        let temp = TempPath(path);
        temp.remove();
        temp
    }

    fn remove(&self) {
        let _ = std::fs::remove_dir(&self.0);
        let _ = std::fs::remove_file(&self.0);
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        self.remove();
    }
}

/// Loads the filter for `config` in a child, then runs `checks` there.
fn run_filtered(
    config: serde_json::Value,
    checks: impl FnOnce() -> Result<(), String>,
) -> WaitStatus {
    let filter = compile(&seccomp(config)).expect("filter compiles");
    Child::spawn(|| {
        let listener = filter.load().map_err(|e| e.to_string())?;
        if listener.is_some() {
            return Err("a listener without SCMP_ACT_NOTIFY".into());
        }
        checks()
    })
    .wait()
}

fn assert_success(status: WaitStatus) {
    assert_eq!(status.exit_status(), Some(0), "child ended with {status:?}");
}

fn expect_errno<T: std::fmt::Debug>(
    what: &str,
    result: Result<T, impl Into<std::io::Error>>,
    expected: Errno,
) -> Result<(), String> {
    match result.map_err(Into::into) {
        Err(e) if e.raw_os_error() == Some(expected.raw_os_error()) => Ok(()),
        other => Err(format!("{what}: expected {expected}, got {other:?}")),
    }
}

fn expect_ok<T, E: std::fmt::Debug>(what: &str, result: Result<T, E>) -> Result<T, String> {
    result.map_err(|e| format!("{what}: {e:?}"))
}

#[test]
fn errno_action_with_default_and_explicit_errno() {
    let dir = TempPath::new("errno");
    let status = run_filtered(
        json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [
                {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"},
                {"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": libc::EXDEV}
            ]
        }),
        || {
            expect_errno("mkdir", std::fs::create_dir(&dir.0), Errno::PERM)?;
            expect_errno("getcwd", std::env::current_dir(), Errno::XDEV)?;
            expect_ok("getpgid", getpgid(None)).map(drop)
        },
    );
    assert_success(status);
    assert!(!dir.0.exists(), "mkdir was not blocked");
}

#[test]
fn default_errno_ret() {
    let dir = TempPath::new("default-errno");
    let status = run_filtered(
        json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "defaultErrnoRet": libc::EXDEV,
            "syscalls": [{
                "names": ["exit_group", "exit", "write", "brk", "mmap", "munmap", "mremap",
                          "madvise", "rt_sigreturn", "rt_sigprocmask", "futex", "sigaltstack"],
                "action": "SCMP_ACT_ALLOW"
            }]
        }),
        || expect_errno("mkdir", std::fs::create_dir(&dir.0), Errno::XDEV),
    );
    assert_success(status);
}

#[test]
fn kill_and_trap_actions_end_the_process_with_sigsys() {
    for action in [
        "SCMP_ACT_KILL",
        "SCMP_ACT_KILL_THREAD",
        "SCMP_ACT_KILL_PROCESS",
        "SCMP_ACT_TRAP",
    ] {
        let status = run_filtered(
            json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["getppid"], "action": action}]
            }),
            || Err(format!("getppid returned {:?}", getppid())),
        );
        assert_eq!(
            status.terminating_signal(),
            Some(libc::SIGSYS),
            "{action}: {status:?}"
        );
    }
}

#[test]
fn trace_action_without_a_tracer_fails_with_enosys() {
    let status = run_filtered(
        json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["getpgid"], "action": "SCMP_ACT_TRACE", "errnoRet": 5}]
        }),
        || expect_errno("getpgid", getpgid(None), Errno::NOSYS),
    );
    assert_success(status);
}

#[test]
fn tsync_filters_every_thread() {
    let dir = TempPath::new("tsync");
    let filter = compile(&seccomp(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "flags": ["SECCOMP_FILTER_FLAG_TSYNC"],
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": libc::EXDEV}]
    })))
    .expect("filter compiles");
    let status = Child::spawn(|| {
        let (loaded_tx, loaded_rx) = std::sync::mpsc::channel::<()>();
        let dir_path = dir.0.clone();
        // Already running when the filter is loaded: only TSYNC reaches it.
        let other = thread::spawn(move || {
            loaded_rx.recv().map_err(|e| e.to_string())?;
            expect_errno(
                "mkdir in the other thread",
                std::fs::create_dir(&dir_path),
                Errno::XDEV,
            )
        });
        filter.load().map_err(|e| e.to_string())?;
        loaded_tx.send(()).map_err(|e| e.to_string())?;
        other
            .join()
            .map_err(|_| "the other thread panicked".to_owned())?
    })
    .wait();
    assert_success(status);
    assert!(!dir.0.exists(), "mkdir was not blocked in the other thread");
}

#[test]
fn log_action_and_flags_allow_the_syscall() {
    let parent = getpid();
    let status = run_filtered(
        json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                      "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
            "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_LOG"}]
        }),
        || match getppid() {
            Some(pid) if pid == parent => Ok(()),
            other => Err(format!("getppid returned {other:?}, expected {parent:?}")),
        },
    );
    assert_success(status);
}

#[test]
fn argument_equal_condition() {
    let parent = getpid();
    let status = run_filtered(
        json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["getpgid"], "action": "SCMP_ACT_ERRNO", "errnoRet": libc::EXDEV,
                          "args": [{"index": 0, "value": parent.as_raw_nonzero(), "op": "SCMP_CMP_EQ"}]}]
        }),
        || {
            expect_errno("getpgid(parent)", getpgid(Some(parent)), Errno::XDEV)?;
            expect_ok("getpgid(self)", getpgid(None)).map(drop)
        },
    );
    assert_success(status);
}

#[test]
fn masked_equal_condition() {
    let file = TempPath::new("masked-eq");
    let o_creat = libc::O_CREAT as u64;
    let status = run_filtered(
        json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [
                {"names": ["openat"], "action": "SCMP_ACT_ERRNO", "errnoRet": libc::EXDEV,
                 "args": [{"index": 2, "value": o_creat, "valueTwo": o_creat, "op": "SCMP_CMP_MASKED_EQ"}]},
                {"names": ["open"], "action": "SCMP_ACT_ERRNO", "errnoRet": libc::EXDEV,
                 "args": [{"index": 1, "value": o_creat, "valueTwo": o_creat, "op": "SCMP_CMP_MASKED_EQ"}]}
            ]
        }),
        || {
            expect_errno("create", std::fs::File::create(&file.0), Errno::XDEV)?;
            expect_ok("open read-only", std::fs::File::open("/proc/self/status")).map(drop)
        },
    );
    assert_success(status);
    assert!(!file.0.exists(), "O_CREAT was not blocked");
}

#[test]
fn conditions_on_different_arguments_must_all_match() {
    let parent = getpid();
    let status = run_filtered(
        json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["getpriority"], "action": "SCMP_ACT_ERRNO", "errnoRet": libc::EXDEV,
                          "args": [
                              {"index": 0, "value": libc::PRIO_PROCESS, "op": "SCMP_CMP_EQ"},
                              {"index": 1, "value": parent.as_raw_nonzero(), "op": "SCMP_CMP_EQ"}
                          ]}]
        }),
        || {
            expect_errno(
                "getpriority(process parent)",
                getpriority_process(Some(parent)),
                Errno::XDEV,
            )?;
            expect_ok("getpriority(process self)", getpriority_process(None))?;
            match getpriority_pgrp(Some(parent)) {
                Err(Errno::XDEV) => {
                    Err("getpriority(pgrp parent) matched one condition only".into())
                }
                _ => Ok(()),
            }
        },
    );
    assert_success(status);
}

#[test]
fn conditions_on_the_same_argument_each_match() {
    let parent = getpid();
    let init = Pid::INIT;
    let status = run_filtered(
        json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["getpgid"], "action": "SCMP_ACT_ERRNO", "errnoRet": libc::EXDEV,
                          "args": [
                              {"index": 0, "value": parent.as_raw_nonzero(), "op": "SCMP_CMP_EQ"},
                              {"index": 0, "value": init.as_raw_nonzero(), "op": "SCMP_CMP_EQ"}
                          ]}]
        }),
        || {
            expect_errno("getpgid(parent)", getpgid(Some(parent)), Errno::XDEV)?;
            expect_errno("getpgid(init)", getpgid(Some(init)), Errno::XDEV)?;
            expect_ok("getpgid(self)", getpgid(None)).map(drop)
        },
    );
    assert_success(status);
}

#[test]
fn large_allowlist_profile() {
    // A default-deny profile of realistic size: every syscall libseccomp
    // knows for this architecture but mkdir/mkdirat, and conditional rules.
    let names: Vec<String> = (0..1024)
        .filter_map(|nr| {
            ScmpSyscall::from(nr)
                .get_name_by_arch(ScmpArch::Native)
                .ok()
        })
        .filter(|name| name != "mkdir" && name != "mkdirat" && name != "personality")
        .collect();
    assert!(names.len() > 300, "only {} syscalls known", names.len());
    let dir = TempPath::new("large");
    let status = run_filtered(
        json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [
                {"names": names, "action": "SCMP_ACT_ALLOW"},
                {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]},
                {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 0xffffffff_u32, "op": "SCMP_CMP_EQ"}]}
            ]
        }),
        || {
            expect_errno("mkdir", std::fs::create_dir(&dir.0), Errno::PERM)?;
            expect_ok("open", std::fs::read("/proc/self/status"))?;
            expect_ok("thread", thread::spawn(getpid).join())?;
            Ok(())
        },
    );
    assert_success(status);
    assert!(!dir.0.exists(), "mkdir was not blocked");
}

/// What the test agent answers to the notified `getppid`.
const NOTIFIED_PPID: i64 = 4242;

#[test]
fn notify_hands_the_listener_to_the_agent() {
    let socket = TempPath::new("agent.sock");
    let listener = UnixListener::bind(&socket.0).expect("bind agent socket");
    let filter = compile(&seccomp(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "flags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
        "listenerPath": socket.0,
        "listenerMetadata": "agent-metadata",
        "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_NOTIFY"}]
    })))
    .expect("filter compiles");

    let socket_path = socket.0.clone();
    let child = Child::spawn(move || {
        let seccomp_fd = filter
            .load()
            .map_err(|e| e.to_string())?
            .ok_or("no listener for SCMP_ACT_NOTIFY")?;
        let mut state = ContainerProcessState::default();
        state.set_version("1.3.0".into());
        state.set_pid(getpid().as_raw_nonzero().get());
        state.set_metadata(Some("agent-metadata".into()));
        let mut container = State::default();
        container.set_id("seccomp-test".into());
        state.set_state(container);
        send_to_listener(&socket_path, &state, seccomp_fd.as_fd()).map_err(|e| e.to_string())?;
        drop(seccomp_fd);
        match getppid() {
            Some(pid) if i64::from(pid.as_raw_nonzero().get()) == NOTIFIED_PPID => Ok(()),
            other => Err(format!("notified getppid returned {other:?}")),
        }
    });

    let agent = thread::spawn(move || run_agent(listener));
    assert_success(child.wait());
    agent.join().expect("agent thread").expect("agent");
}

/// Receives the state and listener, checks them, answers one notification.
fn run_agent(listener: UnixListener) -> Result<(), String> {
    let (payload, mut fds) = receive_one(listener);
    let seccomp_fd = fds.pop().ok_or("no fd in SCM_RIGHTS")?;
    let state: ContainerProcessState =
        serde_json::from_slice(&payload).map_err(|e| format!("state JSON: {e}"))?;
    if state.fds() != &["seccompFd"]
        || state.metadata().as_deref() != Some("agent-metadata")
        || state.state().id() != "seccomp-test"
    {
        return Err(format!("unexpected state {state:?}"));
    }

    let request = ScmpNotifReq::receive(seccomp_fd.as_raw_fd()).map_err(|e| e.to_string())?;
    let getppid_nr = ScmpSyscall::from_name("getppid").map_err(|e| e.to_string())?;
    if request.data.syscall != getppid_nr {
        return Err(format!("notified for {:?}", request.data.syscall));
    }
    ScmpNotifResp::new_val(request.id, NOTIFIED_PPID, ScmpNotifRespFlags::empty())
        .respond(seccomp_fd.as_raw_fd())
        .map_err(|e| e.to_string())
}

/// Accepts one connection; returns the whole payload and the fds that came
/// with its first message.
fn receive_one(listener: UnixListener) -> (Vec<u8>, Vec<OwnedFd>) {
    let (mut stream, _) = listener.accept().expect("accept");
    let mut payload = vec![0u8; 4096];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(2))];
    let mut ancillary = RecvAncillaryBuffer::new(&mut space);
    let first = recvmsg(
        &stream,
        &mut [IoSliceMut::new(&mut payload)],
        &mut ancillary,
        RecvFlags::CMSG_CLOEXEC,
    )
    .expect("recvmsg");
    let fds = ancillary
        .drain()
        .flat_map(|message| match message {
            RecvAncillaryMessage::ScmRights(fds) => fds.collect(),
            _ => Vec::new(),
        })
        .collect();
    payload.truncate(first.bytes);
    stream
        .read_to_end(&mut payload)
        .expect("rest of the payload");
    (payload, fds)
}

#[test]
fn sends_a_large_state_with_exactly_one_fd() {
    let socket = TempPath::new("large-state.sock");
    let listener = UnixListener::bind(&socket.0).expect("bind");
    let agent = thread::spawn(move || receive_one(listener));

    // Larger than a socket buffer: it cannot go out in one piece unread.
    let metadata = "m".repeat(4 << 20);
    let mut state = ContainerProcessState::default();
    state.set_version("1.3.0".into());
    state.set_fds(vec!["caller-supplied".into()]);
    state.set_pid(77);
    state.set_metadata(Some(metadata.clone()));
    let sent_fd = std::fs::File::open("/dev/null").expect("open /dev/null");
    send_to_listener(&socket.0, &state, sent_fd.as_fd()).expect("send_to_listener");

    let (payload, fds) = agent.join().expect("agent thread");
    let received: ContainerProcessState = serde_json::from_slice(&payload).expect("state JSON");
    assert_eq!(received.fds(), &["seccompFd"]);
    assert_eq!(received.pid(), &77);
    assert_eq!(received.metadata().as_deref(), Some(metadata.as_str()));
    assert_eq!(fds.len(), 1, "exactly one fd in SCM_RIGHTS");
    let sent = rustix::fs::fstat(&sent_fd).expect("fstat sent");
    let got = rustix::fs::fstat(&fds[0]).expect("fstat received");
    assert_eq!((sent.st_dev, sent.st_ino), (got.st_dev, got.st_ino));
}

#[test]
fn errors_name_the_socket_and_the_syscall() {
    let socket = TempPath::new("absent.sock");
    let fd = std::fs::File::open("/dev/null").expect("open /dev/null");
    let state = ContainerProcessState::default();
    match send_to_listener(&socket.0, &state, fd.as_fd()) {
        Err(Error::Listener {
            path,
            syscall,
            errno,
        }) => {
            assert_eq!(
                (path, syscall, errno),
                (socket.0.clone(), "connect", Errno::NOENT)
            )
        }
        other => panic!("expected a connect error, got {other:?}"),
    }
    let too_long = PathBuf::from(format!("/tmp/{}", "x".repeat(200)));
    match send_to_listener(&too_long, &state, fd.as_fd()) {
        Err(Error::Listener { syscall, errno, .. }) => {
            assert_eq!((syscall, errno), ("sockaddr_un", Errno::NAMETOOLONG))
        }
        other => panic!("expected a path error, got {other:?}"),
    }
}
