//! The token format: `gpt_` (enrollment) or `gpa_` (API) + a 12-character public id + a
//! 22-character secret + a 6-character checksum, all base62, 44 characters in all.
//!
//! The secret carries 22 × log2(62) ≈ 131 bits of entropy. The checksum is CRC-32 of everything
//! before it, written as 6 base62 digits, so a mistyped, truncated or foreign token is rejected
//! offline, and a secret scanner can tell a real token from random text. CRC-32 detects every
//! single-character change (a one-byte burst), which the property tests check.

use std::fmt;
use zeroize::{Zeroize, Zeroizing};

/// Characters used for every part of a token: URL-, shell- and double-click-safe.
pub const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
pub const ID_LEN: usize = 12;
pub const SECRET_LEN: usize = 22;
pub const CHECKSUM_LEN: usize = 6;
pub const PREFIX_LEN: usize = 4;
pub const TOKEN_LEN: usize = PREFIX_LEN + ID_LEN + SECRET_LEN + CHECKSUM_LEN;

/// Which kind of credential a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// `gpt_`: opens the redeem endpoint and nothing else.
    Enrollment,
    /// `gpa_`: a personal API token for the admin API.
    Api,
}

impl TokenKind {
    pub fn prefix(self) -> &'static str {
        match self {
            TokenKind::Enrollment => "gpt_",
            TokenKind::Api => "gpa_",
        }
    }
}

/// Why a string is not a valid token. Never carries the input itself (it may be a secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is empty")]
    Empty,
    #[error("not a Gatepass token: it should start with gpt_ (enrollment) or gpa_ (API)")]
    UnknownPrefix,
    #[error("wrong kind of token: expected {expected}… but got {got}…")]
    WrongKind {
        expected: &'static str,
        got: &'static str,
    },
    #[error(
        "the token has {got} characters but should have {TOKEN_LEN}: it looks truncated or pasted twice"
    )]
    Length { got: usize },
    #[error("the token contains a character outside A-Z, a-z, 0-9 at position {position}")]
    BadCharacter { position: usize },
    #[error("the token's checksum does not match: it was mistyped or altered")]
    Checksum,
}

/// A token that passed the offline checks. The full text is zeroized when dropped.
pub struct ParsedToken {
    kind: TokenKind,
    full: Zeroizing<String>,
}

impl fmt::Debug for ParsedToken {
    // Never print the secret, even in debug output or panics.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParsedToken")
            .field("kind", &self.kind)
            .field("id", &self.id())
            .finish_non_exhaustive()
    }
}

impl ParsedToken {
    pub fn kind(&self) -> TokenKind {
        self.kind
    }

    /// The public id: safe to log and show.
    pub fn id(&self) -> &str {
        &self.full[PREFIX_LEN..PREFIX_LEN + ID_LEN]
    }

    /// The whole token, secret included. Handle with care.
    pub fn expose(&self) -> &str {
        &self.full
    }

    /// What lists show in place of the token: prefix, public id and an ellipsis.
    pub fn display_prefix(&self) -> String {
        public_display(self.kind, self.id())
    }
}

/// `gpt_<id>…`, the form lists show once the token itself is gone.
pub fn public_display(kind: TokenKind, id: &str) -> String {
    public_display_parts(kind, id).concat()
}

/// The pieces of [`public_display`], for writers that need no `String`.
pub fn public_display_parts(kind: TokenKind, id: &str) -> [&str; 3] {
    [kind.prefix(), id, "…"]
}

/// Makes a new token of `kind` from the operating system's random source.
pub fn generate(kind: TokenKind) -> Result<ParsedToken, getrandom::Error> {
    let mut body = Zeroizing::new(String::with_capacity(TOKEN_LEN));
    body.push_str(kind.prefix());
    random_base62(&mut body, ID_LEN + SECRET_LEN)?;
    let sum = checksum(&body);
    body.push_str(&encode_checksum(sum));
    Ok(ParsedToken { kind, full: body })
}

/// Makes a random public id (for records that are not tokens, e.g. hosts).
pub fn random_id(len: usize) -> Result<String, getrandom::Error> {
    let mut s = String::with_capacity(len);
    random_base62(&mut s, len)?;
    Ok(s)
}

/// Ids a [`time_ordered_id`] can tell apart within one millisecond (62³).
pub const IDS_PER_MILLISECOND: u32 = 62 * 62 * 62;

/// A 16-character id that sorts by creation time: 8 base62 digits of milliseconds since the
/// epoch (the alphabet is in ASCII order, so text order is time order), 3 of `seq` (a count
/// within that millisecond, below [`IDS_PER_MILLISECOND`]: ids one process makes are unique and
/// in order), then 5 random ones. Records keyed by it are appended at the end of their table
/// instead of scattered across it, which keeps the pages a commit rewrites few.
pub fn time_ordered_id(millis: u64, seq: u32) -> Result<String, getrandom::Error> {
    let mut s = String::with_capacity(16);
    let mut digits = [0u8; 11];
    let mut v = millis;
    for d in digits[..8].iter_mut().rev() {
        *d = ALPHABET[(v % 62) as usize];
        v /= 62;
    }
    let mut v = seq % IDS_PER_MILLISECOND;
    for d in digits[8..].iter_mut().rev() {
        *d = ALPHABET[(v % 62) as usize];
        v /= 62;
    }
    s.extend(digits.iter().map(|&b| b as char));
    random_base62(&mut s, 5)?;
    Ok(s)
}

fn random_base62(out: &mut String, n: usize) -> Result<(), getrandom::Error> {
    // Rejection sampling keeps every character uniform: 248 = 4 × 62.
    let mut buf = Zeroizing::new([0u8; 64]);
    let mut have = 0;
    while have < n {
        getrandom::fill(&mut buf[..])?;
        for &b in buf.iter() {
            if b < 248 && have < n {
                out.push(ALPHABET[(b % 62) as usize] as char);
                have += 1;
            }
        }
    }
    buf.zeroize();
    Ok(())
}

fn checksum(body: &str) -> u32 {
    crc32fast::hash(body.as_bytes())
}

fn encode_checksum(mut v: u32) -> String {
    let mut digits = [b'0'; CHECKSUM_LEN];
    for d in digits.iter_mut().rev() {
        *d = ALPHABET[(v % 62) as usize];
        v /= 62;
    }
    digits.iter().map(|&b| b as char).collect()
}

fn digit_value(c: u8) -> Option<u64> {
    match c {
        b'0'..=b'9' => Some((c - b'0') as u64),
        b'A'..=b'Z' => Some((c - b'A') as u64 + 10),
        b'a'..=b'z' => Some((c - b'a') as u64 + 36),
        _ => None,
    }
}

/// Parses and checks a token of any kind. Surrounding whitespace (a trailing newline from a
/// file or `echo`) is trimmed; anything else must be exact.
pub fn parse(input: &str) -> Result<ParsedToken, TokenError> {
    let s = input.trim_matches(|c: char| c.is_ascii_whitespace());
    if s.is_empty() {
        return Err(TokenError::Empty);
    }
    let kind = if s.starts_with("gpt_") {
        TokenKind::Enrollment
    } else if s.starts_with("gpa_") {
        TokenKind::Api
    } else {
        return Err(TokenError::UnknownPrefix);
    };
    if s.len() != TOKEN_LEN {
        return Err(TokenError::Length {
            got: s.chars().count(),
        });
    }
    let bytes = s.as_bytes();
    let mut sum: u64 = 0;
    for (i, &b) in bytes.iter().enumerate().skip(PREFIX_LEN) {
        let v = digit_value(b).ok_or(TokenError::BadCharacter { position: i + 1 })?;
        if i >= TOKEN_LEN - CHECKSUM_LEN {
            sum = sum * 62 + v;
        }
    }
    let body = &s[..TOKEN_LEN - CHECKSUM_LEN];
    if sum != u64::from(checksum(body)) {
        return Err(TokenError::Checksum);
    }
    Ok(ParsedToken {
        kind,
        full: Zeroizing::new(s.to_owned()),
    })
}

/// Parses a token that must be of `kind`.
pub fn parse_kind(input: &str, kind: TokenKind) -> Result<ParsedToken, TokenError> {
    let t = parse(input)?;
    if t.kind != kind {
        return Err(TokenError::WrongKind {
            expected: kind.prefix(),
            got: t.kind.prefix(),
        });
    }
    Ok(t)
}

/// True when `id` has the shape of a token's public id (used to tell ids from names).
pub fn looks_like_id(id: &str) -> bool {
    id.len() == ID_LEN && id.bytes().all(|b| digit_value(b).is_some())
}

/// The id in an enrollment token's display form ([`public_display_parts`]: `gpt_<id>…`, also
/// with three dots or none, as copies of it come), if `s` is one.
pub fn id_in_display_form(s: &str) -> Option<&str> {
    let rest = s.strip_prefix(TokenKind::Enrollment.prefix())?;
    let id = rest
        .strip_suffix('…')
        .or_else(|| rest.strip_suffix("..."))
        .unwrap_or(rest);
    looks_like_id(id).then_some(id)
}

/// `s` with what follows the id in each token-shaped run of letters and digits replaced by
/// `with(id, rest)`, or `None` when `s` holds none. Token-shaped: after a `gpt_`/`gpa_` prefix in
/// any case, wherever it stands, more than an id's worth (up to a whole token's body, so a second
/// token right after the first is seen for one too); without the prefix, a run as long as an id
/// and a secret together (a token's body copied alone). An id alone (lists show `gpt_<id>…`) is
/// not one. Serves both hiding secrets in messages and keeping them off the console's screen.
pub fn replace_secrets(s: &str, with: impl Fn(&str, &str) -> String) -> Option<String> {
    const BODY_LEN: usize = ID_LEN + SECRET_LEN + CHECKSUM_LEN;
    let lower = s.to_ascii_lowercase(); // the same byte offsets
    let alnum = |c: char| c.is_ascii_alphanumeric();
    let mut out = String::with_capacity(s.len());
    let mut found = false;
    let mut i = 0;
    // Where the last body found ended: a run may start there although a letter precedes it
    // (a second body right after a first one's 40 characters).
    let mut resume = 0;
    while let Some(c) = s[i..].chars().next() {
        let prefixed = [TokenKind::Enrollment, TokenKind::Api]
            .iter()
            .any(|k| lower[i..].starts_with(k.prefix()));
        let run_starts = alnum(c) && (i == resume || !s[..i].ends_with(alnum));
        if !prefixed && !run_starts {
            out.push(c);
            i += c.len_utf8();
            continue;
        }
        let body = if prefixed { i + PREFIX_LEN } else { i };
        let mut len = s[body..]
            .find(|c: char| !alnum(c))
            .unwrap_or(s.len() - body);
        let secret = if prefixed {
            len = len.min(BODY_LEN);
            len > ID_LEN
        } else {
            len >= ID_LEN + SECRET_LEN
        };
        if secret {
            found = true;
            out.push_str(&s[i..body]);
            // ASCII: any byte offset in the run is a character boundary.
            let (id, rest) = s[body..body + len].split_at(ID_LEN);
            out.push_str(&with(id, rest));
            i = body + len;
            resume = i;
            // Another token right behind: a space keeps the two apart, so what comes out is
            // not token-shaped itself (an id followed by letters) when scanned again.
            if s[i..].starts_with(alnum) {
                out.push(' ');
            }
        } else if prefixed {
            // Only the prefix is passed over: another may start inside what follows.
            out.push_str(&s[i..body]);
            i = body;
        } else {
            // One character at a time through a run too short to be a body: a prefix inside
            // it (`Xgpt_…`) is still seen.
            out.push(c);
            i += c.len_utf8();
        }
    }
    found.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_token_in_a_text_is_found_whatever_surrounds_it() {
        let t = generate(TokenKind::Enrollment).unwrap();
        let a = generate(TokenKind::Api).unwrap();
        let (full, id, body) = (t.expose(), t.id(), &t.expose()[PREFIX_LEN..]);
        let keep_id = |id: &str, _: &str| id.to_owned();
        for (input, shown) in [
            (full.to_owned(), format!("gpt_{id}")),
            (format!("X={full};"), format!("X=gpt_{id};")),
            (
                format!("\"{}\"", full.to_uppercase()),
                format!("\"GPT_{}\"", id.to_uppercase()),
            ),
            // Back to back: the second is found although a letter stands before its prefix.
            (
                format!("{full}{}", a.expose()),
                format!("gpt_{id} gpa_{}", a.id()),
            ),
            // The body alone, and a body cut short after its id.
            (format!("é{body}é"), format!("é{id}é")),
            // A prefix inside a word, after a prefix with nothing behind it, and a second body
            // right after the first one's 40 characters.
            (format!("X{full}"), format!("Xgpt_{id}")),
            (format!("token{full}!"), format!("tokengpt_{id}!")),
            (format!("gpt_{full}"), format!("gpt_gpt_{id}")),
            (format!("{full}{body}"), format!("gpt_{id} {id}")),
            (
                full[..PREFIX_LEN + ID_LEN + 1].to_owned(),
                format!("gpt_{id}"),
            ),
        ] {
            assert_eq!(
                replace_secrets(&input, keep_id),
                Some(shown.clone()),
                "{input}"
            );
            // What comes out holds no token itself: a second pass finds none.
            assert_eq!(replace_secrets(&shown, keep_id), None, "{shown}");
        }
        // What is handed to `with`: the id, then the rest of the body.
        let parts = replace_secrets(full, |id, rest| format!("{id}|{rest}"));
        assert_eq!(parts, Some(format!("gpt_{id}|{}", &body[ID_LEN..])));
        // Nothing token-shaped: an id (as lists show it), a short word, other text.
        for plain in [
            format!("gpt_{id}…"),
            format!("gpt_{id}"),
            "gpt_ gpa_x web-01 ünïcode".to_owned(),
            body[..ID_LEN + SECRET_LEN - 1].to_owned(),
        ] {
            assert_eq!(replace_secrets(&plain, keep_id), None, "{plain}");
        }
    }

    #[test]
    fn a_display_form_gives_its_id() {
        let id = "AbCdEfGh1234";
        let shown: String = public_display_parts(TokenKind::Enrollment, id).concat();
        assert_eq!(id_in_display_form(&shown), Some(id));
        assert_eq!(id_in_display_form(&format!("gpt_{id}...")), Some(id));
        assert_eq!(id_in_display_form(&format!("gpt_{id}")), Some(id));
        for other in [
            id,
            "gpt_short…",
            "gpa_AbCdEfGh1234…",
            "gpt_AbCdEfGh1234……",
            "gpt_",
        ] {
            assert_eq!(id_in_display_form(other), None, "{other}");
        }
    }
    use proptest::prelude::*;

    fn fresh() -> ParsedToken {
        generate(TokenKind::Enrollment).unwrap_or_else(|e| panic!("random source: {e}"))
    }

    #[test]
    fn generated_token_has_the_documented_shape() {
        let t = fresh();
        assert_eq!(t.expose().len(), TOKEN_LEN);
        assert!(t.expose().starts_with("gpt_"));
        assert_eq!(t.id().len(), ID_LEN);
        assert!(looks_like_id(t.id()));
        assert_eq!(t.display_prefix(), format!("gpt_{}…", t.id()));
    }

    #[test]
    fn trailing_newline_and_spaces_are_trimmed() {
        let t = fresh();
        let p = parse(&format!("  {}\n", t.expose())).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.expose(), t.expose());
        let p = parse(&format!("{}\r\n", t.expose())).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.id(), t.id());
    }

    #[test]
    fn rejections_say_why() {
        let t = fresh();
        let s = t.expose();
        assert_eq!(parse("").unwrap_err(), TokenError::Empty);
        assert_eq!(parse("\n").unwrap_err(), TokenError::Empty);
        assert_eq!(parse("ghp_abc").unwrap_err(), TokenError::UnknownPrefix);
        assert_eq!(parse(&s[..30]).unwrap_err(), TokenError::Length { got: 30 });
        assert_eq!(
            parse(&format!("{s}{s}")).unwrap_err(),
            TokenError::Length { got: 2 * TOKEN_LEN }
        );
        let mut bad = s.to_owned();
        bad.replace_range(10..11, "-");
        assert_eq!(
            parse(&bad).unwrap_err(),
            TokenError::BadCharacter { position: 11 }
        );
        assert_eq!(
            parse_kind(s, TokenKind::Api).unwrap_err(),
            TokenError::WrongKind {
                expected: "gpa_",
                got: "gpt_"
            }
        );
        // Non-ASCII input of the right byte length is refused, not sliced mid-character.
        let mut uni = s[..TOKEN_LEN - 2].to_owned();
        uni.push('é');
        assert!(matches!(parse(&uni), Err(TokenError::BadCharacter { .. })));
    }

    #[test]
    fn error_messages_never_contain_the_token() {
        let t = fresh();
        let mut bad = t.expose().to_owned();
        bad.pop();
        bad.push(if t.expose().ends_with('0') { '1' } else { '0' });
        let msg = parse(&bad).unwrap_err().to_string();
        assert!(!msg.contains(&bad[PREFIX_LEN + ID_LEN..]), "{msg}");
        assert!(!format!("{t:?}").contains(&t.expose()[PREFIX_LEN + ID_LEN..]));
    }

    #[test]
    fn time_ordered_ids_sort_by_time_then_sequence() {
        let a = time_ordered_id(1_795_626_000_000, 0).unwrap();
        let a2 = time_ordered_id(1_795_626_000_000, 1).unwrap();
        let a3 = time_ordered_id(1_795_626_000_000, IDS_PER_MILLISECOND - 1).unwrap();
        let b = time_ordered_id(1_795_626_000_001, 0).unwrap();
        let c = time_ordered_id(1_795_626_123_456, 7).unwrap();
        assert!(
            a < a2 && a2 < a3 && a3 < b && b < c,
            "{a} {a2} {a3} {b} {c}"
        );
        assert_eq!(a.len(), 16);
        assert!(a.bytes().all(|ch| ALPHABET.contains(&ch)));
        assert_eq!(&a3[8..11], "zzz");
        // The random part differs between two ids of the same time and count.
        assert_ne!(
            a[11..],
            time_ordered_id(1_795_626_000_000, 0).unwrap()[11..]
        );
    }

    proptest! {
        #[test]
        fn round_trip(kind in prop_oneof![Just(TokenKind::Enrollment), Just(TokenKind::Api)]) {
            let t = generate(kind).unwrap_or_else(|e| panic!("{e}"));
            let p = parse(t.expose()).unwrap_or_else(|e| panic!("{e}"));
            prop_assert_eq!(p.kind(), kind);
            prop_assert_eq!(p.id(), t.id());
            prop_assert_eq!(p.expose(), t.expose());
        }

        #[test]
        fn any_single_character_change_is_detected(pos in 0usize..TOKEN_LEN, c in any::<char>()) {
            let t = fresh();
            let original = t.expose();
            let old = original.as_bytes()[pos] as char;
            prop_assume!(c != old && !c.is_ascii_whitespace());
            let mut changed: String = original[..pos].to_owned();
            changed.push(c);
            changed.push_str(&original[pos + 1..]);
            prop_assert!(parse(&changed).is_err(), "accepted a change at {}", pos);
        }

        #[test]
        fn any_base62_substitution_is_detected(pos in PREFIX_LEN..TOKEN_LEN, d in 0usize..62) {
            // The interesting case: a change that keeps the alphabet must fail the checksum.
            let t = fresh();
            let original = t.expose();
            let c = ALPHABET[d] as char;
            prop_assume!(original.as_bytes()[pos] as char != c);
            let mut changed: String = original[..pos].to_owned();
            changed.push(c);
            changed.push_str(&original[pos + 1..]);
            prop_assert_eq!(parse(&changed).unwrap_err(), TokenError::Checksum);
        }

        #[test]
        fn arbitrary_text_never_panics(s in ".{0,100}") {
            let _ = parse(&s);
        }
    }
}
