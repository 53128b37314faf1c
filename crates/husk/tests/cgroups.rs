//! Cgroups through the CLI (issue 4): resources from config.json read back from the host's
//! cgroup files, limits proven from inside real containers (OOM kill, fork bomb, freezer),
//! `ps`, `events`, `update`, `kill --all`, `delete` and `cgroupsPath` handling.
//!
//! Works on cgroup v1 (hybrid hosts included: hugetlb may live on the unified hierarchy) and on
//! pure cgroup v2: `tests/vm/run.sh v2` and `tests/vm/run.sh v1` run this suite in VMs with
//! those layouts, a BFQ-scheduled disk and an RDMA device. Every file is located through
//! `/proc/<pid>/cgroup` and `/proc/self/mountinfo`, never assumed.

mod common;

use std::cell::RefCell;
use std::fs;
use std::io::Write;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{runtime, wait_for_child, Outcome, RuntimeKind, TestEnv};
use serde_json::{json, Value};

const MIB: i64 = 1 << 20;

/// Which cgroup interface a directory belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Version {
    V1,
    V2,
}

/// The directory of one process's cgroup for one controller, on the host.
#[derive(Debug)]
struct ControllerDir {
    version: Version,
    path: PathBuf,
}

impl ControllerDir {
    /// Contents of `file`, trimmed; panics when it cannot be read.
    #[track_caller]
    fn read(&self, file: &str) -> String {
        let path = self.path.join(file);
        fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("read {}: {error}", path.display()))
            .trim()
            .to_string()
    }

    fn has(&self, file: &str) -> bool {
        self.path.join(file).exists()
    }

    /// `v1_file` or `v2_file`, whichever interface this directory has.
    #[track_caller]
    fn read_either(&self, v1_file: &str, v2_file: &str) -> String {
        self.read(match self.version {
            Version::V1 => v1_file,
            Version::V2 => v2_file,
        })
    }
}

/// True on a host with only cgroup v2 (no v1 controller hierarchy).
fn pure_v2() -> bool {
    Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

/// Notes that this host lacks `feature` (`what`), so that a test checks less; fails instead
/// where the host is known to have it (`HUSK_TEST_EXPECT`, a comma-separated list that
/// `tests/vm/run.sh` sets), so that a regression cannot hide behind a skip.
#[track_caller]
fn host_lacks(feature: &str, what: &str) {
    let expected = std::env::var("HUSK_TEST_EXPECT").unwrap_or_default();
    assert!(
        !expected.split(',').any(|f| f == feature),
        "{what}, but HUSK_TEST_EXPECT says this host has {feature}"
    );
    eprintln!("note: {what}");
}

/// A cgroup hierarchy mounted in this process's mount namespace.
struct CgroupMount {
    version: Version,
    mount_point: PathBuf,
    controllers: Vec<String>,
}

fn cgroup_mounts() -> Vec<CgroupMount> {
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").expect("read mountinfo");
    mountinfo
        .lines()
        .filter_map(|line| {
            let (before, after) = line.split_once(" - ")?;
            let mount_point = PathBuf::from(before.split(' ').nth(4)?);
            let mut after = after.split(' ');
            let fstype = after.next()?;
            let super_options = after.nth(1).unwrap_or_default();
            match fstype {
                "cgroup" => Some(CgroupMount {
                    version: Version::V1,
                    controllers: super_options.split(',').map(str::to_string).collect(),
                    mount_point,
                }),
                "cgroup2" => {
                    let controllers = fs::read_to_string(mount_point.join("cgroup.controllers"))
                        .unwrap_or_default()
                        .split_whitespace()
                        .map(str::to_string)
                        .collect();
                    Some(CgroupMount {
                        version: Version::V2,
                        mount_point,
                        controllers,
                    })
                }
                _ => None,
            }
        })
        .collect()
}

/// Where `controller` (e.g. "memory", "hugetlb") is mounted: its v1 hierarchy if there is one,
/// else the v2 mount when that offers it.
fn controller_mount(controller: &str) -> Option<CgroupMount> {
    let mounts = cgroup_mounts();
    let offers = |mount: &CgroupMount| mount.controllers.iter().any(|c| c == controller);
    let (v1, v2): (Vec<_>, Vec<_>) = mounts.into_iter().partition(|m| m.version == Version::V1);
    v1.into_iter()
        .find(offers)
        .or_else(|| v2.into_iter().find(offers))
}

/// Every cgroup `pid` is in, one per hierarchy, from `/proc/<pid>/cgroup`.
fn memberships(pid: i32) -> Vec<(CgroupMount, PathBuf)> {
    let membership = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    let mut mounts = cgroup_mounts();
    membership
        .lines()
        .filter_map(|line| {
            let mut fields = line.splitn(3, ':');
            let (_, names, path) = (fields.next()?, fields.next()?, fields.next()?);
            let index = mounts.iter().position(|mount| match mount.version {
                Version::V1 => {
                    !names.is_empty()
                        && names
                            .split(',')
                            .all(|n| mount.controllers.iter().any(|c| c == n))
                }
                Version::V2 => names.is_empty(),
            })?;
            let mount = mounts.swap_remove(index);
            let dir = mount.mount_point.join(path.trim_start_matches('/'));
            Some((mount, dir))
        })
        .collect()
}

/// The cgroup of `pid` for `controller`.
fn controller_dir(pid: i32, controller: &str) -> Option<ControllerDir> {
    let wanted = controller_mount(controller)?;
    memberships(pid)
        .into_iter()
        .find(|(mount, _)| mount.mount_point == wanted.mount_point)
        .map(|(mount, path)| ControllerDir {
            version: mount.version,
            path,
        })
}

#[track_caller]
fn require_dir(pid: i32, controller: &str) -> ControllerDir {
    controller_dir(pid, controller)
        .unwrap_or_else(|| panic!("no {controller} cgroup for pid {pid}"))
}

/// cgroup v2 `cpu.weight` for v1 `cpu.shares` at the ends of the range, where runc's old
/// linear conversion and the quadratic-in-log one of crun and current runc agree (in between
/// they differ, so the tests only use these values).
#[track_caller]
fn weight_for_shares(shares: u64) -> u64 {
    match shares {
        2 => 1,
        262_144 => 10_000,
        _ => panic!("no agreed cpu.weight for {shares} shares"),
    }
}

/// The init pid `state` reports.
#[track_caller]
fn init_pid(env: &TestEnv, id: &str) -> i32 {
    env.state(id)["pid"]
        .as_i64()
        .and_then(|pid| i32::try_from(pid).ok())
        .expect("state.pid")
}

/// Creates and starts the test's container running `script` under `sh -c`; returns the init pid.
#[track_caller]
fn start_shell(env: &mut TestEnv, script: &str) -> i32 {
    env.set_args(&["sh", "-c", script]);
    env.create().assert_success();
    let id = env.id.clone();
    let pid = init_pid(env, &id);
    env.start(&id).assert_success();
    pid
}

/// Adds busybox applets the shared harness does not link.
fn link_applets(env: &TestEnv, applets: &[&str]) {
    let bin = env.bundle.join("rootfs/bin");
    for applet in applets {
        symlink("busybox", bin.join(applet)).expect("link busybox applet");
    }
}

/// Polls `condition` every 50 ms for up to `limit`; true once it holds.
fn eventually(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    loop {
        if condition() {
            return true;
        }
        if started.elapsed() >= limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `cgroup.procs` of `dir` once it lists `count` processes (a process that just did its job,
/// such as a `touch`, may still be on its way out); panics after 10 s.
#[track_caller]
fn procs_once_there_are(dir: &ControllerDir, count: usize) -> String {
    assert!(
        eventually(Duration::from_secs(10), || dir.read("cgroup.procs").lines().count() == count),
        "expected {count} processes: {}",
        dir.read("cgroup.procs")
    );
    dir.read("cgroup.procs")
}

/// A runtime command left running in the background (`events` streaming); killed and reaped
/// on drop.
struct Background {
    child: Child,
    stdout: PathBuf,
}

impl Background {
    fn spawn(env: &TestEnv, args: &[&str], name: &str) -> Background {
        let stdout = env.scratch("background").join(name);
        let child = env
            .command()
            .args(args)
            .stdin(Stdio::null())
            .stdout(fs::File::create(&stdout).expect("create background stdout"))
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn background runtime command");
        Background { child, stdout }
    }

    fn output(&self) -> String {
        fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    /// The JSON objects printed so far (one per line).
    fn events(&self) -> Vec<Value> {
        self.output()
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    }

    /// `events --interval 1s ID`, once it has printed its first stats.
    #[track_caller]
    fn streaming_events(env: &TestEnv, id: &str) -> Background {
        let events = Background::spawn(env, &["events", "--interval", "1s", id], "events");
        assert!(
            eventually(Duration::from_secs(10), || !events.events().is_empty()),
            "events printed nothing: {:?}",
            events.output()
        );
        events
    }

    /// Waits up to `limit` for an `oom` event and returns it.
    #[track_caller]
    fn oom_event(&self, limit: Duration) -> Value {
        let oom = || self.events().into_iter().find(|event| event["type"] == "oom");
        assert!(eventually(limit, || oom().is_some()), "no oom event: {:?}", self.output());
        oom().expect("oom event")
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Cgroup directories a test names itself (nested or relative `cgroupsPath`), removed deepest
/// first on drop in case the runtime left them; declared before the `TestEnv` so that they
/// are dropped after its containers are force-deleted.
#[derive(Default)]
struct CgroupDirGuard(RefCell<Vec<PathBuf>>);

impl CgroupDirGuard {
    fn watch(&self, dir: PathBuf) {
        self.0.borrow_mut().push(dir);
    }

    /// Watches the cgroups `pid` is in, in every hierarchy, and their `levels - 1` nearest
    /// ancestors: where a runtime put a relative `cgroupsPath` of `levels` components.
    fn watch_memberships(&self, pid: i32, levels: usize) {
        for (_, dir) in memberships(pid) {
            for ancestor in dir.ancestors().take(levels) {
                self.watch(ancestor.to_path_buf());
            }
        }
    }

    /// Watches `relative` (and each of its parents inside it) in every cgroup hierarchy.
    fn watch_everywhere(&self, relative: &str) {
        for mount in cgroup_mounts() {
            let mut path = mount.mount_point.clone();
            for component in relative.trim_start_matches('/').split('/') {
                path.push(component);
                self.watch(path.clone());
            }
        }
    }
}

impl Drop for CgroupDirGuard {
    fn drop(&mut self) {
        let mut dirs = self.0.borrow().clone();
        dirs.sort_by_key(|dir| std::cmp::Reverse(dir.components().count()));
        for dir in dirs {
            let _ = fs::remove_dir(dir);
        }
    }
}

/// `create` with `cgroups_path` as `linux.cgroupsPath` instead of the harness's `/<id>`.
fn create_in(env: &TestEnv, cgroups_path: &str) -> Outcome {
    let mut config = env.config.clone();
    config["linux"]["cgroupsPath"] = json!(cgroups_path);
    fs::write(
        env.bundle.join("config.json"),
        serde_json::to_string_pretty(&config).expect("serialise config"),
    )
    .expect("write config.json");
    env.register(&env.id);
    let bundle = env.bundle.to_str().expect("utf-8 bundle path");
    let outcome = env.invoke(&["create", "--bundle", bundle, &env.id]);
    env.remember_pid(&env.id);
    outcome
}

#[test]
fn memory_cpu_and_pids_resources_are_written_to_the_cgroup() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    let v1 = !pure_v2();
    let mut memory = json!({"limit": 96 * MIB, "reservation": 48 * MIB, "swap": 160 * MIB});
    if v1 {
        // cgroup v2 has no swappiness knob.
        memory["swappiness"] = json!(30);
    }
    env.config["linux"]["resources"]["memory"] = memory;
    env.config["linux"]["resources"]["cpu"] =
        json!({"shares": 2, "quota": 30000, "period": 60000, "cpus": "0", "mems": "0"});
    env.config["linux"]["resources"]["pids"] = json!({"limit": 77});
    let pid = start_shell(&mut env, "exec sleep 1000");

    let memory = require_dir(pid, "memory");
    assert_eq!(
        memory.read_either("memory.limit_in_bytes", "memory.max"),
        (96 * MIB).to_string()
    );
    assert_eq!(
        memory.read_either("memory.soft_limit_in_bytes", "memory.low"),
        (48 * MIB).to_string()
    );
    match memory.version {
        Version::V1 if memory.has("memory.memsw.limit_in_bytes") => {
            assert_eq!(
                memory.read("memory.memsw.limit_in_bytes"),
                (160 * MIB).to_string()
            );
        }
        Version::V1 => eprintln!("note: no memory.memsw.* (swap accounting off), swap unchecked"),
        // v2 limits swap alone: swap.max = memory+swap - memory.
        Version::V2 => assert_eq!(memory.read("memory.swap.max"), (64 * MIB).to_string()),
    }
    if v1 {
        assert_eq!(memory.read("memory.swappiness"), "30");
    }

    let cpu = require_dir(pid, "cpu");
    match cpu.version {
        Version::V1 => {
            assert_eq!(cpu.read("cpu.shares"), "2");
            assert_eq!(cpu.read("cpu.cfs_quota_us"), "30000");
            assert_eq!(cpu.read("cpu.cfs_period_us"), "60000");
        }
        Version::V2 => {
            assert_eq!(cpu.read("cpu.weight"), weight_for_shares(2).to_string());
            assert_eq!(cpu.read("cpu.max"), "30000 60000");
        }
    }
    let cpuset = require_dir(pid, "cpuset");
    assert_eq!(cpuset.read("cpuset.cpus"), "0");
    assert_eq!(cpuset.read("cpuset.mems"), "0");
    assert_eq!(require_dir(pid, "pids").read("pids.max"), "77");
}

/// Where a block I/O cgroup shows proportional weights: the file of the default weight, the
/// file of per-device weights, and how a configured weight (10..1000) shows there.
struct WeightFiles {
    default: &'static str,
    per_device: &'static str,
    shown: fn(u64) -> String,
}

/// The weight files of the container's block I/O cgroup, or `None` when the host's I/O
/// scheduler offers no weight.
fn weight_files(dir: &ControllerDir) -> Option<WeightFiles> {
    let as_is = |weight: u64| weight.to_string();
    let candidates = [
        WeightFiles { default: "blkio.weight", per_device: "blkio.weight_device", shown: as_is },
        WeightFiles { default: "blkio.bfq.weight", per_device: "blkio.bfq.weight_device", shown: as_is },
        WeightFiles { default: "io.bfq.weight", per_device: "io.bfq.weight", shown: as_is },
        // io.weight (iocost) has the 1..10000 range: runc converts from 10..1000.
        WeightFiles {
            default: "io.weight",
            per_device: "io.weight",
            shown: |weight| (1 + (weight - 10) * 9999 / 990).to_string(),
        },
    ];
    candidates.into_iter().find(|files| dir.has(files.default))
}

/// The last number in a weight file (`300`, or `default 300` for bfq).
fn shown_weight(content: &str) -> String {
    content
        .lines()
        .next()
        .and_then(|line| line.split_whitespace().last())
        .unwrap_or_default()
        .to_string()
}

/// `major:minor` of the whole disks of this host (not loop, RAM or zram devices), by name.
fn disks() -> Vec<String> {
    let mut names: Vec<_> = fs::read_dir("/sys/block")
        .map(|entries| {
            entries
                .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
                .filter(|name| !["loop", "ram", "zram"].iter().any(|p| name.starts_with(p)))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
        .iter()
        .filter_map(|name| fs::read_to_string(format!("/sys/block/{name}/dev")).ok())
        .map(|dev| dev.trim().to_string())
        .collect()
}

/// The `blockIO.weightDevice` list giving `disk` (`major:minor`) `weight`.
fn weight_device(disk: &str, weight: u64) -> Value {
    let (major, minor) = disk.split_once(':').expect("major:minor");
    json!([{
        "major": major.parse::<i64>().expect("major"),
        "minor": minor.parse::<i64>().expect("minor"),
        "weight": weight,
    }])
}

#[test]
fn blkio_weights_default_and_per_device_where_the_host_has_them() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    let pid = start_shell(&mut env, "exec sleep 1000");
    let Some(dir) = controller_dir(pid, "blkio").or_else(|| controller_dir(pid, "io")) else {
        host_lacks("blkio-weight", "no blkio/io controller: skipped");
        return;
    };
    let Some(files) = weight_files(&dir) else {
        host_lacks("blkio-weight", "no block I/O weight file (I/O scheduler without weights): skipped");
        return;
    };
    env.invoke(&["update", "--blkio-weight", "300", &env.id])
        .assert_success();
    assert_eq!(shown_weight(&dir.read(files.default)), (files.shown)(300), "{}", files.default);

    let mut configured = TestEnv::new().expect("root");
    configured.config["linux"]["resources"]["blockIO"] = json!({"weight": 300});
    let (weighted, unweighted): (Vec<_>, Vec<_>) =
        disks().into_iter().partition(|disk| device_takes_weights(&files, disk));
    let disk = weighted.first();
    if let Some(disk) = disk {
        configured.config["linux"]["resources"]["blockIO"]["weightDevice"] = weight_device(disk, 500);
    }
    let pid = start_shell(&mut configured, "exec sleep 1000");
    let dir = controller_dir(pid, "blkio")
        .or_else(|| controller_dir(pid, "io"))
        .expect("block I/O cgroup");
    assert_eq!(shown_weight(&dir.read(files.default)), (files.shown)(300), "{}", files.default);
    let Some(disk) = disk else {
        host_lacks("blkio-weight-device", "no disk whose scheduler takes weights: weightDevice unchecked");
        return;
    };
    let per_device = dir.read(files.per_device);
    let expected = format!("{disk} {}", (files.shown)(500));
    assert!(
        per_device.lines().any(|line| line == expected),
        "{}: {per_device:?}, expected a line {expected:?}",
        files.per_device
    );

    // A disk whose scheduler keeps no weights: refused by name, and nothing is left.
    let Some(disk) = unweighted.first() else {
        host_lacks("blkio-weight-device", "no disk without weights: the refusal is unchecked");
        return;
    };
    if configured.skip_for(RuntimeKind::Runc, "runc's error does not name the field") {
        return;
    }
    let mut refused = TestEnv::new().expect("root");
    refused.config["linux"]["resources"]["blockIO"] = json!({"weightDevice": weight_device(disk, 500)});
    let id = refused.id.clone();
    refused
        .create()
        .assert_failure()
        .assert_error_mentions("linux.resources.blockIO.weightDevice[0].weight")
        .assert_error_mentions(&format!("block device {disk} takes no weight"));
    refused.assert_nothing_left(&id);
}

/// Whether the kernel takes per-device weights for `disk` (`major:minor`) through `files`:
/// BFQ's only when BFQ schedules the disk, the cost model's only when it is enabled there.
fn device_takes_weights(files: &WeightFiles, disk: &str) -> bool {
    if files.per_device.contains("bfq") {
        fs::read_to_string(format!("/sys/dev/block/{disk}/queue/scheduler"))
            .is_ok_and(|scheduler| scheduler.contains("[bfq]"))
    } else if files.per_device == "io.weight" {
        controller_mount("io").is_some_and(|mount| {
            fs::read_to_string(mount.mount_point.join("io.cost.qos")).is_ok_and(|qos| {
                qos.lines().any(|line| line.starts_with(&format!("{disk} enable=1")))
            })
        })
    } else {
        true
    }
}

#[test]
fn hugetlb_limit_is_written_where_the_controller_lives() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    let Some(mount) = controller_mount("hugetlb") else {
        eprintln!("skipped: no hugetlb controller");
        return;
    };
    if !Path::new("/sys/kernel/mm/hugepages/hugepages-2048kB").exists() {
        eprintln!("skipped: no 2MB huge pages");
        return;
    }
    if mount.version == Version::V2
        && !pure_v2()
        && env.skip_for(
            RuntimeKind::Runc,
            "runc 1.1.5 cannot set hugetlb on a hybrid host's unified hierarchy",
        )
    {
        return;
    }
    env.config["linux"]["resources"]["hugepageLimits"] =
        json!([{"pageSize": "2MB", "limit": 4 * MIB}]);
    let pid = start_shell(&mut env, "exec sleep 1000");
    let dir = require_dir(pid, "hugetlb");
    assert_eq!(
        dir.read_either("hugetlb.2MB.limit_in_bytes", "hugetlb.2MB.max"),
        (4 * MIB).to_string()
    );
}

#[test]
fn deny_all_devices_allows_the_defaults_but_not_an_unlisted_device() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    // runc's spec already denies everything ("allow": false, "access": "rwm"); the node below
    // exists in the container but no rule allows it. 10:237 is /dev/loop-control, which opens
    // without privileges and is not among runc's default devices (/dev/net/tun is): any
    // error but EPERM would mean the cgroup did not deny it.
    assert_eq!(
        env.config["linux"]["resources"]["devices"],
        json!([{"allow": false, "access": "rwm"}])
    );
    env.config["linux"]["devices"] = json!([{
        "path": "/dev/husk-unlisted", "type": "c", "major": 10, "minor": 237,
        "fileMode": 438, "uid": 0, "gid": 0
    }]);
    env.set_args(&[
        "sh",
        "-c",
        "echo data >/dev/null && echo null=writable; \
         cat /dev/zero | head -c 3 | wc -c; \
         cat /dev/husk-unlisted 2>&1; true",
    ]);
    let outcome = env.run();
    outcome.assert_success();
    let mut lines = outcome.stdout.lines();
    assert_eq!(lines.next(), Some("null=writable"), "{outcome:#?}");
    assert_eq!(lines.next().map(str::trim), Some("3"), "{outcome:#?}");
    let denial = lines.next().unwrap_or_default();
    assert!(
        denial.contains("Operation not permitted"),
        "opening an unlisted device: {outcome:#?}"
    );
}

#[test]
fn memory_hog_is_oom_killed_and_events_reports_it() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    link_applets(&env, &["dd"]);
    let shared = env.scratch("shared");
    env.add_bind_mount(&shared, "/shared");
    // Memory+swap equal to memory: the hog cannot escape to swap.
    env.config["linux"]["resources"]["memory"] = json!({"limit": 32 * MIB, "swap": 32 * MIB});
    // The init survives (the hog is its child), so `events` keeps streaming.
    env.set_args(&[
        "sh",
        "-c",
        "while [ ! -e /shared/go ]; do sleep 0.05; done; \
         dd if=/dev/zero of=/dev/null bs=64M count=1; echo dd=$? >/shared/result; \
         exec sleep 1000",
    ]);
    env.create().assert_success();
    let id = env.id.clone();
    env.start(&id).assert_success();
    let events = Background::streaming_events(&env, &id);
    fs::write(shared.join("go"), "").expect("signal the hog");

    let oom = events.oom_event(Duration::from_secs(15));
    assert_eq!(oom["id"], json!(id));
    assert!(eventually(Duration::from_secs(5), || shared
        .join("result")
        .exists()));
    // dd died of SIGKILL: the shell reports 128+9.
    assert_eq!(
        fs::read_to_string(shared.join("result")).unwrap().trim(),
        "dd=137"
    );
    let stats: Vec<Value> = events
        .events()
        .into_iter()
        .filter(|event| event["type"] == "stats")
        .collect();
    assert!(
        stats.iter().all(|event| event["id"] == json!(id)),
        "{stats:?}"
    );
}

#[test]
fn fork_bomb_stops_at_pids_max() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    let shared = env.scratch("shared");
    env.add_bind_mount(&shared, "/shared");
    env.config["linux"]["resources"]["pids"] = json!({"limit": 12});
    // A non-interactive shell exits when fork fails: the bomb runs in a subshell so that
    // the init survives to report.
    let pid = start_shell(
        &mut env,
        "(i=0; while [ $i -lt 40 ]; do sleep 1000 & i=$((i+1)); done) 2>/shared/errors; \
         touch /shared/done; exec sleep 1000",
    );
    assert!(
        eventually(Duration::from_secs(15), || shared.join("done").exists()),
        "the fork loop never finished"
    );
    let pids = require_dir(pid, "pids");
    assert_eq!(pids.read("pids.max"), "12");
    let current: u32 = pids.read("pids.current").parse().expect("pids.current");
    assert!((2..=12).contains(&current), "pids.current {current}");
    let refused = pids
        .read("pids.events")
        .lines()
        .find_map(|line| line.strip_prefix("max "))
        .and_then(|count| count.parse::<u64>().ok())
        .expect("pids.events max");
    assert!(refused > 0, "no fork was refused");
    let errors = fs::read_to_string(shared.join("errors")).unwrap_or_default();
    assert!(
        errors.contains("fork") || errors.contains("Resource temporarily unavailable"),
        "the shell saw no fork failure: {errors:?}"
    );
}

#[test]
fn paused_container_does_not_run_until_resumed() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    let shared = env.scratch("shared");
    env.add_bind_mount(&shared, "/shared");
    link_applets(&env, &["mv"]);
    start_shell(
        &mut env,
        "i=0; while true; do i=$((i+1)); echo $i >/shared/counter.new; \
         mv /shared/counter.new /shared/counter; sleep 0.05; done",
    );
    let counter = || -> u64 {
        fs::read_to_string(shared.join("counter"))
            .ok()
            .and_then(|text| text.trim().parse().ok())
            .unwrap_or(0)
    };
    let id = env.id.clone();
    assert!(eventually(Duration::from_secs(10), || counter() > 2));

    env.invoke(&["pause", &id]).assert_success();
    assert_eq!(env.status(&id), "paused");
    let frozen_at = counter();
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(counter(), frozen_at, "the counter advanced while paused");

    env.invoke(&["resume", &id]).assert_success();
    assert_eq!(env.status(&id), "running");
    assert!(
        eventually(Duration::from_secs(10), || counter() > frozen_at + 2),
        "the counter did not advance after resume"
    );
}

#[test]
fn ps_lists_the_host_pids_as_json_and_as_a_table() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    let shared = env.scratch("shared");
    env.add_bind_mount(&shared, "/shared");
    let pid = start_shell(
        &mut env,
        "sleep 1000 & sleep 1001 & touch /shared/forked; wait",
    );
    assert!(eventually(Duration::from_secs(10), || shared
        .join("forked")
        .exists()));
    let id = env.id.clone();
    let procs = require_dir(pid, "pids");
    // The init and two sleeps.
    let mut expected: Vec<i64> = procs_once_there_are(&procs, 3)
        .lines()
        .map(|line| line.parse().expect("pid"))
        .collect();
    expected.sort();

    let outcome = env.invoke(&["ps", "--format", "json", &id]);
    outcome.assert_success();
    let mut listed: Vec<i64> = serde_json::from_str(outcome.stdout.trim())
        .unwrap_or_else(|error| panic!("ps json ({error}): {outcome:#?}"));
    listed.sort();
    assert_eq!(listed, expected);
    assert!(listed.contains(&i64::from(pid)));

    let table = env.invoke(&["ps", &id]);
    table.assert_success();
    let mut rows = table.stdout.lines();
    let header = rows.next().unwrap_or_default();
    let pid_column = header
        .split_whitespace()
        .position(|name| name == "PID")
        .unwrap_or_else(|| panic!("no PID column: {table:#?}"));
    let mut table_pids: Vec<i64> = rows
        .filter_map(|row| row.split_whitespace().nth(pid_column)?.parse().ok())
        .collect();
    table_pids.sort();
    assert_eq!(table_pids, expected, "{table:#?}");
}

#[test]
fn events_stats_prints_runcs_shape_quickly() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    env.config["linux"]["resources"]["pids"] = json!({"limit": 50});
    start_shell(&mut env, "exec sleep 1000");
    let id = env.id.clone();
    // `state` (a state-file read and a liveness check) is the yardstick: it absorbs how slow
    // this machine is (the v2 suite runs under emulation).
    let started = Instant::now();
    env.state(&id);
    let state_took = started.elapsed();
    let started = Instant::now();
    let outcome = env.invoke(&["events", "--stats", &id]);
    let took = started.elapsed();
    outcome.assert_success();
    let event: Value = serde_json::from_str(outcome.stdout.trim())
        .unwrap_or_else(|error| panic!("events --stats output ({error}): {outcome:#?}"));
    assert_eq!(event["type"], "stats");
    assert_eq!(event["id"], json!(id));
    let data = &event["data"];
    assert!(
        data["cpu"]["usage"]["total"].is_u64(),
        "cpu.usage.total: {data}"
    );
    assert!(
        data["memory"]["usage"]["usage"]
            .as_u64()
            .is_some_and(|u| u > 0),
        "memory.usage.usage: {data}"
    );
    assert_eq!(data["pids"]["current"], 1, "{data}");
    assert_eq!(data["pids"]["limit"], 50, "{data}");
    // A stats call reads a few files: it must not wait for an interval or sample over time.
    assert!(
        took < state_took * 3 + Duration::from_millis(200),
        "events --stats took {took:?}, state {state_took:?}"
    );
}

#[test]
fn update_from_stdin_file_and_flags_changes_the_files() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    env.config["linux"]["resources"]["memory"] = json!({"limit": 64 * MIB});
    env.config["linux"]["resources"]["pids"] = json!({"limit": 40});
    let pid = start_shell(&mut env, "exec sleep 1000");
    let id = env.id.clone();
    let memory = require_dir(pid, "memory");
    let pids = require_dir(pid, "pids");
    let cpu = require_dir(pid, "cpu");
    let cpuset = require_dir(pid, "cpuset");
    let memory_limit = || memory.read_either("memory.limit_in_bytes", "memory.max");

    // -r - : LinuxResources JSON on stdin (containerd's form).
    let mut command = env.command();
    command.args(["update", "-r", "-", &id]);
    let stdin = json!({"memory": {"limit": 80 * MIB}, "pids": {"limit": 41}}).to_string();
    env.invoke_command(&mut command, Some(stdin.as_bytes()))
        .assert_success();
    assert_eq!(memory_limit(), (80 * MIB).to_string());
    assert_eq!(pids.read("pids.max"), "41");

    // --resources=FILE (podman's form).
    let file = env.scratch("update").join("resources.json");
    fs::File::create(&file)
        .and_then(|mut f| f.write_all(json!({"pids": {"limit": 42}}).to_string().as_bytes()))
        .expect("write resources file");
    env.invoke(&["update", &format!("--resources={}", file.display()), &id])
        .assert_success();
    assert_eq!(pids.read("pids.max"), "42");
    assert_eq!(memory_limit(), (80 * MIB).to_string(), "untouched by -r");

    // runc's individual flags.
    env.invoke(&[
        "update",
        "--memory",
        "96m",
        "--memory-swap",
        "128m",
        "--pids-limit",
        "43",
        &id,
    ])
    .assert_success();
    assert_eq!(memory_limit(), (96 * MIB).to_string());
    match memory.version {
        Version::V1 if memory.has("memory.memsw.limit_in_bytes") => {
            assert_eq!(
                memory.read("memory.memsw.limit_in_bytes"),
                (128 * MIB).to_string()
            )
        }
        Version::V1 => eprintln!("note: no memory.memsw.* (swap accounting off), swap unchecked"),
        Version::V2 => assert_eq!(memory.read("memory.swap.max"), (32 * MIB).to_string()),
    }
    assert_eq!(pids.read("pids.max"), "43");

    env.invoke(&[
        "update",
        "--cpu-share",
        "262144",
        "--cpu-quota",
        "20000",
        "--cpu-period",
        "80000",
        "--cpuset-cpus",
        "0",
        &id,
    ])
    .assert_success();
    match cpu.version {
        Version::V1 => {
            assert_eq!(cpu.read("cpu.shares"), "262144");
            assert_eq!(cpu.read("cpu.cfs_quota_us"), "20000");
            assert_eq!(cpu.read("cpu.cfs_period_us"), "80000");
        }
        Version::V2 => {
            assert_eq!(
                cpu.read("cpu.weight"),
                weight_for_shares(262_144).to_string()
            );
            assert_eq!(cpu.read("cpu.max"), "20000 80000");
        }
    }
    assert_eq!(cpuset.read("cpuset.cpus"), "0");
}

#[test]
fn update_accepts_the_cpu_shares_spelling_too() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    if env.skip_for(RuntimeKind::Runc, "runc spells it --cpu-share only") {
        return;
    }
    let pid = start_shell(&mut env, "exec sleep 1000");
    env.invoke(&["update", "--cpu-shares", "2", &env.id])
        .assert_success();
    let cpu = require_dir(pid, "cpu");
    assert_eq!(
        cpu.read_either("cpu.shares", "cpu.weight"),
        match cpu.version {
            Version::V1 => "2".to_string(),
            Version::V2 => weight_for_shares(2).to_string(),
        }
    );
}

#[test]
fn kill_all_signals_every_process() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    let shared = env.scratch("shared");
    env.add_bind_mount(&shared, "/shared");
    // As pid 1 of its namespace the shell only gets signals it handles: the trap proves the
    // init was signalled, the sleeps (default action) die.
    let pid = start_shell(
        &mut env,
        "trap 'echo init >>/shared/signalled' TERM; \
         sleep 1000 & sleep 1000 & touch /shared/forked; \
         while true; do wait; done",
    );
    assert!(eventually(Duration::from_secs(10), || shared
        .join("forked")
        .exists()));
    let id = env.id.clone();
    let pids = require_dir(pid, "pids");
    procs_once_there_are(&pids, 3);

    env.invoke(&["kill", "--all", &id, "TERM"]).assert_success();
    assert!(
        eventually(Duration::from_secs(10), || pids.read("cgroup.procs")
            == pid.to_string()),
        "sleeps still alive: {}",
        pids.read("cgroup.procs")
    );
    assert!(
        eventually(Duration::from_secs(5), || fs::read_to_string(
            shared.join("signalled")
        )
        .is_ok_and(|text| text == "init\n")),
        "the init was not signalled exactly once"
    );
    assert_eq!(env.status(&id), "running");
    env.invoke(&["kill", "--all", &id, "KILL"]).assert_success();
    assert_eq!(wait_for_child(pid), 128 + 9);
}

/// Whether `pid` has exited (gone, or a zombie waiting for its parent).
fn has_exited(pid: &str) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_or(true, |stat| stat.rsplit_once(") ").is_some_and(|(_, rest)| rest.starts_with('Z')))
}

/// Without a pid namespace of its own the container's processes do not die with its init:
/// `delete --force` must find and kill each of them.
#[test]
fn delete_force_without_a_pid_namespace_kills_every_process() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    env.share_host_namespace("pid");
    let shared = env.scratch("shared");
    env.add_bind_mount(&shared, "/shared");
    let pid = start_shell(
        &mut env,
        "sleep 1000 & sleep 1000 & touch /shared/forked; while true; do wait; done",
    );
    assert!(eventually(Duration::from_secs(10), || shared.join("forked").exists()));
    let processes = procs_once_there_are(&require_dir(pid, "pids"), 3);
    let id = env.id.clone();
    env.invoke(&["delete", "--force", &id]).assert_success();
    assert!(
        eventually(Duration::from_secs(5), || processes.lines().all(has_exited)),
        "left alive: {processes}"
    );
    env.assert_nothing_left(&id);
}

#[test]
fn init_is_in_its_final_cgroup_when_create_returns() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    env.set_args(&["sleep", "1000"]);
    env.create().assert_success();
    let id = env.id.clone();
    let pid = init_pid(&env, &id);
    let memberships = memberships(pid);
    assert!(!memberships.is_empty(), "pid {pid} has no cgroups");
    // Every hierarchy, v1 named ones and the unified one of a hybrid host included.
    for (mount, dir) in memberships {
        assert!(
            dir.ends_with(&id),
            "in {}: {}",
            mount.mount_point.display(),
            dir.display()
        );
    }
}

#[test]
fn delete_removes_the_cgroups_it_made_and_nothing_else() {
    let outer = format!("husk-it-outer-{}", std::process::id());
    let guard = CgroupDirGuard::default();
    guard.watch_everywhere(&format!("{outer}/sibling"));
    guard.watch_everywhere(&format!("{outer}/made/leaf"));
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    // A parent the test owns, with a sibling cgroup the container must not touch. On v1 its
    // cpuset is left unconfigured (empty cpus/mems, as mkdir makes it): the runtime must fill
    // the levels below it from above, as runc does.
    let mounts = cgroup_mounts();
    for mount in &mounts {
        fs::create_dir_all(mount.mount_point.join(&outer).join("sibling"))
            .expect("create the test's own cgroups");
    }
    env.set_args(&["sleep", "1000"]);
    create_in(&env, &format!("/{outer}/made/leaf")).assert_success();
    let id = env.id.clone();
    let pid = init_pid(&env, &id);
    let memory = require_dir(pid, "memory");
    assert!(
        memory.path.ends_with(format!("{outer}/made/leaf")),
        "{memory:?}"
    );

    env.invoke(&["delete", "--force", &id]).assert_success();
    for mount in &mounts {
        let outer_dir = mount.mount_point.join(&outer);
        assert!(
            !outer_dir.join("made/leaf").exists(),
            "{} left behind",
            outer_dir.join("made/leaf").display()
        );
        assert!(
            outer_dir.join("sibling").is_dir(),
            "sibling removed in {outer_dir:?}"
        );
        if runtime().kind == RuntimeKind::Husk {
            // runc leaves intermediate directories it created; husk removes them.
            assert!(
                !outer_dir.join("made").exists(),
                "{} left behind",
                outer_dir.join("made").display()
            );
        }
    }
}

#[test]
fn relative_cgroups_path_is_nested_and_removed() {
    let relative = format!("husk-it-rel-{}/inner", std::process::id());
    let guard = CgroupDirGuard::default();
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    env.set_args(&["sleep", "1000"]);
    create_in(&env, &relative).assert_success();
    let id = env.id.clone();
    let pid = init_pid(&env, &id);
    guard.watch_memberships(pid, relative.split('/').count());
    let mut dirs = Vec::new();
    for controller in ["memory", "pids", "cpu"] {
        let dir = require_dir(pid, controller);
        // Relative paths go under a runtime-chosen parent: husk's is /husk (runc's is its
        // own cgroup).
        assert!(dir.path.ends_with(&relative), "{dir:?}");
        if runtime().kind == RuntimeKind::Husk {
            let mount = controller_mount(controller).expect("mounted");
            assert_eq!(
                dir.path.strip_prefix(&mount.mount_point).ok(),
                Some(Path::new("husk").join(&relative).as_path()),
                "{dir:?}"
            );
        }
        dirs.push(dir.path);
    }
    env.invoke(&["delete", "--force", &id]).assert_success();
    for dir in dirs {
        assert!(!dir.exists(), "{} left behind", dir.display());
    }
}

#[test]
fn systemd_cgroup_flag_gives_a_clear_error_and_leaves_nothing() {
    let Some(env) = TestEnv::new() else { return };
    env.write_config();
    env.register(&env.id);
    let bundle = env.bundle.to_str().unwrap();
    env.invoke(&["--systemd-cgroup", "create", "--bundle", bundle, &env.id])
        .assert_failure()
        .assert_error_mentions("systemd");
    env.assert_nothing_left(&env.id);
}

#[test]
fn exec_cgroup_runs_the_process_in_a_sub_cgroup() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    let pid = start_shell(&mut env, "sleep 1000");
    let id = env.id.clone();
    let memory = require_dir(pid, "memory");
    let sub = memory.path.join("exec-sub");
    fs::create_dir(&sub).expect("create the sub-cgroup");
    // cgroup v2 takes a plain path; v1 (here) names the controller.
    let target = if pure_v2() { "exec-sub" } else { "memory:exec-sub" };
    let pid_file = env.scratch("exec").join("pid");
    env.invoke(&["exec", "--detach", "--cgroup", target, "--pid-file", pid_file.to_str().unwrap(), &id, "sleep", "1000"])
        .assert_success();
    let exec_pid: i32 = fs::read_to_string(&pid_file).unwrap().trim().parse().unwrap();
    assert_eq!(require_dir(exec_pid, "memory").path, sub);
    env.invoke(&["exec", "--cgroup", "no-such-sub", &id, "true"])
        .assert_failure()
        .assert_error_mentions("no-such-sub");
    env.invoke(&["delete", "--force", &id]).assert_success();
    // The exec'd process was reparented to us: reap it, or the init (pid 1
    // of the namespace) cannot finish exiting.
    wait_for_child(exec_pid);
    wait_for_child(pid);
    assert!(!sub.exists(), "the container's cgroup, sub-cgroups included, is removed");
    env.assert_nothing_left(&id);
}

#[test]
fn cpu_burst_idle_and_realtime_are_written_where_the_host_has_them() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    let mut cpu = json!({"quota": 50000, "period": 100000, "burst": 20000});
    let host_cpu = controller_mount("cpu").expect("a cpu controller");
    let realtime = host_cpu.version == Version::V1 && host_cpu.mount_point.join("cpu.rt_runtime_us").exists();
    if realtime {
        cpu["realtimePeriod"] = json!(1_000_000);
        cpu["realtimeRuntime"] = json!(10_000);
    }
    env.config["linux"]["resources"]["cpu"] = cpu;
    let pid = start_shell(&mut env, "exec sleep 1000");
    let dir = require_dir(pid, "cpu");
    assert_eq!(dir.read_either("cpu.cfs_burst_us", "cpu.max.burst"), "20000");
    if realtime {
        assert_eq!(dir.read("cpu.rt_period_us"), "1000000");
        assert_eq!(dir.read("cpu.rt_runtime_us"), "10000");
    } else {
        eprintln!("note: no real-time group scheduling on this host, realtime unchecked");
    }

    // cpu.idle is its own config (SCHED_IDLE groups), on the same file in v1 and v2.
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    env.config["linux"]["resources"]["cpu"] = json!({"idle": 1});
    let pid = start_shell(&mut env, "exec sleep 1000");
    let dir = require_dir(pid, "cpu");
    if dir.has("cpu.idle") {
        assert_eq!(dir.read("cpu.idle"), "1");
    } else {
        eprintln!("note: no cpu.idle on this kernel, idle unchecked");
    }
}

/// Leaf weights were CFQ's, and CFQ left the kernel in 5.0: no kernel husk runs on has them.
#[test]
fn blkio_leaf_weight_is_refused_by_name_where_the_kernel_lacks_it() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    if env.skip_for(RuntimeKind::Runc, "runc reports the missing file, not the field") {
        return;
    }
    let has_leaf_weight = controller_mount("blkio")
        .is_some_and(|m| m.version == Version::V1 && m.mount_point.join("blkio.leaf_weight").exists());
    if has_leaf_weight {
        eprintln!("skipped: this kernel still has CFQ leaf weights");
        return;
    }
    env.config["linux"]["resources"]["blockIO"] = json!({"leafWeight": 500});
    let id = env.id.clone();
    env.create()
        .assert_failure()
        .assert_error_mentions("linux.resources.blockIO.leafWeight");
    env.assert_nothing_left(&id);
}

/// The v1 hierarchy of `controller`, if this host mounts one.
fn v1_mount(controller: &str) -> Option<CgroupMount> {
    controller_mount(controller).filter(|mount| mount.version == Version::V1)
}

#[test]
fn network_class_id_and_priorities_are_written_where_net_cls_and_net_prio_are_mounted() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    env.config["linux"]["resources"]["network"] =
        json!({"classID": 0x0010_0001, "priorities": [{"name": "lo", "priority": 5}]});
    let id = env.id.clone();
    for controller in ["net_cls", "net_prio"] {
        if v1_mount(controller).is_none() {
            // cgroup v2 has no equivalent: the field is refused by name, and nothing is left.
            host_lacks(controller, &format!("no v1 {controller} hierarchy: checking the error"));
            if env.skip_for(RuntimeKind::Runc, "runc's error names the controller, not the field") {
                return;
            }
            env.create()
                .assert_failure()
                .assert_error_mentions("linux.resources.network");
            env.assert_nothing_left(&id);
            return;
        }
    }
    let pid = start_shell(&mut env, "exec sleep 1000");
    assert_eq!(require_dir(pid, "net_cls").read("net_cls.classid"), "1048577");
    let priorities = require_dir(pid, "net_prio");
    assert!(
        priorities.read("net_prio.ifpriomap").lines().any(|line| line == "lo 5"),
        "net_prio.ifpriomap: {}",
        priorities.read("net_prio.ifpriomap")
    );

    let mut command = env.command();
    command.args(["update", "-r", "-", &id]);
    let stdin = json!({"network": {"classID": 0x0010_0002}}).to_string();
    env.invoke_command(&mut command, Some(stdin.as_bytes()))
        .assert_success();
    assert_eq!(require_dir(pid, "net_cls").read("net_cls.classid"), "1048578");
}

/// The RDMA devices of this host.
fn rdma_devices() -> Vec<String> {
    fs::read_dir("/sys/class/infiniband")
        .map(|entries| {
            entries
                .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The `rdma.max` line of `device` in the cgroup `dir`.
#[track_caller]
fn rdma_max_line(dir: &ControllerDir, device: &str) -> String {
    let content = dir.read("rdma.max");
    content
        .lines()
        .find(|line| line.split_whitespace().next() == Some(device))
        .unwrap_or_else(|| panic!("no {device} in rdma.max: {content}"))
        .to_string()
}

#[test]
fn rdma_limits_are_written_to_rdma_max() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    let id = env.id.clone();
    let device = rdma_devices().into_iter().next();
    let (Some(device), Some(_)) = (device, controller_mount("rdma")) else {
        host_lacks("rdma", "no RDMA device or no rdma controller: checking the error");
        if env.skip_for(RuntimeKind::Runc, "runc's error does not name the field") {
            return;
        }
        env.config["linux"]["resources"]["rdma"] = json!({"husk_absent0": {"hcaHandles": 1}});
        env.create()
            .assert_failure()
            .assert_error_mentions("linux.resources.rdma");
        env.assert_nothing_left(&id);
        return;
    };
    env.config["linux"]["resources"]["rdma"] =
        json!({&device: {"hcaHandles": 3, "hcaObjects": 100}});
    let pid = start_shell(&mut env, "exec sleep 1000");
    let dir = require_dir(pid, "rdma");
    assert_eq!(
        rdma_max_line(&dir, &device),
        format!("{device} hca_handle=3 hca_object=100")
    );

    // An update of one limit leaves the other as it was.
    let mut command = env.command();
    command.args(["update", "-r", "-", &id]);
    let stdin = json!({"rdma": {&device: {"hcaHandles": 5}}}).to_string();
    env.invoke_command(&mut command, Some(stdin.as_bytes()))
        .assert_success();
    assert_eq!(
        rdma_max_line(&dir, &device),
        format!("{device} hca_handle=5 hca_object=100")
    );
}

/// v1's extra memory knobs, proven from inside: with the OOM killer disabled, a hog over the
/// limit waits instead of dying. cgroup v2 has none of them: each is refused by name.
#[test]
fn memory_v1_oom_killer_hierarchy_and_kernel_tcp() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    let id = env.id.clone();
    let memory_mount = controller_mount("memory").expect("a memory controller");
    if memory_mount.version == Version::V2 {
        for (field, value) in [
            ("disableOOMKiller", json!(true)),
            ("kernelTCP", json!(16 * MIB)),
            ("useHierarchy", json!(false)),
            ("swappiness", json!(10)),
        ] {
            let mut env = TestEnv::new().expect("root");
            env.config["linux"]["resources"]["memory"] = json!({ field: value });
            let id = env.id.clone();
            env.create()
                .assert_failure()
                .assert_error_mentions(&format!("linux.resources.memory.{field}"));
            env.assert_nothing_left(&id);
        }
        return;
    }
    let shared = env.scratch("shared");
    env.add_bind_mount(&shared, "/shared");
    let mut memory = json!({"limit": 32 * MIB, "swap": 32 * MIB, "disableOOMKiller": true,
                            "useHierarchy": true, "kernel": 64 * MIB});
    let kernel_tcp = memory_mount.mount_point.join("memory.kmem.tcp.limit_in_bytes").exists();
    if kernel_tcp {
        memory["kernelTCP"] = json!(16 * MIB);
    }
    env.config["linux"]["resources"]["memory"] = memory;
    env.set_args(&[
        "sh",
        "-c",
        "while [ ! -e /shared/go ]; do sleep 0.05; done; \
         husk-checker touch-memory 64; echo hog=$? >/shared/result; exec sleep 1000",
    ]);
    let created = env.create();
    created.assert_success();
    if runtime().kind == RuntimeKind::Husk {
        // The kernel has no kernel-memory limits any more: accepted, with a warning naming it.
        assert!(
            created.stderr.contains("linux.resources.memory.kernel"),
            "no warning about memory.kernel: {created:#?}"
        );
    }
    let pid = init_pid(&env, &id);
    let dir = require_dir(pid, "memory");
    let oom_control = || dir.read("memory.oom_control");
    assert!(oom_control().lines().any(|l| l == "oom_kill_disable 1"), "{}", oom_control());
    assert_eq!(dir.read("memory.use_hierarchy"), "1");
    if kernel_tcp && !env.skip_for(RuntimeKind::Runc, "runc 1.1.5 ignores kernelTCP") {
        assert_eq!(dir.read("memory.kmem.tcp.limit_in_bytes"), (16 * MIB).to_string());
    } else if !kernel_tcp {
        eprintln!("note: no memory.kmem.tcp.* on this kernel, kernelTCP unchecked");
    }

    env.start(&id).assert_success();
    let events = Background::streaming_events(&env, &id);
    fs::write(shared.join("go"), "").expect("signal the hog");
    assert!(
        eventually(Duration::from_secs(15), || oom_control()
            .lines()
            .any(|l| l == "under_oom 1")),
        "the hog never reached the limit: {}",
        oom_control()
    );
    // Nothing is killed, but the OOM is reported all the same.
    events.oom_event(Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !shared.join("result").exists(),
        "the hog ended although the OOM killer is disabled: {:?}",
        fs::read_to_string(shared.join("result"))
    );
    assert!(
        oom_control().lines().any(|l| l == "oom_kill 0"),
        "{}",
        oom_control()
    );

    // The waiting hog cannot be frozen: pause fails and leaves the container running, not
    // half frozen; `kill --all` must reach the hog all the same.
    if let Some(freezer) = controller_dir(pid, "freezer").filter(|d| d.version == Version::V1) {
        env.invoke(&["pause", &id]).assert_failure();
        assert_eq!(freezer.read("freezer.state"), "THAWED");
        assert_eq!(env.status(&id), "running");
    }
    env.invoke(&["kill", "--all", &id, "KILL"]).assert_success();
    assert!(
        eventually(Duration::from_secs(5), || dir.read("cgroup.procs").is_empty()),
        "processes left after kill --all: {}",
        dir.read("cgroup.procs")
    );
}
