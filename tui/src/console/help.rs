//! The `?` help: every binding of the keymap, by context, scrolled with the arrows and
//! PgUp/PgDn.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::app::*;
use super::keymap::{self, Action};
use super::widgets::*;

pub(super) fn draw_help(f: &mut Frame<'_>, area: Rect, app: &App, scroll: u16) {
    let th = app.theme;
    let r = centered(area, 96, area.height.saturating_sub(2));
    let inner = popup(f, r, "Help — Esc closes", th);
    let mut lines = Vec::new();
    let width = usize::from(inner.width);
    // The view of all tenants mints nothing: n and C are not offered there.
    let hidden: &[Action] = if app.all_tenants() {
        &[Action::New, Action::Clone]
    } else {
        &[]
    };
    for (title, keys) in keymap::help_sections(app.readonly(), hidden) {
        lines.push(Line::styled(title, th.title()));
        for (k, text) in keys {
            let key = format!("  {k}");
            // A key label too long for its column gets a line of its own.
            let first = if key.chars().count() < HELP_KEY_COLUMN {
                format!("{key:<HELP_KEY_COLUMN$}")
            } else {
                lines.push(Line::styled(key, th.key()));
                " ".repeat(HELP_KEY_COLUMN)
            };
            hanging(&mut lines, Span::styled(first, th.key()), text, width);
        }
        lines.push(Line::raw(""));
    }
    lines.push(Line::styled("Columns", th.title()));
    for text in [
        "USES 3/10: redeemed 3 times of 10 (∞: unlimited); a ! means the enrolled hosts differ \
         from the uses (hosts were removed).",
        "Expiring soon: active with less than 24 hours left. Times are relative; details show \
         them in full.",
    ] {
        hanging(&mut lines, Span::raw("  "), text, width);
    }
    f.render_widget(
        Paragraph::new(lines.clone())
            .wrap(Wrap { trim: false })
            .scroll((clamp_scroll(app, &lines, inner, scroll), 0)),
        inner,
    );
}

/// Width of the help's key column: descriptions start, and wrap, after it.
pub(super) const HELP_KEY_COLUMN: usize = 14;

/// A key in the help: scroll, or close.
pub(super) fn help_key(app: &mut App, action: Option<Action>) {
    let (max, page) = (app.scroll_max.get(), app.scroll_page.get());
    if let Some(Modal::Help { scroll }) = &mut app.modal {
        match action {
            Some(Action::Back) => app.modal = None,
            Some(a) => *scroll = scrolled(*scroll, a, page, max),
            None => {}
        }
    }
}
