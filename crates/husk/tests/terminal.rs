//! Terminals (console socket, foreground proxy under a real tty) and plain stdio: what the
//! container's fds 0-2 are, `--preserve-fds` through socket activation, `NOTIFY_SOCKET`.

mod common;
#[path = "common/running.rs"]
mod running;

use std::fs;
use std::io::{IoSliceMut, Read, Write};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::{UnixDatagram, UnixListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{runtime, wait_for_child, CheckerValues, RuntimeKind, TestEnv};
use running::{exec, init_pid, invoke_with_inherited_fds, reap, start_sleeper, wait_until, PROMPTLY};
use rustix::event::{PollFd, PollFlags};
use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};
use serde_json::json;

/// A console socket in the test's scratch dir; one runtime connection is accepted in the
/// background, because the runtime (create, exec -d) blocks until the fd is sent.
struct ConsoleSocket {
    path: PathBuf,
    receiver: JoinHandle<OwnedFd>,
}

impl ConsoleSocket {
    fn listen(env: &TestEnv) -> ConsoleSocket {
        let path = env.scratch("console").join("console.sock");
        let listener = UnixListener::bind(&path).expect("bind console socket");
        let receiver = std::thread::spawn(move || receive_one_fd(&listener));
        ConsoleSocket { path, receiver }
    }

    fn path(&self) -> &str {
        self.path.to_str().expect("utf-8 path")
    }

    /// The fd the runtime sent; panics unless it sent exactly one fd in one message.
    fn master(self) -> OwnedFd {
        self.receiver.join().expect("console socket receiver")
    }
}

fn receive_one_fd(listener: &UnixListener) -> OwnedFd {
    let (stream, _) = listener.accept().expect("runtime connects to the console socket");
    let mut payload = [0u8; 4096];
    // Room for more than expected, so that extra fds or messages are seen rather than cut.
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(4))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    rustix::net::recvmsg(
        &stream,
        &mut [IoSliceMut::new(&mut payload)],
        &mut control,
        RecvFlags::CMSG_CLOEXEC,
    )
    .expect("recvmsg on the console socket");
    let messages: Vec<Vec<OwnedFd>> = control
        .drain()
        .map(|message| match message {
            RecvAncillaryMessage::ScmRights(fds) => fds.collect(),
            _ => panic!("unexpected ancillary message on the console socket"),
        })
        .collect();
    assert_eq!(messages.len(), 1, "one SCM_RIGHTS message");
    let mut fds = messages.into_iter().next().unwrap();
    assert_eq!(fds.len(), 1, "exactly one fd");
    fds.remove(0)
}

/// Reads `master` until the output (CR removed) contains `needle`; returns all of it.
#[track_caller]
fn read_until(master: &OwnedFd, seen: &mut String, needle: &str) {
    let started = Instant::now();
    while !seen.contains(needle) {
        let left = PROMPTLY.saturating_sub(started.elapsed());
        assert!(!left.is_zero(), "never saw {needle:?} on the pty; got {seen:?}");
        let mut poll = [PollFd::new(master, PollFlags::IN)];
        let timeout = rustix::event::Timespec::try_from(left).expect("timeout");
        rustix::event::poll(&mut poll, Some(&timeout)).expect("poll the pty master");
        let mut buffer = [0u8; 4096];
        match rustix::io::read(master, &mut buffer) {
            Ok(0) => panic!("pty closed before {needle:?}; got {seen:?}"),
            Ok(count) => seen.push_str(&String::from_utf8_lossy(&buffer[..count]).replace('\r', "")),
            Err(rustix::io::Errno::AGAIN) => {}
            Err(error) => panic!("read the pty master: {error}; got {seen:?}"),
        }
    }
}

/// A line the container prints once it is ready for input, then echoes one line back.
const ECHO_ONE_LINE: &str = "busybox stty size; /bin/husk-checker stat /dev/console fds; \
    echo ready; read line; echo got:$line";

#[test]
fn console_socket_gets_the_pty_master_that_carries_stdin_and_output() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    env.config["process"]["terminal"] = json!(true);
    env.config["process"]["consoleSize"] = json!({"height": 33, "width": 101});
    env.set_args(&["sh", "-c", ECHO_ONE_LINE]);
    let console = ConsoleSocket::listen(&env);
    env.create_with(&env.id, &["--console-socket", console.path()])
        .assert_success();
    let master = console.master();
    assert!(
        rustix::pty::ptsname(&master, Vec::new()).is_ok(),
        "the fd is a pty master (TIOCGPTN works only there)"
    );
    let init = init_pid(&env);
    env.start(&env.id).assert_success();

    let mut seen = String::new();
    read_until(&master, &mut seen, "ready\n");
    fs::File::from(master.try_clone().unwrap())
        .write_all(b"typed through the master\n")
        .unwrap();
    read_until(&master, &mut seen, "got:typed through the master\n");
    assert_eq!(wait_for_child(init), 0);

    assert!(seen.contains("33 101\n"), "consoleSize not applied: {seen:?}");
    let values = CheckerValues::parse(&seen);
    assert_eq!(values.get("stat.type"), "char", "{seen:?}");
    let major = values.get("stat.rdev").split(':').next().unwrap().parse::<u32>().unwrap();
    assert!((136..144).contains(&major), "/dev/console is a devpts pty: {seen:?}");
    assert!(values.get("fd.0").starts_with("/dev/pts/"), "{seen:?}");
    assert_eq!(values.get("fds"), "0,1,2");
}

#[test]
fn exec_tty_with_console_socket_sends_a_pty_master() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    start_sleeper(&mut env);
    let console = ConsoleSocket::listen(&env);
    let pid_file = env.scratch("exec").join("pid");
    exec(
        &env,
        &[
            "--tty",
            "--detach",
            "--console-socket",
            console.path(),
            "--pid-file",
            pid_file.to_str().unwrap(),
        ],
        &["sh", "-c", "busybox tty; echo ready; read line; echo got:$line"],
    )
    .assert_success();
    let master = console.master();
    let mut seen = String::new();
    read_until(&master, &mut seen, "ready\n");
    assert!(seen.starts_with("/dev/pts/"), "stdin is a pty: {seen:?}");
    fs::File::from(master.try_clone().unwrap())
        .write_all(b"exec input\n")
        .unwrap();
    read_until(&master, &mut seen, "got:exec input\n");
    reap(running::read_pid_file(&pid_file));
}

/// A private tmux server (its socket in the test's scratch dir) with one 80x24 session running
/// a host shell command; killed on drop.
struct Tmux {
    socket: PathBuf,
}

impl Tmux {
    fn start(env: &TestEnv, shell_command: &str) -> Tmux {
        let tmux = Tmux {
            socket: env.scratch("tmux").join("socket"),
        };
        tmux.call(&[
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "t",
            "-x",
            "80",
            "-y",
            "24",
            shell_command,
        ]);
        tmux
    }

    fn command(&self) -> Command {
        let mut command = Command::new("tmux");
        command.arg("-S").arg(&self.socket);
        command
    }

    #[track_caller]
    fn call(&self, args: &[&str]) -> String {
        let output = self.command().args(args).output().expect("spawn tmux");
        assert!(output.status.success(), "tmux {args:?}: {output:?}");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn type_line(&self, text: &str) {
        self.call(&["send-keys", "-t", "t", "-l", text]);
        self.call(&["send-keys", "-t", "t", "Enter"]);
    }

    #[track_caller]
    fn wait_for_screen(&self, needle: &str) {
        let started = Instant::now();
        loop {
            let screen = self.call(&["capture-pane", "-p", "-J", "-t", "t", "-S", "-200"]);
            if screen.contains(needle) {
                return;
            }
            assert!(
                started.elapsed() < PROMPTLY,
                "the terminal never showed {needle:?}:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self
            .command()
            .arg("kill-server")
            .stderr(Stdio::null())
            .status();
    }
}

/// Runs `runtime_args` in the foreground inside a real terminal (a tmux pane) and drives the
/// container program: typed input, window-size change, exit status, terminal mode restored.
fn drive_foreground_terminal(env: &TestEnv, runtime_args: &[&str]) {
    let results = env.scratch("terminal-results");
    let quoted: Vec<String> = std::iter::once(runtime().path.to_str().unwrap())
        .chain(["--root", env.root.to_str().unwrap()])
        .chain(runtime_args.iter().copied())
        .map(|arg| format!("'{arg}'"))
        .collect();
    let dir = results.display();
    let shell = format!(
        "stty -g > {dir}/before; {}; echo $? > {dir}/status.tmp; stty -g > {dir}/after; \
         mv {dir}/status.tmp {dir}/status",
        quoted.join(" ")
    );
    let tmux = Tmux::start(env, &shell);
    tmux.call(&["resize-window", "-t", "t", "-x", "80", "-y", "24"]);
    tmux.wait_for_screen("size:24 80");
    tmux.type_line("hello");
    tmux.wait_for_screen("got:hello");
    tmux.call(&["resize-window", "-t", "t", "-x", "100", "-y", "30"]);
    tmux.type_line("size");
    tmux.wait_for_screen("size:30 100");
    tmux.type_line("exit");
    let status_file = results.join("status");
    wait_until("the runtime to exit in the terminal", || status_file.exists());
    assert_eq!(fs::read_to_string(&status_file).unwrap().trim(), "3", "exit status");
    assert_eq!(
        fs::read_to_string(results.join("before")).unwrap(),
        fs::read_to_string(results.join("after")).unwrap(),
        "terminal mode restored"
    );
}

/// The container side of [`drive_foreground_terminal`].
const TERMINAL_PROGRAM: &str = "echo size:$(busybox stty size); while read line; do \
    case $line in size) echo size:$(busybox stty size);; exit) exit 3;; *) echo got:$line;; esac; \
    done";

#[test]
fn foreground_run_with_terminal_proxies_a_real_tty() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    env.config["process"]["terminal"] = json!(true);
    env.set_args(&["sh", "-c", TERMINAL_PROGRAM]);
    env.write_config();
    env.remember_pid(&env.id);
    let bundle = env.bundle.to_str().unwrap().to_string();
    drive_foreground_terminal(&env, &["run", "--bundle", &bundle, &env.id]);
}

#[test]
fn foreground_exec_tty_proxies_a_real_tty() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    start_sleeper(&mut env);
    drive_foreground_terminal(&env, &["exec", "-t", &env.id, "sh", "-c", TERMINAL_PROGRAM]);
}

/// Inode of the pipe (or file) behind `fd`, as /proc/*/fd shows it: `pipe:[N]`.
fn pipe_name(fd: impl AsFd) -> String {
    format!("pipe:[{}]", rustix::fs::fstat(fd).expect("fstat").st_ino)
}

#[test]
fn without_terminal_the_container_uses_the_runtimes_own_stdio() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    env.set_args(&[
        "sh",
        "-c",
        "/bin/husk-checker fds stdin; echo to-stderr >&2",
    ]);
    env.write_config();
    env.remember_pid(&env.id);
    let mut child = env
        .command()
        .arg("run")
        .arg("--bundle")
        .arg(&env.bundle)
        .arg(&env.id)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the runtime");
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let expected = [
        pipe_name(&stdin),
        pipe_name(&stdout),
        pipe_name(&stderr),
    ];
    stdin.write_all(b"line one\nline two\n").unwrap();
    drop(stdin);
    let stderr_reader = std::thread::spawn(move || {
        let mut text = String::new();
        stderr.read_to_string(&mut text).map(|_| text)
    });
    let mut out = String::new();
    stdout.read_to_string(&mut out).unwrap();
    let err = stderr_reader.join().unwrap().unwrap();
    assert!(child.wait().unwrap().success(), "{out}\n{err}");

    let values = CheckerValues::parse(&out);
    assert_eq!(values.get("stdin"), "line one\\nline two\\n");
    assert_eq!(values.get("fds"), "0,1,2");
    for (fd, pipe) in expected.iter().enumerate() {
        assert_eq!(values.get(&format!("fd.{fd}")), pipe, "fd {fd}");
    }
    assert!(err.ends_with("to-stderr\n"), "stderr: {err:?}");
    assert!(!out.contains("to-stderr"), "stdout: {out:?}");
}

#[test]
fn socket_activation_passes_listen_fds_to_the_container() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    let activated = env.scratch("fds").join("activated");
    fs::write(&activated, "socket stand-in").unwrap();
    env.set_args(&["/bin/husk-checker", "fds", "env", "read", "/proc/self/fd/4"]);
    env.write_config();
    env.remember_pid(&env.id);
    let bundle = env.bundle.to_str().unwrap().to_string();
    // `$$` is the shell, which becomes the runtime by exec: LISTEN_PID names the runtime.
    let outcome = invoke_with_inherited_fds(
        &env,
        &activated,
        "export LISTEN_FDS=2 LISTEN_PID=$$;",
        &["run", "--bundle", &bundle, &env.id],
    );
    outcome.assert_success();
    let values = outcome.checker_values();
    assert_eq!(values.get("fds"), "0,1,2,3,4");
    assert_eq!(values.get("read"), "socket stand-in");
    assert_eq!(values.get("env.LISTEN_FDS"), "2");
    assert_eq!(values.get("env.LISTEN_PID"), "1", "the container process is pid 1");
}

#[test]
fn notify_socket_is_passed_into_the_container() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    if env.skip_for(
        RuntimeKind::Runc,
        "runc 1.1.5 run waits for READY=1, which busybox cannot send",
    ) {
        return;
    }
    let host_socket = env.scratch("notify").join("notify.sock");
    let _listener = UnixDatagram::bind(&host_socket).expect("bind the notify socket");
    env.set_args(&[
        "sh",
        "-c",
        "/bin/husk-checker env; /bin/husk-checker stat \"$NOTIFY_SOCKET\"",
    ]);
    env.write_config();
    env.remember_pid(&env.id);
    let mut command = env.command();
    command
        .env("NOTIFY_SOCKET", &host_socket)
        .arg("run")
        .arg("--bundle")
        .arg(&env.bundle)
        .arg(&env.id);
    let outcome = env.invoke_command(&mut command, None);
    outcome.assert_success();
    let values = outcome.checker_values();
    let inside = values.get("env.NOTIFY_SOCKET");
    assert!(Path::new(inside).is_absolute(), "NOTIFY_SOCKET={inside:?}");
    assert_eq!(values.get("stat.type"), "socket", "{outcome:#?}");
}
