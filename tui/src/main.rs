//! `gatepass`: the operator's console and command line. With a subcommand it runs one
//! scriptable command; with none it opens the console against the daemon (starting a local one
//! when none is running).

use gatepass::{cli, commands, exit};

use std::process::ExitCode;

use gatepass_protocol::client::ClientError;

fn main() -> ExitCode {
    let args: cli::Cli = gatepassd::launcher::parse_or_exit("gatepass");
    if let Some(cli::Command::InternalDaemon(d)) = args.command {
        // The console's embedded daemon: the same code as the gatepassd binary.
        gatepassd::tune_allocator();
        return match gatepassd::launcher::run(d) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("gatepassd: {e}");
                ExitCode::from(exit::FAILURE)
            }
        };
    }
    // Read while the process has one thread: the only time it can be read soundly.
    gatepass::console::init_local_offset();
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
        Err(e) if reader_went_away(&e) => {
            // `gatepass tokens list --json | head`: the reader has all it wanted.
            ExitCode::SUCCESS
        }
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

/// Whether writing the output failed only because whoever reads it closed the pipe (not a
/// connection to the daemon breaking).
fn reader_went_away(e: &anyhow::Error) -> bool {
    let from_daemon = e.chain().any(|c| c.downcast_ref::<ClientError>().is_some());
    !from_daemon
        && e.chain().any(|c| {
            c.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
                || c.downcast_ref::<serde_json::Error>()
                    .and_then(|j| j.io_error_kind())
                    .is_some_and(|k| k == std::io::ErrorKind::BrokenPipe)
        })
}
