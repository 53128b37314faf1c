//! `linux.seccomp` applied by the runtime to real containers (config-linux.md "Seccomp"): each
//! action as busybox sees it, argument conditions, both loading points (with and without
//! `noNewPrivileges`, as root and as an unprivileged user), `exec`'d processes, a NOTIFY agent
//! answering over the listener socket, and the podman and Docker default profiles. The filter
//! semantics themselves are covered in crates/husk-seccomp/tests/kernel.rs.

mod common;

use std::io::{IoSliceMut, Read};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use common::{Outcome, TestEnv};
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::net::{recvmsg, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};
use serde_json::{json, Value};

/// errno the blocking profiles return: distinctive, and busybox prints its text.
const EXDEV: i32 = libc::EXDEV;
const EXDEV_TEXT: &str = "Invalid cross-device link";

/// `AT_FDCWD` in the low 32 bits of the argument: glibc passes the `int` without sign-extending
/// it, so the upper half of the register the filter sees is zero, not all ones.
const AT_FDCWD_LOW_BITS: u64 = libc::AT_FDCWD as u32 as u64;

/// podman's default profile, from Debian's golang-github-containers-common (installed with
/// podman).
const PODMAN_PROFILE: &str = "/usr/share/containers/seccomp.json";

/// Docker's default profile: Debian's docker.io compiles it in; only the Go sources in
/// golang-github-docker-docker-dev (250 dependencies) ship it as a file. Another copy can be
/// named with `HUSK_DOCKER_SECCOMP_PROFILE`.
const DOCKER_PROFILE: &str =
    "/usr/share/gocode/src/github.com/docker/docker/profiles/seccomp/default.json";

/// How long the NOTIFY agent waits for the runtime or the container.
const AGENT_TIMEOUT: Duration = Duration::from_secs(20);

/// A profile allowing every syscall but those `rules` match.
fn allow_all_except(rules: Value) -> Value {
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": rules,
    })
}

/// `mkdir` (either syscall busybox may use) gets `action`, with EXDEV if it returns an errno.
fn mkdir_rule(action: &str) -> Value {
    let mut rule = json!({"names": ["mkdir", "mkdirat"], "action": action});
    if action == "SCMP_ACT_ERRNO" {
        rule["errnoRet"] = json!(EXDEV);
    }
    rule
}

/// A test environment whose rootfs the container may write to (runc's spec mounts it
/// read-only), so that a refused `mkdir` is refused by the filter alone.
fn writable_env() -> Option<TestEnv> {
    let mut env = TestEnv::new()?;
    env.config["root"]["readonly"] = json!(false);
    Some(env)
}

/// Runs `script` with `sh -c` in a fresh container, its stderr folded into stdout.
fn run_script(env: &mut TestEnv, id: &str, script: &str) -> Outcome {
    let script = format!("exec 2>&1; {script}");
    env.set_args(&["sh", "-c", &script]);
    env.run_with(id, &[], None)
}

#[track_caller]
fn assert_output_contains(outcome: &Outcome, needle: &str) {
    assert!(
        outcome.stdout.contains(needle),
        "container output should contain {needle:?}: {outcome:#?}"
    );
}

#[test]
fn errno_action_reaches_busybox_with_and_without_no_new_privileges() {
    let Some(mut env) = writable_env() else {
        return;
    };
    env.config["linux"]["seccomp"] = allow_all_except(json!([mkdir_rule("SCMP_ACT_ERRNO")]));
    let default_capabilities = env.config["process"]["capabilities"].clone();
    // (label, uid, capabilities): root with runc's default set, and an unprivileged user with
    // none, which cannot load a filter itself once it has switched user.
    let users = [
        ("root", 0, default_capabilities),
        ("uid-1000", 1000, json!({})),
    ];
    for (number, (label, uid, capabilities)) in users.into_iter().enumerate() {
        for no_new_privileges in [true, false] {
            env.config["process"]["user"] = json!({"uid": uid, "gid": uid});
            env.config["process"]["capabilities"] = capabilities.clone();
            env.config["process"]["noNewPrivileges"] = json!(no_new_privileges);
            let id = format!("{}-{number}-{no_new_privileges}", env.id);
            let outcome = run_script(&mut env, &id, "mkdir /tmp/refused; echo status=$?; id -u");
            assert_output_contains(&outcome, EXDEV_TEXT);
            assert_output_contains(&outcome, &format!("status=1\n{uid}\n"));
            outcome.assert_success();
            eprintln!("{label}, noNewPrivileges={no_new_privileges}: mkdir refused with EXDEV");
        }
    }
}

#[test]
fn kill_process_ends_the_container_with_sigsys() {
    let Some(mut env) = writable_env() else {
        return;
    };
    env.config["linux"]["seccomp"] = allow_all_except(json!([mkdir_rule("SCMP_ACT_KILL_PROCESS")]));
    env.set_args(&["mkdir", "/tmp/killed"]);
    let outcome = env.run();
    assert_eq!(
        outcome.code,
        Some(128 + libc::SIGSYS),
        "run should exit 128+SIGSYS: {outcome:#?}"
    );
}

#[test]
fn log_action_lets_the_syscall_through() {
    let Some(mut env) = writable_env() else {
        return;
    };
    env.config["linux"]["seccomp"] = allow_all_except(json!([mkdir_rule("SCMP_ACT_LOG")]));
    let id = env.id.clone();
    let outcome = run_script(
        &mut env,
        &id,
        "mkdir /tmp/logged && test -d /tmp/logged && echo made",
    );
    outcome.assert_success();
    assert_output_contains(&outcome, "made");
}

#[test]
fn argument_equal_condition_on_personality() {
    let Some(mut env) = writable_env() else {
        return;
    };
    // Docker's way of allowing only the query: every other persona is refused.
    env.config["linux"]["seccomp"] = allow_all_except(json!([{
        "names": ["personality"],
        "action": "SCMP_ACT_ERRNO",
        "errnoRet": EXDEV,
        "args": [{"index": 0, "value": 0xffff_ffffu64, "op": "SCMP_CMP_NE"}],
    }]));
    let id = env.id.clone();
    let outcome = run_script(
        &mut env,
        &id,
        "husk-checker personality; linux32 true; echo linux32=$?",
    );
    outcome.assert_success();
    assert_output_contains(&outcome, "personality=0x0\n");
    assert_output_contains(&outcome, EXDEV_TEXT);
    assert_output_contains(&outcome, "linux32=1");
}

#[test]
fn several_conditions_with_masked_equal_on_open_flags() {
    let Some(mut env) = writable_env() else {
        return;
    };
    // Refused only when both hold: relative to the cwd, and O_CREAT among the flags.
    env.config["linux"]["seccomp"] = allow_all_except(json!([{
        "names": ["openat"],
        "action": "SCMP_ACT_ERRNO",
        "errnoRet": EXDEV,
        "args": [
            {"index": 0, "value": 0xffff_ffffu64, "valueTwo": AT_FDCWD_LOW_BITS, "op": "SCMP_CMP_MASKED_EQ"},
            {"index": 2, "value": libc::O_CREAT, "valueTwo": libc::O_CREAT, "op": "SCMP_CMP_MASKED_EQ"},
        ],
    }]));
    let id = env.id.clone();
    let outcome = run_script(
        &mut env,
        &id,
        "grep -q root /etc/passwd && echo read-ok; touch /tmp/created; test -e /tmp/created || echo create-refused",
    );
    outcome.assert_success();
    assert_output_contains(&outcome, "read-ok");
    assert_output_contains(&outcome, EXDEV_TEXT);
    assert_output_contains(&outcome, "create-refused");
}

#[test]
fn filter_applies_to_exec_processes() {
    let Some(mut env) = writable_env() else {
        return;
    };
    env.config["linux"]["seccomp"] = allow_all_except(json!([mkdir_rule("SCMP_ACT_ERRNO")]));
    env.set_args(&["sleep", "60"]);
    let id = env.id.clone();
    env.create().assert_success();
    env.start(&id).assert_success();
    let outcome = env.invoke(&[
        "exec",
        &id,
        "sh",
        "-c",
        "mkdir /tmp/from-exec 2>&1; echo status=$?",
    ]);
    outcome.assert_success();
    assert_output_contains(&outcome, EXDEV_TEXT);
    assert_output_contains(&outcome, "status=1");
    env.kill(&id, "KILL").assert_success();
}

/// What the NOTIFY agent saw: the container process state and how many calls it answered.
struct AgentReport {
    state: Value,
    answered: usize,
}

/// A seccomp agent on `listener`: takes the state and listener fd from the runtime, then
/// answers the first notification with ENOSPC and every later one with a faked success,
/// until the container's filter has no users left.
fn run_agent(listener: UnixListener) -> Result<AgentReport, String> {
    wait_readable(listener.as_fd(), "the runtime to connect")?;
    let (mut stream, _) = listener.accept().map_err(|e| format!("accept: {e}"))?;
    stream.set_nonblocking(false).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(AGENT_TIMEOUT))
        .map_err(|e| e.to_string())?;
    let mut payload = vec![0u8; 64 * 1024];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(2))];
    let mut ancillary = RecvAncillaryBuffer::new(&mut space);
    let received = recvmsg(
        &stream,
        &mut [IoSliceMut::new(&mut payload)],
        &mut ancillary,
        RecvFlags::CMSG_CLOEXEC,
    )
    .map_err(|e| format!("recvmsg: {e}"))?;
    let mut fds: Vec<OwnedFd> = ancillary
        .drain()
        .flat_map(|message| match message {
            RecvAncillaryMessage::ScmRights(fds) => fds.collect(),
            _ => Vec::new(),
        })
        .collect();
    payload.truncate(received.bytes);
    // One state per connection, but the runtime need not close it (runc 1.1 keeps it open
    // until it exits): read until the JSON document is complete.
    let state: Value = loop {
        match serde_json::from_slice(&payload) {
            Ok(state) => break state,
            Err(error) if error.is_eof() => {
                let mut chunk = [0u8; 4096];
                let read = stream
                    .read(&mut chunk)
                    .map_err(|e| format!("rest of the state: {e}"))?;
                if read == 0 {
                    return Err(format!("state JSON cut short: {error}"));
                }
                payload.extend_from_slice(&chunk[..read]);
            }
            Err(error) => return Err(format!("state JSON: {error}")),
        }
    };
    if fds.len() != 1 {
        return Err(format!("expected exactly one fd, got {}", fds.len()));
    }
    let notify_fd = fds.remove(0);
    let mut answered = 0;
    while wait_readable(notify_fd.as_fd(), "a notification")? {
        // SAFETY: plain-data kernel structs, zero is a valid value for both.
        let mut request: libc::seccomp_notif = unsafe { std::mem::zeroed() };
        // SAFETY: the ioctl fills `request`, which lives for the call.
        if unsafe {
            libc::ioctl(
                notify_fd.as_raw_fd(),
                libc::SECCOMP_IOCTL_NOTIF_RECV,
                &mut request,
            )
        } != 0
        {
            // ENOENT: the process went away between poll and receive.
            continue;
        }
        let mut response: libc::seccomp_notif_resp = unsafe { std::mem::zeroed() };
        response.id = request.id;
        response.error = if answered == 0 { -libc::ENOSPC } else { 0 };
        // SAFETY: `response` lives for the call; the kernel only reads it.
        if unsafe {
            libc::ioctl(
                notify_fd.as_raw_fd(),
                libc::SECCOMP_IOCTL_NOTIF_SEND,
                &mut response,
            )
        } != 0
        {
            return Err(format!("NOTIF_SEND: {}", std::io::Error::last_os_error()));
        }
        answered += 1;
    }
    Ok(AgentReport { state, answered })
}

/// Waits until `fd` is readable (true) or hung up with nothing to read (false), failing after
/// [`AGENT_TIMEOUT`] so that a runtime that never connects cannot hang the test.
fn wait_readable(fd: std::os::fd::BorrowedFd<'_>, what: &str) -> Result<bool, String> {
    let deadline = Instant::now() + AGENT_TIMEOUT;
    loop {
        let mut fds = [PollFd::new(&fd, PollFlags::IN)];
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!("timed out waiting for {what}"));
        }
        let timeout = Timespec::try_from(left).map_err(|e| e.to_string())?;
        match poll(&mut fds, Some(&timeout)) {
            Ok(0) => continue,
            Ok(_) => {
                let events = fds[0].revents();
                return Ok(events.contains(PollFlags::IN) || !events.contains(PollFlags::HUP));
            }
            Err(rustix::io::Errno::INTR) => continue,
            Err(error) => return Err(format!("poll: {error}")),
        }
    }
}

#[test]
fn notify_agent_receives_the_state_and_answers_for_the_container() {
    let Some(mut env) = writable_env() else {
        return;
    };
    let socket: PathBuf = env.scratch("agent").join("agent.sock");
    let listener = UnixListener::bind(&socket).expect("bind the agent socket");
    listener
        .set_nonblocking(true)
        .expect("non-blocking agent socket");
    let mut profile = allow_all_except(json!([mkdir_rule("SCMP_ACT_NOTIFY")]));
    profile["listenerPath"] = json!(socket);
    profile["listenerMetadata"] = json!("husk-test-agent");
    env.config["linux"]["seccomp"] = profile;
    let agent = thread::spawn(move || run_agent(listener));

    let id = env.id.clone();
    let outcome = run_script(
        &mut env,
        &id,
        "mkdir /tmp/first; mkdir /tmp/second && test ! -e /tmp/second && echo faked-success",
    );
    let report = agent
        .join()
        .expect("agent thread")
        .unwrap_or_else(|error| panic!("agent: {error}; runtime: {outcome:#?}"));
    outcome.assert_success();
    assert_output_contains(&outcome, "No space left on device");
    assert_output_contains(&outcome, "faked-success");
    assert_eq!(report.answered, 2, "notifications answered");

    let state = &report.state;
    assert!(
        state["ociVersion"]
            .as_str()
            .is_some_and(|v| v.starts_with("1.")),
        "ociVersion: {state:#}"
    );
    assert_eq!(state["fds"], json!(["seccompFd"]), "{state:#}");
    assert!(
        state["pid"].as_i64().is_some_and(|pid| pid > 0),
        "pid: {state:#}"
    );
    assert_eq!(state["metadata"], "husk-test-agent", "{state:#}");
    assert_eq!(state["state"]["id"], id.as_str(), "{state:#}");
    assert_eq!(state["state"]["status"], "creating", "{state:#}");
    assert_eq!(state["state"]["pid"], state["pid"], "{state:#}");
}

/// A podman/Docker default profile as those engines hand it to the runtime: the rules for this
/// architecture (amd64) and for capabilities the container has, with `archMap` resolved into
/// `architectures`. `minKernel` (4.8 at most) is not checked; the extra fields (`comment`,
/// `includes`, ...) stay, as the engines leave them.
fn engine_profile(path: &Path, capabilities: &[&str]) -> Option<Value> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut profile: Value = serde_json::from_str(&text).expect("the profile is JSON");
    let names = |rule: &Value, key: &str, list: &str| -> Vec<String> {
        rule[key][list]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|item| item.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let has_cap = |cap: &String| capabilities.contains(&cap.as_str());
    let rules: Vec<Value> = profile["syscalls"]
        .as_array()
        .expect("syscalls")
        .iter()
        .filter(|rule| {
            let included_arches = names(rule, "includes", "arches");
            (included_arches.is_empty() || included_arches.iter().any(|arch| arch == "amd64"))
                && names(rule, "includes", "caps").iter().all(has_cap)
                && !names(rule, "excludes", "arches")
                    .iter()
                    .any(|arch| arch == "amd64")
                && !names(rule, "excludes", "caps").iter().any(has_cap)
        })
        .cloned()
        .collect();
    let x86_64 = profile["archMap"]
        .as_array()
        .and_then(|map| {
            map.iter()
                .find(|entry| entry["architecture"] == "SCMP_ARCH_X86_64")
        })
        .expect("archMap has SCMP_ARCH_X86_64")
        .clone();
    let mut architectures = vec![x86_64["architecture"].clone()];
    architectures.extend(
        x86_64["subArchitectures"]
            .as_array()
            .cloned()
            .unwrap_or_default(),
    );
    profile["architectures"] = json!(architectures);
    profile["syscalls"] = json!(rules);
    profile
        .as_object_mut()
        .expect("profile object")
        .remove("archMap");
    Some(profile)
}

/// Loads the engine's default profile from `path` (or skips, naming `package`) into a container
/// with CAP_SYS_ADMIN, where ordinary programs must work and `swapoff` must be refused.
fn assert_engine_profile_refuses_swapoff(path: &Path, package: &str) {
    let Some(mut env) = writable_env() else {
        return;
    };
    let mut capabilities: Vec<String> = env.config["process"]["capabilities"]["bounding"]
        .as_array()
        .expect("runc's default bounding set")
        .iter()
        .filter_map(|cap| cap.as_str().map(str::to_string))
        .collect();
    capabilities.push("CAP_SYS_ADMIN".to_string());
    let capabilities: Vec<&str> = capabilities.iter().map(String::as_str).collect();
    let Some(profile) = engine_profile(path, &capabilities) else {
        eprintln!(
            "skipped: {} missing (it comes with {package})",
            path.display()
        );
        return;
    };
    env.set_all_capabilities(&capabilities);
    // Both containers share the rootfs: each makes its own directory.
    let script = |dir: &str| {
        format!(
            "ls / >/dev/null && cat /etc/passwd >/dev/null && mkdir /tmp/{dir} && ps >/dev/null \
             && touch /tmp/{dir}/file && echo ordinary-ok; busybox swapoff /tmp/{dir}/file"
        )
    };

    // Without a filter, CAP_SYS_ADMIN lets swapoff reach the kernel, which finds no swap there.
    let unfiltered_id = format!("{}-unfiltered", env.id);
    let unfiltered = run_script(&mut env, &unfiltered_id, &script("unfiltered"));
    assert_output_contains(&unfiltered, "ordinary-ok");
    assert_output_contains(&unfiltered, "Invalid argument");

    env.config["linux"]["seccomp"] = profile;
    let id = env.id.clone();
    let filtered = run_script(&mut env, &id, &script("filtered"));
    assert_output_contains(&filtered, "ordinary-ok");
    assert_output_contains(&filtered, "Operation not permitted");
}

#[test]
fn podman_default_profile_refuses_swapoff_even_with_cap_sys_admin() {
    assert_engine_profile_refuses_swapoff(
        Path::new(PODMAN_PROFILE),
        "golang-github-containers-common",
    );
}

#[test]
fn docker_default_profile_refuses_swapoff_even_with_cap_sys_admin() {
    let path = std::env::var_os("HUSK_DOCKER_SECCOMP_PROFILE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DOCKER_PROFILE));
    assert_engine_profile_refuses_swapoff(&path, "golang-github-docker-docker-dev");
}
