//! Helpers for tests that work on a running container (exec, terminals, signals, escapes),
//! on top of the shared harness in `mod.rs`. Declared by each suite that needs it with
//! `#[path = "common/running.rs"] mod running;`.

// Each suite uses a different subset of these helpers.
#![allow(dead_code)]

use std::fs;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, WaitOptions};

use crate::common::{runtime, Outcome, TestEnv};

/// How long a test waits for something the container or runtime should do promptly.
pub const PROMPTLY: Duration = Duration::from_secs(10);

/// Polls `condition` every 10 ms until it holds; fails the test after [`PROMPTLY`].
#[track_caller]
pub fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let started = Instant::now();
    while !condition() {
        assert!(started.elapsed() < PROMPTLY, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Creates and starts `env.id` running `args` and returns the init's host pid.
#[track_caller]
pub fn start_container(env: &mut TestEnv, args: &[&str]) -> i32 {
    env.set_args(args);
    env.create().assert_success();
    let pid = init_pid(env);
    env.start(&env.id).assert_success();
    pid
}

/// A running container whose init sleeps until killed; returns the init's host pid.
#[track_caller]
pub fn start_sleeper(env: &mut TestEnv) -> i32 {
    start_container(env, &["sleep", "1000"])
}

#[track_caller]
pub fn init_pid(env: &TestEnv) -> i32 {
    let pid = env.state(&env.id)["pid"].as_i64().expect("state.pid");
    i32::try_from(pid).expect("pid fits in i32")
}

/// `exec [flags...] ID command...` in the foreground, stdin from /dev/null.
pub fn exec(env: &TestEnv, flags: &[&str], command: &[&str]) -> Outcome {
    let mut args = vec!["exec"];
    args.extend_from_slice(flags);
    args.push(&env.id);
    args.extend_from_slice(command);
    env.invoke(&args)
}

/// `exec` with extra flags through a host shell that first opens fds 3, 4 and 5 on `file`, so
/// the runtime inherits them the way a caller's stray fds (or socket activation) reach it.
/// `shell_prefix` runs in that shell just before it execs the runtime.
pub fn invoke_with_inherited_fds(
    env: &TestEnv,
    file: &Path,
    shell_prefix: &str,
    runtime_args: &[&str],
) -> Outcome {
    let mut command = Command::new("/bin/sh");
    command
        .arg("-c")
        .arg(format!(
            "exec 3<\"$0\" 4<\"$0\" 5<\"$0\"; {shell_prefix} exec \"$@\""
        ))
        .arg(file)
        .arg(&runtime().path)
        .arg("--root")
        .arg(&env.root)
        .args(runtime_args);
    env.invoke_command(&mut command, None)
}

/// Starts the runtime with `args` in the background, output to files in the scratch dir
/// `name` (`out`, `err`); the caller waits for it with [`wait_for_runtime`].
pub fn spawn_runtime(env: &TestEnv, name: &str, args: &[&str]) -> Child {
    let dir = env.scratch(name);
    env.command()
        .args(args)
        .stdin(Stdio::null())
        .stdout(fs::File::create(dir.join("out")).expect("create out file"))
        .stderr(fs::File::create(dir.join("err")).expect("create err file"))
        .spawn()
        .expect("spawn the runtime")
}

/// Waits for a runtime started with [`spawn_runtime`] (killing it after [`PROMPTLY`]) and
/// returns its exit code, or 128+signal.
#[track_caller]
pub fn wait_for_runtime(child: &mut Child) -> i32 {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("try_wait on the runtime") {
            use std::os::unix::process::ExitStatusExt;
            return status
                .code()
                .or_else(|| status.signal().map(|signal| 128 + signal))
                .expect("exited or killed");
        }
        if started.elapsed() > PROMPTLY {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the runtime did not exit within {PROMPTLY:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Reads a scratch output file written by a runtime started with [`spawn_runtime`].
pub fn scratch_text(env: &TestEnv, name: &str, file: &str) -> String {
    fs::read_to_string(env.scratch(name).join(file)).unwrap_or_default()
}

pub fn send_signal(pid: i32, signal: Signal) {
    let pid = Pid::from_raw(pid).expect("non-zero pid");
    rustix::process::kill_process(pid, signal).expect("kill(2)");
}

pub fn is_alive(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state letter follows the parenthesised command name.
        Ok(stat) => !matches!(
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.trim_start().chars().next()),
            Some('Z' | 'X') | None
        ),
        Err(_) => false,
    }
}

/// Reaps `pid` if it is a (possibly reparented) child of this test process.
pub fn reap(pid: i32) {
    if let Some(pid) = Pid::from_raw(pid) {
        let _ = rustix::process::waitpid(Some(pid), WaitOptions::empty());
    }
}

/// Reads a pid file the runtime wrote.
#[track_caller]
pub fn read_pid_file(path: &Path) -> i32 {
    let text = fs::read_to_string(path)
        .unwrap_or_else(|error| panic!("read pid file {}: {error}", path.display()));
    text.trim()
        .parse()
        .unwrap_or_else(|error| panic!("pid file holds {text:?}: {error}"))
}

/// Namespace links of host pid `pid`, e.g. `("pid", "pid:[4026532410]")`.
pub fn namespaces_of(pid: i32) -> Vec<(String, String)> {
    ["cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"]
        .iter()
        .map(|name| {
            let target = fs::read_link(format!("/proc/{pid}/ns/{name}"))
                .unwrap_or_else(|error| panic!("read /proc/{pid}/ns/{name}: {error}"));
            (name.to_string(), target.display().to_string())
        })
        .collect()
}

/// Value of a `Key:` line of /proc/<pid>/status.
pub fn status_line(pid: i32, key: &str) -> String {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{key}:")))
        .map(|value| value.trim().to_string())
        .unwrap_or_else(|| panic!("/proc/{pid}/status has no {key}"))
}
