//! Loading and validating a bundle's `config.json`.
//!
//! Everything a container operation needs to know about the configuration is
//! checked here, before any side effect: a broken bundle is reported with the
//! JSON path of the offending field and leaves nothing behind.
//!
//! Three layers, each reporting the JSON path (`linux.namespaces[2].type`):
//! - syntax, duplicate keys and types (serde), with line and column in the
//!   file, and a "did you mean" for misspelled enum values;
//! - the schema's required properties, which oci-spec's types would silently
//!   default (a missing `uid` becoming root);
//! - the spec's MUSTs across fields (unique namespaces, absolute paths,
//!   mappings that need a user namespace, ...), and the fields husk does not
//!   implement, which are refused rather than ignored.
//!
//! Things the spec wants *logged* rather than refused come back as
//! [`Warning`]s: unknown capabilities, unknown properties (with a "did you
//! mean" for typos), malformed `org.opencontainers.image.*` annotations,
//! deprecated forms.

mod locate;
mod parse;
mod suggest;
mod validate;

use std::fmt;
use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;

/// Lowest and highest `ociVersion` husk runs.
pub const OCI_VERSION_MIN: &str = "1.0.0";
pub const OCI_VERSION_MAX: &str = "1.3.0";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("bundle {path}: {source}")]
    Bundle { path: PathBuf, source: std::io::Error },
    #[error("{path}: line {line} column {column}: {field}: {msg}")]
    Parse { path: PathBuf, line: usize, column: usize, field: String, msg: String },
    #[error("config.json: {field}: {msg}")]
    Invalid { field: String, msg: String },
}

impl ConfigError {
    pub fn invalid(field: impl Into<String>, msg: impl Into<String>) -> Self {
        ConfigError::Invalid { field: field.into(), msg: msg.into() }
    }

    /// The JSON path of the offending field, when the error concerns one.
    pub fn field(&self) -> Option<&str> {
        match self {
            ConfigError::Bundle { .. } => None,
            ConfigError::Parse { field, .. } | ConfigError::Invalid { field, .. } => Some(field),
        }
    }
}

/// Something in the configuration that husk accepts but the user should hear
/// about: the spec asks for some problems to be logged instead of refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// JSON path of the field, e.g. `process.capabilities.bounding[3]`.
    pub field: String,
    pub msg: String,
}

impl Warning {
    pub(crate) fn new(field: impl Into<String>, msg: impl Into<String>) -> Self {
        Warning { field: field.into(), msg: msg.into() }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "config.json: {}: {}", self.field, self.msg)
    }
}

/// JSON path of member `key` of the object at `parent` (`""` for the
/// document): `process.cwd`, or `annotations["org.example.key"]` when the key
/// is not a plain identifier, so paths stay unambiguous.
pub(crate) fn member_path(parent: &str, key: &str) -> String {
    let plain = key.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    match (parent.is_empty(), plain) {
        (true, true) => key.to_string(),
        (false, true) => format!("{parent}.{key}"),
        (_, false) => format!("{parent}[{key:?}]"),
    }
}

/// A parsed and validated configuration with the warnings met on the way.
#[derive(Debug)]
pub struct Loaded {
    pub spec: Spec,
    pub warnings: Vec<Warning>,
}

/// Reads `<bundle>/config.json`, reporting malformed JSON with its line,
/// column and JSON path, then validates it. Warnings are dropped; use
/// [`load_with_warnings`] to show them.
pub fn load(bundle: &Path) -> Result<Spec, ConfigError> {
    load_with_warnings(bundle).map(|loaded| loaded.spec)
}

/// [`load`], also returning the warnings.
pub fn load_with_warnings(bundle: &Path) -> Result<Loaded, ConfigError> {
    let path = bundle.join("config.json");
    let text = std::fs::read(&path).map_err(|source| ConfigError::Bundle { path: path.clone(), source })?;
    let mut loaded = parse_with_warnings(&path, &text)?;
    loaded.warnings.extend(validate_with_warnings(&loaded.spec)?);
    Ok(loaded)
}

/// Parses config JSON without the cross-field validation; `origin` names the
/// file in errors. Warnings are dropped; see [`parse_with_warnings`].
pub fn parse(origin: &Path, text: &[u8]) -> Result<Spec, ConfigError> {
    parse_with_warnings(origin, text).map(|loaded| loaded.spec)
}

/// [`parse`], also returning the warnings (unknown capabilities, which are
/// dropped from the returned spec).
pub fn parse_with_warnings(origin: &Path, text: &[u8]) -> Result<Loaded, ConfigError> {
    let mut warnings = Vec::new();
    let spec = parse::parse_spec(origin, text, &mut warnings)?;
    Ok(Loaded { spec, warnings })
}

/// Parses a standalone `process` JSON (as `exec --process` takes it), with
/// the same leniency as config.json's `process` (unknown capabilities are
/// warnings).
pub fn parse_process(origin: &Path, text: &[u8]) -> Result<(oci_spec::runtime::Process, Vec<Warning>), ConfigError> {
    let mut warnings = Vec::new();
    let process = parse::parse_process(origin, text, &mut warnings)?;
    Ok((process, warnings))
}

/// Checks a process given on its own (as `exec` runs it) against the spec's
/// rules and what husk supports.
pub fn validate_process(process: &oci_spec::runtime::Process) -> Result<(), ConfigError> {
    validate::validate_process(process)
}

/// Checks the MUSTs of the spec that the types alone do not enforce.
pub fn validate(spec: &Spec) -> Result<(), ConfigError> {
    validate_with_warnings(spec).map(drop)
}

/// [`validate`], also returning the warnings.
pub fn validate_with_warnings(spec: &Spec) -> Result<Vec<Warning>, ConfigError> {
    let mut warnings = Vec::new();
    validate::validate_spec(spec, &mut warnings)?;
    Ok(warnings)
}

#[cfg(test)]
mod tests {
    #[test]
    fn spec_scheduler_flag_names_parse() {
        let text = serde_json::json!({
            "user": {"uid": 0, "gid": 0}, "cwd": "/", "args": ["sh"],
            "scheduler": {"policy": "SCHED_OTHER", "flags": [
                "SCHED_FLAG_RESET_ON_FORK", "SCHED_FLAG_RECLAIM", "SCHED_FLAG_DL_OVERRUN", "SCHED_FLAG_KEEP_POLICY",
                "SCHED_FLAG_KEEP_PARAMS", "SCHED_FLAG_UTIL_CLAMP_MIN", "SCHED_FLAG_UTIL_CLAMP_MAX"
            ]},
            "capabilities": {"bounding": ["CAP_KILL", "CAP_FROB"]}
        })
        .to_string();
        let (process, warnings) = super::parse_process(std::path::Path::new("process.json"), text.as_bytes()).unwrap();
        let flags = process.scheduler().as_ref().unwrap().flags().as_ref().unwrap();
        assert_eq!(flags.len(), 7);
        assert_eq!(flags[0], oci_spec::runtime::LinuxSchedulerFlag::SchedResetOnFork);
        assert_eq!(flags[2], oci_spec::runtime::LinuxSchedulerFlag::SchedFlagDLOverrun);
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings[0].field, "process.capabilities.bounding[1]");
    }

    use super::member_path;

    #[test]
    fn member_paths_quote_keys_that_are_not_identifiers() {
        assert_eq!(member_path("", "process"), "process");
        assert_eq!(member_path("process", "cwd"), "process.cwd");
        assert_eq!(member_path("linux.resources.rdma", "mlx5_1"), "linux.resources.rdma.mlx5_1");
        assert_eq!(member_path("annotations", "org.example.key"), r#"annotations["org.example.key"]"#);
        assert_eq!(member_path("", "a b"), r#"["a b"]"#);
    }
}
