//! SIGKILL in the middle of a storm of redemptions: every redemption whose 201 a client saw is
//! on disk after restart, no token exceeds its limit, and the audit log holds one `redeemed`
//! event per stored redemption. Repeated over several kills of the same data folder, with the
//! default journal (the kill lands between checkpoints, so a restart must redo the journal), with
//! a journal small enough to fill and start over many times within each round, and without one.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::Daemon;

const CLIENTS: usize = 24;
const LIMITS: &str = "[limits]\nredeem_failures_per_minute = 100000\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_a_redemption_storm_loses_nothing_acknowledged() {
    // Each kill lands with journaled batches that no checkpoint holds yet: the restart redoes them.
    storm(LIMITS, 4, 60, 20, 0, |before, after| {
        assert!(
            after.journal > 0,
            "nothing left to redo at the kill: {after:?}"
        );
        assert!(after.journaled > before.journaled);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_with_a_journal_that_keeps_filling_up_loses_nothing_acknowledged() {
    // A redemption is journaled as its inputs (about a hundred bytes): facts of 2 KiB each make
    // 1200 of them fill the 1 MiB journal twice.
    storm(
        &format!("{LIMITS}journal_mib = 1\n"),
        50,
        100,
        1200,
        2048,
        |before, after| {
            assert!(
                after.checkpoints > before.checkpoints,
                "the journal never filled: {before:?} → {after:?}"
            );
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_without_a_journal_loses_nothing_acknowledged() {
    storm(
        &format!("{LIMITS}journal_mib = 0\n"),
        8,
        30,
        20,
        0,
        |before, after| {
            assert_eq!(after.journaled, 0, "{after:?}");
            assert!(
                after.checkpoints > before.checkpoints,
                "{before:?} → {after:?}"
            );
        },
    )
    .await;
}

/// The daemon's durability counters, from `GET /metrics`.
#[derive(Debug, Clone, Copy)]
struct Durability {
    journaled: u64,
    checkpoints: u64,
    journal: u64,
}

async fn durability(d: &Daemon) -> Durability {
    let m = d.client().raw("GET", "/metrics", None).await.unwrap();
    let text = m.text();
    let value = |name: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("{name} missing from /metrics:\n{text}"))
    };
    Durability {
        journaled: value("gatepass_store_journaled_batches_total"),
        checkpoints: value("gatepass_store_checkpoints_total"),
        journal: value("gatepass_store_journal_bytes"),
    }
}

/// `token_count` tokens of `max_uses` uses each, redeemed by `CLIENTS` clients (each client
/// moving from token to token), killed three times, each time once `kill_after` redemptions of
/// the round succeeded. Each request carries a fact of `pad` bytes (none when 0). `during` checks
/// the durability counters from the round's start to just before the kill.
async fn storm(
    config: &str,
    token_count: usize,
    max_uses: u64,
    kill_after: usize,
    pad: usize,
    during: fn(Durability, Durability),
) {
    let mut d = Daemon::start_with_config(config);
    let mut tokens = Vec::new();
    for i in 0..token_count {
        tokens.push(d.mint(&[
            "--name",
            &format!("fleet-{i}"),
            "--uses",
            &max_uses.to_string(),
        ]));
    }
    let tokens = Arc::new(tokens);
    // (host_id, token_id) of every 201 any client received, over all rounds.
    let acked: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    for round in 0..3 {
        let stop = Arc::new(AtomicBool::new(false));
        let ok_this_round = Arc::new(AtomicUsize::new(0));
        let before = durability(&d).await;
        let mut tasks = Vec::new();
        for c in 0..CLIENTS {
            let target = d.target();
            let (stop, ok, acked) = (stop.clone(), ok_this_round.clone(), acked.clone());
            let tokens = tokens.clone();
            tasks.push(tokio::spawn(async move {
                let mut n = 0;
                while !stop.load(Ordering::SeqCst) {
                    n += 1;
                    let (secret, token_id) = &tokens[(c + n * 7) % tokens.len()];
                    let auth = format!("Bearer {secret}");
                    let facts = match pad {
                        0 => String::new(),
                        n => format!(r#","facts":{{"pad":"{}"}}"#, "p".repeat(n)),
                    };
                    let body = format!(r#"{{"hostname":"r{round}-c{c}-n{n}"{facts}}}"#);
                    let headers = [
                        ("authorization", auth.as_str()),
                        ("content-type", "application/json"),
                    ];
                    match target
                        .request("POST", "/v1/redeem", &headers, body.into_bytes())
                        .await
                    {
                        Ok(r) if r.status == 201 => {
                            let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
                            acked.lock().unwrap().push((
                                v["host_id"].as_str().unwrap().to_owned(),
                                token_id.clone(),
                            ));
                            ok.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok(r) => assert_eq!(r.status, 410, "{}", r.text()),
                        // The daemon died under us: this request was never acknowledged.
                        Err(_) => break,
                    }
                }
            }));
        }
        // Kill once the storm is well under way, with requests in flight.
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while ok_this_round.load(Ordering::SeqCst) < kill_after {
            assert!(
                std::time::Instant::now() < deadline,
                "the storm made no progress"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let after = durability(&d).await;
        d.kill();
        stop.store(true, Ordering::SeqCst);
        during(before, after);
        for t in tasks {
            t.await.unwrap();
        }
        d.restart();
        check(&d, &acked.lock().unwrap(), max_uses);
    }
}

fn check(d: &Daemon, acked: &[(String, String)], max_uses: u64) {
    let hosts: serde_json::Value =
        serde_json::from_str(&d.cli_ok(&["hosts", "list", "--json"])).unwrap();
    let mut stored_hosts: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for h in hosts.as_array().unwrap() {
        stored_hosts
            .entry(h["token_id"].as_str().unwrap().to_owned())
            .or_default()
            .insert(h["id"].as_str().unwrap().to_owned());
    }
    for (host, token) in acked {
        assert!(
            stored_hosts.get(token).is_some_and(|s| s.contains(host)),
            "acknowledged host {host} was lost"
        );
    }
    let audit: serde_json::Value =
        serde_json::from_str(&d.cli_ok(&["audit", "--json", "--limit", "100000"])).unwrap();
    let mut redeemed: BTreeMap<String, u64> = BTreeMap::new();
    for e in audit.as_array().unwrap() {
        if e["action"] == "redeemed" {
            *redeemed
                .entry(e["target"].as_str().unwrap().to_owned())
                .or_default() += 1;
        }
    }
    let tokens: serde_json::Value =
        serde_json::from_str(&d.cli_ok(&["tokens", "list", "--json"])).unwrap();
    for t in tokens.as_array().unwrap() {
        let id = t["id"].as_str().unwrap();
        let uses = t["uses"].as_u64().unwrap();
        assert!(uses <= max_uses, "token {id} exceeded its limit: {uses}");
        let hosts = stored_hosts.get(id).map_or(0, |s| s.len() as u64);
        assert_eq!(uses, hosts, "token {id}: uses and stored hosts disagree");
        assert_eq!(uses, t["hosts"].as_u64().unwrap());
        assert_eq!(
            redeemed.get(id).copied().unwrap_or(0),
            uses,
            "token {id}: audit events and uses disagree"
        );
    }
    assert!(d.cli_ok(&["audit", "verify"]).starts_with("audit log OK"));
}
