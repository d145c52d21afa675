//! A store written before tenants: its records in that version's forms (tokens in the
//! codec's version 1, hosts and API tokens as JSON without `tenant`, audit events without it)
//! opens with everything in `default`, its chain still verifies, and it goes on working.

use gatepass_protocol::{ApiToken, SortColumn, Timestamp};
use tokio::sync::broadcast;

use super::tables::Tbl;
use super::tests::{attempt, dump, redeemable, test_options};
use super::*;
use crate::domain::{ApiTokenRecord, RedeemOutcome};
use crate::store::codec;

fn open(path: &Path) -> RedbStore {
    let (tx, _) = broadcast::channel(16);
    RedbStore::open_with(path, tx, test_options(1 << 20, Default::default())).unwrap()
}

/// `bytes` (a JSON object) without its `tenant` field.
fn without_tenant(bytes: &[u8]) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_slice(bytes).unwrap();
    v.as_object_mut().unwrap().remove("tenant");
    serde_json::to_vec(&v).unwrap()
}

#[test]
fn a_store_written_before_tenants_opens_with_its_data_in_default() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.redb");
    let token = redeemable(1);
    {
        let s = open(&path);
        s.create_token(token.clone()).unwrap();
        let enrolled = s.redeem(attempt(&token, 1, 1, Some("fp1"))).unwrap();
        assert!(matches!(enrolled, RedeemOutcome::Enrolled { .. }));
        s.create_api_token(ApiTokenRecord {
            token: ApiToken {
                id: "ApiTok000001".into(),
                prefix: "gpa_ApiTok000001…".into(),
                name: "ci".into(),
                user: "alice".into(),
                created_at: Timestamp(1_000),
                expires_at: Timestamp(10_000_000),
                path_prefix: None,
                referrer: None,
                remark: String::new(),
                tenant: "default".into(),
                scope: Default::default(),
            },
            secret_hash: "cd".repeat(32),
        })
        .unwrap();
        // Every record rewritten as the version before tenants stored it.
        for (table, key, value) in dump(&s) {
            let key = String::from_utf8_lossy(&key).into_owned();
            let old = match table {
                "TOKENS" => {
                    codec::encode_token_before_tenants(&codec::decode_token(&value).unwrap())
                }
                "HOSTS" | "API_TOKENS" => without_tenant(&value),
                _ => continue,
            };
            let tbl = if table == "TOKENS" {
                Tbl::Tokens
            } else if table == "HOSTS" {
                Tbl::Hosts
            } else {
                Tbl::ApiTokens
            };
            s.tamper(tbl, key.into_bytes(), Some(old)).unwrap();
        }
        // Nothing stored names a tenant any more (events of `default` never did).
        let named = dump(&s)
            .into_iter()
            .filter(|(_, _, v)| v.windows(6).any(|w| w == b"tenant"))
            .map(|(t, k, _)| format!("{t}/{}", String::from_utf8_lossy(&k)))
            .collect::<Vec<_>>();
        assert!(named.is_empty(), "still naming a tenant: {named:?}");
        assert_eq!(dump(&s).iter().filter(|(t, ..)| *t == "AUDIT").count(), 3);
    }
    let s = open(&path);
    let tokens = s.list_tokens().unwrap();
    assert_eq!(tokens.len(), 1);
    assert_eq!(
        (tokens[0].id.as_str(), tokens[0].tenant.as_str()),
        (token.id.as_str(), "default")
    );
    assert_eq!(tokens[0].uses, 1);
    let list = s
        .token_list(Timestamp(0), SortColumn::Name, &|k| k.tenant == "default")
        .unwrap();
    let listed = gatepass_protocol::binary::decode_tokens(&list.finish(false).unwrap()).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].tenant, "default");
    let hosts = s.list_hosts(None).unwrap();
    assert_eq!(hosts.len(), 1);
    assert_eq!(hosts[0].host.tenant, "default");
    let api = s.list_api_tokens(None).unwrap();
    assert_eq!(api[0].token.tenant, "default");
    let events = s.audit(&Default::default()).unwrap();
    assert_eq!(events.len(), 3);
    assert!(events.iter().all(|e| e.tenant == "default"), "{events:?}");
    let check = s.verify_audit().unwrap();
    assert!(check.ok(), "{check:?}");
    // It goes on working: a second host enrolls in `default`, and the chain still verifies.
    match s.redeem(attempt(&token, 1, 2, Some("fp2"))).unwrap() {
        RedeemOutcome::Enrolled { host, token } => {
            assert_eq!(
                (host.host.tenant.as_str(), token.tenant.as_str()),
                ("default", "default")
            );
        }
        other => panic!("{other:?}"),
    }
    let check = s.verify_audit().unwrap();
    assert!(check.ok() && check.events == 4, "{check:?}");
}
