//! `gatepass-bench`: starts a real `gatepassd` (release build) on a temp folder, mints tokens
//! over its socket, then drives concurrent HTTPS redemptions for a fixed time and prints one
//! table: redemptions/s, latency percentiles, errors.
//!
//! `cargo run --release -p gatepass-bench -- --scenario spread --concurrency 64 --seconds 10`
//!
//! Scenarios: `spread` (each redemption uses its own single-use token), `hot` (everyone redeems
//! one unlimited token). Every request opens a new TLS connection, as real hosts do.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use gatepass_bench::{BenchDaemon, mint, pct};
use gatepass_protocol::MaxUses;
use gatepass_protocol::client::{HttpsTarget, TrustMode};

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

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let daemon = BenchDaemon::start()?;
    let (url, pin) = (daemon.redeem_url.clone(), daemon.pin.clone());
    let client = daemon.client();

    let hot = args.scenario == "hot";
    let count = if hot { 1 } else { args.tokens };
    let mint_start = Instant::now();
    // Minted by 32 concurrent clients (their writes share commits, like redemptions do).
    let uses = if hot {
        MaxUses::Unlimited
    } else {
        MaxUses::Limited(1)
    };
    let secrets = mint(&client, "bench", count, uses, 32).await?;
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
    drop(daemon);
    lat.sort();
    let pct = |p: f64| pct(&lat, p);
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
