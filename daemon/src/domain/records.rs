//! The records the rules read and write: a token, a host, an API token as stored, a
//! redemption's inputs and outcome, an audit event before it joins the chain. Every engine
//! stores these; none of them knows how.

use std::collections::BTreeMap;
use std::net::IpAddr;

use gatepass_protocol::{ApiToken, AuditEvent, Host, MaxUses, Timestamp, Token, TokenStatus};
use serde::{Deserialize, Serialize};

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
    /// The tenant it was minted in; records stored before tenants are in `default`.
    #[serde(default = "gatepass_protocol::default_tenant")]
    pub tenant: String,
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
            tenant: self.tenant,
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
            tenant: self.tenant.clone(),
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
    Replayed { host: Box<HostRecord> },
    /// Refused: nothing written. The refusal's audit event is handed back, to be written
    /// through `refusals::RefusalLog` (repeats of one refusal become one event).
    Denied(Denial, Box<AuditDraft>),
}

/// An audit event before it gets its sequence number and chain hash.
#[derive(Debug, Clone)]
pub struct AuditDraft {
    pub at: Timestamp,
    pub actor: String,
    pub action: gatepass_protocol::AuditAction,
    pub target: String,
    pub target_name: Option<String>,
    pub details: BTreeMap<String, String>,
    /// The tenant the event belongs to: its token's (or API token's), else `default`.
    pub tenant: String,
}

/// The tail of the audit chain: the next sequence number and the hash of the last event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditHead {
    pub next_seq: u64,
    pub last_hash: String,
}

impl Default for AuditHead {
    /// The head of an empty log.
    fn default() -> AuditHead {
        AuditHead {
            next_seq: 1,
            last_hash: super::audit::GENESIS_HASH.into(),
        }
    }
}

/// The result of walking the audit chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditCheck {
    pub events: u64,
    /// The first event whose chain link is wrong (edited, or after a removed one).
    pub first_bad: Option<u64>,
    pub problem: Option<String>,
    /// Where the tables disagree with the log (a counter edited at rest, an index that
    /// lost an entry), one line each; empty when they agree.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<String>,
    /// Where the chain breaks: the last event that follows (when there is one) and the first
    /// that does not (when one was read), each by position and hash. Empty when it is whole.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub at_break: Vec<ChainLink>,
}

/// One event of the chain, by position and hash: what `audit verify` names where the chain
/// breaks. A reader who does not see the event's tenant is shown its position and hash alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainLink {
    pub seq: u64,
    /// SHA-256 of the event as stored (hex).
    pub hash: String,
    /// The event, when it could be read and the reader sees its tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<AuditEvent>,
    /// The event belongs to a tenant the reader does not see: only its hash is shown.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub other_tenant: bool,
}

impl AuditCheck {
    /// Whether the chain and the tables are both intact.
    pub fn ok(&self) -> bool {
        self.first_bad.is_none() && self.problem.is_none() && self.tables.is_empty()
    }
}

/// An audit event as stored: its sequence number, target and JSON (the bytes its hash covers).
pub type StoredEvent = (u64, String, Vec<u8>);

/// Everything a store holds, as records: what `gatepassd migrate` carries from one engine to
/// another. Audit events keep their stored bytes (the chain's hashes cover them).
#[derive(Debug, Clone, Default)]
pub struct Export {
    pub tokens: Vec<TokenRecord>,
    pub hosts: Vec<HostRecord>,
    pub api_tokens: Vec<ApiTokenRecord>,
    pub audit: Vec<StoredEvent>,
    pub head: AuditHead,
}
