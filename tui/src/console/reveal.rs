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
    let on_host = "On the host, run this and paste the token at its prompt (j copies it):";
    let note_rows = r.note.as_ref().map_or(0, |n| rows(&format!(" {}", n.text)));
    let fixed = 1 + rows(on_host) + rows(&r.join_command) + note_rows;
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
    lines.push(Line::raw(on_host));
    lines.push(Line::raw(r.join_command.clone()));
    gap(&mut lines);
    if let Some(n) = &r.note {
        lines.push(flash_line(n, th));
    }
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
}

#[cfg(test)]
mod tests {
    use crate::console::app::{Msg, update};
    use crate::console::fixtures::*;
    use crossterm::event::KeyCode;
    use gatepass_protocol::CreateTokenResponse;

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
