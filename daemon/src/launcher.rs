//! The daemon's command line: reads the configuration (file, then environment, then flags),
//! binds the admin socket and the redeem listener, prints one "ready" line, and serves until
//! SIGTERM or SIGINT. Shared by the `gatepassd` binary and the console's embedded daemon.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Parser;
use tracing_subscriber::fmt::writer::BoxMakeWriter;

use crate::clock::{Clock, OffsetFileClock, SystemClock};
use crate::config::{Config, EXAMPLE};
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

/// Parses the command line; a mistake is told in one line (clap's own message spans several) and
/// exits with 2, the usage code. Help and version are printed as clap prints them.
pub fn parse_or_exit<P: Parser>(program: &str) -> P {
    match P::try_parse() {
        Ok(p) => p,
        Err(e) if !e.use_stderr() => e.exit(),
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            e.exit()
        }
        Err(e) => {
            eprintln!("{program}: {}", one_line(&e));
            std::process::exit(2)
        }
    }
}

/// A clap error as one line: the message (with what it lists), its tips, and the usage. clap
/// quotes the argument it did not expect: a token pasted onto the command line would be echoed
/// whole, so what follows a token's public id is cut (`gpa_<id>…`), as lists show tokens.
pub fn one_line(e: &clap::Error) -> String {
    let line = one_line_uncut(e);
    gatepass_protocol::token::replace_secrets(&line, |id, _| format!("{id}…")).unwrap_or(line)
}

fn one_line_uncut(e: &clap::Error) -> String {
    let text = e.to_string();
    let mut message = Vec::new();
    let mut tips = Vec::new();
    let mut usage = None;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with("For more information") {
            continue;
        }
        if let Some(u) = trimmed.strip_prefix("Usage:") {
            usage = Some(u.trim().to_owned());
        } else if let Some(t) = trimmed.strip_prefix("tip:") {
            tips.push(t.trim().to_owned());
        } else if usage.is_none() {
            message.push(
                trimmed
                    .strip_prefix("error:")
                    .unwrap_or(trimmed)
                    .trim()
                    .to_owned(),
            );
        }
    }
    let mut out = message.join(" ");
    for t in tips {
        out.push_str("; ");
        out.push_str(&t);
    }
    match usage {
        Some(u) => out.push_str(&format!(" (usage: {u}; see --help)")),
        None => out.push_str(" (see --help)"),
    }
    out
}

/// `gatepassd check`: prints what it found; 0 when everything agrees, 1 otherwise.
fn check(args: &Args) -> Result<i32, Error> {
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
        None => {}
    }
    serve(args).map(|()| 0)
}

/// Sets up logging (to stderr) and runs the daemon until a signal stops it.
fn serve(args: Args) -> Result<(), Error> {
    // Lines are written by a thread of their own (`logging`); the guard writes what is left when
    // `run` returns.
    let (writer, _log) = match crate::logging::start(Box::new(std::io::stderr())) {
        Ok((w, guard)) => (BoxMakeWriter::new(w), Some(guard)),
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
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false)
        .try_init();
    if let Some((value, e)) = unreadable {
        tracing::warn!(%value, error = %e, "GATEPASSD_LOG is not a log filter; logging at info");
    }
    let (cfg, first_start) = load_config(&args)?;
    let clock: Arc<dyn Clock> = match std::env::var_os("GATEPASSD_TEST_CLOCK_FILE") {
        Some(p) => {
            tracing::warn!(path = ?p, "TEST CLOCK: time is shifted by the offset in this file");
            Arc::new(OffsetFileClock { path: p.into() })
        }
        None => Arc::new(SystemClock),
    };
    let runtime =
        tokio::runtime::Runtime::new().map_err(|e| Error::io("starting the runtime", e))?;
    runtime.block_on(async move {
        let socket_path = cfg.socket();
        let listen = cfg.redeem.listen.clone();
        let admin_listen = cfg.admin.listen.clone();
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
        // A socket a live daemon answers on is refused now, before a config, a CA or a
        // journal is written for a daemon that could not serve.
        crate::refuse_busy_socket(&socket_path)?;
        if let Some(p) = &first_start {
            if let Some(dir) = p.parent() {
                crate::private_dir(dir)?;
            }
            std::fs::write(p, EXAMPLE)
                .map_err(|e| Error::io(format!("writing {}", p.display()), e))?;
            tracing::info!(path = %p.display(), "wrote a config with the documented defaults");
        }
        let daemon = Daemon::open(cfg, clock)?;
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
        tracing::info!(socket = %socket_path.display(), redeem = %addr, data = %daemon.data_dir().display(), "gatepassd listening");
        let stop = shutdown_signal();
        println!("{ready}");
        let result = daemon.run(admin, redeem, admin_tls, stop).await;
        let _ = std::fs::remove_file(&socket_path);
        result?;
        tracing::info!("stopped");
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Parser)]
    #[command(name = "prog")]
    struct Demo {
        #[arg(long)]
        name: String,
        #[arg(long)]
        uses: Option<u32>,
        id: Option<String>,
    }

    fn error(args: &[&str]) -> String {
        let e = Demo::try_parse_from(std::iter::once("prog").chain(args.iter().copied()))
            .expect_err("a usage error");
        one_line(&e)
    }

    #[test]
    fn a_usage_error_is_one_line_with_what_it_lists_and_the_usage() {
        let missing = error(&[]);
        assert!(!missing.contains('\n'), "{missing}");
        assert!(
            missing.contains("required arguments were not provided: --name <NAME>"),
            "{missing}"
        );
        assert!(
            missing.ends_with("(usage: prog --name <NAME> [ID]; see --help)"),
            "{missing}"
        );
        let unknown = error(&["--name", "a", "--usse", "3"]);
        assert!(!unknown.contains('\n'), "{unknown}");
        assert!(
            unknown.starts_with("unexpected argument '--usse' found;"),
            "{unknown}"
        );
        assert!(unknown.contains("--uses"), "the tip is kept: {unknown}");
        let bad = error(&["--name", "a", "--uses", "many"]);
        assert!(!bad.contains('\n'), "{bad}");
        assert!(
            bad.contains("invalid value 'many' for '--uses <USES>'"),
            "{bad}"
        );
    }

    /// clap quotes what it did not expect: a token pasted there is cut after its public id.
    #[test]
    fn a_token_in_a_usage_error_is_cut_after_its_id() {
        for kind in [
            gatepass_protocol::TokenKind::Api,
            gatepass_protocol::TokenKind::Enrollment,
        ] {
            let t = gatepass_protocol::token::generate(kind).unwrap();
            let whole = t.expose();
            for args in [
                vec!["--name", "a", "x", whole],
                vec!["--name", "a", "--uses", whole],
                vec!["--name", "a", "x", &whole[4..]],
            ] {
                let e = error(&args);
                assert!(!e.contains(&whole[16..]), "{e}");
                assert!(e.contains(&format!("{}…", t.id())), "{e}");
            }
        }
    }
}
