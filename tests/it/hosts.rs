//! Removing hosts, the uses-versus-hosts flag, and `gatepass doctor`.

use crate::support::Daemon;

#[tokio::test]
async fn removing_a_host_is_audited_and_flags_the_token() {
    let d = Daemon::start();
    let (secret, id) = d.mint(&["--name", "fleet", "--uses", "3"]);
    let mut hosts = Vec::new();
    for h in ["h1", "h2"] {
        let r = d.redeem(&secret, &format!(r#"{{"hostname":"{h}"}}"#)).await;
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        hosts.push(v["host_id"].as_str().unwrap().to_owned());
    }
    // Counts agree: no flag.
    let out = d.cli(&["tokens", "list"]);
    assert!(String::from_utf8_lossy(&out.stderr).is_empty());
    d.cli_ok(&["hosts", "remove", &hosts[0]]);
    let t = d.token_json(&id);
    assert_eq!(
        (t["uses"].as_u64(), t["hosts"].as_u64()),
        (Some(2), Some(1))
    );
    let out = d.cli(&["tokens", "list"]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("HOSTS") && table.contains("2/3   1 !"),
        "{table}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("fewer enrolled hosts"));
    let listed = d.cli_ok(&["hosts", "list", "--json"]);
    assert!(!listed.contains(&hosts[0]) && listed.contains(&hosts[1]));
    let audit = d.cli_ok(&["audit", "--json", "--token", &id]);
    assert!(audit.contains("host_removed") && audit.contains(&hosts[0]));
    // Removing it again: not found.
    let out = d.cli(&["hosts", "remove", &hosts[0]]);
    assert_eq!(out.status.code(), Some(1));
}

#[tokio::test]
async fn doctor_reports_daemon_identity_pin_and_clipboard() {
    let d = Daemon::start();
    let out = d.cli_ok(&["doctor"]);
    assert!(out.contains("reachable"), "{out}");
    // The daemon's own user is an admin.
    let me = format!("{} (admin)", crate::support::current_user());
    assert!(out.contains(&me), "{out}");
    assert!(out.contains(&d.pin), "{out}");
    assert!(out.contains("clipboard"), "{out}");
    let out = std::process::Command::new(crate::support::gatepass_bin())
        .args(["--socket", "/nonexistent/gatepass.sock", "doctor"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stdout).contains("FAIL daemon"));
}

/// After its daemon check failed, doctor says nothing is "ok" that depends on the daemon: the
/// config line is skipped, saying why (it read "ok config not known from here").
#[test]
fn doctor_skips_the_config_when_the_daemon_is_unreachable() {
    let out = std::process::Command::new(crate::support::gatepass_bin())
        .args(["--socket", "/nonexistent/gatepass.sock", "doctor"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("FAIL daemon"), "{text}");
    let config = text.lines().find(|l| l.contains("config")).unwrap_or("");
    assert!(!config.starts_with("ok"), "{text}");
    assert!(config.contains("daemon is not reachable"), "{text}");
}

/// `hosts list --csv` (a header, one row per host, the same ids as JSON) and `audit --actor`
/// (only that actor's events: the operator's, or one host's redemption).
#[tokio::test]
async fn hosts_list_as_csv_and_the_audit_by_actor() {
    let d = Daemon::start();
    let (secret, id) = d.mint(&["--name", "fleet", "--uses", "3", "--group", "web"]);
    for h in ["web-01", "web-02"] {
        let r = d.redeem(&secret, &format!(r#"{{"hostname":"{h}"}}"#)).await;
        assert_eq!(r.status, 201, "{}", r.text());
    }
    let csv = d.cli_ok(&["hosts", "list", "--csv"]);
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "id,hostname,token_id,token_name,group,owner,source_addr,enrolled_at,key_fingerprint"
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 2, "{csv}");
    let json: serde_json::Value =
        serde_json::from_str(&d.cli_ok(&["hosts", "list", "--json"])).unwrap();
    let me = crate::support::current_user();
    for row in &rows {
        assert_eq!(row.len(), 9, "{row:?}");
        assert_eq!(&row[2..7], [id.as_str(), "fleet", "web", &me, "127.0.0.1"]);
        assert!(
            gatepass_protocol::Timestamp::parse(row[7]).is_ok(),
            "{row:?}"
        );
        assert!(
            json.as_array()
                .unwrap()
                .iter()
                .any(|h| h["id"] == row[0] && h["hostname"] == row[1]),
            "{row:?} not in {json}"
        );
    }
    let mut names: Vec<&str> = rows.iter().map(|r| r[1]).collect();
    names.sort();
    assert_eq!(names, ["web-01", "web-02"]);

    d.cli_ok(&["tokens", "disable", "fleet"]);
    let by = |actor: &str| -> Vec<(String, String)> {
        let v: serde_json::Value =
            serde_json::from_str(&d.cli_ok(&["audit", "--actor", actor, "--json"])).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["actor"].as_str().unwrap().to_owned(),
                    e["action"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let mine = by(&me);
    assert_eq!(
        mine.iter().map(|(_, a)| a.as_str()).collect::<Vec<_>>(),
        ["created", "disabled"],
        "{mine:?}"
    );
    let host = by("host:web-02@127.0.0.1");
    assert_eq!(
        host,
        [("host:web-02@127.0.0.1".to_owned(), "redeemed".to_owned())]
    );
    assert!(by("nobody").is_empty());
    // The table form filters the same way.
    let table = d.cli_ok(&["audit", "--actor", "host:web-01@127.0.0.1"]);
    assert!(
        table.contains("redeemed") && !table.contains("created") && !table.contains("web-02"),
        "{table}"
    );
}
