//! `validate()` and `compile()` on configs, without touching the kernel.

mod common;

use common::seccomp;
use husk_seccomp::{compile, validate, Error};
use serde_json::json;

/// The JSON path of the field that `validate` rejects.
fn rejected_field(value: serde_json::Value) -> String {
    match validate(&seccomp(value)) {
        Err(Error::InvalidConfig { field, .. }) => field,
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
}

#[test]
fn accepts_a_profile_using_every_feature() {
    let config = seccomp(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 38,
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
        "listenerPath": "/run/agent.sock",
        "listenerMetadata": "opaque",
        "syscalls": [
            {"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
            {"names": ["ptrace"], "action": "SCMP_ACT_TRACE", "errnoRet": 7},
            {"names": ["reboot"], "action": "SCMP_ACT_KILL_PROCESS"},
            {"names": ["kexec_load"], "action": "SCMP_ACT_KILL_THREAD"},
            {"names": ["init_module"], "action": "SCMP_ACT_KILL"},
            {"names": ["acct"], "action": "SCMP_ACT_TRAP"},
            {"names": ["uname"], "action": "SCMP_ACT_LOG"},
            {"names": ["mknod"], "action": "SCMP_ACT_NOTIFY"},
            {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [
                {"index": 0, "value": 0, "op": "SCMP_CMP_EQ"},
                {"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}
            ]},
            {"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [
                {"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}
            ]},
            {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [
                {"index": 0, "value": 40, "op": "SCMP_CMP_NE"},
                {"index": 1, "value": 3, "op": "SCMP_CMP_LT"},
                {"index": 2, "value": 3, "op": "SCMP_CMP_LE"},
                {"index": 3, "value": 3, "op": "SCMP_CMP_GE"},
                {"index": 4, "value": 3, "op": "SCMP_CMP_GT"}
            ]}
        ]
    }));
    validate(&config).expect("valid profile");
    compile(&config).expect("valid profile compiles");
}

#[test]
fn errno_only_on_actions_that_take_one() {
    assert_eq!(
        rejected_field(json!({"defaultAction": "SCMP_ACT_KILL", "defaultErrnoRet": 1})),
        "linux.seccomp.defaultErrnoRet"
    );
    assert_eq!(
        rejected_field(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [
                {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
                {"names": ["rmdir"], "action": "SCMP_ACT_LOG", "errnoRet": 1}
            ]
        })),
        "linux.seccomp.syscalls[1].errnoRet"
    );
}

#[test]
fn errno_must_fit_the_kernel_field() {
    assert_eq!(
        rejected_field(json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 65536})),
        "linux.seccomp.defaultErrnoRet"
    );
}

#[test]
fn notify_needs_a_listener_path_and_is_no_default() {
    assert_eq!(
        rejected_field(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mknod"], "action": "SCMP_ACT_NOTIFY"}]
        })),
        "linux.seccomp.listenerPath"
    );
    assert_eq!(
        rejected_field(json!({"defaultAction": "SCMP_ACT_NOTIFY", "listenerPath": "/run/a.sock"})),
        "linux.seccomp.defaultAction"
    );
}

#[test]
fn notify_cannot_intercept_the_listener_handover() {
    assert_eq!(
        rejected_field(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "listenerPath": "/run/a.sock",
            "syscalls": [{"names": ["mknod", "sendmsg"], "action": "SCMP_ACT_NOTIFY"}]
        })),
        "linux.seccomp.syscalls[0].names[1]"
    );
}

#[test]
fn listener_metadata_needs_a_listener_path() {
    assert_eq!(
        rejected_field(json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerMetadata": "x"})),
        "linux.seccomp.listenerMetadata"
    );
}

#[test]
fn listener_path_without_notify_is_ignored() {
    let config = seccomp(json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/a.sock"}));
    validate(&config).expect("listenerPath is ignored without SCMP_ACT_NOTIFY");
}

#[test]
fn names_must_not_be_empty() {
    assert_eq!(
        rejected_field(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": [], "action": "SCMP_ACT_ERRNO"}]
        })),
        "linux.seccomp.syscalls[0].names"
    );
}

#[test]
fn argument_index_is_checked() {
    assert_eq!(
        rejected_field(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [
                {"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
                {"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}
            ]}]
        })),
        "linux.seccomp.syscalls[0].args[1].index"
    );
}

#[test]
fn value_two_only_with_masked_eq() {
    assert_eq!(
        rejected_field(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [
                {"index": 0, "value": 1, "valueTwo": 2, "op": "SCMP_CMP_EQ"}
            ]}]
        })),
        "linux.seccomp.syscalls[0].args[0].valueTwo"
    );
    // Generated profiles often carry an explicit zero; it means "unset".
    validate(&seccomp(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [
            {"index": 0, "value": 1, "valueTwo": 0, "op": "SCMP_CMP_EQ"}
        ]}]
    })))
    .expect("valueTwo 0 is accepted");
}

#[test]
fn unknown_syscalls_are_skipped_and_reported() {
    let filter = compile(&seccomp(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["no_such_syscall", "mkdir", "also_missing"], "action": "SCMP_ACT_ERRNO"}]
    })))
    .expect("unknown names do not fail compilation");
    assert_eq!(
        filter.unknown_syscalls(),
        ["no_such_syscall", "also_missing"]
    );
}

#[test]
fn rules_repeating_the_default_action_are_dropped() {
    // libseccomp refuses such rules; they must not fail the container.
    let filter = compile(&seccomp(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [
            {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"},
            {"names": ["rmdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}
        ]
    })))
    .expect("rules equal to the default action are skipped");
    assert!(filter.unknown_syscalls().is_empty());
}

#[test]
fn architectures_agree_with_features() {
    let advertised = husk_seccomp::features()
        .archs()
        .clone()
        .expect("archs are listed");
    for name in schema_enum("SeccompArch") {
        let config = seccomp(json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": [name]}));
        let arch = config.architectures().as_ref().expect("set")[0];
        let validated = validate(&config);
        assert_eq!(validated.is_ok(), compile(&config).is_ok(), "{name}");
        match validated {
            Ok(()) => assert!(
                advertised.contains(&arch),
                "{name} works but is not advertised"
            ),
            // Recognized, but incompatible with the native architecture (e.g.
            // another byte order): libseccomp refuses to mix them.
            Err(Error::Libseccomp { field, .. }) if advertised.contains(&arch) => {
                assert_eq!(field, "linux.seccomp.architectures[0]", "{name}")
            }
            Err(Error::InvalidConfig { field, .. }) if !advertised.contains(&arch) => {
                assert_eq!(field, "linux.seccomp.architectures[0]", "{name}")
            }
            Err(other) => panic!("{name}: unexpected {other:?}"),
        }
    }
    assert!(advertised.contains(&oci_spec::runtime::Arch::ScmpArchX86_64));
}

#[test]
fn conflicting_rules_are_caught_by_validate() {
    let same_condition = json!([{"index": 1, "value": 0, "op": "SCMP_CMP_EQ"}]);
    let config = seccomp(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "args": same_condition},
            {"names": ["mkdir"], "action": "SCMP_ACT_KILL", "args": same_condition}
        ]
    }));
    match validate(&config) {
        Err(error @ Error::Libseccomp { .. }) => {
            let message = error.to_string();
            assert!(
                message.starts_with("linux.seccomp.syscalls[1].names[0]: "),
                "{message}"
            );
            assert!(message.contains("different action"), "{message}");
        }
        other => panic!("expected a libseccomp error, got {other:?}"),
    }
}

/// The values of an enum definition in the spec's defs-linux.json.
fn schema_enum(definition: &str) -> Vec<String> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../husk/tests/spec-schema/defs-linux.json"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let defs: serde_json::Value = serde_json::from_str(&text).expect("defs-linux.json parses");
    serde_json::from_value(defs["definitions"][definition]["enum"].clone())
        .unwrap_or_else(|e| panic!("{definition}: {e}"))
}

#[test]
fn features_list_exactly_the_spec_names() {
    let features = husk_seccomp::features();
    assert_eq!(features.enabled(), &Some(true));
    let as_strings = |value| -> Vec<String> { serde_json::from_value(value).expect("strings") };
    let mut actions = as_strings(serde_json::to_value(features.actions()).expect("serializes"));
    let mut operators = features.operators().clone().expect("operators are listed");
    let mut known = features
        .known_flags()
        .clone()
        .expect("knownFlags are listed");
    for (listed, definition) in [
        (&mut actions, "SeccompAction"),
        (&mut operators, "SeccompOperators"),
        (&mut known, "SeccompFlag"),
    ] {
        let mut expected = schema_enum(definition);
        listed.sort();
        expected.sort();
        assert_eq!(*listed, expected, "{definition}");
    }
    let supported = features
        .supported_flags()
        .clone()
        .expect("supportedFlags are listed");
    assert!(supported.iter().all(|flag| known.contains(flag)));
    // In every kernel since 4.17.
    for flag in [
        "SECCOMP_FILTER_FLAG_TSYNC",
        "SECCOMP_FILTER_FLAG_LOG",
        "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    ] {
        assert!(supported.iter().any(|f| f == flag), "{flag} not supported");
    }
}
