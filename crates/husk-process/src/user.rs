//! `process.user`: supplementary groups, gid, uid and umask.

use oci_spec::runtime::User;
use rustix::fs::Mode;
use rustix::io::Errno;
use rustix::process::{umask, Gid, Uid};
use rustix::thread::{
    capabilities, set_capabilities, set_keep_capabilities, set_thread_groups, set_thread_res_gid,
    set_thread_res_uid,
};

use crate::Error;

/// `(uid_t)-1`/`(gid_t)-1` mean "leave unchanged" to setres[ug]id, so a
/// process configured with that id would silently keep root's.
const UNCHANGED_ID: u32 = u32::MAX;

pub(crate) fn validate(user: &User) -> Result<(), Error> {
    let ids = [("process.user.uid", user.uid()), ("process.user.gid", user.gid())]
        .into_iter()
        .chain(user.additional_gids().iter().flatten().map(|&g| ("process.user.additionalGids", g)));
    for (field, id) in ids {
        if id == UNCHANGED_ID {
            return Err(Error::invalid(field, id, "4294967295 is not a valid id ((uid_t)-1 means \"unchanged\")"));
        }
    }
    if let Some(mask) = user.umask() {
        if mask > 0o777 {
            return Err(Error::invalid("process.user.umask", format!("{mask:#o}"), "umask must be at most 0777"));
        }
    }
    Ok(())
}

/// Switches the calling (single-threaded) process to `user`: supplementary
/// groups, then gid, then uid, then the umask if one is configured.
///
/// The permitted capabilities survive the switch (`PR_SET_KEEPCAPS`) and the
/// effective set is restored from them afterwards, so that
/// [`crate::apply_capabilities`] can still shape every set. Without a
/// following `apply_capabilities` the process would keep root's capabilities.
pub fn switch_user(user: &User) -> Result<(), Error> {
    validate(user)?;
    let groups: Vec<Gid> = user.additional_gids().iter().flatten().map(|&g| Gid::from_raw(g)).collect();
    match set_thread_groups(&groups) {
        Ok(()) => {}
        // A user namespace with setgroups "deny" (rootless) refuses even an
        // empty list; nothing was requested then, so nothing is lost.
        Err(Errno::PERM) if groups.is_empty() => {}
        Err(e) => {
            return Err(Error::syscall("process.user.additionalGids", format!("{groups:?}"), "setgroups", e));
        }
    }

    let gid = Gid::from_raw(user.gid());
    set_thread_res_gid(gid, gid, gid).map_err(|e| Error::syscall("process.user.gid", user.gid(), "setresgid", e))?;

    set_keep_capabilities(true)
        .map_err(|e| Error::syscall("process.user.uid", user.uid(), "prctl(PR_SET_KEEPCAPS)", e))?;
    let uid = Uid::from_raw(user.uid());
    set_thread_res_uid(uid, uid, uid).map_err(|e| Error::syscall("process.user.uid", user.uid(), "setresuid", e))?;
    set_keep_capabilities(false)
        .map_err(|e| Error::syscall("process.user.uid", user.uid(), "prctl(PR_SET_KEEPCAPS)", e))?;
    // Leaving root cleared the effective set; the permitted one was kept.
    let restore_effective = || -> rustix::io::Result<()> {
        let mut sets = capabilities(None)?;
        sets.effective = sets.permitted;
        set_capabilities(None, sets)
    };
    restore_effective().map_err(|e| Error::syscall("process.user.uid", user.uid(), "capget/capset", e))?;

    if let Some(mask) = user.umask() {
        umask(Mode::from_bits_truncate(mask));
    }
    Ok(())
}

/// Parses the numeric `uid[:gid]` form `exec --user` takes. A missing gid is
/// 0, as with runc; the uid is always the one given (CVE-2026-30892: `-u 1`
/// must never run as uid 0).
pub fn parse_user_spec(spec: &str) -> Result<(u32, u32), Error> {
    let parse_id = |part: &str, what: &str| -> Result<u32, Error> {
        let id = if !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()) { part.parse::<u32>().ok() } else { None };
        match id {
            Some(id) if id != UNCHANGED_ID => Ok(id),
            _ => Err(Error::invalid(
                "--user",
                spec,
                format!("{what} must be a decimal number below 4294967295 (format: uid[:gid])"),
            )),
        }
    };
    match spec.split_once(':') {
        None => Ok((parse_id(spec, "uid")?, 0)),
        Some((uid, gid)) => Ok((parse_id(uid, "uid")?, parse_id(gid, "gid")?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{in_forked_child, require_root};
    use rustix::process::{getgid, getuid};

    #[test]
    fn user_spec_uid_only_keeps_the_uid_and_defaults_gid_to_zero() {
        assert_eq!(parse_user_spec("1").unwrap(), (1, 0));
        assert_eq!(parse_user_spec("0").unwrap(), (0, 0));
        assert_eq!(parse_user_spec("1:2").unwrap(), (1, 2));
        assert_eq!(parse_user_spec("1000:1000").unwrap(), (1000, 1000));
    }

    #[test]
    fn user_spec_rejects_everything_else() {
        for bad in ["", ":", "1:", ":1", "-1", "+1", " 1", "1 ", "a", "1:2:3", "root", "4294967295", "1:4294967295", "99999999999"] {
            let err = parse_user_spec(bad).expect_err(bad).to_string();
            assert!(err.starts_with("--user"), "{bad}: {err}");
        }
    }

    #[test]
    fn unchanged_ids_are_rejected_in_the_config() {
        let user: User = serde_json::from_str(r#"{"uid":4294967295,"gid":0}"#).unwrap();
        assert!(validate(&user).unwrap_err().to_string().starts_with("process.user.uid"));
        let user: User = serde_json::from_str(r#"{"uid":0,"gid":0,"additionalGids":[4294967295]}"#).unwrap();
        assert!(validate(&user).unwrap_err().to_string().starts_with("process.user.additionalGids"));
        let user: User = serde_json::from_str(r#"{"uid":0,"gid":0,"umask":4096}"#).unwrap();
        assert!(validate(&user).unwrap_err().to_string().starts_with("process.user.umask"));
    }

    #[test]
    fn switch_sets_ids_groups_umask_and_keeps_capabilities() {
        if !require_root() {
            return;
        }
        let user: User =
            serde_json::from_str(r#"{"uid":1234,"gid":2345,"umask":18,"additionalGids":[7,8,9]}"#).unwrap();
        in_forked_child(|| {
            switch_user(&user).map_err(|e| e.to_string())?;
            let ids = (getuid().as_raw(), rustix::process::geteuid().as_raw(), getgid().as_raw());
            if ids != (1234, 1234, 2345) {
                return Err(format!("uid/euid/gid {ids:?}"));
            }
            let status = std::fs::read_to_string("/proc/self/status").unwrap();
            for want in ["Uid:\t1234\t1234\t1234\t1234", "Gid:\t2345\t2345\t2345\t2345", "Groups:\t7 8 9"] {
                if !status.lines().any(|l| l.trim_end() == want) {
                    return Err(format!("missing {want:?} in status"));
                }
            }
            let groups: Vec<u32> = rustix::process::getgroups().unwrap().iter().map(|g| g.as_raw()).collect();
            if groups != [7, 8, 9] {
                return Err(format!("groups {groups:?}"));
            }
            let old = umask(Mode::empty());
            if old.bits() != 0o022 {
                return Err(format!("umask {:o}", old.bits()));
            }
            let sets = capabilities(None).unwrap();
            if sets.effective != sets.permitted || sets.permitted.is_empty() {
                return Err(format!("capabilities not kept: {sets:?}"));
            }
            Ok(())
        })
        .unwrap();
    }

    #[test]
    fn switch_without_groups_clears_inherited_ones_and_leaves_umask() {
        if !require_root() {
            return;
        }
        let user: User = serde_json::from_str(r#"{"uid":0,"gid":0}"#).unwrap();
        in_forked_child(|| {
            set_thread_groups(&[Gid::from_raw(4242)]).map_err(|e| e.to_string())?;
            umask(Mode::from_bits_truncate(0o077));
            switch_user(&user).map_err(|e| e.to_string())?;
            let groups = rustix::process::getgroups().unwrap();
            if !groups.is_empty() {
                return Err(format!("groups not cleared: {groups:?}"));
            }
            let old = umask(Mode::empty());
            if old.bits() != 0o077 {
                return Err(format!("umask changed to {:o}", old.bits()));
            }
            Ok(())
        })
        .unwrap();
    }
}
