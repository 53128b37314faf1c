//! Defence against CVE-2019-5736 without copying the husk binary: the init
//! is a clone of husk, so `/proc/self/exe` (and `/proc/1/exe` in a new pid
//! namespace) resolve to husk's binary on the host until `execve`. A program
//! or script interpreter resolving there would run husk *inside* the
//! container, where it could reopen its own binary for writing once husk
//! exits. So before `execve`, the program and its `#!` interpreter chain are
//! opened and compared by inode with husk's binary, and refused if they match.
//! Other processes of the container cannot reach husk through
//! `/proc/<pid>/exe`: husk processes in the container are non-dumpable.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Device and inode of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileId {
    dev: u64,
    ino: u64,
}

impl FileId {
    /// The running husk binary, as seen from the host before any namespace change.
    pub fn husk_binary() -> std::io::Result<FileId> {
        let m = std::fs::metadata("/proc/self/exe")?;
        Ok(FileId { dev: m.dev(), ino: m.ino() })
    }
}

/// Makes husk non-dumpable before it deals with a container, so that a
/// container process sharing its pid namespace cannot open
/// `/proc/<husk>/exe` without CAP_SYS_PTRACE; the processes it forks into
/// the container inherit this (it belongs to the address space) until they
/// execute their program.
pub fn hide_husk() -> Result<()> {
    rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
        .map_err(|e| Error::sys("prctl(PR_SET_DUMPABLE)", e))
}

/// binfmt_script follows at most this many nested interpreters.
const MAX_INTERPRETER_DEPTH: usize = 5;

/// Fails if `program`, or an interpreter it names with `#!`, is husk itself.
pub fn check(program: &Path, husk: FileId) -> Result<()> {
    let mut current = program.to_path_buf();
    for _ in 0..=MAX_INTERPRETER_DEPTH {
        let Ok(mut file) = File::open(&current) else { return Ok(()) };
        let Ok(meta) = file.metadata() else { return Ok(()) };
        if (FileId { dev: meta.dev(), ino: meta.ino() }) == husk {
            return Err(Error::Unsupported {
                field: "process.args",
                msg: format!(
                    "{} resolves to the husk binary itself (via {}); refusing to run the runtime inside the container",
                    program.display(),
                    current.display()
                ),
            });
        }
        match interpreter(&mut file) {
            Some(next) => current = next,
            None => return Ok(()),
        }
    }
    Ok(())
}

fn interpreter(file: &mut File) -> Option<PathBuf> {
    let mut head = [0u8; 256];
    let n = file.read(&mut head).ok()?;
    let line = head[..n].strip_prefix(b"#!")?;
    let line = &line[..line.iter().position(|&b| b == b'\n').unwrap_or(line.len())];
    let text = std::str::from_utf8(line).ok()?.trim_start();
    let path = text.split([' ', '\t']).next().filter(|p| !p.is_empty())?;
    Some(PathBuf::from(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn detects_interpreter_chains_to_the_binary() {
        let dir = std::env::temp_dir().join(format!("husk-exe-guard-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let me = FileId::husk_binary().unwrap();
        let direct = dir.join("direct");
        std::fs::write(&direct, "#!/proc/self/exe\n").unwrap();
        let nested = dir.join("nested");
        std::fs::write(&nested, format!("#!{} -x\n", direct.display())).unwrap();
        let harmless = dir.join("harmless");
        std::fs::write(&harmless, "#!/bin/sh\necho hi\n").unwrap();
        for p in [&direct, &nested, &harmless] {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let result = (check(&direct, me).is_err(), check(&nested, me).is_err(), check(&harmless, me).is_ok(), check(Path::new("/proc/self/exe"), me).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(result, (true, true, true, true));
    }
}
