//! `exec` (flags and `--process`), exit statuses, signal forwarding, reaping and `kill`, proven
//! in real containers.

mod common;
#[path = "common/running.rs"]
mod running;

use std::fs;
use std::process::Child;

use common::{runtime, wait_for_child, RuntimeKind, TestEnv};
use running::{
    exec, init_pid, invoke_with_inherited_fds, is_alive, namespaces_of, read_pid_file, reap,
    scratch_text, send_signal, spawn_runtime, start_container, start_sleeper, status_line,
    wait_for_runtime, wait_until,
};
use rustix::process::Signal;
use serde_json::json;

/// A seccomp profile that lets everything through except mkdir, which fails with EPERM: a
/// visible effect busybox `mkdir` reports.
fn deny_mkdir_seccomp() -> serde_json::Value {
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [{
            "names": ["mkdir", "mkdirat"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1,
        }],
    })
}

#[test]
fn exec_joins_every_namespace_the_cgroup_and_the_seccomp_filter_of_the_init() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    env.config["linux"]["seccomp"] = deny_mkdir_seccomp();
    let init = start_sleeper(&mut env);
    let pid_file = env.scratch("exec").join("pid");
    exec(
        &env,
        &["--detach", "--pid-file", pid_file.to_str().unwrap()],
        &["sleep", "1000"],
    )
    .assert_success();
    let exec_pid = read_pid_file(&pid_file);
    assert!(
        is_alive(exec_pid),
        "--detach returned before the process ran"
    );

    assert_eq!(namespaces_of(exec_pid), namespaces_of(init));
    let cgroups = |pid: i32| fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert_eq!(cgroups(exec_pid), cgroups(init));
    for key in ["Seccomp", "Seccomp_filters", "NoNewPrivs"] {
        assert_eq!(status_line(exec_pid, key), status_line(init, key), "{key}");
    }
    assert_eq!(
        status_line(exec_pid, "Seccomp"),
        "2",
        "a filter is installed"
    );
    let denied = exec(&env, &[], &["mkdir", "/tmp/denied"]);
    denied.assert_failure();
    assert!(
        denied.stderr.contains("Operation not permitted"),
        "mkdir must fail by the filter: {denied:#?}"
    );

    send_signal(exec_pid, Signal::KILL);
    reap(exec_pid);
}

#[test]
fn exec_inline_flags_set_env_cwd_user_groups_caps_and_no_new_privs() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    // runc's default spec sets it: off here, so that only --no-new-privs can turn it on.
    env.config["process"]["noNewPrivileges"] = json!(false);
    start_sleeper(&mut env);
    let probes = ["/bin/husk-checker", "env", "cwd", "ids", "caps"];
    let as_user = exec(
        &env,
        &[
            "--env",
            "GREETING=hello world",
            "--env",
            "SECOND=2",
            "--cwd",
            "/tmp",
            "--user",
            "1000:1001",
            "--additional-gids",
            "10",
            "--additional-gids",
            "20",
            "--no-new-privs",
        ],
        &probes,
    );
    as_user.assert_success();
    let values = as_user.checker_values();
    assert_eq!(values.get("env.GREETING"), "hello world");
    assert_eq!(values.get("env.SECOND"), "2");
    assert!(
        values.get("env.PATH").contains("/bin"),
        "the container's env is kept"
    );
    assert_eq!(values.get("cwd"), "/tmp");
    assert_eq!(values.get("uid"), "1000");
    assert_eq!(values.get("gid"), "1001");
    assert_eq!(values.list("groups"), ["10", "20"]);
    assert_eq!(values.get("no_new_privs"), "1");

    // runc's flag parser refuses long and short forms of one flag in the same command.
    let short_flags = [
        "-c",
        "CAP_SYS_CHROOT",
        "-c",
        "CAP_NET_RAW",
        "-e",
        "SHORT=yes",
        "-u",
        "0:0",
        "-g",
        "7",
    ];
    let with_cap = exec(&env, &short_flags, &probes);
    with_cap.assert_success();
    let values = with_cap.checker_values();
    for set in ["cap.bounding", "cap.effective", "cap.permitted"] {
        let caps = values.list(set);
        for added in ["CAP_SYS_CHROOT", "CAP_NET_RAW", "CAP_KILL"] {
            assert!(
                caps.iter().any(|cap| cap == added),
                "{set} lacks {added}: {caps:?}"
            );
        }
    }
    // CVE-2022-29162: exec must not hand out inheritable capabilities.
    assert_eq!(values.get("cap.inheritable"), "");
    assert_eq!(values.get("no_new_privs"), "0");
    assert_eq!(values.get("uid"), "0");
    assert_eq!(values.get("env.SHORT"), "yes");
    assert_eq!(values.list("groups"), ["7"]);
}

#[test]
fn exec_process_file_describes_the_whole_process() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    start_sleeper(&mut env);
    let process = json!({
        "terminal": false,
        "user": {"uid": 1000, "gid": 1000, "additionalGids": [30]},
        "args": ["/bin/husk-checker", "env", "cwd", "ids", "caps"],
        "env": ["PATH=/bin", "FROM_FILE=yes"],
        "cwd": "/root",
        "capabilities": {
            "bounding": ["CAP_KILL"],
            "effective": ["CAP_KILL"],
            "permitted": ["CAP_KILL"],
        },
        "noNewPrivileges": true,
    });
    let process_file = env.scratch("exec").join("process.json");
    fs::write(&process_file, process.to_string()).unwrap();
    let outcome = exec(&env, &["--process", process_file.to_str().unwrap()], &[]);
    outcome.assert_success();
    let values = outcome.checker_values();
    assert_eq!(values.get("env.FROM_FILE"), "yes");
    assert_eq!(values.get("cwd"), "/root");
    assert_eq!(values.get("uid"), "1000");
    assert_eq!(values.get("gid"), "1000");
    assert_eq!(values.list("groups"), ["30"]);
    assert_eq!(values.get("cap.bounding"), "CAP_KILL");
    assert_eq!(values.get("cap.inheritable"), "");
    assert_eq!(values.get("no_new_privs"), "1");
}

#[test]
fn foreground_exec_exits_with_the_status_of_the_process() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    start_sleeper(&mut env);
    assert_eq!(exec(&env, &[], &["sh", "-c", "exit 7"]).code, Some(7));
    assert_eq!(exec(&env, &[], &["true"]).code, Some(0));
    let killed = exec(&env, &[], &["sh", "-c", "kill -TERM $$; sleep 5"]);
    assert_eq!(killed.code, Some(128 + 15), "{killed:#?}");
    let output = exec(&env, &[], &["sh", "-c", "echo out; echo err >&2"]);
    assert_eq!(output.stdout, "out\n");
    // The runtime may add warnings of its own to stderr.
    assert!(
        output.stderr.lines().any(|line| line == "err"),
        "{output:#?}"
    );
}

#[test]
fn exec_preserve_fds_passes_exactly_that_many_fds() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    start_sleeper(&mut env);
    let inherited = env.scratch("fds").join("inherited");
    fs::write(&inherited, "for the exec").unwrap();
    let probes = ["/bin/husk-checker", "fds", "read", "/proc/self/fd/3"];
    let mut args = vec!["exec", "--preserve-fds", "1", &env.id];
    args.extend_from_slice(&probes);
    let preserved = invoke_with_inherited_fds(&env, &inherited, "", &args);
    preserved.assert_success();
    assert_eq!(preserved.checker_values().get("fds"), "0,1,2,3");
    assert_eq!(preserved.checker_values().get("read"), "for the exec");

    let mut args = vec!["exec", &env.id];
    args.extend_from_slice(&probes);
    let none = invoke_with_inherited_fds(&env, &inherited, "", &args);
    none.assert_success();
    assert_eq!(none.checker_values().get("fds"), "0,1,2", "{none:#?}");
}

#[test]
fn exec_into_a_stopped_container_is_an_error() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    let init = start_container(&mut env, &["true"]);
    assert_eq!(wait_for_child(init), 0);
    wait_until("the container to stop", || env.status(&env.id) == "stopped");
    exec(&env, &[], &["true"])
        .assert_failure()
        .assert_error_mentions("stopped");
}

#[test]
fn exec_that_cannot_start_fails_with_a_clear_error() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    start_sleeper(&mut env);
    exec(&env, &[], &["/nonexistent-program"])
        .assert_failure()
        .assert_error_mentions("/nonexistent-program");
    exec(&env, &["--cwd", "/nonexistent-dir"], &["true"])
        .assert_failure()
        .assert_error_mentions("/nonexistent-dir");
    exec(&env, &["--tty", "--detach"], &["true"])
        .assert_failure()
        .assert_error_mentions("console");
    if !env.skip_for(RuntimeKind::Runc, "runc applies LSM labels where the host has them") {
        // No AppArmor or SELinux support in husk: an error, never ignored.
        exec(&env, &["--apparmor", "some-profile"], &["true"])
            .assert_failure()
            .assert_error_mentions("apparmorProfile");
        exec(&env, &["--process-label", "system_u:system_r:container_t:s0"], &["true"])
            .assert_failure()
            .assert_error_mentions("selinuxLabel");
    }
    assert_eq!(
        env.status(&env.id),
        "running",
        "failed execs leave the container alone"
    );
}

#[test]
fn exec_into_a_paused_container_needs_ignore_paused() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    start_sleeper(&mut env);
    env.invoke(&["pause", &env.id]).assert_success();
    exec(&env, &[], &["true"])
        .assert_failure()
        .assert_error_mentions("paused");

    // The process joins the frozen cgroup, so it can only finish once the container resumes.
    let mut allowed = spawn_runtime(
        &env,
        "paused-exec",
        &["exec", "--ignore-paused", &env.id, "echo", "ran"],
    );
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(
        allowed.try_wait().unwrap().is_none(),
        "exec finished inside a frozen container"
    );
    env.invoke(&["resume", &env.id]).assert_success();
    assert_eq!(wait_for_runtime(&mut allowed), 0);
    assert_eq!(scratch_text(&env, "paused-exec", "out"), "ran\n");
}

/// Signals a foreground runtime (`run` or `exec`) started with output in scratch dir `name`
/// once its container process printed `ready`, and returns the runtime's exit code.
fn signal_when_ready(env: &TestEnv, name: &str, mut child: Child, signal: Signal) -> i32 {
    wait_until("the container process to be ready", || {
        scratch_text(env, name, "out").contains("ready")
    });
    send_signal(child.id() as i32, signal);
    wait_for_runtime(&mut child)
}

/// A shell that exits with a distinct status for each forwarded signal. It polls with short
/// sleeps because the shell runs traps only between commands.
const TRAPPING_SHELL: &str = "trap 'exit 11' TERM; trap 'exit 12' USR1; trap 'exit 13' HUP; \
    trap 'exit 14' INT; echo ready; while :; do sleep 0.05; done";

const FORWARDED_SIGNALS: [(Signal, i32); 4] = [
    (Signal::TERM, 11),
    (Signal::USR1, 12),
    (Signal::HUP, 13),
    (Signal::INT, 14),
];

/// `run --bundle B ID` of `env`'s container in the background (registered for cleanup).
fn spawn_run(env: &TestEnv, name: &str) -> Child {
    env.write_config();
    env.remember_pid(&env.id);
    let bundle = env.bundle.to_str().unwrap();
    spawn_runtime(env, name, &["run", "--bundle", bundle, &env.id])
}

#[test]
fn foreground_run_forwards_signals_and_exits_with_the_container_status() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    env.set_args(&["sh", "-c", TRAPPING_SHELL]);
    for (index, (signal, expected)) in FORWARDED_SIGNALS.into_iter().enumerate() {
        let name = format!("run-{index}");
        let child = spawn_run(&env, &name);
        assert_eq!(
            signal_when_ready(&env, &name, child, signal),
            expected,
            "{signal:?}"
        );
        wait_until("run to delete the container", || {
            env.try_state(&env.id).is_none()
        });
    }
}

#[test]
fn foreground_exec_forwards_signals_and_reports_death_by_signal() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    start_sleeper(&mut env);
    for (index, (signal, expected)) in FORWARDED_SIGNALS.into_iter().enumerate() {
        let name = format!("exec-{index}");
        let child = spawn_runtime(&env, &name, &["exec", &env.id, "sh", "-c", TRAPPING_SHELL]);
        let code = signal_when_ready(&env, &name, child, signal);
        assert_eq!(code, expected, "{signal:?}");
    }
    // Without a handler the process dies of the signal: 128 + its number.
    let untrapped = ["exec", &env.id, "sh", "-c", "echo ready; exec sleep 1000"];
    let child = spawn_runtime(&env, "exec-untrapped", &untrapped);
    let code = signal_when_ready(&env, "exec-untrapped", child, Signal::TERM);
    assert_eq!(code, 128 + 15);
}

#[test]
fn foreground_run_reports_a_killed_container_as_128_plus_signal() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    env.set_args(&["sh", "-c", "echo ready; exec sleep 1000"]);
    let mut child = spawn_run(&env, "run");
    wait_until("the container to be ready", || {
        scratch_text(&env, "run", "out").contains("ready")
    });
    env.kill(&env.id, "KILL").assert_success();
    // The init is the runtime's child here, not ours: the runtime reports its death.
    assert_eq!(wait_for_runtime(&mut child), 128 + 9);
}

/// Zombie children of this test process named `name`: what a runtime that exits without
/// reaping the process it ran leaves to its subreaper (this test process).
fn our_zombies_named(name: &str) -> Vec<i32> {
    let me = std::process::id() as i32;
    fs::read_dir("/proc")
        .unwrap()
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| common::parent_pid(pid) == Some(me) && !is_alive(pid))
        .filter(|pid| {
            fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|comm| comm.trim() == name)
        })
        .collect()
}

#[test]
fn foreground_exec_and_run_leave_no_zombie_behind() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    // A uniquely named program (a copy of the checker), so that its zombie is recognisable.
    let program = "zombiecheck";
    let install = |env: &TestEnv| {
        fs::copy(
            common::checker(),
            env.bundle.join("rootfs/bin").join(program),
        )
        .unwrap();
    };
    install(&env);
    start_sleeper(&mut env);
    for _ in 0..3 {
        exec(&env, &[], &[program, "cwd"]).assert_success();
        exec(
            &env,
            &[],
            &["sh", "-c", &format!("{program} cwd & exec {program} cwd")],
        )
        .assert_success();
    }
    let mut second = TestEnv::new().expect("root");
    install(&second);
    second.set_args(&[program, "cwd"]);
    second.run().assert_success();
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(our_zombies_named(program), Vec::<i32>::new());
}

#[test]
fn kill_reaches_created_and_running_containers() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    env.set_args(&[
        "sh",
        "-c",
        "trap 'exit 5' TERM; while :; do sleep 0.05; done",
    ]);
    let created_id = format!("{}-created", env.id);
    env.create_with(&created_id, &[]).assert_success();
    let created_pid = env.state(&created_id)["pid"].as_i64().unwrap() as i32;
    env.kill(&created_id, "KILL").assert_success();
    assert_eq!(wait_for_child(created_pid), 128 + 9);
    assert_eq!(env.status(&created_id), "stopped");

    env.create().assert_success();
    let running_pid = init_pid(&env);
    env.start(&env.id).assert_success();
    env.kill(&env.id, "TERM").assert_success();
    assert_eq!(wait_for_child(running_pid), 5, "TERM reached the handler");
    wait_until("the container to stop", || env.status(&env.id) == "stopped");
}

#[test]
fn kill_all_reaches_every_process_of_the_container() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    let init = start_container(&mut env, &["sh", "-c", "sleep 1000 & sleep 1000 & wait"]);
    let pid_file = env.scratch("exec").join("pid");
    exec(
        &env,
        &["-d", "--pid-file", pid_file.to_str().unwrap()],
        &["sleep", "1000"],
    )
    .assert_success();
    let exec_pid = read_pid_file(&pid_file);
    let children_file = format!("/proc/{init}/task/{init}/children");
    wait_until("the init's two children", || {
        fs::read_to_string(&children_file)
            .map(|text| text.split_whitespace().count() == 2)
            .unwrap_or(false)
    });
    let mut pids: Vec<i32> = fs::read_to_string(&children_file)
        .unwrap()
        .split_whitespace()
        .map(|pid| pid.parse().unwrap())
        .collect();
    pids.extend([init, exec_pid]);

    env.invoke(&["kill", "--all", &env.id, "KILL"])
        .assert_success();
    reap(exec_pid);
    assert_eq!(wait_for_child(init), 128 + 9);
    wait_until("every container process to die", || {
        pids.iter().all(|&pid| !is_alive(pid))
    });
    if runtime().kind == RuntimeKind::Husk {
        wait_until("the container to stop", || env.status(&env.id) == "stopped");
    }
}
