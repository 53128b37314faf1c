//! `husk kill [--all] ID [SIGNAL]`

use super::CmdResult;
use crate::Context;

#[derive(clap::Args)]
pub struct Args {
    /// Send the signal to every process of the container
    #[arg(short = 'a', long)]
    pub all: bool,
    pub id: String,
    /// Number or name (KILL, SIGKILL); TERM by default
    #[arg(default_value = "TERM")]
    pub signal: String,
}

pub fn run(ctx: &Context, args: Args) -> CmdResult {
    let signal = crate::signals::parse(&args.signal)?;
    husk_container::kill(&ctx.root, &args.id, signal, args.all)?;
    Ok(0)
}
