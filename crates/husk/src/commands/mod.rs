//! One file per command; this module only routes.

mod create;
mod delete;
mod events;
mod exec;
mod features;
mod kill;
mod list;
mod pause;
mod ps;
mod resume;
mod run;
mod spec;
mod start;
mod state;
mod update;

use crate::Context;

pub type CmdResult = Result<i32, Box<dyn std::error::Error>>;

/// `--format` of `list` and `ps`.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
}

#[derive(clap::Subcommand)]
pub enum Command {
    /// Create a container from a bundle; its process waits for `start`
    Create(create::Args),
    /// Start the user program of a created container
    Start(start::Args),
    /// Create and start a container, and wait for it
    Run(run::Args),
    /// Run a new process in a running container
    Exec(exec::Args),
    /// Print a container's state as JSON
    State(state::Args),
    /// Send a signal to a container's init (or to all its processes)
    Kill(kill::Args),
    /// Delete a container and what it owns
    Delete(delete::Args),
    /// List containers
    List(list::Args),
    /// Write a starter config.json
    Spec(spec::Args),
    /// Freeze every process of a container
    Pause(pause::Args),
    /// Thaw a paused container
    Resume(resume::Args),
    /// List a container's processes
    Ps(ps::Args),
    /// Print resource statistics and OOM events
    Events(events::Args),
    /// Change a running container's resources
    Update(update::Args),
    /// Print what this build of husk supports (features.md)
    Features,
}

impl Command {
    /// Commands that only print: they may die of SIGPIPE like any filter.
    /// The others write to hooks and sockets, where EPIPE must be handled.
    pub fn only_prints(&self) -> bool {
        matches!(self, Command::State(_) | Command::List(_) | Command::Ps(_) | Command::Events(_) | Command::Features)
    }
}

pub fn run(ctx: &Context, command: Command) -> CmdResult {
    match command {
        Command::Create(a) => create::run(ctx, a),
        Command::Start(a) => start::run(ctx, a),
        Command::Run(a) => run::run(ctx, a),
        Command::Exec(a) => exec::run(ctx, a),
        Command::State(a) => state::run(ctx, a),
        Command::Kill(a) => kill::run(ctx, a),
        Command::Delete(a) => delete::run(ctx, a),
        Command::List(a) => list::run(ctx, a),
        Command::Spec(a) => spec::run(ctx, a),
        Command::Pause(a) => pause::run(ctx, a),
        Command::Resume(a) => resume::run(ctx, a),
        Command::Ps(a) => ps::run(ctx, a),
        Command::Events(a) => events::run(ctx, a),
        Command::Update(a) => update::run(ctx, a),
        Command::Features => {
            println!("{}", serde_json::to_string_pretty(&features::document())?);
            Ok(0)
        }
    }
}

/// `husk --version`: first line `husk version X`, then `commit:` and `spec:`
/// (the lines go-runc's version parser reads).
pub fn version_text() -> String {
    format!(
        "husk version {}\ncommit: {}\nspec: {}\n",
        env!("CARGO_PKG_VERSION"),
        env!("HUSK_COMMIT"),
        husk_container::OCI_VERSION
    )
}
