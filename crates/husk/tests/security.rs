//! Security basics: no leaked fds (CVE-2024-21626 class), no path back to the host.

mod common;

use std::fs;
use std::process::Command;

use common::{runtime, wait_for_child, TestEnv};
use serde_json::json;

/// Runs `runtime --root R <operation> [flags] --bundle B ID` through a host shell that first
/// opens fds 3, 4 and 5 on `file`, so the runtime inherits them the way a caller's stray fds
/// would reach it.
fn invoke_with_inherited_fds(
    env: &TestEnv,
    file: &str,
    operation: &str,
    flags: &[&str],
) -> common::Outcome {
    env.write_config();
    env.register(&env.id);
    let mut command = Command::new("/bin/sh");
    command
        .arg("-c")
        .arg(format!(
            "exec 3<'{file}' 4<'{file}' 5<'{file}'; exec \"$@\""
        ))
        .arg("sh")
        .arg(&runtime().path)
        .arg("--root")
        .arg(&env.root)
        .arg(operation)
        .args(flags)
        .arg("--bundle")
        .arg(&env.bundle)
        .arg(&env.id);
    env.invoke_command(&mut command, None)
}

#[test]
fn only_stdio_is_open_in_the_container() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    let inherited = env.scratch("fds").join("inherited");
    fs::write(&inherited, "not for the container").unwrap();
    env.set_args(&["/bin/husk-checker", "fds"]);
    let outcome = invoke_with_inherited_fds(&env, inherited.to_str().unwrap(), "run", &[]);
    outcome.assert_success();
    assert_eq!(outcome.checker_values().get("fds"), "0,1,2", "{outcome:#?}");
}

#[test]
fn preserve_fds_passes_exactly_that_many_extra_fds() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    let inherited = env.scratch("fds").join("inherited");
    fs::write(&inherited, "for the container").unwrap();
    env.set_args(&["/bin/husk-checker", "fds", "read", "/proc/self/fd/3"]);
    let outcome = invoke_with_inherited_fds(
        &env,
        inherited.to_str().unwrap(),
        "run",
        &["--preserve-fds", "2"],
    );
    outcome.assert_success();
    let values = outcome.checker_values();
    assert_eq!(values.get("fds"), "0,1,2,3,4", "{outcome:#?}");
    assert_eq!(values.get("read"), "for the container");
}

#[test]
fn preserve_fds_survive_create_and_start() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    let inherited = env.scratch("fds").join("inherited");
    fs::write(&inherited, "kept across start").unwrap();
    env.set_args(&["/bin/husk-checker", "fds", "read", "/proc/self/fd/3"]);
    let created = invoke_with_inherited_fds(
        &env,
        inherited.to_str().unwrap(),
        "create",
        &["--preserve-fds", "1"],
    );
    env.remember_pid(&env.id);
    created.assert_success();
    let pid = env.state(&env.id)["pid"].as_i64().unwrap() as i32;
    env.start(&env.id).assert_success();
    assert_eq!(wait_for_child(pid), 0);
    // The container wrote to the stdout it inherited from `create`.
    let output = fs::read_to_string(&created.stdout_path).unwrap();
    let values = common::CheckerValues::parse(&output);
    assert_eq!(values.get("fds"), "0,1,2,3", "{output}");
    assert_eq!(values.get("read"), "kept across start");
}

#[test]
fn host_paths_are_not_visible() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    let secret = env.scratch("host-only").join("secret");
    fs::write(&secret, "host data").unwrap();
    let secret = secret.to_str().unwrap();
    let values = env.check(&["stat", secret, "stat", "/etc/os-release"]);
    let exists: Vec<&str> = values
        .0
        .iter()
        .filter(|(key, _)| key == "stat.exists")
        .map(|(_, value)| value.as_str())
        .collect();
    assert_eq!(exists, ["false", "false"]);
}

#[test]
fn root_readonly_makes_the_rootfs_unwritable() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    env.config["root"]["readonly"] = json!(true);
    let values = env.check(&["open-write", "/bin/busybox"]);
    assert_eq!(values.get("open_write"), "error:EROFS");
}
