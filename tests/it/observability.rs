//! Operating the daemon: `/metrics` after a scenario with enrollments, refusals and a rate-limit
//! trip, checked by `promtool check metrics` (Debian's `prometheus` package; `.ci/run` installs
//! it) and against what was done; every series the dashboard and the alerting rules in
//! `assets/` query exists in that scrape, with the label values they match, and `promtool check
//! rules` accepts the rules; `/readyz`, and a real daemon's journal filled until it fails (and
//! drained until it passes again); the plain-HTTP `[metrics] listen`; request ids and error
//! codes in answers and in JSON log lines; systemd's notify protocol, fed while not ready.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use gatepass_protocol::client::{HttpsTarget, TrustMode};

use crate::support::{Daemon, from, redeem_from};

/// `GET path` over plain HTTP/1.1: (status, body).
fn plain_get(base: &str, path: &str) -> (u16, String) {
    let addr = base.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut all = String::new();
    s.read_to_string(&mut all).unwrap();
    let (head, body) = all.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, body.to_owned())
}

/// Runs `promtool ARGS` with `stdin`; (success, what it printed).
fn promtool(args: &[&str], stdin: &str) -> (bool, String) {
    let mut child = std::process::Command::new("promtool")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("promtool ({e}): install Debian's `prometheus` package (.ci/run does)")
        });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), said)
}

/// The value of the sample written exactly `series` (name and labels as the daemon writes them).
fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("{series} missing from /metrics:\n{text}"))
}

/// Every sample's name in a scrape.
fn sample_names(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.split(['{', ' ']).next().unwrap().to_owned())
        .collect()
}

/// A daemon with a plain metrics listener and a low refusal limit, after 4 enrollments, 3
/// refusals answered (2 × token_exhausted, 1 × unauthorized) and 1 rate-limited answer.
/// Returns it, the scrape over its socket, and the token's secret.
async fn scenario() -> (Daemon, String, String) {
    let d = Daemon::start_with_config(
        "[limits]\nredeem_failures_per_minute = 3\nredeem_refusals_per_token_per_minute = 1000\n\n\
         [metrics]\nlisten = \"127.0.0.1:0\"\n",
    );
    let (secret, _) = d.mint(&["--name", "fleet", "--uses", "4"]);
    let hosts = from(&d, "127.0.0.2");
    for i in 0..4 {
        let r = redeem_from(&hosts, &secret, &format!("web-{i}")).await;
        assert_eq!(r.status, 201, "{}", r.text());
    }
    let late = from(&d, "127.0.0.3");
    let mut statuses = Vec::new();
    for auth in [
        secret.as_str(),
        "gpt_mistyped",
        secret.as_str(),
        secret.as_str(),
    ] {
        statuses.push(redeem_from(&late, auth, "late").await.status);
    }
    assert_eq!(statuses, [410, 401, 410, 429]);
    let text = d
        .client()
        .raw("GET", "/metrics", None)
        .await
        .unwrap()
        .text();
    (d, text, secret)
}

#[tokio::test]
async fn metrics_pass_promtool_and_count_what_was_done() {
    let (d, text, secret) = scenario().await;
    let (ok, said) = promtool(&["check", "metrics"], &text);
    assert!(ok && said.trim().is_empty(), "promtool: {said}\n{text}");

    // The histogram counts every redemption answered, by result, as the counter does.
    for (result, n) in [
        ("enrolled", 4.0),
        ("token_exhausted", 2.0),
        ("unauthorized", 1.0),
        ("too_many_requests", 1.0),
    ] {
        let labels = format!("{{result=\"{result}\"}}");
        assert_eq!(
            value(
                &text,
                &format!("gatepass_redeem_duration_seconds_count{labels}")
            ),
            n,
            "{result}"
        );
        assert_eq!(value(&text, &format!("gatepass_redeem_total{labels}")), n);
    }
    assert_eq!(
        value(
            &text,
            "gatepass_redeem_refusals_total{reason=\"token_exhausted\"}"
        ),
        2.0
    );
    assert_eq!(
        value(
            &text,
            "gatepass_redeem_refusals_total{reason=\"unauthorized\"}"
        ),
        1.0
    );
    assert_eq!(value(&text, "gatepass_redeem_rate_limited_total"), 1.0);
    assert_eq!(
        value(
            &text,
            "gatepass_http_requests_total{code=\"201\",listener=\"redeem\",route=\"/v1/redeem\"}"
        ),
        4.0
    );
    assert_eq!(
        value(
            &text,
            "gatepass_http_requests_total{code=\"429\",listener=\"redeem\",route=\"/v1/redeem\"}"
        ),
        1.0
    );
    assert_eq!(value(&text, "gatepass_tokens{status=\"exhausted\"}"), 1.0);
    assert_eq!(value(&text, "gatepass_hosts"), 4.0);
    assert_eq!(value(&text, "gatepass_store_up"), 1.0);
    assert_eq!(value(&text, "gatepass_ready"), 1.0);
    // Four enrollments and the refusals' audit events went through the writer in batches.
    assert!(
        value(&text, "gatepass_store_batch_size_sum") >= 4.0,
        "{text}"
    );
    assert!(value(&text, "gatepass_store_journal_sync_duration_seconds_count") >= 1.0);
    assert!(value(&text, "process_resident_memory_bytes") > 1e6);
    assert!(text.contains("gatepass_build_info{store=\"redb\",version=\""));
    // No token, id, host name or address in any label.
    let id = &secret[4..16];
    for l in text
        .lines()
        .filter(|l| l.contains('{') && !l.starts_with('#'))
    {
        for never in [id, "gpt_", "web-", "late", "127.0.0."] {
            assert!(!l.contains(never), "{never} in a label: {l}");
        }
    }

    // The plain-HTTP listener: the same series, and nothing of the admin API.
    let base = d.metrics_url.clone().unwrap();
    let (status, plain) = plain_get(&base, "/metrics");
    assert_eq!(status, 200);
    let (ok, said) = promtool(&["check", "metrics"], &plain);
    assert!(ok && said.trim().is_empty(), "promtool: {said}");
    assert_eq!(value(&plain, "gatepass_hosts"), 4.0);
    assert_eq!(plain_get(&base, "/healthz").0, 200);
    assert_eq!(plain_get(&base, "/readyz").0, 200);
    assert_eq!(plain_get(&base, "/v1/tokens").0, 404);
    // The first scrape over the socket is counted under its route.
    let again = d
        .client()
        .raw("GET", "/metrics", None)
        .await
        .unwrap()
        .text();
    assert!(
        value(
            &again,
            "gatepass_http_requests_total{code=\"200\",listener=\"socket\",route=\"/metrics\"}"
        ) >= 1.0
    );
    assert!(
        value(
            &again,
            "gatepass_http_requests_total{code=\"200\",listener=\"metrics\",route=\"/metrics\"}"
        ) >= 1.0
    );
}

/// Every query of the Grafana dashboard and the alerting rules.
fn queries(repo: &Path) -> Vec<String> {
    let mut exprs = Vec::new();
    let dash: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo.join("assets/grafana/gatepass-dashboard.json")).unwrap(),
    )
    .unwrap();
    fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    match (k.as_str(), v) {
                        ("expr" | "query" | "definition", serde_json::Value::String(s)) => {
                            out.push(s.clone())
                        }
                        _ => walk(v, out),
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    walk(&dash, &mut exprs);
    let rules = std::fs::read_to_string(repo.join("assets/prometheus/gatepass-rules.yml")).unwrap();
    let rule_exprs: Vec<String> = rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("expr:"))
        .map(|e| e.trim().to_owned())
        .collect();
    // Every rule's query is read: one `expr:` line each, written on that line (not `|` or `>`).
    let alerts = rules
        .lines()
        .filter(|l| l.trim().starts_with("- alert:"))
        .count();
    assert!(alerts >= 8, "{alerts} alerts");
    assert_eq!(rule_exprs.len(), alerts, "{rule_exprs:?}");
    assert!(
        rule_exprs
            .iter()
            .all(|e| !e.is_empty() && !e.starts_with(['|', '>'])),
        "{rule_exprs:?}"
    );
    exprs.extend(rule_exprs);
    exprs
}

/// The series a query names, each with its label matchers (`name`, `label`, `op`, `value`),
/// and the labels it groups by.
struct Selector {
    name: String,
    matchers: Vec<(String, String, String)>,
}

fn selectors(e: &str) -> (Vec<Selector>, Vec<String>) {
    let bytes = e.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let starts = (e[i..].starts_with("gatepass_") || e[i..].starts_with("process_"))
            && (i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_'));
        if !starts {
            i += 1;
            continue;
        }
        let end = e[i..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map_or(e.len(), |n| i + n);
        let mut matchers = Vec::new();
        if e[end..].starts_with('{') {
            let close = end + e[end..].find('}').unwrap();
            for m in e[end + 1..close]
                .split(',')
                .filter(|m| !m.trim().is_empty())
            {
                let at = m.find(['=', '!']).unwrap();
                let op_len = if m[at + 1..].starts_with(['=', '~']) {
                    2
                } else {
                    1
                };
                matchers.push((
                    m[..at].trim().to_owned(),
                    m[at..at + op_len].to_owned(),
                    m[at + op_len..].trim().trim_matches('"').to_owned(),
                ));
            }
        }
        out.push(Selector {
            name: e[i..end].to_owned(),
            matchers,
        });
        i = end;
    }
    let mut by = Vec::new();
    for part in e.split("by (").skip(1) {
        let labels = part.split(')').next().unwrap();
        by.extend(labels.split(',').map(|l| l.trim().to_owned()));
    }
    (out, by)
}

/// Every sample of a scrape: its name and its labels.
fn samples(text: &str) -> Vec<(String, BTreeSet<(String, String)>)> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let name = l.split(['{', ' ']).next().unwrap().to_owned();
            let mut labels = BTreeSet::new();
            if let Some(inner) = l
                .strip_prefix(name.as_str())
                .and_then(|r| r.strip_prefix('{'))
                .and_then(|r| r.split_once('}'))
                .map(|(inner, _)| inner)
            {
                for pair in inner.split("\",").map(|p| p.trim_end_matches('"')) {
                    if let Some((k, v)) = pair.split_once("=\"") {
                        labels.insert((k.to_owned(), v.to_owned()));
                    }
                }
            }
            (name, labels)
        })
        .collect()
}

#[tokio::test]
async fn every_series_the_dashboard_and_the_alerts_query_is_in_a_real_scrape() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let rules = repo.join("assets/prometheus/gatepass-rules.yml");
    let (ok, said) = promtool(&["check", "rules", rules.to_str().unwrap()], "");
    assert!(ok, "promtool check rules: {said}");
    let (_d, text, _) = scenario().await;
    let present = sample_names(&text);
    let scraped = samples(&text);
    let queries = queries(repo);
    let mut queried = BTreeSet::new();
    let mut wrong = Vec::new();
    // Labels Prometheus adds (`job`, `instance`) or that every histogram has (`le`).
    let added = |l: &str| matches!(l, "job" | "instance" | "le");
    for q in &queries {
        let (sels, by) = selectors(q);
        for sel in &sels {
            queried.insert(sel.name.clone());
            let of_name: Vec<_> = scraped.iter().filter(|(n, _)| *n == sel.name).collect();
            // A label matched by value: each value (or each word of an alternation) is one the
            // daemon writes; a query for a value it never writes shows nothing, silently.
            for (label, op, value) in sel.matchers.iter().filter(|m| !added(&m.0)) {
                let values: Vec<&str> = match op.as_str() {
                    "=" => vec![value.as_str()],
                    "=~" if value
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_|".contains(c)) =>
                    {
                        value.split('|').collect()
                    }
                    _ => Vec::new(),
                };
                for v in values {
                    let pair = (label.clone(), v.to_owned());
                    if !of_name.iter().any(|(_, ls)| ls.contains(&pair)) {
                        wrong.push(format!("{}{{{label}={v:?}}} in {q}", sel.name));
                    }
                }
            }
        }
        // A label grouped by is one the series queried carry.
        for label in by.iter().filter(|l| !added(l)) {
            let carried = scraped.iter().any(|(n, ls)| {
                sels.iter().any(|s| s.name == *n) && ls.iter().any(|(k, _)| k == label)
            });
            if !carried {
                wrong.push(format!("by ({label}) in {q}"));
            }
        }
    }
    assert!(queried.len() >= 25, "{queried:?}");
    let missing: Vec<&String> = queried.iter().filter(|n| !present.contains(*n)).collect();
    assert!(
        missing.is_empty(),
        "queried but not in /metrics: {missing:?}\n{text}"
    );
    assert!(
        wrong.is_empty(),
        "labels queried that /metrics does not hold: {wrong:#?}\n{text}"
    );
}

/// The lines of the daemon's log, waited for (the log is written by a thread of its own) until
/// one satisfies `found`, for at most 10 s.
fn log_lines_until(
    d: &Daemon,
    found: impl Fn(&serde_json::Value) -> bool,
) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = std::fs::read_to_string(d.log_path()).unwrap_or_default();
        let lines: Vec<serde_json::Value> = log
            .lines()
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect();
        if lines.iter().any(&found) || Instant::now() > deadline {
            return lines;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Issue 19: an operator finds a host's failed attempt in the log from the request id the
/// host was given (in `X-Request-Id` and in the error body).
#[tokio::test]
async fn a_json_log_line_holds_the_request_id_the_client_was_given() {
    let d = Daemon::start_with_config("[log]\nformat = \"json\"\n");
    let r = d
        .redeem("gpt_mistyped", r#"{"hostname":"lost-host"}"#)
        .await;
    assert_eq!(r.status, 401);
    let id = r.header("x-request-id").unwrap().to_owned();
    assert_eq!(id.len(), 16, "{id}");
    let body = r.error().unwrap();
    assert_eq!(body.error.request_id.as_deref(), Some(id.as_str()));
    let of_request = |l: &serde_json::Value| l["span"]["request_id"] == id.as_str();
    let lines = log_lines_until(&d, |l| of_request(l) && l["message"] == "request");
    let mine: Vec<&serde_json::Value> = lines.iter().filter(|l| of_request(l)).collect();
    let request = mine
        .iter()
        .find(|l| l["message"] == "request")
        .unwrap_or_else(|| panic!("no line of {id}: {lines:#?}"));
    assert_eq!(request["status"], 401, "{request}");
    // Why it was refused, as the client was told, without the client's copy of the body.
    assert_eq!(request["code"], "unauthorized", "{request}");
    assert_eq!(request["path"], "/v1/redeem");
    assert_eq!(request["level"], "INFO");
    assert!(request["timestamp"].is_string() && request["target"].is_string());
    assert!(
        request["span"]["peer"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1:"),
        "{request}"
    );
    // Another request has another id; answers that are not errors carry one too.
    let ok = d.client().raw("GET", "/v1/whoami", None).await.unwrap();
    let other = ok.header("x-request-id").unwrap();
    assert_ne!(other, id);
    // And the text format holds the id on the request's line as well.
    let t = Daemon::start();
    let r = t.redeem("gpt_mistyped", r#"{"hostname":"h"}"#).await;
    let id = r.header("x-request-id").unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(10);
    let line = loop {
        let log = std::fs::read_to_string(t.log_path()).unwrap();
        if let Some(l) = log
            .lines()
            .find(|l| l.contains(&format!("request_id={id}")) && l.contains("status=401"))
        {
            break l.to_owned();
        }
        assert!(Instant::now() < deadline, "no line with {id}:\n{log}");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(line.contains("peer=127.0.0.1:"), "{line}");
    assert!(
        line.contains("code=\"unauthorized\"") || line.contains("code=unauthorized"),
        "{line}"
    );
}

#[tokio::test]
async fn readyz_names_each_check() {
    let d = Daemon::start();
    for r in [
        d.target()
            .request("GET", "/readyz", &[], vec![])
            .await
            .unwrap(),
        d.client().raw("GET", "/readyz", None).await.unwrap(),
    ] {
        assert_eq!(r.status, 200, "{}", r.text());
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["ready"], true);
        for check in ["store", "journal", "listeners"] {
            assert_eq!(v["checks"][check], "ok", "{v}");
        }
    }
}

/// The datagrams a daemon sends to its notify socket, gathered by a thread of their own (a
/// daemon whose datagrams were never read would block in its watchdog).
struct NotifySocket {
    _dir: tempfile::TempDir,
    path: String,
    heard: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl NotifySocket {
    fn bind() -> NotifySocket {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let socket = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
        let heard = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let into = heard.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            while let Ok(n) = socket.recv(&mut buf) {
                into.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&buf[..n]).into_owned());
            }
        });
        NotifySocket {
            path: path.to_string_lossy().into_owned(),
            _dir: dir,
            heard,
        }
    }

    /// How many datagrams came so far.
    fn count(&self) -> usize {
        self.heard.lock().unwrap().len()
    }

    /// Waits (at most 10 s) for a datagram after the first `from` that satisfies `found`;
    /// returns its index.
    fn wait_for(&self, from: usize, found: impl Fn(&str) -> bool) -> usize {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(i) = self
                .heard
                .lock()
                .unwrap()
                .iter()
                .skip(from)
                .position(|m| found(m))
            {
                return from + i;
            }
            assert!(
                Instant::now() < deadline,
                "not heard in 10 s: {:?}",
                &self.heard.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Issue 19: a real daemon whose journal is nearly full (checkpoints held back with the test
/// seam `GATEPASSD_TEST_HOLD_CHECKPOINTS_FILE`, as a disk that cannot keep up would) answers
/// `/readyz` 503 naming the journal, stays alive (`/healthz` 200), shows the fill in `/metrics`,
/// keeps feeding systemd's watchdog with the reason in `STATUS=`, and is ready again once a
/// checkpoint drains the journal.
#[tokio::test]
async fn a_full_journal_is_not_ready_until_a_checkpoint_drains_it() {
    let notify = NotifySocket::bind();
    let mut d = Daemon::unstarted("[limits]\njournal_mib = 1\n");
    let hold = d.dir.path().join("hold-checkpoints");
    std::fs::write(&hold, "").unwrap();
    d.extra_env = vec![
        (
            "GATEPASSD_TEST_HOLD_CHECKPOINTS_FILE".into(),
            hold.to_string_lossy().into_owned(),
        ),
        ("NOTIFY_SOCKET".into(), notify.path.clone()),
        // Fed every 100 ms.
        ("WATCHDOG_USEC".into(), "200000".into()),
    ];
    d.start_again();
    notify.wait_for(0, |m| m.contains("STATUS=ready"));
    let c = d.client();
    let journal = |text: &str| {
        (
            value(text, "gatepass_store_journal_bytes"),
            value(text, "gatepass_store_journal_capacity_bytes"),
        )
    };
    let scrape = || async { c.raw("GET", "/metrics", None).await.unwrap().text() };
    // Token creations of one size, each a batch and a journal record of its own (one at a
    // time), until the journal is over 90% full but the next would still fit (a record that
    // does not fit is checkpointed even while held, which would empty the journal).
    let create = |i: usize| {
        let c = c.clone();
        async move {
            let body = serde_json::json!({
                "name": format!("fill-{i:05}"),
                "description": "d".repeat(500),
                "labels": {"fleet": "web", "filler": "x".repeat(40)},
            });
            let r = c
                .raw("POST", "/v1/tokens", Some(body.to_string().into_bytes()))
                .await
                .unwrap();
            assert_eq!(r.status, 201, "{}", r.text());
        }
    };
    let first = scrape().await;
    let (before, capacity) = journal(&first);
    let checkpoints = value(&first, "gatepass_store_checkpoints_total");
    assert!(capacity > 1e6 && capacity <= 1048576.0, "{capacity}");
    create(0).await;
    let (after, _) = journal(&scrape().await);
    let per = after - before;
    assert!(per > 500.0 && per < 0.05 * capacity, "{per} bytes a record");
    // Rounds closing most of what is left, each measuring the records' size again.
    let (mut used, mut per, mut made) = (after, per, 1);
    while used < 0.91 * capacity {
        let n = (((0.92 * capacity - used) / per).floor() as usize).max(1);
        for i in made..made + n {
            create(i).await;
        }
        made += n;
        let (now, _) = journal(&scrape().await);
        per = (now - used) / n as f64;
        used = now;
    }
    let need = made - 1;
    assert!(
        used >= 0.9 * capacity && used + per <= capacity,
        "{used} of {capacity} bytes"
    );
    let heard_full = notify.count();

    // Not ready, on every listener, naming the journal; alive all the same.
    for r in [
        d.target()
            .request("GET", "/readyz", &[], vec![])
            .await
            .unwrap(),
        c.raw("GET", "/readyz", None).await.unwrap(),
    ] {
        assert_eq!(r.status, 503, "{}", r.text());
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["ready"], false, "{v}");
        let says = v["checks"]["journal"].as_str().unwrap();
        assert!(
            says.contains("% full") && says.contains("checkpoint"),
            "{v}"
        );
        assert_eq!(v["checks"]["store"], "ok", "{v}");
        assert_eq!(v["checks"]["listeners"], "ok", "{v}");
    }
    let alive = d
        .target()
        .request("GET", "/healthz", &[], vec![])
        .await
        .unwrap();
    assert_eq!(alive.status, 200, "{}", alive.text());
    let text = scrape().await;
    assert_eq!(value(&text, "gatepass_ready"), 0.0);
    assert_eq!(value(&text, "gatepass_store_up"), 1.0);
    assert!(journal(&text).0 / capacity >= 0.9, "{text}");
    // Writes still succeed while not ready (the journal has room for them).
    create(need + 1).await;

    // systemd keeps being fed (a restart would not drain a journal faster than a checkpoint)
    // and hears why the daemon is not ready.
    let why = notify.wait_for(heard_full, |m| {
        m.starts_with("WATCHDOG=1") && m.contains("STATUS=not ready: journal: ")
    });
    // It stays so while checkpoints are held: 20 more feeds (2 s, past the idle writer's 1 s
    // checkpoint), none saying ready, no checkpoint made, and `/readyz` still 503.
    notify.wait_for(why + 20, |m| m.starts_with("WATCHDOG=1"));
    let heard = notify.heard.lock().unwrap()[why..].to_vec();
    assert!(
        heard.iter().all(|m| !m.contains("STATUS=ready")),
        "{heard:?}"
    );
    let text = scrape().await;
    assert_eq!(
        value(&text, "gatepass_store_checkpoints_total"),
        checkpoints,
        "a checkpoint while held"
    );
    let r = c.raw("GET", "/readyz", None).await.unwrap();
    assert_eq!(r.status, 503, "{}", r.text());

    // Let checkpoints happen: the idle writer folds the journal in, and the daemon is ready.
    std::fs::remove_file(&hold).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = c.raw("GET", "/readyz", None).await.unwrap();
        if r.status == 200 {
            let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
            assert_eq!(v["checks"]["journal"], "ok", "{v}");
            break;
        }
        assert!(Instant::now() < deadline, "still not ready: {}", r.text());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let text = scrape().await;
    assert_eq!(value(&text, "gatepass_ready"), 1.0);
    assert!(journal(&text).0 < 0.9 * capacity, "{text}");
    assert!(
        value(&text, "gatepass_store_checkpoints_total") > checkpoints,
        "{text}"
    );
    notify.wait_for(why + 1, |m| m.contains("STATUS=ready"));
}

/// Under systemd (`Type=notify`, `WatchdogSec=`): READY=1 once listening, then WATCHDOG=1
/// again and again while the store answers, STOPPING=1 at a SIGTERM.
#[tokio::test]
async fn systemd_hears_ready_then_the_watchdog_then_stopping() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify");
    let socket = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut d = Daemon::unstarted("");
    d.extra_env = vec![
        ("NOTIFY_SOCKET".into(), path.to_string_lossy().into_owned()),
        // Fed every 100 ms.
        ("WATCHDOG_USEC".into(), "200000".into()),
    ];
    d.start_again();
    let mut heard = Vec::new();
    let mut buf = [0u8; 512];
    while heard
        .iter()
        .filter(|m: &&String| m.starts_with("WATCHDOG=1"))
        .count()
        < 3
    {
        let n = socket
            .recv(&mut buf)
            .expect("systemd heard nothing for 10 s");
        heard.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    assert!(heard[0].starts_with("READY=1"), "{heard:?}");
    assert!(
        heard.iter().any(|m| m.contains("STATUS=ready")),
        "{heard:?}"
    );
    d.terminate();
    loop {
        let n = socket.recv(&mut buf).expect("no STOPPING=1");
        if buf[..n].starts_with(b"STOPPING=1") {
            break;
        }
    }
}

/// Over the HTTPS admin listener `/metrics` answers any valid API token (API tokens have no
/// `read` scope yet), and refuses an enrollment token or none with 401, like every credential
/// it does not know.
#[tokio::test]
async fn the_https_admin_listener_serves_metrics_to_api_tokens_only() {
    let d = Daemon::start_with_config(&format!(
        "[admin]\nlisten = \"127.0.0.1:0\"\n\n[access]\napi_users = [{:?}]\n",
        crate::support::current_user()
    ));
    let v: serde_json::Value = serde_json::from_str(&d.cli_ok(&[
        "apitokens",
        "create",
        "--name",
        "prom",
        "--scope",
        "read",
        "--json",
    ]))
    .unwrap();
    let api = v["secret"].as_str().unwrap().to_owned();
    let (enrollment, _) = d.mint(&["--name", "not-for-metrics"]);
    let admin =
        HttpsTarget::parse(d.admin_url.as_ref().unwrap(), TrustMode::Pin(d.pin.clone())).unwrap();
    let get = |auth: String| {
        let admin = admin.clone();
        async move {
            let headers = [("authorization", auth.as_str())];
            admin
                .request("GET", "/metrics", &headers, vec![])
                .await
                .unwrap()
        }
    };
    let r = get(format!("Bearer {api}")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let (ok, said) = promtool(&["check", "metrics"], &r.text());
    assert!(ok && said.trim().is_empty(), "promtool: {said}");
    for auth in [format!("Bearer {enrollment}"), String::new()] {
        let r = get(auth).await;
        assert_eq!(r.status, 401, "{}", r.text());
        assert!(r.header("x-request-id").is_some());
    }
    // Counted under the admin listener's name.
    let text = get(format!("Bearer {api}")).await.text();
    assert!(
        value(
            &text,
            "gatepass_http_requests_total{code=\"401\",listener=\"admin\",route=\"/metrics\"}"
        ) >= 2.0,
        "{text}"
    );
}

/// Load balancer probes: `/healthz` and `/readyz` answered 200 are logged at debug level (a
/// probe every few seconds is not news); other requests at info.
#[tokio::test]
async fn health_probes_that_pass_are_logged_at_debug() {
    let d = Daemon::start_with_config("[log]\nformat = \"json\"\n");
    for path in ["/healthz", "/readyz"] {
        let r = d.target().request("GET", path, &[], vec![]).await.unwrap();
        assert_eq!(r.status, 200, "{path}: {}", r.text());
    }
    d.client().raw("GET", "/v1/whoami", None).await.unwrap();
    let request =
        |l: &serde_json::Value, path: &str| l["message"] == "request" && l["path"] == path;
    let lines = log_lines_until(&d, |l| request(l, "/v1/whoami"));
    let levels = |path: &str| {
        lines
            .iter()
            .filter(|l| request(l, path))
            .map(|l| l["level"].as_str().unwrap_or_default().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(levels("/healthz"), ["DEBUG"]);
    assert_eq!(levels("/readyz"), ["DEBUG"]);
    assert_eq!(levels("/v1/whoami"), ["INFO"]);
}
