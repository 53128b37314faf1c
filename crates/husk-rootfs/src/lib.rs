//! husk-rootfs
