//! systemd's notify protocol (`Type=notify`, `WatchdogSec=`), in the few lines it takes: one
//! datagram of `KEY=VALUE` lines to the socket named by `$NOTIFY_SOCKET` (a path, or an abstract
//! name written `@name`). Outside systemd (no `$NOTIFY_SOCKET`) every call does nothing.
//!
//! - `READY=1` once the listeners are bound (the launcher, with the ready line);
//! - `WATCHDOG=1` every half `$WATCHDOG_USEC` while the daemon's runtime turns and its store
//!   answers a health check within that half: a daemon wedged on its store, or whose runtime
//!   is stuck, stops feeding the watchdog and systemd restarts it. A store that answers "not
//!   available" (PostgreSQL down) still feeds it: a restart would not bring the database back,
//!   and `/readyz` already tells the load balancer. `STATUS=` carries the readiness line;
//! - `STOPPING=1` at shutdown.

use std::sync::Arc;
use std::time::Duration;

use crate::State;

/// Sends `message` to `$NOTIFY_SOCKET`; false when there is none or it cannot be reached.
pub fn send(message: &str) -> bool {
    match std::env::var_os("NOTIFY_SOCKET") {
        Some(path) => send_to(&path.to_string_lossy(), message).is_ok(),
        None => false,
    }
}

/// Sends one datagram to the notify socket `path` (`@name`: an abstract socket).
pub fn send_to(path: &str, message: &str) -> std::io::Result<()> {
    let socket = std::os::unix::net::UnixDatagram::unbound()?;
    #[cfg(target_os = "linux")]
    if let Some(name) = path.strip_prefix('@') {
        use std::os::linux::net::SocketAddrExt;
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?;
        socket.send_to_addr(message.as_bytes(), &addr)?;
        return Ok(());
    }
    socket.send_to(message.as_bytes(), path)?;
    Ok(())
}

/// How often to feed the watchdog: half of `WATCHDOG_USEC`, when `WATCHDOG_PID` (if set) is this
/// process.
pub fn interval(usec: Option<&str>, pid: Option<&str>, me: u32) -> Option<Duration> {
    if let Some(p) = pid
        && p.trim().parse::<u32>().ok() != Some(me)
    {
        return None;
    }
    let usec: u64 = usec?.trim().parse().ok().filter(|u| *u > 0)?;
    Some(Duration::from_micros(usec / 2))
}

/// Feeds the watchdog until shutdown (returns at once when systemd asked for none).
pub async fn watchdog(state: Arc<State>) {
    let usec = std::env::var("WATCHDOG_USEC").ok();
    let pid = std::env::var("WATCHDOG_PID").ok();
    let Some(every) = interval(usec.as_deref(), pid.as_deref(), std::process::id()) else {
        return;
    };
    let mut stop = state.shutdown.clone();
    let mut tick = tokio::time::interval(every);
    let mut last_status = String::new();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = crate::server::stopped(&mut stop) => return,
        }
        let Ok(r) = tokio::time::timeout(every, crate::api::health::check(&state)).await else {
            tracing::warn!(
                "the store did not answer a health check within {every:?}: the watchdog is not fed"
            );
            continue;
        };
        let status = if r.ready {
            "ready".to_owned()
        } else {
            let failing: Vec<String> = r
                .checks
                .iter()
                .filter(|(_, v)| *v != "ok")
                .map(|(k, v)| format!("{k}: {v}"))
                .collect();
            format!("not ready: {}", failing.join("; "))
        };
        let mut message = "WATCHDOG=1".to_owned();
        if status != last_status {
            message.push_str(&format!("\nSTATUS={status}"));
            last_status = status;
        }
        send(&message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interval_is_half_the_watchdog_time_and_only_for_this_process() {
        assert_eq!(
            interval(Some("10000000"), None, 7),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            interval(Some("10000000"), Some("7"), 7),
            Some(Duration::from_secs(5))
        );
        assert_eq!(interval(Some("10000000"), Some("8"), 7), None);
        assert_eq!(interval(None, None, 7), None);
        assert_eq!(interval(Some("0"), None, 7), None);
        assert_eq!(interval(Some("soon"), None, 7), None);
    }

    #[test]
    fn a_message_reaches_a_path_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let server = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
        send_to(path.to_str().unwrap(), "READY=1").unwrap();
        let mut buf = [0u8; 64];
        let n = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_message_reaches_an_abstract_socket() {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("gatepass-notify-test-{}", std::process::id());
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let server = std::os::unix::net::UnixDatagram::bind_addr(&addr).unwrap();
        send_to(&format!("@{name}"), "WATCHDOG=1").unwrap();
        let mut buf = [0u8; 64];
        let n = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"WATCHDOG=1");
    }
}
