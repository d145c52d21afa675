//! `gatepass backup FILE`: asks the daemon for a consistent snapshot of its store and writes it
//! to a new private file, for `gatepassd restore`.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use gatepass_protocol::client::Client;

use crate::error::{Error, Result};

/// A large store takes a while to copy.
const BACKUP_TIMEOUT: Duration = Duration::from_secs(600);

pub async fn run(client: &Client, file: &Path) -> Result<ExitCode> {
    use std::os::unix::fs::OpenOptionsExt;
    if file.exists() {
        return Err(Error::Failed(format!(
            "{} exists; a backup is written to a new file",
            file.display()
        )));
    }
    let resp = client
        .clone()
        .with_timeout(BACKUP_TIMEOUT)
        .raw("GET", "/v1/backup", None)
        .await?;
    if resp.status != 200 {
        gatepass_protocol::client::decode::<serde_json::Value>(resp)?;
        return Err(Error::Failed("the daemon sent no backup".into()));
    }
    let summary: serde_json::Value = resp
        .header("x-gatepass-backup")
        .and_then(|h| serde_json::from_str(h).ok())
        .unwrap_or_default();
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(file)
        .map_err(|e| Error::Failed(format!("cannot create {}: {e}", file.display())))?;
    out.write_all(&resp.body)?;
    out.sync_all()?;
    let count = |k: &str| summary.get(k).and_then(|v| v.as_u64()).unwrap_or(0);
    println!(
        "wrote {} ({} bytes): {} tokens, {} hosts, {} audit events, {} API tokens",
        file.display(),
        resp.body.len(),
        count("tokens"),
        count("hosts"),
        count("events"),
        count("api_tokens")
    );
    eprintln!(
        "Restore with: gatepassd restore {} --data-dir DIR. Keep hmac.key, ca.pem and ca.key of \
         the data folder with it: without the same hmac.key no token can be redeemed.",
        file.display()
    );
    Ok(ExitCode::SUCCESS)
}
