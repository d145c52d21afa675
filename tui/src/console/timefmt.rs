//! Local time for display. The offset is read once at start-up, before any thread exists (the
//! only moment the platform lets it be read soundly); tests and machines without a zone get UTC.

use std::sync::OnceLock;

use gatepass_protocol::Timestamp;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

static OFFSET: OnceLock<UtcOffset> = OnceLock::new();

/// Reads the local UTC offset. Call from `main` before the runtime starts threads.
pub fn init_local_offset() {
    let offset = UtcOffset::current_local_offset().unwrap_or(UtcOffset::UTC);
    let _ = OFFSET.set(offset);
}

/// The offset dates are shown and picked in.
pub fn offset() -> UtcOffset {
    OFFSET.get().copied().unwrap_or(UtcOffset::UTC)
}

/// `UTC` or `UTC+01:00`.
pub fn zone_name(offset: UtcOffset) -> String {
    if offset == UtcOffset::UTC {
        return "UTC".into();
    }
    let (h, m, _) = offset.as_hms();
    let sign = if offset.is_negative() { '-' } else { '+' };
    format!("UTC{sign}{:02}:{:02}", h.unsigned_abs(), m.unsigned_abs())
}

pub fn to_local(t: Timestamp) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(t.0)
        .ok()
        .map(|d| d.to_offset(offset()))
}

/// `2026-11-25 17:03:04` in local time.
pub fn local(t: Timestamp) -> String {
    let fmt = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    to_local(t)
        .and_then(|d| d.format(&fmt).ok())
        .unwrap_or_else(|| t.to_rfc3339())
}

/// `Thu 2026-12-03 17:00 UTC+01:00`: an expiry as the form shows it, zone included.
pub fn local_with_zone(t: Timestamp) -> String {
    let fmt = format_description!("[weekday repr:short] [year]-[month]-[day] [hour]:[minute]");
    match to_local(t).and_then(|d| d.format(&fmt).ok()) {
        Some(s) => format!("{s} {}", zone_name(offset())),
        None => t.to_rfc3339(),
    }
}

/// `2026-12-03 17:00 UTC+01:00`: [`local_with_zone`] without the weekday, for narrow screens.
pub fn local_with_zone_no_weekday(t: Timestamp) -> String {
    let fmt = format_description!("[year]-[month]-[day] [hour]:[minute]");
    match to_local(t).and_then(|d| d.format(&fmt).ok()) {
        Some(s) => format!("{s} {}", zone_name(offset())),
        None => t.to_rfc3339(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_are_named() {
        assert_eq!(zone_name(UtcOffset::UTC), "UTC");
        let cet = UtcOffset::from_hms(1, 0, 0).unwrap();
        assert_eq!(zone_name(cet), "UTC+01:00");
        let nfl = UtcOffset::from_hms(-3, -30, 0).unwrap();
        assert_eq!(zone_name(nfl), "UTC-03:30");
    }

    #[test]
    fn times_format_in_the_display_zone() {
        // 2030-01-31T18:00:00Z; tests never set a local offset, so this is UTC.
        assert_eq!(local(Timestamp(1_896_112_800)), "2030-01-31 18:00:00");
        assert_eq!(
            local_with_zone(Timestamp(1_896_112_800)),
            "Thu 2030-01-31 18:00 UTC"
        );
    }
}
