//! The redb engine's side of `audit verify` and `gatepassd check`: the audit chain walked in
//! order (`domain::audit::ChainCheck`), the tables' counters against the log, and every index
//! against the table it indexes (token names, a token's hosts, host keys, a target's audit
//! trail, API token names), all from one snapshot.

use std::collections::{BTreeMap, BTreeSet};

use ::redb::{ReadTransaction, ReadableTable};

use super::tables::{
    ACTOR_PREFIX, API_TOKEN_NAMES, API_TOKENS, AUDIT, AUDIT_ACTOR_INDEX_FROM, AUDIT_BY_TARGET,
    AUDIT_HEAD, HOST_KEYS, HOSTS, META, NAMES, TOKEN_HOSTS, TOKENS, get_json, indexed_actor,
};
use crate::domain::audit::ChainCheck;
use crate::domain::{ApiTokenRecord, AuditCheck, AuditHead, HostRecord, TokenRecord};
use crate::error::StoreError;
use crate::store::codec::decode_token;

/// At most this many disagreements are listed; the rest are counted.
const MAX_LISTED: usize = 50;

/// Walks the whole audit chain, then checks the tables against it and the indexes against
/// their tables.
pub(super) fn verify(r: &ReadTransaction) -> Result<AuditCheck, StoreError> {
    let head: Option<AuditHead> = r
        .open_table(META)?
        .get(AUDIT_HEAD)?
        .map(|v| get_json(v.value()))
        .transpose()?;
    let mut walk = ChainCheck::default();
    // Targets of events, by sequence number, for the audit trail's index.
    let mut targets: BTreeMap<u64, String> = BTreeMap::new();
    // Actors of events a user made, for the actor entries of that index.
    let mut actors: BTreeMap<u64, String> = BTreeMap::new();
    for item in r.open_table(AUDIT)?.iter()? {
        let (k, v) = item?;
        match walk.event(k.value(), v.value()) {
            Ok(ev) => {
                if !ev.target.is_empty() {
                    targets.insert(ev.seq, ev.target);
                }
                if indexed_actor(&ev.actor) {
                    actors.insert(ev.seq, ev.actor);
                }
            }
            Err(bad) => return Ok(bad),
        }
    }
    let mut tokens = Vec::new();
    for item in r.open_table(TOKENS)?.iter()? {
        let (_, v) = item?;
        tokens.push(decode_token(v.value())?);
    }
    let mut hosts = Vec::new();
    for item in r.open_table(HOSTS)?.iter()? {
        let (_, v) = item?;
        hosts.push(get_json::<HostRecord>(v.value())?);
    }
    let mut stored: BTreeMap<String, u64> = BTreeMap::new();
    for h in &hosts {
        *stored.entry(h.host.token_id.clone()).or_default() += 1;
    }
    let mut problems = walk.counters(&tokens, &stored);
    problems.extend(indexes(r, &tokens, &hosts, &targets, &actors)?);
    let mut check = walk.finish(head);
    if problems.len() > MAX_LISTED {
        let more = problems.len() - MAX_LISTED;
        problems.truncate(MAX_LISTED);
        problems.push(format!("… and {more} more"));
    }
    if check.problem.is_none()
        && let Some(first) = problems.first()
    {
        check.problem = Some(format!("the tables disagree with the audit log: {first}"));
    }
    check.tables = problems;
    Ok(check)
}

/// Every index entry points at a record that has it, and every record has its entries.
fn indexes(
    r: &ReadTransaction,
    tokens: &[TokenRecord],
    hosts: &[HostRecord],
    targets: &BTreeMap<u64, String>,
    actors: &BTreeMap<u64, String>,
) -> Result<Vec<String>, StoreError> {
    let mut problems = Vec::new();
    // Token names.
    let by_id: BTreeMap<&str, &TokenRecord> = tokens.iter().map(|t| (t.id.as_str(), t)).collect();
    let mut named = BTreeSet::new();
    for item in r.open_table(NAMES)?.iter()? {
        let (name, id) = item?;
        let (name, id) = (name.value(), id.value());
        match by_id.get(id) {
            Some(t) if t.name == name => {
                named.insert(id.to_owned());
            }
            _ => problems.push(format!(
                "the name index holds {name:?} for token {id}, which has no such name"
            )),
        }
    }
    for t in tokens.iter().filter(|t| !named.contains(&t.id)) {
        problems.push(format!(
            "token {:?} ({}) is missing from the name index",
            t.name, t.id
        ));
    }
    // A token's hosts, and host keys.
    let hosts_by_id: BTreeMap<&str, &HostRecord> =
        hosts.iter().map(|h| (h.host.id.as_str(), h)).collect();
    let mut listed = BTreeSet::new();
    for item in r.open_table(TOKEN_HOSTS)?.iter()? {
        let (k, _) = item?;
        let key = k.value();
        let (tid, hid) = key.split_once('/').unwrap_or((key, ""));
        match hosts_by_id.get(hid) {
            Some(h) if h.host.token_id == tid => {
                listed.insert(hid.to_owned());
            }
            _ => problems.push(format!(
                "the index of token {tid}'s hosts names host {hid}, which is not its"
            )),
        }
    }
    for h in hosts.iter().filter(|h| !listed.contains(&h.host.id)) {
        problems.push(format!(
            "host {} is missing from the index of token {}'s hosts",
            h.host.id, h.host.token_id
        ));
    }
    for item in r.open_table(HOST_KEYS)?.iter()? {
        let (k, v) = item?;
        let (key, hid) = (k.value(), v.value());
        let (tid, fp) = key.split_once('/').unwrap_or((key, ""));
        let fits = hosts_by_id.get(hid).is_some_and(|h| {
            h.host.token_id == tid && h.host.key_fingerprint.as_deref() == Some(fp)
        });
        if !fits {
            problems.push(format!(
                "the host key index points {key} at host {hid}, which does not hold that key"
            ));
        }
    }
    // A target's audit trail.
    let mut indexed = BTreeSet::new();
    // Events are indexed by actor from the first one a version with that index wrote.
    let actors_from = r
        .open_table(META)?
        .get(AUDIT_ACTOR_INDEX_FROM)?
        .and_then(|v| v.value().try_into().ok().map(u64::from_le_bytes));
    let mut by_actor = BTreeSet::new();
    for item in r.open_table(AUDIT_BY_TARGET)?.iter()? {
        let (k, _) = item?;
        let key = k.value();
        let (target, seq) = key.rsplit_once('/').unwrap_or(("", key));
        let seq: u64 = seq.parse().unwrap_or(0);
        if let Some(actor) = target.strip_prefix(ACTOR_PREFIX) {
            if actors.get(&seq).map(String::as_str) == Some(actor) {
                by_actor.insert(seq);
            } else {
                problems.push(format!(
                    "the audit index puts event {seq} under actor {actor}, who did not make it"
                ));
            }
            continue;
        }
        if targets.get(&seq).map(String::as_str) == Some(target) {
            indexed.insert(seq);
        } else {
            problems.push(format!(
                "the audit trail index puts event {seq} under {target}, which it is not about"
            ));
        }
    }
    for (seq, target) in targets.iter().filter(|(s, _)| !indexed.contains(s)) {
        problems.push(format!(
            "event {seq} is missing from the audit trail of {target}"
        ));
    }
    if let Some(from) = actors_from {
        for (seq, actor) in actors.range(from..).filter(|(s, _)| !by_actor.contains(s)) {
            problems.push(format!(
                "event {seq} is missing from the audit index of actor {actor}"
            ));
        }
    }
    // API token names.
    let mut api: BTreeMap<String, ApiTokenRecord> = BTreeMap::new();
    for item in r.open_table(API_TOKENS)?.iter()? {
        let (k, v) = item?;
        api.insert(k.value().to_owned(), get_json(v.value())?);
    }
    let mut api_named = BTreeSet::new();
    for item in r.open_table(API_TOKEN_NAMES)?.iter()? {
        let (k, v) = item?;
        let (key, id) = (k.value(), v.value());
        match api.get(id) {
            Some(t) if format!("{}/{}", t.token.user, t.token.name) == key => {
                api_named.insert(id.to_owned());
            }
            _ => problems.push(format!(
                "the API token name index holds {key:?} for {id}, which has no such name"
            )),
        }
    }
    for id in api.keys().filter(|id| !api_named.contains(*id)) {
        problems.push(format!("API token {id} is missing from the name index"));
    }
    Ok(problems)
}

#[cfg(test)]
mod tests {
    use gatepass_protocol::{AuditQuery, Timestamp};

    use super::super::RedbStore;
    use super::super::tables::Tbl;
    use super::super::tests::{attempt, holding_store, minted, store_with_events};
    use crate::domain::{RedeemOutcome, Store, TokenRecord};
    use crate::store::codec;

    #[test]
    fn an_intact_chain_verifies() {
        let (_d, s) = store_with_events(5);
        let check = s.verify_audit().unwrap();
        assert_eq!((check.events, check.first_bad), (5, None));
    }

    #[test]
    fn an_edited_event_is_named() {
        let (_d, s) = store_with_events(5);
        let mut ev = s.audit(&AuditQuery::default()).unwrap().remove(2);
        assert_eq!(ev.seq, 3);
        ev.actor = "someone-else".into();
        s.tamper_audit(3, Some(ev)).unwrap();
        let check = s.verify_audit().unwrap();
        // Event 3 still links to event 2, but event 4 no longer follows from the edited event 3.
        assert_eq!(check.first_bad, Some(4), "{check:?}");
    }

    #[test]
    fn a_break_names_the_last_event_that_follows_and_the_first_that_does_not_by_hash() {
        let (_d, s) = store_with_events(5);
        let mut ev = s.audit(&AuditQuery::default()).unwrap().remove(2);
        ev.actor = "someone-else".into();
        s.tamper_audit(3, Some(ev.clone())).unwrap();
        let check = s.verify_audit().unwrap();
        let links: Vec<(u64, Option<&str>)> = check
            .at_break
            .iter()
            .map(|l| (l.seq, l.event.as_ref().map(|e| e.actor.as_str())))
            .collect();
        assert_eq!(links[0], (3, Some("someone-else")), "{check:?}");
        assert_eq!(links[1].0, 4, "{check:?}");
        assert_eq!(
            check.at_break[0].hash,
            crate::domain::audit::audit_hash(&ev)
        );
        let fourth = &check.at_break[1];
        assert_eq!(fourth.hash.len(), 64);
        assert_ne!(
            fourth.event.as_ref().map(|e| e.prev_hash.as_str()),
            Some(check.at_break[0].hash.as_str()),
            "event 4 does not link to the edited event 3"
        );
        assert!(check.at_break.iter().all(|l| !l.other_tenant));
        // A whole chain names no break.
        let (_d, s) = store_with_events(3);
        assert!(s.verify_audit().unwrap().at_break.is_empty());
    }

    #[test]
    fn a_removed_event_is_named() {
        let (_d, s) = store_with_events(5);
        s.tamper_audit(2, None).unwrap();
        let check = s.verify_audit().unwrap();
        assert_eq!(check.first_bad, Some(3), "{check:?}");
        assert!(check.problem.unwrap().contains("missing"));
    }

    #[test]
    fn removing_the_newest_event_is_noticed() {
        let (_d, s) = store_with_events(5);
        s.tamper_audit(5, None).unwrap();
        let check = s.verify_audit().unwrap();
        assert!(check.first_bad.is_some(), "{check:?}");
        assert!(check.problem.unwrap().contains("newest"));
    }

    #[test]
    fn an_edited_last_event_is_noticed() {
        let (_d, s) = store_with_events(3);
        let mut ev = s.audit(&AuditQuery::default()).unwrap().remove(2);
        ev.details.insert("forged".into(), "yes".into());
        s.tamper_audit(3, Some(ev)).unwrap();
        assert!(s.verify_audit().unwrap().first_bad.is_some());
    }

    /// A store where two tokens were redeemed (one host removed again), as every check expects.
    fn redeemed_store() -> (tempfile::TempDir, RedbStore, Vec<TokenRecord>) {
        let (dir, s) = holding_store();
        let tokens = minted(&s, 2);
        s.redeem(attempt(&tokens[0], 1, 1, Some("fp-a"))).unwrap();
        s.redeem(attempt(&tokens[0], 1, 2, Some("fp-b"))).unwrap();
        s.redeem(attempt(&tokens[1], 2, 3, None)).unwrap();
        let hosts = s.list_hosts(Some(&tokens[0].id)).unwrap();
        s.remove_host(&hosts[0].host.id, "admin", Timestamp(9_000))
            .unwrap();
        let check = s.verify_audit().unwrap();
        assert!(check.ok(), "{check:?}");
        (dir, s, tokens)
    }

    #[test]
    fn a_counter_edited_at_rest_is_found() {
        let (_d, s, tokens) = redeemed_store();
        let mut t = s.get_token(&tokens[0].id).unwrap().unwrap();
        t.uses = 0;
        s.tamper(
            Tbl::Tokens,
            t.id.as_bytes().to_vec(),
            Some(codec::encode_token(&t)),
        )
        .unwrap();
        let check = s.verify_audit().unwrap();
        assert!(!check.ok());
        assert_eq!(check.first_bad, None, "the chain itself is intact");
        assert!(
            check
                .tables
                .iter()
                .any(|p| p.contains("uses is 0") && p.contains("2 redemptions")),
            "{check:?}"
        );
        assert!(check.problem.unwrap().contains("tables disagree"));
    }

    #[test]
    fn a_host_count_edited_at_rest_is_found() {
        let (_d, s, tokens) = redeemed_store();
        let mut t = s.get_token(&tokens[1].id).unwrap().unwrap();
        t.hosts = 4_295;
        s.tamper(
            Tbl::Tokens,
            t.id.as_bytes().to_vec(),
            Some(codec::encode_token(&t)),
        )
        .unwrap();
        let check = s.verify_audit().unwrap();
        assert!(
            check
                .tables
                .iter()
                .any(|p| p.contains("counts 4295 hosts but 1 are stored")),
            "{check:?}"
        );
    }

    #[test]
    fn an_index_that_lost_or_gained_an_entry_is_found() {
        let (_d, s, tokens) = redeemed_store();
        s.tamper(Tbl::Names, tokens[1].name.as_bytes().to_vec(), None)
            .unwrap();
        s.tamper(Tbl::TokenHosts, b"nosuch/host".to_vec(), Some(Vec::new()))
            .unwrap();
        let check = s.verify_audit().unwrap();
        let all = check.tables.join("\n");
        assert!(all.contains("missing from the name index"), "{all}");
        assert!(all.contains("names host host"), "{all}");
        let hosts = s.list_hosts(None).unwrap();
        let host = &hosts[0].host;
        s.tamper(
            Tbl::TokenHosts,
            format!("{}/{}", host.token_id, host.id).into_bytes(),
            None,
        )
        .unwrap();
        let all = s.verify_audit().unwrap().tables.join("\n");
        assert!(
            all.contains(&format!("host {} is missing", host.id)),
            "{all}"
        );
    }

    #[test]
    fn removing_an_older_host_keeps_the_newer_ones_key() {
        // The same key enrolls again after the grace window: the key leads to the newer host,
        // and removing the older one must not take that away.
        let (_d, s) = holding_store();
        let tokens = minted(&s, 1);
        let mut first = attempt(&tokens[0], 1, 1, Some("fp-same"));
        first.grace_seconds = 0;
        s.redeem(first).unwrap();
        let mut second = attempt(&tokens[0], 1, 700, Some("fp-same"));
        second.grace_seconds = 0;
        let RedeemOutcome::Enrolled { host: newer, .. } = s.redeem(second).unwrap() else {
            panic!("the second enrollment was refused")
        };
        let older = s
            .list_hosts(None)
            .unwrap()
            .into_iter()
            .find(|h| h.host.id != newer.host.id)
            .unwrap();
        s.remove_host(&older.host.id, "admin", Timestamp(9_000))
            .unwrap();
        let check = s.verify_audit().unwrap();
        assert!(check.ok(), "{check:?}");
        let mut retry = attempt(&tokens[0], 1, 701, Some("fp-same"));
        retry.now = newer.host.enrolled_at;
        assert!(matches!(
            s.redeem(retry).unwrap(),
            RedeemOutcome::Replayed { .. }
        ));
    }
}
