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
    /// A file of the data folder that does not hold what it must (damage at rest, or a file
    /// that does not belong with the others).
    #[error("{}: {problem}", path.display())]
    Damaged { path: PathBuf, problem: String },
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

/// What was looked for and not found: the message names the kind of record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Missing {
    Token(String),
    Host(String),
    ApiToken(String),
}

impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Missing::Token(id) => write!(f, "token {id}"),
            Missing::Host(id) => write!(f, "host {id}"),
            Missing::ApiToken(id) => write!(f, "API token {id}"),
        }
    }
}

/// What the storage layer can answer besides success. The rules' own refusals (`NotFound`,
/// `NameTaken`, `Conflict`, `Invalid`) leave the store as it was; every other variant is a
/// failure of the engine, keeps its source, and aborts the write batch it happened in.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no {0}")]
    NotFound(Missing),
    #[error("a token named {0:?} already exists")]
    NameTaken(String),
    /// The change is not allowed in the token's current state (e.g. enabling a revoked token).
    #[error("{0}")]
    Conflict(String),
    /// A request the rules refuse before anything is written (a name too long, say).
    #[error("{0}")]
    Invalid(String),
    /// The embedded database failed.
    #[error("database: {0}")]
    Redb(#[from] redb::Error),
    /// The PostgreSQL database failed, refused, or could not be reached (said with its causes:
    /// the client's own words are often only "db error").
    #[error("database: {}", with_causes(.0))]
    Postgres(#[from] postgres::Error),
    #[error("storage I/O: {0}")]
    Io(#[from] std::io::Error),
    /// A stored record that does not decode.
    #[error("a stored record is damaged: {0}")]
    Json(#[from] serde_json::Error),
    /// A stored record (or journal record) that does not hold what its format says.
    #[error("damaged at rest: {0}")]
    Damaged(String),
    /// Another write in the same batch failed, and the batch was dropped with it.
    #[error("a storage error aborted the write batch: {0}")]
    Aborted(#[source] std::sync::Arc<StoreError>),
    /// The store cannot take writes any more (its writer stopped after a failure).
    #[error("the store has stopped: {0}")]
    Stopped(String),
}

impl StoreError {
    /// True for failures of the engine (which abort the whole write batch), false for the
    /// rules' own refusals.
    pub fn is_fatal(&self) -> bool {
        !matches!(
            self,
            StoreError::NotFound(_)
                | StoreError::NameTaken(_)
                | StoreError::Conflict(_)
                | StoreError::Invalid(_)
        )
    }
}

impl StoreError {
    /// True when the engine or the disk under it failed (not a record that does not decode):
    /// the store stops rather than going on with a failed disk.
    pub fn is_engine_failure(&self) -> bool {
        match self {
            StoreError::Redb(_)
            | StoreError::Postgres(_)
            | StoreError::Io(_)
            | StoreError::Stopped(_) => true,
            StoreError::Aborted(cause) => cause.is_engine_failure(),
            _ => false,
        }
    }
}

macro_rules! redb_from {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                StoreError::Redb(e.into())
            }
        }
    )*};
}
redb_from!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::SetDurabilityError
);

/// An error and each of its causes, joined by ": " (a cause already in the text is not
/// repeated).
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let said = c.to_string();
        if !text.contains(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        cause = c.source();
    }
    text
}
