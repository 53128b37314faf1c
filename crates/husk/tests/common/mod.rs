//! Harness shared by the integration suites: builds bundles, runs the runtime under test with a
//! private `--root`, and cleans everything up (containers, cgroups, temp dirs) on drop, also
//! when the test panics.
//!
//! The runtime is husk's own binary unless `HUSK_TEST_RUNTIME` names another one (runc, crun),
//! so the same suite proves the expected behaviour against runc and then checks husk.
//! `HUSK_CHECKER` may point at a prebuilt static husk-checker; otherwise it is built once.

// Each suite is its own crate and uses a different subset of these helpers.
#![allow(dead_code)]

use std::cell::RefCell;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rustix::process::{Pid, WaitOptions};
use serde_json::{json, Value};

/// Applets linked to /bin/busybox in every test rootfs.
const BUSYBOX_APPLETS: &[&str] = &[
    "sh", "cat", "ls", "sleep", "true", "false", "echo", "id", "env", "mkdir", "touch", "grep",
    "wc", "head", "test", "printf", "readlink", "stat", "kill", "pwd", "hostname", "ps", "mount",
];

/// How long any single runtime command may take before the test fails.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuntimeKind {
    Husk,
    Runc,
    Crun,
}

#[derive(Debug)]
pub struct Runtime {
    pub path: PathBuf,
    pub kind: RuntimeKind,
}

impl Runtime {
    /// Name the runtime prints first in `--version` (`<name> version X`).
    pub fn name(&self) -> &'static str {
        match self.kind {
            RuntimeKind::Husk => "husk",
            RuntimeKind::Runc => "runc",
            RuntimeKind::Crun => "crun",
        }
    }
}

pub fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        let path = std::env::var_os("HUSK_TEST_RUNTIME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_husk")));
        let file_name = path.file_name().unwrap_or_default().to_string_lossy();
        let kind = if file_name.starts_with("runc") {
            RuntimeKind::Runc
        } else if file_name.starts_with("crun") {
            RuntimeKind::Crun
        } else {
            RuntimeKind::Husk
        };
        Runtime { path, kind }
    })
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The static husk-checker binary, built once per test run (a lock file serialises test
/// binaries that start at the same time).
pub fn checker() -> &'static Path {
    static CHECKER: OnceLock<PathBuf> = OnceLock::new();
    CHECKER.get_or_init(|| {
        if let Some(path) = std::env::var_os("HUSK_CHECKER") {
            return PathBuf::from(path);
        }
        let target_dir = workspace_root().join("target/static");
        fs::create_dir_all(&target_dir).expect("create target/static");
        let lock = fs::File::create(target_dir.join(".husk-checker-build.lock"))
            .expect("create checker build lock");
        rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive)
            .expect("lock checker build");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
        let status = Command::new(cargo)
            .current_dir(workspace_root())
            .env("RUSTFLAGS", "-C target-feature=+crt-static")
            .args([
                "build",
                "--release",
                "-p",
                "husk-checker",
                "--target",
                "x86_64-unknown-linux-gnu",
                "--target-dir",
            ])
            .arg(&target_dir)
            .status()
            .expect("spawn cargo to build husk-checker");
        assert!(status.success(), "building the static husk-checker failed");
        target_dir.join("x86_64-unknown-linux-gnu/release/husk-checker")
    })
}

/// runc's default `spec` output, the base of every test config (same for every runtime under
/// test, so a broken `spec` in one runtime does not break every other test).
fn base_config() -> &'static Value {
    static CONFIG: OnceLock<Value> = OnceLock::new();
    CONFIG.get_or_init(|| {
        let generator = if Path::new("/usr/sbin/runc").exists() {
            PathBuf::from("/usr/sbin/runc")
        } else {
            runtime().path.clone()
        };
        let dir = TempDir::new("spec");
        let output = Command::new(&generator)
            .arg("spec")
            .current_dir(&dir.0)
            .output()
            .expect("spawn spec generator");
        assert!(
            output.status.success(),
            "{generator:?} spec failed: {output:?}"
        );
        let text = fs::read_to_string(dir.0.join("config.json")).expect("read generated spec");
        serde_json::from_str(&text).expect("generated spec is JSON")
    })
}

/// Makes the test process a child subreaper so that container inits, orphaned when the runtime
/// exits, are reparented to it (the way containerd's shim and conmon see them).
fn become_subreaper() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        rustix::process::set_child_subreaper(Some(rustix::process::getpid()))
            .expect("prctl(PR_SET_CHILD_SUBREAPER)");
    });
}

fn unique_suffix() -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(purpose: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("husk-it-{purpose}-{}", unique_suffix()));
        fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// What one runtime invocation produced.
#[derive(Debug)]
pub struct Outcome {
    /// Exit code; `None` when the runtime was killed by a signal.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// File that received stdout; containers created by this invocation keep writing to it.
    pub stdout_path: PathBuf,
}

impl Outcome {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    #[track_caller]
    pub fn assert_success(&self) -> &Self {
        assert!(self.success(), "runtime command failed: {self:#?}");
        self
    }

    #[track_caller]
    pub fn assert_failure(&self) -> &Self {
        assert!(
            self.code.is_some_and(|code| code != 0),
            "runtime command should have failed: {self:#?}"
        );
        self
    }

    /// Asserts the error output (stderr, both cases folded) mentions `needle`.
    #[track_caller]
    pub fn assert_error_mentions(&self, needle: &str) -> &Self {
        let text = format!("{}{}", self.stderr, self.stdout).to_lowercase();
        assert!(
            text.contains(&needle.to_lowercase()),
            "error output should mention {needle:?}: {self:#?}"
        );
        self
    }

    /// `key=value` lines printed by husk-checker.
    pub fn checker_values(&self) -> CheckerValues {
        CheckerValues::parse(&self.stdout)
    }
}

/// Parsed husk-checker output.
#[derive(Debug)]
pub struct CheckerValues(pub Vec<(String, String)>);

impl CheckerValues {
    pub fn parse(text: &str) -> CheckerValues {
        CheckerValues(
            text.lines()
                .filter_map(|line| line.split_once('='))
                .map(|(key, value)| (key.to_string(), value.to_string()))
                .collect(),
        )
    }

    #[track_caller]
    pub fn get(&self, key: &str) -> &str {
        self.0
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
            .unwrap_or_else(|| panic!("husk-checker printed no {key:?}: {self:#?}"))
    }

    /// A comma-separated value as a sorted list.
    pub fn list(&self, key: &str) -> Vec<String> {
        let mut items: Vec<String> = self
            .get(key)
            .split(',')
            .filter(|item| !item.is_empty())
            .map(str::to_string)
            .collect();
        items.sort();
        items
    }
}

/// One test's world: a bundle (busybox rootfs + husk-checker + config), a private `--root`
/// for the runtime, and the containers it created, all cleaned up on drop.
pub struct TestEnv {
    dir: TempDir,
    pub root: PathBuf,
    pub bundle: PathBuf,
    pub id: String,
    /// Written to `bundle/config.json` before each create/run.
    pub config: Value,
    /// Containers to force-delete on drop, with their init pid when known.
    created: RefCell<Vec<(String, Option<i32>)>>,
    invocations: AtomicUsize,
}

impl TestEnv {
    /// A ready environment, or `None` (with a message) when not root: the suites need root.
    pub fn new() -> Option<TestEnv> {
        if !is_root() {
            eprintln!("skipped: integration tests need root");
            return None;
        }
        become_subreaper();
        let dir = TempDir::new("env");
        let root = dir.0.join("state");
        let bundle = dir.0.join("bundle");
        fs::create_dir_all(&root).expect("create --root dir");
        build_rootfs(&bundle.join("rootfs"));
        let id = format!("husk-it-{}", unique_suffix());
        let mut config = base_config().clone();
        config["process"]["terminal"] = json!(false);
        config["process"]["args"] = json!(["true"]);
        config["hostname"] = json!("husk-test");
        Some(TestEnv {
            dir,
            root,
            bundle,
            id,
            config,
            created: RefCell::new(Vec::new()),
            invocations: AtomicUsize::new(0),
        })
    }

    /// True (after printing why) when the runtime under test is `kind`, which lacks the
    /// feature under test: the caller then returns early.
    pub fn skip_for(&self, kind: RuntimeKind, reason: &str) -> bool {
        if runtime().kind == kind {
            eprintln!("skipped: {reason}");
            return true;
        }
        false
    }

    /// Private scratch directory of this test (removed on drop).
    pub fn scratch(&self, name: &str) -> PathBuf {
        let path = self.dir.0.join(name);
        fs::create_dir_all(&path).expect("create scratch dir");
        path
    }

    /// Sets every capability set of the process to `caps`.
    pub fn set_all_capabilities(&mut self, caps: &[&str]) {
        for set in ["bounding", "effective", "permitted", "inheritable", "ambient"] {
            self.config["process"]["capabilities"][set] = json!(caps);
        }
    }

    /// Sets `process.args`.
    pub fn set_args(&mut self, args: &[&str]) {
        self.config["process"]["args"] = json!(args);
    }

    /// Drops the namespace of type `kind` from the config: the container shares the host's.
    pub fn share_host_namespace(&mut self, kind: &str) {
        self.config["linux"]["namespaces"]
            .as_array_mut()
            .expect("linux.namespaces")
            .retain(|namespace| namespace["type"] != kind);
    }

    /// Adds a read-write bind mount of host `source` at `destination` in the container.
    pub fn add_bind_mount(&mut self, source: &Path, destination: &str) {
        let mounts = self.config["mounts"].as_array_mut().expect("mounts array");
        mounts.push(json!({
            "destination": destination,
            "type": "bind",
            "source": source,
            "options": ["rbind", "rw"],
        }));
    }

    /// Writes `bundle/config.json`, with the cgroup named after the container being created.
    pub fn write_config(&self) {
        self.write_config_for(&self.id);
    }

    fn write_config_for(&self, id: &str) {
        let mut config = self.config.clone();
        config["linux"]["cgroupsPath"] = json!(format!("/{}", self.cgroup_name(id)));
        let text = serde_json::to_string_pretty(&config).expect("serialise config");
        fs::write(self.bundle.join("config.json"), text).expect("write config.json");
    }

    /// Cgroup directory name used for container `id`: the id itself when it is a plain name,
    /// else (invalid ids tested for refusal) this test's main id.
    pub fn cgroup_name<'a>(&'a self, id: &'a str) -> &'a str {
        let plain = !id.is_empty() && id != "." && id != ".." && !id.contains('/');
        if plain {
            id
        } else {
            &self.id
        }
    }

    /// The runtime command with the global `--root` of this test.
    pub fn command(&self) -> Command {
        let mut command = Command::new(&runtime().path);
        command.arg("--root").arg(&self.root);
        command
    }

    /// Runs `runtime --root R args...` with stdout/stderr going to files (so a container that
    /// inherits them cannot block the test), stdin from `stdin` or /dev/null.
    pub fn invoke(&self, args: &[&str]) -> Outcome {
        self.invoke_command(self.command().args(args), None)
    }

    /// Like [`invoke`](Self::invoke) with an arbitrary prepared command and optional stdin.
    pub fn invoke_command(&self, command: &mut Command, stdin: Option<&[u8]>) -> Outcome {
        let number = self.invocations.fetch_add(1, Ordering::Relaxed);
        let stdout_path = self.dir.0.join(format!("invocation-{number}.out"));
        let stderr_path = self.dir.0.join(format!("invocation-{number}.err"));
        let stdin = match stdin {
            Some(data) => {
                let path = self.dir.0.join(format!("invocation-{number}.in"));
                fs::write(&path, data).expect("write stdin file");
                Stdio::from(fs::File::open(&path).expect("open stdin file"))
            }
            None => Stdio::null(),
        };
        let mut child = command
            .stdin(stdin)
            .stdout(fs::File::create(&stdout_path).expect("create stdout file"))
            .stderr(fs::File::create(&stderr_path).expect("create stderr file"))
            .spawn()
            .unwrap_or_else(|error| panic!("spawn {:?}: {error}", runtime().path));
        let status = wait_with_timeout(&mut child).unwrap_or_else(|| {
            panic!("runtime command timed out after {COMMAND_TIMEOUT:?}: {command:?}")
        });
        Outcome {
            code: status.code(),
            stdout: fs::read_to_string(&stdout_path).unwrap_or_default(),
            stderr: fs::read_to_string(&stderr_path).unwrap_or_default(),
            stdout_path,
        }
    }

    /// Records `id` for force-deletion on drop; call it before creating a container through
    /// [`invoke_command`](Self::invoke_command) directly.
    pub fn register(&self, id: &str) {
        let mut created = self.created.borrow_mut();
        if !created.iter().any(|(known, _)| known == id) {
            created.push((id.to_string(), None));
        }
    }

    /// Records the init pid of container `id` (from `state`), so that drop can reap it;
    /// registers `id` too if needed.
    pub fn remember_pid(&self, id: &str) {
        self.register(id);
        let pid = self
            .try_state(id)
            .and_then(|state| state["pid"].as_i64())
            .and_then(|pid| i32::try_from(pid).ok())
            .filter(|&pid| pid > 0);
        if let Some(entry) = self
            .created
            .borrow_mut()
            .iter_mut()
            .find(|(known, _)| known == id)
        {
            entry.1 = entry.1.or(pid);
        }
    }

    /// Parsed `state ID`, or `None` if the runtime fails or prints no JSON.
    pub fn try_state(&self, id: &str) -> Option<Value> {
        let outcome = self.invoke(&["state", id]);
        outcome
            .success()
            .then(|| serde_json::from_str(&outcome.stdout).ok())
            .flatten()
    }

    /// `create [extra...] --bundle B ID` after writing the config.
    pub fn create_with(&self, id: &str, extra: &[&str]) -> Outcome {
        self.write_config_for(id);
        self.register(id);
        let bundle = self.bundle.to_str().expect("utf-8 bundle path");
        let mut args = vec!["create"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--bundle", bundle, id]);
        let outcome = self.invoke(&args);
        if outcome.success() {
            self.remember_pid(id);
        }
        outcome
    }

    /// Creates the test's container (which must succeed) and returns its
    /// init's pid.
    #[track_caller]
    pub fn create_init(&self) -> i32 {
        self.create().assert_success();
        self.state(&self.id)["pid"].as_i64().expect("state.pid") as i32
    }

    pub fn create(&self) -> Outcome {
        self.create_with(&self.id, &[])
    }

    /// `run [extra...] --bundle B ID`, in the foreground unless `extra` says `--detach`.
    pub fn run_with(&self, id: &str, extra: &[&str], stdin: Option<&[u8]>) -> Outcome {
        self.write_config_for(id);
        self.register(id);
        let mut command = self.command();
        command
            .arg("run")
            .args(extra)
            .arg("--bundle")
            .arg(&self.bundle)
            .arg(id);
        let outcome = self.invoke_command(&mut command, stdin);
        if outcome.success() && extra.iter().any(|arg| *arg == "--detach" || *arg == "-d") {
            self.remember_pid(id);
        }
        outcome
    }

    pub fn run(&self) -> Outcome {
        self.run_with(&self.id, &[], None)
    }

    /// Runs `husk-checker probes...` in a fresh container and returns its parsed output,
    /// failing the test if the container did not exit 0.
    #[track_caller]
    pub fn check(&mut self, probes: &[&str]) -> CheckerValues {
        let mut args = vec!["/bin/husk-checker"];
        args.extend_from_slice(probes);
        self.set_args(&args);
        let outcome = self.run();
        outcome.assert_success();
        outcome.checker_values()
    }

    pub fn start(&self, id: &str) -> Outcome {
        self.invoke(&["start", id])
    }

    pub fn kill(&self, id: &str, signal: &str) -> Outcome {
        self.invoke(&["kill", id, signal])
    }

    pub fn delete(&self, id: &str) -> Outcome {
        self.invoke(&["delete", id])
    }

    /// Parsed `state ID`; panics if the runtime fails.
    #[track_caller]
    pub fn state(&self, id: &str) -> Value {
        let outcome = self.invoke(&["state", id]);
        outcome.assert_success();
        serde_json::from_str(&outcome.stdout)
            .unwrap_or_else(|error| panic!("state output is not JSON ({error}): {outcome:#?}"))
    }

    pub fn status(&self, id: &str) -> String {
        self.state(id)["status"]
            .as_str()
            .expect("state.status is a string")
            .to_string()
    }

    /// Container ids in the state dir (what is left behind under `--root`).
    pub fn state_entries(&self) -> Vec<String> {
        fs::read_dir(&self.root)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|entry| entry.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Everything a failed command may have leaked: state entries, host mounts and processes
    /// referring to this test's directory, cgroup directories named after `id`.
    fn leftovers(&self, id: &str) -> Vec<String> {
        let mut found: Vec<String> = self
            .state_entries()
            .into_iter()
            .map(|entry| format!("state dir entry {entry}"))
            .collect();
        let dir = self.dir.0.to_string_lossy().into_owned();
        let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        found.extend(
            mountinfo
                .lines()
                .filter(|line| line.contains(&dir))
                .map(|line| format!("mount {line}")),
        );
        found.extend(
            cgroup_dirs(self.cgroup_name(id))
                .into_iter()
                .map(|path| format!("cgroup {}", path.display())),
        );
        found.extend(
            processes_referring_to(&self.dir.0)
                .into_iter()
                .map(|pid| format!("process {pid}")),
        );
        found
    }

    #[track_caller]
    pub fn assert_nothing_left(&self, id: &str) {
        let leftovers = self.leftovers(id);
        assert!(leftovers.is_empty(), "left behind: {leftovers:#?}");
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        for (id, pid) in self.created.borrow().iter() {
            let deleted = Command::new(&runtime().path)
                .arg("--root")
                .arg(&self.root)
                .args(["delete", "--force", id])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .ok()
                .and_then(|mut child| wait_with_timeout(&mut child));
            if deleted.is_none() {
                eprintln!("cleanup: `delete --force {id}` failed or hung");
            }
            if let Some(pid) = pid {
                reap_if_our_child(*pid);
            }
        }
        // Whatever the runtime failed to remove: processes started for this test (they refer
        // to its unique directory) and then the cgroups named after its containers.
        for pid in processes_referring_to(&self.dir.0) {
            if let Some(pid) = Pid::from_raw(pid) {
                eprintln!("cleanup: killing leftover process {pid:?}");
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
                reap_if_our_child(pid.as_raw_nonzero().get());
            }
        }
        for (id, _) in self.created.borrow().iter() {
            for dir in cgroup_dirs(self.cgroup_name(id)) {
                let _ = fs::remove_dir(dir);
            }
        }
    }
}

/// Waits for `child` at most [`COMMAND_TIMEOUT`]; on timeout kills it and returns `None`.
fn wait_with_timeout(child: &mut Child) -> Option<ExitStatus> {
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if started.elapsed() < COMMAND_TIMEOUT => {
                std::thread::sleep(Duration::from_millis(5));
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

/// Reaps a container init reparented to this subreaper process, giving it a few seconds to
/// die after `delete --force`; does nothing if it is not our child (ECHILD).
fn reap_if_our_child(pid: i32) {
    let Some(pid) = Pid::from_raw(pid) else {
        return;
    };
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(5) {
        match rustix::process::waitpid(Some(pid), WaitOptions::NOHANG) {
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Ok(Some(_)) | Err(_) => return,
        }
    }
}

fn proc_pids() -> Vec<i32> {
    fs::read_dir("/proc")
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|entry| entry.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// PPid of `pid` from /proc/<pid>/status.
pub fn parent_pid(pid: i32) -> Option<i32> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("PPid:"))
        .and_then(|value| value.trim().parse().ok())
}

/// Waits for the container init `pid` (our child thanks to the subreaper bit) and returns its
/// wait status as an exit code, or 128+signal.
#[track_caller]
pub fn wait_for_child(pid: i32) -> i32 {
    let pid = Pid::from_raw(pid).expect("non-zero pid");
    let (_, status) = rustix::process::waitpid(Some(pid), WaitOptions::empty())
        .expect("waitpid on the container init (is it our child?)")
        .expect("waitpid returned a status");
    status
        .exit_status()
        .or_else(|| status.terminating_signal().map(|signal| 128 + signal))
        .expect("init exited or was killed")
}

/// Processes whose cwd, root or command line refer to `dir`.
fn processes_referring_to(dir: &Path) -> Vec<i32> {
    let dir_text = dir.to_string_lossy().into_owned();
    proc_pids()
        .into_iter()
        .filter(|&pid| pid != std::process::id() as i32)
        .filter(|&pid| {
            let links_inside = ["cwd", "root"].iter().any(|link| {
                fs::read_link(format!("/proc/{pid}/{link}"))
                    .map(|target| target.starts_with(dir))
                    .unwrap_or(false)
            });
            // Whole arguments, compared as paths: `/tmp/x-1` must not match
            // another test's `/tmp/x-11/...`.
            let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let names_dir = cmdline.split(|&b| b == 0).any(|arg| {
                let arg = String::from_utf8_lossy(arg);
                Path::new(arg.as_ref()).starts_with(dir) || arg.contains(&format!("{dir_text}/"))
            });
            links_inside || names_dir
        })
        .collect()
}

/// Cgroup directories named `id` directly under any v1 hierarchy or the v2 mount.
fn cgroup_dirs(id: &str) -> Vec<PathBuf> {
    fs::read_dir("/sys/fs/cgroup")
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| entry.path().join(id))
                .filter(|path| path.is_dir())
                .collect()
        })
        .unwrap_or_default()
}

/// Namespace inode links of this (host) process, e.g. `("pid", "pid:[4026531836]")`.
pub fn host_namespaces() -> Vec<(String, String)> {
    ["cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"]
        .iter()
        .map(|name| {
            let target =
                fs::read_link(format!("/proc/self/ns/{name}")).expect("read host namespace link");
            (name.to_string(), target.display().to_string())
        })
        .collect()
}

fn build_rootfs(rootfs: &Path) {
    let bin = rootfs.join("bin");
    fs::create_dir_all(&bin).expect("create rootfs/bin");
    for dir in ["proc", "dev", "sys", "tmp", "etc", "root"] {
        fs::create_dir_all(rootfs.join(dir)).expect("create rootfs dir");
    }
    fs::copy("/bin/busybox", bin.join("busybox")).expect("copy /bin/busybox (busybox-static)");
    for applet in BUSYBOX_APPLETS {
        symlink("busybox", bin.join(applet)).expect("link busybox applet");
    }
    fs::copy(checker(), bin.join("husk-checker")).expect("copy husk-checker");
    fs::write(rootfs.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n")
        .expect("write /etc/passwd");
    fs::write(rootfs.join("etc/group"), "root:x:0:\n").expect("write /etc/group");
}
