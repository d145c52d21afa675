//! Counters for `GET /metrics`, in the Prometheus text format. Gauges (tokens by status, hosts)
//! are computed from the store at scrape time.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

use crate::domain::DurabilityStats;

#[derive(Debug, Default)]
pub struct Metrics {
    redeem: Mutex<BTreeMap<&'static str, u64>>,
}

impl Metrics {
    /// Counts one redemption attempt by its result (`enrolled`, `replayed` or an error code).
    pub fn redeem(&self, result: &'static str) {
        if let Ok(mut m) = self.redeem.lock() {
            *m.entry(result).or_default() += 1;
        }
    }

    pub fn render(
        &self,
        tokens_by_status: &BTreeMap<&'static str, u64>,
        hosts: u64,
        durability: DurabilityStats,
    ) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP gatepass_redeem_total Redemption attempts by result."
        );
        let _ = writeln!(out, "# TYPE gatepass_redeem_total counter");
        if let Ok(m) = self.redeem.lock() {
            for (k, v) in m.iter() {
                let _ = writeln!(out, "gatepass_redeem_total{{result=\"{k}\"}} {v}");
            }
        }
        let _ = writeln!(out, "# HELP gatepass_tokens Tokens on record by status.");
        let _ = writeln!(out, "# TYPE gatepass_tokens gauge");
        for (k, v) in tokens_by_status {
            let _ = writeln!(out, "gatepass_tokens{{status=\"{k}\"}} {v}");
        }
        let single = [
            (
                "gatepass_hosts",
                "gauge",
                "Hosts enrolled with tokens still on record.",
                hosts,
            ),
            (
                "gatepass_store_journaled_batches_total",
                "counter",
                "Write batches made durable by the journal.",
                durability.journaled_batches,
            ),
            (
                "gatepass_store_checkpoints_total",
                "counter",
                "Durable database commits (journal folded in).",
                durability.checkpoints,
            ),
            (
                "gatepass_store_journal_bytes",
                "gauge",
                "Journal bytes since the last checkpoint (what a restart would redo).",
                durability.journal_bytes,
            ),
        ];
        for (name, kind, help, value) in single {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            let _ = writeln!(out, "{name} {value}");
        }
        out
    }
}
