//! Control groups for husk containers: cgroup v1, v2 and hybrid hosts behind
//! one interface.
//!
//! A [`Cgroup`] records where the container's cgroup lives in every mounted
//! hierarchy and which directories husk created, so that another husk
//! process (`update`, `pause`, `events`, `delete`) can load it from the state
//! dir and act on it. Each resource goes to the hierarchy that owns its
//! controller: on a hybrid host a controller bound to v1 is driven through
//! v1 files, one that is only available in the unified hierarchy (e.g.
//! hugetlb) through v2 files.
//!
//! Tests: `cargo test -p husk-cgroups` as root exercises the host's kernel
//! (tests/kernel.rs); `tests/vm/run.sh v2|v1` runs the same binaries in VMs
//! with pure cgroup v2 and pure (co-mounted) cgroup v1.

mod devices;
mod error;
mod fsutil;
mod host;
mod resources;
mod stats;
mod v1;
mod v2;

use std::io;
use std::os::fd::OwnedFd;
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

use oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Serialize};

pub use error::Error;
pub use host::Mode;
pub use resources::validate;
pub use stats::{
    BlkioEntry, BlkioStats, CpuStats, CpuUsage, HugetlbStats, MemoryEntry, MemoryStats, PidsStats,
    Stats, Throttling,
};

use fsutil::{exists, keyed, read, write};

/// See [`Cgroup::oom_state`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OomState {
    pub kills: u64,
    pub waiting: bool,
}

impl OomState {
    /// Whether an OOM happened between `earlier` and this state: a kill, or
    /// tasks starting to wait at the limit (nothing is killed then).
    pub fn is_new_oom_since(&self, earlier: &OomState) -> bool {
        self.kills > earlier.kills || (self.waiting && !earlier.waiting)
    }
}

/// Where relative `cgroupsPath` values are placed, in every hierarchy.
const DEFAULT_PARENT: &str = "husk";
/// How long to wait for the freezer, and for exiting processes to leave a
/// cgroup before it can be removed.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long `kill_all` tries to freeze before signalling anyway: a task that
/// cannot freeze is waiting in the kernel (for memory, under a disabled OOM
/// killer, say), where it cannot fork either, and the signal is what frees it.
const KILL_FREEZE_TIMEOUT: Duration = Duration::from_millis(100);
const POLL_INTERVAL: Duration = Duration::from_millis(2);
/// v2 controllers enabled for statistics even when no resource asks for them.
const STATS_CONTROLLERS: [&str; 6] = ["cpu", "cpuset", "io", "memory", "pids", "hugetlb"];

/// The container's cgroup in every hierarchy of the host.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cgroup {
    mode: Mode,
    v1: Vec<V1Dir>,
    unified: Option<UnifiedDir>,
}

/// The container's directory in one v1 hierarchy.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct V1Dir {
    /// Controllers bound to the hierarchy (`name=systemd` for named ones).
    controllers: Vec<String>,
    path: PathBuf,
    /// Directories husk created, outermost first; the last is `path` if any.
    created: Vec<PathBuf>,
}

/// The container's directory in the cgroup2 hierarchy.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct UnifiedDir {
    mount_point: PathBuf,
    path: PathBuf,
    created: Vec<PathBuf>,
}

/// Which interface drives a controller for this container.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Location<'a> {
    V1(&'a Path),
    V2(&'a Path),
}

/// How a feature appears in cgroup v2.
#[derive(Debug, Clone, Copy)]
pub(crate) enum V2Support<'a> {
    /// A controller that must be enabled in the ancestors' subtree_control.
    Controller(&'a str),
    /// Core files present in every non-root cgroup (cgroup.freeze, device BPF).
    Core,
    /// No v2 equivalent (net_cls, net_prio).
    Absent,
}

impl Cgroup {
    /// Creates the container's cgroup(s) and applies resources.
    ///
    /// `cgroups_path`: absolute = relative to each hierarchy's root;
    /// relative = under `/husk/`; absent = `/<container_id>`. A cgroup that
    /// already exists is reused only if it is empty and not frozen.
    /// On error, whatever was created is removed again.
    pub fn create(
        cgroups_path: Option<&Path>,
        container_id: &str,
        resources: Option<&LinuxResources>,
        systemd: bool,
    ) -> Result<Cgroup, Error> {
        if systemd {
            return Err(Error::SystemdDriverUnsupported);
        }
        validate(resources)?;
        let relative = resolve_path(cgroups_path, container_id)?;
        let host = host::detect()?;
        let mut cgroup = Cgroup {
            mode: host.mode,
            v1: Vec::new(),
            unified: None,
        };
        let result = cgroup
            .make_dirs(&host, &relative)
            .and_then(|()| cgroup.check_fit())
            .and_then(|()| {
                cgroup.enable_stats_controllers();
                cgroup.apply(resources, false)
            });
        if let Err(e) = result {
            // The creation error is what the user needs; a cleanup failure
            // would only hide it.
            let _ = cgroup.destroy();
            return Err(e);
        }
        Ok(cgroup)
    }

    /// The host's cgroup layout this container was created on.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The container's directory per hierarchy: `("cpu,cpuacct", path)` for
    /// v1, `("", path)` for the unified hierarchy (runc's state convention).
    pub fn paths(&self) -> Vec<(String, PathBuf)> {
        let v1 = self
            .v1
            .iter()
            .map(|d| (d.controllers.join(","), d.path.clone()));
        v1.chain(self.unified.iter().map(|u| (String::new(), u.path.clone())))
            .collect()
    }

    /// An `O_PATH` directory fd of the v2 cgroup for `clone3(CLONE_INTO_CGROUP)`.
    /// `None` on v1/hybrid hosts, and when `pids.max` is 0: the kernel applies
    /// the limit to a clone into the cgroup but not to a later move, so the
    /// caller must fork outside and use [`Cgroup::add_process`].
    pub fn unified_dir(&self) -> Option<OwnedFd> {
        let unified = self.unified.as_ref().filter(|_| self.mode == Mode::V2)?;
        if read("pids.max", &unified.path, "pids.max").is_ok_and(|v| v.trim() == "0") {
            return None;
        }
        open_dir(&unified.path, rustix::fs::OFlags::PATH).ok()
    }

    /// Moves `pid` into the container's cgroup in every hierarchy.
    pub fn add_process(&self, pid: i32) -> Result<(), Error> {
        let field = format!("adding process {pid}");
        for (dir, _) in self.hierarchies() {
            write(&field, dir, "cgroup.procs", &pid.to_string())?;
        }
        Ok(())
    }

    /// Adds `pid` to an existing sub-cgroup of the container (`exec --cgroup`):
    /// `sub` is a path relative to the container's cgroup, in every hierarchy,
    /// or `controller:path` for the v1 hierarchy of one controller.
    pub fn add_process_to(&self, pid: i32, sub: &str) -> Result<(), Error> {
        let field = "--cgroup";
        let (controller, relative) = match sub.split_once(':') {
            Some((c, p)) if self.mode != Mode::V2 => (Some(c), p),
            Some(_) => return Err(Error::Invalid { field: field.into(), reason: format!("{sub:?}: cgroup v2 has no per-controller paths") }),
            None => (None, sub),
        };
        let relative = Path::new(relative);
        if relative.as_os_str().is_empty()
            || relative.components().any(|c| !matches!(c, std::path::Component::Normal(_)))
        {
            return Err(Error::Invalid { field: field.into(), reason: format!("{sub:?} is not a path inside the container's cgroup") });
        }
        // The named hierarchies get the sub-cgroup, the others the container's own.
        let v1 = self.v1.iter().map(|d| (&d.path, controller.is_none_or(|c| d.controllers.iter().any(|k| k == c))));
        let unified = self.unified.iter().map(|u| (&u.path, controller.is_none()));
        let dirs: Vec<PathBuf> = v1.chain(unified).map(|(d, sub)| if sub { d.join(relative) } else { d.clone() }).collect();
        if !self.v1.iter().any(|d| controller.is_none_or(|c| d.controllers.iter().any(|k| k == c))) && controller.is_some() {
            return Err(Error::Invalid { field: field.into(), reason: format!("{sub:?}: no such controller in the container's cgroups") });
        }
        for dir in &dirs {
            if !dir.is_dir() {
                return Err(Error::Invalid { field: field.into(), reason: format!("sub-cgroup {} does not exist", dir.display()) });
            }
            write(field, dir, "cgroup.procs", &pid.to_string())?;
        }
        Ok(())
    }

    /// Hands the v2 cgroup to the container's user (spec "Cgroup ownership"):
    /// the directory and the files listed in /sys/kernel/cgroup/delegate.
    /// Does nothing on v1 and hybrid hosts, where delegation is not secure
    /// (the spec says SHOULD NOT).
    pub fn delegate_to(&self, uid: u32, gid: u32) -> Result<(), Error> {
        let Some(unified) = self.unified.as_ref().filter(|_| self.mode == Mode::V2) else {
            return Ok(());
        };
        let chown = |path: &Path| {
            std::os::unix::fs::chown(path, Some(uid), Some(gid)).map_err(|source| Error::Fs {
                op: "chown",
                path: path.to_owned(),
                source,
            })
        };
        chown(&unified.path)?;
        let listed = std::fs::read_to_string("/sys/kernel/cgroup/delegate").unwrap_or_else(|_| {
            "cgroup.procs\ncgroup.subtree_control\ncgroup.threads\n".to_owned()
        });
        for file in listed.lines().map(str::trim).filter(|f| !f.is_empty()) {
            // Not every listed file exists in every cgroup (spec: MUST NOT fail).
            if exists(&unified.path, file) {
                chown(&unified.path.join(file))?;
            }
        }
        Ok(())
    }

    /// Applies new resource limits (`husk update`).
    pub fn update(&self, resources: &LinuxResources) -> Result<(), Error> {
        validate(Some(resources))?;
        self.apply(Some(resources), true)
    }

    /// Freezes every process of the container and waits until the kernel
    /// reports the cgroup frozen. When it does not get there, the cgroup is
    /// thawed again: a failed pause leaves the container running, not half
    /// frozen.
    pub fn freeze(&self) -> Result<(), Error> {
        let frozen = self.freeze_within(SETTLE_TIMEOUT);
        if frozen.is_err() {
            // The freeze error is the one to report; should the thaw fail
            // too, `state` shows the container as paused, and resume retries.
            let _ = self.thaw();
        }
        frozen
    }

    fn freeze_within(&self, timeout: Duration) -> Result<(), Error> {
        let deadline = Instant::now() + timeout;
        match self.freezer()? {
            Location::V1(dir) => loop {
                // Writing again nudges tasks that were forking during the first attempt.
                write("freeze", dir, "freezer.state", "FROZEN")?;
                if read("freeze", dir, "freezer.state")?.trim() == "FROZEN" {
                    return Ok(());
                }
                wait_or_timeout(deadline, timeout, dir, "freeze")?;
            },
            Location::V2(dir) => {
                write("freeze", dir, "cgroup.freeze", "1")?;
                while keyed(&read("freeze", dir, "cgroup.events")?, "frozen") != Some(1) {
                    wait_or_timeout(deadline, timeout, dir, "freeze")?;
                }
                Ok(())
            }
        }
    }

    pub fn thaw(&self) -> Result<(), Error> {
        match self.freezer()? {
            Location::V1(dir) => write("thaw", dir, "freezer.state", "THAWED"),
            Location::V2(dir) => write("thaw", dir, "cgroup.freeze", "0"),
        }
    }

    pub fn is_frozen(&self) -> Result<bool, Error> {
        match self.freezer()? {
            Location::V1(dir) => {
                Ok(read("freezer state", dir, "freezer.state")?.trim() == "FROZEN")
            }
            Location::V2(dir) => {
                Ok(keyed(&read("freezer state", dir, "cgroup.events")?, "frozen") == Some(1))
            }
        }
    }

    /// Pids of every process in the container's cgroup and its descendants.
    pub fn pids(&self) -> Result<Vec<i32>, Error> {
        let mut pids = Vec::new();
        collect_pids(self.procs_dir()?, &mut pids)?;
        Ok(pids)
    }

    /// Sends `signal` to every process of the container. SIGKILL on v2 uses
    /// `cgroup.kill` (atomic, no process escapes by forking); otherwise the
    /// cgroup is frozen while signalling so that no new process appears.
    pub fn kill_all(&self, signal: i32) -> Result<(), Error> {
        if let Some(unified) = self
            .unified
            .as_ref()
            .filter(|u| self.mode == Mode::V2 && exists(&u.path, "cgroup.kill"))
        {
            if signal == libc::SIGKILL {
                return write("kill", &unified.path, "cgroup.kill", "1");
            }
        }
        if !(1..=libc::SIGRTMAX()).contains(&signal) {
            return Err(Error::Invalid { field: "signal".into(), reason: format!("{signal} is not a signal number") });
        }
        let frozen = self.freezer().is_ok();
        if frozen {
            match self.freeze_within(KILL_FREEZE_TIMEOUT) {
                Ok(()) | Err(Error::Timeout { .. }) => {}
                Err(other) => return Err(other),
            }
        }
        let sent = self.pids().and_then(|pids| {
            pids.into_iter().try_for_each(|pid| {
                match husk_sys::signal::kill(pid, signal) {
                    // Already exited.
                    Ok(()) => Ok(()),
                    Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(()),
                    Err(e) => Err(Error::Signal {
                        pid,
                        signal,
                        source: e,
                    }),
                }
            })
        });
        // Thaw even when signalling failed: a frozen container would hang.
        if frozen {
            self.thaw()?;
        }
        sent
    }

    /// Resource usage, in the shape of runc's `events --stats` data.
    pub fn stats(&self) -> Result<Stats, Error> {
        stats::collect(self)
    }

    /// Where the cgroup stands with the OOM killer: how many processes it has
    /// killed, and (v1, whose killer can be disabled) whether tasks are
    /// waiting at the memory limit instead.
    pub fn oom_state(&self) -> Result<OomState, Error> {
        let (dir, file) = match self.locate("memory", V2Support::Controller("memory")) {
            Some(Location::V1(dir)) => (dir, "memory.oom_control"),
            Some(Location::V2(dir)) => (dir, "memory.events"),
            None => {
                return Err(Error::Unsupported {
                    field: "oom notifications".into(),
                    reason: "no memory controller".into(),
                })
            }
        };
        let content = read("oom state", dir, file)?;
        let kills = keyed(&content, "oom_kill").ok_or_else(|| Error::Parse {
            path: dir.join(file),
            content: content.clone(),
            reason: "no oom_kill line (kernel older than 4.13?)",
        })?;
        Ok(OomState {
            kills,
            waiting: keyed(&content, "under_oom") == Some(1),
        })
    }

    /// Removes the directories husk created (the container's own descendant
    /// cgroups included), waiting briefly for exiting processes to leave.
    /// Shared parents that still have other children stay.
    pub fn destroy(&self) -> Result<(), Error> {
        let mut first_error = None;
        for (leaf, created) in self.hierarchies() {
            let mut result = Ok(());
            if created.last() == Some(leaf) {
                result = remove_descendants(leaf).and_then(|()| rmdir_waiting(leaf));
            }
            for parent in created.iter().rev().filter(|d| *d != leaf) {
                match std::fs::remove_dir(parent) {
                    Ok(()) => {}
                    // Still holds other containers' cgroups, or already gone.
                    Err(e)
                        if matches!(
                            e.raw_os_error(),
                            Some(libc::EBUSY | libc::ENOTEMPTY | libc::ENOENT)
                        ) =>
                    {
                        break
                    }
                    Err(source) => {
                        result = result.and(Err(Error::Fs {
                            op: "rmdir",
                            path: parent.clone(),
                            source,
                        }))
                    }
                }
            }
            if let Err(e) = result {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// The container's directory in every hierarchy, with the directories
    /// husk created there.
    fn hierarchies(&self) -> impl Iterator<Item = (&PathBuf, &[PathBuf])> {
        let v1 = self.v1.iter().map(|d| (&d.path, d.created.as_slice()));
        v1.chain(self.unified.iter().map(|u| (&u.path, u.created.as_slice())))
    }

    fn make_dirs(&mut self, host: &host::Host, relative: &Path) -> Result<(), Error> {
        for mount in &host.v1 {
            let mut created = Vec::new();
            let result = mkdir_all(&mount.mount_point, relative, &mut created);
            self.v1.push(V1Dir {
                controllers: mount.controllers.clone(),
                path: mount.mount_point.join(relative),
                created: created.clone(),
            });
            result?;
            if mount.controllers.iter().any(|c| c == "cpuset") {
                // Pre-existing ancestors may be unconfigured too (as runc's
                // ensureParent assumes): fill every empty level top-down.
                let mut dir = mount.mount_point.clone();
                for component in relative.components() {
                    dir.push(component);
                    inherit_cpuset(&dir)?;
                }
            }
        }
        if let Some(mount_point) = &host.unified {
            let mut created = Vec::new();
            let result = mkdir_all(mount_point, relative, &mut created);
            self.unified = Some(UnifiedDir {
                mount_point: mount_point.clone(),
                path: mount_point.join(relative),
                created,
            });
            result?;
        }
        Ok(())
    }

    /// Spec: a runtime MAY refuse an unfit cgroup. A pre-existing cgroup that
    /// is frozen or has processes would make this container share or hang.
    fn check_fit(&self) -> Result<(), Error> {
        let reused = self
            .hierarchies()
            .filter(|(path, created)| !created.contains(path));
        for (dir, _) in reused {
            if !read("checking the existing cgroup", dir, "cgroup.procs")?
                .trim()
                .is_empty()
            {
                return Err(Error::Unfit {
                    path: dir.clone(),
                    reason: "it already contains processes".into(),
                });
            }
        }
        if self.freezer().is_ok() && self.is_frozen()? {
            return Err(Error::Unfit {
                path: self.procs_dir()?.to_owned(),
                reason: "it is frozen".into(),
            });
        }
        Ok(())
    }

    /// Finds the interface for a feature: its v1 hierarchy if mounted, else the
    /// unified hierarchy if the controller is available there.
    pub(crate) fn locate(&self, v1_name: &str, v2: V2Support<'_>) -> Option<Location<'_>> {
        if let Some(d) = self
            .v1
            .iter()
            .find(|d| d.controllers.iter().any(|c| c == v1_name))
        {
            return Some(Location::V1(&d.path));
        }
        let unified = self.unified.as_ref()?;
        match v2 {
            V2Support::Controller(name) if self.available_in_v2(name) => {
                Some(Location::V2(&unified.path))
            }
            V2Support::Core => Some(Location::V2(&unified.path)),
            _ => None,
        }
    }

    fn available_in_v2(&self, controller: &str) -> bool {
        self.unified.as_ref().is_some_and(|u| {
            read("controllers", &u.mount_point, "cgroup.controllers")
                .is_ok_and(|c| c.split_whitespace().any(|x| x == controller))
        })
    }

    /// [`Cgroup::locate`] for applying `field`: errors when the host has no
    /// such controller, and enables a v2 controller in the ancestors.
    fn require(
        &self,
        field: &str,
        v1_name: &str,
        v2: V2Support<'_>,
    ) -> Result<Location<'_>, Error> {
        let location = self.locate(v1_name, v2).ok_or_else(|| Error::Unsupported {
            field: field.into(),
            reason: match v2 {
                V2Support::Absent if self.mode == Mode::V2 => format!("the {v1_name} controller exists only in cgroup v1"),
                _ => format!("the {v1_name} controller is neither mounted (cgroup v1) nor available in the unified hierarchy"),
            },
        })?;
        if let (Location::V2(_), V2Support::Controller(name)) = (location, v2) {
            self.enable_v2_controller(field, name)?;
        }
        Ok(location)
    }

    /// Enables `controller` in cgroup.subtree_control from the hierarchy root
    /// down to the container's parent, so the container's dir gets its files.
    fn enable_v2_controller(&self, field: &str, controller: &str) -> Result<(), Error> {
        let Some(unified) = &self.unified else {
            return Ok(());
        };
        let Ok(relative) = unified.path.strip_prefix(&unified.mount_point) else {
            return Ok(());
        };
        let mut dir = unified.mount_point.clone();
        for component in relative.components() {
            let enabled = read(field, &dir, "cgroup.subtree_control")?;
            if !enabled.split_whitespace().any(|c| c == controller) {
                write(
                    field,
                    &dir,
                    "cgroup.subtree_control",
                    &format!("+{controller}"),
                )?;
            }
            dir.push(component);
        }
        Ok(())
    }

    /// On pure v2 the usual controllers are enabled so that `husk events
    /// --stats` has numbers even without limits. Best effort: a controller a
    /// resource actually needs is enabled again, with errors, by `apply`.
    fn enable_stats_controllers(&self) {
        if self.mode != Mode::V2 {
            return;
        }
        for controller in STATS_CONTROLLERS.iter().filter(|c| self.available_in_v2(c)) {
            let _ = self.enable_v2_controller("statistics", controller);
        }
    }

    fn apply(&self, resources: Option<&LinuxResources>, updating: bool) -> Result<(), Error> {
        use V2Support::{Absent, Controller, Core};
        let Some(r) = resources else { return Ok(()) };
        // An empty object (some callers always send `"blockIO": {}`) asks for
        // nothing, so it must not require the controller.
        if let Some(m) = r.memory().as_ref().filter(|m| **m != Default::default()) {
            match self.require("linux.resources.memory", "memory", Controller("memory"))? {
                Location::V1(dir) => v1::memory(dir, m, updating)?,
                Location::V2(dir) => v2::memory(dir, m, updating)?,
            }
        }
        if let Some(c) = r.cpu() {
            let scheduler = [
                c.shares().is_some(),
                c.quota().is_some(),
                c.period().is_some(),
                c.burst().is_some(),
                c.idle().is_some(),
            ];
            let realtime = c.realtime_runtime().is_some() || c.realtime_period().is_some();
            if scheduler.contains(&true) || realtime {
                match self.require("linux.resources.cpu", "cpu", Controller("cpu"))? {
                    Location::V1(dir) => v1::cpu(dir, c)?,
                    Location::V2(dir) => v2::cpu(dir, c)?,
                }
            }
            if c.cpus().is_some() || c.mems().is_some() {
                let (Location::V1(dir) | Location::V2(dir)) =
                    self.require("linux.resources.cpu.cpus", "cpuset", Controller("cpuset"))?;
                v1::cpuset(dir, c)?;
            }
        }
        if let Some(p) = r.pids() {
            let (Location::V1(dir) | Location::V2(dir)) =
                self.require("linux.resources.pids", "pids", Controller("pids"))?;
            v1::pids(dir, p.limit())?;
        }
        if let Some(b) = r.block_io().as_ref().filter(|b| **b != Default::default()) {
            match self.require("linux.resources.blockIO", "blkio", Controller("io"))? {
                Location::V1(dir) => v1::blkio(dir, b)?,
                Location::V2(dir) => v2::io(dir, b)?,
            }
        }
        if let Some(limits) = r.hugepage_limits().as_deref().filter(|l| !l.is_empty()) {
            // Checked before the controller is enabled anywhere: a bad size
            // must not leave the host changed.
            let sizes = stats::hugepage_sizes();
            if let Some((i, l)) = limits
                .iter()
                .enumerate()
                .find(|(_, l)| !sizes.contains(l.page_size()))
            {
                return Err(Error::Unsupported {
                    field: format!("linux.resources.hugepageLimits[{i}].pageSize"),
                    reason: format!(
                        "the host has no {:?} huge pages (it has {sizes:?})",
                        l.page_size()
                    ),
                });
            }
            match self.require(
                "linux.resources.hugepageLimits",
                "hugetlb",
                Controller("hugetlb"),
            )? {
                Location::V1(dir) => v1::hugetlb(dir, limits)?,
                Location::V2(dir) => v2::hugetlb(dir, limits)?,
            }
        }
        if let Some(n) = r.network() {
            if let Some(class_id) = n.class_id() {
                let (Location::V1(dir) | Location::V2(dir)) =
                    self.require("linux.resources.network.classID", "net_cls", Absent)?;
                v1::net_cls(dir, class_id)?;
            }
            if n.priorities().as_ref().is_some_and(|p| !p.is_empty()) {
                let (Location::V1(dir) | Location::V2(dir)) =
                    self.require("linux.resources.network.priorities", "net_prio", Absent)?;
                v1::net_prio(dir, n)?;
            }
        }
        if let Some(rdma) = r.rdma().as_ref().filter(|m| !m.is_empty()) {
            let mut sorted: Vec<_> = rdma.iter().collect();
            sorted.sort_by(|a, b| a.0.cmp(b.0));
            match self.require("linux.resources.rdma", "rdma", Controller("rdma"))? {
                Location::V1(dir) => v1::rdma(dir, sorted.into_iter())?,
                Location::V2(dir) => v2::rdma(dir, sorted.into_iter())?,
            }
        }
        if let Some(list) = r.devices() {
            let rules = devices::parse_rules(list)?;
            match self.require("linux.resources.devices", "devices", Core)? {
                Location::V1(dir) => v1::devices(dir, &rules)?,
                Location::V2(dir) => v2::devices(dir, &rules)?,
            }
        }
        if let Some(unified) = r.unified() {
            self.apply_unified(unified)?;
        }
        Ok(())
    }

    /// `linux.resources.unified`: raw v2 files, written as given (spec: also
    /// keys husk does not know), after enabling their controller.
    fn apply_unified(
        &self,
        entries: &std::collections::HashMap<String, String>,
    ) -> Result<(), Error> {
        let mut sorted: Vec<_> = entries.iter().collect();
        sorted.sort();
        for (key, value) in sorted {
            let field = format!("linux.resources.unified.{key}");
            let Some(unified) = &self.unified else {
                return Err(Error::Unsupported {
                    field,
                    reason: "cgroup v2 is not mounted on this host".into(),
                });
            };
            resources::check_unified_key(key)?;
            let controller = key.split('.').next().unwrap_or_default();
            if controller != "cgroup" {
                if !self.available_in_v2(controller) {
                    return Err(Error::Unsupported {
                        field,
                        reason: format!("the {controller} controller is not available in the unified hierarchy at {}", unified.mount_point.display()),
                    });
                }
                self.enable_v2_controller(&field, controller)?;
            }
            v2::write_unified(&unified.path, key, value)?;
        }
        Ok(())
    }

    fn freezer(&self) -> Result<Location<'_>, Error> {
        self.locate("freezer", V2Support::Core)
            .ok_or_else(|| Error::Unsupported {
                field: "freezer".into(),
                reason: "no v1 freezer hierarchy is mounted and cgroup v2 is not available".into(),
            })
    }

    /// The hierarchy whose cgroup.procs lists the container's processes.
    fn procs_dir(&self) -> Result<&Path, Error> {
        let v1 = || {
            let freezer = self
                .v1
                .iter()
                .find(|d| d.controllers.iter().any(|c| c == "freezer"));
            freezer.or(self.v1.first()).map(|d| d.path.as_path())
        };
        let unified = self.unified.as_ref().map(|u| u.path.as_path());
        let dir = if self.mode == Mode::V2 {
            unified
        } else {
            v1().or(unified)
        };
        // Never fall back to a hierarchy root: its processes are the host's.
        dir.ok_or_else(|| Error::Invalid {
            field: "cgroup state".into(),
            reason: "it records no cgroup directory".into(),
        })
    }
}

/// Turns `linux.cgroupsPath` into a path relative to every hierarchy root.
fn resolve_path(cgroups_path: Option<&Path>, container_id: &str) -> Result<PathBuf, Error> {
    let invalid = |reason: String| Error::Invalid {
        field: "linux.cgroupsPath".into(),
        reason,
    };
    let (path, base) = match cgroups_path {
        None => (Path::new(container_id), PathBuf::new()),
        Some(p) if p.is_absolute() => (p, PathBuf::new()),
        Some(p) => (p, PathBuf::from(DEFAULT_PARENT)),
    };
    let text = path.to_string_lossy();
    if !path.is_absolute() && text.split(':').count() == 3 {
        return Err(invalid(format!("{text:?} has the systemd form slice:prefix:name, which needs the systemd cgroup driver (not implemented)")));
    }
    let mut relative = base;
    for component in path.components() {
        match component {
            Component::Normal(c) => relative.push(c),
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir | Component::Prefix(_) => {
                return Err(invalid(format!("{text:?} must not contain \"..\"")))
            }
        }
    }
    if relative.as_os_str().is_empty() {
        return Err(invalid(format!(
            "{text:?} names the root cgroup, which a container cannot own"
        )));
    }
    Ok(relative)
}

/// Creates `root/relative` level by level, recording each directory it made.
fn mkdir_all(root: &Path, relative: &Path, created: &mut Vec<PathBuf>) -> Result<(), Error> {
    let mut dir = root.to_owned();
    for component in relative.components() {
        dir.push(component);
        match std::fs::create_dir(&dir) {
            Ok(()) => created.push(dir.clone()),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(source) => {
                return Err(Error::Fs {
                    op: "mkdir",
                    path: dir,
                    source,
                })
            }
        }
    }
    Ok(())
}

/// A new v1 cpuset cgroup starts with no CPUs and no memory nodes, and
/// refuses processes until it gets some: copy the parent's.
fn inherit_cpuset(dir: &Path) -> Result<(), Error> {
    let parent = dir.parent().unwrap_or(dir);
    for file in ["cpuset.cpus", "cpuset.mems"] {
        if read("cpuset setup", dir, file)?.trim().is_empty() {
            write(
                "cpuset setup",
                dir,
                file,
                read("cpuset setup", parent, file)?.trim(),
            )?;
        }
    }
    Ok(())
}

pub(crate) fn open_dir(path: &Path, extra: rustix::fs::OFlags) -> Result<OwnedFd, Error> {
    use rustix::fs::OFlags;
    rustix::fs::open(
        path,
        OFlags::DIRECTORY | OFlags::CLOEXEC | extra,
        rustix::fs::Mode::empty(),
    )
    .map_err(|e| Error::Fs {
        op: "open",
        path: path.to_owned(),
        source: e.into(),
    })
}

fn collect_pids(dir: &Path, pids: &mut Vec<i32>) -> Result<(), Error> {
    let procs = read("listing processes", dir, "cgroup.procs")?;
    pids.extend(procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
    for child in child_cgroups(dir)? {
        collect_pids(&child, pids)?;
    }
    Ok(())
}

fn child_cgroups(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let fs_err = |source| Error::Fs {
        op: "readdir",
        path: dir.to_owned(),
        source,
    };
    let mut children = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(fs_err)? {
        let entry = entry.map_err(fs_err)?;
        if entry.file_type().map_err(fs_err)?.is_dir() {
            children.push(entry.path());
        }
    }
    Ok(children)
}

/// Removes the cgroups the container created below its own, deepest first.
fn remove_descendants(dir: &Path) -> Result<(), Error> {
    let children = match child_cgroups(dir) {
        Err(Error::Fs { source, .. }) if source.kind() == io::ErrorKind::NotFound => return Ok(()),
        other => other?,
    };
    for child in children {
        remove_descendants(&child)?;
        rmdir_waiting(&child)?;
    }
    Ok(())
}

/// rmdir, retrying while the kernel still counts exiting processes (EBUSY).
fn rmdir_waiting(dir: &Path) -> Result<(), Error> {
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    loop {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                std::thread::sleep(POLL_INTERVAL)
            }
            Err(source) => {
                return Err(Error::Fs {
                    op: "rmdir",
                    path: dir.to_owned(),
                    source,
                })
            }
        }
    }
}

fn wait_or_timeout(
    deadline: Instant,
    timeout: Duration,
    dir: &Path,
    goal: &'static str,
) -> Result<(), Error> {
    if Instant::now() >= deadline {
        return Err(Error::Timeout {
            path: dir.to_owned(),
            goal,
            ms: timeout.as_millis() as u64,
        });
    }
    std::thread::sleep(POLL_INTERVAL);
    Ok(())
}

/// The `linux.cgroup` object of `husk features`.
pub fn features() -> oci_spec::runtime::Cgroup {
    oci_spec::runtime::CgroupBuilder::default()
        .v1(true)
        .v2(true)
        .systemd(false)
        .systemd_user(false)
        .rdma(true)
        .build()
        .expect("every field is set")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroups_path_resolution() {
        assert_eq!(resolve_path(None, "abc").unwrap(), PathBuf::from("abc"));
        assert_eq!(
            resolve_path(Some(Path::new("/a/b")), "x").unwrap(),
            PathBuf::from("a/b")
        );
        assert_eq!(
            resolve_path(Some(Path::new("a//./b")), "x").unwrap(),
            PathBuf::from("husk/a/b")
        );
        for bad in ["/a/../b", "/", "system.slice:husk:abc", ".."] {
            match resolve_path(Some(Path::new(bad)), "x") {
                Err(Error::Invalid { field, .. }) => assert_eq!(field, "linux.cgroupsPath"),
                other => panic!("{bad}: {other:?}"),
            }
        }
        assert!(resolve_path(None, "..").is_err());
    }

    #[test]
    fn systemd_driver_is_refused_before_touching_the_host() {
        let err = Cgroup::create(None, "x", None, true).unwrap_err();
        assert!(matches!(err, Error::SystemdDriverUnsupported), "{err}");
        assert!(err.to_string().contains("--systemd-cgroup"));
    }

    #[test]
    fn features_report() {
        let f = serde_json::to_value(features()).unwrap();
        assert_eq!(
            f,
            serde_json::json!({"v1": true, "v2": true, "systemd": false, "systemdUser": false, "rdma": true})
        );
    }

    #[test]
    fn empty_state_never_falls_back_to_the_host_root() {
        let cg: Cgroup =
            serde_json::from_str(r#"{"mode": "v1", "v1": [], "unified": null}"#).unwrap();
        assert!(cg.pids().is_err());
        assert!(cg.kill_all(libc::SIGKILL).is_err());
        assert!(cg.paths().is_empty());
    }

    #[test]
    fn cgroup_state_round_trips_through_json() {
        let cg = Cgroup {
            mode: Mode::Hybrid,
            v1: vec![V1Dir {
                controllers: vec!["cpu".into(), "cpuacct".into()],
                path: "/sys/fs/cgroup/cpu/x".into(),
                created: vec!["/sys/fs/cgroup/cpu/x".into()],
            }],
            unified: Some(UnifiedDir {
                mount_point: "/sys/fs/cgroup/unified".into(),
                path: "/sys/fs/cgroup/unified/x".into(),
                created: vec![],
            }),
        };
        let back: Cgroup = serde_json::from_str(&serde_json::to_string(&cg).unwrap()).unwrap();
        assert_eq!(back.paths(), cg.paths());
        assert_eq!(back.paths()[0].0, "cpu,cpuacct");
    }
}
