//! `process.capabilities` and `process.noNewPrivileges`.
//!
//! Capabilities that cannot be granted (unknown to the running kernel, not
//! held by husk itself, or impossible combinations such as an effective
//! capability that is not permitted) are warnings, as the spec requires;
//! failing to *drop* a capability is always an error.

use oci_spec::runtime::{Capabilities, Capability, LinuxCapabilities};
use rustix::io::Errno;
use rustix::thread::{
    capabilities, capability_is_in_bounding_set, clear_ambient_capability_set,
    configure_capability_in_ambient_set, remove_capability_from_bounding_set, set_capabilities,
    set_no_new_privs, CapabilitySet, CapabilitySets,
};

use crate::Error;

use husk_sys::caps::NAMES;

/// Every capability this build knows, in kernel order (for `husk features`).
/// `oci-spec` has no variant for any other name and fails to parse a config
/// naming one; husk-config turns those into warnings.
pub fn capability_names() -> &'static [&'static str] {
    &NAMES
}

/// The kernel number of `cap`.
fn number(cap: Capability) -> u32 {
    use Capability::*;
    match cap {
        Chown => 0,
        DacOverride => 1,
        DacReadSearch => 2,
        Fowner => 3,
        Fsetid => 4,
        Kill => 5,
        Setgid => 6,
        Setuid => 7,
        Setpcap => 8,
        LinuxImmutable => 9,
        NetBindService => 10,
        NetBroadcast => 11,
        NetAdmin => 12,
        NetRaw => 13,
        IpcLock => 14,
        IpcOwner => 15,
        SysModule => 16,
        SysRawio => 17,
        SysChroot => 18,
        SysPtrace => 19,
        SysPacct => 20,
        SysAdmin => 21,
        SysBoot => 22,
        SysNice => 23,
        SysResource => 24,
        SysTime => 25,
        SysTtyConfig => 26,
        Mknod => 27,
        Lease => 28,
        AuditWrite => 29,
        AuditControl => 30,
        Setfcap => 31,
        MacOverride => 32,
        MacAdmin => 33,
        Syslog => 34,
        WakeAlarm => 35,
        BlockSuspend => 36,
        AuditRead => 37,
        Perfmon => 38,
        Bpf => 39,
        CheckpointRestore => 40,
    }
}

fn single(number: u32) -> CapabilitySet {
    CapabilitySet::from_bits_retain(1 << number)
}

/// Names of the capabilities in `set`, for messages.
fn names(set: CapabilitySet) -> String {
    let mut out: Vec<String> = Vec::new();
    for n in 0..64 {
        if set.contains(single(n)) {
            out.push(NAMES.get(n as usize).map_or_else(|| format!("capability {n}"), |s| s.to_string()));
        }
    }
    out.join(", ")
}

/// The highest capability number the running kernel knows: the bounding-set
/// query answers EINVAL beyond it. Side-effect free.
fn kernel_last_cap() -> Result<u32, Error> {
    for n in 0..64 {
        match capability_is_in_bounding_set(single(n)) {
            Ok(_) => {}
            Err(Errno::INVAL) if n > 0 => return Ok(n - 1),
            Err(e) => return Err(Error::syscall("process.capabilities", n, "prctl(PR_CAPBSET_READ)", e)),
        }
    }
    Ok(63)
}

/// The five configured sets as bit sets, with the JSON names of the fields.
struct Requested {
    bounding: CapabilitySet,
    effective: CapabilitySet,
    permitted: CapabilitySet,
    inheritable: CapabilitySet,
    ambient: CapabilitySet,
}

fn to_set(caps: &Option<Capabilities>) -> CapabilitySet {
    caps.iter().flatten().fold(CapabilitySet::empty(), |acc, &c| acc | single(number(c)))
}

impl Requested {
    fn from(caps: Option<&LinuxCapabilities>) -> Self {
        match caps {
            None => Requested {
                bounding: CapabilitySet::empty(),
                effective: CapabilitySet::empty(),
                permitted: CapabilitySet::empty(),
                inheritable: CapabilitySet::empty(),
                ambient: CapabilitySet::empty(),
            },
            Some(c) => Requested {
                bounding: to_set(c.bounding()),
                effective: to_set(c.effective()),
                permitted: to_set(c.permitted()),
                inheritable: to_set(c.inheritable()),
                ambient: to_set(c.ambient()),
            },
        }
    }

    fn fields_mut(&mut self) -> [(&'static str, &mut CapabilitySet); 5] {
        [
            ("process.capabilities.bounding", &mut self.bounding),
            ("process.capabilities.effective", &mut self.effective),
            ("process.capabilities.permitted", &mut self.permitted),
            ("process.capabilities.inheritable", &mut self.inheritable),
            ("process.capabilities.ambient", &mut self.ambient),
        ]
    }

    /// Removes what can never be granted, whatever privileges husk has:
    /// capabilities unknown to the kernel, effective or ambient capabilities
    /// outside the sets they depend on. Returns one warning per removal.
    fn prune_impossible(&mut self, known: CapabilitySet) -> Vec<String> {
        let mut warnings = Vec::new();
        for (field, set) in self.fields_mut() {
            let unknown = *set - known;
            if !unknown.is_empty() {
                warnings.push(format!("{field}: {} not supported by the running kernel; ignored", names(unknown)));
                *set &= known;
            }
        }
        let not_permitted = self.effective - self.permitted;
        if !not_permitted.is_empty() {
            warnings.push(format!(
                "process.capabilities.effective: {} not in the permitted set; ignored",
                names(not_permitted)
            ));
            self.effective &= self.permitted;
        }
        let grantable_ambient = self.permitted & self.inheritable;
        let not_ambient = self.ambient - grantable_ambient;
        if !not_ambient.is_empty() {
            warnings.push(format!(
                "process.capabilities.ambient: {} must be both permitted and inheritable; ignored",
                names(not_ambient)
            ));
            self.ambient &= grantable_ambient;
        }
        warnings
    }
}

fn known_set() -> Result<CapabilitySet, Error> {
    let last = kernel_last_cap()?;
    Ok((0..=last).fold(CapabilitySet::empty(), |acc, n| acc | single(n)))
}

/// Static capability checks for [`crate::validate`]: only warnings.
pub(crate) fn warnings(caps: Option<&LinuxCapabilities>) -> Result<Vec<String>, Error> {
    Ok(Requested::from(caps).prune_impossible(known_set()?))
}

/// Sets the capability sets of the calling process from the config, after
/// [`crate::switch_user`]: drops every bounding capability not listed, sets
/// permitted/effective/inheritable, then makes the ambient set exactly the
/// listed one. `None` drops everything. Inheritable capabilities come only
/// from `inheritable` (CVE-2022-29162). Capabilities that cannot be granted
/// are returned as warnings. What no process could be granted (unknown to
/// the kernel, ambient but not inheritable...) is pruned silently here:
/// [`crate::validate`] reports it once, before the container is created.
pub fn apply_capabilities(caps: Option<&LinuxCapabilities>) -> Result<Vec<String>, Error> {
    let known = known_set()?;
    let mut wanted = Requested::from(caps);
    wanted.prune_impossible(known);
    let mut warnings = Vec::new();

    // Needs CAP_SETPCAP in the effective set, so it comes before capset.
    for n in 0..64 {
        let cap = single(n);
        if known.contains(cap) && !wanted.bounding.contains(cap) {
            remove_capability_from_bounding_set(cap).map_err(|e| {
                Error::syscall("process.capabilities.bounding", names(cap), "prctl(PR_CAPBSET_DROP)", e)
            })?;
        }
    }

    let current = capabilities(None)
        .map_err(|e| Error::syscall("process.capabilities", "current sets", "capget", e))?;
    let bounding = wanted.bounding;
    for (field, set, allowed) in [
        ("process.capabilities.permitted", &mut wanted.permitted, current.permitted),
        ("process.capabilities.inheritable", &mut wanted.inheritable, current.inheritable | bounding),
    ] {
        let missing = *set - allowed;
        if !missing.is_empty() {
            warnings.push(format!("{field}: {} cannot be granted; ignored", names(missing)));
            *set &= allowed;
        }
    }
    // A permitted capability removed above takes its effective/ambient uses along.
    warnings.extend(wanted.prune_impossible(known));

    let sets = CapabilitySets {
        effective: wanted.effective,
        permitted: wanted.permitted,
        inheritable: wanted.inheritable,
    };
    set_capabilities(None, sets).map_err(|e| {
        let value = format!(
            "effective=[{}] permitted=[{}] inheritable=[{}]",
            names(sets.effective),
            names(sets.permitted),
            names(sets.inheritable)
        );
        Error::syscall("process.capabilities", value, "capset", e)
    })?;

    clear_ambient_capability_set().map_err(|e| {
        Error::syscall("process.capabilities.ambient", "(clear)", "prctl(PR_CAP_AMBIENT_CLEAR_ALL)", e)
    })?;
    for n in 0..64 {
        let cap = single(n);
        if wanted.ambient.contains(cap) {
            configure_capability_in_ambient_set(cap, true).map_err(|e| {
                Error::syscall("process.capabilities.ambient", names(cap), "prctl(PR_CAP_AMBIENT_RAISE)", e)
            })?;
        }
    }
    Ok(warnings)
}

/// `process.noNewPrivileges`: no exec can grant privileges from now on.
pub fn set_no_new_privileges() -> Result<(), Error> {
    set_no_new_privs(true).map_err(|e| Error::syscall("process.noNewPrivileges", true, "prctl(PR_SET_NO_NEW_PRIVS)", e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{in_forked_child, require_root};

    fn caps_from_json(json: &str) -> LinuxCapabilities {
        serde_json::from_str(json).expect("test capabilities JSON")
    }

    #[test]
    fn names_match_oci_spec_variants_and_kernel_numbers() {
        for (n, name) in capability_names().iter().enumerate() {
            let cap: Capability = serde_json::from_str(&format!("\"{name}\"")).expect(name);
            assert_eq!(number(cap) as usize, n, "{name}");
        }
    }

    #[test]
    fn impossible_combinations_become_warnings() {
        let caps = caps_from_json(
            r#"{"bounding":["CAP_KILL","CAP_CHOWN"],"permitted":["CAP_KILL"],
                "effective":["CAP_KILL","CAP_CHOWN"],"inheritable":[],"ambient":["CAP_KILL"]}"#,
        );
        let mut wanted = Requested::from(Some(&caps));
        let warnings = wanted.prune_impossible(known_set().unwrap());
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("effective: CAP_CHOWN"), "{warnings:?}");
        assert!(warnings[1].contains("ambient: CAP_KILL"), "{warnings:?}");
        assert_eq!(wanted.effective, CapabilitySet::KILL);
        assert!(wanted.ambient.is_empty());
    }

    #[test]
    fn capabilities_unknown_to_the_kernel_are_warned_about() {
        let mut wanted = Requested::from(Some(&caps_from_json(r#"{"bounding":["CAP_BPF","CAP_KILL"]}"#)));
        let warnings = wanted.prune_impossible(CapabilitySet::KILL);
        assert_eq!(warnings, ["process.capabilities.bounding: CAP_BPF not supported by the running kernel; ignored"]);
        assert_eq!(wanted.bounding, CapabilitySet::KILL);
    }

    /// Reads a `Cap*:` line of /proc/self/status as a bit mask.
    fn status_mask(key: &str) -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with(key)).unwrap();
        u64::from_str_radix(line[key.len()..].trim(), 16).unwrap()
    }

    fn expect_masks(expected: &[(&str, CapabilitySet)]) -> Result<(), String> {
        for (key, set) in expected {
            let got = status_mask(key);
            if got != set.bits() {
                return Err(format!("{key} {got:#x}, want {:#x} ({})", set.bits(), names(*set)));
            }
        }
        Ok(())
    }

    #[test]
    fn sets_are_applied_exactly_for_an_unprivileged_user() {
        if !require_root() {
            return;
        }
        let caps = caps_from_json(
            r#"{"bounding":["CAP_KILL","CAP_NET_BIND_SERVICE","CAP_CHOWN"],
                "permitted":["CAP_KILL","CAP_NET_BIND_SERVICE"],
                "effective":["CAP_KILL"],
                "inheritable":["CAP_NET_BIND_SERVICE"],
                "ambient":["CAP_NET_BIND_SERVICE"]}"#,
        );
        let user = serde_json::from_str(r#"{"uid":1000,"gid":1000}"#).unwrap();
        in_forked_child(|| {
            crate::switch_user(&user).map_err(|e| e.to_string())?;
            let warnings = apply_capabilities(Some(&caps)).map_err(|e| e.to_string())?;
            if !warnings.is_empty() {
                return Err(format!("unexpected warnings {warnings:?}"));
            }
            expect_masks(&[
                ("CapBnd:", CapabilitySet::KILL | CapabilitySet::NET_BIND_SERVICE | CapabilitySet::CHOWN),
                ("CapPrm:", CapabilitySet::KILL | CapabilitySet::NET_BIND_SERVICE),
                ("CapEff:", CapabilitySet::KILL),
                ("CapInh:", CapabilitySet::NET_BIND_SERVICE),
                ("CapAmb:", CapabilitySet::NET_BIND_SERVICE),
            ])
        })
        .unwrap();
    }

    #[test]
    fn none_drops_everything_and_inheritable_stays_empty() {
        if !require_root() {
            return;
        }
        in_forked_child(|| {
            apply_capabilities(None).map_err(|e| e.to_string())?;
            let empty = CapabilitySet::empty();
            expect_masks(&[("CapBnd:", empty), ("CapPrm:", empty), ("CapEff:", empty), ("CapInh:", empty), ("CapAmb:", empty)])
        })
        .unwrap();
    }

    #[test]
    fn inheritable_outside_bounding_is_a_warning_not_a_grant() {
        if !require_root() {
            return;
        }
        // CVE-2022-29162: nothing may become inheritable unless listed, and a
        // listed one outside the bounding set cannot be granted.
        let caps = caps_from_json(
            r#"{"bounding":["CAP_KILL"],"permitted":["CAP_KILL"],"effective":["CAP_KILL"],
                "inheritable":["CAP_NET_ADMIN"]}"#,
        );
        in_forked_child(|| {
            let warnings = apply_capabilities(Some(&caps)).map_err(|e| e.to_string())?;
            if warnings != ["process.capabilities.inheritable: CAP_NET_ADMIN cannot be granted; ignored"] {
                return Err(format!("warnings {warnings:?}"));
            }
            expect_masks(&[("CapInh:", CapabilitySet::empty()), ("CapEff:", CapabilitySet::KILL)])
        })
        .unwrap();
    }

    #[test]
    fn no_new_privileges_is_set() {
        if !require_root() {
            return;
        }
        in_forked_child(|| {
            set_no_new_privileges().map_err(|e| e.to_string())?;
            let status = std::fs::read_to_string("/proc/self/status").unwrap();
            match status.lines().find(|l| l.starts_with("NoNewPrivs:")) {
                Some(line) if line.ends_with('1') => Ok(()),
                other => Err(format!("{other:?}")),
            }
        })
        .unwrap();
    }
}
