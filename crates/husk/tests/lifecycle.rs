//! Lifecycle and CLI contract (runtime.md operations, runc's CLI as callers use it).

mod common;

use std::fs;
use std::io::{IoSliceMut, Read};
use std::mem::MaybeUninit;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{parent_pid, runtime, wait_for_child, RuntimeKind, TestEnv};
use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};
use serde_json::{json, Value};

/// Waits until `path` exists, failing the test after 10 s.
#[track_caller]
fn wait_for_file(path: &Path) {
    let started = Instant::now();
    while !path.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Configures a container that touches /shared/started, then sleeps until killed.
fn marker_then_sleep(env: &mut TestEnv) -> std::path::PathBuf {
    let shared = env.scratch("shared");
    env.add_bind_mount(&shared, "/shared");
    env.set_args(&["sh", "-c", "touch /shared/started; exec sleep 1000"]);
    shared.join("started")
}

#[test]
fn version_names_the_runtime_and_spec() {
    let Some(env) = TestEnv::new() else { return };
    let outcome = env.invoke(&["--version"]);
    outcome.assert_success();
    let mut lines = outcome.stdout.lines();
    let first = lines.next().unwrap_or_default();
    assert!(
        first.starts_with(&format!("{} version ", runtime().name())),
        "first line: {first:?}"
    );
    let rest: Vec<&str> = lines.collect();
    assert!(
        rest.iter().any(|line| line.starts_with("commit:")),
        "{rest:?}"
    );
    let spec_line = rest
        .iter()
        .find(|line| line.starts_with("spec:"))
        .unwrap_or_else(|| panic!("no spec: line in {rest:?}"));
    if runtime().kind == RuntimeKind::Husk {
        assert_eq!(*spec_line, "spec: 1.3.0");
    }
}

#[test]
fn spec_writes_a_default_and_a_rootless_config() {
    let Some(env) = TestEnv::new() else { return };
    let dir = env.scratch("spec");
    let dir_text = dir.to_str().unwrap();
    env.invoke(&["spec", "--bundle", dir_text]).assert_success();
    let config: Value = serde_json::from_str(&fs::read_to_string(dir.join("config.json")).unwrap())
        .expect("spec output is JSON");
    assert!(config["ociVersion"]
        .as_str()
        .is_some_and(|v| v.starts_with("1.")));
    assert_eq!(config["root"]["path"], "rootfs");
    assert!(config["process"]["args"].is_array());
    // Refuses to clobber an existing config.
    env.invoke(&["spec", "--bundle", dir_text]).assert_failure();

    let rootless_dir = env.scratch("spec-rootless");
    env.invoke(&[
        "spec",
        "--rootless",
        "--bundle",
        rootless_dir.to_str().unwrap(),
    ])
    .assert_success();
    let rootless: Value =
        serde_json::from_str(&fs::read_to_string(rootless_dir.join("config.json")).unwrap())
            .unwrap();
    let namespaces = rootless["linux"]["namespaces"].as_array().unwrap();
    assert!(
        namespaces.iter().any(|ns| ns["type"] == "user"),
        "{namespaces:?}"
    );
    assert!(rootless["linux"]["uidMappings"].is_array());
    assert!(rootless["linux"]["gidMappings"].is_array());
}

#[test]
fn create_blocks_until_start_then_runs_and_stops() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    let marker = marker_then_sleep(&mut env);
    let id = env.id.clone();
    env.create().assert_success();

    let state = env.state(&id);
    assert_eq!(state["status"], "created");
    let pid = state["pid"].as_i64().expect("pid") as i32;
    assert!(pid > 0 && Path::new(&format!("/proc/{pid}")).exists());
    std::thread::sleep(Duration::from_millis(300));
    assert!(!marker.exists(), "the user program ran before start");

    env.start(&id).assert_success();
    wait_for_file(&marker);
    assert_eq!(env.status(&id), "running");

    env.kill(&id, "KILL").assert_success();
    assert_eq!(wait_for_child(pid), 128 + 9);
    assert_eq!(env.status(&id), "stopped");

    env.delete(&id).assert_success();
    assert!(env.state_entries().is_empty(), "{:?}", env.state_entries());
    env.invoke(&["state", &id])
        .assert_failure()
        .assert_error_mentions("does not exist");
}

#[test]
fn create_writes_pid_file_and_init_is_reparented_to_caller() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    env.set_args(&["sleep", "1000"]);
    let pid_file = env.scratch("pids").join("init.pid");
    let id = env.id.clone();
    env.create_with(&id, &["--pid-file", pid_file.to_str().unwrap()])
        .assert_success();
    let written: i32 = fs::read_to_string(&pid_file)
        .expect("pid file written")
        .trim()
        .parse()
        .expect("pid file holds a number");
    assert_eq!(json!(written), env.state(&id)["pid"]);
    // The runtime has exited: its init now belongs to us, the subreaper.
    assert_eq!(parent_pid(written), Some(std::process::id() as i32));
    env.start(&id).assert_success();
    env.kill(&id, "KILL").assert_success();
    assert_eq!(wait_for_child(written), 128 + 9);
}

#[test]
fn relative_pid_file_is_resolved_against_the_callers_cwd() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    env.set_args(&["sleep", "1000"]);
    env.write_config();
    let cwd = env.scratch("caller-cwd");
    env.register(&env.id);
    let mut command = env.command();
    command
        .current_dir(&cwd)
        .args(["create", "--pid-file", "rel.pid", "--bundle"])
        .arg(&env.bundle)
        .arg(&env.id);
    let outcome = env.invoke_command(&mut command, None);
    env.remember_pid(&env.id);
    outcome.assert_success();
    let written = fs::read_to_string(cwd.join("rel.pid")).expect("relative pid file");
    assert_eq!(
        json!(written.trim().parse::<i64>().unwrap()),
        env.state(&env.id)["pid"]
    );
}

#[test]
fn run_waits_and_exits_with_the_container_status() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    env.set_args(&["sh", "-c", "echo hello from inside; exit 42"]);
    let outcome = env.run();
    assert_eq!(outcome.code, Some(42), "{outcome:#?}");
    assert_eq!(outcome.stdout, "hello from inside\n");
    // Without --keep a finished run leaves no container behind.
    assert!(env.state_entries().is_empty(), "{:?}", env.state_entries());
}

#[test]
fn run_reports_death_by_signal_as_128_plus_signal() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    // In its own pid namespace the shell would be init, which SIGKILL from inside cannot kill.
    env.share_host_namespace("pid");
    env.set_args(&["sh", "-c", "kill -KILL $$"]);
    assert_eq!(env.run().code, Some(128 + 9));
}

#[test]
fn run_detach_leaves_a_running_container() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    env.set_args(&["sleep", "1000"]);
    let id = env.id.clone();
    env.run_with(&id, &["--detach"], None).assert_success();
    let state = env.state(&id);
    assert_eq!(state["status"], "running");
    let pid = state["pid"].as_i64().unwrap() as i32;
    env.kill(&id, "KILL").assert_success();
    assert_eq!(wait_for_child(pid), 128 + 9);
    env.delete(&id).assert_success();
}

#[test]
fn run_keep_leaves_a_stopped_container() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    env.set_args(&["true"]);
    let id = env.id.clone();
    env.run_with(&id, &["--keep"], None).assert_success();
    assert_eq!(env.status(&id), "stopped");
    env.delete(&id).assert_success();
    assert!(env.state_entries().is_empty());
}

#[test]
fn state_has_runc_fields_and_keeps_annotations() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    env.set_args(&["sleep", "1000"]);
    env.config["annotations"] = json!({"org.example.key": "value", "other": "2"});
    let id = env.id.clone();
    env.create().assert_success();
    let state = env.state(&id);
    assert!(
        state["ociVersion"].as_str().is_some_and(|v| !v.is_empty()),
        "{state}"
    );
    assert_eq!(state["id"], id.as_str());
    assert_eq!(state["status"], "created");
    assert!(state["pid"].as_i64().is_some_and(|pid| pid > 0));
    let bundle = fs::canonicalize(&env.bundle).unwrap();
    assert_eq!(state["bundle"], bundle.to_str().unwrap());
    assert_eq!(state["rootfs"], bundle.join("rootfs").to_str().unwrap());
    // runc's `state` leaves owner empty (only `list` fills it in); either is a string.
    assert!(state["owner"].is_string(), "{state}");
    let created = state["created"].as_str().expect("created timestamp");
    assert!(
        created.len() >= 20 && created.as_bytes()[10] == b'T',
        "created is RFC 3339: {created}"
    );
    assert_eq!(
        state["annotations"],
        json!({"org.example.key": "value", "other": "2"})
    );
}

/// Starts a container whose init exits with 7 on SIGTERM and 0 otherwise.
fn term_trapping_container(env: &mut TestEnv, id: &str) -> i32 {
    env.set_args(&[
        "sh",
        "-c",
        "trap 'exit 7' TERM; touch /shared/ready; while true; do sleep 0.05; done",
    ]);
    let shared = env.scratch(&format!("shared-{id}"));
    env.add_bind_mount(&shared, "/shared");
    env.create_with(id, &[]).assert_success();
    let pid = env.state(id)["pid"].as_i64().unwrap() as i32;
    env.start(id).assert_success();
    wait_for_file(&shared.join("ready"));
    pid
}

#[test]
fn kill_defaults_to_sigterm() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    let id = env.id.clone();
    let pid = term_trapping_container(&mut env, &id);
    env.invoke(&["kill", &id]).assert_success();
    assert_eq!(wait_for_child(pid), 7);
}

#[test]
fn kill_accepts_signal_numbers_and_both_name_forms() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    for (index, signal) in ["15", "TERM", "SIGTERM"].iter().enumerate() {
        let id = format!("{}-{index}", env.id);
        let pid = term_trapping_container(&mut env, &id);
        env.kill(&id, signal).assert_success();
        assert_eq!(wait_for_child(pid), 7, "signal spelled {signal}");
        env.config["mounts"].as_array_mut().unwrap().pop();
    }
}

#[test]
fn kill_all_signals_the_container() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    for (index, flag) in ["--all", "-a"].iter().enumerate() {
        let id = format!("{}-{index}", env.id);
        env.set_args(&["sleep", "1000"]);
        env.create_with(&id, &[]).assert_success();
        let pid = env.state(&id)["pid"].as_i64().unwrap() as i32;
        env.start(&id).assert_success();
        env.invoke(&["kill", flag, &id, "KILL"]).assert_success();
        assert_eq!(wait_for_child(pid), 128 + 9, "kill {flag}");
    }
}

#[test]
fn delete_force_removes_a_running_container() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    env.set_args(&["sleep", "1000"]);
    let id = env.id.clone();
    let pid = env.create_init();
    env.start(&id).assert_success();
    env.invoke(&["delete", "--force", &id]).assert_success();
    assert_eq!(wait_for_child(pid), 128 + 9);
    env.assert_nothing_left(&id);
}

#[test]
fn delete_short_force_flag_removes_a_created_container() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    env.set_args(&["sleep", "1000"]);
    let id = env.id.clone();
    let pid = env.create_init();
    env.invoke(&["delete", "-f", &id]).assert_success();
    wait_for_child(pid);
    env.assert_nothing_left(&id);
}

#[test]
fn list_shows_containers_in_every_format() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    env.set_args(&["sleep", "1000"]);
    let first = format!("{}-a", env.id);
    let second = format!("{}-b", env.id);
    env.create_with(&first, &[]).assert_success();
    env.create_with(&second, &[]).assert_success();

    let quiet = env.invoke(&["list", "-q"]);
    quiet.assert_success();
    let mut ids: Vec<&str> = quiet.stdout.lines().collect();
    ids.sort();
    assert_eq!(ids, [first.as_str(), second.as_str()]);

    let listed = env.invoke(&["list", "--format", "json"]);
    listed.assert_success();
    let entries: Value = serde_json::from_str(&listed.stdout).expect("list json");
    let entries = entries.as_array().expect("list json is an array");
    assert_eq!(entries.len(), 2);
    let bundle = fs::canonicalize(&env.bundle).unwrap();
    let mut listed_ids: Vec<&str> = entries.iter().filter_map(|e| e["id"].as_str()).collect();
    listed_ids.sort();
    assert_eq!(listed_ids, [first.as_str(), second.as_str()]);
    for entry in entries {
        assert_eq!(entry["status"], "created");
        assert!(entry["pid"].as_i64().is_some_and(|pid| pid > 0));
        assert_eq!(entry["bundle"], bundle.to_str().unwrap());
        assert!(
            entry["created"].is_string() && entry["owner"].is_string(),
            "{entry}"
        );
    }

    let table = env.invoke(&["list", "--format=table"]);
    table.assert_success();
    let header = table.stdout.lines().next().unwrap_or_default();
    for column in ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"] {
        assert!(
            header.contains(column),
            "table header {header:?} lacks {column}"
        );
    }
    assert!(table.stdout.contains(&first) && table.stdout.contains(&second));
}

#[test]
fn list_of_an_empty_root_is_empty() {
    let Some(env) = TestEnv::new() else { return };
    let listed = env.invoke(&["list", "--format", "json"]);
    listed.assert_success();
    let value: Value = serde_json::from_str(listed.stdout.trim()).expect("json");
    assert!(value.is_null() || value == json!([]), "{value}");
}

#[test]
fn bundle_flag_accepts_equals_space_and_short_forms() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    env.set_args(&["true"]);
    env.write_config();
    let bundle = env.bundle.to_str().unwrap().to_string();
    let spellings = [
        vec![format!("--bundle={bundle}")],
        vec!["--bundle".to_string(), bundle.clone()],
        vec!["-b".to_string(), bundle.clone()],
    ];
    for (index, spelling) in spellings.iter().enumerate() {
        let id = format!("{}-{index}", env.id);
        let mut args = vec!["create".to_string()];
        args.extend(spelling.iter().cloned());
        args.push(id.clone());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        env.register(&id);
        let outcome = env.invoke(&args);
        env.remember_pid(&id);
        outcome.assert_success();
        assert_eq!(env.status(&id), "created", "spelling {spelling:?}");
        env.invoke(&["delete", "--force", &id]).assert_success();
    }
}

#[test]
fn global_root_flag_accepts_equals_form() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    env.set_args(&["sleep", "1000"]);
    let id = env.id.clone();
    env.create().assert_success();
    let mut command = std::process::Command::new(&runtime().path);
    command
        .arg(format!("--root={}", env.root.display()))
        .args(["state", &id]);
    let outcome = env.invoke_command(&mut command, None);
    outcome.assert_success();
    assert!(outcome.stdout.contains(&id));
}

#[test]
fn create_accepts_the_flags_shims_send() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    env.set_args(&["true"]);
    let id = env.id.clone();
    env.create_with(&id, &["--no-new-keyring", "--no-pivot"])
        .assert_success();
    assert_eq!(env.status(&id), "created");
}

/// Runs `args` with `--log FILE --log-format json` and returns the parsed log lines, checking
/// each has level, msg and time.
fn json_log_of(env: &TestEnv, args: &[&str]) -> Vec<Value> {
    let log = env.scratch("log").join("log.json");
    let _ = fs::remove_file(&log);
    let mut command = env.command();
    command
        .arg("--log")
        .arg(&log)
        .args(["--log-format", "json"])
        .args(args);
    env.invoke_command(&mut command, None).assert_failure();
    let text = fs::read_to_string(&log).expect("log file written");
    let entries: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?}: {e}")))
        .collect();
    for entry in &entries {
        for key in ["level", "msg", "time"] {
            assert!(entry[key].is_string(), "log line lacks {key}: {entry}");
        }
    }
    entries
}

/// The message of the last `"level":"error"` line, where containerd's shim takes errors from.
fn last_error(entries: &[Value]) -> String {
    entries
        .iter()
        .rev()
        .find(|entry| entry["level"] == "error")
        .and_then(|entry| entry["msg"].as_str())
        .unwrap_or_else(|| panic!("no error line in {entries:?}"))
        .to_string()
}

#[test]
fn json_log_ends_with_the_error() {
    let Some(env) = TestEnv::new() else { return };
    let entries = json_log_of(&env, &["state", "no-such-container"]);
    let message = last_error(&entries);
    assert!(message.contains("does not exist"), "{message}");

    let empty_bundle = env.scratch("empty-bundle");
    env.register(&env.id);
    let entries = json_log_of(
        &env,
        &[
            "create",
            "--bundle",
            empty_bundle.to_str().unwrap(),
            &env.id,
        ],
    );
    let message = last_error(&entries);
    assert!(message.contains("config.json"), "{message}");
}

/// Accepts the runtime's connection on `listener` and returns the single fd it sent.
fn receive_console_master(listener: &UnixListener) -> OwnedFd {
    let (stream, _) = listener
        .accept()
        .expect("runtime connected to the console socket");
    let mut name = [0u8; 4096];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(2))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    rustix::net::recvmsg(
        &stream,
        &mut [IoSliceMut::new(&mut name)],
        &mut control,
        RecvFlags::CMSG_CLOEXEC,
    )
    .expect("recvmsg on the console socket");
    let mut fds: Vec<OwnedFd> = control
        .drain()
        .flat_map(|message| match message {
            RecvAncillaryMessage::ScmRights(fds) => fds.collect::<Vec<_>>(),
            _ => Vec::new(),
        })
        .collect();
    assert_eq!(fds.len(), 1, "exactly one fd must be sent");
    fds.remove(0)
}

#[test]
fn console_socket_receives_the_pty_master() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    let socket_path = env.scratch("console").join("console.sock");
    let listener = UnixListener::bind(&socket_path).expect("bind console socket");
    env.config["process"]["terminal"] = json!(true);
    env.set_args(&["/bin/husk-checker", "fds", "stat", "/dev/console"]);
    let id = env.id.clone();
    env.create_with(&id, &["--console-socket", socket_path.to_str().unwrap()])
        .assert_success();
    let master = receive_console_master(&listener);
    let pid = env.state(&id)["pid"].as_i64().unwrap() as i32;
    env.start(&id).assert_success();
    assert_eq!(wait_for_child(pid), 0);

    let mut output = Vec::new();
    // Once the last slave fd closes, reads on the master fail with EIO: that is the end.
    let _ = fs::File::from(master).read_to_end(&mut output);
    let text = String::from_utf8_lossy(&output).replace('\r', "");
    let values = common::CheckerValues::parse(&text);
    let stdio: Vec<&str> = ["fd.0", "fd.1", "fd.2"]
        .iter()
        .map(|fd| values.get(fd))
        .collect();
    assert!(
        stdio
            .iter()
            .all(|target| target.starts_with("/dev/pts/") && *target == stdio[0]),
        "stdio is not the pty slave: {stdio:?}"
    );
    assert_eq!(values.get("fds"), "0,1,2");
    assert_eq!(values.get("stat.type"), "char", "/dev/console is the pty");
}

#[test]
fn kill_of_a_created_container_stops_it_without_running_the_program() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    let marker = marker_then_sleep(&mut env);
    let id = env.id.clone();
    let pid = env.create_init();
    env.kill(&id, "KILL").assert_success();
    assert_eq!(wait_for_child(pid), 128 + 9);
    assert_eq!(env.status(&id), "stopped");
    assert!(!marker.exists(), "the user program ran without start");
    env.delete(&id).assert_success();
    env.assert_nothing_left(&id);
}

#[test]
fn run_keeps_stdout_and_stderr_apart() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    env.set_args(&["sh", "-c", "echo to-out; echo to-err >&2"]);
    // runc's default spec lists ambient capabilities that are not
    // inheritable, which husk reports as a warning on its stderr: here the
    // container's stderr too.
    env.config["process"]["capabilities"].as_object_mut().unwrap().remove("ambient");
    let outcome = env.run();
    outcome.assert_success();
    assert_eq!(outcome.stdout, "to-out\n");
    assert_eq!(outcome.stderr, "to-err\n");
}

#[test]
fn single_dash_long_flags_are_accepted() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    // go-runc sends `-no-subreaper`; urfave/cli accepts any long flag with one dash.
    env.set_args(&["sleep", "1000"]);
    env.write_config();
    env.register(&env.id);
    let mut command = std::process::Command::new(&runtime().path);
    command
        .arg("-root")
        .arg(&env.root)
        .args(["create", "-bundle"])
        .arg(&env.bundle)
        .arg(&env.id);
    let outcome = env.invoke_command(&mut command, None);
    env.remember_pid(&env.id);
    outcome.assert_success();
    assert_eq!(env.status(&env.id), "created");
    env.invoke(&["delete", "-force", &env.id]).assert_success();
    assert!(env.state_entries().is_empty());
}
