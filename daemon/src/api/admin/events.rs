//! `GET /v1/events`: every durable change as server-sent events, for live consoles; each
//! caller hears of what they may see (their tenants; operators their own tokens, hosts and
//! actions).

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::State as S;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use gatepass_protocol::{ChangeEvent, ChangeKind};
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use super::{Routes, Verb};
use crate::api::access::Caller;
use crate::api::{ApiError, State, blocking};

pub(super) fn routes(r: Routes) -> Routes {
    r.add(Verb::Get, "/v1/events", events)
}

async fn events(caller: Caller, S(state): S<Arc<State>>) -> Result<Response, ApiError> {
    let mut shutdown = state.shutdown.clone();
    let subscribed = state.events.subscribe();
    // Batches begun before the subscription built no events (nobody listened): they are made
    // visible before the stream opens, so the list a client takes next holds them.
    blocking(&state, |s| s.sync()).await?;
    let stream = BroadcastStream::new(subscribed)
        .filter(move |item| {
            // Each caller hears of what they may see: the tenants they see whole, and in the
            // others their own tokens, hosts and actions. A deletion carries the token as it
            // was, so it reaches exactly those who saw the token.
            let visible = match item {
                Ok(c) if c.kind == ChangeKind::Resync => true,
                Ok(c) if !caller.sees_all() => {
                    c.token
                        .as_ref()
                        .is_some_and(|t| caller.may_see(&t.tenant, &t.owner))
                        || c.host
                            .as_ref()
                            .is_some_and(|h| caller.may_see(&h.tenant, &h.owner))
                        || c.audit.as_ref().is_some_and(|a| {
                            caller.sees_tenant(&a.tenant) || a.actor == caller.user
                        })
                }
                _ => true,
            };
            std::future::ready(visible)
        })
        .map(|item| {
            let change = match item {
                // A deletion is sent as the deleted token's id alone.
                Ok(mut c) if c.kind == ChangeKind::TokenDeleted => {
                    c.token = None;
                    c
                }
                Ok(c) => c,
                Err(BroadcastStreamRecvError::Lagged(_)) => ChangeEvent {
                    kind: ChangeKind::Resync,
                    token: None,
                    token_id: None,
                    host: None,
                    audit: None,
                },
            };
            let data = serde_json::to_string(&change).unwrap_or_else(|_| "{}".into());
            Ok::<_, Infallible>(Event::default().event(change.kind.as_str()).data(data))
        })
        .take_until(async move {
            crate::server::stopped(&mut shutdown).await;
        });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}
