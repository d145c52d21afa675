//! The one keymap table: every key the console understands, in which context, and the words the
//! footer and the `?` help show for it. Lookup, footer and help all read this table, so a key
//! can never work without being documented, or be documented without working.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Where the keyboard focus is; each context has its own bindings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ctx {
    /// A table view (tokens, hosts, audit, API tokens).
    Table,
    /// A token's detail view.
    Detail,
    /// The create form.
    Form,
    /// The calendar inside the create form.
    Calendar,
    /// A confirmation dialog.
    Dialog,
    /// A confirmation that needs the token's name typed (deleting an active token).
    TypedDialog,
    /// The one-time reveal of a new token.
    Reveal,
    /// The sort or status chooser.
    Chooser,
    /// Typing a filter.
    Filter,
    /// The help overlay.
    Help,
}

impl Ctx {
    pub fn title(self) -> &'static str {
        match self {
            Ctx::Table => "Lists",
            Ctx::Detail => "Token details",
            Ctx::Form => "New token form",
            Ctx::Calendar => "Date picker (in the form)",
            Ctx::Dialog => "Confirmations",
            Ctx::TypedDialog => "Deleting an active token",
            Ctx::Reveal => "One-time reveal",
            Ctx::Chooser => "Sort and status choosers",
            Ctx::Filter => "Filter line",
            Ctx::Help => "This help",
        }
    }
}

/// What a key does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Quit,
    Help,
    NextView,
    PrevView,
    Up,
    Down,
    PageUp,
    PageDown,
    Home,
    End,
    New,
    Details,
    Revoke,
    Delete,
    ToggleDisable,
    Filter,
    StatusFilter,
    Sort,
    Reload,
    Back,
    NextField,
    PrevField,
    Submit,
    Left,
    Right,
    Today,
    Confirm,
    Activate,
    Copy,
    CopyCommand,
    WriteFile,
    Acknowledge,
    Keep,
    Clear,
}

/// The console's views, in `Tab` order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Tokens,
    Hosts,
    Audit,
    ApiTokens,
}

impl View {
    pub const ALL: [View; 4] = [View::Tokens, View::Hosts, View::Audit, View::ApiTokens];

    pub fn title(self) -> &'static str {
        match self {
            View::Tokens => "Tokens",
            View::Hosts => "Hosts",
            View::Audit => "Audit",
            View::ApiTokens => "API tokens",
        }
    }
}

/// Which views a binding applies to (tables only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Only {
    Any,
    Tokens,
    /// Tokens, hosts and API tokens: the views whose rows can be acted on.
    Actionable,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    pub code: KeyCode,
    pub mods: KeyModifiers,
}

const fn k(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        mods: KeyModifiers::NONE,
    }
}

const fn code(code: KeyCode) -> Key {
    Key {
        code,
        mods: KeyModifiers::NONE,
    }
}

const fn ctrl(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        mods: KeyModifiers::CONTROL,
    }
}

/// One line of the table.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    pub ctx: Ctx,
    pub keys: &'static [Key],
    /// How the keys are written in the footer and help.
    pub shown: &'static str,
    /// The footer's word for it (empty: help only).
    pub label: &'static str,
    /// The help's sentence.
    pub help: &'static str,
    pub action: Action,
    /// Changes something: hidden and refused in read-only mode.
    pub writes: bool,
    pub only: Only,
}

const fn b(
    ctx: Ctx,
    keys: &'static [Key],
    shown: &'static str,
    label: &'static str,
    help: &'static str,
    action: Action,
) -> Binding {
    Binding {
        ctx,
        keys,
        shown,
        label,
        help,
        action,
        writes: false,
        only: Only::Any,
    }
}

const fn w(mut binding: Binding, only: Only) -> Binding {
    binding.writes = true;
    binding.only = only;
    binding
}

const fn on(mut binding: Binding, only: Only) -> Binding {
    binding.only = only;
    binding
}

use Action as A;
use Ctx as C;

/// Every binding, in the order the footer and help list them.
pub const BINDINGS: &[Binding] = &[
    // Tables.
    w(
        b(C::Table, &[k('n')], "n", "new", "Mint a new token", A::New),
        Only::Tokens,
    ),
    b(
        C::Table,
        &[code(KeyCode::Enter)],
        "Enter",
        "details",
        "Show the whole row: for a token every field, its enrolled hosts and its audit trail",
        A::Details,
    ),
    w(
        b(
            C::Table,
            &[k('r')],
            "r",
            "revoke",
            "Revoke the selected token (asks first)",
            A::Revoke,
        ),
        Only::Tokens,
    ),
    w(
        b(
            C::Table,
            &[k('d')],
            "d",
            "delete",
            "Delete the selected token, host or API token (asks first)",
            A::Delete,
        ),
        Only::Actionable,
    ),
    w(
        b(
            C::Table,
            &[k('x')],
            "x",
            "disable/enable",
            "Disable the selected token, or enable it again",
            A::ToggleDisable,
        ),
        Only::Tokens,
    ),
    b(
        C::Table,
        &[k('/')],
        "/",
        "filter",
        "Filter the list by text (Enter keeps it, Esc clears it)",
        A::Filter,
    ),
    on(
        b(
            C::Table,
            &[k('f')],
            "f",
            "status",
            "Show only one status: active, disabled, expired, exhausted, revoked, expiring soon, never used",
            A::StatusFilter,
        ),
        Only::Tokens,
    ),
    b(
        C::Table,
        &[k('s')],
        "s",
        "sort",
        "Choose the sort column; choosing the same column again flips the direction",
        A::Sort,
    ),
    b(
        C::Table,
        &[code(KeyCode::Tab)],
        "Tab",
        "next view",
        "Next view: Tokens, Hosts, Audit, API tokens",
        A::NextView,
    ),
    b(
        C::Table,
        &[code(KeyCode::BackTab)],
        "Shift-Tab",
        "",
        "Previous view",
        A::PrevView,
    ),
    b(
        C::Table,
        &[code(KeyCode::Up), k('k')],
        "↑/k",
        "",
        "Move up",
        A::Up,
    ),
    b(
        C::Table,
        &[code(KeyCode::Down), k('j')],
        "↓/j",
        "",
        "Move down",
        A::Down,
    ),
    b(
        C::Table,
        &[code(KeyCode::PageUp), ctrl('b')],
        "PgUp",
        "",
        "One page up",
        A::PageUp,
    ),
    b(
        C::Table,
        &[code(KeyCode::PageDown), ctrl('f')],
        "PgDn",
        "",
        "One page down",
        A::PageDown,
    ),
    b(
        C::Table,
        &[code(KeyCode::Home), k('g')],
        "Home/g",
        "",
        "First row",
        A::Home,
    ),
    b(
        C::Table,
        &[code(KeyCode::End), k('G')],
        "End/G",
        "",
        "Last row",
        A::End,
    ),
    b(
        C::Table,
        &[ctrl('r')],
        "Ctrl-R",
        "",
        "Load every list again from the daemon",
        A::Reload,
    ),
    b(
        C::Table,
        &[code(KeyCode::Esc)],
        "Esc",
        "",
        "Clear the filter and the status choice",
        A::Back,
    ),
    b(C::Table, &[k('?')], "?", "help", "This help", A::Help),
    b(C::Table, &[k('q')], "q", "quit", "Quit", A::Quit),
    // Detail.
    w(
        b(
            C::Detail,
            &[k('r')],
            "r",
            "revoke",
            "Revoke this token",
            A::Revoke,
        ),
        Only::Any,
    ),
    w(
        b(
            C::Detail,
            &[k('d')],
            "d",
            "delete",
            "Delete this token",
            A::Delete,
        ),
        Only::Any,
    ),
    w(
        b(
            C::Detail,
            &[k('x')],
            "x",
            "disable/enable",
            "Disable or enable this token",
            A::ToggleDisable,
        ),
        Only::Any,
    ),
    b(
        C::Detail,
        &[code(KeyCode::Up), k('k')],
        "↑/k",
        "scroll",
        "Scroll up",
        A::Up,
    ),
    b(
        C::Detail,
        &[code(KeyCode::Down), k('j')],
        "↓/j",
        "",
        "Scroll down",
        A::Down,
    ),
    b(
        C::Detail,
        &[code(KeyCode::PageUp), ctrl('b')],
        "PgUp/PgDn",
        "",
        "A page up or down",
        A::PageUp,
    ),
    b(
        C::Detail,
        &[code(KeyCode::PageDown), ctrl('f')],
        "",
        "",
        "",
        A::PageDown,
    ),
    b(
        C::Detail,
        &[code(KeyCode::Home), k('g')],
        "Home/End",
        "",
        "Top or bottom",
        A::Home,
    ),
    b(C::Detail, &[code(KeyCode::End), k('G')], "", "", "", A::End),
    b(
        C::Detail,
        &[code(KeyCode::Esc), k('q'), code(KeyCode::Enter)],
        "Esc",
        "back",
        "Back to the list",
        A::Back,
    ),
    b(C::Detail, &[k('?')], "?", "help", "This help", A::Help),
    // Form.
    b(
        C::Form,
        &[code(KeyCode::Tab), code(KeyCode::Down)],
        "Tab",
        "next field",
        "Next field",
        A::NextField,
    ),
    b(
        C::Form,
        &[code(KeyCode::BackTab), code(KeyCode::Up)],
        "Shift-Tab",
        "previous",
        "Previous field",
        A::PrevField,
    ),
    b(
        C::Form,
        &[code(KeyCode::Left)],
        "←/→",
        "choose",
        "On a choice (uses, expiry): the previous or next option",
        A::Left,
    ),
    b(C::Form, &[code(KeyCode::Right)], "→", "", "", A::Right),
    b(
        C::Form,
        &[ctrl('s')],
        "Ctrl-S",
        "create",
        "Create the token, from any field",
        A::Submit,
    ),
    b(
        C::Form,
        &[code(KeyCode::Esc)],
        "Esc",
        "cancel",
        "Close the form without creating anything",
        A::Back,
    ),
    // Calendar.
    b(
        C::Calendar,
        &[code(KeyCode::Left)],
        "←/→",
        "day",
        "Previous or next day (days before today cannot be chosen)",
        A::Left,
    ),
    b(C::Calendar, &[code(KeyCode::Right)], "", "", "", A::Right),
    b(
        C::Calendar,
        &[code(KeyCode::Up)],
        "↑/↓",
        "week",
        "Previous or next week",
        A::Up,
    ),
    b(C::Calendar, &[code(KeyCode::Down)], "", "", "", A::Down),
    b(
        C::Calendar,
        &[code(KeyCode::PageUp)],
        "PgUp/PgDn",
        "month",
        "Previous or next month",
        A::PageUp,
    ),
    b(
        C::Calendar,
        &[code(KeyCode::PageDown)],
        "",
        "",
        "",
        A::PageDown,
    ),
    b(
        C::Calendar,
        &[code(KeyCode::BackTab)],
        "Shift-Tab",
        "",
        "Back to the expiry choice",
        A::PrevField,
    ),
    b(
        C::Calendar,
        &[k('t')],
        "t",
        "today",
        "Jump to today",
        A::Today,
    ),
    b(
        C::Calendar,
        &[code(KeyCode::Tab)],
        "Tab",
        "time",
        "On to the time field",
        A::NextField,
    ),
    b(
        C::Calendar,
        &[ctrl('s')],
        "Ctrl-S",
        "create",
        "Create the token",
        A::Submit,
    ),
    b(
        C::Calendar,
        &[code(KeyCode::Esc)],
        "Esc",
        "cancel",
        "Close the form",
        A::Back,
    ),
    // Dialogs.
    b(
        C::Dialog,
        &[k('y')],
        "y",
        "confirm",
        "Confirm (when a name must be typed: type it, then Enter)",
        A::Confirm,
    ),
    b(
        C::Dialog,
        &[
            code(KeyCode::Tab),
            code(KeyCode::Left),
            code(KeyCode::Right),
            code(KeyCode::BackTab),
        ],
        "Tab",
        "switch",
        "Move between Cancel and the action (Cancel is focused first)",
        A::NextField,
    ),
    b(
        C::Dialog,
        &[code(KeyCode::Enter)],
        "Enter",
        "press",
        "Press the focused button",
        A::Activate,
    ),
    b(
        C::Dialog,
        &[code(KeyCode::Esc), k('n')],
        "Esc/n",
        "cancel",
        "Cancel: nothing changes",
        A::Back,
    ),
    // Typed confirmation.
    b(
        C::TypedDialog,
        &[code(KeyCode::Enter)],
        "type the name, Enter",
        "delete",
        "Type the token's name; once it matches, Enter presses Delete (focused then)",
        A::Activate,
    ),
    b(
        C::TypedDialog,
        &[code(KeyCode::Tab), code(KeyCode::BackTab)],
        "Tab",
        "switch",
        "Move between Cancel and Delete (Enter presses the focused one)",
        A::NextField,
    ),
    b(
        C::TypedDialog,
        &[code(KeyCode::Esc)],
        "Esc",
        "cancel",
        "Cancel: nothing changes",
        A::Back,
    ),
    // Reveal.
    b(
        C::Reveal,
        &[k('c')],
        "c",
        "copy",
        "Copy the token: system clipboard, or OSC 52 through the terminal",
        A::Copy,
    ),
    b(
        C::Reveal,
        &[k('j')],
        "j",
        "copy command",
        "Copy the host's join command (a long line the terminal may wrap when selected)",
        A::CopyCommand,
    ),
    b(
        C::Reveal,
        &[k('w')],
        "w",
        "write file",
        "Write the token to a new file only you can read (0600), in the current folder",
        A::WriteFile,
    ),
    b(
        C::Reveal,
        &[code(KeyCode::Enter), code(KeyCode::Esc)],
        "Enter/Esc",
        "done, forget it",
        "I have it: close, wipe the token from memory and clear the screen",
        A::Acknowledge,
    ),
    // Choosers.
    b(
        C::Chooser,
        &[code(KeyCode::Up), k('k')],
        "↑/↓",
        "move",
        "Move",
        A::Up,
    ),
    b(
        C::Chooser,
        &[code(KeyCode::Down), k('j')],
        "",
        "",
        "",
        A::Down,
    ),
    b(
        C::Chooser,
        &[code(KeyCode::Enter), k('s'), k(' ')],
        "Enter",
        "choose",
        "Choose (the current sort column again: flip the direction)",
        A::Activate,
    ),
    b(
        C::Chooser,
        &[code(KeyCode::Esc)],
        "Esc",
        "cancel",
        "Close without changing anything",
        A::Back,
    ),
    // Filter line.
    b(
        C::Filter,
        &[code(KeyCode::Enter), code(KeyCode::Down)],
        "Enter",
        "keep",
        "Keep the filter and go back to the list",
        A::Keep,
    ),
    b(
        C::Filter,
        &[code(KeyCode::Esc)],
        "Esc",
        "clear",
        "Clear the filter",
        A::Clear,
    ),
    // Help.
    b(
        C::Help,
        &[code(KeyCode::Esc), k('?'), k('q')],
        "Esc",
        "close",
        "Close the help",
        A::Back,
    ),
    b(
        C::Help,
        &[code(KeyCode::Up), k('k')],
        "↑/↓",
        "scroll",
        "Scroll",
        A::Up,
    ),
    b(C::Help, &[code(KeyCode::Down), k('j')], "", "", "", A::Down),
    b(
        C::Help,
        &[code(KeyCode::PageUp), ctrl('b')],
        "PgUp/PgDn",
        "",
        "A page up or down",
        A::PageUp,
    ),
    b(
        C::Help,
        &[code(KeyCode::PageDown), ctrl('f')],
        "",
        "",
        "",
        A::PageDown,
    ),
    b(
        C::Help,
        &[code(KeyCode::Home), k('g')],
        "Home/End",
        "",
        "Top or bottom",
        A::Home,
    ),
    b(C::Help, &[code(KeyCode::End), k('G')], "", "", "", A::End),
];

/// Keys that work everywhere, listed in help.
pub const GLOBAL_HELP: &[(&str, &str)] = &[
    ("Ctrl-C", "Quit at once, from anywhere"),
    (
        "mouse",
        "With --mouse: wheel scrolls, click selects (off by default so text stays selectable)",
    ),
];

fn key_matches(key: &Key, ev: &KeyEvent) -> bool {
    if key.code != ev.code {
        return false;
    }
    match ev.code {
        // Terminals report capitals with Shift, and some report Shift with symbols.
        KeyCode::Char(_) | KeyCode::BackTab => (ev.modifiers - KeyModifiers::SHIFT) == key.mods,
        _ => ev.modifiers == key.mods,
    }
}

/// The binding a key press triggers in a context, if any. `only` says which table view is
/// showing (for table bindings), `readonly` hides the bindings that change something.
pub fn lookup(ctx: Ctx, ev: &KeyEvent, view: View, readonly: bool) -> Option<&'static Binding> {
    BINDINGS.iter().find(|bd| {
        bd.ctx == ctx
            && applies(bd, view)
            && bd.keys.iter().any(|key| key_matches(key, ev))
            && !(readonly && bd.writes)
    })
}

/// Like `lookup`, but also finds write bindings in read-only mode, so the console can say why
/// a key does nothing.
pub fn lookup_refused(ctx: Ctx, ev: &KeyEvent, view: View) -> Option<&'static Binding> {
    BINDINGS.iter().find(|bd| {
        bd.ctx == ctx
            && bd.writes
            && applies(bd, view)
            && bd.keys.iter().any(|key| key_matches(key, ev))
    })
}

fn applies(bd: &Binding, view: View) -> bool {
    match bd.only {
        Only::Any => true,
        Only::Tokens => view == View::Tokens,
        Only::Actionable => view != View::Audit,
    }
}

/// The footer's hints for a context: (keys, word) pairs, in table order.
pub fn footer(ctx: Ctx, view: View, readonly: bool) -> Vec<(&'static str, &'static str)> {
    BINDINGS
        .iter()
        .filter(|bd| bd.ctx == ctx && !bd.label.is_empty() && applies(bd, view))
        .filter(|bd| !(readonly && bd.writes))
        .map(|bd| (bd.shown, bd.label))
        .collect()
}

/// The help's sections: a title and (keys, sentence) lines per context.
pub fn help_sections(readonly: bool) -> Vec<(&'static str, Vec<(&'static str, &'static str)>)> {
    let order = [
        Ctx::Table,
        Ctx::Detail,
        Ctx::Form,
        Ctx::Calendar,
        Ctx::Dialog,
        Ctx::TypedDialog,
        Ctx::Reveal,
        Ctx::Chooser,
        Ctx::Filter,
    ];
    let mut out: Vec<_> = order
        .iter()
        .map(|ctx| {
            let lines = BINDINGS
                .iter()
                .filter(|bd| bd.ctx == *ctx && !bd.help.is_empty() && !bd.shown.is_empty())
                .filter(|bd| !(readonly && bd.writes))
                .map(|bd| (bd.shown, bd.help))
                .collect();
            (ctx.title(), lines)
        })
        .collect();
    out.push(("Everywhere", GLOBAL_HELP.to_vec()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(code: KeyCode, mods: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, mods)
    }

    #[test]
    fn product_keys_are_bound_in_the_token_table() {
        let want = [
            ('n', Action::New),
            ('r', Action::Revoke),
            ('d', Action::Delete),
            ('x', Action::ToggleDisable),
            ('/', Action::Filter),
            ('s', Action::Sort),
            ('?', Action::Help),
            ('q', Action::Quit),
        ];
        for (c, action) in want {
            let ev = press(KeyCode::Char(c), KeyModifiers::NONE);
            let got = lookup(Ctx::Table, &ev, View::Tokens, false).map(|bd| bd.action);
            assert_eq!(got, Some(action), "key {c}");
        }
        let enter = press(KeyCode::Enter, KeyModifiers::NONE);
        assert_eq!(
            lookup(Ctx::Table, &enter, View::Tokens, false).map(|bd| bd.action),
            Some(Action::Details)
        );
        let tab = press(KeyCode::Tab, KeyModifiers::NONE);
        assert_eq!(
            lookup(Ctx::Table, &tab, View::Tokens, false).map(|bd| bd.action),
            Some(Action::NextView)
        );
        let save = press(KeyCode::Char('s'), KeyModifiers::CONTROL);
        assert_eq!(
            lookup(Ctx::Form, &save, View::Tokens, false).map(|bd| bd.action),
            Some(Action::Submit)
        );
        let shift_g = press(KeyCode::Char('G'), KeyModifiers::SHIFT);
        assert_eq!(
            lookup(Ctx::Table, &shift_g, View::Tokens, false).map(|bd| bd.action),
            Some(Action::End)
        );
    }

    #[test]
    fn read_only_hides_and_refuses_writes() {
        let n = press(KeyCode::Char('n'), KeyModifiers::NONE);
        assert!(lookup(Ctx::Table, &n, View::Tokens, true).is_none());
        assert!(lookup_refused(Ctx::Table, &n, View::Tokens).is_some());
        let hints = footer(Ctx::Table, View::Tokens, true);
        assert!(hints.iter().all(|(_, l)| *l != "new" && *l != "revoke"));
        assert!(hints.iter().any(|(_, l)| *l == "filter"));
    }

    #[test]
    fn no_key_is_bound_twice_in_one_context() {
        for a in BINDINGS {
            for b in BINDINGS {
                if std::ptr::eq(a, b) || a.ctx != b.ctx {
                    continue;
                }
                for ka in a.keys {
                    assert!(
                        !b.keys.contains(ka) || a.action == b.action,
                        "{:?} bound to {:?} and {:?} in {:?}",
                        ka.code,
                        a.action,
                        b.action,
                        a.ctx
                    );
                }
            }
        }
    }

    #[test]
    fn every_context_has_hints_and_help() {
        for ctx in [
            Ctx::Table,
            Ctx::Detail,
            Ctx::Form,
            Ctx::Calendar,
            Ctx::Dialog,
            Ctx::TypedDialog,
            Ctx::Reveal,
            Ctx::Chooser,
            Ctx::Filter,
            Ctx::Help,
        ] {
            assert!(!footer(ctx, View::Tokens, false).is_empty(), "{ctx:?}");
        }
        let help = help_sections(false);
        assert!(help.iter().all(|(_, lines)| !lines.is_empty()));
    }
}
