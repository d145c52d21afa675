//! Finding the daemon for the console and the bare command, and starting a local one when
//! there is none: first the system daemon's socket (a daemon run as a service, reachable by
//! any user it gives a role), then the user's own default socket, then a local daemon — the
//! same binary re-executed with a hidden `__daemon` command (the `embedded-daemon` feature, on
//! by default), or else the `gatepassd` beside it or on PATH — detached in its own process
//! group, logging to a file in its data folder. A local daemon that exits at start (its port
//! taken) is reported at once with the cause its log gives.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::error::{Context, Error, Result};
use gatepass_protocol::ErrorCode;
use gatepass_protocol::client::{Client, ClientError};

/// What the system daemon's socket says about this user.
#[derive(Debug)]
pub enum System {
    /// No system daemon here (no socket, or a stale one): look for the user's own.
    Absent,
    /// It answers and gives this user a role: use it.
    Reachable(Client),
}

/// Looks for the system daemon (unless this process is root, whose default socket is the
/// system's). A daemon that is there but shut to this user is an error of one line naming what
/// an admin must change, not a reason to start another daemon beside it.
pub async fn system_daemon() -> Result<System> {
    if gatepass_protocol::paths::is_root() {
        return Ok(System::Absent);
    }
    let path = gatepass_protocol::paths::system_socket();
    let dir = path
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    let user = current_user();
    let closed = || {
        Error::Failed(format!(
            "a system daemon's socket folder {} is not open to {user}: an admin must set \
             access.socket_group in its config (the service's: {SERVICE_CONFIG}) and add {user} to \
             that group (and give {user} a role in [access]), then restart it",
            dir.display()
        ))
    };
    match std::fs::symlink_metadata(&path) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => return Err(closed()),
        Err(_) => return Ok(System::Absent),
    }
    let client = Client::unix(&path);
    match client.whoami().await {
        Ok(_) => Ok(System::Reachable(client)),
        Err(ClientError::PermissionDenied { .. }) => Err(closed()),
        Err(ClientError::Api {
            code: ErrorCode::Forbidden,
            ..
        }) => Err(Error::Failed(format!(
            "the system daemon at {} runs, but {user} has no role there: an admin must add \
             \"{user}\" to access.operators (or admins, auditors) in its config (the service's: \
             {SERVICE_CONFIG}), then restart it",
            path.display()
        ))),
        Err(e) if e.is_unreachable() => Ok(System::Absent),
        Err(e) => Err(e.into()),
    }
}

/// The config file of the daemon run as a service (`assets/gatepassd.service`: its data folder's).
const SERVICE_CONFIG: &str = "/var/lib/gatepass/gatepassd.toml";

/// A port free on the loopback address now, to suggest when the default one is taken.
fn free_port() -> Option<u16> {
    let bound = std::net::TcpListener::bind(("127.0.0.1", 0)).ok()?;
    bound.local_addr().ok().map(|a| a.port())
}

/// This process's user name (for messages).
fn current_user() -> String {
    // The effective uid owns /proc/self.
    match std::fs::metadata("/proc/self") {
        Ok(m) => gatepass_protocol::paths::user_name(std::os::unix::fs::MetadataExt::uid(&m)),
        Err(_) => "this user".to_owned(),
    }
}

/// A daemon the console started for itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    pub pid: u32,
    pub data_dir: PathBuf,
    pub log: PathBuf,
}

impl Started {
    /// What the console's header says of it, longest first: where room is short the data
    /// folder gives way, then the pid (that the daemon is a local one says more), then the
    /// words, and the pid stays.
    pub fn notes(&self) -> [String; 4] {
        [
            format!(
                "started a local daemon, pid {} (data {})",
                self.pid,
                self.data_dir.display()
            ),
            format!("local daemon, pid {}", self.pid),
            "local daemon".to_owned(),
            format!("pid {}", self.pid),
        ]
    }
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
    // Where this start's lines begin in the log (it is appended to).
    let from = log_file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut command = daemon_command()?;
    let mut child = command
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
        // A daemon that exits at start (its port taken, a bad config) says why in its log:
        // that is the error, at once, not after the deadline.
        if let Ok(Some(status)) = child.try_wait() {
            let cause = last_line(&log, from).unwrap_or_else(|| format!("it exited ({status})"));
            // A port taken by another daemon: say how to pick another.
            let hint = if cause.contains("Address already in use") {
                format!(
                    "; start it on another port with GATEPASSD_LISTEN=127.0.0.1:{} (or [redeem] \
                     listen in its gatepassd.toml)",
                    free_port().unwrap_or(8643)
                )
            } else {
                String::new()
            };
            return Err(Error::Failed(format!(
                "the local daemon did not start: {cause}{hint} (log: {})",
                log.display()
            )));
        }
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

/// The last line written to `log` from byte `from` on, without the time and level that start
/// it (`gatepassd: binding the redeem listener on 127.0.0.1:8443: Address in use`).
fn last_line(log: &std::path::Path, from: u64) -> Option<String> {
    let text = std::fs::read(log).ok()?;
    let start = usize::try_from(from).unwrap_or(0).min(text.len());
    let text = String::from_utf8_lossy(&text[start..]).into_owned();
    let line = text.lines().rev().find(|l| !l.trim().is_empty())?;
    Some(line.trim().to_owned())
}
