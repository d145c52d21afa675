//! Personal API tokens (`gpa_…`) for the HTTPS admin listener: `issue` checks a request and
//! builds the record (hashing the new secret); `create` and `delete` are the rules run in the
//! transaction, audited as `api_token_created` and `api_token_deleted`.

use std::collections::BTreeMap;

use gatepass_protocol::token::{self, ParsedToken, TokenKind};
use gatepass_protocol::{ApiToken, CreateApiTokenRequest, Timestamp};

use super::model;
use super::{ApiTokenRecord, AuditDraft, Tx, audit};
use crate::error::{Missing, StoreError};
use crate::secrets::SecretKey;

/// An API token lives 14 days unless asked otherwise, and at least one day.
pub const DEFAULT_TTL: u64 = 14 * 86_400;
pub const MIN_TTL: u64 = 86_400;

/// Checks a create request of `user` and builds the API token it asks for, with a new secret:
/// the record (holding only the secret's keyed hash) and the secret, to be shown once.
pub fn issue(
    body: CreateApiTokenRequest,
    user: &str,
    tenant: &str,
    key: &SecretKey,
    now: Timestamp,
) -> Result<(ApiTokenRecord, ParsedToken), StoreError> {
    let invalid = |m: &str| StoreError::Invalid(m.to_owned());
    model::validate_name("name", &body.name).map_err(StoreError::Invalid)?;
    let remark = body.remark.unwrap_or_default();
    model::validate_description(&remark).map_err(StoreError::Invalid)?;
    let expires_at = match (body.ttl, body.expires_at) {
        (Some(_), Some(_)) => return Err(invalid("give at most one of ttl and expires_at")),
        (Some(t), None) => now
            .checked_add(t.0)
            .ok_or_else(|| invalid("ttl reaches beyond the year 9999"))?,
        (None, Some(at)) => at,
        (None, None) => now
            .checked_add(DEFAULT_TTL)
            .ok_or_else(|| invalid("the clock is past the year 9999"))?,
    };
    if expires_at.0 < now.0.saturating_add(MIN_TTL as i64) {
        return Err(invalid("an API token must live at least 1 day"));
    }
    // A token pasted into a restriction would be stored and shown: refused as in a name. A
    // path is also read percent-decoded, as the router reads a request's path.
    if let Some(p) = &body.path_prefix {
        model::no_token("path_prefix", p).map_err(StoreError::Invalid)?;
        let decoded = percent_encoding::percent_decode_str(p).decode_utf8_lossy();
        model::no_token("path_prefix", &decoded).map_err(StoreError::Invalid)?;
    }
    if let Some(r) = &body.referrer {
        model::no_token("referrer", r).map_err(StoreError::Invalid)?;
    }
    if let Some(p) = &body.path_prefix
        && (!p.starts_with('/')
            || p.len() > 256
            || !p.is_ascii()
            || p.chars().any(char::is_control))
    {
        return Err(invalid(
            "path_prefix must be an ASCII path starting with / (at most 256 characters)",
        ));
    }
    if let Some(r) = &body.referrer
        && (r.is_empty()
            || r.len() > 253
            || !r
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-".contains(&b)))
    {
        return Err(invalid(
            "referrer must be a domain (suffix) such as ci.example.org",
        ));
    }
    let secret = token::generate(TokenKind::Api)
        .map_err(|e| StoreError::Stopped(format!("no random source: {e}")))?;
    let record = ApiTokenRecord {
        token: ApiToken {
            id: secret.id().to_owned(),
            prefix: secret.display_prefix(),
            name: body.name,
            user: user.to_owned(),
            created_at: now,
            expires_at,
            path_prefix: body.path_prefix,
            referrer: body.referrer.map(|r| r.to_ascii_lowercase()),
            remark,
            scope: body.scope.unwrap_or_default(),
            tenant: tenant.to_owned(),
        },
        secret_hash: model::hex(&key.hash(secret.expose())),
    };
    Ok((record, secret))
}

/// Whether a request whose `Referer` names `host` is inside a referrer restriction: the host is
/// the restriction's domain or one of its subdomains (a dot boundary: `example.org` admits
/// `ci.example.org`, never `notexample.org`). Case and a final dot do not matter.
pub fn referrer_allows(restriction: &str, host: &str) -> bool {
    let want = restriction.trim_start_matches('.').trim_end_matches('.');
    let host = host.trim_end_matches('.');
    if want.is_empty() || host.len() < want.len() {
        return false;
    }
    let (head, tail) = host.split_at(host.len() - want.len());
    tail.eq_ignore_ascii_case(want) && (head.is_empty() || head.ends_with('.'))
}

/// Stores a new API token: its name must be free among its user's API tokens.
pub fn create(tx: &mut dyn Tx, token: ApiTokenRecord) -> Result<ApiTokenRecord, StoreError> {
    let t = &token.token;
    if tx.api_token_id_by_name(&t.user, &t.name)?.is_some() {
        return Err(StoreError::NameTaken(t.name.clone()));
    }
    if tx.api_token(&t.id)?.is_some() {
        return Err(StoreError::Conflict("token id collision; try again".into()));
    }
    tx.insert_api_token(&token)?;
    let t = &token.token;
    let mut details = BTreeMap::new();
    details.insert("name".to_string(), t.name.clone());
    details.insert("expires_at".to_string(), t.expires_at.to_rfc3339());
    details.insert("scope".to_string(), t.scope.as_str().to_string());
    if let Some(p) = &t.path_prefix {
        details.insert("path_prefix".to_string(), p.clone());
    }
    if let Some(r) = &t.referrer {
        details.insert("referrer".to_string(), r.clone());
    }
    audit::append(
        tx,
        AuditDraft {
            at: t.created_at,
            actor: t.user.clone(),
            action: gatepass_protocol::AuditAction::ApiTokenCreated,
            target: t.id.clone(),
            target_name: Some(t.name.clone()),
            details,
            tenant: t.tenant.clone(),
        },
    )?;
    Ok(token)
}

/// Deletes an API token: it stops working at once.
pub fn delete(
    tx: &mut dyn Tx,
    id: &str,
    actor: &str,
    now: Timestamp,
) -> Result<ApiTokenRecord, StoreError> {
    let rec = tx
        .api_token(id)?
        .ok_or_else(|| StoreError::NotFound(Missing::ApiToken(id.to_owned())))?;
    tx.remove_api_token(&rec)?;
    let t = &rec.token;
    let mut details = BTreeMap::new();
    details.insert("user".to_string(), t.user.clone());
    audit::append(
        tx,
        AuditDraft {
            at: now,
            actor: actor.to_owned(),
            action: gatepass_protocol::AuditAction::ApiTokenDeleted,
            target: t.id.clone(),
            target_name: Some(t.name.clone()),
            details,
            tenant: t.tenant.clone(),
        },
    )?;
    Ok(rec)
}

#[cfg(test)]
mod tests {
    use super::referrer_allows;

    #[test]
    fn a_referrer_matches_its_domain_and_subdomains_at_a_dot_boundary() {
        for (want, host) in [
            ("example.org", "example.org"),
            ("example.org", "ci.example.org"),
            ("example.org", "a.b.Example.ORG"),
            (".example.org", "ci.example.org"),
            ("example.org", "example.org."),
        ] {
            assert!(referrer_allows(want, host), "{want} should admit {host}");
        }
        for (want, host) in [
            ("example.org", "notexample.org"),
            ("example.org", "example.org.evil.net"),
            ("example.org", "org"),
            ("example.org", ""),
            ("", "example.org"),
            ("ci.example.org", "example.org"),
        ] {
            assert!(!referrer_allows(want, host), "{want} should refuse {host}");
        }
    }
}
