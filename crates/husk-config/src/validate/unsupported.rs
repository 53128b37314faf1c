//! Fields husk does not implement (`husk features` reports them disabled).
//! Ignoring them would run the container without the isolation or
//! placement the user asked for, so each one that is set is an error.

use oci_spec::runtime::Spec;

use crate::ConfigError;

pub(super) fn check(spec: &Spec) -> Result<(), ConfigError> {
    let set = |value: Option<&String>| value.is_some_and(|v| !v.is_empty());
    let process = spec.process().as_ref();
    let linux = spec.linux().as_ref();
    let unsupported = [
        ("process.apparmorProfile", set(process.and_then(|p| p.apparmor_profile().as_ref())), "AppArmor"),
        ("process.selinuxLabel", set(process.and_then(|p| p.selinux_label().as_ref())), "SELinux"),
        ("linux.intelRdt", linux.is_some_and(|l| l.intel_rdt().is_some()), "Intel RDT (resctrl)"),
        (
            "linux.netDevices",
            linux.and_then(|l| l.net_devices().as_ref()).is_some_and(|devices| !devices.is_empty()),
            "moving network devices",
        ),
    ];
    match unsupported.into_iter().find(|(_, is_set, _)| *is_set) {
        Some((field, _, feature)) => {
            Err(ConfigError::invalid(field, format!("husk does not support {feature}; remove the field")))
        }
        None => Ok(()),
    }
}
