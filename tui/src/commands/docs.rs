//! `gatepass completions SHELL` and `gatepass man`: shell completion scripts (clap_complete)
//! and the man page (clap_mangen), made from the same clap grammar that parses the command
//! line. Copies live in `assets/completions/` and `assets/man/`; a test keeps them current.

use clap::CommandFactory;
use clap_mangen::roff::{Roff, bold, italic, roman};

use crate::cli::Cli;

/// The grammar users see: `Cli` less its hidden commands (`__daemon`, which the console runs
/// to start a daemon of its own). clap_complete and clap_mangen list hidden subcommands, so
/// the top level is made again without them; everything below it is clap's own.
pub fn public_command() -> clap::Command {
    let full = Cli::command();
    let mut cmd = clap::Command::new("gatepass")
        .version(env!("CARGO_PKG_VERSION"))
        .about(full.get_about().cloned().unwrap_or_default())
        .after_help(full.get_after_help().cloned().unwrap_or_default())
        .args(full.get_arguments().cloned());
    for group in full.get_groups() {
        cmd = cmd.group(group.clone());
    }
    cmd.subcommands(full.get_subcommands().filter(|s| !s.is_hide_set()).cloned())
}

/// The completion script for `shell`.
pub fn completions(shell: clap_complete::Shell) -> String {
    let mut cmd = public_command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "gatepass", &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// The man page, in roff. Its SYNOPSIS is written here: clap_mangen's names every option
/// without its value (`[--socket]`, as if it were a flag).
pub fn man_page() -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    clap_mangen::Man::new(public_command()).render(&mut out)?;
    let page = String::from_utf8_lossy(&out).into_owned();
    let mut lines: Vec<String> = page.lines().map(str::to_owned).collect();
    if let Some(at) = lines.iter().position(|l| l == ".SH SYNOPSIS")
        && at + 1 < lines.len()
    {
        lines[at + 1] = synopsis();
    }
    let mut page = lines.join("\n");
    page.push('\n');
    Ok(page.into_bytes())
}

/// `gatepass [--socket PATH] [--server URL] … [command]` in roff: each option with its value's
/// name, as `--help` shows them.
fn synopsis() -> String {
    let mut cmd = public_command();
    cmd.build();
    let mut line = vec![bold("gatepass"), roman(" ")];
    for a in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
        let Some(long) = a.get_long() else {
            continue;
        };
        line.push(roman("["));
        if let Some(short) = a.get_short() {
            line.push(bold(format!("-{short}")));
            line.push(roman("|"));
        }
        line.push(bold(format!("--{long}")));
        if a.get_action().takes_values() {
            let value = a
                .get_value_names()
                .map(|v| v.iter().map(|n| n.as_str()).collect::<Vec<_>>().join(" "))
                .unwrap_or_else(|| a.get_id().as_str().to_uppercase());
            line.push(roman(" "));
            line.push(italic(value));
        }
        line.push(roman("] "));
    }
    line.push(roman("["));
    line.push(italic("command"));
    line.push(roman("]"));
    let rendered = Roff::new().text(line).render();
    // Without the preamble every roff document starts with (the page has it already).
    rendered
        .lines()
        .filter(|l| !l.starts_with(".ie ") && !l.starts_with(".el "))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;
    use clap_complete::Generator;
    use std::path::PathBuf;

    fn assets() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../assets")
    }

    /// The generated files in `assets/` are what this build would generate: a changed flag
    /// fails here until they are made again with
    /// `GATEPASS_WRITE_ASSETS=1 cargo test -p gatepass the_generated_assets_are_current`.
    #[test]
    fn the_generated_assets_are_current() -> std::io::Result<()> {
        let write = std::env::var_os("GATEPASS_WRITE_ASSETS").is_some();
        let mut files: Vec<(PathBuf, Vec<u8>)> = clap_complete::Shell::value_variants()
            .iter()
            .map(|sh| {
                let name = sh.file_name("gatepass");
                (
                    assets().join("completions").join(name),
                    completions(*sh).into_bytes(),
                )
            })
            .collect();
        files.push((assets().join("man/gatepass.1"), man_page()?));
        for (path, want) in files {
            if write {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                std::fs::write(&path, &want)?;
                continue;
            }
            let have = std::fs::read(&path).unwrap_or_default();
            assert!(
                have == want,
                "{} is not current: run GATEPASS_WRITE_ASSETS=1 cargo test -p gatepass \
                 the_generated_assets_are_current",
                path.display()
            );
        }
        Ok(())
    }

    /// The hidden `__daemon` command is in no completion script and not in the man page (bash
    /// offered it after `gatepass <Tab>`).
    #[test]
    fn hidden_commands_are_not_completed_or_documented() -> std::io::Result<()> {
        for sh in clap_complete::Shell::value_variants() {
            let script = completions(*sh);
            assert!(!script.contains("__daemon"), "{sh}");
            assert!(script.contains("tokens"), "{sh}");
        }
        let man = String::from_utf8_lossy(&man_page()?).into_owned();
        assert!(!man.contains("__daemon"), "{man}");
        Ok(())
    }

    /// The man page's SYNOPSIS names each option's value (`--socket PATH`; it read
    /// `[--socket]`, as if it took none) and keeps flags bare.
    #[test]
    fn the_man_synopsis_names_option_values() -> std::io::Result<()> {
        let man = String::from_utf8_lossy(&man_page()?).into_owned();
        let at = man.find(".SH SYNOPSIS").expect("a synopsis");
        let line = man[at..].lines().nth(1).unwrap_or_default();
        for want in [
            r"[\fB\-\-socket\fR \fIPATH\fR]",
            r"[\fB\-\-server\fR \fIURL\fR]",
            r"[\fB\-\-ca\-pin\fR \fIPIN\fR]",
            r"[\fB\-\-readonly\fR]",
        ] {
            assert!(line.contains(want), "{want} not in {line}");
        }
        Ok(())
    }

    #[test]
    fn completions_know_the_commands_and_the_man_page_the_options() -> std::io::Result<()> {
        let bash = completions(clap_complete::Shell::Bash);
        assert!(
            bash.contains("tokens") && bash.contains("--ca-pin"),
            "{bash}"
        );
        let man = String::from_utf8_lossy(&man_page()?).into_owned();
        assert!(
            man.contains(".TH gatepass") && man.contains("tokens"),
            "{man}"
        );
        Ok(())
    }
}
