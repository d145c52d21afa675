//! `gatepass-bench`: the redemption benchmark. Each scenario starts a real release `gatepassd`
//! on a temp folder, mints its tokens over the socket, drives concurrent HTTPS requests from
//! real clients for a fixed time, and adds one row to a table: requests/s, p50/p99/max latency,
//! errors, the daemon's peak RSS and CPU. Then it prints the ratios the performance targets are
//! written in, against the stack's own ceiling and, when available, PostgreSQL doing the same
//! work (`../shared/bench/pg-baseline.sh`, or figures passed with `--pg-spread`/`--pg-hot`).
//!
//! `cargo run --release -p gatepass-bench -- --seconds 10` (all scenarios), or
//! `--scenario herd-keepalive` for one. Scenarios:
//! - `ceiling-fresh` / `herd-fresh`: `GET /healthz` / a redemption of its own single-use
//!   token, each on a new TLS connection (what real hosts do), 64 at a time.
//! - `ceiling-keepalive` / `herd-keepalive`: the same on 64 kept-alive connections (a proxy in
//!   front), `--tokens` distinct tokens.
//! - `hot-token`: 64 kept-alive connections all redeeming ONE unlimited token.
//! - `single-use-race`: `--race-tokens` single-use tokens, `--racers` concurrent redemptions of
//!   each, fired together; exactly one success per token or the bench fails loudly.
//! - `startup` (only when asked): RSS and start-up time with `--startup-tokens` tokens.
//!
//! `--store postgres` runs them on the PostgreSQL engine (a private server started for the
//! run), `--store both` on each engine in one run; `--daemons 3` (with `--store postgres`)
//! starts three nodes on one database and spreads the clients (and each token's racers) over
//! them: RSS and CPU are then the three daemons' sums. `GATEPASS_BENCH_DAEMON=PATH` runs another
//! build of `gatepassd`, to compare two in one run.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use clap::Parser;
use gatepass_bench::{BenchDaemon, mint, ms, pct, rss_kib};
use gatepass_protocol::MaxUses;
use gatepass_protocol::client::{HttpsTarget, KeepAlive, RawResponse, TrustMode};

#[derive(Debug, Parser)]
struct Args {
    /// One scenario, or `all` (every one but `startup`).
    #[arg(long, default_value = "all")]
    scenario: String,
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// How long each timed scenario runs.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Distinct single-use tokens minted for the herd scenarios.
    #[arg(long, default_value_t = 100_000)]
    tokens: usize,
    #[arg(long, default_value_t = 100)]
    race_tokens: usize,
    #[arg(long, default_value_t = 10)]
    racers: usize,
    /// Tokens in the store for the `startup` scenario.
    #[arg(long, default_value_t = 1_000_000)]
    startup_tokens: usize,
    /// Run ../shared/bench/pg-baseline.sh (needs root; installs PostgreSQL if missing).
    #[arg(long)]
    pg: bool,
    /// PostgreSQL's TPS for the spread scenario, measured elsewhere.
    #[arg(long)]
    pg_spread: Option<f64>,
    /// PostgreSQL's TPS for the hot-token scenario, measured elsewhere.
    #[arg(long)]
    pg_hot: Option<f64>,
    /// The store the daemons use: `redb` (embedded), `postgres` (a private PostgreSQL server
    /// started for the run, as the tests do), or `both` (each scenario on each, in one run).
    #[arg(long, default_value = "redb")]
    store: String,
    /// Daemons on the one PostgreSQL database (`--store postgres`), each a copy of the first
    /// node's folder; clients are spread over them. On two cores, about correctness, not speed.
    #[arg(long, default_value_t = 1)]
    daemons: usize,
}

/// Where a scenario's daemon stores.
enum Engine<'a> {
    Redb,
    Postgres(&'a gatepass_tests::pg::Cluster),
}

impl Engine<'_> {
    /// Daemons on a fresh folder each (and, on PostgreSQL, `n` of them on one fresh database,
    /// every one a node of the first: its key and CA).
    fn start(&self, db: &mut u32, n: usize) -> anyhow::Result<Vec<BenchDaemon>> {
        match self {
            Engine::Redb => Ok(vec![BenchDaemon::start()?]),
            Engine::Postgres(pg) => {
                *db += 1;
                let url = pg.database(&format!("bench{db}"));
                let first = BenchDaemon::start_on(tempfile::tempdir()?, Some(&url))?;
                let mut all = Vec::with_capacity(n);
                for _ in 1..n {
                    let dir = tempfile::tempdir()?;
                    let data = dir.path().join("data");
                    std::fs::create_dir(&data)?;
                    std::fs::set_permissions(
                        &data,
                        std::os::unix::fs::PermissionsExt::from_mode(0o700),
                    )?;
                    for f in ["hmac.key", "ca.pem", "ca.key"] {
                        std::fs::copy(first.dir.path().join("data").join(f), data.join(f))?;
                    }
                    all.push(BenchDaemon::start_on(dir, Some(&url))?);
                }
                all.insert(0, first);
                Ok(all)
            }
        }
    }

    /// The rows' suffix: `-pg`, or `-pg3` for three daemons.
    fn suffix(&self, daemons: usize) -> String {
        match self {
            Engine::Redb => String::new(),
            Engine::Postgres(_) if daemons > 1 => format!("-pg{daemons}"),
            Engine::Postgres(_) => "-pg".into(),
        }
    }
}

/// CPU ticks of every daemon, summed.
fn cpu_all(ds: &[BenchDaemon]) -> u64 {
    ds.iter().map(|d| cpu_ticks(d.child.id())).sum()
}

/// Resident memory of every daemon, summed (KiB).
fn rss_all(ds: &[BenchDaemon]) -> u64 {
    ds.iter().map(|d| rss_kib(d.child.id()).unwrap_or(0)).sum()
}

/// Each daemon's redemption address, as a client reaches it.
fn targets(ds: &[BenchDaemon]) -> anyhow::Result<Vec<HttpsTarget>> {
    ds.iter()
        .map(|d| {
            Ok(HttpsTarget::parse(
                &d.redeem_url,
                TrustMode::Pin(d.pin.clone()),
            )?)
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Conn {
    Fresh,
    KeepAlive,
}

/// One row of the table.
struct Row {
    name: &'static str,
    conn: Conn,
    concurrency: usize,
    lat: Vec<Duration>,
    errors: usize,
    elapsed: Duration,
    rss_peak_kib: u64,
    cpu_percent: f64,
    note: String,
}

impl Row {
    fn rate(&self) -> f64 {
        self.lat.len() as f64 / self.elapsed.as_secs_f64()
    }
}

/// CPU time (user + system) of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let get = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // utime and stime are fields 14 and 15 of /proc/pid/stat: 12 and 13 after the ')'.
    get(11) + get(12)
}

/// What each request is: the token (if any) for request number `i`.
type Pick = Arc<dyn Fn(usize) -> Option<String> + Send + Sync>;

/// Drives `concurrency` workers for `seconds`, each sending requests built by `pick` (a token
/// → POST /v1/redeem; none → GET /healthz) and counting answers with status `want`.
async fn drive(
    ds: &[BenchDaemon],
    name: &'static str,
    conn: Conn,
    concurrency: usize,
    seconds: u64,
    pick: Pick,
    want: u16,
) -> anyhow::Result<Row> {
    let all = targets(ds)?;
    let next = Arc::new(AtomicUsize::new(0));
    let exhausted = Arc::new(AtomicBool::new(false));
    let pids: Arc<Vec<u32>> = Arc::new(ds.iter().map(|d| d.child.id()).collect());
    let sum_rss = |pids: &[u32]| pids.iter().map(|&p| rss_kib(p).unwrap_or(0)).sum::<u64>();
    let peak = Arc::new(AtomicU64::new(sum_rss(&pids)));
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (peak, sampling, pids) = (peak.clone(), sampling.clone(), pids.clone());
        tokio::spawn(async move {
            while sampling.load(Ordering::Relaxed) {
                peak.fetch_max(sum_rss(&pids), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    eprintln!("{name}: timed phase started (daemon pids {pids:?})");
    let ticks0 = cpu_all(ds);
    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for worker in 0..concurrency {
        let (target, next, pick, exhausted) = (
            all[worker % all.len()].clone(),
            next.clone(),
            pick.clone(),
            exhausted.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0usize;
            let mut kept: Option<KeepAlive> = None;
            while Instant::now() < deadline {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let token = pick(i);
                let (method, path, body) = match &token {
                    Some(_) => ("POST", "/v1/redeem", br#"{"hostname":"bench"}"#.to_vec()),
                    None if i == usize::MAX => break,
                    None => ("GET", "/healthz", Vec::new()),
                };
                if token.is_none() && want == 201 {
                    exhausted.store(true, Ordering::Relaxed);
                    break;
                }
                let auth = token.map(|t| format!("Bearer {t}")).unwrap_or_default();
                let mut headers = vec![("content-type", "application/json")];
                if !auth.is_empty() {
                    headers.push(("authorization", auth.as_str()));
                }
                let t = Instant::now();
                let answer: Result<RawResponse, _> = match conn {
                    Conn::Fresh => target.request(method, path, &headers, body).await,
                    Conn::KeepAlive => {
                        if kept.is_none() {
                            kept = target.keep_alive().await.ok();
                        }
                        match kept.as_mut() {
                            Some(k) => k.request(method, path, &headers, body).await,
                            None => {
                                errors += 1;
                                continue;
                            }
                        }
                    }
                };
                match answer {
                    Ok(r) if r.status == want => lat.push(t.elapsed()),
                    Ok(_) => errors += 1,
                    Err(_) => {
                        errors += 1;
                        kept = None;
                    }
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
    let cpu = (cpu_all(ds) - ticks0) as f64 / 100.0 / elapsed.as_secs_f64() * 100.0;
    sampling.store(false, Ordering::Relaxed);
    sampler.await?;
    lat.sort();
    let note = if exhausted.load(Ordering::Relaxed) {
        "ran out of tokens before the time was up".to_owned()
    } else {
        String::new()
    };
    Ok(Row {
        name,
        conn,
        concurrency,
        lat,
        errors,
        elapsed,
        rss_peak_kib: peak.load(Ordering::Relaxed),
        cpu_percent: cpu,
        note,
    })
}

/// Each of `tokens` single-use tokens redeemed by `racers` clients at once: exactly one wins.
async fn race(ds: &[BenchDaemon], tokens: usize, racers: usize) -> anyhow::Result<Row> {
    let d = ds.first().context("no daemon")?;
    let secrets = mint(&d.client(), "race", tokens, MaxUses::Limited(1), 32).await?;
    let all = targets(ds)?;
    let total = tokens * racers;
    let barrier = Arc::new(tokio::sync::Barrier::new(total));
    eprintln!("single-use-race: racing ({} daemon(s))", ds.len());
    let ticks0 = cpu_all(ds);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..total {
        // Racers for one token spread over every daemon.
        let (target, barrier) = (all[(i / tokens) % all.len()].clone(), barrier.clone());
        let (which, secret) = (i % tokens, secrets[i % tokens].clone());
        tasks.push(tokio::spawn(async move {
            let auth = format!("Bearer {secret}");
            let headers = [
                ("authorization", auth.as_str()),
                ("content-type", "application/json"),
            ];
            let body = format!(r#"{{"hostname":"racer-{i}"}}"#).into_bytes();
            barrier.wait().await;
            let t = Instant::now();
            let r = target.request("POST", "/v1/redeem", &headers, body).await;
            let answer = r
                .map(|r| r.status)
                .map_err(|e| e.to_string().chars().take(80).collect::<String>());
            (which, answer, t.elapsed())
        }));
    }
    let mut wins = vec![0usize; tokens];
    let mut lat = Vec::new();
    let (mut gone, mut other) = (0usize, 0usize);
    let mut others = std::collections::BTreeMap::<String, usize>::new();
    for t in tasks {
        match t.await? {
            (which, Ok(201), l) => {
                wins[which] += 1;
                lat.push(l);
            }
            (_, Ok(410), _) => gone += 1,
            (_, answer, _) => {
                other += 1;
                let said = answer.map_or_else(|e| e, |s| s.to_string());
                *others.entry(said).or_default() += 1;
            }
        }
    }
    let elapsed = start.elapsed();
    let cpu = (cpu_all(ds) - ticks0) as f64 / 100.0 / elapsed.as_secs_f64() * 100.0;
    let bad: Vec<usize> = (0..tokens).filter(|&t| wins[t] != 1).collect();
    if !bad.is_empty() {
        bail!(
            "single-use-race FAILED: {} token(s) did not have exactly one success (e.g. token {} \
             had {}); other answers: {others:?}",
            bad.len(),
            bad[0],
            wins[bad[0]]
        );
    }
    lat.sort();
    Ok(Row {
        name: "single-use-race",
        conn: Conn::Fresh,
        concurrency: total,
        lat,
        errors: other,
        elapsed,
        rss_peak_kib: rss_all(ds),
        cpu_percent: cpu,
        note: format!("exactly one success for each of {tokens} tokens; {gone} refused (410)"),
    })
}

/// A store holding `n` tokens: RSS idle and the time from start to ready.
async fn startup(n: usize) -> anyhow::Result<()> {
    let d = BenchDaemon::start()?;
    let t = Instant::now();
    mint(&d.client(), "seed", n, MaxUses::Limited(5), 64).await?;
    println!(
        "startup: minted {n} tokens in {:.1} s; RSS right after: {:.1} MiB",
        t.elapsed().as_secs_f64(),
        d.rss_kib().unwrap_or(0) as f64 / 1024.0
    );
    // Three clean restarts of the same store; only the start itself is timed (the binary was
    // built before the first start).
    let mut d = d;
    for round in 1..=3 {
        let dir = d.stop()?;
        let t = Instant::now();
        d = BenchDaemon::start_in(dir)?;
        let ready = t.elapsed();
        tokio::time::sleep(Duration::from_secs(2)).await;
        println!(
            "startup: restart {round} to ready with {n} tokens: {:.0} ms; RSS idle: {:.1} MiB",
            ms(ready),
            d.rss_kib().unwrap_or(0) as f64 / 1024.0
        );
    }
    Ok(())
}

/// PostgreSQL's figures: from the flags, or by running the baseline script.
fn pg_figures(args: &Args) -> anyhow::Result<(Option<f64>, Option<f64>)> {
    if !args.pg {
        return Ok((args.pg_spread, args.pg_hot));
    }
    let script = gatepass_bench::workspace_root()?.join("../shared/bench/pg-baseline.sh");
    ensure!(script.exists(), "{} not found", script.display());
    let out = std::process::Command::new("bash")
        .arg(&script)
        .args(["-c", &args.concurrency.to_string()])
        .args(["-T", &args.seconds.to_string()])
        .args(["-n", &args.tokens.to_string()])
        .output()
        .context("running pg-baseline.sh")?;
    let text = String::from_utf8_lossy(&out.stdout);
    print!("{text}");
    let tps = |sc: &str| {
        text.lines()
            .find(|l| l.contains(&format!("scenario={sc} ")))
            .and_then(|l| l.split_whitespace().find_map(|p| p.strip_prefix("tps=")))
            .and_then(|v| v.parse::<f64>().ok())
    };
    Ok((tps("spread"), tps("hot")))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let run = |s: &str| args.scenario == s || (args.scenario == "all" && s != "startup");
    let known = [
        "all",
        "ceiling-fresh",
        "herd-fresh",
        "ceiling-keepalive",
        "herd-keepalive",
        "hot-token",
        "single-use-race",
        "startup",
    ];
    ensure!(
        known.contains(&args.scenario.as_str()),
        "unknown scenario {:?}; one of {known:?}",
        args.scenario
    );
    let (c, secs) = (args.concurrency, args.seconds);
    ensure!(
        ["redb", "postgres", "both"].contains(&args.store.as_str()),
        "--store: redb, postgres or both"
    );
    ensure!(
        args.daemons >= 1 && (args.daemons == 1 || args.store == "postgres"),
        "--daemons: 1, or more with --store postgres"
    );
    let n = args.daemons;
    let cluster = if args.store == "redb" {
        None
    } else {
        eprintln!("starting a private PostgreSQL server");
        Some(gatepass_tests::pg::Cluster::start())
    };
    let mut engines = Vec::new();
    if args.store != "postgres" {
        engines.push(Engine::Redb);
    }
    if let Some(pg) = &cluster {
        engines.push(Engine::Postgres(pg));
    }
    let mut rows = Vec::new();
    let mut databases = 0;
    let healthz: Pick = Arc::new(|_| None);
    for engine in &engines {
        let suffix = engine.suffix(n);
        let named = |name: &'static str| -> &'static str {
            match suffix.as_str() {
                "" => name,
                _ => Box::leak(format!("{name}{suffix}").into_boxed_str()),
            }
        };
        for (name, conn) in [
            ("ceiling-fresh", Conn::Fresh),
            ("ceiling-keepalive", Conn::KeepAlive),
        ] {
            if run(name) {
                let d = engine.start(&mut databases, n)?;
                rows.push(drive(&d, named(name), conn, c, secs, healthz.clone(), 200).await?);
            }
        }
        for (name, conn) in [
            ("herd-fresh", Conn::Fresh),
            ("herd-keepalive", Conn::KeepAlive),
        ] {
            if run(name) {
                let d = engine.start(&mut databases, n)?;
                let secrets = Arc::new(
                    mint(&d[0].client(), "herd", args.tokens, MaxUses::Limited(1), 32).await?,
                );
                let pick: Pick = Arc::new(move |i| secrets.get(i).cloned());
                rows.push(drive(&d, named(name), conn, c, secs, pick, 201).await?);
            }
        }
        if run("hot-token") {
            let d = engine.start(&mut databases, n)?;
            let hot = mint(&d[0].client(), "hot", 1, MaxUses::Unlimited, 1).await?;
            let hot = hot.first().cloned().context("no hot token")?;
            let pick: Pick = Arc::new(move |_| Some(hot.clone()));
            rows.push(drive(&d, named("hot-token"), Conn::KeepAlive, c, secs, pick, 201).await?);
        }
        if run("single-use-race") {
            let d = engine.start(&mut databases, n)?;
            let mut row = race(&d, args.race_tokens, args.racers).await?;
            row.name = named(row.name);
            rows.push(row);
        }
    }
    if !rows.is_empty() {
        println!(
            "{:<18} {:<10} {:>5} {:>8} {:>9} {:>7} {:>7} {:>7} {:>6} {:>8} {:>6}  note",
            "scenario",
            "conn",
            "conc",
            "ok",
            "ok/s",
            "p50 ms",
            "p99 ms",
            "max ms",
            "errors",
            "RSS MiB",
            "CPU %",
        );
    }
    for r in &rows {
        println!(
            "{:<18} {:<10} {:>5} {:>8} {:>9.0} {:>7.1} {:>7.1} {:>7.1} {:>6} {:>8.1} {:>6.0}  {}",
            r.name,
            if r.conn == Conn::Fresh {
                "fresh"
            } else {
                "keep-alive"
            },
            r.concurrency,
            r.lat.len(),
            r.rate(),
            ms(pct(&r.lat, 0.5)),
            ms(pct(&r.lat, 0.99)),
            ms(r.lat.last().copied().unwrap_or_default()),
            r.errors,
            r.rss_peak_kib as f64 / 1024.0,
            r.cpu_percent,
            r.note
        );
    }
    let rate = |n: &str| rows.iter().find(|r| r.name == n).map(Row::rate);
    let (pg_spread, pg_hot) = pg_figures(&args)?;
    let ratio = |label: &str, a: Option<f64>, b: Option<f64>, target: &str| {
        if let (Some(a), Some(b)) = (a, b) {
            println!("{label:<58} {:>6.2}×  (target {target})", a / b);
        }
    };
    ratio(
        "herd-keepalive vs PostgreSQL, spread",
        rate("herd-keepalive"),
        pg_spread,
        "≥ 2×",
    );
    ratio(
        "hot-token vs PostgreSQL, one hot token",
        rate("hot-token"),
        pg_hot,
        "≥ 10×",
    );
    ratio(
        "herd-keepalive-pg (PostgreSQL engine) vs PostgreSQL, spread",
        rate("herd-keepalive-pg"),
        pg_spread,
        "≥ 1×",
    );
    ratio(
        "hot-token-pg (PostgreSQL engine) vs PostgreSQL, one hot token",
        rate("hot-token-pg"),
        pg_hot,
        "≥ 5×",
    );
    let pgn = format!("-pg{}", args.daemons);
    ratio(
        &format!(
            "herd-keepalive{pgn} ({} daemons) vs PostgreSQL, spread",
            args.daemons
        ),
        rate(&format!("herd-keepalive{pgn}")),
        pg_spread,
        "(correctness; 2 cores)",
    );
    ratio(
        &format!(
            "hot-token{pgn} ({} daemons) vs PostgreSQL, one hot token",
            args.daemons
        ),
        rate(&format!("hot-token{pgn}")),
        pg_hot,
        "(correctness; 2 cores)",
    );
    ratio(
        "herd-keepalive: embedded store vs PostgreSQL engine",
        rate("herd-keepalive"),
        rate("herd-keepalive-pg"),
        "≥ 3×",
    );
    ratio(
        "herd-keepalive vs the keep-alive ceiling",
        rate("herd-keepalive"),
        rate("ceiling-keepalive"),
        "≥ 0.25×",
    );
    ratio(
        "herd-fresh vs the fresh-connection ceiling",
        rate("herd-fresh"),
        rate("ceiling-fresh"),
        "≥ 0.80×",
    );
    if let Some(r) = rows.iter().find(|r| r.name == "herd-keepalive") {
        println!(
            "{:<58} {:>6.1} ms (target ≤ 10 ms)",
            "p99 at 64 concurrent, keep-alive",
            ms(pct(&r.lat, 0.99))
        );
    }
    if args.scenario == "startup" {
        startup(args.startup_tokens).await?;
    }
    Ok(())
}
