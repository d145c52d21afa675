//! The audit log's hash chain: how an event joins it (`append`) and how a walk over the stored
//! log checks it (`ChainCheck`). Each event stores the SHA-256 of the previous event's JSON;
//! the chain's head (next sequence number and last hash) is stored in the same transaction, so
//! removing the newest events is noticed too.

use gatepass_protocol::AuditAction;

use std::collections::BTreeMap;

use gatepass_protocol::{AuditEvent, ChangeEvent, ChangeKind};

use super::model;
use super::{AuditCheck, AuditDraft, AuditHead, ChainLink, TokenRecord, Tx};
use crate::error::StoreError;

/// The `prev_hash` of the very first event.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The hash that links an audit event to the next one: SHA-256 of its canonical JSON form.
pub fn audit_hash(event: &AuditEvent) -> String {
    audit_hash_of(&canonical_json(event).unwrap_or_default())
}

/// An audit event's stored form, the bytes its hash covers: the API's JSON form, except that
/// `tenant` comes last and is left out when it is `default`. Events stored before tenants had
/// no tenant: theirs is `default`, and their form (so their hash) is the one they were stored
/// with.
pub fn canonical_json(ev: &AuditEvent) -> Result<Vec<u8>, serde_json::Error> {
    #[derive(serde::Serialize)]
    struct Canonical<'a> {
        seq: u64,
        at: gatepass_protocol::Timestamp,
        actor: &'a str,
        action: &'a AuditAction,
        target: &'a str,
        target_name: &'a Option<String>,
        details: &'a BTreeMap<String, String>,
        prev_hash: &'a str,
        #[serde(skip_serializing_if = "is_default_tenant")]
        tenant: &'a str,
    }
    fn is_default_tenant(t: &&str) -> bool {
        *t == gatepass_protocol::DEFAULT_TENANT
    }
    serde_json::to_vec(&Canonical {
        seq: ev.seq,
        at: ev.at,
        actor: &ev.actor,
        action: &ev.action,
        target: &ev.target,
        target_name: &ev.target_name,
        details: &ev.details,
        prev_hash: &ev.prev_hash,
        tenant: &ev.tenant,
    })
}

/// `audit_hash` of an event already serialized (`serde_json::to_vec`).
pub fn audit_hash_of(event_json: &[u8]) -> String {
    model::hex(ring::digest::digest(&ring::digest::SHA256, event_json).as_ref())
}

/// Appends `draft` to the chain: the next sequence number, the last event's hash, and the
/// new head, in the same transaction.
pub fn append(tx: &mut dyn Tx, d: AuditDraft) -> Result<AuditEvent, StoreError> {
    let head = tx.audit_head()?;
    let ev = AuditEvent {
        seq: head.next_seq,
        at: d.at,
        actor: d.actor,
        action: d.action,
        target: d.target,
        target_name: d.target_name,
        details: d.details,
        prev_hash: head.last_hash,
        tenant: d.tenant,
    };
    // One serialization: stored, and hashed into the chain.
    let json = canonical_json(&ev)?;
    let next = AuditHead {
        next_seq: ev.seq + 1,
        last_hash: audit_hash_of(&json),
    };
    tx.append_audit(&ev, &json, next)?;
    if tx.listening() {
        tx.announce(ChangeEvent {
            kind: ChangeKind::Audit,
            token: None,
            token_id: None,
            host: None,
            audit: Some(ev.clone()),
        });
    }
    Ok(ev)
}

/// A walk over the stored log in sequence order: feed it each event's sequence number and
/// stored bytes (`event`), then the stored head (`finish`). The first event that does not
/// follow is named.
#[derive(Debug)]
pub struct ChainCheck {
    expected_seq: u64,
    prev_hash: String,
    count: u64,
    /// What the log says happened to each token: its redemptions and its removed hosts.
    tally: BTreeMap<String, Tally>,
    /// The last event walked (`prev_hash` is its hash), for naming where a break is.
    last: Option<AuditEvent>,
}

/// A token's redemptions and removed hosts, as its audit trail tells them.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub redeemed: u64,
    pub hosts_removed: u64,
}

impl Default for ChainCheck {
    fn default() -> ChainCheck {
        ChainCheck {
            expected_seq: 1,
            prev_hash: GENESIS_HASH.to_string(),
            count: 0,
            tally: BTreeMap::new(),
            last: None,
        }
    }
}

impl ChainCheck {
    /// Checks the next stored event: `Err` names the first one that breaks the chain. On
    /// success the event is returned, read, for other checks to use.
    pub fn event(&mut self, seq: u64, stored: &[u8]) -> Result<AuditEvent, AuditCheck> {
        let read: Option<AuditEvent> = serde_json::from_slice(stored).ok();
        let bad = |problem: String| {
            let mut at_break: Vec<ChainLink> = self.last_link().into_iter().collect();
            at_break.push(ChainLink {
                seq,
                hash: audit_hash_of(stored),
                event: read.clone(),
                other_tenant: false,
            });
            AuditCheck {
                tables: Vec::new(),
                events: self.count,
                first_bad: Some(seq),
                problem: Some(problem),
                at_break,
            }
        };
        let Some(ev) = read.clone() else {
            return Err(bad(format!("event {seq} cannot be read")));
        };
        if seq != self.expected_seq {
            return Err(bad(format!(
                "events {}..{} are missing",
                self.expected_seq,
                seq.saturating_sub(1)
            )));
        }
        if ev.seq != seq || ev.prev_hash != self.prev_hash {
            return Err(bad(format!(
                "event {seq} does not follow from event {}: it or its predecessor was altered",
                seq.saturating_sub(1)
            )));
        }
        self.prev_hash = audit_hash(&ev);
        match ev.action {
            AuditAction::Redeemed => self.tally.entry(ev.target.clone()).or_default().redeemed += 1,
            AuditAction::HostRemoved => {
                self.tally
                    .entry(ev.target.clone())
                    .or_default()
                    .hosts_removed += 1;
            }
            _ => {}
        }
        self.expected_seq += 1;
        self.count += 1;
        self.last = Some(ev.clone());
        Ok(ev)
    }

    /// The last event walked, by position and hash (`None` before the first).
    pub fn last_link(&self) -> Option<ChainLink> {
        self.last.as_ref().map(|ev| ChainLink {
            seq: ev.seq,
            hash: self.prev_hash.clone(),
            event: Some(ev.clone()),
            other_tenant: false,
        })
    }

    /// Checks the tables' counters against the log walked so far: every token's uses equal
    /// its `redeemed` events, and its host count equals both the hosts stored for it
    /// (`stored_hosts`: token id → hosts) and its redemptions less its removed hosts. Returns
    /// one line per disagreement.
    pub fn counters<'a>(
        &self,
        tokens: impl IntoIterator<Item = &'a TokenRecord>,
        stored_hosts: &BTreeMap<String, u64>,
    ) -> Vec<String> {
        let mut problems = Vec::new();
        for t in tokens {
            let tally = self.tally.get(&t.id).copied().unwrap_or_default();
            let stored = stored_hosts.get(&t.id).copied().unwrap_or_default();
            let name = format!("token {:?} ({})", t.name, t.id);
            if t.uses != tally.redeemed {
                problems.push(format!(
                    "{name}: uses is {} but the audit log holds {} redemptions of it",
                    t.uses, tally.redeemed
                ));
            }
            if t.hosts != stored {
                problems.push(format!(
                    "{name}: counts {} hosts but {stored} are stored",
                    t.hosts
                ));
            }
            let logged = tally.redeemed.saturating_sub(tally.hosts_removed);
            if stored != logged {
                problems.push(format!(
                    "{name}: {stored} hosts are stored but the audit log accounts for {logged} \
                     ({} enrolled, {} removed)",
                    tally.redeemed, tally.hosts_removed
                ));
            }
        }
        problems
    }

    /// Ends the walk: the stored head must point just past the last event walked.
    pub fn finish(self, head: Option<AuditHead>) -> AuditCheck {
        if let Some(h) = head
            && (h.next_seq != self.expected_seq || h.last_hash != self.prev_hash)
        {
            return AuditCheck {
                tables: Vec::new(),
                at_break: self.last_link().into_iter().collect(),
                events: self.count,
                first_bad: Some(self.expected_seq.min(h.next_seq.saturating_sub(1)).max(1)),
                problem: Some(format!(
                    "the log ends at event {} but {} were written: the newest events were removed or altered",
                    self.expected_seq - 1,
                    h.next_seq.saturating_sub(1)
                )),
            };
        }
        AuditCheck {
            events: self.count,
            first_bad: None,
            problem: None,
            tables: Vec::new(),
            at_break: Vec::new(),
        }
    }
}

/// Which events a reader who does not see everything (an operator) may read: their own
/// actions, and the trails of the tokens and API tokens they own. Applied by an engine inside
/// its read, event by event, so a limit and a cursor count only the events the reader sees
/// (applied after a window, an operator's log went empty behind 100,000 newer events by others).
#[derive(Debug, Clone, Default)]
pub struct AuditScope {
    pub actor: String,
    pub targets: std::collections::BTreeSet<String>,
}

impl AuditScope {
    pub fn admits(&self, actor: &str, target: &str) -> bool {
        actor == self.actor || self.targets.contains(target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(tenant: &str) -> AuditEvent {
        AuditEvent {
            seq: 7,
            at: gatepass_protocol::Timestamp(1_700_000_000),
            actor: "alice".into(),
            action: AuditAction::Created,
            target: "AbCdEfGh1234".into(),
            target_name: Some("web".into()),
            details: [("group".to_string(), "web".to_string())]
                .into_iter()
                .collect(),
            prev_hash: GENESIS_HASH.into(),
            tenant: tenant.into(),
        }
    }

    /// The form events had before tenants, which stored events of `default` keep: their
    /// hashes, and so the chain of a store made before tenants, are unchanged.
    const BEFORE_TENANTS: &str = r#"{"seq":7,"at":"2023-11-14T22:13:20Z","actor":"alice","action":"created","target":"AbCdEfGh1234","target_name":"web","details":{"group":"web"},"prev_hash":"0000000000000000000000000000000000000000000000000000000000000000"}"#;

    #[test]
    fn events_of_default_keep_the_form_they_had_before_tenants() {
        let json = canonical_json(&event("default")).unwrap();
        assert_eq!(String::from_utf8(json).unwrap(), BEFORE_TENANTS);
        // Read back, an event stored before tenants is in `default`, with the same hash.
        let old: AuditEvent = serde_json::from_str(BEFORE_TENANTS).unwrap();
        assert_eq!(old.tenant, "default");
        assert_eq!(audit_hash(&old), audit_hash_of(BEFORE_TENANTS.as_bytes()));
    }

    #[test]
    fn another_tenant_is_in_the_hashed_form_and_the_api_form_always_names_it() {
        let acme = event("acme");
        let json = String::from_utf8(canonical_json(&acme).unwrap()).unwrap();
        assert!(json.ends_with(r#","tenant":"acme"}"#), "{json}");
        assert_ne!(audit_hash(&acme), audit_hash(&event("default")));
        let back: AuditEvent = serde_json::from_str(&json).unwrap();
        assert_eq!(back, acme);
        let api = serde_json::to_value(event("default")).unwrap();
        assert_eq!(api["tenant"], "default");
    }
}
