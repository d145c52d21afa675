//! The chooser: a short list in a box, for the sort column (`s`), the status filter (`f`) and
//! what `y` copies of the selected token (its id, its name or its host command). Its keys, its
//! drawing and what choosing does.

use gatepass_protocol::WhoAmI;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::Paragraph;
use zeroize::Zeroizing;

use super::app::*;
use super::keymap::Action;
use super::table::StatusFilter;
use super::widgets::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChooserKind {
    Sort,
    Status,
    /// What `y` copies of the selected token: its id, its name or its host command.
    Yank,
}

/// What `y` offers to copy, in the chooser's order.
pub const YANK_CHOICES: [&str; 3] = ["id", "name", "host command"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chooser {
    pub kind: ChooserKind,
    pub cursor: usize,
}

pub(super) fn chooser_key(app: &mut App, action: Option<Action>) -> Vec<Cmd> {
    let Some(Modal::Chooser(c)) = &mut app.modal else {
        return Vec::new();
    };
    let len = match c.kind {
        ChooserKind::Sort => app_columns(app.view).len(),
        ChooserKind::Status => StatusFilter::ALL.len(),
        ChooserKind::Yank => YANK_CHOICES.len(),
    };
    match action {
        Some(Action::Up) => c.cursor = c.cursor.saturating_sub(1),
        Some(Action::Down) => c.cursor = (c.cursor + 1).min(len.saturating_sub(1)),
        Some(Action::Back) => app.modal = None,
        Some(Action::Activate) => {
            let (kind, cursor) = (c.kind, c.cursor);
            app.modal = None;
            match kind {
                ChooserKind::Sort => app.table().sort_by(cursor),
                ChooserKind::Status => {
                    let s = StatusFilter::ALL[cursor.min(StatusFilter::ALL.len() - 1)];
                    app.tokens.set_status(s);
                }
                ChooserKind::Yank => return yank(app, cursor),
            }
        }
        _ => {}
    }
    Vec::new()
}

/// Copies the selected token's id, name or host command (the reveal's clipboard path).
pub(super) fn yank(app: &mut App, choice: usize) -> Vec<Cmd> {
    let Some(t) = app.tokens.selected() else {
        return Vec::new();
    };
    let (text, what) = match choice {
        0 => (t.id.clone(), "the id"),
        1 => (t.name.clone(), "the name"),
        _ => match &app.who {
            Some(w) => (join_command(w), "the host command"),
            None => {
                app.flash = flash(
                    Level::Error,
                    "Not connected: the host command is not known.",
                );
                return Vec::new();
            }
        },
    };
    app.flash = flash(Level::Info, format!("Copying {what}…"));
    vec![Cmd::Copy {
        text: Zeroizing::new(text),
        what,
    }]
}

/// The command a host runs to enroll with this daemon (the token comes from a prompt).
pub fn join_command(w: &WhoAmI) -> String {
    format!(
        "gatepass redeem --server {} --ca-pin {} --out /etc/gatepass",
        w.redeem_url, w.ca_pin
    )
}

pub(super) fn draw_chooser(
    f: &mut Frame<'_>,
    area: Rect,
    app: &App,
    kind: ChooserKind,
    cursor: usize,
) {
    let th = app.theme;
    let (title, items): (&str, Vec<String>) = match kind {
        ChooserKind::Sort => {
            let (cur, desc) = app.table_ref().sort();
            (
                "Sort by",
                app_columns(app.view)
                    .iter()
                    .enumerate()
                    .map(|(i, c)| {
                        if i == cur {
                            format!("{c} {} (again: flip)", if desc { "▼" } else { "▲" })
                        } else {
                            (*c).to_owned()
                        }
                    })
                    .collect(),
            )
        }
        ChooserKind::Status => (
            "Show status",
            StatusFilter::ALL
                .iter()
                .map(|s| s.label().to_owned())
                .collect(),
        ),
        ChooserKind::Yank => (
            "Copy the selected token's",
            super::app::YANK_CHOICES
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
        ),
    };
    let h = items.len() as u16 + 2;
    let r = centered(area, 34, h);
    let inner = popup(f, r, title, th);
    let lines: Vec<Line<'_>> = items
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            let line = Line::from(format!(" {s}"));
            if i == cursor {
                line.style(th.selected())
            } else {
                line
            }
        })
        .collect();
    f.render_widget(Paragraph::new(lines), inner);
}

#[cfg(test)]
mod tests {
    use crate::console::fixtures::*;
    use crossterm::event::KeyCode;

    /// y copies the selected row's id, name or host command, by the reveal's clipboard path.
    #[test]
    fn yank_copies_the_id_the_name_or_the_host_command() {
        use crate::console::app::Cmd;
        let mut a = app();
        ch(&mut a, 'y');
        let s = screen(&mut a, 80, 24);
        assert!(s.contains("host command"), "{s}");
        let cmds = upd(&mut a, KeyCode::Enter);
        assert!(
            matches!(cmds.as_slice(), [Cmd::Copy { what: "the id", text }] if text.as_str() == a.tokens.selected().unwrap().id),
            "{cmds:?}"
        );
        ch(&mut a, 'y');
        key(&mut a, KeyCode::Down);
        key(&mut a, KeyCode::Down);
        let cmds = upd(&mut a, KeyCode::Enter);
        assert!(
            matches!(cmds.as_slice(), [Cmd::Copy { what: "the host command", text }] if text.starts_with("gatepass redeem --server ")),
            "{cmds:?}"
        );
    }
}
