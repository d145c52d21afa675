//! Where the daemon keeps its data and where the CLI looks for its socket, so both agree without
//! configuration. Root uses system folders; other users their own XDG folders.

use std::path::PathBuf;

/// Whether this process runs as root (its defaults are the system's paths).
pub fn is_root() -> bool {
    // Reading the effective uid needs no unsafe code: /proc/self is owned by it.
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}

fn home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp"))
}

/// `/var/lib/gatepass` for root, else `$XDG_DATA_HOME/gatepass` (`~/.local/share/gatepass`).
pub fn default_data_dir() -> PathBuf {
    if is_root() {
        return PathBuf::from("/var/lib/gatepass");
    }
    match std::env::var_os("XDG_DATA_HOME") {
        Some(d) if !d.is_empty() => PathBuf::from(d).join("gatepass"),
        _ => home().join(".local/share/gatepass"),
    }
}

/// `/run/gatepass/gatepass.sock` for root, else `$XDG_RUNTIME_DIR/gatepass/gatepass.sock`, else
/// a `run` folder inside the data folder.
pub fn default_socket() -> PathBuf {
    if is_root() {
        return PathBuf::from("/run/gatepass/gatepass.sock");
    }
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d).join("gatepass/gatepass.sock"),
        _ => default_data_dir().join("run/gatepass.sock"),
    }
}

/// Where a daemon run as a system service listens: `/run/gatepass/gatepass.sock` (root's
/// default), or `GATEPASS_SYSTEM_SOCKET` where a package puts it elsewhere. The console of any
/// user looks here before thinking of starting a daemon of its own.
pub fn system_socket() -> PathBuf {
    match std::env::var_os("GATEPASS_SYSTEM_SOCKET") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from("/run/gatepass/gatepass.sock"),
    }
}

/// The default redeem listener.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8443";

/// Makes `path` (and its parents) as a folder only its owner may enter (0700), if it is not one
/// already.
pub fn private_dir(path: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
}

/// The name of the user with `uid`, or `uid:N` when it has none.
#[cfg(feature = "cli")]
pub fn user_name(uid: u32) -> String {
    match nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)) {
        Ok(Some(u)) => u.name,
        _ => format!("uid:{uid}"),
    }
}
