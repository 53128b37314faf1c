//! `husk resume ID`: thaw a paused container.

use super::CmdResult;
use crate::Context;

#[derive(clap::Args)]
pub struct Args {
    pub id: String,
}

pub fn run(ctx: &Context, args: Args) -> CmdResult {
    husk_container::resume(&ctx.root, &args.id)?;
    Ok(0)
}
