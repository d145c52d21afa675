//! Gatepass's shared language: the wire types of the admin and redeem APIs, the token format
//! (generate, parse, checksum), error codes, duration parsing, default paths and, behind the
//! `client` feature, a typed client over the Unix socket and HTTPS.
//!
//! Invariant: this crate knows nothing of axum, redb or ratatui. Without the `client` feature it
//! has no I/O at all, so everything here is tested without sockets.

pub mod binary;
#[cfg(feature = "cli")]
pub mod cli;
pub mod duration;
pub mod error;
pub mod paths;
pub mod rules;
pub mod text;
pub mod token;
pub mod types;

#[cfg(feature = "client")]
pub mod client;

pub use error::{ErrorBody, ErrorCode, ErrorDetail};
pub use token::{ParsedToken, TokenError, TokenKind};
pub use types::*;

/// The error type of this crate's pure parts (the client has its own, `client::ClientError`).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error("invalid duration {input:?}: {reason}")]
    Duration { input: String, reason: &'static str },
    #[error("invalid time {input:?}: expected RFC 3339, e.g. 2030-01-31T18:00:00Z")]
    Time { input: String },
    #[error("damaged binary data: {0}")]
    Binary(&'static str),
}
