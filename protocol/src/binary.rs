//! A compact binary form for large answers, and the primitives it is built from (the daemon
//! stores its token records with the same `Writer` and `Reader`).
//!
//! `GET /v1/tokens` answers in this form when the request's `Accept` names [`TOKEN_LIST`]
//! (the console and the CLI do): 100,000 tokens are decoded several times faster than from
//! JSON, with no escaping to scan. Anything else gets JSON, so scripts see no difference.
//!
//! Layout: strings are a u32 length and UTF-8 bytes, integers little-endian, an optional field
//! is a 0/1 byte then the value, a list or map a u32 count then its items, `max_uses` is 0
//! (unlimited) or 1 and a u64, a status its index in `TokenStatus::ALL`. A token list is a
//! version byte (2), a u32 count, then for each token the fields it shares with a stored record
//! ([`write_token_fields`]), its prefix and its status.

use std::collections::BTreeMap;

use crate::token::{TokenKind, public_display_parts};
use crate::{Error, MaxUses, SortColumn, Timestamp, Token, TokenKeys, TokenStatus};

/// The media type of a token list in this form.
pub const TOKEN_LIST: &str = "application/vnd.gatepass.token-list";

/// The list's form: 2 since tokens carry their tenant (client and daemon come from one
/// build; a list of another form is refused, never misread).
const LIST_VERSION: u8 = 2;

fn damaged(what: &'static str) -> Error {
    Error::Binary(what)
}

/// Appends fields to a buffer.
#[derive(Debug, Default)]
pub struct Writer(pub Vec<u8>);

impl Writer {
    pub fn byte(&mut self, b: u8) {
        self.0.push(b);
    }
    /// A length or count. Every one this crate writes is bounded far below 4 GiB by the request
    /// limits; a larger one is written as `u32::MAX` and refused when read back.
    pub fn count(&mut self, n: usize) {
        self.0
            .extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes());
    }
    pub fn u64(&mut self, n: u64) {
        self.0.extend_from_slice(&n.to_le_bytes());
    }
    pub fn ts(&mut self, t: Timestamp) {
        self.0.extend_from_slice(&t.0.to_le_bytes());
    }
    pub fn flag(&mut self, b: bool) {
        self.0.push(u8::from(b));
    }
    pub fn str(&mut self, s: &str) {
        self.count(s.len());
        self.0.extend_from_slice(s.as_bytes());
    }
    /// One string, written from its pieces.
    pub fn concat(&mut self, parts: &[&str]) {
        self.count(parts.iter().map(|p| p.len()).sum());
        for p in parts {
            self.0.extend_from_slice(p.as_bytes());
        }
    }
    pub fn opt<T>(&mut self, v: Option<T>, put: fn(&mut Writer, T)) {
        match v {
            None => self.0.push(0),
            Some(v) => {
                self.0.push(1);
                put(self, v);
            }
        }
    }
    pub fn max_uses(&mut self, m: MaxUses) {
        match m {
            MaxUses::Unlimited => self.0.push(0),
            MaxUses::Limited(n) => {
                self.0.push(1);
                self.u64(n);
            }
        }
    }
    pub fn labels(&mut self, labels: &BTreeMap<String, String>) {
        self.count(labels.len());
        for (k, v) in labels {
            self.str(k);
            self.str(v);
        }
    }
    pub fn strings(&mut self, items: &[String]) {
        self.count(items.len());
        for s in items {
            self.str(s);
        }
    }
}

/// Takes fields off the front of a byte slice; every method refuses (never panics on) short,
/// oversized or malformed input.
#[derive(Debug)]
pub struct Reader<'a>(pub &'a [u8]);

impl<'a> Reader<'a> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let (head, rest) = self
            .0
            .split_first_chunk::<N>()
            .ok_or_else(|| damaged("it ends too soon"))?;
        self.0 = rest;
        Ok(*head)
    }
    pub fn byte(&mut self) -> Result<u8, Error> {
        Ok(self.take::<1>()?[0])
    }
    pub fn flag(&mut self) -> Result<bool, Error> {
        match self.byte()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(damaged("a flag is neither 0 nor 1")),
        }
    }
    /// A count of items that each take at least `min_item` bytes: a damaged count cannot make
    /// the caller allocate for more items than the input could hold.
    pub fn count(&mut self, min_item: usize) -> Result<usize, Error> {
        let n = u32::from_le_bytes(self.take()?) as usize;
        if n.saturating_mul(min_item.max(1)) > self.0.len() {
            return Err(damaged("a count exceeds the data"));
        }
        Ok(n)
    }
    pub fn u64(&mut self) -> Result<u64, Error> {
        Ok(u64::from_le_bytes(self.take()?))
    }
    pub fn ts(&mut self) -> Result<Timestamp, Error> {
        Ok(Timestamp(i64::from_le_bytes(self.take()?)))
    }
    pub fn string(&mut self) -> Result<String, Error> {
        self.str_ref().map(str::to_owned)
    }
    /// A string, borrowed from the input.
    pub fn str_ref(&mut self) -> Result<&'a str, Error> {
        let n = self.count(1)?;
        let (s, rest) = self.0.split_at(n);
        self.0 = rest;
        std::str::from_utf8(s).map_err(|_| damaged("a string is not UTF-8"))
    }
    pub fn opt<T>(&mut self, get: fn(&mut Self) -> Result<T, Error>) -> Result<Option<T>, Error> {
        if self.flag()? {
            get(self).map(Some)
        } else {
            Ok(None)
        }
    }
    pub fn max_uses(&mut self) -> Result<MaxUses, Error> {
        match self.byte()? {
            0 => Ok(MaxUses::Unlimited),
            1 => Ok(MaxUses::Limited(self.u64()?)),
            _ => Err(damaged("max_uses has an unknown form")),
        }
    }
    pub fn labels(&mut self) -> Result<BTreeMap<String, String>, Error> {
        let n = self.count(8)?;
        let mut m = BTreeMap::new();
        for _ in 0..n {
            let k = self.string()?;
            m.insert(k, self.string()?);
        }
        Ok(m)
    }
    pub fn strings(&mut self) -> Result<Vec<String>, Error> {
        let n = self.count(4)?;
        (0..n).map(|_| self.string()).collect()
    }
    /// Refuses bytes left over after the last field.
    pub fn end(&self) -> Result<(), Error> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(damaged("bytes follow the last field"))
        }
    }
}

/// Writes the fields a stored token record and a [`Token`] share, in their binary order: id,
/// name, description, group, labels, owner, max_uses, uses, last_used_at, last_used_by,
/// expires_at, created_at, created_by, disabled, revoked_at, allowed_cidrs, not_before, hosts,
/// tenant. (`read_token_fields` leaves the last, `tenant`, to its caller: records stored before
/// tenants end before it.)
#[macro_export]
macro_rules! write_token_fields {
    ($w:expr, $t:expr) => {{
        let (w, t) = (&mut $w, &$t);
        w.str(&t.id);
        w.str(&t.name);
        w.str(&t.description);
        w.opt(t.group.as_deref(), $crate::binary::Writer::str);
        w.labels(&t.labels);
        w.str(&t.owner);
        w.max_uses(t.max_uses);
        w.u64(t.uses);
        w.opt(t.last_used_at, $crate::binary::Writer::ts);
        w.opt(t.last_used_by.as_deref(), $crate::binary::Writer::str);
        w.opt(t.expires_at, $crate::binary::Writer::ts);
        w.ts(t.created_at);
        w.str(&t.created_by);
        w.flag(t.disabled);
        w.opt(t.revoked_at, $crate::binary::Writer::ts);
        w.strings(&t.allowed_cidrs);
        w.opt(t.not_before, $crate::binary::Writer::ts);
        w.u64(t.hosts);
        w.str(&t.tenant);
    }};
}

/// Builds `$ty` from the shared fields (see [`write_token_fields`]) but `tenant` read off the
/// `Reader` `$r`, then the extra fields given, evaluated in the order written: the first is
/// `tenant` (`$r.string()?`, or `default` for a record stored before tenants). Returns early with the
/// `Reader`'s error (`?`) on damaged input.
#[macro_export]
macro_rules! read_token_fields {
    ($r:ident, $ty:ident { $($extra:ident : $e:expr),* $(,)? }) => {
        $ty {
            id: $r.string()?,
            name: $r.string()?,
            description: $r.string()?,
            group: $r.opt($crate::binary::Reader::string)?,
            labels: $r.labels()?,
            owner: $r.string()?,
            max_uses: $r.max_uses()?,
            uses: $r.u64()?,
            last_used_at: $r.opt($crate::binary::Reader::ts)?,
            last_used_by: $r.opt($crate::binary::Reader::string)?,
            expires_at: $r.opt($crate::binary::Reader::ts)?,
            created_at: $r.ts()?,
            created_by: $r.string()?,
            disabled: $r.flag()?,
            revoked_at: $r.opt($crate::binary::Reader::ts)?,
            allowed_cidrs: $r.strings()?,
            not_before: $r.opt($crate::binary::Reader::ts)?,
            hosts: $r.u64()?,
            $($extra: $e),*
        }
    };
}

/// A token list in the binary form: each token's shared fields, then its prefix and status.
pub fn encode_tokens(tokens: &[Token]) -> Vec<u8> {
    let mut w = Writer(Vec::with_capacity(5 + tokens.len() * 200));
    w.byte(LIST_VERSION);
    w.count(tokens.len());
    for t in tokens {
        write_token_fields!(w, *t);
        w.str(&t.prefix);
        w.byte(status_byte(t.status));
    }
    w.0
}

fn status_byte(status: TokenStatus) -> u8 {
    let i = TokenStatus::ALL.iter().position(|s| *s == status);
    i.unwrap_or_default() as u8
}

/// Reads the fields a stored record and a [`Token`] share (see [`write_token_fields`]) off the
/// front of `bytes` without copying any. Returns the keys lists sort and filter by, with the
/// status derived at `now`, and how many bytes the fields take.
pub fn skim_token_fields(bytes: &[u8], now: Timestamp) -> Result<(TokenKeys<'_>, usize), Error> {
    let mut r = Reader(bytes);
    let id = r.str_ref()?;
    let name = r.str_ref()?;
    let description = r.str_ref()?;
    let group = r.opt(Reader::str_ref)?;
    for _ in 0..r.count(8)? {
        r.str_ref()?;
        r.str_ref()?;
    }
    let owner = r.str_ref()?;
    let max_uses = r.max_uses()?;
    let uses = r.u64()?;
    let last_used_at = r.opt(Reader::ts)?;
    r.opt(Reader::str_ref)?; // last_used_by
    let expires_at = r.opt(Reader::ts)?;
    let created_at = r.ts()?;
    r.str_ref()?; // created_by
    let disabled = r.flag()?;
    let revoked_at = r.opt(Reader::ts)?;
    for _ in 0..r.count(4)? {
        r.str_ref()?; // allowed_cidrs
    }
    r.opt(Reader::ts)?; // not_before
    r.u64()?; // hosts
    let tenant = r.str_ref()?;
    let status = TokenStatus::derive(
        revoked_at.is_some(),
        uses,
        max_uses,
        expires_at,
        disabled,
        now,
    );
    let keys = TokenKeys {
        id,
        name,
        description,
        group,
        owner,
        max_uses,
        uses,
        last_used_at,
        expires_at,
        created_at,
        tenant,
        status,
    };
    Ok((keys, bytes.len() - r.0.len()))
}

/// Builds a token list in the binary form out of entries whose shared fields are already
/// encoded (the daemon's stored records hold them in this very form): the caller filters, the
/// builder sorts, so no [`Token`] is built for any entry. Each entry's prefix key
/// ([`SortColumn::prefix_key`]) is taken as it is added; only entries whose prefix keys tie are
/// read back and compared in full.
///
/// A large list can be built in parts on several threads, each part sorted there
/// ([`TokenListBuilder::sort`]), then merged ([`TokenListBuilder::merge`]): the entries stay in
/// the buffer of the part that wrote them.
#[derive(Debug)]
pub struct TokenListBuilder {
    column: SortColumn,
    /// One buffer per merged part; this builder's own entries are written into the last.
    bufs: Vec<Vec<u8>>,
    entries: Vec<Entry>,
    /// Whether `entries` are in order (true until one is added).
    sorted: bool,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    key: (u128, u128),
    /// Which of `bufs` holds the entry.
    part: usize,
    start: usize,
    end: usize,
}

impl TokenListBuilder {
    /// A list to be sorted by `column`, with room for `tokens`.
    pub fn new(column: SortColumn, tokens: usize) -> TokenListBuilder {
        TokenListBuilder {
            column,
            bufs: vec![Vec::with_capacity(tokens.saturating_mul(200))],
            entries: Vec::with_capacity(tokens),
            sorted: true,
        }
    }

    /// How many tokens the list holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds a token given its encoded shared fields, as [`skim_token_fields`] measured them
    /// (`keys` are what it returned).
    pub fn push_encoded(&mut self, fields: &[u8], keys: &TokenKeys<'_>) {
        self.append(self.column.prefix_key(keys), |w| {
            w.0.extend_from_slice(fields);
            w.concat(&public_display_parts(TokenKind::Enrollment, keys.id));
            w.byte(status_byte(keys.status));
        });
    }

    /// Adds a token that is not encoded yet.
    pub fn push(&mut self, t: &Token) {
        self.append(self.column.prefix_key(&t.keys()), |w| {
            write_token_fields!(*w, *t);
            w.str(&t.prefix);
            w.byte(status_byte(t.status));
        });
    }

    /// Writes one entry into the buffer and records where it lies.
    fn append(&mut self, key: (u128, u128), write: impl FnOnce(&mut Writer)) {
        let part = self.bufs.len() - 1;
        let mut w = Writer(std::mem::take(&mut self.bufs[part]));
        let start = w.0.len();
        write(&mut w);
        let end = w.0.len();
        self.bufs[part] = w.0;
        self.entries.push(Entry {
            key,
            part,
            start,
            end,
        });
        self.sorted = false;
    }

    /// An entry's bytes.
    fn bytes(&self, e: &Entry) -> &[u8] {
        &self.bufs[e.part][e.start..e.end]
    }

    /// The keys of an entry, read back from its buffer.
    fn keys(&self, e: &Entry) -> Result<TokenKeys<'_>, Error> {
        let entry = self.bytes(e);
        let (mut keys, _) = skim_token_fields(entry, Timestamp(0))?;
        // The status was derived when the entry was added: it is the entry's last byte.
        let status = entry.last().map(|b| usize::from(*b));
        keys.status = status
            .and_then(|i| TokenStatus::ALL.get(i).copied())
            .ok_or_else(|| damaged("unknown status"))?;
        Ok(keys)
    }

    /// Puts the entries in the order of the builder's column.
    pub fn sort(&mut self) -> Result<(), Error> {
        if self.sorted {
            return Ok(());
        }
        let mut entries = std::mem::take(&mut self.entries);
        entries.sort_unstable_by_key(|e| e.key);
        // Where prefix keys tie, the full comparison orders the run.
        let mut i = 0;
        while i < entries.len() {
            let key = entries[i].key;
            let run = entries[i..].iter().take_while(|e| e.key == key).count();
            if run > 1 {
                let slice = &mut entries[i..i + run];
                let mut keyed = slice
                    .iter()
                    .map(|e| Ok((self.keys(e)?, *e)))
                    .collect::<Result<Vec<_>, Error>>()?;
                keyed.sort_unstable_by(|a, b| self.column.compare_keys(&a.0, &b.0));
                for (dst, (_, e)) in slice.iter_mut().zip(keyed) {
                    *dst = e;
                }
            }
            i += run;
        }
        self.entries = entries;
        self.sorted = true;
        Ok(())
    }

    /// One list of this one's entries and `other`'s (built for the same column), in order.
    /// Each is sorted first if it is not yet; the merge itself is one pass.
    pub fn merge(mut self, mut other: TokenListBuilder) -> Result<TokenListBuilder, Error> {
        if self.column != other.column {
            return Err(damaged("lists sorted by different columns"));
        }
        self.sort()?;
        other.sort()?;
        let offset = self.bufs.len();
        let theirs: Vec<Entry> = other
            .entries
            .iter()
            .map(|e| Entry {
                part: e.part + offset,
                ..*e
            })
            .collect();
        self.bufs.append(&mut other.bufs);
        let ours = std::mem::take(&mut self.entries);
        let mut merged = Vec::with_capacity(ours.len() + theirs.len());
        let (mut i, mut j) = (0, 0);
        // The full keys of the two heads, read back only when their prefix keys tie, and kept
        // while that head stays (a long run of ties reads each entry once, not per comparison).
        let (mut ka, mut kb) = (None, None);
        while let (Some(x), Some(y)) = (ours.get(i), theirs.get(j)) {
            // On a tie the entry of the first list goes first, as a stable sort would.
            let order = match x.key.cmp(&y.key) {
                std::cmp::Ordering::Equal => {
                    if ka.is_none() {
                        ka = Some(self.keys(x)?);
                    }
                    if kb.is_none() {
                        kb = Some(self.keys(y)?);
                    }
                    match (&ka, &kb) {
                        (Some(a), Some(b)) => self.column.compare_keys(a, b),
                        _ => std::cmp::Ordering::Equal,
                    }
                }
                o => o,
            };
            if order.is_gt() {
                merged.push(*y);
                j += 1;
                kb = None;
            } else {
                merged.push(*x);
                i += 1;
                ka = None;
            }
        }
        merged.extend_from_slice(&ours[i..]);
        merged.extend_from_slice(&theirs[j..]);
        self.entries = merged;
        // A builder's own entries go into its last buffer: start a fresh one.
        self.bufs.push(Vec::new());
        Ok(self)
    }

    /// The list, sorted by the builder's column (`desc`: the reverse), as [`decode_tokens`]
    /// reads it.
    pub fn finish(mut self, desc: bool) -> Result<Vec<u8>, Error> {
        self.sort()?;
        let mut entries = std::mem::take(&mut self.entries);
        if desc {
            entries.reverse();
        }
        let total: usize = self.bufs.iter().map(Vec::len).sum();
        let mut w = Writer(Vec::with_capacity(5 + total));
        w.byte(LIST_VERSION);
        w.count(entries.len());
        for e in &entries {
            w.0.extend_from_slice(self.bytes(e));
        }
        Ok(w.0)
    }
}

/// Reads a token list written by [`encode_tokens`].
pub fn decode_tokens(bytes: &[u8]) -> Result<Vec<Token>, Error> {
    let mut r = Reader(bytes);
    if r.byte()? != LIST_VERSION {
        return Err(damaged("unknown version"));
    }
    // The smallest token takes well over 64 bytes.
    let n = r.count(64)?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(read_token_fields!(
            r,
            Token {
                tenant: r.string()?,
                prefix: r.string()?,
                status: *TokenStatus::ALL
                    .get(usize::from(r.byte()?))
                    .ok_or_else(|| damaged("unknown status"))?,
            }
        ));
    }
    r.end()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(i: u64, status: TokenStatus) -> Token {
        Token {
            id: format!("AbCdEfGh{i:08}"),
            prefix: format!("gpt_AbCdEfGh{i:08}…"),
            name: format!("rollout-{i} é"),
            description: "for the \"web\" fleet\nline two".into(),
            group: i.is_multiple_of(2).then(|| "web".to_string()),
            labels: [("env".to_string(), "prod".to_string())]
                .into_iter()
                .collect(),
            owner: "alice".into(),
            max_uses: if i.is_multiple_of(3) {
                MaxUses::Unlimited
            } else {
                MaxUses::Limited(u64::MAX - i)
            },
            uses: i,
            last_used_at: (i % 2 == 1).then_some(Timestamp(-5)),
            last_used_by: Some("h1 (10.0.0.1)".into()),
            expires_at: Some(Timestamp(i64::MAX)),
            created_at: Timestamp(i64::MIN),
            created_by: "root".into(),
            disabled: i.is_multiple_of(2),
            revoked_at: None,
            allowed_cidrs: vec!["10.0.0.0/8".into(), "::1/128".into()],
            not_before: Some(Timestamp(0)),
            hosts: 3,
            tenant: if i.is_multiple_of(2) {
                "default".into()
            } else {
                "acme-é".into()
            },
            status,
        }
    }

    fn list() -> Vec<Token> {
        TokenStatus::ALL
            .iter()
            .enumerate()
            .map(|(i, s)| token(i as u64, *s))
            .collect()
    }

    #[test]
    fn skimming_reads_the_keys_and_the_length_of_the_shared_fields() {
        for t in list() {
            let mut w = Writer::default();
            write_token_fields!(w, t);
            let fields = w.0.len();
            w.str("the stored record's own fields follow");
            let (keys, len) = skim_token_fields(&w.0, Timestamp(0)).unwrap();
            assert_eq!(len, fields);
            let mut expected = t.keys();
            expected.status = t.status_at(Timestamp(0));
            assert_eq!(keys, expected);
            for n in 0..fields {
                assert!(skim_token_fields(&w.0[..n], Timestamp(0)).is_err());
            }
        }
    }

    /// `n` tokens in a scrambled order, with every status, the names `name` gives and `times`
    /// distinct creation times: many ties for the later columns and the id to break.
    fn alike(n: u64, name: impl Fn(u64) -> String, times: u64) -> Vec<Token> {
        (0..n)
            .map(|i| {
                let mut t = token(i * 7919 % n, TokenStatus::ALL[(i % 5) as usize]);
                t.name = name(i);
                t.created_at = Timestamp((i % times) as i64);
                t
            })
            .collect()
    }

    #[test]
    fn a_built_list_equals_the_encoded_sorted_list() {
        // Both ways in: already encoded fields (a stored record) and whole tokens.
        let mut tokens = alike(40, |i| format!("n{}", i % 6), 9);
        for column in SortColumn::ALL {
            for desc in [false, true] {
                let mut b = TokenListBuilder::new(column, tokens.len());
                for (i, t) in tokens.iter().enumerate() {
                    if i % 2 == 0 {
                        b.push(t);
                        continue;
                    }
                    let mut w = Writer::default();
                    write_token_fields!(w, *t);
                    let (mut keys, len) = skim_token_fields(&w.0, Timestamp(0)).unwrap();
                    keys.status = t.status;
                    b.push_encoded(&w.0[..len], &keys);
                }
                let built = b.finish(desc).unwrap();
                tokens.sort_by(|a, b| column.compare(a, b));
                if desc {
                    tokens.reverse();
                }
                assert_eq!(built, encode_tokens(&tokens), "{column:?} desc={desc}");
            }
        }
    }

    #[test]
    fn lists_built_in_parts_and_merged_equal_the_list_built_whole() {
        // Names alike past any prefix key: the merge must compare them in full.
        let tokens = alike(60, |i| format!("{:0>40}", i % 4), 3);
        for column in SortColumn::ALL {
            let part = |ts: &[Token]| {
                let mut b = TokenListBuilder::new(column, ts.len());
                ts.iter().for_each(|t| b.push(t));
                b
            };
            let merged = || {
                // Uneven parts, one empty, merged in turn.
                part(&tokens[..7])
                    .merge(part(&tokens[7..40]))
                    .unwrap()
                    .merge(part(&[]))
                    .unwrap()
                    .merge(part(&tokens[40..]))
                    .unwrap()
            };
            for desc in [false, true] {
                let mut expected = tokens.clone();
                expected.sort_by(|a, b| column.compare(a, b));
                if desc {
                    expected.reverse();
                }
                let expected = encode_tokens(&expected);
                // The merge alone puts them in order: nothing sorts them again.
                let m = merged();
                assert!(m.sorted);
                assert_eq!(m.finish(desc).unwrap(), expected, "{column:?} desc={desc}");
                // Entries added after a merge are sorted in with the merged ones.
                let mut more = part(&tokens[..30]).merge(part(&tokens[30..50])).unwrap();
                tokens[50..].iter().for_each(|t| more.push(t));
                assert_eq!(
                    more.finish(desc).unwrap(),
                    expected,
                    "{column:?} desc={desc}"
                );
            }
        }
        let by_name = TokenListBuilder::new(SortColumn::Name, 0);
        assert!(
            by_name
                .merge(TokenListBuilder::new(SortColumn::Uses, 0))
                .is_err()
        );
    }

    #[test]
    fn a_token_list_comes_back_as_it_went_in() {
        let tokens = list();
        let bytes = encode_tokens(&tokens);
        assert_eq!(decode_tokens(&bytes).unwrap(), tokens);
        assert_eq!(decode_tokens(&encode_tokens(&[])).unwrap(), vec![]);
        assert!(bytes.len() < serde_json::to_vec(&tokens).unwrap().len() / 2);
    }

    #[test]
    fn damaged_lists_are_refused_without_a_panic() {
        let bytes = encode_tokens(&list());
        for n in 0..bytes.len() {
            assert!(
                decode_tokens(&bytes[..n]).is_err(),
                "a {n}-byte prefix was accepted"
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode_tokens(&longer).is_err());
        // A count of four billion tokens in a short input: refused before any allocation.
        let mut huge = bytes.clone();
        huge[1..5].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(
            decode_tokens(&huge),
            Err(Error::Binary("a count exceeds the data"))
        );
        let mut version = bytes;
        version[0] = 9;
        assert!(decode_tokens(&version).is_err());
    }

    #[test]
    fn every_byte_flipped_is_either_refused_or_read_as_some_list() {
        let bytes = encode_tokens(&list()[..2]);
        for i in 0..bytes.len() {
            for x in [0x01, 0x80, 0xff] {
                let mut b = bytes.clone();
                b[i] ^= x;
                // Must return, not panic; a count or length changed cannot go unnoticed, as
                // the bytes would no longer end where the last token does.
                if let Ok(l) = decode_tokens(&b) {
                    assert_eq!(l.len(), 2);
                }
            }
        }
    }
}
