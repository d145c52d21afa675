//! Human output: aligned tables with relative times, CSV with proper quoting, and the one-line
//! forms of tokens, hosts and audit events.

use gatepass_protocol::duration::relative;
use gatepass_protocol::{AuditEvent, Host, Timestamp, Token};

/// Prints rows under a header, each column as wide as its widest cell (in characters).
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    // Columns a terminal gives the text: wide (CJK) characters take two, joiners none.
    let mut widths: Vec<usize> = header.iter().map(|h| width(h)).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(width(c));
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(c);
                s.push_str(&" ".repeat(widths[i] - width(c) + 2));
            }
        }
        s.trim_end().to_owned()
    };
    let mut out = line(header.to_vec());
    out.push('\n');
    for r in rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
        out.push('\n');
    }
    out
}

/// A name in double quotes, as it reads: only what could disturb the terminal (control
/// characters, text-direction overrides and isolates, line separators — older records may hold
/// them) and the quote and backslash are escaped, so scripts and emoji show as themselves.
pub fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        let disturbs = c.is_control()
            || matches!(c, '"' | '\\')
            || gatepass_protocol::text::reorders_or_breaks(c);
        if disturbs {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    out.push('"');
    out
}

/// CSV with RFC 4180 quoting.
pub fn csv(header: &[&str], rows: &[Vec<String>]) -> String {
    let field = |s: &str| {
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_owned()
        }
    };
    let mut out = header.join(",");
    out.push('\n');
    for r in rows {
        out.push_str(&r.iter().map(|c| field(c)).collect::<Vec<_>>().join(","));
        out.push('\n');
    }
    out
}

/// `key=value` pairs (labels, audit details) joined by `sep`. A value that could be read as more than one (empty, or
/// holding a space, a comma, `=` or a quote) is quoted ([`quoted`]), so `k="a, owner=x"` is
/// one label, not two.
pub fn pairs(map: &std::collections::BTreeMap<String, String>, sep: &str) -> String {
    map.iter()
        .map(|(k, v)| {
            let plain = !v.is_empty()
                && !v.contains(|c: char| c.is_whitespace() || matches!(c, ',' | '=' | '"'));
            if plain {
                format!("{k}={v}")
            } else {
                format!("{k}={}", quoted(v))
            }
        })
        .collect::<Vec<_>>()
        .join(sep)
}

pub fn when(t: Option<Timestamp>, now: Timestamp, none: &str) -> String {
    match t {
        Some(t) => relative(t.0.saturating_sub(now.0)),
        None => none.to_owned(),
    }
}

/// When a token expires, as tables show it: "in 3d"; "in 4s" near the moment (never "just
/// now", which reads as if it were still fine); "expired just now", then "2h ago".
pub fn expiry(t: Option<Timestamp>, now: Timestamp) -> String {
    match t {
        None => "never".to_owned(),
        Some(t) if t.0 > now.0 => time_left(t.0 - now.0),
        Some(t) if now.0 - t.0 < 5 => "expired just now".to_owned(),
        Some(t) => relative(t.0.saturating_sub(now.0)),
    }
}

/// The time left before an expiry, rounded to the nearest unit but never across the day or the
/// hour: under a day reads in hours ("in 23h", never "in 1d", which would contradict the
/// "expiring <24h" count), under an hour in minutes, under a minute in seconds.
pub fn time_left(secs: i64) -> String {
    let round = |unit: i64| (secs + unit / 2) / unit;
    let amount = match secs {
        ..60 => format!("{}s", secs.max(0)),
        60..3_600 => format!("{}m", round(60).min(59)),
        3_600..EXPIRING_SOON_SECS => format!("{}h", round(3_600).min(23)),
        EXPIRING_SOON_SECS..31_536_000 => format!("{}d", round(86_400)),
        _ => format!("{}y", round(31_536_000)),
    };
    format!("in {amount}")
}

/// The columns a terminal gives `s`: wide (CJK) characters take two, combining marks none.
pub fn width(s: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(s)
}

/// `s` cut to at most `max` terminal columns, the cut marked with "…".
pub fn elide(s: &str, max: usize) -> String {
    if width(s) <= max {
        return s.to_owned();
    }
    let room = max.saturating_sub(1);
    let mut used = 0;
    let mut out = String::new();
    for c in s.chars() {
        let w = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if used + w > room {
            break;
        }
        used += w;
        out.push(c);
    }
    if max > 0 {
        out.push('…');
    }
    out
}

/// A name as messages quote it ([`quoted`]), cut to 32 columns so the rest of a one-line
/// message still shows.
pub fn name(s: &str) -> String {
    quoted(&elide(s, 32))
}

/// How near its expiry an active token counts as expiring soon.
pub const EXPIRING_SOON_SECS: i64 = 86_400;

/// Active, and expiring within a day.
pub fn expiring_soon(t: &Token, now: Timestamp) -> bool {
    t.status == gatepass_protocol::TokenStatus::Active
        && t.expires_at
            .is_some_and(|e| e.0.saturating_sub(now.0) < EXPIRING_SOON_SECS)
}

pub fn uses(t: &Token) -> String {
    format!("{}/{}", t.uses, t.max_uses)
}

/// True when a token's use count and its enrolled hosts disagree (hosts were removed).
pub fn counts_differ(t: &Token) -> bool {
    t.uses != t.hosts
}

/// The HOSTS cell: the count, flagged with `!` when it differs from the uses.
pub fn hosts_cell(t: &Token) -> String {
    if counts_differ(t) {
        format!("{} !", t.hosts)
    } else {
        t.hosts.to_string()
    }
}

pub const TOKEN_HEADER: [&str; 10] = [
    "NAME",
    "ID",
    "STATUS",
    "USES",
    "HOSTS",
    "LAST USED",
    "GROUP",
    "OWNER",
    "EXPIRES",
    "DESCRIPTION",
];

/// A token's row of `tokens list`; `whole`: every value uncut (no terminal to fit).
pub fn token_row(t: &Token, now: Timestamp, whole: bool) -> Vec<String> {
    vec![
        t.name.clone(),
        t.id.clone(),
        t.status.to_string(),
        uses(t),
        hosts_cell(t),
        when(t.last_used_at, now, "never"),
        t.group.clone().unwrap_or_else(|| "-".into()),
        t.owner.clone(),
        expiry(t.expires_at, now),
        if whole {
            t.description.clone()
        } else {
            elide(&t.description, 40)
        },
    ]
}

pub const TOKEN_CSV_HEADER: [&str; 15] = [
    "id",
    "name",
    "status",
    "uses",
    "max_uses",
    "hosts",
    "last_used_at",
    "last_used_by",
    "group",
    "labels",
    "owner",
    "expires_at",
    "created_at",
    "created_by",
    "description",
];

fn ts(t: Option<Timestamp>) -> String {
    t.map(|t| t.to_rfc3339()).unwrap_or_default()
}

pub fn token_csv_row(t: &Token) -> Vec<String> {
    let max = match t.max_uses {
        gatepass_protocol::MaxUses::Limited(n) => n.to_string(),
        gatepass_protocol::MaxUses::Unlimited => "unlimited".into(),
    };
    vec![
        t.id.clone(),
        t.name.clone(),
        t.status.to_string(),
        t.uses.to_string(),
        max,
        t.hosts.to_string(),
        ts(t.last_used_at),
        t.last_used_by.clone().unwrap_or_default(),
        t.group.clone().unwrap_or_default(),
        pairs(&t.labels, " "),
        t.owner.clone(),
        ts(t.expires_at),
        t.created_at.to_rfc3339(),
        t.created_by.clone(),
        t.description.clone(),
    ]
}

/// All fields of one token, one per line.
pub fn token_details(t: &Token, now: Timestamp) -> String {
    let labels = if t.labels.is_empty() {
        "-".to_owned()
    } else {
        pairs(&t.labels, ", ")
    };
    let at = |x: Option<Timestamp>, none: &str| match x {
        Some(x) => format!("{} ({})", x, relative(x.0.saturating_sub(now.0))),
        None => none.to_owned(),
    };
    let rows: Vec<(&str, String)> = vec![
        ("name", t.name.clone()),
        ("id", t.id.clone()),
        ("token", t.prefix.clone()),
        ("status", t.status.to_string()),
        ("uses", uses(t)),
        ("hosts", t.hosts.to_string()),
        ("last used", at(t.last_used_at, "never")),
        (
            "last used by",
            t.last_used_by.clone().unwrap_or_else(|| "-".into()),
        ),
        ("expires", at(t.expires_at, "never")),
        ("not before", at(t.not_before, "-")),
        ("group", t.group.clone().unwrap_or_else(|| "-".into())),
        ("labels", labels),
        ("owner", t.owner.clone()),
        (
            "allowed from",
            if t.allowed_cidrs.is_empty() {
                "anywhere".into()
            } else {
                t.allowed_cidrs.join(", ")
            },
        ),
        ("created", at(Some(t.created_at), "-")),
        ("created by", t.created_by.clone()),
        (
            "disabled",
            if t.disabled {
                "yes".into()
            } else {
                "no".into()
            },
        ),
        ("revoked", at(t.revoked_at, "no")),
        (
            "description",
            if t.description.is_empty() {
                "-".into()
            } else {
                t.description.clone()
            },
        ),
    ];
    let mut out = String::new();
    for (k, v) in rows {
        out.push_str(&format!("{:<13} {}\n", format!("{k}:"), v));
    }
    out
}

pub const HOST_HEADER: [&str; 7] = [
    "ID", "HOSTNAME", "TOKEN", "GROUP", "OWNER", "SOURCE", "ENROLLED",
];

pub fn host_row(h: &Host, now: Timestamp) -> Vec<String> {
    vec![
        h.id.clone(),
        h.hostname.clone(),
        h.token_name.clone(),
        h.group.clone().unwrap_or_else(|| "-".into()),
        h.owner.clone(),
        h.source_addr.clone(),
        when(Some(h.enrolled_at), now, "-"),
    ]
}

pub const HOST_CSV_HEADER: [&str; 9] = [
    "id",
    "hostname",
    "token_id",
    "token_name",
    "group",
    "owner",
    "source_addr",
    "enrolled_at",
    "key_fingerprint",
];

pub fn host_csv_row(h: &Host) -> Vec<String> {
    vec![
        h.id.clone(),
        h.hostname.clone(),
        h.token_id.clone(),
        h.token_name.clone(),
        h.group.clone().unwrap_or_default(),
        h.owner.clone(),
        h.source_addr.clone(),
        h.enrolled_at.to_rfc3339(),
        h.key_fingerprint.clone().unwrap_or_default(),
    ]
}

/// An audit event's details as `key=value` pairs; labels, which the log keeps as JSON, read as
/// the labels they are (`labels: plan=gold`), not as escaped JSON (`labels="{\"plan\"…`).
pub fn details(map: &std::collections::BTreeMap<String, String>, sep: &str) -> String {
    let mut plain = map.clone();
    let labels = plain.remove("labels").map(|v| {
        match serde_json::from_str::<std::collections::BTreeMap<String, String>>(&v) {
            Ok(l) if l.is_empty() => "labels: none".to_owned(),
            Ok(l) => format!("labels: {}", pairs(&l, " ")),
            Err(_) => pairs(&[("labels".to_owned(), v)].into(), sep),
        }
    });
    let mut out = pairs(&plain, sep);
    if let Some(l) = labels {
        if !out.is_empty() {
            out.push_str(sep);
        }
        out.push_str(&l);
    }
    out
}

pub const AUDIT_HEADER: [&str; 6] = ["SEQ", "TIME", "ACTOR", "ACTION", "TARGET", "DETAILS"];

pub fn audit_row(e: &AuditEvent) -> Vec<String> {
    let target = match (&e.target_name, e.target.is_empty()) {
        (Some(n), _) => n.clone(),
        (None, false) => e.target.clone(),
        (None, true) => "-".into(),
    };
    let details = details(&e.details, " ");
    vec![
        e.seq.to_string(),
        e.at.to_rfc3339(),
        e.actor.clone(),
        e.action.to_string(),
        target,
        details,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_in_audit_details_read_as_pairs_not_json() {
        let mut m = std::collections::BTreeMap::new();
        m.insert(
            "labels".to_owned(),
            r#"{"plan":"gold","tier":"a b"}"#.to_owned(),
        );
        m.insert("max_uses".to_owned(), "10".to_owned());
        assert_eq!(
            details(&m, " "),
            r#"max_uses=10 labels: plan=gold tier="a b""#
        );
        m.insert("labels".to_owned(), "{}".to_owned());
        assert_eq!(details(&m, " "), "max_uses=10 labels: none");
    }

    #[test]
    fn a_token_that_expired_seconds_ago_says_expired_just_now() {
        let now = Timestamp(1_000_000);
        let at = |d: i64| expiry(Some(Timestamp(now.0 + d)), now);
        assert_eq!(at(-2), "expired just now");
        assert_eq!(at(0), "expired just now");
        assert_eq!(at(3), "in 3s");
        assert_eq!(at(3 * 86_400), "in 3d");
        assert_eq!(at(-7200), "2h ago");
        assert_eq!(expiry(None, now), "never");
    }

    #[test]
    fn a_token_expiring_within_a_day_reads_in_hours_not_in_1d() {
        let now = Timestamp(1_000_000);
        let at = |d: i64| expiry(Some(Timestamp(now.0 + d)), now);
        assert_eq!(at(86_400 - 5), "in 23h");
        assert_eq!(at(23 * 3_600 + 40 * 60), "in 23h");
        assert_eq!(at(3_600 - 1), "in 59m");
        assert_eq!(at(80), "in 1m");
        assert_eq!(at(45), "in 45s");
        assert_eq!(at(86_400), "in 1d");
        // Past a day, the nearest day: a token minted for 3 days reads "in 3d" seconds later.
        assert_eq!(at(3 * 86_400 - 14), "in 3d");
        assert_eq!(at(86_400 + 3_600), "in 1d");
    }

    #[test]
    fn tables_align_by_terminal_columns() {
        let rows = vec![
            vec![
                "東京サーバー".to_string(),
                "東京".to_string(),
                "x".to_string(),
            ],
            vec!["web".to_string(), "g".to_string(), "y".to_string()],
        ];
        let t = table(&["NAME", "GROUP", "OWNER"], &rows);
        // The third column starts at the same terminal column on every line.
        let col = |line: &str, cell: &str| {
            let at = line.find(cell).unwrap();
            ratatui::text::Span::raw(&line[..at]).width()
        };
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(col(lines[0], "OWNER"), col(lines[1], "x"), "{t}");
        assert_eq!(col(lines[1], "x"), col(lines[2], "y"), "{t}");
    }

    #[test]
    fn names_are_quoted_as_they_read() {
        assert_eq!(quoted("👩\u{200D}💻"), "\"👩\u{200D}💻\"");
        assert_eq!(quoted("می\u{200C}خواهم"), "\"می\u{200C}خواهم\"");
        assert_eq!(quoted("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(quoted("x\u{202E}y\nz"), r#""x\u{202e}y\nz""#);
    }

    #[test]
    fn tables_align_on_characters_not_bytes() {
        let t = table(
            &["A", "B"],
            &[
                vec!["é".into(), "x".into()],
                vec!["long".into(), "y".into()],
            ],
        );
        assert_eq!(t, "A     B\né     x\nlong  y\n");
    }

    #[test]
    fn csv_quotes_what_needs_quoting() {
        let c = csv(&["a", "b"], &[vec!["x,y".into(), "say \"hi\"".into()]]);
        assert_eq!(c, "a,b\n\"x,y\",\"say \"\"hi\"\"\"\n");
    }

    #[test]
    fn a_value_that_could_read_as_more_than_one_is_quoted() {
        let mut m = std::collections::BTreeMap::new();
        m.insert("k".to_owned(), "a, owner=mallory".to_owned());
        m.insert("plan".to_owned(), "gold".to_owned());
        m.insert("note".to_owned(), String::new());
        assert_eq!(
            pairs(&m, ", "),
            r#"k="a, owner=mallory", note="", plan=gold"#
        );
        m.clear();
        m.insert("last_used_by".to_owned(), "web-01 (10.0.0.5)".to_owned());
        m.insert("said".to_owned(), "a\"b".to_owned());
        assert_eq!(
            pairs(&m, " "),
            r#"last_used_by="web-01 (10.0.0.5)" said="a\"b""#
        );
    }

    #[test]
    fn long_text_is_shortened_by_terminal_columns_with_an_ellipsis() {
        assert_eq!(elide("abcdef", 4), "abc…");
        assert_eq!(elide("abc", 4), "abc");
        // Two columns a character: 東京 is 4 columns, and a cut never splits one.
        assert_eq!(elide("東京データ", 6), "東京…");
        assert_eq!(elide("東京データ", 5), "東京…");
        assert_eq!(elide("東京データ", 10), "東京データ");
        assert_eq!(elide("abc", 0), "");
        assert_eq!(name("a\"b"), r#""a\"b""#);
        assert_eq!(width(&name(&"x".repeat(80))), 34);
    }
}
