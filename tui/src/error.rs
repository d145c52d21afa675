//! The console's and commands' one error type. Its variant decides the exit code (`main` reads
//! it, never the message): a usage mistake, a daemon that cannot be reached, anything else. The
//! message printed is the error and its causes, outermost first, on one line.

use gatepass_protocol::client::ClientError;
use gatepass_protocol::token::TokenError;

use crate::cli::UsageError;
use crate::exit;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A mistake in how the command was called (exit code 2).
    #[error(transparent)]
    Usage(#[from] UsageError),
    /// The daemon: not reachable (exit code 3), said no, or answered something unreadable.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// A token (an API token given to `--server`) that is not one.
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// Printing JSON (or its output closing).
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// Something this program found wrong itself.
    #[error("{0}")]
    Failed(String),
    /// What was being done when `source` went wrong.
    #[error("{what}")]
    Context {
        what: String,
        #[source]
        source: Box<Error>,
    },
}

impl Error {
    /// The exit code scripts see for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => exit::USAGE,
            Error::Client(c) if c.is_unreachable() => exit::UNREACHABLE,
            Error::Context { source, .. } => source.exit_code(),
            _ => exit::FAILURE,
        }
    }

    /// The message and its causes on one line: "what was done: why: why that". A cause an
    /// error's own message already ends with (`cannot reach HOST: {source}`) is not said twice.
    pub fn one_line(&self) -> String {
        let mut line = self.to_string();
        let mut cause = std::error::Error::source(self);
        while let Some(c) = cause {
            let text = c.to_string();
            if !line.ends_with(&text) {
                line.push_str(": ");
                line.push_str(&text);
            }
            cause = c.source();
        }
        line
    }

    /// Whether writing the output failed only because whoever reads it closed the pipe
    /// (`gatepass tokens list --json | head`), not a connection to the daemon breaking.
    pub fn reader_went_away(&self) -> bool {
        let pipe = |k: Option<std::io::ErrorKind>| k == Some(std::io::ErrorKind::BrokenPipe);
        match self {
            Error::Io(e) => pipe(Some(e.kind())),
            Error::Json(e) => pipe(e.io_error_kind()),
            Error::Context { source, .. } => source.reader_went_away(),
            _ => false,
        }
    }
}

/// Says what was being done when a result failed (the error becomes its cause).
pub trait Context<T> {
    fn context(self, what: impl Into<String>) -> Result<T>;
    fn with_context(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T, E: Into<Error>> Context<T> for std::result::Result<T, E> {
    fn context(self, what: impl Into<String>) -> Result<T> {
        self.map_err(|e| Error::Context {
            what: what.into(),
            source: Box::new(e.into()),
        })
    }

    fn with_context(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| Error::Context {
            what: what(),
            source: Box::new(e.into()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn broken_pipe() -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::BrokenPipe, "closed")
    }

    #[test]
    fn the_exit_code_follows_the_innermost_kind_through_any_context() {
        let usage: Result<()> = Err(UsageError("--uses: bad".into()).into());
        let usage = usage.context("creating").context("outer");
        assert_eq!(usage.map_err(|e| e.exit_code()), Err(exit::USAGE));
        let unreachable = Error::from(ClientError::NotRunning {
            path: "/run/gp.sock".into(),
            cause: std::io::Error::from(std::io::ErrorKind::NotFound),
        });
        assert_eq!(unreachable.exit_code(), exit::UNREACHABLE);
        let wrapped: Result<()> = Err(unreachable);
        assert_eq!(
            wrapped.context("deleting web").map_err(|e| e.exit_code()),
            Err(exit::UNREACHABLE)
        );
        assert_eq!(Error::Failed("no".into()).exit_code(), exit::FAILURE);
        assert_eq!(Error::from(broken_pipe()).exit_code(), exit::FAILURE);
    }

    #[test]
    fn one_line_holds_the_context_then_each_cause() {
        let e: std::io::Result<()> = Err(std::io::Error::other("disk full"));
        let e = e
            .with_context(|| "opening /tmp/log".to_owned())
            .unwrap_err();
        assert_eq!(e.one_line(), "opening /tmp/log: disk full");
        // The daemon not running: its cause inside, the advice last.
        let unreachable = Error::from(ClientError::NotRunning {
            path: "/run/gp.sock".into(),
            cause: std::io::Error::other("refused"),
        });
        let line = unreachable.one_line();
        assert!(
            line.contains("(no answer on /run/gp.sock: refused)")
                && line.ends_with("start it with `gatepassd`"),
            "{line}"
        );
    }

    #[test]
    fn a_cause_the_message_already_holds_is_not_said_twice() {
        let e = Error::from(ClientError::Connect {
            addr: "127.0.0.1:1".into(),
            source: std::io::Error::other("connection refused"),
        });
        let e: Result<()> = Err(e);
        assert_eq!(
            e.context("listing tokens").unwrap_err().one_line(),
            "listing tokens: cannot reach 127.0.0.1:1: connection refused"
        );
    }

    #[test]
    fn only_a_closed_output_pipe_counts_as_the_reader_going_away() {
        assert!(Error::from(broken_pipe()).reader_went_away());
        let json = serde_json::to_writer(Broken, &1).unwrap_err();
        assert!(Error::from(json).reader_went_away());
        let wrapped: std::io::Result<()> = Err(broken_pipe());
        assert!(wrapped.context("printing").unwrap_err().reader_went_away());
        // The daemon's connection breaking is not the reader going away.
        let daemon = Error::from(ClientError::Connect {
            addr: "127.0.0.1:8443".into(),
            source: broken_pipe(),
        });
        assert!(!daemon.reader_went_away());
        assert!(!Error::from(std::io::Error::other("x")).reader_went_away());
    }

    /// A writer whose reader has gone.
    struct Broken;

    impl std::io::Write for Broken {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(broken_pipe())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
}
