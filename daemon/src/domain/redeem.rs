//! A redemption's rules, run inside one transaction: find the token, let a retry by the same
//! host key within the grace window have its enrollment back, check the token
//! (`model::check_redeem`), spend a use, record the host and the audit event. A refusal writes
//! nothing: its audit event goes back with it, for the caller to write through
//! `refusals::RefusalLog`, which gathers repeats of one refusal into one event.
//!
//! The outcome depends only on the transaction's state and the attempt (no clock, no
//! randomness: the time, the host id and the certificate come in the attempt), so an engine
//! may record the attempt rather than its writes and run it again to redo it.

use gatepass_protocol::AuditAction;

use std::collections::BTreeMap;

use gatepass_protocol::{ChangeEvent, ChangeKind, Host};

use super::model;
use super::{
    AuditDraft, Denial, HostRecord, RedeemAttempt, RedeemOutcome, TokenRecord, Tx, audit, tokens,
};
use crate::error::StoreError;

pub fn redeem(tx: &mut dyn Tx, a: RedeemAttempt) -> Result<RedeemOutcome, StoreError> {
    let mut details = BTreeMap::new();
    details.insert("hostname".to_string(), a.hostname.clone());
    details.insert("source".to_string(), a.source.to_string());
    // The attempt's audit event, by the host, about the token (named when it exists).
    let attempt = |action, token: Option<&TokenRecord>, details| AuditDraft {
        at: a.now,
        actor: format!("host:{}@{}", a.hostname, a.source),
        action,
        target: token.map_or_else(|| a.token_id.clone(), |t| t.id.clone()),
        target_name: token.map(|t| t.name.clone()),
        details,
        // An unknown token's refusal belongs to no tenant's token: it is the daemon's.
        tenant: token.map_or_else(gatepass_protocol::default_tenant, |t| t.tenant.clone()),
    };
    let Some(mut rec) = tx.token(&a.token_id)? else {
        details.insert("reason".into(), "unknown_token".into());
        return Ok(RedeemOutcome::Denied(
            Denial::Unauthorized {
                reason: "unknown_token",
            },
            Box::new(attempt(AuditAction::RedeemFailed, None, details)),
        ));
    };
    let secret_ok = crate::secrets::hash_eq(
        model::hex(&a.presented_hash).as_bytes(),
        rec.secret_hash.as_bytes(),
    );
    // A retry by the same host key within the grace window gets its enrollment back.
    if let (true, Some(fp)) = (secret_ok, &a.key_fingerprint)
        && let Some(host) = tx.host_by_key(&rec.id, fp)?
        && model::replay_allowed(&rec, host.host.enrolled_at, a.grace_seconds, a.now)
    {
        details.insert("host_id".into(), host.host.id.clone());
        audit::append(
            tx,
            attempt(AuditAction::RedeemReplayed, Some(&rec), details),
        )?;
        return Ok(RedeemOutcome::Replayed {
            host: Box::new(host),
        });
    }
    if let Err(denial) = model::check_redeem(&rec, &a.presented_hash, a.source, a.now) {
        details.insert("reason".into(), denial.reason().into());
        let event = attempt(AuditAction::RedeemFailed, Some(&rec), details);
        return Ok(RedeemOutcome::Denied(denial, Box::new(event)));
    }
    rec.uses += 1;
    rec.hosts += 1;
    rec.last_used_at = Some(a.now);
    rec.last_used_by = Some(format!("{} ({})", a.hostname, a.source));
    details.insert("host_id".into(), a.host_id.clone());
    details.insert("uses".into(), format!("{}/{}", rec.uses, rec.max_uses));
    let redeemed = attempt(AuditAction::Redeemed, Some(&rec), details);
    let host = HostRecord {
        host: Host {
            id: a.host_id.clone(),
            hostname: a.hostname.clone(),
            token_id: rec.id.clone(),
            token_name: rec.name.clone(),
            group: rec.group.clone(),
            labels: rec.labels.clone(),
            owner: rec.owner.clone(),
            source_addr: a.source.to_string(),
            enrolled_at: a.now,
            key_fingerprint: a.key_fingerprint.clone(),
            facts: a.facts,
            tenant: rec.tenant.clone(),
        },
        cert_pem: a.cert_pem,
    };
    tx.update_token(&rec)?;
    tokens::announce(tx, &rec, a.now);
    tx.insert_host(&host)?;
    audit::append(tx, redeemed)?;
    if tx.listening() {
        tx.announce(ChangeEvent {
            kind: ChangeKind::Host,
            token: None,
            token_id: Some(rec.id.clone()),
            host: Some(host.host.clone()),
            audit: None,
        });
    }
    Ok(RedeemOutcome::Enrolled {
        host: Box::new(host),
        token: Box::new(rec),
    })
}
