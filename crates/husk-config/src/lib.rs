//! Loading and validating a bundle's `config.json`.
//!
//! Everything a container operation needs to know about the configuration is
//! checked here, before any side effect: a broken bundle is reported with the
//! JSON path of the offending field and leaves nothing behind.

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
}

/// Reads `<bundle>/config.json`, reporting malformed JSON with its line,
/// column and JSON path, then validates it.
pub fn load(bundle: &Path) -> Result<Spec, ConfigError> {
    let path = bundle.join("config.json");
    let text = std::fs::read(&path).map_err(|source| ConfigError::Bundle { path: path.clone(), source })?;
    let spec = parse(&path, &text)?;
    validate(&spec)?;
    Ok(spec)
}

/// Parses config JSON; `origin` names the file in errors.
pub fn parse(origin: &Path, text: &[u8]) -> Result<Spec, ConfigError> {
    let mut de = serde_json::Deserializer::from_slice(text);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner();
        ConfigError::Parse {
            path: origin.to_path_buf(),
            line: inner.line(),
            column: inner.column(),
            field: if field == "." { "(document)".into() } else { field },
            msg: inner.to_string().split(" at line ").next().unwrap_or_default().to_string(),
        }
    })
}

/// Checks the MUSTs of the spec that the types alone do not enforce.
pub fn validate(spec: &Spec) -> Result<(), ConfigError> {
    check_version(spec.version())?;
    Ok(())
}

fn check_version(version: &str) -> Result<(), ConfigError> {
    let parse = |v: &str| -> Option<(u64, u64, u64)> {
        let core = v.split(['-', '+']).next()?;
        let mut it = core.split('.').map(|p| p.parse::<u64>().ok());
        Some((it.next()??, it.next()??, it.next()??))
    };
    let field = "ociVersion";
    let Some(v) = parse(version) else {
        return Err(ConfigError::invalid(field, format!("{version:?} is not a SemVer version")));
    };
    let (min, max) = (parse(OCI_VERSION_MIN).unwrap(), parse(OCI_VERSION_MAX).unwrap());
    // Any 1.x release at or below the newest one we know; later minor versions
    // of 1.x may add fields we would silently ignore.
    if v < min || (v.0, v.1) > (max.0, max.1) {
        return Err(ConfigError::invalid(
            field,
            format!("version {version} is not supported (husk supports {OCI_VERSION_MIN} to {OCI_VERSION_MAX})"),
        ));
    }
    Ok(())
}
