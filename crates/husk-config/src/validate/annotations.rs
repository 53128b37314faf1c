//! `annotations`: free-form, except the `org.opencontainers.image.*` keys the
//! spec defines. A malformed value there is the image's problem, not a reason
//! to refuse the container, so it is a warning.

use std::collections::HashMap;

use crate::{member_path, Warning};

pub(super) fn check(annotations: &HashMap<String, String>, warnings: &mut Vec<Warning>) {
    let mut keys: Vec<&String> = annotations.keys().collect();
    keys.sort();
    for key in keys {
        let value = &annotations[key];
        let problem = match key.strip_prefix("org.opencontainers.image.") {
            Some("created") if !is_rfc3339(value) => "is not an RFC 3339 date-time like \"2024-05-01T12:00:00Z\"",
            Some("stopSignal") if !is_signal(value) => "is not a signal name like \"SIGTERM\" or a signal number",
            Some("os" | "architecture") if value.is_empty() || value.contains(char::is_whitespace) => {
                "is not a Go-style platform name like \"linux\" or \"amd64\""
            }
            _ => continue,
        };
        warnings.push(Warning::new(member_path("annotations", key), format!("{value:?} {problem}")));
    }
}

/// Signals by name, as `kill -l` lists them (with or without `SIG`), the
/// real-time ones as `RTMIN+n`/`RTMAX-n`, or by number.
fn is_signal(value: &str) -> bool {
    const NAMES: [&str; 34] = [
        "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "IOT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2", "PIPE",
        "ALRM", "TERM", "STKFLT", "CHLD", "CLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG", "XCPU", "XFSZ",
        "VTALRM", "PROF", "WINCH", "IO", "POLL", "PWR", "SYS",
    ];
    // Linux has 32 real-time signals, SIGRTMIN (34) to SIGRTMAX (64).
    const REALTIME_COUNT: u32 = 32;
    if let Ok(number) = value.parse::<u32>() {
        return (1..=64).contains(&number);
    }
    let name = value.strip_prefix("SIG").unwrap_or(value);
    let realtime_offset = |rest: &str, sign: char| {
        rest.is_empty()
            || rest.strip_prefix(sign).and_then(|n| n.parse::<u32>().ok()).is_some_and(|n| n < REALTIME_COUNT)
    };
    if let Some(rest) = name.strip_prefix("RTMIN") {
        return realtime_offset(rest, '+');
    }
    if let Some(rest) = name.strip_prefix("RTMAX") {
        return realtime_offset(rest, '-');
    }
    NAMES.contains(&name)
}

/// RFC 3339 `date-time`: `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`.
fn is_rfc3339(value: &str) -> bool {
    let bytes = value.as_bytes();
    let number = |range: std::ops::Range<usize>| bytes.get(range).and_then(number_of);
    let separators_ok = bytes.len() >= 20
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && matches!(bytes[10], b'T' | b't')
        && bytes[13] == b':'
        && bytes[16] == b':';
    if !separators_ok {
        return false;
    }
    let (Some(year), Some(month), Some(day), Some(hour), Some(minute), Some(second)) =
        (number(0..4), number(5..7), number(8..10), number(11..13), number(14..16), number(17..19))
    else {
        return false;
    };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days_in_month = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        1..=12 => 31,
        _ => return false,
    };
    // 60 is a leap second.
    if day == 0 || day > days_in_month || hour > 23 || minute > 59 || second > 60 {
        return false;
    }
    let mut rest = &value[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return false;
        }
        rest = &fraction[digits..];
    }
    match rest.as_bytes() {
        [b'Z' | b'z'] => true,
        [b'+' | b'-', ..] if rest.len() == 6 => {
            let offset = rest.as_bytes();
            let (Some(hours), Some(minutes)) = (number_of(&offset[1..3]), number_of(&offset[4..6])) else {
                return false;
            };
            offset[3] == b':' && hours <= 23 && minutes <= 59
        }
        _ => false,
    }
}

fn number_of(digits: &[u8]) -> Option<u32> {
    digits.iter().all(u8::is_ascii_digit).then(|| digits.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339() {
        for good in ["2024-05-01T12:00:00Z", "2024-02-29T23:59:60.123+02:00", "1999-12-31t00:00:00-05:30"] {
            assert!(is_rfc3339(good), "{good}");
        }
        for bad in [
            "",
            "2024-05-01",
            "2024-05-01 12:00:00Z",
            "2023-02-29T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-05-01T24:00:00Z",
            "2024-05-01T12:00:00",
            "2024-05-01T12:00:00.Z",
            "2024-05-01T12:00:00+0200",
        ] {
            assert!(!is_rfc3339(bad), "{bad}");
        }
    }

    #[test]
    fn signals() {
        for good in ["SIGTERM", "TERM", "SIGRTMIN", "SIGRTMIN+3", "SIGRTMAX-1", "9", "64", "SIGWINCH"] {
            assert!(is_signal(good), "{good}");
        }
        for bad in ["", "SIGFOO", "sigterm", "0", "65", "SIGRTMIN+40", "SIGRTMIN-1", "-9"] {
            assert!(!is_signal(bad), "{bad}");
        }
    }

    #[test]
    fn only_defined_keys_are_checked() {
        let annotations: HashMap<String, String> = [
            ("org.opencontainers.image.stopSignal", "SIGBOGUS"),
            ("org.opencontainers.image.created", "yesterday"),
            ("org.opencontainers.image.title", ""),
            ("com.example.anything", "goes"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let mut warnings = Vec::new();
        check(&annotations, &mut warnings);
        let fields: Vec<_> = warnings.iter().map(|w| w.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                r#"annotations["org.opencontainers.image.created"]"#,
                r#"annotations["org.opencontainers.image.stopSignal"]"#
            ]
        );
    }
}
