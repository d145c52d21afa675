//! The product's rules, written once for every storage engine: what minting, changing,
//! revoking, deleting and redeeming a token check and write, what removing a host or an API
//! token does, and which audit event each of them appends to the hash chain.
//!
//! The rules run inside a transaction an engine opens, through the narrow `Tx` interface
//! (read and write typed records, the look-ups the rules need, append an audit event); the
//! engine decides how that is stored, batched and made durable. A write reaches an engine as
//! a `Write` and comes back as a `Written`; `apply` is the one place that runs it. The domain
//! imports nothing from `crate::store`: engines depend on it, never the other way round.
//!
//! Request handlers call the functions of `tokens`, `hosts` and `api_tokens`, which check
//! what a request asks, build the records (hashing a new token's secret) and hand the write to
//! the `Store`.

pub mod api_tokens;
pub mod audit;
pub mod hosts;
pub mod model;
pub mod records;
pub mod redeem;
pub mod refusals;
pub mod tenants;
pub mod tokens;

use gatepass_protocol::binary::TokenListBuilder;
use gatepass_protocol::{AuditEvent, AuditQuery, ChangeEvent, SortColumn, Timestamp, TokenKeys};

pub use records::*;

use crate::error::StoreError;

/// One transaction of an engine, as the rules see it. Every method works on the
/// transaction's own view: a write is seen by the reads after it, and nothing is durable
/// until the engine commits the transaction (or drops all of it on a failure).
pub trait Tx {
    fn token(&mut self, id: &str) -> Result<Option<TokenRecord>, StoreError>;
    /// The live token holding `name`, by the unique-name index.
    fn token_id_by_name(&mut self, name: &str) -> Result<Option<String>, StoreError>;
    /// Stores a new token and takes its name.
    fn insert_token(&mut self, rec: &TokenRecord) -> Result<(), StoreError>;
    /// Replaces a stored token (its id and name unchanged).
    fn update_token(&mut self, rec: &TokenRecord) -> Result<(), StoreError>;
    /// Removes a token and frees its name.
    fn remove_token(&mut self, rec: &TokenRecord) -> Result<(), StoreError>;

    fn host(&mut self, id: &str) -> Result<Option<HostRecord>, StoreError>;
    /// The host enrolled with `token_id` whose key has this fingerprint (a retry).
    fn host_by_key(
        &mut self,
        token_id: &str,
        key_fingerprint: &str,
    ) -> Result<Option<HostRecord>, StoreError>;
    /// Stores a new host, listed under its token and findable by its key.
    fn insert_host(&mut self, host: &HostRecord) -> Result<(), StoreError>;
    fn remove_host(&mut self, host: &HostRecord) -> Result<(), StoreError>;

    fn api_token(&mut self, id: &str) -> Result<Option<ApiTokenRecord>, StoreError>;
    /// API token names are unique per user.
    fn api_token_id_by_name(
        &mut self,
        user: &str,
        name: &str,
    ) -> Result<Option<String>, StoreError>;
    fn insert_api_token(&mut self, rec: &ApiTokenRecord) -> Result<(), StoreError>;
    fn remove_api_token(&mut self, rec: &ApiTokenRecord) -> Result<(), StoreError>;

    /// The audit chain's head as this transaction sees it. The head is moved out: the next
    /// `append_audit` sets the new one (so an engine may carry it in memory across a batch).
    fn audit_head(&mut self) -> Result<AuditHead, StoreError>;
    /// Stores `event` (serialized as `json`, the bytes its hash covers), findable by its
    /// target, and makes `head` the chain's new head.
    fn append_audit(
        &mut self,
        event: &AuditEvent,
        json: &[u8],
        head: AuditHead,
    ) -> Result<(), StoreError>;

    /// Whether anyone follows `/v1/events`: change events are only built for listeners.
    fn listening(&self) -> bool;
    /// Queues a change event, sent once the transaction is durable.
    fn announce(&mut self, event: ChangeEvent);
}

/// A write, as the rules take it. Each runs in one transaction with `apply`.
#[derive(Debug, Clone)]
pub enum Write {
    CreateToken(TokenRecord),
    ChangeToken {
        id: String,
        change: TokenChange,
        actor: String,
        now: Timestamp,
    },
    DeleteToken {
        id: String,
        actor: String,
        now: Timestamp,
    },
    Redeem(RedeemAttempt),
    /// An audit event on its own (e.g. a redemption refused before any look-up).
    AppendAudit(AuditDraft),
    RemoveHost {
        id: String,
        actor: String,
        now: Timestamp,
    },
    CreateApiToken(ApiTokenRecord),
    DeleteApiToken {
        id: String,
        actor: String,
        now: Timestamp,
    },
}

impl Write {
    /// Whether readers must see the write as soon as it is answered. Redemptions and audit
    /// appends come in bursts and may wait for the engine's next commit (a reader that needs
    /// them asks for it); every other change is seen at once.
    pub fn visible_at_once(&self) -> bool {
        !matches!(self, Write::Redeem(_) | Write::AppendAudit(_))
    }
}

/// What a `Write` gives back.
#[derive(Debug, Clone)]
pub enum Written {
    Token(TokenRecord),
    Redeemed(RedeemOutcome),
    Audited(AuditEvent),
    Host(HostRecord),
    ApiToken(ApiTokenRecord),
}

/// Runs one write's rules inside `tx`. A refusal (`NotFound`, `NameTaken`, `Conflict`)
/// writes nothing, except what the rule chose to record (a refused redemption's audit event).
pub fn apply(tx: &mut dyn Tx, write: Write) -> Result<Written, StoreError> {
    Ok(match write {
        Write::CreateToken(rec) => Written::Token(tokens::create(tx, rec)?),
        Write::ChangeToken {
            id,
            change,
            actor,
            now,
        } => Written::Token(tokens::change(tx, &id, change, &actor, now)?),
        Write::DeleteToken { id, actor, now } => {
            Written::Token(tokens::delete(tx, &id, &actor, now)?)
        }
        Write::Redeem(attempt) => Written::Redeemed(redeem::redeem(tx, attempt)?),
        Write::AppendAudit(draft) => Written::Audited(audit::append(tx, draft)?),
        Write::RemoveHost { id, actor, now } => Written::Host(hosts::remove(tx, &id, &actor, now)?),
        Write::CreateApiToken(rec) => Written::ApiToken(api_tokens::create(tx, rec)?),
        Write::DeleteApiToken { id, actor, now } => {
            Written::ApiToken(api_tokens::delete(tx, &id, &actor, now)?)
        }
    })
}

/// The answer to a write queued for the engine's next group commit, to be awaited: no thread
/// waits for the commit.
#[derive(Debug)]
pub struct Queued<T> {
    pub rx: tokio::sync::oneshot::Receiver<Result<T, StoreError>>,
    /// Whether the write reached the queue at all.
    pub queued: Result<(), StoreError>,
    /// How long the caller waits before it is told the store is unavailable (an engine whose
    /// database may stop answering); `None`: until the answer comes.
    pub deadline: Option<std::time::Duration>,
}

impl<T> Queued<T> {
    /// The result, once the commit holding the write is durable (or failed, or past the
    /// deadline: then the write may still commit, but nobody was told it did).
    pub async fn wait(self) -> Result<T, StoreError> {
        self.queued?;
        let dropped =
            |_| StoreError::Stopped("the write batch was dropped before its answer".into());
        match self.deadline {
            None => self.rx.await.map_err(dropped)?,
            Some(d) => match tokio::time::timeout(d, self.rx).await {
                Ok(answer) => answer.map_err(dropped)?,
                Err(_) => Err(StoreError::Stopped(format!(
                    "the database did not answer within {} s",
                    d.as_secs()
                ))),
            },
        }
    }
}

/// How writes have been made durable since start, for `GET /metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DurabilityStats {
    /// Write batches made durable through the journal.
    pub journaled_batches: u64,
    /// Durable database commits (each holds every batch before it).
    pub checkpoints: u64,
    /// Bytes of journal records since the last checkpoint: what a restart would redo now.
    pub journal_bytes: u64,
    /// The journal's size (0: none; an engine without one).
    pub journal_capacity: u64,
}

/// What a backup holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BackupInfo {
    pub tokens: u64,
    pub hosts: u64,
    pub events: u64,
    pub api_tokens: u64,
}

/// What an engine offers the daemon: writes (each run with `apply` in a durable transaction,
/// possibly grouped with others), and reads. Every write returns only once it is durable.
pub trait Store: Send + Sync + 'static {
    /// Runs `write` in the next transaction and returns once it is durable.
    fn submit(&self, write: Write) -> Result<Written, StoreError>;
    /// `submit`, answered through `Queued` for the async redeem path.
    fn submit_queued(&self, write: Write) -> Queued<Written>;

    /// Makes everything written so far durable in the database itself (a checkpoint), so a
    /// restart has nothing to redo. Called at shutdown.
    fn checkpoint(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Returns once every write begun before the call is in what reads see (and durable), so a
    /// change-event listener that subscribed first and lists next misses nothing in between.
    fn sync(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Whether the store can serve: `Err` when it stopped after a failure or its database
    /// cannot be reached (what `/healthz` says).
    fn health(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Counters of how writes became durable (zero for a store without a journal).
    fn durability_stats(&self) -> DurabilityStats {
        DurabilityStats::default()
    }

    fn get_token(&self, id: &str) -> Result<Option<TokenRecord>, StoreError>;
    /// Whether token `id` exists (`None`: no such token) and its stored secret hash (hex)
    /// equals `hash_hex`, compared in constant time. May read the last commit without waiting
    /// for pending writes, so it never blocks: the answer may miss a change the engine still
    /// holds. Only for checks the rules repeat inside the transaction (the redeem pre-check).
    fn peek_secret(&self, id: &str, hash_hex: &str) -> Result<Option<bool>, StoreError> {
        Ok(self
            .get_token(id)?
            .map(|t| crate::secrets::hash_eq(t.secret_hash.as_bytes(), hash_hex.as_bytes())))
    }
    /// `peek_secret`, answered through `Queued` so that no thread of the runtime waits for an
    /// engine whose reads are round trips to a server. By default, answered in place.
    fn peek_secret_queued(&self, id: &str, hash_hex: &str) -> Queued<Option<bool>> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        drop(tx.send(self.peek_secret(id, hash_hex)));
        Queued {
            rx,
            queued: Ok(()),
            deadline: None,
        }
    }
    fn token_id_by_name(&self, name: &str) -> Result<Option<String>, StoreError>;
    fn list_tokens(&self) -> Result<Vec<TokenRecord>, StoreError>;
    /// The tokens `keep` accepts (given their keys, status derived at `now`), ready to be sorted
    /// by `column` and sent in the binary list form; no record is decoded into a `TokenRecord`
    /// to get there.
    fn token_list(
        &self,
        now: Timestamp,
        column: SortColumn,
        keep: &(dyn Fn(&TokenKeys<'_>) -> bool + Sync),
    ) -> Result<TokenListBuilder, StoreError>;
    fn list_hosts(&self, token_id: Option<&str>) -> Result<Vec<HostRecord>, StoreError>;
    fn get_api_token(&self, id: &str) -> Result<Option<ApiTokenRecord>, StoreError>;
    /// All API tokens, or those of one user.
    fn list_api_tokens(&self, user: Option<&str>) -> Result<Vec<ApiTokenRecord>, StoreError>;
    /// The newest events matching `query` (up to its limit, below its cursor), oldest first;
    /// with a `scope`, only the events it admits, filtered inside the read.
    fn audit_scoped(
        &self,
        query: &AuditQuery,
        scope: Option<&audit::AuditScope>,
    ) -> Result<Vec<AuditEvent>, StoreError>;
    fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>, StoreError> {
        self.audit_scoped(query, None)
    }
    /// Walks the audit chain (`audit::ChainCheck`) and checks the tables against it.
    fn verify_audit(&self) -> Result<AuditCheck, StoreError>;

    /// Writes a consistent snapshot of everything answered so far to a new file at `to`, one
    /// that `gatepassd restore` makes a data folder of. Engines whose database has its own
    /// backup tools may refuse.
    fn backup(&self, to: &std::path::Path) -> Result<BackupInfo, StoreError> {
        let _ = to;
        Err(StoreError::Invalid(
            "this daemon's store is in PostgreSQL, which `gatepass backup` does not copy: back \
             up the database with pg_dump, and keep a node's data folder (hmac.key, ca.pem, \
             ca.key, gatepassd.toml) with it: without the same hmac.key no token can be redeemed"
                .into(),
        ))
    }

    // Typed forms of `submit`, one per write.

    /// Stores a new token (`NameTaken` on a duplicate live name) and audits it.
    fn create_token(&self, token: TokenRecord) -> Result<TokenRecord, StoreError> {
        expect_token(self.submit(Write::CreateToken(token))?)
    }
    fn change_token(
        &self,
        id: &str,
        change: TokenChange,
        actor: &str,
        now: Timestamp,
    ) -> Result<TokenRecord, StoreError> {
        expect_token(self.submit(Write::ChangeToken {
            id: id.to_owned(),
            change,
            actor: actor.to_owned(),
            now,
        })?)
    }
    /// Removes the token from lists and frees its name; its hosts and audit trail stay.
    fn delete_token(
        &self,
        id: &str,
        actor: &str,
        now: Timestamp,
    ) -> Result<TokenRecord, StoreError> {
        expect_token(self.submit(Write::DeleteToken {
            id: id.to_owned(),
            actor: actor.to_owned(),
            now,
        })?)
    }
    /// Checks and spends one use, records the host and the audit event, all in one durable
    /// transaction. Refusals are audited too.
    fn redeem(&self, attempt: RedeemAttempt) -> Result<RedeemOutcome, StoreError> {
        match self.submit(Write::Redeem(attempt))? {
            Written::Redeemed(o) => Ok(o),
            other => Err(unexpected(&other)),
        }
    }
    /// Appends an audit event on its own.
    fn append_audit(&self, draft: AuditDraft) -> Result<AuditEvent, StoreError> {
        match self.submit(Write::AppendAudit(draft))? {
            Written::Audited(ev) => Ok(ev),
            other => Err(unexpected(&other)),
        }
    }
    /// Removes a host from the records (its token's host count drops; its uses do not).
    fn remove_host(&self, id: &str, actor: &str, now: Timestamp) -> Result<HostRecord, StoreError> {
        match self.submit(Write::RemoveHost {
            id: id.to_owned(),
            actor: actor.to_owned(),
            now,
        })? {
            Written::Host(h) => Ok(h),
            other => Err(unexpected(&other)),
        }
    }
    /// Stores a new API token (`NameTaken` when its user already has one of that name).
    fn create_api_token(&self, token: ApiTokenRecord) -> Result<ApiTokenRecord, StoreError> {
        expect_api_token(self.submit(Write::CreateApiToken(token))?)
    }
    /// Deletes an API token: it stops working at once.
    fn delete_api_token(
        &self,
        id: &str,
        actor: &str,
        now: Timestamp,
    ) -> Result<ApiTokenRecord, StoreError> {
        expect_api_token(self.submit(Write::DeleteApiToken {
            id: id.to_owned(),
            actor: actor.to_owned(),
            now,
        })?)
    }
}

fn unexpected(w: &Written) -> StoreError {
    StoreError::Damaged(format!(
        "a write answered with the wrong kind of record: {w:?}"
    ))
}

fn expect_token(w: Written) -> Result<TokenRecord, StoreError> {
    match w {
        Written::Token(t) => Ok(t),
        other => Err(unexpected(&other)),
    }
}

fn expect_api_token(w: Written) -> Result<ApiTokenRecord, StoreError> {
    match w {
        Written::ApiToken(t) => Ok(t),
        other => Err(unexpected(&other)),
    }
}

/// A redemption's outcome from a queued write.
pub async fn redeem_queued(
    store: &dyn Store,
    attempt: RedeemAttempt,
) -> Result<RedeemOutcome, StoreError> {
    match store.submit_queued(Write::Redeem(attempt)).wait().await? {
        Written::Redeemed(o) => Ok(o),
        other => Err(unexpected(&other)),
    }
}
