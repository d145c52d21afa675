//! The lists behind every view: rows kept by id, a visible order (filtered, then sorted) rebuilt
//! only when something changed, and a selection bound to a row's id rather than its position,
//! so a refresh, a live change or a re-sort never moves the operator to another row.

use std::cell::Cell;
use std::cmp::Ordering;
use std::collections::HashMap;

use gatepass_protocol::text::{text_order, text_prefix};
use gatepass_protocol::{ApiToken, AuditEvent, Host, Timestamp, Token, TokenStatus};

use super::timefmt;
use crate::output;

/// A sort key: one column's value, cheap to compare (no row is touched while sorting). Texts
/// sort as the daemon's lists do ([`text_order`]: A–Z as a–z).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey<'a> {
    Int(i64),
    Str(&'a str),
}

impl Ord for SortKey<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (SortKey::Int(a), SortKey::Int(b)) => a.cmp(b),
            (SortKey::Str(a), SortKey::Str(b)) => text_order(a, b),
            (SortKey::Int(_), SortKey::Str(_)) => Ordering::Less,
            (SortKey::Str(_), SortKey::Int(_)) => Ordering::Greater,
        }
    }
}

impl PartialOrd for SortKey<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl SortKey<'_> {
    /// A pair ordered as the key is (an equal pair says nothing): the variant, then the integer
    /// or a string's first 16 bytes as [`text_order`] sees them. Sorting on it first settles
    /// most comparisons without reading the strings, which lie all over the heap.
    fn prefix(&self) -> (u8, u128) {
        match self {
            // Flipping the sign bit maps i64 order onto u64 order.
            SortKey::Int(n) => (0, u128::from((*n as u64) ^ (1 << 63))),
            SortKey::Str(s) => (1, text_prefix(s)),
        }
    }
}

/// How one column takes room on screen: at least `min` columns (and its heading with a sort
/// arrow), at most `max` (or what its cells need, if less); `rank` says which give way first
/// on a narrow terminal (the highest); the `fill` column takes what is left, or hides. Past
/// its `share` a column grows only into room the columns shown leave over, so one long cell
/// never hides the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Col {
    pub min: u16,
    pub max: u16,
    pub share: u16,
    pub rank: u8,
    pub fill: bool,
}

const fn col(min: u16, max: u16, rank: u8) -> Col {
    Col {
        min,
        max,
        share: max,
        rank,
        fill: false,
    }
}

/// A column that takes up to `share` where columns are chosen, and up to `max` from what is
/// left over.
const fn capped(min: u16, share: u16, max: u16, rank: u8) -> Col {
    Col {
        min,
        max,
        share,
        rank,
        fill: false,
    }
}

const fn fill(min: u16, rank: u8) -> Col {
    Col {
        min,
        max: u16::MAX,
        share: u16::MAX,
        rank,
        fill: true,
    }
}

/// A row type the console lists.
pub trait Row: Clone {
    /// Column headings, in display order.
    const COLUMNS: &'static [&'static str];
    /// How each column takes room, in display order.
    const LAYOUT: &'static [Col];
    /// The column sorted by when the view opens, and whether descending.
    const DEFAULT_SORT: (usize, bool);
    /// The TENANT column, if the rows have one: the last of `COLUMNS`, shown only in the view
    /// of all tenants, and then second (after the name).
    const TENANT_COLUMN: Option<usize> = None;
    fn id(&self) -> &str;
    /// The text of one cell.
    fn cell(&self, col: usize, now: Timestamp) -> String;
    /// The value a column sorts by.
    fn sort_key(&self, col: usize) -> SortKey<'_>;
    /// The order of rows whose sort keys are equal (a total order: by name, then id).
    fn tiebreak(&self, other: &Self) -> Ordering;
    /// The lower-case text the filter searches.
    fn haystack(&self) -> String;
    /// Whether the row passes a status filter (only tokens have statuses).
    fn passes(&self, _filter: StatusFilter, _now: Timestamp) -> bool {
        true
    }
    /// Total order on one column.
    fn compare(&self, other: &Self, col: usize) -> Ordering {
        self.sort_key(col)
            .cmp(&other.sort_key(col))
            .then_with(|| self.tiebreak(other))
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
            StatusFilter::Is(TokenStatus::Exhausted) => "exhausted (used up)",
            StatusFilter::Is(TokenStatus::Revoked) => "revoked",
            StatusFilter::ExpiringSoon => "expiring soon (< 24h)",
            StatusFilter::NeverUsed => "never used",
        }
    }
}

/// One view's rows, order, filter and selection.
///
/// The visible order is rebuilt in full only when the sort column, the status filter or the
/// whole list changes; then rows are sorted by `(sort key, tie-break rank)`, plain values in
/// one array. A live change moves one row (a binary search), flipping the direction reverses,
/// and typing more of a filter narrows the visible rows in place.
#[derive(Debug)]
pub struct Table<T> {
    rows: Vec<T>,
    hay: Vec<String>,
    pos: HashMap<String, usize>,
    /// Each row's place in the tie-break order; rebuilt when it no longer covers every row.
    ranks: Vec<u32>,
    ranks_stale: bool,
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
    /// The visible order must be rebuilt from scratch.
    stale: bool,
    now: Timestamp,
    /// Whether the daemon has answered at least once (empty vs. not loaded yet).
    pub loaded: bool,
}

impl<T: Row> Default for Table<T> {
    fn default() -> Self {
        Table {
            rows: Vec::new(),
            hay: Vec::new(),
            pos: HashMap::new(),
            ranks: Vec::new(),
            ranks_stale: true,
            visible: Vec::new(),
            sort: T::DEFAULT_SORT.0,
            desc: T::DEFAULT_SORT.1,
            filter: String::new(),
            status: StatusFilter::All,
            selected: None,
            cursor: 0,
            offset: Cell::new(0),
            stale: false,
            now: Timestamp(0),
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
        self.ranks_stale = true;
        self.stale = true;
    }

    /// Adds a row or replaces the one with the same id, moving just that row on screen.
    pub fn upsert(&mut self, row: T) {
        let hay = row.haystack();
        let i = match self.pos.get(row.id()) {
            Some(&i) => {
                if self.rows[i].tiebreak(&row) != Ordering::Equal {
                    self.ranks_stale = true;
                }
                self.rows[i] = row;
                self.hay[i] = hay;
                i
            }
            None => {
                let i = self.rows.len();
                self.pos.insert(row.id().to_owned(), i);
                self.rows.push(row);
                self.hay.push(hay);
                self.ranks_stale = true;
                i
            }
        };
        if !self.stale {
            if let Some(at) = self.visible.iter().position(|&v| v == i) {
                self.visible.remove(at);
            }
            if self.shows(i) {
                let at = self
                    .visible
                    .partition_point(|&v| self.cmp_rows(v, i) == Ordering::Less);
                self.visible.insert(at, i);
            }
            self.reselect();
        }
    }

    /// Removes the row with this id, if present.
    pub fn remove(&mut self, id: &str) {
        let Some(i) = self.pos.remove(id) else {
            return;
        };
        let last = self.rows.len() - 1;
        self.rows.swap_remove(i);
        self.hay.swap_remove(i);
        if self.ranks.len() == last + 1 {
            self.ranks.swap_remove(i);
        } else {
            self.ranks_stale = true;
        }
        if let Some(moved) = self.rows.get(i) {
            self.pos.insert(moved.id().to_owned(), i);
        }
        if !self.stale {
            if let Some(at) = self.visible.iter().position(|&v| v == i) {
                self.visible.remove(at);
            }
            if i != last {
                for v in self.visible.iter_mut().filter(|v| **v == last) {
                    *v = i;
                }
            }
            self.reselect();
        }
    }

    /// Keeps only the rows `keep` picks (the selection stays on its id when it is kept).
    pub fn retain(&mut self, keep: impl Fn(&T) -> bool) {
        let rows: Vec<T> = std::mem::take(&mut self.rows)
            .into_iter()
            .filter(|r| keep(r))
            .collect();
        self.set_rows(rows);
    }

    /// Back to the default sort if the list is sorted by its TENANT column (which hides).
    pub fn unsort_tenant(&mut self) {
        if T::TENANT_COLUMN == Some(self.sort) {
            (self.sort, self.desc) = T::DEFAULT_SORT;
            self.stale = true;
        }
    }

    /// The columns on screen, in display order: the TENANT column (when `tenants` asks for it)
    /// right after the first, else left out.
    pub fn display_order(tenants: bool) -> Vec<usize> {
        let mut order: Vec<usize> = (0..T::COLUMNS.len())
            .filter(|c| Some(*c) != T::TENANT_COLUMN)
            .collect();
        if let Some(c) = T::TENANT_COLUMN.filter(|_| tenants) {
            order.insert(1.min(order.len()), c);
        }
        order
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

    /// Every row, in no particular order (filtered out or not).
    pub fn rows(&self) -> impl Iterator<Item = &T> {
        self.rows.iter()
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

    /// Sets the filter text. Typing more of the same filter narrows the visible rows in place
    /// (their order stays right); anything else rebuilds.
    pub fn set_filter(&mut self, text: &str) {
        if self.filter == text {
            return;
        }
        let narrower = text.to_lowercase().contains(&self.filter.to_lowercase());
        self.filter = text.to_owned();
        if narrower && !self.stale {
            let needle = self.filter.to_lowercase();
            let hay = &self.hay;
            self.visible.retain(|&i| hay[i].contains(&needle));
            self.reselect();
        } else {
            self.stale = true;
        }
    }

    pub fn set_status(&mut self, status: StatusFilter) {
        if self.status != status {
            self.status = status;
            self.stale = true;
        }
    }

    /// Sorts by `col`; the current column again flips the direction.
    pub fn sort_by(&mut self, col: usize) {
        if col == self.sort {
            self.desc = !self.desc;
            if !self.stale {
                self.visible.reverse();
                self.reselect();
            }
        } else {
            self.sort = col;
            self.desc = false;
            self.stale = true;
        }
    }

    pub fn is_stale(&self) -> bool {
        self.stale
    }

    fn shows(&self, i: usize) -> bool {
        let needle = self.filter.to_lowercase();
        (needle.is_empty() || self.hay[i].contains(&needle))
            && (self.status == StatusFilter::All || self.rows[i].passes(self.status, self.now))
    }

    /// Screen order of two rows (direction included).
    fn cmp_rows(&self, a: usize, b: usize) -> Ordering {
        let o = self.rows[a].compare(&self.rows[b], self.sort);
        if self.desc { o.reverse() } else { o }
    }

    fn rebuild_ranks(&mut self) {
        let mut order: Vec<usize> = (0..self.rows.len()).collect();
        let rows = &self.rows;
        order.sort_unstable_by(|&a, &b| rows[a].tiebreak(&rows[b]));
        self.ranks = vec![0; rows.len()];
        for (rank, &i) in order.iter().enumerate() {
            self.ranks[i] = rank as u32;
        }
        self.ranks_stale = false;
    }

    /// Rebuilds the visible order if it must be; keeps the selection on its id (or, when that
    /// row left the view, on the row now at the same position).
    pub fn refresh(&mut self, now: Timestamp) {
        self.now = now;
        if !self.stale {
            return;
        }
        self.stale = false;
        if self.ranks_stale || self.ranks.len() != self.rows.len() {
            self.rebuild_ranks();
        }
        let needle = self.filter.to_lowercase();
        let (rows, hay, ranks) = (&self.rows, &self.hay, &self.ranks);
        let (status, col) = (self.status, self.sort);
        let mut keyed: Vec<((u8, u128), SortKey<'_>, u32, u32)> = (0..rows.len())
            .filter(|&i| needle.is_empty() || hay[i].contains(&needle))
            .filter(|&i| status == StatusFilter::All || rows[i].passes(status, now))
            .map(|i| {
                let key = rows[i].sort_key(col);
                (key.prefix(), key, ranks[i], i as u32)
            })
            .collect();
        keyed.sort_unstable();
        if self.desc {
            keyed.reverse();
        }
        self.visible = keyed.into_iter().map(|k| k.3 as usize).collect();
        self.reselect();
    }

    /// Puts the cursor back on the selected id, or keeps its position when that row is gone.
    fn reselect(&mut self) {
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

    /// Selects a row by id (it shows once the row is visible).
    pub fn select_id(&mut self, id: &str) {
        self.selected = Some(id.to_owned());
        if !self.stale {
            self.reselect();
        }
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

fn opt_str(s: &Option<String>) -> SortKey<'_> {
    SortKey::Str(s.as_deref().unwrap_or(""))
}

fn ts(t: Option<Timestamp>, none: i64) -> SortKey<'static> {
    SortKey::Int(t.map_or(none, |t| t.0))
}

fn text(s: &Option<String>) -> String {
    s.clone().unwrap_or_else(|| "-".into())
}

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
        "CREATED",
        "DESCRIPTION",
        "TENANT",
    ];
    // NAME, STATUS and USES stay readable at 80 columns; DESCRIPTION takes what is left. The
    // TENANT column (all tenants only) gives way after EXPIRES. A long name widens NAME only
    // into room left over (it made NAME 33 wide and hid GROUP, OWNER and DESCRIPTION).
    const LAYOUT: &'static [Col] = &[
        capped(12, 20, 32, 0),
        col(9, 9, 1),
        col(6, 10, 2),
        col(9, 9, 4),
        col(8, 16, 6),
        col(8, 12, 7),
        col(9, 16, 3),
        col(9, 9, 8),
        fill(16, 5),
        col(8, 16, 3),
    ];
    // By name is what operators scan (tokens list sorts the same way).
    const DEFAULT_SORT: (usize, bool) = (0, false);
    const TENANT_COLUMN: Option<usize> = Some(9);

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
            6 => output::expiry(self.expires_at, now),
            7 => output::when(Some(self.created_at), now, ""),
            8 => self.description.clone(),
            _ => self.tenant.clone(),
        }
    }

    fn sort_key(&self, col: usize) -> SortKey<'_> {
        match col {
            0 => SortKey::Str(&self.name),
            1 => SortKey::Int(self.status as i64),
            2 => {
                let max = match self.max_uses {
                    gatepass_protocol::MaxUses::Limited(n) => n.min((1 << 22) - 2),
                    gatepass_protocol::MaxUses::Unlimited => (1 << 22) - 1,
                };
                SortKey::Int(((self.uses.min(1 << 40) << 22) | max) as i64)
            }
            3 => ts(self.last_used_at, i64::MIN),
            4 => opt_str(&self.group),
            5 => SortKey::Str(&self.owner),
            // No expiry sorts after every date.
            6 => ts(self.expires_at, i64::MAX),
            7 => SortKey::Int(self.created_at.0),
            8 => SortKey::Str(&self.description),
            _ => SortKey::Str(&self.tenant),
        }
    }

    fn tiebreak(&self, other: &Self) -> Ordering {
        text_order(&self.name, &other.name).then_with(|| self.id.cmp(&other.id))
    }

    fn haystack(&self) -> String {
        let mut s = format!(
            "{} gpt_{} {} {} {} {} {}",
            self.name,
            self.id,
            self.description,
            self.group.as_deref().unwrap_or(""),
            self.owner,
            self.status.as_str(),
            self.tenant
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
            StatusFilter::ExpiringSoon => output::expiring_soon(self, now),
            StatusFilter::NeverUsed => self.uses == 0,
        }
    }
}

/// The status as the console writes it: the product's own words, as the CLI and API use them.
pub fn status_word(s: TokenStatus) -> &'static str {
    s.as_str()
}

impl Row for Host {
    const COLUMNS: &'static [&'static str] = &[
        "HOSTNAME", "TOKEN", "GROUP", "OWNER", "SOURCE", "ENROLLED", "ID", "TENANT",
    ];
    const LAYOUT: &'static [Col] = &[
        col(12, 32, 0),
        col(12, 26, 1),
        col(8, 16, 4),
        col(8, 12, 5),
        col(9, 39, 3),
        col(9, 9, 2),
        fill(16, 6),
        col(8, 16, 2),
    ];
    const DEFAULT_SORT: (usize, bool) = (5, true);
    const TENANT_COLUMN: Option<usize> = Some(7);

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
            6 => self.id.clone(),
            _ => self.tenant.clone(),
        }
    }

    fn sort_key(&self, col: usize) -> SortKey<'_> {
        match col {
            0 => SortKey::Str(&self.hostname),
            1 => SortKey::Str(&self.token_name),
            2 => opt_str(&self.group),
            3 => SortKey::Str(&self.owner),
            4 => SortKey::Str(&self.source_addr),
            5 => SortKey::Int(self.enrolled_at.0),
            6 => SortKey::Str(&self.id),
            _ => SortKey::Str(&self.tenant),
        }
    }

    fn tiebreak(&self, o: &Self) -> Ordering {
        self.id.cmp(&o.id)
    }

    fn haystack(&self) -> String {
        format!(
            "{} {} {} {} {} {} {}",
            self.hostname,
            self.token_name,
            self.group.as_deref().unwrap_or(""),
            self.owner,
            self.source_addr,
            self.id,
            self.tenant
        )
        .to_lowercase()
    }
}

impl Row for AuditEvent {
    const COLUMNS: &'static [&'static str] =
        &["SEQ", "TIME", "ACTOR", "ACTION", "TARGET", "DETAILS"];
    const LAYOUT: &'static [Col] = &[
        col(5, 8, 0),
        col(19, 19, 1),
        col(12, 24, 4),
        col(10, 14, 2),
        col(12, 24, 3),
        fill(16, 5),
    ];
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
            3 => self.action.to_string(),
            _ => {
                let row = output::audit_row(self);
                row.get(col).cloned().unwrap_or_default()
            }
        }
    }

    fn sort_key(&self, col: usize) -> SortKey<'_> {
        match col {
            0 => SortKey::Int(self.seq as i64),
            1 => SortKey::Int(self.at.0),
            2 => SortKey::Str(&self.actor),
            3 => SortKey::Str(self.action.as_str()),
            4 => opt_str(&self.target_name),
            _ => SortKey::Int(0),
        }
    }

    fn tiebreak(&self, o: &Self) -> Ordering {
        self.seq.cmp(&o.seq)
    }

    fn haystack(&self) -> String {
        output::audit_row(self).join(" ").to_lowercase()
    }
}

impl Row for ApiToken {
    const COLUMNS: &'static [&'static str] = &[
        "NAME", "USER", "EXPIRES", "PATH", "REFERRER", "REMARK", "CREATED",
    ];
    const LAYOUT: &'static [Col] = &[
        col(14, 32, 0),
        col(8, 12, 1),
        col(9, 9, 2),
        col(8, 20, 4),
        col(8, 20, 5),
        fill(12, 6),
        col(9, 9, 3),
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

    fn sort_key(&self, col: usize) -> SortKey<'_> {
        match col {
            0 => SortKey::Str(&self.name),
            1 => SortKey::Str(&self.user),
            2 => SortKey::Int(self.expires_at.0),
            3 => opt_str(&self.path_prefix),
            4 => opt_str(&self.referrer),
            5 => SortKey::Str(&self.remark),
            _ => SortKey::Int(self.created_at.0),
        }
    }

    fn tiebreak(&self, o: &Self) -> Ordering {
        self.id.cmp(&o.id)
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
    fn a_keys_prefix_never_contradicts_its_order() {
        let strings = [
            "",
            "\0",
            "a",
            "A",
            "a\0",
            "ab",
            "Ab",
            "B",
            "Zulu",
            "bench-00001",
            "BENCH-00001",
            "bench-000010",
            "bench-00002",
            "bench-1234567890123",
            "bench-1234567890124",
            "é",
            "ée",
            "z",
            "\u{10ffff}",
        ];
        let mut keys: Vec<SortKey<'_>> = strings.iter().map(|s| SortKey::Str(s)).collect();
        keys.extend([i64::MIN, -1, 0, 1, i64::MAX].map(SortKey::Int));
        for a in &keys {
            for b in &keys {
                if a.prefix() < b.prefix() {
                    assert!(a < b, "{a:?} vs {b:?}");
                }
                if a == b {
                    assert_eq!(a.prefix(), b.prefix());
                }
            }
        }
        // Sixteen bytes settle keys that share a long start.
        assert!(SortKey::Str("bench-00001").prefix() < SortKey::Str("bench-00002").prefix());
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

    /// Live changes, removals, flips and narrowing filters are applied in place; after any
    /// sequence of them the screen order must equal a rebuild from scratch.
    #[test]
    fn incremental_changes_match_a_full_rebuild() {
        let now = Timestamp(1_000_000);
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let mut t: Table<Token> = Table::default();
        t.set_rows(
            (0..200)
                .map(|i| token(&format!("t{}", i % 50), i % 7))
                .collect(),
        );
        t.refresh(now);
        for step in 0..2_000 {
            match next(6) {
                0 | 1 => {
                    let mut row = token(&format!("t{}", next(60)), next(9));
                    row.id = format!("id{}", next(260));
                    row.status = TokenStatus::ALL[next(5) as usize];
                    t.upsert(row);
                }
                2 => {
                    let id = format!("id{}", next(260));
                    t.remove(&id);
                }
                3 => {
                    let col = if next(2) == 0 {
                        t.sort
                    } else {
                        next(8) as usize
                    };
                    t.sort_by(col);
                }
                4 => {
                    let f = ["", "t1", "t12", "t2", "prod"][next(5) as usize];
                    t.set_filter(f);
                }
                _ => t.move_by(next(7) as isize - 3),
            }
            if next(4) == 0 {
                t.refresh(now);
            }
            t.refresh(now);
            let mut fresh: Table<Token> = Table::default();
            fresh.set_rows(t.rows.clone());
            fresh.sort = t.sort;
            fresh.desc = t.desc;
            fresh.set_filter(t.filter());
            fresh.refresh(now);
            let order = |x: &Table<Token>| {
                (0..x.visible_len())
                    .map(|i| x.visible_row(i).map(|r| r.id.clone()).unwrap_or_default())
                    .collect::<Vec<_>>()
            };
            assert_eq!(order(&t), order(&fresh), "after step {step}");
            if let Some(sel) = t.selected() {
                assert_eq!(Some(sel.id.as_str()), t.selected_id(), "after step {step}");
            }
        }
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
