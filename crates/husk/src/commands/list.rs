//! `husk list [--format table|json] [-q]`

use super::{CmdResult, Format};
use crate::Context;

#[derive(clap::Args)]
pub struct Args {
    #[arg(short = 'f', long, value_enum, default_value = "table")]
    pub format: Format,
    /// Print only the ids
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

pub fn run(ctx: &Context, args: Args) -> CmdResult {
    let containers = husk_container::list(&ctx.root)?;
    if args.quiet {
        for c in &containers {
            println!("{}", c.id);
        }
        return Ok(0);
    }
    match args.format {
        Format::Json => println!("{}", serde_json::to_string(&containers)?),
        Format::Table => {
            let rows: Vec<[String; 6]> = containers
                .iter()
                .map(|c| [c.id.clone(), c.pid.to_string(), c.status.to_string(), c.bundle.clone(), c.created.clone(), c.owner.clone()])
                .collect();
            let header = ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(String::from);
            let mut widths = header.clone().map(|h| h.len());
            for row in &rows {
                for (w, cell) in widths.iter_mut().zip(row) {
                    *w = (*w).max(cell.len());
                }
            }
            for row in std::iter::once(&header).chain(&rows) {
                let line: Vec<String> = row.iter().zip(widths).map(|(c, w)| format!("{c:<w$}")).collect();
                println!("{}", line.join("   ").trim_end());
            }
        }
    }
    Ok(0)
}
