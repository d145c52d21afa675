//! One PostgreSQL transaction as the rules see it (`domain::Tx`): each verb is one prepared
//! statement. The audit chain's head is read once per transaction (its row is locked first, see
//! `writer`) and carried in memory across the batch, then stored once before the commit.

use gatepass_protocol::{AuditEvent, ChangeEvent};
use postgres::{Statement, Transaction};

use crate::domain::{ApiTokenRecord, AuditHead, HostRecord, TokenRecord, Tx};
use crate::error::StoreError;
use crate::store::codec::{decode_token, encode_token};

/// The statements a write transaction runs, prepared once per connection.
pub struct Statements {
    token: Statement,
    token_id_by_name: Statement,
    insert_token: Statement,
    update_token: Statement,
    remove_token: Statement,
    host: Statement,
    host_by_key: Statement,
    insert_host: Statement,
    remove_host: Statement,
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
            token_id_by_name: p("SELECT id FROM gp_tokens WHERE name = $1")?,
            insert_token: p("INSERT INTO gp_tokens (id, name, record) VALUES ($1, $2, $3)")?,
            update_token: p("UPDATE gp_tokens SET record = $2 WHERE id = $1")?,
            remove_token: p("DELETE FROM gp_tokens WHERE id = $1")?,
            host: p("SELECT record FROM gp_hosts WHERE id = $1")?,
            host_by_key: p(
                "SELECT record FROM gp_hosts WHERE token_id = $1 AND key_fingerprint = $2 \
                 ORDER BY id DESC LIMIT 1",
            )?,
            insert_host: p(
                "INSERT INTO gp_hosts (id, token_id, key_fingerprint, record) \
                 VALUES ($1, $2, $3, $4)",
            )?,
            remove_host: p("DELETE FROM gp_hosts WHERE id = $1")?,
            api_token: p("SELECT record FROM gp_api_tokens WHERE id = $1")?,
            api_token_id_by_name: p("SELECT id FROM gp_api_tokens WHERE owner = $1 AND name = $2")?,
            insert_api_token: p(
                "INSERT INTO gp_api_tokens (id, owner, name, record) VALUES ($1, $2, $3, $4)",
            )?,
            remove_api_token: p("DELETE FROM gp_api_tokens WHERE id = $1")?,
            audit_head: p("SELECT next_seq, last_hash FROM gp_audit_head FOR UPDATE")?,
            append_audit: p(
                "INSERT INTO gp_audit (seq, target, actor, at, event) VALUES ($1, $2, $3, $4, $5)",
            )?,
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

/// The write transaction of one batch.
pub struct PgTx<'a, 't> {
    pub txn: &'a mut Transaction<'t>,
    pub st: &'a Statements,
    /// The chain's head, once read: carried across the batch.
    pub head: Option<AuditHead>,
    /// Whether the head moved (and must be stored before the commit).
    pub head_moved: bool,
    pub listening: bool,
    pub events: Vec<ChangeEvent>,
}

impl PgTx<'_, '_> {
    /// Stores an audit event (`json`: its stored form), with the columns the filters read.
    pub fn insert_event(&mut self, event: &AuditEvent, json: &[u8]) -> Result<(), StoreError> {
        let seq = seq_to_db(event.seq)?;
        self.txn.execute(
            &self.st.append_audit,
            &[&seq, &event.target, &event.actor, &event.at.0, &json],
        )?;
        Ok(())
    }

    /// Stores the chain's head if the batch moved it.
    pub fn store_head(&mut self) -> Result<(), StoreError> {
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
        let row = self.txn.query_opt(&self.st.token, &[&id])?;
        row.map(|r| decode_token(r.get::<_, &[u8]>(0))).transpose()
    }

    fn token_id_by_name(&mut self, name: &str) -> Result<Option<String>, StoreError> {
        let row = self.txn.query_opt(&self.st.token_id_by_name, &[&name])?;
        Ok(row.map(|r| r.get(0)))
    }

    fn insert_token(&mut self, rec: &TokenRecord) -> Result<(), StoreError> {
        let bytes = encode_token(rec);
        self.txn
            .execute(&self.st.insert_token, &[&rec.id, &rec.name, &bytes])?;
        Ok(())
    }

    fn update_token(&mut self, rec: &TokenRecord) -> Result<(), StoreError> {
        let bytes = encode_token(rec);
        self.txn
            .execute(&self.st.update_token, &[&rec.id, &bytes])?;
        Ok(())
    }

    fn remove_token(&mut self, rec: &TokenRecord) -> Result<(), StoreError> {
        self.txn.execute(&self.st.remove_token, &[&rec.id])?;
        Ok(())
    }

    fn host(&mut self, id: &str) -> Result<Option<HostRecord>, StoreError> {
        let row = self.txn.query_opt(&self.st.host, &[&id])?;
        row.map(|r| json(r.get::<_, &[u8]>(0))).transpose()
    }

    fn host_by_key(
        &mut self,
        token_id: &str,
        key_fingerprint: &str,
    ) -> Result<Option<HostRecord>, StoreError> {
        let row = self
            .txn
            .query_opt(&self.st.host_by_key, &[&token_id, &key_fingerprint])?;
        row.map(|r| json(r.get::<_, &[u8]>(0))).transpose()
    }

    fn insert_host(&mut self, host: &HostRecord) -> Result<(), StoreError> {
        let h = &host.host;
        let bytes = serde_json::to_vec(host)?;
        self.txn.execute(
            &self.st.insert_host,
            &[&h.id, &h.token_id, &h.key_fingerprint, &bytes],
        )?;
        Ok(())
    }

    fn remove_host(&mut self, host: &HostRecord) -> Result<(), StoreError> {
        self.txn.execute(&self.st.remove_host, &[&host.host.id])?;
        Ok(())
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
            None => lock_head(self.txn, self.st),
        }
    }

    fn append_audit(
        &mut self,
        event: &AuditEvent,
        json: &[u8],
        head: AuditHead,
    ) -> Result<(), StoreError> {
        self.insert_event(event, json)?;
        self.head = Some(head);
        self.head_moved = true;
        Ok(())
    }

    fn listening(&self) -> bool {
        self.listening
    }

    fn announce(&mut self, event: ChangeEvent) {
        self.events.push(event);
    }
}
