//! `husk features`: the Features structure (features.md, features-linux.md)
//! as JSON, assembled from the lists the implementing crates use themselves,
//! so that what is advertised is what is implemented.

use std::collections::HashMap;

use oci_spec::runtime::{
    Apparmor, Features, IDMap, IntelRdt, LinuxFeature, LinuxNamespaceType, MemoryPolicy,
    MountExtensions, NetDevices, Selinux,
};

/// Config annotations with this prefix are reserved for switches that change
/// husk's behaviour (none exist yet), so callers filtering untrusted
/// annotations can already drop them.
pub const RESERVED_ANNOTATION_PREFIX: &str = "run.husk.";

/// Every hook of config.md; husk-container runs all of them.
const HOOKS: [&str; 6] = [
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
];

/// Every namespace type of config-linux.md; husk creates and joins all of them.
const NAMESPACES: [LinuxNamespaceType; 8] = [
    LinuxNamespaceType::Mount,
    LinuxNamespaceType::Pid,
    LinuxNamespaceType::Network,
    LinuxNamespaceType::Uts,
    LinuxNamespaceType::Ipc,
    LinuxNamespaceType::User,
    LinuxNamespaceType::Cgroup,
    LinuxNamespaceType::Time,
];

/// The Features structure of this build of husk.
pub fn document() -> Features {
    let mut features = Features::default();
    features.set_oci_version_min(husk_config::OCI_VERSION_MIN.to_owned());
    features.set_oci_version_max(husk_config::OCI_VERSION_MAX.to_owned());
    features.set_hooks(Some(strings(&HOOKS)));
    features.set_mount_options(Some(strings(husk_rootfs::MOUNT_OPTIONS)));
    features.set_linux(Some(linux()));
    features.set_annotations(Some(annotations()));
    features.set_potentially_unsafe_config_annotations(Some(vec![
        RESERVED_ANNOTATION_PREFIX.to_owned()
    ]));
    features
}

fn linux() -> LinuxFeature {
    let mut linux = LinuxFeature::default();
    linux.set_namespaces(Some(NAMESPACES.to_vec()));
    linux.set_capabilities(Some(strings(husk_process::capability_names())));
    linux.set_cgroup(Some(husk_cgroups::features()));
    linux.set_seccomp(Some(husk_seccomp::features()));

    let mut memory_policy = MemoryPolicy::default();
    memory_policy.set_modes(Some(strings(husk_process::MEMORY_POLICY_MODES)));
    memory_policy.set_flags(Some(strings(husk_process::MEMORY_POLICY_FLAGS)));
    linux.set_memory_policy(Some(memory_policy));

    // Not implemented: advertised as such (false, or nothing recognized)
    // rather than left null, which would mean "unknown".
    let mut apparmor = Apparmor::default();
    apparmor.set_enabled(Some(false));
    linux.set_apparmor(Some(apparmor));
    let mut selinux = Selinux::default();
    selinux.set_enabled(Some(false));
    linux.set_selinux(Some(selinux));
    let mut intel_rdt = IntelRdt::default();
    intel_rdt.set_enabled(Some(false));
    linux.set_intel_rdt(Some(intel_rdt));
    let mut net_devices = NetDevices::default();
    net_devices.set_enabled(Some(false));
    linux.set_net_devices(Some(net_devices));

    let mut idmap = IDMap::default();
    idmap.set_enabled(Some(true));
    let mut mount_extensions = MountExtensions::default();
    mount_extensions.set_idmap(Some(idmap));
    linux.set_mount_extensions(Some(mount_extensions));
    linux
}

/// Facts about this build, under husk's own `io.husk.` prefix.
fn annotations() -> HashMap<String, String> {
    let mut annotations = HashMap::from([
        (
            "io.husk.version".to_owned(),
            env!("CARGO_PKG_VERSION").to_owned(),
        ),
        ("io.husk.commit".to_owned(), env!("HUSK_COMMIT").to_owned()),
    ]);
    if let Some(version) = husk_seccomp::libseccomp_version() {
        annotations.insert("io.github.seccomp.libseccomp.version".to_owned(), version);
    }
    annotations
}

fn strings(names: &[&str]) -> Vec<String> {
    names.iter().map(|&name| name.to_owned()).collect()
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::path::PathBuf;
    use std::process::{Command, Stdio};

    use super::*;

    /// Validates stdin against features-schema.json and the schemas it
    /// references; `RefResolver` works with python3-jsonschema 4.10 (Debian 12)
    /// and with current releases alike.
    const SCHEMA_CHECK: &str = r#"
import json, pathlib, sys, warnings
import jsonschema
warnings.simplefilter("ignore", DeprecationWarning)
schemas = {p.name: json.loads(p.read_text()) for p in pathlib.Path(sys.argv[1]).glob("*.json")}
root = schemas["features-schema.json"]
resolver = jsonschema.RefResolver(base_uri="", referrer=root, store=schemas)
errors = list(jsonschema.Draft4Validator(root, resolver=resolver).iter_errors(json.load(sys.stdin)))
for error in errors:
    print("/".join(map(str, error.absolute_path)) + ": " + error.message)
sys.exit(1 if errors else 0)
"#;

    /// The spec's features schemas, vendored with the tests.
    fn schema_dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/spec-schema")
    }

    #[test]
    fn document_matches_the_features_schema() {
        let schema_dir = schema_dir();
        assert!(
            schema_dir.join("features-schema.json").is_file(),
            "no spec schemas in {}",
            schema_dir.display()
        );
        let json = serde_json::to_vec(&document()).expect("document serializes");
        let mut python = Command::new("python3")
            .args(["-c", SCHEMA_CHECK])
            .arg(&schema_dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 runs (install python3 and python3-jsonschema)");
        python
            .stdin
            .take()
            .expect("stdin is piped")
            .write_all(&json)
            .expect("document written to python3");
        let output = python.wait_with_output().expect("python3 finishes");
        assert!(
            output.status.success(),
            "features document does not match the schema:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    #[test]
    fn document_lists_the_spec_sets() {
        let document = serde_json::to_value(document()).expect("document serializes");
        assert_eq!(document["ociVersionMin"], husk_config::OCI_VERSION_MIN);
        assert_eq!(document["ociVersionMax"], husk_config::OCI_VERSION_MAX);
        assert_eq!(document["hooks"].as_array().map(Vec::len), Some(6));
        let namespaces = document["linux"]["namespaces"]
            .as_array()
            .expect("namespaces");
        for name in [
            "mount", "pid", "network", "uts", "ipc", "user", "cgroup", "time",
        ] {
            assert!(
                namespaces.iter().any(|n| n == name),
                "namespace {name} missing"
            );
        }
        assert_eq!(
            document["linux"]["mountExtensions"]["idmap"]["enabled"],
            true
        );
        assert_eq!(
            document["potentiallyUnsafeConfigAnnotations"],
            serde_json::json!([RESERVED_ANNOTATION_PREFIX])
        );
        assert!(
            RESERVED_ANNOTATION_PREFIX.ends_with('.'),
            "a prefix must end with a dot"
        );
        assert!(document["mountOptions"]
            .as_array()
            .is_some_and(|options| !options.is_empty()));
        assert!(document["linux"]["capabilities"]
            .as_array()
            .is_some_and(|caps| caps.iter().any(|cap| cap == "CAP_SYS_ADMIN")));
    }
}
