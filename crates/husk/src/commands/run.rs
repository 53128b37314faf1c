//! `husk run [create flags] [--detach] [--keep] ID`: create, start, and (in
//! the foreground) wait, exiting with the container's status.

use super::create::CreateFlags;
use super::CmdResult;
use crate::Context;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub flags: CreateFlags,
    /// Return once the container has started
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Keep the stopped container instead of deleting it
    #[arg(long)]
    pub keep: bool,
    /// Accepted for runc compatibility: husk reaps orphans only while it waits
    #[arg(long = "no-subreaper", hide = true)]
    pub no_subreaper: bool,
    pub id: String,
}

pub fn run(ctx: &Context, args: Args) -> CmdResult {
    let created = husk_container::create(&ctx.root, &args.flags.options(ctx, &args.id, !args.detach))?;
    crate::log::notices(&created.notices);
    if args.detach {
        return start_or_discard(ctx, &args.id).map(|()| 0);
    }
    // Signals are captured before the program runs, so none is lost.
    let signals = husk_sys::signal::SignalFd::all_catchable()?;
    start_or_discard(ctx, &args.id)?;
    let code = husk_container::wait_foreground(created.pid, &signals, created.console)?;
    if !args.keep {
        for warning in husk_container::delete(&ctx.root, &args.id, true)? {
            crate::log::warn(&warning);
        }
    }
    Ok(code)
}

fn start_or_discard(ctx: &Context, id: &str) -> Result<(), Box<dyn std::error::Error>> {
    husk_container::start(&ctx.root, id).map_err(|e| {
        let _ = husk_container::delete(&ctx.root, id, true);
        e.into()
    })
}
