//! The list screens (tokens, hosts, audit, API tokens): the table and the info line above it,
//! their keys — moving, sorting, filtering by text and status, marking, and what acts on the
//! selected or marked rows (revoke, delete, disable, clone, extend, yank, export) — and the
//! filter line.

use crossterm::event::KeyEvent;
use gatepass_protocol::{ApiToken, Timestamp, Token, TokenStatus};
use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Flex, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row as TRow, Table as TTable};
use ratatui_textarea::TextArea;
use unicode_width::UnicodeWidthStr;
use zeroize::Zeroizing;

use super::app::*;
use super::confirm::typed_field;
use super::detail::record_of;
use super::form::CreateForm;
use super::keymap::{self, Action, Ctx, View};
use super::table::{Row, StatusFilter, Table};
use super::theme::Theme;
use super::widgets::*;
use crate::output;
use crate::output::elide;

pub(super) fn table_key(app: &mut App, ev: KeyEvent, action: Option<Action>) -> Vec<Cmd> {
    let page = app.body_height() as isize;
    let Some(action) = action else {
        if let Some(b) = keymap::lookup_refused(Ctx::Table, &ev, app.view) {
            app.flash = flash(
                Level::Error,
                format!(
                    "Read-only: {} is not available ({}).",
                    b.label,
                    readonly_reason(app)
                ),
            );
        } else {
            app.dirty = false;
        }
        return Vec::new();
    };
    app.flash = None;
    match action {
        Action::Quit => {
            app.quit = true;
            return vec![Cmd::Quit];
        }
        Action::Help => app.modal = Some(Modal::Help { scroll: 0 }),
        Action::NextView | Action::PrevView => {
            let all = View::ALL;
            let at = all.iter().position(|v| *v == app.view).unwrap_or(0);
            let delta = if action == Action::NextView {
                1
            } else {
                all.len() - 1
            };
            app.view = all[(at + delta) % all.len()];
        }
        Action::Up => app.table().move_by(-1),
        Action::Down => app.table().move_by(1),
        Action::PageUp => app.table().move_by(-page),
        Action::PageDown => app.table().move_by(page),
        Action::Home => app.table().home(),
        Action::End => app.table().end(),
        Action::Filter => {
            app.filter_input = Some(filter_line(app.table_ref().filter()));
        }
        Action::StatusFilter => {
            let cur = app.tokens.status;
            let cursor = StatusFilter::ALL
                .iter()
                .position(|s| *s == cur)
                .unwrap_or(0);
            app.modal = Some(Modal::Chooser(Chooser {
                kind: ChooserKind::Status,
                cursor,
            }));
        }
        Action::Sort => {
            let cursor = app.table_ref().sort().0;
            app.modal = Some(Modal::Chooser(Chooser {
                kind: ChooserKind::Sort,
                cursor,
            }));
        }
        Action::Reload => {
            app.flash = flash(Level::Info, "Loading every list again…");
            return vec![Cmd::Reload];
        }
        Action::Back => {
            app.table().set_filter("");
            app.table().set_status(StatusFilter::All);
            app.marked.clear();
        }
        // "All tenants" is a view, never a place to mint.
        Action::New | Action::Clone if app.all_tenants() => {
            app.flash = flash(Level::Info, NO_MINTING_IN_ALL);
        }
        Action::New => {
            app.modal = Some(Modal::Form(Box::new(new_form(app))));
        }
        Action::Tenant => open_tenant_picker(app),
        Action::Details if app.view != View::Tokens => {
            if let Some((title, fields)) = record_of(app) {
                app.modal = Some(Modal::Record {
                    title,
                    fields,
                    scroll: 0,
                });
            }
        }
        Action::Details => {
            if let Some(t) = app.tokens.selected() {
                let id = t.id.clone();
                app.modal = Some(Modal::Detail(Detail {
                    id: id.clone(),
                    hosts: None,
                    audit: None,
                    scroll: 0,
                }));
                return vec![Cmd::LoadDetail { id }];
            }
        }
        Action::Revoke | Action::Delete | Action::ToggleDisable => {
            return act_on_selection(app, action);
        }
        Action::Mark => {
            if let Some(id) = app.tokens.selected().map(|t| t.id.clone()) {
                if !app.marked.remove(&id) {
                    app.marked.insert(id);
                }
                app.tokens.move_by(1);
            }
        }
        Action::Clone | Action::Extend => {
            let Some(t) = app.tokens.selected().cloned() else {
                app.flash = flash(Level::Info, "No token selected.");
                return Vec::new();
            };
            if action == Action::Extend && t.status == TokenStatus::Revoked {
                return refuse_revoked(app, &t, "extended");
            }
            let form = new_form(app);
            let form = if action == Action::Clone {
                form.clone_of(&t, app.now)
            } else {
                form.extend_of(&t)
            };
            app.modal = Some(Modal::Form(Box::new(form)));
        }
        Action::Yank if app.tokens.selected().is_some() => {
            app.modal = Some(Modal::Chooser(Chooser {
                kind: ChooserKind::Yank,
                cursor: 0,
            }));
        }
        Action::Export => return export(app),
        _ => {}
    }
    Vec::new()
}

/// What `n` (and `C`) say in the view of all tenants.
pub(super) const NO_MINTING_IN_ALL: &str = "All tenants is a view: choose a tenant to mint in (T).";

/// `T`: the tenant picker, for a caller with more than one tenant; with one, it says so.
fn open_tenant_picker(app: &mut App) {
    if app.tenants.len() < 2 {
        app.flash = match app.tenants.first() {
            Some(t) => flash(
                Level::Info,
                format!(
                    "Only one tenant is open to you ({}): nothing to choose.",
                    t.name
                ),
            ),
            None => flash(Level::Info, "The tenants are not known yet."),
        };
        return;
    }
    // The current one under the cursor; "all tenants" is the first line.
    let cursor = app
        .tenant
        .as_ref()
        .and_then(|t| app.tenants.iter().position(|x| &x.name == t))
        .map_or(0, |i| i + 1);
    app.modal = Some(Modal::Chooser(Chooser {
        kind: ChooserKind::Tenant,
        cursor,
    }));
}

/// A fresh create form with the daemon's defaults, minting in the tenant shown: its admins
/// choose the owner among its members.
pub(super) fn new_form(app: &App) -> CreateForm {
    let (allow, ttl) = app
        .who
        .as_ref()
        .map(|w| (w.allow_no_expiry, w.default_ttl_seconds))
        .unwrap_or((false, 86_400));
    let here = app.current_tenant();
    let admin = here.map_or(app.is_admin(), |t| t.role == gatepass_protocol::Role::Admin);
    let me = app.who.as_ref().map(|w| w.user.as_str());
    let members: Vec<String> = here
        .filter(|_| admin)
        .map(|t| {
            t.members
                .iter()
                .filter(|m| Some(m.as_str()) != me)
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    // An older daemon knows no tenants: the request names none.
    let tenant = app.tenant.clone().filter(|_| !app.tenants_legacy);
    CreateForm::new(app.now, admin, allow, ttl).in_tenant(tenant, app.tenants.len() > 1, members)
}

/// The current view, filtered and sorted as it shows, as CSV for a new file.
pub(super) fn export(app: &mut App) -> Vec<Cmd> {
    fn rows<T: super::table::Row>(
        t: &Table<T>,
        row: impl Fn(&T) -> Vec<String>,
    ) -> Vec<Vec<String>> {
        (0..t.visible_len())
            .filter_map(|n| t.visible_row(n).map(&row))
            .collect()
    }
    let now = app.now;
    let (header, rows): (Vec<&str>, Vec<Vec<String>>) = match app.view {
        View::Tokens => (
            output::TOKEN_CSV_HEADER.to_vec(),
            rows(&app.tokens, output::token_csv_row),
        ),
        View::Hosts => (
            output::HOST_CSV_HEADER.to_vec(),
            rows(&app.hosts, output::host_csv_row),
        ),
        View::Audit => (
            output::AUDIT_HEADER.to_vec(),
            rows(&app.audit, output::audit_row),
        ),
        View::ApiTokens => (
            ApiToken::COLUMNS.to_vec(),
            rows(&app.api_tokens, |a| {
                (0..ApiToken::COLUMNS.len())
                    .map(|c| a.cell(c, now))
                    .collect()
            }),
        ),
    };
    let stem = format!(
        "gatepass-{}-{}",
        app.view.title().to_lowercase().replace(' ', "-"),
        super::timefmt::local(now).replace([' ', ':'], "-")
    );
    app.flash = flash(Level::Info, format!("Exporting {} rows…", rows.len()));
    vec![Cmd::Export {
        stem,
        rows: rows.len(),
        body: output::csv(&header, &rows),
    }]
}

/// r, d and x on the selected row of the current view (or the token in the detail view).
pub(super) fn act_on_selection(app: &mut App, action: Action) -> Vec<Cmd> {
    match app.view {
        View::Tokens if !app.marked.is_empty() => {
            act_on_marked(app, action);
            Vec::new()
        }
        View::Tokens => {
            let Some(t) = app.tokens.selected() else {
                app.flash = flash(Level::Info, "No token selected.");
                return Vec::new();
            };
            let t = t.clone();
            token_action(app, &t, action)
        }
        View::Hosts if action == Action::Delete => {
            if let Some(h) = app.hosts.selected() {
                let c = Confirm::new(ConfirmKind::RemoveHost, &h.id, &h.hostname, 0);
                app.modal = Some(Modal::Confirm(Box::new(c)));
            }
            Vec::new()
        }
        View::ApiTokens if action == Action::Delete => {
            if let Some(a) = app.api_tokens.selected() {
                let c = Confirm::new(ConfirmKind::DeleteApiToken, &a.id, &a.name, 0);
                app.modal = Some(Modal::Confirm(Box::new(c)));
            }
            Vec::new()
        }
        _ => Vec::new(),
    }
}

/// r, d or x with tokens marked: one confirmation listing them all.
pub(super) fn act_on_marked(app: &mut App, action: Action) {
    // In the order the list shows them; marked rows a filter hides come after.
    let mut tokens: Vec<Token> = (0..app.tokens.visible_len())
        .filter_map(|n| app.tokens.visible_row(n))
        .filter(|t| app.marked.contains(&t.id))
        .cloned()
        .collect();
    for id in &app.marked {
        if !tokens.iter().any(|t| &t.id == id)
            && let Some(t) = app.tokens.get(id)
        {
            tokens.push(t.clone());
        }
    }
    let kind = match action {
        Action::Revoke => ConfirmKind::Revoke,
        Action::Delete => ConfirmKind::Delete,
        // Disable all, unless every one is disabled already: then enable all.
        _ if tokens.iter().all(|t| t.disabled) => ConfirmKind::Enable,
        _ => ConfirmKind::Disable,
    };
    // Revoked tokens are final: revoking, disabling or enabling them again does nothing.
    let many: Vec<Target> = tokens
        .iter()
        .filter(|t| kind == ConfirmKind::Delete || t.status != TokenStatus::Revoked)
        .map(|t| Target {
            id: t.id.clone(),
            name: t.name.clone(),
            active: t.status == TokenStatus::Active,
            hosts: t.hosts,
        })
        .collect();
    if many.is_empty() {
        app.flash = flash(
            Level::Info,
            "The marked tokens are all revoked: nothing to do.",
        );
        return;
    }
    app.modal = Some(Modal::Confirm(Box::new(Confirm::for_many(kind, many))));
}

/// Says a revoked token cannot be `what` (revocation is final); does nothing else.
fn refuse_revoked(app: &mut App, t: &Token, what: &str) -> Vec<Cmd> {
    app.flash = flash(
        Level::Error,
        format!("{} is revoked: it cannot be {what}.", output::name(&t.name)),
    );
    Vec::new()
}

pub(super) fn token_action(app: &mut App, t: &Token, action: Action) -> Vec<Cmd> {
    match action {
        Action::ToggleDisable => {
            if t.status == TokenStatus::Revoked {
                return refuse_revoked(app, t, "enabled again");
            }
            app.flash = flash(
                Level::Info,
                format!(
                    "{} {}…",
                    if t.disabled { "Enabling" } else { "Disabling" },
                    output::name(&t.name)
                ),
            );
            vec![Cmd::SetDisabled {
                id: t.id.clone(),
                disabled: !t.disabled,
            }]
        }
        Action::Revoke if t.status == TokenStatus::Revoked => {
            app.flash = flash(
                Level::Info,
                format!("{} is already revoked.", output::name(&t.name)),
            );
            Vec::new()
        }
        Action::Revoke | Action::Delete => {
            let kind = if action == Action::Revoke {
                ConfirmKind::Revoke
            } else {
                ConfirmKind::Delete
            };
            let typed = (kind == ConfirmKind::Delete && t.status == TokenStatus::Active)
                .then(|| typed_field("type the token's name"));
            let mut c = Confirm::new(kind, &t.id, &t.name, t.hosts);
            c.typed = typed;
            app.modal = Some(Modal::Confirm(Box::new(c)));
            Vec::new()
        }
        _ => Vec::new(),
    }
}

pub(super) fn filter_key(app: &mut App, ev: KeyEvent, action: Option<Action>) {
    match action {
        Some(Action::Keep) => app.filter_input = None,
        Some(Action::Clear) => {
            app.filter_input = None;
            app.table().set_filter("");
        }
        _ => filter_edit(app, |t| super::form::edit_key(t, ev)),
    }
}

/// Edits the filter line, then filters by what it holds. A token in it (say, one found leaked)
/// is cut to its public part first, which finds its row by id: the secret part leaves the field
/// with the character that starts it, or with the paste that brought it.
pub(super) fn filter_edit(app: &mut App, edit: impl FnOnce(&mut TextArea<'static>)) {
    let Some(t) = &mut app.filter_input else {
        return;
    };
    edit(t);
    let typed = Zeroizing::new(super::form::text_of(t));
    let text = match tokens_named_in(&typed) {
        // The line holds a token: it becomes what names the token (other words around it, such
        // as `GATEPASS_TOKEN=`, would only keep its row from matching), drawn from the start.
        Some(names) => {
            *t = filter_line(&names);
            names
        }
        None => typed.to_string(),
    };
    app.table().set_filter(&text);
}

/// The public part of each token in `text` (`gpt_<id>`, or the id of a body without its
/// prefix), space-separated; `None` when it holds no token.
pub(super) fn tokens_named_in(text: &str) -> Option<String> {
    let ids = std::cell::RefCell::new(Vec::new());
    let cut = gatepass_protocol::token::replace_secrets(text, |id, _| {
        ids.borrow_mut().push(id.to_owned());
        id.to_owned()
    })?;
    let mut from = 0;
    let mut names = Vec::new();
    for id in ids.into_inner() {
        // Always there (the cut text holds each id it found); were it not, the id alone.
        let Some(at) = cut[from..].find(id.as_str()).map(|i| from + i) else {
            names.push(id);
            continue;
        };
        let before = &cut.as_bytes()[..at];
        let start = match before.len().checked_sub(4) {
            Some(p)
                if before[p..].eq_ignore_ascii_case(b"gpt_")
                    || before[p..].eq_ignore_ascii_case(b"gpa_") =>
            {
                p
            }
            _ => at,
        };
        names.push(cut[start..at + id.len()].to_owned());
        from = at + id.len();
    }
    Some(names.join(" "))
}

/// The filter line holding `text`, the cursor at its end. It keeps no undo history: a secret
/// cut from it must not come back with an undo.
pub(super) fn filter_line(text: &str) -> TextArea<'static> {
    let mut t = TextArea::new(vec![text.to_owned()]);
    t.set_max_histories(0);
    t.set_cursor_line_style(ratatui::style::Style::new());
    t.move_cursor(ratatui_textarea::CursorMove::End);
    t
}

pub(super) fn draw_info(f: &mut Frame<'_>, area: Rect, app: &App) {
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
        (Some(s), _) => {
            // The longest note that fits; the shortest (the pid) cut only if nothing fits.
            let room = usize::from(area.width).saturating_sub(keep + 3);
            let notes = s.notes();
            let note = notes
                .iter()
                .find(|n| n.width() <= room)
                .unwrap_or(&notes[notes.len() - 1]);
            Span::styled(format!("{note} "), th.warn())
        }
        (None, _) => Span::styled(format!("{} ", app.endpoint), th.dim()),
    };
    render_lr(f, area, left, vec![where_], Style::new(), keep);
}

pub(super) fn plain<T>(_: &T, _: usize, _: Theme) -> Style {
    Style::new()
}

pub(super) fn token_style(t: &Token, col: usize, th: Theme) -> Style {
    match col {
        1 => th.status(t.status),
        2 if output::counts_differ(t) => th.warn(),
        _ => Style::new(),
    }
}

pub(super) fn draw_table<T: Row>(
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
    // The TENANT column shows only in the view of all tenants.
    let order = Table::<T>::display_order(app.all_tenants());
    let wants: Vec<usize> = order
        .iter()
        .map(|&c| texts.iter().map(|t| t[c].width()).max().unwrap_or(0))
        .collect();
    let layout: Vec<_> = order.iter().map(|&c| T::LAYOUT[c]).collect();
    let heads: Vec<&str> = order.iter().map(|&c| T::COLUMNS[c]).collect();
    let fitted = fit_columns(area.width, &layout, &heads, &wants);
    let shown: Vec<(usize, usize)> = fitted
        .iter()
        .zip(&order)
        .filter_map(|(w, &c)| w.map(|w| (c, usize::from(w))))
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

pub(super) fn empty_message(app: &App, loaded: bool, none_at_all: bool) -> String {
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
        View::Tokens if app.all_tenants() => {
            "No tokens yet. Press T to choose a tenant to mint in.".to_owned()
        }
        View::Tokens => "No tokens yet. Press n to mint one.".to_owned(),
        View::Hosts => "No host has enrolled yet.".to_owned(),
        View::Audit => "The audit log is empty.".to_owned(),
        View::ApiTokens => match &app.api_tokens_error {
            Some(e) => format!("API tokens cannot be listed: {e}"),
            None => "No API tokens. Create one with `gatepass apitokens create`.".to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use crate::console::app::{Msg, update};
    use crate::console::fixtures::*;
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

    #[test]
    fn live_changes_update_the_row_without_moving_the_selection() {
        let mut a = app();
        key(&mut a, KeyCode::Down); // db-primary
        let before = screen(&mut a, 80, 24);
        assert!(before.contains("7/∞"), "{before}");
        let mut t = token_list().remove(0);
        t.uses = 8;
        t.hosts = 8;
        update(&mut a, token_changed(t));
        let after = screen(&mut a, 80, 24);
        assert!(after.contains("8/∞"), "{after}");
        assert_eq!(
            a.tokens.selected().map(|t| t.name.as_str()),
            Some("db-primary")
        );
    }

    #[test]
    fn a_pasted_token_is_found_by_its_public_part_and_leaves_the_field() {
        let mut a = app();
        let mut t = crate::console::fixtures::token("leaky", 0);
        let real =
            gatepass_protocol::token::generate(gatepass_protocol::TokenKind::Enrollment).unwrap();
        t.id = real.id().to_owned();
        update(&mut a, token_changed(t));
        ch(&mut a, '/');
        typed(&mut a, real.expose());
        let s = screen(&mut a, 80, 24);
        assert!(
            !s.contains(&real.expose()[16..]),
            "the secret part stayed on screen:\n{s}"
        );
        assert_eq!(a.tokens.visible_len(), 1, "{s}");
        assert_eq!(a.tokens.selected().map(|t| t.name.as_str()), Some("leaky"));
        // With words around it (a line copied from a script), typed at 80 columns: the row is
        // found, and the line shows from its start.
        key(&mut a, KeyCode::Esc);
        ch(&mut a, '/');
        typed(&mut a, &format!("GATEPASS_TOKEN={}", real.expose()));
        let s = screen(&mut a, 80, 24);
        assert_eq!(a.tokens.visible_len(), 1, "{s}");
        assert!(s.contains(&format!(" filter /gpt_{} ", real.id())), "{s}");
    }

    #[test]
    fn no_part_of_a_token_secret_shows_in_the_filter_typed_or_pasted_whatever_surrounds_it() {
        let real =
            gatepass_protocol::token::generate(gatepass_protocol::TokenKind::Enrollment).unwrap();
        let full = real.expose().to_owned();
        // The same token with its last character changed: its checksum fails, so it does not parse.
        let last = full.chars().last().unwrap_or('0');
        let mistyped = format!(
            "{}{}",
            &full[..full.len() - 1],
            if last == 'a' { 'b' } else { 'a' }
        );
        assert!(gatepass_protocol::token::parse(&mistyped).is_err());
        let public = format!("gpt_{}", real.id());
        // Any 6 characters in a row of what follows the id: none may ever be on screen.
        let after_id = full[public.len()..].to_owned();
        let shows_secret =
            |screen: &str| (0..=after_id.len() - 6).any(|i| screen.contains(&after_id[i..i + 6]));
        let cases = [
            (full.clone(), public.clone()),
            // What surrounds a token leaves with its secret: it would only keep the row from
            // matching.
            (format!("web {mistyped}"), public.clone()),
            (format!("GATEPASS_TOKEN={full}"), public.clone()),
            (format!("\"{full}\""), public.clone()),
            (format!("token:{full}"), public.clone()),
            (format!("({full})"), public.clone()),
            // Two at once can only be told apart when they arrive together (typed, the second's
            // first letters read as the first one's secret), so this one is only pasted.
            (format!("{full}{full}"), format!("{public} {public}")),
        ];
        for (n, (input, expected)) in cases.iter().enumerate() {
            // Typed a key at a time: from the first character past the id, only the id stays.
            let mut a = app();
            ch(&mut a, '/');
            for c in input.chars().filter(|_| n + 1 < cases.len()) {
                ch(&mut a, c);
                let s = screen(&mut a, 120, 40);
                assert!(!shows_secret(&s), "typing {input:?}:\n{s}");
            }
            // (What is typed after the token, a closing quote, stays.)
            if n + 1 < cases.len() {
                assert!(
                    a.table_ref().filter().starts_with(expected.as_str()),
                    "{input:?}"
                );
            }
            // Pasted: it arrives whole and is drawn once.
            let mut a = app();
            ch(&mut a, '/');
            paste(&mut a, input);
            assert!(!shows_secret(&screen(&mut a, 120, 40)), "pasting {input:?}");
            assert_eq!(a.table_ref().filter(), expected);
            // Kept (Enter), the info line shows the filter: the same, wide enough for all of it.
            key(&mut a, KeyCode::Enter);
            let s = screen(&mut a, 200, 40);
            assert!(s.contains(expected.as_str()) && !shows_secret(&s), "{s}");
        }
        // A token's body alone, pasted (a key at a time it could not be told from a word until it
        // is long enough): its id stays.
        let mut a = app();
        ch(&mut a, '/');
        paste(&mut a, &full[4..]);
        assert!(!shows_secret(&screen(&mut a, 120, 40)));
        assert_eq!(a.table_ref().filter(), real.id());
        // A display form, as lists show it, is searched for as it is.
        let mut a = app();
        ch(&mut a, '/');
        typed(&mut a, &format!("{public}…"));
        assert_eq!(a.table_ref().filter(), format!("{public}…"));
    }

    #[test]
    fn a_paste_goes_only_into_a_field_with_the_focus() {
        // In the table its letters would be commands (d delete, q quit): nothing happens.
        let mut a = app();
        let before = screen(&mut a, 80, 24);
        paste(&mut a, "dq\nx");
        assert!(a.modal.is_none() && !a.quit);
        assert_eq!(screen(&mut a, 80, 24), before);
        // Into the create form's name field, without its line break.
        ch(&mut a, 'n');
        paste(&mut a, "web-rollout\n");
        let s = screen(&mut a, 80, 24);
        assert!(s.contains("web-rollout"), "{s}");
        let Some(crate::console::app::Modal::Form(f)) = &a.modal else {
            panic!("the form closed");
        };
        assert_eq!(crate::console::form::text_of(&f.name), "web-rollout");
        // A token pasted, or typed, into a form field is cut to its public part there too: its
        // secret is never drawn (and no undo brings it back).
        let real =
            gatepass_protocol::token::generate(gatepass_protocol::TokenKind::Enrollment).unwrap();
        let secret = &real.expose()[16..];
        key(&mut a, KeyCode::Tab);
        paste(&mut a, &format!("leaked {}", real.expose()));
        let s = screen(&mut a, 120, 40);
        assert!(!s.contains(&secret[..6]), "{s}");
        assert!(s.contains(&format!("leaked gpt_{}", real.id())), "{s}");
        ctrl(&mut a, 'u');
        key(&mut a, KeyCode::Tab);
        typed(&mut a, real.expose());
        let s = screen(&mut a, 120, 40);
        assert!(!s.contains(&secret[..6]), "{s}");
        // The name a delete asks for: the same.
        let mut b = typed_delete("");
        paste(&mut b, real.expose());
        let s = screen(&mut b, 120, 40);
        assert!(!s.contains(&secret[..6]), "{s}");
    }

    #[test]
    fn names_sort_without_regard_to_case_as_the_daemon_lists_them() {
        let mut a = app();
        let list = ["Zulu-upper", "alpha-lower", "Beta"]
            .map(|n| crate::console::fixtures::token(n, 0))
            .to_vec();
        update(&mut a, Msg::Tokens(list));
        let s = screen(&mut a, 80, 24);
        let rows: Vec<&str> = s
            .lines()
            .skip(3)
            .filter_map(|l| l.split_whitespace().next())
            .take(3)
            .collect();
        assert_eq!(rows, ["alpha-lower", "Beta", "Zulu-upper"], "{s}");
    }

    /// o writes the view as it shows, filtered and sorted, as CSV.
    #[test]
    fn export_writes_the_view_filtered_and_sorted() {
        use crate::console::app::Cmd;
        let mut a = app();
        ch(&mut a, '/');
        typed(&mut a, "web");
        key(&mut a, KeyCode::Enter);
        // By name, descending.
        ch(&mut a, 's');
        key(&mut a, KeyCode::Enter);
        let cmds = upd(&mut a, KeyCode::Char('o'));
        let [Cmd::Export { stem, rows, body }] = cmds.as_slice() else {
            panic!("{cmds:?}");
        };
        assert!(stem.starts_with("gatepass-tokens-"), "{stem}");
        let names: Vec<&str> = body
            .lines()
            .skip(1)
            .filter_map(|l| l.split(',').nth(1))
            .collect();
        assert_eq!(*rows, names.len());
        let mut sorted = names.clone();
        sorted.sort_by(|x, y| y.cmp(x));
        assert_eq!(names, sorted, "{body}");
        assert!(
            names.contains(&"web-rollout") && !names.contains(&"db-primary"),
            "{body}"
        );
    }

    #[test]
    fn read_only_hides_writes_and_says_why() {
        let mut a = app();
        update(
            &mut a,
            Msg::Connected(who(gatepass_protocol::Role::Auditor)),
        );
        let s = screen(&mut a, 80, 24);
        assert!(s.contains("read-only"), "{s}");
        assert!(!s.contains("n new"), "{s}");
        ch(&mut a, 'n');
        assert!(a.modal.is_none());
        let s = screen(&mut a, 80, 24);
        assert!(
            s.contains("Read-only: new is not available (your role is auditor)"),
            "{s}"
        );
    }

    #[test]
    fn below_the_floor_keys_do_nothing_but_quit() {
        let mut a = app();
        update(&mut a, Msg::Resize(50, 12));
        let cmds = update(
            &mut a,
            Msg::Key(KeyEvent::new(KeyCode::Char('x'), KeyModifiers::NONE)),
        );
        assert!(cmds.is_empty(), "{cmds:?}");
        ch(&mut a, 'n');
        assert!(a.modal.is_none());
        let cmds = update(
            &mut a,
            Msg::Key(KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE)),
        );
        assert!(matches!(cmds.as_slice(), [crate::console::app::Cmd::Quit]));
    }

    /// The confirmation lists marked tokens in the order the list shows them (it listed them by
    /// id: "db-primary", "cache-nodes").
    #[test]
    fn marked_tokens_are_listed_in_the_order_shown() {
        let mut a = app();
        // By name, descending: web-rollout, old-batch first.
        ch(&mut a, 's');
        key(&mut a, KeyCode::Enter);
        key(&mut a, KeyCode::Home);
        ch(&mut a, ' ');
        ch(&mut a, ' ');
        ch(&mut a, 'd');
        let Some(crate::console::app::Modal::Confirm(c)) = &a.modal else {
            panic!("no confirmation");
        };
        let names: Vec<&str> = c.many.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["web-rollout", "old-batch"]);
    }

    /// `o` writes the tokens with their labels (the export had no labels column).
    #[test]
    fn the_export_carries_the_labels() {
        let mut a = app();
        let cmds = update(
            &mut a,
            Msg::Key(KeyEvent::new(KeyCode::Char('o'), KeyModifiers::NONE)),
        );
        let [crate::console::app::Cmd::Export { body, .. }] = cmds.as_slice() else {
            panic!("{cmds:?}");
        };
        let mut lines = body.lines();
        let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
        let col = header
            .iter()
            .position(|h| *h == "labels")
            .expect("a labels column");
        let first: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
        assert_eq!(first.get(col), Some(&"env=prod"), "{body}");
    }

    /// With one tenant `T` has nothing to choose and says so on the message line above the footer; no
    /// picker opens, and the footer never offered it.
    #[test]
    fn t_with_one_tenant_only_says_so() {
        let mut a = one_tenant_app();
        assert!(!screen(&mut a, 120, 40).contains("T tenant"));
        let cmds = upd(&mut a, KeyCode::Char('T'));
        assert!(cmds.is_empty() && a.modal.is_none(), "{cmds:?}");
        let s = screen(&mut a, 80, 24);
        let message = s.lines().nth_back(1).unwrap_or_default();
        assert!(
            message.contains("Only one tenant is open to you (acme): nothing to choose."),
            "{s}"
        );
        // n mints there, as before tenants.
        ch(&mut a, 'n');
        assert!(matches!(a.modal, Some(crate::console::app::Modal::Form(_))));
    }

    /// "All tenants" is a view, never a place to mint: n (and C) say to choose a tenant, and
    /// neither the footer nor the help offers them.
    #[test]
    fn n_is_refused_in_the_all_tenants_view() {
        let mut a = tenants_app();
        assert!(a.all_tenants());
        for c in ['n', 'C'] {
            let cmds = upd(&mut a, KeyCode::Char(c));
            assert!(cmds.is_empty() && a.modal.is_none(), "{c}: {cmds:?}");
            let s = screen(&mut a, 80, 24);
            assert!(s.contains("choose a tenant to mint in (T)"), "{c}:\n{s}");
        }
        key(&mut a, KeyCode::Esc);
        let s = screen(&mut a, 200, 40);
        let footer = s.lines().last().unwrap_or_default();
        assert!(
            !footer.contains("n new") && !footer.contains("C clone"),
            "{footer}"
        );
        ch(&mut a, '?');
        let help = screen(&mut a, 120, 80);
        assert!(!help.contains("Mint a new token"), "{help}");
        assert!(help.contains("Choose the tenant"), "{help}");
        // Once a tenant is chosen, n mints in it.
        key(&mut a, KeyCode::Esc);
        ch(&mut a, 'T');
        key(&mut a, KeyCode::Down);
        key(&mut a, KeyCode::Enter);
        ch(&mut a, 'n');
        assert!(matches!(a.modal, Some(crate::console::app::Modal::Form(_))));
    }
}
