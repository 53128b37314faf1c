//! Signal names as `kill` accepts them: a number, `KILL`, `SIGKILL` (any
//! case), or `RTMIN+n` / `RTMAX-n`.

const NAMES: &[(&str, i32)] = &[
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("ILL", libc::SIGILL),
    ("TRAP", libc::SIGTRAP),
    ("ABRT", libc::SIGABRT),
    ("IOT", libc::SIGIOT),
    ("BUS", libc::SIGBUS),
    ("FPE", libc::SIGFPE),
    ("KILL", libc::SIGKILL),
    ("USR1", libc::SIGUSR1),
    ("SEGV", libc::SIGSEGV),
    ("USR2", libc::SIGUSR2),
    ("PIPE", libc::SIGPIPE),
    ("ALRM", libc::SIGALRM),
    ("TERM", libc::SIGTERM),
    ("STKFLT", libc::SIGSTKFLT),
    ("CHLD", libc::SIGCHLD),
    ("CLD", libc::SIGCHLD),
    ("CONT", libc::SIGCONT),
    ("STOP", libc::SIGSTOP),
    ("TSTP", libc::SIGTSTP),
    ("TTIN", libc::SIGTTIN),
    ("TTOU", libc::SIGTTOU),
    ("URG", libc::SIGURG),
    ("XCPU", libc::SIGXCPU),
    ("XFSZ", libc::SIGXFSZ),
    ("VTALRM", libc::SIGVTALRM),
    ("PROF", libc::SIGPROF),
    ("WINCH", libc::SIGWINCH),
    ("IO", libc::SIGIO),
    ("POLL", libc::SIGPOLL),
    ("PWR", libc::SIGPWR),
    ("SYS", libc::SIGSYS),
];

pub fn parse(raw: &str) -> Result<i32, String> {
    let bad = || format!("unknown signal {raw:?}");
    if let Ok(n) = raw.parse::<i32>() {
        return if (1..=libc::SIGRTMAX()).contains(&n) { Ok(n) } else { Err(bad()) };
    }
    let upper = raw.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some(&(_, n)) = NAMES.iter().find(|(k, _)| *k == name) {
        return Ok(n);
    }
    let realtime = |base: i32, off: &str, sign: i32| off.parse::<i32>().ok().map(|o| base + sign * o);
    let rt = match name {
        "RTMIN" => Some(libc::SIGRTMIN()),
        "RTMAX" => Some(libc::SIGRTMAX()),
        _ => name
            .strip_prefix("RTMIN+")
            .and_then(|o| realtime(libc::SIGRTMIN(), o, 1))
            .or_else(|| name.strip_prefix("RTMAX-").and_then(|o| realtime(libc::SIGRTMAX(), o, -1))),
    };
    rt.filter(|n| (libc::SIGRTMIN()..=libc::SIGRTMAX()).contains(n)).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn accepts_runc_spellings() {
        assert_eq!(parse("9"), Ok(9));
        assert_eq!(parse("KILL"), Ok(9));
        assert_eq!(parse("SIGKILL"), Ok(9));
        assert_eq!(parse("sigterm"), Ok(15));
        assert_eq!(parse("RTMIN+1"), Ok(libc::SIGRTMIN() + 1));
        assert!(parse("NOPE").is_err());
        assert!(parse("0").is_err());
        assert!(parse("RTMIN+99").is_err());
    }
}
