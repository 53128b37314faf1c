//! `linux.seccomp`: validation, compilation to BPF, loading, and handing the
//! notify listener to a seccomp agent.
//!
//! libseccomp (through the `libseccomp` crate) turns the rules into BPF; husk
//! loads the program itself with `seccomp(2)` to control the filter flags.
//! That one syscall is wrapped in `sys`, the only module with `unsafe`; it
//! lives here rather than in husk-sys because nothing else needs it and its
//! flag handling belongs with the filter.

mod error;
mod features;
mod filter;
mod listener;
mod plan;
mod sys;

pub use error::Error;
pub use features::features;
pub use filter::{compile, Filter};
pub use listener::send_to_listener;
pub use plan::libseccomp_version;

use oci_spec::runtime::LinuxSeccomp;

/// Checks `linux.seccomp` without side effects: errno only on actions that
/// take one, a listener path when SCMP_ACT_NOTIFY is used, argument indexes,
/// architectures the linked libseccomp knows, and so on. The rules are also
/// built in libseccomp (in memory), so that conflicts show up here already.
pub fn validate(seccomp: &LinuxSeccomp) -> Result<(), Error> {
    filter::build(seccomp).map(drop)
}
