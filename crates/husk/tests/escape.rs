//! Container escapes through the runtime itself: leaked fds as cwd (CVE-2024-21626) and
//! overwriting the runtime's binary through /proc/<pid>/exe (CVE-2019-5736).

mod common;
#[path = "common/running.rs"]
mod running;

use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use common::{runtime, Outcome, RuntimeKind, TestEnv};
use running::{exec, invoke_with_inherited_fds, start_container, start_sleeper, wait_until};
use serde_json::json;

/// Fds the runtime might leak (CVE-2024-21626 used runc's fd 7, a cgroup dir handle).
const LEAK_CANDIDATES: std::ops::RangeInclusive<u32> = 3..=32;

/// Probes run with a cwd of `/proc/self/fd/N`: where the cwd is, and whether a relative path
/// climbs out to the host's /etc (the test rootfs has no os-release).
const CWD_PROBES: [&str; 4] = [
    "/bin/husk-checker",
    "cwd",
    "stat",
    "../../../../../../../etc/os-release",
];

/// A runtime may refuse such a cwd; if it accepts it, the cwd must be inside the container.
#[track_caller]
fn assert_cwd_inside_container(outcome: &Outcome, fd: u32) {
    if !outcome.success() {
        return;
    }
    let values = outcome.checker_values();
    let cwd = values.get("cwd");
    assert!(
        cwd.starts_with('/') && !cwd.contains("(unreachable)"),
        "fd {fd}: cwd {cwd:?} is outside the container"
    );
    assert_eq!(
        values.get("stat.exists"),
        "false",
        "fd {fd}: host /etc reachable"
    );
}

#[test]
fn process_cwd_through_proc_self_fd_cannot_reach_the_host() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    env.set_args(&CWD_PROBES);
    for fd in LEAK_CANDIDATES {
        env.config["process"]["cwd"] = json!(format!("/proc/self/fd/{fd}"));
        assert_cwd_inside_container(&env.run(), fd);
    }
}

#[test]
fn exec_cwd_through_proc_self_fd_cannot_reach_the_host() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    start_sleeper(&mut env);
    for fd in LEAK_CANDIDATES {
        let cwd = format!("/proc/self/fd/{fd}");
        assert_cwd_inside_container(&exec(&env, &["--cwd", &cwd], &CWD_PROBES), fd);
    }
}

#[test]
fn exec_leaks_no_fd_into_the_container() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    start_sleeper(&mut env);
    let inherited = env.scratch("fds").join("inherited");
    fs::write(&inherited, "host only").unwrap();
    let outcome = invoke_with_inherited_fds(
        &env,
        &inherited,
        "",
        &["exec", &env.id, "/bin/husk-checker", "fds"],
    );
    outcome.assert_success();
    assert_eq!(outcome.checker_values().get("fds"), "0,1,2", "{outcome:#?}");
}

/// The runtime binary's file, held open with its content at the start of a test, to prove at
/// the end that nothing overwrote it. Reading through the open fd checks the very inode the
/// runtime ran from, even if a concurrent build replaces the file at that path.
struct RuntimeBinary {
    file: fs::File,
    content: Vec<u8>,
}

impl RuntimeBinary {
    fn snapshot() -> RuntimeBinary {
        let file = fs::File::open(&runtime().path).expect("open the runtime binary");
        let content = read_all_from_start(&file);
        RuntimeBinary { file, content }
    }

    #[track_caller]
    fn assert_unchanged(&self) {
        assert!(
            read_all_from_start(&self.file) == self.content,
            "the runtime binary was modified"
        );
    }
}

fn read_all_from_start(file: &fs::File) -> Vec<u8> {
    let mut content = Vec::new();
    let mut reader = file;
    reader
        .seek(SeekFrom::Start(0))
        .expect("seek the runtime binary");
    reader
        .read_to_end(&mut content)
        .expect("read the runtime binary");
    content
}

/// Ways a container program can name the binary of the process executing it, installed in
/// the rootfs: an executable `#!/proc/self/exe` script, a symlink, and the path itself.
fn install_self_references(env: &TestEnv) -> [&'static str; 3] {
    let bin = env.bundle.join("rootfs/bin");
    fs::write(bin.join("reexec"), "#!/proc/self/exe\n").unwrap();
    fs::set_permissions(bin.join("reexec"), fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink("/proc/self/exe", bin.join("selflink")).unwrap();
    ["/bin/reexec", "/bin/selflink", "/proc/self/exe"]
}

#[test]
fn container_cannot_execute_the_runtime_binary_through_proc_self_exe() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    // runc 1.1.5 executes a sealed memfd copy of itself instead: allowed and harmless there.
    let must_refuse = runtime().kind == RuntimeKind::Husk;
    let binary = RuntimeBinary::snapshot();
    let programs = install_self_references(&env);
    for program in programs {
        env.set_args(&[program]);
        let outcome = env.run();
        if must_refuse {
            outcome.assert_failure().assert_error_mentions("refusing");
        }
    }
    start_sleeper(&mut env);
    for program in programs {
        let outcome = exec(&env, &[], &[program]);
        if must_refuse {
            outcome.assert_failure().assert_error_mentions("refusing");
        }
    }
    binary.assert_unchanged();
}

/// Runs in the container: for every process whose executable is not one of the container's
/// own, tries to open it for writing, and also to open it read-only and reopen that fd for
/// writing through /proc/self/fd once the process is gone. Every attempt is logged to
/// /out/log, whose first line shows that the loop can read its own executable's link;
/// /out/passes grows by one line per scan of /proc.
const OVERWRITE_LOOP: &str = r#"
echo "self $(readlink /proc/$$/exe)" >> /out/log
while [ ! -e /out/stop ]; do
  for d in /proc/[0-9]*; do
    exe=$(readlink $d/exe 2>/dev/null) || continue
    case $exe in /bin/*) continue;; esac
    echo "seen $d $exe" >> /out/log
    /bin/husk-checker open-write $d/exe >> /out/log
    ( exec 3< $d/exe && echo "opened $exe" && sleep 1 &&
      /bin/husk-checker open-write /proc/self/fd/3 ) >> /out/log 2>/dev/null &
  done
  echo pass >> /out/passes
done
"#;

#[test]
fn container_cannot_open_the_runtime_binary_for_writing_while_exec_runs() {
    let Some(mut env) = TestEnv::new() else {
        return;
    };
    let binary = RuntimeBinary::snapshot();
    let out = env.scratch("out");
    env.add_bind_mount(&out, "/out");
    start_container(&mut env, &["sh", "-c", OVERWRITE_LOOP]);
    let passes = || {
        fs::read_to_string(out.join("passes"))
            .map(|text| text.lines().count())
            .unwrap_or(0)
    };
    wait_until("the attack loop to scan /proc", || passes() > 0);
    let passes_before_exec = passes();
    for _ in 0..30 {
        exec(&env, &[], &["true"]).assert_success();
    }
    fs::write(out.join("stop"), "").unwrap();
    // The delayed reopen attempts run one second after the last scan.
    std::thread::sleep(Duration::from_millis(1500));

    let log = fs::read_to_string(out.join("log")).unwrap_or_default();
    eprintln!("attack log:\n{log}");
    assert!(
        log.lines().next() == Some("self /bin/busybox"),
        "the loop can read executables it is allowed to:\n{log}"
    );
    assert!(
        passes() > passes_before_exec,
        "the loop kept scanning while exec ran"
    );
    assert!(
        !log.lines().any(|line| line == "open_write=ok"),
        "a runtime executable was opened for writing:\n{log}"
    );
    binary.assert_unchanged();
}
