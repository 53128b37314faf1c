//! `husk state ID`: runc's JSON (ociVersion, id, pid, status, bundle, rootfs,
//! created, owner, annotations).

use super::CmdResult;
use crate::Context;

#[derive(clap::Args)]
pub struct Args {
    pub id: String,
}

pub fn run(ctx: &Context, args: Args) -> CmdResult {
    let state = husk_container::state(&ctx.root, &args.id)?;
    println!("{}", serde_json::to_string_pretty(&state)?);
    Ok(0)
}
