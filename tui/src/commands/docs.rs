//! `gatepass completions SHELL` and `gatepass man`: shell completion scripts (clap_complete)
//! and the man page (clap_mangen), made from the same clap grammar that parses the command
//! line. Copies live in `assets/completions/` and `assets/man/`; a test keeps them current.

use clap::CommandFactory;

use crate::cli::Cli;

/// The completion script for `shell`.
pub fn completions(shell: clap_complete::Shell) -> String {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "gatepass", &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// The man page, in roff.
pub fn man_page() -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut out)?;
    Ok(out)
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
