//! `gatepass-bench`: starts a real `gatepassd` (release build) on a temp folder, mints tokens
//! over its socket, then drives concurrent HTTPS redemptions for a fixed time and prints one
//! table: redemptions/s, latency percentiles, errors.
//!
//! `cargo run --release -p gatepass-bench -- --scenario spread --concurrency 64 --seconds 10`
//!
//! Scenarios: `spread` (each redemption uses its own single-use token), `hot` (everyone redeems
//! one unlimited token). Every request opens a new TLS connection, as real hosts do.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use gatepass_protocol::client::{Client, HttpsTarget, TrustMode};
use gatepass_protocol::{CreateTokenRequest, MaxUses};

#[derive(Debug, Parser)]
struct Args {
    #[arg(long, default_value = "spread")]
    scenario: String,
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Tokens minted up front for `spread` (each is used once).
    #[arg(long, default_value_t = 20_000)]
    tokens: usize,
}

fn build_daemon(root: &Path) -> anyhow::Result<PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let ok = Command::new(cargo)
        .args(["build", "--release", "--quiet", "-p", "gatepassd"])
        .current_dir(root)
        .status()?
        .success();
    if !ok {
        bail!("building gatepassd failed");
    }
    Ok(root.join("target/release/gatepassd"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("workspace")?
        .to_path_buf();
    let bin = build_daemon(&root)?;
    let dir = tempfile::tempdir()?;
    let socket = dir.path().join("gp.sock");
    let mut child = Command::new(bin)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .arg("--socket")
        .arg(&socket)
        .args(["--listen", "127.0.0.1:0"])
        .env("GATEPASSD_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().context("stdout")?),
        &mut line,
    )?;
    let field = |k: &str| {
        line.split_whitespace()
            .find_map(|p| p.strip_prefix(k))
            .map(str::to_owned)
            .context("ready line")
    };
    let (url, pin) = (field("redeem=")?, field("ca_pin=")?);
    let client = Client::unix(&socket);

    let hot = args.scenario == "hot";
    let count = if hot { 1 } else { args.tokens };
    let mint_start = Instant::now();
    // Minted by 32 concurrent clients (their writes share commits, like redemptions do).
    let mut minters = Vec::new();
    for w in 0..32 {
        let client = client.clone();
        minters.push(tokio::spawn(async move {
            let mut out = Vec::new();
            for i in (w..count).step_by(32) {
                let req = CreateTokenRequest {
                    name: format!("bench-{i}"),
                    max_uses: Some(if hot {
                        MaxUses::Unlimited
                    } else {
                        MaxUses::Limited(1)
                    }),
                    ..Default::default()
                };
                out.push(client.create_token(&req).await?.secret.clone());
            }
            anyhow::Ok(out)
        }));
    }
    let mut secrets = Vec::with_capacity(count);
    for m in minters {
        secrets.extend(m.await??);
    }
    let mint = mint_start.elapsed();
    let secrets = Arc::new(secrets);
    let next = Arc::new(AtomicUsize::new(0));
    let target = HttpsTarget::parse(&url, TrustMode::Pin(pin))?;
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..args.concurrency {
        let (secrets, next, target) = (secrets.clone(), next.clone(), target.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0usize;
            while Instant::now() < deadline {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(secret) = secrets.get(if secrets.len() == 1 { 0 } else { i }) else {
                    break;
                };
                let auth = format!("Bearer {secret}");
                let headers = [
                    ("authorization", auth.as_str()),
                    ("content-type", "application/json"),
                ];
                let t = Instant::now();
                match target
                    .request(
                        "POST",
                        "/v1/redeem",
                        &headers,
                        br#"{"hostname":"bench"}"#.to_vec(),
                    )
                    .await
                {
                    Ok(r) if r.status == 201 => lat.push(t.elapsed()),
                    _ => errors += 1,
                }
            }
            (lat, errors)
        }));
    }
    let mut lat = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await?;
        lat.extend(l);
        errors += e;
    }
    let elapsed = start.elapsed();
    let _ = child.kill();
    let _ = child.wait();
    lat.sort();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    println!("scenario      concurrency  redeemed  redemptions/s  p50 ms  p99 ms  max ms  errors");
    println!(
        "{:<13} {:<12} {:<9} {:<14.0} {:<7.1} {:<7.1} {:<7.1} {}",
        args.scenario,
        args.concurrency,
        lat.len(),
        lat.len() as f64 / elapsed.as_secs_f64(),
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        lat.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        errors
    );
    println!(
        "(minted {count} token(s) over the socket in {:.2} s)",
        mint.as_secs_f64()
    );
    Ok(())
}
