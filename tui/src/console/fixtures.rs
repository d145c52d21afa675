//! Test data: tokens, hosts and audit events with fixed ids and times, so screens snapshot the
//! same on every machine.

use std::collections::BTreeMap;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use gatepass_protocol::{
    AuditEvent, CreateTokenResponse, Host, MaxUses, Role, TenantSummary, Timestamp, Token,
    TokenStatus, WhoAmI,
};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::app::{App, Conn, Msg, update};
use super::draw::draw;
use super::theme::Theme;

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
        tenant: gatepass_protocol::default_tenant(),
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
        tenant: token.tenant.clone(),
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
        tenant: target.tenant.clone(),
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

// Driving the console as the tests do: the app with the fixtures loaded, key presses through
// `update`, and the screen drawn on a test backend.

pub(crate) fn app() -> App {
    let mut app = App::new(
        "unix:/run/gatepass/gatepass.sock".into(),
        false,
        Theme { color: true },
        NOW,
    );
    app.conn = Conn::Live;
    update(&mut app, Msg::Connected(who(Role::Admin)));
    let tokens = token_list();
    let hosts = vec![
        host("web-01", &tokens[0], 1),
        host("web-02", &tokens[0], 2),
        host("db-01", &tokens[1], 3),
    ];
    let audit = vec![
        event(1, "created", &tokens[0]),
        event(2, "redeemed", &tokens[0]),
        event(3, "revoked", &tokens[3]),
    ];
    update(&mut app, Msg::Tokens(tokens));
    update(&mut app, Msg::Hosts(hosts));
    update(&mut app, Msg::Audit(audit));
    update(&mut app, Msg::ApiTokens(Ok(Vec::new())));
    app
}

/// A tenant as `GET /v1/tenants` lists it.
pub fn tenant(name: &str, role: Role, tokens: u64, hosts: u64, members: &[&str]) -> TenantSummary {
    TenantSummary {
        name: name.to_owned(),
        role,
        tokens,
        hosts,
        members: members.iter().map(|m| (*m).to_owned()).collect(),
    }
}

/// Alice's tenants in the tenant tests: admin of `acme` (members alice, bob, carol, dave),
/// operator in `globex` (no members listed: she mints only for herself there).
pub fn tenant_list() -> Vec<TenantSummary> {
    vec![
        tenant(
            "acme",
            Role::Admin,
            3,
            2,
            &["alice", "bob", "carol", "dave"],
        ),
        tenant("globex", Role::Operator, 3, 1, &[]),
    ]
}

/// The app as `app()` has it, with `tenants` open to alice and the fixtures' tokens (and their
/// hosts and events) dealt between them in turn: `web-rollout` and `cache-nodes` in the first.
pub(crate) fn app_with_tenants(tenants: Vec<TenantSummary>) -> App {
    let mut app = app();
    let names: Vec<String> = tenants.iter().map(|t| t.name.clone()).collect();
    update(&mut app, Msg::Tenants(Some(tenants)));
    let mut tokens = token_list();
    for (i, t) in tokens.iter_mut().enumerate() {
        t.tenant = names[i % names.len()].clone();
    }
    let hosts = vec![
        host("web-01", &tokens[0], 1),
        host("web-02", &tokens[0], 2),
        host("db-01", &tokens[1], 3),
    ];
    let audit = vec![
        event(1, "created", &tokens[0]),
        event(2, "redeemed", &tokens[0]),
        event(3, "revoked", &tokens[3]),
    ];
    update(&mut app, Msg::Tokens(tokens));
    update(&mut app, Msg::Hosts(hosts));
    update(&mut app, Msg::Audit(audit));
    app
}

/// Alice in `acme` and `globex`, showing all tenants (as the console opens for her).
pub(crate) fn tenants_app() -> App {
    app_with_tenants(tenant_list())
}

/// Alice with `acme` alone: the view is acme's.
pub(crate) fn one_tenant_app() -> App {
    app_with_tenants(vec![tenant(
        "acme",
        Role::Admin,
        6,
        3,
        &["alice", "bob", "carol", "dave"],
    )])
}

pub(crate) fn key(app: &mut App, code: KeyCode) {
    update(app, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)));
}

pub(crate) fn ch(app: &mut App, c: char) {
    key(app, KeyCode::Char(c));
}

pub(crate) fn ctrl(app: &mut App, c: char) {
    update(
        app,
        Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)),
    );
}

pub(crate) fn typed(app: &mut App, s: &str) {
    for c in s.chars() {
        ch(app, c);
    }
}

pub(crate) fn terminal(app: &mut App, w: u16, h: u16) -> Terminal<TestBackend> {
    update(app, Msg::Resize(w, h));
    app.refresh();
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| draw(f, app)).unwrap();
    t
}

pub(crate) fn screen(app: &mut App, w: u16, h: u16) -> String {
    let t = terminal(app, w, h);
    let buf = t.backend().buffer();
    let mut out = String::new();
    for y in 0..h {
        let mut line = String::new();
        for x in 0..w {
            line.push_str(buf[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

pub(crate) const FAKE_SECRET: &str = "gpt_AbCdEfGh1234ZyXwVuTsRqPoNmLkJiHgFe012345";

pub(crate) fn revealed() -> App {
    let mut a = app();
    let mut t = super::fixtures::token("fresh-token", 0);
    t.max_uses = gatepass_protocol::MaxUses::Limited(1);
    let resp = CreateTokenResponse {
        token: t,
        secret: FAKE_SECRET.into(),
        join_command: format!(
            "gatepass redeem --server https://gate.example:8443 --ca-pin sha256:{} --out \
             /etc/gatepass",
            "0aecc1d8".repeat(8)
        ),
    };
    update(&mut a, Msg::Created(Box::new(resp)));
    a
}

/// The app with the delete dialog open on edge-soon (active: its name must be typed) and
/// `typed` typed into it.
pub(crate) fn typed_delete(typed_text: &str) -> App {
    let mut a = app();
    key(&mut a, KeyCode::Down);
    key(&mut a, KeyCode::Down);
    ch(&mut a, 'd');
    assert_eq!(a.ctx(), super::keymap::Ctx::TypedDialog);
    typed(&mut a, typed_text);
    a
}

pub(crate) fn enter(a: &mut App) -> Vec<super::app::Cmd> {
    update(
        a,
        Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)),
    )
}

pub(crate) fn paste(app: &mut App, text: &str) {
    update(
        app,
        Msg::Paste(super::app::Pasted(zeroize::Zeroizing::new(text.to_owned()))),
    );
}

pub(crate) fn upd(a: &mut App, code: KeyCode) -> Vec<super::app::Cmd> {
    update(a, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

/// Opens the selected token's details, loaded with the hosts and audit events `make` gives.
pub(crate) fn open_details(
    a: &mut App,
    make: impl FnOnce(
        &gatepass_protocol::Token,
    ) -> (
        Vec<gatepass_protocol::Host>,
        Vec<gatepass_protocol::AuditEvent>,
    ),
) {
    key(a, KeyCode::Enter);
    let Some(super::app::Modal::Detail(d)) = &a.modal else {
        panic!("no details");
    };
    let id = d.id.clone();
    let t = a
        .tokens
        .selected()
        .cloned()
        .unwrap_or_else(|| panic!("no token"));
    let (hosts, audit) = make(&t);
    update(
        a,
        Msg::DetailLoaded {
            id,
            hosts: Ok(hosts),
            audit: Ok(audit),
        },
    );
}

/// The daemon's message that `t` changed (as `/v1/events` sends it).
pub(crate) fn token_changed(t: Token) -> Msg {
    Msg::Change(Box::new(gatepass_protocol::ChangeEvent {
        kind: gatepass_protocol::ChangeKind::Token,
        token: Some(t),
        token_id: None,
        host: None,
        audit: None,
    }))
}
