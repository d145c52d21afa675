//! What the benchmarks share: a real release `gatepassd` on a temp folder (built if needed),
//! tokens minted concurrently over its socket, the daemon's resident memory, percentiles.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use gatepass_protocol::client::Client;
use gatepass_protocol::{CreateTokenRequest, MaxUses};

/// The workspace root (benchmarks build and find binaries there).
pub fn workspace_root() -> anyhow::Result<PathBuf> {
    Ok(Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("workspace")?
        .to_path_buf())
}

/// Builds the release `gatepassd` (once per process: a later call, such as a timed restart,
/// runs no `cargo build`) and returns its path. `GATEPASS_BENCH_DAEMON=PATH` runs that binary
/// instead (another build, for a comparison in one run).
pub fn build_daemon() -> anyhow::Result<PathBuf> {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    if let Some(bin) = BUILT.get() {
        return Ok(bin.clone());
    }
    if let Some(bin) = std::env::var_os("GATEPASS_BENCH_DAEMON") {
        return Ok(BUILT.get_or_init(|| PathBuf::from(bin)).clone());
    }
    let root = workspace_root()?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let ok = Command::new(cargo)
        .args(["build", "--release", "--quiet", "-p", "gatepassd"])
        .current_dir(&root)
        .status()?
        .success();
    if !ok {
        bail!("building gatepassd failed");
    }
    let bin = root.join("target/release/gatepassd");
    Ok(BUILT.get_or_init(|| bin).clone())
}

/// A running release daemon on a temp folder, killed on drop.
pub struct BenchDaemon {
    pub child: Child,
    pub dir: tempfile::TempDir,
    pub socket: PathBuf,
    pub redeem_url: String,
    pub pin: String,
}

impl BenchDaemon {
    /// Starts a daemon on a fresh temp folder.
    pub fn start() -> anyhow::Result<BenchDaemon> {
        let dir = tempfile::tempdir()?;
        Self::start_in(dir)
    }

    /// Starts a daemon on `dir` (which may already hold a data folder).
    pub fn start_in(dir: tempfile::TempDir) -> anyhow::Result<BenchDaemon> {
        Self::start_on(dir, None)
    }

    /// Starts a daemon on `dir`, storing in the PostgreSQL database `store` if given.
    pub fn start_on(dir: tempfile::TempDir, store: Option<&str>) -> anyhow::Result<BenchDaemon> {
        let bin = build_daemon()?;
        let socket = dir.path().join("gp.sock");
        // The daemon logs at its default level (a line per request), into a file beside its
        // data: GATEPASS_BENCH_LOG sets another level.
        let log_path = dir.path().join("daemon.log");
        let log = std::fs::File::create(&log_path)?;
        // The races are about exactly once, not the refusal limits (every client is 127.0.0.1:
        // ten losing racers would otherwise block the address for everyone).
        let config = dir.path().join("gatepassd.toml");
        std::fs::write(
            &config,
            "[limits]\nredeem_failures_per_minute = 1000000\n\
             redeem_refusals_per_token_per_minute = 1000000\n",
        )?;
        let mut cmd = Command::new(bin);
        cmd.arg("--config")
            .arg(&config)
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .arg("--socket")
            .arg(&socket)
            .args(["--listen", "127.0.0.1:0"])
            .args(store.map(|url| ["--store", url]).into_iter().flatten())
            .env_remove("GATEPASSD_LOG")
            .stdout(Stdio::piped())
            .stderr(log);
        if let Ok(level) = std::env::var("GATEPASS_BENCH_LOG") {
            cmd.env("GATEPASSD_LOG", level);
        }
        let mut child = cmd.spawn()?;
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().context("stdout")?),
            &mut line,
        )?;
        if line.is_empty() {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            anyhow::bail!("gatepassd did not start:\n{log}");
        }
        let field = |k: &str| {
            line.split_whitespace()
                .find_map(|p| p.strip_prefix(k))
                .map(str::to_owned)
                .with_context(|| format!("no {k} in the ready line {line:?}"))
        };
        let (redeem_url, pin) = (field("redeem=")?, field("ca_pin=")?);
        Ok(BenchDaemon {
            child,
            dir,
            socket,
            redeem_url,
            pin,
        })
    }

    pub fn client(&self) -> Client {
        Client::unix(&self.socket)
    }

    /// Stops the daemon with SIGTERM (as a service manager would) and hands back its folder.
    pub fn stop(mut self) -> anyhow::Result<tempfile::TempDir> {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()?;
        self.child.wait()?;
        Ok(std::mem::replace(&mut self.dir, tempfile::tempdir()?))
    }

    /// The daemon's resident set size in KiB (from /proc).
    pub fn rss_kib(&self) -> Option<u64> {
        rss_kib(self.child.id())
    }
}

impl Drop for BenchDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// VmRSS of a process, in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    status_kib(pid, "VmRSS")
}

/// A KiB figure of `/proc/PID/status` (`VmRSS`, `RssAnon`, `RssFile`…).
pub fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Mints `count` tokens named `{prefix}-{i}` over the socket from `concurrency` clients (their
/// writes share commits); returns the secrets in order of `i`.
pub async fn mint(
    client: &Client,
    prefix: &str,
    count: usize,
    max_uses: MaxUses,
    concurrency: usize,
) -> anyhow::Result<Vec<String>> {
    let mut minters = Vec::new();
    for w in 0..concurrency {
        let client = client.clone();
        let prefix = prefix.to_owned();
        minters.push(tokio::spawn(async move {
            let mut out = Vec::new();
            for i in (w..count).step_by(concurrency) {
                let req = CreateTokenRequest {
                    name: format!("{prefix}-{i}"),
                    description: Some(format!("benchmark token {i}")),
                    group: Some(format!("group-{}", i % 17)),
                    max_uses: Some(max_uses),
                    ..Default::default()
                };
                out.push((i, client.create_token(&req).await?.secret.clone()));
            }
            anyhow::Ok(out)
        }));
    }
    let mut all = Vec::with_capacity(count);
    for m in minters {
        all.extend(m.await??);
    }
    all.sort_by_key(|(i, _)| *i);
    Ok(all.into_iter().map(|(_, s)| s).collect())
}

/// The `p` quantile (0..=1) of sorted durations.
pub fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 * p) as usize).min(sorted.len() - 1);
    sorted[i]
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
