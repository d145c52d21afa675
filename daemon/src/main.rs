//! `gatepassd`: parses its flags and hands over to `gatepassd::launcher`.

fn main() {
    gatepassd::tune_allocator();
    let args: gatepassd::launcher::Args = gatepassd::launcher::parse_or_exit("gatepassd");
    match gatepassd::launcher::run(args) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("gatepassd: {e}");
            std::process::exit(1);
        }
    }
}
