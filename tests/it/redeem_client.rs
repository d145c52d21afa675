//! `gatepass redeem`, the host side of enrollment, against a real daemon: the files it writes and
//! their modes, the pin checked before the token leaves, argv refused, a retry after a lost
//! answer, and one exit code per kind of failure.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, UnixTime, pem::PemObject};
use rustls::server::WebPkiClientVerifier;

use crate::support::{Daemon, gatepass_bin};

/// Runs `gatepass redeem` as a host would: no API token, the token in a file. GATEPASS_SOCKET is
/// set, as on an operator's machine that exports it: `--server` wins over it.
fn redeem_cmd(d: &Daemon, pin: Option<&str>, token: Option<&str>, extra: &[&str]) -> Output {
    let token_file = d.dir.path().join("token-for-host");
    let mut cmd = Command::new(gatepass_bin());
    cmd.args(["--server", &d.redeem_url]);
    if let Some(p) = pin {
        cmd.args(["--ca-pin", p]);
    }
    cmd.arg("redeem");
    if let Some(t) = token {
        std::fs::write(&token_file, format!("{t}\n")).unwrap();
        cmd.arg("--token-file").arg(&token_file);
    }
    cmd.args(extra)
        .env("GATEPASS_SOCKET", &d.socket)
        .env_remove("GATEPASS_SERVER")
        .env_remove("GATEPASS_TOKEN")
        .env_remove("GATEPASS_API_TOKEN")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn audit_actions(d: &Daemon) -> Vec<String> {
    let audit: serde_json::Value = serde_json::from_str(&d.cli_ok(&["audit", "--json"])).unwrap();
    audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_host_enrolls_with_four_files_and_a_certificate_that_verifies() {
    let d = Daemon::start();
    let (secret, id) = d.mint(&["--name", "rollout", "--group", "web"]);
    let out = d.dir.path().join("host/etc-gatepass");
    let o = redeem_cmd(
        &d,
        Some(&d.pin),
        Some(&secret),
        &["--out", out.to_str().unwrap(), "--hostname", "web-01"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let host_id = String::from_utf8(o.stdout.clone())
        .unwrap()
        .trim()
        .to_owned();
    assert!(!host_id.is_empty());
    assert!(stderr(&o).contains("Enrolled as web-01"), "{}", stderr(&o));

    // The four files, the key private, the folder private.
    assert_eq!(mode(&out), 0o700);
    assert_eq!(mode(&out.join("key.pem")), 0o600);
    for f in ["ca.pem", "cert.pem", "host-id"] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    assert_eq!(
        std::fs::read_to_string(out.join("host-id")).unwrap().trim(),
        host_id
    );
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["ca.pem", "cert.pem", "host-id", "key.pem"]);

    // ca.pem is the daemon's CA, and cert.pem verifies against it.
    let ca_pem = std::fs::read(out.join("ca.pem")).unwrap();
    assert_eq!(ca_pem, std::fs::read(d.data_dir().join("ca.pem")).unwrap());
    let ca = CertificateDer::from_pem_slice(&ca_pem).unwrap();
    let cert = CertificateDer::from_pem_file(out.join("cert.pem")).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .unwrap()
        .verify_client_cert(&cert, &[], UnixTime::now())
        .expect("cert.pem verifies against ca.pem");
    // The certificate carries the key written beside it.
    let key =
        rcgen::KeyPair::from_pem(&std::fs::read_to_string(out.join("key.pem")).unwrap()).unwrap();
    let der: &[u8] = cert.as_ref();
    assert!(
        der.windows(65).any(|w| w == key.public_key_raw()),
        "cert.pem does not hold key.pem's public key"
    );

    // The daemon agrees: one use, one host with that id.
    let t = d.token_json(&id);
    assert_eq!(t["uses"], 1);
    let hosts = d.cli_ok(&["hosts", "list", "--json"]);
    assert!(
        hosts.contains(&host_id) && hosts.contains("web-01"),
        "{hosts}"
    );

    // Running it again without --force refuses and changes nothing.
    let again = redeem_cmd(
        &d,
        Some(&d.pin),
        Some(&secret),
        &["--out", out.to_str().unwrap()],
    );
    assert_eq!(again.status.code(), Some(9), "{}", stderr(&again));
    assert!(stderr(&again).contains("--force"), "{}", stderr(&again));
    assert_eq!(d.token_json(&id)["uses"], 1);
}

#[test]
fn a_wrong_pin_refuses_before_the_token_leaves_the_host() {
    let d = Daemon::start();
    let (secret, id) = d.mint(&["--name", "t"]);
    let out = d.dir.path().join("out");
    let wrong = format!("sha256:{}", "cd".repeat(32));
    let o = redeem_cmd(
        &d,
        Some(&wrong),
        Some(&secret),
        &["--out", out.to_str().unwrap(), "--hostname", "h"],
    );
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(stderr(&o).contains("--ca-pin"), "{}", stderr(&o));
    assert!(!stderr(&o).contains(&secret));
    // The daemon saw no attempt: nothing audited beyond the mint, no use spent.
    assert_eq!(audit_actions(&d), ["created"]);
    assert_eq!(d.token_json(&id)["uses"], 0);
    assert!(!out.join("cert.pem").exists());
    // The key made for the attempt that sent nothing is not left behind.
    assert!(!out.join("key.pem").exists());

    // No pin at all is refused unless told to skip the check.
    let o = redeem_cmd(
        &d,
        None,
        Some(&secret),
        &["--out", out.to_str().unwrap(), "--hostname", "h"],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--insecure-skip-pin"), "{}", stderr(&o));
    assert_eq!(d.token_json(&id)["uses"], 0);
    let o = redeem_cmd(
        &d,
        None,
        Some(&secret),
        &[
            "--out",
            out.to_str().unwrap(),
            "--hostname",
            "h",
            "--insecure-skip-pin",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("warning"), "{}", stderr(&o));
}

#[test]
fn a_token_on_the_command_line_is_refused() {
    let d = Daemon::start();
    let (secret, id) = d.mint(&["--name", "t"]);
    let out = d.dir.path().join("out");
    let out = out.to_str().unwrap();
    for extra in [
        vec![secret.as_str(), "--out", out],
        vec!["--token", secret.as_str(), "--out", out],
        vec!["--out", out, "--hostname", secret.as_str()],
    ] {
        let o = redeem_cmd(&d, Some(&d.pin), None, &extra);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("process list"), "{}", stderr(&o));
        assert!(!stderr(&o).contains(&secret[16..]), "{}", stderr(&o));
    }
    assert_eq!(d.token_json(&id)["uses"], 0);
    assert_eq!(audit_actions(&d), ["created"]);
}

#[test]
fn a_retry_after_a_lost_answer_gets_the_same_host_without_another_use() {
    let d = Daemon::start();
    let (secret, id) = d.mint(&["--name", "t", "--uses", "5"]);
    let out = d.dir.path().join("out");
    let args = ["--out", out.to_str().unwrap(), "--hostname", "db-01"];
    let first = redeem_cmd(&d, Some(&d.pin), Some(&secret), &args);
    assert!(first.status.success(), "{}", stderr(&first));
    let host_id = String::from_utf8(first.stdout).unwrap();
    let key = std::fs::read(out.join("key.pem")).unwrap();
    // The answer was lost: the key was written before the request, nothing after it.
    for f in ["ca.pem", "cert.pem", "host-id"] {
        std::fs::remove_file(out.join(f)).unwrap();
    }
    let retry = redeem_cmd(&d, Some(&d.pin), Some(&secret), &args);
    assert!(retry.status.success(), "{}", stderr(&retry));
    assert!(stderr(&retry).contains("Reusing the host key"));
    assert_eq!(String::from_utf8(retry.stdout).unwrap(), host_id);
    assert_eq!(std::fs::read(out.join("key.pem")).unwrap(), key);
    assert_eq!(d.token_json(&id)["uses"], 1);

    // --force enrolls again with a new key: a new host and a second use.
    let forced = redeem_cmd(
        &d,
        Some(&d.pin),
        Some(&secret),
        &[args.as_slice(), &["--force"]].concat(),
    );
    assert!(forced.status.success(), "{}", stderr(&forced));
    assert_ne!(String::from_utf8(forced.stdout).unwrap(), host_id);
    assert_ne!(std::fs::read(out.join("key.pem")).unwrap(), key);
    assert!(!out.join("key.pem.pending").exists());
    assert_eq!(d.token_json(&id)["uses"], 2);
}

#[test]
fn each_refusal_is_a_sentence_and_an_exit_code_of_its_own() {
    let d = Daemon::start();
    let dir = d.dir.path().to_owned();
    let case = |n: &str| dir.join(n).to_str().unwrap().to_owned();

    // Malformed: caught offline, nothing sent.
    let o = redeem_cmd(
        &d,
        Some(&d.pin),
        Some("gpt_not-a-token"),
        &["--out", &case("a")],
    );
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("before sending anything"),
        "{}",
        stderr(&o)
    );
    assert_eq!(audit_actions(&d), Vec::<String>::new());

    // Well-formed but unknown to the daemon: 401.
    let unknown =
        gatepass_protocol::token::generate(gatepass_protocol::token::TokenKind::Enrollment)
            .unwrap();
    let o = redeem_cmd(
        &d,
        Some(&d.pin),
        Some(unknown.expose()),
        &["--out", &case("b")],
    );
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("does not accept this token"),
        "{}",
        stderr(&o)
    );

    // Used up: 410.
    let (single, _) = d.mint(&["--name", "single"]);
    let o = redeem_cmd(
        &d,
        Some(&d.pin),
        Some(&single),
        &["--out", &case("c1"), "--hostname", "h1"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = redeem_cmd(
        &d,
        Some(&d.pin),
        Some(&single),
        &["--out", &case("c2"), "--hostname", "h2"],
    );
    assert_eq!(o.status.code(), Some(6), "{}", stderr(&o));
    assert!(stderr(&o).contains("used up"), "{}", stderr(&o));
    // A refused first attempt leaves its key for a retry, and nothing else.
    assert!(!Path::new(&case("c2")).join("cert.pem").exists());

    // Revoked: 410.
    let (revoked, rid) = d.mint(&["--name", "revoked"]);
    d.cli_ok(&["tokens", "revoke", &rid]);
    let o = redeem_cmd(&d, Some(&d.pin), Some(&revoked), &["--out", &case("d")]);
    assert_eq!(o.status.code(), Some(6), "{}", stderr(&o));
    assert!(stderr(&o).contains("revoked"), "{}", stderr(&o));

    // Disabled: 403.
    let (disabled, did) = d.mint(&["--name", "disabled"]);
    d.cli_ok(&["tokens", "disable", &did]);
    let o = redeem_cmd(&d, Some(&d.pin), Some(&disabled), &["--out", &case("e")]);
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    assert!(stderr(&o).contains("disabled"), "{}", stderr(&o));

    // Nobody listening: unreachable.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let token_file = dir.join("token-for-host");
    let gone = Command::new(gatepass_bin())
        .args([
            "--server",
            &format!("https://127.0.0.1:{port}"),
            "--ca-pin",
            &d.pin,
        ])
        .args(["redeem", "--out", &case("f"), "--token-file"])
        .arg(&token_file)
        .env_remove("GATEPASS_SOCKET")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(gone.status.code(), Some(3), "{}", stderr(&gone));
    assert!(stderr(&gone).contains("cannot reach"), "{}", stderr(&gone));

    // No token source and no terminal: usage, with the ways to give one.
    let o = redeem_cmd(&d, Some(&d.pin), None, &["--out", &case("g")]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("GATEPASS_TOKEN"), "{}", stderr(&o));

    // GATEPASS_TOKEN works as a source (with a trailing newline, trimmed).
    let (from_env, eid) = d.mint(&["--name", "env"]);
    let o = Command::new(gatepass_bin())
        .args(["--server", &d.redeem_url, "--ca-pin", &d.pin])
        .args(["redeem", "--out", &case("h"), "--hostname", "envhost"])
        .env_remove("GATEPASS_SOCKET")
        .env("GATEPASS_TOKEN", format!("{from_env}\n"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(d.token_json(&eid)["uses"], 1);

    // No message ever carried a token.
    let log = std::fs::read_to_string(d.log_path()).unwrap();
    for s in [&single, &revoked, &disabled, &from_env] {
        assert!(!log.contains(&s[16..]));
    }
}

/// The exit codes the README promises that need the daemon to refuse: 6 for an expired token,
/// 7 for a token not valid from this address or not valid yet, 8 for a request the daemon
/// refuses as malformed, 10 once this address has been refused too often (every refusal
/// counts: the four above and two unknown tokens reach this daemon's limit of six).
#[test]
fn expired_source_denied_not_yet_valid_malformed_and_rate_limited_have_their_codes() {
    let d = Daemon::start_with_config(
        "[redeem]\nmax_body = 1024\n\n[limits]\nredeem_failures_per_minute = 6\n",
    );
    let dir = d.dir.path().to_owned();
    let case = |n: &str| dir.join(n).to_str().unwrap().to_owned();

    // 6: expired, with the daemon's clock moved past the expiry.
    let (expiring, eid) = d.mint(&["--name", "expiring", "--ttl", "1h"]);
    d.set_clock_offset(3_601);
    let o = redeem_cmd(&d, Some(&d.pin), Some(&expiring), &["--out", &case("a")]);
    assert_eq!(o.status.code(), Some(6), "{}", stderr(&o));
    assert!(stderr(&o).contains("has expired"), "{}", stderr(&o));
    d.set_clock_offset(0);
    assert_eq!(d.token_json(&eid)["uses"], 0);

    // 7: valid only from a network this host is not in (nothing is sent there: the CIDR only
    // has to leave 127.0.0.1 out).
    let (fenced, _) = d.mint(&["--name", "fenced", "--allow-cidr", "192.0.2.0/24"]);
    let o = redeem_cmd(&d, Some(&d.pin), Some(&fenced), &["--out", &case("b")]);
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("may not be used from this host's address"),
        "{}",
        stderr(&o)
    );
    // 7: not valid yet.
    let later = gatepass_protocol::Timestamp(gatepass_protocol::Timestamp::now().0 + 3_600);
    let (early, _) = d.mint(&["--name", "early", "--not-before", &later.to_string()]);
    let o = redeem_cmd(&d, Some(&d.pin), Some(&early), &["--out", &case("c")]);
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    assert!(stderr(&o).contains("not valid yet"), "{}", stderr(&o));

    // 8: a request the daemon refuses as malformed. The longest host name the command accepts
    // (253 characters) makes a body (name and CSR) over this daemon's 1 KiB redeem limit: 413.
    let (fine, fid) = d.mint(&["--name", "fine"]);
    let long = "h".repeat(253);
    let o = redeem_cmd(
        &d,
        Some(&d.pin),
        Some(&fine),
        &["--out", &case("d"), "--hostname", &long],
    );
    assert_eq!(o.status.code(), Some(8), "{}", stderr(&o));
    assert!(stderr(&o).contains("malformed"), "{}", stderr(&o));
    assert_eq!(d.token_json(&fid)["uses"], 0);

    // 10: after six refusals (the four above, then two unknown tokens: 401, exit 5) this address
    // is refused for a while, whatever the token, until the minute is over.
    let mut codes = Vec::new();
    for i in 0..4 {
        let unknown =
            gatepass_protocol::token::generate(gatepass_protocol::token::TokenKind::Enrollment)
                .unwrap();
        let o = redeem_cmd(
            &d,
            Some(&d.pin),
            Some(unknown.expose()),
            &["--out", &case(&format!("e{i}"))],
        );
        codes.push(o.status.code());
        if o.status.code() == Some(10) {
            assert!(
                stderr(&o).contains("too many failed attempts"),
                "{}",
                stderr(&o)
            );
        }
    }
    // The refusals above counted too (a used-up, fenced or early token, a bad body).
    assert_eq!(codes, [Some(5), Some(5), Some(10), Some(10)], "{codes:?}");
    let o = redeem_cmd(&d, Some(&d.pin), Some(&fine), &["--out", &case("f")]);
    assert_eq!(o.status.code(), Some(10), "{}", stderr(&o));
    assert_eq!(d.token_json(&fid)["uses"], 0);
}
