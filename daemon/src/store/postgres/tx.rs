//! One PostgreSQL transaction as the rules see it (`domain::Tx`), in few round trips.
//!
//! A batch's rules read and write one record at a time; sent as they come, that is four or five
//! round trips to the server per redemption, and the writer waits for each. Instead:
//! - **Reads ahead**: before the rules run, `begin` reads in one statement each every token
//!   and every "host by key" the batch's writes will look at (`= ANY($1)`), and the answers,
//!   found or not, are kept.
//! - **Writes held back**: every insert, update and removal of a token, host and audit event
//!   changes what this transaction reads at once (read-your-writes, through the same maps) and
//!   is sent at the end, a statement per table and kind (`unnest` of arrays), before the head
//!   is stored and the transaction commits.
//! - A read the batch did not foresee first sends what is held back, then asks the server, so
//!   it sees the batch's own writes.
//!
//! The statements of each step go out together on the writer's pipelined connection
//! (`conn::Pipelined`): `BEGIN`, the lock of the audit chain's head and the reads ahead in one
//! round trip; the held-back writes, the head, the notifications and `COMMIT` in another. So a
//! batch of redemptions costs two round trips and one WAL flush whatever its size. The head is
//! read once per transaction (its row is locked first, see `writer`) and carried in memory
//! across the batch. API tokens, rare, are written through at once.

use std::collections::{HashMap, HashSet};

use gatepass_protocol::{AuditEvent, ChangeEvent};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Statement};

use super::conn::Pipelined;

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
    notify: Statement,
}

impl Statements {
    pub fn prepare(conn: &Pipelined) -> Result<Statements, StoreError> {
        let c = &conn.client;
        conn.run(async {
            let p = |sql: &'static str| c.prepare(sql);
            Ok(Statements {
                token: p("SELECT record FROM gp_tokens WHERE id = $1").await?,
                tokens: p("SELECT id, record FROM gp_tokens WHERE id = ANY($1)").await?,
                token_id_by_name: p("SELECT id FROM gp_tokens WHERE name = $1").await?,
                token_ids_by_names: p("SELECT name, id FROM gp_tokens WHERE name = ANY($1)")
                    .await?,
                insert_tokens: p("INSERT INTO gp_tokens (id, name, record) \
                 SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[])")
                .await?,
                update_tokens: p("UPDATE gp_tokens AS t SET record = v.record \
                 FROM unnest($1::text[], $2::bytea[]) AS v(id, record) WHERE t.id = v.id")
                .await?,
                remove_tokens: p("DELETE FROM gp_tokens WHERE id = ANY($1)").await?,
                host: p("SELECT record FROM gp_hosts WHERE id = $1").await?,
                host_by_key: p(
                    "SELECT record FROM gp_hosts WHERE token_id = $1 AND key_fingerprint = $2 \
                 ORDER BY id DESC LIMIT 1",
                )
                .await?,
                hosts_by_keys: p("SELECT DISTINCT ON (h.token_id, h.key_fingerprint) \
                     h.token_id, h.key_fingerprint, h.record \
                 FROM gp_hosts AS h \
                 JOIN unnest($1::text[], $2::text[]) AS k(token_id, fp) \
                   ON h.token_id = k.token_id AND h.key_fingerprint = k.fp \
                 ORDER BY h.token_id, h.key_fingerprint, h.id DESC")
                .await?,
                insert_hosts: p(
                    "INSERT INTO gp_hosts (id, token_id, key_fingerprint, record) \
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[])",
                )
                .await?,
                remove_hosts: p("DELETE FROM gp_hosts WHERE id = ANY($1)").await?,
                api_token: p("SELECT record FROM gp_api_tokens WHERE id = $1").await?,
                api_token_id_by_name: p(
                    "SELECT id FROM gp_api_tokens WHERE owner = $1 AND name = $2",
                )
                .await?,
                insert_api_token: p(
                    "INSERT INTO gp_api_tokens (id, owner, name, record) VALUES ($1, $2, $3, $4)",
                )
                .await?,
                remove_api_token: p("DELETE FROM gp_api_tokens WHERE id = $1").await?,
                audit_head: p("SELECT next_seq, last_hash FROM gp_audit_head FOR UPDATE").await?,
                append_audit: p("INSERT INTO gp_audit (seq, target, actor, at, event) \
                 SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], \
                                      $5::bytea[])")
                .await?,
                store_head: p(
                    "INSERT INTO gp_audit_head (one, next_seq, last_hash, seal) \
                 VALUES (true, $1, $2, $3) \
                 ON CONFLICT (one) DO UPDATE SET next_seq = $1, last_hash = $2, seal = $3",
                )
                .await?,
                notify: p(super::listen::NOTIFY).await?,
            })
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

/// Everything held back, as the statements that send it take it (arrays, one per column).
#[derive(Default)]
struct Held {
    gone_tokens: Vec<String>,
    gone_hosts: Vec<String>,
    updated_ids: Vec<String>,
    updated: Vec<Vec<u8>>,
    new_ids: Vec<String>,
    new_names: Vec<String>,
    new_tokens: Vec<Vec<u8>>,
    host_ids: Vec<String>,
    host_tokens: Vec<String>,
    host_keys: Vec<Option<String>>,
    hosts: Vec<Vec<u8>>,
    seqs: Vec<i64>,
    targets: Vec<String>,
    actors: Vec<String>,
    ats: Vec<i64>,
    events: Vec<Vec<u8>>,
}

/// What the last flight of a batch adds to the held-back writes: the chain's new head, the
/// notifications for the other daemons, and whether to commit.
#[derive(Default)]
pub struct Tail {
    /// The head's next sequence number, last hash and seal.
    pub head: Option<(i64, String, String)>,
    pub notify: Vec<String>,
    pub commit: bool,
}

/// How sending a flight failed: in a write (nothing of the transaction will commit) or at the
/// commit itself (whether it committed is not known).
pub enum SendFailed {
    Write(StoreError),
    Commit(StoreError),
}

impl From<SendFailed> for StoreError {
    fn from(f: SendFailed) -> StoreError {
        match f {
            SendFailed::Write(e) | SendFailed::Commit(e) => e,
        }
    }
}

type Param<'a> = &'a (dyn ToSql + Sync);

/// Runs `statement` with `params` unless `skip`; its answer, or none.
async fn unless(
    client: &Client,
    skip: bool,
    statement: &Statement,
    params: &[Param<'_>],
) -> Result<(), tokio_postgres::Error> {
    if skip {
        return Ok(());
    }
    client.execute(statement, params).await.map(drop)
}

/// The rows `statement` gives for `params` unless `skip` (then none).
async fn rows_unless(
    client: &Client,
    skip: bool,
    statement: &Statement,
    params: &[Param<'_>],
) -> Result<Vec<tokio_postgres::Row>, tokio_postgres::Error> {
    if skip {
        return Ok(Vec::new());
    }
    client.query(statement, params).await
}

/// Sends `held` (removals first, so a name freed in the transaction can be taken again, then
/// updates, then inserts) and `tail`, all in one round trip.
async fn send(client: &Client, st: &Statements, h: &Held, tail: &Tail) -> Result<(), SendFailed> {
    let (next, last, sealed) = match &tail.head {
        Some((n, l, s)) => (Some(*n), Some(l.as_str()), Some(s.as_str())),
        None => (None, None, None),
    };
    let channel = super::listen::CHANNEL;
    let p_gone: [Param<'_>; 1] = [&h.gone_tokens];
    let p_gone_hosts: [Param<'_>; 1] = [&h.gone_hosts];
    let p_updated: [Param<'_>; 2] = [&h.updated_ids, &h.updated];
    let p_new: [Param<'_>; 3] = [&h.new_ids, &h.new_names, &h.new_tokens];
    let p_hosts: [Param<'_>; 4] = [&h.host_ids, &h.host_tokens, &h.host_keys, &h.hosts];
    let p_events: [Param<'_>; 5] = [&h.seqs, &h.targets, &h.actors, &h.ats, &h.events];
    let p_head: [Param<'_>; 3] = [&next, &last, &sealed];
    let p_notify: [Param<'_>; 2] = [&channel, &tail.notify];
    // `biased`: first polled in this order, so sent in this order.
    let (a, b, c, d, e, f, g, n, commit) = tokio::join!(
        biased;
        unless(client, h.gone_tokens.is_empty(), &st.remove_tokens, &p_gone),
        unless(client, h.gone_hosts.is_empty(), &st.remove_hosts, &p_gone_hosts),
        unless(client, h.updated.is_empty(), &st.update_tokens, &p_updated),
        unless(client, h.new_tokens.is_empty(), &st.insert_tokens, &p_new),
        unless(client, h.hosts.is_empty(), &st.insert_hosts, &p_hosts),
        unless(client, h.events.is_empty(), &st.append_audit, &p_events),
        unless(client, tail.head.is_none(), &st.store_head, &p_head),
        unless(client, tail.notify.is_empty(), &st.notify, &p_notify),
        async {
            if tail.commit {
                client.batch_execute("COMMIT").await
            } else {
                Ok(())
            }
        },
    );
    // A failed write aborts the transaction: its COMMIT then rolls back.
    a.and(b)
        .and(c)
        .and(d)
        .and(e)
        .and(f)
        .and(g)
        .and(n)
        .map_err(|e| SendFailed::Write(e.into()))?;
    commit.map_err(|e| SendFailed::Commit(e.into()))
}

/// The write transaction of one batch.
pub struct PgTx<'a> {
    conn: &'a Pipelined,
    st: &'a Statements,
    /// The key the head is sealed with when it is stored.
    seal_key: &'a [u8; 32],
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

impl<'a> PgTx<'a> {
    /// Begins a transaction on `conn` (`listening`: whether change events are built). With
    /// `lock_head`, the audit chain's head is read and its row locked first, and what `writes`
    /// will read is read ahead, all in one round trip.
    pub fn begin(
        conn: &'a Pipelined,
        st: &'a Statements,
        seal_key: &'a [u8; 32],
        lock_head: bool,
        writes: &[Write],
        listening: bool,
    ) -> Result<Self, StoreError> {
        let mut tx = PgTx {
            conn,
            st,
            seal_key,
            head: None,
            head_moved: false,
            listening,
            events: Vec::new(),
            tokens: Rows::new(),
            names: HashMap::new(),
            hosts: Rows::new(),
            by_key: HashMap::new(),
            audit: Vec::new(),
        };
        let ahead = Ahead::of(writes);
        let c = &conn.client;
        let (tids, fps): (Vec<&str>, Vec<&str>) = ahead
            .keys
            .iter()
            .map(|(t, f)| (t.as_str(), f.as_str()))
            .unzip();
        let p_ids: [Param<'_>; 1] = [&ahead.ids];
        let p_names: [Param<'_>; 1] = [&ahead.names];
        let p_keys: [Param<'_>; 2] = [&tids, &fps];
        let (begun, head, tokens, names, hosts) = conn.run(async {
            tokio::join!(
                biased;
                c.batch_execute("BEGIN"),
                rows_unless(c, !lock_head, &st.audit_head, &[]),
                rows_unless(c, ahead.ids.is_empty(), &st.tokens, &p_ids),
                rows_unless(c, ahead.names.is_empty(), &st.token_ids_by_names, &p_names),
                rows_unless(c, ahead.keys.is_empty(), &st.hosts_by_keys, &p_keys),
            )
        });
        begun?;
        if lock_head {
            tx.head = Some(head_of(head?.first())?);
        }
        let mut found = HashMap::new();
        for row in tokens? {
            found.insert(row.get::<_, String>(0), decode_token(row.get(1))?);
        }
        for id in &ahead.ids {
            tx.tokens.read(id, found.remove(id));
        }
        let mut found = HashMap::new();
        for row in names? {
            found.insert(row.get::<_, String>(0), row.get::<_, String>(1));
        }
        for n in &ahead.names {
            tx.names.insert(n.clone(), found.remove(n));
        }
        let mut found = HashMap::new();
        for row in hosts? {
            let key = (row.get::<_, String>(0), row.get::<_, String>(1));
            found.insert(key, json::<HostRecord>(row.get(2))?);
        }
        for k in ahead.keys {
            let host = found.remove(&k);
            if let Some(h) = &host {
                tx.hosts.read(&h.host.id, Some(h.clone()));
            }
            tx.by_key.insert(k, host);
        }
        Ok(tx)
    }

    /// Takes what is held back, as arrays.
    fn take_held(&mut self) -> Result<Held, StoreError> {
        let mut h = Held::default();
        let (gone, updated, inserted) = self.tokens.take();
        h.gone_tokens = gone;
        for t in updated {
            h.updated.push(encode_token(&t));
            h.updated_ids.push(t.id);
        }
        for t in inserted {
            h.new_tokens.push(encode_token(&t));
            h.new_ids.push(t.id);
            h.new_names.push(t.name);
        }
        let (gone_hosts, _, new_hosts) = self.hosts.take();
        h.gone_hosts = gone_hosts;
        for rec in new_hosts {
            h.hosts.push(serde_json::to_vec(&rec)?);
            let host = rec.host;
            h.host_ids.push(host.id);
            h.host_tokens.push(host.token_id);
            h.host_keys.push(host.key_fingerprint);
        }
        for e in std::mem::take(&mut self.audit) {
            h.seqs.push(e.seq);
            h.targets.push(e.target);
            h.actors.push(e.actor);
            h.ats.push(e.at);
            h.events.push(e.json);
        }
        Ok(h)
    }

    /// Sends every held-back write, in one round trip.
    pub fn flush(&mut self) -> Result<(), StoreError> {
        let held = self.take_held()?;
        self.conn
            .run(send(&self.conn.client, self.st, &held, &Tail::default()))
            .map_err(StoreError::from)
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

    /// Makes `head` the chain's head, stored by `commit`.
    pub fn set_head(&mut self, head: AuditHead) {
        self.head = Some(head);
        self.head_moved = true;
    }

    /// Sends everything held back, the chain's head if it moved, `notify` (payloads for the
    /// other daemons) and `COMMIT`, in one round trip.
    pub fn commit(mut self, notify: Vec<String>) -> Result<(), SendFailed> {
        let held = self.take_held().map_err(SendFailed::Write)?;
        let head = match (self.head_moved, &self.head) {
            (true, Some(h)) => Some((
                seq_to_db(h.next_seq).map_err(SendFailed::Write)?,
                h.last_hash.clone(),
                super::seal(self.seal_key, h.next_seq, &h.last_hash),
            )),
            _ => None,
        };
        let tail = Tail {
            head,
            notify,
            commit: true,
        };
        self.conn
            .run(send(&self.conn.client, self.st, &held, &tail))
    }

    /// One row of a single-row statement, after sending what is held back (so the read sees
    /// this transaction's writes).
    fn one(
        &mut self,
        statement: &Statement,
        params: &[Param<'_>],
    ) -> Result<Option<tokio_postgres::Row>, StoreError> {
        self.flush()?;
        Ok(self
            .conn
            .run(self.conn.client.query_opt(statement, params))?)
    }
}

/// What a batch's writes will read, known before they run.
#[derive(Default)]
struct Ahead {
    ids: Vec<String>,
    names: Vec<String>,
    keys: Vec<HostKey>,
}

impl Ahead {
    fn of(writes: &[Write]) -> Ahead {
        let mut a = Ahead::default();
        for w in writes {
            match w {
                Write::Redeem(r) => {
                    a.ids.push(r.token_id.clone());
                    if let Some(fp) = &r.key_fingerprint {
                        a.keys.push((r.token_id.clone(), fp.clone()));
                    }
                }
                Write::ChangeToken { id, .. } | Write::DeleteToken { id, .. } => {
                    a.ids.push(id.clone())
                }
                Write::CreateToken(t) => {
                    a.ids.push(t.id.clone());
                    a.names.push(t.name.clone());
                }
                _ => {}
            }
        }
        for v in [&mut a.ids, &mut a.names] {
            v.sort();
            v.dedup();
        }
        a.keys.sort();
        a.keys.dedup();
        a
    }
}

/// The chain's head from its row.
fn head_of(row: Option<&tokio_postgres::Row>) -> Result<AuditHead, StoreError> {
    match row {
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

impl Tx for PgTx<'_> {
    fn token(&mut self, id: &str) -> Result<Option<TokenRecord>, StoreError> {
        if let Some(known) = self.tokens.get(id) {
            return Ok(known);
        }
        let st = self.st;
        let row = self.one(&st.token, &[&id])?;
        let rec = row.map(|r| decode_token(r.get(0))).transpose()?;
        self.tokens.read(id, rec.clone());
        Ok(rec)
    }

    fn token_id_by_name(&mut self, name: &str) -> Result<Option<String>, StoreError> {
        if let Some(known) = self.names.get(name) {
            return Ok(known.clone());
        }
        let st = self.st;
        let id: Option<String> = self.one(&st.token_id_by_name, &[&name])?.map(|r| r.get(0));
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
        let st = self.st;
        let host: Option<HostRecord> = self
            .one(&st.host, &[&id])?
            .map(|r| json(r.get(0)))
            .transpose()?;
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
        let st = self.st;
        let host: Option<HostRecord> = self
            .one(&st.host_by_key, &[&token_id, &key_fingerprint])?
            .map(|r| json(r.get(0)))
            .transpose()?;
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
        let st = self.st;
        self.one(&st.api_token, &[&id])?
            .map(|r| json(r.get(0)))
            .transpose()
    }

    fn api_token_id_by_name(
        &mut self,
        user: &str,
        name: &str,
    ) -> Result<Option<String>, StoreError> {
        let st = self.st;
        Ok(self
            .one(&st.api_token_id_by_name, &[&user, &name])?
            .map(|r| r.get(0)))
    }

    fn insert_api_token(&mut self, rec: &ApiTokenRecord) -> Result<(), StoreError> {
        let t = &rec.token;
        let bytes = serde_json::to_vec(rec)?;
        let c = &self.conn.client;
        self.conn.run(c.execute(
            &self.st.insert_api_token,
            &[&t.id, &t.user, &t.name, &bytes],
        ))?;
        Ok(())
    }

    fn remove_api_token(&mut self, rec: &ApiTokenRecord) -> Result<(), StoreError> {
        let c = &self.conn.client;
        self.conn
            .run(c.execute(&self.st.remove_api_token, &[&rec.token.id]))?;
        Ok(())
    }

    fn audit_head(&mut self) -> Result<AuditHead, StoreError> {
        match &self.head {
            Some(head) => Ok(head.clone()),
            None => {
                let st = self.st;
                let c = &self.conn.client;
                let row = self.conn.run(c.query_opt(&st.audit_head, &[]))?;
                let head = head_of(row.as_ref())?;
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
