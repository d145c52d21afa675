//! The README's tour, run as written: every `$` command of its "A short tour" section, in
//! order, in one shell (the binaries of this build on `PATH`, a free port for 8543), and each
//! output checked against the one shown — the same words, where ids, times, relative times,
//! numbers and the user name may differ, and the rest of a line after a "…" is not compared.

use std::process::Command;

use crate::support::{bin_dir, current_user};

/// One `$` command of the README and the output lines shown under it.
#[derive(Debug)]
struct Step {
    command: String,
    shown: Vec<String>,
}

/// The steps of the README section titled `title`, from its code blocks.
fn steps(readme: &str, title: &str) -> Vec<Step> {
    let start = readme.find(&format!("## {title}")).expect("the section");
    let end = readme[start + 3..]
        .find("\n## ")
        .map_or(readme.len(), |e| start + 3 + e);
    let mut steps: Vec<Step> = Vec::new();
    let mut in_block = false;
    let mut continued = false;
    for line in readme[start..end].lines() {
        if line.starts_with("```") {
            in_block = !in_block;
            continued = false;
            continue;
        }
        if !in_block {
            continue;
        }
        if continued && let Some(last) = steps.last_mut() {
            last.command.push('\n');
            last.command.push_str(line);
            continued = line.ends_with('\\');
        } else if let Some(cmd) = line.strip_prefix("$ ") {
            steps.push(Step {
                command: cmd.to_owned(),
                shown: Vec::new(),
            });
            continued = cmd.ends_with('\\');
        } else if !line.trim().is_empty()
            && let Some(last) = steps.last_mut()
        {
            last.shown.push(line.to_owned());
        }
    }
    steps
}

/// A line's words as compared: relative times as one word, ids (a run of 12 or more letters
/// and digits) as one, every number as 0.
fn shape(line: &str) -> Vec<(String, String)> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let unit = |w: &str| {
        w.strip_suffix(['s', 'm', 'h', 'd', 'y'])
            .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let (w, next) = (words[i], words.get(i + 1).copied().unwrap_or(""));
        if (w == "just" && next == "now") || (w == "in" && unit(next)) || (unit(w) && next == "ago")
        {
            out.push(("<when>".to_owned(), format!("{w} {next}")));
            i += 2;
            continue;
        }
        out.push((normalised(w), w.to_owned()));
        i += 1;
    }
    out
}

fn normalised(word: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = word.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_alphanumeric() {
            let run: String = chars[i..]
                .iter()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            let n = run.chars().count();
            if n >= 12 {
                out.push_str("<id>");
            } else if run.chars().all(|c| c.is_ascii_digit()) {
                out.push('0');
            } else {
                // Letters, and numbers inside words (T18, 8543Z) as 0.
                let mut last_digit = false;
                for c in run.chars() {
                    if c.is_ascii_digit() {
                        if !last_digit {
                            out.push('0');
                        }
                        last_digit = true;
                    } else {
                        out.push(c);
                        last_digit = false;
                    }
                }
            }
            i += n;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// Whether `actual` has the shape of `shown`: the same words, up to a word with "…" in
/// `shown`, whose text before the "…" (less the letters and digits the "…" cuts) must start
/// the actual word; the rest of the line is not compared.
fn matches(shown: &str, actual: &str) -> bool {
    let (want, have) = (shape(shown), shape(actual));
    for (i, (w, raw)) in want.iter().enumerate() {
        let Some((h, h_raw)) = have.get(i) else {
            return false;
        };
        if let Some((head, _)) = raw.split_once('…') {
            let literal = head.trim_end_matches(|c: char| c.is_ascii_alphanumeric());
            return h_raw.starts_with(literal);
        }
        if w != h {
            return false;
        }
    }
    want.len() == have.len()
}

#[test]
fn the_readme_tour_runs_as_written() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("the README");
    let steps = steps(&readme, "A short tour");
    assert!(steps.len() >= 10, "{steps:?}");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let user = current_user();
    let dir = tempfile::tempdir().unwrap();
    // On the way out the daemon is stopped and waited for, so a second run finds its socket
    // and port free.
    let mut script =
        String::from("trap 'kill $(jobs -p) 2>/dev/null; wait' EXIT\ncd \"$(dirname \"$0\")\"\n");
    for (i, s) in steps.iter().enumerate() {
        let cmd = s.command.replace("8543", &port);
        let cmd = if cmd.starts_with("cargo build") {
            // Built already, by this test run.
            ":".to_owned()
        } else if cmd.starts_with("export PATH=") {
            format!("export PATH=\"{}:$PATH\"", bin_dir().display())
        } else if let Some(bg) = cmd.strip_suffix('&') {
            // A background daemon: its first line, once it is ready (bounded wait). Only its
            // standard output is caught here: what it writes to standard error (its log)
            // lands among the commands' output unless the README sends it elsewhere.
            format!(
                "{bg} >bg.out &\nfor _ in $(seq 300); do grep -q ready bg.out && break; sleep 0.1; done\ncat bg.out"
            )
        } else {
            cmd
        };
        script.push_str(&format!(
            "echo '@@step {i}@@'\n{{\n{cmd}\n}} 2>&1\necho \"@@rc $?@@\"\n"
        ));
    }
    let path = dir.path().join("tour.sh");
    std::fs::write(&path, &script).unwrap();
    // Twice in the same folder: the tour can be run again as it is (the second run could not
    // mint `web-rollout` again, a revoked token keeping its name).
    for run in 1..=2 {
        let out = Command::new("bash")
            .arg(&path)
            .env_remove("GATEPASS_SOCKET")
            .env_remove("GATEPASS_SERVER")
            .env("GATEPASS_SYSTEM_SOCKET", dir.path().join("no-system.sock"))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        check_run(run, &steps, &text, &user);
    }
}

/// One run's output against the README: every step succeeded and printed lines shaped like
/// those shown, and the background daemon's log stayed out of the terminal.
fn check_run(run: usize, steps: &[Step], text: &str, user: &str) {
    let log_line = text.lines().find(|l| {
        [" INFO ", " WARN ", " ERROR "]
            .iter()
            .any(|lvl| l.contains(lvl))
    });
    assert!(
        log_line.is_none(),
        "run {run}: the daemon logs into the terminal: {log_line:?}\n{text}"
    );
    for (i, s) in steps.iter().enumerate() {
        let from = text
            .find(&format!("@@step {i}@@"))
            .unwrap_or_else(|| panic!("step {i} ({}) did not run:\n{text}", s.command));
        let part = &text[from..];
        let until = part.find("@@rc ").unwrap_or(part.len());
        let output: Vec<&str> = part[..until].lines().skip(1).collect();
        let rc = part[until..].split(['@', ' ']).nth(3).unwrap_or("?");
        assert_eq!(
            rc,
            "0",
            "run {run}, step {i}: `{}` failed:\n{}",
            s.command,
            output.join("\n")
        );
        for shown in &s.shown {
            let shown = shown.replace("root", user);
            assert!(
                output.iter().any(|a| matches(&shown, a)),
                "run {run}, step {i}: `{}`: no line shaped like\n  {shown}\nin its output:\n{}",
                s.command,
                output.join("\n")
            );
        }
    }
}

#[test]
fn shapes_compare_words_not_ids_times_or_numbers() {
    assert!(matches(
        "web-rollout  tiJKvYTjYjd7  active  1/10  1      just now   web    root   in 1d",
        "web-rollout  Zx81kkq0PPaa  active  1/10  1      6s ago   web    root   in 1d"
    ));
    assert!(matches(
        "ca_pin=sha256:1fcd6456…",
        "ca_pin=sha256:99aa00ff1122"
    ));
    assert!(!matches(
        "audit log OK: 4 events",
        "audit log BAD: 4 events"
    ));
    assert!(!matches("a b", "a b c"));
}
