//! Change events across daemons: a batch's events are sent with `NOTIFY` inside its
//! transaction (PostgreSQL delivers them at commit, in commit order), tagged with the daemon
//! that made them; each daemon `LISTEN`s on a connection of its own and passes on the events
//! other daemons made to its `/v1/events` subscribers. An event too large for a notification,
//! or a listener that lost its connection, becomes a `resync` (list again).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use gatepass_protocol::ChangeEvent;
use tokio::sync::broadcast;

use super::Connector;
use crate::error::StoreError;

pub(super) const CHANNEL: &str = "gatepass_events";
/// PostgreSQL refuses payloads of 8,000 bytes and more.
const MAX_PAYLOAD: usize = 7_900;

/// A random name for this daemon's notifications, so it skips its own.
pub(super) fn origin() -> Result<String, StoreError> {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).map_err(|e| StoreError::Io(std::io::Error::other(e.to_string())))?;
    Ok(crate::domain::model::hex(&b))
}

/// The statement that queues a batch's notifications ($1: `CHANNEL`, $2: `payloads`); sent
/// when the transaction commits.
pub(super) const NOTIFY: &str = "SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p";

/// `changes` as notification payloads for the other daemons: this daemon's name, then the
/// event (or nothing: list again, when it is too large for a notification).
pub(super) fn payloads(changes: &[ChangeEvent], origin: &str) -> Result<Vec<String>, StoreError> {
    let mut payloads = Vec::with_capacity(changes.len());
    for c in changes {
        let json = serde_json::to_string(c)?;
        payloads.push(if json.len() <= MAX_PAYLOAD {
            format!("{origin}\n{json}")
        } else {
            format!("{origin}\n")
        });
    }
    Ok(payloads)
}

/// How long the listener's connection may be quiet before it is asked whether it still works
/// (a peer gone silent sends no notifications and no error either).
const QUIET_AT_MOST: Duration = Duration::from_secs(2);

/// The listener thread: until `stopping`, passes other daemons' events to `events`.
pub(super) fn run(
    connector: &Connector,
    events: &broadcast::Sender<ChangeEvent>,
    origin: &str,
    stopping: &AtomicBool,
) {
    let mut first = true;
    while !stopping.load(Ordering::SeqCst) {
        let mut conn = match connector.connect_listening() {
            Ok(c) => c,
            Err(_) => {
                std::thread::sleep(Duration::from_millis(500));
                continue;
            }
        };
        if conn.batch_execute(&format!("LISTEN {CHANNEL}")).is_err() {
            continue;
        }
        if !first {
            // What was sent while no one listened is lost: subscribers list again.
            let _ = events.send(ChangeEvent::resync());
        }
        first = false;
        let mut heard = std::time::Instant::now();
        loop {
            if stopping.load(Ordering::SeqCst) {
                return;
            }
            if conn.is_closed() {
                break; // reconnect
            }
            let Some(note) = conn.notification(Duration::from_millis(250)) else {
                if heard.elapsed() >= QUIET_AT_MOST {
                    // Unanswered in time, the connection is dropped (`Pipelined::run`).
                    if conn.batch_execute("").is_err() {
                        break;
                    }
                    heard = std::time::Instant::now();
                }
                continue;
            };
            heard = std::time::Instant::now();
            let Some((from, json)) = note.payload().split_once('\n') else {
                continue;
            };
            if from == origin {
                continue;
            }
            let event = match serde_json::from_str::<ChangeEvent>(json) {
                Ok(e) => e,
                Err(_) => ChangeEvent::resync(),
            };
            let _ = events.send(event);
        }
    }
}
