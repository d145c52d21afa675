//! SIGKILL in the middle of a storm of redemptions: every redemption whose 201 a client saw is
//! on disk after restart, no token exceeds its limit, and the audit log holds one `redeemed`
//! event per stored redemption. Repeated over several kills of the same data folder.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::Daemon;

const TOKENS: usize = 4;
const MAX_USES: u64 = 60;
const CLIENTS: usize = 24;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_a_redemption_storm_loses_nothing_acknowledged() {
    let mut d = Daemon::start();
    let mut tokens = Vec::new();
    for i in 0..TOKENS {
        tokens.push(d.mint(&[
            "--name",
            &format!("fleet-{i}"),
            "--uses",
            &MAX_USES.to_string(),
        ]));
    }
    // (host_id, token_id) of every 201 any client received, over all rounds.
    let acked: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    for round in 0..3 {
        let stop = Arc::new(AtomicBool::new(false));
        let ok_this_round = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for c in 0..CLIENTS {
            let (secret, token_id) = tokens[c % TOKENS].clone();
            let target = d.target();
            let (stop, ok, acked) = (stop.clone(), ok_this_round.clone(), acked.clone());
            tasks.push(tokio::spawn(async move {
                let auth = format!("Bearer {secret}");
                let mut n = 0;
                while !stop.load(Ordering::SeqCst) {
                    n += 1;
                    let body = format!(r#"{{"hostname":"r{round}-c{c}-n{n}"}}"#);
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
        while ok_this_round.load(Ordering::SeqCst) < 20 {
            assert!(
                std::time::Instant::now() < deadline,
                "the storm made no progress"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        d.kill();
        stop.store(true, Ordering::SeqCst);
        for t in tasks {
            t.await.unwrap();
        }
        d.restart();
        check(&d, &acked.lock().unwrap());
    }
}

fn check(d: &Daemon, acked: &[(String, String)]) {
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
        assert!(uses <= MAX_USES, "token {id} exceeded its limit: {uses}");
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
