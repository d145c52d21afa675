//! A write batch of the redb engine: the writer's open transaction as the rules see it (`Tx`),
//! recording every table operation in the batch's journal record as it goes. A redemption is
//! recorded as its inputs instead (`codec::encode_attempt`, a tenth of the bytes of its writes)
//! and redone by running the rules again on the state the records before it rebuilt.
//!
//! Record layout, one operation after another: a tag byte (`Tbl` tag, `| PUT` for a put), a
//! length-prefixed key and, for a put, a length-prefixed value; or `REDEEM` and a
//! length-prefixed attempt.

use ::redb::{ReadableTable, WriteTransaction};
use gatepass_protocol::{AuditEvent, ChangeEvent};

use super::tables::{
    ACTOR_PREFIX, AUDIT_ACTOR_INDEX_FROM, AUDIT_HEAD, PUT, REDEEM, Tables, Tbl, apply_op, get_json,
    indexed_actor, put_field,
};
use crate::domain::{
    self, ApiTokenRecord, AuditHead, HostRecord, RedeemAttempt, RedeemOutcome, TokenRecord, Tx,
    Write, Written,
};
use crate::error::StoreError;
use crate::store::codec::{self, decode_token, encode_token};

/// A write being built inside a batch: the open transaction, its operations as the journal
/// records them, and what to announce once it is committed.
pub struct Batch<'t> {
    pub(super) tables: Tables<'t>,
    pub(super) events: Vec<ChangeEvent>,
    pub(super) log: Vec<u8>,
    /// Commit this batch durably (a checkpoint), whatever it holds.
    pub(super) checkpoint: bool,
    /// Make this batch visible to readers when it ends rather than when the writer next
    /// commits (set by every write but redemptions and audit appends).
    pub(super) visible_now: bool,
    /// Whether anyone follows `/v1/events`: change events are only built for listeners.
    listening: bool,
    /// The audit chain's head as this batch leaves it, stored once when the batch ends.
    pub(super) head: Option<AuditHead>,
    /// Redemptions recorded in `log` as their inputs.
    pub(super) redemptions: u64,
    /// Whether table writes go into `log`: not while a redemption runs, whose record holds its
    /// inputs instead (`Batch::redeem`), nor in a replay.
    pub(super) logging: bool,
    /// A table write was logged since the last redemption record: a replay forgets the head it
    /// carries at such a write, so the head must be stored before the next redemption's record.
    wrote_since_redeem: bool,
}

impl<'t> Batch<'t> {
    pub fn new(txn: &'t WriteTransaction, listening: bool) -> Batch<'t> {
        Batch {
            tables: Tables::new(txn),
            events: Vec::new(),
            log: Vec::new(),
            checkpoint: false,
            visible_now: false,
            listening,
            head: None,
            redemptions: 0,
            logging: true,
            wrote_since_redeem: false,
        }
    }
}

fn host_key(token_id: &str, fingerprint: &str) -> String {
    format!("{token_id}/{fingerprint}")
}

impl Batch<'_> {
    /// Runs one write's rules in this batch.
    pub fn run(&mut self, write: Write) -> Result<Written, StoreError> {
        match write {
            Write::Redeem(a) => Ok(Written::Redeemed(self.redeem(a)?)),
            other => domain::apply(self, other),
        }
    }

    /// Puts (`Some`) or removes a key, in the transaction and in the batch's journal record.
    pub fn op(&mut self, table: Tbl, key: &[u8], value: Option<&[u8]>) -> Result<(), StoreError> {
        if self.logging {
            self.log
                .push(table.tag() | if value.is_some() { PUT } else { 0 });
            put_field(&mut self.log, key)?;
            if let Some(v) = value {
                put_field(&mut self.log, v)?;
            }
            self.wrote_since_redeem = true;
        }
        apply_op(&mut self.tables, table, key, value)
    }

    pub fn put(&mut self, table: Tbl, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.op(table, key.as_bytes(), Some(value))
    }

    pub fn del(&mut self, table: Tbl, key: &str) -> Result<(), StoreError> {
        self.op(table, key.as_bytes(), None)
    }

    /// Stores the audit chain's head if this batch moved it: once per batch, not per event.
    pub fn store_head(&mut self) -> Result<(), StoreError> {
        if let Some(head) = self.head.take() {
            self.put(Tbl::Meta, AUDIT_HEAD, &serde_json::to_vec(&head)?)?;
        }
        Ok(())
    }

    /// A redemption, journaled as its inputs (`codec::encode_attempt`) rather than as the
    /// table writes it makes: a replay runs it again (`recovery::replay_record`).
    pub fn redeem(&mut self, a: RedeemAttempt) -> Result<RedeemOutcome, StoreError> {
        if !self.logging {
            return domain::redeem::redeem(self, a);
        }
        if self.wrote_since_redeem && self.head.is_some() {
            // A replay drops the head it carries at a table write; store it so the replayed
            // redemption reads what this one is about to use.
            self.store_head()?;
        }
        self.log.push(REDEEM);
        put_field(&mut self.log, &codec::encode_attempt(&a)?)?;
        self.redemptions += 1;
        self.wrote_since_redeem = false;
        self.logging = false;
        let outcome = domain::redeem::redeem(self, a);
        self.logging = true;
        outcome
    }
}

impl Tx for Batch<'_> {
    fn token(&mut self, id: &str) -> Result<Option<TokenRecord>, StoreError> {
        let v = self.tables.tokens()?.get(id)?;
        v.map(|v| decode_token(v.value())).transpose()
    }

    fn token_id_by_name(&mut self, name: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .tables
            .names()?
            .get(name)?
            .map(|v| v.value().to_owned()))
    }

    fn insert_token(&mut self, rec: &TokenRecord) -> Result<(), StoreError> {
        self.put(Tbl::Names, &rec.name, rec.id.as_bytes())?;
        self.put(Tbl::Tokens, &rec.id, &encode_token(rec))
    }

    fn update_token(&mut self, rec: &TokenRecord) -> Result<(), StoreError> {
        self.put(Tbl::Tokens, &rec.id, &encode_token(rec))
    }

    fn remove_token(&mut self, rec: &TokenRecord) -> Result<(), StoreError> {
        self.del(Tbl::Tokens, &rec.id)?;
        self.del(Tbl::Names, &rec.name)
    }

    fn host(&mut self, id: &str) -> Result<Option<HostRecord>, StoreError> {
        let v = self.tables.hosts()?.get(id)?;
        v.map(|v| get_json(v.value())).transpose()
    }

    fn host_by_key(
        &mut self,
        token_id: &str,
        key_fingerprint: &str,
    ) -> Result<Option<HostRecord>, StoreError> {
        let key = host_key(token_id, key_fingerprint);
        let found = self
            .tables
            .host_keys()?
            .get(key.as_str())?
            .map(|v| v.value().to_owned());
        match found {
            Some(host_id) => self.host(&host_id),
            None => Ok(None),
        }
    }

    fn insert_host(&mut self, host: &HostRecord) -> Result<(), StoreError> {
        let h = &host.host;
        self.put(Tbl::Hosts, &h.id, &serde_json::to_vec(host)?)?;
        self.put(Tbl::TokenHosts, &format!("{}/{}", h.token_id, h.id), b"")?;
        if let Some(fp) = &h.key_fingerprint {
            self.put(Tbl::HostKeys, &host_key(&h.token_id, fp), h.id.as_bytes())?;
        }
        Ok(())
    }

    fn remove_host(&mut self, host: &HostRecord) -> Result<(), StoreError> {
        let h = &host.host;
        self.del(Tbl::Hosts, &h.id)?;
        self.del(Tbl::TokenHosts, &format!("{}/{}", h.token_id, h.id))?;
        if let Some(fp) = &h.key_fingerprint {
            // Only if the key still leads to this host: a later host enrolled with the same
            // key (after the grace window) owns the entry now.
            let key = host_key(&h.token_id, fp);
            let current = self
                .tables
                .host_keys()?
                .get(key.as_str())?
                .map(|v| v.value() == h.id);
            if current == Some(true) {
                self.del(Tbl::HostKeys, &key)?;
            }
        }
        Ok(())
    }

    fn api_token(&mut self, id: &str) -> Result<Option<ApiTokenRecord>, StoreError> {
        let v = self.tables.api_tokens()?.get(id)?;
        v.map(|v| get_json(v.value())).transpose()
    }

    fn api_token_id_by_name(
        &mut self,
        user: &str,
        name: &str,
    ) -> Result<Option<String>, StoreError> {
        let key = format!("{user}/{name}");
        Ok(self
            .tables
            .api_token_names()?
            .get(key.as_str())?
            .map(|v| v.value().to_owned()))
    }

    fn insert_api_token(&mut self, rec: &ApiTokenRecord) -> Result<(), StoreError> {
        let t = &rec.token;
        self.put(
            Tbl::ApiTokenNames,
            &format!("{}/{}", t.user, t.name),
            t.id.as_bytes(),
        )?;
        self.put(Tbl::ApiTokens, &t.id, &serde_json::to_vec(rec)?)
    }

    fn remove_api_token(&mut self, rec: &ApiTokenRecord) -> Result<(), StoreError> {
        let t = &rec.token;
        self.del(Tbl::ApiTokens, &t.id)?;
        self.del(Tbl::ApiTokenNames, &format!("{}/{}", t.user, t.name))
    }

    fn audit_head(&mut self) -> Result<AuditHead, StoreError> {
        Ok(match self.head.take() {
            Some(head) => head,
            None => match self.tables.meta()?.get(AUDIT_HEAD)? {
                Some(v) => get_json(v.value())?,
                None => AuditHead::default(),
            },
        })
    }

    fn append_audit(
        &mut self,
        event: &AuditEvent,
        json: &[u8],
        head: AuditHead,
    ) -> Result<(), StoreError> {
        self.head = Some(head);
        self.op(Tbl::Audit, &event.seq.to_le_bytes(), Some(json))?;
        if !event.target.is_empty() {
            let key = format!("{}/{:020}", event.target, event.seq);
            self.put(Tbl::AuditByTarget, &key, b"")?;
        }
        if indexed_actor(&event.actor) {
            if self.tables.meta()?.get(AUDIT_ACTOR_INDEX_FROM)?.is_none() {
                self.put(Tbl::Meta, AUDIT_ACTOR_INDEX_FROM, &event.seq.to_le_bytes())?;
            }
            let key = format!("{ACTOR_PREFIX}{}/{:020}", event.actor, event.seq);
            self.put(Tbl::AuditByTarget, &key, b"")?;
        }
        Ok(())
    }

    fn listening(&self) -> bool {
        self.listening
    }

    fn announce(&mut self, event: ChangeEvent) {
        self.events.push(event);
    }
}

#[cfg(test)]
mod tests {
    use gatepass_protocol::Timestamp;

    use super::*;
    use crate::domain::Store;
    use crate::store::redb::tests::{attempt, dump, holding_store, redeemable};

    /// What one fixed redemption journals and writes is pinned, with the version of the
    /// journal's redemption record: a replay runs the rules again on a record, so changing what
    /// they write without a new version would redo old records differently. If this fails
    /// after a change to the rules, bump `codec::REDEEM_V1`'s value and update the pin. (The
    /// tables' pin also holds the token's creation: it moved, with the journal's unchanged,
    /// when events by users got an actor index entry. It moved again when records got their
    /// tenant, with the version unchanged: a journal from before tenants holds only tokens of
    /// `default`, whose audit events keep their exact bytes (`audit::canonical_json`; the
    /// chain's later links depend on nothing else), and whose token and host records differ
    /// only in carrying `default` — a replay redoes the same state.)
    #[test]
    fn a_fixed_redemption_journals_and_writes_what_is_pinned() {
        let (_dir, s) = holding_store();
        let token = TokenRecord {
            id: "Fixed0Token1".into(),
            created_at: Timestamp(1_700_000_000),
            hosts: 1,
            ..redeemable(1)
        };
        s.create_token(token.clone()).unwrap();
        let mut a = attempt(&token, 1, 42, Some("sha256:fixed"));
        a.now = Timestamp(1_700_000_100);
        let log = s
            .write_with(
                move |b| {
                    let start = b.log.len();
                    let outcome = b.redeem(a)?;
                    assert!(matches!(outcome, RedeemOutcome::Enrolled { .. }));
                    Ok(b.log[start..].to_vec())
                },
                false,
            )
            .unwrap();
        let mut tables = Vec::new();
        for (table, key, value) in dump(&s) {
            for part in [table.as_bytes(), &key, &value] {
                tables.extend_from_slice(&(part.len() as u32).to_le_bytes());
                tables.extend_from_slice(part);
            }
        }
        let digest = |bytes: &[u8]| {
            crate::domain::model::hex(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref())
        };
        assert_eq!(log[0], REDEEM, "a redemption is journaled as its inputs");
        assert_eq!(
            (codec::REDEEM_V1, digest(&log), digest(&tables)),
            (
                1,
                "4c5d8e7602d395e5b90eac85e4945c8480d55215c7622e059e1a1f4c2fa65174".to_owned(),
                "8d36f9488d20ff5f3ff02517fd4bb9b752787102056f5106da9f2b29421102e2".to_owned()
            ),
            "what a redemption journals or writes changed"
        );
    }
}
