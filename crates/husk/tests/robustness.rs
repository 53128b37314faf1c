//! husk killed half-way, and husk called concurrently on one container:
//! the state directory lock and the "creating" record must keep every
//! container cleanable and every operation consistent.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{runtime, wait_for_child, RuntimeKind, TestEnv};
use serde_json::json;

/// A container whose create is killed during its createRuntime hook (so the
/// cgroup and the init exist) is still removed without trace by `delete --force`.
#[test]
fn a_killed_create_leaves_nothing_delete_force_cannot_clean() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    if env.skip_for(RuntimeKind::Runc, "runc's recovery from a killed create is not what is tested here") {
        return;
    }
    let started = env.scratch("hook").join("started");
    env.config["hooks"] = json!({"createRuntime": [{
        "path": "/bin/sh",
        "args": ["sh", "-c", format!("touch {}; sleep 5", started.display())]
    }]});
    env.write_config();
    let id = env.id.clone();
    env.register(&id);
    let mut create = env
        .command()
        .args(["create", "--bundle"])
        .arg(&env.bundle)
        .arg(&id)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn create");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !started.exists() {
        assert!(Instant::now() < deadline, "the createRuntime hook never ran");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(env.status(&id), "creating");
    create.kill().expect("kill create");
    create.wait().expect("reap create");

    env.invoke(&["delete", "--force", &id]).assert_success();
    env.assert_nothing_left(&id);
}

/// Two `start`s of one created container: exactly one runs the program.
#[test]
fn concurrent_starts_run_the_program_once() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    let log = env.scratch("runs").join("log");
    env.add_bind_mount(log.parent().unwrap(), "/runs");
    env.set_args(&["sh", "-c", "echo ran >> /runs/log; sleep 1000"]);
    let id = env.id.clone();
    let pid = env.create_init();
    let outcomes: Vec<bool> = std::thread::scope(|s| {
        let starts: Vec<_> = (0..2).map(|_| s.spawn(|| husk(&env.root, &["start", &id]).status.success())).collect();
        starts.into_iter().map(|t| t.join().unwrap()).collect()
    });
    assert_eq!(outcomes.iter().filter(|ok| **ok).count(), 1, "{outcomes:?}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_to_string(&log).unwrap_or_default().is_empty() {
        assert!(Instant::now() < deadline, "the program never ran");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "ran\n");
    assert_eq!(env.status(&id), "running");
    env.invoke(&["delete", "--force", &id]).assert_success();
    wait_for_child(pid);
    env.assert_nothing_left(&id);
}

/// `state` stays readable (never a torn or missing file) while other calls
/// change the container, and `delete --force` racing `kill` ends clean.
#[test]
fn state_reads_stay_consistent_while_the_container_changes() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    env.set_args(&["sleep", "1000"]);
    let id = env.id.clone();
    let pid = env.create_init();
    env.start(&id).assert_success();
    let root = env.root.clone();
    std::thread::scope(|s| {
        let reader = s.spawn(|| {
            for _ in 0..50 {
                let state = husk(&root, &["state", &id]);
                if !state.status.success() {
                    // Only once the delete below has removed it.
                    let stderr = String::from_utf8_lossy(&state.stderr);
                    assert!(stderr.contains("does not exist"), "{stderr}");
                    return;
                }
                let doc: serde_json::Value = serde_json::from_slice(&state.stdout).expect("well-formed state");
                assert!(["running", "stopped"].contains(&doc["status"].as_str().unwrap()), "{doc}");
            }
        });
        let killer = s.spawn(|| husk(&root, &["kill", &id, "KILL"]));
        assert!(husk(&root, &["delete", "--force", &id]).status.success());
        killer.join().unwrap();
        reader.join().unwrap();
    });
    wait_for_child(pid);
    env.assert_nothing_left(&id);
}

/// Runs the runtime under test from a helper thread (the test environment
/// itself stays on the test's thread).
fn husk(root: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(&runtime().path)
        .arg("--root")
        .arg(root)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run the runtime")
}
