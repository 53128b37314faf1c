//! Tests against the real kernel (run as root). Each test works in its own
//! cgroup `/husk-test-<pid>-<n>`, which a guard kills and removes even when
//! the test fails; no other cgroup is modified, except that the hugetlb test
//! enables hugetlb in the unified root and restores it afterwards.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use husk_cgroups::{Cgroup, Error, Mode};
use oci_spec::runtime::LinuxResources;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn unique_path() -> PathBuf {
    PathBuf::from(format!(
        "/husk-test-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    ))
}

fn resources(json: &str) -> LinuxResources {
    serde_json::from_str(json).expect("test resources parse")
}

/// Owns a test cgroup: kills what is left in it and removes it on drop.
struct Guard(Cgroup);

impl Guard {
    fn create(json: &str) -> Guard {
        Guard(
            Cgroup::create(
                Some(&unique_path()),
                "unused",
                Some(&resources(json)),
                false,
            )
            .expect("create test cgroup"),
        )
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill_all(libc::SIGKILL);
        if let Err(e) = self.0.destroy() {
            eprintln!("cleanup of test cgroup failed: {e}");
        }
    }
}

impl std::ops::Deref for Guard {
    type Target = Cgroup;
    fn deref(&self) -> &Cgroup {
        &self.0
    }
}

/// A shell that waits on stdin before running `script`, so that it can be
/// moved into a cgroup first and everything it starts happens inside.
struct Gated {
    child: Child,
    gate: Option<ChildStdin>,
}

impl Gated {
    fn spawn(script: &str) -> Gated {
        let mut child = Command::new("/bin/sh")
            .arg("-c")
            .arg(format!("read _; {script}"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn /bin/sh");
        let gate = child.stdin.take();
        Gated { child, gate }
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    fn release(&mut self) {
        let mut gate = self.gate.take().expect("released once");
        gate.write_all(b"go\n").expect("open the gate");
    }

    /// Waits for the shell; returns (exit code or None if killed by a signal, signal, stdout).
    fn finish(&mut self) -> (Option<i32>, Option<i32>, String) {
        let mut out = String::new();
        self.child
            .stdout
            .take()
            .expect("stdout")
            .read_to_string(&mut out)
            .expect("read stdout");
        let status = self.child.wait().expect("wait");
        use std::os::unix::process::ExitStatusExt;
        (status.code(), status.signal(), out)
    }
}

impl Drop for Gated {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The content of a control file, from the v1 hierarchy holding `controller`
/// or from the unified dir.
fn control_file(cg: &Cgroup, controller: &str, v1_file: &str, v2_file: &str) -> String {
    let paths = cg.paths();
    let v1 = paths
        .iter()
        .find(|(names, _)| names.split(',').any(|n| n == controller));
    let path = match v1 {
        Some((_, dir)) => dir.join(v1_file),
        None => paths
            .iter()
            .find(|(names, _)| names.is_empty())
            .expect("unified dir")
            .1
            .join(v2_file),
    };
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .trim()
        .to_owned()
}

fn all_dirs_exist(paths: &[(String, PathBuf)]) -> bool {
    paths.iter().all(|(_, p)| p.exists())
}

fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn create_applies_resources_and_destroy_removes_everything() {
    let cg = Guard::create(
        r#"{"memory": {"limit": 67108864, "reservation": 33554432},
            "cpu": {"shares": 512, "quota": 50000, "period": 100000, "burst": 10000, "cpus": "0"},
            "pids": {"limit": 42},
            "devices": [{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}]}"#,
    );
    assert_eq!(
        control_file(&cg, "memory", "memory.limit_in_bytes", "memory.max"),
        "67108864"
    );
    assert_eq!(
        control_file(&cg, "memory", "memory.soft_limit_in_bytes", "memory.low"),
        "33554432"
    );
    assert_eq!(control_file(&cg, "pids", "pids.max", "pids.max"), "42");
    assert_eq!(
        control_file(&cg, "cpuset", "cpuset.cpus", "cpuset.cpus"),
        "0"
    );
    match cg.mode() {
        Mode::V2 => {
            assert_eq!(control_file(&cg, "cpu", "", "cpu.max"), "50000 100000");
            assert_eq!(control_file(&cg, "cpu", "", "cpu.weight"), "59");
            assert_eq!(control_file(&cg, "cpu", "", "cpu.max.burst"), "10000");
        }
        _ => {
            assert_eq!(control_file(&cg, "cpu", "cpu.cfs_quota_us", ""), "50000");
            assert_eq!(control_file(&cg, "cpu", "cpu.shares", ""), "512");
            assert_eq!(control_file(&cg, "cpu", "cpu.cfs_burst_us", ""), "10000");
            assert_eq!(
                control_file(&cg, "devices", "devices.list", ""),
                "c 1:3 rwm"
            );
        }
    }
    let paths = cg.paths();
    assert!(all_dirs_exist(&paths));
    // The state survives a trip through the state dir.
    let reloaded: Cgroup = serde_json::from_str(&serde_json::to_string(&cg.0).unwrap()).unwrap();
    reloaded.destroy().unwrap();
    assert!(
        paths.iter().all(|(_, p)| !p.exists()),
        "destroy left {paths:?}"
    );
}

#[test]
fn update_changes_limits_and_check_before_update_refuses_too_low() {
    let cg = Guard::create(
        r#"{"pids": {"limit": 10}, "memory": {"limit": 67108864, "swap": 67108864}}"#,
    );
    // Both grow past the old memory+swap limit: v1 needs the swap limit first.
    cg.update(&resources(
        r#"{"pids": {"limit": -1}, "memory": {"limit": 134217728, "swap": 268435456}}"#,
    ))
    .unwrap();
    assert_eq!(control_file(&cg, "pids", "pids.max", "pids.max"), "max");
    assert_eq!(
        control_file(&cg, "memory", "memory.limit_in_bytes", "memory.max"),
        "134217728"
    );
    let swap = control_file(
        &cg,
        "memory",
        "memory.memsw.limit_in_bytes",
        "memory.swap.max",
    );
    let expected = if cg.mode() == Mode::V2 {
        "134217728"
    } else {
        "268435456"
    };
    assert_eq!(swap, expected, "v2 stores swap alone, v1 memory+swap");

    let mut hog = Gated::spawn("x=$(head -c 8000000 /dev/zero | tr '\\0' a); echo ready; read _");
    cg.add_process(hog.pid()).unwrap();
    hog.release();
    let mut line = [0u8; 6];
    hog.child
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut line)
        .unwrap();
    let err = cg
        .update(&resources(
            r#"{"memory": {"limit": 4096, "checkBeforeUpdate": true}}"#,
        ))
        .unwrap_err();
    assert!(
        matches!(&err, Error::Invalid { field, .. } if field == "linux.resources.memory.limit"),
        "{err}"
    );
    assert_eq!(
        control_file(&cg, "memory", "memory.limit_in_bytes", "memory.max"),
        "134217728"
    );
}

#[test]
fn pids_limit_stops_a_fork_bomb() {
    let cg = Guard::create(r#"{"pids": {"limit": 8}}"#);
    // Every child is a subshell that forks sleep: two tasks per round.
    let mut bomb = Gated::spawn(
        "i=0; while [ $i -lt 40 ]; do (sleep 30) >/dev/null & i=$((i+1)); done; echo done",
    );
    cg.add_process(bomb.pid()).unwrap();
    bomb.release();
    // dash gives up at the first refused fork ("Cannot fork").
    let (code, _, out) = bomb.finish();
    assert!(
        code.is_some_and(|c| c != 0) && out.is_empty(),
        "the bomb ran to its end: {code:?} {out:?}"
    );
    let pids = cg.pids().unwrap();
    assert!(
        (7..=8).contains(&pids.len()),
        "pids.max must cap the cgroup at 8, the leftover subshells fill it: {pids:?}"
    );
    let events = control_file(&cg, "pids", "pids.events", "pids.events");
    assert_ne!(
        events, "max 0",
        "the kernel counted refused forks: {events}"
    );
    let stats = cg.stats().unwrap();
    assert_eq!(stats.pids.limit, 8);
    assert_eq!(stats.pids.current as usize, pids.len());
    cg.kill_all(libc::SIGKILL).unwrap();
    wait_until("the cgroup is empty", || cg.pids().unwrap().is_empty());
}

#[test]
fn pids_limit_zero_is_a_real_limit() {
    let cg = Guard::create(r#"{"pids": {"limit": 0}}"#);
    assert_eq!(control_file(&cg, "pids", "pids.max", "pids.max"), "0");
    assert!(
        cg.unified_dir().is_none(),
        "clone into a pids.max=0 cgroup would fail"
    );
    let mut shell = Gated::spawn("(true) && echo forked; echo end");
    cg.add_process(shell.pid()).unwrap();
    shell.release();
    let (_, _, out) = shell.finish();
    assert!(!out.contains("forked"), "fork must fail: {out:?}");
}

#[test]
fn memory_hog_is_oom_killed_and_counted() {
    let cg = Guard::create(r#"{"memory": {"limit": 33554432, "swap": 33554432}}"#);
    assert_eq!(cg.oom_state().unwrap().kills, 0);
    let mut hog = Gated::spawn("x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived");
    cg.add_process(hog.pid()).unwrap();
    hog.release();
    let (_, signal, out) = hog.finish();
    assert_eq!(signal, Some(libc::SIGKILL), "stdout {out:?}");
    assert!(cg.oom_state().unwrap().kills >= 1);
    let memory = cg.stats().unwrap().memory;
    // The peak reached the limit (failcnt stays 0 on current kernels).
    assert!(memory.usage.max >= 30 << 20, "{memory:?}");
}

#[test]
fn freeze_thaw_and_kill_all() {
    let cg = Guard::create("{}");
    let mut sleeper = Gated::spawn("sleep 300 & sleep 300 & wait");
    cg.add_process(sleeper.pid()).unwrap();
    sleeper.release();
    wait_until("both sleeps run", || cg.pids().unwrap().len() == 3);
    assert!(!cg.is_frozen().unwrap());
    cg.freeze().unwrap();
    assert!(cg.is_frozen().unwrap());
    cg.thaw().unwrap();
    assert!(!cg.is_frozen().unwrap());
    cg.kill_all(libc::SIGTERM).unwrap();
    let (_, signal, _) = sleeper.finish();
    assert_eq!(signal, Some(libc::SIGTERM));
    wait_until("the sleeps are gone", || cg.pids().unwrap().is_empty());
}

#[test]
fn stats_report_cpu_and_memory_usage() {
    let cg = Guard::create(r#"{"memory": {"limit": 268435456}}"#);
    let mut busy = Gated::spawn("i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done; x=$(head -c 4000000 /dev/zero | tr '\\0' a); echo ok; read _");
    cg.add_process(busy.pid()).unwrap();
    busy.release();
    let mut line = [0u8; 3];
    busy.child
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut line)
        .unwrap();
    let stats = cg.stats().unwrap();
    assert!(stats.cpu.usage.total > 0, "{stats:?}");
    assert!(
        stats.cpu.usage.user + stats.cpu.usage.kernel > 0,
        "{stats:?}"
    );
    assert!(stats.memory.usage.usage > 0, "{stats:?}");
    assert_eq!(stats.memory.usage.limit, 268435456);
    assert_eq!(stats.pids.current, 1);
    let json = serde_json::to_value(&stats).unwrap();
    assert!(json["memory"]["raw"]
        .as_object()
        .is_some_and(|raw| !raw.is_empty()));
}

#[test]
fn rejected_and_unsupported_values_name_field_and_file_and_roll_back() {
    let path = unique_path();
    let err = Cgroup::create(
        Some(&path),
        "unused",
        Some(&resources(
            r#"{"pids": {"limit": 5}, "cpu": {"cpus": "4095"}}"#,
        )),
        false,
    )
    .unwrap_err();
    match &err {
        Error::Write {
            field,
            path: file,
            value,
            ..
        } => {
            assert_eq!(field, "linux.resources.cpu.cpus");
            assert!(file.ends_with("cpuset.cpus"), "{}", file.display());
            assert_eq!(value, "4095");
        }
        other => panic!("unexpected {other}"),
    }
    let leftovers: Vec<PathBuf> = ["pids", "cpuset", "memory", "unified", ""]
        .iter()
        .map(|h| {
            Path::new("/sys/fs/cgroup")
                .join(h)
                .join(path.strip_prefix("/").unwrap())
        })
        .filter(|p| p.exists())
        .collect();
    assert!(
        leftovers.is_empty(),
        "create did not roll back: {leftovers:?}"
    );

    let mode = Guard::create("{}").mode();
    let unsupported: &[(&str, &str)] = match mode {
        Mode::V2 => &[
            (
                r#"{"network": {"classID": 1}}"#,
                "linux.resources.network.classID",
            ),
            (
                r#"{"memory": {"swappiness": 10}}"#,
                "linux.resources.memory.swappiness",
            ),
            (
                r#"{"cpu": {"realtimeRuntime": 1000}}"#,
                "linux.resources.cpu.realtimeRuntime",
            ),
        ],
        _ => &[
            (
                r#"{"unified": {"memory.high": "1000000"}}"#,
                "linux.resources.unified.memory.high",
            ),
            (
                r#"{"hugepageLimits": [{"pageSize": "64KB", "limit": 0}]}"#,
                "linux.resources.hugepageLimits[0].pageSize",
            ),
        ],
    };
    for (json, expected) in unsupported {
        match Cgroup::create(
            Some(&unique_path()),
            "unused",
            Some(&resources(json)),
            false,
        ) {
            Err(Error::Unsupported { field, .. }) => assert_eq!(&field, expected),
            Err(other) => panic!("{json}: unexpected {other}"),
            Ok(cg) => {
                cg.destroy().unwrap();
                panic!("{json}: accepted");
            }
        }
    }
}

#[test]
fn existing_cgroup_with_processes_is_refused() {
    let cg = Guard::create("{}");
    let sleeper = Gated::spawn("sleep 300");
    cg.add_process(sleeper.pid()).unwrap();
    let path = cg.paths()[0].1.clone();
    let hierarchy_root = cg.paths()[0].1.ancestors().nth(1).unwrap().to_owned();
    let relative = Path::new("/").join(path.strip_prefix(hierarchy_root).unwrap());
    let err = Cgroup::create(Some(&relative), "unused", None, false).unwrap_err();
    assert!(matches!(err, Error::Unfit { .. }), "{err}");
    assert!(
        path.exists(),
        "a refused create must not remove a cgroup it did not make"
    );
}

/// Hugetlb is what this hybrid host has in the unified hierarchy: the limit
/// goes through v2 files while the other controllers stay on v1.
#[test]
fn hugepage_limits_use_rsvd_files() {
    let unified_root = Path::new(if Path::new("/sys/fs/cgroup/unified").exists() {
        "/sys/fs/cgroup/unified"
    } else {
        "/sys/fs/cgroup"
    });
    let before =
        std::fs::read_to_string(unified_root.join("cgroup.subtree_control")).unwrap_or_default();
    struct Restore<'a>(&'a Path, bool);
    impl Drop for Restore<'_> {
        fn drop(&mut self) {
            if self.1 {
                return;
            }
            // Refused (EBUSY) while concurrent tests still have cgroups below.
            let deadline = Instant::now() + Duration::from_secs(20);
            while let Err(e) = std::fs::write(self.0.join("cgroup.subtree_control"), "-hugetlb") {
                if Instant::now() > deadline {
                    eprintln!(
                        "could not disable hugetlb in {} again: {e}",
                        self.0.display()
                    );
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
    let _restore = Restore(
        unified_root,
        before.split_whitespace().any(|c| c == "hugetlb"),
    );
    let cg = Guard::create(r#"{"hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}]}"#);
    assert_eq!(
        control_file(
            &cg,
            "hugetlb",
            "hugetlb.2MB.limit_in_bytes",
            "hugetlb.2MB.max"
        ),
        "4194304"
    );
    let rsvd = control_file(
        &cg,
        "hugetlb",
        "hugetlb.2MB.rsvd.limit_in_bytes",
        "hugetlb.2MB.rsvd.max",
    );
    assert_eq!(rsvd, "4194304");
    assert!(cg.stats().unwrap().hugetlb.contains_key("2MB"));
    drop(cg);
}

#[test]
fn delegation_chowns_only_the_delegatable_files_and_only_on_v2() {
    use std::os::unix::fs::MetadataExt;
    let cg = Guard::create(r#"{"pids": {"limit": 100}}"#);
    cg.delegate_to(4242, 4343).unwrap();
    let owner = |p: &Path| std::fs::metadata(p).map(|m| (m.uid(), m.gid())).unwrap();
    for (controllers, dir) in cg.paths() {
        if cg.mode() == Mode::V2 {
            assert_eq!(owner(&dir), (4242, 4343));
            assert_eq!(owner(&dir.join("cgroup.procs")), (4242, 4343));
            assert_eq!(owner(&dir.join("pids.max")), (0, 0), "limits stay root's");
        } else {
            assert_eq!(
                owner(&dir),
                (0, 0),
                "{controllers}: v1 delegation is not secure, nothing may change"
            );
        }
    }
}

/// A whole disk (throttling refuses partitions) as (major, minor).
fn some_disk() -> Option<(u32, u32)> {
    let partitions = std::fs::read_to_string("/proc/partitions").ok()?;
    partitions.lines().skip(2).find_map(|line| {
        let mut f = line.split_whitespace();
        let (major, minor) = (f.next()?.parse().ok()?, f.next()?.parse().ok()?);
        let is_partition = Path::new(&format!("/sys/dev/block/{major}:{minor}/partition")).exists();
        (!is_partition).then_some((major, minor))
    })
}

#[test]
fn block_io_throttles_reach_the_kernel() {
    let Some((major, minor)) = some_disk() else {
        eprintln!("no block device: nothing to throttle on this host");
        return;
    };
    let cg = Guard::create(&format!(
        r#"{{"blockIO": {{"throttleReadBpsDevice": [{{"major": {major}, "minor": {minor}, "rate": 1048576}}],
                          "throttleWriteIOPSDevice": [{{"major": {major}, "minor": {minor}, "rate": 100}}]}}}}"#
    ));
    let dev = format!("{major}:{minor}");
    if cg.mode() == Mode::V2 {
        let io_max = control_file(&cg, "blkio", "", "io.max");
        assert_eq!(
            io_max,
            format!("{dev} rbps=1048576 wbps=max riops=max wiops=100")
        );
    } else {
        let read_bps = control_file(&cg, "blkio", "blkio.throttle.read_bps_device", "");
        assert_eq!(read_bps, format!("{dev} 1048576"));
        let write_iops = control_file(&cg, "blkio", "blkio.throttle.write_iops_device", "");
        assert_eq!(write_iops, format!("{dev} 100"));
    }
}

#[test]
fn unified_entries_are_written_as_given_on_v2() {
    let json = r#"{"unified": {"memory.high": "50000000", "pids.max": "7"}}"#;
    if Guard::create("{}").mode() != Mode::V2 {
        // Covered by rejected_and_unsupported_values_...: memory is v1 here.
        let err = Cgroup::create(
            Some(&unique_path()),
            "unused",
            Some(&resources(json)),
            false,
        )
        .unwrap_err();
        assert!(
            matches!(&err, Error::Unsupported { field, .. } if field == "linux.resources.unified.memory.high"),
            "{err}"
        );
        return;
    }
    let cg = Guard::create(json);
    assert_eq!(
        control_file(&cg, "memory", "", "memory.high"),
        "49999872",
        "rounded down to pages"
    );
    assert_eq!(control_file(&cg, "pids", "", "pids.max"), "7");
    let err = Cgroup::create(
        Some(&unique_path()),
        "unused",
        Some(&resources(r#"{"unified": {"memory.nosuchfile": "1"}}"#)),
        false,
    )
    .unwrap_err();
    assert!(
        matches!(&err, Error::Unsupported { field, .. } if field == "linux.resources.unified.memory.nosuchfile"),
        "{err}"
    );
}
