//! `features` checked against reality: everything the runtime advertises is accepted by a real
//! `create`/`run` (mount options, namespaces, hooks, seccomp actions and operators,
//! capabilities), and a mount option it does not advertise is refused. The document's shape
//! against features-schema.json is the unit test in src/commands/features.rs.

mod common;

use std::os::unix::net::UnixListener;
use std::path::Path;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use common::{checker, host_namespaces, CheckerValues, Outcome, RuntimeKind, TestEnv};
use serde_json::{json, Value};

/// Ids the user namespace tests map container root to.
const MAPPED_HOST_ID: u32 = 100_000;
const MAPPED_SIZE: u32 = 65_536;

/// How long the stand-in seccomp agent waits for the runtime to connect.
const AGENT_TIMEOUT: Duration = Duration::from_secs(20);

/// The runtime's `features` document.
fn features(env: &TestEnv) -> Value {
    let outcome = env.invoke(&["features"]);
    outcome.assert_success();
    serde_json::from_str(&outcome.stdout).expect("features prints JSON")
}

/// The strings of the array at `pointer` (e.g. `/linux/namespaces`) in `document`.
#[track_caller]
fn advertised(document: &Value, pointer: &str) -> Vec<String> {
    document
        .pointer(pointer)
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("features has no array at {pointer}: {document:#}"))
        .iter()
        .map(|item| item.as_str().expect("a string").to_string())
        .collect()
}

fn id_mappings() -> Value {
    json!([{"containerID": 0, "hostID": MAPPED_HOST_ID, "size": MAPPED_SIZE}])
}

/// Gives the container a user namespace mapping its root to [`MAPPED_HOST_ID`].
fn add_user_namespace(env: &mut TestEnv) {
    let namespaces = env.config["linux"]["namespaces"]
        .as_array_mut()
        .expect("namespaces");
    if !namespaces
        .iter()
        .any(|namespace| namespace["type"] == "user")
    {
        namespaces.push(json!({"type": "user"}));
    }
    env.config["linux"]["uidMappings"] = id_mappings();
    env.config["linux"]["gidMappings"] = id_mappings();
}

/// `name: outcome` for each failed outcome, to report them all at once.
fn failures(outcomes: &[(String, Outcome)]) -> Vec<String> {
    outcomes
        .iter()
        .filter(|(_, outcome)| !outcome.success())
        .map(|(name, outcome)| {
            format!("{name}: exit {:?}: {}", outcome.code, outcome.stderr.trim())
        })
        .collect()
}

/// Options that change the filesystem itself rather than one mount of it: a bind mount must
/// not change its source's filesystem, so these are tried on a tmpfs of its own.
const FILESYSTEM_OPTIONS: &[&str] = &[
    "async",
    "sync",
    "dirsync",
    "lazytime",
    "nolazytime",
    "iversion",
    "noiversion",
    "mand",
    "nomand",
];

/// A mount in a fresh container using `option`: tmpcopyup and filesystem options go on a
/// tmpfs, idmap and ridmap need mappings on the mount and a user namespace, every other option
/// goes on a bind mount.
fn mount_with_option(env: &mut TestEnv, option: &str, source: &Path) -> Value {
    match option {
        "tmpcopyup" => json!({
            "destination": "/etc",
            "type": "tmpfs",
            "source": "tmpfs",
            "options": ["tmpcopyup"],
        }),
        _ if FILESYSTEM_OPTIONS.contains(&option) => json!({
            "destination": "/mnt/option",
            "type": "tmpfs",
            "source": "tmpfs",
            "options": [option],
        }),
        "idmap" | "ridmap" => {
            add_user_namespace(env);
            json!({
                "destination": "/mnt/option",
                "type": "bind",
                "source": source,
                "options": ["rbind", option],
                "uidMappings": id_mappings(),
                "gidMappings": id_mappings(),
            })
        }
        _ => json!({
            "destination": "/mnt/option",
            "type": "bind",
            "source": source,
            "options": ["rbind", option],
        }),
    }
}

#[test]
fn every_advertised_mount_option_is_accepted() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    let document = features(&env);
    let source = env.scratch("mount-source");
    let base = env.config.clone();
    let mut outcomes = Vec::new();
    for (number, option) in advertised(&document, "/mountOptions").iter().enumerate() {
        env.config = base.clone();
        let mount = mount_with_option(&mut env, option, &source);
        env.config["mounts"]
            .as_array_mut()
            .expect("mounts")
            .push(mount);
        let id = format!("{}-{number}", env.id);
        outcomes.push((option.clone(), env.run_with(&id, &[], None)));
    }
    let refused = failures(&outcomes);
    assert!(
        refused.is_empty(),
        "advertised mount options refused:\n{}",
        refused.join("\n")
    );
}

#[test]
fn an_unadvertised_mount_option_is_refused() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    if env.skip_for(
        RuntimeKind::Runc,
        "runc 1.1.5 passes unknown options to mount(2) as data, which a bind mount ignores",
    ) {
        return;
    }
    let document = features(&env);
    let bogus = "bogus-opt";
    assert!(!advertised(&document, "/mountOptions")
        .iter()
        .any(|option| option == bogus));
    let source = env.scratch("mount-source");
    let mount = json!({
        "destination": "/mnt/option",
        "type": "bind",
        "source": source,
        "options": ["rbind", bogus],
    });
    env.config["mounts"]
        .as_array_mut()
        .expect("mounts")
        .push(mount);
    env.create().assert_failure().assert_error_mentions(bogus);
    env.assert_nothing_left(&env.id.clone());
}

#[test]
fn every_advertised_namespace_is_created() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    let document = features(&env);
    let host = host_namespaces();
    let base = env.config.clone();
    for (number, namespace) in advertised(&document, "/linux/namespaces")
        .iter()
        .enumerate()
    {
        env.config = base.clone();
        if namespace == "user" {
            add_user_namespace(&mut env);
        }
        let namespaces = env.config["linux"]["namespaces"]
            .as_array_mut()
            .expect("namespaces");
        if !namespaces
            .iter()
            .any(|existing| existing["type"] == namespace.as_str())
        {
            namespaces.push(json!({"type": namespace}));
        }
        let proc_name = match namespace.as_str() {
            "mount" => "mnt",
            "network" => "net",
            other => other,
        };
        env.set_args(&["/bin/husk-checker", "ns"]);
        let id = format!("{}-{number}", env.id);
        let outcome = env.run_with(&id, &[], None);
        outcome.assert_success();
        let inside = outcome
            .checker_values()
            .get(&format!("ns.{proc_name}"))
            .to_string();
        let outside = host
            .iter()
            .find(|(name, _)| name == proc_name)
            .map(|(_, link)| link.as_str())
            .unwrap_or_else(|| panic!("no host namespace {proc_name}"));
        assert_ne!(inside, outside, "namespace {namespace} is the host's");
    }
}

#[test]
fn every_advertised_hook_kind_runs() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    let document = features(&env);
    // Mounted at its own host path, so that hooks running on the host and those running in
    // the container (startContainer) write to the same place.
    let markers = env.scratch("markers");
    env.add_bind_mount(&markers, markers.to_str().expect("utf-8 path"));
    let kinds = advertised(&document, "/hooks");
    for kind in &kinds {
        let marker = markers.join(kind);
        env.config["hooks"][kind] = json!([{
            "path": "/bin/busybox",
            "args": ["busybox", "touch", marker],
        }]);
    }
    env.run().assert_success();
    let missing: Vec<&String> = kinds
        .iter()
        .filter(|kind| !markers.join(kind).exists())
        .collect();
    assert!(missing.is_empty(), "hooks that did not run: {missing:?}");
}

/// Accepts up to `connections` connections on `listener` and reads each to its end, so that a
/// runtime handing over a seccomp listener finds an agent; returns how many came.
fn stand_in_agent(listener: UnixListener, connections: usize) -> thread::JoinHandle<usize> {
    listener
        .set_nonblocking(true)
        .expect("non-blocking listener");
    thread::spawn(move || {
        let deadline = Instant::now() + AGENT_TIMEOUT;
        let mut accepted = 0;
        while accepted < connections && Instant::now() < deadline {
            match listener.accept() {
                Ok((mut stream, _)) => {
                    stream.set_nonblocking(false).expect("blocking stream");
                    let _ = std::io::copy(&mut stream, &mut std::io::sink());
                    accepted += 1;
                }
                Err(_) => thread::sleep(Duration::from_millis(10)),
            }
        }
        accepted
    })
}

#[test]
fn every_advertised_seccomp_action_and_operator_loads() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    let document = features(&env);
    let socket = env.scratch("agent").join("agent.sock");
    let actions = advertised(&document, "/linux/seccomp/actions");
    let operators = advertised(&document, "/linux/seccomp/operators");
    // swapoff: never called by `true`, so every action can be loaded without being triggered.
    let mut rules: Vec<(String, Value)> = actions
        .iter()
        .map(|action| {
            (
                action.clone(),
                json!({"names": ["swapoff"], "action": action}),
            )
        })
        .collect();
    rules.extend(operators.iter().map(|operator| {
        let mut condition = json!({"index": 0, "value": 1, "op": operator});
        if operator == "SCMP_CMP_MASKED_EQ" {
            condition["valueTwo"] = json!(1);
        }
        let rule = json!({"names": ["swapoff"], "action": "SCMP_ACT_ERRNO", "args": [condition]});
        (operator.clone(), rule)
    }));
    let notify_runs = actions
        .iter()
        .filter(|action| *action == "SCMP_ACT_NOTIFY")
        .count();
    let agent = stand_in_agent(
        UnixListener::bind(&socket).expect("bind the agent socket"),
        notify_runs,
    );
    let mut outcomes = Vec::new();
    for (number, (name, rule)) in rules.into_iter().enumerate() {
        env.config["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "listenerPath": socket,
            "syscalls": [rule],
        });
        let id = format!("{}-{number}", env.id);
        outcomes.push((name, env.run_with(&id, &[], None)));
    }
    let connections = agent.join().expect("agent thread");
    let refused = failures(&outcomes);
    assert!(
        refused.is_empty(),
        "advertised seccomp features refused:\n{}",
        refused.join("\n")
    );
    assert_eq!(
        connections, notify_runs,
        "NOTIFY containers that reached the agent"
    );
}

#[test]
fn every_advertised_capability_can_be_requested() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    let document = features(&env);
    // What the host's bounding set lacks (here CAP_SYS_RESOURCE) cannot be granted.
    let host = Command::new(checker())
        .arg("caps")
        .output()
        .expect("run husk-checker on the host");
    let host_bounding =
        CheckerValues::parse(&String::from_utf8_lossy(&host.stdout)).list("cap.bounding");
    let mut grantable: Vec<String> = advertised(&document, "/linux/capabilities")
        .into_iter()
        .filter(|cap| host_bounding.contains(cap))
        .collect();
    grantable.sort();
    let names: Vec<&str> = grantable.iter().map(String::as_str).collect();
    env.set_all_capabilities(&names);
    env.set_args(&["/bin/husk-checker", "caps"]);
    let outcome = env.run();
    outcome.assert_success();
    assert_eq!(outcome.checker_values().list("cap.effective"), grantable);
}
