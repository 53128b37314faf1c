//! `husk events [--stats] [--interval 5s] ID`: resource statistics, once or
//! streamed with `oom` events, as runc's JSON objects
//! (`{"type":"stats","id":…,"data":{…}}`, `{"type":"oom","id":…}`).

use std::time::Duration;

use super::CmdResult;
use crate::Context;

#[derive(clap::Args)]
pub struct Args {
    /// Print one stats object and exit
    #[arg(long)]
    pub stats: bool,
    /// Interval between stats objects (e.g. 5s, 500ms)
    #[arg(long, default_value = "5s", value_parser = parse_interval)]
    pub interval: Duration,
    pub id: String,
}

fn parse_interval(s: &str) -> Result<Duration, String> {
    let (num, unit) = s.find(|c: char| !c.is_ascii_digit() && c != '.').map_or((s, "s"), |i| s.split_at(i));
    let n: f64 = num.parse().map_err(|_| format!("invalid interval {s:?}"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("invalid interval unit in {s:?} (ms, s, m, h)")),
    };
    if secs <= 0.0 {
        return Err("the interval must be positive".into());
    }
    Ok(Duration::from_secs_f64(secs))
}

fn print_event(kind: &str, id: &str, data: Option<serde_json::Value>) -> Result<(), Box<dyn std::error::Error>> {
    let mut event = serde_json::json!({"type": kind, "id": id});
    if let Some(data) = data {
        event["data"] = data;
    }
    println!("{event}");
    Ok(())
}

pub fn run(ctx: &Context, args: Args) -> CmdResult {
    let stats = || -> Result<serde_json::Value, Box<dyn std::error::Error>> {
        Ok(serde_json::to_value(husk_container::stats(&ctx.root, &args.id)?)?)
    };
    if args.stats {
        print_event("stats", &args.id, Some(stats()?))?;
        return Ok(0);
    }
    let mut oom = husk_container::oom_state(&ctx.root, &args.id)?;
    // Checked several times per interval so that OOM events are timely.
    let tick = args.interval.min(Duration::from_millis(200));
    let mut since_stats = args.interval;
    loop {
        if husk_container::is_stopped(&ctx.root, &args.id)? {
            return Ok(0);
        }
        let now = husk_container::oom_state(&ctx.root, &args.id)?;
        if now.is_new_oom_since(&oom) {
            print_event("oom", &args.id, None)?;
        }
        oom = now;
        if since_stats >= args.interval {
            print_event("stats", &args.id, Some(stats()?))?;
            since_stats = Duration::ZERO;
        }
        std::thread::sleep(tick);
        since_stats += tick;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn intervals_parse_like_go_durations() {
        assert_eq!(super::parse_interval("5s").unwrap().as_secs(), 5);
        assert_eq!(super::parse_interval("500ms").unwrap().as_millis(), 500);
        assert_eq!(super::parse_interval("2").unwrap().as_secs(), 2);
        assert!(super::parse_interval("0s").is_err());
        assert!(super::parse_interval("5x").is_err());
    }
}
