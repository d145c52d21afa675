//! `gatepassd`: parses its flags and hands over to `gatepassd::launcher`.

fn main() {
    gatepassd::tune_allocator();
    let args: gatepassd::launcher::Args = gatepassd::launcher::parse_or_exit("gatepassd");
    if let Err(e) = gatepassd::launcher::run(args) {
        eprintln!("gatepassd: {e}");
        std::process::exit(1);
    }
}
