//! Details: a token's every field, its enrolled hosts and its own audit trail (live), and any
//! other view's row in full; scrolling, and r, d, x on the token shown.

use crossterm::event::KeyEvent;
use gatepass_protocol::{AuditEvent, Host, Timestamp, Token};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::app::*;
use super::keymap::{self, Action, Ctx, View};
use super::list::token_action;
use super::table::status_word;
use super::timefmt;
use super::widgets::*;
use crate::output;
use crate::output::elide;

/// A token's detail view, bound to its id.
#[derive(Debug)]
pub struct Detail {
    pub id: String,
    pub hosts: Option<Result<Vec<Host>, String>>,
    pub audit: Option<Result<Vec<AuditEvent>, String>>,
    pub scroll: u16,
}

pub(super) fn detail_key(app: &mut App, ev: KeyEvent, action: Option<Action>) -> Vec<Cmd> {
    app.flash = None;
    let (max, page) = (app.scroll_max.get(), app.scroll_page.get());
    if let Some(Modal::Record { scroll, .. }) = &mut app.modal {
        match action {
            Some(Action::Back) => app.modal = None,
            Some(a) => *scroll = scrolled(*scroll, a, page, max),
            None => {}
        }
        return Vec::new();
    }
    let Some(Modal::Detail(d)) = &mut app.modal else {
        return Vec::new();
    };
    match action {
        Some(Action::Back) => {
            app.modal = None;
            Vec::new()
        }
        Some(
            a @ (Action::Up
            | Action::Down
            | Action::PageUp
            | Action::PageDown
            | Action::Home
            | Action::End),
        ) => {
            d.scroll = scrolled(d.scroll, a, page, max);
            Vec::new()
        }
        Some(Action::Help) => {
            app.modal = Some(Modal::Help { scroll: 0 });
            Vec::new()
        }
        Some(a @ (Action::Revoke | Action::Delete | Action::ToggleDisable)) => {
            let id = d.id.clone();
            match app.tokens.get(&id).cloned() {
                Some(t) => token_action(app, &t, a),
                None => Vec::new(),
            }
        }
        _ => {
            if keymap::lookup_refused(Ctx::Detail, &ev, View::Tokens).is_some() {
                app.flash = flash(
                    Level::Error,
                    format!("Read-only ({}).", readonly_reason(app)),
                );
            }
            Vec::new()
        }
    }
}

/// The status word of a token (for dialogs and the detail view).
pub fn describe_status(t: &Token) -> &'static str {
    status_word(t.status)
}

/// The selected row of the hosts, audit or API tokens view, as (title, every field).
pub(super) fn record_of(app: &App) -> Option<(String, Vec<(String, String)>)> {
    let kv = |k: &str, v: String| (k.to_owned(), v);
    let at = |t: Timestamp| {
        format!(
            "{} {}",
            super::timefmt::local(t),
            super::timefmt::zone_name(super::timefmt::offset())
        )
    };
    match app.view {
        View::Hosts => {
            let h = app.hosts.selected()?;
            let mut f = vec![
                kv("id", h.id.clone()),
                kv("hostname", h.hostname.clone()),
                kv("token", format!("{} ({})", h.token_name, h.token_id)),
                kv("group", h.group.clone().unwrap_or_else(|| "-".into())),
                kv("labels", crate::output::pairs(&h.labels, ", ")),
                kv("owner", h.owner.clone()),
                kv("source", h.source_addr.clone()),
                kv("enrolled", at(h.enrolled_at)),
                kv(
                    "key",
                    h.key_fingerprint
                        .clone()
                        .unwrap_or_else(|| "none (no CSR)".into()),
                ),
            ];
            for (k, v) in &h.facts {
                f.push((format!("fact {k}"), v.to_string()));
            }
            Some((format!("Host {}", h.hostname), f))
        }
        View::Audit => {
            let e = app.audit.selected()?;
            let mut f = vec![
                kv("seq", e.seq.to_string()),
                kv("time", at(e.at)),
                kv("actor", e.actor.clone()),
                kv("action", e.action.to_string()),
                kv(
                    "target",
                    match &e.target_name {
                        Some(n) => format!("{n} ({})", e.target),
                        None => e.target.clone(),
                    },
                ),
            ];
            for (k, v) in &e.details {
                let v = match k.as_str() {
                    "labels" => crate::output::details(&[(k.clone(), v.clone())].into(), " ")
                        .trim_start_matches("labels: ")
                        .to_owned(),
                    _ => v.clone(),
                };
                f.push((k.clone(), v));
            }
            f.push(kv("prev hash", e.prev_hash.clone()));
            Some((format!("Audit event {}", e.seq), f))
        }
        View::ApiTokens => {
            let a = app.api_tokens.selected()?;
            Some((
                format!("API token {}", a.name),
                vec![
                    kv("id", a.id.clone()),
                    kv("name", a.name.clone()),
                    kv("user", a.user.clone()),
                    kv("created", at(a.created_at)),
                    kv("expires", at(a.expires_at)),
                    kv(
                        "path",
                        a.path_prefix.clone().unwrap_or_else(|| "any".into()),
                    ),
                    kv(
                        "referrer",
                        a.referrer.clone().unwrap_or_else(|| "any".into()),
                    ),
                    kv("remark", a.remark.clone()),
                ],
            ))
        }
        View::Tokens => None,
    }
}

pub(super) fn draw_detail(f: &mut Frame<'_>, area: Rect, app: &App, d: &Detail) {
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
        // Wrapped under the values, as every field is.
        let mut note = Vec::new();
        hanging(
            &mut note,
            Span::raw(" ".repeat(14)),
            "uses and enrolled hosts differ: hosts were removed",
            width,
        );
        lines.extend(note.into_iter().map(|l| l.style(th.warn())));
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
                let lead = format!(
                    "  {} {} ",
                    timefmt::local(e.at),
                    padded(e.action.as_str(), 14)
                );
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

pub(super) fn draw_record(
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

#[cfg(test)]
mod tests {
    use crate::console::fixtures::*;
    use crossterm::event::KeyCode;

    #[test]
    fn help_and_details_page_with_pgup_and_pgdn() {
        let mut a = app();
        ch(&mut a, '?');
        let top = screen(&mut a, 80, 24);
        key(&mut a, KeyCode::PageDown);
        let paged = screen(&mut a, 80, 24);
        assert_ne!(top, paged, "PgDn did not move the help");
        let Some(crate::console::app::Modal::Help { scroll }) = a.modal else {
            panic!("the help closed");
        };
        // A page is the lines in view less one, so the last line read stays in sight.
        let page = a.scroll_page.get();
        assert!(page > 5, "page {page}");
        assert_eq!(scroll, page - 1);
        for _ in 0..100 {
            key(&mut a, KeyCode::PageDown);
        }
        let Some(crate::console::app::Modal::Help { scroll }) = a.modal else {
            panic!("the help closed");
        };
        assert_eq!(scroll, a.scroll_max.get(), "PgDn runs past the end");
        for _ in 0..100 {
            key(&mut a, KeyCode::PageUp);
        }
        assert_eq!(screen(&mut a, 80, 24), top);
        key(&mut a, KeyCode::Esc);
        // A token's details page the same way, once its hosts run past the screen.
        open_details(&mut a, |t| {
            let hosts = (0..40)
                .map(|n| crate::console::fixtures::host(&format!("web-{n:02}"), t, n))
                .collect();
            (hosts, Vec::new())
        });
        let top = screen(&mut a, 80, 24);
        key(&mut a, KeyCode::PageDown);
        assert_ne!(screen(&mut a, 80, 24), top, "PgDn did not move the details");
        key(&mut a, KeyCode::PageUp);
        assert_eq!(screen(&mut a, 80, 24), top);
    }
}
