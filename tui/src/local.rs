//! Starting a local daemon when the console finds none: the same binary re-executed with a
//! hidden `__daemon` command (the `embedded-daemon` feature, on by default), or else the
//! `gatepassd` beside it or on PATH, detached in its own process group, logging to a file in its
//! data folder. The caller then waits (bounded) for the socket to answer.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::error::{Context, Error, Result};
use gatepass_protocol::client::Client;

#[derive(Debug)]
pub struct Started {
    pub pid: u32,
    pub data_dir: PathBuf,
    pub log: PathBuf,
}

pub async fn start_daemon() -> Result<Started> {
    use std::os::unix::process::CommandExt;
    let data_dir = gatepass_protocol::paths::default_data_dir();
    gatepass_protocol::paths::private_dir(&data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let log = data_dir.join("gatepassd.log");
    use std::os::unix::fs::OpenOptionsExt;
    // Like every file in the data folder: only its owner reads it.
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(&log)
        .with_context(|| format!("opening {}", log.display()))?;
    let mut command = daemon_command()?;
    let child = command
        .stdin(Stdio::null())
        .stdout(log_file.try_clone()?)
        .stderr(log_file)
        .process_group(0)
        .spawn()
        .context("starting a local daemon")?;
    let pid = child.id();
    let client = Client::unix(gatepass_protocol::paths::default_socket());
    // Bounded wait for the daemon to answer (first start makes its CA: well under a second).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        match client.healthz().await {
            Ok(_) => break,
            Err(e) if tokio::time::Instant::now() > deadline => {
                return Err(Error::Failed(format!(
                    "the local daemon did not start ({e}); see {}",
                    log.display()
                )));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    Ok(Started { pid, data_dir, log })
}

/// The command that runs a daemon: this binary's own (`__daemon`).
#[cfg(feature = "embedded-daemon")]
fn daemon_command() -> Result<Command> {
    let exe = std::env::current_exe().context("finding the gatepass binary")?;
    let mut command = Command::new(exe);
    command.arg("__daemon");
    Ok(command)
}

/// The command that runs a daemon: `gatepassd` beside this binary, or else on PATH.
#[cfg(not(feature = "embedded-daemon"))]
fn daemon_command() -> Result<Command> {
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("gatepassd")))
        .filter(|p| p.is_file());
    Ok(Command::new(
        beside.unwrap_or_else(|| PathBuf::from("gatepassd")),
    ))
}
