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
