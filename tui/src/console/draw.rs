//! Drawing: a pure function of the state onto a ratatui frame — the header, the screen that has
//! the focus (each screen's module draws itself), a message when there is one, and the footer of
//! key hints. Only the rows in view are turned into cells, so a list of 100,000 tokens costs no
//! more to draw than one of 30.

use gatepass_protocol::Token;
use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use unicode_width::UnicodeWidthStr;

use super::app::{App, Conn, MIN_HEIGHT, MIN_WIDTH, Modal};
use super::chooser::draw_chooser;
use super::confirm::draw_confirm;
use super::detail::{draw_detail, draw_record};
use super::form::draw_form;
use super::help::draw_help;
use super::keymap::{self, Ctx, View};
use super::list::{draw_info, draw_table, plain, token_style};
use super::reveal::draw_reveal;
use super::widgets::*;

/// Draws the whole screen.
pub fn draw(f: &mut Frame<'_>, app: &App) {
    let area = f.area();
    let th = app.theme;
    if app.too_small() {
        too_small(f, area, app);
        return;
    }
    // A message takes its own lines above the footer, which keeps listing the keys.
    let flash = match (&app.flash, &app.modal, &app.filter_input) {
        (Some(fl), None | Some(Modal::Detail(_)), None) => flash_fitted(fl, th, area.width),
        _ => Vec::new(),
    };
    let [header, info, body, message, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Length(flash.len() as u16),
        Constraint::Length(1),
    ])
    .areas(area);
    if !flash.is_empty() {
        f.render_widget(Paragraph::new(flash), message);
    }
    draw_header(f, header, app);
    draw_info(f, info, app);
    match app.view {
        View::Tokens => draw_table(f, body, &app.tokens, app, token_style, &|t: &Token| {
            app.marked.contains(&t.id)
        }),
        View::Hosts => draw_table(f, body, &app.hosts, app, plain, &|_| false),
        View::Audit => draw_table(f, body, &app.audit, app, plain, &|_| false),
        View::ApiTokens => draw_table(f, body, &app.api_tokens, app, plain, &|_| false),
    }
    draw_footer(f, footer, app);
    match &app.modal {
        None => {}
        Some(Modal::Help { scroll }) => draw_help(f, area, app, *scroll),
        Some(Modal::Chooser(c)) => draw_chooser(f, area, app, c.kind, c.cursor),
        Some(Modal::Form(form)) => draw_form(f, area, app, form),
        Some(Modal::Reveal(r)) => draw_reveal(f, area, th, r),
        Some(Modal::Confirm(c)) => draw_confirm(f, area, app, c),
        Some(Modal::Detail(d)) => draw_detail(f, body, app, d),
        Some(Modal::Record {
            title,
            fields,
            scroll,
        }) => draw_record(f, body, app, title, fields, *scroll),
    }
}

fn too_small(f: &mut Frame<'_>, area: Rect, app: &App) {
    let text = vec![
        Line::styled("Terminal too small", app.theme.error()),
        Line::from(format!(
            "{}×{} here; Gatepass needs at least {MIN_WIDTH}×{MIN_HEIGHT}.",
            area.width, area.height
        )),
        Line::from("Enlarge the window, or press q to quit."),
    ];
    let h = 3.min(area.height);
    let y = area.y + area.height.saturating_sub(h) / 2;
    let r = Rect::new(area.x, y, area.width, h);
    f.render_widget(
        Paragraph::new(text)
            .alignment(Alignment::Center)
            .wrap(Wrap { trim: true }),
        r,
    );
}

fn draw_header(f: &mut Frame<'_>, area: Rect, app: &App) {
    let th = app.theme;
    let mut left = vec![Span::styled(" Gatepass ", th.title())];
    for v in View::ALL {
        left.push(Span::raw(" "));
        if v == app.view {
            left.push(Span::styled(format!("[{}]", v.title()), th.selected()));
        } else {
            left.push(Span::raw(format!(" {} ", v.title())));
        }
    }
    let who = match &app.who {
        Some(w) => format!("{} ({})", w.user, w.role),
        None => "…".to_owned(),
    };
    let (dot, state, style) = match &app.conn {
        Conn::Connecting => ("○", "connecting", th.warn()),
        Conn::Live if app.store_down => ("○", "store unavailable", th.error()),
        Conn::Live => ("●", "live", th.ok()),
        Conn::Lost(_) => ("○", "reconnecting", th.error()),
    };
    let ro = if app.readonly() { " · read-only" } else { "" };
    let right = vec![
        Span::raw(format!("{who}{ro} ")),
        Span::styled(format!("{dot} {state} "), style),
    ];
    let width = |spans: &[Span<'_>]| spans.iter().map(Span::width).sum::<usize>();
    // The tenant shown, first: `tenant acme` (just `acme` if that keeps the views' names on
    // the line), or `all tenants`.
    let right = match app.tenant_label() {
        Some(label) => {
            let room = usize::from(area.width).saturating_sub(width(&left) + width(&right) + 2);
            let label = match &app.tenant {
                Some(t) if label.width() + 3 > room && t.width() + 3 <= room => t.clone(),
                _ => label,
            };
            std::iter::once(Span::raw(format!("{label} · ")))
                .chain(right)
                .collect()
        }
        None => right,
    };
    // Narrow: the views' names close up and take short forms ("API" for "API tokens"), then
    // the other views' names give way (Tab still cycles them), so who you are and whether the
    // console is live always show.
    if width(&left) + width(&right) + 2 > usize::from(area.width) {
        left = vec![Span::styled(" Gatepass ", th.title())];
        for v in View::ALL {
            left.push(Span::raw(" "));
            if v == app.view {
                left.push(Span::styled(format!("[{}]", v.title()), th.selected()));
            } else {
                left.push(Span::raw(v.short_title()));
            }
        }
    }
    if width(&left) + width(&right) + 2 > usize::from(area.width) {
        left = vec![
            Span::styled(" Gatepass ", th.title()),
            Span::raw(" "),
            Span::styled(format!("[{}]", app.view.title()), th.selected()),
        ];
    }
    render_lr(f, area, left, right, th.header_bar(), usize::MAX);
}

fn draw_footer(f: &mut Frame<'_>, area: Rect, app: &App) {
    let th = app.theme;
    if let Some(input) = &app.filter_input {
        let [label, field, hint] = Layout::horizontal([
            Constraint::Length(9),
            Constraint::Fill(1),
            Constraint::Length(24),
        ])
        .areas(area);
        f.render_widget(Paragraph::new(Span::styled(" filter /", th.key())), label);
        f.render_widget(input, field);
        f.render_widget(
            Paragraph::new(hints_line(
                &keymap::footer(Ctx::Filter, app.view, false),
                th,
                hint.width,
            )),
            hint,
        );
        return;
    }
    // The form and the dialogs show their keys inside their box: once is enough.
    if matches!(app.modal, Some(Modal::Form(_) | Modal::Confirm(_))) {
        return;
    }
    if let Some(Modal::Record { .. }) = &app.modal {
        let pairs = [("↑/↓", "scroll", false), ("Esc", "back", true)];
        f.render_widget(Paragraph::new(hints_line(&pairs, th, area.width)), area);
        return;
    }
    let ctx = app.ctx();
    let mut pairs = keymap::footer(ctx, app.view, app.readonly());
    // Keys that act on a row are not offered when there is no row.
    let no_rows = match app.view {
        View::Tokens => app.tokens.visible_len() == 0,
        View::Hosts => app.hosts.visible_len() == 0,
        View::Audit => app.audit.visible_len() == 0,
        View::ApiTokens => app.api_tokens.visible_len() == 0,
    };
    if ctx == Ctx::Table {
        // T only for a caller with several tenants; no minting in the view of all of them.
        let several = app.tenants.len() > 1;
        let all = app.all_tenants();
        pairs.retain(|(_, label, _)| {
            (several || *label != "tenant") && !(all && matches!(*label, "new" | "clone"))
        });
    }
    if ctx == Ctx::Table && no_rows {
        let row_keys = [
            "details",
            "revoke",
            "delete",
            "disable/enable",
            "mark",
            "clone",
            "extend",
            "yank",
            "export",
        ];
        pairs.retain(|(_, label, _)| !row_keys.contains(label));
    }
    f.render_widget(Paragraph::new(hints_line(&pairs, th, area.width)), area);
}
