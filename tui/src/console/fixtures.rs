//! Test data: tokens, hosts and audit events with fixed ids and times, so screens snapshot the
//! same on every machine.

use std::collections::BTreeMap;

use gatepass_protocol::{AuditEvent, Host, MaxUses, Role, Timestamp, Token, TokenStatus, WhoAmI};

/// 2026-11-25T14:20:00Z: "now" in every console test.
pub const NOW: Timestamp = Timestamp(1_795_626_000);

/// An active token named `name` with `uses` uses of 10, created a day before `NOW`.
pub fn token(name: &str, uses: u64) -> Token {
    let id: String = format!("{name:x<12}")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { 'x' })
        .take(12)
        .collect();
    let mut labels = BTreeMap::new();
    labels.insert("env".to_owned(), "prod".to_owned());
    Token {
        prefix: format!("gpt_{id}"),
        id,
        name: name.to_owned(),
        description: format!("rollout of {name}"),
        group: Some("web".to_owned()),
        labels,
        owner: "alice".to_owned(),
        max_uses: MaxUses::Limited(10),
        uses,
        last_used_at: (uses > 0).then_some(Timestamp(NOW.0 - 300)),
        last_used_by: (uses > 0).then(|| "host:web-01@10.0.0.5".to_owned()),
        expires_at: Some(Timestamp(NOW.0 + 3 * 86_400)),
        created_at: Timestamp(NOW.0 - 86_400),
        created_by: "alice".to_owned(),
        disabled: false,
        revoked_at: None,
        allowed_cidrs: Vec::new(),
        not_before: None,
        hosts: uses,
        status: TokenStatus::Active,
    }
}

/// A varied list: every status, unlimited and single-use tokens, a removed host.
pub fn token_list() -> Vec<Token> {
    let mut v = Vec::new();
    let mut a = token("web-rollout", 3);
    a.max_uses = MaxUses::Unlimited;
    a.uses = 7;
    a.hosts = 7;
    v.push(a);
    let mut b = token("db-primary", 1);
    b.max_uses = MaxUses::Limited(1);
    b.status = TokenStatus::Exhausted;
    b.group = Some("db".into());
    v.push(b);
    let mut c = token("cache-nodes", 2);
    c.status = TokenStatus::Disabled;
    c.disabled = true;
    c.hosts = 1;
    c.owner = "bob".into();
    v.push(c);
    let mut d = token("old-batch", 0);
    d.status = TokenStatus::Revoked;
    d.revoked_at = Some(Timestamp(NOW.0 - 7200));
    d.group = None;
    v.push(d);
    let mut e = token("lab-expired", 0);
    e.status = TokenStatus::Expired;
    e.expires_at = Some(Timestamp(NOW.0 - 3600));
    e.description = String::new();
    v.push(e);
    let mut f = token("edge-soon", 0);
    f.expires_at = Some(Timestamp(NOW.0 + 1800));
    f.max_uses = MaxUses::Limited(1);
    v.push(f);
    v
}

pub fn host(name: &str, token: &Token, n: i64) -> Host {
    Host {
        id: format!("h{n:011}"),
        hostname: name.to_owned(),
        token_id: token.id.clone(),
        token_name: token.name.clone(),
        group: token.group.clone(),
        labels: token.labels.clone(),
        owner: token.owner.clone(),
        source_addr: format!("10.0.0.{n}"),
        enrolled_at: Timestamp(NOW.0 - 600 * n),
        key_fingerprint: Some(format!("sha256:{n:064}")),
        facts: BTreeMap::new(),
    }
}

pub fn event(seq: u64, action: &str, target: &Token) -> AuditEvent {
    AuditEvent {
        seq,
        at: Timestamp(NOW.0 - 60 * (100 - seq as i64)),
        actor: "alice".to_owned(),
        action: action.into(),
        target: target.id.clone(),
        target_name: Some(target.name.clone()),
        details: BTreeMap::new(),
        prev_hash: format!("{seq:064}"),
    }
}

pub fn who(role: Role) -> WhoAmI {
    WhoAmI {
        user: "alice".to_owned(),
        uid: Some(1000),
        role,
        daemon_version: "0.1.0".to_owned(),
        redeem_url: "https://gate.example:8443".to_owned(),
        ca_pin: format!("sha256:{}", "ab".repeat(32)),
        default_ttl_seconds: 3 * 86_400,
        allow_no_expiry: true,
    }
}
