//! Drawing: a pure function of the state onto a ratatui frame. Only the rows in view are
//! turned into cells, so a list of 100,000 tokens costs no more to draw than one of 30.

use gatepass_protocol::{Timestamp, Token};
use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Flex, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{
    Block, Borders, Cell, Clear, Paragraph, Row as TRow, Table as TTable, Wrap,
};

use super::app::{
    App, ChooserKind, Confirm, ConfirmKind, Conn, Detail, Flash, Level, MIN_HEIGHT, MIN_WIDTH,
    Modal, Reveal, app_columns,
};
use super::form::{CreateForm, Field};
use super::keymap::{self, Ctx, View};
use super::table::{Row, StatusFilter, Table, status_word};
use super::theme::Theme;
use super::timefmt;
use super::widgets::{fit_columns, padded};
use crate::output;
use crate::output::elide;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Draws the whole screen.
pub fn draw(f: &mut Frame<'_>, app: &App) {
    let area = f.area();
    let th = app.theme;
    if app.too_small() {
        too_small(f, area, app);
        return;
    }
    let [header, info, body, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Length(1),
    ])
    .areas(area);
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
        Conn::Live => ("●", "live", th.ok()),
        Conn::Lost(_) => ("○", "reconnecting", th.error()),
    };
    let ro = if app.readonly() { " · read-only" } else { "" };
    let right = vec![
        Span::raw(format!("{who}{ro} ")),
        Span::styled(format!("{dot} {state} "), style),
    ];
    render_lr(f, area, left, right, th.header_bar(), usize::MAX);
}

fn draw_info(f: &mut Frame<'_>, area: Rect, app: &App) {
    let th = app.theme;
    let t = app.table_ref();
    let (col, desc) = t.sort();
    let columns = t.columns();
    let mut left = Vec::new();
    let (shown, total) = match app.view {
        View::Tokens => (app.tokens.visible_len(), app.tokens.len()),
        View::Hosts => (app.hosts.visible_len(), app.hosts.len()),
        View::Audit => (app.audit.visible_len(), app.audit.len()),
        View::ApiTokens => (app.api_tokens.visible_len(), app.api_tokens.len()),
    };
    let noun = match (app.view, total == 1) {
        (View::Tokens, true) => "token",
        (View::Tokens, false) => "tokens",
        (View::Hosts, true) => "host",
        (View::Hosts, false) => "hosts",
        (View::Audit, true) => "event",
        (View::Audit, false) => "events",
        (View::ApiTokens, true) => "API token",
        (View::ApiTokens, false) => "API tokens",
    };
    left.push(Span::raw(if shown == total {
        format!(" {total} {noun}")
    } else {
        format!(" {shown} of {total} {noun}")
    }));
    if app.view == View::Tokens && !app.marked.is_empty() {
        left.push(Span::styled(
            format!(" · {} marked", app.marked.len()),
            th.key(),
        ));
    }
    left.push(Span::styled(
        format!(
            " · sort {} {}",
            columns.get(col).copied().unwrap_or(""),
            if desc { "▼" } else { "▲" }
        ),
        th.dim(),
    ));
    if app.view == View::Tokens && app.tokens.status != StatusFilter::All {
        left.push(Span::styled(
            format!(" · status: {}", app.tokens.status.label()),
            th.warn(),
        ));
    }
    // The count, the sort, the status filter and the first 24 columns of a text filter always
    // show; the rest of a long filter gives way to the right side if it must (cut, with "…").
    // Tokens about to expire are worth a look whichever view is open; it gives way (on a line
    // that is short of room) only to a status filter the operator chose.
    let soon = app.expiring_soon();
    let status_on = app.view == View::Tokens && app.tokens.status != StatusFilter::All;
    if soon > 0 && !status_on {
        left.push(Span::styled(
            format!(" · ⚠ {soon} expiring <24h"),
            th.warn(),
        ));
    }
    let mut keep: usize = left.iter().map(Span::width).sum();
    if !t.filter().is_empty() && app.filter_input.is_none() {
        let filter = Span::styled(format!(" · filter: {}", t.filter()), th.warn());
        keep += filter.width().min(24);
        left.push(filter);
    }
    let where_ = match (&app.started, &app.conn) {
        (_, Conn::Lost(e)) => {
            // The reason is shortened to the room there is; "retrying", and the count and
            // sort on the left, always show.
            let frame = "daemon unreachable (); retrying ".chars().count();
            let room = usize::from(area.width).saturating_sub(frame + keep + 2);
            let reason = elide(e, room);
            Span::styled(
                format!("daemon unreachable ({reason}); retrying "),
                th.error(),
            )
        }
        (Some(s), _) => Span::styled(format!("{s} "), th.warn()),
        (None, _) => Span::styled(format!("{} ", app.endpoint), th.dim()),
    };
    render_lr(f, area, left, vec![where_], Style::new(), keep);
}

/// One line with `left` flush left and `right` flush right. When both do not fit, the right
/// side gives way down to the first `keep_left` columns of the left; whatever is cut, on
/// either side, ends in "…".
fn render_lr(
    f: &mut Frame<'_>,
    area: Rect,
    left: Vec<Span<'_>>,
    right: Vec<Span<'_>>,
    bg: Style,
    keep_left: usize,
) {
    let total = usize::from(area.width);
    let spans_width = |spans: &[Span<'_>]| spans.iter().map(Span::width).sum::<usize>();
    let (lw, rw) = (spans_width(&left), spans_width(&right));
    // What the left keeps; past it, three columns more say that something was cut (" ·…").
    let keep = if lw > keep_left {
        keep_left.saturating_add(3).min(lw)
    } else {
        lw
    };
    // Two columns between the sides, so the left never runs into the right.
    let right_room = total.saturating_sub(keep + 2);
    let right = elide_spans(right, right_room.max(total.saturating_sub(lw + 2)));
    let rw = rw.min(spans_width(&right)) + 2;
    let left = elide_spans(left, total.saturating_sub(rw));
    let rw = (rw as u16).min(area.width);
    let [l, r] = Layout::horizontal([Constraint::Fill(1), Constraint::Length(rw)]).areas(area);
    f.render_widget(Paragraph::new(Line::from(left)).style(bg), l);
    f.render_widget(
        Paragraph::new(Line::from(right))
            .alignment(Alignment::Right)
            .style(bg),
        r,
    );
}

/// `spans` cut to `cols` terminal columns, the cut marked with "…" (styles kept).
fn elide_spans(spans: Vec<Span<'_>>, cols: usize) -> Vec<Span<'_>> {
    let mut used = 0;
    let mut out = Vec::with_capacity(spans.len());
    for s in spans {
        let w = s.width();
        if used + w <= cols {
            used += w;
            out.push(s);
            continue;
        }
        let cut = elide(&s.content, cols - used);
        if !cut.is_empty() {
            out.push(Span::styled(cut, s.style));
        } else if let Some(last) = out.pop() {
            // No room left for the mark in this span: the one before gives a column for it.
            let room = last.width();
            let marked = elide(&format!("{}…", last.content), room);
            out.push(Span::styled(marked, last.style));
        }
        break;
    }
    out
}

fn plain<T>(_: &T, _: usize, _: Theme) -> Style {
    Style::new()
}

fn token_style(t: &Token, col: usize, th: Theme) -> Style {
    match col {
        1 => th.status(t.status),
        2 if output::counts_differ(t) => th.warn(),
        _ => Style::new(),
    }
}

fn draw_table<T: Row>(
    f: &mut Frame<'_>,
    area: Rect,
    table: &Table<T>,
    app: &App,
    style: fn(&T, usize, Theme) -> Style,
    marked: &dyn Fn(&T) -> bool,
) {
    let th = app.theme;
    let (sort, desc) = (table.sort, table.desc);
    let height = usize::from(area.height.saturating_sub(1));
    let offset = table.scroll_for(height);
    let now: Timestamp = app.now;
    let in_view: Vec<(usize, &T)> = (offset..(offset + height).min(table.visible_len()))
        .filter_map(|n| Some((n, table.visible_row(n)?)))
        .collect();
    // A marked row (Space) says so before its first cell, in colour or not.
    let texts: Vec<Vec<String>> = in_view
        .iter()
        .map(|(_, r)| {
            (0..T::COLUMNS.len())
                .map(|c| match (c, marked(r)) {
                    (0, true) => format!("✓ {}", r.cell(c, now)),
                    _ => r.cell(c, now),
                })
                .collect()
        })
        .collect();
    // Columns give way by rank on a narrow terminal; each is as wide as its cells in view need.
    let wants: Vec<usize> = (0..T::COLUMNS.len())
        .map(|c| texts.iter().map(|t| t[c].width()).max().unwrap_or(0))
        .collect();
    let fitted = fit_columns(area.width, T::LAYOUT, T::COLUMNS, &wants);
    let shown: Vec<(usize, usize)> = fitted
        .iter()
        .enumerate()
        .filter_map(|(c, w)| w.map(|w| (c, usize::from(w))))
        .collect();
    let widths: Vec<Constraint> = shown
        .iter()
        .map(|&(_, w)| Constraint::Length(w as u16))
        .collect();
    // A cell longer than its column ends in "…", so a cut name is never taken for a whole one.
    let header = TRow::new(shown.iter().map(|&(i, w)| {
        let c = T::COLUMNS[i];
        let arrow = match (i == sort, desc) {
            (true, false) => " ▲",
            (true, true) => " ▼",
            _ => "",
        };
        // A narrow column keeps its sort arrow and cuts the heading.
        let room = w.saturating_sub(arrow.width());
        Cell::from(format!("{}{arrow}", elide(c, room)))
    }))
    .style(th.column_header());
    let rows: Vec<TRow<'_>> = in_view
        .iter()
        .zip(texts)
        .map(|((n, r), mut text)| {
            let selected = *n == table.cursor();
            let cells = shown.iter().map(|&(c, w)| {
                let text = std::mem::take(&mut text[c]);
                let cell = if text.width() > w {
                    Cell::from(elide(&text, w))
                } else {
                    Cell::from(text)
                };
                if selected {
                    cell
                } else {
                    cell.style(style(r, c, th))
                }
            });
            let row = TRow::new(cells.collect::<Vec<_>>());
            if selected {
                row.style(th.selected())
            } else {
                row
            }
        })
        .collect();
    let empty = rows.is_empty();
    f.render_widget(
        TTable::new(rows, widths)
            .header(header)
            .column_spacing(1)
            .flex(Flex::Start),
        area,
    );
    if empty {
        let msg = empty_message(app, table.loaded, table.is_empty());
        let y = area.y + 2.min(area.height.saturating_sub(1));
        f.render_widget(
            Paragraph::new(Line::styled(msg, th.dim())).alignment(Alignment::Center),
            Rect::new(area.x, y, area.width, 1),
        );
    }
}

fn empty_message(app: &App, loaded: bool, none_at_all: bool) -> String {
    if !loaded {
        return match &app.conn {
            Conn::Lost(_) => "Waiting for the daemon…".to_owned(),
            _ => "Loading…".to_owned(),
        };
    }
    if !none_at_all {
        return "Nothing matches: Esc clears the filter and the status.".to_owned();
    }
    match app.view {
        View::Tokens if app.readonly() => "No tokens yet.".to_owned(),
        View::Tokens => "No tokens yet. Press n to mint one.".to_owned(),
        View::Hosts => "No host has enrolled yet.".to_owned(),
        View::Audit => "The audit log is empty.".to_owned(),
        View::ApiTokens => match &app.api_tokens_error {
            Some(e) => format!("API tokens cannot be listed: {e}"),
            None => "No API tokens. Create one with `gatepass apitokens create`.".to_owned(),
        },
    }
}

/// Key hints that fit in `width`, in table order. Pinned hints (`/`, `s`, `?`, `q`, and the
/// key that closes what is open) always show; the others take the room left, in order, each
/// one that does not fit giving way; a "…" before the last two says that some did (and `?`
/// lists everything). "help" and "quit" come last.
fn hints_line(hints: &[keymap::Hint], th: Theme, width: u16) -> Line<'static> {
    let len = |k: &str, l: &str| k.width() + l.width() + 3;
    let last = |l: &str| l == "help" || l == "quit";
    let avail = usize::from(width).saturating_sub(1);
    let total: usize = hints.iter().map(|(k, l, _)| len(k, l)).sum();
    let cut = total > avail;
    let pinned: usize = hints
        .iter()
        .filter(|(_, _, p)| *p)
        .map(|(k, l, _)| len(k, l))
        .sum();
    let mut budget = avail.saturating_sub(pinned + if cut { 3 } else { 0 });
    let mut keep = vec![false; hints.len()];
    for (i, (k, l, p)) in hints.iter().enumerate() {
        if *p {
            keep[i] = true;
        } else if len(k, l) <= budget {
            budget -= len(k, l);
            keep[i] = true;
        }
    }
    let mut spans = vec![Span::raw(" ")];
    let push = |spans: &mut Vec<Span<'static>>, k: &str, l: &str| {
        spans.push(Span::styled(k.to_owned(), th.key()));
        spans.push(Span::raw(format!(" {l}  ")));
    };
    for (i, (k, l, _)) in hints.iter().enumerate() {
        if keep[i] && !last(l) {
            push(&mut spans, k, l);
        }
    }
    if cut {
        spans.push(Span::styled("…  ", th.dim()));
    }
    for (i, (k, l, _)) in hints.iter().enumerate() {
        if keep[i] && last(l) {
            push(&mut spans, k, l);
        }
    }
    Line::from(spans)
}

fn flash_line(flash: &Flash, th: Theme) -> Line<'static> {
    let style = match flash.level {
        Level::Info => Style::new(),
        Level::Ok => th.ok(),
        Level::Error => th.error(),
    };
    Line::styled(format!(" {}", flash.text), style)
}

/// A message on the footer's one line: cut with "…" if it must be.
fn flash_fitted(flash: &Flash, th: Theme, width: u16) -> Line<'static> {
    let line = flash_line(flash, th);
    Line::from(elide_spans(line.spans, usize::from(width))).style(line.style)
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
    if matches!(app.modal, None | Some(Modal::Detail(_)))
        && let Some(fl) = &app.flash
    {
        f.render_widget(Paragraph::new(flash_fitted(fl, th, area.width)), area);
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

/// A centred rectangle of at most `w`×`h` inside `area`.
fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

fn popup(f: &mut Frame<'_>, r: Rect, title: &str, th: Theme) -> Rect {
    f.render_widget(Clear, r);
    let block = Block::bordered().title(Span::styled(format!(" {title} "), th.title()));
    let inner = block.inner(r);
    f.render_widget(block, r);
    inner
}

fn draw_help(f: &mut Frame<'_>, area: Rect, app: &App, scroll: u16) {
    let th = app.theme;
    let r = centered(area, 96, area.height.saturating_sub(2));
    let inner = popup(f, r, "Help — Esc closes", th);
    let mut lines = Vec::new();
    let width = usize::from(inner.width);
    for (title, keys) in keymap::help_sections(app.readonly()) {
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
const HELP_KEY_COLUMN: usize = 14;

/// Adds `text` after `lead`, wrapped at word boundaries to `width` columns, each following line
/// indented to where the text began (a hanging indent, so the key column stays clear).
fn hanging(lines: &mut Vec<Line<'static>>, lead: Span<'static>, text: &str, width: usize) {
    let indent = lead.width();
    let room = width.saturating_sub(indent).max(16);
    let mut rows: Vec<String> = vec![String::new()];
    for word in text.split_whitespace() {
        let mut word = word.to_owned();
        loop {
            let row = rows.last_mut().map_or(0, |r| Span::raw(r.as_str()).width());
            let need = Span::raw(word.as_str()).width() + usize::from(row > 0);
            if row + need <= room {
                if let Some(r) = rows.last_mut() {
                    if row > 0 {
                        r.push(' ');
                    }
                    r.push_str(&word);
                }
                break;
            }
            if row > 0 {
                rows.push(String::new());
                continue;
            }
            // A word longer than a whole row: cut it (by columns: wide characters take two).
            let at = split_at_width(&word, room);
            if let Some(r) = rows.last_mut() {
                r.push_str(&word[..at]);
            }
            word = word[at..].to_owned();
            rows.push(String::new());
        }
    }
    if rows.len() > 1 && rows.last().is_some_and(String::is_empty) {
        rows.pop();
    }
    let pad = " ".repeat(indent);
    for (i, row) in rows.into_iter().enumerate() {
        let head = if i == 0 {
            lead.clone()
        } else {
            Span::raw(pad.clone())
        };
        lines.push(Line::from(vec![head, Span::raw(row)]));
    }
}

/// The byte offset where `s` passes `cols` terminal columns (at least one character, so a row
/// always takes something).
fn split_at_width(s: &str, cols: usize) -> usize {
    let mut used = 0;
    for (i, c) in s.char_indices() {
        used += c.width().unwrap_or(0);
        if used > cols {
            return if i == 0 { c.len_utf8() } else { i };
        }
    }
    s.len()
}

/// A field of a details view: its name in a column of its own, its value wrapped beside it.
fn field(lines: &mut Vec<Line<'static>>, th: Theme, name: &str, value: &str, width: usize) {
    hanging(
        lines,
        Span::styled(format!("{name:<13} "), th.dim()),
        value,
        width,
    );
}

/// Notes how far `lines` can scroll in `area` (for `update`) and clamps `scroll` to it.
fn clamp_scroll(app: &App, lines: &[Line<'_>], area: Rect, scroll: u16) -> u16 {
    let w = usize::from(area.width.max(1));
    let total: usize = lines.iter().map(|l| l.width().max(1).div_ceil(w)).sum();
    let max = u16::try_from(total.saturating_sub(usize::from(area.height))).unwrap_or(u16::MAX);
    app.scroll_max.set(max);
    app.scroll_page.set(area.height);
    scroll.min(max)
}

fn draw_record(
    f: &mut Frame<'_>,
    area: Rect,
    app: &App,
    title: &str,
    fields: &[(String, String)],
    scroll: u16,
) {
    let th = app.theme;
    f.render_widget(Clear, area);
    let block = Block::new()
        .borders(Borders::TOP)
        .title(Span::styled(format!(" {title} "), th.title()));
    let inner = block.inner(area);
    f.render_widget(block, area);
    // Wrapped here, not by the paragraph: the rows counted are the rows drawn, so scrolling
    // reaches the end.
    let mut lines: Vec<Line<'static>> = Vec::new();
    for (k, v) in fields {
        field(&mut lines, th, k, v, usize::from(inner.width));
    }
    let scroll = clamp_scroll(app, &lines, inner, scroll);
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((scroll, 0)),
        inner,
    );
}

fn draw_chooser(f: &mut Frame<'_>, area: Rect, app: &App, kind: ChooserKind, cursor: usize) {
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

fn draw_form(f: &mut Frame<'_>, area: Rect, app: &App, form: &CreateForm) {
    let th = app.theme;
    let now = app.now;
    let r = centered(area, 100, 26);
    let inner = popup(f, r, &form.title(), th);
    let label_w = 13u16;
    let input_w = 28u16.min(inner.width.saturating_sub(label_w + 1));
    // Bottom: two lines for the message that matters now, one for the keys.
    let fields_h = inner.height.saturating_sub(3);
    let errors = form.errors(now);
    let err_of = |fl: Field| {
        errors
            .iter()
            .find(|(e, _)| *e == fl)
            .map(|(_, m)| m.clone())
    };
    // Each field's height (the date carries its calendar); scroll so the focused one shows.
    let cal = calendar_lines(form, form.focus == Field::Date, th);
    let rows: Vec<(Field, u16)> = form
        .fields()
        .into_iter()
        .map(|fl| {
            (
                fl,
                if fl == Field::Date {
                    1 + cal.len() as u16
                } else {
                    1
                },
            )
        })
        .collect();
    let mut top = 0u16;
    let mut offset = 0u16;
    for (fl, h) in &rows {
        if *fl == form.focus && top + h > fields_h {
            offset = top + h - fields_h;
        }
        top += h;
    }
    let mut vy = 0u16; // virtual row of the current field
    for (fl, h) in rows {
        let start = vy;
        vy += h;
        if start < offset || start >= offset + fields_h {
            continue;
        }
        let y = inner.y + start - offset;
        let fl_focused = fl == form.focus;
        let label_style = if fl_focused { th.key() } else { Style::new() };
        let marker = if fl_focused { "›" } else { " " };
        f.render_widget(
            Paragraph::new(Span::styled(
                format!("{marker}{:<12}", fl.label()),
                label_style,
            )),
            Rect::new(inner.x, y, label_w, 1),
        );
        // A text field takes the whole row (a 64-character name shows whole at 80 columns)
        // unless it has an error to show beside it.
        let wide = matches!(
            fl,
            Field::Name | Field::Description | Field::Group | Field::Labels | Field::Owner
        ) && err_of(fl).is_none();
        let input_w = if wide {
            inner.width.saturating_sub(label_w)
        } else {
            input_w
        };
        let field_area = Rect::new(inner.x + label_w, y, input_w, 1);
        let rest = Rect::new(
            inner.x + label_w + input_w + 1,
            y,
            inner.width.saturating_sub(label_w + input_w + 1),
            1,
        );
        match fl {
            Field::Uses => choice(f, field_area, th, fl_focused, form.uses.label()),
            Field::Expiry => choice(f, field_area, th, fl_focused, form.expiry.label()),
            Field::Date => {
                let text = format!("{}", form.picker.cursor);
                let style = if fl_focused {
                    th.selected()
                } else {
                    Style::new()
                };
                f.render_widget(Paragraph::new(Span::styled(text, style)), field_area);
                let room = (offset + fields_h).saturating_sub(start + 1);
                let h = (cal.len() as u16).min(room);
                f.render_widget(
                    Paragraph::new(cal.clone()),
                    Rect::new(inner.x + label_w, y + 1, 22.min(inner.width), h),
                );
            }
            _ => {
                if let Some(t) = form.text(fl) {
                    let mut t = t.clone();
                    let base = if fl_focused {
                        th.selected().remove_modifier(Modifier::BOLD)
                    } else {
                        th.dim().add_modifier(Modifier::UNDERLINED)
                    };
                    t.set_style(base);
                    t.set_placeholder_style(base.add_modifier(Modifier::ITALIC));
                    if !fl_focused {
                        t.set_cursor_style(base);
                    }
                    f.render_widget(&t, field_area);
                }
            }
        }
        if let Some(m) = err_of(fl) {
            f.render_widget(
                Paragraph::new(Span::styled(
                    elide(&format!("✗ {m}"), usize::from(rest.width)),
                    th.error(),
                )),
                rest,
            );
        } else if fl == Field::Expiry {
            let s = match form.expires_at(now) {
                Ok(Some(at)) => format!(
                    "→ {} ({})",
                    timefmt::local_with_zone(at),
                    output::when(Some(at), now, "")
                ),
                Ok(None) => "→ never expires".to_owned(),
                Err(_) => String::new(),
            };
            f.render_widget(Paragraph::new(Span::styled(s, th.ok())), rest);
        }
    }
    // The message that matters now, in full: the daemon's refusal, else the focused field's
    // error, else the first one.
    let msg = match &form.server_error {
        _ if form.discard_asked => Some(
            "Throw away what you typed? Esc again discards the form; any other key keeps \
             editing."
                .to_owned(),
        ),
        Some(e) => Some(format!("Not created: {e}")),
        None => err_of(form.focus)
            .map(|m| format!("{}: {m}", form.focus.label()))
            .or_else(|| errors.first().map(|(fl, m)| format!("{}: {m}", fl.label()))),
    };
    let bottom = inner.y + inner.height;
    if let Some(m) = msg {
        f.render_widget(
            Paragraph::new(Span::styled(m, th.error())).wrap(Wrap { trim: true }),
            Rect::new(inner.x, bottom.saturating_sub(3), inner.width, 2),
        );
    }
    let last = Rect::new(inner.x, bottom.saturating_sub(1), inner.width, 1);
    if form.busy {
        f.render_widget(Paragraph::new(Span::styled("Creating…", th.dim())), last);
    } else {
        let pairs = keymap::footer(app.ctx(), View::Tokens, false);
        f.render_widget(Paragraph::new(hints_line(&pairs, th, inner.width)), last);
    }
}

fn choice(f: &mut Frame<'_>, area: Rect, th: Theme, focused: bool, label: &str) {
    let style = if focused { th.selected() } else { Style::new() };
    f.render_widget(
        Paragraph::new(Span::styled(format!("‹ {label} ›"), style)),
        area,
    );
}

fn calendar_lines(form: &CreateForm, focused: bool, th: Theme) -> Vec<Line<'static>> {
    let p = &form.picker;
    let mut lines = vec![
        Line::styled(
            format!(
                "{:^20}",
                format!("{} {}", p.cursor.month(), p.cursor.year())
            ),
            th.title(),
        ),
        Line::styled("Mo Tu We Th Fr Sa Su", th.dim()),
    ];
    for week in p.weeks() {
        let mut spans = Vec::new();
        for (i, d) in week.iter().enumerate() {
            if i > 0 {
                spans.push(Span::raw(" "));
            }
            match d {
                None => spans.push(Span::raw("  ")),
                Some(d) => {
                    let text = format!("{:>2}", d.day());
                    let style = if *d == p.cursor {
                        if focused {
                            th.selected()
                        } else {
                            Style::new().add_modifier(Modifier::UNDERLINED | Modifier::BOLD)
                        }
                    } else if !p.selectable(*d) {
                        th.dim()
                    } else if *d == p.today {
                        Style::new().add_modifier(Modifier::BOLD)
                    } else {
                        Style::new()
                    };
                    spans.push(Span::styled(text, style));
                }
            }
        }
        lines.push(Line::from(spans));
    }
    lines
}

fn draw_reveal(f: &mut Frame<'_>, area: Rect, th: Theme, r: &Reveal) {
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
    // Blank lines between the parts only when there is room for them.
    let roomy = inner.height >= 12;
    let gap = |lines: &mut Vec<Line<'static>>| {
        if roomy {
            lines.push(Line::raw(""));
        }
    };
    let mut lines = vec![Line::styled(
        "This is the only time the token is shown. It cannot be recovered later.",
        th.warn(),
    )];
    gap(&mut lines);
    lines.push(Line::styled(r.secret.as_str().to_owned(), th.secret()));
    gap(&mut lines);
    lines.push(Line::raw(
        "On the host, run this and paste the token at its prompt (j copies it):",
    ));
    lines.push(Line::raw(r.join_command.clone()));
    gap(&mut lines);
    if let Some(n) = &r.note {
        lines.push(flash_line(n, th));
    }
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
}

/// The names of the marked tokens a confirmation acts on, as many as fit a few lines.
fn listed(many: &[super::app::Target]) -> String {
    const SHOWN: usize = 12;
    let mut names: Vec<String> = many
        .iter()
        .take(SHOWN)
        .map(|t| output::name(&t.name))
        .collect();
    if many.len() > SHOWN {
        names.push(format!("and {} more", many.len() - SHOWN));
    }
    names.join(", ")
}

fn confirm_text(c: &Confirm) -> (String, String) {
    if !c.many.is_empty() {
        let n = c.many.len();
        let active = c.many.iter().filter(|t| t.active).count();
        let effect = match c.kind {
            ConfirmKind::Revoke => "None of them can be redeemed again; this cannot be undone. \
                                    Their enrolled hosts keep their identities."
                .to_owned(),
            ConfirmKind::Delete if active > 0 => format!(
                "They leave every list; their audit trails stay, and so do their hosts. \
                 {active} of them still active: type {n}, then Enter."
            ),
            ConfirmKind::Delete => "They leave every list; their audit trails stay, and so do \
                                    their hosts."
                .to_owned(),
            ConfirmKind::Disable => {
                "No host can redeem them until they are enabled again.".to_owned()
            }
            _ => "Hosts can redeem them again.".to_owned(),
        };
        return (
            format!("{} {n} marked tokens?", c.kind.verb()),
            format!(
                "{} ({} enrolled hosts in all). {effect}",
                listed(&c.many),
                c.hosts
            ),
        );
    }
    let hosts = format!("Hosts enrolled with it: {}", c.hosts);
    match c.kind {
        ConfirmKind::Disable | ConfirmKind::Enable => {
            (format!("{} token {:?}?", c.kind.verb(), c.name), hosts)
        }
        ConfirmKind::Revoke => (
            format!("Revoke token {:?}?", c.name),
            format!(
                "It can never be redeemed again; this cannot be undone. {hosts}; they keep \
                 their identities and certificates and stay in Hosts."
            ),
        ),
        ConfirmKind::Delete => (
            format!("Delete token {:?}?", c.name),
            format!(
                "It disappears from every list; its audit trail stays. {hosts}; they stay \
                 enrolled and listed in Hosts.{}",
                if c.typed.is_some() {
                    " It is still active: type its name, then Enter."
                } else {
                    ""
                }
            ),
        ),
        ConfirmKind::RemoveHost => (
            format!("Remove host {:?}?", c.name),
            "It leaves the list of enrolled hosts (audited), and its token's count of hosts \
             drops by one. Its certificate is not revoked."
                .to_owned(),
        ),
        ConfirmKind::DeleteApiToken => (
            format!("Delete API token {:?}?", c.name),
            "Anything using it is refused from now on.".to_owned(),
        ),
    }
}

fn draw_confirm(f: &mut Frame<'_>, area: Rect, app: &App, c: &Confirm) {
    let th = app.theme;
    // Wide enough, with a name to type, for the longest name (64) and the cursor after it.
    let w = if c.typed.is_some() { 72 } else { 64 };
    let r = centered(area, w, 12);
    let bound = if c.many.is_empty() {
        format!("bound to id {}", c.id)
    } else {
        "bound to the marked ids".to_owned()
    };
    let inner = popup(f, r, &format!("{} — {bound}", c.kind.verb()), th);
    let (q, body) = confirm_text(c);
    let mut lines = vec![Line::styled(q, th.title()), Line::raw(body)];
    if let Some(e) = &c.error {
        lines.push(Line::styled(e.clone(), th.error()));
    }
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), inner);
    let bottom = inner.y + inner.height;
    if let Some(t) = &c.typed {
        let y = bottom.saturating_sub(3);
        let mut t = t.clone();
        t.set_style(th.selected().remove_modifier(Modifier::BOLD));
        f.render_widget(
            &t,
            Rect::new(inner.x + 2, y, inner.width.saturating_sub(4), 1),
        );
    }
    let cancel_style = if c.on_action {
        Style::new()
    } else {
        th.selected()
    };
    let action_style = if c.on_action {
        th.selected()
    } else {
        Style::new()
    };
    let action_label = if c.busy {
        format!("[ {}… ]", c.kind.verb())
    } else {
        format!("[ {} ]", c.kind.verb())
    };
    let buttons = Line::from(vec![
        Span::styled("[ Cancel ]", cancel_style),
        Span::raw("   "),
        Span::styled(action_label, action_style),
    ]);
    f.render_widget(
        Paragraph::new(buttons).alignment(Alignment::Center),
        Rect::new(inner.x, bottom.saturating_sub(2), inner.width, 1),
    );
    let keys = keymap::footer(app.ctx(), View::Tokens, false);
    f.render_widget(
        Paragraph::new(hints_line(&keys, th, inner.width)),
        Rect::new(inner.x, bottom.saturating_sub(1), inner.width, 1),
    );
}

fn draw_detail(f: &mut Frame<'_>, area: Rect, app: &App, d: &Detail) {
    let th = app.theme;
    let now = app.now;
    f.render_widget(Clear, area);
    let Some(t) = app.tokens.get(&d.id) else {
        f.render_widget(Paragraph::new("This token no longer exists."), area);
        return;
    };
    let block = Block::new()
        .borders(Borders::TOP)
        .title(Span::styled(format!(" {} ", t.name), th.title()));
    let inner = block.inner(area);
    f.render_widget(block, area);
    // Wrapped here, not by the paragraph: the rows counted are the rows drawn, so scrolling
    // reaches the end.
    let width = usize::from(inner.width);
    let mut lines: Vec<Line<'static>> = Vec::new();
    let kv = |lines: &mut Vec<Line<'static>>, k: &str, v: String| field(lines, th, k, &v, width);
    let zone = timefmt::zone_name(timefmt::offset());
    let at = |ts: Option<Timestamp>, none: &str| match ts {
        Some(ts) => format!(
            "{} {zone} ({})",
            timefmt::local(ts),
            output::when(Some(ts), now, "")
        ),
        None => none.to_owned(),
    };
    lines.push(Line::from(vec![
        Span::styled(format!("{:<14}", "status"), th.dim()),
        Span::styled(status_word(t.status), th.status(t.status)),
    ]));
    kv(&mut lines, "id", t.id.clone());
    kv(
        &mut lines,
        "token",
        format!("{} (the secret is never shown again)", t.prefix),
    );
    kv(
        &mut lines,
        "uses",
        format!(
            "{} (hosts enrolled: {})",
            super::table::uses_cell(t),
            t.hosts
        ),
    );
    if output::counts_differ(t) {
        lines.push(Line::styled(
            "              uses and enrolled hosts differ: hosts were removed",
            th.warn(),
        ));
    }
    kv(&mut lines, "last used", at(t.last_used_at, "never"));
    if let Some(by) = &t.last_used_by {
        kv(&mut lines, "last used by", by.clone());
    }
    kv(&mut lines, "expires", at(t.expires_at, "never"));
    kv(
        &mut lines,
        "created",
        format!("{} by {}", at(Some(t.created_at), ""), t.created_by),
    );
    kv(&mut lines, "owner", t.owner.clone());
    kv(
        &mut lines,
        "group",
        t.group.clone().unwrap_or_else(|| "-".into()),
    );
    let labels = output::pairs(&t.labels, ", ");
    kv(
        &mut lines,
        "labels",
        if labels.is_empty() {
            "-".into()
        } else {
            labels
        },
    );
    kv(&mut lines, "description", t.description.clone());
    kv(
        &mut lines,
        "disabled",
        if t.disabled { "yes" } else { "no" }.into(),
    );
    if let Some(rv) = t.revoked_at {
        kv(&mut lines, "revoked", at(Some(rv), ""));
    }
    if !t.allowed_cidrs.is_empty() {
        kv(&mut lines, "allowed from", t.allowed_cidrs.join(", "));
    }
    if let Some(nb) = t.not_before {
        kv(&mut lines, "not before", at(Some(nb), ""));
    }
    lines.push(Line::raw(""));
    match &d.hosts {
        None => lines.push(Line::styled("Enrolled hosts: loading…", th.title())),
        Some(Err(e)) => lines.push(Line::styled(format!("Enrolled hosts: {e}"), th.error())),
        Some(Ok(hosts)) => {
            lines.push(Line::styled(
                format!("Enrolled hosts ({})", hosts.len()),
                th.title(),
            ));
            for h in hosts {
                // A row per host, cut to the width (a long hostname ends in "…").
                let row = format!(
                    "  {} {:<16} {:<10} {}",
                    padded(&h.hostname, 24),
                    h.source_addr,
                    output::when(Some(h.enrolled_at), now, "-"),
                    h.id
                );
                lines.push(Line::raw(elide(&row, width)));
            }
        }
    }
    lines.push(Line::raw(""));
    match &d.audit {
        None => lines.push(Line::styled("Audit trail: loading…", th.title())),
        Some(Err(e)) => lines.push(Line::styled(format!("Audit trail: {e}"), th.error())),
        Some(Ok(events)) => {
            lines.push(Line::styled(
                format!("Audit trail ({})", events.len()),
                th.title(),
            ));
            for e in events {
                // Who and the details wrap beside the time and action.
                let lead = format!("  {} {} ", timefmt::local(e.at), padded(&e.action, 14));
                let text = format!("{} {}", e.actor, output::details(&e.details, " "));
                hanging(&mut lines, Span::raw(lead), &text, width);
            }
        }
    }
    f.render_widget(
        Paragraph::new(Text::from(lines.clone()))
            .wrap(Wrap { trim: false })
            .scroll((clamp_scroll(app, &lines, inner, d.scroll), 0)),
        inner,
    );
}
