//! Fields husk does not implement (`husk features` reports them disabled).
//! Ignoring them would run the container without the isolation or
//! placement the user asked for, so each one that is set is an error.

use oci_spec::runtime::{Process, Spec};

use crate::ConfigError;

pub(super) fn check(spec: &Spec) -> Result<(), ConfigError> {
    if let Some(process) = spec.process() {
        check_process(process)?;
    }
    let linux = spec.linux().as_ref();
    let unsupported = [
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

/// The process fields husk cannot apply (also for `exec --process`).
pub(super) fn check_process(process: &Process) -> Result<(), ConfigError> {
    let set = |value: Option<&String>| value.is_some_and(|v| !v.is_empty());
    let unsupported = [
        ("process.apparmorProfile", set(process.apparmor_profile().as_ref()), "AppArmor"),
        ("process.selinuxLabel", set(process.selinux_label().as_ref()), "SELinux"),
    ];
    match unsupported.into_iter().find(|(_, is_set, _)| *is_set) {
        Some((field, _, feature)) => {
            Err(ConfigError::invalid(field, format!("husk does not support {feature}; remove the field")))
        }
        None => Ok(()),
    }
}
