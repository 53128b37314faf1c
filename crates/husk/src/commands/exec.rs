//! `husk exec [flags] ID [COMMAND [ARG...]]` or `husk exec --process FILE ID`

use std::path::PathBuf;

use oci_spec::runtime::{Capabilities, Capability, LinuxCapabilities, Process};

use super::CmdResult;
use crate::Context;

#[derive(clap::Args)]
pub struct Args {
    /// A process JSON (config.md "process") describing what to run
    #[arg(short = 'p', long, value_name = "FILE")]
    pub process: Option<PathBuf>,
    /// AF_UNIX socket that receives the pty master
    #[arg(long = "console-socket", value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// Working directory in the container
    #[arg(long)]
    pub cwd: Option<String>,
    /// Set an environment variable (KEY=VALUE); repeatable
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Allocate a pseudo-terminal
    #[arg(short = 't', long)]
    pub tty: bool,
    /// User to run as: UID[:GID]
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Additional group ids; repeatable
    #[arg(short = 'g', long = "additional-gids")]
    pub additional_gids: Vec<u32>,
    /// SELinux label of the process
    #[arg(long = "process-label")]
    pub process_label: Option<String>,
    /// AppArmor profile of the process
    #[arg(long)]
    pub apparmor: Option<String>,
    /// Set NoNewPrivileges
    #[arg(long = "no-new-privs")]
    pub no_new_privs: bool,
    /// Add a capability (bounding, effective, permitted, ambient); repeatable
    #[arg(short = 'c', long = "cap")]
    pub caps: Vec<String>,
    /// Pass N more file descriptors (3 .. 3+N-1)
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Write the process's host pid to FILE
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Return once the process runs
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Run in an existing sub-cgroup of the container: PATH, or CONTROLLER:PATH on cgroup v1
    #[arg(long)]
    pub cgroup: Option<String>,
    /// Allow exec in a paused container
    #[arg(long = "ignore-paused")]
    pub ignore_paused: bool,
    pub id: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

pub fn run(ctx: &Context, args: Args) -> CmdResult {
    let process = build_process(ctx, &args)?;
    let opts = husk_container::ExecOptions {
        id: args.id.clone(),
        process,
        pid_file: args.pid_file.as_deref().map(super::create::absolute),
        console_socket: args.console_socket.clone(),
        preserve_fds: args.preserve_fds,
        ignore_paused: args.ignore_paused,
        sub_cgroup: args.cgroup.clone(),
        foreground: !args.detach,
    };
    // In the foreground, signals are captured before the process runs.
    let signals = (!args.detach).then(husk_sys::signal::SignalFd::all_catchable).transpose()?;
    let executed = husk_container::exec(&ctx.root, &opts)?;
    crate::log::notices(&executed.notices);
    match signals {
        Some(signals) => Ok(husk_container::wait_foreground(executed.pid, &signals, executed.console)?),
        None => Ok(0),
    }
}

fn build_process(ctx: &Context, args: &Args) -> Result<Process, Box<dyn std::error::Error>> {
    if let Some(path) = &args.process {
        let text = std::fs::read(path).map_err(|e| format!("--process {}: {e}", path.display()))?;
        let (process, warnings) = husk_config::parse_process(path, &text)?;
        warnings.iter().for_each(|w| crate::log::warn(&w.to_string()));
        return Ok(process);
    }
    if args.command.is_empty() {
        return Err("exec needs a command, or --process".into());
    }
    let mut p = husk_container::process_template(&ctx.root, &args.id)?;
    p.set_args(Some(args.command.clone()));
    p.set_terminal(Some(args.tty));
    p.set_console_size(None);
    if let Some(cwd) = &args.cwd {
        p.set_cwd(cwd.into());
    }
    let mut env = p.env().clone().unwrap_or_default();
    for kv in &args.env {
        let key = kv.split('=').next().unwrap_or(kv);
        env.retain(|e| e.split('=').next() != Some(key));
        env.push(kv.clone());
    }
    p.set_env(Some(env));
    if let Some(spec) = &args.user {
        let (uid, gid) = husk_process::parse_user_spec(spec)?;
        let mut user = p.user().clone();
        user.set_uid(uid);
        user.set_gid(gid);
        p.set_user(user);
    }
    if !args.additional_gids.is_empty() {
        let mut user = p.user().clone();
        user.set_additional_gids(Some(args.additional_gids.clone()));
        p.set_user(user);
    }
    if args.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    if let Some(label) = &args.process_label {
        p.set_selinux_label(Some(label.clone()));
    }
    if let Some(profile) = &args.apparmor {
        p.set_apparmor_profile(Some(profile.clone()));
    }
    if !args.caps.is_empty() {
        p.set_capabilities(Some(with_added_caps(p.capabilities().clone().unwrap_or_default(), &args.caps)?));
    }
    Ok(p)
}

/// `--cap` adds to the bounding, effective, permitted and ambient sets, but
/// never to the inheritable one (CVE-2022-29162).
fn with_added_caps(mut caps: LinuxCapabilities, names: &[String]) -> Result<LinuxCapabilities, String> {
    let mut added = Vec::new();
    for name in names {
        let upper = name.to_ascii_uppercase();
        let full = if upper.starts_with("CAP_") { upper } else { format!("CAP_{upper}") };
        let cap: Capability = serde_json::from_value(serde_json::Value::String(full)).map_err(|_| format!("--cap {name}: unknown capability"))?;
        added.push(cap);
    }
    let with = |set: &Option<Capabilities>| {
        let mut set = set.clone().unwrap_or_default();
        set.extend(added.iter().copied());
        Some(set)
    };
    let (bounding, effective, permitted, ambient) = (with(caps.bounding()), with(caps.effective()), with(caps.permitted()), with(caps.ambient()));
    caps.set_bounding(bounding).set_effective(effective).set_permitted(permitted).set_ambient(ambient);
    Ok(caps)
}
