//! The stored form of a token record: the compact binary layout of `gatepass_protocol::binary`
//! (a token is decoded and re-encoded by every redemption, and a full list decodes every token
//! on record). A version byte leads (`2`); records of earlier versions are still read, and are
//! rewritten in this form the next time they change: version `1` (before tenants: no tenant
//! field; such a token is in `default`) and JSON (they start with `{`).
//!
//! Fields: those a record shares with the API's `Token` (`write_token_fields!`, tenant last),
//! then secret_hash.

use gatepass_protocol::binary::{Reader, TokenListBuilder, Writer, skim_token_fields};
use gatepass_protocol::{Timestamp, TokenKeys};

use std::collections::BTreeMap;

use crate::domain::{RedeemAttempt, TokenRecord};
use crate::error::StoreError;

/// Before tenants: the shared fields but `tenant`, then secret_hash.
const V1: u8 = 1;
const V2: u8 = 2;

pub fn encode_token(r: &TokenRecord) -> Vec<u8> {
    let mut w = Writer(Vec::with_capacity(256));
    w.byte(V2);
    gatepass_protocol::write_token_fields!(w, *r);
    w.str(&r.secret_hash);
    w.0
}

pub fn decode_token(bytes: &[u8]) -> Result<TokenRecord, StoreError> {
    let version = match bytes.first() {
        Some(&v @ (V1 | V2)) => v,
        Some(b'{') => return Ok(serde_json::from_slice(bytes)?),
        _ => return Err(damaged()),
    };
    let mut r = Reader(&bytes[1..]);
    let rec = (|| {
        let rec = gatepass_protocol::read_token_fields!(
            r,
            TokenRecord {
                tenant: if version == V1 {
                    gatepass_protocol::default_tenant()
                } else {
                    r.string()?
                },
                secret_hash: r.string()?,
            }
        );
        r.end()?;
        Ok::<_, gatepass_protocol::Error>(rec)
    })();
    rec.map_err(|_| damaged())
}

/// The secret hash (hex) of a stored record, read in place when the record is in the binary
/// form (the redeem pre-check needs nothing else).
pub fn with_secret_hash<T>(bytes: &[u8], f: impl FnOnce(&str) -> T) -> Result<T, StoreError> {
    if let Some((&V2, fields)) = bytes.split_first() {
        let (_, len) = skim_token_fields(fields, Timestamp(0)).map_err(|_| damaged())?;
        let mut r = Reader(&fields[len..]);
        let hash = r.str_ref().map_err(|_| damaged())?;
        r.end().map_err(|_| damaged())?;
        Ok(f(hash))
    } else {
        Ok(f(&decode_token(bytes)?.secret_hash))
    }
}

/// Adds a stored record to a token list when `keep` accepts it: a record in the binary form is
/// copied field for field, without decoding; a record of an earlier version is decoded.
pub fn add_to_list(
    bytes: &[u8],
    now: Timestamp,
    keep: &dyn Fn(&TokenKeys<'_>) -> bool,
    list: &mut TokenListBuilder,
) -> Result<(), StoreError> {
    if let Some((&V2, fields)) = bytes.split_first() {
        let (keys, len) = skim_token_fields(fields, now).map_err(|_| damaged())?;
        if keep(&keys) {
            list.push_encoded(&fields[..len], &keys);
        }
    } else {
        let token = decode_token(bytes)?.into_view(now);
        if keep(&token.keys()) {
            list.push(&token);
        }
    }
    Ok(())
}

#[cfg(test)]
/// (tests) A record as version 1 (before tenants) stored it, written field by field: the shared
/// fields without `tenant`, then the secret's hash.
pub fn encode_token_before_tenants(r: &TokenRecord) -> Vec<u8> {
    let mut w = Writer(Vec::new());
    w.byte(1);
    w.str(&r.id);
    w.str(&r.name);
    w.str(&r.description);
    w.opt(r.group.as_deref(), Writer::str);
    w.labels(&r.labels);
    w.str(&r.owner);
    w.max_uses(r.max_uses);
    w.u64(r.uses);
    w.opt(r.last_used_at, Writer::ts);
    w.opt(r.last_used_by.as_deref(), Writer::str);
    w.opt(r.expires_at, Writer::ts);
    w.ts(r.created_at);
    w.str(&r.created_by);
    w.flag(r.disabled);
    w.opt(r.revoked_at, Writer::ts);
    w.strings(&r.allowed_cidrs);
    w.opt(r.not_before, Writer::ts);
    w.u64(r.hosts);
    w.str(&r.secret_hash);
    w.0
}

fn damaged() -> StoreError {
    StoreError::Damaged("a stored token record does not decode".into())
}

/// The journal's form of one redemption: its inputs, not its effects. Replayed, they run
/// the rules (`domain::redeem`) again on the same state and so redo exactly what it did (the record is
/// a tenth of the size of the table writes it stands for). That holds only for the code that
/// wrote the record: this byte versions what a redemption writes, not just this layout, and any
/// change to `domain::redeem`'s effects (rules, records, audit details) must change it. A record of
/// another version is refused, never redone differently.
pub const REDEEM_V1: u8 = 1;

pub fn encode_attempt(a: &RedeemAttempt) -> Result<Vec<u8>, StoreError> {
    let mut w = Writer(Vec::with_capacity(96));
    w.byte(REDEEM_V1);
    w.str(&a.token_id);
    w.0.extend_from_slice(&a.presented_hash);
    w.str(&a.hostname);
    w.str(&a.source.to_string());
    w.opt(a.key_fingerprint.as_deref(), Writer::str);
    if a.facts.is_empty() {
        w.str("");
    } else {
        w.str(&serde_json::to_string(&a.facts)?);
    }
    w.str(&a.host_id);
    w.opt(a.cert_pem.as_deref(), Writer::str);
    w.ts(a.now);
    w.u64(a.grace_seconds);
    Ok(w.0)
}

pub fn decode_attempt(bytes: &[u8]) -> Result<RedeemAttempt, StoreError> {
    let bad = |_| StoreError::Damaged("a journaled redemption does not decode".into());
    let rest = match bytes.split_first() {
        Some((&REDEEM_V1, rest)) => rest,
        Some((v, _)) => {
            return Err(StoreError::Damaged(format!(
                "the journal holds redemptions recorded by another version of gatepassd \
                 (form {v}); start that version once so it folds them into the database"
            )));
        }
        None => {
            return Err(StoreError::Damaged(
                "a journaled redemption is empty".into(),
            ));
        }
    };
    let mut r = Reader(rest);
    let token_id = r.string().map_err(bad)?;
    let (hash, rest) =
        r.0.split_first_chunk::<32>()
            .ok_or_else(|| bad(gatepass_protocol::Error::Binary("it ends too soon")))?;
    r.0 = rest;
    let hostname = r.string().map_err(bad)?;
    let source = r
        .str_ref()
        .map_err(bad)?
        .parse()
        .map_err(|_| bad(gatepass_protocol::Error::Binary("not an address")))?;
    let key_fingerprint = r.opt(Reader::string).map_err(bad)?;
    let facts = match r.str_ref().map_err(bad)? {
        "" => BTreeMap::new(),
        json => serde_json::from_str(json)?,
    };
    let attempt = RedeemAttempt {
        token_id,
        presented_hash: *hash,
        hostname,
        source,
        key_fingerprint,
        facts,
        host_id: r.string().map_err(bad)?,
        cert_pem: r.opt(Reader::string).map_err(bad)?,
        now: r.ts().map_err(bad)?,
        grace_seconds: r.u64().map_err(bad)?,
    };
    r.end().map_err(bad)?;
    Ok(attempt)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use gatepass_protocol::{MaxUses, Timestamp};

    use super::*;

    fn full() -> TokenRecord {
        TokenRecord {
            id: "AbCdEfGh12345678".into(),
            name: "web-rollout é".into(),
            description: "for the \"web\" fleet\nline two".into(),
            group: Some("web".into()),
            labels: [
                ("env".to_string(), "prod".to_string()),
                ("k".into(), String::new()),
            ]
            .into_iter()
            .collect(),
            owner: "alice".into(),
            max_uses: MaxUses::Limited(1_000_000_000),
            uses: 7,
            last_used_at: Some(Timestamp(1_700_000_500)),
            last_used_by: Some("h1 (10.0.0.1)".into()),
            expires_at: Some(Timestamp(1_800_000_000)),
            created_at: Timestamp(1_600_000_000),
            created_by: "root".into(),
            disabled: true,
            revoked_at: Some(Timestamp(1_700_000_000)),
            allowed_cidrs: vec!["10.0.0.0/8".into(), "::1/128".into()],
            not_before: Some(Timestamp(1_650_000_000)),
            hosts: 3,
            secret_hash: "ab".repeat(32),
            tenant: gatepass_protocol::default_tenant(),
        }
    }

    fn bare() -> TokenRecord {
        TokenRecord {
            group: None,
            labels: BTreeMap::new(),
            max_uses: MaxUses::Unlimited,
            last_used_at: None,
            last_used_by: None,
            expires_at: None,
            disabled: false,
            revoked_at: None,
            allowed_cidrs: vec![],
            not_before: None,
            description: String::new(),
            ..full()
        }
    }

    #[test]
    fn records_come_back_as_they_went_in() {
        let huge = TokenRecord {
            max_uses: MaxUses::Limited(u64::MAX),
            uses: u64::MAX,
            hosts: u64::MAX,
            last_used_at: Some(Timestamp(-5)),
            expires_at: Some(Timestamp(i64::MAX)),
            created_at: Timestamp(i64::MIN),
            ..full()
        };
        for rec in [full(), bare(), huge] {
            let bytes = encode_token(&rec);
            assert_eq!(decode_token(&bytes).unwrap(), rec);
            assert!(bytes.len() < serde_json::to_vec(&rec).unwrap().len());
        }
    }

    #[test]
    fn records_stored_as_json_are_still_read() {
        for rec in [full(), bare()] {
            let json = serde_json::to_vec(&rec).unwrap();
            assert_eq!(decode_token(&json).unwrap(), rec);
        }
    }

    #[test]
    fn the_secret_hash_is_read_in_place_from_either_form() {
        for rec in [full(), bare()] {
            let binary = encode_token(&rec);
            let json = serde_json::to_vec(&rec).unwrap();
            for bytes in [&binary, &json] {
                let hash = with_secret_hash(bytes, str::to_owned).unwrap();
                assert_eq!(hash, rec.secret_hash);
            }
        }
    }

    #[test]
    fn every_truncation_or_extension_is_refused_without_a_panic() {
        let bytes = encode_token(&full());
        for n in 0..bytes.len() {
            assert!(
                decode_token(&bytes[..n]).is_err(),
                "a {n}-byte prefix was accepted"
            );
            assert!(with_secret_hash(&bytes[..n], |_| ()).is_err());
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(with_secret_hash(&longer, |_| ()).is_err());
        assert!(decode_token(&longer).is_err());
        let mut wrong_version = bytes;
        wrong_version[0] = 3;
        assert!(decode_token(&wrong_version).is_err());
    }

    #[test]
    fn records_stored_before_tenants_are_read_into_default() {
        for rec in [full(), bare()] {
            let old = TokenRecord {
                tenant: "acme".into(),
                ..rec.clone()
            };
            let bytes = encode_token_before_tenants(&old);
            let read = decode_token(&bytes).unwrap();
            assert_eq!(read.tenant, "default");
            assert_eq!(
                read,
                TokenRecord {
                    tenant: "default".into(),
                    ..old.clone()
                }
            );
            assert_eq!(
                with_secret_hash(&bytes, str::to_owned).unwrap(),
                rec.secret_hash
            );
            // Listed as the token it is, in `default`.
            let mut list = TokenListBuilder::new(gatepass_protocol::SortColumn::Name, 1);
            add_to_list(&bytes, Timestamp(0), &|_| true, &mut list).unwrap();
            let listed = gatepass_protocol::binary::decode_tokens(&list.finish(false).unwrap());
            assert_eq!(listed.unwrap()[0].tenant, "default");
            // Written again, it takes the current form, tenant included.
            assert_eq!(encode_token(&read)[0], V2);
            // Truncated, it is refused.
            for n in 0..bytes.len() {
                assert!(decode_token(&bytes[..n]).is_err(), "{n}");
            }
            // A JSON record of an earlier version has no tenant either.
            let mut json = serde_json::to_value(&old).unwrap();
            json.as_object_mut().unwrap().remove("tenant");
            let read = decode_token(&serde_json::to_vec(&json).unwrap()).unwrap();
            assert_eq!(read.tenant, "default");
        }
    }

    #[test]
    fn a_record_keeps_its_tenant_in_the_stored_form_and_the_list() {
        let rec = TokenRecord {
            tenant: "acme".into(),
            ..full()
        };
        let bytes = encode_token(&rec);
        assert_eq!(decode_token(&bytes).unwrap(), rec);
        let mut list = TokenListBuilder::new(gatepass_protocol::SortColumn::Name, 1);
        add_to_list(&bytes, Timestamp(0), &|k| k.tenant == "acme", &mut list).unwrap();
        let listed = gatepass_protocol::binary::decode_tokens(&list.finish(false).unwrap());
        assert_eq!(listed.unwrap()[0].tenant, "acme");
    }

    fn attempts() -> [RedeemAttempt; 2] {
        let facts = serde_json::json!({
            "load": 0.1 + 0.2,
            // Both mis-round in serde_json's default (fast) float parsing.
            "tiny": 1.0715660391465826e-75,
            "big": u64::MAX,
            "nested": {"b": [1, "two", null, -1.603964615428183e143], "a": {"é": true}},
        });
        let full = RedeemAttempt {
            token_id: "AbCdEfGh1234".into(),
            presented_hash: [0xA5; 32],
            hostname: "web-01.example.net".into(),
            source: "2001:db8::1".parse().unwrap(),
            key_fingerprint: Some(format!("sha256:{}", "ab".repeat(32))),
            facts: serde_json::from_value(facts).unwrap(),
            host_id: "h0000000000000001".into(),
            cert_pem: Some("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n".into()),
            now: Timestamp(1_700_000_000),
            grace_seconds: u64::MAX,
        };
        let bare = RedeemAttempt {
            source: "10.0.0.1".parse().unwrap(),
            key_fingerprint: None,
            facts: BTreeMap::new(),
            cert_pem: None,
            now: Timestamp(-1),
            grace_seconds: 0,
            ..full.clone()
        };
        [full, bare]
    }

    /// `RedeemAttempt` has no `PartialEq` (nothing else compares them): its debug form stands in.
    fn same(a: &RedeemAttempt, b: &RedeemAttempt) -> bool {
        format!("{a:?}") == format!("{b:?}")
    }

    #[test]
    fn journaled_redemptions_come_back_as_they_went_in() {
        for a in attempts() {
            let bytes = encode_attempt(&a).unwrap();
            let back = decode_attempt(&bytes).unwrap();
            assert!(same(&back, &a), "{back:?} != {a:?}");
            // Facts re-serialize to the same bytes: the replayed host record is the same record.
            assert_eq!(
                serde_json::to_string(&back.facts).unwrap(),
                serde_json::to_string(&a.facts).unwrap()
            );
        }
    }

    #[test]
    fn a_damaged_journaled_redemption_is_refused_without_a_panic() {
        for a in attempts() {
            let bytes = encode_attempt(&a).unwrap();
            for n in 0..bytes.len() {
                assert!(decode_attempt(&bytes[..n]).is_err(), "{n}-byte prefix");
            }
            let mut longer = bytes.clone();
            longer.push(0);
            assert!(decode_attempt(&longer).is_err());
            let mut other_version = bytes;
            other_version[0] = 2;
            assert!(decode_attempt(&other_version).is_err());
        }
    }

    #[test]
    fn a_damaged_count_is_refused() {
        // The labels count of `bare()` sits after the version byte, three strings and the group
        // flag; make it claim four billion labels.
        let rec = bare();
        let mut bytes = encode_token(&rec);
        let at = 1
            + [&rec.id, &rec.name, &rec.description]
                .iter()
                .map(|s| 4 + s.len())
                .sum::<usize>()
            + 1;
        bytes[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode_token(&bytes).is_err());
    }
}
