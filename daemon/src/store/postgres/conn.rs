//! The connections of the engine's threads (writer, readers, pre-check, listener):
//! tokio-postgres driven by a small runtime of the thread's own. Statements started together go
//! out together and their answers come back together (the protocol's pipelining), so the steps
//! of a batch cost one round trip each rather than one per statement; a single statement waits
//! like a blocking call (`run`).
//!
//! No wait on the database is longer than a caller's: connecting (the handshake and login too,
//! not only the socket) gives up after `CONNECT_WITHIN`, and a round trip unanswered after
//! `super::ANSWER_WITHIN` drops the connection (its statements fail at once, and the thread
//! makes a new one for its next work). A peer gone silent (a failover that left the old address
//! black-holed, a proxy that stopped forwarding) is then noticed even where TCP cannot notice it
//! (a middlebox that acknowledges packets it never forwards). One connection found silent
//! makes every other connection of the daemon's made before it suspect (`Silenced`): each is
//! made again before its next use, rather than each costing a caller its own wait.

use std::future::Future;
use std::time::Duration;

use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::types::ToSql;
use tokio_postgres::{AsyncMessage, Client, Notification, Row, Socket, Statement, ToStatement};

use crate::error::StoreError;

/// How long making a connection may take, handshake and login included.
pub(crate) const CONNECT_WITHIN: Duration = Duration::from_secs(3);

type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// How many times one of a daemon's connections was found silent: shared by its connections.
pub(crate) type Silenced = std::sync::Arc<std::sync::atomic::AtomicU64>;

/// A connection and the runtime that drives it.
pub(crate) struct Pipelined {
    rt: tokio::runtime::Runtime,
    pub client: Client,
    /// The task that drives the connection: aborted, the connection closes.
    driver: tokio::task::AbortHandle,
    /// `NOTIFY`s received, when the connection was made to listen (`connect_listening`).
    notes: Option<tokio::sync::mpsc::UnboundedReceiver<Notification>>,
    /// The longest a round trip may take before the connection is dropped.
    wait_at_most: Duration,
    /// Bumped when a connection is found silent; `born` is its value when this one was made.
    silenced: Silenced,
    born: u64,
}

impl Pipelined {
    /// A connection of its own (the engine's tests).
    #[cfg(test)]
    pub(crate) fn connect<T>(config: &tokio_postgres::Config, tls: T) -> Result<Self, StoreError>
    where
        T: MakeTlsConnect<Socket> + Send + 'static,
        T::Stream: Send + 'static,
        <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
    {
        Self::connect_sharing(config, tls, false, Silenced::default())
    }

    /// A connection that drops (`is_closed`) once another sharing `silenced` is found silent;
    /// with `listen`, its notifications (`LISTEN`) are kept for `notification`.
    pub(crate) fn connect_sharing<T>(
        config: &tokio_postgres::Config,
        tls: T,
        listen: bool,
        silenced: Silenced,
    ) -> Result<Self, StoreError>
    where
        T: MakeTlsConnect<Socket> + Send + 'static,
        T::Stream: Send + 'static,
        <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
    {
        let born = silenced.load(std::sync::atomic::Ordering::SeqCst);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(StoreError::Io)?;
        let (client, mut connection) = rt
            .block_on(async { tokio::time::timeout(CONNECT_WITHIN, config.connect(tls)).await })
            .map_err(|_| {
                StoreError::Stopped(format!(
                    "the database did not let a connection in within {} s",
                    CONNECT_WITHIN.as_secs()
                ))
            })??;
        let (notes_tx, notes) = tokio::sync::mpsc::unbounded_channel();
        // Driven whenever the thread waits in `run`: a batch's statements and their answers.
        let driver = rt.spawn(async move {
            loop {
                match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                    Some(Ok(AsyncMessage::Notification(n))) => {
                        if listen {
                            let _ = notes_tx.send(n);
                        }
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => {
                        tracing::debug!(error = %e, "a database connection ended");
                        return;
                    }
                    None => return,
                }
            }
        });
        Ok(Pipelined {
            rt,
            client,
            driver: driver.abort_handle(),
            notes: listen.then_some(notes),
            wait_at_most: super::ANSWER_WITHIN,
            silenced,
            born,
        })
    }

    /// Waits for `f` (statements of `client`'s), driving the connection meanwhile. A round
    /// trip that takes longer than a caller waits drops the connection: `f` then fails at once
    /// and `is_closed` says so.
    pub(crate) fn run<F: Future>(&self, f: F) -> F::Output {
        self.rt.block_on(async {
            let mut f = std::pin::pin!(f);
            if let Ok(out) = tokio::time::timeout(self.wait_at_most, &mut f).await {
                return out;
            }
            tracing::warn!(
                "the database did not answer within {} s: the connection is dropped",
                self.wait_at_most.as_secs()
            );
            self.driver.abort();
            self.silenced
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            f.await
        })
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.client.is_closed()
            || self.driver.is_finished()
            || self.silenced.load(std::sync::atomic::Ordering::SeqCst) != self.born
    }

    /// The next notification, or `None` when none came within `within`.
    pub(crate) fn notification(&mut self, within: Duration) -> Option<Notification> {
        let notes = self.notes.as_mut()?;
        self.rt
            .block_on(async { tokio::time::timeout(within, notes.recv()).await })
            .ok()
            .flatten()
    }

    pub(crate) fn query<T: ?Sized + ToStatement>(
        &self,
        statement: &T,
        params: Params<'_>,
    ) -> Result<Vec<Row>, StoreError> {
        Ok(self.run(self.client.query(statement, params))?)
    }

    pub(crate) fn query_opt<T: ?Sized + ToStatement>(
        &self,
        statement: &T,
        params: Params<'_>,
    ) -> Result<Option<Row>, StoreError> {
        Ok(self.run(self.client.query_opt(statement, params))?)
    }

    pub(crate) fn prepare(&self, sql: &str) -> Result<Statement, StoreError> {
        Ok(self.run(self.client.prepare(sql))?)
    }

    pub(crate) fn batch_execute(&self, sql: &str) -> Result<(), StoreError> {
        Ok(self.run(self.client.batch_execute(sql))?)
    }
}

impl Drop for Pipelined {
    fn drop(&mut self) {
        self.driver.abort();
    }
}
