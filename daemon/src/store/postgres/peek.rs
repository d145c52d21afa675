//! The redeem pre-check on PostgreSQL: is this token's secret right? Every redemption asks it
//! before anything else, so it must neither hold one of the runtime's few threads for a round
//! trip to the server nor cost one round trip each. The question is queued and answered
//! through a oneshot; one thread takes every question queued while the last look-up ran and
//! answers them all with one statement (`= ANY($1)`), the way the writer commits a batch.

use std::collections::HashMap;
use std::sync::mpsc::Receiver;

use tokio_postgres::Statement;

use super::conn::Pipelined;

use super::Connector;
use crate::domain::Queued;
use crate::error::StoreError;
use crate::store::codec::decode_token;

/// Questions answered by one statement at most.
const MAX_BATCH: usize = 512;

/// One question: does token `id` exist, and is its stored secret hash `hash_hex`?
pub(super) struct Peek {
    pub id: String,
    pub hash_hex: String,
    pub reply: tokio::sync::oneshot::Sender<Result<Option<bool>, StoreError>>,
}

/// A question and where its answer goes, as `Store::peek_secret_queued` hands it back.
pub(super) fn question(id: &str, hash_hex: &str) -> (Peek, Queued<Option<bool>>) {
    let (reply, rx) = tokio::sync::oneshot::channel();
    let peek = Peek {
        id: id.to_owned(),
        hash_hex: hash_hex.to_owned(),
        reply,
    };
    let queued = Queued {
        rx,
        queued: Ok(()),
        deadline: Some(super::ANSWER_WITHIN),
    };
    (peek, queued)
}

/// The pre-check's thread: until the queue closes, answers what is queued a batch at a time.
pub(super) fn run(connector: &Connector, rx: Receiver<Peek>) {
    let mut client: Option<(Pipelined, Statement)> = None;
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        let ids: Vec<&str> = batch.iter().map(|p| p.id.as_str()).collect();
        let mut found = look_up(connector, &mut client, &ids);
        if found.is_err() && client.as_ref().is_none_or(|(c, _)| c.is_closed()) {
            // The connection broke (the database restarted): a read is safe to try again.
            found = look_up(connector, &mut client, &ids);
        }
        match found {
            Ok(hashes) => {
                for p in batch {
                    let answer = hashes
                        .get(&p.id)
                        .map(|h| crate::secrets::hash_eq(h.as_bytes(), p.hash_hex.as_bytes()));
                    drop(p.reply.send(Ok(answer)));
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "the redeem pre-check could not read the database");
                let e = std::sync::Arc::new(e);
                for p in batch {
                    drop(p.reply.send(Err(StoreError::Aborted(e.clone()))));
                }
            }
        }
    }
}

/// The stored secret hash of each of `ids` that exists.
fn look_up(
    connector: &Connector,
    client: &mut Option<(Pipelined, Statement)>,
    ids: &[&str],
) -> Result<HashMap<String, String>, StoreError> {
    if client.as_ref().is_none_or(|(c, _)| c.is_closed()) {
        *client = None;
        let c = connector.connect_pipelined()?;
        let st = c.prepare("SELECT id, record FROM gp_tokens WHERE id = ANY($1)")?;
        *client = Some((c, st));
    }
    let Some((c, st)) = client.as_mut() else {
        return Err(StoreError::Stopped("no connection".into()));
    };
    let mut hashes = HashMap::with_capacity(ids.len());
    for row in c.query(&*st, &[&ids])? {
        let rec = decode_token(row.get::<_, &[u8]>(1))?;
        hashes.insert(row.get::<_, String>(0), rec.secret_hash);
    }
    Ok(hashes)
}
