//! "Did you mean ...?" for misspelled names.

/// Every property name in the runtime spec's config schema (all platforms'
/// top-level sections, Linux in detail), for suggestions only.
#[rustfmt::skip]
const SPEC_PROPERTY_NAMES: &[&str] = &[
    "access", "action", "additionalGids", "allow", "ambient", "annotations", "apparmorProfile", "architectures",
    "args", "blockIO", "boottime", "bounding", "burst", "capabilities", "cgroupsPath", "checkBeforeUpdate", "class",
    "classID", "closID", "commandLine", "consoleSize", "containerID", "cpu", "cpus", "createContainer",
    "createRuntime", "cwd", "deadline", "defaultAction", "defaultErrnoRet", "destination", "devices",
    "disableOOMKiller", "domain", "domainname", "effective", "enableMonitoring", "env", "errnoRet", "execCPUAffinity",
    "fileMode", "final", "flags", "freebsd", "gid", "gidMappings", "hard", "hcaHandles", "hcaObjects", "height",
    "hooks", "hostID", "hostname", "hugepageLimits", "idle", "index", "inheritable", "initial", "intelRdt",
    "ioPriority", "kernel", "kernelTCP", "l3CacheSchema", "leafWeight", "limit", "linux", "listenerMetadata",
    "listenerPath", "major", "maskedPaths", "memBwSchema", "memory", "memoryPolicy", "mems", "minor", "mode",
    "monotonic", "mountLabel", "mounts", "name", "names", "namespaces", "nanosecs", "netDevices", "network", "nice",
    "noNewPrivileges", "nodes", "ociVersion", "oomScoreAdj", "op", "options", "pageSize", "path", "period",
    "permitted", "personality", "pids", "policy", "poststart", "poststop", "prestart", "priorities", "priority",
    "process", "quota", "rate", "rdma", "readonly", "readonlyPaths", "realtimePeriod", "realtimeRuntime",
    "reservation", "resources", "rlimits", "root", "rootfsPropagation", "runtime", "scheduler", "schemata", "seccomp",
    "secs", "selinuxLabel", "shares", "size", "soft", "solaris", "source", "startContainer", "swap", "swappiness",
    "syscalls", "sysctl", "terminal", "throttleReadBpsDevice", "throttleReadIOPSDevice", "throttleWriteBpsDevice",
    "throttleWriteIOPSDevice", "timeOffsets", "timeout", "type", "uid", "uidMappings", "umask", "unified",
    "useHierarchy", "user", "username", "value", "valueTwo", "vm", "weight", "weightDevice", "width", "windows", "zos",
];

/// A spec property name close to `key` (a typo or a case slip), if any.
pub(crate) fn for_unknown_property(key: &str) -> Option<&'static str> {
    closest(key, SPEC_PROPERTY_NAMES.iter().copied())
}

/// serde's "unknown variant `net`, expected one of `mount`, ..., `network`"
/// gains "; did you mean `network`?" when one candidate is close.
pub(crate) fn for_unknown_variant(msg: String) -> String {
    let Some(rest) = msg.strip_prefix("unknown variant `") else { return msg };
    let Some((given, expected)) = rest.split_once('`') else { return msg };
    match closest(given, expected.split('`').skip(1).step_by(2)) {
        Some(candidate) => format!("{msg}; did you mean `{candidate}`?"),
        None => msg,
    }
}

/// The candidate nearest to `given`, ignoring case, when near enough (one
/// edit per three characters); failing that, the shortest candidate that
/// `given` abbreviates ("net" for "network").
fn closest<'a>(given: &str, candidates: impl Iterator<Item = &'a str> + Clone) -> Option<&'a str> {
    let given_upper = given.to_ascii_uppercase();
    let nearest = candidates
        .clone()
        .map(|candidate| (edit_distance(&given_upper, &candidate.to_ascii_uppercase()), candidate))
        .min_by_key(|(distance, _)| *distance)
        .filter(|(distance, candidate)| *distance <= (given.len() / 3).max(1) && *candidate != given)
        .map(|(_, candidate)| candidate);
    nearest.or_else(|| {
        candidates
            .filter(|candidate| given.len() >= 3 && candidate.to_ascii_uppercase().starts_with(&given_upper))
            .min_by_key(|candidate| candidate.len())
    })
}

/// Edit distance counting insertions, deletions, substitutions and swaps
/// of neighbours ("pdi" -> "pid" is 1); over bytes, names here are ASCII.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    // rows[i][j]: distance between a[..i] and b[..j].
    let mut rows = vec![vec![0; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let substitution = rows[i - 1][j - 1] + usize::from(a[i - 1] != b[j - 1]);
            let mut best = substitution.min(rows[i - 1][j] + 1).min(rows[i][j - 1] + 1);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_enum_names_are_suggested() {
        let expected = "expected one of `mount`, `cgroup`, `uts`, `ipc`, `user`, `pid`, `network`, `time`";
        let suggest = |given: &str| for_unknown_variant(format!("unknown variant `{given}`, {expected}"));
        assert!(suggest("net").ends_with("did you mean `network`?"));
        assert!(suggest("pdi").ends_with("did you mean `pid`?"));
        assert!(suggest("MOUNT").ends_with("did you mean `mount`?"));
        assert!(!suggest("filesystem").contains("did you mean"));
        assert_eq!(for_unknown_variant("missing field `x`".into()), "missing field `x`");
        let two = "unknown variant `SCMP_CMP_EQUAL`, expected `SCMP_CMP_EQ` or `SCMP_CMP_NE`";
        assert!(for_unknown_variant(two.into()).ends_with("did you mean `SCMP_CMP_EQ`?"));
    }

    #[test]
    fn close_property_names_are_suggested() {
        assert_eq!(for_unknown_property("namespace"), Some("namespaces"));
        assert_eq!(for_unknown_property("readOnly"), Some("readonly"));
        assert_eq!(for_unknown_property("hostName"), Some("hostname"));
        assert_eq!(for_unknown_property("io.example.custom"), None);
        assert_eq!(for_unknown_property(""), None);
        assert_eq!(for_unknown_property("cgroupPath"), Some("cgroupsPath"));
    }

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("pid", "pid"), 0);
        assert_eq!(edit_distance("pdi", "pid"), 1);
    }
}
