//! `gatepassd`: parses its flags and hands over to `gatepassd::launcher`.

use clap::Parser;

fn main() {
    gatepassd::tune_allocator();
    let args = gatepassd::launcher::Args::parse();
    if let Err(e) = gatepassd::launcher::run(args) {
        eprintln!("gatepassd: {e}");
        std::process::exit(1);
    }
}
