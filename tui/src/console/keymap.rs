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
            Ctx::Chooser => "Choosers (sort, status, copy, tenant)",
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
    Mark,
    Clone,
    Extend,
    Yank,
    Export,
    Tenant,
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

    /// The title in a narrow header.
    pub fn short_title(self) -> &'static str {
        match self {
            View::ApiTokens => "API",
            v => v.title(),
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
    /// Kept in the footer however narrow the terminal (the others give way, from the end).
    pub pin: bool,
}

/// What a binding is unless its line says otherwise.
const DEF: Binding = Binding {
    ctx: Ctx::Table,
    keys: &[],
    shown: "",
    label: "",
    help: "",
    action: Action::Quit,
    writes: false,
    only: Only::Any,
    pin: false,
};

use Action as A;
use Ctx as C;

/// Every binding, in the order the footer and help list them: one line each.
#[rustfmt::skip]
pub const BINDINGS: &[Binding] = &[
    // Tables.
    Binding { ctx: C::Table, action: A::New, keys: &[k('n')], shown: "n", label: "new", help: "Mint a new token", writes: true, only: Only::Tokens, ..DEF },
    Binding { ctx: C::Table, action: A::Details, keys: &[code(KeyCode::Enter)], shown: "Enter", label: "details", help: "Show the whole row: for a token every field, its enrolled hosts and its audit trail", ..DEF },
    Binding { ctx: C::Table, action: A::Revoke, keys: &[k('r')], shown: "r", label: "revoke", help: "Revoke the selected token (asks first)", writes: true, only: Only::Tokens, ..DEF },
    Binding { ctx: C::Table, action: A::Delete, keys: &[k('d')], shown: "d", label: "delete", help: "Delete the selected token, host or API token (asks first)", writes: true, only: Only::Actionable, ..DEF },
    Binding { ctx: C::Table, action: A::ToggleDisable, keys: &[k('x')], shown: "x", label: "disable/enable", help: "Disable the selected token, or enable it again", writes: true, only: Only::Tokens, ..DEF },
    Binding { ctx: C::Table, action: A::Filter, keys: &[k('/')], shown: "/", label: "filter", help: "Filter the list by text (Enter keeps it, Esc clears it)", pin: true, ..DEF },
    Binding { ctx: C::Table, action: A::StatusFilter, keys: &[k('f')], shown: "f", label: "status", help: "Show only one status: active, disabled, expired, exhausted, revoked, expiring soon, never used", only: Only::Tokens, ..DEF },
    Binding { ctx: C::Table, action: A::Sort, keys: &[k('s')], shown: "s", label: "sort", help: "Choose the sort column; choosing the same column again flips the direction", pin: true, ..DEF },
    Binding { ctx: C::Table, action: A::Tenant, keys: &[k('T')], shown: "T", label: "tenant", help: "Choose the tenant to show and mint in, or all tenants (a view: no minting there); with one tenant there is nothing to choose", ..DEF },
    Binding { ctx: C::Table, action: A::NextView, keys: &[code(KeyCode::Tab)], shown: "Tab", label: "next view", help: "Next view: Tokens, Hosts, Audit, API tokens", ..DEF },
    Binding { ctx: C::Table, action: A::Mark, keys: &[k(' ')], shown: "Space", label: "mark", help: "Mark and move down (again: unmark); r, d and x then act on every marked token (one confirmation)", only: Only::Tokens, ..DEF },
    Binding { ctx: C::Table, action: A::Clone, keys: &[k('C')], shown: "C", label: "clone", help: "Clone: the create form filled from the selected token (a new name is asked)", writes: true, only: Only::Tokens, ..DEF },
    Binding { ctx: C::Table, action: A::Extend, keys: &[k('e')], shown: "e", label: "extend", help: "Extend the selected token's expiry (presets or the calendar)", writes: true, only: Only::Tokens, ..DEF },
    Binding { ctx: C::Table, action: A::Yank, keys: &[k('y')], shown: "y", label: "yank", help: "Copy the selected row's id, name or host command", only: Only::Tokens, ..DEF },
    Binding { ctx: C::Table, action: A::Export, keys: &[k('o')], shown: "o", label: "export", help: "Write this view, filtered and sorted, as CSV to a new 0600 file in the private folder", ..DEF },
    Binding { ctx: C::Table, action: A::PrevView, keys: &[code(KeyCode::BackTab)], shown: "Shift-Tab", label: "", help: "Previous view", ..DEF },
    Binding { ctx: C::Table, action: A::Up, keys: &[code(KeyCode::Up), k('k')], shown: "↑/k", label: "", help: "Move up", ..DEF },
    Binding { ctx: C::Table, action: A::Down, keys: &[code(KeyCode::Down), k('j')], shown: "↓/j", label: "", help: "Move down", ..DEF },
    Binding { ctx: C::Table, action: A::PageUp, keys: &[code(KeyCode::PageUp), ctrl('b')], shown: "PgUp", label: "", help: "One page up", ..DEF },
    Binding { ctx: C::Table, action: A::PageDown, keys: &[code(KeyCode::PageDown), ctrl('f')], shown: "PgDn", label: "", help: "One page down", ..DEF },
    Binding { ctx: C::Table, action: A::Home, keys: &[code(KeyCode::Home), k('g')], shown: "Home/g", label: "", help: "First row", ..DEF },
    Binding { ctx: C::Table, action: A::End, keys: &[code(KeyCode::End), k('G')], shown: "End/G", label: "", help: "Last row", ..DEF },
    Binding { ctx: C::Table, action: A::Reload, keys: &[ctrl('r')], shown: "Ctrl-R", label: "", help: "Load every list again from the daemon", ..DEF },
    Binding { ctx: C::Table, action: A::Back, keys: &[code(KeyCode::Esc)], shown: "Esc", label: "", help: "Clear the filter, the status choice and the marks", ..DEF },
    Binding { ctx: C::Table, action: A::Help, keys: &[k('?')], shown: "?", label: "help", help: "This help", pin: true, ..DEF },
    Binding { ctx: C::Table, action: A::Quit, keys: &[k('q')], shown: "q", label: "quit", help: "Quit", pin: true, ..DEF },
    // Detail.
    Binding { ctx: C::Detail, action: A::Revoke, keys: &[k('r')], shown: "r", label: "revoke", help: "Revoke this token", writes: true, ..DEF },
    Binding { ctx: C::Detail, action: A::Delete, keys: &[k('d')], shown: "d", label: "delete", help: "Delete this token", writes: true, ..DEF },
    Binding { ctx: C::Detail, action: A::ToggleDisable, keys: &[k('x')], shown: "x", label: "disable/enable", help: "Disable or enable this token", writes: true, ..DEF },
    Binding { ctx: C::Detail, action: A::Up, keys: &[code(KeyCode::Up), k('k')], shown: "↑/k", label: "scroll", help: "Scroll up", ..DEF },
    Binding { ctx: C::Detail, action: A::Down, keys: &[code(KeyCode::Down), k('j')], shown: "↓/j", label: "", help: "Scroll down", ..DEF },
    Binding { ctx: C::Detail, action: A::PageUp, keys: &[code(KeyCode::PageUp), ctrl('b')], shown: "PgUp/PgDn", label: "", help: "A page up or down", ..DEF },
    Binding { ctx: C::Detail, action: A::PageDown, keys: &[code(KeyCode::PageDown), ctrl('f')], shown: "", label: "", help: "", ..DEF },
    Binding { ctx: C::Detail, action: A::Home, keys: &[code(KeyCode::Home), k('g')], shown: "Home/End", label: "", help: "Top or bottom", ..DEF },
    Binding { ctx: C::Detail, action: A::End, keys: &[code(KeyCode::End), k('G')], shown: "", label: "", help: "", ..DEF },
    Binding { ctx: C::Detail, action: A::Back, keys: &[code(KeyCode::Esc), k('q'), code(KeyCode::Enter)], shown: "Esc", label: "back", help: "Back to the list", pin: true, ..DEF },
    Binding { ctx: C::Detail, action: A::Help, keys: &[k('?')], shown: "?", label: "help", help: "This help", pin: true, ..DEF },
    // Form.
    Binding { ctx: C::Form, action: A::NextField, keys: &[code(KeyCode::Tab), code(KeyCode::Down)], shown: "Tab", label: "next field", help: "Next field", ..DEF },
    Binding { ctx: C::Form, action: A::PrevField, keys: &[code(KeyCode::BackTab), code(KeyCode::Up)], shown: "Shift-Tab", label: "previous", help: "Previous field", ..DEF },
    Binding { ctx: C::Form, action: A::Left, keys: &[code(KeyCode::Left)], shown: "←/→", label: "choose", help: "On a choice (uses, expiry, owner): the previous or next option; on the owner, a letter jumps to a member's name", ..DEF },
    Binding { ctx: C::Form, action: A::Right, keys: &[code(KeyCode::Right)], shown: "→", label: "", help: "", ..DEF },
    Binding { ctx: C::Form, action: A::Submit, keys: &[ctrl('s')], shown: "Ctrl-S", label: "create", help: "Create the token, from any field", pin: true, ..DEF },
    Binding { ctx: C::Form, action: A::Back, keys: &[code(KeyCode::Esc)], shown: "Esc", label: "cancel", help: "Close the form; with changes it asks first (y throws them away, n keeps editing)", pin: true, ..DEF },
    // Calendar.
    Binding { ctx: C::Calendar, action: A::Left, keys: &[code(KeyCode::Left)], shown: "←/→", label: "day", help: "Previous or next day (days before today cannot be chosen)", ..DEF },
    Binding { ctx: C::Calendar, action: A::Right, keys: &[code(KeyCode::Right)], shown: "", label: "", help: "", ..DEF },
    Binding { ctx: C::Calendar, action: A::Up, keys: &[code(KeyCode::Up)], shown: "↑/↓", label: "week", help: "Previous or next week", ..DEF },
    Binding { ctx: C::Calendar, action: A::Down, keys: &[code(KeyCode::Down)], shown: "", label: "", help: "", ..DEF },
    Binding { ctx: C::Calendar, action: A::PageUp, keys: &[code(KeyCode::PageUp)], shown: "PgUp/PgDn", label: "month", help: "Previous or next month", ..DEF },
    Binding { ctx: C::Calendar, action: A::PageDown, keys: &[code(KeyCode::PageDown)], shown: "", label: "", help: "", ..DEF },
    Binding { ctx: C::Calendar, action: A::PrevField, keys: &[code(KeyCode::BackTab)], shown: "Shift-Tab", label: "", help: "Back to the expiry choice", ..DEF },
    Binding { ctx: C::Calendar, action: A::Today, keys: &[k('t')], shown: "t", label: "today", help: "Jump to today", ..DEF },
    Binding { ctx: C::Calendar, action: A::NextField, keys: &[code(KeyCode::Tab)], shown: "Tab", label: "time", help: "On to the time field", ..DEF },
    Binding { ctx: C::Calendar, action: A::Submit, keys: &[ctrl('s')], shown: "Ctrl-S", label: "create", help: "Create the token", ..DEF },
    Binding { ctx: C::Calendar, action: A::Back, keys: &[code(KeyCode::Esc)], shown: "Esc", label: "cancel", help: "Close the form", ..DEF },
    // Dialogs.
    Binding { ctx: C::Dialog, action: A::Confirm, keys: &[k('y')], shown: "y", label: "confirm", help: "Confirm (when a name must be typed: type it, then Enter)", pin: true, ..DEF },
    Binding { ctx: C::Dialog, action: A::NextField, keys: &[code(KeyCode::Tab), code(KeyCode::Left), code(KeyCode::Right), code(KeyCode::BackTab)], shown: "Tab", label: "switch", help: "Move between Cancel and the action (Cancel is focused first)", ..DEF },
    Binding { ctx: C::Dialog, action: A::Activate, keys: &[code(KeyCode::Enter)], shown: "Enter", label: "press", help: "Press the focused button", ..DEF },
    Binding { ctx: C::Dialog, action: A::Back, keys: &[code(KeyCode::Esc), k('n')], shown: "Esc/n", label: "cancel", help: "Cancel: nothing changes", pin: true, ..DEF },
    // Typed confirmation.
    Binding { ctx: C::TypedDialog, action: A::Activate, keys: &[code(KeyCode::Enter)], shown: "type the name, Enter", label: "delete", help: "Type the token's name; once it matches, Enter presses Delete (focused then)", ..DEF },
    Binding { ctx: C::TypedDialog, action: A::NextField, keys: &[code(KeyCode::Tab), code(KeyCode::BackTab)], shown: "Tab", label: "switch", help: "Move between Cancel and Delete (Enter presses the focused one)", ..DEF },
    Binding { ctx: C::TypedDialog, action: A::Back, keys: &[code(KeyCode::Esc)], shown: "Esc", label: "cancel", help: "Cancel: nothing changes", pin: true, ..DEF },
    // Reveal.
    Binding { ctx: C::Reveal, action: A::Copy, keys: &[k('c')], shown: "c", label: "copy", help: "Copy the token: system clipboard, or OSC 52 through the terminal", ..DEF },
    Binding { ctx: C::Reveal, action: A::CopyCommand, keys: &[k('j')], shown: "j", label: "copy command", help: "Copy the host's join command whole (the way to copy it where the screen is too narrow to select it)", ..DEF },
    Binding { ctx: C::Reveal, action: A::WriteFile, keys: &[k('w')], shown: "w", label: "write file", help: "Write the token to a new file only you can read (0600), in the console's private folder (never the current one)", ..DEF },
    Binding { ctx: C::Reveal, action: A::Acknowledge, keys: &[code(KeyCode::Enter), code(KeyCode::Esc)], shown: "Enter/Esc", label: "done, forget it", help: "I have it: close, wipe the token from memory and clear the screen", pin: true, ..DEF },
    // Choosers.
    Binding { ctx: C::Chooser, action: A::Up, keys: &[code(KeyCode::Up), k('k')], shown: "↑/↓", label: "move", help: "Move", ..DEF },
    Binding { ctx: C::Chooser, action: A::Down, keys: &[code(KeyCode::Down), k('j')], shown: "", label: "", help: "", ..DEF },
    Binding { ctx: C::Chooser, action: A::Activate, keys: &[code(KeyCode::Enter), k('s'), k(' ')], shown: "Enter", label: "choose", help: "Choose (the current sort column again: flip the direction)", ..DEF },
    Binding { ctx: C::Chooser, action: A::Back, keys: &[code(KeyCode::Esc)], shown: "Esc", label: "cancel", help: "Close without changing anything", ..DEF },
    // Filter line.
    Binding { ctx: C::Filter, action: A::Keep, keys: &[code(KeyCode::Enter), code(KeyCode::Down)], shown: "Enter", label: "keep", help: "Keep the filter and go back to the list", ..DEF },
    Binding { ctx: C::Filter, action: A::Clear, keys: &[code(KeyCode::Esc)], shown: "Esc", label: "clear", help: "Clear the filter", ..DEF },
    // Help.
    Binding { ctx: C::Help, action: A::Back, keys: &[code(KeyCode::Esc), k('?'), k('q')], shown: "Esc", label: "close", help: "Close the help", ..DEF },
    Binding { ctx: C::Help, action: A::Up, keys: &[code(KeyCode::Up), k('k')], shown: "↑/↓", label: "scroll", help: "Scroll", ..DEF },
    Binding { ctx: C::Help, action: A::Down, keys: &[code(KeyCode::Down), k('j')], shown: "", label: "", help: "", ..DEF },
    Binding { ctx: C::Help, action: A::PageUp, keys: &[code(KeyCode::PageUp), ctrl('b')], shown: "PgUp/PgDn", label: "", help: "A page up or down", ..DEF },
    Binding { ctx: C::Help, action: A::PageDown, keys: &[code(KeyCode::PageDown), ctrl('f')], shown: "", label: "", help: "", ..DEF },
    Binding { ctx: C::Help, action: A::Home, keys: &[code(KeyCode::Home), k('g')], shown: "Home/End", label: "", help: "Top or bottom", ..DEF },
    Binding { ctx: C::Help, action: A::End, keys: &[code(KeyCode::End), k('G')], shown: "", label: "", help: "", ..DEF },
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

/// One hint of the footer: the keys, the word, and whether it stays however narrow the line.
pub type Hint = (&'static str, &'static str, bool);

/// The footer's hints for a context, in table order.
pub fn footer(ctx: Ctx, view: View, readonly: bool) -> Vec<Hint> {
    BINDINGS
        .iter()
        .filter(|bd| bd.ctx == ctx && !bd.label.is_empty() && applies(bd, view))
        .filter(|bd| !(readonly && bd.writes))
        .map(|bd| (bd.shown, bd.label, bd.pin))
        .collect()
}

/// The help's sections: a title and (keys, sentence) lines per context; the table bindings of
/// `hidden` actions are left out (those the view does not offer).
pub fn help_sections(
    readonly: bool,
    hidden: &[Action],
) -> Vec<(&'static str, Vec<(&'static str, &'static str)>)> {
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
                .filter(|bd| !(bd.ctx == Ctx::Table && hidden.contains(&bd.action)))
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

    /// Space marks and moves down, as k9s and lazygit do; the help and the README say so
    /// (they said only "mark", and the cursor moving surprised a new user).
    #[test]
    fn space_is_documented_as_mark_and_move_down() {
        let space = press(KeyCode::Char(' '), KeyModifiers::NONE);
        let b = lookup(Ctx::Table, &space, View::Tokens, false).expect("Space is bound");
        assert_eq!(b.action, Action::Mark);
        assert!(
            b.help.to_lowercase().starts_with("mark and move down"),
            "{}",
            b.help
        );
        let readme = include_str!("../../../README.md")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            readme.contains("`Space` marks a row and moves down (mark and move down"),
            "the README does not say Space marks and moves down"
        );
    }

    #[test]
    fn read_only_hides_and_refuses_writes() {
        let n = press(KeyCode::Char('n'), KeyModifiers::NONE);
        assert!(lookup(Ctx::Table, &n, View::Tokens, true).is_none());
        assert!(lookup_refused(Ctx::Table, &n, View::Tokens).is_some());
        let hints = footer(Ctx::Table, View::Tokens, true);
        assert!(hints.iter().all(|(_, l, _)| *l != "new" && *l != "revoke"));
        assert!(hints.iter().any(|(_, l, _)| *l == "filter"));
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
        let help = help_sections(false, &[]);
        assert!(help.iter().all(|(_, lines)| !lines.is_empty()));
    }
}
