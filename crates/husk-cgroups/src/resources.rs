//! Checks and conversions shared by the v1 and v2 writers.

use std::path::Path;

use oci_spec::runtime::{
    LinuxBlockIo, LinuxMemory, LinuxRdma, LinuxResources, LinuxThrottleDevice, LinuxWeightDevice,
};

use crate::devices::parse_rules;
use crate::fsutil::{parse_u64, read, write};
use crate::Error;

/// `checkBeforeUpdate`: refuse a limit below the current usage instead of
/// letting the kernel reclaim or OOM-kill (v2) to reach it.
pub(crate) fn check_before_update(limit: i64, dir: &Path, usage_file: &str) -> Result<(), Error> {
    if limit < 0 {
        return Ok(());
    }
    let usage = parse_u64(
        &dir.join(usage_file),
        &read("linux.resources.memory.checkBeforeUpdate", dir, usage_file)?,
    )?;
    if (limit as u64) < usage {
        return Err(Error::Invalid {
            field: "linux.resources.memory.limit".into(),
            reason: format!(
                "new limit {limit} is below the current usage {usage} (checkBeforeUpdate is set)"
            ),
        });
    }
    Ok(())
}

/// `memory.swap` as the writers use it. 0 counts as unset: memory+swap can
/// never be 0 while processes run, and Go callers whose structs cannot tell
/// "unset" from 0 send it that way (runc reads it the same).
pub(crate) fn memory_swap(m: &LinuxMemory) -> Option<i64> {
    m.swap().filter(|s| *s != 0)
}

/// Checks `pageSize` (`<n>KB|MB|GB`) and returns it as used in hugetlb file names.
pub(crate) fn hugetlb_file_size<'a>(field: &str, page_size: &'a str) -> Result<&'a str, Error> {
    let digits = page_size
        .strip_suffix("KB")
        .or_else(|| page_size.strip_suffix("MB"))
        .or_else(|| page_size.strip_suffix("GB"));
    match digits {
        Some(d) if !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()) => Ok(page_size),
        _ => Err(Error::Invalid {
            field: format!("{field}.pageSize"),
            reason: format!("{page_size:?} is not of the form <number>KB, MB or GB"),
        }),
    }
}

/// One line of `rdma.max` (same format on v1 and v2). Only the limits set are
/// written: the kernel keeps the others (`max` in a new cgroup), so that an
/// `update` of one limit leaves the other alone.
pub(crate) fn rdma_line(device: &str, l: &LinuxRdma) -> String {
    let mut line = device.to_owned();
    for (key, value) in [("hca_handle", l.hca_handles()), ("hca_object", l.hca_objects())] {
        if let Some(value) = value {
            line.push_str(&format!(" {key}={value}"));
        }
    }
    line
}

/// Writes one `blockIO.weightDevice` weight. The kernel refuses (EOPNOTSUPP) a
/// device whose I/O scheduler keeps no weights: say so, rather than the errno.
pub(crate) fn write_device_weight(
    field: &str,
    dir: &Path,
    file: &str,
    device: &LinuxWeightDevice,
    weight: u64,
) -> Result<(), Error> {
    let (major, minor) = (device.major(), device.minor());
    write(field, dir, file, &format!("{major}:{minor} {weight}")).map_err(|error| match error {
        Error::Write { source, .. } if source.raw_os_error() == Some(libc::EOPNOTSUPP) => {
            Error::Unsupported {
                field: field.to_owned(),
                reason: format!(
                    "block device {major}:{minor} takes no weight through {}: its I/O scheduler \
                     is not BFQ (/sys/dev/block/{major}:{minor}/queue/scheduler), or, for \
                     io.weight, the cost model is not enabled for it (io.cost.qos)",
                    dir.join(file).display()
                ),
            }
        }
        other => other,
    })
}

/// The four throttle lists as (config name, v1 file stem, entries).
pub(crate) fn throttle_lists(
    b: &LinuxBlockIo,
) -> [(&'static str, &'static str, &[LinuxThrottleDevice]); 4] {
    fn list(l: &Option<Vec<LinuxThrottleDevice>>) -> &[LinuxThrottleDevice] {
        l.as_deref().unwrap_or(&[])
    }
    [
        (
            "throttleReadBpsDevice",
            "read_bps",
            list(b.throttle_read_bps_device()),
        ),
        (
            "throttleWriteBpsDevice",
            "write_bps",
            list(b.throttle_write_bps_device()),
        ),
        (
            "throttleReadIOPSDevice",
            "read_iops",
            list(b.throttle_read_iops_device()),
        ),
        (
            "throttleWriteIOPSDevice",
            "write_iops",
            list(b.throttle_write_iops_device()),
        ),
    ]
}

/// cpu.shares (v1, 2..262144, default 1024) to cpu.weight (v2, 1..10000,
/// default 100): the quadratic-in-log mapping current runc and crun use,
/// which keeps 2 -> 1, 1024 -> 100 and 262144 -> 10000.
pub(crate) fn shares_to_weight(shares: u64) -> u64 {
    if shares <= 2 {
        return 1;
    }
    if shares >= 262_144 {
        return 10_000;
    }
    let l = (shares as f64).log2();
    let exponent = (l * l + 125.0 * l) / 612.0 - 7.0 / 34.0;
    10f64.powf(exponent).ceil() as u64
}

/// blkio.weight (10..1000) to io.weight (1..10000), linearly.
pub(crate) fn blkio_weight_to_io_weight(weight: u16) -> u64 {
    let w = u64::from(weight.clamp(10, 1000));
    1 + (w - 10) * 9999 / 990
}

/// OCI `memory.swap` is memory+swap; v2 `memory.swap.max` is swap alone.
/// Returns the value for memory.swap.max.
pub(crate) fn swap_only(swap: i64, limit: Option<i64>) -> Result<String, Error> {
    let field = || "linux.resources.memory.swap".to_owned();
    match (swap, limit) {
        (-1, _) => Ok("max".into()),
        (_, None | Some(-1)) => Err(Error::Invalid {
            field: field(),
            reason:
                "a swap limit needs a memory limit on cgroup v2 (memory.swap.max = swap - limit)"
                    .into(),
        }),
        (s, Some(l)) if s < l => Err(Error::Invalid {
            field: field(),
            reason: format!("{s} is below memory.limit {l} (swap counts memory+swap)"),
        }),
        (s, Some(l)) => Ok((s - l).to_string()),
    }
}

/// The key of a `unified` entry names a file in the container's cgroup dir.
pub(crate) fn check_unified_key(key: &str) -> Result<(), Error> {
    let ok =
        !key.is_empty() && !key.contains('/') && key != "." && key != ".." && key.contains('.');
    if ok {
        return Ok(());
    }
    Err(Error::Invalid {
        field: format!("linux.resources.unified.{key}"),
        reason: "must be a cgroup v2 file name like \"memory.high\"".into(),
    })
}

/// Checks what can be checked without touching the host.
pub fn validate(resources: Option<&LinuxResources>) -> Result<(), Error> {
    let Some(r) = resources else { return Ok(()) };
    let invalid = |field: &str, reason: String| {
        Err(Error::Invalid {
            field: format!("linux.resources.{field}"),
            reason,
        })
    };
    if let Some(m) = r.memory() {
        for (name, v) in [
            ("limit", m.limit()),
            ("reservation", m.reservation()),
            ("swap", m.swap()),
            ("kernelTCP", m.kernel_tcp()),
        ] {
            if let Some(v) = v.filter(|v| *v < -1) {
                return invalid(
                    &format!("memory.{name}"),
                    format!("{v}: must be a byte count or -1 (unlimited)"),
                );
            }
        }
        if let (Some(limit), Some(swap)) = (m.limit(), m.swap()) {
            if limit > 0 && swap > 0 && swap < limit {
                return invalid(
                    "memory.swap",
                    format!("{swap} is below memory.limit {limit} (swap counts memory+swap)"),
                );
            }
        }
        if let Some(s) = m.swappiness().filter(|s| *s > 100) {
            return invalid("memory.swappiness", format!("{s}: must be 0..100"));
        }
    }
    if let Some(c) = r.cpu() {
        if let (Some(quota), Some(burst)) = (c.quota(), c.burst()) {
            if quota > 0 && burst > quota as u64 {
                return invalid("cpu.burst", format!("{burst} exceeds cpu.quota {quota}"));
            }
        }
        if let Some(i) = c.idle().filter(|i| !(0..=1).contains(i)) {
            return invalid("cpu.idle", format!("{i}: must be 0 or 1"));
        }
        for (name, list) in [("cpus", c.cpus()), ("mems", c.mems())] {
            if let Some(list) = list {
                check_id_list(list).or_else(|reason| invalid(&format!("cpu.{name}"), reason))?;
            }
        }
    }
    if let Some(limit) = r.pids().map(|p| p.limit()).filter(|l| *l < -1) {
        return invalid(
            "pids.limit",
            format!("{limit}: must be a number of tasks, 0 included, or -1 (unlimited)"),
        );
    }
    if let Some(b) = r.block_io() {
        for (i, d) in b.weight_device().iter().flatten().enumerate() {
            if d.weight().is_none() && d.leaf_weight().is_none() {
                return invalid(
                    &format!("blockIO.weightDevice[{i}]"),
                    "needs weight or leafWeight".into(),
                );
            }
        }
    }
    for (i, l) in r.hugepage_limits().iter().flatten().enumerate() {
        let field = format!("linux.resources.hugepageLimits[{i}]");
        hugetlb_file_size(&field, l.page_size())?;
        if l.limit() < 0 {
            return invalid(
                &format!("hugepageLimits[{i}].limit"),
                format!("{}: must be a byte count", l.limit()),
            );
        }
    }
    for (i, p) in r
        .network()
        .iter()
        .flat_map(|n| n.priorities().iter().flatten())
        .enumerate()
    {
        if p.name().is_empty() || p.name().contains(char::is_whitespace) {
            return invalid(
                &format!("network.priorities[{i}].name"),
                format!("{:?} is not an interface name", p.name()),
            );
        }
    }
    for (device, l) in r.rdma().iter().flatten() {
        if l.hca_handles().is_none() && l.hca_objects().is_none() {
            return invalid(
                &format!("rdma.{device}"),
                "needs hcaHandles or hcaObjects".into(),
            );
        }
        if device.is_empty() || device.contains(char::is_whitespace) {
            return invalid(&format!("rdma.{device}"), "not a device name".into());
        }
    }
    for key in r.unified().iter().flat_map(|u| u.keys()) {
        check_unified_key(key)?;
    }
    parse_rules(r.devices().as_deref().unwrap_or(&[]))?;
    Ok(())
}

/// Checks a cpuset list such as `0-3,7`.
fn check_id_list(list: &str) -> Result<(), String> {
    if list.is_empty() {
        return Ok(());
    }
    for part in list.split(',') {
        let (lo, hi) = part.split_once('-').unwrap_or((part, part));
        match (lo.trim().parse::<u32>(), hi.trim().parse::<u32>()) {
            (Ok(lo), Ok(hi)) if lo <= hi => {}
            _ => return Err(format!("{list:?}: expected a list like \"0-3,7\"")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resources(json: &str) -> LinuxResources {
        serde_json::from_str(json).unwrap()
    }

    fn field_of(e: Error) -> String {
        match e {
            Error::Invalid { field, .. } => field,
            other => panic!("unexpected error {other}"),
        }
    }

    #[test]
    fn shares_to_weight_keeps_anchor_points() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 100);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert!(shares_to_weight(512) < 100 && shares_to_weight(2048) > 100);
    }

    #[test]
    fn blkio_weight_conversion_covers_the_range() {
        assert_eq!(blkio_weight_to_io_weight(10), 1);
        assert_eq!(blkio_weight_to_io_weight(1000), 10_000);
        assert_eq!(blkio_weight_to_io_weight(500), 1 + 490 * 9999 / 990);
    }

    #[test]
    fn swap_conversion() {
        assert_eq!(swap_only(-1, None).unwrap(), "max");
        assert_eq!(swap_only(300, Some(100)).unwrap(), "200");
        assert_eq!(swap_only(100, Some(100)).unwrap(), "0");
        assert!(swap_only(50, Some(100)).is_err());
        assert!(swap_only(50, None).is_err());
        let unset: LinuxMemory = serde_json::from_str(r#"{"limit": 100, "swap": 0}"#).unwrap();
        assert_eq!(memory_swap(&unset), None);
    }

    #[test]
    fn rdma_lines_name_only_the_limits_set() {
        let l: LinuxRdma = serde_json::from_str(r#"{"hcaObjects": 1000}"#).unwrap();
        assert_eq!(rdma_line("mlx4_0", &l), "mlx4_0 hca_object=1000");
        let l: LinuxRdma = serde_json::from_str(r#"{"hcaHandles": 2, "hcaObjects": 9}"#).unwrap();
        assert_eq!(rdma_line("mlx4_0", &l), "mlx4_0 hca_handle=2 hca_object=9");
    }

    #[test]
    fn validate_accepts_the_spec_example() {
        let r = resources(
            r#"{"memory":{"limit":536870912,"reservation":536870912,"swap":536870912,"kernel":-1,"kernelTCP":-1,"swappiness":0,"disableOOMKiller":false},
                "cpu":{"shares":1024,"quota":1000000,"burst":1000000,"period":500000,"realtimeRuntime":950000,"realtimePeriod":1000000,"cpus":"2-3","mems":"0-7","idle":0},
                "pids":{"limit":0},
                "hugepageLimits":[{"pageSize":"2MB","limit":209715200},{"pageSize":"64KB","limit":1000000}],
                "devices":[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":10,"minor":229,"access":"rw"}],
                "unified":{"io.max":"259:0 rbps=2097152"}}"#,
        );
        validate(Some(&r)).unwrap();
    }

    #[test]
    fn validate_names_the_bad_field() {
        let cases = [
            (
                r#"{"memory":{"limit":200,"swap":100}}"#,
                "linux.resources.memory.swap",
            ),
            (
                r#"{"memory":{"swappiness":101}}"#,
                "linux.resources.memory.swappiness",
            ),
            (
                r#"{"cpu":{"quota":1000,"burst":2000}}"#,
                "linux.resources.cpu.burst",
            ),
            (r#"{"cpu":{"cpus":"3-1"}}"#, "linux.resources.cpu.cpus"),
            (r#"{"cpu":{"idle":2}}"#, "linux.resources.cpu.idle"),
            (r#"{"pids":{"limit":-2}}"#, "linux.resources.pids.limit"),
            (
                r#"{"hugepageLimits":[{"pageSize":"2M","limit":1}]}"#,
                "linux.resources.hugepageLimits[0].pageSize",
            ),
            (
                r#"{"blockIO":{"weightDevice":[{"major":8,"minor":0}]}}"#,
                "linux.resources.blockIO.weightDevice[0]",
            ),
            (
                r#"{"unified":{"../memory.max":"1"}}"#,
                "linux.resources.unified.../memory.max",
            ),
            (
                r#"{"devices":[{"allow":true,"type":"c","access":"rwx"}]}"#,
                "linux.resources.devices[0].access",
            ),
            (
                r#"{"devices":[{"allow":true,"major":1,"access":"r"}]}"#,
                "linux.resources.devices[0]",
            ),
            (r#"{"rdma":{"mlx5_1":{}}}"#, "linux.resources.rdma.mlx5_1"),
        ];
        for (json, field) in cases {
            assert_eq!(
                field_of(validate(Some(&resources(json))).unwrap_err()),
                field,
                "{json}"
            );
        }
    }
}
