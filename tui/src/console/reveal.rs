//! The one-time reveal of a new token: the secret (wiped when it closes), the host command,
//! copying (`c`, `j`), writing to a file in the private folder (`w`), and closing (`Enter`).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use zeroize::Zeroizing;

use super::app::*;
use super::keymap::Action;
use super::theme::Theme;
use super::widgets::*;
use crate::output;

/// The one-time reveal of a new token. The secret lives only here and is wiped when the
/// reveal closes.
pub struct Reveal {
    pub id: String,
    pub name: String,
    pub secret: Zeroizing<String>,
    pub join_command: String,
    pub note: Option<Flash>,
}

impl std::fmt::Debug for Reveal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reveal")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("secret", &"<redacted>")
            .finish()
    }
}

pub(super) fn reveal_key(app: &mut App, action: Option<Action>) -> Vec<Cmd> {
    let Some(Modal::Reveal(r)) = &mut app.modal else {
        return Vec::new();
    };
    match action {
        Some(Action::Copy) => {
            r.note = flash(Level::Info, "Copying…");
            vec![Cmd::Copy {
                text: r.secret.clone(),
                what: "the token",
            }]
        }
        Some(Action::CopyCommand) => {
            r.note = flash(Level::Info, "Copying the host command…");
            vec![Cmd::Copy {
                text: Zeroizing::new(r.join_command.clone()),
                what: "the host command",
            }]
        }
        Some(Action::WriteFile) => vec![Cmd::WriteSecret {
            name: r.name.clone(),
            secret: r.secret.clone(),
        }],
        Some(Action::Acknowledge) => {
            let name = r.name.clone();
            // Dropping the reveal wipes the secret (Zeroizing); the screen is cleared so no
            // cell of it survives in the terminal.
            app.modal = None;
            app.flash = flash(
                Level::Ok,
                format!(
                    "Created {}. Its token is gone from this console.",
                    output::name(&name)
                ),
            );
            vec![Cmd::ClearScreen]
        }
        _ => {
            app.dirty = false;
            Vec::new()
        }
    }
}

pub(super) fn set_reveal_note(app: &mut App, level: Level, text: String) {
    if let Some(Modal::Reveal(r)) = &mut app.modal {
        r.note = flash(level, text);
    } else {
        app.flash = flash(level, text);
    }
}

pub(super) fn draw_reveal(f: &mut Frame<'_>, area: Rect, th: Theme, r: &Reveal) {
    // The whole width (the host command is long, and every column spared keeps it on one
    // line) and every row but the footer's, which shows the reveal's keys: once, and however
    // small the terminal, with the key that closes it.
    let above_footer = Rect::new(area.x, area.y, area.width, area.height.saturating_sub(1));
    let r_area = centered(above_footer, area.width, 16);
    f.render_widget(Clear, r_area);
    // Top and bottom rules only: the token's row holds nothing but the token, so selecting it
    // with the mouse picks up no border.
    let block = Block::new()
        .borders(Borders::TOP | Borders::BOTTOM)
        .title(Span::styled(
            format!(" Token created: {} ", r.name),
            th.title(),
        ));
    let inner = block.inner(r_area);
    f.render_widget(block, r_area);
    // What shows, by priority: the token, the host command and the copy message whole; the
    // blank lines between the parts give way first, then the warning's second sentence.
    let width = usize::from(inner.width);
    let rows = |text: &str| {
        let mut v = Vec::new();
        hanging(&mut v, Span::raw(""), text, width);
        v.len()
    };
    let warn_long = "This is the only time the token is shown. It cannot be recovered later.";
    let warn_short = "This is the only time the token is shown.";
    let (command, whole) = shell_lines(&r.join_command, width);
    // An argument wider than the screen (the CA pin at 60 columns) wraps where the terminal
    // puts it, and a mouse would copy that break: then `j` is the way to copy it.
    let on_host = if whole {
        "On the host, run this and paste the token at its prompt (j copies it):"
    } else {
        "On the host, run this and paste the token at its prompt. Too wide to select here: j \
         copies it whole."
    };
    let note_rows = r.note.as_ref().map_or(0, |n| rows(&format!(" {}", n.text)));
    let command_rows: usize = command
        .iter()
        .map(|l| output::width(l).div_ceil(width.max(1)).max(1))
        .sum();
    let fixed = 1 + rows(on_host) + command_rows + note_rows;
    let height = usize::from(inner.height);
    let warn = if fixed + rows(warn_long) <= height {
        warn_long
    } else {
        warn_short
    };
    let roomy = fixed + rows(warn) + 3 <= height;
    let gap = |lines: &mut Vec<Line<'static>>| {
        if roomy {
            lines.push(Line::raw(""));
        }
    };
    let mut lines = vec![Line::styled(warn, th.warn())];
    gap(&mut lines);
    lines.push(Line::styled(r.secret.as_str().to_owned(), th.secret()));
    gap(&mut lines);
    lines.extend(hanging_lines(on_host, width));
    lines.extend(command.into_iter().map(Line::raw));
    gap(&mut lines);
    if let Some(n) = &r.note {
        lines.push(flash_line(n, th));
    }
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
}

/// `on_host` as rows of `width`, wrapped at spaces.
fn hanging_lines(text: &str, width: usize) -> Vec<Line<'static>> {
    let mut v = Vec::new();
    hanging(&mut v, Span::raw(""), text, width);
    v
}

/// A shell command laid out to be selected with a mouse and pasted whole: broken only between
/// arguments, each line but the last ending in ` \` (a shell continuation) and the next
/// indented, an option kept beside its value where they fit together. The flag says whether
/// every line fits in `width` (a single argument may be wider still).
pub(super) fn shell_lines(cmd: &str, width: usize) -> (Vec<String>, bool) {
    const INDENT: &str = "  ";
    const CONT: &str = " \\";
    let args = shell_words(cmd);
    // Options with their values, as units that break apart only if they must.
    let mut units: Vec<Vec<&str>> = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        match args.get(i + 1) {
            Some(v) if a.starts_with("--") && !a.contains('=') && !v.starts_with('-') => {
                units.push(vec![a, v.as_str()]);
                i += 2;
            }
            _ => {
                units.push(vec![a]);
                i += 1;
            }
        }
    }
    let w = output::width;
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    let count = units.len();
    for (n, unit) in units.into_iter().enumerate() {
        let last = n + 1 == count;
        let tail = if last { 0 } else { CONT.len() };
        let joined = unit.join(" ");
        if line.is_empty() || line == INDENT {
            line.push_str(&joined);
        } else if w(&line) + 1 + w(&joined) + tail <= width {
            line.push(' ');
            line.push_str(&joined);
        } else {
            lines.push(std::mem::replace(&mut line, INDENT.to_owned()));
            // The option and its value apart, if together they are too wide for a line.
            if unit.len() == 2 && w(INDENT) + w(&joined) + tail > width {
                line.push_str(unit[0]);
                lines.push(std::mem::replace(&mut line, INDENT.to_owned()));
                line.push_str(unit[1]);
            } else {
                line.push_str(&joined);
            }
        }
    }
    lines.push(line);
    let n = lines.len();
    for l in lines.iter_mut().take(n - 1) {
        l.push_str(CONT);
    }
    let whole = lines.iter().all(|l| w(l) <= width);
    (lines, whole)
}

/// The words of a command line; a quoted part (`'…'` or `"…"`) stays in its word.
fn shell_words(cmd: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    for c in cmd.chars() {
        match (quote, c) {
            (None, c) if c.is_whitespace() => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            (None, '\'' | '"') => {
                quote = Some(c);
                word.push(c);
            }
            (Some(q), c) if c == q => {
                quote = None;
                word.push(c);
            }
            _ => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

#[cfg(test)]
mod tests {
    use crate::console::app::{Msg, update};
    use crate::console::fixtures::*;
    use crossterm::event::KeyCode;
    use gatepass_protocol::CreateTokenResponse;

    /// The host command breaks only between arguments, with a shell continuation, so a
    /// mouse selection pastes as one command (it was hard-wrapped mid-argument: `--ca-pin` and
    /// its pin apart at 100 columns, the pin itself cut at 60).
    #[test]
    fn the_host_command_breaks_between_arguments_with_continuations() {
        use super::shell_lines;
        let pin = format!("sha256:{}", "0aecc1d8".repeat(8));
        let cmd = format!(
            "gatepass redeem --server https://gate.example:8443 --ca-pin {pin} --out /etc/gatepass"
        );
        let joined = |lines: &[String]| {
            lines
                .iter()
                .map(|l| l.trim_end_matches(" \\").trim_start())
                .collect::<Vec<_>>()
                .join(" ")
        };
        for width in [60, 80, 100, 120, 200] {
            let (lines, whole) = shell_lines(&cmd, width);
            assert_eq!(joined(&lines), cmd, "{width}: {lines:?}");
            let n = lines.len();
            for (i, l) in lines.iter().enumerate() {
                assert_eq!(l.ends_with(" \\"), i + 1 < n, "{width}: {lines:?}");
                assert_eq!(l.starts_with("  "), i > 0, "{width}: {lines:?}");
                // Every argument whole on its line.
                for word in l.split_whitespace().filter(|w| *w != "\\") {
                    assert!(cmd.split(' ').any(|a| a == word), "{width}: {word}");
                }
            }
            assert_eq!(whole, lines.iter().all(|l| l.chars().count() <= width));
        }
        // Wide enough: one line, as the daemon gives it.
        assert_eq!(shell_lines(&cmd, 200), (vec![cmd.clone()], true));
        // 100 columns: the option beside its pin.
        let (lines, whole) = shell_lines(&cmd, 100);
        assert!(
            whole && lines.iter().any(|l| l.contains(&format!("--ca-pin {pin}"))),
            "{lines:?}"
        );
        // 60 columns: the pin alone is wider than the screen.
        let (lines, whole) = shell_lines(&cmd, 60);
        assert!(
            !whole && lines.iter().any(|l| l.contains(&pin)),
            "{lines:?}"
        );
        // A quoted argument stays one.
        let (lines, _) = shell_lines("run --label 'a b c' --x y", 14);
        assert!(lines.iter().any(|l| l.contains("'a b c'")), "{lines:?}");
    }

    /// The token just created is the selected row when the reveal closes (so `x`, `r`, `d` act on
    /// it), also when the create answer comes before the token's change event, as it may on a
    /// loaded machine (the selection used to stay where it was: found by the end-to-end test).
    #[test]
    fn the_new_token_is_selected_whichever_comes_first_answer_or_event() {
        let mut a = app();
        a.refresh();
        let before = a.tokens.selected().map(|t| t.id.clone());
        let mut t = crate::console::fixtures::token("fresh-token", 0);
        t.id = "fReShToKeN01".into();
        assert_ne!(before.as_deref(), Some(t.id.as_str()));
        let resp = CreateTokenResponse {
            token: t.clone(),
            secret: FAKE_SECRET.into(),
            join_command: "gatepass redeem".into(),
        };
        update(&mut a, Msg::Created(Box::new(resp)));
        key(&mut a, KeyCode::Enter);
        a.refresh();
        assert_eq!(
            a.tokens.selected().map(|t| t.name.as_str()),
            Some("fresh-token")
        );
    }
}
