//! `husk create [--bundle DIR] [--pid-file F] [--console-socket S] ... ID`

use std::path::PathBuf;

use super::CmdResult;
use crate::Context;

/// The options `create` and `run` share.
#[derive(clap::Args)]
pub struct CreateFlags {
    /// Path to the bundle directory
    #[arg(short = 'b', long, default_value = ".", value_name = "DIR")]
    pub bundle: PathBuf,
    /// Write the container process's host pid to FILE
    #[arg(long = "pid-file", value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// AF_UNIX socket that receives the pty master when process.terminal is set
    #[arg(long = "console-socket", value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// Use MS_MOVE and chroot instead of pivot_root (for ramdisk roots)
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// Keep the caller's session keyring instead of creating one
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
    /// Pass N more file descriptors (3 .. 3+N-1) to the container process
    #[arg(long = "preserve-fds", default_value_t = 0, value_name = "N")]
    pub preserve_fds: u32,
}

impl CreateFlags {
    pub fn options(&self, ctx: &Context, id: &str, foreground: bool) -> husk_container::CreateOptions {
        let listen_fds = socket_activation_fds();
        husk_container::CreateOptions {
            id: id.to_string(),
            bundle: self.bundle.clone(),
            pid_file: self.pid_file.as_ref().map(|p| absolute(p)),
            console_socket: self.console_socket.as_ref().map(|p| absolute(p)),
            no_pivot: self.no_pivot,
            no_new_keyring: self.no_new_keyring,
            preserve_fds: self.preserve_fds.max(listen_fds),
            listen_fds,
            notify_socket: std::env::var_os("NOTIFY_SOCKET").map(PathBuf::from),
            systemd_cgroup: ctx.systemd_cgroup,
            foreground,
        }
    }
}

/// Descriptors passed to husk by socket activation (`LISTEN_FDS` for our
/// pid), which the container process inherits like `--preserve-fds`.
fn socket_activation_fds() -> u32 {
    let pid_matches = std::env::var("LISTEN_PID").ok().and_then(|p| p.parse::<u32>().ok()) == Some(std::process::id());
    match std::env::var("LISTEN_FDS").ok().and_then(|n| n.parse().ok()) {
        Some(n) if pid_matches => n,
        _ => 0,
    }
}

/// Paths given relative to the caller's cwd, made independent of it.
pub(super) fn absolute(p: &std::path::Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub flags: CreateFlags,
    /// Accepted for runc compatibility: create always detaches
    #[arg(short = 'd', long, hide = true)]
    pub detach: bool,
    pub id: String,
}

pub fn run(ctx: &Context, args: Args) -> CmdResult {
    let created = husk_container::create(&ctx.root, &args.flags.options(ctx, &args.id, false))?;
    crate::log::notices(&created.notices);
    Ok(0)
}
