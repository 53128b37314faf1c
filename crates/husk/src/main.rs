//! husk: a low-level OCI container runtime with runc's command line.

mod commands;
mod log;
mod signals;

use std::path::PathBuf;

use clap::{CommandFactory, FromArgMatches, Parser};

use commands::Command;

#[derive(Parser)]
#[command(name = "husk", about = "husk: a low-level OCI container runtime", disable_version_flag = true)]
struct Cli {
    /// Directory for the containers' state (default /run/husk, or $XDG_RUNTIME_DIR/husk when not root)
    #[arg(long, global = true, value_name = "DIR")]
    root: Option<PathBuf>,
    /// Write logs to FILE instead of stderr
    #[arg(long, global = true, value_name = "FILE")]
    log: Option<PathBuf>,
    /// Log format
    #[arg(long = "log-format", global = true, value_enum, default_value = "text")]
    log_format: log::LogFormat,
    /// Log debug messages too
    #[arg(long, global = true)]
    debug: bool,
    /// Manage cgroups through systemd (cgroupsPath "slice:prefix:name")
    #[arg(long = "systemd-cgroup", global = true)]
    systemd_cgroup: bool,
    /// Accepted for runc compatibility: husk decides rootless mode from its credentials
    #[arg(long, value_name = "true|false|auto", num_args = 0..=1, default_missing_value = "true")]
    rootless: Option<String>,
    /// Print the version
    #[arg(short = 'v', long = "version")]
    version: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

/// What every command needs besides its own arguments.
pub struct Context {
    pub root: husk_container::StateRoot,
    pub systemd_cgroup: bool,
}

fn default_root() -> PathBuf {
    if rustix::process::geteuid().is_root() {
        return PathBuf::from("/run/husk");
    }
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir).join("husk"),
        _ => PathBuf::from(format!("/tmp/husk-{}", rustix::process::geteuid().as_raw())),
    }
}

fn main() {
    let args = normalize_args(std::env::args_os().collect());
    let matches = match Cli::command().try_get_matches_from(args) {
        Ok(m) => m,
        Err(e) => e.exit(),
    };
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    log::init(cli.log.as_deref(), cli.log_format, cli.debug);
    if cli.version {
        husk_sys::signal::default_sigpipe();
        print!("{}", commands::version_text());
        return;
    }
    let Some(command) = cli.command else {
        let _ = Cli::command().print_help();
        std::process::exit(1);
    };
    if command.only_prints() {
        husk_sys::signal::default_sigpipe();
    }
    let ctx = Context {
        root: husk_container::StateRoot::new(cli.root.unwrap_or_else(default_root)),
        systemd_cgroup: cli.systemd_cgroup,
    };
    let code = match commands::run(&ctx, command) {
        Ok(code) => code,
        Err(e) => {
            log::error(&e.to_string());
            1
        }
    };
    std::process::exit(code);
}

/// Rewrites single-dash long options (`-bundle x`, `-no-subreaper`), which
/// runc's CLI library accepts and go-runc sends, into their `--` form. Only
/// names that are real long options are rewritten, and nothing after the
/// first positional argument of the subcommand (the container id), so that
/// the arguments of an `exec`'d program are left alone.
fn normalize_args(args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let cmd = Cli::command();
    let mut out = Vec::with_capacity(args.len());
    let mut iter = args.into_iter();
    out.extend(iter.next());
    let mut sub: Option<clap::Command> = None;
    let mut expects_value = false;
    let mut done = false;
    for arg in iter {
        if done {
            out.push(arg);
            continue;
        }
        let Some(text) = arg.to_str() else {
            out.push(arg);
            continue;
        };
        if expects_value {
            expects_value = false;
            out.push(arg);
            continue;
        }
        if text == "--" {
            done = true;
            out.push(arg);
            continue;
        }
        let scope = sub.as_ref().unwrap_or(&cmd);
        let long_of = |name: &str| {
            scope.get_arguments().chain(cmd.get_arguments()).find(|a| a.get_long() == Some(name)).cloned()
        };
        if let Some(rest) = text.strip_prefix("--") {
            let (name, inline) = rest.split_once('=').map_or((rest, false), |(n, _)| (n, true));
            expects_value = !inline && long_of(name).is_some_and(|a| a.get_action().takes_values());
            out.push(arg);
        } else if let Some(rest) = text.strip_prefix('-').filter(|r| r.len() > 1) {
            let (name, inline) = rest.split_once('=').map_or((rest, false), |(n, _)| (n, true));
            match long_of(name) {
                Some(a) => {
                    expects_value = !inline && a.get_action().takes_values();
                    out.push(format!("-{text}").into());
                }
                None => {
                    // Short flags, possibly with an attached or following value.
                    let short = rest.chars().next().and_then(|c| scope.get_arguments().chain(cmd.get_arguments()).find(|a| a.get_short() == Some(c)).cloned());
                    expects_value = rest.len() == 1 && short.is_some_and(|a| a.get_action().takes_values());
                    out.push(arg);
                }
            }
        } else if text.starts_with('-') {
            let short = text.chars().nth(1).and_then(|c| scope.get_arguments().chain(cmd.get_arguments()).find(|a| a.get_short() == Some(c)).cloned());
            expects_value = short.is_some_and(|a| a.get_action().takes_values());
            out.push(arg);
        } else if sub.is_none() {
            sub = cmd.find_subcommand(text).cloned();
            out.push(arg);
        } else {
            done = true;
            out.push(arg);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::normalize_args;

    fn norm(args: &[&str]) -> Vec<String> {
        normalize_args(args.iter().map(Into::into).collect()).into_iter().map(|s| s.into_string().unwrap()).collect()
    }

    #[test]
    fn single_dash_long_flags_become_double_dash() {
        assert_eq!(
            norm(&["husk", "-root", "/r", "create", "-bundle", "/b", "-pid-file=/p", "id"]),
            ["husk", "--root", "/r", "create", "--bundle", "/b", "--pid-file=/p", "id"]
        );
        assert_eq!(norm(&["husk", "run", "-b", "/b", "-d", "id"]), ["husk", "run", "-b", "/b", "-d", "id"]);
    }

    #[test]
    fn program_arguments_are_left_alone() {
        assert_eq!(
            norm(&["husk", "exec", "-tty", "id", "ls", "-root", "-bundle"]),
            ["husk", "exec", "--tty", "id", "ls", "-root", "-bundle"]
        );
        assert_eq!(norm(&["husk", "--log", "-debug", "state", "x"]), ["husk", "--log", "-debug", "state", "x"]);
    }
}
