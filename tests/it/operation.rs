//! Running the daemon: first start, file modes, one daemon per data folder, graceful shutdown,
//! restarts, configuration errors, health, metrics and the events stream.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use crate::support::{Daemon, gatepassd_bin};

fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn first_start_creates_private_files() {
    let d = Daemon::start();
    let data = d.data_dir();
    assert_eq!(mode(&data), 0o700);
    for f in [
        "gatepass.redb",
        "gatepass.journal",
        "hmac.key",
        "ca.key",
        "server.key",
    ] {
        assert_eq!(mode(&data.join(f)), 0o600, "{f}");
    }
    assert_eq!(mode(d.socket.parent().unwrap()), 0o700);
    assert_eq!(std::fs::read(data.join("hmac.key")).unwrap().len(), 32);
}

#[tokio::test]
async fn a_second_daemon_on_the_same_data_folder_fails_clearly() {
    let d = Daemon::start();
    let out = Command::new(gatepassd_bin())
        .arg("--config")
        .arg(d.dir.path().join("gatepassd.toml"))
        .arg("--data-dir")
        .arg(d.data_dir())
        .arg("--socket")
        .arg(d.dir.path().join("other.sock"))
        .arg("--listen")
        .arg("127.0.0.1:0")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("in use by another gatepassd"), "{err}");
    // A second daemon on the same socket fails too, and the first keeps serving.
    let out = Command::new(gatepassd_bin())
        .arg("--config")
        .arg(d.dir.path().join("gatepassd.toml"))
        .arg("--data-dir")
        .arg(d.dir.path().join("other-data"))
        .arg("--socket")
        .arg(&d.socket)
        .arg("--listen")
        .arg("127.0.0.1:0")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("already listens"));
    d.mint(&["--name", "still-works"]);
}

#[test]
fn an_unreadable_log_filter_is_said_and_logging_goes_on_at_info() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let log = std::fs::File::create(dir.path().join("log")).unwrap();
    let mut child = Command::new(gatepassd_bin())
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .arg("--socket")
        .arg(dir.path().join("gp.sock"))
        .args(["--listen", "127.0.0.1:0"])
        .env("GATEPASSD_LOG", "[[[")
        .stdout(std::process::Stdio::piped())
        .stderr(log)
        .spawn()
        .unwrap();
    let mut ready = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    assert!(ready.starts_with("gatepassd ready"), "{ready}");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert!(child.wait().unwrap().success());
    let text = std::fs::read_to_string(dir.path().join("log")).unwrap();
    assert!(text.contains("GATEPASSD_LOG is not a log filter"), "{text}");
    assert!(text.contains("INFO") && text.contains("stopped"), "{text}");
}

#[test]
fn a_listen_address_that_cannot_be_bound_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    for (flag, what) in [
        ("--listen", "redeem listener"),
        ("--admin-listen", "admin listener"),
    ] {
        let mut cmd = Command::new(gatepassd_bin());
        cmd.arg("--data-dir")
            .arg(dir.path().join("data"))
            .arg("--socket")
            .arg(dir.path().join("gp.sock"));
        if flag == "--admin-listen" {
            cmd.args(["--listen", "127.0.0.1:0"]);
        }
        let out = cmd.args([flag, "notanaddr"]).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.contains(&format!("binding the {what} on notanaddr")),
            "{err}"
        );
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert!(left.is_empty(), "{flag}: left behind {left:?}");
    }
}

/// A second daemon on another data folder but a socket a live daemon holds is refused before
/// it writes anything: no data folder, no config, no CA, no 64 MiB journal (it made 65 MB).
#[test]
fn a_socket_in_use_is_refused_before_anything_is_written() {
    let d = Daemon::start();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = Command::new(gatepassd_bin())
        .arg("--data-dir")
        .arg(&data)
        .arg("--socket")
        .arg(&d.socket)
        .args(["--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(&d.socket.display().to_string()), "{err}");
    assert!(!data.exists(), "the data folder was made: {err}");
    // The running daemon still answers on its socket.
    d.cli_ok(&["tokens", "list"]);
}

#[tokio::test]
async fn sigterm_shuts_down_gracefully_and_a_restart_keeps_everything() {
    let mut d = Daemon::start();
    let (secret, id) = d.mint(&["--name", "kept", "--uses", "2"]);
    assert_eq!(d.redeem(&secret, r#"{"hostname":"a"}"#).await.status, 201);
    let pin = d.pin.clone();
    let status = d.terminate();
    assert!(status.success(), "exit status {status:?}");
    assert!(!d.socket.exists(), "the socket file is removed on shutdown");
    let log = std::fs::read_to_string(d.log_path()).unwrap();
    assert!(
        log.contains("SIGTERM received") && log.contains("stopped"),
        "{log}"
    );
    d.restart();
    assert_eq!(d.pin, pin, "the CA survives a restart");
    assert_eq!(d.token_json(&id)["uses"], 1);
    // The shutdown folded the journal into the database: the restart had nothing to redo.
    let log = std::fs::read_to_string(d.log_path()).unwrap();
    assert!(log.contains("listening"), "{log}");
    assert!(!log.contains("redid the journal"), "{log}");
    assert_eq!(d.redeem(&secret, r#"{"hostname":"b"}"#).await.status, 201);
}

#[tokio::test]
async fn a_bad_config_is_refused_with_the_key_named() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, "[tokens]\ndefault_ttl = \"forever\"\n").unwrap();
    let out = Command::new(gatepassd_bin())
        .arg("--config")
        .arg(&cfg)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .arg("--socket")
        .arg(dir.path().join("s.sock"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml") && err.contains("forever"), "{err}");
}

#[tokio::test]
async fn environment_variables_stand_for_flags() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("env.sock");
    let mut child = Command::new(gatepassd_bin())
        .env("GATEPASSD_DATA_DIR", dir.path().join("data"))
        .env("GATEPASSD_SOCKET", &sock)
        .env("GATEPASSD_LISTEN", "127.0.0.1:0")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    assert!(
        line.contains(&format!("socket={}", sock.display())),
        "{line}"
    );
    // With no --config, the documented defaults were written into the data folder.
    let written = std::fs::read_to_string(dir.path().join("data/gatepassd.toml")).unwrap();
    assert!(written.contains("default_ttl = \"3d\""));
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test]
async fn health_metrics_and_events() {
    let d = Daemon::start();
    let c = d.client();
    assert_eq!(c.healthz().await.unwrap().status, 200);
    assert_eq!(
        d.target()
            .request("GET", "/healthz", &[], vec![])
            .await
            .unwrap()
            .status,
        200
    );

    let mut events = c.events().await.unwrap();
    // An event that never comes fails the test (bounded), instead of hanging the run.
    let mut next = async || {
        tokio::time::timeout(std::time::Duration::from_secs(10), events.next())
            .await
            .expect("no event within 10 s")
            .expect("the event stream ended")
            .expect("an unreadable event")
    };
    let (secret, id) = d.mint(&["--name", "watched", "--uses", "3"]);
    let first = next().await;
    assert_eq!(
        (first.kind.as_str(), first.token.as_ref().map(|t| t.uses)),
        ("token", Some(0))
    );
    assert_eq!(d.redeem(&secret, r#"{"hostname":"w"}"#).await.status, 201);
    // After the creation's audit event come the redemption's token, audit and host events.
    let mut seen = Vec::new();
    while !seen.iter().any(|k: &String| k == "host") {
        let e = next().await;
        if e.kind == gatepass_protocol::ChangeKind::Token {
            let t = e.token.as_ref().unwrap();
            assert_eq!((t.id.as_str(), t.uses), (id.as_str(), 1));
        }
        seen.push(e.kind.as_str().to_owned());
    }
    assert!(
        seen.contains(&"token".to_owned()) && seen.contains(&"audit".to_owned()),
        "{seen:?}"
    );

    let m = c.raw("GET", "/metrics", None).await.unwrap();
    let text = m.text();
    assert!(m.header("content-type").unwrap().starts_with("text/plain"));
    assert!(
        text.contains("gatepass_redeem_total{result=\"enrolled\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("gatepass_tokens{status=\"active\"} 1"),
        "{text}"
    );
    assert!(text.contains("gatepass_hosts 1"), "{text}");
}

/// `tokens.max_ttl` caps every lifetime and forbids no expiry; `tokens.allow_no_expiry = false`
/// forbids only no expiry; `redeem.public_url` is the address join commands carry. Each from a
/// real config file, through the real CLI.
#[tokio::test]
async fn lifetime_settings_and_the_public_url_come_from_the_config() {
    let d = Daemon::start_with_config(
        "[redeem]\npublic_url = \"https://gate.example.test:8443\"\n\n\
         [tokens]\ndefault_ttl = \"1h\"\nmax_ttl = \"1d\"\n",
    );
    let refused = |args: &[&str], why: &str| {
        let mut all = vec!["tokens", "create"];
        all.extend_from_slice(args);
        let out = d.cli(&all);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(why), "{args:?}: {err}");
    };
    refused(
        &["--name", "long", "--ttl", "3d"],
        "caps token lifetimes at 1d",
    );
    refused(
        &["--name", "never", "--no-expiry"],
        "requires every token to expire",
    );
    let out = d.cli(&["tokens", "create", "--name", "day", "--ttl", "1d"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "gatepass redeem --server https://gate.example.test:8443 --ca-pin {}",
            d.pin
        )),
        "the join command carries the public URL: {err}"
    );
    // The default lifetime is the configured one.
    let (_, id) = d.mint(&["--name", "default"]);
    let t = d.token_json(&id);
    let at = |k: &str| gatepass_protocol::Timestamp::parse(t[k].as_str().unwrap()).unwrap();
    // Counted from the next whole second after the minting (the token is dated the second it
    // was minted in): an hour, and at most a second more.
    let lifetime = at("expires_at").0 - at("created_at").0;
    assert!((3_600..=3_601).contains(&lifetime), "{lifetime}");
    // Removing the expiry later is refused too.
    let r = d
        .client()
        .raw(
            "PATCH",
            &format!("/v1/tokens/{id}"),
            Some(br#"{"expires_at":null}"#.to_vec()),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(d.token_json(&id)["expires_at"].is_string());
    drop(d);

    let d = Daemon::start_with_config("[tokens]\nallow_no_expiry = false\n");
    let out = d.cli(&["tokens", "create", "--name", "never", "--no-expiry"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("requires every token to expire"), "{err}");
    // Long lifetimes are fine: only "never" is refused.
    let (_, id) = d.mint(&["--name", "quarter", "--ttl", "90d"]);
    let r = d
        .client()
        .raw(
            "PATCH",
            &format!("/v1/tokens/{id}"),
            Some(br#"{"expires_at":null}"#.to_vec()),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 400, "{}", r.text());
    // Without public_url, join commands carry the listener's own address.
    let out = d.cli(&["tokens", "create", "--name", "local"]);
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains(&format!("gatepass redeem --server {} ", d.redeem_url)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Issue 18, point 5: with `max_ttl = "1d"` repeated PATCHes of `expires_at` extended a token
/// without end (the cap was measured from now). The cap runs from the token's creation, for
/// every PATCH (`tokens extend`, on its way in the console's branch, is one).
#[tokio::test]
async fn max_ttl_is_measured_from_creation_and_a_patch_cannot_extend_past_it() {
    let d = Daemon::start_with_config("[tokens]\ndefault_ttl = \"1h\"\nmax_ttl = \"1d\"\n");
    let (_, id) = d.mint(&["--name", "capped", "--ttl", "12h"]);
    let created =
        gatepass_protocol::Timestamp::parse(d.token_json(&id)["created_at"].as_str().unwrap())
            .unwrap();
    d.set_clock_offset(20 * 3_600);
    // Within the cap from creation: fine.
    let within = gatepass_protocol::Timestamp(created.0 + 23 * 3_600).to_rfc3339();
    let r = d
        .client()
        .raw(
            "PATCH",
            &format!("/v1/tokens/{id}"),
            Some(format!(r#"{{"expires_at":"{within}"}}"#).into_bytes()),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    // A day from now is 44 h from creation: refused.
    let past = gatepass_protocol::Timestamp(created.0 + 44 * 3_600).to_rfc3339();
    let r = d
        .client()
        .raw(
            "PATCH",
            &format!("/v1/tokens/{id}"),
            Some(format!(r#"{{"expires_at":"{past}"}}"#).into_bytes()),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("from its creation"), "{}", r.text());
    assert_eq!(
        d.token_json(&id)["expires_at"].as_str().unwrap(),
        within,
        "the refused changes left the expiry as it was"
    );
}

/// Issue 18, also: a `--ttl 1s` token lived 0.3 s (its lifetime counted from a creation time
/// rounded down to the second). A token lives at least what was asked.
#[tokio::test]
async fn a_one_second_token_lives_at_least_one_second() {
    let d = Daemon::start();
    for i in 0..3 {
        // The token is made after this instant: a redemption answered before a second has
        // passed since must find it alive.
        let asked = std::time::Instant::now();
        let out = d.cli(&[
            "tokens",
            "create",
            "--name",
            &format!("brief-{i}"),
            "--ttl",
            "1s",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let secret = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        let wait = std::time::Duration::from_millis(850).saturating_sub(asked.elapsed());
        tokio::time::sleep(wait).await;
        let r = d.redeem(&secret, r#"{"hostname":"quick"}"#).await;
        if asked.elapsed() < std::time::Duration::from_secs(1) {
            assert_eq!(
                r.status,
                201,
                "a 1s token refused {:?} after it was asked for: {}",
                asked.elapsed(),
                r.text()
            );
        }
    }
}

/// SIGHUP (sent by habit to make a daemon reread its config) does not stop the daemon: the log
/// says the configuration is read at start and a restart applies a change.
#[tokio::test]
async fn sighup_is_told_in_the_log_and_does_not_stop_the_daemon() {
    let d = Daemon::start();
    let pid = d.child.as_ref().unwrap().id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let log = std::fs::read_to_string(d.log_path()).unwrap_or_default();
        if log.contains("SIGHUP received and ignored") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "nothing logged: {log}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(d.client().healthz().await.unwrap().status, 200);
}
