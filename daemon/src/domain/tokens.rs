//! Enrollment tokens: minting (`mint` checks a request and builds the record, hashing the new
//! secret), and the rules each change runs inside its transaction (`create`, `change`,
//! `delete`) with the audit events they append.

use gatepass_protocol::AuditAction;

use std::collections::BTreeMap;

use gatepass_protocol::token::{self, ParsedToken, TokenKind};
use gatepass_protocol::{
    ChangeEvent, ChangeKind, CreateTokenRequest, PatchTokenRequest, Timestamp,
};

use super::model::{self, LifetimePolicy};
use super::{AuditDraft, TokenChange, TokenRecord, Tx, audit};
use crate::error::{Missing, StoreError};
use crate::secrets::SecretKey;

/// Who mints, and for whom (already allowed by the caller's role).
#[derive(Debug, Clone)]
pub struct Minter<'a> {
    /// The user minting (audited as `created_by`).
    pub user: &'a str,
    /// The owner of the hosts the token enrolls.
    pub owner: String,
    /// The tenant the token is minted in (already chosen by `tenants::Tenants::mint_tenant`).
    pub tenant: String,
}

/// When a token is minted: `at` is "now" (its creation time, as its audit event and every
/// later event are dated, so a trail never runs backwards); `lifetime_from` is "now" rounded up
/// to the next whole second, which its lifetime is counted from, so it lives at least what was
/// asked (a `--ttl 1s` token minted at 12:00:00.7 counted from 12:00:00 would live 0.3 s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MintTime {
    pub at: Timestamp,
    pub lifetime_from: Timestamp,
}

/// Checks a create request and builds the token it asks for, with a new secret: the record
/// (holding only the secret's keyed hash) and the secret, to be shown once.
pub fn mint(
    body: CreateTokenRequest,
    minter: Minter<'_>,
    key: &SecretKey,
    policy: LifetimePolicy,
    when: MintTime,
) -> Result<(TokenRecord, ParsedToken), StoreError> {
    let now = when.lifetime_from;
    let invalid = StoreError::Invalid;
    model::validate_name("name", &body.name).map_err(invalid)?;
    let description = body.description.unwrap_or_default();
    model::validate_description(&description).map_err(invalid)?;
    if let Some(g) = &body.group {
        model::validate_name("group", g).map_err(invalid)?;
    }
    model::validate_labels(&body.labels).map_err(invalid)?;
    if minter.owner != minter.user {
        model::validate_name("owner", &minter.owner).map_err(invalid)?;
    }
    let expires_at = model::resolve_expiry(
        body.ttl.map(|d| d.0),
        body.expires_at,
        body.no_expiry,
        now,
        policy,
    )
    .map_err(invalid)?;
    if let (Some(nb), Some(exp)) = (body.not_before, expires_at)
        && nb >= exp
    {
        return Err(invalid("not_before must be before the expiry".into()));
    }
    let allowed_cidrs = model::normalise_cidrs(&body.allowed_cidrs).map_err(invalid)?;
    let secret = token::generate(TokenKind::Enrollment)
        .map_err(|e| StoreError::Stopped(format!("no random source: {e}")))?;
    let record = TokenRecord {
        id: secret.id().to_owned(),
        name: body.name,
        description,
        group: body.group,
        labels: body.labels,
        owner: minter.owner,
        max_uses: model::default_max_uses(body.max_uses),
        uses: 0,
        last_used_at: None,
        last_used_by: None,
        expires_at,
        created_at: when.at,
        created_by: minter.user.to_owned(),
        disabled: false,
        revoked_at: None,
        allowed_cidrs,
        not_before: body.not_before,
        hosts: 0,
        tenant: minter.tenant,
        secret_hash: model::hex(&key.hash(secret.expose())),
    };
    Ok((record, secret))
}

/// Checks a PATCH of `current` and turns it into the change to make. The name is immutable
/// (`Ok(Err(()))` tells the caller to answer `name_immutable`).
pub fn patch(
    current: &TokenRecord,
    patch: PatchTokenRequest,
    policy: LifetimePolicy,
    now: Timestamp,
) -> Result<Result<TokenChange, ()>, StoreError> {
    let invalid = StoreError::Invalid;
    if patch.name.as_ref().is_some_and(|n| *n != current.name) {
        return Ok(Err(()));
    }
    if let Some(d) = &patch.description {
        model::validate_description(d).map_err(invalid)?;
    }
    if let Some(l) = &patch.labels {
        model::validate_labels(l).map_err(invalid)?;
    }
    if let Some(Some(at)) = patch.expires_at {
        // In the future, and within the cap counted from the token's creation (stricter than
        // from now, which a change a day would otherwise push on for ever).
        let uncapped = LifetimePolicy {
            max_ttl: None,
            ..policy
        };
        model::check_expiry(at, now, uncapped).map_err(invalid)?;
        check_cap_from_creation(current, at, policy).map_err(invalid)?;
    }
    if patch.expires_at == Some(None) && !policy.allow_no_expiry {
        return Err(invalid("this daemon requires every token to expire".into()));
    }
    Ok(Ok(TokenChange::Patch {
        description: patch.description,
        labels: patch.labels,
        disabled: patch.disabled,
        expires_at: patch.expires_at,
    }))
}

/// The lifetime cap (`max_ttl`) runs from the token's creation, not from the change: otherwise
/// a PATCH a day, each within the cap from its own "now", would keep a token alive for ever.
fn check_cap_from_creation(
    current: &TokenRecord,
    at: Timestamp,
    policy: LifetimePolicy,
) -> Result<(), String> {
    let Some(max) = policy.max_ttl else {
        return Ok(());
    };
    let latest = current
        .created_at
        .checked_add(max)
        .unwrap_or(Timestamp::MAX);
    if at > latest {
        return Err(format!(
            "this daemon caps token lifetimes at {} from its creation: this token may not expire after {}",
            gatepass_protocol::duration::format_duration(max),
            latest.to_rfc3339()
        ));
    }
    Ok(())
}

/// Announces a token's new state to `/v1/events` listeners.
pub(super) fn announce(tx: &mut dyn Tx, rec: &TokenRecord, now: Timestamp) {
    if tx.listening() {
        tx.announce(ChangeEvent {
            kind: ChangeKind::Token,
            token: Some(rec.view(now)),
            token_id: Some(rec.id.clone()),
            host: None,
            audit: None,
        });
    }
}

/// Stores a new token: its name must be free among the stored tokens (revoked, expired and
/// used-up ones included; deleting a token frees its name), and must not be another
/// token's id (look-ups try ids first). Audited as `created`, with what the token grants.
pub fn create(tx: &mut dyn Tx, token: TokenRecord) -> Result<TokenRecord, StoreError> {
    if tx.token_id_by_name(&token.name)?.is_some() {
        return Err(StoreError::NameTaken(token.name.clone()));
    }
    if tx.token(&token.id)?.is_some() {
        return Err(StoreError::Conflict("token id collision; try again".into()));
    }
    if token::looks_like_id(&token.name) && tx.token(&token.name)?.is_some() {
        return Err(StoreError::Conflict(format!(
            "the name {:?} is another token's id; choose another name",
            token.name
        )));
    }
    tx.insert_token(&token)?;
    announce(tx, &token, token.created_at);
    let mut details = BTreeMap::new();
    details.insert("max_uses".to_string(), token.max_uses.to_string());
    details.insert("owner".to_string(), token.owner.clone());
    details.insert(
        "expires_at".to_string(),
        token
            .expires_at
            .map(|t| t.to_rfc3339())
            .unwrap_or_else(|| "never".into()),
    );
    if let Some(g) = &token.group {
        details.insert("group".to_string(), g.clone());
    }
    // What the token hands its hosts, and where and from when it may be redeemed.
    if !token.labels.is_empty() {
        // As a JSON object: a value holding ", k=v" cannot pass for another label.
        details.insert("labels".to_string(), serde_json::to_string(&token.labels)?);
    }
    if !token.allowed_cidrs.is_empty() {
        details.insert("allowed_cidrs".to_string(), token.allowed_cidrs.join(", "));
    }
    if let Some(nb) = token.not_before {
        details.insert("not_before".to_string(), nb.to_rfc3339());
    }
    audit::append(
        tx,
        AuditDraft {
            at: token.created_at,
            actor: token.created_by.clone(),
            action: AuditAction::Created,
            target: token.id.clone(),
            target_name: Some(token.name.clone()),
            details,
            tenant: token.tenant.clone(),
        },
    )?;
    Ok(token)
}

/// An audit action and its details, produced by a token change.
type ActionDetails = (AuditAction, BTreeMap<String, String>);

/// What `change` makes of `before`, and the audit events it owes: `updated` (with the fields
/// that changed), `disabled`/`enabled`.
fn change_details(change: &TokenChange, before: &TokenRecord) -> (Vec<ActionDetails>, TokenRecord) {
    let mut after = before.clone();
    let mut actions = Vec::new();
    match change {
        TokenChange::Revoke => {}
        TokenChange::Patch {
            description,
            labels,
            disabled,
            expires_at,
        } => {
            let mut changed = BTreeMap::new();
            if let Some(d) = description
                && *d != before.description
            {
                changed.insert("description".to_string(), d.clone());
                after.description = d.clone();
            }
            if let Some(l) = labels
                && *l != before.labels
            {
                let text = l
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(",");
                changed.insert("labels".to_string(), text);
                after.labels = l.clone();
            }
            if let Some(e) = expires_at
                && *e != before.expires_at
            {
                let text = e.map(|t| t.to_rfc3339()).unwrap_or_else(|| "never".into());
                changed.insert("expires_at".to_string(), text);
                after.expires_at = *e;
            }
            if !changed.is_empty() {
                actions.push((AuditAction::Updated, changed));
            }
            if let Some(d) = disabled
                && *d != before.disabled
            {
                after.disabled = *d;
                actions.push((
                    if *d {
                        AuditAction::Disabled
                    } else {
                        AuditAction::Enabled
                    },
                    BTreeMap::new(),
                ));
            }
        }
    }
    (actions, after)
}

/// Changes a token: a patch, or revocation (final: a revoked token is never enabled or
/// extended again; revoking it twice changes nothing). A change that changes nothing writes
/// nothing.
pub fn change(
    tx: &mut dyn Tx,
    id: &str,
    change: TokenChange,
    actor: &str,
    now: Timestamp,
) -> Result<TokenRecord, StoreError> {
    let before = tx
        .token(id)?
        .ok_or_else(|| StoreError::NotFound(Missing::Token(id.to_owned())))?;
    if before.revoked_at.is_some() {
        match &change {
            TokenChange::Revoke => return Ok(before),
            TokenChange::Patch {
                disabled: Some(false),
                ..
            }
            | TokenChange::Patch {
                expires_at: Some(_),
                ..
            } => {
                return Err(StoreError::Conflict(format!(
                    "token {} is revoked; revocation is final",
                    before.name
                )));
            }
            TokenChange::Patch { .. } => {}
        }
    }
    let (mut actions, mut after) = change_details(&change, &before);
    if change == TokenChange::Revoke {
        after.revoked_at = Some(now);
        let mut d = BTreeMap::new();
        d.insert("hosts".to_string(), before.hosts.to_string());
        actions.push((AuditAction::Revoked, d));
    }
    if actions.is_empty() {
        return Ok(before);
    }
    tx.update_token(&after)?;
    announce(tx, &after, now);
    for (action, details) in actions {
        audit::append(
            tx,
            AuditDraft {
                at: now,
                actor: actor.to_owned(),
                action,
                target: after.id.clone(),
                target_name: Some(after.name.clone()),
                details,
                tenant: after.tenant.clone(),
            },
        )?;
    }
    Ok(after)
}

/// Deletes a token: gone from lists, its name free again; its hosts and audit trail stay.
pub fn delete(
    tx: &mut dyn Tx,
    id: &str,
    actor: &str,
    now: Timestamp,
) -> Result<TokenRecord, StoreError> {
    let rec = tx
        .token(id)?
        .ok_or_else(|| StoreError::NotFound(Missing::Token(id.to_owned())))?;
    tx.remove_token(&rec)?;
    let mut details = BTreeMap::new();
    details.insert("status".to_string(), rec.status(now).to_string());
    details.insert("uses".to_string(), rec.uses.to_string());
    details.insert("hosts".to_string(), rec.hosts.to_string());
    audit::append(
        tx,
        AuditDraft {
            at: now,
            actor: actor.to_owned(),
            action: AuditAction::Deleted,
            target: rec.id.clone(),
            target_name: Some(rec.name.clone()),
            details,
            tenant: rec.tenant.clone(),
        },
    )?;
    if tx.listening() {
        // The token as it was goes with the event inside the daemon (and between daemons), so
        // that it reaches those who saw the token (its tenant and owner decide); subscribers
        // are sent its id alone (`api::admin::events`).
        tx.announce(ChangeEvent {
            kind: ChangeKind::TokenDeleted,
            token: Some(rec.view(now)),
            token_id: Some(rec.id.clone()),
            host: None,
            audit: None,
        });
    }
    Ok(rec)
}
