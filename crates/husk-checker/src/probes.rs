//! Each probe appends `key=value` lines describing one aspect of the running process.

use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, MetadataExt};

use crate::sys;

type Lines = Vec<String>;

use husk_sys::caps::NAMES as CAPABILITY_NAMES;

const CAPABILITY_SETS: &[(&str, &str)] = &[
    ("CapInh", "inheritable"),
    ("CapPrm", "permitted"),
    ("CapEff", "effective"),
    ("CapBnd", "bounding"),
    ("CapAmb", "ambient"),
];

const RLIMITS: &[(&str, libc::__rlimit_resource_t)] = &[
    ("RLIMIT_CPU", libc::RLIMIT_CPU),
    ("RLIMIT_FSIZE", libc::RLIMIT_FSIZE),
    ("RLIMIT_DATA", libc::RLIMIT_DATA),
    ("RLIMIT_STACK", libc::RLIMIT_STACK),
    ("RLIMIT_CORE", libc::RLIMIT_CORE),
    ("RLIMIT_RSS", libc::RLIMIT_RSS),
    ("RLIMIT_NPROC", libc::RLIMIT_NPROC),
    ("RLIMIT_NOFILE", libc::RLIMIT_NOFILE),
    ("RLIMIT_MEMLOCK", libc::RLIMIT_MEMLOCK),
    ("RLIMIT_AS", libc::RLIMIT_AS),
    ("RLIMIT_LOCKS", libc::RLIMIT_LOCKS),
    ("RLIMIT_SIGPENDING", libc::RLIMIT_SIGPENDING),
    ("RLIMIT_MSGQUEUE", libc::RLIMIT_MSGQUEUE),
    ("RLIMIT_NICE", libc::RLIMIT_NICE),
    ("RLIMIT_RTPRIO", libc::RLIMIT_RTPRIO),
    ("RLIMIT_RTTIME", libc::RLIMIT_RTTIME),
];

const NAMESPACES: &[&str] = &["cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"];

/// Runs a probe that takes no argument.
pub fn run_simple(name: &str, lines: &mut Lines) -> Result<(), String> {
    match name {
        "caps" => caps(lines),
        "ids" => ids(lines),
        "rlimits" => rlimits(lines),
        "uts" => uts(lines),
        "ns" => namespaces(lines),
        "cwd" => cwd(lines),
        "env" => env(lines),
        "oom" => oom(lines),
        "personality" => personality(lines),
        "sched" => sched(lines),
        "ioprio" => ioprio(lines),
        "affinity" => affinity(lines),
        "fds" => fds(lines),
        "mounts" => mounts(lines),
        "stdin" => stdin(lines),
        "dumpable" => dumpable(lines),
        other => return Err(format!("unknown probe {other:?}")),
    }
    Ok(())
}

/// The probe taking a PATH argument called `name`, if there is one.
pub fn with_argument(name: &str) -> Option<fn(&str, &mut Lines)> {
    match name {
        "stat" => Some(stat),
        "open-write" => Some(open_write),
        "read" => Some(read),
        "chdir" => Some(chdir),
        "touch-memory" => Some(touch_memory),
        _ => None,
    }
}

fn push_result<T>(lines: &mut Lines, key: &str, result: io::Result<T>, show: impl Fn(T) -> String) {
    match result {
        Ok(value) => lines.push(format!("{key}={}", show(value))),
        Err(error) => lines.push(format!("{key}=error:{}", describe_error(&error))),
    }
}

/// Errno name when known (stable to assert on), otherwise the OS message.
fn describe_error(error: &io::Error) -> String {
    let name = match error.raw_os_error() {
        Some(libc::ENOENT) => "ENOENT",
        Some(libc::EACCES) => "EACCES",
        Some(libc::EPERM) => "EPERM",
        Some(libc::EROFS) => "EROFS",
        Some(libc::ENOTDIR) => "ENOTDIR",
        Some(libc::EISDIR) => "EISDIR",
        Some(libc::ETXTBSY) => "ETXTBSY",
        Some(libc::EINVAL) => "EINVAL",
        Some(libc::ENOSYS) => "ENOSYS",
        Some(libc::EBADF) => "EBADF",
        _ => return error.to_string(),
    };
    name.to_string()
}

/// Newlines and backslashes escaped so that any text fits on one `key=value` line.
fn escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

fn status_fields() -> io::Result<Vec<(String, String)>> {
    let status = fs::read_to_string("/proc/self/status")?;
    Ok(status
        .lines()
        .filter_map(|line| line.split_once(':'))
        .map(|(key, value)| (key.to_string(), value.trim().to_string()))
        .collect())
}

fn status_field<'a>(fields: &'a [(String, String)], key: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(name, _)| name == key)
        .map(|(_, value)| value.as_str())
}

pub fn capability_names(mask: u64) -> Vec<String> {
    (0..64)
        .filter(|bit| mask & (1u64 << bit) != 0)
        .map(|bit| match CAPABILITY_NAMES.get(bit) {
            Some(name) => name.to_string(),
            None => format!("CAP_{bit}"),
        })
        .collect()
}

fn caps(lines: &mut Lines) {
    let fields = match status_fields() {
        Ok(fields) => fields,
        Err(error) => {
            lines.push(format!("caps=error:{}", describe_error(&error)));
            return;
        }
    };
    for (status_key, set) in CAPABILITY_SETS {
        let mask =
            status_field(&fields, status_key).and_then(|hex| u64::from_str_radix(hex, 16).ok());
        match mask {
            Some(mask) => lines.push(format!("cap.{set}={}", capability_names(mask).join(","))),
            None => lines.push(format!("cap.{set}=error:missing {status_key}")),
        }
    }
    let no_new_privs = status_field(&fields, "NoNewPrivs").unwrap_or("error:missing NoNewPrivs");
    lines.push(format!("no_new_privs={no_new_privs}"));
}

fn ids(lines: &mut Lines) {
    let fields = match status_fields() {
        Ok(fields) => fields,
        Err(error) => {
            lines.push(format!("ids=error:{}", describe_error(&error)));
            return;
        }
    };
    // Status lists real, effective, saved and filesystem ids, tab-separated.
    for (status_key, prefix) in [("Uid", "uid"), ("Gid", "gid")] {
        let values: Vec<&str> = status_field(&fields, status_key)
            .unwrap_or_default()
            .split_whitespace()
            .collect();
        for (index, kind) in ["real", "effective", "saved", "fs"].iter().enumerate() {
            let value = values.get(index).copied().unwrap_or("error:missing");
            let key = if *kind == "effective" {
                prefix.to_string()
            } else {
                format!("{prefix}.{kind}")
            };
            lines.push(format!("{key}={value}"));
        }
    }
    let groups: Vec<&str> = status_field(&fields, "Groups")
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    lines.push(format!("groups={}", groups.join(",")));
    let umask = status_field(&fields, "Umask").unwrap_or("error:missing Umask");
    lines.push(format!("umask={umask}"));
}

fn rlimits(lines: &mut Lines) {
    let show =
        |limit: Option<u64>| limit.map_or("unlimited".to_string(), |value| value.to_string());
    for (name, resource) in RLIMITS {
        match sys::getrlimit(*resource) {
            Ok((soft, hard)) => {
                lines.push(format!("rlimit.{name}.soft={}", show(soft)));
                lines.push(format!("rlimit.{name}.hard={}", show(hard)));
            }
            Err(error) => lines.push(format!("rlimit.{name}=error:{}", describe_error(&error))),
        }
    }
}

fn uts(lines: &mut Lines) {
    match sys::uts_names() {
        Ok((hostname, domainname)) => {
            lines.push(format!("hostname={hostname}"));
            lines.push(format!("domainname={domainname}"));
        }
        Err(error) => lines.push(format!("uts=error:{}", describe_error(&error))),
    }
}

fn namespaces(lines: &mut Lines) {
    for namespace in NAMESPACES {
        let link = fs::read_link(format!("/proc/self/ns/{namespace}"));
        push_result(lines, &format!("ns.{namespace}"), link, |target| {
            target.display().to_string()
        });
    }
}

fn cwd(lines: &mut Lines) {
    push_result(lines, "cwd", std::env::current_dir(), |dir| {
        dir.display().to_string()
    });
}

fn env(lines: &mut Lines) {
    for (name, value) in std::env::vars_os() {
        lines.push(format!(
            "env.{}={}",
            name.to_string_lossy(),
            escape(&value.to_string_lossy())
        ));
    }
}

fn oom(lines: &mut Lines) {
    let value = fs::read_to_string("/proc/self/oom_score_adj");
    push_result(lines, "oom_score_adj", value, |text| {
        text.trim().to_string()
    });
}

fn personality(lines: &mut Lines) {
    push_result(lines, "personality", husk_sys::sched::personality(), |value| {
        format!("{value:#x}")
    });
}

fn sched(lines: &mut Lines) {
    match husk_sys::sched::sched_getattr() {
        Ok(attr) => {
            let policy = match attr.policy {
                0 => "SCHED_OTHER".to_string(),
                1 => "SCHED_FIFO".to_string(),
                2 => "SCHED_RR".to_string(),
                3 => "SCHED_BATCH".to_string(),
                5 => "SCHED_IDLE".to_string(),
                6 => "SCHED_DEADLINE".to_string(),
                other => other.to_string(),
            };
            lines.push(format!("sched.policy={policy}"));
            lines.push(format!("sched.flags={}", attr.flags));
            lines.push(format!("sched.nice={}", attr.nice));
            lines.push(format!("sched.priority={}", attr.priority));
            lines.push(format!("sched.runtime={}", attr.runtime));
            lines.push(format!("sched.deadline={}", attr.deadline));
            lines.push(format!("sched.period={}", attr.period));
        }
        Err(error) => lines.push(format!("sched=error:{}", describe_error(&error))),
    }
}

fn ioprio(lines: &mut Lines) {
    match husk_sys::sched::ioprio_get_self() {
        Ok(raw) => {
            let class = match raw >> 13 {
                0 => "IOPRIO_CLASS_NONE".to_string(),
                1 => "IOPRIO_CLASS_RT".to_string(),
                2 => "IOPRIO_CLASS_BE".to_string(),
                3 => "IOPRIO_CLASS_IDLE".to_string(),
                other => other.to_string(),
            };
            lines.push(format!("ioprio.class={class}"));
            lines.push(format!("ioprio.level={}", raw & 0x7));
        }
        Err(error) => lines.push(format!("ioprio=error:{}", describe_error(&error))),
    }
}

fn affinity(lines: &mut Lines) {
    push_result(lines, "affinity", sys::cpu_affinity(), |cpus| {
        cpus.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",")
    });
}

fn fds(lines: &mut Lines) {
    let entries = match fs::read_dir("/proc/self/fd") {
        Ok(entries) => entries,
        Err(error) => {
            lines.push(format!("fds=error:{}", describe_error(&error)));
            return;
        }
    };
    let mut fds: Vec<(u32, String)> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let fd = entry.file_name().to_str()?.parse().ok()?;
            let target = fs::read_link(entry.path()).ok()?;
            Some((fd, target.display().to_string()))
        })
        // The directory stream used for this listing is itself an open fd: leave it out.
        .filter(|(_, target)| !target.starts_with("/proc/") || !target.ends_with("/fd"))
        .collect();
    fds.sort();
    let numbers: Vec<String> = fds.iter().map(|(fd, _)| fd.to_string()).collect();
    lines.push(format!("fds={}", numbers.join(",")));
    for (fd, target) in fds {
        lines.push(format!("fd.{fd}={target}"));
    }
}

fn mounts(lines: &mut Lines) {
    match fs::read_to_string("/proc/self/mountinfo") {
        Ok(text) => {
            for (index, line) in text.lines().enumerate() {
                lines.push(format!("mount.{index}={line}"));
            }
        }
        Err(error) => lines.push(format!("mounts=error:{}", describe_error(&error))),
    }
}

fn stdin(lines: &mut Lines) {
    let mut text = String::new();
    push_result(
        lines,
        "stdin",
        io::stdin().read_to_string(&mut text),
        |_| escape(&text),
    );
}

fn dumpable(lines: &mut Lines) {
    push_result(lines, "dumpable", sys::dumpable(), |value| {
        value.to_string()
    });
}

fn file_type_name(file_type: fs::FileType) -> &'static str {
    if file_type.is_symlink() {
        "symlink"
    } else if file_type.is_dir() {
        "dir"
    } else if file_type.is_file() {
        "file"
    } else if file_type.is_char_device() {
        "char"
    } else if file_type.is_block_device() {
        "block"
    } else if file_type.is_fifo() {
        "fifo"
    } else if file_type.is_socket() {
        "socket"
    } else {
        "unknown"
    }
}

/// Splits a Linux dev_t (glibc encoding) into major and minor numbers.
fn device_numbers(rdev: u64) -> (u64, u64) {
    let major = ((rdev >> 8) & 0xfff) | ((rdev >> 32) & 0xffff_f000);
    let minor = (rdev & 0xff) | ((rdev >> 12) & 0xffff_ff00);
    (major, minor)
}

fn stat(path: &str, lines: &mut Lines) {
    match fs::symlink_metadata(path) {
        Ok(metadata) => {
            lines.push("stat.exists=true".to_string());
            lines.push(format!(
                "stat.type={}",
                file_type_name(metadata.file_type())
            ));
            lines.push(format!("stat.mode={:04o}", metadata.mode() & 0o7777));
            lines.push(format!("stat.uid={}", metadata.uid()));
            lines.push(format!("stat.gid={}", metadata.gid()));
            let (major, minor) = device_numbers(metadata.rdev());
            lines.push(format!("stat.rdev={major}:{minor}"));
        }
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            lines.push("stat.exists=false".to_string());
        }
        Err(error) => lines.push(format!("stat.exists=error:{}", describe_error(&error))),
    }
}

fn open_write(path: &str, lines: &mut Lines) {
    let opened = fs::OpenOptions::new().write(true).open(path);
    push_result(lines, "open_write", opened, |_| "ok".to_string());
}

fn read(path: &str, lines: &mut Lines) {
    push_result(lines, "read", fs::read_to_string(path), |text| {
        escape(&text)
    });
}

fn chdir(path: &str, lines: &mut Lines) {
    push_result(lines, "chdir", std::env::set_current_dir(path), |()| {
        "ok".to_string()
    });
    cwd(lines);
}

/// Allocates MIB mebibytes and writes to every page from user space: over a memory cgroup's
/// limit such a fault waits for (or dies by) the OOM handling, where a write by the kernel
/// (`read` into the buffer) would fail with an errno instead.
fn touch_memory(mebibytes: &str, lines: &mut Lines) {
    let Ok(size) = mebibytes.parse::<usize>().map(|m| m << 20) else {
        lines.push(format!("touched=error:{mebibytes:?} is not a number of MiB"));
        return;
    };
    let mut buffer = vec![0u8; size];
    for page in buffer.chunks_mut(4096) {
        page[0] = 1;
    }
    std::hint::black_box(&buffer);
    lines.push(format!("touched={mebibytes}"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capability_mask_decodes_to_names_in_bit_order() {
        assert_eq!(
            capability_names(0x2000_0420),
            ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_AUDIT_WRITE"]
        );
        assert_eq!(capability_names(1 << 45), ["CAP_45"]);
        assert!(capability_names(0).is_empty());
    }

    #[test]
    fn device_numbers_split_large_and_small_encodings() {
        // /dev/null is 1:3; a large device number uses the high bits of both fields.
        assert_eq!(device_numbers(0x103), (1, 3));
        let (major, minor) = (0x1234u64, 0x56789u64);
        let rdev = ((major & 0xfff) << 8)
            | ((major & !0xfff) << 32)
            | (minor & 0xff)
            | ((minor & !0xff) << 12);
        assert_eq!(device_numbers(rdev), (major, minor));
    }

    #[test]
    fn escape_keeps_text_on_one_line_and_is_unambiguous() {
        assert_eq!(escape("a\nb\\n"), "a\\nb\\\\n");
    }

    #[test]
    fn probes_report_the_test_process_itself() {
        let mut lines = Vec::new();
        run_simple("caps", &mut lines).unwrap();
        run_simple("ids", &mut lines).unwrap();
        stat("/proc/self/status", &mut lines);
        stat("/nonexistent/husk-checker", &mut lines);
        assert!(lines.iter().any(|line| line.starts_with("no_new_privs=")));
        // /proc/self belongs to the effective uid of a dumpable process.
        let uid = fs::metadata("/proc/self").unwrap().uid();
        assert!(lines.contains(&format!("uid={uid}")), "{lines:?}");
        assert!(lines.contains(&"stat.type=file".to_string()), "{lines:?}");
        assert!(
            lines.contains(&"stat.exists=false".to_string()),
            "{lines:?}"
        );
        assert!(run_simple("bogus", &mut lines).is_err());
    }
}
