//! The console's shared state and messages, and its one `update` function (the Elm
//! architecture): every key, mouse event, tick and daemon answer arrives as a `Msg`; `update`
//! changes the state and returns the `Cmd`s (requests to the daemon, clipboard, files, screen)
//! for the runtime to carry out. Keys go to the screen that has the focus (`list`, `form`,
//! `reveal`, `confirm`, `detail`, `help`, `chooser`: each holds its keys and its drawing). No
//! terminal and no daemon are needed to test it.

use std::path::PathBuf;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseEvent, MouseEventKind};
use gatepass_protocol::{
    ApiToken, AuditEvent, ChangeEvent, ChangeKind, CreateTokenRequest, CreateTokenResponse, Host,
    Role, TenantSummary, Timestamp, Token, TokenStatus, WhoAmI,
};
use ratatui_textarea::TextArea;
use zeroize::Zeroizing;

use super::chooser::chooser_key;
pub use super::chooser::{Chooser, ChooserKind, YANK_CHOICES, join_command};
pub use super::confirm::{Confirm, ConfirmKind, Target};
use super::confirm::{dialog_key, on_bulk_done};
use super::detail::detail_key;
pub use super::detail::{Detail, describe_status};
use super::form::form_key;
use super::form::{CreateForm, Field};
use super::keymap::{self, Action, Ctx, View};
use super::list::{filter_edit, filter_key, table_key};
pub use super::reveal::Reveal;
use super::reveal::{reveal_key, set_reveal_note};
use super::table::{Row, StatusFilter, Table};
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

/// What the tenant picker says while the chosen tenant's lists load; the last of them (the API
/// tokens, which `load_all` sends last) takes it away.
const LOADING: &str = "loading its lists…";

pub(super) fn flash(level: Level, text: impl Into<String>) -> Option<Flash> {
    Some(Flash {
        text: text.into(),
        level,
    })
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
    /// The tenants open to the caller (`GET /v1/tenants`); `None`: the daemon predates
    /// tenants (it answered 404), so everything is in `default`.
    Tenants(Option<Vec<TenantSummary>>),
    Tokens(Vec<Token>),
    Hosts(Vec<Host>),
    Audit(Vec<AuditEvent>),
    ApiTokens(Result<Vec<ApiToken>, String>),
    Change(Box<ChangeEvent>),
    Lost(String),
    /// Whether the daemon's store is unavailable (`/healthz`).
    StoreDown(bool),
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
    /// The daemon answers but says its store is unavailable (`/healthz` 503).
    pub store_down: bool,
    pub who: Option<WhoAmI>,
    /// The tenants open to the caller, as the daemon lists them; empty until it has said.
    pub tenants: Vec<TenantSummary>,
    /// The tenant the lists show and new tokens are minted in; `None`: all tenants (a view,
    /// never a place to mint), or not known yet.
    pub tenant: Option<String>,
    /// The daemon predates tenants: requests name none.
    pub tenants_legacy: bool,
    /// Counts the tenants chosen with `T`: the runtime drops lists loaded for an earlier choice.
    pub tenant_gen: u64,
    /// Where the daemon is (socket path or URL).
    pub endpoint: String,
    /// Set when the console started a local daemon: said in the header.
    pub started: Option<crate::local::Started>,
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
            store_down: false,
            who: None,
            tenants: Vec::new(),
            tenant: None,
            tenants_legacy: false,
            tenant_gen: 0,
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

    /// Read-only by flag, or because the role cannot change anything (here: in the tenant
    /// shown).
    pub fn readonly(&self) -> bool {
        self.readonly_flag
            || self.who.as_ref().is_some_and(|w| w.role == Role::Auditor)
            || self
                .current_tenant()
                .is_some_and(|t| t.role == Role::Auditor)
    }

    pub fn is_admin(&self) -> bool {
        self.who.as_ref().is_some_and(|w| w.role == Role::Admin)
    }

    /// The "all tenants" view: the caller has several and chose none (`T`).
    pub fn all_tenants(&self) -> bool {
        self.tenant.is_none() && self.tenants.len() > 1
    }

    /// The tenant the lists show, as the daemon listed it.
    pub fn current_tenant(&self) -> Option<&TenantSummary> {
        let name = self.tenant.as_deref()?;
        self.tenants.iter().find(|t| t.name == name)
    }

    /// Whether a record of `tenant` belongs in the lists (an event of another tenant does not).
    pub fn shows_tenant(&self, tenant: &str) -> bool {
        self.tenant.as_deref().is_none_or(|t| t == tenant)
    }

    /// The header's words for the tenant shown, once the daemon has said which are open.
    pub fn tenant_label(&self) -> Option<String> {
        match &self.tenant {
            _ if self.tenants.is_empty() => None,
            Some(t) => Some(format!("tenant {t}")),
            None => Some("all tenants".to_owned()),
        }
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
        Msg::Tenants(listed) => on_tenants(app, listed),
        Msg::Tokens(mut v) => {
            if let Some(t) = &app.tenant {
                v.retain(|x| &x.tenant == t);
            }
            app.marked.retain(|id| v.iter().any(|t| &t.id == id));
            app.tokens.set_rows(v);
            Vec::new()
        }
        Msg::Hosts(mut v) => {
            if let Some(t) = &app.tenant {
                v.retain(|x| &x.tenant == t);
            }
            app.hosts.set_rows(v);
            Vec::new()
        }
        Msg::Audit(mut v) => {
            if let Some(t) = &app.tenant {
                v.retain(|x| &x.tenant == t);
            }
            app.audit.set_rows(v);
            Vec::new()
        }
        Msg::ApiTokens(r) => {
            match r {
                Ok(mut v) => {
                    if let Some(t) = &app.tenant {
                        v.retain(|x| &x.tenant == t);
                    }
                    app.api_tokens.set_rows(v);
                    app.api_tokens_error = None;
                }
                Err(e) => app.api_tokens_error = Some(e),
            }
            if app
                .flash
                .as_ref()
                .is_some_and(|f| f.text.ends_with(LOADING))
            {
                app.flash = None;
            }
            Vec::new()
        }
        Msg::Change(ev) => on_change(app, *ev),
        Msg::Lost(e) => {
            app.conn = Conn::Lost(e);
            Vec::new()
        }
        Msg::StoreDown(down) => {
            app.store_down = down;
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
                    format!(
                        // The path last and whole: on two lines it is never the part cut.
                        "Exported {n} row{} (mode 0600) to {}",
                        if n == 1 { "" } else { "s" },
                        p.display()
                    ),
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

/// The tenants open to the caller: with one, the lists are that one's; a choice made with `T`
/// stays while its tenant is still open.
fn on_tenants(app: &mut App, listed: Option<Vec<TenantSummary>>) -> Vec<Cmd> {
    app.tenants_legacy = listed.is_none();
    let list = listed.unwrap_or_else(|| {
        vec![TenantSummary {
            name: gatepass_protocol::DEFAULT_TENANT.to_owned(),
            role: app.who.as_ref().map_or(Role::Operator, |w| w.role),
            tokens: app.tokens.len() as u64,
            hosts: app.hosts.len() as u64,
            members: Vec::new(),
        }]
    });
    let before = app.tenant.take();
    app.tenant = match (&before, list.as_slice()) {
        (_, [only]) => Some(only.name.clone()),
        (Some(t), _) if list.iter().any(|x| &x.name == t) => before.clone(),
        _ => None,
    };
    app.tenants = list;
    // The tenant chosen is no longer open: every list again, for all tenants.
    if before.is_some() && app.tenant.is_none() {
        app.tenant_gen += 1;
        return vec![Cmd::Reload];
    }
    Vec::new()
}

/// Shows `tenant` (`None`: all tenants) from now on: the rows of others leave at once, and
/// every list is loaded again with its filter.
pub(super) fn choose_tenant(app: &mut App, tenant: Option<String>) -> Vec<Cmd> {
    if app.tenant == tenant {
        return Vec::new();
    }
    app.tenant = tenant;
    app.tenant_gen += 1;
    app.marked.clear();
    app.flash = match &app.tenant {
        Some(t) => {
            let keep = |x: &str| x == t.as_str();
            app.tokens.retain(|r| keep(&r.tenant));
            app.hosts.retain(|r| keep(&r.tenant));
            app.audit.retain(|r| keep(&r.tenant));
            app.api_tokens.retain(|r| keep(&r.tenant));
            // The TENANT column leaves with the view of all tenants: so does a sort on it.
            app.tokens.unsort_tenant();
            app.hosts.unsort_tenant();
            flash(Level::Info, format!("Tenant {t}: {LOADING}"))
        }
        None => flash(Level::Info, format!("All tenants: {LOADING}")),
    };
    vec![Cmd::Reload]
}

fn on_change(app: &mut App, ev: ChangeEvent) -> Vec<Cmd> {
    // Another tenant's change is not for a view of one tenant.
    let elsewhere = [
        ev.token.as_ref().map(|t| t.tenant.as_str()),
        ev.host.as_ref().map(|h| h.tenant.as_str()),
        ev.audit.as_ref().map(|a| a.tenant.as_str()),
    ]
    .into_iter()
    .flatten()
    .any(|t| !app.shows_tenant(t));
    if elsewhere {
        app.dirty = false;
        return Vec::new();
    }
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
                if a.action == gatepass_protocol::AuditAction::HostRemoved
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
            // The throw-away question takes y or n, not text.
            if let Some(Modal::Form(form)) = &mut app.modal
                && !form.discard_asked
            {
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
            super::help::help_key(app, action);
            Vec::new()
        }
        Ctx::Chooser => chooser_key(app, action),
        Ctx::Form | Ctx::Calendar => form_key(app, ev, action),
        Ctx::Reveal => reveal_key(app, action),
        Ctx::Dialog | Ctx::TypedDialog => dialog_key(app, ev, action),
        Ctx::Detail => detail_key(app, ev, action),
    }
}

pub(super) fn readonly_reason(app: &App) -> &'static str {
    if app.readonly_flag {
        "started with --readonly"
    } else {
        "your role is auditor"
    }
}

/// The columns the sort chooser offers: the TENANT column (the last) only in the view of all
/// tenants, where it shows.
pub fn sort_columns(app: &App) -> &'static [&'static str] {
    let all = app_columns(app.view);
    let hidden = match app.view {
        View::Tokens => Token::TENANT_COLUMN,
        View::Hosts => Host::TENANT_COLUMN,
        View::Audit | View::ApiTokens => None,
    };
    match hidden {
        Some(c) if !app.all_tenants() => &all[..c.min(all.len())],
        _ => all,
    }
}

pub fn app_columns(view: View) -> &'static [&'static str] {
    match view {
        View::Tokens => Token::COLUMNS,
        View::Hosts => Host::COLUMNS,
        View::Audit => AuditEvent::COLUMNS,
        View::ApiTokens => ApiToken::COLUMNS,
    }
}

/// Where a scrolled text (help, details) is after `action`: a line or a page (`page` lines) up
/// or down, or the top or bottom, never past `max`; any other action leaves it.
pub(super) fn scrolled(scroll: u16, action: Action, page: u16, max: u16) -> u16 {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::fixtures::*;
    use crossterm::event::KeyCode;

    /// A live change of another tenant does not show in a view of one tenant; its own do.
    #[test]
    fn live_events_respect_the_tenant_shown() {
        let mut a = tenants_app();
        ch(&mut a, 'T');
        key(&mut a, KeyCode::Down);
        key(&mut a, KeyCode::Enter);
        assert_eq!(a.tenant.as_deref(), Some("acme"));
        let mut other = token("globex-new", 0);
        other.tenant = "globex".into();
        update(&mut a, token_changed(other.clone()));
        let mut mine = token("acme-new", 0);
        mine.tenant = "acme".into();
        update(&mut a, token_changed(mine.clone()));
        let names: Vec<&str> = a.tokens.rows().map(|t| t.name.as_str()).collect();
        assert!(names.contains(&"acme-new"), "{names:?}");
        assert!(!names.contains(&"globex-new"), "{names:?}");
        // Hosts and audit events alike.
        let change = |host: Option<Host>, audit: Option<AuditEvent>, kind| {
            Msg::Change(Box::new(ChangeEvent {
                kind,
                token: None,
                token_id: None,
                host,
                audit,
            }))
        };
        let hosts = a.hosts.len();
        update(
            &mut a,
            change(Some(host("g-01", &other, 9)), None, ChangeKind::Host),
        );
        assert_eq!(a.hosts.len(), hosts);
        update(
            &mut a,
            change(Some(host("a-01", &mine, 8)), None, ChangeKind::Host),
        );
        assert_eq!(a.hosts.len(), hosts + 1);
        let events = a.audit.len();
        update(
            &mut a,
            change(None, Some(event(50, "created", &other)), ChangeKind::Audit),
        );
        assert_eq!(a.audit.len(), events);
        update(
            &mut a,
            change(None, Some(event(51, "created", &mine)), ChangeKind::Audit),
        );
        assert_eq!(a.audit.len(), events + 1);
        // In the view of all tenants every change shows.
        let mut b = tenants_app();
        update(&mut b, token_changed(other));
        assert!(b.tokens.rows().any(|t| t.name == "globex-new"));
    }

    /// A daemon from before tenants (404 on /v1/tenants): one tenant, `default`, named in the
    /// header; requests name no tenant.
    #[test]
    fn a_daemon_without_tenants_means_default_alone() {
        let mut a = app();
        update(&mut a, Msg::Tenants(None));
        assert!(a.tenants_legacy && !a.all_tenants());
        assert_eq!(a.tenant.as_deref(), Some("default"));
        let s = screen(&mut a, 120, 40);
        assert!(
            s.lines()
                .next()
                .unwrap_or_default()
                .contains("tenant default ·"),
            "{s}"
        );
        ch(&mut a, 'n');
        typed(&mut a, "old-daemon");
        let cmds = update(
            &mut a,
            Msg::Key(crossterm::event::KeyEvent::new(
                KeyCode::Char('s'),
                crossterm::event::KeyModifiers::CONTROL,
            )),
        );
        let [Cmd::Create(req)] = cmds.as_slice() else {
            panic!("{cmds:?}");
        };
        assert_eq!(req.tenant, None);
    }

    /// A tenant where the caller is an auditor is shown read-only: nothing to mint or change.
    #[test]
    fn an_auditors_tenant_is_read_only() {
        let mut a = app_with_tenants(vec![
            tenant("acme", Role::Admin, 3, 2, &[]),
            tenant("initech", Role::Auditor, 3, 1, &[]),
        ]);
        assert!(!a.readonly());
        ch(&mut a, 'T');
        key(&mut a, KeyCode::Down);
        key(&mut a, KeyCode::Down);
        key(&mut a, KeyCode::Enter);
        assert_eq!(a.tenant.as_deref(), Some("initech"));
        assert!(a.readonly());
        ch(&mut a, 'n');
        assert!(a.modal.is_none());
        let s = screen(&mut a, 120, 40);
        assert!(s.contains("read-only") && !s.contains("n new"), "{s}");
    }

    /// A tenant chosen stays through a reload while it is still open; one no longer open goes
    /// back to all tenants and loads again.
    #[test]
    fn a_chosen_tenant_stays_while_it_is_open() {
        let mut a = tenants_app();
        ch(&mut a, 'T');
        key(&mut a, KeyCode::Down);
        key(&mut a, KeyCode::Enter);
        assert!(update(&mut a, Msg::Tenants(Some(tenant_list()))).is_empty());
        assert_eq!(a.tenant.as_deref(), Some("acme"));
        let before = a.tenant_gen;
        let three = vec![
            tenant("globex", Role::Operator, 0, 0, &[]),
            tenant("initech", Role::Auditor, 0, 0, &[]),
        ];
        assert_eq!(update(&mut a, Msg::Tenants(Some(three))), vec![Cmd::Reload]);
        assert_eq!(a.tenant, None);
        assert!(a.tenant_gen > before);
    }

    /// The picker's "loading" note goes once the tenant's lists are in (it stayed until a key).
    #[test]
    fn the_loading_note_goes_when_the_lists_are_in() {
        let mut a = tenants_app();
        ch(&mut a, 'T');
        key(&mut a, KeyCode::Down);
        key(&mut a, KeyCode::Enter);
        let said = a.flash.as_ref().map(|f| f.text.clone()).unwrap_or_default();
        assert!(said.contains("loading"), "{said}");
        update(&mut a, Msg::Tokens(Vec::new()));
        assert!(a.flash.is_some(), "still loading the rest");
        update(&mut a, Msg::ApiTokens(Ok(Vec::new())));
        assert!(a.flash.is_none(), "{:?}", a.flash.as_ref().map(|f| &f.text));
    }
}
