//! `gatepass`: the operator's command line. With a subcommand it runs one scriptable command;
//! with none it connects to the daemon (starting a local one when none is running) and shows
//! where things stand.

mod cli;
mod commands;
mod local;
mod output;

use std::process::ExitCode;

use clap::Parser;
use gatepass_protocol::client::ClientError;

/// Exit codes scripts can rely on.
pub mod exit {
    /// The daemon answered with an error, or the command failed.
    pub const FAILURE: u8 = 1;
    /// Bad command-line usage (clap uses 2 as well).
    pub const USAGE: u8 = 2;
    /// The daemon could not be reached.
    pub const UNREACHABLE: u8 = 3;
}

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    if let Some(cli::Command::InternalDaemon(d)) = args.command {
        // The console's embedded daemon: the same code as the gatepassd binary.
        return match gatepassd::launcher::run(d) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("gatepassd: {e}");
                ExitCode::from(exit::FAILURE)
            }
        };
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("gatepass: cannot start: {e}");
            return ExitCode::from(exit::FAILURE);
        }
    };
    match runtime.block_on(commands::dispatch(args)) {
        Ok(code) => code,
        Err(e) => {
            let code = match e.downcast_ref::<ClientError>() {
                Some(c) if c.is_unreachable() => exit::UNREACHABLE,
                _ if e.downcast_ref::<cli::UsageError>().is_some() => exit::USAGE,
                _ => exit::FAILURE,
            };
            // One line: the outermost message, then its causes.
            let msg: Vec<String> = e.chain().map(|c| c.to_string()).collect();
            eprintln!("gatepass: {}", msg.join(": "));
            ExitCode::from(code)
        }
    }
}
