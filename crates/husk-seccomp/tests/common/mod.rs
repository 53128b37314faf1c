//! Shared by the test files.

use oci_spec::runtime::LinuxSeccomp;

/// A `linux.seccomp` object from its JSON form.
pub fn seccomp(value: serde_json::Value) -> LinuxSeccomp {
    serde_json::from_value(value).expect("test config deserializes")
}
