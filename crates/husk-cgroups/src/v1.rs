//! Writing `linux.resources` to cgroup v1 controller files.

use std::path::Path;

use oci_spec::runtime::{
    LinuxBlockIo, LinuxCpu, LinuxHugepageLimit, LinuxMemory, LinuxNetwork, LinuxRdma,
};

use crate::devices::DeviceRule;
use crate::fsutil::{exists, parse_u64, read, write};
use crate::resources::{
    check_before_update, hugetlb_file_size, memory_swap, rdma_line, throttle_lists,
    write_device_weight,
   
};
use crate::Error;

pub(crate) fn memory(dir: &Path, m: &LinuxMemory, updating: bool) -> Result<(), Error> {
    if updating && m.check_before_update() == Some(true) {
        if let Some(limit) = m.limit() {
            check_before_update(limit, dir, "memory.usage_in_bytes")?;
        }
    }
    const MEMSW: &str = "memory.memsw.limit_in_bytes";
    let swap = match memory_swap(m) {
        // -1 asks for no swap limit, which is all a kernel without swap
        // accounting can give.
        Some(-1) if !exists(dir, MEMSW) => None,
        Some(_) if !exists(dir, MEMSW) => {
            return Err(Error::Unsupported {
                field: "linux.resources.memory.swap".into(),
                reason: format!(
                    "{} does not exist: swap accounting is off (boot with swapaccount=1)",
                    dir.join(MEMSW).display()
                ),
            })
        }
        other => other,
    };
    // memory.limit_in_bytes may never exceed memory.memsw.limit_in_bytes:
    // when the swap limit grows it has to be written first.
    let swap_grows = match swap {
        Some(-1) => true,
        Some(swap) => {
            let current = read("linux.resources.memory.swap", dir, MEMSW)?;
            parse_u64(&dir.join(MEMSW), &current)? < swap as u64
        }
        None => false,
    };
    let write_swap = || match swap {
        Some(swap) => write("linux.resources.memory.swap", dir, MEMSW, &swap.to_string()),
        None => Ok(()),
    };
    if swap_grows {
        write_swap()?;
    }
    if let Some(limit) = m.limit() {
        write(
            "linux.resources.memory.limit",
            dir,
            "memory.limit_in_bytes",
            &limit.to_string(),
        )?;
    }
    if !swap_grows {
        write_swap()?;
    }
    if let Some(v) = m.reservation() {
        write(
            "linux.resources.memory.reservation",
            dir,
            "memory.soft_limit_in_bytes",
            &v.to_string(),
        )?;
    }
    if let Some(v) = m.kernel_tcp() {
        write(
            "linux.resources.memory.kernelTCP",
            dir,
            "memory.kmem.tcp.limit_in_bytes",
            &v.to_string(),
        )?;
    }
    if let Some(v) = m.swappiness() {
        write(
            "linux.resources.memory.swappiness",
            dir,
            "memory.swappiness",
            &v.to_string(),
        )?;
    }
    if let Some(v) = m.disable_oom_killer() {
        write(
            "linux.resources.memory.disableOOMKiller",
            dir,
            "memory.oom_control",
            if v { "1" } else { "0" },
        )?;
    }
    if let Some(v) = m.use_hierarchy() {
        write(
            "linux.resources.memory.useHierarchy",
            dir,
            "memory.use_hierarchy",
            if v { "1" } else { "0" },
        )?;
    }
    Ok(())
}

/// The `cpu` controller part of `linux.resources.cpu` (cpus/mems go to cpuset).
pub(crate) fn cpu(dir: &Path, c: &LinuxCpu) -> Result<(), Error> {
    if let Some(v) = c.shares() {
        write(
            "linux.resources.cpu.shares",
            dir,
            "cpu.shares",
            &v.to_string(),
        )?;
    }
    if let Some(v) = c.period() {
        write(
            "linux.resources.cpu.period",
            dir,
            "cpu.cfs_period_us",
            &v.to_string(),
        )?;
    }
    if let Some(v) = c.quota() {
        write(
            "linux.resources.cpu.quota",
            dir,
            "cpu.cfs_quota_us",
            &v.to_string(),
        )?;
    }
    cpu_burst(dir, c, "cpu.cfs_burst_us")?;
    // The runtime may not exceed the period, so the period goes first.
    if let Some(v) = c.realtime_period() {
        require_file(
            dir,
            "cpu.rt_period_us",
            "linux.resources.cpu.realtimePeriod",
            "real-time group scheduling",
        )?;
        write(
            "linux.resources.cpu.realtimePeriod",
            dir,
            "cpu.rt_period_us",
            &v.to_string(),
        )?;
    }
    if let Some(v) = c.realtime_runtime() {
        require_file(
            dir,
            "cpu.rt_runtime_us",
            "linux.resources.cpu.realtimeRuntime",
            "real-time group scheduling",
        )?;
        write(
            "linux.resources.cpu.realtimeRuntime",
            dir,
            "cpu.rt_runtime_us",
            &v.to_string(),
        )?;
    }
    cpu_idle(dir, c)
}

pub(crate) fn cpuset(dir: &Path, c: &LinuxCpu) -> Result<(), Error> {
    if let Some(v) = c.cpus() {
        write("linux.resources.cpu.cpus", dir, "cpuset.cpus", v)?;
    }
    if let Some(v) = c.mems() {
        write("linux.resources.cpu.mems", dir, "cpuset.mems", v)?;
    }
    Ok(())
}

pub(crate) fn pids(dir: &Path, limit: i64) -> Result<(), Error> {
    let value = if limit < 0 {
        "max".to_owned()
    } else {
        limit.to_string()
    };
    write("linux.resources.pids.limit", dir, "pids.max", &value)
}

pub(crate) fn blkio(dir: &Path, b: &LinuxBlockIo) -> Result<(), Error> {
    // Without CFQ (gone since 5.0) the proportional weight lives in BFQ's files.
    let weight_prefix = if exists(dir, "blkio.weight") {
        "blkio"
    } else {
        "blkio.bfq"
    };
    // 0 means "not set" (runc skips it; Docker sends it whenever --blkio-weight is not
    // given), and the kernel refuses it.
    if let Some(v) = b.weight().filter(|&w| w != 0) {
        let file = format!("{weight_prefix}.weight");
        require_file(
            dir,
            &file,
            "linux.resources.blockIO.weight",
            "proportional I/O weight (CFQ or BFQ)",
        )?;
        write("linux.resources.blockIO.weight", dir, &file, &v.to_string())?;
    }
    if let Some(v) = b.leaf_weight().filter(|&w| w != 0) {
        require_file(
            dir,
            "blkio.leaf_weight",
            "linux.resources.blockIO.leafWeight",
            "leaf weights (CFQ)",
        )?;
        write(
            "linux.resources.blockIO.leafWeight",
            dir,
            "blkio.leaf_weight",
            &v.to_string(),
        )?;
    }
    for (i, d) in b.weight_device().iter().flatten().enumerate() {
        if let Some(w) = d.weight() {
            let field = format!("linux.resources.blockIO.weightDevice[{i}].weight");
            let file = format!("{weight_prefix}.weight_device");
            require_file(dir, &file, &field, "per-device I/O weight (CFQ or BFQ)")?;
            write_device_weight(&field, dir, &file, d, w.into())?;
        }
        if let Some(w) = d.leaf_weight() {
            let field = format!("linux.resources.blockIO.weightDevice[{i}].leafWeight");
            require_file(
                dir,
                "blkio.leaf_weight_device",
                &field,
                "leaf weights (CFQ)",
            )?;
            write(
                &field,
                dir,
                "blkio.leaf_weight_device",
                &format!("{}:{} {w}", d.major(), d.minor()),
            )?;
        }
    }
    for (name, file, list) in throttle_lists(b) {
        let file = format!("blkio.throttle.{file}_device");
        for (i, t) in list.iter().enumerate() {
            write(
                &format!("linux.resources.blockIO.{name}[{i}]"),
                dir,
                &file,
                &format!("{}:{} {}", t.major(), t.minor(), t.rate()),
            )?;
        }
    }
    Ok(())
}

/// `cpu.burst`, in `file` (`cpu.cfs_burst_us` on v1, `cpu.max.burst` on v2).
pub(crate) fn cpu_burst(dir: &Path, c: &LinuxCpu, file: &str) -> Result<(), Error> {
    if let Some(v) = c.burst() {
        require_file(dir, file, "linux.resources.cpu.burst", "CFS bandwidth burst")?;
        write("linux.resources.cpu.burst", dir, file, &v.to_string())?;
    }
    Ok(())
}

/// `cpu.idle`, the same file in v1 (5.15+) and v2.
pub(crate) fn cpu_idle(dir: &Path, c: &LinuxCpu) -> Result<(), Error> {
    if let Some(v) = c.idle() {
        require_file(dir, "cpu.idle", "linux.resources.cpu.idle", "SCHED_IDLE groups")?;
        write("linux.resources.cpu.idle", dir, "cpu.idle", &v.to_string())?;
    }
    Ok(())
}

pub(crate) fn hugetlb(dir: &Path, limits: &[LinuxHugepageLimit]) -> Result<(), Error> {
    hugetlb_limits(dir, limits, "limit_in_bytes")
}

/// Hugepage limits, in the files `hugetlb.<size>.<limit_file>` and, when the
/// kernel has reservation accounting, `hugetlb.<size>.rsvd.<limit_file>`
/// (v1 and v2 differ only in `limit_file`).
pub(crate) fn hugetlb_limits(dir: &Path, limits: &[LinuxHugepageLimit], limit_file: &str) -> Result<(), Error> {
    for (i, l) in limits.iter().enumerate() {
        let field = format!("linux.resources.hugepageLimits[{i}]");
        let size = hugetlb_file_size(&field, l.page_size())?;
        let usage_file = format!("hugetlb.{size}.{limit_file}");
        if !exists(dir, &usage_file) {
            return Err(unsupported_page_size(&field, l.page_size(), dir, &usage_file));
        }
        // Reservation limits are the better ones (spec), but fault-time usage
        // must be capped too or pages faulted without a reservation escape.
        let rsvd_file = format!("hugetlb.{size}.rsvd.{limit_file}");
        if exists(dir, &rsvd_file) {
            write(&format!("{field}.limit"), dir, &rsvd_file, &l.limit().to_string())?;
        }
        write(&format!("{field}.limit"), dir, &usage_file, &l.limit().to_string())?;
    }
    Ok(())
}

fn unsupported_page_size(field: &str, page_size: &str, dir: &Path, file: &str) -> Error {
    Error::Unsupported {
        field: format!("{field}.pageSize"),
        reason: format!(
            "huge page size {page_size:?} is not available ({} does not exist)",
            dir.join(file).display()
        ),
    }
}

pub(crate) fn net_cls(dir: &Path, class_id: u32) -> Result<(), Error> {
    write(
        "linux.resources.network.classID",
        dir,
        "net_cls.classid",
        &class_id.to_string(),
    )
}

pub(crate) fn net_prio(dir: &Path, n: &LinuxNetwork) -> Result<(), Error> {
    for (i, p) in n.priorities().iter().flatten().enumerate() {
        write(
            &format!("linux.resources.network.priorities[{i}]"),
            dir,
            "net_prio.ifpriomap",
            &format!("{} {}", p.name(), p.priority()),
        )?;
    }
    Ok(())
}

pub(crate) fn rdma<'a>(
    dir: &Path,
    limits: impl Iterator<Item = (&'a String, &'a LinuxRdma)>,
) -> Result<(), Error> {
    for (device, l) in limits {
        write(
            &format!("linux.resources.rdma.{device}"),
            dir,
            "rdma.max",
            &rdma_line(device, l),
        )?;
    }
    Ok(())
}

/// Writes the rules in order; each one refines what the previous left.
pub(crate) fn devices(dir: &Path, rules: &[DeviceRule]) -> Result<(), Error> {
    for (i, rule) in rules.iter().enumerate() {
        let file = if rule.allow {
            "devices.allow"
        } else {
            "devices.deny"
        };
        write(
            &format!("linux.resources.devices[{i}]"),
            dir,
            file,
            &rule.v1_line(),
        )?;
    }
    Ok(())
}

pub(crate) fn require_file(
    dir: &Path,
    file: &str,
    field: &str,
    feature: &str,
) -> Result<(), Error> {
    if exists(dir, file) {
        return Ok(());
    }
    Err(Error::Unsupported {
        field: field.into(),
        reason: format!(
            "the kernel lacks {feature}: {} does not exist",
            dir.join(file).display()
        ),
    })
}
