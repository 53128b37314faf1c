//! placeholder: filled by the crate that needs it
