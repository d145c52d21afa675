//! The daemon library's errors: `Error` for start-up and operation, `StoreError` for the storage
//! seam (callers react to "not found" or "name taken" differently from a broken disk).

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("config {path}: {message}")]
    Config { path: PathBuf, message: String },
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error(
        "the data folder {0} is in use by another gatepassd (stop it first, or pass another --data-dir)"
    )]
    InUse(PathBuf),
    #[error("another gatepassd already listens on {0}")]
    SocketBusy(PathBuf),
    #[error("certificates: {0}")]
    Certificates(String),
    #[error("random source: {0}")]
    Random(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Error {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

/// What the storage layer can answer besides success.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no token {0}")]
    NotFound(String),
    #[error("a token named {0:?} already exists")]
    NameTaken(String),
    /// The change is not allowed in the token's current state (e.g. enabling a revoked token).
    #[error("{0}")]
    Conflict(String),
    /// The database itself failed; the batch it was in was not committed.
    #[error("storage: {0}")]
    Backend(String),
}

impl StoreError {
    /// True for errors that must abort the whole write batch.
    pub fn is_backend(&self) -> bool {
        matches!(self, StoreError::Backend(_))
    }
}

macro_rules! backend_from {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                StoreError::Backend(e.to_string())
            }
        }
    )*};
}
backend_from!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::SetDurabilityError,
    serde_json::Error,
    std::io::Error
);
