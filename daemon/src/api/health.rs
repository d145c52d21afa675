//! Whether the daemon can do its work, for load balancers, systemd and Prometheus:
//! `GET /readyz` (every listener), the scrape behind `GET /metrics` (`scrape`), and the
//! optional plain-HTTP `[metrics] listen` router (`/metrics`, `/healthz`, `/readyz`, nothing
//! else, no credentials: bound to a loopback address only).
//!
//! `/healthz` says the process answers and its store can serve; `/readyz` says more: the store
//! is writable, the journal has room, and every listener the config names is accepting. Its
//! body names each check, so the failing one is read off the answer:
//! `{"ready": false, "checks": {"store": "ok", "journal": "97% full…", "listeners": "ok"}}`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::extract::State as S;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;

use super::State;
use crate::domain::DurabilityStats;
use crate::metrics::{Snapshot, TokenCounts};

/// From this share of the journal's size on, the daemon is not ready: the next records may not
/// fit before a checkpoint has folded the journal in.
pub const JOURNAL_FULL: f64 = 0.9;

/// How many of the configured listeners accept connections (each accept loop adds itself when it
/// starts and removes itself when it ends).
#[derive(Debug, Default)]
pub struct Listeners {
    pub expected: AtomicUsize,
    pub up: AtomicUsize,
}

impl Listeners {
    /// Marks one listener up until the guard is dropped (its accept loop ended).
    pub fn up(self: &Arc<Self>) -> ListenerUp {
        self.up.fetch_add(1, Ordering::SeqCst);
        ListenerUp(self.clone())
    }
}

/// One accepting listener; dropped when its loop ends.
#[derive(Debug)]
pub struct ListenerUp(Arc<Listeners>);

impl Drop for ListenerUp {
    fn drop(&mut self) {
        self.0.up.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The checks of `/readyz`, and whether all passed.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Readiness {
    pub ready: bool,
    /// The store's engine: `redb` (embedded) or `postgres` (`gatepass doctor` says which).
    pub engine: &'static str,
    /// Each check: `ok`, or why not.
    pub checks: BTreeMap<&'static str, String>,
}

/// The checks, from what the store and the listeners said (pure: tested without a daemon).
pub fn readiness(
    store: Result<(), String>,
    durability: DurabilityStats,
    listeners_up: usize,
    listeners_expected: usize,
) -> Readiness {
    let mut checks = BTreeMap::new();
    checks.insert(
        "store",
        match store {
            Ok(()) => "ok".to_owned(),
            Err(e) => e,
        },
    );
    // A store without a journal (PostgreSQL, or `journal_mib = 0`) has no such check.
    if durability.journal_capacity > 0 {
        let fill = durability.journal_bytes as f64 / durability.journal_capacity as f64;
        let journal = if fill >= JOURNAL_FULL {
            format!(
                "{:.0}% full ({} of {} bytes): a checkpoint has not folded it in",
                fill * 100.0,
                durability.journal_bytes,
                durability.journal_capacity
            )
        } else {
            "ok".to_owned()
        };
        checks.insert("journal", journal);
    }
    checks.insert(
        "listeners",
        if listeners_up >= listeners_expected {
            "ok".to_owned()
        } else {
            format!("{listeners_up} of {listeners_expected} accepting")
        },
    );
    Readiness {
        ready: checks.values().all(|v| v == "ok"),
        engine: "",
        checks,
    }
}

/// The store's health, as one line (`health` asks the engine; a stopped store or an
/// unreachable database says why).
async fn store_health(state: &Arc<State>) -> Result<(), String> {
    super::blocking(state, |s| s.health())
        .await
        .map_err(|e| e.message)
}

/// Runs the checks.
pub async fn check(state: &Arc<State>) -> Readiness {
    let store = store_health(state).await;
    let mut r = readiness(
        store,
        state.store.durability_stats(),
        state.listeners.up.load(Ordering::SeqCst),
        state.listeners.expected.load(Ordering::SeqCst),
    );
    r.engine = match state.config.store.url {
        Some(_) => "postgres",
        None => "redb",
    };
    r
}

/// `GET /readyz`: 200 when every check passes, else 503; the body names each check.
pub async fn readyz(S(state): S<Arc<State>>) -> Response {
    let r = check(&state).await;
    let status = if r.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(r)).into_response()
}

/// The text of `GET /metrics`: the gauges read from the store now, then every series. A store
/// that cannot be read leaves its gauges out and says so in `gatepass_store_up 0`; the scrape
/// itself still answers.
pub async fn scrape(state: &Arc<State>) -> String {
    scrape_for(state, Arc::new(|_| true), false).await
}

/// Which tenants' tokens a scrape counts.
pub type Sees = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// `scrape`, counting only the tokens of the tenants `sees` accepts; `limited`: holding only the
/// series of those tenants (`metrics::TENANT_SERIES`), none that counts every tenant's activity.
pub async fn scrape_for(state: &Arc<State>, sees: Sees, limited: bool) -> String {
    let ready = check(state).await;
    let store_up = ready.checks.get("store").is_some_and(|c| c == "ok");
    let now = state.clock.now();
    let soon = gatepass_protocol::Timestamp(now.0.saturating_add(24 * 3600));
    // A store that just failed its check is not asked again (each ask may wait seconds).
    let listed = store_up.then(|| {
        super::blocking(state, move |s| {
            let records = s.list_tokens()?;
            let mut t = TokenCounts {
                by_status: gatepass_protocol::TokenStatus::ALL
                    .iter()
                    .map(|s| (s.as_str(), 0))
                    .collect(),
                ..TokenCounts::default()
            };
            for r in records.iter().filter(|r| sees(&r.tenant)) {
                let status = r.status(now);
                *t.by_status.entry(status.as_str()).or_default() += 1;
                t.hosts += r.hosts;
                if status == gatepass_protocol::TokenStatus::Active
                    && r.expires_at.is_some_and(|e| e <= soon)
                {
                    t.expiring_soon += 1;
                }
                if r.uses != r.hosts {
                    t.uses_differ += 1;
                }
            }
            Ok(t)
        })
    });
    let tokens = match listed {
        Some(l) => l.await.ok(),
        None => None,
    };
    let snapshot = Snapshot {
        store_up: store_up && tokens.is_some(),
        tokens,
        ready: ready.ready,
        durability: state.store.durability_stats(),
        subscribers: state.events.receiver_count(),
        limited,
    };
    state.metrics.render(&snapshot)
}

/// An answer in the text format.
pub fn metrics_answer(text: String) -> Response {
    ([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], text).into_response()
}

async fn open_metrics(S(state): S<Arc<State>>) -> Response {
    metrics_answer(scrape(&state).await)
}

/// The plain-HTTP `[metrics] listen` router: the scrape and `/healthz` (`/readyz` is added to
/// every router by `api::finish`), nothing else.
pub fn metrics_routes() -> Router<Arc<State>> {
    Router::new()
        .route("/metrics", get(open_metrics))
        .route("/healthz", get(super::admin::healthz))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(bytes: u64, capacity: u64) -> DurabilityStats {
        DurabilityStats {
            journal_bytes: bytes,
            journal_capacity: capacity,
            ..DurabilityStats::default()
        }
    }

    #[test]
    fn ready_when_every_check_passes() {
        let r = readiness(Ok(()), stats(10, 1000), 2, 2);
        assert!(r.ready, "{r:?}");
        assert!(r.checks.values().all(|v| v == "ok"));
    }

    #[test]
    fn a_full_journal_is_not_ready_and_says_so() {
        let r = readiness(Ok(()), stats(950, 1000), 2, 2);
        assert!(!r.ready);
        assert_eq!(r.checks["store"], "ok");
        assert!(r.checks["journal"].starts_with("95% full"), "{r:?}");
        // No journal at all (PostgreSQL, journal_mib = 0): no journal check, never full.
        let r = readiness(Ok(()), stats(0, 0), 1, 1);
        assert!(r.ready);
        assert!(!r.checks.contains_key("journal"), "{r:?}");
    }

    #[test]
    fn an_unavailable_store_or_a_listener_down_is_not_ready() {
        let r = readiness(Err("the database is unreachable".into()), stats(0, 0), 2, 2);
        assert!(!r.ready);
        assert_eq!(r.checks["store"], "the database is unreachable");
        let r = readiness(Ok(()), stats(0, 0), 1, 2);
        assert!(!r.ready);
        assert_eq!(r.checks["listeners"], "1 of 2 accepting");
    }
}
