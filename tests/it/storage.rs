//! The store at rest, through the real binaries: a journal deleted or swapped for an older copy
//! while the daemon is stopped is refused at start with a message naming the file;
//! `--accept-journal-loss` starts anyway and audits it; `gatepassd check` says whether a stopped
//! store is sound; `gatepass backup` of a running daemon restores (`gatepassd restore`) into a
//! data folder whose daemon honours every token the backup holds.

use std::process::Output;

use crate::support::Daemon;

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A daemon with two tokens, one redeemed.
async fn with_a_redemption() -> (Daemon, String) {
    let d = Daemon::start();
    let (single, _) = d.mint(&["--name", "single"]);
    let (pair, _) = d.mint(&["--name", "pair", "--uses", "2"]);
    let r = d.redeem(&single, r#"{"hostname":"web-1"}"#).await;
    assert_eq!(r.status, 201, "{}", r.text());
    (d, pair)
}

#[tokio::test]
async fn a_deleted_journal_is_refused_at_start_and_its_loss_accepted_on_request() {
    let (mut d, _) = with_a_redemption().await;
    // Killed: the redemption lives in the journal only.
    d.kill();
    let journal = d.data_dir().join("gatepass.journal");
    std::fs::remove_file(&journal).unwrap();
    let started = std::time::Instant::now();
    let out = d.gatepassd(&[]);
    assert!(!out.status.success());
    let said = text(&out);
    assert!(
        said.contains("gatepass.journal") && said.contains("missing"),
        "{said}"
    );
    assert!(said.contains("--accept-journal-loss"), "{said}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    // `check` refuses it the same way.
    let out = d.gatepassd(&["check"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("gatepass.journal"));

    d.extra_args = vec!["--accept-journal-loss".into()];
    d.start_again();
    let audit = d.cli_ok(&["audit", "--json"]);
    assert!(audit.contains("journal_loss_accepted"), "{audit}");
    assert!(d.cli_ok(&["audit", "verify"]).starts_with("audit log OK"));
    d.terminate();
    d.extra_args.clear();
    let out = d.gatepassd(&["check"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // What the journal held (the mints too, killed before any checkpoint) is gone; what is
    // left agrees with itself.
    assert!(text(&out).starts_with("ok: "), "{}", text(&out));
}

#[tokio::test]
async fn an_older_copy_of_the_journal_is_refused_at_start() {
    let (mut d, pair) = with_a_redemption().await;
    let journal = d.data_dir().join("gatepass.journal");
    let old = std::fs::read(&journal).unwrap();
    let r = d.redeem(&pair, r#"{"hostname":"web-2"}"#).await;
    assert_eq!(r.status, 201);
    d.kill();
    // A restart after a crash redoes the journal and moves it to a new generation.
    d.start_again();
    let hosts: serde_json::Value =
        serde_json::from_str(&d.cli_ok(&["hosts", "list", "--json"])).unwrap();
    assert_eq!(hosts.as_array().unwrap().len(), 2);
    d.kill();
    std::fs::write(&journal, &old).unwrap();
    let out = d.gatepassd(&[]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("older than the database"),
        "{}",
        text(&out)
    );
}

#[tokio::test]
async fn check_passes_a_sound_stopped_store() {
    let (mut d, _) = with_a_redemption().await;
    // A running daemon holds the folder.
    let out = d.gatepassd(&["check"]);
    assert!(!out.status.success());
    assert!(text(&out).contains("in use"), "{}", text(&out));
    d.kill();
    let out = d.gatepassd(&["check"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let said = text(&out);
    assert!(said.starts_with("ok: 2 tokens, 1 hosts"), "{said}");
    // An empty folder holds no store.
    let empty = tempfile::tempdir().unwrap();
    let out = d.gatepassd(&["check", "--data-dir", empty.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("no store"), "{}", text(&out));
}

#[tokio::test]
async fn a_backup_of_a_running_daemon_restores_into_a_working_data_folder() {
    let (d, pair) = with_a_redemption().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("store.backup");
    // A file that cannot be made: refused before the daemon is asked (no backup_taken).
    let nowhere = dir.path().join("no-such-folder/store.backup");
    let out = d.cli(&["backup", nowhere.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("cannot create"), "{}", text(&out));
    assert!(!d.cli_ok(&["audit", "--json"]).contains("backup_taken"));

    let out = d.cli(&["backup", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("2 tokens, 1 hosts"), "{}", text(&out));
    assert!(out.stdout.is_empty(), "the summary goes to stderr");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // Never over an existing file.
    let before = std::fs::read(&file).unwrap();
    let again = d.cli(&["backup", file.to_str().unwrap()]);
    assert!(!again.status.success());
    assert!(text(&again).contains("exists"), "{}", text(&again));
    assert_eq!(std::fs::read(&file).unwrap(), before, "left as it was");
    // `-`: the same store on the standard output (a pipe here).
    let piped = d.cli(&["backup", "-"]);
    assert!(piped.status.success(), "{}", text(&piped));
    assert!(piped.stdout.len() > 4096 && piped.stdout.len() < before.len() * 4);
    assert!(
        piped.stdout.starts_with(&before[..9]),
        "a redb file, as the one written"
    );
    // A change after the backup is not in it.
    let r = d.redeem(&pair, r#"{"hostname":"after-backup"}"#).await;
    assert_eq!(r.status, 201);
    assert!(d.cli_ok(&["audit", "--json"]).contains("backup_taken"));
    // Nothing of it is left in the data folder.
    let left: Vec<_> = std::fs::read_dir(d.data_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("backup"))
        .collect();
    assert!(left.is_empty(), "{left:?}");

    // Restored into a new data folder, with the key and CA copied beside it.
    let mut restored = Daemon::start();
    restored.kill();
    let data = restored.data_dir();
    std::fs::remove_dir_all(&data).unwrap();
    // A file that is not a backup: refused, naming it, and nothing is left behind.
    let junk = dir.path().join("notes.txt");
    std::fs::write(&junk, "not a store").unwrap();
    let out = restored.gatepassd(&["restore", junk.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("notes.txt"), "{}", text(&out));
    assert!(
        !text(&out).contains("restore it from a backup"),
        "{}",
        text(&out)
    );
    assert!(!data.exists(), "a failed restore leaves no folder");

    let out = restored.gatepassd(&["restore", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("2 tokens, 1 hosts"), "{}", text(&out));
    assert!(text(&out).contains("hmac.key"), "the missing key is named");
    // Started without the key, the daemon would make a new one and no token could be
    // redeemed: refused, naming the file.
    let out = restored.gatepassd(&[]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("hmac.key") && text(&out).contains("is missing"),
        "{}",
        text(&out)
    );
    assert!(!data.join("hmac.key").exists(), "no new key was made");
    for f in ["hmac.key", "ca.pem", "ca.key"] {
        std::fs::copy(d.data_dir().join(f), data.join(f)).unwrap();
    }
    // `check` reports a loss, never accepts one.
    let out = restored.gatepassd(&["--accept-journal-loss", "check"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("never accepts"), "{}", text(&out));
    let out = restored.gatepassd(&["check"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // Not twice into the same folder.
    let out = restored.gatepassd(&["restore", file.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(text(&out).contains("already exists"), "{}", text(&out));
    restored.start_again();
    let pair_now = restored.token_json("pair");
    assert_eq!(
        pair_now["uses"], 0,
        "the backup was taken before that redemption"
    );
    let r = restored.redeem(&pair, r#"{"hostname":"restored-1"}"#).await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(restored.token_json("single")["status"], "exhausted");
    assert!(
        restored
            .cli_ok(&["audit", "verify"])
            .starts_with("audit log OK")
    );
}

/// A backup that takes longer than `[limits] request_timeout` (1 s here, with a store of
/// ~20 MB) is still answered whole, and leaves no copy of the store in the data folder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_longer_than_the_request_timeout_completes_and_leaves_no_copy() {
    let d = Daemon::start_with_config("[limits]\nrequest_timeout = \"1s\"\n");
    let labels: std::collections::BTreeMap<String, String> = (0..64)
        .map(|i| (format!("k{i:02}"), "\u{3042}".repeat(250)))
        .collect();
    let client = d.client();
    let mut set = tokio::task::JoinSet::new();
    for w in 0..4u32 {
        let (client, labels) = (client.clone(), labels.clone());
        set.spawn(async move {
            for i in (w..400).step_by(4) {
                let req = gatepass_protocol::CreateTokenRequest {
                    name: format!("t{i}"),
                    description: None,
                    group: None,
                    labels: labels.clone(),
                    owner: None,
                    max_uses: None,
                    ttl: None,
                    expires_at: None,
                    no_expiry: true,
                    allowed_cidrs: Vec::new(),
                    not_before: None,
                    tenant: None,
                };
                client.create_token(&req).await.unwrap();
            }
        });
    }
    while let Some(r) = set.join_next().await {
        r.unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("store.backup");
    let started = std::time::Instant::now();
    let out = d.cli(&["backup", file.to_str().unwrap()]);
    let took = started.elapsed();
    eprintln!("backup took {took:?}");
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("400 tokens"), "{}", text(&out));
    assert!(
        took > std::time::Duration::from_secs(1),
        "the backup took {took:?}: too quick to outlast the timeout this test is about"
    );
    let left: Vec<_> = std::fs::read_dir(d.data_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".backup-"))
        .collect();
    assert!(left.is_empty(), "left in the data folder: {left:?}");
}
