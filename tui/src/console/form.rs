//! The create form: text fields (ratatui-textarea), the uses choice (single / N / unlimited),
//! the expiry choice (presets, a date from the calendar plus a time, or none), inline
//! validation, and the request it turns into — minted in the tenant shown, for an owner an
//! admin chooses among that tenant's members. It knows nothing of terminals or the daemon.

use gatepass_protocol::rules;
use std::collections::BTreeMap;

use crossterm::event::KeyEvent;
use gatepass_protocol::{CreateTokenRequest, DurationValue, MaxUses, Timestamp, Token};
use ratatui_textarea::TextArea;
use time::{Date, OffsetDateTime, PrimitiveDateTime, Time};

use super::app::*;
use super::calendar::DatePicker;
use super::keymap::{self, Action, View};
use super::theme::Theme;
use super::timefmt;
use super::widgets::*;
use crate::output;
use crate::output::elide;
use crossterm::event::{KeyCode, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

/// A field of the form, in focus order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Name,
    Description,
    Group,
    Labels,
    Owner,
    Uses,
    Count,
    Expiry,
    Date,
    Time,
}

impl Field {
    pub fn label(self) -> &'static str {
        match self {
            Field::Name => "Name",
            Field::Description => "Description",
            Field::Group => "Group",
            Field::Labels => "Labels",
            Field::Owner => "Owner",
            Field::Uses => "Uses",
            Field::Count => "How many",
            Field::Expiry => "Expires",
            Field::Date => "Date",
            Field::Time => "Time",
        }
    }

    /// A field the operator types into.
    pub fn is_text(self) -> bool {
        !matches!(self, Field::Uses | Field::Expiry | Field::Date)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsesChoice {
    Single,
    Count,
    Unlimited,
}

impl UsesChoice {
    pub const ALL: [UsesChoice; 3] = [UsesChoice::Single, UsesChoice::Count, UsesChoice::Unlimited];

    pub fn label(self) -> &'static str {
        match self {
            UsesChoice::Single => "single use",
            UsesChoice::Count => "N uses",
            UsesChoice::Unlimited => "unlimited",
        }
    }
}

/// The expiry choices: presets, then a picked date, then (when the daemon allows it) none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpiryChoice {
    After(&'static str, u64),
    PickDate,
    Never,
}

impl ExpiryChoice {
    pub fn label(self) -> &'static str {
        match self {
            ExpiryChoice::After(l, _) => l,
            ExpiryChoice::PickDate => "pick a date",
            ExpiryChoice::Never => "no expiry",
        }
    }
}

pub const PRESETS: [ExpiryChoice; 6] = [
    ExpiryChoice::After("15m", 15 * 60),
    ExpiryChoice::After("1h", 3600),
    ExpiryChoice::After("1d", 86_400),
    ExpiryChoice::After("3d", 3 * 86_400),
    ExpiryChoice::After("14d", 14 * 86_400),
    ExpiryChoice::After("90d", 90 * 86_400),
];

/// What a key did to the form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormOutcome {
    Stay,
    /// A key that does nothing here (the form need not be drawn again).
    Unchanged,
    Submit,
    Cancel,
}

/// What the form is for: the same fields serve minting, cloning and extending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Purpose {
    Create,
    /// Minting a token with the settings of another (a new name is asked).
    Clone {
        from: String,
    },
    /// A new expiry for an existing token: only the expiry fields show.
    Extend {
        id: String,
        name: String,
        /// Its expiry when the form opened: an earlier one is asked about before it is sent.
        current: Option<Timestamp>,
    },
}

#[derive(Debug)]
pub struct CreateForm {
    pub purpose: Purpose,
    pub name: TextArea<'static>,
    pub description: TextArea<'static>,
    pub group: TextArea<'static>,
    pub labels: TextArea<'static>,
    pub owner: TextArea<'static>,
    pub count: TextArea<'static>,
    pub time: TextArea<'static>,
    pub uses: UsesChoice,
    pub expiry: ExpiryChoice,
    pub picker: DatePicker,
    pub focus: Field,
    /// Admins may mint for another owner.
    pub is_admin: bool,
    /// The tenant the token is minted in (`None`: the daemon's only one for the caller).
    pub tenant: Option<String>,
    /// The title names the tenant (the caller has more than one).
    pub tenant_shown: bool,
    /// Whom an admin may mint for in the tenant besides themselves; when there are any, the
    /// owner field is a choice among them (←/→) rather than typed.
    pub members: Vec<String>,
    /// The owner chosen: 0 is the caller, n the n-th of `members`.
    pub owner_pick: usize,
    pub allow_no_expiry: bool,
    /// After a submit attempt every error shows, not only those of fields already typed in.
    pub tried: bool,
    /// The daemon's refusal of the last submit, shown in the form.
    pub server_error: Option<String>,
    /// A request is on its way: a second Ctrl-S does nothing.
    pub busy: bool,
    /// What the form held when it opened ([`CreateForm::snapshot`]): Esc asks before throwing
    /// away anything else.
    pub initial: Vec<String>,
    /// Esc was pressed on a changed form: `y` (or Esc again) throws it away, `n` keeps it;
    /// no key reaches a field while the question is open.
    pub discard_asked: bool,
    /// Ctrl-S on an extend form whose new expiry is earlier than the token's: a second Ctrl-S
    /// shortens its life (as `tokens extend --shorten`); any other key takes the question back.
    pub shorten_asked: bool,
}

fn field(placeholder: &str, initial: &str) -> TextArea<'static> {
    let mut t = TextArea::new(vec![initial.to_owned()]);
    // No undo history: text cut from a field (a pasted token's secret) must not come back.
    t.set_max_histories(0);
    t.set_placeholder_text(placeholder.to_owned());
    t.set_cursor_line_style(ratatui::style::Style::new());
    t.move_cursor(ratatui_textarea::CursorMove::End);
    t
}

pub fn text_of(t: &TextArea<'_>) -> String {
    t.lines().join("")
}

/// Cuts each token in a text field to its public part (`gpt_<id>`; a bare body to its id), in
/// place, so no secret is drawn — whatever surrounds it, and from a mistyped or cut-short token
/// too, which does not parse; a display form (`gpt_<id>…`) is left. Fields keep no undo
/// history ([`field`]), so an undo cannot bring it back.
pub fn cut_secrets(t: &mut TextArea<'_>) {
    let text = zeroize::Zeroizing::new(text_of(t));
    if let Some(public) = gatepass_protocol::token::replace_secrets(&text, |id, _| id.to_owned()) {
        t.clear();
        t.insert_str(&public);
    }
}

/// A key typed into a one-line text field, with a shell's editing habits: Ctrl-A/E start and
/// end, Ctrl-U and Ctrl-K delete to the start and to the end, Ctrl-W the word before the cursor,
/// Alt-B/F move by word, Alt-D deletes the next word (the textarea's own map binds Ctrl-U to
/// undo, which a field without history cannot do). Enter is never a newline here.
pub fn edit_key(t: &mut TextArea<'_>, ev: KeyEvent) {
    use crossterm::event::{KeyCode, KeyModifiers};
    let ctrl = ev.modifiers.contains(KeyModifiers::CONTROL);
    let alt = ev.modifiers.contains(KeyModifiers::ALT);
    match ev.code {
        KeyCode::Enter => {}
        KeyCode::Char('u') if ctrl => {
            t.delete_line_by_head();
        }
        KeyCode::Char('k') if ctrl => {
            t.delete_line_by_end();
        }
        KeyCode::Char('w') if ctrl => {
            t.delete_word();
        }
        KeyCode::Char('a') if ctrl => t.move_cursor(ratatui_textarea::CursorMove::Head),
        KeyCode::Char('e') if ctrl => t.move_cursor(ratatui_textarea::CursorMove::End),
        KeyCode::Char('b') if alt => t.move_cursor(ratatui_textarea::CursorMove::WordBack),
        KeyCode::Char('f') if alt => t.move_cursor(ratatui_textarea::CursorMove::WordForward),
        KeyCode::Char('d') if alt => {
            t.delete_next_word();
        }
        // Multi-line moves and the textarea's own clipboard make no sense in a one-line field.
        KeyCode::Char('m' | 'j' | 'n' | 'p' | 'r' | 'y' | 'x' | 'v' | 'c') if ctrl => {}
        _ => {
            t.input(ev);
        }
    }
}

impl CreateForm {
    /// A fresh form. `default_ttl` picks the preset matching the daemon's default, if any.
    pub fn new(now: Timestamp, is_admin: bool, allow_no_expiry: bool, default_ttl: u64) -> Self {
        let local = timefmt::to_local(now).unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let today = local.date();
        // The next full hour is a sensible default time for a picked date.
        let next_hour = (local.hour() + 1) % 24;
        let expiry = PRESETS
            .iter()
            .copied()
            .find(|p| matches!(p, ExpiryChoice::After(_, s) if *s == default_ttl))
            .unwrap_or(ExpiryChoice::After("1d", 86_400));
        let initial = today.next_day().unwrap_or(today);
        CreateForm {
            purpose: Purpose::Create,
            name: field("web-rollout (required)", ""),
            description: field("what it is for", ""),
            group: field("group hosts join, e.g. web", ""),
            labels: field("key=value, key=value", ""),
            owner: field("you, or another user", ""),
            count: field("e.g. 10", "10"),
            time: field("HH:MM", &format!("{next_hour:02}:00")),
            uses: UsesChoice::Single,
            expiry,
            picker: DatePicker::new(today, initial),
            focus: Field::Name,
            is_admin,
            tenant: None,
            tenant_shown: false,
            members: Vec::new(),
            owner_pick: 0,
            allow_no_expiry,
            tried: false,
            server_error: None,
            busy: false,
            initial: Vec::new(),
            discard_asked: false,
            shorten_asked: false,
        }
        .opened()
    }

    /// The form minting in `tenant` (named in the title when `shown`), an admin's owner chosen
    /// among `members`.
    pub fn in_tenant(mut self, tenant: Option<String>, shown: bool, members: Vec<String>) -> Self {
        self.tenant = tenant;
        self.tenant_shown = shown;
        self.members = if self.is_admin { members } else { Vec::new() };
        self.owner_pick = 0;
        self.opened()
    }

    /// Whether the owner is chosen among the tenant's members (else typed, or not asked).
    pub fn owner_is_choice(&self) -> bool {
        self.is_admin && !self.members.is_empty()
    }

    /// The owner chosen, as the form shows it.
    pub fn owner_label(&self) -> &str {
        match self.owner_pick.checked_sub(1) {
            Some(i) => self.members.get(i).map_or("you", String::as_str),
            None => "you",
        }
    }

    /// Whether the focus is on a choice (←/→ change it) rather than text.
    pub fn on_choice(&self) -> bool {
        matches!(self.focus, Field::Uses | Field::Expiry)
            || (self.focus == Field::Owner && self.owner_is_choice())
    }

    /// On the owner choice: the next member after the one chosen whose name starts with `c`.
    fn jump_to_member(&mut self, c: char) {
        let n = self.members.len();
        let c = c.to_ascii_lowercase();
        let found = (1..=n)
            .map(|k| (self.owner_pick + k - 1) % n)
            .find(|&i| self.members[i].to_ascii_lowercase().starts_with(c));
        if let Some(i) = found {
            self.owner_pick = i + 1;
        }
    }

    /// Records what the form holds now as what it opened with.
    pub fn opened(mut self) -> Self {
        self.initial = self.snapshot();
        self
    }

    /// Everything the operator can change, as text.
    fn snapshot(&self) -> Vec<String> {
        let mut v: Vec<String> = [
            &self.name,
            &self.description,
            &self.group,
            &self.labels,
            &self.owner,
            &self.count,
            &self.time,
        ]
        .iter()
        .map(|t| text_of(t))
        .collect();
        v.push(self.uses.label().to_owned());
        v.push(self.owner_label().to_owned());
        v.push(self.expiry.label().to_owned());
        v.push(self.picker.cursor.to_string());
        v
    }

    /// Whether the operator changed anything since the form opened.
    pub fn changed(&self) -> bool {
        self.snapshot() != self.initial
    }

    /// A form minting a token with `t`'s settings under a new name: description, group,
    /// labels, owner (admins), uses, and the same lifetime: the preset that matches it, else
    /// the picked date and time that lifetime from `now` (a clone of a 10-day token lives 10
    /// days).
    pub fn clone_of(mut self, t: &Token, now: Timestamp) -> Self {
        self.purpose = Purpose::Clone {
            from: t.name.clone(),
        };
        self.name = field("a new name (required)", "");
        self.description = field("what it is for", &t.description);
        self.group = field(
            "group hosts join, e.g. web",
            t.group.as_deref().unwrap_or(""),
        );
        let labels: Vec<String> = t.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        self.labels = field("key=value, key=value", &labels.join(", "));
        if self.owner_is_choice() {
            self.owner_pick = self
                .members
                .iter()
                .position(|m| *m == t.owner)
                .map_or(0, |i| i + 1);
        } else if self.is_admin {
            self.owner = field("you, or another user", &t.owner);
        }
        match t.max_uses {
            MaxUses::Limited(1) => self.uses = UsesChoice::Single,
            MaxUses::Limited(n) => {
                self.uses = UsesChoice::Count;
                self.count = field("e.g. 10", &n.to_string());
            }
            MaxUses::Unlimited => self.uses = UsesChoice::Unlimited,
        }
        let lifetime = t.expires_at.map(|e| e.0.saturating_sub(t.created_at.0));
        match lifetime {
            None if self.allow_no_expiry => self.expiry = ExpiryChoice::Never,
            None => {}
            Some(secs) => {
                if let Some(p) = PRESETS.iter().find(
                    |p| matches!(p, ExpiryChoice::After(_, s) if i64::try_from(*s) == Ok(secs)),
                ) {
                    self.expiry = *p;
                } else {
                    self.pick_lifetime(now, secs);
                }
            }
        }
        self.opened()
    }

    /// The picked-date mode set to `secs` from `now` (rounded up to the minute, so the clone
    /// lives at least as long as its source did).
    fn pick_lifetime(&mut self, now: Timestamp, secs: i64) {
        let Some(at) = now
            .0
            .checked_add(secs)
            .and_then(|s| s.checked_add(59))
            .map(|s| Timestamp(s - s.rem_euclid(60)))
        else {
            return;
        };
        let Some(local) = timefmt::to_local(at) else {
            return;
        };
        self.expiry = ExpiryChoice::PickDate;
        let days = (local.date() - self.picker.today).whole_days();
        self.picker.go_today();
        self.picker.move_days(days);
        self.time = field(
            "HH:MM",
            &format!("{:02}:{:02}", local.hour(), local.minute()),
        );
    }

    /// A form choosing a new expiry for `t` (presets from now, a date, or none).
    pub fn extend_of(mut self, t: &Token) -> Self {
        self.purpose = Purpose::Extend {
            id: t.id.clone(),
            name: t.name.clone(),
            current: t.expires_at,
        };
        self.focus = Field::Expiry;
        self.opened()
    }

    /// The form's title.
    pub fn title(&self) -> String {
        let title = match &self.purpose {
            Purpose::Create => "New enrollment token".to_owned(),
            Purpose::Clone { from } => format!("Clone of {from}: a new token"),
            Purpose::Extend { name, .. } => return format!("Extend {name}: a new expiry"),
        };
        match &self.tenant {
            Some(t) if self.tenant_shown => format!("{title} in tenant {t}"),
            _ => title,
        }
    }

    /// The fields in focus order, as they are now (some appear only with a choice).
    pub fn fields(&self) -> Vec<Field> {
        if let Purpose::Extend { .. } = self.purpose {
            let mut f = vec![Field::Expiry];
            if self.expiry == ExpiryChoice::PickDate {
                f.push(Field::Date);
                f.push(Field::Time);
            }
            return f;
        }
        let mut f = vec![Field::Name, Field::Description, Field::Group, Field::Labels];
        if self.is_admin {
            f.push(Field::Owner);
        }
        f.push(Field::Uses);
        if self.uses == UsesChoice::Count {
            f.push(Field::Count);
        }
        f.push(Field::Expiry);
        if self.expiry == ExpiryChoice::PickDate {
            f.push(Field::Date);
            f.push(Field::Time);
        }
        f
    }

    pub fn expiry_choices(&self) -> Vec<ExpiryChoice> {
        let mut v = PRESETS.to_vec();
        v.push(ExpiryChoice::PickDate);
        if self.allow_no_expiry {
            v.push(ExpiryChoice::Never);
        }
        v
    }

    pub fn text(&self, f: Field) -> Option<&TextArea<'static>> {
        Some(match f {
            Field::Name => &self.name,
            Field::Description => &self.description,
            Field::Group => &self.group,
            Field::Labels => &self.labels,
            Field::Owner => &self.owner,
            Field::Count => &self.count,
            Field::Time => &self.time,
            _ => return None,
        })
    }

    fn text_mut(&mut self, f: Field) -> Option<&mut TextArea<'static>> {
        if f == Field::Owner && self.owner_is_choice() {
            return None;
        }
        Some(match f {
            Field::Name => &mut self.name,
            Field::Description => &mut self.description,
            Field::Group => &mut self.group,
            Field::Labels => &mut self.labels,
            Field::Owner => &mut self.owner,
            Field::Count => &mut self.count,
            Field::Time => &mut self.time,
            _ => return None,
        })
    }

    pub fn move_focus(&mut self, delta: isize) {
        let fields = self.fields();
        let at = fields.iter().position(|f| *f == self.focus).unwrap_or(0);
        let n = fields.len() as isize;
        let next = (at as isize + delta).rem_euclid(n) as usize;
        self.focus = fields[next];
    }

    /// ←/→ on a choice field.
    pub fn cycle(&mut self, delta: isize) {
        match self.focus {
            Field::Uses => {
                let all = UsesChoice::ALL;
                let at = all.iter().position(|u| *u == self.uses).unwrap_or(0) as isize;
                self.uses = all[(at + delta).rem_euclid(all.len() as isize) as usize];
            }
            Field::Expiry => {
                let all = self.expiry_choices();
                let at = all.iter().position(|e| *e == self.expiry).unwrap_or(0) as isize;
                self.expiry = all[(at + delta).rem_euclid(all.len() as isize) as usize];
            }
            Field::Owner if self.owner_is_choice() => {
                let n = self.members.len() as isize + 1;
                self.owner_pick = (self.owner_pick as isize + delta).rem_euclid(n) as usize;
            }
            _ => {}
        }
    }

    /// Edits the focused field, if it is a text field.
    pub fn edit_focused(&mut self, edit: impl FnOnce(&mut TextArea<'static>)) {
        if let Some(t) = self.text_mut(self.focus) {
            edit(t);
            self.server_error = None;
        }
    }

    /// A key typed into the focused text field (Enter is never a newline here).
    pub fn type_key(&mut self, ev: KeyEvent) {
        if let Some(t) = self.text_mut(self.focus) {
            edit_key(t, ev);
            cut_secrets(t);
            self.server_error = None;
        }
    }

    /// When the token expires with the current choices: `Ok(None)` for no expiry.
    pub fn expires_at(&self, now: Timestamp) -> Result<Option<Timestamp>, String> {
        match self.expiry {
            ExpiryChoice::After(_, secs) => now
                .checked_add(secs)
                .map(Some)
                .ok_or_else(|| "past year 9999".to_owned()),
            ExpiryChoice::Never => Ok(None),
            ExpiryChoice::PickDate => {
                let t = parse_time(&text_of(&self.time))?;
                let at = local_timestamp(self.picker.cursor, t);
                if at <= now {
                    // What is wrong first: beside the field only the start may fit.
                    return Err(format!(
                        "in the past ({}): pick a later time or day",
                        timefmt::local_with_zone(at)
                    ));
                }
                Ok(Some(at))
            }
        }
    }

    /// The new expiry an extend form asks for (`Some(None)`: none), or the field to fix.
    pub fn new_expiry(&mut self, now: Timestamp) -> Option<Option<Timestamp>> {
        self.tried = true;
        if let Some((f, _)) = self.errors(now).first() {
            self.focus = *f;
            return None;
        }
        self.expires_at(now).ok()
    }

    /// Every validation error, by field. Untouched empty fields count only after a submit try.
    pub fn errors(&self, now: Timestamp) -> Vec<(Field, String)> {
        let mut errs = Vec::new();
        if let Purpose::Extend { .. } = self.purpose {
            errs.extend(self.expiry_error(now));
            return errs;
        }
        let name = text_of(&self.name);
        if name.trim().is_empty() {
            if self.tried {
                errs.push((Field::Name, "a name is required".to_owned()));
            }
        } else if name.chars().count() > rules::NAME_MAX {
            errs.push((
                Field::Name,
                format!(
                    "{} characters; at most {}",
                    name.chars().count(),
                    rules::NAME_MAX
                ),
            ));
        } else if name.trim() != name {
            errs.push((Field::Name, "starts or ends with a space".to_owned()));
        } else if let Err(e) = rules::validate_name("the name", &name) {
            errs.push((Field::Name, e));
        }
        let description = text_of(&self.description);
        if description.chars().count() > rules::DESCRIPTION_MAX {
            errs.push((
                Field::Description,
                format!("at most {} characters", rules::DESCRIPTION_MAX),
            ));
        } else if let Err(e) = rules::validate_description(&description) {
            errs.push((Field::Description, e));
        }
        if let Err(e) = parse_labels(&text_of(&self.labels)) {
            errs.push((Field::Labels, e));
        }
        if self.uses == UsesChoice::Count {
            match text_of(&self.count).trim().parse::<u64>() {
                Ok(n) if (1..=MaxUses::MAX_LIMIT).contains(&n) => {}
                _ => errs.push((
                    Field::Count,
                    format!("a whole number from 1 to {}", MaxUses::MAX_LIMIT),
                )),
            }
        }
        errs.extend(self.expiry_error(now));
        errs
    }

    /// What is wrong with the expiry, and in which field, if anything.
    fn expiry_error(&self, now: Timestamp) -> Option<(Field, String)> {
        let e = self.expires_at(now).err()?;
        let f = match self.expiry {
            ExpiryChoice::PickDate if parse_time(&text_of(&self.time)).is_err() => Field::Time,
            ExpiryChoice::PickDate => Field::Date,
            _ => Field::Expiry,
        };
        Some((f, e))
    }

    pub fn error_for(&self, f: Field, now: Timestamp) -> Option<String> {
        self.errors(now)
            .into_iter()
            .find(|(ef, _)| *ef == f)
            .map(|(_, e)| e)
    }

    /// The request, or the first field with an error (focused, so the operator sees it).
    pub fn request(&mut self, now: Timestamp) -> Option<CreateTokenRequest> {
        self.tried = true;
        if let Some((f, _)) = self.errors(now).first() {
            self.focus = *f;
            return None;
        }
        let opt = |t: &TextArea<'_>| {
            let s = text_of(t).trim().to_owned();
            (!s.is_empty()).then_some(s)
        };
        let max_uses = match self.uses {
            UsesChoice::Single => MaxUses::Limited(1),
            UsesChoice::Unlimited => MaxUses::Unlimited,
            UsesChoice::Count => MaxUses::Limited(text_of(&self.count).trim().parse().ok()?),
        };
        let (ttl, expires_at, no_expiry) = match self.expiry {
            ExpiryChoice::After(_, secs) => (Some(DurationValue(secs)), None, false),
            ExpiryChoice::PickDate => (None, self.expires_at(now).ok()?, false),
            ExpiryChoice::Never => (None, None, true),
        };
        Some(CreateTokenRequest {
            name: text_of(&self.name),
            description: opt(&self.description),
            group: opt(&self.group),
            labels: parse_labels(&text_of(&self.labels)).ok()?,
            owner: if self.owner_is_choice() {
                self.owner_pick
                    .checked_sub(1)
                    .and_then(|i| self.members.get(i).cloned())
            } else if self.is_admin {
                opt(&self.owner)
            } else {
                None
            },
            max_uses: Some(max_uses),
            ttl,
            expires_at,
            no_expiry,
            allowed_cidrs: Vec::new(),
            not_before: None,
            tenant: self.tenant.clone(),
        })
    }
}

/// `HH:MM` (24-hour).
pub fn parse_time(s: &str) -> Result<Time, String> {
    let bad = || format!("{:?} is not HH:MM (24-hour)", s.trim());
    let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
    let h: u8 = h.parse().map_err(|_| bad())?;
    let m: u8 = m.parse().map_err(|_| bad())?;
    Time::from_hms(h, m, 0).map_err(|_| bad())
}

/// A local date and time as a timestamp (in the display zone).
pub fn local_timestamp(d: Date, t: Time) -> Timestamp {
    let at = PrimitiveDateTime::new(d, t).assume_offset(timefmt::offset());
    Timestamp(at.unix_timestamp())
}

/// `key=value` pairs separated by commas or spaces.
pub fn parse_labels(s: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for item in s.split([',', ' ']).map(str::trim).filter(|i| !i.is_empty()) {
        let (k, v) = item
            .split_once('=')
            .ok_or_else(|| format!("{item:?} is not key=value"))?;
        let ok = !k.is_empty()
            && k.len() <= rules::NAME_MAX
            && k.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._/-".contains(&b));
        if !ok {
            return Err(format!("label key {k:?}: letters, digits, . _ / - only"));
        }
        if out.insert(k.to_owned(), v.to_owned()).is_some() {
            return Err(format!("label {k} given twice"));
        }
    }
    rules::validate_labels(&out)?;
    Ok(out)
}

// The form as a screen: its keys and its drawing.

pub(super) fn form_key(app: &mut App, ev: KeyEvent, action: Option<Action>) -> Vec<Cmd> {
    let now = app.now;
    let Some(Modal::Form(form)) = &mut app.modal else {
        return Vec::new();
    };
    let on_choice = form.on_choice();
    // Esc on a changed form asks first. The question takes y (or Esc again) and n; other keys
    // wait for an answer and never reach a field (a `y` typed into the name field was taken
    // for an answer by the operator, and for a letter by the form).
    let outcome = if form.discard_asked {
        let plain = !ev
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT);
        match ev.code {
            KeyCode::Char('y' | 'Y') if plain => FormOutcome::Cancel,
            KeyCode::Esc => FormOutcome::Cancel,
            KeyCode::Char('n' | 'N') if plain => {
                form.discard_asked = false;
                FormOutcome::Stay
            }
            // Nothing changes: nothing to draw.
            _ => FormOutcome::Unchanged,
        }
    } else {
        let asked = std::mem::take(&mut form.shorten_asked);
        match form_action(form, ev, action, on_choice) {
            FormOutcome::Submit => {
                form.shorten_asked = asked;
                FormOutcome::Submit
            }
            other => other,
        }
    };
    match outcome {
        FormOutcome::Stay => Vec::new(),
        FormOutcome::Unchanged => {
            app.dirty = false;
            Vec::new()
        }
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
            if let super::form::Purpose::Extend { id, current, .. } = form.purpose.clone() {
                return match form.new_expiry(now) {
                    // Earlier than it expires now: said, and sent only on a second Ctrl-S.
                    Some(Some(new)) if current.is_none_or(|c| new < c) && !form.shorten_asked => {
                        form.shorten_asked = true;
                        Vec::new()
                    }
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

/// What a key does to a form that asks nothing: move, choose, type, submit or cancel.
fn form_action(
    form: &mut CreateForm,
    ev: KeyEvent,
    action: Option<Action>,
    on_choice: bool,
) -> FormOutcome {
    match action {
        Some(Action::Submit) => FormOutcome::Submit,
        Some(Action::Back) if form.changed() => {
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
                match ev.code {
                    KeyCode::Char(' ') if on_choice => form.cycle(1),
                    KeyCode::Char(c) if form.focus == Field::Owner && on_choice => {
                        form.jump_to_member(c)
                    }
                    _ => {}
                }
            } else {
                form.type_key(ev);
            }
            FormOutcome::Stay
        }
    }
}

pub(super) fn draw_form(f: &mut Frame<'_>, area: Rect, app: &App, form: &CreateForm) {
    let th = app.theme;
    let now = app.now;
    let r = centered(area, 100, 26);
    let inner = popup(f, r, &form.title(), th);
    let label_w = 13u16;
    let input_w = 28u16.min(inner.width.saturating_sub(label_w + 1));
    let errors = form.errors(now);
    let err_of = |fl: Field| {
        errors
            .iter()
            .find(|(e, _)| *e == fl)
            .map(|(_, m)| m.clone())
    };
    // The room beside a field with an error (its input keeps the width its values need).
    let beside = |fl: Field| {
        let w = match fl {
            Field::Uses | Field::Expiry => input_w.min(16),
            Field::Date | Field::Time => input_w.min(11),
            Field::Count => input_w.min(12),
            _ => input_w,
        };
        usize::from(inner.width.saturating_sub(label_w + w + 1))
    };
    // What is wrong, beside its field: the whole sentence, else its head (before the details
    // in parentheses), when either fits.
    let inline = |fl: Field, m: &str| {
        let head = m.split(" (").next().unwrap_or(m);
        [format!("✗ {m}"), format!("✗ {head}")]
            .into_iter()
            .find(|t| Span::raw(t.as_str()).width() <= beside(fl))
    };
    // Under the fields, in full and wrapped: the daemon's refusal or the question asked, else
    // the focused field's error (or the first one) and every error cut beside its field (at 60
    // columns most are), so the whole meaning of each shows.
    let width = usize::from(inner.width);
    let mut msg_lines: Vec<Line<'static>> = Vec::new();
    let mut said_below: Vec<Field> = Vec::new();
    let asked = match &form.server_error {
        _ if form.discard_asked => {
            Some("Throw away what you typed? y throws it away, n keeps editing.".to_owned())
        }
        _ if form.shorten_asked => Some(match &form.purpose {
            Purpose::Extend {
                current: Some(c), ..
            } => format!(
                "Earlier than it expires now ({}): Ctrl-S again shortens its life.",
                timefmt::local_with_zone(*c)
            ),
            _ => "It never expires now: Ctrl-S again gives it this expiry.".to_owned(),
        }),
        Some(e) => Some(format!("Not created: {e}")),
        None => None,
    };
    if let Some(m) = asked {
        hanging(&mut msg_lines, Span::raw(""), &m, width);
    } else {
        let first = if err_of(form.focus).is_some() {
            form.focus
        } else {
            errors.first().map_or(form.focus, |(fl, _)| *fl)
        };
        let mut ordered: Vec<&(Field, String)> = errors.iter().filter(|e| e.0 == first).collect();
        ordered.extend(
            errors
                .iter()
                .filter(|e| e.0 != first && inline(e.0, &e.1).is_none()),
        );
        for (fl, m) in ordered {
            hanging(
                &mut msg_lines,
                Span::raw(format!("{}: ", fl.label())),
                m,
                width,
            );
            said_below.push(*fl);
        }
    }
    // An extend form says from the start when the token expires now, above the choice.
    let current = match &form.purpose {
        Purpose::Extend { current, .. } => Some(*current),
        _ => None,
    };
    let head_h = u16::from(current.is_some());
    if let Some(current) = current {
        let room = usize::from(inner.width.saturating_sub(label_w));
        let text = match current {
            Some(at) => current_expiry(at, now, room),
            None => "never".to_owned(),
        };
        f.render_widget(
            Paragraph::new(Line::from(vec![
                Span::raw(format!(" {:<12}", "Expires now")),
                Span::styled(text, th.dim()),
            ])),
            Rect::new(inner.x, inner.y, inner.width, 1.min(inner.height)),
        );
    }
    // Each field's height (the date carries its calendar).
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
    // Bottom: the keys, and above them those lines, in the rows the fields leave (two at least,
    // the first message's; the extend form's calendar and time fit at 60×15).
    let field_rows: u16 = rows.iter().map(|(_, h)| h).sum();
    let spare = inner.height.saturating_sub(1 + head_h + field_rows).max(2);
    let msg_h = (msg_lines.len() as u16).min(spare);
    let fields_h = inner.height.saturating_sub(1 + msg_h + head_h);
    // Scroll so the focused field shows.
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
        let y = inner.y + head_h + start - offset;
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
        let owner_choice = fl == Field::Owner && form.owner_is_choice();
        let wide = matches!(
            fl,
            Field::Name | Field::Description | Field::Group | Field::Labels | Field::Owner
        ) && err_of(fl).is_none()
            && !owner_choice;
        // The others take what their values need, so the room beside them (errors, the
        // expiry's preview) stays wide enough for its text at 60 columns.
        let input_w = match fl {
            _ if wide => inner.width.saturating_sub(label_w),
            Field::Uses | Field::Expiry => input_w.min(16),
            // As wide as the longest name it can show (up to the usual width).
            Field::Owner => {
                let longest = form
                    .members
                    .iter()
                    .map(|m| unicode_width::UnicodeWidthStr::width(m.as_str()))
                    .max()
                    .unwrap_or(0);
                input_w.min((longest.max(3) + 4) as u16)
            }
            Field::Date | Field::Time => input_w.min(11),
            Field::Count => input_w.min(12),
            _ => input_w,
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
            Field::Owner if owner_choice => {
                choice(f, field_area, th, fl_focused, form.owner_label())
            }
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
        let room = usize::from(rest.width);
        if let Some(m) = err_of(fl) {
            // Cut beside the field only when the lines under the fields could not say it all.
            let text = inline(fl, &m).unwrap_or_else(|| {
                if said_below.contains(&fl) {
                    first_fitting(&["✗ see below".to_owned(), "✗".to_owned()], room)
                } else {
                    elide(&format!("✗ {m}"), room)
                }
            });
            f.render_widget(Paragraph::new(Span::styled(text, th.error())), rest);
        } else if owner_choice {
            // What there is to choose from.
            let n = form.members.len();
            let text = format!("←/→: you or {n} member{}", if n == 1 { "" } else { "s" });
            f.render_widget(
                Paragraph::new(Span::styled(elide(&text, room), th.dim())),
                rest,
            );
        } else if fl == Field::Expiry {
            let text = match form.expires_at(now) {
                Ok(Some(at)) => expiry_preview(at, now, room),
                Ok(None) => "→ never expires".to_owned(),
                Err(_) => String::new(),
            };
            f.render_widget(Paragraph::new(Span::styled(text, th.ok())), rest);
        }
    }
    let bottom = inner.y + inner.height;
    if msg_h > 0 {
        msg_lines.truncate(usize::from(msg_h));
        f.render_widget(
            Paragraph::new(msg_lines).style(th.error()),
            Rect::new(
                inner.x,
                bottom.saturating_sub(1 + msg_h),
                inner.width,
                msg_h,
            ),
        );
    }
    let last = Rect::new(inner.x, bottom.saturating_sub(1), inner.width, 1);
    if form.busy {
        f.render_widget(Paragraph::new(Span::styled("Creating…", th.dim())), last);
    } else if form.discard_asked {
        let pairs = [("y", "throw away", true), ("n", "keep editing", true)];
        f.render_widget(Paragraph::new(hints_line(&pairs, th, inner.width)), last);
    } else {
        let mut pairs = keymap::footer(app.ctx(), View::Tokens, false);
        // Ctrl-S saves the new expiry of an extend form; it creates nothing.
        if let Purpose::Extend { .. } = form.purpose {
            for p in &mut pairs {
                if p.1 == "create" {
                    p.1 = "save";
                }
            }
        }
        f.render_widget(Paragraph::new(hints_line(&pairs, th, inner.width)), last);
    }
}

/// The first of `texts` that fits in `cols` columns, else the last one cut with "…".
fn first_fitting(texts: &[String], cols: usize) -> String {
    texts
        .iter()
        .find(|t| Span::raw(t.as_str()).width() <= cols)
        .cloned()
        .unwrap_or_else(|| elide(texts.last().map_or("", String::as_str), cols))
}

/// The new expiry as the form shows it beside the choice, in the room there is: the relative
/// time gives way first, then the weekday; the date, the time and the zone stay.
pub(super) fn expiry_preview(at: Timestamp, now: Timestamp, cols: usize) -> String {
    let full = timefmt::local_with_zone(at);
    let short = timefmt::local_with_zone_no_weekday(at);
    first_fitting(
        &[
            format!("→ {full} ({})", output::when(Some(at), now, "")),
            format!("→ {full}"),
            format!("→ {short}"),
        ],
        cols,
    )
}

/// When the token expires now, as an extend form shows it above the choice: the time left
/// gives way first, then the weekday.
fn current_expiry(at: Timestamp, now: Timestamp, cols: usize) -> String {
    let full = timefmt::local_with_zone(at);
    let short = timefmt::local_with_zone_no_weekday(at);
    first_fitting(
        &[
            format!("{full} ({})", output::expiry(Some(at), now)),
            full,
            short,
        ],
        cols,
    )
}

pub(super) fn choice(f: &mut Frame<'_>, area: Rect, th: Theme, focused: bool, label: &str) {
    let style = if focused { th.selected() } else { Style::new() };
    f.render_widget(
        Paragraph::new(Span::styled(format!("‹ {label} ›"), style)),
        area,
    );
}

pub(super) fn calendar_lines(form: &CreateForm, focused: bool, th: Theme) -> Vec<Line<'static>> {
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

#[cfg(test)]
mod tests {
    use super::*;

    use crate::console::fixtures::{app, ch, ctrl, key};
    use crossterm::event::{KeyCode, KeyModifiers};
    use time::macros::date;

    const NOW: Timestamp = Timestamp(1_795_626_000); // 2026-11-25T14:20:00Z

    fn typed(form: &mut CreateForm, s: &str) {
        for c in s.chars() {
            form.type_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
        }
    }

    #[test]
    fn a_single_use_token_for_a_picked_date() {
        let mut f = CreateForm::new(NOW, false, true, 86_400);
        assert_eq!(f.fields().first(), Some(&Field::Name));
        assert!(
            !f.fields().contains(&Field::Owner),
            "operators name no owner"
        );
        typed(&mut f, "web-rollout");
        f.focus = Field::Labels;
        typed(&mut f, "env=prod, team=web");
        f.focus = Field::Expiry;
        while f.expiry != ExpiryChoice::PickDate {
            f.cycle(1);
        }
        assert!(f.fields().ends_with(&[Field::Date, Field::Time]));
        f.picker.cursor = date!(2026 - 12 - 24);
        f.focus = Field::Time;
        f.time = field("", "");
        typed(&mut f, "18:30");
        let req = f.request(NOW).expect("valid");
        assert_eq!(req.name, "web-rollout");
        assert_eq!(req.max_uses, Some(MaxUses::Limited(1)));
        assert_eq!(
            req.expires_at.map(|t| t.to_rfc3339()).as_deref(),
            Some("2026-12-24T18:30:00Z")
        );
        assert_eq!(req.labels.len(), 2);
        assert_eq!(req.ttl, None);
    }

    #[test]
    fn errors_are_inline_and_focus_the_first_bad_field() {
        let mut f = CreateForm::new(NOW, true, false, 86_400);
        assert!(f.errors(NOW).is_empty(), "nothing typed: no nagging yet");
        f.focus = Field::Labels;
        typed(&mut f, "oops");
        f.uses = UsesChoice::Count;
        f.count = field("", "0");
        assert!(f.request(NOW).is_none());
        assert_eq!(f.focus, Field::Name);
        let errs = f.errors(NOW);
        let fields: Vec<Field> = errs.iter().map(|(f, _)| *f).collect();
        assert_eq!(fields, [Field::Name, Field::Labels, Field::Count]);
        assert!(!f.expiry_choices().contains(&ExpiryChoice::Never));
    }

    #[test]
    fn a_time_in_the_past_today_is_refused() {
        let mut f = CreateForm::new(NOW, false, true, 3600);
        assert_eq!(f.expiry, ExpiryChoice::After("1h", 3600));
        f.expiry = ExpiryChoice::PickDate;
        f.picker.go_today();
        f.time = field("", "09:00");
        assert!(f.expires_at(NOW).unwrap_err().contains("in the past"));
        f.time = field("", "25:00");
        assert!(f.expires_at(NOW).unwrap_err().contains("HH:MM"));
        f.time = field("", "23:59");
        assert!(f.expires_at(NOW).unwrap().is_some());
    }

    #[test]
    fn fields_keep_a_shells_editing_keys() {
        let key = |c: char, m: KeyModifiers| KeyEvent::new(KeyCode::Char(c), m);
        let mut f = CreateForm::new(NOW, false, true, 86_400);
        f.focus = Field::Labels;
        // Ctrl-U wipes what is before the cursor (the trial typed `planplan=gold`).
        typed(&mut f, "plan");
        f.type_key(key('u', KeyModifiers::CONTROL));
        typed(&mut f, "plan=gold");
        assert_eq!(text_of(&f.labels), "plan=gold");
        // Ctrl-W the word before the cursor, Ctrl-A/E the ends, Ctrl-K the rest of the line.
        typed(&mut f, " tier=one");
        f.type_key(key('w', KeyModifiers::CONTROL));
        assert_eq!(text_of(&f.labels), "plan=gold tier=");
        f.type_key(key('a', KeyModifiers::CONTROL));
        typed(&mut f, "x");
        f.type_key(key('e', KeyModifiers::CONTROL));
        typed(&mut f, "2");
        assert_eq!(text_of(&f.labels), "xplan=gold tier=2");
        f.type_key(key('a', KeyModifiers::CONTROL));
        f.type_key(key('f', KeyModifiers::ALT));
        f.type_key(key('k', KeyModifiers::CONTROL));
        assert_eq!(text_of(&f.labels), "xplan");
        f.type_key(key('b', KeyModifiers::ALT));
        f.type_key(key('d', KeyModifiers::ALT));
        assert_eq!(text_of(&f.labels), "");
    }

    #[test]
    fn a_form_knows_whether_it_was_changed() {
        let mut f = CreateForm::new(NOW, false, true, 86_400);
        assert!(!f.changed());
        f.focus = Field::Expiry;
        f.cycle(1);
        assert!(f.changed());
        f.cycle(-1);
        assert!(!f.changed());
        f.focus = Field::Name;
        typed(&mut f, "x");
        assert!(f.changed());
    }

    /// The README lists the expiry choices in the order ←/→ cycles them (it listed "no
    /// expiry" before "pick a date").
    #[test]
    fn the_readme_lists_the_expiry_presets_in_the_order_they_cycle() {
        let f = CreateForm::new(NOW, false, true, 86_400);
        let order: Vec<&str> = f.expiry_choices().iter().map(|c| c.label()).collect();
        let readme = include_str!("../../../README.md")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let listed = format!("in this order: {} —", order.join(", "));
        assert!(
            readme.contains(&listed),
            "the README does not say {listed:?}"
        );
    }

    /// A clone of a token that lives 10 days (no preset) lives 10 days: the picked date and
    /// time that far from now (it fell back to the daemon's default).
    #[test]
    fn a_clone_keeps_a_lifetime_no_preset_matches() {
        let mut t = crate::console::fixtures::token("ten-days", 0);
        t.created_at = Timestamp(NOW.0 - 7_200);
        t.expires_at = Some(Timestamp(NOW.0 - 7_200 + 10 * 86_400));
        let mut f = CreateForm::new(NOW, false, true, 3 * 86_400).clone_of(&t, NOW);
        assert_eq!(f.expiry, ExpiryChoice::PickDate);
        assert!(!f.changed());
        typed(&mut f, "ten-days-2");
        let req = f.request(NOW).expect("a request");
        assert_eq!(req.ttl, None);
        assert_eq!(req.expires_at, Some(Timestamp(NOW.0 + 10 * 86_400)));
        // A lifetime that is a preset stays that preset.
        t.expires_at = Some(Timestamp(t.created_at.0 + 14 * 86_400));
        let f = CreateForm::new(NOW, false, true, 3 * 86_400).clone_of(&t, NOW);
        assert_eq!(f.expiry, ExpiryChoice::After("14d", 14 * 86_400));
    }

    #[test]
    fn labels_parse_or_say_why() {
        assert_eq!(parse_labels("").unwrap().len(), 0);
        assert_eq!(parse_labels("a=1 b=2,c=").unwrap().len(), 3);
        assert!(parse_labels("a").unwrap_err().contains("key=value"));
        assert!(parse_labels("a=1,a=2").unwrap_err().contains("twice"));
        assert!(parse_labels("bad key=1").is_err());
    }

    #[test]
    fn ctrl_u_in_a_form_field_clears_what_was_typed() {
        let mut a = app();
        ch(&mut a, 'n');
        key(&mut a, KeyCode::Tab);
        key(&mut a, KeyCode::Tab);
        key(&mut a, KeyCode::Tab);
        crate::console::fixtures::typed(&mut a, "plan");
        ctrl(&mut a, 'u');
        crate::console::fixtures::typed(&mut a, "plan=gold");
        let Some(crate::console::app::Modal::Form(f)) = &a.modal else {
            panic!("no form");
        };
        assert_eq!(crate::console::form::text_of(&f.labels), "plan=gold");
    }

    /// The form mints in the tenant shown; an admin there picks the owner among its members,
    /// an operator mints for themselves (no owner field).
    #[test]
    fn the_form_mints_in_the_tenant_for_a_member() {
        use crate::console::app::{Cmd, Modal};
        let submit = |a: &mut crate::console::app::App| {
            crate::console::app::update(
                a,
                crate::console::app::Msg::Key(KeyEvent::new(
                    KeyCode::Char('s'),
                    KeyModifiers::CONTROL,
                )),
            )
        };
        let mut a = crate::console::fixtures::tenants_app();
        ch(&mut a, 'T');
        key(&mut a, KeyCode::Down);
        key(&mut a, KeyCode::Enter);
        ch(&mut a, 'n');
        crate::console::fixtures::typed(&mut a, "acme-web");
        let Some(Modal::Form(f)) = &mut a.modal else {
            panic!("no form");
        };
        // alice herself is "you"; the others are the choices, in the daemon's order.
        assert_eq!(f.members, ["bob", "carol", "dave"]);
        f.focus = Field::Owner;
        ch(&mut a, 'd');
        let Some(Modal::Form(f)) = &a.modal else {
            panic!("no form");
        };
        assert_eq!(f.owner_label(), "dave");
        key(&mut a, KeyCode::Left);
        let cmds = submit(&mut a);
        let [Cmd::Create(req)] = cmds.as_slice() else {
            panic!("{cmds:?}");
        };
        assert_eq!(req.tenant.as_deref(), Some("acme"));
        assert_eq!(req.owner.as_deref(), Some("carol"));
        // An operator in globex: no owner to choose, the token is theirs.
        let mut a = crate::console::fixtures::tenants_app();
        ch(&mut a, 'T');
        key(&mut a, KeyCode::Down);
        key(&mut a, KeyCode::Down);
        key(&mut a, KeyCode::Enter);
        ch(&mut a, 'n');
        crate::console::fixtures::typed(&mut a, "globex-web");
        let Some(Modal::Form(f)) = &a.modal else {
            panic!("no form");
        };
        assert!(!f.fields().contains(&Field::Owner));
        let cmds = submit(&mut a);
        let [Cmd::Create(req)] = cmds.as_slice() else {
            panic!("{cmds:?}");
        };
        assert_eq!(req.tenant.as_deref(), Some("globex"));
        assert_eq!(req.owner, None);
    }
}
