//! Confirmations: revoke, delete (typing an active token's name), remove a host, delete an API
//! token, and one confirmation for every marked token (typing their count to delete active
//! ones), bound to ids when they open; Cancel is focused first. Each marked token's result is
//! listed when they are done.

use crossterm::event::{KeyCode, KeyEvent};
use gatepass_protocol::Token;
use ratatui::Frame;
use ratatui::layout::{Alignment, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui_textarea::TextArea;

use super::app::*;
use super::keymap::{self, Action, View};
use super::widgets::*;
use crate::output;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfirmKind {
    Revoke,
    Delete,
    RemoveHost,
    DeleteApiToken,
    /// Marked tokens only (one token is disabled or enabled at once, without asking).
    Disable,
    Enable,
}

impl ConfirmKind {
    pub fn verb(self) -> &'static str {
        match self {
            ConfirmKind::Revoke => "Revoke",
            ConfirmKind::Delete => "Delete",
            ConfirmKind::RemoveHost => "Remove",
            ConfirmKind::DeleteApiToken => "Delete",
            ConfirmKind::Disable => "Disable",
            ConfirmKind::Enable => "Enable",
        }
    }

    /// What it acts on: "token".
    pub fn noun(self) -> &'static str {
        match self {
            ConfirmKind::RemoveHost => "host",
            ConfirmKind::DeleteApiToken => "API token",
            _ => "token",
        }
    }

    /// "Revoked", as a heading says it.
    pub fn verb_past(self) -> String {
        let done = self.done();
        let mut c = done.chars();
        c.next()
            .map(|f| f.to_uppercase().chain(c).collect())
            .unwrap_or_default()
    }

    /// What a token is after it: "revoked".
    pub fn done(self) -> &'static str {
        match self {
            ConfirmKind::Revoke => "revoked",
            ConfirmKind::Delete | ConfirmKind::DeleteApiToken => "deleted",
            ConfirmKind::RemoveHost => "removed",
            ConfirmKind::Disable => "disabled",
            ConfirmKind::Enable => "enabled",
        }
    }
}

/// A marked token a confirmation acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub id: String,
    pub name: String,
    pub active: bool,
    pub hosts: u64,
}

/// A confirmation, bound to the id it was opened for.
#[derive(Debug)]
pub struct Confirm {
    pub kind: ConfirmKind,
    pub id: String,
    pub name: String,
    /// Enrolled hosts of the token (what happens to them is spelled out).
    pub hosts: u64,
    /// Deleting an active token asks for its name to be typed.
    pub typed: Option<TextArea<'static>>,
    /// False: Cancel is focused (the default).
    pub on_action: bool,
    pub busy: bool,
    pub error: Option<String>,
    /// Every marked token it acts on (empty: the one token `id` names). Deleting active ones
    /// asks for their count to be typed (`name` holds it then).
    pub many: Vec<Target>,
}

impl Confirm {
    /// A dialog with Cancel focused, bound to `id`.
    pub fn new(kind: ConfirmKind, id: &str, name: &str, hosts: u64) -> Confirm {
        Confirm {
            kind,
            id: id.to_owned(),
            name: name.to_owned(),
            hosts,
            typed: None,
            on_action: false,
            busy: false,
            error: None,
            many: Vec::new(),
        }
    }

    /// One confirmation for every marked token; deleting active ones asks for their count.
    pub fn for_many(kind: ConfirmKind, many: Vec<Target>) -> Confirm {
        let active = many.iter().filter(|t| t.active).count();
        let mut c = Confirm::new(kind, "", &many.len().to_string(), 0);
        c.hosts = many.iter().map(|t| t.hosts).sum();
        if kind == ConfirmKind::Delete && active > 0 {
            c.typed = Some(typed_field("type the number of tokens"));
        }
        c.many = many;
        c
    }

    /// What to type, said when something else was.
    pub fn type_this(&self) -> String {
        if self.many.is_empty() {
            format!("Type {:?} exactly to delete it.", self.name)
        } else {
            format!("Type {} (how many tokens) to delete them.", self.name)
        }
    }

    pub fn typed_ok(&self) -> bool {
        self.typed
            .as_ref()
            .is_none_or(|t| super::form::text_of(t) == self.name)
    }
}

pub(super) fn dialog_key(app: &mut App, ev: KeyEvent, action: Option<Action>) -> Vec<Cmd> {
    let Some(Modal::Confirm(c)) = &mut app.modal else {
        return Vec::new();
    };
    if c.busy {
        return Vec::new();
    }
    // With a name to type, letters go to the field; y is a letter like any other.
    let typing = c.typed.is_some();
    let action = match (typing, action, ev.code) {
        (true, Some(Action::Confirm | Action::Back), KeyCode::Char(_)) => None,
        (true, Some(Action::NextField), KeyCode::Left | KeyCode::Right) => None,
        (_, a, _) => a,
    };
    let go = match action {
        Some(Action::Back) => {
            app.modal = None;
            app.flash = flash(Level::Info, "Cancelled: nothing changed.");
            return Vec::new();
        }
        Some(Action::NextField) => {
            c.on_action = !c.on_action;
            false
        }
        Some(Action::Confirm) => true,
        Some(Action::Activate) if typing && !c.on_action => {
            app.modal = None;
            app.flash = flash(Level::Info, "Cancelled: nothing changed.");
            return Vec::new();
        }
        Some(Action::Activate) if typing => {
            if c.typed_ok() {
                true
            } else {
                c.error = Some(c.type_this());
                false
            }
        }
        Some(Action::Activate) => {
            if c.on_action {
                true
            } else {
                app.modal = None;
                app.flash = flash(Level::Info, "Cancelled: nothing changed.");
                return Vec::new();
            }
        }
        _ => {
            if let Some(t) = &mut c.typed {
                super::form::edit_key(t, ev);
                super::form::cut_secrets(t);
                c.error = None;
                // Delete takes the focus once the name matches, and gives it back if not.
                c.on_action = c.typed_ok();
            }
            false
        }
    };
    if !go {
        return Vec::new();
    }
    if !c.typed_ok() {
        c.error = Some(c.type_this());
        return Vec::new();
    }
    c.busy = true;
    if !c.many.is_empty() {
        return vec![Cmd::Bulk {
            kind: c.kind,
            targets: c.many.clone(),
        }];
    }
    let (id, name) = (c.id.clone(), c.name.clone());
    vec![match c.kind {
        ConfirmKind::Revoke => Cmd::Revoke { id },
        ConfirmKind::Delete => Cmd::Delete { id, name },
        ConfirmKind::RemoveHost => Cmd::RemoveHost { id, name },
        ConfirmKind::DeleteApiToken => Cmd::DeleteApiToken { id, name },
        ConfirmKind::Disable | ConfirmKind::Enable => Cmd::SetDisabled {
            id,
            disabled: c.kind == ConfirmKind::Disable,
        },
    }]
}

/// The field a confirmation asks to type into (no undo history, as every field).
pub(super) fn typed_field(placeholder: &str) -> TextArea<'static> {
    let mut ta = TextArea::default();
    ta.set_max_histories(0);
    ta.set_cursor_line_style(ratatui::style::Style::new());
    ta.set_placeholder_text(placeholder.to_owned());
    ta
}

/// Every marked token's result, listed in a view of their own (and the marks cleared).
pub(super) fn on_bulk_done(
    app: &mut App,
    kind: ConfirmKind,
    results: Vec<(Target, Result<Option<Token>, String>)>,
) {
    if matches!(app.modal, Some(Modal::Confirm(_))) {
        app.modal = None;
    }
    let total = results.len();
    let mut done = 0;
    let mut fields = Vec::new();
    for (target, result) in results {
        let line = match result {
            Ok(Some(t)) => {
                app.tokens.upsert(t);
                done += 1;
                kind.done().to_owned()
            }
            Ok(None) => {
                app.tokens.remove(&target.id);
                done += 1;
                kind.done().to_owned()
            }
            Err(e) => format!("failed: {e}"),
        };
        app.marked.remove(&target.id);
        fields.push((target.name, line));
    }
    let title = format!("{} {done} of {total} tokens", kind.verb_past());
    app.flash = flash(
        if done == total {
            Level::Ok
        } else {
            Level::Error
        },
        format!("{title}."),
    );
    app.modal = Some(Modal::Record {
        title,
        fields,
        scroll: 0,
    });
}

/// The names of the marked tokens a confirmation acts on, as many as fit a few lines.
pub(super) fn listed(many: &[super::app::Target]) -> String {
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

pub(super) fn confirm_text(c: &Confirm) -> (String, String) {
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
            format!("The {n} marked tokens, {} enrolled hosts in all:", c.hosts),
            format!("{}. {effect}", listed(&c.many)),
        );
    }
    // The title asks it ("Revoke token \"web-1\"?"); the first line says which one exactly,
    // by the id the dialog is bound to.
    let hosts = format!("Hosts enrolled with it: {}", c.hosts);
    let which = format!("{} · id {}", output::name(&c.name), c.id);
    match c.kind {
        ConfirmKind::Disable | ConfirmKind::Enable => (which, hosts),
        ConfirmKind::Revoke => (
            which,
            format!(
                "It can never be redeemed again; this cannot be undone. {hosts}; they keep \
                 their identities and certificates and stay in Hosts."
            ),
        ),
        ConfirmKind::Delete => (
            which,
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
            which,
            "It leaves the list of enrolled hosts (audited), and its token's count of hosts \
             drops by one. Its certificate is not revoked."
                .to_owned(),
        ),
        ConfirmKind::DeleteApiToken => (
            which,
            "Anything using it is refused from now on.".to_owned(),
        ),
    }
}

/// The dialog's title: the question, naming the action and what it acts on ("Revoke token
/// \"web-1\"?", "Revoke 3 tokens?").
pub(super) fn confirm_title(c: &Confirm) -> String {
    if c.many.is_empty() {
        format!(
            "{} {} {}?",
            c.kind.verb(),
            c.kind.noun(),
            output::name(&c.name)
        )
    } else {
        let n = c.many.len();
        format!(
            "{} {n} {}?",
            c.kind.verb(),
            if n == 1 { "token" } else { "tokens" }
        )
    }
}

pub(super) fn draw_confirm(f: &mut Frame<'_>, area: Rect, app: &App, c: &Confirm) {
    let th = app.theme;
    // Wide enough, with a name to type, for the longest name (64) and the cursor after it.
    let w = if c.typed.is_some() { 72 } else { 64 };
    let r = centered(area, w, 12);
    let inner = popup(f, r, &confirm_title(c), th);
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

#[cfg(test)]
mod tests {
    use crate::console::fixtures::*;
    use crossterm::event::KeyCode;

    #[test]
    fn a_typed_delete_presses_the_focused_button() {
        // Not matching yet: Cancel keeps the focus, and Enter cancels.
        let mut b = typed_delete("edge-soo");
        let cmds = enter(&mut b);
        assert!(cmds.is_empty() && b.modal.is_none());
        // Matching: Delete takes the focus; y and n are letters of the name, not answers.
        let mut a = typed_delete("edge-soo");
        ch(&mut a, 'n');
        let s = screen(&mut a, 80, 24);
        assert!(s.contains("type the name, Enter delete"), "{s}");
        let cmds = enter(&mut a);
        assert!(
            matches!(cmds.as_slice(), [crate::console::app::Cmd::Delete { name, .. }] if name == "edge-soon"),
            "{cmds:?}"
        );
        // Tab back to Cancel, and Enter cancels even with the name typed.
        let mut c = typed_delete("edge-soon");
        key(&mut c, KeyCode::Tab);
        let cmds = enter(&mut c);
        assert!(cmds.is_empty() && c.modal.is_none(), "{cmds:?}");
    }

    /// Deleting marked tokens of which some are active asks for their count to be typed.
    #[test]
    fn deleting_marked_active_tokens_asks_for_their_count() {
        use crate::console::app::Cmd;
        let mut a = app();
        ch(&mut a, ' ');
        ch(&mut a, ' ');
        ch(&mut a, ' ');
        ch(&mut a, 'd');
        assert_eq!(a.ctx(), crate::console::keymap::Ctx::TypedDialog);
        let Some(crate::console::app::Modal::Confirm(c)) = &a.modal else {
            panic!("no dialog");
        };
        let (_, body) = super::confirm_text(c);
        assert!(body.contains("type 3, then Enter"), "{body}");
        let s = screen(&mut a, 80, 24);
        assert!(s.contains("Delete 3 tokens?"), "{s}");
        typed(&mut a, "2");
        // Not the count: Cancel keeps the focus, and Enter cancels.
        assert!(enter(&mut a).is_empty(), "a wrong count deletes nothing");
        assert!(a.modal.is_none());
        ch(&mut a, 'd');
        typed(&mut a, "3");
        let cmds = enter(&mut a);
        assert!(
            matches!(cmds.as_slice(), [Cmd::Bulk { targets, .. }] if targets.len() == 3),
            "{cmds:?}"
        );
    }
}
