//! No token secret in the data folder, the daemon's log or any error body, after a scenario
//! with successes, failures and a restart.

use crate::support::Daemon;

fn files_under(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// Whether `bytes` hold the secret part of `token` (what follows its public id).
fn holds_secret(bytes: &[u8], token: &str) -> bool {
    let secret = &token.as_bytes()[16..38];
    bytes.windows(secret.len()).any(|w| w == secret)
}

/// An API token never rides on the CLI's command line (`/proc/<pid>/cmdline`, which every user
/// can read). The test tries to put it there the ways an operator might — a flag, an argument
/// after the command — and each is refused as a usage error before anything is sent, without
/// echoing the token; the way that is offered, `GATEPASS_API_TOKEN`, reaches the server while
/// the command line, read from the running process, holds no token. (The check of the command
/// line is first shown to see a token where there is one.)
#[tokio::test]
async fn the_cli_keeps_tokens_off_its_command_line() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    silent.set_nonblocking(true).unwrap();
    let url = format!("https://{}", silent.local_addr().unwrap());
    let token = gatepass_protocol::token::generate(gatepass_protocol::TokenKind::Api).unwrap();
    let token = token.expose().to_owned();
    let server = ["--server", url.as_str(), "--ca-pin", "sha256:00"];
    let run = |args: &[&str]| {
        std::process::Command::new(crate::support::gatepass_bin())
            .args(server)
            .args(args)
            .env_remove("GATEPASS_SOCKET")
            .env_remove("GATEPASS_API_TOKEN")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    for args in [
        &["--api-token", token.as_str(), "tokens", "list"][..],
        &["tokens", "list", "--token", token.as_str()],
        &["tokens", "list", token.as_str()],
        &["apitokens", "list", token.as_str()],
        &[&token, "tokens", "list"],
    ] {
        let out = run(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            !holds_secret(&out.stderr, &token) && !holds_secret(&out.stdout, &token),
            "the token was echoed: {err}"
        );
        // Refused before anything was sent: nobody connected.
        assert!(
            silent
                .accept()
                .is_err_and(|e| e.kind() == std::io::ErrorKind::WouldBlock),
            "{args:?}: the CLI connected to the server with a token from its command line"
        );
    }
    // What the check of a command line reads, where a process does carry a token: it sees it.
    // (A shell waiting to read a line that never comes; until it has started, the child's
    // command line is still this test's.)
    let mut carrier = std::process::Command::new("sh")
        .args(["-c", "read line", "carrier", &token])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let carried = loop {
        let c = std::fs::read(format!("/proc/{}/cmdline", carrier.id())).unwrap_or_default();
        if c.starts_with(b"sh\0") || std::time::Instant::now() > deadline {
            break c;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    let _ = carrier.kill();
    let _ = carrier.wait();
    assert!(
        holds_secret(&carried, &token),
        "the check cannot see a token"
    );

    // The way offered: the environment. The connection arriving proves the process is up and
    // holding the token.
    silent.set_nonblocking(false).unwrap();
    let mut child = std::process::Command::new(crate::support::gatepass_bin())
        .args(server)
        .args(["tokens", "list"])
        .env_remove("GATEPASS_SOCKET")
        .env("GATEPASS_API_TOKEN", &token)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let (_conn, _) = silent.accept().unwrap();
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", child.id())).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        String::from_utf8_lossy(&cmdline).contains("tokens"),
        "read the right process"
    );
    assert!(!holds_secret(&cmdline, &token));
}

#[tokio::test]
async fn secrets_never_reach_disk_logs_or_error_bodies() {
    canary("").await;
}

/// The same with `[log] format = "json"`: every line of the log is a JSON object, and none
/// holds a secret (JSON escapes no letter or digit, so a secret would show as written).
#[tokio::test]
async fn secrets_never_reach_json_logs_either() {
    let log = canary("[log]\nformat = \"json\"\n").await;
    let mut requests = 0;
    for line in log.lines().filter(|l| !l.is_empty()) {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        assert!(v["level"].is_string() && v["target"].is_string(), "{line}");
        if v["message"] == "request" && v["span"]["request_id"].is_string() {
            requests += 1;
        }
    }
    // The scenario's requests were logged (with their ids), so the check above means something.
    assert!(requests >= 30, "{requests} request lines:\n{log}");
}

/// A new API token of the user running the tests, made with `args`; its secret.
fn api_token(d: &Daemon, args: &[&str]) -> String {
    let mut all = vec!["apitokens", "create", "--json"];
    all.extend_from_slice(args);
    let v: serde_json::Value = serde_json::from_str(&d.cli_ok(&all)).unwrap();
    v["secret"].as_str().unwrap().to_owned()
}

/// A scenario of successes, failures and a restart, then no secret in the data folder, the
/// log or any answer; returns the log. `log_config` is a `[log]` table (or nothing).
async fn canary(log_config: &str) -> String {
    let mut d = Daemon::start_with_config(&format!(
        "[admin]\nlisten = \"127.0.0.1:0\"\n\n[limits]\nredeem_failures_per_minute = 100000\n\n\
         [access]\napi_users = [{:?}]\n\n{log_config}",
        crate::support::current_user()
    ));
    let mut secrets = Vec::new();
    let mut bodies = Vec::new();
    // A personal API token, used over HTTPS, well and badly.
    let v: serde_json::Value =
        serde_json::from_str(&d.cli_ok(&["apitokens", "create", "--name", "ci", "--json"]))
            .unwrap();
    let api = v["secret"].as_str().unwrap().to_owned();
    let out = d.cli_https(&api, &["tokens", "list"]);
    assert!(out.status.success());
    let mut bad_api = api.clone();
    bad_api.pop();
    let out = d.cli_https(&bad_api, &["tokens", "list"]);
    bodies.push(String::from_utf8_lossy(&out.stderr).into_owned());
    secrets.push(api);
    for i in 0..5 {
        let (s, _) = d.mint(&["--name", &format!("s{i}"), "--uses", "2"]);
        secrets.push(s);
    }
    for s in secrets.clone().iter().skip(1) {
        for host in ["a", "b", "c"] {
            bodies.push(
                d.redeem(s, &format!(r#"{{"hostname":"{host}"}}"#))
                    .await
                    .text(),
            );
        }
        // A token pasted where it does not belong ends up quoted in serde's messages.
        bodies.push(
            d.redeem(s, &format!(r#"{{"hostname":"{s}"}}"#))
                .await
                .text(),
        );
        bodies.push(
            d.redeem(s, &format!(r#"{{"hostname":5,"x":"{s}"}}"#))
                .await
                .text(),
        );
        let mut truncated = s.clone();
        truncated.pop();
        bodies.push(d.redeem(&truncated, r#"{"hostname":"t"}"#).await.text());
        let r = d
            .client()
            .raw(
                "POST",
                "/v1/tokens",
                Some(format!(r#"{{"name":{s:?},"max_uses":"{s}"}}"#).into_bytes()),
            )
            .await
            .unwrap();
        bodies.push(r.text());
    }
    // Whole tokens pasted into a request's path where a name or id goes, in clear and with one
    // character percent-encoded (the router decodes it before looking the token up), by tokens
    // whose scope or path restriction refuses the request (denied, audited with the path) or
    // allows it (logged with the path).
    let admin = gatepass_protocol::client::HttpsTarget::parse(
        d.admin_url.as_ref().unwrap(),
        gatepass_protocol::client::TrustMode::Pin(d.pin.clone()),
    )
    .unwrap();
    let read_only = api_token(&d, &["--name", "ro", "--scope", "read"]);
    let hosts_only = api_token(&d, &["--name", "hosts", "--path-prefix", "/v1/hosts"]);
    let encoded = |t: &str| format!("{}%{:02X}{}", &t[..20], t.as_bytes()[20], &t[21..]);
    let mut pasted = 0;
    for (bearer, method, path, status) in [
        (
            &read_only,
            "DELETE",
            format!("/v1/tokens/{}", secrets[1]),
            403,
        ),
        (
            &read_only,
            "DELETE",
            format!("/v1/tokens/{}", encoded(&secrets[1])),
            403,
        ),
        (
            &read_only,
            "DELETE",
            format!("/v1/api-tokens/{}", secrets[0]),
            403,
        ),
        (
            &read_only,
            "DELETE",
            format!("/v1/api-tokens/{}", encoded(&secrets[0])),
            403,
        ),
        (
            &hosts_only,
            "GET",
            format!("/v1/tokens/{}", secrets[2]),
            403,
        ),
        (
            &hosts_only,
            "GET",
            format!("/v1/tokens/{}", encoded(&secrets[2])),
            403,
        ),
        (&read_only, "GET", format!("/v1/tokens/{}", secrets[3]), 200),
        (
            &read_only,
            "GET",
            format!("/v1/tokens/{}", encoded(&secrets[3])),
            200,
        ),
    ] {
        let auth = format!("Bearer {bearer}");
        let r = admin
            .request(method, &path, &[("authorization", &auth)], vec![])
            .await
            .unwrap();
        assert_eq!(r.status, status, "{method} {path}: {}", r.text());
        bodies.push(r.text());
        pasted += 1;
    }
    let audit = d.cli_ok(&["audit", "--json", "--limit", "1000"]);
    let denials = audit.matches("\"denied\"").count();
    assert!(denials >= pasted - 2, "{audit}");
    bodies.push(audit);
    secrets.push(read_only);
    secrets.push(hosts_only);
    d.cli_ok(&["tokens", "revoke", "s0"]);
    bodies.push(d.redeem(&secrets[1], r#"{"hostname":"z"}"#).await.text());
    d.restart();
    bodies.push(
        d.redeem(&secrets[2], r#"{"hostname":"after"}"#)
            .await
            .text(),
    );
    d.kill();

    let mut files = Vec::new();
    files_under(&d.data_dir(), &mut files);
    files.push(d.log_path());
    let dumps = d.store_dumps();
    let on_postgres = !dumps.is_empty();
    files.extend(dumps);
    assert!(files.len() >= if on_postgres { 7 } else { 8 }, "{files:?}");
    let log = std::fs::read_to_string(d.log_path()).unwrap();
    assert!(
        log.contains("redeem"),
        "the log is not empty, so the check means something"
    );
    for s in &secrets {
        // The part after the public id is the secret; any 12 characters of it would be a leak.
        let secret_part = &s[16..38];
        for chunk in [&secret_part[..12], &secret_part[10..]] {
            // As written, and as pg_dump prints bytea (hex).
            let hex: String = chunk.bytes().map(|b| format!("{b:02x}")).collect();
            for f in &files {
                let bytes = std::fs::read(f).unwrap();
                for form in [chunk, hex.as_str()] {
                    assert!(
                        !bytes.windows(form.len()).any(|w| w == form.as_bytes()),
                        "secret found in {}",
                        f.display()
                    );
                }
            }
            for b in &bodies {
                assert!(!b.contains(chunk), "secret found in an answer: {b}");
            }
        }
    }
    log
}

/// An admin listener that is not there: exit code 3 and one line that says why once (the
/// connection error used to be repeated after the message that already held it).
#[test]
fn an_admin_listener_that_is_not_there_is_one_line_with_its_cause_once() {
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap();
    // Closed again: nothing listens there now.
    let url = format!("https://{addr}");
    let token = gatepass_protocol::token::generate(gatepass_protocol::TokenKind::Api).unwrap();
    let out = std::process::Command::new(crate::support::gatepass_bin())
        .args(["--server", &url, "--ca-pin", "sha256:00", "tokens", "list"])
        .env_remove("GATEPASS_SOCKET")
        .env("GATEPASS_API_TOKEN", token.expose())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(&format!("cannot reach {addr}")), "{err}");
    assert_eq!(err.matches("refused").count(), 1, "{err}");
    assert!(!err.contains(&token.expose()[16..]), "{err}");
}
