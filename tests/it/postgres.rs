//! The PostgreSQL engine, end to end: real daemons with `--store` on a private PostgreSQL
//! server (`pg::Cluster`), driven by the real CLI and real HTTPS.

use std::time::Duration;

use gatepass_protocol::ChangeKind;

use crate::support::{Daemon, code};
use gatepass_tests::pg::Cluster;

/// As `Daemon::start`'s: races and storms are not held back by the refusal limits.
const CONFIG: &str = "[limits]\nredeem_failures_per_minute = 100000\nredeem_refusals_per_token_per_minute = 100000\n";

/// A daemon on the database at `url`, with a data folder of its own.
fn on(url: &str) -> Daemon {
    let mut d = Daemon::unstarted(CONFIG);
    d.extra_args = vec!["--store".into(), url.into()];
    d.start_again();
    d
}

/// A second node: its data folder a copy of `first`'s (config, key, CA), on the same database.
fn node_of(first: &Daemon, url: &str) -> Daemon {
    let mut d = Daemon::unstarted(CONFIG);
    std::fs::create_dir_all(d.data_dir()).unwrap();
    for f in ["hmac.key", "ca.pem", "ca.key"] {
        std::fs::copy(first.data_dir().join(f), d.data_dir().join(f)).unwrap();
    }
    d.extra_args = vec!["--store".into(), url.into()];
    d.start_again();
    d
}

#[tokio::test]
async fn a_daemon_on_postgres_mints_redeems_and_verifies() {
    let pg = Cluster::start();
    let url = pg.database("gatepass");
    let d = on(&url);
    let (secret, id) = d.mint(&["--name", "pg-once", "--uses", "1"]);
    let r = d.redeem(&secret, r#"{"hostname":"pg-host"}"#).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let again = d.redeem(&secret, r#"{"hostname":"pg-host-2"}"#).await;
    assert_eq!(again.status, 410, "{}", again.text());
    assert_eq!(code(&again), "token_exhausted");
    let t = d.token_json(&id);
    assert_eq!(
        (t["uses"].as_u64(), t["hosts"].as_u64()),
        (Some(1), Some(1))
    );
    let hosts = d.cli_ok(&["hosts", "list", "--json"]);
    assert!(hosts.contains("pg-host"), "{hosts}");
    assert!(d.cli_ok(&["audit", "verify"]).starts_with("audit log OK"));
    // Stored in PostgreSQL, not in the data folder.
    assert!(!d.data_dir().join("gatepass.redb").exists());
    let rows = pg.psql("gatepass", "SELECT count(*) FROM gp_hosts");
    assert_eq!(rows.trim(), "1");
    // The secret is nowhere in the database: only its keyed hash.
    // (Records are bytea: pg_dump prints them in hex.)
    let hex = |s: &str| s.bytes().map(|b| format!("{b:02x}")).collect::<String>();
    let dump = pg.dump("gatepass");
    assert!(dump.contains(&hex("pg-host")), "the dump holds the data");
    for form in [
        secret[4..].to_owned(),
        hex(&secret[4..]),
        hex(&secret[16..36]),
    ] {
        assert!(
            !dump.contains(&form),
            "a token's secret reached the database"
        );
    }

    // Restarted, it finds everything where it was.
    let mut d = d;
    d.terminate();
    d.start_again();
    assert_eq!(d.token_json(&id)["uses"].as_u64(), Some(1));
    assert!(d.cli_ok(&["audit", "verify"]).starts_with("audit log OK"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_daemons_on_one_database_spend_a_token_once_and_see_each_others_changes() {
    let pg = Cluster::start();
    let url = pg.database("gatepass");
    let a = on(&url);
    let b = node_of(&a, &url);
    let (secret, id) = a.mint(&["--name", "shared-once", "--uses", "1"]);

    // Hosts race for one use through both daemons: exactly one wins.
    let mut tasks = Vec::new();
    for i in 0..200 {
        let target = if i % 2 == 0 { a.target() } else { b.target() };
        let auth = format!("Bearer {secret}");
        tasks.push(tokio::spawn(async move {
            let body = format!(r#"{{"hostname":"race-{i}"}}"#);
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
    let mut created = 0;
    for t in tasks {
        let r = t.await.unwrap();
        match r.status {
            201 => created += 1,
            410 => assert_eq!(code(&r), "token_exhausted"),
            other => panic!("unexpected answer {other}: {}", r.text()),
        }
    }
    assert_eq!(created, 1);
    assert_eq!(b.token_json(&id)["uses"].as_u64(), Some(1));

    // A change made through B reaches a subscriber on A.
    let mut events = a.client().events().await.unwrap();
    let (secret2, id2) = b.mint(&["--name", "seen-on-a", "--uses", "2"]);
    let seen = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let e = events.next().await.unwrap().unwrap();
            if e.kind == ChangeKind::Token && e.token.as_ref().is_some_and(|t| t.id == id2) {
                break;
            }
        }
    })
    .await;
    assert!(seen.is_ok(), "B's mint never reached A's subscriber");

    // Revoked on A: refused on B at once.
    a.cli_ok(&["tokens", "revoke", &id2]);
    let r = b.redeem(&secret2, r#"{"hostname":"after-revoke"}"#).await;
    assert_eq!(r.status, 410, "{}", r.text());
    assert_eq!(code(&r), "token_revoked");

    // A host whose answer was lost retries on the other daemon: the same enrollment, no use
    // spent (the grace window holds whichever daemon the retry reaches).
    let (secret3, id3) = a.mint(&["--name", "retried", "--uses", "1"]);
    let key = rcgen::KeyPair::generate().unwrap();
    let body =
        serde_json::json!({"hostname": "web-01", "csr": crate::tls::csr_for(&key, "web-01")})
            .to_string();
    let first = a.redeem(&secret3, &body).await;
    assert_eq!(first.status, 201, "{}", first.text());
    let retry = b.redeem(&secret3, &body).await;
    assert_eq!(retry.status, 201, "{}", retry.text());
    let (v1, v2): (serde_json::Value, serde_json::Value) = (
        serde_json::from_slice(&first.body).unwrap(),
        serde_json::from_slice(&retry.body).unwrap(),
    );
    assert_eq!(v1["host_id"], v2["host_id"]);
    assert_eq!(b.token_json(&id3)["uses"].as_u64(), Some(1));

    // One chain across both daemons.
    assert!(a.cli_ok(&["audit", "verify"]).starts_with("audit log OK"));
    assert!(b.cli_ok(&["audit", "verify"]).starts_with("audit log OK"));
}

#[test]
fn a_node_with_another_key_or_ca_is_refused_naming_which() {
    let pg = Cluster::start();
    let url = pg.database("gatepass");
    let a = on(&url);
    // A data folder of its own: another key (and another CA).
    let stranger = Daemon::unstarted(CONFIG);
    let out = stranger.gatepassd(&["--store", &url]);
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("hmac.key differs"), "{said}");
    // The same key, another CA.
    let other_ca = Daemon::unstarted(CONFIG);
    std::fs::create_dir_all(other_ca.data_dir()).unwrap();
    std::fs::copy(
        a.data_dir().join("hmac.key"),
        other_ca.data_dir().join("hmac.key"),
    )
    .unwrap();
    let out = other_ca.gatepassd(&["--store", &url]);
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("CA (ca.pem, ca.key) differs"), "{said}");
}

/// The database stopped at once (`-m immediate`, as a crash) under a daemon: redemptions are
/// answered 503 `store_unavailable` within 5 s (never a hang or a 500); once it is back the
/// daemon serves again by itself, and every 201 it gave is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_stops_is_503_and_service_comes_back_by_itself() {
    let pg = Cluster::start();
    let url = pg.database("gatepass");
    let d = on(&url);
    let (secret, id) = d.mint(&["--name", "through-a-crash", "--uses", "1000"]);
    let mut created = 0;
    for i in 0..5 {
        let r = d
            .redeem(&secret, &format!(r#"{{"hostname":"before-{i}"}}"#))
            .await;
        assert_eq!(r.status, 201, "{}", r.text());
        created += 1;
    }
    pg.stop("immediate");
    let health = d
        .target()
        .request("GET", "/healthz", &[], vec![])
        .await
        .unwrap();
    assert_eq!(health.status, 503, "{}", health.text());
    assert_eq!(code(&health), "store_unavailable");
    // /readyz names the failing check; the scrape still answers, and says the store is down.
    let ready = d
        .target()
        .request("GET", "/readyz", &[], vec![])
        .await
        .unwrap();
    assert_eq!(ready.status, 503, "{}", ready.text());
    let body: serde_json::Value = serde_json::from_slice(&ready.body).unwrap();
    assert_eq!(body["ready"], false, "{body}");
    assert_ne!(body["checks"]["store"], "ok", "{body}");
    assert_eq!(body["checks"]["listeners"], "ok", "{body}");
    let m = d.client().raw("GET", "/metrics", None).await.unwrap();
    assert_eq!(m.status, 200, "{}", m.text());
    assert!(m.text().contains("gatepass_store_up 0"), "{}", m.text());
    assert!(m.text().contains("gatepass_ready 0"), "{}", m.text());
    for i in 0..3 {
        let started = std::time::Instant::now();
        let r = d
            .redeem(&secret, &format!(r#"{{"hostname":"down-{i}"}}"#))
            .await;
        assert_eq!(r.status, 503, "{}", r.text());
        assert_eq!(code(&r), "store_unavailable");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }
    pg.start_again();
    // Back by itself: the next redemptions succeed (a few tries while it reconnects).
    let mut back = false;
    for i in 0..50 {
        let r = d
            .redeem(&secret, &format!(r#"{{"hostname":"after-{i}"}}"#))
            .await;
        match r.status {
            201 => {
                created += 1;
                back = true;
                break;
            }
            503 => tokio::time::sleep(Duration::from_millis(200)).await,
            other => panic!("{other}: {}", r.text()),
        }
    }
    assert!(
        back,
        "the daemon did not serve again after the database came back"
    );
    let t = d.token_json(&id);
    assert_eq!(
        t["uses"].as_u64(),
        Some(created),
        "every 201 is stored, and nothing else"
    );
    assert_eq!(t["hosts"].as_u64(), Some(created));
    assert!(d.cli_ok(&["audit", "verify"]).starts_with("audit log OK"));
}

/// An embedded store copied into PostgreSQL: tokens, hosts, API tokens and the chain, which
/// verifies; a node on the database with the old folder's key and CA honours the old tokens.
#[tokio::test]
async fn an_embedded_store_migrates_into_postgres_whole() {
    let mut old = Daemon::start_with_config(&format!(
        "{CONFIG}[access]\napi_users = [{:?}]\n",
        crate::support::current_user()
    ));
    let (secret, id) = old.mint(&["--name", "moved", "--uses", "3"]);
    let r = old
        .redeem(&secret, r#"{"hostname":"enrolled-before"}"#)
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    old.mint(&["--name", "also-moved"]);
    let api = old.cli_ok(&["apitokens", "create", "--name", "automation"]);
    assert!(api.contains("gpa_"), "{api}");
    old.terminate();

    let pg = Cluster::start();
    let url = pg.database("gatepass");
    // Migrated from the stopped folder.
    let out = old.gatepassd(&[
        "--store",
        &url,
        "migrate",
        "--from-redb",
        old.data_dir().to_str().unwrap(),
    ]);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{said}");
    assert!(said.contains("2 tokens, 1 hosts"), "{said}");
    assert!(said.contains("1 API tokens"), "{said}");
    // Not twice into the same database (said as the README says it: --store after the verb).
    let again = old.gatepassd(&[
        "migrate",
        "--from-redb",
        old.data_dir().to_str().unwrap(),
        "--store",
        &url,
    ]);
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already holds a store"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );

    // The old folder's embedded store is a stale copy now: started without --store, it is
    // refused, naming the database it moved to.
    let stale = old.gatepassd(&[]);
    assert!(!stale.status.success());
    let said = String::from_utf8_lossy(&stale.stderr);
    assert!(
        said.contains("store is in PostgreSQL") && said.contains("--store"),
        "{said}"
    );

    // A node with the old folder's key and CA serves what was moved.
    let node = node_of(&old, &url);
    assert!(
        node.cli_ok(&["audit", "verify"])
            .starts_with("audit log OK")
    );
    assert_eq!(node.token_json(&id)["uses"].as_u64(), Some(1));
    let hosts = node.cli_ok(&["hosts", "list", "--json"]);
    assert!(hosts.contains("enrolled-before"), "{hosts}");
    assert!(node.cli_ok(&["apitokens", "list"]).contains("automation"));
    let r = node
        .redeem(&secret, r#"{"hostname":"enrolled-after"}"#)
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert!(
        node.cli_ok(&["audit", "verify"])
            .starts_with("audit log OK")
    );
}

/// One redemption through `d` (an HTTPS target) as `hostname`: its status.
async fn redeem_via(
    target: gatepass_protocol::client::HttpsTarget,
    secret: String,
    hostname: String,
) -> u16 {
    let auth = format!("Bearer {secret}");
    let body = format!(r#"{{"hostname":"{hostname}"}}"#);
    match target
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
    {
        Ok(r) => r.status,
        Err(_) => 0, // the daemon was killed under it
    }
}

/// Three daemons on one database: a `max_uses = 7` token under 500 concurrent redemptions
/// spread over them is spent exactly seven times; then one daemon is killed (SIGKILL) in the
/// middle of a storm, twice: every 201 any host received is stored, uses equal hosts, the chain
/// verifies, and the other daemons kept serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_daemons_spend_exactly_and_survive_one_killed_mid_storm() {
    let pg = Cluster::start();
    let url = pg.database("gatepass");
    let a = on(&url);
    let mut b = node_of(&a, &url);
    let c = node_of(&a, &url);
    let (secret, id) = a.mint(&["--name", "seven", "--uses", "7"]);
    let mut tasks = Vec::new();
    for i in 0..500 {
        let target = [a.target(), b.target(), c.target()][i % 3].clone();
        tasks.push(tokio::spawn(redeem_via(
            target,
            secret.clone(),
            format!("s-{i}"),
        )));
    }
    let mut created = 0;
    for t in tasks {
        match t.await.unwrap() {
            201 => created += 1,
            410 => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(created, 7);
    assert_eq!(c.token_json(&id)["hosts"].as_u64(), Some(7));

    let (secret, id) = a.mint(&["--name", "storm", "--uses", "100000"]);
    let mut acknowledged = Vec::new();
    for round in 0..2 {
        let answered = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for i in 0..300 {
            let target = [a.target(), b.target(), c.target()][i % 3].clone();
            let name = format!("r{round}-{i}");
            let (s, answered) = (secret.clone(), answered.clone());
            tasks.push(tokio::spawn(async move {
                let status = redeem_via(target, s, name.clone()).await;
                answered.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                (status, name)
            }));
        }
        // Killed once the storm is under way: some answers are in, most are not.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while answered.load(std::sync::atomic::Ordering::SeqCst) < 30 {
            assert!(
                std::time::Instant::now() < deadline,
                "the storm never got going"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        b.kill();
        for t in tasks {
            let (status, name) = t.await.unwrap();
            match status {
                201 => acknowledged.push(name),
                // The killed daemon's connections: no answer.
                0 => {}
                other => panic!("unexpected {other}"),
            }
        }
        // The other daemons kept serving.
        for (d, host) in [(&a, "after-a"), (&c, "after-c")] {
            let r = d
                .redeem(&secret, &format!(r#"{{"hostname":"{host}-{round}"}}"#))
                .await;
            assert_eq!(r.status, 201, "{}", r.text());
            acknowledged.push(format!("{host}-{round}"));
        }
        b.start_again();
    }
    let hosts: Vec<serde_json::Value> =
        serde_json::from_str(&a.cli_ok(&["hosts", "list", "--json", "--token", &id])).unwrap();
    let stored: std::collections::BTreeSet<&str> = hosts
        .iter()
        .filter_map(|h| h["hostname"].as_str())
        .collect();
    for name in &acknowledged {
        assert!(
            stored.contains(name.as_str()),
            "{name} got 201 but is not stored"
        );
    }
    let t = a.token_json(&id);
    assert_eq!(t["uses"].as_u64(), Some(stored.len() as u64));
    assert_eq!(t["hosts"].as_u64(), Some(stored.len() as u64));
    assert!(a.cli_ok(&["audit", "verify"]).starts_with("audit log OK"));
}

/// The lifecycle, hostile-input and secret-canary suites, run again with every daemon they
/// start storing in PostgreSQL (one test body, two engines): this test starts a server and runs
/// those suites of this same test binary with `PG_HOST_VAR` set.
#[test]
fn the_lifecycle_hostile_and_secret_suites_pass_on_postgres_too() {
    assert!(
        std::env::var_os(crate::support::PG_HOST_VAR).is_none(),
        "run inside the suites it starts: its filters must not select it"
    );
    let pg = Cluster::start();
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["lifecycle::", "hostile::", "secrets::", "--test-threads=2"])
        .env(crate::support::PG_HOST_VAR, pg.host())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let passed: usize = said
        .lines()
        .find_map(|l| l.strip_prefix("test result: ok. "))
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(
        passed >= 17,
        "only {passed} tests ran on PostgreSQL: {said}"
    );
}

/// A database that stops answering without closing its connections (frozen: SIGSTOP) holds no
/// one: redemptions and reads are answered 503 `store_unavailable` within 5 s. Thawed, it
/// serves again; every 201 is stored (a write whose caller was told 503 may still have
/// committed: then it is stored whole, uses equal hosts).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_stops_answering_is_503_within_5_s() {
    let pg = Cluster::start();
    let url = pg.database("gatepass");
    let d = on(&url);
    let (secret, id) = d.mint(&["--name", "frozen", "--uses", "1000"]);
    let r = d.redeem(&secret, r#"{"hostname":"before"}"#).await;
    assert_eq!(r.status, 201, "{}", r.text());
    pg.freeze();
    for i in 0..2 {
        let started = std::time::Instant::now();
        let r = d
            .redeem(&secret, &format!(r#"{{"hostname":"frozen-{i}"}}"#))
            .await;
        let took = started.elapsed();
        assert_eq!(r.status, 503, "{}", r.text());
        assert_eq!(code(&r), "store_unavailable");
        assert!(took < Duration::from_secs(5), "{took:?}");
    }
    let started = std::time::Instant::now();
    let health = d
        .target()
        .request("GET", "/healthz", &[], vec![])
        .await
        .unwrap();
    assert_eq!(health.status, 503);
    assert!(started.elapsed() < Duration::from_secs(5));
    // An admin write is answered 503 too, and (like the redemptions above) is not committed
    // behind its caller's back once the database answers again.
    let minted = d.cli(&["tokens", "create", "--name", "made-while-frozen"]);
    assert!(!minted.status.success());
    pg.thaw();
    let mut back = false;
    for i in 0..50 {
        let r = d
            .redeem(&secret, &format!(r#"{{"hostname":"thawed-{i}"}}"#))
            .await;
        if r.status == 201 {
            back = true;
            break;
        }
        assert_eq!(r.status, 503, "{}", r.text());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(back, "no service after the database thawed");
    let t = d.token_json(&id);
    assert_eq!(t["uses"], t["hosts"]);
    assert_eq!(
        t["uses"].as_u64(),
        Some(2),
        "a write answered 503 was committed: {t}"
    );
    let hosts = d.cli_ok(&["hosts", "list", "--json"]);
    assert!(!hosts.contains("frozen-"), "{hosts}");
    let gone = d.cli(&["tokens", "show", "made-while-frozen"]);
    assert!(!gone.status.success(), "a mint answered 503 was committed");
    assert!(d.cli_ok(&["audit", "verify"]).starts_with("audit log OK"));
}

/// A CA and a server certificate for 127.0.0.1 signed by it: (CA PEM, server cert PEM, key PEM).
fn server_tls() -> (String, String, String) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::from_ca_cert_der(ca_cert.der(), &ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    (ca_cert.pem(), cert.pem(), key.serialize_pem())
}

/// TLS to the database (`sslmode=verify-full&sslrootcert=…`): the daemon serves through a
/// server that takes TLS connections only; the same server is refused when the daemon is told
/// to trust another CA, and a plain connection is refused by the server.
#[tokio::test]
async fn a_daemon_reaches_its_database_over_verified_tls() {
    let (ca, cert, key) = server_tls();
    let pg = Cluster::start_tls(&cert, &key);
    let dir = tempfile::tempdir().unwrap();
    let ca_path = dir.path().join("db-ca.pem");
    std::fs::write(&ca_path, &ca).unwrap();
    let params = format!("sslmode=verify-full&sslrootcert={}", ca_path.display());
    let url = pg.tcp_database("gatepass", &params);
    let d = on(&url);
    let (secret, _) = d.mint(&["--name", "over-tls", "--uses", "1"]);
    let r = d.redeem(&secret, r#"{"hostname":"tls-host"}"#).await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(
        pg.psql("gatepass", "SELECT count(*) FROM gp_hosts").trim(),
        "1"
    );
    // Every connection of the daemon's is encrypted.
    let plain = pg.psql(
        "postgres",
        "SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) \
         WHERE application_name = 'gatepassd' AND NOT ssl",
    );
    assert_eq!(plain.trim(), "0");
    let tls = pg.psql(
        "postgres",
        "SELECT count(*) > 0 FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) \
         WHERE application_name = 'gatepassd' AND ssl",
    );
    assert_eq!(tls.trim(), "t");

    // Another CA: the server's certificate is not trusted, and start-up says so.
    let (other_ca, _, _) = server_tls();
    let other_path = dir.path().join("other-ca.pem");
    std::fs::write(&other_path, &other_ca).unwrap();
    let wrong = format!(
        "postgres://postgres@127.0.0.1:{}/gatepass?sslmode=verify-full&sslrootcert={}",
        pg.port(),
        other_path.display()
    );
    // A true node (the first's key and CA): only the database's certificate is in question.
    let node = Daemon::unstarted(CONFIG);
    std::fs::create_dir_all(node.data_dir()).unwrap();
    for f in ["hmac.key", "ca.pem", "ca.key"] {
        std::fs::copy(d.data_dir().join(f), node.data_dir().join(f)).unwrap();
    }
    let out = node.gatepassd(&["--store", &wrong]);
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.to_lowercase().contains("certificate"), "{said}");

    // No TLS asked for: the server refuses the plain connection.
    let plain_url = url.split('?').next().unwrap().to_owned();
    let out = Daemon::unstarted(CONFIG).gatepassd(&["--store", &plain_url]);
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("no encryption"), "{said}");
    assert!(!said.contains(&secret), "{said}");
}

/// Every kind of edit by hand to the audit log (`psql` on the shared database) is named by
/// `gatepass audit verify`: an event changed, removed or added, the chain's last events removed
/// with its head rewound to match, the columns the filters read changed.
#[tokio::test]
async fn edits_to_the_audit_log_by_hand_are_named() {
    let pg = Cluster::start();
    let cases: [(&str, &str, &str); 5] = [
        (
            "edited",
            "UPDATE gp_audit SET event = convert_to(replace(convert_from(event, 'UTF8'), \
             'audited-2', 'audited-X'), 'UTF8') WHERE seq = 2",
            "event 3 does not follow from event 2",
        ),
        (
            "removed",
            "DELETE FROM gp_audit WHERE seq = 2",
            "events 2..2 are missing",
        ),
        (
            "added",
            "INSERT INTO gp_audit (seq, target, actor, at, event) \
             SELECT seq + 100, target, actor, at, event FROM gp_audit WHERE seq = 2",
            "",
        ),
        (
            "rewound",
            "BEGIN; DELETE FROM gp_audit WHERE seq = (SELECT max(seq) FROM gp_audit); \
             UPDATE gp_audit_head SET next_seq = next_seq - 1, last_hash = \
             (SELECT encode(sha256(event), 'hex') FROM gp_audit \
              WHERE seq = (SELECT max(seq) FROM gp_audit)); COMMIT",
            "not the one the daemons sealed",
        ),
        (
            "columns",
            "UPDATE gp_audit SET actor = 'nobody', target = 'nothing' WHERE seq = 2",
            "columns were edited",
        ),
    ];
    for (name, sql, said) in cases {
        let url = pg.database(name);
        let d = on(&url);
        for i in 1..=3 {
            d.mint(&["--name", &format!("audited-{i}")]);
        }
        assert!(d.cli_ok(&["audit", "verify"]).starts_with("audit log OK"));
        pg.psql(name, sql);
        let out = d.cli(&["audit", "verify"]);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.status.success(), "{name}: not noticed: {text}");
        assert!(text.contains(said), "{name}: {text}");
    }
}

/// A daemon frozen (SIGSTOP) in the middle of a write transaction holds the audit head's row
/// lock that every daemon's writes take first: its session is ended by the server after 2 s
/// idle in the transaction, so the other daemon goes on serving within its callers' 4 s; the
/// frozen one, let go, serves again by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_frozen_mid_transaction_does_not_stop_the_others() {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    let pg = Cluster::start();
    let url = pg.database("gatepass");
    let a = on(&url);
    let mut b = node_of(&a, &url);
    let (secret, _) = a.mint(&["--name", "busy", "--uses", "unlimited"]);
    let b_pid = Pid::from_raw(b.child.as_ref().unwrap().id() as i32);
    let idle_in_tx = || {
        pg.psql(
            "postgres",
            "SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction'",
        )
        .trim()
        .to_owned()
    };
    // B kept busy; frozen until it is caught inside a transaction (its writer between the two
    // round trips of a batch).
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut load = Vec::new();
    for i in 0..8 {
        let (target, secret, stop) = (b.target(), secret.clone(), stop.clone());
        load.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                redeem_via(target.clone(), secret.clone(), format!("b-{i}-{n}")).await;
                n += 1;
            }
        }));
    }
    let mut caught = false;
    for _ in 0..200 {
        kill(b_pid, Signal::SIGSTOP).unwrap();
        if idle_in_tx() != "0" {
            caught = true;
            break;
        }
        kill(b_pid, Signal::SIGCONT).unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(caught, "B was never caught inside a transaction");
    // A serves while B stays frozen.
    for i in 0..3 {
        let started = std::time::Instant::now();
        let status = redeem_via(a.target(), secret.clone(), format!("a-{i}")).await;
        assert_eq!(status, 201, "A refused while B was frozen");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
    kill(b_pid, Signal::SIGCONT).unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for l in load {
        l.await.unwrap();
    }
    // B, let go, serves again by itself (its first batch may find its session ended: 503).
    let mut back = false;
    for i in 0..50 {
        if redeem_via(b.target(), secret.clone(), format!("b-after-{i}")).await == 201 {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(back, "B did not serve again");
    assert!(a.cli_ok(&["audit", "verify"]).starts_with("audit log OK"));
    b.terminate();
}

/// A TCP proxy in front of the private server's Unix socket, whose path can go silent:
/// `silence` makes every connection it carries stop forwarding without closing (packets
/// neither answered nor refused: the old address of a failover, a network that drops
/// everything), and connections made meanwhile are let in and never answered; `restore` makes
/// new connections work again, while the silenced ones stay silent for ever.
struct SilentProxy {
    port: u16,
    /// Bumped by `silence`: a connection forwards while the epoch is the one it began in.
    epoch: std::sync::Arc<std::sync::atomic::AtomicU64>,
    silent: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl SilentProxy {
    async fn start(socket: std::path::PathBuf) -> SilentProxy {
        use std::sync::atomic::Ordering::SeqCst;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let proxy = SilentProxy {
            port,
            epoch: Default::default(),
            silent: Default::default(),
        };
        let (epoch, silent) = (proxy.epoch.clone(), proxy.silent.clone());
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let (epoch, began, silent) =
                    (epoch.clone(), epoch.load(SeqCst), silent.load(SeqCst));
                let socket = socket.clone();
                tokio::spawn(async move {
                    if silent {
                        // Let in (`tcp` held open by this task), never answered.
                        std::future::pending::<()>().await;
                    }
                    tcp.set_nodelay(true).unwrap();
                    let unix = tokio::net::UnixStream::connect(&socket).await.unwrap();
                    let (tr, tw) = tcp.into_split();
                    let (ur, uw) = unix.into_split();
                    tokio::join!(
                        SilentProxy::pump(tr, uw, &epoch, began),
                        SilentProxy::pump(ur, tw, &epoch, began)
                    );
                });
            }
        });
        proxy
    }

    /// Copies `from` to `to` until the epoch moves on; then holds both open, silent.
    async fn pump(
        mut from: impl tokio::io::AsyncRead + Unpin,
        mut to: impl tokio::io::AsyncWrite + Unpin,
        epoch: &std::sync::atomic::AtomicU64,
        began: u64,
    ) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match from.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            if epoch.load(std::sync::atomic::Ordering::SeqCst) != began {
                break;
            }
            if to.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
        let _held = (from, to);
        std::future::pending::<()>().await;
    }

    fn silence(&self) {
        self.silent.store(true, std::sync::atomic::Ordering::SeqCst);
        self.epoch.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    fn restore(&self) {
        self.silent
            .store(false, std::sync::atomic::Ordering::SeqCst);
    }
}

/// One request through `target`, and how long it took.
async fn timed(
    target: &gatepass_protocol::client::HttpsTarget,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (gatepass_protocol::client::RawResponse, Duration) {
    let started = std::time::Instant::now();
    let r = tokio::time::timeout(
        Duration::from_secs(30),
        target.request(method, path, headers, body.as_bytes().to_vec()),
    )
    .await
    .expect("no answer within 30 s")
    .unwrap();
    (r, started.elapsed())
}

/// The daemon's connections to PostgreSQL go silent (a failover that left the old address
/// black-holed: no answer, no refusal, and TCP on this side sees its packets acknowledged):
/// redemptions are answered 503 `store_unavailable` within 5 s, `/healthz` and `/readyz` say
/// the store is unavailable; once a path to the server works again the daemon drops the silent
/// connections and makes new ones by itself, and every 201 it gave is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_connection_gone_silent_is_503_and_replaced_by_itself() {
    let pg = Cluster::start();
    pg.database("gatepass");
    let socket = std::path::Path::new(&pg.host()).join(format!(".s.PGSQL.{}", pg.port()));
    let proxy = SilentProxy::start(socket).await;
    let d = on(&format!(
        "postgres://postgres@127.0.0.1:{}/gatepass",
        proxy.port
    ));
    let (secret, id) = d.mint(&["--name", "through-silence", "--uses", "1000"]);

    let auth = format!("Bearer {secret}");
    let redeem_headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    let target = d.target();
    let mut stored = Vec::new();
    let r = d.redeem(&secret, r#"{"hostname":"before"}"#).await;
    assert_eq!(r.status, 201, "{}", r.text());
    stored.push("before".to_owned());
    d.cli_ok(&["tokens", "list"]);

    proxy.silence();
    for i in 0..3 {
        let body = format!(r#"{{"hostname":"silent-{i}"}}"#);
        let (r, took) = timed(&target, "POST", "/v1/redeem", &redeem_headers, &body).await;
        assert_eq!(r.status, 503, "{}", r.text());
        assert_eq!(code(&r), "store_unavailable");
        assert!(took < Duration::from_secs(5), "answered after {took:?}");
    }
    let (health, took) = timed(&target, "GET", "/healthz", &[], "").await;
    assert_eq!(health.status, 503, "{}", health.text());
    assert_eq!(code(&health), "store_unavailable");
    assert!(took < Duration::from_secs(5), "answered after {took:?}");
    let (ready, took) = timed(&target, "GET", "/readyz", &[], "").await;
    assert_eq!(ready.status, 503, "{}", ready.text());
    let body: serde_json::Value = serde_json::from_slice(&ready.body).unwrap();
    assert_ne!(body["checks"]["store"], "ok", "{body}");
    assert!(took < Duration::from_secs(5), "answered after {took:?}");

    // A path to the server again (new connections work; the silent ones stay silent).
    proxy.restore();
    let mut back = false;
    let until = std::time::Instant::now() + Duration::from_secs(30);
    for i in 0.. {
        if std::time::Instant::now() > until {
            break;
        }
        let name = format!("after-{i}");
        let body = format!(r#"{{"hostname":"{name}"}}"#);
        let (r, took) = timed(&target, "POST", "/v1/redeem", &redeem_headers, &body).await;
        assert!(took < Duration::from_secs(5), "answered after {took:?}");
        match r.status {
            201 => {
                stored.push(name);
                back = true;
                break;
            }
            503 => assert_eq!(code(&r), "store_unavailable"),
            other => panic!("{other}: {}", r.text()),
        }
    }
    assert!(back, "the daemon never served again");
    // Its reads and its health come back too.
    let mut healthy = false;
    for _ in 0..20 {
        let (h, took) = timed(&target, "GET", "/healthz", &[], "").await;
        assert!(took < Duration::from_secs(5), "answered after {took:?}");
        if h.status == 200 {
            healthy = true;
            break;
        }
    }
    assert!(healthy, "/healthz never said the store was back");
    let t = d.token_json(&id);
    assert_eq!(t["uses"], t["hosts"], "{t}");
    let hosts = d.cli_ok(&["hosts", "list", "--json", "--token", &id]);
    for name in &stored {
        assert!(
            hosts.contains(&format!("\"{name}\"")),
            "{name} lost: {hosts}"
        );
    }
    assert!(
        !hosts.contains("silent-"),
        "a write answered 503 was stored: {hosts}"
    );
    assert!(d.cli_ok(&["audit", "verify"]).starts_with("audit log OK"));
}

/// `gatepassd` with `args`, the environment `env`, and no `--config` (a first start writes its
/// config into the data folder): its output, to completion.
fn gatepassd_in(
    dir: &std::path::Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> std::process::Output {
    std::process::Command::new(crate::support::gatepassd_bin())
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--socket")
        .arg(dir.join("gatepass.sock"))
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .env_remove("GATEPASSD_STORE")
        .env_remove("PGPASSWORD")
        .env("GATEPASSD_LOG", "debug")
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

/// A password in the store's URL: refused on the command line (every user of the host can
/// read a command line), naming where it goes instead; accepted from the environment, and then
/// in no log line, no ready line and no error. The ready line names the store without it.
#[tokio::test]
async fn a_password_in_the_store_url_stays_out_of_the_command_line_and_the_logs() {
    let pg = Cluster::start();
    let url = pg.database("gatepass");
    let with_password = url.replace("postgres://postgres@", "postgres://postgres:SECRETPW1@");
    assert_ne!(url, with_password);

    let dir = tempfile::tempdir().unwrap();
    let out = gatepassd_in(dir.path(), &["--store", &with_password], &[]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("password_file") && said.contains("PGPASSWORD"),
        "{said}"
    );
    assert!(!said.contains("SECRETPW1"), "{said}");
    assert!(
        !dir.path().join("data").exists(),
        "a refused start left a data folder"
    );

    // From the environment: accepted (the server trusts the socket), and said nowhere.
    let mut d = Daemon::unstarted(CONFIG);
    d.extra_env = vec![("GATEPASSD_STORE".into(), with_password.clone())];
    d.start_again();
    let (secret, _) = d.mint(&["--name", "env-url", "--uses", "1"]);
    let r = d.redeem(&secret, r#"{"hostname":"env-host"}"#).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let log = std::fs::read_to_string(d.log_path()).unwrap();
    assert!(!log.contains("SECRETPW1"), "{log}");
    let marker = std::fs::read_to_string(d.data_dir().join("store.postgres")).unwrap();
    assert!(!marker.contains("SECRETPW1"), "{marker}");
    // The ready log line names the store, without the password.
    let listening = log
        .lines()
        .find(|l| l.contains("gatepassd listening"))
        .unwrap_or_else(|| panic!("{log}"));
    assert!(listening.contains(&format!("store={url}")), "{listening}");
    d.terminate();

    // A server that cannot be reached: the error names the server, not the password.
    let dir = tempfile::tempdir().unwrap();
    let out = gatepassd_in(
        dir.path(),
        &[],
        &[(
            "GATEPASSD_STORE",
            "postgres://postgres:SECRETPW2@127.0.0.1:1/gatepass?password=SECRETPW3",
        )],
    );
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{said}");
    assert!(said.contains("127.0.0.1:1"), "{said}");
    assert!(!said.contains("SECRETPW"), "{said}");
    // A start the store refused leaves nothing behind: no config, no key, no CA, no folder.
    assert!(
        !dir.path().join("data").exists(),
        "left behind: {:?}",
        std::fs::read_dir(dir.path().join("data"))
            .map(|d| d.flatten().map(|e| e.file_name()).collect::<Vec<_>>())
    );
}

/// A start the store refuses does not leave a key, a CA or a config of its making in the data
/// folder: a stranger's new folder is gone again, a folder that held a key keeps only it, and a
/// folder whose store is in PostgreSQL (its marker) started without `--store` gets no config.
#[test]
fn a_start_the_store_refuses_leaves_the_data_folder_as_it_was() {
    let pg = Cluster::start();
    let url = pg.database("gatepass");
    let first = on(&url);
    // Another key: refused, and its new data folder removed whole.
    let dir = tempfile::tempdir().unwrap();
    let out = gatepassd_in(dir.path(), &["--store", &url], &[]);
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("hmac.key differs"), "{said}");
    assert!(!dir.path().join("data").exists(), "{said}");
    // The first node's key, another CA: the key stays, the CA it made and its config go.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::copy(first.data_dir().join("hmac.key"), data.join("hmac.key")).unwrap();
    let out = gatepassd_in(dir.path(), &["--store", &url], &[]);
    assert!(!out.status.success());
    let mut left: Vec<String> = std::fs::read_dir(&data)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(
        left,
        ["hmac.key"],
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The marker of a PostgreSQL store, started as an embedded one: refused, nothing written.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::copy(
        first.data_dir().join("store.postgres"),
        data.join("store.postgres"),
    )
    .unwrap();
    let out = gatepassd_in(dir.path(), &[], &[]);
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("PostgreSQL"), "{said}");
    let left: Vec<_> = std::fs::read_dir(&data)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(left, ["store.postgres"], "{said}");
}

/// On a PostgreSQL node `gatepass backup` and `gatepassd check` say what applies instead
/// (pg_dump; `gatepass audit verify`), `gatepass doctor` names the engine and whether the
/// daemon reaches its database.
#[tokio::test]
async fn backup_check_and_doctor_say_what_applies_to_postgres() {
    let pg = Cluster::start();
    let url = pg.database("gatepass");
    let d = on(&url);
    let file = d.dir.path().join("backup.gpb");
    let out = d.cli(&["backup", file.to_str().unwrap()]);
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("pg_dump") && said.contains("hmac.key"),
        "{said}"
    );
    assert!(!file.exists(), "a failed backup left its file");
    let out = d.gatepassd(&["--store", &url, "check"]);
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("gatepass audit verify") && said.contains("pg_dump"),
        "{said}"
    );
    let doctor = d.cli_ok(&["doctor"]);
    let store = doctor
        .lines()
        .find(|l| l.contains(" store "))
        .unwrap_or_else(|| panic!("{doctor}"));
    assert!(
        store.starts_with("ok") && store.contains("PostgreSQL") && store.contains("reaches"),
        "{doctor}"
    );
    pg.stop("immediate");
    let out = d.cli(&["doctor"]);
    let doctor = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{doctor}");
    let store = doctor
        .lines()
        .find(|l| l.contains(" store "))
        .unwrap_or_else(|| panic!("{doctor}"));
    assert!(
        store.starts_with("FAIL") && store.contains("PostgreSQL: unavailable"),
        "{doctor}"
    );
}
