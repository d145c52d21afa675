//! Files the console writes (a revealed token with `w`, a view exported with `o`): always new
//! files, mode 0600, in one private folder (0700) that the console names — never the current
//! folder, which may be a git checkout or a shared directory.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The console's private folder: `$XDG_STATE_HOME/gatepass`, else `~/.local/state/gatepass`.
pub fn private_folder() -> PathBuf {
    match std::env::var_os("XDG_STATE_HOME") {
        Some(d) if !d.is_empty() => PathBuf::from(d).join("gatepass"),
        _ => std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/tmp"))
            .join(".local/state/gatepass"),
    }
}

/// Creates `dir` (and its parents) if needed and makes it 0700; refuses a folder that is not
/// the user's own (a symlink, or another user's).
pub fn ensure_private(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let meta = std::fs::symlink_metadata(dir)?;
    if !meta.is_dir() {
        return Err(std::io::Error::other(format!(
            "{} is not a folder",
            dir.display()
        )));
    }
    let me = std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m));
    if me.is_ok_and(|uid| std::os::unix::fs::MetadataExt::uid(&meta) != uid) {
        return Err(std::io::Error::other(format!(
            "{} belongs to another user",
            dir.display()
        )));
    }
    if meta.permissions().mode() & 0o777 != 0o700 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// `name` with anything but letters, digits, `-`, `_` and `.` replaced by `_`.
fn safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Writes `body` to a new file `STEM.EXT` in `dir` (`STEM-2.EXT`… when taken; never over an
/// existing file), mode 0600, synced. `dir` is made private first.
pub fn write_new(dir: &Path, stem: &str, ext: &str, body: &[u8]) -> std::io::Result<PathBuf> {
    ensure_private(dir)?;
    let stem = safe(stem);
    for n in 1..1000 {
        let file = if n == 1 {
            format!("{stem}.{ext}")
        } else {
            format!("{stem}-{n}.{ext}")
        };
        let path = dir.join(file);
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(mut f) => {
                f.write_all(body)?;
                f.sync_all()?;
                return Ok(path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other("too many files with this name here"))
}

/// Writes a token to a new file `gatepass-token-NAME.txt` in `dir`.
pub fn write_secret(dir: &Path, name: &str, secret: &str) -> std::io::Result<PathBuf> {
    let mut body = zeroize::Zeroizing::new(Vec::with_capacity(secret.len() + 1));
    body.extend_from_slice(secret.as_bytes());
    body.push(b'\n');
    write_new(dir, &format!("gatepass-token-{name}"), "txt", &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_files_are_private_and_never_overwritten() -> std::io::Result<()> {
        let top = std::env::temp_dir().join(format!("gatepass-console-w-{}", std::process::id()));
        let dir = top.join("state/gatepass");
        let a = write_secret(&dir, "web/rollout", "gpt_one")?;
        let b = write_secret(&dir, "web/rollout", "gpt_two")?;
        assert_ne!(a, b);
        assert!(a.ends_with("gatepass-token-web_rollout.txt"));
        assert_eq!(std::fs::read_to_string(&a)?, "gpt_one\n");
        assert_eq!(std::fs::read_to_string(&b)?, "gpt_two\n");
        assert_eq!(std::fs::metadata(&a)?.permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::metadata(&dir)?.permissions().mode() & 0o777, 0o700);
        std::fs::remove_dir_all(&top)
    }

    #[test]
    fn a_loose_private_folder_is_tightened() -> std::io::Result<()> {
        let dir = std::env::temp_dir().join(format!("gatepass-console-m-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))?;
        ensure_private(&dir)?;
        assert_eq!(std::fs::metadata(&dir)?.permissions().mode() & 0o777, 0o700);
        std::fs::remove_dir_all(&dir)
    }

    #[test]
    fn the_private_folder_follows_xdg_state_home_not_the_current_folder() {
        let here = std::env::current_dir().ok();
        let dir = private_folder();
        assert!(dir.ends_with("gatepass"), "{}", dir.display());
        assert_ne!(Some(dir), here);
    }
}
