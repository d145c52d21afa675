//! The on-disk layout of the redb engine: its tables, the tags that name them in journal
//! records (fixed numbers: part of the journal's file format), and `apply_op`, the one function
//! that writes a table operation — for a live batch and for a replay alike, so a replay redoes
//! exactly what the batch did.

use ::redb::{TableDefinition, WriteTransaction};

use crate::error::StoreError;

pub const TOKENS: TableDefinition<&str, &[u8]> = TableDefinition::new("tokens");
/// Live token name → id: the unique-name index.
pub const NAMES: TableDefinition<&str, &str> = TableDefinition::new("token_names");
pub const HOSTS: TableDefinition<&str, &[u8]> = TableDefinition::new("hosts");
/// `token_id/host_id` → (): the hosts of a token.
pub const TOKEN_HOSTS: TableDefinition<&str, ()> = TableDefinition::new("token_hosts");
/// `token_id/key_fingerprint` → host_id: finds a retry by the same host key.
pub const HOST_KEYS: TableDefinition<&str, &str> = TableDefinition::new("host_keys");
pub const AUDIT: TableDefinition<u64, &[u8]> = TableDefinition::new("audit");
/// `target/seq` (seq zero-padded to 20 digits) → (): a token's audit trail.
pub const AUDIT_BY_TARGET: TableDefinition<&str, ()> = TableDefinition::new("audit_by_target");
pub const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
pub const API_TOKENS: TableDefinition<&str, &[u8]> = TableDefinition::new("api_tokens");
/// `user/name` → id: API token names are unique per user.
pub const API_TOKEN_NAMES: TableDefinition<&str, &str> = TableDefinition::new("api_token_names");

/// META key: the first event indexed by its actor (u64, LE); events before it (written by an
/// older version) are found by a scan.
pub const AUDIT_ACTOR_INDEX_FROM: &str = "audit_actor_index_from";
/// In `AUDIT_BY_TARGET`, the prefix of an actor's entries (`\u{1}actor:NAME/SEQ`): events by a
/// user (never by a host) are indexed by their actor too, so one user's events are found
/// without reading everyone's. No target starts with it.
pub const ACTOR_PREFIX: &str = "\u{1}actor:";

/// Whether events by `actor` are indexed by it: users', not hosts' (redemptions stay one
/// index entry each).
pub fn indexed_actor(actor: &str) -> bool {
    !actor.starts_with("host:")
}

/// META key: the audit chain's head (`AuditHead`, JSON).
pub const AUDIT_HEAD: &str = "audit_head";
/// META key: the sequence number of the last journal record the database holds (u64, LE).
pub const JOURNAL_SEQ: &str = "journal_seq";
/// META key: this store's identity and the journal generation it expects (`identity::Stamp`).
pub const STAMP: &str = "journal_stamp";

/// Opens (creating) every table, so readers never find one missing.
pub fn create_all(txn: &WriteTransaction) -> Result<(), StoreError> {
    txn.open_table(TOKENS)?;
    txn.open_table(NAMES)?;
    txn.open_table(HOSTS)?;
    txn.open_table(TOKEN_HOSTS)?;
    txn.open_table(HOST_KEYS)?;
    txn.open_table(AUDIT)?;
    txn.open_table(AUDIT_BY_TARGET)?;
    txn.open_table(META)?;
    txn.open_table(API_TOKENS)?;
    txn.open_table(API_TOKEN_NAMES)?;
    Ok(())
}

/// Declares `Tables`: one slot per table, and an accessor that opens the table on first use.
macro_rules! tables {
    ($($name:ident: $def:ident => $k:ty, $v:ty;)*) => {
        /// The tables a batch (or a replay) has opened, kept open until it ends: opening a
        /// table costs about as much as a small insert, and a redemption touches six.
        pub struct Tables<'t> {
            txn: &'t WriteTransaction,
            $($name: Option<::redb::Table<'t, $k, $v>>,)*
        }

        impl<'t> Tables<'t> {
            pub fn new(txn: &'t WriteTransaction) -> Tables<'t> {
                Tables { txn, $($name: None,)* }
            }

            $(pub fn $name(&mut self) -> Result<&mut ::redb::Table<'t, $k, $v>, StoreError> {
                let table = match self.$name.take() {
                    Some(t) => t,
                    None => self.txn.open_table($def)?,
                };
                Ok(self.$name.insert(table))
            })*
        }
    };
}

tables! {
    tokens: TOKENS => &'static str, &'static [u8];
    names: NAMES => &'static str, &'static str;
    hosts: HOSTS => &'static str, &'static [u8];
    token_hosts: TOKEN_HOSTS => &'static str, ();
    host_keys: HOST_KEYS => &'static str, &'static str;
    audit: AUDIT => u64, &'static [u8];
    audit_by_target: AUDIT_BY_TARGET => &'static str, ();
    meta: META => &'static str, &'static [u8];
    api_tokens: API_TOKENS => &'static str, &'static [u8];
    api_token_names: API_TOKEN_NAMES => &'static str, &'static str;
}

/// The tables a batch changes, as journal records name them. The numbers are part of the
/// journal's file format: never reuse or renumber one (`the_journal_tags_are_pinned`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Tbl {
    Tokens = 0,
    Names = 1,
    Hosts = 2,
    TokenHosts = 3,
    HostKeys = 4,
    Audit = 5,
    AuditByTarget = 6,
    Meta = 7,
    ApiTokens = 8,
    ApiTokenNames = 9,
}

impl Tbl {
    pub fn tag(self) -> u8 {
        self as u8
    }

    pub fn from_tag(tag: u8) -> Option<Tbl> {
        Some(match tag {
            0 => Tbl::Tokens,
            1 => Tbl::Names,
            2 => Tbl::Hosts,
            3 => Tbl::TokenHosts,
            4 => Tbl::HostKeys,
            5 => Tbl::Audit,
            6 => Tbl::AuditByTarget,
            7 => Tbl::Meta,
            8 => Tbl::ApiTokens,
            9 => Tbl::ApiTokenNames,
            _ => return None,
        })
    }
}

/// A journal operation's tag byte: the table's tag, plus this bit for a put (else a removal).
pub const PUT: u8 = 0x80;
/// The tag byte of a redemption's record (`codec::encode_attempt`): replayed by running it again.
pub const REDEEM: u8 = 0x40;

pub fn damaged(what: &str) -> StoreError {
    StoreError::Damaged(format!("a journal record is damaged ({what})"))
}

/// Applies one put (`value` is `Some`) or removal to the batch's (or replay's) tables. Keys and
/// values are bytes: UTF-8 text, except the audit table's key (a little-endian u64); index
/// tables ignore the value.
pub fn apply_op(
    tables: &mut Tables<'_>,
    table: Tbl,
    key: &[u8],
    value: Option<&[u8]>,
) -> Result<(), StoreError> {
    let text = |b| std::str::from_utf8(b).map_err(|_| damaged("a key or value is not text"));
    match table {
        Tbl::Audit => {
            let seq = u64::from_le_bytes(
                key.try_into()
                    .map_err(|_| damaged("an audit key is not 8 bytes"))?,
            );
            let t = tables.audit()?;
            match value {
                Some(v) => drop(t.insert(seq, v)?),
                None => drop(t.remove(seq)?),
            }
        }
        Tbl::Tokens | Tbl::Hosts | Tbl::Meta | Tbl::ApiTokens => {
            let t = match table {
                Tbl::Tokens => tables.tokens()?,
                Tbl::Hosts => tables.hosts()?,
                Tbl::Meta => tables.meta()?,
                _ => tables.api_tokens()?,
            };
            match value {
                Some(v) => drop(t.insert(text(key)?, v)?),
                None => drop(t.remove(text(key)?)?),
            }
        }
        Tbl::Names | Tbl::HostKeys | Tbl::ApiTokenNames => {
            let t = match table {
                Tbl::Names => tables.names()?,
                Tbl::HostKeys => tables.host_keys()?,
                _ => tables.api_token_names()?,
            };
            match value {
                Some(v) => drop(t.insert(text(key)?, text(v)?)?),
                None => drop(t.remove(text(key)?)?),
            }
        }
        Tbl::TokenHosts | Tbl::AuditByTarget => {
            let t = if table == Tbl::TokenHosts {
                tables.token_hosts()?
            } else {
                tables.audit_by_target()?
            };
            match value {
                Some(_) => drop(t.insert(text(key)?, ())?),
                None => drop(t.remove(text(key)?)?),
            }
        }
    }
    Ok(())
}

/// Appends a length-prefixed (u32, little-endian) field to a journal record.
pub fn put_field(log: &mut Vec<u8>, bytes: &[u8]) -> Result<(), StoreError> {
    let len = u32::try_from(bytes.len())
        .map_err(|_| StoreError::Invalid("a record is larger than 4 GiB".into()))?;
    log.extend_from_slice(&len.to_le_bytes());
    log.extend_from_slice(bytes);
    Ok(())
}

/// Splits a length-prefixed (u32, little-endian) field off the front of `p`.
pub fn take_field(p: &[u8]) -> Result<(&[u8], &[u8]), StoreError> {
    let (len, rest) = p
        .split_first_chunk::<4>()
        .ok_or_else(|| damaged("a field's length is cut"))?;
    let len = u32::from_le_bytes(*len) as usize;
    if rest.len() < len {
        return Err(damaged("a field is cut"));
    }
    Ok(rest.split_at(len))
}

pub fn get_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    Ok(serde_json::from_slice(bytes)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tags are the journal's file format: a record written by one build is replayed by
    /// the next. Reordering the enum, or adding a table in the middle, must not move them.
    #[test]
    fn the_journal_tags_are_pinned() {
        let pinned = [
            (Tbl::Tokens, 0),
            (Tbl::Names, 1),
            (Tbl::Hosts, 2),
            (Tbl::TokenHosts, 3),
            (Tbl::HostKeys, 4),
            (Tbl::Audit, 5),
            (Tbl::AuditByTarget, 6),
            (Tbl::Meta, 7),
            (Tbl::ApiTokens, 8),
            (Tbl::ApiTokenNames, 9),
        ];
        for (table, tag) in pinned {
            assert_eq!(table.tag(), tag, "{table:?}");
            assert_eq!(Tbl::from_tag(tag), Some(table));
            assert_eq!(
                tag & (PUT | REDEEM),
                0,
                "{table:?} collides with a flag bit"
            );
        }
        assert_eq!(Tbl::from_tag(10), None);
        assert_eq!((PUT, REDEEM), (0x80, 0x40));
    }

    #[test]
    fn a_cut_field_is_damage_not_a_panic() {
        let mut log = Vec::new();
        put_field(&mut log, b"hello").unwrap();
        assert_eq!(take_field(&log).unwrap(), (&b"hello"[..], &b""[..]));
        for cut in 0..log.len() {
            assert!(matches!(
                take_field(&log[..cut]),
                Err(StoreError::Damaged(_))
            ));
        }
    }
}
