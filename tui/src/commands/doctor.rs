//! `gatepass doctor`: checks, one line each, what an operator needs to know when something is
//! off — is the daemon reachable, who am I and with what role, which TLS pin hosts must use,
//! whether the daemon's store serves (and which engine it is), how copying would reach the
//! clipboard, and where the daemon's config is.

use std::process::ExitCode;

use gatepass_protocol::client::{Client, Endpoint};

use crate::console::clipboard::{ClipEnv, ClipboardMode, describe};

pub async fn run(client: &Client, clipboard: ClipboardMode) -> crate::error::Result<ExitCode> {
    let mut ok = true;
    let mut line = |good: bool, what: &str, detail: String| {
        ok &= good;
        println!("{} {what:<10} {detail}", if good { "ok  " } else { "FAIL" });
    };
    line(true, "endpoint", client.endpoint().describe());
    let reachable = match client.whoami().await {
        Ok(w) => {
            line(
                true,
                "daemon",
                format!("reachable, gatepassd {}", w.daemon_version),
            );
            line(true, "identity", format!("{} ({})", w.user, w.role));
            line(true, "redeem", w.redeem_url.clone());
            line(true, "ca pin", w.ca_pin.clone());
            let (good, detail) = store_line(client).await;
            line(good, "store", detail);
            true
        }
        Err(e) => {
            line(false, "daemon", e.to_string());
            false
        }
    };
    line(true, "clipboard", describe(clipboard, ClipEnv::from_env()));
    // The daemon does not say where its config is; only the default setup can be told apart.
    let data = gatepass_protocol::paths::default_data_dir();
    let config = data.join("gatepassd.toml");
    let default_socket = gatepass_protocol::paths::default_socket();
    if !reachable {
        // Nothing about the daemon's config is "ok" when the daemon did not answer.
        println!("skip config     the daemon is not reachable: start it, or check --socket");
        return Ok(ExitCode::from(crate::exit::UNREACHABLE));
    }
    let detail = match client.endpoint() {
        Endpoint::Unix(p) if *p == default_socket && config.exists() => format!(
            "{} (the default location, for the daemon on the default socket)",
            config.display()
        ),
        Endpoint::Unix(p) if *p == default_socket => format!(
            "none at {} (the daemon on the default socket may use --config)",
            config.display()
        ),
        Endpoint::Unix(_) => "not known from here: this daemon has its own socket, so its \
                              config is wherever its --config or --data-dir say"
            .to_owned(),
        Endpoint::Https { .. } => "on the daemon's host".to_owned(),
    };
    line(true, "config", detail);
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::exit::UNREACHABLE)
    })
}

/// The store's line, from `GET /readyz`: its engine, and whether the daemon can use it (for
/// PostgreSQL: whether it reaches its database).
async fn store_line(client: &Client) -> (bool, String) {
    let resp = match client.raw("GET", "/readyz", None).await {
        Ok(r) => r,
        Err(e) => return (false, format!("not known: {e}")),
    };
    let body: serde_json::Value = serde_json::from_slice(&resp.body).unwrap_or_default();
    let check = body["checks"]["store"].as_str().unwrap_or("not reported");
    let engine = match body["engine"].as_str() {
        Some("postgres") => "PostgreSQL",
        Some("redb") => "embedded (in the daemon's data folder)",
        _ => "not reported",
    };
    if check == "ok" {
        let reach = if body["engine"] == "postgres" {
            ": the daemon reaches its database"
        } else {
            ""
        };
        (true, format!("{engine}{reach}"))
    } else {
        (
            false,
            format!("{engine}: unavailable ({})", check.escape_debug()),
        )
    }
}
