//! `husk-checker`: a static probe copied into test containers as `/bin/husk-checker`.
//!
//! It reports what the runtime really applied to the process, as `key=value` lines on stdout
//! so that integration tests can assert on them without parsing free text. Several probes can
//! be named in one invocation (`husk-checker caps ids uts`); their lines are printed in order.
//! A probe that cannot read its data prints `<key>=error:<reason>` instead of failing the
//! whole run, so one missing kernel feature does not hide the other results.

mod probes;
mod sys;

use std::io::Write;
use std::process::ExitCode;

const USAGE: &str = "usage: husk-checker PROBE [ARGS] [PROBE [ARGS]...]
probes without argument:
  caps        capability sets (names) and NoNewPrivs
  ids         uid/gid (real, effective, saved), groups, umask
  rlimits     soft/hard of every RLIMIT_*
  uts         hostname, domainname
  ns          namespace inode of every /proc/self/ns entry
  cwd         current directory
  env         environment, one env.NAME=value line each
  oom         oom_score_adj
  personality personality(2) value
  sched       scheduler policy, nice, priority (sched_getattr)
  ioprio      io priority class and level (ioprio_get)
  affinity    allowed cpus
  fds         open file descriptors and their targets
  mounts      /proc/self/mountinfo, one mount.N= line each
  stdin       all of stdin, as stdin=<text> (newlines escaped as \\n)
  dumpable    PR_GET_DUMPABLE
  all         every probe above except stdin and mounts
probes with one argument:
  stat PATH       existence, type, mode, owner, device numbers (lstat)
  open-write PATH whether PATH can be opened for writing
  read PATH       content of PATH (newlines escaped)
  chdir PATH      whether chdir(PATH) works, and the resulting cwd
  touch-memory MIB allocates MIB MiB and writes every page from user space";

const ALL_PROBES: &[&str] = &[
    "caps",
    "ids",
    "rlimits",
    "uts",
    "ns",
    "cwd",
    "env",
    "oom",
    "personality",
    "sched",
    "ioprio",
    "affinity",
    "fds",
    "dumpable",
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    }
    let mut lines = Vec::new();
    let mut remaining = args.iter();
    while let Some(probe) = remaining.next() {
        let result = if probe == "all" {
            ALL_PROBES
                .iter()
                .try_for_each(|name| probes::run_simple(name, &mut lines))
        } else if let Some(run) = probes::with_argument(probe) {
            match remaining.next() {
                Some(argument) => {
                    run(argument, &mut lines);
                    Ok(())
                }
                None => Err(format!("probe {probe} needs a PATH argument")),
            }
        } else {
            probes::run_simple(probe, &mut lines)
        };
        if let Err(message) = result {
            eprintln!("husk-checker: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    }
    let mut stdout = std::io::stdout().lock();
    let written = lines
        .iter()
        .try_for_each(|line| writeln!(stdout, "{line}"))
        .and_then(|()| stdout.flush());
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("husk-checker: writing stdout: {error}");
            ExitCode::FAILURE
        }
    }
}
