//! From bytes to a typed `Spec`.
//!
//! The text is first read into a `serde_json::Value` (syntax errors keep their
//! line, column and JSON path), then adjusted where the spec is more lenient
//! than oci-spec's types (unknown capability names are warnings), checked for
//! required properties that oci-spec would silently default, and finally
//! deserialized into `Spec`, noting the unknown properties it ignores.

use std::fmt::Write;
use std::path::Path;

use oci_spec::runtime::{Capability, Process, Spec};
use serde::Deserialize;
use serde_json::Value;
use serde_path_to_error::Segment;

use crate::{locate, member_path, suggest, ConfigError, Warning};

pub(crate) fn parse_spec(origin: &Path, text: &[u8], warnings: &mut Vec<Warning>) -> Result<Spec, ConfigError> {
    let mut value = parse_value(origin, text)?;
    if let Some(process) = value.get_mut("process") {
        normalize_process(process, "process", warnings);
    }
    default_absent_user(&mut value, warnings);
    check_required_properties(&value)?;
    // Unknown properties must be ignored (spec), but a typo such as
    // "namespace" would then silently drop a setting: say so.
    let mut ignored = Vec::new();
    let mut note_ignored = |path: serde_ignored::Path| {
        let key = match &path {
            serde_ignored::Path::Map { key, .. } => key.clone(),
            _ => String::new(),
        };
        ignored.push((ignored_path(&path), key));
    };
    let spec =
        serde_path_to_error::deserialize(serde_ignored::Deserializer::new(&value, &mut note_ignored)).map_err(|e| {
            let field = display_path(e.path());
            let (line, column) = locate::locate(text, e.path());
            let msg = suggest::for_unknown_variant(e.into_inner().to_string());
            ConfigError::Parse { path: origin.to_path_buf(), line, column, field, msg }
        })?;
    warnings.extend(ignored.into_iter().map(|(field, key)| {
        let hint =
            suggest::for_unknown_property(&key).map(|known| format!("; did you mean `{known}`?")).unwrap_or_default();
        Warning::new(
            field,
            format!("unknown property, ignored (not part of the OCI runtime spec husk implements){hint}"),
        )
    }));
    Ok(spec)
}

fn ignored_path(path: &serde_ignored::Path) -> String {
    use serde_ignored::Path;
    match path {
        Path::Root => String::new(),
        Path::Seq { parent, index } => format!("{}[{index}]", ignored_path(parent)),
        Path::Map { parent, key } => member_path(&ignored_path(parent), key),
        Path::Some { parent } | Path::NewtypeStruct { parent } | Path::NewtypeVariant { parent } => {
            ignored_path(parent)
        }
    }
}

fn parse_value(origin: &Path, text: &[u8]) -> Result<Value, ConfigError> {
    let syntax_error = |field: String, e: serde_json::Error| ConfigError::Parse {
        path: origin.to_path_buf(),
        line: e.line(),
        // serde_json says column 0 for an error right after a newline (EOF).
        column: e.column().max(1),
        field,
        msg: message_without_position(&e),
    };
    let mut de = serde_json::Deserializer::from_slice(text);
    let value: Value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let field = display_path(e.path());
        syntax_error(field, e.into_inner())
    })?;
    de.end().map_err(|e| syntax_error("(document)".into(), e))?;
    if let Some((field, line, column)) = locate::find_duplicate_key(text) {
        return Err(ConfigError::Parse {
            path: origin.to_path_buf(),
            line,
            column,
            field,
            msg: "duplicate key: JSON objects keep only one value per key, so one of them would be ignored".into(),
        });
    }
    if !value.is_object() {
        return Err(ConfigError::Parse {
            path: origin.to_path_buf(),
            line: 1,
            column: 1,
            field: "(document)".into(),
            msg: "the configuration must be a JSON object".into(),
        });
    }
    Ok(value)
}

/// `a.b[2].c`; a segment serde could not name (a malformed key) ends the path
/// at its parent.
fn display_path(path: &serde_path_to_error::Path) -> String {
    let mut field = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => {
                let _ = write!(field, "[{index}]");
            }
            Segment::Map { key } | Segment::Enum { variant: key } => field = member_path(&field, key),
            Segment::Unknown => break,
        }
    }
    if field.is_empty() {
        "(document)".into()
    } else {
        field
    }
}

/// serde_json appends " at line L column C" to its messages; the position is
/// reported in its own fields.
fn message_without_position(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(end) => text[..end].to_string(),
        None => text,
    }
}

/// The schema lets `process.user` be left out (the spec's own examples do) and
/// runtimes then run the process as root; oci-spec's type requires it. The
/// fallback to root is spelled out as a warning.
fn default_absent_user(value: &mut Value, warnings: &mut Vec<Warning>) {
    let Some(process) = value.get_mut("process").and_then(Value::as_object_mut) else { return };
    if !process.contains_key("user") {
        process.insert("user".into(), serde_json::json!({"uid": 0, "gid": 0}));
        warnings.push(Warning::new("process.user", "not set: the process runs as uid 0, gid 0"));
    }
}

const CAPABILITY_SETS: [&str; 5] = ["bounding", "effective", "inheritable", "permitted", "ambient"];

/// Spec spelling -> the spelling `oci_spec::runtime::LinuxSchedulerFlag`
/// deserialises (oci-spec 0.10 names two flags differently from the spec).
const SCHEDULER_FLAG_SPELLINGS: [(&str, &str); 2] = [
    ("SCHED_FLAG_RESET_ON_FORK", "SCHED_RESET_ON_FORK"),
    ("SCHED_FLAG_DL_OVERRUN", "SCHED_FLAG_D_L_OVERRUN"),
];

/// Adjusts spec-valid `process` JSON (at JSON path `field`) that oci-spec's
/// types reject: unknown capability names are dropped with a warning (the
/// spec wants a warning, oci-spec would fail the whole document) and the
/// spec's scheduler flag names are mapped to oci-spec's.
pub(crate) fn normalize_process(process: &mut Value, field: &str, warnings: &mut Vec<Warning>) {
    if let Some(capabilities) = process.get_mut("capabilities").and_then(Value::as_object_mut) {
        for set in CAPABILITY_SETS {
            let Some(names) = capabilities.get_mut(set).and_then(Value::as_array_mut) else { continue };
            // Non-string entries are left for the typed parse to report, at
            // their original index.
            if !names.iter().all(Value::is_string) {
                continue;
            }
            let mut index = 0;
            names.retain(|name| {
                let known = Capability::deserialize(name).is_ok();
                if !known {
                    warnings.push(Warning::new(
                        format!("{field}.capabilities.{set}[{index}]"),
                        format!("unknown capability {name} ignored"),
                    ));
                }
                index += 1;
                known
            });
        }
    }
    if let Some(flags) = process.pointer_mut("/scheduler/flags").and_then(Value::as_array_mut) {
        for flag in flags {
            if let Some((_, accepted)) = SCHEDULER_FLAG_SPELLINGS.iter().find(|(spec, _)| flag.as_str() == Some(spec)) {
                *flag = Value::from(*accepted);
            }
        }
    }
}

/// A standalone process JSON (`exec --process`), parsed like the `process`
/// of config.json.
pub(crate) fn parse_process(origin: &Path, text: &[u8], warnings: &mut Vec<Warning>) -> Result<Process, ConfigError> {
    let mut value = parse_value(origin, text)?;
    normalize_process(&mut value, "process", warnings);
    serde_path_to_error::deserialize(&value).map_err(|e| {
        let field = display_path(e.path());
        let (line, column) = locate::locate(text, e.path());
        let msg = suggest::for_unknown_variant(e.into_inner().to_string());
        ConfigError::Parse { path: origin.to_path_buf(), line, column, field, msg }
    })
}

/// Properties the spec requires, checked before typed parsing: oci-spec
/// silently defaults many of them (a missing `uid` would become root, a
/// missing rlimit `soft` a limit of 0), and for the others this names the
/// property itself rather than its parent. `(location, required)`, where `[]`
/// in the location means "every element of the array".
const REQUIRED_PROPERTIES: &[(&str, &[&str])] = &[
    ("", &["ociVersion"]),
    ("root", &["path"]),
    ("process", &["cwd"]),
    ("process.user", &["uid", "gid"]),
    ("process.consoleSize", &["height", "width"]),
    ("process.scheduler", &["policy"]),
    ("process.ioPriority", &["class"]),
    ("process.rlimits[]", &["type", "soft", "hard"]),
    ("linux.uidMappings[]", &["containerID", "hostID", "size"]),
    ("linux.gidMappings[]", &["containerID", "hostID", "size"]),
    ("mounts[].uidMappings[]", &["containerID", "hostID", "size"]),
    ("mounts[].gidMappings[]", &["containerID", "hostID", "size"]),
    ("mounts[]", &["destination"]),
    ("hooks.prestart[]", &["path"]),
    ("hooks.createRuntime[]", &["path"]),
    ("hooks.createContainer[]", &["path"]),
    ("hooks.startContainer[]", &["path"]),
    ("hooks.poststart[]", &["path"]),
    ("hooks.poststop[]", &["path"]),
    ("linux.namespaces[]", &["type"]),
    ("linux.devices[]", &["type", "path"]),
    ("linux.seccomp", &["defaultAction"]),
    ("linux.seccomp.syscalls[]", &["names", "action"]),
    ("linux.seccomp.syscalls[].args[]", &["index", "value", "op"]),
    ("linux.resources.devices[]", &["allow"]),
    ("linux.resources.pids", &["limit"]),
    ("linux.resources.hugepageLimits[]", &["pageSize", "limit"]),
    ("linux.resources.blockIO.weightDevice[]", &["major", "minor"]),
    ("linux.resources.blockIO.throttleReadBpsDevice[]", &["major", "minor"]),
    ("linux.resources.blockIO.throttleWriteBpsDevice[]", &["major", "minor"]),
    ("linux.resources.blockIO.throttleReadIOPSDevice[]", &["major", "minor"]),
    ("linux.resources.blockIO.throttleWriteIOPSDevice[]", &["major", "minor"]),
    ("linux.resources.network.priorities[]", &["name", "priority"]),
];

fn check_required_properties(value: &Value) -> Result<(), ConfigError> {
    for (location, required) in REQUIRED_PROPERTIES {
        let steps: Vec<&str> = location.split('.').filter(|step| !step.is_empty()).collect();
        check_required_at(value, String::new(), &steps, required)?;
    }
    Ok(())
}

fn check_required_at(value: &Value, path: String, steps: &[&str], required: &[&str]) -> Result<(), ConfigError> {
    let Some((step, rest)) = steps.split_first() else {
        // Wrong types are reported by the typed parse, with a better message.
        let Some(object) = value.as_object() else { return Ok(()) };
        return match required.iter().find(|key| !object.contains_key(**key)) {
            Some(missing) => Err(ConfigError::invalid(member_path(&path, missing), "required property is missing")),
            None => Ok(()),
        };
    };
    let (key, every_element) = match step.strip_suffix("[]") {
        Some(key) => (key, true),
        None => (*step, false),
    };
    let Some(child) = value.get(key) else { return Ok(()) };
    let child_path = member_path(&path, key);
    if !every_element {
        return check_required_at(child, child_path, rest, required);
    }
    let Some(elements) = child.as_array() else { return Ok(()) };
    for (index, element) in elements.iter().enumerate() {
        check_required_at(element, format!("{child_path}[{index}]"), rest, required)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> (Result<Spec, ConfigError>, Vec<Warning>) {
        let mut warnings = Vec::new();
        let result = parse_spec(Path::new("config.json"), text.as_bytes(), &mut warnings);
        (result, warnings)
    }

    fn parse_error(text: &str) -> (usize, usize, String, String) {
        match parse(text).0 {
            Err(ConfigError::Parse { line, column, field, msg, .. }) => (line, column, field, msg),
            other => panic!("expected a parse error, got {other:?}"),
        }
    }

    #[test]
    fn syntax_error_has_position_and_field() {
        let (line, column, field, msg) =
            parse_error("{\"ociVersion\": \"1.2.0\",\n \"process\": {\"env\": [\"A=1\",]}}");
        assert_eq!((line, field.as_str()), (2, "process.env"));
        assert!(column > 1);
        assert!(msg.contains("trailing comma"), "{msg}");
    }

    #[test]
    fn trailing_garbage_is_a_syntax_error() {
        let (line, _, field, msg) = parse_error("{\"ociVersion\": \"1.2.0\"}\n}");
        assert_eq!((line, field.as_str()), (2, "(document)"));
        assert!(msg.contains("trailing characters"), "{msg}");
    }

    #[test]
    fn type_error_is_located_in_the_original_text() {
        let text = "{\n\"ociVersion\": \"1.2.0\",\n\"linux\": {\"namespaces\": [\n  {\"type\": \"pid\"},\n  {\"type\": \"pdi\"}]}}";
        let (line, column, field, msg) = parse_error(text);
        assert_eq!((line, column), (5, 12));
        assert_eq!(field, "linux.namespaces[1].type");
        assert!(msg.contains("unknown variant `pdi`"), "{msg}");
    }

    #[test]
    fn unknown_capabilities_become_warnings() {
        let text = r#"{"ociVersion": "1.2.0", "process": {"cwd": "/", "user": {"uid": 0, "gid": 0},
            "capabilities": {"bounding": ["CAP_CHOWN", "CAP_TIME_TRAVEL", "CAP_KILL"]}}}"#;
        let (result, warnings) = parse(text);
        let spec = result.unwrap();
        let bounding = spec.process().as_ref().unwrap().capabilities().as_ref().unwrap().bounding().as_ref().unwrap();
        assert_eq!(bounding.len(), 2);
        assert!(bounding.contains(&Capability::Kill));
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings[0].field, "process.capabilities.bounding[1]");
        assert!(warnings[0].msg.contains("CAP_TIME_TRAVEL"));
    }

    #[test]
    fn missing_required_property_that_oci_spec_would_default() {
        let text = r#"{"ociVersion": "1.2.0", "process": {"cwd": "/", "user": {"uid": 0, "gid": 0},
            "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 10, "hard": 10}, {"type": "RLIMIT_CORE", "hard": 0}]}}"#;
        let error = parse(text).0.unwrap_err();
        assert_eq!(error.field(), Some("process.rlimits[1].soft"));
        assert!(error.to_string().contains("required property is missing"));
    }

    #[test]
    fn missing_oci_version_is_named() {
        let error = parse("{}").0.unwrap_err();
        assert_eq!(error.field(), Some("ociVersion"));
    }

    #[test]
    fn document_must_be_an_object() {
        let (_, _, field, msg) = parse_error("[1]");
        assert_eq!(field, "(document)");
        assert!(msg.contains("JSON object"));
    }
}
