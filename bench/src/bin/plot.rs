//! `gatepass-bench-plot` (feature `plot`): the picture in the README's "Operating it". A release
//! daemon under a minute of changing load — keep-alive clients redeeming (2, 8, 32, 32, 8, 2 at
//! once, ten seconds each) while one address keeps guessing secrets (refused, then 429) — is
//! scraped over its socket every second, the way Prometheus would; the series the dashboard
//! shows first are computed from those scrapes (rates from counter deltas, quantiles from
//! bucket deltas, as `rate` and `histogram_quantile` do) and plotted with `plotters`.
//!
//! `cargo run --release -p gatepass-bench --features plot --bin gatepass-bench-plot`
//! writes `docs/operating.png` and the scrapes' figures as `docs/operating.csv`. Text needs a
//! TrueType font: DejaVu Sans (Debian's `fonts-dejavu-core`), or the file `GATEPASS_PLOT_FONT`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use gatepass_bench::{BenchDaemon, mint, workspace_root};
use gatepass_protocol::MaxUses;
use gatepass_protocol::client::{HttpsTarget, TrustMode};
use plotters::prelude::*;

/// Clients redeeming at once, ten seconds each.
const PHASES: [usize; 6] = [2, 8, 32, 32, 8, 2];
const PHASE: Duration = Duration::from_secs(10);

/// One scrape: every sample by its series text (`name{labels}`).
type Scrape = BTreeMap<String, f64>;

fn parse(text: &str) -> Scrape {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, v) = l.rsplit_once(' ')?;
            Some((series.to_owned(), v.parse().ok()?))
        })
        .collect()
}

/// The sum of every sample of `name` (any labels) whose series contains `with`.
fn sum(s: &Scrape, name: &str, with: &str) -> f64 {
    s.iter()
        .filter(|(k, _)| {
            (k.as_str() == name || k.starts_with(&format!("{name}{{"))) && k.contains(with)
        })
        .map(|(_, v)| v)
        .sum()
}

/// `histogram_quantile(q, …)` over the bucket deltas between two scrapes (linear within a
/// bucket, as Prometheus does); `None` without observations.
fn quantile(q: f64, before: &Scrape, after: &Scrape, bucket: &str, with: &str) -> Option<f64> {
    let mut buckets: Vec<(f64, f64)> = after
        .iter()
        .filter(|(k, _)| k.starts_with(&format!("{bucket}{{")) && k.contains(with))
        .filter_map(|(k, v)| {
            let le = k.split("le=\"").nth(1)?.split('"').next()?;
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().ok()?
            };
            Some((le, v - before.get(k).copied().unwrap_or(0.0)))
        })
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total = buckets.last()?.1;
    if total <= 0.0 {
        return None;
    }
    let rank = q * total;
    let mut lower = (0.0, 0.0);
    for (le, count) in buckets {
        if count >= rank {
            if le.is_infinite() {
                return Some(lower.0);
            }
            let within = (rank - lower.1) / (count - lower.1).max(f64::MIN_POSITIVE);
            return Some(lower.0 + (le - lower.0) * within);
        }
        lower = (le, count);
    }
    None
}

/// What one second of the run looked like.
#[derive(Debug, Default, Clone)]
struct Point {
    t: f64,
    clients: usize,
    enrolled_per_s: f64,
    refused_per_s: f64,
    limited_per_s: f64,
    p50_ms: Option<f64>,
    p99_ms: Option<f64>,
    sync_p99_ms: Option<f64>,
    writes_per_batch: Option<f64>,
    rss_mib: f64,
}

fn point(t: f64, clients: usize, a: &Scrape, b: &Scrape, dt: f64) -> Point {
    let rate = |name: &str, with: &str| (sum(b, name, with) - sum(a, name, with)) / dt;
    let ms = |v: Option<f64>| v.map(|s| s * 1e3);
    let batches = sum(b, "gatepass_store_batch_size_count", "")
        - sum(a, "gatepass_store_batch_size_count", "");
    let writes =
        sum(b, "gatepass_store_batch_size_sum", "") - sum(a, "gatepass_store_batch_size_sum", "");
    Point {
        t,
        clients,
        enrolled_per_s: rate("gatepass_redeem_total", "result=\"enrolled\""),
        refused_per_s: rate("gatepass_redeem_refusals_total", ""),
        limited_per_s: rate("gatepass_redeem_rate_limited_total", ""),
        p50_ms: ms(quantile(
            0.5,
            a,
            b,
            "gatepass_redeem_duration_seconds_bucket",
            "result=\"enrolled\"",
        )),
        p99_ms: ms(quantile(
            0.99,
            a,
            b,
            "gatepass_redeem_duration_seconds_bucket",
            "result=\"enrolled\"",
        )),
        sync_p99_ms: ms(quantile(
            0.99,
            a,
            b,
            "gatepass_store_journal_sync_duration_seconds_bucket",
            "",
        )),
        writes_per_batch: (batches > 0.0).then(|| writes / batches),
        rss_mib: sum(b, "process_resident_memory_bytes", "") / (1024.0 * 1024.0),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let root = workspace_root()?;
    let font_path = std::env::var("GATEPASS_PLOT_FONT")
        .unwrap_or_else(|_| "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf".into());
    let font = std::fs::read(&font_path)
        .with_context(|| format!("reading the font {font_path} (set GATEPASS_PLOT_FONT)"))?;
    let font: &'static [u8] = Box::leak(font.into_boxed_slice());
    plotters::style::register_font("sans-serif", FontStyle::Normal, font)
        .map_err(|_| anyhow::anyhow!("{font_path} is not a font"))?;

    let d = BenchDaemon::start()?;
    let client = d.client();
    let secrets = mint(&client, "plot", 64, MaxUses::Unlimited, 8).await?;
    let target = HttpsTarget::parse(&d.redeem_url, TrustMode::Pin(d.pin.clone()))?;
    let clients = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for c in 0..PHASES.iter().copied().max().unwrap_or(1) {
        let (target, clients, stop, secret) = (
            target.clone(),
            clients.clone(),
            stop.clone(),
            secrets[c % secrets.len()].clone(),
        );
        tasks.push(tokio::spawn(async move {
            let auth = format!("Bearer {secret}");
            let headers = [
                ("content-type", "application/json"),
                ("authorization", auth.as_str()),
            ];
            let mut kept = None;
            while !stop.load(Ordering::Relaxed) {
                if c >= clients.load(Ordering::Relaxed) {
                    kept = None;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
                if kept.is_none() {
                    kept = target.keep_alive().await.ok();
                }
                let body = format!(r#"{{"hostname":"plot-{c}"}}"#).into_bytes();
                if let Some(k) = kept.as_mut()
                    && k.request("POST", "/v1/redeem", &headers, body)
                        .await
                        .is_err()
                {
                    kept = None;
                }
            }
        }));
    }
    // One address guessing secrets: refused ten times a minute, then 429.
    let guesser = {
        let (mut target, stop) = (target.clone(), stop.clone());
        target.local_addr = Some("127.0.0.9".parse()?);
        let wrong = format!(
            "Bearer {}",
            gatepass_protocol::token::generate(gatepass_protocol::TokenKind::Enrollment)
                .map_err(|e| anyhow::anyhow!("no randomness: {e}"))?
                .expose()
        );
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let headers = [
                    ("content-type", "application/json"),
                    ("authorization", wrong.as_str()),
                ];
                let _ = target
                    .request(
                        "POST",
                        "/v1/redeem",
                        &headers,
                        br#"{"hostname":"guess"}"#.to_vec(),
                    )
                    .await;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };

    let scrape = || async { anyhow::Ok(parse(&client.raw("GET", "/metrics", None).await?.text())) };
    let start = Instant::now();
    let mut last = (start, scrape().await?);
    let mut points = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    while start.elapsed() < PHASE * PHASES.len() as u32 {
        let phase = (start.elapsed().as_secs_f64() / PHASE.as_secs_f64()) as usize;
        let now_clients = PHASES[phase.min(PHASES.len() - 1)];
        clients.store(now_clients, Ordering::Relaxed);
        tick.tick().await;
        let now = (Instant::now(), scrape().await?);
        let dt = now.0.duration_since(last.0).as_secs_f64();
        points.push(point(
            start.elapsed().as_secs_f64(),
            now_clients,
            &last.1,
            &now.1,
            dt,
        ));
        last = now;
    }
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await?;
    }
    guesser.await?;

    let docs = root.join("docs");
    let mut csv = String::from(
        "t_s,clients,enrolled_per_s,refused_per_s,rate_limited_per_s,p50_ms,p99_ms,journal_sync_p99_ms,writes_per_batch,rss_mib\n",
    );
    let opt = |v: Option<f64>| v.map(|v| format!("{v:.3}")).unwrap_or_default();
    for p in &points {
        csv.push_str(&format!(
            "{:.1},{},{:.1},{:.2},{:.2},{},{},{},{},{:.1}\n",
            p.t,
            p.clients,
            p.enrolled_per_s,
            p.refused_per_s,
            p.limited_per_s,
            opt(p.p50_ms),
            opt(p.p99_ms),
            opt(p.sync_p99_ms),
            opt(p.writes_per_batch),
            p.rss_mib
        ));
    }
    std::fs::write(docs.join("operating.csv"), csv)?;
    let png = docs.join("operating.png");
    draw(&png, &points)?;
    eprintln!("wrote {} and operating.csv", png.display());
    Ok(())
}

fn draw(path: &std::path::Path, points: &[Point]) -> anyhow::Result<()> {
    let root = BitMapBackend::new(path, (1200, 1000)).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(
        "gatepassd under changing load, from its /metrics (scraped every second)",
        ("sans-serif", 24),
    )?;
    let panels = root.split_evenly((3, 1));
    let end = points.last().map_or(60.0, |p| p.t);
    let max = |f: &dyn Fn(&Point) -> Option<f64>| {
        points.iter().filter_map(f).fold(0.0_f64, f64::max) * 1.15 + 1e-9
    };

    let series = |chart: &mut ChartContext<'_, BitMapBackend<'_>, _>,
                  name: &str,
                  color: RGBColor,
                  f: &dyn Fn(&Point) -> Option<f64>|
     -> anyhow::Result<()> {
        chart
            .draw_series(LineSeries::new(
                points.iter().filter_map(|p| f(p).map(|v| (p.t, v))),
                color.stroke_width(2),
            ))?
            .label(name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        Ok(())
    };

    let top = max(&|p| Some(p.enrolled_per_s));
    let mut c = ChartBuilder::on(&panels[0])
        .caption(
            "Redemptions per second (clients at once: 2, 8, 32, 32, 8, 2)",
            ("sans-serif", 18),
        )
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..end, 0.0..top)?;
    c.configure_mesh().x_desc("seconds").draw()?;
    series(&mut c, "enrolled / s", BLUE, &|p| Some(p.enrolled_per_s))?;
    c.configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;

    let top = max(&|p| Some(p.refused_per_s.max(p.limited_per_s)));
    let mut c = ChartBuilder::on(&panels[1])
        .caption(
            "Refused per second (one address guessing): answered, then 429",
            ("sans-serif", 18),
        )
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..end, 0.0..top.max(1.0))?;
    c.configure_mesh().x_desc("seconds").draw()?;
    series(&mut c, "refused (unauthorized) / s", RED, &|p| {
        Some(p.refused_per_s)
    })?;
    series(&mut c, "rate limited (429) / s", MAGENTA, &|p| {
        Some(p.limited_per_s)
    })?;
    c.configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;

    let top = max(&|p| match (p.p99_ms, p.sync_p99_ms) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    });
    let mut c = ChartBuilder::on(&panels[2])
        .caption(
            "Latency (ms): redemption p50 and p99, journal write + fdatasync p99",
            ("sans-serif", 18),
        )
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..end, 0.0..top)?;
    c.configure_mesh().x_desc("seconds").draw()?;
    series(&mut c, "redemption p50", GREEN, &|p| p.p50_ms)?;
    series(&mut c, "redemption p99", BLUE, &|p| p.p99_ms)?;
    series(&mut c, "journal sync p99", BLACK, &|p| p.sync_p99_ms)?;
    c.configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
