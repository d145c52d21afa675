//! Roles over the Unix socket, with real Unix users, created with `useradd`. That needs root:
//! run as root (as CI is), a failure to create the users fails the test; built by another user,
//! the test is marked ignored with that reason (`tests/build.rs`), never passed unseen.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output};
use std::sync::OnceLock;

use crate::support::{Daemon, gatepass_bin};

const GROUP: &str = "gptest";
const USERS: [&str; 5] = ["gpt-alice", "gpt-bob", "gpt-carol", "gpt-dave", "gpt-erin"];

/// The reason the tests that create users are ignored when not built by root.
const NEEDS_ROOT: &str = "needs root: creates Unix users with useradd (run as root, as CI does)";

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Creates the group and users once per run (idempotent: existing ones are kept). Panics, with
/// what `useradd` said, when they cannot all be created: a test that needs them must fail then.
pub fn ensure_users() {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    let result = DONE.get_or_init(|| {
        if !is_root() {
            return Err(format!("not running as root ({NEEDS_ROOT})"));
        }
        let exists = |db: &str, name: &str| {
            Command::new("getent")
                .args([db, name])
                .output()
                .is_ok_and(|o| o.status.success())
        };
        // Another process (a second checkout's tests) may hold the lock on /etc/passwd for a
        // moment: try a few times before calling it a failure.
        let mut last = String::new();
        for _ in 0..10 {
            if !exists("group", GROUP) {
                last = run_tool("groupadd", &[GROUP]);
            }
            for u in USERS {
                if !exists("passwd", u) {
                    last = run_tool(
                        "useradd",
                        &["-M", "-N", "-g", GROUP, "-s", "/usr/sbin/nologin", u],
                    );
                }
            }
            if exists("group", GROUP) && USERS.iter().all(|u| exists("passwd", u)) {
                return Ok(());
            }
            std::thread::sleep(std::time::Duration::from_millis(300));
        }
        Err(format!(
            "cannot create the test users {USERS:?} in group {GROUP}: {last}"
        ))
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// Runs a user-management tool; returns what went wrong, or an empty string.
fn run_tool(tool: &str, args: &[&str]) -> String {
    match Command::new(tool).args(args).output() {
        Ok(o) if o.status.success() => String::new(),
        Ok(o) => format!(
            "{tool} {args:?}: {} {}",
            o.status,
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Err(e) => format!("{tool}: {e}"),
    }
}

/// A copy of the CLI that other users can run: the build folder may sit under a private
/// (0700) folder, as in a fresh CI clone.
pub fn shared_bin(d: &Daemon) -> std::path::PathBuf {
    let p = d.dir.path().join("gatepass");
    if !p.exists() {
        std::fs::copy(gatepass_bin(), &p).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    p
}

fn as_user(d: &Daemon, user: &str, args: &[&str]) -> Output {
    let socket = d.socket.to_str().unwrap();
    Command::new("runuser")
        .args(["-u", user, "--"])
        .arg(shared_bin(d))
        .args(["--socket", socket])
        .args(args)
        .env_remove("GATEPASS_SOCKET")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn refused(out: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "expected a refusal: {err}");
    assert!(err.contains(needle), "{needle:?} not in: {err}");
}

#[tokio::test]
#[cfg_attr(
    gatepass_tests_not_root,
    ignore = "needs root: creates Unix users with useradd (run as root, as CI does)"
)]
async fn roles_decide_what_each_user_sees_and_may_change() {
    ensure_users();
    let d = Daemon::start_with_config(&format!(
        "[access]\nadmins = [\"gpt-erin\"]\noperators = [\"gpt-alice\", \"gpt-bob\"]\nauditors = [\"gpt-carol\"]\nsocket_group = \"{GROUP}\"\n\n[limits]\nredeem_failures_per_minute = 100000\n"
    ));
    // Other users must be able to reach the socket folder: the temp folder itself is 0700.
    std::fs::set_permissions(d.dir.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
    let run = d.socket.parent().unwrap();
    assert_eq!(
        std::fs::metadata(run).unwrap().permissions().mode() & 0o7777,
        0o2750
    );
    assert_eq!(
        std::fs::metadata(&d.socket).unwrap().permissions().mode() & 0o777,
        0o770
    );

    // Operators mint and see their own tokens only.
    ok(as_user(
        &d,
        "gpt-alice",
        &["tokens", "create", "--name", "alice-1"],
    ));
    ok(as_user(
        &d,
        "gpt-bob",
        &["tokens", "create", "--name", "bob-1"],
    ));
    let alice_list = ok(as_user(&d, "gpt-alice", &["tokens", "list", "--json"]));
    assert!(
        alice_list.contains("alice-1") && !alice_list.contains("bob-1"),
        "{alice_list}"
    );
    let who = ok(as_user(&d, "gpt-alice", &["doctor"]));
    assert!(who.contains("gpt-alice (operator)"), "{who}");
    // An operator cannot see, revoke or delete another's token: it does not exist for them.
    refused(
        &as_user(&d, "gpt-bob", &["tokens", "show", "alice-1"]),
        "no token named",
    );
    refused(
        &as_user(&d, "gpt-bob", &["tokens", "revoke", "alice-1"]),
        "no token named",
    );
    refused(
        &as_user(&d, "gpt-bob", &["tokens", "delete", "alice-1", "--yes"]),
        "no token named",
    );
    assert_eq!(d.token_json("alice-1")["status"], "active");
    // ... nor mint for someone else.
    refused(
        &as_user(
            &d,
            "gpt-alice",
            &["tokens", "create", "--name", "x", "--owner", "gpt-bob"],
        ),
        "only admins",
    );

    // The auditor reads everything and changes nothing.
    let all = ok(as_user(&d, "gpt-carol", &["tokens", "list", "--json"]));
    assert!(all.contains("alice-1") && all.contains("bob-1"));
    refused(
        &as_user(&d, "gpt-carol", &["tokens", "create", "--name", "c-1"]),
        "read-only",
    );
    refused(
        &as_user(&d, "gpt-carol", &["tokens", "revoke", "alice-1"]),
        "read-only",
    );
    assert!(ok(as_user(&d, "gpt-carol", &["audit", "verify"])).contains("OK"));

    // No role, no access.
    refused(&as_user(&d, "gpt-dave", &["tokens", "list"]), "no role");

    // An admin from the config mints for another owner, who then sees it.
    ok(as_user(
        &d,
        "gpt-erin",
        &[
            "tokens",
            "create",
            "--name",
            "for-alice",
            "--owner",
            "gpt-alice",
        ],
    ));
    assert!(ok(as_user(&d, "gpt-alice", &["tokens", "list"])).contains("for-alice"));
    assert!(!ok(as_user(&d, "gpt-bob", &["tokens", "list"])).contains("for-alice"));

    // Every denial is in the audit log, with who and why.
    let audit: serde_json::Value = serde_json::from_str(&d.cli_ok(&["audit", "--json"])).unwrap();
    let denied: Vec<String> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "denied")
        .map(|e| {
            format!(
                "{} {}",
                e["actor"].as_str().unwrap(),
                e["details"]["reason"].as_str().unwrap()
            )
        })
        .collect();
    for expected in [
        "gpt-dave no role",
        "gpt-carol auditors have read-only access",
        "gpt-alice only admins may mint tokens for another owner",
    ] {
        assert!(
            denied.iter().any(|d| d == expected),
            "{expected:?} not in {denied:?}"
        );
    }
}

/// Issue 18, point 8: names are unique among live tokens daemon-wide (PRODUCT.md; `tokens show
/// NAME` must name one token for admins and auditors). So an operator asking for a name
/// another holds learns that the name is in use — the one fact a shared namespace must tell —
/// and nothing else: the refusal is the same as for a name they hold themselves, and every
/// look-up of the other's token, by name or by id, is answered as for a token that does not
/// exist; lists and the audit log show none of it.
#[tokio::test]
#[cfg_attr(
    gatepass_tests_not_root,
    ignore = "needs root: creates Unix users with useradd (run as root, as CI does)"
)]
async fn an_operator_learns_nothing_of_another_operators_tokens_but_that_a_name_is_taken() {
    ensure_users();
    let d = Daemon::start_with_config(&format!(
        "[access]\noperators = [\"gpt-alice\", \"gpt-bob\"]\nsocket_group = \"{GROUP}\"\n"
    ));
    std::fs::set_permissions(d.dir.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
    let alice: serde_json::Value = serde_json::from_str(&ok(as_user(
        &d,
        "gpt-alice",
        &["tokens", "create", "--name", "alice-tok", "--json"],
    )))
    .unwrap();
    let alice_id = alice["token"]["id"].as_str().unwrap().to_owned();
    ok(as_user(
        &d,
        "gpt-bob",
        &["tokens", "create", "--name", "bob-tok"],
    ));
    let stderr = |o: Output| String::from_utf8_lossy(&o.stderr).into_owned();
    // The same refusal whoever holds the name, naming no owner, id or status.
    let theirs = as_user(&d, "gpt-bob", &["tokens", "create", "--name", "alice-tok"]);
    let mine = as_user(&d, "gpt-bob", &["tokens", "create", "--name", "bob-tok"]);
    assert_eq!(theirs.status.code(), mine.status.code());
    let (theirs, mine) = (stderr(theirs), stderr(mine));
    assert_eq!(
        theirs.replace("alice-tok", "N"),
        mine.replace("bob-tok", "N")
    );
    assert!(!theirs.contains("alice") || !theirs.replace("alice-tok", "").contains("alice"));
    assert!(!theirs.contains(&alice_id), "{theirs}");
    // Every look-up of her token is as for one that does not exist.
    for verb in ["show", "disable", "revoke"] {
        let by_name = stderr(as_user(&d, "gpt-bob", &["tokens", verb, "alice-tok"]));
        let none = stderr(as_user(&d, "gpt-bob", &["tokens", verb, "no-such-tok"]));
        assert_eq!(
            by_name.replace("alice-tok", "N"),
            none.replace("no-such-tok", "N")
        );
        let by_id = stderr(as_user(&d, "gpt-bob", &["tokens", verb, &alice_id]));
        let unknown_id = "Zz9Zz9Zz9Zz9";
        let none = stderr(as_user(&d, "gpt-bob", &["tokens", verb, unknown_id]));
        assert_eq!(by_id.replace(&alice_id, "N"), none.replace(unknown_id, "N"));
    }
    let hosts = stderr(as_user(
        &d,
        "gpt-bob",
        &["hosts", "list", "--token", &alice_id],
    ));
    let none = stderr(as_user(
        &d,
        "gpt-bob",
        &["hosts", "list", "--token", "Zz9Zz9Zz9Zz9"],
    ));
    assert_eq!(
        hosts.replace(&alice_id, "N"),
        none.replace("Zz9Zz9Zz9Zz9", "N")
    );
    // Lists and the audit log show none of it.
    for args in [
        &["tokens", "list", "--json"][..],
        &["audit", "--json"],
        &["audit", "--json", "--token", &alice_id],
    ] {
        let out = ok(as_user(&d, "gpt-bob", args));
        assert!(
            !out.contains("alice") && !out.contains(&alice_id),
            "{args:?}: {out}"
        );
    }
    assert_eq!(d.token_json("alice-tok")["status"], "active");
    // An operator's own log, paged back with --limit and --before (a cursor), among others'.
    for i in 0..3 {
        let name = format!("a-{i}");
        ok(as_user(
            &d,
            "gpt-alice",
            &["tokens", "create", "--name", &name],
        ));
        let name = format!("b-{i}");
        ok(as_user(
            &d,
            "gpt-bob",
            &["tokens", "create", "--name", &name],
        ));
    }
    let page = |args: &[&str]| -> Vec<serde_json::Value> {
        let mut all = vec!["audit", "--json"];
        all.extend_from_slice(args);
        let v: serde_json::Value = serde_json::from_str(&ok(as_user(&d, "gpt-bob", &all))).unwrap();
        v.as_array().unwrap().clone()
    };
    let newest = page(&["--limit", "2"]);
    let names: Vec<_> = newest.iter().map(|e| e["target_name"].clone()).collect();
    assert_eq!(names, ["b-1", "b-2"], "{newest:#?}");
    let cursor = newest[0]["seq"].to_string();
    let older = page(&["--limit", "2", "--before", &cursor]);
    let names: Vec<_> = older.iter().map(|e| e["target_name"].clone()).collect();
    assert_eq!(names, ["bob-tok", "b-0"], "{older:#?}");
}
