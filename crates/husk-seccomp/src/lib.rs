//! husk-seccomp
