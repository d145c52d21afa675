//! The lists behind every view: rows kept by id, a visible order (filtered, then sorted) rebuilt
//! only when something changed, and a selection bound to a row's id rather than its position,
//! so a refresh, a live change or a re-sort never moves the operator to another row.

use std::cell::Cell;
use std::cmp::Ordering;
use std::collections::HashMap;

use gatepass_protocol::{ApiToken, AuditEvent, Host, SortColumn, Timestamp, Token, TokenStatus};

use super::timefmt;
use crate::output;

/// A row type the console lists.
pub trait Row: Clone {
    /// Column headings, in display order.
    const COLUMNS: &'static [&'static str];
    /// The column sorted by when the view opens, and whether descending.
    const DEFAULT_SORT: (usize, bool);
    fn id(&self) -> &str;
    /// The text of one cell.
    fn cell(&self, col: usize, now: Timestamp) -> String;
    /// Total order on one column (ties broken so the order is stable across refreshes).
    fn compare(&self, other: &Self, col: usize) -> Ordering;
    /// The lower-case text the filter searches.
    fn haystack(&self) -> String;
    /// Whether the row passes a status filter (only tokens have statuses).
    fn passes(&self, _filter: StatusFilter, _now: Timestamp) -> bool {
        true
    }
}

/// The status filter of the token view (`f`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StatusFilter {
    #[default]
    All,
    Is(TokenStatus),
    /// Active and expiring within a day.
    ExpiringSoon,
    /// Never redeemed.
    NeverUsed,
}

/// What "expiring soon" means: active with less than this many seconds left.
pub const EXPIRING_SOON_SECS: i64 = 24 * 3600;

impl StatusFilter {
    pub const ALL: [StatusFilter; 8] = [
        StatusFilter::All,
        StatusFilter::Is(TokenStatus::Active),
        StatusFilter::Is(TokenStatus::Disabled),
        StatusFilter::Is(TokenStatus::Expired),
        StatusFilter::Is(TokenStatus::Exhausted),
        StatusFilter::Is(TokenStatus::Revoked),
        StatusFilter::ExpiringSoon,
        StatusFilter::NeverUsed,
    ];

    pub fn label(self) -> &'static str {
        match self {
            StatusFilter::All => "all",
            StatusFilter::Is(TokenStatus::Active) => "active",
            StatusFilter::Is(TokenStatus::Disabled) => "disabled",
            StatusFilter::Is(TokenStatus::Expired) => "expired",
            StatusFilter::Is(TokenStatus::Exhausted) => "used up",
            StatusFilter::Is(TokenStatus::Revoked) => "revoked",
            StatusFilter::ExpiringSoon => "expiring soon (< 24h)",
            StatusFilter::NeverUsed => "never used",
        }
    }
}

/// One view's rows, order, filter and selection.
#[derive(Debug)]
pub struct Table<T> {
    rows: Vec<T>,
    hay: Vec<String>,
    pos: HashMap<String, usize>,
    /// Indices into `rows`: the filtered, sorted order on screen.
    visible: Vec<usize>,
    pub sort: usize,
    pub desc: bool,
    filter: String,
    pub status: StatusFilter,
    selected: Option<String>,
    cursor: usize,
    /// First row drawn: a drawing concern, kept so scrolling is stable between frames.
    pub offset: Cell<usize>,
    stale: bool,
    /// Whether the daemon has answered at least once (empty vs. not loaded yet).
    pub loaded: bool,
}

impl<T: Row> Default for Table<T> {
    fn default() -> Self {
        Table {
            rows: Vec::new(),
            hay: Vec::new(),
            pos: HashMap::new(),
            visible: Vec::new(),
            sort: T::DEFAULT_SORT.0,
            desc: T::DEFAULT_SORT.1,
            filter: String::new(),
            status: StatusFilter::All,
            selected: None,
            cursor: 0,
            offset: Cell::new(0),
            stale: false,
            loaded: false,
        }
    }
}

impl<T: Row> Table<T> {
    /// Replaces every row (a full load); the selection stays on its id when it still exists.
    pub fn set_rows(&mut self, rows: Vec<T>) {
        self.hay = rows.iter().map(Row::haystack).collect();
        self.pos = rows
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id().to_owned(), i))
            .collect();
        self.rows = rows;
        self.loaded = true;
        self.stale = true;
    }

    /// Adds a row or replaces the one with the same id.
    pub fn upsert(&mut self, row: T) {
        let hay = row.haystack();
        match self.pos.get(row.id()) {
            Some(&i) => {
                self.rows[i] = row;
                self.hay[i] = hay;
            }
            None => {
                self.pos.insert(row.id().to_owned(), self.rows.len());
                self.rows.push(row);
                self.hay.push(hay);
            }
        }
        self.stale = true;
    }

    /// Removes the row with this id, if present.
    pub fn remove(&mut self, id: &str) {
        let Some(i) = self.pos.remove(id) else {
            return;
        };
        self.rows.swap_remove(i);
        self.hay.swap_remove(i);
        if let Some(moved) = self.rows.get(i) {
            self.pos.insert(moved.id().to_owned(), i);
        }
        self.stale = true;
    }

    pub fn get(&self, id: &str) -> Option<&T> {
        self.pos.get(id).map(|&i| &self.rows[i])
    }

    /// Changes every row `pred` picks; true when there was one (the order is rebuilt then).
    pub fn update_where(&mut self, pred: impl Fn(&T) -> bool, f: impl Fn(&mut T)) -> bool {
        let mut any = false;
        for r in self.rows.iter_mut().filter(|r| pred(r)) {
            f(r);
            any = true;
        }
        self.stale |= any;
        any
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn filter(&self) -> &str {
        &self.filter
    }

    pub fn set_filter(&mut self, text: &str) {
        if self.filter != text {
            self.filter = text.to_owned();
            self.stale = true;
        }
    }

    pub fn set_status(&mut self, status: StatusFilter) {
        self.status = status;
        self.stale = true;
    }

    /// Sorts by `col`; the current column again flips the direction.
    pub fn sort_by(&mut self, col: usize) {
        if col == self.sort {
            self.desc = !self.desc;
        } else {
            self.sort = col;
            self.desc = false;
        }
        self.stale = true;
    }

    pub fn is_stale(&self) -> bool {
        self.stale
    }

    /// Rebuilds the visible order if anything changed; keeps the selection on its id (or, when
    /// that row left the view, on the row now at the same position).
    pub fn refresh(&mut self, now: Timestamp) {
        if !self.stale {
            return;
        }
        self.stale = false;
        let needle = self.filter.to_lowercase();
        let rows = &self.rows;
        let hay = &self.hay;
        let status = self.status;
        let mut visible: Vec<usize> = (0..rows.len())
            .filter(|&i| needle.is_empty() || hay[i].contains(&needle))
            .filter(|&i| status == StatusFilter::All || rows[i].passes(status, now))
            .collect();
        let col = self.sort;
        if self.desc {
            visible.sort_unstable_by(|&a, &b| rows[b].compare(&rows[a], col));
        } else {
            visible.sort_unstable_by(|&a, &b| rows[a].compare(&rows[b], col));
        }
        self.visible = visible;
        let found = self.selected.as_deref().and_then(|id| {
            let i = *self.pos.get(id)?;
            self.visible.iter().position(|&v| v == i)
        });
        match found {
            Some(p) => self.cursor = p,
            None => {
                self.cursor = self.cursor.min(self.visible.len().saturating_sub(1));
                self.remember();
            }
        }
    }

    fn remember(&mut self) {
        self.selected = self
            .visible
            .get(self.cursor)
            .map(|&i| self.rows[i].id().to_owned());
    }

    /// The rows on screen, in order.
    pub fn visible_len(&self) -> usize {
        self.visible.len()
    }

    pub fn visible_row(&self, n: usize) -> Option<&T> {
        self.visible.get(n).map(|&i| &self.rows[i])
    }

    pub fn cursor(&self) -> usize {
        self.cursor
    }

    pub fn selected(&self) -> Option<&T> {
        self.visible_row(self.cursor)
    }

    pub fn selected_id(&self) -> Option<&str> {
        self.selected.as_deref()
    }

    /// Moves the cursor by `delta` rows, clamped to the list.
    pub fn move_by(&mut self, delta: isize) {
        if self.visible.is_empty() {
            return;
        }
        let last = self.visible.len() - 1;
        self.cursor = self.cursor.saturating_add_signed(delta).min(last);
        self.remember();
    }

    pub fn home(&mut self) {
        self.cursor = 0;
        self.remember();
    }

    pub fn end(&mut self) {
        self.cursor = self.visible.len().saturating_sub(1);
        self.remember();
    }

    /// Selects the n-th visible row (a mouse click).
    pub fn select_visible(&mut self, n: usize) {
        if n < self.visible.len() {
            self.cursor = n;
            self.remember();
        }
    }

    /// Selects a row by id (it shows once the next refresh runs).
    pub fn select_id(&mut self, id: &str) {
        self.selected = Some(id.to_owned());
        self.stale = true;
    }

    /// The first row to draw so the cursor shows in a body of `height` rows.
    pub fn scroll_for(&self, height: usize) -> usize {
        let height = height.max(1);
        let mut off = self.offset.get();
        if self.cursor < off {
            off = self.cursor;
        } else if self.cursor >= off + height {
            off = self.cursor + 1 - height;
        }
        off = off.min(self.visible.len().saturating_sub(height));
        self.offset.set(off);
        off
    }
}

fn text(s: &Option<String>) -> String {
    s.clone().unwrap_or_else(|| "-".into())
}

const TOKEN_SORT: [SortColumn; 8] = [
    SortColumn::Name,
    SortColumn::Status,
    SortColumn::Uses,
    SortColumn::LastUsed,
    SortColumn::Group,
    SortColumn::Owner,
    SortColumn::Expires,
    SortColumn::Description,
];

/// The USES cell: `3/10`, `7/∞`, flagged with `!` when the enrolled hosts differ (removed hosts).
pub fn uses_cell(t: &Token) -> String {
    let max = match t.max_uses {
        gatepass_protocol::MaxUses::Unlimited => "∞".to_owned(),
        gatepass_protocol::MaxUses::Limited(n) => n.to_string(),
    };
    let flag = if output::counts_differ(t) { " !" } else { "" };
    format!("{}/{max}{flag}", t.uses)
}

impl Row for Token {
    const COLUMNS: &'static [&'static str] = &[
        "NAME",
        "STATUS",
        "USES",
        "LAST USED",
        "GROUP",
        "OWNER",
        "EXPIRES",
        "DESCRIPTION",
    ];
    // Newest first would need CREATED; by name is what operators scan.
    const DEFAULT_SORT: (usize, bool) = (0, false);

    fn id(&self) -> &str {
        &self.id
    }

    fn cell(&self, col: usize, now: Timestamp) -> String {
        match col {
            0 => self.name.clone(),
            1 => status_word(self.status).to_owned(),
            2 => uses_cell(self),
            3 => output::when(self.last_used_at, now, "never"),
            4 => text(&self.group),
            5 => self.owner.clone(),
            6 => output::when(self.expires_at, now, "never"),
            _ => self.description.clone(),
        }
    }

    fn compare(&self, other: &Self, col: usize) -> Ordering {
        TOKEN_SORT
            .get(col)
            .copied()
            .unwrap_or_default()
            .compare(self, other)
    }

    fn haystack(&self) -> String {
        let mut s = format!(
            "{} {} {} {} {} {}",
            self.name,
            self.id,
            self.description,
            self.group.as_deref().unwrap_or(""),
            self.owner,
            self.status.as_str()
        );
        for (k, v) in &self.labels {
            s.push_str(&format!(" {k}={v}"));
        }
        s.to_lowercase()
    }

    fn passes(&self, filter: StatusFilter, now: Timestamp) -> bool {
        match filter {
            StatusFilter::All => true,
            StatusFilter::Is(s) => self.status == s,
            StatusFilter::ExpiringSoon => {
                self.status == TokenStatus::Active
                    && self
                        .expires_at
                        .is_some_and(|e| e.0 - now.0 < EXPIRING_SOON_SECS)
            }
            StatusFilter::NeverUsed => self.uses == 0,
        }
    }
}

/// The status as the console writes it ("used up" reads better than "exhausted").
pub fn status_word(s: TokenStatus) -> &'static str {
    match s {
        TokenStatus::Exhausted => "used up",
        other => other.as_str(),
    }
}

impl Row for Host {
    const COLUMNS: &'static [&'static str] = &[
        "HOSTNAME", "TOKEN", "GROUP", "OWNER", "SOURCE", "ENROLLED", "ID",
    ];
    const DEFAULT_SORT: (usize, bool) = (5, true);

    fn id(&self) -> &str {
        &self.id
    }

    fn cell(&self, col: usize, now: Timestamp) -> String {
        match col {
            0 => self.hostname.clone(),
            1 => self.token_name.clone(),
            2 => text(&self.group),
            3 => self.owner.clone(),
            4 => self.source_addr.clone(),
            5 => output::when(Some(self.enrolled_at), now, "-"),
            _ => self.id.clone(),
        }
    }

    fn compare(&self, o: &Self, col: usize) -> Ordering {
        let primary = match col {
            0 => self.hostname.cmp(&o.hostname),
            1 => self.token_name.cmp(&o.token_name),
            2 => self.group.cmp(&o.group),
            3 => self.owner.cmp(&o.owner),
            4 => self.source_addr.cmp(&o.source_addr),
            5 => self.enrolled_at.cmp(&o.enrolled_at),
            _ => Ordering::Equal,
        };
        primary.then_with(|| self.id.cmp(&o.id))
    }

    fn haystack(&self) -> String {
        format!(
            "{} {} {} {} {} {}",
            self.hostname,
            self.token_name,
            self.group.as_deref().unwrap_or(""),
            self.owner,
            self.source_addr,
            self.id
        )
        .to_lowercase()
    }
}

impl Row for AuditEvent {
    const COLUMNS: &'static [&'static str] =
        &["SEQ", "TIME", "ACTOR", "ACTION", "TARGET", "DETAILS"];
    const DEFAULT_SORT: (usize, bool) = (0, true);

    fn id(&self) -> &str {
        // Audit events are keyed by their hash-chain position; `prev_hash` is unique per event.
        &self.prev_hash
    }

    fn cell(&self, col: usize, _now: Timestamp) -> String {
        match col {
            0 => self.seq.to_string(),
            1 => timefmt::local(self.at),
            2 => self.actor.clone(),
            3 => self.action.clone(),
            _ => {
                let row = output::audit_row(self);
                row.get(col).cloned().unwrap_or_default()
            }
        }
    }

    fn compare(&self, o: &Self, col: usize) -> Ordering {
        let primary = match col {
            1 => self.at.cmp(&o.at),
            2 => self.actor.cmp(&o.actor),
            3 => self.action.cmp(&o.action),
            4 => self.target_name.cmp(&o.target_name),
            _ => Ordering::Equal,
        };
        primary.then_with(|| self.seq.cmp(&o.seq))
    }

    fn haystack(&self) -> String {
        output::audit_row(self).join(" ").to_lowercase()
    }
}

impl Row for ApiToken {
    const COLUMNS: &'static [&'static str] = &[
        "NAME", "USER", "EXPIRES", "PATH", "REFERRER", "REMARK", "CREATED",
    ];
    const DEFAULT_SORT: (usize, bool) = (0, false);

    fn id(&self) -> &str {
        &self.id
    }

    fn cell(&self, col: usize, now: Timestamp) -> String {
        match col {
            0 => self.name.clone(),
            1 => self.user.clone(),
            2 => output::when(Some(self.expires_at), now, "-"),
            3 => text(&self.path_prefix),
            4 => text(&self.referrer),
            5 => self.remark.clone(),
            _ => output::when(Some(self.created_at), now, "-"),
        }
    }

    fn compare(&self, o: &Self, col: usize) -> Ordering {
        let primary = match col {
            0 => self.name.cmp(&o.name),
            1 => self.user.cmp(&o.user),
            2 => self.expires_at.cmp(&o.expires_at),
            3 => self.path_prefix.cmp(&o.path_prefix),
            4 => self.referrer.cmp(&o.referrer),
            5 => self.remark.cmp(&o.remark),
            _ => self.created_at.cmp(&o.created_at),
        };
        primary.then_with(|| self.id.cmp(&o.id))
    }

    fn haystack(&self) -> String {
        format!(
            "{} {} {} {}",
            self.name,
            self.user,
            self.remark,
            self.path_prefix.as_deref().unwrap_or("")
        )
        .to_lowercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::fixtures::token;

    fn ids(t: &Table<Token>) -> Vec<String> {
        (0..t.visible_len())
            .map(|i| t.visible_row(i).map(|r| r.name.clone()).unwrap_or_default())
            .collect()
    }

    #[test]
    fn the_selection_follows_its_id_through_sorts_and_updates() {
        let now = Timestamp(1_000_000);
        let mut t: Table<Token> = Table::default();
        t.set_rows(vec![token("b", 1), token("a", 5), token("c", 3)]);
        t.refresh(now);
        assert_eq!(ids(&t), ["a", "b", "c"]);
        t.move_by(1);
        assert_eq!(t.selected().map(|r| r.name.as_str()), Some("b"));
        // Sort by uses, descending: b moves to the bottom and stays selected.
        t.sort_by(2);
        t.sort_by(2);
        t.refresh(now);
        assert_eq!(ids(&t), ["a", "c", "b"]);
        assert_eq!(t.selected().map(|r| r.name.as_str()), Some("b"));
        // A live change that moves b to the top keeps it selected.
        let mut b = token("b", 1);
        b.uses = 9;
        t.upsert(b);
        t.refresh(now);
        assert_eq!(ids(&t), ["b", "a", "c"]);
        assert_eq!(t.cursor(), 0);
        // A new row does not steal the selection.
        t.upsert(token("d", 7));
        t.refresh(now);
        assert_eq!(t.selected().map(|r| r.name.as_str()), Some("b"));
        // Removing the selected row selects the one now at its place.
        t.remove(&token("b", 0).id);
        t.refresh(now);
        assert_eq!(ids(&t), ["d", "a", "c"]);
        assert_eq!(t.selected().map(|r| r.name.as_str()), Some("d"));
    }

    #[test]
    fn filters_combine_text_and_status() {
        let now = Timestamp(1_000_000);
        let mut t: Table<Token> = Table::default();
        let mut soon = token("web-soon", 0);
        soon.expires_at = Some(Timestamp(now.0 + 3600));
        let mut later = token("web-later", 2);
        later.expires_at = Some(Timestamp(now.0 + 3 * 86_400));
        let mut revoked = token("db-old", 1);
        revoked.status = TokenStatus::Revoked;
        t.set_rows(vec![soon, later, revoked]);
        t.set_filter("WEB-");
        t.refresh(now);
        assert_eq!(ids(&t), ["web-later", "web-soon"]);
        t.set_status(StatusFilter::ExpiringSoon);
        t.refresh(now);
        assert_eq!(ids(&t), ["web-soon"]);
        t.set_filter("");
        t.set_status(StatusFilter::NeverUsed);
        t.refresh(now);
        assert_eq!(ids(&t), ["web-soon"]);
        t.set_status(StatusFilter::Is(TokenStatus::Revoked));
        t.refresh(now);
        assert_eq!(ids(&t), ["db-old"]);
        // Labels are searchable too.
        t.set_status(StatusFilter::All);
        t.set_filter("env=prod");
        t.refresh(now);
        assert_eq!(t.visible_len(), 3);
    }

    #[test]
    fn scrolling_keeps_the_cursor_on_screen() {
        let now = Timestamp(1_000_000);
        let mut t: Table<Token> = Table::default();
        t.set_rows((0..100).map(|i| token(&format!("t{i:03}"), i)).collect());
        t.refresh(now);
        assert_eq!(t.scroll_for(10), 0);
        t.move_by(15);
        assert_eq!(t.scroll_for(10), 6);
        t.end();
        assert_eq!(t.scroll_for(10), 90);
        t.move_by(-95);
        assert_eq!(t.scroll_for(10), 4);
        t.move_by(-5);
        assert_eq!(t.cursor(), 0);
    }
}
