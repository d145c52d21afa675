//! What `GET /metrics` shows, in the Prometheus text format (0.0.4) through the `prometheus`
//! crate: the series are registered once, in `Metrics::new`; counters and histograms move as
//! requests and batches happen; gauges that describe the store (tokens by status, hosts,
//! tokens expiring soon…) are set from one read at scrape time (`Metrics::render`).
//!
//! A scrape limited to some tenants (`Snapshot::limited`: a tenant's admin or auditor, where
//! several tenants exist) holds only `TENANT_SERIES`: their token counts, and what tells of the
//! daemon alone (version, store up, ready). Every other series counts every tenant's activity.
//!
//! No label ever holds a token, an id, a secret, a host name or an address: results and reasons
//! are error codes (a closed set), routes are templates (`/v1/tokens/{id}`), listeners are four
//! names. `StoreMetrics` are the engines' histograms, handed to the engine when it opens.

mod process;

use std::collections::BTreeMap;
use std::time::Duration;

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::domain::DurabilityStats;

/// The content type of the text format the scrape answers in.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Latency buckets (seconds) for answers and commits: 0.5 ms to 10 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The series a scrape limited to some tenants holds (the token gauges, set from those
/// tenants' tokens only, and three that say nothing of any tenant).
pub const TENANT_SERIES: &[&str] = &[
    "gatepass_build_info",
    "gatepass_store_up",
    "gatepass_ready",
    "gatepass_tokens",
    "gatepass_hosts",
    "gatepass_tokens_expiring_soon",
    "gatepass_tokens_uses_hosts_mismatch",
];

/// Writes per batch: 1 to the writer's maximum (256).
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

/// The engines' own series (batches, commits, syncs, checkpoints; PostgreSQL's transactions,
/// reconnects and connections). Cheap to clone (each handle is shared); an engine opened
/// without the daemon (a check, a test) gets unregistered ones.
#[derive(Debug, Clone)]
pub struct StoreMetrics {
    /// Writes per group-committed batch.
    pub batch_size: Histogram,
    /// An embedded-store commit (no fsync: the journal is what is durable).
    pub commit_seconds: Histogram,
    /// One journal write and its `fdatasync`, for every batch waiting.
    pub journal_sync_seconds: Histogram,
    /// A checkpoint: a durable database commit that folds the journal in.
    pub checkpoint_seconds: Histogram,
    /// A PostgreSQL write transaction, from its first statement to its commit.
    pub transaction_seconds: Histogram,
    /// PostgreSQL connections made again after a break.
    pub reconnects: IntCounter,
    /// PostgreSQL connections by `state` (`in_use`, `idle`).
    pub connections: IntGaugeVec,
}

impl Default for StoreMetrics {
    fn default() -> StoreMetrics {
        StoreMetrics::new()
    }
}

fn histogram(name: &str, help: &str, buckets: &[f64]) -> Histogram {
    Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets.to_vec()))
        .unwrap_or_else(|e| unreachable!("a fixed histogram is valid: {e}"))
}

impl StoreMetrics {
    pub fn new() -> StoreMetrics {
        let m = StoreMetrics {
            batch_size: histogram(
                "gatepass_store_batch_size",
                "Writes per group-committed batch.",
                BATCH_BUCKETS,
            ),
            commit_seconds: histogram(
                "gatepass_store_commit_duration_seconds",
                "Embedded store: a batch's database commit (no fsync; the journal is durable).",
                LATENCY_BUCKETS,
            ),
            journal_sync_seconds: histogram(
                "gatepass_store_journal_sync_duration_seconds",
                "Embedded store: one journal write and its fdatasync, for every batch waiting.",
                LATENCY_BUCKETS,
            ),
            checkpoint_seconds: histogram(
                "gatepass_store_checkpoint_duration_seconds",
                "Embedded store: a checkpoint (a durable commit folding the journal in).",
                LATENCY_BUCKETS,
            ),
            transaction_seconds: histogram(
                "gatepass_store_transaction_duration_seconds",
                "PostgreSQL: a batch's write transaction, first statement to commit.",
                LATENCY_BUCKETS,
            ),
            reconnects: IntCounter::new(
                "gatepass_store_reconnects_total",
                "PostgreSQL: connections made again after a break.",
            )
            .unwrap_or_else(|e| unreachable!("{e}")),
            connections: IntGaugeVec::new(
                Opts::new(
                    "gatepass_store_connections",
                    "PostgreSQL: the daemon's connections by state (in_use, idle).",
                ),
                &["state"],
            )
            .unwrap_or_else(|e| unreachable!("{e}")),
        };
        // Both states from the start (0 on the embedded store), so a query never finds nothing.
        for state in ["in_use", "idle"] {
            m.connections.with_label_values(&[state]).set(0);
        }
        m
    }

    /// Times `f` into `h`.
    pub fn time<T>(h: &Histogram, f: impl FnOnce() -> T) -> T {
        let start = std::time::Instant::now();
        let out = f();
        h.observe(start.elapsed().as_secs_f64());
        out
    }
}

/// What the scrape reads from the store (and the state) to set the gauges.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// `None` when the store could not be read: the token gauges are then left out.
    pub tokens: Option<TokenCounts>,
    pub store_up: bool,
    pub ready: bool,
    pub durability: DurabilityStats,
    pub subscribers: usize,
    /// Only `TENANT_SERIES`: the scrape of a caller who does not see every tenant.
    pub limited: bool,
}

/// The token gauges, from one list of the store.
#[derive(Debug, Clone, Default)]
pub struct TokenCounts {
    pub by_status: BTreeMap<&'static str, u64>,
    pub hosts: u64,
    pub expiring_soon: u64,
    pub uses_differ: u64,
}

/// Every series of the daemon, in one registry.
pub struct Metrics {
    registry: Registry,
    redeem: IntCounterVec,
    redeem_seconds: HistogramVec,
    refusals: IntCounterVec,
    rate_limited: IntCounter,
    requests: IntCounterVec,
    request_seconds: HistogramVec,
    tokens: IntGaugeVec,
    hosts: IntGauge,
    expiring_soon: IntGauge,
    uses_differ: IntGauge,
    subscribers: IntGauge,
    store_up: IntGauge,
    ready: IntGauge,
    journaled: IntCounter,
    checkpoints: IntCounter,
    journal_bytes: IntGauge,
    journal_capacity: IntGauge,
    process: process::Process,
    /// One scrape at a time sets the gauges and reads them: a scrape counting one tenant's
    /// tokens never reads another's counts.
    rendering: std::sync::Mutex<()>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new(&StoreMetrics::new(), "redb")
    }
}

fn counter_vec(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    IntCounterVec::new(Opts::new(name, help), labels).unwrap_or_else(|e| unreachable!("{e}"))
}

fn gauge(name: &str, help: &str) -> IntGauge {
    IntGauge::new(name, help).unwrap_or_else(|e| unreachable!("{e}"))
}

fn counter(name: &str, help: &str) -> IntCounter {
    IntCounter::new(name, help).unwrap_or_else(|e| unreachable!("{e}"))
}

fn histogram_vec(name: &str, help: &str, labels: &[&str]) -> HistogramVec {
    HistogramVec::new(
        HistogramOpts::new(name, help).buckets(LATENCY_BUCKETS.to_vec()),
        labels,
    )
    .unwrap_or_else(|e| unreachable!("{e}"))
}

/// Raises a counter to `to` (the engine keeps its own count; a counter never goes down).
fn raise(c: &IntCounter, to: u64) {
    let now = c.get();
    if to > now {
        c.inc_by(to - now);
    }
}

/// The redemption results that enrolled a host (`gatepass_redeem_total{result=…}`).
pub const SUCCESSFUL_RESULTS: [&str; 2] = ["enrolled", "replayed"];

impl Metrics {
    /// Registers every series; `engine` (`redb` or `postgres`) goes into `gatepass_build_info`.
    pub fn new(store: &StoreMetrics, engine: &str) -> Metrics {
        let registry = Registry::new();
        let build = IntGaugeVec::new(
            Opts::new(
                "gatepass_build_info",
                "The daemon's version and store engine; always 1.",
            ),
            &["version", "store"],
        )
        .unwrap_or_else(|e| unreachable!("{e}"));
        build
            .with_label_values(&[env!("CARGO_PKG_VERSION"), engine])
            .set(1);
        let m = Metrics {
            redeem: counter_vec(
                "gatepass_redeem_total",
                "Redemption attempts by result (enrolled, replayed, or the error code answered).",
                &["result"],
            ),
            redeem_seconds: histogram_vec(
                "gatepass_redeem_duration_seconds",
                "Time to answer a redemption, by result.",
                &["result"],
            ),
            refusals: counter_vec(
                "gatepass_redeem_refusals_total",
                "Redemptions refused and answered, by reason (the error code).",
                &["reason"],
            ),
            rate_limited: counter(
                "gatepass_redeem_rate_limited_total",
                "Redemptions answered 429: the address or the token was over its refusal limit.",
            ),
            requests: counter_vec(
                "gatepass_http_requests_total",
                "Answers by listener (socket, admin, redeem, metrics), route template and status code.",
                &["listener", "route", "code"],
            ),
            request_seconds: histogram_vec(
                "gatepass_http_request_duration_seconds",
                "Time to answer a request (to its head; a stream's body is not timed), by listener and route template.",
                &["listener", "route"],
            ),
            tokens: IntGaugeVec::new(
                Opts::new("gatepass_tokens", "Tokens on record by status."),
                &["status"],
            )
            .unwrap_or_else(|e| unreachable!("{e}")),
            hosts: gauge(
                "gatepass_hosts",
                "Hosts enrolled with tokens still on record.",
            ),
            expiring_soon: gauge(
                "gatepass_tokens_expiring_soon",
                "Active tokens that expire within 24 hours.",
            ),
            uses_differ: gauge(
                "gatepass_tokens_uses_hosts_mismatch",
                "Tokens whose use count differs from their enrolled hosts (hosts removed since: review those endpoints).",
            ),
            subscribers: gauge(
                "gatepass_events_subscribers",
                "Listeners of the change stream (/v1/events), consoles mostly.",
            ),
            store_up: gauge(
                "gatepass_store_up",
                "1 when the store answers (a stopped store or an unreachable database: 0).",
            ),
            ready: gauge("gatepass_ready", "1 when every check of /readyz passes."),
            journaled: counter(
                "gatepass_store_journaled_batches_total",
                "Write batches made durable by the journal.",
            ),
            checkpoints: counter(
                "gatepass_store_checkpoints_total",
                "Durable database commits (journal folded in).",
            ),
            journal_bytes: gauge(
                "gatepass_store_journal_bytes",
                "Journal bytes since the last checkpoint (what a restart would redo).",
            ),
            journal_capacity: gauge(
                "gatepass_store_journal_capacity_bytes",
                "The journal's size ([limits] journal_mib; 0: no journal).",
            ),
            process: process::Process::new(),
            rendering: std::sync::Mutex::new(()),
            registry,
        };
        let all: Vec<Box<dyn prometheus::core::Collector>> = vec![
            Box::new(build),
            Box::new(m.redeem.clone()),
            Box::new(m.redeem_seconds.clone()),
            Box::new(m.refusals.clone()),
            Box::new(m.rate_limited.clone()),
            Box::new(m.requests.clone()),
            Box::new(m.request_seconds.clone()),
            Box::new(m.tokens.clone()),
            Box::new(m.hosts.clone()),
            Box::new(m.expiring_soon.clone()),
            Box::new(m.uses_differ.clone()),
            Box::new(m.subscribers.clone()),
            Box::new(m.store_up.clone()),
            Box::new(m.ready.clone()),
            Box::new(m.journaled.clone()),
            Box::new(m.checkpoints.clone()),
            Box::new(m.journal_bytes.clone()),
            Box::new(m.journal_capacity.clone()),
            Box::new(store.batch_size.clone()),
            Box::new(store.commit_seconds.clone()),
            Box::new(store.journal_sync_seconds.clone()),
            Box::new(store.checkpoint_seconds.clone()),
            Box::new(store.transaction_seconds.clone()),
            Box::new(store.reconnects.clone()),
            Box::new(store.connections.clone()),
        ];
        for c in all.into_iter().chain(m.process.collectors()) {
            // Names are fixed and distinct: a clash is a bug caught by the tests.
            if let Err(e) = m.registry.register(c) {
                tracing::error!(error = %e, "a metric could not be registered");
            }
        }
        // The successful results from the start, at 0: the failure ratio (the dashboard's and
        // the alert's `1 - enrolled|replayed / all`) has a numerator even on a daemon that has
        // refused every redemption so far, instead of no value and an alert that never fires.
        for result in SUCCESSFUL_RESULTS {
            m.redeem.with_label_values(&[result]);
            m.redeem_seconds.with_label_values(&[result]);
        }
        m
    }

    /// Counts one redemption attempt by its result (`enrolled`, `replayed` or an error code)
    /// and records how long it took to answer.
    pub fn redeem(&self, result: &str, took: Duration) {
        self.redeem.with_label_values(&[result]).inc();
        self.redeem_seconds
            .with_label_values(&[result])
            .observe(took.as_secs_f64());
    }

    /// A refusal answered, by its code.
    pub fn refusal(&self, reason: &str) {
        self.refusals.with_label_values(&[reason]).inc();
    }

    /// A 429 answered to a redemption.
    pub fn rate_limited(&self) {
        self.rate_limited.inc();
    }

    /// One answered request: `route` is the matched template, never the path itself.
    pub fn request(&self, listener: &str, route: &str, status: u16, took: Duration) {
        let code = status.to_string();
        self.requests
            .with_label_values(&[listener, route, code.as_str()])
            .inc();
        self.request_seconds
            .with_label_values(&[listener, route])
            .observe(took.as_secs_f64());
    }

    /// Sets the gauges from `s` and writes every series in the text format.
    pub fn render(&self, s: &Snapshot) -> String {
        let _one = self
            .rendering
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(t) = &s.tokens {
            for (status, n) in &t.by_status {
                self.tokens.with_label_values(&[status]).set(*n as i64);
            }
            self.hosts.set(t.hosts as i64);
            self.expiring_soon.set(t.expiring_soon as i64);
            self.uses_differ.set(t.uses_differ as i64);
        }
        self.store_up.set(i64::from(s.store_up));
        self.ready.set(i64::from(s.ready));
        self.subscribers.set(s.subscribers as i64);
        raise(&self.journaled, s.durability.journaled_batches);
        raise(&self.checkpoints, s.durability.checkpoints);
        self.journal_bytes.set(s.durability.journal_bytes as i64);
        self.journal_capacity
            .set(s.durability.journal_capacity as i64);
        self.process.update();
        let mut families = self.registry.gather();
        if s.limited {
            families.retain(|f| TENANT_SERIES.contains(&f.name()));
        }
        if s.tokens.is_none() {
            // Gauges of a store that could not be read would repeat stale values.
            families.retain(|f| {
                !matches!(
                    f.name(),
                    "gatepass_tokens"
                        | "gatepass_hosts"
                        | "gatepass_tokens_expiring_soon"
                        | "gatepass_tokens_uses_hosts_mismatch"
                )
            });
        }
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&families, &mut out) {
            tracing::error!(error = %e, "the metrics could not be written");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_series_is_registered_and_labels_hold_no_more_than_their_names() {
        let store = StoreMetrics::new();
        let m = Metrics::new(&store, "redb");
        m.redeem("enrolled", Duration::from_millis(3));
        m.redeem("enrolled", Duration::from_millis(4));
        m.refusal("token_expired");
        m.rate_limited();
        m.request("redeem", "/v1/redeem", 201, Duration::from_millis(3));
        store.batch_size.observe(3.0);
        let text = m.render(&Snapshot {
            tokens: Some(TokenCounts::default()),
            store_up: true,
            ready: true,
            durability: DurabilityStats {
                journaled_batches: 5,
                checkpoints: 2,
                journal_bytes: 100,
                journal_capacity: 1000,
            },
            subscribers: 1,
            limited: false,
        });
        for line in [
            "gatepass_redeem_total{result=\"enrolled\"} 2",
            "gatepass_redeem_duration_seconds_count{result=\"enrolled\"} 2",
            "gatepass_redeem_refusals_total{reason=\"token_expired\"} 1",
            "gatepass_redeem_rate_limited_total 1",
            "gatepass_http_requests_total{code=\"201\",listener=\"redeem\",route=\"/v1/redeem\"} 1",
            "gatepass_store_batch_size_count 1",
            "gatepass_store_journaled_batches_total 5",
            "gatepass_store_journal_capacity_bytes 1000",
            "gatepass_events_subscribers 1",
            "gatepass_store_up 1",
            "gatepass_build_info{store=\"redb\",version=\"",
        ] {
            assert!(text.contains(line), "{line} missing from:\n{text}");
        }
        #[cfg(target_os = "linux")]
        for name in [
            "process_resident_memory_bytes ",
            "process_cpu_seconds_total ",
            "process_open_fds ",
            "process_max_fds ",
            "process_start_time_seconds ",
        ] {
            assert!(text.contains(name), "{name} missing from:\n{text}");
        }
        // A counter set from the engine's own count never goes back.
        let text = m.render(&Snapshot {
            durability: DurabilityStats {
                journaled_batches: 7,
                ..DurabilityStats::default()
            },
            ..Snapshot::default()
        });
        assert!(text.contains("gatepass_store_journaled_batches_total 7"));
        assert!(text.contains("gatepass_store_up 0"));
        // A store that could not be read: its gauges are left out, not repeated stale.
        assert!(!text.contains("gatepass_hosts "), "{text}");
    }

    /// Issue 19: on a daemon that had refused every redemption, the failure ratio had no
    /// numerator (no `result="enrolled"` series yet), so it had no value and its alert never
    /// fired; the successful results are there from the start, at 0.
    #[test]
    fn the_successful_results_are_counted_from_zero_before_any_redemption() {
        let m = Metrics::new(&StoreMetrics::new(), "redb");
        m.redeem("token_expired", Duration::from_millis(3));
        let text = m.render(&Snapshot::default());
        for result in SUCCESSFUL_RESULTS {
            for line in [
                format!("gatepass_redeem_total{{result=\"{result}\"}} 0"),
                format!("gatepass_redeem_duration_seconds_count{{result=\"{result}\"}} 0"),
            ] {
                assert!(text.contains(&line), "{line} missing from:\n{text}");
            }
        }
    }

    #[test]
    fn a_limited_scrape_holds_the_tenant_series_alone() {
        let m = Metrics::default();
        m.redeem("enrolled", Duration::from_millis(3));
        m.request("redeem", "/v1/redeem", 201, Duration::from_millis(3));
        let text = m.render(&Snapshot {
            tokens: Some(TokenCounts {
                by_status: [("active", 2)].into_iter().collect(),
                ..TokenCounts::default()
            }),
            store_up: true,
            limited: true,
            ..Snapshot::default()
        });
        let names: std::collections::BTreeSet<&str> = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split(['{', ' ']).next())
            .collect();
        assert!(names.contains("gatepass_tokens") && names.contains("gatepass_hosts"));
        assert!(names.iter().all(|n| TENANT_SERIES.contains(n)), "{text}");
    }
}
