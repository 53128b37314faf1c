//! Resource usage in the shape of runc's `events --stats` "data" object, read
//! straight from the control files.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::fsutil::{keyed, read_optional, read_u64_or_zero};
use crate::V2Support::{Absent, Controller};
use crate::{Cgroup, Error, Location};

fn is_zero(v: &u64) -> bool {
    *v == 0
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Stats {
    pub cpu: CpuStats,
    pub memory: MemoryStats,
    pub pids: PidsStats,
    pub blkio: BlkioStats,
    pub hugetlb: BTreeMap<String, HugetlbStats>,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct CpuStats {
    pub usage: CpuUsage,
    pub throttling: Throttling,
}

/// All times in nanoseconds.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct CpuUsage {
    #[serde(skip_serializing_if = "is_zero")]
    pub total: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu: Vec<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_kernel: Vec<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_user: Vec<u64>,
    pub kernel: u64,
    pub user: u64,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Throttling {
    #[serde(skip_serializing_if = "is_zero")]
    pub periods: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub throttled_periods: u64,
    /// Nanoseconds.
    #[serde(skip_serializing_if = "is_zero")]
    pub throttled_time: u64,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct MemoryStats {
    #[serde(skip_serializing_if = "is_zero")]
    pub cache: u64,
    pub usage: MemoryEntry,
    pub swap: MemoryEntry,
    pub kernel: MemoryEntry,
    #[serde(rename = "kernelTCP")]
    pub kernel_tcp: MemoryEntry,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub raw: BTreeMap<String, u64>,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct MemoryEntry {
    pub limit: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    pub failcnt: u64,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct PidsStats {
    #[serde(skip_serializing_if = "is_zero")]
    pub current: u64,
    /// 0 when unlimited.
    #[serde(skip_serializing_if = "is_zero")]
    pub limit: u64,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BlkioStats {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_service_bytes_recursive: Vec<BlkioEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_serviced_recursive: Vec<BlkioEntry>,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct BlkioEntry {
    pub major: u64,
    pub minor: u64,
    pub op: String,
    pub value: u64,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct HugetlbStats {
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    pub failcnt: u64,
}

pub(crate) fn collect(cg: &Cgroup) -> Result<Stats, Error> {
    let mut stats = Stats::default();
    match cg.locate("cpuacct", Controller("cpu")) {
        Some(Location::V1(dir)) => v1_cpu_usage(dir, &mut stats.cpu.usage)?,
        Some(Location::V2(dir)) => v2_cpu(dir, &mut stats.cpu)?,
        None => {}
    }
    if let Some(Location::V1(dir)) = cg.locate("cpu", Absent) {
        let stat = read_optional("stats", dir, "cpu.stat")?.unwrap_or_default();
        stats.cpu.throttling = Throttling {
            periods: keyed(&stat, "nr_periods").unwrap_or(0),
            throttled_periods: keyed(&stat, "nr_throttled").unwrap_or(0),
            throttled_time: keyed(&stat, "throttled_time").unwrap_or(0),
        };
    }
    match cg.locate("memory", Controller("memory")) {
        Some(Location::V1(dir)) => stats.memory = v1_memory(dir)?,
        Some(Location::V2(dir)) => stats.memory = v2_memory(dir)?,
        None => {}
    }
    if let Some(Location::V1(dir) | Location::V2(dir)) = cg.locate("pids", Controller("pids")) {
        stats.pids = PidsStats {
            current: read_u64_or_zero(dir, "pids.current")?,
            limit: unlimited_as_zero(read_u64_or_zero(dir, "pids.max")?),
        };
    }
    match cg.locate("blkio", Controller("io")) {
        Some(Location::V1(dir)) => {
            let read = |file| {
                Ok::<_, Error>(parse_v1_blkio(
                    &read_optional("stats", dir, file)?.unwrap_or_default(),
                ))
            };
            stats.blkio.io_service_bytes_recursive =
                read("blkio.throttle.io_service_bytes_recursive")?;
            stats.blkio.io_serviced_recursive = read("blkio.throttle.io_serviced_recursive")?;
        }
        Some(Location::V2(dir)) => {
            stats.blkio =
                parse_io_stat(&read_optional("stats", dir, "io.stat")?.unwrap_or_default())
        }
        None => {}
    }
    if let Some(location) = cg.locate("hugetlb", Controller("hugetlb")) {
        stats.hugetlb = hugetlb(location)?;
    }
    Ok(stats)
}

fn unlimited_as_zero(v: u64) -> u64 {
    if v == u64::MAX {
        0
    } else {
        v
    }
}

fn v1_cpu_usage(dir: &Path, usage: &mut CpuUsage) -> Result<(), Error> {
    let list = |file| -> Result<Vec<u64>, Error> {
        Ok(read_optional("stats", dir, file)?
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|v| v.parse().ok())
            .collect())
    };
    usage.total = read_u64_or_zero(dir, "cpuacct.usage")?;
    usage.percpu = list("cpuacct.usage_percpu")?;
    usage.percpu_kernel = list("cpuacct.usage_percpu_sys")?;
    usage.percpu_user = list("cpuacct.usage_percpu_user")?;
    // cpuacct.stat counts clock ticks.
    let stat = read_optional("stats", dir, "cpuacct.stat")?.unwrap_or_default();
    let ns_per_tick = 1_000_000_000 / rustix::param::clock_ticks_per_second();
    usage.user = keyed(&stat, "user").unwrap_or(0) * ns_per_tick;
    usage.kernel = keyed(&stat, "system").unwrap_or(0) * ns_per_tick;
    Ok(())
}

fn v2_cpu(dir: &Path, cpu: &mut CpuStats) -> Result<(), Error> {
    let stat = read_optional("stats", dir, "cpu.stat")?.unwrap_or_default();
    let usec = |key| keyed(&stat, key).unwrap_or(0) * 1000;
    cpu.usage.total = usec("usage_usec");
    cpu.usage.user = usec("user_usec");
    cpu.usage.kernel = usec("system_usec");
    cpu.throttling = Throttling {
        periods: keyed(&stat, "nr_periods").unwrap_or(0),
        throttled_periods: keyed(&stat, "nr_throttled").unwrap_or(0),
        throttled_time: usec("throttled_usec"),
    };
    Ok(())
}

fn raw_stat(content: &str) -> BTreeMap<String, u64> {
    content
        .lines()
        .filter_map(|l| l.split_once(' '))
        .filter_map(|(k, v)| Some((k.to_owned(), v.trim().parse().ok()?)))
        .collect()
}

fn v1_memory(dir: &Path) -> Result<MemoryStats, Error> {
    let entry = |prefix: &str| -> Result<MemoryEntry, Error> {
        Ok(MemoryEntry {
            limit: read_u64_or_zero(dir, &format!("{prefix}.limit_in_bytes"))?,
            usage: read_u64_or_zero(dir, &format!("{prefix}.usage_in_bytes"))?,
            max: read_u64_or_zero(dir, &format!("{prefix}.max_usage_in_bytes"))?,
            failcnt: read_u64_or_zero(dir, &format!("{prefix}.failcnt"))?,
        })
    };
    let raw = raw_stat(&read_optional("stats", dir, "memory.stat")?.unwrap_or_default());
    Ok(MemoryStats {
        cache: raw.get("cache").copied().unwrap_or(0),
        usage: entry("memory")?,
        swap: entry("memory.memsw")?,
        kernel: entry("memory.kmem")?,
        kernel_tcp: entry("memory.kmem.tcp")?,
        raw,
    })
}

fn v2_memory(dir: &Path) -> Result<MemoryStats, Error> {
    let events = read_optional("stats", dir, "memory.events")?.unwrap_or_default();
    let usage = MemoryEntry {
        limit: read_u64_or_zero(dir, "memory.max")?,
        usage: read_u64_or_zero(dir, "memory.current")?,
        max: read_u64_or_zero(dir, "memory.peak")?,
        failcnt: keyed(&events, "max").unwrap_or(0),
    };
    // v1's memsw counted memory+swap; report the same sums so that consumers
    // of the runc format see comparable numbers.
    let swap_events = read_optional("stats", dir, "memory.swap.events")?.unwrap_or_default();
    let swap = MemoryEntry {
        limit: read_u64_or_zero(dir, "memory.swap.max")?.saturating_add(usage.limit),
        usage: read_u64_or_zero(dir, "memory.swap.current")?.saturating_add(usage.usage),
        max: 0,
        failcnt: keyed(&swap_events, "fail").unwrap_or(0),
    };
    let raw = raw_stat(&read_optional("stats", dir, "memory.stat")?.unwrap_or_default());
    Ok(MemoryStats {
        cache: raw.get("file").copied().unwrap_or(0),
        usage,
        swap,
        raw,
        ..Default::default()
    })
}

/// v1 blkio lines: `8:0 Read 4096`, closing with `Total N`.
fn parse_v1_blkio(content: &str) -> Vec<BlkioEntry> {
    content
        .lines()
        .filter_map(|line| {
            let mut f = line.split_whitespace();
            let (dev, op, value) = (f.next()?, f.next()?, f.next()?);
            let (major, minor) = dev.split_once(':')?;
            Some(BlkioEntry {
                major: major.parse().ok()?,
                minor: minor.parse().ok()?,
                op: op.to_owned(),
                value: value.parse().ok()?,
            })
        })
        .collect()
}

/// io.stat lines: `8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0`.
fn parse_io_stat(content: &str) -> BlkioStats {
    let mut stats = BlkioStats::default();
    for line in content.lines() {
        let mut fields = line.split_whitespace();
        let Some((major, minor)) = fields.next().and_then(|d| d.split_once(':')) else {
            continue;
        };
        let (Ok(major), Ok(minor)) = (major.parse(), minor.parse()) else {
            continue;
        };
        for (key, value) in fields.filter_map(|f| f.split_once('=')) {
            let Ok(value) = value.parse() else { continue };
            let (list, op) = match key {
                "rbytes" => (&mut stats.io_service_bytes_recursive, "Read"),
                "wbytes" => (&mut stats.io_service_bytes_recursive, "Write"),
                "rios" => (&mut stats.io_serviced_recursive, "Read"),
                "wios" => (&mut stats.io_serviced_recursive, "Write"),
                _ => continue,
            };
            list.push(BlkioEntry {
                major,
                minor,
                op: op.into(),
                value,
            });
        }
    }
    stats
}

/// Huge page sizes of the host as cgroup file names use them ("2MB", "1GB").
pub(crate) fn hugepage_sizes() -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/sys/kernel/mm/hugepages") else {
        return Vec::new();
    };
    let mut sizes: Vec<u64> = entries
        .filter_map(|e| {
            e.ok()?
                .file_name()
                .to_str()?
                .strip_prefix("hugepages-")?
                .strip_suffix("kB")?
                .parse()
                .ok()
        })
        .collect();
    sizes.sort_unstable();
    sizes.into_iter().map(size_name).collect()
}

fn size_name(kib: u64) -> String {
    match kib {
        k if k >= 1 << 20 && k % (1 << 20) == 0 => format!("{}GB", k >> 20),
        k if k >= 1 << 10 && k % (1 << 10) == 0 => format!("{}MB", k >> 10),
        k => format!("{k}KB"),
    }
}

fn hugetlb(location: Location<'_>) -> Result<BTreeMap<String, HugetlbStats>, Error> {
    let mut out = BTreeMap::new();
    for size in hugepage_sizes() {
        let entry = match location {
            Location::V1(dir) => HugetlbStats {
                usage: read_u64_or_zero(dir, &format!("hugetlb.{size}.usage_in_bytes"))?,
                max: read_u64_or_zero(dir, &format!("hugetlb.{size}.max_usage_in_bytes"))?,
                failcnt: read_u64_or_zero(dir, &format!("hugetlb.{size}.failcnt"))?,
            },
            Location::V2(dir) => HugetlbStats {
                usage: read_u64_or_zero(dir, &format!("hugetlb.{size}.current"))?,
                max: 0,
                failcnt: keyed(
                    &read_optional("stats", dir, &format!("hugetlb.{size}.events"))?
                        .unwrap_or_default(),
                    "max",
                )
                .unwrap_or(0),
            },
        };
        out.insert(size, entry);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_size_names() {
        assert_eq!(size_name(2048), "2MB");
        assert_eq!(size_name(1_048_576), "1GB");
        assert_eq!(size_name(64), "64KB");
    }

    #[test]
    fn v1_blkio_lines() {
        let got = parse_v1_blkio("8:0 Read 4096\n8:0 Write 0\nTotal 4096\n");
        assert_eq!(got.len(), 2);
        assert_eq!(
            got[0],
            BlkioEntry {
                major: 8,
                minor: 0,
                op: "Read".into(),
                value: 4096
            }
        );
    }

    #[test]
    fn io_stat_lines() {
        let got = parse_io_stat("259:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\n");
        assert_eq!(
            got.io_service_bytes_recursive
                .iter()
                .map(|e| (e.op.as_str(), e.value))
                .collect::<Vec<_>>(),
            [("Read", 10), ("Write", 20)]
        );
        assert_eq!(
            got.io_serviced_recursive
                .iter()
                .map(|e| e.value)
                .collect::<Vec<_>>(),
            [1, 2]
        );
    }

    #[test]
    fn serializes_with_runc_field_names() {
        let mut s = Stats::default();
        s.cpu.throttling.throttled_periods = 3;
        s.memory.kernel_tcp.limit = 5;
        s.hugetlb.insert(
            "2MB".into(),
            HugetlbStats {
                usage: 1,
                max: 0,
                failcnt: 0,
            },
        );
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["cpu"]["throttling"]["throttledPeriods"], 3);
        assert_eq!(v["memory"]["kernelTCP"]["limit"], 5);
        assert_eq!(v["hugetlb"]["2MB"]["usage"], 1);
        assert_eq!(v["cpu"]["usage"]["kernel"], 0);
        assert!(v["cpu"]["usage"].get("percpu").is_none());
    }
}
