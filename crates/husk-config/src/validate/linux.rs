//! `linux` and the top-level fields whose rules depend on it (hostname).

use std::collections::HashMap;

use oci_spec::runtime::{Linux, LinuxIdMapping, LinuxNamespace, LinuxNamespaceType, Spec};

use super::check_absolute_path;
use crate::{member_path, ConfigError};

/// Kernel limits: `__NEW_UTS_LEN`, and the number of lines accepted in
/// `uid_map`/`gid_map` (since Linux 4.15).
const UTS_NAME_MAX: usize = 64;
const ID_MAP_LINES_MAX: usize = 340;

pub(super) fn check(spec: &Spec) -> Result<(), ConfigError> {
    let default_linux = Linux::default();
    let linux = spec.linux().as_ref().unwrap_or(&default_linux);
    let namespaces = Namespaces::from_config(linux.namespaces().as_deref().unwrap_or_default())?;
    check_uts_names(spec, &namespaces)?;
    check_user_mappings(linux, &namespaces)?;
    check_time_offsets(linux, &namespaces)?;
    Ok(())
}

/// Name of a namespace type as written in config.json.
fn namespace_name(kind: LinuxNamespaceType) -> &'static str {
    match kind {
        LinuxNamespaceType::Mount => "mount",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Network => "network",
        LinuxNamespaceType::Time => "time",
    }
}

/// The container's namespaces by type, with their index in
/// `linux.namespaces` for error messages.
struct Namespaces<'a> {
    by_type: HashMap<LinuxNamespaceType, (usize, &'a LinuxNamespace)>,
}

impl<'a> Namespaces<'a> {
    fn from_config(list: &'a [LinuxNamespace]) -> Result<Self, ConfigError> {
        let mut by_type = HashMap::with_capacity(list.len());
        for (index, namespace) in list.iter().enumerate() {
            let kind = namespace.typ();
            if let Some((first, _)) = by_type.insert(kind, (index, namespace)) {
                return Err(ConfigError::invalid(
                    format!("linux.namespaces[{index}].type"),
                    format!(
                        "{:?} is already listed at linux.namespaces[{first}]; each type may appear once",
                        namespace_name(kind)
                    ),
                ));
            }
            if let Some(path) = namespace.path() {
                check_absolute_path(&format!("linux.namespaces[{index}].path"), path)?;
            }
        }
        Ok(Namespaces { by_type })
    }

    fn get(&self, kind: LinuxNamespaceType) -> Option<(usize, &'a LinuxNamespace)> {
        self.by_type.get(&kind).copied()
    }

    /// Error for `field`, which needs a namespace of type `kind` that the
    /// configuration does not list.
    fn require(&self, kind: LinuxNamespaceType, field: &str, why: &str) -> Result<(), ConfigError> {
        match self.get(kind) {
            Some(_) => Ok(()),
            None => Err(ConfigError::invalid(
                field,
                format!("{why}; add {{\"type\": \"{}\"}} to linux.namespaces", namespace_name(kind)),
            )),
        }
    }
}

fn check_uts_names(spec: &Spec, namespaces: &Namespaces) -> Result<(), ConfigError> {
    for (field, name) in [("hostname", spec.hostname()), ("domainname", spec.domainname())] {
        let Some(name) = name.as_deref().filter(|name| !name.is_empty()) else { continue };
        namespaces.require(
            LinuxNamespaceType::Uts,
            field,
            "needs a UTS namespace of the container's own, or it would change the host's",
        )?;
        if name.len() > UTS_NAME_MAX {
            return Err(ConfigError::invalid(
                field,
                format!("{} bytes long; the kernel allows at most {UTS_NAME_MAX}", name.len()),
            ));
        }
        if name.contains('\0') {
            return Err(ConfigError::invalid(field, "contains a NUL byte"));
        }
    }
    Ok(())
}

fn check_user_mappings(linux: &Linux, namespaces: &Namespaces) -> Result<(), ConfigError> {
    let lists = [("uidMappings", linux.uid_mappings()), ("gidMappings", linux.gid_mappings())];
    let user = namespaces.get(LinuxNamespaceType::User);
    for (name, mappings) in lists {
        let field = format!("linux.{name}");
        let mappings = mappings.as_deref().unwrap_or_default();
        if !mappings.is_empty() {
            namespaces.require(LinuxNamespaceType::User, &field, "mappings need a user namespace")?;
        }
        if let Some((index, namespace)) = user {
            match (namespace.path(), mappings.is_empty()) {
                (None, true) => {
                    return Err(ConfigError::invalid(
                        field,
                        format!("required: linux.namespaces[{index}] creates a user namespace, which needs mappings"),
                    ))
                }
                (Some(_), false) => {
                    return Err(ConfigError::invalid(
                        field,
                        format!(
                            "cannot be applied: linux.namespaces[{index}].path joins an existing user namespace, whose mappings are already set"
                        ),
                    ))
                }
                _ => {}
            }
        }
        check_id_mappings(&field, mappings)?;
    }
    Ok(())
}

/// What the kernel accepts in `uid_map`/`gid_map`: non-empty ranges inside
/// the 32-bit id space, no two overlapping on the container side, at most
/// `ID_MAP_LINES_MAX` of them.
fn check_id_mappings(field: &str, mappings: &[LinuxIdMapping]) -> Result<(), ConfigError> {
    if mappings.len() > ID_MAP_LINES_MAX {
        return Err(ConfigError::invalid(
            field,
            format!("{} entries; the kernel accepts at most {ID_MAP_LINES_MAX}", mappings.len()),
        ));
    }
    let end = |start: u32, size: u32| u64::from(start) + u64::from(size);
    for (index, mapping) in mappings.iter().enumerate() {
        let entry = format!("{field}[{index}]");
        if mapping.size() == 0 {
            return Err(ConfigError::invalid(format!("{entry}.size"), "must be at least 1"));
        }
        for (side, start) in [("containerID", mapping.container_id()), ("hostID", mapping.host_id())] {
            // The kernel refuses a range that reaches 2^32 - 1, the invalid id.
            if end(start, mapping.size()) > u64::from(u32::MAX) {
                return Err(ConfigError::invalid(
                    entry.clone(),
                    format!("{side} {start} + size {} goes past the largest mappable id 4294967294", mapping.size()),
                ));
            }
        }
        let (start, stop) = (mapping.container_id(), end(mapping.container_id(), mapping.size()));
        let overlapping = mappings[..index].iter().position(|other| {
            u64::from(start) < end(other.container_id(), other.size()) && u64::from(other.container_id()) < stop
        });
        if let Some(other) = overlapping {
            return Err(ConfigError::invalid(
                entry,
                format!("container ids {start}..{stop} overlap those of {field}[{other}]"),
            ));
        }
    }
    Ok(())
}

fn check_time_offsets(linux: &Linux, namespaces: &Namespaces) -> Result<(), ConfigError> {
    let Some(offsets) = linux.time_offsets().as_ref().filter(|offsets| !offsets.is_empty()) else {
        return Ok(());
    };
    let field = "linux.timeOffsets";
    namespaces.require(LinuxNamespaceType::Time, field, "offsets need a time namespace")?;
    if let Some((index, namespace)) = namespaces.get(LinuxNamespaceType::Time) {
        if namespace.path().is_some() {
            return Err(ConfigError::invalid(
                field,
                format!("cannot be applied: linux.namespaces[{index}].path joins an existing time namespace, whose offsets are fixed"),
            ));
        }
    }
    let mut clocks: Vec<_> = offsets.iter().collect();
    clocks.sort_by(|a, b| a.0.cmp(b.0));
    for (clock, offset) in clocks {
        if clock != "monotonic" && clock != "boottime" {
            return Err(ConfigError::invalid(
                member_path(field, clock),
                "unknown clock: a time namespace offsets only \"monotonic\" and \"boottime\"",
            ));
        }
        if let Some(nanosecs) = offset.nanosecs().filter(|&n| n >= 1_000_000_000) {
            return Err(ConfigError::invalid(
                member_path(&member_path(field, clock), "nanosecs"),
                format!("{nanosecs} is not below one second (1000000000); put whole seconds in secs"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping(container_id: u32, host_id: u32, size: u32) -> LinuxIdMapping {
        serde_json::from_value(serde_json::json!({"containerID": container_id, "hostID": host_id, "size": size}))
            .unwrap()
    }

    #[test]
    fn id_mapping_ranges() {
        let field = "linux.uidMappings";
        assert!(check_id_mappings(field, &[mapping(0, 1000, 1), mapping(1, 100000, 65535)]).is_ok());
        assert!(check_id_mappings(field, &[mapping(0, 0, u32::MAX)]).is_ok());
        let error = check_id_mappings(field, &[mapping(0, 1000, 10), mapping(5, 5000, 10)]).unwrap_err();
        assert_eq!(error.field(), Some("linux.uidMappings[1]"));
        assert!(error.to_string().contains("overlap those of linux.uidMappings[0]"));
        let error = check_id_mappings(field, &[mapping(1, 0, u32::MAX)]).unwrap_err();
        assert!(error.to_string().contains("containerID 1"));
        let error = check_id_mappings(field, &[mapping(0, 0, 0)]).unwrap_err();
        assert_eq!(error.field(), Some("linux.uidMappings[0].size"));
        let many: Vec<_> = (0..=ID_MAP_LINES_MAX as u32).map(|i| mapping(i, i, 1)).collect();
        assert!(check_id_mappings(field, &many).unwrap_err().to_string().contains("at most 340"));
    }
}
