//! `GET /v1/events`: every durable change as server-sent events, for live consoles; each
//! caller hears of what they may see (their tenants; operators their own tokens, hosts and
//! actions). A stream opened with an API token ends when the token is deleted (at once: the
//! deletion is a change like any other) or expires (checked, against the daemon's clock, at
//! every change and every `RECHECK`); a socket caller's stream lasts until the daemon stops.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State as S;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use gatepass_protocol::{AuditAction, ChangeEvent, ChangeKind};
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::sync::watch;
use tokio::time::{Interval, MissedTickBehavior};

use super::{Routes, Verb};
use crate::api::access::Caller;
use crate::api::{ApiError, State, blocking};

/// How often an API token's open stream checks that the token still works, when no change
/// comes to check it by.
const RECHECK: Duration = Duration::from_secs(5);

pub(super) fn routes(r: Routes) -> Routes {
    r.add(Verb::Get, "/v1/events", events)
}

async fn events(caller: Caller, S(state): S<Arc<State>>) -> Result<Response, ApiError> {
    let shutdown = state.shutdown.clone();
    let subscribed = state.events.subscribe();
    // Batches begun before the subscription built no events (nobody listened): they are made
    // visible before the stream opens, so the list a client takes next holds them.
    blocking(&state, |s| s.sync()).await?;
    let recheck = caller.api_token.is_some().then(|| {
        let mut every = tokio::time::interval(RECHECK);
        every.set_missed_tick_behavior(MissedTickBehavior::Delay);
        every
    });
    let feed = Feed {
        changes: subscribed,
        shutdown,
        caller,
        state,
        recheck,
    };
    let stream = futures_util::stream::unfold(feed, Feed::next);
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// One caller's stream: the changes it hears of, until the daemon stops (or its API token
/// stops working).
struct Feed {
    changes: broadcast::Receiver<ChangeEvent>,
    shutdown: watch::Receiver<bool>,
    caller: Caller,
    state: Arc<State>,
    /// For an API token's stream: when to check the token again.
    recheck: Option<Interval>,
}

impl Feed {
    /// The next event the caller may see; `None` ends the stream.
    async fn next(mut self) -> Option<(Result<Event, Infallible>, Feed)> {
        loop {
            let change = tokio::select! {
                () = crate::server::stopped(&mut self.shutdown) => return None,
                got = self.changes.recv() => match got {
                    Ok(c) => Some(c),
                    // Missed changes: the client lists again.
                    Err(RecvError::Lagged(_)) => Some(ChangeEvent::resync()),
                    Err(RecvError::Closed) => return None,
                },
                () = tick(self.recheck.as_mut()) => None,
            };
            if !self.token_works(change.as_ref()).await {
                return None;
            }
            let Some(mut change) = change.filter(|c| visible(&self.caller, c)) else {
                continue;
            };
            // A deletion is sent as the deleted token's id alone.
            if change.kind == ChangeKind::TokenDeleted {
                change.token = None;
            }
            let data = serde_json::to_string(&change).unwrap_or_else(|_| "{}".into());
            let event = Event::default().event(change.kind.as_str()).data(data);
            return Some((Ok(event), self));
        }
    }

    /// Whether the caller's API token (if any) still works, as of `change` (`None`: a
    /// recheck): not expired, and not deleted — by that change, or, when changes may have been
    /// missed or none came, by what the store says.
    async fn token_works(&self, change: Option<&ChangeEvent>) -> bool {
        let Some(api) = &self.caller.api_token else {
            return true;
        };
        if self.state.clock.now() >= api.expires_at {
            return false;
        }
        if let Some(c) = change.filter(|c| c.kind != ChangeKind::Resync) {
            return !c
                .audit
                .as_ref()
                .is_some_and(|a| a.action == AuditAction::ApiTokenDeleted && a.target == api.id);
        }
        let id = api.id.clone();
        matches!(
            blocking(&self.state, move |s| s.get_api_token(&id)).await,
            Ok(Some(_))
        )
    }
}

/// Waits for the next recheck (forever, for a stream that has none).
async fn tick(recheck: Option<&mut Interval>) {
    match recheck {
        Some(every) => {
            every.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// Whether `caller` hears of `c`: the tenants they see whole, and in the others their own
/// tokens, hosts and actions. A deletion carries the token as it was (inside the daemon), so
/// it reaches exactly those who saw the token.
fn visible(caller: &Caller, c: &ChangeEvent) -> bool {
    if c.kind == ChangeKind::Resync || caller.sees_all() {
        return true;
    }
    c.token
        .as_ref()
        .is_some_and(|t| caller.may_see(&t.tenant, &t.owner))
        || c.host
            .as_ref()
            .is_some_and(|h| caller.may_see(&h.tenant, &h.owner))
        || c.audit
            .as_ref()
            .is_some_and(|a| caller.sees_tenant(&a.tenant) || a.actor == caller.user)
}
