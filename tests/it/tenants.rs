//! Tenants with real Unix users over the Unix socket: two tenants, each with an admin, an
//! operator and an auditor, a global admin and a user with no role, each running the real
//! `gatepass` binary as themselves (their uid and gid) against the real daemon. Users and
//! their group get names unique to the run and are removed at the end. Creating users needs
//! root: built by anyone else the test is marked ignored with that reason (`tests/build.rs`);
//! run (not built) without root, it says why and does nothing.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use gatepass_tests::pg::Cluster;

use crate::access::{is_root, shared_bin};
use crate::support::Daemon;

/// Users and a group made for one run, removed when dropped.
struct Accounts {
    prefix: String,
    group: String,
    users: Vec<String>,
}

/// The accounts of the test, by what they are (the suffix of each name).
const ROLES: [&str; 8] = ["aadm", "aop", "aaud", "gadm", "gop", "gaud", "root", "none"];

impl Accounts {
    /// The accounts of `roles`, named for this run and `tag` (one per test: tests run at once).
    fn create(tag: &str, roles: &[&str]) -> Accounts {
        // Short enough for user names (32 characters), unique to this run.
        let prefix = format!("gq{}{tag}", std::process::id() % 1_000_000);
        let mut a = Accounts {
            group: format!("{prefix}-grp"),
            prefix,
            users: Vec::new(),
        };
        run_tool("groupadd", &[&a.group]);
        for role in roles {
            let name = a.name(role);
            run_tool(
                "useradd",
                &["-M", "-N", "-g", &a.group, "-s", "/usr/sbin/nologin", &name],
            );
            a.users.push(name);
        }
        a
    }

    fn name(&self, role: &str) -> String {
        format!("{}-{role}", self.prefix)
    }
}

impl Drop for Accounts {
    fn drop(&mut self) {
        for u in &self.users {
            let _ = Command::new("userdel").arg(u).output();
        }
        let _ = Command::new("groupdel").arg(&self.group).output();
    }
}

/// Runs a user-management tool, retrying while another process holds the lock on
/// /etc/passwd; panics with what it said when it never succeeds.
fn run_tool(tool: &str, args: &[&str]) {
    let mut said = String::new();
    for _ in 0..10 {
        match Command::new(tool).args(args).output() {
            Ok(o) if o.status.success() => return,
            Ok(o) => said = String::from_utf8_lossy(&o.stderr).trim().to_owned(),
            Err(e) => said = e.to_string(),
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    panic!("{tool} {args:?}: {said}");
}

/// The real CLI run as `user` (their uid and primary group; no other group), on `d`'s socket.
fn as_user(d: &Daemon, user: &str, args: &[&str]) -> Output {
    let account = nix::unistd::User::from_name(user)
        .unwrap()
        .unwrap_or_else(|| panic!("no user {user}"));
    Command::new(shared_bin(d))
        .arg("--socket")
        .arg(&d.socket)
        .args(args)
        .uid(account.uid.as_raw())
        .gid(account.gid.as_raw())
        .env_remove("GATEPASS_SOCKET")
        .env_remove("GATEPASS_SERVER")
        .env("HOME", d.dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[track_caller]
fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[track_caller]
fn json(out: Output) -> Value {
    serde_json::from_str(&ok(out)).unwrap()
}

/// Asserts a refusal: exit code 1 and one line on stderr holding `needle`; returns the line.
#[track_caller]
fn refused(out: &Output, needle: &str) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "expected a refusal: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "not one line: {err}");
    assert!(err.contains(needle), "{needle:?} not in: {err}");
    err
}

/// The values of `field` in a JSON list, as a set.
fn field(list: &Value, field: &str) -> BTreeSet<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|v| v[field].as_str().unwrap().to_owned())
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
#[cfg_attr(
    gatepass_tests_not_root,
    ignore = "needs root: creates Unix users with useradd (run as root, as CI does)"
)]
async fn each_tenants_users_see_and_touch_only_their_tenant() {
    if !is_root() {
        eprintln!(
            "skipped: needs root to create Unix users with useradd (run as root, as CI does)"
        );
        return;
    }
    let acc = Accounts::create("a", &ROLES);
    let n = |role: &str| acc.name(role);
    let config = format!(
        "[access]\nadmins = [\"{root}\"]\nsocket_group = \"{group}\"\n\n\
         [limits]\nredeem_failures_per_minute = 100000\n\n\
         [tenants.acme]\nadmins = [\"{aadm}\"]\noperators = [\"{aop}\"]\nauditors = [\"{aaud}\"]\n\n\
         [tenants.globex]\nadmins = [\"{gadm}\"]\noperators = [\"{gop}\"]\nauditors = [\"{gaud}\"]\n",
        root = n("root"),
        group = acc.group,
        aadm = n("aadm"),
        aop = n("aop"),
        aaud = n("aaud"),
        gadm = n("gadm"),
        gop = n("gop"),
        gaud = n("gaud"),
    );
    let d = Daemon::start_with_config(&config);
    // Other users must reach the socket's folder: the temp folder itself is 0700.
    std::fs::set_permissions(d.dir.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
    let run = |role: &str, args: &[&str]| as_user(&d, &n(role), args);

    // `tenants list`: each user their own tenants, with their role; members for admins only.
    let tenants = |role: &str| json(run(role, &["tenants", "list", "--json"]));
    for (role, tenant, as_role) in [
        ("aadm", "acme", "admin"),
        ("aop", "acme", "operator"),
        ("aaud", "acme", "auditor"),
        ("gadm", "globex", "admin"),
        ("gop", "globex", "operator"),
        ("gaud", "globex", "auditor"),
    ] {
        let list = tenants(role);
        assert_eq!(field(&list, "name"), set(&[tenant]), "{role}: {list}");
        assert_eq!(list[0]["role"], as_role, "{role}: {list}");
        let members = list[0]["members"].as_array().unwrap().len();
        assert_eq!(members > 0, as_role == "admin", "{role}: {list}");
    }
    let acme_members: BTreeSet<String> = tenants("aadm")[0]["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        acme_members,
        [n("aadm"), n("aaud"), n("aop"), n("root")]
            .into_iter()
            .collect()
    );
    assert_eq!(
        field(&tenants("root"), "name"),
        set(&["acme", "default", "globex"])
    );
    let table = ok(run("aadm", &["tenants", "list"]));
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "ROLE", "TOKENS", "HOSTS"], "{table}");
    // No role: one line saying so, for this command as for any other.
    refused(&run("none", &["tenants", "list"]), "no role");
    refused(&run("none", &["tokens", "list"]), "no role");

    // Minting: in the only tenant; named when there are several; owners from the tenant.
    let made = |role: &str, args: &[&str]| {
        let mut all = vec!["tokens", "create", "--json"];
        all.extend_from_slice(args);
        json(run(role, &all))
    };
    let acme_web = made("aadm", &["--name", "acme-web", "--uses", "5"]);
    assert_eq!(acme_web["token"]["tenant"], "acme");
    let for_op = made("aadm", &["--name", "acme-for-op", "--owner", &n("aop")]);
    assert_eq!(
        (
            &for_op["token"]["tenant"],
            for_op["token"]["owner"].as_str()
        ),
        (&Value::from("acme"), Some(n("aop").as_str()))
    );
    refused(
        &run(
            "aadm",
            &["tokens", "create", "--name", "x", "--owner", &n("gop")],
        ),
        "is not a member of tenant \"acme\"",
    );
    refused(
        &run(
            "aadm",
            &[
                "tokens",
                "create",
                "--name",
                "x",
                "--owner",
                "nobody-at-all",
            ],
        ),
        "is not a member of tenant",
    );
    made("aop", &["--name", "acme-op"]);
    refused(
        &run("aaud", &["tokens", "create", "--name", "x"]),
        "read-only",
    );
    let globex_db = made("gadm", &["--name", "globex-db"]);
    assert_eq!(globex_db["token"]["tenant"], "globex");
    refused(
        &run("root", &["tokens", "create", "--name", "r"]),
        "use --tenant NAME; yours: acme, default, globex",
    );
    let globex_2 = made("root", &["--name", "globex-2", "--tenant", "globex"]);
    assert_eq!(globex_2["token"]["tenant"], "globex");
    // A tenant the user has no role in, and one that does not exist: the same answer.
    let there = refused(
        &run(
            "aadm",
            &["tokens", "create", "--name", "y", "--tenant", "globex"],
        ),
        "no tenant \"globex\"",
    );
    let nowhere = refused(
        &run(
            "aadm",
            &["tokens", "create", "--name", "y", "--tenant", "nowhere"],
        ),
        "no tenant \"nowhere\"",
    );
    assert_eq!(
        there.replace("globex", "T"),
        nowhere.replace("nowhere", "T")
    );

    // Lists: each user their tenant's tokens (operators their own).
    let names = |role: &str, extra: &[&str]| {
        let mut all = vec!["tokens", "list", "--json"];
        all.extend_from_slice(extra);
        field(&json(run(role, &all)), "name")
    };
    let acme = set(&["acme-web", "acme-for-op", "acme-op"]);
    let globex = set(&["globex-db", "globex-2"]);
    assert_eq!(names("aadm", &[]), acme);
    assert_eq!(names("aaud", &[]), acme);
    assert_eq!(names("aop", &[]), set(&["acme-for-op", "acme-op"]));
    assert_eq!(names("gadm", &[]), globex);
    assert_eq!(names("gaud", &[]), globex);
    assert_eq!(names("gop", &[]), set(&[]));
    assert_eq!(names("root", &[]), acme.union(&globex).cloned().collect());
    assert_eq!(names("root", &["--tenant", "acme"]), acme);
    assert_eq!(names("aadm", &["--tenant", "acme"]), acme);
    // A TENANT column where more than one tenant is open, none otherwise.
    let first = |role: &str, args: &[&str]| {
        ok(run(role, args))
            .lines()
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(first("root", &["tokens", "list"]), "TENANT");
    assert_eq!(
        first("root", &["tokens", "list", "--tenant", "acme"]),
        "NAME"
    );
    assert_eq!(first("aadm", &["tokens", "list"]), "NAME");
    // Another tenant's token, by id or by name: not found.
    let acme_id = acme_web["token"]["id"].as_str().unwrap();
    let globex_id = globex_db["token"]["id"].as_str().unwrap();
    for (role, id) in [
        ("gadm", acme_id),
        ("gaud", acme_id),
        ("aadm", globex_id),
        ("aaud", globex_id),
    ] {
        refused(&run(role, &["tokens", "show", id]), "no token");
        refused(&run(role, &["tokens", "revoke", id]), "no token");
    }
    refused(&run("gadm", &["tokens", "show", "acme-web"]), "no token");
    // `--tenant` naming another tenant on every list: the same "no tenant" answer.
    for list in [
        &["tokens", "list"][..],
        &["hosts", "list"],
        &["audit"],
        &["apitokens", "list"],
    ] {
        for tenant in ["globex", "nowhere"] {
            let mut args = list.to_vec();
            args.extend_from_slice(&["--tenant", tenant]);
            refused(&run("aadm", &args), &format!("no tenant \"{tenant}\""));
        }
    }

    // A host enrolled with acme's token lands in acme, and the redeem answer says so.
    let secret = acme_web["secret"].as_str().unwrap();
    let answer = d.redeem(secret, r#"{"hostname":"acme-host-1"}"#).await;
    assert_eq!(answer.status, 201, "{}", answer.text());
    let answer: Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(answer["tenant"], "acme", "{answer}");
    let hosts = |role: &str| json(run(role, &["hosts", "list", "--json"]));
    let seen = hosts("aadm");
    assert_eq!(field(&seen, "hostname"), set(&["acme-host-1"]));
    assert_eq!(field(&seen, "tenant"), set(&["acme"]));
    assert_eq!(field(&hosts("aaud"), "hostname"), set(&["acme-host-1"]));
    assert_eq!(hosts("gadm"), Value::Array(Vec::new()));
    assert_eq!(hosts("gaud"), Value::Array(Vec::new()));
    assert_eq!(field(&hosts("root"), "hostname"), set(&["acme-host-1"]));
    // Counts follow what each sees.
    let acme_row = tenants("aadm");
    assert_eq!(
        (&acme_row[0]["tokens"], &acme_row[0]["hosts"]),
        (&3.into(), &1.into())
    );
    let op_row = tenants("aop");
    assert_eq!(
        (&op_row[0]["tokens"], &op_row[0]["hosts"]),
        (&2.into(), &0.into())
    );

    // The audit log: each tenant's auditor reads their tenant's events and none of the other's.
    let audit = |role: &str| ok(run(role, &["audit", "--json"]));
    let globex_log = audit("gaud");
    assert!(globex_log.contains("globex-db"), "{globex_log}");
    for secret_word in ["acme", acme_id, "acme-host-1"] {
        assert!(
            !globex_log.contains(secret_word),
            "{secret_word}: {globex_log}"
        );
    }
    let acme_log = audit("aaud");
    assert!(
        acme_log.contains("acme-host-1") && !acme_log.contains("globex"),
        "{acme_log}"
    );
    // `audit verify` by a tenant's auditor checks the whole chain, events of every tenant.
    for role in ["aaud", "gaud"] {
        let said = ok(run(role, &["audit", "verify"]));
        assert!(said.starts_with("audit log OK"), "{role}: {said}");
        let check = json(run(role, &["audit", "verify", "--json"]));
        let all_events = json(d.cli(&["audit", "--json"])).as_array().unwrap().len();
        assert_eq!(check["events"], all_events as u64, "{role}: {check}");
    }
    refused(&run("aop", &["audit", "verify"]), "admin or auditor");
}

/// A tenant auditor's `audit verify` checks the whole chain: an event of another tenant edited
/// by hand (`psql` on the PostgreSQL store) is a break to them too, named by position and hash
/// alone — nothing of that tenant's events is shown — while the tenant's own auditor reads them.
#[tokio::test]
#[cfg_attr(
    gatepass_tests_not_root,
    ignore = "needs root: creates Unix users with useradd (run as root, as CI does)"
)]
async fn a_break_in_another_tenants_events_is_shown_by_hash_alone() {
    if !is_root() {
        eprintln!(
            "skipped: needs root to create Unix users with useradd (run as root, as CI does)"
        );
        return;
    }
    let acc = Accounts::create("b", &["aaud", "gaud"]);
    let n = |role: &str| acc.name(role);
    let pg = Cluster::start();
    let url = pg.database("tenants");
    let mut d = Daemon::unstarted(&format!(
        "[access]\nsocket_group = \"{group}\"\n\n\
         [tenants.acme]\nauditors = [\"{aaud}\"]\n\n\
         [tenants.globex]\nauditors = [\"{gaud}\"]\n",
        group = acc.group,
        aaud = n("aaud"),
        gaud = n("gaud"),
    ));
    d.extra_args = vec!["--store".into(), url];
    d.start_again();
    std::fs::set_permissions(d.dir.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
    // Events 1 and 2 are acme's, 3 globex's.
    d.mint(&["--name", "acme-one", "--tenant", "acme"]);
    d.mint(&["--name", "acme-two", "--tenant", "acme"]);
    d.mint(&["--name", "globex-one", "--tenant", "globex"]);
    assert!(ok(as_user(&d, &n("gaud"), &["audit", "verify"])).starts_with("audit log OK"));
    pg.psql(
        "tenants",
        "UPDATE gp_audit SET event = convert_to(replace(convert_from(event, 'UTF8'), \
         'acme-one', 'acme-eno'), 'UTF8') WHERE convert_from(event, 'UTF8') LIKE '%acme-one%'",
    );
    // globex's auditor: broken at event 2, events 1 and 2 by hash alone.
    let out = as_user(&d, &n("gaud"), &["audit", "verify"]);
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(!out.status.success(), "not noticed: {said}");
    assert!(said.starts_with("audit log BROKEN at event 2"), "{said}");
    let lines: Vec<&str> = said.lines().skip(1).collect();
    assert_eq!(lines.len(), 2, "{said}");
    for (line, seq) in lines.iter().zip(["#1 ", "#2 "]) {
        let line = line.trim();
        assert!(
            line.starts_with(seq) && line.ends_with(" (another tenant)"),
            "{said}"
        );
        let hash = line.split_whitespace().nth(1).unwrap();
        assert!(
            hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()),
            "{said}"
        );
    }
    assert!(!said.contains("acme"), "{said}");
    let check = json_any(as_user(&d, &n("gaud"), &["audit", "verify", "--json"]));
    assert_eq!(check["first_bad"], 2, "{check}");
    assert!(!check.to_string().contains("acme"), "{check}");
    assert!(
        check["at_break"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["other_tenant"] == true && l.get("event").is_none())
    );
    // acme's own auditor reads the same break with its events.
    let out = as_user(&d, &n("aaud"), &["audit", "verify"]);
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(said.starts_with("audit log BROKEN at event 2"), "{said}");
    assert!(
        said.contains("acme-eno") && said.contains("acme-two"),
        "{said}"
    );
    assert!(!said.contains("another tenant"), "{said}");
}

/// The JSON a command printed, whatever its exit code (`audit verify` exits 1 on a break).
fn json_any(out: Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)))
}
