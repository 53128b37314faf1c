//! husk-container
