//! Durations as people type them (`15m`, `3d`, `90d`, `1h30m`) and times as people read them
//! ("in 2 days", "5 minutes ago"). Shared by the daemon's config, the CLI and the console.

use crate::Error;

/// Largest duration accepted anywhere: far beyond year 9999 from now, far below `i64::MAX`.
pub const MAX_SECONDS: u64 = 400 * 365 * 86_400 * 100;

/// Parses `90`, `90s`, `15m`, `1h`, `3d`, `2w`, or sums such as `1h30m`, into seconds.
pub fn parse_duration(input: &str) -> Result<u64, Error> {
    let err = |reason| Error::Duration {
        input: input.to_owned(),
        reason,
    };
    let s = input.trim();
    if s.is_empty() {
        return Err(err("empty; use e.g. 15m, 1h, 3d, 2w"));
    }
    let mut total: u64 = 0;
    let mut num: Option<u64> = None;
    for c in s.chars() {
        if let Some(d) = c.to_digit(10) {
            let n = num
                .unwrap_or(0)
                .checked_mul(10)
                .and_then(|n| n.checked_add(u64::from(d)));
            num = Some(n.ok_or_else(|| err("too large"))?);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3_600,
            'd' => 86_400,
            'w' => 7 * 86_400,
            _ => return Err(err("unknown unit; use s, m, h, d or w")),
        };
        let n = num
            .take()
            .ok_or_else(|| err("a unit needs a number before it"))?;
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| err("too large"))?;
    }
    if let Some(n) = num {
        total = total.checked_add(n).ok_or_else(|| err("too large"))?;
    }
    if total > MAX_SECONDS {
        return Err(err("too large"));
    }
    Ok(total)
}

/// Formats seconds the short way: `90s`, `15m`, `3d`, `1h30m`.
pub fn format_duration(secs: u64) -> String {
    if secs == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    let mut rest = secs;
    for (unit, name) in [(86_400, "d"), (3_600, "h"), (60, "m"), (1, "s")] {
        if rest >= unit {
            out.push_str(&format!("{}{}", rest / unit, name));
            rest %= unit;
        }
    }
    out
}

/// "in 3d", "5m ago", "just now": the coarse relative form used in tables.
pub fn relative(from_now_secs: i64) -> String {
    let a = from_now_secs.unsigned_abs();
    if a < 5 {
        return "just now".into();
    }
    // Rounded to the nearest unit, so 23h59m55s reads "1d", not "23h".
    let round = |unit: u64| (a + unit / 2) / unit;
    let amount = if a < 60 {
        format!("{a}s")
    } else if round(60) < 60 {
        format!("{}m", round(60))
    } else if round(3_600) < 24 {
        format!("{}h", round(3_600))
    } else if round(86_400) < 365 {
        format!("{}d", round(86_400))
    } else {
        format!("{}y", round(31_536_000))
    };
    if from_now_secs > 0 {
        format!("in {amount}")
    } else {
        format!("{amount} ago")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_presets_and_sums() {
        for (s, v) in [
            ("15m", 900),
            ("1h", 3_600),
            ("1d", 86_400),
            ("3d", 259_200),
            ("14d", 1_209_600),
            ("90d", 7_776_000),
            ("2w", 1_209_600),
            ("1h30m", 5_400),
            ("45", 45),
            (" 10s ", 10),
            ("0s", 0),
        ] {
            assert_eq!(parse_duration(s), Ok(v), "{s}");
        }
    }

    #[test]
    fn rejects_garbage_and_overflow_without_panicking() {
        for s in [
            "",
            "d",
            "3x",
            "-1d",
            "1.5h",
            "99999999999999999999d",
            "18446744073709551615w",
        ] {
            assert!(parse_duration(s).is_err(), "{s}");
        }
    }

    #[test]
    fn formats_back() {
        assert_eq!(format_duration(5_400), "1h30m");
        assert_eq!(format_duration(259_200), "3d");
        assert_eq!(relative(-300), "5m ago");
        assert_eq!(relative(3 * 86_400 + 5), "in 3d");
        assert_eq!(relative(2), "just now");
        assert_eq!(relative(86_395), "in 1d");
        assert_eq!(relative(3_599), "in 1h");
        assert_eq!(relative(-90), "2m ago");
    }
}
