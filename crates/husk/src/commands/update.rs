//! `husk update [-r FILE|-] [--memory …] ID`: change a running container's
//! resources, from LinuxResources JSON or runc's individual flags.

use std::io::Read;
use std::path::PathBuf;

use oci_spec::runtime::LinuxResources;
use serde_json::{json, Value};

use super::CmdResult;
use crate::Context;

#[derive(clap::Args)]
pub struct Args {
    /// LinuxResources JSON from FILE, or `-` for stdin
    #[arg(short = 'r', long, value_name = "FILE")]
    pub resources: Option<PathBuf>,
    /// Memory limit (bytes, or with k/m/g suffix; -1 for unlimited)
    #[arg(long, allow_hyphen_values = true)]
    pub memory: Option<String>,
    #[arg(long = "memory-reservation", allow_hyphen_values = true)]
    pub memory_reservation: Option<String>,
    /// Memory plus swap limit
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    #[arg(long = "cpu-shares", visible_alias = "cpu-share")]
    pub cpu_shares: Option<u64>,
    #[arg(long = "cpu-quota", allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<u64>,
    #[arg(long = "cpu-burst")]
    pub cpu_burst: Option<u64>,
    #[arg(long = "cpu-idle")]
    pub cpu_idle: Option<i64>,
    #[arg(long = "cpu-rt-runtime", allow_hyphen_values = true)]
    pub cpu_rt_runtime: Option<i64>,
    #[arg(long = "cpu-rt-period")]
    pub cpu_rt_period: Option<u64>,
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Maximum number of processes (-1 or 0 for... see the spec: 0 is a real limit)
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
    pub id: String,
}

pub fn run(ctx: &Context, args: Args) -> CmdResult {
    let resources = match &args.resources {
        Some(path) => read_resources(path)?,
        None => from_flags(&args)?,
    };
    husk_container::update(&ctx.root, &args.id, &resources)?;
    Ok(0)
}

fn read_resources(path: &PathBuf) -> Result<LinuxResources, Box<dyn std::error::Error>> {
    let mut text = Vec::new();
    if path.as_os_str() == "-" {
        std::io::stdin().read_to_end(&mut text)?;
    } else {
        text = std::fs::read(path).map_err(|e| format!("--resources {}: {e}", path.display()))?;
    }
    let mut de = serde_json::Deserializer::from_slice(&text);
    serde_path_to_error::deserialize(&mut de).map_err(|e| format!("--resources: {}: {}", e.path(), e.inner()).into())
}

/// Builds the partial resources the individual flags describe.
fn from_flags(a: &Args) -> Result<LinuxResources, Box<dyn std::error::Error>> {
    let mut memory = serde_json::Map::new();
    for (key, value) in [("limit", &a.memory), ("reservation", &a.memory_reservation), ("swap", &a.memory_swap)] {
        if let Some(v) = value {
            memory.insert(key.into(), json!(parse_bytes(v)?));
        }
    }
    let mut cpu = serde_json::Map::new();
    let numbers: [(&str, Option<Value>); 7] = [
        ("shares", a.cpu_shares.map(Value::from)),
        ("quota", a.cpu_quota.map(Value::from)),
        ("period", a.cpu_period.map(Value::from)),
        ("burst", a.cpu_burst.map(Value::from)),
        ("idle", a.cpu_idle.map(Value::from)),
        ("realtimeRuntime", a.cpu_rt_runtime.map(Value::from)),
        ("realtimePeriod", a.cpu_rt_period.map(Value::from)),
    ];
    for (key, value) in numbers {
        if let Some(v) = value {
            cpu.insert(key.into(), v);
        }
    }
    for (key, value) in [("cpus", &a.cpuset_cpus), ("mems", &a.cpuset_mems)] {
        if let Some(v) = value {
            cpu.insert(key.into(), json!(v));
        }
    }
    let mut doc = serde_json::Map::new();
    if !memory.is_empty() {
        doc.insert("memory".into(), Value::Object(memory));
    }
    if !cpu.is_empty() {
        doc.insert("cpu".into(), Value::Object(cpu));
    }
    if let Some(limit) = a.pids_limit {
        doc.insert("pids".into(), json!({"limit": limit}));
    }
    if let Some(weight) = a.blkio_weight {
        doc.insert("blockIO".into(), json!({"weight": weight}));
    }
    if doc.is_empty() {
        return Err("update: nothing to change (give -r FILE or a resource flag)".into());
    }
    Ok(serde_json::from_value(Value::Object(doc))?)
}

/// Sizes as runc takes them: bytes, or a number with a 1024-based
/// k/m/g/t suffix (optionally followed by `b`); `-1` means unlimited.
fn parse_bytes(s: &str) -> Result<i64, String> {
    if s == "-1" {
        return Ok(-1);
    }
    let lower = s.trim().to_ascii_lowercase();
    let trimmed = lower.strip_suffix('b').unwrap_or(&lower);
    let (num, shift) = match trimmed.chars().last() {
        Some('k') => (&trimmed[..trimmed.len() - 1], 10),
        Some('m') => (&trimmed[..trimmed.len() - 1], 20),
        Some('g') => (&trimmed[..trimmed.len() - 1], 30),
        Some('t') => (&trimmed[..trimmed.len() - 1], 40),
        _ => (trimmed, 0),
    };
    let n: f64 = num.trim().parse().map_err(|_| format!("invalid size {s:?}"))?;
    if n < 0.0 {
        return Err(format!("invalid size {s:?}"));
    }
    Ok((n * (1u64 << shift) as f64) as i64)
}

#[cfg(test)]
mod tests {
    use super::parse_bytes;

    #[test]
    fn sizes_parse_like_runc() {
        assert_eq!(parse_bytes("1024"), Ok(1024));
        assert_eq!(parse_bytes("512m"), Ok(512 << 20));
        assert_eq!(parse_bytes("1G"), Ok(1 << 30));
        assert_eq!(parse_bytes("4kb"), Ok(4096));
        assert_eq!(parse_bytes("-1"), Ok(-1));
        assert!(parse_bytes("lots").is_err());
    }
}
