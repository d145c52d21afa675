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
    use std::io::IsTerminal;
    use std::os::unix::fs::OpenOptionsExt;
    let to_stdout = file == Path::new("-");
    if to_stdout && std::io::stdout().is_terminal() {
        return Err(Error::Failed(
            "a backup is binary: send it to a file or a pipe, not the terminal".into(),
        ));
    }
    // The file is made before the daemon is asked, so a backup it could not keep is neither
    // taken nor audited.
    let mut out = if to_stdout {
        None
    } else {
        let f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(file)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => Error::Failed(format!(
                    "{} exists; a backup is written to a new file",
                    file.display()
                )),
                _ => Error::Failed(format!("cannot create {}: {e}", file.display())),
            })?;
        Some(f)
    };
    let written = fetch_into(client, out.as_mut()).await;
    if let (Err(_), Some(_)) = (&written, &out) {
        // Nothing half-written is left to pass for a backup.
        let _ = std::fs::remove_file(file);
    }
    let (len, summary) = written?;
    let count = |k: &str| summary.get(k).and_then(|v| v.as_u64()).unwrap_or(0);
    let name = if to_stdout {
        "the standard output".to_string()
    } else {
        file.display().to_string()
    };
    eprintln!(
        "wrote {name} ({len} bytes): {} tokens, {} hosts, {} audit events, {} API tokens",
        count("tokens"),
        count("hosts"),
        count("events"),
        count("api_tokens")
    );
    eprintln!(
        "Restore with: gatepassd restore FILE --data-dir DIR. Keep hmac.key, ca.pem, ca.key and \
         gatepassd.toml of the data folder with it: without the same hmac.key no token can be \
         redeemed."
    );
    Ok(ExitCode::SUCCESS)
}

/// Asks for the snapshot and writes it to `out` (the standard output when `None`), synced.
/// Returns its length and the daemon's summary of what it holds.
async fn fetch_into(
    client: &Client,
    out: Option<&mut std::fs::File>,
) -> Result<(usize, serde_json::Value)> {
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
    match out {
        Some(f) => {
            f.write_all(&resp.body)?;
            f.sync_all()?;
        }
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(&resp.body)?;
            stdout.flush()?;
        }
    }
    Ok((resp.body.len(), summary))
}
