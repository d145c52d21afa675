//! `gatepass`: the operator's console and command line. With a subcommand it runs one
//! scriptable command; with none it opens the console against the daemon (starting a local one
//! when none is running).

use gatepass::{cli, commands, exit};

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: cli::Cli = gatepass_protocol::cli::parse_or_exit("gatepass");
    #[cfg(feature = "embedded-daemon")]
    if let Some(cli::Command::InternalDaemon(d)) = args.command {
        // The console's embedded daemon: the same code as the gatepassd binary.
        gatepassd::tune_allocator();
        return match gatepassd::launcher::run(d) {
            Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(exit::FAILURE)),
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
        // `gatepass tokens list --json | head`: the reader has all it wanted.
        Err(e) if e.reader_went_away() => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gatepass: {}", e.one_line());
            ExitCode::from(e.exit_code())
        }
    }
}
