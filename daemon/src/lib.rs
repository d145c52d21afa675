//! gatepassd as a library: open a data folder (`Daemon::open`), then serve already-bound
//! listeners until a shutdown future completes (`Daemon::run`). The binary only reads its
//! configuration, binds and calls these; tests use the same entry points.
//!
//! Invariants: the store is reached only through the `Store` trait; token secrets exist only in
//! memory, as long as one request needs them; no answer is sent before its change is durable.

pub mod api;
pub mod ca;
pub mod clock;
pub mod config;
pub mod domain;
pub mod error;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
pub mod http_errors;
pub mod launcher;
pub mod logging;
pub mod metrics;
pub mod notify;
pub mod ratelimit;
pub mod secrets;
pub mod server;
pub mod store;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use gatepass_protocol::ChangeEvent;
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::{broadcast, watch};

use crate::ca::Ca;
use crate::clock::Clock;
use crate::config::Config;
use crate::domain::Store;
pub use crate::domain::model;
pub use crate::error::{Error, StoreError};
use crate::metrics::Metrics;
use crate::secrets::SecretKey;
use crate::store::postgres::PgStore;
use crate::store::redb::RedbStore;

/// What every request handler shares.
pub struct State {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub key: SecretKey,
    pub ca: Ca,
    pub config: Config,
    /// Who holds which role in which tenant (from `config`).
    pub tenants: domain::tenants::Tenants,
    // Change notifications for `/v1/events`; the writer sends after each durable commit.
    pub events: broadcast::Sender<ChangeEvent>,
    pub metrics: Metrics,
    /// How many of the configured listeners accept connections (`/readyz`).
    pub listeners: Arc<api::health::Listeners>,
    /// Refused redemptions per source address and per token (429 past the limit).
    pub limiter: ratelimit::RefusalLimiter,
    /// Refused redemptions on their way to the audit log: repeats become one event.
    pub refusals: domain::refusals::RefusalLog,
    /// The URL hosts use to reach the redeem listener (for join commands).
    pub redeem_url: String,
    /// The daemon's own uid and user name: that user, like root, is an admin.
    pub daemon_uid: u32,
    pub daemon_user: String,
    // Flips to true on shutdown; long-lived answers (events) end when it does.
    pub shutdown: watch::Receiver<bool>,
}

/// An opened data folder: database, key and certificates, ready to serve.
pub struct Daemon {
    config: Config,
    clock: Arc<dyn Clock>,
    store: Arc<dyn Store>,
    key: SecretKey,
    ca: Ca,
    events: broadcast::Sender<ChangeEvent>,
    data_dir: PathBuf,
    /// The engine's series (batches, commits, syncs), registered with the daemon's others.
    store_metrics: metrics::StoreMetrics,
}

impl std::fmt::Debug for Daemon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Daemon")
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}

/// Creates a folder (and its parents) with mode 0700.
pub fn private_dir(path: &Path) -> Result<(), Error> {
    gatepass_protocol::paths::private_dir(path)
        .map_err(|e| Error::io(format!("creating {}", path.display()), e))
}

/// Hands memory freed after a large answer back to the system. The allocator keeps freed small
/// blocks for reuse; after listing a hundred thousand tokens that is hundreds of MiB an idle
/// daemon would go on holding.
pub fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[allow(unsafe_code)]
    // SAFETY: malloc_trim takes no pointers; it only returns free pages to the system.
    unsafe {
        nix::libc::malloc_trim(0);
    }
}

/// Large blocks (a list's answer, its working buffers) get their own mapping, returned to the
/// system as soon as they are freed. Left to itself, glibc raises this threshold after the first
/// such block is freed, and later ones land inside per-thread heaps, where they stay resident.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[allow(unsafe_code)]
    // SAFETY: mallopt takes two integers and only changes the allocator's tuning.
    unsafe {
        nix::libc::mallopt(nix::libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

/// The embedded store's file in the data folder (its journal: `gatepass.journal`).
pub const STORE_FILE: &str = "gatepass.redb";

/// Written into a data folder whose store is in PostgreSQL (by a daemon that opened it there,
/// and by `migrate` into the folder it copied): an embedded start on that folder is refused,
/// so a node started without its `--store` does not come up on an empty or stale store of its
/// own with the cluster's CA.
pub const PG_MARKER: &str = "store.postgres";

/// `url` without a password (`user:pass@`, a `password=` parameter or word), for a file, a
/// log line or a message.
pub fn without_password(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        let (rest, query) = match rest.split_once('?') {
            Some((r, q)) => (r, Some(q)),
            None => (rest, None),
        };
        // The authority ends at the first '/'; a '@' there ends the user part.
        let end = rest.find('/').unwrap_or(rest.len());
        let (auth, host) = match rest[..end].rfind('@') {
            Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
            None => (None, rest),
        };
        let user = auth.map(|a| a.split_once(':').map_or(a, |(u, _)| u));
        let mut out = match user {
            Some(u) => format!("{scheme}://{u}@{host}"),
            None => format!("{scheme}://{host}"),
        };
        if let Some(q) = query {
            let kept: Vec<&str> = q
                .split('&')
                .filter(|p| !p.starts_with("password="))
                .collect();
            if !kept.is_empty() {
                out.push('?');
                out.push_str(&kept.join("&"));
            }
        }
        out
    } else {
        url.split_whitespace()
            .filter(|w| !w.starts_with("password="))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Whether `url` holds a password (`user:pass@`, a `password=` parameter or word).
pub fn has_password(url: &str) -> bool {
    without_password(url) != url.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The files a first start makes in a new data folder before it opens the store.
const MADE_BY_A_FIRST_START: [&str; 6] = [
    "hmac.key",
    "ca.pem",
    "ca.key",
    "server.pem",
    "server.key",
    "server.meta",
];

/// Removes `paths` (the files a refused start made): a folder the store refused is left as
/// it was found.
fn remove_fresh(paths: &[PathBuf]) {
    for p in paths {
        let _ = std::fs::remove_file(p);
    }
}

/// Writes the PostgreSQL marker into `dir`.
fn mark_postgres(dir: &Path, url: &str) -> Result<(), Error> {
    crate::ca::write_private(
        &dir.join(PG_MARKER),
        &format!(
            "{}\nThis data folder's store is in PostgreSQL at the URL above. Start gatepassd \
             with --store URL (or [store] url in its config).\n",
            without_password(url)
        ),
    )
}

/// Refuses an embedded start on a folder whose store is in PostgreSQL.
fn refuse_if_postgres(dir: &Path) -> Result<(), Error> {
    let path = dir.join(PG_MARKER);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(());
    };
    let url = text.lines().next().unwrap_or_default();
    Err(Error::Store(StoreError::Invalid(format!(
        "this data folder's store is in PostgreSQL ({url}, says {}): start with --store URL or \
         [store] url; remove that file only to start an embedded store here instead",
        path.display()
    ))))
}

fn store_options(config: &Config) -> crate::store::redb::Options {
    let mut o = crate::store::redb::Options::new(
        config.limits.store_cache_mib.saturating_mul(1024 * 1024),
        config.limits.journal_mib.saturating_mul(1024 * 1024),
    );
    o.check_integrity = config.store.check_on_start;
    o.accept_journal_loss = config.accept_journal_loss;
    o.hold_checkpoints = config.test_hold_checkpoints.clone();
    o
}

/// Removes snapshots a backup left in the data folder when the daemon stopped while taking
/// it (`GET /v1/backup` writes one, then sends and unlinks it).
fn remove_stale_backups(data_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(data_dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(".backup-") && name.ends_with(".redb") {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Refuses `what` (a command for the embedded store) when the config names a PostgreSQL one.
fn embedded_only(config: &Config, what: &str) -> Result<(), Error> {
    match &config.store.url {
        Some(_) => Err(Error::Store(StoreError::Invalid(format!(
            "`gatepassd {what}` is for the embedded store in a stopped data folder, and this \
             config's store is in PostgreSQL ([store] url): check it with `gatepass audit \
             verify` against a running node (the audit chain, and the tables against it), back \
             it up with pg_dump and restore it with pg_restore or psql"
        )))),
        None => Ok(()),
    }
}

/// The PostgreSQL password: `[store] password_file`, else `PGPASSWORD`, else none (a socket
/// with peer or trust authentication).
fn store_password(config: &Config) -> Result<Option<zeroize::Zeroizing<String>>, Error> {
    if let Some(path) = &config.store.password_file {
        let text = zeroize::Zeroizing::new(
            std::fs::read_to_string(path)
                .map_err(|e| Error::io(format!("reading {}", path.display()), e))?,
        );
        return Ok(Some(zeroize::Zeroizing::new(
            text.trim_end_matches(['\n', '\r']).to_owned(),
        )));
    }
    Ok(std::env::var("PGPASSWORD")
        .ok()
        .map(zeroize::Zeroizing::new))
}

/// A store whose key or CA is gone: making new ones would start without a word, and then no
/// token could be redeemed (another key) or no host enrolled before would trust the daemon
/// (another CA). Refused, naming the file and where to get it.
fn refuse_missing_secrets(data_dir: &Path) -> Result<(), Error> {
    for (name, what) in [
        (
            "hmac.key",
            "a new key would make every token in the store unredeemable",
        ),
        (
            "ca.pem",
            "a new CA would not be trusted by the hosts enrolled before",
        ),
        (
            "ca.key",
            "a new CA would not be trusted by the hosts enrolled before",
        ),
    ] {
        let path = data_dir.join(name);
        if !path.exists() {
            return Err(Error::Damaged {
                path,
                problem: format!(
                    "is missing while the store beside it exists: {what}; copy it back from the \
                     data folder it came from (or that folder's backup)"
                ),
            });
        }
    }
    Ok(())
}

/// What `gatepassd check` found.
#[derive(Debug, Clone)]
pub struct CheckReport {
    pub tokens: usize,
    pub hosts: usize,
    pub events: u64,
    /// Empty when everything agrees.
    pub problems: Vec<String>,
}

/// `gatepassd check`: opens a stopped data folder's store as a start would (refusing what a
/// start refuses: a damaged database or journal), with redb's integrity check, then walks the
/// audit chain and checks the tables and indexes against it.
pub fn check(config: &Config) -> Result<CheckReport, Error> {
    embedded_only(config, "check")?;
    let path = config.data_dir().join(STORE_FILE);
    if !path.exists() {
        return Err(Error::Damaged {
            path,
            problem: "does not exist: there is no store in this folder".into(),
        });
    }
    let (events, _) = broadcast::channel(1);
    let mut options = store_options(config);
    options.check_integrity = true;
    options.on_halt = Arc::new(|_| {});
    // A check never accepts a loss, and leaves the journal's size as it found it.
    options.accept_journal_loss = false;
    if let Ok(m) = std::fs::metadata(path.with_extension("journal")) {
        options.journal_bytes = m.len();
    }
    let store = RedbStore::open_with(&path, events, options)?;
    let check = store.verify_audit()?;
    let mut problems = Vec::new();
    if let Some(p) = &check.problem
        && check.tables.is_empty()
    {
        problems.push(p.clone());
    }
    problems.extend(check.tables.iter().cloned());
    Ok(CheckReport {
        tokens: store.list_tokens()?.len(),
        hosts: store.list_hosts(None)?.len(),
        events: check.events,
        problems,
    })
}

/// `gatepassd migrate --from-redb DIR --store URL`: copies the embedded store of the (stopped)
/// data folder `from` into the empty PostgreSQL database `[store] url`, and checks the copy's
/// audit chain and tables. The nodes on that database use `from`'s key and CA (copy the folder).
pub fn migrate_from_redb(config: &Config, from: &Path) -> Result<crate::domain::BackupInfo, Error> {
    let Some(url) = &config.store.url else {
        return Err(Error::Store(StoreError::Invalid(
            "migrate needs the database: --store URL (or [store] url)".into(),
        )));
    };
    let path = from.join(STORE_FILE);
    if !path.exists() {
        return Err(Error::Damaged {
            path,
            problem: "does not exist: there is no embedded store in this folder".into(),
        });
    }
    refuse_missing_secrets(from)?;
    let key = SecretKey::load_or_create(&from.join("hmac.key"))?;
    let ca = Ca::load_or_create(from, &config.server_names(), config.redeem.cert_days)?;
    let (events, _) = broadcast::channel(1);
    let mut options = store_options(config);
    options.check_integrity = true;
    options.accept_journal_loss = false;
    options.on_halt = Arc::new(|_| {});
    let source = RedbStore::open_with(&path, events.clone(), options)?;
    let check = source.verify_audit()?;
    if !check.ok() {
        return Err(Error::Damaged {
            path,
            problem: format!(
                "does not verify, so it is not copied: {}",
                check.problem.unwrap_or_default()
            ),
        });
    }
    let export = source.export()?;
    drop(source);
    let options = crate::store::postgres::Options {
        url: url.clone(),
        password: store_password(config)?,
        key_fingerprint: key.fingerprint(),
        ca_fingerprint: ca.pin.clone(),
        seal_key: key.seal_key(),
    };
    crate::store::postgres::import(&options, &export)?;
    let copy = PgStore::open(&options, events)?;
    let check = copy.verify_audit()?;
    if !check.ok() {
        return Err(Error::Store(StoreError::Damaged(format!(
            "the copy does not verify: {}",
            check.problem.unwrap_or_default()
        ))));
    }
    // The folder's embedded store is now a stale copy: it must not be started on again.
    mark_postgres(from, url)?;
    Ok(crate::domain::BackupInfo {
        tokens: export.tokens.len() as u64,
        hosts: export.hosts.len() as u64,
        events: export.audit.len() as u64,
        api_tokens: export.api_tokens.len() as u64,
    })
}

/// `gatepassd restore FILE`: makes the data folder's store from a backup.
pub fn restore(config: &Config, file: &Path) -> Result<crate::domain::BackupInfo, Error> {
    embedded_only(config, "restore")?;
    let dir = config.data_dir();
    let made = !dir.exists();
    private_dir(&dir)?;
    let restored = crate::store::redb::restore(file, &dir.join(STORE_FILE));
    if restored.is_err() && made {
        // Nothing is left of a restore that failed: not even the folder it made.
        let _ = std::fs::remove_dir(&dir);
    }
    restored
}

impl Daemon {
    /// Opens (creating on first start) the data folder: `gatepass.redb` and its redo journal
    /// `gatepass.journal` (0600), `hmac.key` (0600), and the CA and server certificates.
    pub fn open(config: Config, clock: Arc<dyn Clock>) -> Result<Daemon, Error> {
        let data_dir = config.data_dir();
        private_dir(&data_dir)?;
        remove_stale_backups(&data_dir);
        let store_path = data_dir.join(STORE_FILE);
        if config.store.url.is_none() {
            refuse_if_postgres(&data_dir)?;
        }
        if store_path.exists() && config.store.url.is_none() {
            refuse_missing_secrets(&data_dir)?;
        }
        // The key and the CA come before the store: a store never exists without them. Those
        // this start makes are removed again if a PostgreSQL store refuses it (`remove_fresh`).
        let fresh: Vec<PathBuf> = MADE_BY_A_FIRST_START
            .iter()
            .map(|f| data_dir.join(f))
            .filter(|p| !p.exists())
            .collect();
        let key = SecretKey::load_or_create(&data_dir.join("hmac.key"))?;
        let ca = Ca::load_or_create(&data_dir, &config.server_names(), config.redeem.cert_days)?;
        let store = Daemon::open_store(&config, &data_dir, &key, &ca);
        let (store, events, store_metrics) = store.inspect_err(|_| {
            // An embedded store may have begun its file: its key and CA stay with it.
            if config.store.url.is_some() {
                remove_fresh(&fresh);
            }
        })?;
        Ok(Daemon {
            config,
            clock,
            store,
            key,
            ca,
            events,
            data_dir,
            store_metrics,
        })
    }

    /// Opens the configured store (PostgreSQL's checks the node's `key` and `ca` against the
    /// database's record).
    #[allow(clippy::type_complexity)]
    fn open_store(
        config: &Config,
        data_dir: &Path,
        key: &SecretKey,
        ca: &Ca,
    ) -> Result<
        (
            Arc<dyn Store>,
            broadcast::Sender<ChangeEvent>,
            metrics::StoreMetrics,
        ),
        Error,
    > {
        let store_path = data_dir.join(STORE_FILE);
        let (events, _) = broadcast::channel(4096);
        let store_metrics = metrics::StoreMetrics::new();
        let store: Arc<dyn Store> = match &config.store.url {
            Some(url) => {
                let options = crate::store::postgres::Options {
                    url: url.clone(),
                    password: store_password(config)?,
                    key_fingerprint: key.fingerprint(),
                    ca_fingerprint: ca.pin.clone(),
                    seal_key: key.seal_key(),
                };
                let store = PgStore::open_with(&options, events.clone(), store_metrics.clone())?;
                mark_postgres(data_dir, url)?;
                Arc::new(store)
            }
            None => {
                let mut options = store_options(config);
                options.metrics = store_metrics.clone();
                Arc::new(RedbStore::open_with(&store_path, events.clone(), options)?)
            }
        };
        Ok((store, events, store_metrics))
    }

    /// Where the store is, for the ready line and the log: `redb` (the embedded store in the
    /// data folder), or the PostgreSQL URL without its password.
    pub fn store_name(&self) -> String {
        match &self.config.store.url {
            Some(url) => without_password(url),
            None => "redb".into(),
        }
    }

    /// The CA pin hosts check: `sha256:` + hex of the CA certificate.
    pub fn ca_pin(&self) -> &str {
        &self.ca.pin
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Turns the opened folder into the handlers' shared state, with the redeem URL hosts are
    /// told to use. The returned sender flips the shutdown flag.
    pub fn into_state(self, redeem_url: String) -> (Arc<State>, watch::Sender<bool>) {
        let (stop_tx, stop_rx) = watch::channel(false);
        let redeem_url = self.config.redeem.public_url.clone().unwrap_or(redeem_url);
        let limiter = ratelimit::RefusalLimiter::new(
            self.config.limits.redeem_failures_per_minute,
            self.config.limits.redeem_refusals_per_token_per_minute,
            self.config.limits.rate_limit_addresses,
        );
        // Each open kind holds one event (a few hundred bytes): 10,000 at most, then they are
        // written out.
        let refusals = domain::refusals::RefusalLog::new(
            domain::refusals::WINDOW,
            self.config.limits.rate_limit_addresses.min(10_000),
        );
        let engine = match self.config.store.url {
            Some(_) => "postgres",
            None => "redb",
        };
        let state = Arc::new(State {
            store: self.store,
            clock: self.clock,
            key: self.key,
            ca: self.ca,
            tenants: self.config.tenants(),
            config: self.config,
            events: self.events,
            metrics: Metrics::new(&self.store_metrics, engine),
            listeners: Arc::default(),
            limiter,
            refusals,
            redeem_url,
            daemon_uid: nix::unistd::geteuid().as_raw(),
            daemon_user: server::user_name(nix::unistd::geteuid().as_raw()),
            shutdown: stop_rx,
        });
        (state, stop_tx)
    }

    /// Serves the admin socket, the redeem listener and (when given) the HTTPS admin listener
    /// and the plain-HTTP metrics listener until `shutdown` completes, then lets in-flight
    /// requests finish. Under systemd it says when it is ready and feeds the watchdog
    /// (`notify`).
    pub async fn run(
        self,
        admin: UnixListener,
        redeem: TcpListener,
        admin_tls: Option<TcpListener>,
        metrics: Option<TcpListener>,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), Error> {
        let local = redeem
            .local_addr()
            .map_err(|e| Error::io("redeem listener", e))?;
        let limits = server::ConnLimits {
            header_timeout: Duration::from_secs(self.config.limits.header_timeout.0),
        };
        let tls = self.ca.server_config.clone();
        let (state, stop_tx) = self.into_state(redeem_url_for(local));
        let stop_rx = state.shutdown.clone();
        let expected = 2 + usize::from(admin_tls.is_some()) + usize::from(metrics.is_some());
        state
            .listeners
            .expected
            .store(expected, std::sync::atomic::Ordering::SeqCst);
        let up = || state.listeners.up();
        let admin_task = tokio::spawn(server::serve_unix(
            admin,
            api::admin_router(state.clone()),
            limits,
            stop_rx.clone(),
            up(),
        ));
        let admin_tls_task = admin_tls.map(|l| {
            tokio::spawn(server::serve_tls(
                l,
                tls.clone(),
                api::admin_router(state.clone()),
                limits,
                stop_rx.clone(),
                up(),
            ))
        });
        let metrics_task = metrics.map(|l| {
            tokio::spawn(server::serve_plain(
                l,
                api::metrics_router(state.clone()),
                limits,
                stop_rx.clone(),
                up(),
            ))
        });
        let redeem_task = tokio::spawn(server::serve_tls(
            redeem,
            tls,
            api::redeem_router(state.clone()),
            limits,
            stop_rx,
            up(),
        ));
        let refusals_task = tokio::spawn(write_refusal_counts(state.clone()));
        let watchdog_task = tokio::spawn(notify::watchdog(state.clone()));
        shutdown.await;
        tracing::info!("shutting down: finishing requests in flight");
        notify::send("STOPPING=1");
        let _ = stop_tx.send(true);
        let _ = admin_task.await;
        let _ = redeem_task.await;
        for t in admin_tls_task.into_iter().chain(metrics_task) {
            let _ = t.await;
        }
        let _ = refusals_task.await;
        let _ = watchdog_task.await;
        // The repeated refusals still being counted go to the audit log before the last
        // checkpoint.
        let drafts = state.refusals.drain();
        let store = state.store.clone();
        let _ = tokio::task::spawn_blocking(move || {
            for d in drafts {
                if let Err(e) = store.append_audit(d) {
                    tracing::warn!(error = %e, "could not audit repeated refusals at shutdown");
                }
            }
        })
        .await;
        // Fold the journal into the database, so the next start has nothing to redo.
        let store = state.store.clone();
        match tokio::task::spawn_blocking(move || store.checkpoint()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "final checkpoint failed; the next start redoes the journal")
            }
            Err(e) => {
                tracing::warn!(error = %e, "final checkpoint failed; the next start redoes the journal")
            }
        }
        Ok(())
    }
}

/// Writes the events of repeated refusals whose window ended (`domain::refusals`), once a
/// second, until shutdown.
async fn write_refusal_counts(state: Arc<State>) {
    let mut stop = state.shutdown.clone();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = server::stopped(&mut stop) => return,
        }
        let due = state.refusals.due(state.clock.now());
        if due.is_empty() {
            continue;
        }
        let store = state.store.clone();
        let written = tokio::task::spawn_blocking(move || {
            for d in due {
                store.append_audit(d)?;
            }
            Ok::<(), error::StoreError>(())
        })
        .await;
        if !matches!(written, Ok(Ok(()))) {
            tracing::error!("could not audit repeated refusals");
        }
    }
}

/// `https://ADDR:PORT` for a bound address; all-addresses becomes this machine's host name.
pub fn redeem_url_for(addr: std::net::SocketAddr) -> String {
    let host = if addr.ip().is_unspecified() {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_else(|_| "localhost".into())
    } else if addr.is_ipv6() {
        format!("[{}]", addr.ip())
    } else {
        addr.ip().to_string()
    };
    format!("https://{host}:{}", addr.port())
}

/// Refuses a socket path another daemon answers on (a stale file is left for `bind_socket`).
pub fn refuse_busy_socket(path: &Path) -> Result<(), Error> {
    if path.exists() && std::os::unix::net::UnixStream::connect(path).is_ok() {
        return Err(Error::SocketBusy(path.to_owned()));
    }
    Ok(())
}

/// Binds the admin socket: its folder is created 0700, the socket under a 0077 umask (so it is
/// never briefly open to others), a stale socket file is replaced, a live one is an error.
/// With `group`, the folder is 0750 and setgid to that group, and the socket is made under a
/// 0007 umask, so it is born 0770 and owned by the group: its members can connect, nobody else.
pub fn bind_socket(path: &Path, group: Option<&str>) -> Result<UnixListener, Error> {
    let mut umask = 0o077;
    if let Some(parent) = path.parent() {
        private_dir(parent)?;
        if let Some(name) = group {
            let g = nix::unistd::Group::from_name(name)
                .ok()
                .flatten()
                .ok_or_else(|| Error::Io {
                    context: format!("[access] socket_group = {name:?}"),
                    source: std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        "no such group on this host",
                    ),
                })?;
            nix::unistd::chown(parent, None, Some(g.gid)).map_err(|e| {
                Error::io(
                    format!("giving {} to group {name}", parent.display()),
                    e.into(),
                )
            })?;
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(parent, std::fs::Permissions::from_mode(0o2750))
                .map_err(|e| Error::io(format!("setting the mode of {}", parent.display()), e))?;
            umask = 0o007;
        }
    }
    if path.exists() {
        refuse_busy_socket(path)?;
        std::fs::remove_file(path)
            .map_err(|e| Error::io(format!("removing stale {}", path.display()), e))?;
    }
    let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(umask));
    let bound = UnixListener::bind(path);
    nix::sys::stat::umask(old);
    bound.map_err(|e| Error::io(format!("binding {}", path.display()), e))
}

#[cfg(test)]
mod marker_tests {
    use super::*;

    #[test]
    fn a_password_is_found_and_left_out_wherever_the_url_holds_it() {
        for (url, shown) in [
            (
                "postgres://gp:s3cret@/gp?host=/run/postgresql",
                "postgres://gp@/gp?host=/run/postgresql",
            ),
            (
                "postgres://gp@db/gp?password=s3cret&sslmode=disable",
                "postgres://gp@db/gp?sslmode=disable",
            ),
            ("host=db user=gp password=s3cret", "host=db user=gp"),
        ] {
            assert!(has_password(url), "{url}");
            assert_eq!(without_password(url), shown);
        }
        for url in [
            "postgres://gp@/gp?host=/run/postgresql&port=5432",
            "postgres://db.example/gp",
            "host=/run/postgresql dbname=gp",
        ] {
            assert!(!has_password(url), "{url}");
        }
    }

    #[test]
    fn the_marker_never_holds_a_password() {
        assert_eq!(
            without_password("postgres://gp:s3cret@db.example:5432/gp?sslmode=require"),
            "postgres://gp@db.example:5432/gp?sslmode=require"
        );
        assert_eq!(
            without_password("postgres://postgres@/gp?host=/tmp/pg"),
            "postgres://postgres@/gp?host=/tmp/pg"
        );
        assert_eq!(without_password("postgres://db/gp"), "postgres://db/gp");
        assert_eq!(
            without_password("host=db password=s3cret dbname=gp"),
            "host=db dbname=gp"
        );
    }

    #[test]
    fn an_embedded_start_on_a_postgres_folder_is_refused_naming_the_url() {
        let dir = tempfile::tempdir().unwrap();
        assert!(refuse_if_postgres(dir.path()).is_ok());
        mark_postgres(dir.path(), "postgres://gp:pw@db/gp").unwrap();
        let e = refuse_if_postgres(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("postgres://gp@db/gp") && e.contains("--store"),
            "{e}"
        );
        assert!(!e.contains(":pw"), "{e}");
    }
}
