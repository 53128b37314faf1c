//! The few raw system calls that neither `rustix` nor `libc`'s safe surface
//! covers, each behind a small safe wrapper with its `// SAFETY:` reasoning.
//!
//! Every other crate of husk calls the kernel through `rustix` or through this
//! crate; `unsafe` does not appear elsewhere except where a crate documents why.

pub mod caps;
pub mod clone;
pub mod fd;
pub mod signal;
pub mod keyring;
pub mod mount;
pub mod sched;
pub mod bpf;
