//! Personal API tokens (`gpa_…`) on the HTTPS admin listener: created for oneself, shown once,
//! hashed at rest, refused when expired, deleted, outside their path or referrer restriction.

use crate::support::{Daemon, assert_error, current_user};

/// A daemon with the HTTPS admin listener, where the user running the tests holds the REST API
/// role.
fn with_admin_listener() -> Daemon {
    Daemon::start_with_config(&format!(
        "[admin]\nlisten = \"127.0.0.1:0\"\n\n[limits]\nredeem_failures_per_minute = 100000\n\n\
         [access]\napi_users = [{:?}]\n",
        current_user()
    ))
}

fn create(d: &Daemon, args: &[&str]) -> (String, serde_json::Value) {
    let mut all = vec!["apitokens", "create", "--json"];
    all.extend_from_slice(args);
    let v: serde_json::Value = serde_json::from_str(&d.cli_ok(&all)).unwrap();
    (
        v["secret"].as_str().unwrap().to_owned(),
        v["api_token"].clone(),
    )
}

async fn admin_get(
    d: &Daemon,
    token: &str,
    path: &str,
    referer: Option<&str>,
) -> gatepass_protocol::client::RawResponse {
    use gatepass_protocol::client::{HttpsTarget, TrustMode};
    let target =
        HttpsTarget::parse(d.admin_url.as_ref().unwrap(), TrustMode::Pin(d.pin.clone())).unwrap();
    let auth = format!("Bearer {token}");
    let mut headers = vec![("authorization", auth.as_str())];
    if let Some(r) = referer {
        headers.push(("referer", r));
    }
    target.request("GET", path, &headers, vec![]).await.unwrap()
}

#[tokio::test]
async fn api_tokens_work_over_https_and_stop_when_they_should() {
    let d = with_admin_listener();
    let (secret, view) = create(&d, &["--name", "ci", "--remark", "nightly job"]);
    assert!(secret.starts_with("gpa_"));
    assert_eq!(view["user"], current_user().as_str());
    // Default lifetime: 14 days.
    let expires =
        gatepass_protocol::Timestamp::parse(view["expires_at"].as_str().unwrap()).unwrap();
    let created =
        gatepass_protocol::Timestamp::parse(view["created_at"].as_str().unwrap()).unwrap();
    assert_eq!(expires.0 - created.0, 14 * 86_400);
    // Shown once: lists never carry it.
    let list = d.cli_ok(&["apitokens", "list", "--json"]);
    assert!(
        list.contains("\"ci\"") && !list.contains(&secret[16..]),
        "{list}"
    );
    // The table says what each may do (a read token looked like a manage one).
    let table = d.cli_ok(&["apitokens", "list"]);
    let mut lines = table.lines();
    let head: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    let row: Vec<&str> = lines
        .find(|l| l.starts_with("ci "))
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    let scope = head.iter().position(|h| *h == "SCOPE");
    assert_eq!(scope.and_then(|i| row.get(i)), Some(&"manage"), "{table}");

    // The CLI reaches the HTTPS admin listener with it, as its user.
    let out = d.cli_https(&secret, &["tokens", "create", "--name", "via-https"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        d.token_json("via-https")["created_by"],
        current_user().as_str()
    );
    let out = d.cli_https(&secret, &["tokens", "list"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("via-https"));

    // An enrollment token, or garbage, is refused on the admin listener.
    let (gpt, _) = d.mint(&["--name", "enroll"]);
    assert_error(
        &admin_get(&d, &gpt, "/v1/tokens", None).await,
        401,
        "unauthorized",
    );
    assert_error(
        &admin_get(&d, "gpa_nonsense", "/v1/tokens", None).await,
        401,
        "unauthorized",
    );

    // Expired: refused.
    d.set_clock_offset(14 * 86_400 + 1);
    assert_error(
        &admin_get(&d, &secret, "/v1/tokens", None).await,
        401,
        "unauthorized",
    );
    let out = d.cli_https(&secret, &["tokens", "list"]);
    assert_eq!(out.status.code(), Some(1));
    d.set_clock_offset(0);
    assert_eq!(admin_get(&d, &secret, "/v1/tokens", None).await.status, 200);

    // Deleted: refused at once.
    d.cli_ok(&["apitokens", "delete", "ci"]);
    assert_error(
        &admin_get(&d, &secret, "/v1/tokens", None).await,
        401,
        "unauthorized",
    );

    // Never stored in clear.
    for entry in std::fs::read_dir(d.data_dir()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(!bytes.windows(22).any(|w| w == &secret.as_bytes()[16..38]));
    }
    // Creation and deletion are audited; denials too.
    let audit = d.cli_ok(&["audit", "--json"]);
    assert!(audit.contains("api_token_created") && audit.contains("api_token_deleted"));
    assert!(
        audit.contains("API token expired") && audit.contains("unknown API token"),
        "{audit}"
    );
}

#[tokio::test]
async fn path_and_referrer_restrictions_are_enforced() {
    let d = with_admin_listener();
    let (path_only, _) = create(
        &d,
        &["--name", "tokens-only", "--path-prefix", "/v1/tokens"],
    );
    assert_eq!(
        admin_get(&d, &path_only, "/v1/tokens", None).await.status,
        200
    );
    assert_eq!(
        admin_get(&d, &path_only, "/v1/tokens?status=active", None)
            .await
            .status,
        200
    );
    assert_error(
        &admin_get(&d, &path_only, "/v1/audit", None).await,
        403,
        "path_denied",
    );

    let (by_ref, _) = create(&d, &["--name", "from-ci", "--referrer", "example.org"]);
    assert_error(
        &admin_get(&d, &by_ref, "/v1/tokens", None).await,
        403,
        "referrer_denied",
    );
    assert_eq!(
        admin_get(
            &d,
            &by_ref,
            "/v1/tokens",
            Some("https://ci.example.org/job/7")
        )
        .await
        .status,
        200
    );
    assert_error(
        &admin_get(&d, &by_ref, "/v1/tokens", Some("https://example.com/")).await,
        403,
        "referrer_denied",
    );
}

#[tokio::test]
async fn api_token_rules_name_expiry_and_ownership() {
    let d = with_admin_listener();
    create(&d, &["--name", "one"]);
    let out = d.cli(&["apitokens", "create", "--name", "one"]);
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("you already have an API token named \"one\""),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Too short a life: the CLI says so itself (a usage error); the daemon refuses it too.
    let out = d.cli(&["apitokens", "create", "--name", "short", "--ttl", "1h"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 1 day"));
    let r = d
        .client()
        .raw(
            "POST",
            "/v1/api-tokens",
            Some(br#"{"name":"short","ttl":3600}"#.to_vec()),
        )
        .await
        .unwrap();
    assert_error(&r, 400, "invalid_request");
    assert!(r.text().contains("at least 1 day"), "{}", r.text());
    let out = d.cli(&[
        "apitokens",
        "create",
        "--name",
        "bad",
        "--path-prefix",
        "v1",
    ]);
    assert_eq!(out.status.code(), Some(1));
    // Creation is for oneself: there is no way to name another user.
    let r = d
        .client()
        .raw(
            "POST",
            "/v1/api-tokens",
            Some(br#"{"name":"x","user":"bob"}"#.to_vec()),
        )
        .await
        .unwrap();
    assert_error(&r, 400, "invalid_request");
    // The --server flags need a pin and a token.
    let out = std::process::Command::new(crate::support::gatepass_bin())
        .args(["--server", d.admin_url.as_ref().unwrap(), "tokens", "list"])
        .env_remove("GATEPASS_API_TOKEN")
        .env_remove("GATEPASS_CA_PIN")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--ca-pin"));
}

/// Issue 18, point 4: `example.org` used to accept `notexample.org` (a plain suffix match).
#[tokio::test]
async fn a_referrer_restriction_matches_the_host_or_a_subdomain_only() {
    let d = with_admin_listener();
    let (by_ref, _) = create(&d, &["--name", "from-ci", "--referrer", "example.org"]);
    for ok in [
        "https://example.org/",
        "https://ci.example.org/job/7",
        "https://a.b.EXAMPLE.org:8443/x",
    ] {
        let r = admin_get(&d, &by_ref, "/v1/tokens", Some(ok)).await;
        assert_eq!(r.status, 200, "{ok}: {}", r.text());
    }
    for refused in [
        "https://notexample.org/",
        "https://xexample.org/",
        "https://example.org.evil.net/",
        "https://evil.net/?example.org",
        "https://example.org@evil.net/",
    ] {
        assert_error(
            &admin_get(&d, &by_ref, "/v1/tokens", Some(refused)).await,
            403,
            "referrer_denied",
        );
    }
}

/// Issue 18, point 7: `bearer` worked while `BEARER` and `BeArEr` got 401 (RFC 9110: the
/// scheme is case-insensitive), on both listeners.
#[tokio::test]
async fn the_auth_scheme_is_case_insensitive_on_both_listeners() {
    use gatepass_protocol::client::{HttpsTarget, TrustMode};
    let d = with_admin_listener();
    let (api, _) = create(&d, &["--name", "any-case"]);
    let admin =
        HttpsTarget::parse(d.admin_url.as_ref().unwrap(), TrustMode::Pin(d.pin.clone())).unwrap();
    let (secret, _) = d.mint(&["--name", "many", "--uses", "unlimited"]);
    for (i, scheme) in ["Bearer", "bearer", "BEARER", "BeArEr"].iter().enumerate() {
        let auth = format!("{scheme} {api}");
        let r = admin
            .request("GET", "/v1/whoami", &[("authorization", &auth)], vec![])
            .await
            .unwrap();
        assert_eq!(r.status, 200, "admin, {scheme}: {}", r.text());
        let r = d
            .redeem_with(
                &format!("{scheme} {secret}"),
                &format!(r#"{{"hostname":"h{i}"}}"#),
            )
            .await;
        assert_eq!(r.status, 201, "redeem, {scheme}: {}", r.text());
    }
    // Only the scheme is: a scheme other than Bearer is still no token.
    let r = admin
        .request(
            "GET",
            "/v1/whoami",
            &[("authorization", &format!("Basic {api}"))],
            vec![],
        )
        .await
        .unwrap();
    assert_error(&r, 401, "unauthorized");
}

/// Where several tenants exist, an API token is made in the one named (`--tenant`), and acts
/// only there: a user who holds the REST API role in several (here: in `[access]`) must name it.
#[tokio::test]
async fn an_api_token_is_made_in_the_tenant_named_and_acts_only_there() {
    let d = Daemon::start_with_config(&format!(
        "[admin]\nlisten = \"127.0.0.1:0\"\n\n[access]\napi_users = [{:?}]\n\n\
         [tenants.acme]\nadmins = [\"acme-admin\"]\n\n[tenants.globex]\nadmins = [\"globex-admin\"]\n",
        current_user()
    ));
    let out = d.cli(&["apitokens", "create", "--name", "where"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--tenant"), "{err}");
    let (secret, view) = create(&d, &["--name", "acme-ci", "--tenant", "acme"]);
    assert_eq!(view["tenant"], "acme");
    let made = d
        .client()
        .raw(
            "POST",
            "/v1/tokens",
            Some(br#"{"name":"in-globex","tenant":"globex"}"#.to_vec()),
        )
        .await
        .unwrap();
    assert_eq!(made.status, 201, "{}", made.text());
    let list = admin_get(&d, &secret, "/v1/tokens", None).await;
    assert_eq!(list.status, 200, "{}", list.text());
    assert!(!list.text().contains("in-globex"), "{}", list.text());
    // A backup holds every tenant: not for a token that acts in one.
    assert_error(
        &admin_get(&d, &secret, "/v1/backup", None).await,
        403,
        "forbidden",
    );
}
