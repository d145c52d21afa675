//! `gatepass`: the operator's console and command line, as a library so the binary, the
//! console benchmark and the tests share one implementation. With a subcommand the binary runs
//! one scriptable command (`commands`); with none it opens the interactive console (`console`).

pub mod cli;
pub mod commands;
pub mod console;
pub mod error;
pub mod local;
pub mod output;

/// Exit codes scripts can rely on.
pub mod exit {
    /// The daemon answered with an error, or the command failed.
    pub const FAILURE: u8 = 1;
    /// Bad command-line usage (clap uses 2 as well).
    pub const USAGE: u8 = 2;
    /// The daemon could not be reached.
    pub const UNREACHABLE: u8 = 3;
}
