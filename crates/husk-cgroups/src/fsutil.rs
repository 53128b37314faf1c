//! Reading and writing cgroup control files with error context.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::Path;

use crate::Error;

/// Writes `value` to the control file `dir/file` in a single `write(2)`:
/// the kernel parses each write on its own, so a split write would be
/// misread. `field` names what the value came from for the error message.
pub(crate) fn write(field: &str, dir: &Path, file: &str, value: &str) -> Result<(), Error> {
    let path = dir.join(file);
    let err = |source| Error::Write {
        field: field.to_owned(),
        path: path.clone(),
        value: value.to_owned(),
        source,
    };
    // std opens with O_CLOEXEC; no O_CREAT: control files exist or the
    // feature is missing, and creating a plain file in cgroupfs is impossible anyway.
    let mut f = OpenOptions::new().write(true).open(&path).map_err(err)?;
    let n = f.write(value.as_bytes()).map_err(err)?;
    if n != value.len() {
        return Err(err(io::Error::new(
            io::ErrorKind::WriteZero,
            format!("short write: {n} of {} bytes", value.len()),
        )));
    }
    Ok(())
}

/// Reads the control file `dir/file`; `what` says why, for the error message.
pub(crate) fn read(what: &str, dir: &Path, file: &str) -> Result<String, Error> {
    let path = dir.join(file);
    std::fs::read_to_string(&path).map_err(|source| Error::Read {
        what: what.to_owned(),
        path,
        source,
    })
}

/// Like [`read`], but a missing file is `None` (optional kernel features).
pub(crate) fn read_optional(what: &str, dir: &Path, file: &str) -> Result<Option<String>, Error> {
    match read(what, dir, file) {
        Ok(s) => Ok(Some(s)),
        Err(Error::Read { source, .. }) if source.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Parses a single unsigned number; `max` (v2 "unlimited") is `u64::MAX`.
pub(crate) fn parse_u64(path: &Path, content: &str) -> Result<u64, Error> {
    let s = content.trim();
    if s == "max" {
        return Ok(u64::MAX);
    }
    s.parse().map_err(|_| Error::Parse {
        path: path.to_owned(),
        content: s.to_owned(),
        reason: "expected an unsigned number or \"max\"",
    })
}

/// Reads a control file holding one number; a missing file reads as 0 (a
/// statistic the kernel does not provide, e.g. swap accounting disabled).
pub(crate) fn read_u64_or_zero(dir: &Path, file: &str) -> Result<u64, Error> {
    match read_optional("stats", dir, file)? {
        Some(s) => parse_u64(&dir.join(file), &s),
        None => Ok(0),
    }
}

/// Looks up `key` in a flat-keyed file (`key value` per line: memory.stat,
/// cpu.stat, memory.events...).
pub(crate) fn keyed(content: &str, key: &str) -> Option<u64> {
    content.lines().find_map(|line| {
        let (k, v) = line.split_once(' ')?;
        if k == key {
            v.trim().parse().ok()
        } else {
            None
        }
    })
}

/// Whether a control file exists in `dir` (optional kernel features).
pub(crate) fn exists(dir: &Path, file: &str) -> bool {
    dir.join(file).exists()
}
