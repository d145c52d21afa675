//! The keyed hash of token secrets. Only `HMAC-SHA-256(key, token)` is stored; the key lives in
//! its own 0600 file beside the database (not inside it), so a copy of the database alone cannot
//! be used to test guesses. Comparison is constant-time.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use ring::hmac;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::error::Error;

const KEY_LEN: usize = 32;

pub struct SecretKey(hmac::Key);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

impl SecretKey {
    /// Reads the key file, or creates it (0600) with fresh random bytes.
    pub fn load_or_create(path: &Path) -> Result<SecretKey, Error> {
        match std::fs::read(path) {
            Ok(bytes) => {
                let bytes = Zeroizing::new(bytes);
                if bytes.len() != KEY_LEN {
                    return Err(Error::Config {
                        path: path.to_owned(),
                        message: format!("the key file should hold {KEY_LEN} bytes"),
                    });
                }
                let mode = std::fs::metadata(path).map_err(|e| Error::io("key file", e))?;
                if mode.permissions().mode() & 0o077 != 0 {
                    tracing::warn!(path = %path.display(), "key file is readable by others; fixing to 0600");
                    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                        .map_err(|e| Error::io("key file", e))?;
                }
                Ok(SecretKey(hmac::Key::new(hmac::HMAC_SHA256, &bytes)))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
                getrandom::fill(&mut bytes[..]).map_err(|e| Error::Random(e.to_string()))?;
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(path)
                    .map_err(|e| Error::io(format!("creating {}", path.display()), e))?;
                f.write_all(&bytes[..])
                    .and_then(|_| f.sync_all())
                    .map_err(|e| Error::io("key file", e))?;
                Ok(SecretKey(hmac::Key::new(hmac::HMAC_SHA256, &bytes[..])))
            }
            Err(e) => Err(Error::io(format!("reading {}", path.display()), e)),
        }
    }

    /// A key for tests.
    pub fn from_bytes(bytes: &[u8]) -> SecretKey {
        SecretKey(hmac::Key::new(hmac::HMAC_SHA256, bytes))
    }

    /// The keyed hash of a whole token.
    /// A fingerprint of the key that tells keys apart without revealing anything of them: the
    /// keyed hash of a fixed label (what several daemons compare through their database).
    pub fn fingerprint(&self) -> String {
        crate::domain::model::hex(&self.hash("gatepass node key fingerprint"))
    }

    /// A key of its own for sealing the audit chain's head in a shared database: derived from
    /// this one, so it never has to be stored, and unknown to whoever reads the database.
    pub fn seal_key(&self) -> zeroize::Zeroizing<[u8; 32]> {
        zeroize::Zeroizing::new(self.hash("gatepass audit head seal key"))
    }

    pub fn hash(&self, token: &str) -> [u8; 32] {
        let tag = hmac::sign(&self.0, token.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        out
    }
}

/// Constant-time equality of two hashes.
pub fn hash_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_file_is_created_0600_and_reloads_to_the_same_key() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("hmac.key");
        let k1 = SecretKey::load_or_create(&p).unwrap();
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let k2 = SecretKey::load_or_create(&p).unwrap();
        assert!(hash_eq(&k1.hash("gpt_x"), &k2.hash("gpt_x")));
        assert!(!hash_eq(&k1.hash("gpt_x"), &k1.hash("gpt_y")));
        std::fs::write(&p, b"short").unwrap();
        assert!(SecretKey::load_or_create(&p).is_err());
    }
}
