//! `husk delete [--force] ID`

use super::CmdResult;
use crate::Context;

#[derive(clap::Args)]
pub struct Args {
    /// Kill the container first if it is still running
    #[arg(short = 'f', long)]
    pub force: bool,
    pub id: String,
}

pub fn run(ctx: &Context, args: Args) -> CmdResult {
    for warning in husk_container::delete(&ctx.root, &args.id, args.force)? {
        crate::log::warn(&warning);
    }
    Ok(0)
}
