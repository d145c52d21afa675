//! The whole life of a token through the real CLI and real HTTPS redemptions.

use gatepass_protocol::binary;

use crate::support::{Daemon, assert_error};

#[tokio::test]
async fn token_lifecycle_through_cli_and_https() {
    let d = Daemon::start();

    // create: the token alone on stdout, the rest on stderr.
    let out = d.cli(&[
        "tokens",
        "create",
        "--name",
        "web-1",
        "--ttl",
        "1h",
        "--group",
        "web",
        "--label",
        "plan=gold",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let secret = stdout.trim_end().to_owned();
    assert_eq!(
        stdout,
        format!("{secret}\n"),
        "stdout must hold the token alone"
    );
    assert!(gatepass_protocol::token::parse(&secret).is_ok());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("gatepass redeem --server https://127.0.0.1:"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&d.pin),
        "join command carries the pin: {stderr}"
    );
    assert!(
        !stderr.contains(&secret),
        "the join command never carries the token"
    );

    // list: a table with the token, never its secret.
    let list = d.cli_ok(&["tokens", "list"]);
    assert!(list.starts_with("NAME"), "{list}");
    assert!(
        list.contains("web-1") && list.contains("active") && list.contains("0/1"),
        "{list}"
    );
    assert!(!list.contains(&secret[16..]), "lists never show the secret");
    let json: serde_json::Value =
        serde_json::from_str(&d.cli_ok(&["tokens", "list", "--json"])).unwrap();
    assert_eq!(json[0]["name"], "web-1");
    assert_eq!(json[0]["labels"]["plan"], "gold");

    // redeem: 201 with the host's identity.
    let r = d.redeem(&secret, r#"{"hostname":"web-01"}"#).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["hostname"], "web-01");
    assert_eq!(body["group"], "web");
    assert_eq!(body["labels"]["plan"], "gold");
    assert!(
        body["ca_pem"]
            .as_str()
            .unwrap()
            .contains("BEGIN CERTIFICATE")
    );
    let host_id = body["host_id"].as_str().unwrap().to_owned();

    // a single-use token is now used up.
    assert_error(
        &d.redeem(&secret, r#"{"hostname":"web-02"}"#).await,
        410,
        "token_exhausted",
    );
    let t = d.token_json("web-1");
    assert_eq!(
        (t["uses"].as_u64(), t["status"].as_str()),
        (Some(1), Some("exhausted"))
    );
    assert_eq!(t["last_used_by"], "web-01 (127.0.0.1)");
    let hosts = d.cli_ok(&["hosts", "list", "--token", "web-1"]);
    assert!(
        hosts.contains(&host_id) && hosts.contains("web-01"),
        "{hosts}"
    );

    // revoked → 410 token_revoked.
    let (s2, _) = d.mint(&["--name", "web-2", "--uses", "unlimited"]);
    assert_eq!(d.redeem(&s2, r#"{"hostname":"a"}"#).await.status, 201);
    d.cli_ok(&["tokens", "revoke", "web-2"]);
    assert_error(
        &d.redeem(&s2, r#"{"hostname":"b"}"#).await,
        410,
        "token_revoked",
    );
    // Revocation is final.
    let out = d.cli(&["tokens", "enable", "web-2"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("revocation is final"));

    // disabled → 403, and enabled again → 201.
    let (s3, _) = d.mint(&["--name", "web-3", "--uses", "3"]);
    d.cli_ok(&["tokens", "disable", "web-3"]);
    assert_error(
        &d.redeem(&s3, r#"{"hostname":"c"}"#).await,
        403,
        "token_disabled",
    );
    d.cli_ok(&["tokens", "enable", "web-3"]);
    assert_eq!(d.redeem(&s3, r#"{"hostname":"c"}"#).await.status, 201);
    // The form lists show a token in (`gpt_<id>…`, with three dots or none) names it too.
    let shown = d.token_json("web-3")["prefix"].as_str().unwrap().to_owned();
    assert!(shown.starts_with("gpt_") && shown.ends_with('…'), "{shown}");
    let id3 = shown
        .trim_start_matches("gpt_")
        .trim_end_matches('…')
        .to_owned();
    let dots = format!("gpt_{id3}...");
    for form in [shown.as_str(), shown.trim_end_matches('…'), dots.as_str()] {
        assert!(
            d.cli_ok(&["tokens", "show", form]).contains("web-3"),
            "{form}"
        );
    }
    // Nor may a name be another token's id (ids are looked up first).
    let out = d.cli(&["tokens", "create", "--name", &id3]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(err.contains("another token's id"), "{err}");
    // No name may take that form, so none can stand in for another token (a rule the CLI
    // checks itself: a usage error).
    let out = d.cli(&["tokens", "create", "--name", &shown]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(err.contains("the form tokens are shown in"), "{err}");
    // A whole token pasted in finds its token by id, and is never echoed back.
    let out = d.cli(&["tokens", "show", &s3]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("web-3"));
    let (gone, _) = d.mint(&["--name", "gone"]);
    d.cli_ok(&["tokens", "delete", "gone", "--yes"]);
    let out = d.cli(&["tokens", "show", &gone]);
    assert_eq!(out.status.code(), Some(1));
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(stderr.contains("no token with id"), "{stderr}");
    assert!(
        !stderr.contains(&gone) && !stdout.contains(&gone),
        "{stderr}"
    );

    // expired → 410, with the daemon's clock moved forward (to the second).
    let (s4, _) = d.mint(&["--name", "web-4", "--ttl", "1h", "--uses", "unlimited"]);
    d.set_clock_offset(3_600 - 5);
    assert_eq!(d.redeem(&s4, r#"{"hostname":"d"}"#).await.status, 201);
    d.set_clock_offset(3_601);
    assert_error(
        &d.redeem(&s4, r#"{"hostname":"d"}"#).await,
        410,
        "token_expired",
    );
    let expired = d.cli_ok(&["tokens", "list", "--status", "expired"]);
    assert!(expired.contains("web-4"), "{expired}");
    d.set_clock_offset(0);

    // delete: gone from lists and look-ups, still in the audit log.
    let id1 = d.token_json("web-1")["id"].as_str().unwrap().to_owned();
    d.cli_ok(&["tokens", "delete", "web-1", "--yes"]);
    assert!(!d.cli_ok(&["tokens", "list"]).contains("web-1"));
    let out = d.cli(&["tokens", "show", "web-1"]);
    assert_eq!(out.status.code(), Some(1));
    let audit: serde_json::Value =
        serde_json::from_str(&d.cli_ok(&["audit", "--token", &id1, "--json"])).unwrap();
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["created", "redeemed", "redeem_failed", "deleted"]);
    // The deleted token's hosts stay on record.
    assert!(d.cli_ok(&["hosts", "list"]).contains(&host_id));
    // The name is free again.
    d.mint(&["--name", "web-1"]);

    // The chain is intact after all of it.
    assert!(d.cli_ok(&["audit", "verify"]).starts_with("audit log OK"));
}

/// Purge deletes the three finished kinds — used up, revoked, expired — and nothing else: an
/// active token, a disabled one, and one whose expiry is still ahead stay.
#[tokio::test]
async fn purge_deletes_only_finished_tokens() {
    let d = Daemon::start();
    let (s, _) = d.mint(&["--name", "used"]);
    assert_eq!(d.redeem(&s, r#"{"hostname":"h"}"#).await.status, 201);
    d.mint(&["--name", "live", "--ttl", "3d"]);
    d.mint(&["--name", "paused", "--ttl", "3d"]);
    d.cli_ok(&["tokens", "disable", "paused"]);
    d.mint(&["--name", "gone", "--ttl", "3d"]);
    d.cli_ok(&["tokens", "revoke", "gone"]);
    d.mint(&["--name", "stale", "--ttl", "1h"]);
    // Two hours on: "stale" has expired, the others have days left.
    d.set_clock_offset(2 * 3_600);
    assert_eq!(d.token_json("stale")["status"], "expired");
    assert_eq!(d.token_json("live")["status"], "active");
    let dry = d.cli_ok(&["tokens", "purge", "--dry-run"]);
    let mut listed: Vec<&str> = dry
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    listed.sort();
    assert_eq!(listed, ["gone", "stale", "used"], "{dry}");
    assert_eq!(listed_names(&d, &[]).len(), 5, "a dry run deletes nothing");
    // Without --yes and without a terminal, nothing happens.
    let out = d.cli(&["tokens", "purge"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(listed_names(&d, &[]).len(), 5);
    d.cli_ok(&["tokens", "purge", "--yes"]);
    assert_eq!(listed_names(&d, &["--sort", "name"]), ["live", "paused"]);
    // Each deletion is audited.
    let audit: serde_json::Value = serde_json::from_str(&d.cli_ok(&["audit", "--json"])).unwrap();
    let mut deleted: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "deleted")
        .map(|e| e["target_name"].as_str().unwrap())
        .collect();
    deleted.sort();
    assert_eq!(deleted, ["gone", "stale", "used"]);
}

#[tokio::test]
async fn list_sorts_filters_and_exports_csv() {
    let d = Daemon::start();
    d.mint(&["--name", "b-token", "--group", "db", "--uses", "5"]);
    d.mint(&[
        "--name",
        "a-token",
        "--group",
        "web",
        "--description",
        "has, a comma",
    ]);
    d.mint(&["--name", "c-token", "--group", "web", "--no-expiry"]);
    let names = |args: &[&str]| listed_names(&d, args);
    assert_eq!(
        names(&["--sort", "name"]),
        ["a-token", "b-token", "c-token"]
    );
    assert_eq!(
        names(&["--sort", "name", "--desc"]),
        ["c-token", "b-token", "a-token"]
    );
    assert_eq!(
        names(&["--group", "web", "--sort", "name"]),
        ["a-token", "c-token"]
    );
    // No expiry sorts after every date.
    assert_eq!(names(&["--sort", "expires"]).last().unwrap(), "c-token");
    let csv = d.cli_ok(&["tokens", "list", "--csv", "--sort", "name"]);
    let mut lines = csv.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("id,name,status,uses,max_uses")
    );
    assert!(
        lines.next().unwrap().ends_with(",\"has, a comma\""),
        "{csv}"
    );
    let out = d.cli(&["tokens", "list", "--json", "--csv"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "--json and --csv exclude each other"
    );
    // A filter that matches nothing says so (tokens exist).
    let out = d.cli(&["tokens", "list", "--group", "nosuch"]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "No tokens match these filters."
    );
    // Usage errors are one line on stderr, as scripts expect (not clap's paragraph).
    for args in [
        &["tokens", "list", "--json", "--csv"][..],
        &["tokens", "create", "--bogus"],
        &["tokens", "show"],
        &["tokens", "create", "--name", "x", "--uses", "many"],
    ] {
        let out = d.cli(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("gatepass: "), "{err}");
    }
    let out = d.cli(&["tokens", "create", "--bogus"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("'--bogus'") && err.contains("(usage: gatepass tokens create "),
        "{err}"
    );
}

#[tokio::test]
async fn the_binary_token_list_says_what_the_json_one_says() {
    let d = Daemon::start();
    d.mint(&["--name", "plain"]);
    d.mint(&[
        "--name",
        "rich é",
        "--group",
        "web",
        "--label",
        "plan=gold",
        "--label",
        "tier=1",
        "--description",
        "quotes \" and \\ backslashes",
        "--uses",
        "unlimited",
        "--no-expiry",
    ]);
    d.mint(&["--name", "gone", "--uses", "3"]);
    d.cli_ok(&["tokens", "revoke", "gone"]);
    let c = d.client();

    let json = c.raw("GET", "/v1/tokens?sort=name", None).await.unwrap();
    assert_eq!(json.status, 200);
    assert_eq!(json.header("content-type"), Some("application/json"));
    let from_json: Vec<gatepass_protocol::Token> = gatepass_protocol::client::decode(json).unwrap();
    assert_eq!(from_json.len(), 3);

    let bin = c
        .raw_accepting(
            "GET",
            "/v1/tokens?sort=name",
            None,
            Some("text/html, application/vnd.gatepass.token-list;q=0.9"),
        )
        .await
        .unwrap();
    assert_eq!(bin.header("content-type"), Some(binary::TOKEN_LIST));
    assert_eq!(binary::decode_tokens(&bin.body).unwrap(), from_json);
    // The typed client asks for the binary form and gets the same list.
    let q = gatepass_protocol::TokenQuery {
        sort: Some(gatepass_protocol::SortColumn::Name),
        ..Default::default()
    };
    assert_eq!(c.list_tokens(&q).await.unwrap(), from_json);

    // Every sort, direction and filter gives the same list both ways (the binary one is built
    // straight from the stored records, the JSON one from decoded ones).
    let mut sizes = Vec::new();
    for query in [
        "sort=uses&desc=true",
        "sort=created",
        "sort=expires",
        "sort=status&desc=true",
        "sort=group&desc=true&q=e",
        "sort=description",
        "status=revoked",
        "group=web",
        "q=RICH",
        "q=%C3%A9",
        "owner=nobody",
    ] {
        let path = format!("/v1/tokens?{query}");
        let json = c.raw("GET", &path, None).await.unwrap();
        assert_eq!(json.status, 200, "{query}");
        let from_json: Vec<gatepass_protocol::Token> =
            gatepass_protocol::client::decode(json).unwrap();
        let bin = c
            .raw_accepting("GET", &path, None, Some(binary::TOKEN_LIST))
            .await
            .unwrap();
        assert_eq!(bin.status, 200, "{query}");
        let from_bin = binary::decode_tokens(&bin.body).unwrap();
        assert_eq!(from_bin, from_json, "{query}");
        sizes.push(from_bin.len());
    }
    // The filters did filter: revoked, web, "rich", "é", nobody's.
    assert_eq!(sizes[6..], [1, 1, 1, 1, 0]);

    // Any other Accept gets JSON.
    for accept in [
        "application/json",
        "*/*",
        "application/vnd.gatepass.token-list2",
        "text/é",
    ] {
        let r = c
            .raw_accepting("GET", "/v1/tokens", None, Some(accept))
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{accept}");
        assert_eq!(
            r.header("content-type"),
            Some("application/json"),
            "{accept}"
        );
    }
}

#[tokio::test]
async fn a_reader_that_stops_early_is_not_an_error() {
    use std::io::Read;
    let d = Daemon::start();
    let c = d.client();
    // Enough tokens that the JSON list (~100 KiB) overflows the pipe's buffer.
    for i in 0..120 {
        let req = gatepass_protocol::CreateTokenRequest {
            name: format!("pipe-{i}"),
            description: Some("x".repeat(400)),
            ..Default::default()
        };
        c.create_token(&req).await.unwrap();
    }
    let mut child = std::process::Command::new(crate::support::gatepass_bin())
        .args(["tokens", "list", "--json"])
        .env("GATEPASS_SOCKET", &d.socket)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // `| head -c 10`: read a little, then close the pipe.
    let mut first = [0u8; 10];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Names sort as people read them: `alpha-lower` before `Zulu-upper` (byte order put every
/// capital first), the same in the table, JSON and the binary list the console reads.
#[tokio::test]
async fn lists_sort_names_without_regard_to_case() {
    // An owner must be a member of the tenant the token is minted in.
    let d = Daemon::start_with_config("[access]\nmembers = [\"Bob\", \"carol\", \"alice\"]\n");
    for (name, owner) in [
        ("Zulu-upper", "Bob"),
        ("alpha-lower", "carol"),
        ("Beta", "alice"),
    ] {
        d.mint(&["--name", name, "--owner", owner]);
    }
    let json = |args: &[&str]| listed_names(&d, args);
    assert_eq!(
        json(&["--sort", "name"]),
        ["alpha-lower", "Beta", "Zulu-upper"]
    );
    assert_eq!(
        json(&["--sort", "name", "--desc"]),
        ["Zulu-upper", "Beta", "alpha-lower"]
    );
    // By owner: alice, Bob, carol.
    assert_eq!(
        json(&["--sort", "owner"]),
        ["Beta", "Zulu-upper", "alpha-lower"]
    );
    // The table (read from the binary list) in the same order.
    let table = d.cli_ok(&["tokens", "list", "--sort", "name"]);
    let rows: Vec<&str> = table
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(rows, ["alpha-lower", "Beta", "Zulu-upper"], "{table}");
}

/// `tokens list` sorts as the console opens, by NAME ascending (it sorted by expiry), and
/// without a terminal (piped, as here) prints every value whole (descriptions were cut at ~40
/// characters).
#[tokio::test]
async fn list_sorts_by_name_by_default_and_prints_whole_values_into_a_pipe() {
    let d = Daemon::start();
    let long = "a description long enough that a terminal table would cut it, kept whole in a pipe";
    d.mint(&["--name", "zz-soon", "--ttl", "1h", "--description", long]);
    d.mint(&["--name", "aa-later", "--ttl", "3d"]);
    assert_eq!(listed_names(&d, &[]), ["aa-later", "zz-soon"]);
    let table = d.cli_ok(&["tokens", "list"]);
    let rows: Vec<&str> = table
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(rows, ["aa-later", "zz-soon"], "{table}");
    assert!(table.contains(long), "{table}");
}

/// The names `tokens list --json ARGS` gives, in its order.
fn listed_names(d: &Daemon, args: &[&str]) -> Vec<String> {
    let mut all = vec!["tokens", "list", "--json"];
    all.extend_from_slice(args);
    let v: serde_json::Value = serde_json::from_str(&d.cli_ok(&all)).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect()
}

/// `--status` takes the console's two other filters too: expiring soon (active, under a day
/// left) and never used.
#[tokio::test]
async fn list_filters_expiring_soon_and_never_used_as_the_console_does() {
    let d = Daemon::start();
    let (soon, _) = d.mint(&["--name", "soon", "--ttl", "1h", "--uses", "5"]);
    d.mint(&["--name", "later", "--ttl", "3d"]);
    d.mint(&["--name", "paused", "--ttl", "1h"]);
    d.cli_ok(&["tokens", "disable", "paused"]);
    let r = d.redeem(&soon, r#"{"hostname":"web-01"}"#).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let mut expiring = listed_names(&d, &["--status", "expiring-soon"]);
    expiring.sort();
    // A disabled token expiring within the hour is not "expiring soon": it is not active.
    assert_eq!(expiring, ["soon"]);
    let mut unused = listed_names(&d, &["--status", "never-used"]);
    unused.sort();
    assert_eq!(unused, ["later", "paused"]);
    let out = d.cli(&[
        "tokens",
        "list",
        "--status",
        "never-used",
        "--group",
        "none",
    ]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("No tokens match these filters."));
}

/// PATCH /v1/tokens/{id}: description, labels and expiry change (`expires_at: null` removes
/// it), each audited as `updated`; a field left out is left alone; `name` is immutable.
#[tokio::test]
async fn a_patch_changes_description_labels_and_expiry() {
    let d = Daemon::start();
    let (secret, id) = d.mint(&[
        "--name",
        "patched",
        "--ttl",
        "1h",
        "--description",
        "before",
        "--label",
        "plan=silver",
        "--uses",
        "5",
    ]);
    let c = d.client();
    let patch = |body: &str| {
        let path = format!("/v1/tokens/{id}");
        let body = body.as_bytes().to_vec();
        let c = c.clone();
        async move { c.raw("PATCH", &path, Some(body)).await.unwrap() }
    };
    let r = patch(r#"{"description":"after","labels":{"plan":"gold","tier":"1"}}"#).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let t = d.token_json(&id);
    assert_eq!(t["description"], "after");
    assert_eq!(
        t["labels"],
        serde_json::json!({"plan": "gold", "tier": "1"})
    );
    assert!(t["expires_at"].is_string(), "untouched: {t}");

    // The labels go to the next host that redeems.
    let r = d.redeem(&secret, r#"{"hostname":"h1"}"#).await;
    let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["labels"]["plan"], "gold", "{body}");

    // null removes the expiry: two hours on, the token still works.
    let r = patch(r#"{"expires_at":null}"#).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let t = d.token_json(&id);
    assert!(t["expires_at"].is_null(), "{t}");
    assert_eq!(t["description"], "after", "left alone");
    d.set_clock_offset(2 * 3_600);
    assert_eq!(d.redeem(&secret, r#"{"hostname":"h2"}"#).await.status, 201);
    // ... and a date sets one again: past it, the token has expired.
    let at = gatepass_protocol::Timestamp(gatepass_protocol::Timestamp::now().0 + 3 * 3_600);
    let r = patch(&format!(r#"{{"expires_at":"{at}"}}"#)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(d.token_json(&id)["expires_at"], at.to_string());
    d.set_clock_offset(4 * 3_600);
    assert_error(
        &d.redeem(&secret, r#"{"hostname":"h3"}"#).await,
        410,
        "token_expired",
    );
    d.set_clock_offset(0);

    // The name is immutable; unknown fields are refused; nothing changed.
    for body in [r#"{"name":"renamed"}"#, r#"{"colour":"red"}"#] {
        let r = patch(body).await;
        assert_eq!(r.status, 400, "{body}: {}", r.text());
    }
    assert_eq!(d.token_json(&id)["name"], "patched");

    let audit: serde_json::Value =
        serde_json::from_str(&d.cli_ok(&["audit", "--token", &id, "--json"])).unwrap();
    let updated = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "updated")
        .count();
    assert_eq!(updated, 3, "{audit}");
}

/// Several tokens at once: by name (`tokens revoke a b c`) and by selector (--status,
/// --group), with --dry-run listing what would change and changing nothing; each result is
/// said, and a failure makes the exit code non-zero.
#[tokio::test]
async fn several_tokens_by_name_or_selector_with_a_dry_run() {
    let d = Daemon::start();
    for (name, group) in [("b-1", "web"), ("b-2", "web"), ("b-3", "db"), ("b-4", "db")] {
        d.mint(&["--name", name, "--group", group]);
    }
    // A dry run by group: listed, nothing changed.
    let out = d.cli(&["tokens", "disable", "--group", "web", "--dry-run"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(
        text.contains("b-1") && text.contains("b-2") && !text.contains("b-3"),
        "{text}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("2 token(s) would be disabled"));
    assert_eq!(d.token_json("b-1")["status"], "active");
    // By group, for real.
    let out = d.cli(&["tokens", "disable", "--group", "web"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(d.token_json("b-2")["status"], "disabled");
    // By status and group together: only the disabled web tokens.
    d.cli_ok(&["tokens", "enable", "--status", "disabled", "--group", "web"]);
    assert_eq!(d.token_json("b-1")["status"], "active");
    // Several names: every one revoked, each said.
    let out = d.cli(&["tokens", "revoke", "b-1", "b-3", "b-4"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("Revoked 3 of 3"), "{err}");
    // No confirmation, so no table of the selection: each token's line says what was done.
    assert_eq!(String::from_utf8_lossy(&out.stdout), "", "{err}");
    for n in ["b-1", "b-3", "b-4"] {
        assert_eq!(d.token_json(n)["status"], "revoked", "{n}");
    }
    // A revoked token among them is skipped, and said to be.
    let out = d.cli(&["tokens", "disable", "b-1", "b-2"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("skipped") && err.contains("\"b-1\""), "{err}");
    assert!(err.contains("Disabled 1 of 1"), "{err}");
    d.cli_ok(&["tokens", "enable", "b-2"]);
    // A dry run reports every token named, the one it would skip too (it listed only b-2).
    let out = d.cli(&["tokens", "revoke", "b-1", "b-2", "--dry-run"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(text.contains("b-1") && text.contains("b-2"), "{text}");
    assert!(
        err.contains("1 token(s) would be revoked, 1 skipped"),
        "{err}"
    );
    let out = d.cli(&["tokens", "revoke", "b-1", "b-2", "--dry-run", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let would: Vec<(&str, &str)> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["name"].as_str().unwrap(), r["would"].as_str().unwrap()))
        .collect();
    assert_eq!(would, [("b-1", "skip"), ("b-2", "revoke")], "{v}");
    assert_eq!(d.token_json("b-2")["status"], "active");
    // A name that does not exist: nothing is changed, and the exit code says so.
    let out = d.cli(&["tokens", "disable", "b-2", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(d.token_json("b-2")["status"], "active");
    // Delete several with --yes, --json results.
    let out = d.cli(&["tokens", "delete", "--status", "revoked", "--yes", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 3, "{v}");
    assert!(
        v.as_array().unwrap().iter().all(|r| r["done"] == "deleted"),
        "{v}"
    );
}

/// `tokens extend` gives a new expiry (audited as updated); `tokens clone` mints a token with
/// another's settings and a new secret, flags changing one.
#[tokio::test]
async fn extend_and_clone_from_the_command_line() {
    let d = Daemon::start();
    let (_, _) = d.mint(&[
        "--name",
        "src",
        "--ttl",
        "1h",
        "--uses",
        "7",
        "--group",
        "web",
        "--label",
        "plan=gold",
        "--description",
        "the source",
    ]);
    let before = d.token_json("src")["expires_at"]
        .as_str()
        .unwrap()
        .to_owned();
    d.cli_ok(&["tokens", "extend", "src", "--ttl", "7d"]);
    let after = d.token_json("src")["expires_at"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(after > before, "{before} → {after}");
    let audit = d.cli_ok(&["audit", "--token", "src"]);
    assert!(
        audit.contains("updated") && audit.contains("expires_at="),
        "{audit}"
    );
    // A time in the past is a usage error; nothing is sent.
    let out = d.cli(&[
        "tokens",
        "extend",
        "src",
        "--expires",
        "2001-01-01T00:00:00Z",
    ]);
    assert_eq!(out.status.code(), Some(2));
    // A shorter lifetime is refused unless asked for with --shorten (it was cut silently).
    let out = d.cli(&["tokens", "extend", "src", "--ttl", "1h"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("earlier") && err.contains("--shorten"),
        "{err}"
    );
    assert_eq!(d.token_json("src")["expires_at"], after.as_str());
    d.cli_ok(&["tokens", "extend", "src", "--ttl", "1h", "--shorten"]);
    let shorter = d.token_json("src")["expires_at"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(shorter < after, "{after} → {shorter}");
    d.cli_ok(&["tokens", "extend", "src", "--ttl", "7d"]);

    let out = d.cli(&[
        "tokens", "clone", "src", "--name", "copy", "--label", "tier=2",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let secret = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(secret.starts_with("gpt_"), "{secret}");
    let c = d.token_json("copy");
    assert_eq!(c["group"], "web");
    assert_eq!(c["max_uses"], 7);
    assert_eq!(c["description"], "the source");
    assert_eq!(c["labels"]["plan"], "gold");
    assert_eq!(c["labels"]["tier"], "2");
    assert_ne!(c["id"], d.token_json("src")["id"]);
}
