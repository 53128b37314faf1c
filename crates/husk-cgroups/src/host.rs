//! Which cgroup hierarchies this host has mounted, from one read of
//! /proc/self/mountinfo and /proc/cgroups.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::Error;

/// How the host organises its cgroups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Only v1 hierarchies.
    V1,
    /// Only the unified hierarchy, at /sys/fs/cgroup.
    V2,
    /// v1 hierarchies plus a cgroup2 mount (usually /sys/fs/cgroup/unified)
    /// holding the controllers not bound to v1, if any.
    Hybrid,
}

/// One mounted v1 hierarchy and the controllers bound to it
/// (`name=<x>` for named hierarchies without a controller).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct V1Mount {
    pub mount_point: PathBuf,
    pub controllers: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Host {
    pub mode: Mode,
    pub v1: Vec<V1Mount>,
    pub unified: Option<PathBuf>,
}

pub(crate) fn detect() -> Result<Host, Error> {
    let read = |path: &str| {
        std::fs::read_to_string(path).map_err(|source| Error::Read {
            what: "cgroup detection".into(),
            path: path.into(),
            source,
        })
    };
    let known = known_controllers(&read("/proc/cgroups")?);
    parse_mountinfo(&read("/proc/self/mountinfo")?, &known)
}

/// Controller names from /proc/cgroups (first column; header starts with '#').
fn known_controllers(proc_cgroups: &str) -> Vec<String> {
    proc_cgroups
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

fn parse_mountinfo(mountinfo: &str, known: &[String]) -> Result<Host, Error> {
    let mut v1: Vec<V1Mount> = Vec::new();
    let mut seen_devices: Vec<&str> = Vec::new();
    let mut unified: Option<PathBuf> = None;
    for line in mountinfo.lines() {
        // "id parent maj:min root mountpoint opts [optional...] - fstype source superopts"
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let left: Vec<&str> = left.split(' ').collect();
        let right: Vec<&str> = right.split(' ').collect();
        if left.len() < 5 || right.len() < 3 {
            continue;
        }
        let (device, mount_point, fstype, super_opts) =
            (left[2], unescape(left[4]), right[0], right[2]);
        // A later mount on the same point hides the earlier one (a tmpfs over
        // /sys/fs/cgroup/unified, say): only the top mount counts.
        if unified.as_deref() == Some(mount_point.as_path()) {
            unified = None;
        }
        v1.retain(|m| m.mount_point != mount_point);
        match fstype {
            // Prefer the canonical location when cgroup2 is mounted several times.
            "cgroup2" if unified.is_none() || mount_point == Path::new("/sys/fs/cgroup") => {
                unified = Some(mount_point)
            }
            "cgroup" if !seen_devices.contains(&device) => {
                seen_devices.push(device);
                let controllers: Vec<String> = super_opts
                    .split(',')
                    .filter(|o| o.starts_with("name=") || known.iter().any(|k| k == o))
                    .map(str::to_owned)
                    .collect();
                if !controllers.is_empty() {
                    v1.push(V1Mount {
                        mount_point,
                        controllers,
                    });
                }
            }
            _ => {}
        }
    }
    let mode = match (v1.is_empty(), unified.is_some()) {
        (true, true) => Mode::V2,
        (true, false) => return Err(Error::NoCgroupFs),
        (false, true) => Mode::Hybrid,
        (false, false) => Mode::V1,
    };
    Ok(Host { mode, v1, unified })
}

/// Undoes mountinfo's octal escapes (`\040` for a space, etc.).
fn unescape(field: &str) -> PathBuf {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match octal {
            Some(d) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    PathBuf::from(<std::ffi::OsString as std::os::unix::ffi::OsStringExt>::from_vec(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KNOWN: &str = "#subsys_name\thierarchy\tnum_cgroups\tenabled\ncpuset\t3\t1\t1\ncpu\t1\t1\t1\ncpuacct\t1\t1\t1\nmemory\t4\t1\t1\nhugetlb\t0\t1\t1\n";

    #[test]
    fn a_mount_over_the_unified_hierarchy_hides_it() {
        let mi = "32 31 0:29 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n\
                  41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n\
                  77 41 0:90 / /sys/fs/cgroup/unified rw,relatime - tmpfs empty rw\n";
        let host = parse_mountinfo(mi, &known_controllers(KNOWN)).unwrap();
        assert_eq!(host.mode, Mode::V1);
        assert_eq!(host.unified, None);
    }

    #[test]
    fn hybrid_with_comounted_and_named_hierarchies() {
        let mi = "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n\
                  32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct\n\
                  35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n\
                  40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd\n\
                  90 35 0:32 / /mnt/mem\\040copy rw,relatime - cgroup cgroup rw,memory\n\
                  41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
        let host = parse_mountinfo(mi, &known_controllers(KNOWN)).unwrap();
        assert_eq!(host.mode, Mode::Hybrid);
        assert_eq!(
            host.unified.as_deref(),
            Some(Path::new("/sys/fs/cgroup/unified"))
        );
        let got: Vec<(&Path, Vec<&str>)> = host
            .v1
            .iter()
            .map(|m| {
                (
                    m.mount_point.as_path(),
                    m.controllers.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    Path::new("/sys/fs/cgroup/cpu,cpuacct"),
                    vec!["cpu", "cpuacct"]
                ),
                (Path::new("/sys/fs/cgroup/memory"), vec!["memory"]),
                (Path::new("/sys/fs/cgroup/systemd"), vec!["name=systemd"]),
            ]
        );
    }

    #[test]
    fn pure_v2_prefers_sys_fs_cgroup() {
        let mi = "50 1 0:40 / /run/other rw - cgroup2 cgroup2 rw\n29 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";
        let host = parse_mountinfo(mi, &[]).unwrap();
        assert_eq!(host.mode, Mode::V2);
        assert_eq!(host.unified.as_deref(), Some(Path::new("/sys/fs/cgroup")));
    }

    #[test]
    fn no_cgroupfs_is_an_error() {
        let mi = "22 1 0:21 / /proc rw - proc proc rw\n";
        assert!(matches!(parse_mountinfo(mi, &[]), Err(Error::NoCgroupFs)));
    }

    #[test]
    fn unescape_octal() {
        assert_eq!(unescape("/a\\040b\\134c"), PathBuf::from("/a b\\c"));
        assert_eq!(unescape("/trailing\\04"), PathBuf::from("/trailing\\04"));
    }
}
