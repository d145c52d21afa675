//! The admin router in process: `admin_router(state).oneshot(request)`, no socket, on a
//! `ManualClock`. The table `TABLE` holds, for every endpoint, what each role is answered when
//! it asks about objects another user (an admin) made; `every_endpoint_has_a_row` holds the table
//! against what the router answers (`endpoints()`), so a new endpoint cannot be added without a
//! row. The real binaries (`tests/it`) are kept for TLS, real Unix users and crashes.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use gatepass_protocol::Timestamp;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tokio::sync::watch;
use tower::ServiceExt;

use super::Verb::{Delete, Get, Patch, Post};
use super::{Endpoint, Verb, endpoints};
use crate::api::{Peer, State, admin_router, redeem_router};
use crate::clock::ManualClock;
use crate::config::Config;

/// A caller over the Unix socket: a user name and a uid (neither 0 nor the daemon's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Who {
    user: &'static str,
    uid: u32,
}

const ADMIN: Who = Who {
    user: "ada",
    uid: 61_001,
};
const OPERATOR: Who = Who {
    user: "otto",
    uid: 61_002,
};
const AUDITOR: Who = Who {
    user: "audrey",
    uid: 61_003,
};
const NO_ROLE: Who = Who {
    user: "nemo",
    uid: 61_004,
};

/// The columns of `TABLE`, in order.
const ROLES: [Who; 4] = [ADMIN, OPERATOR, AUDITOR, NO_ROLE];

const START: Timestamp = Timestamp(1_800_000_000);

/// A daemon's state on a data folder of its own, holding what `ADMIN` made: a token
/// (`fixture`), the host it enrolled, and an API token.
struct Fixture {
    state: Arc<State>,
    clock: Arc<ManualClock>,
    token_id: String,
    host_id: String,
    api_token_id: String,
    // Dropping it would flip the shutdown flag (and end event streams).
    _stop: watch::Sender<bool>,
    _dir: tempfile::TempDir,
}

impl Fixture {
    async fn new() -> Fixture {
        Fixture::with_tenants("", None, ADMIN).await
    }

    /// A fixture whose config also holds `tenants` (TOML tables), its token and host made by
    /// the admin in `tenant`, its API token by `api_maker`.
    async fn with_tenants(tenants: &str, tenant: Option<&str>, api_maker: Who) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "data_dir = {:?}\n[store]\ncheck_on_start = false\n[limits]\njournal_mib = 1\n\
             [access]\nadmins = [\"ada\"]\noperators = [\"otto\"]\nauditors = [\"audrey\"]\n\
             api_users = [\"ada\"]\n\
             {tenants}",
            dir.path().join("data")
        );
        let config = Config::parse(&text, std::path::Path::new("test.toml")).unwrap();
        let clock = Arc::new(ManualClock::new(START));
        let daemon = crate::Daemon::open(config, clock.clone()).unwrap();
        let (state, stop) = daemon.into_state("https://127.0.0.1:8443".into());
        let mut f = Fixture {
            state,
            clock,
            token_id: String::new(),
            host_id: String::new(),
            api_token_id: String::new(),
            _stop: stop,
            _dir: dir,
        };
        let (status, made) = f
            .send(
                ADMIN,
                Verb::Post,
                "/v1/tokens",
                Some(json!({"name": "fixture", "max_uses": 5, "tenant": tenant})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{made}");
        f.token_id = made["token"]["id"].as_str().unwrap().to_owned();
        let secret = made["secret"].as_str().unwrap().to_owned();
        let mut redeem = Request::post("/v1/redeem")
            .header(header::AUTHORIZATION, format!("Bearer {secret}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(json!({"hostname": "web-01"}).to_string()))
            .unwrap();
        redeem.extensions_mut().insert(Peer::Tcp {
            addr: "10.0.0.1:4000".parse().unwrap(),
        });
        let (status, host) = answer(redeem_router(f.state.clone()), redeem).await;
        assert_eq!(status, StatusCode::CREATED, "{host}");
        f.host_id = host["host_id"].as_str().unwrap().to_owned();
        let (status, api) = f
            .send(
                api_maker,
                Verb::Post,
                "/v1/api-tokens",
                Some(json!({"name": "fixture-ci", "tenant": tenant})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{api}");
        f.api_token_id = api["api_token"]["id"].as_str().unwrap().to_owned();
        f
    }

    /// `path` with its parameter replaced by the fixture's object of that kind.
    fn concrete(&self, path: &str) -> String {
        let id = if path.starts_with("/v1/tokens/") {
            &self.token_id
        } else if path.starts_with("/v1/hosts/") {
            &self.host_id
        } else if path.starts_with("/v1/api-tokens/") {
            &self.api_token_id
        } else {
            return path.to_owned();
        };
        path.replace("{id}", id)
    }

    async fn send(
        &self,
        who: Who,
        verb: Verb,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder().method(verb.as_str()).uri(path);
        let body = match body {
            Some(v) => {
                req = req.header(header::CONTENT_TYPE, "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        let mut req = req.body(body).unwrap();
        req.extensions_mut().insert(Peer::Unix {
            uid: who.uid,
            user: who.user.to_owned(),
        });
        answer(admin_router(self.state.clone()), req).await
    }
}

/// The status and the body (JSON when it is; `Value::Null` for an event stream, which is never
/// read to its end).
async fn answer(router: axum::Router, req: Request<Body>) -> (StatusCode, Value) {
    let Ok(resp) = router.oneshot(req).await;
    let status = resp.status();
    let streaming = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
    if streaming {
        return (status, Value::Null);
    }
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, body)
}

/// The body a request to this endpoint carries, for `who`.
fn body_for(verb: Verb, path: &str, who: Who) -> Option<Value> {
    match (verb, path) {
        (Verb::Post, "/v1/tokens") => Some(json!({"name": format!("new-{}", who.user)})),
        (Verb::Patch, "/v1/tokens/{id}") => Some(json!({"description": "changed"})),
        (Verb::Post, "/v1/api-tokens") => Some(json!({"name": "mine"})),
        _ => None,
    }
}

/// One endpoint and its answers to `ROLES` (admin, operator, auditor, no role), each asking
/// about the fixture's objects, which the admin made.
struct Row {
    verb: Verb,
    path: &'static str,
    expect: [u16; 4],
}

const fn row(verb: Verb, path: &'static str, expect: [u16; 4]) -> Row {
    Row { verb, path, expect }
}

#[rustfmt::skip]
const TABLE: &[Row] = &[
    //                                            admin operator auditor no role
    row(Get,    "/v1/whoami",                    [200,  200,     200,    403]),
    row(Get,    "/v1/tokens",                    [200,  200,     200,    403]),
    row(Post,   "/v1/tokens",                    [201,  201,     403,    403]),
    row(Get,    "/v1/tokens/{id}",               [200,  404,     200,    403]),
    row(Patch,  "/v1/tokens/{id}",               [200,  404,     403,    403]),
    row(Delete, "/v1/tokens/{id}",               [200,  404,     403,    403]),
    row(Post,   "/v1/tokens/{id}/revoke",        [200,  404,     403,    403]),
    row(Get,    "/v1/tokens/{id}/hosts",         [200,  404,     200,    403]),
    row(Get,    "/v1/hosts",                     [200,  200,     200,    403]),
    row(Delete, "/v1/hosts/{id}",                [200,  404,     403,    403]),
    row(Get,    "/v1/api-tokens",                [200,  200,     200,    403]),
    row(Post,   "/v1/api-tokens",                [201,  403,     403,    403]),
    row(Delete, "/v1/api-tokens/{id}",           [200,  404,     404,    403]),
    row(Get,    "/v1/audit",                     [200,  200,     200,    403]),
    row(Get,    "/v1/audit/verify",              [200,  403,     200,    403]),
    row(Get,    "/v1/events",                    [200,  200,     200,    403]),
    row(Get,    "/v1/tenants",                   [200,  200,     200,    403]),
    row(Get,    "/v1/backup",                    [200,  403,     403,    403]),
    row(Get,    "/healthz",                      [200,  200,     200,    200]),
    row(Get,    "/metrics",                      [200,  403,     200,    403]),
];

#[test]
fn every_endpoint_has_a_row() {
    let mut routed: Vec<Endpoint> = endpoints();
    let mut rows: Vec<Endpoint> = TABLE
        .iter()
        .map(|r| Endpoint {
            verb: r.verb,
            path: r.path,
        })
        .collect();
    routed.sort();
    rows.sort();
    let mut unique = rows.clone();
    unique.dedup();
    assert_eq!(unique.len(), rows.len(), "a row appears twice in TABLE");
    let missing: Vec<_> = routed.iter().filter(|e| !rows.contains(e)).collect();
    let stale: Vec<_> = rows.iter().filter(|e| !routed.contains(e)).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "endpoints without a row in TABLE: {missing:?}; rows for no endpoint: {stale:?}"
    );
}

/// Each cell on a fixture of its own, so a write (a delete) changes no other cell.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_gets_what_the_table_says_at_every_endpoint() {
    let mut wrong = Vec::new();
    for r in TABLE {
        for (who, want) in ROLES.iter().zip(r.expect) {
            let f = Fixture::new().await;
            let path = f.concrete(r.path);
            let (status, body) = f
                .send(*who, r.verb, &path, body_for(r.verb, r.path, *who))
                .await;
            if status.as_u16() != want {
                wrong.push(format!(
                    "{} {} as {}: {status} (want {want}): {body}",
                    r.verb.as_str(),
                    r.path,
                    who.user
                ));
            }
            // Every refusal has the one error shape.
            if status.as_u16() >= 400 {
                assert!(body["error"]["code"].is_string(), "{body}");
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_lists_only_what_they_own() {
    let f = Fixture::new().await;
    let (_, made) = f
        .send(OPERATOR, Post, "/v1/tokens", Some(json!({"name": "mine"})))
        .await;
    let mine = made["token"]["id"].as_str().unwrap().to_owned();
    let ids = |list: &Value| -> Vec<String> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, list) = f.send(OPERATOR, Get, "/v1/tokens", None).await;
    assert_eq!(ids(&list), std::slice::from_ref(&mine));
    let (_, list) = f.send(ADMIN, Get, "/v1/tokens", None).await;
    let mut all = ids(&list);
    all.sort();
    let mut want = vec![mine, f.token_id.clone()];
    want.sort();
    assert_eq!(all, want);
    let (_, hosts) = f.send(OPERATOR, Get, "/v1/hosts", None).await;
    assert_eq!(hosts, json!([]));
    let (_, hosts) = f.send(AUDITOR, Get, "/v1/hosts", None).await;
    assert_eq!(ids(&hosts), std::slice::from_ref(&f.host_id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_expires_when_the_injected_clock_passes_its_lifetime() {
    let f = Fixture::new().await;
    let (status, made) = f
        .send(
            ADMIN,
            Post,
            "/v1/tokens",
            Some(json!({"name": "short", "ttl": "1h"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    assert_eq!(
        made["token"]["expires_at"],
        json!(Timestamp(START.0 + 3600))
    );
    let (_, shown) = f.send(ADMIN, Get, "/v1/tokens/short", None).await;
    assert_eq!(shown["status"], "active");
    f.clock.advance(3600);
    let (_, shown) = f.send(ADMIN, Get, "/v1/tokens/short", None).await;
    assert_eq!(shown["status"], "expired");
}

/// Minted part of the way into a second: the token is dated that second, as its audit event
/// is, so a redemption in the same second is not dated before the creation; its lifetime
/// counts from the next whole second, so it lives at least what was asked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_minted_mid_second_is_dated_now_and_lives_its_whole_lifetime() {
    let f = Fixture::new().await;
    f.clock.mid_second(true);
    let (status, made) = f
        .send(
            ADMIN,
            Post,
            "/v1/tokens",
            Some(json!({"name": "mid", "ttl": "1h"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    assert_eq!(made["token"]["created_at"], json!(START));
    assert_eq!(
        made["token"]["expires_at"],
        json!(Timestamp(START.0 + 1 + 3600))
    );
    let (_, trail) = f.send(ADMIN, Get, "/v1/audit?token=mid", None).await;
    let created = trail
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "created")
        .unwrap();
    assert_eq!(created["at"], json!(START), "{trail}");
}

/// Two tenants besides `default`, each with an admin, an operator and an auditor of its own.
const TWO_TENANTS: &str = "[tenants.acme]\nadmins = [\"alice\"]\noperators = [\"bob\"]\n\
                           auditors = [\"carol\"]\napi_users = [\"alice\"]\n\
                           [tenants.globex]\nadmins = [\"gus\"]\noperators = [\"gil\"]\n\
                           auditors = [\"gina\"]\n";

const fn who(user: &'static str, uid: u32) -> Who {
    Who { user, uid }
}

const ALICE: Who = who("alice", 61_011);
const BOB: Who = who("bob", 61_012);
const CAROL: Who = who("carol", 61_013);
const GUS: Who = who("gus", 61_021);
const GIL: Who = who("gil", 61_022);
const GINA: Who = who("gina", 61_023);

/// The columns of `TENANT_TABLE`: acme's admin, operator and auditor, globex's, then the
/// global admin, auditor and operator.
const TENANT_ROLES: [Who; 9] = [ALICE, BOB, CAROL, GUS, GIL, GINA, ADMIN, AUDITOR, OPERATOR];

/// Which of `TENANT_ROLES` see all of acme (its admin and auditor, the global ones).
const SEES_ACME: [bool; 9] = [true, false, true, false, false, false, true, true, false];

/// Every endpoint's answers to `TENANT_ROLES`, each asking about acme's objects: a token and
/// its host the global admin made in acme, an API token acme's admin made.
#[rustfmt::skip]
const TENANT_TABLE: &[(Verb, &str, [u16; 9])] = &[
    //                                        acme: adm  op   aud  globex: adm op  aud  global: adm aud op
    (Get,    "/v1/whoami",                    [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    (Get,    "/v1/tokens",                    [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    (Post,   "/v1/tokens",                    [201, 201, 403, 201, 201, 403, 400, 403, 400]),
    (Get,    "/v1/tokens/{id}",               [200, 404, 200, 404, 404, 404, 200, 200, 404]),
    (Patch,  "/v1/tokens/{id}",               [200, 404, 403, 404, 404, 404, 200, 403, 404]),
    (Delete, "/v1/tokens/{id}",               [200, 404, 403, 404, 404, 404, 200, 403, 404]),
    (Post,   "/v1/tokens/{id}/revoke",        [200, 404, 403, 404, 404, 404, 200, 403, 404]),
    (Get,    "/v1/tokens/{id}/hosts",         [200, 404, 200, 404, 404, 404, 200, 200, 404]),
    (Get,    "/v1/hosts",                     [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    (Delete, "/v1/hosts/{id}",                [200, 404, 403, 404, 404, 404, 200, 403, 404]),
    (Get,    "/v1/api-tokens",                [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    (Post,   "/v1/api-tokens",                [201, 403, 403, 403, 403, 403, 400, 403, 403]),
    (Delete, "/v1/api-tokens/{id}",           [200, 404, 404, 404, 404, 404, 200, 404, 404]),
    (Get,    "/v1/audit",                     [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    (Get,    "/v1/audit/verify",              [200, 403, 200, 200, 403, 200, 200, 200, 403]),
    (Get,    "/v1/events",                    [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    (Get,    "/v1/tenants",                   [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    (Get,    "/v1/backup",                    [403, 403, 403, 403, 403, 403, 200, 403, 403]),
    (Get,    "/healthz",                      [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    (Get,    "/metrics",                      [200, 403, 200, 200, 403, 200, 200, 200, 403]),
];

#[test]
fn every_endpoint_has_a_row_in_the_tenant_table() {
    let mut routed: Vec<(Verb, &str)> = endpoints().iter().map(|e| (e.verb, e.path)).collect();
    let mut rows: Vec<(Verb, &str)> = TENANT_TABLE.iter().map(|(v, p, _)| (*v, *p)).collect();
    routed.sort();
    rows.sort();
    assert_eq!(routed, rows, "TENANT_TABLE must hold one row per endpoint");
}

/// Every role of every tenant at every endpoint, about acme's objects: the status the table
/// says, and no list read by someone who does not see acme names any of them (ids, names,
/// hostname), while those who see acme find its token and host in the lists.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_of_every_tenant_gets_what_the_tenant_table_says() {
    let mut wrong = Vec::new();
    for (verb, path, expect) in TENANT_TABLE {
        for (i, who) in TENANT_ROLES.iter().enumerate() {
            let f = Fixture::with_tenants(TWO_TENANTS, Some("acme"), ALICE).await;
            let concrete = f.concrete(path);
            let (status, body) = f
                .send(*who, *verb, &concrete, body_for(*verb, path, *who))
                .await;
            let cell = format!("{} {path} as {}", verb.as_str(), who.user);
            if status.as_u16() != expect[i] {
                wrong.push(format!("{cell}: {status} (want {}): {body}", expect[i]));
            }
            if *verb != Get || path.contains('{') || status != StatusCode::OK {
                continue;
            }
            let text = body.to_string();
            let secrets = [
                f.token_id.as_str(),
                f.host_id.as_str(),
                f.api_token_id.as_str(),
                "fixture",
                "web-01",
            ];
            let named: Vec<&str> = secrets.into_iter().filter(|s| text.contains(s)).collect();
            if !SEES_ACME[i] && !named.is_empty() {
                wrong.push(format!("{cell}: names acme's {named:?}: {text}"));
            }
            let listed = ["/v1/tokens", "/v1/hosts", "/v1/audit"].contains(path);
            if SEES_ACME[i] && listed && !text.contains(&f.token_id) {
                wrong.push(format!("{cell}: does not list acme's token: {text}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_only_the_tenants_the_caller_sees() {
    let f = Fixture::with_tenants(TWO_TENANTS, Some("acme"), ALICE).await;
    let active = |text: &Value| -> String {
        let text = text.as_str().unwrap_or_default().to_owned();
        text.lines()
            .find(|l| l.starts_with("gatepass_tokens{") && l.contains("\"active\""))
            .unwrap_or_default()
            .to_owned()
    };
    let (_, acme) = f.send(ALICE, Get, "/metrics", None).await;
    let (_, globex) = f.send(GUS, Get, "/metrics", None).await;
    assert!(active(&acme).ends_with(" 1"), "{acme}");
    assert!(active(&globex).ends_with(" 0"), "{globex}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_mints_only_for_members_of_the_tenant() {
    let f = Fixture::with_tenants(TWO_TENANTS, Some("acme"), ALICE).await;
    for (owner, want) in [
        ("bob", 201),
        ("carol", 201),
        ("ada", 201),
        ("gus", 400),
        // Root and the daemon's own user are admins, not members of every tenant.
        ("root", 400),
        ("nobody", 400),
    ] {
        let (status, body) = f
            .send(
                ALICE,
                Post,
                "/v1/tokens",
                Some(json!({"name": format!("for-{owner}"), "owner": owner})),
            )
            .await;
        assert_eq!(status.as_u16(), want, "{owner}: {body}");
        if want == 400 {
            assert_eq!(body["error"]["code"], "unknown_owner", "{body}");
        } else {
            assert_eq!(body["token"]["owner"], owner);
        }
    }
    // An operator mints for themselves only.
    let (status, body) = f
        .send(
            BOB,
            Post,
            "/v1/tokens",
            Some(json!({"name": "b", "owner": "carol"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenants_event_stream_hears_nothing_of_another_tenant() {
    let f = Fixture::with_tenants(TWO_TENANTS, Some("acme"), ALICE).await;
    let mut req = Request::get("/v1/events").body(Body::empty()).unwrap();
    req.extensions_mut().insert(Peer::Unix {
        uid: GUS.uid,
        user: GUS.user.to_owned(),
    });
    let Ok(resp) = admin_router(f.state.clone()).oneshot(req).await;
    let mut body = resp.into_body();
    // acme's change first, then globex's: globex's admin hears the second and never the first.
    let (status, _) = f
        .send(
            ALICE,
            Post,
            "/v1/tokens",
            Some(json!({"name": "acme-live"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = f
        .send(
            GUS,
            Post,
            "/v1/tokens",
            Some(json!({"name": "globex-live"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let mut seen = String::new();
    let found = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        while let Some(Ok(frame)) = body.frame().await {
            if let Some(data) = frame.data_ref() {
                seen.push_str(&String::from_utf8_lossy(data));
                if seen.contains("globex-live") {
                    return true;
                }
            }
        }
        false
    })
    .await;
    assert_eq!(found, Ok(true), "{seen}");
    assert!(!seen.contains("acme"), "{seen}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_record_and_answer_carries_its_tenant() {
    let f = Fixture::with_tenants(TWO_TENANTS, Some("acme"), ADMIN).await;
    let (_, shown) = f
        .send(ADMIN, Get, &format!("/v1/tokens/{}", f.token_id), None)
        .await;
    assert_eq!(shown["tenant"], "acme");
    let (_, list) = f.send(ADMIN, Get, "/v1/tokens", None).await;
    assert_eq!(list[0]["tenant"], "acme");
    let (_, hosts) = f.send(ADMIN, Get, "/v1/hosts", None).await;
    assert_eq!(hosts[0]["tenant"], "acme", "{hosts}");
    let (_, audit) = f.send(ADMIN, Get, "/v1/audit", None).await;
    let tenants: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["tenant"].as_str().unwrap())
        .collect();
    // Created and redeemed in acme; the API token was made in acme too, where it acts.
    assert_eq!(tenants, ["acme", "acme", "acme"], "{audit}");
    let (status, check) = f.send(ADMIN, Get, "/v1/audit/verify", None).await;
    assert_eq!(
        (status, &check["first_bad"]),
        (StatusCode::OK, &Value::Null),
        "{check}"
    );
    // A tenant's own admin mints there without naming it.
    let (status, made) = f
        .send(ALICE, Post, "/v1/tokens", Some(json!({"name": "alices"})))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    assert_eq!(made["token"]["tenant"], "acme");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_redeem_answer_names_the_tenant_the_host_joined() {
    let f = Fixture::with_tenants(TWO_TENANTS, Some("globex"), ADMIN).await;
    let (_, made) = f
        .send(
            ADMIN,
            Post,
            "/v1/tokens",
            Some(json!({"name": "g2", "tenant": "globex"})),
        )
        .await;
    let secret = made["secret"].as_str().unwrap();
    let mut redeem = Request::post("/v1/redeem")
        .header(header::AUTHORIZATION, format!("Bearer {secret}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(json!({"hostname": "g-01"}).to_string()))
        .unwrap();
    redeem.extensions_mut().insert(Peer::Tcp {
        addr: "10.0.0.2:4000".parse().unwrap(),
    });
    let (status, answer_body) = answer(redeem_router(f.state.clone()), redeem).await;
    assert_eq!(status, StatusCode::CREATED, "{answer_body}");
    assert_eq!(answer_body["tenant"], "globex");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_of_several_tenants_names_the_one_to_mint_in() {
    let f = Fixture::with_tenants(TWO_TENANTS, Some("acme"), ADMIN).await;
    let (status, body) = f
        .send(ADMIN, Post, "/v1/tokens", Some(json!({"name": "where"})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "tenant_required");
    // A tenant the caller has no role in is not found (its existence is not revealed).
    let (status, body) = f
        .send(
            ALICE,
            Post,
            "/v1/tokens",
            Some(json!({"name": "there", "tenant": "globex"})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = f
        .send(
            ALICE,
            Post,
            "/v1/tokens",
            Some(json!({"name": "there", "tenant": "nowhere"})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_stream_carries_the_tenant() {
    let f = Fixture::with_tenants(TWO_TENANTS, Some("acme"), ADMIN).await;
    let mut req = Request::get("/v1/events").body(Body::empty()).unwrap();
    req.extensions_mut().insert(Peer::Unix {
        uid: ADMIN.uid,
        user: ADMIN.user.to_owned(),
    });
    let Ok(resp) = admin_router(f.state.clone()).oneshot(req).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let mut body = resp.into_body();
    let (status, _) = f
        .send(
            ADMIN,
            Post,
            "/v1/tokens",
            Some(json!({"name": "live", "tenant": "globex"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    // The stream is read until the new token's event; a bound, not a wait for anything.
    let mut seen = String::new();
    let found = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        while let Some(Ok(frame)) = body.frame().await {
            if let Some(data) = frame.data_ref() {
                seen.push_str(&String::from_utf8_lossy(data));
                if seen.contains(r#""name":"live""#) {
                    return true;
                }
            }
        }
        false
    })
    .await;
    assert_eq!(found, Ok(true), "{seen}");
    let line = seen
        .lines()
        .find(|l| l.contains(r#""name":"live""#))
        .unwrap();
    let event: Value = serde_json::from_str(line.trim_start_matches("data:").trim()).unwrap();
    assert_eq!(event["token"]["tenant"], "globex", "{event}");
}

impl Fixture {
    /// A request over the HTTPS admin listener with API token `secret` (and a Referer).
    async fn send_api(
        &self,
        secret: &str,
        verb: Verb,
        path: &str,
        body: Option<Value>,
        referer: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder()
            .method(verb.as_str())
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {secret}"));
        if let Some(r) = referer {
            req = req.header(header::REFERER, r);
        }
        let body = match body {
            Some(v) => {
                req = req.header(header::CONTENT_TYPE, "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        let mut req = req.body(body).unwrap();
        req.extensions_mut().insert(Peer::Tcp {
            addr: "10.9.9.9:5000".parse().unwrap(),
        });
        answer(admin_router(self.state.clone()), req).await
    }

    /// A new API token of the admin's, made with `fields` (JSON), and its secret.
    async fn api_token(&self, fields: Value) -> String {
        let (status, made) = self.send(ADMIN, Post, "/v1/api-tokens", Some(fields)).await;
        assert_eq!(status, StatusCode::CREATED, "{made}");
        made["secret"].as_str().unwrap().to_owned()
    }
}

/// One request with an API token: a label, the token's secret, the request and its Referer,
/// and the status and error code wanted.
type ApiCase<'a> = (
    &'a str,
    &'a str,
    Verb,
    &'a str,
    Option<Value>,
    Option<&'a str>,
    u16,
    &'a str,
);

/// Each scope against the requests at its edge; a path or referrer restriction says which it
/// is (403), and only an unknown, expired or deleted token is 401.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_tokens_act_within_their_scope_path_and_referrer() {
    let f = Fixture::new().await;
    let read = f.api_token(json!({"name": "r", "scope": "read"})).await;
    let mint = f.api_token(json!({"name": "m", "scope": "mint"})).await;
    let manage = f.api_token(json!({"name": "all"})).await;
    let path = f
        .api_token(json!({"name": "p", "path_prefix": "/v1/tokens"}))
        .await;
    let referrer = f
        .api_token(json!({"name": "ref", "referrer": "example.org"}))
        .await;
    let token = format!("/v1/tokens/{}", f.token_id);
    let revoke = format!("/v1/tokens/{}/revoke", f.token_id);
    let new = |n: &str| Some(json!({ "name": n }));
    let cases: Vec<ApiCase<'_>> = vec![
        ("read", &read, Get, "/v1/tokens", None, None, 200, ""),
        ("read", &read, Get, "/v1/audit", None, None, 200, ""),
        (
            "read",
            &read,
            Post,
            "/v1/tokens",
            new("by-read"),
            None,
            403,
            "scope_denied",
        ),
        (
            "read",
            &read,
            Post,
            &revoke,
            None,
            None,
            403,
            "scope_denied",
        ),
        (
            "read",
            &read,
            Post,
            "/v1/api-tokens",
            new("more"),
            None,
            403,
            "scope_denied",
        ),
        ("mint", &mint, Get, "/v1/hosts", None, None, 200, ""),
        (
            "mint",
            &mint,
            Post,
            "/v1/tokens",
            new("by-mint"),
            None,
            201,
            "",
        ),
        (
            "mint",
            &mint,
            Post,
            &revoke,
            None,
            None,
            403,
            "scope_denied",
        ),
        (
            "mint",
            &mint,
            Delete,
            &token,
            None,
            None,
            403,
            "scope_denied",
        ),
        (
            "mint",
            &mint,
            Patch,
            &token,
            Some(json!({"description": "x"})),
            None,
            403,
            "scope_denied",
        ),
        (
            "path",
            &path,
            Get,
            "/v1/tokens?status=active",
            None,
            None,
            200,
            "",
        ),
        (
            "path",
            &path,
            Get,
            "/v1/audit",
            None,
            None,
            403,
            "path_denied",
        ),
        (
            "referrer",
            &referrer,
            Get,
            "/v1/tokens",
            None,
            None,
            403,
            "referrer_denied",
        ),
        (
            "referrer",
            &referrer,
            Get,
            "/v1/tokens",
            None,
            Some("https://ci.example.org/x"),
            200,
            "",
        ),
        (
            "referrer",
            &referrer,
            Get,
            "/v1/tokens",
            None,
            Some("https://notexample.org/"),
            403,
            "referrer_denied",
        ),
        // A browser reads the host as evil.net: a backslash ends it, as `/` does.
        (
            "referrer",
            &referrer,
            Get,
            "/v1/tokens",
            None,
            Some("https://evil.net\\@example.org/"),
            403,
            "referrer_denied",
        ),
        ("manage", &manage, Post, &revoke, None, None, 200, ""),
        // A backup holds the whole store: a `manage` action, whatever the method.
        (
            "read",
            &read,
            Get,
            "/v1/backup",
            None,
            None,
            403,
            "scope_denied",
        ),
        (
            "mint",
            &mint,
            Get,
            "/v1/backup",
            None,
            None,
            403,
            "scope_denied",
        ),
        ("manage", &manage, Get, "/v1/backup", None, None, 200, ""),
        (
            "unknown",
            "gpa_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            Get,
            "/v1/tokens",
            None,
            None,
            401,
            "unauthorized",
        ),
    ];
    let mut wrong = Vec::new();
    for (scope, secret, verb, path, body, referer, want, code) in cases {
        let (status, answer) = f.send_api(secret, verb, path, body, referer).await;
        let got_code = answer["error"]["code"].as_str().unwrap_or_default();
        if status.as_u16() != want || got_code != code {
            wrong.push(format!(
                "{scope}: {} {path}: {status} {got_code} (want {want} {code:?})",
                verb.as_str()
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // A deleted API token is no token at all.
    let (_, list) = f.send(ADMIN, Get, "/v1/api-tokens", None).await;
    let id = list
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "all")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _) = f
        .send(ADMIN, Delete, &format!("/v1/api-tokens/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = f.send_api(&manage, Get, "/v1/tokens", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// Whether `text` holds the secret part of `token` (what follows its public id).
fn holds_secret(text: &[u8], token: &str) -> bool {
    let secret = &token.as_bytes()[16..38];
    text.windows(secret.len()).any(|w| w == secret)
}

/// The bytes of every file under `dir`.
fn files_under(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push((p.clone(), std::fs::read(&p).unwrap()));
        }
    }
    out
}

/// A whole token pasted into a request's path (where a name or id goes), in clear or with a
/// character percent-encoded, and refused: the denial's audit record names the request with
/// the token cut to its id (`gpt_<id>…`), and neither the answer, the audit log as read, nor
/// any file of the data folder holds its secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_in_a_refused_requests_path_is_audited_as_its_id_only() {
    let f = Fixture::new().await;
    let (status, made) = f
        .send(ADMIN, Post, "/v1/tokens", Some(json!({"name": "pasted"})))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let gpt = made["secret"].as_str().unwrap().to_owned();
    let read = f.api_token(json!({"name": "r", "scope": "read"})).await;
    let manage = f.api_token(json!({"name": "m"})).await;
    let hosts_only = f
        .api_token(json!({"name": "h", "path_prefix": "/v1/hosts"}))
        .await;
    // One character percent-encoded: the router decodes it before the token is looked up.
    let encoded = |t: &str| format!("{}%{:02X}{}", &t[..20], t.as_bytes()[20], &t[21..]);
    let mut answers = Vec::new();
    for path in [
        format!("/v1/tokens/{gpt}"),
        format!("/v1/tokens/{}", encoded(&gpt)),
    ] {
        answers.push(f.send(AUDITOR, Delete, &path, None).await);
        answers.push(f.send(NO_ROLE, Get, &path, None).await);
        answers.push(f.send_api(&hosts_only, Get, &path, None, None).await);
    }
    for path in [
        format!("/v1/api-tokens/{manage}"),
        format!("/v1/api-tokens/{}", encoded(&manage)),
    ] {
        answers.push(f.send_api(&read, Delete, &path, None, None).await);
    }
    for (status, body) in &answers {
        assert_eq!(*status, StatusCode::FORBIDDEN, "{body}");
        for secret in [&gpt, &manage] {
            assert!(!holds_secret(body.to_string().as_bytes(), secret), "{body}");
        }
    }
    let (status, audit) = f.send(ADMIN, Get, "/v1/audit?limit=100", None).await;
    assert_eq!(status, StatusCode::OK, "{audit}");
    let requests: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "denied")
        .filter_map(|e| e["details"]["request"].as_str())
        .collect();
    let gpt_shown = format!("{}…", &gpt[..16]);
    let gpa_shown = format!("{}…", &manage[..16]);
    assert_eq!(
        requests.iter().filter(|r| r.ends_with(&gpt_shown)).count(),
        6,
        "{requests:#?}"
    );
    assert_eq!(
        requests
            .iter()
            .filter(|r| **r == format!("DELETE /v1/api-tokens/{gpa_shown}"))
            .count(),
        2,
        "{requests:#?}"
    );
    for secret in [&gpt, &manage] {
        assert!(
            !holds_secret(audit.to_string().as_bytes(), secret),
            "{audit}"
        );
        for (path, bytes) in files_under(f._dir.path()) {
            assert!(
                !holds_secret(&bytes, secret),
                "a secret in {}",
                path.display()
            );
        }
    }
}

/// An API token's path or referrer restriction holding a whole token (in clear or with a
/// character percent-encoded) is refused as a name holding one is, with the same code; nothing
/// of it is stored, listed or audited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_in_an_api_tokens_restriction_is_refused_as_in_its_name() {
    let f = Fixture::new().await;
    let (status, made) = f
        .send(ADMIN, Post, "/v1/tokens", Some(json!({"name": "pasted"})))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let gpt = made["secret"].as_str().unwrap().to_owned();
    let gpa = f.api_token(json!({"name": "m"})).await;
    let (status, by_name) = f
        .send(ADMIN, Post, "/v1/api-tokens", Some(json!({"name": gpt})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{by_name}");
    let encoded = |t: &str| format!("{}%{:02X}{}", &t[..20], t.as_bytes()[20], &t[21..]);
    for secret in [&gpt, &gpa] {
        for fields in [
            json!({"name": "a", "path_prefix": format!("/{secret}")}),
            json!({"name": "b", "path_prefix": format!("/v1/tokens/{}", encoded(secret))}),
            json!({"name": "c", "referrer": secret}),
        ] {
            let (status, body) = f
                .send(ADMIN, Post, "/v1/api-tokens", Some(fields.clone()))
                .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{fields}: {body}");
            assert_eq!(body["error"]["code"], by_name["error"]["code"], "{body}");
            assert!(
                body["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("contains a Gatepass token"),
                "{body}"
            );
        }
    }
    let (_, list) = f.send(ADMIN, Get, "/v1/api-tokens", None).await;
    let (_, audit) = f.send(ADMIN, Get, "/v1/audit?limit=100", None).await;
    for secret in [&gpt, &gpa] {
        assert!(!holds_secret(list.to_string().as_bytes(), secret), "{list}");
        assert!(
            !holds_secret(audit.to_string().as_bytes(), secret),
            "{audit}"
        );
    }
}

/// The REST API role: only `api_users` create API tokens, administrators included; the others
/// are told why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_users_with_the_rest_api_role_create_api_tokens() {
    let f = Fixture::with_tenants(TWO_TENANTS, Some("acme"), ALICE).await;
    for who in [GUS, OPERATOR, AUDITOR, BOB] {
        let (status, body) = f
            .send(who, Post, "/v1/api-tokens", Some(json!({"name": "try"})))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{}: {body}", who.user);
        assert_eq!(body["error"]["code"], "api_role_required", "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("api_users")
        );
    }
    // A tenant's API user holds theirs in that tenant.
    let (_, list) = f.send(ALICE, Get, "/v1/api-tokens", None).await;
    assert_eq!(list[0]["tenant"], "acme", "{list}");
}

/// A summary of `GET /v1/tenants` as `who` reads it: (name, role, tokens, hosts, members).
async fn tenants_of(f: &Fixture, who: Who) -> Vec<(String, String, u64, u64, Vec<String>)> {
    let (status, list) = f.send(who, Get, "/v1/tenants", None).await;
    assert_eq!(status, StatusCode::OK, "{}: {list}", who.user);
    list.as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_owned(),
                t["role"].as_str().unwrap().to_owned(),
                t["tokens"].as_u64().unwrap(),
                t["hosts"].as_u64().unwrap(),
                t["members"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|m| m.as_str().unwrap().to_owned())
                    .collect(),
            )
        })
        .collect()
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// Each user lists the tenants they have a role in, by name, with their role, what they see
/// of it, and its members only where they are an admin; no other tenant appears.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_user_lists_their_own_tenants_with_their_role_and_counts() {
    let f = Fixture::with_tenants(TWO_TENANTS, Some("acme"), ALICE).await;
    // An operator's token in acme: counted for them and for acme's admin and auditor.
    let (status, made) = f
        .send(BOB, Post, "/v1/tokens", Some(json!({"name": "bobs"})))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let acme_members = strings(&["ada", "alice", "audrey", "bob", "carol", "otto"]);
    let globex_members = strings(&["ada", "audrey", "gil", "gina", "gus", "otto"]);
    let default_members = strings(&["ada", "audrey", "otto"]);
    let t = |n: &str, r: &str, tokens: u64, hosts: u64, m: &[String]| {
        (n.to_owned(), r.to_owned(), tokens, hosts, m.to_vec())
    };
    assert_eq!(
        tenants_of(&f, ALICE).await,
        [t("acme", "admin", 2, 1, &acme_members)]
    );
    assert_eq!(
        tenants_of(&f, BOB).await,
        [t("acme", "operator", 1, 0, &[])]
    );
    assert_eq!(
        tenants_of(&f, CAROL).await,
        [t("acme", "auditor", 2, 1, &[])]
    );
    assert_eq!(
        tenants_of(&f, GUS).await,
        [t("globex", "admin", 0, 0, &globex_members)]
    );
    assert_eq!(
        tenants_of(&f, GINA).await,
        [t("globex", "auditor", 0, 0, &[])]
    );
    assert_eq!(
        tenants_of(&f, ADMIN).await,
        [
            t("acme", "admin", 2, 1, &acme_members),
            t("default", "admin", 0, 0, &default_members),
            t("globex", "admin", 0, 0, &globex_members),
        ]
    );
    assert_eq!(
        tenants_of(&f, OPERATOR).await,
        [
            t("acme", "operator", 0, 0, &[]),
            t("default", "operator", 0, 0, &[]),
            t("globex", "operator", 0, 0, &[]),
        ]
    );
    let (status, body) = f.send(NO_ROLE, Get, "/v1/tenants", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_no_tenant_configured_the_list_is_default_alone() {
    let f = Fixture::new().await;
    let listed = tenants_of(&f, OPERATOR).await;
    assert_eq!(
        listed,
        [("default".into(), "operator".into(), 0, 0, vec![])]
    );
    let listed = tenants_of(&f, ADMIN).await;
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].2, listed[0].3), (1, 1));
    assert_eq!(listed[0].4, strings(&["ada", "audrey", "otto"]));
}

/// `?tenant=` on every list: the caller's tenant filters; a tenant that does not exist and one
/// the caller has no role in get the same 404, word for word.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_filter_naming_another_tenant_is_not_found_like_one_that_does_not_exist() {
    let f = Fixture::with_tenants(TWO_TENANTS, Some("acme"), ALICE).await;
    for list in ["/v1/tokens", "/v1/hosts", "/v1/audit", "/v1/api-tokens"] {
        let (status, mine) = f
            .send(ALICE, Get, &format!("{list}?tenant=acme"), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{list}: {mine}");
        assert!(!mine.as_array().unwrap().is_empty(), "{list}: {mine}");
        let (status, none) = f
            .send(ADMIN, Get, &format!("{list}?tenant=globex"), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{list}: {none}");
        assert!(
            !none.to_string().contains(&f.token_id) && !none.to_string().contains("acme"),
            "{list}: {none}"
        );
        let mut answers = Vec::new();
        for tenant in ["globex", "nowhere"] {
            let (status, body) = f
                .send(ALICE, Get, &format!("{list}?tenant={tenant}"), None)
                .await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{list}: {body}");
            assert_eq!(body["error"]["code"], "not_found", "{body}");
            answers.push(
                body["error"]["message"]
                    .as_str()
                    .unwrap()
                    .replace(tenant, "T"),
            );
        }
        assert_eq!(answers[0], answers[1], "{list}");
        assert_eq!(answers[0], "no tenant \"T\"");
    }
    // Minting in another tenant: the same answer.
    let (status, body) = f
        .send(
            ALICE,
            Post,
            "/v1/tokens",
            Some(json!({"name": "x", "tenant": "globex"})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["message"], "no tenant \"globex\"");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_required_names_the_tenants_to_choose_from() {
    let f = Fixture::with_tenants(TWO_TENANTS, Some("acme"), ALICE).await;
    let (status, body) = f
        .send(OPERATOR, Post, "/v1/tokens", Some(json!({"name": "where"})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "tenant_required");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.ends_with("yours: acme, default, globex"),
        "{message}"
    );
}

/// An event stream read as `who`, and a way to read it up to a marker.
struct Stream {
    body: Body,
    seen: String,
}

impl Stream {
    async fn open(f: &Fixture, who: Who) -> Stream {
        let mut req = Request::get("/v1/events").body(Body::empty()).unwrap();
        req.extensions_mut().insert(Peer::Unix {
            uid: who.uid,
            user: who.user.to_owned(),
        });
        let Ok(resp) = admin_router(f.state.clone()).oneshot(req).await;
        assert_eq!(resp.status(), StatusCode::OK);
        Stream {
            body: resp.into_body(),
            seen: String::new(),
        }
    }

    /// Reads until `marker` has been sent (a bound, not a wait for anything).
    async fn until(&mut self, marker: &str) {
        let (body, seen) = (&mut self.body, &mut self.seen);
        let found = tokio::time::timeout(std::time::Duration::from_secs(30), async {
            while let Some(Ok(frame)) = body.frame().await {
                if let Some(data) = frame.data_ref() {
                    seen.push_str(&String::from_utf8_lossy(data));
                    if seen.contains(marker) {
                        return true;
                    }
                }
            }
            false
        })
        .await;
        assert_eq!(found, Ok(true), "{marker} not in {seen}");
    }
}

/// A deletion (`token_deleted`, the token's id alone) reaches those who saw the token — its
/// tenant's admin and auditor, the global ones — and no one else: not another tenant's admin,
/// not an operator of the same tenant who does not own it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deletion_reaches_exactly_those_who_saw_the_token() {
    let f = Fixture::with_tenants(TWO_TENANTS, Some("acme"), ALICE).await;
    let mut streams = Vec::new();
    for who in [ALICE, CAROL, ADMIN, AUDITOR, GUS, GINA, BOB, OPERATOR] {
        streams.push((who, Stream::open(&f, who).await));
    }
    let path = format!("/v1/tokens/{}", f.token_id);
    let (status, body) = f.send(ALICE, Delete, &path, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for (who, mut s) in streams {
        // After it, a token each of them sees (their own, or their tenant admin's) is minted,
        // and each stream is read up to it: what the deletion sent them came before.
        let end = format!("end-{}", who.user);
        let (maker, tenant) = match who {
            CAROL => (ALICE, "acme"),
            AUDITOR => (ADMIN, "default"),
            GINA => (GUS, "globex"),
            GUS => (GUS, "globex"),
            ADMIN | OPERATOR => (who, "default"),
            _ => (who, "acme"),
        };
        let (status, made) = f
            .send(
                maker,
                Post,
                "/v1/tokens",
                Some(json!({"name": end, "tenant": tenant})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{made}");
        s.until(&end).await;
        let deleted = s
            .seen
            .lines()
            .filter(|l| l.starts_with("event:") && l.contains("token_deleted"))
            .count();
        let want = usize::from([ALICE, CAROL, ADMIN, AUDITOR].contains(&who));
        assert_eq!(deleted, want, "{}: {}", who.user, s.seen);
        if want == 0 {
            assert!(!s.seen.contains(&f.token_id), "{}: {}", who.user, s.seen);
        } else {
            // Sent as the id alone.
            let line = s
                .seen
                .lines()
                .skip_while(|l| !l.contains("token_deleted"))
                .find(|l| l.starts_with("data:"))
                .unwrap();
            let event: Value =
                serde_json::from_str(line.trim_start_matches("data:").trim()).unwrap();
            assert_eq!(
                event,
                json!({"kind": "token_deleted", "token_id": f.token_id}),
                "{}",
                who.user
            );
        }
    }
}

/// Tenants for the REST API role: `mia` is an operator and API user in acme and an admin (no
/// API user) in globex; `gus` is globex's admin and API user; `ada` holds it in `[access]`.
const API_TENANTS: &str = "[tenants.acme]\nadmins = [\"alice\"]\noperators = [\"bob\", \"mia\"]\n\
                           auditors = [\"carol\"]\napi_users = [\"alice\", \"mia\"]\n\
                           [tenants.globex]\nadmins = [\"gus\", \"mia\"]\noperators = [\"gil\"]\n\
                           auditors = [\"gina\"]\napi_users = [\"gus\"]\n";

const MIA: Who = who("mia", 61_031);

impl Fixture {
    /// A new API token of `who`'s, made over the socket with `fields`: its secret and record.
    async fn api_token_of(&self, who: Who, fields: Value) -> (String, Value) {
        let (status, made) = self.send(who, Post, "/v1/api-tokens", Some(fields)).await;
        assert_eq!(status, StatusCode::CREATED, "{}: {made}", who.user);
        (
            made["secret"].as_str().unwrap().to_owned(),
            made["api_token"].clone(),
        )
    }

    /// An API token of `user` in `tenant` put straight into the store, as one made before the
    /// config changed (or before API tokens had a tenant of their own) is.
    async fn stored_api_token(&self, user: &str, tenant: &str, name: &str) -> String {
        let body: gatepass_protocol::CreateApiTokenRequest =
            serde_json::from_value(json!({ "name": name })).unwrap();
        let (record, secret) = crate::domain::api_tokens::issue(
            body,
            user,
            tenant,
            &self.state.key,
            crate::clock::Clock::now(self.clock.as_ref()),
        )
        .unwrap();
        crate::api::blocking(&self.state, move |s| s.create_api_token(record))
            .await
            .unwrap();
        secret.expose().to_owned()
    }

    /// The audit log as `who` reads it, as text.
    async fn audit_text(&self, who: Who) -> String {
        let (status, audit) = self.send(who, Get, "/v1/audit", None).await;
        assert_eq!(status, StatusCode::OK, "{audit}");
        audit.to_string()
    }
}

/// The REST API role holds only in the tenants that grant it, and an API token acts in the one
/// tenant it was made in: the role does not carry over to a tenant where the user holds
/// another role, and "all tenants" is no place for an API token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_token_acts_only_in_its_tenant_where_its_user_holds_the_api_role() {
    let f = Fixture::with_tenants(API_TENANTS, Some("acme"), ALICE).await;
    // mia's only API tenant is acme: made there without naming it; never in globex.
    let (mia, made) = f.api_token_of(MIA, json!({"name": "mia-ci"})).await;
    assert_eq!(made["tenant"], "acme", "{made}");
    let (status, body) = f
        .send(
            MIA,
            Post,
            "/v1/api-tokens",
            Some(json!({"name": "mia-g", "tenant": "globex"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "api_role_required", "{body}");
    // With it, mia is acme's operator and nothing in globex, though an admin there.
    let (status, body) = f
        .send_api(
            &mia,
            Post,
            "/v1/tokens",
            Some(json!({"name": "via-api-in-globex", "tenant": "globex"})),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = f
        .send_api(&mia, Post, "/v1/tokens", Some(json!({"name": "m1"})), None)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["token"]["tenant"], "acme");
    let (_, who) = f.send_api(&mia, Get, "/v1/whoami", None, None).await;
    assert_eq!(who["role"], "operator", "{who}");

    // A user with the role in several tenants (here: globally) names the one.
    let (status, body) = f
        .send(
            ADMIN,
            Post,
            "/v1/api-tokens",
            Some(json!({"name": "ada-ci"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "tenant_required", "{body}");
    let (ada, made) = f
        .api_token_of(ADMIN, json!({"name": "ada-ci", "tenant": "globex"}))
        .await;
    assert_eq!(made["tenant"], "globex");
    // The global admin's token sees globex alone: not acme's token, not a backup of all.
    let (_, list) = f.send_api(&ada, Get, "/v1/tokens", None, None).await;
    assert!(!list.to_string().contains(&f.token_id), "{list}");
    let (status, _) = f
        .send_api(&ada, Get, &format!("/v1/tokens/{}", f.token_id), None, None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = f.send_api(&ada, Get, "/v1/backup", None, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = f
        .send_api(&ada, Post, "/v1/tokens", Some(json!({"name": "g1"})), None)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["token"]["tenant"], "globex");

    // Each tenant's admins see the API tokens acting there, and no others.
    let names = |list: &Value| -> Vec<String> {
        let mut n: Vec<String> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_owned())
            .collect();
        n.sort();
        n
    };
    let (_, list) = f.send(ALICE, Get, "/v1/api-tokens", None).await;
    assert_eq!(names(&list), ["fixture-ci", "mia-ci"], "{list}");
    let (_, list) = f.send(GUS, Get, "/v1/api-tokens", None).await;
    assert_eq!(names(&list), ["ada-ci"], "{list}");
    let (status, _) = f
        .send(
            GUS,
            Delete,
            &format!("/v1/api-tokens/{}", made["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

/// The role is checked on every use: an API token whose user no longer holds the REST API role
/// in its tenant (the config changed) is refused with `api_role_required`; one made before API
/// tokens had a tenant of their own acts in `default`, and only for a user who holds the role
/// there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_token_stops_working_when_its_user_loses_the_api_role() {
    let f = Fixture::with_tenants(API_TENANTS, Some("acme"), ALICE).await;
    // gil is globex's operator and no API user (any more).
    let gil = f.stored_api_token("gil", "globex", "old").await;
    for (verb, path, body) in [
        (Get, "/v1/tokens", None),
        (Post, "/v1/tokens", Some(json!({"name": "by-gil"}))),
    ] {
        let (status, answer) = f.send_api(&gil, verb, path, body, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {answer}");
        assert_eq!(answer["error"]["code"], "api_role_required", "{answer}");
    }
    // Refused, and audited where globex's admins see it.
    let globex = f.audit_text(GUS).await;
    assert!(
        globex.contains("\"gil\"") && globex.contains("REST API role"),
        "{globex}"
    );
    // Made in `default` before: mia has no role there; the global API user acts there alone.
    let old = f.stored_api_token("mia", "default", "legacy").await;
    let (status, answer) = f.send_api(&old, Get, "/v1/tokens", None, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    assert_eq!(answer["error"]["code"], "api_role_required", "{answer}");
    let ada = f.stored_api_token("ada", "default", "legacy").await;
    let (status, list) = f.send_api(&ada, Get, "/v1/tokens", None, None).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert!(!list.to_string().contains(&f.token_id), "{list}");
}

/// Denials are filed in the tenant they happened in: globex's admin reads of a globex operator's
/// refusal, acme's admin reads nothing of it (no user, token name or id of globex's).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denial_is_filed_in_the_tenant_it_happened_in() {
    let f = Fixture::with_tenants(API_TENANTS, Some("acme"), ALICE).await;
    let (status, body) = f
        .send(
            GIL,
            Post,
            "/v1/tokens",
            Some(json!({"name": "globex-project-titan", "owner": "gus"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    // gina, globex's auditor, tries a change on a globex token.
    let (status, made) = f
        .send(
            GUS,
            Post,
            "/v1/tokens",
            Some(json!({"name": "globex-merger"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let (status, body) = f.send(GINA, Delete, "/v1/tokens/globex-merger", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let globex = f.audit_text(GUS).await;
    assert!(
        globex.contains("\"gil\"") && globex.contains("\"gina\"") && globex.contains("denied"),
        "{globex}"
    );
    for viewer in [ALICE, CAROL] {
        let acme = f.audit_text(viewer).await;
        for word in ["gil", "gina", "globex"] {
            assert!(!acme.contains(word), "{} reads {word}: {acme}", viewer.user);
        }
    }
    // acme's operator's denial goes to acme (the only tenant of theirs).
    let (status, _) = f
        .send(
            BOB,
            Post,
            "/v1/tokens",
            Some(json!({"name": "for-carol", "owner": "carol"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(f.audit_text(ALICE).await.contains("\"bob\""));
    assert!(!f.audit_text(GUS).await.contains("\"bob\""));
}

/// A token from `secret` with the same id and another secret, its checksum right: what an
/// attacker who knows a token's id (lists show it) sends.
fn wrong_secret_for(secret: &str) -> String {
    let kind = &secret[..4];
    let id = &secret[4..4 + gatepass_protocol::token::ID_LEN];
    let other =
        gatepass_protocol::token::generate(gatepass_protocol::token::TokenKind::Api).unwrap();
    let fresh = &other.expose()[4 + gatepass_protocol::token::ID_LEN..]
        [..gatepass_protocol::token::SECRET_LEN];
    let body = format!("{kind}{id}{fresh}");
    let mut v = crc32fast::hash(body.as_bytes());
    let mut digits = [b'0'; gatepass_protocol::token::CHECKSUM_LEN];
    for d in digits.iter_mut().rev() {
        *d = gatepass_protocol::token::ALPHABET[(v % 62) as usize];
        v /= 62;
    }
    let forged = format!("{body}{}", String::from_utf8_lossy(&digits));
    assert!(gatepass_protocol::token::parse(&forged).is_ok(), "{forged}");
    forged
}

/// A wrong secret for a known token is an attack on that token: its tenant's admins read of it
/// (an enrollment token's redemption, an API token's use), and no other tenant's do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_is_filed_in_the_tenant_of_the_token_it_names() {
    let f = Fixture::with_tenants(API_TENANTS, Some("acme"), ALICE).await;
    let (status, made) = f
        .send(ALICE, Post, "/v1/tokens", Some(json!({"name": "target"})))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let target = made["token"]["id"].as_str().unwrap().to_owned();
    let forged = wrong_secret_for(made["secret"].as_str().unwrap());
    let mut redeem = Request::post("/v1/redeem")
        .header(header::AUTHORIZATION, format!("Bearer {forged}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(json!({"hostname": "probe2"}).to_string()))
        .unwrap();
    redeem.extensions_mut().insert(Peer::Tcp {
        addr: "10.0.0.9:4000".parse().unwrap(),
    });
    let (status, _) = answer(redeem_router(f.state.clone()), redeem).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (mia, _) = f.api_token_of(MIA, json!({"name": "mia-ci"})).await;
    let (status, _) = f
        .send_api(&wrong_secret_for(&mia), Get, "/v1/tokens", None, None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let acme = f.audit_text(ALICE).await;
    assert!(acme.contains("probe2") && acme.contains(&target), "{acme}");
    assert!(acme.contains("wrong secret"), "{acme}");
    let globex = f.audit_text(GUS).await;
    assert!(
        !globex.contains("probe2") && !globex.contains(&target) && !globex.contains("wrong secret"),
        "{globex}"
    );
}

impl Fixture {
    /// `GET /v1/events` with API token `secret`: the answer's body, to read.
    async fn events_api(&self, secret: &str) -> Body {
        let mut req = Request::get("/v1/events")
            .header(header::AUTHORIZATION, format!("Bearer {secret}"))
            .body(Body::empty())
            .unwrap();
        req.extensions_mut().insert(Peer::Tcp {
            addr: "10.9.9.9:5000".parse().unwrap(),
        });
        let Ok(resp) = admin_router(self.state.clone()).oneshot(req).await;
        assert_eq!(resp.status(), StatusCode::OK);
        resp.into_body()
    }
}

/// Reads a stream until it ends (`true`) or `marker` arrives (`false`); what it read.
async fn read_until_end(body: &mut Body, marker: &str) -> (bool, String) {
    let mut seen = String::new();
    let ended = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        loop {
            match body.frame().await {
                Some(Ok(frame)) => {
                    if let Some(data) = frame.data_ref() {
                        seen.push_str(&String::from_utf8_lossy(data));
                        if seen.contains(marker) {
                            return false;
                        }
                    }
                }
                _ => return true,
            }
        }
    })
    .await;
    (ended == Ok(true), seen)
}

/// An API token's event stream ends when the token is deleted: at once, before the change that
/// follows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_tokens_event_stream_ends_when_it_is_deleted() {
    let f = Fixture::new().await;
    let secret = f.api_token(json!({"name": "sse"})).await;
    let mut body = f.events_api(&secret).await;
    let (status, _) = f.send(ADMIN, Delete, "/v1/api-tokens/sse", None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = f
        .send(
            ADMIN,
            Post,
            "/v1/tokens",
            Some(json!({"name": "after-delete"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (ended, seen) = read_until_end(&mut body, "after-delete").await;
    assert!(ended && !seen.contains("after-delete"), "{seen}");
}

/// An API token's event stream ends when the token expires (the injected clock passes it); a
/// socket caller's stream goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_tokens_event_stream_ends_when_it_expires() {
    let f = Fixture::new().await;
    let secret = f.api_token(json!({"name": "sse", "ttl": "1d"})).await;
    let mut api = f.events_api(&secret).await;
    let mut req = Request::get("/v1/events").body(Body::empty()).unwrap();
    req.extensions_mut().insert(Peer::Unix {
        uid: ADMIN.uid,
        user: ADMIN.user.to_owned(),
    });
    let Ok(resp) = admin_router(f.state.clone()).oneshot(req).await;
    let mut socket = resp.into_body();
    let (status, _) = f
        .send(
            ADMIN,
            Post,
            "/v1/tokens",
            Some(json!({"name": "before-expiry"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (ended, seen) = read_until_end(&mut api, "before-expiry").await;
    assert!(!ended, "{seen}");
    f.clock.advance(86_400);
    let (status, _) = f
        .send(
            ADMIN,
            Post,
            "/v1/tokens",
            Some(json!({"name": "after-expiry"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (ended, seen) = read_until_end(&mut api, "after-expiry").await;
    assert!(ended && !seen.contains("after-expiry"), "{seen}");
    let (ended, seen) = read_until_end(&mut socket, "after-expiry").await;
    assert!(!ended, "{seen}");
}

/// `/metrics` over HTTPS follows the socket's rule (an operator: 403 both ways); with several
/// tenants, a tenant's admin gets its token counts and none of the daemon-wide series.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_hold_only_what_the_caller_sees_over_either_listener() {
    let f = Fixture::with_tenants(API_TENANTS, Some("acme"), ALICE).await;
    let (mia, _) = f.api_token_of(MIA, json!({"name": "mia-ci"})).await;
    let (status, body) = f.send_api(&mia, Get, "/metrics", None, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, _) = f.send(BOB, Get, "/metrics", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (alice, _) = f
        .api_token_of(ALICE, json!({"name": "prom", "scope": "read"}))
        .await;
    let daemon_wide = [
        "gatepass_redeem_total",
        "gatepass_redeem_refusals_total",
        "gatepass_http_requests_total",
        "gatepass_events_subscribers",
        "gatepass_store_batch_size",
        "gatepass_store_journal_bytes",
        "process_",
    ];
    let (_, socket) = f.send(ALICE, Get, "/metrics", None).await;
    let (status, https) = f.send_api(&alice, Get, "/metrics", None, None).await;
    assert_eq!(status, StatusCode::OK, "{https}");
    for text in [&socket, &https] {
        let text = text.as_str().unwrap();
        assert!(text.contains("gatepass_tokens{"), "{text}");
        for series in daemon_wide {
            assert!(
                !text.contains(series),
                "{series} in a tenant scrape: {text}"
            );
        }
    }
    // The global admin on the socket sees the whole daemon.
    let (_, all) = f.send(ADMIN, Get, "/metrics", None).await;
    let all = all.as_str().unwrap();
    assert!(
        all.contains("gatepass_redeem_total{") && all.contains("gatepass_events_subscribers"),
        "{all}"
    );
}
