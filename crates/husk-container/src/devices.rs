//! The device-cgroup rules a container gets: the config's own rules, then
//! access to the devices every container has (runtime-linux.md default
//! devices, ptys), as runc does. Without these, a config that denies all
//! devices (as `husk spec` and every high-level runtime write) could not use
//! `/dev/null`. Devices of `linux.devices` get no rule of their own: the
//! config allows them explicitly (as podman, Docker and CRI-O do) or not.

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType, LinuxResources, Spec};

/// (type, major, minor; None = any) of the devices always allowed.
const DEFAULT_ALLOWED: &[(LinuxDeviceType, Option<i64>, Option<i64>, &str)] = &[
    (LinuxDeviceType::C, None, None, "m"),
    (LinuxDeviceType::B, None, None, "m"),
    (LinuxDeviceType::C, Some(1), Some(3), "rwm"),   // null
    (LinuxDeviceType::C, Some(1), Some(5), "rwm"),   // zero
    (LinuxDeviceType::C, Some(1), Some(7), "rwm"),   // full
    (LinuxDeviceType::C, Some(1), Some(8), "rwm"),   // random
    (LinuxDeviceType::C, Some(1), Some(9), "rwm"),   // urandom
    (LinuxDeviceType::C, Some(5), Some(0), "rwm"),   // tty
    (LinuxDeviceType::C, Some(5), Some(1), "rwm"),   // console
    (LinuxDeviceType::C, Some(5), Some(2), "rwm"),   // ptmx
    (LinuxDeviceType::C, Some(136), None, "rwm"),    // pts
    (LinuxDeviceType::C, Some(10), Some(200), "rwm"), // net/tun
];

fn rule(typ: LinuxDeviceType, major: Option<i64>, minor: Option<i64>, access: &str) -> LinuxDeviceCgroup {
    let mut r = LinuxDeviceCgroup::default();
    r.set_allow(true).set_typ(Some(typ)).set_major(major).set_minor(minor).set_access(Some(access.to_string()));
    r
}

/// The resources to apply at create: the config's, with the device rules
/// completed. `None` when the config has no resources and no devices.
pub fn effective_resources(spec: &Spec) -> Option<LinuxResources> {
    let linux = spec.linux().as_ref()?;
    let mut resources = linux.resources().clone()?;
    let mut rules = resources.devices().clone().unwrap_or_default();
    if rules.is_empty() {
        // No device policy configured: leave the device cgroup alone.
        return Some(resources);
    }
    rules.extend(DEFAULT_ALLOWED.iter().map(|&(t, maj, min, access)| rule(t, maj, min, access)));
    resources.set_devices(Some(rules));
    Some(resources)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deny_all_gets_default_devices_appended_after_it() {
        let spec: Spec = serde_json::from_value(serde_json::json!({
            "ociVersion": "1.2.0",
            "linux": {
                "resources": {"devices": [{"allow": false, "access": "rwm"}]},
                "devices": [{"type": "c", "path": "/dev/fuse", "major": 10, "minor": 229}]
            }
        }))
        .unwrap();
        let rules = effective_resources(&spec).unwrap().devices().clone().unwrap();
        assert!(!rules[0].allow());
        assert!(rules.iter().skip(1).all(|r| r.allow()));
        assert!(rules.iter().any(|r| r.major() == Some(1) && r.minor() == Some(3)));
        assert!(!rules.iter().any(|r| r.major() == Some(10) && r.minor() == Some(229)), "linux.devices are not allowed implicitly");
    }
}
