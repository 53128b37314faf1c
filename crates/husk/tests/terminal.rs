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
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{runtime, wait_for_child, CheckerValues, RuntimeKind, TestEnv};
use running::{
    exec, init_pid, invoke_with_inherited_fds, reap, start_sleeper, wait_until, PROMPTLY,
};
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

/// Accepts one connection (failing after [`PROMPTLY`], so that a runtime that never connects
/// cannot hang the test) and receives the fd it sends.
fn receive_one_fd(listener: &UnixListener) -> OwnedFd {
    listener
        .set_nonblocking(true)
        .expect("non-blocking listener");
    let started = Instant::now();
    let stream = loop {
        match listener.accept() {
            Ok((stream, _)) => break stream,
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {
                assert!(
                    started.elapsed() < PROMPTLY,
                    "the runtime never connected to the console socket"
                );
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(error) => panic!("accept on the console socket: {error}"),
        }
    };
    stream.set_nonblocking(false).expect("blocking stream");
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

/// Reads `master` into `seen` (CRs removed) until `seen` contains `needle`.
#[track_caller]
fn read_until(master: &OwnedFd, seen: &mut String, needle: &str) {
    let started = Instant::now();
    while !seen.contains(needle) {
        let left = PROMPTLY.saturating_sub(started.elapsed());
        assert!(
            !left.is_zero(),
            "never saw {needle:?} on the pty; got {seen:?}"
        );
        let mut poll = [PollFd::new(master, PollFlags::IN)];
        let timeout = rustix::event::Timespec::try_from(left).expect("timeout");
        rustix::event::poll(&mut poll, Some(&timeout)).expect("poll the pty master");
        let mut buffer = [0u8; 4096];
        match rustix::io::read(master, &mut buffer) {
            Ok(0) => panic!("pty closed before {needle:?}; got {seen:?}"),
            Ok(count) => {
                seen.push_str(&String::from_utf8_lossy(&buffer[..count]).replace('\r', ""))
            }
            Err(rustix::io::Errno::AGAIN) => {}
            Err(error) => panic!("read the pty master: {error}; got {seen:?}"),
        }
    }
}

/// Prints the pty size, what /dev/console and fds 0-2 are, then `ready`, and echoes one typed
/// line back.
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

    assert!(
        seen.contains("33 101\n"),
        "consoleSize not applied: {seen:?}"
    );
    let values = CheckerValues::parse(&seen);
    assert_eq!(values.get("stat.type"), "char", "{seen:?}");
    let major = values
        .get("stat.rdev")
        .split(':')
        .next()
        .unwrap()
        .parse::<u32>()
        .unwrap();
    assert!(
        (136..144).contains(&major),
        "/dev/console is a devpts pty: {seen:?}"
    );
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
        &[
            "sh",
            "-c",
            "busybox tty; echo ready; read line; echo got:$line",
        ],
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
    /// The daemonised server ends up a child of this subreaper test process: reaped on drop.
    server_pid: Option<i32>,
}

impl Tmux {
    fn start(env: &TestEnv, shell_command: &str) -> Tmux {
        let mut tmux = Tmux {
            socket: env.scratch("tmux").join("socket"),
            server_pid: None,
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
        tmux.server_pid = tmux
            .call(&["display-message", "-p", "#{pid}"])
            .trim()
            .parse()
            .ok();
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
        // Only our own child can be signalled safely: its pid is not reused until we reap it.
        if let Some(pid) = self
            .server_pid
            .filter(|&pid| common::parent_pid(pid) == Some(std::process::id() as i32))
        {
            if let Some(server) = rustix::process::Pid::from_raw(pid) {
                let _ = rustix::process::kill_process(server, rustix::process::Signal::KILL);
            }
            reap(pid);
        }
    }
}

/// Runs `runtime_args` in the foreground inside a real terminal (a tmux pane) and drives the
/// container program: typed input, window-size change, exit status, terminal mode restored.
fn drive_foreground_terminal(env: &TestEnv, runtime_args: &[&str]) {
    let results = env.scratch("terminal-results");
    let quoted: Vec<String> = std::iter::once(runtime().path.to_str().unwrap())
        .chain(["--root", env.root.to_str().unwrap()])
        .chain(runtime_args.iter().copied())
        .map(|arg| format!("'{}'", arg.replace('\'', "'\\''")))
        .collect();
    let dir = results.display();
    let shell = format!(
        "stty -g > {dir}/before; {}; echo $? > {dir}/status.tmp; stty -g > {dir}/after; \
         mv {dir}/status.tmp {dir}/status",
        quoted.join(" ")
    );
    let tmux = Tmux::start(env, &shell);
    tmux.call(&["resize-window", "-t", "t", "-x", "80", "-y", "24"]);
    tmux.wait_for_screen("ready");
    // Asked only once the program runs: runtimes size the pty in parallel with its start.
    tmux.type_line("size");
    tmux.wait_for_screen("size:24 80");
    tmux.type_line("hello");
    tmux.wait_for_screen("got:hello");
    tmux.call(&["resize-window", "-t", "t", "-x", "100", "-y", "30"]);
    tmux.type_line("size");
    tmux.wait_for_screen("size:30 100");
    tmux.type_line("exit");
    let status_file = results.join("status");
    wait_until("the runtime to exit in the terminal", || {
        status_file.exists()
    });
    assert_eq!(
        fs::read_to_string(&status_file).unwrap().trim(),
        "3",
        "exit status"
    );
    assert_eq!(
        fs::read_to_string(results.join("before")).unwrap(),
        fs::read_to_string(results.join("after")).unwrap(),
        "terminal mode restored"
    );
}

/// The container side of [`drive_foreground_terminal`].
const TERMINAL_PROGRAM: &str = "echo ready; while read line; do \
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

/// `pipe:[N]`, as /proc/*/fd shows the pipe behind `fd`.
fn pipe_name(fd: impl AsFd) -> String {
    format!("pipe:[{}]", rustix::fs::fstat(fd).expect("fstat").st_ino)
}

/// What a container printed when the runtime's stdio were pipes of the test.
struct PipedRun {
    /// The runtime's own fds 0, 1 and 2, as `pipe:[N]`.
    runtime_stdio: [String; 3],
    stdout: String,
    stderr: String,
}

/// Runs `env`'s container with the runtime's stdin, stdout and stderr being pipes of the test:
/// `stdin` is written and closed once the container started, and its output is read until
/// every copy of the pipes is closed. `detached` goes through `create` + `start` (how conmon
/// and containerd's shim run containers), else through a foreground `run`.
fn run_with_pipes(env: &TestEnv, stdin: &[u8], detached: bool) -> PipedRun {
    env.write_config();
    env.remember_pid(&env.id);
    let mut command = env.command();
    command.arg(if detached { "create" } else { "run" });
    let mut child = command
        .arg("--bundle")
        .arg(&env.bundle)
        .arg(&env.id)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the runtime");
    let mut input = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let runtime_stdio = [pipe_name(&input), pipe_name(&stdout), pipe_name(&stderr)];
    let stderr_reader = std::thread::spawn(move || {
        let mut text = String::new();
        stderr.read_to_string(&mut text).map(|_| text)
    });
    let stdout_reader = std::thread::spawn(move || {
        let mut text = String::new();
        stdout.read_to_string(&mut text).map(|_| text)
    });
    let detached_init = detached.then(|| {
        assert_eq!(running::wait_for_runtime(&mut child), 0, "create failed");
        env.remember_pid(&env.id);
        let init = init_pid(env);
        env.start(&env.id).assert_success();
        init
    });
    input.write_all(stdin).unwrap();
    drop(input);
    let stdout = stdout_reader.join().unwrap().unwrap();
    let stderr = stderr_reader.join().unwrap().unwrap();
    let status = match detached_init {
        Some(init) => wait_for_child(init),
        None => running::wait_for_runtime(&mut child),
    };
    assert_eq!(status, 0, "{stdout}\n{stderr}");
    PipedRun {
        runtime_stdio,
        stdout,
        stderr,
    }
}

/// Reads stdin, reports fds, and writes a line to stderr.
const STDIO_PROGRAM: &str = "/bin/husk-checker fds stdin; echo to-stderr >&2";

#[track_caller]
fn assert_stdio_kept_apart(run: &PipedRun) {
    let values = CheckerValues::parse(&run.stdout);
    assert_eq!(values.get("stdin"), "line one\\nline two\\n");
    assert_eq!(values.get("fds"), "0,1,2");
    assert!(
        run.stderr.ends_with("to-stderr\n"),
        "stderr: {:?}",
        run.stderr
    );
    assert!(
        !run.stdout.contains("to-stderr"),
        "stdout: {:?}",
        run.stdout
    );
}

#[test]
fn foreground_run_without_terminal_passes_stdin_stdout_and_stderr() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    env.set_args(&["sh", "-c", STDIO_PROGRAM]);
    let run = run_with_pipes(&env, b"line one\nline two\n", false);
    assert_stdio_kept_apart(&run);
}

#[test]
fn created_container_without_terminal_gets_the_runtimes_own_stdio() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    env.set_args(&["sh", "-c", STDIO_PROGRAM]);
    let run = run_with_pipes(&env, b"line one\nline two\n", true);
    assert_stdio_kept_apart(&run);
    let values = CheckerValues::parse(&run.stdout);
    for (fd, pipe) in run.runtime_stdio.iter().enumerate() {
        assert_eq!(values.get(&format!("fd.{fd}")), pipe, "fd {fd}");
    }
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
    assert_eq!(
        values.get("env.LISTEN_PID"),
        "1",
        "the container process is pid 1"
    );
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
    // Where runc puts it: a bind mount of its directory, so that it survives re-creation.
    assert_eq!(values.get("env.NOTIFY_SOCKET"), "/run/notify/notify.sock");
    assert_eq!(values.get("stat.type"), "socket", "{outcome:#?}");
}
