//! The PostgreSQL engine: several daemons on one database, with the embedded engine's
//! guarantees. The rules are `crate::domain`'s, run inside PostgreSQL transactions
//! (`tx::PgTx`); this module decides only how they are batched, committed and read.
//!
//! - **Writes**: one writer thread per daemon takes every write queued (up to 256), opens one
//!   transaction, locks the audit chain's head row first (so the daemons' transactions take
//!   turns and the chain never forks), runs each write's rules, stores the head, and commits —
//!   one commit (one WAL flush) for the whole batch, in two round trips (`tx`) — before any
//!   caller hears its answer. A failure of the database aborts the batch and every caller in
//!   it gets an error (503); the writer reconnects for the next batch.
//! - **Reads**: a small pool of connections; every read sees every answered write (committed
//!   before its answer), whichever daemon made it. The redeem pre-check has a thread of its
//!   own that answers queued questions a batch at a time (`peek`).
//! - **Live events**: after its commit a batch's change events go to this daemon's listeners
//!   and, through `NOTIFY`, to every other daemon's (`listen`).
//!
//! The client is `tokio-postgres`, each of the engine's threads (writer, readers, pre-check,
//! listener) driving its connection on a small runtime of its own (`conn`), where no wait is
//! longer than a caller's: a connection gone silent is dropped and made again. Start-up (the
//! schema, the node's check) uses its synchronous face (`postgres`). The rules are plain
//! synchronous Rust, and no thread of the daemon's runtime waits on the database. TLS to the
//! server: `tls`.

mod conn;
mod listen;
mod peek;
mod reads;
pub mod schema;
mod tls;
mod tx;
#[cfg(test)]
mod tx_tests;
mod writer;

use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use conn::Pipelined;
use gatepass_protocol::binary::TokenListBuilder;
use gatepass_protocol::{AuditEvent, AuditQuery, ChangeEvent, SortColumn, Timestamp, TokenKeys};
use postgres::{Client, NoTls};
use tokio::sync::broadcast;

use crate::domain::{
    ApiTokenRecord, AuditCheck, HostRecord, Queued, Store, TokenRecord, Write, Written,
};
use crate::error::StoreError;

/// How long connecting may take before a write or read is answered `store_unavailable`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a caller waits for the database before it is answered `store_unavailable`: a
/// server that stops answering (stopped, or a network that drops everything) must not hold
/// anyone, and the statement timeout cannot help when the server itself is stuck.
const ANSWER_WITHIN: Duration = Duration::from_secs(4);
/// The latest a batch's commit is sent after its oldest write was queued. Its caller stops
/// waiting at `ANSWER_WITHIN`: a write still uncommitted this late is rolled back and its
/// caller's 503 is then the truth (only a commit already sent and slower than the second left
/// may still land after a 503; the host's retry with its key then gets its answer).
const COMMIT_BY: Duration = Duration::from_secs(3);
/// Reader threads, each with a connection.
const READERS: usize = 4;

/// Where the database is and what the daemon proves it is.
#[derive(Clone)]
pub struct Options {
    /// `postgres://USER@HOST:PORT/DB?...` (a host that is a folder is a Unix socket's).
    pub url: String,
    /// The password (from `[store] password_file` or `PGPASSWORD`): never in the URL's logs.
    pub password: Option<zeroize::Zeroizing<String>>,
    /// Fingerprints of the node's HMAC key and CA: the database records the first node's, and
    /// a node with others is refused.
    pub key_fingerprint: String,
    pub ca_fingerprint: String,
    /// The key the audit chain's head is sealed with (`SecretKey::seal_key`).
    pub seal_key: zeroize::Zeroizing<[u8; 32]>,
}

/// The seal of the chain's head (`next_seq`, `last_hash`) under `key`, hex.
pub(crate) fn seal(key: &[u8; 32], next_seq: u64, last_hash: &str) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    let tag = ring::hmac::sign(&key, format!("{next_seq}:{last_hash}").as_bytes());
    crate::domain::model::hex(tag.as_ref())
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("url", &self.url)
            .field("password", &self.password.as_ref().map(|_| "…"))
            .finish()
    }
}

/// A queued write and where its answer goes.
pub(crate) struct Job {
    write: Write,
    reply: Reply,
    /// When it was queued: a write whose commit could not be sent in time for its caller's
    /// answer is not committed at all (`COMMIT_BY`).
    queued_at: std::time::Instant,
}

enum Reply {
    Blocking(mpsc::Sender<Result<Written, StoreError>>),
    Queued(tokio::sync::oneshot::Sender<Result<Written, StoreError>>),
}

impl Reply {
    fn send(self, r: Result<Written, StoreError>) {
        match self {
            Reply::Blocking(tx) => drop(tx.send(r)),
            Reply::Queued(tx) => drop(tx.send(r)),
        }
    }
}

/// Connections, made on demand from one configuration.
pub(crate) struct Connector {
    config: tokio_postgres::Config,
    /// TLS, when the URL's `sslmode` asks for it (`tls`).
    tls: Option<tls::RustlsConnect>,
    /// The key the audit chain's head is sealed with.
    pub(crate) seal_key: zeroize::Zeroizing<[u8; 32]>,
    /// `/metrics`: transactions, reconnects, connections (the hooks are the writer's and the
    /// readers' only dealings with metrics).
    pub(crate) metrics: crate::metrics::StoreMetrics,
    /// Bumped when one of the connections is found silent: the others are made again.
    silenced: conn::Silenced,
}

impl Connector {
    fn new(options: &Options) -> Result<Connector, StoreError> {
        let parsed = tls::parse(&options.url)?;
        let mut config: tokio_postgres::Config = parsed
            .url
            .parse()
            .map_err(|e| StoreError::Invalid(format!("[store] url: {e}")))?;
        if let Some(p) = &options.password {
            config.password(p.as_bytes());
        }
        let tls = unix_sockets_take_no_tls(&config, parsed.tls, parsed.mode.as_deref());
        config.ssl_mode(match tls {
            Some(_) => tokio_postgres::config::SslMode::Require,
            None => tokio_postgres::config::SslMode::Disable,
        });
        config.connect_timeout(CONNECT_TIMEOUT);
        // A database that stops answering must not hold a caller for ever.
        // A daemon that stops in the middle of a transaction (frozen, swapped out, cut off)
        // must not hold the audit head's row, and with it every other daemon's writes: the
        // server ends such a session after 2 s idle in its transaction.
        config.options(
            "-c statement_timeout=5000 -c lock_timeout=5000 \
             -c idle_in_transaction_session_timeout=2000",
        );
        // A connection whose peer went silent (a failover, a cut network) fails within
        // seconds, so its thread makes a new one: data unacknowledged for 5 s, or an idle
        // connection unanswered by three probes a second apart after 5 s.
        config.tcp_user_timeout(Duration::from_secs(5));
        config.keepalives(true);
        config.keepalives_idle(Duration::from_secs(5));
        config.keepalives_interval(Duration::from_secs(1));
        config.keepalives_retries(3);
        config.application_name("gatepassd");
        Ok(Connector {
            config,
            tls,
            seal_key: options.seal_key.clone(),
            metrics: crate::metrics::StoreMetrics::new(),
            silenced: conn::Silenced::default(),
        })
    }

    /// A blocking connection (start-up: the schema and the node's check).
    pub(crate) fn connect(&self) -> Result<Client, StoreError> {
        let config = postgres::Config::from(self.config.clone());
        Ok(match &self.tls {
            Some(tls) => config.connect(tls.clone())?,
            None => config.connect(NoTls)?,
        })
    }

    /// The first connection of a start: a failure names the server and, when the password is
    /// what is missing, where it comes from.
    fn connect_first(&self) -> Result<Client, StoreError> {
        self.connect().map_err(|e| {
            let hint = if e.to_string().contains("password missing") {
                " (the password comes from [store] password_file, a file holding it, or \
                 PGPASSWORD)"
            } else {
                ""
            };
            StoreError::Invalid(format!("the database at {}: {e}{hint}", self.server()))
        })
    }

    /// Where the server is, as a person would write it (host:port, or the socket's folder).
    fn server(&self) -> String {
        let port = self.config.get_ports().first().copied().unwrap_or(5432);
        match self.config.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(h)) => format!("{h}:{port}"),
            Some(tokio_postgres::config::Host::Unix(p)) => {
                format!("{} (port {port})", p.display())
            }
            None => format!("localhost:{port}"),
        }
    }

    /// A connection of one of the engine's threads (the writer's, a reader's, the
    /// pre-check's), whose waits are bounded (`conn`).
    pub(crate) fn connect_pipelined(&self) -> Result<Pipelined, StoreError> {
        match &self.tls {
            Some(tls) => {
                Pipelined::connect_sharing(&self.config, tls.clone(), false, self.silenced.clone())
            }
            None => Pipelined::connect_sharing(&self.config, NoTls, false, self.silenced.clone()),
        }
    }

    /// The listener's connection: its notifications are kept (`Pipelined::notification`).
    pub(crate) fn connect_listening(&self) -> Result<Pipelined, StoreError> {
        match &self.tls {
            Some(tls) => {
                Pipelined::connect_sharing(&self.config, tls.clone(), true, self.silenced.clone())
            }
            None => Pipelined::connect_sharing(&self.config, NoTls, true, self.silenced.clone()),
        }
    }
}

/// The TLS to use: none when every host of `config` is a Unix socket (as libpq does, TLS does
/// not apply there), which the log says once when the URL asked for it (`mode`).
fn unix_sockets_take_no_tls(
    config: &tokio_postgres::Config,
    tls: Option<tls::RustlsConnect>,
    mode: Option<&str>,
) -> Option<tls::RustlsConnect> {
    let hosts = config.get_hosts();
    let all_sockets = !hosts.is_empty()
        && hosts
            .iter()
            .all(|h| matches!(h, tokio_postgres::config::Host::Unix(_)));
    if tls.is_some() && all_sockets {
        tracing::info!(
            sslmode = mode.unwrap_or_default(),
            "TLS does not apply to a Unix socket (as with libpq): the database is reached \
             through its socket without it"
        );
        return None;
    }
    tls
}

/// The PostgreSQL engine.
pub struct PgStore {
    queue: Mutex<Option<mpsc::Sender<Job>>>,
    reads: Mutex<Option<mpsc::Sender<ReadJob>>>,
    /// Whether the writer is waiting on the database, and since when.
    busy: Arc<writer::Busy>,
    /// The key the audit chain's head is sealed with (`verify_audit` checks the seal).
    seal_key: zeroize::Zeroizing<[u8; 32]>,
    /// The redeem pre-checks' queue (`peek`).
    peeks: Mutex<Option<mpsc::Sender<peek::Peek>>>,
    threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
    /// Set when the store is dropped: the listener thread stops.
    stopping: Arc<std::sync::atomic::AtomicBool>,
}

impl PgStore {
    /// Connects, migrates the schema, checks the node's key and CA against the database's, and
    /// starts the writer and the listener of other daemons' changes.
    pub fn open(
        options: &Options,
        events: broadcast::Sender<ChangeEvent>,
    ) -> Result<PgStore, StoreError> {
        PgStore::open_with(options, events, crate::metrics::StoreMetrics::new())
    }

    /// `open`, timing into `metrics` (the daemon's `/metrics`).
    pub fn open_with(
        options: &Options,
        events: broadcast::Sender<ChangeEvent>,
        metrics: crate::metrics::StoreMetrics,
    ) -> Result<PgStore, StoreError> {
        let mut connector = Connector::new(options)?;
        connector.metrics = metrics;
        let connector = Arc::new(connector);
        // The client blocks on a runtime of its own: never on one of the daemon's threads.
        off_runtime(|| {
            let mut client = connector.connect_first()?;
            schema::migrate(&mut client)?;
            check_node(&mut client, options)?;
            // Every daemon's writes lock this row first; it must exist before the first.
            let genesis = crate::domain::audit::GENESIS_HASH;
            client.execute(
                "INSERT INTO gp_audit_head (one, next_seq, last_hash, seal) \
                 VALUES (true, 1, $1, $2) ON CONFLICT (one) DO NOTHING",
                &[&genesis, &seal(&options.seal_key, 1, genesis)],
            )?;
            // A head from before seals (schema 1) is sealed as it is found.
            let mut txn = client.transaction()?;
            if let Some(row) = txn.query_opt(
                "SELECT next_seq, last_hash FROM gp_audit_head WHERE seal = '' FOR UPDATE",
                &[],
            )? {
                let (next, last): (i64, String) = (row.get(0), row.get(1));
                let sealed = seal(&options.seal_key, tx::seq_from_db(next)?, &last);
                txn.execute("UPDATE gp_audit_head SET seal = $1", &[&sealed])?;
            }
            txn.commit()?;
            Ok(())
        })?;
        let origin = listen::origin()?;
        let (tx, rx) = mpsc::channel::<Job>();
        let stopping = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let busy = Arc::new(writer::Busy::default());
        let writer = {
            let (connector, events, busy) = (connector.clone(), events.clone(), busy.clone());
            std::thread::Builder::new()
                .name("gatepass-pg-writer".into())
                .spawn({
                    let origin = origin.clone();
                    move || writer::run(&connector, &busy, rx, &events, &origin)
                })
                .map_err(StoreError::Io)?
        };
        let listener = {
            let (connector, stopping) = (connector.clone(), stopping.clone());
            std::thread::Builder::new()
                .name("gatepass-pg-listen".into())
                .spawn(move || listen::run(&connector, &events, &origin, &stopping))
                .map_err(StoreError::Io)?
        };
        let (read_tx, read_rx) = mpsc::channel::<ReadJob>();
        let read_rx = Arc::new(Mutex::new(read_rx));
        let mut threads = vec![writer, listener];
        for n in 0..READERS {
            let (connector, rx) = (connector.clone(), read_rx.clone());
            threads.push(
                std::thread::Builder::new()
                    .name(format!("gatepass-pg-read-{n}"))
                    .spawn(move || reader(&connector, &rx))
                    .map_err(StoreError::Io)?,
            );
        }
        let (peek_tx, peek_rx) = mpsc::channel::<peek::Peek>();
        {
            let connector = connector.clone();
            threads.push(
                std::thread::Builder::new()
                    .name("gatepass-pg-peek".into())
                    .spawn(move || peek::run(&connector, peek_rx))
                    .map_err(StoreError::Io)?,
            );
        }
        Ok(PgStore {
            queue: Mutex::new(Some(tx)),
            reads: Mutex::new(Some(read_tx)),
            peeks: Mutex::new(Some(peek_tx)),
            busy,
            seal_key: options.seal_key.clone(),
            threads: Mutex::new(threads),
            stopping,
        })
    }

    fn enqueue(&self, write: Write, reply: Reply) -> Result<(), StoreError> {
        let queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        let Some(q) = queue.as_ref() else {
            return Err(StoreError::Stopped("the store is closing".into()));
        };
        q.send(Job {
            write,
            reply,
            queued_at: std::time::Instant::now(),
        })
        .map_err(|_| StoreError::Stopped("the writer has stopped".into()))
    }

    /// Runs `f` on a reader thread's connection and waits for its answer (the client blocks on
    /// a runtime of its own, so never on one of the daemon's). A connection found broken (the
    /// database restarted) is made again and `f` tried once more.
    fn read<T: Send + 'static>(
        &self,
        f: impl Fn(&mut Pipelined) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (tx, rx) = mpsc::channel();
        let job: ReadJob = Box::new(move |connector, slot| {
            let mut result = attempt(connector, slot, &f);
            if result.is_err() && slot.as_ref().is_none_or(Pipelined::is_closed) {
                result = attempt(connector, slot, &f);
            }
            drop(tx.send(result));
        });
        {
            let reads = self.reads.lock().unwrap_or_else(|p| p.into_inner());
            let Some(q) = reads.as_ref() else {
                return Err(StoreError::Stopped("the store is closing".into()));
            };
            q.send(job)
                .map_err(|_| StoreError::Stopped("the readers have stopped".into()))?;
        }
        answer_within(&rx)
    }
}

/// The answer on `rx`, or `Stopped` (503) once `ANSWER_WITHIN` has passed without one.
fn answer_within<T>(rx: &mpsc::Receiver<Result<T, StoreError>>) -> Result<T, StoreError> {
    match rx.recv_timeout(ANSWER_WITHIN) {
        Ok(answer) => answer,
        Err(mpsc::RecvTimeoutError::Timeout) => Err(StoreError::Stopped(format!(
            "the database did not answer within {} s",
            ANSWER_WITHIN.as_secs()
        ))),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            Err(StoreError::Stopped("the store dropped the request".into()))
        }
    }
}

/// Runs `f` on the connection in `slot`, made first if there is none or it broke.
fn attempt<T>(
    connector: &Connector,
    slot: &mut Option<Pipelined>,
    f: &impl Fn(&mut Pipelined) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    if slot.as_ref().is_none_or(Pipelined::is_closed) {
        let again = slot.is_some();
        *slot = None;
        *slot = Some(connector.connect_pipelined()?);
        if again {
            connector.metrics.reconnects.inc();
        }
    }
    match slot.as_mut() {
        Some(client) => f(client),
        None => Err(StoreError::Stopped("no connection".into())),
    }
}

/// A read, run by a reader thread with its connector and connection.
type ReadJob = Box<dyn FnOnce(&Connector, &mut Option<Pipelined>) + Send>;

/// A reader thread: takes reads off the shared queue and runs them on its own connection.
fn reader(connector: &Connector, jobs: &Mutex<mpsc::Receiver<ReadJob>>) {
    let mut client: Option<Pipelined> = None;
    let conns = &connector.metrics.connections;
    loop {
        let job = match jobs.lock().unwrap_or_else(|p| p.into_inner()).recv() {
            Ok(job) => job,
            Err(_) => return, // the store is closing
        };
        let held = client.is_some();
        if held {
            conns.with_label_values(&["idle"]).dec();
        }
        conns.with_label_values(&["in_use"]).inc();
        job(connector, &mut client);
        conns.with_label_values(&["in_use"]).dec();
        if client.is_some() {
            conns.with_label_values(&["idle"]).inc();
        }
    }
}

/// Runs `f` on a thread of its own and returns what it returns.
fn off_runtime<T: Send>(f: impl FnOnce() -> Result<T, StoreError> + Send) -> Result<T, StoreError> {
    std::thread::scope(|s| {
        s.spawn(f)
            .join()
            .unwrap_or_else(|_| Err(StoreError::Stopped("opening the database panicked".into())))
    })
}

/// Copies `export` (another engine's store) into an empty database, in one transaction: the
/// audit events with their stored bytes and the chain's head, so `audit verify` passes after
/// it. A database that holds tokens or events already is refused.
pub fn import(options: &Options, export: &crate::domain::Export) -> Result<(), StoreError> {
    let connector = Connector::new(options)?;
    off_runtime(|| {
        let mut client = connector.connect_first()?;
        schema::migrate(&mut client)?;
        // Said before the node check: a database holding another store may well hold other
        // fingerprints, and "not empty" is what is wrong.
        let held: i64 = client
            .query_one(
                "SELECT (SELECT count(*) FROM gp_tokens) + (SELECT count(*) FROM gp_audit)",
                &[],
            )?
            .get(0);
        if held > 0 {
            return Err(StoreError::Invalid(
                "the database already holds a store: migrate into an empty one".into(),
            ));
        }
        check_node(&mut client, options)?;
        drop(client);
        let conn = connector.connect_pipelined()?;
        let st = tx::Statements::prepare(&conn)?;
        let mut w = tx::PgTx::begin(&conn, &st, &options.seal_key, false, &[], false)?;
        let held: i64 = conn
            .run(conn.client.query_one(
                "SELECT (SELECT count(*) FROM gp_tokens) + (SELECT count(*) FROM gp_audit)",
                &[],
            ))?
            .get(0);
        if held > 0 {
            return Err(StoreError::Invalid(
                "the database already holds a store: migrate into an empty one".into(),
            ));
        }
        use crate::domain::Tx;
        for t in &export.tokens {
            w.insert_token(t)?;
        }
        for h in &export.hosts {
            w.insert_host(h)?;
        }
        for a in &export.api_tokens {
            w.insert_api_token(a)?;
        }
        for (_, _, bytes) in &export.audit {
            let event: AuditEvent = serde_json::from_slice(bytes)?;
            w.insert_event(&event, bytes)?;
        }
        w.set_head(export.head.clone());
        w.commit(Vec::new())?;
        Ok(())
    })
}

impl Drop for PgStore {
    fn drop(&mut self) {
        self.stopping
            .store(true, std::sync::atomic::Ordering::SeqCst);
        // Closing the queues ends the writer once it has answered what it holds, and the
        // readers.
        self.queue.lock().unwrap_or_else(|p| p.into_inner()).take();
        self.reads.lock().unwrap_or_else(|p| p.into_inner()).take();
        self.peeks.lock().unwrap_or_else(|p| p.into_inner()).take();
        for t in self
            .threads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
        {
            let _ = t.join();
        }
    }
}

/// The node's key and CA against the database's record of them: the first node records its
/// own; a node with another key or CA is refused, naming which.
fn check_node(client: &mut Client, options: &Options) -> Result<(), StoreError> {
    for (key, mine, what) in [
        (
            "hmac_key",
            &options.key_fingerprint,
            "hmac.key differs from the other nodes' (no token they minted could be redeemed \
             here): copy the first node's data folder (cp -a)",
        ),
        (
            "ca",
            &options.ca_fingerprint,
            "CA (ca.pem, ca.key) differs from the other nodes' (hosts they enrolled would \
             not trust this one): copy the first node's data folder (cp -a)",
        ),
    ] {
        client.execute(
            "INSERT INTO gp_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
            &[&key, mine],
        )?;
        let recorded: String = client
            .query_one("SELECT value FROM gp_meta WHERE key = $1", &[&key])?
            .get(0);
        if &recorded != mine {
            return Err(StoreError::Invalid(format!("this node's {what}")));
        }
    }
    Ok(())
}

impl Store for PgStore {
    fn submit(&self, write: Write) -> Result<Written, StoreError> {
        let (tx, rx) = mpsc::channel();
        self.enqueue(write, Reply::Blocking(tx))?;
        answer_within(&rx)
    }

    fn submit_queued(&self, write: Write) -> Queued<Written> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let queued = self.enqueue(write, Reply::Queued(tx));
        Queued {
            rx,
            queued,
            deadline: Some(ANSWER_WITHIN),
        }
    }

    fn health(&self) -> Result<(), StoreError> {
        if let Some(waited) = self.busy.waiting()
            && waited > ANSWER_WITHIN
        {
            return Err(StoreError::Stopped(format!(
                "the writer has waited {} s for the database",
                waited.as_secs()
            )));
        }
        self.read(|c| c.batch_execute("SELECT 1"))
    }

    fn peek_secret_queued(&self, id: &str, hash_hex: &str) -> Queued<Option<bool>> {
        let (question, mut answer) = peek::question(id, hash_hex);
        let peeks = self.peeks.lock().unwrap_or_else(|p| p.into_inner());
        answer.queued = match peeks.as_ref() {
            Some(q) => q
                .send(question)
                .map_err(|_| StoreError::Stopped("the pre-check has stopped".into())),
            None => Err(StoreError::Stopped("the store is closing".into())),
        };
        answer
    }

    fn get_token(&self, id: &str) -> Result<Option<TokenRecord>, StoreError> {
        let id = id.to_owned();
        self.read(move |c| reads::token(c, &id))
    }

    fn token_id_by_name(&self, name: &str) -> Result<Option<String>, StoreError> {
        let name = name.to_owned();
        self.read(move |c| reads::token_id_by_name(c, &name))
    }

    fn list_tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        self.read(reads::tokens)
    }

    fn token_list(
        &self,
        now: Timestamp,
        column: SortColumn,
        keep: &(dyn Fn(&TokenKeys<'_>) -> bool + Sync),
    ) -> Result<TokenListBuilder, StoreError> {
        // The records are read there, the list built here (`keep` lives here).
        let records = self.read(reads::token_records)?;
        reads::token_list(&records, now, column, keep)
    }

    fn list_hosts(&self, token_id: Option<&str>) -> Result<Vec<HostRecord>, StoreError> {
        let token_id = token_id.map(str::to_owned);
        self.read(move |c| reads::hosts(c, token_id.as_deref()))
    }

    fn get_api_token(&self, id: &str) -> Result<Option<ApiTokenRecord>, StoreError> {
        let id = id.to_owned();
        self.read(move |c| reads::api_token(c, &id))
    }

    fn list_api_tokens(&self, user: Option<&str>) -> Result<Vec<ApiTokenRecord>, StoreError> {
        let user = user.map(str::to_owned);
        self.read(move |c| reads::api_tokens(c, user.as_deref()))
    }

    fn audit_scoped(
        &self,
        query: &AuditQuery,
        scope: Option<&crate::domain::audit::AuditScope>,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let (query, scope) = (query.clone(), scope.cloned());
        self.read(move |c| reads::audit(c, &query, scope.as_ref()))
    }

    fn verify_audit(&self) -> Result<AuditCheck, StoreError> {
        let key = self.seal_key.clone();
        self.read(move |c| reads::verify(c, &key))
    }
}

#[cfg(test)]
mod unix_socket_tests {
    use super::*;

    fn options(url: &str) -> Options {
        Options {
            url: url.into(),
            password: None,
            key_fingerprint: String::new(),
            ca_fingerprint: String::new(),
            seal_key: zeroize::Zeroizing::new([0; 32]),
        }
    }

    /// A CA file for `sslrootcert` (its content is only read, never used here).
    fn ca_file(dir: &std::path::Path) -> String {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let path = dir.join("ca.pem");
        std::fs::write(&path, params.self_signed(&key).unwrap().pem()).unwrap();
        path.display().to_string()
    }

    #[test]
    fn tls_does_not_apply_to_a_unix_socket_but_does_to_a_tcp_host() {
        let dir = tempfile::tempdir().unwrap();
        let ca = ca_file(dir.path());
        for mode in ["require", "verify-full"] {
            let c = Connector::new(&options(&format!(
                "postgres://gp@/gatepass?host=/run/postgresql&sslmode={mode}&sslrootcert={ca}"
            )))
            .unwrap();
            assert!(c.tls.is_none(), "{mode}");
            assert_eq!(
                c.config.get_ssl_mode(),
                tokio_postgres::config::SslMode::Disable
            );
        }
        let c = Connector::new(&options(&format!(
            "postgres://gp@db.example/gatepass?sslmode=verify-full&sslrootcert={ca}"
        )))
        .unwrap();
        assert!(c.tls.is_some());
    }
}
