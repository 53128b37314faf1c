//! `process` and namespace fields, verified from inside the container with husk-checker.

mod common;

use std::fs;

use common::{host_namespaces, wait_for_child, RuntimeKind, TestEnv};
use serde_json::json;

fn sorted(names: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = names.iter().map(|name| name.to_string()).collect();
    names.sort();
    names
}

#[test]
fn root_process_gets_the_configured_capabilities_and_no_new_privs() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    let set = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];
    // runc's default lacks "inheritable", without which the kernel refuses ambient caps.
    env.config["process"]["capabilities"]["inheritable"] = json!(set);
    let values = env.check(&["caps"]);
    for kind in [
        "bounding",
        "effective",
        "permitted",
        "inheritable",
        "ambient",
    ] {
        assert_eq!(values.list(&format!("cap.{kind}")), sorted(&set), "{kind}");
    }
    assert_eq!(values.get("no_new_privs"), "1");
}

#[test]
fn unprivileged_process_gets_each_of_the_five_capability_sets() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    // As a non-root user execve keeps exactly these sets (no root "all file caps" rule).
    env.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    env.config["process"]["capabilities"] = json!({
        "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW", "CAP_SYS_TIME"],
        "permitted": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"],
        "effective": ["CAP_CHOWN", "CAP_KILL"],
        "inheritable": ["CAP_CHOWN", "CAP_NET_RAW"],
        "ambient": ["CAP_CHOWN"],
    });
    env.config["process"]["noNewPrivileges"] = json!(false);
    let values = env.check(&["caps"]);
    assert_eq!(
        values.list("cap.bounding"),
        sorted(&["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW", "CAP_SYS_TIME"])
    );
    assert_eq!(
        values.list("cap.inheritable"),
        sorted(&["CAP_CHOWN", "CAP_NET_RAW"])
    );
    // After execve a non-root process keeps only its ambient set as permitted and effective.
    assert_eq!(values.list("cap.ambient"), sorted(&["CAP_CHOWN"]));
    assert_eq!(values.list("cap.permitted"), sorted(&["CAP_CHOWN"]));
    assert_eq!(values.list("cap.effective"), sorted(&["CAP_CHOWN"]));
    assert_eq!(values.get("no_new_privs"), "0");
}

#[test]
fn rlimits_are_applied() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    env.config["process"]["rlimits"] = json!([
        {"type": "RLIMIT_NOFILE", "soft": 512, "hard": 2048},
        {"type": "RLIMIT_NPROC", "soft": 300, "hard": 400},
        {"type": "RLIMIT_CORE", "soft": 0, "hard": 4096},
    ]);
    let values = env.check(&["rlimits"]);
    assert_eq!(values.get("rlimit.RLIMIT_NOFILE.soft"), "512");
    assert_eq!(values.get("rlimit.RLIMIT_NOFILE.hard"), "2048");
    assert_eq!(values.get("rlimit.RLIMIT_NPROC.soft"), "300");
    assert_eq!(values.get("rlimit.RLIMIT_NPROC.hard"), "400");
    assert_eq!(values.get("rlimit.RLIMIT_CORE.soft"), "0");
    assert_eq!(values.get("rlimit.RLIMIT_CORE.hard"), "4096");
}

#[test]
fn user_groups_and_umask_are_applied() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    env.config["process"]["user"] = json!({
        "uid": 1234, "gid": 2345, "additionalGids": [10, 20], "umask": 23,
    });
    let values = env.check(&["ids"]);
    for key in ["uid.real", "uid", "uid.saved", "uid.fs"] {
        assert_eq!(values.get(key), "1234", "{key}");
    }
    for key in ["gid.real", "gid", "gid.saved", "gid.fs"] {
        assert_eq!(values.get(key), "2345", "{key}");
    }
    assert_eq!(values.list("groups"), ["10", "20"]);
    assert_eq!(values.get("umask"), "0027");
}

#[test]
fn root_user_has_no_supplementary_groups_by_default() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    let values = env.check(&["ids"]);
    assert_eq!(values.get("uid"), "0");
    assert_eq!(values.get("gid"), "0");
    assert_eq!(values.list("groups"), Vec::<String>::new());
}

#[test]
fn hostname_is_set() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    env.config["hostname"] = json!("box-under-test");
    assert_eq!(env.check(&["uts"]).get("hostname"), "box-under-test");
}

#[test]
fn domainname_is_set() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    if env.skip_for(RuntimeKind::Runc, "runc 1.1.5 lacks domainname") {
        return;
    }
    env.config["domainname"] = json!("example.test");
    assert_eq!(env.check(&["uts"]).get("domainname"), "example.test");
}

#[test]
fn each_configured_namespace_differs_from_the_host() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    // runc's default spec creates pid, network, ipc, uts and mount; add cgroup.
    env.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "cgroup"}));
    let values = env.check(&["ns"]);
    for (name, host_link) in host_namespaces() {
        let inside = values.get(&format!("ns.{name}"));
        if ["pid", "net", "ipc", "uts", "mnt", "cgroup"].contains(&name.as_str()) {
            assert_ne!(inside, host_link, "{name} namespace was not unshared");
        } else {
            assert_eq!(inside, host_link, "{name} namespace was unshared unasked");
        }
    }
}

#[test]
fn time_namespace_is_created_with_offsets() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    if env.skip_for(RuntimeKind::Runc, "runc 1.1.5 lacks time namespaces") {
        return;
    }
    env.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "time"}));
    env.config["linux"]["timeOffsets"] = json!({
        "boottime": {"secs": 86400, "nanosecs": 0},
        "monotonic": {"secs": 3600, "nanosecs": 0},
    });
    let host_uptime = uptime_seconds(&fs::read_to_string("/proc/uptime").unwrap());
    let values = env.check(&["ns", "read", "/proc/uptime"]);
    let host_time_ns = host_namespaces()
        .into_iter()
        .find(|(name, _)| name == "time")
        .unwrap()
        .1;
    assert_ne!(values.get("ns.time"), host_time_ns);
    // /proc/uptime follows CLOCK_BOOTTIME, shifted by the boottime offset.
    let inside_uptime = uptime_seconds(values.get("read"));
    let shift = inside_uptime - host_uptime;
    assert!(
        (86390.0..86500.0).contains(&shift),
        "boottime shifted by {shift}"
    );
}

fn uptime_seconds(text: &str) -> f64 {
    text.split_whitespace()
        .next()
        .and_then(|first| first.parse().ok())
        .unwrap_or_else(|| panic!("bad /proc/uptime {text:?}"))
}

#[test]
fn user_namespace_maps_container_root_to_a_host_uid() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    env.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "user"}));
    env.config["linux"]["uidMappings"] =
        json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    env.config["linux"]["gidMappings"] =
        json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
    // The host cgroup hierarchy cannot be mounted from a user namespace without cgroupns.
    env.config["mounts"]
        .as_array_mut()
        .unwrap()
        .retain(|mount| mount["type"] != "cgroup");
    env.set_args(&["sleep", "1000"]);
    let id = env.id.clone();
    let pid = env.create_init();
    let uid_map = fs::read_to_string(format!("/proc/{pid}/uid_map")).unwrap();
    let gid_map = fs::read_to_string(format!("/proc/{pid}/gid_map")).unwrap();
    let fields = |map: &str| {
        map.split_whitespace()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(fields(&uid_map), ["0", "100000", "65536"]);
    assert_eq!(fields(&gid_map), ["0", "200000", "65536"]);
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let host_uid_line = status
        .lines()
        .find(|line| line.starts_with("Uid:"))
        .unwrap();
    assert!(
        host_uid_line
            .split_whitespace()
            .skip(1)
            .all(|uid| uid == "100000"),
        "{host_uid_line}"
    );
    let host_user_ns = host_namespaces()
        .into_iter()
        .find(|(name, _)| name == "user")
        .unwrap()
        .1;
    let init_user_ns = fs::read_link(format!("/proc/{pid}/ns/user")).unwrap();
    assert_ne!(init_user_ns.display().to_string(), host_user_ns);
    env.invoke(&["delete", "--force", &id]).assert_success();
    wait_for_child(pid);

    // And the program itself sees uid 0.
    let values = env.check(&["ids"]);
    assert_eq!(values.get("uid"), "0");
    assert_eq!(values.get("gid"), "0");
}

#[test]
fn cwd_is_applied() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    env.config["process"]["cwd"] = json!("/tmp");
    assert_eq!(env.check(&["cwd"]).get("cwd"), "/tmp");
}

#[test]
fn env_is_passed_exactly() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    env.config["process"]["env"] =
        json!(["PATH=/bin", "GREETING=hello world", "EMPTY=", "MULTI=a=b=c",]);
    let values = env.check(&["env"]);
    assert_eq!(values.get("env.PATH"), "/bin");
    assert_eq!(values.get("env.GREETING"), "hello world");
    assert_eq!(values.get("env.EMPTY"), "");
    assert_eq!(values.get("env.MULTI"), "a=b=c");
}

#[test]
fn oom_score_adj_is_applied() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    env.config["process"]["oomScoreAdj"] = json!(123);
    assert_eq!(env.check(&["oom"]).get("oom_score_adj"), "123");
}

#[test]
fn personality_linux32_is_applied() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    if env.skip_for(RuntimeKind::Runc, "runc 1.1.5 lacks linux.personality") {
        return;
    }
    env.config["linux"]["personality"] = json!({"domain": "LINUX32"});
    // PER_LINUX32 is 0x0008.
    assert_eq!(env.check(&["personality"]).get("personality"), "0x8");
}

#[test]
fn scheduler_batch_with_nice_is_applied() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    if env.skip_for(RuntimeKind::Runc, "runc 1.1.5 lacks process.scheduler") {
        return;
    }
    env.config["process"]["scheduler"] = json!({"policy": "SCHED_BATCH", "nice": 7});
    let values = env.check(&["sched"]);
    assert_eq!(values.get("sched.policy"), "SCHED_BATCH");
    assert_eq!(values.get("sched.nice"), "7");
}

#[test]
fn io_priority_is_applied() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    if env.skip_for(RuntimeKind::Runc, "runc 1.1.5 lacks process.ioPriority") {
        return;
    }
    env.config["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_BE", "priority": 6});
    let values = env.check(&["ioprio"]);
    assert_eq!(values.get("ioprio.class"), "IOPRIO_CLASS_BE");
    assert_eq!(values.get("ioprio.level"), "6");
}

#[test]
fn exec_cpu_affinity_does_not_apply_to_the_init() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    if env.skip_for(RuntimeKind::Runc, "runc 1.1.5 lacks process.execCPUAffinity") {
        return;
    }
    // config.md: "This setting is not applicable to the container's init process."
    let before = env.check(&["affinity"]).get("affinity").to_string();
    env.config["process"]["execCPUAffinity"] = json!({"initial": "0", "final": "0"});
    assert_eq!(env.check(&["affinity"]).get("affinity"), before);
}

#[test]
fn stdin_is_passed_through() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    env.set_args(&["/bin/husk-checker", "stdin"]);
    let id = env.id.clone();
    let outcome = env.run_with(&id, &[], Some(b"first line\nsecond line\n"));
    outcome.assert_success();
    assert_eq!(
        outcome.checker_values().get("stdin"),
        "first line\\nsecond line\\n"
    );
}

#[test]
fn args_resolve_through_path_like_execvp() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    env.config["process"]["env"] = json!(["PATH=/nonexistent:/bin"]);
    env.set_args(&["husk-checker", "cwd"]);
    let outcome = env.run();
    outcome.assert_success();
    assert_eq!(outcome.checker_values().get("cwd"), "/");
}

#[test]
fn configured_mounts_are_visible_in_mountinfo() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    let shared = env.scratch("shared");
    env.add_bind_mount(&shared, "/shared");
    let values = env.check(&["mounts"]);
    // mountinfo: id parent major:minor root mountpoint options ... - fstype source superopts
    let mounts: Vec<(String, String)> = values
        .0
        .iter()
        .filter(|(key, _)| key.starts_with("mount."))
        .filter_map(|(_, line)| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let separator = fields.iter().position(|field| *field == "-")?;
            Some((
                fields[4].to_string(),
                fields.get(separator + 1)?.to_string(),
            ))
        })
        .collect();
    for (mount_point, fs_type) in [
        ("/", ""),
        ("/proc", "proc"),
        ("/dev", "tmpfs"),
        ("/shared", ""),
    ] {
        assert!(
            mounts.iter().any(
                |(point, kind)| point == mount_point && (fs_type.is_empty() || kind == fs_type)
            ),
            "{mount_point} ({fs_type}) not mounted: {mounts:?}"
        );
    }
}
