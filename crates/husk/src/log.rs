//! The one place husk reports errors and warnings: plain text on stderr, and
//! with `--log` a log file in text or runc's JSON-lines format
//! (`{"level","msg","time"}`), whose last error line is what containerd and
//! podman show to users.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

struct Logger {
    file: Option<std::fs::File>,
    format: LogFormat,
    debug: bool,
}

static LOGGER: OnceLock<Logger> = OnceLock::new();

/// Opens the log file; failures fall back to stderr-only logging.
pub fn init(path: Option<&Path>, format: LogFormat, debug: bool) {
    let file = path.and_then(|p| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(p)
            .map_err(|e| eprintln!("husk: cannot open log file {}: {e}", p.display()))
            .ok()
    });
    let _ = LOGGER.set(Logger { file, format, debug });
}

fn write(level: &str, msg: &str) {
    let Some(logger) = LOGGER.get() else {
        eprintln!("husk: {msg}");
        return;
    };
    if level == "debug" && !logger.debug {
        return;
    }
    let time = husk_container::rfc3339_seconds(std::time::SystemTime::now());
    match &logger.file {
        Some(file) => {
            let line = match logger.format {
                LogFormat::Json => serde_json::json!({"level": level, "msg": msg, "time": time}).to_string(),
                LogFormat::Text => format!("time={time:?} level={level} msg={msg:?}"),
            };
            let _ = writeln!(&*file, "{line}");
            // Errors also go to stderr, where supervisors capture them.
            if level == "error" {
                eprintln!("{msg}");
            }
        }
        None if level == "error" => eprintln!("husk: {msg}"),
        None => eprintln!("husk: {level}: {msg}"),
    }
}

pub fn error(msg: &str) {
    write("error", msg);
}

pub fn warn(msg: &str) {
    write("warning", msg);
}

pub fn debug(msg: &str) {
    write("debug", msg);
}

/// Logs what a container's set-up reported.
pub fn notices(notices: &[husk_container::Notice]) {
    for notice in notices {
        match notice {
            husk_container::Notice::Debug(msg) => debug(msg),
            husk_container::Notice::Warning(msg) => warn(msg),
        }
    }
}
