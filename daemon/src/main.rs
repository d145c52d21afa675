//! `gatepassd`: reads the configuration (file, then environment, then flags), binds the admin
//! socket and the redeem listener, prints one "ready" line, and serves until SIGTERM or SIGINT.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use gatepassd::clock::{Clock, OffsetFileClock, SystemClock};
use gatepassd::config::{Config, EXAMPLE};
use gatepassd::{Daemon, bind_socket};

#[derive(Debug, Parser)]
#[command(
    name = "gatepassd",
    version,
    about = "The Gatepass daemon: enrollment tokens, redeemed over HTTPS"
)]
struct Args {
    /// Configuration file (TOML). Default: gatepassd.toml in the data folder, written with
    /// documented defaults on first start.
    #[arg(long, env = "GATEPASSD_CONFIG")]
    config: Option<PathBuf>,
    /// Folder for the database, its key and the CA.
    #[arg(long, env = "GATEPASSD_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// The admin API's Unix socket.
    #[arg(long, env = "GATEPASSD_SOCKET")]
    socket: Option<PathBuf>,
    /// Address of the HTTPS redeem listener (port 0 picks a free port).
    #[arg(long, env = "GATEPASSD_LISTEN")]
    listen: Option<String>,
    /// The HTTPS admin listener (API tokens); not available in this version.
    #[arg(long, env = "GATEPASSD_ADMIN_LISTEN", hide = true)]
    admin_listen: Option<String>,
}

fn load_config(args: &Args) -> anyhow::Result<Config> {
    let mut cfg = match &args.config {
        Some(p) => Config::load(p)?,
        None => {
            let dir = args
                .data_dir
                .clone()
                .unwrap_or_else(gatepass_protocol::paths::default_data_dir);
            gatepassd::private_dir(&dir)?;
            let p = dir.join("gatepassd.toml");
            if !p.exists() {
                std::fs::write(&p, EXAMPLE).with_context(|| format!("writing {}", p.display()))?;
                tracing::info!(path = %p.display(), "wrote a config with the documented defaults");
            }
            Config::load(&p)?
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
    Ok(cfg)
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
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

fn main() -> anyhow::Result<()> {
    // Everything the daemon creates is private to its user.
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("GATEPASSD_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let args = Args::parse();
    if args.admin_listen.is_some() {
        anyhow::bail!(
            "--admin-listen (HTTPS admin API with API tokens) is not available in this version"
        );
    }
    let cfg = load_config(&args)?;
    let clock: Arc<dyn Clock> = match std::env::var_os("GATEPASSD_TEST_CLOCK_FILE") {
        Some(p) => {
            tracing::warn!(path = ?p, "TEST CLOCK: time is shifted by the offset in this file");
            Arc::new(OffsetFileClock { path: p.into() })
        }
        None => Arc::new(SystemClock),
    };
    let runtime = tokio::runtime::Runtime::new().context("starting the runtime")?;
    runtime.block_on(async move {
        let socket_path = cfg.socket();
        let listen = cfg.redeem.listen.clone();
        let daemon = Daemon::open(cfg, clock)?;
        let admin = bind_socket(&socket_path)?;
        let redeem = tokio::net::TcpListener::bind(&listen)
            .await
            .with_context(|| format!("binding the redeem listener on {listen}"))?;
        let addr = redeem.local_addr()?;
        tracing::info!(socket = %socket_path.display(), redeem = %addr, data = %daemon.data_dir().display(), "gatepassd listening");
        println!(
            "gatepassd ready socket={} redeem=https://{} ca_pin={}",
            socket_path.display(),
            addr,
            daemon.ca_pin()
        );
        let result = daemon.run(admin, redeem, shutdown_signal()).await;
        let _ = std::fs::remove_file(&socket_path);
        result?;
        tracing::info!("stopped");
        Ok(())
    })
}
