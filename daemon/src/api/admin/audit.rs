//! The audit log: reading it (admins and auditors all of it; operators their own actions and
//! their own tokens' trails, filtered inside the read) and verifying its hash chain.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State as S};
use std::collections::BTreeSet;

use gatepass_protocol::token;
use gatepass_protocol::{AuditEvent, AuditQuery};

use super::{Routes, Verb, query, resolve};
use crate::api::access::Caller;
use crate::api::{ApiError, State, blocking};
use crate::domain::{self, AuditCheck};
use crate::error::StoreError;

pub(super) fn routes(r: Routes) -> Routes {
    r.add(Verb::Get, "/v1/audit", audit)
        .add(Verb::Get, "/v1/audit/verify", audit_verify)
}

async fn audit(
    caller: Caller,
    S(state): S<Arc<State>>,
    q: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Json<Vec<gatepass_protocol::AuditEvent>>, ApiError> {
    let mut q = query(q)?;
    if q.limit == Some(0) {
        return Err(ApiError::bad("limit must be at least 1"));
    }
    caller.check_tenant(q.tenant.as_deref())?;
    // A token may be named by its name while it lives; after deletion only its id finds it.
    if let Some(t) = &q.token
        && !token::looks_like_id(t)
    {
        q.token = Some(resolve(&state, &caller, t).await?.id);
    }
    let tenant = q.tenant.clone();
    if caller.sees_all() && tenant.is_none() {
        return Ok(Json(blocking(&state, move |s| s.audit(&q)).await?));
    }
    // The caller's own actions and the trails of their own tokens and API tokens (what an
    // operator reads), found through the audit index: the fast read for those who see no
    // tenant whole.
    let user = caller.user.clone();
    let own = move |s: &dyn crate::domain::Store| -> Result<BTreeSet<String>, StoreError> {
        let mut targets: BTreeSet<String> = s
            .list_tokens()?
            .into_iter()
            .filter(|t| t.owner == user)
            .map(|t| t.id)
            .collect();
        targets.extend(
            s.list_api_tokens(Some(&user))?
                .into_iter()
                .map(|t| t.token.id),
        );
        Ok(targets)
    };
    if tenant.is_none() && !caller.tenants.iter().any(|(t, _)| caller.sees_tenant(t)) {
        let actor = caller.user.clone();
        let events = blocking(&state, move |s| {
            let scope = domain::audit::AuditScope {
                actor,
                targets: own(s)?,
            };
            s.audit_scoped(&q, Some(&scope))
        })
        .await?;
        return Ok(Json(events));
    }
    // Otherwise, the log read page by page, newest first, keeping what the caller may see:
    // every event of the tenants they see whole, and their own in the others.
    let events = blocking(&state, move |s| {
        let targets = own(s)?;
        let keeps = |e: &AuditEvent| {
            tenant.as_ref().is_none_or(|t| *t == e.tenant)
                && (caller.sees_tenant(&e.tenant)
                    || e.actor == caller.user
                    || targets.contains(&e.target))
        };
        filtered_pages(s, q, &keeps)
    })
    .await?;
    Ok(Json(events))
}

/// The newest events of `q` that `keeps` admits, up to its limit and oldest first, as the
/// engines answer: the log is read a page of `limit` at a time, each below the oldest of the
/// one before, until the limit is reached or the log (or the query's range) ends.
fn filtered_pages(
    s: &dyn crate::domain::Store,
    mut q: AuditQuery,
    keeps: &dyn Fn(&AuditEvent) -> bool,
) -> Result<Vec<AuditEvent>, StoreError> {
    let want = q.limit.unwrap_or(1000).clamp(1, 100_000);
    q.limit = Some(want);
    let mut kept: Vec<AuditEvent> = Vec::new();
    loop {
        let page = s.audit(&q)?;
        let full = page.len() >= want;
        let oldest = page.first().map(|e| e.seq);
        let mut older: Vec<AuditEvent> = page.into_iter().filter(|e| keeps(e)).collect();
        older.append(&mut kept);
        kept = older;
        match oldest {
            Some(seq) if full && kept.len() < want && seq > 1 => q.before = Some(seq),
            _ => break,
        }
    }
    let extra = kept.len().saturating_sub(want);
    kept.drain(..extra);
    Ok(kept)
}

/// `GET /v1/audit/verify`: the whole chain is checked, whoever asks; a caller who does not see
/// every tenant is shown the events of the others by position and hash alone, and no table
/// disagreement that names another tenant's token or host.
async fn audit_verify(
    caller: Caller,
    S(state): S<Arc<State>>,
) -> Result<Json<AuditCheck>, ApiError> {
    caller.require_overview(&state).await?;
    let check = blocking(&state, move |s| {
        let check = s.verify_audit()?;
        if caller.sees_all() {
            return Ok(check);
        }
        // What names an object the caller does not see: ids and quoted names.
        let mut hidden: Vec<String> = Vec::new();
        for t in s.list_tokens()? {
            if !caller.sees_tenant(&t.tenant) {
                hidden.push(t.id);
                hidden.push(format!("{:?}", t.name));
            }
        }
        for h in s.list_hosts(None)? {
            if !caller.sees_tenant(&h.host.tenant) {
                hidden.push(h.host.id);
            }
        }
        Ok(redact(check, &caller, &hidden))
    })
    .await?;
    Ok(Json(check))
}

/// `check` as `caller` may read it: the events of tenants they do not see by position and hash
/// alone, and each table disagreement that names one of `hidden` (ids and quoted names of
/// another tenant's objects) said without naming it. The verdict is unchanged: a break in
/// another tenant's events is a break.
fn redact(mut check: AuditCheck, caller: &Caller, hidden: &[String]) -> AuditCheck {
    for link in &mut check.at_break {
        if link
            .event
            .as_ref()
            .is_some_and(|e| !caller.sees_tenant(&e.tenant))
        {
            link.event = None;
            link.other_tenant = true;
        }
    }
    let mut redacted = false;
    for line in &mut check.tables {
        if hidden.iter().any(|h| line.contains(h.as_str())) {
            *line = "a record of another tenant disagrees with the audit log".to_owned();
            redacted = true;
        }
    }
    if redacted
        && let Some(p) = &check.problem
        && p.starts_with(TABLES_DISAGREE)
        && let Some(first) = check.tables.first()
    {
        check.problem = Some(format!("{TABLES_DISAGREE}{first}"));
    }
    check
}

/// How a verdict on the tables begins (`store::*::verify`), followed by the first disagreement.
const TABLES_DISAGREE: &str = "the tables disagree with the audit log: ";

#[cfg(test)]
mod tests {
    use gatepass_protocol::{AuditAction, AuditEvent, Role, Timestamp};

    use super::*;
    use crate::domain::ChainLink;

    fn event(seq: u64, tenant: &str) -> AuditEvent {
        let (target, name) = match tenant {
            "acme" => ("AcmeTok0001x", "acme-web"),
            _ => ("GlobTok0001x", "globex-db"),
        };
        AuditEvent {
            seq,
            at: Timestamp(1_800_000_000),
            actor: format!("{tenant}-admin"),
            action: AuditAction::Created,
            target: target.into(),
            target_name: Some(name.into()),
            details: Default::default(),
            prev_hash: "0".repeat(64),
            tenant: tenant.into(),
        }
    }

    fn link(seq: u64, tenant: &str) -> ChainLink {
        ChainLink {
            seq,
            hash: format!("{seq:064}"),
            event: Some(event(seq, tenant)),
            other_tenant: false,
        }
    }

    fn caller(tenants: &[(&str, Role)], global: Option<Role>) -> Caller {
        Caller {
            user: "gus".into(),
            uid: Some(61_021),
            role: Role::Admin,
            tenants: tenants.iter().map(|(t, r)| (t.to_string(), *r)).collect(),
            global,
            api_token: None,
            request: "GET /v1/audit/verify".into(),
        }
    }

    fn broken() -> AuditCheck {
        AuditCheck {
            events: 6,
            first_bad: Some(7),
            problem: Some("event 7 does not follow from event 6".into()),
            tables: vec![
                "token \"acme-web\" (AcmeTok0001x): uses is 0 but the audit log holds 1".into(),
                "token \"globex-db\" (GlobTok0001x): uses is 0 but the audit log holds 1".into(),
            ],
            at_break: vec![link(6, "globex"), link(7, "acme")],
        }
    }

    /// A break in another tenant's events is still a break, said by position and hash; that
    /// tenant's events and records are not named.
    #[test]
    fn another_tenants_events_are_shown_by_position_and_hash_alone() {
        let gus = caller(&[("globex", Role::Admin)], None);
        let hidden = ["AcmeTok0001x".to_string(), "\"acme-web\"".to_string()];
        let check = redact(broken(), &gus, &hidden);
        assert_eq!(check.first_bad, Some(7));
        assert!(!check.ok());
        let seven = &check.at_break[1];
        assert_eq!(
            (seven.seq, seven.hash.as_str(), seven.other_tenant),
            (7, format!("{:064}", 7).as_str(), true)
        );
        assert!(seven.event.is_none());
        assert!(check.at_break[0].event.is_some() && !check.at_break[0].other_tenant);
        let text = serde_json::to_string(&check).unwrap();
        for secret in ["acme", "AcmeTok0001x"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert!(text.contains("globex-db"), "{text}");
        // Those who see every tenant read it all.
        let ada = caller(
            &[("acme", Role::Admin), ("globex", Role::Admin)],
            Some(Role::Admin),
        );
        assert_eq!(redact(broken(), &ada, &[]), broken());
    }

    #[test]
    fn a_table_disagreement_of_another_tenant_is_said_without_naming_it() {
        let gus = caller(&[("globex", Role::Auditor)], None);
        let mut check = broken();
        check.first_bad = None;
        check.at_break.clear();
        check.problem = Some(format!("{TABLES_DISAGREE}{}", check.tables[0]));
        let hidden = ["AcmeTok0001x".to_string(), "\"acme-web\"".to_string()];
        let check = redact(check, &gus, &hidden);
        assert!(!serde_json::to_string(&check).unwrap().contains("acme"));
        assert_eq!(
            check.problem.as_deref(),
            Some(
                "the tables disagree with the audit log: a record of another tenant disagrees \
                 with the audit log"
            )
        );
    }
}
