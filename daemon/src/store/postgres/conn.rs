//! The writer's connection: tokio-postgres driven by a small runtime of the writer thread's
//! own. Statements started together go out together and their answers come back together
//! (the protocol's pipelining), so the steps of a batch cost one round trip each rather than
//! one per statement; a single statement waits like a blocking call (`run`).

use std::future::Future;

use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::{Client, Socket};

use crate::error::StoreError;

/// A connection and the runtime that drives it.
pub(crate) struct Pipelined {
    rt: tokio::runtime::Runtime,
    pub client: Client,
}

impl Pipelined {
    pub(crate) fn connect<T>(config: &tokio_postgres::Config, tls: T) -> Result<Self, StoreError>
    where
        T: MakeTlsConnect<Socket> + Send + 'static,
        T::Stream: Send + 'static,
        <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
    {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(StoreError::Io)?;
        let (client, connection) = rt.block_on(config.connect(tls))?;
        // Driven whenever the thread waits in `run`: a batch's statements and their answers.
        rt.spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "the writer's database connection ended");
            }
        });
        Ok(Pipelined { rt, client })
    }

    /// Waits for `f` (statements of `client`'s), driving the connection meanwhile.
    pub(crate) fn run<F: Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.client.is_closed()
    }
}
