//! The console's state and its one `update` function (the Elm architecture): every key, mouse
//! event, tick and daemon answer arrives as a `Msg`; `update` changes the state and returns the
//! `Cmd`s (requests to the daemon, clipboard, files, screen) for the runtime to carry out. No
//! terminal and no daemon are needed to test it.

use std::path::PathBuf;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseEvent, MouseEventKind};
use gatepass_protocol::{
    ApiToken, AuditEvent, ChangeEvent, ChangeKind, CreateTokenRequest, CreateTokenResponse, Host,
    Role, Timestamp, Token, TokenStatus, WhoAmI,
};
use ratatui_textarea::TextArea;
use zeroize::Zeroizing;

use super::form::{CreateForm, Field, FormOutcome};
use super::keymap::{self, Action, Ctx, View};
use super::table::{Row, StatusFilter, Table, status_word};
use super::theme::Theme;
use crate::output;

/// Below this the console shows a "terminal too small" notice instead of a broken layout.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 15;
/// Rows above the first table row: header, info line, column headings.
pub const TABLE_TOP: u16 = 3;
/// Rows below the last table row: the footer.
pub const TABLE_BOTTOM: u16 = 1;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conn {
    Connecting,
    Live,
    Lost(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Ok,
    Error,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flash {
    pub text: String,
    pub level: Level,
}

fn flash(level: Level, text: impl Into<String>) -> Option<Flash> {
    Some(Flash {
        text: text.into(),
        level,
    })
}

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

/// The one-time reveal of a new token. The secret lives only here and is wiped when the
/// reveal closes.
pub struct Reveal {
    pub id: String,
    pub name: String,
    pub secret: Zeroizing<String>,
    pub join_command: String,
    pub note: Option<Flash>,
}

impl std::fmt::Debug for Reveal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reveal")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("secret", &"<redacted>")
            .finish()
    }
}

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

/// A token's detail view, bound to its id.
#[derive(Debug)]
pub struct Detail {
    pub id: String,
    pub hosts: Option<Result<Vec<Host>, String>>,
    pub audit: Option<Result<Vec<AuditEvent>, String>>,
    pub scroll: u16,
}

#[derive(Debug)]
pub enum Modal {
    Help {
        scroll: u16,
    },
    /// One row of the hosts, audit or API tokens view, every field in full.
    Record {
        title: String,
        fields: Vec<(String, String)>,
        scroll: u16,
    },
    Chooser(Chooser),
    Form(Box<CreateForm>),
    Reveal(Reveal),
    Confirm(Box<Confirm>),
    Detail(Detail),
}

/// Everything that can happen to the console.
#[derive(Debug)]
pub enum Msg {
    Key(KeyEvent),
    /// Text pasted (bracketed paste): it arrives whole, so it is drawn once, not a key at a time.
    Paste(Pasted),
    Mouse(MouseEvent),
    Resize(u16, u16),
    Tick(Timestamp),
    Connected(WhoAmI),
    Tokens(Vec<Token>),
    Hosts(Vec<Host>),
    Audit(Vec<AuditEvent>),
    ApiTokens(Result<Vec<ApiToken>, String>),
    Change(Box<ChangeEvent>),
    Lost(String),
    Created(Box<CreateTokenResponse>),
    CreateFailed(String),
    TokenChanged {
        token: Box<Token>,
        what: String,
    },
    Removed {
        kind: ConfirmKind,
        id: String,
        name: String,
    },
    ActionFailed {
        what: String,
        error: String,
    },
    DetailLoaded {
        id: String,
        hosts: Result<Vec<Host>, String>,
        audit: Result<Vec<AuditEvent>, String>,
    },
    Copied(String),
    Wrote(Result<PathBuf, String>),
    /// A view written to a CSV file (`o`): how many rows, and where.
    Exported(Result<(usize, PathBuf), String>),
    /// What a confirmation on marked tokens did to each: the token as it is now (`None`:
    /// deleted), or why it failed.
    BulkDone {
        kind: ConfirmKind,
        results: Vec<(Target, Result<Option<Token>, String>)>,
    },
}

/// Work for the runtime.
#[derive(PartialEq, Eq)]
pub enum Cmd {
    Reload,
    Create(Box<CreateTokenRequest>),
    SetDisabled {
        id: String,
        disabled: bool,
    },
    Revoke {
        id: String,
    },
    Delete {
        id: String,
        name: String,
    },
    RemoveHost {
        id: String,
        name: String,
    },
    DeleteApiToken {
        id: String,
        name: String,
    },
    LoadDetail {
        id: String,
    },
    /// Copies `text`; `what` names it in the message that says how ("the token").
    Copy {
        text: Zeroizing<String>,
        what: &'static str,
    },
    WriteSecret {
        name: String,
        secret: Zeroizing<String>,
    },
    /// A new expiry for a token (`Some(None)`: none).
    Extend {
        id: String,
        expires_at: Option<Timestamp>,
    },
    /// One action on every marked token, one request each.
    Bulk {
        kind: ConfirmKind,
        targets: Vec<Target>,
    },
    /// Writes `body` to a new 0600 file `STEM.csv` in the private folder.
    Export {
        stem: String,
        rows: usize,
        body: String,
    },
    /// Forget every cell on screen and draw afresh (after a reveal closes).
    ClearScreen,
    Quit,
}

impl std::fmt::Debug for Cmd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cmd::Copy { what, .. } => write!(f, "Copy({what}: <secret>)"),
            Cmd::WriteSecret { name, .. } => write!(f, "WriteSecret({name:?}, <secret>)"),
            Cmd::Reload => f.write_str("Reload"),
            Cmd::Create(r) => write!(f, "Create({:?})", r.name),
            Cmd::SetDisabled { id, disabled } => write!(f, "SetDisabled({id}, {disabled})"),
            Cmd::Revoke { id } => write!(f, "Revoke({id})"),
            Cmd::Delete { id, .. } => write!(f, "Delete({id})"),
            Cmd::RemoveHost { id, .. } => write!(f, "RemoveHost({id})"),
            Cmd::DeleteApiToken { id, .. } => write!(f, "DeleteApiToken({id})"),
            Cmd::LoadDetail { id } => write!(f, "LoadDetail({id})"),
            Cmd::Extend { id, expires_at } => write!(f, "Extend({id}, {expires_at:?})"),
            Cmd::Bulk { kind, targets } => write!(f, "Bulk({kind:?}, {} tokens)", targets.len()),
            Cmd::Export { stem, rows, .. } => write!(f, "Export({stem}, {rows} rows)"),
            Cmd::ClearScreen => f.write_str("ClearScreen"),
            Cmd::Quit => f.write_str("Quit"),
        }
    }
}

/// The console's whole state.
#[derive(Debug)]
pub struct App {
    pub view: View,
    pub tokens: Table<Token>,
    pub hosts: Table<Host>,
    pub audit: Table<AuditEvent>,
    pub api_tokens: Table<ApiToken>,
    /// Why the API tokens could not be listed, if they could not.
    pub api_tokens_error: Option<String>,
    pub modal: Option<Modal>,
    /// The filter line being typed (`/`).
    pub filter_input: Option<TextArea<'static>>,
    /// Tokens marked with Space (by id): r, d and x act on all of them.
    pub marked: std::collections::BTreeSet<String>,
    pub flash: Option<Flash>,
    pub conn: Conn,
    pub who: Option<WhoAmI>,
    /// Where the daemon is (socket path or URL).
    pub endpoint: String,
    /// Set when the console started a local daemon: said in the header.
    pub started: Option<String>,
    pub readonly_flag: bool,
    pub mouse: bool,
    pub now: Timestamp,
    pub size: (u16, u16),
    pub theme: Theme,
    pub quit: bool,
    /// Something on screen changed since the last frame.
    pub dirty: bool,
    /// How far the open help or detail can scroll (written when it is drawn).
    pub scroll_max: std::cell::Cell<u16>,
    /// How many lines of it show at once (written when it is drawn): a page.
    pub scroll_page: std::cell::Cell<u16>,
}

/// The operations every table view shares, whatever its row type.
pub trait TableOps {
    fn move_by(&mut self, delta: isize);
    fn home(&mut self);
    fn end(&mut self);
    fn sort_by(&mut self, col: usize);
    fn sort(&self) -> (usize, bool);
    fn columns(&self) -> &'static [&'static str];
    fn filter(&self) -> &str;
    fn set_filter(&mut self, text: &str);
    fn status(&self) -> StatusFilter;
    fn set_status(&mut self, s: StatusFilter);
    fn select_visible(&mut self, n: usize);
    fn scroll_offset(&self) -> usize;
}

impl<T: Row> TableOps for Table<T> {
    fn move_by(&mut self, delta: isize) {
        Table::move_by(self, delta)
    }
    fn home(&mut self) {
        Table::home(self)
    }
    fn end(&mut self) {
        Table::end(self)
    }
    fn sort_by(&mut self, col: usize) {
        Table::sort_by(self, col)
    }
    fn sort(&self) -> (usize, bool) {
        (self.sort, self.desc)
    }
    fn columns(&self) -> &'static [&'static str] {
        T::COLUMNS
    }
    fn filter(&self) -> &str {
        Table::filter(self)
    }
    fn set_filter(&mut self, text: &str) {
        Table::set_filter(self, text)
    }
    fn status(&self) -> StatusFilter {
        self.status
    }
    fn set_status(&mut self, s: StatusFilter) {
        Table::set_status(self, s)
    }
    fn select_visible(&mut self, n: usize) {
        Table::select_visible(self, n)
    }
    fn scroll_offset(&self) -> usize {
        self.offset.get()
    }
}

impl App {
    pub fn new(endpoint: String, readonly: bool, theme: Theme, now: Timestamp) -> App {
        App {
            view: View::Tokens,
            tokens: Table::default(),
            hosts: Table::default(),
            audit: Table::default(),
            api_tokens: Table::default(),
            api_tokens_error: None,
            modal: None,
            filter_input: None,
            marked: std::collections::BTreeSet::new(),
            flash: None,
            conn: Conn::Connecting,
            who: None,
            endpoint,
            started: None,
            readonly_flag: readonly,
            mouse: false,
            now,
            size: (80, 24),
            theme,
            quit: false,
            dirty: true,
            scroll_max: std::cell::Cell::new(u16::MAX),
            scroll_page: std::cell::Cell::new(1),
        }
    }

    /// Read-only by flag, or because the role cannot change anything.
    pub fn readonly(&self) -> bool {
        self.readonly_flag || self.who.as_ref().is_some_and(|w| w.role == Role::Auditor)
    }

    pub fn is_admin(&self) -> bool {
        self.who.as_ref().is_some_and(|w| w.role == Role::Admin)
    }

    /// Active tokens that expire within 24 hours (the header warns of them). Counted on each
    /// frame: a pass over the rows, cheap next to drawing them.
    pub fn expiring_soon(&self) -> usize {
        self.tokens
            .rows()
            .filter(|t| output::expiring_soon(t, self.now))
            .count()
    }

    pub fn too_small(&self) -> bool {
        self.size.0 < MIN_WIDTH || self.size.1 < MIN_HEIGHT
    }

    /// Table rows that fit on screen.
    pub fn body_height(&self) -> usize {
        usize::from(self.size.1.saturating_sub(TABLE_TOP + TABLE_BOTTOM)).max(1)
    }

    pub fn table(&mut self) -> &mut dyn TableOps {
        match self.view {
            View::Tokens => &mut self.tokens,
            View::Hosts => &mut self.hosts,
            View::Audit => &mut self.audit,
            View::ApiTokens => &mut self.api_tokens,
        }
    }

    pub fn table_ref(&self) -> &dyn TableOps {
        match self.view {
            View::Tokens => &self.tokens,
            View::Hosts => &self.hosts,
            View::Audit => &self.audit,
            View::ApiTokens => &self.api_tokens,
        }
    }

    /// Rebuilds the visible orders that changed (before drawing).
    pub fn refresh(&mut self) {
        let now = self.now;
        self.tokens.refresh(now);
        self.hosts.refresh(now);
        self.audit.refresh(now);
        self.api_tokens.refresh(now);
    }

    /// The key context in force.
    pub fn ctx(&self) -> Ctx {
        match &self.modal {
            Some(Modal::Help { .. }) => Ctx::Help,
            Some(Modal::Chooser(_)) => Ctx::Chooser,
            Some(Modal::Form(f)) if f.focus == Field::Date => Ctx::Calendar,
            Some(Modal::Form(_)) => Ctx::Form,
            Some(Modal::Reveal(_)) => Ctx::Reveal,
            Some(Modal::Confirm(c)) if c.typed.is_some() => Ctx::TypedDialog,
            Some(Modal::Confirm(_)) => Ctx::Dialog,
            Some(Modal::Record { .. }) => Ctx::Detail,
            Some(Modal::Detail(_)) => Ctx::Detail,
            None if self.filter_input.is_some() => Ctx::Filter,
            None => Ctx::Table,
        }
    }
}

/// Pasted text. It may be a token: wiped when dropped, and never shown by `Debug`.
pub struct Pasted(pub Zeroizing<String>);

impl std::fmt::Debug for Pasted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pasted({} characters)", self.0.chars().count())
    }
}

/// Applies one message; returns the work it asks for.
pub fn update(app: &mut App, msg: Msg) -> Vec<Cmd> {
    app.dirty = true;
    match msg {
        Msg::Key(ev) => on_key(app, ev),
        Msg::Paste(text) => {
            on_paste(app, &text.0);
            Vec::new()
        }
        Msg::Mouse(ev) => {
            on_mouse(app, ev);
            Vec::new()
        }
        Msg::Resize(w, h) => {
            app.size = (w, h);
            Vec::new()
        }
        Msg::Tick(now) => {
            on_tick(app, now);
            Vec::new()
        }
        Msg::Connected(who) => {
            if matches!(app.conn, Conn::Lost(_)) {
                app.flash = flash(Level::Ok, "Reconnected to the daemon.");
            }
            app.conn = Conn::Live;
            app.who = Some(who);
            Vec::new()
        }
        Msg::Tokens(v) => {
            app.marked.retain(|id| v.iter().any(|t| &t.id == id));
            app.tokens.set_rows(v);
            Vec::new()
        }
        Msg::Hosts(v) => {
            app.hosts.set_rows(v);
            Vec::new()
        }
        Msg::Audit(v) => {
            app.audit.set_rows(v);
            Vec::new()
        }
        Msg::ApiTokens(r) => {
            match r {
                Ok(v) => {
                    app.api_tokens.set_rows(v);
                    app.api_tokens_error = None;
                }
                Err(e) => app.api_tokens_error = Some(e),
            }
            Vec::new()
        }
        Msg::Change(ev) => on_change(app, *ev),
        Msg::Lost(e) => {
            app.conn = Conn::Lost(e);
            Vec::new()
        }
        Msg::Created(resp) => {
            let mut resp = *resp;
            // The answer wipes its own secret when dropped; the reveal takes it over.
            let secret = std::mem::take(&mut resp.secret);
            let join_command = std::mem::take(&mut resp.join_command);
            let token = resp.token.clone();
            // In the table before it is selected: the answer may come before the token's own
            // change event, and selecting an id the table lacks keeps the old selection.
            app.tokens.upsert(token.clone());
            app.tokens.select_id(&token.id);
            app.view = View::Tokens;
            app.modal = Some(Modal::Reveal(Reveal {
                id: token.id.clone(),
                name: token.name.clone(),
                secret: Zeroizing::new(secret),
                join_command,
                note: None,
            }));
            Vec::new()
        }
        Msg::CreateFailed(e) => {
            if let Some(Modal::Form(f)) = &mut app.modal {
                f.busy = false;
                f.server_error = Some(e);
            } else {
                app.flash = flash(Level::Error, format!("Not created: {e}"));
            }
            Vec::new()
        }
        Msg::TokenChanged { token, what } => {
            let bound = match &app.modal {
                Some(Modal::Confirm(c)) => c.id == token.id,
                Some(Modal::Form(f)) => {
                    matches!(&f.purpose, super::form::Purpose::Extend { id, .. } if *id == token.id)
                }
                _ => false,
            };
            if bound {
                app.modal = None;
            }
            app.flash = flash(Level::Ok, format!("{what} {}.", output::name(&token.name)));
            app.tokens.upsert(*token);
            Vec::new()
        }
        Msg::Removed { kind, id, name } => {
            if let Some(Modal::Confirm(c)) = &app.modal
                && c.id == id
            {
                app.modal = None;
            }
            if let Some(Modal::Detail(d)) = &app.modal
                && d.id == id
            {
                app.modal = None;
            }
            match kind {
                ConfirmKind::Delete => app.tokens.remove(&id),
                ConfirmKind::RemoveHost => app.hosts.remove(&id),
                ConfirmKind::DeleteApiToken => app.api_tokens.remove(&id),
                ConfirmKind::Revoke | ConfirmKind::Disable | ConfirmKind::Enable => {}
            }
            let what = match kind {
                ConfirmKind::RemoveHost => "Removed host",
                ConfirmKind::DeleteApiToken => "Deleted API token",
                _ => "Deleted",
            };
            app.flash = flash(Level::Ok, format!("{what} {}.", output::name(&name)));
            Vec::new()
        }
        Msg::ActionFailed { what, error } => {
            let text = format!("{what} failed: {error}");
            match &mut app.modal {
                Some(Modal::Confirm(c)) => {
                    c.busy = false;
                    c.error = Some(error);
                }
                Some(Modal::Form(f)) => {
                    f.busy = false;
                    f.server_error = Some(error);
                }
                _ => {}
            }
            app.flash = flash(Level::Error, text);
            Vec::new()
        }
        Msg::DetailLoaded { id, hosts, audit } => {
            if let Some(Modal::Detail(d)) = &mut app.modal
                && d.id == id
            {
                d.hosts = Some(hosts);
                d.audit = Some(audit);
            }
            Vec::new()
        }
        Msg::Copied(text) => {
            set_reveal_note(app, Level::Info, text);
            Vec::new()
        }
        Msg::Wrote(r) => {
            match r {
                Ok(p) => set_reveal_note(
                    app,
                    Level::Ok,
                    format!(
                        "Written to {} (mode 0600, only you can read it).",
                        p.display()
                    ),
                ),
                Err(e) => set_reveal_note(app, Level::Error, format!("Not written: {e}")),
            }
            Vec::new()
        }
        Msg::Exported(r) => {
            app.flash = match r {
                Ok((n, p)) => flash(
                    Level::Ok,
                    format!("Exported {n} rows to {} (mode 0600).", p.display()),
                ),
                Err(e) => flash(Level::Error, format!("Not exported: {e}")),
            };
            Vec::new()
        }
        Msg::BulkDone { kind, results } => {
            on_bulk_done(app, kind, results);
            Vec::new()
        }
    }
}

/// Every marked token's result, listed in a view of their own (and the marks cleared).
fn on_bulk_done(
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

fn set_reveal_note(app: &mut App, level: Level, text: String) {
    if let Some(Modal::Reveal(r)) = &mut app.modal {
        r.note = flash(level, text);
    } else {
        app.flash = flash(level, text);
    }
}

fn on_tick(app: &mut App, now: Timestamp) {
    let before = app.now.0.div_euclid(10);
    app.now = now;
    // Statuses that time changes (active → expired) follow without a round trip.
    let changed = app.tokens.update_where(
        |t| {
            t.expires_at.is_some_and(|e| now >= e)
                && matches!(t.status, TokenStatus::Active | TokenStatus::Disabled)
        },
        |t| t.status = TokenStatus::Expired,
    );
    // Relative times move on: redraw when they could read differently, not on every tick.
    app.dirty = changed || now.0.div_euclid(10) != before;
}

fn on_change(app: &mut App, ev: ChangeEvent) -> Vec<Cmd> {
    match ev.kind {
        ChangeKind::Token => {
            if let Some(t) = ev.token {
                app.tokens.upsert(t);
            }
        }
        ChangeKind::TokenDeleted => {
            if let Some(id) = ev.token_id {
                let name = app.tokens.get(&id).map(|t| t.name.clone());
                app.tokens.remove(&id);
                app.marked.remove(&id);
                let bound = match &app.modal {
                    Some(Modal::Detail(d)) => d.id == id,
                    Some(Modal::Confirm(c)) => c.id == id && c.kind != ConfirmKind::RemoveHost,
                    _ => false,
                };
                if bound {
                    app.modal = None;
                    app.flash = flash(
                        Level::Info,
                        format!("{} was deleted.", output::name(&name.unwrap_or_default())),
                    );
                }
            }
        }
        ChangeKind::Host => {
            if let Some(h) = ev.host {
                if let Some(Modal::Detail(d)) = &mut app.modal
                    && d.id == h.token_id
                    && let Some(Ok(hosts)) = &mut d.hosts
                {
                    hosts.retain(|x| x.id != h.id);
                    hosts.push(h.clone());
                }
                app.hosts.upsert(h);
            }
        }
        ChangeKind::Audit => {
            if let Some(a) = ev.audit {
                if a.action == "host_removed"
                    && let Some(host) = a.details.get("host_id")
                {
                    app.hosts.remove(host);
                    if let Some(Modal::Detail(d)) = &mut app.modal
                        && let Some(Ok(hosts)) = &mut d.hosts
                    {
                        hosts.retain(|x| &x.id != host);
                    }
                }
                if let Some(Modal::Detail(d)) = &mut app.modal
                    && d.id == a.target
                    && let Some(Ok(trail)) = &mut d.audit
                {
                    trail.push(a.clone());
                }
                app.audit.upsert(a);
            }
        }
        ChangeKind::Resync => return vec![Cmd::Reload],
        ChangeKind::Unknown => {}
    }
    Vec::new()
}

fn on_mouse(app: &mut App, ev: MouseEvent) {
    if !app.mouse {
        return;
    }
    app.refresh();
    match (&mut app.modal, ev.kind) {
        (Some(Modal::Detail(d)), MouseEventKind::ScrollDown) => {
            d.scroll = d.scroll.saturating_add(3)
        }
        (Some(Modal::Detail(d)), MouseEventKind::ScrollUp) => d.scroll = d.scroll.saturating_sub(3),
        (Some(_), _) => {}
        (None, MouseEventKind::ScrollDown) => app.table().move_by(3),
        (None, MouseEventKind::ScrollUp) => app.table().move_by(-3),
        (None, MouseEventKind::Down(crossterm::event::MouseButton::Left)) => {
            let top = TABLE_TOP;
            if ev.row >= top && ev.row < app.size.1.saturating_sub(TABLE_BOTTOM) {
                let n = app.table_ref().scroll_offset() + usize::from(ev.row - top);
                app.table().select_visible(n);
            }
        }
        _ => {}
    }
}

/// Pasted text goes, as typed, into the field that has the focus — the filter, a form's text
/// field, the name a delete asks for — and nowhere else, where its letters would be commands.
/// Line breaks and other control characters are dropped.
fn on_paste(app: &mut App, text: &str) {
    app.refresh();
    // Inserted whole, then any token in it cut to its public part: two tokens pasted together
    // are told apart only as one text.
    let clean: Zeroizing<String> =
        Zeroizing::new(text.chars().filter(|c| !c.is_control()).collect());
    let paste = |t: &mut TextArea<'static>| {
        t.insert_str(clean.as_str());
        super::form::cut_secrets(t);
    };
    match app.ctx() {
        _ if app.too_small() => app.dirty = false,
        // The filter finds the tokens itself (and keeps only what names them).
        Ctx::Filter => filter_edit(app, |t| {
            t.insert_str(clean.as_str());
        }),
        Ctx::Form => {
            if let Some(Modal::Form(form)) = &mut app.modal {
                form.edit_focused(paste);
            }
        }
        Ctx::TypedDialog => {
            if let Some(Modal::Confirm(c)) = &mut app.modal
                && let Some(t) = &mut c.typed
                && !c.busy
            {
                paste(t);
                c.error = None;
                c.on_action = c.typed_ok();
            }
        }
        _ => app.dirty = false,
    }
}

fn on_key(app: &mut App, ev: KeyEvent) -> Vec<Cmd> {
    // Keys act on what is on screen: bring the visible order up to date first (cheap when
    // nothing changed).
    app.refresh();
    if ev.kind == crossterm::event::KeyEventKind::Release {
        app.dirty = false;
        return Vec::new();
    }
    // Ctrl-C always quits, whatever is open (a reveal's secret is wiped on the way out).
    if ev.code == KeyCode::Char('c') && ev.modifiers.contains(KeyModifiers::CONTROL) {
        app.quit = true;
        app.modal = None;
        return vec![Cmd::Quit];
    }
    // Nothing acts blind: below the size floor only q quits (as the notice says).
    if app.too_small() {
        if ev.code == KeyCode::Char('q') && app.modal.is_none() {
            app.quit = true;
            return vec![Cmd::Quit];
        }
        app.dirty = false;
        return Vec::new();
    }
    let ctx = app.ctx();
    let readonly = app.readonly();
    let binding = keymap::lookup(ctx, &ev, app.view, readonly);
    let action = binding.map(|b| b.action);
    match ctx {
        Ctx::Table => table_key(app, ev, action),
        Ctx::Filter => {
            filter_key(app, ev, action);
            Vec::new()
        }
        Ctx::Help => {
            let (max, page) = (app.scroll_max.get(), app.scroll_page.get());
            if let Some(Modal::Help { scroll }) = &mut app.modal {
                match action {
                    Some(Action::Back) => app.modal = None,
                    Some(a) => *scroll = scrolled(*scroll, a, page, max),
                    None => {}
                }
            }
            Vec::new()
        }
        Ctx::Chooser => chooser_key(app, action),
        Ctx::Form | Ctx::Calendar => form_key(app, ev, action),
        Ctx::Reveal => reveal_key(app, action),
        Ctx::Dialog | Ctx::TypedDialog => dialog_key(app, ev, action),
        Ctx::Detail => detail_key(app, ev, action),
    }
}

fn table_key(app: &mut App, ev: KeyEvent, action: Option<Action>) -> Vec<Cmd> {
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
        Action::New => {
            app.modal = Some(Modal::Form(Box::new(new_form(app))));
        }
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
                app.flash = flash(
                    Level::Error,
                    format!(
                        "{} is revoked: it cannot be extended.",
                        output::name(&t.name)
                    ),
                );
                return Vec::new();
            }
            let form = new_form(app);
            let form = if action == Action::Clone {
                form.clone_of(&t)
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

/// A fresh create form with the daemon's defaults.
fn new_form(app: &App) -> CreateForm {
    let (allow, ttl) = app
        .who
        .as_ref()
        .map(|w| (w.allow_no_expiry, w.default_ttl_seconds))
        .unwrap_or((false, 86_400));
    CreateForm::new(app.now, app.is_admin(), allow, ttl)
}

/// The current view, filtered and sorted as it shows, as CSV for a new file.
fn export(app: &mut App) -> Vec<Cmd> {
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

fn readonly_reason(app: &App) -> &'static str {
    if app.readonly_flag {
        "started with --readonly"
    } else {
        "your role is auditor"
    }
}

/// r, d and x on the selected row of the current view (or the token in the detail view).
fn act_on_selection(app: &mut App, action: Action) -> Vec<Cmd> {
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
fn act_on_marked(app: &mut App, action: Action) {
    let tokens: Vec<Token> = app
        .marked
        .iter()
        .filter_map(|id| app.tokens.get(id).cloned())
        .collect();
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

fn token_action(app: &mut App, t: &Token, action: Action) -> Vec<Cmd> {
    match action {
        Action::ToggleDisable => {
            if t.status == TokenStatus::Revoked {
                app.flash = flash(
                    Level::Error,
                    format!(
                        "{} is revoked: it cannot be enabled again.",
                        output::name(&t.name)
                    ),
                );
                return Vec::new();
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

/// The field a confirmation asks to type into (no undo history, as every field).
fn typed_field(placeholder: &str) -> TextArea<'static> {
    let mut ta = TextArea::default();
    ta.set_max_histories(0);
    ta.set_cursor_line_style(ratatui::style::Style::new());
    ta.set_placeholder_text(placeholder.to_owned());
    ta
}

fn filter_key(app: &mut App, ev: KeyEvent, action: Option<Action>) {
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
fn filter_edit(app: &mut App, edit: impl FnOnce(&mut TextArea<'static>)) {
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
fn tokens_named_in(text: &str) -> Option<String> {
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
fn filter_line(text: &str) -> TextArea<'static> {
    let mut t = TextArea::new(vec![text.to_owned()]);
    t.set_max_histories(0);
    t.set_cursor_line_style(ratatui::style::Style::new());
    t.move_cursor(ratatui_textarea::CursorMove::End);
    t
}

fn chooser_key(app: &mut App, action: Option<Action>) -> Vec<Cmd> {
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
fn yank(app: &mut App, choice: usize) -> Vec<Cmd> {
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

pub fn app_columns(view: View) -> &'static [&'static str] {
    match view {
        View::Tokens => Token::COLUMNS,
        View::Hosts => Host::COLUMNS,
        View::Audit => AuditEvent::COLUMNS,
        View::ApiTokens => ApiToken::COLUMNS,
    }
}

fn form_key(app: &mut App, ev: KeyEvent, action: Option<Action>) -> Vec<Cmd> {
    let now = app.now;
    let Some(Modal::Form(form)) = &mut app.modal else {
        return Vec::new();
    };
    let on_choice = matches!(form.focus, Field::Uses | Field::Expiry);
    // Esc on a changed form asks first: a second Esc throws it away, any other key keeps it.
    let asked = std::mem::take(&mut form.discard_asked);
    let outcome = match action {
        Some(Action::Submit) => FormOutcome::Submit,
        Some(Action::Back) if form.changed() && !asked => {
            form.discard_asked = true;
            FormOutcome::Stay
        }
        Some(Action::Back) => FormOutcome::Cancel,
        Some(Action::NextField) => {
            form.move_focus(1);
            FormOutcome::Stay
        }
        Some(Action::PrevField) => {
            form.move_focus(-1);
            FormOutcome::Stay
        }
        Some(a @ (Action::Left | Action::Right)) if form.focus == Field::Date => {
            form.picker
                .move_days(if a == Action::Left { -1 } else { 1 });
            FormOutcome::Stay
        }
        Some(a @ (Action::Up | Action::Down)) if form.focus == Field::Date => {
            form.picker.move_days(if a == Action::Up { -7 } else { 7 });
            FormOutcome::Stay
        }
        Some(a @ (Action::PageUp | Action::PageDown)) => {
            form.picker
                .move_months(if a == Action::PageUp { -1 } else { 1 });
            FormOutcome::Stay
        }
        Some(Action::Today) => {
            form.picker.go_today();
            FormOutcome::Stay
        }
        Some(a @ (Action::Left | Action::Right)) if on_choice => {
            form.cycle(if a == Action::Left { -1 } else { 1 });
            FormOutcome::Stay
        }
        _ => {
            if form.focus == Field::Date || on_choice {
                if ev.code == KeyCode::Char(' ') && on_choice {
                    form.cycle(1);
                }
            } else {
                form.type_key(ev);
            }
            FormOutcome::Stay
        }
    };
    match outcome {
        FormOutcome::Stay => Vec::new(),
        FormOutcome::Cancel => {
            let extend = matches!(form.purpose, super::form::Purpose::Extend { .. });
            app.modal = None;
            app.flash = flash(
                Level::Info,
                if extend {
                    "Nothing changed."
                } else {
                    "Nothing created."
                },
            );
            Vec::new()
        }
        FormOutcome::Submit => {
            if form.busy {
                return Vec::new();
            }
            if let super::form::Purpose::Extend { id, .. } = form.purpose.clone() {
                return match form.new_expiry(now) {
                    Some(expires_at) => {
                        form.busy = true;
                        form.server_error = None;
                        vec![Cmd::Extend { id, expires_at }]
                    }
                    None => Vec::new(),
                };
            }
            match form.request(now) {
                Some(req) => {
                    form.busy = true;
                    form.server_error = None;
                    vec![Cmd::Create(Box::new(req))]
                }
                None => Vec::new(),
            }
        }
    }
}

fn reveal_key(app: &mut App, action: Option<Action>) -> Vec<Cmd> {
    let Some(Modal::Reveal(r)) = &mut app.modal else {
        return Vec::new();
    };
    match action {
        Some(Action::Copy) => {
            r.note = flash(Level::Info, "Copying…");
            vec![Cmd::Copy {
                text: r.secret.clone(),
                what: "the token",
            }]
        }
        Some(Action::CopyCommand) => {
            r.note = flash(Level::Info, "Copying the host command…");
            vec![Cmd::Copy {
                text: Zeroizing::new(r.join_command.clone()),
                what: "the host command",
            }]
        }
        Some(Action::WriteFile) => vec![Cmd::WriteSecret {
            name: r.name.clone(),
            secret: r.secret.clone(),
        }],
        Some(Action::Acknowledge) => {
            let name = r.name.clone();
            // Dropping the reveal wipes the secret (Zeroizing); the screen is cleared so no
            // cell of it survives in the terminal.
            app.modal = None;
            app.flash = flash(
                Level::Ok,
                format!(
                    "Created {}. Its token is gone from this console.",
                    output::name(&name)
                ),
            );
            vec![Cmd::ClearScreen]
        }
        _ => {
            app.dirty = false;
            Vec::new()
        }
    }
}

fn dialog_key(app: &mut App, ev: KeyEvent, action: Option<Action>) -> Vec<Cmd> {
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

fn detail_key(app: &mut App, ev: KeyEvent, action: Option<Action>) -> Vec<Cmd> {
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

/// Where a scrolled text (help, details) is after `action`: a line or a page (`page` lines) up
/// or down, or the top or bottom, never past `max`; any other action leaves it.
fn scrolled(scroll: u16, action: Action, page: u16, max: u16) -> u16 {
    let page = page.saturating_sub(1).max(1);
    match action {
        Action::Up => scroll.saturating_sub(1),
        Action::Down => scroll.saturating_add(1).min(max),
        Action::PageUp => scroll.saturating_sub(page),
        Action::PageDown => scroll.saturating_add(page).min(max),
        Action::Home => 0,
        Action::End => max,
        _ => scroll,
    }
}

/// The selected row of the hosts, audit or API tokens view, as (title, every field).
fn record_of(app: &App) -> Option<(String, Vec<(String, String)>)> {
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
                kv("action", e.action.clone()),
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
