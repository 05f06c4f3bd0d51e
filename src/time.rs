//! The clock: now as unix seconds or RFC 3339 (docker's log and record
//! timestamps), and RFC 3339 parsing. Used by runtime/, net/, image/ and the
//! commands alike, so it lives below all of them.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the epoch of an RFC 3339 time (`2024-05-01T10:00:00.5+02:00`).
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, min, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || min > 59 || sec > 60 {
        return None;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.chars().take_while(char::is_ascii_digit).count();
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && (rest.starts_with('+') || rest.starts_with('-')) => {
            let h: i64 = rest[1..3].parse().ok()?;
            let m: i64 = rest[4..6].parse().ok()?;
            let o = h * 3600 + m * 60;
            if rest.starts_with('-') { -o } else { o }
        }
        _ => return None,
    };
    // Days from the civil date (proleptic Gregorian), Howard Hinnant's algorithm.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hour * 3600 + min * 60 + sec - offset)
}

/// A `--since`/`--until` value that is none of docker's forms.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error(
    "invalid time {0:?}; hint: a duration before now (10m, 1h30m, 1.5h), an RFC 3339 time (2026-01-02T15:04:05Z), a local date or time (2026-01-02, 2026-01-02T15:04), or unix seconds"
)]
pub struct TimeError(pub String);

/// docker's `--since`/`--until` values (moby's `GetTimestamp`), as seconds
/// since the epoch (with a fraction): a Go duration before `now` (`90s`,
/// `1h30m`, `1.5h`, `300ms`), an RFC 3339 time, a date or time without a zone
/// taken as local time (`2006-01-02`, `2006-01-02T15`, `2006-01-02T15:04`,
/// `2006-01-02T15:04:05[.999]`), or unix seconds with an optional fraction.
pub fn parse_timestamp(text: &str, now: f64) -> Result<f64, TimeError> {
    use chrono::{NaiveDate, NaiveDateTime, TimeZone};
    let bad = || TimeError(text.to_string());
    if let Some(d) = go_duration(text) {
        return Ok(now - d);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(t.timestamp() as f64 + f64::from(t.timestamp_subsec_nanos()) / 1e9);
    }
    if let Ok(secs) = text.parse::<f64>() {
        return Ok(secs);
    }
    let naive = ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
        .or_else(|| {
            let (date, hour) = text.split_once('T').unwrap_or((text, "0"));
            let hour: u32 = if hour.len() == 2 { hour.parse().ok()? } else { (hour == "0").then_some(0)? };
            NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?.and_hms_opt(hour, 0, 0)
        })
        .ok_or_else(bad)?;
    let local = chrono::Local.from_local_datetime(&naive).earliest().ok_or_else(bad)?;
    Ok(local.timestamp() as f64 + f64::from(local.timestamp_subsec_nanos()) / 1e9)
}

/// A non-negative Go duration (`30s`, `1m30s`, `1.5h`), as Dockerfile
/// HEALTHCHECK flags and compose durations take them.
pub fn parse_go_duration(text: &str) -> Option<std::time::Duration> {
    go_duration(text).filter(|d| *d >= 0.0).map(std::time::Duration::from_secs_f64)
}

/// Go's `time.ParseDuration` in seconds: `[-+]` then one or more `<decimal><unit>`
/// with units ns, us (µs), ms, s, m, h; a bare `0` is zero.
fn go_duration(text: &str) -> Option<f64> {
    let (sign, mut rest) = match text.strip_prefix('-') {
        Some(r) => (-1.0, r),
        None => (1.0, text.strip_prefix('+').unwrap_or(text)),
    };
    if rest == "0" {
        return Some(0.0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total = 0.0;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit() && c != '.').filter(|n| *n > 0)?;
        let number: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let scale = match &rest[..unit] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += number * scale;
        rest = &rest[unit..];
    }
    Some(sign * total)
}

/// Now as RFC 3339 UTC with nanoseconds, as docker's logs carry it.
pub fn now_rfc3339() -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    format_rfc3339(now.as_secs() as i64, now.subsec_nanos())
}

/// Seconds and nanoseconds since the epoch as RFC 3339 UTC with nanoseconds.
pub fn format_rfc3339(secs: i64, nanos: u32) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{nanos:09}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Now in whole seconds since the epoch (0 if the clock is before it).
pub fn now_unix() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("2024-05-01T10:00:00.123456789Z"), Some(1_714_557_600));
        assert_eq!(parse_rfc3339("2024-05-01T12:00:00+02:00"), Some(1_714_557_600));
        assert_eq!(parse_rfc3339("2000-02-29T00:00:00Z"), Some(951_782_400));
        assert_eq!(parse_rfc3339("yesterday"), None);
        assert_eq!(parse_rfc3339("2024-13-01T00:00:00Z"), None);
        assert_eq!(format_rfc3339(1_714_557_600, 5), "2024-05-01T10:00:00.000000005Z");
        assert_eq!(format_rfc3339(951_782_400, 0), "2000-02-29T00:00:00.000000000Z");
        assert_eq!(parse_rfc3339(&format_rfc3339(1_234_567_890, 42)), Some(1_234_567_890));
    }

    #[test]
    fn docker_time_filters() {
        let now = 1_000_000.0;
        assert_eq!(parse_timestamp("90s", now), Ok(now - 90.0));
        assert_eq!(parse_timestamp("1h30m", now), Ok(now - 5400.0));
        assert_eq!(parse_timestamp("1.5h", now), Ok(now - 5400.0));
        assert!((parse_timestamp("300ms", now).unwrap() - (now - 0.3)).abs() < 1e-9);
        assert_eq!(parse_timestamp("2024-05-01T10:00:00+02:00", now), Ok(1_714_550_400.0));
        assert_eq!(parse_timestamp("1714550400.5", now), Ok(1_714_550_400.5));
        // Without a zone: local time, the same instant however it is spelled.
        let day = parse_timestamp("2024-05-01", now).unwrap();
        assert_eq!(parse_timestamp("2024-05-01T00", now), Ok(day));
        assert_eq!(parse_timestamp("2024-05-01T00:00", now), Ok(day));
        assert_eq!(parse_timestamp("2024-05-01T01:00:00", now), Ok(day + 3600.0));
        for bad in ["", "10x", "h", "yesterday", "2024-13-01", "1h-5m"] {
            assert_eq!(parse_timestamp(bad, now), Err(TimeError(bad.to_string())), "{bad}");
        }
    }
}
