//! Failing operations: non-zero exit, a clear message, and nothing left behind (no state dir
//! entry, no mounts, no cgroup directories, no processes).

mod common;

use std::fs;

use common::{runtime, wait_for_child, RuntimeKind, TestEnv};
use serde_json::json;

#[test]
fn duplicate_id_is_refused_and_the_first_container_survives() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    env.set_args(&["sleep", "1000"]);
    let id = env.id.clone();
    env.create().assert_success();
    env.create()
        .assert_failure()
        .assert_error_mentions("already exists");
    assert_eq!(env.status(&id), "created");
    assert_eq!(env.state_entries(), [id]);
}

#[test]
fn invalid_ids_are_refused() {
    let Some(env) = TestEnv::new() else { return };
    for id in ["../escape", "a/b", "", ".", ".."] {
        env.create_with(id, &[]).assert_failure();
        assert!(
            env.state_entries().is_empty(),
            "id {id:?} left {:?}",
            env.state_entries()
        );
        env.assert_nothing_left(id);
    }
    assert!(!env.root.parent().unwrap().join("escape").exists());
}

#[test]
fn missing_bundle_is_refused() {
    let Some(env) = TestEnv::new() else { return };
    let missing = env.scratch("gone").join("no-such-bundle");
    env.register(&env.id);
    env.invoke(&["create", "--bundle", missing.to_str().unwrap(), &env.id])
        .assert_failure()
        .assert_error_mentions("no-such-bundle");
    env.assert_nothing_left(&env.id);
}

#[test]
fn missing_config_is_refused() {
    let Some(env) = TestEnv::new() else { return };
    let empty_bundle = env.scratch("empty-bundle");
    env.register(&env.id);
    env.invoke(&[
        "create",
        "--bundle",
        empty_bundle.to_str().unwrap(),
        &env.id,
    ])
    .assert_failure()
    .assert_error_mentions("config.json");
    env.assert_nothing_left(&env.id);
}

#[test]
fn malformed_json_is_refused_with_its_location() {
    let Some(env) = TestEnv::new() else { return };
    env.write_config();
    env.register(&env.id);
    let config_path = env.bundle.join("config.json");
    // A syntax error on line 3.
    fs::write(
        &config_path,
        "{\n  \"ociVersion\": \"1.2.0\",\n  \"process\": {,\n}\n",
    )
    .unwrap();
    let outcome = env.invoke(&["create", "--bundle", env.bundle.to_str().unwrap(), &env.id]);
    outcome.assert_failure();
    // runc 1.1.5 only prints Go's decoder message, without the location.
    if runtime().kind != RuntimeKind::Runc {
        outcome.assert_error_mentions("line 3");
    }
    env.assert_nothing_left(&env.id);
}

#[test]
fn wrongly_typed_field_is_refused_naming_the_field() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    env.config["process"]["user"]["uid"] = json!("zero");
    env.create().assert_failure().assert_error_mentions("uid");
    env.assert_nothing_left(&env.id);
}

#[test]
fn unsupported_oci_version_is_refused() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    if env.skip_for(RuntimeKind::Runc, "runc 1.1.5 accepts any ociVersion") {
        return;
    }
    env.config["ociVersion"] = json!("9.0.0");
    env.create().assert_failure().assert_error_mentions("9.0.0");
    env.assert_nothing_left(&env.id);
}

#[test]
fn missing_executable_fails_at_create() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    env.set_args(&["/bin/no-such-program"]);
    env.create()
        .assert_failure()
        .assert_error_mentions("no-such-program");
    env.assert_nothing_left(&env.id);
}

#[test]
fn start_of_a_running_container_is_refused() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    env.set_args(&["sleep", "1000"]);
    let id = env.id.clone();
    env.create().assert_success();
    env.start(&id).assert_success();
    env.start(&id).assert_failure();
    assert_eq!(env.status(&id), "running");
}

#[test]
fn start_of_a_stopped_container_is_refused() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    env.set_args(&["true"]);
    let id = env.id.clone();
    let pid = env.create_init();
    env.start(&id).assert_success();
    assert_eq!(wait_for_child(pid), 0);
    env.start(&id).assert_failure();
    assert_eq!(env.status(&id), "stopped");
}

#[test]
fn delete_of_a_running_container_without_force_is_refused() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    env.set_args(&["sleep", "1000"]);
    let id = env.id.clone();
    env.create().assert_success();
    env.start(&id).assert_success();
    env.delete(&id)
        .assert_failure()
        .assert_error_mentions("running");
    assert_eq!(env.status(&id), "running");
}

#[test]
fn kill_of_a_stopped_container_says_not_running() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    env.set_args(&["true"]);
    let id = env.id.clone();
    let pid = env.create_init();
    env.start(&id).assert_success();
    assert_eq!(wait_for_child(pid), 0);
    env.kill(&id, "KILL")
        .assert_failure()
        .assert_error_mentions("container not running");
}

#[test]
fn unknown_container_does_not_exist() {
    let Some(env) = TestEnv::new() else { return };
    for command in [
        vec!["state", "ghost"],
        vec!["delete", "ghost"],
        vec!["start", "ghost"],
        vec!["kill", "ghost", "KILL"],
    ] {
        env.invoke(&command)
            .assert_failure()
            .assert_error_mentions("does not exist");
    }
}

#[test]
fn force_delete_of_an_unknown_container_is_idempotent() {
    let Some(env) = TestEnv::new() else { return };
    // Callers treat both outcomes as "gone": success, or an error saying "does not exist".
    let outcome = env.invoke(&["delete", "--force", "ghost"]);
    if !outcome.success() {
        outcome.assert_error_mentions("does not exist");
    }
    assert!(env.state_entries().is_empty());
}

#[test]
fn invalid_signal_is_refused() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    env.set_args(&["sleep", "1000"]);
    let id = env.id.clone();
    env.create().assert_success();
    env.kill(&id, "SIGNOPE").assert_failure();
    assert_eq!(env.status(&id), "created");
}

#[test]
fn failed_mount_leaves_nothing_behind() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    let missing = env.scratch("gone").join("missing-source");
    env.add_bind_mount(&missing, "/mnt");
    env.create()
        .assert_failure()
        .assert_error_mentions("missing-source");
    env.assert_nothing_left(&env.id);
}

#[test]
fn terminal_without_console_socket_is_refused_by_create() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    env.config["process"]["terminal"] = json!(true);
    env.set_args(&["sleep", "1000"]);
    env.create()
        .assert_failure()
        .assert_error_mentions("console");
    env.assert_nothing_left(&env.id);
}
