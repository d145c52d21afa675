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
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "data_dir = {:?}\n[store]\ncheck_on_start = false\n[limits]\njournal_mib = 1\n\
             [access]\nadmins = [\"ada\"]\noperators = [\"otto\"]\nauditors = [\"audrey\"]\n",
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
                Some(json!({"name": "fixture", "max_uses": 5})),
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
                ADMIN,
                Verb::Post,
                "/v1/api-tokens",
                Some(json!({"name": "fixture-ci"})),
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
    row(Post,   "/v1/api-tokens",                [201,  201,     201,    403]),
    row(Delete, "/v1/api-tokens/{id}",           [200,  404,     404,    403]),
    row(Get,    "/v1/audit",                     [200,  200,     200,    403]),
    row(Get,    "/v1/audit/verify",              [200,  403,     200,    403]),
    row(Get,    "/v1/events",                    [200,  200,     200,    403]),
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
