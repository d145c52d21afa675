//! The storage seam. The rest of the daemon sees only the `Store` trait and the records below;
//! redb lives in `store::redb` alone, and a PostgreSQL backend can implement the same trait.
//!
//! Every write method is one atomic, durable change: it returns only after its transaction is
//! on disk. Implementations may commit several concurrent calls together (group commit), as long
//! as each call's checks see the effects of the calls committed before it in the same batch.

pub mod codec;
pub mod journal;
pub mod redb_store;

use std::collections::BTreeMap;
use std::net::IpAddr;

use gatepass_protocol::binary::TokenListBuilder;
use gatepass_protocol::{
    ApiToken, AuditEvent, AuditQuery, Host, MaxUses, SortColumn, Timestamp, Token, TokenKeys,
    TokenStatus,
};
use serde::{Deserialize, Serialize};

use crate::error::StoreError;

/// A token as stored: the public fields plus the keyed hash of its secret (hex).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    pub id: String,
    pub name: String,
    pub description: String,
    pub group: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub owner: String,
    pub max_uses: MaxUses,
    pub uses: u64,
    pub last_used_at: Option<Timestamp>,
    pub last_used_by: Option<String>,
    pub expires_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub created_by: String,
    pub disabled: bool,
    pub revoked_at: Option<Timestamp>,
    pub allowed_cidrs: Vec<String>,
    pub not_before: Option<Timestamp>,
    pub hosts: u64,
    pub secret_hash: String,
}

impl TokenRecord {
    pub fn status(&self, now: Timestamp) -> TokenStatus {
        TokenStatus::derive(
            self.revoked_at.is_some(),
            self.uses,
            self.max_uses,
            self.expires_at,
            self.disabled,
            now,
        )
    }

    /// The API view, moving the fields out (lists turn many records into views).
    pub fn into_view(self, now: Timestamp) -> Token {
        let status = self.status(now);
        Token {
            prefix: gatepass_protocol::token::public_display(
                gatepass_protocol::TokenKind::Enrollment,
                &self.id,
            ),
            id: self.id,
            name: self.name,
            description: self.description,
            group: self.group,
            labels: self.labels,
            owner: self.owner,
            max_uses: self.max_uses,
            uses: self.uses,
            last_used_at: self.last_used_at,
            last_used_by: self.last_used_by,
            expires_at: self.expires_at,
            created_at: self.created_at,
            created_by: self.created_by,
            disabled: self.disabled,
            revoked_at: self.revoked_at,
            allowed_cidrs: self.allowed_cidrs,
            not_before: self.not_before,
            hosts: self.hosts,
            status,
        }
    }

    /// The API view: everything but the secret's hash.
    pub fn view(&self, now: Timestamp) -> Token {
        Token {
            id: self.id.clone(),
            prefix: gatepass_protocol::token::public_display(
                gatepass_protocol::TokenKind::Enrollment,
                &self.id,
            ),
            name: self.name.clone(),
            description: self.description.clone(),
            group: self.group.clone(),
            labels: self.labels.clone(),
            owner: self.owner.clone(),
            max_uses: self.max_uses,
            uses: self.uses,
            last_used_at: self.last_used_at,
            last_used_by: self.last_used_by.clone(),
            expires_at: self.expires_at,
            created_at: self.created_at,
            created_by: self.created_by.clone(),
            disabled: self.disabled,
            revoked_at: self.revoked_at,
            allowed_cidrs: self.allowed_cidrs.clone(),
            not_before: self.not_before,
            hosts: self.hosts,
            status: self.status(now),
        }
    }
}

/// A host as stored: the public fields plus the certificate it was given (for a retry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostRecord {
    #[serde(flatten)]
    pub host: Host,
    pub cert_pem: Option<String>,
}

/// A personal API token as stored: the public view plus the keyed hash of its secret (hex).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiTokenRecord {
    #[serde(flatten)]
    pub token: ApiToken,
    pub secret_hash: String,
}

/// A change to a token other than creation and deletion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenChange {
    Patch {
        description: Option<String>,
        labels: Option<BTreeMap<String, String>>,
        disabled: Option<bool>,
        expires_at: Option<Option<Timestamp>>,
    },
    Revoke,
}

/// One redemption, already past the checks that need no database (token format, body, CSR).
#[derive(Debug, Clone)]
pub struct RedeemAttempt {
    pub token_id: String,
    pub presented_hash: [u8; 32],
    pub hostname: String,
    pub source: IpAddr,
    pub key_fingerprint: Option<String>,
    pub facts: BTreeMap<String, serde_json::Value>,
    /// Id for the new host, made by the caller.
    pub host_id: String,
    /// The client certificate for the new host, signed by the caller when a CSR was sent.
    pub cert_pem: Option<String>,
    pub now: Timestamp,
    pub grace_seconds: u64,
}

/// Why a redemption was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    /// Unknown id or wrong secret: one answer for both.
    Unauthorized {
        reason: &'static str,
    },
    Disabled,
    Expired,
    Revoked,
    Exhausted,
    SourceDenied,
    NotYetValid,
}

impl Denial {
    pub fn code(self) -> gatepass_protocol::ErrorCode {
        use gatepass_protocol::ErrorCode as C;
        match self {
            Denial::Unauthorized { .. } => C::Unauthorized,
            Denial::Disabled => C::TokenDisabled,
            Denial::Expired => C::TokenExpired,
            Denial::Revoked => C::TokenRevoked,
            Denial::Exhausted => C::TokenExhausted,
            Denial::SourceDenied => C::TokenSourceDenied,
            Denial::NotYetValid => C::TokenNotYetValid,
        }
    }

    /// The reason written to the audit log.
    pub fn reason(self) -> &'static str {
        match self {
            Denial::Unauthorized { reason } => reason,
            Denial::Disabled => "token_disabled",
            Denial::Expired => "token_expired",
            Denial::Revoked => "token_revoked",
            Denial::Exhausted => "token_exhausted",
            Denial::SourceDenied => "token_source_denied",
            Denial::NotYetValid => "token_not_yet_valid",
        }
    }
}

#[derive(Debug, Clone)]
pub enum RedeemOutcome {
    /// A new host, one use spent.
    Enrolled {
        host: Box<HostRecord>,
        token: Box<TokenRecord>,
    },
    /// The same host key again within the grace window: the earlier enrollment, no use spent.
    Replayed {
        host: Box<HostRecord>,
    },
    Denied(Denial),
}

/// An audit event before it gets its sequence number and chain hash.
#[derive(Debug, Clone)]
pub struct AuditDraft {
    pub at: Timestamp,
    pub actor: String,
    pub action: &'static str,
    pub target: String,
    pub target_name: Option<String>,
    pub details: BTreeMap<String, String>,
}

/// The result of walking the audit chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditCheck {
    pub events: u64,
    /// The first event whose chain link is wrong (edited, or after a removed one).
    pub first_bad: Option<u64>,
    pub problem: Option<String>,
}

/// The answer to a write queued for the next group commit, to be awaited: no thread waits
/// for the commit.
#[derive(Debug)]
pub struct Queued<T> {
    pub(crate) rx: tokio::sync::oneshot::Receiver<Result<T, StoreError>>,
    /// Whether the write reached the queue at all.
    pub(crate) queued: Result<(), StoreError>,
}

impl<T> Queued<T> {
    /// The result, once the commit holding the write is durable (or failed).
    pub async fn wait(self) -> Result<T, StoreError> {
        self.queued?;
        self.rx
            .await
            .map_err(|_| StoreError::Backend("the write batch was aborted".into()))?
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
}

/// The storage layer the daemon uses.
pub trait Store: Send + Sync + 'static {
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

    /// Counters of how writes became durable (zero for a store without a journal).
    fn durability_stats(&self) -> DurabilityStats {
        DurabilityStats::default()
    }
    /// Stores a new token (fails with `NameTaken` on a duplicate live name) and audits it.
    fn create_token(&self, token: TokenRecord) -> Result<TokenRecord, StoreError>;
    fn get_token(&self, id: &str) -> Result<Option<TokenRecord>, StoreError>;
    /// Whether token `id` exists (`None`: no such token) and its stored secret hash (hex)
    /// equals `hash_hex`, compared in constant time. Reads the last commit without waiting for
    /// pending writes, so it never blocks: the answer may miss a change the writer still holds,
    /// or one a crash could undo. Only for checks the writer repeats inside the transaction
    /// (the redeem pre-check).
    fn peek_secret(&self, id: &str, hash_hex: &str) -> Result<Option<bool>, StoreError> {
        Ok(self
            .get_token(id)?
            .map(|t| crate::secrets::hash_eq(t.secret_hash.as_bytes(), hash_hex.as_bytes())))
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
    fn change_token(
        &self,
        id: &str,
        change: TokenChange,
        actor: &str,
        now: Timestamp,
    ) -> Result<TokenRecord, StoreError>;
    /// Removes the token from lists and frees its name; its hosts and audit trail stay.
    fn delete_token(
        &self,
        id: &str,
        actor: &str,
        now: Timestamp,
    ) -> Result<TokenRecord, StoreError>;
    /// Checks and spends one use, records the host and the audit event, all in one durable
    /// transaction. Refusals are audited too.
    fn redeem(&self, attempt: RedeemAttempt) -> Result<RedeemOutcome, StoreError>;
    /// The same transaction as `redeem`, answered through `Queued` for the async redeem path.
    fn redeem_queued(&self, attempt: RedeemAttempt) -> Queued<RedeemOutcome>;
    /// Appends an audit event on its own (e.g. a redemption refused before any lookup).
    fn append_audit(&self, draft: AuditDraft) -> Result<AuditEvent, StoreError>;
    fn list_hosts(&self, token_id: Option<&str>) -> Result<Vec<HostRecord>, StoreError>;
    /// Removes a host from the records (its token's host count drops; its uses do not).
    fn remove_host(&self, id: &str, actor: &str, now: Timestamp) -> Result<HostRecord, StoreError>;
    /// Stores a new API token (`NameTaken` when its user already has one of that name).
    fn create_api_token(&self, token: ApiTokenRecord) -> Result<ApiTokenRecord, StoreError>;
    fn get_api_token(&self, id: &str) -> Result<Option<ApiTokenRecord>, StoreError>;
    /// All API tokens, or those of one user.
    fn list_api_tokens(&self, user: Option<&str>) -> Result<Vec<ApiTokenRecord>, StoreError>;
    /// Deletes an API token: it stops working at once.
    fn delete_api_token(
        &self,
        id: &str,
        actor: &str,
        now: Timestamp,
    ) -> Result<ApiTokenRecord, StoreError>;
    fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>, StoreError>;
    fn verify_audit(&self) -> Result<AuditCheck, StoreError>;
}

/// The hash that links an audit event to the next one: SHA-256 of its JSON form.
pub fn audit_hash(event: &AuditEvent) -> String {
    audit_hash_of(&serde_json::to_vec(event).unwrap_or_default())
}

/// `audit_hash` of an event already serialized (`serde_json::to_vec`).
pub fn audit_hash_of(event_json: &[u8]) -> String {
    crate::model::hex(ring::digest::digest(&ring::digest::SHA256, event_json).as_ref())
}

/// The `prev_hash` of the very first event.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";
