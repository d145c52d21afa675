//! Exactly once: concurrent redemptions over real HTTPS never overspend a token (1,000 at once
//! on a single-use token, as the adversarial trial of issue 18 did).

use crate::support::{Daemon, code};

async fn storm(d: &Daemon, secret: &str, n: usize) -> (usize, usize) {
    let mut tasks = Vec::new();
    for i in 0..n {
        let target = d.target();
        let auth = format!("Bearer {secret}");
        tasks.push(tokio::spawn(async move {
            let body = format!(r#"{{"hostname":"host-{i}"}}"#);
            target
                .request(
                    "POST",
                    "/v1/redeem",
                    &[
                        ("authorization", &auth),
                        ("content-type", "application/json"),
                    ],
                    body.into_bytes(),
                )
                .await
                .unwrap()
        }));
    }
    let (mut created, mut exhausted) = (0, 0);
    for t in tasks {
        let r = t.await.unwrap();
        match r.status {
            201 => created += 1,
            410 if code(&r) == "token_exhausted" => exhausted += 1,
            other => panic!("unexpected answer {other}: {}", r.text()),
        }
    }
    (created, exhausted)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_redemptions_of_a_single_use_token_give_exactly_one_201() {
    let d = Daemon::start();
    let (secret, id) = d.mint(&["--name", "once"]);
    assert_eq!(storm(&d, &secret, 1_000).await, (1, 999));
    let t = d.token_json(&id);
    assert_eq!(
        (t["uses"].as_u64(), t["hosts"].as_u64()),
        (Some(1), Some(1))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_redemptions_of_a_five_use_token_give_exactly_five() {
    let d = Daemon::start();
    let (secret, id) = d.mint(&["--name", "five", "--uses", "5"]);
    assert_eq!(storm(&d, &secret, 200).await, (5, 195));
    let t = d.token_json(&id);
    assert_eq!(
        (t["uses"].as_u64(), t["hosts"].as_u64()),
        (Some(5), Some(5))
    );
    let hosts: serde_json::Value =
        serde_json::from_str(&d.cli_ok(&["hosts", "list", "--token", &id, "--json"])).unwrap();
    assert_eq!(hosts.as_array().unwrap().len(), 5);
}
