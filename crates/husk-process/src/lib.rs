//! husk-process
