//! The daemon's command line: reads the configuration (file, then environment, then flags),
//! binds the admin socket and the redeem listener, prints one "ready" line, and serves until
//! SIGTERM or SIGINT. Shared by the `gatepassd` binary and the console's embedded daemon.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Parser;
use tracing_subscriber::fmt::writer::BoxMakeWriter;

use crate::clock::{Clock, SystemClock};
use crate::config::{Config, EXAMPLE, LogFormat};
use crate::{Daemon, Error, bind_socket};

#[derive(Debug, Clone, Parser)]
#[command(
    name = "gatepassd",
    version,
    about = "The Gatepass daemon: enrollment tokens, redeemed over HTTPS"
)]
pub struct Args {
    /// Configuration file (TOML). Default: gatepassd.toml in the data folder, written with
    /// documented defaults on first start.
    #[arg(long, global = true, env = "GATEPASSD_CONFIG")]
    pub config: Option<PathBuf>,
    /// Folder for the database, its key and the CA.
    #[arg(long, global = true, env = "GATEPASSD_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// The admin API's Unix socket.
    #[arg(long, env = "GATEPASSD_SOCKET")]
    pub socket: Option<PathBuf>,
    /// Address of the HTTPS redeem listener (port 0 picks a free port).
    #[arg(long, env = "GATEPASSD_LISTEN")]
    pub listen: Option<String>,
    /// Address of the HTTPS admin listener for API tokens (off unless given here or in the config).
    #[arg(long, env = "GATEPASSD_ADMIN_LISTEN")]
    pub admin_listen: Option<String>,
    /// Start even though the journal beside the database is refused (missing, emptied,
    /// another store's, older, damaged): the changes it held are lost, and the audit log says
    /// so. Without it such a start stops with a message naming the file.
    #[arg(long)]
    pub accept_journal_loss: bool,
    /// A PostgreSQL database shared by several daemons (postgres://USER@HOST:PORT/DB); the
    /// password comes from [store] password_file or PGPASSWORD, never from here.
    #[arg(
        long = "store",
        env = "GATEPASSD_STORE",
        value_name = "URL",
        global = true
    )]
    pub store: Option<String>,
    #[command(subcommand)]
    pub command: Option<DaemonCommand>,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum DaemonCommand {
    /// Checks a stopped store (--data-dir): the database's integrity, the journal, the audit
    /// chain, every token's counters against its audit events, the indexes. Exits 1 naming
    /// what is wrong.
    Check,
    /// Makes the store of a data folder (--data-dir, which must hold none yet) from a backup
    /// written by `gatepass backup FILE`, and checks it.
    Restore {
        /// The backup file.
        file: PathBuf,
    },
    /// Copies the embedded store of a stopped data folder into an empty PostgreSQL database
    /// (--store URL): tokens, hosts, API tokens and the audit chain, checked after the copy.
    Migrate {
        /// The data folder whose store (gatepass.redb) is copied; its hmac.key and CA are the
        /// ones every node on the database must use.
        #[arg(long = "from-redb", value_name = "DIR")]
        from_redb: PathBuf,
    },
}

/// Refuses a `[access] socket_group` that names no group on this host, before anything is
/// bound or written, naming the key and the config file that set it (the error named the
/// socket's folder, which says nothing of where the setting is).
fn check_socket_group(args: &Args, cfg: &Config) -> Result<(), Error> {
    let Some(name) = &cfg.access.socket_group else {
        return Ok(());
    };
    if nix::unistd::Group::from_name(name).ok().flatten().is_some() {
        return Ok(());
    }
    let path = args.config.clone().unwrap_or_else(|| {
        args.data_dir
            .clone()
            .unwrap_or_else(gatepass_protocol::paths::default_data_dir)
            .join("gatepassd.toml")
    });
    Err(Error::Config {
        path,
        message: format!("[access] socket_group = {name:?}: no such group on this host"),
    })
}

/// The configuration, and where to write the documented defaults once the daemon has started
/// (a first start without `--config`: nothing is written before the listeners are bound).
fn load_config(args: &Args) -> Result<(Config, Option<PathBuf>), Error> {
    let mut first_start = None;
    let mut cfg = match &args.config {
        Some(p) => Config::load(p)?,
        None => {
            let dir = args
                .data_dir
                .clone()
                .unwrap_or_else(gatepass_protocol::paths::default_data_dir);
            let p = dir.join("gatepassd.toml");
            if p.exists() {
                Config::load(&p)?
            } else {
                let cfg = Config::parse(EXAMPLE, &p)?;
                first_start = Some(p);
                cfg
            }
        }
    };
    if let Some(d) = &args.data_dir {
        cfg.data_dir = Some(d.clone());
    }
    if let Some(s) = &args.socket {
        cfg.socket = Some(s.clone());
    }
    if let Some(l) = &args.listen {
        cfg.redeem.listen = l.clone();
    }
    if let Some(l) = &args.admin_listen {
        cfg.admin.listen = Some(l.clone());
    }
    if let Some(u) = &args.store {
        // A command line is visible to every user of the host (ps, /proc): no password in it.
        // The environment (GATEPASSD_STORE) and the config file are the daemon's own.
        let from_env = std::env::var("GATEPASSD_STORE").is_ok_and(|e| &e == u);
        if !from_env && crate::has_password(u) {
            return Err(Error::Store(crate::error::StoreError::Invalid(
                "--store: the URL holds a password, and a command line is visible to every \
                 user of this host (ps): give the URL without it, and the password in [store] \
                 password_file (a file only the daemon's user reads) or PGPASSWORD"
                    .into(),
            )));
        }
        cfg.store.url = Some(u.clone());
    }
    cfg.accept_journal_loss = args.accept_journal_loss;
    Ok((cfg, first_start))
}

/// Completes at SIGTERM or SIGINT. The handlers are in place when this returns (before the ready
/// line is printed), so a stop sent as soon as the daemon says it is ready is a clean stop.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    wait_for_signal(
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    )
}

/// SIGHUP (which would end the process by default) is told in the log: the configuration is
/// read at start only, so a restart applies a change.
fn log_hangups() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::hangup()) {
        Ok(mut hup) => {
            tokio::spawn(async move {
                while hup.recv().await.is_some() {
                    tracing::warn!(
                        "SIGHUP received and ignored: the configuration is read at start; restart \
                         gatepassd to apply a change"
                    );
                }
            });
        }
        Err(e) => tracing::warn!(error = %e, "SIGHUP cannot be caught; it will stop the daemon"),
    }
}

async fn wait_for_signal(
    term: std::io::Result<tokio::signal::unix::Signal>,
    int: std::io::Result<tokio::signal::unix::Signal>,
) {
    match (term, int) {
        (Ok(mut t), Ok(mut i)) => {
            tokio::select! {
                _ = t.recv() => tracing::info!("SIGTERM received"),
                _ = i.recv() => tracing::info!("SIGINT received"),
            }
        }
        _ => std::future::pending::<()>().await,
    }
}

pub use gatepass_protocol::cli::{one_line, parse_or_exit};

/// `gatepassd check`: prints what it found; 0 when everything agrees, 1 otherwise.
fn check(args: &Args) -> Result<i32, Error> {
    if args.accept_journal_loss {
        eprintln!(
            "gatepassd: check never accepts a journal's loss (it reports it): start the daemon \
             with --accept-journal-loss to start without the journal"
        );
        return Ok(2);
    }
    let (cfg, _) = load_config(args)?;
    let report = crate::check(&cfg)?;
    if report.problems.is_empty() {
        println!(
            "ok: {} tokens, {} hosts, {} audit events; the database's pages, the journal, the \
             audit chain, every token's counters and the indexes all check",
            report.tokens, report.hosts, report.events
        );
        return Ok(0);
    }
    println!(
        "DAMAGED: {} problems in {} ({} tokens, {} hosts, {} audit events):",
        report.problems.len(),
        cfg.data_dir().join(crate::STORE_FILE).display(),
        report.tokens,
        report.hosts,
        report.events
    );
    for p in &report.problems {
        println!("  {p}");
    }
    Ok(1)
}

/// `gatepassd migrate --from-redb DIR --store URL`.
fn migrate(args: &Args, from: &std::path::Path) -> Result<i32, Error> {
    let (cfg, _) = load_config(args)?;
    let info = crate::migrate_from_redb(&cfg, from)?;
    println!(
        "copied {} into the database: {} tokens, {} hosts, {} audit events, {} API tokens; the \
         audit chain and the tables check. Every node needs {}'s hmac.key, ca.pem and ca.key \
         (cp -a the folder).",
        from.join(crate::STORE_FILE).display(),
        info.tokens,
        info.hosts,
        info.events,
        info.api_tokens,
        from.display()
    );
    Ok(0)
}

/// `gatepassd restore FILE`.
fn restore(args: &Args, file: &std::path::Path) -> Result<i32, Error> {
    let (cfg, _) = load_config(args)?;
    let dir = cfg.data_dir();
    let info = crate::restore(&cfg, file)?;
    println!(
        "restored {} into {}: {} tokens, {} hosts, {} audit events, {} API tokens; the audit \
         chain and the tables check",
        file.display(),
        dir.join(crate::STORE_FILE).display(),
        info.tokens,
        info.hosts,
        info.events,
        info.api_tokens
    );
    for (name, what) in [
        (
            "hmac.key",
            "no token in the backup can be redeemed without the same key",
        ),
        ("ca.pem", "hosts enrolled before would not trust a new CA"),
        ("ca.key", "hosts enrolled before would not trust a new CA"),
    ] {
        if !dir.join(name).exists() {
            println!(
                "note: {} has no {name}: copy it from the old data folder (or its backup) \
                 before starting: {what}",
                dir.display()
            );
        }
    }
    Ok(0)
}

/// Runs what the command line asks: the daemon (until a signal stops it), or `check` or
/// `restore`. Returns the process's exit code.
pub fn run(args: Args) -> Result<i32, Error> {
    // Everything the daemon creates is private to its user.
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
    match &args.command {
        Some(DaemonCommand::Check) => return check(&args),
        Some(DaemonCommand::Restore { file }) => return restore(&args, file),
        Some(DaemonCommand::Migrate { from_redb }) => return migrate(&args, from_redb),
        None => {}
    }
    serve(args).map(|()| 0)
}

/// Sets up logging (to stderr) and runs the daemon until a signal stops it.
/// The daemon's clock: the wall clock. A build with the `test-seams` feature (the end-to-end
/// tests') honours `GATEPASSD_TEST_CLOCK_FILE`; a release build ignores it, so no one who can
/// set the daemon's environment can move its time.
fn daemon_clock(test_clock_file: Option<std::ffi::OsString>) -> Arc<dyn Clock> {
    #[cfg(feature = "test-seams")]
    if let Some(p) = test_clock_file {
        tracing::warn!(path = ?p, "TEST CLOCK: time is shifted by the offset in this file");
        return Arc::new(crate::clock::OffsetFileClock { path: p.into() });
    }
    #[cfg(not(feature = "test-seams"))]
    if test_clock_file.is_some() {
        tracing::warn!("GATEPASSD_TEST_CLOCK_FILE is ignored: this build has no test seams");
    }
    Arc::new(SystemClock)
}

/// The file whose existence holds back the store's checkpoints, so the end-to-end tests can fill
/// a real daemon's journal (`GATEPASSD_TEST_HOLD_CHECKPOINTS_FILE`): honoured only by a build
/// with the `test-seams` feature; a release build ignores it, so no one who can set the
/// daemon's environment can keep its journal from draining.
fn test_hold_checkpoints(file: Option<std::ffi::OsString>) -> Option<std::path::PathBuf> {
    #[cfg(feature = "test-seams")]
    if let Some(p) = file {
        tracing::warn!(path = ?p, "TEST HOLD: checkpoints wait while this file exists");
        return Some(p.into());
    }
    #[cfg(not(feature = "test-seams"))]
    if file.is_some() {
        tracing::warn!(
            "GATEPASSD_TEST_HOLD_CHECKPOINTS_FILE is ignored: this build has no test seams"
        );
    }
    None
}

/// Sets up logging to stderr in the configured format. Lines are written by a thread of their
/// own (`logging`); the guard writes what is left when it is dropped.
fn start_logging(format: LogFormat) -> Option<crate::logging::Guard> {
    let journal = crate::logging::stderr_is_journal();
    let (writer, guard) = match crate::logging::start(Box::new(std::io::stderr())) {
        Ok((w, guard)) => {
            let w = if journal && format == LogFormat::Text {
                w.with_priorities()
            } else {
                w
            };
            (BoxMakeWriter::new(w), Some(guard))
        }
        Err(_) => (BoxMakeWriter::new(std::io::stderr), None),
    };
    let (filter, unreadable) = match tracing_subscriber::EnvFilter::try_from_env("GATEPASSD_LOG") {
        Ok(f) => (f, None),
        // Unset is the default; set but unreadable is said once logging runs.
        Err(e) => (
            tracing_subscriber::EnvFilter::new("info"),
            std::env::var("GATEPASSD_LOG").ok().map(|v| (v, e)),
        ),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false);
    let _ = match (format, journal) {
        (LogFormat::Json, _) => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        // The journal stamps each line itself.
        (LogFormat::Text, true) => builder.without_time().try_init(),
        (LogFormat::Text, false) => builder.try_init(),
    };
    if let Some((value, e)) = unreadable {
        tracing::warn!(%value, error = %e, "GATEPASSD_LOG is not a log filter; logging at info");
    }
    guard
}

fn serve(args: Args) -> Result<(), Error> {
    let (mut cfg, first_start) = load_config(&args)?;
    check_socket_group(&args, &cfg)?;
    let _log = start_logging(cfg.log.format);
    let clock = daemon_clock(std::env::var_os("GATEPASSD_TEST_CLOCK_FILE"));
    cfg.test_hold_checkpoints =
        test_hold_checkpoints(std::env::var_os("GATEPASSD_TEST_HOLD_CHECKPOINTS_FILE"));
    let runtime =
        tokio::runtime::Runtime::new().map_err(|e| Error::io("starting the runtime", e))?;
    runtime.block_on(async move {
        let socket_path = cfg.socket();
        let listen = cfg.redeem.listen.clone();
        let admin_listen = cfg.admin.listen.clone();
        let metrics_listen = cfg.metrics.listen.clone();
        let group = cfg.access.socket_group.clone();
        // The network listeners first: an address that cannot be bound leaves nothing behind
        // (no data folder, no socket file).
        let redeem = tokio::net::TcpListener::bind(&listen)
            .await
            .map_err(|e| Error::io(format!("binding the redeem listener on {listen}"), e))?;
        let addr = redeem.local_addr().map_err(|e| Error::io("redeem listener", e))?;
        let admin_tls = match &admin_listen {
            Some(a) => Some(
                tokio::net::TcpListener::bind(a)
                    .await
                    .map_err(|e| Error::io(format!("binding the admin listener on {a}"), e))?,
            ),
            None => None,
        };
        let metrics = match &metrics_listen {
            Some(a) => Some(
                tokio::net::TcpListener::bind(a)
                    .await
                    .map_err(|e| Error::io(format!("binding the metrics listener on {a}"), e))?,
            ),
            None => None,
        };
        // A socket a live daemon answers on is refused now, before a config, a CA or a
        // journal is written for a daemon that could not serve.
        crate::refuse_busy_socket(&socket_path)?;
        let data_dir = cfg.data_dir();
        let new_folder = !data_dir.exists();
        if let Some(p) = &first_start {
            if let Some(dir) = p.parent() {
                crate::private_dir(dir)?;
            }
            std::fs::write(p, EXAMPLE)
                .map_err(|e| Error::io(format!("writing {}", p.display()), e))?;
            tracing::info!(path = %p.display(), "wrote a config with the documented defaults");
        }
        let daemon = match Daemon::open(cfg, clock) {
            Ok(d) => d,
            Err(e) => {
                // A start refused (the store's database unreachable or another cluster's, a
                // marker saying the store is elsewhere…) leaves no config of its making behind,
                // nor the folder it made (`Daemon::open` removes the key and CA it made).
                if let Some(p) = &first_start {
                    let _ = std::fs::remove_file(p);
                }
                if new_folder {
                    let _ = std::fs::remove_dir(&data_dir);
                }
                return Err(e);
            }
        };
        let admin = bind_socket(&socket_path, group.as_deref())?;
        let mut ready = format!(
            "gatepassd ready socket={} redeem=https://{} ca_pin={}",
            socket_path.display(),
            addr,
            daemon.ca_pin()
        );
        if let Some(l) = &admin_tls {
            let a = l.local_addr().map_err(|e| Error::io("admin listener", e))?;
            ready.push_str(&format!(" admin=https://{a}"));
        }
        if let Some(l) = &metrics {
            let a = l.local_addr().map_err(|e| Error::io("metrics listener", e))?;
            ready.push_str(&format!(" metrics=http://{a}"));
        }
        let store = daemon.store_name();
        ready.push_str(&format!(" store={store}"));
        tracing::info!(socket = %socket_path.display(), redeem = %addr, data = %daemon.data_dir().display(), %store, "gatepassd listening");
        let stop = shutdown_signal();
        log_hangups();
        println!("{ready}");
        crate::notify::send("READY=1\nSTATUS=listening");
        let result = daemon.run(admin, redeem, admin_tls, metrics, stop).await;
        let _ = std::fs::remove_file(&socket_path);
        result?;
        tracing::info!("stopped");
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatepass_protocol::Timestamp;

    /// A socket_group that names no group is refused naming the config key and the file that
    /// set it (the message named the socket's folder as if it were the config).
    #[test]
    fn an_unknown_socket_group_names_the_config_key_and_file() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("gatepassd.toml");
        std::fs::write(&config, "[access]\nsocket_group = \"no-such-group-gp17\"\n").unwrap();
        let args = Args::try_parse_from([
            "gatepassd".as_ref(),
            "--config".as_ref(),
            config.as_os_str(),
            "--data-dir".as_ref(),
            dir.path().join("data").as_os_str(),
        ])
        .unwrap();
        let (cfg, _) = load_config(&args).unwrap();
        let e = check_socket_group(&args, &cfg).unwrap_err().to_string();
        assert!(
            e.contains("[access] socket_group = \"no-such-group-gp17\"")
                && e.contains(&config.display().to_string()),
            "{e}"
        );
        assert!(!dir.path().join("data").exists());
    }

    /// Issue 18: the release daemon honoured `GATEPASSD_TEST_CLOCK_FILE`. Built without the
    /// `test-seams` feature (as `cargo build --release` and `cargo test --workspace` build this
    /// library), the file is ignored; with it (the end-to-end tests' binaries), it moves time.
    #[test]
    fn the_test_clock_file_moves_time_only_in_a_build_with_test_seams() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("offset");
        std::fs::write(&file, "100000").unwrap();
        let shifted = daemon_clock(Some(file.into_os_string())).now().0 - Timestamp::now().0;
        if cfg!(feature = "test-seams") {
            assert!(shifted >= 99_990, "{shifted}");
        } else {
            assert!(
                shifted.abs() < 10,
                "a build without test seams moved its clock: {shifted}"
            );
        }
    }

    /// Like the test clock: a release build never holds its checkpoints back for anyone who
    /// can set its environment.
    #[test]
    fn the_checkpoint_hold_is_honoured_only_in_a_build_with_test_seams() {
        let held = test_hold_checkpoints(Some("/tmp/hold".into()));
        assert_eq!(held.is_some(), cfg!(feature = "test-seams"), "{held:?}");
        assert_eq!(test_hold_checkpoints(None), None);
    }
}
