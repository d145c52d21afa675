//! `gatepass doctor`: checks, one line each, what an operator needs to know when something is
//! off — is the daemon reachable, who am I and with what role, which TLS pin hosts must use,
//! how copying would reach the clipboard, and where the daemon's config is.

use std::process::ExitCode;

use gatepass_protocol::client::{Client, Endpoint};

use crate::console::clipboard::{ClipEnv, ClipboardMode, describe};

pub async fn run(client: &Client, clipboard: ClipboardMode) -> anyhow::Result<ExitCode> {
    let mut ok = true;
    let mut line = |good: bool, what: &str, detail: String| {
        ok &= good;
        println!("{} {what:<10} {detail}", if good { "ok  " } else { "FAIL" });
    };
    line(true, "endpoint", client.endpoint().describe());
    match client.whoami().await {
        Ok(w) => {
            line(
                true,
                "daemon",
                format!("reachable, gatepassd {}", w.daemon_version),
            );
            line(true, "identity", format!("{} ({})", w.user, w.role));
            line(true, "redeem", w.redeem_url.clone());
            line(true, "ca pin", w.ca_pin.clone());
        }
        Err(e) => line(false, "daemon", e.to_string()),
    }
    line(true, "clipboard", describe(clipboard, ClipEnv::from_env()));
    let data = gatepass_protocol::paths::default_data_dir();
    let config = data.join("gatepassd.toml");
    match (&client.endpoint(), config.exists()) {
        (Endpoint::Unix(_), true) => line(
            true,
            "config",
            format!("{} (default location)", config.display()),
        ),
        (Endpoint::Unix(_), false) => line(
            true,
            "config",
            format!("none at {} (the daemon may use --config)", config.display()),
        ),
        (Endpoint::Https { .. }, _) => line(true, "config", "on the daemon's host".into()),
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::exit::UNREACHABLE)
    })
}
