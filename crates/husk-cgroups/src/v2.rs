//! Writing `linux.resources` to cgroup v2 (unified hierarchy) files.

use std::os::fd::AsFd;
use std::path::Path;

use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxHugepageLimit, LinuxMemory, LinuxRdma};

use crate::devices::{program, DeviceRule};
use crate::fsutil::{exists, parse_u64, read, write};
use crate::resources::{
    blkio_weight_to_io_weight, check_before_update, memory_swap,
    shares_to_weight, swap_only, throttle_lists, write_device_weight,
};
use crate::v1::{cpu_burst, cpu_idle, require_file};
use crate::Error;

fn no_v2_equivalent(field: &str, why: &str) -> Error {
    Error::Unsupported {
        field: field.into(),
        reason: format!("cgroup v2 has no equivalent ({why})"),
    }
}

fn limit_value(v: i64) -> String {
    if v < 0 {
        "max".into()
    } else {
        v.to_string()
    }
}

pub(crate) fn memory(dir: &Path, m: &LinuxMemory, updating: bool) -> Result<(), Error> {
    if m.kernel_tcp().is_some() {
        return Err(no_v2_equivalent(
            "linux.resources.memory.kernelTCP",
            "TCP buffer memory is charged to memory.max",
        ));
    }
    if m.swappiness().is_some() {
        return Err(no_v2_equivalent(
            "linux.resources.memory.swappiness",
            "per-cgroup swappiness is v1 only",
        ));
    }
    if m.disable_oom_killer() == Some(true) {
        return Err(no_v2_equivalent(
            "linux.resources.memory.disableOOMKiller",
            "the OOM killer cannot be disabled per cgroup",
        ));
    }
    if m.use_hierarchy() == Some(false) {
        return Err(no_v2_equivalent(
            "linux.resources.memory.useHierarchy",
            "accounting is always hierarchical",
        ));
    }
    if updating && m.check_before_update() == Some(true) {
        if let Some(limit) = m.limit() {
            check_before_update(limit, dir, "memory.current")?;
        }
    }
    if let Some(swap) = memory_swap(m) {
        let limit = match m.limit() {
            Some(l) => Some(l),
            // `husk update` with only a swap value: relate it to the limit in force.
            None => match parse_u64(
                &dir.join("memory.max"),
                &read("linux.resources.memory.swap", dir, "memory.max")?,
            )? {
                u64::MAX => None,
                l => Some(l as i64),
            },
        };
        let value = swap_only(swap, limit)?;
        // "max" is all a kernel without swap accounting gives anyway.
        if value != "max" || exists(dir, "memory.swap.max") {
            require_file(
                dir,
                "memory.swap.max",
                "linux.resources.memory.swap",
                "swap accounting",
            )?;
            write(
                "linux.resources.memory.swap",
                dir,
                "memory.swap.max",
                &value,
            )?;
        }
    }
    if let Some(v) = m.limit() {
        write(
            "linux.resources.memory.limit",
            dir,
            "memory.max",
            &limit_value(v),
        )?;
    }
    if let Some(v) = m.reservation() {
        write(
            "linux.resources.memory.reservation",
            dir,
            "memory.low",
            &limit_value(v),
        )?;
    }
    Ok(())
}

/// The `cpu` controller part of `linux.resources.cpu` (cpus/mems go to cpuset).
pub(crate) fn cpu(dir: &Path, c: &LinuxCpu) -> Result<(), Error> {
    for (name, value) in [
        ("realtimeRuntime", c.realtime_runtime().filter(|v| *v != 0)),
        (
            "realtimePeriod",
            c.realtime_period().map(|v| v as i64).filter(|v| *v != 0),
        ),
    ] {
        if value.is_some() {
            return Err(no_v2_equivalent(
                &format!("linux.resources.cpu.{name}"),
                "real-time group scheduling is v1 only",
            ));
        }
    }
    if let Some(shares) = c.shares() {
        write(
            "linux.resources.cpu.shares",
            dir,
            "cpu.weight",
            &shares_to_weight(shares).to_string(),
        )?;
    }
    if c.quota().is_some() || c.period().is_some() {
        // cpu.max holds both; keep the half the config leaves out.
        let current = read("linux.resources.cpu.quota", dir, "cpu.max")?;
        let mut parts = current.split_whitespace();
        let (old_quota, old_period) = (
            parts.next().unwrap_or("max").to_owned(),
            parts.next().unwrap_or("100000").to_owned(),
        );
        let quota = c.quota().map_or(old_quota, limit_value);
        let period = c.period().map_or(old_period, |p| p.to_string());
        let field = if c.quota().is_some() {
            "linux.resources.cpu.quota"
        } else {
            "linux.resources.cpu.period"
        };
        write(field, dir, "cpu.max", &format!("{quota} {period}"))?;
    }
    cpu_burst(dir, c, "cpu.max.burst")?;
    cpu_idle(dir, c)
}

pub(crate) fn io(dir: &Path, b: &LinuxBlockIo) -> Result<(), Error> {
    // 0 means "not set", as on v1 (Docker sends it when --blkio-weight is not given).
    if b.leaf_weight().is_some_and(|w| w != 0)
        || b.weight_device()
            .iter()
            .flatten()
            .any(|d| d.leaf_weight().is_some())
    {
        return Err(no_v2_equivalent(
            "linux.resources.blockIO.leafWeight",
            "leaf weights were a CFQ feature",
        ));
    }
    // BFQ takes the v1 scale as is; io.weight (cost model) needs a conversion.
    let bfq = exists(dir, "io.bfq.weight");
    let (file, convert): (&str, fn(u16) -> u64) = if bfq {
        ("io.bfq.weight", u64::from)
    } else {
        ("io.weight", blkio_weight_to_io_weight)
    };
    if let Some(w) = b.weight().filter(|&w| w != 0) {
        require_file(
            dir,
            file,
            "linux.resources.blockIO.weight",
            "proportional I/O weight (io.weight or BFQ)",
        )?;
        let value = if bfq {
            convert(w).to_string()
        } else {
            format!("default {}", convert(w))
        };
        write("linux.resources.blockIO.weight", dir, file, &value)?;
    }
    for (i, d) in b.weight_device().iter().flatten().enumerate() {
        if let Some(w) = d.weight() {
            let field = format!("linux.resources.blockIO.weightDevice[{i}].weight");
            require_file(
                dir,
                file,
                &field,
                "proportional I/O weight (io.weight or BFQ)",
            )?;
            write_device_weight(&field, dir, file, d, convert(w))?;
        }
    }
    for (name, stem, list) in throttle_lists(b) {
        let key = match stem {
            "read_bps" => "rbps",
            "write_bps" => "wbps",
            "read_iops" => "riops",
            _ => "wiops",
        };
        for (i, t) in list.iter().enumerate() {
            // v1 removes a rule written with rate 0; in io.max that is "max".
            let rate = if t.rate() == 0 {
                "max".to_owned()
            } else {
                t.rate().to_string()
            };
            write(
                &format!("linux.resources.blockIO.{name}[{i}]"),
                dir,
                "io.max",
                &format!("{}:{} {key}={rate}", t.major(), t.minor()),
            )?;
        }
    }
    Ok(())
}

pub(crate) fn hugetlb(dir: &Path, limits: &[LinuxHugepageLimit]) -> Result<(), Error> {
    crate::v1::hugetlb_limits(dir, limits, "max")
}

pub(crate) fn rdma<'a>(
    dir: &Path,
    limits: impl Iterator<Item = (&'a String, &'a LinuxRdma)>,
) -> Result<(), Error> {
    crate::v1::rdma(dir, limits)
}

/// Replaces the device program of `dir` with one built from `rules`: the new
/// one is attached before the old ones are detached, so there is no moment
/// without a filter.
pub(crate) fn devices(dir: &Path, rules: &[DeviceRule]) -> Result<(), Error> {
    use husk_sys::bpf;
    let bpf_err = |op, source| Error::Bpf {
        op,
        path: dir.to_owned(),
        source,
    };
    let cgroup = crate::open_dir(dir, rustix::fs::OFlags::RDONLY)?;
    let old: Vec<u32> =
        bpf::query_cgroup_device(cgroup.as_fd()).map_err(|e| bpf_err("BPF_PROG_QUERY", e))?;
    let prog = bpf::load_cgroup_device_program(&program(rules), c"Apache-2.0")
        .map_err(|e| bpf_err("BPF_PROG_LOAD", e))?;
    bpf::attach_cgroup_device(cgroup.as_fd(), prog.as_fd(), bpf::BPF_F_ALLOW_MULTI)
        .map_err(|e| bpf_err("BPF_PROG_ATTACH", e))?;
    for id in old {
        match bpf::program_by_id(id) {
            Ok(old_prog) => bpf::detach_cgroup_device(cgroup.as_fd(), old_prog.as_fd())
                .map_err(|e| bpf_err("BPF_PROG_DETACH", e))?,
            // Detached and freed meanwhile: nothing left to do.
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            Err(e) => return Err(bpf_err("BPF_PROG_GET_FD_BY_ID", e)),
        }
    }
    Ok(())
}

pub(crate) fn write_unified(dir: &Path, key: &str, value: &str) -> Result<(), Error> {
    let field = format!("linux.resources.unified.{key}");
    if !exists(dir, key) {
        return Err(Error::Unsupported {
            field,
            reason: format!("{} does not exist", dir.join(key).display()),
        });
    }
    write(&field, dir, key, value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::path::PathBuf;
    use std::process::{Command, Stdio};

    /// A cgroup directory made directly in the unified hierarchy (the device
    /// program works there on hybrid hosts too); removed on drop.
    struct TestDir(PathBuf);

    impl Drop for TestDir {
        fn drop(&mut self) {
            let _ = std::fs::write(self.0.join("cgroup.kill"), "1");
            for _ in 0..500 {
                if std::fs::remove_dir(&self.0).is_ok() {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            eprintln!("could not remove {}", self.0.display());
        }
    }

    fn rules(json: &str) -> Vec<DeviceRule> {
        crate::devices::parse_rules(
            &serde_json::from_str::<Vec<oci_spec::runtime::LinuxDeviceCgroup>>(json).unwrap(),
        )
        .unwrap()
    }

    /// Which of /dev/null and /dev/zero a shell inside `dir` may open.
    fn openable(dir: &Path) -> String {
        // stderr is opened by the test, outside the filter.
        let script = "read _; (exec 3</dev/null) && echo null; (exec 3</dev/zero) && echo zero";
        let mut child = Command::new("/bin/sh")
            .args(["-c", script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn /bin/sh");
        std::fs::write(dir.join("cgroup.procs"), child.id().to_string())
            .expect("move the shell into the cgroup");
        child.stdin.take().unwrap().write_all(b"go\n").unwrap();
        let mut out = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        child.wait().unwrap();
        out.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn device_program_filters_opens_and_update_replaces_it() {
        let Some(root) = crate::host::detect().unwrap().unified else {
            eprintln!("no cgroup2 mount: the device program cannot be tested on this host");
            return;
        };
        let dir = TestDir(root.join(format!("husk-test-bpf-{}", std::process::id())));
        std::fs::create_dir(&dir.0).unwrap();
        assert_eq!(openable(&dir.0), "null zero");

        devices(&dir.0, &rules(r#"[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":3,"access":"rw"}]"#)).unwrap();
        assert_eq!(openable(&dir.0), "null");

        devices(&dir.0, &rules(r#"[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":1,"access":"r"}]"#)).unwrap();
        assert_eq!(openable(&dir.0), "null zero");
        let cgroup = crate::open_dir(&dir.0, rustix::fs::OFlags::RDONLY).unwrap();
        assert_eq!(
            husk_sys::bpf::query_cgroup_device(cgroup.as_fd())
                .unwrap()
                .len(),
            1,
            "the old program must be detached"
        );
    }
}
