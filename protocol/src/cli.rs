//! The command lines' shared habits (`gatepass` and `gatepassd`): a usage mistake is told in
//! one line that never echoes a token, and exits with the usage code 2.

use clap::Parser;

/// Parses the command line; a mistake is told in one line (clap's own message spans several) and
/// exits with 2, the usage code. Help and version are printed as clap prints them.
pub fn parse_or_exit<P: Parser>(program: &str) -> P {
    match P::try_parse() {
        Ok(p) => p,
        Err(e) if !e.use_stderr() => e.exit(),
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            e.exit()
        }
        Err(e) => {
            eprintln!("{program}: {}", one_line(&e));
            std::process::exit(2)
        }
    }
}

/// A clap error as one line: the message (with what it lists), its tips, and the usage. clap
/// quotes the argument it did not expect: a token pasted onto the command line would be echoed
/// whole, so what follows a token's public id is cut (`gpa_<id>…`), as lists show tokens.
pub fn one_line(e: &clap::Error) -> String {
    let line = one_line_uncut(e);
    crate::token::replace_secrets(&line, |id, _| format!("{id}…")).unwrap_or(line)
}

fn one_line_uncut(e: &clap::Error) -> String {
    let text = e.to_string();
    let mut message = Vec::new();
    let mut tips = Vec::new();
    let mut usage = None;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with("For more information") {
            continue;
        }
        if let Some(u) = trimmed.strip_prefix("Usage:") {
            usage = Some(u.trim().to_owned());
        } else if let Some(t) = trimmed.strip_prefix("tip:") {
            tips.push(t.trim().to_owned());
        } else if usage.is_none() {
            message.push(
                trimmed
                    .strip_prefix("error:")
                    .unwrap_or(trimmed)
                    .trim()
                    .to_owned(),
            );
        }
    }
    let mut out = message.join(" ");
    for t in tips {
        out.push_str("; ");
        out.push_str(&t);
    }
    match usage {
        Some(u) => out.push_str(&format!(" (usage: {u}; see --help)")),
        None => out.push_str(" (see --help)"),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    #[command(name = "prog")]
    struct Demo {
        #[arg(long)]
        name: String,
        #[arg(long)]
        uses: Option<u32>,
        id: Option<String>,
    }

    fn error(args: &[&str]) -> String {
        let e = Demo::try_parse_from(std::iter::once("prog").chain(args.iter().copied()))
            .expect_err("a usage error");
        one_line(&e)
    }

    #[test]
    fn a_usage_error_is_one_line_with_what_it_lists_and_the_usage() {
        let missing = error(&[]);
        assert!(!missing.contains('\n'), "{missing}");
        assert!(
            missing.contains("required arguments were not provided: --name <NAME>"),
            "{missing}"
        );
        assert!(
            missing.ends_with("(usage: prog --name <NAME> [ID]; see --help)"),
            "{missing}"
        );
        let unknown = error(&["--name", "a", "--usse", "3"]);
        assert!(!unknown.contains('\n'), "{unknown}");
        assert!(
            unknown.starts_with("unexpected argument '--usse' found;"),
            "{unknown}"
        );
        assert!(unknown.contains("--uses"), "the tip is kept: {unknown}");
        let bad = error(&["--name", "a", "--uses", "many"]);
        assert!(!bad.contains('\n'), "{bad}");
        assert!(
            bad.contains("invalid value 'many' for '--uses <USES>'"),
            "{bad}"
        );
    }

    /// clap quotes what it did not expect: a token pasted there is cut after its public id.
    #[test]
    fn a_token_in_a_usage_error_is_cut_after_its_id() {
        for kind in [crate::TokenKind::Api, crate::TokenKind::Enrollment] {
            let t = crate::token::generate(kind).unwrap();
            let whole = t.expose();
            for args in [
                vec!["--name", "a", "x", whole],
                vec!["--name", "a", "--uses", whole],
                vec!["--name", "a", "x", &whole[4..]],
            ] {
                let e = error(&args);
                assert!(!e.contains(&whole[16..]), "{e}");
                assert!(e.contains(&format!("{}…", t.id())), "{e}");
            }
        }
    }
}
