//! husk-cgroups
