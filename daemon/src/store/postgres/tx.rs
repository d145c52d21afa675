//! One PostgreSQL transaction as the rules see it (`domain::Tx`), in few round trips.
//!
//! A batch's rules read and write one record at a time; sent as they come, that is four or five
//! round trips to the server per redemption, and the writer waits for each. Instead:
//! - **Reads ahead**: before the rules run, `prefetch` reads in one statement each every token
//!   and every "host by key" the batch's writes will look at (`= ANY($1)`), and the answers,
//!   found or not, are kept.
//! - **Writes held back**: every insert, update and removal of a token, host and audit event
//!   changes what this transaction reads at once (read-your-writes, through the same maps) and
//!   is sent at the end, a statement per table and kind (`unnest` of arrays), before the head
//!   is stored and the transaction commits.
//! - A read the batch did not foresee first sends what is held back, then asks the server, so
//!   it sees the batch's own writes.
//!
//! So a batch of redemptions costs about ten round trips whatever its size. The audit chain's
//! head is read once per transaction (its row is locked first, see `writer`) and carried in
//! memory across the batch, then stored once before the commit. API tokens, rare, are written
//! through at once.

use std::collections::{HashMap, HashSet};

use gatepass_protocol::{AuditEvent, ChangeEvent};
use postgres::{Statement, Transaction};

use crate::domain::{ApiTokenRecord, AuditHead, HostRecord, TokenRecord, Tx, Write};
use crate::error::StoreError;
use crate::store::codec::{decode_token, encode_token};

/// Held-back rows sent at once at most (a migration sends a whole store through one
/// transaction).
const FLUSH_AT: usize = 4_096;

/// The statements a write transaction runs, prepared once per connection.
pub struct Statements {
    token: Statement,
    tokens: Statement,
    token_id_by_name: Statement,
    token_ids_by_names: Statement,
    insert_tokens: Statement,
    update_tokens: Statement,
    remove_tokens: Statement,
    host: Statement,
    host_by_key: Statement,
    hosts_by_keys: Statement,
    insert_hosts: Statement,
    remove_hosts: Statement,
    api_token: Statement,
    api_token_id_by_name: Statement,
    insert_api_token: Statement,
    remove_api_token: Statement,
    audit_head: Statement,
    append_audit: Statement,
    store_head: Statement,
}

impl Statements {
    pub fn prepare(client: &mut postgres::Client) -> Result<Statements, StoreError> {
        Self::prepare_with(|sql| client.prepare(sql))
    }

    /// `prepare`, inside a transaction.
    pub fn prepare_in(txn: &mut Transaction<'_>) -> Result<Statements, StoreError> {
        Self::prepare_with(|sql| txn.prepare(sql))
    }

    fn prepare_with(
        mut p: impl FnMut(&str) -> Result<Statement, postgres::Error>,
    ) -> Result<Statements, StoreError> {
        Ok(Statements {
            token: p("SELECT record FROM gp_tokens WHERE id = $1")?,
            tokens: p("SELECT id, record FROM gp_tokens WHERE id = ANY($1)")?,
            token_id_by_name: p("SELECT id FROM gp_tokens WHERE name = $1")?,
            token_ids_by_names: p("SELECT name, id FROM gp_tokens WHERE name = ANY($1)")?,
            insert_tokens: p("INSERT INTO gp_tokens (id, name, record) \
                 SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[])")?,
            update_tokens: p("UPDATE gp_tokens AS t SET record = v.record \
                 FROM unnest($1::text[], $2::bytea[]) AS v(id, record) WHERE t.id = v.id")?,
            remove_tokens: p("DELETE FROM gp_tokens WHERE id = ANY($1)")?,
            host: p("SELECT record FROM gp_hosts WHERE id = $1")?,
            host_by_key: p(
                "SELECT record FROM gp_hosts WHERE token_id = $1 AND key_fingerprint = $2 \
                 ORDER BY id DESC LIMIT 1",
            )?,
            hosts_by_keys: p("SELECT DISTINCT ON (h.token_id, h.key_fingerprint) \
                     h.token_id, h.key_fingerprint, h.record \
                 FROM gp_hosts AS h \
                 JOIN unnest($1::text[], $2::text[]) AS k(token_id, fp) \
                   ON h.token_id = k.token_id AND h.key_fingerprint = k.fp \
                 ORDER BY h.token_id, h.key_fingerprint, h.id DESC")?,
            insert_hosts: p(
                "INSERT INTO gp_hosts (id, token_id, key_fingerprint, record) \
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[])",
            )?,
            remove_hosts: p("DELETE FROM gp_hosts WHERE id = ANY($1)")?,
            api_token: p("SELECT record FROM gp_api_tokens WHERE id = $1")?,
            api_token_id_by_name: p("SELECT id FROM gp_api_tokens WHERE owner = $1 AND name = $2")?,
            insert_api_token: p(
                "INSERT INTO gp_api_tokens (id, owner, name, record) VALUES ($1, $2, $3, $4)",
            )?,
            remove_api_token: p("DELETE FROM gp_api_tokens WHERE id = $1")?,
            audit_head: p("SELECT next_seq, last_hash FROM gp_audit_head FOR UPDATE")?,
            append_audit: p("INSERT INTO gp_audit (seq, target, actor, at, event) \
                 SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], \
                                      $5::bytea[])")?,
            store_head: p(
                "INSERT INTO gp_audit_head (one, next_seq, last_hash) VALUES (true, $1, $2) \
                 ON CONFLICT (one) DO UPDATE SET next_seq = $1, last_hash = $2",
            )?,
        })
    }
}

/// A sequence number as PostgreSQL stores it (`bigint`).
pub fn seq_to_db(seq: u64) -> Result<i64, StoreError> {
    i64::try_from(seq).map_err(|_| StoreError::Damaged(format!("sequence number {seq}")))
}

pub fn seq_from_db(seq: i64) -> Result<u64, StoreError> {
    u64::try_from(seq).map_err(|_| StoreError::Damaged(format!("sequence number {seq}")))
}

/// A host key look-up: (token id, key fingerprint).
type HostKey = (String, String);

/// What this transaction knows of one table's rows, and what it holds back.
struct Rows<T> {
    /// Each row read or written: `None` when there is none.
    known: HashMap<String, Option<T>>,
    /// The rows the database held when the transaction read them (so a change is an update
    /// or a removal, not an insert).
    stored: HashSet<String>,
    /// Rows changed and not sent yet, in the order they were first changed.
    changed: Vec<String>,
    changed_set: HashSet<String>,
}

impl<T: Clone> Rows<T> {
    fn new() -> Self {
        Rows {
            known: HashMap::new(),
            stored: HashSet::new(),
            changed: Vec::new(),
            changed_set: HashSet::new(),
        }
    }

    fn read(&mut self, id: &str, found: Option<T>) {
        if found.is_some() {
            self.stored.insert(id.to_string());
        }
        self.known.insert(id.to_string(), found);
    }

    fn get(&self, id: &str) -> Option<Option<T>> {
        self.known.get(id).cloned()
    }

    /// Sets a row (`None`: removes it). A row changed before it was read was in the database
    /// unless this transaction made it.
    fn set(&mut self, id: &str, row: Option<T>, inserted: bool) {
        if !inserted && !self.known.contains_key(id) {
            self.stored.insert(id.to_string());
        }
        self.known.insert(id.to_string(), row);
        if self.changed_set.insert(id.to_string()) {
            self.changed.push(id.to_string());
        }
    }

    /// The held-back changes as removals, updates and inserts, forgotten as changes.
    fn take(&mut self) -> (Vec<String>, Vec<T>, Vec<T>) {
        let (mut removed, mut updated, mut inserted) = (Vec::new(), Vec::new(), Vec::new());
        self.changed_set.clear();
        for id in std::mem::take(&mut self.changed) {
            let stored = self.stored.contains(&id);
            match (self.known.get(&id).cloned().flatten(), stored) {
                (None, true) => {
                    removed.push(id.clone());
                    self.stored.remove(&id);
                }
                (None, false) => {}
                (Some(row), true) => updated.push(row),
                (Some(row), false) => {
                    inserted.push(row);
                    self.stored.insert(id);
                }
            }
        }
        (removed, updated, inserted)
    }

    fn pending(&self) -> usize {
        self.changed.len()
    }
}

/// One audit event held back: its sequence number, target, actor, time and stored JSON.
struct HeldEvent {
    seq: i64,
    target: String,
    actor: String,
    at: i64,
    json: Vec<u8>,
}

/// The write transaction of one batch.
pub struct PgTx<'a, 't> {
    txn: &'a mut Transaction<'t>,
    st: &'a Statements,
    /// The chain's head, once read: carried across the batch.
    head: Option<AuditHead>,
    /// Whether the head moved (and must be stored before the commit).
    head_moved: bool,
    listening: bool,
    pub events: Vec<ChangeEvent>,
    tokens: Rows<TokenRecord>,
    /// Token names as this transaction sees them: name → id of the live token holding it.
    names: HashMap<String, Option<String>>,
    hosts: Rows<HostRecord>,
    /// The latest host for a token and key, as this transaction sees it.
    by_key: HashMap<HostKey, Option<HostRecord>>,
    audit: Vec<HeldEvent>,
}

impl<'a, 't> PgTx<'a, 't> {
    /// A transaction whose audit head is `head` (read and locked by the caller) or is read
    /// when first needed; `listening`: whether change events are built.
    pub fn new(
        txn: &'a mut Transaction<'t>,
        st: &'a Statements,
        head: Option<AuditHead>,
        listening: bool,
    ) -> Self {
        PgTx {
            txn,
            st,
            head,
            head_moved: false,
            listening,
            events: Vec::new(),
            tokens: Rows::new(),
            names: HashMap::new(),
            hosts: Rows::new(),
            by_key: HashMap::new(),
            audit: Vec::new(),
        }
    }

    /// Reads, in one statement per kind, what `writes` will look at.
    pub fn prefetch(&mut self, writes: &[Write]) -> Result<(), StoreError> {
        let mut ids = Vec::new();
        let mut names = Vec::new();
        let mut keys: Vec<HostKey> = Vec::new();
        for w in writes {
            match w {
                Write::Redeem(a) => {
                    ids.push(a.token_id.clone());
                    if let Some(fp) = &a.key_fingerprint {
                        keys.push((a.token_id.clone(), fp.clone()));
                    }
                }
                Write::ChangeToken { id, .. } | Write::DeleteToken { id, .. } => {
                    ids.push(id.clone())
                }
                Write::CreateToken(t) => {
                    ids.push(t.id.clone());
                    names.push(t.name.clone());
                }
                _ => {}
            }
        }
        ids.retain(|id| self.tokens.get(id).is_none());
        ids.sort();
        ids.dedup();
        if !ids.is_empty() {
            let mut found = HashMap::new();
            for row in self.txn.query(&self.st.tokens, &[&ids])? {
                let id: String = row.get(0);
                found.insert(id, decode_token(row.get::<_, &[u8]>(1))?);
            }
            for id in ids {
                let rec = found.remove(&id);
                self.tokens.read(&id, rec);
            }
        }
        names.retain(|n| !self.names.contains_key(n));
        names.sort();
        names.dedup();
        if !names.is_empty() {
            let mut found = HashMap::new();
            for row in self.txn.query(&self.st.token_ids_by_names, &[&names])? {
                found.insert(row.get::<_, String>(0), row.get::<_, String>(1));
            }
            for n in names {
                let id = found.remove(&n);
                self.names.insert(n, id);
            }
        }
        keys.retain(|k| !self.by_key.contains_key(k));
        keys.sort();
        keys.dedup();
        if !keys.is_empty() {
            let (tids, fps): (Vec<&str>, Vec<&str>) =
                keys.iter().map(|(t, f)| (t.as_str(), f.as_str())).unzip();
            let mut found = HashMap::new();
            for row in self.txn.query(&self.st.hosts_by_keys, &[&tids, &fps])? {
                let key = (row.get::<_, String>(0), row.get::<_, String>(1));
                found.insert(key, json::<HostRecord>(row.get::<_, &[u8]>(2))?);
            }
            for k in keys {
                let host = found.remove(&k);
                if let Some(h) = &host {
                    self.hosts.read(&h.host.id, Some(h.clone()));
                }
                self.by_key.insert(k, host);
            }
        }
        Ok(())
    }

    /// Sends every held-back write, removals first (so a name freed in this transaction can
    /// be taken again), then updates, then inserts.
    pub fn flush(&mut self) -> Result<(), StoreError> {
        let (gone, updated, inserted) = self.tokens.take();
        if !gone.is_empty() {
            self.txn.execute(&self.st.remove_tokens, &[&gone])?;
        }
        let (gone_hosts, _, new_hosts) = self.hosts.take();
        if !gone_hosts.is_empty() {
            self.txn.execute(&self.st.remove_hosts, &[&gone_hosts])?;
        }
        if !updated.is_empty() {
            let ids: Vec<&str> = updated.iter().map(|t| t.id.as_str()).collect();
            let records: Vec<Vec<u8>> = updated.iter().map(encode_token).collect();
            self.txn
                .execute(&self.st.update_tokens, &[&ids, &records])?;
        }
        if !inserted.is_empty() {
            let ids: Vec<&str> = inserted.iter().map(|t| t.id.as_str()).collect();
            let names: Vec<&str> = inserted.iter().map(|t| t.name.as_str()).collect();
            let records: Vec<Vec<u8>> = inserted.iter().map(encode_token).collect();
            self.txn
                .execute(&self.st.insert_tokens, &[&ids, &names, &records])?;
        }
        if !new_hosts.is_empty() {
            let ids: Vec<&str> = new_hosts.iter().map(|h| h.host.id.as_str()).collect();
            let tokens: Vec<&str> = new_hosts.iter().map(|h| h.host.token_id.as_str()).collect();
            let keys: Vec<Option<&str>> = new_hosts
                .iter()
                .map(|h| h.host.key_fingerprint.as_deref())
                .collect();
            let records = new_hosts
                .iter()
                .map(serde_json::to_vec)
                .collect::<Result<Vec<_>, _>>()?;
            self.txn
                .execute(&self.st.insert_hosts, &[&ids, &tokens, &keys, &records])?;
        }
        if !self.audit.is_empty() {
            let held = std::mem::take(&mut self.audit);
            let seqs: Vec<i64> = held.iter().map(|e| e.seq).collect();
            let targets: Vec<&str> = held.iter().map(|e| e.target.as_str()).collect();
            let actors: Vec<&str> = held.iter().map(|e| e.actor.as_str()).collect();
            let ats: Vec<i64> = held.iter().map(|e| e.at).collect();
            let jsons: Vec<&[u8]> = held.iter().map(|e| e.json.as_slice()).collect();
            self.txn.execute(
                &self.st.append_audit,
                &[&seqs, &targets, &actors, &ats, &jsons],
            )?;
        }
        Ok(())
    }

    /// Sends what a large transaction holds back once there is enough of it.
    fn flush_if_large(&mut self) -> Result<(), StoreError> {
        if self.tokens.pending() + self.hosts.pending() + self.audit.len() >= FLUSH_AT {
            self.flush()?;
        }
        Ok(())
    }

    /// Stores an audit event (`json`: its stored form), with the columns the filters read.
    pub fn insert_event(&mut self, event: &AuditEvent, json: &[u8]) -> Result<(), StoreError> {
        self.audit.push(HeldEvent {
            seq: seq_to_db(event.seq)?,
            target: event.target.clone(),
            actor: event.actor.clone(),
            at: event.at.0,
            json: json.to_vec(),
        });
        self.flush_if_large()
    }

    /// Makes `head` the chain's head, stored by `finish`.
    pub fn set_head(&mut self, head: AuditHead) {
        self.head = Some(head);
        self.head_moved = true;
    }

    /// Sends everything held back and stores the chain's head if it moved: the transaction is
    /// then ready to commit.
    pub fn finish(&mut self) -> Result<(), StoreError> {
        self.flush()?;
        if let (true, Some(head)) = (self.head_moved, &self.head) {
            let next = seq_to_db(head.next_seq)?;
            self.txn
                .execute(&self.st.store_head, &[&next, &head.last_hash])?;
        }
        Ok(())
    }
}

/// Reads the chain's head and locks its row until the transaction ends: every write
/// transaction does this first, so the daemons' writes take turns.
pub fn lock_head(txn: &mut Transaction<'_>, st: &Statements) -> Result<AuditHead, StoreError> {
    match txn.query_opt(&st.audit_head, &[])? {
        Some(row) => Ok(AuditHead {
            next_seq: seq_from_db(row.get(0))?,
            last_hash: row.get(1),
        }),
        None => Err(StoreError::Damaged(
            "the audit chain's head row is missing".into(),
        )),
    }
}

fn json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    Ok(serde_json::from_slice(bytes)?)
}

impl Tx for PgTx<'_, '_> {
    fn token(&mut self, id: &str) -> Result<Option<TokenRecord>, StoreError> {
        if let Some(known) = self.tokens.get(id) {
            return Ok(known);
        }
        self.flush()?;
        let row = self.txn.query_opt(&self.st.token, &[&id])?;
        let rec = row
            .map(|r| decode_token(r.get::<_, &[u8]>(0)))
            .transpose()?;
        self.tokens.read(id, rec.clone());
        Ok(rec)
    }

    fn token_id_by_name(&mut self, name: &str) -> Result<Option<String>, StoreError> {
        if let Some(known) = self.names.get(name) {
            return Ok(known.clone());
        }
        self.flush()?;
        let row = self.txn.query_opt(&self.st.token_id_by_name, &[&name])?;
        let id: Option<String> = row.map(|r| r.get(0));
        self.names.insert(name.to_string(), id.clone());
        Ok(id)
    }

    fn insert_token(&mut self, rec: &TokenRecord) -> Result<(), StoreError> {
        self.tokens.set(&rec.id, Some(rec.clone()), true);
        self.names.insert(rec.name.clone(), Some(rec.id.clone()));
        self.flush_if_large()
    }

    fn update_token(&mut self, rec: &TokenRecord) -> Result<(), StoreError> {
        self.tokens.set(&rec.id, Some(rec.clone()), false);
        self.flush_if_large()
    }

    fn remove_token(&mut self, rec: &TokenRecord) -> Result<(), StoreError> {
        self.tokens.set(&rec.id, None, false);
        self.names.insert(rec.name.clone(), None);
        self.flush_if_large()
    }

    fn host(&mut self, id: &str) -> Result<Option<HostRecord>, StoreError> {
        if let Some(known) = self.hosts.get(id) {
            return Ok(known);
        }
        self.flush()?;
        let row = self.txn.query_opt(&self.st.host, &[&id])?;
        let host: Option<HostRecord> = row.map(|r| json(r.get::<_, &[u8]>(0))).transpose()?;
        self.hosts.read(id, host.clone());
        Ok(host)
    }

    fn host_by_key(
        &mut self,
        token_id: &str,
        key_fingerprint: &str,
    ) -> Result<Option<HostRecord>, StoreError> {
        let key = (token_id.to_string(), key_fingerprint.to_string());
        if let Some(known) = self.by_key.get(&key) {
            return Ok(known.clone());
        }
        self.flush()?;
        let row = self
            .txn
            .query_opt(&self.st.host_by_key, &[&token_id, &key_fingerprint])?;
        let host: Option<HostRecord> = row.map(|r| json(r.get::<_, &[u8]>(0))).transpose()?;
        if let Some(h) = &host {
            self.hosts.read(&h.host.id, Some(h.clone()));
        }
        self.by_key.insert(key, host.clone());
        Ok(host)
    }

    fn insert_host(&mut self, host: &HostRecord) -> Result<(), StoreError> {
        let h = &host.host;
        self.hosts.set(&h.id, Some(host.clone()), true);
        if let Some(fp) = &h.key_fingerprint {
            // Which host is the latest for the key is the database's order (by id): asked
            // again, after this one is sent.
            self.by_key.remove(&(h.token_id.clone(), fp.clone()));
        }
        self.flush_if_large()
    }

    fn remove_host(&mut self, host: &HostRecord) -> Result<(), StoreError> {
        let h = &host.host;
        self.hosts.set(&h.id, None, false);
        if let Some(fp) = &h.key_fingerprint {
            self.by_key.remove(&(h.token_id.clone(), fp.clone()));
        }
        self.flush_if_large()
    }

    fn api_token(&mut self, id: &str) -> Result<Option<ApiTokenRecord>, StoreError> {
        let row = self.txn.query_opt(&self.st.api_token, &[&id])?;
        row.map(|r| json(r.get::<_, &[u8]>(0))).transpose()
    }

    fn api_token_id_by_name(
        &mut self,
        user: &str,
        name: &str,
    ) -> Result<Option<String>, StoreError> {
        let row = self
            .txn
            .query_opt(&self.st.api_token_id_by_name, &[&user, &name])?;
        Ok(row.map(|r| r.get(0)))
    }

    fn insert_api_token(&mut self, rec: &ApiTokenRecord) -> Result<(), StoreError> {
        let t = &rec.token;
        let bytes = serde_json::to_vec(rec)?;
        self.txn.execute(
            &self.st.insert_api_token,
            &[&t.id, &t.user, &t.name, &bytes],
        )?;
        Ok(())
    }

    fn remove_api_token(&mut self, rec: &ApiTokenRecord) -> Result<(), StoreError> {
        self.txn
            .execute(&self.st.remove_api_token, &[&rec.token.id])?;
        Ok(())
    }

    fn audit_head(&mut self) -> Result<AuditHead, StoreError> {
        match &self.head {
            Some(head) => Ok(head.clone()),
            None => {
                let head = lock_head(self.txn, self.st)?;
                self.head = Some(head.clone());
                Ok(head)
            }
        }
    }

    fn append_audit(
        &mut self,
        event: &AuditEvent,
        json: &[u8],
        head: AuditHead,
    ) -> Result<(), StoreError> {
        self.insert_event(event, json)?;
        self.set_head(head);
        Ok(())
    }

    fn listening(&self) -> bool {
        self.listening
    }

    fn announce(&mut self, event: ChangeEvent) {
        self.events.push(event);
    }
}
