//! Every `tests/corpus/NAME.json` is loaded the way `husk create` loads a
//! bundle and must produce what `NAME.expect` says:
//!
//! ```text
//! error | warning | ok      what must happen
//! field: JSON.path        the error's or a warning's field
//! contains: text          a substring of its message (may be repeated)
//! line: N                 (errors) the line reported
//! ```
//!
//! The `schema-*` cases are the runtime-spec's own schema test documents.
//! Each file is a complete config.json for a busybox rootfs at `rootfs`, so it
//! can also be dropped into a bundle to compare with other runtimes.

use std::fs;
use std::path::{Path, PathBuf};

use husk_config::{ConfigError, Warning};

#[derive(Default)]
struct Expectation {
    kind: String,
    field: Option<String>,
    contains: Vec<String>,
    line: Option<usize>,
}

fn read_expectation(path: &Path) -> Expectation {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let mut expectation = Expectation { kind: lines.next().unwrap_or_default().to_string(), ..Default::default() };
    for line in lines {
        match line.split_once(": ") {
            Some(("field", value)) => expectation.field = Some(value.to_string()),
            Some(("contains", value)) => expectation.contains.push(value.to_string()),
            Some(("line", value)) => expectation.line = Some(value.parse().expect("line: a number")),
            _ => panic!("{}: unexpected line {line:?}", path.display()),
        }
    }
    expectation
}

/// What loading the bundle gives: `parse` then `validate`, as `load` does.
fn load(path: &Path) -> Result<Vec<Warning>, ConfigError> {
    let text = fs::read(path).unwrap();
    let mut loaded = husk_config::parse_with_warnings(path, &text)?;
    loaded.warnings.extend(husk_config::validate_with_warnings(&loaded.spec)?);
    Ok(loaded.warnings)
}

fn corpus() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut cases: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    cases.sort();
    cases
}

fn check_case(case: &Path) -> Result<(), String> {
    let expectation = read_expectation(&case.with_extension("expect"));
    let result = load(case);
    let (field, message, line) = match (expectation.kind.as_str(), &result) {
        ("ok", Ok(warnings)) if warnings.is_empty() => return Ok(()),
        ("error", Err(error)) => {
            let line = match error {
                ConfigError::Parse { line, .. } => Some(*line),
                _ => None,
            };
            (error.field().map(str::to_owned), error.to_string(), line)
        }
        ("warning", Ok(warnings)) => match warnings.iter().find(|w| Some(&w.field) == expectation.field.as_ref()) {
            Some(warning) => (Some(warning.field.clone()), warning.to_string(), None),
            None => return Err(format!("no warning for {:?} in {warnings:?}", expectation.field)),
        },
        (kind, other) => return Err(format!("expected {kind}, got {other:?}")),
    };
    if expectation.field.is_some() && field != expectation.field {
        return Err(format!("field {field:?}, expected {:?} ({message})", expectation.field));
    }
    if let Some(wanted) = expectation.contains.iter().find(|wanted| !message.contains(wanted.as_str())) {
        return Err(format!("message {message:?} does not contain {wanted:?}"));
    }
    if expectation.line.is_some() && line != expectation.line {
        return Err(format!("line {line:?}, expected {:?} ({message})", expectation.line));
    }
    Ok(())
}

#[test]
fn every_corpus_case_gives_the_expected_message() {
    let cases = corpus();
    assert!(cases.len() >= 40, "corpus went missing: {} cases", cases.len());
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|case| {
            check_case(case).err().map(|e| format!("{}: {e}", case.file_name().unwrap().to_string_lossy()))
        })
        .collect();
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

#[test]
fn every_case_has_an_expectation() {
    for case in corpus() {
        assert!(case.with_extension("expect").is_file(), "{} has no .expect", case.display());
    }
}

#[test]
fn load_reads_config_json_from_the_bundle() {
    let bundle = tempdir("load");
    let error = husk_config::load(bundle.path()).unwrap_err();
    assert!(matches!(&error, ConfigError::Bundle { path, .. } if path.ends_with("config.json")), "{error}");
    let case = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/warn-unknown-capability.json");
    fs::copy(case, bundle.path().join("config.json")).unwrap();
    let loaded = husk_config::load_with_warnings(bundle.path()).unwrap();
    assert_eq!(loaded.spec.version(), "1.2.0");
    assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
    assert!(husk_config::load(bundle.path()).is_ok());
}

/// A directory removed on drop, even when the test fails.
struct TempDir(PathBuf);

impl TempDir {
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn tempdir(name: &str) -> TempDir {
    let path = std::env::temp_dir().join(format!("husk-config-test-{name}-{}", std::process::id()));
    fs::create_dir_all(&path).unwrap();
    TempDir(path)
}
