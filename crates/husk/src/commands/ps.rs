//! `husk ps [--format table|json] ID [PS ARGS...]`: the container's
//! processes; `json` is the array of host pids containerd reads, `table`
//! is ps(1)'s output restricted to them.

use super::{CmdResult, Format};
use crate::Context;

#[derive(clap::Args)]
pub struct Args {
    #[arg(short = 'f', long, value_enum, default_value = "table")]
    pub format: Format,
    pub id: String,
    /// Arguments for ps(1) (default -ef)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

pub fn run(ctx: &Context, args: Args) -> CmdResult {
    let pids = husk_container::pids(&ctx.root, &args.id)?;
    if let Format::Json = args.format {
        println!("{}", serde_json::to_string(&pids)?);
        return Ok(0);
    }
    let ps_args = if args.ps_args.is_empty() { vec!["-ef".to_string()] } else { args.ps_args };
    let out = std::process::Command::new("ps").args(&ps_args).output().map_err(|e| format!("running ps: {e}"))?;
    if !out.status.success() {
        return Err(format!("ps {}: {}", ps_args.join(" "), String::from_utf8_lossy(&out.stderr).trim()).into());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let pid_column = header.split_whitespace().position(|h| h == "PID").ok_or("ps output has no PID column")?;
    println!("{header}");
    for line in lines {
        let pid = line.split_whitespace().nth(pid_column).and_then(|p| p.parse::<i32>().ok());
        if pid.is_some_and(|p| pids.contains(&p)) {
            println!("{line}");
        }
    }
    Ok(0)
}
