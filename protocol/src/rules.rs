//! The rules a request's fields follow, checked alike by the daemon (before anything is
//! stored), the CLI (before anything is sent) and the console (beside each field): what a
//! valid name, description, label, hostname, fact or CIDR is, and how a token's lifetime is
//! worked out from a TTL, a date or "no expiry" under the daemon's policy. Free of I/O.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::Timestamp;
use crate::text::reorders_or_breaks;

pub const NAME_MAX: usize = 64;
pub const DESCRIPTION_MAX: usize = 512;
pub const LABELS_MAX: usize = 64;
pub const LABEL_VALUE_MAX: usize = 256;
pub const CIDRS_MAX: usize = 32;
pub const HOSTNAME_MAX: usize = 253;
pub const FACTS_MAX: usize = 64;

/// Characters that show as nothing: Unicode's format characters (zero-width spaces, direction
/// marks, the soft hyphen, tags…), the combining grapheme joiner and the Hangul fillers. Two
/// names that differ only by them look alike, so names refuse them; the zero-width joiner and
/// non-joiner are allowed between two non-ASCII characters, where scripts and emoji need them.
fn invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{0600}'..='\u{0605}'
            | '\u{061C}'
            | '\u{06DD}'
            | '\u{070F}'
            | '\u{0890}'..='\u{0891}'
            | '\u{08E2}'
            | '\u{115F}'..='\u{1160}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{2060}'..='\u{2064}'
            | '\u{206A}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{110BD}'
            | '\u{110CD}'
            | '\u{13430}'..='\u{1343F}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0001}'
            | '\u{E0020}'..='\u{E007F}'
    )
}

/// Text that shows as what it is: no control character, nothing that reorders or breaks it.
fn printable(s: &str) -> bool {
    !s.chars().any(|c| c.is_control() || reorders_or_breaks(c))
}

/// A name that looks like nothing but itself: printable, with nothing invisible in it (a
/// zero-width joiner or non-joiner only between two non-ASCII characters).
fn plain_name(s: &str) -> bool {
    let chars: Vec<char> = s.chars().collect();
    printable(s)
        && chars.iter().enumerate().all(|(i, &c)| {
            if c == '\u{200C}' || c == '\u{200D}' {
                let before = i.checked_sub(1).and_then(|j| chars.get(j));
                let after = chars.get(i + 1);
                return before.is_some_and(|b| !b.is_ascii())
                    && after.is_some_and(|a| !a.is_ascii());
            }
            !invisible(c)
        })
}

/// True when `s` holds a whole, valid Gatepass token (enrollment or API), as written or once
/// its `%XX` escapes are decoded (however many times they were applied): such text is refused
/// everywhere it would be stored, so a secret pasted into the wrong field never reaches disk,
/// not even one character away from plain text.
pub fn contains_token(s: &str) -> bool {
    let mut text = std::borrow::Cow::Borrowed(s);
    // Each decoding shortens the text; a handful covers any escape of an escape.
    for _ in 0..4 {
        if holds_token(&text) {
            return true;
        }
        match percent_decoded(&text) {
            Some(d) => text = std::borrow::Cow::Owned(d),
            None => return false,
        }
    }
    holds_token(&text)
}

/// `s` with its `%XX` escapes decoded (invalid UTF-8 replaced), or `None` if it has none.
fn percent_decoded(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    let mut any = false;
    while i < b.len() {
        if b[i] == b'%'
            && let (Some(h), Some(l)) = (
                b.get(i + 1).copied().and_then(hex),
                b.get(i + 2).copied().and_then(hex),
            )
        {
            out.push(h << 4 | l);
            i += 3;
            any = true;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    any.then(|| String::from_utf8_lossy(&out).into_owned())
}

fn holds_token(s: &str) -> bool {
    let b = s.as_bytes();
    (0..b.len().saturating_sub(crate::token::TOKEN_LEN - 1)).any(|i| {
        (b[i..].starts_with(b"gpt_") || b[i..].starts_with(b"gpa_"))
            && s.get(i..i + crate::token::TOKEN_LEN)
                .is_some_and(|t| crate::token::parse(t).is_ok())
    })
}

/// Refuses text that holds a whole token (`contains_token`), naming the field: the check every
/// stored text field passes.
pub fn no_token(field: &str, s: &str) -> Result<(), String> {
    if contains_token(s) {
        return Err(format!(
            "{field} contains a Gatepass token; tokens are never stored"
        ));
    }
    Ok(())
}

/// Names: 1–64 printable characters, no surrounding spaces.
pub fn validate_name(field: &str, s: &str) -> Result<(), String> {
    let n = s.chars().count();
    if n == 0 || s.trim().is_empty() {
        return Err(format!("{field} is required"));
    }
    if n > NAME_MAX {
        return Err(format!(
            "{field} is {n} characters long; at most {NAME_MAX} are allowed"
        ));
    }
    if !plain_name(s) {
        return Err(format!(
            "{field} contains a control or invisible character, or one that reorders text"
        ));
    }
    if s.trim() != s {
        return Err(format!("{field} starts or ends with a space"));
    }
    if crate::token::id_in_display_form(s).is_some() {
        return Err(format!(
            "{field} has the form tokens are shown in (their prefix and id), which names another \
             token"
        ));
    }
    no_token(field, s)
}

pub fn validate_description(s: &str) -> Result<(), String> {
    let n = s.chars().count();
    if n > DESCRIPTION_MAX {
        return Err(format!(
            "description is {n} characters long; at most {DESCRIPTION_MAX} are allowed"
        ));
    }
    if !printable(s) {
        return Err("description contains a control character, or one that reorders text".into());
    }
    no_token("description", s)
}

pub fn validate_labels(labels: &BTreeMap<String, String>) -> Result<(), String> {
    if labels.len() > LABELS_MAX {
        return Err(format!("at most {LABELS_MAX} labels are allowed"));
    }
    for (k, v) in labels {
        let key_ok = !k.is_empty()
            && k.len() <= NAME_MAX
            && k.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._/-".contains(&b));
        if !key_ok {
            return Err(format!(
                "label key {k:?} must be 1–{NAME_MAX} characters of A-Z a-z 0-9 . _ / -"
            ));
        }
        if v.chars().count() > LABEL_VALUE_MAX || !printable(v) {
            return Err(format!(
                "label {k}: the value must be at most {LABEL_VALUE_MAX} characters, with no \
                 control character or one that reorders text"
            ));
        }
        no_token(&format!("label {k}"), v)?;
    }
    Ok(())
}

/// Host names: 1–253 characters of letters, digits, `.`, `-` and `_`.
pub fn validate_hostname(s: &str) -> Result<(), String> {
    if s.is_empty() || s.len() > HOSTNAME_MAX {
        return Err(format!("hostname must be 1–{HOSTNAME_MAX} characters"));
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    {
        return Err("hostname may contain only letters, digits, '.', '-' and '_'".into());
    }
    no_token("hostname", s)
}

pub fn validate_facts(facts: &BTreeMap<String, serde_json::Value>) -> Result<(), String> {
    if facts.len() > FACTS_MAX {
        return Err(format!("at most {FACTS_MAX} facts are allowed"));
    }
    if let Some(k) = facts
        .keys()
        .find(|k| k.is_empty() || k.chars().count() > NAME_MAX || !plain_name(k))
    {
        return Err(format!(
            "fact name {k:?} must be 1–{NAME_MAX} printable, visible characters"
        ));
    }
    // Values are shown to operators as JSON, which escapes control characters but not these.
    fn reorders(v: &serde_json::Value) -> bool {
        match v {
            serde_json::Value::String(s) => s.chars().any(reorders_or_breaks),
            serde_json::Value::Array(items) => items.iter().any(reorders),
            serde_json::Value::Object(m) => m
                .iter()
                .any(|(k, v)| k.chars().any(reorders_or_breaks) || reorders(v)),
            _ => false,
        }
    }
    if let Some(k) = facts.iter().find(|(_, v)| reorders(v)).map(|(k, _)| k) {
        return Err(format!(
            "fact {k:?} holds a character that reorders or breaks text"
        ));
    }
    let text = serde_json::to_string(facts).unwrap_or_default();
    no_token("facts", &text)
}

/// Parses CIDRs (a bare address means that address alone) into their canonical text.
pub fn normalise_cidrs(list: &[String]) -> Result<Vec<String>, String> {
    if list.len() > CIDRS_MAX {
        return Err(format!("at most {CIDRS_MAX} allowed_cidrs are allowed"));
    }
    list.iter()
        .map(|s| {
            let s = s.trim();
            s.parse::<IpNet>()
                .map(|n| n.trunc().to_string())
                .or_else(|_| s.parse::<IpAddr>().map(|ip| IpNet::from(ip).to_string()))
                .map_err(|_| format!("{s:?} is not an address or CIDR (e.g. 10.0.0.0/8)"))
        })
        .collect()
}

/// Lifetime policy, from the daemon's config.
#[derive(Debug, Clone, Copy)]
pub struct LifetimePolicy {
    pub default_ttl: u64,
    pub max_ttl: Option<u64>,
    pub allow_no_expiry: bool,
}

/// Works out `expires_at` from at most one of a TTL, a date, or "no expiry".
pub fn resolve_expiry(
    ttl: Option<u64>,
    expires_at: Option<Timestamp>,
    no_expiry: bool,
    now: Timestamp,
    policy: LifetimePolicy,
) -> Result<Option<Timestamp>, String> {
    let given =
        usize::from(ttl.is_some()) + usize::from(expires_at.is_some()) + usize::from(no_expiry);
    if given > 1 {
        return Err("give at most one of ttl, expires_at and no_expiry".into());
    }
    if no_expiry {
        if !policy.allow_no_expiry {
            return Err("this daemon requires every token to expire".into());
        }
        if policy.max_ttl.is_some() {
            return Err("this daemon caps token lifetimes; no_expiry is not allowed".into());
        }
        return Ok(None);
    }
    let at = match (ttl, expires_at) {
        (Some(0), _) => return Err("ttl must be at least 1 second".into()),
        (Some(t), _) => now
            .checked_add(t)
            .ok_or("ttl reaches beyond the year 9999")?,
        (None, Some(at)) => at,
        (None, None) => now
            .checked_add(policy.default_ttl)
            .ok_or("default ttl overflows")?,
    };
    check_expiry(at, now, policy).map(Some)
}

/// A new expiry must be in the future and within the daemon's cap.
pub fn check_expiry(
    at: Timestamp,
    now: Timestamp,
    policy: LifetimePolicy,
) -> Result<Timestamp, String> {
    if at <= now {
        return Err(format!("expiry {at} is not in the future"));
    }
    if at > Timestamp::MAX {
        return Err("expiry is beyond the year 9999".into());
    }
    if let Some(max) = policy.max_ttl
        && (at.0 - now.0) as u64 > max
    {
        return Err(format!(
            "this daemon caps token lifetimes at {}",
            crate::duration::format_duration(max)
        ));
    }
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: LifetimePolicy = LifetimePolicy {
        default_ttl: 3 * 86_400,
        max_ttl: None,
        allow_no_expiry: true,
    };

    #[test]
    fn names_are_checked() {
        assert!(validate_name("name", "web-rollout").is_ok());
        assert!(validate_name("name", "").is_err());
        assert!(validate_name("name", " x").is_err());
        assert!(validate_name("name", "a\nb").is_err());
        assert!(validate_name("name", &"é".repeat(64)).is_ok());
        assert!(validate_name("name", &"é".repeat(65)).is_err());
        // The form lists show tokens in names a token; a name may not take it.
        for shown in [
            "gpt_AbCdEfGh1234…",
            "gpt_AbCdEfGh1234...",
            "gpt_AbCdEfGh1234",
        ] {
            assert!(validate_name("name", shown).is_err(), "{shown}");
        }
        assert!(validate_name("name", "gpt_web").is_ok());
        assert!(validate_name("name", "webservers01").is_ok());
        // Text that reorders or breaks what is shown is refused everywhere.
        for bad in ["web\u{202E}tuo", "a\u{2066}b\u{2069}", "line\u{2028}break"] {
            let e = validate_name("name", bad).unwrap_err();
            assert!(e.contains("reorders"), "{bad:?}: {e}");
            assert!(validate_description(bad).is_err(), "{bad:?}");
            let labels = [("k".to_string(), bad.to_string())].into_iter().collect();
            assert!(validate_labels(&labels).is_err(), "{bad:?}");
            let facts = [("os".to_string(), serde_json::json!({"name": [bad]}))];
            assert!(
                validate_facts(&facts.into_iter().collect()).is_err(),
                "{bad:?}"
            );
        }
        // Names that look like other names are refused: invisible characters, and joiners
        // between ASCII letters.
        for bad in [
            "we\u{200B}b",
            "\u{FEFF}x",
            "x\u{2060}y",
            "abc\u{200F}",
            "so\u{00AD}ft",
            "we\u{200D}b",
            "tag\u{E0041}",
            "\u{3164}",
        ] {
            let e = validate_name("name", bad).unwrap_err();
            assert!(e.contains("invisible"), "{bad:?}: {e}");
        }
        // Free text keeps what scripts need (Thai and Khmer separate words with U+200B).
        assert!(validate_description("ภาษา\u{200B}ไทย").is_ok());
        // Names keep the joiners scripts and emoji need.
        for good in ["می\u{200C}خواهم", "👩\u{200D}💻", "देव\u{200D}नागरी"]
        {
            assert!(validate_name("name", good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn expiry_rules_cover_edges_without_overflow() {
        let now = Timestamp(1_000);
        assert_eq!(
            resolve_expiry(None, None, false, now, POLICY),
            Ok(Some(Timestamp(1_000 + 259_200)))
        );
        assert!(resolve_expiry(Some(0), None, false, now, POLICY).is_err());
        assert_eq!(
            resolve_expiry(Some(1), None, false, now, POLICY),
            Ok(Some(Timestamp(1_001)))
        );
        assert!(resolve_expiry(Some(u64::MAX), None, false, now, POLICY).is_err());
        assert!(resolve_expiry(None, Some(Timestamp(999)), false, now, POLICY).is_err());
        assert!(resolve_expiry(None, Some(now), false, now, POLICY).is_err());
        assert_eq!(
            resolve_expiry(None, Some(Timestamp::MAX), false, now, POLICY),
            Ok(Some(Timestamp::MAX))
        );
        assert_eq!(resolve_expiry(None, None, true, now, POLICY), Ok(None));
        assert!(resolve_expiry(Some(5), None, true, now, POLICY).is_err());
        let strict = LifetimePolicy {
            max_ttl: Some(3_600),
            allow_no_expiry: false,
            ..POLICY
        };
        assert!(resolve_expiry(None, None, true, now, strict).is_err());
        assert!(resolve_expiry(Some(3_601), None, false, now, strict).is_err());
        assert!(resolve_expiry(Some(3_600), None, false, now, strict).is_ok());
    }

    #[test]
    fn text_holding_a_token_is_refused_wherever_it_would_be_stored() {
        let t = crate::token::generate(crate::TokenKind::Enrollment).unwrap();
        let tok = t.expose();
        assert!(contains_token(tok));
        assert!(contains_token(&format!("see {tok}.")));
        assert!(!contains_token(&tok[..40]));
        assert!(!contains_token("gpt_ is our prefix"));
        // One character percent-encoded, or the escape itself escaped, is still the token.
        let c = tok.as_bytes()[20];
        let once = format!("{}%{c:02X}{}", &tok[..20], &tok[21..]);
        let twice = format!("{}%25{c:02X}{}", &tok[..20], &tok[21..]);
        assert!(contains_token(&format!("see {once}")), "{once}");
        assert!(contains_token(&twice), "{twice}");
        assert!(validate_description(&once).is_err());
        assert!(!contains_token("100% sure, 50%off, %zz and %"));
        assert!(validate_hostname(tok).is_err());
        assert!(validate_name("name", &format!("x{tok}")).is_err());
        assert!(validate_description(&format!("token: {tok}")).is_err());
        let mut facts = BTreeMap::new();
        facts.insert("k".to_string(), serde_json::json!([tok]));
        assert!(validate_facts(&facts).is_err());
    }

    #[test]
    fn labels_hostnames_and_cidrs_refuse_garbage() {
        let mut l = BTreeMap::new();
        l.insert("plan".to_string(), "gold".to_string());
        assert!(validate_labels(&l).is_ok());
        l.insert("bad key".to_string(), "x".to_string());
        assert!(validate_labels(&l).is_err());
        assert!(validate_hostname("web-01.example.org").is_ok());
        assert!(validate_hostname("web 01").is_err());
        assert!(validate_hostname(&"a".repeat(254)).is_err());
        assert!(normalise_cidrs(&["10.0.0.0/33".into()]).is_err());
        assert!(normalise_cidrs(&["nonsense".into()]).is_err());
    }
}
