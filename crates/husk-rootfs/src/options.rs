//! Parsing of `mounts[].options` into what the mount code needs: `MS_*` flags
//! for `mount(2)`, `MOUNT_ATTR_*` changes for `mount_setattr(2)` and the
//! husk-level switches (bind, tmpcopyup, idmap...). Anything not in the table
//! is filesystem-specific data, passed through to the filesystem.

use husk_sys::mount::{
    MOUNT_ATTR_ATIME_MASK, MOUNT_ATTR_NOATIME, MOUNT_ATTR_NODEV, MOUNT_ATTR_NODIRATIME, MOUNT_ATTR_NOEXEC,
    MOUNT_ATTR_NOSUID, MOUNT_ATTR_NOSYMFOLLOW, MOUNT_ATTR_RDONLY, MOUNT_ATTR_RELATIME, MOUNT_ATTR_STRICTATIME,
};
use libc::c_uint;

/// A change of mount attributes: bits to set and bits to clear.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AttrChange {
    pub set: u64,
    pub clear: u64,
}

impl AttrChange {
    pub fn is_empty(&self) -> bool {
        self.set == 0 && self.clear == 0
    }

    fn apply(&mut self, change: AttrChange) {
        self.set = (self.set & !change.clear) | change.set;
        self.clear = (self.clear & !change.set) | change.clear;
    }
}

/// Mount propagation type, as `MS_*` value understood by `mount_setattr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Propagation {
    pub flag: u64,
    pub recursive: bool,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct MountOptions {
    /// `MS_*` flags for `mount(2)` (new filesystems and remounts).
    pub ms_flags: c_uint,
    /// The per-mount flags again as an attribute change, for bind mounts: it
    /// only touches what the options name, so the source's locked flags stay.
    pub attr: AttrChange,
    /// `r*` options: applied to the whole subtree with `AT_RECURSIVE`.
    pub recursive_attr: AttrChange,
    pub propagation: Vec<Propagation>,
    /// `Some(recursive)` for `bind` / `rbind`.
    pub bind: Option<bool>,
    pub remount: bool,
    pub tmpcopyup: bool,
    /// `Some(recursive)` for `idmap` / `ridmap`.
    pub idmap: Option<bool>,
    /// Superblock options given (they would change the source filesystem
    /// when used on a bind mount, so binds reject them).
    pub superblock_options: Vec<&'static str>,
    /// Filesystem-specific options, comma-joined for `mount(2)`'s data.
    pub data: String,
}

#[derive(Clone, Copy)]
enum Effect {
    /// Per-mount flag: `MS_*` bit set (or cleared) plus the matching attribute change.
    Mount { ms: c_uint, set: bool, attr: AttrChange },
    /// Superblock flag: `MS_*` bit set or cleared.
    Superblock { ms: c_uint, set: bool },
    Recursive(AttrChange),
    Propagation(Propagation),
    Bind { recursive: bool },
    Remount,
    TmpCopyUp,
    IdMap { recursive: bool },
    /// `MS_SILENT`: only affects kernel log noise.
    Silent(bool),
    Defaults,
}

const fn set_attr(bits: u64) -> AttrChange {
    AttrChange { set: bits, clear: 0 }
}
const fn clear_attr(bits: u64) -> AttrChange {
    AttrChange { set: 0, clear: bits }
}
/// An atime mode replaces the previous one, so the whole mask is cleared.
const fn atime_mode(mode: u64) -> AttrChange {
    AttrChange { set: mode, clear: MOUNT_ATTR_ATIME_MASK }
}

const MS_RDONLY: c_uint = libc::MS_RDONLY as c_uint;
const MS_NOSUID: c_uint = libc::MS_NOSUID as c_uint;
const MS_NODEV: c_uint = libc::MS_NODEV as c_uint;
const MS_NOEXEC: c_uint = libc::MS_NOEXEC as c_uint;
const MS_NOATIME: c_uint = libc::MS_NOATIME as c_uint;
const MS_NODIRATIME: c_uint = libc::MS_NODIRATIME as c_uint;
const MS_RELATIME: c_uint = libc::MS_RELATIME as c_uint;
const MS_STRICTATIME: c_uint = libc::MS_STRICTATIME as c_uint;
const MS_NOSYMFOLLOW: c_uint = libc::MS_NOSYMFOLLOW as c_uint;

const fn mount_flag(ms: c_uint, on: bool, attr: AttrChange) -> Effect {
    Effect::Mount { ms, set: on, attr }
}
const fn superblock(ms: libc::c_ulong, on: bool) -> Effect {
    Effect::Superblock { ms: ms as c_uint, set: on }
}
const fn propagation(flag: u64, recursive: bool) -> Effect {
    Effect::Propagation(Propagation { flag, recursive })
}

/// Every option husk implements, with its effect.
///
/// The "negative" atime options (`atime`, `norelatime`, `nostrictatime` and
/// their recursive forms) restore the kernel's default atime mode, relatime,
/// exactly as leaving the flag out of `mount(2)` does.
const TABLE: &[(&str, Effect)] = &[
    ("ro", mount_flag(MS_RDONLY, true, set_attr(MOUNT_ATTR_RDONLY))),
    ("rw", mount_flag(MS_RDONLY, false, clear_attr(MOUNT_ATTR_RDONLY))),
    ("nosuid", mount_flag(MS_NOSUID, true, set_attr(MOUNT_ATTR_NOSUID))),
    ("suid", mount_flag(MS_NOSUID, false, clear_attr(MOUNT_ATTR_NOSUID))),
    ("nodev", mount_flag(MS_NODEV, true, set_attr(MOUNT_ATTR_NODEV))),
    ("dev", mount_flag(MS_NODEV, false, clear_attr(MOUNT_ATTR_NODEV))),
    ("noexec", mount_flag(MS_NOEXEC, true, set_attr(MOUNT_ATTR_NOEXEC))),
    ("exec", mount_flag(MS_NOEXEC, false, clear_attr(MOUNT_ATTR_NOEXEC))),
    ("noatime", mount_flag(MS_NOATIME, true, atime_mode(MOUNT_ATTR_NOATIME))),
    ("atime", mount_flag(MS_NOATIME, false, atime_mode(MOUNT_ATTR_RELATIME))),
    ("relatime", mount_flag(MS_RELATIME, true, atime_mode(MOUNT_ATTR_RELATIME))),
    ("norelatime", mount_flag(MS_RELATIME, false, atime_mode(MOUNT_ATTR_RELATIME))),
    ("strictatime", mount_flag(MS_STRICTATIME, true, atime_mode(MOUNT_ATTR_STRICTATIME))),
    ("nostrictatime", mount_flag(MS_STRICTATIME, false, atime_mode(MOUNT_ATTR_RELATIME))),
    ("nodiratime", mount_flag(MS_NODIRATIME, true, set_attr(MOUNT_ATTR_NODIRATIME))),
    ("diratime", mount_flag(MS_NODIRATIME, false, clear_attr(MOUNT_ATTR_NODIRATIME))),
    ("nosymfollow", mount_flag(MS_NOSYMFOLLOW, true, set_attr(MOUNT_ATTR_NOSYMFOLLOW))),
    ("symfollow", mount_flag(MS_NOSYMFOLLOW, false, clear_attr(MOUNT_ATTR_NOSYMFOLLOW))),
    ("sync", superblock(libc::MS_SYNCHRONOUS, true)),
    ("async", superblock(libc::MS_SYNCHRONOUS, false)),
    ("dirsync", superblock(libc::MS_DIRSYNC, true)),
    ("mand", superblock(libc::MS_MANDLOCK, true)),
    ("nomand", superblock(libc::MS_MANDLOCK, false)),
    ("lazytime", superblock(libc::MS_LAZYTIME, true)),
    ("nolazytime", superblock(libc::MS_LAZYTIME, false)),
    ("iversion", superblock(libc::MS_I_VERSION, true)),
    ("noiversion", superblock(libc::MS_I_VERSION, false)),
    ("silent", Effect::Silent(true)),
    ("loud", Effect::Silent(false)),
    ("defaults", Effect::Defaults),
    ("remount", Effect::Remount),
    ("bind", Effect::Bind { recursive: false }),
    ("rbind", Effect::Bind { recursive: true }),
    ("private", propagation(libc::MS_PRIVATE, false)),
    ("rprivate", propagation(libc::MS_PRIVATE, true)),
    ("shared", propagation(libc::MS_SHARED, false)),
    ("rshared", propagation(libc::MS_SHARED, true)),
    ("slave", propagation(libc::MS_SLAVE, false)),
    ("rslave", propagation(libc::MS_SLAVE, true)),
    ("unbindable", propagation(libc::MS_UNBINDABLE, false)),
    ("runbindable", propagation(libc::MS_UNBINDABLE, true)),
    ("rro", Effect::Recursive(set_attr(MOUNT_ATTR_RDONLY))),
    ("rrw", Effect::Recursive(clear_attr(MOUNT_ATTR_RDONLY))),
    ("rnosuid", Effect::Recursive(set_attr(MOUNT_ATTR_NOSUID))),
    ("rsuid", Effect::Recursive(clear_attr(MOUNT_ATTR_NOSUID))),
    ("rnodev", Effect::Recursive(set_attr(MOUNT_ATTR_NODEV))),
    ("rdev", Effect::Recursive(clear_attr(MOUNT_ATTR_NODEV))),
    ("rnoexec", Effect::Recursive(set_attr(MOUNT_ATTR_NOEXEC))),
    ("rexec", Effect::Recursive(clear_attr(MOUNT_ATTR_NOEXEC))),
    ("rnodiratime", Effect::Recursive(set_attr(MOUNT_ATTR_NODIRATIME))),
    ("rdiratime", Effect::Recursive(clear_attr(MOUNT_ATTR_NODIRATIME))),
    ("rnoatime", Effect::Recursive(atime_mode(MOUNT_ATTR_NOATIME))),
    ("ratime", Effect::Recursive(atime_mode(MOUNT_ATTR_RELATIME))),
    ("rrelatime", Effect::Recursive(atime_mode(MOUNT_ATTR_RELATIME))),
    ("rnorelatime", Effect::Recursive(atime_mode(MOUNT_ATTR_RELATIME))),
    ("rstrictatime", Effect::Recursive(atime_mode(MOUNT_ATTR_STRICTATIME))),
    ("rnostrictatime", Effect::Recursive(atime_mode(MOUNT_ATTR_RELATIME))),
    ("rnosymfollow", Effect::Recursive(set_attr(MOUNT_ATTR_NOSYMFOLLOW))),
    ("rsymfollow", Effect::Recursive(clear_attr(MOUNT_ATTR_NOSYMFOLLOW))),
    ("tmpcopyup", Effect::TmpCopyUp),
    ("idmap", Effect::IdMap { recursive: false }),
    ("ridmap", Effect::IdMap { recursive: true }),
];

/// Options that contradict each other when both are given. The recursive
/// forms of the per-mount pairs are checked as well (`rro` vs `rrw`...).
const CONFLICTS: &[(&str, &str)] = &[
    ("ro", "rw"),
    ("nosuid", "suid"),
    ("nodev", "dev"),
    ("noexec", "exec"),
    ("noatime", "atime"),
    ("relatime", "norelatime"),
    ("strictatime", "nostrictatime"),
    ("noatime", "relatime"),
    ("noatime", "strictatime"),
    ("relatime", "strictatime"),
    ("nodiratime", "diratime"),
    ("nosymfollow", "symfollow"),
    ("sync", "async"),
    ("mand", "nomand"),
    ("lazytime", "nolazytime"),
    ("iversion", "noiversion"),
    ("silent", "loud"),
    ("idmap", "ridmap"),
];

/// The option names listed in `husk features`.
pub const MOUNT_OPTIONS: &[&str] = &[
    "async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec", "idmap", "iversion",
    "lazytime", "loud", "mand", "noatime", "nodev", "nodiratime", "noexec", "noiversion", "nolazytime",
    "nomand", "norelatime", "nostrictatime", "nosuid", "nosymfollow", "private", "ratime", "rbind",
    "rdev", "rdiratime", "relatime", "remount", "rexec", "ridmap", "rnoatime", "rnodev", "rnodiratime",
    "rnoexec", "rnorelatime", "rnostrictatime", "rnosuid", "rnosymfollow", "ro", "rprivate", "rrelatime",
    "rro", "rrw", "rshared", "rslave", "rstrictatime", "rsuid", "rsymfollow", "runbindable", "rw",
    "shared", "silent", "slave", "strictatime", "suid", "symfollow", "sync", "tmpcopyup", "unbindable",
];

fn lookup(option: &str) -> Option<(&'static str, Effect)> {
    TABLE.iter().find(|(name, _)| *name == option).copied()
}

fn effect_of(option: &str) -> Option<Effect> {
    lookup(option).map(|(_, effect)| effect)
}

/// Why an option list was rejected.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum OptionError {
    Conflict(String, String),
    Empty,
}

impl std::fmt::Display for OptionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OptionError::Conflict(a, b) => write!(f, "option {a:?} conflicts with option {b:?}"),
            OptionError::Empty => f.write_str("empty mount option"),
        }
    }
}

pub(crate) fn parse(options: &[String]) -> Result<MountOptions, OptionError> {
    check_conflicts(options)?;
    let mut parsed = MountOptions::default();
    let mut data: Vec<&str> = Vec::new();
    for option in options {
        let Some((name, effect)) = lookup(option) else {
            if option.is_empty() {
                return Err(OptionError::Empty);
            }
            data.push(option);
            continue;
        };
        match effect {
            Effect::Mount { ms, set, attr } => {
                parsed.ms_flags = if set { parsed.ms_flags | ms } else { parsed.ms_flags & !ms };
                parsed.attr.apply(attr);
            }
            Effect::Superblock { ms, set } => {
                parsed.ms_flags = if set { parsed.ms_flags | ms } else { parsed.ms_flags & !ms };
                parsed.superblock_options.push(name);
            }
            Effect::Silent(on) => {
                let ms = libc::MS_SILENT as c_uint;
                parsed.ms_flags = if on { parsed.ms_flags | ms } else { parsed.ms_flags & !ms };
            }
            Effect::Recursive(attr) => parsed.recursive_attr.apply(attr),
            Effect::Propagation(p) => parsed.propagation.push(p),
            Effect::Bind { recursive } => parsed.bind = Some(recursive || parsed.bind == Some(true)),
            Effect::Remount => parsed.remount = true,
            Effect::TmpCopyUp => parsed.tmpcopyup = true,
            Effect::IdMap { recursive } => parsed.idmap = Some(recursive),
            Effect::Defaults => {}
        }
    }
    parsed.data = data.join(",");
    Ok(parsed)
}

fn check_conflicts(options: &[String]) -> Result<(), OptionError> {
    let has = |name: &str| options.iter().any(|o| o == name);
    for (a, b) in CONFLICTS {
        if has(a) && has(b) {
            return Err(OptionError::Conflict(a.to_string(), b.to_string()));
        }
        let (ra, rb) = (format!("r{a}"), format!("r{b}"));
        if effect_of(&ra).is_some() && effect_of(&rb).is_some() && has(&ra) && has(&rb) {
            return Err(OptionError::Conflict(ra, rb));
        }
    }
    let mut propagation = options.iter().filter(|o| matches!(effect_of(o), Some(Effect::Propagation(_))));
    if let Some(first) = propagation.next() {
        let kind = first.trim_start_matches('r');
        // "private"/"rprivate" is one kind; runbindable starts with 'r' too
        // but trimming it still yields "unbindable".
        if let Some(other) = propagation.find(|o| o.trim_start_matches('r') != kind) {
            return Err(OptionError::Conflict(first.clone(), other.clone()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn every_table_entry_is_advertised_and_vice_versa() {
        let mut table: Vec<&str> = TABLE.iter().map(|(n, _)| *n).collect();
        table.sort_unstable();
        let mut advertised = MOUNT_OPTIONS.to_vec();
        advertised.sort_unstable();
        assert_eq!(table, advertised);
    }

    #[test]
    fn flags_and_attrs_for_a_read_only_bind() {
        let parsed = parse(&opts(&["rbind", "ro", "nosuid", "nodev", "rprivate"])).unwrap();
        assert_eq!(parsed.bind, Some(true));
        assert_eq!(parsed.ms_flags, MS_RDONLY | MS_NOSUID | MS_NODEV);
        assert_eq!(parsed.attr, set_attr(MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV));
        assert_eq!(parsed.propagation, vec![Propagation { flag: libc::MS_PRIVATE, recursive: true }]);
        assert!(parsed.data.is_empty());
    }

    #[test]
    fn later_option_wins_within_a_flag() {
        let parsed = parse(&opts(&["noexec", "defaults", "suid"])).unwrap();
        assert_eq!(parsed.ms_flags, MS_NOEXEC);
        assert_eq!(parsed.attr, AttrChange { set: MOUNT_ATTR_NOEXEC, clear: MOUNT_ATTR_NOSUID });
    }

    #[test]
    fn unknown_options_become_filesystem_data_in_order() {
        let parsed = parse(&opts(&["newinstance", "ptmxmode=0666", "nosuid", "mode=0620", "gid=5"])).unwrap();
        assert_eq!(parsed.data, "newinstance,ptmxmode=0666,mode=0620,gid=5");
        assert_eq!(parsed.ms_flags, MS_NOSUID);
    }

    #[test]
    fn recursive_atime_modes_clear_the_whole_mask() {
        // mount_setattr rejects a partial atime mask with EINVAL.
        for option in ["rnoatime", "ratime", "rrelatime", "rnorelatime", "rstrictatime", "rnostrictatime"] {
            let parsed = parse(&opts(&[option])).unwrap();
            assert_eq!(parsed.recursive_attr.clear & MOUNT_ATTR_ATIME_MASK, MOUNT_ATTR_ATIME_MASK, "{option}");
        }
        assert_eq!(parse(&opts(&["rnoatime"])).unwrap().recursive_attr.set, MOUNT_ATTR_NOATIME);
    }

    #[test]
    fn superblock_options_are_recorded() {
        let parsed = parse(&opts(&["sync", "dirsync", "ro"])).unwrap();
        assert_eq!(parsed.superblock_options, vec!["sync", "dirsync"]);
        assert_eq!(parsed.ms_flags, MS_RDONLY | libc::MS_SYNCHRONOUS as c_uint | libc::MS_DIRSYNC as c_uint);
    }

    #[test]
    fn conflicting_pairs_are_rejected() {
        assert_eq!(parse(&opts(&["ro", "nosuid", "rw"])), Err(OptionError::Conflict("ro".into(), "rw".into())));
        assert_eq!(parse(&opts(&["rro", "rrw"])), Err(OptionError::Conflict("rro".into(), "rrw".into())));
        assert_eq!(
            parse(&opts(&["noatime", "strictatime"])),
            Err(OptionError::Conflict("noatime".into(), "strictatime".into()))
        );
        assert_eq!(
            parse(&opts(&["shared", "rslave"])),
            Err(OptionError::Conflict("shared".into(), "rslave".into()))
        );
        assert_eq!(parse(&opts(&["idmap", "ridmap"])), Err(OptionError::Conflict("idmap".into(), "ridmap".into())));
    }

    #[test]
    fn compatible_combinations_are_accepted() {
        assert!(parse(&opts(&["ro", "rro", "bind", "rbind"])).is_ok());
        assert!(parse(&opts(&["private", "rprivate"])).is_ok());
        assert!(parse(&opts(&["unbindable", "runbindable"])).is_ok());
        assert_eq!(parse(&opts(&["bind", "rbind"])).unwrap().bind, Some(true));
    }

    #[test]
    fn empty_option_is_rejected() {
        assert_eq!(parse(&opts(&["ro", ""])), Err(OptionError::Empty));
    }

    #[test]
    fn husk_switches() {
        let parsed = parse(&opts(&["tmpcopyup", "ridmap", "remount"])).unwrap();
        assert!(parsed.tmpcopyup && parsed.remount);
        assert_eq!(parsed.idmap, Some(true));
        assert_eq!(parsed.ms_flags, 0);
    }
}
