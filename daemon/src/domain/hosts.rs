//! Enrolled hosts: removing one from the records (its token's host count drops; the uses it
//! spent do not come back), audited as `host_removed` on its token's trail.

use std::collections::BTreeMap;

use gatepass_protocol::Timestamp;

use super::{AuditDraft, HostRecord, Tx, audit, tokens};
use crate::error::{Missing, StoreError};

pub fn remove(
    tx: &mut dyn Tx,
    id: &str,
    actor: &str,
    now: Timestamp,
) -> Result<HostRecord, StoreError> {
    let host = tx
        .host(id)?
        .ok_or_else(|| StoreError::NotFound(Missing::Host(id.to_owned())))?;
    let h = &host.host;
    tx.remove_host(&host)?;
    if let Some(mut t) = tx.token(&h.token_id)? {
        t.hosts = t.hosts.saturating_sub(1);
        tx.update_token(&t)?;
        tokens::announce(tx, &t, now);
    }
    let mut details = BTreeMap::new();
    details.insert("host_id".to_string(), h.id.clone());
    details.insert("hostname".to_string(), h.hostname.clone());
    audit::append(
        tx,
        AuditDraft {
            at: now,
            actor: actor.to_owned(),
            action: gatepass_protocol::AuditAction::HostRemoved,
            target: h.token_id.clone(),
            target_name: Some(h.token_name.clone()),
            details,
            tenant: h.tenant.clone(),
        },
    )?;
    Ok(host)
}
