//! The chooser: a short list in a box, for the sort column (`s`), the status filter (`f`),
//! what `y` copies of the selected token (its id, its name or its host command) and the tenant
//! shown (`T`: each tenant open to the caller with their role and its counts, or all tenants).
//! Its keys, its drawing and what choosing does.

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
    /// The tenant shown (`T`): all tenants first, then each open to the caller.
    Tenant,
}

/// What `y` offers to copy, in the chooser's order.
pub const YANK_CHOICES: [&str; 3] = ["id", "name", "host command"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chooser {
    pub kind: ChooserKind,
    pub cursor: usize,
}

pub(super) fn chooser_key(app: &mut App, action: Option<Action>) -> Vec<Cmd> {
    let Some(Modal::Chooser(c)) = &app.modal else {
        return Vec::new();
    };
    let len = match c.kind {
        ChooserKind::Sort => sort_columns(app).len(),
        ChooserKind::Status => StatusFilter::ALL.len(),
        ChooserKind::Yank => YANK_CHOICES.len(),
        ChooserKind::Tenant => app.tenants.len() + 1,
    };
    let Some(Modal::Chooser(c)) = &mut app.modal else {
        return Vec::new();
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
                ChooserKind::Tenant => {
                    let tenant = cursor
                        .checked_sub(1)
                        .and_then(|i| app.tenants.get(i))
                        .map(|t| t.name.clone());
                    return choose_tenant(app, tenant);
                }
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
                sort_columns(app)
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
        ChooserKind::Tenant => ("Show tenant", tenant_lines(app)),
    };
    let h = items.len() as u16 + 2;
    // Each line, a space either side, and the borders.
    let wide = items
        .iter()
        .map(|s| s.chars().count() + 4)
        .max()
        .unwrap_or(0);
    let r = centered(area, wide.clamp(34, 76) as u16, h);
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

/// The tenant picker's lines: all tenants, then each with the caller's role there and its
/// counts, the one shown marked.
fn tenant_lines(app: &App) -> Vec<String> {
    let name_w = app
        .tenants
        .iter()
        .map(|t| t.name.chars().count())
        .chain([11])
        .max()
        .unwrap_or(11)
        .min(32);
    let counts = |tokens: u64, hosts: u64| {
        let s = |n: u64| if n == 1 { "" } else { "s" };
        format!("{tokens} token{}, {hosts} host{}", s(tokens), s(hosts))
    };
    let mark = |on: bool| if on { "•" } else { " " };
    let (tokens, hosts) = app
        .tenants
        .iter()
        .fold((0, 0), |(a, b), t| (a + t.tokens, b + t.hosts));
    let mut lines = vec![format!(
        "{} {:<name_w$}  {:<8}  {}",
        mark(app.tenant.is_none()),
        "all tenants",
        "",
        counts(tokens, hosts)
    )];
    for t in &app.tenants {
        lines.push(format!(
            "{} {:<name_w$}  {:<8}  {}",
            mark(app.tenant.as_deref() == Some(t.name.as_str())),
            crate::output::elide(&t.name, name_w),
            t.role.as_str(),
            counts(t.tokens, t.hosts)
        ));
    }
    lines
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

    /// Choosing a tenant filters the lists at once, asks for them again, and the queries the
    /// runtime sends carry the tenant; "all tenants" clears it.
    #[test]
    fn choosing_a_tenant_sets_the_queries_filter() {
        use crate::console::app::Cmd;
        let mut a = tenants_app();
        let before = a.tenant_gen;
        assert_eq!(a.tokens.len(), 6);
        ch(&mut a, 'T');
        key(&mut a, KeyCode::Down);
        key(&mut a, KeyCode::Down);
        let cmds = upd(&mut a, KeyCode::Enter);
        assert_eq!(cmds, vec![Cmd::Reload]);
        assert_eq!(a.tenant.as_deref(), Some("globex"));
        assert!(a.tenant_gen > before);
        assert!(a.tokens.rows().all(|t| t.tenant == "globex"));
        assert_eq!((a.tokens.len(), a.hosts.len()), (3, 1));
        let (tokens, hosts, audit) = crate::console::list_queries(a.tenant.clone());
        assert_eq!(tokens.tenant.as_deref(), Some("globex"));
        assert_eq!(hosts.tenant.as_deref(), Some("globex"));
        assert_eq!(audit.tenant.as_deref(), Some("globex"));
        let s = screen(&mut a, 120, 40);
        assert!(
            s.contains("tenant globex ·") && !s.contains("TENANT"),
            "{s}"
        );
        // A full list that still holds another tenant's rows (loaded before the choice) shows
        // only this one's.
        crate::console::app::update(
            &mut a,
            crate::console::app::Msg::Tokens(crate::console::fixtures::token_list()),
        );
        assert_eq!(a.tokens.len(), 0);
        // Back to all tenants.
        ch(&mut a, 'T');
        key(&mut a, KeyCode::Up);
        key(&mut a, KeyCode::Up);
        let cmds = upd(&mut a, KeyCode::Enter);
        assert_eq!(cmds, vec![Cmd::Reload]);
        assert_eq!(a.tenant, None);
        let (tokens, ..) = crate::console::list_queries(a.tenant.clone());
        assert_eq!(tokens.tenant, None);
    }
}
