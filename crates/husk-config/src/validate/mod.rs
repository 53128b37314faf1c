//! The spec's rules that the types alone do not enforce.
//!
//! Only spec-level structure and cross-field rules live here; the crates that
//! apply a part of the configuration check its values themselves: husk-rootfs
//! (mounts, idmapped mounts, devices, sysctl, masked and read-only paths,
//! rootfs propagation), husk-process (env, user, rlimit values, scheduler,
//! affinity, personality, capabilities), husk-cgroups (resources),
//! husk-seccomp (seccomp).

mod annotations;
mod linux;
mod process;
mod unsupported;

use std::path::Path;

use oci_spec::runtime::{Hook, Spec};

use crate::{ConfigError, Warning, OCI_VERSION_MAX, OCI_VERSION_MIN};

/// A process given on its own (`exec`): its own rules and the fields husk
/// cannot apply.
pub(crate) fn validate_process(process: &oci_spec::runtime::Process) -> Result<(), ConfigError> {
    process::check(process)?;
    unsupported::check_process(process)
}

pub(crate) fn validate_spec(spec: &Spec, warnings: &mut Vec<Warning>) -> Result<(), ConfigError> {
    check_version(spec.version())?;
    check_root(spec)?;
    if let Some(process) = spec.process() {
        process::check(process)?;
    }
    warn_relative_mount_destinations(spec, warnings);
    warn_kernel_memory(spec, warnings);
    check_hooks(spec, warnings)?;
    linux::check(spec)?;
    unsupported::check(spec)?;
    if let Some(annotations) = spec.annotations() {
        annotations::check(annotations, warnings);
    }
    Ok(())
}

/// `linux.resources.memory.kernel` is NOT RECOMMENDED by the spec and the
/// kernel no longer has kernel-memory limits: like runc, husk accepts it and
/// says it has no effect (-1, "unlimited", is what happens anyway).
fn warn_kernel_memory(spec: &Spec, warnings: &mut Vec<Warning>) {
    let memory = spec.linux().as_ref().and_then(|l| l.resources().as_ref()).and_then(|r| r.memory().as_ref());
    #[allow(deprecated)]
    if let Some(v) = memory.and_then(|m| m.kernel()).filter(|v| *v != -1) {
        warnings.push(Warning::new(
            "linux.resources.memory.kernel",
            format!("{v} is ignored: the kernel no longer supports kernel memory limits"),
        ));
    }
}

fn check_version(version: &str) -> Result<(), ConfigError> {
    let parse = |v: &str| -> Option<(u64, u64, u64)> {
        let core = v.split(['-', '+']).next()?;
        let mut it = core.split('.').map(|p| p.parse::<u64>().ok());
        let parsed = (it.next()??, it.next()??, it.next()??);
        it.next().is_none().then_some(parsed)
    };
    let field = "ociVersion";
    if version.is_empty() {
        return Err(ConfigError::invalid(field, "required: the spec version the bundle follows, e.g. \"1.2.0\""));
    }
    let Some(v) = parse(version) else {
        return Err(ConfigError::invalid(field, format!("{version:?} is not a SemVer version (MAJOR.MINOR.PATCH)")));
    };
    let (Some(min), Some(max)) = (parse(OCI_VERSION_MIN), parse(OCI_VERSION_MAX)) else {
        unreachable!("OCI_VERSION_MIN and OCI_VERSION_MAX are SemVer constants");
    };
    // Any 1.x release at or below the newest one we know; later minor versions
    // of 1.x may add fields we would silently ignore.
    if v < min || (v.0, v.1) > (max.0, max.1) {
        return Err(ConfigError::invalid(
            field,
            format!("version {version} is not supported (husk supports {OCI_VERSION_MIN} to {OCI_VERSION_MAX})"),
        ));
    }
    Ok(())
}

fn check_root(spec: &Spec) -> Result<(), ConfigError> {
    let Some(root) = spec.root() else {
        return Err(ConfigError::invalid("root", "required on Linux: the container's root filesystem"));
    };
    check_path("root.path", root.path())
}

/// The mounts themselves are checked by husk-rootfs, which performs them;
/// the spec only deprecates relative destinations, which is worth a warning.
fn warn_relative_mount_destinations(spec: &Spec, warnings: &mut Vec<Warning>) {
    for (index, mount) in spec.mounts().iter().flatten().enumerate() {
        let destination = mount.destination();
        if !destination.as_os_str().is_empty() && !destination.is_absolute() {
            warnings.push(Warning::new(
                format!("mounts[{index}].destination"),
                format!("relative destination {destination:?} is deprecated; it is taken relative to \"/\""),
            ));
        }
    }
}

fn check_hooks(spec: &Spec, warnings: &mut Vec<Warning>) -> Result<(), ConfigError> {
    let Some(hooks) = spec.hooks() else { return Ok(()) };
    let stages: [(&str, &Option<Vec<Hook>>); 6] = [
        ("prestart", hooks.prestart()),
        ("createRuntime", hooks.create_runtime()),
        ("createContainer", hooks.create_container()),
        ("startContainer", hooks.start_container()),
        ("poststart", hooks.poststart()),
        ("poststop", hooks.poststop()),
    ];
    for (stage, list) in stages {
        let Some(list) = list else { continue };
        if stage == "prestart" && !list.is_empty() {
            warnings.push(Warning::new(
                "hooks.prestart",
                "deprecated by the spec; use createRuntime (run at the same point)",
            ));
        }
        for (index, hook) in list.iter().enumerate() {
            let field = format!("hooks.{stage}[{index}]");
            check_absolute_path(&format!("{field}.path"), hook.path())?;
            if let Some(timeout) = hook.timeout() {
                if timeout <= 0 {
                    return Err(ConfigError::invalid(
                        format!("{field}.timeout"),
                        format!("must be greater than zero (seconds), got {timeout}"),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// A path the kernel will be handed: non-empty and free of NUL bytes (which
/// JSON can carry as `\u0000` but a C string cannot).
fn check_path(field: &str, path: &Path) -> Result<(), ConfigError> {
    let bytes = path.as_os_str().as_encoded_bytes();
    if bytes.is_empty() {
        return Err(ConfigError::invalid(field, "must not be empty"));
    }
    if bytes.contains(&0) {
        return Err(ConfigError::invalid(field, format!("{path:?} contains a NUL byte")));
    }
    Ok(())
}

fn check_absolute_path(field: &str, path: &Path) -> Result<(), ConfigError> {
    check_path(field, path)?;
    if !path.is_absolute() {
        return Err(ConfigError::invalid(field, format!("must be an absolute path, got {path:?}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        for good in ["1.0.0", "1.0.2-dev", "1.2.0", "1.3.0", "1.3.7", "1.2.1+build"] {
            assert!(check_version(good).is_ok(), "{good}");
        }
        for bad in ["", "1", "1.2", "1.2.x", "0.9.0", "1.4.0", "2.0.0", "1.2.0.1"] {
            let error = check_version(bad).unwrap_err();
            assert_eq!(error.field(), Some("ociVersion"), "{bad}");
        }
    }

    #[test]
    fn paths() {
        assert!(check_absolute_path("f", Path::new("/bin/true")).is_ok());
        assert!(check_absolute_path("f", Path::new("bin/true")).unwrap_err().to_string().contains("absolute"));
        assert!(check_path("f", Path::new("")).unwrap_err().to_string().contains("empty"));
        assert!(check_path("f", Path::new("a\0b")).unwrap_err().to_string().contains("NUL"));
    }
}
